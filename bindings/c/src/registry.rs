//! Every live handle's object, by id: a closed or forged handle is an error, never a dangling
//! pointer.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use vbus_rs::{
    CallbackSubscriber, FieldClient, FieldOwner, Node, NodeWatcher, Publisher, Request, Sample,
    ServiceClient, ServiceServer, Subscriber, Untyped,
};

use crate::{Failure, vbus_status};

/// What a handle refers to.
pub(crate) enum Object {
    Node(Node),
    Publisher(Mutex<Publisher<Untyped>>),
    Subscriber(Subscriber<Untyped>),
    CallbackSubscriber(CallbackSubscriber<Untyped>),
    Sample(Sample<Untyped>),
    ServiceServer(ServiceServer<Untyped, Untyped>),
    /// Taken out when answered.
    Request(Mutex<Option<Request<Untyped, Untyped>>>),
    ServiceClient(ServiceClient<Untyped, Untyped>),
    FieldOwner(Mutex<FieldOwner<Untyped>>),
    FieldClient(tokio::sync::Mutex<FieldClient<Untyped>>),
    NodeWatcher(NodeWatcher),
}

impl Object {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Node(_) => "node",
            Self::Publisher(_) => "publisher",
            Self::Subscriber(_) | Self::CallbackSubscriber(_) => "subscriber",
            Self::Sample(_) => "sample",
            Self::ServiceServer(_) => "service server",
            Self::Request(_) => "request",
            Self::ServiceClient(_) => "service client",
            Self::FieldOwner(_) => "field owner",
            Self::FieldClient(_) => "field client",
            Self::NodeWatcher(_) => "node watcher",
        }
    }
}

fn table() -> &'static Mutex<HashMap<u64, Arc<Object>>> {
    static T: std::sync::OnceLock<Mutex<HashMap<u64, Arc<Object>>>> = std::sync::OnceLock::new();
    T.get_or_init(Default::default)
}

/// Register `obj`; its id (never 0, never reused).
pub(crate) fn insert(obj: Object) -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    table().lock().unwrap_or_else(|p| p.into_inner()).insert(id, Arc::new(obj));
    id
}

fn check(id: u64, kind: &str, obj: Option<&Arc<Object>>) -> Result<(), Failure> {
    let bad = |m: String| Failure::new(vbus_status::VBUS_ERR_INVALID_HANDLE, m);
    match obj {
        None if id == 0 => {
            Err(bad(format!("{kind} handle: expected an open {kind}, found the null handle (0)")))
        }
        None => {
            Err(bad(format!("{kind} handle {id}: expected an open {kind}, found none (closed already?)")))
        }
        Some(o) if o.kind() != kind => {
            Err(bad(format!("{kind} handle {id}: expected a {kind}, found a {}", o.kind())))
        }
        Some(_) => Ok(()),
    }
}

/// The object of handle `id`, which must be a `kind`.
pub(crate) fn get(id: u64, kind: &str) -> Result<Arc<Object>, Failure> {
    let t = table().lock().unwrap_or_else(|p| p.into_inner());
    let obj = t.get(&id);
    check(id, kind, obj)?;
    Ok(obj.cloned().expect("checked"))
}

/// Unregister handle `id` (a `kind`) and return its object; it is dropped once no call in
/// progress on another thread uses it.
pub(crate) fn remove(id: u64, kind: &str) -> Result<Arc<Object>, Failure> {
    let mut t = table().lock().unwrap_or_else(|p| p.into_inner());
    check(id, kind, t.get(&id))?;
    Ok(t.remove(&id).expect("checked"))
}
