//! Reading one numeric field of a FlatBuffers payload without compiled types.
//!
//! Collection rules (deadbands, trigger conditions) need a number out of a sample whose Rust type
//! the bridge was not built with. Publishers serve their binary schema (`.bfbs`, itself a
//! FlatBuffer of `reflection.fbs`) through [`vbus::Node::fetch_schema`]; [`Schema::parse`] reads
//! the few tables of it that matter (objects, their fields and types), [`Schema::resolve`] turns a
//! dotted path like `inner.temp` into a list of vtable/struct offsets once, and
//! [`FieldPath::read`] follows them through a payload.
//!
//! Both the schema and the payload are read with the bounds-checked `Table` below: every offset
//! is checked against the buffer before it is followed, so a malformed or hostile buffer yields an
//! error, never a panic or an out-of-bounds read. There is no `unsafe` here; the payload does not
//! need a full FlatBuffers verification because only the bytes on the path are touched.
//!
//! Supported: scalar leaves (bool, integers, enums, float, double) in tables or structs, reached
//! through nested tables and structs. Not supported (reported as errors): vectors, unions, strings
//! as values, fixed arrays.

use std::fmt;

/// Why a field could not be resolved or read.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FieldError {
    /// The `.bfbs` is not a readable reflection schema.
    #[error("invalid .bfbs schema: {0}")]
    Schema(String),
    /// The schema does not define the type.
    #[error("type `{0}` is not defined in its schema")]
    UnknownType(String),
    /// No field of that name.
    #[error("`{type_name}` has no field `{field}` (it has: {known})")]
    UnknownField {
        /// Type searched.
        type_name: String,
        /// Missing field name.
        field: String,
        /// The fields it does have, comma separated.
        known: String,
    },
    /// The path ends on (or goes through) something that is not a number / nested object.
    #[error("field `{path}` of `{type_name}` is {found}, expected {expected}")]
    WrongKind {
        /// Type the path starts from.
        type_name: String,
        /// The path up to the offending field.
        path: String,
        /// What the schema says it is.
        found: String,
        /// What the path needs there.
        expected: &'static str,
    },
    /// The payload is truncated or its offsets point outside it.
    #[error("malformed payload: {0}")]
    Payload(String),
    /// An optional scalar or a nested table on the path is not present in this payload.
    #[error("field `{0}` is absent from this payload")]
    Absent(String),
}

/// FlatBuffers `reflection.BaseType` values used here.
mod base {
    pub const BOOL: u8 = 2;
    pub const BYTE: u8 = 3;
    pub const UBYTE: u8 = 4;
    pub const SHORT: u8 = 5;
    pub const USHORT: u8 = 6;
    pub const INT: u8 = 7;
    pub const UINT: u8 = 8;
    pub const LONG: u8 = 9;
    pub const ULONG: u8 = 10;
    pub const FLOAT: u8 = 11;
    pub const DOUBLE: u8 = 12;
    pub const OBJ: u8 = 15;

    pub fn name(t: u8) -> &'static str {
        match t {
            0 => "none",
            1 => "a union type tag",
            BOOL => "a bool",
            BYTE | UBYTE | SHORT | USHORT | INT | UINT | LONG | ULONG => "an integer",
            FLOAT | DOUBLE => "a float",
            13 => "a string",
            14 | 18 => "a vector",
            OBJ => "a table or struct",
            16 => "a union",
            17 => "a fixed array",
            _ => "an unknown type",
        }
    }

    pub fn is_scalar(t: u8) -> bool {
        (BOOL..=DOUBLE).contains(&t)
    }
}

/// A bounds-checked view of one FlatBuffers table inside a buffer.
#[derive(Clone, Copy)]
pub(crate) struct Table<'a> {
    buf: &'a [u8],
    pos: usize,
    vtable: usize,
    vtable_len: usize,
}

fn bytes<const N: usize>(buf: &[u8], at: usize) -> Result<[u8; N], FieldError> {
    at.checked_add(N)
        .and_then(|end| buf.get(at..end))
        .map(|s| s.try_into().expect("slice of N bytes"))
        .ok_or_else(|| {
            FieldError::Payload(format!("{N}-byte read at offset {at} past the end ({})", buf.len()))
        })
}

fn u16_at(buf: &[u8], at: usize) -> Result<u16, FieldError> {
    bytes::<2>(buf, at).map(u16::from_le_bytes)
}
fn u32_at(buf: &[u8], at: usize) -> Result<u32, FieldError> {
    bytes::<4>(buf, at).map(u32::from_le_bytes)
}

