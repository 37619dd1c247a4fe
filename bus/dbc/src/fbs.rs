//! The one mapping from CAN messages to FlatBuffers tables.
//!
//! `vbus-codegen` renders it as `.fbs` (at build time) and the CAN bridge builds payloads with
//! exactly its layout and type hash (at run time, from a DBC loaded from disk), so a subscriber
//! compiled from the DBC reads what the bridge publishes. Keeping the mapping here, next to the
//! parser, is what makes "one DBC model" true.
//!
//! # Mapping
//! * Namespace `<namespace>.<bus>` (default `can.<bus>`); the bus name is made an identifier.
//! * **Each CAN message becomes a table** and a topic `<key_prefix>/<bus>/<Message>` (default
//!   `can/<bus>/<Message>`, with the message name as the DBC gives it, or its long name). The
//!   table name is the message name in `UpperCamelCase` (`ENGINE_DATA` → `EngineData`, `2017_5`
//!   → `_2017_5`). The cycle time (`GenMsgCycleTime`) is kept as the period.
//! * **Each signal becomes a field**, in DBC order (field id = signal index), named in
//!   `snake_case`. The field type holds the *physical* value exactly as the reference decoder
//!   computes it:
//!   - 1-bit unsigned unscaled signals without value labels: `bool`;
//!   - integer signals whose factor and offset are integers: the smallest integer type that
//!     holds every scaled raw value (`ubyte`..`ulong` when it cannot be negative, else
//!     `byte`..`long`);
//!   - unscaled IEEE float32 signals: `float`;
//!   - every other signal: `double` (`raw * factor + offset` in f64).
//! * **Value labels** (`VAL_`) of an unscaled integer signal become an enum (labels made
//!   identifiers: `"Not available"` → `Not_available`, a leading digit gets `_`, duplicates
//!   get `_<value>`) when every labelled value fits the field. Signals with the same labels and
//!   type share one enum, named after the `VAL_TABLE_` with those labels if there is one, else
//!   `<Table><Signal>` of the first signal using it.
//! * **Multiplexed signals** are optional scalars (`= null`): absent when not selected.
//! * Names are sanitized deterministically; names that would collide in the generated code
//!   (after case conversion, or with the types flatc derives, such as `<Table>T`) get `_2`,
//!   `_3`, ... in file order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::naming::{fbs_ident, flatc_snake, snake_case, words};
use crate::{Database, Message, Signal, ValueType};

/// A FlatBuffers scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scalar {
    /// `bool`
    Bool,
    /// `byte` (int8)
    I8,
    /// `ubyte` (uint8)
    U8,
    /// `short` (int16)
    I16,
    /// `ushort` (uint16)
    U16,
    /// `int` (int32)
    I32,
    /// `uint` (uint32)
    U32,
    /// `long` (int64)
    I64,
    /// `ulong` (uint64)
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
            Scalar::Bool => "bool",
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

    /// The spelling in vbus-codegen's canonical form (the type-hash grammar).
    pub fn canonical(self) -> &'static str {
        match self {
            Scalar::Bool => "bool",
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

    /// The smallest integer type holding `lo..=hi`: unsigned when `lo >= 0`.
    fn integer_for(lo: i128, hi: i128) -> Option<Scalar> {
        if lo >= 0 {
            [(Scalar::U8, u8::MAX as i128), (Scalar::U16, u16::MAX as i128), (Scalar::U32, u32::MAX as i128)]
                .into_iter()
                .chain([(Scalar::U64, u64::MAX as i128)])
                .find(|(_, max)| hi <= *max)
                .map(|(t, _)| t)
        } else {
            [
                (Scalar::I8, i8::MIN as i128, i8::MAX as i128),
                (Scalar::I16, i16::MIN as i128, i16::MAX as i128),
                (Scalar::I32, i32::MIN as i128, i32::MAX as i128),
                (Scalar::I64, i64::MIN as i128, i64::MAX as i128),
            ]
            .into_iter()
            .find(|(_, min, max)| lo >= *min && hi <= *max)
            .map(|(t, _, _)| t)
        }
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
    /// Range of physical values of integer fields.
    pub range: Option<(i128, i128)>,
}

/// An enum made from value labels.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumSpec {
    /// Enum name (unqualified).
    pub name: String,
    /// Underlying integer type.
    pub underlying: Scalar,
    /// `(identifier, value, original label)` in ascending value order.
    pub values: Vec<(String, i64, String)>,
    /// This table is the first to use the enum: the schema declares it just before the table.
    pub declared_here: bool,
}

impl EnumSpec {
    /// The identifier of the default value: the label of 0, else the first one.
    pub fn default_ident(&self) -> &str {
        let i = self.values.iter().position(|v| v.1 == 0).unwrap_or(0);
        &self.values[i].0
    }
}

