//! XCDR2 (little endian) encoding of schema tables, driven at run time by the `.bfbs` schema.
//!
//! The mapping is the one `vbus-codegen` uses for IDL (see `codegen/src/idl.rs`): a table is an
//! `@appendable struct` (DHEADER + members), a FlatBuffers struct a `@final struct`, enums are
//! 32-bit IDL enums, optional scalars and nested tables/structs are `@optional` (one presence
//! byte in XCDR2), vectors are `sequence<T>` (a DHEADER before sequences of non-primitive
//! elements). Values travel through vbus-reflect's JSON form, so the FlatBuffers side is
//! verified by the same rules as every other vbus receiver.
//!
//! Supported member types: bool, 8..64-bit integers, float, double, string, enums (not
//! `bit_flags`), FlatBuffers structs, nested tables, vectors of scalars, enums and strings.
//! Anything else (unions, fixed arrays, vectors of tables/structs, `bit_flags` enums) is refused
//! when the bridge starts, with the field named, instead of being sent in a shape a peer would
//! mis-decode.

use serde_json::{Map, Number, Value};
use vbus_reflect::{BaseType, Enum, Field, Object, Schema, Type};

/// Why a sample could not be encoded or decoded.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CdrError {
    /// The schema type has a member the bridge cannot map.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The CDR bytes do not match the schema type (wrong type on the wire, truncated, ...).
    #[error("CDR does not match the schema: {0}")]
    Mismatch(String),
    /// The JSON form of the FlatBuffers sample has a value the member cannot hold.
    #[error("value: {0}")]
    Value(String),
}

/// Encapsulation identifier (first two bytes, big endian) of XCDR2 little-endian data.
pub const CDR2_LE: u16 = 0x0007;
/// Delimited XCDR2 (appendable types), little endian.
pub const D_CDR2_LE: u16 = 0x0009;
/// Classic CDR (XCDR1), little endian.
pub const CDR_LE: u16 = 0x0001;

/// Check that every member of table `name` (recursively) has a mapping.
pub fn check_type(schema: &Schema, name: &str) -> Result<(), CdrError> {
    let obj = schema
        .object(name)
        .ok_or_else(|| CdrError::Unsupported(format!("no type `{name}` in the schema")))?;
    check_obj(schema, obj, 0)
}

fn check_obj(schema: &Schema, obj: &Object, depth: usize) -> Result<(), CdrError> {
    if depth > 16 {
        return Err(CdrError::Unsupported(format!("{}: nesting deeper than 16", obj.name)));
    }
    for f in live(obj) {
        let ctx = format!("{}.{}", obj.name, f.name);
        match f.ty.base {
            BaseType::Vector => {
                let e = f.ty.element_type();
                match e.base {
                    b if b.is_scalar() => check_scalar(schema, &e, &ctx)?,
                    BaseType::String => {}
                    _ => return Err(CdrError::Unsupported(format!("{ctx}: vectors of tables/structs"))),
                }
            }
            BaseType::Obj => {
                let o = schema
                    .object_of(&f.ty)
                    .ok_or_else(|| CdrError::Unsupported(format!("{ctx}: bad type")))?;
                check_obj(schema, o, depth + 1)?;
            }
            BaseType::String => {}
            b if b.is_scalar() => check_scalar(schema, &f.ty, &ctx)?,
            _ => return Err(CdrError::Unsupported(format!("{ctx}: {} fields", schema.type_name(&f.ty)))),
        }
    }
    Ok(())
}

fn check_scalar(schema: &Schema, t: &Type, ctx: &str) -> Result<(), CdrError> {
    if t.base == BaseType::UType {
        return Err(CdrError::Unsupported(format!("{ctx}: unions")));
    }
    if enum_of(schema, t).is_some_and(|e| e.bit_flags) {
        return Err(CdrError::Unsupported(format!("{ctx}: bit_flags enums")));
    }
    Ok(())
}

pub(crate) fn live(obj: &Object) -> impl Iterator<Item = &Field> {
    obj.fields.iter().filter(|f| !f.deprecated)
}

pub(crate) fn enum_of<'s>(schema: &'s Schema, t: &Type) -> Option<&'s Enum> {
    if t.base.is_integer() && t.index >= 0 { schema.enum_of(t) } else { None }
}

/// Whether the member is `@optional` in the IDL (see `codegen/src/idl.rs`).
pub(crate) fn is_optional(f: &Field) -> bool {
    (f.ty.base.is_scalar() && f.optional) || (f.ty.base == BaseType::Obj && !f.required)
}

