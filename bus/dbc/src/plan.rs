//! Decode plans: each message compiled once into per-signal bit extraction,
//! scaling and multiplexing conditions, so decoding a frame is a loop over
//! precomputed fields with no allocation and no hashing.

use std::fmt;
use std::sync::Arc;

use crate::model::{ByteOrder, Database, Message, Signal, ValueType, mux_cycle_cuts};

/// A physical (scaled) signal value.
///
/// The variant follows the signal's definition, not the value: integer raw
/// values with integer factor and offset are exact [`Value::Int`]s (this is
/// also the int-versus-float rule of the reference decoder's JSON); IEEE
/// float32 signals without scaling stay [`Value::F32`] so that encoding
/// reproduces their bits, NaN payloads included; everything else is a
/// [`Value::Float`] computed as `raw * factor + offset` in `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// Exact integer value.
    Int(i128),
    /// Floating-point value.
    Float(f64),
    /// Unscaled IEEE float32 signal.
    F32(f32),
}

impl Value {
    /// The value as `f64` (integers beyond 2^53 are rounded).
    pub fn as_f64(self) -> f64 {
        match self {
            Value::Int(v) => v as f64,
            Value::Float(v) => v,
            Value::F32(v) => f64::from(v),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::F32(v) => write!(f, "{v}"),
        }
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(i128::from(v))
    }
}

/// Payload bytes decoding looks at (CAN FD maximum) plus room for a 16-byte load.
const MAX_PADDED: usize = 64 + 16;

/// Why a frame could not be decoded. Names are shared with the plan, so
/// building one does not allocate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The payload is shorter than the DBC length of the message.
    ShortPayload {
        /// Message name.
        message: Arc<str>,
        /// DBC length in bytes.
        expected: usize,
        /// Payload length.
        found: usize,
    },
    /// A signal present in this frame lies (partly) beyond the DBC length of
    /// its message, so the database itself is inconsistent.
    SignalOutsidePayload {
        /// Message name.
        message: Arc<str>,
        /// Signal name.
        signal: Arc<str>,
        /// Signal index.
        index: usize,
    },
    /// A multiplexer has a value that selects no signal and has no `VAL_`
    /// label: the frame does not match the database.
    UndefinedMultiplexerValue {
        /// Message name.
        message: Arc<str>,
        /// Multiplexer signal name.
        multiplexer: Arc<str>,
        /// Multiplexer signal index.
        index: usize,
        /// Raw value found.
        value: i64,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::ShortPayload { message, expected, found } => {
                write!(
                    f,
                    "message '{message}': expected a payload of at least {expected} bytes, found {found}"
                )
            }
            DecodeError::SignalOutsidePayload { message, signal, .. } => {
                write!(f, "message '{message}': signal '{signal}' does not fit in the message's DBC length")
            }
            DecodeError::UndefinedMultiplexerValue { message, multiplexer, value, .. } => {
                write!(
                    f,
                    "message '{message}': multiplexer '{multiplexer}' has value {value}, which the DBC does not define"
                )
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// One decoded signal, from [`MessagePlan::decode_to_vec`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodedSignal<'a> {
    /// Index in [`Message::signals`].
    pub index: usize,
    /// Signal name (long name when given).
    pub name: &'a str,
    /// Physical value.
    pub value: Value,
}

/// How the raw bits are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawKind {
    Unsigned,
    Signed,
    F32,
    F64,
}

/// Where a signal's bits are: the bytes `first..=last` read as one big- or
/// little-endian integer, shifted right by `shift` and masked to `len` bits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub first: u16,
    pub last: u16,
    pub shift: u8,
    pub len: u8,
    pub big_endian: bool,
    pub kind: RawKind,
}

