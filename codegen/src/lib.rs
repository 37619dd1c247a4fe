//! Code generation for [vbus](https://example.invalid/vbus): from FlatBuffers schemas with
//! topic attributes, CAN databases (DBC) and the COVESA Vehicle Signal Specification (VSS) to
//! typed Rust topics.
//!
//! # Concepts
//!
//! * **The schema is the source of truth.** A FlatBuffers table becomes a bus message by
//!   carrying `vbus_*` attributes: its topic key, its QoS and who may publish it:
//!
//!   ```text
//!   namespace vehicle.chassis;
//!
//!   /// Vehicle speed over ground.
//!   table VehicleSpeed (vbus_topic: "chassis/speed", vbus_priority: "realtime",
//!                       vbus_period_ms: 10, vbus_publishers: "chassis_ecu,gateway") {
//!     kph: float;
//!   }
//!   ```
//!
//!   The attributes need no `attribute "vbus_...";` declarations: vbus-codegen hands flatc an
//!   include with them (line numbers of your files are untouched, so flatc's own errors point
//!   at your file and line). See [`ATTRIBUTES`] for the full list and [`attribute_declarations`]
//!   for projects that also run plain flatc.
//!
//! * **What is generated** (one `<name>.rs` in `OUT_DIR`, included with
//!   `vbus::include_topics!("<name>")`):
//!   - flatc's Rust code with the object API, one module per schema namespace
//!     (`vehicle::chassis::VehicleSpeed<'a>` view, `VehicleSpeedT` owned struct, ...), made to
//!     use `::vbus::flatbuffers` so that crates depend on vbus alone;
//!   - per topic (and service) table a zero-sized marker `VehicleSpeedMsg` implementing
//!     `vbus::Message` (`TYPE_NAME`, [`TYPE_HASH`](hash), `SCHEMA` = an embedded `.bfbs` of its types), with
//!     `vbus::Pack<VehicleSpeedMsg>` implemented for `VehicleSpeedT`, and inherent constants
//!     `TOPIC`, `PUBLISHERS`, `PERIOD`, `DDS` (services: `SERVICE`);
//!   - `topics::…` and `services::…` modules that follow the key tree: key `chassis/speed` is
//!     `topics::chassis::SPEED` (segments in `snake_case`, last one in `SCREAMING_SNAKE_CASE`;
//!     two segments that convert to the same identifier get `_2`, `_3` suffixes in key order);
//!   - `SCHEMA_BFBS` (the `.bfbs` written next to the `.rs`, via `include_bytes!`),
//!     `SCHEMAS` (one `.bfbs` per message with only the types it needs and `root_table` set:
//!     its `Message::SCHEMA`; from `<name>.schemas`) and `TOPIC_PUBLISHERS`, the
//!     `(key, allowed publishers)` table for access control.
//!   - `<name>.idl`: OMG IDL 4 for the topics marked `vbus_dds` (see [`Config::idl`]).
//!   - with [`Config::cpp`], C++: `<name>_generated.h` (flatc's C++ with the object API, every
//!     type in one header) and `<name>.vbus.hpp` (`vbus::message_traits<T>` per message type
//!     with the same type name, hash and schema as the Rust marker, and the
//!     `vbus_gen::<name>::topics::…` / `services::…` descriptor structs).
//!
//! * **Other inputs become schemas first.** [`Config::compile_dbc`] turns every CAN message of
//!   a DBC file into a table with topic `can/<bus>/<Message>` ([`dbc`]), and
//!   [`Config::compile_vss`] turns a VSS tree into topics under `vss/Vehicle/...` ([`vss`]).
//!   The generated `.fbs` is written next to the Rust code, and goes through the same pipeline.
//!
//! * **Errors** come back as `io::Error`s whose text names the file, the line and what is
//!   wrong, e.g. `schemas/vehicle.fbs:7: error: bad vbus_priority "urgent" on
//!   "vehicle.chassis.VehicleSpeed"; allowed: "realtime", ...`. In a build script, unwrap them.
//!
//! flatc 23.5.26 is built from source by the `flatc` crate (feature `vendored-flatc`, on by
//! default; needs cmake and a C++ compiler). Set `FLATC` or [`Config::flatc_path`] to use
//! another flatc of that version.
//!
//! # Example
//!
//! `build.rs`:
//!
//! ```no_run
//! # fn main() {
//! // Same as vbus_codegen::Config::new().compile(..)
//! vbus_codegen::compile(&["schemas/vehicle.fbs"], &["schemas"]).unwrap();
//!
//! vbus_codegen::Config::new()
//!     .file_name("powertrain")
//!     .compile_dbc("dbc/powertrain.dbc", "pt")
//!     .unwrap();
//!
//! vbus_codegen::Config::new().compile_vss("vss/vss.json").unwrap();
//! # }
//! ```
//!
//! `src/lib.rs`:
//!
//! ```ignore
//! pub mod vehicle_msgs {
//!     vbus::include_topics!("vehicle");
//! }
//! use vehicle_msgs::{topics, vehicle::chassis::VehicleSpeedT};
//!
//! let topic = topics::chassis::SPEED; // vbus::Topic<VehicleSpeedMsg>
//! let sample = VehicleSpeedT { kph: 42.0 };
//! ```
#![warn(missing_docs)]

