//! JSON that does not match the schema: the message names the path, what was expected and
//! what was found.

use serde_json::json;
use vbus_reflect::{Error, Schema, encode_from_json};

use crate::*;

fn err(s: &Schema, ty: &str, v: serde_json::Value) -> String {
    encode_from_json(s, ty, &v).unwrap_err().to_string()
}

#[test]
fn messages_name_path_expectation_and_finding() {
    let s = Schema::from_bfbs(vbus_demo_types::SCHEMA_BFBS).unwrap();
    let speed = "demo.vehicle.VehicleSpeed";
    assert_eq!(err(&s, speed, json!({"kph": "fast"})), r#"$.kph: expected float, found string "fast""#);
    assert_eq!(
        err(&s, speed, json!({"kphh": 3})),
        "$.kphh: expected a field of demo.vehicle.VehicleSpeed (kph, odometer_m), found unknown field `kphh` (did you mean `kph`?)"
    );
    assert_eq!(
        err(&s, speed, json!([1])),
        "$: expected an object (table demo.vehicle.VehicleSpeed), found an array of 1 element"
    );
    assert_eq!(
        err(&s, speed, json!({"kph": 1e300})),
        "$.kph: expected float (within ±3.4e38), found number 1e+300"
    );
    assert_eq!(
        err(&s, "demo.vehicle.DriveModeState", json!({"mode": "Spor"})),
        r#"$.mode: expected a value of enum demo.vehicle.DriveMode (Eco, Normal, Sport) or a number, found string "Spor" (did you mean `Sport`?)"#
    );
    assert_eq!(
        err(&s, "demo.vehicle.DriveModeState", json!({"mode": 300})),
        "$.mode: expected a value of enum demo.vehicle.DriveMode (Eco, Normal, Sport) or a number, found number 300"
    );
    assert_eq!(
        err(&s, "demo.vehicle.DriveModeState", json!({"changed_by": 5})),
        "$.changed_by: expected string, found number 5"
    );
    assert!(matches!(
        encode_from_json(&s, "demo.vehicle.VehicleSped", &json!({})),
        Err(Error::UnknownType { did_you_mean: Some(ref n), .. }) if n == speed
    ));
    // The structured form carries the same pieces.
    match encode_from_json(&s, speed, &json!({"odometer_m": true})) {
        Err(Error::Json { path, expected, found }) => {
            assert_eq!(
                (path.as_str(), expected.as_str(), found.as_str()),
                ("$.odometer_m", "double", "boolean true")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn nested_paths_and_every_kind_of_mismatch() {
    let s = everything();
    let e = |v| err(&s, EVERYTHING, v);
    assert_eq!(e(json!({})), "$.name: expected string (a required field), found nothing");
    assert_eq!(
        e(json!({"name": "", "u8": 256})),
        "$.u8: expected ubyte (an integer in 0..=255), found number 256"
    );
    assert_eq!(
        e(json!({"name": "", "i8": -129})),
        "$.i8: expected byte (an integer in -128..=127), found number -129"
    );
    assert_eq!(
        e(json!({"name": "", "i32": 1.5})),
        "$.i32: expected int (an integer in -2147483648..=2147483647), found number 1.5"
    );
    assert_eq!(
        e(json!({"name": "", "u64": -1})),
        "$.u64: expected ulong (an integer in 0..=18446744073709551615), found number -1"
    );
    assert_eq!(
        e(json!({"name": "", "b": "yes"})),
        r#"$.b: expected bool (true or false), found string "yes""#
    );
    assert_eq!(
        e(json!({"name": "", "old": 1})),
        "$.old: expected a field of test.all.Everything other than `old`, found deprecated field `old`"
    );
    assert_eq!(
        e(json!({"name": "", "ints": [1, "2"]})),
        r#"$.ints[1]: expected long (an integer in -9223372036854775808..=9223372036854775807), found string "2""#
    );
    assert_eq!(e(json!({"name": "", "ints": 3})), "$.ints: expected a vector [long], found number 3");
    assert_eq!(
        e(json!({"name": "", "leaves": [{}, {"value": "x"}]})),
        r#"$.leaves[1].value: expected double, found string "x""#
    );
    assert_eq!(
        e(json!({"name": "", "tree": {"children": [{"name": 1}]}})),
        "$.tree.children[0].name: expected string, found number 1"
    );
    let pose = json!({"position": {"x": 1, "y": 2, "z": 3}, "heading": 0, "tag": 0, "matrix": [1, 2, 3],
                      "corners": [{"x": 0, "y": 0, "z": 0}, {"x": 0, "y": 0, "z": 0}], "color": "Red"});
    assert_eq!(
        e(json!({"name": "", "pose": pose})),
        "$.pose.matrix: expected an array of exactly 4 elements ([short:4]), found an array of 3 elements"
    );
    let mut p2 = pose.clone();
    p2["matrix"] = json!([1, 2, 3, 4]);
    p2.as_object_mut().unwrap().remove("heading");
    assert_eq!(
        e(json!({"name": "", "pose": p2})),
        "$.pose.heading: expected double (struct fields are all required), found nothing"
    );
    let mut p3 = pose;
    p3["matrix"] = json!([1, 2, 3, 4]);
    p3["corners"][1]["z"] = json!("deep");
    assert_eq!(
        e(json!({"name": "", "poses": [p3]})),
        r#"$.poses[0].corners[1].z: expected float, found string "deep""#
    );
    assert_eq!(
        e(json!({"name": "", "payload": {"id": 1}})),
        "$.payload_type: expected the member type of the union next to it (one of NONE, Leaf, Tree, Vec3Box, Text), found nothing"
    );
    assert_eq!(
        e(json!({"name": "", "payload_type": "Leef", "payload": {"id": 1}})),
        r#"$.payload_type: expected a member type of union test.all.Payload (NONE, Leaf, Tree, Vec3Box, Text), found string "Leef" (did you mean `Leaf`?)"#
    );
    assert_eq!(
        e(json!({"name": "", "payload_type": "Leaf", "payload": {"idd": 1}})),
        "$.payload.idd: expected a field of test.all.Leaf (id, value, label), found unknown field `idd` (did you mean `id`?)"
    );
    assert_eq!(
        e(json!({"name": "", "payloads_type": ["Leaf"], "payloads": [{"id": 1}, {"id": 2}]})),
        "$.payloads_type: expected an array of 2 member types, one per element of `payloads`, found an array of 1 element"
    );
    assert_eq!(
        e(json!({"name": "", "payloads_type": ["Leaf", "Tex"], "payloads": [{"id": 1}, "x"]})),
        r#"$.payloads_type[1]: expected a member type of union test.all.Payload (NONE, Leaf, Tree, Vec3Box, Text), found string "Tex" (did you mean `Text`?)"#
    );
    assert_eq!(
        e(json!({"name": "", "flags": "A D"})),
        r#"$.flags: expected test.all.Flags flags: names from (A, B, C) separated by spaces, or a number, found string "A D""#
    );
}
