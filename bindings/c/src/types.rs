//! The C structs: handles, type descriptors, QoS, sample metadata, events and counters.

use std::{
    ffi::{c_char, c_void},
    sync::Arc,
    time::Duration,
};

use vbus_rs::{Congestion, Priority, QoS, Reliability, TypeInfo};

use crate::{Failure, bytes_arg, str_arg};

// Handles: a plain value holding a registry id. Copy them freely. The null handle (`id` 0) is
// never valid; a closed handle is reported as `VBUS_ERR_INVALID_HANDLE`. (Written out, not
// made by a macro: cbindgen reads the sources as they are.)

/// An open node (one zenoh session, a name and a domain).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vbus_node {
    /// Registry id (0: none).
    pub id: u64,
}

/// A publisher of one topic.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vbus_publisher {
    /// Registry id (0: none).
    pub id: u64,
}

/// A subscriber of one topic (queued, or with a callback).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vbus_subscriber {
    /// Registry id (0: none).
    pub id: u64,
}

/// A received sample; its bytes stay valid until `vbus_sample_release`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vbus_sample {
    /// Registry id (0: none).
    pub id: u64,
}

/// A server of one service.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vbus_service_server {
    /// Registry id (0: none).
    pub id: u64,
}

/// A request taken from a server, until it is answered with `vbus_request_reply` or
/// `vbus_request_refuse`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vbus_request {
    /// Registry id (0: none).
    pub id: u64,
}

/// A client of one service.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vbus_service_client {
    /// Registry id (0: none).
    pub id: u64,
}

/// The owner of a field.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vbus_field_owner {
    /// Registry id (0: none).
    pub id: u64,
}

/// A client following a field.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vbus_field_client {
    /// Registry id (0: none).
    pub id: u64,
}

/// A watcher of nodes coming and going (liveliness).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vbus_node_watcher {
    /// Registry id (0: none).
    pub id: u64,
}

/// Reliability: the topic's own (0), reliable, or best effort.
pub const VBUS_RELIABILITY_DEFAULT: u8 = 0;
/// Retransmitted by the transport.
pub const VBUS_RELIABILITY_RELIABLE: u8 = 1;
/// Sent once.
pub const VBUS_RELIABILITY_BEST_EFFORT: u8 = 2;
/// Priority: the default (data).
pub const VBUS_PRIORITY_DEFAULT: u8 = 0;
/// Control loops and safety signals.
pub const VBUS_PRIORITY_REAL_TIME: u8 = 1;
/// Interactive, high.
pub const VBUS_PRIORITY_INTERACTIVE_HIGH: u8 = 2;
/// Interactive, low.
pub const VBUS_PRIORITY_INTERACTIVE_LOW: u8 = 3;
/// Data, high.
pub const VBUS_PRIORITY_DATA_HIGH: u8 = 4;
/// Data (the default).
pub const VBUS_PRIORITY_DATA: u8 = 5;
/// Data, low.
pub const VBUS_PRIORITY_DATA_LOW: u8 = 6;
/// Bulk transfers, logs.
pub const VBUS_PRIORITY_BACKGROUND: u8 = 7;
/// Congestion: the default (drop).
pub const VBUS_CONGESTION_DEFAULT: u8 = 0;
/// Never wait; subscriber queues drop their oldest sample.
pub const VBUS_CONGESTION_DROP: u8 = 1;
/// Wait (back-pressure): nothing is dropped.
pub const VBUS_CONGESTION_BLOCK: u8 = 2;

/// A topic's quality of service. Zero means "the default" in every field, so `vbus_qos q = {0};`
/// is the default QoS; codegen's C++ descriptors give each topic's own.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct vbus_qos {
    /// `VBUS_RELIABILITY_*`.
    pub reliability: u8,
    /// `VBUS_PRIORITY_*`.
    pub priority: u8,
    /// Express: sent at once, not batched.
    pub express: bool,
    /// `VBUS_CONGESTION_*`.
    pub congestion: u8,
    /// Samples kept for late joiners (0: none).
    pub history: u16,
    /// Subscriber queue depth (0: the default, 64).
    pub queue: u16,
    /// Deadline in ms (0: none): a subscriber reports each period without a sample.
    pub deadline_ms: u32,
    /// Lifespan in ms (0: none): older samples are not delivered.
    pub lifespan_ms: u32,
    /// End-to-end protection (CRC, data id, counter).
    pub e2e: bool,
}

