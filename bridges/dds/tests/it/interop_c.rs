//! Interop with an independent DDS peer: a C program built against Debian's CycloneDDS 0.10.2
//! with `idlc` on the IDL vbus-codegen emitted, talking to vbus nodes through the bridge.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::*;
use vbus_dds::bridge::Direction;
use vbus_test_support::dds::topics;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_publisher_to_vbus_subscriber() {
    let peer = c_peer();
    let (app, b) = two_nodes("c2v").await;
    let sub = app.subscriber(topics::dds::STATUS).create().await.unwrap();
    let bridge = bridge(&b, &config(11, &[("dds/status", Direction::FromDds)])).await;
    let n = 20;
    let out = cyclone_env(Command::new(&peer).args(["pub", &n.to_string(), "11"]))
        .stderr(Stdio::inherit())
        .output()
        .expect("run C peer");
    assert!(out.status.success(), "C peer failed: {}", String::from_utf8_lossy(&out.stdout));
    for i in 0..n {
        let s = sub
            .recv_timeout(WAIT)
            .await
            .ok()
            .unwrap_or_else(|| panic!("sample {i} not received; {:?}", bridge.stats("dds/status")));
        assert_eq!(s.view().unpack(), c_value(i), "sample {i}");
    }
    let st = bridge.stats("dds/status").unwrap();
    assert_eq!((st.from_dds, st.dds_rejected, st.to_dds), (u64::from(n), 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vbus_publisher_to_c_subscriber() {
    let peer = c_peer();
    let (app, b) = two_nodes("v2c").await;
    let bridge = bridge(&b, &config(12, &[("dds/status", Direction::ToDds)])).await;
    let n = 20u32;
    let mut child = cyclone_env(Command::new(&peer).args(["sub", &n.to_string(), "12"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run C peer");
    let mut publisher = app.publisher(topics::dds::STATUS).create().await.unwrap();
    // Wait until the bridge's vbus subscriber and its DDS writer are both connected.
    assert!(publisher.wait_for_subscribers(WAIT).await, "bridge never subscribed on the bus");
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..n {
        publisher.publish(&c_value(i)).unwrap();
    }
    let out = tokio::task::spawn_blocking(move || {
        let _ = child.wait();
        let mut s = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut s).unwrap();
        s
    })
    .await
    .unwrap();
    let expect = Command::new(&peer).args(["expect", &n.to_string()]).output().unwrap();
    let want: Vec<&str> = std::str::from_utf8(&expect.stdout).unwrap().lines().collect();
    let got: Vec<&str> = out.lines().filter(|l| *l != "ready").collect();
    assert_eq!(got, want, "C subscriber output; bridge stats {:?}", bridge.stats("dds/status"));
    assert_eq!(bridge.stats("dds/status").unwrap().to_dds, u64::from(n));
}
