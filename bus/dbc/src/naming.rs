//! Identifier conversions shared by the DBC -> FlatBuffers mapping ([`crate::fbs`]) and
//! `vbus-codegen` (which re-exports this module as `vbus_codegen::naming`).
//!
//! Two families live here:
//! * [`flatc_snake`] reproduces flatc's own `CamelToSnake` (used for the Rust module names flatc
//!   derives from namespaces), so that vbus-codegen can name the modules flatc generated.
//! * [`snake_case`], [`screaming_snake_case`] and [`upper_camel`] are vbus-codegen's own, used
//!   for the topic tree and for names derived from DBC/VSS inputs. They split words at
//!   lower→upper changes, at the end of an acronym (`RPMValue` → `rpm_value`) and at any
//!   non-alphanumeric character; digits stick to the word before them (`Row1` → `row1`).

/// Rust keywords (strict and reserved, all editions up to 2024), which cannot be plain identifiers.
const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop",
    "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "self", "Self",
    "static", "struct", "super", "trait", "true", "try", "type", "typeof", "union", "unsafe", "unsized",
    "use", "virtual", "where", "while", "yield",
];

/// The keyword list flatc 23.5.26 escapes (with a `_` suffix) in Rust output.
const FLATC_RUST_KEYWORDS: &[&str] = &[
    "as",
    "break",
    "const",
    "continue",
    "crate",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "Self",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "alignof",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "offsetof",
    "override",
    "priv",
    "proc",
    "pure",
    "sizeof",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "std",
    "usize",
    "isize",
    "u8",
    "i8",
    "u16",
    "i16",
    "u32",
    "i32",
    "u64",
    "i64",
    "u128",
    "i128",
    "f32",
    "f64",
    "follow",
    "push",
    "size",
    "alignment",
    "to_little_endian",
    "from_little_endian",
    "ENUM_MAX",
    "ENUM_MIN",
    "ENUM_VALUES",
];

/// Is `s` a Rust keyword?
pub fn is_rust_keyword(s: &str) -> bool {
    RUST_KEYWORDS.contains(&s)
}

/// flatc's `CamelToSnake` (util.cpp), byte for byte, including keyword escaping done before
/// converting (Rust namer config `Escape::BeforeConvertingCase`). Used for namespace → module.
pub fn flatc_namespace_module(component: &str) -> String {
    let escaped = if FLATC_RUST_KEYWORDS.contains(&component) {
        format!("{component}_")
    } else {
        component.to_string()
    };
    flatc_snake(&escaped)
}

/// The Rust name flatc gives a type (`Case::kKeep`, keyword-escaped with a `_` suffix).
pub fn flatc_type_name(name: &str) -> String {
    if FLATC_RUST_KEYWORDS.contains(&name) { format!("{name}_") } else { name.to_string() }
}

/// flatc's `CamelToSnake` conversion (ASCII only, as in flatc).
pub fn flatc_snake(input: &str) -> String {
    let b = input.as_bytes();
    let mut s = String::with_capacity(b.len() + 4);
    for i in 0..b.len() {
        let c = b[i];
        if i == 0 {
            s.push(c.to_ascii_lowercase() as char);
        } else if c == b'_' {
            s.push('_');
        } else if !c.is_ascii_lowercase() {
            let p = b[i - 1];
            if p.is_ascii_lowercase() || (p.is_ascii_digit() && !c.is_ascii_digit()) {
                s.push('_');
            }
            s.push(c.to_ascii_lowercase() as char);
        } else {
            s.push(c as char);
        }
    }
    s
}

/// Split a name into words (see the module docs for the rules).
pub fn words(input: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in input.split(|c: char| !c.is_ascii_alphanumeric()) {
        let chars: Vec<char> = part.chars().collect();
        let mut cur = String::new();
        for i in 0..chars.len() {
            let c = chars[i];
            if !cur.is_empty() && c.is_ascii_uppercase() {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                if prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower)
                {
                    out.push(std::mem::take(&mut cur));
                }
            }
            cur.push(c);
        }
        if !cur.is_empty() {
            out.push(cur);
        }
    }
    out
}

/// `snake_case`, made a valid Rust identifier (see [`rust_ident`]).
pub fn snake_case(input: &str) -> String {
    let w: Vec<String> = words(input).iter().map(|w| w.to_ascii_lowercase()).collect();
    rust_ident(&w.join("_"))
}

/// `SCREAMING_SNAKE_CASE`, made a valid Rust identifier (see [`rust_ident`]).
pub fn screaming_snake_case(input: &str) -> String {
    let w: Vec<String> = words(input).iter().map(|w| w.to_ascii_uppercase()).collect();
    rust_ident(&w.join("_"))
}

/// `UpperCamelCase` of the words of `input`; words already in mixed case keep their inner
/// capitals (`vehicleSpeed` → `VehicleSpeed`, `ABS_status` → `ABSStatus`).
pub fn upper_camel(input: &str) -> String {
    let mut s = String::new();
    for part in input.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut cs = part.chars();
        if let Some(f) = cs.next() {
            s.push(f.to_ascii_uppercase());
            s.extend(cs);
        }
    }
    s
}

/// Make `s` a valid, non-keyword Rust identifier: empty → `_`, a leading digit gets a `_`
/// prefix, keywords get a `_` suffix.
pub fn rust_ident(s: &str) -> String {
    let mut out: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if out.is_empty() {
        out.push('_');
    }
    if out.as_bytes()[0].is_ascii_digit() {
        out.insert(0, '_');
    }
    if is_rust_keyword(&out) {
        out.push('_');
    }
    out
}

/// Make `s` a FlatBuffers identifier (`[A-Za-z_][A-Za-z0-9_]*`, as flatc accepts): every other
/// character becomes `_`, a leading digit gets a `_` prefix. Names that Rust output would
/// escape are left to flatc.
pub fn fbs_ident(s: &str) -> String {
    let mut out: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if out.is_empty() {
        out.push('_');
    }
    if out.as_bytes()[0].is_ascii_digit() {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatc_snake_matches_flatc() {
        assert_eq!(flatc_snake("Vehicle"), "vehicle");
        assert_eq!(flatc_snake("Row1"), "row_1");
        assert_eq!(flatc_snake("DriverSide"), "driver_side");
        assert_eq!(flatc_snake("ABS"), "abs");
        assert_eq!(flatc_snake("EngineRPM"), "engine_rpm");
        assert_eq!(flatc_namespace_module("type"), "type_");
    }

    #[test]
    fn own_cases() {
        assert_eq!(snake_case("Row1"), "row1");
        assert_eq!(snake_case("DriverSide"), "driver_side");
        assert_eq!(snake_case("RPMValue"), "rpm_value");
        assert_eq!(snake_case("speed"), "speed");
        assert_eq!(snake_case("2017_5"), "_2017_5");
        assert_eq!(snake_case("type"), "type_");
        assert_eq!(screaming_snake_case("EngineData"), "ENGINE_DATA");
        assert_eq!(screaming_snake_case("IsOpen"), "IS_OPEN");
        assert_eq!(screaming_snake_case("ABS"), "ABS");
        assert_eq!(screaming_snake_case("can-id"), "CAN_ID");
        assert_eq!(upper_camel("vehicle_speed"), "VehicleSpeed");
        assert_eq!(fbs_ident("2017_5"), "_2017_5");
        assert_eq!(fbs_ident("a.b"), "a_b");
    }
}
