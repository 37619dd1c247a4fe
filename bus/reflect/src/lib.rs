//! # vbus-reflect — FlatBuffers <-> JSON without compiled types
//!
//! Tools and bridges see bus payloads whose types they were not built with. Publishers serve
//! the binary schema (`.bfbs`, flatc's reflection format) of what they publish, and this crate
//! reads payloads through it:
//!
//! - [`Schema::from_bfbs`] parses and validates a `.bfbs` into an owned model (hostile schemas
//!   are refused with an error, never a panic).
//! - [`decode_to_json`] verifies a payload against a table of the schema (the same bounded rules
//!   as the bus receivers: depth 64, 1,000,000 tables) and turns it into JSON.
//! - [`encode_from_json`] builds a payload from JSON; mismatches name the JSON path, what the
//!   schema expects and what was found: `$.kph: expected float, found string "fast"`.
//! - [`scalar_at`] reads one number by path (`wheels[2].rpm`) with bounds-checked reads, one
//!   step per path segment, for rule engines ([`check_path`] validates a path once).
//! - [`subset_bfbs`] cuts a `.bfbs` down to what one table needs (what each type serves).
//! - [`Schema::type_hash`] recomputes vbus' `Message::TYPE_HASH` from the schema.
//! - [`Schema::services`] lists the services a schema declares (`vbus_service`, `vbus_reply`).
//!
//! ## JSON mapping
//!
//! The mapping follows flatc's JSON (so `flatc --json` output encodes, and this crate's output
//! parses with `flatc -b`):
//!
//! | FlatBuffers | JSON |
//! |---|---|
//! | bool | `true` / `false` (encoding also takes `0` / `1`) |
//! | integers | numbers (64-bit values exact) |
//! | float, double | numbers; `"nan"`, `"inf"`, `"-inf"` as strings; a float prints as its shortest decimal (`0.1`, not `0.10000000149011612`) |
//! | enum | the value's name; a value outside the enum as a number; `bit_flags` enums as space-separated names (`"SensorLost Timeout"`) |
//! | string | string |
//! | vector, fixed array | array |
//! | table, struct | object; fields absent from a table are omitted, except scalars, which show their default (optional scalars: `null`); deprecated fields are skipped |
//! | union field `u` | `"u_type": "Member"` and `"u": { ... }` (`"u_type": "NONE"` when empty) |
//!
//! Known limit of the input: flatc 23.5.26 writes `ulong` field defaults above `i64::MAX` into
//! the `.bfbs` as 0, so such defaults decode as 0.
//!
//! ## Example
//! ```
//! # fn demo(bfbs: &[u8], payload: &[u8]) -> Result<(), vbus_reflect::Error> {
//! use vbus_reflect::{Schema, decode_to_json, encode_from_json};
//! let schema = Schema::from_bfbs(bfbs)?;
//! let json = decode_to_json(&schema, "demo.vehicle.VehicleSpeed", payload)?;
//! let again = encode_from_json(&schema, "demo.vehicle.VehicleSpeed", &json)?;
//! # let _ = again; Ok(()) }
//! ```
#![warn(missing_docs)]

mod builder;
mod decode;
mod encode;
mod error;
mod hash;
mod path;
mod read;
/// flatc's Rust code for `reflection.fbs` (the `.bfbs` format itself), for tools that need the
/// raw tables (vbus-codegen).
#[doc(hidden)]
#[allow(
    unused_imports,
    dead_code,
    clippy::all,
    clippy::pedantic,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    deprecated,
    unsafe_op_in_unsafe_fn,
    unused_unsafe,
    rust_2018_idioms,
    mismatched_lifetime_syntaxes
)]
pub mod reflection_generated;
mod schema;
mod service;
mod subset;
mod suggest;

pub use decode::{Limits, decode_to_json, decode_to_json_with, verifier, verify};
pub use encode::encode_from_json;
pub use error::Error;
pub use hash::fnv1a64;
pub use path::{check_path, scalar_at};
pub use schema::{BaseType, Enum, EnumVal, Field, Object, Schema, Type};
pub use service::ServiceDecl;
pub use subset::{subset_bfbs, subsets_bfbs};
pub use suggest::did_you_mean;
