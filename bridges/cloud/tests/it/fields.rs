//! The schema-driven field reader, against a real `.bfbs` and payloads made by flatc and by the
//! Rust builder.

use vbus_cloud::fields::{FieldError, Schema};

use crate::fixtures::{SPEED_BFBS, SPEED_SAMPLE_BIN, speed_bytes, speed_engine};

fn read(path: &str, payload: &[u8]) -> Result<f64, FieldError> {
    Schema::parse(SPEED_BFBS).unwrap().resolve("test.Speed", path).unwrap().read(payload)
}

#[test]
fn reads_scalars_nested_tables_structs_and_defaults_from_a_flatc_payload() {
    let schema = Schema::parse(SPEED_BFBS).unwrap();
    let mut names: Vec<&str> = schema.type_names().collect();
    names.sort();
    assert_eq!(names, vec!["test.Engine", "test.Speed", "test.Vec2"]);
    let p = SPEED_SAMPLE_BIN;
    assert_eq!(read("kph", p).unwrap(), 87.5);
    assert_eq!(read("count", p).unwrap(), 42.0);
    assert_eq!(read("engine.rpm", p).unwrap(), 2300.0);
    assert_eq!(read("engine.temp", p).unwrap(), -40.0, "absent: the schema default");
    assert_eq!(read("pos.x", p).unwrap(), 1.5);
    assert_eq!(read("pos.y", p).unwrap(), -2.25);
    assert_eq!(read("gear", p).unwrap(), 3.0, "absent: the schema default");
    assert_eq!(read("odo", p).unwrap(), 12345.125);
    assert_eq!(read("ready", p).unwrap(), 1.0);
    assert_eq!(read("limit", p), Err(FieldError::Absent("limit".into())), "optional scalar, absent");
}

#[test]
fn reads_payloads_of_the_rust_builder() {
    let with = speed_bytes(&speed_engine(131.25, 7, "x", Some((900, 95))));
    assert_eq!(read("kph", &with).unwrap(), 131.25);
    assert_eq!(read("engine.temp", &with).unwrap(), 95.0);
    let without = speed_bytes(&speed_engine(0.0, 0, "", None));
    assert_eq!(read("kph", &without).unwrap(), 0.0);
    assert_eq!(read("engine.temp", &without), Err(FieldError::Absent("engine".into())));
}

#[test]
fn bad_paths_say_what_exists() {
    let schema = Schema::parse(SPEED_BFBS).unwrap();
    let e = schema.resolve("test.Speed", "speed").unwrap_err().to_string();
    assert!(e.contains("no field `speed`") && e.contains("kph") && e.contains("engine"), "{e}");
    let e = schema.resolve("test.Speed", "label").unwrap_err().to_string();
    assert!(e.contains("a string") && e.contains("expected a number"), "{e}");
    let e = schema.resolve("test.Speed", "engine").unwrap_err().to_string();
    assert!(e.contains("a table or struct"), "{e}");
    let e = schema.resolve("test.Speed", "kph.x").unwrap_err().to_string();
    assert!(e.contains("descend"), "{e}");
    assert!(matches!(schema.resolve("test.Nope", "kph"), Err(FieldError::UnknownType(_))));
    assert!(matches!(schema.resolve("test.Vec2", "x"), Err(FieldError::WrongKind { .. })));
}

#[test]
fn malformed_input_is_an_error_never_a_panic() {
    assert!(matches!(Schema::parse(b"not a schema"), Err(FieldError::Schema(_))));
    assert!(matches!(Schema::parse(&[]), Err(FieldError::Schema(_))));
    // Every truncation of a real schema and payload, and byte flips all over them.
    for n in 0..SPEED_BFBS.len() {
        let _ = Schema::parse(&SPEED_BFBS[..n]);
    }
    let path = Schema::parse(SPEED_BFBS).unwrap().resolve("test.Speed", "pos.y").unwrap();
    for n in 0..SPEED_SAMPLE_BIN.len() {
        let _ = path.read(&SPEED_SAMPLE_BIN[..n]);
    }
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        let mut p = SPEED_SAMPLE_BIN.to_vec();
        for _ in 0..3 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let i = (rng % p.len() as u64) as usize;
            p[i] = (rng >> 32) as u8;
        }
        let _ = path.read(&p);
        let mut s = SPEED_BFBS.to_vec();
        let i = (rng % s.len() as u64) as usize;
        s[i] ^= (rng >> 40) as u8;
        if let Ok(schema) = Schema::parse(&s) {
            let _ = schema.resolve("test.Speed", "engine.temp").map(|p| p.read(SPEED_SAMPLE_BIN));
        }
    }
}
