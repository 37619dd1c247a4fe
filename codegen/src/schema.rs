//! An owned model of a binary FlatBuffers schema (`.bfbs`, reflection.fbs), as flatc writes it
//! with `-b --schema`.

use std::io;

use crate::reflection_generated::reflection as r;

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

    /// Canonical scalar name used in the type hash and docs (`int8`, `uint32`, `float64`, ...).
    pub fn canonical(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::UType => "utype",
            Self::Bool => "bool",
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
            Self::String => "string",
            Self::Vector => "vector",
            Self::Obj => "obj",
            Self::Union => "union",
            Self::Array => "array",
            Self::Vector64 => "vector64",
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
    /// `root_table` (set in the per-message schemas of [`subset_bfbs`]).
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

/// A `.bfbs` with only what table `root` needs: the objects and enums reachable from it (sorted
/// and re-indexed as reflection.fbs requires), with `root_table` set to it. Documentation and
/// attributes are kept. This is what each generated message serves as `Message::SCHEMA`.
pub fn subset_bfbs(full: &[u8], root: &str) -> io::Result<Vec<u8>> {
    Ok(subsets_bfbs(full, &[root])?.remove(0))
}

/// [`subset_bfbs`] for several roots, verifying `full` once.
pub fn subsets_bfbs(full: &[u8], roots: &[&str]) -> io::Result<Vec<Vec<u8>>> {
    let opts = flatbuffers::VerifierOptions { max_tables: 100_000_000, ..Default::default() };
    let s = flatbuffers::root_with_opts::<r::Schema<'_>>(&opts, full)
        .map_err(|e| invalid(format!("invalid .bfbs: {e}")))?;
    let objects: Vec<r::Object<'_>> = s.objects().iter().collect();
    let enums: Vec<r::Enum<'_>> = s.enums().iter().collect();
    roots.iter().map(|root| subset_of(s, &objects, &enums, root)).collect()
}

fn subset_of(
    s: r::Schema<'_>,
    objects: &[r::Object<'_>],
    enums: &[r::Enum<'_>],
    root: &str,
) -> io::Result<Vec<u8>> {
    use flatbuffers::{FlatBufferBuilder, ForwardsUOffset, Vector, WIPOffset};
    use std::collections::BTreeMap;

    let root_index = objects
        .iter()
        .position(|o| o.name() == root)
        .ok_or_else(|| invalid(format!("no table `{root}` in the schema")))?;

    // Reachable objects and enums (old indices).
    let mut objs = std::collections::BTreeSet::new();
    let mut ens = std::collections::BTreeSet::new();
    let mut stack = vec![root_index];
    fn note(
        t: r::Type<'_>,
        objs_todo: &mut Vec<usize>,
        ens: &mut std::collections::BTreeSet<usize>,
    ) -> Option<usize> {
        let idx = usize::try_from(t.index()).ok()?;
        let b = t.base_type();
        let el = t.element();
        let is_obj = b == r::BaseType::Obj
            || ((b == r::BaseType::Vector || b == r::BaseType::Vector64 || b == r::BaseType::Array)
                && el == r::BaseType::Obj);
        if is_obj {
            objs_todo.push(idx);
        } else {
            ens.insert(idx);
            return Some(idx);
        }
        None
    }
    while let Some(i) = stack.pop() {
        if !objs.insert(i) {
            continue;
        }
        for f in objects[i].fields() {
            if let Some(e) = note(f.type_(), &mut stack, &mut ens) {
                // Union members are objects too.
                for v in enums[e].values() {
                    if let Some(t) = v.union_type() {
                        note(t, &mut stack, &mut ens);
                    }
                }
            }
        }
    }
    // New indices: by name, as the originals are sorted by name.
    let obj_map: BTreeMap<usize, i32> = objs.iter().enumerate().map(|(n, o)| (*o, n as i32)).collect();
    let enum_map: BTreeMap<usize, i32> = ens.iter().enumerate().map(|(n, e)| (*e, n as i32)).collect();

    let mut fbb = FlatBufferBuilder::with_capacity(4096);
    let ty = |fbb: &mut FlatBufferBuilder<'_>, t: r::Type<'_>| -> WIPOffset<r::Type<'static>> {
        let old = usize::try_from(t.index()).ok();
        let is_obj = t.base_type() == r::BaseType::Obj || t.element() == r::BaseType::Obj;
        let index = match old {
            None => -1,
            Some(i) if is_obj => obj_map.get(&i).copied().unwrap_or(-1),
            Some(i) => enum_map.get(&i).copied().unwrap_or(-1),
        };
        let args = r::TypeArgs {
            base_type: t.base_type(),
            element: t.element(),
            index,
            fixed_length: t.fixed_length(),
            base_size: t.base_size(),
            element_size: t.element_size(),
        };
        let o = r::Type::create(fbb, &args);
        WIPOffset::new(o.value())
    };
    type Strs<'a> = Option<WIPOffset<Vector<'a, ForwardsUOffset<&'a str>>>>;
    type Kvs<'a> = Option<WIPOffset<Vector<'a, ForwardsUOffset<r::KeyValue<'a>>>>>;
    fn strs<'a>(fbb: &mut FlatBufferBuilder<'a>, v: Option<Vector<'_, ForwardsUOffset<&str>>>) -> Strs<'a> {
        let v = v?;
        let items: Vec<WIPOffset<&str>> = v.iter().map(|s| fbb.create_string(s)).collect();
        Some(fbb.create_vector(&items))
    }
    fn kvs<'a>(
        fbb: &mut FlatBufferBuilder<'a>,
        v: Option<Vector<'_, ForwardsUOffset<r::KeyValue<'_>>>>,
    ) -> Kvs<'a> {
        let v = v?;
        let items: Vec<WIPOffset<r::KeyValue<'a>>> = v
            .iter()
            .map(|kv| {
                let key = Some(fbb.create_string(kv.key()));
                let value = kv.value().map(|s| fbb.create_string(s));
                r::KeyValue::create(fbb, &r::KeyValueArgs { key, value })
            })
            .collect();
        Some(fbb.create_vector(&items))
    }

    let mut enum_offsets = Vec::new();
    for &e in &ens {
        let e = enums[e];
        let mut vals = Vec::new();
        for v in e.values() {
            let name = Some(fbb.create_string(v.name()));
            let union_type = v.union_type().map(|t| WIPOffset::new(ty(&mut fbb, t).value()));
            let documentation = strs(&mut fbb, v.documentation());
            let attributes = kvs(&mut fbb, v.attributes());
            vals.push(r::EnumVal::create(
                &mut fbb,
                &r::EnumValArgs { name, value: v.value(), union_type, documentation, attributes },
            ));
        }
        let values = Some(fbb.create_vector(&vals));
        let name = Some(fbb.create_string(e.name()));
        let underlying_type = Some(WIPOffset::new(ty(&mut fbb, e.underlying_type()).value()));
        let attributes = kvs(&mut fbb, e.attributes());
        let documentation = strs(&mut fbb, e.documentation());
        let declaration_file = e.declaration_file().map(|s| fbb.create_string(s));
        enum_offsets.push(r::Enum::create(
            &mut fbb,
            &r::EnumArgs {
                name,
                values,
                is_union: e.is_union(),
                underlying_type,
                attributes,
                documentation,
                declaration_file,
            },
        ));
    }
    let mut obj_offsets = Vec::new();
    let mut root_offset = None;
    for &i in &objs {
        let o = objects[i];
        let mut fields = Vec::new();
        for f in o.fields() {
            let name = Some(fbb.create_string(f.name()));
            let type_ = Some(WIPOffset::new(ty(&mut fbb, f.type_()).value()));
            let attributes = kvs(&mut fbb, f.attributes());
            let documentation = strs(&mut fbb, f.documentation());
            fields.push(r::Field::create(
                &mut fbb,
                &r::FieldArgs {
                    name,
                    type_,
                    id: f.id(),
                    offset: f.offset(),
                    default_integer: f.default_integer(),
                    default_real: f.default_real(),
                    deprecated: f.deprecated(),
                    required: f.required(),
                    key: f.key(),
                    attributes,
                    documentation,
                    optional: f.optional(),
                    padding: f.padding(),
                    offset64: f.offset64(),
                },
            ));
        }
        let fields = Some(fbb.create_vector(&fields));
        let name = Some(fbb.create_string(o.name()));
        let attributes = kvs(&mut fbb, o.attributes());
        let documentation = strs(&mut fbb, o.documentation());
        let declaration_file = o.declaration_file().map(|s| fbb.create_string(s));
        let off = r::Object::create(
            &mut fbb,
            &r::ObjectArgs {
                name,
                fields,
                is_struct: o.is_struct(),
                minalign: o.minalign(),
                bytesize: o.bytesize(),
                attributes,
                documentation,
                declaration_file,
            },
        );
        if i == root_index {
            root_offset = Some(off);
        }
        obj_offsets.push(off);
    }
    let objects = Some(fbb.create_vector(&obj_offsets));
    let enums = Some(fbb.create_vector(&enum_offsets));
    let file_ident = s.file_ident().map(|x| fbb.create_string(x));
    let file_ext = s.file_ext().map(|x| fbb.create_string(x));
    let schema = r::Schema::create(
        &mut fbb,
        &r::SchemaArgs {
            objects,
            enums,
            file_ident,
            file_ext,
            root_table: root_offset,
            services: None,
            advanced_features: s.advanced_features(),
            fbs_files: None,
        },
    );
    r::finish_schema_buffer(&mut fbb, schema);
    Ok(fbb.finished_data().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let h = |s: &Schema| crate::hash::type_hash(s, s.object("vehicle.chassis.VehicleSpeed").unwrap());
        assert_eq!(h(&sub), h(&full));
        // Unions pull in their members.
        let sub = Schema::parse(&subset_bfbs(&g.bfbs, "vehicle.chassis.Diagnostic").unwrap()).unwrap();
        let names: Vec<&str> = sub.objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["vehicle.chassis.Diagnostic", "vehicle.chassis.Sample", "vehicle.common.Header"]);
        // The concatenated per-message schemas hold one schema per marker.
        assert!(g.schemas.len() < 6 * g.bfbs.len());
    }
}
