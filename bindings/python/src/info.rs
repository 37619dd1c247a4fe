//! Plain-data conversions: QoS options from a dict, counters, events and topic listings to
//! dicts.

use std::time::Duration;

use pyo3::{
    prelude::*,
    types::{PyDict, PyString},
};
use vbus::{
    Congestion, E2eViolation, Priority, QoS, RejectReason, Reliability, Role, TopicEvent, TopicStats,
};

use crate::error::{Failure, Result};

/// The QoS options a dict may set (the fields of `vbus::QoS`; durations in seconds).
const QOS_KEYS: &str = "reliability, priority, express, congestion, history, queue, deadline, lifespan, e2e";

/// A QoS from `{ "reliability": "best_effort", "history": 1, "deadline": 0.1, ... }` over the
/// QoS the type's schema declares for its topic (its `vbus_*` attributes, as codegen reads them;
/// `vbus::QoS::new()` where it declares none).
pub fn qos_from(d: Option<&Bound<'_, PyDict>>, ty: &crate::types::TypeCtx) -> Result<QoS> {
    let table = ty.schema.table(&ty.name).map_err(|e| Failure::Config(e.to_string()))?;
    let mut q = QoS::from_attributes(|k| table.attr(k))
        .map_err(|e| Failure::Config(format!("the schema of {}: {e}", ty.name)))?;
    let Some(d) = d else { return Ok(q) };
    for (k, v) in d.iter() {
        let key: String = k.extract().map_err(|_| Failure::Config("qos: option names are strings".into()))?;
        let bad = |expected: &str| Failure::Config(format!("qos `{key}`: expected {expected}, found {v}"));
        match key.as_str() {
            "reliability" => {
                q.reliability = match v.extract::<String>().ok().as_deref() {
                    Some("reliable") => Reliability::Reliable,
                    Some("best_effort" | "best-effort") => Reliability::BestEffort,
                    _ => return Err(bad("\"reliable\" or \"best_effort\"")),
                }
            }
            "priority" => {
                let s: String = v.extract().map_err(|_| bad("a priority name"))?;
                q.priority = s.parse::<Priority>().map_err(|e| Failure::Config(format!("qos: {e}")))?;
            }
            "congestion" => {
                q.congestion = match v.extract::<String>().ok().as_deref() {
                    Some("drop") => Congestion::Drop,
                    Some("block") => Congestion::Block,
                    _ => return Err(bad("\"drop\" or \"block\"")),
                }
            }
            "express" => q.express = v.extract().map_err(|_| bad("a bool"))?,
            "e2e" => q.e2e = v.extract().map_err(|_| bad("a bool"))?,
            "history" => q.history = v.extract().map_err(|_| bad("an integer 0..=65535"))?,
            "queue" => q.queue = v.extract().map_err(|_| bad("an integer 1..=65535"))?,
            "deadline" | "lifespan" => {
                let d = if v.is_none() {
                    None
                } else {
                    let s: f64 = v.extract().map_err(|_| bad("seconds (a number) or None"))?;
                    Some(Duration::try_from_secs_f64(s).map_err(|_| bad("seconds >= 0 or None"))?)
                };
                if key == "deadline" {
                    q.deadline = d;
                } else {
                    q.lifespan = d;
                }
            }
            other => {
                let hint = vbus_reflect::did_you_mean(other, QOS_KEYS.split(", "))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(Failure::Config(format!(
                    "qos: unknown option `{other}`{hint}; the options are {QOS_KEYS}"
                )));
            }
        }
    }
    if q.queue == 0 {
        return Err(Failure::Config("qos `queue`: expected at least 1, found 0".into()));
    }
    Ok(q)
}

/// A duration from seconds given by the user (finite, not negative).
pub fn seconds(s: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| Failure::Value(format!("{what}: expected seconds >= 0, found {s}")))
}

/// An optional timeout in seconds (`None`: wait as long as it takes).
pub fn timeout(s: Option<f64>) -> Result<Option<Duration>> {
    s.map(|s| seconds(s, "timeout")).transpose()
}

