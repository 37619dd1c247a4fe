//! `vbus foxglove`: the domain seen by the official Foxglove WebSocket client
//! (`@foxglove/ws-protocol` 0.8.0 over `ws`, run by Node.js from `foxglove_client.cjs`).
//!
//! The domain: the demo chassis in a child process (`chassis/speed`, the `body/drive_mode` field,
//! the `body/set_drive_mode` service) and, in this process, a CAN topic published the way the CAN
//! bridge does (a raw publisher of `can/model3/ID257DIspeed` serving its per-type `.bfbs`) with
//! the bridge's health document on `@bridge/can/model3/stats`. The CAN message's schema is built
//! here with the reflection schema's builders, from the DBC message's signals: the codegen-made
//! DBC types live in vbus-examples, too heavy a dependency for the CLI's tests.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use vbus::{Node, flatbuffers::FlatBufferBuilder};
use vbus_reflect::reflection_generated::reflection as r;

use crate::harness::*;

const CAN_KEY: &str = "can/model3/ID257DIspeed";
const CAN_TYPE: &str = "can.model3.Id257DIspeed";
const BRIDGE_KEY: &str = "@bridge/can/model3/stats";

/// The `.bfbs` of the DBC message `ID257DIspeed` (Model3CAN.dbc): one field per signal in DBC
/// order, as the DBC mapping lays them out (value labels kept as plain integers here).
fn can_bfbs() -> Vec<u8> {
    let signals: [(&str, r::BaseType); 6] = [
        ("di_speed_checksum", r::BaseType::UByte),
        ("di_speed_counter", r::BaseType::UByte),
        ("di_ui_speed", r::BaseType::UShort),
        ("di_ui_speed_high_speed", r::BaseType::UShort),
        ("di_ui_speed_units", r::BaseType::UByte),
        ("di_vehicle_speed", r::BaseType::Double),
    ];
    let mut b = FlatBufferBuilder::new();
    let mut fields = Vec::new();
    for (id, (name, base)) in signals.iter().enumerate() {
        let name = b.create_string(name);
        let ty = r::Type::create(&mut b, &r::TypeArgs { base_type: *base, index: -1, ..Default::default() });
        fields.push(r::Field::create(
            &mut b,
            &r::FieldArgs {
                name: Some(name),
                type_: Some(ty),
                id: id as u16,
                offset: 4 + 2 * id as u16,
                ..Default::default()
            },
        ));
    }
    // flatc sorts an object's fields by name.
    let mut sorted: Vec<_> = signals.iter().map(|s| s.0).zip(fields).collect();
    sorted.sort_by_key(|(n, _)| *n);
    let fields: Vec<_> = sorted.into_iter().map(|(_, f)| f).collect();
    let fields = b.create_vector(&fields);
    let name = b.create_string(CAN_TYPE);
    let object = r::Object::create(
        &mut b,
        &r::ObjectArgs { name: Some(name), fields: Some(fields), minalign: 1, ..Default::default() },
    );
    let objects = b.create_vector(&[object]);
    let enums = b.create_vector::<vbus::flatbuffers::WIPOffset<r::Enum<'_>>>(&[]);
    let schema = r::Schema::create(
        &mut b,
        &r::SchemaArgs {
            objects: Some(objects),
            enums: Some(enums),
            root_table: Some(object),
            ..Default::default()
        },
    );
    r::finish_schema_buffer(&mut b, schema);
    b.finished_data().to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The npm packages of the client, installed once under target/ (a no-op when present).
fn client_modules() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("foxglove-client");
    let modules = dir.join("node_modules");
    let installed = |p: &str, version: &str| {
        std::fs::read_to_string(modules.join(p).join("package.json"))
            .is_ok_and(|s| s.contains(&format!("\"version\": \"{version}")))
    };
    if !(installed("@foxglove/ws-protocol", "0.8.0")
        && installed("ws", "8.")
        && installed("flatbuffers", "25."))
    {
        std::fs::create_dir_all(&dir).unwrap();
        let st = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--no-save", "--prefix"])
            .arg(&dir)
            .args(["@foxglove/ws-protocol@0.8.0", "ws@8", "flatbuffers@25"])
            .stdout(Stdio::null())
            .status()
            .expect("run npm (Node.js 20 and npm are needed for this test)");
        assert!(st.success(), "npm install of the Foxglove client failed");
    }
    modules
}

