//! The bridge: mirrors the schema's `vbus_dds` topics between a vbus node and a DDS domain.
//!
//! - vbus -> DDS: a zenoh subscriber restricted to *remote* origin (so what this bridge
//!   publishes on the bus never comes back to it), header and type hash checked, payload
//!   verified and turned into XCDR2 ([`crate::cdr`]), written with `dds_writecdr`.
//! - DDS -> vbus: a reader with `ignore_local = participant` (so what this bridge writes to DDS
//!   never comes back), each sample decoded against the schema type and published as
//!   FlatBuffers with a vbus `RawPublisher` (source time = the DDS source timestamp).
//!
//! Together that is the loop prevention: a sample crosses the bridge once per direction.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Deserialize;
use vbus::zenoh::Wait;
use vbus::{Node, QoS, Reliability, wire};
use vbus_reflect::Schema;

use crate::cdr;
use crate::dds::{DdsError, DynTopic, Participant, TopicQos};

/// Which way a topic is mirrored.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Both ways.
    #[default]
    Both,
    /// vbus -> DDS only.
    ToDds,
    /// DDS -> vbus only.
    FromDds,
}

impl Direction {
    fn includes_to_dds(self) -> bool {
        self != Self::FromDds
    }
    fn includes_from_dds(self) -> bool {
        self != Self::ToDds
    }
}

/// One bridged topic.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    /// The vbus topic key (`vbus_topic` in the schema).
    pub key: String,
    /// Direction (default both).
    #[serde(default)]
    pub direction: Direction,
    /// DDS topic name (default: the vbus key).
    #[serde(default)]
    pub dds_topic: Option<String>,
    /// Treat the type as `@final` on the DDS side instead of codegen's `@appendable` (for DDS
    /// types defined elsewhere, e.g. ddsperf's `KeyedSeq`).
    #[serde(default, rename = "final")]
    pub final_type: bool,
    /// Map `ubyte` to IDL `octet` instead of codegen's `uint8` (again for foreign types).
    #[serde(default)]
    pub octet: bool,
}

/// Bridge configuration (the daemon reads it as JSON5).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// DDS domain id.
    #[serde(default)]
    pub domain_id: u32,
    /// DDS partition (none: the default partition).
    #[serde(default)]
    pub partition: Option<String>,
    /// CycloneDDS XML configuration, passed through as is (none: `CYCLONEDDS_URI`/defaults).
    #[serde(default)]
    pub cyclonedds_config: Option<String>,
    /// Topics to bridge; empty: every `vbus_dds` table of the schema, both ways.
    #[serde(default)]
    pub topics: Vec<TopicConfig>,
}

/// The XML that pins CycloneDDS to the loopback interface with multicast off (tests, demos).
pub const LOOPBACK_CONFIG: &str = "<CycloneDDS><Domain><General><Interfaces><NetworkInterface name=\"lo\"/></Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex><Peers><Peer address=\"127.0.0.1\"/></Peers></Discovery></Domain></CycloneDDS>";

