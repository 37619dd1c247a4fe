//! Cloud downlink: commands (JSON), uplink batches as read back (zstd or JSON), bridge
//! configuration (JSON5), and the `.bfbs` schemas the bridge fetches from the bus.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<vbus_cloud::format::Command>(data);
    let _ = vbus_cloud::format::decode_batch(data);
    let _ = vbus_cloud::fields::Schema::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = vbus_cloud::Config::from_json5(text);
    }
});