impl Field {
    fn new(s: &Signal) -> Field {
        let (first, last) = byte_span(s);
        let start = usize::from(s.start_bit);
        let len = usize::from(s.length.clamp(1, 64));
        let shift = match s.byte_order {
            ByteOrder::LittleEndian => start % 8,
            // Network order numbers bits MSB first from byte 0; the field's
            // LSB is `len - 1` bits after its MSB there.
            ByteOrder::BigEndian => 7 - (network_bit(start) + len - 1) % 8,
        };
        let kind = match (s.value_type, s.signed) {
            (ValueType::Float32, _) => RawKind::F32,
            (ValueType::Float64, _) => RawKind::F64,
            (ValueType::Integer, true) => RawKind::Signed,
            (ValueType::Integer, false) => RawKind::Unsigned,
        };
        Field {
            first: u16::try_from(first).unwrap_or(u16::MAX),
            last: u16::try_from(last).unwrap_or(u16::MAX),
            shift: shift as u8,
            // The parser only makes 1..=64; a hand-built signal must not
            // make the mask shift overflow.
            len: s.length.clamp(1, 64),
            big_endian: s.byte_order == ByteOrder::BigEndian,
            kind,
        }
    }

    pub(crate) fn mask(&self) -> u64 {
        u64::MAX >> (64 - u32::from(self.len))
    }

    /// The raw bits, right-aligned. A field beyond `data` reads as 0; plans
    /// never read one (see `MessagePlan::check`).
    #[inline]
    pub(crate) fn extract(&self, data: &[u8]) -> u64 {
        // Fast path: one 16-byte load covers any span (at most 9 bytes). Decoding pads the
        // payload (see `MessagePlan::emit`) so that this path is the one taken.
        let first = usize::from(self.first);
        if let Some(chunk) = data.get(first..first + 16) {
            let chunk: [u8; 16] = chunk.try_into().expect("16 bytes");
            let span = 8 * u32::from(self.last - self.first + 1);
            let acc = if self.big_endian {
                u128::from_be_bytes(chunk) >> (128 - span + u32::from(self.shift))
            } else {
                u128::from_le_bytes(chunk) >> self.shift
            };
            return (acc as u64) & self.mask();
        }
        let Some(bytes) = data.get(usize::from(self.first)..=usize::from(self.last)) else { return 0 };
        let mut acc: u128 = 0;
        if self.big_endian {
            for &b in bytes {
                acc = (acc << 8) | u128::from(b);
            }
        } else {
            for &b in bytes.iter().rev() {
                acc = (acc << 8) | u128::from(b);
            }
        }
        ((acc >> self.shift) as u64) & self.mask()
    }

    /// Stores the low `len` bits of `raw`, leaving the other bits alone.
    #[inline]
    pub(crate) fn insert(&self, data: &mut [u8], raw: u64) {
        let Some(bytes) = data.get_mut(usize::from(self.first)..=usize::from(self.last)) else { return };
        let mask = u128::from(self.mask()) << self.shift;
        let bits = (u128::from(raw & self.mask())) << self.shift;
        let n = bytes.len();
        for (k, b) in bytes.iter_mut().enumerate() {
            // Byte k holds bits at this offset of the accumulated integer.
            let at = if self.big_endian { 8 * (n - 1 - k) } else { 8 * k };
            let m = (mask >> at) as u8;
            *b = (*b & !m) | ((bits >> at) as u8 & m);
        }
    }

    /// Two's complement value of signed fields, plain value otherwise.
    #[inline]
    pub(crate) fn signed_value(&self, bits: u64) -> i128 {
        match self.kind {
            RawKind::Signed => {
                let unused = 64 - u32::from(self.len);
                i128::from(((bits << unused) as i64) >> unused)
            }
            _ => i128::from(bits),
        }
    }
}

/// Network bit index (MSB of byte 0 is 0) of a DBC bit number.
fn network_bit(bit: usize) -> usize {
    8 * (bit / 8) + 7 - bit % 8
}

/// First and last byte a signal touches.
pub(crate) fn byte_span(s: &Signal) -> (usize, usize) {
    let start = usize::from(s.start_bit);
    let len = usize::from(s.length).max(1);
    match s.byte_order {
        ByteOrder::LittleEndian => (start / 8, (start + len - 1) / 8),
        ByteOrder::BigEndian => {
            let msb = network_bit(start);
            (msb / 8, (msb + len - 1) / 8)
        }
    }
}