impl vbus_qos {
    pub(crate) fn to_qos(self) -> Result<QoS, Failure> {
        let mut q = QoS::new();
        q = match self.reliability {
            VBUS_RELIABILITY_DEFAULT => q,
            VBUS_RELIABILITY_RELIABLE => q.reliability(Reliability::Reliable),
            VBUS_RELIABILITY_BEST_EFFORT => q.reliability(Reliability::BestEffort),
            n => return Err(Failure::invalid(format!("qos.reliability: expected 0, 1 or 2, found {n}"))),
        };
        const PRIORITIES: [Priority; 7] = [
            Priority::RealTime,
            Priority::InteractiveHigh,
            Priority::InteractiveLow,
            Priority::DataHigh,
            Priority::Data,
            Priority::DataLow,
            Priority::Background,
        ];
        q = match self.priority {
            0 => q,
            n @ 1..=7 => q.priority(PRIORITIES[n as usize - 1]),
            n => return Err(Failure::invalid(format!("qos.priority: expected 0 to 7, found {n}"))),
        };
        q = q.express(self.express);
        q = match self.congestion {
            VBUS_CONGESTION_DEFAULT => q,
            VBUS_CONGESTION_DROP => q.congestion(Congestion::Drop),
            VBUS_CONGESTION_BLOCK => q.congestion(Congestion::Block),
            n => return Err(Failure::invalid(format!("qos.congestion: expected 0, 1 or 2, found {n}"))),
        };
        q = q.history(self.history).e2e(self.e2e);
        if self.queue > 0 {
            q = q.queue(self.queue);
        }
        if self.deadline_ms > 0 {
            q = q.deadline(Duration::from_millis(self.deadline_ms.into()));
        }
        if self.lifespan_ms > 0 {
            q = q.lifespan(Duration::from_millis(self.lifespan_ms.into()));
        }
        Ok(q)
    }
}

/// Checks that `len` bytes at `data` are a valid FlatBuffer of the type; returns true if so.
/// Called on vbus threads, possibly several at once: it must be thread-safe.
pub type vbus_verify_fn = Option<unsafe extern "C" fn(ctx: *mut c_void, data: *const u8, len: usize) -> bool>;

/// A message type: what a compiled Rust type knows about itself. Codegen's C++ descriptors
/// fill it from `vbus::message_traits<T>`.
///
/// Every payload sent or received is verified first: by `verify` when given (flatc's generated
/// verifier, as the C++ API passes), else through `schema` (a `.bfbs` with this type as root).
/// One of the two is required. The strings and bytes are copied: they need not outlive the call.
#[repr(C)]
pub struct vbus_type {
    /// Fully qualified schema name, e.g. `demo.vehicle.VehicleSpeed`.
    pub name: *const c_char,
    /// Schema hash (codegen's `type_hash`), carried in every header.
    pub hash: u64,
    /// The type's `.bfbs` (may be NULL): served to tools, and the verifier when `verify` is NULL.
    pub schema: *const u8,
    /// Length of `schema`.
    pub schema_len: usize,
    /// Verifier (may be NULL when `schema` is given).
    pub verify: vbus_verify_fn,
    /// Passed to `verify`.
    pub verify_ctx: *mut c_void,
}

/// A verifier and its context, called from vbus threads: the C caller promises thread safety.
struct CVerifier {
    f: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> bool,
    ctx: *mut c_void,
}
// SAFETY: `vbus_type` documents that the verifier and its context are thread-safe.
unsafe impl Send for CVerifier {}
// SAFETY: as above.
unsafe impl Sync for CVerifier {}

impl CVerifier {
    fn accepts(&self, b: &[u8]) -> bool {
        // SAFETY: `b` is valid for the call; the callee only reads it.
        unsafe { (self.f)(self.ctx, b.as_ptr(), b.len()) }
    }
}

