//! vbus-codegen-tests integration tests (one binary): the types generated from `schemas/*.fbs`
//! (`fbs_types`), from the DBC files and the VSS tree (`dbc_vss_types`), and both over a real
//! bus (`bus`).

mod bus;
mod dbc_vss_types;
mod fbs_types;

use vbus::flatbuffers::{self, FlatBufferBuilder};
use vbus::{Message, Pack};

/// Pack with the `vbus::Pack` impl (as a publisher does), then verify and view: the bytes.
pub fn roundtrip<T: Message>(value: &impl Pack<T>) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let root = value.pack(&mut fbb);
    fbb.finish_minimal(root);
    let bytes = fbb.finished_data().to_vec();
    flatbuffers::root::<T::View<'_>>(&bytes).expect("generated type verifies");
    bytes
}
