//! Failures of the bindings, and the Python exceptions they become.
//!
//! The exception classes are defined in Python (`vbus/_errors.py`), where one class can have two
//! bases (`vbus.TimeoutError` is also the builtin `TimeoutError`). A failure is a plain Rust
//! value until it reaches the interpreter, so it can be made while detached from it (on the
//! runtime, in a tokio task). Messages are the library's, verbatim.

use pyo3::{
    PyErr, Python,
    exceptions::{PyRuntimeError, PyValueError},
    types::{PyAnyMethods, PyType},
};

/// Why an operation failed; each variant is one Python exception class.
#[derive(Debug, Clone)]
pub enum Failure {
    /// `vbus.ConfigError`: the node configuration or an option (QoS) is invalid.
    Config(String),
    /// `vbus.InvalidKey`: a topic or service key is invalid.
    Key(String),
    /// `vbus.SchemaError`: no schema, an invalid one, or a type it lacks.
    Schema(String),
    /// `vbus.PayloadError`: a value that does not match the schema, bytes that are not one.
    Payload(String),
    /// `vbus.TimeoutError`: nothing within the timeout.
    Timeout(String),
    /// `vbus.ClosedError`: the node or the endpoint is closed.
    Closed(String),
    /// `vbus.CallError`: a service call failed.
    Call(String),
    /// `vbus.CallTimeout`: no reply within the call's timeout.
    CallTimeout(String),
    /// `vbus.CallTypeMismatch`: the reply has another type hash than the reply type.
    CallTypeMismatch(String),
    /// `vbus.AccessDenied`: the node's access policy forbids it.
    Access(String),
    /// `vbus.TransportError`: zenoh (or the shared-memory path) refused it.
    Transport(String),
    /// The builtin `ValueError`: an argument that is not a vbus concept (a negative timeout).
    Value(String),
}

pub type Result<T, E = Failure> = std::result::Result<T, E>;

impl Failure {
    fn parts(self) -> (&'static str, String) {
        match self {
            Self::Config(m) => ("ConfigError", m),
            Self::Key(m) => ("InvalidKey", m),
            Self::Schema(m) => ("SchemaError", m),
            Self::Payload(m) => ("PayloadError", m),
            Self::Timeout(m) => ("TimeoutError", m),
            Self::Closed(m) => ("ClosedError", m),
            Self::Call(m) => ("CallError", m),
            Self::CallTimeout(m) => ("CallTimeout", m),
            Self::CallTypeMismatch(m) => ("CallTypeMismatch", m),
            Self::Access(m) => ("AccessDenied", m),
            Self::Transport(m) => ("TransportError", m),
            Self::Value(m) => ("ValueError", m),
        }
    }

    /// The Python exception.
    pub fn into_pyerr(self, py: Python<'_>) -> PyErr {
        let (class, message) = self.parts();
        if class == "ValueError" {
            return PyValueError::new_err(message);
        }
        let ty = py
            .import("vbus._errors")
            .and_then(|m| m.getattr(class))
            .and_then(|t| t.cast_into::<PyType>().map_err(PyErr::from));
        match ty {
            Ok(ty) => PyErr::from_type(ty, (message,)),
            // The extension imported without its package: still an exception with the message.
            Err(_) => PyRuntimeError::new_err(message),
        }
    }
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> Self {
        Python::attach(|py| f.into_pyerr(py))
    }
}

impl From<vbus::Error> for Failure {
    fn from(e: vbus::Error) -> Self {
        let m = e.to_string();
        match e {
            vbus::Error::Config(_) => Self::Config(m),
            vbus::Error::Key(_) => Self::Key(m),
            vbus::Error::AccessDenied(_) => Self::Access(m),
            vbus::Error::Transport { .. } | vbus::Error::SharedMemory { .. } => Self::Transport(m),
        }
    }
}

impl From<vbus::ConfigError> for Failure {
    fn from(e: vbus::ConfigError) -> Self {
        Self::Config(e.to_string())
    }
}

impl From<vbus::PublishError> for Failure {
    fn from(e: vbus::PublishError) -> Self {
        let m = e.to_string();
        match e {
            vbus::PublishError::InvalidPayload { .. } => Self::Payload(m),
            vbus::PublishError::AccessDenied { .. } => Self::Access(m),
            vbus::PublishError::Transport { .. } => Self::Transport(m),
        }
    }
}

impl From<vbus::CallError> for Failure {
    fn from(e: vbus::CallError) -> Self {
        let m = e.to_string();
        match e {
            vbus::CallError::Timeout { .. } => Self::CallTimeout(m),
            vbus::CallError::TypeMismatch { .. } => Self::CallTypeMismatch(m),
            vbus::CallError::InvalidRequest { .. } => Self::Payload(m),
            vbus::CallError::NoServer { .. }
            | vbus::CallError::Refused { .. }
            | vbus::CallError::InvalidReply { .. }
            | vbus::CallError::Transport { .. } => Self::Call(m),
        }
    }
}

impl From<vbus_reflect::Error> for Failure {
    fn from(e: vbus_reflect::Error) -> Self {
        let m = e.to_string();
        match e {
            vbus_reflect::Error::Schema(_)
            | vbus_reflect::Error::UnknownType { .. }
            | vbus_reflect::Error::NotATable(_) => Self::Schema(m),
            vbus_reflect::Error::InvalidPayload { .. } | vbus_reflect::Error::Json { .. } => Self::Payload(m),
        }
    }
}
