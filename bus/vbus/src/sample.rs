//! Received samples: verified FlatBuffers bytes plus their header.

use std::{fmt, marker::PhantomData, time::Duration};

use zenoh::bytes::ZBytes;

use crate::{Message, message::view_verified, wire::Header};

/// Payload bytes, zero-copy when the transport delivered them in one piece, read in place in
/// shared memory when they came by the same-host path.
pub(crate) enum Payload {
    Zenoh(ZBytes),
    Local(crate::local::LocalSample),
    /// Came through shared memory, copied out (the subscriber held too many in place, or the
    /// application cloned the sample).
    LocalCopy(ZBytes),
}

impl Clone for Payload {
    /// A sample in shared memory is copied out: the publisher's segment holds only a few
    /// samples per subscriber in place.
    fn clone(&self) -> Self {
        match self {
            Self::Zenoh(z) => Self::Zenoh(z.clone()),
            Self::Local(l) => Self::local_copy_of(l.bytes()),
            Self::LocalCopy(z) => Self::LocalCopy(z.clone()),
        }
    }
}

impl Payload {
    pub(crate) fn from_zbytes(z: &ZBytes) -> Self {
        let mut slices = z.slices();
        match (slices.next(), slices.next()) {
            (Some(_), None) => Self::Zenoh(z.clone()),
            // Fragmented (large messages): one copy into a contiguous buffer.
            _ => Self::Zenoh(ZBytes::from(z.to_bytes().into_owned())),
        }
    }

    pub(crate) fn local_copy_of(bytes: &[u8]) -> Self {
        Self::LocalCopy(ZBytes::from(bytes.to_vec()))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Self::Zenoh(z) | Self::LocalCopy(z) => z.slices().next().unwrap_or(&[]),
            Self::Local(l) => l.bytes(),
        }
    }

    /// Which path the sample took.
    pub(crate) fn path(&self) -> DataPath {
        match self {
            Self::Zenoh(_) => DataPath::Zenoh,
            Self::Local(_) | Self::LocalCopy(_) => DataPath::SharedMemory,
        }
    }
}

/// How a sample reached its subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataPath {
    /// Shared memory between processes of one host, read in place.
    SharedMemory,
    /// A zenoh link (another host, or a same-host peer without shared memory).
    Zenoh,
}

impl fmt::Display for DataPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SharedMemory => "shared-memory",
            Self::Zenoh => "zenoh",
        })
    }
}

/// A verified sample of type `T`, as delivered to the application.
///
/// [`Sample::view`] reads it in place (zero copy): the bytes were verified against `T`'s schema
/// on receipt, so reading can neither fail nor go out of bounds.
pub struct Sample<T> {
    pub(crate) payload: Payload,
    pub(crate) header: Header,
    pub(crate) received_ns: u64,
    pub(crate) _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Sample<T> {
    fn clone(&self) -> Self {
        Self {
            payload: self.payload.clone(),
            header: self.header,
            received_ns: self.received_ns,
            _type: PhantomData,
        }
    }
}

impl<T: Message> Sample<T> {
    /// The FlatBuffers view of the sample.
    pub fn view(&self) -> T::View<'_> {
        view_verified::<T>(self.payload.bytes())
    }
}

impl<T> Sample<T> {
    /// The raw FlatBuffers bytes (already verified).
    pub fn bytes(&self) -> &[u8] {
        self.payload.bytes()
    }
    /// Publisher sequence number.
    pub fn seq(&self) -> u64 {
        self.header.seq
    }
    /// Source timestamp, ns since the UNIX epoch.
    pub fn source_time_ns(&self) -> u64 {
        self.header.source_time_ns
    }
    /// Id of the publisher that sent it.
    pub fn publisher_id(&self) -> u64 {
        self.header.publisher_id
    }
    /// The path this sample took: shared memory (same host) or zenoh.
    pub fn path(&self) -> DataPath {
        self.payload.path()
    }
    /// Wall-clock time from publication to receipt (zero if the clocks disagree backwards).
    pub fn latency(&self) -> Duration {
        Duration::from_nanos(self.received_ns.saturating_sub(self.header.source_time_ns))
    }
}

impl<T: Message> fmt::Debug for Sample<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sample")
            .field("type", &T::TYPE_NAME)
            .field("seq", &self.header.seq)
            .field("publisher_id", &format_args!("{:016x}", self.header.publisher_id))
            .field("len", &self.payload.bytes().len())
            .finish()
    }
}

impl fmt::Debug for Sample<crate::Untyped> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sample")
            .field("seq", &self.header.seq)
            .field("publisher_id", &format_args!("{:016x}", self.header.publisher_id))
            .field("len", &self.payload.bytes().len())
            .finish()
    }
}
