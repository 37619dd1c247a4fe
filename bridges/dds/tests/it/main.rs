//! vbus-dds integration tests (one binary): interop with an independent C DDS peer, loop
//! prevention and ddsperf, the daemon's config. Below: the helpers they share (vbus nodes on
//! loopback, the bridge, the C peer of `vbus_test_support::dds`).

mod daemon;
mod interop_c;
mod loop_and_ddsperf;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use vbus::Node;
use vbus_dds::bridge::{Bridge, BridgeConfig, Direction, LOOPBACK_CONFIG, TopicConfig};
use vbus_test_support::dds::demo::dds::{Gear, StatusT, Vec3T};

pub use vbus_test_support::WATCHDOG as WAIT;

/// A vbus peer node `app` listening on an ephemeral loopback port and a bridge node
/// `dds-bridge` that connects to it and listens nowhere, in a vbus domain of their own.
pub async fn two_nodes(tag: &str) -> (Node, Node) {
    let domain = vbus_test_support::unique_domain(&format!("dds-{tag}"));
    let (a, ep) = vbus_test_support::peer_node("app", &domain).await;
    let b = vbus_test_support::peer_config("dds-bridge", &domain, &ep).listen(Vec::<String>::new());
    (a, Node::open(b).await.unwrap())
}

/// Bridge config on DDS domain `domain_id`, pinned to loopback, for `topics`.
pub fn config(domain_id: u32, topics: &[(&str, Direction)]) -> BridgeConfig {
    BridgeConfig {
        domain_id,
        partition: None,
        cyclonedds_config: Some(LOOPBACK_CONFIG.into()),
        topics: topics
            .iter()
            .map(|(k, d)| TopicConfig {
                key: (*k).into(),
                direction: *d,
                dds_topic: None,
                final_type: false,
                octet: false,
            })
            .collect(),
    }
}

/// Start the bridge on node `b` with the demo schema.
pub async fn bridge(b: &Node, cfg: &BridgeConfig) -> Bridge {
    Bridge::start(b, vbus_test_support::dds::SCHEMA_BFBS, cfg).await.expect("start bridge")
}

/// `CYCLONEDDS_URI` for C peers: lo only, no multicast.
pub fn cyclone_env(cmd: &mut Command) -> &mut Command {
    cmd.env("CYCLONEDDS_URI", LOOPBACK_CONFIG)
}

/// The C peer (`bus/test-support/c/dds_peer.c`), built once against Debian's CycloneDDS with
/// `idlc` run on the IDL vbus-codegen emitted.
pub fn c_peer() -> PathBuf {
    static PEER: OnceLock<PathBuf> = OnceLock::new();
    PEER.get_or_init(|| {
        let dir =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("vbus-dds-cpeer-{}", std::process::id()));
        vbus_test_support::dds::build_c_peer(&dir).unwrap_or_else(|e| panic!("C peer: {e}"))
    })
    .clone()
}

/// The value the C peer writes as sample `i` (see `fill` in `dds_peer.c`).
pub fn c_value(i: u32) -> StatusT {
    StatusT {
        id: i,
        speed_kph: 1.5 * i as f32,
        gear: if i % 2 == 1 { Gear::Reverse } else { Gear::Drive },
        label: Some(format!("c-peer {i}")),
        odometer_m: 1_000_000_000_000 + u64::from(i),
        temp_c: i.is_multiple_of(2).then_some(-(i as i16)),
        accel: (i % 2 == 1).then_some(Vec3T { x: 1.0, y: 2.0, z: i as f32 }),
        rpm: Some(vec![i as f32, i as f32 + 0.5]),
        tags: Some(vec!["a".into(), format!("t{i}")]),
        ok: i % 2 == 1,
        ratio: f64::from(i) / 3.0,
    }
}
