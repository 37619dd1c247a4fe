//! Decoding logs must reproduce the reference decoder's output record for
//! record: the stored goldens (`testdata/expected/`, made by
//! `oracle.py --emit-errors` on cantools 45.1.0), and, when python3 has
//! cantools 45.1.0, the live oracle on freshly generated logs.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{
    DBC_DIRS, Stats, compare, dbc_files, find_dbc, load, read_gz_lines, render_log, testdata,
};

/// Compares our rendering of `log` with the oracle's `expected` lines and
/// counts; pushes a report on mismatch and a summary line either way.
fn check(
    label: &str,
    dbc: &Path,
    log: &Path,
    expected: &[String],
    stats: Option<Stats>,
    failures: &mut Vec<String>,
    summary: &mut Vec<String>,
) {
    let plan = load(dbc).decode_plan();
    let (actual, ours) = render_log(&plan, log);
    summary.push(format!(
        "{label}: {} records ({} decoded, {} errors, {} unparsed lines)",
        actual.len(),
        ours.decoded,
        ours.decode_error,
        ours.unparsed
    ));
    if let Some(stats) = stats
        && stats != ours
    {
        failures.push(format!("{label}: counts differ\n  oracle {stats:?}\n  ours   {ours:?}"));
    }
    if let Some(report) = compare(label, expected, &actual) {
        failures.push(report);
    }
}

fn golden(name: &str, kind: &str) -> (Vec<String>, Stats) {
    let dir = testdata().join("expected").join(kind);
    (
        read_gz_lines(&dir.join(format!("{name}.jsonl.gz"))),
        Stats::read(&dir.join(format!("{name}.stats.json"))),
    )
}

