//! A hand-written FlatBuffers table matching `schema/speed.fbs` (the accessors flatc would emit),
//! so the tests need no flatc. Its `SCHEMA` is the real `.bfbs` flatc made from that file, which
//! the publisher serves and the bridge reads fields with.

use std::time::Duration;

use vbus::{
    Message, Pack, Service, Topic,
    flatbuffers::{self, FlatBufferBuilder, Follow, ForwardsUOffset, Verifiable, WIPOffset},
};

/// `schema/speed.bfbs`, made by `flatc -b --schema speed.fbs` (flatc 2.0.8).
pub const SPEED_BFBS: &[u8] = include_bytes!("schema/speed.bfbs");
/// `schema/speed_sample.bin`, made by `flatc -b speed.fbs speed_sample.json`.
pub const SPEED_SAMPLE_BIN: &[u8] = include_bytes!("schema/speed_sample.bin");

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
    pub const VT_KPH: flatbuffers::VOffsetT = 4;
    pub const VT_COUNT: flatbuffers::VOffsetT = 6;
    pub const VT_LABEL: flatbuffers::VOffsetT = 8;
    pub const VT_ENGINE: flatbuffers::VOffsetT = 10;

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
    const TYPE_HASH: u64 = 0x5eed_c10d_0000_0001;
    const SCHEMA: &'static [u8] = SPEED_BFBS;
}

/// Owned value for `Pack`; `engine` is `(rpm, temp)` of the nested `test.Engine` table.
#[derive(Clone, Debug, PartialEq)]
pub struct SpeedT {
    pub kph: f32,
    pub count: u32,
    pub label: String,
    pub engine: Option<(u16, i16)>,
}

impl Pack<Speed> for SpeedT {
    fn pack<'b>(&self, fbb: &mut FlatBufferBuilder<'b>) -> WIPOffset<SpeedView<'b>> {
        let label = fbb.create_string(&self.label);
        let engine = self.engine.map(|(rpm, temp)| {
            let start = fbb.start_table();
            fbb.push_slot::<i16>(6, temp, -40);
            fbb.push_slot::<u16>(4, rpm, 0);
            fbb.end_table(start)
        });
        let start = fbb.start_table();
        if let Some(e) = engine {
            fbb.push_slot_always(SpeedView::VT_ENGINE, e);
        }
        fbb.push_slot_always(SpeedView::VT_LABEL, label);
        fbb.push_slot::<u32>(SpeedView::VT_COUNT, self.count, 0);
        fbb.push_slot::<f32>(SpeedView::VT_KPH, self.kph, 0.0);
        WIPOffset::new(fbb.end_table(start).value())
    }
}

/// The finished bytes of a value (what travels on the bus).
pub fn speed_bytes(v: &SpeedT) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let root = v.pack(&mut fbb);
    fbb.finish_minimal(root);
    fbb.finished_data().to_vec()
}

pub fn speed(kph: f32, count: u32, label: &str) -> SpeedT {
    SpeedT { kph, count, label: label.to_owned(), engine: None }
}

/// Read a payload back (the test side knows the compiled type).
pub fn view(bytes: &[u8]) -> SpeedView<'_> {
    flatbuffers::root::<SpeedView<'_>>(bytes).expect("a valid test.Speed")
}

pub const SPEED: Topic<Speed> = Topic::new("chassis/speed");
/// Request/reply: doubles `kph`, echoes `label`.
pub const DOUBLE: Service<Speed, Speed> = Service::new("test/double").with_timeout(Duration::from_secs(2));
