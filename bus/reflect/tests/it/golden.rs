//! Against flatc: what flatc encodes decodes to what flatc prints; what we encode, flatc reads
//! back to the same JSON as its own encoding.

use std::process::Command;

use serde_json::{Value, json};
use vbus_reflect::{decode_to_json, encode_from_json, verify};

use crate::*;

#[test]
fn decodes_flatc_buffers_as_flatc_prints_them() {
    let s = everything();
    for name in ["full", "minimal"] {
        let ours = decode_to_json(&s, EVERYTHING, &data(&format!("{name}.bin"))).unwrap();
        assert_close(&ours, &json(&format!("{name}.flatc.json")), &format!("{name}:$"));
    }
}

#[test]
fn exact_values_survive_decoding() {
    let s = everything();
    let v = decode_to_json(&s, EVERYTHING, &data("full.bin")).unwrap();
    // 64-bit integers are exact, floats print as their shortest decimal.
    assert_eq!(v["i64"], json!(i64::MIN));
    assert_eq!(v["u64"], json!(9007199254740993u64));
    assert_eq!(v["ints"], json!([1, -1, i64::MAX]));
    assert_eq!(v["f32"], json!(0.1));
    assert_eq!(v["floats"], json!([1.5, -0.25, 1e-7]));
    assert_eq!(v["f64"], json!(std::f64::consts::PI));
    assert_eq!(v["note"], json!("unicode: é中🚗"));
    assert_eq!(v["flags"], json!("A C"));
    assert_eq!(v["big"], json!("Huge"));
    assert_eq!(v["payloads_type"], json!(["Leaf", "Vec3Box", "Text"]));
    assert_eq!(v["payloads"][2], json!("hello"));
    assert!(v.get("old").is_none(), "deprecated fields are skipped");
}

#[test]
fn our_encoding_decodes_like_flatc_encoding() {
    let s = everything();
    for name in ["full", "minimal"] {
        let input = json(&format!("{name}.json"));
        let ours = encode_from_json(&s, EVERYTHING, &input).unwrap();
        verify(&s, EVERYTHING, &ours).unwrap();
        let theirs = data(&format!("{name}.bin"));
        assert_eq!(
            decode_to_json(&s, EVERYTHING, &ours).unwrap(),
            decode_to_json(&s, EVERYTHING, &theirs).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn flatc_reads_our_encoding() {
    let s = everything();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vbus-reflect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["full", "minimal"] {
        let ours = encode_from_json(&s, EVERYTHING, &json(&format!("{name}.json"))).unwrap();
        let bin = dir.join(format!("{name}.bin"));
        std::fs::write(&bin, &ours).unwrap();
        let out = Command::new(flatc::flatc())
            .args(["--json", "--strict-json", "--defaults-json", "--raw-binary", "-o"])
            .arg(&dir)
            .arg(format!("{}/tests/data/everything.fbs", env!("CARGO_MANIFEST_DIR")))
            .arg("--")
            .arg(&bin)
            .output()
            .expect("run flatc");
        assert!(out.status.success(), "flatc: {}", String::from_utf8_lossy(&out.stderr));
        let printed = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
        let expected = String::from_utf8(data(&format!("{name}.flatc.json"))).unwrap();
        assert_eq!(printed, expected, "{name}: flatc prints our buffer differently from its own");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn round_trips_are_fixed_points() {
    let s = everything();
    for name in ["full", "minimal"] {
        let first = decode_to_json(&s, EVERYTHING, &data(&format!("{name}.bin"))).unwrap();
        let bytes = encode_from_json(&s, EVERYTHING, &first).unwrap();
        let second = decode_to_json(&s, EVERYTHING, &bytes).unwrap();
        assert_eq!(first, second, "{name}");
        assert_eq!(
            encode_from_json(&s, EVERYTHING, &second).unwrap(),
            bytes,
            "{name}: encoding is deterministic"
        );
    }
}

#[test]
fn non_finite_floats_and_alternative_spellings() {
    let s = everything();
    let input = json!({
        "name": "x", "f32": "nan", "f64": "-inf", "floats": ["inf", 2],
        "b": 1, "flags": "B|C", "color": 5, "payload_type": "vehicle_does_not_matter"
    });
    // Unknown union member names are refused...
    assert!(encode_from_json(&s, EVERYTHING, &input).is_err());
    // ...known ones work, also spelled as the number, and with values.
    let mut input = input;
    input["payload_type"] = json!(4);
    input["payload"] = json!("text member");
    let v = decode_to_json(&s, EVERYTHING, &encode_from_json(&s, EVERYTHING, &input).unwrap()).unwrap();
    assert_eq!(v["f32"], json!("nan"));
    assert_eq!(v["f64"], json!("-inf"));
    assert_eq!(v["floats"], json!(["inf", 2.0]));
    assert_eq!(v["b"], json!(true));
    assert_eq!(v["flags"], json!("B C"));
    assert_eq!(v["color"], json!("Blue"));
    assert_eq!(v["payload_type"], json!("Text"));
    assert_eq!(v["payload"], json!("text member"));
    // Values outside an enum print as numbers and encode back.
    let odd = encode_from_json(&s, EVERYTHING, &json!({"name": "", "color": 3, "flags": 8})).unwrap();
    let v = decode_to_json(&s, EVERYTHING, &odd).unwrap();
    assert_eq!((v["color"].clone(), v["flags"].clone()), (json!(3), json!(8)));
    assert_eq!(encode_from_json(&s, EVERYTHING, &v).unwrap(), odd);
    // null means absent.
    let v = decode_to_json(
        &s,
        EVERYTHING,
        &encode_from_json(&s, EVERYTHING, &json!({"name": "", "note": null, "opt": null})).unwrap(),
    )
    .unwrap();
    assert!(v.get("note").is_none());
    assert_eq!(v["opt"], Value::Null);
}

#[test]
fn schema_model_matches_the_fbs() {
    let s = everything();
    assert_eq!(s.root_table.map(|i| s.objects[i].name.as_str()), Some(EVERYTHING));
    let pose = s.object("test.all.Pose").unwrap();
    assert!(pose.is_struct);
    assert_eq!(s.type_name(&pose.field("matrix").unwrap().ty), "[short:4]");
    assert_eq!(s.type_name(&pose.field("corners").unwrap().ty), "[test.all.Vec3:2]");
    let e = s.object(EVERYTHING).unwrap();
    assert_eq!(s.type_name(&e.field("colors").unwrap().ty), "[test.all.Color]");
    assert!(e.field("old").unwrap().deprecated);
    assert!(e.field("name").unwrap().required);
    assert!(e.field("opt").unwrap().optional);
    assert!(s.enum_named("test.all.Flags").unwrap().bit_flags);
    assert_eq!(
        e.fields.iter().map(|f| f.id).collect::<Vec<_>>(),
        (0..e.fields.len() as u16).collect::<Vec<_>>()
    );
    let err = s.table("test.all.Everythin").unwrap_err().to_string();
    assert_eq!(err, "type `test.all.Everythin` is not in the schema (did you mean `test.all.Everything`?)");
    assert_eq!(
        s.table("test.all.Vec3").unwrap_err().to_string(),
        "`test.all.Vec3` is a struct; a payload's root must be a table"
    );
}
