//! Python values <-> the JSON that vbus-reflect encodes from and decodes to.
//!
//! The mapping is vbus-reflect's (flatc's JSON): tables are dicts, vectors lists, enums their
//! value names (or numbers), unions a `<field>_type` name next to the member's dict. Python
//! floats that JSON cannot hold go as vbus-reflect's strings (`nan`, `inf`, `-inf`), and `bytes`
//! as a list of numbers (a `[ubyte]` vector).

use pyo3::{
    prelude::*,
    types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple},
};
use serde_json::{Map, Number, Value};

use crate::error::{Failure, Result};

/// Deepest nesting accepted (a self-referencing dict would otherwise recurse forever).
const MAX_DEPTH: usize = 64;

/// A Python value as JSON; errors name the path (`$.engine.rpm`) and the Python type.
pub fn to_json(obj: &Bound<'_, PyAny>) -> Result<Value> {
    to_json_at(obj, "$", 0)
}

fn to_json_at(obj: &Bound<'_, PyAny>, path: &str, depth: usize) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err(Failure::Payload(format!("{path}: nested deeper than {MAX_DEPTH} levels")));
    }
    let cannot = |what: String| Failure::Payload(format!("{path}: {what}"));
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(obj.is_truthy().map_err(|e| cannot(e.to_string()))?));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(cannot(format!("integer {obj} does not fit in 64 bits")));
    }
    if obj.is_instance_of::<PyFloat>() {
        let f: f64 = obj.extract().map_err(|e: PyErr| cannot(e.to_string()))?;
        return Ok(match Number::from_f64(f) {
            Some(n) => Value::Number(n),
            None if f.is_nan() => Value::from("nan"),
            None if f > 0.0 => Value::from("inf"),
            None => Value::from("-inf"),
        });
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_str().map_err(|e| cannot(e.to_string()))?.to_owned()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Array(b.as_bytes().iter().map(|&x| Value::from(x)).collect()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Value::Array(b.to_vec().into_iter().map(Value::from).collect()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = Map::new();
        for (k, v) in d.iter() {
            let Ok(k) = k.cast::<PyString>() else {
                return Err(cannot(format!("dict keys must be field names (str), found {}", type_name(&k))));
            };
            let k = k.to_str().map_err(|e| cannot(e.to_string()))?.to_owned();
            let v = to_json_at(&v, &format!("{path}.{k}"), depth + 1)?;
            m.insert(k, v);
        }
        return Ok(Value::Object(m));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for (i, item) in obj.try_iter().map_err(|e| cannot(e.to_string()))?.enumerate() {
            let item = item.map_err(|e| cannot(e.to_string()))?;
            out.push(to_json_at(&item, &format!("{path}[{i}]"), depth + 1)?);
        }
        return Ok(Value::Array(out));
    }
    Err(cannot(format!(
        "cannot encode a Python {} (expected dict, list, tuple, str, int, float, bool, bytes or None)",
        type_name(obj)
    )))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into())
}

/// JSON as Python: dicts, lists, str, int, float, bool, None.
pub fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let list = PyList::empty(py);
            for item in a {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(m) => {
            let d = PyDict::new(py);
            for (k, item) in m {
                d.set_item(k, to_py(py, item)?)?;
            }
            d.into_any()
        }
    })
}
