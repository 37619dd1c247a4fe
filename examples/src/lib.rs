//! Types generated from `schemas/vehicle.fbs`, shared by the examples and the demo.
#![allow(missing_docs)]
// (The generated modules have no docs of their own; `support` documents itself.)
// flatc-derived doc comments in the generated code name their own link targets explicitly.
#![allow(rustdoc::redundant_explicit_links)]

vbus::include_topics!("vehicle");

/// Types and topics generated from the Tesla Model 3 DBC (`testdata/dbc/kuksa/Model3CAN.dbc`).
pub mod model3 {
    vbus::include_topics!("model3");
}

pub mod support;
