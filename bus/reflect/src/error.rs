//! Errors: each says what was expected and what was found, and where.

/// Everything that can go wrong reading a schema, a payload or JSON.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The `.bfbs` is not a valid reflection schema (or uses what this crate does not support).
    #[error("invalid schema: {0}")]
    Schema(String),
    /// The type is not in the schema.
    #[error("type `{name}` is not in the schema{}", hint(.did_you_mean))]
    UnknownType {
        /// The name asked for.
        name: String,
        /// The closest name the schema has, if any is close.
        did_you_mean: Option<String>,
    },
    /// The type is a struct (or not a table); payloads are tables.
    #[error("`{0}` is a struct; a payload's root must be a table")]
    NotATable(String),
    /// The payload failed verification (or decoding) against the schema.
    #[error("payload is not a valid {type_name}: at {path}: {reason}")]
    InvalidPayload {
        /// The root type.
        type_name: String,
        /// Where in the message (`$.samples[2].value`).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// JSON that does not match the schema.
    #[error("{path}: expected {expected}, found {found}")]
    Json {
        /// Where in the JSON (`$.wheels[1].rpm`).
        path: String,
        /// What the schema expects there.
        expected: String,
        /// What the JSON has there (and a hint, when there is one).
        found: String,
    },
}

fn hint(did_you_mean: &Option<String>) -> String {
    match did_you_mean {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

/// A short description of a JSON value for error messages: `string "fast"`, `number 3`.
pub(crate) fn describe(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => {
            let mut shown: String = s.chars().take(40).collect();
            if shown.len() < s.len() {
                shown.push('…');
            }
            format!("string {shown:?}")
        }
        Value::Array(a) => format!("an array of {} element{}", a.len(), if a.len() == 1 { "" } else { "s" }),
        Value::Object(_) => "an object".into(),
    }
}
