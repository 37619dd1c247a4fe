//! `vbus foxglove`: a live view of the domain in Foxglove (or Lichtblick), over the Foxglove
//! WebSocket protocol (the `foxglove` crate's server, subprotocol `foxglove.sdk.v1`).
//!
//! - **Topics**: every topic announced by a publisher (liveliness, refreshed every `--refresh`
//!   seconds and whenever a node comes or goes) is a channel: message and schema encoding
//!   `flatbuffer`, schema name the FlatBuffers type, schema data the `.bfbs` its publisher
//!   serves. Channels go when their publishers do. The node subscribes to a topic on the bus only
//!   while some Foxglove client subscribes to its channel (one raw subscriber per key, dropped
//!   with the last client); messages are the FlatBuffers payloads unchanged, logged at the
//!   sample's source time. A topic with history (a field) first sends its latest value.
//! - **Services**: every service declared in a served schema (`vbus_service`) is a Foxglove
//!   service with JSON requests and replies (JSON schema derived from the FlatBuffers tables),
//!   encoded and decoded through the served schemas and called with `Node::raw_call`.
//! - **Fields** as read-only parameters: each topic whose publisher keeps history (fields, whose
//!   owners keep at least the latest value) is a parameter named by its key, valued with its
//!   latest sample as JSON; subscribing to parameter updates follows changes. Setting one is
//!   refused (change a field through its owner's service).
//! - **Bridge health**: `@bridge/...` JSON documents are `json` channels (a permissive JSON
//!   schema), created when the first document arrives, removed after 30 s of silence.
//!
//! The tool is a vbus node like any other: what it may subscribe to and call is what the node's
//! configuration (`--config`, its access policy) allows.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use clap::Args;
use foxglove::{
    ChannelBuilder, ChannelId, Context, PartialMetadata, RawChannel, WebSocketServer, WebSocketServerHandle,
    websocket::{
        AnyClient, Capability, ChannelView, Client, GetParametersResponder, Parameter, ParameterHandler,
        ParameterValue, ServerListener, SetParametersResponder,
        service::{Request, Service, ServiceSchema},
    },
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use vbus::{CallError, Node, wire};
use vbus_reflect::{BaseType, Schema, Type};

use crate::{
    Failure, Result,
    ctx::{self, Ctx},
    schemas::Entry,
};

#[derive(Args, Debug)]
pub struct FoxgloveArgs {
    /// Address to serve the Foxglove WebSocket protocol on. The server has no authentication
    /// and no TLS: anyone who reaches it reads what this node may read and calls what it may
    /// call (the node's access policy applies), so keep it on loopback unless the network is
    /// trusted.
    #[arg(long, default_value = "127.0.0.1:8765", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// Seconds between refreshes of the topic list (a node coming or going refreshes at once).
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    refresh: f64,
    /// Seconds to wait for a service's reply.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    call_timeout: f64,
}

/// A bus topic, as one channel: its key and type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct TopicId {
    key: String,
    type_name: String,
}

/// What feeds one channel, and how many clients subscribe to it.
#[derive(Default)]
struct Feed {
    /// The bus topic behind the channel (`None` for bridge health channels, always fed).
    source: Option<(TopicId, Arc<RawChannel>)>,
    clients: usize,
    task: Option<JoinHandle<()>>,
}

/// State shared by the main loop and the server's callbacks.
struct Shared {
    node: Node,
    runtime: tokio::runtime::Handle,
    /// Channel id -> feed. Never locked while calling into the server (its callbacks lock it).
    feeds: Mutex<HashMap<ChannelId, Feed>>,
    /// Topic key -> (type, schema) of the advertised topics, for parameters.
    topic_schemas: Mutex<BTreeMap<String, (String, Arc<Entry>)>>,
    /// Followers of parameters clients subscribed to.
    param_followers: Mutex<HashMap<String, JoinHandle<()>>>,
    /// Bridge health channels: key -> (channel, last document).
    bridges: Mutex<HashMap<String, (Arc<RawChannel>, Instant)>>,
    server: Mutex<Option<Arc<WebSocketServerHandle>>>,
    history_timeout: Duration,
}

