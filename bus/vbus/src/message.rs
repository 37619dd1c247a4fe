//! The link between a FlatBuffers schema type and the bus.

use std::sync::Arc;

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

/// Checks that bytes are a valid FlatBuffer of a type known at run time; the message says what
/// is wrong. Bindings build one from the type's `.bfbs` (`vbus-reflect`) or from flatc's
/// generated verifier of their language.
pub type Verifier = Arc<dyn Fn(&[u8]) -> Result<(), String> + Send + Sync>;

/// A message type as the bus sees it at run time: name, hash, schema and how to verify a payload.
///
/// Compiled types give theirs through [`TypeInfo::of`]; programs that know a type only at run
/// time (the C, C++ and Python bindings, tools) build one with [`TypeInfo::new`] and declare
/// endpoints with it ([`Node::dyn_publisher`](crate::Node::dyn_publisher) and the other `dyn_`
/// methods). Both take the same paths with the same QoS, checks and counters; only the
/// samples' type differs ([`Untyped`]: bytes, no compiled view).
#[derive(Clone)]
pub struct TypeInfo {
    name: Arc<str>,
    hash: u64,
    schema: Arc<[u8]>,
    verify: Verify,
}

#[derive(Clone)]
enum Verify {
    Compiled(fn(&[u8]) -> Result<(), flatbuffers::InvalidFlatbuffer>),
    Given(Verifier),
}

impl TypeInfo {
    /// The run-time description of the compiled type `T`.
    pub fn of<T: Message>() -> Self {
        Self {
            name: T::TYPE_NAME.into(),
            hash: T::TYPE_HASH,
            schema: T::SCHEMA.into(),
            verify: Verify::Compiled(verify::<T>),
        }
    }

    /// A type known by its name and hash, whose payloads `verify` checks. Every payload this
    /// type's endpoints receive or send is verified first, as for compiled types.
    pub fn new(name: &str, hash: u64, verify: Verifier) -> Self {
        Self { name: name.into(), hash, schema: Arc::from(&[][..]), verify: Verify::Given(verify) }
    }

    /// Attach the binary schema (`.bfbs`, root table set to this type): publishers and servers
    /// serve it, so that tools decode the samples with nothing compiled.
    pub fn with_schema(mut self, bfbs: impl Into<Arc<[u8]>>) -> Self {
        self.schema = bfbs.into();
        self
    }

    /// Fully qualified schema name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Schema hash, carried in every header.
    pub fn hash(&self) -> u64 {
        self.hash
    }
    /// The `.bfbs`, empty when none was given.
    pub fn schema(&self) -> &[u8] {
        &self.schema
    }

    pub(crate) fn name_arc(&self) -> Arc<str> {
        self.name.clone()
    }

    pub(crate) fn schema_arc(&self) -> Arc<[u8]> {
        self.schema.clone()
    }

    /// Whether `bytes` are a valid payload of this type.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), String> {
        match &self.verify {
            Verify::Compiled(f) => f(bytes).map_err(|e| e.to_string()),
            Verify::Given(f) => f(bytes),
        }
    }
}

impl std::fmt::Debug for TypeInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypeInfo")
            .field("name", &self.name)
            .field("hash", &format_args!("{:#018x}", self.hash))
            .field("schema_len", &self.schema.len())
            .finish()
    }
}

/// The sample type of endpoints declared with a run-time [`TypeInfo`]: a `Sample<Untyped>` has
/// the verified bytes and the header, but no compiled view.
#[derive(Debug, Clone, Copy)]
pub struct Untyped;
