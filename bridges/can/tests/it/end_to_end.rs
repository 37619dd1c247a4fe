//! The daemon in its own process: candump replay -> vbus-can -> bus -> this process, and
//! bus -> allowlisted write-back -> the software bus.

use std::{collections::HashMap, process::Stdio, time::Duration};

use vbus::{Node, NodeConfig};
use vbus_can::{CanFrame, CanInterface, SoftwareBus, table};
use vbus_dbc::{Database, RangeCheck, Value, fbs};

use crate::{WATCHDOG, expected, temp_dir, testdata};

async fn parent(domain: &str) -> (Node, String) {
    vbus_test_support::peer_node("test", domain).await
}

/// The daemon's `node` section: a client of `ep` (none: of nothing), listening nowhere.
fn bridge_node(domain: &str, ep: Option<&str>) -> serde_json::Value {
    NodeConfig::named("can-bridge").domain(domain).listen(Vec::<String>::new()).connect(ep).to_value()
}

fn daemon(config: &str, tag: &str) -> tokio::process::Child {
    let dir = temp_dir(tag);
    let path = dir.join("bridge.json5");
    std::fs::write(&path, config).unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_vbus-can"))
        .arg("--config")
        .arg(&path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0) || (a.is_nan() && b.is_nan())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_capture_reaches_subscribers_as_reference_values() {
    let domain = format!("can-e2e-{}", std::process::id());
    let (node, ep) = parent(&domain).await;
    let sub = node.raw_subscriber("can/pt/**").queue(32768).create().await.unwrap();
    let dbc = testdata("dbc/kuksa/Model3CAN.dbc");
    let log = testdata("logs/real/tesla_model3_kuksa_dogmode.log");
    let bridge = bridge_node(&domain, Some(ep.as_str()));
    let child = daemon(
        &format!(
            "{{ node: {bridge},
                buses: [{{ name: 'pt', dbc: '{}', source: {{ kind: 'candump', path: '{}', realtime: true, rate: 10 }}, congestion: 'block' }}],
                exit_at_end: true, stats_period_ms: 200 }}",
            dbc.display(),
            log.display()
        ),
        "replay",
    );
    let out = tokio::time::timeout(WATCHDOG, child.wait_with_output())
        .await
        .expect("daemon ends with the log")
        .unwrap();
    assert!(out.status.success());
    // The final counters, one JSON line per bus.
    let summary: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().expect("summary")).unwrap();

    let db = Database::from_file(&dbc).unwrap();
    let specs: HashMap<String, fbs::TableSpec> =
        fbs::tables(&db, "pt").into_iter().map(|s| (s.key.clone(), s)).collect();
    let want = expected("expected/real/tesla_model3_kuksa_dogmode__Model3CAN.jsonl.gz");
    // One publisher per message: the n-th frame of a message carries sequence number n.
    let mut want_by_msg: HashMap<String, Vec<&serde_json::Value>> = HashMap::new();
    for w in want.iter().filter(|w| w.get("signals").is_some()) {
        want_by_msg.entry(w["msg"].as_str().unwrap().to_owned()).or_default().push(w);
    }
    let total: usize = want_by_msg.values().map(|v| v.len()).sum();
    // Per message, the bridge counts what the reference decoder decoded.
    let by_message = summary["published_by_message"].as_object().expect("published_by_message");
    assert_eq!(by_message.len(), want_by_msg.len(), "{summary}");
    for (msg, want) in &want_by_msg {
        assert_eq!(by_message[msg].as_u64(), Some(want.len() as u64), "{msg}: {summary}");
    }
    assert_eq!(summary["published"].as_u64(), Some(total as u64), "{summary}");
    let mut got = 0;
    let mut seen = std::collections::HashSet::new();
    while got < total {
        let s =
            tokio::time::timeout(WATCHDOG, sub.recv()).await.expect("every decoded frame arrives").unwrap();
        let spec = &specs[s.key()];
        assert_eq!(s.type_name(), Some(spec.type_name().as_str()));
        assert_eq!(s.header().unwrap().type_hash, spec.type_hash());
        let m = db.messages().iter().find(|m| spec.key.ends_with(&format!("/{}", m.name))).unwrap();
        let mut values = vec![None; m.signals.len()];
        table::decode(spec, s.payload(), &mut values).unwrap();
        let seq = s.header().unwrap().seq as usize;
        let w = want_by_msg[&m.name].get(seq - 1).expect("no more samples than frames");
        let signals = w["signals"].as_object().unwrap();
        assert_eq!(values.iter().flatten().count(), signals.len(), "{}: {signals:?} vs {values:?}", m.name);
        for (name, v) in signals {
            let i = m.signals.iter().position(|sig| &sig.name == name).unwrap();
            let got_v = values[i].unwrap();
            match (v.as_i64(), got_v) {
                (Some(want_i), Value::Int(g)) => assert_eq!(g, want_i as i128, "{}.{name}", m.name),
                _ => {
                    assert!(close(v.as_f64().unwrap(), got_v.as_f64()), "{}.{name}: {v} vs {got_v:?}", m.name)
                }
            }
        }
        got += 1;
        seen.insert((m.name.clone(), seq));
    }
    assert_eq!(seen.len(), total, "each frame exactly once");
    assert_eq!(got, 12138, "every frame of the capture decodes with Model3CAN.dbc");
    assert!(sub.try_recv().is_none(), "no extra samples");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_back_only_for_allowlisted_messages() {
    let domain = format!("can-wb-{}", std::process::id());
    let (node, ep) = parent(&domain).await;
    let stats = node.raw_subscriber("@bridge/can/pt/stats").queue(64).create().await.unwrap();
    let events = node.raw_subscriber("@bridge/can/pt/events").queue(64).create().await.unwrap();
    let bus_dir = temp_dir("vcan");
    let mut can = SoftwareBus::join(&bus_dir).unwrap();
    let dbc = testdata("dbc/kuksa/Model3CAN.dbc");
    let bridge = bridge_node(&domain, Some(ep.as_str()));
    let child = daemon(
        &format!(
            "{{ node: {bridge},
                buses: [{{ name: 'pt', dbc: '{}', source: {{ kind: 'software', dir: '{}' }},
                           timeouts_ms: {{ ID145ESP_status: 300 }},
                           write_back: {{ allow: ['ID2B9DAS_control'],
                                          counters: {{ ID2B9DAS_control: 'DAS_controlCounter' }},
                                          checksums: {{ ID2B9DAS_control: {{ signal: 'DAS_controlChecksum', algorithm: 'crc8_j1850' }} }} }} }}],
                stats_period_ms: 100 }}",
            dbc.display(),
            bus_dir.display()
        ),
        "wb",
    );
    // The daemon is up once it publishes stats.
    tokio::time::timeout(WATCHDOG, stats.recv()).await.expect("stats from the daemon").unwrap();

    let db = Database::from_file(&dbc).unwrap();
    let plan = db.decode_plan();
    let specs = fbs::tables(&db, "pt");
    let idx = db.messages().iter().position(|m| m.name == "ID2B9DAS_control").unwrap();
    let (spec, msg) = (&specs[idx], &db.messages()[idx]);
    let das = plan.message(697, false).unwrap();

    // CAN -> bus, from the software bus.
    let incoming = node.raw_subscriber(&spec.key).queue(16).create().await.unwrap();
    let raw_zero = |s: &vbus_dbc::Signal| {
        Some(if s.decodes_to_integer() { Value::Int(s.offset as i128) } else { Value::Float(s.offset) })
    };
    let mut vals: Vec<_> = msg.signals.iter().map(raw_zero).collect();
    vals[das.signal_index("DAS_setSpeed").unwrap()] = Some(Value::Float(88.8));
    let frame =
        CanFrame::new(697, false, false, &das.encode_to_vec(&vals, RangeCheck::RawOnly).unwrap()).unwrap();
    // The subscription reaches the daemon asynchronously (a sample published before that is not
    // delivered): send until one comes back, and count the frames sent.
    let mut frames_sent = 0u64;
    let s = tokio::time::timeout(WATCHDOG, async {
        loop {
            can.send(&frame).await.unwrap();
            frames_sent += 1;
            if let Ok(s) = tokio::time::timeout(Duration::from_millis(200), incoming.recv()).await {
                break s.unwrap();
            }
        }
    })
    .await
    .expect("CAN frame on the bus");
    let mut back = vec![None; msg.signals.len()];
    table::decode(spec, s.payload(), &mut back).unwrap();
    assert!((back[das.signal_index("DAS_setSpeed").unwrap()].unwrap().as_f64() - 88.8).abs() < 1e-9);

    // Bus -> CAN, allowlisted: counter and checksum filled in by the bridge.
    let mut tx = node
        .raw_publisher(
            &format!("can/pt/tx/{}", spec.key.rsplit('/').next().unwrap()),
            &spec.type_name(),
            spec.type_hash(),
        )
        .create()
        .await
        .unwrap();
    // Not allowlisted: refused, never on CAN.
    let esp = &specs[db.messages().iter().position(|m| m.name == "ID145ESP_status").unwrap()];
    let mut forbidden = node
        .raw_publisher("can/pt/tx/ID145ESP_status", &esp.type_name(), esp.type_hash())
        .create()
        .await
        .unwrap();
    assert!(tx.wait_for_subscribers(WATCHDOG).await, "the bridge subscribes to write-back requests");
    let mut enc = table::TableEncoder::default();
    let mut req: Vec<_> = msg.signals.iter().map(raw_zero).collect();
    req[das.signal_index("DAS_setSpeed").unwrap()] = Some(Value::Float(50.0));
    req[das.signal_index("DAS_accelMax").unwrap()] = Some(Value::Float(1.0));
    req[das.signal_index("DAS_accelMin").unwrap()] = Some(Value::Float(-1.0));
    req[das.signal_index("DAS_jerkMin").unwrap()] = Some(Value::Float(-1.0));
    let esp_payload = enc.encode(esp, &vec![None; esp.fields.len()]).to_vec();
    forbidden.publish(&esp_payload).unwrap();
    for expect_counter in 1..=2i128 {
        tx.publish(enc.encode(spec, &req)).unwrap();
        let f = tokio::time::timeout(WATCHDOG, can.recv()).await.expect("written frame").unwrap().unwrap();
        assert_eq!(f.id, 697, "only the allowlisted message reaches CAN");
        let mut v = vec![None; msg.signals.len()];
        das.decode_into(f.data(), &mut v).unwrap();
        assert!((v[das.signal_index("DAS_setSpeed").unwrap()].unwrap().as_f64() - 50.0).abs() < 1e-9);
        assert_eq!(v[das.signal_index("DAS_controlCounter").unwrap()], Some(Value::Int(expect_counter)));
        let crc = vbus_can::checksum::Algorithm::Crc8J1850.compute(f.data(), 7);
        assert_eq!(f.data()[7], crc, "checksum byte");
    }

    // The refusal and the ESP_status timeout are visible on the bus.
    let refused = loop {
        let s = tokio::time::timeout(WATCHDOG, stats.recv()).await.unwrap().unwrap();
        let j: serde_json::Value = serde_json::from_slice(s.payload()).unwrap();
        if j["write_refused"].as_u64() >= Some(1) && j["timeouts"].as_u64() >= Some(1) {
            break j;
        }
    };
    assert_eq!(refused["write_refused_by_message"]["ID145ESP_status"], 1);
    assert_eq!(refused["written"], 2);
    let ev = tokio::time::timeout(WATCHDOG, events.recv()).await.unwrap().unwrap();
    let ev: serde_json::Value = serde_json::from_slice(ev.payload()).unwrap();
    assert_eq!((ev["event"].as_str(), ev["message"].as_str()), (Some("timeout"), Some("ID145ESP_status")));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), can.recv()).await.is_err(),
        "nothing else on CAN"
    );

    // Graceful shutdown on SIGTERM, with the final counters printed.
    let pid = child.id().unwrap();
    std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    let out = tokio::time::timeout(WATCHDOG, child.wait_with_output()).await.unwrap().unwrap();
    assert!(out.status.success());
    let last: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
    assert_eq!((last["frames"].as_u64(), last["written"].as_u64()), (Some(frames_sent), Some(2)));
}

