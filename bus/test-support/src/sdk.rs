//! The C/C++ SDK that `scripts/install-c.sh` installs (`scripts/test.sh` runs it first), and
//! building against it as a user would: the bindings' tests and the demo's C++ ECU.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// Where scripts/install-c.sh installed the SDK: `$VBUS_SDK`, else `target/vbus-sdk`.
pub fn prefix() -> PathBuf {
    let p = std::env::var_os("VBUS_SDK")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/vbus-sdk"));
    assert!(
        p.join("lib/libvbus.so").is_file()
            && p.join("include/vbus/vbus.h").is_file()
            && p.join("lib/cmake/vbus/vbusConfig.cmake").is_file(),
        "no vbus SDK in {}: run scripts/install-c.sh first (scripts/test.sh does)",
        p.display()
    );
    p
}

/// Run `cmd`; on failure, panic with `what` and its output.
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

/// Configure and build a CMake project against the SDK (`find_package(vbus)`); `target`: one
/// target only, else all.
pub fn build_cmake(source_dir: &Path, build_dir: &Path, target: Option<&str>) {
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
    let mut build = Command::new("cmake");
    build.arg("--build").arg(build_dir).arg("-j2");
    if let Some(t) = target {
        build.args(["--target", t]);
    }
    run(&mut build, "cmake --build");
}
