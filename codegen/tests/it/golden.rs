//! Golden-file tests: generated schemas, Rust code, IDL and error messages for representative
//! inputs are compared with the files in `tests/golden/`. Run with `UPDATE_GOLDEN=1` to rewrite
//! them after an intended change, then review the diff.

use std::path::{Path, PathBuf};

use vbus_codegen::{Config, Generated};

use crate::scratch;

fn golden_dir() -> PathBuf {
    // Paths relative to the crate, so that the generated headers are machine-independent.
    PathBuf::from("tests/golden")
}

fn update() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v != "0")
}

/// Compare `actual` with the golden file `name` (or rewrite it).
fn check(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if update() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1 to create it)", path.display()));
    if expected != actual {
        let first = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{} differs from the generated output (first difference at line {}):\n  golden:    {:?}\n  generated: {:?}\nRun with UPDATE_GOLDEN=1 to accept the new output.",
            path.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

fn check_generated(case: &str, g: &Generated) {
    check(&format!("{case}.rs"), &g.rust);
    if let Some(fbs) = &g.fbs {
        check(&format!("{case}.fbs"), fbs);
    }
    if let Some(idl) = &g.idl {
        check(&format!("{case}.idl"), idl);
    }
    if let Some(cpp) = &g.cpp {
        check(&format!("{case}.vbus.hpp"), &cpp.descriptors);
    }
}

#[test]
fn golden_fbs_vehicle() {
    let inputs = golden_dir().join("inputs");
    let g = Config::new()
        .emit_rerun_if_changed(false)
        .cpp(true)
        .generate_fbs(
            "vehicle",
            &[inputs.join("vehicle.fbs"), inputs.join("body.fbs")],
            std::slice::from_ref(&inputs),
            &scratch("vehicle"),
        )
        .unwrap();
    assert!(g.idl.is_some(), "vehicle.fbs has vbus_dds topics");
    assert!(g.cpp.is_some(), "C++ output is on");
    check_generated("vehicle", &g);
}

#[test]
fn golden_dbc() {
    let dbc_dir = Path::new("../testdata/dbc");
    for (file, bus, case) in [
        ("cantools/choices.dbc", "body", "dbc_choices"),
        ("cantools/motohawk.dbc", "motohawk", "dbc_motohawk"),
        ("cantools/multiplex_2.dbc", "mux", "dbc_multiplex_2"),
        ("cantools/floating_point.dbc", "fp", "dbc_floating_point"),
        ("opendbc/toyota_prius_2010_pt.dbc", "pt", "dbc_toyota_prius"),
    ] {
        let path = dbc_dir.join(file);
        let fbs = vbus_codegen::dbc::dbc_file_to_fbs(&path, bus, &Default::default()).unwrap();
        let g = Config::new()
            .generate_from_text(case, &fbs, &format!("testdata/dbc/{file}"), &scratch(case))
            .unwrap();
        check_generated(case, &g);
    }
}

#[test]
fn golden_vss_sample() {
    let fbs =
        vbus_codegen::vss::vss_file_to_fbs(Path::new("../testdata/vss/vss_sample.json"), &Default::default())
            .unwrap();
    let g = Config::new()
        .generate_from_text("vss_sample", &fbs, "testdata/vss/vss_sample.json", &scratch("vss"))
        .unwrap();
    check_generated("vss_sample", &g);
}

/// Each directory under `errors/` is one compilation of all its `.fbs` files; the error text
/// (which must name file and line) is compared with `errors/<case>.err`.
#[test]
fn golden_errors() {
    let dir = golden_dir().join("errors");
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    assert!(cases.len() >= 8);
    for case in cases {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&case)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "fbs"))
            .collect();
        files.sort();
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let err = Config::new()
            .emit_rerun_if_changed(false)
            .generate_fbs(&name, &files, std::slice::from_ref(&case), &scratch(&name))
            .expect_err(&format!("{name} must fail"));
        let text = err.to_string();
        // Every line names a file of the case and a line number.
        for line in text.lines().filter(|l| l.contains("error")) {
            assert!(
                line.contains(&*case.to_string_lossy()) && line.contains(".fbs:"),
                "{name}: no location in `{line}`"
            );
        }
        check(&format!("errors/{name}.err"), &(text + "\n"));
    }
}
