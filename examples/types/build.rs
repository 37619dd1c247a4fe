fn main() {
    // The demo vehicle's own topics, from an annotated FlatBuffers schema.
    vbus_codegen::compile(&["../schemas/vehicle.fbs"], &["../schemas"]).unwrap();
    // vbus-codegen's representative `.fbs` input (read in place, not copied): one of each
    // FlatBuffers construct, for the tools' tests against real generated code (`codegen_sample`).
    let dir = "../../codegen/tests-crate/schemas";
    vbus_codegen::Config::new()
        .file_name("codegen_sample")
        .compile(&[format!("{dir}/vehicle.fbs"), format!("{dir}/body.fbs")], &[dir])
        .unwrap();
}
