//! The functions of the C API.

use std::{
    ffi::{c_char, c_void},
    sync::Mutex,
    time::Duration,
};

use vbus_rs::{Node, NodeConfig, NodeEvent, RecvError, Sample, Untyped};

use crate::{
    Failure, block_on, bytes_arg, check_out, ffi, opt_arg, out,
    registry::{self, Object},
    str_arg,
    types::*,
    vbus_status,
};

/// A `timeout_ms` that waits as long as it takes.
pub const VBUS_WAIT_FOREVER: u32 = u32::MAX;

fn timeout_of(ms: u32) -> Option<Duration> {
    (ms != VBUS_WAIT_FOREVER).then(|| Duration::from_millis(ms.into()))
}

fn closed(what: &str) -> Failure {
    Failure::new(vbus_status::VBUS_ERR_CLOSED, format!("{what}: closed, nothing more will arrive"))
}

fn timed_out(what: &str, ms: u32) -> Failure {
    Failure::new(vbus_status::VBUS_ERR_TIMEOUT, format!("{what}: nothing within {ms} ms"))
}

/// A QoS argument; NULL is the default (`QoS::new()`, what the `dyn_` builders start from).
unsafe fn qos_arg(p: *const vbus_qos) -> Result<vbus_rs::QoS, Failure> {
    // SAFETY: a valid `vbus_qos` or NULL.
    unsafe { opt_arg(p) }.map_or(Ok(vbus_rs::QoS::new()), |q| q.to_qos())
}

/// The key, type and QoS every endpoint takes.
unsafe fn endpoint_args<'a>(
    key: *const c_char,
    ty: *const vbus_type,
    qos: *const vbus_qos,
) -> Result<(&'a str, vbus_rs::TypeInfo, vbus_rs::QoS), Failure> {
    // SAFETY: the caller's documented contracts.
    unsafe { Ok((str_arg(key, "key")?, vbus_type::to_type_info(ty, "type")?, qos_arg(qos)?)) }
}

fn sample_handle(s: Sample<Untyped>) -> vbus_sample {
    vbus_sample { id: registry::insert(Object::Sample(s)) }
}

// ---------------------------------------------------------------------------------------------
// Nodes

fn open(config: NodeConfig, node: *mut vbus_node) -> Result<(), Failure> {
    check_out(node, "node")?;
    let n = block_on("vbus_node_open", async { Node::open(config).await })??;
    // SAFETY: checked non-null above.
    unsafe { out(node, "node", vbus_node { id: registry::insert(Object::Node(n)) }) }
}

/// Open a node from JSON5 text (the format of `DEFAULT_CONFIG.json5`; NULL or "" for the
/// defaults). Blocks until the session is up. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_node_open(config_json5: *const c_char, node: *mut vbus_node) -> vbus_status {
    ffi(|| {
        let config = if config_json5.is_null() {
            NodeConfig::default()
        } else {
            // SAFETY: NUL-terminated string (documented).
            let text = unsafe { str_arg(config_json5, "config_json5") }?;
            if text.trim().is_empty() {
                NodeConfig::default()
            } else {
                NodeConfig::from_json5(text).map_err(vbus_rs::Error::from)?
            }
        };
        open(config, node)
    })
}

/// Open a node from a JSON5 file. Blocks until the session is up. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_node_open_file(path: *const c_char, node: *mut vbus_node) -> vbus_status {
    ffi(|| {
        // SAFETY: NUL-terminated string (documented).
        let path = unsafe { str_arg(path, "path") }?;
        open(NodeConfig::from_file(path).map_err(vbus_rs::Error::from)?, node)
    })
}

/// Close a node: its liveliness token is withdrawn, its endpoints stop receiving (their takes
/// return `VBUS_ERR_CLOSED` once drained). Close the endpoints too, to free them. Thread-safe;
/// the handle is invalid afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn vbus_node_close(node: vbus_node) -> vbus_status {
    ffi(|| {
        let obj = registry::remove(node.id, "node")?;
        let Object::Node(n) = &*obj else { unreachable!("kind checked") };
        block_on("vbus_node_close", n.clone().close())??;
        Ok(())
    })
}

