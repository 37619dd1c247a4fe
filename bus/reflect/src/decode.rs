//! Payload -> JSON: verification with the FlatBuffers verifier, driven by the schema, then a
//! decode with bounds-checked reads.

use flatbuffers::{ForwardsUOffset, InvalidFlatbuffer, TableVerifier, Vector, Verifier, VerifierOptions};
use serde_json::{Map, Value};

use crate::{
    BaseType, Enum, Error, Field, Object, Schema, Type,
    read::{Buf, Scalar, TableRef},
};

/// Bounds applied when verifying untrusted payloads (the defaults are the bus receivers').
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of tables.
    pub max_depth: usize,
    /// Most tables in one payload (shared sub-tables count each time they are reached).
    pub max_tables: usize,
    /// Largest size of the payload expanded as a tree (guards against shared-offset bombs).
    pub max_apparent_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_depth: 64, max_tables: 1_000_000, max_apparent_size: 1 << 31 }
    }
}

/// A location in a message, for errors: `$.samples[2].value`.
#[derive(Default)]
pub(crate) struct Path<'s>(Vec<Seg<'s>>);

#[derive(Clone, Copy)]
pub(crate) enum Seg<'s> {
    Field(&'s str),
    Index(usize),
}

impl<'s> Path<'s> {
    pub fn push(&mut self, s: Seg<'s>) {
        self.0.push(s);
    }
    pub fn pop(&mut self) {
        self.0.pop();
    }
    /// The rendering of this path extended by field `name`.
    pub fn child(&self, name: &str) -> String {
        format!("{}.{name}", self.render())
    }
    /// The rendering of this path with its last segment replaced by field `name`.
    pub fn sibling(&self, name: &str) -> String {
        let parent = Path(self.0[..self.0.len().saturating_sub(1)].to_vec());
        parent.child(name)
    }
    pub fn render(&self) -> String {
        let mut out = String::from("$");
        for s in &self.0 {
            match s {
                Seg::Field(f) => {
                    out.push('.');
                    out.push_str(f);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

/// A verification or decoding failure at a path.
struct Fail {
    path: String,
    reason: String,
}

fn fail<T>(path: &Path<'_>, reason: impl Into<String>) -> Result<T, Fail> {
    Err(Fail { path: path.render(), reason: reason.into() })
}

fn fb(path: &Path<'_>) -> impl Fn(InvalidFlatbuffer) -> Fail {
    move |e| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or("").trim_end_matches('.').to_owned();
        Fail { path: path.render(), reason: first }
    }
}

fn into_error(type_name: &str) -> impl Fn(Fail) -> Error {
    move |f| Error::InvalidPayload { type_name: type_name.to_owned(), path: f.path, reason: f.reason }
}

/// Verify `payload` as a `type_name` table of `schema` with the default [`Limits`].
pub fn verify(schema: &Schema, type_name: &str, payload: &[u8]) -> Result<(), Error> {
    let obj = schema.table(type_name)?;
    verify_object(schema, obj, payload, &Limits::default()).map_err(into_error(type_name))
}

/// A verifier of `type_name` payloads over `schema` (checked to hold that table), with the
/// error as text: what a run-time message type (`vbus::TypeInfo`) of the bindings verifies with.
pub fn verifier(
    schema: std::sync::Arc<Schema>,
    type_name: &str,
) -> Result<impl Fn(&[u8]) -> Result<(), String> + Send + Sync + 'static, Error> {
    schema.table(type_name)?;
    let type_name = type_name.to_owned();
    Ok(move |payload: &[u8]| verify(&schema, &type_name, payload).map_err(|e| e.to_string()))
}

/// Verify `payload` as a `type_name` table of `schema`, then decode it to JSON (see the crate
/// docs for the mapping).
pub fn decode_to_json(schema: &Schema, type_name: &str, payload: &[u8]) -> Result<Value, Error> {
    decode_to_json_with(schema, type_name, payload, &Limits::default())
}

/// [`decode_to_json`] with explicit verification limits.
pub fn decode_to_json_with(
    schema: &Schema,
    type_name: &str,
    payload: &[u8],
    limits: &Limits,
) -> Result<Value, Error> {
    let obj = schema.table(type_name)?;
    verify_object(schema, obj, payload, limits).map_err(into_error(type_name))?;
    let buf = Buf(payload);
    let mut path = Path::default();
    let d = Decoder { s: schema, buf };
    let root = match buf.root() {
        Some(r) => r,
        None => {
            return Err(into_error(type_name)(Fail { path: "$".into(), reason: "no root offset".into() }));
        }
    };
    d.table(obj, root, &mut path).map_err(into_error(type_name))
}

fn verify_object(s: &Schema, obj: &Object, payload: &[u8], limits: &Limits) -> Result<(), Fail> {
    let opts = VerifierOptions {
        max_depth: limits.max_depth,
        max_tables: limits.max_tables,
        max_apparent_size: limits.max_apparent_size,
        ignore_missing_null_terminator: false,
    };
    let mut v = Verifier::new(&opts, payload);
    let mut path = Path::default();
    let root = v.get_uoffset(0).map_err(fb(&path))? as usize;
    verify_table(&mut v, s, obj, root, &mut path)
}

macro_rules! visit_scalar {
    ($tv:expr, $base:expr, $name:expr, $off:expr, $req:expr, $wrap:ident) => {
        match $base {
            BaseType::Bool => $tv.visit_field::<$wrap<bool>>($name, $off, $req),
            BaseType::Byte => $tv.visit_field::<$wrap<i8>>($name, $off, $req),
            BaseType::UByte | BaseType::UType => $tv.visit_field::<$wrap<u8>>($name, $off, $req),
            BaseType::Short => $tv.visit_field::<$wrap<i16>>($name, $off, $req),
            BaseType::UShort => $tv.visit_field::<$wrap<u16>>($name, $off, $req),
            BaseType::Int => $tv.visit_field::<$wrap<i32>>($name, $off, $req),
            BaseType::UInt => $tv.visit_field::<$wrap<u32>>($name, $off, $req),
            BaseType::Long => $tv.visit_field::<$wrap<i64>>($name, $off, $req),
            BaseType::ULong => $tv.visit_field::<$wrap<u64>>($name, $off, $req),
            BaseType::Float => $tv.visit_field::<$wrap<f32>>($name, $off, $req),
            BaseType::Double => $tv.visit_field::<$wrap<f64>>($name, $off, $req),
            _ => unreachable!("scalar base types only"),
        }
    };
}

/// `T` itself, so `visit_scalar!` can name plain scalars and vectors of them alike.
type Plain<T> = T;
type OffsetVec<T> = ForwardsUOffset<Vector<'static, T>>;

fn verify_table<'s>(
    v: &mut Verifier<'_, '_>,
    s: &'s Schema,
    obj: &'s Object,
    pos: usize,
    path: &mut Path<'s>,
) -> Result<(), Fail> {
    let mut tv = v.visit_table(pos).map_err(fb(path))?;
    for f in obj.fields.iter().filter(|f| !f.deprecated) {
        path.push(Seg::Field(&f.name));
        tv = verify_field(tv, s, obj, f, path)?;
        path.pop();
    }
    tv.finish();
    Ok(())
}

fn verify_field<'v, 'o, 'b, 's>(
    mut tv: TableVerifier<'v, 'o, 'b>,
    s: &'s Schema,
    obj: &'s Object,
    f: &'s Field,
    path: &mut Path<'s>,
) -> Result<TableVerifier<'v, 'o, 'b>, Fail> {
    let name = f.name.clone();
    let t = &f.ty;
    let missing = |tv: &mut TableVerifier<'_, '_, '_>, path: &Path<'_>| -> Result<Option<usize>, Fail> {
        let at = tv.deref(f.offset).map_err(fb(path))?;
        if at.is_none() && f.required {
            return fail(path, "required field is missing");
        }
        Ok(at)
    };
    match t.base {
        b if b.is_scalar() => visit_scalar!(tv, b, name, f.offset, f.required, Plain).map_err(fb(path)),
        BaseType::String => {
            tv.visit_field::<ForwardsUOffset<&str>>(name, f.offset, f.required).map_err(fb(path))
        }
        BaseType::Obj => {
            let Some(at) = missing(&mut tv, path)? else { return Ok(tv) };
            let child = s.object_of(t).expect("validated index");
            if child.is_struct {
                tv.verifier().range_in_buffer(at, child.bytesize).map_err(fb(path))?;
            } else {
                let target = at.saturating_add(tv.verifier().get_uoffset(at).map_err(fb(path))? as usize);
                verify_table(tv.verifier(), s, child, target, path)?;
            }
            Ok(tv)
        }
        BaseType::Union => {
            let Some(at) = missing(&mut tv, path)? else { return Ok(tv) };
            let companion = &obj.fields[f.companion.expect("validated companion")];
            let kind = match tv.deref(companion.offset).map_err(fb(path))? {
                Some(kpos) => tv.verifier().get_u8(kpos).map_err(fb(path))?,
                None => 0,
            };
            if kind == 0 {
                return fail(path, format!("union value present but `{}` is NONE", companion.name));
            }
            let target = at.saturating_add(tv.verifier().get_uoffset(at).map_err(fb(path))? as usize);
            verify_union_member(tv.verifier(), s, t, kind, target, path)?;
            Ok(tv)
        }
        BaseType::Vector => match t.element {
            b if b.is_scalar() => {
                visit_scalar!(tv, b, name, f.offset, f.required, OffsetVec).map_err(fb(path))
            }
            BaseType::String => tv
                .visit_field::<ForwardsUOffset<Vector<'_, ForwardsUOffset<&str>>>>(name, f.offset, f.required)
                .map_err(fb(path)),
            BaseType::Obj => {
                let Some(at) = missing(&mut tv, path)? else { return Ok(tv) };
                let child = s.object_of(t).expect("validated index");
                let vpos = at.saturating_add(tv.verifier().get_uoffset(at).map_err(fb(path))? as usize);
                let len = tv.verifier().get_uoffset(vpos).map_err(fb(path))? as usize;
                let start = vpos.saturating_add(4);
                let elem = if child.is_struct { child.bytesize } else { 4 };
                tv.verifier().range_in_buffer(start, len.saturating_mul(elem)).map_err(fb(path))?;
                if !child.is_struct {
                    for i in 0..len {
                        path.push(Seg::Index(i));
                        let epos = start + 4 * i;
                        let target =
                            epos.saturating_add(tv.verifier().get_uoffset(epos).map_err(fb(path))? as usize);
                        verify_table(tv.verifier(), s, child, target, path)?;
                        path.pop();
                    }
                }
                Ok(tv)
            }
            BaseType::Union => {
                let Some(at) = missing(&mut tv, path)? else { return Ok(tv) };
                let companion = &obj.fields[f.companion.expect("validated companion")];
                // The discriminants were verified as a [ubyte] field just before (lower id).
                let kinds: Vec<u8> = match tv.deref(companion.offset).map_err(fb(path))? {
                    Some(kpos) => {
                        let kv =
                            kpos.saturating_add(tv.verifier().get_uoffset(kpos).map_err(fb(path))? as usize);
                        let n = tv.verifier().get_uoffset(kv).map_err(fb(path))? as usize;
                        (0..n)
                            .map(|i| tv.verifier().get_u8(kv + 4 + i))
                            .collect::<Result<_, _>>()
                            .map_err(fb(path))?
                    }
                    None => Vec::new(),
                };
                let vpos = at.saturating_add(tv.verifier().get_uoffset(at).map_err(fb(path))? as usize);
                let len = tv.verifier().get_uoffset(vpos).map_err(fb(path))? as usize;
                if len != kinds.len() {
                    return fail(
                        path,
                        format!(
                            "{len} union values but {} discriminants in `{}`",
                            kinds.len(),
                            companion.name
                        ),
                    );
                }
                let start = vpos.saturating_add(4);
                tv.verifier().range_in_buffer(start, len.saturating_mul(4)).map_err(fb(path))?;
                for (i, kind) in kinds.into_iter().enumerate() {
                    if kind == 0 {
                        continue;
                    }
                    path.push(Seg::Index(i));
                    let epos = start + 4 * i;
                    let target =
                        epos.saturating_add(tv.verifier().get_uoffset(epos).map_err(fb(path))? as usize);
                    verify_union_member(tv.verifier(), s, t, kind, target, path)?;
                    path.pop();
                }
                Ok(tv)
            }
            _ => fail(path, "unsupported vector element type"),
        },
        _ => fail(path, "unsupported field type"),
    }
}

fn verify_union_member<'s>(
    v: &mut Verifier<'_, '_>,
    s: &'s Schema,
    t: &Type,
    kind: u8,
    target: usize,
    path: &mut Path<'s>,
) -> Result<(), Fail> {
    let union = s.enum_of(t).expect("validated union");
    // Members this schema does not know (a newer writer) are skipped, as flatc's verifiers do.
    let Some(member) = union.value_of(i64::from(kind)).and_then(|m| m.union_type) else { return Ok(()) };
    match member.base {
        BaseType::Obj => {
            let child = s.object_of(&member).expect("validated member");
            if child.is_struct {
                v.range_in_buffer(target, child.bytesize).map_err(fb(path))
            } else {
                verify_table(v, s, child, target, path)
            }
        }
        BaseType::String => <&str as flatbuffers::Verifiable>::run_verifier(v, target).map_err(fb(path)),
        _ => Ok(()),
    }
}