/// Follow a `uoffset_t` stored at `at` (relative to itself).
fn follow(buf: &[u8], at: usize) -> Result<usize, FieldError> {
    let off = u32_at(buf, at)? as usize;
    at.checked_add(off)
        .filter(|&p| p < buf.len())
        .ok_or_else(|| FieldError::Payload(format!("offset {off} at {at} points past the end")))
}

impl<'a> Table<'a> {
    /// The root table of a finished buffer.
    pub(crate) fn root(buf: &'a [u8]) -> Result<Self, FieldError> {
        Self::at(buf, follow(buf, 0)?)
    }

    fn at(buf: &'a [u8], pos: usize) -> Result<Self, FieldError> {
        let soff = i32::from_le_bytes(bytes::<4>(buf, pos)?) as i64;
        let vtable = usize::try_from(pos as i64 - soff)
            .map_err(|_| FieldError::Payload(format!("vtable of table at {pos} before the buffer")))?;
        let vtable_len = u16_at(buf, vtable)? as usize;
        if vtable_len < 4 || !vtable_len.is_multiple_of(2) || vtable + vtable_len > buf.len() {
            return Err(FieldError::Payload(format!("bad vtable at {vtable} (length {vtable_len})")));
        }
        Ok(Self { buf, pos, vtable, vtable_len })
    }

    /// Absolute position of field `voffset`'s inline data, `None` when absent.
    fn field(&self, voffset: u16) -> Result<Option<usize>, FieldError> {
        let v = voffset as usize;
        if v + 2 > self.vtable_len {
            return Ok(None);
        }
        match u16_at(self.buf, self.vtable + v)? {
            0 => Ok(None),
            off => Ok(Some(self.pos + off as usize)),
        }
    }

    fn scalar<const N: usize>(&self, voffset: u16) -> Result<Option<[u8; N]>, FieldError> {
        self.field(voffset)?.map(|p| bytes::<N>(self.buf, p)).transpose()
    }

    fn table(&self, voffset: u16) -> Result<Option<Table<'a>>, FieldError> {
        self.field(voffset)?.map(|p| Table::at(self.buf, follow(self.buf, p)?)).transpose()
    }

    fn string(&self, voffset: u16) -> Result<Option<&'a str>, FieldError> {
        let Some(p) = self.field(voffset)? else { return Ok(None) };
        let s = follow(self.buf, p)?;
        let len = u32_at(self.buf, s)? as usize;
        let raw = (s + 4)
            .checked_add(len)
            .and_then(|end| self.buf.get(s + 4..end))
            .ok_or_else(|| FieldError::Payload(format!("string at {s} of length {len} past the end")))?;
        std::str::from_utf8(raw).map(Some).map_err(|e| FieldError::Payload(format!("string at {s}: {e}")))
    }

    fn tables(&self, voffset: u16) -> Result<Vec<Table<'a>>, FieldError> {
        let Some(p) = self.field(voffset)? else { return Ok(Vec::new()) };
        let v = follow(self.buf, p)?;
        let n = u32_at(self.buf, v)? as usize;
        if n.checked_mul(4).and_then(|b| b.checked_add(v + 4)).is_none_or(|end| end > self.buf.len()) {
            return Err(FieldError::Payload(format!("vector at {v} of {n} offsets past the end")));
        }
        (0..n).map(|i| Table::at(self.buf, follow(self.buf, v + 4 + 4 * i)?)).collect()
    }

    fn u8_or(&self, voffset: u16, default: u8) -> Result<u8, FieldError> {
        Ok(self.scalar::<1>(voffset)?.map_or(default, |b| b[0]))
    }
    fn u16_or(&self, voffset: u16, default: u16) -> Result<u16, FieldError> {
        Ok(self.scalar::<2>(voffset)?.map_or(default, u16::from_le_bytes))
    }
    fn i32_or(&self, voffset: u16, default: i32) -> Result<i32, FieldError> {
        Ok(self.scalar::<4>(voffset)?.map_or(default, i32::from_le_bytes))
    }
    fn i64_or(&self, voffset: u16, default: i64) -> Result<i64, FieldError> {
        Ok(self.scalar::<8>(voffset)?.map_or(default, i64::from_le_bytes))
    }
    fn f64_or(&self, voffset: u16, default: f64) -> Result<f64, FieldError> {
        Ok(self.scalar::<8>(voffset)?.map_or(default, f64::from_le_bytes))
    }
}

/// vtable slot of field id `id` (for the fixed ids of reflection.fbs).
const fn slot(id: u16) -> u16 {
    4 + 2 * id
}

