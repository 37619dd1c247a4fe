//! `vbus schema`: definitions from the served `.bfbs`.

use vbus::Message;
use vbus_demo_types::demo::vehicle::{SetDriveModeMsg, VehicleSpeedMsg};

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_shows_types_as_served() {
    let bus = Bus::new("schema").await;
    let _chassis = bus.child("chassis", "chassis").await;
    announced(&bus.router, "chassis", "chassis/speed").await;

    let out = run(bus.vbus(&["schema", "demo.vehicle.VehicleSpeed"])).await.success().stdout;
    assert!(
        out.starts_with(&format!(
            "// demo.vehicle.VehicleSpeed: type hash {:#018x} (as served on the bus)",
            VehicleSpeedMsg::TYPE_HASH
        )),
        "{out}"
    );
    let table =
        out.lines().find(|l| l.starts_with("table demo.vehicle.VehicleSpeed (")).expect("the table line");
    assert!(table.contains("vbus_topic: \"chassis/speed\"") && table.ends_with(") {"), "{out}");
    // Documentation comes along (the schema's `///` lines).
    assert!(out.contains("/// Vehicle speed over ground."), "{out}");
    assert!(out.contains("  /// km/h\n  kph: float;\n"), "{out}");
    assert!(out.contains("  odometer_m: double;\n"), "{out}");

    // By topic key, as JSON, with the .bfbs written out byte for byte.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vbus-cli-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("speed.bfbs");
    let j = run(bus.vbus(&["schema", "chassis/speed", "--json", "--bfbs", file.to_str().unwrap()]))
        .await
        .success()
        .json();
    assert_eq!(j["type"], "demo.vehicle.VehicleSpeed");
    assert_eq!(j["kind"], "table");
    assert_eq!(j["type_hash"], format!("{:016x}", VehicleSpeedMsg::TYPE_HASH));
    assert_eq!(j["hash_served"], true);
    assert_eq!(j["attributes"]["vbus_topic"], "chassis/speed");
    assert_eq!(j["fields"][0]["name"], "kph");
    assert_eq!(j["fields"][1]["type"], "double");
    assert_eq!(std::fs::read(&file).unwrap(), VehicleSpeedMsg::SCHEMA);
    let _ = std::fs::remove_dir_all(&dir);

    // A service request, by its short name: served by the service's server, with the hash
    // codegen compiled; and the same from a schema file given with --schema.
    let j = run(bus.vbus(&["schema", "SetDriveMode", "--json"])).await.success().json();
    assert_eq!(j["type"], "demo.vehicle.SetDriveMode");
    assert_eq!(j["type_hash"], format!("{:016x}", SetDriveModeMsg::TYPE_HASH));
    assert_eq!(j["hash_served"], true);
    assert_eq!(j["attributes"]["vbus_service"], "body/set_drive_mode", "{j}");
    let j = run(bus.vbus(&["schema", "SetDriveMode", "--json", "--schema", &vehicle_bfbs()]))
        .await
        .success()
        .json();
    assert_eq!(j["type"], "demo.vehicle.SetDriveMode");
    assert_eq!(j["type_hash"], format!("{:016x}", SetDriveModeMsg::TYPE_HASH));
    assert!(
        j["definition"]
            .as_str()
            .unwrap()
            .contains("enum demo.vehicle.DriveMode : byte { Eco = 0, Normal = 1, Sport = 2 }"),
        "{j}"
    );
    assert!(j["definition"].as_str().unwrap().contains("  mode: demo.vehicle.DriveMode = Normal;"), "{j}");

    let out = run(bus.vbus(&["schema", "demo.vehicle.VehicleSped"])).await.failure();
    assert!(
        out.stderr.contains("no schema containing `demo.vehicle.VehicleSped` is served or given"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("did you mean `demo.vehicle.VehicleSpeed`?"), "{}", out.stderr);
}
