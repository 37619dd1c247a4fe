//! Parsing: every real-world DBC parses into what cantools sees; quirky
//! files are repaired with warnings naming the line; broken files fail with
//! errors naming the line.

use vbus_dbc::{AttributeValue, ByteOrder, Database, ValueType};

use crate::common::{DBC_DIRS, dbc_files, load, testdata};

/// (file, messages, signals, extended, multiplexed, with cycle time), as
/// counted by cantools 45.1.0.
const CANTOOLS_COUNTS: &[(&str, usize, usize, usize, usize, usize)] = &[
    ("cantools/BU_BO_REL_.dbc", 1, 1, 0, 0, 0),
    ("cantools/abs.dbc", 18, 89, 0, 1, 18),
    ("cantools/attributes.dbc", 2, 2, 1, 0, 1),
    ("cantools/big_numbers.dbc", 2, 2, 1, 0, 1),
    ("cantools/choices.dbc", 1, 1, 0, 0, 0),
    ("cantools/cp1252.dbc", 0, 0, 0, 0, 0),
    ("cantools/empty_ns.dbc", 0, 0, 0, 0, 0),
    ("cantools/fd_test.dbc", 4, 4, 2, 0, 0),
    ("cantools/floating_point.dbc", 2, 3, 0, 0, 0),
    ("cantools/foobar.dbc", 5, 8, 4, 0, 5),
    ("cantools/issue_184_extended_mux_cascaded.dbc", 1, 5, 1, 1, 0),
    ("cantools/issue_184_extended_mux_independent_multiplexors.dbc", 1, 6, 1, 1, 0),
    ("cantools/issue_184_extended_mux_multiple_values.dbc", 1, 4, 1, 1, 0),
    ("cantools/issue_207_sig_plus.dbc", 1, 2, 0, 0, 0),
    ("cantools/issue_636_negative_scaling.dbc", 1, 1, 0, 0, 0),
    ("cantools/j1939.dbc", 2, 2, 2, 0, 0),
    ("cantools/long_names.dbc", 10, 13, 0, 0, 0),
    ("cantools/message-dlc-zero.dbc", 1, 0, 0, 0, 0),
    ("cantools/motohawk.dbc", 1, 3, 0, 0, 0),
    ("cantools/multiplex_2.dbc", 4, 19, 4, 4, 0),
    ("cantools/no_signals.dbc", 2, 0, 0, 0, 0),
    ("cantools/padding_bit_order.dbc", 5, 13, 0, 0, 0),
    ("cantools/sig_groups.dbc", 4, 10, 0, 0, 0),
    ("cantools/signed.dbc", 11, 18, 0, 0, 0),
    ("cantools/val_table.dbc", 1, 1, 0, 0, 0),
    ("cantools/variable_dlc.dbc", 2, 8, 2, 0, 0),
    ("cantools/vehicle.dbc", 217, 462, 217, 0, 0),
    ("kuksa/Model3CAN.dbc", 160, 2754, 0, 29, 40),
    ("opendbc/ESR.dbc", 80, 868, 0, 0, 0),
    ("opendbc/ford_lincoln_base_pt.dbc", 331, 2150, 49, 0, 150),
    ("opendbc/gm_global_a_high_voltage_management.dbc", 12, 125, 0, 5, 0),
    ("opendbc/gm_global_a_lowspeed_1818125.dbc", 367, 3210, 365, 0, 0),
    ("opendbc/gwm_haval_h6_phev_2024.dbc", 27, 135, 0, 0, 0),
    ("opendbc/hyundai_i30_2014.dbc", 32, 415, 0, 0, 0),
    ("opendbc/tesla_model3_vehicle.dbc", 11, 209, 0, 1, 0),
    ("opendbc/toyota_prius_2010_pt.dbc", 26, 78, 0, 0, 0),
    ("opendbc/vw_mqb.dbc", 113, 1348, 12, 1, 0),
];

