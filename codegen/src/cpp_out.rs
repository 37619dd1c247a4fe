//! The C++ output ([`crate::Config::cpp`]): flatc's C++ for every type of the unit
//! (`<name>_generated.h`), and `<name>.vbus.hpp`, the C++ counterpart of the Rust markers and
//! `topics::`/`services::` constants: a `vbus::message_traits<T>` specialization per message type
//! (type name, type hash, schema: the same values as the Rust `Message` impl) and the
//! `vbus_gen::<name>::topics` / `services` key trees of descriptor structs, whose QoS is a C
//! `vbus_qos` initializer (`vbus/vbus.h`, the C API).

use std::fmt::Write;
use std::io;

use crate::attrs::{PRIORITIES, ServiceSpec, TopicSpec};
use crate::messages::{self, Idents, KeyTree, Message, Step, split_fqn};
use crate::naming;

/// The keywords flatc 23.5.26 escapes (with a `_` suffix) in C++ type names (`idl_gen_cpp.cpp`).
const FLATC_CPP_KEYWORDS: &[&str] = &[
    "alignas",
    "alignof",
    "and",
    "and_eq",
    "asm",
    "atomic_cancel",
    "atomic_commit",
    "atomic_noexcept",
    "auto",
    "bitand",
    "bitor",
    "bool",
    "break",
    "case",
    "catch",
    "char",
    "char16_t",
    "char32_t",
    "class",
    "compl",
    "concept",
    "const",
    "constexpr",
    "const_cast",
    "continue",
    "co_await",
    "co_return",
    "co_yield",
    "decltype",
    "default",
    "delete",
    "do",
    "double",
    "dynamic_cast",
    "else",
    "enum",
    "explicit",
    "export",
    "extern",
    "false",
    "float",
    "for",
    "friend",
    "goto",
    "if",
    "import",
    "inline",
    "int",
    "long",
    "module",
    "mutable",
    "namespace",
    "new",
    "noexcept",
    "not",
    "not_eq",
    "nullptr",
    "operator",
    "or",
    "or_eq",
    "private",
    "protected",
    "public",
    "register",
    "reinterpret_cast",
    "requires",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "static_assert",
    "static_cast",
    "struct",
    "switch",
    "synchronized",
    "template",
    "this",
    "thread_local",
    "throw",
    "true",
    "try",
    "typedef",
    "typeid",
    "typename",
    "union",
    "unsigned",
    "using",
    "virtual",
    "void",
    "volatile",
    "wchar_t",
    "while",
    "xor",
    "xor_eq",
];

/// Names that are not plain identifiers in C++ beyond flatc's list: C++20 keywords, and macros
/// that compilers (`linux`, `unix` in GNU mode) or C libraries (`errno`) predefine.
const OTHER_RESERVED: &[&str] = &["char8_t", "consteval", "constinit", "linux", "unix", "errno"];

/// Is `s` unusable as a C++ identifier (a keyword or a predefined macro)?
pub(crate) fn is_reserved(s: &str) -> bool {
    FLATC_CPP_KEYWORDS.contains(&s) || OTHER_RESERVED.contains(&s)
}

/// `s` with a `_` suffix when it is reserved (as flatc escapes keywords).
fn escape(s: String) -> String {
    if is_reserved(&s) { s + "_" } else { s }
}

/// The identifier of a key segment: `snake_case` as in the Rust key trees, C++ names escaped.
fn key_ident(seg: &str) -> String {
    escape(naming::snake_case(seg))
}

/// The C++ naming of the key tree: `snake_case` structs in `snake_case` namespaces, which share
/// one scope (`a/b` and `a/b/c` give `struct b` and `namespace b_2`).
const CPP_IDENTS: Idents = Idents { leaf: key_ident, scope: key_ident, one_namespace: true };

/// The namespace `vbus_gen::<ident>` of output stem `name`.
pub(crate) fn unit_ident(name: &str) -> String {
    escape(naming::fbs_ident(name))
}

/// flatc's C++ name of table `fqn`: `::a::b::Name` (namespace components as written, the type
/// name keyword-escaped).
fn type_path(fqn: &str) -> String {
    let (ns, name) = split_fqn(fqn);
    let mut s = String::new();
    for c in ns {
        let _ = write!(s, "::{c}");
    }
    let name = if FLATC_CPP_KEYWORDS.contains(&name) { format!("{name}_") } else { name.to_string() };
    let _ = write!(s, "::{name}");
    s
}

