//! Types generated from DBC files and the VSS tree: every input is included, values roundtrip,
//! and the topic constants carry what the inputs say.

use std::time::Duration;

use vbus::Message;
use vbus::flatbuffers;
use vbus_codegen_tests::{dbc, vss};

use crate::roundtrip;

#[test]
fn every_dbc_of_testdata_is_compiled_in() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/dbc");
    let mut on_disk = Vec::new();
    for dir in ["opendbc", "cantools", "kuksa", "opendbc_quirks", "crafted"] {
        for e in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if name.to_ascii_lowercase().ends_with(".dbc") {
                on_disk.push(format!("{dir}/{name}"));
            }
        }
    }
    on_disk.sort();
    let mut compiled: Vec<String> = dbc::FILES.iter().map(|(f, _)| f.to_string()).collect();
    compiled.sort();
    assert_eq!(compiled, on_disk);
    assert!(compiled.len() >= 42, "{}", compiled.len());
}

#[test]
fn model3_message_with_enums_and_multiplexing() {
    use dbc::kuksa_model3_can::can::kuksa_model_3_can as m3;
    // A multiplexed message: multiplexed signals are optional fields.
    let value = m3::Id142VcleftLiftgateStatusT {
        vcleft_liftgate_status_index:
            m3::Id142VcleftLiftgateStatusVcleftLiftgateStatusIndex::LIFTGATE_STATUS_INDEX_1,
        vcleft_liftgate_position: Some(45),
        vcleft_liftgate_speed: Some(-12.5),
        ..Default::default()
    };
    let bytes = roundtrip::<m3::Id142VcleftLiftgateStatusMsg>(&value);
    let view = flatbuffers::root::<m3::Id142VcleftLiftgateStatus<'_>>(&bytes).unwrap();
    assert_eq!(view.vcleft_liftgate_position(), Some(45));
    assert_eq!(view.vcleft_liftgate_latch_request(), None, "not selected by the multiplexer");
    assert_eq!(view.unpack(), value);

    let topic = dbc::kuksa_model3_can::topics::can::kuksa_model3_can::BMS_DOG_MODE;
    assert_eq!(topic.key(), "can/kuksa_model3_can/BMS_DogMode");
    assert_eq!(m3::BmsDogModeMsg::TYPE_NAME, "can.kuksa_model3_can.BmsDogMode");
    let dog = m3::BmsDogModeT { dog_mode_temp_set: -3, dog_mode_on: true };
    let bytes = roundtrip::<m3::BmsDogModeMsg>(&dog);
    assert_eq!(flatbuffers::root::<m3::BmsDogMode<'_>>(&bytes).unwrap().unpack(), dog);
}

#[test]
fn dbc_cycle_time_becomes_period_and_deadline() {
    use dbc::cantools_foobar::{can::cantools_foobar as f, topics::can::cantools_foobar as t};
    // foobar.dbc: GenMsgCycleTime defaults to 100 ms, Fum sets 1 ms.
    assert_eq!(f::FooMsg::PERIOD, Some(Duration::from_millis(100)));
    assert_eq!(t::FOO.qos().deadline, Some(Duration::from_millis(300)));
    assert_eq!(t::FUM.qos().deadline, Some(Duration::from_millis(3)));
    // No cycle time: no deadline.
    use dbc::cantools_motohawk::topics::can::cantools_motohawk as mh;
    assert_eq!(mh::EXAMPLE_MESSAGE.qos().deadline, None);
}

#[test]
fn vss_leaf_types_enums_and_keys() {
    use vss::vss::vehicle as v;
    let speed = vss::topics::vss::vehicle::SPEED;
    assert_eq!(speed.key(), "vss/Vehicle/Speed");
    assert_eq!(v::SpeedMsg::TYPE_NAME, "vss.Vehicle.Speed");
    let bytes = roundtrip::<v::SpeedMsg>(&v::SpeedT { value: 88.0 });
    assert_eq!(flatbuffers::root::<v::Speed<'_>>(&bytes).unwrap().value(), 88.0);

    // Allowed string values are an enum.
    use v::adas::{ActiveAutonomyLevelMsg, ActiveAutonomyLevelT, ActiveAutonomyLevelValue};
    let lvl = ActiveAutonomyLevelT { value: ActiveAutonomyLevelValue::SAE_2_DISENGAGING };
    let bytes = roundtrip::<ActiveAutonomyLevelMsg>(&lvl);
    assert_eq!(
        flatbuffers::root::<v::adas::ActiveAutonomyLevel<'_>>(&bytes).unwrap().value().variant_name(),
        Some("SAE_2_DISENGAGING")
    );
    // The VSS default becomes the field default.
    assert_eq!(
        v::powertrain::transmission::TypeT::default().value,
        v::powertrain::transmission::TypeValue::UNKNOWN
    );
    assert_eq!(v::cabin::DoorCountT::default().value, 4);

    // Arrays, booleans, nested instances.
    let modes = v::cabin::infotainment::smartphone_projection::SupportedModeT {
        value: Some(vec![
            v::cabin::infotainment::smartphone_projection::SupportedModeValue::ANDROID_AUTO,
            v::cabin::infotainment::smartphone_projection::SupportedModeValue::APPLE_CARPLAY,
        ]),
    };
    let bytes = roundtrip::<v::cabin::infotainment::smartphone_projection::SupportedModeMsg>(&modes);
    assert_eq!(
        flatbuffers::root::<v::cabin::infotainment::smartphone_projection::SupportedMode<'_>>(&bytes)
            .unwrap()
            .unpack(),
        modes
    );
    let open = vss::topics::vss::vehicle::cabin::door::row1::driver_side::IS_OPEN;
    assert_eq!(open.key(), "vss/Vehicle/Cabin/Door/Row1/DriverSide/IsOpen");
    // Attributes (static data) keep one sample for late joiners.
    assert_eq!(vss::topics::vss::vehicle::cabin::DOOR_COUNT.qos().history, 1);
    assert_eq!(speed.qos().history, 0);
}

#[test]
fn vss_units_and_ranges_are_in_the_schema() {
    // vbus_unit/vbus_min/vbus_max are field attributes in the embedded .bfbs.
    let schema = <vss::vss::vehicle::SpeedMsg as Message>::SCHEMA;
    let find = |needle: &[u8]| schema.windows(needle.len()).any(|w| w == needle);
    assert!(find(b"vbus_unit"));
    assert!(find(b"km/h"));
    assert!(find(b"vss.Vehicle.Speed"));
    // Each message serves a schema of its own type only (not the 700 KB of the whole tree).
    assert!(!find(b"vss.Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"));
    assert!(schema.len() < 2048, "{}", schema.len());
    let all = vss::SCHEMA_BFBS;
    let needle = b"vss.Vehicle.Powertrain.TractionBattery.StateOfCharge.Current";
    assert!(all.windows(needle.len()).any(|w| w == needle));
}
