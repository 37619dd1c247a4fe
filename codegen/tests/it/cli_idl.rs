//! The `vbus-codegen` command line, and the IDL output checked by Cyclone DDS' `idlc` when it is
//! installed (`scripts/setup.sh` installs it).

use std::process::Command;

use crate::scratch;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vbus-codegen"))
}

#[test]
fn attributes_command_prints_declarations() {
    let out = bin().arg("attributes").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("attribute \"vbus_topic\";"));
    assert_eq!(text.lines().filter(|l| l.starts_with("attribute ")).count(), vbus_codegen::ATTRIBUTES.len());
}

#[test]
fn dbc_command_prints_the_schema_and_writes_outputs() {
    let out = bin().args(["dbc", "../testdata/dbc/cantools/motohawk.dbc", "--bus", "mh"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fbs = String::from_utf8(out.stdout).unwrap();
    assert!(fbs.contains("table ExampleMessage (vbus_topic: \"can/mh/ExampleMessage\""), "{fbs}");

    let dir = scratch("dbc");
    let out = bin()
        .args(["dbc", "../testdata/dbc/cantools/motohawk.dbc", "--bus", "mh", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["mh.rs", "mh.bfbs", "mh.fbs"] {
        assert!(dir.join(f).is_file(), "{f} written");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn fbs_command_prints_rust_and_reports_errors_with_location() {
    let out =
        bin().args(["fbs", "tests/golden/inputs/vehicle.fbs", "-I", "tests/golden/inputs"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8(out.stdout).unwrap().contains("pub const SPEED: ::vbus::Topic<"));

    let out = bin().args(["fbs", "tests/golden/errors/bad_priority/chassis.fbs"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("tests/golden/errors/bad_priority/chassis.fbs:4: error: bad vbus_priority `urgent`"),
        "{err}"
    );

    let out = bin().args(["frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// `--cpp --no-rust` (a C++-only project): the C++ files and the `.bfbs`, no Rust; both need
/// `--out`.
#[test]
fn cpp_without_rust_writes_the_cpp_files() {
    let dir = scratch("cpp-cli");
    let out = bin()
        .args(["dbc", "../testdata/dbc/cantools/motohawk.dbc", "--bus", "mh", "--cpp", "--no-rust", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["mh.bfbs", "mh.fbs", "mh.vbus.hpp", "mh_generated.h"]);
    let hpp = std::fs::read_to_string(dir.join("mh.vbus.hpp")).unwrap();
    assert!(hpp.contains("template <> struct message_traits<::can::mh::ExampleMessage> {"), "{hpp}");
    assert!(hpp.contains("namespace vbus_gen::mh {"), "{hpp}");
    let _ = std::fs::remove_dir_all(dir);

    for args in [&["fbs", "tests/golden/inputs/vehicle.fbs", "--cpp"][..], &["vss", "x.json", "--no-rust"]] {
        let out = bin().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("give --out <DIR>"), "{args:?}");
    }
}

#[test]
fn vss_command_writes_all_outputs() {
    let dir = scratch("vss");
    let out = bin().args(["vss", "../testdata/vss/vss_sample.json", "--out"]).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(11 topics)"));
    assert!(dir.join("vss.rs").is_file() && dir.join("vss.fbs").is_file());
    let _ = std::fs::remove_dir_all(dir);
}

/// The IDL of the `vbus_dds` topics compiles with Cyclone DDS' idlc.
#[test]
fn idl_is_accepted_by_cyclonedds_idlc() {
    let dir = scratch("idl");
    let out = bin()
        .args(["fbs", "tests/golden/inputs/vehicle.fbs", "-I", "tests/golden/inputs", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let idl = dir.join("vehicle.idl");
    assert!(idl.is_file());
    match Command::new("idlc").arg("-o").arg(&dir).arg(&idl).output() {
        Err(e) => eprintln!("idlc not available ({e}): IDL syntax not checked; scripts/setup.sh installs it"),
        Ok(out) => {
            assert!(out.status.success(), "idlc rejected the IDL:\n{}", String::from_utf8_lossy(&out.stderr));
            let header = std::fs::read_to_string(dir.join("vehicle.h")).unwrap();
            assert!(header.contains("vehicle_chassis_VehicleSpeed"));
            assert!(header.contains("vehicle_chassis_WheelSpeeds"));
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
