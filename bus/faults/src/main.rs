//! `vbus-faults`: the roles of the multi-ECU fault tests (`scripts/netns-faults.sh`).
//!
//! ```text
//! vbus-faults router --name R --listen EP
//! vbus-faults idle   --name N --connect EP [--listen EP]
//! vbus-faults pub    --name N --connect EP --topic K --count C [--interval-ms I] [--pad BYTES]
//! vbus-faults sub    --name N --connect EP --topic K --count C [--timeout-s S]
//! vbus-faults watch  --name N --connect EP
//! vbus-faults relay  --listen ADDR --to ADDR [--delay-ms D] [--reset-ms R]
//! ```
//!
//! Every node is a vbus [`Node`] with explicit endpoints, a short zenoh lease (so a cut link
//! or a killed node is noticed within ~3 s) and fast reconnection. Topics are reliable, `Block`,
//! with a history as deep as the run, so a subscriber that lost its session catches up.
//!
//! `sub` prints `delivered=<distinct sequence numbers> expected=<count>` and exits 0 only when
//! every sequence number 1..=count arrived. `watch` prints `UP <name>` / `DOWN <name>` lines.
//! `relay` is a userspace TCP forwarder that holds every chunk for `--delay-ms` and drops all its
//! connections every `--reset-ms`: delay and loss emulation where the kernel has no `sch_netem`.

use std::{collections::BTreeSet, io::Write, process::ExitCode, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    time::Instant,
};
use vbus::{Congestion, Mode, Node, NodeConfig, NodeEvent, QoS, Reliability, Topic};
// The samples: `seq` numbered 1..=count, `--pad` bytes of `data` (vbus-test-support's payload).
use vbus_test_support::types::test::{Payload, PayloadArgs, PayloadMsg};

const USAGE: &str = "usage: vbus-faults <router|idle|pub|sub|watch|relay> [--name N] [--listen EP] \
[--connect EP]... [--topic K] [--count C] [--interval-ms I] [--pad BYTES] [--timeout-s S] \
[--to ADDR] [--delay-ms D] [--reset-ms R]";

#[derive(Default)]
struct Args {
    role: String,
    name: String,
    listen: Vec<String>,
    connect: Vec<String>,
    topic: String,
    count: u64,
    interval_ms: u64,
    pad: usize,
    timeout_s: u64,
    to: String,
    delay_ms: u64,
    reset_ms: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        role: it.next().ok_or("expected a role")?,
        name: "node".into(),
        topic: "faults/seq".into(),
        count: 100,
        interval_ms: 10,
        timeout_s: 30,
        ..Args::default()
    };
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("`{flag}` expects a value"));
        let num = |v: String| v.parse::<u64>().map_err(|e| format!("`{flag}` = `{v}`: {e}"));
        match flag.as_str() {
            "--name" => a.name = val()?,
            "--listen" => a.listen.push(val()?),
            "--connect" => a.connect.push(val()?),
            "--topic" => a.topic = val()?,
            "--count" => a.count = num(val()?)?,
            "--interval-ms" => a.interval_ms = num(val()?)?,
            "--pad" => a.pad = num(val()?)? as usize,
            "--timeout-s" => a.timeout_s = num(val()?)?,
            "--to" => a.to = val()?,
            "--delay-ms" => a.delay_ms = num(val()?)?,
            "--reset-ms" => a.reset_ms = num(val()?)?,
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    if a.count == 0 || a.count > u16::MAX as u64 {
        return Err(format!("--count must be in 1..=65535 (history depth), found {}", a.count));
    }
    Ok(a)
}

/// Print a line at once (stdout goes to a log file the script reads while we run).
macro_rules! say {
    ($($t:tt)*) => {{
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, $($t)*);
        let _ = o.flush();
    }};
}

