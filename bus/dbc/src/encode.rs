//! Encoding: physical values back to payload bytes, the inverse of
//! [`MessagePlan::decode`].

use std::fmt;
use std::sync::Arc;

use crate::model::raw_bounds;
use crate::plan::{Conv, MessagePlan, RawKind, Value, in_ranges};

/// Which checks [`MessagePlan::encode`] applies besides "the raw value fits
/// in the signal's bits", which is always checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RangeCheck {
    /// Also the DBC `[min|max]` range, when the DBC gives one, with the same
    /// tolerance of a millionth of the factor as cantools. Values whose raw
    /// form has a `VAL_` label (typically "SNA" or "Init") are exempt.
    #[default]
    Full,
    /// Only the raw field width: for re-encoding captured frames, whose
    /// values often lie outside the documented range.
    RawOnly,
}

/// Why values could not be encoded.
#[derive(Debug, Clone, PartialEq)]
pub enum EncodeError {
    /// The output buffer is shorter than the message.
    BufferTooShort {
        /// Message name.
        message: Arc<str>,
        /// DBC length in bytes.
        expected: usize,
        /// Buffer length.
        found: usize,
    },
    /// A signal present for the given multiplexer values has no value.
    MissingValue {
        /// Message name.
        message: Arc<str>,
        /// Signal name.
        signal: Arc<str>,
    },
    /// NaN or infinity for an integer signal.
    NotFinite {
        /// Message name.
        message: Arc<str>,
        /// Signal name.
        signal: Arc<str>,
        /// Value given.
        value: Value,
    },
    /// The value is outside the DBC `[min|max]` range.
    OutOfRange {
        /// Message name.
        message: Arc<str>,
        /// Signal name.
        signal: Arc<str>,
        /// Value given.
        value: Value,
        /// DBC minimum, if any.
        min: Option<f64>,
        /// DBC maximum, if any.
        max: Option<f64>,
    },
    /// The raw value does not fit in the signal's bits.
    RawOverflow {
        /// Message name.
        message: Arc<str>,
        /// Signal name.
        signal: Arc<str>,
        /// Value given.
        value: Value,
        /// Field width.
        bits: u8,
        /// Two's complement field.
        signed: bool,
        /// Smallest physical value the field holds.
        min: f64,
        /// Largest physical value the field holds.
        max: f64,
    },
    /// A multiplexer value selects nothing and has no `VAL_` label.
    UndefinedMultiplexerValue {
        /// Message name.
        message: Arc<str>,
        /// Multiplexer signal name.
        multiplexer: Arc<str>,
        /// Raw value.
        value: i64,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BufferTooShort { message, expected, found } => {
                write!(
                    f,
                    "message '{message}': expected an output buffer of at least {expected} bytes, found {found}"
                )
            }
            EncodeError::MissingValue { message, signal } => {
                write!(
                    f,
                    "message '{message}': no value for signal '{signal}', which the given multiplexer values make present"
                )
            }
            EncodeError::NotFinite { message, signal, value } => {
                write!(
                    f,
                    "message '{message}': signal '{signal}' is an integer signal and cannot encode {value}"
                )
            }
            EncodeError::OutOfRange { message, signal, value, min, max } => {
                write!(f, "message '{message}': signal '{signal}' value {value} is outside its DBC range ")?;
                match (min, max) {
                    (Some(lo), Some(hi)) => write!(f, "[{lo}, {hi}]"),
                    (Some(lo), None) => write!(f, "(at least {lo})"),
                    (None, Some(hi)) => write!(f, "(at most {hi})"),
                    (None, None) => write!(f, "(none)"),
                }
            }
            EncodeError::RawOverflow { message, signal, value, bits, signed, min, max } => {
                let kind = if *signed { "signed" } else { "unsigned" };
                write!(
                    f,
                    "message '{message}': signal '{signal}' value {value} does not fit its {bits}-bit {kind} field, which holds {min} to {max}"
                )
            }
            EncodeError::UndefinedMultiplexerValue { message, multiplexer, value } => {
                write!(
                    f,
                    "message '{message}': multiplexer '{multiplexer}' value {value} selects nothing the DBC defines"
                )
            }
        }
    }
}

impl std::error::Error for EncodeError {}

/// A signal's value in raw form.
#[derive(Clone, Copy)]
struct Raw {
    /// Bits to store (two's complement for signed fields).
    bits: u64,
    /// Raw value as an integer (truncated for float fields), for
    /// multiplexer selection and `VAL_` labels.
    int: i64,
}

