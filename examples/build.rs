fn main() {
    // The demo vehicle's own topics, from an annotated FlatBuffers schema.
    vbus_codegen::compile(&["schemas/vehicle.fbs"], &["schemas"]).unwrap();
    // The Tesla Model 3 CAN bus, from its DBC: one typed topic per CAN message, with exactly the
    // layout the CAN bridge publishes (`can/model3/<Message>`).
    vbus_codegen::Config::new()
        .file_name("model3")
        .compile_dbc("../testdata/dbc/kuksa/Model3CAN.dbc", "model3")
        .unwrap();
}
