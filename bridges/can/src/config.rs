//! The daemon's configuration (JSON5) with an embedded, commented default.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::Deserialize;

/// The commented default configuration.
pub const DEFAULT_CONFIG: &str = include_str!("../DEFAULT_CONFIG.json5");

/// Bridge configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The bus node's configuration (vbus `NodeConfig` fields).
    #[serde(default)]
    pub node: serde_json::Value,
    /// The CAN buses.
    pub buses: Vec<BusConfig>,
    /// Stats publication period.
    #[serde(default = "default_stats_period")]
    pub stats_period_ms: u64,
    /// Exit when every replay source has ended.
    #[serde(default)]
    pub exit_at_end: bool,
}

fn default_stats_period() -> u64 {
    1000
}

/// One CAN bus.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusConfig {
    /// Key segment.
    pub name: String,
    /// DBC file.
    pub dbc: PathBuf,
    /// The `.bfbs` vbus-codegen generated from the same DBC (`vbus-codegen dbc`): when set, the
    /// bridge serves each message's schema so that tools decode its topics without compiled types.
    #[serde(default)]
    pub schema: Option<PathBuf>,
    /// Frame source and sink.
    pub source: SourceConfig,
    /// Per-message timeouts (ms) by message name.
    #[serde(default)]
    pub timeouts_ms: BTreeMap<String, u64>,
    /// Write-back policy.
    #[serde(default)]
    pub write_back: WriteBack,
    /// Queue-full policy for the published topics: `drop` (default; CAN data is periodic and the
    /// next frame supersedes) or `block` (nothing lost; a slow subscriber slows the bridge).
    #[serde(default)]
    pub congestion: CongestionConfig,
    /// zenoh priority of the published topics (`realtime`, `data`, ...; default `data_high`).
    #[serde(default = "default_priority")]
    pub priority: String,
}

fn default_priority() -> String {
    "data_high".into()
}

/// Congestion policy spelling in the config.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CongestionConfig {
    /// Drop.
    #[default]
    Drop,
    /// Block.
    Block,
}

impl BusConfig {
    /// The QoS of the topics this bus publishes.
    pub fn qos(&self) -> Result<vbus::QoS, String> {
        let priority = vbus::Priority::parse(&self.priority).ok_or_else(|| {
            format!("bus `{}`: priority `{}`: expected realtime, interactive_high, interactive_low, data_high, data, data_low or background", self.name, self.priority)
        })?;
        let congestion = match self.congestion {
            CongestionConfig::Drop => vbus::Congestion::Drop,
            CongestionConfig::Block => vbus::Congestion::Block,
        };
        Ok(vbus::QoS::new().priority(priority).congestion(congestion))
    }
}

/// Where frames come from.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceConfig {
    /// Linux SocketCAN.
    Socketcan {
        /// Interface name.
        interface: String,
    },
    /// candump log replay.
    Candump {
        /// Log file.
        path: PathBuf,
        /// Pace by the capture's timestamps.
        #[serde(default = "yes")]
        realtime: bool,
        /// Speed factor.
        #[serde(default = "one")]
        rate: f64,
        /// Loop at the end.
        #[serde(default, rename = "loop")]
        looped: bool,
    },
    /// Software bus directory.
    Software {
        /// Directory of the bus' endpoints.
        dir: PathBuf,
    },
}

fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}

/// Bus -> CAN write-back policy.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteBack {
    /// Messages that may be written.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Alive counter signal per message.
    #[serde(default)]
    pub counters: BTreeMap<String, String>,
    /// Checksum per message.
    #[serde(default)]
    pub checksums: BTreeMap<String, ChecksumConfig>,
}

/// A checksum signal and its algorithm.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksumConfig {
    /// The checksum signal (8 bits, byte-aligned).
    pub signal: String,
    /// The algorithm.
    pub algorithm: crate::checksum::Algorithm,
}

impl Config {
    /// Parse JSON5; relative paths are resolved against `base`.
    pub fn from_json5(text: &str, base: &Path) -> Result<Self, String> {
        let mut c: Config =
            json5::from_str(text).map_err(|e| format!("invalid bridge configuration: {e}"))?;
        for b in &mut c.buses {
            if b.dbc.is_relative() {
                b.dbc = base.join(&b.dbc);
            }
            if let Some(schema) = b.schema.as_mut().filter(|s| s.is_relative()) {
                *schema = base.join(&*schema);
            }
            match &mut b.source {
                SourceConfig::Candump { path, rate, .. } => {
                    if path.is_relative() {
                        *path = base.join(&*path);
                    }
                    if !(*rate > 0.0 && rate.is_finite()) {
                        return Err(format!(
                            "bus `{}`: source.rate must be a positive number, found {rate}",
                            b.name
                        ));
                    }
                }
                SourceConfig::Software { dir } if dir.is_relative() => *dir = base.join(&*dir),
                _ => {}
            }
            b.qos()?;
            if b.name.is_empty() || b.name.contains(['/', '*', '$', '?', '#', '@']) {
                return Err(format!("bus name `{}`: expected one key chunk without wildcards", b.name));
            }
        }
        if c.buses.is_empty() {
            return Err("expected at least one entry in `buses`, found none".into());
        }
        Ok(c)
    }

    /// Read a file; errors name it.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_json5(&text, base).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The vbus node configuration: `node` overlaid on vbus' defaults.
    pub fn node_config(&self) -> Result<vbus::NodeConfig, String> {
        let text = if self.node.is_null() { "{}".to_string() } else { self.node.to_string() };
        vbus::NodeConfig::from_json5(&text).map_err(|e| format!("node: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_parses() {
        let c = Config::from_json5(DEFAULT_CONFIG, Path::new("/etc/vbus")).unwrap();
        assert_eq!(c.buses[0].dbc, Path::new("/etc/vbus/vehicle.dbc"));
        assert_eq!(c.node_config().unwrap().name, "can-bridge");
    }

    #[test]
    fn bad_config_is_explained() {
        let e = Config::from_json5("{ buses: [] }", Path::new(".")).unwrap_err();
        assert!(e.contains("at least one"), "{e}");
        let e = Config::from_json5(
            "{ buses: [{ name: 'a', dbc: 'x', source: { kind: 'usb' } }] }",
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.contains("usb"), "{e}");
        let e = Config::from_json5(
            "{ buses: [{ name: 'a/b', dbc: 'x', source: { kind: 'software', dir: 'd' } }] }",
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.contains("one key chunk"), "{e}");
    }
}
