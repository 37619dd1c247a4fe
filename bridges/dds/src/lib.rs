//! # vbus-dds — bridge between a vbus domain and a DDS domain
//!
//! See `README.md` for the design, configuration, set-up and figures.

pub mod bridge;
pub mod cdr;
pub mod dds;

/// The schema model the DDS types and CDR codec are built from ([`dds::DynTopic::new`],
/// [`cdr::encode`], [`cdr::decode`] take a [`vbus_reflect::Schema`]).
pub use vbus_reflect;
