//! `vbus-can decode` matches the reference decoder on the real capture, byte for byte.

use std::process::Command;

use crate::{expected, testdata};

#[test]
fn decode_matches_reference_on_the_real_tesla_capture() {
    let out = Command::new(env!("CARGO_BIN_EXE_vbus-can"))
        .args(["decode", "--emit-errors", "--dbc"])
        .arg(testdata("dbc/kuksa/Model3CAN.dbc"))
        .arg("--log")
        .arg(testdata("logs/real/tesla_model3_kuksa_dogmode.log"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let want = expected("expected/real/tesla_model3_kuksa_dogmode__Model3CAN.jsonl.gz");
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "record {i}");
    }
    let summary: serde_json::Value = serde_json::from_slice(out.stderr.trim_ascii()).unwrap();
    assert_eq!(summary["frames"], 12138);
}

#[test]
fn unreadable_inputs_fail_with_a_clear_message() {
    let run = |dbc: &str, log: &str| {
        Command::new(env!("CARGO_BIN_EXE_vbus-can"))
            .args(["decode", "--dbc", dbc, "--log", log])
            .output()
            .unwrap()
    };
    let log = testdata("logs/real/tesla_model3_kuksa_dogmode.log");
    let out = run("/nonexistent.dbc", log.to_str().unwrap());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.dbc"));
    let dbc = testdata("dbc/kuksa/Model3CAN.dbc");
    let out = run(dbc.to_str().unwrap(), "/nonexistent.log");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.log"));
    let out = Command::new(env!("CARGO_BIN_EXE_vbus-can")).args(["decode", "--dbc"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}

#[test]
fn default_config_is_printable_and_parses() {
    let out = Command::new(env!("CARGO_BIN_EXE_vbus-can")).arg("--print-default-config").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text, vbus_can::DEFAULT_CONFIG);
    vbus_can::Config::from_json5(&text, std::path::Path::new(".")).unwrap();
}