/// Decoding after verification. Reads are still bounds-checked: a disagreement between the
/// verifier and the decoder is an error, never undefined behaviour.
pub(crate) struct Decoder<'a, 's> {
    pub s: &'s Schema,
    pub buf: Buf<'a>,
}

const SHORT: &str = "read past the end of the payload";

impl<'a, 's> Decoder<'a, 's> {
    fn table(&self, obj: &'s Object, pos: usize, path: &mut Path<'s>) -> Result<Value, Fail> {
        let Some(t) = self.buf.table(pos) else { return fail(path, "bad table or vtable offset") };
        let mut out = Map::new();
        for f in obj.fields.iter().filter(|f| !f.deprecated) {
            path.push(Seg::Field(&f.name));
            if let Some(v) = self.field(obj, t, f, path)? {
                out.insert(f.name.clone(), v);
            }
            path.pop();
        }
        Ok(Value::Object(out))
    }

    fn field(
        &self,
        obj: &'s Object,
        t: TableRef,
        f: &'s Field,
        path: &mut Path<'s>,
    ) -> Result<Option<Value>, Fail> {
        let at = self.buf.field(t, f.offset);
        let ty = &f.ty;
        if ty.base.is_scalar() {
            let v = match at {
                Some(p) => match self.buf.scalar(ty.base, p) {
                    Some(v) => v,
                    None => return fail(path, SHORT),
                },
                None if f.optional => return Ok(Some(Value::Null)),
                None => Scalar::default_of(ty.base, f.default_integer, f.default_real),
            };
            return Ok(Some(self.scalar_json(ty, v)));
        }
        let Some(at) = at else { return Ok(None) };
        match ty.base {
            BaseType::String => match self.buf.deref(at) {
                Some(p) => self.string_at(p, path).map(Some),
                None => fail(path, SHORT),
            },
            BaseType::Obj => {
                let child = self.s.object_of(ty).expect("validated index");
                if child.is_struct {
                    self.strukt(child, at, path).map(Some)
                } else {
                    let Some(target) = self.buf.deref(at) else { return fail(path, SHORT) };
                    self.table(child, target, path).map(Some)
                }
            }
            BaseType::Union => {
                let companion = &obj.fields[f.companion.expect("validated companion")];
                let kind = self.buf.field(t, companion.offset).and_then(|p| self.buf.u8(p)).unwrap_or(0);
                let Some(target) = self.buf.deref(at) else { return fail(path, SHORT) };
                self.union_member(ty, kind, target, path)
            }
            BaseType::Vector => {
                let Some(vpos) = self.buf.deref(at) else { return fail(path, SHORT) };
                self.vector(obj, t, f, vpos, path).map(Some)
            }
            _ => fail(path, "unsupported field type"),
        }
    }

