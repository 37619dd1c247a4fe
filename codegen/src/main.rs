//! `vbus-codegen`: run the vbus code generator from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
vbus-codegen: FlatBuffers schemas with vbus topic attributes, DBC and VSS to typed vbus topics

USAGE:
    vbus-codegen fbs <FILE.fbs>... [-I <DIR>]... [--out <DIR> [--cpp] [--no-rust]] [--name <NAME>]
    vbus-codegen dbc <FILE.dbc> [--bus <BUS>] [--out <DIR> [--cpp] [--no-rust]] [--name <NAME>] [--rust]
    vbus-codegen vss <vss.json> [--out <DIR> [--cpp] [--no-rust]] [--name <NAME>] [--rust]
    vbus-codegen attributes
    vbus-codegen flatc-path

Without --out, `fbs` prints the generated Rust code; `dbc` and `vss` print the generated
FlatBuffers schema (or, with --rust, the Rust code). With --out, every output is written to
DIR: <NAME>.rs, <NAME>.bfbs, <NAME>.schemas (per-message schemas the .rs embeds),
<NAME>.idl (topics marked vbus_dds), <NAME>.fbs (dbc, vss), and with --cpp
<NAME>_generated.h (flatc's C++) and <NAME>.vbus.hpp (vbus message traits and topic and
service descriptors); --no-rust leaves out <NAME>.rs and <NAME>.schemas.
`attributes` prints the `attribute \"vbus_...\";` declarations for use with plain flatc.
`flatc-path` prints the flatc this vbus-codegen runs (scripts/install-c.sh installs it).

OPTIONS:
    -I <DIR>        include directory for `include \"...\"` (repeatable)
    --out <DIR>     write the outputs to DIR
    --name <NAME>   output file stem (default: first input's stem, the bus, or `vss`)
    --bus <BUS>     DBC bus name, the topic key segment after `can/` (default: file stem)
    --rust          print Rust code instead of the schema (dbc, vss)
    --cpp           also write C++ (needs --out)
    --no-rust       do not generate Rust (needs --out; e.g. with --cpp for C++-only projects)
    --no-idl        do not write IDL
    --flatc <PATH>  flatc 23.5.26 to run (default: $FLATC or the vendored build)
";

struct Args {
    cmd: String,
    inputs: Vec<PathBuf>,
    includes: Vec<PathBuf>,
    out: Option<PathBuf>,
    name: Option<String>,
    bus: Option<String>,
    rust: bool,
    no_rust: bool,
    cpp: bool,
    idl: bool,
    flatc: Option<PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let cmd = it.next().ok_or("missing command")?;
    if cmd == "-h" || cmd == "--help" || cmd == "help" {
        return Err(String::new());
    }
    let mut a = Args {
        cmd,
        inputs: Vec::new(),
        includes: Vec::new(),
        out: None,
        name: None,
        bus: None,
        rust: false,
        no_rust: false,
        cpp: false,
        idl: true,
        flatc: None,
    };
    while let Some(arg) = it.next() {
        let mut value = |what: &str| it.next().ok_or(format!("{what} needs a value"));
        match arg.as_str() {
            "-I" => a.includes.push(value("-I")?.into()),
            "--out" | "-o" => a.out = Some(value("--out")?.into()),
            "--name" => a.name = Some(value("--name")?),
            "--bus" => a.bus = Some(value("--bus")?),
            "--flatc" => a.flatc = Some(value("--flatc")?.into()),
            "--rust" => a.rust = true,
            "--no-rust" => a.no_rust = true,
            "--cpp" => a.cpp = true,
            "--no-idl" => a.idl = false,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with("-I") && s.len() > 2 => a.includes.push(s[2..].into()),
            s if s.starts_with('-') => return Err(format!("unknown option `{s}`")),
            _ => a.inputs.push(arg.into()),
        }
    }
    if (a.cpp || a.no_rust) && a.out.is_none() {
        return Err(format!("{} writes files: give --out <DIR>", if a.cpp { "--cpp" } else { "--no-rust" }));
    }
    if a.rust && a.no_rust {
        return Err("--rust and --no-rust contradict each other".into());
    }
    Ok(a)
}

fn run(a: Args) -> std::io::Result<()> {
    let mut cfg = vbus_codegen::Config::new();
    cfg.emit_rerun_if_changed(false).idl(a.idl).rust(!a.no_rust).cpp(a.cpp);
    if let Some(f) = &a.flatc {
        cfg.flatc_path(f);
    }
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, m.to_string());
    let stem =
        |p: &PathBuf| p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let scratch = std::env::temp_dir().join(format!("vbus-codegen-cli-{}", std::process::id()));
    let generated = match a.cmd.as_str() {
        "attributes" => {
            print!("{}", vbus_codegen::attribute_declarations());
            return Ok(());
        }
        "flatc-path" => {
            println!("{}", vbus_codegen::flatc_path(a.flatc.as_deref()).display());
            return Ok(());
        }
        "fbs" => {
            let first = a.inputs.first().ok_or_else(|| bad("fbs: no input files"))?;
            let name = a.name.clone().unwrap_or_else(|| stem(first));
            cfg.generate_fbs(&name, &a.inputs, &a.includes, &scratch)?
        }
        "dbc" => {
            let [file] = a.inputs.as_slice() else { return Err(bad("dbc: give exactly one DBC file")) };
            let bus = a.bus.clone().unwrap_or_else(|| vbus_codegen::naming::snake_case(&stem(file)));
            let fbs = vbus_codegen::dbc::dbc_file_to_fbs(file, &bus, &Default::default())?;
            if a.out.is_none() && !a.rust {
                print!("{fbs}");
                return Ok(());
            }
            let name = a.name.clone().unwrap_or_else(|| bus.clone());
            cfg.generate_from_text(&name, &fbs, &file.display().to_string(), &scratch)?
        }
        "vss" => {
            let [file] = a.inputs.as_slice() else { return Err(bad("vss: give exactly one vss.json")) };
            let fbs = vbus_codegen::vss::vss_file_to_fbs(file, &Default::default())?;
            if a.out.is_none() && !a.rust {
                print!("{fbs}");
                return Ok(());
            }
            let name = a.name.clone().unwrap_or_else(|| "vss".into());
            cfg.generate_from_text(&name, &fbs, &file.display().to_string(), &scratch)?
        }
        other => return Err(bad(&format!("unknown command `{other}`\n\n{USAGE}"))),
    };
    let _ = std::fs::remove_dir_all(&scratch);
    match &a.out {
        None => print!("{}", generated.rust),
        Some(dir) => {
            let written = generated.write_to(dir)?;
            eprintln!(
                "vbus-codegen: wrote {} ({} topics) to {}",
                written.join(", "),
                generated.topics.len(),
                dir.display()
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse() {
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vbus-codegen: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Ok(a) => match run(a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
    }
}
