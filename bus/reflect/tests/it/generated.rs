//! Against vbus-codegen: real generated types, their embedded `.bfbs` and type hashes. The demo's
//! schema and codegen's representative one (every FlatBuffers construct) come from
//! vbus-demo-types, the suites' `test.Speed` from vbus-test-support.

use serde_json::json;
use vbus::{Message, Pack, flatbuffers};
use vbus_demo_types::{codegen_sample::vehicle as cg, demo::vehicle as demo};
use vbus_reflect::{Schema, decode_to_json, encode_from_json};
use vbus_test_support::types::{self as speed, test};

fn pack<M: Message, P: Pack<M>>(v: &P) -> Vec<u8> {
    let mut fbb = flatbuffers::FlatBufferBuilder::new();
    let root = v.pack(&mut fbb);
    fbb.finish_minimal(root);
    fbb.finished_data().to_vec()
}

fn schema<M: Message>() -> Schema {
    Schema::from_bfbs(M::SCHEMA).expect("generated .bfbs parses")
}

/// The hash recomputed from the message's own `.bfbs` and from the whole file's `.bfbs` is the
/// one codegen compiled in.
fn hash_matches<M: Message>(whole_file: &[u8]) {
    for (what, s) in
        [("Message::SCHEMA", schema::<M>()), ("whole-file .bfbs", Schema::from_bfbs(whole_file).unwrap())]
    {
        assert_eq!(
            s.type_hash(M::TYPE_NAME),
            Some(M::TYPE_HASH),
            "{} from its {what}: canonical form {}",
            M::TYPE_NAME,
            s.canonical_form(M::TYPE_NAME).unwrap()
        );
    }
}

#[test]
fn type_hashes_match_what_codegen_compiled() {
    let demo_file = vbus_demo_types::SCHEMA_BFBS;
    hash_matches::<demo::VehicleSpeedMsg>(demo_file);
    hash_matches::<demo::BatteryStateMsg>(demo_file);
    hash_matches::<demo::DriveModeStateMsg>(demo_file);
    hash_matches::<demo::SetDriveModeMsg>(demo_file);
    hash_matches::<demo::SetDriveModeReplyMsg>(demo_file);
    // Enums, bit flags, structs, unions, vectors of tables, optional scalars, namespaces.
    let cg_file = vbus_demo_types::codegen_sample::SCHEMA_BFBS;
    hash_matches::<cg::chassis::VehicleSpeedMsg>(cg_file);
    hash_matches::<cg::chassis::WheelSpeedsMsg>(cg_file);
    hash_matches::<cg::chassis::DiagnosticMsg>(cg_file);
    hash_matches::<cg::body::LockRequestMsg>(cg_file);
    hash_matches::<cg::body::LockReplyMsg>(cg_file);
    hash_matches::<cg::body::DoorStateMsg>(cg_file);
    // Defaults, a nested table, a struct, an optional scalar; and the same type name under a
    // changed schema, which must hash differently.
    hash_matches::<test::SpeedMsg>(speed::SCHEMA_BFBS);
    hash_matches::<speed::v2::test::SpeedMsg>(speed::v2::SCHEMA_BFBS);
    assert_ne!(test::SpeedMsg::TYPE_HASH, speed::v2::test::SpeedMsg::TYPE_HASH);
}

/// Generated value -> bytes -> JSON -> bytes -> generated value, and the JSON is as expected.
fn round_trip<M, T>(value: &T, unpack: impl Fn(&[u8]) -> T, expected: serde_json::Value)
where
    M: Message,
    T: Pack<M> + PartialEq + std::fmt::Debug,
{
    let s = schema::<M>();
    let bytes = pack(value);
    let v = decode_to_json(&s, M::TYPE_NAME, &bytes).unwrap();
    assert_eq!(v, expected, "{}", M::TYPE_NAME);
    let again = encode_from_json(&s, M::TYPE_NAME, &v).unwrap();
    assert_eq!(&unpack(&again), value, "{}", M::TYPE_NAME);
}