/// Network bit indices covered by a signal.
fn network_bits(s: &Signal) -> impl Iterator<Item = usize> {
    let start = usize::from(s.start_bit);
    let len = usize::from(s.length);
    let big = s.byte_order == ByteOrder::BigEndian;
    (0..len).map(move |k| if big { network_bit(start) + k } else { network_bit(start + k) })
}

/// physical = raw * scale + offset, exactly when possible.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Conv {
    /// Integer raw, integer factor and offset.
    Exact { scale: i128, offset: i128 },
    /// Everything else with a non-trivial factor or offset, in `f64`.
    Linear { scale: f64, offset: f64 },
    /// IEEE float raw value taken as is.
    Identity,
}

impl Conv {
    fn new(s: &Signal) -> Conv {
        match s.value_type {
            ValueType::Float32 | ValueType::Float64 if s.factor == 1.0 && s.offset == 0.0 => Conv::Identity,
            ValueType::Integer if s.decodes_to_integer() => {
                Conv::Exact { scale: s.factor as i128, offset: s.offset as i128 }
            }
            _ => Conv::Linear { scale: s.factor, offset: s.offset },
        }
    }

    pub(crate) fn scale_abs(&self) -> f64 {
        match *self {
            Conv::Exact { scale, .. } => (scale as f64).abs(),
            Conv::Linear { scale, .. } => scale.abs(),
            Conv::Identity => 1.0,
        }
    }
}

/// Condition on a multiplexer: present when it is present and its raw
/// value falls in one of `ranges` (inclusive).
#[derive(Debug, Clone)]
pub(crate) struct Cond {
    pub mux: usize,
    pub ranges: Box<[(i64, i64)]>,
}

pub(crate) fn in_ranges(ranges: &[(i64, i64)], v: i64) -> bool {
    ranges.iter().any(|&(lo, hi)| lo <= v && v <= hi)
}

#[derive(Debug, Clone)]
pub(crate) struct SignalPlan {
    pub name: Arc<str>,
    pub field: Field,
    pub conv: Conv,
    pub cond: Option<Cond>,
    pub is_multiplexer: bool,
    /// Physical range from the DBC, for encoding.
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Raw values with a `VAL_` label; they skip the min/max check when
    /// encoding, since "SNA"-style labels are usually outside the range.
    pub labeled: Box<[i64]>,
}

impl SignalPlan {
    #[inline]
    pub(crate) fn value(&self, data: &[u8]) -> Value {
        let bits = self.field.extract(data);
        match (self.field.kind, self.conv) {
            (RawKind::F32, Conv::Identity) => Value::F32(f32::from_bits(bits as u32)),
            (RawKind::F64, Conv::Identity) => Value::Float(f64::from_bits(bits)),
            (RawKind::F32, Conv::Linear { scale, offset }) => {
                Value::Float(f64::from(f32::from_bits(bits as u32)) * scale + offset)
            }
            (RawKind::F64, Conv::Linear { scale, offset }) => {
                Value::Float(f64::from_bits(bits) * scale + offset)
            }
            (_, Conv::Exact { scale: 1, offset: 0 }) => Value::Int(self.field.signed_value(bits)),
            (_, Conv::Exact { scale, offset }) => {
                let raw = self.field.signed_value(bits);
                // i64 arithmetic when it cannot overflow: i128 multiplication is much slower.
                if let (Ok(r), Ok(sc), Ok(of)) =
                    (i64::try_from(raw), i64::try_from(scale), i64::try_from(offset))
                    && let Some(v) = r.checked_mul(sc).and_then(|v| v.checked_add(of))
                {
                    return Value::Int(i128::from(v));
                }
                match raw.checked_mul(scale).and_then(|v| v.checked_add(offset)) {
                    Some(v) => Value::Int(v),
                    None => Value::Float(raw as f64 * scale as f64 + offset as f64),
                }
            }
            (kind, Conv::Linear { scale, offset }) => {
                // Through i64/u64, not i128: the same f64 (the raw value has at most 64 bits,
                // and both conversions round to nearest), without a slow i128 -> f64 libcall.
                let raw = match kind {
                    RawKind::Signed => self.field.signed_value(bits) as i64 as f64,
                    _ => bits as f64,
                };
                Value::Float(raw * scale + offset)
            }
            // Integer kinds never get Identity; read them as exact integers.
            (_, Conv::Identity) => Value::Int(self.field.signed_value(bits)),
        }
    }

