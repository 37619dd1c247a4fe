//! The one mapping from CAN messages to FlatBuffers tables.
//!
//! Code generation (`vbus-codegen`, at build time) renders it as `.fbs` text, and the CAN
//! bridge (at run time, with a DBC loaded from disk) builds payloads with exactly that layout
//! and computes the same type hash, so a subscriber compiled from the DBC reads what the bridge
//! publishes. Keeping it here, next to the parser, is what makes "one DBC model" true.
//!
//! # Mapping
//! * A message becomes `table <Name>` in namespace `can.<bus>`, with topic
//!   `can/<bus>/<Message name>` and, when the DBC gives `GenMsgCycleTime`, that period.
//! * Each signal becomes one field, in DBC order (field id = signal index), named by the signal
//!   name in `snake_case` (made unique and a valid identifier; see [`field_name`]).
//! * Field type: signals that decode to integers ([`Signal::decodes_to_integer`]) get the
//!   smallest FlatBuffers integer type holding every physical value of their bit field
//!   (`int8` ... `uint64`), float32/float64 signals without scaling `float`/`double`, every other
//!   signal `double` (the exact value `raw * factor + offset`, as the reference decoder computes).
//! * Integer signals with value descriptions (`VAL_`) whose factor is 1 and offset 0 get an
//!   `enum <Name><Signal>` of that integer type, labels sanitized and made unique, values
//!   ascending; values outside the field are left out.
//! * Multiplexed signals (present only for some multiplexer values) are optional scalars
//!   (`= null`), so "absent" differs from 0; other fields keep the FlatBuffers default (0).

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::{Database, Message, Signal, ValueType};

/// A FlatBuffers scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// `int8`
    I8,
    /// `uint8`
    U8,
    /// `int16`
    I16,
    /// `uint16`
    U16,
    /// `int32`
    I32,
    /// `uint32`
    U32,
    /// `int64`
    I64,
    /// `uint64`
    U64,
    /// `float` (float32)
    F32,
    /// `double` (float64)
    F64,
}

impl Scalar {
    /// The `.fbs` spelling.
    pub fn fbs(self) -> &'static str {
        match self {
            Scalar::I8 => "byte",
            Scalar::U8 => "ubyte",
            Scalar::I16 => "short",
            Scalar::U16 => "ushort",
            Scalar::I32 => "int",
            Scalar::U32 => "uint",
            Scalar::I64 => "long",
            Scalar::U64 => "ulong",
            Scalar::F32 => "float",
            Scalar::F64 => "double",
        }
    }

    /// The spelling in vbus-codegen's canonical form (type hash grammar).
    pub fn canonical(self) -> &'static str {
        match self {
            Scalar::I8 => "int8",
            Scalar::U8 => "uint8",
            Scalar::I16 => "int16",
            Scalar::U16 => "uint16",
            Scalar::I32 => "int32",
            Scalar::U32 => "uint32",
            Scalar::I64 => "int64",
            Scalar::U64 => "uint64",
            Scalar::F32 => "float32",
            Scalar::F64 => "float64",
        }
    }

    /// Size in bytes.
    pub fn size(self) -> usize {
        match self {
            Scalar::I8 | Scalar::U8 => 1,
            Scalar::I16 | Scalar::U16 => 2,
            Scalar::I32 | Scalar::U32 | Scalar::F32 => 4,
            Scalar::I64 | Scalar::U64 | Scalar::F64 => 8,
        }
    }

    /// The smallest integer type holding `lo..=hi`, if any.
    fn integer_for(lo: i128, hi: i128) -> Option<Scalar> {
        const CANDIDATES: [(Scalar, i128, i128); 8] = [
            (Scalar::U8, 0, u8::MAX as i128),
            (Scalar::I8, i8::MIN as i128, i8::MAX as i128),
            (Scalar::U16, 0, u16::MAX as i128),
            (Scalar::I16, i16::MIN as i128, i16::MAX as i128),
            (Scalar::U32, 0, u32::MAX as i128),
            (Scalar::I32, i32::MIN as i128, i32::MAX as i128),
            (Scalar::U64, 0, u64::MAX as i128),
            (Scalar::I64, i64::MIN as i128, i64::MAX as i128),
        ];
        CANDIDATES.iter().find(|(_, a, b)| *a <= lo && hi <= *b).map(|c| c.0)
    }
}

