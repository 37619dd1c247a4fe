//! Node configuration (JSON5), with an embedded, commented default, read through [`load`]: the
//! one loader of vbus and its bridges.

use std::{fmt, path::Path};

use serde::{Deserialize, Serialize};

pub mod load;

pub use load::{ConfigError, ConfigFile};

use crate::topic::validate_key;

/// The commented default configuration, as shipped in `DEFAULT_CONFIG.json5`.
pub const DEFAULT_CONFIG: &str = include_str!("../DEFAULT_CONFIG.json5");

/// Role of a node in the zenoh network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Direct peer-to-peer.
    Peer,
    /// Through a router.
    Client,
    /// A router.
    Router,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Peer => "peer",
            Mode::Client => "client",
            Mode::Router => "router",
        })
    }
}

/// Configuration of a [`crate::Node`]. See `DEFAULT_CONFIG.json5` for every field.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Node name, unique within the domain.
    pub name: String,
    /// Domain (vehicle) name: the second key segment.
    pub domain: String,
    /// Network role.
    pub mode: Mode,
    /// Listen endpoints (`None`: per-mode default).
    #[serde(default)]
    pub listen: Option<Vec<String>>,
    /// Connect endpoints (`None`: per-mode default).
    #[serde(default)]
    pub connect: Option<Vec<String>>,
    /// UDP multicast scouting.
    #[serde(default)]
    pub multicast_scouting: bool,
    /// Late-join history query timeout.
    #[serde(default = "default_history_timeout")]
    pub history_timeout_ms: u64,
    /// Largest message this node accepts (bytes); bigger ones are dropped by the transport, so
    /// a hostile or broken peer cannot make it reassemble huge messages.
    #[serde(default = "default_max_message_size")]
    pub max_message_size: u64,
    /// TLS / mutual TLS between nodes (`None`: plain TCP).
    #[serde(default)]
    pub tls: Option<crate::security::TlsConfig>,
    /// Access policy enforced by this node (see [`crate::security`]).
    #[serde(default)]
    pub access: Option<crate::security::AccessPolicy>,
    /// The same-host path: samples to subscribers on this host through shared memory (see
    /// [`crate::LocalPath`]). On by default; `VBUS_SHARED_MEMORY=off` also turns it off.
    #[serde(default = "yes")]
    pub shared_memory: bool,
    /// Raw zenoh configuration merged on top.
    #[serde(default)]
    pub zenoh: serde_json::Map<String, serde_json::Value>,
}

fn yes() -> bool {
    true
}

fn default_history_timeout() -> u64 {
    1000
}

fn default_max_message_size() -> u64 {
    16 * 1024 * 1024
}

/// The default router endpoint on a host.
pub const DEFAULT_ROUTER_ENDPOINT: &str = "tcp/127.0.0.1:7447";

impl Default for NodeConfig {
    fn default() -> Self {
        Self::from_json5("{}").expect("embedded DEFAULT_CONFIG.json5 is valid")
    }
}

impl ConfigFile for NodeConfig {
    const DEFAULT: &'static str = DEFAULT_CONFIG;

    fn validate(&self) -> Result<(), ConfigError> {
        NodeConfig::validate(self)
    }
}

impl NodeConfig {
    /// The default configuration with another name: the start of the builder, e.g.
    /// `NodeConfig::named("ecu").domain("car1").listen(["tcp/127.0.0.1:0"]).connect([ep])`.
    /// Nothing is checked until [`crate::Node::open`] (or [`NodeConfig::validate`]).
    pub fn named(name: &str) -> Self {
        Self { name: name.to_owned(), ..Self::default() }
    }

    /// Builder: the domain.
    pub fn domain(mut self, domain: &str) -> Self {
        self.domain = domain.to_owned();
        self
    }

    /// Builder: the network role.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Builder: listen endpoints (an empty list listens nowhere).
    pub fn listen<S: Into<String>>(mut self, endpoints: impl IntoIterator<Item = S>) -> Self {
        self.listen = Some(endpoints.into_iter().map(Into::into).collect());
        self
    }

