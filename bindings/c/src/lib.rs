//! The C API of vbus (`include/vbus.h`, generated from this crate by cbindgen).
//!
//! Every function returns a [`vbus_status`]; on failure [`vbus_last_error`] gives the message
//! (what was expected, what was found, where). Nothing panics across the boundary: a panic
//! inside is caught and returned as [`vbus_status::VBUS_ERR_INTERNAL`].
//!
//! Handles (`vbus_node`, `vbus_publisher`, ...) are small structs holding an id into a registry,
//! so that a handle used after it was closed, or a handle of another kind, is reported as
//! [`vbus_status::VBUS_ERR_INVALID_HANDLE`] instead of touching freed memory. Handles may be
//! copied and used from any thread unless a function says otherwise; the endpoints behind them
//! are the library's own (same QoS, checks, counters and data paths as Rust programs).
#![allow(non_camel_case_types)]
// Every `extern "C"` function checks its pointers before use; the `unsafe` is in the helpers.
#![allow(clippy::missing_safety_doc)]

mod api;
mod registry;
mod types;

pub use api::*;
pub use types::*;

use std::{
    cell::RefCell,
    ffi::{CStr, CString, c_char},
    panic::{AssertUnwindSafe, catch_unwind},
    sync::OnceLock,
};

/// What a function returned. `VBUS_OK` is 0; every other value is an error whose message
/// [`vbus_last_error`] gives.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum vbus_status {
    /// Success.
    VBUS_OK = 0,
    /// A required pointer argument was NULL.
    VBUS_ERR_NULL = 1,
    /// An argument is invalid: not UTF-8, a bad key, a QoS value out of range, a payload that
    /// does not verify as the type.
    VBUS_ERR_INVALID_ARGUMENT = 2,
    /// The handle is unknown: closed already, never opened, or of another kind.
    VBUS_ERR_INVALID_HANDLE = 3,
    /// The node configuration is invalid (the message names the file and the field).
    VBUS_ERR_CONFIG = 4,
    /// The transport (zenoh) or the same-host path failed.
    VBUS_ERR_TRANSPORT = 5,
    /// Nothing arrived within the timeout.
    VBUS_ERR_TIMEOUT = 6,
    /// The endpoint or its node is closed: nothing more will arrive.
    VBUS_ERR_CLOSED = 7,
    /// The node's access policy forbids it.
    VBUS_ERR_ACCESS_DENIED = 8,
    /// No server answers the service.
    VBUS_ERR_NO_SERVER = 9,
    /// The server refused the request (the message is its reason).
    VBUS_ERR_REFUSED = 10,
    /// The peer sent another type (type hash mismatch).
    VBUS_ERR_TYPE_MISMATCH = 11,
    /// The field has no value yet.
    VBUS_ERR_NO_VALUE = 12,
    /// A buffer given by the caller is too small (the message says the size needed).
    VBUS_ERR_BUFFER_TOO_SMALL = 13,
    /// A bug inside vbus (a caught panic); the message says where.
    VBUS_ERR_INTERNAL = 14,
}

/// An error on its way to the caller: the status and the message for [`vbus_last_error`].
pub(crate) struct Failure {
    pub(crate) status: vbus_status,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: vbus_status, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(vbus_status::VBUS_ERR_INVALID_ARGUMENT, message)
    }
}

impl From<vbus_rs::Error> for Failure {
    fn from(e: vbus_rs::Error) -> Self {
        use vbus_rs::Error as E;
        let status = match &e {
            E::Config(_) => vbus_status::VBUS_ERR_CONFIG,
            E::Key(_) => vbus_status::VBUS_ERR_INVALID_ARGUMENT,
            E::AccessDenied(_) => vbus_status::VBUS_ERR_ACCESS_DENIED,
            _ => vbus_status::VBUS_ERR_TRANSPORT,
        };
        Self::new(status, e.to_string())
    }
}

impl From<vbus_rs::PublishError> for Failure {
    fn from(e: vbus_rs::PublishError) -> Self {
        use vbus_rs::PublishError as E;
        let status = match &e {
            E::InvalidPayload { .. } => vbus_status::VBUS_ERR_INVALID_ARGUMENT,
            E::AccessDenied { .. } => vbus_status::VBUS_ERR_ACCESS_DENIED,
            _ => vbus_status::VBUS_ERR_TRANSPORT,
        };
        Self::new(status, e.to_string())
    }
}

