//! vbus-codegen integration tests (one binary): the command line and the IDL checked by `idlc`
//! (`cli_idl`), every DBC of `testdata/dbc` (`dbc_inputs`), and the golden files of
//! `tests/golden/` (`golden`). Paths are relative to the crate directory, where cargo runs tests.

mod cli_idl;
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
