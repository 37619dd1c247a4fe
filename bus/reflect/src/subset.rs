//! Per-type schemas: a `.bfbs` cut down to what one table needs.

use crate::reflection_generated::reflection as r;

fn invalid(msg: String) -> crate::Error {
    crate::Error::Schema(msg)
}

/// A `.bfbs` with only what table `root` needs: the objects and enums reachable from it (sorted
/// and re-indexed as reflection.fbs requires), with `root_table` set to it. Documentation and
/// attributes are kept. This is what each generated message serves as `Message::SCHEMA`.
pub fn subset_bfbs(full: &[u8], root: &str) -> Result<Vec<u8>, crate::Error> {
    Ok(subsets_bfbs(full, &[root])?.remove(0))
}

/// [`subset_bfbs`] for several roots, verifying `full` once.
pub fn subsets_bfbs(full: &[u8], roots: &[&str]) -> Result<Vec<Vec<u8>>, crate::Error> {
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
) -> Result<Vec<u8>, crate::Error> {
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