pub async fn run(ctx: &Ctx, a: FoxgloveArgs) -> Result<()> {
    let stop = ctx::stop_signal();
    if !a.listen.ip().is_loopback() {
        eprintln!(
            "warning: serving on {} (not loopback): the Foxglove server has no authentication or TLS; \
             anyone who reaches it reads every topic and calls every service this node may",
            a.listen
        );
    }
    let node = ctx.node.clone();
    let shared = Arc::new(Shared {
        history_timeout: Duration::from_millis(node.config().history_timeout_ms.max(200)),
        node,
        runtime: tokio::runtime::Handle::current(),
        feeds: Mutex::new(HashMap::new()),
        topic_schemas: Mutex::new(BTreeMap::new()),
        param_followers: Mutex::new(HashMap::new()),
        bridges: Mutex::new(HashMap::new()),
        server: Mutex::new(None),
    });
    let fctx = Context::new();
    let server = WebSocketServer::new()
        .name(format!("vbus {} ({})", ctx.node.domain(), ctx.node.name()))
        .bind(a.listen.ip().to_string(), a.listen.port())
        .capabilities([Capability::Services, Capability::Parameters])
        .supported_encodings(["json"])
        .listener(Arc::new(Listener(shared.clone())))
        .parameter_handler(Arc::new(Params(shared.clone())))
        .tokio_runtime(&tokio::runtime::Handle::current())
        .context(&fctx)
        .start()
        .await
        .map_err(|e| {
            Failure::new(format!("cannot serve on {}: {e}", a.listen)).hint(
                "is another `vbus foxglove` (or Foxglove bridge) using the port? pick one with --listen",
            )
        })?;
    let port = server.port();
    let handle = Arc::new(server);
    *shared.server.lock().expect("server lock") = Some(handle.clone());

    // Bridges' health documents are discovered by their samples (they have no liveliness token).
    let bridges = match ctx.node.raw_subscriber("@bridge/**").queue(256).create().await {
        Ok(sub) => Some(tokio::spawn(follow_bridges(shared.clone(), fctx.clone(), sub))),
        Err(e) => {
            eprintln!("warning: no bridge health channels: {e}");
            None
        }
    };
    let watcher = ctx.node.watch_nodes().await.ok();
    let timeout = Duration::from_secs_f64(a.call_timeout.max(0.01));
    let mut topics: BTreeMap<TopicId, Arc<RawChannel>> = BTreeMap::new();
    let mut services: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    refresh_topics(ctx, &shared, &fctx, &mut topics).await;
    refresh_services(ctx, &handle, &mut services, timeout).await;
    println!(
        "foxglove: listening on ws://{}:{port} ({} channels, {} services)",
        a.listen.ip(),
        topics.len(),
        services.len()
    );

    let period = Duration::from_secs_f64(a.refresh.max(0.05));
    let mut tick = tokio::time::interval(period);
    let mut last_retry = Instant::now();
    let mut last_services = Instant::now();
    tokio::pin!(stop);
    loop {
        let mut changed = false;
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {}
            ev = async {
                match &watcher {
                    Some(w) => w.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                changed = ev.is_ok();
            }
        }
        if last_retry.elapsed() > Duration::from_secs(5) {
            // Publishers come late: ask again for schemas nobody served.
            ctx.schemas.lock().await.forget_misses();
            last_retry = Instant::now();
        }
        refresh_topics(ctx, &shared, &fctx, &mut topics).await;
        if changed || last_services.elapsed() >= period.max(Duration::from_secs(3)) {
            refresh_services(ctx, &handle, &mut services, timeout).await;
            last_services = Instant::now();
        }
        prune_bridges(&shared);
    }

    if let Some(b) = bridges {
        b.abort();
    }
    for (_, f) in shared.feeds.lock().expect("feeds lock").drain() {
        if let Some(t) = f.task {
            t.abort();
        }
    }
    for (_, t) in shared.param_followers.lock().expect("followers lock").drain() {
        t.abort();
    }
    drop(topics);
    shared.server.lock().expect("server lock").take();
    // Close the clients' connections (a callback still running may hold the last reference).
    if let Ok(h) = Arc::try_unwrap(handle) {
        h.stop().wait().await;
    }
    Ok(())
}

