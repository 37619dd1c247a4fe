//! The node: one zenoh session plus identity, and the factory of every endpoint.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
};

use zenoh::Wait;

use crate::{
    Error, Message, NodeConfig, QoS, Service, Topic, TypeInfo, Untyped,
    config::Mode,
    field::{FieldClientBuilder, FieldOwnerBuilder},
    local::{LocalHost, LocalPath},
    publisher::PublisherBuilder,
    raw::{RawPublisherBuilder, RawSubscriberBuilder},
    service::{ServiceClientBuilder, ServiceServerBuilder},
    stats::{Counters, EndpointStats, Role},
    subscriber::SubscriberBuilder,
    wire,
};

/// A participant on the bus: one zenoh session, a name and a domain.
///
/// Cheap to clone (shared handle). Endpoints created from a node keep its session open; the
/// node's liveliness token is withdrawn when the last clone and endpoint are dropped, or at once
/// with [`Node::close`].
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

struct NodeInner {
    session: zenoh::Session,
    config: NodeConfig,
    runtime: tokio::runtime::Handle,
    endpoints: Mutex<Vec<Endpoint>>,
    token: Mutex<Option<zenoh::liveliness::LivelinessToken>>,
    schemas: Arc<Mutex<SchemaTable>>,
    schema_queryable: Mutex<Option<zenoh::query::Queryable<()>>>,
    local: Option<LocalHost>,
    local_path: LocalPath,
    /// Set by [`Node::close`]: queued endpoints then report [`crate::Closed`] once drained.
    closed: tokio::sync::watch::Sender<bool>,
}

/// A schema served by some node of the domain; from [`Node::fetch_schema`] and
/// [`Node::served_schemas`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaInfo {
    /// Fully qualified type name.
    pub type_name: String,
    /// The type hash the serving node was built with.
    pub type_hash: u64,
    /// The binary FlatBuffers schema (`.bfbs`).
    pub bfbs: Vec<u8>,
    /// The zenoh id of the node that served it, when the transport says.
    pub served_by: Option<String>,
}

/// An endpoint announced on the bus; from [`Node::topics`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TopicInfo {
    /// Topic key relative to the domain.
    pub key: String,
    /// Schema type name.
    pub type_name: String,
    /// Node that declared the endpoint.
    pub node: String,
    /// True for a publisher, false for a subscriber.
    pub publisher: bool,
}

/// Type name -> (type hash, `.bfbs`) of the types this node publishes.
type SchemaTable = HashMap<String, (u64, Arc<[u8]>)>;

struct Endpoint {
    role: Role,
    key: String,
    type_name: Arc<str>,
    counters: Weak<Counters>,
}

impl Node {
    /// Open a node: validate the configuration, open the zenoh session, announce liveliness.
    ///
    /// Must be called inside a tokio runtime (deadline monitors run on it).
    pub async fn open(config: NodeConfig) -> Result<Self, Error> {
        config.validate()?;
        if let Some(cert) = config.tls.as_ref().and_then(|t| t.cert.as_deref()) {
            crate::security::check_own_certificate(&config.name, cert)?;
        }
        let zcfg = config.to_zenoh()?;
        let session = zenoh::open(zcfg).await.map_err(Error::transport(format!(
            "cannot open a {} session (listen {:?}, connect {:?})",
            config.mode,
            config.effective_listen(),
            config.effective_connect()
        )))?;
        let token = session
            .liveliness()
            .declare_token(wire::node_key(&config.domain, &config.name))
            .await
            .map_err(Error::transport("declare the node's liveliness token"))?;
        let (local, local_path) = if !config.wants_shared_memory() {
            (None, LocalPath::Disabled)
        } else {
            match LocalHost::open(&session, &config.domain, &config.name).await {
                Ok(l) => {
                    let path = LocalPath::SharedMemory { host_tag: l.tag };
                    (Some(l), path)
                }
                Err(reason) => {
                    tracing::warn!(name = %config.name, %reason, "same-host shared memory unavailable: every sample of this node goes through zenoh");
                    (None, LocalPath::Unavailable { reason })
                }
            }
        };
        tracing::info!(name = %config.name, domain = %config.domain, mode = %config.mode, zid = %session.zid(), data_path = %local_path, "vbus node open");
        match &config.tls {
            Some(t) if config.links_encrypted() => {
                tracing::info!(name = %config.name, mutual = t.mutual, "links are encrypted (TLS on every endpoint)")
            }
            Some(t) => {
                tracing::warn!(name = %config.name, plaintext = ?t.plaintext_allowed, "TLS is on, but these endpoints are allowed unencrypted")
            }
            None => {
                tracing::info!(name = %config.name, "links are not encrypted (no `tls` in the node configuration)")
            }
        }
        Ok(Self {
            inner: Arc::new(NodeInner {
                session,
                config,
                runtime: tokio::runtime::Handle::current(),
                endpoints: Mutex::new(Vec::new()),
                token: Mutex::new(Some(token)),
                schemas: Default::default(),
                schema_queryable: Mutex::new(None),
                local,
                local_path,
                closed: tokio::sync::watch::Sender::new(false),
            }),
        })
    }

