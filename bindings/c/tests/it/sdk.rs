//! The installed SDK (scripts/install-c.sh, which scripts/test.sh runs first) and building C
//! and C++ programs against it, as a user would.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use vbus_rs::NodeConfig;
pub use vbus_test_support::sdk::{prefix, run};

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

/// Publish `chassis/speed` from a Rust node named `rust` every 20 ms until the process that
/// `run` builds (given the path of a node config connected to that node, written in `dir`) exits;
/// it must succeed. Its stdout.
pub async fn against_rust_publisher(tag: &str, dir: &Path, run: impl FnOnce(&Path) -> Command) -> String {
    use vbus_demo_types::{demo::vehicle, topics};
    let domain = vbus_test_support::unique_domain(tag);
    let (node, ep) = vbus_test_support::peer_node("rust", &domain).await;
    let cfg = config_file(dir, &vbus_test_support::peer_config(tag, &domain, &ep));
    let mut publisher = node.publisher(topics::chassis::SPEED).create().await.unwrap();
    let mut child = tokio::process::Command::from(run(&cfg))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut i = 0u32;
    loop {
        tokio::select! {
            status = child.wait() => {
                let status = status.unwrap();
                let out = child.wait_with_output().await.unwrap();
                let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                assert!(status.success(), "{tag} failed ({status}):\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
                return stdout;
            }
            _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {
                i += 1;
                publisher.publish(&vehicle::VehicleSpeedT { kph: 50.0, odometer_m: f64::from(i) }).unwrap();
            }
        }
    }
}