/// A C string literal of `s` (bytes outside printable ASCII as octal escapes).
fn c_string(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out.push('"');
    out
}

/// The `vbus_qos` initializer of a topic: what the schema leaves unset is 0 (the default), as
/// the Rust `QoS` expression leaves it at `QoS::new()`'s value.
pub(crate) fn qos_init(t: &TopicSpec) -> String {
    let q = &t.qos;
    let reliability = match q.best_effort {
        None => "DEFAULT",
        Some(true) => "BEST_EFFORT",
        Some(false) => "RELIABLE",
    };
    // `VBUS_PRIORITY_<P>` is 1 + the index into PRIORITIES (vbus::Priority order); 0 = default.
    let priority =
        q.priority.map_or("DEFAULT".to_string(), |p| naming::screaming_snake_case(PRIORITIES[p].1));
    let congestion = match q.block {
        None => "DEFAULT",
        Some(true) => "BLOCK",
        Some(false) => "DROP",
    };
    format!(
        "{{ /*reliability*/ VBUS_RELIABILITY_{reliability}, /*priority*/ VBUS_PRIORITY_{priority}, \
/*express*/ {}, /*congestion*/ VBUS_CONGESTION_{congestion}, /*history*/ {}, /*queue*/ {}, \
/*deadline_ms*/ {}, /*lifespan_ms*/ {}, /*e2e*/ false }}",
        q.express.unwrap_or(false),
        q.history.unwrap_or(0),
        q.queue.unwrap_or(0),
        q.deadline_ms.unwrap_or(0),
        q.lifespan_ms.unwrap_or(0)
    )
}

/// flatc's C++ header of the umbrella file, made `<name>_generated.h`: its include guard (flatc
/// derives it from the umbrella's file name, the same for every unit) becomes the unit's own,
/// so that the headers of several units can be included together.
pub(crate) fn flatc_header(flatc_text: &str, name: &str, inputs: &[String]) -> io::Result<String> {
    let guard = flatc_text
        .lines()
        .find_map(|l| l.strip_prefix("#ifndef FLATBUFFERS_GENERATED_"))
        .map(|rest| format!("FLATBUFFERS_GENERATED_{}", rest.trim()))
        .ok_or_else(|| {
            io::Error::other("vbus-codegen: no include guard in flatc's C++ (unexpected flatc output)")
        })?;
    let own = format!("FLATBUFFERS_GENERATED_VBUS_{}_H_", unit_ident(name).to_ascii_uppercase());
    let mut out = messages::banner();
    let _ = writeln!(out, "\n// flatc --cpp --gen-object-api --gen-all of: {}", inputs.join(", "));
    out.push_str(&flatc_text.replace(&guard, &own));
    Ok(out)
}

/// What `<name>.vbus.hpp` is made of.
pub(crate) struct Unit<'a> {
    /// Output stem.
    pub name: &'a str,
    pub topics: &'a [TopicSpec],
    /// Services with the reply resolved to a fully qualified name.
    pub services: &'a [(ServiceSpec, String)],
    pub messages: &'a [Message],
    /// The compiled schema (doc comments).
    pub schema: &'a vbus_reflect::Schema,
    /// Inputs, for the header comment.
    pub inputs: &'a [String],
}