/// Bring the channels in line with the publishers announced now.
async fn refresh_topics(
    ctx: &Ctx,
    shared: &Arc<Shared>,
    fctx: &Arc<Context>,
    channels: &mut BTreeMap<TopicId, Arc<RawChannel>>,
) {
    let Ok(announced) = ctx.node.topics().await else { return };
    let me = ctx.node.name();
    let wanted: BTreeSet<TopicId> = announced
        .into_iter()
        .filter(|t| t.publisher && t.node != me && t.type_name != "unknown" && t.type_name != "*")
        .map(|t| TopicId { key: t.key, type_name: t.type_name })
        .collect();
    let gone: Vec<TopicId> = channels.keys().filter(|id| !wanted.contains(id)).cloned().collect();
    for id in gone {
        let Some(channel) = channels.remove(&id) else { continue };
        if let Some(f) = shared.feeds.lock().expect("feeds lock").remove(&channel.id())
            && let Some(t) = f.task
        {
            t.abort();
        }
        let mut schemas = shared.topic_schemas.lock().expect("topic schemas lock");
        if schemas.get(&id.key).is_some_and(|(t, _)| *t == id.type_name) {
            schemas.remove(&id.key);
        }
        drop(schemas);
        // Unadvertises it (and calls `on_unsubscribe` for its subscribers): no lock held here.
        channel.close();
    }
    for id in wanted {
        if channels.contains_key(&id) {
            continue;
        }
        let Some(entry) = ctx.schemas.lock().await.get(&id.type_name).await else {
            continue; // no schema yet: tried again at the next refresh
        };
        let schema = foxglove::Schema::new(id.type_name.clone(), "flatbuffer", entry.bfbs.clone());
        let built = ChannelBuilder::new(id.key.clone())
            .message_encoding("flatbuffer")
            .schema(schema)
            .add_metadata("vbus.type_hash", &format!("{:016x}", entry.type_hash))
            .context(fctx)
            .build_raw();
        let channel = match built {
            Ok(c) => c,
            Err(e) => {
                eprintln!("warning: no channel for `{}`: {e}", id.key);
                continue;
            }
        };
        shared
            .topic_schemas
            .lock()
            .expect("topic schemas lock")
            .insert(id.key.clone(), (id.type_name.clone(), entry.clone()));
        // A client may already have subscribed (the channel was advertised when built).
        let mut feeds = shared.feeds.lock().expect("feeds lock");
        let feed = feeds.entry(channel.id()).or_default();
        feed.source = Some((id.clone(), channel.clone()));
        if feed.clients > 0 && feed.task.is_none() {
            feed.task = Some(shared.runtime.spawn(forward(shared.node.clone(), id.clone(), channel.clone())));
        }
        drop(feeds);
        channels.insert(id, channel);
    }
}

