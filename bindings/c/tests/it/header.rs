//! `include/vbus.h` is what cbindgen generates from the sources now.

use std::path::Path;

#[test]
fn header_is_cbindgens_current_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let path = dir.join("include/vbus.h");
    if std::env::var_os("VBUS_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/vbus.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is not cbindgen's output for the current sources: run `VBUS_BLESS=1 cargo test -p vbus-c --test it header` and commit it",
        path.display()
    );
}
