//! Test harness: loopback-only bus nodes, a real mosquitto broker, a gate in front of it, an MQTT
//! "cloud" client, temporary directories and the watchdog.

use std::{
    collections::BTreeMap,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::watch;
use vbus::Node;
use vbus_cloud::{
    Stats,
    format::{Batch, CloudSample, Reply, decode_batch},
};

pub use vbus_test_support::{
    TempDir, WATCHDOG, peer_node as parent_node, unique_domain, wait_matched, wait_until, watchdog,
};

/// A free loopback TCP port (bound then released: the usual small race, fine on a test machine).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A real mosquitto on 127.0.0.1, killed on drop.
pub struct Mosquitto {
    pub port: u16,
    /// A second, TLS listener when started with [`Mosquitto::start_tls`].
    pub tls_port: Option<u16>,
    conf: PathBuf,
    child: Option<Child>,
    _dir: TempDir,
}

pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";

impl Mosquitto {
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// With a second listener speaking TLS with `cert`/`key` (PEM files).
    pub async fn start_tls(cert: &Path, key: &Path) -> Self {
        Self::start_with(Some((cert, key))).await
    }

    async fn start_with(tls: Option<(&Path, &Path)>) -> Self {
        let dir = TempDir::new("mosquitto");
        let port = free_port();
        let conf = dir.join("mosquitto.conf");
        // Persistence off; unlimited queues so the test subscriber never loses a QoS-1 message to
        // a broker limit (mosquitto drops past max_queued_messages, 1000 by default).
        let mut text = format!(
            "per_listener_settings false\nallow_anonymous true\npersistence false\n\
             max_queued_messages 0\nmax_inflight_messages 0\nlog_type error\nlistener {port} 127.0.0.1\n"
        );
        let tls_port = tls.map(|(cert, key)| {
            let p = free_port();
            text.push_str(&format!(
                "listener {p} 127.0.0.1\ncertfile {}\nkeyfile {}\n",
                cert.display(),
                key.display()
            ));
            p
        });
        std::fs::write(&conf, text).expect("write mosquitto.conf");
        let mut m = Self { port, tls_port, conf, child: None, _dir: dir };
        m.restart().await;
        m
    }

    /// Start (again) on the same port; returns once it accepts connections.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "mosquitto already running");
        assert!(
            Path::new(MOSQUITTO).exists(),
            "{MOSQUITTO} missing: run scripts/setup.sh (apt-get install mosquitto)"
        );
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto");
        self.child = Some(child);
        for port in std::iter::once(self.port).chain(self.tls_port) {
            wait_until_async("mosquitto accepting connections", || async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
            })
            .await;
        }
    }

    /// SIGKILL the broker (no clean shutdown, no goodbye to clients).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// [`wait_until`] for an async condition.
pub async fn wait_until_async<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    vbus_test_support::eventually(what, || {
        let c = cond();
        async move { c.await.then_some(()) }
    })
    .await
}