#[test]
fn every_reference_dbc_parses_like_cantools() {
    let mut seen = 0;
    let mut report = Vec::new();
    for dir in DBC_DIRS {
        for path in dbc_files(dir) {
            let rel = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            let db = load(&path);
            let ms = db.messages();
            let got = (
                ms.len(),
                ms.iter().map(|m| m.signals.len()).sum::<usize>(),
                ms.iter().filter(|m| m.extended).count(),
                ms.iter().filter(|m| m.is_multiplexed()).count(),
                ms.iter().filter(|m| m.cycle_time_ms.is_some()).count(),
            );
            match CANTOOLS_COUNTS.iter().find(|c| c.0 == rel) {
                Some(&(_, a, b, c, d, e)) => {
                    seen += 1;
                    if got != (a, b, c, d, e) {
                        report.push(format!("{rel}: (messages, signals, extended, multiplexed, cyclic) = {got:?}, cantools says {:?}", (a, b, c, d, e)));
                    }
                }
                // issue_199.dbc: cantools rejects it (29-bit IDs without flag).
                None => assert_eq!(rel, "cantools/issue_199.dbc", "{rel} has no reference counts"),
            }
            // The reference files are clean but for two known problems.
            for w in &db.warnings {
                let known = (rel == "cantools/issue_199.dbc"
                    && w.message.contains("without the extended flag"))
                    || (rel == "opendbc/vw_mqb.dbc"
                        && w.message.starts_with("CM_ for signal")
                        && w.message.ends_with("which does not exist; ignored"));
                if !known {
                    report.push(format!("{rel}: unexpected warning: {w}"));
                }
            }
            if rel == "opendbc/vw_mqb.dbc" {
                assert_eq!(db.warnings.len(), 17, "vw_mqb comments 17 signals it does not define");
            }
        }
    }
    assert_eq!(seen, CANTOOLS_COUNTS.len());
    assert!(report.is_empty(), "{}", report.join("\n"));
}

fn dbc(rel: &str) -> Database {
    load(&testdata().join("dbc").join(rel))
}

#[test]
fn header_less_and_crlf_files() {
    // No VERSION/NS_/BS_/BU_ at all: the file opens with BO_.
    let gwm = dbc("opendbc/gwm_haval_h6_phev_2024.dbc");
    assert_eq!(gwm.messages().iter().filter(|m| m.size > 8).count(), 21);
    assert!(gwm.messages().iter().filter(|m| m.size > 8).all(|m| m.is_fd));
    // No NS_ and BS_; multiplexer indicator touching the colon (`m0:`).
    let tesla = dbc("opendbc/tesla_model3_vehicle.dbc");
    let m = tesla.message_by_name("VCLEFT_switchStatus").unwrap();
    assert!(m.signals.iter().any(|s| s.multiplexing.multiplexed_by.is_some()));
    // CRLF everywhere.
    let esr = dbc("opendbc/ESR.dbc");
    assert_eq!(esr.messages().len(), 80);
    assert!(esr.messages().iter().flat_map(|m| &m.signals).all(|s| !s.unit.contains('\r')));
}

#[test]
fn text_encodings() {
    // UTF-8 German comments, some over several lines.
    let vw = dbc("opendbc/vw_mqb.dbc");
    let comments: Vec<&str> =
        vw.messages().iter().flat_map(|m| &m.signals).filter_map(|s| s.comment.as_deref()).collect();
    assert!(comments.iter().any(|c| c.contains('ü')), "no ü in vw_mqb comments");
    assert!(comments.iter().any(|c| c.contains('\n')), "no multi-line comment in vw_mqb");
    // Windows-1252 (0x80-0xFF) in a node comment.
    let cp = dbc("cantools/cp1252.dbc");
    let text = cp.nodes.iter().filter_map(|n| n.comment.as_deref()).collect::<String>();
    assert!(text.contains('€') && text.contains('ÿ'), "{text:?}");
    // cp1252 degree sign in units.
    let abs = dbc("cantools/abs.dbc");
    assert!(abs.messages().iter().flat_map(|m| &m.signals).any(|s| s.unit.contains('°')));
}

#[test]
fn ids_fd_and_cycle_times() {
    let ford = dbc("opendbc/ford_lincoln_base_pt.dbc");
    // VFrameFormat default ExtendedCAN_FD: every message is FD.
    assert!(ford.messages().iter().all(|m| m.is_fd));
    assert_eq!(ford.messages().iter().filter(|m| m.size == 64).count(), 31);

    let fd = dbc("cantools/fd_test.dbc");
    let fd_flags: Vec<(&str, bool, bool)> =
        fd.messages().iter().map(|m| (m.name.as_str(), m.extended, m.is_fd)).collect();
    assert_eq!(
        fd_flags,
        [
            ("TestMsg_Ex", true, false),
            ("TestMsg_Std", false, false),
            ("TestMsg_FDStd", false, true),
            ("TestMsg_FDEx", true, true)
        ]
    );

    let foobar = dbc("cantools/foobar.dbc");
    let fum = foobar.message(0x12331, true).unwrap();
    assert_eq!((fum.name.as_str(), fum.cycle_time_ms, fum.is_fd), ("Fum", Some(1), false));
    let canfd = foobar.message_by_name("CanFd").unwrap();
    assert_eq!((canfd.size, canfd.is_fd, canfd.cycle_time_ms), (64, true, Some(100)));
    assert_eq!(foobar.message_by_name("Bar").unwrap().senders, ["FOO", "BAR"]);
    let model3 = dbc("kuksa/Model3CAN.dbc");
    assert_eq!(model3.message_by_name("BMS_DogMode").map(|m| m.id), Some(827));
}

