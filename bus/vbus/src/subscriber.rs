//! Typed subscribers: validation, QoS enforcement (history, lifespan, deadline, gaps) and
//! delivery by queue or callback.

use std::{
    collections::HashMap,
    hash::BuildHasherDefault,
    marker::PhantomData,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use zenoh::Wait;

use crate::{
    Closed, Congestion, Error, QoS, RecvError, TopicEvent, TopicStats, TypeInfo,
    event::{E2eViolation, RejectReason},
    node::Node,
    sample::{Payload, Sample},
    stats::{Counters, Role, send_drop_oldest},
    wire::{self, Header},
};

/// Events kept for the application before the oldest are counted as dropped.
const EVENT_QUEUE: usize = 256;

type EventFn = Box<dyn Fn(TopicEvent) + Send + Sync>;
type SampleFn<T> = Box<dyn Fn(Sample<T>) + Send + Sync>;

/// Builds a subscriber; from [`Node::subscriber`].
#[must_use = "call .create().await to declare the subscriber"]
pub struct SubscriberBuilder<'n, T> {
    node: &'n Node,
    key: String,
    ty: TypeInfo,
    qos: QoS,
    on_event: Option<EventFn>,
    _type: PhantomData<fn() -> T>,
}

impl<'n, T: Send + 'static> SubscriberBuilder<'n, T> {
    pub(crate) fn new(node: &'n Node, key: &str, ty: TypeInfo, qos: QoS) -> Self {
        Self { node, key: key.to_owned(), ty, qos, on_event: None, _type: PhantomData }
    }

    /// Override the topic's QoS for this subscriber (queue depth, deadline, lifespan, history).
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// Receive events through a callback instead of [`Subscriber::next_event`].
    pub fn on_event(mut self, f: impl Fn(TopicEvent) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Box::new(f));
        self
    }

    /// Declare the subscriber; samples are queued for [`Subscriber::recv`] / `Stream`.
    ///
    /// With history in the QoS, this waits (up to the node's `history_timeout_ms`) for the
    /// samples publishers kept, so they are queued before this returns.
    pub async fn create(self) -> Result<Subscriber<T>, Error> {
        let depth = self.qos.queue.max(1) as usize;
        let (tx, rx) = flume::bounded(depth);
        let closed = self.node.closed();
        let (handle, events) = self.declare(Deliver::Queue { tx, rx: rx.clone() }).await?;
        Ok(Subscriber { stream: rx.clone().into_stream(), rx, handle, events, closed })
    }

    /// Deliver samples to a callback instead of a queue: it is called on the transport's thread
    /// for every valid sample. Keep it short; a slow callback on a `Block` topic back-pressures
    /// the publisher.
    pub fn callback(self, f: impl Fn(Sample<T>) + Send + Sync + 'static) -> CallbackSubscriberBuilder<'n, T> {
        CallbackSubscriberBuilder { inner: self, f: Box::new(f) }
    }

    async fn declare(self, deliver: Deliver<T>) -> Result<(Handle<T>, flume::Receiver<TopicEvent>), Error> {
        let node = self.node;
        let key = self.key.as_str();
        crate::topic::validate_key(key).map_err(Error::Key)?;
        let (ev_tx, ev_rx) = flume::bounded(EVENT_QUEUE);
        let stats = node.register(Role::Subscriber, key, self.ty.name_arc());
        // The same-host port first, so that a publisher that sees this subscriber on zenoh
        // already reaches it through shared memory.
        let local = node.local().and_then(|l| match l.subscriber(key) {
            Ok(port) => Some((l.tag, port)),
            Err(reason) => {
                tracing::warn!(key, %reason, "subscriber stays on zenoh: no shared-memory port");
                None
            }
        });
        let ingress = Arc::new(Ingress {
            key: key.to_owned(),
            ty: self.ty.clone(),
            data_id: wire::data_id(key),
            qos: self.qos,
            stats,
            state: Mutex::new(RxState {
                replaying: self.qos.history > 0,
                pending: Vec::new(),
                last_seq: HashMap::default(),
            }),
            deliver,
            events: EventSink { tx: ev_tx, rx: ev_rx.clone(), callback: self.on_event },
            epoch: Instant::now(),
            last_rx: AtomicU64::new(0),
            local_tag: local.as_ref().map_or(0, |(tag, _)| *tag),
        });
        let reader = match local {
            Some((tag, port)) => {
                let weak = Arc::downgrade(&ingress);
                // The node's message size limit holds on this path too (zenoh's transport
                // enforces it on links).
                let max = node.config().max_message_size;
                let thread = crate::local::spawn_reader(
                    key,
                    port,
                    self.qos.spin.unwrap_or_default(),
                    self.qos.priority == crate::Priority::RealTime,
                    move |att, payload| {
                        let Some(ing) = weak.upgrade() else { return };
                        if payload.bytes().len() as u64 > max {
                            return ing.reject(RejectReason::Payload(format!(
                                "expected at most {max} bytes (max_message_size), found {}",
                                payload.bytes().len()
                            )));
                        }
                        ing.on_sample(Some(att), payload);
                    },
                )
                .map_err(|e| Error::SharedMemory {
                    what: format!("cannot start the shared-memory reader of `{key}`"),
                    source: e.into(),
                })?;
                let token = node
                    .session()
                    .liveliness()
                    .declare_token(wire::local_token_key(
                        node.domain(),
                        tag,
                        node.name(),
                        self.ty.name(),
                        key,
                    ))
                    .wait()
                    .map_err(Error::transport(format!("declare the same-host token of `{key}`")))?;
                Some(Reader { _thread: thread, _token: token })
            }
            None => None,
        };
        let live = ingress.clone();
        let zsub = node
            .session()
            .declare_subscriber(wire::data_key(node.domain(), key))
            .callback(move |s| live.on_zenoh(&s))
            .wait()
            .map_err(Error::transport(format!("declare the subscriber of `{key}`")))?;
        if self.qos.history > 0 {
            let replies = node
                .session()
                .get(wire::history_key(node.domain(), key))
                .target(zenoh::query::QueryTarget::All)
                .consolidation(zenoh::query::ConsolidationMode::None)
                .timeout(Duration::from_millis(node.config().history_timeout_ms))
                .await
                .map_err(Error::transport(format!("query the history of `{key}`")))?;
            let mut stored = Vec::new();
            while let Ok(reply) = replies.recv_async().await {
                if let Ok(s) = reply.into_result() {
                    stored.push(s);
                }
            }
            ingress.finish_replay(stored);
        }
        let token = node.announce(false, self.ty.name(), key)?;
        let deadline_task =
            self.qos.deadline.map(|d| node.runtime().spawn(deadline_monitor(Arc::downgrade(&ingress), d)));
        Ok((Handle { ingress, _zsub: zsub, _token: token, deadline_task, _reader: reader }, ev_rx))
    }
}