/// One field of a message table.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    /// Field name in the schema.
    pub name: String,
    /// Index of the signal in [`Message::signals`] (also the field id).
    pub signal: usize,
    /// Scalar type (the enum's underlying type for enum fields).
    pub ty: Scalar,
    /// Index into [`TableSpec::enums`] when the field is an enum.
    pub enum_index: Option<usize>,
    /// Optional scalar (`= null`): the signal is multiplexed.
    pub optional: bool,
}

/// An enum made from a signal's value descriptions.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumSpec {
    /// Enum name (unqualified).
    pub name: String,
    /// Underlying integer type.
    pub underlying: Scalar,
    /// `(label, value)` in ascending value order.
    pub values: Vec<(String, i64)>,
}

/// The FlatBuffers table of one CAN message.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// Namespace, `can.<bus>`.
    pub namespace: String,
    /// Table name (unqualified).
    pub name: String,
    /// Topic key, `can/<bus>/<message name>`.
    pub key: String,
    /// Cycle time from the DBC.
    pub period_ms: Option<u32>,
    /// Fields, one per signal, in signal order.
    pub fields: Vec<FieldSpec>,
    /// Enums used by the fields.
    pub enums: Vec<EnumSpec>,
}

impl TableSpec {
    /// Fully qualified type name, `can.<bus>.<Name>`.
    pub fn type_name(&self) -> String {
        format!("{}.{}", self.namespace, self.name)
    }

    /// vbus-codegen's canonical form of this table (see its `hash` module for the grammar).
    pub fn canonical(&self) -> String {
        let mut out = format!("table {}{{", self.type_name());
        let mut seen = BTreeSet::new();
        for (id, f) in self.fields.iter().enumerate() {
            let _ = write!(out, "{id}:{}:", f.name);
            match f.enum_index {
                Some(e) => {
                    let e = &self.enums[e];
                    let fqn = format!("{}.{}", self.namespace, e.name);
                    if seen.insert(fqn.clone()) {
                        let _ = write!(out, "enum {fqn}:{}{{", e.underlying.canonical());
                        for (label, v) in &e.values {
                            let _ = write!(out, "{label}={v};");
                        }
                        out.push('}');
                    } else {
                        let _ = write!(out, "@{fqn}");
                    }
                }
                None => out.push_str(f.ty.canonical()),
            }
            out.push(';');
        }
        out.push('}');
        out
    }

    /// The type hash: FNV-1a 64 of [`TableSpec::canonical`].
    pub fn type_hash(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.canonical().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }
}