/// Whether `node` announces a subscriber of `key` (as another node sees it).
async fn subscribes(observer: &Node, node: &str, key: &str) -> bool {
    observer.topics().await.unwrap().iter().any(|t| !t.publisher && t.node == node && t.key == key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foxglove_serves_topics_services_and_fields_to_the_official_client() {
    let modules = tokio::task::spawn_blocking(client_modules).await.unwrap();
    let bus = Bus::new("foxglove").await;
    let _chassis = bus.child("chassis", "chassis").await;
    announced(&bus.router, "chassis", "chassis/speed").await;

    // The CAN topic and the bridge's health, published like the CAN bridge does.
    let can = bus.peer("can-bridge").await;
    let bfbs = can_bfbs();
    let schema = vbus_reflect::Schema::from_bfbs(&bfbs).expect("the CAN schema parses");
    let hash = schema.type_hash(CAN_TYPE).unwrap();
    can.serve_schema_bytes(CAN_TYPE, hash, bfbs.clone().into()).unwrap();
    let payloads: Vec<Vec<u8>> = [12.5, 13.0, 13.5]
        .iter()
        .enumerate()
        .map(|(i, kph)| {
            let v = json!({"di_speed_counter": i, "di_ui_speed": 13, "di_ui_speed_units": 1, "di_vehicle_speed": kph});
            vbus_reflect::encode_from_json(&schema, CAN_TYPE, &v).unwrap()
        })
        .collect();
    let mut publisher = can.raw_publisher(CAN_KEY, CAN_TYPE, hash).create().await.unwrap();
    let session = can.session().clone();
    let stats_key = vbus::wire::data_key(can.domain(), BRIDGE_KEY);
    let sent = payloads.clone();
    let can_task = tokio::spawn(async move {
        for n in 0u64.. {
            publisher.publish(&sent[n as usize % sent.len()]).unwrap();
            if n % 5 == 0 {
                session.put(&stats_key, format!("{{\"frames\":{n},\"running\":true}}")).await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    announced(&bus.router, "can-bridge", CAN_KEY).await;

    // What a Rust subscriber gets on chassis/speed, to compare bytes with.
    let checker = bus.peer("checker").await;
    let speed_sub = checker.raw_subscriber("chassis/speed").queue(65_536).create().await.unwrap();
    let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    let seen_task = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Ok(s) = speed_sub.recv().await {
                seen.lock().unwrap().insert(hex(s.payload()));
            }
        })
    };

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let mut fox = stream(bus.vbus(&["foxglove", "--listen", &listen]));
    let fox_node = format!("vbus-cli-{}", fox.child.id().unwrap());
    let ready = fox.line().await;
    assert!(ready.starts_with(&format!("foxglove: listening on ws://{listen} (")), "{ready}");
    assert!(ready.contains("channels") && ready.contains("services)"), "{ready}");

    // Lazy: with no Foxglove client, the node subscribes to no topic (bridge health only, whose
    // `@bridge/**` token `Node::topics` does not list), even after a few refreshes.
    eventually("the foxglove node alive", || async {
        bus.router.alive_nodes().await.ok()?.contains(&fox_node).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!subscribes(&bus.router, &fox_node, "chassis/speed").await, "subscribed before any client did");
    assert!(!subscribes(&bus.router, &fox_node, CAN_KEY).await);

    let mut client = tokio::process::Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/foxglove_client.cjs"))
        .args([&format!("ws://{listen}"), CAN_KEY, BRIDGE_KEY])
        .env("NODE_PATH", &modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run node (Node.js 20 is needed for this test)");
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    let mut lines: Vec<String> = Vec::new();
    let mut next = async || {
        let l = tokio::time::timeout(WATCHDOG, out.next_line())
            .await
            .expect("no line from the Foxglove client")
            .unwrap()
            .expect("the Foxglove client ended early");
        assert!(!l.starts_with("FOX error") && !l.starts_with("FOX failure "), "{l}");
        l
    };
    loop {
        let l = next().await;
        lines.push(l.clone());
        if l == "FOX subscribed" {
            break;
        }
    }
    // Subscribed: the node now reads both topics from the bus...
    for key in ["chassis/speed", CAN_KEY] {
        eventually(&format!("the foxglove node subscribing to {key}"), || async {
            subscribes(&bus.router, &fox_node, key).await.then_some(())
        })
        .await;
    }
    stdin.write_all(b"go\n").await.unwrap();
    loop {
        let l = next().await;
        lines.push(l.clone());
        if l == "FOX unsubscribed" {
            break;
        }
    }
    // ...and stops once the last client unsubscribed.
    for key in ["chassis/speed", CAN_KEY] {
        eventually(&format!("the foxglove node dropping its subscriber of {key}"), || async {
            (!subscribes(&bus.router, &fox_node, key).await).then_some(())
        })
        .await;
    }
    stdin.write_all(b"go\n").await.unwrap();
    loop {
        // A refused call is expected last (`{mode: "Turbo"}`), so read it apart.
        let l =
            tokio::time::timeout(WATCHDOG, out.next_line()).await.unwrap().unwrap().expect("client output");
        assert!(!l.starts_with("FOX error"), "{l}");
        lines.push(l.clone());
        if l == "FOX done" {
            break;
        }
    }
    let status = tokio::time::timeout(WATCHDOG, client.wait()).await.unwrap().unwrap();
    assert!(status.success(), "client: {status}\n{}", lines.join("\n"));
    let all = lines.join("\n");
    eprintln!("{all}"); // shown with --nocapture, or when an assertion fails
    let words = |prefix: &str| -> Vec<Vec<String>> {
        lines
            .iter()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(|r| r.split(' ').map(str::to_owned).collect())
            .collect()
    };

    assert!(lines.contains(&"FOX open foxglove.sdk.v1".to_owned()), "{all}");
    // Channels: FlatBuffers with the schema the publisher serves.
    let served = bus.router.fetch_schema("demo.vehicle.VehicleSpeed").await.unwrap().unwrap();
    let channels = words("FOX channel ");
    let channel =
        |topic: &str| channels.iter().find(|c| c[0] == topic).unwrap_or_else(|| panic!("{topic}: {all}"));
    assert_eq!(channel("chassis/speed")[1..4], ["flatbuffer", "demo.vehicle.VehicleSpeed", "flatbuffer"]);
    assert_eq!(channel("chassis/speed")[4], hex(&served.bfbs));
    assert_eq!(channel(CAN_KEY)[1..4], ["flatbuffer", CAN_TYPE, "flatbuffer"]);
    assert_eq!(channel(CAN_KEY)[4], hex(&bfbs));
    assert_eq!(channel(BRIDGE_KEY)[1..3], ["json", BRIDGE_KEY]);
    assert_eq!(channel(BRIDGE_KEY)[3], "jsonschema");
    assert_eq!(channel("body/drive_mode")[2], "demo.vehicle.DriveModeState");

    // Messages: the bus payloads unchanged, stamped with the source time.
    let now = vbus::wire::now_ns();
    let msgs = words("FOX msg ");
    let speed: Vec<_> = msgs.iter().filter(|m| m[0] == "chassis/speed").collect();
    assert_eq!(speed.len(), 3, "{all}");
    for m in &speed {
        assert!(seen.lock().unwrap().contains(&m[1]), "payload not seen on the bus: {}", m[1]);
        let t: u64 = m[2].parse().unwrap();
        assert!(t < now && now - t < 60_000_000_000, "log time {t} is not a recent source time");
        let (kph, odometer): (f64, f64) = (m[3].parse().unwrap(), m[4].parse().unwrap());
        assert!(kph > 0.0 && (kph * 2.0).fract() == 0.0 && odometer == kph * 20.0, "{m:?}");
    }
    let can_msgs: Vec<_> = msgs.iter().filter(|m| m[0] == CAN_KEY).collect();
    assert_eq!(can_msgs.len(), 3, "{all}");
    for m in &can_msgs {
        let i = payloads
            .iter()
            .position(|p| hex(p) == m[1])
            .unwrap_or_else(|| panic!("not a sent payload: {m:?}"));
        assert_eq!(m[3].parse::<f64>().unwrap(), [12.5, 13.0, 13.5][i]);
    }
    let health = lines.iter().find_map(|l| l.strip_prefix(&format!("FOX msg {BRIDGE_KEY} "))).unwrap();
    let health: Value = serde_json::from_str(health).unwrap();
    assert_eq!(health["running"], json!(true));

    // The service, with its request's JSON schema, and the field following it.
    let service = lines.iter().find_map(|l| l.strip_prefix("FOX service ")).unwrap();
    let (head, request_schema) = service.split_at(service.find('{').unwrap());
    assert_eq!(head, "body/set_drive_mode demo.vehicle.SetDriveMode json jsonschema ");
    let request_schema: Value = serde_json::from_str(request_schema).unwrap();
    assert_eq!(
        request_schema["properties"]["mode"],
        json!({"type": "string", "enum": ["Eco", "Normal", "Sport"]})
    );
    let params = |which: &str| -> Value {
        let l = lines.iter().find_map(|l| l.strip_prefix(&format!("FOX param {which} "))).unwrap();
        serde_json::from_str(l).unwrap()
    };
    assert_eq!(
        params("before"),
        json!([{"name": "body/drive_mode", "value": {"mode": "Normal", "changed_by": "chassis"}}])
    );
    let replies: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("FOX reply ")).collect();
    assert_eq!(replies[..2], [r#"{"accepted":true}"#, r#"{"accepted":true}"#]);
    assert_eq!(replies[2], r#"{"accepted":false,"reason":"requested_by is required"}"#);
    assert_eq!(
        params("after"),
        json!([{"name": "body/drive_mode", "value": {"mode": "Sport", "changed_by": "foxglove"}}])
    );
    assert_eq!(
        params("update"),
        json!([{"name": "body/drive_mode", "value": {"mode": "Eco", "changed_by": "foxglove-2"}}])
    );
    let failure = lines.iter().find_map(|l| l.strip_prefix("FOX failure ")).unwrap();
    assert!(failure.contains("the JSON does not match demo.vehicle.SetDriveMode: $.mode"), "{failure}");

    let run = fox.interrupt().await;
    assert!(run.ok, "vbus foxglove: {:?}\n{}", run.code, run.stderr);
    can_task.abort();
    seen_task.abort();
}
