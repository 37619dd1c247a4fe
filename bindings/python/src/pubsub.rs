//! `vbus.Publisher`, `vbus.Subscriber` and `vbus.Sample`: the library's run-time-typed
//! endpoints (`Node::dyn_publisher`, `Node::dyn_subscriber`), values through the type's schema.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use pyo3::{
    exceptions::PyStopAsyncIteration,
    prelude::*,
    sync::PyOnceLock,
    types::{PyBytes, PyCFunction, PyDict, PyList, PyTuple},
};
use vbus::{DataPath, QoS, TopicEvent, Untyped};

use crate::{
    convert,
    error::{Failure, Result},
    info,
    node::{Shared, lock},
    types::TypeCtx,
};

/// A received sample, copied out of the transport (the Python object may live as long as it
/// likes without holding shared memory).
#[derive(Clone)]
pub struct SampleData {
    bytes: Vec<u8>,
    seq: u64,
    source_time_ns: u64,
    publisher_id: u64,
    path: DataPath,
    latency: Duration,
}

impl SampleData {
    pub fn of(s: &vbus::Sample<Untyped>) -> Self {
        Self {
            bytes: s.bytes().to_vec(),
            seq: s.seq(),
            source_time_ns: s.source_time_ns(),
            publisher_id: s.publisher_id(),
            path: s.path(),
            latency: s.latency(),
        }
    }
}

/// A sample as delivered: the value decoded through the type's schema (`value`), the
/// FlatBuffers bytes (`bytes`, verified on receipt) and the header.
#[pyclass(frozen, module = "vbus")]
pub struct Sample {
    data: SampleData,
    ty: Arc<TypeCtx>,
    key: Arc<str>,
    value: PyOnceLock<Py<PyAny>>,
}

impl Sample {
    pub fn new(data: SampleData, ty: Arc<TypeCtx>, key: Arc<str>) -> Self {
        Self { data, ty, key, value: PyOnceLock::new() }
    }
}

#[pymethods]
impl Sample {
    /// The value as a dict (decoded once, on first access).
    #[getter]
    fn value(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let v = self.value.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            let json = self.ty.decode(&self.data.bytes)?;
            Ok(convert::to_py(py, &json)?.unbind())
        })?;
        Ok(v.clone_ref(py))
    }

    /// The FlatBuffers payload.
    #[getter]
    fn bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.data.bytes)
    }

    /// The publisher's sequence number (from 1).
    #[getter]
    fn seq(&self) -> u64 {
        self.data.seq
    }

    /// Source time, ns since the UNIX epoch.
    #[getter]
    fn source_time_ns(&self) -> u64 {
        self.data.source_time_ns
    }

    /// Id of the publisher that sent it.
    #[getter]
    fn publisher_id(&self) -> u64 {
        self.data.publisher_id
    }

    /// How it came: `"shared-memory"` (same host) or `"zenoh"`.
    #[getter]
    fn path(&self) -> String {
        self.data.path.to_string()
    }

    /// Wall-clock time from publication to receipt, in seconds.
    #[getter]
    fn latency(&self) -> f64 {
        self.data.latency.as_secs_f64()
    }

    /// Topic key.
    #[getter]
    fn key(&self) -> &str {
        &self.key
    }

    /// Schema type name.
    #[getter]
    fn type_name(&self) -> &str {
        &self.ty.name
    }

    fn __repr__(&self) -> String {
        format!(
            "<vbus.Sample key={:?} type={} seq={} path={} {} bytes>",
            &*self.key,
            self.ty.name,
            self.data.seq,
            self.data.path,
            self.data.bytes.len()
        )
    }
}

/// What a subscriber handle holds while open.
pub struct SubInner {
    sub: vbus::Subscriber<Untyped>,
    /// Samples taken from the queue for an `await` that was cancelled meanwhile: handed out
    /// first.
    stash: Mutex<VecDeque<SampleData>>,
    /// Notified when a sample is put back into `stash` (a receive waiting on the queue then
    /// takes it).
    stashed: tokio::sync::Notify,
    /// Set by `Subscriber.close()`: waits end.
    closed: tokio::sync::watch::Sender<bool>,
}

