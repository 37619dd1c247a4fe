//! CAN bridge configuration files (JSON5).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = vbus_can::Config::from_json5(text, std::path::Path::new("/nonexistent/base"));
});
