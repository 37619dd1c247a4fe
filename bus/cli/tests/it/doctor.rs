//! `vbus doctor`: a healthy domain passes; broken ones are explained in words.

use std::time::Duration;

use serde_json::Value;
use vbus::{Message, wire};
use vbus_demo_types::demo::vehicle::VehicleSpeedMsg;

use crate::harness::*;

fn messages(report: &Value, status: &str) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == status)
        .map(|c| format!("{}: {}", c["check"].as_str().unwrap(), c["message"].as_str().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_domain_passes() {
    let bus = Bus::new("healthy").await;
    let _chassis = bus.child("chassis", "chassis").await;
    let _cockpit = bus.child("listener", "cockpit").await;
    announced(&bus.router, "cockpit", "chassis/speed").await;

    let out = run(bus.vbus(&["doctor", "--json", "--duration", "2"])).await;
    let report = out.json();
    assert!(out.ok, "{report:#}");
    assert_eq!(report["problems"], 0, "{report:#}");
    let ok = messages(&report, "ok");
    assert!(
        ok.iter().any(|m| m.starts_with("network: tcp/127.0.0.1:") && m.contains("accepts connections")),
        "{ok:?}"
    );
    assert!(ok.iter().any(|m| m.starts_with("nodes: 3 alive: chassis, cockpit, router")), "{ok:?}");
    assert!(ok.iter().any(|m| m.starts_with("schemas: 5 types served, one version each")), "{ok:?}");
    assert!(ok.iter().any(|m| m.starts_with("clock: ")), "{ok:?}");

    let human = run(bus.vbus(&["doctor"])).await.success().stdout;
    assert!(
        human.starts_with(&format!(
            "vbus doctor: domain `{}`\nok    config: built-in defaults: client",
            bus.domain
        )),
        "{human}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problems_are_named_in_words() {
    let bus = Bus::new("sick").await;
    let _chassis = bus.child("chassis", "chassis").await;
    announced(&bus.router, "chassis", "chassis/speed").await;
    let rogue = bus.peer("rogue").await;
    let domain = bus.domain.clone();
    let payload = {
        let mut fbb = vbus::flatbuffers::FlatBufferBuilder::new();
        let root = vbus::Pack::<VehicleSpeedMsg>::pack(&crate::child::speed_of(3), &mut fbb);
        fbb.finish_minimal(root);
        fbb.finished_data().to_vec()
    };
    // While the doctor listens: a publisher built from another schema version, a clock five
    // seconds ahead, a plain zenoh writer without vbus header, and a publisher with gaps.
    let mut wrong_hash =
        rogue.raw_publisher("chassis/speed", VehicleSpeedMsg::TYPE_NAME, 0xdead_beef).create().await.unwrap();
    let mut ahead = rogue
        .raw_publisher("engine/temp", VehicleSpeedMsg::TYPE_NAME, VehicleSpeedMsg::TYPE_HASH)
        .create()
        .await
        .unwrap();
    let session = rogue.session().clone();
    let noise = tokio::spawn(async move {
        let mut seq = 0u64;
        loop {
            seq += 1;
            let _ = wrong_hash.publish(&payload);
            let _ = ahead.publish_at(&payload, wire::now_ns() + 5_000_000_000);
            let _ = session.put(wire::data_key(&domain, "plain/zenoh"), b"hello".to_vec()).await;
            // Every third sequence number never arrives.
            if !seq.is_multiple_of(3) {
                let h = wire::Header {
                    flags: 0,
                    host_tag: 0,
                    type_hash: 7,
                    seq,
                    source_time_ns: wire::now_ns(),
                    publisher_id: 42,
                };
                let _ = session
                    .put(wire::data_key(&domain, "gappy"), payload.clone())
                    .encoding(wire::encoding("demo.vehicle.VehicleSpeed"))
                    .attachment(h.encode().to_vec())
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });

    let out = run(bus.vbus(&["doctor", "--json", "--duration", "2.5"])).await;
    let report = out.json();
    assert_eq!(out.code, Some(1), "{report:#}");
    let fails = messages(&report, "fail");
    let warns = messages(&report, "warn");
    let has = |list: &[String], needle: &str| {
        assert!(list.iter().any(|m| m.contains(needle)), "`{needle}` not in {list:#?}")
    };
    has(&fails, "`chassis/speed`: publishers send different type hashes");
    has(
        &fails,
        "`chassis/speed`: samples carry type hash 0x00000000deadbeef, but the schema served for demo.vehicle.VehicleSpeed has",
    );
    has(&fails, "is 5.");
    has(&fails, "ahead of this host");
    has(&fails, "(publishing `engine/temp`");
    has(&fails, "`plain/zenoh`:");
    has(&fails, "have no valid vbus header (expected a 40-byte vbus attachment header, found none)");
    has(&warns, "`gappy`:");
    has(&warns, "samples lost (gaps in sequence numbers)");

    let human = run(bus.vbus(&["doctor", "--duration", "1"])).await.failure().stdout;
    noise.abort();
    assert!(human.lines().any(|l| l.starts_with("FAIL  clock: ")), "{human}");
    assert!(human.lines().last().unwrap().contains("problem"), "{human}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_routers_and_empty_domains_are_explained() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_vbus"));
    cmd.args(["doctor", "--connect", &format!("tcp/127.0.0.1:{port}")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let out = run(cmd).await.failure();
    assert!(
        out.stdout.contains(&format!("FAIL  network: nothing accepts connections at tcp/127.0.0.1:{port}"))
            && out.stdout.contains("is the vbus router running there?"),
        "{}",
        out.stdout
    );

    let bus = Bus::new("elsewhere").await;
    let _chassis = bus.child("chassis", "chassis").await;
    announced(&bus.router, "chassis", "chassis/speed").await;
    let out = run(bus.vbus_in("nothere", &["doctor", "--duration", "0.5"])).await.success();
    assert!(
        out.stdout.contains(&format!("WARN  nodes: no node is alive in domain `nothere`; nodes are alive in domain(s) {}: pass --domain", bus.domain)),
        "{}",
        out.stdout
    );
}
