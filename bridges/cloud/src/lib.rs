//! # vbus-cloud — the bus to the cloud and back, over MQTT
//!
//! A [`Bridge`] subscribes to selected vbus topics, chooses samples by collection [`rules`]
//! (every sample, periodic downsampling, on change beyond a deadband, windows around a
//! condition), keeps them in a durable on-disk [`store`] until the cloud acknowledged them, and
//! sends them as batches over MQTT (QoS 1, plain TCP or TLS, optionally zstd-compressed) or, with
//! no broker configured, to a local file. Commands from the cloud are checked against an
//! allowlist and delivered as bus service calls; replies and refusals go back to the cloud.
//!
//! - Configuration: [`Config`] (JSON5; the commented default is [`DEFAULT_CONFIG`]).
//! - Cloud-side formats: [`mod@format`] and `FORMAT.md`.
//! - Health and counters: [`Stats`], published on `vbus/<domain>/@bridge/cloud/stats`.
//!
//! ```no_run
//! # async fn run() -> Result<(), vbus_cloud::Error> {
//! let config = vbus_cloud::Config::from_file("cloud.json5")?;
//! let bridge = vbus_cloud::Bridge::start(config).await?;
//! // ... until a signal:
//! let final_stats = bridge.shutdown().await?;
//! # let _ = final_stats; Ok(()) }
//! ```
#![warn(missing_docs)]

mod bridge;
pub mod config;
mod downlink;
pub mod fields;
pub mod format;
pub mod rules;
mod schemas;
mod stats;
pub mod store;
mod uplink;

pub use bridge::Bridge;
pub use config::{Config, DEFAULT_CONFIG};
pub use stats::{CommandStats, Stats, UplinkStats, stats_key};

/// Errors of the bridge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid: where, which field, what was expected and what was found.
    #[error("configuration: {0}")]
    Config(#[from] vbus::ConfigError),
    /// The durable queue failed (open, write, lock).
    #[error("queue: {0}")]
    Store(String),
    /// The bus failed.
    #[error("bus: {0}")]
    Bus(#[from] vbus::Error),
    /// The uplink could not be set up (TLS files, sink file).
    #[error("uplink: {0}")]
    Uplink(String),
}
