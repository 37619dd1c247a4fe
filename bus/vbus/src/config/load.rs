//! The one way vbus and its bridges read a JSON5 configuration: the embedded, commented default,
//! the user's text deep-merged over it, then serde and the type's own checks. Errors name the
//! file and the field (`rules[2].mode`), and say what was expected and what was found.

use std::{fmt, path::Path};

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A configuration type read through this module: [`NodeConfig`](crate::NodeConfig), and the
/// bridges' configurations.
pub trait ConfigFile: DeserializeOwned {
    /// The embedded, commented default the user's text is merged over (the crate's
    /// `DEFAULT_CONFIG.json5`).
    const DEFAULT: &'static str;

    /// What serde cannot check: ranges, names, files, combinations of fields.
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// A bad configuration: where it came from, which field, what was expected and what was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or `None` for text given directly).
    pub file: Option<String>,
    /// The field, as a path from the top (`mqtt.port`, `rules[2].mode`), when known.
    pub field: Option<String>,
    /// What was expected and what was found.
    pub message: String,
}

impl ConfigError {
    /// An error not tied to one field.
    pub fn new(message: impl Into<String>) -> Self {
        Self { file: None, field: None, message: message.into() }
    }

    /// An error in `field` (a path from the top, as the user wrote it).
    pub fn at(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { file: None, field: Some(field.into()), message: message.into() }
    }

    /// The same error, found in `file` (kept if a file is already named).
    pub fn in_file(mut self, file: &Path) -> Self {
        self.file.get_or_insert_with(|| file.display().to_string());
        self
    }

    /// The same error, inside the object at `prefix` (e.g. the `node` section of a bridge's
    /// configuration).
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field.take() {
            Some(f) if f.starts_with('[') => format!("{prefix}{f}"),
            Some(f) => format!("{prefix}.{f}"),
            None => prefix.to_owned(),
        });
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "`{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Parse JSON5 `text` over `T`'s embedded default, then check it.
pub fn from_json5<T: ConfigFile>(text: &str) -> Result<T, ConfigError> {
    let user: Value =
        json5::from_str(text).map_err(|e| ConfigError::new(format!("expected valid JSON5, found: {e}")))?;
    from_value(user)
}

/// Read the JSON5 file at `path` over `T`'s embedded default, then check it; errors name the
/// file.
pub fn from_file<T: ConfigFile>(path: impl AsRef<Path>) -> Result<T, ConfigError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(format!("cannot read: {e}")).in_file(path))?;
    from_json5(&text).map_err(|e| e.in_file(path))
}

/// A configuration already parsed (e.g. the `node` section of a bridge's file), over `T`'s
/// embedded default, then checked.
pub fn from_value<T: ConfigFile>(user: Value) -> Result<T, ConfigError> {
    if !user.is_object() {
        return Err(ConfigError::new(format!("expected an object at the top level, found {}", kind(&user))));
    }
    let mut merged: Value = json5::from_str(T::DEFAULT)
        .map_err(|e| ConfigError::new(format!("the embedded default is not valid JSON5: {e}")))?;
    merge(&mut merged, user);
    let cfg: T = serde_path_to_error::deserialize(merged).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        if path == "." { ConfigError::new(message) } else { ConfigError::at(path, message) }
    })?;
    cfg.validate()?;
    Ok(cfg)
}

/// Deep merge: objects merge key by key, anything else in `overlay` replaces what `base` has
/// (so a list in the user's file replaces the default list).
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// "an array", "a string", ...: for "expected ..., found ..." messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Demo {
        name: String,
        inner: Inner,
        list: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        a: u16,
        b: bool,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        mode: String,
    }

    impl ConfigFile for Demo {
        const DEFAULT: &'static str = "{ name: 'x', inner: { a: 1, b: true }, list: [{ mode: 'all' }] }";
        fn validate(&self) -> Result<(), ConfigError> {
            if self.name.is_empty() {
                return Err(ConfigError::at("name", "expected a name, found an empty string"));
            }
            Ok(())
        }
    }

    #[test]
    fn nested_fields_merge_and_lists_replace() {
        let d: Demo = from_json5("{ inner: { a: 7 }, list: [{ mode: 'a' }, { mode: 'b' }] }").unwrap();
        assert_eq!((d.name.as_str(), d.inner.a, d.inner.b), ("x", 7, true));
        assert_eq!(d.list.iter().map(|i| i.mode.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let e = from_json5::<Demo>("{ inner: { a: 'seven' } }").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("inner.a"), "{e}");
        assert!(e.message.contains("expected u16"), "{e}");
        let e = from_json5::<Demo>("{ list: [{ mode: 'a' }, { mdoe: 'b' }] }").unwrap_err();
        assert!(e.to_string().starts_with("`list[1]"), "{e}");
        assert!(e.message.contains("mdoe"), "{e}");
        let e = from_json5::<Demo>("{ name: '' }").unwrap_err();
        assert_eq!(e.to_string(), "`name`: expected a name, found an empty string");
        let e = from_json5::<Demo>("[1]").unwrap_err();
        assert_eq!(e.to_string(), "expected an object at the top level, found an array");
        let e = from_json5::<Demo>("{ name: ").unwrap_err();
        assert!(e.message.contains("expected valid JSON5"), "{e}");

        let dir = std::env::temp_dir().join(format!("vbus-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.json5");
        std::fs::write(&file, "{ inner: { b: 3 } }").unwrap();
        let e = from_file::<Demo>(&file).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: `inner.b`: ", file.display())), "{e}");
        let e = from_file::<Demo>(dir.join("missing.json5")).unwrap_err().to_string();
        assert!(e.contains("missing.json5: cannot read"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(ConfigError::at("[0].a", "m").within("rules").to_string(), "`rules[0].a`: m");
    }
}
