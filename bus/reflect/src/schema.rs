//! An owned, validated model of a binary FlatBuffers schema (`.bfbs`, reflection.fbs), as flatc
//! writes it with `-b --schema`.
//!
//! Everything the decoder and encoder rely on is checked here once: every type index points at
//! an object or enum of the right kind, structs fit their declared size and do not contain
//! themselves, vectors hold what FlatBuffers allows. A schema from the network that breaks a
//! rule is refused with [`Error::Schema`].

use std::collections::HashMap;

use crate::{Error, reflection_generated::reflection as r, suggest::did_you_mean};

/// FlatBuffers base types (reflection.fbs `BaseType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BaseType {
    /// No type (the `NONE` member of a union; the element type of non-vectors).
    None,
    /// The hidden `<field>_type` discriminant of a union field (an unsigned byte).
    UType,
    /// `bool`
    Bool,
    /// `byte` (int8)
    Byte,
    /// `ubyte` (uint8)
    UByte,
    /// `short` (int16)
    Short,
    /// `ushort` (uint16)
    UShort,
    /// `int` (int32)
    Int,
    /// `uint` (uint32)
    UInt,
    /// `long` (int64)
    Long,
    /// `ulong` (uint64)
    ULong,
    /// `float` (float32)
    Float,
    /// `double` (float64)
    Double,
    /// `string`
    String,
    /// `[T]`
    Vector,
    /// A table or struct.
    Obj,
    /// A union value.
    Union,
    /// `[T:N]`, only inside structs.
    Array,
}

impl BaseType {
    fn from_r(b: r::BaseType) -> Result<Self, Error> {
        Ok(match b {
            r::BaseType::None => Self::None,
            r::BaseType::UType => Self::UType,
            r::BaseType::Bool => Self::Bool,
            r::BaseType::Byte => Self::Byte,
            r::BaseType::UByte => Self::UByte,
            r::BaseType::Short => Self::Short,
            r::BaseType::UShort => Self::UShort,
            r::BaseType::Int => Self::Int,
            r::BaseType::UInt => Self::UInt,
            r::BaseType::Long => Self::Long,
            r::BaseType::ULong => Self::ULong,
            r::BaseType::Float => Self::Float,
            r::BaseType::Double => Self::Double,
            r::BaseType::String => Self::String,
            r::BaseType::Vector => Self::Vector,
            r::BaseType::Obj => Self::Obj,
            r::BaseType::Union => Self::Union,
            r::BaseType::Array => Self::Array,
            r::BaseType::Vector64 => {
                return Err(Error::Schema("64-bit vectors (`vector64`) are not supported".into()));
            }
            other => return Err(Error::Schema(format!("unknown base type {}", other.0))),
        })
    }

    /// A scalar: integer, float, bool or union discriminant.
    pub fn is_scalar(self) -> bool {
        self.size() > 0
    }

