//! The bridge: CAN frames -> typed bus samples, and allowlisted bus requests -> CAN frames.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use serde::Serialize;
use vbus::{Node, RawPublisher, RawSample};
use vbus_dbc::{Database, DecodePlan, RangeCheck, Value, fbs::TableSpec};

use crate::{
    CanFrame, CanInterface, Error, SchemaError,
    config::{BusConfig, ChecksumConfig},
    table::{self, TableEncoder},
};

/// What one bus bridge did; published periodically as JSON and returned at the end.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct BusStats {
    /// Bus name.
    pub bus: String,
    /// Interface description.
    pub source: String,
    /// Frames received.
    pub frames: u64,
    /// Frames decoded and published.
    pub published: u64,
    /// Samples published per message (messages seen at least once), e.g. to check a topic's
    /// count against what a subscriber received.
    pub published_by_message: BTreeMap<String, u64>,
    /// Frames whose ID the DBC does not know.
    pub unknown_frames: u64,
    /// Unknown frames per ID (`"0x123"` or `"0x12345678x"` for 29-bit), at most 64 IDs listed.
    pub unknown_ids: BTreeMap<String, u64>,
    /// Frames of known IDs that failed to decode.
    pub decode_errors: u64,
    /// Decode errors per message.
    pub decode_errors_by_message: BTreeMap<String, u64>,
    /// Signal timeouts raised (a watched message silent past its timeout).
    pub timeouts: u64,
    /// Messages in timeout now.
    pub timed_out: Vec<String>,
    /// Frames written to CAN from bus requests.
    pub written: u64,
    /// Bus requests refused (message not allowlisted, wrong type).
    pub write_refused: u64,
    /// Refusals per message.
    pub write_refused_by_message: BTreeMap<String, u64>,
    /// Bus requests that failed (invalid payload, out of range, interface error).
    pub write_errors: u64,
    /// The source ended (end of a replayed log).
    pub ended: bool,
}

/// Log the first few occurrences of something, then every power of two, so a flood of bad
/// frames cannot flood the log.
fn should_log(count: u64) -> bool {
    count <= 5 || count.is_power_of_two()
}

fn id_label(id: u32, extended: bool) -> String {
    if extended { format!("0x{id:08X}x") } else { format!("0x{id:03X}") }
}

struct Watch {
    timeout: Option<Duration>,
    last_seen: Option<Instant>,
    timed_out: bool,
}

/// One CAN bus bridged to the bus.
pub struct BusBridge {
    node: Node,
    cfg: BusConfig,
    db: Database,
    plan: DecodePlan,
    specs: Vec<TableSpec>,
    by_id: HashMap<(u32, bool), usize>,
    by_key_name: HashMap<String, usize>,
    publishers: Vec<Option<RawPublisher>>,
    values: Vec<Option<Value>>,
    encoder: TableEncoder,
    watches: Vec<Watch>,
    alive: Vec<u64>,
    qos: vbus::QoS,
    started: Instant,
    stats: BusStats,
    /// Published samples per message index (the hot path counts here, with no map lookup).
    published_per_message: Vec<u64>,
}

impl BusBridge {
    /// Load the DBC and prepare the per-message tables. Errors name the DBC and the line.
    pub fn new(node: Node, cfg: BusConfig) -> Result<Self, Error> {
        let bus = || cfg.name.clone();
        let db = Database::from_file(&cfg.dbc)?;
        for w in &db.warnings {
            tracing::warn!(dbc = %cfg.dbc.display(), "{w}");
        }
        let plan = db.decode_plan();
        let specs = vbus_dbc::fbs::tables(&db, &cfg.name);
        let mut by_id = HashMap::new();
        let mut by_key_name = HashMap::new();
        let mut watches = Vec::new();
        for (i, (m, spec)) in db.messages().iter().zip(&specs).enumerate() {
            // First definition wins, as in the decode plan.
            by_id.entry((m.id, m.extended)).or_insert(i);
            let key_name = spec.key.rsplit('/').next().unwrap_or_default().to_owned();
            by_key_name.entry(key_name).or_insert(i);
            let explicit = cfg.timeouts_ms.get(&m.name).map(|ms| Duration::from_millis(*ms));
            let from_dbc =
                m.cycle_time_ms.filter(|c| *c > 0).map(|c| Duration::from_millis(3 * u64::from(c)));
            watches.push(Watch { timeout: explicit.or(from_dbc), last_seen: None, timed_out: false });
        }
        let wb = &cfg.write_back;
        for name in
            cfg.timeouts_ms.keys().chain(&wb.allow).chain(wb.counters.keys()).chain(wb.checksums.keys())
        {
            if db.message_by_name(name).is_none() {
                return Err(Error::UnknownMessage {
                    bus: bus(),
                    message: name.clone(),
                    dbc: cfg.dbc.clone(),
                });
            }
        }
        for (msg, ck) in &wb.checksums {
            check_checksum_signal(&db, &cfg.name, msg, ck)?;
        }
        for (msg, sig) in &wb.counters {
            let m = db.message_by_name(msg).expect("checked above");
            if !m.signals.iter().any(|s| &s.name == sig) {
                return Err(Error::UnknownSignal {
                    bus: bus(),
                    role: "counter",
                    signal: sig.clone(),
                    message: msg.clone(),
                });
            }
        }
        if let Some(path) = &cfg.schema {
            serve_schemas(&node, &cfg.name, &specs, path)?;
        }
        let max_signals = db.messages().iter().map(|m| m.signals.len()).max().unwrap_or(0);
        let n = db.messages().len();
        let qos = cfg.qos().map_err(|source| Error::BusConfig { bus: bus(), source })?;
        Ok(Self {
            stats: BusStats { bus: cfg.name.clone(), ..Default::default() },
            published_per_message: vec![0; n],
            node,
            cfg,
            db,
            plan,
            specs,
            by_id,
            by_key_name,
            publishers: (0..n).map(|_| None).collect(),
            values: vec![None; max_signals],
            encoder: TableEncoder::default(),
            watches,
            alive: vec![0; n],
            qos,
            started: Instant::now(),
        })
    }

