//! Received sample payloads: verified exactly as a vbus subscriber does (same limits as
//! `vbus::message::verify`) against a table with scalars, a string, a vector of tables, a struct
//! and a nested table, then read completely (reads after verification must never panic).
#![no_main]
use libfuzzer_sys::fuzz_target;
use vbus::flatbuffers::{self, Follow, ForwardsUOffset, Vector, Verifiable};

/// `struct Vec3 { x: float; y: float; z: float; }`
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Vec3([u8; 12]);
impl<'a> Follow<'a> for Vec3 {
    type Inner = &'a Vec3;
    unsafe fn follow(buf: &'a [u8], loc: usize) -> Self::Inner {
        // SAFETY: `Vec3` is 12 bytes, align 1; the verifier checked the range.
        unsafe { <&'a Vec3>::follow(buf, loc) }
    }
}
impl<'a> Follow<'a> for &'a Vec3 {
    type Inner = &'a Vec3;
    unsafe fn follow(buf: &'a [u8], loc: usize) -> Self::Inner {
        // SAFETY: as above.
        unsafe { flatbuffers::follow_cast_ref::<Vec3>(buf, loc) }
    }
}
impl Verifiable for Vec3 {
    fn run_verifier(
        v: &mut flatbuffers::Verifier<'_, '_>,
        pos: usize,
    ) -> Result<(), flatbuffers::InvalidFlatbuffer> {
        v.in_buffer::<Self>(pos)
    }
}
impl flatbuffers::SimpleToVerifyInSlice for Vec3 {}

/// `table Node { kph: float; count: uint; label: string; pos: Vec3; children: [Node]; tags: [string]; raw: [ubyte]; }`
#[derive(Clone, Copy)]
struct NodeView<'a> {
    tab: flatbuffers::Table<'a>,
}
impl<'a> Follow<'a> for NodeView<'a> {
    type Inner = NodeView<'a>;
    unsafe fn follow(buf: &'a [u8], loc: usize) -> Self::Inner {
        // SAFETY: forwarded contract.
        Self { tab: unsafe { flatbuffers::Table::new(buf, loc) } }
    }
}
impl<'a> NodeView<'a> {
    fn read(&self, depth: usize) -> usize {
        // SAFETY: every accessor below reads a field the verifier checked.
        unsafe {
            let mut n = self.tab.get::<f32>(4, Some(0.0)).unwrap().to_bits() as usize;
            n ^= self.tab.get::<u32>(6, Some(0)).unwrap() as usize;
            n ^= self.tab.get::<ForwardsUOffset<&str>>(8, None).map_or(0, str::len);
            n ^= self.tab.get::<Vec3>(10, None).map_or(0, |v| v.0[0] as usize);
            if let Some(children) =
                self.tab.get::<ForwardsUOffset<Vector<'a, ForwardsUOffset<NodeView<'a>>>>>(12, None)
            {
                if depth < 64 {
                    for c in children.iter() {
                        n ^= c.read(depth + 1);
                    }
                }
            }
            if let Some(tags) = self.tab.get::<ForwardsUOffset<Vector<'a, ForwardsUOffset<&str>>>>(14, None) {
                n ^= tags.iter().map(str::len).sum::<usize>();
            }
            if let Some(raw) = self.tab.get::<ForwardsUOffset<Vector<'a, u8>>>(16, None) {
                n ^= raw.bytes().iter().map(|&b| b as usize).sum::<usize>();
            }
            n
        }
    }
}
impl Verifiable for NodeView<'_> {
    fn run_verifier(
        v: &mut flatbuffers::Verifier<'_, '_>,
        pos: usize,
    ) -> Result<(), flatbuffers::InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<f32>("kph", 4, false)?
            .visit_field::<u32>("count", 6, false)?
            .visit_field::<ForwardsUOffset<&str>>("label", 8, false)?
            .visit_field::<Vec3>("pos", 10, false)?
            .visit_field::<ForwardsUOffset<Vector<'_, ForwardsUOffset<NodeView<'_>>>>>("children", 12, false)?
            .visit_field::<ForwardsUOffset<Vector<'_, ForwardsUOffset<&str>>>>("tags", 14, false)?
            .visit_field::<ForwardsUOffset<Vector<'_, u8>>>("raw", 16, false)?
            .finish();
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    // The limits of `vbus::message::verify`.
    let opts = flatbuffers::VerifierOptions {
        max_depth: 64,
        max_tables: 1_000_000,
        max_apparent_size: 1 << 31,
        ignore_missing_null_terminator: false,
    };
    if let Ok(root) = flatbuffers::root_with_opts::<NodeView<'_>>(&opts, data) {
        std::hint::black_box(root.read(0));
    }
});