mod attrs;
mod cpp_out;
pub mod dbc;
mod fbs_scan;
mod flatc;
pub mod hash;
mod idl;
mod messages;
pub mod naming;
mod rust_out;
pub mod vss;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

pub use attrs::{
    ATTRIBUTES, DEADLINE_PERIODS, Diag, FIELD_ATTRIBUTES, Loc, PRIORITIES, QosSpec, ServiceSpec, TopicSpec,
    check_key,
};
pub use flatc::FLATC_VERSION;

/// The flatc that code generation runs: `explicit`, else `$FLATC`, else the vendored build
/// (feature `vendored-flatc`), else `flatc` from `PATH`.
pub fn flatc_path(explicit: Option<&Path>) -> PathBuf {
    flatc::locate(explicit)
}

/// The `attribute "vbus_...";` declarations, for schemas that are also compiled by plain flatc.
pub fn attribute_declarations() -> String {
    attrs::declarations()
}

/// Compile `.fbs` files with the default [`Config`]: `Config::new().compile(files, includes)`.
pub fn compile(files: &[impl AsRef<Path>], includes: &[impl AsRef<Path>]) -> io::Result<()> {
    Config::new().compile(files, includes)
}

/// What one compilation produced.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    /// Output file stem (`<name>.rs`, `<name>.bfbs`, ...).
    pub name: String,
    /// The Rust code (empty with [`Config::rust`] off).
    pub rust: String,
    /// The binary schema.
    pub bfbs: Vec<u8>,
    /// The per-message binary schemas (`<name>.schemas`), concatenated (empty with
    /// [`Config::rust`] off: the Rust code embeds them).
    pub schemas: Vec<u8>,
    /// The C++ output, when [`Config::cpp`] is on.
    pub cpp: Option<CppOutput>,
    /// OMG IDL for the `vbus_dds` topics, when there are some and IDL output is on.
    pub idl: Option<String>,
    /// The FlatBuffers schema generated from a DBC or VSS input (None for `.fbs` inputs).
    pub fbs: Option<String>,
    /// Topics, in declaration order.
    pub topics: Vec<TopicSpec>,
    /// Files read (inputs and includes), for `rerun-if-changed`.
    pub read: Vec<PathBuf>,
}

/// The C++ files of one compilation ([`Config::cpp`]).
#[derive(Clone, Debug, Default)]
pub struct CppOutput {
    /// `<name>_generated.h`: flatc's C++ (`--cpp --gen-object-api --gen-all`) of every type,
    /// one self-contained header. It includes `flatbuffers/flatbuffers.h`, which must be the
    /// FlatBuffers 23.5.26 headers (the `flatc` crate's `flatbuffers/include`).
    pub header: String,
    /// `<name>.vbus.hpp`: `vbus::message_traits<T>` of every message type and the
    /// `vbus_gen::<name>::topics` / `services` descriptors (C++17, needs `vbus/vbus.h`).
    pub descriptors: String,
}

