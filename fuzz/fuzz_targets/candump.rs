//! candump logs: line by line and through the buffered reader (LF, CRLF, lone CR).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        if let Ok(Some(f)) = vbus_dbc::candump::parse_line(line) {
            assert!(f.data().len() <= 64);
        }
    }
    for item in vbus_dbc::candump::Reader::new(std::io::Cursor::new(data)).take(10_000) {
        let _ = item.map(|f| f.data().len());
    }
});
