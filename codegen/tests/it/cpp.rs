//! The C++ output (`Config::cpp`), compiled and run with `g++ -std=c++17` against the FlatBuffers
//! 23.5.26 headers of the `flatc` crate (found with `cargo metadata`) and the C API header
//! `vbus/vbus.h` (`bindings/c/include/vbus.h`): every message's `vbus::message_traits` has the Rust
//! marker's type hash (`static_assert`) and schema bytes (compared at run time), the descriptors'
//! QoS follow the schema attributes, and a table built with flatc's C++ builder verifies with
//! flatc's verifier and reads back in Rust through the Rust marker's schema.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use vbus_codegen::Config;

use crate::{RustMarker, rust_markers, scratch};

/// `flatc 0.2.2+23.5.26`'s `flatbuffers/include`: the headers flatc's C++ output is made for (it
/// static_asserts their version), from the crate's own source tree.
fn flatbuffers_include() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .output()
        .unwrap_or_else(|e| panic!("running {} metadata: {e}", Path::new(&cargo).display()));
    assert!(out.status.success(), "cargo metadata failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let version = format!("0.2.2+{}", vbus_codegen::FLATC_VERSION);
    let flatc = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "flatc" && p["version"] == version.as_str())
        .unwrap_or_else(|| panic!("no package flatc {version} in `cargo metadata`"));
    let dir =
        Path::new(flatc["manifest_path"].as_str().unwrap()).parent().unwrap().join("flatbuffers/include");
    assert!(
        dir.join("flatbuffers/flatbuffers.h").is_file(),
        "no flatbuffers/flatbuffers.h in {}",
        dir.display()
    );
    dir
}

/// A directory under `dir` with `vbus/vbus.h`, forwarding to the C API header of the repository
/// (`bindings/c/include/vbus.h`, where the generated code includes it from in an installed SDK).
fn vbus_h(dir: &Path) -> PathBuf {
    let inc = dir.join("inc");
    std::fs::create_dir_all(inc.join("vbus")).unwrap();
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bindings/c/include/vbus.h");
    let real = real.canonicalize().unwrap_or_else(|e| panic!("{}: {e}", real.display()));
    std::fs::write(inc.join("vbus/vbus.h"), format!("#include {:?}\n", real.display().to_string())).unwrap();
    inc
}

/// The C++ name of table `fqn` (the test inputs use no C++ keywords).
fn cpp_type(fqn: &str) -> String {
    format!("::{}", fqn.replace('.', "::"))
}

/// The checks of every message of unit `name` in `out` (its `.rs`, `.schemas`, `.bfbs` and
/// `.vbus.hpp`): C++ static_asserts of the type hashes, and `check_schemas()`, which compares
/// each `schema` with the Rust marker's SCHEMA (written to `expect/` under `dir`).
fn message_checks(dir: &Path, out: &Path, name: &str) -> (Vec<RustMarker>, String) {
    let rust = std::fs::read_to_string(out.join(format!("{name}.rs"))).unwrap();
    let schemas = std::fs::read(out.join(format!("{name}.schemas"))).unwrap();
    let bfbs = std::fs::read(out.join(format!("{name}.bfbs"))).unwrap();
    let hpp = std::fs::read_to_string(out.join(format!("{name}.vbus.hpp"))).unwrap();
    let markers = rust_markers(&rust, &schemas);
    assert!(!markers.is_empty(), "{name}: no markers in the Rust code");
    assert_eq!(
        hpp.matches("template <> struct message_traits<").count(),
        markers.len(),
        "{name}: one traits each"
    );
    let full = vbus_reflect::Schema::from_bfbs(&bfbs).unwrap();
    let expect = dir.join("expect");
    std::fs::create_dir_all(&expect).unwrap();
    let mut src = format!("#include \"{name}.vbus.hpp\"\n");
    let mut run = String::from("static void check_schemas() {\n");
    for (i, m) in markers.iter().enumerate() {
        // The Rust values are vbus-reflect's, from the compiled schema.
        assert_eq!(full.type_hash(&m.name), Some(m.hash), "{}", m.name);
        assert_eq!(vbus_reflect::subset_bfbs(&bfbs, &m.name).unwrap(), m.schema, "{}", m.name);
        let ty = cpp_type(&m.name);
        let _ = writeln!(
            src,
            "static_assert(::vbus::message_traits<{ty}>::type_hash == {:#018x}ULL, \"type hash of {}\");",
            m.hash, m.name
        );
        let file = expect.join(format!("{i}.bfbs"));
        std::fs::write(&file, &m.schema).unwrap();
        let _ = writeln!(run, "  check_schema<{ty}>({:?}, {:?});", file.display().to_string(), m.name);
    }
    run.push_str("}\n");
    (markers, src + CHECK_SCHEMA + &run)
}

