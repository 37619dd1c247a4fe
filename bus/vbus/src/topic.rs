//! Typed descriptors of topics and services: what codegen emits.

use std::{fmt, marker::PhantomData, time::Duration};

use crate::{Message, QoS};

/// A typed topic: key, message type and QoS.
///
/// `vbus-codegen` emits these as constants from the schema, so a typo in a key or a type mismatch
/// is a compile error. The key is relative to the node's domain (see `WIRE.md`).
pub struct Topic<T> {
    key: &'static str,
    qos: QoS,
    _type: PhantomData<fn() -> T>,
}

impl<T: Message> Topic<T> {
    /// A topic with default QoS. `key` is a `/`-separated path without wildcards,
    /// e.g. `chassis/speed`.
    pub const fn new(key: &'static str) -> Self {
        Self { key, qos: QoS::new(), _type: PhantomData }
    }
    /// Replace the QoS.
    pub const fn with_qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }
    /// The key, relative to the domain.
    pub const fn key(&self) -> &'static str {
        self.key
    }
    /// The QoS.
    pub const fn qos(&self) -> QoS {
        self.qos
    }
}

impl<T> Clone for Topic<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Topic<T> {}

impl<T: Message> fmt::Debug for Topic<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topic")
            .field("key", &self.key)
            .field("type", &T::TYPE_NAME)
            .field("qos", &self.qos)
            .finish()
    }
}

/// A typed request/reply service: key, request type, reply type and default timeout.
pub struct Service<Req, Rep> {
    key: &'static str,
    timeout: Duration,
    _types: PhantomData<fn() -> (Req, Rep)>,
}

impl<Req: Message, Rep: Message> Service<Req, Rep> {
    /// A service with a 1 s default call timeout.
    pub const fn new(key: &'static str) -> Self {
        Self { key, timeout: Duration::from_secs(1), _types: PhantomData }
    }
    /// Replace the default call timeout.
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// The key, relative to the domain.
    pub const fn key(&self) -> &'static str {
        self.key
    }
    /// The default call timeout.
    pub const fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl<Req, Rep> Clone for Service<Req, Rep> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<Req, Rep> Copy for Service<Req, Rep> {}

impl<Req: Message, Rep: Message> fmt::Debug for Service<Req, Rep> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service")
            .field("key", &self.key)
            .field("request", &Req::TYPE_NAME)
            .field("reply", &Rep::TYPE_NAME)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Check a relative topic/service key: non-empty chunks, no wildcards, no `@` chunks, no `$`.
/// Every endpoint runs it when declared ([`Error::Key`](crate::Error::Key)); bindings run it
/// before they wait on the bus for a key's type.
pub fn validate_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("key is empty".into());
    }
    for (i, chunk) in key.split('/').enumerate() {
        if chunk.is_empty() {
            return Err(format!("key `{key}`: chunk {} is empty (leading, trailing or double `/`)", i + 1));
        }
        if chunk == "*" || chunk == "**" || chunk.contains('$') || chunk.contains('?') || chunk.contains('#')
        {
            return Err(format!("key `{key}`: chunk `{chunk}` contains a wildcard or reserved character"));
        }
        if chunk.starts_with('@') {
            return Err(format!(
                "key `{key}`: chunk `{chunk}` starts with `@`, which vbus reserves for its own keys"
            ));
        }
    }
    Ok(())
}
