//! Errors of the bus API.

use std::time::Duration;

/// Setup errors: opening a node, declaring endpoints, bad configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; the message says what was expected and what was found.
    #[error("configuration: {0}")]
    Config(String),
    /// A topic or service key is invalid.
    #[error("invalid key: {0}")]
    Key(String),
    /// The transport refused an operation.
    #[error("zenoh: {0}")]
    Zenoh(String),
    /// The node's access policy forbids this endpoint.
    #[error("access policy: {0}")]
    AccessDenied(String),
}

impl Error {
    pub(crate) fn zenoh(e: impl std::fmt::Display) -> Self {
        Self::Zenoh(e.to_string())
    }
}

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The bytes given to `publish_bytes` are not a valid FlatBuffer of the topic's type.
    #[error("payload for `{key}` is not a valid {type_name}: {reason}")]
    InvalidPayload {
        /// Topic key.
        key: String,
        /// Expected type.
        type_name: &'static str,
        /// Verifier message.
        reason: String,
    },
    /// The node's access policy does not allow it to publish on this key.
    #[error("node `{node}` may not publish on `{key}` (access policy)")]
    AccessDenied {
        /// Topic key.
        key: String,
        /// This node.
        node: String,
    },
    /// The transport refused the sample (session closed, access denied, ...).
    #[error("publish on `{key}` refused by the transport: {reason}")]
    Transport {
        /// Topic key.
        key: String,
        /// Transport message.
        reason: String,
    },
}

/// Why a service call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No server answers on this key.
    #[error("no server for `{key}`")]
    NoServer {
        /// Service key.
        key: String,
    },
    /// No reply within the timeout.
    #[error("call to `{key}` timed out after {after:?}")]
    Timeout {
        /// Service key.
        key: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The server refused the request; `message` is its reason.
    #[error("`{key}` refused the request: {message}")]
    Refused {
        /// Service key.
        key: String,
        /// The server's reason.
        message: String,
    },
    /// The reply's type hash differs from the client's reply type.
    #[error("reply from `{key}` has type hash {found:#018x}, expected {expected:#018x} (schema mismatch)")]
    TypeMismatch {
        /// Service key.
        key: String,
        /// Client's reply type hash.
        expected: u64,
        /// Hash found in the reply.
        found: u64,
    },
    /// The reply is not a valid vbus reply (header or payload).
    #[error("invalid reply from `{key}`: {reason}")]
    InvalidReply {
        /// Service key.
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// The transport failed.
    #[error("call to `{key}` failed in the transport: {reason}")]
    Transport {
        /// Service key.
        key: String,
        /// Transport message.
        reason: String,
    },
}

/// The endpoint was closed: no more samples will come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the endpoint is closed")]
pub struct Closed;
