//! `vbus`: the command-line tool of the vehicle bus.
//!
//! What `ros2 topic` / `ros2 bag` and `iox2` give their users, for vbus: list nodes and topics,
//! echo any topic as JSON without compiled types (the publisher serves its schema), publish and
//! call from JSON, measure rates and bandwidth, record to MCAP (Foxglove opens it), replay, and
//! a doctor that says in words what is wrong with a domain, and a live Foxglove view.
//!
//! Every command joins the bus as a short-lived client node named `vbus-cli-<pid>`.

mod cmd;
mod ctx;
mod render;
mod schemas;

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand};

/// Inspect, record, replay and diagnose a vbus domain.
///
/// The tool joins the bus as a client of the local router (tcp/127.0.0.1:7447 by default); use
/// --connect or --config to reach another one. Output is for people by default; --json prints
/// machine-readable JSON (one object per line for streams).
#[derive(Parser, Debug)]
#[command(name = "vbus", version, propagate_version = true, max_term_width = 110)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    cmd: Cmd,
}

/// Options every command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Node configuration (JSON5, see bus/vbus/DEFAULT_CONFIG.json5). Its endpoints and domain
    /// are used; the name is replaced by `vbus-cli-<pid>`, and a router's configuration makes
    /// the tool a client of that router.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Endpoint of a router (or peer) to connect to, e.g. tcp/127.0.0.1:7447. Repeatable;
    /// replaces the configured endpoints.
    #[arg(long, global = true, value_name = "ENDPOINT")]
    connect: Vec<String>,
    /// Binary schema (.bfbs) to look types up in when the bus serves none for them (service
    /// requests, publishers that serve no schemas), e.g. the `.bfbs` vbus-codegen writes.
    /// Repeatable.
    #[arg(long = "schema", global = true, value_name = "FILE.bfbs")]
    schemas: Vec<PathBuf>,
    /// Domain (vehicle) to work in; default from the configuration (`vehicle`).
    #[arg(long, global = true, value_name = "DOMAIN")]
    domain: Option<String>,
    /// Machine-readable output: JSON, one object per line for streams.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List the nodes alive in the domain and the topics they publish and subscribe to.
    Nodes,
    /// List topics: key, type, measured rate, publishers and subscribers.
    Topics(cmd::topics::TopicsArgs),
    /// Print the samples of a topic (or key expression) decoded to JSON.
    Echo(cmd::echo::EchoArgs),
    /// Publish a sample given as JSON (or JSON5), encoded through the topic's schema.
    Pub(cmd::publish::PubArgs),
    /// Measure the publishing rate of topics.
    Hz(cmd::rate::RateArgs),
    /// Measure the bandwidth of topics.
    Bw(cmd::rate::RateArgs),
    /// Call a service with a request given as JSON.
    Call(cmd::call::CallArgs),
    /// Show the schema of a type (or of a topic's type).
    Schema(cmd::schema::SchemaArgs),
    /// Record topics to an MCAP file (FlatBuffers schemas embedded; Foxglove Studio opens it).
    Record(cmd::record::RecordArgs),
    /// Publish the messages of an MCAP recording again, with their original timing.
    Replay(cmd::replay::ReplayArgs),
    /// Check configuration, connectivity, clocks, schemas and delivery, and explain problems.
    Doctor(cmd::doctor::DoctorArgs),
    /// Serve a live view of the domain to Foxglove (or Lichtblick) over the Foxglove WebSocket
    /// protocol: topics as channels, services, fields as parameters, bridge health.
    Foxglove(cmd::foxglove::FoxgloveArgs),
}

/// A failure to report: the message, and hints that help fix it.
#[derive(Debug)]
pub struct Failure {
    message: String,
    hints: Vec<String>,
    /// Exit code (1 by default).
    code: u8,
}

impl Failure {
    /// A failure with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), hints: Vec::new(), code: 1 }
    }
    /// Add a hint line.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
    /// Exit silently with `code` (the command already printed its report).
    pub fn exit(code: u8) -> Self {
        Self { message: String::new(), hints: Vec::new(), code }
    }
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::new(e.to_string())
    }
}

/// What commands return.
pub type Result<T, E = Failure> = std::result::Result<T, E>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // zenoh keeps background tasks; do not wait for them past the command.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("error: {}", f.message);
                for h in &f.hints {
                    eprintln!("  hint: {h}");
                }
            }
            ExitCode::from(f.code)
        }
    }
}

fn tracing_init() {
    // Logs (zenoh's included) only when asked for, on stderr.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> Result<()> {
    let g = cli.global;
    match cli.cmd {
        Cmd::Doctor(a) => cmd::doctor::run(&g, a).await,
        cmd => {
            let ctx = ctx::Ctx::open(&g).await?;
            let result = match cmd {
                Cmd::Nodes => cmd::nodes::run(&ctx).await,
                Cmd::Topics(a) => cmd::topics::run(&ctx, a).await,
                Cmd::Echo(a) => cmd::echo::run(&ctx, a).await,
                Cmd::Pub(a) => cmd::publish::run(&ctx, a).await,
                Cmd::Hz(a) => cmd::rate::run(&ctx, a, cmd::rate::Measure::Hz).await,
                Cmd::Bw(a) => cmd::rate::run(&ctx, a, cmd::rate::Measure::Bw).await,
                Cmd::Call(a) => cmd::call::run(&ctx, a).await,
                Cmd::Schema(a) => cmd::schema::run(&ctx, a).await,
                Cmd::Record(a) => cmd::record::run(&ctx, a).await,
                Cmd::Replay(a) => cmd::replay::run(&ctx, a).await,
                Cmd::Foxglove(a) => cmd::foxglove::run(&ctx, a).await,
                Cmd::Doctor(_) => unreachable!("handled above"),
            };
            ctx.close().await;
            result
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
