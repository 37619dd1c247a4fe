//! Typed publishers.

use std::{
    collections::VecDeque,
    marker::PhantomData,
    sync::{Arc, Mutex},
    time::Duration,
};

use flatbuffers::{FlatBufferBuilder, WIPOffset};
use zenoh::{Wait, bytes::ZBytes};

use crate::{
    Error, Message, Pack, PublishError, QoS, TopicStats, TypeInfo,
    local::LocalPublisher,
    node::Node,
    stats::{Counters, Role},
    tx::TxPool,
    wire::{self, Header},
};

/// A publish call slower than this is counted as a back-pressure wait.
const BACKPRESSURE_THRESHOLD: Duration = Duration::from_millis(1);

type History = Arc<Mutex<VecDeque<(ZBytes, ZBytes)>>>;

/// Builds a [`Publisher`]; from [`Node::publisher`].
#[must_use = "call .create().await to declare the publisher"]
pub struct PublisherBuilder<'n, T> {
    node: &'n Node,
    key: String,
    ty: TypeInfo,
    qos: QoS,
    _type: PhantomData<fn() -> T>,
}

impl<'n, T> PublisherBuilder<'n, T> {
    pub(crate) fn new(node: &'n Node, key: &str, ty: TypeInfo, qos: QoS) -> Self {
        Self { node, key: key.to_owned(), ty, qos, _type: PhantomData }
    }

    /// Override the topic's QoS for this publisher.
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// Declare the publisher on the bus (and serve its type's schema).
    pub async fn create(self) -> Result<Publisher<T>, Error> {
        self.node.serve_schema(&self.ty)?;
        let tx = Tx::declare(self.node, &self.key, self.ty.name(), self.ty.name_arc(), self.qos)?;
        Ok(Publisher { fbb: FlatBufferBuilder::with_capacity(256), tx, ty: self.ty, _type: PhantomData })
    }
}

/// Publishes samples of `T` on one topic.
///
/// Publishing is synchronous: on a `Congestion::Block` topic a full path makes the call wait
/// (back-pressure); on `Drop` it never waits. The FlatBuffers builder is reused, so steady-state
/// publishing does not grow memory.
pub struct Publisher<T> {
    fbb: FlatBufferBuilder<'static>,
    tx: Tx,
    ty: TypeInfo,
    _type: PhantomData<fn() -> T>,
}

/// A publisher's sending state (typed publishers keep it apart from their builder, so that both
/// can be borrowed at once; raw publishers are just this).
pub(crate) struct Tx {
    zpub: zenoh::pubsub::Publisher<'static>,
    key: String,
    qos: QoS,
    pool: TxPool,
    seq: u64,
    id: u64,
    data_id: u32,
    /// False when the node's access policy forbids publishing here: every publish is refused.
    allowed: bool,
    node: String,
    history: Option<(History, zenoh::query::Queryable<()>)>,
    stats: Arc<Counters>,
    /// The same-host path, when the node has it.
    local: Option<LocalPublisher>,
    _token: zenoh::liveliness::LivelinessToken,
}

/// The shared-memory port of a new publisher, if the node has the same-host path (a failure is
/// logged and leaves the topic on zenoh).
pub(crate) fn local_publisher(node: &Node, key: &str, qos: &QoS) -> Option<LocalPublisher> {
    let local = node.local()?;
    match local.publisher(key, qos.congestion == crate::Congestion::Block) {
        Ok(p) => Some(p),
        Err(reason) => {
            tracing::warn!(key, %reason, "topic stays on zenoh: no shared-memory publisher");
            None
        }
    }
}

impl<T: Message> Publisher<T> {
    /// Publish a value that packs itself as `T` (e.g. codegen's object-API struct).
    pub fn publish(&mut self, value: &impl Pack<T>) -> Result<(), PublishError> {
        self.publish_with(|fbb| value.pack(fbb))
    }

    /// Publish a sample built in place with the FlatBuffers builder API.
    pub fn publish_with<F>(&mut self, build: F) -> Result<(), PublishError>
    where
        F: for<'b> FnOnce(&mut FlatBufferBuilder<'b>) -> WIPOffset<T::View<'b>>,
    {
        self.fbb.reset();
        let root = build(&mut self.fbb);
        self.fbb.finish_minimal(root);
        self.tx.send(T::TYPE_HASH, self.fbb.finished_data())
    }
}

impl<T> Publisher<T> {
    /// Publish FlatBuffers bytes built elsewhere (bridges, replay, bindings). They are verified
    /// first: the bus never carries a payload that its type's subscribers would reject.
    pub fn publish_bytes(&mut self, bytes: &[u8]) -> Result<(), PublishError> {
        self.publish_bytes_at(bytes, None)
    }

