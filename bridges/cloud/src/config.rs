//! Bridge configuration (JSON5) with an embedded, commented default.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};
use vbus::{
    NodeConfig,
    config::{ConfigError, ConfigFile, load},
};

/// The commented default configuration, as shipped in `DEFAULT_CONFIG.json5`.
pub const DEFAULT_CONFIG: &str = include_str!("../DEFAULT_CONFIG.json5");

/// The whole configuration; see `DEFAULT_CONFIG.json5` for every field.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The vbus node (vbus `NodeConfig` fields, overlaid on vbus's defaults).
    pub node: Map<String, Value>,
    /// Vehicle name in the cloud; `None`: the node's domain.
    pub vehicle_id: Option<String>,
    /// MQTT broker; `host: None` selects the file sink.
    pub mqtt: MqttConfig,
    /// The local sink used without a broker.
    pub file_sink: FileSinkConfig,
    /// Batching and compression.
    pub uplink: UplinkConfig,
    /// The durable queue.
    pub queue: QueueConfig,
    /// Collection rules.
    pub rules: Vec<RuleConfig>,
    /// Downlink commands.
    pub commands: CommandsConfig,
    /// Period of the stats publication.
    pub stats_period_ms: u64,
    /// Delivery time allowed at shutdown.
    pub shutdown_grace_ms: u64,
}

/// MQTT connection settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// Broker host; `None` means no broker (file sink).
    pub host: Option<String>,
    /// Broker port.
    pub port: u16,
    /// Client id; `None`: `vbus-cloud-<vehicle>`.
    pub client_id: Option<String>,
    /// User name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// MQTT keep-alive.
    pub keep_alive_s: u64,
    /// First topic level.
    pub topic_prefix: String,
    /// Unacknowledged uplink batches at once.
    pub max_inflight: u16,
    /// First reconnect delay.
    pub reconnect_min_ms: u64,
    /// Longest reconnect delay.
    pub reconnect_max_ms: u64,
    /// TLS; `None`: plain TCP.
    pub tls: Option<TlsConfig>,
}

/// TLS settings (rustls).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of trusted roots; `None`: the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain (mutual TLS).
    #[serde(default)]
    pub client_cert_file: Option<PathBuf>,
    /// PEM client private key (mutual TLS).
    #[serde(default)]
    pub client_key_file: Option<PathBuf>,
}

/// The file sink.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// File batches are appended to.
    pub path: PathBuf,
}

/// Batch compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Plain JSON.
    None,
    /// One zstd frame per batch.
    Zstd,
}

/// Batching and compression.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UplinkConfig {
    /// Batch compression.
    pub compression: Compression,
    /// zstd level (1..=22).
    pub zstd_level: i32,
    /// Samples per batch at most.
    pub batch_max_samples: usize,
    /// Payload bytes per batch at most (before encoding).
    pub batch_max_bytes: usize,
}

/// The durable queue.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// SQLite database file.
    pub path: PathBuf,
    /// Bound on queued bytes (payload + metadata).
    pub max_bytes: u64,
    /// Samples per write transaction at most.
    pub commit_max_samples: usize,
    /// Bus subscriber queue depth.
    pub bus_queue: usize,
}

/// How a rule selects samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleMode {
    /// Every sample.
    All,
    /// Latest sample per key, once per period.
    Periodic,
    /// When a numeric field moves beyond a deadband.
    OnChange,
    /// Around the times a condition holds.
    Window,
}

impl RuleMode {
    /// The configuration spelling.
    pub fn name(self) -> &'static str {
        match self {
            RuleMode::All => "all",
            RuleMode::Periodic => "periodic",
            RuleMode::OnChange => "on_change",
            RuleMode::Window => "window",
        }
    }
}

/// A comparison operator of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Op {
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    /// Apply the comparison.
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// A trigger condition: `field` of samples on `key` compared with `value`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Key expression of the samples evaluated.
    pub key: String,
    /// Dotted path to a numeric field.
    pub field: String,
    /// Comparison.
    pub op: Op,
    /// Threshold.
    pub value: f64,
}

