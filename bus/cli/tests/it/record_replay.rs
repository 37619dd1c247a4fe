//! `vbus record` read back by an independent MCAP reader (the `mcap` Python package), and
//! `vbus replay` into subscribers.

use std::{path::Path, process::Command, time::Duration};

use serde_json::Value;
use vbus::{Message, RawSample, flatbuffers};
use vbus_demo_types::{
    demo::vehicle::{BatteryStateMsg, VehicleSpeed, VehicleSpeedMsg},
    topics,
};

use crate::{child::speed_of, harness::*};

/// Reads an MCAP file with the `mcap` Python package and prints what it found as JSON.
const READER: &str = r#"
import json, sys
from mcap.reader import make_reader
from mcap.stream_reader import StreamReader
from mcap.records import Message
path, mode = sys.argv[1], sys.argv[2]
out = {}
with open(path, "rb") as f:
    if mode == "indexed":
        reader = make_reader(f)
        summary = reader.get_summary()
        out["statistics_message_count"] = summary.statistics.message_count
        out["compression"] = sorted({c.compression for c in summary.chunk_indexes.values()} if isinstance(summary.chunk_indexes, dict) else {c.compression for c in summary.chunk_indexes})
        out["schemas"] = {s.name: {"encoding": s.encoding, "data": s.data.hex()} for s in summary.schemas.values()}
        out["channels"] = [{"topic": c.topic, "encoding": c.message_encoding,
                            "schema": summary.schemas[c.schema_id].name if c.schema_id else None,
                            "metadata": dict(c.metadata)} for c in summary.channels.values()]
        counts = {}
        for schema, channel, message in reader.iter_messages():
            counts[channel.topic] = counts.get(channel.topic, 0) + 1
        out["counts"] = counts
        out["metadata"] = [{"name": m.name, "metadata": dict(m.metadata)} for m in reader.iter_metadata()]
    else:
        n = 0
        try:
            for record in StreamReader(f).records:
                if isinstance(record, Message):
                    n += 1
        except Exception as e:
            out["error"] = type(e).__name__
        out["messages"] = n
print(json.dumps(out))
"#;