impl Generated {
    /// The output files, as (file name, contents): `<name>.rs` and `<name>.schemas` (unless
    /// Rust output is off), `<name>.bfbs`, `<name>.idl`, `<name>.fbs` (DBC, VSS), and with C++
    /// output `<name>_generated.h` and `<name>.vbus.hpp`.
    pub fn files(&self) -> Vec<(String, &[u8])> {
        let n = &self.name;
        let mut files = Vec::new();
        if !self.rust.is_empty() {
            files.push((format!("{n}.rs"), self.rust.as_bytes()));
        }
        files.push((format!("{n}.bfbs"), &self.bfbs[..]));
        if !self.rust.is_empty() {
            files.push((format!("{n}.schemas"), &self.schemas[..]));
        }
        if let Some(idl) = &self.idl {
            files.push((format!("{n}.idl"), idl.as_bytes()));
        }
        if let Some(fbs) = &self.fbs {
            files.push((format!("{n}.fbs"), fbs.as_bytes()));
        }
        if let Some(cpp) = &self.cpp {
            files.push((format!("{n}_generated.h"), cpp.header.as_bytes()));
            files.push((format!("{n}.vbus.hpp"), cpp.descriptors.as_bytes()));
        }
        files
    }

    /// Write [`Generated::files`] to `dir` (created if missing; files whose contents did not
    /// change are left untouched, so that builds that depend on them do not rerun). Returns the
    /// file names written.
    pub fn write_to(&self, dir: &Path) -> io::Result<Vec<String>> {
        std::fs::create_dir_all(dir)?;
        let mut names = Vec::new();
        for (name, bytes) in self.files() {
            write_if_changed(&dir.join(&name), bytes)?;
            names.push(name);
        }
        Ok(names)
    }
}

/// Code generation settings (builder, in the style of `prost_build::Config`).
#[derive(Clone, Debug)]
pub struct Config {
    out_dir: Option<PathBuf>,
    file_name: Option<String>,
    emit_rerun_if_changed: Option<bool>,
    idl: bool,
    rust: bool,
    cpp: bool,
    flatc: Option<PathBuf>,
    vbus_path: String,
    dbc: dbc::DbcOptions,
    vss: vss::VssOptions,
    /// Topic and service keys generated so far by this `Config` (duplicate detection across
    /// compile calls).
    keys: BTreeMap<String, (String, Loc)>,
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    /// Defaults: output to `$OUT_DIR`, file named after the first input, `rerun-if-changed`
    /// lines when run from a build script, IDL output on, flatc from [`Config::flatc_path`] /
    /// `$FLATC` / the vendored build, generated code refers to `::vbus`.
    pub fn new() -> Self {
        Self {
            out_dir: None,
            file_name: None,
            emit_rerun_if_changed: None,
            idl: true,
            rust: true,
            cpp: false,
            flatc: None,
            vbus_path: "::vbus".into(),
            dbc: dbc::DbcOptions::default(),
            vss: vss::VssOptions::default(),
            keys: BTreeMap::new(),
        }
    }

