//! Behaviour that needs no second process: history, lifespan, gaps, config.

use std::time::Duration;

use vbus::{Congestion, Node, NodeConfig, QoS, Topic};

use crate::{fixtures::*, harness::*};

async fn two_nodes(tag: &str) -> (Node, Node) {
    let domain = unique_domain(tag);
    let (a, ep) = parent_node("a", &domain).await;
    let b = Node::open(
        NodeConfig::from_json5(&format!(
            "{{ name: 'b', domain: '{domain}', listen: [], connect: ['{ep}'] }}"
        ))
        .unwrap(),
    )
    .await
    .unwrap();
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_serves_late_joiners_in_order_without_duplicates() {
    watchdog(async {
        const HIST: Topic<Speed> =
            Topic::new("test/hist").with_qos(QoS::new().history(3).congestion(Congestion::Block));
        let (a, b) = two_nodes("hist").await;
        let mut p = a.publisher(HIST).create().unwrap();
        for i in 1..=5 {
            p.publish(&speed(i as f32, i, "h")).unwrap();
        }
        // b joins late: it gets the last 3 at once, then live data continues seamlessly.
        let sub = loop {
            let sub = b.subscriber(HIST).create().await.unwrap();
            if sub.queued() == 3 {
                break sub;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        p.publish(&speed(6.0, 6, "h")).unwrap();
        let seqs: Vec<u64> = {
            let mut v = Vec::new();
            for _ in 0..4 {
                v.push(sub.recv_timeout(WATCHDOG).await.unwrap().seq());
            }
            v
        };
        assert_eq!(seqs, vec![3, 4, 5, 6]);
        assert_eq!(sub.stats().lost, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifespan_drops_stale_samples() {
    watchdog(async {
        const SHORT: Topic<Speed> =
            Topic::new("test/short").with_qos(QoS::new().lifespan(Duration::from_millis(50)));
        let (a, b) = two_nodes("lifespan").await;
        let sub = b.subscriber(SHORT).create().await.unwrap();
        let mut p = a.publisher(SHORT).create().unwrap();
        while !p.has_subscribers() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        p.publish(&speed(1.0, 1, "fresh")).unwrap();
        while sub.queued() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(120)).await; // left in the queue past its lifespan
        assert!(sub.try_recv().is_none());
        assert_eq!(sub.stats().expired, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_delivery_and_stream() {
    use futures_util::StreamExt;
    watchdog(async {
        let (a, b) = two_nodes("callback").await;
        let (tx, rx) = flume::unbounded();
        let cb = b.subscriber(SPEED).callback(move |s| tx.send(s.view().count()).unwrap()).await.unwrap();
        let mut stream = b.subscriber(SPEED).create().await.unwrap();
        let mut p = a.publisher(SPEED).create().unwrap();
        while !p.has_subscribers() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for i in 1..=3 {
            p.publish_with(|fbb| build_speed(fbb, 0.0, i, "cb")).unwrap();
        }
        for i in 1..=3 {
            assert_eq!(rx.recv_async().await.unwrap(), i);
            assert_eq!(stream.next().await.unwrap().view().count(), i);
        }
        assert_eq!(cb.stats().delivered, 3);
        assert_eq!(p.stats().sent, 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_bytes_refuses_invalid_flatbuffers() {
    let (a, _b) = two_nodes("bytes").await;
    let mut p = a.publisher(SPEED).create().unwrap();
    let err = p.publish_bytes(&[1, 2, 3]).unwrap_err().to_string();
    assert!(err.contains("not a valid test.Speed"), "{err}");
    assert_eq!(p.stats().sent, 0);
    let bad = a.publisher(Topic::<Speed>::new("bad/*/key")).create().err().unwrap().to_string();
    assert!(bad.contains("wildcard"), "{bad}");
}
