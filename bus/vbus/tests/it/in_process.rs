//! Behaviour that needs no second process: history, lifespan, gaps, config.

use std::time::Duration;

use vbus::{Congestion, Node, NodeConfig, QoS, Topic, wire, zenoh::Wait};

use crate::{fixtures::*, harness::*};

/// Node `b`: listens nowhere, connects to `ep`.
fn b_config(domain: &str, ep: &str) -> NodeConfig {
    NodeConfig::named("b").domain(domain).listen(Vec::<String>::new()).connect([ep])
}

async fn two_nodes(tag: &str) -> (Node, Node) {
    let domain = unique_domain(tag);
    let (a, ep) = parent_node("a", &domain).await;
    let b = Node::open(b_config(&domain, &ep)).await.unwrap();
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_serves_late_joiners_in_order_without_duplicates() {
    watchdog(async {
        const HIST: Topic<Speed> =
            Topic::new("test/hist").with_qos(QoS::new().history(3).congestion(Congestion::Block));
        let (a, b) = two_nodes("hist").await;
        let mut p = a.publisher(HIST).create().await.unwrap();
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
async fn wait_for_subscribers_reports_whether_one_matched() {
    watchdog(async {
        const T: Topic<Speed> = Topic::new("test/lonely");
        let (a, b) = two_nodes("match").await;
        let p = a.publisher(T).create().await.unwrap();
        assert!(!p.wait_for_subscribers(Duration::from_millis(100)).await, "nobody subscribes yet");
        let _sub = b.subscriber(T).create().await.unwrap();
        assert!(p.wait_for_subscribers(WATCHDOG).await, "the subscriber of the other node matches");
        let raw = a.raw_publisher("test/lonely", "test.Speed", 1).create().await.unwrap();
        assert!(raw.wait_for_subscribers(WATCHDOG).await);
        assert!(
            !a.raw_publisher("test/nobody", "test.Speed", 1)
                .create()
                .await
                .unwrap()
                .wait_for_subscribers(Duration::ZERO)
                .await
        );
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
        let mut p = a.publisher(SHORT).create().await.unwrap();
        assert!(p.wait_for_subscribers(WATCHDOG).await, "no subscriber matched");
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
async fn recv_timeout_tells_a_timeout_from_a_closed_endpoint() {
    watchdog(async {
        const QUIET: Topic<Speed> = Topic::new("test/quiet");
        let (a, b) = two_nodes("recv-timeout").await;
        let sub = b.subscriber(QUIET).create().await.unwrap();
        let mut p = a.publisher(QUIET).create().await.unwrap();
        assert!(p.wait_for_subscribers(WATCHDOG).await, "no subscriber matched");
        let quiet = Duration::from_millis(50);
        assert_eq!(sub.recv_timeout(quiet).await.err(), Some(vbus::RecvError::Timeout(quiet)));
        p.publish(&speed(1.0, 1, "one")).unwrap();
        assert_eq!(sub.recv_timeout(WATCHDOG).await.unwrap().seq(), 1);
        // Closing the session ends every endpoint of the node: nothing will come any more.
        b.close().await.unwrap();
        assert_eq!(sub.recv_timeout(WATCHDOG).await.err(), Some(vbus::RecvError::Closed));
        assert_eq!(sub.recv().await.err(), Some(vbus::Closed));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_delivery_and_stream() {
    use futures_util::StreamExt;
    watchdog(async {
        let (a, b) = two_nodes("callback").await;
        let (tx, rx) = flume::unbounded();
        let cb =
            b.subscriber(SPEED).callback(move |s| tx.send(s.view().count()).unwrap()).create().await.unwrap();
        let mut stream = b.subscriber(SPEED).create().await.unwrap();
        let mut p = a.publisher(SPEED).create().await.unwrap();
        assert!(p.wait_for_subscribers(WATCHDOG).await, "no subscriber matched");
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
    let mut p = a.publisher(SPEED).create().await.unwrap();
    let err = p.publish_bytes(&[1, 2, 3]).unwrap_err().to_string();
    assert!(err.contains("not a valid test.Speed"), "{err}");
    assert_eq!(p.stats().sent, 0);
    let bad = a.publisher(Topic::<Speed>::new("bad/*/key")).create().await.err().unwrap().to_string();
    assert!(bad.contains("wildcard"), "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_talk_through_a_router_node() {
    watchdog(async {
        let domain = unique_domain("router");
        let (router, ep) = vbus_test_support::router_node("gw", &domain).await;
        assert_eq!(router.mode(), vbus::Mode::Router);
        let client =
            |name: &str| NodeConfig::named(name).domain(&domain).mode(vbus::Mode::Client).connect([&ep]);
        let a = Node::open(client("ecu-a")).await.unwrap();
        let b = Node::open(client("ecu-b")).await.unwrap();
        let sub = b.subscriber(SPEED).create().await.unwrap();
        let mut p = a.publisher(SPEED).create().await.unwrap();
        assert!(p.wait_for_subscribers(WATCHDOG).await, "no subscriber matched");
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
        let raw_sub = b.raw_subscriber("chassis/**").queue(16).create().await.unwrap();
        let typed_sub = b.subscriber(SPEED).create().await.unwrap();
        let mut p = a.publisher(SPEED).create().await.unwrap();
        assert!(p.wait_for_subscribers(WATCHDOG).await, "no subscriber matched");
        p.publish(&speed(5.0, 5, "typed")).unwrap();
        let r = tokio::time::timeout(WATCHDOG, raw_sub.recv()).await.unwrap().unwrap();
        assert_eq!((r.key(), r.type_name()), ("chassis/speed", Some("test.Speed")));
        let h = r.header().unwrap();
        assert_eq!((h.seq, h.type_hash, h.publisher_id), (1, <Speed as vbus::Message>::TYPE_HASH, p.id()));
        assert_eq!(typed_sub.recv_timeout(WATCHDOG).await.unwrap().bytes(), r.payload());

        // And back: bytes republished untyped reach a typed subscriber with the given source time.
        let mut rp = a
            .raw_publisher("chassis/speed", "test.Speed", <Speed as vbus::Message>::TYPE_HASH)
            .create()
            .await
            .unwrap();
        rp.publish_at(r.payload(), 1_000).unwrap();
        let s = typed_sub.recv_timeout(WATCHDOG).await.unwrap();
        assert_eq!((s.view().label(), s.source_time_ns()), (Some("typed"), 1_000));
        assert!(b.raw_subscriber("bad//expr").queue(1).create().await.is_err());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_and_topics_are_discoverable() {
    watchdog(async {
        let (a, b) = two_nodes("registry").await;
        let _p = a.publisher(SPEED).create().await.unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_detects_corruption_repetition_loss_delay_and_masquerade() {
    use vbus::{E2eViolation, TopicEvent, wire, zenoh::Wait};
    watchdog(async {
        const BRAKE: Topic<Speed> =
            Topic::new("chassis/brake").with_qos(QoS::new().e2e(true).lifespan(Duration::from_secs(5)));
        let (a, b) = two_nodes("e2e").await;
        let sub = b.subscriber(BRAKE).create().await.unwrap();
        let mut p = a.publisher(BRAKE).create().await.unwrap();
        assert!(p.wait_for_subscribers(WATCHDOG).await, "no subscriber matched");
        p.publish(&speed(1.0, 1, "genuine")).unwrap();
        assert_eq!(sub.recv_timeout(WATCHDOG).await.unwrap().view().label(), Some("genuine"));

        // A hostile or faulty sender on the same key, speaking the wire contract by hand.
        let raw = a.session().declare_publisher(wire::data_key(a.domain(), BRAKE.key())).wait().unwrap();
        let mut fbb = vbus::flatbuffers::FlatBufferBuilder::new();
        let root = build_speed(&mut fbb, 2.0, 2, "forged");
        fbb.finish_minimal(root);
        let payload = fbb.finished_data().to_vec();
        let send = |seq: u64, age: Duration, data_id: u32, flags: u8, tamper: bool| {
            let h = wire::Header {
                flags,
                host_tag: 0,
                type_hash: <Speed as vbus::Message>::TYPE_HASH,
                seq,
                source_time_ns: wire::now_ns() - age.as_nanos() as u64,
                publisher_id: 99,
            }
            .encode();
            let mut att = h.to_vec();
            att.extend_from_slice(&wire::E2eExt::compute(&h, data_id, &payload).encode());
            let mut body = payload.clone();
            if tamper {
                let i = body.len() - 12; // inside the label string: still a valid FlatBuffer
                body[i] ^= 0x01;
            }
            raw.put(body).attachment(att).wait().unwrap();
        };
        let id = wire::data_id(BRAKE.key());
        send(1, Duration::ZERO, id, wire::FLAG_E2E, false); // valid, delivered
        send(2, Duration::ZERO, id, wire::FLAG_E2E, true); // corrupted on the way
        send(1, Duration::ZERO, id, wire::FLAG_E2E, false); // repeated
        send(5, Duration::ZERO, id, wire::FLAG_E2E, false); // 2..4 lost (2 was dropped as corrupt)
        send(6, Duration::from_secs(10), id, wire::FLAG_E2E, false); // delayed past lifespan
        send(7, Duration::ZERO, wire::data_id("chassis/speed"), wire::FLAG_E2E, false); // other topic's id
        send(8, Duration::ZERO, id, 0, false); // unprotected

        let got: Vec<u64> = {
            let mut v = vec![sub.recv_timeout(WATCHDOG).await.unwrap().seq()];
            v.push(sub.recv_timeout(WATCHDOG).await.unwrap().seq());
            v
        };
        assert_eq!(got, vec![1, 5]);
        let mut seen = Vec::new();
        while seen.len() < 6 {
            match tokio::time::timeout(WATCHDOG, sub.next_event()).await.unwrap().unwrap() {
                TopicEvent::E2eViolation { violation, seq, .. } => seen.push(format!("{seq}:{violation:?}")),
                TopicEvent::SamplesLost { expected_seq, received_seq, .. } => {
                    seen.push(format!("lost {expected_seq}..{received_seq}"))
                }
                other => panic!("unexpected {other}"),
            }
        }
        let all = seen.join(" | ");
        assert!(all.contains("2:Corrupted"), "{all}");
        assert!(all.contains("1:Repeated"), "{all}");
        assert!(all.contains("lost 2..5"), "{all}");
        assert!(all.contains("6:Delayed"), "{all}");
        assert!(all.contains("7:WrongDataId"), "{all}");
        assert!(all.contains("8:Missing"), "{all}");
        assert_eq!(sub.stats().e2e_errors, 5);
        assert!(matches!(E2eViolation::Corrupted.to_string().as_str(), s if s.contains("CRC")));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_are_dropped_by_the_receiver() {
    watchdog(async {
        let domain = unique_domain("oversize");
        let (a, ep) = parent_node("a", &domain).await;
        let small = b_config(&domain, &ep).max_message_size(1048576);
        let b = Node::open(small).await.unwrap();
        let sub = b.subscriber(SPEED).create().await.unwrap();
        let mut p = a.publisher(SPEED).create().await.unwrap();
        assert!(p.wait_for_subscribers(WATCHDOG).await, "no subscriber matched");
        p.publish(&speed(1.0, 1, &"x".repeat(4 << 20))).unwrap(); // 4 MiB > 1 MiB limit
        p.publish(&speed(2.0, 2, "small")).unwrap();
        let s = sub.recv_timeout(WATCHDOG).await.unwrap();
        assert_eq!((s.seq(), s.view().label()), (2, Some("small")));
        // (No gap is counted: seq 2 is the first this subscriber saw of that publisher.)
        assert_eq!(sub.stats().delivered, 1);
    })
    .await;
}

/// The same-host path as a publisher sees it: no zenoh put while every subscriber reads through
/// shared memory; as soon as a subscriber needs zenoh, puts resume, and each subscriber still gets
/// every sample exactly once (the local one ignores the zenoh copies).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_subscribers_cost_no_zenoh_put_and_mixed_subscribers_get_each_sample_once() {
    if expected_path() != vbus::DataPath::SharedMemory {
        return; // nothing to show without the same-host path
    }
    watchdog(async {
        let (a, b) = two_nodes("local-only").await;
        assert!(matches!(a.local_path(), vbus::LocalPath::SharedMemory { .. }), "{}", a.local_path());
        let local = b.subscriber(SPEED).qos(SPEED.qos().queue(1024)).create().await.unwrap();
        // A plain zenoh subscriber announces nothing: it sees exactly the puts the publisher makes.
        let (spy_tx, spy) = flume::unbounded();
        let _spy = a
            .session()
            .declare_subscriber(wire::data_key(a.domain(), SPEED.key()))
            .callback(move |s| {
                let h = s.attachment().and_then(|a| wire::Header::decode(&a.to_bytes()).ok());
                let _ = spy_tx.send(h);
            })
            .wait()
            .unwrap();
        let mut p = a.publisher(SPEED).create().await.unwrap();
        assert!(p.wait_for_subscribers(WATCHDOG).await);
        let mut seq = 0u32;
        let mut publish = |p: &mut vbus::Publisher<Speed>| {
            seq += 1;
            p.publish(&speed(1.0, seq, "x")).unwrap();
            seq as u64
        };
        for _ in 0..50 {
            let s = publish(&mut p);
            let got = local.recv_timeout(WATCHDOG).await.expect("local sample");
            assert_eq!((got.seq(), got.path()), (s, vbus::DataPath::SharedMemory));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The first samples may precede the publisher's view of the subscribers' tokens.
        let early = spy.drain().count();
        assert!(early < 50, "every sample went on zenoh although the only subscriber is local");
        for _ in 0..50 {
            let s = publish(&mut p);
            assert_eq!(local.recv_timeout(WATCHDOG).await.expect("local sample").seq(), s);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(spy.drain().count(), 0, "zenoh puts for a local-only topic");

        // A subscriber that reads from zenoh (shared memory off: as a node on another host).
        let domain = a.domain().to_owned();
        let ep = a.locators().into_iter().find(|l| l.starts_with("tcp/127.0.0.1:")).unwrap();
        let remote = Node::open(
            NodeConfig::named("c")
                .domain(&domain)
                .listen(Vec::<String>::new())
                .connect([&ep])
                .shared_memory(false),
        )
        .await
        .unwrap();
        let far = remote.subscriber(SPEED).qos(SPEED.qos().queue(1024)).create().await.unwrap();
        // Until the publisher has seen its token, the remote subscriber may miss samples.
        let first = loop {
            let s = publish(&mut p);
            assert_eq!(local.recv_timeout(WATCHDOG).await.unwrap().seq(), s);
            if let Ok(f) = far.recv_timeout(Duration::from_millis(20)).await {
                break f.seq();
            }
        };
        while local.try_recv().is_some() {}
        for _ in 0..100 {
            let s = publish(&mut p);
            let l = local.recv_timeout(WATCHDOG).await.expect("local sample");
            assert_eq!((l.seq(), l.path()), (s, vbus::DataPath::SharedMemory));
        }
        let mut expect = first + 1;
        while expect <= seq as u64 {
            let f = far.recv_timeout(WATCHDOG).await.expect("remote sample");
            assert_eq!((f.seq(), f.path()), (expect, vbus::DataPath::Zenoh));
            expect += 1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(local.try_recv().is_none(), "a local subscriber got a sample twice");
        let (ls, fs) = (local.stats(), far.stats());
        assert_eq!((ls.duplicates, ls.lost, fs.duplicates, fs.lost), (0, 0, 0, 0), "{ls:?} {fs:?}");
        // Every put now carries FLAG_LOCAL: the zenoh copy of what went through shared memory.
        let puts: Vec<_> = spy.drain().collect();
        assert!(puts.len() >= 100, "{} puts", puts.len());
        assert!(puts.iter().all(|h| h.is_some_and(|h| h.flags & wire::FLAG_LOCAL != 0)));
    })
    .await;
}
