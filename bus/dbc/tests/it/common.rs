//! Shared helpers: test data paths, golden files, JSON comparison.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use vbus_dbc::candump::Reader;
use vbus_dbc::{Database, DecodePlan, oracle};

/// The repository's `testdata/` directory.
pub fn testdata() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata"))
}

/// DBC directories whose files the reference decoder loads.
pub const DBC_DIRS: [&str; 3] = ["opendbc", "cantools", "kuksa"];

/// All `*.dbc` files of `testdata/dbc/<dir>`, sorted.
pub fn dbc_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata().join("dbc").join(dir))
        .unwrap_or_else(|e| panic!("testdata/dbc/{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dbc"))
        .collect();
    files.sort();
    files
}

/// The DBC called `<stem>.dbc` in one of [`DBC_DIRS`].
pub fn find_dbc(stem: &str) -> PathBuf {
    DBC_DIRS
        .iter()
        .map(|d| testdata().join("dbc").join(d).join(format!("{stem}.dbc")))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no DBC named {stem}"))
}

pub fn load(path: &Path) -> Database {
    Database::from_file(path).unwrap_or_else(|e| panic!("{e}"))
}

/// Lines of a gzipped JSON-lines file.
pub fn read_gz_lines(path: &Path) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    BufReader::new(flate2::read::GzDecoder::new(file)).lines().map(|l| l.unwrap()).collect()
}

/// The counts `oracle.py` prints to stderr (`*.stats.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub overlap_msgs: usize,
    pub lines: usize,
    pub frames: usize,
    pub unknown_id: usize,
    pub decoded: usize,
    pub decode_error: usize,
    pub unparsed: usize,
}

impl Stats {
    /// Reads a `*.stats.json` file.
    pub fn read(path: &Path) -> Stats {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Stats::parse(&text)
    }

    pub fn parse(text: &str) -> Stats {
        let j: Json = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("stats {text:?}: {e}"));
        let n = |k: &str| j[k].as_u64().unwrap_or_else(|| panic!("stats without {k}")) as usize;
        Stats {
            overlap_msgs: n("overlap_msgs"),
            lines: n("lines"),
            frames: n("frames"),
            unknown_id: n("unknown_id"),
            decoded: n("decoded"),
            decode_error: n("decode_error"),
            unparsed: n("unparsed"),
        }
    }
}

/// Decodes a candump log the way `oracle.py --emit-errors` does: its output
/// lines and its counts.
pub fn render_log(plan: &DecodePlan, log: &Path) -> (Vec<String>, Stats) {
    let mut lines = Vec::new();
    let mut stats = Stats {
        overlap_msgs: plan.messages().iter().filter(|m| m.has_overlapping_signals()).count(),
        ..Stats::default()
    };
    let mut reader = Reader::open(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    for item in reader.by_ref() {
        match item {
            Ok(frame) => {
                stats.frames += 1;
                let mut line = String::new();
                match oracle::write_record(plan, &frame, true, &mut line) {
                    oracle::Outcome::UnknownId => stats.unknown_id += 1,
                    oracle::Outcome::Decoded => stats.decoded += 1,
                    oracle::Outcome::Error => stats.decode_error += 1,
                }
                if !line.is_empty() {
                    lines.push(line);
                }
            }
            Err(_) => stats.unparsed += 1,
        }
    }
    stats.lines = reader.lines_read();
    (lines, stats)
}

/// Compares our lines with the oracle's, record by record. Numbers match
/// within |a-b| <= 1e-9*max(1,|a|,|b|) and must be of the same JSON kind
/// (integer or float). Lines must also be byte-identical, since the renderer
/// promises the oracle's exact output. Returns a report of the differences,
/// or `None`.
pub fn compare(name: &str, expected: &[String], actual: &[String]) -> Option<String> {
    let mut report = Vec::new();
    let mut mismatched = 0;
    let mut byte_identical = 0;
    if expected.len() != actual.len() {
        report.push(format!("{name}: {} expected records, {} produced", expected.len(), actual.len()));
    }
    for (k, (e, a)) in expected.iter().zip(actual).enumerate() {
        if e == a {
            byte_identical += 1;
            continue;
        }
        let ej: Json =
            serde_json::from_str(e).unwrap_or_else(|err| panic!("{name} expected line {}: {err}", k + 1));
        let aj: Json = match serde_json::from_str(a) {
            Ok(j) => j,
            Err(err) => {
                mismatched += 1;
                report.push(format!("{name} record {}: our line is not JSON ({err}): {a}", k + 1));
                continue;
            }
        };
        if let Err(why) = same_json(&ej, &aj, "") {
            mismatched += 1;
            if report.len() < 12 {
                report.push(format!("{name} record {}: {why}\n  expected {e}\n  produced {a}", k + 1));
            }
        }
    }
    if report.is_empty() && byte_identical == expected.len() {
        return None;
    }
    if report.is_empty() {
        report.push(format!("{name}: equal within tolerance, but not byte for byte"));
    }
    report.insert(
        0,
        format!(
            "{name}: {} records expected, {} produced, {} byte-identical, {mismatched} differing",
            expected.len(),
            actual.len(),
            byte_identical
        ),
    );
    Some(report.join("\n"))
}

fn same_json(e: &Json, a: &Json, path: &str) -> Result<(), String> {
    match (e, a) {
        (Json::Object(eo), Json::Object(ao)) => {
            let ek: Vec<&String> = eo.keys().collect();
            let ak: Vec<&String> = ao.keys().collect();
            if ek != ak {
                let mut ek_sorted = ek.clone();
                let mut ak_sorted = ak.clone();
                ek_sorted.sort();
                ak_sorted.sort();
                if ek_sorted != ak_sorted {
                    return Err(format!("{path}: keys differ: expected {ek:?}, produced {ak:?}"));
                }
                return Err(format!("{path}: same keys in another order: expected {ek:?}, produced {ak:?}"));
            }
            for (k, ev) in eo {
                same_json(ev, &ao[k], &format!("{path}/{k}"))?;
            }
            Ok(())
        }
        (Json::Number(en), Json::Number(an)) => {
            if en.is_f64() != an.is_f64() {
                return Err(format!("{path}: expected {en}, produced {an} (integer vs float)"));
            }
            if en == an {
                return Ok(());
            }
            let (x, y) = (en.as_f64().unwrap(), an.as_f64().unwrap());
            if (x - y).abs() <= 1e-9 * 1f64.max(x.abs()).max(y.abs()) {
                Ok(())
            } else {
                Err(format!("{path}: expected {en}, produced {an}"))
            }
        }
        _ if e == a => Ok(()),
        _ => Err(format!("{path}: expected {e}, produced {a}")),
    }
}
