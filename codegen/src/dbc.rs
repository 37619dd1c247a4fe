//! DBC (CAN database) → FlatBuffers schema with topics.
//!
//! The DBC is parsed by `vbus-dbc` ([`vbus_dbc::Database::parse`]) and mapped by
//! [`vbus_dbc::fbs::map`] — the same mapping the CAN bridge uses at run time to publish, so the
//! bridge's samples and these generated types agree to the type hash. This module renders that
//! mapping as a schema, with documentation and attributes.
//!
//! # Mapping
//!
//! * Namespace `<namespace>.<bus>` (default `can.<bus>`); the bus name is made an identifier.
//! * **Each CAN message becomes a table** and a topic `<key_prefix>/<bus>/<Message>` (default
//!   `can/<bus>/<Message>`, with the message name as the DBC gives it, or its long name
//!   `SystemMessageLongSymbol`). The table name is the message name in `UpperCamelCase`
//!   (`ENGINE_DATA` → `EngineData`, `2017_5` → `_2017_5`). A cycle time (`GenMsgCycleTime`)
//!   becomes `vbus_period_ms`, hence a deadline of 3 cycles.
//! * **Each signal becomes a field**, in DBC order (field id = signal index), named in
//!   `snake_case` (`EngineSpeed` → `engine_speed`). The field type holds the *scaled* value:
//!   - 1-bit unsigned unscaled signals without value labels: `bool`;
//!   - integer signals whose factor and offset are integers: the smallest integer type that
//!     holds every scaled raw value (`ubyte`..`ulong` when it cannot be negative, else
//!     `byte`..`long`);
//!   - unscaled IEEE float32 signals: `float`;
//!   - every other signal: `double`, so the field holds exactly the f64 value
//!     `raw * factor + offset` that the reference decoder (cantools) computes.
//! * **Value labels** (`VAL_`) of an unscaled integer signal become an enum whose values are
//!   the labels made identifiers (`"Not available"` → `Not_available`; a leading digit gets
//!   `_`, duplicates get `_<value>`), when every labelled value fits the field type. Signals
//!   with the same labels and field type share one enum (large DBCs repeat `0 "Off" 1 "On"`
//!   hundreds of times), named after the `VAL_TABLE_` with those labels if there is one, else
//!   `<Table><Signal>` of the first signal using it. Other labels are listed in the field's doc
//!   comment.
//! * **Multiplexed signals** are optional scalars (`= null`): absent when their multiplexer
//!   does not select them.
//! * Unit, minimum and maximum become the field attributes `vbus_unit`, `vbus_min`,
//!   `vbus_max`; the CAN id, size, senders, bit layout, scaling, comments and multiplexing
//!   go into doc comments.
//! * Names are sanitized deterministically: characters outside `[A-Za-z0-9_]` become `_`, and
//!   names that would collide in the generated code (after case conversion, or with the
//!   types flatc derives such as `<Table>T`) get `_2`, `_3`, ... in file order.
//! * Parser warnings (repairs such as a `VAL_` for a missing signal) are listed as comments at
//!   the top of the schema; with [`DbcOptions::deny_warnings`] they are errors.

use std::fmt::Write;
use std::io;
use std::path::Path;

use vbus_dbc::{ByteOrder, Database, Message, Signal, ValueType, fbs};

/// Options of the DBC conversion.
#[derive(Clone, Debug)]
pub struct DbcOptions {
    /// First key segment (default `can`): topics are `<key_prefix>/<bus>/<Message>`.
    pub key_prefix: String,
    /// First namespace component (default `can`): tables are `<namespace>.<bus>.<Table>`.
    pub namespace: String,
    /// Treat parser warnings as errors (default false: they are listed in the schema).
    pub deny_warnings: bool,
}

impl Default for DbcOptions {
    fn default() -> Self {
        Self { key_prefix: "can".into(), namespace: "can".into(), deny_warnings: false }
    }
}

/// Read a DBC file and convert it (see the module docs). Errors name the file and DBC line.
pub fn dbc_file_to_fbs(path: &Path, bus: &str, opts: &DbcOptions) -> io::Result<String> {
    let bytes =
        std::fs::read(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let db = Database::parse(&bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))?;
    if opts.deny_warnings && !db.warnings.is_empty() {
        let lines: Vec<String> = db.warnings.iter().map(|w| format!("{}: {w}", path.display())).collect();
        return Err(io::Error::new(io::ErrorKind::InvalidData, lines.join("\n")));
    }
    let origin = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    database_to_fbs(&db, bus, &origin, opts)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))
}

fn fmt_f64(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 { format!("{}", x as i64) } else { format!("{x}") }
}

