//! vbus-can integration tests (one binary).

mod conformance;
mod decode_cli;
mod end_to_end;
mod errors;

use std::{path::PathBuf, time::Duration};

/// Longest any single wait may take before the test fails (a watchdog, not a speed check).
pub const WATCHDOG: Duration = Duration::from_secs(60);

pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")).join(rel)
}

pub fn temp_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("vbus-can-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Read a `.jsonl.gz` file of the reference decoder's output.
pub fn expected(rel: &str) -> Vec<serde_json::Value> {
    use std::io::BufRead;
    let f = std::fs::File::open(testdata(rel)).unwrap();
    std::io::BufReader::new(flate2::read::GzDecoder::new(f))
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect()
}
