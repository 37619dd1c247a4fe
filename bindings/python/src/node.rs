//! `vbus.Node`: a vbus node with its own tokio runtime, and what every endpoint shares with it.

use std::{
    collections::HashMap,
    future::Future,
    path::PathBuf,
    pin::{Pin, pin},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use pyo3::{
    prelude::*,
    types::{PyByteArray, PyBytes, PyDict, PyList, PyString},
};
use tokio::runtime::Runtime;
use vbus::NodeConfig;

use crate::{
    call::CallTarget,
    convert,
    error::{Failure, Result},
    field::{FieldClient, FieldOwner},
    info,
    pubsub::{Publisher, Subscriber},
    types::{self, TypeCtx},
};

/// How long one wait runs detached from the interpreter before it checks for signals (Ctrl-C).
const SLICE: Duration = Duration::from_millis(100);
/// How often the bus is asked again while waiting for a type or a schema to appear.
const POLL: Duration = Duration::from_millis(100);
/// How often, while waiting for a schema, every served schema is scanned for the type.
const SCAN_EVERY: Duration = Duration::from_secs(1);

/// Lock a mutex, whether or not a panic poisoned it (the data is plain state).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The node, its runtime and its state, shared by the `Node` object and every endpoint made from
/// it (an endpoint keeps them alive).
pub struct Shared {
    /// `Some` until dropped.
    rt: Option<Runtime>,
    pub node: vbus::Node,
    /// Set by `Node.close()`.
    closed: tokio::sync::watch::Sender<bool>,
    /// Resolved service clients by service key.
    pub calls: Mutex<HashMap<String, Arc<CallTarget>>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Without waiting: a task of the runtime may be waiting to attach to the interpreter,
        // which the thread dropping this may hold.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Shared {
    /// The node's runtime.
    pub fn rt(&self) -> &Runtime {
        self.rt.as_ref().expect("the runtime lives as long as the node")
    }

    /// `ClosedError` once `Node.close()` was called.
    pub fn check_open(&self) -> Result<()> {
        if *self.closed.borrow() {
            return Err(Failure::Closed(format!("node `{}` is closed", self.node.name())));
        }
        Ok(())
    }

    /// Resolves when the node is closed.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.closed.subscribe();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    /// Run the future `make` makes on the runtime to completion, detached from the interpreter
    /// (for what takes a bounded time: declarations, closing).
    pub fn block<M, F>(&self, py: Python<'_>, make: M) -> F::Output
    where
        M: FnOnce() -> F + Send,
        F: Future,
        F::Output: Send,
    {
        // Made inside the runtime: timers need its context.
        py.detach(|| self.rt().block_on(async { make().await }))
    }

    /// One slice of `fut` on the runtime, detached from the interpreter: its output, or `None` if
    /// it is not done yet.
    pub fn slice<F>(&self, py: Python<'_>, fut: Pin<&mut F>) -> Option<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        py.detach(|| self.rt().block_on(async { tokio::time::timeout(SLICE, fut).await.ok() }))
    }

    /// Run the future `make` makes to completion on the runtime, detached from the interpreter;
    /// every [`SLICE`] it attaches briefly to handle pending signals: Ctrl-C raises
    /// `KeyboardInterrupt` (and drops the future). The future is made and polled on this thread
    /// (the library's futures need not be `Send`).
    pub fn wait<M, F>(&self, py: Python<'_>, make: M) -> PyResult<F::Output>
    where
        M: FnOnce() -> F + Send,
        F: Future,
        F::Output: Send,
    {
        py.detach(|| {
            self.rt().block_on(async {
                let mut fut = pin!(make());
                loop {
                    if let Ok(out) = tokio::time::timeout(SLICE, fut.as_mut()).await {
                        return Ok(out);
                    }
                    Python::attach(|py| py.check_signals())?;
                }
            })
        })
    }

    /// The type of the endpoint on `key`: the table `type_name` (or the one declaring the key, or
    /// the root) of `schema`; or, without a schema, the schema served on the bus for `type_name`
    /// (or for the type the endpoints on `key` announce), waiting up to `wait` for it.
    pub async fn resolve_type(
        &self,
        key: &str,
        type_name: Option<String>,
        schema: Option<Vec<u8>>,
        wait: Duration,
    ) -> Result<Arc<TypeCtx>> {
        vbus::validate_key(key).map_err(|e| Failure::Key(format!("invalid key: {e}")))?;
        if let Some(bfbs) = schema {
            let parsed = Arc::new(vbus_reflect::Schema::from_bfbs(&bfbs)?);
            let name = match type_name {
                Some(n) => n,
                None => types::table_for_key(&parsed, key)?,
            };
            return Ok(Arc::new(TypeCtx::parsed(&name, &bfbs, parsed, None)?));
        }
        let deadline = Instant::now() + wait;
        let name = match type_name {
            Some(n) => n,
            None => self.discover_type(key, deadline, wait).await?,
        };
        self.served_type(&name, deadline, wait).await.map(Arc::new)
    }

    /// The one type the endpoints announced on `key` declare.
    async fn discover_type(&self, key: &str, deadline: Instant, wait: Duration) -> Result<String> {
        loop {
            let topics = self.node.topics().await?;
            let mut types: Vec<(&str, &str)> = topics
                .iter()
                .filter(|t| t.key == key && t.type_name != "*")
                .map(|t| (t.type_name.as_str(), t.node.as_str()))
                .collect();
            types.sort();
            types.dedup_by(|a, b| a.0 == b.0);
            match types.as_slice() {
                [(t, _)] => return Ok((*t).to_owned()),
                [] => {}
                many => {
                    let list: Vec<String> = many.iter().map(|(t, n)| format!("{t} (node {n})")).collect();
                    return Err(Failure::Schema(format!(
                        "nodes disagree on the type of `{key}`: {}; pass type_name",
                        list.join(", ")
                    )));
                }
            }
            if Instant::now() >= deadline {
                let keys = topics.iter().map(|t| t.key.as_str());
                let hint = match vbus_reflect::did_you_mean(key, keys) {
                    Some(s) => format!(" (did you mean `{s}`?)"),
                    None => String::new(),
                };
                return Err(Failure::Schema(format!(
                    "no node announces topic `{key}` within {}{hint}: pass type_name (and schema), or start \
                     its publisher first",
                    info::show(wait)
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The schema some node serves for `name` (the hash it announces), else a served schema that
    /// contains `name` (the hash recomputed), waiting until `deadline`.
    pub async fn served_type(&self, name: &str, deadline: Instant, wait: Duration) -> Result<TypeCtx> {
        let mut last_scan: Option<Instant> = None;
        let mut unusable = None;
        loop {
            if let Some(info) = self.node.fetch_schema(name).await? {
                match TypeCtx::new(name, &info.bfbs, Some(info.type_hash)) {
                    Ok(t) => return Ok(t),
                    Err(e) => unusable = Some(e),
                }
            }
            if last_scan.is_none_or(|t| t.elapsed() >= SCAN_EVERY) || Instant::now() >= deadline {
                last_scan = Some(Instant::now());
                if let Some(t) = self.find_in_served(name).await? {
                    return Ok(t);
                }
            }
            if Instant::now() >= deadline {
                return Err(unusable.unwrap_or_else(|| {
                    Failure::Schema(format!(
                        "no node serves the schema of `{name}` (waited {}): pass schema= (the type's .bfbs, \
                         e.g. the one vbus-codegen writes)",
                        info::show(wait)
                    ))
                }));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `name` inside any served schema (a type not served under its own name), its hash
    /// recomputed from that schema.
    pub async fn find_in_served(&self, name: &str) -> Result<Option<TypeCtx>> {
        for s in self.node.served_schemas().await? {
            let Ok(schema) = vbus_reflect::Schema::from_bfbs(&s.bfbs) else { continue };
            if schema.object(name).is_some() {
                let hash = (s.type_name == name).then_some(s.type_hash);
                return TypeCtx::parsed(name, &s.bfbs, Arc::new(schema), hash).map(Some);
            }
        }
        Ok(None)
    }
}

/// The `.bfbs` given as `schema=`: bytes, or the path of a file.
pub fn schema_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<u8>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Some(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Some(b.to_vec()));
    }
    let path: PathBuf = match obj.py().import("os")?.call_method1("fspath", (obj,)) {
        Ok(p) => p.extract()?,
        Err(_) => {
            return Err(Failure::Schema(format!(
                "schema: expected the .bfbs as bytes or the path of a .bfbs file, found {}",
                obj.get_type().name()?
            ))
            .into());
        }
    };
    std::fs::read(&path)
        .map(Some)
        .map_err(|e| Failure::Schema(format!("schema: cannot read `{}`: {e}", path.display())).into())
}

/// A vbus node: one zenoh session, a name and a domain, and the factory of endpoints.
///
/// `Node(config)` takes the node configuration as JSON5 text (or a dict), `Node(file=path)` a
/// JSON5 file; fields left out keep the defaults of `vbus.DEFAULT_CONFIG`. The node runs its own
/// tokio runtime (two worker threads); every blocking call releases the GIL. Close it with
/// `close()` or use it as a context manager.
#[pyclass(frozen, module = "vbus")]
pub struct Node {
    shared: Arc<Shared>,
}

#[pymethods]
impl Node {
    #[new]
    #[pyo3(signature = (config = None, *, file = None))]
    fn new(py: Python<'_>, config: Option<&Bound<'_, PyAny>>, file: Option<PathBuf>) -> PyResult<Self> {
        let config = config.filter(|c| !c.is_none());
        let cfg = match (config, file) {
            (Some(_), Some(_)) => {
                return Err(
                    Failure::Config("give the configuration as text or as a file, not both".into()).into()
                );
            }
            (Some(c), None) => {
                if let Ok(text) = c.cast::<PyString>() {
                    NodeConfig::from_json5(text.to_str()?)
                } else if c.cast::<PyDict>().is_ok() {
                    let value = convert::to_json(c).map_err(|e| match e {
                        Failure::Payload(m) => Failure::Config(m),
                        other => other,
                    })?;
                    NodeConfig::from_value(value)
                } else {
                    return Err(Failure::Config(format!(
                        "config: expected JSON5 text or a dict, found {}",
                        c.get_type().name()?
                    ))
                    .into());
                }
            }
            (None, Some(path)) => NodeConfig::from_file(path),
            (None, None) => Ok(NodeConfig::default()),
        }
        .map_err(Failure::from)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("vbus-python")
            .enable_all()
            .build()
            .map_err(|e| Failure::Transport(format!("cannot start the node's runtime: {e}")))?;
        let node = py.detach(|| rt.block_on(vbus::Node::open(cfg))).map_err(Failure::from)?;
        Ok(Self {
            shared: Arc::new(Shared {
                rt: Some(rt),
                node,
                closed: tokio::sync::watch::Sender::new(false),
                calls: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Withdraw the node from the bus and close its session. Subscribers return what they had
    /// queued, then stop; other endpoints raise `ClosedError`. Closing twice does nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let s = &self.shared;
        if s.closed.send_replace(true) {
            return Ok(());
        }
        lock(&s.calls).clear();
        let node = s.node.clone();
        let name = node.name().to_owned();
        match s.block(py, || tokio::time::timeout(Duration::from_secs(5), node.close())) {
            Ok(r) => r.map_err(|e| Failure::from(e).into()),
            Err(_) => Err(Failure::Timeout(format!("closing node `{name}` took more than 5 s")).into()),
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let n = &self.shared.node;
        format!(
            "<vbus.Node name={:?} domain={:?} mode={}{}>",
            n.name(),
            n.domain(),
            n.mode(),
            if self.closed() { " closed" } else { "" }
        )
    }

    /// Node name.
    #[getter]
    fn name(&self) -> String {
        self.shared.node.name().to_owned()
    }

    /// Domain (vehicle) name.
    #[getter]
    fn domain(&self) -> String {
        self.shared.node.domain().to_owned()
    }

    /// Network role: `"peer"`, `"client"` or `"router"`.
    #[getter]
    fn mode(&self) -> String {
        self.shared.node.mode().to_string()
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        *self.shared.closed.borrow()
    }

    /// The endpoints this node listens on, resolved ports included (`tcp/127.0.0.1:40123`).
    #[getter]
    fn locators(&self) -> Vec<String> {
        self.shared.node.locators()
    }

    /// How samples between this node and others of its host travel (`shared memory (...)`,
    /// `zenoh only: ...`).
    #[getter]
    fn data_path(&self) -> String {
        self.shared.node.local_path().to_string()
    }

    /// The configuration the node was opened with, as a dict.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_py(py, &self.shared.node.config().to_value())
    }

    /// Publishers and subscribers alive in the domain: dicts with `key`, `type_name`, `node` and
    /// `publisher` (a bool).
    fn topics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.shared.check_open()?;
        let node = self.shared.node.clone();
        let topics = self.shared.wait(py, || async move { node.topics().await })?.map_err(Failure::from)?;
        let list = PyList::empty(py);
        for t in topics {
            let d = PyDict::new(py);
            d.set_item("key", t.key)?;
            d.set_item("type_name", t.type_name)?;
            d.set_item("node", t.node)?;
            d.set_item("publisher", t.publisher)?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// Names of the nodes of the domain alive now (this one included).
    fn alive_nodes(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.shared.check_open()?;
        let node = self.shared.node.clone();
        Ok(self.shared.wait(py, || async move { node.alive_nodes().await })?.map_err(Failure::from)?)
    }

    /// Counters of every live endpoint of this node: dicts with `role` (`publisher`,
    /// `subscriber`, `service_server`, `service_client`), `key`, `type_name` and `stats` (the
    /// counters, as `Subscriber.stats()`).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for e in self.shared.node.stats() {
            let d = PyDict::new(py);
            d.set_item("role", info::role_name(e.role))?;
            d.set_item("key", e.key)?;
            d.set_item("type_name", &*e.type_name)?;
            d.set_item("stats", info::stats_dict(py, &e.stats)?)?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// The `.bfbs` some node of the domain serves for `type_name`, waiting up to `timeout`
    /// seconds for one to serve it (`SchemaError` if none does).
    #[pyo3(signature = (type_name, timeout = 5.0))]
    fn schema<'py>(&self, py: Python<'py>, type_name: String, timeout: f64) -> PyResult<Bound<'py, PyBytes>> {
        self.shared.check_open()?;
        let wait = info::seconds(timeout, "timeout")?;
        let s = self.shared.clone();
        let fut = async move {
            let deadline = Instant::now() + wait;
            loop {
                if let Some(i) = s.node.fetch_schema(&type_name).await? {
                    return Ok(i.bfbs);
                }
                if Instant::now() >= deadline {
                    return Err(Failure::Schema(format!(
                        "no node serves the schema of `{type_name}` (waited {})",
                        info::show(wait)
                    )));
                }
                tokio::time::sleep(POLL).await;
            }
        };
        let bfbs = self.shared.wait(py, || fut)??;
        Ok(PyBytes::new(py, &bfbs))
    }

    /// A subscriber of `key`.
    ///
    /// The type is the table `type_name` of `schema` (a `.bfbs` as bytes or a file path; without
    /// `type_name`, the table declaring `vbus_topic: key`, else the root type); without `schema`,
    /// the schema a node serves for `type_name`; without either, the type the endpoints on `key`
    /// announce. The bus is asked for up to `schema_timeout` seconds. `queue` sets the queue
    /// depth, `qos` any QoS option (see `vbus.QoS`).
    #[pyo3(signature = (key, type_name = None, *, schema = None, queue = None, qos = None, schema_timeout = 5.0))]
    #[allow(clippy::too_many_arguments)]
    fn subscriber(
        &self,
        py: Python<'_>,
        key: String,
        type_name: Option<String>,
        schema: Option<&Bound<'_, PyAny>>,
        queue: Option<u16>,
        qos: Option<&Bound<'_, PyDict>>,
        schema_timeout: f64,
    ) -> PyResult<Subscriber> {
        let ty = self.resolve(py, &key, type_name, schema, schema_timeout)?;
        let mut q = info::qos_from(qos, &ty)?;
        if let Some(n) = queue {
            if n == 0 {
                return Err(Failure::Config("queue: expected at least 1, found 0".into()).into());
            }
            q.queue = n;
        }
        Subscriber::create(py, self.shared.clone(), key, ty, q)
    }

    /// A publisher on `key` of the type resolved as for `subscriber()`; it serves the type's
    /// schema, so that other nodes (and `vbus echo`) decode its samples.
    #[pyo3(signature = (key, type_name = None, *, schema = None, qos = None, schema_timeout = 5.0))]
    fn publisher(
        &self,
        py: Python<'_>,
        key: String,
        type_name: Option<String>,
        schema: Option<&Bound<'_, PyAny>>,
        qos: Option<&Bound<'_, PyDict>>,
        schema_timeout: f64,
    ) -> PyResult<Publisher> {
        let ty = self.resolve(py, &key, type_name, schema, schema_timeout)?;
        let q = info::qos_from(qos, &ty)?;
        Publisher::create(py, self.shared.clone(), key, ty, q)
    }

    /// A client of the field `key`: its current value at once (if its owner has set one), then
    /// every change. The type is resolved as for `subscriber()`.
    #[pyo3(signature = (key, type_name = None, *, schema = None, qos = None, schema_timeout = 5.0))]
    fn field(
        &self,
        py: Python<'_>,
        key: String,
        type_name: Option<String>,
        schema: Option<&Bound<'_, PyAny>>,
        qos: Option<&Bound<'_, PyDict>>,
        schema_timeout: f64,
    ) -> PyResult<FieldClient> {
        let ty = self.resolve(py, &key, type_name, schema, schema_timeout)?;
        let q = info::qos_from(qos, &ty)?;
        FieldClient::create(py, self.shared.clone(), key, ty, q)
    }

    /// The owner of the field `key`: sets its value, kept for late joiners. The type is resolved
    /// as for `subscriber()`; it serves the type's schema.
    #[pyo3(signature = (key, type_name = None, *, schema = None, qos = None, schema_timeout = 5.0))]
    fn field_owner(
        &self,
        py: Python<'_>,
        key: String,
        type_name: Option<String>,
        schema: Option<&Bound<'_, PyAny>>,
        qos: Option<&Bound<'_, PyDict>>,
        schema_timeout: f64,
    ) -> PyResult<FieldOwner> {
        let ty = self.resolve(py, &key, type_name, schema, schema_timeout)?;
        let q = info::qos_from(qos, &ty)?;
        FieldOwner::create(py, self.shared.clone(), key, ty, q)
    }

    /// Call the service `service` with `request` (a dict of the request type) and return the
    /// reply as a dict, waiting up to `timeout` seconds for it.
    ///
    /// The request and reply types come from the schemas the servers serve (the request table
    /// declares `vbus_service: service` and names its reply with `vbus_reply`), or from
    /// `schema` (a `.bfbs`) when given; `request_type` picks the request table by name.
    #[pyo3(signature = (service, request, timeout = 1.0, *, schema = None, request_type = None))]
    fn call<'py>(
        &self,
        py: Python<'py>,
        service: String,
        request: &Bound<'py, PyAny>,
        timeout: f64,
        schema: Option<&Bound<'py, PyAny>>,
        request_type: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.shared.check_open()?;
        let timeout = info::seconds(timeout, "timeout")?;
        let json = convert::to_json(request)?;
        let schema = schema_arg(schema)?;
        let reply = crate::call::call(py, &self.shared, &service, json, timeout, schema, request_type)?;
        convert::to_py(py, &reply)
    }
}

impl Node {
    fn resolve(
        &self,
        py: Python<'_>,
        key: &str,
        type_name: Option<String>,
        schema: Option<&Bound<'_, PyAny>>,
        schema_timeout: f64,
    ) -> PyResult<Arc<TypeCtx>> {
        self.shared.check_open()?;
        let wait = info::seconds(schema_timeout, "schema_timeout")?;
        let schema = schema_arg(schema)?;
        Ok(self.shared.wait(py, || self.shared.resolve_type(key, type_name, schema, wait))??)
    }
}