fn python_read(file: &Path, mode: &str) -> Value {
    let out = Command::new("python3")
        .args(["-c", READER])
        .arg(file)
        .arg(mode)
        .output()
        .expect("python3 is needed for this test (scripts/setup.sh installs what it needs)");
    assert!(
        out.status.success(),
        "the Python MCAP reader failed (is the `mcap` package installed? `python3 -m pip install mcap`, see scripts/setup.sh):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vbus-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// (topic, sequence, payload) of every message, in file order, read with the Rust mcap crate.
fn messages(file: &Path) -> Vec<(String, u32, Vec<u8>)> {
    let bytes = std::fs::read(file).unwrap();
    mcap::MessageStream::new(&bytes)
        .unwrap()
        .map(|m| {
            let m = m.unwrap();
            (m.channel.topic.clone(), m.sequence, m.data.into_owned())
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Collect `n` samples from `sub`.
async fn collect(sub: &vbus::RawSubscriber, n: usize) -> Vec<RawSample> {
    let mut got = Vec::new();
    let fut = async {
        while got.len() < n {
            got.push(sub.recv().await.unwrap());
        }
    };
    tokio::time::timeout(WATCHDOG, fut)
        .await
        .unwrap_or_else(|_| panic!("received {} of {n} replayed samples", got.len()));
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_reads_back_independently_and_replays_in_order() {
    let bus = Bus::new("record").await;
    let _chassis = bus.child("chassis", "chassis").await;
    announced(&bus.router, "chassis", "chassis/speed").await;
    let dir = temp_dir("record");
    let file = dir.join("trip.mcap");
    let f = file.to_str().unwrap();

    let rec =
        run(bus.vbus(&["record", "-o", f, "chassis/speed", "powertrain/*", "--duration", "3", "--json"]))
            .await
            .success()
            .json();
    let recorded = rec["messages"].as_u64().unwrap();
    assert!(recorded > 20, "{rec}");
    assert_eq!(rec["channels"], 2);
    assert_eq!(rec["skipped"], 0);
    // Recording again onto the file needs --force.
    let again = run(bus.vbus(&["record", "-o", f, "--duration", "0.1"])).await.failure();
    assert!(again.stderr.contains("use --force to overwrite it"), "{}", again.stderr);

    // The independent reader: schemas embedded byte for byte, encodings, counts, compression.
    let py = python_read(&file, "indexed");
    assert_eq!(py["statistics_message_count"].as_u64(), Some(recorded), "{py}");
    let counted: u64 = py["counts"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(counted, recorded, "{py}");
    assert!(
        py["counts"]["chassis/speed"].as_u64().unwrap() > 0
            && py["counts"]["powertrain/battery"].as_u64().unwrap() > 0,
        "{py}"
    );
    assert_eq!(py["compression"], serde_json::json!(["zstd"]));
    for m in [
        (VehicleSpeedMsg::TYPE_NAME, VehicleSpeedMsg::SCHEMA),
        (BatteryStateMsg::TYPE_NAME, BatteryStateMsg::SCHEMA),
    ] {
        let s = &py["schemas"][m.0];
        assert_eq!(s["encoding"], "flatbuffer", "{py}");
        assert_eq!(s["data"], hex(m.1), "{} schema differs", m.0);
    }
    for c in py["channels"].as_array().unwrap() {
        assert_eq!(c["encoding"], "flatbuffer");
        assert_eq!(c["metadata"]["vbus.domain"], bus.domain.as_str());
        let expected = if c["topic"] == "chassis/speed" {
            VehicleSpeedMsg::TYPE_NAME
        } else {
            BatteryStateMsg::TYPE_NAME
        };
        assert_eq!(c["schema"], expected);
    }
    assert_eq!(py["metadata"][0]["name"], "vbus");
    assert_eq!(py["metadata"][0]["metadata"]["domain"], bus.domain.as_str());

    // The payloads are what the chassis' generated code published.
    let msgs = messages(&file);
    let mut last = 0;
    for (topic, seq, data) in msgs.iter().filter(|m| m.0 == "chassis/speed") {
        let v = flatbuffers::root::<VehicleSpeed<'_>>(data).unwrap();
        assert_eq!(v.unpack(), speed_of(u64::from(*seq)), "{topic} #{seq}");
        assert!(*seq > last);
        last = *seq;
    }

    // Replay into another domain: the same payloads in the same order, accepted by typed
    // subscribers (the type hash travelled with the recording).
    let d2 = unique_domain("replayed");
    let receiver = bus.peer_in("receiver", &d2).await;
    let raw = receiver.raw_subscriber("**").queue(100_000).create().await.unwrap();
    let typed = receiver
        .subscriber(topics::chassis::SPEED)
        .qos(topics::chassis::SPEED.qos().queue(10_000))
        .create()
        .await
        .unwrap();
    let out = run(bus.vbus_in(&d2, &["replay", f, "--json"])).await.success().json();
    assert_eq!(out["published"].as_u64(), Some(recorded), "{out}");
    assert_eq!(out["complete_file"], true);
    let got = collect(&raw, msgs.len()).await;
    let got: Vec<(String, Vec<u8>)> =
        got.iter().map(|s| (s.key().to_owned(), s.payload().to_vec())).collect();
    let want: Vec<(String, Vec<u8>)> = msgs.iter().map(|m| (m.0.clone(), m.2.clone())).collect();
    assert_eq!(got, want);
    let speeds = msgs.iter().filter(|m| m.0 == "chassis/speed").count();
    for (i, (_, seq, _)) in msgs.iter().filter(|m| m.0 == "chassis/speed").enumerate() {
        let s = tokio::time::timeout(WATCHDOG, typed.recv()).await.expect("typed sample").unwrap();
        assert_eq!(s.view().unpack(), speed_of(u64::from(*seq)), "typed sample {i} of {speeds}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_rate_loop_and_topic_filter() {
    let bus = Bus::new("replay").await;
    let _chassis = bus.child("chassis", "chassis").await;
    announced(&bus.router, "chassis", "chassis/speed").await;
    let dir = temp_dir("replay");
    let file = dir.join("short.mcap");
    let f = file.to_str().unwrap();
    run(bus.vbus(&["record", "-o", f, "--duration", "1.5"])).await.success();
    let msgs = messages(&file);
    let battery: Vec<&(String, u32, Vec<u8>)> = msgs.iter().filter(|m| m.0 == "powertrain/battery").collect();
    let speed: Vec<&(String, u32, Vec<u8>)> = msgs.iter().filter(|m| m.0 == "chassis/speed").collect();
    assert!(!battery.is_empty() && speed.len() > 2);

    let d2 = unique_domain("filtered");
    let receiver = bus.peer_in("receiver", &d2).await;
    let raw = receiver.raw_subscriber("**").queue(100_000).create().await.unwrap();

    // Only the selected topics.
    let out =
        run(bus.vbus_in(&d2, &["replay", f, "--topic", "powertrain/*", "--json"])).await.success().json();
    assert_eq!(out["published"].as_u64(), Some(battery.len() as u64));
    let got = collect(&raw, battery.len()).await;
    assert!(got.iter().all(|s| s.key() == "powertrain/battery"));

    // The replay serves the recorded schemas: the other domain has no chassis, yet a node with
    // nothing compiled finds the type's schema while the replay runs.
    let d3 = unique_domain("replay-schema");
    let viewer = bus.peer_in("viewer", &d3).await;
    let slow = stream(bus.vbus_in(&d3, &["replay", f, "--topic", "chassis/speed", "--rate", "0.1"]));
    let info = eventually("the replay serves demo.vehicle.VehicleSpeed's schema", || async {
        viewer.fetch_schema("demo.vehicle.VehicleSpeed").await.ok().flatten()
    })
    .await;
    assert_eq!(info.type_hash, <vbus_demo_types::demo::vehicle::VehicleSpeedMsg as vbus::Message>::TYPE_HASH);
    let served = vbus_reflect::Schema::from_bfbs(&info.bfbs).unwrap();
    assert_eq!(served.type_hash("demo.vehicle.VehicleSpeed"), Some(info.type_hash));
    slow.interrupt().await;

    // Half speed takes at least twice the recorded span (a lower bound only).
    let bytes = std::fs::read(&file).unwrap();
    let times: Vec<u64> = mcap::MessageStream::new(&bytes)
        .unwrap()
        .map(|m| m.unwrap())
        .filter(|m| m.channel.topic == "chassis/speed")
        .map(|m| m.log_time)
        .collect();
    let span = Duration::from_nanos(times.last().unwrap() - times[0]);
    let started = std::time::Instant::now();
    run(bus.vbus_in(&d2, &["replay", f, "--topic", "chassis/speed", "--rate", "0.5"])).await.success();
    let got = collect(&raw, speed.len()).await;
    assert!(
        started.elapsed() >= span.mul_f64(2.0 * 0.9),
        "{:?} for a {span:?} span at half speed",
        started.elapsed()
    );
    assert_eq!(
        got.iter().map(|s| s.payload().to_vec()).collect::<Vec<_>>(),
        speed.iter().map(|m| m.2.clone()).collect::<Vec<_>>()
    );

    // Looping repeats the recording until interrupted.
    let replay = stream(
        bus.vbus_in(&d2, &["replay", f, "--loop", "--rate", "4", "--topic", "chassis/speed", "--json"]),
    );
    let got = collect(&raw, speed.len() * 2 + 1).await;
    let out = replay.interrupt().await.success();
    let payloads: Vec<Vec<u8>> = got.iter().map(|s| s.payload().to_vec()).collect();
    let once: Vec<Vec<u8>> = speed.iter().map(|m| m.2.clone()).collect();
    assert_eq!(payloads[..once.len()], once[..]);
    assert_eq!(payloads[once.len()..2 * once.len()], once[..]);
    assert!(out.json()["loops"].as_u64().unwrap() >= 3, "{}", out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_recordings_are_readable() {
    let bus = Bus::new("interrupt").await;
    let _chassis = bus.child("chassis", "chassis").await;
    announced(&bus.router, "chassis", "chassis/speed").await;
    let dir = temp_dir("interrupt");

    // Ctrl-C: a complete file, summary and all.
    let clean = dir.join("clean.mcap");
    let rec = stream(bus.vbus(&["record", "-o", clean.to_str().unwrap(), "chassis/speed"]));
    eventually("the recorder writing its first chunk", || async {
        (std::fs::metadata(&clean).ok()?.len() > 200).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = rec.interrupt().await.success();
    assert!(out.stderr.contains("recorded ") && out.stderr.contains(" messages"), "{}", out.stderr);
    let py = python_read(&clean, "indexed");
    assert!(py["statistics_message_count"].as_u64().unwrap() > 0, "{py}");
    assert_eq!(py["statistics_message_count"], py["counts"]["chassis/speed"]);

    // kill -9: no summary, but every chunk closed before is readable, and replays.
    let killed = dir.join("killed.mcap");
    let rec = stream(bus.vbus(&["record", "-o", killed.to_str().unwrap(), "chassis/speed"]));
    eventually("the recorder writing two chunks", || async {
        let n = mcap::MessageStream::new_with_options(
            &std::fs::read(&killed).ok()?,
            mcap::read::Options::IgnoreEndMagic.into(),
        )
        .ok()?
        .take_while(|m| m.is_ok())
        .count();
        (n > 50).then_some(())
    })
    .await;
    let mut child = rec.child;
    signal(&child, "-KILL");
    child.wait().await.unwrap();
    let py = python_read(&killed, "stream");
    assert!(py["messages"].as_u64().unwrap() > 50, "{py}");
    let out =
        run(bus.vbus(&["replay", killed.to_str().unwrap(), "--wait", "0", "--rate", "100"])).await.success();
    assert!(out.stderr.contains("is cut short after"), "{}", out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}
