//! Types generated from `schemas/*.fbs`: pack → verify → read back, and the vbus constants.

use std::time::Duration;

use vbus::flatbuffers;
use vbus::{Congestion, Message, Priority, Reliability};
use vbus_codegen_tests::vehicle::{
    SCHEMA_BFBS, TOPIC_PUBLISHERS, services, topics,
    vehicle::body::{LockReplyMsg, LockRequestMsg},
    vehicle::chassis::{
        Detail, DetailT, Diagnostic, DiagnosticMsg, DiagnosticT, SampleT, VehicleSpeed, VehicleSpeedMsg,
        VehicleSpeedT, WheelSpeeds, WheelSpeedsMsg, WheelSpeedsT,
    },
    vehicle::common::{Faults, HeaderT, Point3T, Source},
};

use crate::roundtrip;

#[test]
fn vehicle_speed_roundtrips_through_pack() {
    let value = VehicleSpeedT {
        kph: 87.5,
        source: Source::Gps,
        faults: Faults::SensorLost | Faults::Timeout,
        header: Some(Box::new(HeaderT { stamp_ns: 1_700_000_000_000_000_000, frame: Some("base".into()) })),
    };
    let bytes = roundtrip::<VehicleSpeedMsg>(&value);
    let view = flatbuffers::root::<VehicleSpeed<'_>>(&bytes).unwrap();
    assert_eq!(view.kph(), 87.5);
    assert_eq!(view.source(), Source::Gps);
    assert_eq!(view.faults(), Faults::SensorLost | Faults::Timeout);
    assert_eq!(view.header().unwrap().frame(), Some("base"));
    assert_eq!(view.unpack(), value);
}