    /// The raw value used to select multiplexed signals.
    #[inline]
    pub(crate) fn switch_value(&self, data: &[u8]) -> i64 {
        let bits = self.field.extract(data);
        match self.field.kind {
            RawKind::F32 => f64::from(f32::from_bits(bits as u32)) as i64,
            RawKind::F64 => f64::from_bits(bits) as i64,
            _ => i64::try_from(self.field.signed_value(bits)).unwrap_or(i64::MAX),
        }
    }
}

/// Undefined-multiplexer-value check of one multiplexer.
#[derive(Debug, Clone)]
pub(crate) struct MuxCheck {
    pub signal: usize,
    /// Values that select something, sorted and merged.
    pub defined: Box<[(i64, i64)]>,
}

/// The compiled form of one message: decode and encode without allocating.
///
/// Signal indices are those of [`Message::signals`].
#[derive(Debug, Clone)]
pub struct MessagePlan {
    pub(crate) id: u32,
    pub(crate) extended: bool,
    pub(crate) name: Arc<str>,
    pub(crate) size: usize,
    pub(crate) is_fd: bool,
    pub(crate) overlapping: bool,
    pub(crate) signals: Box<[SignalPlan]>,
    /// Order in which present signals are reported: the order of the
    /// reference decoder's output.
    pub(crate) emit_order: Box<[usize]>,
    /// Signals beyond the DBC length, ancestors first.
    pub(crate) outside: Box<[usize]>,
    /// Multiplexer checks in the order the reference decoder makes them.
    pub(crate) mux_checks: Box<[MuxCheck]>,
    /// Depth-first order from the non-multiplexed signals, so that a
    /// multiplexer comes before what it selects (for encoding).
    pub(crate) topo_order: Box<[usize]>,
}

impl MessagePlan {
    /// CAN identifier (without flag).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// 29-bit identifier.
    pub fn extended(&self) -> bool {
        self.extended
    }

    /// Message name (long name when given).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// DBC length in bytes; decoding needs at least this many.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Sent as CAN FD (see [`Message::is_fd`]).
    pub fn is_fd(&self) -> bool {
        self.is_fd
    }

    /// Number of signals (the length `decode_into` needs).
    pub fn signal_count(&self) -> usize {
        self.signals.len()
    }

    /// Name of signal `index`.
    pub fn signal_name(&self, index: usize) -> &str {
        &self.signals[index].name
    }

    /// Index of the signal called `name`.
    pub fn signal_index(&self, name: &str) -> Option<usize> {
        self.signals.iter().position(|s| &*s.name == name)
    }

    /// Whether, for some multiplexer values, two present signals share bits
    /// (common in opendbc, e.g. a "group" signal over its members). Each
    /// signal is still decoded from its own bits. This follows cantools'
    /// definition, which also selects the reference decoder's per-signal
    /// fallback and its `"overlap": true` records.
    pub fn has_overlapping_signals(&self) -> bool {
        self.overlapping
    }

    /// Raw values of multiplexer `index` that are valid (select some
    /// signal or have a `VAL_` label), as sorted inclusive ranges; `None`
    /// when any value is accepted.
    pub fn defined_multiplexer_values(&self, index: usize) -> Option<&[(i64, i64)]> {
        self.mux_checks.iter().find(|c| c.signal == index).map(|c| &*c.defined)
    }

