//! The wire contract (see `WIRE.md`): key layout and the attachment header.
//!
//! Kept free of zenoh types so that it reads like the C struct a zenoh-pico peer would use.

use std::fmt;

/// First segment of every vbus key.
pub const KEY_PREFIX: &str = "vbus";
/// Length of the fixed attachment header, in bytes.
pub const HEADER_LEN: usize = 40;
/// Magic bytes at the start of the header.
pub const HEADER_MAGIC: [u8; 2] = *b"vb";
/// Header version this build writes and reads.
pub const HEADER_VERSION: u8 = 1;

/// The attachment header carried by every sample, request and reply.
///
/// Layout (little-endian, 8-byte fields on 8-byte offsets):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 2 | magic `"vb"` |
/// | 2 | 1 | version (1) |
/// | 3 | 1 | flags (reserved, 0) |
/// | 4 | 4 | reserved (0) |
/// | 8 | 8 | schema type hash |
/// | 16 | 8 | sequence number (per publisher, starts at 1) |
/// | 24 | 8 | source timestamp, ns since the UNIX epoch |
/// | 32 | 8 | publisher id (random per publisher instance) |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Header flags (reserved; 0 in version 1).
    pub flags: u8,
    /// [`crate::Message::TYPE_HASH`] of the payload's type.
    pub type_hash: u64,
    /// Publisher sequence number; consecutive per publisher id.
    pub seq: u64,
    /// Source timestamp (ns since UNIX epoch) taken when the sample was published.
    pub source_time_ns: u64,
    /// Random id of the publishing endpoint; sequence numbers are per publisher id.
    pub publisher_id: u64,
}

/// Why an attachment header was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The attachment is absent (the sender is not a vbus publisher).
    Missing,
    /// The attachment is shorter than [`HEADER_LEN`].
    Truncated {
        /// Bytes received.
        found: usize,
    },
    /// The magic bytes are wrong.
    BadMagic {
        /// What was found instead of `"vb"`.
        found: [u8; 2],
    },
    /// A header version this build does not read.
    UnsupportedVersion {
        /// The version found.
        found: u8,
    },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => write!(f, "expected a {HEADER_LEN}-byte vbus attachment header, found none"),
            Self::Truncated { found } => {
                write!(f, "expected a {HEADER_LEN}-byte vbus attachment header, found {found} bytes")
            }
            Self::BadMagic { found } => write!(f, "expected header magic \"vb\", found {found:02x?}"),
            Self::UnsupportedVersion { found } => {
                write!(f, "expected header version {HEADER_VERSION}, found {found}")
            }
        }
    }
}

impl std::error::Error for HeaderError {}

impl Header {
    /// Serialize into the fixed layout.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..2].copy_from_slice(&HEADER_MAGIC);
        b[2] = HEADER_VERSION;
        b[3] = self.flags;
        b[8..16].copy_from_slice(&self.type_hash.to_le_bytes());
        b[16..24].copy_from_slice(&self.seq.to_le_bytes());
        b[24..32].copy_from_slice(&self.source_time_ns.to_le_bytes());
        b[32..40].copy_from_slice(&self.publisher_id.to_le_bytes());
        b
    }

    /// Parse the fixed layout. Bytes beyond [`HEADER_LEN`] are ignored (room for extensions).
    pub fn decode(b: &[u8]) -> Result<Self, HeaderError> {
        if b.len() < HEADER_LEN {
            return Err(HeaderError::Truncated { found: b.len() });
        }
        if b[0..2] != HEADER_MAGIC {
            return Err(HeaderError::BadMagic { found: [b[0], b[1]] });
        }
        if b[2] != HEADER_VERSION {
            return Err(HeaderError::UnsupportedVersion { found: b[2] });
        }
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        Ok(Self {
            flags: b[3],
            type_hash: u64_at(8),
            seq: u64_at(16),
            source_time_ns: u64_at(24),
            publisher_id: u64_at(32),
        })
    }
}

/// `vbus/<domain>/<key>`: where samples of a topic (and calls of a service) travel.
pub fn data_key(domain: &str, key: &str) -> String {
    format!("{KEY_PREFIX}/{domain}/{key}")
}

/// `vbus/<domain>/<key>/@history`: the queryable each publisher with history serves.
pub fn history_key(domain: &str, key: &str) -> String {
    format!("{KEY_PREFIX}/{domain}/{key}/@history")
}

/// `vbus/<domain>/@node/<name>`: the liveliness token of a node.
pub fn node_key(domain: &str, name: &str) -> String {
    format!("{KEY_PREFIX}/{domain}/@node/{name}")
}

/// `vbus/<domain>/@schema/<type name>`: where nodes serve the `.bfbs` of the types they publish.
pub fn schema_key(domain: &str, type_name: &str) -> String {
    format!("{KEY_PREFIX}/{domain}/@schema/{type_name}")
}

/// `vbus/<domain>/@pub/<node>/<type name>/<key>` (or `@sub`): the liveliness token announcing an
/// endpoint, so tools list topics, their types and who publishes them.
pub fn endpoint_token_key(domain: &str, publisher: bool, node: &str, type_name: &str, key: &str) -> String {
    let role = if publisher { "@pub" } else { "@sub" };
    format!("{KEY_PREFIX}/{domain}/{role}/{node}/{type_name}/{key}")
}

/// The zenoh encoding of FlatBuffers payloads; the schema type name follows after `;`.
pub const ENCODING_PREFIX: &str = "application/x-flatbuffers;";

/// The zenoh encoding string for a FlatBuffers payload of `type_name`.
pub fn encoding(type_name: &str) -> String {
    format!("{ENCODING_PREFIX}{type_name}")
}

/// The schema type name in a vbus encoding string, if it is one.
pub fn type_name_of(encoding: &str) -> Option<&str> {
    encoding.strip_prefix(ENCODING_PREFIX).filter(|t| !t.is_empty())
}

/// Nanoseconds since the UNIX epoch, from the system clock.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_garbage() {
        let h = Header {
            flags: 0,
            type_hash: 0x0123_4567_89ab_cdef,
            seq: 42,
            source_time_ns: 7,
            publisher_id: 9,
        };
        let b = h.encode();
        assert_eq!(Header::decode(&b), Ok(h));
        assert_eq!(&b[0..3], b"vb\x01");
        assert_eq!(Header::decode(&b[..10]), Err(HeaderError::Truncated { found: 10 }));
        let mut bad = b;
        bad[0] = b'x';
        assert_eq!(Header::decode(&bad), Err(HeaderError::BadMagic { found: [b'x', b'b'] }));
        bad = b;
        bad[2] = 9;
        assert_eq!(Header::decode(&bad), Err(HeaderError::UnsupportedVersion { found: 9 }));
        assert!(HeaderError::Truncated { found: 3 }.to_string().contains("found 3 bytes"));
    }
}
