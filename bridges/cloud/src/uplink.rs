//! Sending queued samples to the cloud: MQTT (QoS 1) or the local file sink.
//!
//! Delivery contract: a record leaves the queue only when the broker acknowledged the batch that
//! carried it (PUBACK) or the file sink fsynced it. On a lost connection every unacknowledged
//! record is sent again from the oldest, so the cloud sees each sample at least once, in queue
//! order per topic; a sample can appear twice only around a reconnect (its PUBACK was lost), and
//! `(publisher, seq)` or `(store, id)` tells the copies apart.

use std::{
    collections::{HashMap, VecDeque},
    io::Write,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, QoS, Transport};
use tokio::{
    sync::{Notify, mpsc, watch},
    time::Instant,
};

use crate::{
    Error,
    config::{MqttConfig, TlsConfig, UplinkConfig},
    downlink::Downlink,
    format::{Batch, CloudSample, FORMAT_VERSION, Reply, encode_batch},
    stats::Hub,
    store::{Record, Store},
};

/// The queue, shared by the writer and the uplink; used from blocking threads only.
pub(crate) type SharedStore = Arc<Mutex<Store>>;

/// Run `f` on the store in a blocking thread (SQLite calls block, fsync especially).
pub(crate) async fn store_op<R: Send + 'static>(
    store: &SharedStore,
    f: impl FnOnce(&mut Store) -> R + Send + 'static,
) -> R {
    let s = store.clone();
    tokio::task::spawn_blocking(move || f(&mut s.lock().expect("store lock")))
        .await
        .expect("store operation panicked")
}

/// What the uplink needs from the bridge.
pub(crate) struct Ctx {
    pub store: SharedStore,
    pub hub: Hub,
    /// Signalled by the writer after each commit.
    pub notify: Arc<Notify>,
    pub vehicle: String,
    pub store_id: String,
    pub cfg: UplinkConfig,
    /// `Some(deadline)` once shutdown began: send what is queued until then, then stop.
    pub drain: watch::Receiver<Option<Instant>>,
}

impl Ctx {
    fn deadline(&self) -> Option<Instant> {
        *self.drain.borrow()
    }

    /// Take the next batch if one should go now. Like Nagle: a partial batch goes at once only
    /// when nothing is in flight; otherwise it waits to fill while earlier batches are acked.
    async fn next_batch(&self, in_flight: usize) -> Result<Option<(Vec<u8>, Vec<u64>, usize)>, Error> {
        let (max_n, max_b) = (self.cfg.batch_max_samples, self.cfg.batch_max_bytes);
        let draining = self.deadline().is_some();
        let taken = store_op(&self.store, move |s| {
            let (n, b) = s.pending();
            if n == 0 || (in_flight > 0 && !draining && (n as usize) < max_n && (b as usize) < max_b) {
                return Ok(None);
            }
            let recs = s.take_batch(max_n, max_b)?;
            Ok::<_, Error>(Some((recs, s.stats().dropped)))
        })
        .await?;
        let Some((recs, dropped)) = taken else { return Ok(None) };
        if recs.is_empty() {
            return Ok(None);
        }
        let ids = recs.iter().map(|r| r.id).collect();
        let n = recs.len();
        let bytes = encode_batch(&self.batch(recs, dropped), self.cfg.compression, self.cfg.zstd_level);
        Ok(Some((bytes, ids, n)))
    }

    fn batch(&self, recs: Vec<Record>, dropped: u64) -> Batch {
        Batch {
            v: FORMAT_VERSION,
            vehicle: self.vehicle.clone(),
            store: self.store_id.clone(),
            sent_ns: vbus::wire::now_ns(),
            dropped,
            samples: recs
                .into_iter()
                .map(|r| CloudSample {
                    id: r.id,
                    key: r.rec.key,
                    type_name: r.rec.type_name,
                    type_hash: r.rec.type_hash,
                    publisher: r.rec.publisher,
                    seq: r.rec.seq,
                    t: r.rec.source_time_ns,
                    rule: r.rec.rule,
                    prio: r.rec.priority,
                    data: r.rec.payload,
                })
                .collect(),
        }
    }

