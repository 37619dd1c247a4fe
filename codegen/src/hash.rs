//! The stable type hash (`vbus::Message::TYPE_HASH`): FNV-1a 64 over a canonical text
//! form of a table.
//!
//! # Canonical form
//!
//! The canonical form of a table or struct is built from the compiled schema (what flatc puts
//! in the `.bfbs`), so comments, whitespace, attribute order, defaults and the file layout do
//! not matter; only names, field ids and types do. Grammar (no whitespace anywhere, all names
//! exactly as in the schema, `FQN` = namespace components and name joined with `.`):
//!
//! ```text
//! def     = "table " FQN "{" field* "}"            ; tables
//!         | "struct " FQN "{" field* "}"           ; structs
//!         | "enum " FQN ":" scalar "{" (NAME "=" INT ";")* "}"
//!         | "union " FQN "{" (NAME "=" INT ":" type ";")* "}"   ; without NONE = 0
//! field   = ID ":" NAME ":" type ";"               ; in ascending id order
//! type    = scalar | "string" | "[" type "]"       ; vector
//!         | "[" type ":" N "]"                     ; fixed-size array (structs)
//!         | def                                    ; first occurrence of a named type
//!         | "@" FQN                                ; any later occurrence (also recursion)
//! scalar  = "bool" | "int8" | "uint8" | "int16" | "uint16" | "int32" | "uint32"
//!         | "int64" | "uint64" | "float32" | "float64"
//!         | "utype"                                ; the hidden `<field>_type` of a union field
//! ```
//!
//! * `ID` is the field id: for tables the slot number (explicit `(id: n)` or declaration order,
//!   where a union field takes two ids: `<name>_type` of type `utype`, then the union itself);
//!   for structs the declaration index. Deprecated fields are included like any other field.
//! * An integer field, vector element or array element whose type is an enum is written as
//!   that enum's `def`/`@FQN`, not as its underlying scalar. Enum values are in ascending value
//!   order (for `bit_flags` enums the stored mask value, `1 << n`).
//! * Named types are expanded depth first, in field order, the first time they are met while
//!   writing one table's canonical form; each table's form is computed independently.
//! * `INT`, `ID` and `N` are decimal, with a leading `-` for negative values.
//!
//! The hash is FNV-1a 64 (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`) over the
//! UTF-8 bytes of the canonical form.
//!
//! Example: `namespace a; table T { x: int; s: [string]; }` has the canonical form
//! `table a.T{0:x:int32;1:s:[string];}`.

//!
//! The implementation is vbus-reflect's ([`vbus_reflect::Schema::type_hash`],
//! [`vbus_reflect::Schema::canonical_form`]): the same code computes the hash in generated types
//! and in tools that only have a `.bfbs` (the CLI, the bridges), so the two cannot drift.

pub use vbus_reflect::fnv1a64;

/// The type hash of table or struct `name` in the compiled schema `bfbs` (`None` if the schema
/// has no such type or does not parse).
pub fn type_hash(bfbs: &[u8], name: &str) -> Option<u64> {
    vbus_reflect::Schema::from_bfbs(bfbs).ok()?.type_hash(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_values() {
        // Reference values of FNV-1a 64.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }
}
