//! Dynamic FlatBuffers: schemas received from the bus (`.bfbs`) and payloads decoded to JSON
//! through a fixed schema (`everything.fbs`, which has every FlatBuffers construct).
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use vbus_reflect::Schema;

static EVERYTHING: LazyLock<Schema> = LazyLock::new(|| {
    Schema::from_bfbs(include_bytes!("../../bus/reflect/tests/data/everything.bfbs")).expect("valid bfbs")
});

fuzz_target!(|data: &[u8]| {
    let (sel, data) = data.split_first().unwrap_or((&0, data));
    if sel & 1 == 0 {
        if let Ok(json) = vbus_reflect::decode_to_json(&EVERYTHING, "test.all.Everything", data) {
            let _ = vbus_reflect::encode_from_json(&EVERYTHING, "test.all.Everything", &json);
        }
    } else if let Ok(s) = Schema::from_bfbs(data) {
        let _ = s.table("test.all.Everything");
    }
});