/// One collection rule. Which fields apply depends on `mode` (checked by [`Config::validate`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique name.
    pub name: String,
    /// Key expression, relative to the domain.
    pub keys: String,
    /// Selection mode.
    pub mode: RuleMode,
    /// 0 = most important.
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// `periodic`: the period.
    #[serde(default)]
    pub period_ms: Option<u64>,
    /// `on_change`: the field compared.
    #[serde(default)]
    pub field: Option<String>,
    /// `on_change`: the deadband.
    #[serde(default)]
    pub deadband: Option<f64>,
    /// `window`: the trigger.
    #[serde(default)]
    pub condition: Option<Condition>,
    /// `window`: time kept before the trigger.
    #[serde(default)]
    pub before_ms: Option<u64>,
    /// `window`: time sent after the condition last held.
    #[serde(default)]
    pub after_ms: Option<u64>,
    /// `window`: samples kept for `before_ms` at most.
    #[serde(default)]
    pub max_buffer: Option<usize>,
}

fn default_priority() -> u8 {
    5
}

/// Downlink commands.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandsConfig {
    /// The allowlist.
    pub allow: Vec<AllowedCommand>,
    /// Commands executing at once.
    pub max_concurrent: usize,
    /// Call timeout when neither the entry nor the command gives one.
    pub default_timeout_ms: u64,
}

/// One allowed service.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedCommand {
    /// Service key (exact).
    pub service: String,
    /// Pinned request type hash, 16 hex digits.
    #[serde(default)]
    pub request_type_hash: Option<String>,
    /// Call timeout.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Self::from_json5("{}").expect("embedded DEFAULT_CONFIG.json5 is valid")
    }
}

impl ConfigFile for Config {
    const DEFAULT: &'static str = DEFAULT_CONFIG;

    fn validate(&self) -> Result<(), ConfigError> {
        Config::validate(self)
    }
}

impl Config {
    /// Parse JSON5 text, overlaid on the embedded default (see [`vbus::config::load`]), and
    /// validate it.
    pub fn from_json5(text: &str) -> Result<Self, ConfigError> {
        load::from_json5(text)
    }