impl Unit<'_> {
    /// The text of `<name>.vbus.hpp`.
    pub(crate) fn render(&self) -> String {
        let ns = unit_ident(self.name);
        let mut out = String::new();
        let _ = writeln!(out, "{}", messages::banner());
        let _ = writeln!(out, "// Inputs: {}", self.inputs.join(", "));
        let _ = writeln!(out, "//");
        let _ = writeln!(out, "// C++17 descriptors of this unit's vbus messages, topics and services:");
        let _ =
            writeln!(out, "// `vbus::message_traits<T>` per message type (type name, type hash, schema) and");
        let _ =
            writeln!(out, "// `vbus_gen::{ns}::topics` / `services`, namespaces that follow the keys (key");
        let _ = writeln!(
            out,
            "// `a/b/c_d` is `topics::a::b::c_d`). The types are flatc's, from {}_generated.h.",
            self.name
        );
        let _ = writeln!(out, "#pragma once");
        let _ = writeln!(out, "#include <cstddef>");
        let _ = writeln!(out, "#include <cstdint>");
        let _ = writeln!(out, "#include <vbus/vbus.h>");
        let _ = writeln!(out, "#include {}", c_string(&format!("{}_generated.h", self.name)));
        let _ = writeln!(out);
        let _ = writeln!(out, "namespace vbus {{");
        let _ = writeln!(out, "template <class T> struct message_traits;");
        for m in self.messages {
            self.render_traits(&mut out, m);
        }
        let _ = writeln!(out, "}}  // namespace vbus");
        let _ = writeln!(out);
        let _ = writeln!(out, "namespace vbus_gen::{ns} {{");
        self.render_topics(&mut out);
        self.render_services(&mut out);
        let _ = writeln!(out, "}}  // namespace vbus_gen::{ns}");
        out
    }

    fn render_traits(&self, out: &mut String, m: &Message) {
        let _ = writeln!(out);
        let _ = writeln!(out, "/// `{}`: {}.", m.fqn, messages::role(m, self.topics, self.services));
        let _ = writeln!(out, "/// Type hash: FNV-1a 64 of `{}`.", m.canonical.replace('`', "'"));
        let _ = writeln!(out, "template <> struct message_traits<{}> {{", type_path(&m.fqn));
        let _ = writeln!(out, "  static constexpr const char* type_name = {};", c_string(&m.fqn));
        let _ = writeln!(out, "  static constexpr ::std::uint64_t type_hash = {:#018x}ULL;", m.hash);
        let _ = writeln!(out, "  static constexpr ::std::uint8_t schema[] = {{");
        for chunk in m.schema.chunks(16) {
            out.push_str("   ");
            for b in chunk {
                let _ = write!(out, " {b:#04x},");
            }
            out.push('\n');
        }
        let _ = writeln!(out, "  }};");
        let _ = writeln!(out, "  static constexpr ::std::size_t schema_len = sizeof(schema);");
        let _ = writeln!(out, "}};");
    }

    /// The schema's doc comment of table `fqn`, as `///` lines.
    fn docs(&self, out: &mut String, fqn: &str) {
        for line in self.schema.object(fqn).map(|o| o.docs.as_slice()).unwrap_or_default() {
            let line = crate::doc_text(line);
            if !line.is_empty() {
                let _ = writeln!(out, "/// {line}");
            }
        }
    }

    fn render_topics(&self, out: &mut String) {
        let mut tree = KeyTree::default();
        for t in self.topics {
            tree.insert(&t.key, t);
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "/// Topic descriptors: `message` (flatc's table type), `key`, `qos`.");
        render_tree(out, "topics", &tree, &mut |out, ident, t| {
            self.docs(out, &t.fqn);
            let _ = writeln!(out, "/// {}", messages::topic_doc(t));
            let _ = writeln!(out, "struct {ident} {{");
            let _ = writeln!(out, "  using message = {};", type_path(&t.fqn));
            let _ = writeln!(out, "  static constexpr const char* key = {};", c_string(&t.key));
            let _ = writeln!(out, "  static constexpr ::vbus_qos qos = {};", qos_init(t));
            let _ = writeln!(out, "}};");
        });
    }

    fn render_services(&self, out: &mut String) {
        let mut tree = KeyTree::default();
        for s in self.services {
            tree.insert(&s.0.key, s);
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "/// Service descriptors: `request` and `reply` (flatc's table types), `key`, `timeout_ms`."
        );
        render_tree(out, "services", &tree, &mut |out, ident, (s, reply)| {
            self.docs(out, &s.fqn);
            let _ = writeln!(out, "/// {}", messages::service_doc(s, reply));
            let _ = writeln!(out, "struct {ident} {{");
            let _ = writeln!(out, "  using request = {};", type_path(&s.fqn));
            let _ = writeln!(out, "  using reply = {};", type_path(reply));
            let _ = writeln!(out, "  static constexpr const char* key = {};", c_string(&s.key));
            let timeout = s.timeout_ms.unwrap_or(crate::attrs::DEFAULT_TIMEOUT_MS);
            let _ = writeln!(out, "  static constexpr ::std::uint32_t timeout_ms = {timeout};");
            let _ = writeln!(out, "}};");
        });
    }
}

