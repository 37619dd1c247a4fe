//! Uplink over TLS (rustls) to a mosquitto TLS listener, with certificates made by `openssl`.

use std::{path::Path, process::Command};

use vbus_cloud::Bridge;

use crate::{
    fixtures::{SPEED, speed},
    harness::{
        Cloud, Mosquitto, TempDir, config, parent_node, unique_domain, wait_matched, wait_until, watchdog,
    },
};

fn openssl(dir: &Path, args: &[&str]) {
    let out =
        Command::new("openssl").args(args).current_dir(dir).output().expect("openssl (Debian: openssl)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `<name>-ca.pem`, and for `good` a server certificate for IP 127.0.0.1 signed by it.
fn make_certs(dir: &Path, name: &str) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let ca = format!("{name}-ca");
    openssl(
        dir,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
                "-days",
                "2",
                "-subj",
                &format!("/CN={ca}"),
            ],
        ]
        .concat(),
    );
    if name == "good" {
        std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
            .unwrap();
        openssl(
            dir,
            &[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]]
                .concat(),
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "san.ext",
            ],
        );
    }
    // mosquitto drops root privileges: let it read the test key.
    for f in std::fs::read_dir(dir).unwrap().flatten() {
        if f.path().extension().is_some_and(|e| e == "key") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uplink_over_tls_verifies_the_broker() {
    watchdog(async {
        let domain = unique_domain("tls");
        let dir = TempDir::new("tls");
        make_certs(&dir.join(""), "good");
        make_certs(&dir.join(""), "other");
        let broker = Mosquitto::start_tls(&dir.join("server.pem"), &dir.join("server.key")).await;
        let tls_port = broker.tls_port.unwrap();
        let cloud = Cloud::connect(broker.port, &domain).await;
        let (node, _) = parent_node("app", &domain).await;

        // A CA that did not sign the broker's certificate: the bridge refuses the connection.
        let wrong = config(
            &domain,
            &dir,
            Some(tls_port),
            &format!("mqtt: {{ tls: {{ ca_file: '{}' }} }}", dir.join("other-ca.pem").display()),
        );
        let bridge = Bridge::start_on(node.clone(), wrong).await.unwrap();
        assert!(bridge.stats().sink.starts_with("mqtts://"));
        wait_until("TLS failure reported", || bridge.stats().uplink.last_error.is_some()).await;
        let s = bridge.shutdown().await.unwrap();
        assert!(!s.uplink.connected && s.uplink.connects == 0, "{:?}", s.uplink);
        let err = s.uplink.last_error.unwrap();
        assert!(err.to_lowercase().contains("certificate") || err.contains("Tls"), "{err}");

        // The right CA: samples flow over TLS.
        let right = config(
            &domain,
            &dir,
            Some(tls_port),
            &format!("mqtt: {{ tls: {{ ca_file: '{}' }} }}", dir.join("good-ca.pem").display()),
        );
        let bridge = Bridge::start_on(node.clone(), right).await.unwrap();
        let mut p = node.publisher(SPEED).create().await.unwrap();
        wait_matched(&p).await;
        for i in 1..=100 {
            p.publish(&speed(1.0, i, "tls")).unwrap();
        }
        wait_until("100 samples over TLS", || cloud.with(|r| r.distinct_seqs("chassis/speed").len()) == 100)
            .await;
        assert!(bridge.stats().uplink.connected);
        bridge.shutdown().await.unwrap();

        // A bad CA file is a start-up error, not a silent retry loop.
        let missing =
            config(&domain, &dir, Some(tls_port), "mqtt: { tls: { ca_file: '/nonexistent/ca.pem' } }");
        let e = Bridge::start_on(node.clone(), missing).await.err().expect("start fails").to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    })
    .await;
}