    /// Directory for the generated files (default: `$OUT_DIR`).
    pub fn out_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Stem of the output files: `<name>.rs`, `<name>.bfbs`, `<name>.idl`, `<name>.fbs`, the
    /// name given to `vbus::include_topics!`. Default: the stem of the first `.fbs` input, the
    /// bus name for DBC, `vss` for VSS. Applies to every later compile call.
    pub fn file_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.file_name = Some(name.into());
        self
    }

    /// Print `cargo:rerun-if-changed=` for every file read (default: when `OUT_DIR` is set,
    /// i.e. in a build script).
    pub fn emit_rerun_if_changed(&mut self, on: bool) -> &mut Self {
        self.emit_rerun_if_changed = Some(on);
        self
    }

    /// Write `<name>.idl` (OMG IDL 4) for topics marked `vbus_dds` (default: on).
    pub fn idl(&mut self, on: bool) -> &mut Self {
        self.idl = on;
        self
    }

    /// Generate the Rust code, `<name>.rs` and `<name>.schemas` (default: on). Off for
    /// projects that use only the C++ output ([`Config::cpp`]) or the `.bfbs`.
    pub fn rust(&mut self, on: bool) -> &mut Self {
        self.rust = on;
        self
    }

    /// Also generate C++ (default: off): `<name>_generated.h`, flatc's C++ for every type of the
    /// unit with the object API (`flatc --cpp --gen-object-api --gen-all`), and
    /// `<name>.vbus.hpp`, the C++ counterpart of the Rust markers and key trees:
    /// `vbus::message_traits<T>` (`type_name`, `type_hash`, `schema`: the Rust `Message`
    /// values) for every message type, and `vbus_gen::<name>::topics::…` /
    /// `services::…` structs (`message`, `key`, `qos` as a C `vbus_qos`; `request`, `reply`,
    /// `key`, `timeout_ms`). Compile with the FlatBuffers 23.5.26 headers (the `flatc` crate's
    /// `flatbuffers/include`) and the vbus C API header `vbus/vbus.h` on the include path.
    pub fn cpp(&mut self, on: bool) -> &mut Self {
        self.cpp = on;
        self
    }

    /// Run this flatc (version [`FLATC_VERSION`]) instead of `$FLATC` or the vendored one.
    pub fn flatc_path(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.flatc = Some(path.into());
        self
    }

    /// Path of the vbus crate in generated code (default `::vbus`; e.g. `crate` inside vbus).
    pub fn vbus_crate(&mut self, path: impl Into<String>) -> &mut Self {
        self.vbus_path = path.into();
        self
    }

    /// Options for [`Config::compile_dbc`].
    pub fn dbc_options(&mut self, opts: dbc::DbcOptions) -> &mut Self {
        self.dbc = opts;
        self
    }

    /// Options for [`Config::compile_vss`].
    pub fn vss_options(&mut self, opts: vss::VssOptions) -> &mut Self {
        self.vss = opts;
        self
    }

    /// Compile FlatBuffers schemas with `vbus_*` attributes. `includes` are the directories
    /// searched for `include "..."` (like flatc's `-I`); each file should lie below one of them
    /// (else its own directory is added).
    pub fn compile(&mut self, files: &[impl AsRef<Path>], includes: &[impl AsRef<Path>]) -> io::Result<()> {
        let files: Vec<PathBuf> = files.iter().map(|f| f.as_ref().to_path_buf()).collect();
        let includes: Vec<PathBuf> = includes.iter().map(|f| f.as_ref().to_path_buf()).collect();
        let name = match &self.file_name {
            Some(n) => n.clone(),
            None => files
                .first()
                .and_then(|f| f.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "vbus-codegen: no input files"))?,
        };
        let out_dir = self.resolve_out_dir()?;
        let generated = self.generate_fbs(&name, &files, &includes, &staging(&out_dir, &name))?;
        self.write(&out_dir, &generated)
    }

    /// Compile one DBC file: every CAN message becomes a table and a topic
    /// `<key_prefix>/<bus>/<Message>` (see [`dbc`]). Output name defaults to `bus`.
    pub fn compile_dbc(&mut self, dbc_file: impl AsRef<Path>, bus: &str) -> io::Result<()> {
        let path = dbc_file.as_ref();
        let fbs = dbc::dbc_file_to_fbs(path, bus, &self.dbc)?;
        let name = self.file_name.clone().unwrap_or_else(|| naming::snake_case(bus));
        let out_dir = self.resolve_out_dir()?;
        let mut generated =
            self.generate_from_text(&name, &fbs, &path.display().to_string(), &staging(&out_dir, &name))?;
        generated.read.push(path.to_path_buf());
        self.write(&out_dir, &generated)
    }

    /// Compile a VSS tree exported as JSON by vss-tools (`vspec export json`) into topics
    /// (see [`vss`]). Output name defaults to `vss`.
    pub fn compile_vss(&mut self, vss_json: impl AsRef<Path>) -> io::Result<()> {
        let path = vss_json.as_ref();
        let fbs = vss::vss_file_to_fbs(path, &self.vss)?;
        let name = self.file_name.clone().unwrap_or_else(|| "vss".into());
        let out_dir = self.resolve_out_dir()?;
        let mut generated =
            self.generate_from_text(&name, &fbs, &path.display().to_string(), &staging(&out_dir, &name))?;
        generated.read.push(path.to_path_buf());
        self.write(&out_dir, &generated)
    }

    fn resolve_out_dir(&self) -> io::Result<PathBuf> {
        match &self.out_dir {
            Some(d) => Ok(d.clone()),
            None => std::env::var_os("OUT_DIR").map(PathBuf::from).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "vbus-codegen: OUT_DIR is not set (not in a build script?); call Config::out_dir",
                )
            }),
        }
    }

    fn write(&self, out_dir: &Path, g: &Generated) -> io::Result<()> {
        g.write_to(out_dir)?;
        let rerun = self.emit_rerun_if_changed.unwrap_or_else(|| std::env::var_os("OUT_DIR").is_some());
        if rerun {
            for f in &g.read {
                println!("cargo:rerun-if-changed={}", f.display());
            }
            println!("cargo:rerun-if-env-changed=FLATC");
        }
        Ok(())
    }

    /// Generate from `.fbs` files without writing the outputs; `staging` is a scratch
    /// directory for flatc (created and emptied).
    pub fn generate_fbs(
        &mut self,
        name: &str,
        files: &[PathBuf],
        includes: &[PathBuf],
        staging: &Path,
    ) -> io::Result<Generated> {
        if files.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "vbus-codegen: no input files"));
        }
        let mut inc_dirs: Vec<PathBuf> = includes.to_vec();
        let mut rels = Vec::new();
        for f in files {
            if !f.is_file() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("vbus-codegen: input `{}` not found", f.display()),
                ));
            }
            let rel = includes.iter().find_map(|d| relative_to(f, d));
            let rel = match rel {
                Some(r) => r,
                None => {
                    let parent = f
                        .parent()
                        .filter(|p| !p.as_os_str().is_empty())
                        .unwrap_or(Path::new("."))
                        .to_path_buf();
                    if !inc_dirs.contains(&parent) {
                        inc_dirs.push(parent);
                    }
                    PathBuf::from(f.file_name().unwrap_or_default())
                }
            };
            rels.push(rel);
        }
        let inputs: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        self.generate_inner(name, files, &rels, &inc_dirs, &inputs, staging, None)
    }

    /// Generate from schema text (what [`dbc`] and [`vss`] produce); `origin` names the input
    /// in comments.
    pub fn generate_from_text(
        &mut self,
        name: &str,
        fbs: &str,
        origin: &str,
        staging: &Path,
    ) -> io::Result<Generated> {
        let src = staging.join("src");
        std::fs::create_dir_all(&src)?;
        let file = src.join(format!("{name}.fbs"));
        std::fs::write(&file, fbs)?;
        let rel = PathBuf::from(format!("{name}.fbs"));
        let mut g = self.generate_inner(
            name,
            &[file],
            &[rel],
            &[src],
            &[origin.to_string()],
            staging,
            Some(fbs.to_string()),
        )?;
        g.read.clear();
        Ok(g)
    }

    #[allow(clippy::too_many_arguments)]
    fn generate_inner(
        &mut self,
        name: &str,
        files: &[PathBuf],
        rels: &[PathBuf],
        inc_dirs: &[PathBuf],
        inputs: &[String],
        staging: &Path,
        fbs: Option<String>,
    ) -> io::Result<Generated> {
        // 1. Scan inputs and their includes for vbus attributes.
        let mut topics = Vec::new();
        let mut services = Vec::new();
        let mut diags = Vec::new();
        let mut read = Vec::new();
        let mut queue: Vec<PathBuf> = files.to_vec();
        let mut seen_files = std::collections::BTreeSet::new();
        while let Some(f) = queue.pop() {
            let key = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
            if !seen_files.insert(key) {
                continue;
            }
            let text =
                std::fs::read(&f).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", f.display())))?;
            let text = String::from_utf8_lossy(&text);
            let scanned = fbs_scan::scan(&text);
            let display = f.display().to_string();
            attrs::validate_other(&display, &scanned.other_attrs, &mut diags);
            for (ns, line) in &scanned.namespaces {
                let loc = Loc { file: display.clone(), line: *line };
                let first = ns.split('.').next().unwrap_or_default();
                let m = naming::flatc_namespace_module(first);
                if m == "topics" || m == "services" {
                    diags.push(Diag {
                        loc: loc.clone(),
                        msg: format!("namespace `{first}` would be the Rust module `{m}`, which vbus-codegen reserves for its key trees; rename it"),
                    });
                }
                for c in ns.split('.').filter(|c| self.cpp && cpp_out::is_reserved(c)) {
                    diags.push(Diag {
                        loc: loc.clone(),
                        msg: format!("namespace `{ns}`: `{c}` is a C++ keyword or predefined macro, which flatc's C++ output does not escape; rename it"),
                    });
                }
            }
            attrs::validate(&display, &scanned.decls, &mut topics, &mut services, &mut diags);
            for (inc, line) in &scanned.includes {
                match fbs_scan::resolve_include(&f, inc, inc_dirs) {
                    Some(p) => queue.push(p),
                    None => diags.push(Diag {
                        loc: Loc { file: display.clone(), line: *line },
                        msg: format!("include `{inc}` not found next to the file or in the include directories {inc_dirs:?}"),
                    }),
                }
            }
            read.push(f);
        }
        // Duplicate keys, within this unit and across earlier calls of this Config.
        let mut keys = self.keys.clone();
        let mut all: Vec<(String, String, Loc)> =
            topics.iter().map(|t| (t.key.clone(), t.fqn.clone(), t.loc.clone())).collect();
        all.extend(services.iter().map(|s| (s.key.clone(), s.fqn.clone(), s.loc.clone())));
        all.sort_by(|a, b| a.2.cmp(&b.2));
        for (key, fqn, loc) in all {
            if let Some((other, oloc)) = keys.get(&key) {
                if *other != fqn || *oloc != loc {
                    diags.push(Diag {
                        loc,
                        msg: format!("key `{key}` of `{fqn}` is already used by `{other}` ({oloc})"),
                    });
                }
                continue;
            }
            keys.insert(key, (fqn, loc));
        }
        if !diags.is_empty() {
            diags.sort();
            diags.dedup();
            return Err(diag_error(&diags));
        }

        // 2. flatc: binary schema and Rust.
        let flatc = flatc::locate(self.flatc.as_deref());
        for sub in ["umbrella", "bfbs", "rust", "cpp"] {
            let d = staging.join(sub);
            if d.exists() {
                std::fs::remove_dir_all(&d)?;
            }
        }
        let umbrella_dir = staging.join("umbrella");
        std::fs::create_dir_all(&umbrella_dir)?;
        std::fs::write(umbrella_dir.join("__vbus_attributes.fbs"), attrs::declarations())?;
        let mut umbrella = String::from("include \"__vbus_attributes.fbs\";\n");
        for r in rels {
            umbrella.push_str(&format!("include {:?};\n", r.to_string_lossy().replace('\\', "/")));
        }
        let umbrella_file = umbrella_dir.join("__vbus_umbrella.fbs");
        std::fs::write(&umbrella_file, umbrella)?;
        let mut common: Vec<OsString> = Vec::new();
        for d in inc_dirs {
            common.push("-I".into());
            common.push(d.clone().into_os_string());
        }
        let bfbs_dir = staging.join("bfbs");
        let mut args: Vec<OsString> =
            ["-b", "--schema", "--bfbs-comments", "--bfbs-builtins"].iter().map(OsString::from).collect();
        // The `.bfbs` records each type's declaring file relative to this root (by default the
        // first input's directory, our staging dir in OUT_DIR, which would make the schema bytes
        // depend on where the checkout and target dir live). Relative to the first include
        // directory they are the same on every machine: reproducible schemas.
        if let Some(root) = inc_dirs.first() {
            args.push("--bfbs-filenames".into());
            args.push(root.clone().into_os_string());
        }
        args.extend(common.iter().cloned());
        args.extend(["-o".into(), bfbs_dir.clone().into_os_string(), umbrella_file.clone().into_os_string()]);
        flatc::run(&flatc, &args)?;
        // Rust and C++: the code of every type the umbrella includes (`--gen-all`), which for C++
        // is one header (`__vbus_umbrella_generated.h`) with no includes of its own but
        // flatbuffers.h.
        let rust_dir = staging.join("rust");
        let cpp_dir = staging.join("cpp");
        let languages = [(self.rust, "--rust", &rust_dir), (self.cpp, "--cpp", &cpp_dir)];
        for (_, lang, dir) in languages.into_iter().filter(|l| l.0) {
            let mut args: Vec<OsString> = vec![lang.into(), "--gen-object-api".into(), "--gen-all".into()];
            if lang == "--rust" {
                args.push("--rust-module-root-file".into());
            }
            args.extend(common.iter().cloned());
            args.extend(["-o".into(), dir.clone().into_os_string(), umbrella_file.clone().into_os_string()]);
            flatc::run(&flatc, &args)?;
        }
        let bfbs = std::fs::read(bfbs_dir.join("__vbus_umbrella.bfbs"))?;
        let schema = vbus_reflect::Schema::from_bfbs(&bfbs)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("vbus-codegen: {e}")))?;

        // 3. Check specs against the compiled schema; resolve service replies.
        let mut diags = Vec::new();
        let mut resolved = Vec::new();
        for s in &services {
            match resolve_table(&schema, &s.fqn, &s.reply) {
                Ok(r) => resolved.push((s.clone(), r)),
                Err(e) => {
                    diags.push(Diag { loc: s.loc.clone(), msg: format!("vbus_reply of `{}`: {e}", s.fqn) })
                }
            }
        }
        check_names(&schema, &topics, &resolved, &mut diags);
        if !diags.is_empty() {
            return Err(diag_error(&diags));
        }

        let messages = messages::messages(&topics, &resolved, &bfbs, &schema)?;
        let (rust, schemas) = if self.rust {
            let bfbs_file = format!("{name}.bfbs");
            let schemas_file = format!("{name}.schemas");
            let unit = rust_out::Unit {
                topics: &topics,
                services: &resolved,
                vbus: &self.vbus_path,
                bfbs_file: &bfbs_file,
                messages: &messages,
                schemas_file: &schemas_file,
                inputs,
            };
            unit.render(&rust_dir)?
        } else {
            (String::new(), Vec::new())
        };
        let cpp = if self.cpp {
            let flatc_h = cpp_dir.join("__vbus_umbrella_generated.h");
            let text = std::fs::read_to_string(&flatc_h).map_err(|e| {
                io::Error::new(e.kind(), format!("reading flatc output {}: {e}", flatc_h.display()))
            })?;
            let unit = cpp_out::Unit {
                name,
                topics: &topics,
                services: &resolved,
                messages: &messages,
                schema: &schema,
                inputs,
            };
            Some(CppOutput {
                header: cpp_out::flatc_header(&text, name, inputs)?,
                descriptors: unit.render(),
            })
        } else {
            None
        };
        let idl = if self.idl && topics.iter().any(|t| t.dds) {
            match idl::render(&schema, &topics, inputs) {
                Ok(s) => Some(s),
                Err(errs) => {
                    let diags: Vec<Diag> = topics
                        .iter()
                        .filter(|t| t.dds)
                        .flat_map(|t| {
                            errs.iter().filter(|e| e.starts_with(&t.fqn)).map(|e| Diag {
                                loc: t.loc.clone(),
                                msg: format!("vbus_dds topic `{}`: {e}", t.fqn),
                            })
                        })
                        .collect();
                    return Err(diag_error(&diags));
                }
            }
        } else {
            None
        };
        self.keys = keys;
        let _ = std::fs::remove_dir_all(staging);
        if let Some(parent) = staging.parent().filter(|p| p.file_name().is_some_and(|n| n == ".vbus-codegen"))
        {
            // Only succeeds when no other compilation is using it.
            let _ = std::fs::remove_dir(parent);
        }
        Ok(Generated { name: name.to_string(), rust, bfbs, schemas, cpp, idl, fbs, topics, read })
    }
}

