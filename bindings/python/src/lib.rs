//! # vbus-python — the `vbus` Python package's extension module (`vbus._vbus`)
//!
//! Python programs join the bus with the library itself: a `vbus.Node` opens a `vbus::Node`
//! on a tokio runtime of its own, and every endpoint is one of the library's run-time-typed
//! ones (`Node::dyn_publisher`, `dyn_subscriber`, `dyn_field_owner`, `dyn_field_client`,
//! `dyn_service_client`) with a `vbus::TypeInfo` whose verifier is `vbus_reflect::verify` over
//! the type's `.bfbs`. Values are dicts, encoded and decoded through that schema
//! (`vbus_reflect::encode_from_json`, `decode_to_json`). The schema is given, or fetched from the
//! node that serves it, as the `vbus` command-line tool does.
//!
//! Blocking calls release the GIL and wait in short slices between which signals are handled,
//! so Ctrl-C interrupts them. Nothing panics on user input: every failure becomes an exception of
//! the package's hierarchy (`vbus/_errors.py`) with the library's message.

mod call;
mod convert;
mod error;
mod field;
mod info;
mod node;
mod pubsub;
mod types;

use pyo3::prelude::*;

/// The extension module; the `vbus` package re-exports it.
#[pymodule]
fn _vbus(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<node::Node>()?;
    m.add_class::<pubsub::Subscriber>()?;
    m.add_class::<pubsub::Publisher>()?;
    m.add_class::<pubsub::Sample>()?;
    m.add_class::<field::FieldOwner>()?;
    m.add_class::<field::FieldClient>()?;
    m.add("DEFAULT_CONFIG", vbus::DEFAULT_CONFIG)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
