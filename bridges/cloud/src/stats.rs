//! Health and counters of the bridge, published on the bus as JSON.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use serde::{Deserialize, Serialize};

use crate::{rules::RuleStats, store::QueueStats};

/// Distinct (key, publisher) pairs whose last accepted sequence number is tracked.
const MAX_TRACKED_PUBLISHERS: usize = 1024;

/// The key the stats are published and served on: `vbus/<domain>/@bridge/cloud/stats`.
pub fn stats_key(domain: &str) -> String {
    vbus::wire::bridge_key(domain, "cloud/stats")
}

/// A snapshot of the bridge's counters (the JSON published on [`stats_key`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Vehicle id.
    pub vehicle: String,
    /// Where batches go: `mqtt://host:port` (or `mqtts://`) or `file:<path>`.
    pub sink: String,
    /// False once shutdown began.
    pub running: bool,
    /// Samples received from the bus.
    pub received: u64,
    /// Samples without a valid vbus header (not queued).
    pub rejected: u64,
    /// Samples dropped in the in-memory bus queue because the disk could not keep up.
    pub bus_dropped: u64,
    /// Samples chosen by the rules.
    pub selected: u64,
    /// Samples durably queued (after the fsync); only these are promised to reach the cloud.
    pub accepted: u64,
    /// Per (key, publisher): the sequence number of the last sample accepted.
    pub accepted_seq: Vec<AcceptedSeq>,
    /// The durable queue.
    pub queue: QueueStats,
    /// The link to the cloud.
    pub uplink: UplinkStats,
    /// Downlink commands.
    pub commands: CommandStats,
    /// Per collection rule.
    pub rules: Vec<RuleStats>,
    /// The last error outside the link (a failed queue write).
    pub last_error: Option<String>,
}

/// Last accepted sample of one publisher on one key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedSeq {
    /// Topic key.
    pub key: String,
    /// Publisher id, 16 hex digits.
    pub publisher: String,
    /// Its sequence number.
    pub seq: u64,
}

/// Counters of the link to the cloud.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UplinkStats {
    /// Connected to the broker (always true for the file sink).
    pub connected: bool,
    /// Connections established.
    pub connects: u64,
    /// Connections lost or refused.
    pub disconnects: u64,
    /// Batches handed to the broker (or written), resends included.
    pub batches_sent: u64,
    /// Batches acknowledged (PUBACK, or fsynced to the file).
    pub batches_acked: u64,
    /// Samples acknowledged (and removed from the queue).
    pub samples_acked: u64,
    /// Encoded batch bytes sent, resends included.
    pub bytes_sent: u64,
    /// Encoded bytes of the acknowledged batches.
    pub bytes_acked: u64,
    /// The last connection or sink error.
    pub last_error: Option<String>,
}

/// Counters of downlink commands.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CommandStats {
    /// Commands received.
    pub received: u64,
    /// Replied to with `ok`.
    pub ok: u64,
    /// Refused by the bridge (allowlist, malformed, busy, duplicate).
    pub refused: u64,
    /// Failed on the bus (no server, timeout, refused by the service).
    pub failed: u64,
}

/// Shared, updatable stats.
#[derive(Clone, Default)]
pub(crate) struct Hub {
    stats: Arc<Mutex<Stats>>,
    seqs: Arc<Mutex<HashMap<(String, u64), u64>>>,
}

impl Hub {
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut Stats) -> R) -> R {
        f(&mut self.stats.lock().expect("stats lock"))
    }

    pub(crate) fn accepted(&self, key: &str, publisher: u64, seq: u64) {
        let mut seqs = self.seqs.lock().expect("seqs lock");
        let k = (key.to_owned(), publisher);
        if let Some(s) = seqs.get_mut(&k) {
            *s = (*s).max(seq);
        } else if seqs.len() < MAX_TRACKED_PUBLISHERS {
            seqs.insert(k, seq);
        }
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let mut s = self.stats.lock().expect("stats lock").clone();
        let seqs = self.seqs.lock().expect("seqs lock");
        s.accepted_seq = seqs
            .iter()
            .map(|((key, p), seq)| AcceptedSeq {
                key: key.clone(),
                publisher: crate::format::hex(*p),
                seq: *seq,
            })
            .collect();
        s.accepted_seq.sort_by(|a, b| (&a.key, &a.publisher).cmp(&(&b.key, &b.publisher)));
        s
    }
}
