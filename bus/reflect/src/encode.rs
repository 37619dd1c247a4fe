//! JSON -> payload, checked against the schema with errors that name the JSON path.

use serde_json::{Map, Value};

use crate::{
    BaseType, Enum, Error, Field, Object, Schema, Type,
    builder::{Builder, Inline, TooLarge},
    decode::{Path, Seg},
    error::describe,
    suggest::did_you_mean,
};

/// Build a `type_name` payload (finished without file identifier, as the bus sends it) from
/// JSON shaped as [`crate::decode_to_json`] prints it.
///
/// Fields left out get their schema default; `null` counts as left out. Like generated builders,
/// scalars equal to their default are not written (optional scalars always are).
/// Unknown and deprecated fields, missing required fields, wrong JSON types and out-of-range
/// numbers are errors naming the path: `$.kph: expected float, found string "fast"`.
pub fn encode_from_json(schema: &Schema, type_name: &str, json: &Value) -> Result<Vec<u8>, Error> {
    let obj = schema.table(type_name)?;
    let mut e = Encoder { s: schema, b: Builder::new() };
    let mut path = Path::default();
    let root = e.table(obj, json, &mut path)?;
    Ok(e.b.finish(root))
}

struct Encoder<'s> {
    s: &'s Schema,
    b: Builder,
}

fn mismatch<T>(path: &Path<'_>, expected: impl Into<String>, found: impl Into<String>) -> Result<T, Error> {
    Err(Error::Json { path: path.render(), expected: expected.into(), found: found.into() })
}

fn mismatch_at<T>(path: String, expected: impl Into<String>, found: impl Into<String>) -> Result<T, Error> {
    Err(Error::Json { path, expected: expected.into(), found: found.into() })
}

fn too_large(path: &Path<'_>) -> impl Fn(TooLarge) -> Error {
    move |t| Error::Json {
        path: path.render(),
        expected: format!("a {} that fits a FlatBuffer", t.0),
        found: "one too large".into(),
    }
}

impl<'s> Encoder<'s> {
    fn expected_of(&self, t: &Type) -> String {
        match t.base {
            BaseType::Obj => {
                let o = self.s.object_of(t).expect("validated");
                format!("{} {}", if o.is_struct { "struct" } else { "table" }, o.name)
            }
            BaseType::Vector => format!("a vector {}", self.s.type_name(t)),
            BaseType::Array => format!("an array {}", self.s.type_name(t)),
            _ => self.s.type_name(t),
        }
    }