impl SubInner {
    fn put_back(&self, d: SampleData) {
        lock(&self.stash).push_front(d);
        self.stashed.notify_one();
    }

    fn take(&self) -> Option<SampleData> {
        if let Some(s) = lock(&self.stash).pop_front() {
            return Some(s);
        }
        self.sub.try_recv().map(|s| SampleData::of(&s))
    }

    /// The next sample: `Err(None)` when the node or this handle is closed (and the queue
    /// drained), `Err(Some(d))` after `timeout`.
    async fn recv(&self, timeout: Option<Duration>) -> Result<SampleData, Option<Duration>> {
        let mut closed = self.closed.subscribe();
        let next = async {
            loop {
                if let Some(s) = self.take() {
                    return Ok(s);
                }
                tokio::select! {
                    r = self.sub.recv() => return r.map(|s| SampleData::of(&s)).map_err(|_| None),
                    _ = self.stashed.notified() => {}
                    _ = closed.wait_for(|c| *c) => return Err(None),
                }
            }
        };
        match timeout {
            None => next.await,
            Some(t) => tokio::time::timeout(t, next).await.unwrap_or(Err(Some(t))),
        }
    }
}

/// Receives the samples of one topic.
///
/// Iterate it (`for sample in sub:` blocks, Ctrl-C interrupts; `async for sample in sub:` awaits
/// in asyncio) or call `recv()`. Iteration ends when the node is closed and the queue drained.
#[pyclass(frozen, module = "vbus")]
pub struct Subscriber {
    /// Dropped first: the endpoint goes before the node it belongs to.
    inner: Mutex<Option<Arc<SubInner>>>,
    shared: Arc<Shared>,
    ty: Arc<TypeCtx>,
    key: Arc<str>,
}

impl Subscriber {
    pub fn create(
        py: Python<'_>,
        shared: Arc<Shared>,
        key: String,
        ty: Arc<TypeCtx>,
        qos: QoS,
    ) -> PyResult<Self> {
        let sub = shared
            .block(py, || shared.node.dyn_subscriber(&key, &ty.info).qos(qos).create())
            .map_err(Failure::from)?;
        let inner = SubInner {
            sub,
            stash: Mutex::new(VecDeque::new()),
            stashed: tokio::sync::Notify::new(),
            closed: tokio::sync::watch::Sender::new(false),
        };
        Ok(Self { shared, ty, key: key.into(), inner: Mutex::new(Some(Arc::new(inner))) })
    }

    fn inner(&self) -> Result<Arc<SubInner>> {
        lock(&self.inner)
            .clone()
            .ok_or_else(|| Failure::Closed(format!("the subscriber of `{}` is closed", self.key)))
    }

    fn closed_failure(&self) -> Failure {
        Failure::Closed(format!(
            "no more samples on `{}`: the subscriber or its node (`{}`) is closed",
            self.key,
            self.shared.node.name()
        ))
    }

    fn timeout_failure(&self, t: Duration) -> Failure {
        Failure::Timeout(format!("no sample on `{}` within {}", self.key, info::show(t)))
    }

    fn sample(&self, d: SampleData) -> Sample {
        Sample::new(d, self.ty.clone(), self.key.clone())
    }

