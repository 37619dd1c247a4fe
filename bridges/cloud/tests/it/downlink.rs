//! Downlink: cloud commands through a real mosquitto to a bus service, and back.

use vbus_cloud::{
    Bridge,
    format::{Status, base64, hex},
};

use crate::{
    fixtures::{DOUBLE, Speed, speed, speed_bytes, view},
    harness::{Cloud, Mosquitto, TempDir, config, parent_node, unique_domain, wait_until, watchdog},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_commands_reach_the_service_and_others_are_refused() {
    watchdog(async {
        let domain = unique_domain("cmd");
        let dir = TempDir::new("cmd");
        let broker = Mosquitto::start().await;
        let cloud = Cloud::connect(broker.port, &domain).await;
        let (node, _) = parent_node("app", &domain).await;
        let cfg = config(
            &domain,
            &dir,
            Some(broker.port),
            "commands: { allow: [{ service: 'test/double' }, { service: 'test/absent', timeout_ms: 300 },
                                  { service: 'test/pinned', request_type_hash: '0000000000000001' }] }",
        );
        let bridge = Bridge::start_on(node.clone(), cfg).await.unwrap();
        wait_until("bridge connected", || bridge.stats().uplink.connected).await;

        // The bus service: doubles kph, counts requests.
        let server = node.service_server(DOUBLE).create().await.unwrap();
        let served = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let count = served.clone();
        let serving = tokio::spawn(async move {
            while let Ok(req) = server.recv().await {
                let s = req.sample();
                let v = s.view();
                let reply = speed(v.kph() * 2.0, v.count() + 1, v.label().unwrap_or(""));
                req.reply(&reply).unwrap();
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let request = base64(&speed_bytes(&speed(21.0, 1, "from the cloud")));
        let hash = hex(<Speed as vbus::Message>::TYPE_HASH);

        // Allowed: the reply comes back with the service's answer.
        cloud.command(&serde_json::json!({ "id": "c1", "service": "test/double", "type_hash": hash, "payload": request })).await;
        let r = cloud.reply("c1").await;
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert_eq!(r.type_name.as_deref(), Some("test.Speed"));
        assert_eq!(r.type_hash, Some(<Speed as vbus::Message>::TYPE_HASH));
        let reply = r.payload.expect("reply payload");
        let v = view(&reply);
        assert_eq!((v.kph(), v.count(), v.label()), (42.0, 2, Some("from the cloud")));

        // Not on the allowlist: refused, never called, and the refusal is reported.
        cloud.command(&serde_json::json!({ "id": "c2", "service": "test/secret", "type_hash": hash, "payload": request })).await;
        let r = cloud.reply("c2").await;
        assert_eq!(r.status, Status::Refused);
        assert!(r.reason.as_deref().unwrap().contains("not on the allowlist"), "{r:?}");

        // Malformed, pinned-hash mismatch, duplicate id: refused with a reason each.
        cloud.command(&serde_json::json!({ "id": "c3", "service": "test/double" })).await;
        assert!(cloud.reply("c3").await.reason.unwrap().contains("malformed"));
        cloud.command(&serde_json::json!({ "id": "c4", "service": "test/pinned", "type_hash": hash, "payload": request })).await;
        assert!(cloud.reply("c4").await.reason.unwrap().contains("differs from the allowed"));
        cloud.command(&serde_json::json!({ "id": "c1", "service": "test/double", "type_hash": hash, "payload": request })).await;
        wait_until("duplicate refused", || {
            cloud.with(|r| r.replies.iter().filter(|x| x.id == "c1").any(|x| x.status == Status::Refused))
        })
        .await;

        // Allowed but nobody serves it: the call fails on the bus, and the cloud is told.
        cloud.command(&serde_json::json!({ "id": "c5", "service": "test/absent", "type_hash": hash, "payload": request })).await;
        let r = cloud.reply("c5").await;
        assert_eq!(r.status, Status::Failed, "{r:?}");

        let s = bridge.stats();
        assert_eq!((s.commands.received, s.commands.ok, s.commands.refused, s.commands.failed), (6, 1, 4, 1), "{:?}", s.commands);
        assert_eq!(served.load(std::sync::atomic::Ordering::Relaxed), 1, "only the allowed command reached the service");
        bridge.shutdown().await.unwrap();
        serving.abort();
    })
    .await;
}
