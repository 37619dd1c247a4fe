//! A collection rule of the cloud bridge: only speed changes beyond a deadband go to the cloud.
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p vbus-examples --example cloud_rule
//! ```
//!
//! `vbus_cloud::Bridge` (the library behind the `vbus-cloud` daemon, see
//! `bridges/cloud/README.md`) runs on its own node, `cloud`, connected over loopback to `chassis`.
//! Its configuration (JSON5, overlaid on `bridges/cloud/DEFAULT_CONFIG.json5`) has no MQTT
//! broker, so batches go to the file sink, in a temporary directory with the durable queue; and
//! one rule:
//!
//! ```json5
//! { name: "speed-change", keys: "chassis/speed", mode: "on_change", field: "kph", deadband: 1.0, priority: 2 }
//! ```
//!
//! The bridge has no compiled types: it reads `kph` through the schema the publisher serves on
//! the bus. `chassis` publishes eight speeds; a sample is selected when its `kph` differs from
//! the last *selected* one by more than 1.0 (the first always):
//!
//! ```text
//! seq  1    2    3    4    5    6    7    8
//! kph  50.0 50.4 50.9 52.0 52.5 49.0 49.8 60.0
//!      sent           sent      sent      sent
//! ```
//!
//! The bridge is then shut down (it commits, uploads and closes the queue), and the uploaded
//! file is read back as the cloud would, with `vbus_cloud::format::decode_batch` (format:
//! `bridges/cloud/FORMAT.md`). Exits 0 when exactly samples 1, 4, 6 and 8 were uploaded, with
//! their rule, priority, publisher and values; non-zero otherwise (or after a 20 s watchdog).

use std::time::Duration;
mod support;
use support::{Result, WAIT, init_logging, two_nodes, within};
use vbus_test_support::TempDir;

use vbus::Message;
use vbus_cloud::{Bridge, format::decode_batch};
use vbus_examples::{
    demo::vehicle::{VehicleSpeed, VehicleSpeedMsg, VehicleSpeedT},
    topics,
};

const SPEEDS: [f32; 8] = [50.0, 50.4, 50.9, 52.0, 52.5, 49.0, 49.8, 60.0];
/// The sequence numbers the rule selects (see the table above).
const SELECTED: [u64; 4] = [1, 4, 6, 8];

#[tokio::main]
async fn main() -> Result<()> {
    init_logging();
    let tmp = TempDir::new("cloud");
    let (chassis, cloud) = two_nodes("cloud", "chassis", "cloud").await?;
    let mut speed_tx = chassis.publisher(topics::chassis::SPEED).create().await?;

    let config = vbus_cloud::Config::from_json5(&format!(
        "{{
           queue: {{ path: '{queue}' }},
           file_sink: {{ path: '{sink}' }},
           stats_period_ms: 100,
           rules: [
             {{ name: 'speed-change', keys: 'chassis/speed', mode: 'on_change', field: 'kph', deadband: 1.0, priority: 2 }},
           ],
         }}",
        queue = tmp.join("queue.sqlite").display(),
        sink = tmp.join("uplink.jsonl").display(),
    ))?;
    // On a node we opened (its `node` configuration is then not used; the vehicle id is the
    // node's domain).
    let bridge = Bridge::start_on(cloud.clone(), config).await?;
    println!("cloud bridge running: sink {}, rule on_change kph deadband 1.0", bridge.stats().sink);

    // The rule reads `kph` with the schema `chassis` serves: wait until the bridge's node can
    // fetch it, and until the bridge's subscription reaches the publisher.
    within("the publisher's schema to be reachable", async {
        while cloud.fetch_schema(VehicleSpeedMsg::TYPE_NAME).await?.is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok::<_, vbus::Error>(())
    })
    .await??;
    if !speed_tx.wait_for_subscribers(WAIT).await {
        return Err(format!("timed out after {WAIT:?} waiting for the bridge to subscribe").into());
    }

    for (i, kph) in SPEEDS.into_iter().enumerate() {
        speed_tx.publish(&VehicleSpeedT { kph, odometer_m: i as f64 })?;
    }
    println!("chassis published {} speeds as publisher {:016x}", SPEEDS.len(), speed_tx.id());
    within("the bridge to receive every sample", async {
        while bridge.stats().received < SPEEDS.len() as u64 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await?;
    let stats = within("the bridge to shut down", bridge.shutdown()).await??;
    let rule = stats.rules.iter().find(|r| r.name == "speed-change").ok_or("no rule stats")?;
    println!(
        "bridge stopped: received={} selected={} accepted={} uploaded={} (rule: selected={} unreadable={})",
        stats.received,
        stats.selected,
        stats.accepted,
        stats.uplink.samples_acked,
        rule.selected,
        rule.unreadable
    );

    // The cloud side: JSON Lines, one batch per line.
    let text = std::fs::read_to_string(tmp.join("uplink.jsonl"))?;
    let mut uploaded = Vec::new();
    for line in text.lines() {
        let batch = decode_batch(line.as_bytes())?;
        println!(
            "batch from vehicle `{}`: {} sample(s), dropped {}",
            batch.vehicle,
            batch.samples.len(),
            batch.dropped
        );
        uploaded.extend(batch.samples);
    }
    for s in &uploaded {
        // `data` is the FlatBuffers payload exactly as it was on the bus.
        let v = vbus::flatbuffers::root::<VehicleSpeed<'_>>(&s.data)?;
        println!(
            "  {} seq {} kph {:.1} rule {} prio {} (publisher {:016x})",
            s.key,
            s.seq,
            v.kph(),
            s.rule,
            s.prio,
            s.publisher
        );
        let expected_kph = SPEEDS[(s.seq - 1) as usize];
        if s.key != "chassis/speed"
            || s.rule != "speed-change"
            || s.prio != 2
            || s.publisher != speed_tx.id()
            || s.type_hash != VehicleSpeedMsg::TYPE_HASH
            || v.kph() != expected_kph
        {
            return Err(format!("unexpected uploaded sample {s:?}").into());
        }
    }
    let seqs: Vec<u64> = uploaded.iter().map(|s| s.seq).collect();
    if seqs != SELECTED {
        return Err(format!("uploaded seqs {seqs:?}, expected {SELECTED:?}").into());
    }
    if rule.unreadable != 0 || stats.accepted != SELECTED.len() as u64 {
        return Err(format!("rule stats {rule:?}, accepted {}", stats.accepted).into());
    }
    drop(speed_tx);
    chassis.close().await?;
    cloud.close().await?;
    println!("cloud_rule OK: exactly the speed changes beyond the deadband were uploaded");
    Ok(())
}