    /// ORs into `mask` the bits signal `index` occupies (so a writer can
    /// tell signal bits from padding). `mask` should be `size()` bytes long;
    /// bits beyond it are dropped.
    pub fn signal_mask(&self, index: usize, mask: &mut [u8]) {
        let field = &self.signals[index].field;
        let mut tmp = [0u8; 9];
        let span = usize::from(field.last - field.first) + 1;
        let local = Field { first: 0, last: field.last - field.first, ..*field };
        local.insert(&mut tmp[..span], u64::MAX);
        for (k, b) in tmp[..span].iter().enumerate() {
            if let Some(m) = mask.get_mut(usize::from(field.first) + k) {
                *m |= b;
            }
        }
    }

    /// Whether signal `index` is present in `data`: it is not multiplexed,
    /// or its multiplexer is present with a selecting value.
    #[inline]
    pub fn is_present(&self, data: &[u8], index: usize) -> bool {
        // Split so that the common case (not multiplexed) inlines; the recursion cannot.
        match &self.signals[index].cond {
            None => true,
            Some(c) => self.mux_selects(data, c),
        }
    }

    #[inline(never)]
    fn mux_selects(&self, data: &[u8], c: &Cond) -> bool {
        self.is_present(data, c.mux) && in_ranges(&c.ranges, self.signals[c.mux].switch_value(data))
    }

    /// Validates a payload before any value is reported, so decoding either
    /// fails without output or reports every present signal.
    fn check(&self, data: &[u8]) -> Result<(), DecodeError> {
        if data.len() < self.size {
            return Err(DecodeError::ShortPayload {
                message: self.name.clone(),
                expected: self.size,
                found: data.len(),
            });
        }
        for &i in self.outside.iter() {
            if self.is_present(data, i) {
                return Err(DecodeError::SignalOutsidePayload {
                    message: self.name.clone(),
                    signal: self.signals[i].name.clone(),
                    index: i,
                });
            }
        }
        for c in self.mux_checks.iter() {
            if self.is_present(data, c.signal) {
                let value = self.signals[c.signal].switch_value(data);
                if !in_ranges(&c.defined, value) {
                    let multiplexer = self.signals[c.signal].name.clone();
                    return Err(DecodeError::UndefinedMultiplexerValue {
                        message: self.name.clone(),
                        multiplexer,
                        index: c.signal,
                        value,
                    });
                }
            }
        }
        Ok(())
    }

    /// Decodes `data`, calling `out(signal_index, value)` for every signal
    /// present in this frame (multiplexers included), in the order of the
    /// reference decoder's output. Extra payload bytes are ignored. On error
    /// `out` is never called. Does not allocate.
    #[inline]
    pub fn decode<F: FnMut(usize, Value)>(&self, data: &[u8], out: F) -> Result<(), DecodeError> {
        self.check(data)?;
        self.emit(data, out);
        Ok(())
    }

    #[inline]
    fn emit<F: FnMut(usize, Value)>(&self, data: &[u8], mut out: F) {
        // `check` has verified every present signal lies within the payload, so zero padding
        // changes no value; it lets `Field::extract` use fixed-size loads.
        let mut padded = [0u8; MAX_PADDED];
        let n = data.len().min(MAX_PADDED - 16);
        padded[..n].copy_from_slice(&data[..n]);
        let data = &padded[..];
        // Signals of one multiplexer come in runs: remember its presence and value.
        let mut last_mux: Option<(usize, bool, i64)> = None;
        for &i in self.emit_order.iter() {
            let present = match &self.signals[i].cond {
                None => true,
                Some(c) => {
                    let (_, mux_present, value) = match last_mux {
                        Some(m) if m.0 == c.mux => m,
                        _ => {
                            let m =
                                (c.mux, self.is_present(data, c.mux), self.signals[c.mux].switch_value(data));
                            last_mux = Some(m);
                            m
                        }
                    };
                    mux_present && in_ranges(&c.ranges, value)
                }
            };
            if present {
                out(i, self.signals[i].value(data));
            }
        }
    }