/// Why the bridge could not start.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// Bad schema or configuration.
    #[error("config: {0}")]
    Config(String),
    /// A schema type the bridge cannot map.
    #[error(transparent)]
    Cdr(#[from] cdr::CdrError),
    /// CycloneDDS.
    #[error(transparent)]
    Dds(#[from] DdsError),
    /// vbus.
    #[error(transparent)]
    Bus(#[from] vbus::Error),
}

/// Counters of one bridged topic.
#[derive(Debug, Default)]
pub struct Counters {
    /// Samples written to DDS.
    pub to_dds: AtomicU64,
    /// Samples published on the bus.
    pub from_dds: AtomicU64,
    /// vbus samples refused (bad header, wrong type hash, payload not verifying, not mappable)
    /// or, on best-effort topics, dropped because the DDS side fell behind.
    pub bus_rejected: AtomicU64,
    /// DDS samples refused (CDR not matching the schema type).
    pub dds_rejected: AtomicU64,
    /// DDS readers/writers seen on this topic name with another type (by name, from the
    /// built-in discovery topics, or CycloneDDS' inconsistent-topic status); never matched.
    pub inconsistent_types: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TopicStats {
    /// See [`Counters::to_dds`].
    pub to_dds: u64,
    /// See [`Counters::from_dds`].
    pub from_dds: u64,
    /// See [`Counters::bus_rejected`].
    pub bus_rejected: u64,
    /// See [`Counters::dds_rejected`].
    pub dds_rejected: u64,
    /// See [`Counters::inconsistent_types`].
    pub inconsistent_types: u64,
}

struct Plan {
    key: String,
    type_name: String,
    type_hash: u64,
    qos: QoS,
    dds_topic: String,
    final_type: bool,
    octet: bool,
    direction: Direction,
}

struct Running {
    key: String,
    counters: Arc<Counters>,
    _topic: Arc<DynTopic>,
}

/// A running bridge. Dropping it stops it.
pub struct Bridge {
    topics: Vec<Running>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    _subs: Vec<vbus::zenoh::pubsub::Subscriber<()>>,
    /// `@sub` tokens of those subscribers (same-host publishers put on zenoh for announced ones).
    _tokens: Vec<vbus::zenoh::liveliness::LivelinessToken>,
    _participant: Arc<Participant>,
}

/// The vbus QoS of a schema table, from its `vbus_*` attributes (as codegen derives it).
pub fn qos_of(o: &vbus_reflect::Object) -> Result<QoS, BridgeError> {
    QoS::from_attributes(|k| o.attr(k)).map_err(|e| BridgeError::Config(format!("{}: {e}", o.name)))
}

/// The DDS QoS a vbus topic QoS maps to: reliability as is; KEEP_LAST(history) and, when the
/// topic keeps history for late joiners, TRANSIENT_LOCAL durability; the deadline offered by
/// the bridge's writers.
pub fn dds_qos(q: &QoS, partition: Option<String>) -> TopicQos {
    TopicQos {
        reliable: q.reliability == Reliability::Reliable,
        depth: i32::from(q.history.max(q.queue).max(1)),
        transient_local: q.history > 0,
        deadline: q.deadline,
        partition,
    }
}

fn plan(schema: &Schema, cfg: &BridgeConfig) -> Result<Vec<Plan>, BridgeError> {
    let dds_tables: Vec<&vbus_reflect::Object> =
        schema.objects.iter().filter(|o| o.attr("vbus_dds").is_some_and(|v| v != "false")).collect();
    let wanted: Vec<TopicConfig> = if cfg.topics.is_empty() {
        dds_tables
            .iter()
            .filter_map(|o| o.attr("vbus_topic"))
            .map(|k| TopicConfig {
                key: k.into(),
                direction: Direction::Both,
                dds_topic: None,
                final_type: false,
                octet: false,
            })
            .collect()
    } else {
        cfg.topics.clone()
    };
    let mut out = Vec::new();
    for t in wanted {
        let o =
            dds_tables.iter().find(|o| o.attr("vbus_topic") == Some(t.key.as_str())).ok_or_else(|| {
                BridgeError::Config(format!(
                    "no table with vbus_topic \"{}\" and vbus_dds in the schema",
                    t.key
                ))
            })?;
        cdr::check_type(schema, &o.name)?;
        let type_hash = schema
            .type_hash(&o.name)
            .ok_or_else(|| BridgeError::Config(format!("no type hash for {}", o.name)))?;
        out.push(Plan {
            key: t.key.clone(),
            type_name: o.name.clone(),
            type_hash,
            qos: qos_of(o)?,
            dds_topic: t.dds_topic.clone().unwrap_or_else(|| t.key.clone()),
            final_type: t.final_type,
            octet: t.octet,
            direction: t.direction,
        });
    }
    Ok(out)
}

impl Bridge {
    /// Start bridging `node`'s domain and DDS domain `cfg.domain_id` for the `vbus_dds` topics
    /// of `schema` (a `.bfbs`, as vbus-codegen writes it).
    pub async fn start(node: &Node, schema_bfbs: &[u8], cfg: &BridgeConfig) -> Result<Self, BridgeError> {
        let schema =
            Arc::new(Schema::from_bfbs(schema_bfbs).map_err(|e| BridgeError::Config(e.to_string()))?);
        let plans = plan(&schema, cfg)?;
        let participant = Arc::new(Participant::new(cfg.domain_id, cfg.cyclonedds_config.as_deref())?);
        let stop = Arc::new(AtomicBool::new(false));
        let mut bridge = Self {
            topics: Vec::new(),
            stop: stop.clone(),
            threads: Vec::new(),
            _subs: Vec::new(),
            _tokens: Vec::new(),
            _participant: participant.clone(),
        };
        for p in plans {
            let topic = Arc::new(DynTopic::new(
                &participant,
                &schema,
                &p.type_name,
                &p.dds_topic,
                p.final_type,
                p.octet,
                dds_qos(&p.qos, cfg.partition.clone()),
            )?);
            let counters = Arc::new(Counters::default());
            if p.direction.includes_to_dds() {
                bridge.start_to_dds(node, &schema, &p, &topic, &counters)?;
            }
            if p.direction.includes_from_dds() {
                bridge.start_from_dds(node, &schema, &p, &topic, &counters).await?;
            }
            tracing::info!(key = %p.key, dds_topic = %p.dds_topic, ty = %p.type_name, dir = ?p.direction, "bridging");
            bridge.topics.push(Running { key: p.key, counters, _topic: topic });
        }
        Ok(bridge)
    }

    fn start_to_dds(
        &mut self,
        node: &Node,
        schema: &Arc<Schema>,
        p: &Plan,
        topic: &Arc<DynTopic>,
        counters: &Arc<Counters>,
    ) -> Result<(), BridgeError> {
        let writer = topic.writer()?;
        let (tx, rx) = flume::bounded::<(Vec<u8>, Vec<u8>)>(4096);
        let c = counters.clone();
        // Reliable topics push back into the transport when the DDS side falls behind; best
        // effort ones drop (counted).
        let reliable = p.qos.reliability == Reliability::Reliable;
        let sub = node
            .session()
            .declare_subscriber(wire::data_key(node.domain(), &p.key))
            // Loop prevention: never what this node (the bridge) published itself.
            .allowed_origin(vbus::zenoh::sample::Locality::Remote)
            .callback(move |s| {
                let att = s.attachment().map(|a| a.to_bytes().into_owned()).unwrap_or_default();
                let item = (att, s.payload().to_bytes().into_owned());
                let sent = if reliable { tx.send(item).is_ok() } else { tx.try_send(item).is_ok() };
                if !sent {
                    c.bus_rejected.fetch_add(1, Ordering::Relaxed);
                }
            })
            .wait()
            .map_err(|source| vbus::Error::Transport {
                what: format!("declare the subscriber of `{}`", p.key),
                source,
            })?;
        self._subs.push(sub);
        self._tokens.push(node.announce_subscriber(&p.type_name, &p.key)?);
        let (schema, c, stop) = (schema.clone(), counters.clone(), self.stop.clone());
        let (type_name, type_hash, key, fin) =
            (p.type_name.clone(), p.type_hash, p.key.clone(), p.final_type);
        self.threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok((att, payload)) = rx.recv_timeout(Duration::from_millis(100)) else { continue };
                match bus_to_cdr(&schema, &type_name, type_hash, fin, &att, &payload) {
                    Ok(data) => match writer.write_cdr(&data) {
                        Ok(()) => {
                            c.to_dds.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            c.bus_rejected.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(%key, "DDS write failed: {e}");
                        }
                    },
                    Err(e) => {
                        c.bus_rejected.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%key, "vbus sample not bridged: {e}");
                    }
                }
            }
        }));
        Ok(())
    }

    async fn start_from_dds(
        &mut self,
        node: &Node,
        schema: &Arc<Schema>,
        p: &Plan,
        topic: &Arc<DynTopic>,
        counters: &Arc<Counters>,
    ) -> Result<(), BridgeError> {
        let reader = topic.reader()?;
        let mut publisher = node.raw_publisher(&p.key, &p.type_name, p.type_hash).qos(p.qos).create().await?;
        let (schema, c, stop, topic) = (schema.clone(), counters.clone(), self.stop.clone(), topic.clone());
        let (type_name, key, fin) = (p.type_name.clone(), p.key.clone(), p.final_type);
        self.threads.push(std::thread::spawn(move || {
            let mut batch = Vec::new();
            let mut inconsistent = 0;
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = reader.take(Duration::from_millis(100), &mut batch) {
                    tracing::warn!(%key, "DDS take failed: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                let now = topic.inconsistent_count();
                if now != inconsistent {
                    inconsistent = now;
                    c.inconsistent_types.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%key, "a DDS peer uses this topic with a type not assignable to {type_name}");
                }
                for other in topic.foreign_types() {
                    c.inconsistent_types.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%key, "a DDS peer uses this topic with type `{other}`, not the schema's {type_name}: not bridged");
                }
                for s in batch.drain(..) {
                    let fb = cdr::decode(&schema, &type_name, &s.data, fin)
                        .map_err(|e| e.to_string())
                        .and_then(|json| vbus_reflect::encode_from_json(&schema, &type_name, &json).map_err(|e| e.to_string()));
                    match fb {
                        Ok(fb) => {
                            let t = u64::try_from(s.source_time_ns).unwrap_or_else(|_| wire::now_ns());
                            match publisher.publish_at(&fb, t) {
                                Ok(()) => {
                                    c.from_dds.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(e) => tracing::warn!(%key, "vbus publish failed: {e}"),
                            }
                        }
                        Err(e) => {
                            c.dds_rejected.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(%key, "DDS sample does not match {type_name}, not bridged: {e}");
                        }
                    }
                }
            }
        }));
        Ok(())
    }

    /// Counters of bridged topic `key`.
    pub fn stats(&self, key: &str) -> Option<TopicStats> {
        let t = self.topics.iter().find(|t| t.key == key)?;
        let c = &t.counters;
        Some(TopicStats {
            to_dds: c.to_dds.load(Ordering::Relaxed),
            from_dds: c.from_dds.load(Ordering::Relaxed),
            bus_rejected: c.bus_rejected.load(Ordering::Relaxed),
            dds_rejected: c.dds_rejected.load(Ordering::Relaxed),
            inconsistent_types: c.inconsistent_types.load(Ordering::Relaxed),
        })
    }

    /// The bridged vbus keys.
    pub fn keys(&self) -> Vec<String> {
        self.topics.iter().map(|t| t.key.clone()).collect()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A vbus sample (header attachment + FlatBuffers payload) as XCDR2 of the schema type.
pub fn bus_to_cdr(
    schema: &Schema,
    type_name: &str,
    type_hash: u64,
    final_type: bool,
    attachment: &[u8],
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    let h = wire::Header::decode(attachment).map_err(|e| format!("header: {e}"))?;
    if h.type_hash != type_hash {
        return Err(format!(
            "type hash {:#018x}, the schema's {type_name} is {type_hash:#018x}",
            h.type_hash
        ));
    }
    let json = vbus_reflect::decode_to_json(schema, type_name, payload).map_err(|e| e.to_string())?;
    cdr::encode(schema, type_name, &json, final_type).map_err(|e| e.to_string())
}
