//! A hand-written FlatBuffers table, the same shape flatc emits, so the bus tests do not depend
//! on codegen (which has its own end-to-end tests). Schema:
//!
//! ```fbs
//! namespace test;
//! table Speed { kph: float; count: uint; label: string; }
//! ```

use std::time::Duration;

use vbus::{
    Congestion, Message, Pack, QoS, Service, Topic,
    flatbuffers::{self, FlatBufferBuilder, Follow, ForwardsUOffset, Verifiable, WIPOffset},
};

#[derive(Clone, Copy)]
pub struct SpeedView<'a> {
    tab: flatbuffers::Table<'a>,
}

impl<'a> Follow<'a> for SpeedView<'a> {
    type Inner = SpeedView<'a>;
    unsafe fn follow(buf: &'a [u8], loc: usize) -> Self::Inner {
        Self { tab: unsafe { flatbuffers::Table::new(buf, loc) } }
    }
}

impl<'a> SpeedView<'a> {
    const VT_KPH: flatbuffers::VOffsetT = 4;
    const VT_COUNT: flatbuffers::VOffsetT = 6;
    const VT_LABEL: flatbuffers::VOffsetT = 8;

    pub fn kph(&self) -> f32 {
        // SAFETY: the buffer was verified against this table's verifier.
        unsafe { self.tab.get::<f32>(Self::VT_KPH, Some(0.0)).unwrap() }
    }
    pub fn count(&self) -> u32 {
        // SAFETY: as above.
        unsafe { self.tab.get::<u32>(Self::VT_COUNT, Some(0)).unwrap() }
    }
    pub fn label(&self) -> Option<&'a str> {
        // SAFETY: as above.
        unsafe { self.tab.get::<ForwardsUOffset<&str>>(Self::VT_LABEL, None) }
    }
}

impl Verifiable for SpeedView<'_> {
    fn run_verifier(
        v: &mut flatbuffers::Verifier<'_, '_>,
        pos: usize,
    ) -> Result<(), flatbuffers::InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<f32>("kph", Self::VT_KPH, false)?
            .visit_field::<u32>("count", Self::VT_COUNT, false)?
            .visit_field::<ForwardsUOffset<&str>>("label", Self::VT_LABEL, false)?
            .finish();
        Ok(())
    }
}

/// Marker type of `test.Speed`.
pub struct Speed;
impl Message for Speed {
    type View<'a> = SpeedView<'a>;
    const TYPE_NAME: &'static str = "test.Speed";
    const TYPE_HASH: u64 = 0x5eed_0000_0000_0001;
    // Not a real .bfbs (codegen's tests serve real ones): here only its transport is under test.
    const SCHEMA: &'static [u8] = b"stand-in for test.Speed's bfbs";
}

/// The same table under a changed schema (another type hash): what an ECU built from an older
/// schema would send.
pub struct SpeedV2;
impl Message for SpeedV2 {
    type View<'a> = SpeedView<'a>;
    const TYPE_NAME: &'static str = "test.Speed";
    const TYPE_HASH: u64 = 0x5eed_0000_0000_0002;
}

/// Owned value for `Pack`.
#[derive(Clone, Debug, PartialEq)]
pub struct SpeedT {
    pub kph: f32,
    pub count: u32,
    pub label: String,
}

pub fn build_speed<'b>(
    fbb: &mut FlatBufferBuilder<'b>,
    kph: f32,
    count: u32,
    label: &str,
) -> WIPOffset<SpeedView<'b>> {
    let label = fbb.create_string(label);
    let start = fbb.start_table();
    fbb.push_slot_always(SpeedView::VT_LABEL, label);
    fbb.push_slot::<u32>(SpeedView::VT_COUNT, count, 0);
    fbb.push_slot::<f32>(SpeedView::VT_KPH, kph, 0.0);
    WIPOffset::new(fbb.end_table(start).value())
}

impl Pack<Speed> for SpeedT {
    fn pack<'b>(&self, fbb: &mut FlatBufferBuilder<'b>) -> WIPOffset<SpeedView<'b>> {
        build_speed(fbb, self.kph, self.count, &self.label)
    }
}

impl Pack<SpeedV2> for SpeedT {
    fn pack<'b>(&self, fbb: &mut FlatBufferBuilder<'b>) -> WIPOffset<SpeedView<'b>> {
        build_speed(fbb, self.kph, self.count, &self.label)
    }
}

pub const SPEED: Topic<Speed> = Topic::new("chassis/speed");
pub const SPEED_V2: Topic<SpeedV2> = Topic::new("chassis/speed");
pub const SLOW_DROP: Topic<Speed> = Topic::new("test/slow_drop").with_qos(QoS::new().queue(8));
pub const SLOW_BLOCK: Topic<Speed> =
    Topic::new("test/slow_block").with_qos(QoS::new().queue(4).congestion(Congestion::Block));
pub const WATCHED: Topic<Speed> =
    Topic::new("test/watched").with_qos(QoS::new().deadline(Duration::from_millis(100)));
pub const MODE: Topic<Speed> = Topic::new("body/drive_mode");
/// Request/reply: doubles `kph`, echoes `label`; label "refuse" is refused, "ignore" never answered.
pub const DOUBLE: Service<Speed, Speed> = Service::new("test/double").with_timeout(Duration::from_secs(2));

pub fn speed(kph: f32, count: u32, label: &str) -> SpeedT {
    SpeedT { kph, count, label: label.to_owned() }
}
