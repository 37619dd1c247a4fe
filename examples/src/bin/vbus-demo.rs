//! The vbus demo: separate processes exchanging typed data over the bus, on embedded defaults.
//!
//! Run it with `scripts/demo.sh` (installs what is needed, builds, runs), or
//! `cargo run --release -p vbus-examples --bin vbus-demo`. With `--realtime` the CAN capture
//! plays at its real pace (22 s instead of ~6 s): time to look at the bus with the `vbus` CLI.
//!
//! What happens: this process starts a zenoh router node ("gateway") on the default endpoint
//! `tcp/127.0.0.1:7447`, then starts more processes of this same binary as vehicle ECUs with the
//! default node configuration (peers that find each other through that router):
//! - `cockpit` subscribes to everything below, prints a dashboard line twice a second, asks for
//!   sport mode half way, and checks what it receives;
//! - `cloud` is the cloud bridge (`vbus-cloud`'s library) with four collection rules, uploading
//!   to a local file sink (`$TMPDIR/vbus-demo/uplink.jsonl`, JSON Lines) instead of an MQTT
//!   broker, through its durable queue; at the end it reads the file back and counts;
//! - `chassis` publishes `chassis/speed` at 50 Hz and `powertrain/battery` at 10 Hz, owns the
//!   `body/drive_mode` field and serves `body/set_drive_mode`;
//! - `can` is the CAN bridge (`vbus-can`'s library) replaying a real Tesla Model 3 capture
//!   (`testdata/logs/real`) with its DBC, 4x faster than real time: every frame becomes a typed
//!   sample on `can/model3/<Message>`, which the cockpit reads with types generated from the
//!   same DBC.
//!
//! The run succeeds (exit 0) when the cockpit received every speed sample the chassis sent
//! between the first and the last one it saw, with no wrong value, the mode change went through
//! the service and the field, every CAN frame the bridge published reached the cockpit, and
//! every battery sample went up to the cloud.

use std::{
    process::{ExitCode, Stdio},
    time::{Duration, Instant},
};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use vbus::{Node, NodeConfig, TopicEvent};
use vbus_examples::{
    demo::vehicle::{
        BatteryStateT, DriveMode, DriveModeStateT, SetDriveModeReplyT, SetDriveModeT, VehicleSpeedT,
    },
    model3::topics::can::model3 as can_topics,
    services, topics,
};