/// Resolve a type name written in namespace of `from_fqn` the way flatc resolves field types:
/// innermost namespace first, then outward, then as a fully qualified name.
fn resolve_table(schema: &vbus_reflect::Schema, from_fqn: &str, name: &str) -> Result<String, String> {
    let mut ns: Vec<&str> = from_fqn.split('.').collect();
    ns.pop();
    loop {
        let cand = if ns.is_empty() { name.to_string() } else { format!("{}.{name}", ns.join(".")) };
        if let Some(o) = schema.object(&cand) {
            if o.is_struct {
                return Err(format!("`{cand}` is a struct; a reply must be a table"));
            }
            return Ok(cand);
        }
        if ns.pop().is_none() {
            return Err(format!("no table `{name}` visible from `{from_fqn}`"));
        }
    }
}

/// Marker and root-level name collisions.
fn check_names(
    schema: &vbus_reflect::Schema,
    topics: &[TopicSpec],
    services: &[(ServiceSpec, String)],
    diags: &mut Vec<Diag>,
) {
    let mut existing = std::collections::BTreeSet::new();
    for o in &schema.objects {
        for suffix in ["", "T", "Args", "Builder", "Offset"] {
            existing.insert(format!("{}{suffix}", o.name));
        }
    }
    for e in &schema.enums {
        existing.insert(e.name.clone());
        existing.insert(format!("{}UnionTableOffset", e.name));
        existing.insert(format!("{}T", e.name));
    }
    let mut tables: Vec<(&str, &Loc)> = topics.iter().map(|t| (t.fqn.as_str(), &t.loc)).collect();
    tables.extend(services.iter().map(|(s, _)| (s.fqn.as_str(), &s.loc)));
    for (fqn, loc) in tables {
        let marker = format!("{fqn}Msg");
        if existing.contains(&marker) {
            diags.push(Diag {
                loc: loc.clone(),
                msg: format!(
                    "the vbus marker type `{marker}` of `{fqn}` collides with a schema type; rename one"
                ),
            });
        }
    }
    for o in schema.objects.iter().map(|o| &o.name).chain(schema.enums.iter().map(|e| &e.name)) {
        if !o.contains('.')
            && ["topics", "services", "SCHEMA_BFBS", "SCHEMAS", "TOPIC_PUBLISHERS"].contains(&o.as_str())
        {
            diags.push(Diag {
                loc: Loc { file: "<schema>".into(), line: 0 },
                msg: format!("type `{o}` in the root namespace collides with a name vbus-codegen generates"),
            });
        }
    }
}

