//! `vbus-can`: the CAN bridge daemon, and `vbus-can decode` for offline decoding.
//!
//! Errors are printed once, as `vbus-can: <error>`: the library's errors include their causes in
//! their messages.

use std::{path::PathBuf, process::ExitCode};

const USAGE: &str = "usage:
  vbus-can [--config FILE]              run the bridge (default: the embedded configuration)
  vbus-can --print-default-config       print the embedded, commented configuration
  vbus-can decode --dbc FILE --log FILE [--emit-errors]
                                        decode a candump log to JSON lines (reference decoder format)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("decode") => decode(&args[1..]),
        Some("--print-default-config") => {
            print!("{}", vbus_can::DEFAULT_CONFIG);
            Ok(())
        }
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => daemon(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vbus-can: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why the command failed.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// The command line is wrong: what is wrong, then the usage.
    #[error("{0}\n{USAGE}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] vbus::config::ConfigError),
    #[error(transparent)]
    Bridge(#[from] vbus_can::Error),
    #[error(transparent)]
    Decode(#[from] vbus_can::DecodeLogError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

fn value_of(args: &[String], flag: &str) -> Result<Option<PathBuf>, CliError> {
    match args.iter().position(|a| a == flag) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .map(|v| Some(PathBuf::from(v)))
            .ok_or_else(|| CliError::Usage(format!("{flag} needs a value"))),
    }
}

fn decode(args: &[String]) -> Result<(), CliError> {
    let required = |flag: &str| {
        value_of(args, flag)?.ok_or_else(|| CliError::Usage(format!("decode needs {flag} FILE")))
    };
    let (dbc, log) = (required("--dbc")?, required("--log")?);
    let emit_errors = args.iter().any(|a| a == "--emit-errors");
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(QuietPipe(stdout.lock()));
    let summary = vbus_can::decode_log(&dbc, &log, emit_errors, &mut out)?;
    std::io::Write::flush(&mut out).map_err(vbus_can::DecodeLogError::Output)?;
    eprintln!("{}", serde_json::to_string(&summary).unwrap_or_default());
    Ok(())
}

fn daemon(args: &[String]) -> Result<(), CliError> {
    if let Some(unknown) = args.iter().find(|a| a.starts_with('-') && *a != "--config") {
        return Err(CliError::Usage(format!("unknown option `{unknown}`")));
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match value_of(args, "--config")? {
        Some(path) => vbus_can::Config::from_file(&path)?,
        None => vbus_can::Config::from_json5("{}", std::path::Path::new("."))?,
    };
    let rt = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    rt.block_on(async {
        let shutdown = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            tracing::info!("shutting down");
        };
        let stats = vbus_can::run(config, shutdown).await?;
        for s in stats {
            println!("{}", serde_json::to_string(&s).unwrap_or_default());
        }
        Ok::<_, CliError>(())
    })
}

/// Standard output that ends the program quietly when the reader goes away (`... | head`), as
/// Unix filters do, instead of reporting a broken pipe.
struct QuietPipe<W>(W);

impl<W: std::io::Write> std::io::Write for QuietPipe<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).inspect_err(exit_on_broken_pipe)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().inspect_err(exit_on_broken_pipe)
    }
}

fn exit_on_broken_pipe(e: &std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
}
