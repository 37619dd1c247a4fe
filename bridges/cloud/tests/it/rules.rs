//! Collection rules end to end: fields read with the schema the publisher serves over the bus.

use std::time::Duration;

use vbus::Topic;
use vbus_cloud::{Bridge, format::decode_batch};

use crate::{
    fixtures::{SPEED, Speed, speed, speed_engine},
    harness::{TempDir, config, parent_node, unique_domain, wait_matched, wait_until, watchdog},
};

const ENGINE: Topic<Speed> = Topic::new("engine/state");
const CAM: Topic<Speed> = Topic::new("cam/front");
const IMU: Topic<Speed> = Topic::new("imu/accel");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_change_window_and_periodic_rules_select_by_field_values() {
    watchdog(async {
        let domain = unique_domain("rules");
        let dir = TempDir::new("rules");
        let (node, _) = parent_node("app", &domain).await;
        let cfg = config(
            &domain,
            &dir,
            None,
            "rules: [
               { name: 'temp', keys: 'engine/*', mode: 'on_change', field: 'engine.temp', deadband: 2, priority: 3 },
               { name: 'overspeed', keys: 'cam/**', mode: 'window', priority: 1, before_ms: 1000, after_ms: 2000,
                 condition: { key: 'chassis/speed', field: 'kph', op: '>', value: 100 } },
               { name: 'imu', keys: 'imu/*', mode: 'periodic', period_ms: 200 },
             ]",
        );
        let bridge = Bridge::start_on(node.clone(), cfg).await.unwrap();
        let mut engine = node.publisher(ENGINE).create().await.unwrap();
        let mut cam = node.publisher(CAM).create().await.unwrap();
        let mut spd = node.publisher(SPEED).create().await.unwrap();
        let mut imu = node.publisher(IMU).create().await.unwrap();
        for p in [&engine, &cam, &spd, &imu] {
            wait_matched(p).await;
        }

        // on_change: temps 20 21 25 26 30 29 -> 20 (first), 25 (+5), 30 (+5).
        for (i, t) in [20, 21, 25, 26, 30, 29].into_iter().enumerate() {
            engine
                .publish(&speed_engine(0.0, i as u32 + 1, "e", Some((800, t))))
                .unwrap();
        }

        // window: cam 1 long before the trigger; 2, 3 within the second before it; 4 right after;
        // 5 long after the window closed.
        cam.publish(&speed(0.0, 1, "cam")).unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        cam.publish(&speed(0.0, 2, "cam")).unwrap();
        cam.publish(&speed(0.0, 3, "cam")).unwrap();
        spd.publish(&speed(50.0, 1, "slow")).unwrap();
        spd.publish(&speed(120.0, 2, "fast")).unwrap();
        cam.publish(&speed(0.0, 4, "cam")).unwrap();
        tokio::time::sleep(Duration::from_millis(3000)).await;
        cam.publish(&speed(0.0, 5, "cam")).unwrap();

        // periodic: a burst; the latest value always gets out.
        for i in 1..=100 {
            imu.publish(&speed(i as f32, i, "imu")).unwrap();
        }
        wait_until("the last imu sample is queued", || {
            bridge.stats().accepted_seq.iter().any(|a| a.key == "imu/accel" && a.seq == 100)
        })
        .await;
        let stats = bridge.shutdown().await.unwrap();
        let text = std::fs::read_to_string(dir.join("uplink.jsonl")).unwrap();
        let samples: Vec<_> = text.lines().flat_map(|l| decode_batch(l.as_bytes()).unwrap().samples).collect();
        let seqs = |key: &str| samples.iter().filter(|s| s.key == key).map(|s| s.seq).collect::<Vec<_>>();
        assert_eq!(seqs("engine/state"), vec![1, 3, 5]);
        assert_eq!(seqs("cam/front"), vec![2, 3, 4]);
        assert!(samples.iter().filter(|s| s.key == "cam/front").all(|s| s.rule == "overspeed" && s.prio == 1));
        assert!(seqs("chassis/speed").is_empty(), "the condition's own topic is not collected");
        let imu_seqs = seqs("imu/accel");
        assert_eq!(imu_seqs.last(), Some(&100));
        assert!(imu_seqs.windows(2).all(|w| w[0] < w[1]) && imu_seqs.len() <= 100);
        let rule = |n: &str| stats.rules.iter().find(|r| r.name == n).unwrap().clone();
        assert_eq!(rule("overspeed").triggers, 1);
        assert_eq!(rule("temp").unreadable, 0, "the schema was fetched from the publisher");
    })
    .await;
}