/// The `.bfbs` vbus-codegen generates for `dbc` on bus `bus` (what `vbus-codegen dbc` writes).
fn codegen_bfbs(dbc: &std::path::Path, bus: &str, tag: &str) -> std::path::PathBuf {
    let out = temp_dir(tag);
    vbus_codegen::Config::new()
        .out_dir(&out)
        .emit_rerun_if_changed(false)
        .file_name(bus)
        .compile_dbc(dbc, bus)
        .unwrap();
    out.join(format!("{bus}.bfbs"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_each_message_schema_so_tools_decode_can_topics() {
    let domain = format!("can-schema-{}", std::process::id());
    let (node, ep) = parent(&domain).await;
    let stats = node.raw_subscriber("@bridge/can/pt/stats").queue(64).create().await.unwrap();
    let dbc = testdata("dbc/kuksa/Model3CAN.dbc");
    let schema = codegen_bfbs(&dbc, "pt", "bfbs");
    let bus_dir = temp_dir("vcan-schema");
    let mut can = SoftwareBus::join(&bus_dir).unwrap();
    let bridge = bridge_node(&domain, Some(ep.as_str()));
    let _child = daemon(
        &format!(
            "{{ node: {bridge},
                buses: [{{ name: 'pt', dbc: '{}', schema: '{}', source: {{ kind: 'software', dir: '{}' }} }}],
                stats_period_ms: 100 }}",
            dbc.display(),
            schema.display(),
            bus_dir.display()
        ),
        "schema",
    );
    tokio::time::timeout(WATCHDOG, stats.recv()).await.expect("stats from the daemon").unwrap();

    let db = Database::from_file(&dbc).unwrap();
    let specs = fbs::tables(&db, "pt");
    let idx = db.messages().iter().position(|m| m.name == "ID257DIspeed").unwrap();
    let spec = &specs[idx];
    let sub = node.raw_subscriber(&spec.key).queue(16).create().await.unwrap();
    // A real frame of the capture: DI_vehicleSpeed and friends.
    let data = [0x6d, 0x51, 0x91, 0x20, 0x22, 0x7c, 0x07, 0x00];
    // The subscription reaches the daemon asynchronously: send until a sample comes back.
    let frame = CanFrame::new(0x257, false, false, &data).unwrap();
    let sample = tokio::time::timeout(WATCHDOG, async {
        loop {
            can.send(&frame).await.unwrap();
            if let Ok(s) = tokio::time::timeout(Duration::from_millis(200), sub.recv()).await {
                break s.unwrap();
            }
        }
    })
    .await
    .expect("the frame arrives");

    // A tool with no compiled types: fetch the schema the bridge serves, decode to JSON.
    let served = node.fetch_schema(&spec.type_name()).await.unwrap().expect("the bridge serves the schema");
    assert_eq!(served.type_hash, spec.type_hash());
    let reflect = vbus_reflect::Schema::from_bfbs(&served.bfbs).unwrap();
    assert_eq!(reflect.type_hash(&spec.type_name()), Some(spec.type_hash()));
    // Per-type: just this table (and what it uses), not the whole DBC's schema.
    assert!(served.bfbs.len() * 20 < std::fs::read(&schema).unwrap().len(), "{} bytes", served.bfbs.len());
    let json = vbus_reflect::decode_to_json(&reflect, &spec.type_name(), sample.payload()).unwrap();
    let plan = db.decode_plan();
    let mut values = vec![None; db.messages()[idx].signals.len()];
    plan.message(0x257, false).unwrap().decode_into(&data, &mut values).unwrap();
    let speed_at = db.messages()[idx].signals.iter().position(|s| s.name == "DI_vehicleSpeed").unwrap();
    let want = values[speed_at].unwrap().as_f64();
    let got = json["di_vehicle_speed"].as_f64().unwrap_or_else(|| panic!("{json}"));
    assert!(close(got, want), "{got} != {want} in {json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_schema_from_another_dbc_naming_the_type() {
    let dbc = testdata("dbc/kuksa/Model3CAN.dbc");
    // Same DBC with one scale changed: same names, different types.
    let text = std::fs::read(&dbc).unwrap();
    let text = String::from_utf8_lossy(&text).replacen(
        "DI_vehicleSpeed : 12|12@1+ (0.08,-40)",
        "DI_vehicleSpeed : 12|12@1+ (1,0)",
        1,
    );
    let dir = temp_dir("other-dbc");
    let other = dir.join("other.dbc");
    std::fs::write(&other, text.as_bytes()).unwrap();
    for (schema, expect) in [
        (codegen_bfbs(&other, "pt", "bfbs-other"), "type `can.pt.Id257DIspeed` has hash"),
        (codegen_bfbs(&dbc, "body", "bfbs-bus"), "no type `can.pt."),
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_vbus-can"))
            .arg("--config")
            .arg({
                let p = dir.join("bridge.json5");
                std::fs::write(
                    &p,
                    format!(
                        "{{ node: {bridge},
                            buses: [{{ name: 'pt', dbc: '{}', schema: '{}', source: {{ kind: 'software', dir: '{}' }} }}] }}",
                        dbc.display(),
                        schema.display(),
                        dir.display(),
                        bridge = NodeConfig::named("can-bridge").listen(Vec::<String>::new()).connect(Vec::<String>::new()).to_value(),
                    ),
                )
                .unwrap();
                p
            })
            .output()
            .await
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains(expect) && err.contains(&schema.display().to_string()), "{err}");
    }
}
