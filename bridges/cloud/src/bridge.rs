//! The bridge: bus subscribers -> rules -> durable queue -> uplink, plus downlink and stats.
//!
//! Tasks and the data path:
//! ```text
//! raw subscribers --(forwarders)--> intake (rules, schemas) --> writer (fsynced transactions)
//!                                                                  |  notify
//!                                      cloud <-- uplink (MQTT / file) <-- queue on disk
//!                                      cloud --> downlink (allowlist) --> bus service calls
//! ```
//! Only the writer makes a sample "accepted": after its transaction is committed and fsynced.
//! Before that a sample lives in bounded memory queues (the bus subscriber queue, the channels
//! between tasks, at most `commit_max_samples` in a transaction) and a crash loses it.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    sync::{Notify, mpsc, watch},
    task::JoinHandle,
    time::Instant,
};
use vbus::{Node, RawSample, zenoh::Wait};

use crate::{
    Config, Error, Stats,
    config::Compression,
    downlink::Downlink,
    rules::{BusSample, Engine, Selected},
    schemas::Schemas,
    stats::{Hub, stats_key},
    store::{NewRecord, Store},
    uplink::{self, Ctx, MqttLink, SharedStore, Topics, store_op},
};

/// Samples between the forwarders and the intake, and between the intake and the writer.
const CHANNEL_DEPTH: usize = 1024;

/// A running bridge. Stop it with [`Bridge::shutdown`] (dropping it aborts its tasks instead).
pub struct Bridge {
    node: Node,
    owns_node: bool,
    hub: Hub,
    store: Option<SharedStore>,
    grace: Duration,
    forwarders: Vec<JoinHandle<()>>,
    stop_intake: watch::Sender<bool>,
    drain: watch::Sender<Option<Instant>>,
    intake: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
    uplink: Option<JoinHandle<()>>,
    stats_task: Option<JoinHandle<()>>,
    stats_queryable: Option<vbus::zenoh::query::Queryable<()>>,
}

impl Bridge {
    /// Open the configured node and start the bridge on it.
    pub async fn start(config: Config) -> Result<Self, Error> {
        config.validate()?;
        let node = Node::open(config.node_config()?).await?;
        let mut bridge = Self::start_on(node, config).await?;
        bridge.owns_node = true;
        Ok(bridge)
    }