fn diag_error(diags: &[Diag]) -> io::Error {
    let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
    io::Error::new(io::ErrorKind::InvalidInput, text.join("\n"))
}

/// `f` relative to directory `d`, when `f` lies below it.
fn relative_to(f: &Path, d: &Path) -> Option<PathBuf> {
    let norm = |p: &Path| -> PathBuf {
        p.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()
    };
    if let Ok(r) = norm(f).strip_prefix(norm(d)) {
        return Some(r.to_path_buf());
    }
    let (cf, cd) = (std::fs::canonicalize(f).ok()?, std::fs::canonicalize(d).ok()?);
    cf.strip_prefix(cd).ok().map(Path::to_path_buf)
}

fn staging(out_dir: &Path, name: &str) -> PathBuf {
    out_dir.join(".vbus-codegen").join(name)
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes)
}

/// Make free text safe for one `///` doc line or a `.fbs` `///` comment: one line, no
/// characters that rustdoc would read as markup (links, HTML, code fences).
pub fn doc_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '[' => out.push('('),
            ']' => out.push(')'),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\''),
            '\\' => out.push('/'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    let collapsed: Vec<&str> = out.split(' ').filter(|w| !w.is_empty()).collect();
    collapsed.join(" ")
}

#[cfg(test)]
mod tests {
    use vbus_reflect::{Schema, subset_bfbs};

