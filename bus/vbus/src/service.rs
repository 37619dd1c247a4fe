//! Request/reply over zenoh queryables, typed on both ends.

use std::{marker::PhantomData, sync::Arc, time::Duration};

use flatbuffers::{FlatBufferBuilder, WIPOffset};
use tracing::Instrument;
use zenoh::{Wait, bytes::ZBytes, query::Query};

use crate::{
    CallError, Closed, Error, Message, Pack, PublishError, TopicStats, TypeInfo,
    node::Node,
    sample::{Payload, Sample},
    stats::{Counters, Role},
    wire::{self, Header},
};

/// Requests a server queues before it answers "busy".
const SERVER_QUEUE: usize = 64;

/// Builds a [`ServiceServer`]; from [`Node::service_server`].
#[must_use = "call .create().await to declare the server"]
pub struct ServiceServerBuilder<'n, Req, Rep> {
    node: &'n Node,
    key: String,
    req: TypeInfo,
    rep: TypeInfo,
    _types: PhantomData<fn() -> (Req, Rep)>,
}

impl<'n, Req: Send + 'static, Rep: Send + 'static> ServiceServerBuilder<'n, Req, Rep> {
    pub(crate) fn new(node: &'n Node, key: &str, req: TypeInfo, rep: TypeInfo) -> Self {
        Self { node, key: key.to_owned(), req, rep, _types: PhantomData }
    }

    /// Declare the server on the bus (and serve the request and reply schemas).
    pub async fn create(self) -> Result<ServiceServer<Req, Rep>, Error> {
        ServiceServer::declare(self.node, &self.key, self.req, self.rep)
    }
}

/// Builds a [`ServiceClient`]; from [`Node::service_client`].
#[must_use = "call .create().await to declare the client"]
pub struct ServiceClientBuilder<'n, Req, Rep> {
    node: &'n Node,
    key: String,
    req: TypeInfo,
    rep: TypeInfo,
    timeout: Duration,
    _types: PhantomData<fn() -> (Req, Rep)>,
}

impl<'n, Req, Rep> ServiceClientBuilder<'n, Req, Rep> {
    pub(crate) fn new(node: &'n Node, key: &str, req: TypeInfo, rep: TypeInfo, timeout: Duration) -> Self {
        Self { node, key: key.to_owned(), req, rep, timeout, _types: PhantomData }
    }

    /// Replace the default call timeout (the service's, or 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Declare the client.
    pub async fn create(self) -> Result<ServiceClient<Req, Rep>, Error> {
        ServiceClient::declare(self.node, &self.key, self.req, self.rep, self.timeout)
    }
}

/// Serves one [`Service`](crate::Service): receives typed requests, answers with typed replies.
pub struct ServiceServer<Req, Rep> {
    rx: flume::Receiver<Request<Req, Rep>>,
    stats: Arc<Counters>,
    closed: tokio::sync::watch::Receiver<bool>,
    _queryable: zenoh::query::Queryable<()>,
}

impl<Req: Send + 'static, Rep: Send + 'static> ServiceServer<Req, Rep> {
    fn declare(node: &Node, key: &str, req: TypeInfo, rep: TypeInfo) -> Result<Self, Error> {
        crate::topic::validate_key(key).map_err(Error::Key)?;
        if let Some(a) = &node.config().access
            && !a.may_publish(node.name(), key)
        {
            return Err(Error::AccessDenied(format!("node `{}` may not serve `{key}`", node.name())));
        }
        let (tx, rx) = flume::bounded(SERVER_QUEUE);
        let stats = node.register(Role::ServiceServer, key, req.name_arc());
        let counters = stats.clone();
        // Tools find the service (its request table declares `vbus_service`) and encode and decode
        // calls through these, as they do for published types.
        node.serve_schema(&req)?;
        node.serve_schema(&rep)?;
        let types = Arc::new((req, rep));
        let owned_key = key.to_owned();
        let queryable = node
            .session()
            .declare_queryable(wire::data_key(node.domain(), key))
            .callback(move |query| {
                let key = &owned_key;
                let _span = tracing::trace_span!("vbus.request", key = %key).entered();
                match Request::<Req, Rep>::validate(query, key, types.clone(), counters.clone()) {
                    Ok(req) => {
                        if let Err(flume::TrySendError::Full(req)) = tx.try_send(req) {
                            Counters::inc(&counters.dropped);
                            req.refuse("server busy: request queue full");
                        }
                    }
                    Err(refused) => {
                        let (query, reason) = *refused;
                        Counters::inc(&counters.rejected);
                        let _ = query.reply_err(reason).wait();
                    }
                }
            })
            .wait()
            .map_err(Error::transport(format!("declare the service `{key}`")))?;
        Ok(Self { rx, stats, closed: node.closed(), _queryable: queryable })
    }

