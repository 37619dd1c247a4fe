//! `dds` and `dds-ecu` (feature `dds`, on when CycloneDDS 11 is installed): the `vbus-dds` bridge
//! mirrors `chassis/speed` into DDS domain [`DOMAIN`], where a plain DDS participant in another
//! process (no vbus in it: CycloneDDS, the IDL type codegen emitted) reads it.

use std::time::Duration;

use vbus::{Node, NodeConfig};
use vbus_dds::bridge::{Bridge, BridgeConfig, Direction, LOOPBACK_CONFIG, TopicConfig, dds_qos, qos_of};
use vbus_dds::dds::{DynTopic, Participant};

use crate::until_stdin_closes;

/// DDS domain of the demo (not 0, so it does not meet other DDS applications by accident).
pub const DOMAIN: u32 = 42;
const TYPE: &str = "demo.vehicle.VehicleSpeed";

/// The bridge ECU: vbus -> DDS for `chassis/speed`.
pub async fn bridge() -> Result<(), String> {
    let node = Node::open(NodeConfig::named("dds-bridge")).await.map_err(|e| e.to_string())?;
    let cfg = BridgeConfig {
        domain_id: DOMAIN,
        partition: None,
        cyclonedds_config: Some(LOOPBACK_CONFIG.into()),
        topics: vec![TopicConfig {
            key: "chassis/speed".into(),
            direction: Direction::ToDds,
            dds_topic: None,
            final_type: false,
            octet: false,
        }],
    };
    let bridge = Bridge::start(&node, vbus_examples::SCHEMA_BFBS, &cfg).await.map_err(|e| e.to_string())?;
    println!("up: chassis/speed -> DDS domain {DOMAIN}, topic `chassis/speed`, type {TYPE}");
    println!("ready");
    until_stdin_closes().await;
    let st = bridge.stats("chassis/speed").expect("bridged topic");
    println!("to_dds={} rejected={}", st.to_dds, st.bus_rejected);
    Ok(())
}

/// The DDS ECU: a DDS reader of `chassis/speed`, decoding the IDL type from the schema.
pub async fn ecu() -> Result<(), String> {
    let schema = vbus_reflect_schema()?;
    let object = schema.object(TYPE).ok_or("no VehicleSpeed in the schema")?;
    let qos = dds_qos(&qos_of(object).map_err(|e| e.to_string())?, None);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
    // CycloneDDS calls block: the reader lives on its own thread.
    let reader = std::thread::spawn(move || -> Result<(u64, f64), String> {
        let setup = (|| {
            let pp = Participant::new(DOMAIN, Some(LOOPBACK_CONFIG)).map_err(|e| e.to_string())?;
            let topic = DynTopic::new(&pp, &schema, TYPE, "chassis/speed", false, false, qos)
                .map_err(|e| e.to_string())?;
            let reader = topic.reader().map_err(|e| e.to_string())?;
            Ok::<_, String>((pp, topic, reader))
        })();
        let (_pp, _topic, reader) = match setup {
            Ok(x) => x,
            Err(e) => {
                let _ = ready_tx.send(Err(e.clone()));
                return Err(e);
            }
        };
        // Ready once the bridge's writer is matched, so no sample is published unseen.
        let since = std::time::Instant::now();
        while reader.matched() == 0 {
            if since.elapsed() > Duration::from_secs(20) {
                let e = "the vbus-dds writer was not discovered within 20 s".to_string();
                let _ = ready_tx.send(Err(e.clone()));
                return Err(e);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = ready_tx.send(Ok(()));
        let (mut n, mut last) = (0u64, f64::NAN);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            reader.take(Duration::from_millis(50), &mut buf).map_err(|e| e.to_string())?;
            for s in &buf {
                let v = vbus_dds::cdr::decode(&schema, TYPE, &s.data, false).map_err(|e| e.to_string())?;
                last = v["kph"].as_f64().unwrap_or(f64::NAN);
                n += 1;
            }
            if rx.try_recv().is_ok() && buf.is_empty() {
                return Ok((n, last));
            }
        }
    });
    ready_rx.await.map_err(|_| "the DDS reader thread died".to_string())??;
    println!(
        "up: DDS reader of `chassis/speed` in domain {DOMAIN} (CycloneDDS, no vbus), matched the bridge"
    );
    println!("ready");
    until_stdin_closes().await;
    let _ = tx.send(());
    let (n, last) = reader.join().map_err(|_| "the DDS reader panicked".to_string())??;
    println!("received={n} last_kph={last:.1}");
    Ok(())
}

fn vbus_reflect_schema() -> Result<vbus_dds::vbus_reflect::Schema, String> {
    vbus_dds::vbus_reflect::Schema::from_bfbs(vbus_examples::SCHEMA_BFBS).map_err(|e| e.to_string())
}
