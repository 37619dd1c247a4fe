//! Errors of the bus API.

use std::time::Duration;

/// Setup errors: opening a node, declaring endpoints, bad configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid: where, which field, what was expected and what was found.
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// A topic or service key is invalid.
    #[error("invalid key: {0}")]
    Key(String),
    /// The transport (zenoh) refused an operation; `source` is zenoh's error.
    #[error("{what}: {source}")]
    Transport {
        /// What vbus was doing ("declare the publisher of `vehicle/...`").
        what: String,
        /// zenoh's error.
        #[source]
        source: zenoh::Error,
    },
    /// The same-host path (shared memory) could not be set up where it had to be.
    #[error("{what}: {source}")]
    SharedMemory {
        /// What vbus was doing.
        what: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The node's access policy forbids this endpoint.
    #[error("access policy: {0}")]
    AccessDenied(String),
}

impl Error {
    /// zenoh refused `what`.
    pub(crate) fn transport(what: impl Into<String>) -> impl FnOnce(zenoh::Error) -> Self {
        let what = what.into();
        move |source| Self::Transport { what, source }
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
        type_name: String,
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
    #[error("publish on `{key}` refused by the transport: {source}")]
    Transport {
        /// Topic key.
        key: String,
        /// zenoh's error.
        #[source]
        source: zenoh::Error,
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
    /// The request given as bytes is not a valid payload of the request type; it was not sent.
    #[error("request to `{key}` not sent: {reason}")]
    InvalidRequest {
        /// Service key.
        key: String,
        /// What was wrong.
        reason: String,
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

/// Why [`Subscriber::recv_timeout`](crate::Subscriber::recv_timeout) returned no sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// Nothing arrived within the timeout; the endpoint is still open.
    #[error("no sample within {0:?}")]
    Timeout(Duration),
    /// The endpoint was closed: no more samples will come.
    #[error("the endpoint is closed")]
    Closed,
}

/// The endpoint was closed: no more samples will come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the endpoint is closed")]
pub struct Closed;
