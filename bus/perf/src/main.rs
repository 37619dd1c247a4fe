//! `vbus-perf`: throughput and latency of vbus next to raw zenoh, raw iceoryx2, plain UDP and
//! CycloneDDS.
//!
//! ```text
//! vbus-perf suite                      # the whole comparison, prints the ratio table
//! vbus-perf sub-thr --stack vbus       # one role by hand (prints READY <endpoint>)
//! vbus-perf pub-thr --stack vbus --connect tcp/127.0.0.1:PORT --size 64
//! vbus-perf pong --stack zenoh
//! vbus-perf ping --stack zenoh --connect tcp/127.0.0.1:PORT --size 64 --rate 100
//! vbus-perf pong --stack iceoryx2      # prints READY iceoryx2/<tag>
//! vbus-perf ping --stack iceoryx2 --connect iceoryx2/<tag> --size 64
//! ```
//! See `BENCHMARKS.md` at the workspace root.

mod roles;
mod suite;

use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use roles::{Opts, Stack};
use vbus_perf::config::{Net, parse_zset};

#[derive(Parser)]
#[command(
    name = "vbus-perf",
    about = "vbus vs raw zenoh vs raw iceoryx2 vs UDP vs CycloneDDS: throughput, latency, CPU, RSS"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Subscriber side of the throughput test (like z_sub_thr); prints READY, then RESULT.
    SubThr(RoleArgs),
    /// Publisher side of the throughput test (like z_pub_thr); prints RESULT.
    PubThr(RoleArgs),
    /// Latency: send a ping, wait for its pong (like z_ping); prints RESULT.
    Ping(RoleArgs),
    /// Latency: echo pings (like z_pong); prints READY, runs until killed.
    Pong(RoleArgs),
    /// Run the whole comparison and print the ratio table.
    Suite(suite::SuiteArgs),
}

#[derive(Args, Clone, Debug)]
struct RoleArgs {
    /// Implementation under test.
    #[arg(long, value_enum, default_value = "vbus")]
    stack: Stack,
    /// Listen endpoint (loopback only), e.g. tcp/127.0.0.1:0 or udp/127.0.0.1:0. iceoryx2:
    /// optionally iceoryx2/<tag> (service names of the run; default: a new tag), other endpoints
    /// are ignored.
    #[arg(long)]
    listen: Option<String>,
    /// Endpoint to connect to (loopback only). iceoryx2: iceoryx2/<tag> from the READY line.
    #[arg(long)]
    connect: Option<String>,
    /// Application payload bytes per message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// zenoh QoS express (no batching) on the publishers.
    #[arg(long)]
    express: bool,
    /// Transport priority of the publishers (`realtime`, `interactive-high`, ..., `background`).
    #[arg(long, default_value = "data")]
    priority: vbus::Priority,
    /// Congestion control Drop instead of Block.
    #[arg(long)]
    drop: bool,
    /// Best-effort instead of reliable.
    #[arg(long)]
    best_effort: bool,
    /// Warm-up before the measurement window, seconds.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Measurement window, seconds.
    #[arg(long, default_value_t = 3.0)]
    duration: f64,
    /// Ping rate in Hz (default: back-to-back).
    #[arg(long)]
    rate: Option<f64>,
    /// Subscribers deliver through a queue read by an application thread (default: callback).
    #[arg(long)]
    queue: bool,
    /// zenoh configuration override `path=json`, applied to both stacks (repeatable).
    #[arg(long = "zset", value_parser = parse_zset)]
    zset: Vec<(String, serde_json::Value)>,
    /// Raw zenoh only: use the zenoh features vbus uses (encoding string, 40-byte attachment,
    /// timestamping), to separate their cost from vbus's own code.
    #[arg(long)]
    mimic: bool,
    /// Raw zenoh only: a 40-byte attachment on every put (part of --mimic).
    #[arg(long)]
    attach: bool,
    /// Raw zenoh only: the vbus encoding string on the publisher (part of --mimic).
    #[arg(long)]
    encoding: bool,
    /// vbus only: no same-host shared-memory path; samples go through zenoh (TCP loopback).
    #[arg(long)]
    zenoh_only: bool,
    /// Exit after this many seconds whatever happens.
    #[arg(long, default_value_t = 600.0)]
    lifetime: f64,
}

impl RoleArgs {
    fn opts(&self) -> Opts {
        let mut zset = self.zset.clone();
        if self.mimic {
            zset.insert(0, ("timestamping/enabled".into(), serde_json::json!(true)));
        }
        Opts {
            stack: self.stack,
            net: Net {
                listen: self.listen.clone(),
                connect: self.connect.clone(),
                zset,
                zenoh_only: self.zenoh_only,
            },
            size: self.size,
            express: self.express,
            priority: self.priority,
            block: !self.drop,
            best_effort: self.best_effort,
            warmup: Duration::from_secs_f64(self.warmup),
            duration: Duration::from_secs_f64(self.duration),
            rate: self.rate.filter(|r| *r > 0.0),
            queue: self.queue,
            lifetime: Duration::from_secs_f64(self.lifetime),
            mimic: self.mimic && self.stack == Stack::Zenoh,
            attach: self.attach && self.stack == Stack::Zenoh,
            encoding: self.encoding && self.stack == Stack::Zenoh,
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let result = match &cli.cmd {
        Cmd::Suite(a) => suite::run(a),
        Cmd::SubThr(a) | Cmd::PubThr(a) | Cmd::Ping(a) | Cmd::Pong(a) => {
            let o = a.opts();
            roles::guard(o.lifetime);
            match &cli.cmd {
                Cmd::SubThr(_) => roles::sub_thr(&o),
                Cmd::PubThr(_) => roles::pub_thr(&o),
                Cmd::Ping(_) => roles::ping(&o),
                _ => roles::pong(&o),
            }
        }
    };
    if let Err(e) = result {
        eprintln!("vbus-perf: {e}");
        std::process::exit(1);
    }
}
