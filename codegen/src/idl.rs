//! OMG IDL 4 output (as Eclipse Cyclone DDS `idlc` accepts it) for topics marked `vbus_dds`.
//!
//! Mapping: each namespace becomes nested `module`s; a table becomes an `@appendable struct`
//! (FlatBuffers tables evolve by appending fields), a FlatBuffers struct a `@final struct`;
//! topic tables carry `@topic`. Scalars map to `boolean`, `int8`/`uint8`, `short`,
//! `unsigned short`, `long`, `unsigned long`, `long long`, `unsigned long long`, `float`,
//! `double`; `string` to `string`; vectors to `sequence<T>`; fixed arrays to array declarators;
//! enums to IDL enums (`@value(n)` where values are not 0, 1, 2, ...); optional scalars
//! (`= null`) get `@optional`; `(key)` fields get `@key`. Deprecated fields are left out.
//! Union fields have no IDL mapping here and are an error on a `vbus_dds` topic.
//! Names that are IDL keywords are escaped with a leading `_` (IDL's escaped identifiers).

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::attrs::{PRIORITIES, TopicSpec};
use vbus_reflect::{BaseType as Base, Schema, Type};

const IDL_KEYWORDS: &[&str] = &[
    "abstract",
    "any",
    "alias",
    "attribute",
    "bitfield",
    "bitmask",
    "bitset",
    "boolean",
    "case",
    "char",
    "component",
    "connector",
    "const",
    "consumes",
    "context",
    "custom",
    "default",
    "double",
    "exception",
    "emits",
    "enum",
    "eventtype",
    "factory",
    "false",
    "finder",
    "fixed",
    "float",
    "getraises",
    "getter",
    "home",
    "import",
    "in",
    "inout",
    "interface",
    "local",
    "long",
    "manages",
    "map",
    "mirrorport",
    "module",
    "multiple",
    "native",
    "Object",
    "octet",
    "oneway",
    "out",
    "primarykey",
    "private",
    "port",
    "porttype",
    "provides",
    "public",
    "publishes",
    "raises",
    "readonly",
    "setraises",
    "sequence",
    "short",
    "string",
    "struct",
    "supports",
    "switch",
    "true",
    "truncatable",
    "typedef",
    "typeid",
    "typename",
    "typeprefix",
    "unsigned",
    "union",
    "uses",
    "ValueBase",
    "valuetype",
    "void",
    "wchar",
    "wstring",
    "int8",
    "uint8",
    "int16",
    "int32",
    "int64",
    "uint16",
    "uint32",
    "uint64",
];

fn ident(name: &str) -> String {
    if IDL_KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(name)) {
        format!("_{name}")
    } else {
        name.to_string()
    }
}

fn scoped(fqn: &str) -> String {
    let parts: Vec<String> = fqn.split('.').map(ident).collect();
    format!("::{}", parts.join("::"))
}

enum Def {
    Obj(usize),
    Enum(usize),
}

struct Gen<'s> {
    schema: &'s Schema,
    done: BTreeSet<String>,
    order: Vec<Def>,
    errors: Vec<String>,
}

impl Gen<'_> {
    fn visit_type(&mut self, base: Base, t: Type, ctx: &str) {
        match base {
            Base::Vector | Base::Array => self.visit_type(t.element, t, ctx),
            Base::Obj => self.visit_obj(t.index as usize),
            Base::Union | Base::UType => self.errors.push(format!("{ctx}: union fields have no IDL mapping")),
            b if b.is_scalar() && t.index >= 0 => {
                let e = &self.schema.enums[t.index as usize];
                if self.done.insert(e.name.clone()) {
                    self.order.push(Def::Enum(t.index as usize));
                }
            }
            _ => {}
        }
    }

    fn visit_obj(&mut self, i: usize) {
        let o = &self.schema.objects[i];
        if !self.done.insert(o.name.clone()) {
            return;
        }
        for f in o.fields.iter().filter(|f| !f.deprecated) {
            self.visit_type(f.ty.base, f.ty, &format!("{}.{}", o.name, f.name));
        }
        self.order.push(Def::Obj(i));
    }

    fn type_name(&self, base: Base, t: Type) -> String {
        match base {
            Base::Bool => "boolean".into(),
            _ if base.is_scalar() && t.index >= 0 && base != Base::UType => {
                scoped(&self.schema.enums[t.index as usize].name)
            }
            Base::Byte => "int8".into(),
            Base::UByte => "uint8".into(),
            Base::Short => "short".into(),
            Base::UShort => "unsigned short".into(),
            Base::Int => "long".into(),
            Base::UInt => "unsigned long".into(),
            Base::Long => "long long".into(),
            Base::ULong => "unsigned long long".into(),
            Base::Float => "float".into(),
            Base::Double => "double".into(),
            Base::String => "string".into(),
            Base::Vector => format!("sequence<{}>", self.type_name(t.element, t)),
            Base::Obj => scoped(&self.schema.objects[t.index as usize].name),
            _ => "octet".into(),
        }
    }
}

fn open_modules(out: &mut String, fqn: &str) -> usize {
    let parts: Vec<&str> = fqn.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        let _ = write!(out, "module {} {{ ", ident(p));
    }
    if parts.len() > 1 {
        out.push('\n');
    }
    parts.len() - 1
}

