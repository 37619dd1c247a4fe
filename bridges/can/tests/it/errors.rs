//! Errors are typed, name what they concern (bus, file, line, message, signal) and keep their
//! causes as `source()`.

use std::error::Error as _;

use vbus::{Node, NodeConfig};
use vbus_can::{BusBridge, CanError, Config, DecodeLogError, Error, SchemaError, config::BusConfig};

use crate::{temp_dir, testdata};

const DBC: &str = r#"BO_ 256 Cmd: 2 X
 SG_ Ck : 0|8@1+ (1,0) [0|255] "" X
 SG_ Half : 8|4@1+ (1,0) [0|15] "" X
"#;

/// One bus over a software bus in `dir`, with the DBC above and `extra` fields.
fn bus(dir: &std::path::Path, extra: &str) -> BusConfig {
    std::fs::write(dir.join("cmd.dbc"), DBC).unwrap();
    let text = format!(
        "{{ buses: [{{ name: 'pt', dbc: 'cmd.dbc', source: {{ kind: 'software', dir: 'sw' }} {extra} }}] }}"
    );
    Config::from_json5(&text, dir).unwrap().buses.remove(0)
}

async fn node() -> Node {
    let cfg = NodeConfig::named("can-errors")
        .domain(&format!("can-errors-{}", std::process::id()))
        .listen(["tcp/127.0.0.1:0"])
        .connect([] as [&str; 0]);
    Node::open(cfg).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_setup_errors_say_where_and_keep_the_cause() {
    let node = node().await;
    let dir = temp_dir("errors");
    let fail = |cfg: BusConfig| BusBridge::new(node.clone(), cfg).err().expect("an error");

    // A missing DBC: the DBC error names the file, and keeps the OS error as its cause.
    let mut cfg = bus(&dir, "");
    cfg.dbc = dir.join("missing.dbc");
    let e = fail(cfg);
    let Error::Dbc(load @ vbus_dbc::LoadError::Io { path, .. }) = &e else { panic!("{e:?}") };
    assert!(path.ends_with("missing.dbc"), "{e}");
    assert!(e.to_string().starts_with("cannot read ") && e.to_string().contains("missing.dbc"), "{e}");
    let io = load.source().and_then(|s| s.downcast_ref::<std::io::Error>()).expect("io source");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);

    // A DBC that does not parse: the line is in the cause.
    let mut cfg = bus(&dir, "");
    std::fs::write(dir.join("bad.dbc"), "BO_ 256 Cmd: 2 X\n SG_ Ck : 0|8@1+ (1,0 [0|255] \"\" X\n").unwrap();
    cfg.dbc = dir.join("bad.dbc");
    let e = fail(cfg);
    let Error::Dbc(vbus_dbc::LoadError::Parse { error, .. }) = &e else { panic!("{e:?}") };
    assert_eq!(error.line, 2, "{e}");
    assert!(e.source().and_then(|s| s.downcast_ref::<vbus_dbc::ParseError>()).is_some(), "{e:?}");

    // Names the configuration gives that the DBC does not have.
    let e = fail(bus(&dir, ", timeouts_ms: { Nope: 100 }"));
    assert!(matches!(&e, Error::UnknownMessage { message, .. } if message == "Nope"), "{e:?}");
    assert!(e.to_string().starts_with("bus `pt`: message `Nope` is not in "), "{e}");
    let e = fail(bus(&dir, ", write_back: { allow: ['Cmd'], counters: { Cmd: 'Alive' } }"));
    assert!(matches!(&e, Error::UnknownSignal { role: "counter", signal, .. } if signal == "Alive"), "{e:?}");
    let e = fail(bus(&dir, ", write_back: { checksums: { Gone: { signal: 'Ck', algorithm: 'xor8' } } }"));
    assert!(matches!(&e, Error::UnknownMessage { message, .. } if message == "Gone"), "{e:?}");
    let e = fail(bus(&dir, ", write_back: { checksums: { Cmd: { signal: 'Half', algorithm: 'xor8' } } }"));
    assert!(matches!(&e, Error::ChecksumSignal { start_bit: 8, length: 4, .. }), "{e:?}");
    assert!(e.to_string().contains("expected 8 bits on a byte boundary, found 8|4"), "{e}");

    // A priority the bridge was handed without `Config`'s checks.
    let mut cfg = bus(&dir, "");
    cfg.priority = "urgent".into();
    let e = fail(cfg);
    assert!(
        matches!(&e, Error::BusConfig { source, .. } if source.field.as_deref() == Some("priority")),
        "{e:?}"
    );
    assert!(e.to_string().contains("found `urgent`"), "{e}");

    // A schema file that is missing, or is not a schema: the error names the file.
    let mut cfg = bus(&dir, "");
    cfg.schema = Some(dir.join("missing.bfbs"));
    let e = fail(cfg);
    let Error::Schema(SchemaError::Read { source, .. }) = &e else { panic!("{e:?}") };
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    assert!(e.to_string().starts_with("schema ") && e.to_string().contains("missing.bfbs"), "{e}");
    let mut cfg = bus(&dir, "");
    std::fs::write(dir.join("junk.bfbs"), b"not a schema").unwrap();
    cfg.schema = Some(dir.join("junk.bfbs"));
    let e = fail(cfg);
    assert!(matches!(&e, Error::Schema(SchemaError::Invalid { .. })), "{e:?}");
    assert!(e.source().and_then(|s| s.downcast_ref::<vbus_reflect::Error>()).is_some(), "{e:?}");

    node.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reports_the_bus_whose_source_fails() {
    let dir = temp_dir("errors-run");
    std::fs::write(dir.join("cmd.dbc"), DBC).unwrap();
    let config = Config::from_json5(
        "{ buses: [{ name: 'body', dbc: 'cmd.dbc', source: { kind: 'candump', path: 'missing.log' } }] }",
        &dir,
    )
    .unwrap()
    .with_node(
        &vbus::NodeConfig::named("can-errors-run").listen(Vec::<String>::new()).connect(Vec::<String>::new()),
    )
    .unwrap();
    let e = vbus_can::run(config, std::future::pending()).await.expect_err("an error");
    let Error::Source { bus, source: CanError::Open { source, .. } } = &e else { panic!("{e:?}") };
    assert_eq!((bus.as_str(), source.kind()), ("body", std::io::ErrorKind::NotFound));
    assert!(
        e.to_string().starts_with("bus `body`: cannot open candump log ")
            && e.to_string().contains("missing.log")
    );
}

#[test]
fn decode_log_errors_name_the_file_and_keep_the_cause() {
    let log = testdata("logs/real/tesla_model3_kuksa_dogmode.log");
    let dbc = testdata("dbc/kuksa/Model3CAN.dbc");
    let dir = temp_dir("errors-decode");
    let mut out = Vec::new();
    let e = vbus_can::decode_log(&dir.join("missing.dbc"), &log, false, &mut out).unwrap_err();
    assert!(matches!(&e, DecodeLogError::Dbc(vbus_dbc::LoadError::Io { .. })), "{e:?}");
    assert!(e.to_string().contains("missing.dbc"), "{e}");
    let e = vbus_can::decode_log(&dbc, &dir.join("missing.log"), false, &mut out).unwrap_err();
    let DecodeLogError::OpenLog { path, source } = &e else { panic!("{e:?}") };
    assert!(path.ends_with("missing.log") && source.kind() == std::io::ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("missing.log"), "{e}");
}