fn with_node<R>(node: vbus_node, f: impl FnOnce(&Node) -> Result<R, Failure>) -> Result<R, Failure> {
    let obj = registry::get(node.id, "node")?;
    let Object::Node(n) = &*obj else { unreachable!("kind checked") };
    f(n)
}

// ---------------------------------------------------------------------------------------------
// Publishers

/// Declare a publisher of `key` (relative to the domain) for `type`, with `qos` (NULL: the
/// default). It serves the type's schema. Blocks briefly. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_publisher_create(
    node: vbus_node,
    key: *const c_char,
    r#type: *const vbus_type,
    qos: *const vbus_qos,
    publisher: *mut vbus_publisher,
) -> vbus_status {
    ffi(|| {
        // SAFETY: documented argument contracts.
        let (key, ty, qos) = unsafe { endpoint_args(key, r#type, qos) }?;
        let p = with_node(node, |n| {
            let b = n.dyn_publisher(key, &ty).qos(qos);
            Ok(block_on("vbus_publisher_create", b.create())??)
        })?;
        // SAFETY: out-pointer (documented).
        unsafe {
            out(
                publisher,
                "publisher",
                vbus_publisher { id: registry::insert(Object::Publisher(Mutex::new(p))) },
            )
        }
    })
}

fn publish(p: vbus_publisher, data: &[u8], at: Option<u64>) -> Result<(), Failure> {
    let obj = registry::get(p.id, "publisher")?;
    let Object::Publisher(p) = &*obj else { unreachable!("kind checked") };
    p.lock().unwrap_or_else(|e| e.into_inner()).publish_bytes_at(data, at)?;
    Ok(())
}

/// Publish `len` FlatBuffers bytes at `data` (verified as the publisher's type first), stamped
/// now. On a `VBUS_CONGESTION_BLOCK` topic a full path makes it wait. Thread-safe (calls on one
/// publisher are serialised); callable from callbacks.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_publish(publisher: vbus_publisher, data: *const u8, len: usize) -> vbus_status {
    // SAFETY: `len` readable bytes at `data` (documented).
    ffi(|| publish(publisher, unsafe { bytes_arg(data, len, "data") }?, None))
}

/// [`vbus_publish`] with an explicit source time (ns since the UNIX epoch).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_publish_at(
    publisher: vbus_publisher,
    data: *const u8,
    len: usize,
    source_time_ns: u64,
) -> vbus_status {
    // SAFETY: `len` readable bytes at `data` (documented).
    ffi(|| publish(publisher, unsafe { bytes_arg(data, len, "data") }?, Some(source_time_ns)))
}

/// Wait until a subscriber matches, at most `timeout_ms`: `VBUS_OK`, or `VBUS_ERR_TIMEOUT`.
/// Publish the first sample after this (a new node learns the subscriptions a moment after it
/// opens). Thread-safe; publishing on this publisher from another thread waits meanwhile.
#[unsafe(no_mangle)]
pub extern "C" fn vbus_publisher_wait_for_subscribers(
    publisher: vbus_publisher,
    timeout_ms: u32,
) -> vbus_status {
    ffi(|| {
        let obj = registry::get(publisher.id, "publisher")?;
        let Object::Publisher(p) = &*obj else { unreachable!("kind checked") };
        let wait = timeout_of(timeout_ms).unwrap_or(Duration::from_secs(u64::from(u32::MAX)));
        let p = p.lock().unwrap_or_else(|e| e.into_inner());
        if block_on("vbus_publisher_wait_for_subscribers", p.wait_for_subscribers(wait))? {
            Ok(())
        } else {
            Err(timed_out("no subscriber matched", timeout_ms))
        }
    })
}

