//! The README's demo, run headless: it must finish by itself, successfully, with every speed
//! sample accounted for.

use std::{process::Command, time::Duration};

/// The demo's C++ ECU, built with CMake against the C/C++ SDK that scripts/test.sh installs
/// first (scripts/install-c.sh), as scripts/demo.sh builds it.
fn cpp_cluster() -> std::path::PathBuf {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let build = root.join("target/cpp-demo-test");
    vbus_test_support::sdk::build_cmake(&root.join("examples/cpp"), &build, Some("vbus-cpp-cluster"));
    build.join("vbus-cpp-cluster")
}

#[test]
fn demo_runs_to_a_successful_summary() {
    let child = Command::new(env!("CARGO_BIN_EXE_vbus-demo"))
        .env("VBUS_DEMO_CPP_CLUSTER", cpp_cluster())
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
    // The ECUs share this host: the chassis' and the CAN bridge's samples reach the cockpit
    // through shared memory, with nothing configured.
    if std::env::var("VBUS_SHARED_MEMORY").as_deref() != Ok("off") {
        for key in ["chassis/speed", "powertrain/battery", "can/model3/ID257DIspeed"] {
            assert!(
                summary.contains(&format!("{key}=shared-memory(")),
                "{key} did not use shared memory: {summary}"
            );
        }
    }
    let chassis = text.lines().find(|l| l.starts_with("chassis: sent speed=")).expect("chassis summary");
    assert!(chassis.contains("battery="), "{chassis}");
    // The C++ cluster got every speed sample with its value, and the drive-mode change.
    let cluster =
        text.lines().find(|l| l.starts_with("cluster (C++): received speed=")).expect("cluster summary");
    assert_eq!(
        cluster,
        format!(
            "cluster (C++): received speed={} bad=0 drive_mode=Sport",
            &chassis["chassis: sent speed=".len()..].split_whitespace().next().unwrap()
        )
    );
    assert!(text.contains("(Rust and C++)"), "{text}");

    // The CAN bridge replayed the whole capture, decoded every frame (all are in the DBC), and
    // the cockpit received every sample it published.
    let capture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/logs/real/tesla_model3_kuksa_dogmode.log"
    ))
    .unwrap();
    let frames = capture.lines().filter(|l| l.starts_with('(')).count();
    assert!(frames > 10_000, "{frames} frames in the capture");
    let can = text.lines().find(|l| l.starts_with("can: frames=")).expect("can summary");
    assert_eq!(can, format!("can: frames={frames} published={frames} unknown=0 decode_errors=0"));
    assert!(summary.contains(&format!("can={frames}/{frames}")), "{summary}");

    // The cloud bridge uploaded every battery sample the chassis sent, and the uplink file holds
    // exactly what the bridge counted as delivered.
    let cloud = text.lines().find(|l| l.starts_with("cloud: uploaded=")).expect("cloud summary");
    let number = |line: &str, name: &str| -> u64 {
        let at = line.find(&format!("{name}=")).unwrap_or_else(|| panic!("no {name}= in {line}"));
        line[at + name.len() + 1..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    assert_eq!(number(cloud, "battery"), number(chassis, "battery"), "{cloud}\n{chassis}");
    assert_eq!(number(cloud, "uploaded"), number(cloud, "acked"), "{cloud}");
    assert!(cloud.contains("queued=0 dropped=0"), "{cloud}");
    assert!(number(cloud, "can-speed") > 0 && number(cloud, "speed-1hz") > 0, "{cloud}");
    // An on-change rule on a CAN signal: the cloud bridge read it through the schema the CAN
    // bridge serves for its DBC.
    assert!(number(cloud, "can-soc") > 0, "{cloud}");

    // With DDS built: a plain DDS reader in another process got every speed sample the chassis
    // sent, through vbus-dds.
    #[cfg(feature = "dds")]
    {
        let ecu = text.lines().find(|l| l.starts_with("dds-ecu: received=")).expect("DDS ECU summary");
        assert_eq!(number(ecu, "received"), number(chassis, "speed"), "{ecu}\n{chassis}");
        assert!(text.contains("and into DDS"), "{text}");
    }
}
