//! The parsed database: messages, signals, value tables and attributes.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::error::{LoadError, ParseError, Warning};
use crate::plan::DecodePlan;

/// Raw value -> label, from `VAL_` or `VAL_TABLE_`, sorted by value.
pub type ValueTable = BTreeMap<i64, String>;

/// Attribute values set on one object (`BA_`), by attribute name.
/// Defaults from `BA_DEF_DEF_` are not copied in; see
/// [`Database::attribute_definition`].
pub type Attributes = BTreeMap<String, AttributeValue>;

/// How the bits of a signal are laid out in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Intel (`@1`): the start bit is the least significant bit, bit `n` is
    /// bit `n % 8` of byte `n / 8`, and more significant bits go to higher
    /// bit numbers.
    LittleEndian,
    /// Motorola (`@0`): the start bit is the most significant bit, numbered as
    /// for Intel; the field continues towards bit 0 of that byte, then on bit 7
    /// of the next byte (the DBC "sawtooth" numbering).
    BigEndian,
}

/// Representation of the raw value (`SIG_VALTYPE_`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// Two's complement or unsigned integer, as given by the signal's sign.
    Integer,
    /// IEEE 754 binary32 (`SIG_VALTYPE_ ... : 1`); the signal is 32 bits long.
    Float32,
    /// IEEE 754 binary64 (`SIG_VALTYPE_ ... : 2`); the signal is 64 bits long.
    Float64,
}

/// An inclusive range of multiplexer values, as written in `SG_MUL_VAL_`
/// (`3-5`) or implied by a simple `m3` indicator (`3-3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValueRange {
    /// Smallest value of the range.
    pub min: u64,
    /// Largest value of the range (inclusive).
    pub max: u64,
}

impl ValueRange {
    /// Whether a raw multiplexer value falls in the range. Negative values
    /// (from signed multiplexers) never do: DBC switch values are unsigned.
    pub fn contains(&self, raw: i64) -> bool {
        u64::try_from(raw).is_ok_and(|v| self.min <= v && v <= self.max)
    }
}

/// The condition under which a multiplexed signal is present in a frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MuxCondition {
    /// Index (in [`Message::signals`]) of the multiplexer switch.
    pub multiplexer: usize,
    /// Raw switch values selecting this signal (never empty).
    pub values: Vec<ValueRange>,
}

impl MuxCondition {
    /// Whether `raw`, the switch's raw value, selects the signal.
    pub fn matches(&self, raw: i64) -> bool {
        self.values.iter().any(|r| r.contains(raw))
    }
}

/// The multiplexing role of a signal.
///
/// The two fields are independent because extended multiplexing (`m2M`)
/// allows a signal to be multiplexed *and* to be a multiplexer for others.
/// A signal is present in a frame only if its multiplexer is present and has
/// a matching value, recursively up to a non-multiplexed switch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Multiplexing {
    /// This signal selects which other signals are present (`M`, `mNM`).
    pub is_multiplexer: bool,
    /// This signal is present only for some values of another (`mN`,
    /// `SG_MUL_VAL_`); `None` for signals present in every frame.
    pub multiplexed_by: Option<MuxCondition>,
}

/// One signal of a message (`SG_`).
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// Name to use: the `SystemSignalLongSymbol` attribute when present, else
    /// the DBC name.
    pub name: String,
    /// Name as written in the `SG_` line (at most 32 characters in files
    /// written by Vector tools); other statements refer to it.
    pub dbc_name: String,
    /// Start bit as written: LSB for Intel, MSB for Motorola (see [`ByteOrder`]).
    pub start_bit: u16,
    /// Length in bits, 1..=64.
    pub length: u8,
    /// Bit layout.
    pub byte_order: ByteOrder,
    /// Two's complement (`-`) or unsigned (`+`) raw value.
    pub signed: bool,
    /// Integer or IEEE float raw value.
    pub value_type: ValueType,
    /// physical = raw * factor + offset.
    pub factor: f64,
    /// physical = raw * factor + offset.
    pub offset: f64,
    /// Physical minimum; `None` when the DBC gives `[0|0]` (unspecified).
    pub min: Option<f64>,
    /// Physical maximum; `None` when the DBC gives `[0|0]` (unspecified).
    pub max: Option<f64>,
    /// Unit, possibly empty.
    pub unit: String,
    /// Receiving nodes (`Vector__XXX` removed; long node names when given).
    pub receivers: Vec<String>,
    /// `CM_ SG_` comment.
    pub comment: Option<String>,
    /// Multiplexing role.
    pub multiplexing: Multiplexing,
    /// Labels of raw values (`VAL_`).
    pub value_descriptions: ValueTable,
    /// `BA_ ... SG_` attributes.
    pub attributes: Attributes,
    /// Line of the `SG_` statement.
    pub line: usize,
}