/// A TCP gate in front of the broker, for the bridge only. Closed, it refuses connections (the
/// bridge sees an unreachable broker). It exists to order reconnections in outage tests: after a
/// broker restart (persistence off, so subscriptions are gone) the test's cloud subscriber must
/// be subscribed again before the bridge may deliver, or the broker would discard messages for
/// want of a subscriber - a property of the test set-up, not of the bridge.
pub struct Gate {
    pub port: u16,
    open: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Gate {
    pub async fn start(upstream: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind gate");
        let port = listener.local_addr().expect("addr").port();
        let (open, open_rx) = watch::channel(true);
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !*open_rx.borrow() {
                    continue; // dropped: connection closed at once
                }
                let mut closed = open_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = closed.wait_for(|open| !*open) => {}
                    }
                });
            }
        });
        Self { port, open, task }
    }

    pub fn set_open(&self, open: bool) {
        self.open.send_replace(open);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the cloud side received.
#[derive(Default)]
pub struct Received {
    pub batches: Vec<Batch>,
    pub replies: Vec<Reply>,
    pub statuses: Vec<serde_json::Value>,
    pub wire_bytes: u64,
}

impl Received {
    /// Every sample, in arrival order (duplicates included).
    pub fn samples(&self) -> impl Iterator<Item = &CloudSample> {
        self.batches.iter().flat_map(|b| b.samples.iter())
    }

    /// Sequence numbers per (key, publisher), first occurrences in arrival order, and the number of
    /// duplicates (QoS-1 redeliveries).
    pub fn by_publisher(&self) -> (BTreeMap<(String, u64), Vec<u64>>, usize) {
        let mut seen = std::collections::HashSet::new();
        let mut out: BTreeMap<(String, u64), Vec<u64>> = BTreeMap::new();
        let mut dups = 0;
        for s in self.samples() {
            if seen.insert((s.key.clone(), s.publisher, s.seq)) {
                out.entry((s.key.clone(), s.publisher)).or_default().push(s.seq);
            } else {
                dups += 1;
            }
        }
        (out, dups)
    }

    pub fn distinct_seqs(&self, key: &str) -> std::collections::BTreeSet<u64> {
        self.samples().filter(|s| s.key == key).map(|s| s.seq).collect()
    }
}

/// The cloud: an MQTT client on the broker (directly, not through the gate) that subscribes to
/// everything of one vehicle and re-subscribes after reconnecting.
pub struct Cloud {
    pub client: AsyncClient,
    pub received: Arc<std::sync::Mutex<Received>>,
    subscribed: watch::Receiver<u64>,
    prefix: String,
    vehicle: String,
    task: tokio::task::JoinHandle<()>,
}

impl Cloud {
    pub async fn connect(port: u16, vehicle: &str) -> Self {
        let prefix = "vbus".to_string();
        let mut o = MqttOptions::new(unique_domain("cloud"), "127.0.0.1", port);
        o.set_max_packet_size(256 << 20, 1 << 20);
        o.set_keep_alive(Duration::from_secs(5));
        let (client, mut eventloop) = AsyncClient::new(o, 64);
        let received = Arc::new(std::sync::Mutex::new(Received::default()));
        let (sub_tx, subscribed) = watch::channel(0u64);
        let topic = format!("{prefix}/{vehicle}/#");
        let (c, r) = (client.clone(), received.clone());
        let (data, reply, status) = (
            format!("{prefix}/{vehicle}/data"),
            format!("{prefix}/{vehicle}/cmd/reply"),
            format!("{prefix}/{vehicle}/status"),
        );
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = c.try_subscribe(&topic, QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        sub_tx.send_modify(|n| *n += 1);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let mut r = r.lock().unwrap();
                        if p.topic == data {
                            r.wire_bytes += p.payload.len() as u64;
                            r.batches.push(decode_batch(&p.payload).expect("a valid batch"));
                        } else if p.topic == reply {
                            r.replies.push(serde_json::from_slice(&p.payload).expect("a valid reply"));
                        } else if p.topic == status {
                            r.statuses.push(serde_json::from_slice(&p.payload).expect("a valid status"));
                        }
                    }
                    Ok(_) => {}
                    // Broker gone: rumqttc reconnects on the next poll; pace the attempts.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        let mut cloud = Self { client, received, subscribed, prefix, vehicle: vehicle.to_owned(), task };
        cloud.wait_subscribed(1).await;
        cloud
    }

    /// Wait until the subscription was acknowledged `n` times in total (once per connection).
    pub async fn wait_subscribed(&mut self, n: u64) {
        tokio::time::timeout(WATCHDOG, self.subscribed.wait_for(|c| *c >= n))
            .await
            .expect("cloud subscription acknowledged")
            .expect("cloud task alive");
    }

    pub fn subscriptions(&self) -> u64 {
        *self.subscribed.borrow()
    }

    pub async fn command(&self, json: &serde_json::Value) {
        self.client
            .publish(
                format!("{}/{}/cmd", self.prefix, self.vehicle),
                QoS::AtLeastOnce,
                false,
                json.to_string(),
            )
            .await
            .expect("publish command");
    }

    pub fn with<R>(&self, f: impl FnOnce(&Received) -> R) -> R {
        f(&self.received.lock().unwrap())
    }

    /// Wait until the cloud has a reply to command `id`.
    pub async fn reply(&self, id: &str) -> Reply {
        let mut found = None;
        wait_until(&format!("reply to command `{id}`"), || {
            found = self.with(|r| r.replies.iter().find(|x| x.id == id).cloned());
            found.is_some()
        })
        .await;
        found.unwrap()
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Ask a bridge (in this process or another) for its stats over the bus.
pub async fn query_stats(node: &Node, domain: &str) -> Option<Stats> {
    let replies =
        node.session().get(vbus_cloud::stats_key(domain)).timeout(Duration::from_secs(2)).await.ok()?;
    while let Ok(r) = replies.recv_async().await {
        if let Ok(s) = r.into_result() {
            return serde_json::from_slice(&s.payload().to_bytes()).ok();
        }
    }
    None
}

/// A bridge configuration for tests: loopback only, fast reconnects, queue in `dir`. `extra` is a
/// JSON5 object merged on top, object by object.
pub fn config(domain: &str, dir: &TempDir, mqtt_port: Option<u16>, extra: &str) -> vbus_cloud::Config {
    let mqtt = match mqtt_port {
        Some(p) => format!("host: '127.0.0.1', port: {p}"),
        None => "host: null".into(),
    };
    let base = format!(
        "{{ node: {node},
            mqtt: {{ {mqtt}, reconnect_min_ms: 50, reconnect_max_ms: 300 }},
            queue: {{ path: '{q}' }},
            file_sink: {{ path: '{f}' }},
            stats_period_ms: 100 }}",
        q = dir.join("queue.sqlite").display(),
        f = dir.join("uplink.jsonl").display(),
        node = vbus::NodeConfig::named("cloud")
            .domain(domain)
            .listen([vbus_test_support::LOOPBACK_ANY])
            .connect(Vec::<String>::new())
            .to_value(),
    );
    let mut merged: serde_json::Value = json5::from_str(&base).expect("base config");
    let extra: serde_json::Value = json5::from_str(&format!("{{ {extra} }}")).expect("extra config");
    vbus::config::load::merge(&mut merged, extra);
    let text = merged.to_string();
    vbus_cloud::Config::from_json5(&text).unwrap_or_else(|e| panic!("test config: {e}\n{text}"))
}
