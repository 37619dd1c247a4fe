//! `vbus call`: a service found through served schemas, request and reply as JSON.

use serde_json::json;
use vbus_demo_types::{demo::vehicle::DriveMode, topics};

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_finds_the_service_in_schemas_and_decodes_the_reply() {
    let bus = Bus::new("call").await;
    let _chassis = bus.child("chassis", "chassis").await;
    announced(&bus.router, "chassis", "body/drive_mode").await;

    // The chassis changes its drive-mode field when the service accepts.
    let checker = bus.peer("checker").await;
    let field = checker.field_client(topics::body::DRIVE_MODE).create().await.unwrap();

    // The server serves its request and reply schemas: the service is found on the bus, with no
    // schema file and no compiled type in the tool.
    let schema = vehicle_bfbs();
    let out = run(bus.vbus(&[
        "call",
        "body/set_drive_mode",
        r#"{"mode": "Sport", "requested_by": "cli"}"#,
        "--json",
    ]))
    .await
    .success()
    .json();
    assert_eq!(
        out,
        json!({"service": "body/set_drive_mode", "request_type": "demo.vehicle.SetDriveMode",
               "reply_type": "demo.vehicle.SetDriveModeReply", "reply": {"accepted": true}})
    );
    eventually("the drive mode set through the service", || async {
        let s = field.get()?;
        let v = s.view();
        (v.mode() == DriveMode::Sport && v.changed_by() == Some("cli")).then_some(())
    })
    .await;

    // The server's refusal comes back as data; human output.
    let out = run(bus.vbus(&["call", "body/set_drive_mode", "{mode: 'Eco'}", "--schema", &schema]))
        .await
        .success()
        .stdout;
    assert_eq!(
        out,
        "reply from body/set_drive_mode (demo.vehicle.SetDriveModeReply):\n  accepted: false\n  reason: \"requested_by is required\"\n"
    );
    // An explicit request type.
    let out = run(bus.vbus(&[
        "call",
        "body/set_drive_mode",
        r#"{"mode": 0, "requested_by": "t"}"#,
        "--type",
        "demo.vehicle.SetDriveMode",
        "--json",
        "--schema",
        &schema,
    ]))
    .await
    .success()
    .json();
    assert_eq!(out["reply"], json!({"accepted": true}));

    // Errors: no schema declaring the service, a typo in the service, nobody serving, a
    // request that does not fit.
    let out = run(bus.vbus(&["call", "body/open_sunroof", "{}"])).await.failure();
    assert!(out.stderr.contains("no served schema declares service `body/open_sunroof`"), "{}", out.stderr);
    assert!(out.stderr.contains("hint: is its server running (`vbus nodes`)?"), "{}", out.stderr);
    assert!(
        out.stderr.contains("give the schema that declares it with --schema FILE.bfbs"),
        "{}",
        out.stderr
    );
    let out = run(bus.vbus(&["call", "body/set_drive_mod", "{}", "--schema", &schema])).await.failure();
    assert!(out.stderr.contains("no served schema declares service `body/set_drive_mod`"), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `body/set_drive_mode`?"), "{}", out.stderr);
    let out = run(bus.vbus(&[
        "call",
        "body/nobody",
        "{}",
        "--type",
        "demo.vehicle.SetDriveMode",
        "--timeout",
        "1",
        "--schema",
        &schema,
    ]))
    .await
    .failure();
    assert!(out.stderr.contains("no server answers `body/nobody`"), "{}", out.stderr);
    let out = run(bus.vbus(&["call", "body/set_drive_mode", r#"{"mode": "Turbo"}"#, "--schema", &schema]))
        .await
        .failure();
    assert!(
        out.stderr.contains(r#"the JSON does not match demo.vehicle.SetDriveMode: $.mode: expected a value of enum demo.vehicle.DriveMode (Eco, Normal, Sport) or a number, found string "Turbo""#),
        "{}",
        out.stderr
    );
}
