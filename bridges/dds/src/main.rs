//! `vbus-dds`: the DDS bridge daemon.
//!
//! ```text
//! vbus-dds <config.json5>
//! ```
//! The config (read like every vbus configuration, through `vbus::config::load`) has `node` (vbus
//! `NodeConfig` fields over vbus's defaults; default name `dds-bridge`), `schema` (required: path
//! of the `.bfbs` that vbus-codegen wrote for the schema whose `vbus_dds` topics are bridged) and
//! `bridge` (see `BridgeConfig`; every field has a default). It prints `ready` on stdout once every topic is bridged, and stops on
//! SIGINT/SIGTERM.

use std::path::PathBuf;

use serde::Deserialize;
use vbus::{
    Node, NodeConfig,
    config::{ConfigError, ConfigFile, load},
};
use vbus_dds::bridge::{Bridge, BridgeConfig};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DaemonConfig {
    /// vbus `NodeConfig` fields, over vbus's defaults.
    node: serde_json::Value,
    /// Required (no built-in schema); checked after parsing to name what to give.
    #[serde(default)]
    schema: Option<PathBuf>,
    bridge: BridgeConfig,
}

impl ConfigFile for DaemonConfig {
    const DEFAULT: &'static str = "{ node: { name: 'dds-bridge' }, bridge: {} }";

    fn validate(&self) -> Result<(), ConfigError> {
        if self.schema.is_none() {
            return Err(ConfigError::new(
                "missing field `schema`: give the path of the `.bfbs` vbus-codegen wrote for the schema to \
                 bridge (e.g. `schema: \"target/.../out/vehicle.bfbs\"`)",
            ));
        }
        self.node_config().map(drop)
    }
}

impl DaemonConfig {
    fn node_config(&self) -> Result<NodeConfig, ConfigError> {
        NodeConfig::from_value(self.node.clone()).map_err(|e| e.within("node"))
    }
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
    let cfg: DaemonConfig = load::from_file(path).unwrap_or_else(|e| fail(e.to_string()));
    let schema_path = cfg.schema.as_ref().expect("validated");
    let node_config = cfg.node_config().unwrap_or_else(|e| fail(e.in_file(path.as_ref()).to_string()));
    let schema =
        std::fs::read(schema_path).unwrap_or_else(|e| fail(format!("{}: {e}", schema_path.display())));
    let node = Node::open(node_config).await.unwrap_or_else(|e| fail(format!("vbus node: {e}")));
    let bridge = Bridge::start(&node, &schema, &cfg.bridge).await.unwrap_or_else(|e| fail(e.to_string()));
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