#[test]
fn generated_payloads_round_trip_through_json() {
    round_trip::<demo::VehicleSpeedMsg, _>(
        &demo::VehicleSpeedT { kph: 63.5, odometer_m: 1234.25 },
        |b| flatbuffers::root::<demo::VehicleSpeed<'_>>(b).unwrap().unpack(),
        json!({"kph": 63.5, "odometer_m": 1234.25}),
    );
    round_trip::<demo::DriveModeStateMsg, _>(
        &demo::DriveModeStateT { mode: demo::DriveMode::Sport, changed_by: Some("cockpit".into()) },
        |b| flatbuffers::root::<demo::DriveModeState<'_>>(b).unwrap().unpack(),
        json!({"mode": "Sport", "changed_by": "cockpit"}),
    );
    round_trip::<cg::chassis::VehicleSpeedMsg, _>(
        &cg::chassis::VehicleSpeedT {
            kph: 0.1,
            source: cg::common::Source::Gps,
            faults: cg::common::Faults::SensorLost | cg::common::Faults::Timeout,
            header: Some(Box::new(cg::common::HeaderT { stamp_ns: u64::MAX, frame: Some("base".into()) })),
        },
        |b| flatbuffers::root::<cg::chassis::VehicleSpeed<'_>>(b).unwrap().unpack(),
        json!({"kph": 0.1, "source": "Gps", "faults": "SensorLost Timeout",
               "header": {"stamp_ns": u64::MAX, "frame": "base"}}),
    );
    round_trip::<cg::chassis::WheelSpeedsMsg, _>(
        &cg::chassis::WheelSpeedsT {
            rpm: Some(vec![1.0, 2.5, -0.0]),
            tire_temp_c: None,
            position: Some(cg::common::Point3T { x: 1.0, y: -2.0, z: 3.5 }),
            names: Some(vec!["fl".into(), "".into()]),
            samples: Some(vec![cg::chassis::SampleT { id: 1, value: 2.0 }, cg::chassis::SampleT::default()]),
        },
        |b| flatbuffers::root::<cg::chassis::WheelSpeeds<'_>>(b).unwrap().unpack(),
        json!({"rpm": [1.0, 2.5, -0.0], "tire_temp_c": null, "position": {"x": 1.0, "y": -2.0, "z": 3.5},
               "names": ["fl", ""], "samples": [{"id": 1, "value": 2.0}, {"id": 0, "value": 1.5}]}),
    );
    round_trip::<test::SpeedMsg, _>(
        &test::SpeedT {
            kph: 12.5,
            count: 7,
            label: Some("fl".into()),
            engine: Some(Box::new(test::EngineT { rpm: 3000, temp: -40 })),
            pos: Some(test::Vec2T { x: 1.0, y: -2.5 }),
            gear: 3,
            odo: 1234.5,
            ready: true,
            limit: Some(-1),
        },
        |b| flatbuffers::root::<test::Speed<'_>>(b).unwrap().unpack(),
        json!({"kph": 12.5, "count": 7, "label": "fl", "engine": {"rpm": 3000, "temp": -40},
               "pos": {"x": 1.0, "y": -2.5}, "gear": 3, "odo": 1234.5, "ready": true, "limit": -1}),
    );
    let header = cg::common::HeaderT { stamp_ns: 5, frame: Some("base".into()) };
    let s = schema::<cg::chassis::DiagnosticMsg>();
    let union = s.enum_named("vehicle.chassis.Detail").unwrap();
    let header_member = union.values.iter().find(|v| v.name.contains("Header")).unwrap().name.clone();
    round_trip::<cg::chassis::DiagnosticMsg, _>(
        &cg::chassis::DiagnosticT {
            code: 7,
            detail: cg::chassis::DetailT::VehicleCommonHeader(Box::new(header)),
            blob: Some(vec![0, 255]),
        },
        |b| flatbuffers::root::<cg::chassis::Diagnostic<'_>>(b).unwrap().unpack(),
        json!({"code": 7, "detail_type": header_member, "detail": {"stamp_ns": 5, "frame": "base"}, "blob": [0, 255]}),
    );
    round_trip::<cg::chassis::DiagnosticMsg, _>(
        &cg::chassis::DiagnosticT { code: 0, detail: cg::chassis::DetailT::NONE, blob: None },
        |b| flatbuffers::root::<cg::chassis::Diagnostic<'_>>(b).unwrap().unpack(),
        json!({"code": 0, "detail_type": "NONE"}),
    );
}