// ---------------------------------------------------------------------------------------------
// Encoding

struct W {
    buf: Vec<u8>,
}

impl W {
    fn pos(&self) -> usize {
        self.buf.len() - 4
    }
    fn align(&mut self, n: usize) {
        let n = n.min(4);
        while !self.pos().is_multiple_of(n) {
            self.buf.push(0);
        }
    }
    fn put(&mut self, bytes: &[u8]) {
        self.align(bytes.len());
        self.buf.extend_from_slice(bytes);
    }
    fn u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }
    /// Reserve a DHEADER; returns its position to patch.
    fn dheader(&mut self) -> usize {
        self.align(4);
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        at
    }
    fn patch(&mut self, at: usize) {
        let len = (self.buf.len() - at - 4) as u32;
        self.buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }
    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32 + 1);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }
}

/// Encode the JSON form (vbus-reflect's) of table `name` as a serialized XCDR2 sample, with the
/// 4-byte encapsulation header.
///
/// `final_top` treats the top-level table as a `@final` struct (for DDS types defined elsewhere,
/// such as ddsperf's).
pub fn encode(schema: &Schema, name: &str, json: &Value, final_top: bool) -> Result<Vec<u8>, CdrError> {
    let obj = schema.object(name).ok_or_else(|| CdrError::Unsupported(format!("no type `{name}`")))?;
    let fin = obj.is_struct || final_top;
    let id = if fin { CDR2_LE } else { D_CDR2_LE };
    let mut w = W { buf: id.to_be_bytes().to_vec() };
    w.buf.extend_from_slice(&[0, 0]);
    enc_obj(schema, obj, json, &mut w, fin)?;
    let pad = (4 - w.pos() % 4) % 4;
    w.buf.extend(std::iter::repeat_n(0, pad));
    w.buf[3] = pad as u8;
    Ok(w.buf)
}

fn enc_obj(schema: &Schema, obj: &Object, json: &Value, w: &mut W, fin: bool) -> Result<(), CdrError> {
    let map = json.as_object().ok_or_else(|| CdrError::Value(format!("{}: expected an object", obj.name)))?;
    let dh = (!fin).then(|| w.dheader());
    for f in live(obj) {
        let v = map.get(&f.name).filter(|v| !v.is_null());
        let ctx = || format!("{}.{}", obj.name, f.name);
        if is_optional(f) {
            w.buf.push(u8::from(v.is_some()));
            let Some(v) = v else { continue };
            enc_value(schema, &f.ty, v, w, &ctx)?;
        } else {
            match v {
                Some(v) => enc_value(schema, &f.ty, v, w, &ctx)?,
                None => enc_default(schema, f, w, &ctx)?,
            }
        }
    }
    if let Some(at) = dh {
        w.patch(at);
    }
    Ok(())
}

fn enc_default(schema: &Schema, f: &Field, w: &mut W, ctx: &dyn Fn() -> String) -> Result<(), CdrError> {
    match f.ty.base {
        BaseType::String => w.string(""),
        BaseType::Vector => w.u32(0),
        b if b.is_scalar() => {
            let v = if matches!(b, BaseType::Float | BaseType::Double) {
                Value::from(f.default_real)
            } else {
                Value::from(f.default_integer)
            };
            enc_scalar(schema, &f.ty, &v, w, ctx)?
        }
        _ => return Err(CdrError::Value(format!("{}: missing", ctx()))),
    }
    Ok(())
}

fn enc_value(
    schema: &Schema,
    t: &Type,
    v: &Value,
    w: &mut W,
    ctx: &dyn Fn() -> String,
) -> Result<(), CdrError> {
    match t.base {
        BaseType::String => {
            w.string(v.as_str().ok_or_else(|| CdrError::Value(format!("{}: expected a string", ctx())))?)
        }
        BaseType::Obj => {
            let o = schema.object_of(t).ok_or_else(|| CdrError::Unsupported(ctx()))?;
            enc_obj(schema, o, v, w, o.is_struct)?
        }
        BaseType::Vector => {
            let items =
                v.as_array().ok_or_else(|| CdrError::Value(format!("{}: expected an array", ctx())))?;
            let e = t.element_type();
            let primitive = e.base.is_scalar() && enum_of(schema, &e).is_none();
            let dh = (!primitive).then(|| w.dheader());
            w.u32(items.len() as u32);
            for item in items {
                enc_value(schema, &e, item, w, ctx)?;
            }
            if let Some(at) = dh {
                w.patch(at);
            }
        }
        b if b.is_scalar() => enc_scalar(schema, t, v, w, ctx)?,
        _ => return Err(CdrError::Unsupported(ctx())),
    }
    Ok(())
}