#[test]
fn long_names_are_used() {
    let db = dbc("cantools/long_names.dbc");
    let m = db.message(1, false).unwrap();
    assert_eq!(m.name, "M1234567890123456789012345678901");
    let m = db.message(0, false).unwrap();
    assert_eq!(
        (m.name.as_str(), m.dbc_name.as_str()),
        ("M123456789012345678901234567890123", "M12345678901234567890123456_0000")
    );
    assert_eq!(m.signals[0].name, "SSS12345678901234567890123456789012");
    assert_eq!(m.signals[0].dbc_name, "SSS12345678901234567890123456789");
    let sender = &db.message(2, false).unwrap().senders;
    assert_eq!(sender, &["N12345678901234567890123456789012"]);
    assert_eq!(db.environment_variables.len(), 2);
    assert_eq!(db.environment_variables[0].name, "E12345678901234567890123456789012");
}

#[test]
fn signal_details() {
    let fp = dbc("cantools/floating_point.dbc");
    let kinds: Vec<ValueType> = fp.messages().iter().flat_map(|m| &m.signals).map(|s| s.value_type).collect();
    assert!(kinds.contains(&ValueType::Float32) && kinds.contains(&ValueType::Float64), "{kinds:?}");

    let plus = dbc("cantools/issue_207_sig_plus.dbc");
    let s = &plus.messages()[0].signals;
    assert!(s.iter().any(|s| s.min == Some(-128.0) && s.max == Some(127.0)));

    let choices = dbc("cantools/choices.dbc");
    let foo = &choices.messages()[0].signals[0];
    assert_eq!(foo.value_descriptions.get(&-5).map(String::as_str), Some("A negative value"));
    assert_eq!(foo.value_descriptions.get(&1).map(String::as_str), Some("#%=*ä'"));

    let vt = dbc("cantools/val_table.dbc");
    assert_eq!(vt.value_tables.len(), 3);
    assert_eq!(vt.value_tables["Table1"].get(&1).map(String::as_str), Some("One"));

    let foobar = dbc("cantools/foobar.dbc");
    let foo = foobar.message_by_name("Foo").unwrap();
    assert_eq!(foo.signals[0].byte_order, ByteOrder::BigEndian);
    assert_eq!(foo.signals[1].comment.as_deref(), Some("Bar."));
    assert_eq!(foobar.nodes.iter().find(|n| n.name == "BAR").unwrap().comment.as_deref(), Some("fam \"1\""));
    assert_eq!(foobar.relation_attributes.len(), 2);
    assert_eq!(foobar.message_by_name("Fum").unwrap().signal_groups[0].signals, ["Fam", "Fum"]);
    assert_eq!(foobar.attributes.get("AFloat"), Some(&AttributeValue::Float(33.5)));

    let big = dbc("cantools/big_numbers.dbc");
    let def = big.attribute_definition("TheNodeAttribute").unwrap();
    assert_eq!(def.default, Some(AttributeValue::Int(100)));

    let attrs = dbc("cantools/attributes.dbc");
    let send_type = attrs.messages().iter().find_map(|m| attrs.message_attribute(m, "GenMsgSendType"));
    assert!(matches!(send_type, Some(AttributeValue::Enum(_))), "{send_type:?}");
}

