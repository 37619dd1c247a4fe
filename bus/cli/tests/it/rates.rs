//! `vbus hz` and `vbus bw`.

use vbus::{Pack, flatbuffers::FlatBufferBuilder};

use crate::{child::speed_of, harness::*};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hz_and_bw_measure_a_live_topic() {
    let bus = Bus::new("rates").await;
    let _chassis = bus.child("chassis", "chassis").await;
    announced(&bus.router, "chassis", "chassis/speed").await;

    let hz =
        run(bus.vbus(&["hz", "chassis/speed", "--duration", "2.5", "--json"])).await.success().json_lines();
    assert!(!hz.is_empty());
    for r in &hz {
        assert_eq!(r["key"], "chassis/speed");
        assert!(r["rate_hz"].as_f64().unwrap() > 5.0, "{r}"); // 50 Hz; loose lower bound only
        assert!(r["min_s"].as_f64().unwrap() <= r["max_s"].as_f64().unwrap());
        assert!(r["window"].as_u64().unwrap() >= 2);
    }

    // Every speed sample has the same size: what the generated code packs.
    let mut fbb = FlatBufferBuilder::new();
    let root = Pack::<vbus_demo_types::demo::vehicle::VehicleSpeedMsg>::pack(&speed_of(7), &mut fbb);
    fbb.finish_minimal(root);
    let size = fbb.finished_data().len() as f64;
    let bw =
        run(bus.vbus(&["bw", "chassis/speed", "--duration", "2.5", "--json"])).await.success().json_lines();
    assert!(!bw.is_empty());
    for r in &bw {
        assert_eq!(r["mean_bytes"].as_f64().unwrap(), size, "{r}");
        assert_eq!(r["max_bytes"].as_f64().unwrap(), size, "{r}");
        assert!(r["bytes_per_s"].as_f64().unwrap() > 5.0 * size, "{r}");
    }

    let human = run(bus.vbus(&["hz", "**", "--duration", "2.5"])).await.success().stdout;
    assert!(human.lines().any(|l| l.starts_with("chassis/speed: ") && l.contains(" Hz  (min ")), "{human}");
    assert!(human.lines().any(|l| l.starts_with("powertrain/battery: ")), "{human}");
    let human = run(bus.vbus(&["bw", "chassis/speed", "--duration", "2"])).await.success().stdout;
    assert!(human.lines().any(|l| l.starts_with("chassis/speed: ") && l.contains("/s  (mean ")), "{human}");

    // Nothing to measure is an error that says so.
    let out = run(bus.vbus(&["hz", "chassis/nothing", "--duration", "1"])).await.failure();
    assert!(out.stderr.contains("no sample on `chassis/nothing` within 1 s"), "{}", out.stderr);
    assert!(out.stderr.contains("warning: no node announces topic `chassis/nothing`"), "{}", out.stderr);
}