/// The publisher's counters. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_publisher_stats(
    publisher: vbus_publisher,
    stats: *mut vbus_stats,
) -> vbus_status {
    ffi(|| {
        let obj = registry::get(publisher.id, "publisher")?;
        let Object::Publisher(p) = &*obj else { unreachable!("kind checked") };
        let s = p.lock().unwrap_or_else(|e| e.into_inner()).stats();
        // SAFETY: out-pointer (documented).
        unsafe { out(stats, "stats", s.into()) }
    })
}

/// Undeclare the publisher. The handle is invalid afterwards. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vbus_publisher_close(publisher: vbus_publisher) -> vbus_status {
    ffi(|| registry::remove(publisher.id, "publisher").map(drop))
}

// ---------------------------------------------------------------------------------------------
// Subscribers

/// Called for every verified sample, on a vbus thread, one sample at a time per subscriber.
/// `sample` and its bytes are valid during the call only. Keep it short: on a Block topic a slow
/// callback back-pressures the publisher. Only non-waiting functions (publish, field set,
/// stats) may be called from it.
pub type vbus_sample_fn = Option<unsafe extern "C" fn(ctx: *mut c_void, sample: *const vbus_sample_info)>;

struct CCallback {
    f: unsafe extern "C" fn(*mut c_void, *const vbus_sample_info),
    ctx: *mut c_void,
}
// SAFETY: `vbus_subscriber_create_callback` documents that the callback runs on vbus threads.
unsafe impl Send for CCallback {}
// SAFETY: as above; it is called for one sample at a time.
unsafe impl Sync for CCallback {}

impl CCallback {
    fn call(&self, info: &vbus_sample_info) {
        // SAFETY: `info` and its bytes live until the call returns.
        unsafe { (self.f)(self.ctx, info) }
    }
}

