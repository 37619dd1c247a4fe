//! Assembling the one Rust file that `vbus::include_topics!` includes: flatc's per-type files
//! inlined into their namespace modules, plus vbus markers, `Pack` impls and the topic tree.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::io;
use std::path::Path;

use crate::attrs::{PRIORITIES, ServiceSpec, TopicSpec};
use crate::messages::{self, KeyTree, Message, RUST_IDENTS, Step, split_fqn};
use crate::naming;

/// Lints allowed on flatc's code (it predates edition 2024 and is not clippy-clean).
const ALLOW_FLATC: &str = "#[allow(unused_imports, dead_code, non_camel_case_types, non_snake_case, \
non_upper_case_globals, missing_docs, unsafe_op_in_unsafe_fn, deprecated, rust_2018_idioms, \
unused_qualifications, unused_unsafe, mismatched_lifetime_syntaxes, ambiguous_glob_reexports, clippy::all, clippy::pedantic, clippy::nursery)]";

/// Adapt one line of flatc 23.5.26 output to the flatbuffers 25 runtime, whose `bitflags` is
/// version 2: `bit_flags` enums need the derives bitflags 1 implied, and
/// `from_bits_unchecked` is now the safe `from_bits_retain`.
pub(crate) fn fix_flatc_line<'l>(line: &'l str, in_bitflags: &mut bool) -> std::borrow::Cow<'l, str> {
    if line.starts_with("mod bitflags_") && line.trim_end().ends_with('{') {
        // flatc relies on `flatbuffers` being in the extern prelude here.
        return format!("{line}\nuse super::flatbuffers;").into();
    }
    if line.contains("bitflags::bitflags! {") {
        *in_bitflags = true;
    } else if *in_bitflags && line.trim() == "#[derive(Default)]" {
        *in_bitflags = false;
        return line
            .replace(
                "#[derive(Default)]",
                "#[derive(Default, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]",
            )
            .into();
    }
    // flatc marks object-API structs `#[non_exhaustive]`, which forbids struct literals outside
    // the crate that includes the generated code; vbus users build `FooT { .. }` values, and the
    // type hash already guards schema evolution.
    if line.trim() == "#[non_exhaustive]" {
        return "".into();
    }
    if line.contains("from_bits_unchecked(") && !line.trim_start().starts_with("//") {
        return line.replace("from_bits_unchecked(", "from_bits_retain(").into();
    }
    line.into()
}

/// A namespace module of flatc's `mod.rs`.
#[derive(Default, Debug)]
struct Module {
    subs: BTreeMap<String, Module>,
    files: Vec<String>,
}

fn parse_mod_rs(text: &str) -> io::Result<Module> {
    let mut stack: Vec<(String, Module)> = vec![(String::new(), Module::default())];
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("pub mod ") {
            let name = rest.trim_end_matches('{').trim().to_string();
            stack.push((name, Module::default()));
        } else if line.starts_with('}') {
            let (name, m) = stack.pop().ok_or_else(|| bad("unbalanced flatc mod.rs"))?;
            stack.last_mut().ok_or_else(|| bad("unbalanced flatc mod.rs"))?.1.subs.insert(name, m);
        } else if let Some(rest) = line.strip_prefix("mod ") {
            let name = rest.trim_end_matches(';').trim().to_string();
            stack.last_mut().ok_or_else(|| bad("unbalanced flatc mod.rs"))?.1.files.push(name);
        }
    }
    if stack.len() != 1 {
        return Err(bad("unbalanced flatc mod.rs"));
    }
    Ok(stack.pop().map(|(_, m)| m).unwrap_or_default())
}

fn bad(msg: &str) -> io::Error {
    io::Error::other(format!("vbus-codegen: {msg} (unexpected flatc output)"))
}

/// What the Rust assembly needs.
pub(crate) struct Unit<'a> {
    pub topics: &'a [TopicSpec],
    /// Services with the reply resolved to a fully qualified name.
    pub services: &'a [(ServiceSpec, String)],
    /// Path of the vbus crate in generated code (`::vbus`).
    pub vbus: &'a str,
    /// File name of the `.bfbs` next to the generated `.rs`.
    pub bfbs_file: &'a str,
    /// The message types: one marker each.
    pub messages: &'a [Message],
    /// File name of the per-message schemas next to the generated `.rs`.
    pub schemas_file: &'a str,
    /// Inputs, for the header comment.
    pub inputs: &'a [String],
}

