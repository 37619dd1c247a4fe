//! The test message, a hand-written FlatBuffers table (the shape flatc emits):
//!
//! ```fbs
//! namespace faults;
//! table Seq { seq: ulong; pad: string; }
//! ```

use vbus::{
    Message, Pack,
    flatbuffers::{self, FlatBufferBuilder, Follow, ForwardsUOffset, Verifiable, WIPOffset},
};

/// Accessor of `faults.Seq`.
#[derive(Clone, Copy)]
pub struct SeqView<'a> {
    tab: flatbuffers::Table<'a>,
}

impl<'a> Follow<'a> for SeqView<'a> {
    type Inner = SeqView<'a>;
    unsafe fn follow(buf: &'a [u8], loc: usize) -> Self::Inner {
        // SAFETY: forwarded contract of `Follow::follow`.
        Self { tab: unsafe { flatbuffers::Table::new(buf, loc) } }
    }
}

impl<'a> SeqView<'a> {
    const VT_SEQ: flatbuffers::VOffsetT = 4;
    const VT_PAD: flatbuffers::VOffsetT = 6;

    /// Application sequence number (1..=count).
    pub fn seq(&self) -> u64 {
        // SAFETY: the bus verified the buffer against `run_verifier` below.
        unsafe { self.tab.get::<u64>(Self::VT_SEQ, Some(0)).unwrap() }
    }
}

impl Verifiable for SeqView<'_> {
    fn run_verifier(
        v: &mut flatbuffers::Verifier<'_, '_>,
        pos: usize,
    ) -> Result<(), flatbuffers::InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<u64>("seq", Self::VT_SEQ, false)?
            .visit_field::<ForwardsUOffset<&str>>("pad", Self::VT_PAD, false)?
            .finish();
        Ok(())
    }
}

/// Marker type of `faults.Seq`.
pub struct Seq;

impl Message for Seq {
    type View<'a> = SeqView<'a>;
    const TYPE_NAME: &'static str = "faults.Seq";
    const TYPE_HASH: u64 = 0xfa17_0000_0000_0001;
}

/// Owned value of `faults.Seq`.
pub struct SeqT {
    /// Sequence number.
    pub seq: u64,
    /// Padding.
    pub pad: String,
}

impl Pack<Seq> for SeqT {
    fn pack<'b>(&self, fbb: &mut FlatBufferBuilder<'b>) -> WIPOffset<SeqView<'b>> {
        let pad = fbb.create_string(&self.pad);
        let start = fbb.start_table();
        fbb.push_slot::<u64>(SeqView::VT_SEQ, self.seq, 0);
        fbb.push_slot_always(SeqView::VT_PAD, pad);
        WIPOffset::new(fbb.end_table(start).value())
    }
}
