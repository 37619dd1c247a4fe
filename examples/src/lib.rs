//! Types generated from `schemas/vehicle.fbs`, shared by the examples and the demo.
#![allow(missing_docs)]

vbus::include_topics!("vehicle");