/// vtable slot of a field id read from a schema, which may be out of range.
fn checked_slot(id: u16, name: &str) -> Result<u16, FieldError> {
    id.checked_mul(2)
        .and_then(|x| x.checked_add(4))
        .ok_or_else(|| FieldError::Schema(format!("field `{name}` has an impossible id {id}")))
}

/// One field of an object, as the schema describes it.
#[derive(Clone, Debug)]
struct FieldDef {
    name: String,
    base_type: u8,
    /// Object index for `Obj` fields (enum index for enum-typed scalars; unused here).
    index: i32,
    id: u16,
    /// Byte offset inside a struct (structs only).
    offset: u16,
    default_integer: i64,
    default_real: f64,
    optional: bool,
}

#[derive(Clone, Debug)]
struct ObjectDef {
    name: String,
    is_struct: bool,
    fields: Vec<FieldDef>,
}

/// The object definitions of a binary FlatBuffers schema (`.bfbs`).
#[derive(Clone, Debug)]
pub struct Schema {
    objects: Vec<ObjectDef>,
}

impl Schema {
    /// Read the objects of a `.bfbs` (as `flatc -b --schema` writes it and vbus publishers serve).
    pub fn parse(bfbs: &[u8]) -> Result<Self, FieldError> {
        let bad = |e: FieldError| FieldError::Schema(e.to_string());
        let root = Table::root(bfbs).map_err(bad)?;
        // reflection.fbs: Schema { objects: [Object] (id 0) ... }
        let mut objects = Vec::new();
        for o in root.tables(slot(0)).map_err(bad)? {
            // Object { name (0), fields (1), is_struct (2), ... }
            let name = o.string(slot(0)).map_err(bad)?.unwrap_or_default().to_owned();
            let is_struct = o.u8_or(slot(2), 0).map_err(bad)? != 0;
            let mut fields = Vec::new();
            for f in o.tables(slot(1)).map_err(bad)? {
                // Field { name (0), type (1), id (2), offset (3), default_integer (4),
                //         default_real (5), ..., optional (11) }
                // Type { base_type (0), element (1), index (2), ... }
                let ty = f
                    .table(slot(1))
                    .map_err(bad)?
                    .ok_or_else(|| FieldError::Schema(format!("field of `{name}` without a type")))?;
                fields.push(FieldDef {
                    name: f.string(slot(0)).map_err(bad)?.unwrap_or_default().to_owned(),
                    base_type: ty.u8_or(slot(0), 0).map_err(bad)?,
                    index: ty.i32_or(slot(2), -1).map_err(bad)?,
                    id: f.u16_or(slot(2), 0).map_err(bad)?,
                    offset: f.u16_or(slot(3), 0).map_err(bad)?,
                    default_integer: f.i64_or(slot(4), 0).map_err(bad)?,
                    default_real: f.f64_or(slot(5), 0.0).map_err(bad)?,
                    optional: f.u8_or(slot(11), 0).map_err(bad)? != 0,
                });
            }
            objects.push(ObjectDef { name, is_struct, fields });
        }
        if objects.is_empty() {
            return Err(FieldError::Schema("no objects (is this a .bfbs?)".into()));
        }
        Ok(Self { objects })
    }

    /// Fully qualified names of the tables and structs defined.
    pub fn type_names(&self) -> impl Iterator<Item = &str> {
        self.objects.iter().map(|o| o.name.as_str())
    }

