//! Uplink through a real mosquitto: every sample arrives; a broker outage loses nothing and keeps
//! the order; a full queue drops by priority and says so.

use std::time::Duration;

use vbus::Topic;
use vbus_cloud::Bridge;

use crate::{
    fixtures::{SPEED, Speed, speed, view},
    harness::{
        Cloud, Gate, Mosquitto, TempDir, config, parent_node, unique_domain, wait_matched, wait_until,
        watchdog,
    },
};

/// Publish `range` as `count` values, pacing a little so the bus queues never overflow.
async fn publish(p: &mut vbus::Publisher<Speed>, range: std::ops::RangeInclusive<u32>) {
    for i in range {
        p.publish(&speed(i as f32 * 0.5, i, "uplink")).expect("publish");
        if i % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Check the cloud has seqs `1..=n` of `key`, first occurrences in order, payloads intact.
fn check_complete_in_order(cloud: &Cloud, key: &str, n: u64) -> usize {
    cloud.with(|r| {
        let (by_pub, dups) = r.by_publisher();
        let seqs = by_pub.iter().find(|((k, _), _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default();
        assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "every sample once, in order (first occurrences)");
        for s in r.samples().filter(|s| s.key == key) {
            let v = view(&s.data);
            assert_eq!(v.count() as u64, s.seq, "payload intact");
            assert_eq!(s.type_name.as_deref(), Some("test.Speed"));
        }
        dups
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_outage_loses_nothing_and_keeps_order() {
    watchdog(async {
        let domain = unique_domain("outage");
        let dir = TempDir::new("outage");
        let mut broker = Mosquitto::start().await;
        let gate = Gate::start(broker.port).await;
        let mut cloud = Cloud::connect(broker.port, &domain).await;
        let (node, _) = parent_node("app", &domain).await;
        let cfg = config(
            &domain,
            &dir,
            Some(gate.port),
            "rules: [{ name: 'chassis', keys: 'chassis/**', mode: 'all' }]",
        );
        let bridge = Bridge::start_on(node.clone(), cfg).await.expect("bridge starts");
        let mut p = node.publisher(SPEED).create().await.unwrap();
        wait_matched(&p).await;
        wait_until("bridge connected", || bridge.stats().uplink.connected).await;

        // 1. Connected: every sample arrives.
        publish(&mut p, 1..=300).await;
        wait_until("300 samples in the cloud", || {
            cloud.with(|r| r.distinct_seqs("chassis/speed").len()) == 300
        })
        .await;
        check_complete_in_order(&cloud, "chassis/speed", 300);
        assert!(cloud.with(|r| r.statuses.iter().any(|s| s["online"] == true)), "online status published");

        // 2. The broker dies (SIGKILL). Samples keep coming and are queued on disk.
        broker.kill();
        gate.set_open(false);
        wait_until("bridge notices the outage", || !bridge.stats().uplink.connected).await;
        publish(&mut p, 301..=1000).await;
        wait_until("all samples accepted into the queue", || bridge.stats().accepted == 1000).await;
        let during = bridge.stats();
        assert!(during.queue.records >= 700, "the outage's samples wait on disk: {:?}", during.queue);
        assert!(during.uplink.last_error.is_some());
        // Stays down a while longer: reconnect attempts fail and back off.
        tokio::time::sleep(Duration::from_millis(500)).await;

        // 3. The broker comes back; the cloud re-subscribes, then the bridge may reconnect.
        let subs = cloud.subscriptions();
        broker.restart().await;
        cloud.wait_subscribed(subs + 1).await;
        gate.set_open(true);
        wait_until("every sample of the outage delivered", || {
            cloud.with(|r| r.distinct_seqs("chassis/speed").len()) == 1000
        })
        .await;
        let dups = check_complete_in_order(&cloud, "chassis/speed", 1000);
        wait_until("queue empty", || bridge.stats().queue.records == 0).await;
        let s = bridge.stats();
        assert_eq!(s.uplink.samples_acked, 1000, "each sample removed once");
        assert!(s.uplink.connects >= 2 && s.uplink.disconnects >= 1, "{:?}", s.uplink);
        assert_eq!((s.bus_dropped, s.queue.dropped, s.rejected), (0, 0, 0));
        eprintln!("outage: {} duplicates (QoS-1 redeliveries around the reconnect)", dups);
        // Source timestamps and sequence numbers travel with each sample.
        cloud.with(|r| {
            let mut t: Vec<u64> = r.samples().map(|s| s.t).collect();
            t.dedup();
            assert!(t.iter().all(|&t| t > 0));
        });
        let final_stats = bridge.shutdown().await.unwrap();
        assert!(!final_stats.running);
        // A clean stop says goodbye with a retained offline status.
        wait_until("offline status", || {
            cloud.with(|r| r.statuses.last().is_some_and(|s| s["online"] == false))
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_batches_arrive_compressed_and_complete() {
    watchdog(async {
        let domain = unique_domain("zstd");
        let dir = TempDir::new("zstd");
        let broker = Mosquitto::start().await;
        let cloud = Cloud::connect(broker.port, &domain).await;
        let (node, _) = parent_node("app", &domain).await;
        let cfg = config(&domain, &dir, Some(broker.port), "uplink: { compression: 'zstd' }");
        let bridge = Bridge::start_on(node.clone(), cfg).await.unwrap();
        let mut p = node.publisher(SPEED).create().await.unwrap();
        wait_matched(&p).await;
        publish(&mut p, 1..=500).await;
        wait_until("500 samples", || cloud.with(|r| r.distinct_seqs("chassis/speed").len()) == 500).await;
        check_complete_in_order(&cloud, "chassis/speed", 500);
        // The harness decodes with `decode_batch`, which accepts both; check the bytes are zstd.
        let s = bridge.stats();
        let raw_json: u64 = cloud.with(|r| {
            r.batches
                .iter()
                .map(|b| {
                    vbus_cloud::format::encode_batch(b, vbus_cloud::config::Compression::None, 3).len() as u64
                })
                .sum()
        });
        assert!(s.uplink.bytes_acked < raw_json, "compressed {} < plain {}", s.uplink.bytes_acked, raw_json);
        bridge.shutdown().await.unwrap();
    })
    .await;
}

const LOG: Topic<Speed> = Topic::new("diag/log");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_drops_lowest_priority_oldest_first_and_reports_it() {
    watchdog(async {
        let domain = unique_domain("full");
        let dir = TempDir::new("full");
        let broker = Mosquitto::start().await;
        let gate = Gate::start(broker.port).await;
        gate.set_open(false); // the cloud is unreachable from the start
        let cloud = Cloud::connect(broker.port, &domain).await;
        let (node, _) = parent_node("app", &domain).await;
        // About 130 bytes per record: 8 KiB hold about 60 of the 190.
        let cfg = config(
            &domain,
            &dir,
            Some(gate.port),
            "queue: { max_bytes: 8192 },
             rules: [{ name: 'diag', keys: 'diag/**', mode: 'all', priority: 9 },
                     { name: 'chassis', keys: 'chassis/**', mode: 'all', priority: 1 }]",
        );
        let bridge = Bridge::start_on(node.clone(), cfg).await.unwrap();
        let mut log = node.publisher(LOG).create().await.unwrap();
        let mut spd = node.publisher(SPEED).create().await.unwrap();
        wait_matched(&log).await;
        wait_matched(&spd).await;
        publish(&mut log, 1..=150).await;
        wait_until("diag accepted", || bridge.stats().accepted == 150).await;
        publish(&mut spd, 1..=40).await;
        wait_until("chassis accepted", || bridge.stats().accepted == 190).await;
        let s = bridge.stats();
        assert!(s.queue.bytes <= s.queue.max_bytes, "{:?}", s.queue);
        assert!(s.queue.dropped >= 100, "{:?}", s.queue);
        assert_eq!(
            s.queue.dropped_by_priority.keys().copied().collect::<Vec<_>>(),
            vec![9],
            "only the least important: {:?}",
            s.queue
        );
        let kept_diag = s.queue.records - 40;
        assert_eq!(s.queue.dropped + s.queue.records, 190);

        gate.set_open(true);
        wait_until("queue delivered", || bridge.stats().queue.records == 0).await;
        wait_until("cloud has them", || cloud.with(|r| r.distinct_seqs("chassis/speed").len()) == 40).await;
        cloud.with(|r| {
            assert_eq!(r.distinct_seqs("chassis/speed"), (1..=40).collect(), "every important sample kept");
            let diag = r.distinct_seqs("diag/log");
            assert_eq!(diag.len() as u64, kept_diag);
            assert_eq!(
                diag.iter().copied().collect::<Vec<_>>(),
                (151 - kept_diag..=150).collect::<Vec<_>>(),
                "oldest dropped first"
            );
            // Each batch tells the cloud how many samples the vehicle dropped.
            assert!(r.batches.iter().all(|b| b.dropped == s.queue.dropped));
            assert!(r.samples().filter(|x| x.key == "diag/log").all(|x| x.prio == 9 && x.rule == "diag"));
        });
        bridge.shutdown().await.unwrap();
    })
    .await;
}
