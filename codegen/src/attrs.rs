//! The `vbus_*` schema attributes: vocabulary, the declaration file flatc needs, and validation
//! of what the scan found into topic and service specs.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::fbs_scan::{Decl, Value};

/// Every attribute vbus-codegen understands, with the kind of value it takes.
pub const ATTRIBUTES: &[(&str, &str)] = &[
    ("vbus_topic", "topic key, e.g. \"chassis/speed\""),
    (
        "vbus_priority",
        "\"realtime\" | \"interactive_high\" | \"interactive_low\" | \"data_high\" | \"data\" | \"data_low\" | \"background\"",
    ),
    ("vbus_reliability", "\"reliable\" | \"best_effort\""),
    ("vbus_express", "flag, or true/false"),
    ("vbus_congestion", "\"drop\" | \"block\""),
    ("vbus_history", "samples kept for late joiners, 0..=65535"),
    ("vbus_queue", "subscriber queue depth, 1..=65535"),
    (
        "vbus_period_ms",
        "nominal publish period in ms; sets the deadline to 3 periods unless vbus_deadline_ms is given",
    ),
    ("vbus_deadline_ms", "maximum silence in ms before a deadline miss"),
    ("vbus_lifespan_ms", "maximum sample age in ms"),
    ("vbus_publishers", "comma-separated node names allowed to publish, e.g. \"chassis_ecu,gateway\""),
    ("vbus_dds", "flag, or true/false: also emit OMG IDL for the DDS bridge"),
    ("vbus_service", "service key: this table is the request of a request/reply service"),
    ("vbus_reply", "reply table of a vbus_service (name, resolved like a field type)"),
    ("vbus_timeout_ms", "default call timeout of a vbus_service in ms"),
    ("vbus_unit", "on a field: unit of the value, e.g. \"km/h\" (recorded in the .bfbs)"),
    (
        "vbus_min",
        "on a field: minimum physical value, an integer or a string such as \"-0.5\" (flatc takes no float literals here; recorded in the .bfbs)",
    ),
    ("vbus_max", "on a field: maximum physical value, like vbus_min (recorded in the .bfbs)"),
];

/// The attributes that belong on fields rather than tables.
pub const FIELD_ATTRIBUTES: &[&str] = &["vbus_unit", "vbus_min", "vbus_max"];

/// Check the `vbus_*` attributes found on fields, enums, unions and services.
pub(crate) fn validate_other(
    file: &str,
    found: &[(&'static str, crate::fbs_scan::Attr)],
    diags: &mut Vec<Diag>,
) {
    for (what, a) in found {
        let loc = Loc { file: file.to_string(), line: a.line };
        let known = ATTRIBUTES.iter().any(|(k, _)| *k == a.key);
        let msg = if *what == "a field" && FIELD_ATTRIBUTES.contains(&a.key.as_str()) {
            match (&a.key[..], &a.value) {
                ("vbus_unit", Some(Value::Str(_))) => continue,
                ("vbus_unit", _) => "`vbus_unit` needs a string value, e.g. vbus_unit: \"km/h\"".to_string(),
                (_, Some(Value::Num(n) | Value::Str(n))) if n.trim().parse::<f64>().is_ok() => continue,
                (k, v) => format!(
                    "`{k}` needs a number, found {}",
                    v.as_ref().map_or("nothing".to_string(), |v| format!("`{}`", v.text()))
                ),
            }
        } else if !known {
            let names: Vec<&str> = ATTRIBUTES.iter().map(|(a, _)| *a).collect();
            format!("unknown attribute `{}` on {what}; known vbus attributes: {}", a.key, names.join(", "))
        } else if *what == "a field" {
            format!(
                "`{}` belongs on a table, not on a field (fields take {})",
                a.key,
                FIELD_ATTRIBUTES.join(", ")
            )
        } else {
            format!(
                "`{}` is not allowed on {what}; vbus attributes belong on tables (and vbus_unit/min/max on fields)",
                a.key
            )
        };
        diags.push(Diag { loc, msg });
    }
}

/// The allowed `vbus_priority` values, in `vbus::Priority` order.
pub const PRIORITIES: &[(&str, &str)] = &[
    ("realtime", "RealTime"),
    ("interactive_high", "InteractiveHigh"),
    ("interactive_low", "InteractiveLow"),
    ("data_high", "DataHigh"),
    ("data", "Data"),
    ("data_low", "DataLow"),
    ("background", "Background"),
];

/// How many periods of silence make a deadline miss when only `vbus_period_ms` is given.
pub const DEADLINE_PERIODS: u64 = 3;

/// The call timeout of a service without `vbus_timeout_ms`: `vbus::Service::new`'s default
/// (the C++ descriptors spell it out).
pub(crate) const DEFAULT_TIMEOUT_MS: u64 = 1000;

/// The text of the attribute declarations flatc needs (`attribute "vbus_topic";` ...).
///
/// vbus-codegen passes these to flatc itself (through an include it writes before the user's
/// files), so schemas need not declare them. Projects that also run plain `flatc` on the same
/// schemas can `include` a file with this content (`vbus-codegen attributes` prints it).
pub fn declarations() -> String {
    let mut s = String::from("// Declarations of the vbus-codegen schema attributes.\n");
    for (a, _) in ATTRIBUTES {
        let _ = writeln!(s, "attribute \"{a}\";");
    }
    s
}

/// Source location of a diagnostic.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Loc {
    /// File as the user named it.
    pub file: String,
    /// 1-based line.
    pub line: u32,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A located error message.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diag {
    /// Where.
    pub loc: Loc,
    /// What.
    pub msg: String,
}

impl std::fmt::Display for Diag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: error: {}", self.loc, self.msg)
    }
}