#[test]
fn extended_multiplexing_roles() {
    let db = dbc("cantools/issue_184_extended_mux_cascaded.dbc");
    let m = &db.messages()[0];
    let role = |name: &str| {
        let s = m.signal(name).unwrap();
        let by = s.multiplexing.multiplexed_by.as_ref().map(|c| {
            (
                m.signals[c.multiplexer].name.clone(),
                c.values.iter().map(|r| (r.min, r.max)).collect::<Vec<_>>(),
            )
        });
        (s.multiplexing.is_multiplexer, by)
    };
    assert_eq!(role("MUX_A"), (true, None));
    assert_eq!(role("muxed_A_2_MUX_B"), (true, Some(("MUX_A".into(), vec![(2, 2)]))));
    assert_eq!(role("muxed_B_0"), (false, Some(("muxed_A_2_MUX_B".into(), vec![(0, 0)]))));

    let db = dbc("cantools/issue_184_extended_mux_multiple_values.dbc");
    let m = &db.messages()[0];
    let ranges: Vec<Vec<(u64, u64)>> = m
        .signals
        .iter()
        .filter_map(|s| s.multiplexing.multiplexed_by.as_ref())
        .map(|c| c.values.iter().map(|r| (r.min, r.max)).collect())
        .collect();
    assert!(ranges.iter().any(|r| r.len() > 1 || r.iter().any(|(a, b)| a != b)), "{ranges:?}");

    let db = dbc("cantools/issue_184_extended_mux_independent_multiplexors.dbc");
    let muxes = db.messages()[0].signals.iter().filter(|s| s.multiplexing.is_multiplexer).count();
    assert_eq!(muxes, 2);
}

// ----- quirky files -------------------------------------------------------

fn quirk(name: &str) -> Database {
    Database::from_file(testdata().join("dbc/opendbc_quirks").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn quirk_29_bit_ids_without_flag_are_extended() {
    let db = quirk("chrysler_cusw.dbc");
    let m = db.message_by_name("BSM_LEFT").unwrap();
    assert_eq!((m.id, m.extended), (103596083, true));
    let w = db.warnings.iter().find(|w| w.message.contains("BSM_LEFT")).expect("a warning about BSM_LEFT");
    assert!(w.message.contains("without the extended flag"), "{w}");
    assert_eq!(db.lines_of("BSM_LEFT"), w.line);
    // Standard IDs stay standard.
    assert!(!db.message_by_name("EPS_STATUS").unwrap().extended);

    let issue_199 = load(&testdata().join("dbc/cantools/issue_199.dbc"));
    assert!(issue_199.messages().iter().any(|m| m.extended));
}

#[test]
fn quirk_message_name_starting_with_a_digit_is_accepted() {
    let db = quirk("mazda_2017.dbc");
    let m = db.message_by_name("2017_5").unwrap();
    assert_eq!((m.id, m.size, m.line), (1275, 8, 273));
    // The file has two more problems, repaired with warnings: its last two
    // VAL_ lack the ';', and one Motorola signal runs past byte 7.
    let got: Vec<String> = db.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "DBC line 290: signal 'NEW_SIGNAL_4' (Motorola, start bit 56, 5 bits) uses bytes 7..=8 but message 'HVAC' has 8 bytes; frames where it is present cannot be decoded",
            "DBC line 790: VAL_ 1143 LEFT_BS_STATUS is not terminated by ';' (found 'VAL_' at line 791); taken to end there",
            "DBC line 791: VAL_ 1143 RIGHT_BS_STATUS is not terminated by ';' (found end of file)",
        ]
    );
    assert_eq!(
        db.message(1143, false).unwrap().signal("RIGHT_BS_STATUS").unwrap().value_descriptions.len(),
        3
    );
}

#[test]
fn quirk_val_for_missing_signal_is_ignored_with_warning() {
    let db = quirk("tesla_can.dbc");
    assert_eq!(db.warnings.len(), 1, "{:?}", db.warnings);
    let w = &db.warnings[0];
    assert_eq!(w.line, 783);
    assert!(
        w.message.contains("VAL_")
            && w.message.contains("UI_mapSpeedLimit")
            && w.message.contains("does not exist"),
        "{w}"
    );
    assert!(w.to_string().starts_with("DBC line 783: "), "{w}");
}

#[test]
fn quirk_comment_without_semicolon_ends_at_next_statement() {
    // Six network comments lack their ';' (the first on line 138; the data
    // README says 137); each ends at the BO_ on the next line.
    let db = quirk("toyota_radar_dsu_tssp.dbc");
    let lines: Vec<usize> = db.warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, [138, 147, 156, 166, 176, 186], "{:?}", db.warnings);
    assert_eq!(
        db.warnings[0].to_string(),
        "DBC line 138: CM_ comment is not terminated by ';' (found 'BO_' at line 139); taken to end there"
    );
    assert!(db.comment.as_deref().is_some_and(|c| c.starts_with("Front target\n")), "{:?}", db.comment);
    // The BO_ after it is parsed normally.
    assert_eq!(db.message_by_name("CLUSTER_F").map(|m| (m.id, m.signals.len())), Some((1664, 6)));
}