    /// Builder: connect endpoints (an empty list connects nowhere).
    pub fn connect<S: Into<String>>(mut self, endpoints: impl IntoIterator<Item = S>) -> Self {
        self.connect = Some(endpoints.into_iter().map(Into::into).collect());
        self
    }

    /// Builder: TLS between nodes.
    pub fn tls(mut self, tls: crate::security::TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Builder: the access policy this node enforces.
    pub fn access(mut self, policy: crate::security::AccessPolicy) -> Self {
        self.access = Some(policy);
        self
    }

    /// Builder: UDP multicast scouting on or off (off by default: vbus finds peers through
    /// explicit endpoints).
    pub fn multicast_scouting(mut self, on: bool) -> Self {
        self.multicast_scouting = on;
        self
    }

    /// Builder: the same-host path on or off.
    pub fn shared_memory(mut self, on: bool) -> Self {
        self.shared_memory = on;
        self
    }

    /// Builder: the late-join history query timeout.
    pub fn history_timeout_ms(mut self, ms: u64) -> Self {
        self.history_timeout_ms = ms;
        self
    }

    /// Builder: the largest message this node accepts.
    pub fn max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Builder: one raw zenoh configuration value merged on top, at a key or `/` path (e.g.
    /// `"transport/link/tx/batch_size"`), as in the `zenoh` field of the JSON5 file.
    pub fn zenoh(mut self, key: &str, value: serde_json::Value) -> Self {
        self.zenoh.insert(key.to_owned(), value);
        self
    }

    /// This configuration as the JSON value a file would hold, e.g. for the `node` section of a
    /// bridge's configuration (`vbus_can::Config::with_node`, `vbus_cloud::Config::with_node`).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a NodeConfig is plain data")
    }

    /// Parse JSON5 text. Missing fields take the defaults of `DEFAULT_CONFIG.json5` (objects
    /// merge field by field, see [`load`]).
    pub fn from_json5(text: &str) -> Result<Self, ConfigError> {
        load::from_json5(text)
    }

    /// Read and parse a JSON5 file; errors name the file and the field.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        load::from_file(path)
    }

    /// A node configuration already parsed, e.g. the `node` section of a bridge's file (errors
    /// name the field from that section: prefix them with [`ConfigError::within`]).
    pub fn from_value(value: serde_json::Value) -> Result<Self, ConfigError> {
        load::from_value(value)
    }