    fn union_member(
        &self,
        t: &Type,
        kind: u8,
        target: usize,
        path: &mut Path<'s>,
    ) -> Result<Option<Value>, Fail> {
        let union = self.s.enum_of(t).expect("validated union");
        let Some(member) = union.value_of(i64::from(kind)).and_then(|m| m.union_type) else {
            return Ok(None);
        };
        match member.base {
            BaseType::Obj => {
                let child = self.s.object_of(&member).expect("validated member");
                if child.is_struct {
                    self.strukt(child, target, path).map(Some)
                } else {
                    self.table(child, target, path).map(Some)
                }
            }
            BaseType::String => self.string_at(target, path).map(Some),
            _ => Ok(None),
        }
    }

    fn string_at(&self, pos: usize, path: &Path<'_>) -> Result<Value, Fail> {
        match self.buf.string(pos) {
            Some(s) => Ok(Value::String(s.to_owned())),
            None => fail(path, "bad string"),
        }
    }

    fn vector(
        &self,
        obj: &'s Object,
        t: TableRef,
        f: &'s Field,
        vpos: usize,
        path: &mut Path<'s>,
    ) -> Result<Value, Fail> {
        let et = f.ty.element_type();
        let elem_size = match et.base {
            b if b.is_scalar() => b.size(),
            BaseType::Obj => self.s.inline_size(&et).max(4),
            _ => 4,
        };
        let Some((len, start)) = self.buf.vector(vpos, elem_size) else { return fail(path, SHORT) };
        let mut out = Vec::with_capacity(len.min(1 << 16));
        let kinds: Option<(usize, usize)> = if et.base == BaseType::Union {
            let companion = &obj.fields[f.companion.expect("validated companion")];
            self.buf
                .field(t, companion.offset)
                .and_then(|p| self.buf.deref(p))
                .and_then(|p| self.buf.vector(p, 1))
        } else {
            None
        };
        for i in 0..len {
            path.push(Seg::Index(i));
            let epos = start + i * elem_size;
            let v = match et.base {
                b if b.is_scalar() => match self.buf.scalar(b, epos) {
                    Some(v) => self.scalar_json(&et, v),
                    None => return fail(path, SHORT),
                },
                BaseType::String => match self.buf.deref(epos) {
                    Some(p) => self.string_at(p, path)?,
                    None => return fail(path, SHORT),
                },
                BaseType::Obj => {
                    let child = self.s.object_of(&et).expect("validated index");
                    if child.is_struct {
                        self.strukt(child, epos, path)?
                    } else {
                        match self.buf.deref(epos) {
                            Some(p) => self.table(child, p, path)?,
                            None => return fail(path, SHORT),
                        }
                    }
                }
                BaseType::Union => {
                    let kind =
                        kinds.and_then(|(n, k)| if i < n { self.buf.u8(k + i) } else { None }).unwrap_or(0);
                    match self.buf.deref(epos) {
                        Some(p) if kind != 0 => self.union_member(&et, kind, p, path)?.unwrap_or(Value::Null),
                        _ => Value::Null,
                    }
                }
                _ => return fail(path, "unsupported vector element"),
            };
            out.push(v);
            path.pop();
        }
        Ok(Value::Array(out))
    }