#[test]
fn defaults_optional_scalars_vectors_and_structs() {
    // Schema default `source: Source = Wheel`.
    assert_eq!(VehicleSpeedT::default().source, Source::Wheel);
    let value = WheelSpeedsT {
        rpm: Some(vec![1.0, 2.0, 3.0, 4.0]),
        tire_temp_c: None,
        position: Some(Point3T { x: 1.0, y: 2.0, z: 3.0 }),
        names: Some(vec!["fl".into(), "fr".into()]),
        samples: Some(vec![SampleT { id: 7, value: 1.5 }, SampleT { id: 8, value: -2.0 }]),
    };
    let bytes = roundtrip::<WheelSpeedsMsg>(&value);
    let view = flatbuffers::root::<WheelSpeeds<'_>>(&bytes).unwrap();
    assert_eq!(view.tire_temp_c(), None, "optional scalar (= null) stays absent");
    assert_eq!(view.rpm().unwrap().len(), 4);
    assert_eq!(view.position().unwrap().z(), 3.0);
    assert_eq!(view.samples().unwrap().get(1).id(), 8);
    assert_eq!(view.unpack(), value);
    let with_temp = WheelSpeedsT { tire_temp_c: Some(-12), ..value };
    let bytes = roundtrip::<WheelSpeedsMsg>(&with_temp);
    assert_eq!(flatbuffers::root::<WheelSpeeds<'_>>(&bytes).unwrap().tire_temp_c(), Some(-12));
}

#[test]
fn unions_roundtrip() {
    let value = DiagnosticT {
        code: 0x1234,
        detail: DetailT::Sample(Box::new(SampleT { id: 1, value: 9.0 })),
        blob: Some(vec![0xde, 0xad]),
    };
    let bytes = roundtrip::<DiagnosticMsg>(&value);
    let view = flatbuffers::root::<Diagnostic<'_>>(&bytes).unwrap();
    assert_eq!(view.detail_type(), Detail::Sample);
    assert_eq!(view.detail_as_sample().unwrap().value(), 9.0);
    assert_eq!(view.unpack(), value);
}

#[test]
fn message_constants() {
    assert_eq!(VehicleSpeedMsg::TYPE_NAME, "vehicle.chassis.VehicleSpeed");
    assert_eq!(LockRequestMsg::TYPE_NAME, "vehicle.body.LockRequest");
    assert_eq!(LockReplyMsg::TYPE_NAME, "vehicle.body.LockReply");
    // The hash is FNV-1a 64 of the documented canonical form (see vbus_codegen::hash); recompute it
    // here from the text so that C peers have a worked example.
    let canonical = "table vehicle.chassis.VehicleSpeed{0:kph:float32;\
1:source:enum vehicle.common.Source:uint8{Unknown=0;Wheel=1;Gps=2;Fused=7;};\
2:faults:enum vehicle.common.Faults:uint32{SensorLost=1;Implausible=2;Timeout=4;};\
3:header:table vehicle.common.Header{0:stamp_ns:uint64;1:frame:string;};}";
    assert_eq!(VehicleSpeedMsg::TYPE_HASH, vbus_codegen_tests::fnv1a64(canonical.as_bytes()));
    let hashes = [
        VehicleSpeedMsg::TYPE_HASH,
        WheelSpeedsMsg::TYPE_HASH,
        DiagnosticMsg::TYPE_HASH,
        LockRequestMsg::TYPE_HASH,
        LockReplyMsg::TYPE_HASH,
    ];
    for (i, a) in hashes.iter().enumerate() {
        for b in &hashes[i + 1..] {
            assert_ne!(a, b);
        }
    }
    // SCHEMA is a .bfbs (file identifier "BFBS") with only the types of this message.
    let schema = VehicleSpeedMsg::SCHEMA;
    assert_eq!(&schema[4..8], b"BFBS");
    assert!(schema.len() < SCHEMA_BFBS.len());
    let has = |s: &[u8], needle: &str| s.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(has(schema, "vehicle.chassis.VehicleSpeed") && has(schema, "vehicle.common.Header"));
    assert!(!has(schema, "vehicle.body.LockReply") && has(SCHEMA_BFBS, "vehicle.body.LockReply"));
    assert!(has(LockReplyMsg::SCHEMA, "vehicle.body.LockReply"));
}

#[test]
fn topic_constants_follow_the_schema() {
    let speed = topics::chassis::SPEED;
    assert_eq!(speed.key(), "chassis/speed");
    let q = speed.qos();
    assert_eq!(q.priority, Priority::RealTime);
    assert_eq!(q.reliability, Reliability::BestEffort);
    assert!(q.express);
    // vbus_period_ms: 10 → deadline of 3 periods.
    assert_eq!(q.deadline, Some(Duration::from_millis(30)));
    assert_eq!(VehicleSpeedMsg::PERIOD, Some(Duration::from_millis(10)));
    assert_eq!(VehicleSpeedMsg::PUBLISHERS, &["chassis_ecu", "gateway"]);
    const { assert!(VehicleSpeedMsg::DDS) };
    assert_eq!(TOPIC_PUBLISHERS, &[("chassis/speed", &["chassis_ecu", "gateway"][..])]);

    let wheels = topics::chassis::WHEEL_SPEEDS.qos();
    assert_eq!(wheels.priority, Priority::DataHigh);
    assert_eq!(wheels.congestion, Congestion::Block);
    assert_eq!(wheels.deadline, Some(Duration::from_millis(50)));
    assert_eq!(wheels.lifespan, Some(Duration::from_millis(200)));
    assert_eq!((wheels.history, wheels.queue), (1, 8));
    assert_eq!(WheelSpeedsMsg::PERIOD, None);

    // No QoS attributes: the vbus defaults.
    assert_eq!(topics::body::door::STATE.qos(), vbus::QoS::new());
    assert_eq!(topics::chassis::DIAGNOSTIC.qos().priority, Priority::Background);
    const { assert!(!DiagnosticMsg::DDS) };

    let lock = services::body::door::LOCK;
    assert_eq!(lock.key(), "body/door/lock");
    assert_eq!(lock.timeout(), Duration::from_millis(500));
}