/// Bring the Foxglove services in line with the services the served schemas declare.
async fn refresh_services(
    ctx: &Ctx,
    server: &WebSocketServerHandle,
    advertised: &mut BTreeMap<String, (String, Option<String>)>,
    timeout: Duration,
) {
    let Ok(served) = ctx.node.served_schemas().await else { return };
    let parsed: Vec<(&vbus::SchemaInfo, Arc<Schema>)> =
        served.iter().filter_map(|s| Some((s, Arc::new(Schema::from_bfbs(&s.bfbs).ok()?)))).collect();
    let mut found: BTreeMap<String, Service> = BTreeMap::new();
    let mut decls: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    for (_, schema) in &parsed {
        for d in schema.services() {
            if decls.contains_key(&d.key) {
                continue;
            }
            // The request's hash: the one its server serves it with, else computed.
            let hash = parsed
                .iter()
                .find(|(s, _)| s.type_name == d.request)
                .map(|(s, _)| s.type_hash)
                .or_else(|| schema.type_hash(&d.request));
            let Some(hash) = hash else { continue };
            let reply_schema = d.reply.as_ref().and_then(|r| {
                if schema.object(r).is_some() {
                    return Some(schema.clone());
                }
                parsed.iter().find(|(_, s)| s.object(r).is_some()).map(|(_, s)| s.clone())
            });
            let call = Call {
                node: ctx.node.clone(),
                key: d.key.clone(),
                request: d.request.clone(),
                request_hash: hash,
                request_schema: schema.clone(),
                reply: d.reply.clone(),
                reply_schema,
                timeout,
            };
            decls.insert(d.key.clone(), (d.request.clone(), d.reply.clone()));
            found.insert(d.key.clone(), call.service());
        }
    }
    let gone: Vec<String> =
        advertised.iter().filter(|(k, v)| decls.get(*k) != Some(v)).map(|(k, _)| k.clone()).collect();
    if !gone.is_empty() {
        server.remove_services(&gone);
        for k in &gone {
            advertised.remove(k);
        }
    }
    let new: Vec<Service> =
        found.into_iter().filter(|(k, _)| !advertised.contains_key(k)).map(|(_, s)| s).collect();
    for s in new {
        let key = s.name().to_owned();
        match server.add_services([s]) {
            Ok(()) => {
                advertised.insert(key.clone(), decls[&key].clone());
            }
            Err(e) => eprintln!("warning: cannot offer service `{key}`: {e}"),
        }
    }
}

/// One vbus service, called from Foxglove with JSON.
#[derive(Clone)]
struct Call {
    node: Node,
    key: String,
    request: String,
    request_hash: u64,
    request_schema: Arc<Schema>,
    reply: Option<String>,
    reply_schema: Option<Arc<Schema>>,
    timeout: Duration,
}

impl Call {
    fn service(self) -> Service {
        let mut schema = ServiceSchema::new(self.request.clone())
            .with_request("json", json_schema_of(&self.request_schema, &self.request, &self.request));
        if let (Some(reply), Some(rs)) = (&self.reply, &self.reply_schema) {
            schema = schema.with_response("json", json_schema_of(rs, reply, reply));
        }
        let key = self.key.clone();
        let call = Arc::new(self);
        Service::builder(key, schema).async_handler_fn(move |req: Request| {
            let call = call.clone();
            async move { call.call(req.payload()).await }
        })
    }

    /// JSON request -> FlatBuffers -> `raw_call` -> FlatBuffers reply -> JSON.
    async fn call(&self, request: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let json: Value =
            serde_json::from_slice(request).map_err(|e| format!("the request is not JSON: {e}"))?;
        let payload = vbus_reflect::encode_from_json(&self.request_schema, &self.request, &json)
            .map_err(|e| format!("the JSON does not match {}: {e}", self.request))?;
        let reply =
            self.node.raw_call(&self.key, self.request_hash, &payload, self.timeout).await.map_err(|e| {
                match e {
                    CallError::NoServer { .. } => format!("no server answers `{}`", self.key),
                    CallError::Refused { message, .. } => {
                        format!("`{}` refused the request: {message}", self.key)
                    }
                    CallError::Timeout { .. } => {
                        format!("no reply from `{}` within {} s", self.key, self.timeout.as_secs_f64())
                    }
                    other => other.to_string(),
                }
            })?;
        let reply_type = reply
            .type_name()
            .map(str::to_owned)
            .or_else(|| self.reply.clone())
            .ok_or("the reply does not name its type and no schema declares it")?;
        let schema = [Some(&self.request_schema), self.reply_schema.as_ref()]
            .into_iter()
            .flatten()
            .find(|s| s.object(&reply_type).is_some())
            .ok_or_else(|| format!("no schema for the reply type {reply_type}"))?;
        let data = vbus_reflect::decode_to_json(schema, &reply_type, reply.payload())
            .map_err(|e| format!("cannot decode the reply: {e}"))?;
        serde_json::to_vec(&data).map_err(|e| e.to_string())
    }
}

