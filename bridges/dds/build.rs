//! Generates the demo topics (typed Rust, `.bfbs`, OMG IDL) and points binaries at CycloneDDS
//! 11.0.1 (installed by `scripts/cyclonedds.sh` into /usr/local) through an rpath.

fn main() {
    vbus_codegen::Config::new()
        .file_name("dds_demo")
        .idl(true)
        .compile(&["schemas/dds_demo.fbs", "schemas/ddsperf.fbs"], &["schemas"])
        .expect("vbus-codegen on schemas/dds_demo.fbs");
    let lib_dir = std::env::var("CYCLONEDDS_LIB_DIR").unwrap_or_else(|_| "/usr/local/lib".into());
    println!("cargo:rerun-if-env-changed=CYCLONEDDS_LIB_DIR");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
}