#[test]
fn synthetic_logs_match_reference_decoder() {
    let mut names: Vec<String> = std::fs::read_dir(testdata().join("expected/synthetic"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_string_lossy().strip_suffix(".jsonl.gz").map(str::to_owned))
        .collect();
    names.sort();
    assert_eq!(names.len(), 35, "golden files");
    let (mut failures, mut summary) = (Vec::new(), Vec::new());
    for name in &names {
        let (expected, stats) = golden(name, "synthetic");
        for suffix in [".log", ".spaced.log"] {
            let log = testdata().join("logs/synthetic").join(format!("{name}{suffix}"));
            // The .spaced.log variants hold the same frames in another format.
            if log.exists() {
                let label = format!("{name}{suffix}");
                check(
                    &label,
                    &find_dbc(name),
                    &log,
                    &expected,
                    Some(stats.clone()),
                    &mut failures,
                    &mut summary,
                );
            }
        }
    }
    assert_eq!(summary.len(), 37, "logs checked:\n{}", summary.join("\n"));
    assert!(failures.is_empty(), "{}\n\nper file:\n{}", failures.join("\n\n"), summary.join("\n"));
}

#[test]
fn real_tesla_capture_matches_reference_decoder() {
    let (mut failures, mut summary) = (Vec::new(), Vec::new());
    let (expected, stats) = golden("tesla_model3_kuksa_dogmode__Model3CAN", "real");
    check(
        "tesla_model3_kuksa_dogmode.log",
        &testdata().join("dbc/kuksa/Model3CAN.dbc"),
        &testdata().join("logs/real/tesla_model3_kuksa_dogmode.log"),
        &expected,
        Some(stats),
        &mut failures,
        &mut summary,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(
        summary,
        ["tesla_model3_kuksa_dogmode.log: 12138 records (12138 decoded, 0 errors, 0 unparsed lines)"]
    );
}

/// Error records, overlapping signals with a multiplexer, values defined
/// only by VAL_, non-finite floats, short and long payloads, unknown IDs,
/// remote and error frames, corrupt lines, CRLF and no final newline.
#[test]
fn crafted_edge_cases_match_reference_decoder() {
    let (mut failures, mut summary) = (Vec::new(), Vec::new());
    let (expected, stats) = golden("edge_cases", "crafted");
    assert!(expected.iter().filter(|l| l.contains("\"error\": ")).count() >= 7);
    check(
        "edge_cases.log",
        &testdata().join("dbc/crafted/edge_cases.dbc"),
        &testdata().join("logs/crafted/edge_cases.log"),
        &expected,
        Some(stats),
        &mut failures,
        &mut summary,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The python3 that has cantools 45.1.0, if any.
fn python_with_cantools() -> Option<&'static str> {
    let probe = Command::new("python3").args(["-c", "import cantools; print(cantools.__version__)"]).output();
    let Ok(out) = probe else {
        eprintln!(
            "note: live oracle test skipped: no python3 found; install python3 and `pip install cantools==45.1.0` to enable it"
        );
        return None;
    };
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() && version == "45.1.0" {
        Some("python3")
    } else {
        eprintln!(
            "note: live oracle test skipped: python3 has no cantools 45.1.0 (found {version:?}); run `pip install cantools==45.1.0` to enable it"
        );
        None
    }
}

/// Runs `gen_synth.py` and `oracle.py` (copies in `testdata/oracle/`) on a
/// fresh seed for every DBC and compares. The seed is printed; set
/// `VBUS_ORACLE_SEED` to replay one.
#[test]
fn fresh_seeds_match_live_reference_decoder() {
    let Some(python) = python_with_cantools() else { return };
    let seed: u64 = match std::env::var("VBUS_ORACLE_SEED") {
        Ok(s) => s.parse().expect("VBUS_ORACLE_SEED is a number"),
        Err(_) => {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() % 1_000_000
        }
    };
    let tmp = std::env::temp_dir().join(format!("vbus-dbc-oracle-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let dbcs: Vec<PathBuf> = DBC_DIRS
        .iter()
        .flat_map(|d| dbc_files(d))
        .filter(|p| !p.ends_with("issue_199.dbc")) // cantools rejects it
        .collect();
    let tools = testdata().join("oracle");
    let status = Command::new(python)
        .arg(tools.join("run_fresh.py"))
        .arg(&tmp)
        .arg(seed.to_string())
        .arg("20")
        .args(&dbcs)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run python3");
    assert!(status.success(), "run_fresh.py failed");

    let (mut failures, mut summary) = (Vec::new(), Vec::new());
    for dbc in &dbcs {
        let name = dbc.file_stem().unwrap().to_string_lossy().into_owned();
        let expected: Vec<String> = std::fs::read_to_string(tmp.join(format!("{name}.jsonl")))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        check(
            &format!("{name} (seed {seed})"),
            dbc,
            &tmp.join(format!("{name}.log")),
            &expected,
            None,
            &mut failures,
            &mut summary,
        );
    }

    // The live oracle still agrees with the stored crafted golden.
    let out = Command::new(python)
        .arg(tools.join("oracle.py"))
        .arg(testdata().join("dbc/crafted/edge_cases.dbc"))
        .arg(testdata().join("logs/crafted/edge_cases.log"))
        .arg("--emit-errors")
        .output()
        .expect("run oracle.py");
    let live: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(live, golden("edge_cases", "crafted").0, "stored crafted golden is stale");
    assert_eq!(Stats::parse(&String::from_utf8_lossy(&out.stderr)), golden("edge_cases", "crafted").1);

    // The candump reader reads every line as the oracle's parse_line does.
    let lines = tmp.join("lines.log");
    std::fs::write(&lines, tricky_candump_lines(seed)).unwrap();
    let out = Command::new(python)
        .arg(tools.join("parse_lines.py"))
        .arg(&lines)
        .output()
        .expect("run parse_lines.py");
    assert!(out.status.success(), "parse_lines.py failed: {}", String::from_utf8_lossy(&out.stderr));
    let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    let ours: Vec<String> =
        std::fs::read(&lines).unwrap().split(|&b| b == b'\n').map(describe_line).collect();
    assert_eq!(theirs.len() + 1, ours.len(), "line count (ours has the empty tail after the last newline)");
    let differing: Vec<String> = theirs
        .iter()
        .zip(&ours)
        .enumerate()
        .filter(|(_, (t, o))| t != o)
        .take(10)
        .map(|(k, (t, o))| format!("line {}: oracle {t}, ours {o}", k + 1))
        .collect();
    assert!(differing.is_empty(), "seed {seed}: candump lines read differently:\n{}", differing.join("\n"));

    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        failures.is_empty(),
        "seed {seed} (replay with VBUS_ORACLE_SEED={seed}):\n{}\n\nper file:\n{}",
        failures.join("\n\n"),
        summary.join("\n")
    );
}

/// `parse_lines.py`'s description of how a line reads.
fn describe_line(line: &[u8]) -> String {
    match vbus_dbc::candump::parse_line(line) {
        Err(_) => "error".into(),
        Ok(None) => "skip".into(),
        Ok(Some(f)) => {
            let t = match f.timestamp {
                Some(t) => {
                    let mut s = String::new();
                    vbus_dbc::oracle::write_py_float(t, &mut s);
                    s
                }
                None => "None".into(),
            };
            let hex: String = f.data().iter().map(|b| format!("{b:02x}")).collect();
            format!("frame {t} {} {} {hex}", f.id, u8::from(f.extended))
        }
    }
}

/// Hand-picked odd lines, then random ones from candump-ish characters.
fn tricky_candump_lines(seed: u64) -> Vec<u8> {
    let mut text: Vec<u8> = [
        "(1.5) can0 123#DEADBEEF",
        "(1.) can0 1#",
        "(1.0) 123#00",
        "(1.0) 123#00 R",
        "(12) can0 12345678#0011 T",
        "can0 123456789#00",
        "can0 12#R",
        "can0 12#r1",
        "can0 12##",
        "can0 12##X00",
        "can0 12##1ABC",
        "can0 20000001#00",
        "can0 2000000#00",
        "can0 20000001#ZZ",
        "can0 123#0G",
        "  # comment",
        "\x1c can0 1#01 \x1f",
        "can0 7FF [2] 01 02",
        "(1.25)  can0  7FF   [2]  0102 'ab'",
        "can0 7FF [2]0102",
        "can0 7FF [02] 01 02 03",
        "can0 7FF [100] 01",
        "can0 7FF [1] remote request",
        "(3.0) can0 7FF [0]",
        "(3.0) 7FF [0]",
        "can0 7FF\t[1]\tAB",
        "(x) can0 1#00",
    ]
    .iter()
    .flat_map(|l| l.bytes().chain([b'\n']))
    .collect();
    let alphabet = b"(). #R##0123456789ABCDEFabcdef[]cant\t\x0b\x0c\x1c\xff";
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    for _ in 0..5000 {
        let len = next(36);
        text.extend((0..len).map(|_| alphabet[next(alphabet.len())]));
        text.push(b'\n');
    }
    text
}
