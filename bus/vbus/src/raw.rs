//! Untyped access for bridges and tools: samples of any type under a key expression, with the
//! header parsed but the payload left as bytes (no compiled schema needed).

use std::sync::Arc;

use zenoh::Wait;

use crate::{
    Closed, Error, PublishError, TopicStats,
    node::Node,
    publisher::Tx,
    sample::Payload,
    stats::{Counters, Role, send_drop_oldest},
    wire::{self, Header, HeaderError},
};

/// A sample seen without its compiled type.
#[derive(Clone)]
pub struct RawSample {
    key: String,
    type_name: Option<String>,
    header: Result<Header, HeaderError>,
    payload: Payload,
    received_ns: u64,
}

impl RawSample {
    /// Topic key relative to the domain (e.g. `chassis/speed`).
    pub fn key(&self) -> &str {
        &self.key
    }
    /// Schema type name from the zenoh encoding, when the sender declared one.
    pub fn type_name(&self) -> Option<&str> {
        self.type_name.as_deref()
    }
    /// The vbus header, or why it is missing or invalid.
    pub fn header(&self) -> Result<&Header, &HeaderError> {
        self.header.as_ref()
    }
    /// The payload bytes (FlatBuffers for vbus publishers; not verified here).
    pub fn payload(&self) -> &[u8] {
        self.payload.bytes()
    }
    /// Receipt time, ns since the UNIX epoch.
    pub fn received_ns(&self) -> u64 {
        self.received_ns
    }
}

impl std::fmt::Debug for RawSample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSample")
            .field("key", &self.key)
            .field("type_name", &self.type_name)
            .field("header", &self.header)
            .field("len", &self.payload.bytes().len())
            .finish()
    }
}

/// Builds a [`RawSubscriber`]; from [`Node::raw_subscriber`].
#[must_use = "call .create().await to declare the subscriber"]
pub struct RawSubscriberBuilder<'n> {
    node: &'n Node,
    key_expr: String,
    queue: usize,
}

impl<'n> RawSubscriberBuilder<'n> {
    pub(crate) fn new(node: &'n Node, key_expr: &str) -> Self {
        Self { node, key_expr: key_expr.to_owned(), queue: crate::QoS::new().queue as usize }
    }

    /// Samples queued before the oldest is dropped (and counted).
    pub fn queue(mut self, depth: usize) -> Self {
        self.queue = depth;
        self
    }

    /// Declare the subscriber on the bus.
    pub async fn create(self) -> Result<RawSubscriber, Error> {
        RawSubscriber::declare(self.node, &self.key_expr, self.queue)
    }
}

/// Subscribes to a key expression (wildcards allowed) relative to the domain, untyped.
///
/// The queue is bounded; when full, the oldest sample is dropped and counted.
pub struct RawSubscriber {
    rx: flume::Receiver<RawSample>,
    stats: Arc<Counters>,
    closed: tokio::sync::watch::Receiver<bool>,
    _sub: zenoh::pubsub::Subscriber<()>,
    _token: zenoh::liveliness::LivelinessToken,
}

impl RawSubscriber {
    fn declare(node: &Node, key_expr: &str, queue: usize) -> Result<Self, Error> {
        let full = wire::data_key(node.domain(), key_expr);
        zenoh::key_expr::KeyExpr::try_from(full.as_str())
            .map_err(|e| Error::Key(format!("`{key_expr}` is not a valid key expression: {e}")))?;
        let prefix_len = full.len() - key_expr.len();
        let stats = node.register(Role::Subscriber, key_expr, "*".into());
        let counters = stats.clone();
        let (tx, rx) = flume::bounded(queue.max(1));
        let drain = rx.clone();
        // Announced like typed subscribers (type `*`), so that same-host publishers know that a
        // subscriber here reads from zenoh.
        let token = node.announce(false, "*", key_expr)?;
        let sub = node
            .session()
            .declare_subscriber(full)
            .callback(move |s| {
                let key = s.key_expr().as_str().get(prefix_len..).unwrap_or_default().to_owned();
                let type_name = wire::type_name_of(&s.encoding().to_string()).map(str::to_owned);
                let header = match s.attachment() {
                    Some(a) => Header::decode(&a.to_bytes()),
                    None => Err(HeaderError::Missing),
                };
                let raw = RawSample {
                    key,
                    type_name,
                    header,
                    payload: Payload::from_zbytes(s.payload()),
                    received_ns: wire::now_ns(),
                };
                send_drop_oldest(&tx, &drain, raw, &counters.dropped);
            })
            .wait()
            .map_err(Error::transport(format!("declare the raw subscriber of `{key_expr}`")))?;
        Ok(Self { rx, stats, closed: node.closed(), _sub: sub, _token: token })
    }

    /// The next sample.
    pub async fn recv(&self) -> Result<RawSample, Closed> {
        let s = crate::node::recv_until_closed(&self.rx, &self.closed).await?;
        Counters::inc(&self.stats.delivered);
        Ok(s)
    }