    #[test]
    fn subset_keeps_only_what_the_root_needs() {
        let dir = std::env::temp_dir().join(format!("vbus-codegen-subset-{}", std::process::id()));
        let inputs = std::path::Path::new("tests/golden/inputs");
        let g = crate::Config::new()
            .generate_fbs(
                "v",
                &[inputs.join("vehicle.fbs"), inputs.join("body.fbs")],
                &[inputs.to_path_buf()],
                &dir,
            )
            .unwrap();
        let full = Schema::from_bfbs(&g.bfbs).unwrap();
        assert!(full.objects.len() > 8 && full.root_table.is_none());
        let sub = Schema::from_bfbs(&subset_bfbs(&g.bfbs, "vehicle.chassis.VehicleSpeed").unwrap()).unwrap();
        assert_eq!(
            sub.root_table.map(|i| sub.objects[i].name.as_str()),
            Some("vehicle.chassis.VehicleSpeed")
        );
        let names: Vec<&str> = sub.objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["vehicle.chassis.VehicleSpeed", "vehicle.common.Header"]);
        let enums: Vec<&str> = sub.enums.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(enums, ["vehicle.common.Faults", "vehicle.common.Source"]);
        // Indices are rewritten: the type hash is the same as from the full schema.
        let sub_bfbs = subset_bfbs(&g.bfbs, "vehicle.chassis.VehicleSpeed").unwrap();
        let h = |b: &[u8]| crate::hash::type_hash(b, "vehicle.chassis.VehicleSpeed").unwrap();
        assert_eq!(h(&sub_bfbs), h(&g.bfbs));
        // Unions pull in their members.
        let sub = Schema::from_bfbs(&subset_bfbs(&g.bfbs, "vehicle.chassis.Diagnostic").unwrap()).unwrap();
        let names: Vec<&str> = sub.objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["vehicle.chassis.Diagnostic", "vehicle.chassis.Sample", "vehicle.common.Header"]);
        // The concatenated per-message schemas hold one schema per marker.
        assert!(g.schemas.len() < 6 * g.bfbs.len());
    }
}
