//! Helper nodes that run in child processes (see `harness.rs`).

use vbus::Node;
use vbus_demo_types::{
    chassis::Chassis,
    demo::vehicle::{BatteryStateT, VehicleSpeedT},
    topics,
};
use vbus_test_support::child::{ChildEnv, forever};

/// The speed the chassis publishes with sequence number `seq` (tests check decoded values).
pub fn speed_of(seq: u64) -> VehicleSpeedT {
    VehicleSpeedT { kph: seq as f32 * 0.5, odometer_m: seq as f64 * 10.0 }
}

vbus_test_support::child_entry!(run);

async fn run(env: ChildEnv, node: Node) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    match env.role.as_str() {
        // The demo's chassis ECU (speed at 50 Hz, battery at 10 Hz, the drive-mode field and the
        // set-drive-mode service), publishing `speed_of(seq)` and a constant battery state.
        "chassis" => {
            let chassis = Chassis::open(&node).await?;
            println!("VBUS ready");
            let battery = |_| BatteryStateT { soc_percent: 80.0, pack_voltage: 396.0, max_cell_temp_c: 31.5 };
            chassis.run(speed_of, battery, async { _ = forever().await }).await?;
            Ok(())
        }
        // A typed subscriber of chassis/speed that prints what it receives.
        "listener" => {
            let sub = node.subscriber(topics::chassis::SPEED).create().await.map_err(|x| e(&x))?;
            let mut stop = std::pin::pin!(forever());
            println!("VBUS ready");
            loop {
                tokio::select! {
                    s = sub.recv() => {
                        let s = s.map_err(|x| e(&x))?;
                        let v = s.view();
                        println!("VBUS got {} {} {:016x}", v.kph(), v.odometer_m(), s.publisher_id());
                    }
                    _ = &mut stop => break,
                }
            }
            Ok(())
        }
        other => Err(format!("unknown role {other}")),
    }
}