/// Forward the samples of one topic to its channel while clients subscribe (the task is aborted
/// with the last one, which drops the subscriber). A topic with history first sends its latest
/// value, so a field shows its state at once.
async fn forward(node: Node, id: TopicId, channel: Arc<RawChannel>) {
    let sub = match node.raw_subscriber(&id.key).queue(4096).create().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("warning: cannot subscribe to `{}`: {e}", id.key);
            return;
        }
    };
    let timeout = Duration::from_millis(node.config().history_timeout_ms.max(200));
    if let Some((payload, time)) = latest(&node, &id.key, timeout).await {
        channel.log_with_meta(&payload, PartialMetadata::with_log_time(time));
    }
    while let Ok(s) = sub.recv().await {
        if s.type_name().is_some_and(|t| t != id.type_name) {
            continue; // another type on the same key: its own channel
        }
        let time = s.header().map(|h| h.source_time_ns).unwrap_or_else(|_| s.received_ns());
        channel.log_with_meta(s.payload(), PartialMetadata::with_log_time(time));
    }
}

/// The latest sample a publisher with history keeps for `key` (payload, source time), if any.
async fn latest(node: &Node, key: &str, timeout: Duration) -> Option<(Vec<u8>, u64)> {
    let replies = node.session().get(wire::history_key(node.domain(), key)).timeout(timeout).await.ok()?;
    let mut best: Option<(Vec<u8>, u64)> = None;
    while let Ok(r) = replies.recv_async().await {
        let Ok(s) = r.into_result() else { continue };
        let Some(h) = s.attachment().and_then(|a| wire::Header::decode(&a.to_bytes()).ok()) else { continue };
        if best.as_ref().is_none_or(|(_, t)| h.source_time_ns >= *t) {
            best = Some((s.payload().to_bytes().into_owned(), h.source_time_ns));
        }
    }
    best
}

/// Bridges' health documents: a `json` channel per key, fed from one subscriber of `@bridge/**`.
async fn follow_bridges(shared: Arc<Shared>, fctx: Arc<Context>, sub: vbus::RawSubscriber) {
    while let Ok(s) = sub.recv().await {
        if serde_json::from_slice::<Value>(s.payload()).is_err() {
            continue;
        }
        let time = s.header().map(|h| h.source_time_ns).unwrap_or_else(|_| s.received_ns());
        let known = shared.bridges.lock().expect("bridges lock").get_mut(s.key()).map(|(c, seen)| {
            *seen = Instant::now();
            c.clone()
        });
        let channel = match known {
            Some(c) => c,
            None => {
                let schema = foxglove::Schema::new(
                    s.key().to_owned(),
                    "jsonschema",
                    serde_json::to_vec(&json!({"type": "object"})).unwrap_or_default(),
                );
                let Ok(c) = ChannelBuilder::new(s.key())
                    .message_encoding("json")
                    .schema(schema)
                    .context(&fctx)
                    .build_raw()
                else {
                    continue;
                };
                shared
                    .bridges
                    .lock()
                    .expect("bridges lock")
                    .insert(s.key().to_owned(), (c.clone(), Instant::now()));
                c
            }
        };
        channel.log_with_meta(s.payload(), PartialMetadata::with_log_time(time));
    }
}