    /// The next request.
    pub async fn recv(&self) -> Result<Request<Req, Rep>, Closed> {
        let r = crate::node::recv_until_closed(&self.rx, &self.closed).await?;
        Counters::inc(&self.stats.delivered);
        Ok(r)
    }

    /// Counters: `delivered` requests, `sent` replies, `rejected` invalid requests, `dropped`
    /// requests refused while the queue was full.
    pub fn stats(&self) -> TopicStats {
        self.stats.snapshot()
    }
}

/// A typed request; answer it with [`Request::reply`] or [`Request::refuse`]. Dropping it
/// unanswered refuses it, so the caller learns at once instead of waiting for its timeout.
pub struct Request<Req, Rep> {
    query: Query,
    answered: bool,
    payload: Payload,
    header: Header,
    /// The request and reply types.
    types: Arc<(TypeInfo, TypeInfo)>,
    stats: Arc<Counters>,
    _types: PhantomData<fn() -> (Req, Rep)>,
}

impl<Req, Rep> Request<Req, Rep> {
    fn validate(
        query: Query,
        key: &str,
        types: Arc<(TypeInfo, TypeInfo)>,
        stats: Arc<Counters>,
    ) -> Result<Self, Box<(Query, String)>> {
        let req = &types.0;
        let header = match query.attachment().map(|a| Header::decode(&a.to_bytes())) {
            Some(Ok(h)) => h,
            Some(Err(e)) => return Err(Box::new((query, format!("request to `{key}`: {e}")))),
            None => {
                return Err(Box::new((query, format!("request to `{key}`: {}", wire::HeaderError::Missing))));
            }
        };
        if header.type_hash != req.hash() {
            let msg = format!(
                "request to `{key}` has type hash {:#018x}, the server expects {} ({:#018x})",
                header.type_hash,
                req.name(),
                req.hash()
            );
            return Err(Box::new((query, msg)));
        }
        let payload = match query.payload() {
            Some(p) => Payload::from_zbytes(p),
            None => return Err(Box::new((query, format!("request to `{key}` has no payload")))),
        };
        if let Err(e) = req.verify(payload.bytes()) {
            return Err(Box::new((query, format!("request to `{key}` is not a valid {}: {e}", req.name()))));
        }
        Ok(Self { query, answered: false, payload, header, types, stats, _types: PhantomData })
    }

    /// The request as a verified sample.
    pub fn sample(&self) -> Sample<Req> {
        Sample {
            payload: self.payload.clone(),
            header: self.header,
            received_ns: wire::now_ns(),
            _type: PhantomData,
        }
    }

    /// The request's FlatBuffers bytes (verified as the request type).
    pub fn bytes(&self) -> &[u8] {
        self.payload.bytes()
    }

    /// Whether `bytes` are a valid reply: what [`Request::reply_bytes`] checks first, for
    /// callers that must keep the request open when they are not.
    pub fn verify_reply(&self, bytes: &[u8]) -> Result<(), PublishError> {
        let rep = &self.types.1;
        rep.verify(bytes).map_err(|reason| PublishError::InvalidPayload {
            key: self.query.key_expr().as_str().to_owned(),
            type_name: rep.name().to_owned(),
            reason,
        })
    }