    /// Read and parse a JSON5 file; errors name the file and the field.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        load::from_file(path)
    }

    /// The same configuration with `node` as its `node` section (a node built with
    /// [`NodeConfig::named`] and its builder methods), checked again.
    pub fn with_node(mut self, node: &NodeConfig) -> Result<Self, ConfigError> {
        let Value::Object(node) = node.to_value() else { unreachable!("a NodeConfig is an object") };
        self.node = node;
        Config::validate(&self)?;
        Ok(self)
    }

    /// The vbus node configuration (the `node` section over vbus's defaults).
    pub fn node_config(&self) -> Result<NodeConfig, ConfigError> {
        NodeConfig::from_value(Value::Object(self.node.clone())).map_err(|e| e.within("node"))
    }

    /// The vehicle id: `vehicle_id`, else the node's domain.
    pub fn vehicle(&self) -> Result<String, ConfigError> {
        match &self.vehicle_id {
            Some(v) => Ok(v.clone()),
            None => Ok(self.node_config()?.domain),
        }
    }

    /// Check everything serde cannot: ranges, rule fields per mode, key expressions.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let node = self.node_config()?;
        let bad = |field: &str, m: String| Err(ConfigError::at(field, m));
        let vehicle = self.vehicle()?;
        if vehicle.is_empty() || vehicle.contains(['/', '+', '#']) {
            return bad("vehicle_id", format!("expected one MQTT topic level, found `{vehicle}`"));
        }
        let m = &self.mqtt;
        if m.topic_prefix.is_empty() || m.topic_prefix.contains(['+', '#']) {
            return bad(
                "mqtt.topic_prefix",
                format!("expected topic levels without wildcards, found `{}`", m.topic_prefix),
            );
        }
        if m.max_inflight == 0 {
            return bad("mqtt.max_inflight", "expected at least 1, found 0".into());
        }
        if m.reconnect_min_ms == 0 || m.reconnect_max_ms < m.reconnect_min_ms {
            return bad(
                "mqtt.reconnect_min_ms",
                format!(
                    "expected 0 < reconnect_min_ms <= reconnect_max_ms, found {} and {}",
                    m.reconnect_min_ms, m.reconnect_max_ms
                ),
            );
        }
        if let Some(tls) = &m.tls
            && tls.client_cert_file.is_some() != tls.client_key_file.is_some()
        {
            return bad(
                "mqtt.tls",
                "`client_cert_file` and `client_key_file` go together, found only one".into(),
            );
        }
        if !(1..=22).contains(&self.uplink.zstd_level) {
            return bad("uplink.zstd_level", format!("expected 1..=22, found {}", self.uplink.zstd_level));
        }
        if self.uplink.batch_max_samples == 0 {
            return bad("uplink.batch_max_samples", "expected at least 1, found 0".into());
        }
        if self.uplink.batch_max_bytes == 0 {
            return bad("uplink.batch_max_bytes", "expected at least 1, found 0".into());
        }
        if self.queue.max_bytes < 4096 {
            return bad("queue.max_bytes", format!("expected at least 4096, found {}", self.queue.max_bytes));
        }
        if self.queue.commit_max_samples == 0 {
            return bad("queue.commit_max_samples", "expected at least 1, found 0".into());
        }
        if self.queue.bus_queue == 0 {
            return bad("queue.bus_queue", "expected at least 1, found 0".into());
        }
        if self.stats_period_ms == 0 {
            return bad("stats_period_ms", "expected at least 1, found 0".into());
        }
        if self.rules.is_empty() {
            return bad("rules", "expected at least one rule (nothing would be sent), found none".into());
        }
        let mut names = std::collections::HashSet::new();
        for (i, r) in self.rules.iter().enumerate() {
            let at = |field: &str| format!("rules[{i}].{field}");
            let ctx = format!("rule `{}`", r.name);
            if !names.insert(r.name.as_str()) {
                return bad(&at("name"), format!("{ctx}: duplicate name"));
            }
            check_key_expr(&node.domain, &r.keys)
                .map_err(|e| ConfigError::at(at("keys"), format!("{ctx}: {e}")))?;
            let given = [
                ("period_ms", r.period_ms.is_some()),
                ("field", r.field.is_some()),
                ("deadband", r.deadband.is_some()),
                ("condition", r.condition.is_some()),
                ("before_ms", r.before_ms.is_some()),
                ("after_ms", r.after_ms.is_some()),
                ("max_buffer", r.max_buffer.is_some()),
            ];
            let (required, allowed): (&[&str], &[&str]) = match r.mode {
                RuleMode::All => (&[], &[]),
                RuleMode::Periodic => (&["period_ms"], &["period_ms"]),
                RuleMode::OnChange => (&["field", "deadband"], &["field", "deadband"]),
                RuleMode::Window => (&["condition"], &["condition", "before_ms", "after_ms", "max_buffer"]),
            };
            for (name, present) in given {
                if required.contains(&name) && !present {
                    return bad(&at(name), format!("{ctx}: mode {} needs `{name}`", r.mode.name()));
                }
                if present && !allowed.contains(&name) {
                    return bad(
                        &at(name),
                        format!("{ctx}: `{name}` does not apply to mode {}", r.mode.name()),
                    );
                }
            }
            if r.period_ms == Some(0) {
                return bad(&at("period_ms"), format!("{ctx}: expected at least 1, found 0"));
            }
            if let Some(d) = r.deadband.filter(|d| !(*d >= 0.0 && d.is_finite())) {
                return bad(&at("deadband"), format!("{ctx}: expected a finite number >= 0, found {d}"));
            }
            if let Some(f) = &r.field {
                check_field_path(f).map_err(|e| ConfigError::at(at("field"), format!("{ctx}: {e}")))?;
            }
            if let Some(c) = &r.condition {
                check_key_expr(&node.domain, &c.key)
                    .map_err(|e| ConfigError::at(at("condition.key"), format!("{ctx}: {e}")))?;
                check_field_path(&c.field)
                    .map_err(|e| ConfigError::at(at("condition.field"), format!("{ctx}: {e}")))?;
                if !c.value.is_finite() {
                    return bad(
                        &at("condition.value"),
                        format!("{ctx}: expected a finite number, found {}", c.value),
                    );
                }
            }
        }
        let mut services = std::collections::HashSet::new();
        for (i, a) in self.commands.allow.iter().enumerate() {
            let at = |field: &str| format!("commands.allow[{i}].{field}");
            if a.service.is_empty() || a.service.contains(['*', '$', '?', '#']) {
                return bad(&at("service"), format!("expected an exact service key, found `{}`", a.service));
            }
            if !services.insert(a.service.as_str()) {
                return bad(&at("service"), format!("`{}` listed twice", a.service));
            }
            if let Some(h) = &a.request_type_hash {
                parse_hash(h).map_err(|e| ConfigError::at(at("request_type_hash"), e))?;
            }
        }
        if self.commands.max_concurrent == 0 {
            return bad("commands.max_concurrent", "expected at least 1, found 0".into());
        }
        Ok(())
    }
}

