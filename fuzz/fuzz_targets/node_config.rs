//! Node configuration files (JSON5), and their mapping onto a zenoh configuration.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(c) = vbus::NodeConfig::from_json5(text) {
        let _ = c.to_zenoh();
    }
});