const RUN_SECONDS: u64 = 4;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut role = std::env::args().nth(1).unwrap_or_else(|| "run".into());
    if role == "--realtime" {
        role = "run".into();
    }
    let result = match role.as_str() {
        "run" => launcher().await,
        "chassis" => chassis().await,
        "cockpit" => cockpit().await,
        "can" => {
            can_bridge(std::env::args().nth(2).unwrap_or_else(|| demo_dir().display().to_string())).await
        }
        #[cfg(feature = "dds")]
        "dds" => dds::bridge().await,
        #[cfg(feature = "dds")]
        "dds-ecu" => dds::ecu().await,
        "cloud" => {
            cloud_bridge(std::env::args().nth(2).unwrap_or_else(|| demo_dir().display().to_string())).await
        }
        other => Err(format!(
            "unknown role `{other}`; use `run` (default), or one ECU: `chassis`, `cockpit`, `can`, `cloud`"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("[{role}] error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Deterministic speed for sequence number `seq`, so the cockpit can check every value.
fn speed_at(seq: u64) -> f32 {
    (60.0 + 40.0 * (seq as f64 / 40.0).sin()) as f32
}

fn soc_at(seq: u64) -> f32 {
    80.0 - seq as f32 * 0.01
}

async fn launcher() -> Result<(), String> {
    println!(
        "vbus demo: a router and four ECU processes (cockpit, cloud, chassis, CAN) on loopback (default endpoint {})",
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
    {
        let processes = if dds_summaries.is_empty() { "five" } else { "seven" };
        let dds = if dds_summaries.is_empty() { "" } else { " and into DDS" };
        println!(
            "demo OK: typed data, a service call, a field change and a CAN capture crossed {processes} processes, \
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

/// Where the cloud bridge's uplink file and queue go (the same path every run, so the README can
/// point at it; the launcher empties it first).
fn demo_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("vbus-demo")
}

/// The number after `name=` in a summary line.
fn field(line: &str, name: &str) -> Option<u64> {
    line.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

/// The cloud bridge (`vbus-cloud`'s library) with collection rules, uploading to a local file
/// sink (no broker to start: with `mqtt.host` set it would be any MQTT broker instead).
async fn cloud_bridge(dir: String) -> Result<(), String> {
    let sink = std::path::Path::new(&dir).join("uplink.jsonl");
    let config = vbus_cloud::Config::from_json5(&format!(
        "{{ node: {{ name: 'cloud' }}, stats_period_ms: 500,
            file_sink: {{ path: {sink:?} }}, queue: {{ path: {queue:?} }},
            rules: [
              // Every battery sample, important (0 is the most important priority).
              {{ name: 'battery', keys: 'powertrain/battery', mode: 'all', priority: 2 }},
              // The vehicle speed downsampled to 1 Hz.
              {{ name: 'speed-1hz', keys: 'chassis/speed', mode: 'periodic', period_ms: 1000, priority: 5 }},
              // Speed at full rate while above 95 km/h, with 200 ms before and after.
              {{ name: 'fast', keys: 'chassis/speed', mode: 'window', priority: 1, before_ms: 200, after_ms: 200,
                 condition: {{ key: 'chassis/speed', field: 'kph', op: '>', value: 95 }} }},
              // The car's own CAN speed message, 2 Hz.
              {{ name: 'can-speed', keys: 'can/model3/ID257DIspeed', mode: 'periodic', period_ms: 500, priority: 6 }},
              // The car's state of charge when it changes by more than 5 % (read through the schema the CAN
              // bridge serves for the DBC's messages).
              {{ name: 'can-soc', keys: 'can/model3/ID33AUI_rangeSOC', mode: 'on_change', field: 'ui_soc',
                 deadband: 5, priority: 4 }},
            ] }}",
        queue = std::path::Path::new(&dir).join("queue.sqlite"),
    ))
    .map_err(|e| e.to_string())?;
    let bridge = vbus_cloud::Bridge::start(config).await.map_err(|e| e.to_string())?;
    println!(
        "up: rules battery (all), speed-1hz (periodic), fast (window kph > 95), can-speed (periodic), \
         can-soc (on change) -> {}",
        sink.display()
    );
    println!("ready");
    // Run until the launcher closes stdin.
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut progress = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            line = stdin.next_line() => if !matches!(line, Ok(Some(_))) { break },
            _ = progress.tick() => {
                let st = bridge.stats();
                println!("received={} accepted={} uploaded={} queued={}", st.received, st.accepted, st.uplink.samples_acked, st.queue.records);
            }
        }
    }
    let stats = bridge.shutdown().await.map_err(|e| e.to_string())?;
    // Read back what reached the "cloud": the file sink, one batch per line.
    let text = std::fs::read(&sink).map_err(|e| format!("{}: {e}", sink.display()))?;
    let mut per_rule = std::collections::BTreeMap::<String, u64>::new();
    let (mut batches, mut samples) = (0u64, 0u64);
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let batch = vbus_cloud::format::decode_batch(line).map_err(|e| format!("{}: {e}", sink.display()))?;
        batches += 1;
        for s in &batch.samples {
            samples += 1;
            *per_rule.entry(s.rule.clone()).or_default() += 1;
        }
    }
    let rules: Vec<String> = per_rule.iter().map(|(r, n)| format!("{r}={n}")).collect();
    println!(
        "uploaded={samples} in batches={batches} ({}) acked={} queued={} dropped={} file={}",
        rules.join(", "),
        stats.uplink.samples_acked,
        stats.queue.records,
        stats.queue.dropped,
        sink.display()
    );
    if samples == stats.uplink.samples_acked && stats.queue.records == 0 && stats.queue.dropped == 0 {
        Ok(())
    } else {
        Err("the uplink file does not hold every accepted sample".into())
    }
}

/// The CAN bridge, as the `vbus-can` daemon runs it, replaying the real capture.
async fn can_bridge(dir: String) -> Result<(), String> {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata");
    // The schema codegen generated from the same DBC (what `vbus-codegen dbc` writes next to a
    // deployed bridge): the bridge serves it, so tools decode the CAN topics without our types.
    let rate: f64 = std::env::var("VBUS_DEMO_CAN_RATE").ok().and_then(|r| r.parse().ok()).unwrap_or(4.0);
    let schema = std::path::Path::new(&dir).join("model3.bfbs");
    std::fs::write(&schema, vbus_examples::model3::SCHEMA_BFBS)
        .map_err(|e| format!("{}: {e}", schema.display()))?;
    let config = vbus_can::Config::from_json5(
        &format!(
            "{{ node: {{ name: 'can-bridge' }}, stats_period_ms: 250, exit_at_end: true,
                buses: [{{ name: 'model3', dbc: '{data}/dbc/kuksa/Model3CAN.dbc', schema: {schema:?}, congestion: 'block',
                           source: {{ kind: 'candump', path: '{data}/logs/real/tesla_model3_kuksa_dogmode.log',
                                      realtime: true, rate: {rate} }} }}] }}"
        ),
        std::path::Path::new("."),
    )?;
    println!("up: replaying the Tesla Model 3 capture (12138 frames, 22 s) at {rate}x");
    let stats = vbus_can::run(config, std::future::pending()).await?;
    let s = &stats[0];
    println!(
        "frames={} published={} unknown={} decode_errors={}",
        s.frames, s.published, s.unknown_frames, s.decode_errors
    );
    Ok(())
}

async fn chassis() -> Result<(), String> {
    let node = Node::open(NodeConfig::named("chassis")).await.map_err(|e| e.to_string())?;
    let mut speed = node.publisher(topics::chassis::SPEED).create().map_err(|e| e.to_string())?;
    let mut battery = node.publisher(topics::powertrain::BATTERY).create().map_err(|e| e.to_string())?;
    let mut mode = node.field_owner(topics::body::DRIVE_MODE).map_err(|e| e.to_string())?;
    mode.set(&DriveModeStateT { mode: DriveMode::Normal, changed_by: Some("chassis".into()) })
        .map_err(|e| e.to_string())?;
    let server = node.service_server(services::body::SET_DRIVE_MODE).map_err(|e| e.to_string())?;
    // The launcher starts this ECU after its consumers are up, but a new node learns their
    // subscriptions from the router a moment after it opens: a sample published before that
    // reaches nobody. Start once the subscriptions are here (and a short settle for the rest of
    // the router's batch), so every consumer sees every sample from the first one.
    let wait = Duration::from_secs(20);
    if !(speed.wait_for_subscribers(wait).await && battery.wait_for_subscribers(wait).await) {
        return Err("nobody subscribes to chassis/speed and powertrain/battery after 20 s".into());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!("up: publishing chassis/speed at 50 Hz, powertrain/battery at 10 Hz");

    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut seq = 0u64;
    let mut odometer = 0.0f64;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                seq += 1;
                let kph = speed_at(seq);
                odometer += kph as f64 / 3.6 * 0.02;
                speed.publish(&VehicleSpeedT { kph, odometer_m: odometer }).map_err(|e| e.to_string())?;
                if seq.is_multiple_of(5) {
                    battery
                        .publish(&BatteryStateT { soc_percent: soc_at(seq / 5), pack_voltage: 396.0, max_cell_temp_c: 31.5 })
                        .map_err(|e| e.to_string())?;
                }
            }
            req = server.recv() => {
                let Ok(req) = req else { break };
                let sample = req.sample();
                let ask = sample.view();
                let who = ask.requested_by().unwrap_or("").to_owned();
                if who.is_empty() {
                    req.reply(&SetDriveModeReplyT { accepted: false, reason: Some("requested_by is required".into()) })
                        .map_err(|e| e.to_string())?;
                } else {
                    let new_mode = ask.mode();
                    mode.set(&DriveModeStateT { mode: new_mode, changed_by: Some(who.clone()) }).map_err(|e| e.to_string())?;
                    req.reply(&SetDriveModeReplyT { accepted: true, reason: None }).map_err(|e| e.to_string())?;
                    println!("drive mode -> {new_mode:?} (asked by {who})");
                }
            }
            line = stdin.next_line() => {
                if !matches!(line, Ok(Some(_))) { break }
            }
        }
    }
    println!("sent speed={} battery={}", speed.stats().sent, battery.stats().sent);
    Ok(())
}

