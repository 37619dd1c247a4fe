//! Mutual TLS and access policy, with certificates from `scripts/dev-certs.sh`.

use std::{path::PathBuf, time::Duration};

use vbus::{
    Mode, Node, NodeConfig, PublishError, QoS, Topic,
    security::{AccessPolicy, TlsConfig},
    wire,
    zenoh::Wait,
};

use crate::{fixtures::*, harness::*};

const BRAKE: Topic<Speed> = Topic::new("chassis/brake").with_qos(QoS::new().e2e(true));
const MEDIA: Topic<Speed> = Topic::new("infotainment/media");

fn certs() -> PathBuf {
    certs_in("ca")
}

/// A CA and node certificates from `scripts/dev-certs.sh` in a directory of this run (`tag`
/// tells CAs apart).
fn certs_in(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vbus-certs-{}-{tag}", std::process::id()));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/dev-certs.sh");
    let ok = std::process::Command::new("bash")
        .args([
            script,
            dir.to_str().unwrap(),
            "--router",
            "gateway",
            "chassis",
            "infotainment",
            "monitor",
            "stranger",
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run dev-certs.sh");
    assert!(ok.success());
    dir
}

/// `<name>.pem` / `.key` in `dir`: a certificate for CN=`cn` from the CA there, valid for 0
/// days (expired a second later).
fn expired_cert(dir: &std::path::Path, cn: &str, name: &str) {
    let sh = format!(
        "set -e; cd '{}'; openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout {name}.key \
         -out {name}.csr -subj '/CN={cn}' 2>/dev/null; openssl x509 -req -in {name}.csr -CA ca.pem \
         -CAkey ca-private/ca.key -CAserial ca-private/ca.srl -out {name}.pem -days 0 2>/dev/null",
        dir.display()
    );
    assert!(std::process::Command::new("sh").args(["-c", &sh]).status().unwrap().success(), "openssl");
    std::thread::sleep(Duration::from_millis(1100));
}

fn policy() -> AccessPolicy {
    AccessPolicy::from_publishers(
        &["gateway", "chassis", "infotainment", "monitor"],
        &[("chassis/**", &["chassis"])],
    )
}

/// Mutual TLS with `name`'s certificate from `dir`.
fn tls(dir: &std::path::Path, name: Option<&str>) -> TlsConfig {
    let file = |f: String| dir.join(f).to_str().expect("utf-8 path").to_owned();
    TlsConfig {
        ca: file("ca.pem".into()),
        cert: name.map(|n| file(format!("{n}.pem"))),
        key: name.map(|n| file(format!("{n}.key"))),
        mutual: true,
        plaintext_allowed: Vec::new(),
    }
}

fn config(dir: &std::path::Path, name: &str, domain: &str) -> NodeConfig {
    NodeConfig::named(name).domain(domain).tls(tls(dir, Some(name)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_router_keeps_out_strangers_and_enforces_publish_rights() {
    watchdog(async {
        let dir = certs();
        let domain = unique_domain("sec");
        let router = Node::open(
            config(&dir, "gateway", &domain).mode(Mode::Router).listen(["tls/127.0.0.1:0"]).access(policy()),
        )
        .await
        .unwrap();
        let ep =
            router.locators().into_iter().find(|l| l.starts_with("tls/127.0.0.1:")).expect("tls locator");
        let client = |name: &str, policy: bool| {
            let c = config(&dir, name, &domain).mode(Mode::Client).connect([&ep]);
            if policy { c.access(self::policy()) } else { c }
        };

        // TLS fails closed: a TLS node told to reach a plaintext endpoint (a plaintext router of
        // the same domain, listening here) is refused at start, naming the endpoint; it never
        // joins in clear.
        let (plain_router, plain_ep) = vbus_test_support::router_node("plain-gw", &domain).await;
        match Node::open(config(&dir, "chassis", &domain).mode(Mode::Client).connect([&plain_ep])).await {
            Err(vbus::Error::Config(e)) => {
                assert_eq!(e.field.as_deref(), Some("connect[0]"), "{e}");
                assert!(
                    e.to_string().contains(&format!("found `{plain_ep}`, which is not encrypted")),
                    "{e}"
                );
            }
            Err(e) => panic!("expected a configuration error, got {e}"),
            Ok(_) => panic!("a TLS node joined a plaintext router"),
        }
        assert!(
            plain_router.alive_nodes().await.unwrap().iter().all(|n| n != "chassis"),
            "the refused node never reached the plaintext router"
        );

        // Only router certificates may serve: an ECU's certificate (client authentication only,
        // scripts/dev-certs.sh) on a listening node is refused by whoever connects to it.
        let fake =
            Node::open(config(&dir, "chassis", &domain).mode(Mode::Router).listen(["tls/127.0.0.1:0"]))
                .await
                .unwrap();
        let fake_ep =
            fake.locators().into_iter().find(|l| l.starts_with("tls/127.0.0.1:")).expect("tls locator");
        let fooled =
            Node::open(config(&dir, "monitor", &domain).mode(Mode::Client).connect([&fake_ep])).await;
        assert!(fooled.is_err(), "a client accepted an ECU certificate as its router's");
        drop(fake);

        // Identity: refused at start, each with what was expected and found.
        // - a name that differs from the certificate's CN (chassis' key and name, monitor's file):
        let mut wrong = config(&dir, "chassis", &domain).mode(Mode::Client).connect([&ep]);
        wrong.tls = Some(tls(&dir, Some("monitor")));
        match Node::open(wrong).await {
            Err(vbus::Error::Config(e)) => {
                assert_eq!(e.field.as_deref(), Some("tls.cert"), "{e}");
                assert!(
                    e.to_string().contains(
                        "expected the certificate of node `chassis` (CN=chassis), found CN=monitor"
                    ),
                    "{e}"
                );
            }
            other => {
                panic!("a node joined under another's certificate: {:?}", other.map(|n| n.name().to_owned()))
            }
        }
        // - an expired certificate (signed by the right CA, CN right, valid for 0 days):
        expired_cert(&dir, "chassis", "chassis-expired");
        let mut expired = config(&dir, "chassis", &domain).mode(Mode::Client).connect([&ep]);
        expired.tls = Some(TlsConfig {
            cert: Some(dir.join("chassis-expired.pem").display().to_string()),
            key: Some(dir.join("chassis-expired.key").display().to_string()),
            ..tls(&dir, Some("chassis"))
        });
        match Node::open(expired).await {
            Err(vbus::Error::Config(e)) => assert!(e.to_string().contains("is not valid now"), "{e}"),
            other => {
                panic!("a node joined with an expired certificate: {:?}", other.map(|n| n.name().to_owned()))
            }
        }
        // - a certificate from another CA (its own CA trusted locally): the router's mutual TLS
        //   refuses the handshake.
        let other = certs_in("other-ca");
        let foreign = NodeConfig::named("chassis")
            .domain(&domain)
            .mode(Mode::Client)
            .connect([&ep])
            .tls(tls(&other, Some("chassis")));
        assert!(Node::open(foreign).await.is_err(), "a certificate from another CA joined");

        // No certificate at all (and not trusting the CA): the TLS handshake fails.
        let no_cert =
            NodeConfig::named("anon").domain(&domain).mode(Mode::Client).connect([&ep]).tls(tls(&dir, None));
        let refused = Node::open(no_cert).await;
        assert!(refused.is_err(), "a node without a certificate joined");

        let monitor = Node::open(client("monitor", false)).await.unwrap();
        let brake = monitor.subscriber(BRAKE).create().await.unwrap();
        let media = monitor.subscriber(MEDIA).create().await.unwrap();

        // A certificate signed by the CA but unknown to the policy: connected, allowed nothing.
        let stranger = Node::open(client("stranger", false)).await.unwrap();
        let mut s = stranger.publisher(MEDIA).create().await.unwrap();
        s.publish(&speed(0.0, 1, "stranger")).unwrap();

        // A process of this host outside the secured bus (no certificate, no policy: it may use
        // shared memory). Secured nodes never write shared memory, so it gets nothing that way.
        let rogue = Node::open(
            NodeConfig::named("rogue")
                .domain(&domain)
                .listen(Vec::<String>::new())
                .connect(Vec::<String>::new()),
        )
        .await
        .unwrap();
        let rogue_brake = rogue.subscriber(BRAKE).create().await.unwrap();

        let chassis = Node::open(client("chassis", true)).await.unwrap();
        assert_eq!(*chassis.local_path(), vbus::LocalPath::Disabled, "a secured node uses shared memory");
        let mut p = chassis.publisher(BRAKE).create().await.unwrap();
        assert!(p.wait_for_subscribers(WATCHDOG).await, "no subscriber matched");
        p.publish(&speed(30.0, 1, "brake")).unwrap();
        assert_eq!(brake.recv_timeout(WATCHDOG).await.unwrap().view().label(), Some("brake"));

        // The infotainment node's own vbus refuses, visibly and counted...
        let info = Node::open(client("infotainment", true)).await.unwrap();
        let mut forged = info.publisher(BRAKE).create().await.unwrap();
        let err = forged.publish(&speed(0.0, 1, "forged")).unwrap_err();
        assert!(matches!(err, PublishError::AccessDenied { .. }), "{err}");
        assert_eq!(forged.stats().refused, 1);
        // ...and a malicious app that bypasses vbus is stopped by the router.
        let raw = info.session().declare_publisher(wire::data_key(&domain, BRAKE.key())).wait().unwrap();
        raw.put(vec![0u8; 8]).attachment(vec![0u8; 40]).wait().unwrap();
        // Its own topic works; it is sent after the forged brake sample on the same link, so by the
        // time it arrives, the forged one would have too.
        let mut own = info.publisher(MEDIA).create().await.unwrap();
        assert!(own.wait_for_subscribers(WATCHDOG).await, "no subscriber matched");
        own.publish(&speed(0.0, 1, "song")).unwrap();
        assert_eq!(media.recv_timeout(WATCHDOG).await.unwrap().view().label(), Some("song"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(brake.try_recv().is_none(), "forged brake sample got through");
        let st = brake.stats();
        assert_eq!((st.rejected, st.e2e_errors), (0, 0), "the forged sample reached the subscriber: {st:?}");
        assert!(media.try_recv().is_none(), "the stranger's sample got through");
        assert!(rogue_brake.try_recv().is_none(), "a process outside the secured bus read the brake topic");
        assert_eq!(rogue_brake.stats().delivered, 0);
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
