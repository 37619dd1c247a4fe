//! The installed SDK (scripts/install-c.sh, which scripts/test.sh runs first) and building C
//! and C++ programs against it, as a user would.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use vbus_rs::NodeConfig;

/// Where scripts/install-c.sh installed the SDK: `$VBUS_SDK`, else `target/vbus-sdk`.
pub fn prefix() -> PathBuf {
    let p = std::env::var_os("VBUS_SDK")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/vbus-sdk"));
    assert!(
        p.join("lib/libvbus.so").is_file() && p.join("include/vbus/vbus.h").is_file(),
        "no vbus SDK in {}: run scripts/install-c.sh first (scripts/test.sh does)",
        p.display()
    );
    p
}

pub fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compile one C source against the SDK with gcc, warnings as errors, with the flags its
/// pkg-config file (`vbus.pc`) gives; the executable's path.
pub fn build_c(source: &Path, out_dir: &Path) -> PathBuf {
    let sdk = prefix();
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "vbus"])
        .env("PKG_CONFIG_PATH", sdk.join("lib/pkgconfig"))
        .output()
        .expect("run pkg-config");
    assert!(flags.status.success(), "pkg-config vbus: {}", String::from_utf8_lossy(&flags.stderr));
    let flags = String::from_utf8(flags.stdout).expect("pkg-config output");
    let exe = out_dir.join(source.file_stem().expect("source name"));
    run(
        Command::new("gcc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-o"])
            .arg(&exe)
            .arg(source)
            .args(flags.split_whitespace())
            .arg(format!("-Wl,-rpath,{}", sdk.join("lib").display())),
        &format!("gcc {}", source.display()),
    );
    exe
}

/// Configure and build a CMake project against the SDK (`find_package(vbus)`).
pub fn build_cmake(source_dir: &Path, build_dir: &Path) {
    run(
        Command::new("cmake")
            .arg("-S")
            .arg(source_dir)
            .arg("-B")
            .arg(build_dir)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix().display()))
            .arg("-DCMAKE_BUILD_TYPE=Debug"),
        "cmake configure",
    );
    run(Command::new("cmake").arg("--build").arg(build_dir).arg("-j2"), "cmake --build");
}

/// Write a node config file for a C/C++ process (its JSON, through the same serialiser).
pub fn config_file(dir: &Path, config: &NodeConfig) -> PathBuf {
    let path = dir.join(format!("{}.json5", config.name));
    std::fs::write(&path, config.to_value().to_string()).expect("write node config");
    path
}

/// The Python with the `vbus` package (bindings/python/test.sh, which scripts/test.sh runs
/// first, installs it into `target/python-venv`): `$VBUS_PYTHON`, else that venv's.
pub fn python() -> PathBuf {
    let p = std::env::var_os("VBUS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/python-venv/bin/python"));
    let ok = Command::new(&p).args(["-c", "import vbus"]).output().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{} cannot import vbus: run bindings/python/test.sh first (scripts/test.sh does)",
        p.display()
    );
    p
}