async fn cockpit() -> Result<(), String> {
    let node = Node::open(NodeConfig::named("cockpit")).await.map_err(|e| e.to_string())?;
    let speed = node.subscriber(topics::chassis::SPEED).create().await.map_err(|e| e.to_string())?;
    let battery = node.subscriber(topics::powertrain::BATTERY).create().await.map_err(|e| e.to_string())?;
    let mut mode = node.field(topics::body::DRIVE_MODE).await.map_err(|e| e.to_string())?;
    let client = node.service_client(services::body::SET_DRIVE_MODE).map_err(|e| e.to_string())?;
    // The car's CAN data, typed from its DBC; plus an untyped count of every CAN topic, and the
    // bridge's own counters.
    let car_speed = node
        .subscriber(can_topics::ID257_D_ISPEED.with_qos(vbus::QoS::new().queue(4096)))
        .create()
        .await
        .map_err(|e| e.to_string())?;
    let car_soc =
        node.subscriber(can_topics::ID33_AUI_RANGE_SOC).create().await.map_err(|e| e.to_string())?;
    let dog = node.subscriber(can_topics::BMS_DOG_MODE).create().await.map_err(|e| e.to_string())?;
    let hvac =
        node.subscriber(can_topics::ID243_VCRIGHT_HVAC_STATUS).create().await.map_err(|e| e.to_string())?;
    let all_can = node.raw_subscriber("can/model3/**", 32768).map_err(|e| e.to_string())?;
    let bridge_stats = node.raw_subscriber("@bridge/can/model3/stats", 16).map_err(|e| e.to_string())?;
    println!("ready");

    // Wait for the chassis: the first speed sample starts the run.
    let first = tokio::time::timeout(Duration::from_secs(20), speed.recv())
        .await
        .map_err(|_| "no chassis/speed sample within 20 s: is the chassis up?".to_string())?
        .map_err(|e| e.to_string())?;
    let (first_seq, mut last_seq) = (first.seq(), first.seq());
    let mut wrong_values = u64::from(first.view().kph() != speed_at(first.seq()));
    let mut kph = first.view().kph();
    let mut latencies = vec![first.latency()];
    // Which path each topic's samples took (shared memory on this host, zenoh otherwise), and
    // their latency, for the summary.
    let mut paths = PathStats::default();
    paths.add("chassis/speed", &first);
    let mut soc = None;
    let mut mode_changes = Vec::new();
    let mut asked = false;
    let started = Instant::now();
    let mut dashboard = tokio::time::interval(Duration::from_millis(500));
    let (mut car_kph, mut car_soc_pct, mut dog_temp, mut cabin_temp) = (f64::NAN, 0u8, 0i8, f64::NAN);
    let mut can_received = 0u64;
    let mut bridge_published: Option<u64> = None;
    // Run for RUN_SECONDS, and until the CAN bridge reports its replay ended and its last samples
    // arrived (they may come after the report: different keys are not ordered); at most 40 s.
    let mut ended_at: Option<Instant> = None;
    while (started.elapsed() < Duration::from_secs(RUN_SECONDS)
        || bridge_published.is_none_or(|p| {
            can_received < p && ended_at.is_some_and(|t| t.elapsed() < Duration::from_secs(3))
        }))
        && started.elapsed() < Duration::from_secs(40)
    {
        tokio::select! {
            c = car_speed.recv() => {
                let c = c.map_err(|e| e.to_string())?;
                paths.add("can/model3/ID257DIspeed", &c);
                car_kph = c.view().di_vehicle_speed();
            }
            c = car_soc.recv() => {
                car_soc_pct = c.map_err(|e| e.to_string())?.view().ui_soc();
            }
            h = hvac.recv() => {
                // A multiplexed signal: present in the frames whose multiplexer selects it.
                if let Some(t) = h.map_err(|e| e.to_string())?.view().vcright_hvac_cabin_temp_est() {
                    cabin_temp = t;
                }
            }
            d = dog.recv() => {
                dog_temp = d.map_err(|e| e.to_string())?.view().dog_mode_temp_set();
            }
            r = all_can.recv() => {
                r.map_err(|e| e.to_string())?;
                can_received += 1;
            }
            st = bridge_stats.recv() => {
                let st = st.map_err(|e| e.to_string())?;
                if let Ok(j) = serde_json::from_slice::<serde_json::Value>(st.payload())
                    && j["ended"] == true
                {
                    bridge_published = j["published"].as_u64();
                    ended_at.get_or_insert_with(Instant::now);
                }
            }
            s = speed.recv() => {
                let s = s.map_err(|e| e.to_string())?;
                kph = s.view().kph();
                if kph != speed_at(s.seq()) { wrong_values += 1; }
                last_seq = s.seq();
                latencies.push(s.latency());
                paths.add("chassis/speed", &s);
            }
            b = battery.recv() => {
                let b = b.map_err(|e| e.to_string())?;
                paths.add("powertrain/battery", &b);
                soc = Some((b.view().soc_percent(), b.view().max_cell_temp_c()));
            }
            m = mode.changed() => {
                let m = m.map_err(|e| e.to_string())?;
                let v = m.view();
                mode_changes.push(format!("{:?} by {}", v.mode(), v.changed_by().unwrap_or("?")));
            }
            ev = speed.next_event() => {
                if let Ok(ev @ TopicEvent::SamplesLost { .. }) = ev { println!("event: {ev}"); }
            }
            _ = dashboard.tick() => {
                let (soc, temp) = soc.unwrap_or((f32::NAN, f32::NAN));
                let m = mode.get().map(|m| format!("{:?}", m.view().mode())).unwrap_or_else(|| "?".into());
                println!(
                    "speed {kph:6.1} km/h | SoC {soc:5.1} % | cell {temp:4.1} C | mode {m:7} | seq {last_seq} \
                     || Model 3 CAN: {car_kph:5.1} km/h, SoC {car_soc_pct} %, cabin {cabin_temp:4.1} C, dog mode {dog_temp} C \
                     ({can_received} samples)"
                );
                if !asked && started.elapsed() > Duration::from_secs(RUN_SECONDS / 2) {
                    asked = true;
                    let reply = client
                        .call(&SetDriveModeT { mode: DriveMode::Sport, requested_by: Some("cockpit".into()) })
                        .await
                        .map_err(|e| format!("set_drive_mode: {e}"))?;
                    println!("set_drive_mode(Sport) -> accepted={}", reply.view().accepted());
                }
            }
        }
    }
    let st = speed.stats();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    let expected = last_seq - first_seq + 1;
    let received = latencies.len() as u64;
    let ok = received == expected
        && wrong_values == 0
        && st.lost == 0
        && bridge_published == Some(can_received)
        && mode_changes.iter().any(|m| m.starts_with("Sport"));
    println!(
        "received speed={received}/{expected} (seq {first_seq}..{last_seq}) wrong={wrong_values} lost={} battery={} \
         mode_changes=[{}] latency p50={:?} p99={:?} can={can_received}/{} paths=[{}]",
        st.lost,
        battery.stats().delivered,
        mode_changes.join(", "),
        pct(0.5),
        pct(0.99),
        bridge_published.map_or("?".into(), |p| p.to_string()),
        paths.summary(),
    );
    if ok { Ok(()) } else { Err("the cockpit missed or mis-read data (see the line above)".into()) }
}

