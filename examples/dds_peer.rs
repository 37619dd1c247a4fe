//! A vbus topic mirrored to DDS by the DDS bridge, read and written by a plain DDS participant.
//!
//! Needs CycloneDDS 11.0.1 in /usr/local (`scripts/cyclonedds.sh`, run by `scripts/setup.sh`)
//! and the `dds` feature. Run it with:
//!
//! ```sh
//! cargo run -p vbus-examples --example dds_peer --features dds
//! ```
//!
//! The schema `bus/test-support/schemas/dds/dds_demo.fbs` marks `demo.dds.Status` (key `dds/status`)
//! with `vbus_dds`. In this process:
//! - `app` (a vbus node) listens on loopback; `dds-bridge` (a vbus node) connects to it and runs
//!   `vbus_dds::bridge::Bridge` for `dds/status`, both ways, on a DDS domain and partition
//!   chosen for this process, with CycloneDDS pinned to `lo`, multicast off
//!   (`LOOPBACK_CONFIG`);
//! - a plain DDS participant, with no vbus at all: a `DynTopic` built from the schema, a
//!   reader and a writer of serialized samples, and `vbus_dds::cdr` to turn XCDR2 into JSON
//!   and back (a C or ROS 2 peer would use its `idlc`-generated type instead).
//!
//! vbus -> DDS: `app` publishes 5 `Status` samples; the DDS reader takes them and checks every
//! value. DDS -> vbus: the DDS writer writes 3 samples; `app`'s typed subscriber receives them
//! and checks every value. Exits 0 when all 8 arrived with their values, once each; non-zero
//! otherwise (or after a 20 s watchdog per step).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};
mod support;
use support::{Result, WAIT, init_logging, two_nodes, within};

use serde_json::{Value, json};
use vbus_dds::vbus_reflect::Schema;
use vbus_dds::{
    bridge::{Bridge, BridgeConfig, Direction, LOOPBACK_CONFIG, TopicConfig},
    cdr,
    dds::{DynTopic, Participant, TopicQos},
};
use vbus_test_support::dds::{
    SCHEMA_BFBS,
    demo::dds::{Gear, StatusT, Vec3T},
    topics,
};

const TYPE: &str = "demo.dds.Status";

/// The value `app` publishes as sample `id`.
fn status(id: u32) -> StatusT {
    StatusT {
        id,
        speed_kph: 10.0 * id as f32 + 0.5,
        gear: if id.is_multiple_of(2) { Gear::Reverse } else { Gear::Drive },
        label: Some(format!("vbus {id}")),
        odometer_m: 1_000_000 + u64::from(id),
        temp_c: Some(-(id as i16)),
        accel: Some(Vec3T { x: 0.25, y: -0.5, z: id as f32 }),
        rpm: Some(vec![800.0, 800.0 + id as f32]),
        tags: Some(vec!["from-vbus".into()]),
        ok: id % 2 == 1,
        ratio: f64::from(id) / 4.0,
    }
}

