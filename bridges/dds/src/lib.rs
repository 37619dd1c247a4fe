//! # vbus-dds — bridge between a vbus domain and a DDS domain
//!
//! See `README.md` for the design, configuration, set-up and figures.

pub mod bridge;
pub mod cdr;
pub mod dds;

/// The schema model the DDS types and CDR codec are built from ([`dds::DynTopic::new`],
/// [`cdr::encode`], [`cdr::decode`] take a [`vbus_reflect::Schema`]).
pub use vbus_reflect;

/// The demo topics (`schemas/dds_demo.fbs`) this crate's tests, examples and benchmark use.
pub mod demo {
    #![allow(missing_docs, clippy::all, rustdoc::all)]
    vbus::include_topics!("dds_demo");
}

/// The OMG IDL vbus-codegen emitted for the demo topics (what DDS peers compile with `idlc`).
pub const DEMO_IDL: &str = include_str!(concat!(env!("OUT_DIR"), "/dds_demo.idl"));

/// Helpers shared by the tests and the benchmark: the independent C DDS peer.
pub mod testing {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// Build `tests/c/peer.c` in `dir` against Debian's CycloneDDS (0.10.2: `/usr/bin/idlc`,
    /// `/usr/include/dds`, `/usr/lib/x86_64-linux-gnu/libddsc.so`) with `idlc` run on
    /// [`crate::DEMO_IDL`]. Returns the executable.
    pub fn build_c_peer(dir: &Path) -> Result<PathBuf, String> {
        std::fs::create_dir_all(dir.join("shim")).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("dds_demo.idl"), crate::DEMO_IDL).map_err(|e| e.to_string())?;
        // Debian's headers, even though CycloneDDS 11 sits in /usr/local/include (searched first).
        let link = dir.join("shim/dds");
        if !link.exists() {
            std::os::unix::fs::symlink("/usr/include/dds", &link).map_err(|e| e.to_string())?;
        }
        let st =
            Command::new("/usr/bin/idlc").current_dir(dir).arg("dds_demo.idl").status().map_err(|e| {
                format!("/usr/bin/idlc (Debian cyclonedds-dev; scripts/setup.sh installs it): {e}")
            })?;
        if !st.success() {
            return Err("idlc failed on the codegen IDL".into());
        }
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/peer.c");
        let out = dir.join("peer");
        let st = Command::new("gcc")
            .current_dir(dir)
            .args(["-O2", "-Wall", "-Werror", "-Ishim", "-I."])
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .arg("dds_demo.c")
            .arg("/usr/lib/x86_64-linux-gnu/libddsc.so")
            .status()
            .map_err(|e| format!("gcc: {e}"))?;
        if !st.success() {
            return Err("building the C peer failed".into());
        }
        Ok(out)
    }
}