    /// An integer type (bool and floats excluded; the union discriminant included).
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            Self::UType
                | Self::Byte
                | Self::UByte
                | Self::Short
                | Self::UShort
                | Self::Int
                | Self::UInt
                | Self::Long
                | Self::ULong
        )
    }

    /// Size in bytes of a scalar; 0 for the others.
    pub fn size(self) -> usize {
        match self {
            Self::UType | Self::Bool | Self::Byte | Self::UByte => 1,
            Self::Short | Self::UShort => 2,
            Self::Int | Self::UInt | Self::Float => 4,
            Self::Long | Self::ULong | Self::Double => 8,
            _ => 0,
        }
    }

    /// The name in schema (`.fbs`) syntax: `float`, `ubyte`, `string`, ...
    pub fn fbs_name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::UType => "utype",
            Self::Bool => "bool",
            Self::Byte => "byte",
            Self::UByte => "ubyte",
            Self::Short => "short",
            Self::UShort => "ushort",
            Self::Int => "int",
            Self::UInt => "uint",
            Self::Long => "long",
            Self::ULong => "ulong",
            Self::Float => "float",
            Self::Double => "double",
            Self::String => "string",
            Self::Vector => "vector",
            Self::Obj => "object",
            Self::Union => "union",
            Self::Array => "array",
        }
    }

    /// The name in vbus' type-hash canonical form: `int8`, `uint32`, `float64`, ...
    pub(crate) fn canonical(self) -> &'static str {
        match self {
            Self::Byte => "int8",
            Self::UByte => "uint8",
            Self::Short => "int16",
            Self::UShort => "uint16",
            Self::Int => "int32",
            Self::UInt => "uint32",
            Self::Long => "int64",
            Self::ULong => "uint64",
            Self::Float => "float32",
            Self::Double => "float64",
            other => other.fbs_name(),
        }
    }

    /// Inclusive range of an integer type, as i128 so every type fits.
    pub(crate) fn int_range(self) -> (i128, i128) {
        match self {
            Self::Byte => (i8::MIN.into(), i8::MAX.into()),
            Self::UByte | Self::UType => (0, u8::MAX.into()),
            Self::Short => (i16::MIN.into(), i16::MAX.into()),
            Self::UShort => (0, u16::MAX.into()),
            Self::Int => (i32::MIN.into(), i32::MAX.into()),
            Self::UInt => (0, u32::MAX.into()),
            Self::Long => (i64::MIN.into(), i64::MAX.into()),
            Self::ULong => (0, u64::MAX.into()),
            Self::Bool => (0, 1),
            _ => (0, 0),
        }
    }
}

/// A field, vector element or array element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Type {
    /// The base type.
    pub base: BaseType,
    /// Element type of vectors and arrays ([`BaseType::None`] otherwise).
    pub element: BaseType,
    /// Index into [`Schema::objects`] (`Obj`) or [`Schema::enums`] (`Union`, `UType`,
    /// enum-typed integers); -1 when none.
    pub index: i32,
    /// Length of a fixed-size array.
    pub fixed_length: u16,
}

impl Type {
    fn from_r(t: r::Type<'_>) -> Result<Self, Error> {
        Ok(Self {
            base: BaseType::from_r(t.base_type())?,
            element: BaseType::from_r(t.element())?,
            index: t.index(),
            fixed_length: t.fixed_length(),
        })
    }

    /// The type of one element of this vector or array.
    pub fn element_type(&self) -> Type {
        Type { base: self.element, element: BaseType::None, index: self.index, fixed_length: 0 }
    }
}

/// One field of a table or struct.
#[derive(Clone, Debug)]
pub struct Field {
    /// Name as written in the schema.
    pub name: String,
    /// Type.
    pub ty: Type,
    /// Field id (tables: slot number; structs: declaration order).
    pub id: u16,
    /// Tables: vtable offset of the slot (`4 + 2 * id`); structs: byte offset in the struct.
    pub offset: u16,
    /// Default of integer and bool fields.
    pub default_integer: i64,
    /// Default of float fields.
    pub default_real: f64,
    /// `(deprecated)`: skipped when decoding, refused when encoding.
    pub deprecated: bool,
    /// `(required)`.
    pub required: bool,
    /// Optional scalar (`= null`): absent means no value rather than the default.
    pub optional: bool,
    /// `(key)`.
    pub key: bool,
    /// `///` documentation lines.
    pub docs: Vec<String>,
    /// Attributes, values as strings.
    pub attributes: Vec<(String, String)>,
    /// For union fields (and vectors of unions): index in the object's fields of the
    /// `<name>_type` discriminant field.
    pub(crate) companion: Option<usize>,
}

/// A table or struct.
#[derive(Clone, Debug)]
pub struct Object {
    /// Fully qualified name, e.g. `demo.vehicle.VehicleSpeed`.
    pub name: String,
    /// Fields in id order.
    pub fields: Vec<Field>,
    /// A struct (fixed, inline layout) rather than a table.
    pub is_struct: bool,
    /// Structs: alignment in bytes.
    pub minalign: usize,
    /// Structs: size in bytes.
    pub bytesize: usize,
    /// Attributes (`vbus_topic`, ...), values as strings.
    pub attributes: Vec<(String, String)>,
    /// `///` documentation lines.
    pub docs: Vec<String>,
    by_name: HashMap<String, usize>,
}

