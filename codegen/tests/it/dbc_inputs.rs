//! Every DBC of `testdata/dbc` converts to a schema that flatc accepts; the quirk files are
//! accepted with located warnings (or rejected with a located error); broken files are
//! rejected naming the DBC line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use vbus_codegen::Config;
use vbus_codegen::dbc::{DbcOptions, dbc_file_to_fbs};

use crate::{rust_markers, scratch};

fn dbc_files(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(Path::new("../testdata/dbc").join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("dbc")))
        .collect();
    v.sort();
    v
}

#[test]
fn every_testdata_dbc_converts_and_flatc_accepts_it() {
    let mut n = 0;
    for dir in ["opendbc", "cantools", "kuksa", "opendbc_quirks", "crafted"] {
        for path in dbc_files(dir) {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let bus = vbus_codegen::naming::snake_case(&stem);
            let fbs = dbc_file_to_fbs(&path, &bus, &DbcOptions::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let g = Config::new()
                .generate_from_text(&bus, &fbs, &path.display().to_string(), &scratch(&bus))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let db = vbus_dbc::Database::from_file(&path).unwrap();
            assert_eq!(g.topics.len(), db.messages().len(), "{}: one topic per message", path.display());
            // The CAN bridge publishes with vbus_dbc::fbs at run time: same names, same hashes
            // as the code generated here from the compiled schema.
            let hashes: HashMap<String, u64> =
                rust_markers(&g.rust, &g.schemas).into_iter().map(|m| (m.name, m.hash)).collect();
            for t in vbus_dbc::fbs::tables(&db, &bus) {
                assert_eq!(
                    hashes.get(&t.type_name()).copied(),
                    Some(t.type_hash()),
                    "{}: {} (canonical {})",
                    path.display(),
                    t.type_name(),
                    t.canonical()
                );
            }
            n += 1;
        }
    }
    assert!(n >= 42, "{n} files");
}

/// The quirk files: `vbus-dbc` repairs each and records a warning naming the line; the schema
/// lists the warnings, and `deny_warnings` turns them into errors naming file and line.
#[test]
fn quirk_files_are_accepted_with_located_warnings_or_rejected() {
    let expect = [
        ("chrysler_cusw.dbc", "DBC line 182: message 'BSM_LEFT' has ID 103596083"),
        ("mazda_2017.dbc", "DBC line 790: VAL_ 1143 LEFT_BS_STATUS is not terminated"),
        ("tesla_can.dbc", "DBC line 783: VAL_ for signal 'UI_mapSpeedLimit'"),
        ("toyota_radar_dsu_tssp.dbc", "DBC line 138: CM_ comment is not terminated"),
    ];
    let files = dbc_files("opendbc_quirks");
    assert_eq!(files.len(), expect.len());
    for (file, warning) in expect {
        let path = Path::new("../testdata/dbc/opendbc_quirks").join(file);
        match dbc_file_to_fbs(&path, "q", &DbcOptions::default()) {
            Ok(fbs) => {
                assert!(fbs.contains(&format!("// DBC warning: {warning}")), "{file}: warning not listed");
                let strict = DbcOptions { deny_warnings: true, ..Default::default() };
                let err = dbc_file_to_fbs(&path, "q", &strict).unwrap_err().to_string();
                assert!(err.contains(&format!("{}: {warning}", path.display())), "{file}: {err}");
            }
            Err(e) => assert!(e.to_string().contains("DBC line"), "{file}: {e}"),
        }
    }
    // mazda_2017.dbc has a message whose name starts with a digit: its table name is sanitized,
    // its key keeps the name.
    let fbs = dbc_file_to_fbs(
        Path::new("../testdata/dbc/opendbc_quirks/mazda_2017.dbc"),
        "mazda",
        &DbcOptions::default(),
    )
    .unwrap();
    assert!(fbs.contains("table _2017_5 (vbus_topic: \"can/mazda/2017_5\""), "digit-leading name");
}

#[test]
fn broken_dbc_is_rejected_naming_the_line() {
    let dir = scratch("broken-dbc");
    let path = dir.join("broken.dbc");
    std::fs::write(&path, "VERSION \"\"\n\nBO_ 100 Speed: 8 ECU\n SG_ kph : 0|16@1+ (0.01,0) [0|655.35] \"km/h\" X\nBO_ abc Broken: 8 ECU\n").unwrap();
    let err = dbc_file_to_fbs(&path, "pt", &DbcOptions::default()).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}: DBC line 5", path.display())), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_bus_name_is_rejected() {
    let err =
        dbc_file_to_fbs(Path::new("../testdata/dbc/cantools/motohawk.dbc"), "a/b", &DbcOptions::default())
            .unwrap_err();
    assert!(err.to_string().contains("bus name `a/b`"), "{err}");
}
