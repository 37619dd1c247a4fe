//! The errors of running the bridge ([`Error`], [`SchemaError`]) and of decoding a log offline
//! ([`DecodeLogError`]).
//!
//! Like [`vbus::Error`], every error's message includes its cause (``bus `pt`: cannot open
//! socketcan can0: No such device (os error 19)``), so printing it once says everything; the
//! cause is also kept, typed, as [`std::error::Error::source`].

use std::path::PathBuf;

use vbus::config::ConfigError;

use crate::CanError;

/// Why the bridge could not start or stopped: [`run`](crate::run),
/// [`BusBridge::new`](crate::BusBridge::new) and [`BusBridge::run`](crate::BusBridge::run).
///
/// Errors of one CAN bus name it (``bus `pt`: ...``), or the file that is wrong (DBC, schema).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid: its file, the field, what was expected and what was found.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// vbus refused an operation of the bridge's node (opening or closing it).
    #[error(transparent)]
    Bus(#[from] vbus::Error),
    /// The configuration of one bus is invalid (e.g. its `priority`), found when its bridge was
    /// made from a [`BusConfig`](crate::config::BusConfig) that [`Config`](crate::Config) did not
    /// check.
    #[error("bus `{bus}`: {source}")]
    BusConfig {
        /// The bus.
        bus: String,
        /// Which field, what was expected and what was found.
        #[source]
        source: ConfigError,
    },
    /// vbus refused an endpoint of one bus' bridge (its write-back subscriber, its schemas).
    #[error("bus `{bus}`: {source}")]
    Endpoint {
        /// The bus.
        bus: String,
        /// vbus' error.
        #[source]
        source: vbus::Error,
    },
    /// The DBC of a bus cannot be read or parsed: the error names the file, and the line and
    /// what the parser expected and found there.
    #[error(transparent)]
    Dbc(#[from] vbus_dbc::LoadError),
    /// The configuration of a bus (timeouts, write-back) names a message its DBC does not have.
    #[error("bus `{bus}`: message `{message}` is not in {}", dbc.display())]
    UnknownMessage {
        /// The bus.
        bus: String,
        /// The message name the configuration gives.
        message: String,
        /// The DBC file.
        dbc: PathBuf,
    },
    /// A write-back alive counter or checksum names a signal its message does not have.
    #[error("bus `{bus}`: {role} signal `{signal}` is not in message `{message}`")]
    UnknownSignal {
        /// The bus.
        bus: String,
        /// `counter` or `checksum`.
        role: &'static str,
        /// The signal name the configuration gives.
        signal: String,
        /// The message.
        message: String,
    },
    /// A write-back checksum signal is not 8 bits on a byte boundary (the bridge writes whole
    /// bytes).
    #[error(
        "bus `{bus}`: checksum signal `{signal}` of `{message}`: expected 8 bits on a byte boundary, \
         found {start_bit}|{length}"
    )]
    ChecksumSignal {
        /// The bus.
        bus: String,
        /// The message.
        message: String,
        /// The signal.
        signal: String,
        /// Its start bit in the DBC.
        start_bit: u16,
        /// Its length in bits.
        length: u8,
    },
    /// The schema (`.bfbs`) configured for a bus cannot be served: the error names the file.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The frame source of a bus (SocketCAN, candump log, software bus) failed to open or read.
    #[error("bus `{bus}`: {source}")]
    Source {
        /// The bus.
        bus: String,
        /// The interface's error.
        #[source]
        source: CanError,
    },
    /// A bus' bridge task panicked or was cancelled.
    #[error("bridge task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// What is wrong with the `.bfbs` a bus is configured to serve (its `schema`), which must be
/// the one vbus-codegen generated from the same DBC. Errors name the file.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The file cannot be read.
    #[error("schema {}: {source}", path.display())]
    Read {
        /// The schema file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a usable reflection schema.
    #[error("schema {}: {source}", path.display())]
    Invalid {
        /// The schema file.
        path: PathBuf,
        /// What vbus-reflect found.
        #[source]
        source: vbus_reflect::Error,
    },
    /// A message's table has another type hash than the DBC gives.
    #[error(
        "schema {}: type `{type_name}` has hash {found:016x}, the DBC gives {expected:016x} \
         (was it generated from another version of the DBC?)",
        path.display()
    )]
    HashMismatch {
        /// The schema file.
        path: PathBuf,
        /// The table.
        type_name: String,
        /// The hash the schema gives.
        found: u64,
        /// The hash of the DBC's message.
        expected: u64,
    },
    /// A message of the DBC has no table in the schema.
    #[error(
        "schema {}: no type `{type_name}` (expected one table per DBC message, as \
         `vbus-codegen dbc FILE --bus NAME` generates)",
        path.display()
    )]
    MissingType {
        /// The schema file.
        path: PathBuf,
        /// The table expected.
        type_name: String,
    },
}

/// Why [`decode_log`](crate::decode_log) failed. Errors name the file.
#[derive(Debug, thiserror::Error)]
pub enum DecodeLogError {
    /// The DBC cannot be read or parsed (the error names the file, and the line).
    #[error(transparent)]
    Dbc(#[from] vbus_dbc::LoadError),
    /// The log cannot be opened.
    #[error("cannot read {}: {source}", path.display())]
    OpenLog {
        /// The log file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Reading the log failed (lines that are not frames are counted, not errors).
    #[error("{}: candump line {line}: read error: {source}", path.display())]
    ReadLog {
        /// The log file.
        path: PathBuf,
        /// 1-based line where reading failed.
        line: usize,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Writing the decoded records failed.
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
}