    async fn acked(&self, ids: Vec<u64>, bytes: usize) -> Result<(), Error> {
        let n = ids.len() as u64;
        let qs = store_op(&self.store, move |s| s.remove(&ids).map(|_| s.stats())).await?;
        self.hub.update(|s| {
            s.uplink.batches_acked += 1;
            s.uplink.samples_acked += n;
            s.uplink.bytes_acked += bytes as u64;
            s.queue = qs;
        });
        Ok(())
    }

    async fn rewind(&self) {
        store_op(&self.store, |s| s.rewind()).await;
    }
}

/// The file sink: append each batch, fsync, then drop it from the queue.
pub(crate) async fn run_file(ctx: Ctx, path: PathBuf, file: std::fs::File) {
    let file = Arc::new(Mutex::new(file));
    ctx.hub.update(|s| s.uplink.connected = true);
    let mut drain = ctx.drain.clone();
    loop {
        let deadline = ctx.deadline();
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let next = match ctx.next_batch(0).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "queue read failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some((bytes, ids, _)) = next else {
            if deadline.is_some() {
                break;
            }
            tokio::select! {
                _ = ctx.notify.notified() => {}
                _ = drain.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        };
        let len = bytes.len();
        ctx.hub.update(|s| {
            s.uplink.batches_sent += 1;
            s.uplink.bytes_sent += len as u64;
        });
        let f = file.clone();
        let written = tokio::task::spawn_blocking(move || {
            let mut f = f.lock().expect("sink file lock");
            f.write_all(&bytes)?;
            f.sync_data()
        })
        .await
        .expect("sink write panicked");
        match written {
            Ok(()) => {
                if let Err(e) = ctx.acked(ids, len).await {
                    tracing::error!(error = %e, "cannot remove sent samples from the queue");
                }
            }
            Err(e) => {
                let msg = format!("{}: {e}", path.display());
                tracing::error!(error = %msg, "file sink write failed; retrying");
                ctx.hub.update(|s| s.uplink.last_error = Some(msg));
                ctx.rewind().await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    ctx.hub.update(|s| s.uplink.connected = false);
}

/// MQTT topics of one vehicle.
#[derive(Clone)]
pub(crate) struct Topics {
    pub data: String,
    pub status: String,
    pub cmd: String,
    pub reply: String,
}

impl Topics {
    pub(crate) fn new(prefix: &str, vehicle: &str) -> Self {
        let base = format!("{}/{vehicle}", prefix.trim_end_matches('/'));
        Self {
            data: format!("{base}/data"),
            status: format!("{base}/status"),
            cmd: format!("{base}/cmd"),
            reply: format!("{base}/cmd/reply"),
        }
    }
}

/// Build the rustls client configuration (ring provider) from the TLS settings.
pub(crate) fn tls_config(t: &TlsConfig) -> Result<Arc<rustls::ClientConfig>, Error> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let err = |what: &std::path::Path, e: &dyn std::fmt::Display| {
        Error::Uplink(format!("TLS: {}: {e}", what.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    match &t.ca_file {
        Some(ca) => {
            for cert in CertificateDer::pem_file_iter(ca).map_err(|e| err(ca, &e))? {
                roots.add(cert.map_err(|e| err(ca, &e))?).map_err(|e| err(ca, &e))?;
            }
            if roots.is_empty() {
                return Err(err(ca, &"no certificate in the file"));
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(Error::Uplink(
                    "TLS: no `ca_file` given and no system root certificates found".into(),
                ));
            }
        }
    }
    let builder =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Uplink(format!("TLS: {e}")))?
            .with_root_certificates(roots);
    let cfg = match (&t.client_cert_file, &t.client_key_file) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| err(cert, &e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(cert, &e))?;
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| err(key, &e))?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| err(cert, &e))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(cfg))
}

/// A batch handed to the client, waiting for its PUBACK.
struct Sent {
    ids: Vec<u64>,
    bytes: usize,
}

enum SessionEnd {
    /// Shutdown: done (sent everything, or the grace period is over).
    Finished,
    /// The connection failed or was lost.
    Lost(String),
}

/// Everything the MQTT loop needs besides [`Ctx`].
pub(crate) struct MqttLink {
    pub cfg: MqttConfig,
    pub client_id: String,
    pub topics: Topics,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub downlink: Downlink,
    pub replies: mpsc::UnboundedReceiver<Reply>,
}

impl MqttLink {
    fn options(&self, ctx: &Ctx) -> MqttOptions {
        let host = self.cfg.host.clone().expect("mqtt link only with a host");
        let mut o = MqttOptions::new(self.client_id.clone(), host, self.cfg.port);
        o.set_keep_alive(Duration::from_secs(self.cfg.keep_alive_s.max(5)));
        // The queue on disk is the source of truth; no broker-side session is relied on (commands
        // sent while the vehicle is offline are not replayed later, when they may be stale).
        o.set_clean_session(true);
        // Outgoing: MQTT's own maximum, so that one large sample can never block the queue.
        o.set_max_packet_size(1 << 20, 268_435_455);
        // Our batches plus room for status and command replies, so rumqttc never stalls requests.
        o.set_inflight(self.cfg.max_inflight.saturating_add(32));
        o.set_last_will(LastWill::new(&self.topics.status, status_json(ctx, false), QoS::AtLeastOnce, true));
        if let Some(user) = &self.cfg.username {
            o.set_credentials(user.clone(), self.cfg.password.clone().unwrap_or_default());
        }
        if let Some(tls) = &self.tls {
            o.set_transport(Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(tls.clone())));
        }
        o
    }

    pub(crate) async fn run(mut self, ctx: Ctx) {
        let mut backoff = Duration::from_millis(self.cfg.reconnect_min_ms);
        let max_backoff = Duration::from_millis(self.cfg.reconnect_max_ms);
        let mut drain = ctx.drain.clone();
        loop {
            if ctx.deadline().is_some_and(|d| Instant::now() >= d) {
                break;
            }
            let opts = self.options(&ctx);
            let cap = self.cfg.max_inflight as usize + 64;
            let (client, mut eventloop) = AsyncClient::new(opts, cap);
            // The event loop runs in its own task: `poll` is then never cancelled half-way by
            // the `select!` below.
            let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
            let pump = tokio::spawn(async move {
                loop {
                    let ev = eventloop.poll().await;
                    let end = ev.is_err();
                    if ev_tx.send(ev).is_err() || end {
                        break;
                    }
                }
            });
            let end = self.session(&ctx, &client, &mut ev_rx, &mut backoff).await;
            pump.abort();
            ctx.rewind().await;
            let was_connected = ctx.hub.update(|s| std::mem::replace(&mut s.uplink.connected, false));
            match end {
                SessionEnd::Finished => break,
                SessionEnd::Lost(reason) => {
                    tracing::warn!(%reason, retry_in = ?backoff, "MQTT connection lost or refused");
                    ctx.hub.update(|s| {
                        if was_connected {
                            s.uplink.disconnects += 1;
                        }
                        s.uplink.last_error = Some(reason);
                    });
                }
            }
            let wake = Instant::now() + backoff;
            let wake = ctx.deadline().map_or(wake, |d| wake.min(d));
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                _ = drain.changed() => {}
            }
            backoff = (backoff * 2).min(max_backoff);
        }
    }

    async fn session(
        &mut self,
        ctx: &Ctx,
        client: &AsyncClient,
        events: &mut mpsc::UnboundedReceiver<Result<Event, rumqttc::ConnectionError>>,
        backoff: &mut Duration,
    ) -> SessionEnd {
        let mut connected = false;
        // Publishes handed to the client, in order, waiting for their packet id (None: not a batch).
        let mut awaiting_pkid: VecDeque<Option<Sent>> = VecDeque::new();
        let mut by_pkid: HashMap<u16, Sent> = HashMap::new();
        let mut in_flight = 0usize;
        let max_inflight = self.cfg.max_inflight as usize;
        let mut drain = ctx.drain.clone();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            if connected {
                while in_flight < max_inflight {
                    let next = match ctx.next_batch(in_flight).await {
                        Ok(n) => n,
                        Err(e) => {
                            tracing::error!(error = %e, "queue read failed");
                            None
                        }
                    };
                    let Some((bytes, ids, n)) = next else { break };
                    let len = bytes.len();
                    if let Err(e) = client.try_publish(&self.topics.data, QoS::AtLeastOnce, false, bytes) {
                        return SessionEnd::Lost(format!("MQTT client: {e}"));
                    }
                    tracing::trace!(samples = n, bytes = len, "batch handed to MQTT");
                    awaiting_pkid.push_back(Some(Sent { ids, bytes: len }));
                    in_flight += 1;
                    ctx.hub.update(|s| {
                        s.uplink.batches_sent += 1;
                        s.uplink.bytes_sent += len as u64;
                    });
                }
                if let Some(deadline) = ctx.deadline() {
                    let empty = in_flight == 0 && store_op(&ctx.store, |s| s.pending().0 == 0).await;
                    if empty || Instant::now() >= deadline {
                        self.goodbye(ctx, client, events).await;
                        return SessionEnd::Finished;
                    }
                }
            } else if ctx.deadline().is_some_and(|d| Instant::now() >= d) {
                return SessionEnd::Finished;
            }
            tokio::select! {
                ev = events.recv() => match ev {
                    None => return SessionEnd::Lost("MQTT event loop ended".into()),
                    Some(Err(e)) => return SessionEnd::Lost(e.to_string()),
                    Some(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                        connected = true;
                        *backoff = Duration::from_millis(self.cfg.reconnect_min_ms);
                        tracing::info!(client_id = %self.client_id, "MQTT connected");
                        if let Err(e) = client.try_subscribe(&self.topics.cmd, QoS::AtLeastOnce) {
                            return SessionEnd::Lost(format!("MQTT client: {e}"));
                        }
                        if let Err(e) = client.try_publish(&self.topics.status, QoS::AtLeastOnce, true, status_json(ctx, true)) {
                            return SessionEnd::Lost(format!("MQTT client: {e}"));
                        }
                        awaiting_pkid.push_back(None);
                        ctx.hub.update(|s| {
                            s.uplink.connected = true;
                            s.uplink.connects += 1;
                        });
                    }
                    Some(Ok(Event::Outgoing(Outgoing::Publish(pkid)))) => {
                        if let Some(Some(sent)) = awaiting_pkid.pop_front() {
                            by_pkid.insert(pkid, sent);
                        }
                    }
                    Some(Ok(Event::Incoming(Packet::PubAck(ack)))) => {
                        if let Some(sent) = by_pkid.remove(&ack.pkid) {
                            in_flight -= 1;
                            if let Err(e) = ctx.acked(sent.ids, sent.bytes).await {
                                tracing::error!(error = %e, "cannot remove acknowledged samples from the queue");
                            }
                        }
                    }
                    Some(Ok(Event::Incoming(Packet::Publish(p)))) => {
                        if p.topic == self.topics.cmd {
                            self.downlink.handle(&p.payload);
                        }
                    }
                    Some(Ok(_)) => {}
                },
                _ = ctx.notify.notified(), if connected && in_flight < max_inflight => {}
                Some(reply) = self.replies.recv(), if connected => {
                    let json = serde_json::to_vec(&reply).expect("a reply always serializes");
                    if let Err(e) = client.try_publish(&self.topics.reply, QoS::AtLeastOnce, false, json) {
                        return SessionEnd::Lost(format!("MQTT client: {e}"));
                    }
                    awaiting_pkid.push_back(None);
                }
                _ = drain.changed() => {}
                _ = tick.tick() => {}
            }
        }
    }

    /// Clean shutdown: mark the vehicle offline (retained) and disconnect, so the broker does not
    /// publish the last will.
    async fn goodbye(
        &self,
        ctx: &Ctx,
        client: &AsyncClient,
        events: &mut mpsc::UnboundedReceiver<Result<Event, rumqttc::ConnectionError>>,
    ) {
        let _ = client.try_publish(&self.topics.status, QoS::AtLeastOnce, true, status_json(ctx, false));
        let _ = client.try_disconnect();
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(ev)) = events.recv().await {
                if matches!(ev, Event::Outgoing(Outgoing::Disconnect)) {
                    break;
                }
            }
        })
        .await;
    }
}

fn status_json(ctx: &Ctx, online: bool) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "online": online,
        "vehicle": ctx.vehicle,
        "store": ctx.store_id,
        "t": vbus::wire::now_ns(),
    }))
    .expect("status serializes")
}