/// Declare a subscriber of `key` for `type` (`qos` NULL: the default); samples are queued for
/// [`vbus_subscriber_take`]. With history in the QoS, the kept samples are queued before this
/// returns. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_subscriber_create(
    node: vbus_node,
    key: *const c_char,
    r#type: *const vbus_type,
    qos: *const vbus_qos,
    subscriber: *mut vbus_subscriber,
) -> vbus_status {
    ffi(|| {
        // SAFETY: documented argument contracts.
        let (key, ty, qos) = unsafe { endpoint_args(key, r#type, qos) }?;
        let s = with_node(node, |n| {
            let b = n.dyn_subscriber(key, &ty).qos(qos);
            Ok(block_on("vbus_subscriber_create", b.create())??)
        })?;
        // SAFETY: out-pointer (documented).
        unsafe {
            out(subscriber, "subscriber", vbus_subscriber { id: registry::insert(Object::Subscriber(s)) })
        }
    })
}

/// Declare a subscriber that calls `callback(ctx, sample)` for every verified sample (see
/// [`vbus_sample_fn`]); `ctx` is passed through and must stay valid until the subscriber is
/// closed. Events are still taken with [`vbus_subscriber_next_event`]. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_subscriber_create_callback(
    node: vbus_node,
    key: *const c_char,
    r#type: *const vbus_type,
    qos: *const vbus_qos,
    callback: vbus_sample_fn,
    ctx: *mut c_void,
    subscriber: *mut vbus_subscriber,
) -> vbus_status {
    ffi(|| {
        // SAFETY: documented argument contracts.
        let (key, ty, qos) = unsafe { endpoint_args(key, r#type, qos) }?;
        let Some(f) = callback else {
            return Err(Failure::new(
                vbus_status::VBUS_ERR_NULL,
                "callback: expected a function, found NULL",
            ));
        };
        let cb = CCallback { f, ctx };
        let s = with_node(node, |n| {
            let b = n.dyn_subscriber(key, &ty).qos(qos);
            let b = b.callback(move |s: Sample<Untyped>| {
                cb.call(&vbus_sample_info::of(&s));
            });
            Ok(block_on("vbus_subscriber_create_callback", b.create())??)
        })?;
        // SAFETY: out-pointer (documented).
        unsafe {
            out(
                subscriber,
                "subscriber",
                vbus_subscriber { id: registry::insert(Object::CallbackSubscriber(s)) },
            )
        }
    })
}

/// Take the next sample, waiting at most `timeout_ms` (0: only if one is queued;
/// `VBUS_WAIT_FOREVER`). `VBUS_ERR_TIMEOUT` when none came, `VBUS_ERR_CLOSED` when none will.
/// The sample's bytes stay valid until [`vbus_sample_release`]. Thread-safe; not for callback
/// subscribers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_subscriber_take(
    subscriber: vbus_subscriber,
    timeout_ms: u32,
    sample: *mut vbus_sample,
) -> vbus_status {
    ffi(|| {
        check_out(sample, "sample")?;
        let obj = registry::get(subscriber.id, "subscriber")?;
        let s = match &*obj {
            Object::Subscriber(s) => s,
            _ => {
                return Err(Failure::invalid(
                    "subscriber: this one has a callback; samples go there, not to take",
                ));
            }
        };
        let got = match s.try_recv() {
            Some(x) => x,
            None if timeout_ms == 0 => return Err(timed_out("vbus_subscriber_take", 0)),
            None => {
                let r = match timeout_of(timeout_ms) {
                    Some(t) => block_on("vbus_subscriber_take", s.recv_timeout(t))?,
                    None => block_on("vbus_subscriber_take", s.recv())?.map_err(|_| RecvError::Closed),
                };
                match r {
                    Ok(x) => x,
                    Err(RecvError::Timeout(_)) => return Err(timed_out("vbus_subscriber_take", timeout_ms)),
                    Err(RecvError::Closed) => return Err(closed("vbus_subscriber_take")),
                }
            }
        };
        // SAFETY: checked non-null above.
        unsafe { out(sample, "sample", sample_handle(got)) }
    })
}

/// The next event of the subscriber (deadline missed, type mismatch, rejected, E2E, lost),
/// waiting at most `timeout_ms`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_subscriber_next_event(
    subscriber: vbus_subscriber,
    timeout_ms: u32,
    event: *mut vbus_event,
) -> vbus_status {
    ffi(|| {
        check_out(event, "event")?;
        let obj = registry::get(subscriber.id, "subscriber")?;
        let poll = || match &*obj {
            Object::Subscriber(s) => s.try_next_event(),
            Object::CallbackSubscriber(s) => s.try_next_event(),
            _ => unreachable!("kind checked"),
        };
        let e = match poll() {
            Some(e) => e,
            None if timeout_ms == 0 => return Err(timed_out("vbus_subscriber_next_event", 0)),
            None => {
                let wait = async {
                    match &*obj {
                        Object::Subscriber(s) => s.next_event().await,
                        Object::CallbackSubscriber(s) => s.next_event().await,
                        _ => unreachable!("kind checked"),
                    }
                };
                let r = match timeout_of(timeout_ms) {
                    Some(t) => {
                        block_on("vbus_subscriber_next_event", async { tokio::time::timeout(t, wait).await })?
                    }
                    None => Ok(block_on("vbus_subscriber_next_event", wait)?),
                };
                match r {
                    Ok(Ok(e)) => e,
                    Ok(Err(_)) => return Err(closed("vbus_subscriber_next_event")),
                    Err(_) => return Err(timed_out("vbus_subscriber_next_event", timeout_ms)),
                }
            }
        };
        // SAFETY: checked non-null above.
        unsafe { out(event, "event", vbus_event::of(&e)) }
    })
}

/// The subscriber's counters. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_subscriber_stats(
    subscriber: vbus_subscriber,
    stats: *mut vbus_stats,
) -> vbus_status {
    ffi(|| {
        let obj = registry::get(subscriber.id, "subscriber")?;
        let s = match &*obj {
            Object::Subscriber(s) => s.stats(),
            Object::CallbackSubscriber(s) => s.stats(),
            _ => unreachable!("kind checked"),
        };
        // SAFETY: out-pointer (documented).
        unsafe { out(stats, "stats", s.into()) }
    })
}

