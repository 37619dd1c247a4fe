//! Run-time FlatBuffers encoding and decoding of DBC message tables.
//!
//! The layout is [`vbus_dbc::fbs`]'s mapping, the same one `vbus-codegen` compiles into Rust
//! types: field `i` is signal `i`, in vtable slot `4 + 2 i`, with the mapped scalar type. So the
//! bridge, which loads its DBC at run time, publishes exactly what a subscriber compiled from
//! that DBC expects, type hash included.

use vbus::flatbuffers::{self, FlatBufferBuilder, Verifier, VerifierOptions, WIPOffset};
use vbus_dbc::{
    Value,
    fbs::{Scalar, TableSpec},
};

fn slot(field: usize) -> flatbuffers::VOffsetT {
    (4 + 2 * field) as flatbuffers::VOffsetT
}

/// Encodes decoded signal values into the message's table, reusing one builder.
pub struct TableEncoder {
    fbb: FlatBufferBuilder<'static>,
}

impl Default for TableEncoder {
    fn default() -> Self {
        Self { fbb: FlatBufferBuilder::with_capacity(256) }
    }
}

impl TableEncoder {
    /// Encode `values` (indexed by signal, `None` = absent) as `spec`'s table; returns the bytes.
    pub fn encode(&mut self, spec: &TableSpec, values: &[Option<Value>]) -> &[u8] {
        let fbb = &mut self.fbb;
        fbb.reset();
        let start = fbb.start_table();
        for (i, f) in spec.fields.iter().enumerate() {
            let Some(v) = values.get(f.signal).copied().flatten() else { continue };
            let s = slot(i);
            match f.ty {
                Scalar::Bool => fbb.push_slot_always::<bool>(s, int(v) != 0),
                Scalar::I8 => fbb.push_slot_always::<i8>(s, int(v) as i8),
                Scalar::U8 => fbb.push_slot_always::<u8>(s, int(v) as u8),
                Scalar::I16 => fbb.push_slot_always::<i16>(s, int(v) as i16),
                Scalar::U16 => fbb.push_slot_always::<u16>(s, int(v) as u16),
                Scalar::I32 => fbb.push_slot_always::<i32>(s, int(v) as i32),
                Scalar::U32 => fbb.push_slot_always::<u32>(s, int(v) as u32),
                Scalar::I64 => fbb.push_slot_always::<i64>(s, int(v) as i64),
                Scalar::U64 => fbb.push_slot_always::<u64>(s, int(v) as u64),
                Scalar::F32 => fbb.push_slot_always::<f32>(
                    s,
                    match v {
                        Value::F32(x) => x,
                        other => other.as_f64() as f32,
                    },
                ),
                Scalar::F64 => fbb.push_slot_always::<f64>(s, v.as_f64()),
            }
        }
        let end = fbb.end_table(start);
        fbb.finish_minimal(WIPOffset::<flatbuffers::TableFinishedWIPOffset>::new(end.value()));
        fbb.finished_data()
    }
}

/// The integer a value holds (the mapping only gives integer fields to integer signals).
fn int(v: Value) -> i128 {
    match v {
        Value::Int(i) => i,
        other => other.as_f64() as i128,
    }
}

/// Why a payload could not be read as a message table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TableError {
    /// Fewer bytes than a FlatBuffer's root offset.
    #[error("payload is not a valid {type_name}: {len} bytes, too short for a FlatBuffer")]
    TooShort {
        /// The table's type name.
        type_name: String,
        /// The payload's length.
        len: usize,
    },
    /// The FlatBuffers verifier refused the payload.
    #[error("payload is not a valid {type_name}: {source}")]
    Invalid {
        /// The table's type name.
        type_name: String,
        /// What the verifier found, and where.
        #[source]
        source: flatbuffers::InvalidFlatbuffer,
    },
}