/// The sample the DDS writer writes as `id`, in vbus-reflect's JSON form (as `cdr` takes it).
fn dds_status(id: u32) -> Value {
    json!({
        "id": id, "speed_kph": f64::from(id) + 0.25, "gear": "Neutral", "label": format!("dds {id}"),
        "odometer_m": 42, "rpm": [1.5], "tags": ["from-dds", "plain"], "ok": true, "ratio": 0.5,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    init_logging();
    let pid = std::process::id();
    let (app, bridge_node) = two_nodes("dds", "app", "dds-bridge").await?;
    let mut status_tx = app.publisher(topics::dds::STATUS).create().await?;

    // A DDS domain and a partition of our own: parallel runs on this host cannot meet.
    let (domain_id, partition) = (150 + pid % 80, format!("vbus-example-{pid}"));
    let config = BridgeConfig {
        domain_id,
        partition: Some(partition.clone()),
        cyclonedds_config: Some(LOOPBACK_CONFIG.into()),
        topics: vec![TopicConfig {
            key: topics::dds::STATUS.key().into(),
            direction: Direction::Both,
            dds_topic: None, // the DDS topic name is the key, `dds/status`
            final_type: false,
            octet: false,
        }],
    };
    let bridge = Bridge::start(&bridge_node, SCHEMA_BFBS, &config).await?;
    println!(
        "bridge: vbus `dds/status` <-> DDS domain {domain_id}, partition `{partition}`, topic `dds/status`"
    );

    // The plain DDS peer: the same type, built from the schema (what the IDL codegen emits says
    // the same: `@appendable struct demo::dds::Status`), KEEP_LAST 4, reliable, transient-local.
    let schema = Arc::new(Schema::from_bfbs(SCHEMA_BFBS)?);
    let participant = Participant::new(domain_id, Some(LOOPBACK_CONFIG))?;
    let qos = TopicQos {
        reliable: true,
        depth: 4,
        transient_local: true,
        deadline: None,
        partition: Some(partition),
    };
    let topic = DynTopic::new(&participant, &schema, TYPE, "dds/status", false, false, qos)?;
    let (reader, writer) = (topic.reader()?, topic.writer()?);

    // Wait until every path is matched: DDS reader/writer with the bridge's writer/reader, the
    // bridge's bus subscription with `app`'s publisher, `app`'s subscription with the bridge.
    within("DDS discovery", async {
        while reader.matched() == 0 || writer.matched() == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await?;
    // (`app` subscribes only after this: its own subscription would match its publisher too.)
    if !status_tx.wait_for_subscribers(WAIT).await {
        return Err(format!("timed out after {WAIT:?} waiting for the bridge's bus subscription").into());
    }
    let status_rx = app.subscriber(topics::dds::STATUS).create().await?;
    within("the bridge's node to see app's subscription", async {
        loop {
            let seen = bridge_node.topics().await?;
            if seen.iter().any(|t| t.node == "app" && !t.publisher && t.key == topics::dds::STATUS.key()) {
                return Ok::<_, vbus::Error>(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await??;
    println!("matched: DDS reader {} writer(s), DDS writer {} reader(s)", reader.matched(), writer.matched());

    // vbus -> DDS.
    const N: u32 = 5;
    for id in 1..=N {
        status_tx.publish(&status(id))?;
    }
    println!("app published {N} Status samples on the bus");
    let taker = {
        let schema = schema.clone();
        tokio::task::spawn_blocking(move || -> Result<Vec<Value>> {
            let (mut got, mut batch, until) = (Vec::new(), Vec::new(), Instant::now() + WAIT);
            while got.len() < N as usize && Instant::now() < until {
                reader.take(Duration::from_millis(100), &mut batch)?;
                for s in batch.drain(..) {
                    // XCDR2 bytes as any DDS peer sees them, decoded against the schema type.
                    got.push(cdr::decode(&schema, TYPE, &s.data, false)?);
                }
            }
            Ok(got)
        })
    };
    let got = taker.await??;
    for v in &got {
        println!("  DDS reader: {v}");
    }
    if got.len() != N as usize {
        let st = bridge.stats(topics::dds::STATUS.key());
        return Err(format!("the DDS reader got {} samples, expected {N}; bridge: {st:?}", got.len()).into());
    }
    for (v, id) in got.iter().zip(1..=N) {
        let want = status(id);
        let ok = v["id"] == id
            && v["speed_kph"].as_f64() == Some(f64::from(want.speed_kph))
            && v["gear"] == if id.is_multiple_of(2) { "Reverse" } else { "Drive" }
            && v["label"] == format!("vbus {id}")
            && v["odometer_m"] == want.odometer_m
            && v["temp_c"] == -(id as i64)
            && v["accel"]["z"].as_f64() == Some(f64::from(id))
            && v["rpm"] == json!([800.0, 800.0 + id as f32])
            && v["tags"] == json!(["from-vbus"])
            && v["ok"] == want.ok
            && v["ratio"].as_f64() == Some(want.ratio);
        if !ok {
            return Err(format!("DDS sample {v} does not match what app published as id {id}").into());
        }
    }

    // DDS -> vbus.
    const M: u32 = 3;
    for id in 101..101 + M {
        writer.write_cdr(&cdr::encode(&schema, TYPE, &dds_status(id), false)?)?;
    }
    println!("the DDS writer wrote {M} samples");
    let mut from_dds = Vec::new();
    while from_dds.len() < M as usize {
        let s = within("a sample from DDS on the bus", status_rx.recv()).await??;
        if s.publisher_id() == status_tx.id() {
            continue; // app's own samples, delivered locally too
        }
        let v = s.view();
        println!(
            "  app received from DDS: id {} speed {} gear {:?} label {:?} tags {:?} (bridge publisher {:016x})",
            v.id(),
            v.speed_kph(),
            v.gear(),
            v.label(),
            v.tags().map(|t| t.iter().collect::<Vec<_>>()),
            s.publisher_id()
        );
        let id = 101 + from_dds.len() as u32;
        let tags: Option<Vec<&str>> = v.tags().map(|t| t.iter().collect());
        if v.id() != id
            || v.speed_kph() != id as f32 + 0.25
            || v.gear() != Gear::Neutral
            || v.label() != Some(format!("dds {id}").as_str())
            || v.odometer_m() != 42
            || v.temp_c().is_some()
            || tags != Some(vec!["from-dds", "plain"])
        {
            return Err(format!("sample from DDS does not match what was written as id {id}").into());
        }
        from_dds.push(v.id());
    }

    // The bridge counts a sample once it has handed it on, which may be just after it arrived.
    let want = (u64::from(N), u64::from(M));
    let st = within("the bridge's counters", async {
        loop {
            let st = bridge.stats(topics::dds::STATUS.key()).ok_or("no bridge stats")?;
            if (st.to_dds, st.from_dds) >= want {
                return Ok::<_, &str>(st);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await??;
    println!(
        "bridge stats: to_dds={} from_dds={} bus_rejected={} dds_rejected={}",
        st.to_dds, st.from_dds, st.bus_rejected, st.dds_rejected
    );
    if (st.to_dds, st.from_dds, st.bus_rejected, st.dds_rejected) != (u64::from(N), u64::from(M), 0, 0) {
        return Err(format!("unexpected bridge counters {st:?}").into());
    }
    drop((bridge, topic, participant, status_tx, status_rx));
    app.close().await?;
    bridge_node.close().await?;
    println!("dds_peer OK: {N} samples vbus -> DDS and {M} DDS -> vbus, every value checked");
    Ok(())
}