/// Undeclare the subscriber; a callback subscriber's callback is not called after this
/// returns, unless it is running (then it finishes first, on its thread). Samples already
/// taken stay valid until released. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vbus_subscriber_close(subscriber: vbus_subscriber) -> vbus_status {
    ffi(|| registry::remove(subscriber.id, "subscriber").map(drop))
}

// ---------------------------------------------------------------------------------------------
// Samples

/// The bytes and metadata of a taken sample (or reply, or field value); `info.data` stays
/// valid until [`vbus_sample_release`]. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_sample_get(sample: vbus_sample, info: *mut vbus_sample_info) -> vbus_status {
    ffi(|| {
        let obj = registry::get(sample.id, "sample")?;
        let Object::Sample(s) = &*obj else { unreachable!("kind checked") };
        // The bytes live in the registry's object until released.
        // SAFETY: out-pointer (documented).
        unsafe { out(info, "info", vbus_sample_info::of(s)) }
    })
}

/// Release a sample: its bytes are invalid afterwards. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vbus_sample_release(sample: vbus_sample) -> vbus_status {
    ffi(|| registry::remove(sample.id, "sample").map(drop))
}

// ---------------------------------------------------------------------------------------------
// Services

/// Declare a server of the service `key`: requests of `request` type are queued for
/// [`vbus_service_server_take`]; replies must be of `reply` type. It serves both schemas.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_service_server_create(
    node: vbus_node,
    key: *const c_char,
    request: *const vbus_type,
    reply: *const vbus_type,
    server: *mut vbus_service_server,
) -> vbus_status {
    ffi(|| {
        // SAFETY: documented argument contracts.
        let (key, req, rep) = unsafe {
            (
                str_arg(key, "key")?,
                vbus_type::to_type_info(request, "request")?,
                vbus_type::to_type_info(reply, "reply")?,
            )
        };
        let s = with_node(node, |n| {
            Ok(block_on("vbus_service_server_create", n.dyn_service_server(key, &req, &rep).create())??)
        })?;
        // SAFETY: out-pointer (documented).
        unsafe {
            out(server, "server", vbus_service_server { id: registry::insert(Object::ServiceServer(s)) })
        }
    })
}

/// Take the next request, waiting at most `timeout_ms`. Answer it with [`vbus_request_reply`]
/// or [`vbus_request_refuse`] (the caller waits until then, or its timeout). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_service_server_take(
    server: vbus_service_server,
    timeout_ms: u32,
    request: *mut vbus_request,
) -> vbus_status {
    ffi(|| {
        check_out(request, "request")?;
        let obj = registry::get(server.id, "service server")?;
        let Object::ServiceServer(s) = &*obj else { unreachable!("kind checked") };
        let r = match timeout_of(timeout_ms) {
            Some(t) => {
                match block_on("vbus_service_server_take", async { tokio::time::timeout(t, s.recv()).await })?
                {
                    Ok(r) => r,
                    Err(_) => return Err(timed_out("vbus_service_server_take", timeout_ms)),
                }
            }
            None => block_on("vbus_service_server_take", s.recv())?,
        }
        .map_err(|_| closed("vbus_service_server_take"))?;
        let id = registry::insert(Object::Request(Mutex::new(Some(r))));
        // SAFETY: checked non-null above.
        unsafe { out(request, "request", vbus_request { id }) }
    })
}

fn take_request(request: vbus_request) -> Result<vbus_rs::Request<Untyped, Untyped>, Failure> {
    let obj = registry::remove(request.id, "request")?;
    let Object::Request(r) = &*obj else { unreachable!("kind checked") };
    r.lock().unwrap_or_else(|e| e.into_inner()).take().ok_or_else(|| closed("request"))
}