    /// Decodes into `out[signal_index]`: `Some` for present signals, `None`
    /// for the others. Does not allocate.
    ///
    /// # Panics
    /// If `out` is shorter than [`signal_count`](Self::signal_count).
    pub fn decode_into(&self, data: &[u8], out: &mut [Option<Value>]) -> Result<(), DecodeError> {
        assert!(
            out.len() >= self.signals.len(),
            "decode_into needs {} slots, got {}",
            self.signals.len(),
            out.len()
        );
        self.check(data)?;
        out[..self.signals.len()].fill(None);
        self.emit(data, |i, v| out[i] = Some(v));
        Ok(())
    }

    /// Convenience form of [`decode`](Self::decode) returning a vector.
    pub fn decode_to_vec(&self, data: &[u8]) -> Result<Vec<DecodedSignal<'_>>, DecodeError> {
        let mut v = Vec::with_capacity(self.signals.len());
        self.decode(data, |index, value| {
            v.push(DecodedSignal { index, name: &self.signals[index].name, value })
        })?;
        Ok(v)
    }

    fn new(m: &Message) -> MessagePlan {
        let n = m.signals.len();
        let mut signals: Vec<SignalPlan> = m
            .signals
            .iter()
            .map(|s| SignalPlan {
                name: s.name.clone().into(),
                field: Field::new(s),
                conv: Conv::new(s),
                cond: s.multiplexing.multiplexed_by.as_ref().filter(|c| c.multiplexer < n).map(|c| Cond {
                    mux: c.multiplexer,
                    ranges: c.values.iter().map(|r| (clamp_i64(r.min), clamp_i64(r.max))).collect(),
                }),
                is_multiplexer: s.multiplexing.is_multiplexer,
                min: s.min,
                max: s.max,
                labeled: s.value_descriptions.keys().copied().collect(),
            })
            .collect();
        // The parser never builds circular multiplexing, but a hand-built
        // `Message` could, and presence checks would then recurse forever.
        for i in mux_cycle_cuts(signals.iter().map(|s| s.cond.as_ref().map(|c| c.mux)).collect()) {
            signals[i].cond = None;
        }

        // cantools sorts signals by start bit (Motorola ones by the network
        // position of their MSB), stably; its output follows that order.
        let mut sorted: Vec<usize> = (0..n).collect();
        sorted.sort_by_key(|&i| {
            let s = &m.signals[i];
            match s.byte_order {
                ByteOrder::LittleEndian => usize::from(s.start_bit),
                ByteOrder::BigEndian => network_bit(usize::from(s.start_bit)),
            }
        });
        let parent = |i: usize| signals[i].cond.as_ref().map(|c| c.mux);
        let kids = |p: Option<usize>| sorted.iter().copied().filter(move |&i| parent(i) == p);

        // Values of each multiplexer that select some signal, and those that
        // are valid for cantools: the former plus its VAL_ labels.
        let selecting: Vec<Vec<(i64, i64)>> = (0..n)
            .map(|i| {
                merge_ranges(
                    kids(Some(i))
                        .flat_map(|k| signals[k].cond.iter().flat_map(|c| c.ranges.iter().copied()))
                        .collect(),
                )
            })
            .collect();
        let defined: Vec<Vec<(i64, i64)>> = (0..n)
            .map(|i| {
                let labels = signals[i].labeled.iter().map(|&v| (v, v));
                let mut d = selecting[i].clone();
                if signals[i].is_multiplexer {
                    d.extend(labels);
                }
                merge_ranges(d)
            })
            .collect();

        let overlapping = cantools_overlap(m, &signals, &sorted, &defined);

        let mut topo_order = Vec::with_capacity(n);
        codec_order(None, &kids, &signals, &mut topo_order);
        let (emit_order, mux_checks) = if overlapping {
            // The reference decoder's per-signal fallback reports signals in
            // sorted order and only knows values that select a signal.
            let checks = sorted
                .iter()
                .filter(|&&i| signals[i].is_multiplexer && !selecting[i].is_empty())
                .map(|&i| MuxCheck { signal: i, defined: selecting[i].clone().into() })
                .collect();
            (sorted.clone(), checks)
        } else {
            let mut checks = Vec::new();
            mux_check_order(None, &kids, &signals, &defined, &mut checks);
            (topo_order.clone(), checks)
        };

        let depth = |mut i: usize| {
            let mut d = 0;
            while let Some(p) = parent(i) {
                d += 1;
                i = p;
            }
            d
        };
        let mut outside: Vec<usize> =
            (0..n).filter(|&i| usize::from(signals[i].field.last) >= m.size).collect();
        outside.sort_by_key(|&i| depth(i));

        MessagePlan {
            id: m.id,
            extended: m.extended,
            name: m.name.clone().into(),
            size: m.size,
            is_fd: m.is_fd,
            overlapping,
            signals: signals.into(),
            emit_order: emit_order.into(),
            outside: outside.into(),
            mux_checks: mux_checks.into(),
            topo_order: topo_order.into(),
        }
    }
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn merge_ranges(mut d: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    d.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(d.len());
    for (lo, hi) in d {
        match out.last_mut() {
            Some(last) if i128::from(lo) <= i128::from(last.1) + 1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// cantools' decode order: the signals of a node (sorted), then, for each
/// multiplexer among them, the signals it selects, recursively.
fn codec_order<I: Iterator<Item = usize>>(
    parent: Option<usize>,
    kids: &impl Fn(Option<usize>) -> I,
    signals: &[SignalPlan],
    out: &mut Vec<usize>,
) {
    let level: Vec<usize> = kids(parent).collect();
    out.extend(&level);
    for &k in &level {
        if signals[k].is_multiplexer {
            codec_order(Some(k), kids, signals, out);
        }
    }
}

/// cantools checks a multiplexer's value right before decoding what it
/// selects: depth first, multiplexers in sorted order.
fn mux_check_order<I: Iterator<Item = usize>>(
    parent: Option<usize>,
    kids: &impl Fn(Option<usize>) -> I,
    signals: &[SignalPlan],
    defined: &[Vec<(i64, i64)>],
    out: &mut Vec<MuxCheck>,
) {
    for k in kids(parent).collect::<Vec<_>>() {
        if signals[k].is_multiplexer && !defined[k].is_empty() {
            out.push(MuxCheck { signal: k, defined: defined[k].clone().into() });
            mux_check_order(Some(k), kids, signals, defined, out);
        }
    }
}

enum LayoutFault {
    Overlap,
    DoesNotFit,
}

/// Replicates cantools' strict layout check (`Message._check_signal_tree`):
/// signals of one multiplexer branch, plus everything outside the branch,
/// must not share bits. Returns true when the check fails with "overlapping"
/// (a check ending on a signal that does not fit reports no overlap, as in
/// cantools, where that error comes first).
fn cantools_overlap(
    m: &Message,
    signals: &[SignalPlan],
    sorted: &[usize],
    defined: &[Vec<(i64, i64)>],
) -> bool {
    struct Ctx<'a> {
        m: &'a Message,
        signals: &'a [SignalPlan],
        sorted: &'a [usize],
        defined: &'a [Vec<(i64, i64)>],
    }
    impl Ctx<'_> {
        fn node(&self, bits: &mut [bool], members: &[usize]) -> Result<(), LayoutFault> {
            for &s in members {
                self.signal(bits, s)?;
                if !self.signals[s].is_multiplexer || self.defined[s].is_empty() {
                    continue;
                }
                let base = bits.to_vec();
                for value in self.value_classes(s) {
                    let mut child = base.clone();
                    let branch: Vec<usize> = self
                        .sorted
                        .iter()
                        .copied()
                        .filter(|&k| {
                            self.signals[k]
                                .cond
                                .as_ref()
                                .is_some_and(|c| c.mux == s && in_ranges(&c.ranges, value))
                        })
                        .collect();
                    self.node(&mut child, &branch)?;
                    for (b, c) in bits.iter_mut().zip(child) {
                        *b |= c;
                    }
                }
            }
            Ok(())
        }

        fn signal(&self, bits: &mut [bool], s: usize) -> Result<(), LayoutFault> {
            let positions: Vec<usize> = network_bits(&self.m.signals[s]).collect();
            if positions.iter().any(|&p| p >= bits.len()) {
                return Err(LayoutFault::DoesNotFit);
            }
            if positions.iter().any(|&p| bits[p]) {
                return Err(LayoutFault::Overlap);
            }
            for p in positions {
                bits[p] = true;
            }
            Ok(())
        }

        /// One representative per run of multiplexer values selecting the
        /// same signals, in increasing order.
        fn value_classes(&self, s: usize) -> Vec<i64> {
            let mut cuts: Vec<i128> = Vec::new();
            for k in 0..self.signals.len() {
                if let Some(c) = self.signals[k].cond.as_ref().filter(|c| c.mux == s) {
                    for &(lo, hi) in c.ranges.iter() {
                        cuts.push(i128::from(lo));
                        cuts.push(i128::from(hi) + 1);
                    }
                }
            }
            for &v in self.signals[s].labeled.iter() {
                cuts.push(i128::from(v));
                cuts.push(i128::from(v) + 1);
            }
            cuts.sort_unstable();
            cuts.dedup();
            cuts.iter()
                .filter_map(|&c| i64::try_from(c).ok())
                .filter(|&v| in_ranges(&self.defined[s], v))
                .collect()
        }
    }
    let ctx = Ctx { m, signals, sorted, defined };
    let mut bits = vec![false; 8 * m.size];
    let roots: Vec<usize> = sorted.iter().copied().filter(|&i| signals[i].cond.is_none()).collect();
    matches!(ctx.node(&mut bits, &roots), Err(LayoutFault::Overlap))
}

/// All messages of a database compiled for decoding and encoding.
///
/// Build it once ([`Database::decode_plan`]); lookups by CAN ID are one hash
/// per frame, and decoding does no per-signal hashing or allocation.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = vbus_dbc::Database::parse(b"BO_ 291 Temp: 2 ECU\n SG_ t : 0|16@1- (0.1,-40) [-40|125] \"degC\" X\n")?;
/// let plan = db.decode_plan();
/// let msg = plan.message(0x123, false).unwrap();
/// msg.decode(&[0xA0, 0x0F], |i, v| println!("{} = {v}", msg.signal_name(i)))?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct DecodePlan {
    messages: Vec<MessagePlan>,
    /// Message index by 11-bit id (`u32::MAX`: none): a direct table, no hashing per frame.
    standard: Vec<u32>,
    /// `(29-bit id, message index)`, sorted by id, for binary search.
    extended: Vec<(u32, u32)>,
}

