//! The JSON lines of the reference decoder (`can-oracle/oracle.py`, on
//! cantools 45.1.0), byte for byte, so that this engine can be compared with
//! it record for record.
//!
//! A decoded frame is
//! `{"t":1.5,"id":68,"ext":false,"msg":"Foo","signals":{"Sig":1.5}}` (compact
//! separators, signals in cantools' order, `,"overlap":true` appended for
//! messages whose signals share bits), and with `--emit-errors` a frame of a
//! known ID that fails to decode is
//! `{"t": 1.5, "id": 68, "ext": false, "msg": "Foo", "error": "DecodeError: ..."}`
//! (Python's default separators, as the oracle prints it). Values are JSON
//! integers for signals with integer raw values and integer factor and
//! offset, floats otherwise, written as Python's `repr` writes them;
//! non-finite floats are the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.

use std::fmt::Write as _;

use crate::candump::Frame;
use crate::plan::{DecodeError, DecodePlan, MessagePlan, Value};

/// What [`write_record`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A `"signals"` record was written.
    Decoded,
    /// The frame failed to decode; an `"error"` record was written if
    /// requested.
    Error,
    /// No message has this ID; nothing was written.
    UnknownId,
}

/// Appends to `out` the line (without newline) the oracle prints for
/// `frame`, and says which kind it was. With `emit_errors` false, frames
/// that fail to decode write nothing (the oracle without `--emit-errors`).
pub fn write_record(plan: &DecodePlan, frame: &Frame, emit_errors: bool, out: &mut String) -> Outcome {
    let Some(msg) = plan.message(frame.id, frame.extended) else { return Outcome::UnknownId };
    let mark = out.len();
    out.push_str("{\"t\":");
    write_timestamp(frame.timestamp, out);
    let _ = write!(out, ",\"id\":{},\"ext\":{},\"msg\":", frame.id, frame.extended);
    write_json_string(msg.name(), out);
    out.push_str(",\"signals\":{");
    let mut first = true;
    let result = msg.decode(frame.data(), |i, v| {
        if !first {
            out.push(',');
        }
        first = false;
        write_json_string(msg.signal_name(i), out);
        out.push(':');
        write_value(v, out);
    });
    match result {
        Ok(()) => {
            out.push('}');
            if msg.has_overlapping_signals() {
                out.push_str(",\"overlap\":true");
            }
            out.push('}');
            Outcome::Decoded
        }
        Err(e) => {
            out.truncate(mark);
            if emit_errors {
                out.push_str("{\"t\": ");
                write_timestamp(frame.timestamp, out);
                let _ = write!(out, ", \"id\": {}, \"ext\": {}, \"msg\": ", frame.id, frame.extended);
                write_json_string(msg.name(), out);
                out.push_str(", \"error\": ");
                write_json_string(&error_text(msg, &e), out);
                out.push('}');
            }
            Outcome::Error
        }
    }
}

/// The oracle's error text: the Python exception type and message
/// cantools (or the oracle's per-signal fallback) raises for this failure.
pub fn error_text(msg: &MessagePlan, e: &DecodeError) -> String {
    match e {
        DecodeError::ShortPayload { expected, found, .. } => {
            format!("DecodeError: Wrong data size: {found} instead of {expected} bytes")
        }
        DecodeError::SignalOutsidePayload { .. } => "DecodeError: unpacking failed".to_owned(),
        DecodeError::UndefinedMultiplexerValue { multiplexer, index, value, .. } => {
            if msg.has_overlapping_signals() {
                format!("ValueError: undefined multiplexer value {value} for {multiplexer}")
            } else {
                let mut ids = Vec::new();
                for &(lo, hi) in msg.defined_multiplexer_values(*index).unwrap_or_default() {
                    ids.extend((lo..=hi).map(|v| v.to_string()));
                }
                let list = match ids.split_last() {
                    Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                    _ => ids.join(""),
                };
                format!("DecodeError: expected multiplexer id {list}, but got {value}")
            }
        }
    }
}

fn write_timestamp(t: Option<f64>, out: &mut String) {
    match t {
        Some(t) => write_py_float(t, out),
        None => out.push_str("null"),
    }
}

fn write_value(v: Value, out: &mut String) {
    let f = match v {
        Value::Int(i) => {
            let _ = write!(out, "{i}");
            return;
        }
        Value::Float(f) => f,
        Value::F32(f) => f64::from(f),
    };
    if f.is_nan() {
        out.push_str("\"NaN\"");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "\"Infinity\"" } else { "\"-Infinity\"" });
    } else {
        write_py_float(f, out);
    }
}

/// Writes a finite `f64` as Python's `repr` does: the shortest digits that
/// round-trip (which Rust's formatter also finds), in positional notation
/// for decimal exponents -4..16 with at least one fractional digit, else in
/// scientific notation with a signed, at least two-digit exponent.
pub fn write_py_float(x: f64, out: &mut String) {
    // `{:e}` finds how many digits round-trip; printing that many again with
    // an explicit precision rounds the exact value half-to-even, which picks
    // the same digits as Python when two candidates are equally close
    // (28.2537384033203125 -> ...312, where `{:e}` alone gives ...313).
    let shortest = format!("{x:e}");
    let mantissa_len =
        shortest.split_once('e').map_or(shortest.len(), |(m, _)| m.trim_start_matches('-').len());
    let precision = mantissa_len.saturating_sub(2); // digits after the point
    let sci = format!("{x:.precision$e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let point = exp + 1; // digits before the decimal point
    out.push_str(sign);
    if (-3..=16).contains(&point) {
        let n = digits.len() as i32;
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(&digits);
        } else if point >= n {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', (point - n) as usize));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
}

/// Writes a JSON string as Python's `json.dumps` does (ASCII only: other
/// characters as `\uXXXX`, with surrogate pairs beyond the BMP).
pub fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn py(x: f64) -> String {
        let mut s = String::new();
        write_py_float(x, &mut s);
        s
    }

    #[test]
    fn python_float_repr() {
        for (x, want) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (25.0, "25.0"),
            (0.1, "0.1"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (-1.2e-5, "-1.2e-05"),
            (1234567890123456.0, "1234567890123456.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e100, "1e+100"),
            (1700000000.001337, "1700000000.001337"),
            (304.25, "304.25"),
            (f64::from(28.253_738_f32), "28.253738403320312"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(py(x), want, "{x:e}");
        }
    }

    #[test]
    fn json_strings() {
        let mut s = String::new();
        write_json_string("a\"b\\c\nä€😀\u{1}", &mut s);
        assert_eq!(s, r#""a\"b\\c\n\u00e4\u20ac\ud83d\ude00\u0001""#);
    }
}