/// Keeps the zenoh subscriber, the shared-memory reader and the deadline monitor alive;
/// undeclares on drop.
struct Handle<T> {
    ingress: Arc<Ingress<T>>,
    _zsub: zenoh::pubsub::Subscriber<()>,
    _token: zenoh::liveliness::LivelinessToken,
    deadline_task: Option<tokio::task::JoinHandle<()>>,
    _reader: Option<Reader>,
}

/// A subscriber's shared-memory reader thread (stopped on drop) and the token that announces it.
struct Reader {
    _thread: crate::local::Reader,
    _token: zenoh::liveliness::LivelinessToken,
}

impl<T> Drop for Handle<T> {
    fn drop(&mut self) {
        if let Some(t) = &self.deadline_task {
            t.abort();
        }
    }
}

/// Builds a [`CallbackSubscriber`]; from [`SubscriberBuilder::callback`].
#[must_use = "call .create().await to declare the subscriber"]
pub struct CallbackSubscriberBuilder<'n, T> {
    inner: SubscriberBuilder<'n, T>,
    f: SampleFn<T>,
}

impl<T: Send + 'static> CallbackSubscriberBuilder<'_, T> {
    /// Declare the subscriber; with history in the QoS, the kept samples have gone through the
    /// callback before this returns.
    pub async fn create(self) -> Result<CallbackSubscriber<T>, Error> {
        let (handle, events) = self.inner.declare(Deliver::Callback(self.f)).await?;
        Ok(CallbackSubscriber { handle, events })
    }
}

/// A subscriber that queues verified samples for the application.
///
/// Receive with [`Subscriber::recv`] or as a `futures::Stream`. QoS events (deadline, type
/// mismatch, rejected samples, gaps) come from [`Subscriber::next_event`].
pub struct Subscriber<T: 'static> {
    rx: flume::Receiver<Sample<T>>,
    stream: flume::r#async::RecvStream<'static, Sample<T>>,
    handle: Handle<T>,
    events: flume::Receiver<TopicEvent>,
    closed: tokio::sync::watch::Receiver<bool>,
}

