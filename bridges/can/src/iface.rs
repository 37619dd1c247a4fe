//! CAN interfaces behind one trait: SocketCAN, candump replay, and a software bus.

use std::future::Future;

use crate::CanFrame;

/// Why an interface operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CanError {
    /// Opening the interface failed.
    #[error("cannot open {what}: {source}")]
    Open {
        /// Which interface.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Reading or writing failed.
    #[error("{what}: {source}")]
    Io {
        /// Which interface.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Reading a log failed at a line (lines that are not frames are skipped, not errors).
    #[error("{what}: line {line}: {source}")]
    Log {
        /// Which interface (`candump log trip.log`).
        what: String,
        /// 1-based line where reading failed.
        line: usize,
        /// The OS error.
        source: std::io::Error,
    },
    /// The interface cannot send (a log replay).
    #[error("{0} is receive-only")]
    ReadOnly(String),
    /// The frame does not fit the interface (e.g. FD frame on a classic socket).
    #[error("{what}: cannot send {frame}: {reason}")]
    Unsupported {
        /// Which interface.
        what: String,
        /// The frame.
        frame: String,
        /// Why.
        reason: String,
    },
}

/// A CAN interface: receives frames and (unless receive-only) sends them.
///
/// `recv` must be cancel-safe: the bridge selects between it and outgoing frames.
pub trait CanInterface: Send {
    /// The next frame; `Ok(None)` when the source has ended (end of a log).
    fn recv(&mut self) -> impl Future<Output = Result<Option<CanFrame>, CanError>> + Send;
    /// Send one frame.
    fn send(&mut self, frame: &CanFrame) -> impl Future<Output = Result<(), CanError>> + Send;
    /// What this is, for logs and errors (`socketcan can0`, `candump trip.log`, ...).
    fn describe(&self) -> String;
}
