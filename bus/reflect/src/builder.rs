//! A small FlatBuffers builder for types known only at run time.
//!
//! `flatbuffers::FlatBufferBuilder` sizes and aligns what it pushes by Rust type, which does not
//! fit structs whose size and alignment come from a schema. This builder writes back to front
//! like the official ones; positions are "from the end" (the number of bytes written after the
//! start of an object), as in every FlatBuffers implementation.

/// An object written inline into a table: its bytes and alignment, or an offset to something
/// written earlier.
pub(crate) enum Inline {
    Bytes { bytes: Vec<u8>, align: usize },
    Offset(usize),
}

#[derive(Debug)]
pub(crate) struct TooLarge(pub &'static str);

pub(crate) struct Builder {
    /// The buffer, reversed: `rev[i]` is byte `len - 1 - i` of the result.
    rev: Vec<u8>,
    min_align: usize,
}

impl Builder {
    pub fn new() -> Self {
        Self { rev: Vec::with_capacity(256), min_align: 1 }
    }

    /// Bytes written so far; the "from the end" position of what was written last.
    pub fn used(&self) -> usize {
        self.rev.len()
    }

    /// Pad so that after writing `len` more bytes, the position is a multiple of `alignment`.
    pub fn align(&mut self, len: usize, alignment: usize) {
        let alignment = alignment.max(1);
        self.min_align = self.min_align.max(alignment);
        let pad = (alignment - (self.used() + len) % alignment) % alignment;
        self.rev.resize(self.rev.len() + pad, 0);
    }

    /// Write `bytes` in front of everything written so far.
    pub fn prepend(&mut self, bytes: &[u8]) {
        self.rev.extend(bytes.iter().rev());
    }

    /// Write an unsigned offset to `target` (a position returned earlier).
    pub fn offset_to(&mut self, target: usize) -> usize {
        self.align(4, 4);
        let value = self.used() + 4 - target;
        self.prepend(&(value as u32).to_le_bytes());
        self.used()
    }

    pub fn string(&mut self, s: &str) -> Result<usize, TooLarge> {
        let len = u32::try_from(s.len()).map_err(|_| TooLarge("string"))?;
        self.align(s.len() + 1, 4);
        self.prepend(&[0]);
        self.prepend(s.as_bytes());
        self.prepend(&len.to_le_bytes());
        Ok(self.used())
    }

    /// A vector of inline elements (scalars or structs), given as their concatenated bytes.
    pub fn vector_bytes(&mut self, elems: &[u8], count: usize, elem_align: usize) -> Result<usize, TooLarge> {
        let len = u32::try_from(count).map_err(|_| TooLarge("vector"))?;
        self.align(elems.len(), elem_align.max(4));
        self.prepend(elems);
        self.align(4, 4);
        self.prepend(&len.to_le_bytes());
        Ok(self.used())
    }

    /// A vector of offsets to things written earlier.
    pub fn vector_offsets(&mut self, targets: &[usize]) -> Result<usize, TooLarge> {
        let len = u32::try_from(targets.len()).map_err(|_| TooLarge("vector"))?;
        self.align(targets.len() * 4, 4);
        for &t in targets.iter().rev() {
            self.offset_to(t);
        }
        self.prepend(&len.to_le_bytes());
        Ok(self.used())
    }

    /// Out-of-line bytes with an alignment (a struct that is a union member).
    pub fn block(&mut self, bytes: &[u8], align: usize) -> usize {
        self.align(bytes.len(), align);
        self.prepend(bytes);
        self.used()
    }

    /// A table with `fields` (vtable offset, content). Returns the table's position.
    pub fn table(&mut self, mut fields: Vec<(u16, Inline)>) -> Result<usize, TooLarge> {
        let start = self.used();
        // Largest alignment first, like generated builders: least padding.
        fields.sort_by_key(|(_, i)| {
            std::cmp::Reverse(match i {
                Inline::Bytes { align, .. } => *align,
                Inline::Offset(_) => 4,
            })
        });
        let mut placed: Vec<(u16, usize)> = Vec::with_capacity(fields.len());
        for (voffset, content) in fields {
            let pos = match content {
                Inline::Bytes { bytes, align } => {
                    self.align(bytes.len(), align);
                    self.prepend(&bytes);
                    self.used()
                }
                Inline::Offset(target) => self.offset_to(target),
            };
            placed.push((voffset, pos));
        }
        // The soffset to the vtable, patched below.
        self.align(4, 4);
        self.prepend(&[0; 4]);
        let object = self.used();
        let table_size = u16::try_from(object - start).map_err(|_| TooLarge("table"))?;
        let max_voffset = placed.iter().map(|(v, _)| *v).max().unwrap_or(2);
        let vtable_len = usize::from(max_voffset) + 2;
        let mut vtable = vec![0u16; vtable_len / 2];
        vtable[0] = u16::try_from(vtable_len).map_err(|_| TooLarge("vtable"))?;
        vtable[1] = table_size;
        for (voffset, pos) in placed {
            vtable[usize::from(voffset) / 2] = u16::try_from(object - pos).map_err(|_| TooLarge("table"))?;
        }
        let bytes: Vec<u8> = vtable.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.align(bytes.len(), 2);
        self.prepend(&bytes);
        let vtable_pos = self.used();
        let soffset = i32::try_from(vtable_pos - object).map_err(|_| TooLarge("vtable"))?;
        // Byte k of a value whose position is P sits at rev[P - 1 - k].
        for (k, b) in soffset.to_le_bytes().into_iter().enumerate() {
            self.rev[object - 1 - k] = b;
        }
        Ok(object)
    }

    /// Finish with `root` as the root table (no file identifier, no size prefix).
    pub fn finish(mut self, root: usize) -> Vec<u8> {
        let align = self.min_align.max(4);
        self.align(4, align);
        self.offset_to(root);
        self.rev.reverse();
        self.rev
    }
}