/// Verify `payload` as `spec`'s table and read its fields into signal values.
///
/// Integer and `bool` fields become [`Value::Int`], `float` fields [`Value::F32`], `double` fields
/// [`Value::Float`]; absent fields are `None` (optional fields) or their default 0.
pub fn decode(spec: &TableSpec, payload: &[u8], out: &mut [Option<Value>]) -> Result<(), TableError> {
    let invalid = |source| TableError::Invalid { type_name: spec.type_name(), source };
    let opts = VerifierOptions::default();
    let mut v = Verifier::new(&opts, payload);
    let root = payload.get(0..4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize);
    let root =
        root.ok_or_else(|| TableError::TooShort { type_name: spec.type_name(), len: payload.len() })?;
    let mut tv = v.visit_table(root).map_err(invalid)?;
    for (i, f) in spec.fields.iter().enumerate() {
        let s = slot(i);
        tv = match f.ty {
            Scalar::Bool => tv.visit_field::<bool>(f.name.clone(), s, false),
            Scalar::I8 => tv.visit_field::<i8>(f.name.clone(), s, false),
            Scalar::U8 => tv.visit_field::<u8>(f.name.clone(), s, false),
            Scalar::I16 => tv.visit_field::<i16>(f.name.clone(), s, false),
            Scalar::U16 => tv.visit_field::<u16>(f.name.clone(), s, false),
            Scalar::I32 => tv.visit_field::<i32>(f.name.clone(), s, false),
            Scalar::U32 => tv.visit_field::<u32>(f.name.clone(), s, false),
            Scalar::I64 => tv.visit_field::<i64>(f.name.clone(), s, false),
            Scalar::U64 => tv.visit_field::<u64>(f.name.clone(), s, false),
            Scalar::F32 => tv.visit_field::<f32>(f.name.clone(), s, false),
            Scalar::F64 => tv.visit_field::<f64>(f.name.clone(), s, false),
        }
        .map_err(invalid)?;
    }
    tv.finish();
    // SAFETY: the root table and every field read below were verified just above.
    let table = unsafe { flatbuffers::Table::new(payload, root) };
    for (i, f) in spec.fields.iter().enumerate() {
        let s = slot(i);
        let default = if f.optional { None } else { Some(0) };
        // SAFETY: verified above; `get` reads the slot's scalar or returns the default.
        let value = unsafe {
            match f.ty {
                Scalar::Bool => table.get::<bool>(s, default.map(|_| false)).map(|x| Value::Int(x.into())),
                Scalar::I8 => table.get::<i8>(s, default.map(|d| d as i8)).map(|x| Value::Int(x.into())),
                Scalar::U8 => table.get::<u8>(s, default.map(|d| d as u8)).map(|x| Value::Int(x.into())),
                Scalar::I16 => table.get::<i16>(s, default.map(|d| d as i16)).map(|x| Value::Int(x.into())),
                Scalar::U16 => table.get::<u16>(s, default.map(|d| d as u16)).map(|x| Value::Int(x.into())),
                Scalar::I32 => table.get::<i32>(s, default).map(|x| Value::Int(x.into())),
                Scalar::U32 => table.get::<u32>(s, default.map(|d| d as u32)).map(|x| Value::Int(x.into())),
                Scalar::I64 => table.get::<i64>(s, default.map(i64::from)).map(|x| Value::Int(x.into())),
                Scalar::U64 => table.get::<u64>(s, default.map(|d| d as u64)).map(|x| Value::Int(x.into())),
                Scalar::F32 => table.get::<f32>(s, default.map(|_| 0.0)).map(Value::F32),
                Scalar::F64 => table.get::<f64>(s, default.map(|_| 0.0)).map(Value::Float),
            }
        };
        if let Some(slot) = out.get_mut(f.signal) {
            *slot = value;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_hostile_bytes() {
        let db = vbus_dbc::Database::parse(
            br#"BO_ 100 M: 8 X
 SG_ Mode M : 0|2@1+ (1,0) [0|3] "" X
 SG_ Temp m1 : 8|8@1- (1,-40) [0|0] "" X
 SG_ Speed : 16|16@1+ (0.01,0) [0|0] "" X
"#,
        )
        .unwrap();
        let spec = &vbus_dbc::fbs::tables(&db, "pt")[0];
        let mut enc = TableEncoder::default();
        let values = [Some(Value::Int(1)), Some(Value::Int(-12)), Some(Value::Float(12.5))];
        let bytes = enc.encode(spec, &values).to_vec();
        let mut back = [None; 3];
        decode(spec, &bytes, &mut back).unwrap();
        assert_eq!(back, values);
        // Absent multiplexed signal stays absent.
        let bytes = enc.encode(spec, &[Some(Value::Int(0)), None, Some(Value::Float(1.0))]).to_vec();
        decode(spec, &bytes, &mut back).unwrap();
        assert_eq!(back[1], None);
        for bad in [&[][..], &[1, 2, 3][..], &[0xff; 16][..], &bytes[..bytes.len() - 3]] {
            assert!(decode(spec, bad, &mut back).is_err(), "{bad:?}");
        }
        let e = decode(spec, &[1, 2], &mut back).unwrap_err();
        assert_eq!(e, TableError::TooShort { type_name: spec.type_name(), len: 2 });
        assert_eq!(e.to_string(), "payload is not a valid can.pt.M: 2 bytes, too short for a FlatBuffer");
        let e = decode(spec, &[0xff; 16], &mut back).unwrap_err();
        assert!(matches!(e, TableError::Invalid { .. }) && std::error::Error::source(&e).is_some(), "{e:?}");
    }
}