/// The QoS a schema declares (only what it sets explicitly).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QosSpec {
    /// `vbus_reliability`: true = best effort.
    pub best_effort: Option<bool>,
    /// `vbus_priority`: index into [`PRIORITIES`].
    pub priority: Option<usize>,
    /// `vbus_express`.
    pub express: Option<bool>,
    /// `vbus_congestion`: true = block.
    pub block: Option<bool>,
    /// `vbus_history`.
    pub history: Option<u16>,
    /// `vbus_queue`.
    pub queue: Option<u16>,
    /// Deadline in ms (explicit, or derived from the period).
    pub deadline_ms: Option<u64>,
    /// `vbus_lifespan_ms`.
    pub lifespan_ms: Option<u64>,
}

/// A table that declares a topic.
#[derive(Clone, Debug)]
pub struct TopicSpec {
    /// Fully qualified table name.
    pub fqn: String,
    /// Topic key.
    pub key: String,
    /// QoS.
    pub qos: QosSpec,
    /// `vbus_period_ms`.
    pub period_ms: Option<u64>,
    /// `vbus_publishers`.
    pub publishers: Vec<String>,
    /// `vbus_dds`.
    pub dds: bool,
    /// Where the table is declared.
    pub loc: Loc,
}

/// A table that is the request of a service.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    /// Fully qualified request table name.
    pub fqn: String,
    /// Service key.
    pub key: String,
    /// Reply type as written (resolved later against the compiled schema).
    pub reply: String,
    /// `vbus_timeout_ms`.
    pub timeout_ms: Option<u64>,
    /// Where the table is declared.
    pub loc: Loc,
}

/// Validate a topic or service key (same rules as the vbus runtime, plus no whitespace).
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("key is empty".into());
    }
    for (i, chunk) in key.split('/').enumerate() {
        if chunk.is_empty() {
            return Err(format!("key `{key}`: chunk {} is empty (leading, trailing or double `/`)", i + 1));
        }
        if chunk == "*" || chunk == "**" || chunk.contains(['$', '?', '#', '*']) {
            return Err(format!(
                "key `{key}`: chunk `{chunk}` contains a wildcard or reserved character (* $ ? #)"
            ));
        }
        if chunk.starts_with('@') {
            return Err(format!(
                "key `{key}`: chunk `{chunk}` starts with `@`, which vbus reserves for its own keys"
            ));
        }
        if chunk.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("key `{key}`: chunk `{chunk}` contains whitespace or a control character"));
        }
    }
    Ok(())
}

fn one_of(v: &str, allowed: &[&str]) -> Option<usize> {
    allowed.iter().position(|a| *a == v)
}

fn list(allowed: &[&str]) -> String {
    allowed.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ")
}