impl Signal {
    /// Whether factor and offset are integers, so that an integer raw value
    /// scales to an exact integer physical value.
    pub fn has_integer_scaling(&self) -> bool {
        is_integral(self.factor) && is_integral(self.offset)
    }

    /// Whether decoding yields [`Value::Int`](crate::Value::Int): an integer
    /// signal with integer factor and offset (below 2^100, which keeps every
    /// result inside `i128`). Otherwise it yields floats ([`Value::F32`](crate::Value::F32)
    /// for unscaled float32 signals).
    pub fn decodes_to_integer(&self) -> bool {
        const LIMIT: f64 = 1.267_650_600_228_229_4e30; // 2^100
        self.value_type == ValueType::Integer
            && self.has_integer_scaling()
            && self.factor.abs() < LIMIT
            && self.offset.abs() < LIMIT
    }

    /// Smallest and largest raw value the field holds (two's complement when
    /// signed), for integer signals.
    pub fn raw_range(&self) -> (i128, i128) {
        let bits = u32::from(self.length.clamp(1, 64));
        if self.signed {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        }
    }
}

/// Smallest and largest integer a field of `bits` (clamped to 1..=64) holds.
pub(crate) fn raw_bounds(bits: u8, signed: bool) -> (i128, i128) {
    let bits = u32::from(bits.clamp(1, 64));
    if signed { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) } else { (0, (1i128 << bits) - 1) }
}

/// Signals whose multiplexer link must be cut so that no chain of links
/// (`parents[i]` = multiplexer of signal `i`) loops; such signals could never
/// be decided present, and following the links would not terminate.
pub(crate) fn mux_cycle_cuts(mut parents: Vec<Option<usize>>) -> Vec<usize> {
    let mut cuts = Vec::new();
    for i in 0..parents.len() {
        let mut cur = i;
        for _ in 0..=parents.len() {
            match parents[cur] {
                Some(p) => cur = p,
                None => break,
            }
        }
        if parents[cur].is_some() {
            parents[i] = None;
            cuts.push(i);
        }
    }
    cuts
}

pub(crate) fn is_integral(x: f64) -> bool {
    x.is_finite() && x.fract() == 0.0
}

/// A named group of signals of one message (`SIG_GROUP_`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalGroup {
    /// Group name.
    pub name: String,
    /// Repetition count as written.
    pub repetitions: u32,
    /// Member signal names (long names when given).
    pub signals: Vec<String>,
}

/// One CAN message (`BO_`).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// CAN identifier without the extended flag (11 or 29 bits).
    pub id: u32,
    /// 29-bit identifier. Written in DBC as `id | 0x80000000`; identifiers above
    /// 0x7FF written without the flag are also taken as extended (with a
    /// warning), as there is no other way to send them.
    pub extended: bool,
    /// Name to use: the `SystemMessageLongSymbol` attribute when present,
    /// else the DBC name.
    pub name: String,
    /// Name as written in the `BO_` line.
    pub dbc_name: String,
    /// Payload length in bytes as declared (the DBC "DLC").
    pub size: usize,
    /// Sent as CAN FD: the `VFrameFormat` attribute is `StandardCAN_FD` or
    /// `ExtendedCAN_FD` (by value or by default), or, when the file has no
    /// `VFrameFormat`, the network's `BusType` is `CAN FD`; and always when
    /// the message is longer than 8 bytes.
    pub is_fd: bool,
    /// `GenMsgCycleTime` in milliseconds (by value or by default); `None`
    /// when absent or 0 (not cyclic).
    pub cycle_time_ms: Option<u32>,
    /// Sending nodes: the `BO_` sender then `BO_TX_BU_` ones (`Vector__XXX`
    /// removed; long node names when given).
    pub senders: Vec<String>,
    /// `CM_ BO_` comment.
    pub comment: Option<String>,
    /// Signals in file order; [`MuxCondition::multiplexer`] and the decode
    /// plan's signal indices refer to this order.
    pub signals: Vec<Signal>,
    /// `SIG_GROUP_`s of this message.
    pub signal_groups: Vec<SignalGroup>,
    /// `BA_ ... BO_` attributes.
    pub attributes: Attributes,
    /// Line of the `BO_` statement.
    pub line: usize,
}

impl Message {
    /// The signal called `name` (long or DBC name).
    pub fn signal(&self, name: &str) -> Option<&Signal> {
        self.signal_index(name).map(|i| &self.signals[i])
    }

