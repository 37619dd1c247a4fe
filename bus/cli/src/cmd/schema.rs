//! `vbus schema TYPE|KEY`: the definition of a type as served on the bus, in `.fbs` syntax.

use std::{collections::BTreeSet, fmt::Write, path::PathBuf};

use clap::Args;
use serde_json::json;
use vbus_reflect::{BaseType, Enum, Object, Schema, Type, did_you_mean};

use crate::{Failure, Result, ctx::Ctx};

#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// Fully qualified type (`demo.vehicle.VehicleSpeed`), its short name, or a topic key
    /// (`chassis/speed`).
    name: String,
    /// Also write the binary schema (.bfbs) to FILE.
    #[arg(long, value_name = "FILE")]
    bfbs: Option<PathBuf>,
}

pub async fn run(ctx: &Ctx, a: SchemaArgs) -> Result<()> {
    let type_name = if a.name.contains('/') { ctx.topic_type(&a.name).await? } else { a.name.clone() };
    let mut entry = ctx.schemas.lock().await.get(&type_name).await;
    if entry.is_none() {
        // A short name, or a typo: look through everything served.
        let mut names: BTreeSet<String> = ctx.schemas.lock().await.type_names().await.into_iter().collect();
        for t in ctx.topics().await.unwrap_or_default() {
            names.insert(t.type_name);
        }
        let short: Vec<&String> =
            names.iter().filter(|n| n.rsplit('.').next() == Some(type_name.as_str())).collect();
        if let [full] = short.as_slice() {
            entry = ctx.schemas.lock().await.get(full).await;
        }
        if entry.is_none() {
            let mut f =
                Failure::new(format!("no schema containing `{type_name}` is served or given with --schema"));
            if let Some(s) = did_you_mean(&type_name, names.iter()) {
                f = f.hint(format!("did you mean `{s}`?"));
            } else if names.is_empty() {
                f = f.hint(
                    "no schema is served at all: are publishers running in this domain? (`vbus doctor`)",
                );
            }
            return Err(f);
        }
    }
    let entry = entry.expect("found above");
    let schema = &entry.schema;
    let obj = schema.object(&entry.type_name).expect("entry contains its type");
    if let Some(path) = &a.bfbs {
        std::fs::write(path, &entry.bfbs).map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
    }
    let text = definition(schema, obj);
    if ctx.json {
        let fields: Vec<_> = obj
            .fields
            .iter()
            .map(|f| {
                json!({"name": f.name, "type": schema.type_name(&f.ty), "id": f.id,
                       "default": default_text(schema, &f.ty, f.default_integer, f.default_real, f.optional),
                       "optional": f.optional, "required": f.required, "deprecated": f.deprecated, "docs": f.docs})
            })
            .collect();
        println!(
            "{}",
            json!({"type": entry.type_name, "kind": if obj.is_struct { "struct" } else { "table" },
                   "type_hash": format!("{:016x}", entry.type_hash),
                   "hash_served": entry.served_hash.is_some(), "bfbs_bytes": entry.bfbs.len(),
                   "attributes": obj.attributes.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
                   "fields": fields, "definition": text})
        );
    } else {
        let origin =
            if entry.served_hash.is_some() { "as served on the bus" } else { "computed from the schema" };
        println!(
            "// {}: type hash {:#018x} ({origin}), {}-byte .bfbs",
            entry.type_name,
            entry.type_hash,
            entry.bfbs.len()
        );
        print!("{text}");
    }
    Ok(())
}

