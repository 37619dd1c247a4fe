//! Per-endpoint counters, readable from the API while the bus runs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Live counters of one publisher, subscriber, service or field endpoint.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub sent: AtomicU64,
    pub delivered: AtomicU64,
    pub dropped: AtomicU64,
    pub rejected: AtomicU64,
    pub mismatched: AtomicU64,
    pub lost: AtomicU64,
    pub duplicates: AtomicU64,
    pub expired: AtomicU64,
    pub deadline_missed: AtomicU64,
    pub backpressure_waits: AtomicU64,
    pub backpressure_ns: AtomicU64,
    pub events_dropped: AtomicU64,
    pub e2e_errors: AtomicU64,
    pub refused: AtomicU64,
}

impl Counters {
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    pub fn snapshot(&self) -> TopicStats {
        TopicStats {
            sent: self.sent.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            mismatched: self.mismatched.load(Relaxed),
            lost: self.lost.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            expired: self.expired.load(Relaxed),
            deadline_missed: self.deadline_missed.load(Relaxed),
            backpressure_waits: self.backpressure_waits.load(Relaxed),
            backpressure_ns: self.backpressure_ns.load(Relaxed),
            events_dropped: self.events_dropped.load(Relaxed),
            e2e_errors: self.e2e_errors.load(Relaxed),
            refused: self.refused.load(Relaxed),
        }
    }
}

/// A snapshot of an endpoint's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TopicStats {
    /// Samples (or requests, replies) sent.
    pub sent: u64,
    /// Samples handed to the application.
    pub delivered: u64,
    /// Samples dropped by a full subscriber queue (`Congestion::Drop`: oldest first). On a
    /// publisher: deliveries that same-host subscribers' full shared-memory queues refused
    /// (those subscribers miss the sample, one count per subscriber).
    pub dropped: u64,
    /// Samples refused: missing/corrupt header or payload failing FlatBuffers verification.
    pub rejected: u64,
    /// Samples whose schema type hash differs from the subscriber's type.
    pub mismatched: u64,
    /// Samples missing according to publisher sequence numbers (lost on the way).
    pub lost: u64,
    /// Samples received twice (same publisher and sequence number), not delivered again.
    pub duplicates: u64,
    /// Samples older than the topic's lifespan, not delivered.
    pub expired: u64,
    /// Deadline periods that passed without a sample.
    pub deadline_missed: u64,
    /// Publish calls that waited on back-pressure for more than 1 ms (`Congestion::Block`).
    pub backpressure_waits: u64,
    /// Total time spent in those waits, in nanoseconds.
    pub backpressure_ns: u64,
    /// Events not queued because the event queue was full.
    pub events_dropped: u64,
    /// E2E violations on a protected topic (missing protection, CRC or data id mismatch,
    /// repetition, delay); each also raises [`crate::TopicEvent::E2eViolation`].
    pub e2e_errors: u64,
    /// Publish calls refused by the node's access policy.
    pub refused: u64,
}

/// What kind of endpoint a [`EndpointStats`] entry describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A [`crate::Publisher`].
    Publisher,
    /// A [`crate::Subscriber`] or callback subscriber.
    Subscriber,
    /// A [`crate::ServiceServer`].
    ServiceServer,
    /// A [`crate::ServiceClient`].
    ServiceClient,
}

/// Counters of one endpoint of a node, as listed by [`crate::Node::stats`].
#[derive(Clone, Debug)]
pub struct EndpointStats {
    /// Endpoint kind.
    pub role: Role,
    /// Topic or service key (relative to the domain).
    pub key: String,
    /// Schema type name.
    pub type_name: std::sync::Arc<str>,
    /// Counters.
    pub stats: TopicStats,
}

/// Queue `item` on a bounded channel, dropping the oldest queued item while it is full (latest
/// value wins); each drop increments `dropped`. A closed channel discards `item`.
pub(crate) fn send_drop_oldest<T>(
    tx: &flume::Sender<T>,
    rx: &flume::Receiver<T>,
    mut item: T,
    dropped: &AtomicU64,
) {
    loop {
        match tx.try_send(item) {
            Ok(()) => return,
            Err(flume::TrySendError::Full(back)) => {
                item = back;
                if rx.try_recv().is_ok() {
                    Counters::inc(dropped);
                }
            }
            Err(flume::TrySendError::Disconnected(_)) => return,
        }
    }
}
