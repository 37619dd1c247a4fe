//! The demo's chassis ECU: `chassis/speed` at 50 Hz, `powertrain/battery` at 10 Hz, the
//! `body/drive_mode` field and the `body/set_drive_mode` service. The `vbus-demo` binary runs it
//! as its `chassis` process and the vbus-cli tests as their `chassis` child; each chooses the
//! values it publishes and when it stops.

use std::{future::Future, time::Duration};

use vbus::{FieldOwner, Node, Publisher, ServiceServer};

use crate::{
    demo::vehicle::{
        BatteryStateMsg, BatteryStateT, DriveMode, DriveModeStateMsg, DriveModeStateT, SetDriveModeMsg,
        SetDriveModeReplyMsg, SetDriveModeReplyT, VehicleSpeedMsg, VehicleSpeedT,
    },
    services, topics,
};

/// The chassis' publishers, its field and its service server, declared on a node.
pub struct Chassis {
    speed: Publisher<VehicleSpeedMsg>,
    battery: Publisher<BatteryStateMsg>,
    mode: FieldOwner<DriveModeStateMsg>,
    server: ServiceServer<SetDriveModeMsg, SetDriveModeReplyMsg>,
}

impl Chassis {
    /// Declare everything on `node`; the drive mode starts at `Normal`, changed by `chassis`.
    pub async fn open(node: &Node) -> Result<Self, String> {
        let e = |e: vbus::Error| e.to_string();
        let speed = node.publisher(topics::chassis::SPEED).create().await.map_err(e)?;
        let battery = node.publisher(topics::powertrain::BATTERY).create().await.map_err(e)?;
        let mut mode = node.field_owner(topics::body::DRIVE_MODE).create().await.map_err(e)?;
        mode.set(&DriveModeStateT { mode: DriveMode::Normal, changed_by: Some("chassis".into()) })
            .map_err(|e| e.to_string())?;
        let server = node.service_server(services::body::SET_DRIVE_MODE).create().await.map_err(e)?;
        Ok(Self { speed, battery, mode, server })
    }

    /// Whether both `chassis/speed` and `powertrain/battery` have a subscriber (waiting at most
    /// `timeout` for each).
    pub async fn wait_for_subscribers(&self, timeout: Duration) -> bool {
        self.speed.wait_for_subscribers(timeout).await && self.battery.wait_for_subscribers(timeout).await
    }

    /// Run until `stop` completes (or the service server closes): every 20 ms tick `n` (from 1)
    /// publishes `speed(n)`, every fifth tick also `battery(n / 5)`; a `set_drive_mode` request
    /// sets the field and is accepted, unless it has no `requested_by`. Returns how many speed
    /// and battery samples were sent.
    pub async fn run(
        mut self,
        mut speed: impl FnMut(u64) -> VehicleSpeedT,
        mut battery: impl FnMut(u64) -> BatteryStateT,
        stop: impl Future<Output = ()>,
    ) -> Result<(u64, u64), String> {
        let e = |e: vbus::PublishError| e.to_string();
        let mut stop = std::pin::pin!(stop);
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut seq = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    seq += 1;
                    self.speed.publish(&speed(seq)).map_err(e)?;
                    if seq.is_multiple_of(5) {
                        self.battery.publish(&battery(seq / 5)).map_err(e)?;
                    }
                }
                req = self.server.recv() => {
                    let Ok(req) = req else { break };
                    let sample = req.sample();
                    let ask = sample.view();
                    let who = ask.requested_by().unwrap_or("").to_owned();
                    if who.is_empty() {
                        req.reply(&SetDriveModeReplyT { accepted: false, reason: Some("requested_by is required".into()) })
                            .map_err(e)?;
                    } else {
                        let new_mode = ask.mode();
                        self.mode.set(&DriveModeStateT { mode: new_mode, changed_by: Some(who.clone()) }).map_err(e)?;
                        req.reply(&SetDriveModeReplyT { accepted: true, reason: None }).map_err(e)?;
                        println!("drive mode -> {new_mode:?} (asked by {who})");
                    }
                }
                () = &mut stop => break,
            }
        }
        Ok((self.speed.stats().sent, self.battery.stats().sent))
    }
}
