//! The types of the examples and the demo: the demo vehicle's, generated from
//! `schemas/vehicle.fbs` (in vbus-demo-types, re-exported here), and the Tesla Model 3 CAN bus',
//! generated from its DBC; and logging set-up.
#![allow(missing_docs)]
// (The generated modules have no docs of their own.)
// flatc-derived doc comments in the generated code name their own link targets explicitly.
#![allow(rustdoc::redundant_explicit_links)]

pub use vbus_demo_types::{SCHEMA_BFBS, SCHEMAS, TOPIC_PUBLISHERS, demo, services, topics};

/// Types and topics generated from the Tesla Model 3 DBC (`testdata/dbc/kuksa/Model3CAN.dbc`).
pub mod model3 {
    vbus::include_topics!("model3");
}

/// Logs on stderr, warnings and up unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}