    /// Resolve a dotted path (`speed`, `inner.temp`, `pos.x`) from table `type_name` to a scalar.
    pub fn resolve(&self, type_name: &str, path: &str) -> Result<FieldPath, FieldError> {
        let mut obj = self
            .objects
            .iter()
            .find(|o| o.name == type_name)
            .ok_or_else(|| FieldError::UnknownType(type_name.to_owned()))?;
        if obj.is_struct {
            return Err(FieldError::WrongKind {
                type_name: type_name.to_owned(),
                path: String::new(),
                found: "a struct".into(),
                expected: "a table (payload root)",
            });
        }
        let segments: Vec<&str> = path.split('.').collect();
        let mut steps = Vec::new();
        let mut in_struct = false;
        for (i, seg) in segments.iter().enumerate() {
            let so_far = segments[..=i].join(".");
            let f = obj.fields.iter().find(|f| f.name == *seg).ok_or_else(|| FieldError::UnknownField {
                type_name: obj.name.clone(),
                field: (*seg).to_owned(),
                known: obj.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
            })?;
            let wrong = |found: String, expected| FieldError::WrongKind {
                type_name: type_name.to_owned(),
                path: so_far.clone(),
                found,
                expected,
            };
            if i + 1 == segments.len() {
                if !base::is_scalar(f.base_type) {
                    return Err(wrong(base::name(f.base_type).into(), "a number or bool"));
                }
                let default = if matches!(f.base_type, base::FLOAT | base::DOUBLE) {
                    f.default_real
                } else {
                    f.default_integer as f64
                };
                let at = if in_struct {
                    Leaf::Struct { offset: f.offset }
                } else {
                    Leaf::Table {
                        voffset: checked_slot(f.id, &so_far)?,
                        default: (!f.optional).then_some(default),
                    }
                };
                return Ok(FieldPath { path: path.to_owned(), base_type: f.base_type, steps, at });
            }
            if f.base_type != base::OBJ {
                return Err(wrong(base::name(f.base_type).into(), "a table or struct to descend into"));
            }
            let next = usize::try_from(f.index).ok().and_then(|i| self.objects.get(i)).ok_or_else(|| {
                FieldError::Schema(format!("field `{so_far}` refers to object {}", f.index))
            })?;
            let voffset = checked_slot(f.id, &so_far)?;
            steps.push(match (in_struct, next.is_struct) {
                (false, false) => Step::Table { voffset, name: so_far.clone() },
                (false, true) => Step::StructInTable { voffset, name: so_far.clone() },
                (true, _) => Step::StructInStruct { offset: f.offset },
            });
            in_struct = next.is_struct;
            obj = next;
        }
        Err(FieldError::WrongKind {
            type_name: type_name.to_owned(),
            path: path.to_owned(),
            found: "an empty path".into(),
            expected: "a field name",
        })
    }
}

#[derive(Clone, Debug)]
enum Step {
    Table { voffset: u16, name: String },
    StructInTable { voffset: u16, name: String },
    StructInStruct { offset: u16 },
}

#[derive(Clone, Debug)]
enum Leaf {
    /// `default` is `None` for optional scalars (`= null`): absent means no value.
    Table {
        voffset: u16,
        default: Option<f64>,
    },
    Struct {
        offset: u16,
    },
}

/// A resolved path to a scalar; read it from many payloads with [`FieldPath::read`].
#[derive(Clone, Debug)]
pub struct FieldPath {
    path: String,
    base_type: u8,
    steps: Vec<Step>,
    at: Leaf,
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

impl FieldPath {
    /// The value in `payload` (a finished FlatBuffer of the type the path was resolved on), as
    /// `f64`: bools are 0/1; 64-bit integers beyond 2^53 lose precision.
    pub fn read(&self, payload: &[u8]) -> Result<f64, FieldError> {
        let mut table = Table::root(payload)?;
        let mut struct_pos: Option<usize> = None;
        for step in &self.steps {
            match step {
                Step::Table { voffset, name } => {
                    table = table.table(*voffset)?.ok_or_else(|| FieldError::Absent(name.clone()))?;
                }
                Step::StructInTable { voffset, name } => {
                    struct_pos =
                        Some(table.field(*voffset)?.ok_or_else(|| FieldError::Absent(name.clone()))?);
                }
                Step::StructInStruct { offset } => {
                    struct_pos = struct_pos.map(|p| p + *offset as usize);
                }
            }
        }
        let pos = match (&self.at, struct_pos) {
            (Leaf::Struct { offset }, Some(p)) => p + *offset as usize,
            (Leaf::Table { voffset, default }, _) => match table.field(*voffset)? {
                Some(p) => p,
                None => return default.ok_or_else(|| FieldError::Absent(self.path.clone())),
            },
            (Leaf::Struct { .. }, None) => unreachable!("struct leaf is only resolved after a struct step"),
        };
        let buf = table.buf;
        Ok(match self.base_type {
            base::BOOL | base::UBYTE => bytes::<1>(buf, pos)?[0] as f64,
            base::BYTE => bytes::<1>(buf, pos)?[0] as i8 as f64,
            base::SHORT => i16::from_le_bytes(bytes(buf, pos)?) as f64,
            base::USHORT => u16::from_le_bytes(bytes(buf, pos)?) as f64,
            base::INT => i32::from_le_bytes(bytes(buf, pos)?) as f64,
            base::UINT => u32::from_le_bytes(bytes(buf, pos)?) as f64,
            base::LONG => i64::from_le_bytes(bytes(buf, pos)?) as f64,
            base::ULONG => u64::from_le_bytes(bytes(buf, pos)?) as f64,
            base::FLOAT => f32::from_le_bytes(bytes(buf, pos)?) as f64,
            base::DOUBLE => f64::from_le_bytes(bytes(buf, pos)?),
            other => unreachable!("resolve admits scalars only, not base type {other}"),
        })
    }
}