fn node_config(a: &Args, mode: Mode) -> Result<NodeConfig, vbus::config::ConfigError> {
    let text = format!(
        r#"{{
            name: {name:?}, domain: "faults", mode: {mode:?},
            listen: {listen:?}, connect: {connect:?},
            history_timeout_ms: 2000,
            zenoh: {{
                // No gossip: ECUs reach each other only through the router.
                scouting: {{ gossip: {{ enabled: false }} }},
                // Notice a dead link or node within ~3 s instead of 10 s.
                transport: {{ link: {{ tx: {{ lease: 3000, keep_alive: 4 }} }} }},
            }},
        }}"#,
        name = a.name,
        mode = mode.to_string(),
        listen = a.listen,
        connect = a.connect,
    );
    NodeConfig::from_json5(&text)
}

/// Mode of the ECU nodes: `client` (everything through the router) unless `VBUS_FAULTS_MODE=peer`.
fn ecu_mode() -> Mode {
    match std::env::var("VBUS_FAULTS_MODE").as_deref() {
        Ok("peer") => Mode::Peer,
        _ => Mode::Client,
    }
}

fn topic(a: &Args) -> Topic<PayloadMsg> {
    let key: &'static str = Box::leak(a.topic.clone().into_boxed_str());
    Topic::new(key).with_qos(
        QoS::new()
            .reliability(Reliability::Reliable)
            .congestion(Congestion::Block)
            .history(a.count as u16)
            .queue(1024),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("vbus-faults: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(a).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vbus-faults: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(a: Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match a.role.as_str() {
        "router" | "idle" => {
            let mode = if a.role == "router" { Mode::Router } else { ecu_mode() };
            let _node = Node::open(node_config(&a, mode)?).await?;
            say!("{} {} up", a.role, a.name);
            std::future::pending::<()>().await;
            unreachable!()
        }
        "pub" => publish(a).await,
        "sub" => subscribe(a).await,
        "watch" => {
            let node = Node::open(node_config(&a, ecu_mode())?).await?;
            let w = node.watch_nodes().await?;
            say!("watch {} up", a.name);
            while let Ok(ev) = w.recv().await {
                match ev {
                    NodeEvent::Up(n) => say!("UP {n}"),
                    NodeEvent::Down(n) => say!("DOWN {n}"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        "relay" => relay(a).await,
        other => Err(format!("unknown role `{other}`\n{USAGE}").into()),
    }
}

async fn publish(a: Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let node = Node::open(node_config(&a, ecu_mode())?).await?;
    let topic = topic(&a);
    let (count, interval, pad) = (a.count, Duration::from_millis(a.interval_ms), vec![b'x'; a.pad]);
    // `Block` may wait on a full transport queue: publish from a plain thread, not the runtime.
    let (publisher, node2) = (node.publisher(topic).create().await?, node.clone());
    let done = tokio::task::spawn_blocking(move || -> Result<(), vbus::PublishError> {
        let mut publisher = publisher;
        let start = std::time::Instant::now();
        for seq in 1..=count {
            publisher.publish_with(|fbb| {
                let data = Some(fbb.create_vector(&pad));
                Payload::create(fbb, &PayloadArgs { seq, t_ns: 0, data })
            })?;
            if let Some(d) = (start + interval * seq as u32).checked_duration_since(std::time::Instant::now())
            {
                std::thread::sleep(d);
            }
        }
        say!("published {count} on {} in {:?}", publisher.key(), start.elapsed());
        // Stay alive: the history serves subscribers that reconnect later.
        drop(node2);
        std::thread::park();
        Ok(())
    });
    done.await??;
    Ok(ExitCode::SUCCESS)
}

async fn subscribe(a: Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let node = Node::open(node_config(&a, ecu_mode())?).await?;
    let topic = topic(&a);
    let deadline = Instant::now() + Duration::from_secs(a.timeout_s);
    let mut got = BTreeSet::new();
    let (mut resubscribed, mut lost_events, mut duplicates) = (0u64, 0u64, 0u64);
    let (mut via_shm, mut via_zenoh, mut vbus_duplicates) = (0u64, 0u64, 0u64);
    let mut sub = node.subscriber(topic).create().await?;
    say!("sub {} up on {}", a.name, sub.key());
    let stall = Duration::from_millis(1500);
    while (got.len() as u64) < a.count && Instant::now() < deadline {
        match sub.recv_timeout(stall).await {
            Ok(s) => {
                match s.path() {
                    vbus::DataPath::SharedMemory => via_shm += 1,
                    vbus::DataPath::Zenoh => via_zenoh += 1,
                }
                let seq = s.view().seq();
                if !(1..=a.count).contains(&seq) || !got.insert(seq) {
                    duplicates += 1;
                }
            }
            Err(vbus::RecvError::Closed) => return Err("the subscriber closed".into()),
            Err(vbus::RecvError::Timeout(_)) => {
                // Nothing for a while but not complete: the session may have been cut and
                // re-established. A new subscriber with history fetches what we missed; the set
                // of sequence numbers removes what we already had.
                while let Some(ev) = sub.try_next_event() {
                    if matches!(ev, vbus::TopicEvent::SamplesLost { .. }) {
                        lost_events += 1;
                    }
                }
                vbus_duplicates += sub.stats().duplicates;
                drop(sub);
                sub = node.subscriber(topic).create().await?;
                resubscribed += 1;
            }
        }
    }
    while let Some(ev) = sub.try_next_event() {
        if matches!(ev, vbus::TopicEvent::SamplesLost { .. }) {
            lost_events += 1;
        }
    }
    vbus_duplicates += sub.stats().duplicates;
    let missing: Vec<u64> = (1..=a.count).filter(|s| !got.contains(s)).take(10).collect();
    // via_shm / via_zenoh: the path each delivered sample took; vbus_duplicates: copies vbus
    // itself dropped (history overlapping live data is expected there, nothing else).
    say!(
        "RESULT topic={} delivered={} expected={} resubscribed={resubscribed} gaps_reported={lost_events} duplicates_dropped={duplicates} via_shm={via_shm} via_zenoh={via_zenoh} vbus_duplicates={vbus_duplicates} path={} first_missing={missing:?}",
        a.topic,
        got.len(),
        a.count,
        node.local_path().to_string().replace(' ', "_")
    );
    Ok(if got.len() as u64 == a.count { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Userspace TCP relay: delay every chunk by `delay_ms`, drop every connection every `reset_ms`.
async fn relay(a: Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let addr = a.listen.first().ok_or("relay: expected --listen ADDR")?.clone();
    let listener = TcpListener::bind(&addr).await?;
    let delay = Duration::from_millis(a.delay_ms);
    let (reset_tx, reset_rx) = tokio::sync::watch::channel(0u64);
    say!("relay {addr} -> {} delay={}ms reset={}ms", a.to, a.delay_ms, a.reset_ms);
    if a.reset_ms > 0 {
        let every = Duration::from_millis(a.reset_ms);
        tokio::spawn(async move {
            let mut n = 0;
            loop {
                tokio::time::sleep(every).await;
                n += 1;
                say!("relay reset {n}");
                if reset_tx.send(n).is_err() {
                    return;
                }
            }
        });
    }
    loop {
        let (down, _) = listener.accept().await?;
        let to = a.to.clone();
        let mut reset = reset_rx.clone();
        reset.mark_unchanged();
        tokio::spawn(async move {
            let Ok(up) = TcpStream::connect(&to).await else { return };
            let _ = (down.set_nodelay(true), up.set_nodelay(true));
            let (dr, dw) = down.into_split();
            let (ur, uw) = up.into_split();
            tokio::select! {
                _ = pump(dr, uw, delay) => {}
                _ = pump(ur, dw, delay) => {}
                _ = reset.changed() => {}
            }
            // Both halves drop here: the connection is gone, zenoh sees a link failure.
        });
    }
}

/// Copy `r` to `w`, each chunk written `delay` after it was read (order kept).
async fn pump(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if w.write_all(&chunk).await.is_err() {
                return;
            }
        }
    };
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    };
    tokio::join!(reader, writer);
}
