//! Events a subscriber reports besides data: QoS violations and refused samples.

use std::{fmt, time::Duration};

use crate::wire::HeaderError;

/// Something the application should know about a topic, reported next to the data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopicEvent {
    /// No sample arrived within the topic's deadline.
    DeadlineMissed {
        /// Topic key.
        key: String,
        /// The deadline.
        deadline: Duration,
        /// How long the topic has been silent.
        silent_for: Duration,
    },
    /// A publisher sends another schema type on this key; its samples are not delivered.
    TypeMismatch {
        /// Topic key.
        key: String,
        /// This subscriber's type.
        expected_type: std::sync::Arc<str>,
        /// This subscriber's type hash.
        expected_hash: u64,
        /// The publisher's type hash.
        found_hash: u64,
        /// The publisher's id.
        publisher_id: u64,
    },
    /// A sample was refused: no/corrupt vbus header or a payload that fails verification.
    Rejected {
        /// Topic key.
        key: String,
        /// What was wrong.
        reason: RejectReason,
    },
    /// An E2E-protected topic received a sample that failed its checks; corrupted, misrouted,
    /// repeated and unprotected samples are not delivered.
    E2eViolation {
        /// Topic key.
        key: String,
        /// The publisher's id (from the header; unreliable when corrupted).
        publisher_id: u64,
        /// The sequence number (counter) in the header.
        seq: u64,
        /// What was wrong.
        violation: E2eViolation,
    },
    /// Samples are missing in a publisher's sequence.
    SamplesLost {
        /// Topic key.
        key: String,
        /// The publisher's id.
        publisher_id: u64,
        /// Sequence number expected next.
        expected_seq: u64,
        /// Sequence number received.
        received_seq: u64,
    },
}

/// What an E2E check found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum E2eViolation {
    /// The sample carries no E2E extension although the topic requires it.
    Missing,
    /// The CRC does not match: header or payload changed on the way.
    Corrupted,
    /// The data id is another topic's: a misrouted or masquerading sample.
    WrongDataId {
        /// Data id of this topic.
        expected: u32,
        /// Data id found.
        found: u32,
    },
    /// The counter did not advance: a repeated (replayed) sample.
    Repeated,
    /// The sample is older than the topic's lifespan (or deadline) allows.
    Delayed {
        /// Age at receipt.
        age: std::time::Duration,
    },
}

impl fmt::Display for E2eViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("no E2E protection on a protected topic"),
            Self::Corrupted => f.write_str("CRC mismatch (corrupted)"),
            Self::WrongDataId { expected, found } => {
                write!(f, "data id {found:#010x}, expected {expected:#010x} (misrouted)")
            }
            Self::Repeated => f.write_str("counter did not advance (repeated)"),
            Self::Delayed { age } => write!(f, "delayed: {age:?} old"),
        }
    }
}

/// Why a sample was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// The attachment header is missing or corrupt.
    Header(HeaderError),
    /// The payload is not a valid FlatBuffer of the topic's type.
    Payload(String),
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Header(e) => write!(f, "bad header: {e}"),
            Self::Payload(e) => write!(f, "invalid payload: {e}"),
        }
    }
}

impl fmt::Display for TopicEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DeadlineMissed { key, deadline, silent_for } => {
                write!(f, "`{key}`: deadline {deadline:?} missed, silent for {silent_for:?}")
            }
            Self::TypeMismatch { key, expected_type, expected_hash, found_hash, publisher_id } => write!(
                f,
                "`{key}`: publisher {publisher_id:016x} sends type hash {found_hash:#018x}, expected {expected_type} ({expected_hash:#018x})"
            ),
            Self::Rejected { key, reason } => write!(f, "`{key}`: sample rejected: {reason}"),
            Self::E2eViolation { key, publisher_id, seq, violation } => {
                write!(f, "`{key}`: E2E check failed for seq {seq} from {publisher_id:016x}: {violation}")
            }
            Self::SamplesLost { key, publisher_id, expected_seq, received_seq } => write!(
                f,
                "`{key}`: {} sample(s) lost from publisher {publisher_id:016x} (expected seq {expected_seq}, got {received_seq})",
                received_seq - expected_seq
            ),
        }
    }
}