impl MessagePlan {
    /// Encodes physical values into `out[..size()]`.
    ///
    /// `values[i]` is the value of signal `i` (indices of
    /// [`Message::signals`](crate::Message::signals)); slots may be missing
    /// beyond the end of `values`. Only signals present for the given
    /// multiplexer values are written, and each of those needs a value;
    /// values of absent signals are ignored. Bits that belong to no written
    /// signal keep their content, so the caller chooses the padding.
    ///
    /// Integer signals round `(value - offset) / factor` to the nearest
    /// integer (ties to even); [`Value::Int`] values with integer scaling
    /// are converted exactly. All checks run before anything is written:
    /// on error `out` is unchanged.
    pub fn encode(
        &self,
        values: &[Option<Value>],
        out: &mut [u8],
        check: RangeCheck,
    ) -> Result<(), EncodeError> {
        if out.len() < self.size {
            return Err(EncodeError::BufferTooShort {
                message: self.name.clone(),
                expected: self.size,
                found: out.len(),
            });
        }
        // The first pass only validates and the second writes, so that an
        // error leaves `out` untouched without a scratch copy of the frame.
        for pass in [false, true] {
            for &i in self.topo_order.iter() {
                if !self.is_active(values, i)? {
                    continue;
                }
                let signal = || self.signals[i].name.clone();
                let value = values.get(i).copied().flatten().ok_or_else(|| EncodeError::MissingValue {
                    message: self.name.clone(),
                    signal: signal(),
                })?;
                let raw = self.to_raw(i, value, check)?;
                if pass {
                    self.signals[i].field.insert(out, raw.bits);
                } else if let Some(c) = self.mux_checks.iter().find(|c| c.signal == i)
                    && !in_ranges(&c.defined, raw.int)
                {
                    return Err(EncodeError::UndefinedMultiplexerValue {
                        message: self.name.clone(),
                        multiplexer: signal(),
                        value: raw.int,
                    });
                }
            }
        }
        Ok(())
    }

    /// Convenience form of [`encode`](Self::encode) into a zeroed vector of
    /// `size()` bytes.
    pub fn encode_to_vec(&self, values: &[Option<Value>], check: RangeCheck) -> Result<Vec<u8>, EncodeError> {
        let mut out = vec![0; self.size];
        self.encode(values, &mut out, check)?;
        Ok(out)
    }

    /// Whether signal `i` is present given the multiplexer values in `values`.
    fn is_active(&self, values: &[Option<Value>], i: usize) -> Result<bool, EncodeError> {
        let Some(c) = &self.signals[i].cond else { return Ok(true) };
        if !self.is_active(values, c.mux)? {
            return Ok(false);
        }
        let value = values.get(c.mux).copied().flatten().ok_or_else(|| EncodeError::MissingValue {
            message: self.name.clone(),
            signal: self.signals[c.mux].name.clone(),
        })?;
        // The switch value is checked against the field width only here;
        // the full check happens when the switch itself is encoded.
        let raw = self.to_raw(c.mux, value, RangeCheck::RawOnly)?;
        Ok(in_ranges(&c.ranges, raw.int))
    }

    fn to_raw(&self, i: usize, value: Value, check: RangeCheck) -> Result<Raw, EncodeError> {
        let s = &self.signals[i];
        let names = || (self.name.clone(), s.name.clone());
        let f = value.as_f64();
        let raw = match s.field.kind {
            RawKind::F32 => {
                let x = match (value, s.conv) {
                    (Value::F32(x), Conv::Identity) => x,
                    (_, Conv::Linear { scale, offset }) => ((f - offset) / scale) as f32,
                    _ => f as f32,
                };
                Raw { bits: u64::from(x.to_bits()), int: x as i64 }
            }
            RawKind::F64 => {
                let x = match s.conv {
                    Conv::Linear { scale, offset } => (f - offset) / scale,
                    _ => f,
                };
                Raw { bits: x.to_bits(), int: x as i64 }
            }
            RawKind::Unsigned | RawKind::Signed => {
                let raw = match (value, s.conv) {
                    (Value::Int(v), Conv::Exact { scale, offset })
                        if scale != 0 && (v - offset) % scale == 0 =>
                    {
                        Some((v - offset) / scale)
                    }
                    _ => {
                        if !f.is_finite() {
                            let (message, signal) = names();
                            return Err(EncodeError::NotFinite { message, signal, value });
                        }
                        let r = match s.conv {
                            Conv::Exact { scale, offset } => (f - offset as f64) / scale as f64,
                            Conv::Linear { scale, offset } => (f - offset) / scale,
                            Conv::Identity => f,
                        }
                        .round_ties_even();
                        // Beyond ±2^126 cannot fit any field; also catches ±inf from factor 0.
                        (r.is_finite() && r.abs() < 8.5e37).then_some(r as i128)
                    }
                };
                let signed = s.field.kind == RawKind::Signed;
                let (lo, hi) = raw_bounds(s.field.len, signed);
                match raw {
                    Some(r) if (lo..=hi).contains(&r) => {
                        Raw { bits: r as u64 & s.field.mask(), int: i64::try_from(r).unwrap_or(i64::MAX) }
                    }
                    _ => {
                        let (min, max) = match s.conv {
                            Conv::Exact { scale, offset } => (
                                lo as f64 * scale as f64 + offset as f64,
                                hi as f64 * scale as f64 + offset as f64,
                            ),
                            Conv::Linear { scale, offset } => {
                                (lo as f64 * scale + offset, hi as f64 * scale + offset)
                            }
                            Conv::Identity => (lo as f64, hi as f64),
                        };
                        let (min, max) = (min.min(max), min.max(max));
                        let (message, signal) = names();
                        return Err(EncodeError::RawOverflow {
                            message,
                            signal,
                            value,
                            bits: s.field.len,
                            signed,
                            min,
                            max,
                        });
                    }
                }
            }
        };
        if check == RangeCheck::Full && !s.labeled.contains(&raw.int) {
            let tolerance = s.conv.scale_abs() * 1e-6;
            let below = s.min.is_some_and(|min| f < min - tolerance);
            let above = s.max.is_some_and(|max| f > max + tolerance);
            if below || above {
                let (message, signal) = names();
                return Err(EncodeError::OutOfRange { message, signal, value, min: s.min, max: s.max });
            }
        }
        Ok(raw)
    }
}