#[test]
fn json_written_by_hand_reaches_generated_code() {
    let s = schema::<demo::VehicleSpeedMsg>();
    let bytes = encode_from_json(&s, "demo.vehicle.VehicleSpeed", &json!({"kph": 88})).unwrap();
    let view = flatbuffers::root::<demo::VehicleSpeed<'_>>(&bytes).unwrap();
    assert_eq!((view.kph(), view.odometer_m()), (88.0, 0.0));
    // The demo's service request, found through its schema attributes as the CLI does.
    let s = Schema::from_bfbs(vbus_demo_types::SCHEMA_BFBS).unwrap();
    let req = s.find_by_attribute("vbus_service", "body/set_drive_mode").next().expect("service table");
    assert_eq!(req.name, "demo.vehicle.SetDriveMode");
    assert_eq!(req.attr("vbus_reply"), Some("SetDriveModeReply"));
    // The same through `Schema::services`, as the CLI and the bindings find it: the reply
    // qualified in the request's namespace.
    let decl = s.services().into_iter().find(|d| d.key == "body/set_drive_mode").expect("declared service");
    assert_eq!(
        (decl.request.as_str(), decl.reply.as_deref()),
        ("demo.vehicle.SetDriveMode", Some("demo.vehicle.SetDriveModeReply"))
    );
    let bytes = encode_from_json(&s, &req.name, &json!({"mode": "Eco", "requested_by": "test"})).unwrap();
    let view = flatbuffers::root::<demo::SetDriveMode<'_>>(&bytes).unwrap();
    assert_eq!((view.mode(), view.requested_by()), (demo::DriveMode::Eco, Some("test")));
}

/// The QoS a tool reads from a served schema (`QoS::from_attributes` over the table's `vbus_*`
/// attributes, what the bindings and vbus-dds use) is the QoS codegen compiled into the topic.
fn qos_from_schema_matches<M: Message>(topic: vbus::Topic<M>) {
    let s = schema::<M>();
    let table = s.table(M::TYPE_NAME).expect("the message's table");
    let read = vbus::QoS::from_attributes(|k| table.attr(k)).expect("valid attributes");
    assert_eq!(read, topic.qos(), "{}", M::TYPE_NAME);
}

#[test]
fn qos_read_from_a_served_schema_is_the_generated_one() {
    use vbus_demo_types::codegen_sample::topics as cgt;
    use vbus_demo_types::topics as dt;
    qos_from_schema_matches(dt::chassis::SPEED); // realtime, express, block, period -> deadline
    qos_from_schema_matches(dt::powertrain::BATTERY); // history, period -> deadline
    qos_from_schema_matches(dt::body::DRIVE_MODE);
    qos_from_schema_matches(cgt::chassis::SPEED); // best effort
    qos_from_schema_matches(cgt::chassis::WHEEL_SPEEDS); // deadline, lifespan, history, queue
    qos_from_schema_matches(cgt::chassis::DIAGNOSTIC);
    qos_from_schema_matches(cgt::body::door::STATE);
    // What it refuses, it names.
    let e = vbus::QoS::from_attributes(|k| (k == "vbus_congestion").then_some("sometimes")).unwrap_err();
    assert_eq!(e, "`vbus_congestion: sometimes`: expected drop or block");
    let e = vbus::QoS::from_attributes(|k| (k == "vbus_history").then_some("lots")).unwrap_err();
    assert_eq!(e, "`vbus_history: lots`: expected a number");
}
