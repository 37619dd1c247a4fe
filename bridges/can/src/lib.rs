//! # vbus-can: CAN buses on the vbus
//!
//! Every frame a DBC knows becomes a typed sample on `can/<bus>/<Message>` (the table that
//! `vbus-codegen` generates from the same DBC, type hash included), stamped with the CAN
//! timestamp as source time. Unknown IDs and decode errors are counted per ID and logged at a
//! bounded rate; messages that stop arriving raise timeout events. Bus -> CAN writes go through
//! an allowlist, with alive counters and checksums filled in.
//!
//! Frames come from interfaces behind one trait, [`CanInterface`]: [`SocketCan`] (Linux,
//! classic + FD), [`CandumpReplay`] (candump logs, real-time or as fast as possible) and
//! [`SoftwareBus`] (a bus shared by processes on one host, for tests and demos).
//!
//! The daemon `vbus-can` is a thin `main.rs` over [`run`]; `vbus-can decode` prints a log
//! decoded in the reference decoder's JSON format (see [`decode_log`]).
//!
//! Errors are typed, one enum per kind of operation: [`Error`] (running the bridge, with
//! [`SchemaError`]), [`DecodeLogError`], [`CanError`] (the interfaces),
//! [`table::TableError`], and [`vbus::config::ConfigError`] from [`Config`]. Each keeps its cause
//! as [`std::error::Error::source`], and, like [`vbus::Error`], includes it in its message, which
//! says what was expected, what was found and where (file, line, bus, message).
#![warn(missing_docs)]

mod bridge;
pub mod checksum;
pub mod config;
mod error;
mod frame;
mod iface;
mod replay;
mod socketcan;
mod software;
pub mod table;

use std::{io::Write, path::Path, time::Duration};

pub use bridge::{BusBridge, BusStats};
pub use config::{Config, DEFAULT_CONFIG};
pub use error::{DecodeLogError, Error, SchemaError};
pub use frame::CanFrame;
pub use iface::{CanError, CanInterface};
pub use replay::{CandumpReplay, Pacing};
pub use socketcan::SocketCan;
pub use software::SoftwareBus;

/// Run the bridge for every configured bus until `shutdown` resolves (or, with
/// `exit_at_end`, every replay has ended). Returns each bus' final counters; the first error of
/// any bus stops every bus.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<Vec<BusStats>, Error> {
    let node = vbus::Node::open(config.node_config()?).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let period = Duration::from_millis(config.stats_period_ms.max(10));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, bus) in config.buses.iter().cloned().enumerate() {
        let bridge = BusBridge::new(node.clone(), bus.clone())?;
        let stop = stop_rx.clone();
        let exit = config.exit_at_end;
        let source = bus.source.clone();
        tasks.spawn(async move {
            let opened = |source| Error::Source { bus: bus.name.clone(), source };
            let r = match source {
                config::SourceConfig::Socketcan { interface } => {
                    bridge.run(SocketCan::open(&interface).map_err(opened)?, period, exit, stop).await
                }
                config::SourceConfig::Candump { path, realtime, rate, looped } => {
                    let iface =
                        CandumpReplay::open(&path, Pacing { realtime, rate, looped }).map_err(opened)?;
                    bridge.run(iface, period, exit, stop).await
                }
                config::SourceConfig::Software { dir } => {
                    bridge.run(SoftwareBus::join(&dir).map_err(opened)?, period, exit, stop).await
                }
            };
            r.map(|s| (i, s))
        });
    }
    let mut results = Vec::new();
    tokio::pin!(shutdown);
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = &mut shutdown, if !stopping => {
                stopping = true;
                let _ = stop_tx.send(true);
            }
            done = tasks.join_next() => match done {
                None => break,
                Some(Ok(Ok(r))) => results.push(r),
                Some(Ok(Err(e))) => {
                    let _ = stop_tx.send(true);
                    return Err(e);
                }
                Some(Err(e)) => return Err(Error::Task(e)),
            },
        }
    }
    results.sort_by_key(|r| r.0);
    node.close().await?;
    Ok(results.into_iter().map(|r| r.1).collect())
}

/// Summary counts of an offline decode, printed to stderr like the reference decoder's.
#[derive(Debug, Default, serde::Serialize, PartialEq, Eq)]
pub struct DecodeSummary {
    /// Lines that parsed as data frames.
    pub frames: u64,
    /// Frames with an ID the DBC does not know.
    pub unknown_id: u64,
    /// Frames decoded.
    pub decoded: u64,
    /// Frames of known IDs that failed to decode.
    pub decode_error: u64,
    /// Lines that could not be parsed.
    pub unparsed: u64,
}

/// Decode a candump log with a DBC, writing one JSON line per frame to `out` in the format of
/// the reference decoder (`oracle.py`; `emit_errors` adds its error records). Errors name the
/// unreadable file; lines that are not frames are counted ([`DecodeSummary::unparsed`]).
pub fn decode_log(
    dbc: &Path,
    log: &Path,
    emit_errors: bool,
    out: &mut impl Write,
) -> Result<DecodeSummary, DecodeLogError> {
    let db = vbus_dbc::Database::from_file(dbc)?;
    let plan = db.decode_plan();
    let reader = vbus_dbc::candump::Reader::open(log)
        .map_err(|source| DecodeLogError::OpenLog { path: log.to_owned(), source })?;
    let mut summary = DecodeSummary::default();
    let mut line = String::new();
    for item in reader {
        let frame = match item {
            Ok(f) => f,
            Err(e) => match e.kind {
                vbus_dbc::candump::LogErrorKind::Line(_) => {
                    summary.unparsed += 1;
                    continue;
                }
                vbus_dbc::candump::LogErrorKind::Io(source) => {
                    return Err(DecodeLogError::ReadLog { path: log.to_owned(), line: e.line, source });
                }
            },
        };
        summary.frames += 1;
        line.clear();
        match vbus_dbc::oracle::write_record(&plan, &frame, emit_errors, &mut line) {
            vbus_dbc::oracle::Outcome::Decoded => summary.decoded += 1,
            vbus_dbc::oracle::Outcome::Error => summary.decode_error += 1,
            vbus_dbc::oracle::Outcome::UnknownId => summary.unknown_id += 1,
        }
        if !line.is_empty() {
            line.push('\n');
            out.write_all(line.as_bytes()).map_err(DecodeLogError::Output)?;
        }
    }
    Ok(summary)
}
