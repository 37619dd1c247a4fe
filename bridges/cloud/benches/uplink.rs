//! Uplink benchmark: `cargo bench -p vbus-cloud --bench uplink` (not a test; needs
//! /usr/sbin/mosquitto). Loopback only; bounded in samples and time.
//!
//! For each compression (none, zstd), against a local mosquitto:
//! 1. ingest: N samples published on the bus while the broker is unreachable, until all are
//!    durably queued (fsynced) - the rate the durable queue accepts, and its bytes per sample on
//!    disk;
//! 2. drain: the broker becomes reachable; time until the cloud subscriber has all N - the
//!    store-and-forward catch-up rate after an outage;
//! 3. sustained: N more samples published with the link up, from the first publish to the last
//!    sample at the cloud subscriber - the end-to-end rate;
//!
//! and the MQTT payload bytes per sample. The publisher paces itself on the bridge's `accepted`
//! counter so the bus-side queue never overflows (no sample is lost on the way in).

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::watch;
use vbus::{Node, NodeConfig, flatbuffers::FlatBufferBuilder};
use vbus_cloud::{Bridge, Config, format::decode_batch};

/// Samples per phase (`VBUS_CLOUD_BENCH_N` overrides).
fn n() -> u64 {
    std::env::var("VBUS_CLOUD_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000)
}
/// Samples published but not yet accepted, at most (well under the bus queue of 8192).
const WINDOW: u64 = 4_000;
const LIMIT: Duration = Duration::from_secs(120);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Broker(Child);
impl Broker {
    fn start(dir: &Path, port: u16) -> Self {
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 max_queued_messages 0\nmax_inflight_messages 0\nlog_type error\n"
            ),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (apt-get install mosquitto)");
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t0.elapsed() < LIMIT, "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self(child)
    }
}
impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP gate in front of the broker for the bridge only (see tests/it/harness.rs `Gate`).
async fn gate(upstream: u16, open: watch::Receiver<bool>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if !*open.borrow() {
                continue;
            }
            tokio::spawn(async move {
                if let Ok(mut out) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    });
    port
}

/// A representative signal sample: a table with a float, a counter, a short string and a nested
/// table of two small integers (about 70 bytes of FlatBuffer).
fn payload(i: u64) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let label = fbb.create_string("front-left wheel");
    let start = fbb.start_table();
    fbb.push_slot::<i16>(6, 80 + (i % 7) as i16, -40);
    fbb.push_slot::<u16>(4, 2000 + (i % 1000) as u16, 0);
    let engine = fbb.end_table(start);
    let start = fbb.start_table();
    fbb.push_slot_always(10, engine);
    fbb.push_slot_always(8, label);
    fbb.push_slot::<u32>(6, i as u32, 0);
    fbb.push_slot::<f32>(4, (i % 250) as f32 * 0.5, 0.0);
    let root = fbb.end_table(start);
    fbb.finish_minimal(root);
    fbb.finished_data().to_vec()
}

