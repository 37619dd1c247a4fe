//! Runs every example binary and expects it to succeed on its own, as the README says.
//!
//! The examples are built next to this test by `cargo test -p vbus-examples` (cargo builds a
//! package's examples when it tests it): `target/<profile>/examples/<name>`, while this test runs
//! from `target/<profile>/deps/`. With a target filter (`--test it`) cargo does not build them:
//! run `cargo build -p vbus-examples --examples` first (add `--features dds` for `dds_peer`).
//!
//! One test per example, so a failure names it; each example runs under a watchdog and its whole
//! output is shown when it fails.

use std::{
    io::Read,
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

// An example that has not finished after the suites' watchdog is killed and fails.
use vbus_test_support::WATCHDOG;

/// `target/<profile>/examples/<name>`, found from this test executable's location.
fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    // target/<profile>/deps/it-<hash> -> target/<profile>
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile> directory");
    profile_dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Run example `name` to completion (or the watchdog) and assert that it exits 0.
fn run(name: &str) {
    let path = example_path(name);
    assert!(
        path.is_file(),
        "example binary {} not found: build it with `cargo build -p vbus-examples --examples` \
         (with `--features dds` for dds_peer), or run `cargo test -p vbus-examples` without a target filter",
        path.display()
    );
    // With a target filter cargo does not rebuild the examples: refuse an obviously stale one.
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("{name}.rs"));
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(src), Some(bin)) = (modified(&source), modified(&path)) {
        assert!(
            bin >= src,
            "{} is older than {}: rebuild it (`cargo build -p vbus-examples --examples`)",
            path.display(),
            source.display()
        );
    }
    let mut child = Command::new(&path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    // Read both pipes on their own threads, so a chatty example cannot block on a full pipe.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));

    let started = Instant::now();
    let mut killed = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the example") {
            break status;
        }
        if started.elapsed() > WATCHDOG {
            killed = true;
            let _ = child.kill();
            break child.wait().expect("wait for the killed example");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (stdout.join().unwrap_or_default(), stderr.join().unwrap_or_default());
    let verdict = if killed {
        format!("was killed after {WATCHDOG:?} (watchdog)")
    } else {
        format!("exited with {status}")
    };
    assert!(
        status.success() && !killed,
        "example `{name}` {verdict} after {:.1?}\n--- stdout ---\n{out}\n--- stderr ---\n{err}",
        started.elapsed()
    );
    assert!(out.contains(&format!("{name} OK")), "example `{name}` exited 0 without its OK line:\n{out}");
    println!("example `{name}` passed in {:.1?}\n{out}", started.elapsed());
}

#[test]
fn typed_pubsub() {
    run("typed_pubsub");
}

#[test]
fn request_reply() {
    run("request_reply");
}

#[test]
fn fields() {
    run("fields");
}

#[test]
fn qos_deadline() {
    run("qos_deadline");
}

#[test]
fn codegen() {
    run("codegen");
}

#[test]
fn dbc_topics() {
    run("dbc_topics");
}

#[test]
fn cloud_rule() {
    run("cloud_rule");
}

#[cfg(feature = "dds")]
#[test]
fn dds_peer() {
    run("dds_peer");
}
