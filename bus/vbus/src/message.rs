//! The link between a FlatBuffers schema type and the bus.

use flatbuffers::{FlatBufferBuilder, Follow, Verifiable, WIPOffset};

/// A FlatBuffers table type that can travel on the bus.
///
/// Implemented by code that `vbus-codegen` generates for every table that declares a topic (or by
/// hand for small tests). The implementing type is a zero-sized marker; the data itself is always
/// read through the verified, zero-copy [`Message::View`].
pub trait Message: Send + Sync + 'static {
    /// The FlatBuffers accessor type that flatc generates for this table (`Foo<'a>`).
    type View<'a>: Follow<'a, Inner = Self::View<'a>> + Verifiable + 'a;

    /// Fully qualified schema name, e.g. `vehicle.chassis.VehicleSpeed`.
    const TYPE_NAME: &'static str;

    /// Stable 64-bit hash of the schema shape (field names, types, ids). Publisher and subscriber
    /// compare it on every sample, so a schema change is reported instead of mis-decoded.
    const TYPE_HASH: u64;

    /// The binary FlatBuffers schema (`.bfbs`) of this type, served to tools that decode without
    /// compiled types. Empty when unavailable.
    const SCHEMA: &'static [u8] = &[];
}

/// A value that can write itself as a `T` table into a FlatBuffers builder.
///
/// Implemented for flatc's object-API types (`FooT`) by `vbus-codegen`, and by hand for any
/// application struct that maps onto a topic.
pub trait Pack<T: Message> {
    /// Write `self` into `fbb` and return the offset of the table (not yet finished).
    fn pack<'b>(&self, fbb: &mut FlatBufferBuilder<'b>) -> WIPOffset<T::View<'b>>;
}

/// Verify `bytes` as a `T` with bounded limits (depth, table count) suitable for untrusted input.
pub(crate) fn verify<T: Message>(bytes: &[u8]) -> Result<(), flatbuffers::InvalidFlatbuffer> {
    let opts = flatbuffers::VerifierOptions {
        max_depth: 64,
        max_tables: 1_000_000,
        max_apparent_size: 1 << 31,
        ignore_missing_null_terminator: false,
    };
    flatbuffers::root_with_opts::<T::View<'_>>(&opts, bytes).map(|_| ())
}

/// Read a `T` view from bytes that [`verify`] accepted.
pub(crate) fn view_verified<T: Message>(bytes: &[u8]) -> T::View<'_> {
    // SAFETY: every payload reaching this function was checked by `verify::<T>` when it was
    // received (see `subscriber::Ingress`), and the bytes are immutable since then.
    unsafe { flatbuffers::root_unchecked::<T::View<'_>>(bytes) }
}
