//! candump log reading: both formats, corrupt lines, line endings.

use vbus_dbc::candump::{LogErrorKind, Reader};

use crate::common::testdata;

#[test]
fn corrupt_lines_are_numbered_errors_and_reading_goes_on() {
    let log = "\
(1.0) can0 123#DEADBEEF
(1.1) can0 123#DEADBEE
(1.2) can0 123#XYZ1
this is not candump output

(1.3) can0 12345678#01
can0  123   [3]  01 02
(1.4)  can0  7FF   [2]  0A 0B  '..'
can0 123#R
(1.5) can0 456##3AABB
";
    let items: Vec<_> = Reader::new(log.as_bytes()).collect();
    let summary: Vec<String> = items
        .iter()
        .map(|i| match i {
            Ok(f) => format!(
                "frame {:X} ext={} fd={} {:02X?} t={:?}",
                f.id,
                f.extended,
                f.fd,
                f.data(),
                f.timestamp
            ),
            Err(e) => e.to_string(),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "frame 123 ext=false fd=false [DE, AD, BE, EF] t=Some(1.0)",
            "candump line 2: expected an even number of hex digits of data, found 'DEADBEE'",
            "candump line 3: expected hex digits of data, found 'XYZ1'",
            "candump line 4: expected a candump frame like '(t) can0 123#DEADBEEF' or 'can0 123 [4] DE AD BE EF', found 'this is not candump output'",
            "frame 12345678 ext=true fd=false [01] t=Some(1.3)",
            "candump line 7: expected 3 data bytes as the [3] says, found 2: '01 02'",
            "frame 7FF ext=false fd=false [0A, 0B] t=Some(1.4)",
            "frame 456 ext=false fd=true [AA, BB] t=Some(1.5)",
        ]
    );
    let err = items[1].as_ref().unwrap_err();
    assert_eq!(err.line, 2);
    assert!(matches!(err.kind, LogErrorKind::Line(_)));
}

#[test]
fn real_capture_without_final_newline() {
    let path = testdata().join("logs/real/tesla_model3_kuksa_dogmode.log");
    let bytes = std::fs::read(&path).unwrap();
    assert_ne!(bytes.last(), Some(&b'\n'), "the capture ends without a newline");
    let mut reader = Reader::open(&path).unwrap();
    let frames: Vec<_> = reader.by_ref().map(|f| f.unwrap()).collect();
    assert_eq!((frames.len(), reader.lines_read()), (12138, 12138));
    let last = frames.last().unwrap();
    assert_eq!(
        (last.timestamp, last.id, last.data()),
        (Some(1637353698.036994), 0x266, &[0x4F, 0x03, 0, 0, 0, 0, 0, 0][..])
    );
    assert_eq!(last.interface, "vcan0");
}

#[test]
fn line_endings_follow_python_universal_newlines() {
    let items: Vec<_> =
        Reader::new(&b"can0 1#01\r\ncan0 2#02\rcan0 3#03\n\ncan0 4#04"[..]).map(|f| f.unwrap().id).collect();
    assert_eq!(items, [1, 2, 3, 4]);
}

/// Random lines made of candump-ish characters: frames or errors, never a
/// panic, and every error names its line.
#[test]
fn random_lines_never_panic() {
    let alphabet = b"(). #R##0123456789ABCDEFabcdef[]can\t\r\n\xff";
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let mut log = Vec::new();
    for _ in 0..3000 {
        let len = next(40);
        log.extend((0..len).map(|_| alphabet[next(alphabet.len())]));
        log.push(b'\n');
    }
    let mut reader = Reader::new(&log[..]);
    let mut last_line = 0;
    for item in reader.by_ref() {
        if let Err(e) = item {
            assert!(e.line > last_line, "line numbers increase");
            last_line = e.line;
        }
    }
    assert!(reader.lines_read() >= 3000);
}
