//! C and C++ programs on the same typed topics as Rust ones, through the installed SDK.

use std::{path::Path, process::Command, time::Duration};

use vbus_demo_types::{demo::vehicle, services, topics};
use vbus_rs::{Message, TopicEvent};
use vbus_test_support::{TempDir, WATCHDOG, child, peer_config, peer_node, unique_domain, watchdog};

use crate::sdk;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The C++ ECU of examples/cpp (built with CMake against the SDK) publishes chassis/speed at
/// 100 Hz and serves set_drive_mode; a Rust typed subscriber gets every sample with its values,
/// a Rust client calls the service, and a Rust field owner's change reaches the C++ side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_ecu_publishes_serves_and_follows_a_field_with_rust_peers() {
    watchdog(async {
        const N: u32 = 200;
        let tmp = TempDir::new("cpp-ecu");
        vbus_test_support::sdk::build_cmake(&repo().join("examples/cpp"), &tmp.join("build"), None);
        let domain = unique_domain("cpp");
        let (rust, ep) = peer_node("rust", &domain).await;
        let speed = rust.subscriber(topics::chassis::SPEED).create().await.unwrap();
        let cfg = sdk::config_file(tmp.path(), &peer_config("cpp-ecu", &domain, &ep));
        let mut cmd = Command::new(tmp.join("build/vbus-cpp-ecu"));
        cmd.arg(&cfg).args(["--count", &N.to_string(), "--rate-hz", "100"]);
        let mut ecu = child::spawn_command(cmd.into(), "cpp-ecu");
        ecu.expect("ready").await;

        // Every sample, in order, with the values the C++ side computed, through shared memory
        // (the library's same-host path; zenoh when the suite runs with it off).
        let path = vbus_test_support::expected_path();
        for i in 1..=N {
            let s = speed.recv_timeout(WATCHDOG).await.unwrap();
            assert_eq!(s.seq(), u64::from(i));
            assert_eq!((s.view().kph(), s.view().odometer_m()), (0.5 * i as f32, f64::from(i)));
            assert_eq!(s.path(), path, "sample {i}");
        }
        ecu.expect("published").await;
        let stats = speed.stats();
        assert_eq!((stats.lost, stats.mismatched, stats.rejected), (0, 0, 0));

        // The C++ server answers the Rust client.
        let client = rust.service_client(services::body::SET_DRIVE_MODE).create().await.unwrap();
        let reply = client
            .call(&vehicle::SetDriveModeT {
                mode: vehicle::DriveMode::Sport,
                requested_by: Some("rust".into()),
            })
            .await
            .unwrap();
        assert!(reply.view().accepted(), "refused: {:?}", reply.view().reason());
        assert_eq!(ecu.expect("request").await, "Sport by rust");
        let refused = client
            .call(&vehicle::SetDriveModeT {
                mode: vehicle::DriveMode::Eco,
                requested_by: Some(String::new()),
            })
            .await
            .unwrap();
        assert_eq!(
            (refused.view().accepted(), refused.view().reason()),
            (false, Some("requested_by is empty"))
        );

        // A Rust field owner's change reaches the C++ field client.
        let mut owner = rust.field_owner(topics::body::DRIVE_MODE).create().await.unwrap();
        owner
            .set(&vehicle::DriveModeStateT {
                mode: vehicle::DriveMode::Eco,
                changed_by: Some("cockpit".into()),
            })
            .unwrap();
        assert_eq!(ecu.expect("drive_mode").await, "Eco by cockpit");
        owner
            .set(&vehicle::DriveModeStateT {
                mode: vehicle::DriveMode::Sport,
                changed_by: Some("cockpit".into()),
            })
            .unwrap();
        assert_eq!(ecu.expect("drive_mode").await, "Sport by cockpit");
        drop(ecu);
    })
    .await;
}

/// A Python test bench subscribes to the C++ ECU's topic (decoded through the schema the C++
/// side serves, nothing compiled) and calls a service that a Rust node serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_reads_the_cpp_topic_and_calls_the_rust_service() {
    watchdog(async {
        const N: u32 = 100;
        let tmp = TempDir::new("py-cpp");
        vbus_test_support::sdk::build_cmake(&repo().join("examples/cpp"), &tmp.join("build"), None);
        let domain = unique_domain("pycpp");
        let (rust, ep) = peer_node("rust", &domain).await;
        let server = rust.service_server(services::body::SET_DRIVE_MODE).create().await.unwrap();
        let serving = tokio::spawn(async move {
            let req = server.recv().await.unwrap();
            let by = req.sample().view().requested_by().unwrap_or_default().to_owned();
            let mode = req.sample().view().mode();
            req.reply(&vehicle::SetDriveModeReplyT {
                accepted: true,
                reason: Some(format!("{mode:?} for {by}")),
            })
            .unwrap();
        });
        let py_cfg = sdk::config_file(tmp.path(), &peer_config("python", &domain, &ep));
        let mut py = Command::new(sdk::python());
        py.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/cpp_speed.py"))
            .arg(&py_cfg)
            .arg(N.to_string());
        let mut py = child::spawn_command(py.into(), "python");
        py.expect("open").await;
        let ecu_cfg = sdk::config_file(tmp.path(), &peer_config("cpp-ecu", &domain, &ep));
        let mut ecu = Command::new(tmp.join("build/vbus-cpp-ecu"));
        ecu.arg(&ecu_cfg).args(["--count", &N.to_string(), "--rate-hz", "100", "--no-server"]);
        let mut ecu = child::spawn_command(ecu.into(), "cpp-ecu");
        py.expect("subscribed").await;
        assert_eq!(py.expect("speed").await, format!("{N} lost=0 mismatched=0"));
        ecu.expect("published").await;
        assert_eq!(py.expect("event").await, "deadline_missed deadline=0.06");
        assert_eq!(py.expect("reply").await, "accepted=True reason=Sport for python");
        serving.await.unwrap();
    })
    .await;
}

