//! The README's C, C++ and Python examples, compiled and run against a Rust publisher.

use std::{path::Path, process::Command, time::Duration};

use vbus_demo_types::{demo::vehicle, topics};
use vbus_rs::{Message, Node};
use vbus_test_support::{TempDir, peer_config, peer_node, unique_domain, watchdog};

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

/// Publish chassis/speed from Rust until `run` (a process started with a node config connected
/// to this one) exits; its stdout.
async fn against_rust_publisher(tag: &str, tmp: &Path, run: impl FnOnce(&Path) -> Command) -> String {
    let domain = unique_domain(tag);
    let (node, ep): (Node, String) = peer_node("rust", &domain).await;
    let cfg = sdk::config_file(tmp, &peer_config(tag, &domain, &ep));
    let mut publisher = node.publisher(topics::chassis::SPEED).create().await.unwrap();
    let mut child = tokio::process::Command::from(run(&cfg))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut i = 0u32;
    let out = loop {
        tokio::select! {
            status = child.wait() => {
                let status = status.unwrap();
                let out = child.wait_with_output().await.unwrap();
                assert!(status.success(), "{tag} example failed ({status}): {}", String::from_utf8_lossy(&out.stderr));
                break String::from_utf8_lossy(&out.stdout).into_owned();
            }
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                i += 1;
                publisher.publish(&vehicle::VehicleSpeedT { kph: 50.0, odometer_m: f64::from(i) }).unwrap();
            }
        }
    };
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
