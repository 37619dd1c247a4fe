//! Transport security (TLS, mutual TLS) and access policy: who may publish, serve and subscribe.
//!
//! The policy is enforced by zenoh's access control on every router and peer that loads it,
//! keyed on the certificate common name (CN) each node presents over mutual TLS: a node cannot
//! publish on a key it is not allowed to, whatever its application does. A node that loads the
//! policy also checks its own publishers, so a refused publish is an error the application sees
//! ([`crate::PublishError::AccessDenied`]) and counts, instead of a sample silently dropped by the
//! router.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::wire;

/// TLS settings of a node. With TLS configured, endpoints use `tls/<address>:<port>`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the certificate authority that signs every node's certificate.
    pub ca: String,
    /// PEM certificate of this node; its CN is the node's identity in access policies.
    #[serde(default)]
    pub cert: Option<String>,
    /// PEM (PKCS#8) private key of `cert`.
    #[serde(default)]
    pub key: Option<String>,
    /// Require the other side of every link to present a certificate signed by `ca`.
    #[serde(default = "yes")]
    pub mutual: bool,
    /// Endpoints (exactly as in `listen` / `connect`) that may stay unencrypted although TLS is
    /// on, e.g. a diagnostic port on loopback. Every other endpoint of a TLS node must be
    /// `tls/...`: a `tcp/...` one is refused at start, naming it. Empty by default.
    #[serde(default)]
    pub plaintext_allowed: Vec<String>,
}

fn yes() -> bool {
    true
}

/// Who may do what on which keys. Keys are relative to the domain and may use zenoh wildcards.
///
/// ```json5
/// access: {
///   // every identity (certificate CN) of the vehicle; unknown certificates get nothing
///   nodes: ["chassis", "cockpit", "infotainment", "gateway"],
///   topics: [
///     { key: "chassis/**", publishers: ["chassis"] },
///     { key: "body/set_drive_mode", publishers: ["chassis"] },   // serving a service = publishing it
///     { key: "diag/**", publishers: ["gateway"], subscribers: ["gateway"] },
///   ],
/// }
/// ```
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AccessPolicy {
    /// Every node identity allowed on the bus at all.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Restricted keys. Keys not listed are open to every known node.
    #[serde(default)]
    pub topics: Vec<TopicRule>,
}

/// Restriction of one key expression.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TopicRule {
    /// Key expression relative to the domain.
    pub key: String,
    /// Nodes allowed to publish on it, or to serve it (service keys).
    pub publishers: Vec<String>,
    /// Nodes allowed to subscribe to it or call it; `None`: every known node.
    #[serde(default)]
    pub subscribers: Option<Vec<String>>,
}

impl AccessPolicy {
    /// A policy from codegen's `TOPIC_PUBLISHERS` table (`(key, allowed publishers)`), for the
    /// given set of node identities.
    pub fn from_publishers(nodes: &[&str], table: &[(&str, &[&str])]) -> Self {
        Self {
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            topics: table
                .iter()
                .filter(|(_, p)| !p.is_empty())
                .map(|(k, p)| TopicRule {
                    key: k.to_string(),
                    publishers: p.iter().map(|s| s.to_string()).collect(),
                    subscribers: None,
                })
                .collect(),
        }
    }

    /// Every identity the policy knows: `nodes` plus anyone named in a rule.
    pub fn identities(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .nodes
            .iter()
            .chain(self.topics.iter().flat_map(|t| t.publishers.iter().chain(t.subscribers.iter().flatten())))
            .cloned()
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Whether `node` may publish on (or serve) the concrete key `key`.
    pub fn may_publish(&self, node: &str, key: &str) -> bool {
        self.rules_for(key).all(|r| r.publishers.iter().any(|p| p == node))
    }

    /// Whether `node` may subscribe to (or call) the concrete key `key`.
    pub fn may_subscribe(&self, node: &str, key: &str) -> bool {
        self.rules_for(key).all(|r| r.subscribers.as_ref().is_none_or(|s| s.iter().any(|p| p == node)))
    }

    fn rules_for<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a TopicRule> + 'a {
        self.topics.iter().filter(move |r| {
            match (
                zenoh::key_expr::KeyExpr::try_from(r.key.as_str()),
                zenoh::key_expr::KeyExpr::try_from(key),
            ) {
                (Ok(a), Ok(b)) => a.intersects(&b),
                _ => false,
            }
        })
    }

    /// Check keys and names; errors say which rule is wrong.
    pub fn validate(&self) -> Result<(), String> {
        for (i, r) in self.topics.iter().enumerate() {
            zenoh::key_expr::KeyExpr::try_from(r.key.as_str())
                .map_err(|e| format!("access.topics[{i}].key `{}`: {e}", r.key))?;
            if r.publishers.is_empty() {
                return Err(format!(
                    "access.topics[{i}] (`{}`): expected at least one publisher; to forbid a key to everyone, list a node that never runs",
                    r.key
                ));
            }
        }
        Ok(())
    }

