//! The vbus demo: separate processes exchanging typed data over the bus, on embedded defaults.
//!
//! Run it with `scripts/demo.sh` (installs what is needed, builds, runs), or
//! `cargo run --release -p vbus-examples --bin vbus-demo`. With `--realtime` the CAN capture
//! plays at its real pace (22 s instead of ~6 s): time to look at the bus with the `vbus` CLI.
//!
//! What happens: this process starts a zenoh router node ("gateway") on the default endpoint
//! `tcp/127.0.0.1:7447`, then starts more processes of this same binary as vehicle ECUs with the
//! default node configuration (peers that find each other through that router):
//! - `cockpit` subscribes to everything below, prints a dashboard line twice a second, asks for
//!   sport mode half way, and checks what it receives;
//! - `cloud` is the cloud bridge (`vbus-cloud`'s library) with four collection rules, uploading
//!   to a local file sink (`$TMPDIR/vbus-demo/uplink.jsonl`, JSON Lines) instead of an MQTT
//!   broker, through its durable queue; at the end it reads the file back and counts;
//! - `chassis` publishes `chassis/speed` at 50 Hz and `powertrain/battery` at 10 Hz, owns the
//!   `body/drive_mode` field and serves `body/set_drive_mode`;
//! - `can` is the CAN bridge (`vbus-can`'s library) replaying a real Tesla Model 3 capture
//!   (`testdata/logs/real`) with its DBC, 4x faster than real time: every frame becomes a typed
//!   sample on `can/model3/<Message>`, which the cockpit reads with types generated from the
//!   same DBC.
//!
//! The run succeeds (exit 0) when the cockpit received every speed sample the chassis sent
//! between the first and the last one it saw, with no wrong value, the mode change went through
//! the service and the field, every CAN frame the bridge published reached the cockpit, and
//! every battery sample went up to the cloud.
//!
//! Each role is a module of this binary: `launcher` (`run`), `chassis`, `cockpit`, `can`,
//! `cloud`, and `dds` (`dds`, `dds-ecu`) with the `dds` feature.

mod can;
mod chassis;
mod cloud;
mod cockpit;
#[cfg(feature = "dds")]
mod dds;
mod launcher;

use std::process::ExitCode;

use tokio::io::{AsyncBufReadExt, BufReader};

/// How long the cockpit watches the bus (at least; it also waits for the end of the CAN replay).
const RUN_SECONDS: u64 = 4;

#[tokio::main]
async fn main() -> ExitCode {
    vbus_examples::init_logging();
    let mut role = std::env::args().nth(1).unwrap_or_else(|| "run".into());
    if role == "--realtime" {
        role = "run".into();
    }
    // The directory of the CAN and cloud ECUs' files: the launcher passes it to them.
    let dir = || std::env::args().nth(2).unwrap_or_else(|| demo_dir().display().to_string());
    let result = match role.as_str() {
        "run" => launcher::run().await,
        "chassis" => chassis::run().await,
        "cockpit" => cockpit::run().await,
        "can" => can::run(dir()).await,
        #[cfg(feature = "dds")]
        "dds" => dds::bridge().await,
        #[cfg(feature = "dds")]
        "dds-ecu" => dds::ecu().await,
        "cloud" => cloud::run(dir()).await,
        other => Err(format!(
            "unknown role `{other}`; use `run` (default), or one ECU: `chassis`, `cockpit`, `can`, `cloud`"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("[{role}] error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Deterministic speed for sequence number `seq`, so the cockpit can check every value.
fn speed_at(seq: u64) -> f32 {
    (60.0 + 40.0 * (seq as f64 / 40.0).sin()) as f32
}

/// Deterministic state of charge for battery sample `seq`.
fn soc_at(seq: u64) -> f32 {
    80.0 - seq as f32 * 0.01
}

/// Where the cloud bridge's uplink file and queue go (the same path every run, so the README can
/// point at it; the launcher empties it first).
fn demo_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("vbus-demo")
}

/// Until the launcher closes this process' stdin (how it asks an ECU to finish).
async fn until_stdin_closes() {
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(_)) = stdin.next_line().await {}
}
