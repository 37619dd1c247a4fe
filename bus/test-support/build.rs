fn main() {
    // The suites' test message (schemas/speed.fbs) and the same type under another schema.
    vbus_codegen::compile(&["schemas/speed.fbs"], &["schemas"]).unwrap();
    vbus_codegen::Config::new()
        .file_name("speed_v2")
        .compile(&["schemas/v2/speed.fbs"], &["schemas/v2"])
        .unwrap();
}
