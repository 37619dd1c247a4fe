//! What `vbus-codegen` generates in a build script, and using it.
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p vbus-examples --example codegen
//! ```
//!
//! ## The build script
//!
//! The demo's schema is compiled by the small `vbus-demo-types` crate (`examples/types`, so that
//! the tools' tests can use its types without building the examples), the DBC by
//! `examples/build.rs`:
//!
//! ```rust,ignore
//! // examples/types/build.rs
//! vbus_codegen::compile(&["../schemas/vehicle.fbs"], &["../schemas"]).unwrap();
//! // examples/build.rs
//! vbus_codegen::Config::new()
//!     .file_name("model3")
//!     .compile_dbc("../testdata/dbc/kuksa/Model3CAN.dbc", "model3")
//!     .unwrap();
//! ```
//!
//! - `compile(files, includes)` runs flatc 23.5.26 (built from source by the `flatc` crate) on
//!   the annotated schema, with `includes` as its `-I` directories, checks the `vbus_*`
//!   attributes (errors name the file and line), and writes into `$OUT_DIR`, named after the
//!   first input: `vehicle.rs` (flatc's Rust types adapted to the `flatbuffers` runtime that
//!   `vbus` re-exports, one `...Msg` marker per topic or service table implementing
//!   `vbus::Message`, the `topics` / `services` constant trees and `TOPIC_PUBLISHERS`),
//!   `vehicle.bfbs` (the binary schema, `SCHEMA_BFBS`) and `vehicle.schemas` (one small `.bfbs`
//!   per message, served on the bus so tools can decode without compiled types). It prints
//!   `cargo:rerun-if-changed` for every file read.
//! - `Config::new().file_name("model3").compile_dbc(dbc, "model3")` does the same for a CAN
//!   database: one table and topic `can/model3/<Message>` per CAN message, one field per signal
//!   with its scaled value (see the `dbc_topics` example).
//! - `types/src/lib.rs` includes the output with `vbus::include_topics!("vehicle")` (at the crate
//!   root: `vbus_demo_types::topics`, `vbus_demo_types::demo::vehicle`, ..., which `src/lib.rs`
//!   re-exports as `vbus_examples::topics`, ...) and `src/lib.rs` with
//!   `vbus::include_topics!("model3")` (in `vbus_examples::model3`).
//!
//! ## The schema attributes
//!
//! In `examples/schemas/vehicle.fbs`, attributes on a table make it a topic or a service:
//!
//! - `vbus_topic: "chassis/speed"`: the key (relative to the node's domain); the table becomes
//!   the constant `topics::chassis::SPEED: Topic<VehicleSpeedMsg>`.
//! - `vbus_priority: "realtime"` (`realtime` ... `background`), `vbus_express`,
//!   `vbus_reliability: "best_effort"`, `vbus_congestion: "block"` (or `drop`),
//!   `vbus_history: 1`, `vbus_queue: 64`, `vbus_deadline_ms`, `vbus_lifespan_ms`: the topic's
//!   `QoS`. `vbus_period_ms: 20` is the nominal period (`...Msg::PERIOD`); the deadline is three
//!   periods unless `vbus_deadline_ms` is given.
//! - `vbus_publishers: "chassis"`: who may publish (`...Msg::PUBLISHERS`, `TOPIC_PUBLISHERS`),
//!   input for an access policy.
//! - `vbus_service: "body/set_drive_mode", vbus_reply: "SetDriveModeReply", vbus_timeout_ms:
//!   1000` on a request table: `services::body::SET_DRIVE_MODE: Service<Req, Rep>` with that
//!   default call timeout.
//! - `vbus_dds` marks a topic for the DDS bridge (OMG IDL is written for it); `vbus_unit`,
//!   `vbus_min`, `vbus_max` on fields are recorded in the `.bfbs` for tools.
//!
//! Every message carries a `TYPE_HASH` (FNV-1a 64 of a canonical text of the table's shape),
//! sent in each sample's header: a subscriber built from another version of the schema reports
//! a `TypeMismatch` event instead of mis-reading the bytes.
//!
//! ## What this example does
//!
//! It lists the generated constants (key, type name, type hash, QoS, period, publishers, size of
//! the served schema) and checks they say what the schema says; then on two loopback nodes it
//! publishes one `BatteryState` and receives it typed, fetches the schema the publisher serves
//! (equal to the generated `Message::SCHEMA`, same type hash), and shows a subscriber of another
//! type on the same key getting `TypeMismatch` instead of data. Exits 0 when all that holds,
//! non-zero otherwise (or after a 20 s watchdog).