    /// Index of the signal called `name` (long or DBC name).
    pub fn signal_index(&self, name: &str) -> Option<usize> {
        self.signals
            .iter()
            .position(|s| s.name == name)
            .or_else(|| self.signals.iter().position(|s| s.dbc_name == name))
    }

    /// Whether some signals are present only for some multiplexer values.
    pub fn is_multiplexed(&self) -> bool {
        self.signals.iter().any(|s| s.multiplexing.multiplexed_by.is_some())
    }
}

/// A network node (`BU_`).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Name to use: `SystemNodeLongSymbol` when present, else the DBC name.
    pub name: String,
    /// Name as written in `BU_`.
    pub dbc_name: String,
    /// `CM_ BU_` comment.
    pub comment: Option<String>,
    /// `BA_ ... BU_` attributes.
    pub attributes: Attributes,
}

/// An environment variable (`EV_`).
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentVariable {
    /// Name to use: `SystemEnvVarLongSymbol` when present, else the DBC name.
    pub name: String,
    /// Name as written in `EV_`.
    pub dbc_name: String,
    /// Type as written: 0 integer, 1 float, 2 string.
    pub kind: u32,
    /// Minimum as written.
    pub min: f64,
    /// Maximum as written.
    pub max: f64,
    /// Unit.
    pub unit: String,
    /// Initial value.
    pub initial: f64,
    /// Identifier as written.
    pub ev_id: u64,
    /// Access type as written, e.g. `DUMMY_NODE_VECTOR0`.
    pub access_type: String,
    /// Nodes with access.
    pub access_nodes: Vec<String>,
    /// `CM_ EV_` comment.
    pub comment: Option<String>,
    /// Labels from `VAL_ <name> ...`.
    pub value_descriptions: ValueTable,
    /// `BA_ ... EV_` attributes.
    pub attributes: Attributes,
}

/// A typed attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// INT or HEX attribute (or an untyped integer literal).
    Int(i64),
    /// FLOAT attribute, an untyped non-integer literal, or an INT too large
    /// for `i64`.
    Float(f64),
    /// STRING attribute (or an untyped string literal).
    String(String),
    /// ENUM attribute, resolved to its label. (DBC writes ENUM values as an
    /// index in `BA_` and usually as the label in `BA_DEF_DEF_`.)
    Enum(String),
}

impl AttributeValue {
    /// The value as a number, for INT, HEX and FLOAT attributes.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttributeValue::Int(v) => Some(*v as f64),
            AttributeValue::Float(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as text, for STRING and ENUM attributes.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttributeValue::String(s) | AttributeValue::Enum(s) => Some(s),
            _ => None,
        }
    }
}

/// What kind of object an attribute definition applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeObject {
    /// The network (no object keyword).
    Network,
    /// `BU_`.
    Node,
    /// `BO_`.
    Message,
    /// `SG_`.
    Signal,
    /// `EV_`.
    EnvironmentVariable,
    /// `BU_BO_REL_` (relation attribute, node x message).
    NodeMessage,
    /// `BU_SG_REL_` (relation attribute, node x signal).
    NodeSignal,
    /// `BU_EV_REL_` (relation attribute, node x environment variable).
    NodeEnvironmentVariable,
}