/// The FlatBuffers table of one CAN message.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// Namespace, `<namespace>.<bus>`.
    pub namespace: String,
    /// Table name (unqualified).
    pub name: String,
    /// Topic key, `<key_prefix>/<bus>/<message>`.
    pub key: String,
    /// Index of the message in [`Database::messages`].
    pub message: usize,
    /// Cycle time from the DBC.
    pub period_ms: Option<u32>,
    /// Fields, one per signal, in signal order.
    pub fields: Vec<FieldSpec>,
    /// Enums used by the fields.
    pub enums: Vec<EnumSpec>,
}

impl TableSpec {
    /// Fully qualified type name, `<namespace>.<Name>`.
    pub fn type_name(&self) -> String {
        format!("{}.{}", self.namespace, self.name)
    }

    /// vbus-codegen's canonical form of this table (see its `hash` module for the grammar).
    pub fn canonical(&self) -> String {
        let mut out = format!("table {}{{", self.type_name());
        let mut seen = BTreeSet::new();
        for f in &self.fields {
            let _ = write!(out, "{}:{}:", f.signal, f.name);
            match f.enum_index {
                Some(e) => {
                    let e = &self.enums[e];
                    let fqn = format!("{}.{}", self.namespace, e.name);
                    if seen.insert(fqn.clone()) {
                        let _ = write!(out, "enum {fqn}:{}{{", e.underlying.canonical());
                        for (ident, v, _) in &e.values {
                            let _ = write!(out, "{ident}={v};");
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

/// Enums declared so far, by (underlying type, labels): signals with equal labels share one.
type Declared = BTreeMap<(Scalar, Vec<(i64, String)>), EnumSpec>;

/// Options of the mapping.
#[derive(Clone, Debug)]
pub struct FbsOptions {
    /// First key segment (default `can`): topics are `<key_prefix>/<bus>/<Message>`.
    pub key_prefix: String,
    /// First namespace component (default `can`): tables are `<namespace>.<bus>.<Table>`.
    pub namespace: String,
}

impl Default for FbsOptions {
    fn default() -> Self {
        Self { key_prefix: "can".into(), namespace: "can".into() }
    }
}

/// Is `s` usable as a key chunk as it is?
pub fn key_chunk_ok(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('@')
        && !s.chars().any(|c| matches!(c, '/' | '*' | '$' | '?' | '#') || c.is_whitespace() || c.is_control())
}

/// `UpperCamelCase` type name of a DBC name.
pub fn type_name(name: &str) -> String {
    let mut s = String::new();
    let mut prev_digit = false;
    for w in words(name) {
        let all_upper = !w.chars().any(|c| c.is_ascii_lowercase());
        let starts_digit = w.starts_with(|c: char| c.is_ascii_digit());
        if prev_digit && starts_digit {
            s.push('_');
        }
        let mut cs = w.chars();
        if let Some(f) = cs.next() {
            s.push(f.to_ascii_uppercase());
            let rest: String = cs.collect();
            s.push_str(&if all_upper { rest.to_ascii_lowercase() } else { rest });
        }
        prev_digit = w.ends_with(|c: char| c.is_ascii_digit());
    }
    fbs_ident(&s)
}

/// Names taken in one namespace: types, the types flatc derives from them, and flatc's file
/// names (types whose snake case coincides would overwrite each other's file).
#[derive(Default)]
struct Names(BTreeSet<String>);

impl Names {
    fn derived(name: &str, is_enum: bool) -> Vec<String> {
        let mut v = vec![name.to_string(), format!("file:{}", flatc_snake(name))];
        if is_enum {
            v.push(format!("const:{}", flatc_snake(name).to_ascii_uppercase()));
        } else {
            for s in ["T", "Args", "Builder", "Offset", "Msg"] {
                v.push(format!("{name}{s}"));
            }
        }
        v
    }

    fn claim(&mut self, base: &str, is_enum: bool) -> String {
        let mut cand = base.to_string();
        let mut n = 2;
        loop {
            let d = Self::derived(&cand, is_enum);
            if d.iter().all(|x| !self.0.contains(x)) {
                self.0.extend(d);
                return cand;
            }
            cand = format!("{base}_{n}");
            n += 1;
        }
    }
}

/// Accessor names flatc generates on every table, which fields must not take.
const RESERVED_FIELDS: &[&str] =
    &["unpack", "create", "init_from_table", "key_compare_less_than", "key_compare_with_value"];

/// Field type of a signal and, for integer fields, the range of physical values.
pub fn field_type(s: &Signal) -> (Scalar, Option<(i128, i128)>) {
    match s.value_type {
        ValueType::Float32 if s.factor == 1.0 && s.offset == 0.0 => return (Scalar::F32, None),
        ValueType::Float32 | ValueType::Float64 => return (Scalar::F64, None),
        ValueType::Integer => {}
    }
    if s.length == 1 && !s.signed && s.factor == 1.0 && s.offset == 0.0 && s.value_descriptions.is_empty() {
        return (Scalar::Bool, None);
    }
    if s.decodes_to_integer() {
        let (rlo, rhi) = s.raw_range();
        let (f, o) = (s.factor as i128, s.offset as i128);
        let a = rlo.checked_mul(f).and_then(|v| v.checked_add(o));
        let b = rhi.checked_mul(f).and_then(|v| v.checked_add(o));
        if let (Some(a), Some(b)) = (a, b) {
            let (lo, hi) = (a.min(b), a.max(b));
            if let Some(t) = Scalar::integer_for(lo, hi) {
                return (t, Some((lo, hi)));
            }
        }
    }
    (Scalar::F64, None)
}

/// Enum value identifiers for labels: sanitized, unique.
pub fn label_idents(labels: &[(i64, &str)]) -> Vec<String> {
    let mut used = BTreeSet::new();
    let mut out = Vec::new();
    for (v, l) in labels {
        let mut id: String = l.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        while id.contains("__") {
            id = id.replace("__", "_");
        }
        let id = id.trim_matches('_').to_string();
        let mut id = if id.is_empty() { format!("V{}", v.unsigned_abs()) } else { fbs_ident(&id) };
        if matches!(id.as_str(), "variant_name" | "Self" | "self" | "NONE") {
            id.push('_');
        }
        if !used.insert(id.clone()) {
            id = format!("{id}_{}", if *v < 0 { format!("m{}", v.unsigned_abs()) } else { v.to_string() });
            let base = id.clone();
            let mut n = 2;
            while !used.insert(id.clone()) {
                id = format!("{base}_{n}");
                n += 1;
            }
        }
        out.push(id);
    }
    out
}

/// Map every message of `db` on bus `bus` (see the module docs). Fails only for a bus name
/// that is not a key chunk.
pub fn map(db: &Database, bus: &str, opts: &FbsOptions) -> Result<Vec<TableSpec>, String> {
    if !key_chunk_ok(bus) {
        return Err(format!(
            "bus name `{bus}` is not a valid key segment (no `/`, wildcards, whitespace or leading `@`)"
        ));
    }
    let namespace = format!("{}.{}", fbs_ident(&opts.namespace), fbs_ident(bus));
    let mut names = Names::default();
    let mut keys = BTreeSet::new();
    // Named value tables (`VAL_TABLE_`), to name the enums of signals that use them.
    let tables: BTreeMap<Vec<(i64, String)>, &String> = db
        .value_tables
        .iter()
        .map(|(name, t)| (t.iter().map(|(k, v)| (*k, v.clone())).collect(), name))
        .collect();
    // Enums already declared, by (underlying type, labels).
    let mut declared = Declared::new();
    let mut out = Vec::new();
    for (mi, m) in db.messages().iter().enumerate() {
        out.push(table(mi, m, bus, opts, &namespace, &mut names, &mut keys, &tables, &mut declared));
    }
    Ok(out)
}

/// [`map`] with default options; the bus name must be a key chunk.
pub fn tables(db: &Database, bus: &str) -> Vec<TableSpec> {
    map(db, bus, &FbsOptions::default()).unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn table(
    mi: usize,
    m: &Message,
    bus: &str,
    opts: &FbsOptions,
    namespace: &str,
    names: &mut Names,
    keys: &mut BTreeSet<String>,
    value_tables: &BTreeMap<Vec<(i64, String)>, &String>,
    declared: &mut Declared,
) -> TableSpec {
    let name = names.claim(&type_name(&m.name), false);
    let base = if key_chunk_ok(&m.name) { m.name.clone() } else { fbs_ident(&m.name) };
    let mut chunk = base.clone();
    let mut n = 2;
    while !keys.insert(chunk.clone()) {
        chunk = format!("{base}_{n}");
        n += 1;
    }
    let key = format!("{}/{bus}/{chunk}", opts.key_prefix);
    let mut fields = Vec::new();
    let mut enums: Vec<EnumSpec> = Vec::new();
    let mut used_fields = BTreeSet::new();
    for (i, s) in m.signals.iter().enumerate() {
        let mut fname = snake_case(&s.name);
        if RESERVED_FIELDS.contains(&fname.as_str()) {
            fname.push('_');
        }
        let base = fname.clone();
        let mut k = 2;
        while !used_fields.insert(fname.clone()) {
            fname = format!("{base}_{k}");
            k += 1;
        }
        let (ty, range) = field_type(s);
        let mut enum_index = None;
        let mut field_ty = ty;
        let unscaled_int = s.value_type == ValueType::Integer && s.factor == 1.0 && s.offset == 0.0;
        let labels: Vec<(i64, &str)> = s.value_descriptions.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if unscaled_int && !labels.is_empty() {
            let (rlo, rhi) = s.raw_range();
            let int_ty = if ty == Scalar::Bool { Scalar::U8 } else { ty };
            if labels.iter().all(|(v, _)| (rlo..=rhi).contains(&i128::from(*v)))
                && !matches!(int_ty, Scalar::F32 | Scalar::F64)
            {
                let owned: Vec<(i64, String)> = labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect();
                let reg = (int_ty, owned.clone());
                let spec = match declared.get(&reg) {
                    Some(e) => EnumSpec { declared_here: false, ..e.clone() },
                    None => {
                        let base = match value_tables.get(&owned) {
                            Some(t) => type_name(t),
                            None => format!("{name}{}", type_name(&s.name)),
                        };
                        let ename = names.claim(&base, true);
                        let idents = label_idents(&labels);
                        let e = EnumSpec {
                            name: ename,
                            underlying: int_ty,
                            values: idents
                                .into_iter()
                                .zip(&labels)
                                .map(|(id, (v, l))| (id, *v, (*l).to_string()))
                                .collect(),
                            declared_here: true,
                        };
                        declared.insert(reg, e.clone());
                        e
                    }
                };
                field_ty = int_ty;
                enum_index = Some(match enums.iter().position(|e| e.name == spec.name) {
                    Some(p) => p,
                    None => {
                        enums.push(spec);
                        enums.len() - 1
                    }
                });
            }
        }
        fields.push(FieldSpec {
            name: fname,
            signal: i,
            ty: field_ty,
            enum_index,
            optional: s.multiplexing.multiplexed_by.is_some(),
            range,
        });
    }
    TableSpec {
        namespace: namespace.to_string(),
        name,
        key,
        message: mi,
        period_ms: m.cycle_time_ms.filter(|c| *c > 0),
        fields,
        enums,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(type_name("ENGINE_DATA"), "EngineData");
        assert_eq!(type_name("2017_5"), "_2017_5");
        assert_eq!(type_name("BSM_LEFT"), "BsmLeft");
        let mut n = Names::default();
        assert_eq!(n.claim("Gear", false), "Gear");
        assert_eq!(n.claim("GearT", false), "GearT_2");
        assert_eq!(n.claim("Gear", false), "Gear_2");
        assert_eq!(
            label_idents(&[(0, "Not available"), (1, "4WD"), (2, "4WD"), (3, "")]),
            vec!["Not_available", "_4WD", "_4WD_2", "V3"]
        );
    }

    #[test]
    fn types_and_enums() {
        let db = Database::parse(
            br#"BO_ 100 ENGINE_DATA: 8 ECU
 SG_ EngineSpeed : 0|16@1+ (0.25,0) [0|16383.75] "rpm" X
 SG_ Gear : 16|3@1+ (1,0) [0|7] "" X
 SG_ Flag : 19|1@1+ (1,0) [0|1] "" X
 SG_ Temp : 24|8@1+ (1,-40) [-40|215] "degC" X
 SG_ Gear2 : 32|3@1+ (1,0) [0|7] "" X
BO_ 101 Mux: 8 ECU
 SG_ Sel M : 0|8@1+ (1,0) [0|0] "" X
 SG_ A m1 : 8|8@1- (1,0) [0|0] "" X
VAL_ 100 Gear 0 "Park" 1 "Reverse" 2 "Neutral" 3 "Drive" ;
VAL_ 100 Gear2 0 "Park" 1 "Reverse" 2 "Neutral" 3 "Drive" ;
"#,
        )
        .unwrap();
        let t = tables(&db, "pt");
        let tys: Vec<_> = t[0].fields.iter().map(|f| f.ty).collect();
        assert_eq!(tys, [Scalar::F64, Scalar::U8, Scalar::Bool, Scalar::I16, Scalar::U8]);
        assert_eq!(t[0].enums.len(), 1, "Gear and Gear2 share one enum");
        assert_eq!(t[0].enums[0].name, "EngineDataGear");
        assert_eq!(t[0].key, "can/pt/ENGINE_DATA");
        assert!(t[1].fields[1].optional && !t[1].fields[0].optional);
        assert!(t[0].canonical().starts_with(
            "table can.pt.EngineData{0:engine_speed:float64;1:gear:enum can.pt.EngineDataGear:uint8{Park=0;"
        ));
        assert!(t[0].canonical().contains(";4:gear2:@can.pt.EngineDataGear;"), "{}", t[0].canonical());
    }
}
