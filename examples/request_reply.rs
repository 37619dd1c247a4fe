//! Request/reply with the generated service `services::body::SET_DRIVE_MODE`.
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p vbus-examples --example request_reply
//! ```
//!
//! The schema (`examples/schemas/vehicle.fbs`) declares the service on the request table:
//! `table SetDriveMode (vbus_service: "body/set_drive_mode", vbus_reply: "SetDriveModeReply",
//! vbus_timeout_ms: 1000)`; codegen turns that into a typed `Service<SetDriveModeMsg,
//! SetDriveModeReplyMsg>` constant with a 1 s default timeout.
//!
//! Two nodes in this process on loopback: `chassis` serves the service, `cockpit` calls it.
//! What is shown, in order:
//! 1. a call before any server exists fails at once with `CallError::NoServer`;
//! 2. the server accepts a request (`accepted: true` in the typed reply);
//! 3. it answers a request without `requested_by` with `accepted: false` and a reason (an
//!    application-level "no", still a reply);
//! 4. it refuses a request outright with `Request::refuse` (the caller gets
//!    `CallError::Refused` with the server's reason): the valet may not select Sport;
//! 5. it holds a request without answering, so the caller's 300 ms timeout expires
//!    (`CallError::Timeout`).
//!
//! Exits 0 when each call ends exactly as described; non-zero otherwise (or after a 20 s
//! watchdog). The expired query of step 5 and the server's late answer to it make zenoh log
//! warnings on stderr; that is expected here.

use std::time::Duration;
mod support;
use support::{Result, init_logging, two_nodes, within};

use vbus::CallError;
use vbus_examples::{
    demo::vehicle::{DriveMode, SetDriveModeReplyT, SetDriveModeT},
    services,
};

fn ask(mode: DriveMode, by: &str) -> SetDriveModeT {
    SetDriveModeT { mode, requested_by: (!by.is_empty()).then(|| by.to_owned()) }
}

#[tokio::main]
async fn main() -> Result<()> {
    init_logging();
    let (chassis, cockpit) = two_nodes("service", "chassis", "cockpit").await?;
    println!("service {:?}", services::body::SET_DRIVE_MODE);
    let client = cockpit.service_client(services::body::SET_DRIVE_MODE).create().await?;

    // 1. Nobody serves the key yet.
    match client.call(&ask(DriveMode::Sport, "cockpit")).await {
        Err(e @ CallError::NoServer { .. }) => println!("1. before the server exists: {e}"),
        other => return Err(format!("1. expected NoServer, got {other:?}").into()),
    }

    // The server: a task answering requests one after the other.
    let server = chassis.service_server(services::body::SET_DRIVE_MODE).create().await?;
    let server_task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok(request) = server.recv().await {
            let sample = request.sample(); // the verified request, read in place
            let (mode, who) = (sample.view().mode(), sample.view().requested_by().unwrap_or("").to_owned());
            println!("   [server] request seq {}: {mode:?} asked by {who:?}", sample.seq());
            match who.as_str() {
                "" => request.reply(&SetDriveModeReplyT {
                    accepted: false,
                    reason: Some("requested_by is required".into()),
                })?,
                "valet" if mode == DriveMode::Sport => request.refuse("valet mode: Sport is not allowed"),
                // Kept unanswered: the caller's timeout expires first. (Dropping a request
                // unanswered would refuse it at once instead.)
                "slowpoke" => held.push(request),
                _ => request.reply(&SetDriveModeReplyT { accepted: true, reason: None })?,
            }
        }
        Ok::<_, vbus::PublishError>(())
    });

    // 2. The server's queryable takes a moment to be routed to the client: retry while the
    //    bus still says there is no server (a client starting before its server does the same).
    let reply = within("the server to be reachable", async {
        loop {
            match client.call(&ask(DriveMode::Sport, "cockpit")).await {
                Err(CallError::NoServer { .. }) => tokio::time::sleep(Duration::from_millis(20)).await,
                other => return other,
            }
        }
    })
    .await??;
    let v = reply.view();
    println!(
        "2. Sport asked by cockpit -> accepted={} reason={:?} (reply seq {})",
        v.accepted(),
        v.reason(),
        reply.seq()
    );
    if !v.accepted() {
        return Err("2. expected the request to be accepted".into());
    }

    // 3. A typed "no".
    let reply = client.call(&ask(DriveMode::Eco, "")).await?;
    let v = reply.view();
    println!("3. Eco asked by nobody -> accepted={} reason={:?}", v.accepted(), v.reason());
    if v.accepted() || v.reason() != Some("requested_by is required") {
        return Err("3. expected accepted=false with the server's reason".into());
    }

    // 4. Refused by the server.
    match client.call(&ask(DriveMode::Sport, "valet")).await {
        Err(e @ CallError::Refused { .. }) if e.to_string().contains("valet mode") => println!("4. {e}"),
        other => return Err(format!("4. expected Refused, got {other:?}").into()),
    }

    // 5. No answer in time: an explicit 300 ms timeout instead of the service's 1 s default.
    let slow = ask(DriveMode::Normal, "slowpoke");
    match client.call_with(|fbb| slow.pack(fbb), Duration::from_millis(300)).await {
        Err(e @ CallError::Timeout { after, .. }) if after == Duration::from_millis(300) => {
            println!("5. {e}")
        }
        other => return Err(format!("5. expected Timeout, got {other:?}").into()),
    }

    if server_task.is_finished() {
        server_task.await??;
        return Err("the server stopped early".into());
    }
    let st = client.stats();
    println!("client: calls sent={} valid replies={}", st.sent, st.delivered);
    // The caller goes first: the request the server still holds is refused when the server
    // stops, and that late answer then has nobody to go to.
    drop(client);
    cockpit.close().await?;
    server_task.abort();
    let _ = server_task.await;
    chassis.close().await?;
    println!("request_reply OK: no server, accepted, typed refusal, refused, timeout");
    Ok(())
}