/// Type of an attribute, with its declared bounds or labels.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeType {
    /// `INT min max` (bounds as written; files use float literals for
    /// 64-bit bounds).
    Int {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// `HEX min max`.
    Hex {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// `FLOAT min max`.
    Float {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// `STRING`.
    String,
    /// `ENUM "a","b",...`: labels in index order.
    Enum(Vec<String>),
}

/// An attribute definition (`BA_DEF_` / `BA_DEF_REL_` with its
/// `BA_DEF_DEF_` / `BA_DEF_DEF_REL_` default).
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDefinition {
    /// Attribute name.
    pub name: String,
    /// Objects it applies to.
    pub object: AttributeObject,
    /// Type and bounds.
    pub kind: AttributeType,
    /// Default value, when given.
    pub default: Option<AttributeValue>,
}

/// The object pair a relation attribute (`BA_REL_`) is set on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelationTarget {
    /// `BU_BO_REL_ node message`.
    Message {
        /// CAN id without flag.
        id: u32,
        /// 29-bit id.
        extended: bool,
    },
    /// `BU_SG_REL_ node SG_ message signal`.
    Signal {
        /// CAN id without flag.
        id: u32,
        /// 29-bit id.
        extended: bool,
        /// Signal name (long name when given).
        signal: String,
    },
    /// `BU_EV_REL_ node envvar`.
    EnvironmentVariable(String),
}

/// A relation attribute value (`BA_REL_`).
#[derive(Debug, Clone, PartialEq)]
pub struct RelationAttribute {
    /// Attribute name.
    pub name: String,
    /// Node of the relation.
    pub node: String,
    /// Other object of the relation.
    pub target: RelationTarget,
    /// Value.
    pub value: AttributeValue,
}

/// A parsed DBC file.
///
/// Built by [`Database::parse`] or [`Database::from_file`]; compile it into a
/// [`DecodePlan`] with [`Database::decode_plan`] to decode and encode frames.
#[derive(Debug, Clone, Default)]
pub struct Database {
    /// `VERSION` string.
    pub version: Option<String>,
    /// Network comment (`CM_ "...";`).
    pub comment: Option<String>,
    /// Nodes (`BU_`).
    pub nodes: Vec<Node>,
    /// Named value tables (`VAL_TABLE_`).
    pub value_tables: BTreeMap<String, ValueTable>,
    /// Environment variables (`EV_`).
    pub environment_variables: Vec<EnvironmentVariable>,
    /// Attribute definitions (`BA_DEF_`, `BA_DEF_REL_`) with their defaults.
    pub attribute_definitions: Vec<AttributeDefinition>,
    /// Network attributes (`BA_ "name" value;`).
    pub attributes: Attributes,
    /// Relation attributes (`BA_REL_`).
    pub relation_attributes: Vec<RelationAttribute>,
    /// What the parser repaired or ignored, with line numbers.
    pub warnings: Vec<Warning>,
    // Private because the index must stay in step with the messages.
    messages: Vec<Message>,
    index: HashMap<(u32, bool), usize>,
}

impl Database {
    /// Parses a DBC file from its bytes.
    ///
    /// Line endings may be LF or CRLF; strings may be UTF-8 or Windows-1252
    /// (each string is decoded on its own and never fails). Sections the
    /// engine does not use are skipped. Problems the parser can repair are
    /// recorded in [`Database::warnings`]; the others are a [`ParseError`]
    /// naming the line.
    ///
    /// ```
    /// let db = vbus_dbc::Database::parse(b"BO_ 100 Speed: 2 ECU\n SG_ kph : 0|16@1+ (0.01,0) [0|655.35] \"km/h\" X\n")?;
    /// let msg = db.message(100, false).unwrap();
    /// assert_eq!(msg.signals[0].unit, "km/h");
    /// # Ok::<(), vbus_dbc::ParseError>(())
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Database, ParseError> {
        crate::parser::parse(bytes)
    }

    /// Reads and parses a DBC file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Database, LoadError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| LoadError::Io { path: path.to_owned(), source })?;
        Database::parse(&bytes).map_err(|error| LoadError::Parse { path: path.to_owned(), error })
    }

    /// Assembles a database from parsed parts; builds the lookup index.
    /// When two messages share an id, the first one wins (the parser warns).
    pub(crate) fn from_parts(mut db: Database, messages: Vec<Message>) -> Database {
        db.index.clear();
        for (i, m) in messages.iter().enumerate() {
            db.index.entry((m.id, m.extended)).or_insert(i);
        }
        db.messages = messages;
        db
    }

    /// Compiles the per-message decode/encode plans.
    pub fn decode_plan(&self) -> DecodePlan {
        DecodePlan::new(self)
    }

    /// Messages in file order.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The message with this CAN id (without flag) and frame format.
    pub fn message(&self, id: u32, extended: bool) -> Option<&Message> {
        self.index.get(&(id, extended)).map(|&i| &self.messages[i])
    }

    /// The message called `name` (long or DBC name).
    pub fn message_by_name(&self, name: &str) -> Option<&Message> {
        self.messages
            .iter()
            .find(|m| m.name == name)
            .or_else(|| self.messages.iter().find(|m| m.dbc_name == name))
    }

    /// The definition of attribute `name`.
    pub fn attribute_definition(&self, name: &str) -> Option<&AttributeDefinition> {
        self.attribute_definitions.iter().find(|d| d.name == name)
    }

    /// The value of message attribute `name`: set on the message, else the
    /// definition's default.
    pub fn message_attribute<'a>(&'a self, message: &'a Message, name: &str) -> Option<&'a AttributeValue> {
        message.attributes.get(name).or_else(|| self.attribute_definition(name)?.default.as_ref())
    }

    /// The value of signal attribute `name`: set on the signal, else the
    /// definition's default.
    pub fn signal_attribute<'a>(&'a self, signal: &'a Signal, name: &str) -> Option<&'a AttributeValue> {
        signal.attributes.get(name).or_else(|| self.attribute_definition(name)?.default.as_ref())
    }
}
