//! A tolerant lexical scan of `.fbs` files: finds `include`s, `namespace`s, table/struct
//! declarations and their metadata with line numbers, so that `vbus_*` attributes can be
//! checked with precise locations before flatc runs. Anything it does not understand is
//! skipped; flatc reports syntax errors itself.

use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Punct(char),
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub line: u32,
}

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Num(String),
    Ident(String),
}

impl Value {
    pub fn text(&self) -> &str {
        match self {
            Value::Str(s) | Value::Num(s) | Value::Ident(s) => s,
        }
    }
}

/// One `key[: value]` metadata entry.
#[derive(Clone, Debug)]
pub(crate) struct Attr {
    pub key: String,
    pub value: Option<Value>,
    pub line: u32,
}

/// A table or struct declaration.
#[derive(Clone, Debug)]
pub(crate) struct Decl {
    pub is_struct: bool,
    /// Fully qualified name.
    pub fqn: String,
    pub line: u32,
    pub attrs: Vec<Attr>,
}

/// What the scan found in one file.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scanned {
    pub includes: Vec<(String, u32)>,
    pub decls: Vec<Decl>,
    /// `vbus_*` attributes on fields, enums, unions and services: (where, attribute).
    pub other_attrs: Vec<(&'static str, Attr)>,
    /// Namespaces declared (dotted, as written), for collision checks.
    pub namespaces: Vec<(String, u32)>,
}

pub(crate) fn tokenize(src: &str) -> Vec<Token> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut line = 1u32;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    if b[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                i += 2;
            }
            b'"' | b'\'' => {
                let q = c;
                let start_line = line;
                i += 1;
                let mut s = Vec::new();
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                        s.push(match b[i] {
                            b'n' => b'\n',
                            b't' => b'\t',
                            other => other,
                        });
                    } else {
                        if b[i] == b'\n' {
                            line += 1;
                        }
                        s.push(b[i]);
                    }
                    i += 1;
                }
                i += 1;
                out.push(Token { tok: Tok::Str(String::from_utf8_lossy(&s).into_owned()), line: start_line });
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push(Token { tok: Tok::Ident(src[s..i].to_string()), line });
            }
            c if c.is_ascii_digit()
                || ((c == b'-' || c == b'+' || c == b'.')
                    && b.get(i + 1).is_some_and(|n| n.is_ascii_digit())) =>
            {
                let s = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                    i += 1;
                }
                out.push(Token { tok: Tok::Num(src[s..i].to_string()), line });
            }
            _ => {
                // Non-ASCII bytes only appear in comments and strings of valid files.
                let ch = src[i..].chars().next().unwrap_or('?');
                out.push(Token { tok: Tok::Punct(ch), line });
                i += ch.len_utf8();
            }
        }
    }
    out
}

struct P<'t> {
    t: &'t [Token],
    i: usize,
}

impl P<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i).map(|t| &t.tok)
    }
    fn line(&self) -> u32 {
        self.t.get(self.i).or(self.t.last()).map_or(1, |t| t.line)
    }
    fn bump(&mut self) -> Option<&Tok> {
        let t = self.t.get(self.i).map(|t| &t.tok);
        self.i += 1;
        t
    }
    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }
    fn ident(&mut self) -> Option<String> {
        if let Some(Tok::Ident(s)) = self.peek() {
            let s = s.clone();
            self.i += 1;
            Some(s)
        } else {
            None
        }
    }
    fn skip_to_semicolon(&mut self) {
        while let Some(t) = self.bump() {
            if *t == Tok::Punct(';') {
                break;
            }
        }
    }
    /// Skip a balanced `{ ... }` starting at the current `{`, calling `f` on each metadata group.
    fn skip_braces(&mut self, mut on_meta: impl FnMut(Vec<Attr>)) {
        let mut depth = 0i32;
        while let Some(t) = self.peek().cloned() {
            match t {
                Tok::Punct('{') => {
                    depth += 1;
                    self.i += 1;
                }
                Tok::Punct('}') => {
                    depth -= 1;
                    self.i += 1;
                    if depth <= 0 {
                        return;
                    }
                }
                Tok::Punct('(') => on_meta(self.metadata()),
                _ => self.i += 1,
            }
        }
    }
    /// Parse `( key [: value] , ... )` starting at `(`.
    fn metadata(&mut self) -> Vec<Attr> {
        let mut out = Vec::new();
        self.i += 1; // (
        loop {
            match self.peek().cloned() {
                None => return out,
                Some(Tok::Punct(')')) => {
                    self.i += 1;
                    return out;
                }
                Some(Tok::Punct(',')) => self.i += 1,
                Some(Tok::Ident(key)) | Some(Tok::Str(key)) => {
                    let line = self.line();
                    self.i += 1;
                    let mut value = None;
                    if self.is_punct(':') {
                        self.i += 1;
                        value = match self.bump() {
                            Some(Tok::Str(s)) => Some(Value::Str(s.clone())),
                            Some(Tok::Num(s)) => Some(Value::Num(s.clone())),
                            Some(Tok::Ident(s)) => Some(Value::Ident(s.clone())),
                            _ => None,
                        };
                    }
                    out.push(Attr { key, value, line });
                }
                Some(_) => self.i += 1,
            }
        }
    }
}