    /// The zenoh `access_control` section enforcing this policy for `domain`.
    ///
    /// Default deny: identities not in the policy can do nothing. Each known identity may do
    /// everything under `vbus/<domain>/` (and vbus' `@` keys) except what a rule reserves for
    /// others: publishing/serving (`put`, `delete`, `declare_queryable`, `reply`) and, where
    /// `subscribers` is given, subscribing/calling (`declare_subscriber`, `query`).
    pub fn to_zenoh_acl(&self, domain: &str) -> Value {
        let base = format!("{}/{domain}", wire::KEY_PREFIX);
        let all_keys: Vec<String> = ["**", "@node/**", "@pub/**", "@sub/**", "@schema/**", "**/@history"]
            .iter()
            .map(|k| format!("{base}/{k}"))
            .collect();
        let mut rules = vec![json!({
            "id": "vbus-base",
            "permission": "allow",
            "flows": ["ingress", "egress"],
            "messages": ["put", "delete", "declare_subscriber", "query", "declare_queryable", "reply",
                         "liveliness_token", "declare_liveliness_subscriber", "liveliness_query"],
            "key_exprs": all_keys,
        })];
        let mut subjects = Vec::new();
        let mut policies = Vec::new();
        for (n, id) in self.identities().iter().enumerate() {
            subjects.push(json!({ "id": format!("node-{n}"), "cert_common_names": [id] }));
            let mut node_rules = vec![json!("vbus-base")];
            let no_pub: Vec<String> = self
                .topics
                .iter()
                .filter(|r| !r.publishers.contains(id))
                .flat_map(|r| [format!("{base}/{}", r.key), format!("{base}/{}/@history", r.key)])
                .collect();
            if !no_pub.is_empty() {
                rules.push(json!({
                    "id": format!("deny-pub-{n}"),
                    "permission": "deny",
                    "flows": ["ingress"],
                    "messages": ["put", "delete", "declare_queryable", "reply"],
                    "key_exprs": no_pub,
                }));
                node_rules.push(json!(format!("deny-pub-{n}")));
            }
            let no_sub: Vec<String> = self
                .topics
                .iter()
                .filter(|r| r.subscribers.as_ref().is_some_and(|s| !s.contains(id)))
                .map(|r| format!("{base}/{}", r.key))
                .collect();
            if !no_sub.is_empty() {
                rules.push(json!({
                    "id": format!("deny-sub-{n}"),
                    "permission": "deny",
                    "flows": ["ingress"],
                    "messages": ["declare_subscriber", "query"],
                    "key_exprs": no_sub,
                }));
                node_rules.push(json!(format!("deny-sub-{n}")));
            }
            policies.push(json!({ "id": format!("policy-{n}"), "rules": node_rules, "subjects": [format!("node-{n}")] }));
        }
        json!({
            "enabled": true,
            "default_permission": "deny",
            "rules": rules,
            "subjects": subjects,
            "policies": policies,
        })
    }
}

/// Check this node's own certificate before it joins: the certificate's CN is the node's
/// identity in access policies, so it must be the node's name, and it must be valid now (an
/// expired certificate would only fail later, at each peer, with a vaguer message).
pub(crate) fn check_own_certificate(name: &str, cert: &str) -> Result<(), crate::ConfigError> {
    use crate::ConfigError;
    let at = |m: String| ConfigError::at("tls.cert", m);
    let bytes = std::fs::read(cert).map_err(|e| at(format!("cannot read `{cert}`: {e}")))?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&bytes)
        .map_err(|e| at(format!("expected a PEM certificate in `{cert}`, found none ({e})")))?;
    let parsed =
        pem.parse_x509().map_err(|e| at(format!("`{cert}` is not a valid X.509 certificate: {e}")))?;
    let cn = parsed.subject().iter_common_name().next().and_then(|c| c.as_str().ok());
    if cn != Some(name) {
        return Err(at(format!(
            "expected the certificate of node `{name}` (CN={name}), found {} in `{cert}`: a node joins \
             only under the identity its certificate proves",
            cn.map_or("no CN".to_owned(), |c| format!("CN={c}"))
        )));
    }
    let validity = parsed.validity();
    if !validity.is_valid() {
        return Err(at(format!(
            "the certificate `{cert}` of node `{name}` is not valid now: valid from {} to {}",
            validity.not_before, validity.not_after
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> AccessPolicy {
        json5::from_str(
            r#"{ nodes: ["chassis", "cockpit", "infotainment"],
                 topics: [ { key: "chassis/**", publishers: ["chassis"] },
                           { key: "diag/secret", publishers: ["chassis"], subscribers: ["cockpit"] } ] }"#,
        )
        .unwrap()
    }

    #[test]
    fn decisions_follow_the_rules() {
        let p = policy();
        assert!(p.may_publish("chassis", "chassis/brake"));
        assert!(!p.may_publish("infotainment", "chassis/brake"));
        assert!(p.may_publish("infotainment", "infotainment/media"));
        assert!(p.may_subscribe("infotainment", "chassis/brake"));
        assert!(!p.may_subscribe("infotainment", "diag/secret"));
        assert!(p.may_subscribe("cockpit", "diag/secret"));
        p.validate().unwrap();
    }

    #[test]
    fn zenoh_acl_denies_by_default_and_reserves_keys() {
        let acl = policy().to_zenoh_acl("car1");
        assert_eq!(acl["default_permission"], "deny");
        let text = acl.to_string();
        assert!(text.contains("vbus/car1/chassis/**"), "{text}");
        assert_eq!(acl["subjects"].as_array().unwrap().len(), 3);
        // The ACL must be accepted by zenoh itself.
        let mut c = zenoh::Config::default();
        c.insert_json5("access_control", &text).unwrap();
    }

    #[test]
    fn invalid_rules_are_named() {
        let p: AccessPolicy =
            json5::from_str(r#"{ topics: [ { key: "a//b", publishers: ["x"] } ] }"#).unwrap();
        assert!(p.validate().unwrap_err().contains("access.topics[0].key"));
        let p: AccessPolicy = json5::from_str(r#"{ topics: [ { key: "a", publishers: [] } ] }"#).unwrap();
        assert!(p.validate().unwrap_err().contains("at least one publisher"));
    }
}