fn check_key_expr(domain: &str, expr: &str) -> Result<(), String> {
    if expr.is_empty() {
        return Err("expected a key expression, found an empty string".into());
    }
    if expr.split('/').any(|c| c.starts_with('@')) {
        return Err(format!("`{expr}`: `@` chunks are vbus's own keys, not topics"));
    }
    let full = vbus::wire::data_key(domain, expr);
    vbus::zenoh::key_expr::KeyExpr::try_from(full.as_str())
        .map(|_| ())
        .map_err(|e| format!("`{expr}` is not a valid key expression: {e}"))
}

fn check_field_path(path: &str) -> Result<(), String> {
    if path.split('.').any(|s| s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) {
        return Err(format!("expected a dotted path of field names like `engine.temp`, found `{path}`"));
    }
    Ok(())
}

/// Parse a 64-bit hash written as 16 hex digits (an optional `0x` prefix is accepted).
pub fn parse_hash(s: &str) -> Result<u64, String> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    if digits.is_empty() || digits.len() > 16 {
        return Err(format!("expected up to 16 hex digits, found `{s}`"));
    }
    u64::from_str_radix(digits, 16).map_err(|_| format!("expected hex digits, found `{s}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_parses() {
        let c = Config::default();
        assert!(c.mqtt.host.is_none(), "the default runs without a broker");
        assert_eq!(c.node_config().unwrap().name, "vbus-cloud");
        assert_eq!(c.vehicle().unwrap(), "vehicle");
        assert_eq!(c.rules.len(), 1);
        assert_eq!(c.rules[0].mode, RuleMode::All);
        assert_eq!(c.uplink.compression, Compression::None);
    }

    #[test]
    fn file_overlays_nested_objects() {
        let c = Config::from_json5(
            "{ node: { domain: 'car1' }, mqtt: { host: '127.0.0.1', tls: {} }, uplink: { compression: 'zstd' } }",
        )
        .unwrap();
        assert_eq!(c.vehicle().unwrap(), "car1");
        assert_eq!(c.node_config().unwrap().name, "vbus-cloud");
        assert_eq!(c.mqtt.port, 1883);
        assert!(c.mqtt.tls.is_some());
        assert_eq!(c.uplink.compression, Compression::Zstd);
        assert_eq!(c.uplink.zstd_level, 3);
    }

    #[test]
    fn bad_config_says_what_and_where() {
        let err = |t: &str| Config::from_json5(t).unwrap_err().to_string();
        assert!(err("{ mqtt: { hots: 'x' } }").contains("hots"));
        assert!(err("{ uplink: { compression: 'lz4' } }").contains("lz4"));
        assert!(err("{ rules: [] }").contains("at least one rule"));
        let e = err("{ rules: [{ name: 'a', keys: '**', mode: 'periodic' }] }");
        assert!(e.contains("rule `a`") && e.contains("needs `period_ms`"), "{e}");
        let e = err("{ rules: [{ name: 'a', keys: '**', mode: 'all', deadband: 1 }] }");
        assert!(e.contains("`deadband` does not apply to mode all"), "{e}");
        let e = err("{ rules: [{ name: 'a', keys: 'a/@x', mode: 'all' }] }");
        assert!(e.contains("`@` chunks"), "{e}");
        let e = err("{ rules: [{ name: 'a', keys: 'a//b', mode: 'all' }] }");
        assert!(e.contains("not a valid key expression"), "{e}");
        let e = err(
            "{ rules: [{ name: 'w', keys: '**', mode: 'window', condition: { key: 's', field: 'kph', op: '=>', value: 1 } }] }",
        );
        assert!(e.contains("=>"), "{e}");
        let e = err("{ rules: [{ name: 'c', keys: '**', mode: 'on_change', field: 'a..b', deadband: 1 }] }");
        assert!(e.contains("dotted path"), "{e}");
        assert!(err("{ commands: { allow: [{ service: 'a/*' }] } }").contains("exact service key"));
        assert!(err("{ commands: { allow: [{ service: 'a', request_type_hash: 'xyz' }] } }").contains("hex"));
        assert!(err("{ node: { mode: 'satellite' } }").contains("satellite"));
        assert!(err("{ vehicle_id: 'a/b' }").contains("one MQTT topic level"));
        assert!(err("{ mqtt: ").contains("expected valid JSON5"));
        assert!(err("[1]").contains("top level"));
        assert!(err("{ mqtt: { tls: { client_cert_file: 'c.pem' } } }").contains("go together"));
    }
}
