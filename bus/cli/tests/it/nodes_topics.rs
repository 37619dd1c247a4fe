//! `vbus nodes` and `vbus topics` against helper processes.

use serde_json::json;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_lists_alive_nodes_with_their_topics() {
    let bus = Bus::new("nodes").await;
    let _chassis = bus.child("chassis", "chassis").await;
    let _cockpit = bus.child("listener", "cockpit").await;
    announced(&bus.router, "chassis", "chassis/speed").await;
    announced(&bus.router, "cockpit", "chassis/speed").await;

    let nodes = run(bus.vbus(&["nodes", "--json"])).await.success().json();
    let nodes = nodes.as_array().unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["chassis", "cockpit", "router"], "{nodes:?}");
    let chassis = &nodes[0];
    for (key, ty) in [
        ("chassis/speed", "demo.vehicle.VehicleSpeed"),
        ("powertrain/battery", "demo.vehicle.BatteryState"),
        ("body/drive_mode", "demo.vehicle.DriveModeState"),
    ] {
        assert!(
            chassis["publishes"].as_array().unwrap().contains(&json!({"key": key, "type": ty})),
            "{chassis}"
        );
    }
    assert_eq!(
        nodes[1]["subscribes"],
        json!([{"key": "chassis/speed", "type": "demo.vehicle.VehicleSpeed"}])
    );

    // A router's configuration file makes the tool a client of that router, in its domain.
    let config = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vbus-cli-router-{}.json5", std::process::id()));
    std::fs::write(
        &config,
        vbus::NodeConfig::named("gw")
            .mode(vbus::Mode::Router)
            .domain(&bus.domain)
            .listen([bus.endpoint.as_str()])
            .to_value()
            .to_string(),
    )
    .unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_vbus"));
    cmd.args(["nodes", "--json", "--config", config.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let via_config = run(cmd).await.success().json();
    let _ = std::fs::remove_file(&config);
    assert_eq!(via_config.as_array().unwrap().len(), 3, "{via_config}");

    let human = run(bus.vbus(&["nodes"])).await.success().stdout;
    assert!(human.starts_with(&format!("3 nodes alive in domain `{}`:", bus.domain)), "{human}");
    assert!(human.contains("chassis\n  pub  "), "{human}");
    assert!(
        human
            .lines()
            .any(|l| l.trim_start().starts_with("sub  chassis/speed")
                && l.ends_with("demo.vehicle.VehicleSpeed")),
        "{human}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_shows_type_rate_publishers_and_services() {
    let bus = Bus::new("topics").await;
    let _chassis = bus.child("chassis", "chassis").await;
    let _cockpit = bus.child("listener", "cockpit").await;
    announced(&bus.router, "cockpit", "chassis/speed").await;

    // Services announce nothing: they are listed from schemas (here the file given).
    let out = run(bus.vbus(&["topics", "--json", "--window", "1.5", "--schema", &vehicle_bfbs()]))
        .await
        .success()
        .json();
    let topics = out["topics"].as_array().unwrap();
    let speed = topics.iter().find(|t| t["key"] == "chassis/speed").expect("chassis/speed listed");
    assert_eq!(speed["type"], "demo.vehicle.VehicleSpeed");
    assert_eq!(speed["publishers"], json!(["chassis"]));
    assert_eq!(speed["subscribers"], json!(["cockpit"]));
    // A 50 Hz topic: only a loose lower bound (the machine may be busy).
    assert!(speed["rate_hz"].as_f64().unwrap() > 5.0, "{speed}");
    let battery = topics.iter().find(|t| t["key"] == "powertrain/battery").unwrap();
    assert!(battery["rate_hz"].as_f64().unwrap() > 0.0, "{battery}");
    assert_eq!(
        out["services"],
        json!([{"key": "body/set_drive_mode", "request": "demo.vehicle.SetDriveMode", "reply": "demo.vehicle.SetDriveModeReply"}])
    );

    let human = run(bus.vbus(&["topics", "--schema", &vehicle_bfbs()])).await.success().stdout;
    let header = human.lines().next().unwrap();
    assert!(
        header.starts_with("TOPIC")
            && header.contains("TYPE")
            && header.contains("RATE")
            && header.contains("PUBLISHERS"),
        "{human}"
    );
    let line = human.lines().find(|l| l.starts_with("chassis/speed")).expect("a chassis/speed row");
    assert!(
        line.contains("demo.vehicle.VehicleSpeed") && line.contains(" Hz") && line.contains("chassis"),
        "{line}"
    );
    assert!(human.contains("body/set_drive_mode"), "{human}");
}