impl vbus_type {
    pub(crate) unsafe fn to_type_info(p: *const Self, what: &str) -> Result<TypeInfo, Failure> {
        // SAFETY: the caller passes a valid `vbus_type` or NULL.
        let Some(t) = (unsafe { p.as_ref() }) else {
            return Err(Failure::new(
                crate::vbus_status::VBUS_ERR_NULL,
                format!("{what}: expected a vbus_type, found NULL"),
            ));
        };
        // SAFETY: documented contract of the fields.
        let name = unsafe { str_arg(t.name, &format!("{what}.name")) }?.to_owned();
        // SAFETY: as above.
        let schema = unsafe { bytes_arg(t.schema, t.schema_len, &format!("{what}.schema")) }?.to_vec();
        let verifier: vbus_rs::Verifier = match t.verify {
            Some(f) => {
                let v = CVerifier { f, ctx: t.verify_ctx };
                let type_name = name.clone();
                Arc::new(move |b: &[u8]| {
                    if v.accepts(b) {
                        Ok(())
                    } else {
                        Err(format!("the {type_name} verifier refused {} bytes", b.len()))
                    }
                })
            }
            None if !schema.is_empty() => {
                let parsed = vbus_reflect::Schema::from_bfbs(&schema)
                    .map_err(|e| Failure::invalid(format!("{what}.schema: not a valid .bfbs: {e}")))?;
                Arc::new(vbus_reflect::verifier(Arc::new(parsed), &name).map_err(|e| {
                    Failure::invalid(format!("{what}.schema: expected a schema with table `{name}`: {e}"))
                })?)
            }
            None => {
                return Err(Failure::invalid(format!(
                    "{what} `{name}`: expected a verifier or a schema, found neither (payloads could not be verified)"
                )));
            }
        };
        // Served as every publisher serves a schema: cut to what the table needs, rooted at it
        // (a C program may pass its whole `.bfbs`).
        let served = if schema.is_empty() {
            schema
        } else {
            vbus_reflect::subset_bfbs(&schema, &name)
                .map_err(|e| Failure::invalid(format!("{what}.schema: cannot cut it to `{name}`: {e}")))?
        };
        Ok(TypeInfo::new(&name, t.hash, verifier).with_schema(served))
    }
}

/// The path a sample took.
pub const VBUS_PATH_SHARED_MEMORY: u8 = 1;
/// Over a zenoh link.
pub const VBUS_PATH_ZENOH: u8 = 2;

/// A sample's bytes and metadata. `data` stays valid until the sample is released (taken
/// samples) or the callback returns (callback subscribers).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vbus_sample_info {
    /// The FlatBuffers payload, verified as the subscriber's type.
    pub data: *const u8,
    /// Length of `data`.
    pub len: usize,
    /// The publisher's sequence number (1, 2, ...).
    pub seq: u64,
    /// Source time, ns since the UNIX epoch.
    pub source_time_ns: u64,
    /// Id of the publisher (random, per publisher).
    pub publisher_id: u64,
    /// Publication to receipt, ns.
    pub latency_ns: u64,
    /// `VBUS_PATH_*`.
    pub path: u8,
}

impl Default for vbus_sample_info {
    fn default() -> Self {
        Self {
            data: std::ptr::null(),
            len: 0,
            seq: 0,
            source_time_ns: 0,
            publisher_id: 0,
            latency_ns: 0,
            path: 0,
        }
    }
}

impl vbus_sample_info {
    pub(crate) fn of(s: &vbus_rs::Sample<vbus_rs::Untyped>) -> Self {
        Self {
            data: s.bytes().as_ptr(),
            len: s.bytes().len(),
            seq: s.seq(),
            source_time_ns: s.source_time_ns(),
            publisher_id: s.publisher_id(),
            latency_ns: s.latency().as_nanos() as u64,
            path: match s.path() {
                vbus_rs::DataPath::SharedMemory => VBUS_PATH_SHARED_MEMORY,
                vbus_rs::DataPath::Zenoh => VBUS_PATH_ZENOH,
            },
        }
    }
}

/// No sample arrived within the topic's deadline.
pub const VBUS_EVENT_DEADLINE_MISSED: u8 = 1;
/// A publisher sends another type (hash) on the topic; its samples are not delivered.
pub const VBUS_EVENT_TYPE_MISMATCH: u8 = 2;
/// A sample was refused (bad header, payload failing verification).
pub const VBUS_EVENT_REJECTED: u8 = 3;
/// An E2E-protected sample failed its checks.
pub const VBUS_EVENT_E2E_VIOLATION: u8 = 4;
/// Samples are missing in a publisher's sequence.
pub const VBUS_EVENT_SAMPLES_LOST: u8 = 5;

/// Size of `vbus_event::message`.
pub const VBUS_MESSAGE_LEN: usize = 256;

/// A topic event. Fields that do not apply to the kind are 0.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vbus_event {
    /// `VBUS_EVENT_*`.
    pub kind: u8,
    /// The publisher concerned (mismatch, E2E, lost).
    pub publisher_id: u64,
    /// The subscriber's type hash (mismatch).
    pub expected_hash: u64,
    /// The publisher's type hash (mismatch).
    pub found_hash: u64,
    /// Sequence expected next (lost), or the sample's (E2E).
    pub expected_seq: u64,
    /// Sequence received (lost).
    pub received_seq: u64,
    /// How long the topic has been silent, ns (deadline).
    pub silent_for_ns: u64,
    /// The event in words, NUL-terminated (truncated to fit).
    pub message: [c_char; VBUS_MESSAGE_LEN],
}

