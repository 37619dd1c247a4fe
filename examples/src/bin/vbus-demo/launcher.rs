//! `run` (the default): the gateway router, then every ECU as a process of this binary, and the
//! verdict from their summaries.

use std::{process::Stdio, time::Duration};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use vbus::{Node, NodeConfig};

use crate::{RUN_SECONDS, demo_dir};

pub async fn run() -> Result<(), String> {
    println!(
        "vbus demo: a router and the ECU processes (cockpit, cloud, chassis, CAN, and the C++ cluster when built) on loopback (default endpoint {})",
        vbus::DEFAULT_ROUTER_ENDPOINT
    );
    let gateway =
        Node::open(NodeConfig::from_json5("{ name: 'gateway', mode: 'router' }").map_err(|e| e.to_string())?)
            .await
            .map_err(|e| {
                format!(
                    "{e}\n(is another vbus router or zenohd already using {}?)",
                    vbus::DEFAULT_ROUTER_ENDPOINT
                )
            })?;
    let watcher = gateway.watch_nodes().await.map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // `--realtime`: the CAN capture at its real pace (22 s), time enough to look with the CLI.
    let can_rate = if std::env::args().any(|a| a == "--realtime") { "1" } else { "4" };
    let dir = demo_dir();
    // A fresh uplink file and queue for each run, so the counts below are this run's.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let spawn = |role: &str| {
        tokio::process::Command::new(&exe)
            .arg(role)
            .arg(&dir)
            .env("VBUS_DEMO_CAN_RATE", can_rate)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the {role} process: {e}"))
    };
    let mut cockpit = spawn("cockpit")?;
    let relay = |name: &'static str,
                 out: tokio::process::ChildStdout,
                 ready: Option<tokio::sync::oneshot::Sender<()>>| {
        tokio::spawn(async move {
            let mut lines = BufReader::new(out).lines();
            let mut last = String::new();
            let mut ready = ready;
            while let Ok(Some(l)) = lines.next_line().await {
                println!("[{name}] {l}");
                if l == "ready"
                    && let Some(r) = ready.take()
                {
                    let _ = r.send(());
                }
                last = l;
            }
            last
        })
    };
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let cockpit_out = relay("cockpit", cockpit.stdout.take().expect("piped"), Some(ready_tx));
    let mut cloud = spawn("cloud")?;
    let (cloud_ready_tx, cloud_ready_rx) = tokio::sync::oneshot::channel();
    let cloud_out = relay("cloud", cloud.stdout.take().expect("piped"), Some(cloud_ready_tx));
    // Start the sources once the cockpit and the cloud bridge listen, so they see everything
    // from the first sample.
    let ready = |who: &'static str, rx: tokio::sync::oneshot::Receiver<()>| async move {
        tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .map_err(|_| format!("the {who} did not get ready"))?
            .map_err(|_| format!("the {who} exited before getting ready"))
    };
    ready("cockpit", ready_rx).await?;
    ready("cloud bridge", cloud_ready_rx).await?;
    // With DDS: the vbus-dds bridge, then a plain DDS ECU that reads what it mirrors.
    let mut dds = Vec::new();
    if cfg!(feature = "dds") {
        for (role, who) in [("dds", "DDS bridge"), ("dds-ecu", "DDS ECU")] {
            let mut child = spawn(role)?;
            let (tx, rx) = tokio::sync::oneshot::channel();
            let out = relay(
                if role == "dds" { "dds" } else { "dds-ecu" },
                child.stdout.take().expect("piped"),
                Some(tx),
            );
            ready(who, rx).await?;
            dds.push((role, child, out));
        }
    }
    // With the C++ SDK built (scripts/demo.sh does it): the instrument cluster, a C++ ECU.
    let mut cluster = None;
    if let Some(exe) = std::env::var_os("VBUS_DEMO_CPP_CLUSTER") {
        let mut child = tokio::process::Command::new(&exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the C++ cluster {}: {e}", exe.to_string_lossy()))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let out = relay("cluster", child.stdout.take().expect("piped"), Some(tx));
        ready("C++ cluster", rx).await?;
        cluster = Some((child, out));
    }
    let mut chassis = spawn("chassis")?;
    let chassis_out = relay("chassis", chassis.stdout.take().expect("piped"), None);
    let mut can = spawn("can")?;
    let can_out = relay("can", can.stdout.take().expect("piped"), None);
    let nodes = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(ev) = watcher.recv().await {
            println!("[gateway] node {ev:?}");
            seen.push(ev);
        }
        seen
    });

    let (cockpit_status, cockpit_summary) =
        finish(cockpit, cockpit_out, false, RUN_SECONDS + 30, "the cockpit did not finish within its time")
            .await?;
    // Closing the chassis' stdin asks it to finish and report what it sent.
    let (chassis_status, chassis_summary) =
        finish(chassis, chassis_out, true, 10, "the chassis did not stop").await?;
    let (can_status, can_summary) =
        finish(can, can_out, false, 30, "the CAN bridge did not finish its replay").await?;
    // Every source has stopped: let the last samples reach the cloud bridge, then stop it (it
    // commits what it received and uploads it before exiting).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cluster_result = match cluster {
        Some((child, out)) => Some(finish(child, out, true, 10, "the C++ cluster did not stop").await?),
        None => None,
    };
    let mut dds_summaries = Vec::new();
    for (role, child, out) in dds {
        let (status, summary) =
            finish(child, out, true, 30, &format!("the {role} process did not stop")).await?;
        dds_summaries.push((role, status, summary));
    }
    let (cloud_status, cloud_summary) =
        finish(cloud, cloud_out, true, 30, "the cloud bridge did not stop").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    nodes.abort();

    println!("---");
    println!("chassis: {chassis_summary}");
    println!("can: {can_summary}");
    println!("cockpit: {cockpit_summary}");
    println!("cloud: {cloud_summary}");
    // With DDS: the DDS ECU received every speed sample the chassis sent, through the bridge.
    let mut dds_ok = true;
    for (role, status, summary) in &dds_summaries {
        println!("{role}: {summary}");
        dds_ok &= status.success();
    }
    if let [(_, _, bridge), (_, _, ecu)] = dds_summaries.as_slice() {
        let sent = field(&chassis_summary, "speed");
        let (to_dds, received) = (field(bridge, "to_dds"), field(ecu, "received"));
        if sent.is_none() || to_dds != sent || received != sent {
            println!("dds: chassis sent {sent:?}, bridged {to_dds:?}, DDS ECU received {received:?}");
            dds_ok = false;
        }
    }
    // The C++ cluster got every speed sample the chassis sent, each with its value.
    let mut cluster_ok = true;
    if let Some((status, summary)) = &cluster_result {
        println!("cluster (C++): {summary}");
        let (sent, got) = (field(&chassis_summary, "speed"), field(summary, "speed"));
        cluster_ok = status.success() && sent.is_some() && got == sent && field(summary, "bad") == Some(0);
        if !cluster_ok {
            println!("cluster: received {got:?} of {sent:?} speed samples ({summary}, {status})");
        }
    }
    // Every battery sample the chassis sent went up through the `battery` rule.
    let sent = field(&chassis_summary, "battery");
    let uploaded = field(&cloud_summary, "battery");
    let cloud_ok = sent.is_some() && sent == uploaded;
    if !cloud_ok {
        println!("cloud: uploaded battery samples {uploaded:?} != sent {sent:?}");
    }
    if cockpit_status.success()
        && chassis_status.success()
        && can_status.success()
        && cloud_status.success()
        && cloud_ok
        && dds_ok
        && cluster_ok
    {
        let n = 5 + 2 * dds_summaries.len().min(1) + usize::from(cluster_result.is_some());
        let processes = ["five", "six", "seven", "eight"][n - 5];
        let dds = if dds_summaries.is_empty() { "" } else { " and into DDS" };
        let cpp = if cluster_result.is_some() { " (Rust and C++)" } else { "" };
        println!(
            "demo OK: typed data, a service call, a field change and a CAN capture crossed {processes} processes{cpp}, \
             and went up to the cloud{dds}"
        );
        Ok(())
    } else {
        Err(format!(
            "demo FAILED (chassis {chassis_status}, can {can_status}, cockpit {cockpit_status}, cloud {cloud_status})"
        ))
    }
}

/// Wait (at most `secs`) for an ECU process to exit, after closing its stdin when `close_stdin`
/// (how the launcher asks it to finish); returns its status and its last line (the summary).
async fn finish(
    mut child: tokio::process::Child,
    out: tokio::task::JoinHandle<String>,
    close_stdin: bool,
    secs: u64,
    timeout_message: &str,
) -> Result<(std::process::ExitStatus, String), String> {
    if close_stdin && let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.shutdown().await;
    }
    let status = tokio::time::timeout(Duration::from_secs(secs), child.wait())
        .await
        .map_err(|_| timeout_message.to_string())?
        .map_err(|e| e.to_string())?;
    Ok((status, out.await.unwrap_or_default()))
}

/// The number after `name=` in a summary line.
fn field(line: &str, name: &str) -> Option<u64> {
    line.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}