    /// [`Publisher::publish_bytes`] with an explicit source time (ns since the UNIX epoch; `None`:
    /// now).
    pub fn publish_bytes_at(
        &mut self,
        bytes: &[u8],
        source_time_ns: Option<u64>,
    ) -> Result<(), PublishError> {
        self.ty.verify(bytes).map_err(|reason| PublishError::InvalidPayload {
            key: self.tx.key.clone(),
            type_name: self.ty.name().to_owned(),
            reason,
        })?;
        self.tx.send_at(self.ty.hash(), bytes, source_time_ns)
    }

    /// The type this publisher sends.
    pub fn type_info(&self) -> &TypeInfo {
        &self.ty
    }

    /// Counters of this publisher.
    pub fn stats(&self) -> TopicStats {
        self.tx.stats.snapshot()
    }

    /// The topic key.
    pub fn key(&self) -> &str {
        &self.tx.key
    }

    /// This publisher's id as carried in every header.
    pub fn id(&self) -> u64 {
        self.tx.id
    }

    /// Whether at least one subscriber currently matches this publisher (subscribers of this same
    /// node included).
    pub fn has_subscribers(&self) -> bool {
        self.tx.has_subscribers()
    }

    /// Wait until at least one subscriber matches, for at most `timeout`; false if none did.
    /// A new node learns the subscriptions of the domain a moment after it opens, and a sample
    /// published before that reaches nobody: publish the first sample after this.
    pub async fn wait_for_subscribers(&self, timeout: Duration) -> bool {
        self.tx.wait_for_subscribers(timeout).await
    }
}

impl Tx {
    /// Declare the zenoh publisher, the history queryable (QoS history > 0), the same-host port
    /// and the liveliness token of a publisher of `type_name` on `key`.
    pub(crate) fn declare(
        node: &Node,
        key: &str,
        type_name: &str,
        stats_type: std::sync::Arc<str>,
        qos: QoS,
    ) -> Result<Self, Error> {
        crate::topic::validate_key(key).map_err(Error::Key)?;
        let zpub = node
            .session()
            .declare_publisher(wire::data_key(node.domain(), key))
            .encoding(wire::encoding(type_name))
            .congestion_control(qos.zenoh_congestion())
            .priority(qos.priority.to_zenoh())
            .express(qos.express)
            .reliability(qos.zenoh_reliability())
            .wait()
            .map_err(Error::transport(format!("declare the publisher of `{key}`")))?;
        let stats = node.register(Role::Publisher, key, stats_type);
        let history = if qos.history > 0 {
            let ring: History = Arc::new(Mutex::new(VecDeque::with_capacity(qos.history as usize)));
            let served = ring.clone();
            let hist_key = wire::history_key(node.domain(), key);
            let queryable = node
                .session()
                .declare_queryable(hist_key.clone())
                .callback(move |query| {
                    // Copy out under the lock, reply outside it: replies may block on the network.
                    let samples: Vec<_> = served.lock().expect("history lock").iter().cloned().collect();
                    for (payload, attachment) in samples {
                        if let Err(e) = query.reply(hist_key.clone(), payload).attachment(attachment).wait() {
                            tracing::debug!(key = %hist_key, error = %e, "history reply failed");
                        }
                    }
                })
                .wait()
                .map_err(Error::transport(format!("declare the history queryable of `{key}`")))?;
            Some((ring, queryable))
        } else {
            None
        };
        let local = local_publisher(node, key, &qos);
        // Announced last: once others see the publisher, its history is already served.
        let token = node.announce(true, if type_name.is_empty() { "unknown" } else { type_name }, key)?;
        Ok(Tx {
            zpub,
            key: key.to_owned(),
            qos,
            pool: TxPool::new(qos.history as usize + 4),
            seq: 0,
            id: rand::random(),
            data_id: wire::data_id(key),
            allowed: node.config().access.as_ref().is_none_or(|a| a.may_publish(node.name(), key)),
            node: node.name().to_owned(),
            history,
            stats,
            local,
            _token: token,
        })
    }

    /// Whether a subscriber matches, on zenoh or through shared memory.
    pub(crate) fn has_subscribers(&self) -> bool {
        self.local.as_ref().is_some_and(|l| l.subscribers() > 0) || matching(&self.zpub)
    }