    fn strukt(&self, obj: &'s Object, pos: usize, path: &mut Path<'s>) -> Result<Value, Fail> {
        let mut out = Map::new();
        for f in &obj.fields {
            path.push(Seg::Field(&f.name));
            let at = pos + usize::from(f.offset);
            let v = self.inline(&f.ty, at, path)?;
            out.insert(f.name.clone(), v);
            path.pop();
        }
        Ok(Value::Object(out))
    }

    /// A value stored inline (struct fields and array elements).
    fn inline(&self, t: &Type, at: usize, path: &mut Path<'s>) -> Result<Value, Fail> {
        match t.base {
            b if b.is_scalar() => match self.buf.scalar(b, at) {
                Some(v) => Ok(self.scalar_json(t, v)),
                None => fail(path, SHORT),
            },
            BaseType::Obj => {
                let child = self.s.object_of(t).expect("validated index");
                self.strukt(child, at, path)
            }
            BaseType::Array => {
                let et = t.element_type();
                let size = self.s.inline_size(&et);
                let mut out = Vec::with_capacity(usize::from(t.fixed_length));
                for i in 0..usize::from(t.fixed_length) {
                    path.push(Seg::Index(i));
                    out.push(self.inline(&et, at + i * size, path)?);
                    path.pop();
                }
                Ok(Value::Array(out))
            }
            _ => fail(path, "unsupported inline type"),
        }
    }

