//! Runs vbus-codegen on the test inputs: `.fbs` schemas, every DBC file of
//! `testdata/dbc/{opendbc,cantools,kuksa}` (and the accepted quirk and crafted files) and the COVESA VSS 6.0 tree, with the real API as a
//! user's build script would. `src/lib.rs` includes the results, so that this crate compiles is
//! the test that all the generated code compiles.

use std::fmt::Write;
use std::path::Path;

fn main() {
    vbus_codegen::Config::new()
        .file_name("vehicle")
        .compile(&["schemas/vehicle.fbs", "schemas/body.fbs"], &["schemas"])
        .unwrap();

    vbus_codegen::Config::new().compile_vss("../../testdata/vss/vss.json").unwrap();

    // Every DBC: one output file per DBC, bus name = directory + file stem.
    let out_dir = std::env::var("OUT_DIR").unwrap();
    let mut modules = String::new();
    let mut list = String::new();
    for dir in ["opendbc", "cantools", "kuksa", "opendbc_quirks", "crafted"] {
        let dir_path = Path::new("../../testdata/dbc").join(dir);
        println!("cargo:rerun-if-changed={}", dir_path.display());
        let mut files: Vec<_> = std::fs::read_dir(&dir_path).unwrap().map(|e| e.unwrap().path()).collect();
        files.retain(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("dbc")));
        files.sort();
        for path in files {
            let stem = path.file_stem().unwrap().to_string_lossy();
            let bus = vbus_codegen::naming::snake_case(&format!("{dir}_{stem}"));
            vbus_codegen::Config::new().compile_dbc(&path, &bus).unwrap();
            let _ = writeln!(
                modules,
                "/// `testdata/dbc/{dir}/{stem}.dbc`\npub mod {bus} {{ vbus::include_topics!(\"{bus}\"); }}"
            );
            let _ = writeln!(list, "    (\"{dir}/{stem}.dbc\", \"{bus}\"),");
        }
    }
    let _ = writeln!(
        modules,
        "/// (DBC file, bus name) of every module above.\npub const FILES: &[(&str, &str)] = &[\n{list}];"
    );
    std::fs::write(Path::new(&out_dir).join("all_dbc.rs"), modules).unwrap();
}
