//! The benchmark payload: a FlatBuffers table written by hand in the shape flatc emits.
//!
//! ```fbs
//! namespace bench;
//! table Payload { seq: ulong; t_ns: ulong; data: [ubyte]; }
//! ```
//!
//! A vbus cell of "N bytes" carries N bytes in `data`; the FlatBuffers framing (about 44 bytes)
//! and the 40-byte attachment header are vbus's overhead. A raw zenoh or UDP cell of N bytes
//! carries exactly N bytes.

use vbus::{
    Message, Topic,
    flatbuffers::{self, FlatBufferBuilder, Follow, ForwardsUOffset, Vector, Verifiable, WIPOffset},
};

/// Accessor of `bench.Payload`.
#[derive(Clone, Copy)]
pub struct PayloadView<'a> {
    tab: flatbuffers::Table<'a>,
}

impl<'a> Follow<'a> for PayloadView<'a> {
    type Inner = PayloadView<'a>;
    unsafe fn follow(buf: &'a [u8], loc: usize) -> Self::Inner {
        // SAFETY: the caller guarantees `loc` is a table offset inside `buf` (flatc's contract).
        Self { tab: unsafe { flatbuffers::Table::new(buf, loc) } }
    }
}

impl<'a> PayloadView<'a> {
    const VT_SEQ: flatbuffers::VOffsetT = 4;
    const VT_T_NS: flatbuffers::VOffsetT = 6;
    const VT_DATA: flatbuffers::VOffsetT = 8;

    /// Sequence number of the sample (ping number).
    pub fn seq(&self) -> u64 {
        // SAFETY: views are only made from verified buffers (vbus verifies on receipt).
        unsafe { self.tab.get::<u64>(Self::VT_SEQ, Some(0)).unwrap_or(0) }
    }
    /// Sender's clock when the sample was built, ns.
    pub fn t_ns(&self) -> u64 {
        // SAFETY: as above.
        unsafe { self.tab.get::<u64>(Self::VT_T_NS, Some(0)).unwrap_or(0) }
    }
    /// The opaque data bytes.
    pub fn data(&self) -> Option<Vector<'a, u8>> {
        // SAFETY: as above.
        unsafe { self.tab.get::<ForwardsUOffset<Vector<'a, u8>>>(Self::VT_DATA, None) }
    }
}

impl Verifiable for PayloadView<'_> {
    fn run_verifier(
        v: &mut flatbuffers::Verifier<'_, '_>,
        pos: usize,
    ) -> Result<(), flatbuffers::InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<u64>("seq", Self::VT_SEQ, false)?
            .visit_field::<u64>("t_ns", Self::VT_T_NS, false)?
            .visit_field::<ForwardsUOffset<Vector<'_, u8>>>("data", Self::VT_DATA, false)?
            .finish();
        Ok(())
    }
}

/// Marker type of `bench.Payload`.
pub struct Payload;

impl Message for Payload {
    type View<'a> = PayloadView<'a>;
    const TYPE_NAME: &'static str = "bench.Payload";
    const TYPE_HASH: u64 = 0xbe9c_0000_0000_0001;
}

/// Write a `bench.Payload` into `fbb`.
pub fn build<'b>(
    fbb: &mut FlatBufferBuilder<'b>,
    seq: u64,
    t_ns: u64,
    data: &[u8],
) -> WIPOffset<PayloadView<'b>> {
    let data = fbb.create_vector(data);
    let start = fbb.start_table();
    fbb.push_slot_always(PayloadView::VT_DATA, data);
    fbb.push_slot::<u64>(PayloadView::VT_T_NS, t_ns, 0);
    fbb.push_slot::<u64>(PayloadView::VT_SEQ, seq, 0);
    WIPOffset::new(fbb.end_table(start).value())
}

/// Key of the throughput topic (relative to the domain).
pub const THR_KEY: &str = "bench/thr";
/// Key of the ping topic.
pub const PING_KEY: &str = "bench/ping";
/// Key of the pong topic.
pub const PONG_KEY: &str = "bench/pong";

/// The domain every benchmark node joins.
pub const DOMAIN: &str = "bench";

/// The throughput topic with the given QoS.
pub const fn topic(key: &'static str, qos: vbus::QoS) -> Topic<Payload> {
    Topic::new(key).with_qos(qos)
}

/// The raw zenoh key of a vbus topic key (the same key vbus uses on the wire).
pub fn zenoh_key(key: &str) -> String {
    vbus::wire::data_key(DOMAIN, key)
}