/// The request's bytes and metadata; valid until the request is answered. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_request_get(request: vbus_request, info: *mut vbus_sample_info) -> vbus_status {
    ffi(|| {
        let obj = registry::get(request.id, "request")?;
        let Object::Request(r) = &*obj else { unreachable!("kind checked") };
        let guard = r.lock().unwrap_or_else(|e| e.into_inner());
        let r = guard.as_ref().ok_or_else(|| closed("request"))?;
        let mut i = vbus_sample_info::of(&r.sample());
        // Point into the request's own bytes, which live until it is answered.
        let bytes = r.bytes();
        (i.data, i.len) = (bytes.as_ptr(), bytes.len());
        // SAFETY: out-pointer (documented).
        unsafe { out(info, "info", i) }
    })
}

/// Answer the request with `len` bytes of the reply type (verified first; when they are not
/// valid the request stays open and `VBUS_ERR_INVALID_ARGUMENT` is returned). The request
/// handle is invalid afterwards on success. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_request_reply(
    request: vbus_request,
    data: *const u8,
    len: usize,
) -> vbus_status {
    ffi(|| {
        // SAFETY: `len` readable bytes at `data` (documented).
        let bytes = unsafe { bytes_arg(data, len, "data") }?;
        let obj = registry::get(request.id, "request")?;
        let Object::Request(r) = &*obj else { unreachable!("kind checked") };
        let mut guard = r.lock().unwrap_or_else(|e| e.into_inner());
        let req = guard.as_ref().ok_or_else(|| closed("request"))?;
        req.verify_reply(bytes)?;
        let req = guard.take().expect("checked above");
        drop(guard);
        let _ = registry::remove(request.id, "request");
        req.reply_bytes(bytes)?;
        Ok(())
    })
}

/// Refuse the request; the caller gets `VBUS_ERR_REFUSED` with `reason`. The request handle is
/// invalid afterwards. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_request_refuse(request: vbus_request, reason: *const c_char) -> vbus_status {
    ffi(|| {
        // SAFETY: NUL-terminated string (documented).
        let reason = unsafe { str_arg(reason, "reason") }?;
        take_request(request)?.refuse(reason);
        Ok(())
    })
}

/// Undeclare the server. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vbus_service_server_close(server: vbus_service_server) -> vbus_status {
    ffi(|| registry::remove(server.id, "service server").map(drop))
}

/// Declare a client of the service `key` with the given types; `timeout_ms` is the default
/// call timeout (0: 1000 ms). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_service_client_create(
    node: vbus_node,
    key: *const c_char,
    request: *const vbus_type,
    reply: *const vbus_type,
    timeout_ms: u32,
    client: *mut vbus_service_client,
) -> vbus_status {
    ffi(|| {
        // SAFETY: documented argument contracts.
        let (key, req, rep) = unsafe {
            (
                str_arg(key, "key")?,
                vbus_type::to_type_info(request, "request")?,
                vbus_type::to_type_info(reply, "reply")?,
            )
        };
        let c = with_node(node, |n| {
            let mut b = n.dyn_service_client(key, &req, &rep);
            if timeout_ms > 0 {
                b = b.timeout(Duration::from_millis(timeout_ms.into()));
            }
            Ok(block_on("vbus_service_client_create", b.create())??)
        })?;
        // SAFETY: out-pointer (documented).
        unsafe {
            out(client, "client", vbus_service_client { id: registry::insert(Object::ServiceClient(c)) })
        }
    })
}

