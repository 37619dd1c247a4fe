//! QoS a subscriber enforces: a deadline on a topic that goes silent, history for late joiners,
//! and a lifespan that drops stale samples.
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p vbus-examples --example qos_deadline
//! ```
//!
//! Two nodes in this process on loopback: `chassis` publishes, `cockpit` subscribes.
//!
//! 1. Deadline. `chassis/speed` is declared in the schema with `vbus_period_ms: 20`, so codegen
//!    gives it a deadline of three periods (60 ms). `chassis` publishes 25 samples every 20 ms,
//!    then stops (the publisher stays alive, it just goes silent). The subscriber's deadline
//!    monitor reports `TopicEvent::DeadlineMissed` (once per missed period) and counts it in
//!    `stats().deadline_missed`.
//! 2. History. `powertrain/battery` keeps 1 sample in the schema (`vbus_history: 1`); here the
//!    publisher overrides its QoS to keep the last 5. It publishes 8 samples before anyone
//!    subscribes; a subscriber created afterwards with history gets the last 5 (seq 4..=8) at
//!    once, in order, before `create()` returns.
//! 3. Lifespan. After the stored samples have aged 400 ms, a late joiner with a 200 ms lifespan
//!    drops all 5 as expired (`stats().expired`), and still gets a fresh sample.
//!
//! Exits 0 when all three happened; non-zero otherwise (or after a 20 s watchdog per step).

use std::time::Duration;
mod support;
use support::{Result, WAIT, init_logging, two_nodes, within};

use vbus::{Node, TopicEvent};
use vbus_examples::{
    demo::vehicle::{BatteryStateT, VehicleSpeedT},
    topics,
};

fn battery(seq: u32) -> BatteryStateT {
    BatteryStateT { soc_percent: 80.0 - seq as f32, pack_voltage: 396.0, max_cell_temp_c: 31.5 }
}

#[tokio::main]
async fn main() -> Result<()> {
    init_logging();
    let (chassis, cockpit) = two_nodes("qos", "chassis", "cockpit").await?;
    deadline(&chassis, &cockpit).await?;
    history_and_lifespan(&chassis, &cockpit).await?;
    chassis.close().await?;
    cockpit.close().await?;
    println!(
        "qos_deadline OK: deadline missed after silence, history for a late joiner, stale samples expired"
    );
    Ok(())
}

async fn deadline(chassis: &Node, cockpit: &Node) -> Result<()> {
    let topic = topics::chassis::SPEED;
    let deadline = topic.qos().deadline.ok_or("chassis/speed should have a deadline")?;
    println!("1. deadline: `{}` has a deadline of {deadline:?} (from vbus_period_ms: 20)", topic.key());
    let speed_rx = cockpit.subscriber(topic).create().await?;
    let mut speed_tx = chassis.publisher(topic).create().await?;
    if !speed_tx.wait_for_subscribers(WAIT).await {
        return Err(
            format!("timed out after {WAIT:?} waiting for the publisher to match the subscriber").into()
        );
    }

    const N: u64 = 25;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for i in 1..=N {
        tick.tick().await;
        speed_tx.publish(&VehicleSpeedT { kph: i as f32, odometer_m: 0.0 })?;
    }
    for _ in 1..=N {
        within("a speed sample", speed_rx.recv()).await??;
    }
    println!("   received {N} samples at 50 Hz; the publisher goes silent now");
    // The deadline clock starts with the subscription, so a miss may have been reported while
    // the nodes were still matching (or on a very busy machine). Look only at what follows.
    while let Some(ev) = speed_rx.try_next_event() {
        println!("   (earlier event: {ev})");
    }
    let missed_before = speed_rx.stats().deadline_missed;
    let ev = within("a DeadlineMissed event", speed_rx.next_event()).await??;
    println!("   event: {ev}");
    match ev {
        TopicEvent::DeadlineMissed { silent_for, .. } if silent_for >= deadline => {}
        other => {
            return Err(format!("expected DeadlineMissed after {deadline:?} of silence, got {other}").into());
        }
    }
    let missed = speed_rx.stats().deadline_missed;
    println!("   stats: deadline_missed {missed_before} -> {missed}");
    if missed <= missed_before {
        return Err("the deadline_missed counter did not grow".into());
    }
    Ok(())
}

async fn history_and_lifespan(chassis: &Node, cockpit: &Node) -> Result<()> {
    let topic = topics::powertrain::BATTERY;
    // This publisher keeps more than the schema asks for.
    let keep = topic.qos().history(5);
    println!(
        "2. history: `{}` keeps {} in the schema, this publisher keeps 5",
        topic.key(),
        topic.qos().history
    );
    let mut battery_tx = chassis.publisher(topic).qos(keep).create().await?;
    for seq in 1..=8 {
        battery_tx.publish(&battery(seq))?;
    }
    println!("   published 8 samples before anybody subscribed");

    // A late joiner with history: `create()` returns once the stored samples are queued. Right
    // after the nodes connected the publisher's history may not be routed yet: then nothing
    // comes back, and we subscribe again.
    let late = within("the stored samples", async {
        loop {
            let sub = cockpit.subscriber(topic).qos(keep).create().await?;
            if sub.queued() > 0 {
                return Ok::<_, vbus::Error>(sub);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await??;
    let mut got = Vec::new();
    while let Some(s) = late.try_recv() {
        println!(
            "   late joiner got seq {} soc {:.1} % ({:?} old)",
            s.seq(),
            s.view().soc_percent(),
            s.latency()
        );
        got.push((s.seq(), s.view().soc_percent()));
    }
    let want: Vec<(u64, f32)> = (4..=8).map(|s| (u64::from(s), battery(s).soc_percent)).collect();
    if got != want {
        return Err(format!("the late joiner got {got:?}, expected {want:?}").into());
    }
    drop(late);

    // Let the stored samples age past the lifespan we are about to ask for.
    let lifespan = Duration::from_millis(200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    println!("3. lifespan: a late joiner asking for samples at most {lifespan:?} old");
    let fresh_only = within("the stored samples", async {
        loop {
            let sub = cockpit.subscriber(topic).qos(keep.lifespan(lifespan)).create().await?;
            if sub.stats().expired > 0 {
                return Ok::<_, vbus::Error>(sub);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await??;
    let st = fresh_only.stats();
    println!(
        "   stored samples: expired={} delivered={} queued={}",
        st.expired,
        st.delivered,
        fresh_only.queued()
    );
    if st.expired != 5 || fresh_only.queued() != 0 {
        return Err(format!("expected the 5 stored samples to expire, stats {st:?}").into());
    }
    // A fresh sample does get through. Until the new subscription is routed to the publisher a
    // sample can miss it, so publish again until one arrives.
    let mut seq = 8;
    let fresh = within("a fresh sample", async {
        loop {
            seq += 1;
            battery_tx.publish(&battery(seq))?;
            if let Ok(s) = fresh_only.recv_timeout(Duration::from_millis(100)).await {
                return Ok::<_, vbus::PublishError>(s);
            }
        }
    })
    .await??;
    println!("   fresh sample seq {} delivered ({:?} old)", fresh.seq(), fresh.latency());
    if fresh.seq() <= 8 {
        return Err("a stored sample was delivered past its lifespan".into());
    }
    Ok(())
}
