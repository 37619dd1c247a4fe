//! FlatBuffers payloads received by the CAN bridge (vbus -> CAN): verified and read as the
//! table of a DBC message. Tables of a few DBC files cover every scalar type, enums and
//! optional (multiplexed) fields; the first input byte picks the table.
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use vbus_dbc::{Database, fbs::TableSpec};

static SPECS: LazyLock<Vec<TableSpec>> = LazyLock::new(|| {
    let dbcs: [&[u8]; 5] = [
        include_bytes!("../../testdata/dbc/cantools/motohawk.dbc"),
        include_bytes!("../../testdata/dbc/cantools/floating_point.dbc"),
        include_bytes!("../../testdata/dbc/cantools/choices.dbc"),
        include_bytes!("../../testdata/dbc/cantools/signed.dbc"),
        include_bytes!("../../testdata/dbc/cantools/multiplex_2.dbc"),
    ];
    dbcs.iter()
        .flat_map(|d| vbus_dbc::fbs::tables(&Database::parse(d).expect("testdata DBC parses"), "fuzz"))
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let Some((&pick, payload)) = data.split_first() else { return };
    let spec = &SPECS[pick as usize % SPECS.len()];
    let mut out = vec![None; spec.fields.len()];
    let _ = vbus_can::table::decode(spec, payload, &mut out);
});