const CHECK_SCHEMA: &str = r#"
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>
#include <type_traits>
#include <vector>

static int failures = 0;
static int checked = 0;
#define CHECK(cond)                                          \
  do {                                                       \
    if (!(cond)) {                                           \
      std::printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                            \
    }                                                        \
  } while (0)

template <class T> void check_schema(const char* file, const char* name) {
  using tr = ::vbus::message_traits<T>;
  std::ifstream in(file, std::ios::binary);
  std::vector<unsigned char> want((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(!want.empty());
  CHECK(std::strcmp(tr::type_name, name) == 0);
  CHECK(tr::schema_len == want.size() && std::memcmp(tr::schema, want.data(), want.size()) == 0);
  ++checked;
}
"#;

/// Compile `src` (with `-I out`, the flatbuffers headers and `vbus/vbus.h`) and run it with
/// `args`; its stdout.
fn compile_and_run(dir: &Path, out: &Path, src: &str, args: &[&Path]) -> String {
    let cpp = dir.join("check.cpp");
    std::fs::write(&cpp, src).unwrap();
    let exe = dir.join("check");
    let gxx = "g++";
    let compiled = Command::new(gxx)
        .args(["-std=c++17", "-Wall", "-Wextra", "-pedantic", "-Werror", "-O0", "-I"])
        .arg(out)
        .arg("-I")
        .arg(flatbuffers_include())
        .arg("-I")
        .arg(vbus_h(dir))
        .arg(&cpp)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run the C++ compiler `{gxx}` ({e}): the C++ output cannot be checked; install g++ (scripts/setup.sh does)")
        });
    assert!(
        compiled.status.success(),
        "{gxx} rejected {} (generated files in {}):\n{}",
        cpp.display(),
        out.display(),
        String::from_utf8_lossy(&compiled.stderr)
    );
    let ran = Command::new(&exe).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&ran.stdout).into_owned();
    assert!(
        ran.status.success(),
        "{} failed:\n{stdout}{}",
        exe.display(),
        String::from_utf8_lossy(&ran.stderr)
    );
    stdout
}

/// A scratch directory, and its `out/` where `compile` (a compile call of a `Config` with C++
/// output on) wrote a unit.
fn generate(case: &str, compile: impl FnOnce(&mut Config) -> std::io::Result<()>) -> (PathBuf, PathBuf) {
    let dir = scratch(case);
    let out = dir.join("out");
    let mut config = Config::new();
    config.emit_rerun_if_changed(false).out_dir(&out).cpp(true);
    compile(&mut config).unwrap_or_else(|e| panic!("{case}: {e}"));
    (dir, out)
}

/// The demo schema: hashes and schemas as in Rust, the descriptors' keys, types and QoS, and a
/// `VehicleSpeed` from flatc's C++ builder that verifies and reads back in Rust.
#[test]
fn vehicle_cpp_matches_rust_and_round_trips() {
    let (dir, out) = generate("cpp-vehicle", |c| {
        c.compile(&["../examples/schemas/vehicle.fbs"], &["../examples/schemas"])
    });
    for f in ["vehicle.rs", "vehicle.bfbs", "vehicle_generated.h", "vehicle.vbus.hpp"] {
        assert!(out.join(f).is_file(), "{f} written");
    }
    let (markers, mut src) = message_checks(&dir, &out, "vehicle");
    assert_eq!(markers.len(), 5, "3 topics, a request and a reply");
    src.push_str(VEHICLE_CHECKS);
    let speed_bin = dir.join("speed.bin");
    let stdout = compile_and_run(&dir, &out, &src, &[&speed_bin]);
    assert_eq!(stdout.trim(), "checked 5 messages", "{stdout}");

    // The C++-built VehicleSpeed, read in Rust through the Rust marker's schema.
    let bytes = std::fs::read(&speed_bin).unwrap();
    let m = markers.iter().find(|m| m.name == "demo.vehicle.VehicleSpeed").unwrap();
    let schema = vbus_reflect::Schema::from_bfbs(&m.schema).unwrap();
    let json = vbus_reflect::decode_to_json(&schema, &m.name, &bytes).unwrap();
    assert_eq!(json, serde_json::json!({"kph": 42.5, "odometer_m": 1234.25}));
    let _ = std::fs::remove_dir_all(dir);
}

/// The descriptors of `examples/schemas/vehicle.fbs`, checked against its attributes.
const VEHICLE_CHECKS: &str = r#"
#include "flatbuffers/flatbuffers.h"

namespace topics = vbus_gen::vehicle::topics;
namespace services = vbus_gen::vehicle::services;
using std::string_view;

