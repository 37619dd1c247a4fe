//! The daemon's configuration (JSON5) with an embedded, commented default.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use vbus::config::{ConfigError, ConfigFile, load};

/// The commented default configuration.
pub const DEFAULT_CONFIG: &str = include_str!("../DEFAULT_CONFIG.json5");

/// Bridge configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The bus node's configuration (vbus `NodeConfig` fields).
    #[serde(default = "empty_object")]
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

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
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
    /// The QoS of the topics this bus publishes; the error names the field (`priority`).
    pub fn qos(&self) -> Result<vbus::QoS, ConfigError> {
        let priority = vbus::Priority::parse(&self.priority).ok_or_else(|| {
            ConfigError::at(
                "priority",
                format!(
                    "expected realtime, interactive_high, interactive_low, data_high, data, data_low or \
                     background, found `{}`",
                    self.priority
                ),
            )
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

impl ConfigFile for Config {
    const DEFAULT: &'static str = DEFAULT_CONFIG;

    fn validate(&self) -> Result<(), ConfigError> {
        if self.buses.is_empty() {
            return Err(ConfigError::at("buses", "expected at least one bus, found none"));
        }
        for (i, b) in self.buses.iter().enumerate() {
            let at = |field: &str| format!("buses[{i}].{field}");
            if b.name.is_empty() || b.name.contains(['/', '*', '$', '?', '#', '@']) {
                return Err(ConfigError::at(
                    at("name"),
                    format!("expected one key chunk without wildcards, found `{}`", b.name),
                ));
            }
            if let SourceConfig::Candump { rate, .. } = &b.source
                && !(*rate > 0.0 && rate.is_finite())
            {
                return Err(ConfigError::at(
                    at("source.rate"),
                    format!("expected a positive number, found {rate}"),
                ));
            }
            b.qos().map_err(|e| e.within(&format!("buses[{i}]")))?;
        }
        self.node_config().map(drop)
    }
}

impl Config {
    /// Parse JSON5 over the embedded default (see [`vbus::config::load`]: objects merge, lists
    /// such as `buses` replace); relative paths are resolved against `base`.
    pub fn from_json5(text: &str, base: &Path) -> Result<Self, ConfigError> {
        let mut c: Config = load::from_json5(text)?;
        c.resolve(base);
        Ok(c)
    }

    /// Read a file; relative paths are resolved against its directory; errors name it.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let mut c: Config = load::from_file(path)?;
        c.resolve(path.parent().unwrap_or(Path::new(".")));
        Ok(c)
    }

    fn resolve(&mut self, base: &Path) {
        let rebase = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for b in &mut self.buses {
            rebase(&mut b.dbc);
            if let Some(schema) = b.schema.as_mut() {
                rebase(schema);
            }
            match &mut b.source {
                SourceConfig::Candump { path, .. } => rebase(path),
                SourceConfig::Software { dir } => rebase(dir),
                _ => {}
            }
        }
    }

    /// The same configuration with `node` as its `node` section (a node built with
    /// [`vbus::NodeConfig::named`] and its builder methods), checked again.
    pub fn with_node(mut self, node: &vbus::NodeConfig) -> Result<Self, ConfigError> {
        self.node = node.to_value();
        ConfigFile::validate(&self)?;
        Ok(self)
    }

    /// The vbus node configuration: `node` overlaid on vbus' defaults.
    pub fn node_config(&self) -> Result<vbus::NodeConfig, ConfigError> {
        vbus::NodeConfig::from_value(self.node.clone()).map_err(|e| e.within("node"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_parses() {
        let c = Config::from_json5("{}", Path::new("/etc/vbus")).unwrap();
        assert_eq!(c.buses[0].dbc, Path::new("/etc/vbus/vehicle.dbc"));
        assert_eq!(c.node_config().unwrap().name, "can-bridge");
    }

    #[test]
    fn bad_config_is_explained() {
        let sw = "source: { kind: 'software', dir: 'd' }";
        let cases = [
            ("{ buses: [] }".to_owned(), "at least one"),
            ("{ buses: [{ name: 'a', dbc: 'x', source: { kind: 'usb' } }] }".to_owned(), "usb"),
            (
                format!("{{ buses: [{{ name: 'a/b', dbc: 'x', {sw} }}] }}"),
                "`buses[0].name`: expected one key chunk",
            ),
            ("{ node: { mode: 'satellite' } }".to_owned(), "`node.mode`: unknown variant `satellite`"),
            (
                format!("{{ buses: [{{ name: 'a', dbc: 'x', {sw}, priority: 'urgent' }}] }}"),
                "`buses[0].priority`: expected realtime, interactive_high, interactive_low, data_high, data, \
                 data_low or background, found `urgent`",
            ),
        ];
        for (text, want) in cases {
            let e = Config::from_json5(&text, Path::new(".")).unwrap_err().to_string();
            // The field, when the error names one, starts the message.
            let ok = if want.starts_with('`') { e.starts_with(want) } else { e.contains(want) };
            assert!(ok, "{text}: {e}");
        }
    }
}