/// A valid identifier from arbitrary text: non-alphanumerics become `_`, a leading digit gets a
/// `_` prefix, empty text becomes `_`.
pub fn identifier(text: &str) -> String {
    let mut s: String = text.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// `snake_case` of a signal name, as a valid identifier that is no Rust or FlatBuffers keyword
/// (those get a trailing `_`).
pub fn field_name(signal: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = identifier(signal).chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = matches!(prev, Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit())
                || (matches!(prev, Some(p) if p.is_ascii_uppercase())
                    && matches!(next, Some(n) if n.is_ascii_lowercase()));
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    // flatc's Rust generator strips nothing, but keywords would not compile.
    const RESERVED: &[&str] = &[
        "as",
        "async",
        "await",
        "break",
        "const",
        "continue",
        "crate",
        "dyn",
        "else",
        "enum",
        "extern",
        "false",
        "fn",
        "for",
        "if",
        "impl",
        "in",
        "let",
        "loop",
        "match",
        "mod",
        "move",
        "mut",
        "pub",
        "ref",
        "return",
        "self",
        "static",
        "struct",
        "super",
        "trait",
        "true",
        "type",
        "unsafe",
        "use",
        "where",
        "while",
        "abstract",
        "become",
        "box",
        "do",
        "final",
        "macro",
        "override",
        "priv",
        "typeof",
        "unsized",
        "virtual",
        "yield",
        "try",
        "union",
        "table",
        "namespace",
        "include",
        "attribute",
        "root_type",
        "file_identifier",
        "file_extension",
        "rpc_service",
        "bool",
        "byte",
        "ubyte",
        "short",
        "ushort",
        "int",
        "uint",
        "long",
        "ulong",
        "float",
        "double",
        "string",
        "null",
    ];
    if RESERVED.contains(&out.as_str()) || out.starts_with("__") {
        out.push('_');
    }
    out
}

/// `UpperCamelCase` type name part from arbitrary text.
pub fn type_name_part(text: &str) -> String {
    let mut out = String::new();
    for word in identifier(text).split('_').filter(|w| !w.is_empty()) {
        let mut cs = word.chars();
        if let Some(c) = cs.next() {
            out.push(c.to_ascii_uppercase());
            out.extend(cs);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'M');
    }
    out
}

fn unique(name: String, taken: &mut BTreeSet<String>) -> String {
    if taken.insert(name.clone()) {
        return name;
    }
    (2..).map(|n| format!("{name}_{n}")).find(|c| taken.insert(c.clone())).expect("some suffix is free")
}

/// Field type of a signal (see the module docs).
pub fn signal_scalar(s: &Signal) -> Scalar {
    match s.value_type {
        ValueType::Float32 if s.factor == 1.0 && s.offset == 0.0 => Scalar::F32,
        ValueType::Integer if s.decodes_to_integer() => {
            let (lo, hi) = s.raw_range();
            let (f, o) = (s.factor as i128, s.offset as i128);
            let (a, b) = (lo * f + o, hi * f + o);
            Scalar::integer_for(a.min(b), a.max(b)).unwrap_or(Scalar::F64)
        }
        _ => Scalar::F64,
    }
}

/// Build the tables of every message of `db` on bus `bus`, with names unique across them.
pub fn tables(db: &Database, bus: &str) -> Vec<TableSpec> {
    let mut type_names = BTreeSet::new();
    db.messages().iter().map(|m| table(m, bus, &mut type_names)).collect()
}

fn table(m: &Message, bus: &str, type_names: &mut BTreeSet<String>) -> TableSpec {
    let name = unique(type_name_part(&m.name), type_names);
    let mut field_names = BTreeSet::new();
    let mut enums = Vec::new();
    let mut fields = Vec::new();
    for (i, s) in m.signals.iter().enumerate() {
        let ty = signal_scalar(s);
        let integral_enum = !s.value_descriptions.is_empty()
            && s.value_type == ValueType::Integer
            && s.factor == 1.0
            && s.offset == 0.0
            && !matches!(ty, Scalar::F32 | Scalar::F64);
        let enum_index = integral_enum.then(|| {
            let (lo, hi) = s.raw_range();
            let mut labels = BTreeSet::new();
            let values: Vec<(String, i64)> = s
                .value_descriptions
                .iter()
                .filter(|(v, _)| (lo..=hi).contains(&i128::from(**v)))
                .map(|(v, label)| (unique(type_name_part(label), &mut labels), *v))
                .collect();
            enums.push(EnumSpec {
                name: unique(format!("{name}{}", type_name_part(&s.name)), type_names),
                underlying: ty,
                values,
            });
            enums.len() - 1
        });
        // An enum without any value in range would be an empty FlatBuffers enum: plain field.
        let enum_index = enum_index.filter(|&e| {
            if enums[e].values.is_empty() {
                type_names.remove(&enums[e].name);
                enums.pop();
                false
            } else {
                true
            }
        });
        fields.push(FieldSpec {
            name: unique(field_name(&s.name), &mut field_names),
            signal: i,
            ty,
            enum_index,
            optional: s.multiplexing.multiplexed_by.is_some(),
        });
    }
    TableSpec {
        namespace: format!("can.{}", identifier(bus)),
        name,
        key: format!("can/{bus}/{}", m.name.replace(['/', '*', '$', '?', '#', '@'], "_")),
        period_ms: m.cycle_time_ms,
        fields,
        enums,
    }
}

/// The `.fbs` text of `tables`, with `vbus_topic` / `vbus_period_ms` attributes and doc comments
/// from the DBC (units, ranges, comments).
pub fn render(db: &Database, tables: &[TableSpec]) -> String {
    let mut out = String::from("// Generated from a DBC file by vbus-dbc's mapping; do not edit.\n");
    let Some(first) = tables.first() else { return out };
    let _ = writeln!(out, "namespace {};\n", first.namespace);
    for (t, m) in tables.iter().zip(db.messages()) {
        for e in &t.enums {
            let _ = writeln!(out, "enum {} : {} {{", e.name, e.underlying.fbs());
            for (label, v) in &e.values {
                let _ = writeln!(out, "  {label} = {v},");
            }
            out.push_str("}\n\n");
        }
        let _ = writeln!(
            out,
            "/// CAN {} 0x{:X}{}, {} bytes",
            if m.extended { "29-bit" } else { "11-bit" },
            m.id,
            if m.is_fd { " (FD)" } else { "" },
            m.size
        );
        if let Some(c) = &m.comment {
            for line in c.lines() {
                let _ = writeln!(out, "/// {}", line.trim());
            }
        }
        let mut attrs = format!("vbus_topic: \"{}\"", t.key);
        if let Some(p) = t.period_ms.filter(|p| *p > 0) {
            let _ = write!(attrs, ", vbus_period_ms: {p}");
        }
        let _ = writeln!(out, "table {} ({attrs}) {{", t.name);
        for f in &t.fields {
            let s = &m.signals[f.signal];
            let mut doc = format!(
                "{}: {}|{}@{}",
                s.name,
                s.start_bit,
                s.length,
                if s.signed { "signed" } else { "unsigned" }
            );
            if !s.unit.is_empty() {
                let _ = write!(doc, " [{}]", s.unit);
            }
            if let (Some(lo), Some(hi)) = (s.min, s.max) {
                let _ = write!(doc, " range {lo}..{hi}");
            }
            let _ = writeln!(out, "  /// {doc}");
            if let Some(c) = &s.comment {
                for line in c.lines() {
                    let _ = writeln!(out, "  /// {}", line.trim());
                }
            }
            let ty = match f.enum_index {
                Some(e) => t.enums[e].name.clone(),
                None => f.ty.fbs().to_string(),
            };
            let default = match (f.optional, f.enum_index) {
                (true, _) => " = null".to_string(),
                // flatc requires an enum field's default to be one of its values.
                (false, Some(e)) if !t.enums[e].values.iter().any(|(_, v)| *v == 0) => {
                    format!(" = {}", t.enums[e].values[0].0)
                }
                _ => String::new(),
            };
            let _ = writeln!(out, "  {}: {ty}{default};", f.name);
        }
        out.push_str("}\n\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_identifiers() {
        assert_eq!(field_name("VehicleSpeed"), "vehicle_speed");
        assert_eq!(field_name("ESP_v_Signal"), "esp_v_signal");
        assert_eq!(field_name("type"), "type_");
        assert_eq!(field_name("2ndGear"), "_2nd_gear");
        assert_eq!(type_name_part("2017_5"), "M2017_5".replace("_", ""));
        assert_eq!(identifier("a-b c"), "a_b_c");
    }

    #[test]
    fn types_fit_the_physical_range() {
        let db = Database::parse(
            br#"BO_ 100 M: 8 X
 SG_ A : 0|8@1+ (1,0) [0|255] "" X
 SG_ B : 8|8@1- (1,0) [0|0] "" X
 SG_ C : 16|8@1+ (1,-40) [0|0] "" X
 SG_ D : 24|16@1+ (0.1,0) [0|0] "km/h" X
 SG_ E M : 40|2@1+ (1,0) [0|3] "" X
 SG_ F m1 : 42|4@1+ (1,0) [0|3] "" X
VAL_ 100 E 0 "Off" 1 "On" 2 "On" 3 "err-3" ;
"#,
        )
        .unwrap();
        let t = &tables(&db, "pt")[0];
        let tys: Vec<_> = t.fields.iter().map(|f| f.ty).collect();
        assert_eq!(tys, [Scalar::U8, Scalar::I8, Scalar::I16, Scalar::F64, Scalar::U8, Scalar::U8]);
        assert!(t.fields[5].optional && !t.fields[4].optional);
        assert_eq!(
            t.enums[0].values,
            [("Off".into(), 0), ("On".into(), 1), ("On_2".into(), 2), ("Err3".into(), 3)]
        );
        assert_eq!(t.key, "can/pt/M");
        assert!(t.canonical().starts_with(
            "table can.pt.M{0:a:uint8;1:b:int8;2:c:int16;3:d:float64;4:e:enum can.pt.ME:uint8{Off=0;"
        ));
        let fbs = render(&db, &tables(&db, "pt"));
        assert!(fbs.contains("f: ubyte = null;"), "{fbs}");
    }
}
