//! Bounds-checked little-endian reads of a FlatBuffer. Every read returns `None` instead of
//! panicking, so a payload that passed verification cannot, and one that did not (`scalar_at`)
//! still cannot, read outside the buffer.

use crate::BaseType;

/// A scalar as read from a buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Scalar {
    Bool(bool),
    Int(i64),
    UInt(u64),
    F32(f32),
    F64(f64),
}

impl Scalar {
    pub fn as_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => f64::from(u8::from(b)),
            Scalar::Int(i) => i as f64,
            Scalar::UInt(u) => u as f64,
            Scalar::F32(f) => f64::from(f),
            Scalar::F64(f) => f,
        }
    }

    /// The integer value as i64 bits (u64 reinterpreted), for enum lookups.
    pub fn as_i64_bits(self) -> Option<i64> {
        match self {
            Scalar::Bool(b) => Some(i64::from(b)),
            Scalar::Int(i) => Some(i),
            Scalar::UInt(u) => Some(u as i64),
            _ => None,
        }
    }

    /// The default of a field of base type `base`.
    pub fn default_of(base: BaseType, integer: i64, real: f64) -> Scalar {
        match base {
            BaseType::Bool => Scalar::Bool(integer != 0),
            BaseType::Float => Scalar::F32(real as f32),
            BaseType::Double => Scalar::F64(real),
            BaseType::ULong => Scalar::UInt(integer as u64),
            BaseType::UByte | BaseType::UShort | BaseType::UInt | BaseType::UType => {
                Scalar::UInt(integer as u64)
            }
            _ => Scalar::Int(integer),
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Buf<'a>(pub &'a [u8]);

/// A table located in a buffer: its position and its vtable's.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableRef {
    pub pos: usize,
    vtable: usize,
    vtable_len: usize,
}

impl<'a> Buf<'a> {
    pub fn bytes(&self, pos: usize, n: usize) -> Option<&'a [u8]> {
        self.0.get(pos..pos.checked_add(n)?)
    }
    fn arr<const N: usize>(&self, pos: usize) -> Option<[u8; N]> {
        self.bytes(pos, N)?.try_into().ok()
    }
    pub fn u8(&self, pos: usize) -> Option<u8> {
        self.0.get(pos).copied()
    }
    pub fn u16(&self, pos: usize) -> Option<u16> {
        self.arr(pos).map(u16::from_le_bytes)
    }
    pub fn u32(&self, pos: usize) -> Option<u32> {
        self.arr(pos).map(u32::from_le_bytes)
    }
    pub fn i32(&self, pos: usize) -> Option<i32> {
        self.arr(pos).map(i32::from_le_bytes)
    }

    /// A scalar of `base` at `pos`.
    pub fn scalar(&self, base: BaseType, pos: usize) -> Option<Scalar> {
        Some(match base {
            BaseType::Bool => Scalar::Bool(self.u8(pos)? != 0),
            BaseType::Byte => Scalar::Int(i64::from(self.u8(pos)? as i8)),
            BaseType::UByte | BaseType::UType => Scalar::UInt(u64::from(self.u8(pos)?)),
            BaseType::Short => Scalar::Int(i64::from(i16::from_le_bytes(self.arr(pos)?))),
            BaseType::UShort => Scalar::UInt(u64::from(self.u16(pos)?)),
            BaseType::Int => Scalar::Int(i64::from(self.i32(pos)?)),
            BaseType::UInt => Scalar::UInt(u64::from(self.u32(pos)?)),
            BaseType::Long => Scalar::Int(i64::from_le_bytes(self.arr(pos)?)),
            BaseType::ULong => Scalar::UInt(u64::from_le_bytes(self.arr(pos)?)),
            BaseType::Float => Scalar::F32(f32::from_le_bytes(self.arr(pos)?)),
            BaseType::Double => Scalar::F64(f64::from_le_bytes(self.arr(pos)?)),
            _ => return None,
        })
    }

    /// Follow the unsigned offset stored at `pos`.
    pub fn deref(&self, pos: usize) -> Option<usize> {
        let target = pos.checked_add(self.u32(pos)? as usize)?;
        (target < self.0.len()).then_some(target)
    }

    /// The root table's position.
    pub fn root(&self) -> Option<usize> {
        self.deref(0)
    }

    /// The table at `pos`.
    pub fn table(&self, pos: usize) -> Option<TableRef> {
        let soff = i64::from(self.i32(pos)?);
        let vtable = usize::try_from(pos as i64 - soff).ok()?;
        let vtable_len = usize::from(self.u16(vtable)?);
        if vtable_len < 4 || vtable_len % 2 != 0 {
            return None;
        }
        self.bytes(vtable, vtable_len)?;
        Some(TableRef { pos, vtable, vtable_len })
    }

    /// Where the field at vtable offset `voffset` of `t` is, if present.
    pub fn field(&self, t: TableRef, voffset: u16) -> Option<usize> {
        let vo = usize::from(voffset);
        if vo + 2 > t.vtable_len {
            return None;
        }
        let off = self.u16(t.vtable + vo)?;
        if off == 0 { None } else { t.pos.checked_add(usize::from(off)) }
    }

    /// A vector at `pos` (the position of its length): `(length, first element position)`.
    pub fn vector(&self, pos: usize, elem_size: usize) -> Option<(usize, usize)> {
        let len = self.u32(pos)? as usize;
        let start = pos.checked_add(4)?;
        self.bytes(start, len.checked_mul(elem_size)?)?;
        Some((len, start))
    }

    /// A string at `pos` (the position of its length).
    pub fn string(&self, pos: usize) -> Option<&'a str> {
        let (len, start) = self.vector(pos, 1)?;
        std::str::from_utf8(self.bytes(start, len)?).ok()
    }
}