    /// An asyncio future of the next sample; `iteration`: `StopAsyncIteration` once closed.
    fn awaitable<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<Duration>,
        iteration: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let closed_err = |s: &Self| -> PyErr {
            if iteration { PyStopAsyncIteration::new_err(()) } else { s.closed_failure().into() }
        };
        let Ok(inner) = self.inner() else { return Err(closed_err(self)) };
        let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
        let fut = event_loop.call_method0("create_future")?;
        if let Some(d) = inner.take() {
            fut.call_method1("set_result", (self.sample(d),))?;
            return Ok(fut);
        }
        // Wait on the node's runtime; the result reaches the event loop through
        // `call_soon_threadsafe`. A sample that arrives for a future cancelled meanwhile goes
        // back to the stash for the next receive.
        let (fut_py, loop_py) = (fut.clone().unbind(), event_loop.unbind());
        let (ty, key, node_name) = (self.ty.clone(), self.key.clone(), self.shared.node.name().to_owned());
        let task_inner = inner.clone();
        let task = self.shared.rt().spawn(async move {
            let outcome = task_inner.recv(timeout).await;
            Python::try_attach(|py| {
                let slot = Arc::new(Mutex::new(Some(outcome)));
                let in_cb = slot.clone();
                let stash = task_inner.clone();
                let fut_cb = fut_py.clone_ref(py);
                let deliver =
                    move |args: &Bound<'_, PyTuple>, _: Option<&Bound<'_, PyDict>>| -> PyResult<()> {
                        let py = args.py();
                        let Some(outcome) = lock(&in_cb).take() else { return Ok(()) };
                        let fut = fut_cb.bind(py);
                        if fut.call_method0("done")?.is_truthy()? {
                            if let Ok(d) = outcome {
                                stash.put_back(d);
                            }
                            return Ok(());
                        }
                        let err = match outcome {
                        Ok(d) => {
                            fut.call_method1("set_result", (Sample::new(d, ty.clone(), key.clone()),))?;
                            return Ok(());
                        }
                        Err(None) if iteration => PyStopAsyncIteration::new_err(()),
                        Err(None) => Failure::Closed(format!(
                            "no more samples on `{key}`: the subscriber or its node (`{node_name}`) is closed"
                        ))
                        .into_pyerr(py),
                        Err(Some(t)) => {
                            Failure::Timeout(format!("no sample on `{key}` within {}", info::show(t)))
                                .into_pyerr(py)
                        }
                    };
                        fut.call_method1("set_exception", (err.into_value(py),))?;
                        Ok(())
                    };
                let scheduled = PyCFunction::new_closure(py, None, None, deliver)
                    .and_then(|cb| loop_py.bind(py).call_method1("call_soon_threadsafe", (cb,)));
                // The loop is closed: nobody waits for this sample; the next receive gets it.
                if scheduled.is_err()
                    && let Some(Ok(d)) = lock(&slot).take()
                {
                    task_inner.put_back(d);
                }
            });
        });
        let abort = task.abort_handle();
        let on_done = PyCFunction::new_closure(
            py,
            None,
            None,
            move |args: &Bound<'_, PyTuple>, _: Option<&Bound<'_, PyDict>>| -> PyResult<()> {
                if args.get_item(0)?.call_method0("cancelled")?.is_truthy()? {
                    abort.abort();
                }
                Ok(())
            },
        )?;
        fut.call_method1("add_done_callback", (on_done,))?;
        Ok(fut)
    }
}

#[pymethods]
impl Subscriber {
    /// The next sample, waiting up to `timeout` seconds (`None`: as long as it takes).
    /// `TimeoutError` when none came in time, `ClosedError` when none will come.
    #[pyo3(signature = (timeout = None))]
    fn recv(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Sample> {
        let timeout = info::timeout(timeout)?;
        let inner = self.inner()?;
        match self.shared.wait(py, || inner.recv(timeout))? {
            Ok(d) => Ok(self.sample(d)),
            Err(None) => Err(self.closed_failure().into()),
            Err(Some(t)) => Err(self.timeout_failure(t).into()),
        }
    }

    /// The next sample if one is queued, else `None`.
    fn try_recv(&self) -> PyResult<Option<Sample>> {
        Ok(self.inner()?.take().map(|d| self.sample(d)))
    }

    /// An awaitable of the next sample (asyncio), with the errors of `recv()`.
    #[pyo3(signature = (timeout = None))]
    fn arecv<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = info::timeout(timeout)?;
        self.awaitable(py, timeout, false)
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Sample>> {
        let Ok(inner) = self.inner() else { return Ok(None) };
        match self.shared.wait(py, || inner.recv(None))? {
            Ok(d) => Ok(Some(self.sample(d))),
            Err(_) => Ok(None),
        }
    }

    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.awaitable(py, None, true)
    }