use std::time::Duration;
mod support;
use support::{Result, init_logging, two_nodes, within};

use vbus::{Congestion, Message, Priority, QoS, Topic, TopicEvent};
use vbus_examples::{
    TOPIC_PUBLISHERS,
    demo::vehicle::{BatteryStateMsg, BatteryStateT, DriveModeStateMsg, VehicleSpeedMsg},
    model3, services, topics,
};

/// One line per generated topic.
fn describe<T: Message>(topic: Topic<T>, period: Option<Duration>, publishers: &[&str]) {
    let q = topic.qos();
    println!("  topic `{}`", topic.key());
    println!(
        "    type {} hash {:#018x}, served schema {} bytes",
        T::TYPE_NAME,
        T::TYPE_HASH,
        T::SCHEMA.len()
    );
    println!(
        "    qos: {:?} {:?}{} {:?} history {} queue {} deadline {:?} lifespan {:?}",
        q.reliability,
        q.priority,
        if q.express { " express" } else { "" },
        q.congestion,
        q.history,
        q.queue,
        q.deadline,
        q.lifespan
    );
    println!("    period {period:?}, publishers {publishers:?}");
}

#[tokio::main]
async fn main() -> Result<()> {
    init_logging();

    println!("generated from examples/schemas/vehicle.fbs:");
    describe(topics::chassis::SPEED, VehicleSpeedMsg::PERIOD, VehicleSpeedMsg::PUBLISHERS);
    describe(topics::powertrain::BATTERY, BatteryStateMsg::PERIOD, BatteryStateMsg::PUBLISHERS);
    describe(topics::body::DRIVE_MODE, DriveModeStateMsg::PERIOD, DriveModeStateMsg::PUBLISHERS);
    let svc = services::body::SET_DRIVE_MODE;
    println!("  service {svc:?}");
    println!("  TOPIC_PUBLISHERS = {TOPIC_PUBLISHERS:?}");
    println!("  SCHEMA_BFBS: {} bytes", vbus_examples::SCHEMA_BFBS.len());
    println!("generated from testdata/dbc/kuksa/Model3CAN.dbc (one of its messages):");
    describe(model3::topics::can::model3::ID257_D_ISPEED, model3::can::model_3::Id257DIspeedMsg::PERIOD, &[]);

    // What the schema declares is what the constants say.
    let checks = [
        (
            "chassis/speed QoS",
            topics::chassis::SPEED.qos()
                == QoS::new()
                    .priority(Priority::RealTime)
                    .express(true)
                    .congestion(Congestion::Block)
                    .deadline(Duration::from_millis(60)),
        ),
        (
            "powertrain/battery QoS",
            topics::powertrain::BATTERY.qos() == QoS::new().history(1).deadline(Duration::from_millis(300)),
        ),
        (
            "body/drive_mode QoS",
            topics::body::DRIVE_MODE.qos() == QoS::new().congestion(Congestion::Block).history(1),
        ),
        ("chassis/speed period", VehicleSpeedMsg::PERIOD == Some(Duration::from_millis(20))),
        (
            "set_drive_mode timeout",
            svc.key() == "body/set_drive_mode" && svc.timeout() == Duration::from_millis(1000),
        ),
        ("publishers", TOPIC_PUBLISHERS.contains(&("chassis/speed", &["chassis"][..]))),
        ("SCHEMA_BFBS identifier", vbus_examples::SCHEMA_BFBS.get(4..8) == Some(&b"BFBS"[..])),
        ("per-message schema", BatteryStateMsg::SCHEMA.get(4..8) == Some(&b"BFBS"[..])),
        ("CAN topic key", model3::topics::can::model3::ID257_D_ISPEED.key() == "can/model3/ID257DIspeed"),
    ];
    for (what, ok) in checks {
        if !ok {
            return Err(format!("generated code does not match the schema: {what}").into());
        }
    }
    println!("the constants match the schema attributes");

    // Using it: publish and receive one battery sample; fetch the schema the publisher serves.
    let (chassis, cockpit) = two_nodes("codegen", "chassis", "cockpit").await?;
    let battery_rx = cockpit.subscriber(topics::powertrain::BATTERY).create().await?;
    // Another type on the same key, as a node built from a different schema would have it.
    let wrong: Topic<VehicleSpeedMsg> = Topic::new("powertrain/battery");
    let wrong_rx = cockpit.subscriber(wrong).create().await?;
    let mut battery_tx = chassis.publisher(topics::powertrain::BATTERY).create().await?;
    // Both subscriptions are known to the publisher's node once it lists their liveliness
    // tokens (each is declared after its subscription).
    within("the publisher's node to see both subscriptions", async {
        loop {
            let subs = chassis.topics().await?;
            let n = subs.iter().filter(|t| !t.publisher && t.key == "powertrain/battery").count();
            if n == 2 {
                return Ok::<_, vbus::Error>(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await??;
    let value = BatteryStateT { soc_percent: 77.5, pack_voltage: 401.25, max_cell_temp_c: 29.0 };
    battery_tx.publish(&value)?;
    let s = within("the battery sample", battery_rx.recv()).await??;
    let v = s.view();
    println!(
        "received {}: soc {} %, {} V, {} C (seq {})",
        BatteryStateMsg::TYPE_NAME,
        v.soc_percent(),
        v.pack_voltage(),
        v.max_cell_temp_c(),
        s.seq()
    );
    if (v.soc_percent(), v.pack_voltage(), v.max_cell_temp_c()) != (77.5, 401.25, 29.0) {
        return Err("the received values differ from the published ones".into());
    }
    match within("the type mismatch event", wrong_rx.next_event()).await?? {
        ev @ TopicEvent::TypeMismatch { expected_hash, found_hash, .. }
            if expected_hash == VehicleSpeedMsg::TYPE_HASH && found_hash == BatteryStateMsg::TYPE_HASH =>
        {
            println!("a VehicleSpeed subscriber on the same key got: {ev}");
        }
        other => return Err(format!("expected TypeMismatch, got {other}").into()),
    }
    if wrong_rx.try_recv().is_some() || wrong_rx.stats().mismatched != 1 {
        return Err("the mismatched subscriber should get no data and count one mismatch".into());
    }

    // Publishers serve the `.bfbs` of their types (`Message::SCHEMA`); tools fetch it by type name.
    let served = within("the served schema", async {
        loop {
            if let Some(s) = cockpit.fetch_schema(BatteryStateMsg::TYPE_NAME).await? {
                return Ok::<_, vbus::Error>(s);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await??;
    println!(
        "schema served by the publisher's node: {} bytes of .bfbs, type hash {:#018x}",
        served.bfbs.len(),
        served.type_hash
    );
    if served.type_hash != BatteryStateMsg::TYPE_HASH || served.bfbs != BatteryStateMsg::SCHEMA {
        return Err("the served schema is not the generated one".into());
    }
    let listed = cockpit.topics().await?;
    for t in listed.iter().filter(|t| t.key == "powertrain/battery") {
        println!(
            "  on the bus: {} {} `{}` ({})",
            t.node,
            if t.publisher { "publishes" } else { "subscribes to" },
            t.key,
            t.type_name
        );
    }
    drop((battery_tx, battery_rx, wrong_rx));
    chassis.close().await?;
    cockpit.close().await?;
    println!("codegen OK: generated constants, typed round trip, served schema, type-hash check");
    Ok(())
}
