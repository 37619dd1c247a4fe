//! Lossy text decoding for DBC strings.
//!
//! DBC files carry no encoding declaration. Vector tools write Windows-1252,
//! newer generators write UTF-8, and real files mix both (a UTF-8 comment next
//! to a cp1252 unit). Each string is therefore decoded on its own: valid UTF-8
//! is taken as is, anything else is read as Windows-1252, which maps every
//! byte to some character, so decoding never fails.

/// Windows-1252 code points for bytes 0x80..=0x9F. The five bytes the code
/// page leaves undefined map to the C1 control with the same number, as
/// Windows' own converter does.
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

/// Decodes `bytes` as UTF-8 when valid, else as Windows-1252.
pub(crate) fn decode_lossy(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| cp1252_char(b)).collect(),
    }
}

fn cp1252_char(b: u8) -> char {
    match b {
        0x80..=0x9F => CP1252_HIGH[usize::from(b - 0x80)],
        // Latin-1 and ASCII coincide with the code points of the same number.
        _ => char::from(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_kept() {
        assert_eq!(decode_lossy("Grüße °C".as_bytes()), "Grüße °C");
    }

    #[test]
    fn cp1252_fallback() {
        assert_eq!(decode_lossy(b"\xb0C \x80 \xe4"), "°C € ä");
        assert_eq!(decode_lossy(b"\x81"), "\u{81}");
    }
}