    /// The next sample if one is queued.
    pub fn try_recv(&self) -> Option<RawSample> {
        let s = self.rx.try_recv().ok()?;
        Counters::inc(&self.stats.delivered);
        Some(s)
    }

    /// Counters (`delivered`, `dropped`).
    pub fn stats(&self) -> TopicStats {
        self.stats.snapshot()
    }
}

/// Builds a [`RawPublisher`]; from [`Node::raw_publisher`].
#[must_use = "call .create().await to declare the publisher"]
pub struct RawPublisherBuilder<'n> {
    node: &'n Node,
    key: String,
    type_name: String,
    type_hash: u64,
    qos: crate::QoS,
}

impl<'n> RawPublisherBuilder<'n> {
    pub(crate) fn new(node: &'n Node, key: &str, type_name: &str, type_hash: u64) -> Self {
        Self { node, key: key.to_owned(), type_name: type_name.to_owned(), type_hash, qos: crate::QoS::new() }
    }

    /// The QoS (priority, express, congestion, reliability apply; history and E2E need the
    /// compiled type and are ignored).
    pub fn qos(mut self, qos: crate::QoS) -> Self {
        self.qos = qos;
        self
    }

    /// Declare the publisher on the bus.
    pub async fn create(self) -> Result<RawPublisher, Error> {
        RawPublisher::declare(self.node, &self.key, &self.type_name, self.type_hash, self.qos)
    }
}

/// Publishes pre-encoded FlatBuffers bytes of a type known only by name and hash (bridges,
/// replay, the CLI). The caller vouches for the payload; subscribers still verify it. Takes the
/// same paths as a typed publisher (shared memory on this host, zenoh beyond), and the node's
/// access policy applies to it the same way.
pub struct RawPublisher {
    tx: Tx,
    type_hash: u64,
}

impl RawPublisher {
    fn declare(
        node: &Node,
        key: &str,
        type_name: &str,
        type_hash: u64,
        qos: crate::QoS,
    ) -> Result<Self, Error> {
        // History and E2E need the compiled type; untyped publishers have neither.
        let qos = crate::QoS { history: 0, e2e: false, ..qos };
        Ok(Self { tx: Tx::declare(node, key, type_name, "*".into(), qos)?, type_hash })
    }

    /// Publish `payload` with a fresh header (this publisher's id and sequence, now as source time).
    pub fn publish(&mut self, payload: &[u8]) -> Result<(), PublishError> {
        self.tx.send(self.type_hash, payload)
    }

    /// Publish with an explicit source time (e.g. the CAN frame's timestamp, a recording's time).
    pub fn publish_at(&mut self, payload: &[u8], source_time_ns: u64) -> Result<(), PublishError> {
        self.tx.send_at(self.type_hash, payload, Some(source_time_ns))
    }

    /// Whether a subscriber currently matches.
    pub fn has_subscribers(&self) -> bool {
        self.tx.has_subscribers()
    }

    /// Wait until at least one subscriber matches, for at most `timeout`; false if none did
    /// (see [`crate::Publisher::wait_for_subscribers`]).
    pub async fn wait_for_subscribers(&self, timeout: std::time::Duration) -> bool {
        self.tx.wait_for_subscribers(timeout).await
    }

    /// Counters (`sent`, `refused`).
    pub fn stats(&self) -> TopicStats {
        self.tx.stats()
    }

    /// The topic key.
    pub fn key(&self) -> &str {
        self.tx.key()
    }

    /// This publisher's id as carried in every header.
    pub fn id(&self) -> u64 {
        self.tx.id()
    }
}

/// Call a service with a pre-encoded request of a type known by hash; the reply comes back with
/// its header checked but its payload unverified (the caller knows no compiled reply type).
pub(crate) async fn raw_call(
    node: &Node,
    key: &str,
    request_type_hash: u64,
    payload: &[u8],
    timeout: std::time::Duration,
) -> Result<RawSample, crate::CallError> {
    use crate::CallError;
    crate::topic::validate_key(key).map_err(|reason| CallError::Transport { key: key.to_owned(), reason })?;
    let header = Header {
        flags: 0,
        host_tag: 0,
        type_hash: request_type_hash,
        seq: 1,
        source_time_ns: wire::now_ns(),
        publisher_id: rand::random(),
    };
    let s = crate::service::request(
        node.session(),
        &wire::data_key(node.domain(), key),
        key,
        &header,
        payload.to_vec(),
        timeout,
    )
    .await?;
    Ok(RawSample {
        key: key.to_owned(),
        type_name: wire::type_name_of(&s.encoding().to_string()).map(str::to_owned),
        header: match s.attachment() {
            Some(a) => Header::decode(&a.to_bytes()),
            None => Err(HeaderError::Missing),
        },
        payload: Payload::from_zbytes(s.payload()),
        received_ns: wire::now_ns(),
    })
}
