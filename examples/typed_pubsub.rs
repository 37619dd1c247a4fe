//! Typed publish/subscribe with the topics generated from `examples/schemas/vehicle.fbs`.
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p vbus-examples --example typed_pubsub
//! ```
//!
//! Two nodes in this process, on loopback in a domain of their own: `chassis` listens on an
//! ephemeral port, `cockpit` connects to it. `chassis` publishes 10 speeds on
//! `topics::chassis::SPEED` (key `chassis/speed`, type `demo.vehicle.VehicleSpeed`); `cockpit`
//! receives them with `recv().await` and prints, for each sample, its metadata (sequence number,
//! publisher id, source time in seconds since the UNIX epoch, latency) and the value read through the zero-copy view: the view
//! reads the received FlatBuffers bytes in place, after the bus verified them on receipt.
//!
//! Exits 0 when every sample arrived once, in order, from that publisher, with its value;
//! non-zero otherwise (or after a 20 s watchdog).

mod support;
use support::{Result, WAIT, init_logging, two_nodes, within};

use vbus_examples::{
    demo::vehicle::{VehicleSpeed, VehicleSpeedArgs, VehicleSpeedT},
    topics,
};

/// Samples published.
const N: u64 = 10;

/// Deterministic value of sample `seq`, so the receiver can check every one.
fn kph(seq: u64) -> f32 {
    40.0 + 2.5 * seq as f32
}

#[tokio::main]
async fn main() -> Result<()> {
    init_logging();
    let (chassis, cockpit) = two_nodes("pubsub", "chassis", "cockpit").await?;

    // The subscriber first, so it sees everything from the first sample on.
    let speed_rx = cockpit.subscriber(topics::chassis::SPEED).create().await?;
    let mut speed_tx = chassis.publisher(topics::chassis::SPEED).create().await?;
    println!("topic {:?}", topics::chassis::SPEED);
    if !speed_tx.wait_for_subscribers(WAIT).await {
        return Err(
            format!("timed out after {WAIT:?} waiting for the publisher to match the subscriber").into()
        );
    }

    for seq in 1..=N {
        let odometer_m = seq as f64 * 10.0;
        if seq < N {
            // The object-API struct codegen implements `Pack` for.
            speed_tx.publish(&VehicleSpeedT { kph: kph(seq), odometer_m })?;
        } else {
            // Or built in place with flatc's builder API (the publisher reuses its builder).
            speed_tx.publish_with(|fbb| {
                VehicleSpeed::create(fbb, &VehicleSpeedArgs { kph: kph(seq), odometer_m })
            })?;
        }
    }
    println!("chassis published {N} samples as publisher {:016x}", speed_tx.id());

    for expected in 1..=N {
        let sample = within("the next speed sample", speed_rx.recv()).await??;
        let view = sample.view(); // `VehicleSpeed<'_>`, borrowing the sample's bytes
        // Zero copy: the view's table lives inside the received payload.
        let in_place = std::ptr::eq(view._tab.buf().as_ptr(), sample.bytes().as_ptr());
        let t = sample.source_time_ns();
        println!(
            "seq {:2}  {:5.1} km/h  odometer {:5.1} m  from {:016x}  sent at {}.{:06} s  latency {:?}  \
             ({} bytes, read in place: {in_place})",
            sample.seq(),
            view.kph(),
            view.odometer_m(),
            sample.publisher_id(),
            t / 1_000_000_000,
            t % 1_000_000_000 / 1000,
            sample.latency(),
            sample.bytes().len(),
        );
        if sample.seq() != expected {
            return Err(format!("expected seq {expected}, received {}", sample.seq()).into());
        }
        if sample.publisher_id() != speed_tx.id() {
            return Err(format!("sample from unknown publisher {:016x}", sample.publisher_id()).into());
        }
        if view.kph() != kph(expected) || view.odometer_m() != expected as f64 * 10.0 {
            return Err(format!("seq {expected}: wrong value {} km/h", view.kph()).into());
        }
        if !in_place {
            return Err("the view does not read the received bytes in place".into());
        }
    }

    let (sent, got) = (speed_tx.stats(), speed_rx.stats());
    println!(
        "publisher: sent={}  subscriber: delivered={} lost={} rejected={} mismatched={}",
        sent.sent, got.delivered, got.lost, got.rejected, got.mismatched
    );
    if sent.sent != N || got.delivered != N || got.lost + got.rejected + got.mismatched != 0 {
        return Err(format!("counters disagree: publisher {sent:?}, subscriber {got:?}").into());
    }
    drop((speed_tx, speed_rx));
    chassis.close().await?;
    cockpit.close().await?;
    println!("typed_pubsub OK: {N} typed samples published and received in order");
    Ok(())
}
