//! The CAN frame every interface speaks.

use std::fmt;

/// Largest CAN FD payload.
pub const MAX_DATA: usize = 64;

/// A classic or FD data frame with its receive (or capture) time.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CanFrame {
    /// Identifier without flags (11 or 29 bits).
    pub id: u32,
    /// 29-bit identifier.
    pub extended: bool,
    /// CAN FD frame.
    pub fd: bool,
    /// Time of reception (or of capture, for replayed logs), ns since the UNIX epoch.
    pub timestamp_ns: Option<u64>,
    len: u8,
    data: [u8; MAX_DATA],
}

impl CanFrame {
    /// A frame; `None` if `data` is longer than 64 bytes, longer than 8 for classic CAN, or the
    /// identifier does not fit its width.
    pub fn new(id: u32, extended: bool, fd: bool, data: &[u8]) -> Option<Self> {
        let limit = if fd { MAX_DATA } else { 8 };
        let id_ok = if extended { id <= 0x1FFF_FFFF } else { id <= 0x7FF };
        if data.len() > limit || !id_ok {
            return None;
        }
        let mut buf = [0u8; MAX_DATA];
        buf[..data.len()].copy_from_slice(data);
        Some(Self { id, extended, fd, timestamp_ns: None, len: data.len() as u8, data: buf })
    }

    /// With a timestamp.
    pub fn at(mut self, timestamp_ns: u64) -> Self {
        self.timestamp_ns = Some(timestamp_ns);
        self
    }

    /// Payload bytes.
    pub fn data(&self) -> &[u8] {
        &self.data[..self.len as usize]
    }
}

impl fmt::Debug for CanFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self)
    }
}

impl fmt::Display for CanFrame {
    /// candump `-l` style: `123#DEADBEEF`, `12345678#...`, FD `123##0...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.extended {
            write!(f, "{:08X}", self.id)?;
        } else {
            write!(f, "{:03X}", self.id)?;
        }
        f.write_str(if self.fd { "##0" } else { "#" })?;
        for b in self.data() {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}