/// Rust module path (flatc's naming) of a namespace.
fn module_path(ns: &[&str]) -> Vec<String> {
    ns.iter().map(|c| naming::flatc_namespace_module(c)).collect()
}

/// The marker type name of table `name`.
pub(crate) fn marker_name(name: &str) -> String {
    format!("{}Msg", naming::flatc_type_name(name))
}

/// `super::…::a::b::Name` from module `from` to item `name` in module `to`.
fn rel(from_depth: usize, to: &[String], name: &str) -> String {
    let mut s = "super::".repeat(from_depth);
    for m in to {
        s.push_str(m);
        s.push_str("::");
    }
    s.push_str(name);
    s
}

fn duration(ms: u64) -> String {
    format!("::core::time::Duration::from_millis({ms})")
}

/// The `QoS` expression of a topic.
pub(crate) fn qos_expr(vbus: &str, t: &TopicSpec) -> String {
    let q = &t.qos;
    let mut s = format!("{vbus}::QoS::new()");
    if let Some(be) = q.best_effort {
        let r = if be { "BestEffort" } else { "Reliable" };
        let _ = write!(s, ".reliability({vbus}::Reliability::{r})");
    }
    if let Some(p) = q.priority {
        let _ = write!(s, ".priority({vbus}::Priority::{})", PRIORITIES[p].1);
    }
    if let Some(e) = q.express {
        let _ = write!(s, ".express({e})");
    }
    if let Some(b) = q.block {
        let c = if b { "Block" } else { "Drop" };
        let _ = write!(s, ".congestion({vbus}::Congestion::{c})");
    }
    if let Some(h) = q.history {
        let _ = write!(s, ".history({h})");
    }
    if let Some(n) = q.queue {
        let _ = write!(s, ".queue({n})");
    }
    if let Some(d) = q.deadline_ms {
        let _ = write!(s, ".deadline({})", duration(d));
    }
    if let Some(l) = q.lifespan_ms {
        let _ = write!(s, ".lifespan({})", duration(l));
    }
    s
}