/// Remove the bridge channels silent for 30 s (their bridge is gone).
fn prune_bridges(shared: &Shared) {
    let stale: Vec<Arc<RawChannel>> = {
        let mut b = shared.bridges.lock().expect("bridges lock");
        let keys: Vec<String> = b
            .iter()
            .filter(|(_, (_, seen))| seen.elapsed() > Duration::from_secs(30))
            .map(|(k, _)| k.clone())
            .collect();
        keys.iter().filter_map(|k| b.remove(k)).map(|(c, _)| c).collect()
    };
    for c in stale {
        c.close();
    }
}

/// Counts subscribers per channel; starts and stops the bus subscriptions.
struct Listener(Arc<Shared>);

impl ServerListener for Listener {
    fn on_subscribe(&self, _client: Client, channel: ChannelView<'_>) {
        let s = &self.0;
        let mut feeds = s.feeds.lock().expect("feeds lock");
        let feed = feeds.entry(channel.id()).or_default();
        feed.clients += 1;
        if feed.task.is_none()
            && let Some((id, ch)) = &feed.source
        {
            feed.task = Some(s.runtime.spawn(forward(s.node.clone(), id.clone(), ch.clone())));
        }
    }

    fn on_unsubscribe(&self, _client: Client, channel: ChannelView<'_>) {
        let mut feeds = self.0.feeds.lock().expect("feeds lock");
        if let Some(feed) = feeds.get_mut(&channel.id()) {
            feed.clients = feed.clients.saturating_sub(1);
            if feed.clients == 0
                && let Some(t) = feed.task.take()
            {
                t.abort();
            }
        }
    }

    fn on_parameters_subscribe(&self, names: Vec<String>) {
        let s = &self.0;
        let mut followers = s.param_followers.lock().expect("followers lock");
        for name in names {
            if followers.contains_key(&name) {
                continue;
            }
            let task = s.runtime.spawn(follow_parameter(s.clone(), name.clone()));
            followers.insert(name, task);
        }
    }

    fn on_parameters_unsubscribe(&self, names: Vec<String>) {
        let mut followers = self.0.param_followers.lock().expect("followers lock");
        for name in names {
            if let Some(t) = followers.remove(&name) {
                t.abort();
            }
        }
    }
}

/// Publish the new value of a field to the clients that follow its parameter.
async fn follow_parameter(shared: Arc<Shared>, key: String) {
    let Some((type_name, entry)) =
        shared.topic_schemas.lock().expect("topic schemas lock").get(&key).cloned()
    else {
        return;
    };
    let Ok(sub) = shared.node.raw_subscriber(&key).queue(64).create().await else { return };
    while let Ok(s) = sub.recv().await {
        if s.type_name().is_some_and(|t| t != type_name) {
            continue;
        }
        if let Ok(v) = vbus_reflect::decode_to_json(&entry.schema, &type_name, s.payload())
            && let Some(server) = shared.server.lock().expect("server lock").clone()
        {
            server.publish_parameter_values(vec![parameter(&key, &v)]);
        }
    }
}

/// Fields as read-only parameters.
struct Params(Arc<Shared>);