    /// Every queued event, oldest first (see `next_event()` for their form).
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let inner = self.inner()?;
        let list = PyList::empty(py);
        while let Some(e) = inner.sub.try_next_event() {
            list.append(info::event_dict(py, &e)?)?;
        }
        Ok(list)
    }

    /// The next event, waiting up to `timeout` seconds: a dict with `kind` (`deadline_missed`,
    /// `type_mismatch`, `rejected`, `e2e_violation`, `samples_lost`), the event's fields and
    /// `message`.
    #[pyo3(signature = (timeout = None))]
    fn next_event<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyDict>> {
        let timeout = info::timeout(timeout)?;
        let inner = self.inner()?;
        let node_closed = self.shared.closed();
        let mut closed = inner.closed.subscribe();
        let next = async {
            tokio::select! {
                e = inner.sub.next_event() => e.ok(),
                _ = closed.wait_for(|c| *c) => None,
                _ = node_closed => None,
            }
        };
        let r: Result<Option<TopicEvent>, Duration> = self.shared.wait(py, || async {
            match timeout {
                None => Ok(next.await),
                Some(t) => tokio::time::timeout(t, next).await.map_err(|_| t),
            }
        })?;
        match r {
            Ok(Some(e)) => info::event_dict(py, &e),
            Ok(None) => Err(Failure::Closed(format!("no more events on `{}`: closed", self.key)).into()),
            Err(t) => {
                Err(Failure::Timeout(format!("no event on `{}` within {}", self.key, info::show(t))).into())
            }
        }
    }

    /// The subscriber's counters (`delivered`, `dropped`, `rejected`, `mismatched`, `lost`, ...).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        info::stats_dict(py, &self.inner()?.sub.stats())
    }

    /// Samples waiting in the queue.
    #[getter]
    fn queued(&self) -> PyResult<usize> {
        let inner = self.inner()?;
        Ok(inner.sub.queued() + lock(&inner.stash).len())
    }

    /// Topic key.
    #[getter]
    fn key(&self) -> &str {
        &self.key
    }

    /// Schema type name.
    #[getter]
    fn type_name(&self) -> &str {
        &self.ty.name
    }

    /// The type hash samples must carry.
    #[getter]
    fn type_hash(&self) -> u64 {
        self.ty.hash
    }

    /// The per-type `.bfbs` this subscriber decodes with.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.ty.info.schema())
    }

    /// Undeclare the subscriber; waits on it end. Closing twice does nothing.
    fn close(&self, py: Python<'_>) {
        if let Some(inner) = lock(&self.inner).take() {
            inner.closed.send_replace(true);
            py.detach(move || drop(inner));
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "<vbus.Subscriber key={:?} type={}{}>",
            &*self.key,
            self.ty.name,
            if lock(&self.inner).is_none() { " closed" } else { "" }
        )
    }
}

/// Publishes values of one type on one topic.
#[pyclass(frozen, module = "vbus")]
pub struct Publisher {
    /// Dropped first: the endpoint goes before the node it belongs to.
    inner: Mutex<Option<vbus::Publisher<Untyped>>>,
    shared: Arc<Shared>,
    ty: Arc<TypeCtx>,
    key: String,
    id: u64,
}

impl Publisher {
    pub fn create(
        py: Python<'_>,
        shared: Arc<Shared>,
        key: String,
        ty: Arc<TypeCtx>,
        qos: QoS,
    ) -> PyResult<Self> {
        let p = shared
            .block(py, || shared.node.dyn_publisher(&key, &ty.info).qos(qos).create())
            .map_err(Failure::from)?;
        Ok(Self { shared, ty, key, id: p.id(), inner: Mutex::new(Some(p)) })
    }