fn close_modules(out: &mut String, n: usize) {
    if n > 0 {
        out.push_str(&"}; ".repeat(n));
        out.push('\n');
    }
}

fn comment(s: &str) -> String {
    s.replace("*/", "* /").replace(['\n', '\r'], " ")
}

/// IDL for the `vbus_dds` topics among `topics`; `Err` lists what cannot be mapped.
pub(crate) fn render(
    schema: &Schema,
    topics: &[TopicSpec],
    inputs: &[String],
) -> Result<String, Vec<String>> {
    let mut g = Gen { schema, done: BTreeSet::new(), order: Vec::new(), errors: Vec::new() };
    let dds: Vec<&TopicSpec> = topics.iter().filter(|t| t.dds).collect();
    for t in &dds {
        if let Some(i) = schema.objects.iter().position(|o| o.name == t.fqn) {
            g.visit_obj(i);
        }
    }
    if !g.errors.is_empty() {
        return Err(g.errors);
    }
    let mut out = String::new();
    let _ = writeln!(out, "// @generated by vbus-codegen {}. Do not edit.", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "// OMG IDL 4 for the vbus_dds topics of: {}", inputs.join(", "));
    for def in &g.order {
        out.push('\n');
        match *def {
            Def::Enum(i) => {
                let e = &schema.enums[i];
                for d in &e.docs {
                    let _ = writeln!(out, "// {}", comment(d.trim()));
                }
                let n = open_modules(&mut out, &e.name);
                let short = e.name.rsplit('.').next().unwrap_or(&e.name);
                if e.attributes.iter().any(|(k, _)| k == "bit_flags") {
                    // FlatBuffers stores the masks; IDL bitmasks name bit positions.
                    let bits = e.underlying.base.size() * 8;
                    let vals: Vec<String> = e
                        .values
                        .iter()
                        .map(|v| format!("@position({}) {}", v.value.trailing_zeros(), ident(&v.name)))
                        .collect();
                    let _ = writeln!(
                        out,
                        "@bit_bound({bits}) bitmask {} {{ {} }};",
                        ident(short),
                        vals.join(", ")
                    );
                    close_modules(&mut out, n);
                    continue;
                }
                let sequential = e.values.iter().enumerate().all(|(i, v)| v.value == i as i64);
                let vals: Vec<String> = e
                    .values
                    .iter()
                    .map(|v| {
                        if sequential {
                            ident(&v.name)
                        } else {
                            format!("@value({}) {}", v.value, ident(&v.name))
                        }
                    })
                    .collect();
                let _ = writeln!(out, "enum {} {{ {} }};", ident(short), vals.join(", "));
                close_modules(&mut out, n);
            }
            Def::Obj(i) => {
                let o = &schema.objects[i];
                for d in &o.docs {
                    let _ = writeln!(out, "// {}", comment(d.trim()));
                }
                let topic = dds.iter().find(|t| t.fqn == o.name);
                if let Some(t) = topic {
                    let mut q = format!("// vbus topic \"{}\"", t.key);
                    if let Some(p) = t.qos.priority {
                        let _ = write!(q, ", priority {}", PRIORITIES[p].0);
                    }
                    if let Some(d) = t.qos.deadline_ms {
                        let _ = write!(q, ", deadline {d} ms");
                    }
                    if t.qos.best_effort == Some(true) {
                        q.push_str(", best effort");
                    }
                    let _ = writeln!(out, "{q}");
                }
                let n = open_modules(&mut out, &o.name);
                let ext = if o.is_struct { "@final" } else { "@appendable" };
                let top = if topic.is_some() { "@topic " } else { "" };
                let short = o.name.rsplit('.').next().unwrap_or(&o.name);
                let _ = writeln!(out, "{top}{ext} struct {} {{", ident(short));
                for f in o.fields.iter().filter(|f| !f.deprecated) {
                    for d in &f.docs {
                        let _ = writeln!(out, "  // {}", comment(d.trim()));
                    }
                    let mut ann = String::new();
                    if f.key {
                        ann.push_str("@key ");
                    }
                    // Absent strings and vectors read as empty, so only scalars declared `= null`
                    // and nested tables/structs are optional in IDL.
                    if (f.ty.base.is_scalar() && f.optional) || (f.ty.base == Base::Obj && !f.required) {
                        ann.push_str("@optional ");
                    }
                    if f.ty.base == Base::Array {
                        let _ = writeln!(
                            out,
                            "  {ann}{} {}[{}];",
                            g.type_name(f.ty.element, f.ty),
                            ident(&f.name),
                            f.ty.fixed_length
                        );
                    } else {
                        let _ = writeln!(out, "  {ann}{} {};", g.type_name(f.ty.base, f.ty), ident(&f.name));
                    }
                }
                if o.fields.iter().all(|f| f.deprecated) {
                    // IDL structs cannot be empty.
                    let _ = writeln!(out, "  octet _empty;");
                }
                let _ = writeln!(out, "}};");
                close_modules(&mut out, n);
            }
        }
    }
    Ok(out)
}