/// Copy `s` into a fixed C buffer, NUL-terminated, truncated at a character boundary.
pub(crate) fn fill(buf: &mut [c_char], s: &str) {
    let mut end = s.len().min(buf.len() - 1);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    for (d, b) in buf.iter_mut().zip(&s.as_bytes()[..end]) {
        *d = *b as c_char;
    }
    buf[end] = 0;
}

impl vbus_event {
    pub(crate) fn of(e: &vbus_rs::TopicEvent) -> Self {
        use vbus_rs::TopicEvent as E;
        let mut ev = Self {
            kind: 0,
            publisher_id: 0,
            expected_hash: 0,
            found_hash: 0,
            expected_seq: 0,
            received_seq: 0,
            silent_for_ns: 0,
            message: [0; VBUS_MESSAGE_LEN],
        };
        match e {
            E::DeadlineMissed { silent_for, .. } => {
                ev.kind = VBUS_EVENT_DEADLINE_MISSED;
                ev.silent_for_ns = silent_for.as_nanos() as u64;
            }
            E::TypeMismatch { expected_hash, found_hash, publisher_id, .. } => {
                ev.kind = VBUS_EVENT_TYPE_MISMATCH;
                (ev.expected_hash, ev.found_hash, ev.publisher_id) =
                    (*expected_hash, *found_hash, *publisher_id);
            }
            E::Rejected { .. } => ev.kind = VBUS_EVENT_REJECTED,
            E::E2eViolation { publisher_id, seq, .. } => {
                ev.kind = VBUS_EVENT_E2E_VIOLATION;
                (ev.publisher_id, ev.expected_seq) = (*publisher_id, *seq);
            }
            E::SamplesLost { publisher_id, expected_seq, received_seq, .. } => {
                ev.kind = VBUS_EVENT_SAMPLES_LOST;
                (ev.publisher_id, ev.expected_seq, ev.received_seq) =
                    (*publisher_id, *expected_seq, *received_seq);
            }
        }
        fill(&mut ev.message, &e.to_string());
        ev
    }
}

/// An endpoint's counters (see the Rust `TopicStats` for each one's meaning).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct vbus_stats {
    /// Samples, requests or replies sent.
    pub sent: u64,
    /// Samples handed to the application.
    pub delivered: u64,
    /// Dropped by a full queue.
    pub dropped: u64,
    /// Refused: bad header or payload.
    pub rejected: u64,
    /// Of another type (hash).
    pub mismatched: u64,
    /// Missing in publishers' sequences.
    pub lost: u64,
    /// Received twice, not delivered again.
    pub duplicates: u64,
    /// Older than the lifespan.
    pub expired: u64,
    /// Deadline periods without a sample.
    pub deadline_missed: u64,
    /// Publish calls that waited on back-pressure for more than 1 ms.
    pub backpressure_waits: u64,
    /// Time spent in those waits, ns.
    pub backpressure_ns: u64,
    /// Events not queued (queue full).
    pub events_dropped: u64,
    /// E2E violations.
    pub e2e_errors: u64,
    /// Publish calls refused by the access policy.
    pub refused: u64,
}

impl From<vbus_rs::TopicStats> for vbus_stats {
    fn from(s: vbus_rs::TopicStats) -> Self {
        Self {
            sent: s.sent,
            delivered: s.delivered,
            dropped: s.dropped,
            rejected: s.rejected,
            mismatched: s.mismatched,
            lost: s.lost,
            duplicates: s.duplicates,
            expired: s.expired,
            deadline_missed: s.deadline_missed,
            backpressure_waits: s.backpressure_waits,
            backpressure_ns: s.backpressure_ns,
            events_dropped: s.events_dropped,
            e2e_errors: s.e2e_errors,
            refused: s.refused,
        }
    }
}

/// A node came up.
pub const VBUS_NODE_UP: u8 = 1;
/// A node went away (closed, crashed or unreachable).
pub const VBUS_NODE_DOWN: u8 = 2;

/// A node coming or going.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vbus_node_event {
    /// `VBUS_NODE_UP` or `VBUS_NODE_DOWN`.
    pub kind: u8,
    /// The node's name, NUL-terminated (truncated to fit).
    pub name: [c_char; VBUS_MESSAGE_LEN],
}
