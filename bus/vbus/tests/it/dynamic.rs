//! Endpoints declared with a run-time `TypeInfo` (what the C, C++ and Python bindings use) meet
//! compiled ones on the same topics, with the same checks.

use std::sync::Arc;

use flatbuffers::FlatBufferBuilder;
use vbus::{Message, PublishError, TopicEvent, TypeInfo, Untyped};

use crate::{fixtures::*, harness::*};
use vbus_test_support::{eventually, wait_matched};

/// `test.Speed` known only at run time: its name, hash, schema and a verifier given as a closure
/// (as a binding gives flatc's verifier of its language).
fn speed_type() -> TypeInfo {
    let compiled = TypeInfo::of::<Speed>();
    TypeInfo::new(Speed::TYPE_NAME, Speed::TYPE_HASH, Arc::new(move |b: &[u8]| compiled.verify(b)))
        .with_schema(Speed::SCHEMA)
}

fn speed_bytes(kph: f32, count: u32) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let root = build_speed(&mut fbb, kph, count, "dyn");
    fbb.finish_minimal(root);
    fbb.finished_data().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_and_compiled_endpoints_share_topics_checks_and_counters() {
    watchdog(async {
        let domain = unique_domain("dyn");
        let (a, ep) = parent_node("a", &domain).await;
        let b = vbus_test_support::peer_of("b", &domain, &ep).await;
        let ty = speed_type();

        // Run-time publisher -> compiled subscriber.
        let typed = b.subscriber(SPEED).create().await.unwrap();
        let mut p = a.dyn_publisher(SPEED.key(), &ty).qos(SPEED.qos()).create().await.unwrap();
        wait_matched(&p).await;
        p.publish_bytes(&speed_bytes(42.5, 7)).unwrap();
        let s = typed.recv_timeout(WATCHDOG).await.unwrap();
        assert_eq!((s.view().kph(), s.view().count(), s.seq()), (42.5, 7, 1));
        // Bytes that are not a `test.Speed` never leave.
        match p.publish_bytes(b"not a flatbuffer") {
            Err(PublishError::InvalidPayload { type_name, .. }) => assert_eq!(type_name, "test.Speed"),
            other => panic!("expected InvalidPayload, got {other:?}"),
        }
        assert_eq!(p.stats().sent, 1);

        // Compiled publisher -> run-time subscriber: verified bytes and the header.
        let dyn_sub = b.dyn_subscriber("test/dyn", &ty).create().await.unwrap();
        let mut tp = a.publisher(vbus::Topic::<Speed>::new("test/dyn")).create().await.unwrap();
        wait_matched(&tp).await;
        tp.publish(&speed(3.0, 3, "t")).unwrap();
        let s: vbus::Sample<Untyped> = dyn_sub.recv_timeout(WATCHDOG).await.unwrap();
        assert_eq!(s.bytes(), {
            let mut fbb = FlatBufferBuilder::new();
            let root = vbus::Pack::<Speed>::pack(&speed(3.0, 3, "t"), &mut fbb);
            fbb.finish_minimal(root);
            fbb.finished_data().to_vec()
        });
        assert_eq!((s.seq(), s.publisher_id()), (1, tp.id()));

        // A run-time type with another hash on the same key: reported as a mismatch, not
        // delivered, on both kinds of subscriber.
        let other = TypeInfo::new("test.Other", 0xbad, Arc::new(|_: &[u8]| Ok(())));
        let mut wrong = a.dyn_publisher("test/dyn", &other).create().await.unwrap();
        wait_matched(&wrong).await;
        wrong.publish_bytes(b"anything").unwrap();
        match dyn_sub.next_event().await.unwrap() {
            TopicEvent::TypeMismatch { expected_type, expected_hash, found_hash, .. } => {
                assert_eq!(
                    (&*expected_type, expected_hash, found_hash),
                    ("test.Speed", Speed::TYPE_HASH, 0xbad)
                );
            }
            e => panic!("expected a type mismatch, got {e}"),
        }
        assert_eq!(dyn_sub.stats().mismatched, 1);
        assert!(dyn_sub.try_recv().is_none());

        // Services: run-time server, compiled client; compiled server, run-time client.
        let server = a.dyn_service_server("test/dyn_double", &ty, &ty).create().await.unwrap();
        let client =
            b.service_client(vbus::Service::<Speed, Speed>::new("test/dyn_double")).create().await.unwrap();
        let serve = tokio::spawn(async move {
            let req = server.recv().await.unwrap();
            let kph = flatbuffers::root::<SpeedView<'_>>(req.sample().bytes()).unwrap().kph();
            req.reply_bytes(&speed_bytes(kph * 2.0, 1)).unwrap();
        });
        let reply = eventually("the run-time server answers", || async {
            client.call(&speed(21.0, 1, "c")).await.ok()
        })
        .await;
        assert_eq!(reply.view().kph(), 42.0);
        serve.await.unwrap();
        let typed_server = a.service_server(DOUBLE).create().await.unwrap();
        tokio::spawn(async move {
            while let Ok(req) = typed_server.recv().await {
                let kph = req.sample().view().kph();
                req.reply(&speed(kph * 2.0, 1, "r")).unwrap();
            }
        });
        let dyn_client = b.dyn_service_client(DOUBLE.key(), &ty, &ty).create().await.unwrap();
        // A call is a `Send` future: it can be spawned (what the Python binding's awaits need).
        fn spawnable<F: std::future::Future + Send>(f: F) -> F {
            f
        }
        drop(spawnable(dyn_client.call_bytes(&[], None)));
        let reply = eventually("the compiled server answers", || async {
            dyn_client.call_bytes(&speed_bytes(5.0, 1), None).await.ok()
        })
        .await;
        assert_eq!(flatbuffers::root::<SpeedView<'_>>(reply.bytes()).unwrap().kph(), 10.0);
        assert!(matches!(
            dyn_client.call_bytes(b"junk", None).await,
            Err(vbus::CallError::InvalidRequest { .. })
        ));

        // Fields: the run-time owner's value reaches a run-time client that joins later.
        let mut owner = a.dyn_field_owner("test/dyn_field", &ty).create().await.unwrap();
        owner.set_bytes(&speed_bytes(9.0, 9)).unwrap();
        let field = eventually("the field's value reaches a late client", || async {
            let c = b.dyn_field_client("test/dyn_field", &ty).create().await.unwrap();
            c.get().map(|s| s.bytes().to_vec())
        })
        .await;
        assert_eq!(field, speed_bytes(9.0, 9));
    })
    .await;
}
