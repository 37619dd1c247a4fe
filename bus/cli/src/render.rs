//! Human-readable output: JSON values as indented `key: value` lines, sizes, rates, times.

use serde_json::Value;

/// `value` as indented lines (YAML-like): scalars after `key: `, short scalar arrays inline.
pub fn tree(value: &Value, indent: usize) -> String {
    let mut out = String::new();
    write_value(&mut out, value, indent);
    out
}

fn pad(n: usize) -> String {
    " ".repeat(n)
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

fn write_value(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if map.is_empty() => out.push_str(&format!("{}{{}}\n", pad(indent))),
        Value::Object(map) => {
            for (k, v) in map {
                write_entry(out, k, v, indent);
            }
        }
        other => {
            out.push_str(&pad(indent));
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
}

fn write_entry(out: &mut String, key: &str, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push_str(&format!("{}{key}:\n", pad(indent)));
            write_value(out, v, indent + 2);
        }
        Value::Array(items) if !items.is_empty() && !items.iter().all(is_scalar) => {
            out.push_str(&format!("{}{key}:\n", pad(indent)));
            for item in items {
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        let body = tree(item, indent + 4);
                        // `- ` replaces the first line's indentation.
                        let body = body.get(indent + 4..).unwrap_or("");
                        out.push_str(&format!("{}  - {body}", pad(indent)));
                    }
                    other => out.push_str(&format!("{}  - {}\n", pad(indent), inline(other))),
                }
            }
        }
        other => out.push_str(&format!("{}{key}: {}\n", pad(indent), inline(other))),
    }
}

/// A value on one line: JSON, with arrays of scalars shortened past 32 elements.
pub fn inline(v: &Value) -> String {
    match v {
        Value::Array(items) if items.len() > 32 && items.iter().all(is_scalar) => {
            let head: Vec<String> = items.iter().take(32).map(|i| i.to_string()).collect();
            format!("[{}, ... ({} elements)]", head.join(", "), items.len())
        }
        Value::Array(items) if items.iter().all(is_scalar) => {
            let all: Vec<String> = items.iter().map(|i| i.to_string()).collect();
            format!("[{}]", all.join(", "))
        }
        other => other.to_string(),
    }
}

/// `1.2 KiB`, `340 B`.
pub fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{v:.0} {}", UNITS[0]) } else { format!("{v:.1} {}", UNITS[u]) }
}

/// `2024-05-01T12:34:56.789Z` for ns since the UNIX epoch (UTC).
pub fn utc(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let millis = (ns / 1_000_000) % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A duration in seconds as `1.23 s`, `45.6 ms` or `789 µs`.
pub fn secs(s: f64) -> String {
    let a = s.abs();
    if a >= 1.0 {
        format!("{s:.2} s")
    } else if a >= 1e-3 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

/// Hex dump of the first bytes.
pub fn hex(b: &[u8]) -> String {
    let shown: Vec<String> = b.iter().take(64).map(|x| format!("{x:02x}")).collect();
    format!("{}{}", shown.join(" "), if b.len() > 64 { " ..." } else { "" })
}

/// Left-aligned table with a header row.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_owned()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn trees_read_like_yaml() {
        let v = json!({"kph": 63.5, "pos": {"x": 1, "y": 2}, "rpm": [1, 2], "samples": [{"id": 1, "v": 2}], "s": "a"});
        assert_eq!(
            tree(&v, 2),
            "  kph: 63.5\n  pos:\n    x: 1\n    y: 2\n  rpm: [1, 2]\n  s: \"a\"\n  samples:\n    - id: 1\n      v: 2\n"
        );
    }

    #[test]
    fn times_and_sizes() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(1_709_210_096_789_000_000), "2024-02-29T12:34:56.789Z");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(secs(0.0123), "12.3 ms");
    }
}