// chassis/speed: vbus_priority "realtime", vbus_express, vbus_congestion "block", vbus_period_ms 20.
using speed = topics::chassis::speed;
static_assert(std::is_same<speed::message, ::demo::vehicle::VehicleSpeed>::value, "");
static_assert(string_view(speed::key) == "chassis/speed", "");
static_assert(speed::qos.reliability == VBUS_RELIABILITY_DEFAULT, "");
static_assert(speed::qos.priority == VBUS_PRIORITY_REAL_TIME, "");
static_assert(speed::qos.express, "");
static_assert(speed::qos.congestion == VBUS_CONGESTION_BLOCK, "");
static_assert(speed::qos.history == 0 && speed::qos.queue == 0, "");
static_assert(speed::qos.deadline_ms == 3 * 20, "3 periods");
static_assert(speed::qos.lifespan_ms == 0 && !speed::qos.e2e, "");

// powertrain/battery: vbus_period_ms 100, vbus_history 1.
using battery = topics::powertrain::battery;
static_assert(std::is_same<battery::message, ::demo::vehicle::BatteryState>::value, "");
static_assert(string_view(battery::key) == "powertrain/battery", "");
static_assert(battery::qos.priority == VBUS_PRIORITY_DEFAULT && !battery::qos.express, "");
static_assert(battery::qos.congestion == VBUS_CONGESTION_DEFAULT, "");
static_assert(battery::qos.history == 1 && battery::qos.deadline_ms == 300, "");

// body/drive_mode: vbus_history 1, vbus_congestion "block", no period.
using drive_mode = topics::body::drive_mode;
static_assert(std::is_same<drive_mode::message, ::demo::vehicle::DriveModeState>::value, "");
static_assert(drive_mode::qos.history == 1 && drive_mode::qos.congestion == VBUS_CONGESTION_BLOCK, "");
static_assert(drive_mode::qos.deadline_ms == 0, "");

// body/set_drive_mode: vbus_reply "SetDriveModeReply", vbus_timeout_ms 1000.
using set_drive_mode = services::body::set_drive_mode;
static_assert(std::is_same<set_drive_mode::request, ::demo::vehicle::SetDriveMode>::value, "");
static_assert(std::is_same<set_drive_mode::reply, ::demo::vehicle::SetDriveModeReply>::value, "");
static_assert(string_view(set_drive_mode::key) == "body/set_drive_mode", "");
static_assert(set_drive_mode::timeout_ms == 1000, "");

