//! Decode throughput of the compiled plans, on the same frames the reference decoder gets in
//! `scripts/bench_can.py` (which runs this and prints the side-by-side ratio).
//!
//! `cargo bench -p vbus-dbc --bench decode -- DBC LOG [DBC LOG ...]` prints one JSON line per pair:
//! `{"dbc":..,"log":..,"frames":N,"decoded":D,"frames_per_s":F}` (best of 5 rounds).

use std::time::{Duration, Instant};

use vbus_dbc::{Database, Value, candump::Reader};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let testdata = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata");
    let pairs: Vec<(String, String)> = if args.len() >= 2 {
        args.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect()
    } else {
        vec![
            (
                format!("{testdata}/dbc/kuksa/Model3CAN.dbc"),
                format!("{testdata}/logs/real/tesla_model3_kuksa_dogmode.log"),
            ),
            (
                format!("{testdata}/dbc/opendbc/ford_lincoln_base_pt.dbc"),
                format!("{testdata}/logs/synthetic/ford_lincoln_base_pt.log"),
            ),
        ]
    };
    for (dbc, log) in pairs {
        let db = Database::from_file(&dbc).expect("DBC");
        let plan = db.decode_plan();
        let frames: Vec<_> = Reader::open(&log).expect("log").filter_map(Result::ok).collect();
        let mut best = f64::MAX;
        let mut decoded = 0u64;
        // Consume values without converting: decoding is what is measured (an i128 -> f64
        // conversion is a libcall that would cost more than the decode itself).
        let mut sink = 0u64;
        for _ in 0..5 {
            let start = Instant::now();
            let mut rounds = 0u64;
            // At least 200 ms per measurement so timer resolution does not matter.
            while start.elapsed() < Duration::from_millis(200) {
                decoded = 0;
                for f in &frames {
                    if let Some(m) = plan.message(f.id, f.extended)
                        && m.decode(f.data(), |_, v| {
                            sink ^= match v {
                                Value::Int(i) => i as u64,
                                Value::Float(x) => x.to_bits(),
                                Value::F32(x) => u64::from(x.to_bits()),
                            }
                        })
                        .is_ok()
                    {
                        decoded += 1;
                    }
                }
                rounds += 1;
            }
            best = best.min(start.elapsed().as_secs_f64() / rounds as f64);
        }
        std::hint::black_box(sink);
        println!(
            "{{\"dbc\":{:?},\"log\":{:?},\"frames\":{},\"decoded\":{},\"frames_per_s\":{:.0}}}",
            dbc,
            log,
            frames.len(),
            decoded,
            frames.len() as f64 / best
        );
    }
}