/// Convert a parsed database (see the module docs). `origin` names the input in comments.
///
/// Names, types, enums and keys come from [`vbus_dbc::fbs::map`], the mapping the CAN bridge
/// uses at run time; this function renders it with documentation and attributes.
pub fn database_to_fbs(db: &Database, bus: &str, origin: &str, opts: &DbcOptions) -> Result<String, String> {
    let tables = fbs::map(
        db,
        bus,
        &fbs::FbsOptions { key_prefix: opts.key_prefix.clone(), namespace: opts.namespace.clone() },
    )?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// @generated by vbus-codegen {} from DBC {origin} (bus `{bus}`). Do not edit.",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, "// One table and one topic per CAN message (see vbus_codegen::dbc).");
    for w in &db.warnings {
        let _ = writeln!(out, "// DBC warning: {}", crate::doc_text(&w.to_string()));
    }
    let ns = tables.first().map(|t| t.namespace.clone()).unwrap_or_else(|| {
        format!("{}.{}", vbus_dbc::naming::fbs_ident(&opts.namespace), vbus_dbc::naming::fbs_ident(bus))
    });
    let _ = writeln!(out, "\nnamespace {ns};");
    for t in &tables {
        message_fbs(&mut out, &db.messages()[t.message], t);
    }
    Ok(out)
}