impl Object {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.by_name.get(name).map(|&i| &self.fields[i])
    }

    /// The value of attribute `key`, if present.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The name without its namespace.
    pub fn short_name(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }

    /// The names of the fields that JSON may carry (deprecated ones excluded).
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().filter(|f| !f.deprecated).map(|f| f.name.as_str())
    }
}

/// One value of an enum or member of a union.
#[derive(Clone, Debug)]
pub struct EnumVal {
    /// Name.
    pub name: String,
    /// Value (for `bit_flags` enums the mask, `1 << n`).
    pub value: i64,
    /// Unions: the member type (`None` base for `NONE`).
    pub union_type: Option<Type>,
    /// `///` documentation lines.
    pub docs: Vec<String>,
}

/// An enum or union.
#[derive(Clone, Debug)]
pub struct Enum {
    /// Fully qualified name.
    pub name: String,
    /// Values in value order.
    pub values: Vec<EnumVal>,
    /// A union.
    pub is_union: bool,
    /// `(bit_flags)`: values are masks that combine.
    pub bit_flags: bool,
    /// Underlying integer type.
    pub underlying: Type,
    /// Attributes.
    pub attributes: Vec<(String, String)>,
    /// `///` documentation lines.
    pub docs: Vec<String>,
}

impl Enum {
    /// The value called `name`.
    pub fn value_named(&self, name: &str) -> Option<&EnumVal> {
        self.values.iter().find(|v| v.name == name)
    }
    /// The value equal to `value`.
    pub fn value_of(&self, value: i64) -> Option<&EnumVal> {
        self.values.iter().find(|v| v.value == value)
    }
    /// `A, B, C` for messages.
    pub(crate) fn names(&self) -> String {
        self.values.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// A parsed, validated `.bfbs`.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    /// Tables and structs (in the `.bfbs` order: sorted by fully qualified name).
    pub objects: Vec<Object>,
    /// Enums and unions (sorted by fully qualified name).
    pub enums: Vec<Enum>,
    /// The `root_type` of the schema file, when it declares one.
    pub root_table: Option<usize>,
    by_name: HashMap<String, usize>,
}

fn kvs(
    v: Option<flatbuffers::Vector<'_, flatbuffers::ForwardsUOffset<r::KeyValue<'_>>>>,
) -> Vec<(String, String)> {
    v.map(|v| v.iter().map(|kv| (kv.key().to_string(), kv.value().unwrap_or("").to_string())).collect())
        .unwrap_or_default()
}

fn docs(v: Option<flatbuffers::Vector<'_, flatbuffers::ForwardsUOffset<&str>>>) -> Vec<String> {
    v.map(|v| v.iter().map(str::to_string).collect()).unwrap_or_default()
}

/// Structs may nest at most this deep (flatc has no limit, but a real schema is far below it).
const MAX_STRUCT_NESTING: usize = 32;
/// Largest struct accepted, in bytes.
const MAX_STRUCT_SIZE: usize = 1 << 20;

impl Schema {
    /// Parse and validate `.bfbs` bytes (with or without the `BFBS` file identifier).
    pub fn from_bfbs(bytes: &[u8]) -> Result<Self, Error> {
        let opts = flatbuffers::VerifierOptions { max_tables: 10_000_000, ..Default::default() };
        let s = flatbuffers::root_with_opts::<r::Schema<'_>>(&opts, bytes)
            .map_err(|e| Error::Schema(format!("not a valid .bfbs: {e}")))?;
        let mut objects = Vec::new();
        for o in s.objects() {
            let mut fields = Vec::new();
            for f in o.fields() {
                fields.push(Field {
                    name: f.name().to_string(),
                    ty: Type::from_r(f.type_())
                        .map_err(|e| Error::Schema(format!("{}.{}: {e}", o.name(), f.name())))?,
                    id: f.id(),
                    offset: f.offset(),
                    default_integer: f.default_integer(),
                    default_real: f.default_real(),
                    deprecated: f.deprecated(),
                    required: f.required(),
                    optional: f.optional(),
                    key: f.key(),
                    docs: docs(f.documentation()),
                    attributes: kvs(f.attributes()),
                    companion: None,
                });
            }
            fields.sort_by_key(|f| f.id);
            let by_name: HashMap<String, usize> =
                fields.iter().enumerate().map(|(i, f)| (f.name.clone(), i)).collect();
            if by_name.len() != fields.len() {
                return Err(Error::Schema(format!("{}: two fields have the same name", o.name())));
            }
            objects.push(Object {
                name: o.name().to_string(),
                fields,
                is_struct: o.is_struct(),
                minalign: usize::try_from(o.minalign()).unwrap_or(0),
                bytesize: usize::try_from(o.bytesize()).unwrap_or(0),
                attributes: kvs(o.attributes()),
                docs: docs(o.documentation()),
                by_name,
            });
        }
        let mut enums = Vec::new();
        for e in s.enums() {
            let mut values = Vec::new();
            for v in e.values() {
                values.push(EnumVal {
                    name: v.name().to_string(),
                    value: v.value(),
                    union_type: v
                        .union_type()
                        .map(Type::from_r)
                        .transpose()
                        .map_err(|x| Error::Schema(format!("{}.{}: {x}", e.name(), v.name())))?,
                    docs: docs(v.documentation()),
                });
            }
            values.sort_by_key(|v| v.value);
            let attributes = kvs(e.attributes());
            enums.push(Enum {
                name: e.name().to_string(),
                values,
                is_union: e.is_union(),
                bit_flags: attributes.iter().any(|(k, _)| k == "bit_flags"),
                underlying: Type::from_r(e.underlying_type())
                    .map_err(|x| Error::Schema(format!("{}: {x}", e.name())))?,
                attributes,
                docs: docs(e.documentation()),
            });
        }
        let by_name: HashMap<String, usize> =
            objects.iter().enumerate().map(|(i, o)| (o.name.clone(), i)).collect();
        let root_table = s.root_table().and_then(|o| by_name.get(o.name()).copied());
        let mut schema = Self { objects, enums, root_table, by_name };
        schema.validate()?;
        Ok(schema)
    }