    fn send(
        &self,
        py: Python<'_>,
        bytes: Option<Vec<u8>>,
        json: Option<serde_json::Value>,
        at: Option<u64>,
    ) -> PyResult<()> {
        self.shared.check_open()?;
        let r = py.detach(|| -> Result<()> {
            let bytes = match (bytes, json) {
                (Some(b), _) => b,
                (None, Some(j)) => self.ty.encode(&j)?,
                (None, None) => Vec::new(),
            };
            let mut guard = lock(&self.inner);
            let p = guard
                .as_mut()
                .ok_or_else(|| Failure::Closed(format!("the publisher of `{}` is closed", self.key)))?;
            Ok(p.publish_bytes_at(&bytes, at)?)
        });
        Ok(r?)
    }
}

#[pymethods]
impl Publisher {
    /// Publish `value` (a dict of the type, see the package docs for the mapping), encoded
    /// through the schema. `PayloadError` names what does not match (`$.kph: expected float,
    /// found string "fast"`). `source_time_ns`: the sample's source time (default: now).
    #[pyo3(signature = (value, *, source_time_ns = None))]
    fn publish(&self, py: Python<'_>, value: &Bound<'_, PyAny>, source_time_ns: Option<u64>) -> PyResult<()> {
        let json = convert::to_json(value)?;
        self.send(py, None, Some(json), source_time_ns)
    }

    /// Publish FlatBuffers bytes of the type built elsewhere; they are verified first.
    #[pyo3(signature = (data, *, source_time_ns = None))]
    fn publish_bytes(&self, py: Python<'_>, data: &[u8], source_time_ns: Option<u64>) -> PyResult<()> {
        self.send(py, Some(data.to_vec()), None, source_time_ns)
    }

    /// Wait up to `timeout` seconds until a subscriber matches (a sample published before a new
    /// subscriber is known reaches nobody); whether one did.
    #[pyo3(signature = (timeout = 5.0))]
    fn wait_for_subscribers(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let t = info::seconds(timeout, "timeout")?;
        self.shared.check_open()?;
        let deadline = std::time::Instant::now() + t;
        loop {
            if self.has_subscribers()? {
                return Ok(true);
            }
            if std::time::Instant::now() >= deadline {
                return Ok(false);
            }
            py.detach(|| std::thread::sleep(Duration::from_millis(10)));
            py.check_signals()?;
        }
    }

    /// Whether a subscriber matches now.
    fn has_subscribers(&self) -> PyResult<bool> {
        let guard = lock(&self.inner);
        let p = guard
            .as_ref()
            .ok_or_else(|| Failure::Closed(format!("the publisher of `{}` is closed", self.key)))?;
        Ok(p.has_subscribers())
    }

    /// The publisher's counters (`sent`, `backpressure_waits`, `refused`, ...).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let guard = lock(&self.inner);
        let p = guard
            .as_ref()
            .ok_or_else(|| Failure::Closed(format!("the publisher of `{}` is closed", self.key)))?;
        info::stats_dict(py, &p.stats())
    }

    /// Topic key.
    #[getter]
    fn key(&self) -> &str {
        &self.key
    }

    /// Schema type name.
    #[getter]
    fn type_name(&self) -> &str {
        &self.ty.name
    }

    /// The type hash every sample carries.
    #[getter]
    fn type_hash(&self) -> u64 {
        self.ty.hash
    }

    /// This publisher's id, as in every sample's header (`Sample.publisher_id`).
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }

    /// The per-type `.bfbs` this publisher serves.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.ty.info.schema())
    }

    /// Undeclare the publisher. Closing twice does nothing.
    fn close(&self, py: Python<'_>) {
        let p = lock(&self.inner).take();
        py.detach(move || drop(p));
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "<vbus.Publisher key={:?} type={}{}>",
            self.key,
            self.ty.name,
            if lock(&self.inner).is_none() { " closed" } else { "" }
        )
    }
}
