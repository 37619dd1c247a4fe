//! Helper nodes that run in child processes (see `harness.rs`).

use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use vbus::Node;
use vbus_examples::{
    demo::vehicle::{BatteryStateT, DriveMode, DriveModeStateT, SetDriveModeReplyT, VehicleSpeedT},
    services, topics,
};
use vbus_test_support::child::ChildEnv;

/// The speed the chassis publishes with sequence number `seq` (tests check decoded values).
pub fn speed_of(seq: u64) -> VehicleSpeedT {
    VehicleSpeedT { kph: seq as f32 * 0.5, odometer_m: seq as f64 * 10.0 }
}

vbus_test_support::child_entry!(run);

async fn run(env: ChildEnv, node: Node) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    match env.role.as_str() {
        // The demo's chassis ECU: speed at 50 Hz, battery at 10 Hz, the drive-mode field and
        // the set-drive-mode service.
        "chassis" => {
            let mut speed = node.publisher(topics::chassis::SPEED).create().map_err(|x| e(&x))?;
            let mut battery = node.publisher(topics::powertrain::BATTERY).create().map_err(|x| e(&x))?;
            let mut mode = node.field_owner(topics::body::DRIVE_MODE).map_err(|x| e(&x))?;
            mode.set(&DriveModeStateT { mode: DriveMode::Normal, changed_by: Some("chassis".into()) })
                .map_err(|x| e(&x))?;
            let server = node.service_server(services::body::SET_DRIVE_MODE).map_err(|x| e(&x))?;
            println!("VBUS ready");
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let mut seq = 0u64;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        seq += 1;
                        speed.publish(&speed_of(seq)).map_err(|x| e(&x))?;
                        if seq.is_multiple_of(5) {
                            battery.publish(&BatteryStateT { soc_percent: 80.0, pack_voltage: 396.0, max_cell_temp_c: 31.5 })
                                .map_err(|x| e(&x))?;
                        }
                    }
                    req = server.recv() => {
                        let Ok(req) = req else { break };
                        let sample = req.sample();
                        let ask = sample.view();
                        let who = ask.requested_by().unwrap_or("").to_owned();
                        if who.is_empty() {
                            req.reply(&SetDriveModeReplyT { accepted: false, reason: Some("requested_by is required".into()) })
                                .map_err(|x| e(&x))?;
                        } else {
                            mode.set(&DriveModeStateT { mode: ask.mode(), changed_by: Some(who) }).map_err(|x| e(&x))?;
                            req.reply(&SetDriveModeReplyT { accepted: true, reason: None }).map_err(|x| e(&x))?;
                        }
                    }
                    line = stdin.next_line() => if !matches!(line, Ok(Some(_))) { break },
                }
            }
            Ok(())
        }
        // A typed subscriber of chassis/speed that prints what it receives.
        "listener" => {
            let sub = node.subscriber(topics::chassis::SPEED).create().await.map_err(|x| e(&x))?;
            println!("VBUS ready");
            loop {
                tokio::select! {
                    s = sub.recv() => {
                        let s = s.map_err(|x| e(&x))?;
                        let v = s.view();
                        println!("VBUS got {} {} {:016x}", v.kph(), v.odometer_m(), s.publisher_id());
                    }
                    line = stdin.next_line() => if !matches!(line, Ok(Some(_))) { break },
                }
            }
            Ok(())
        }
        other => Err(format!("unknown role {other}")),
    }
}
