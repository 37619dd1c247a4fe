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
    Error, Message, Pack, PublishError, QoS, Topic, TopicStats,
    message::verify,
    node::Node,
    stats::{Counters, Role},
    tx::TxPool,
    wire::{self, Header},
};

/// A publish call slower than this is counted as a back-pressure wait.
const BACKPRESSURE_THRESHOLD: Duration = Duration::from_millis(1);

type History = Arc<Mutex<VecDeque<(ZBytes, ZBytes)>>>;

/// Builds a [`Publisher`]; from [`Node::publisher`].
#[must_use = "call .create() to declare the publisher"]
pub struct PublisherBuilder<'n, T> {
    pub(crate) node: &'n Node,
    pub(crate) topic: Topic<T>,
    pub(crate) qos: QoS,
}

impl<T: Message> PublisherBuilder<'_, T> {
    /// Override the topic's QoS for this publisher.
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// Declare the publisher on the bus.
    pub fn create(self) -> Result<Publisher<T>, Error> {
        let node = self.node;
        let key = self.topic.key();
        crate::topic::validate_key(key).map_err(Error::Key)?;
        let qos = self.qos;
        let wire_key = wire::data_key(node.domain(), key);
        let zpub = node
            .session()
            .declare_publisher(wire_key.clone())
            .encoding(wire::encoding(T::TYPE_NAME))
            .congestion_control(qos.zenoh_congestion())
            .priority(qos.priority.to_zenoh())
            .express(qos.express)
            .reliability(qos.zenoh_reliability())
            .wait()
            .map_err(Error::zenoh)?;
        let stats = node.register(Role::Publisher, key, T::TYPE_NAME);
        node.serve_schema::<T>()?;
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
                .map_err(Error::zenoh)?;
            Some((ring, queryable))
        } else {
            None
        };
        // Announced last: once others see the publisher, its history is already served.
        let token = node.announce(true, T::TYPE_NAME, key)?;
        Ok(Publisher {
            fbb: FlatBufferBuilder::with_capacity(256),
            tx: Tx {
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
                _token: token,
            },
            _type: PhantomData,
        })
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
    _type: PhantomData<fn() -> T>,
}

/// A publisher's sending state, apart from its builder so that both can be borrowed at once.
struct Tx {
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
    _token: zenoh::liveliness::LivelinessToken,
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

    /// Publish FlatBuffers bytes built elsewhere (bridges, replay). They are verified first: the
    /// bus never carries a payload that its type's subscribers would reject.
    pub fn publish_bytes(&mut self, bytes: &[u8]) -> Result<(), PublishError> {
        verify::<T>(bytes).map_err(|e| PublishError::InvalidPayload {
            key: self.tx.key.clone(),
            type_name: T::TYPE_NAME,
            reason: e.to_string(),
        })?;
        self.tx.send(T::TYPE_HASH, bytes)
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
        matching(&self.tx.zpub)
    }

    /// Wait until at least one subscriber matches, for at most `timeout`; false if none did.
    /// A new node learns the subscriptions of the domain a moment after it opens, and a sample
    /// published before that reaches nobody: publish the first sample after this.
    pub async fn wait_for_subscribers(&self, timeout: Duration) -> bool {
        wait_for_match(&self.tx.zpub, timeout).await
    }
}

impl Tx {
    fn send(&mut self, type_hash: u64, payload: &[u8]) -> Result<(), PublishError> {
        if !self.allowed {
            Counters::inc(&self.stats.refused);
            return Err(PublishError::AccessDenied { key: self.key.clone(), node: self.node.clone() });
        }
        self.seq += 1;
        let now = wire::now_ns();
        let header = Header {
            flags: if self.qos.e2e { wire::FLAG_E2E } else { 0 },
            type_hash,
            seq: self.seq,
            source_time_ns: now,
            publisher_id: self.id,
        }
        .encode();
        let ext = if self.qos.e2e {
            wire::E2eExt::compute(&header, self.data_id, payload).encode()
        } else {
            [0; wire::E2E_EXT_LEN]
        };
        let ext_len = if self.qos.e2e { wire::E2E_EXT_LEN } else { 0 };
        let (attachment, payload) = self.pool.frame(&header, &ext[..ext_len], payload);
        let _span = tracing::trace_span!("vbus.publish", key = %self.key, seq = self.seq).entered();
        if let Some((ring, _)) = &self.history {
            let mut ring = ring.lock().expect("history lock");
            if ring.len() == self.qos.history as usize {
                ring.pop_front();
            }
            ring.push_back((payload.clone(), attachment.clone()));
        }
        self.zpub
            .put(payload)
            .attachment(attachment)
            .wait()
            .map_err(|e| PublishError::Transport { key: self.key.clone(), reason: e.to_string() })?;
        // Back-pressure can only happen on Block topics; the header's clock reading is the start.
        if self.qos.congestion == crate::Congestion::Block {
            let waited = wire::now_ns().saturating_sub(now);
            if waited > BACKPRESSURE_THRESHOLD.as_nanos() as u64 {
                Counters::inc(&self.stats.backpressure_waits);
                self.stats.backpressure_ns.fetch_add(waited, std::sync::atomic::Ordering::Relaxed);
            }
        }
        Counters::inc(&self.stats.sent);
        Ok(())
    }
}

/// Whether a subscriber matches `zpub` now.
pub(crate) fn matching(zpub: &zenoh::pubsub::Publisher<'_>) -> bool {
    zpub.matching_status().wait().map(|s| s.matching()).unwrap_or(false)
}

/// [`matching`], polled until true or `timeout`.
pub(crate) async fn wait_for_match(zpub: &zenoh::pubsub::Publisher<'_>, timeout: Duration) -> bool {
    let until = tokio::time::Instant::now() + timeout;
    loop {
        if matching(zpub) {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