/// A C program built from an outdated schema publishes `demo.vehicle.VehicleSpeed` under another
/// type hash: the Rust subscriber reports the mismatch (hashes, publisher) and delivers nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_publisher_of_a_mismatched_type_is_reported_not_delivered() {
    watchdog(async {
        let tmp = TempDir::new("c-mismatch");
        let exe = sdk::build_c(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/mismatch.c"), tmp.path());
        let domain = unique_domain("cmis");
        let (rust, ep) = peer_node("rust", &domain).await;
        let speed = rust.subscriber(topics::chassis::SPEED).create().await.unwrap();
        let cfg = sdk::config_file(tmp.path(), &peer_config("old-ecu", &domain, &ep));
        let old_hash = vehicle::VehicleSpeedMsg::TYPE_HASH ^ 0xff;
        let out = tokio::process::Command::new(&exe)
            .arg(&cfg)
            .arg(format!("{old_hash:x}"))
            .arg("5")
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "mismatch.c failed: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "sent 5");
        // chassis/speed has a 60 ms deadline, and no valid sample comes: deadline misses are
        // expected around the mismatch; any other event is not.
        let mismatch = loop {
            match tokio::time::timeout(WATCHDOG, speed.next_event()).await.unwrap().unwrap() {
                TopicEvent::DeadlineMissed { .. } => continue,
                e => break e,
            }
        };
        match mismatch {
            TopicEvent::TypeMismatch { expected_type, expected_hash, found_hash, .. } => {
                assert_eq!(&*expected_type, "demo.vehicle.VehicleSpeed");
                assert_eq!((expected_hash, found_hash), (vehicle::VehicleSpeedMsg::TYPE_HASH, old_hash));
            }
            e => panic!("expected a type mismatch, got {e}"),
        }
        vbus_test_support::wait_until("all 5 counted as mismatched", || speed.stats().mismatched == 5).await;
        assert!(speed.recv_timeout(Duration::from_millis(100)).await.is_err(), "nothing is delivered");
    })
    .await;
}

/// Null pointers, closed and forged handles, wrong buffers, keys that are not UTF-8, bad
/// configs: each gets its status and a message (tests/c/bad_input.c lists the cases).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_status_and_a_message_never_a_crash() {
    watchdog(async {
        let tmp = TempDir::new("c-bad");
        let exe =
            sdk::build_c(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/bad_input.c"), tmp.path());
        let domain = unique_domain("cbad");
        let (_rust, ep) = peer_node("rust", &domain).await;
        let cfg = sdk::config_file(tmp.path(), &peer_config("bad", &domain, &ep));
        // The whole file's `.bfbs` (every demo type), as a C program may pass it.
        let schema = tmp.join("vehicle.bfbs");
        std::fs::write(&schema, vbus_demo_types::SCHEMA_BFBS).unwrap();
        let out = tokio::process::Command::new(&exe).arg(&cfg).arg(&schema).output().await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "bad_input.c: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("failures 0"), "{stdout}");
        assert!(stdout.lines().filter(|l| l.starts_with("ok ")).count() >= 30, "{stdout}");
    })
    .await;
}

/// Events (type mismatch, deadline), counters, a callback subscriber and liveliness, seen from
/// C (tests/c/events.c) while a Rust node publishes chassis/speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_sees_events_counters_callbacks_and_liveliness() {
    watchdog(async {
        let tmp = TempDir::new("c-events");
        let exe = sdk::build_c(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/events.c"), tmp.path());
        let schema = tmp.join("speed.bfbs");
        std::fs::write(&schema, vehicle::VehicleSpeedMsg::SCHEMA).unwrap();
        let stdout = sdk::against_rust_publisher("c-events", tmp.path(), |cfg| {
            let mut c = Command::new(&exe);
            c.arg(cfg).arg(&schema).arg(format!("{:x}", vehicle::VehicleSpeedMsg::TYPE_HASH));
            c
        })
        .await;
        for what in ["liveliness", "mismatch", "mismatch counted", "deadline", "callback"] {
            assert!(
                stdout.lines().any(|l| l.starts_with(&format!("ok {what}:"))),
                "no `ok {what}`:\n{stdout}"
            );
        }
    })
    .await;
}