/// Scan one file's text.
pub(crate) fn scan(src: &str) -> Scanned {
    let toks = tokenize(src);
    let mut p = P { t: &toks, i: 0 };
    let mut out = Scanned::default();
    let mut ns = String::new();
    while let Some(t) = p.peek().cloned() {
        let line = p.line();
        match t {
            Tok::Ident(kw) => match kw.as_str() {
                "include" | "native_include" => {
                    p.i += 1;
                    if let Some(Tok::Str(s)) = p.peek().cloned()
                        && kw == "include"
                    {
                        out.includes.push((s, line));
                    }
                    p.skip_to_semicolon();
                }
                "namespace" => {
                    p.i += 1;
                    let mut parts = Vec::new();
                    while let Some(id) = p.ident() {
                        parts.push(id);
                        if p.is_punct('.') {
                            p.i += 1;
                        } else {
                            break;
                        }
                    }
                    ns = parts.join(".");
                    if !ns.is_empty() {
                        out.namespaces.push((ns.clone(), line));
                    }
                    p.skip_to_semicolon();
                }
                "table" | "struct" => {
                    p.i += 1;
                    let Some(name) = p.ident() else { continue };
                    let decl_line = p.t[p.i - 1].line;
                    let attrs = if p.is_punct('(') { p.metadata() } else { Vec::new() };
                    let fqn = if ns.is_empty() { name } else { format!("{ns}.{name}") };
                    let mut other = Vec::new();
                    if p.is_punct('{') {
                        p.skip_braces(|m| {
                            for a in m {
                                if a.key.starts_with("vbus_") {
                                    other.push(("a field", a));
                                }
                            }
                        });
                    }
                    out.other_attrs.extend(other);
                    out.decls.push(Decl { is_struct: kw == "struct", fqn, line: decl_line, attrs });
                }
                "enum" | "union" | "rpc_service" => {
                    p.i += 1;
                    let what = if kw == "rpc_service" { "an rpc_service" } else { "an enum or union" };
                    let mut other = Vec::new();
                    while let Some(t) = p.peek().cloned() {
                        if t == Tok::Punct('{') {
                            break;
                        }
                        if t == Tok::Punct('(') {
                            for a in p.metadata() {
                                if a.key.starts_with("vbus_") {
                                    other.push((what, a));
                                }
                            }
                        } else {
                            p.i += 1;
                        }
                    }
                    p.skip_braces(|m| {
                        for a in m {
                            if a.key.starts_with("vbus_") {
                                other.push((what, a));
                            }
                        }
                    });
                    out.other_attrs.extend(other);
                }
                _ => p.skip_to_semicolon(),
            },
            _ => {
                p.i += 1;
            }
        }
    }
    out
}

/// Resolve an `include "name"` of `from` the way flatc does: next to `from` first, then each
/// include directory in order.
pub(crate) fn resolve_include(from: &Path, name: &str, include_dirs: &[PathBuf]) -> Option<PathBuf> {
    let local = from.parent().map(|d| d.join(name)).unwrap_or_else(|| PathBuf::from(name));
    if local.is_file() {
        return Some(local);
    }
    include_dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_tables_and_attrs() {
        let src = r#"include "a.fbs";
// comment (vbus_topic: "x")
namespace v.c;
/* block
   comment */
table Speed (vbus_topic: "chassis/speed",
             vbus_priority: "realtime", vbus_express) {
  kph: float (id: 0, vbus_x: 1);
}
enum E : byte (vbus_topic: "no") { A }
struct S { x: int; }
"#;
        let s = scan(src);
        assert_eq!(s.includes, vec![("a.fbs".to_string(), 1)]);
        assert_eq!(s.decls.len(), 2);
        let d = &s.decls[0];
        assert_eq!(d.fqn, "v.c.Speed");
        assert_eq!(d.line, 6);
        assert_eq!(d.attrs.len(), 3);
        assert_eq!(d.attrs[1].key, "vbus_priority");
        assert_eq!(d.attrs[1].line, 7);
        assert_eq!(d.attrs[1].value, Some(Value::Str("realtime".into())));
        assert_eq!(d.attrs[2].value, None);
        assert_eq!(s.other_attrs.len(), 2);
        assert_eq!((s.other_attrs[0].0, s.other_attrs[0].1.line), ("a field", 8));
        assert_eq!(s.other_attrs[1].1.line, 10);
        assert!(s.decls[1].is_struct);
    }
}
