//! An owned model of a binary FlatBuffers schema (`.bfbs`, reflection.fbs), as flatc writes it
//! with `-b --schema`.

use std::io;

use vbus_reflect::reflection_generated::reflection as r;

/// FlatBuffers base types (reflection.fbs `BaseType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Base {
    None,
    UType,
    Bool,
    Byte,
    UByte,
    Short,
    UShort,
    Int,
    UInt,
    Long,
    ULong,
    Float,
    Double,
    String,
    Vector,
    Obj,
    Union,
    Array,
    Vector64,
}

impl Base {
    fn from_r(b: r::BaseType) -> io::Result<Self> {
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
            r::BaseType::Vector64 => Self::Vector64,
            other => return Err(invalid(format!("unknown base type {other:?} in .bfbs"))),
        })
    }

    /// Is this a scalar (integer, float, bool or union type tag)?
    pub fn is_scalar(self) -> bool {
        matches!(
            self,
            Self::UType
                | Self::Bool
                | Self::Byte
                | Self::UByte
                | Self::Short
                | Self::UShort
                | Self::Int
                | Self::UInt
                | Self::Long
                | Self::ULong
                | Self::Float
                | Self::Double
        )
    }

    /// Size in bits of a scalar (0 for others).
    pub fn size_bits(self) -> u32 {
        match self {
            Self::Bool | Self::Byte | Self::UByte | Self::UType => 8,
            Self::Short | Self::UShort => 16,
            Self::Int | Self::UInt | Self::Float => 32,
            Self::Long | Self::ULong | Self::Double => 64,
            _ => 0,
        }
    }
}

/// A field or element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Type {
    /// The base type.
    pub base: Base,
    /// Element type of vectors and arrays.
    pub element: Base,
    /// Index into [`Schema::objects`] (Obj) or [`Schema::enums`] (Union, UType, enum-typed
    /// integers); -1 when none.
    pub index: i32,
    /// Length of a fixed-size array.
    pub fixed_length: u16,
}

/// One field of a table or struct.
#[derive(Clone, Debug)]
pub struct Field {
    /// Field name as written in the schema.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Field id (tables: slot number; structs: declaration order).
    pub id: u16,
    /// `(deprecated)`.
    pub deprecated: bool,
    /// `(required)`.
    pub required: bool,
    /// Optional scalar (`= null`).
    pub optional: bool,
    /// `(key)`.
    pub key: bool,
    /// Default of integer fields.
    pub default_integer: i64,
    /// Default of float fields.
    pub default_real: f64,
    /// `///` documentation lines.
    pub docs: Vec<String>,
    /// User and builtin attributes.
    pub attributes: Vec<(String, String)>,
}

/// A table or struct.
#[derive(Clone, Debug)]
pub struct Object {
    /// Fully qualified name (`vehicle.chassis.VehicleSpeed`).
    pub name: String,
    /// Fields in id order.
    pub fields: Vec<Field>,
    /// A struct (fixed layout) rather than a table.
    pub is_struct: bool,
    /// Attributes (`(vbus_topic: "...")` and friends), values as strings.
    pub attributes: Vec<(String, String)>,
    /// `///` documentation lines.
    pub docs: Vec<String>,
    /// File that declares it, as flatc reports it (`//dir/file.fbs`), when known.
    pub declaration_file: Option<String>,
}

/// One value of an enum or union.
#[derive(Clone, Debug)]
pub struct EnumVal {
    /// Name.
    pub name: String,
    /// Value.
    pub value: i64,
    /// Unions: the member type.
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
    /// Underlying integer type.
    pub underlying: Type,
    /// Attributes.
    pub attributes: Vec<(String, String)>,
    /// `///` documentation lines.
    pub docs: Vec<String>,
}