    fn scalar_json(&self, t: &Type, v: Scalar) -> Value {
        if t.index >= 0
            && t.base.is_integer()
            && let (Some(e), Some(bits)) = (self.s.enum_of(t), v.as_i64_bits())
        {
            return enum_json(e, bits).unwrap_or_else(|| scalar_value(v));
        }
        scalar_value(v)
    }
}

/// The JSON of an enum value: its name, space-separated names for `bit_flags`, or `None` when
/// the value has no name (the caller prints the number).
pub(crate) fn enum_json(e: &Enum, value: i64) -> Option<Value> {
    if let Some(v) = e.value_of(value) {
        return Some(Value::String(v.name.clone()));
    }
    if e.bit_flags && value != 0 {
        let mut rest = value as u64;
        let mut names = Vec::new();
        for v in &e.values {
            let m = v.value as u64;
            if m != 0 && rest & m == m {
                names.push(v.name.as_str());
                rest &= !m;
            }
        }
        if rest == 0 {
            return Some(Value::String(names.join(" ")));
        }
    }
    None
}

/// A scalar as JSON. Floats print as their shortest decimal; NaN and infinities as strings.
pub(crate) fn scalar_value(v: Scalar) -> Value {
    match v {
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(i) => Value::from(i),
        Scalar::UInt(u) => Value::from(u),
        Scalar::F32(f) => {
            if f.is_finite() {
                // `f32` Display is the shortest decimal that reads back as the same f32.
                let shortest: f64 = f.to_string().parse().unwrap_or(f64::from(f));
                Value::from(shortest)
            } else {
                non_finite(f64::from(f))
            }
        }
        Scalar::F64(f) => {
            if f.is_finite() {
                Value::from(f)
            } else {
                non_finite(f)
            }
        }
    }
}

fn non_finite(f: f64) -> Value {
    Value::String(
        if f.is_nan() {
            "nan"
        } else if f > 0.0 {
            "inf"
        } else {
            "-inf"
        }
        .into(),
    )
}
