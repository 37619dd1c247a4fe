//! vbus-codegen integration tests (one binary): the command line and the IDL checked by `idlc`
//! (`cli_idl`), the C++ output compiled and run with g++ (`cpp`), every DBC of `testdata/dbc`
//! (`dbc_inputs`), and the golden files of `tests/golden/` (`golden`). Paths are relative to the
//! crate directory, where cargo runs tests.

mod cli_idl;
mod cpp;
mod dbc_inputs;
mod golden;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh, empty directory under the system's temp dir, unique to this process and call
/// (`name` says what it is for).
pub fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("vbus-codegen-it-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("create {}: {e}", d.display()));
    d
}

/// One `vbus::Message` impl of generated Rust code: `TYPE_NAME`, `TYPE_HASH` and `SCHEMA` (its
/// slice of the `SCHEMAS` blob, `<name>.schemas`).
pub struct RustMarker {
    pub name: String,
    pub hash: u64,
    pub schema: Vec<u8>,
}

/// The markers of generated Rust code `rust`, whose `SCHEMAS` is `schemas`.
pub fn rust_markers(rust: &str, schemas: &[u8]) -> Vec<RustMarker> {
    let mut out = Vec::new();
    let (mut name, mut hash) = (None, None);
    for line in rust.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("const TYPE_NAME: &'static str = \"") {
            name = rest.strip_suffix("\";").map(str::to_owned);
        } else if let Some(rest) = line.strip_prefix("const TYPE_HASH: u64 = 0x") {
            hash = Some(u64::from_str_radix(rest.trim_end_matches(';'), 16).unwrap());
        } else if let Some(rest) = line.strip_prefix("const SCHEMA: &'static [u8] = ") {
            // `super::SCHEMAS.split_at(<offset>).1.split_at(<len>).0;`
            let num = |s: &str| -> usize { s.split(')').next().unwrap().parse().unwrap() };
            let mut parts = rest.split(".split_at(").skip(1);
            let (off, len) = (num(parts.next().unwrap()), num(parts.next().unwrap()));
            out.push(RustMarker {
                name: name.take().expect("TYPE_NAME before SCHEMA"),
                hash: hash.take().expect("TYPE_HASH before SCHEMA"),
                schema: schemas[off..off + len].to_vec(),
            });
        }
    }
    out
}
