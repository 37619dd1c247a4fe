//! Generated types over a real bus: two in-process vbus nodes on loopback TCP.

use std::time::Duration;

use vbus::{Message, Node, Pack, Subscriber, Topic};
use vbus_codegen_tests::vehicle::{
    services, topics,
    vehicle::body::{LockReplyT, LockRequestT},
    vehicle::chassis::{VehicleSpeedMsg, VehicleSpeedT, WheelSpeedsT},
    vehicle::common::{Faults, HeaderT, Source},
};
use vbus_test_support::{eventually, peer_config, peer_node, unique_domain};

/// Two peer nodes in a domain of their own: `a` listens on an ephemeral loopback port, `b`
/// connects to it and listens nowhere.
async fn two_nodes(tag: &str) -> (Node, Node) {
    let domain = unique_domain(&format!("cg-{tag}"));
    let (a, ep) = peer_node("a", &domain).await;
    let b = Node::open(peer_config("b", &domain, &ep).listen(Vec::<String>::new())).await.unwrap();
    (a, b)
}

/// Publish `value` on `topic` from `a` until `b`'s subscriber receives it (topics may be best
/// effort, and discovery takes a moment); return the subscriber with one sample received.
async fn send_one<T: Message>(
    a: &Node,
    b: &Node,
    topic: Topic<T>,
    value: &impl Pack<T>,
) -> (Subscriber<T>, vbus::Sample<T>) {
    let sub = b.subscriber(topic).create().await.unwrap();
    let mut publisher = a.publisher(topic).create().await.unwrap();
    let sub_ref = &sub;
    let sample = eventually(&format!("a sample on {}", topic.key()), || {
        publisher.publish(value).unwrap();
        async move { sub_ref.recv_timeout(Duration::from_millis(100)).await.ok() }
    })
    .await;
    (sub, sample)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fbs_topic_over_the_bus() {
    let (a, b) = two_nodes("speed").await;
    let value = VehicleSpeedT {
        kph: 123.25,
        source: Source::Fused,
        faults: Faults::Implausible,
        header: Some(Box::new(HeaderT { stamp_ns: 42, frame: Some("odom".into()) })),
    };
    let (_sub, sample) = send_one(&a, &b, topics::chassis::SPEED, &value).await;
    let view = sample.view();
    assert_eq!(view.kph(), 123.25);
    assert_eq!(view.source(), Source::Fused);
    assert_eq!(view.unpack(), value);
    assert_eq!(<VehicleSpeedMsg as Message>::TYPE_NAME, "vehicle.chassis.VehicleSpeed");

    let wheels =
        WheelSpeedsT { rpm: Some(vec![10.0, 11.0, 12.0, 13.0]), tire_temp_c: Some(35), ..Default::default() };
    let (_sub, sample) = send_one(&a, &b, topics::chassis::WHEEL_SPEEDS, &wheels).await;
    assert_eq!(sample.view().unpack(), wheels);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fbs_service_over_the_bus() {
    let (a, b) = two_nodes("lock").await;
    let server = a.service_server(services::body::door::LOCK).create().await.unwrap();
    let serve = tokio::spawn(async move {
        let req = server.recv().await.unwrap();
        let lock = req.sample().view().lock();
        let doors = req.sample().view().doors().map(|d| d.len()).unwrap_or(0);
        req.reply(&LockReplyT { ok: lock, message: Some(format!("locked {doors} doors")) }).unwrap();
    });
    let client = b.service_client(services::body::door::LOCK).create().await.unwrap();
    let (client, request) = (&client, &LockRequestT { lock: true, doors: Some(vec![0, 1, 2, 3]) });
    let reply =
        eventually("a reply of the lock service", || async move { client.call(request).await.ok() }).await;
    assert!(reply.view().ok());
    assert_eq!(reply.view().message(), Some("locked 4 doors"));
    serve.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dbc_and_vss_topics_over_the_bus() {
    use vbus_codegen_tests::{dbc, vss};
    let (a, b) = two_nodes("dbc-vss").await;

    use dbc::kuksa_model3_can::can::kuksa_model_3_can as m3;
    let dog = m3::BmsDogModeT { dog_mode_temp_set: 21, dog_mode_on: true };
    let (_sub, sample) =
        send_one(&a, &b, dbc::kuksa_model3_can::topics::can::kuksa_model3_can::BMS_DOG_MODE, &dog).await;
    assert_eq!(sample.view().unpack(), dog);

    let level = vss::vss::vehicle::adas::ActiveAutonomyLevelT {
        value: vss::vss::vehicle::adas::ActiveAutonomyLevelValue::SAE_3,
    };
    let (_sub, sample) =
        send_one(&a, &b, vss::topics::vss::vehicle::adas::ACTIVE_AUTONOMY_LEVEL, &level).await;
    assert_eq!(sample.view().value(), vss::vss::vehicle::adas::ActiveAutonomyLevelValue::SAE_3);
}
