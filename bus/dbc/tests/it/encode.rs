//! Encoding: known byte vectors (computed with cantools 45.1.0), range
//! checks and their error messages, multiplexing.

use vbus_dbc::{Database, EncodeError, MessagePlan, RangeCheck, Value};

const DBC: &str = r#"VERSION ""
BU_: ECU
BO_ 496 Motor: 8 ECU
 SG_ Speed : 7|12@0+ (0.25,0) [0|1000] "rpm" ECU
 SG_ Torque : 11|10@0- (0.5,-10) [-200|200] "Nm" ECU
 SG_ Mode M : 32|4@1+ (1,0) [0|15] "" ECU
 SG_ Temp m1 : 40|8@1- (1,-40) [-40|85] "degC" ECU
 SG_ Volt m2 : 40|16@1+ (0.01,0) [0|600] "V" ECU
 SG_ Ratio : 56|8@1+ (0.5,0) [0|100] "%" ECU
BO_ 2147484000 Big: 16 ECU
 SG_ Count : 0|64@1+ (1,0) [0|0] "" ECU
 SG_ Gain : 64|32@1- (1,0) [0|0] "" ECU
 SG_ Signed64 : 103|32@0- (2,5) [0|0] "" ECU
VAL_ 496 Ratio 255 "SNA" ;
VAL_ 496 Mode 1 "Temp" 2 "Volt" 3 "Nothing" ;
SIG_VALTYPE_ 2147484000 Gain : 1;
"#;

fn plan() -> vbus_dbc::DecodePlan {
    Database::parse(DBC.as_bytes()).unwrap().decode_plan()
}

