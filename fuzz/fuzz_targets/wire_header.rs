//! The attachment header and its E2E extension, as received from any peer.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vbus::wire::{E2eExt, FLAG_E2E, HEADER_LEN, Header};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::decode(data) {
        // Round trip: what we decode we encode to the same bytes (reserved bytes aside).
        let b = h.encode();
        assert_eq!(Header::decode(&b), Ok(h));
        assert_eq!(b[..4], data[..4]);
        assert_eq!(b[8..HEADER_LEN], data[8..HEADER_LEN]);
        if h.flags & FLAG_E2E != 0 {
            if let Some(ext) = E2eExt::decode(data) {
                let payload = data.get(HEADER_LEN + 8..).unwrap_or_default();
                let _ = E2eExt::compute(&b, ext.data_id, payload) == ext;
            }
        }
    }
    let _ = E2eExt::decode(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = vbus::wire::type_name_of(s);
    }
});