fn message_fbs(out: &mut String, m: &Message, t: &fbs::TableSpec) {
    for e in t.enums.iter().filter(|e| e.declared_here) {
        let first = t.fields.iter().find(|f| f.enum_index.is_some_and(|i| t.enums[i].name == e.name));
        let sname = first.map(|f| m.signals[f.signal].name.as_str()).unwrap_or("");
        let _ = writeln!(
            out,
            "\n/// Value labels of signal `{}` of message `{}` (and of every signal with the same labels).",
            crate::doc_text(sname),
            crate::doc_text(&m.name)
        );
        let vals: Vec<String> = e.values.iter().map(|(id, v, _)| format!("{id} = {v}")).collect();
        let _ = writeln!(out, "enum {} : {} {{ {} }}", e.name, e.underlying.fbs(), vals.join(", "));
    }

    out.push('\n');
    if let Some(c) = &m.comment {
        let _ = writeln!(out, "/// {}", crate::doc_text(c));
    }
    let mut facts = vec![format!(
        "CAN message `{}`: id {:#x} ({}), {} bytes{}",
        crate::doc_text(&m.name),
        m.id,
        if m.extended { "extended" } else { "standard" },
        m.size,
        if m.is_fd { ", CAN FD" } else { "" }
    )];
    if let Some(c) = t.period_ms {
        facts.push(format!("cycle {c} ms"));
    }
    if !m.senders.is_empty() {
        facts.push(format!("sent by {}", crate::doc_text(&m.senders.join(", "))));
    }
    let _ = writeln!(out, "/// {}.", facts.join(", "));
    let mut attrs = vec![format!("vbus_topic: {:?}", t.key)];
    if let Some(c) = t.period_ms {
        attrs.push(format!("vbus_period_ms: {c}"));
    }
    let _ = writeln!(out, "table {} ({}) {{", t.name, attrs.join(", "));
    for f in &t.fields {
        let s: &Signal = &m.signals[f.signal];
        if let Some(c) = &s.comment {
            let _ = writeln!(out, "  /// {}", crate::doc_text(c));
        }
        let mut d = format!(
            "Signal `{}`: bit {}, {} bits, {}, {}",
            crate::doc_text(&s.name),
            s.start_bit,
            s.length,
            if s.byte_order == ByteOrder::LittleEndian { "little endian" } else { "big endian" },
            match s.value_type {
                ValueType::Integer if s.signed => "signed",
                ValueType::Integer => "unsigned",
                ValueType::Float32 => "float32",
                ValueType::Float64 => "float64",
            }
        );
        if s.factor != 1.0 || s.offset != 0.0 {
            let sign = if s.offset < 0.0 { '-' } else { '+' };
            let _ = write!(d, ", value = raw * {} {sign} {}", fmt_f64(s.factor), fmt_f64(s.offset.abs()));
        }
        if s.min.is_some() || s.max.is_some() {
            let _ = write!(
                d,
                ", range [{}, {}]",
                s.min.map_or("?".into(), fmt_f64),
                s.max.map_or("?".into(), fmt_f64)
            );
        }
        if !s.unit.is_empty() {
            let _ = write!(d, " {}", crate::doc_text(&s.unit));
        }
        if let Some((lo, hi)) = f.range {
            let _ = write!(d, " (field holds {lo}..={hi})");
        }
        if s.multiplexing.is_multiplexer {
            d.push_str("; multiplexer");
        }
        if let Some(mux) = &s.multiplexing.multiplexed_by {
            let sel = &m.signals[mux.multiplexer].name;
            let vals: Vec<String> = mux
                .values
                .iter()
                .map(|r| if r.min == r.max { r.min.to_string() } else { format!("{}-{}", r.min, r.max) })
                .collect();
            let _ = write!(
                d,
                "; present when `{}` is {} (absent otherwise)",
                crate::doc_text(sel),
                vals.join(", ")
            );
        }
        let _ = writeln!(out, "  /// {d}.");
        if f.enum_index.is_none() && !s.value_descriptions.is_empty() {
            let labels: Vec<String> =
                s.value_descriptions.iter().take(32).map(|(k, v)| format!("{k} = {v}")).collect();
            let more = if s.value_descriptions.len() > 32 { ", ..." } else { "" };
            let _ = writeln!(out, "  /// Labels: {}{more}.", crate::doc_text(&labels.join(", ")));
        }
        let ty = match f.enum_index {
            Some(e) if f.optional => t.enums[e].name.clone(),
            Some(e) => format!("{} = {}", t.enums[e].name, t.enums[e].default_ident()),
            None => f.ty.fbs().to_string(),
        };
        let mut fattrs = Vec::new();
        if !s.unit.is_empty() {
            fattrs.push(format!("vbus_unit: {:?}", s.unit));
        }
        if let Some(v) = s.min {
            fattrs.push(format!("vbus_min: \"{}\"", fmt_f64(v)));
        }
        if let Some(v) = s.max {
            fattrs.push(format!("vbus_max: \"{}\"", fmt_f64(v)));
        }
        let fattrs = if fattrs.is_empty() { String::new() } else { format!(" ({})", fattrs.join(", ")) };
        let null = if f.optional { " = null" } else { "" };
        let _ = writeln!(out, "  {}: {ty}{null}{fattrs};", f.name);
    }
    let _ = writeln!(out, "}}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_database() {
        let db = Database::parse(
            b"BO_ 100 ENGINE_DATA: 8 ECU\n SG_ EngineSpeed : 0|16@1+ (0.25,0) [0|16383.75] \"rpm\" X\n SG_ Gear : 16|3@1+ (1,0) [0|7] \"\" X\n SG_ Flag : 19|1@1+ (1,0) [0|1] \"\" X\n SG_ Temp : 24|8@1+ (1,-40) [-40|215] \"degC\" X\n\
BO_ 101 Mux: 8 ECU\n SG_ Sel M : 0|8@1+ (1,0) [0|0] \"\" X\n SG_ A m1 : 8|8@1- (1,0) [0|0] \"\" X\n\
VAL_ 100 Gear 0 \"Park\" 1 \"Reverse\" 2 \"Neutral\" 3 \"Drive\" ;\n\
BA_DEF_ BO_ \"GenMsgCycleTime\" INT 0 10000;\nBA_ \"GenMsgCycleTime\" BO_ 100 20;\n",
        )
        .unwrap();
        let fbs = database_to_fbs(&db, "pt", "test.dbc", &DbcOptions::default()).unwrap();
        assert!(fbs.contains("namespace can.pt;"), "{fbs}");
        assert!(
            fbs.contains("enum EngineDataGear : ubyte { Park = 0, Reverse = 1, Neutral = 2, Drive = 3 }"),
            "{fbs}"
        );
        assert!(
            fbs.contains("table EngineData (vbus_topic: \"can/pt/ENGINE_DATA\", vbus_period_ms: 20) {"),
            "{fbs}"
        );
        assert!(
            fbs.contains(
                "  engine_speed: double (vbus_unit: \"rpm\", vbus_min: \"0\", vbus_max: \"16383.75\");"
            ),
            "{fbs}"
        );
        assert!(fbs.contains("  gear: EngineDataGear = Park (vbus_min: \"0\", vbus_max: \"7\");"), "{fbs}");
        assert!(fbs.contains("  flag: bool (vbus_min: \"0\", vbus_max: \"1\");"), "{fbs}");
        assert!(fbs.contains("value = raw * 1 - 40, range [-40, 215] degC (field holds -40..=215)"), "{fbs}");
        assert!(fbs.contains("  temp: short (vbus_unit: \"degC\""), "{fbs}");
        assert!(fbs.contains("  sel: ubyte;"), "{fbs}");
        assert!(fbs.contains("  a: byte = null;"), "{fbs}");
    }
}