struct Cloud {
    samples: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

async fn cloud(port: u16, vehicle: &str) -> Cloud {
    let mut o = MqttOptions::new(format!("bench-cloud-{vehicle}"), "127.0.0.1", port);
    o.set_max_packet_size(256 << 20, 1 << 20);
    let (client, mut el) = AsyncClient::new(o, 64);
    let (samples, bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (s, b) = (samples.clone(), bytes.clone());
    let (sub_tx, mut sub_rx) = watch::channel(false);
    let topic = format!("vbus/{vehicle}/data");
    tokio::spawn(async move {
        while let Ok(ev) = el.poll().await {
            match ev {
                Event::Incoming(Packet::ConnAck(_)) => {
                    client.try_subscribe(&topic, QoS::AtLeastOnce).unwrap()
                }
                Event::Incoming(Packet::SubAck(_)) => {
                    sub_tx.send_replace(true);
                }
                Event::Incoming(Packet::Publish(p)) if p.topic == topic => {
                    b.fetch_add(p.payload.len() as u64, Ordering::Relaxed);
                    let batch = decode_batch(&p.payload).expect("batch");
                    s.fetch_add(batch.samples.len() as u64, Ordering::Relaxed);
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(LIMIT, sub_rx.wait_for(|s| *s)).await.unwrap().unwrap();
    Cloud { samples, bytes }
}

async fn wait(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < LIMIT, "bench gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Publish `range` paced on the bridge's `accepted` counter.
async fn publish(
    bridge: &Bridge,
    p: &mut vbus::RawPublisher,
    range: std::ops::Range<u64>,
    base_accepted: u64,
) {
    for i in range.clone() {
        if i % 500 == 0 {
            let sent = i - range.start;
            wait("queue to catch up", || bridge.stats().accepted - base_accepted + WINDOW >= sent).await;
        }
        p.publish(&payload(i)).unwrap();
    }
}

fn disk_bytes(path: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok())
        .map(|m| m.len())
        .sum()
}

struct Row {
    compression: &'static str,
    ingest: f64,
    drain: f64,
    sustained: f64,
    wire: f64,
    disk: f64,
    payload: usize,
}

async fn run(compression: &'static str, dir: &Path) -> Row {
    #[allow(non_snake_case)]
    let N = n();
    let domain = format!("bench{}{compression}", std::process::id());
    let port = free_port();
    let _broker = Broker::start(dir, port);
    let (open_tx, open_rx) = watch::channel(false);
    let gate_port = gate(port, open_rx).await;
    let cloud = cloud(port, &domain).await;
    let node = Node::open(
        NodeConfig::named("bench").domain(&domain).listen(["tcp/127.0.0.1:0"]).connect([] as [&str; 0]),
    )
    .await
    .unwrap();
    let queue: PathBuf = dir.join(format!("queue-{compression}.sqlite"));
    let cfg = Config::from_json5(&format!(
        "{{ mqtt: {{ host: '127.0.0.1', port: {gate_port}, reconnect_min_ms: 20, reconnect_max_ms: 50 }},
            queue: {{ path: '{}', max_bytes: 1073741824 }},
            uplink: {{ compression: '{compression}' }},
            rules: [{{ name: 'all', keys: '**', mode: 'all' }}] }}",
        queue.display()
    ))
    .unwrap();
    let bridge = Bridge::start_on(node.clone(), cfg).await.unwrap();
    let mut p = node.raw_publisher("chassis/wheel", "bench.Wheel", 0x5eed_be4c).create().await.unwrap();
    wait("bridge subscribed", || p.has_subscribers()).await;

    // 1. Ingest into the durable queue (broker unreachable).
    let t0 = Instant::now();
    publish(&bridge, &mut p, 0..N, 0).await;
    wait("all accepted", || bridge.stats().accepted == N).await;
    let ingest = N as f64 / t0.elapsed().as_secs_f64();
    let disk = disk_bytes(&queue) as f64 / N as f64;

    // 2. Drain the backlog once the broker is reachable.
    let t0 = Instant::now();
    open_tx.send_replace(true);
    wait("backlog delivered", || {
        let got = cloud.samples.load(Ordering::Relaxed);
        if t0.elapsed() > Duration::from_secs(20) && t0.elapsed().as_millis() % 1000 < 3 {
            eprintln!("cloud {got}, bridge {:?}", bridge.stats().uplink);
        }
        got >= N
    })
    .await;
    let drain = N as f64 / t0.elapsed().as_secs_f64();

    // 3. Sustained, link up.
    let t0 = Instant::now();
    publish(&bridge, &mut p, N..2 * N, N).await;
    wait("all delivered", || cloud.samples.load(Ordering::Relaxed) >= 2 * N).await;
    let sustained = N as f64 / t0.elapsed().as_secs_f64();

    let s = bridge.shutdown().await.unwrap();
    assert_eq!((s.bus_dropped, s.queue.dropped), (0, 0), "no sample lost on the way");
    let received = cloud.samples.load(Ordering::Relaxed);
    Row {
        compression,
        ingest,
        drain,
        sustained,
        wire: cloud.bytes.load(Ordering::Relaxed) as f64 / received as f64,
        disk,
        payload: payload(1).len(),
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = std::env::temp_dir().join(format!("vbus-cloud-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rows: Vec<Row> = ["none", "zstd"].into_iter().map(|c| rt.block_on(run(c, &dir))).collect();
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "vbus-cloud uplink to local mosquitto, {} samples per phase, default batching (500 samples, 8 in flight)",
        n()
    );
    println!(
        "| compression | payload B | ingest to disk (samples/s) | backlog drain (samples/s) | sustained end-to-end (samples/s) | MQTT bytes/sample | disk bytes/sample |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} |",
            r.compression, r.payload, r.ingest, r.drain, r.sustained, r.wire, r.disk
        );
    }
}