    /// Reply with FlatBuffers bytes of the reply type built elsewhere (bindings): verified
    /// first, as [`crate::Publisher::publish_bytes`] does.
    pub fn reply_bytes(self, bytes: &[u8]) -> Result<(), PublishError> {
        self.verify_reply(bytes)?;
        self.send_reply(bytes.to_vec())
    }

    fn send_reply(mut self, bytes: Vec<u8>) -> Result<(), PublishError> {
        let rep = &self.types.1;
        let header = Header {
            flags: 0,
            host_tag: 0,
            type_hash: rep.hash(),
            seq: self.header.seq,
            source_time_ns: wire::now_ns(),
            publisher_id: 0,
        };
        self.query
            .reply(self.query.key_expr().clone(), ZBytes::from(bytes))
            .encoding(wire::encoding(rep.name()))
            .attachment(header.encode().to_vec())
            .wait()
            .map_err(|source| PublishError::Transport {
                key: self.query.key_expr().as_str().to_owned(),
                source,
            })?;
        self.answered = true;
        Counters::inc(&self.stats.sent);
        Ok(())
    }

    /// Refuse the request; the caller gets [`CallError::Refused`] with `reason`.
    pub fn refuse(mut self, reason: &str) {
        self.answered = true;
        let _ = self.query.reply_err(reason.to_owned()).wait();
    }
}

impl<Req: Message, Rep: Message> Request<Req, Rep> {
    /// Reply with a value that packs itself as `Rep`.
    pub fn reply(self, value: &impl Pack<Rep>) -> Result<(), PublishError> {
        self.reply_with(|fbb| value.pack(fbb))
    }

    /// Reply with a `Rep` built in place.
    pub fn reply_with<F>(self, build: F) -> Result<(), PublishError>
    where
        F: for<'b> FnOnce(&mut FlatBufferBuilder<'b>) -> WIPOffset<Rep::View<'b>>,
    {
        let mut fbb = FlatBufferBuilder::with_capacity(256);
        let root = build(&mut fbb);
        fbb.finish_minimal(root);
        self.send_reply(fbb.finished_data().to_vec())
    }
}

impl<Req, Rep> Drop for Request<Req, Rep> {
    fn drop(&mut self) {
        if !self.answered {
            let _ = self.query.reply_err("the server dropped the request without replying").wait();
        }
    }
}

/// Calls one [`Service`](crate::Service).
pub struct ServiceClient<Req, Rep> {
    session: zenoh::Session,
    key: String,
    wire_key: String,
    timeout: Duration,
    req: TypeInfo,
    rep: TypeInfo,
    seq: std::sync::atomic::AtomicU64,
    id: u64,
    stats: Arc<Counters>,
    _types: PhantomData<fn() -> (Req, Rep)>,
}

impl<Req: Message, Rep: Message> ServiceClient<Req, Rep> {
    /// Call with a value that packs itself as `Req`, with the service's default timeout.
    pub async fn call(&self, value: &impl Pack<Req>) -> Result<Sample<Rep>, CallError> {
        self.call_with(|fbb| value.pack(fbb), self.timeout).await
    }

    /// Call with a request built in place and an explicit timeout.
    pub async fn call_with<F>(&self, build: F, timeout: Duration) -> Result<Sample<Rep>, CallError>
    where
        F: for<'b> FnOnce(&mut FlatBufferBuilder<'b>) -> WIPOffset<Req::View<'b>>,
    {
        let mut fbb = FlatBufferBuilder::with_capacity(256);
        let root = build(&mut fbb);
        fbb.finish_minimal(root);
        self.send(fbb.finished_data().to_vec(), timeout).await
    }
}

impl<Req, Rep> ServiceClient<Req, Rep> {
    fn declare(
        node: &Node,
        key: &str,
        req: TypeInfo,
        rep: TypeInfo,
        timeout: Duration,
    ) -> Result<Self, Error> {
        crate::topic::validate_key(key).map_err(Error::Key)?;
        Ok(Self {
            session: node.session().clone(),
            key: key.to_owned(),
            wire_key: wire::data_key(node.domain(), key),
            timeout,
            stats: node.register(Role::ServiceClient, key, req.name_arc()),
            req,
            rep,
            seq: Default::default(),
            id: rand::random(),
            _types: PhantomData,
        })
    }

