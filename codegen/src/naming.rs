//! Identifier conversions shared by the generators.
//!
//! They live in `vbus-dbc` (so that the DBC -> FlatBuffers mapping, which the CAN bridge also
//! uses at run time, names things exactly as the generated code does) and are re-exported here.

pub use vbus_dbc::naming::*;