    /// The table specs, in DBC message order.
    pub fn specs(&self) -> &[TableSpec] {
        &self.specs
    }

    /// Run until `shutdown` flips to true, or (with `exit_at_end`) the source ends.
    pub async fn run<I: CanInterface>(
        mut self,
        mut iface: I,
        stats_period: Duration,
        exit_at_end: bool,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<BusStats, Error> {
        self.stats.source = iface.describe();
        let tx = self
            .node
            .raw_subscriber(&format!("can/{}/tx/**", self.cfg.name))
            .queue(256)
            .create()
            .await
            .map_err(|source| Error::Endpoint { bus: self.cfg.name.clone(), source })?;
        let stats_key = vbus::wire::bridge_key(self.node.domain(), &format!("can/{}/stats", self.cfg.name));
        let mut stats_tick = tokio::time::interval(stats_period);
        let mut watch_tick = tokio::time::interval(Duration::from_millis(10));
        tracing::info!(bus = %self.cfg.name, source = %self.stats.source, messages = self.specs.len(), "CAN bridge running");
        let mut ended = false;
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                frame = iface.recv(), if !ended => match frame {
                    Ok(Some(f)) => self.on_frame(&f).await,
                    Ok(None) => {
                        ended = true;
                        self.stats.ended = true;
                        tracing::info!(bus = %self.cfg.name, frames = self.stats.frames, "source ended");
                        if exit_at_end {
                            break;
                        }
                    }
                    Err(source) => return Err(Error::Source { bus: self.cfg.name.clone(), source }),
                },
                req = tx.recv() => {
                    if let Ok(req) = req {
                        self.on_write_request(&req, &mut iface).await;
                    }
                }
                _ = stats_tick.tick() => self.publish_stats(&stats_key),
                _ = watch_tick.tick() => self.check_timeouts(),
            }
        }
        self.publish_stats(&stats_key);
        Ok(self.stats)
    }

    /// Bring the per-message counts into `stats` (done when they are published or returned).
    fn sync_counts(&mut self) {
        for (i, n) in self.published_per_message.iter().enumerate().filter(|(_, n)| **n > 0) {
            let name = &self.db.messages()[i].name;
            match self.stats.published_by_message.get_mut(name) {
                Some(c) => *c = *n,
                None => {
                    self.stats.published_by_message.insert(name.clone(), *n);
                }
            }
        }
    }

    async fn on_frame(&mut self, f: &CanFrame) {
        self.stats.frames += 1;
        let Some(&mi) = self.by_id.get(&(f.id, f.extended)) else {
            self.stats.unknown_frames += 1;
            let label = id_label(f.id, f.extended);
            if self.stats.unknown_ids.len() < 64 || self.stats.unknown_ids.contains_key(&label) {
                *self.stats.unknown_ids.entry(label).or_default() += 1;
            }
            if should_log(self.stats.unknown_frames) {
                tracing::debug!(bus = %self.cfg.name, id = %id_label(f.id, f.extended), "frame with unknown ID");
            }
            return;
        };
        let plan = self.plan.message(f.id, f.extended).expect("indexed message has a plan");
        let n = plan.signal_count();
        let values = &mut self.values[..n];
        values.fill(None);
        if let Err(e) = plan.decode_into(f.data(), values) {
            self.stats.decode_errors += 1;
            let count = self.stats.decode_errors_by_message.entry(plan.name().to_owned()).or_default();
            *count += 1;
            if should_log(*count) {
                tracing::warn!(bus = %self.cfg.name, message = plan.name(), frame = %f, count = *count, "decode error: {e}");
            }
            return;
        }
        let spec = &self.specs[mi];
        let publisher = match &mut self.publishers[mi] {
            Some(p) => p,
            slot @ None => match self
                .node
                .raw_publisher(&spec.key, &spec.type_name(), spec.type_hash())
                .qos(self.qos)
                .create()
                .await
            {
                Ok(p) => slot.insert(p),
                Err(e) => {
                    tracing::error!(key = %spec.key, "cannot declare publisher: {e}");
                    return;
                }
            },
        };
        let payload = self.encoder.encode(spec, &self.values[..n]);
        let at = f.timestamp_ns.unwrap_or_else(vbus::wire::now_ns);
        match publisher.publish_at(payload, at) {
            Ok(()) => {
                self.stats.published += 1;
                self.published_per_message[mi] += 1;
            }
            Err(e) => tracing::warn!(key = %spec.key, "publish failed: {e}"),
        }
        let w = &mut self.watches[mi];
        w.last_seen = Some(Instant::now());
        if w.timed_out {
            w.timed_out = false;
            tracing::info!(bus = %self.cfg.name, message = plan.name(), "message back after timeout");
        }
    }

    fn check_timeouts(&mut self) {
        let now = Instant::now();
        for (mi, w) in self.watches.iter_mut().enumerate() {
            let Some(timeout) = w.timeout else { continue };
            let explicit = self.cfg.timeouts_ms.contains_key(&self.db.messages()[mi].name);
            // Watch messages once seen; explicitly configured ones from the start.
            let since = match (w.last_seen, explicit) {
                (Some(t), _) => t,
                (None, true) => self.started,
                (None, false) => continue,
            };
            if !w.timed_out && now.duration_since(since) > timeout {
                w.timed_out = true;
                self.stats.timeouts += 1;
                let name = &self.db.messages()[mi].name;
                tracing::warn!(bus = %self.cfg.name, message = %name, ?timeout, "signal timeout");
                let event = serde_json::json!({
                    "event": "timeout", "bus": self.cfg.name, "message": name,
                    "key": self.specs[mi].key, "timeout_ms": timeout.as_millis() as u64,
                });
                let key =
                    vbus::wire::bridge_key(self.node.domain(), &format!("can/{}/events", self.cfg.name));
                use vbus::zenoh::Wait;
                let _ = self.node.session().put(key, event.to_string()).wait();
            }
        }
        self.stats.timed_out = self
            .watches
            .iter()
            .enumerate()
            .filter(|(_, w)| w.timed_out)
            .map(|(i, _)| self.db.messages()[i].name.clone())
            .collect();
    }

    fn refuse(&mut self, message: &str, why: &str) {
        self.stats.write_refused += 1;
        let count = self.stats.write_refused_by_message.entry(message.to_owned()).or_default();
        *count += 1;
        if should_log(*count) {
            tracing::warn!(bus = %self.cfg.name, message, count = *count, "write-back refused: {why}");
        }
    }

    async fn on_write_request<I: CanInterface>(&mut self, req: &RawSample, iface: &mut I) {
        let prefix = format!("can/{}/tx/", self.cfg.name);
        let name = req.key().strip_prefix(&prefix).unwrap_or(req.key()).to_owned();
        let Some(&mi) = self.by_key_name.get(&name) else {
            return self.refuse(&name, "no such message in the DBC");
        };
        let msg_name = self.db.messages()[mi].name.clone();
        if !self.cfg.write_back.allow.contains(&msg_name) {
            return self.refuse(&msg_name, "not on the write-back allowlist");
        }
        let spec = &self.specs[mi];
        match req.header() {
            Ok(h) if h.type_hash == spec.type_hash() => {}
            Ok(h) => {
                let why = format!(
                    "type hash {:#018x}, expected {:#018x} ({})",
                    h.type_hash,
                    spec.type_hash(),
                    spec.type_name()
                );
                return self.refuse(&msg_name, &why);
            }
            Err(e) => return self.refuse(&msg_name, &e.to_string()),
        }
        let m = &self.db.messages()[mi];
        let plan = self.plan.message(m.id, m.extended).expect("plan");
        let n = plan.signal_count();
        let mut values = vec![None; n];
        if let Err(e) = table::decode(spec, req.payload(), &mut values) {
            self.stats.write_errors += 1;
            tracing::warn!(bus = %self.cfg.name, message = %msg_name, "write-back: {e}");
            return;
        }
        if let Some(sig) = self.cfg.write_back.counters.get(&msg_name)
            && let Some(i) = plan.signal_index(sig)
        {
            let bits = m.signals[i].length.min(63);
            self.alive[mi] = (self.alive[mi] + 1) % (1u64 << bits);
            values[i] = Some(Value::Int(self.alive[mi].into()));
        }
        let mut data = vec![0u8; m.size];
        if let Err(e) = plan.encode(&values, &mut data, RangeCheck::Full) {
            self.stats.write_errors += 1;
            tracing::warn!(bus = %self.cfg.name, message = %msg_name, "write-back: {e}");
            return;
        }
        if let Some(ck) = self.cfg.write_back.checksums.get(&msg_name)
            && let Some(i) = plan.signal_index(&ck.signal)
        {
            let byte = usize::from(m.signals[i].start_bit / 8);
            data[byte] = ck.algorithm.compute(&data, byte);
        }
        let Some(frame) = CanFrame::new(m.id, m.extended, m.is_fd || data.len() > 8, &data) else {
            self.stats.write_errors += 1;
            return;
        };
        match iface.send(&frame).await {
            Ok(()) => self.stats.written += 1,
            Err(e) => {
                self.stats.write_errors += 1;
                tracing::warn!(bus = %self.cfg.name, message = %msg_name, "write-back: {e}");
            }
        }
    }

    fn publish_stats(&mut self, key: &str) {
        use vbus::zenoh::Wait;
        self.sync_counts();
        if let Ok(json) = serde_json::to_string(&self.stats) {
            let _ = self.node.session().put(key, json).wait();
        }
    }
}

