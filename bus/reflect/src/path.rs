//! One number out of a payload by path, for rule engines: `scalar_at(.., "wheels[2].rpm")`.

use crate::{
    BaseType, Error, Object, Schema, Type,
    read::{Buf, Scalar},
    suggest::did_you_mean,
};

#[derive(Debug, Clone, PartialEq)]
enum Step<'p> {
    Field(&'p str),
    Index(usize),
}

/// `a.b[2].c` (or `a.b.2.c`) into steps; `None` if malformed.
fn parse(path: &str) -> Option<Vec<Step<'_>>> {
    let path = path.strip_prefix("$.").or_else(|| path.strip_prefix('$')).unwrap_or(path);
    let mut steps = Vec::new();
    for piece in path.split('.') {
        let (name, mut rest) = match piece.find('[') {
            Some(i) => (&piece[..i], &piece[i..]),
            None => (piece, ""),
        };
        if name.is_empty() && rest.is_empty() {
            return None;
        }
        if !name.is_empty() {
            if name.bytes().all(|b| b.is_ascii_digit()) {
                steps.push(Step::Index(name.parse().ok()?));
            } else {
                steps.push(Step::Field(name));
            }
        }
        while !rest.is_empty() {
            let close = rest.find(']')?;
            steps.push(Step::Index(rest.get(1..close)?.parse().ok()?));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return None;
            }
        }
    }
    (!steps.is_empty()).then_some(steps)
}

