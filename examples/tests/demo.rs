//! The README's demo, run headless: it must finish by itself, successfully, with every speed
//! sample accounted for.

use std::{process::Command, time::Duration};

#[test]
fn demo_runs_to_a_successful_summary() {
    let child = Command::new(env!("CARGO_BIN_EXE_vbus-demo"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start vbus-demo");
    // Watchdog: the demo runs ~5 s; kill it if it hangs instead of hanging the suite.
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(90));
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    });
    let out = child.wait_with_output().expect("demo output");
    drop(watchdog);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{text}");
    assert!(text.contains("demo OK"), "{text}");
    let summary = text.lines().find(|l| l.starts_with("cockpit: received speed=")).expect("cockpit summary");
    let counts = summary["cockpit: received speed=".len()..].split_whitespace().next().unwrap();
    let (got, expected) = counts.split_once('/').unwrap();
    assert_eq!(got, expected, "{summary}");
    assert!(got.parse::<u32>().unwrap() > 100, "{summary}");
    assert!(summary.contains("wrong=0 lost=0"), "{summary}");
    assert!(summary.contains("Sport by cockpit"), "{summary}");
    let chassis = text.lines().find(|l| l.starts_with("chassis: sent speed=")).expect("chassis summary");
    assert!(chassis.contains("battery="), "{chassis}");
}
