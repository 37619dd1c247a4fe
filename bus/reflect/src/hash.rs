//! vbus' type hash (`Message::TYPE_HASH`), recomputed from a schema.
//!
//! The algorithm is specified in vbus-codegen's `hash` module (which uses this code): FNV-1a 64 over a canonical text
//! form of the table (names, field ids and types; no comments, defaults or attributes). Tools
//! need it to publish or call a type that no node serves a hash for (a service request). The
//! tests compare it with the constants codegen compiled into real generated types.

use std::{collections::HashSet, fmt::Write};

use crate::{BaseType, Object, Schema, Type};

/// FNV-1a 64 of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Schema {
    /// vbus' type hash of table or struct `name`, as `vbus-codegen` computes it for
    /// `Message::TYPE_HASH`; `None` if the schema has no such type.
    pub fn type_hash(&self, name: &str) -> Option<u64> {
        self.canonical_form(name).map(|c| fnv1a64(c.as_bytes()))
    }

    /// The canonical text the type hash is computed over (see vbus-codegen's `hash` module).
    pub fn canonical_form(&self, name: &str) -> Option<String> {
        let obj = self.object(name)?;
        let mut w = Writer { s: self, seen: HashSet::new(), out: String::new() };
        w.object(obj);
        Some(w.out)
    }
}

struct Writer<'s> {
    s: &'s Schema,
    seen: HashSet<&'s str>,
    out: String,
}

impl<'s> Writer<'s> {
    fn object(&mut self, obj: &'s Object) {
        if !self.seen.insert(&obj.name) {
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

    fn enum_def(&mut self, t: Type) {
        let Some(e) = self.s.enum_of(&t) else {
            self.out.push('?');
            return;
        };
        if !self.seen.insert(&e.name) {
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
                if let Some(m) = v.union_type {
                    self.ty(m.base, m);
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

    /// Write `base` (the field's base type, or the element type of a vector or array, in which
    /// case `t` carries the index).
    fn ty(&mut self, base: BaseType, t: Type) {
        match base {
            BaseType::Vector => {
                self.out.push('[');
                self.ty(t.element, t);
                self.out.push(']');
            }
            BaseType::Array => {
                self.out.push('[');
                self.ty(t.element, t);
                let _ = write!(self.out, ":{}]", t.fixed_length);
            }
            BaseType::Obj => match self.s.object_of(&t) {
                Some(o) => self.object(o),
                None => self.out.push('?'),
            },
            BaseType::Union => self.enum_def(t),
            BaseType::UType => self.out.push_str("utype"),
            b if b.is_scalar() && t.index >= 0 => self.enum_def(t),
            b => self.out.push_str(b.canonical()),
        }
    }
}