impl<T: Send + 'static> Subscriber<T> {
    /// The next sample; waits for one. [`Closed`] once the node is closed and the queue drained.
    pub async fn recv(&self) -> Result<Sample<T>, Closed> {
        loop {
            let s = crate::node::recv_until_closed(&self.rx, &self.closed).await?;
            if let Some(s) = self.handle.ingress.hand_over(s) {
                return Ok(s);
            }
        }
    }

    /// The next sample if one is queued.
    pub fn try_recv(&self) -> Option<Sample<T>> {
        while let Ok(s) = self.rx.try_recv() {
            if let Some(s) = self.handle.ingress.hand_over(s) {
                return Some(s);
            }
        }
        None
    }

    /// The next sample, waiting at most `timeout`: [`RecvError::Timeout`] when none came in
    /// time, [`RecvError::Closed`] when none will come.
    pub async fn recv_timeout(&self, timeout: Duration) -> Result<Sample<T>, RecvError> {
        match tokio::time::timeout(timeout, self.recv()).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(Closed)) => Err(RecvError::Closed),
            Err(_) => Err(RecvError::Timeout(timeout)),
        }
    }

    /// The next event; waits for one.
    pub async fn next_event(&self) -> Result<TopicEvent, Closed> {
        self.events.recv_async().await.map_err(|_| Closed)
    }

    /// The next event if one is queued.
    pub fn try_next_event(&self) -> Option<TopicEvent> {
        self.events.try_recv().ok()
    }

    /// Samples waiting in the queue.
    pub fn queued(&self) -> usize {
        self.rx.len()
    }

    /// Counters of this subscriber.
    pub fn stats(&self) -> TopicStats {
        self.handle.ingress.stats.snapshot()
    }

    /// The topic key.
    pub fn key(&self) -> &str {
        &self.handle.ingress.key
    }
}

impl<T: Send + 'static> futures_core::Stream for Subscriber<T> {
    type Item = Sample<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match Pin::new(&mut self.stream).poll_next(cx) {
                Poll::Ready(Some(s)) => {
                    if let Some(s) = self.handle.ingress.hand_over(s) {
                        return Poll::Ready(Some(s));
                    }
                }
                other => return other,
            }
        }
    }
}

/// A subscriber that calls the application's callback for every verified sample.
pub struct CallbackSubscriber<T> {
    handle: Handle<T>,
    events: flume::Receiver<TopicEvent>,
}

impl<T: Send + 'static> CallbackSubscriber<T> {
    /// The next event; waits for one.
    pub async fn next_event(&self) -> Result<TopicEvent, Closed> {
        self.events.recv_async().await.map_err(|_| Closed)
    }
    /// The next event if one is queued.
    pub fn try_next_event(&self) -> Option<TopicEvent> {
        self.events.try_recv().ok()
    }
    /// Counters of this subscriber.
    pub fn stats(&self) -> TopicStats {
        self.handle.ingress.stats.snapshot()
    }
}

enum Deliver<T> {
    Queue { tx: flume::Sender<Sample<T>>, rx: flume::Receiver<Sample<T>> },
    Callback(SampleFn<T>),
}

struct EventSink {
    tx: flume::Sender<TopicEvent>,
    rx: flume::Receiver<TopicEvent>,
    callback: Option<EventFn>,
}

impl EventSink {
    fn emit(&self, stats: &Counters, e: TopicEvent) {
        tracing::debug!(event = %e, "vbus topic event");
        if let Some(cb) = &self.callback {
            cb(e);
            return;
        }
        // Keep the newest events: an application that reads events late wants the recent ones.
        send_drop_oldest(&self.tx, &self.rx, e, &stats.events_dropped);
    }
}

struct RxState {
    /// True while the late-join history query runs: live samples wait in `pending`.
    replaying: bool,
    pending: Vec<(Option<Vec<u8>>, Payload)>,
    /// Last sequence number seen per publisher id.
    last_seq: HashMap<u64, u64, BuildHasherDefault<IdHasher>>,
}