impl Shared {
    /// The latest value of each named topic that keeps history (all when `names` is empty).
    async fn field_values(self: Arc<Self>, names: Vec<String>) -> Vec<Parameter> {
        let topics: Vec<(String, String, Arc<Entry>)> = {
            let t = self.topic_schemas.lock().expect("topic schemas lock");
            t.iter()
                .filter(|(k, _)| names.is_empty() || names.contains(k))
                .map(|(k, (ty, e))| (k.clone(), ty.clone(), e.clone()))
                .collect()
        };
        let mut set = tokio::task::JoinSet::new();
        for (key, type_name, entry) in topics {
            let node = self.node.clone();
            let timeout = self.history_timeout;
            set.spawn(async move {
                let (payload, _) = latest(&node, &key, timeout).await?;
                let v = vbus_reflect::decode_to_json(&entry.schema, &type_name, &payload).ok()?;
                Some(parameter(&key, &v))
            });
        }
        let mut out: Vec<Parameter> = set.join_all().await.into_iter().flatten().collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

impl ParameterHandler for Params {
    fn get(
        &self,
        _client: AnyClient,
        names: Vec<String>,
        _id: Option<String>,
        responder: GetParametersResponder,
    ) {
        let s = self.0.clone();
        self.0.runtime.spawn(async move { responder.respond(s.field_values(names).await) });
    }

    fn set(
        &self,
        _client: AnyClient,
        parameters: Vec<Parameter>,
        _id: Option<String>,
        responder: SetParametersResponder,
    ) {
        // Read-only: answer with the values as they are (a field changes through its owner).
        let s = self.0.clone();
        let names = parameters.into_iter().map(|p| p.name).collect();
        self.0.runtime.spawn(async move { responder.respond(s.field_values(names).await) });
    }
}

/// A JSON value as a Foxglove parameter.
fn parameter(name: &str, v: &Value) -> Parameter {
    let mut p = Parameter::empty(name);
    p.value = to_parameter_value(v);
    if matches!(p.value, Some(ParameterValue::Float64(_))) {
        p.r#type = Some(foxglove::websocket::ParameterType::Float64);
    }
    p
}

fn to_parameter_value(v: &Value) -> Option<ParameterValue> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => ParameterValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => ParameterValue::Integer(i),
            None => ParameterValue::Float64(n.as_f64()?),
        },
        Value::String(s) => ParameterValue::String(s.clone()),
        Value::Array(a) => ParameterValue::Array(a.iter().filter_map(to_parameter_value).collect()),
        Value::Object(o) => ParameterValue::Dict(
            o.iter().filter_map(|(k, v)| Some((k.clone(), to_parameter_value(v)?))).collect(),
        ),
    })
}

/// A JSON schema (`jsonschema` encoding) of table `type_name`, as vbus-reflect's JSON mapping
/// writes and reads it, for Foxglove's service call panel.
fn json_schema_of(schema: &Schema, type_name: &str, title: &str) -> foxglove::Schema {
    let mut v = match schema.object(type_name) {
        Some(o) => object_schema(schema, o, 0),
        None => json!({"type": "object"}),
    };
    v["title"] = json!(title);
    foxglove::Schema::new(type_name.to_owned(), "jsonschema", serde_json::to_vec(&v).unwrap_or_default())
}

fn object_schema(schema: &Schema, o: &vbus_reflect::Object, depth: usize) -> Value {
    if depth > 16 {
        return json!({"type": "object"});
    }
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    for f in o.fields.iter().filter(|f| !f.deprecated) {
        let mut p = type_schema(schema, &f.ty, depth);
        if !f.docs.is_empty() {
            p["description"] = json!(f.docs.join("\n").trim());
        }
        if f.required {
            required.push(f.name.clone());
        }
        props.insert(f.name.clone(), p);
    }
    let mut v = json!({"type": "object", "properties": props});
    if !required.is_empty() {
        v["required"] = json!(required);
    }
    v
}

fn type_schema(schema: &Schema, ty: &Type, depth: usize) -> Value {
    match ty.base {
        BaseType::Bool => json!({"type": "boolean"}),
        BaseType::Float | BaseType::Double => json!({"type": "number"}),
        BaseType::String => json!({"type": "string"}),
        BaseType::Vector | BaseType::Array => {
            json!({"type": "array", "items": type_schema(schema, &ty.element_type(), depth + 1)})
        }
        BaseType::Obj => match schema.object_of(ty) {
            Some(o) => object_schema(schema, o, depth + 1),
            None => json!({"type": "object"}),
        },
        BaseType::Union => json!({"type": "object"}),
        b if b.is_integer() => match schema.enum_of(ty) {
            Some(e) if !e.bit_flags => {
                let names: Vec<&str> = e.values.iter().map(|v| v.name.as_str()).collect();
                json!({"type": "string", "enum": names})
            }
            Some(_) => json!({"type": "string"}),
            None => json!({"type": "integer"}),
        },
        _ => json!({}),
    }
}
