//! The DBC engine of vbus: parses CAN databases, compiles them into decode
//! plans, and encodes frames back.
//!
//! *Internal crate: applications use `vbus`; this one serves the code
//! generator (DBC -> FlatBuffers schema) and the CAN bridge.*
//!
//! # Concepts
//!
//! * A [`Database`] is a parsed DBC file: [`Message`]s with their
//!   [`Signal`]s (bit layout, scaling, range, unit, value labels, comments,
//!   attributes, multiplexing), plus nodes, value tables and attribute
//!   definitions. The parser copes with real-world files: missing header
//!   sections, CRLF, Windows-1252 or UTF-8 text, 29-bit IDs with or without
//!   the `0x80000000` flag, long names (`SystemSignalLongSymbol`), CAN FD
//!   (`VFrameFormat`, `BusType`), extended multiplexing (`SG_MUL_VAL_`),
//!   float signals (`SIG_VALTYPE_`). What it can repair it records as
//!   [`Warning`]s; what it cannot is a [`ParseError`] naming the line.
//! * A [`DecodePlan`] compiles every message once into a [`MessagePlan`]:
//!   per-signal byte span, shift, mask, sign and scaling, and the
//!   multiplexer conditions. Decoding a frame then allocates nothing and
//!   hashes nothing per signal; signals are reported as (index, [`Value`]).
//!   A multiplexed signal is present only if its multiplexer is present and
//!   has a selecting value, recursively (cascaded multiplexers).
//! * [`MessagePlan::encode`] is the inverse, with range checks and errors
//!   naming the signal, the value and the allowed range.
//! * [`candump`] reads SocketCAN logs; [`oracle`] prints decoded frames as
//!   the reference decoder (cantools) does, for comparison tests.
//!
//! # Example
//!
//! ```
//! use vbus_dbc::{Database, RangeCheck, Value};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Database::parse(br#"
//! BO_ 2147484672 Battery: 8 BMS
//!  SG_ Mode M : 0|4@1+ (1,0) [0|15] "" X
//!  SG_ Voltage m1 : 8|16@1+ (0.01,0) [0|600] "V" X
//!  SG_ Temp m2 : 8|8@1- (1,-40) [-40|85] "degC" X
//! BA_DEF_ BO_ "GenMsgCycleTime" INT 0 10000;
//! BA_ "GenMsgCycleTime" BO_ 2147484672 100;
//! "#)?;
//! let msg = db.message(0x400, true).expect("extended ID 0x400");
//! assert_eq!(msg.cycle_time_ms, Some(100));
//!
//! let plan = db.decode_plan();
//! let battery = plan.message(0x400, true).unwrap();
//! let mut values = vec![None; battery.signal_count()];
//! battery.decode_into(&[0x01, 0x10, 0x27, 0, 0, 0, 0, 0], &mut values)?;
//! assert_eq!(values[1], Some(Value::Float(100.0))); // 0x2710 * 0.01 V
//! assert_eq!(values[2], None); // Temp is only present when Mode = 2
//!
//! let frame = battery.encode_to_vec(&values, RangeCheck::Full)?;
//! assert_eq!(frame, [0x01, 0x10, 0x27, 0, 0, 0, 0, 0]);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod candump;
mod encode;
mod error;
pub mod fbs;
mod model;
pub mod naming;
pub mod oracle;
mod parser;
mod plan;
mod resolve;
mod text;

pub use encode::{EncodeError, RangeCheck};
pub use error::{LoadError, ParseError, Warning};
pub use model::{
    AttributeDefinition, AttributeObject, AttributeType, AttributeValue, Attributes, ByteOrder, Database,
    EnvironmentVariable, Message, Multiplexing, MuxCondition, Node, RelationAttribute, RelationTarget,
    Signal, SignalGroup, ValueRange, ValueTable, ValueType,
};
pub use plan::{DecodeError, DecodePlan, DecodedSignal, MessagePlan, Value};
