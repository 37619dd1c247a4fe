//! `vbus echo` and `vbus pub`: a generated type through JSON and back, with no compiled
//! knowledge of it in the tool.

use serde_json::{Value, json};
use vbus::Message;
use vbus_demo_types::demo::vehicle::VehicleSpeedMsg;

use crate::{child::speed_of, harness::*};

fn speed_json(seq: u64) -> Value {
    let s = speed_of(seq);
    json!({"kph": s.kph, "odometer_m": s.odometer_m})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_decodes_any_topic_through_the_served_schema() {
    let bus = Bus::new("echo").await;
    let _chassis = bus.child("chassis", "chassis").await;
    announced(&bus.router, "chassis", "chassis/speed").await;

    let lines =
        run(bus.vbus(&["echo", "chassis/speed", "--count", "3", "--json"])).await.success().json_lines();
    assert_eq!(lines.len(), 3);
    let mut last_seq = 0;
    for l in &lines {
        let seq = l["seq"].as_u64().unwrap();
        assert!(seq > last_seq);
        last_seq = seq;
        assert_eq!(l["key"], "chassis/speed");
        assert_eq!(l["type"], "demo.vehicle.VehicleSpeed");
        assert_eq!(l["type_hash"], format!("{:016x}", VehicleSpeedMsg::TYPE_HASH));
        assert_eq!(l["data"], speed_json(seq), "{l}");
        assert!(l.get("error").is_none(), "{l}");
    }
    let data = run(bus.vbus(&["echo", "chassis/speed", "-n", "2", "--json", "--data-only"]))
        .await
        .success()
        .json_lines();
    assert_eq!(data.len(), 2);
    assert!(data[0]["kph"].is_number() && data[0].as_object().unwrap().len() == 2, "{data:?}");

    // Wildcards and the human format.
    let human = run(bus.vbus(&["echo", "powertrain/*", "--count", "1"])).await.success().stdout;
    let mut lines = human.lines();
    let head = lines.next().unwrap();
    assert!(
        head.starts_with("--- powertrain/battery  #") && head.ends_with("demo.vehicle.BatteryState"),
        "{human}"
    );
    assert_eq!(
        lines.collect::<Vec<_>>(),
        ["  max_cell_temp_c: 31.5", "  pack_voltage: 396.0", "  soc_percent: 80.0"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pub_and_echo_round_trip_a_generated_type_through_json() {
    let bus = Bus::new("pub").await;
    let _chassis = bus.child("chassis", "chassis").await;
    let mut listener = bus.child("listener", "cockpit").await;
    announced(&bus.router, "cockpit", "chassis/speed").await;

    // What the chassis' generated code published, as JSON.
    let seen = run(bus.vbus(&["echo", "chassis/speed", "--count", "1", "--json"])).await.success().json();
    let mut data = seen["data"].clone();
    data["kph"] = json!(4242.5);

    // A live echo, to see the published sample come back as JSON.
    let mut echo = stream(bus.vbus(&["echo", "chassis/speed", "--json"]));
    echo.line().await; // subscribed and receiving
    let out = run(bus.vbus(&["pub", "chassis/speed", &data.to_string()])).await.success();
    assert!(
        out.stdout.starts_with("published 1 sample of demo.vehicle.VehicleSpeed on chassis/speed ("),
        "{}",
        out.stdout
    );

    // The subscriber's generated code reads the exact values.
    let odometer = data["odometer_m"].as_f64().unwrap();
    let got = loop {
        let got = listener.expect("got").await;
        if got.starts_with("4242.5 ") {
            break got;
        }
    };
    let fields: Vec<&str> = got.split(' ').collect();
    assert_eq!(fields[1].parse::<f64>().unwrap(), odometer, "{got}");
    // And the echo prints the same JSON that went in.
    let back = loop {
        let l: Value = serde_json::from_str(&echo.line().await).unwrap();
        if l["data"]["kph"] == json!(4242.5) {
            break l;
        }
    };
    assert_eq!(back["data"], data);
    assert_ne!(back["publisher_id"], seen["publisher_id"], "a new publisher: the tool");
    echo.interrupt().await.success();

    // JSON5, fields left out, repeated publishing.
    let out =
        run(bus.vbus(&["pub", "chassis/speed", "{kph: 1.25}", "--rate", "20", "--count", "3", "--json"]))
            .await
            .success()
            .json();
    assert_eq!(out["published"], 3);
    assert_eq!(out["type"], "demo.vehicle.VehicleSpeed");
    assert_eq!(out["subscribers_matched"], true);
    let mut n = 0;
    while n < 3 {
        if listener.expect("got").await.starts_with("1.25 0 ") {
            n += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_shows_bridge_health_as_json() {
    let bus = Bus::new("echo-bridge").await;
    // A bridge's health topic, as vbus-can and vbus-cloud publish it: JSON on `@bridge/...`.
    let bridge = bus.peer("fake-bridge").await;
    let key = vbus::wire::data_key(bridge.domain(), "@bridge/cloud/stats");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publisher = {
        let (session, stop) = (bridge.session().clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                session.put(&key, format!("{{\"running\":true,\"received\":{n}}}")).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
    };
    let lines = run(bus.vbus(&["echo", "@bridge/cloud/stats", "--count", "2", "--json", "--data-only"]))
        .await
        .success()
        .json_lines();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert_eq!(l["running"], true, "{l}");
        assert!(l["received"].as_u64().unwrap() > 0, "{l}");
    }
    // Other reserved keys stay refused.
    let err = run(bus.vbus(&["echo", "@history"])).await.failure().stderr;
    assert!(err.contains("reserved for vbus itself"), "{err}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    publisher.await.unwrap();
}

/// `vbus pub` serves the schema of what it publishes, even when it came from a file: a node with
/// nothing compiled (and no other publisher in the domain) finds it on the bus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pub_serves_the_schema_of_what_it_publishes() {
    let bus = Bus::new("pub-schema").await;
    let bfbs = vehicle_bfbs();
    let args = ["pub", "chassis/speed", "{kph: 3}", "--type", "demo.vehicle.VehicleSpeed", "--schema", &bfbs];
    let publishing =
        stream(bus.vbus(&[&args[..], &["--rate", "20", "--count", "2000", "--wait", "0"]].concat()));
    let viewer = bus.peer("viewer").await;
    let info = eventually("vbus pub serves demo.vehicle.VehicleSpeed's schema", || async {
        viewer.fetch_schema("demo.vehicle.VehicleSpeed").await.ok().flatten()
    })
    .await;
    assert_eq!(info.type_hash, VehicleSpeedMsg::TYPE_HASH);
    // The per-type schema, as typed publishers serve it.
    assert_eq!(info.bfbs, VehicleSpeedMsg::SCHEMA);
    publishing.interrupt().await;
}
