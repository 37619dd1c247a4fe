fn main() {
    vbus_codegen::compile(&["schemas/vehicle.fbs"], &["schemas"]).unwrap();
}
