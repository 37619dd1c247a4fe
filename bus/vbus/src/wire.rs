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
/// | 3 | 1 | flags: bit 0 = E2E extension follows ([`FLAG_E2E`]); bit 1 = also delivered through shared memory ([`FLAG_LOCAL`]) |
/// | 4 | 4 | host tag with [`FLAG_LOCAL`], else 0 |
/// | 8 | 8 | schema type hash |
/// | 16 | 8 | sequence number (per publisher, starts at 1) |
/// | 24 | 8 | source timestamp, ns since the UNIX epoch |
/// | 32 | 8 | publisher id (random per publisher instance) |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// Header flags ([`FLAG_E2E`], [`FLAG_LOCAL`]; other bits reserved, 0).
    pub flags: u8,
    /// With [`FLAG_LOCAL`]: the tag of the host whose subscribers got this sample through shared
    /// memory (they ignore its zenoh copy); otherwise 0.
    pub host_tag: u32,
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
        b[4..8].copy_from_slice(&self.host_tag.to_le_bytes());
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
            host_tag: u32::from_le_bytes(b[4..8].try_into().expect("4 bytes")),
            type_hash: u64_at(8),
            seq: u64_at(16),
            source_time_ns: u64_at(24),
            publisher_id: u64_at(32),
        })
    }
}

/// Header flag: an 8-byte E2E extension follows the header (see [`E2eExt`]).
pub const FLAG_E2E: u8 = 0x01;
/// Header flag: the publisher also delivered this sample through shared memory to the
/// subscribers of the host named by [`Header::host_tag`]; those ignore the zenoh copy.
pub const FLAG_LOCAL: u8 = 0x02;

/// Whether a received attachment announces a sample that subscribers of host `tag` already got
/// through shared memory (read without decoding the whole header).
pub fn delivered_locally(attachment: &[u8], tag: u32) -> bool {
    attachment.len() >= HEADER_LEN && attachment[3] & FLAG_LOCAL != 0 && attachment[4..8] == tag.to_le_bytes()
}
/// Length of the E2E extension.
pub const E2E_EXT_LEN: usize = 8;

/// End-to-end protection of safety-relevant topics, in the spirit of AUTOSAR E2E profile 4:
/// the header's sequence number is the counter, a data id binds the sample to its topic, and a
/// CRC-32P4 covers header, data id and payload.
///
/// Layout after the 40-byte header: `data_id: u32 LE`, `crc: u32 LE`, with
/// `crc = CRC-32P4(header[0..40] ++ data_id LE ++ payload)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E2eExt {
    /// FNV-1a 32 of the topic key relative to the domain ([`data_id`]).
    pub data_id: u32,
    /// CRC-32P4 as above.
    pub crc: u32,
}

impl E2eExt {
    /// Compute the extension for a header (which must carry [`FLAG_E2E`]) and payload.
    pub fn compute(header: &[u8; HEADER_LEN], data_id: u32, payload: &[u8]) -> Self {
        let mut c = crc32p4_update(!0, header);
        c = crc32p4_update(c, &data_id.to_le_bytes());
        c = crc32p4_update(c, payload);
        Self { data_id, crc: !c }
    }

    /// Serialize.
    pub fn encode(&self) -> [u8; E2E_EXT_LEN] {
        let mut b = [0u8; E2E_EXT_LEN];
        b[0..4].copy_from_slice(&self.data_id.to_le_bytes());
        b[4..8].copy_from_slice(&self.crc.to_le_bytes());
        b
    }

    /// Parse from a whole attachment (header + extension); `None` if too short.
    pub fn decode(attachment: &[u8]) -> Option<Self> {
        let b = attachment.get(HEADER_LEN..HEADER_LEN + E2E_EXT_LEN)?;
        Some(Self {
            data_id: u32::from_le_bytes(b[0..4].try_into().ok()?),
            crc: u32::from_le_bytes(b[4..8].try_into().ok()?),
        })
    }
}

/// FNV-1a 32 of `bytes` (the E2E data id, the host tag, the wake-up slot of a topic).
pub fn fnv1a32(bytes: impl IntoIterator<Item = u8>) -> u32 {
    bytes.into_iter().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

/// The E2E data id of a topic key: FNV-1a 32 of its UTF-8 bytes.
pub fn data_id(key: &str) -> u32 {
    fnv1a32(key.bytes())
}

/// CRC-32P4 (AUTOSAR E2E profile 4): polynomial 0xF4ACFB13, reflected, init and xor-out
/// 0xFFFFFFFF. `update` works on the non-inverted register: start with `!0`, finish with `!`.
const CRC32P4_TABLE: [u32; 256] = {
    let poly = 0xF4AC_FB13u32.reverse_bits();
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

fn crc32p4_update(mut c: u32, data: &[u8]) -> u32 {
    for &b in data {
        c = CRC32P4_TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    c
}

/// CRC-32P4 of `data`.
pub fn crc32p4(data: &[u8]) -> u32 {
    !crc32p4_update(!0, data)
}

/// `vbus/<domain>/<key>`: where samples of a topic (and calls of a service) travel.
pub fn data_key(domain: &str, key: &str) -> String {
    format!("{KEY_PREFIX}/{domain}/{key}")
}

/// `vbus/<domain>/<key>/@history`: the queryable each publisher with history serves.
pub fn history_key(domain: &str, key: &str) -> String {
    format!("{KEY_PREFIX}/{domain}/{key}/@history")
}

/// `vbus/<domain>/@bridge/<path>`: a bridge's health and counters (JSON documents, e.g.
/// `@bridge/can/<bus>/stats`, `@bridge/cloud/stats`); `@bridge` is the one reserved chunk
/// `vbus echo` reads.
pub fn bridge_key(domain: &str, path: &str) -> String {
    format!("{KEY_PREFIX}/{domain}/@bridge/{path}")
}

/// `vbus/<domain>/@node/<name>`: the liveliness token of a node.
pub fn node_key(domain: &str, name: &str) -> String {
    format!("{KEY_PREFIX}/{domain}/@node/{name}")
}

/// `vbus/<domain>/@local/<host tag>/`: prefix of the tokens of subscribers that read through
/// shared memory on the host with that tag (`.../<node>/<type>/<key>`).
pub fn local_token_prefix(domain: &str, tag: u32) -> String {
    format!("{KEY_PREFIX}/{domain}/@local/{tag:08x}/")
}

/// `vbus/<domain>/@local/<host tag>/<node>/<type>/<key>`: see [`local_token_prefix`].
pub fn local_token_key(domain: &str, tag: u32, node: &str, type_name: &str, key: &str) -> String {
    format!("{}{node}/{type_name}/{key}", local_token_prefix(domain, tag))
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
    fn crc32p4_matches_the_autosar_check_value() {
        // AUTOSAR SWS E2E Library: CRC-32P4 check value over "123456789".
        assert_eq!(crc32p4(b"123456789"), 0x1697_D06A);
        let h =
            Header { flags: FLAG_E2E, host_tag: 0, type_hash: 1, seq: 2, source_time_ns: 3, publisher_id: 4 }
                .encode();
        let ext = E2eExt::compute(&h, data_id("chassis/brake"), b"payload");
        let mut att = h.to_vec();
        att.extend_from_slice(&ext.encode());
        assert_eq!(E2eExt::decode(&att), Some(ext));
        assert_ne!(E2eExt::compute(&h, data_id("chassis/brake"), b"pbyload"), ext);
        assert_eq!(E2eExt::decode(&h), None);
    }

    #[test]
    fn header_round_trips_and_rejects_garbage() {
        let h = Header {
            flags: 0,
            host_tag: 0,
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
