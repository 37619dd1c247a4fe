//! The cloud-side message formats (see `FORMAT.md`): uplink batches, commands and replies.
//!
//! Everything is JSON so that a person can read it with `mosquitto_sub`; payloads (FlatBuffers
//! bytes) are base64. 64-bit identifiers (type hashes, publisher ids) are 16 hex digits because
//! JSON numbers lose precision past 2^53 in many readers; counters and nanosecond times are plain
//! integers. A compressed batch is one zstd frame around the same JSON; the first byte tells them
//! apart (`{` or the zstd magic `28 b5 2f fd`).

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::config::Compression;

/// Version of the batch format written in `v`.
pub const FORMAT_VERSION: u32 = 1;

/// The zstd frame magic number, little-endian, as it starts a compressed batch.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// A batch of samples: one MQTT message on `<prefix>/<vehicle>/data`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Format version ([`FORMAT_VERSION`]).
    pub v: u32,
    /// Vehicle id.
    pub vehicle: String,
    /// Random id of the bridge's queue database; `(store, id)` names a sample uniquely.
    pub store: String,
    /// When the batch was encoded, ns since the UNIX epoch (vehicle clock).
    pub sent_ns: u64,
    /// Samples dropped by the queue's size policy since the queue was created (all time).
    pub dropped: u64,
    /// The samples, in queue order (which is arrival order, so in order per topic).
    pub samples: Vec<CloudSample>,
}

/// One bus sample in a batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloudSample {
    /// Queue id: increases by arrival, never reused within a `store`.
    pub id: u64,
    /// Topic key relative to the domain.
    pub key: String,
    /// FlatBuffers type name, when the publisher declared one.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// Schema hash of the payload type.
    #[serde(with = "hex64")]
    pub type_hash: u64,
    /// The publisher's random id; `(publisher, seq)` identifies a sample on the bus.
    #[serde(with = "hex64")]
    pub publisher: u64,
    /// The publisher's sequence number (consecutive per publisher).
    pub seq: u64,
    /// Source time: ns since the UNIX epoch when the sample was published.
    pub t: u64,
    /// Collection rule that selected the sample.
    pub rule: String,
    /// Its priority (0 = most important).
    pub prio: u8,
    /// The FlatBuffers payload.
    #[serde(with = "b64")]
    pub data: Vec<u8>,
}

/// A command from the cloud (`<prefix>/<vehicle>/cmd`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// Caller's id of the command, echoed in the reply.
    pub id: String,
    /// Service key on the bus.
    pub service: String,
    /// Request type hash; may be omitted when the allowlist pins it.
    #[serde(default, with = "opt_hex64", skip_serializing_if = "Option::is_none")]
    pub type_hash: Option<u64>,
    /// The request FlatBuffer.
    #[serde(with = "b64")]
    pub payload: Vec<u8>,
    /// Call timeout; default from the allowlist or configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// Outcome of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The service replied; `payload` holds the reply.
    Ok,
    /// The bridge did not call the service (not allowed, malformed, busy, duplicate).
    Refused,
    /// The call was made and failed on the bus (no server, timeout, refused by the service).
    Failed,
}

/// The answer to a command (`<prefix>/<vehicle>/cmd/reply`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The command's id (empty when the command could not even be parsed).
    pub id: String,
    /// The command's service, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Outcome.
    pub status: Status,
    /// Why it was refused or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Reply type name.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// Reply type hash.
    #[serde(default, with = "opt_hex64", skip_serializing_if = "Option::is_none")]
    pub type_hash: Option<u64>,
    /// The reply FlatBuffer.
    #[serde(default, with = "opt_b64", skip_serializing_if = "Option::is_none")]
    pub payload: Option<Vec<u8>>,
}

/// Why bytes are not a batch.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// zstd could not decompress it.
    #[error("zstd: {0}")]
    Zstd(std::io::Error),
    /// Not the JSON described in FORMAT.md.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// Encode a batch: JSON, then optionally one zstd frame. The JSON ends with a newline so that
/// batches appended to a file (or zstd frames decompressed one after another) are JSON Lines.
pub fn encode_batch(batch: &Batch, compression: Compression, zstd_level: i32) -> Vec<u8> {
    let mut json = serde_json::to_vec(batch).expect("a batch always serializes");
    json.push(b'\n');
    match compression {
        Compression::None => json,
        Compression::Zstd => zstd::bulk::compress(&json, zstd_level).expect("in-memory zstd cannot fail"),
    }
}

/// Decode a batch, compressed or not (the reference reader of FORMAT.md).
pub fn decode_batch(bytes: &[u8]) -> Result<Batch, FormatError> {
    if bytes.starts_with(&ZSTD_MAGIC) {
        let json = zstd::stream::decode_all(bytes).map_err(FormatError::Zstd)?;
        Ok(serde_json::from_slice(&json)?)
    } else {
        Ok(serde_json::from_slice(bytes)?)
    }
}

/// Format a 64-bit id as 16 lower-case hex digits.
pub fn hex(v: u64) -> String {
    format!("{v:016x}")
}

mod hex64 {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::hex(*v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        crate::config::parse_hash(&s).map_err(serde::de::Error::custom)
    }
}

mod opt_hex64 {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&super::hex(*v)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| crate::config::parse_hash(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

mod opt_b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| base64::engine::general_purpose::STANDARD.decode(s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Base64 (standard alphabet, padded), as used for payloads.
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Batch {
        Batch {
            v: FORMAT_VERSION,
            vehicle: "car1".into(),
            store: "0123456789abcdef".into(),
            sent_ns: 1_700_000_000_000_000_001,
            dropped: 3,
            samples: vec![CloudSample {
                id: 7,
                key: "chassis/speed".into(),
                type_name: Some("test.Speed".into()),
                type_hash: u64::MAX - 1,
                publisher: 0x0102_0304_0506_0708,
                seq: 12,
                t: 1_700_000_000_123_456_789,
                rule: "everything".into(),
                prio: 5,
                data: vec![0, 1, 2, 255],
            }],
        }
    }

    #[test]
    fn batches_round_trip_plain_and_zstd() {
        let b = batch();
        let plain = encode_batch(&b, Compression::None, 3);
        assert_eq!(plain[0], b'{');
        assert_eq!(*plain.last().unwrap(), b'\n');
        let text = String::from_utf8(plain.clone()).unwrap();
        assert!(text.contains(r#""type_hash":"fffffffffffffffe""#), "{text}");
        assert!(text.contains(r#""t":1700000000123456789"#), "ns stay exact integers: {text}");
        assert!(text.contains(r#""data":"AAEC/w==""#), "{text}");
        assert_eq!(decode_batch(&plain).unwrap(), b);
        let z = encode_batch(&b, Compression::Zstd, 3);
        assert!(z.starts_with(&ZSTD_MAGIC));
        assert_eq!(decode_batch(&z).unwrap(), b);
    }

    #[test]
    fn commands_parse_and_reject_garbage() {
        let c: Command = serde_json::from_str(
            r#"{"id":"1","service":"a/b","type_hash":"00000000000000ff","payload":"AQI="}"#,
        )
        .unwrap();
        assert_eq!(c.type_hash, Some(255));
        assert_eq!(c.payload, vec![1, 2]);
        assert!(serde_json::from_str::<Command>(r#"{"id":"1","service":"a","payload":"!!"}"#).is_err());
        assert!(serde_json::from_str::<Command>(r#"{"id":"1","service":"a","payload":"","x":1}"#).is_err());
    }
}