/// A duration as seconds for display (`0.5 s`).
pub fn show(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// The counters of an endpoint.
pub fn stats_dict<'py>(py: Python<'py>, s: &TopicStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let TopicStats {
        sent,
        delivered,
        dropped,
        rejected,
        mismatched,
        lost,
        duplicates,
        expired,
        deadline_missed,
        backpressure_waits,
        backpressure_ns,
        events_dropped,
        e2e_errors,
        refused,
    } = *s;
    for (k, v) in [
        ("sent", sent),
        ("delivered", delivered),
        ("dropped", dropped),
        ("rejected", rejected),
        ("mismatched", mismatched),
        ("lost", lost),
        ("duplicates", duplicates),
        ("expired", expired),
        ("deadline_missed", deadline_missed),
        ("backpressure_waits", backpressure_waits),
        ("backpressure_ns", backpressure_ns),
        ("events_dropped", events_dropped),
        ("e2e_errors", e2e_errors),
        ("refused", refused),
    ] {
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// The name of an endpoint role in `Node.stats()`.
pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Publisher => "publisher",
        Role::Subscriber => "subscriber",
        Role::ServiceServer => "service_server",
        Role::ServiceClient => "service_client",
    }
}

/// A topic event as a dict: `kind`, the variant's fields (durations in seconds), and `message`,
/// the library's description.
pub fn event_dict<'py>(py: Python<'py>, e: &TopicEvent) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match e {
        TopicEvent::DeadlineMissed { key, deadline, silent_for } => {
            d.set_item("kind", "deadline_missed")?;
            d.set_item("key", key)?;
            d.set_item("deadline", deadline.as_secs_f64())?;
            d.set_item("silent_for", silent_for.as_secs_f64())?;
        }
        TopicEvent::TypeMismatch { key, expected_type, expected_hash, found_hash, publisher_id } => {
            d.set_item("kind", "type_mismatch")?;
            d.set_item("key", key)?;
            d.set_item("expected_type", &**expected_type)?;
            d.set_item("expected_hash", expected_hash)?;
            d.set_item("found_hash", found_hash)?;
            d.set_item("publisher_id", publisher_id)?;
        }
        TopicEvent::Rejected { key, reason } => {
            d.set_item("kind", "rejected")?;
            d.set_item("key", key)?;
            d.set_item(
                "reason_kind",
                match reason {
                    RejectReason::Header(_) => "header",
                    RejectReason::Payload(_) => "payload",
                },
            )?;
            d.set_item("reason", reason.to_string())?;
        }
        TopicEvent::E2eViolation { key, publisher_id, seq, violation } => {
            d.set_item("kind", "e2e_violation")?;
            d.set_item("key", key)?;
            d.set_item("publisher_id", publisher_id)?;
            d.set_item("seq", seq)?;
            let kind = match violation {
                E2eViolation::Missing => "missing",
                E2eViolation::Corrupted => "corrupted",
                E2eViolation::WrongDataId { expected, found } => {
                    d.set_item("expected_data_id", expected)?;
                    d.set_item("found_data_id", found)?;
                    "wrong_data_id"
                }
                E2eViolation::Repeated => "repeated",
                E2eViolation::Delayed { age } => {
                    d.set_item("age", age.as_secs_f64())?;
                    "delayed"
                }
            };
            d.set_item("violation_kind", kind)?;
            d.set_item("violation", violation.to_string())?;
        }
        TopicEvent::SamplesLost { key, publisher_id, expected_seq, received_seq } => {
            d.set_item("kind", "samples_lost")?;
            d.set_item("key", key)?;
            d.set_item("publisher_id", publisher_id)?;
            d.set_item("expected_seq", expected_seq)?;
            d.set_item("received_seq", received_seq)?;
            d.set_item("lost", received_seq.saturating_sub(*expected_seq))?;
        }
    }
    d.set_item("message", PyString::new(py, &e.to_string()))?;
    Ok(d)
}
