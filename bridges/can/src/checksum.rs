//! Checksums the bridge fills into written frames.

use serde::Deserialize;

/// A one-byte checksum over the frame's other bytes.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// XOR of the bytes.
    Xor8,
    /// Sum of the bytes, modulo 256.
    Sum8,
    /// CRC-8 SAE J1850: polynomial 0x1D, init 0xFF, final XOR 0xFF (AUTOSAR `Crc_CalculateCRC8`).
    Crc8J1850,
}

impl Algorithm {
    /// The checksum of `data` without the byte at `skip`.
    pub fn compute(self, data: &[u8], skip: usize) -> u8 {
        let bytes = data.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, b)| *b);
        match self {
            Algorithm::Xor8 => bytes.fold(0, |a, b| a ^ b),
            Algorithm::Sum8 => bytes.fold(0u8, |a, b| a.wrapping_add(b)),
            Algorithm::Crc8J1850 => {
                let mut crc = 0xFFu8;
                for b in bytes {
                    crc ^= b;
                    for _ in 0..8 {
                        crc = if crc & 0x80 != 0 { (crc << 1) ^ 0x1D } else { crc << 1 };
                    }
                }
                crc ^ 0xFF
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // AUTOSAR SWS CRC: CRC-8 SAE J1850 check value over "123456789" is 0x4B.
        assert_eq!(Algorithm::Crc8J1850.compute(b"123456789\0", 9), 0x4B);
        assert_eq!(Algorithm::Xor8.compute(&[1, 2, 0xAA, 4], 2), 1 ^ 2 ^ 4);
        assert_eq!(Algorithm::Sum8.compute(&[200, 100, 0], 2), 44);
    }
}
