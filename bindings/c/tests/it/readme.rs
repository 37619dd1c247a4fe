//! The README's C, C++ and Python examples, compiled and run against a Rust publisher.

use std::{path::Path, process::Command};

use vbus_demo_types::demo::vehicle;
use vbus_rs::Message;
use vbus_test_support::{TempDir, watchdog};

use crate::sdk;

/// The body of the first fenced block in `lang` of the README's "C, C++ and Python" section.
fn example(lang: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme.split("\n## C, C++ and Python\n").nth(1).expect("README has the section");
    let section = section.split("\n## ").next().unwrap();
    let fence = format!("```{lang}\n");
    let start = section.find(&fence).unwrap_or_else(|| panic!("README: no ```{lang} example")) + fence.len();
    section[start..].split("\n```").next().unwrap().to_owned()
}

/// The example run by `run` against a Rust publisher ([`sdk::against_rust_publisher`]) prints a
/// line for each of three samples; its stdout.
async fn against_rust_publisher(tag: &str, tmp: &Path, run: impl FnOnce(&Path) -> Command) -> String {
    let out = sdk::against_rust_publisher(tag, tmp, run).await;
    assert_eq!(out.lines().count(), 3, "{tag}: three samples printed:\n{out}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_c_example_compiles_and_runs() {
    watchdog(async {
        let tmp = TempDir::new("readme-c");
        let src = tmp.join("speed_c.c");
        std::fs::write(&src, example("c")).unwrap();
        let exe = sdk::build_c(&src, tmp.path());
        let schema = tmp.join("speed.bfbs");
        std::fs::write(&schema, vehicle::VehicleSpeedMsg::SCHEMA).unwrap();
        let out = against_rust_publisher("readme-c", tmp.path(), |cfg| {
            let mut c = Command::new(&exe);
            c.arg(cfg).arg(&schema).arg(format!("{:x}", vehicle::VehicleSpeedMsg::TYPE_HASH));
            c
        })
        .await;
        assert!(out.lines().all(|l| l.starts_with("seq ") && l.ends_with(" bytes")), "{out}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_cpp_example_compiles_and_runs() {
    watchdog(async {
        let tmp = TempDir::new("readme-cpp");
        let sdk = sdk::prefix();
        let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/schemas");
        sdk::run(
            Command::new(sdk.join("bin/vbus-codegen"))
                .arg("fbs")
                .arg(schemas.join("vehicle.fbs"))
                .arg("-I")
                .arg(&schemas)
                .args(["--cpp", "--no-rust", "--out"])
                .arg(tmp.path())
                .arg("--flatc")
                .arg(sdk.join("bin/flatc")),
            "vbus-codegen --cpp",
        );
        let src = tmp.join("speed.cpp");
        std::fs::write(&src, example("cpp")).unwrap();
        let exe = tmp.join("speed_cpp");
        sdk::run(
            Command::new("g++")
                .args(["-std=c++17", "-Wall", "-Werror", "-o"])
                .arg(&exe)
                .arg(&src)
                .arg(format!("-I{}", tmp.path().display()))
                .arg(format!("-I{}", sdk.join("include").display()))
                .arg(format!("-L{}", sdk.join("lib").display()))
                .arg(format!("-Wl,-rpath,{}", sdk.join("lib").display()))
                .arg("-lvbus"),
            "g++ README example",
        );
        let out = against_rust_publisher("readme-cpp", tmp.path(), |cfg| {
            let mut c = Command::new(&exe);
            c.arg(cfg);
            c
        })
        .await;
        assert!(out.lines().all(|l| l.starts_with("50 km/h (seq ")), "{out}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_python_example_runs() {
    watchdog(async {
        let tmp = TempDir::new("readme-py");
        let script = tmp.join("speed.py");
        std::fs::write(&script, example("python")).unwrap();
        let python = sdk::python();
        let out = against_rust_publisher("readme-py", tmp.path(), |cfg| {
            let mut c = Command::new(&python);
            c.arg(&script).arg(cfg);
            c
        })
        .await;
        assert!(out.lines().all(|l| l.starts_with("50.0 km/h (seq ")), "{out}");
    })
    .await;
}
