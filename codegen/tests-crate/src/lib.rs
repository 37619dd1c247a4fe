//! Generated types for the vbus-codegen integration tests.
//!
//! `build.rs` runs the real `vbus_codegen` API on `.fbs` schemas, on every DBC file of
//! `testdata/dbc/{opendbc,cantools,kuksa}` and on the COVESA VSS 6.0 tree, and the modules below
//! include the results. That this crate compiles is itself the test that all generated code
//! compiles; `tests/` exercise the types and send them over a real bus.

/// Types generated from `schemas/vehicle.fbs` and `schemas/body.fbs`.
pub mod vehicle {
    vbus::include_topics!("vehicle");
}

/// FNV-1a 64, as documented for `Message::TYPE_HASH` (for tests that recompute hashes).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The whole COVESA VSS 6.0 tree (`testdata/vss/vss.json`): one table and topic per signal.
pub mod vss {
    vbus::include_topics!("vss");
}

/// One module per DBC file of `testdata/dbc/{opendbc,cantools,kuksa,opendbc_quirks,crafted}`, named
/// `<dir>_<file stem>` (which is also the bus name: topics are `can/<dir>_<stem>/<Message>`).
pub mod dbc {
    include!(concat!(env!("OUT_DIR"), "/all_dbc.rs"));
}
