//! Fields: a latest value with change notification (like SOME/IP fields), on the generated
//! topic `topics::body::DRIVE_MODE`.
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p vbus-examples --example fields
//! ```
//!
//! `chassis` owns the field (`Node::field_owner`) and sets it to `Normal` before anybody
//! follows it. `cockpit` joins late (`Node::field`): it gets the current value at once, from
//! the owner's history (the schema declares `vbus_history: 1` on `DriveModeState`; a field
//! keeps at least the latest value). Then the owner changes the value twice, and the follower
//! sees each change with `FieldClient::changed().await`, while `FieldClient::get()` always
//! returns the latest value without waiting.
//!
//! Exits 0 when the follower saw `Normal` (current value on joining), then `Sport`, then `Eco`,
//! each with who changed it; non-zero otherwise (or after a 20 s watchdog).

use std::time::Duration;
mod support;
use support::{Result, init_logging, two_nodes, within};

use vbus_examples::{
    demo::vehicle::{DriveMode, DriveModeStateT},
    topics,
};

fn state(mode: DriveMode, by: &str) -> DriveModeStateT {
    DriveModeStateT { mode, changed_by: Some(by.to_owned()) }
}

#[tokio::main]
async fn main() -> Result<()> {
    init_logging();
    let (chassis, cockpit) = two_nodes("fields", "chassis", "cockpit").await?;

    let mut owner = chassis.field_owner(topics::body::DRIVE_MODE).create().await?;
    owner.set(&state(DriveMode::Normal, "chassis"))?;
    println!("owner: set Normal (nobody follows the field yet)");

    // The late joiner. Joining asks the owner for its latest value; right after the nodes
    // connect, the owner's history may not be routed to us yet, so join again until it is.
    let mut follower = within("the current value of the field", async {
        loop {
            let f = cockpit.field_client(topics::body::DRIVE_MODE).create().await?;
            if f.get().is_some() {
                return Ok::<_, vbus::Error>(f);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await??;
    let mut seen = Vec::new();
    let current = follower.get().ok_or("no current value")?;
    println!(
        "follower joined: current value {:?} (changed by {:?}, seq {})",
        current.view().mode(),
        current.view().changed_by(),
        current.seq()
    );
    // The first `changed()` returns at once with the value already known.
    let first = within("the first value", follower.changed()).await??;
    seen.push((first.view().mode(), first.view().changed_by().unwrap_or("").to_owned()));

    // The owner only sends changes to followers it knows of. The follower's liveliness token is
    // declared after its subscription, so once the owner's node lists the follower, changes
    // reach it.
    within("the owner to see the follower", async {
        loop {
            let topics = chassis.topics().await?;
            if topics
                .iter()
                .any(|t| t.key == topics::body::DRIVE_MODE.key() && !t.publisher && t.node == "cockpit")
            {
                return Ok::<_, vbus::Error>(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await??;

    for (mode, by) in [(DriveMode::Sport, "cockpit"), (DriveMode::Eco, "chassis")] {
        owner.set(&state(mode, by))?;
        println!("owner: set {mode:?} (by {by})");
        let change = within("a change notification", follower.changed()).await??;
        let v = change.view();
        println!("follower: changed to {:?} by {:?} (seq {})", v.mode(), v.changed_by(), change.seq());
        seen.push((v.mode(), v.changed_by().unwrap_or("").to_owned()));
        // `get()` is the latest value, no waiting.
        let latest = follower.get().ok_or("no value")?;
        if latest.view().mode() != mode {
            return Err(format!("get() returned {:?}, expected {mode:?}", latest.view().mode()).into());
        }
    }

    let want = vec![
        (DriveMode::Normal, "chassis".to_owned()),
        (DriveMode::Sport, "cockpit".to_owned()),
        (DriveMode::Eco, "chassis".to_owned()),
    ];
    if seen != want {
        return Err(format!("the follower saw {seen:?}, expected {want:?}").into());
    }
    println!("owner sent={}  follower delivered={}", owner.stats().sent, follower.stats().delivered);
    drop((owner, follower));
    chassis.close().await?;
    cockpit.close().await?;
    println!("fields OK: the late joiner got the current value, then every change");
    Ok(())
}