/// The type and every type it uses, in `.fbs` syntax with documentation and attributes.
pub fn definition(schema: &Schema, root: &Object) -> String {
    let mut out = String::new();
    let mut done = BTreeSet::new();
    let mut objects = vec![root];
    let mut enums: Vec<&Enum> = Vec::new();
    while let Some(o) = objects.pop() {
        if !done.insert(o.name.clone()) {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        write_object(&mut out, schema, o);
        for f in &o.fields {
            let t = f.ty;
            let elem = t.element_type();
            for ty in [t, elem] {
                match ty.base {
                    BaseType::Obj => objects.extend(schema.object_of(&ty)),
                    BaseType::Union | BaseType::UType => {
                        if let Some(e) = schema.enum_of(&ty) {
                            enums.push(e);
                            for v in &e.values {
                                if let Some(m) = v.union_type.as_ref().and_then(|m| schema.object_of(m)) {
                                    objects.push(m);
                                }
                            }
                        }
                    }
                    b if b.is_integer() && ty.index >= 0 => enums.extend(schema.enum_of(&ty)),
                    _ => {}
                }
            }
        }
    }
    for e in enums {
        if done.insert(e.name.clone()) {
            out.push('\n');
            write_enum(&mut out, schema, e);
        }
    }
    out
}

fn docs(out: &mut String, docs: &[String], indent: &str) {
    for d in docs {
        let _ = writeln!(out, "{indent}///{d}");
    }
}

const BUILTIN: &[&str] = &["id", "deprecated", "required", "key", "bit_flags", "force_align"];

fn attrs(list: &[(String, String)]) -> String {
    let shown: Vec<String> = list
        .iter()
        .filter(|(k, _)| !BUILTIN.contains(&k.as_str()))
        .map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k}: {v:?}") })
        .collect();
    if shown.is_empty() { String::new() } else { format!(" ({})", shown.join(", ")) }
}

fn write_object(out: &mut String, schema: &Schema, o: &Object) {
    docs(out, &o.docs, "");
    let kw = if o.is_struct { "struct" } else { "table" };
    let _ = writeln!(out, "{kw} {}{} {{", o.name, attrs(&o.attributes));
    for f in &o.fields {
        // The hidden `<union>_type` field is implied by the union field.
        if f.ty.base == BaseType::UType || (f.ty.base == BaseType::Vector && f.ty.element == BaseType::UType)
        {
            continue;
        }
        docs(out, &f.docs, "  ");
        let mut flags = Vec::new();
        if f.deprecated {
            flags.push("deprecated".to_owned());
        }
        if f.required {
            flags.push("required".to_owned());
        }
        if f.key {
            flags.push("key".to_owned());
        }
        let mut extra = attrs(&f.attributes);
        if !flags.is_empty() {
            extra = format!(
                " ({}{})",
                flags.join(", "),
                extra.strip_prefix(" (").map(|r| format!(", {r}")).unwrap_or(")".into())
            );
        }
        let default = if o.is_struct {
            None
        } else {
            default_text(schema, &f.ty, f.default_integer, f.default_real, f.optional)
        };
        let default = default.map(|d| format!(" = {d}")).unwrap_or_default();
        let _ = writeln!(out, "  {}: {}{default}{extra};", f.name, schema.type_name(&f.ty));
    }
    out.push_str("}\n");
}

fn write_enum(out: &mut String, schema: &Schema, e: &Enum) {
    docs(out, &e.docs, "");
    if e.is_union {
        let members: Vec<String> = e
            .values
            .iter()
            .filter(|v| v.value != 0)
            .map(|v| {
                let t = v.union_type.map(|t| schema.type_name(&t)).unwrap_or_default();
                if t.ends_with(&v.name) { t } else { format!("{}: {t}", v.name) }
            })
            .collect();
        let _ = writeln!(out, "union {} {{ {} }}", e.name, members.join(", "));
    } else {
        let flags = if e.bit_flags { " (bit_flags)" } else { "" };
        let values: Vec<String> = e.values.iter().map(|v| format!("{} = {}", v.name, v.value)).collect();
        let _ = writeln!(
            out,
            "enum {} : {}{flags} {{ {} }}",
            e.name,
            e.underlying.base.fbs_name(),
            values.join(", ")
        );
    }
}

/// The default of a scalar field as written in a schema; `None` for non-scalars and zeros.
fn default_text(schema: &Schema, t: &Type, integer: i64, real: f64, optional: bool) -> Option<String> {
    if !t.base.is_scalar() || t.base == BaseType::UType {
        return None;
    }
    if optional {
        return Some("null".into());
    }
    match t.base {
        BaseType::Float | BaseType::Double => (real != 0.0).then(|| format!("{real}")),
        BaseType::Bool => (integer != 0).then(|| "true".into()),
        _ => {
            if t.index >= 0
                && let Some(e) = schema.enum_of(t)
            {
                return e
                    .value_of(integer)
                    .map(|v| v.name.clone())
                    .or_else(|| (integer != 0).then(|| integer.to_string()));
            }
            (integer != 0).then(|| integer.to_string())
        }
    }
}
