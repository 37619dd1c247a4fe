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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_talk_through_a_router_node() {
    watchdog(async {
        let domain = unique_domain("router");
        let router = Node::open(
            NodeConfig::from_json5(&format!(
                "{{ name: 'gw', domain: '{domain}', mode: 'router', listen: ['tcp/127.0.0.1:0'] }}"
            ))
            .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(router.mode(), vbus::Mode::Router);
        let ep = router.locators().into_iter().find(|l| l.starts_with("tcp/127.0.0.1:")).unwrap();
        let client = |name: &str| {
            NodeConfig::from_json5(&format!(
                "{{ name: '{name}', domain: '{domain}', mode: 'client', connect: ['{ep}'] }}"
            ))
            .unwrap()
        };
        let a = Node::open(client("ecu-a")).await.unwrap();
        let b = Node::open(client("ecu-b")).await.unwrap();
        let sub = b.subscriber(SPEED).create().await.unwrap();
        let mut p = a.publisher(SPEED).create().unwrap();
        while !p.has_subscribers() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        p.publish(&speed(88.0, 1, "via router")).unwrap();
        let s = sub.recv_timeout(WATCHDOG).await.expect("sample through the router");
        assert_eq!(s.view().label(), Some("via router"));
        let mut alive = router.alive_nodes().await.unwrap();
        alive.sort();
        assert_eq!(alive, vec!["ecu-a", "ecu-b", "gw"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_endpoints_bridge_untyped_bytes() {
    watchdog(async {
        let (a, b) = two_nodes("raw").await;
        let raw_sub = b.raw_subscriber("chassis/**", 16).unwrap();
        let typed_sub = b.subscriber(SPEED).create().await.unwrap();
        let mut p = a.publisher(SPEED).create().unwrap();
        while !p.has_subscribers() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        p.publish(&speed(5.0, 5, "typed")).unwrap();
        let r = tokio::time::timeout(WATCHDOG, raw_sub.recv()).await.unwrap().unwrap();
        assert_eq!((r.key(), r.type_name()), ("chassis/speed", Some("test.Speed")));
        let h = r.header().unwrap();
        assert_eq!((h.seq, h.type_hash, h.publisher_id), (1, <Speed as vbus::Message>::TYPE_HASH, p.id()));
        assert_eq!(typed_sub.recv_timeout(WATCHDOG).await.unwrap().bytes(), r.payload());

        // And back: bytes republished untyped reach a typed subscriber with the given source time.
        let mut rp =
            a.raw_publisher("chassis/speed", "test.Speed", <Speed as vbus::Message>::TYPE_HASH).unwrap();
        rp.publish_at(r.payload(), 1_000).unwrap();
        let s = typed_sub.recv_timeout(WATCHDOG).await.unwrap();
        assert_eq!((s.view().label(), s.source_time_ns()), (Some("typed"), 1_000));
        assert!(b.raw_subscriber("bad//expr", 1).is_err());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_and_topics_are_discoverable() {
    watchdog(async {
        let (a, b) = two_nodes("registry").await;
        let _p = a.publisher(SPEED).create().unwrap();
        let _s = b.subscriber(SPEED).create().await.unwrap();
        let schema = loop {
            if let Some(s) = b.fetch_schema("test.Speed").await.unwrap() {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(schema.bfbs, <Speed as vbus::Message>::SCHEMA);
        assert_eq!(schema.type_hash, <Speed as vbus::Message>::TYPE_HASH);
        assert_eq!(b.fetch_schema("test.Unknown").await.unwrap(), None);
        let topics = b.topics().await.unwrap();
        let want = |node: &str, publisher| vbus::TopicInfo {
            key: "chassis/speed".into(),
            type_name: "test.Speed".into(),
            node: node.into(),
            publisher,
        };
        assert!(topics.contains(&want("a", true)), "{topics:?}");
        assert!(topics.contains(&want("b", false)), "{topics:?}");
    })
    .await;
}
