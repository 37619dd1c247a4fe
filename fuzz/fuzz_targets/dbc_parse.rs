//! DBC files: parse, then everything derived from a parsed database (decode plans, FlatBuffers
//! tables and their canonical form), and decode one frame with every message plan.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(db) = vbus_dbc::Database::parse(data) else { return };
    let plan = db.decode_plan();
    let frame = [0xa5u8; 64];
    for m in plan.messages() {
        let _ = m.decode_to_vec(&frame[..m.size().min(64)]);
        let _ = m.decode_to_vec(&frame[..1]);
    }
    let tables = vbus_dbc::fbs::tables(&db, "fuzz");
    for t in &tables {
        let _ = t.canonical();
    }
});