/// Values by name; unnamed signals are `None`.
fn values(msg: &MessagePlan, named: &[(&str, Value)]) -> Vec<Option<Value>> {
    let mut v = vec![None; msg.signal_count()];
    for (name, value) in named {
        v[msg.signal_index(name).unwrap_or_else(|| panic!("no signal {name}"))] = Some(*value);
    }
    v
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn known_vectors() {
    let plan = plan();
    let motor = plan.message(496, false).unwrap();
    let v = values(
        motor,
        &[
            ("Speed", Value::Float(512.25)),
            ("Torque", Value::Float(-20.5)),
            ("Mode", Value::Int(1)),
            ("Temp", Value::Int(-12)),
            ("Ratio", Value::Float(33.5)),
        ],
    );
    let bytes = motor.encode_to_vec(&v, RangeCheck::Full).unwrap();
    assert_eq!(hex(&bytes), "801fac00011c0043");
    let decoded = motor.decode_to_vec(&bytes).unwrap();
    let got: Vec<(&str, Value)> = decoded.iter().map(|d| (d.name, d.value)).collect();
    assert_eq!(
        got,
        [
            ("Speed", Value::Float(512.25)),
            ("Torque", Value::Float(-20.5)),
            ("Mode", Value::Int(1)),
            ("Ratio", Value::Float(33.5)),
            ("Temp", Value::Int(-12))
        ]
    );

    // Mode 2 selects Volt; Ratio 127.5 is raw 255, labelled "SNA", so it
    // passes the [0|100] check.
    let v = values(
        motor,
        &[
            ("Speed", Value::Int(0)),
            ("Torque", Value::Int(0)),
            ("Mode", Value::Int(2)),
            ("Volt", Value::Float(13.57)),
            ("Ratio", Value::Float(127.5)),
        ],
    );
    assert_eq!(hex(&motor.encode_to_vec(&v, RangeCheck::Full).unwrap()), "00005000024d05ff");

    let big = plan.message(0x160, true).unwrap();
    let v = values(
        big,
        &[("Count", Value::Int(u64::MAX.into())), ("Gain", Value::F32(1.5)), ("Signed64", Value::Int(-7))],
    );
    let bytes = big.encode_to_vec(&v, RangeCheck::Full).unwrap();
    assert_eq!(hex(&bytes), "ffffffffffffffff0000c03ffffffffa");
    let mut back = vec![None; big.signal_count()];
    big.decode_into(&bytes, &mut back).unwrap();
    assert_eq!(back, v, "64-bit integers and float32 come back exactly");
}

#[test]
fn range_errors_name_signal_value_and_range() {
    let plan = plan();
    let motor = plan.message(496, false).unwrap();
    let base = [
        ("Speed", Value::Int(0)),
        ("Torque", Value::Int(0)),
        ("Mode", Value::Int(1)),
        ("Temp", Value::Int(20)),
        ("Ratio", Value::Int(0)),
    ];
    let with = |name: &str, value: Value| {
        let mut named = base.to_vec();
        named.iter_mut().find(|(n, _)| *n == name).unwrap().1 = value;
        values(motor, &named)
    };
    let err = |name: &str, value: Value, check: RangeCheck| {
        let mut out = [0xAAu8; 8];
        let e = motor.encode(&with(name, value), &mut out, check).unwrap_err();
        assert_eq!(out, [0xAA; 8], "nothing is written on error");
        e.to_string()
    };

    assert_eq!(
        err("Speed", Value::Float(1001.0), RangeCheck::Full),
        "message 'Motor': signal 'Speed' value 1001 is outside its DBC range [0, 1000]"
    );
    assert_eq!(
        err("Temp", Value::Int(-41), RangeCheck::Full),
        "message 'Motor': signal 'Temp' value -41 is outside its DBC range [-40, 85]"
    );
    // Within the tolerance of a millionth of the factor: accepted.
    assert!(motor.encode_to_vec(&with("Speed", Value::Float(1000.0000001)), RangeCheck::Full).is_ok());
    // Outside the DBC range but inside the field: fine without the check.
    assert!(motor.encode_to_vec(&with("Speed", Value::Float(1001.0)), RangeCheck::RawOnly).is_ok());
    assert_eq!(
        err("Speed", Value::Float(1024.0), RangeCheck::RawOnly),
        "message 'Motor': signal 'Speed' value 1024 does not fit its 12-bit unsigned field, which holds 0 to 1023.75"
    );
    assert_eq!(
        err("Temp", Value::Int(100), RangeCheck::RawOnly),
        "message 'Motor': signal 'Temp' value 100 does not fit its 8-bit signed field, which holds -168 to 87"
    );
    assert_eq!(
        err("Ratio", Value::Float(f64::NAN), RangeCheck::RawOnly),
        "message 'Motor': signal 'Ratio' is an integer signal and cannot encode NaN"
    );
    assert_eq!(
        err("Mode", Value::Int(4), RangeCheck::Full),
        "message 'Motor': multiplexer 'Mode' value 4 selects nothing the DBC defines"
    );
    let e = motor.encode(&with("Speed", Value::Float(1010.0)), &mut [0u8; 8], RangeCheck::Full).unwrap_err();
    assert!(
        matches!(e, EncodeError::OutOfRange { ref signal, min: Some(0.0), max: Some(1000.0), .. } if &**signal == "Speed"),
        "{e:?}"
    );
}

#[test]
fn multiplexing_decides_what_is_needed() {
    let plan = plan();
    let motor = plan.message(496, false).unwrap();
    // Mode 2 needs Volt, not Temp; a Temp value is ignored.
    let v = values(
        motor,
        &[
            ("Speed", Value::Int(0)),
            ("Torque", Value::Int(0)),
            ("Mode", Value::Int(2)),
            ("Temp", Value::Int(20)),
            ("Ratio", Value::Int(0)),
        ],
    );
    assert_eq!(
        motor.encode_to_vec(&v, RangeCheck::Full).unwrap_err().to_string(),
        "message 'Motor': no value for signal 'Volt', which the given multiplexer values make present"
    );
    // Mode 3 is defined by its VAL_ label only and selects nothing more.
    let v = values(
        motor,
        &[
            ("Speed", Value::Int(0)),
            ("Torque", Value::Int(0)),
            ("Mode", Value::Int(3)),
            ("Ratio", Value::Int(0)),
        ],
    );
    let bytes = motor.encode_to_vec(&v, RangeCheck::Full).unwrap();
    let names: Vec<&str> = motor.decode_to_vec(&bytes).unwrap().iter().map(|d| d.name).collect();
    assert_eq!(names, ["Speed", "Torque", "Mode", "Ratio"]);
    // Without the multiplexer nothing can be decided.
    let v = values(motor, &[("Speed", Value::Int(0)), ("Torque", Value::Int(0)), ("Ratio", Value::Int(0))]);
    assert_eq!(
        motor.encode_to_vec(&v, RangeCheck::Full).unwrap_err().to_string(),
        "message 'Motor': no value for signal 'Mode', which the given multiplexer values make present"
    );
}

#[test]
fn padding_is_the_callers() {
    let plan = plan();
    let motor = plan.message(496, false).unwrap();
    let v = values(
        motor,
        &[
            ("Speed", Value::Int(0)),
            ("Torque", Value::Int(-10)),
            ("Mode", Value::Int(3)),
            ("Ratio", Value::Int(0)),
        ],
    );
    let mut out = [0xFFu8; 8];
    motor.encode(&v, &mut out, RangeCheck::Full).unwrap();
    // Bits that hold no signal for Mode 3 are kept: the low 2 bits of byte
    // 2, byte 3, the high nibble of byte 4, bytes 5 and 6.
    assert_eq!(hex(&out), "000003fff3ffff00");
    let mut short = [0u8; 7];
    assert_eq!(
        motor.encode(&v, &mut short, RangeCheck::Full).unwrap_err().to_string(),
        "message 'Motor': expected an output buffer of at least 8 bytes, found 7"
    );
}