/// Publisher ids are random 64-bit numbers: they hash as themselves (SipHash cost ~3% of the
/// receive path for nothing).
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The receive path shared by both subscriber kinds.
struct Ingress<T> {
    key: String,
    /// The type samples must have (hash) and pass (verifier).
    ty: TypeInfo,
    /// E2E data id of `key`.
    data_id: u32,
    qos: QoS,
    stats: Arc<Counters>,
    state: Mutex<RxState>,
    deliver: Deliver<T>,
    events: EventSink,
    epoch: Instant,
    /// Nanoseconds since `epoch` of the last accepted sample (0: none yet).
    last_rx: AtomicU64,
    /// This host's tag when this subscriber also reads through shared memory (0: it does not):
    /// zenoh copies of samples it got that way are ignored.
    local_tag: u32,
}

impl<T: Send + 'static> Ingress<T> {
    fn on_zenoh(&self, s: &zenoh::sample::Sample) {
        let attachment = s.attachment().map(|a| a.to_bytes());
        if self.local_tag != 0
            && attachment.as_deref().is_some_and(|a| wire::delivered_locally(a, self.local_tag))
        {
            return;
        }
        self.on_sample(attachment.as_deref(), Payload::from_zbytes(s.payload()));
    }

    /// One live sample, whichever path it came by.
    fn on_sample(&self, attachment: Option<&[u8]>, payload: Payload) {
        let mut state = self.state.lock().expect("subscriber state lock");
        if state.replaying {
            state.pending.push((attachment.map(<[u8]>::to_vec), payload));
            return;
        }
        self.ingest(&mut state, attachment, payload, true);
    }

    /// Deliver the stored samples of a late join, then what arrived live meanwhile, in order.
    fn finish_replay(&self, stored: Vec<zenoh::sample::Sample>) {
        let mut stored: Vec<_> = stored
            .iter()
            .map(|s| (s.attachment().map(|a| a.to_bytes().into_owned()), Payload::from_zbytes(s.payload())))
            .collect();
        // Order by publisher, then sequence, so each publisher's history arrives in order.
        stored.sort_by_key(|(a, _)| {
            a.as_deref().and_then(|a| Header::decode(a).ok()).map(|h| (h.publisher_id, h.seq))
        });
        let mut state = self.state.lock().expect("subscriber state lock");
        for (a, p) in stored {
            self.ingest(&mut state, a.as_deref(), p, false);
        }
        let pending = std::mem::take(&mut state.pending);
        for (a, p) in pending {
            self.ingest(&mut state, a.as_deref(), p, true);
        }
        state.replaying = false;
    }

    /// Validate one sample and deliver it. Runs under the state lock so that samples of one
    /// subscriber are checked and delivered in arrival order.
    ///
    /// `live` is false for samples replayed from publishers' history, whose overlap with live
    /// data is expected and not an E2E repetition.
    fn ingest(&self, state: &mut RxState, attachment: Option<&[u8]>, payload: Payload, live: bool) {
        let received_ns = wire::now_ns();
        let Some(attachment) = attachment else {
            return self.reject(RejectReason::Header(wire::HeaderError::Missing));
        };
        let header = match Header::decode(attachment) {
            Ok(h) => h,
            Err(e) => return self.reject(RejectReason::Header(e)),
        };
        let _span = tracing::trace_span!("vbus.deliver", key = %self.key, seq = header.seq).entered();
        if header.type_hash != self.ty.hash() {
            Counters::inc(&self.stats.mismatched);
            return self.events.emit(
                &self.stats,
                TopicEvent::TypeMismatch {
                    key: self.key.clone(),
                    expected_type: self.ty.name_arc(),
                    expected_hash: self.ty.hash(),
                    found_hash: header.type_hash,
                    publisher_id: header.publisher_id,
                },
            );
        }
        if self.qos.e2e
            && let Some(violation) = self.e2e_check(&header, attachment, payload.bytes())
        {
            return self.e2e_violation(&header, violation);
        }
        if let Err(e) = self.ty.verify(payload.bytes()) {
            return self.reject(RejectReason::Payload(e));
        }
        // Sequence: duplicates (e.g. history overlapping live data) are dropped, gaps reported.
        let last_seq = state.last_seq.entry(header.publisher_id).or_insert(0);
        match Some(*last_seq).filter(|&l| l > 0) {
            Some(last) if header.seq <= last => {
                Counters::inc(&self.stats.duplicates);
                if self.qos.e2e && live {
                    self.e2e_violation(&header, E2eViolation::Repeated);
                }
                return;
            }
            Some(last) if header.seq > last + 1 => {
                self.stats.lost.fetch_add(header.seq - last - 1, Relaxed);
                self.events.emit(
                    &self.stats,
                    TopicEvent::SamplesLost {
                        key: self.key.clone(),
                        publisher_id: header.publisher_id,
                        expected_seq: last + 1,
                        received_seq: header.seq,
                    },
                );
            }
            _ => {}
        }
        *last_seq = header.seq;
        if self.qos.deadline.is_some() {
            // Only the deadline monitor reads it: no clock read per sample without a deadline.
            self.last_rx.store((self.epoch.elapsed().as_nanos() as u64).max(1), Relaxed);
        }
        let sample = Sample { payload, header, received_ns, _type: PhantomData };
        if self.expired(&sample) {
            Counters::inc(&self.stats.expired);
            if self.qos.e2e {
                let age = Duration::from_nanos(received_ns.saturating_sub(header.source_time_ns));
                self.e2e_violation(&header, E2eViolation::Delayed { age });
            }
            return;
        }
        match &self.deliver {
            Deliver::Callback(f) => {
                Counters::inc(&self.stats.delivered);
                f(sample);
            }
            Deliver::Queue { tx, rx } => match self.qos.congestion {
                // Waiting here stalls this transport's reception: that is the back-pressure.
                Congestion::Block => {
                    let _ = tx.send(sample);
                }
                Congestion::Drop => send_drop_oldest(tx, rx, sample, &self.stats.dropped),
            },
        }
    }

    fn e2e_check(&self, header: &Header, attachment: &[u8], payload: &[u8]) -> Option<E2eViolation> {
        if header.flags & wire::FLAG_E2E == 0 {
            return Some(E2eViolation::Missing);
        }
        let Some(ext) = wire::E2eExt::decode(attachment) else { return Some(E2eViolation::Missing) };
        if ext.data_id != self.data_id {
            return Some(E2eViolation::WrongDataId { expected: self.data_id, found: ext.data_id });
        }
        let head: &[u8; wire::HEADER_LEN] =
            attachment[..wire::HEADER_LEN].try_into().expect("decoded header");
        (wire::E2eExt::compute(head, ext.data_id, payload) != ext).then_some(E2eViolation::Corrupted)
    }

    fn e2e_violation(&self, header: &Header, violation: E2eViolation) {
        Counters::inc(&self.stats.e2e_errors);
        self.events.emit(
            &self.stats,
            TopicEvent::E2eViolation {
                key: self.key.clone(),
                publisher_id: header.publisher_id,
                seq: header.seq,
                violation,
            },
        );
    }

    fn reject(&self, reason: RejectReason) {
        Counters::inc(&self.stats.rejected);
        self.events.emit(&self.stats, TopicEvent::Rejected { key: self.key.clone(), reason });
    }

    fn expired(&self, s: &Sample<T>) -> bool {
        self.qos
            .lifespan
            .is_some_and(|l| wire::now_ns().saturating_sub(s.header.source_time_ns) > l.as_nanos() as u64)
    }

    /// Last check as a queued sample leaves for the application.
    fn hand_over(&self, s: Sample<T>) -> Option<Sample<T>> {
        if self.expired(&s) {
            Counters::inc(&self.stats.expired);
            return None;
        }
        Counters::inc(&self.stats.delivered);
        Some(s)
    }
}

/// Report a missed deadline once per period of silence, until the subscriber is dropped.
///
/// The clock starts when the subscriber is created (as in DDS): a topic that never publishes
/// misses its deadline too.
async fn deadline_monitor<T: Send + 'static>(ingress: std::sync::Weak<Ingress<T>>, deadline: Duration) {
    let mut reported: Option<(u64, u128)> = None;
    loop {
        let Some(ing) = ingress.upgrade() else { return };
        let last = ing.last_rx.load(Relaxed);
        let last_instant = ing.epoch + Duration::from_nanos(last);
        let due = last_instant + deadline;
        let now = Instant::now();
        let wake = if now < due {
            due
        } else {
            let period = (now - last_instant).as_nanos() / deadline.as_nanos().max(1);
            if reported != Some((last, period)) {
                Counters::inc(&ing.stats.deadline_missed);
                ing.events.emit(
                    &ing.stats,
                    TopicEvent::DeadlineMissed {
                        key: ing.key.clone(),
                        deadline,
                        silent_for: now - last_instant,
                    },
                );
                reported = Some((last, period));
            }
            last_instant + deadline * (period as u32 + 1)
        };
        drop(ing);
        tokio::time::sleep_until(wake.into()).await;
    }
}
