//! `vbus.FieldOwner` and `vbus.FieldClient`: the library's run-time-typed fields
//! (`Node::dyn_field_owner`, `Node::dyn_field_client`).

use std::{
    pin::pin,
    sync::{Arc, Mutex},
    time::Instant,
};

use pyo3::{
    prelude::*,
    types::{PyDict, PyTuple},
};
use vbus::{QoS, Untyped};

use crate::{
    convert,
    error::{Failure, Result},
    info,
    node::{Shared, lock},
    pubsub::{Sample, SampleData},
    types::TypeCtx,
};

/// Sets the value of a field; the latest value is kept for clients that join later.
#[pyclass(frozen, module = "vbus")]
pub struct FieldOwner {
    /// Dropped first: the endpoint goes before the node it belongs to.
    inner: Mutex<Option<vbus::FieldOwner<Untyped>>>,
    shared: Arc<Shared>,
    ty: Arc<TypeCtx>,
    key: String,
}

impl FieldOwner {
    pub fn create(
        py: Python<'_>,
        shared: Arc<Shared>,
        key: String,
        ty: Arc<TypeCtx>,
        qos: QoS,
    ) -> PyResult<Self> {
        let owner = shared
            .block(py, || shared.node.dyn_field_owner(&key, &ty.info).qos(qos).create())
            .map_err(Failure::from)?;
        Ok(Self { shared, ty, key, inner: Mutex::new(Some(owner)) })
    }

    fn closed(&self) -> Failure {
        Failure::Closed(format!("the owner of field `{}` is closed", self.key))
    }

    fn send(&self, py: Python<'_>, bytes: Option<Vec<u8>>, json: Option<serde_json::Value>) -> PyResult<()> {
        self.shared.check_open()?;
        let r = py.detach(|| -> Result<()> {
            let bytes = match (bytes, json) {
                (Some(b), _) => b,
                (None, Some(j)) => self.ty.encode(&j)?,
                (None, None) => Vec::new(),
            };
            let mut guard = lock(&self.inner);
            let owner = guard.as_mut().ok_or_else(|| self.closed())?;
            Ok(owner.set_bytes(&bytes)?)
        });
        Ok(r?)
    }
}

#[pymethods]
impl FieldOwner {
    /// Set the value (a dict of the type) and notify the clients.
    fn set(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let json = convert::to_json(value)?;
        self.send(py, None, Some(json))
    }

    /// Set the value from FlatBuffers bytes of the type, verified first.
    fn set_bytes(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        self.send(py, Some(data.to_vec()), None)
    }

    /// The owner's counters.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let guard = lock(&self.inner);
        let owner = guard.as_ref().ok_or_else(|| self.closed())?;
        info::stats_dict(py, &owner.stats())
    }

    /// Field key.
    #[getter]
    fn key(&self) -> &str {
        &self.key
    }

    /// Schema type name.
    #[getter]
    fn type_name(&self) -> &str {
        &self.ty.name
    }

    /// Undeclare the owner (its kept value goes with it). Closing twice does nothing.
    fn close(&self, py: Python<'_>) {
        let o = lock(&self.inner).take();
        py.detach(move || drop(o));
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
        format!("<vbus.FieldOwner key={:?} type={}>", self.key, self.ty.name)
    }
}

type Client = Arc<tokio::sync::Mutex<vbus::FieldClient<Untyped>>>;

/// Follows a field: `get()` is its current value, `changed()` waits for the next one.
#[pyclass(frozen, module = "vbus")]
pub struct FieldClient {
    /// Dropped first: the endpoint goes before the node it belongs to.
    inner: Mutex<Option<Client>>,
    shared: Arc<Shared>,
    ty: Arc<TypeCtx>,
    key: Arc<str>,
}

impl FieldClient {
    pub fn create(
        py: Python<'_>,
        shared: Arc<Shared>,
        key: String,
        ty: Arc<TypeCtx>,
        qos: QoS,
    ) -> PyResult<Self> {
        let client = shared
            .block(py, || shared.node.dyn_field_client(&key, &ty.info).qos(qos).create())
            .map_err(Failure::from)?;
        Ok(Self {
            shared,
            ty,
            key: key.into(),
            inner: Mutex::new(Some(Arc::new(tokio::sync::Mutex::new(client)))),
        })
    }

    fn client(&self) -> Result<Client> {
        lock(&self.inner)
            .clone()
            .ok_or_else(|| Failure::Closed(format!("the client of field `{}` is closed", self.key)))
    }

    fn current(&self, py: Python<'_>) -> PyResult<Option<SampleData>> {
        let client = self.client()?;
        Ok(py.detach(|| client.blocking_lock().get().map(|s| SampleData::of(&s))))
    }

    fn value_of(&self, py: Python<'_>, d: SampleData) -> PyResult<Py<PyAny>> {
        let sample = Sample::new(d, self.ty.clone(), self.key.clone());
        Bound::new(py, sample)?.getattr("value").map(Bound::unbind)
    }
}

#[pymethods]
impl FieldClient {
    /// The current value as a dict, `None` until the owner has set one.
    fn get(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.current(py)? {
            Some(d) => self.value_of(py, d).map(Some),
            None => Ok(None),
        }
    }

    /// The current value as a `Sample` (with its header), `None` until the owner has set one.
    fn sample(&self, py: Python<'_>) -> PyResult<Option<Sample>> {
        Ok(self.current(py)?.map(|d| Sample::new(d, self.ty.clone(), self.key.clone())))
    }

    /// Wait up to `timeout` seconds (`None`: as long as it takes) for a value newer than the
    /// last one this method returned (the first call returns at once if a value is known), and
    /// return it as a dict. `TimeoutError` when none came in time, `ClosedError` once closed.
    #[pyo3(signature = (timeout = None))]
    fn changed(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        let timeout = info::timeout(timeout)?;
        let deadline = timeout.map(|t| Instant::now() + t);
        let client = self.client()?;
        loop {
            self.shared.check_open()?;
            // One short wait at a time, so that `get()` from another thread gets the lock.
            let step = pin!(async {
                let mut c = client.lock().await;
                c.changed().await.map(|s| SampleData::of(&s))
            });
            match self.shared.slice(py, step) {
                Some(Ok(d)) => return self.value_of(py, d),
                Some(Err(_)) => {
                    return Err(Failure::Closed(format!(
                        "the field `{}` has no owner stream any more",
                        self.key
                    ))
                    .into());
                }
                None => {}
            }
            if lock(&self.inner).is_none() {
                return Err(Failure::Closed(format!("the client of field `{}` is closed", self.key)).into());
            }
            if let (Some(t), Some(d)) = (timeout, deadline)
                && Instant::now() >= d
            {
                return Err(Failure::Timeout(format!(
                    "field `{}` did not change within {}",
                    self.key,
                    info::show(t)
                ))
                .into());
            }
            py.check_signals()?;
        }
    }

    /// The client's counters.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let client = self.client()?;
        let stats = py.detach(|| client.blocking_lock().stats());
        info::stats_dict(py, &stats)
    }

    /// Field key.
    #[getter]
    fn key(&self) -> &str {
        &self.key
    }

    /// Schema type name.
    #[getter]
    fn type_name(&self) -> &str {
        &self.ty.name
    }

    /// Stop following the field. Closing twice does nothing.
    fn close(&self, py: Python<'_>) {
        let c = lock(&self.inner).take();
        py.detach(move || drop(c));
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
        format!("<vbus.FieldClient key={:?} type={}>", &*self.key, self.ty.name)
    }
}
