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

use std::collections::HashSet;
use std::fmt::Write;

use crate::schema::{Base, Object, Schema, Type};

/// FNV-1a 64 of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The canonical form of object `obj` (see the module docs).
pub fn canonical(schema: &Schema, obj: &Object) -> String {
    let mut w = Writer { schema, seen: HashSet::new(), out: String::new() };
    w.object(obj);
    w.out
}

/// The type hash of object `obj`: `fnv1a64(canonical(obj))`.
pub fn type_hash(schema: &Schema, obj: &Object) -> u64 {
    fnv1a64(canonical(schema, obj).as_bytes())
}

struct Writer<'s> {
    schema: &'s Schema,
    seen: HashSet<String>,
    out: String,
}

impl Writer<'_> {
    fn object(&mut self, obj: &Object) {
        if !self.seen.insert(obj.name.clone()) {
            let _ = write!(self.out, "@{}", obj.name);
            return;
        }
        let kw = if obj.is_struct { "struct" } else { "table" };
        let _ = write!(self.out, "{kw} {}{{", obj.name);
        for f in &obj.fields {
            let _ = write!(self.out, "{}:{}:", f.id, f.name);
            self.ty(f.ty.base, f.ty);
            self.out.push(';');
        }
        self.out.push('}');
    }

    fn enum_def(&mut self, index: i32) {
        let Some(e) = usize::try_from(index).ok().and_then(|i| self.schema.enums.get(i)) else {
            self.out.push('?');
            return;
        };
        if !self.seen.insert(e.name.clone()) {
            let _ = write!(self.out, "@{}", e.name);
            return;
        }
        if e.is_union {
            let _ = write!(self.out, "union {}{{", e.name);
            for v in &e.values {
                if v.value == 0 {
                    continue;
                }
                let _ = write!(self.out, "{}={}:", v.name, v.value);
                if let Some(t) = v.union_type {
                    self.ty(t.base, t);
                }
                self.out.push(';');
            }
        } else {
            let _ = write!(self.out, "enum {}:{}{{", e.name, e.underlying.base.canonical());
            for v in &e.values {
                let _ = write!(self.out, "{}={};", v.name, v.value);
            }
        }
        self.out.push('}');
    }

    /// Write type `base` (the field's base type, or the element type of a vector/array, in
    /// which case `t` carries the index).
    fn ty(&mut self, base: Base, t: Type) {
        match base {
            Base::Vector | Base::Vector64 => {
                self.out.push('[');
                self.ty(t.element, t);
                self.out.push(']');
            }
            Base::Array => {
                self.out.push('[');
                self.ty(t.element, t);
                let _ = write!(self.out, ":{}]", t.fixed_length);
            }
            Base::Obj => match usize::try_from(t.index).ok().and_then(|i| self.schema.objects.get(i)) {
                Some(o) => self.object(o),
                None => self.out.push('?'),
            },
            Base::Union => self.enum_def(t.index),
            Base::UType => self.out.push_str("utype"),
            b if b.is_scalar() && t.index >= 0 => self.enum_def(t.index),
            b => self.out.push_str(b.canonical()),
        }
    }
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