/// `namespace <root> { ... }` with a nested namespace per key segment and `leaf(out, ident,
/// item)` for every key's last segment.
fn render_tree<T>(
    out: &mut String,
    root: &str,
    tree: &KeyTree<T>,
    leaf: &mut dyn FnMut(&mut String, &str, &T),
) {
    let _ = writeln!(out, "namespace {root} {{");
    tree.walk(&CPP_IDENTS, 1, &mut |step| match step {
        Step::Leaf { ident, item, .. } => leaf(out, &ident, item),
        Step::Open { seg, ident } => {
            let _ = writeln!(out, "/// Key segment `{}`.", crate::doc_text(seg));
            let _ = writeln!(out, "namespace {ident} {{");
        }
        Step::Close { ident } => {
            let _ = writeln!(out, "}}  // namespace {ident}");
        }
    });
    let _ = writeln!(out, "}}  // namespace {root}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attrs::{Loc, QosSpec};

    fn topic(qos: QosSpec) -> TopicSpec {
        TopicSpec {
            fqn: "a.T".into(),
            key: "a/t".into(),
            qos,
            period_ms: None,
            publishers: Vec::new(),
            dds: false,
            loc: Loc { file: "a.fbs".into(), line: 1 },
        }
    }

    #[test]
    fn qos_initializer_follows_the_c_api() {
        assert_eq!(
            qos_init(&topic(QosSpec::default())),
            "{ /*reliability*/ VBUS_RELIABILITY_DEFAULT, /*priority*/ VBUS_PRIORITY_DEFAULT, /*express*/ false, \
/*congestion*/ VBUS_CONGESTION_DEFAULT, /*history*/ 0, /*queue*/ 0, /*deadline_ms*/ 0, /*lifespan_ms*/ 0, /*e2e*/ false }"
        );
        let all = QosSpec {
            best_effort: Some(false),
            priority: Some(3),
            express: Some(true),
            block: Some(false),
            history: Some(2),
            queue: Some(8),
            deadline_ms: Some(50),
            lifespan_ms: Some(200),
        };
        assert_eq!(
            qos_init(&topic(all)),
            "{ /*reliability*/ VBUS_RELIABILITY_RELIABLE, /*priority*/ VBUS_PRIORITY_DATA_HIGH, /*express*/ true, \
/*congestion*/ VBUS_CONGESTION_DROP, /*history*/ 2, /*queue*/ 8, /*deadline_ms*/ 50, /*lifespan_ms*/ 200, /*e2e*/ false }"
        );
        let be = QosSpec { best_effort: Some(true), block: Some(true), ..QosSpec::default() };
        let s = qos_init(&topic(be));
        assert!(s.contains("VBUS_RELIABILITY_BEST_EFFORT") && s.contains("VBUS_CONGESTION_BLOCK"), "{s}");
    }

    #[test]
    fn priorities_map_to_the_c_constants_in_order() {
        // vbus.h: VBUS_PRIORITY_DEFAULT 0, then REAL_TIME 1 ... BACKGROUND 7.
        let c = [
            "REAL_TIME",
            "INTERACTIVE_HIGH",
            "INTERACTIVE_LOW",
            "DATA_HIGH",
            "DATA",
            "DATA_LOW",
            "BACKGROUND",
        ];
        let ours: Vec<String> = PRIORITIES.iter().map(|(_, p)| naming::screaming_snake_case(p)).collect();
        assert_eq!(ours, c);
    }

    #[test]
    fn names_are_cpp_identifiers() {
        assert_eq!(type_path("demo.vehicle.VehicleSpeed"), "::demo::vehicle::VehicleSpeed");
        assert_eq!(type_path("a.class"), "::a::class_");
        assert_eq!(type_path("Root"), "::Root");
        assert_eq!(key_ident("WheelSpeeds"), "wheel_speeds");
        assert_eq!(key_ident("class"), "class_");
        assert_eq!(key_ident("linux"), "linux_");
        assert_eq!(key_ident("type"), "type_");
        assert_eq!(key_ident("2nd"), "_2nd");
        assert_eq!(unit_ident("vehicle"), "vehicle");
        assert_eq!(unit_ident("my-unit.v2"), "my_unit_v2");
        assert_eq!(unit_ident("new"), "new_");
        assert_eq!(c_string("a\"b\\c/d\u{e9}"), "\"a\\\"b\\\\c/d\\303\\251\"");
    }

    #[test]
    fn leaves_and_scopes_share_one_cpp_scope() {
        let mut tree = KeyTree::default();
        tree.insert("a/b", 1);
        tree.insert("a/b/c", 2);
        let mut out = String::new();
        render_tree(&mut out, "topics", &tree, &mut |out, ident, n| {
            let _ = writeln!(out, "struct {ident} {{}}; // {n}");
        });
        assert!(
            out.contains(
                "namespace a {\nstruct b {}; // 1\n/// Key segment `b`.\nnamespace b_2 {\nstruct c {}; // 2\n"
            ),
            "{out}"
        );
    }
}