/// Call the service with `len` bytes of the request type (verified first) and wait for the
/// reply, at most `timeout_ms` (0: the client's default). The reply is a sample (release it).
/// `VBUS_ERR_NO_SERVER`, `VBUS_ERR_TIMEOUT`, `VBUS_ERR_REFUSED` (the server's reason in
/// [`vbus_last_error`]) or `VBUS_ERR_TYPE_MISMATCH` otherwise. Thread-safe; not from callbacks.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_service_call(
    client: vbus_service_client,
    data: *const u8,
    len: usize,
    timeout_ms: u32,
    reply: *mut vbus_sample,
) -> vbus_status {
    ffi(|| {
        check_out(reply, "reply")?;
        // SAFETY: `len` readable bytes at `data` (documented).
        let bytes = unsafe { bytes_arg(data, len, "data") }?;
        let obj = registry::get(client.id, "service client")?;
        let Object::ServiceClient(c) = &*obj else { unreachable!("kind checked") };
        let timeout = (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms.into()));
        let r = block_on("vbus_service_call", c.call_bytes(bytes, timeout))??;
        // SAFETY: checked non-null above.
        unsafe { out(reply, "reply", sample_handle(r)) }
    })
}

/// Undeclare the client. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vbus_service_client_close(client: vbus_service_client) -> vbus_status {
    ffi(|| registry::remove(client.id, "service client").map(drop))
}

// ---------------------------------------------------------------------------------------------
// Fields

/// Declare the owner of the field `key` (reliable, blocking, the latest value kept for late
/// joiners whatever `qos` says; `qos` NULL: the default). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_field_owner_create(
    node: vbus_node,
    key: *const c_char,
    r#type: *const vbus_type,
    qos: *const vbus_qos,
    owner: *mut vbus_field_owner,
) -> vbus_status {
    ffi(|| {
        // SAFETY: documented argument contracts.
        let (key, ty, qos) = unsafe { endpoint_args(key, r#type, qos) }?;
        let o = with_node(node, |n| {
            let b = n.dyn_field_owner(key, &ty).qos(qos);
            Ok(block_on("vbus_field_owner_create", b.create())??)
        })?;
        // SAFETY: out-pointer (documented).
        unsafe {
            out(owner, "owner", vbus_field_owner { id: registry::insert(Object::FieldOwner(Mutex::new(o))) })
        }
    })
}

/// Set the field to `len` bytes of its type (verified first) and notify its clients.
/// Thread-safe; callable from callbacks.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_field_set(owner: vbus_field_owner, data: *const u8, len: usize) -> vbus_status {
    ffi(|| {
        // SAFETY: `len` readable bytes at `data` (documented).
        let bytes = unsafe { bytes_arg(data, len, "data") }?;
        let obj = registry::get(owner.id, "field owner")?;
        let Object::FieldOwner(o) = &*obj else { unreachable!("kind checked") };
        o.lock().unwrap_or_else(|e| e.into_inner()).set_bytes(bytes)?;
        Ok(())
    })
}

/// Undeclare the owner (its last value is no longer served). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vbus_field_owner_close(owner: vbus_field_owner) -> vbus_status {
    ffi(|| registry::remove(owner.id, "field owner").map(drop))
}