    /// A receiver that turns `true` when the node is closed.
    pub(crate) fn closed(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.closed.subscribe()
    }

    /// Node name.
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }
    /// Domain (vehicle) name.
    pub fn domain(&self) -> &str {
        &self.inner.config.domain
    }
    /// Network role.
    pub fn mode(&self) -> Mode {
        self.inner.config.mode
    }
    /// The configuration the node was opened with.
    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }
    /// The underlying zenoh session, for what vbus does not wrap (bridges, tools).
    pub fn session(&self) -> &zenoh::Session {
        &self.inner.session
    }
    /// How samples between this node and others of its host travel.
    pub fn local_path(&self) -> &LocalPath {
        &self.inner.local_path
    }
    pub(crate) fn local(&self) -> Option<&LocalHost> {
        self.inner.local.as_ref()
    }
    pub(crate) fn runtime(&self) -> &tokio::runtime::Handle {
        &self.inner.runtime
    }
    /// The endpoints this node listens on (resolved ports included).
    pub fn locators(&self) -> Vec<String> {
        self.inner.session.info().locators().wait().into_iter().map(|l| l.to_string()).collect()
    }

    /// Start declaring a publisher of `topic`.
    pub fn publisher<T: Message>(&self, topic: Topic<T>) -> PublisherBuilder<'_, T> {
        PublisherBuilder::new(self, topic.key(), TypeInfo::of::<T>(), topic.qos())
    }

    /// Start declaring a subscriber of `topic`.
    pub fn subscriber<T: Message>(&self, topic: Topic<T>) -> SubscriberBuilder<'_, T> {
        SubscriberBuilder::new(self, topic.key(), TypeInfo::of::<T>(), topic.qos())
    }

    /// Start declaring a publisher of `key` whose type is known at run time (bindings, tools):
    /// the same publisher as [`Node::publisher`], with the QoS given to the builder (default:
    /// [`QoS::new`]); it publishes bytes, verified by `ty` first.
    pub fn dyn_publisher(&self, key: &str, ty: &TypeInfo) -> PublisherBuilder<'_, Untyped> {
        PublisherBuilder::new(self, key, ty.clone(), QoS::new())
    }

    /// Start declaring a subscriber of `key` whose type is known at run time: the same
    /// subscriber as [`Node::subscriber`] (QoS, type-hash check, verification by `ty`, events,
    /// both data paths), delivering [`Sample<Untyped>`](crate::Sample).
    pub fn dyn_subscriber(&self, key: &str, ty: &TypeInfo) -> SubscriberBuilder<'_, Untyped> {
        SubscriberBuilder::new(self, key, ty.clone(), QoS::new())
    }

    /// Start declaring a subscriber of every sample under `key_expr` (relative to the domain,
    /// wildcards allowed), whatever its type: for bridges and tools.
    pub fn raw_subscriber<'n>(&'n self, key_expr: &str) -> RawSubscriberBuilder<'n> {
        RawSubscriberBuilder::new(self, key_expr)
    }

    /// Start declaring a publisher of pre-encoded payloads of a type known by name and hash on
    /// `key` (the default QoS unless [`RawPublisherBuilder::qos`]; history and E2E need the
    /// compiled type and are not available untyped).
    pub fn raw_publisher<'n>(
        &'n self,
        key: &str,
        type_name: &str,
        type_hash: u64,
    ) -> RawPublisherBuilder<'n> {
        RawPublisherBuilder::new(self, key, type_name, type_hash)
    }

    /// Call the service at `key` with a pre-encoded request (bridges, the CLI). The reply's
    /// header is parsed; its payload is not verified (no compiled reply type here).
    pub async fn raw_call(
        &self,
        key: &str,
        request_type_hash: u64,
        payload: &[u8],
        timeout: std::time::Duration,
    ) -> Result<crate::RawSample, crate::CallError> {
        crate::raw::raw_call(self, key, request_type_hash, payload, timeout).await
    }

    /// Start declaring a server of `service`: requests arrive through [`ServiceServer::recv`](crate::ServiceServer::recv).
    pub fn service_server<Req: Message, Rep: Message>(
        &self,
        service: Service<Req, Rep>,
    ) -> ServiceServerBuilder<'_, Req, Rep> {
        ServiceServerBuilder::new(self, service.key(), TypeInfo::of::<Req>(), TypeInfo::of::<Rep>())
    }

    /// Start declaring a client of `service`.
    pub fn service_client<Req: Message, Rep: Message>(
        &self,
        service: Service<Req, Rep>,
    ) -> ServiceClientBuilder<'_, Req, Rep> {
        ServiceClientBuilder::new(
            self,
            service.key(),
            TypeInfo::of::<Req>(),
            TypeInfo::of::<Rep>(),
            service.timeout(),
        )
    }

    /// Start declaring a server of the service `key` whose request and reply types are known
    /// at run time: requests are verified by `request`, replies by `reply` before they leave.
    pub fn dyn_service_server(
        &self,
        key: &str,
        request: &TypeInfo,
        reply: &TypeInfo,
    ) -> ServiceServerBuilder<'_, Untyped, Untyped> {
        ServiceServerBuilder::new(self, key, request.clone(), reply.clone())
    }

    /// Start declaring a client of the service `key` whose types are known at run time
    /// (default timeout 1 s, as [`Service::new`]).
    pub fn dyn_service_client(
        &self,
        key: &str,
        request: &TypeInfo,
        reply: &TypeInfo,
    ) -> ServiceClientBuilder<'_, Untyped, Untyped> {
        ServiceClientBuilder::new(
            self,
            key,
            request.clone(),
            reply.clone(),
            std::time::Duration::from_secs(1),
        )
    }

    /// Start declaring the owner of the field `topic`: its latest value is kept for late joiners.
    pub fn field_owner<T: Message>(&self, topic: Topic<T>) -> FieldOwnerBuilder<'_, T> {
        FieldOwnerBuilder::new(self, topic.key(), TypeInfo::of::<T>(), topic.qos())
    }

    /// Start declaring a client of the field `topic`: the current value at once, then every
    /// change.
    pub fn field_client<T: Message>(&self, topic: Topic<T>) -> FieldClientBuilder<'_, T> {
        FieldClientBuilder::new(self, topic.key(), TypeInfo::of::<T>(), topic.qos())
    }

    /// Start declaring the owner of the field `key` whose type is known at run time (QoS from
    /// the builder, default [`QoS::new`]).
    pub fn dyn_field_owner(&self, key: &str, ty: &TypeInfo) -> FieldOwnerBuilder<'_, Untyped> {
        FieldOwnerBuilder::new(self, key, ty.clone(), QoS::new())
    }

    /// Start declaring a client of the field `key` whose type is known at run time.
    pub fn dyn_field_client(&self, key: &str, ty: &TypeInfo) -> FieldClientBuilder<'_, Untyped> {
        FieldClientBuilder::new(self, key, ty.clone(), QoS::new())
    }

    /// Nodes of this domain that are alive now.
    pub async fn alive_nodes(&self) -> Result<Vec<String>, Error> {
        let replies = self
            .inner
            .session
            .liveliness()
            .get(wire::node_key(self.domain(), "*"))
            .await
            .map_err(Error::transport("query the live nodes"))?;
        let mut names = Vec::new();
        while let Ok(r) = replies.recv_async().await {
            if let Ok(s) = r.into_result() {
                names.push(node_name(s.key_expr().as_str()));
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Watch nodes of this domain come and go. Nodes alive now are reported first as `Up`.
    pub async fn watch_nodes(&self) -> Result<NodeWatcher, Error> {
        let (tx, rx) = flume::unbounded();
        let sub = self
            .inner
            .session
            .liveliness()
            .declare_subscriber(wire::node_key(self.domain(), "*"))
            .history(true)
            .callback(move |s| {
                let name = node_name(s.key_expr().as_str());
                let ev = match s.kind() {
                    zenoh::sample::SampleKind::Put => NodeEvent::Up(name),
                    zenoh::sample::SampleKind::Delete => NodeEvent::Down(name),
                };
                let _ = tx.send(ev);
            })
            .await
            .map_err(Error::transport("watch the nodes' liveliness"))?;
        Ok(NodeWatcher { rx, _sub: sub })
    }

    /// Counters of every live endpoint of this node.
    pub fn stats(&self) -> Vec<EndpointStats> {
        let mut eps = self.inner.endpoints.lock().expect("endpoints lock");
        eps.retain(|e| e.counters.strong_count() > 0);
        eps.iter()
            .filter_map(|e| {
                e.counters.upgrade().map(|c| EndpointStats {
                    role: e.role,
                    key: e.key.clone(),
                    type_name: e.type_name.clone(),
                    stats: c.snapshot(),
                })
            })
            .collect()
    }

    pub(crate) fn register(&self, role: Role, key: &str, type_name: Arc<str>) -> Arc<Counters> {
        let c = Arc::new(Counters::default());
        self.inner.endpoints.lock().expect("endpoints lock").push(Endpoint {
            role,
            key: key.to_owned(),
            type_name,
            counters: Arc::downgrade(&c),
        });
        c
    }

    /// Serve a type's binary schema to the domain (done for every type this node publishes).
    pub(crate) fn serve_schema(&self, ty: &TypeInfo) -> Result<(), Error> {
        if ty.schema().is_empty() {
            return Ok(());
        }
        self.serve_schema_bytes(ty.name(), ty.hash(), ty.schema_arc())
    }

    /// Serve the binary schema (`.bfbs` with `root_table` set to the type) of a type this node
    /// publishes through a [`RawPublisher`](crate::RawPublisher), so that tools
    /// ([`Node::fetch_schema`], `vbus echo`, `vbus record`, the cloud bridge's field rules) can
    /// read its samples. Typed publishers serve theirs by themselves. Serving a type again
    /// replaces its schema.
    pub fn serve_schema_bytes(&self, type_name: &str, type_hash: u64, bfbs: Arc<[u8]>) -> Result<(), Error> {
        self.inner.schemas.lock().expect("schemas lock").insert(type_name.to_owned(), (type_hash, bfbs));
        let mut q = self.inner.schema_queryable.lock().expect("schema queryable lock");
        if q.is_none() {
            let schemas = self.inner.schemas.clone();
            let prefix = wire::schema_key(self.domain(), "");
            let queryable = self
                .inner
                .session
                .declare_queryable(wire::schema_key(self.domain(), "**"))
                .callback(move |query| {
                    let wanted = query.key_expr().clone();
                    let found: Vec<(String, u64, Arc<[u8]>)> = schemas
                        .lock()
                        .expect("schemas lock")
                        .iter()
                        .map(|(name, (hash, bfbs))| (format!("{prefix}{name}"), *hash, bfbs.clone()))
                        .filter(|(key, _, _)| {
                            zenoh::key_expr::KeyExpr::try_from(key.as_str())
                                .is_ok_and(|k| wanted.intersects(&k))
                        })
                        .collect();
                    for (key, hash, bfbs) in found {
                        let header = wire::Header {
                            flags: 0,
                            host_tag: 0,
                            type_hash: hash,
                            seq: 0,
                            source_time_ns: wire::now_ns(),
                            publisher_id: 0,
                        };
                        let _ = query.reply(key, bfbs.to_vec()).attachment(header.encode().to_vec()).wait();
                    }
                })
                .wait()
                .map_err(Error::transport(format!("declare the schema queryable of `{type_name}`")))?;
            *q = Some(queryable);
        }
        Ok(())
    }

    /// Ask the domain for the binary schema of `type_name` (served by nodes that publish it).
    pub async fn fetch_schema(&self, type_name: &str) -> Result<Option<SchemaInfo>, Error> {
        let replies = self
            .inner
            .session
            .get(wire::schema_key(self.domain(), type_name))
            .timeout(std::time::Duration::from_millis(self.inner.config.history_timeout_ms))
            .await
            .map_err(Error::transport(format!("query the schema of `{type_name}`")))?;
        while let Ok(r) = replies.recv_async().await {
            if let Some(info) = schema_reply(r, type_name) {
                return Ok(Some(info));
            }
        }
        Ok(None)
    }

    /// Every schema served in the domain, one entry per serving node and type (waiting at most
    /// `history_timeout_ms`, and at least 500 ms, for every node to answer). Tools and bindings
    /// look among them for a type that is not served under its own name, or for the request
    /// table that declares a service (`vbus_service`): services have no liveliness token.
    pub async fn served_schemas(&self) -> Result<Vec<SchemaInfo>, Error> {
        let prefix = wire::schema_key(self.domain(), "");
        let replies = self
            .inner
            .session
            .get(wire::schema_key(self.domain(), "**"))
            .consolidation(zenoh::query::ConsolidationMode::None)
            .timeout(std::time::Duration::from_millis(self.inner.config.history_timeout_ms.max(500)))
            .await
            .map_err(Error::transport("query the served schemas"))?;
        let mut out = Vec::new();
        while let Ok(r) = replies.recv_async().await {
            let Ok(key) = r.result().map(|s| s.key_expr().as_str().to_owned()) else { continue };
            let Some(type_name) = key.strip_prefix(&prefix) else { continue };
            out.extend(schema_reply(r, type_name));
        }
        Ok(out)
    }

    /// Publishers and subscribers alive in this domain, from their liveliness tokens.
    pub async fn topics(&self) -> Result<Vec<TopicInfo>, Error> {
        let mut out = Vec::new();
        for publisher in [true, false] {
            let role = if publisher { "@pub" } else { "@sub" };
            let prefix = format!("{}/{}/{role}/", wire::KEY_PREFIX, self.domain());
            let replies = self
                .inner
                .session
                .liveliness()
                .get(format!("{prefix}**"))
                .await
                .map_err(Error::transport(format!("query the {role} tokens")))?;
            while let Ok(r) = replies.recv_async().await {
                let Ok(s) = r.into_result() else { continue };
                let rest = s.key_expr().as_str().strip_prefix(&prefix).unwrap_or_default();
                let mut parts = rest.splitn(3, '/');
                if let (Some(node), Some(type_name), Some(key)) = (parts.next(), parts.next(), parts.next()) {
                    out.push(TopicInfo {
                        key: key.into(),
                        type_name: type_name.into(),
                        node: node.into(),
                        publisher,
                    });
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Announce a subscriber that reads `key_expr` through [`Node::session`] directly (bridges):
    /// vbus's own subscribers do this themselves. Publishers on this host that deliver through
    /// shared memory put samples on zenoh only for announced subscribers that do not read shared
    /// memory (see `WIRE.md`), so an unannounced zenoh subscriber next to same-host vbus
    /// subscribers would get nothing. The announcement lasts as long as the returned token.
    pub fn announce_subscriber(
        &self,
        type_name: &str,
        key_expr: &str,
    ) -> Result<zenoh::liveliness::LivelinessToken, Error> {
        self.announce(false, if type_name.is_empty() { "*" } else { type_name }, key_expr)
    }

    /// Announce an endpoint with a liveliness token (withdrawn when the returned token drops).
    pub(crate) fn announce(
        &self,
        publisher: bool,
        type_name: &str,
        key: &str,
    ) -> Result<zenoh::liveliness::LivelinessToken, Error> {
        self.inner
            .session
            .liveliness()
            .declare_token(wire::endpoint_token_key(self.domain(), publisher, self.name(), type_name, key))
            .wait()
            .map_err(Error::transport(format!("declare the liveliness token of `{key}`")))
    }

    /// Withdraw the liveliness token and close the session. Other nodes see this node `Down`.
    pub async fn close(self) -> Result<(), Error> {
        self.inner.closed.send_replace(true);
        let token = self.inner.token.lock().expect("token lock").take();
        if let Some(t) = token {
            t.undeclare().await.map_err(Error::transport("withdraw the node's liveliness token"))?;
        }
        self.inner.session.close().await.map_err(Error::transport("close the session"))
    }
}

fn node_name(key: &str) -> String {
    key.rsplit('/').next().unwrap_or(key).to_owned()
}

/// A node appeared or disappeared (crash, shutdown, network loss).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    /// The named node is alive.
    Up(String),
    /// The named node is gone.
    Down(String),
}

/// A reply to a schema query as a [`SchemaInfo`] of `type_name`, if it carries a vbus header
/// (the type hash).
fn schema_reply(reply: zenoh::query::Reply, type_name: &str) -> Option<SchemaInfo> {
    let served_by = reply.replier_id().map(|z| z.zid().to_string());
    let s = reply.into_result().ok()?;
    let type_hash = s.attachment().and_then(|a| wire::Header::decode(&a.to_bytes()).ok())?.type_hash;
    Some(SchemaInfo {
        type_name: type_name.to_owned(),
        type_hash,
        bfbs: s.payload().to_bytes().into_owned(),
        served_by,
    })
}

/// Stream of [`NodeEvent`]s; from [`Node::watch_nodes`].
pub struct NodeWatcher {
    rx: flume::Receiver<NodeEvent>,
    _sub: zenoh::pubsub::Subscriber<()>,
}

impl NodeWatcher {
    /// The next event.
    pub async fn recv(&self) -> Result<NodeEvent, crate::Closed> {
        self.rx.recv_async().await.map_err(|_| crate::Closed)
    }
}

/// The next item of `rx`, or [`Closed`](crate::Closed) once the node is closed and `rx` is
/// drained (the transport's callbacks, which hold the senders, may outlive the session). A
/// queued item is taken at once, without watching for the close.
pub(crate) async fn recv_until_closed<T>(
    rx: &flume::Receiver<T>,
    closed: &tokio::sync::watch::Receiver<bool>,
) -> Result<T, crate::Closed> {
    if let Ok(item) = rx.try_recv() {
        return Ok(item);
    }
    let mut closed = closed.clone();
    tokio::select! {
        biased;
        r = rx.recv_async() => r.map_err(|_| crate::Closed),
        _ = closed.wait_for(|c| *c) => rx.try_recv().map_err(|_| crate::Closed),
    }
}