    /// The table or struct called `name` (fully qualified).
    pub fn object(&self, name: &str) -> Option<&Object> {
        self.by_name.get(name).map(|&i| &self.objects[i])
    }

    /// The table called `name`, or an error that suggests a close name.
    pub fn table(&self, name: &str) -> Result<&Object, Error> {
        match self.object(name) {
            Some(o) if o.is_struct => Err(Error::NotATable(name.to_owned())),
            Some(o) => Ok(o),
            None => Err(Error::UnknownType {
                name: name.to_owned(),
                did_you_mean: did_you_mean(name, self.objects.iter().map(|o| o.name.as_str())),
            }),
        }
    }

    /// The enum or union called `name`.
    pub fn enum_named(&self, name: &str) -> Option<&Enum> {
        self.enums.iter().find(|e| e.name == name)
    }

    /// The object a type (or vector/array element type) refers to.
    pub fn object_of(&self, t: &Type) -> Option<&Object> {
        usize::try_from(t.index).ok().and_then(|i| self.objects.get(i))
    }

    /// The enum or union a type refers to.
    pub fn enum_of(&self, t: &Type) -> Option<&Enum> {
        usize::try_from(t.index).ok().and_then(|i| self.enums.get(i))
    }

    /// Objects with attribute `key` equal to `value` (e.g. `vbus_service`, `body/lock`).
    pub fn find_by_attribute<'a>(&'a self, key: &'a str, value: &'a str) -> impl Iterator<Item = &'a Object> {
        self.objects.iter().filter(move |o| o.attr(key) == Some(value))
    }

    /// A type as it would be written in a `.fbs`: `float`, `[string]`, `demo.vehicle.DriveMode`,
    /// `[float:3]`.
    pub fn type_name(&self, t: &Type) -> String {
        match t.base {
            BaseType::Vector => format!("[{}]", self.type_name(&t.element_type())),
            BaseType::Array => format!("[{}:{}]", self.type_name(&t.element_type()), t.fixed_length),
            BaseType::Obj => self.object_of(t).map(|o| o.name.clone()).unwrap_or_else(|| "?".into()),
            BaseType::Union | BaseType::UType => {
                self.enum_of(t).map(|e| e.name.clone()).unwrap_or_else(|| "?".into())
            }
            b if b.is_integer() && t.index >= 0 => {
                self.enum_of(t).map(|e| e.name.clone()).unwrap_or_else(|| "?".into())
            }
            b => b.fbs_name().into(),
        }
    }

    /// Size in bytes of a value of `t` stored inline (scalars, structs, arrays); 0 for others.
    pub(crate) fn inline_size(&self, t: &Type) -> usize {
        match t.base {
            BaseType::Obj => self.object_of(t).filter(|o| o.is_struct).map_or(0, |o| o.bytesize),
            BaseType::Array => self.inline_size(&t.element_type()) * usize::from(t.fixed_length),
            b => b.size(),
        }
    }

    fn validate(&mut self) -> Result<(), Error> {
        let n_obj = self.objects.len();
        let bad = |what: String| Err(Error::Schema(what));
        // Enums and unions.
        for e in &self.enums {
            if e.is_union {
                for v in &e.values {
                    if !(0..=255).contains(&v.value) {
                        return bad(format!("union {}: member {} has value {}", e.name, v.name, v.value));
                    }
                    let Some(t) = v.union_type else { continue };
                    let ok = match t.base {
                        BaseType::None => v.value == 0,
                        BaseType::Obj => usize::try_from(t.index).is_ok_and(|i| i < n_obj),
                        BaseType::String => true,
                        _ => false,
                    };
                    if !ok {
                        return bad(format!("union {}: member {} has an unsupported type", e.name, v.name));
                    }
                }
            } else if !e.underlying.base.is_integer() && e.underlying.base != BaseType::Bool {
                return bad(format!(
                    "enum {}: underlying type {:?} is not an integer",
                    e.name, e.underlying.base
                ));
            }
        }
        let enum_ok = |t: &Type, union: bool| {
            usize::try_from(t.index).ok().and_then(|i| self.enums.get(i)).is_some_and(|e| e.is_union == union)
        };
        let obj_ok = |t: &Type, is_struct: Option<bool>| {
            usize::try_from(t.index)
                .ok()
                .and_then(|i| self.objects.get(i))
                .is_some_and(|o| is_struct.is_none_or(|s| o.is_struct == s))
        };
        // Struct layout first (tables use struct sizes).
        let mut state = vec![0u8; self.objects.len()]; // 0 new, 1 visiting, 2 done
        for i in 0..self.objects.len() {
            if self.objects[i].is_struct {
                self.check_struct(i, &mut state, 0)?;
            }
        }
        for o in &self.objects {
            let here = |f: &Field, what: &str| Err(Error::Schema(format!("{}.{}: {what}", o.name, f.name)));
            for f in &o.fields {
                let t = &f.ty;
                // Scalars that name an enum must name a plain enum.
                let scalar_enum = |b: BaseType| {
                    if b == BaseType::UType {
                        enum_ok(t, true)
                    } else if t.index >= 0 {
                        enum_ok(t, false)
                    } else {
                        true
                    }
                };
                if o.is_struct {
                    continue; // checked by check_struct
                }
                if f.offset < 4 || f.offset % 2 != 0 {
                    return here(f, &format!("vtable offset {} is not a valid slot", f.offset));
                }
                let ok = match t.base {
                    b if b.is_scalar() => scalar_enum(b),
                    BaseType::String => true,
                    BaseType::Obj => obj_ok(t, None),
                    BaseType::Union => enum_ok(t, true),
                    BaseType::Vector => match t.element {
                        b if b.is_scalar() => scalar_enum(b),
                        BaseType::String => true,
                        BaseType::Obj => obj_ok(t, None),
                        BaseType::Union => enum_ok(t, true),
                        _ => false,
                    },
                    _ => false,
                };
                if !ok {
                    return here(
                        f,
                        &format!(
                            "type {:?} of {:?} with index {} is not valid in a table",
                            t.base, t.element, t.index
                        ),
                    );
                }
            }
        }
        // Union fields find their `<name>_type` discriminant.
        for o in &mut self.objects {
            if o.is_struct {
                continue;
            }
            for i in 0..o.fields.len() {
                let f = &o.fields[i];
                let is_union = f.ty.base == BaseType::Union
                    || (f.ty.base == BaseType::Vector && f.ty.element == BaseType::Union);
                if !is_union {
                    continue;
                }
                let want = format!("{}_type", f.name);
                let companion = o.by_name.get(&want).copied().filter(|&c| {
                    let ct = &o.fields[c].ty;
                    let shape_ok = if f.ty.base == BaseType::Union {
                        ct.base == BaseType::UType
                    } else {
                        ct.base == BaseType::Vector && ct.element == BaseType::UType
                    };
                    shape_ok && ct.index == f.ty.index
                });
                match companion {
                    Some(c) => o.fields[i].companion = Some(c),
                    None => {
                        return Err(Error::Schema(format!(
                            "{}.{}: union field without its `{want}` discriminant",
                            o.name, o.fields[i].name
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Check struct `i`: fields are scalars, structs or arrays of those, inside `bytesize`, with
    /// no struct containing itself.
    fn check_struct(&self, i: usize, state: &mut [u8], depth: usize) -> Result<(), Error> {
        match state[i] {
            2 => return Ok(()),
            1 => return Err(Error::Schema(format!("struct {} contains itself", self.objects[i].name))),
            _ => {}
        }
        if depth > MAX_STRUCT_NESTING {
            return Err(Error::Schema(format!("struct {} nests too deep", self.objects[i].name)));
        }
        state[i] = 1;
        let o = &self.objects[i];
        if o.bytesize == 0
            || o.bytesize > MAX_STRUCT_SIZE
            || !o.minalign.is_power_of_two()
            || o.minalign > 256
        {
            return Err(Error::Schema(format!(
                "struct {}: size {} / alignment {} are not valid",
                o.name, o.bytesize, o.minalign
            )));
        }
        for f in &o.fields {
            let t = &f.ty;
            let sub_struct = |t: &Type| -> Result<usize, Error> {
                match usize::try_from(t.index)
                    .ok()
                    .filter(|&j| self.objects.get(j).is_some_and(|s| s.is_struct))
                {
                    Some(j) => Ok(j),
                    None => Err(Error::Schema(format!("{}.{}: not a struct type", o.name, f.name))),
                }
            };
            let size = match t.base {
                b if b.is_scalar() && b != BaseType::UType => {
                    let plain_enum = |j: usize| self.enums.get(j).is_some_and(|e| !e.is_union);
                    if t.index >= 0 && !usize::try_from(t.index).is_ok_and(plain_enum) {
                        return Err(Error::Schema(format!("{}.{}: bad enum index", o.name, f.name)));
                    }
                    b.size()
                }
                BaseType::Obj => {
                    let j = sub_struct(t)?;
                    self.check_struct(j, state, depth + 1)?;
                    self.objects[j].bytesize
                }
                BaseType::Array => {
                    if t.fixed_length == 0 {
                        return Err(Error::Schema(format!("{}.{}: array of length 0", o.name, f.name)));
                    }
                    let elem = match t.element {
                        b if b.is_scalar() && b != BaseType::UType => b.size(),
                        BaseType::Obj => {
                            let j = sub_struct(t)?;
                            self.check_struct(j, state, depth + 1)?;
                            self.objects[j].bytesize
                        }
                        _ => return Err(Error::Schema(format!("{}.{}: bad array element", o.name, f.name))),
                    };
                    elem * usize::from(t.fixed_length)
                }
                _ => {
                    return Err(Error::Schema(format!(
                        "{}.{}: type not allowed in a struct",
                        o.name, f.name
                    )));
                }
            };
            if usize::from(f.offset) + size > o.bytesize {
                return Err(Error::Schema(format!(
                    "{}.{}: field at byte {} of size {size} overruns the struct's {} bytes",
                    o.name, f.name, f.offset, o.bytesize
                )));
            }
        }
        state[i] = 2;
        Ok(())
    }
}
