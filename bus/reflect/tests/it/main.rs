//! Integration tests of vbus-reflect (one binary).
//!
//! Reference data comes from flatc 23.5.26 (`tests/data`, see `regen.sh`) and from types that
//! vbus-codegen generated (`vbus-demo-types`, `vbus-test-support`), so the decoder, the encoder and
//! the type hash are checked against implementations other than their own.

mod errors;
mod generated;
mod golden;
mod hostile;
mod paths;

use serde_json::Value;
use vbus_reflect::Schema;

pub const EVERYTHING: &str = "test.all.Everything";

pub fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn json(name: &str) -> Value {
    serde_json::from_slice(&data(name)).unwrap()
}

pub fn everything() -> Schema {
    Schema::from_bfbs(&data("everything.bfbs")).expect("everything.bfbs parses")
}

/// Compare JSON trees; numbers that are not both integers compare with a relative tolerance
/// (flatc prints doubles with 12 significant digits).
pub fn assert_close(a: &Value, b: &Value, path: &str) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let kx: Vec<_> = x.keys().collect();
            let ky: Vec<_> = y.keys().collect();
            assert_eq!(kx, ky, "keys differ at {path}");
            for (k, v) in x {
                assert_close(v, &y[k], &format!("{path}.{k}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "lengths differ at {path}");
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                assert_close(v, w, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            if (x.is_i64() || x.is_u64()) && (y.is_i64() || y.is_u64()) {
                assert_eq!(x, y, "at {path}");
            } else {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                let tol = 1e-6 * x.abs().max(y.abs()).max(1.0);
                assert!((x - y).abs() <= tol, "at {path}: {x} vs {y}");
            }
        }
        _ => assert_eq!(a, b, "at {path}"),
    }
}
