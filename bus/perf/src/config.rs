//! Session configurations: the same endpoints and overrides for vbus and raw zenoh.
//!
//! Every session is a peer on explicit `127.0.0.1` endpoints with multicast scouting off, so no
//! benchmark traffic leaves the loopback interface.

use vbus::zenoh;

/// Where a session listens and connects, plus raw zenoh overrides (`path=json` pairs, e.g.
/// `transport/link/tx/queue/batching/enabled=false`) applied to both stacks.
#[derive(Clone, Debug, Default)]
pub struct Net {
    /// Listen endpoint (`tcp/127.0.0.1:0` for an ephemeral port), or none.
    pub listen: Option<String>,
    /// Endpoint to connect to, or none.
    pub connect: Option<String>,
    /// zenoh configuration overrides, applied last.
    pub zset: Vec<(String, serde_json::Value)>,
    /// vbus without its same-host shared-memory path.
    pub zenoh_only: bool,
}

/// Parse `path=json5-ish value` (JSON; a bare word is taken as a string).
pub fn parse_zset(s: &str) -> Result<(String, serde_json::Value), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("expected `path=value`, found `{s}`"))?;
    let v = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_owned()));
    Ok((k.trim_matches('/').to_owned(), v))
}

/// Refuse anything but loopback endpoints: benchmark traffic must never leave the host.
pub fn check_loopback(ep: &str) -> Result<(), String> {
    let addr = ep.split_once('/').map(|(_, a)| a).unwrap_or(ep);
    let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(addr);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_loopback() => Ok(()),
        _ => Err(format!("endpoint `{ep}`: only loopback addresses (127.0.0.0/8, ::1) are allowed")),
    }
}

impl Net {
    fn endpoints(&self) -> Result<(Vec<String>, Vec<String>), String> {
        for ep in self.listen.iter().chain(&self.connect) {
            check_loopback(ep)?;
        }
        Ok((self.listen.iter().cloned().collect(), self.connect.iter().cloned().collect()))
    }

    /// A vbus node configuration named `name` in the benchmark domain.
    pub fn vbus(&self, name: &str) -> Result<vbus::NodeConfig, String> {
        let (listen, connect) = self.endpoints()?;
        let cfg = vbus::NodeConfig::named(name)
            .domain(crate::payload::DOMAIN)
            .mode(vbus::Mode::Peer)
            .multicast_scouting(false)
            .listen(listen)
            .connect(connect)
            .shared_memory(!self.zenoh_only);
        Ok(self.zset.iter().fold(cfg, |cfg, (k, v)| cfg.zenoh(k, v.clone())))
    }

    /// A raw zenoh configuration: zenoh's defaults, peer mode, the same endpoints, multicast
    /// scouting off, then the overrides.
    pub fn zenoh(&self) -> Result<zenoh::Config, String> {
        let (listen, connect) = self.endpoints()?;
        let mut c = zenoh::Config::default();
        let mut set = |k: &str, v: serde_json::Value| {
            c.insert_json5(k, &v.to_string()).map_err(|e| format!("zenoh option `{k}` = {v}: {e}"))
        };
        set("mode", serde_json::json!("peer"))?;
        set("listen/endpoints", serde_json::json!(listen))?;
        set("connect/endpoints", serde_json::json!(connect))?;
        set("scouting/multicast/enabled", serde_json::json!(false))?;
        for (k, v) in &self.zset {
            set(k, v.clone())?;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_endpoints_pass() {
        assert!(check_loopback("tcp/127.0.0.1:7447").is_ok());
        assert!(check_loopback("tcp/127.0.0.1:0").is_ok());
        assert!(check_loopback("udp/[::1]:1").is_ok());
        assert!(check_loopback("tcp/10.0.0.1:7447").is_err());
        assert!(check_loopback("tcp/localhost:7447").is_err());
        let net = Net { connect: Some("tcp/192.168.1.2:7447".into()), ..Net::default() };
        assert!(net.zenoh().is_err());
        assert!(net.vbus("x").is_err());
    }

    #[test]
    fn overrides_parse_as_json_or_string() {
        assert_eq!(parse_zset("a/b=true").unwrap(), ("a/b".into(), serde_json::json!(true)));
        assert_eq!(parse_zset("/a/b/=3").unwrap(), ("a/b".into(), serde_json::json!(3)));
        assert_eq!(parse_zset("m=init").unwrap(), ("m".into(), serde_json::json!("init")));
        assert!(parse_zset("novalue").is_err());
        let net = Net {
            listen: Some("tcp/127.0.0.1:0".into()),
            zset: vec![parse_zset("transport/link/tx/queue/batching/enabled=false").unwrap()],
            ..Net::default()
        };
        net.zenoh().unwrap();
        net.vbus("x").unwrap().to_zenoh().unwrap();
    }
}