    /// Check names and endpoints.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (what, v) in [("name", &self.name), ("domain", &self.domain)] {
            validate_key(v).map_err(|e| ConfigError::at(what, e))?;
            if v.contains('/') {
                return Err(ConfigError::at(
                    what,
                    format!("expected a single key chunk, found `{v}` with `/`"),
                ));
            }
        }
        if let Some(a) = &self.access {
            a.validate().map_err(|e| ConfigError::at("access", e))?;
        }
        if let Some(t) = &self.tls {
            if t.cert.is_some() != t.key.is_some() {
                return Err(ConfigError::at("tls", "expected both `cert` and `key`, found only one"));
            }
            for (field, f) in [("ca", Some(&t.ca)), ("cert", t.cert.as_ref()), ("key", t.key.as_ref())] {
                if let Some(f) = f.filter(|f| !Path::new(f).is_file()) {
                    return Err(ConfigError::at(
                        format!("tls.{field}"),
                        format!("file `{f}` does not exist"),
                    ));
                }
            }
        }
        for (field, eps) in [("listen", &self.listen), ("connect", &self.connect)] {
            for (i, ep) in eps.iter().flatten().enumerate() {
                if !ep.contains('/') {
                    return Err(ConfigError::at(
                        format!("{field}[{i}]"),
                        format!("expected `<protocol>/<address>`, e.g. `tcp/127.0.0.1:7447`, found `{ep}`"),
                    ));
                }
                // TLS fails closed: with `tls` set, a plaintext endpoint is a mistake unless it is
                // named as allowed.
                if let Some(t) = &self.tls
                    && !ep.starts_with("tls/")
                    && !t.plaintext_allowed.contains(ep)
                {
                    return Err(ConfigError::at(
                        format!("{field}[{i}]"),
                        format!(
                            "expected a `tls/...` endpoint because `tls` is set, found `{ep}`, which is \
                             not encrypted (list it in `tls.plaintext_allowed` to allow it anyway)"
                        ),
                    ));
                }
            }
        }
        if let Some(t) = &self.tls {
            for (i, ep) in t.plaintext_allowed.iter().enumerate() {
                if ep.starts_with("tls/") {
                    return Err(ConfigError::at(
                        format!("tls.plaintext_allowed[{i}]"),
                        format!("expected a plaintext endpoint to allow, found the TLS endpoint `{ep}`"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Listen endpoints after per-mode defaults (`tls/` ones when TLS is on).
    pub fn effective_listen(&self) -> Vec<String> {
        self.listen.clone().unwrap_or_else(|| match self.mode {
            Mode::Peer => vec![self.secured("tcp/127.0.0.1:0")],
            Mode::Router => vec![self.secured(DEFAULT_ROUTER_ENDPOINT)],
            Mode::Client => vec![],
        })
    }

    /// Connect endpoints after per-mode defaults (`tls/` ones when TLS is on).
    pub fn effective_connect(&self) -> Vec<String> {
        self.connect.clone().unwrap_or_else(|| match self.mode {
            Mode::Peer | Mode::Client => vec![self.secured(DEFAULT_ROUTER_ENDPOINT)],
            Mode::Router => vec![],
        })
    }

    /// A default endpoint over TLS when TLS is on: `tcp/a:p` becomes `tls/a:p`.
    fn secured(&self, tcp: &str) -> String {
        match (&self.tls, tcp.strip_prefix("tcp/")) {
            (Some(_), Some(addr)) => format!("tls/{addr}"),
            _ => tcp.to_owned(),
        }
    }

    /// Whether every link of this node is encrypted (TLS on, no endpoint allowed in plaintext);
    /// what the node's open log line says.
    pub fn links_encrypted(&self) -> bool {
        self.effective_listen().iter().chain(&self.effective_connect()).all(|e| e.starts_with("tls/"))
            && self.tls.is_some()
    }

    /// Whether this node tries the same-host path: `shared_memory`, unless the environment
    /// says `VBUS_SHARED_MEMORY=off` (or `0`, `false`), and never on a secured node (TLS or an
    /// access policy): identities and the policy are enforced on zenoh links, by certificate,
    /// and shared memory carries no identity, so a secured node neither reads nor writes it.
    pub fn wants_shared_memory(&self) -> bool {
        let env_off = std::env::var("VBUS_SHARED_MEMORY")
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "off" | "0" | "false" | "no"));
        self.shared_memory && !env_off && self.access.is_none() && self.tls.is_none()
    }

    /// The zenoh configuration this node opens its session with.
    pub fn to_zenoh(&self) -> Result<zenoh::Config, ConfigError> {
        let mut c = zenoh::Config::default();
        let mut set = |k: &str, v: serde_json::Value| {
            c.insert_json5(k, &v.to_string())
                .map_err(|e| ConfigError::at("zenoh", format!("zenoh option `{k}` = {v}: {e}")))
        };
        set("mode", serde_json::json!(self.mode.to_string()))?;
        set("listen/endpoints", serde_json::json!(self.effective_listen()))?;
        set("connect/endpoints", serde_json::json!(self.effective_connect()))?;
        set("scouting/multicast/enabled", serde_json::json!(self.multicast_scouting))?;
        // Peers learn about each other through the router's gossip; with only loopback endpoints
        // this never leaves the host.
        set("scouting/gossip/enabled", serde_json::json!(true))?;
        // A peer whose router is not up yet must still open, and connect later.
        if self.mode != Mode::Client {
            set("connect/timeout_ms", serde_json::json!(0))?;
            set("connect/exit_on_failure", serde_json::json!(false))?;
        }
        set("transport/link/rx/max_message_size", serde_json::json!(self.max_message_size))?;
        if let Some(t) = &self.tls {
            set("transport/link/tls/root_ca_certificate", serde_json::json!(t.ca))?;
            set("transport/link/tls/enable_mtls", serde_json::json!(t.mutual))?;
            if let (Some(cert), Some(key)) = (&t.cert, &t.key) {
                for side in ["listen", "connect"] {
                    set(&format!("transport/link/tls/{side}_certificate"), serde_json::json!(cert))?;
                    set(&format!("transport/link/tls/{side}_private_key"), serde_json::json!(key))?;
                }
            }
        }
        if let Some(a) = &self.access {
            set("access_control", a.to_zenoh_acl(&self.domain))?;
        }
        for (k, v) in &self.zenoh {
            merge_into(&mut set, k, v)?;
        }
        Ok(c)
    }
}

/// Insert `v` at `path`, descending into objects so that `{a: {b: 1}}` sets only `a/b`.
fn merge_into(
    set: &mut impl FnMut(&str, serde_json::Value) -> Result<(), ConfigError>,
    path: &str,
    v: &serde_json::Value,
) -> Result<(), ConfigError> {
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => {
            for (k, sub) in m {
                merge_into(set, &format!("{path}/{k}"), sub)?;
            }
            Ok(())
        }
        other => set(path, other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_parses() {
        let c = NodeConfig::default();
        assert_eq!(c.mode, Mode::Peer);
        assert!(!c.multicast_scouting);
        assert_eq!(c.effective_listen(), vec!["tcp/127.0.0.1:0".to_string()]);
        c.to_zenoh().expect("default maps onto zenoh");
    }

    #[test]
    fn the_builder_and_the_file_agree() {
        let built = NodeConfig::named("ecu1")
            .domain("car7")
            .mode(Mode::Client)
            .listen(Vec::<String>::new())
            .connect(["tcp/127.0.0.1:7448"])
            .shared_memory(false)
            .history_timeout_ms(250)
            .zenoh("transport/link/tx/batch_size", serde_json::json!(8192));
        let parsed = NodeConfig::from_json5(
            "{ name: 'ecu1', domain: 'car7', mode: 'client', listen: [], connect: ['tcp/127.0.0.1:7448'],
               shared_memory: false, history_timeout_ms: 250,
               zenoh: { 'transport/link/tx/batch_size': 8192 } }",
        )
        .unwrap();
        assert_eq!(format!("{built:?}"), format!("{parsed:?}"));
        built.validate().unwrap();
        built.to_zenoh().unwrap();
        let round_trip = NodeConfig::from_value(built.to_value()).unwrap();
        assert_eq!(format!("{round_trip:?}"), format!("{built:?}"));
        let bad = NodeConfig::named("ecu1").connect(["127.0.0.1:7447"]).validate().unwrap_err().to_string();
        assert!(bad.contains("<protocol>/<address>"), "{bad}");
    }

    #[test]
    fn partial_file_overlays_defaults() {
        let c = NodeConfig::from_json5("{ name: 'ecu1', mode: 'router' }").unwrap();
        assert_eq!(c.name, "ecu1");
        assert_eq!(c.domain, "vehicle");
        assert_eq!(c.effective_listen(), vec![DEFAULT_ROUTER_ENDPOINT.to_string()]);
    }

    #[test]
    fn bad_config_says_what_and_where() {
        let e = NodeConfig::from_json5("{ mode: 'satellite' }").unwrap_err().to_string();
        assert!(e.contains("satellite"), "{e}");
        let e = NodeConfig::from_json5("{ nmae: 'x' }").unwrap_err().to_string();
        assert!(e.contains("nmae"), "{e}");
        let e = NodeConfig::from_json5("{ name: 'a/b' }").unwrap_err().to_string();
        assert!(e.contains("single key chunk"), "{e}");
        let e = NodeConfig::from_json5("{ connect: ['127.0.0.1:7447'] }").unwrap_err().to_string();
        assert!(e.contains("<protocol>/<address>"), "{e}");
        let e = NodeConfig::from_json5("[1]").unwrap_err().to_string();
        assert!(e.contains("found an array"), "{e}");
        let e = NodeConfig::from_json5("{ name: ").unwrap_err().to_string();
        assert!(e.contains("expected valid JSON5"), "{e}");
        let e = NodeConfig::from_json5("{ connect: ['tcp/127.0.0.1:1', 'x'] }").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("connect[1]"), "{e}");
        let e = NodeConfig::from_json5("{ tls: { ca: 7 } }").unwrap_err();
        assert!(e.to_string().starts_with("`tls.ca`: invalid type"), "{e}");
        let e = NodeConfig::from_json5("{ zenoh: { mode: 'nonsense' } }").unwrap().to_zenoh().unwrap_err();
        assert!(e.to_string().contains("mode"), "{e}");
    }

    /// A TLS configuration whose files exist (validation checks them).
    fn tls_config(dir: &std::path::Path) -> crate::security::TlsConfig {
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, "not read by validation").unwrap();
        crate::security::TlsConfig {
            ca: ca.display().to_string(),
            cert: None,
            key: None,
            mutual: true,
            plaintext_allowed: Vec::new(),
        }
    }

    #[test]
    fn tls_fails_closed_on_plaintext_endpoints() {
        let dir = std::env::temp_dir().join(format!("vbus-tls-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let tls = tls_config(&dir);
        // The defaults follow TLS: nothing left on plain tcp by accident.
        let c = NodeConfig::named("ecu").tls(tls.clone());
        c.validate().unwrap();
        assert_eq!(c.effective_listen(), ["tls/127.0.0.1:0"]);
        assert_eq!(c.effective_connect(), ["tls/127.0.0.1:7447"]);
        assert!(c.links_encrypted());
        let router = NodeConfig::named("gw").mode(Mode::Router).tls(tls.clone());
        assert_eq!(router.effective_listen(), ["tls/127.0.0.1:7447"]);
        // A plaintext endpoint is refused, by name and place.
        let e =
            NodeConfig::named("ecu").tls(tls.clone()).connect(["tcp/127.0.0.1:7447"]).validate().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("connect[0]"));
        assert!(e.to_string().contains("found `tcp/127.0.0.1:7447`, which is not encrypted"), "{e}");
        let e = NodeConfig::named("ecu")
            .tls(tls.clone())
            .listen(["tls/127.0.0.1:0", "tcp/127.0.0.1:9000"])
            .validate()
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("listen[1]"));
        // ... unless it is named as allowed; the node then does not claim encrypted links.
        let allowed = crate::security::TlsConfig {
            plaintext_allowed: vec!["tcp/127.0.0.1:9000".into()],
            ..tls.clone()
        };
        let c = NodeConfig::named("ecu").tls(allowed).listen(["tls/127.0.0.1:0", "tcp/127.0.0.1:9000"]);
        c.validate().unwrap();
        assert!(!c.links_encrypted());
        let wrong = crate::security::TlsConfig { plaintext_allowed: vec!["tls/127.0.0.1:1".into()], ..tls };
        let e = NodeConfig::named("ecu").tls(wrong).validate().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("tls.plaintext_allowed[0]"));
        // Without TLS, nothing changes.
        let plain = NodeConfig::named("ecu");
        assert_eq!(plain.effective_connect(), ["tcp/127.0.0.1:7447"]);
        assert!(!plain.links_encrypted());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
