//! The `vbus-dds` daemon's config: read through vbus's one loader (the node section over vbus's
//! defaults, errors naming the file and the field); the schema is required (there is no built-in
//! one).

use std::process::Command;

/// Runs the daemon on `config`; its exit code and stderr.
fn run(config: &str) -> (Option<i32>, String, String) {
    let dir = vbus_test_support::TempDir::new("dds-daemon");
    let path = dir.join("bridge.json5");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vbus-dds")).arg(&path).output().expect("run vbus-dds");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned(), path.display().to_string())
}

#[test]
fn config_without_schema_is_refused_naming_the_field() {
    // A node section with only a name (the rest from vbus's defaults) and no `schema`.
    let (code, err, path) = run("{ node: { name: 'dds' }, bridge: { domain_id: 0 } }");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("{path}: missing field `schema`")) && err.contains(".bfbs"), "{err}");
}

#[test]
fn bad_node_field_is_named_with_the_file() {
    let (code, err, path) = run("{ node: { mode: 'satellite' }, schema: 'x.bfbs' }");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("{path}: `node.mode`: unknown variant `satellite`")), "{err}");
    let (code, err, path) = run("{ schema: 'x.bfbs', bridge: { domian_id: 1 } }");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("{path}: `bridge")) && err.contains("domian_id"), "{err}");
}
