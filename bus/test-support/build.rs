fn main() {
    // The suites' test message (schemas/speed.fbs) and the same type under another schema.
    vbus_codegen::compile(&["schemas/speed.fbs"], &["schemas"]).unwrap();
    vbus_codegen::Config::new()
        .file_name("speed_v2")
        .compile(&["schemas/v2/speed.fbs"], &["schemas/v2"])
        .unwrap();
    // The DDS demo topics and ddsperf's type (typed Rust, `.bfbs`, and the OMG IDL the C peer
    // `c/dds_peer.c` is built from at run time, see `src/dds.rs`), for vbus-dds' tests and
    // benchmark and the `dds_peer` example.
    vbus_codegen::Config::new()
        .file_name("dds_demo")
        .idl(true)
        .compile(&["schemas/dds/dds_demo.fbs", "schemas/dds/ddsperf.fbs"], &["schemas/dds"])
        .expect("vbus-codegen on schemas/dds");
}