fn num_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "nan" | "+nan" | "-nan" => Some(f64::NAN),
            "inf" | "+inf" | "infinity" => Some(f64::INFINITY),
            "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

fn enc_scalar(
    schema: &Schema,
    t: &Type,
    v: &Value,
    w: &mut W,
    ctx: &dyn Fn() -> String,
) -> Result<(), CdrError> {
    let bad = || CdrError::Value(format!("{}: `{v}` does not fit {:?}", ctx(), t.base));
    if let Some(e) = enum_of(schema, t) {
        let n = match v {
            Value::String(s) => e.value_named(s).map(|x| x.value).ok_or_else(bad)?,
            _ => v.as_i64().ok_or_else(bad)?,
        };
        w.put(&i32::try_from(n).map_err(|_| bad())?.to_le_bytes());
        return Ok(());
    }
    let int = || -> Result<i128, CdrError> {
        match v {
            Value::Bool(b) => Ok(i128::from(*b)),
            _ => v.as_i64().map(i128::from).or_else(|| v.as_u64().map(i128::from)).ok_or_else(bad),
        }
    };
    match t.base {
        BaseType::Bool => w.buf.push(u8::from(int()? != 0)),
        BaseType::Byte => w.put(&i8::try_from(int()?).map_err(|_| bad())?.to_le_bytes()),
        BaseType::UByte => w.put(&u8::try_from(int()?).map_err(|_| bad())?.to_le_bytes()),
        BaseType::Short => w.put(&i16::try_from(int()?).map_err(|_| bad())?.to_le_bytes()),
        BaseType::UShort => w.put(&u16::try_from(int()?).map_err(|_| bad())?.to_le_bytes()),
        BaseType::Int => w.put(&i32::try_from(int()?).map_err(|_| bad())?.to_le_bytes()),
        BaseType::UInt => w.put(&u32::try_from(int()?).map_err(|_| bad())?.to_le_bytes()),
        BaseType::Long => w.put(&i64::try_from(int()?).map_err(|_| bad())?.to_le_bytes()),
        BaseType::ULong => w.put(&u64::try_from(int()?).map_err(|_| bad())?.to_le_bytes()),
        BaseType::Float => w.put(&(num_f64(v).ok_or_else(bad)? as f32).to_le_bytes()),
        BaseType::Double => w.put(&num_f64(v).ok_or_else(bad)?.to_le_bytes()),
        _ => return Err(bad()),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Decoding

struct R<'a> {
    b: &'a [u8],
    pos: usize,
    end: usize,
    /// Classic CDR: alignment up to 8, no DHEADERs (final types only).
    xcdr1: bool,
}

impl<'a> R<'a> {
    fn align(&mut self, n: usize) {
        let n = if self.xcdr1 { n } else { n.min(4) };
        self.pos = self.pos.div_ceil(n) * n;
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], CdrError> {
        if self.pos + n > self.end {
            return Err(CdrError::Mismatch(format!("truncated at byte {} reading {what}", self.pos)));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn prim<const N: usize>(&mut self, what: &str) -> Result<[u8; N], CdrError> {
        self.align(N);
        Ok(self.take(N, what)?.try_into().expect("length checked"))
    }
    fn u32(&mut self, what: &str) -> Result<u32, CdrError> {
        Ok(u32::from_le_bytes(self.prim::<4>(what)?))
    }
    fn string(&mut self, what: &str) -> Result<String, CdrError> {
        let n = self.u32(what)? as usize;
        if n == 0 {
            return Err(CdrError::Mismatch(format!("{what}: string of length 0")));
        }
        let s = self.take(n, what)?;
        if s[n - 1] != 0 {
            return Err(CdrError::Mismatch(format!("{what}: string not NUL-terminated")));
        }
        String::from_utf8(s[..n - 1].to_vec())
            .map_err(|_| CdrError::Mismatch(format!("{what}: invalid UTF-8")))
    }
}

/// Decode a serialized XCDR2 sample (with encapsulation header) of table `name` into
/// vbus-reflect's JSON form. Anything that does not fit the schema type is an error.
///
/// With `final_top` the top-level table is a `@final` struct, and classic XCDR1 (`CDR_LE`, as
/// C writers of final types send by default) is accepted as well.
pub fn decode(schema: &Schema, name: &str, data: &[u8], final_top: bool) -> Result<Value, CdrError> {
    let obj = schema.object(name).ok_or_else(|| CdrError::Unsupported(format!("no type `{name}`")))?;
    if data.len() < 4 {
        return Err(CdrError::Mismatch("shorter than the encapsulation header".into()));
    }
    let id = u16::from_be_bytes([data[0], data[1]]);
    let fin = obj.is_struct || final_top;
    let want = if fin { CDR2_LE } else { D_CDR2_LE };
    let xcdr1 = fin && id == CDR_LE;
    if id != want && !xcdr1 {
        return Err(CdrError::Mismatch(format!(
            "encapsulation {id:#06x}, expected {want:#06x} (XCDR2 little endian) for {name}"
        )));
    }
    let pad = usize::from(data[3] & 3);
    let body = &data[4..];
    let mut r = R { b: body, pos: 0, end: body.len().saturating_sub(pad), xcdr1 };
    let v = dec_obj(schema, obj, &mut r, 0, fin)?;
    Ok(v)
}

fn dec_obj(schema: &Schema, obj: &Object, r: &mut R<'_>, depth: usize, fin: bool) -> Result<Value, CdrError> {
    if depth > 16 {
        return Err(CdrError::Mismatch("nested too deep".into()));
    }
    let outer_end = r.end;
    if !fin {
        let len = r.u32(&obj.name)? as usize;
        if r.pos + len > r.end {
            return Err(CdrError::Mismatch(format!("{}: DHEADER {len} beyond the data", obj.name)));
        }
        r.end = r.pos + len;
    }
    let mut map = Map::new();
    for f in live(obj) {
        let ctx = format!("{}.{}", obj.name, f.name);
        if !fin && r.pos >= r.end {
            // Appendable: a shorter (older) version of the type; the rest keep their defaults.
            break;
        }
        if is_optional(f) {
            let present = r.take(1, &ctx)?[0];
            if present > 1 {
                return Err(CdrError::Mismatch(format!("{ctx}: presence flag {present}")));
            }
            if present == 0 {
                continue;
            }
        }
        let v = dec_value(schema, &f.ty, r, &ctx, depth)?;
        map.insert(f.name.clone(), v);
    }
    if !fin {
        // Members appended by a newer version of the type are skipped.
        r.pos = r.end;
        r.end = outer_end;
    }
    Ok(Value::Object(map))
}

fn dec_value(schema: &Schema, t: &Type, r: &mut R<'_>, ctx: &str, depth: usize) -> Result<Value, CdrError> {
    Ok(match t.base {
        BaseType::String => Value::String(r.string(ctx)?),
        BaseType::Obj => {
            let o = schema.object_of(t).ok_or_else(|| CdrError::Unsupported(ctx.into()))?;
            dec_obj(schema, o, r, depth + 1, o.is_struct)?
        }
        BaseType::Vector => {
            let e = t.element_type();
            let primitive = (e.base.is_scalar() && enum_of(schema, &e).is_none()) || r.xcdr1;
            let outer_end = r.end;
            if !primitive {
                let len = r.u32(ctx)? as usize;
                if r.pos + len > r.end {
                    return Err(CdrError::Mismatch(format!("{ctx}: DHEADER {len} beyond the data")));
                }
                r.end = r.pos + len;
            }
            let n = r.u32(ctx)? as usize;
            if n > r.end - r.pos {
                return Err(CdrError::Mismatch(format!("{ctx}: sequence of {n} beyond the data")));
            }
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(dec_value(schema, &e, r, ctx, depth)?);
            }
            if !primitive {
                if r.pos != r.end {
                    return Err(CdrError::Mismatch(format!(
                        "{ctx}: sequence length disagrees with its DHEADER"
                    )));
                }
                r.end = outer_end;
            }
            Value::Array(items)
        }
        b if b.is_scalar() => dec_scalar(schema, t, r, ctx)?,
        _ => return Err(CdrError::Unsupported(ctx.into())),
    })
}

fn float(v: f64) -> Value {
    if v.is_nan() {
        Value::from("nan")
    } else if v.is_infinite() {
        Value::from(if v > 0.0 { "inf" } else { "-inf" })
    } else {
        Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null)
    }
}

fn dec_scalar(schema: &Schema, t: &Type, r: &mut R<'_>, ctx: &str) -> Result<Value, CdrError> {
    if let Some(e) = enum_of(schema, t) {
        let n = i32::from_le_bytes(r.prim::<4>(ctx)?);
        return match e.value_of(i64::from(n)) {
            Some(v) => Ok(Value::from(v.name.clone())),
            None => Err(CdrError::Mismatch(format!("{ctx}: {n} is not a value of {}", e.name))),
        };
    }
    Ok(match t.base {
        BaseType::Bool => match r.take(1, ctx)?[0] {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            x => return Err(CdrError::Mismatch(format!("{ctx}: boolean {x}"))),
        },
        BaseType::Byte => Value::from(i8::from_le_bytes(r.prim::<1>(ctx)?)),
        BaseType::UByte => Value::from(u8::from_le_bytes(r.prim::<1>(ctx)?)),
        BaseType::Short => Value::from(i16::from_le_bytes(r.prim::<2>(ctx)?)),
        BaseType::UShort => Value::from(u16::from_le_bytes(r.prim::<2>(ctx)?)),
        BaseType::Int => Value::from(i32::from_le_bytes(r.prim::<4>(ctx)?)),
        BaseType::UInt => Value::from(u32::from_le_bytes(r.prim::<4>(ctx)?)),
        BaseType::Long => Value::from(i64::from_le_bytes(r.prim::<8>(ctx)?)),
        BaseType::ULong => Value::from(u64::from_le_bytes(r.prim::<8>(ctx)?)),
        BaseType::Float => float(f64::from(f32::from_le_bytes(r.prim::<4>(ctx)?))),
        BaseType::Double => float(f64::from_le_bytes(r.prim::<8>(ctx)?)),
        _ => return Err(CdrError::Unsupported(ctx.into())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::from_bfbs(vbus_test_support::dds::SCHEMA_BFBS).unwrap()
    }

    #[test]
    fn status_round_trip_and_layout() {
        let s = schema();
        let json = serde_json::json!({
            "id": 7, "speed_kph": 1.5, "gear": "Reverse", "label": "x", "odometer_m": 5,
            "temp_c": -3, "rpm": [1.0, 2.5], "tags": ["a", "bc"], "ok": true, "ratio": 0.25
        });
        let cdr = encode(&s, "demo.dds.Status", &json, false).unwrap();
        // D_CDR2_LE, then the DHEADER, id, speed, gear (int32), label.
        assert_eq!(&cdr[..4], &[0, 9, 0, cdr[3]]);
        assert_eq!(u32::from_le_bytes(cdr[8..12].try_into().unwrap()), 7);
        assert_eq!(i32::from_le_bytes(cdr[16..20].try_into().unwrap()), 1);
        assert_eq!(&cdr[20..26], &[2, 0, 0, 0, b'x', 0]);
        assert_eq!(cdr.len() % 4, 0);
        let back = decode(&s, "demo.dds.Status", &cdr, false).unwrap();
        assert_eq!(back["gear"], "Reverse");
        assert_eq!(back["temp_c"], -3);
        assert!(back.get("accel").is_none());
        assert_eq!(back["tags"], serde_json::json!(["a", "bc"]));
        assert_eq!(back["ratio"], 0.25);
    }

    #[test]
    fn other_types_are_refused_not_misread() {
        let s = schema();
        // A Ping whose bytes would put 7 where Status has its enum: not a Gear value.
        let ping =
            encode(&s, "demo.dds.Ping", &serde_json::json!({"seq": 5, "sent_ns": 7, "data": [1, 2]}), false)
                .unwrap();
        assert!(matches!(decode(&s, "demo.dds.Status", &ping, false), Err(CdrError::Mismatch(_))));
        // Truncated data and a wrong encapsulation.
        let st = encode(&s, "demo.dds.Status", &serde_json::json!({"id": 1}), false).unwrap();
        assert!(matches!(
            decode(&s, "demo.dds.Status", &st[..st.len() - 8], false),
            Err(CdrError::Mismatch(_))
        ));
        let mut xcdr1 = st.clone();
        xcdr1[1] = 1;
        assert!(matches!(decode(&s, "demo.dds.Status", &xcdr1, false), Err(CdrError::Mismatch(_))));
        // Values that do not fit the member type.
        let e = encode(&s, "demo.dds.Status", &serde_json::json!({"id": -1}), false);
        assert!(matches!(e, Err(CdrError::Value(_))));
    }
}