enum Cur<'s> {
    Table(&'s Object, usize),
    Struct(&'s Object, usize),
    Vector(Type, usize),
    Array(Type, usize),
    Value(Scalar),
}

/// The number at `path` in a `type_name` payload: integers, floats, bools (0 or 1) and enums
/// (their value). Paths are field names separated by `.`, with `[i]` (or `.i`) indexing vectors
/// and arrays, e.g. `wheels[2].rpm`; a union field continues into its current member.
///
/// A scalar field absent from the payload reads as its default; `None` when the path does not
/// exist in the schema, leads through something absent (a table, a union member, an index past
/// the end), an optional scalar without value, or does not end at a scalar. The payload is not
/// verified first: every read is bounds-checked and the cost is one step per path segment, so a
/// hostile payload can only produce `None` or a wrong number, never a crash. Check a path
/// against the schema once with [`check_path`].
pub fn scalar_at(schema: &Schema, type_name: &str, payload: &[u8], path: &str) -> Option<f64> {
    let obj = schema.object(type_name).filter(|o| !o.is_struct)?;
    let steps = parse(path)?;
    let buf = Buf(payload);
    let mut cur = Cur::Table(obj, buf.root()?);
    for step in steps {
        cur = match (cur, step) {
            (Cur::Table(obj, pos), Step::Field(name)) => {
                let t = buf.table(pos)?;
                let f = obj.field(name).filter(|f| !f.deprecated)?;
                let at = buf.field(t, f.offset);
                match f.ty.base {
                    b if b.is_scalar() => match at {
                        Some(p) => Cur::Value(buf.scalar(b, p)?),
                        None if f.optional => return None,
                        None => Cur::Value(Scalar::default_of(b, f.default_integer, f.default_real)),
                    },
                    BaseType::Obj => {
                        let child = schema.object_of(&f.ty)?;
                        if child.is_struct {
                            Cur::Struct(child, at?)
                        } else {
                            Cur::Table(child, buf.deref(at?)?)
                        }
                    }
                    BaseType::Union => {
                        let companion = &obj.fields[f.companion?];
                        let kind = buf.u8(buf.field(t, companion.offset)?)?;
                        let member = schema.enum_of(&f.ty)?.value_of(i64::from(kind))?.union_type?;
                        let child = schema.object_of(&member)?;
                        let target = buf.deref(at?)?;
                        if child.is_struct { Cur::Struct(child, target) } else { Cur::Table(child, target) }
                    }
                    BaseType::Vector => Cur::Vector(f.ty, buf.deref(at?)?),
                    _ => return None,
                }
            }
            (Cur::Struct(obj, pos), Step::Field(name)) => {
                let f = obj.field(name)?;
                let at = pos.checked_add(usize::from(f.offset))?;
                match f.ty.base {
                    b if b.is_scalar() => Cur::Value(buf.scalar(b, at)?),
                    BaseType::Obj => Cur::Struct(schema.object_of(&f.ty)?, at),
                    BaseType::Array => Cur::Array(f.ty, at),
                    _ => return None,
                }
            }
            (Cur::Vector(t, vpos), Step::Index(i)) => {
                let et = t.element_type();
                let size = match et.base {
                    b if b.is_scalar() => b.size(),
                    BaseType::Obj => schema.inline_size(&et).max(4),
                    _ => return None,
                };
                let (len, start) = buf.vector(vpos, size)?;
                if i >= len {
                    return None;
                }
                let at = start + i * size;
                match et.base {
                    b if b.is_scalar() => Cur::Value(buf.scalar(b, at)?),
                    _ => {
                        let child = schema.object_of(&et)?;
                        if child.is_struct {
                            Cur::Struct(child, at)
                        } else {
                            Cur::Table(child, buf.deref(at)?)
                        }
                    }
                }
            }
            (Cur::Array(t, pos), Step::Index(i)) => {
                if i >= usize::from(t.fixed_length) {
                    return None;
                }
                let et = t.element_type();
                let at = pos.checked_add(i.checked_mul(schema.inline_size(&et))?)?;
                match et.base {
                    b if b.is_scalar() => Cur::Value(buf.scalar(b, at)?),
                    _ => Cur::Struct(schema.object_of(&et)?, at),
                }
            }
            _ => return None,
        };
    }
    match cur {
        Cur::Value(v) => Some(v.as_f64()),
        _ => None,
    }
}

/// Check that `path` can lead to a number in `type_name` (see [`scalar_at`]); the error names
/// the first segment that cannot, and suggests a close field name.
pub fn check_path(schema: &Schema, type_name: &str, path: &str) -> Result<(), Error> {
    let obj = schema.table(type_name)?;
    let bad =
        |at: &str, expected: String, found: String| Err(Error::Json { path: at.to_owned(), expected, found });
    let Some(steps) = parse(path) else {
        return bad("$", "a path like `a.b[2].c`".into(), format!("{path:?}"));
    };
    // The types the cursor may be at (several after a union).
    #[derive(Clone, Copy)]
    enum T<'s> {
        Obj(&'s Object),
        Seq(Type),
        Scalar,
        Other,
    }
    let mut cur = vec![T::Obj(obj)];
    let mut rendered = String::from("$");
    for step in &steps {
        match step {
            Step::Field(n) => rendered.push_str(&format!(".{n}")),
            Step::Index(i) => rendered.push_str(&format!("[{i}]")),
        }
        let mut next = Vec::new();
        let mut expected = String::new();
        for c in &cur {
            match (c, step) {
                (T::Obj(o), Step::Field(name)) => {
                    let Some(f) = o.field(name).filter(|f| !f.deprecated) else {
                        let names: Vec<&str> = o.field_names().collect();
                        if cur.len() == 1 {
                            let hint = did_you_mean(name, names.iter().copied())
                                .map(|s| format!(" (did you mean `{s}`?)"))
                                .unwrap_or_default();
                            return bad(
                                &rendered,
                                format!("a field of {} ({})", o.name, names.join(", ")),
                                format!("unknown field `{name}`{hint}"),
                            );
                        }
                        expected = format!("a field of one of the union's members ({})", names.join(", "));
                        continue;
                    };
                    match f.ty.base {
                        b if b.is_scalar() => next.push(T::Scalar),
                        BaseType::Obj => next.extend(schema.object_of(&f.ty).map(T::Obj)),
                        BaseType::Union => {
                            for m in schema.enum_of(&f.ty).map(|e| e.values.as_slice()).unwrap_or_default() {
                                if let Some(o) = m.union_type.as_ref().and_then(|t| schema.object_of(t)) {
                                    next.push(T::Obj(o));
                                }
                            }
                        }
                        BaseType::Vector | BaseType::Array => next.push(T::Seq(f.ty)),
                        _ => next.push(T::Other),
                    }
                }
                (T::Seq(t), Step::Index(_)) => {
                    let et = t.element_type();
                    match et.base {
                        b if b.is_scalar() => next.push(T::Scalar),
                        BaseType::Obj => next.extend(schema.object_of(&et).map(T::Obj)),
                        _ => next.push(T::Other),
                    }
                }
                (T::Seq(_), Step::Field(_)) => expected = "an index `[i]` (this is a vector)".into(),
                (_, Step::Index(_)) => expected = "a field name (this is not a vector)".into(),
                _ => expected = "nothing more (this is a number)".into(),
            }
        }
        if next.is_empty() {
            return bad(&rendered, expected, "a step that does not exist".into());
        }
        cur = next;
    }
    if cur.iter().any(|c| matches!(c, T::Scalar)) {
        Ok(())
    } else {
        bad(
            &rendered,
            "a path that ends at a number".into(),
            "one that ends at a table, string or vector".into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse() {
        assert_eq!(
            parse("a.b[2].c"),
            Some(vec![Step::Field("a"), Step::Field("b"), Step::Index(2), Step::Field("c")])
        );
        assert_eq!(parse("$.a.1"), Some(vec![Step::Field("a"), Step::Index(1)]));
        assert_eq!(parse("m[1][2]"), Some(vec![Step::Field("m"), Step::Index(1), Step::Index(2)]));
        assert_eq!(parse(""), None);
        assert_eq!(parse("a..b"), None);
        assert_eq!(parse("a[x]"), None);
        assert_eq!(parse("a[1]b"), None);
    }
}