/// Validate the `vbus_*` attributes of the declarations of one file.
///
/// Returns specs and pushes located diagnostics.
pub(crate) fn validate(
    file: &str,
    decls: &[Decl],
    topics: &mut Vec<TopicSpec>,
    services: &mut Vec<ServiceSpec>,
    diags: &mut Vec<Diag>,
) {
    let known: Vec<&str> = ATTRIBUTES.iter().map(|(a, _)| *a).collect();
    for d in decls {
        let vb: Vec<_> = d.attrs.iter().filter(|a| a.key.starts_with("vbus_")).collect();
        if vb.is_empty() {
            continue;
        }
        let at = |line: u32| Loc { file: file.to_string(), line };
        let mut err = |line: u32, msg: String| diags.push(Diag { loc: at(line), msg });
        let mut seen = BTreeMap::new();
        let mut vals: BTreeMap<&str, (&Option<Value>, u32)> = BTreeMap::new();
        for a in &vb {
            if FIELD_ATTRIBUTES.contains(&a.key.as_str()) {
                err(a.line, format!("`{}` belongs on a field, not on table `{}`", a.key, d.fqn));
                continue;
            }
            if !known.contains(&a.key.as_str()) {
                err(
                    a.line,
                    format!(
                        "unknown attribute `{}` on `{}`; known vbus attributes: {}",
                        a.key,
                        d.fqn,
                        known.join(", ")
                    ),
                );
                continue;
            }
            if let Some(prev) = seen.insert(a.key.as_str(), a.line) {
                err(
                    a.line,
                    format!("attribute `{}` given twice on `{}` (first on line {prev})", a.key, d.fqn),
                );
                continue;
            }
            vals.insert(a.key.as_str(), (&a.value, a.line));
        }
        if d.is_struct {
            err(
                d.line,
                format!(
                    "`{}` is a struct; vbus attributes belong on tables (only a table can be a message root)",
                    d.fqn
                ),
            );
            continue;
        }
        let string = |k: &str, err: &mut dyn FnMut(u32, String)| -> Option<(String, u32)> {
            let (v, line) = vals.get(k)?;
            match v {
                Some(Value::Str(s)) => Some((s.clone(), *line)),
                _ => {
                    err(*line, format!("`{k}` needs a string value, e.g. {k}: \"...\""));
                    None
                }
            }
        };
        let int = |k: &str, min: u64, max: u64, err: &mut dyn FnMut(u32, String)| -> Option<u64> {
            let (v, line) = vals.get(k)?;
            let parsed = match v {
                Some(Value::Num(s)) | Some(Value::Str(s)) => s.trim().parse::<u64>().ok(),
                _ => None,
            };
            match parsed {
                Some(n) if (min..=max).contains(&n) => Some(n),
                _ => {
                    let shown = v.as_ref().map_or("nothing".to_string(), |v| format!("`{}`", v.text()));
                    err(*line, format!("`{k}` must be an integer in {min}..={max}, found {shown}"));
                    None
                }
            }
        };
        let flag = |k: &str, err: &mut dyn FnMut(u32, String)| -> Option<bool> {
            let (v, line) = vals.get(k)?;
            match v.as_ref().map(Value::text) {
                None | Some("true") | Some("1") => Some(true),
                Some("false") | Some("0") => Some(false),
                Some(other) => {
                    err(
                        *line,
                        format!("`{k}` is a flag: write `{k}` or `{k}: true`/`false`, found `{other}`"),
                    );
                    None
                }
            }
        };

        let topic = string("vbus_topic", &mut err);
        let service = string("vbus_service", &mut err);
        let topic_only = [
            "vbus_priority",
            "vbus_reliability",
            "vbus_express",
            "vbus_congestion",
            "vbus_history",
            "vbus_queue",
            "vbus_period_ms",
            "vbus_deadline_ms",
            "vbus_lifespan_ms",
            "vbus_publishers",
            "vbus_dds",
        ];
        if vals.contains_key("vbus_topic") && vals.contains_key("vbus_service") {
            err(
                d.line,
                format!(
                    "`{}` has both vbus_topic and vbus_service; a table is either a topic or a service request (declare a second table for the other)",
                    d.fqn
                ),
            );
            continue;
        }
        if !vals.contains_key("vbus_topic") {
            for k in topic_only {
                if let Some((_, line)) = vals.get(k) {
                    err(*line, format!("`{k}` on `{}` needs `vbus_topic` on the same table", d.fqn));
                }
            }
        }
        if !vals.contains_key("vbus_service") {
            for k in ["vbus_reply", "vbus_timeout_ms"] {
                if let Some((_, line)) = vals.get(k) {
                    err(*line, format!("`{k}` on `{}` needs `vbus_service` on the same table", d.fqn));
                }
            }
        }
        if let Some((key, line)) = topic {
            if let Err(e) = check_key(&key) {
                err(line, format!("bad vbus_topic on `{}`: {e}", d.fqn));
            }
            let mut qos = QosSpec::default();
            if let Some((p, line)) = string("vbus_priority", &mut err) {
                let names: Vec<&str> = PRIORITIES.iter().map(|(n, _)| *n).collect();
                let p2 = if p == "real_time" { "realtime".to_string() } else { p.clone() };
                match one_of(&p2, &names) {
                    Some(i) => qos.priority = Some(i),
                    None => err(
                        line,
                        format!("bad vbus_priority `{p}` on `{}`; allowed: {}", d.fqn, list(&names)),
                    ),
                }
            }
            if let Some((r, line)) = string("vbus_reliability", &mut err) {
                match r.as_str() {
                    "reliable" => qos.best_effort = Some(false),
                    "best_effort" => qos.best_effort = Some(true),
                    _ => err(
                        line,
                        format!(
                            "bad vbus_reliability `{r}` on `{}`; allowed: {}",
                            d.fqn,
                            list(&["reliable", "best_effort"])
                        ),
                    ),
                }
            }
            if let Some((c, line)) = string("vbus_congestion", &mut err) {
                match c.as_str() {
                    "drop" => qos.block = Some(false),
                    "block" => qos.block = Some(true),
                    _ => err(
                        line,
                        format!(
                            "bad vbus_congestion `{c}` on `{}`; allowed: {}",
                            d.fqn,
                            list(&["drop", "block"])
                        ),
                    ),
                }
            }
            qos.express = flag("vbus_express", &mut err);
            qos.history = int("vbus_history", 0, u16::MAX.into(), &mut err).map(|n| n as u16);
            qos.queue = int("vbus_queue", 1, u16::MAX.into(), &mut err).map(|n| n as u16);
            let max_ms = 1_000_000_000;
            let period_ms = int("vbus_period_ms", 1, max_ms, &mut err);
            qos.deadline_ms =
                int("vbus_deadline_ms", 1, max_ms, &mut err).or(period_ms.map(|p| p * DEADLINE_PERIODS));
            qos.lifespan_ms = int("vbus_lifespan_ms", 1, max_ms, &mut err);
            let mut publishers = Vec::new();
            if let Some((p, line)) = string("vbus_publishers", &mut err) {
                for name in p.split(',').map(str::trim) {
                    if name.is_empty()
                        || !name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
                    {
                        err(
                            line,
                            format!(
                                "bad node name `{name}` in vbus_publishers of `{}`: use letters, digits, `_`, `-`, `.`, separated by commas",
                                d.fqn
                            ),
                        );
                    } else if publishers.iter().any(|x| x == name) {
                        err(line, format!("node `{name}` listed twice in vbus_publishers of `{}`", d.fqn));
                    } else {
                        publishers.push(name.to_string());
                    }
                }
            }
            let dds = flag("vbus_dds", &mut err).unwrap_or(false);
            topics.push(TopicSpec {
                fqn: d.fqn.clone(),
                key,
                qos,
                period_ms,
                publishers,
                dds,
                loc: at(d.line),
            });
        }
        if let Some((key, line)) = service {
            if let Err(e) = check_key(&key) {
                err(line, format!("bad vbus_service on `{}`: {e}", d.fqn));
            }
            let reply = string("vbus_reply", &mut err);
            if reply.is_none() && !vals.contains_key("vbus_reply") {
                err(line, format!("vbus_service on `{}` needs `vbus_reply: \"ReplyTable\"`", d.fqn));
            }
            let timeout_ms = int("vbus_timeout_ms", 1, 1_000_000_000, &mut err);
            if let Some((reply, _)) = reply {
                services.push(ServiceSpec { fqn: d.fqn.clone(), key, reply, timeout_ms, loc: at(d.line) });
            }
        }
    }
}