/// Follow the field `key`: its current value, if its owner has set one, is there when this
/// returns. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_field_client_create(
    node: vbus_node,
    key: *const c_char,
    r#type: *const vbus_type,
    qos: *const vbus_qos,
    client: *mut vbus_field_client,
) -> vbus_status {
    ffi(|| {
        // SAFETY: documented argument contracts.
        let (key, ty, qos) = unsafe { endpoint_args(key, r#type, qos) }?;
        let c = with_node(node, |n| {
            let b = n.dyn_field_client(key, &ty).qos(qos);
            Ok(block_on("vbus_field_client_create", b.create())??)
        })?;
        let id = registry::insert(Object::FieldClient(tokio::sync::Mutex::new(c)));
        // SAFETY: out-pointer (documented).
        unsafe { out(client, "client", vbus_field_client { id }) }
    })
}

/// The field's current value as a sample (release it); `VBUS_ERR_NO_VALUE` until the owner has
/// set one. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_field_get(client: vbus_field_client, value: *mut vbus_sample) -> vbus_status {
    ffi(|| {
        check_out(value, "value")?;
        let obj = registry::get(client.id, "field client")?;
        let Object::FieldClient(c) = &*obj else { unreachable!("kind checked") };
        let v = block_on("vbus_field_get", async { c.lock().await.get() })?.ok_or_else(|| {
            Failure::new(vbus_status::VBUS_ERR_NO_VALUE, "field: its owner has set no value yet")
        })?;
        // SAFETY: checked non-null above.
        unsafe { out(value, "value", sample_handle(v)) }
    })
}

/// Watch the field: wait at most `timeout_ms` for a value newer than the last one this function
/// returned (the first call returns the current value at once, if there is one). Thread-safe;
/// calls on one client are serialised.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_field_wait_changed(
    client: vbus_field_client,
    timeout_ms: u32,
    value: *mut vbus_sample,
) -> vbus_status {
    ffi(|| {
        check_out(value, "value")?;
        let obj = registry::get(client.id, "field client")?;
        let Object::FieldClient(c) = &*obj else { unreachable!("kind checked") };
        let wait = async { c.lock().await.changed().await };
        let v = match timeout_of(timeout_ms) {
            Some(t) => {
                match block_on("vbus_field_wait_changed", async { tokio::time::timeout(t, wait).await })? {
                    Ok(v) => v,
                    Err(_) => return Err(timed_out("vbus_field_wait_changed", timeout_ms)),
                }
            }
            None => block_on("vbus_field_wait_changed", wait)?,
        }
        .map_err(|_| closed("vbus_field_wait_changed"))?;
        // SAFETY: checked non-null above.
        unsafe { out(value, "value", sample_handle(v)) }
    })
}

/// Stop following the field. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vbus_field_client_close(client: vbus_field_client) -> vbus_status {
    ffi(|| registry::remove(client.id, "field client").map(drop))
}

// ---------------------------------------------------------------------------------------------
// Liveliness

/// Watch the nodes of the domain: every node alive now is reported up first, then each change.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_node_watch(node: vbus_node, watcher: *mut vbus_node_watcher) -> vbus_status {
    ffi(|| {
        let w = with_node(node, |n| Ok(block_on("vbus_node_watch", n.watch_nodes())??))?;
        // SAFETY: out-pointer (documented).
        unsafe { out(watcher, "watcher", vbus_node_watcher { id: registry::insert(Object::NodeWatcher(w)) }) }
    })
}

/// The next node event, waiting at most `timeout_ms`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vbus_node_watcher_next(
    watcher: vbus_node_watcher,
    timeout_ms: u32,
    event: *mut vbus_node_event,
) -> vbus_status {
    ffi(|| {
        check_out(event, "event")?;
        let obj = registry::get(watcher.id, "node watcher")?;
        let Object::NodeWatcher(w) = &*obj else { unreachable!("kind checked") };
        let e = match timeout_of(timeout_ms) {
            Some(t) => {
                match block_on("vbus_node_watcher_next", async { tokio::time::timeout(t, w.recv()).await })? {
                    Ok(e) => e,
                    Err(_) => return Err(timed_out("vbus_node_watcher_next", timeout_ms)),
                }
            }
            None => block_on("vbus_node_watcher_next", w.recv())?,
        }
        .map_err(|_| closed("vbus_node_watcher_next"))?;
        let mut ev = vbus_node_event { kind: 0, name: [0; VBUS_MESSAGE_LEN] };
        let name = match &e {
            NodeEvent::Up(n) => {
                ev.kind = VBUS_NODE_UP;
                n
            }
            NodeEvent::Down(n) => {
                ev.kind = VBUS_NODE_DOWN;
                n
            }
        };
        fill(&mut ev.name, name);
        // SAFETY: checked non-null above.
        unsafe { out(event, "event", ev) }
    })
}

/// Stop watching. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vbus_node_watcher_close(watcher: vbus_node_watcher) -> vbus_status {
    ffi(|| registry::remove(watcher.id, "node watcher").map(drop))
}