trait LineOf {
    fn lines_of(&self, message: &str) -> usize;
}

impl LineOf for Database {
    fn lines_of(&self, message: &str) -> usize {
        self.message_by_name(message).unwrap().line
    }
}

// ----- broken files ----------------------------------------------------------

fn error(src: &str) -> String {
    match Database::parse(src.as_bytes()) {
        Ok(db) => panic!("parsed, with warnings {:?}", db.warnings),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_lines_give_line_numbered_errors() {
    let header = "VERSION \"\"\n\nBU_: A B\n";
    let cases = [
        (
            "BO_ 100 M: 8 A\n SG_ S : 0|8@2+ (1,0) [0|0] \"\" B\n",
            "DBC line 5, column 14: expected byte order 0 (Motorola) or 1 (Intel) of signal 'S', found '2'",
        ),
        (
            "BO_ 100 M: 8 A\n SG_ S 0|8@1+ (1,0) [0|0] \"\" B\n",
            "DBC line 5, column 8: expected ':' or a multiplexer indicator (M, m<n>, m<n>M) after signal name 'S', found '0'",
        ),
        (
            "BO_ 100 M: 8 A\n SG_ S x1 : 0|8@1+ (1,0) [0|0] \"\" B\n",
            "DBC line 5, column 8: expected ':' or a multiplexer indicator (M, m<n>, m<n>M) after signal name 'S', found 'x1'",
        ),
        (
            "BO_ 100 M: 8 A\n SG_ S : 0|8@1+ (1,0) [0|0] B\n",
            "DBC line 5, column 29: expected unit string of signal 'S', found 'B'",
        ),
        (
            "BO_ 100 M: 8 A\n SG_ S : 0|8@1+ (1;0) [0|0] \"\" B\n",
            "DBC line 5, column 19: expected ',' between factor and offset of signal 'S', found ';'",
        ),
        ("BO_ x100 M: 8 A\n", "DBC line 4, column 5: expected message ID after BO_, found 'x100'"),
        ("BO_ 100 M 8 A\n", "DBC line 4, column 11: expected ':' after message name 'M', found '8'"),
        (
            "CM_ SG_ 100 S \"never closed;\n\nBO_ 1 X: 8 A\n",
            "DBC line 4, column 15: expected closing '\"' of the string that starts here, found end of file",
        ),
        (
            "CM_ BO_ 100 \"text\" garbage;\n",
            "DBC line 4, column 20: expected ';' to end the CM_ comment of line 4, found 'garbage'",
        ),
        (
            "BO_ 100 M: 8 A\n\nCM_ \"x\";\n SG_ S : 0|8@1+ (1,0) [0|0] \"\" B\n",
            "DBC line 7, column 2: expected SG_ lines only right after their BO_ message (or another SG_), found 'SG_'",
        ),
        (
            "BA_DEF_ BO_ \"X\" NUMBER 0 1;\n",
            "DBC line 4, column 17: expected attribute type INT, HEX, FLOAT, STRING or ENUM for \"X\", found 'NUMBER'",
        ),
        (
            "SG_MUL_VAL_ 100 S M 1 2;\n",
            "DBC line 4, column 23: expected '-' between the two ends of a value range in SG_MUL_VAL_ 100 S M, found '2'",
        ),
        (
            "VAL_ 100 S 1 \"a\" 2 ;\n",
            "DBC line 4, column 20: expected label string after value 2 of VAL_ 100 S, found ';'",
        ),
        ("}\n", "DBC line 4, column 1: expected a DBC keyword such as BO_, CM_, BA_ or VAL_, found '}'"),
    ];
    let mut wrong = Vec::new();
    for (body, want) in cases {
        let got = error(&format!("{header}{body}"));
        if got != want {
            wrong.push(format!("for {body:?}\n  got  {got}\n  want {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn repairs_are_warnings() {
    let db = Database::parse(
        b"BO_ 2047 A: 8 X\n SG_ s m1 : 0|8@1+ (1,0) [0|0] \"\" X\n SG_ z : 0|0@1+ (1,0) [0|0] \"\" X\n\
          BO_ 2048 B: 8 X\nBO_ 2047 C: 8 X\nFOO_ bar baz;\nCM_ SG_ 2047 nope \"x\";\nBA_ \"Undefined\" BO_ 9 1;\n\
          VAL_ 2047 s 1 \"one\";\nSIG_VALTYPE_ 2047 s : 1;\nCM_ \"no end\"",
    )
    .unwrap();
    let got: Vec<String> = db.warnings.iter().map(ToString::to_string).collect();
    let expected = [
        "DBC line 2: message 'A': signal 's' is marked m1 but the message has no multiplexer (M); taken as always present",
        "DBC line 3: signal 'z' has 0 bits; only 1 to 64 are supported, signal ignored",
        "DBC line 4: message 'B' has ID 2048 (0x800), more than 11 bits, without the extended flag 0x80000000; taken as a 29-bit extended ID",
        "DBC line 5: message 'C' reuses standard ID 0x7FF of the message at line 1; lookups find the first",
        "DBC line 6: unknown section 'FOO_' skipped",
        "DBC line 7: CM_ for signal 'nope' of message 2047, which does not exist; ignored",
        "DBC line 8: BA_ \"Undefined\" names message 9, which does not exist; ignored",
        "DBC line 10: SIG_VALTYPE_ 1 needs a 32-bit signal but 's' has 8 bits; kept as an integer",
        "DBC line 11: CM_ comment is not terminated by ';' (found end of file)",
    ];
    assert_eq!(got, expected);
    assert_eq!(db.messages().len(), 3);
    assert_eq!(db.message(0x7FF, false).unwrap().name, "A");
    assert_eq!(db.message(0x800, true).unwrap().name, "B");
    assert_eq!(db.message(0x7FF, false).unwrap().signals[0].value_descriptions.len(), 1);
}

/// Truncated or corrupted files give an error or a database, never a
/// panic, and whatever parses can be compiled and used to decode.
#[test]
fn mutated_files_never_panic() {
    let sources: Vec<Vec<u8>> = [
        "cantools/multiplex_2.dbc",
        "cantools/foobar.dbc",
        "opendbc/tesla_model3_vehicle.dbc",
        "cantools/long_names.dbc",
    ]
    .iter()
    .map(|rel| std::fs::read(testdata().join("dbc").join(rel)).unwrap())
    .collect();
    // A small deterministic generator keeps failures reproducible.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let alphabet = b" \n\r\t;:|@+-()[],\"0123456789mMSG_BOCVAL\xff\xc3";
    let (mut parsed, mut rejected) = (0, 0);
    for round in 0..400 {
        let mut bytes = sources[round % sources.len()].clone();
        match round % 3 {
            0 => bytes.truncate(next(bytes.len())),
            _ => {
                for _ in 0..1 + next(8) {
                    let at = next(bytes.len());
                    bytes[at] = alphabet[next(alphabet.len())];
                }
            }
        }
        match Database::parse(&bytes) {
            Ok(db) => {
                parsed += 1;
                let plan = db.decode_plan();
                for msg in plan.messages() {
                    let mut values = vec![None; msg.signal_count()];
                    let data: Vec<u8> = (0..msg.size()).map(|_| next(256) as u8).collect();
                    if msg.decode_into(&data, &mut values).is_ok() {
                        let _ = msg.encode(&values, &mut vec![0; msg.size()], vbus_dbc::RangeCheck::Full);
                    }
                }
            }
            Err(e) => {
                rejected += 1;
                assert!(e.line >= 1 && !e.expected.is_empty() && !e.found.is_empty(), "{e:?}");
            }
        }
    }
    assert!(parsed > 50 && rejected > 50, "parsed {parsed}, rejected {rejected}");
}

#[test]
fn circular_multiplexing_is_cut() {
    let db = Database::parse(
        b"BO_ 1 X: 2 N\n SG_ A m1M : 0|8@1+ (1,0) [0|0] \"\" N\n SG_ B m1M : 8|8@1+ (1,0) [0|0] \"\" N\n\
          SG_MUL_VAL_ 1 A B 1-1;\nSG_MUL_VAL_ 1 B A 1-1;\n",
    )
    .unwrap();
    let got: Vec<String> = db.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        ["DBC line 2: message 'X': multiplexing of signal 'A' is circular; taken as always present"]
    );
    let plan = db.decode_plan();
    let names: Vec<&str> =
        plan.message(1, false).unwrap().decode_to_vec(&[1, 1]).unwrap().iter().map(|d| d.name).collect();
    assert_eq!(names, ["A", "B"]);
}