impl DecodePlan {
    /// Compiles every message of `db`.
    pub fn new(db: &Database) -> DecodePlan {
        let messages: Vec<MessagePlan> = db.messages().iter().map(MessagePlan::new).collect();
        let mut standard = vec![u32::MAX; 0x800];
        let mut extended: Vec<(u32, u32)> = Vec::new();
        // The first definition of an id wins.
        for (i, m) in messages.iter().enumerate() {
            match (m.extended, standard.get_mut(m.id as usize)) {
                (false, Some(slot)) if *slot == u32::MAX => *slot = i as u32,
                (true, _) if !extended.iter().any(|e| e.0 == m.id) => extended.push((m.id, i as u32)),
                _ => {}
            }
        }
        extended.sort_by_key(|e| e.0);
        DecodePlan { messages, standard, extended }
    }

    /// The plan of the message with this CAN id (without flag) and format.
    #[inline]
    pub fn message(&self, id: u32, extended: bool) -> Option<&MessagePlan> {
        let i = if extended {
            let k = self.extended.binary_search_by_key(&id, |e| e.0).ok()?;
            self.extended[k].1
        } else {
            *self.standard.get(id as usize)?
        };
        self.messages.get(i as usize)
    }

    /// All message plans, in database order.
    pub fn messages(&self) -> &[MessagePlan] {
        &self.messages
    }
}