int main(int argc, char** argv) {
  check_schemas();
  // flatc's builder, then its verifier (what VerifyVehicleSpeedBuffer would be with a root_type).
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(::demo::vehicle::CreateVehicleSpeed(fbb, 42.5f, 1234.25));
  flatbuffers::Verifier verifier(fbb.GetBufferPointer(), fbb.GetSize());
  CHECK(verifier.VerifyBuffer<speed::message>(nullptr));
  CHECK(flatbuffers::GetRoot<speed::message>(fbb.GetBufferPointer())->kph() == 42.5f);
  // The object API, and a truncated buffer that must not verify.
  ::demo::vehicle::VehicleSpeedT obj;
  obj.kph = 7.0f;
  flatbuffers::FlatBufferBuilder fbb2;
  fbb2.Finish(::demo::vehicle::VehicleSpeed::Pack(fbb2, &obj));
  flatbuffers::Verifier v2(fbb2.GetBufferPointer(), fbb2.GetSize());
  CHECK(v2.VerifyBuffer<speed::message>(nullptr));
  flatbuffers::Verifier truncated(fbb.GetBufferPointer(), 6);
  CHECK(!truncated.VerifyBuffer<speed::message>(nullptr));
  // For the Rust side.
  CHECK(argc == 2);
  if (argc == 2) {
    std::ofstream(argv[1], std::ios::binary).write(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  }
  std::printf("checked %d messages\n", checked);
  return failures == 0 ? 0 : 1;
}
"#;

/// Generate unit `name` with `compile`, then compile and run the checks of every message and
/// `checks` (C++ declarations: static_asserts) with a `main` that runs `check_schemas()`.
/// Returns the number of messages.
fn check_every_message(
    case: &str,
    name: &str,
    compile: impl FnOnce(&mut Config) -> std::io::Result<()>,
    checks: &str,
) -> usize {
    let (dir, out) = generate(case, compile);
    let (markers, src) = message_checks(&dir, &out, name);
    let main = "int main() {\n  check_schemas();\n  std::printf(\"checked %d messages\\n\", checked);\n  return failures == 0 ? 0 : 1;\n}\n";
    let stdout = compile_and_run(&dir, &out, &format!("{src}{checks}{main}"), &[]);
    assert_eq!(stdout.trim(), format!("checked {} messages", markers.len()), "{stdout}");
    let _ = std::fs::remove_dir_all(dir);
    markers.len()
}

/// The golden inputs (structs, unions, bit flags, vectors, two namespaces, a service): every
/// message's hash and schema as in Rust, and the QoS attributes the demo schema does not use.
#[test]
fn golden_inputs_cpp_matches_rust() {
    let inputs = Path::new("tests/golden/inputs");
    let files = [inputs.join("vehicle.fbs"), inputs.join("body.fbs")];
    let checks = r#"
// vbus_priority "realtime", vbus_reliability "best_effort", vbus_express, vbus_period_ms 10.
using speed = vbus_gen::vehicle::topics::chassis::speed;
static_assert(speed::qos.reliability == VBUS_RELIABILITY_BEST_EFFORT, "");
static_assert(speed::qos.priority == VBUS_PRIORITY_REAL_TIME && speed::qos.express, "");
static_assert(speed::qos.congestion == VBUS_CONGESTION_DEFAULT && speed::qos.deadline_ms == 30, "");
// vbus_priority "data_high", vbus_deadline_ms 50, vbus_lifespan_ms 200, vbus_history 1,
// vbus_queue 8, vbus_congestion "block".
using wheels = vbus_gen::vehicle::topics::chassis::wheel_speeds;
static_assert(wheels::qos.reliability == VBUS_RELIABILITY_DEFAULT, "");
static_assert(wheels::qos.priority == VBUS_PRIORITY_DATA_HIGH && !wheels::qos.express, "");
static_assert(wheels::qos.congestion == VBUS_CONGESTION_BLOCK, "");
static_assert(wheels::qos.deadline_ms == 50 && wheels::qos.lifespan_ms == 200, "");
static_assert(wheels::qos.history == 1 && wheels::qos.queue == 8, "");
static_assert(vbus_gen::vehicle::topics::chassis::diagnostic::qos.priority == VBUS_PRIORITY_BACKGROUND, "");
// vbus_timeout_ms 500; the reply resolved in the request's namespace.
using lock = vbus_gen::vehicle::services::body::door::lock;
static_assert(lock::timeout_ms == 500, "");
static_assert(std::is_same<lock::reply, ::vehicle::body::LockReply>::value, "");
"#;
    let n = check_every_message("cpp-golden", "vehicle", |c| c.compile(&files, &[inputs]), checks);
    assert_eq!(n, 6, "4 topics, a request and a reply");
}

/// A DBC (the Model 3's 160 messages): every message's hash and schema as in Rust, and a
/// topic's QoS from the DBC cycle time.
#[test]
fn dbc_cpp_matches_rust() {
    let model3 = "../testdata/dbc/kuksa/Model3CAN.dbc";
    let fbs = vbus_codegen::dbc::dbc_file_to_fbs(Path::new(model3), "model3", &Default::default()).unwrap();
    assert!(
        fbs.contains(
            "table Id212BmsStatus (vbus_topic: \"can/model3/ID212BMS_status\", vbus_period_ms: 100)"
        ),
        "the checks below follow this table"
    );
    let checks = r#"
using bms = vbus_gen::model3::topics::can::model3::id212_bms_status;
static_assert(std::is_same<bms::message, ::can::model3::Id212BmsStatus>::value, "");
static_assert(std::string_view(bms::key) == "can/model3/ID212BMS_status", "");
static_assert(bms::qos.deadline_ms == 300 && bms::qos.priority == VBUS_PRIORITY_DEFAULT, "3 cycles");
"#;
    let n = check_every_message("cpp-dbc", "model3", |c| c.compile_dbc(model3, "model3"), checks);
    assert!(n >= 100, "{n} messages");
}

/// flatc writes schema namespaces into C++ as they are: a C++ keyword there is an error naming
/// the line, with C++ output on only.
#[test]
fn cpp_keyword_namespace_is_an_error_with_cpp_only() {
    let dir = scratch("cpp-keyword");
    let fbs = dir.join("k.fbs");
    std::fs::write(&fbs, "namespace car.private;\n\ntable T (vbus_topic: \"t\") { x: int; }\n").unwrap();
    let run = |cpp: bool| {
        Config::new().cpp(cpp).generate_fbs(
            "k",
            std::slice::from_ref(&fbs),
            std::slice::from_ref(&dir),
            &dir.join("s"),
        )
    };
    run(false).unwrap();
    let err = run(true).unwrap_err().to_string();
    assert!(err.contains("k.fbs:1: error: namespace `car.private`: `private` is a C++ keyword"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