    fn object_json<'j>(
        &self,
        obj: &Object,
        json: &'j Value,
        path: &Path<'_>,
    ) -> Result<&'j Map<String, Value>, Error> {
        let Value::Object(map) = json else {
            let kind = if obj.is_struct { "struct" } else { "table" };
            return mismatch(path, format!("an object ({kind} {})", obj.name), describe(json));
        };
        // Unknown keys: name them, and suggest the closest field.
        for key in map.keys() {
            match obj.field(key) {
                Some(f) if f.deprecated => {
                    return mismatch_at(
                        path.child(key),
                        format!("a field of {} other than `{key}`", obj.name),
                        format!("deprecated field `{key}`"),
                    );
                }
                Some(_) => {}
                None => {
                    let names: Vec<&str> = obj.field_names().collect();
                    let hint = match did_you_mean(key, names.iter().copied()) {
                        Some(s) => format!(" (did you mean `{s}`?)"),
                        None => String::new(),
                    };
                    return mismatch_at(
                        path.child(key),
                        format!("a field of {} ({})", obj.name, names.join(", ")),
                        format!("unknown field `{key}`{hint}"),
                    );
                }
            }
        }
        Ok(map)
    }

    fn table(&mut self, obj: &'s Object, json: &Value, path: &mut Path<'s>) -> Result<usize, Error> {
        let map = self.object_json(obj, json, path)?;
        let mut inline: Vec<(u16, Inline)> = Vec::new();
        for f in obj.fields.iter().filter(|f| !f.deprecated) {
            path.push(Seg::Field(&f.name));
            let value = map.get(&f.name).filter(|v| !v.is_null());
            let Some(value) = value else {
                if f.required {
                    let r =
                        mismatch(path, format!("{} (a required field)", self.expected_of(&f.ty)), "nothing");
                    path.pop();
                    return r;
                }
                path.pop();
                continue;
            };
            if let Some(content) = self.field(obj, f, value, map, path)? {
                inline.push((f.offset, content));
            }
            path.pop();
        }
        self.b.table(inline).map_err(too_large(path))
    }

    fn field(
        &mut self,
        obj: &'s Object,
        f: &'s Field,
        value: &Value,
        map: &Map<String, Value>,
        path: &mut Path<'s>,
    ) -> Result<Option<Inline>, Error> {
        let t = &f.ty;
        Ok(Some(match t.base {
            b if b.is_scalar() => {
                let bytes = self.scalar(t, value, path)?;
                // Like generated builders, leave out what equals the default (a union
                // discriminant NONE must be left out: readers pair it with an absent value).
                if !f.optional && bytes == default_bytes(f) {
                    return Ok(None);
                }
                Inline::Bytes { align: bytes.len(), bytes }
            }
            BaseType::String => Inline::Offset(self.string(value, path)?),
            BaseType::Obj => {
                let child = self.s.object_of(t).expect("validated");
                if child.is_struct {
                    let mut bytes = vec![0u8; child.bytesize];
                    self.strukt(child, value, &mut bytes, path)?;
                    Inline::Bytes { bytes, align: child.minalign }
                } else {
                    Inline::Offset(self.table(child, value, path)?)
                }
            }
            BaseType::Union => {
                let companion = &obj.fields[f.companion.expect("validated companion")];
                let kind = self.union_kind(t, companion, map.get(&companion.name), path)?;
                Inline::Offset(self.union_member(t, kind, value, path)?)
            }
            BaseType::Vector => Inline::Offset(self.vector(obj, f, value, map, path)?),
            _ => return mismatch(path, "a supported type", "a field type this encoder does not handle"),
        }))
    }

    /// The discriminant for union field at `path`, from its `<name>_type` sibling.
    fn union_kind(
        &self,
        t: &Type,
        companion: &Field,
        kind: Option<&Value>,
        path: &Path<'_>,
    ) -> Result<u8, Error> {
        let union = self.s.enum_of(t).expect("validated union");
        let p = path.sibling(&companion.name);
        let members = union.names();
        let Some(kind) = kind.filter(|k| !k.is_null()) else {
            return mismatch_at(
                p,
                format!("the member type of the union next to it (one of {members})"),
                "nothing",
            );
        };
        let v = self.enum_value(union, kind, &p, BaseType::UType)?;
        if v == 0 {
            return mismatch_at(
                p,
                format!("a member type other than NONE when a value is given ({members})"),
                describe(kind),
            );
        }
        Ok(v as u8)
    }

    fn union_member(
        &mut self,
        t: &Type,
        kind: u8,
        value: &Value,
        path: &mut Path<'s>,
    ) -> Result<usize, Error> {
        let union = self.s.enum_of(t).expect("validated union");
        let Some(member) = union.value_of(i64::from(kind)).and_then(|m| m.union_type) else {
            return mismatch(
                path,
                format!("a member of union {}", union.name),
                format!("member number {kind}"),
            );
        };
        match member.base {
            BaseType::Obj => {
                let child = self.s.object_of(&member).expect("validated member");
                if child.is_struct {
                    let mut bytes = vec![0u8; child.bytesize];
                    self.strukt(child, value, &mut bytes, path)?;
                    Ok(self.b.block(&bytes, child.minalign))
                } else {
                    self.table(child, value, path)
                }
            }
            BaseType::String => self.string(value, path),
            _ => mismatch(path, "nothing (union member NONE)", describe(value)),
        }
    }

    fn string(&mut self, value: &Value, path: &Path<'_>) -> Result<usize, Error> {
        match value {
            Value::String(s) => self.b.string(s).map_err(too_large(path)),
            other => mismatch(path, "string", describe(other)),
        }
    }

    fn vector(
        &mut self,
        obj: &'s Object,
        f: &'s Field,
        value: &Value,
        map: &Map<String, Value>,
        path: &mut Path<'s>,
    ) -> Result<usize, Error> {
        let Value::Array(items) = value else {
            return mismatch(path, self.expected_of(&f.ty), describe(value));
        };
        let et = f.ty.element_type();
        match et.base {
            b if b.is_scalar() => {
                let mut bytes = Vec::with_capacity(items.len() * b.size());
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    bytes.extend(self.scalar(&et, item, path)?);
                    path.pop();
                }
                self.b.vector_bytes(&bytes, items.len(), b.size()).map_err(too_large(path))
            }
            BaseType::String => {
                let mut offsets = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    offsets.push(self.string(item, path)?);
                    path.pop();
                }
                self.b.vector_offsets(&offsets).map_err(too_large(path))
            }
            BaseType::Obj => {
                let child = self.s.object_of(&et).expect("validated");
                if child.is_struct {
                    let mut bytes = vec![0u8; child.bytesize * items.len()];
                    for (i, item) in items.iter().enumerate() {
                        path.push(Seg::Index(i));
                        let slot = &mut bytes[i * child.bytesize..(i + 1) * child.bytesize];
                        self.strukt(child, item, slot, path)?;
                        path.pop();
                    }
                    self.b.vector_bytes(&bytes, items.len(), child.minalign).map_err(too_large(path))
                } else {
                    let mut offsets = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        path.push(Seg::Index(i));
                        offsets.push(self.table(child, item, path)?);
                        path.pop();
                    }
                    self.b.vector_offsets(&offsets).map_err(too_large(path))
                }
            }
            BaseType::Union => {
                let companion = &obj.fields[f.companion.expect("validated companion")];
                let kp = path.sibling(&companion.name);
                let kinds = match map.get(&companion.name) {
                    Some(Value::Array(k)) if k.len() == items.len() => k,
                    other => {
                        return mismatch_at(
                            kp,
                            format!(
                                "an array of {} member types, one per element of `{}`",
                                items.len(),
                                f.name
                            ),
                            other.map_or_else(|| "nothing".into(), describe),
                        );
                    }
                };
                let union = self.s.enum_of(&et).expect("validated union");
                let mut offsets = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    let kind =
                        self.enum_value(union, &kinds[i], &format!("{kp}[{i}]"), BaseType::UType)? as u8;
                    if kind == 0 {
                        let r = mismatch(
                            path,
                            "a union member (its type is NONE; NONE cannot be in a vector)",
                            describe(item),
                        );
                        return r;
                    }
                    offsets.push(self.union_member(&et, kind, item, path)?);
                    path.pop();
                }
                self.b.vector_offsets(&offsets).map_err(too_large(path))
            }
            _ => mismatch(path, "a supported vector", "a vector element type this encoder does not handle"),
        }
    }

    /// Write struct `obj` from `json` into `out` (exactly `obj.bytesize` bytes).
    fn strukt(
        &mut self,
        obj: &'s Object,
        json: &Value,
        out: &mut [u8],
        path: &mut Path<'s>,
    ) -> Result<(), Error> {
        let map = self.object_json(obj, json, path)?;
        for f in &obj.fields {
            path.push(Seg::Field(&f.name));
            let Some(v) = map.get(&f.name) else {
                let r = mismatch(
                    path,
                    format!("{} (struct fields are all required)", self.expected_of(&f.ty)),
                    "nothing",
                );
                path.pop();
                return r;
            };
            let at = usize::from(f.offset);
            self.inline(&f.ty, v, &mut out[at..], path)?;
            path.pop();
        }
        Ok(())
    }

    fn inline(&mut self, t: &Type, v: &Value, out: &mut [u8], path: &mut Path<'s>) -> Result<(), Error> {
        match t.base {
            b if b.is_scalar() => {
                let bytes = self.scalar(t, v, path)?;
                out[..bytes.len()].copy_from_slice(&bytes);
                Ok(())
            }
            BaseType::Obj => {
                let child = self.s.object_of(t).expect("validated");
                self.strukt(child, v, &mut out[..child.bytesize], path)
            }
            BaseType::Array => {
                let n = usize::from(t.fixed_length);
                let items = match v {
                    Value::Array(items) if items.len() == n => items,
                    other => {
                        return mismatch(
                            path,
                            format!("an array of exactly {n} elements ({})", self.s.type_name(t)),
                            describe(other),
                        );
                    }
                };
                let et = t.element_type();
                let size = self.s.inline_size(&et);
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    self.inline(&et, item, &mut out[i * size..], path)?;
                    path.pop();
                }
                Ok(())
            }
            _ => mismatch(path, "a struct field type", "an unsupported type"),
        }
    }

    /// The little-endian bytes of scalar `t` from `v`.
    fn scalar(&self, t: &Type, v: &Value, path: &Path<'_>) -> Result<Vec<u8>, Error> {
        let base = t.base;
        match base {
            BaseType::Bool => {
                let b = match v {
                    Value::Bool(b) => *b,
                    Value::Number(n) if n.as_u64() == Some(0) => false,
                    Value::Number(n) if n.as_u64() == Some(1) => true,
                    other => return mismatch(path, "bool (true or false)", describe(other)),
                };
                Ok(vec![u8::from(b)])
            }
            BaseType::Float | BaseType::Double => {
                let x = match v {
                    Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                    Value::String(s) => match s.to_ascii_lowercase().as_str() {
                        "nan" | "+nan" | "-nan" => f64::NAN,
                        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
                        "-inf" | "-infinity" => f64::NEG_INFINITY,
                        _ => return mismatch(path, base.fbs_name(), describe(v)),
                    },
                    other => return mismatch(path, base.fbs_name(), describe(other)),
                };
                if base == BaseType::Float {
                    let f = x as f32;
                    if x.is_finite() && !f.is_finite() {
                        return mismatch(path, "float (within ±3.4e38)", describe(v));
                    }
                    Ok(f.to_le_bytes().to_vec())
                } else {
                    Ok(x.to_le_bytes().to_vec())
                }
            }
            b if b.is_integer() => {
                let n: i128 = match (self.s.enum_of(t).filter(|_| t.index >= 0), v) {
                    (Some(e), _) => {
                        let bits = self.enum_value(e, v, &path.render(), b)?;
                        // Enum values are stored as i64; a ulong enum's large values wrap.
                        if b == BaseType::ULong { i128::from(bits as u64) } else { i128::from(bits) }
                    }
                    (None, Value::Number(n)) => match integer_of(n) {
                        Some(i) => i,
                        None => return mismatch(path, int_expected(b), describe(v)),
                    },
                    (None, other) => return mismatch(path, int_expected(b), describe(other)),
                };
                let (lo, hi) = b.int_range();
                if n < lo || n > hi {
                    return mismatch(path, int_expected(b), describe(v));
                }
                let bytes = (n as u64).to_le_bytes();
                Ok(bytes[..b.size()].to_vec())
            }
            _ => mismatch(path, "a scalar", describe(v)),
        }
    }

    /// The value of enum (or union discriminant) `e` named or numbered by `v`.
    fn enum_value(&self, e: &Enum, v: &Value, path: &str, base: BaseType) -> Result<i64, Error> {
        let expected = || {
            if e.bit_flags {
                format!("{} flags: names from ({}) separated by spaces, or a number", e.name, e.names())
            } else if e.is_union {
                format!("a member type of union {} ({})", e.name, e.names())
            } else {
                format!("a value of enum {} ({}) or a number", e.name, e.names())
            }
        };
        match v {
            Value::String(s) => {
                if let Some(val) = e.value_named(s) {
                    return Ok(val.value);
                }
                if e.bit_flags {
                    let mut acc = 0i64;
                    let mut ok = true;
                    for part in s.split([' ', '|']).filter(|p| !p.is_empty()) {
                        match e.value_named(part) {
                            Some(val) => acc |= val.value,
                            None => ok = false,
                        }
                    }
                    if ok {
                        return Ok(acc);
                    }
                }
                // Union members may be written with or without their namespace.
                if e.is_union
                    && let Some(val) = e.values.iter().find(|val| {
                        val.union_type
                            .and_then(|t| self.s.object_of(&t))
                            .is_some_and(|o| o.name == *s || o.short_name() == s)
                    })
                {
                    return Ok(val.value);
                }
                let hint = match did_you_mean(s, e.values.iter().map(|v| v.name.as_str())) {
                    Some(h) => format!(" (did you mean `{h}`?)"),
                    None => String::new(),
                };
                mismatch_at(path.to_owned(), expected(), format!("{}{hint}", describe(v)))
            }
            Value::Number(n) => match integer_of(n) {
                Some(i) => {
                    let (lo, hi) = base.int_range();
                    let (lo, hi) =
                        if base == BaseType::UType { (lo, hi) } else { e.underlying.base.int_range() };
                    if i < lo || i > hi {
                        return mismatch_at(path.to_owned(), expected(), describe(v));
                    }
                    Ok(i as i64)
                }
                None => mismatch_at(path.to_owned(), expected(), describe(v)),
            },
            other => mismatch_at(path.to_owned(), expected(), describe(other)),
        }
    }
}

/// The bytes of a scalar field's default.
fn default_bytes(f: &Field) -> Vec<u8> {
    match f.ty.base {
        BaseType::Float => (f.default_real as f32).to_le_bytes().to_vec(),
        BaseType::Double => f.default_real.to_le_bytes().to_vec(),
        b => (f.default_integer as u64).to_le_bytes()[..b.size()].to_vec(),
    }
}

fn int_expected(b: BaseType) -> String {
    let (lo, hi) = b.int_range();
    format!("{} (an integer in {lo}..={hi})", b.fbs_name())
}

/// An integral JSON number as i128 (`3.0` counts; `3.5` does not).
fn integer_of(n: &serde_json::Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    let f = n.as_f64()?;
    (f.fract() == 0.0 && f.abs() < 1.8e19).then_some(f as i128)
}