    /// Start the bridge on an open node (the `node` configuration is then ignored, and the vehicle
    /// id defaults to this node's domain).
    pub async fn start_on(node: Node, config: Config) -> Result<Self, Error> {
        config.validate()?;
        // The vehicle defaults to the domain of the node actually used.
        let vehicle = config.vehicle_id.clone().unwrap_or_else(|| node.domain().to_owned());
        let (path, max_bytes) = (config.queue.path.clone(), config.queue.max_bytes);
        let store = tokio::task::spawn_blocking(move || Store::open(path, max_bytes))
            .await
            .expect("store open panicked")?;
        let store_id = store.store_id().to_owned();
        let hub = Hub::default();
        let sink = match &config.mqtt.host {
            Some(h) => {
                let scheme = if config.mqtt.tls.is_some() { "mqtts" } else { "mqtt" };
                format!("{scheme}://{h}:{}", config.mqtt.port)
            }
            None => format!("file:{}", config.file_sink.path.display()),
        };
        hub.update(|s| {
            s.vehicle = vehicle.clone();
            s.sink = sink.clone();
            s.running = true;
            s.queue = store.stats();
        });
        let store: SharedStore = Arc::new(Mutex::new(store));

        // Everything that can fail on bad settings fails here, before any task starts.
        let tls = config.mqtt.tls.as_ref().map(uplink::tls_config).transpose()?;
        let sink_file = if config.mqtt.host.is_none() {
            let p = &config.file_sink.path;
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::Uplink(format!("file sink {}: {e}", dir.display())))?;
            }
            Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| Error::Uplink(format!("file sink {}: {e}", p.display())))?,
            )
        } else {
            None
        };
        let mut engine = Engine::new(&config.rules);
        let exprs = engine.subscriptions();
        let mut subscribers = Vec::new();
        for e in &exprs {
            subscribers.push(node.raw_subscriber(e).queue(config.queue.bus_queue).create().await?);
        }

        let notify = Arc::new(Notify::new());
        let (stop_intake, stop_rx) = watch::channel(false);
        let (drain, drain_rx) = watch::channel(None);
        let (raw_tx, raw_rx) = mpsc::channel::<RawSample>(CHANNEL_DEPTH);
        let (sel_tx, sel_rx) = mpsc::channel::<Selected>(CHANNEL_DEPTH.max(config.queue.commit_max_samples));

        // Forwarders: one per subscription. When key expressions overlap, a sample is taken only
        // from the first subscription that matches it, so it is never processed twice.
        let bus_dropped: Arc<Vec<AtomicU64>> = Arc::new(exprs.iter().map(|_| AtomicU64::new(0)).collect());
        let forwarders = subscribers
            .into_iter()
            .enumerate()
            .map(|(i, sub)| {
                let (exprs, tx, dropped) = (exprs.clone(), raw_tx.clone(), bus_dropped.clone());
                tokio::spawn(async move {
                    while let Ok(s) = sub.recv().await {
                        dropped[i].store(sub.stats().dropped, Ordering::Relaxed);
                        if first_match(&exprs, s.key()) == Some(i) && tx.send(s).await.is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        drop(raw_tx);

        let intake = {
            let (hub, schemas) = (hub.clone(), Schemas::new(node.clone()));
            tokio::spawn(async move {
                intake(&mut engine, schemas, raw_rx, sel_tx, stop_rx, hub).await;
            })
        };
        let writer = {
            let (store, hub, notify) = (store.clone(), hub.clone(), notify.clone());
            let max = config.queue.commit_max_samples;
            tokio::spawn(writer(sel_rx, store, hub, notify, max))
        };

        let ctx = Ctx {
            store: store.clone(),
            hub: hub.clone(),
            notify,
            vehicle: vehicle.clone(),
            store_id,
            cfg: config.uplink.clone(),
            drain: drain_rx,
        };
        let uplink = match (config.mqtt.host.is_some(), sink_file) {
            (false, Some(file)) => tokio::spawn(uplink::run_file(ctx, config.file_sink.path.clone(), file)),
            _ => {
                let (reply_tx, replies) = mpsc::unbounded_channel();
                let link = MqttLink {
                    client_id: config
                        .mqtt
                        .client_id
                        .clone()
                        .unwrap_or_else(|| format!("vbus-cloud-{vehicle}")),
                    topics: Topics::new(&config.mqtt.topic_prefix, &vehicle),
                    cfg: config.mqtt.clone(),
                    tls,
                    downlink: Downlink::new(node.clone(), &config.commands, reply_tx, hub.clone()),
                    replies,
                };
                tokio::spawn(link.run(ctx))
            }
        };

        // Stats: published every period, and served on request at the same key.
        let key = stats_key(node.domain());
        let served = hub.clone();
        let stats_queryable = node
            .session()
            .declare_queryable(key.clone())
            .callback(move |q| {
                let json = serde_json::to_vec(&served.snapshot()).expect("stats serialize");
                let _ = q.reply(q.key_expr().clone(), json).wait();
            })
            .wait()
            .map_err(|source| {
                Error::Bus(vbus::Error::Transport {
                    what: format!("declare the stats queryable `{key}`"),
                    source,
                })
            })?;
        let stats_task = {
            let (node, hub, store) = (node.clone(), hub.clone(), store.clone());
            let period = Duration::from_millis(config.stats_period_ms);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                loop {
                    tick.tick().await;
                    let dropped = bus_dropped.iter().map(|d| d.load(Ordering::Relaxed)).sum();
                    let qs = store_op(&store, |s| s.stats()).await;
                    hub.update(|s| {
                        s.bus_dropped = dropped;
                        s.queue = qs;
                    });
                    let json = serde_json::to_vec(&hub.snapshot()).expect("stats serialize");
                    if let Err(e) = node.session().put(&key, json).await {
                        tracing::debug!(error = %e, "stats publication failed");
                    }
                }
            })
        };
        let compression = match config.uplink.compression {
            Compression::None => "none",
            Compression::Zstd => "zstd",
        };
        tracing::info!(%vehicle, %sink, queue = %config.queue.path.display(), subscriptions = ?exprs, compression, "vbus-cloud bridge running");
        Ok(Self {
            node,
            owns_node: false,
            hub,
            store: Some(store),
            grace: Duration::from_millis(config.shutdown_grace_ms),
            forwarders,
            stop_intake,
            drain,
            intake: Some(intake),
            writer: Some(writer),
            uplink: Some(uplink),
            stats_task: Some(stats_task),
            stats_queryable: Some(stats_queryable),
        })
    }

    /// The node the bridge runs on.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        self.hub.snapshot()
    }

    /// Stop: take no more samples, commit those received, send for up to `shutdown_grace_ms`,
    /// disconnect, close the queue. Returns the final counters.
    pub async fn shutdown(mut self) -> Result<Stats, Error> {
        self.hub.update(|s| s.running = false);
        // 1. No new samples: the subscribers go with their forwarders.
        for f in self.forwarders.drain(..) {
            f.abort();
            let _ = f.await;
        }
        // 2. What was received goes through the rules and into the queue.
        let _ = self.stop_intake.send(true);
        if let Some(t) = self.intake.take() {
            let _ = t.await;
        }
        if let Some(t) = self.writer.take() {
            let _ = t.await;
        }
        // 3. Deliver within the grace period, then disconnect.
        let _ = self.drain.send(Some(Instant::now() + self.grace));
        if let Some(t) = self.uplink.take() {
            let _ = t.await;
        }
        if let Some(t) = self.stats_task.take() {
            t.abort();
        }
        self.stats_queryable.take();
        let store = self.store.take().expect("store present until shutdown");
        let qs = store_op(&store, |s| s.stats()).await;
        self.hub.update(|s| s.queue = qs);
        let stats = self.hub.snapshot();
        let json = serde_json::to_vec(&stats).expect("stats serialize");
        let _ = self.node.session().put(stats_key(self.node.domain()), json).await;
        // 4. Close the queue (checkpoint). Every task that held it has ended.
        match Arc::try_unwrap(store) {
            Ok(m) => {
                let s = m.into_inner().expect("store lock");
                tokio::task::spawn_blocking(move || s.close()).await.expect("store close panicked")?;
            }
            Err(_) => tracing::warn!("queue still referenced at shutdown; closed when released"),
        }
        if self.owns_node {
            self.node.clone().close().await?;
        }
        tracing::info!(accepted = stats.accepted, queued = stats.queue.records, "vbus-cloud bridge stopped");
        Ok(stats)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        for f in &self.forwarders {
            f.abort();
        }
        for t in [&self.intake, &self.writer, &self.uplink, &self.stats_task].into_iter().flatten() {
            t.abort();
        }
    }
}