/// A parsed `.bfbs`.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    /// Tables and structs, sorted by fully qualified name.
    pub objects: Vec<Object>,
    /// Enums and unions, sorted by fully qualified name.
    pub enums: Vec<Enum>,
    /// `root_table` (set in the per-message schemas of [`vbus_reflect::subset_bfbs`]).
    pub root: Option<String>,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn ty(t: r::Type<'_>) -> io::Result<Type> {
    Ok(Type {
        base: Base::from_r(t.base_type())?,
        element: Base::from_r(t.element())?,
        index: t.index(),
        fixed_length: t.fixed_length(),
    })
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

impl Schema {
    /// Parse and verify `.bfbs` bytes.
    pub fn parse(bytes: &[u8]) -> io::Result<Self> {
        let opts = flatbuffers::VerifierOptions { max_tables: 100_000_000, ..Default::default() };
        let s = flatbuffers::root_with_opts::<r::Schema<'_>>(&opts, bytes)
            .map_err(|e| invalid(format!("invalid .bfbs: {e}")))?;
        let mut objects = Vec::new();
        for o in s.objects() {
            let mut fields = Vec::new();
            for f in o.fields() {
                fields.push(Field {
                    name: f.name().to_string(),
                    ty: ty(f.type_())?,
                    id: f.id(),
                    deprecated: f.deprecated(),
                    required: f.required(),
                    optional: f.optional(),
                    key: f.key(),
                    default_integer: f.default_integer(),
                    default_real: f.default_real(),
                    docs: docs(f.documentation()),
                    attributes: kvs(f.attributes()),
                });
            }
            fields.sort_by_key(|f| f.id);
            objects.push(Object {
                name: o.name().to_string(),
                fields,
                is_struct: o.is_struct(),
                attributes: kvs(o.attributes()),
                docs: docs(o.documentation()),
                declaration_file: o.declaration_file().map(str::to_string),
            });
        }
        let mut enums = Vec::new();
        for e in s.enums() {
            let mut values = Vec::new();
            for v in e.values() {
                values.push(EnumVal {
                    name: v.name().to_string(),
                    value: v.value(),
                    union_type: v.union_type().map(ty).transpose()?,
                    docs: docs(v.documentation()),
                });
            }
            enums.push(Enum {
                name: e.name().to_string(),
                values,
                is_union: e.is_union(),
                underlying: ty(e.underlying_type())?,
                attributes: kvs(e.attributes()),
                docs: docs(e.documentation()),
            });
        }
        Ok(Self { objects, enums, root: s.root_table().map(|o| o.name().to_string()) })
    }

    /// The object named `fqn`.
    pub fn object(&self, fqn: &str) -> Option<&Object> {
        self.objects.binary_search_by(|o| o.name.as_str().cmp(fqn)).ok().map(|i| &self.objects[i])
    }
}

impl Object {
    /// The value of attribute `key`, if present.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vbus_reflect::subset_bfbs;

    #[test]
    fn subset_keeps_only_what_the_root_needs() {
        let dir = std::env::temp_dir().join(format!("vbus-codegen-subset-{}", std::process::id()));
        let inputs = std::path::Path::new("tests/golden/inputs");
        let g = crate::Config::new()
            .generate_fbs(
                "v",
                &[inputs.join("vehicle.fbs"), inputs.join("body.fbs")],
                &[inputs.to_path_buf()],
                &dir,
            )
            .unwrap();
        let full = Schema::parse(&g.bfbs).unwrap();
        assert!(full.objects.len() > 8 && full.root.is_none());
        let sub = Schema::parse(&subset_bfbs(&g.bfbs, "vehicle.chassis.VehicleSpeed").unwrap()).unwrap();
        assert_eq!(sub.root.as_deref(), Some("vehicle.chassis.VehicleSpeed"));
        let names: Vec<&str> = sub.objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["vehicle.chassis.VehicleSpeed", "vehicle.common.Header"]);
        let enums: Vec<&str> = sub.enums.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(enums, ["vehicle.common.Faults", "vehicle.common.Source"]);
        // Indices are rewritten: the type hash is the same as from the full schema.
        let sub_bfbs = subset_bfbs(&g.bfbs, "vehicle.chassis.VehicleSpeed").unwrap();
        let h = |b: &[u8]| crate::hash::type_hash(b, "vehicle.chassis.VehicleSpeed").unwrap();
        assert_eq!(h(&sub_bfbs), h(&g.bfbs));
        // Unions pull in their members.
        let sub = Schema::parse(&subset_bfbs(&g.bfbs, "vehicle.chassis.Diagnostic").unwrap()).unwrap();
        let names: Vec<&str> = sub.objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["vehicle.chassis.Diagnostic", "vehicle.chassis.Sample", "vehicle.common.Header"]);
        // The concatenated per-message schemas hold one schema per marker.
        assert!(g.schemas.len() < 6 * g.bfbs.len());
    }
}
