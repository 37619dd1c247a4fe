//! encode(decode(frame)) gives back the bits of every signal present in the
//! frame, for every frame of every test log.

use std::path::{Path, PathBuf};

use vbus_dbc::candump::Reader;
use vbus_dbc::{RangeCheck, Value};

use crate::common::{find_dbc, load, testdata};

/// (DBC, log) pairs: every synthetic log and the real capture.
fn logs() -> Vec<(PathBuf, PathBuf)> {
    let mut pairs: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(testdata().join("logs/synthetic"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".log") && !p.to_string_lossy().ends_with(".spaced.log"))
        .map(|log| {
            let stem = log.file_stem().unwrap().to_string_lossy().into_owned();
            (find_dbc(&stem), log)
        })
        .collect();
    pairs.sort();
    pairs.push((
        testdata().join("dbc/kuksa/Model3CAN.dbc"),
        testdata().join("logs/real/tesla_model3_kuksa_dogmode.log"),
    ));
    pairs
}

/// Returns (frames, signals) checked, and failure descriptions.
fn roundtrip(dbc: &Path, log: &Path) -> (usize, usize, Vec<String>) {
    let plan = load(dbc).decode_plan();
    let (mut frames, mut signals, mut failures) = (0, 0, Vec::new());
    let name = log.file_name().unwrap().to_string_lossy().into_owned();
    for (n, frame) in Reader::open(log).unwrap().enumerate() {
        let frame = frame.unwrap();
        let Some(msg) = plan.message(frame.id, frame.extended) else { continue };
        let mut values = vec![None; msg.signal_count()];
        if let Err(e) = msg.decode_into(frame.data(), &mut values) {
            failures.push(format!("{name} frame {}: decode failed: {e}", n + 1));
            continue;
        }
        let mut encoded = vec![0u8; msg.size()];
        if let Err(e) = msg.encode(&values, &mut encoded, RangeCheck::RawOnly) {
            failures.push(format!("{name} frame {}: encode failed: {e}", n + 1));
            continue;
        }
        let mut redecoded = vec![None; msg.signal_count()];
        msg.decode_into(&encoded, &mut redecoded).unwrap();
        frames += 1;
        let original = &frame.data()[..msg.size()];
        for (i, v) in values.iter().enumerate() {
            if v.is_none() {
                continue;
            }
            signals += 1;
            let mut mask = vec![0u8; msg.size()];
            msg.signal_mask(i, &mut mask);
            let same_bits = original.iter().zip(&encoded).zip(&mask).all(|((o, e), m)| o & m == e & m);
            // A NaN scaled by a factor has no particular bit pattern left;
            // it must come back as a NaN, that is all.
            let nan = |v: Option<Value>| matches!(v, Some(Value::Float(x)) if x.is_nan());
            let nan_kept = nan(*v) && nan(redecoded[i]);
            if !same_bits && !nan_kept && failures.len() < 20 {
                failures.push(format!(
                    "{name} frame {} ({}), signal {}: original {original:02X?}, re-encoded {encoded:02X?}, signal bits {mask:02X?}, value {v:?}",
                    n + 1,
                    msg.name(),
                    msg.signal_name(i)
                ));
            }
        }
    }
    (frames, signals, failures)
}

#[test]
fn encode_of_decode_gives_back_the_signal_bits() {
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let mut total = 0;
    for (dbc, log) in logs() {
        let (frames, signals, f) = roundtrip(&dbc, &log);
        report.push(format!(
            "{}: {frames} frames, {signals} signals",
            log.file_name().unwrap().to_string_lossy()
        ));
        total += frames;
        failures.extend(f);
    }
    assert!(failures.is_empty(), "{}\n\nper file:\n{}", failures.join("\n"), report.join("\n"));
    assert_eq!(total, 90_862 + 12_138, "every logged frame is checked");
}
