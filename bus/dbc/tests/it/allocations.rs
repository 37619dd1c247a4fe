//! The decode and encode hot paths allocate nothing.

use vbus_dbc::RangeCheck;
use vbus_dbc::candump::Reader;

use crate::common::{load, testdata};
use crate::counting_allocator::allocations;

#[test]
fn decode_and_encode_do_not_allocate() {
    // The counter counts.
    let before = allocations();
    std::hint::black_box(Vec::<u8>::with_capacity(8));
    assert_eq!(allocations(), before + 1);

    for (dbc, log) in [
        ("dbc/kuksa/Model3CAN.dbc", "logs/synthetic/Model3CAN.log"),
        ("dbc/cantools/multiplex_2.dbc", "logs/synthetic/multiplex_2.log"),
        ("dbc/opendbc/gm_global_a_lowspeed_1818125.dbc", "logs/synthetic/gm_global_a_lowspeed_1818125.log"),
        ("dbc/crafted/edge_cases.dbc", "logs/crafted/edge_cases.log"),
    ] {
        let plan = load(&testdata().join(dbc)).decode_plan();
        let frames: Vec<_> = Reader::open(testdata().join(log)).unwrap().filter_map(Result::ok).collect();
        let mut values = vec![None; 512];
        let mut out = [0u8; 64];
        let (mut decoded, mut errors, mut sum) = (0usize, 0usize, 0.0f64);

        let before = allocations();
        for frame in &frames {
            let Some(msg) = plan.message(frame.id, frame.extended) else { continue };
            match msg.decode(frame.data(), |_, v| sum += v.as_f64()) {
                Ok(()) => decoded += 1,
                Err(e) => {
                    errors += 1;
                    std::hint::black_box(&e);
                }
            }
            if msg.decode_into(frame.data(), &mut values).is_ok() {
                let _ = msg.encode(&values, &mut out, RangeCheck::RawOnly);
                let _ = msg.encode(&values, &mut out, RangeCheck::Full);
            }
        }
        let during = allocations() - before;
        std::hint::black_box(sum);
        assert!(decoded > 0, "{log}: nothing decoded");
        assert_eq!(
            during, 0,
            "{log}: {during} allocations while decoding {decoded} and failing {errors} frames"
        );
    }
}