/// Per topic: how many samples came by each path, and their latencies.
#[derive(Default)]
struct PathStats(std::collections::BTreeMap<&'static str, (u64, u64, Vec<Duration>)>);

impl PathStats {
    fn add<T: vbus::Message>(&mut self, key: &'static str, s: &vbus::Sample<T>) {
        let e = self.0.entry(key).or_default();
        match s.path() {
            vbus::DataPath::SharedMemory => e.0 += 1,
            vbus::DataPath::Zenoh => e.1 += 1,
        }
        e.2.push(s.latency());
    }

    /// `key=<path>(p50 .., p99 ..)` per topic; the path is the one most samples took.
    fn summary(&mut self) -> String {
        self.0
            .iter_mut()
            .map(|(key, (shm, zenoh, lat))| {
                lat.sort();
                let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
                let path = if shm >= zenoh { vbus::DataPath::SharedMemory } else { vbus::DataPath::Zenoh };
                format!("{key}={path}({shm}/{} shm, p50 {:?}, p99 {:?})", *shm + *zenoh, pct(0.5), pct(0.99))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The DDS side (feature `dds`, on when CycloneDDS 11 is installed): the `vbus-dds` bridge
/// mirrors `chassis/speed` into DDS domain [`dds::DOMAIN`], where a plain DDS participant in
/// another process (no vbus in it: CycloneDDS, the IDL type codegen emitted) reads it.
#[cfg(feature = "dds")]
mod dds {
    use std::time::Duration;

    use tokio::io::{AsyncBufReadExt, BufReader};
    use vbus::{Node, NodeConfig};
    use vbus_dds::bridge::{Bridge, BridgeConfig, Direction, LOOPBACK_CONFIG, TopicConfig, dds_qos, qos_of};
    use vbus_dds::dds::{DynTopic, Participant};

    /// DDS domain of the demo (not 0, so it does not meet other DDS applications by accident).
    pub const DOMAIN: u32 = 42;
    const TYPE: &str = "demo.vehicle.VehicleSpeed";

    async fn until_stdin_closes() {
        let mut stdin = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(_)) = stdin.next_line().await {}
    }

    /// The bridge ECU: vbus -> DDS for `chassis/speed`.
    pub async fn bridge() -> Result<(), String> {
        let node = Node::open(NodeConfig::named("dds-bridge")).await.map_err(|e| e.to_string())?;
        let cfg = BridgeConfig {
            domain_id: DOMAIN,
            partition: None,
            cyclonedds_config: Some(LOOPBACK_CONFIG.into()),
            topics: vec![TopicConfig {
                key: "chassis/speed".into(),
                direction: Direction::ToDds,
                dds_topic: None,
                final_type: false,
                octet: false,
            }],
        };
        let bridge = Bridge::start(&node, vbus_examples::SCHEMA_BFBS, &cfg).map_err(|e| e.to_string())?;
        println!("up: chassis/speed -> DDS domain {DOMAIN}, topic `chassis/speed`, type {TYPE}");
        println!("ready");
        until_stdin_closes().await;
        let st = bridge.stats("chassis/speed").expect("bridged topic");
        println!("to_dds={} rejected={}", st.to_dds, st.bus_rejected);
        Ok(())
    }

    /// The DDS ECU: a DDS reader of `chassis/speed`, decoding the IDL type from the schema.
    pub async fn ecu() -> Result<(), String> {
        let schema = vbus_reflect_schema()?;
        let object = schema.object(TYPE).ok_or("no VehicleSpeed in the schema")?;
        let qos = dds_qos(&qos_of(object).map_err(|e| e.to_string())?, None);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
        // CycloneDDS calls block: the reader lives on its own thread.
        let reader = std::thread::spawn(move || -> Result<(u64, f64), String> {
            let setup = (|| {
                let pp = Participant::new(DOMAIN, Some(LOOPBACK_CONFIG)).map_err(|e| e.to_string())?;
                let topic = DynTopic::new(&pp, &schema, TYPE, "chassis/speed", false, false, qos)
                    .map_err(|e| e.to_string())?;
                let reader = topic.reader().map_err(|e| e.to_string())?;
                Ok::<_, String>((pp, topic, reader))
            })();
            let (_pp, _topic, reader) = match setup {
                Ok(x) => x,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.clone()));
                    return Err(e);
                }
            };
            // Ready once the bridge's writer is matched, so no sample is published unseen.
            let since = std::time::Instant::now();
            while reader.matched() == 0 {
                if since.elapsed() > Duration::from_secs(20) {
                    let e = "the vbus-dds writer was not discovered within 20 s".to_string();
                    let _ = ready_tx.send(Err(e.clone()));
                    return Err(e);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = ready_tx.send(Ok(()));
            let (mut n, mut last) = (0u64, f64::NAN);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                reader.take(Duration::from_millis(50), &mut buf).map_err(|e| e.to_string())?;
                for s in &buf {
                    let v =
                        vbus_dds::cdr::decode(&schema, TYPE, &s.data, false).map_err(|e| e.to_string())?;
                    last = v["kph"].as_f64().unwrap_or(f64::NAN);
                    n += 1;
                }
                if rx.try_recv().is_ok() && buf.is_empty() {
                    return Ok((n, last));
                }
            }
        });
        ready_rx.await.map_err(|_| "the DDS reader thread died".to_string())??;
        println!(
            "up: DDS reader of `chassis/speed` in domain {DOMAIN} (CycloneDDS, no vbus), matched the bridge"
        );
        println!("ready");
        until_stdin_closes().await;
        let _ = tx.send(());
        let (n, last) = reader.join().map_err(|_| "the DDS reader panicked".to_string())??;
        println!("received={n} last_kph={last:.1}");
        Ok(())
    }

    fn vbus_reflect_schema() -> Result<vbus_dds::vbus_reflect::Schema, String> {
        vbus_dds::vbus_reflect::Schema::from_bfbs(vbus_examples::SCHEMA_BFBS).map_err(|e| e.to_string())
    }
}
