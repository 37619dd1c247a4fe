//! Loop prevention with the bridge running both ways, interop with Cyclone DDS' `ddsperf` on its
//! own topic type, and a DDS peer whose type does not match the schema.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::*;
use vbus::RecvError;
use vbus_dds::bridge::{BridgeConfig, Direction, LOOPBACK_CONFIG, TopicConfig};
use vbus_test_support::dds::topics;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_directions_no_echo() {
    let peer = c_peer();
    let (app, b) = two_nodes("loop").await;
    let bridge = bridge(&b, &config(13, &[("dds/status", Direction::Both)])).await;
    // Everything seen on the bus by the application node (its own samples included).
    let sub = app.subscriber(topics::dds::STATUS).create().await.unwrap();
    let mut publisher = app.publisher(topics::dds::STATUS).create().await.unwrap();
    assert!(publisher.wait_for_subscribers(WAIT).await, "bridge never subscribed on the bus");
    // A DDS observer that prints whatever it gets for 6 s.
    let observer = cyclone_env(Command::new(&peer).args(["sub", "1000", "13", "6"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    // vbus -> DDS: ids 100..110.
    let m = 10u32;
    for i in 0..m {
        publisher.publish(&c_value(100 + i)).unwrap();
    }
    // DDS -> vbus: the C peer writes ids 0..5.
    let n = 5u32;
    let out = cyclone_env(Command::new(&peer).args(["pub", &n.to_string(), "13"])).output().unwrap();
    assert!(out.status.success());
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mut ids = Vec::new();
    while let Ok(s) = sub.recv_timeout(Duration::from_millis(300)).await {
        ids.push(s.view().id());
    }
    ids.sort_unstable();
    let want: Vec<u32> = (0..n).chain(100..100 + m).collect();
    // Each sample exactly once: the bridge's own publications did not come back to DDS, and
    // its DDS writes did not come back to the bus.
    assert_eq!(ids, want, "samples on the bus; stats {:?}", bridge.stats("dds/status"));
    let st = bridge.stats("dds/status").unwrap();
    assert_eq!(
        (st.to_dds, st.from_dds, st.bus_rejected, st.dds_rejected),
        (u64::from(m), u64::from(n), 0, 0)
    );

    let out = tokio::task::spawn_blocking(move || observer.wait_with_output().unwrap()).await.unwrap();
    let mut dds_ids: Vec<u32> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("id=")?.split(' ').next()?.parse().ok())
        .collect();
    dds_ids.sort_unstable();
    assert_eq!(dds_ids, want, "samples on DDS");
}

fn ddsperf_config(domain_id: u32, key_topic: (&str, &str)) -> BridgeConfig {
    BridgeConfig {
        domain_id,
        partition: None,
        cyclonedds_config: Some(LOOPBACK_CONFIG.into()),
        topics: vec![TopicConfig {
            key: key_topic.0.into(),
            direction: Direction::FromDds,
            dds_topic: Some(key_topic.1.into()),
            final_type: true,
            octet: true,
        }],
    }
}

/// `ddsperf pub` (reliable, keep-all, KeyedSeq) -> bridge -> vbus subscriber: every sample
/// arrives, in order, none lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddsperf_publisher_zero_loss() {
    let (app, b) = two_nodes("ddsperf").await;
    let sub = app.subscriber(topics::ddsperf::KS).create().await.unwrap();
    let bridge = bridge(&b, &ddsperf_config(14, ("ddsperf/ks", "DDSPerfRDataKS"))).await;
    let mut perf = cyclone_env(&mut Command::new("ddsperf"))
        .args(["-i", "14", "-D", "4", "-k", "all", "-T", "KS", "pub", "2000Hz", "size", "64"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("ddsperf (Debian cyclonedds-tools; scripts/setup.sh installs it)");
    let mut seqs: Vec<u32> = Vec::new();
    let t0 = Instant::now();
    loop {
        match sub.recv_timeout(Duration::from_millis(1500)).await {
            Ok(s) => {
                let v = s.view();
                assert_eq!(v.baggage().map(|b| b.len()), Some(64 - 12), "baggage");
                seqs.push(v.seq());
            }
            Err(RecvError::Closed) => panic!("the subscriber closed"),
            Err(RecvError::Timeout(_)) if !seqs.is_empty() => break,
            Err(RecvError::Timeout(_)) => {
                assert!(t0.elapsed() < WAIT, "nothing from ddsperf; {:?}", bridge.stats("ddsperf/ks"))
            }
        }
    }
    let _ = perf.wait();
    let st = bridge.stats("ddsperf/ks").unwrap();
    assert!(seqs.len() > 2000, "too few samples: {} ({st:?})", seqs.len());
    let first = seqs[0];
    let gaps: Vec<(usize, u32)> = seqs
        .iter()
        .enumerate()
        .filter(|(i, s)| **s != first.wrapping_add(*i as u32))
        .map(|(i, s)| (i, *s))
        .take(5)
        .collect();
    assert!(gaps.is_empty(), "lost or reordered samples at {gaps:?} of {} ({st:?})", seqs.len());
    assert_eq!((st.from_dds, st.dds_rejected), (seqs.len() as u64, 0));
    println!("ddsperf -> vbus: {} samples, seq {}..={}, zero loss", seqs.len(), first, seqs[seqs.len() - 1]);
}

/// A DDS peer using the bridged topic name with another type (ddsperf's KeyedSeq under the
/// name the bridge uses for `dds/status`): reported, never decoded as a Status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mismatched_dds_type_is_reported() {
    let (app, b) = two_nodes("mismatch").await;
    let sub = app.subscriber(topics::dds::STATUS).create().await.unwrap();
    let mut cfg = ddsperf_config(15, ("dds/status", "DDSPerfRDataKS"));
    cfg.topics[0].final_type = false;
    cfg.topics[0].octet = false;
    let bridge = bridge(&b, &cfg).await;
    let mut perf = cyclone_env(&mut Command::new("ddsperf"))
        .args(["-i", "15", "-D", "3", "-T", "KS", "pub", "500Hz", "size", "64"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ddsperf");
    let got = sub.recv_timeout(Duration::from_secs(4)).await;
    let _ = perf.wait();
    let st = bridge.stats("dds/status").unwrap();
    assert!(matches!(got, Err(RecvError::Timeout(_))), "a KeyedSeq was bridged as a Status: {got:?}");
    assert_eq!(st.from_dds, 0);
    assert!(st.inconsistent_types > 0, "mismatch not reported: {st:?}");
}
