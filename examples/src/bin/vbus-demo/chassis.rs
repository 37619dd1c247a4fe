//! `chassis`: the chassis ECU (`vbus_demo_types::chassis`, which the CLI's tests run too) with
//! the demo's values: the speed from [`speed_at`] with the odometer integrating it, the battery's
//! state of charge from [`soc_at`]; it runs until the launcher closes its stdin.

use std::time::Duration;

use vbus::{Node, NodeConfig};
use vbus_demo_types::chassis::Chassis;
use vbus_examples::demo::vehicle::{BatteryStateT, VehicleSpeedT};

use crate::{soc_at, speed_at, until_stdin_closes};

pub async fn run() -> Result<(), String> {
    let node = Node::open(NodeConfig::named("chassis")).await.map_err(|e| e.to_string())?;
    let chassis = Chassis::open(&node).await?;
    // The launcher starts this ECU after its consumers are up, but a new node learns their
    // subscriptions from the router a moment after it opens: a sample published before that
    // reaches nobody. Start once the subscriptions are here (and a short settle for the rest of
    // the router's batch), so every consumer sees every sample from the first one.
    if !chassis.wait_for_subscribers(Duration::from_secs(20)).await {
        return Err("nobody subscribes to chassis/speed and powertrain/battery after 20 s".into());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!("up: publishing chassis/speed at 50 Hz, powertrain/battery at 10 Hz");

    let mut odometer = 0.0f64;
    let speed = |seq| {
        let kph = speed_at(seq);
        odometer += kph as f64 / 3.6 * 0.02;
        VehicleSpeedT { kph, odometer_m: odometer }
    };
    let battery = |n| BatteryStateT { soc_percent: soc_at(n), pack_voltage: 396.0, max_cell_temp_c: 31.5 };
    let (speed, battery) = chassis.run(speed, battery, until_stdin_closes()).await?;
    println!("sent speed={speed} battery={battery}");
    Ok(())
}