/// Index of the first expression that matches `key`.
fn first_match(exprs: &[String], key: &str) -> Option<usize> {
    let k = vbus::zenoh::key_expr::keyexpr::new(key).ok()?;
    exprs.iter().position(|e| vbus::zenoh::key_expr::keyexpr::new(e.as_str()).is_ok_and(|e| e.includes(k)))
}

/// Samples -> rules -> selected samples for the writer.
async fn intake(
    engine: &mut Engine,
    mut schemas: Schemas,
    mut raw: mpsc::Receiver<RawSample>,
    sel: mpsc::Sender<Selected>,
    mut stop: watch::Receiver<bool>,
    hub: Hub,
) {
    let mut out = Vec::new();
    let mut last_rule_stats = Instant::now();
    loop {
        let now = vbus::wire::now_ns();
        let due = engine.next_due(now).map(|d| Instant::now() + Duration::from_nanos(d.saturating_sub(now)));
        tokio::select! {
            _ = stop.changed() => break,
            s = raw.recv() => match s {
                Some(s) => take(engine, &mut schemas, &hub, s, &mut out).await,
                None => break,
            },
            _ = sleep_until_opt(due) => engine.on_tick(vbus::wire::now_ns(), &mut out),
        }
        for s in out.drain(..) {
            if sel.send(s).await.is_err() {
                return;
            }
        }
        if last_rule_stats.elapsed() >= Duration::from_millis(100) {
            last_rule_stats = Instant::now();
            let rules = engine.stats();
            hub.update(|s| s.rules = rules);
        }
    }
    // Shutdown: the forwarders are gone; what they passed on is still processed and committed.
    while let Ok(s) = raw.try_recv() {
        take(engine, &mut schemas, &hub, s, &mut out).await;
    }
    for s in out.drain(..) {
        let _ = sel.send(s).await;
    }
    let rules = engine.stats();
    hub.update(|s| s.rules = rules);
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn take(engine: &mut Engine, schemas: &mut Schemas, hub: &Hub, s: RawSample, out: &mut Vec<Selected>) {
    let header = match s.header() {
        Ok(h) => *h,
        Err(e) => {
            hub.update(|st| {
                st.received += 1;
                st.rejected += 1;
            });
            tracing::debug!(key = s.key(), error = %e, "sample without a valid vbus header ignored");
            return;
        }
    };
    hub.update(|st| st.received += 1);
    if engine.reads_fields_of(s.key())
        && let Some(t) = s.type_name()
    {
        schemas.ensure(t).await;
    }
    schemas.poll_fetched();
    let sample = BusSample::new(
        s.key().to_owned(),
        s.type_name().map(str::to_owned),
        header.type_hash,
        header.publisher_id,
        header.seq,
        header.source_time_ns,
        s.received_ns(),
        s.payload().to_vec(),
    );
    engine.on_sample(&sample, &mut |s, f| schemas.read(s, f), out);
}

/// Selected samples -> fsynced transactions. A sample counts as accepted only after its commit.
async fn writer(
    mut rx: mpsc::Receiver<Selected>,
    store: SharedStore,
    hub: Hub,
    notify: Arc<Notify>,
    max: usize,
) {
    let mut drops_logged = 0u64;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < max {
            match rx.try_recv() {
                Ok(s) => batch.push(s),
                Err(_) => break,
            }
        }
        let recs: Vec<NewRecord> = batch
            .iter()
            .map(|s| NewRecord {
                key: s.sample.key.clone(),
                type_name: s.sample.type_name.clone(),
                type_hash: s.sample.type_hash,
                publisher: s.sample.publisher,
                seq: s.sample.seq,
                source_time_ns: s.sample.source_time_ns,
                received_ns: s.sample.received_ns,
                priority: s.priority,
                rule: s.rule.to_string(),
                payload: s.sample.payload.clone(),
            })
            .collect();
        let n = recs.len() as u64;
        match store_op(&store, move |st| st.append(&recs).map(|o| (o, st.stats()))).await {
            Ok((outcome, qs)) => {
                let mut accepted = 0;
                for (s, ok) in batch.iter().zip(&outcome.accepted) {
                    if *ok {
                        accepted += 1;
                        hub.accepted(&s.sample.key, s.sample.publisher, s.sample.seq);
                    }
                }
                if !outcome.dropped.is_empty() {
                    // Log the first drops and then every 1000th: counters carry the full story.
                    let total = qs.dropped;
                    if drops_logged == 0 || total / 1000 > drops_logged / 1000 {
                        let d = &outcome.dropped[0];
                        tracing::warn!(total, key = %d.key, priority = d.priority, "queue full: samples dropped by priority policy");
                    }
                    drops_logged = total;
                }
                hub.update(|s| {
                    s.selected += n;
                    s.accepted += accepted;
                    s.queue = qs;
                });
                notify.notify_one();
            }
            Err(e) => {
                tracing::error!(error = %e, samples = n, "queue write failed; these samples are not accepted");
                hub.update(|s| {
                    s.selected += n;
                    s.last_error = Some(e.to_string());
                });
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
