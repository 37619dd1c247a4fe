//! `vbus-cloud`: the cloud bridge daemon. See the crate README and `DEFAULT_CONFIG.json5`.

use std::process::ExitCode;

use vbus_cloud::{Bridge, Config, DEFAULT_CONFIG};

const USAGE: &str = "\
vbus-cloud: bridge vbus topics to the cloud over MQTT (durable store-and-forward) and cloud
commands to bus services.

usage: vbus-cloud [--config FILE]
       vbus-cloud --print-default-config
       vbus-cloud --help

  --config FILE           JSON5 configuration, merged onto the default (see below)
  --print-default-config  print the commented default configuration and exit

Without --config the embedded default runs: every topic of domain `vehicle` to a local file
sink (vbus-cloud-uplink.jsonl) through a queue in vbus-cloud-queue.sqlite. Logs go to stderr
(RUST_LOG, default `info`). SIGINT/SIGTERM: commit, deliver for a grace period, stop.";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut config_file = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--print-default-config" => {
                print!("{DEFAULT_CONFIG}");
                return ExitCode::SUCCESS;
            }
            "--config" => match args.next() {
                Some(f) => config_file = Some(f),
                None => {
                    eprintln!("vbus-cloud: --config needs a file name\n\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            other => {
                eprintln!("vbus-cloud: unknown argument `{other}`\n\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = match &config_file {
        Some(f) => Config::from_file(f),
        None => Ok(Config::default()),
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("vbus-cloud: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vbus-cloud: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: Config) -> ExitCode {
    use tokio::signal::unix::{SignalKind, signal};
    // Install the handlers before anything else, so a signal during start-up is not lost.
    let (mut sigint, mut sigterm) = match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("vbus-cloud: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bridge = match Bridge::start(config).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("vbus-cloud: {e}");
            return ExitCode::FAILURE;
        }
    };
    let s = bridge.stats();
    // One line on stdout for scripts and tests: the daemon is up.
    println!("vbus-cloud ready vehicle={} sink={} store={}", s.vehicle, s.sink, s.queue.store_id);
    let which = tokio::select! {
        _ = sigint.recv() => "SIGINT",
        _ = sigterm.recv() => "SIGTERM",
    };
    tracing::info!(signal = which, "shutting down");
    match bridge.shutdown().await {
        Ok(s) => {
            println!(
                "vbus-cloud stopped accepted={} acked={} queued={} dropped={}",
                s.accepted, s.uplink.samples_acked, s.queue.records, s.queue.dropped
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vbus-cloud: shutdown: {e}");
            ExitCode::FAILURE
        }
    }
}
