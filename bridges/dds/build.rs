//! Points binaries at CycloneDDS 11.0.1 (installed by `scripts/cyclonedds.sh` into /usr/local)
//! through an rpath.

fn main() {
    let lib_dir = std::env::var("CYCLONEDDS_LIB_DIR").unwrap_or_else(|_| "/usr/local/lib".into());
    println!("cargo:rerun-if-env-changed=CYCLONEDDS_LIB_DIR");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
}
