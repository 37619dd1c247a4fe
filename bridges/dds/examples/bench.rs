//! Bridged latency/throughput against DDS-to-DDS on the same machine (loopback only).
//!
//! ```text
//! cargo run -p vbus-dds --example bench [-- ROUNDTRIPS MESSAGES SIZE]
//! ```
//! - DDS-to-DDS: C peer `ping` <-> C peer `echo` (RTT); C `blast` -> C `count` (throughput).
//! - Bridged: vbus node -> vbus-dds -> DDS -> C `echo` -> DDS -> vbus-dds -> vbus node (RTT,
//!   two bridge crossings); vbus publisher -> vbus-dds -> C `count` (throughput).
//!
//! Same Ping/Pong types (`vbus_test_support::dds`: bus/test-support/schemas/dds/dds_demo.fbs),
//! reliable, 64-byte payload by default.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vbus_dds::bridge::{Bridge, BridgeConfig, Direction, LOOPBACK_CONFIG, TopicConfig};
use vbus_test_support::dds::{SCHEMA_BFBS, build_c_peer, demo::dds::PingT, topics};

fn peer(bin: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.args(args).env("CYCLONEDDS_URI", LOOPBACK_CONFIG).stderr(Stdio::inherit());
    c
}

fn spawn_ready(mut c: Command) -> Child {
    let mut child = c.stdout(Stdio::piped()).spawn().expect("spawn C peer");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    child
}

fn stats(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    format!(
        "rtt n={} mean_us={mean:.1} p50_us={:.1} p99_us={:.1}",
        v.len(),
        v[v.len() / 2],
        v[v.len() * 99 / 100]
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (rounds, messages, size) = (
        args.first().copied().unwrap_or(2000),
        args.get(1).copied().unwrap_or(20000),
        args.get(2).copied().unwrap_or(64),
    );
    let dir = vbus_test_support::TempDir::new("dds-bench");
    let bin = build_c_peer(dir.path()).unwrap_or_else(|e| panic!("build C peer: {e}"));
    let (r, m, s) = (rounds.to_string(), messages.to_string(), size.to_string());

    // DDS to DDS.
    let mut echo = spawn_ready(peer(&bin, &["echo", "30", "0", "40"]));
    let out = peer(&bin, &["ping", &r, &s, "40"]).output().unwrap();
    let dds_rtt = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let _ = echo.kill();
    let _ = echo.wait();
    let count = spawn_ready(peer(&bin, &["count", &m, "60", "41"]));
    let out = peer(&bin, &["blast", &m, &s, "41"]).output().unwrap();
    let _ = String::from_utf8_lossy(&out.stdout);
    let dds_tput = String::from_utf8_lossy(&count.wait_with_output().unwrap().stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();

    // Bridged.
    let domain = vbus_test_support::unique_domain("dds-bench");
    let (app, ep) = vbus_test_support::peer_node("app", &domain).await;
    let bnode = vbus::Node::open(
        vbus_test_support::peer_config("dds-bridge", &domain, &ep).listen(Vec::<String>::new()),
    )
    .await
    .unwrap();
    let topic = |key: &str, direction| TopicConfig {
        key: key.into(),
        direction,
        dds_topic: None,
        final_type: false,
        octet: true,
    };
    let cfg = |d| BridgeConfig {
        domain_id: d,
        partition: None,
        cyclonedds_config: Some(LOOPBACK_CONFIG.into()),
        topics: vec![topic("dds/ping", Direction::ToDds), topic("dds/pong", Direction::FromDds)],
    };
    let bridge = Bridge::start(&bnode, SCHEMA_BFBS, &cfg(42)).await.unwrap();
    let mut echo = spawn_ready(peer(&bin, &["echo", "60", "0", "42"]));
    let pong = app.subscriber(topics::dds::PONG).create().await.unwrap();
    let mut ping = app.publisher(topics::dds::PING).create().await.unwrap();
    let data = vec![0u8; size as usize];
    // Warm up until the path is complete.
    let t0 = Instant::now();
    loop {
        ping.publish(&PingT { seq: u64::MAX, sent_ns: 0, data: Some(data.clone()) }).unwrap();
        if pong.recv_timeout(Duration::from_millis(200)).await.is_ok() {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "bridged path never completed");
    }
    while pong.recv_timeout(Duration::from_millis(200)).await.is_ok() {}
    let mut rtts = Vec::new();
    for i in 0..rounds {
        let t = Instant::now();
        ping.publish(&PingT { seq: i, sent_ns: vbus::wire::now_ns(), data: Some(data.clone()) }).unwrap();
        while let Ok(p) = pong.recv_timeout(Duration::from_secs(2)).await {
            if p.view().seq() == i {
                rtts.push(t.elapsed().as_secs_f64() * 1e6);
                break;
            }
        }
    }
    let bridged_rtt = stats(rtts);
    let _ = echo.kill();
    let _ = echo.wait();
    drop(bridge);

    let bridge = Bridge::start(&bnode, SCHEMA_BFBS, &cfg(43)).await.unwrap();
    let count = spawn_ready(peer(&bin, &["count", &m, "60", "43"]));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let t = Instant::now();
    for i in 0..messages {
        ping.publish(&PingT { seq: i, sent_ns: 0, data: Some(data.clone()) }).unwrap();
        if i % 256 == 255 {
            // Let the transport breathe: reliable vbus topics drop on congestion by default.
            tokio::task::yield_now().await;
        }
    }
    let pub_secs = t.elapsed().as_secs_f64();
    let bridged_tput = String::from_utf8_lossy(&count.wait_with_output().unwrap().stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    let st = bridge.stats("dds/ping").unwrap();

    println!("payload {size} B, {rounds} round trips, {messages} messages, reliable, loopback");
    println!("DDS -> DDS    latency:    {dds_rtt}");
    println!("bridged       latency:    {bridged_rtt}   (vbus -> bridge -> DDS echo -> bridge -> vbus)");
    println!("DDS -> DDS    throughput: {dds_tput}");
    println!("vbus -> DDS   throughput: {bridged_tput}   (publisher done in {pub_secs:.3} s; bridge {st:?})");
}
