//! vbus-can integration tests (one binary).

mod conformance;
mod decode_cli;
mod end_to_end;
mod errors;

use std::path::PathBuf;

pub use vbus_test_support::WATCHDOG;

pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")).join(rel)
}

/// A fresh directory for one test, kept afterwards (daemons read their files from it).
pub fn temp_dir(tag: &str) -> PathBuf {
    vbus_test_support::TempDir::new(&format!("can-{tag}")).keep()
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