    /// Polled until a subscriber matches or `timeout`. A same-host subscriber counts once its
    /// `@local` token has reached this node, not as soon as its shared-memory port connects:
    /// the tokens and zenoh subscriptions its node declared before it travel the same link
    /// first, so the first sample also reaches that node's zenoh subscribers (and the directory
    /// knows who needs zenoh).
    pub(crate) async fn wait_for_subscribers(&self, timeout: Duration) -> bool {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            if self.local.as_ref().is_some_and(|l| l.subscribers() > 0 && l.announced())
                || matching(&self.zpub)
            {
                return true;
            }
            if tokio::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(crate) fn stats(&self) -> TopicStats {
        self.stats.snapshot()
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// Publish `payload` with a fresh header stamped now.
    pub(crate) fn send(&mut self, type_hash: u64, payload: &[u8]) -> Result<(), PublishError> {
        self.send_at(type_hash, payload, None)
    }

    /// Publish `payload`; `source_time_ns`: the sample's source time if not now.
    pub(crate) fn send_at(
        &mut self,
        type_hash: u64,
        payload: &[u8],
        source_time_ns: Option<u64>,
    ) -> Result<(), PublishError> {
        if !self.allowed {
            Counters::inc(&self.stats.refused);
            return Err(PublishError::AccessDenied { key: self.key.clone(), node: self.node.clone() });
        }
        self.seq += 1;
        let now = wire::now_ns();
        let mut header = Header {
            flags: if self.qos.e2e { wire::FLAG_E2E } else { 0 },
            host_tag: 0,
            type_hash,
            seq: self.seq,
            source_time_ns: source_time_ns.unwrap_or(now),
            publisher_id: self.id,
        };
        let _span = tracing::trace_span!("vbus.publish", key = %self.key, seq = self.seq).entered();
        // Same host first: subscribers here read it in place; the zenoh copy then carries
        // FLAG_LOCAL so that they ignore it.
        let mut to_zenoh = true;
        let mut local_wait = None;
        // The attachment of the zenoh copy, once computed (the flagged one when shared memory
        // took the sample: E2E's CRC covers the flag, and is computed once).
        let mut framed = None;
        let connected = self.local.as_ref().map_or(0, LocalPublisher::subscribers);
        if connected > 0
            && let Some(local) = self.local.as_mut()
        {
            let mut local_header = header;
            local_header.flags |= wire::FLAG_LOCAL;
            local_header.host_tag = local.tag;
            let (att, len) = attachment(&local_header, self.qos.e2e, self.data_id, payload);
            let taken = local.deliver(connected, &att[..len], payload);
            let missed = local.take_missed();
            if missed > 0 {
                self.stats.dropped.fetch_add(missed, std::sync::atomic::Ordering::Relaxed);
            }
            if taken {
                header = local_header;
                framed = Some((att, len));
                to_zenoh = local.zenoh_needed();
                local_wait = Some(local.last_wait());
            }
        }
        if to_zenoh || self.history.is_some() {
            let (att, len) =
                framed.unwrap_or_else(|| attachment(&header, self.qos.e2e, self.data_id, payload));
            let (attachment, payload) = self.pool.frame(&att[..len], &[], payload);
            if let Some((ring, _)) = &self.history {
                let mut ring = ring.lock().expect("history lock");
                if ring.len() == self.qos.history as usize {
                    ring.pop_front();
                }
                ring.push_back((payload.clone(), attachment.clone()));
            }
            if to_zenoh {
                self.zpub
                    .put(payload)
                    .attachment(attachment)
                    .wait()
                    .map_err(|source| PublishError::Transport { key: self.key.clone(), source })?;
            }
        }
        // Back-pressure can only happen on Block topics. Without a zenoh put, the shared-memory
        // port says how long it waited; otherwise the header's clock reading is the start.
        if self.qos.congestion == crate::Congestion::Block {
            let waited = match local_wait {
                Some(w) if !to_zenoh => w.as_nanos() as u64,
                _ => wire::now_ns().saturating_sub(now),
            };
            if waited > BACKPRESSURE_THRESHOLD.as_nanos() as u64 {
                Counters::inc(&self.stats.backpressure_waits);
                self.stats.backpressure_ns.fetch_add(waited, std::sync::atomic::Ordering::Relaxed);
            }
        }
        Counters::inc(&self.stats.sent);
        Ok(())
    }
}

/// The attachment of a sample: the header, then the E2E extension on protected topics.
fn attachment(
    header: &Header,
    e2e: bool,
    data_id: u32,
    payload: &[u8],
) -> ([u8; wire::HEADER_LEN + wire::E2E_EXT_LEN], usize) {
    let mut att = [0; wire::HEADER_LEN + wire::E2E_EXT_LEN];
    let head = header.encode();
    att[..wire::HEADER_LEN].copy_from_slice(&head);
    if !e2e {
        return (att, wire::HEADER_LEN);
    }
    att[wire::HEADER_LEN..].copy_from_slice(&wire::E2eExt::compute(&head, data_id, payload).encode());
    (att, att.len())
}

/// Whether a subscriber matches `zpub` now.
pub(crate) fn matching(zpub: &zenoh::pubsub::Publisher<'_>) -> bool {
    zpub.matching_status().wait().map(|s| s.matching()).unwrap_or(false)
}