/// Names of the public top-level items of a flatc file (flatc writes them at column 0).
fn top_level_items(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let rest =
            ["pub struct ", "pub enum ", "pub const ", "pub fn ", "pub type ", "pub static ", "pub trait "]
                .iter()
                .find_map(|p| line.strip_prefix(p));
        let name = match rest {
            Some(r) => r.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or(""),
            None => match line.strip_prefix("pub use self::") {
                // `pub use self::bitflags_x::Name;`
                Some(r) => r.trim_end_matches(';').rsplit("::").next().unwrap_or(""),
                None => "",
            },
        };
        if !name.is_empty() && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// The flatc file module (`foo_generated`) under module `path` that defines type `ty`.
fn defining_file(tree: &Module, path: &[String], ty: &str, flatc_out: &Path) -> io::Result<String> {
    let mut m = tree;
    for p in path {
        m = m.subs.get(p).ok_or_else(|| bad(&format!("no module `{}` for a namespace", path.join("::"))))?;
    }
    let dir = path.iter().fold(flatc_out.to_path_buf(), |d, p| d.join(p));
    let guess = format!("{}_generated", naming::flatc_snake(ty));
    let needle = format!("pub struct {ty}<'a> {{");
    let mut files: Vec<&String> = m.files.iter().filter(|f| **f == guess).collect();
    files.extend(m.files.iter().filter(|f| **f != guess));
    for f in files {
        let text = std::fs::read_to_string(dir.join(format!("{f}.rs")))?;
        if text.contains(&needle) {
            return Ok(f.clone());
        }
    }
    Err(bad(&format!("no flatc file defines `{ty}` in `{}`", path.join("::"))))
}

/// Per-namespace-module extra items, keyed by module path.
type Extras = BTreeMap<Vec<String>, String>;

impl Unit<'_> {
    /// The Rust code, and the per-message schemas (concatenated) it embeds.
    pub(crate) fn render(&self, flatc_out: &Path) -> io::Result<(String, Vec<u8>)> {
        let mod_rs = std::fs::read_to_string(flatc_out.join("mod.rs")).map_err(|e| {
            io::Error::new(e.kind(), format!("reading {}: {e}", flatc_out.join("mod.rs").display()))
        })?;
        let tree = parse_mod_rs(&mod_rs)?;

        // Markers: every message type, its schema a slice of `SCHEMAS`.
        let mut blob = Vec::new();
        let mut extras: Extras = BTreeMap::new();
        for m in self.messages {
            let span = (blob.len(), m.schema.len());
            blob.extend_from_slice(&m.schema);
            let (ns, name) = split_fqn(&m.fqn);
            let path = module_path(&ns);
            let file = defining_file(&tree, &path, &naming::flatc_type_name(name), flatc_out)?;
            let code = self.marker_code(m, path.len(), &file, span);
            extras.entry(path).or_default().push_str(&code);
        }

        let mut out = String::new();
        let _ = writeln!(out, "{}", messages::banner());
        let _ = writeln!(out, "// Inputs: {}", self.inputs.join(", "));
        let _ = writeln!(out, "//");
        let _ = writeln!(
            out,
            "// Layout: one module per schema namespace (flatc's types `T<'a>`, `TT`, `TArgs`, ...,"
        );
        let _ = writeln!(
            out,
            "// plus a vbus marker `TMsg` per topic/service table), `topics` and `services` trees"
        );
        let _ = writeln!(out, "// following the keys, `SCHEMA_BFBS` and `SCHEMAS`.");
        let _ = writeln!(out);
        let _ = writeln!(out, "/// The binary FlatBuffers schema (`.bfbs`) of every type in this file.");
        let _ = writeln!(out, "pub const SCHEMA_BFBS: &[u8] = include_bytes!({:?});", self.bfbs_file);
        let _ = writeln!(
            out,
            "/// The `Message::SCHEMA` of every message, one after the other: each a `.bfbs` with"
        );
        let _ = writeln!(out, "/// just the types that message needs and `root_table` set to it.");
        let _ = writeln!(out, "#[doc(hidden)]");
        let _ = writeln!(out, "pub const SCHEMAS: &[u8] = include_bytes!({:?});", self.schemas_file);
        let _ = writeln!(out);
        self.render_module(&mut out, &tree, &mut Vec::new(), flatc_out, &extras)?;
        self.render_topics(&mut out);
        self.render_services(&mut out);
        self.render_publishers(&mut out);
        Ok((out, blob))
    }

    fn render_module(
        &self,
        out: &mut String,
        m: &Module,
        path: &mut Vec<String>,
        flatc_out: &Path,
        extras: &Extras,
    ) -> io::Result<()> {
        for (name, sub) in &m.subs {
            path.push(name.clone());
            let _ = writeln!(out, "/// Namespace `{}`.", path.join("."));
            let _ = writeln!(out, "{ALLOW_FLATC}");
            // As in flatc's mod.rs: its `super::other_ns::T` paths rely on these glob imports.
            // (They make same-named types of nested namespaces ambiguous for bare names, hence
            // the file-qualified paths in the vbus items.)
            let _ = writeln!(out, "pub mod {name} {{");
            let _ = writeln!(out, "use super::*;");
            self.render_module(out, sub, path, flatc_out, extras)?;
            let _ = writeln!(out, "}} // {name}");
            path.pop();
        }
        let dir = path.iter().fold(flatc_out.to_path_buf(), |d, p| d.join(p));
        for f in &m.files {
            let file = dir.join(format!("{f}.rs"));
            let text = std::fs::read_to_string(&file).map_err(|e| {
                io::Error::new(e.kind(), format!("reading flatc output {}: {e}", file.display()))
            })?;
            let _ = writeln!(out, "{ALLOW_FLATC}");
            let _ = writeln!(out, "mod {f} {{");
            let mut in_bitflags = false;
            for line in text.lines() {
                let line = fix_flatc_line(line, &mut in_bitflags);
                let line = line.as_ref();
                if line.trim() == "extern crate flatbuffers;" {
                    let _ = writeln!(out, "use {}::flatbuffers;", self.vbus);
                } else if line.starts_with("// automatically generated") || line == "// @generated" {
                    continue;
                } else {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            let _ = writeln!(out, "}} // {f}");
            // flatc writes `pub use self::{f}::*;`. Naming the items instead makes them shadow
            // the same-named items that `use super::*` brings from a parent namespace (two globs
            // would be ambiguous).
            let items = top_level_items(&text);
            if items.is_empty() {
                let _ = writeln!(out, "pub use self::{f}::*;");
            } else {
                let _ = writeln!(out, "pub use self::{f}::{{{}}};", items.join(", "));
            }
        }
        if let Some(code) = extras.get(path.as_slice()) {
            out.push_str(code);
        }
        Ok(())
    }

    /// `file` is the module of flatc's file that defines the table: names are qualified with
    /// it, since the namespace module's glob imports (`use super::*`) can bring in a
    /// same-named type of the parent namespace.
    fn marker_code(&self, m: &Message, depth: usize, file: &str, (off, len): (usize, usize)) -> String {
        let vbus = self.vbus;
        let (_, name) = split_fqn(&m.fqn);
        let ty_short = naming::flatc_type_name(name);
        let ty = format!("self::{file}::{ty_short}");
        let marker = marker_name(name);
        let (canonical, hash) = (&m.canonical, m.hash);
        let mut s = String::new();
        let _ = writeln!(s);
        let what = messages::role(m, self.topics, self.services);
        let _ = writeln!(s, "/// vbus message marker of [`{ty_short}`]({ty}): {what}.");
        let _ = writeln!(s, "///");
        let _ = writeln!(
            s,
            "/// Publish or send [`{ty_short}T`]({ty}T) (it implements `Pack<{marker}>`); receivers read"
        );
        let _ = writeln!(s, "/// verified [`{ty_short}`]({ty}) views.");
        let _ = writeln!(s, "///");
        let _ = writeln!(s, "/// Type hash: FNV-1a 64 of `{}`.", canonical.replace('`', "'"));
        let _ = writeln!(s, "#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]");
        let _ = writeln!(s, "pub struct {marker};");
        let _ = writeln!(s, "impl {vbus}::Message for {marker} {{");
        let _ = writeln!(s, "    type View<'a> = {ty}<'a>;");
        let _ = writeln!(s, "    const TYPE_NAME: &'static str = {:?};", m.fqn);
        let _ = writeln!(s, "    const TYPE_HASH: u64 = {hash:#018x};");
        let _ = writeln!(
            s,
            "    const SCHEMA: &'static [u8] = {}.split_at({off}).1.split_at({len}).0;",
            rel(depth, &[], "SCHEMAS")
        );
        let _ = writeln!(s, "}}");
        let _ = writeln!(s, "impl {vbus}::Pack<{marker}> for {ty}T {{");
        let _ = writeln!(
            s,
            "    fn pack<'b>(&self, fbb: &mut {vbus}::flatbuffers::FlatBufferBuilder<'b>) -> {vbus}::flatbuffers::WIPOffset<{ty}<'b>> {{"
        );
        let _ = writeln!(s, "        {ty}T::pack(self, fbb)");
        let _ = writeln!(s, "    }}");
        let _ = writeln!(s, "}}");
        if m.topic.is_some() || m.service.is_some() {
            let _ = writeln!(s, "impl {marker} {{");
            if let Some(i) = m.topic {
                let t = &self.topics[i];
                let _ = writeln!(s, "    /// Topic `{}`: {}.", t.key, messages::qos_summary(t));
                let _ = writeln!(
                    s,
                    "    pub const TOPIC: {vbus}::Topic<Self> = {vbus}::Topic::new({:?}).with_qos({});",
                    t.key,
                    qos_expr(vbus, t)
                );
                let _ = writeln!(
                    s,
                    "    /// Nodes allowed to publish this topic (`vbus_publishers`); empty when the schema does not restrict it."
                );
                let list: Vec<String> = t.publishers.iter().map(|p| format!("{p:?}")).collect();
                let _ = writeln!(
                    s,
                    "    pub const PUBLISHERS: &'static [&'static str] = &[{}];",
                    list.join(", ")
                );
                let _ = writeln!(s, "    /// Nominal publish period (`vbus_period_ms`).");
                let period = t.period_ms.map_or("None".to_string(), |p| format!("Some({})", duration(p)));
                let _ = writeln!(
                    s,
                    "    pub const PERIOD: ::core::option::Option<::core::time::Duration> = {period};"
                );
                let _ = writeln!(s, "    /// Marked for the DDS bridge (`vbus_dds`).");
                let _ = writeln!(s, "    pub const DDS: bool = {};", t.dds);
            }
            if let Some(i) = m.service {
                let (sv, reply) = &self.services[i];
                let (rns, rname) = split_fqn(reply);
                let reply_path = rel(depth, &module_path(&rns), &marker_name(rname));
                let _ = writeln!(
                    s,
                    "    /// Service `{}` with reply [`{}`].",
                    sv.key,
                    naming::flatc_type_name(rname)
                );
                let mut e = format!("{vbus}::Service::<Self, {reply_path}>::new({:?})", sv.key);
                if let Some(t) = sv.timeout_ms {
                    let _ = write!(e, ".with_timeout({})", duration(t));
                }
                let _ = writeln!(s, "    pub const SERVICE: {vbus}::Service<Self, {reply_path}> = {e};");
            }
            let _ = writeln!(s, "}}");
        }
        s
    }

    fn render_topics(&self, out: &mut String) {
        let mut tree = KeyTree::default();
        for t in self.topics {
            tree.insert(&t.key, (t.fqn.as_str(), messages::topic_doc(t)));
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "/// Typed topic descriptors, in modules that follow the topic keys: key `a/b/c_d` is"
        );
        let _ = writeln!(out, "/// `topics::a::b::C_D` (segments in `snake_case` as modules, the last in");
        let _ = writeln!(out, "/// `SCREAMING_SNAKE_CASE`).");
        let _ = writeln!(out, "#[allow(unused_imports)]");
        let _ = writeln!(out, "pub mod topics {{");
        render_tree(out, &tree, &|fqn, depth| {
            let (ns, name) = split_fqn(fqn);
            let marker = rel(depth, &module_path(&ns), &marker_name(name));
            (format!("{}::Topic<{marker}>", self.vbus), format!("{marker}::TOPIC"))
        });
        let _ = writeln!(out, "}}");
    }

    fn render_services(&self, out: &mut String) {
        let mut tree = KeyTree::default();
        for (sv, reply) in self.services {
            tree.insert(&sv.key, (sv.fqn.as_str(), messages::service_doc(sv, reply)));
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "/// Typed service descriptors, named like [`topics`].");
        let _ = writeln!(out, "#[allow(unused_imports)]");
        let _ = writeln!(out, "pub mod services {{");
        let services = self.services;
        render_tree(out, &tree, &|fqn, depth| {
            let (ns, name) = split_fqn(fqn);
            let marker = rel(depth, &module_path(&ns), &marker_name(name));
            let reply =
                services.iter().find(|(s, _)| s.fqn == fqn).map(|(_, r)| r.clone()).unwrap_or_default();
            let (rns, rname) = split_fqn(&reply);
            let rmarker = rel(depth, &module_path(&rns), &marker_name(rname));
            (format!("{}::Service<{marker}, {rmarker}>", self.vbus), format!("{marker}::SERVICE"))
        });
        let _ = writeln!(out, "}}");
    }

    fn render_publishers(&self, out: &mut String) {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "/// `(topic key, nodes allowed to publish)` for every topic that declares `vbus_publishers`."
        );
        let _ = writeln!(out, "pub const TOPIC_PUBLISHERS: &[(&str, &[&str])] = &[");
        let mut rows: Vec<&TopicSpec> = self.topics.iter().filter(|t| !t.publishers.is_empty()).collect();
        rows.sort_by(|a, b| a.key.cmp(&b.key));
        for t in rows {
            let list: Vec<String> = t.publishers.iter().map(|p| format!("{p:?}")).collect();
            let _ = writeln!(out, "    ({:?}, &[{}]),", t.key, list.join(", "));
        }
        let _ = writeln!(out, "];");
    }
}

/// The `pub const`s of a key tree (`(fqn, doc)` leaves) in modules; `item(fqn, depth)` gives a
/// leaf's type and value.
fn render_tree(
    out: &mut String,
    tree: &KeyTree<(&str, String)>,
    item: &dyn Fn(&str, usize) -> (String, String),
) {
    tree.walk(&RUST_IDENTS, 1, &mut |step| match step {
        Step::Leaf { ident, item: (fqn, doc), depth } => {
            let (ty, val) = item(fqn, depth);
            let _ = writeln!(out, "/// {doc}");
            let _ = writeln!(out, "pub const {ident}: {ty} = {val};");
        }
        Step::Open { seg, ident } => {
            let _ = writeln!(out, "/// Key segment `{}`.", seg.replace('`', "'"));
            let _ = writeln!(out, "pub mod {ident} {{");
        }
        Step::Close { .. } => {
            let _ = writeln!(out, "}}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flatc_mod_rs() {
        let m = parse_mod_rs(
            "// x\npub mod a {\n  use super::*;\n  pub mod b {\n    use super::*;\n    mod t_generated;\n    pub use self::t_generated::*;\n  } // b\n} // a\nmod r_generated;\npub use self::r_generated::*;\n",
        )
        .unwrap();
        assert_eq!(m.files, vec!["r_generated"]);
        assert_eq!(m.subs["a"].subs["b"].files, vec!["t_generated"]);
    }
}