/// A checksum must be an 8-bit, byte-aligned signal: the bridge writes whole bytes.
fn check_checksum_signal(db: &Database, bus: &str, msg: &str, ck: &ChecksumConfig) -> Result<(), Error> {
    let m = db.message_by_name(msg).expect("checked by the caller");
    let s = m.signals.iter().find(|s| s.name == ck.signal).ok_or_else(|| Error::UnknownSignal {
        bus: bus.to_owned(),
        role: "checksum",
        signal: ck.signal.clone(),
        message: msg.to_owned(),
    })?;
    let aligned = match s.byte_order {
        vbus_dbc::ByteOrder::LittleEndian => s.start_bit % 8 == 0,
        vbus_dbc::ByteOrder::BigEndian => s.start_bit % 8 == 7,
    };
    if s.length != 8 || !aligned {
        return Err(Error::ChecksumSignal {
            bus: bus.to_owned(),
            message: msg.to_owned(),
            signal: ck.signal.clone(),
            start_bit: s.start_bit,
            length: s.length,
        });
    }
    Ok(())
}

/// Serve the schema of every message of the bus from the `.bfbs` vbus-codegen generated from the
/// same DBC, after checking that it describes exactly these tables (same type hashes).
fn serve_schemas(node: &Node, bus: &str, specs: &[TableSpec], path: &std::path::Path) -> Result<(), Error> {
    for (spec, sub) in specs.iter().zip(schema_subsets(specs, path)?) {
        node.serve_schema_bytes(&spec.type_name(), spec.type_hash(), sub.into())
            .map_err(|source| Error::Endpoint { bus: bus.to_owned(), source })?;
    }
    Ok(())
}

/// The per-message schemas (one `.bfbs` each, in `specs` order) cut from the file at `path`.
fn schema_subsets(specs: &[TableSpec], path: &std::path::Path) -> Result<Vec<Vec<u8>>, SchemaError> {
    let path_buf = || path.to_path_buf();
    let bfbs = std::fs::read(path).map_err(|source| SchemaError::Read { path: path_buf(), source })?;
    let invalid = |source| SchemaError::Invalid { path: path_buf(), source };
    let schema = vbus_reflect::Schema::from_bfbs(&bfbs).map_err(invalid)?;
    let mut names = Vec::with_capacity(specs.len());
    for spec in specs {
        let (type_name, expected) = (spec.type_name(), spec.type_hash());
        match schema.type_hash(&type_name) {
            Some(found) if found == expected => names.push(type_name),
            Some(found) => {
                return Err(SchemaError::HashMismatch { path: path_buf(), type_name, found, expected });
            }
            None => return Err(SchemaError::MissingType { path: path_buf(), type_name }),
        }
    }
    let roots: Vec<&str> = names.iter().map(String::as_str).collect();
    vbus_reflect::subsets_bfbs(&bfbs, &roots).map_err(invalid)
}