impl From<vbus_rs::CallError> for Failure {
    fn from(e: vbus_rs::CallError) -> Self {
        use vbus_rs::CallError as E;
        let status = match &e {
            E::NoServer { .. } => vbus_status::VBUS_ERR_NO_SERVER,
            E::Timeout { .. } => vbus_status::VBUS_ERR_TIMEOUT,
            E::Refused { .. } => vbus_status::VBUS_ERR_REFUSED,
            E::TypeMismatch { .. } => vbus_status::VBUS_ERR_TYPE_MISMATCH,
            E::InvalidRequest { .. } => vbus_status::VBUS_ERR_INVALID_ARGUMENT,
            _ => vbus_status::VBUS_ERR_TRANSPORT,
        };
        Self::new(status, e.to_string())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // Interior NULs cannot be shown in a C string: replace them.
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Run the body of an API function: its error (or a panic) becomes the status and the
/// thread's last error.
pub(crate) fn ffi(f: impl FnOnce() -> Result<(), Failure>) -> vbus_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => vbus_status::VBUS_OK,
        Ok(Err(failure)) => {
            set_last_error(&failure.message);
            failure.status
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!("internal error in vbus (please report): {what}"));
            vbus_status::VBUS_ERR_INTERNAL
        }
    }
}

/// The runtime every node of this process runs on (2 worker threads named `vbus-c`).
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("vbus-c")
            .enable_all()
            .build()
            .expect("start the vbus runtime")
    })
}

/// Wait for `fut` on the runtime. Refused on the runtime's own threads (a callback), where
/// waiting would stall the bus.
pub(crate) fn block_on<F: std::future::Future>(what: &str, fut: F) -> Result<F::Output, Failure> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Failure::invalid(format!(
            "{what}: this function waits, and cannot be called from a vbus callback (call it from \
             another thread)"
        )));
    }
    Ok(runtime().block_on(fut))
}

/// A NUL-terminated UTF-8 string argument.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::new(
            vbus_status::VBUS_ERR_NULL,
            format!("{what}: expected a string, found NULL"),
        ));
    }
    // SAFETY: the caller passes a NUL-terminated string (documented for every parameter).
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|e| {
        Failure::invalid(format!(
            "{what}: expected UTF-8, found an invalid byte at offset {} ({:?})",
            e.valid_up_to(),
            String::from_utf8_lossy(c.to_bytes())
        ))
    })
}

/// A byte buffer argument (`data` may be NULL only when `len` is 0).
pub(crate) unsafe fn bytes_arg<'a>(data: *const u8, len: usize, what: &str) -> Result<&'a [u8], Failure> {
    if data.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(Failure::new(
            vbus_status::VBUS_ERR_NULL,
            format!("{what}: expected {len} bytes, found NULL"),
        ));
    }
    // SAFETY: the caller passes `len` readable bytes at `data` (documented).
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// An out-pointer must not be NULL: checked before any work whose result it would lose (a
/// taken sample, a request).
pub(crate) fn check_out<T>(p: *mut T, what: &str) -> Result<(), Failure> {
    if p.is_null() {
        return Err(Failure::new(
            vbus_status::VBUS_ERR_NULL,
            format!("{what}: expected an out-pointer, found NULL"),
        ));
    }
    Ok(())
}

/// Store `value` through an out-pointer.
pub(crate) unsafe fn out<T>(p: *mut T, what: &str, value: T) -> Result<(), Failure> {
    check_out(p, what)?;
    // SAFETY: non-null, and the caller passes a writable `T` (documented).
    unsafe { p.write(value) };
    Ok(())
}

/// Read a struct argument; `None` when the pointer is NULL (optional arguments).
pub(crate) unsafe fn opt_arg<'a, T>(p: *const T) -> Option<&'a T> {
    // SAFETY: the caller passes a valid `T` or NULL (documented).
    unsafe { p.as_ref() }
}

/// The message of the last error on the calling thread (empty if none yet). The pointer stays
/// valid until the next vbus call on this thread. Thread-safe: each thread has its own.
#[unsafe(no_mangle)]
pub extern "C" fn vbus_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The version of this library (`"0.1.0"`), a static string. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vbus_version() -> *const c_char {
    static V: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };
    V.as_ptr()
}