    /// Call with FlatBuffers bytes of the request type built elsewhere (bindings), verified
    /// first; `timeout`: `None` for the default one.
    pub async fn call_bytes(
        &self,
        bytes: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Sample<Rep>, CallError> {
        self.req.verify(bytes).map_err(|reason| CallError::InvalidRequest {
            key: self.key.clone(),
            reason: format!("not a valid {}: {reason}", self.req.name()),
        })?;
        self.send(bytes.to_vec(), timeout.unwrap_or(self.timeout)).await
    }

    /// The default call timeout.
    pub fn default_timeout(&self) -> Duration {
        self.timeout
    }

    async fn send(&self, bytes: Vec<u8>, timeout: Duration) -> Result<Sample<Rep>, CallError> {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let header = Header {
            flags: 0,
            host_tag: 0,
            type_hash: self.req.hash(),
            seq,
            source_time_ns: wire::now_ns(),
            publisher_id: self.id,
        };
        // Instrumented, not entered: the span must not be held across the await (the future
        // would not be `Send`, and the span would cover whatever else the thread runs).
        let result = request(&self.session, &self.wire_key, &self.key, &header, bytes, timeout)
            .instrument(tracing::trace_span!("vbus.call", key = %self.key, seq))
            .await;
        // Sent unless it never left (a call that timed out or was refused was sent).
        if !matches!(result, Err(CallError::Transport { .. })) {
            Counters::inc(&self.stats.sent);
        }
        let sample = result?;
        let invalid = |reason: String| CallError::InvalidReply { key: self.key.clone(), reason };
        let header = match sample.attachment().map(|a| Header::decode(&a.to_bytes())) {
            Some(Ok(h)) => h,
            Some(Err(e)) => return Err(invalid(e.to_string())),
            None => return Err(invalid(wire::HeaderError::Missing.to_string())),
        };
        if header.type_hash != self.rep.hash() {
            Counters::inc(&self.stats.mismatched);
            return Err(CallError::TypeMismatch {
                key: self.key.clone(),
                expected: self.rep.hash(),
                found: header.type_hash,
            });
        }
        let payload = Payload::from_zbytes(sample.payload());
        if let Err(e) = self.rep.verify(payload.bytes()) {
            Counters::inc(&self.stats.rejected);
            return Err(invalid(format!("not a valid {}: {e}", self.rep.name())));
        }
        Counters::inc(&self.stats.delivered);
        Ok(Sample { payload, header, received_ns: wire::now_ns(), _type: PhantomData })
    }

    /// Counters: `sent` calls, `delivered` valid replies.
    pub fn stats(&self) -> TopicStats {
        self.stats.snapshot()
    }
}

/// Send one request (`payload` with `header` as attachment) to the queryable at `wire_key` and
/// wait for the first reply; error replies become `Timeout` (zenoh's answer to an expired query)
/// or `Refused` (the server's message). Shared by typed clients and [`crate::raw`] calls.
pub(crate) async fn request(
    session: &zenoh::Session,
    wire_key: &str,
    key: &str,
    header: &Header,
    payload: Vec<u8>,
    timeout: Duration,
) -> Result<zenoh::sample::Sample, CallError> {
    let replies = session
        .get(wire_key)
        .payload(ZBytes::from(payload))
        .attachment(header.encode().to_vec())
        .timeout(timeout)
        .await
        .map_err(|e| CallError::Transport { key: key.to_owned(), reason: e.to_string() })?;
    let reply = replies.recv_async().await.map_err(|_| CallError::NoServer { key: key.to_owned() })?;
    reply.into_result().map_err(|e| {
        let message = e.payload().try_to_string().map(|s| s.into_owned()).unwrap_or_default();
        if message == "Timeout" {
            CallError::Timeout { key: key.to_owned(), after: timeout }
        } else {
            CallError::Refused { key: key.to_owned(), message }
        }
    })
}
