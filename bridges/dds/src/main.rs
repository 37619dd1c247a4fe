//! `vbus-dds`: the DDS bridge daemon.
//!
//! ```text
//! vbus-dds <config.json5>
//! ```
//! The config has `node` (a vbus node config), `schema` (path of a `.bfbs` written by
//! vbus-codegen; default: the built-in demo schema) and `bridge` (see `BridgeConfig`). It prints
//! `ready` on stdout once every topic is bridged, and stops on SIGINT/SIGTERM.

use std::path::PathBuf;

use serde::Deserialize;
use vbus::{Node, NodeConfig};
use vbus_dds::bridge::{Bridge, BridgeConfig};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DaemonConfig {
    node: NodeConfig,
    #[serde(default)]
    schema: Option<PathBuf>,
    bridge: BridgeConfig,
}

fn fail(msg: String) -> ! {
    eprintln!("vbus-dds: {msg}");
    std::process::exit(2)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "vbus_dds=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path] = args.as_slice() else { fail("usage: vbus-dds <config.json5>".into()) };
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| fail(format!("{path}: {e}")));
    let cfg: DaemonConfig = json5::from_str(&text).unwrap_or_else(|e| fail(format!("{path}: {e}")));
    let schema = match &cfg.schema {
        Some(p) => std::fs::read(p).unwrap_or_else(|e| fail(format!("{}: {e}", p.display()))),
        None => vbus_dds::demo::SCHEMA_BFBS.to_vec(),
    };
    let node = Node::open(cfg.node).await.unwrap_or_else(|e| fail(format!("vbus node: {e}")));
    let bridge = Bridge::start(&node, &schema, &cfg.bridge).unwrap_or_else(|e| fail(e.to_string()));
    println!("ready {}", bridge.keys().join(" "));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .unwrap_or_else(|e| fail(format!("signal: {e}")));
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    for k in bridge.keys() {
        if let Some(s) = bridge.stats(&k) {
            eprintln!("vbus-dds: {k}: {s:?}");
        }
    }
    drop(bridge);
}
