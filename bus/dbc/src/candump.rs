//! Reading SocketCAN `candump` logs.
//!
//! Two formats are accepted, with the exact policy of the reference decoder
//! (`can-oracle/oracle.py`), so a log yields the same frames here and there:
//!
//! ```text
//! (1436509052.249713) can0 044#2A366C2BBA          candump -l / -L
//! (1436509052.249713) can0 12345678#2A36          29-bit: more than 3 hex digits
//! (1436509052.249713) can0 123##1112233           CAN FD: flags nibble, then data
//! can0  044   [5]  2A 36 6C 2B BA                   candump default output
//! (1436509052.249713)  can0  044   [5]  2A 36 ...   candump -ta / -td style
//! ```
//!
//! Blank lines and lines starting with `#` are skipped, and so are remote
//! frames (`ID#R...`, `remote request`), error frames (8-digit IDs with the
//! 0x20000000 flag) and FD lines without data. Lines end at LF, CRLF or a
//! lone CR (Python's universal newlines); the last line needs no newline. A
//! line that is none of the above is an error naming the line, and reading
//! goes on with the next line.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Longest payload a frame holds (CAN FD).
pub const MAX_DATA: usize = 64;

/// One CAN frame read from a log.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Timestamp in seconds, when the line has one.
    pub timestamp: Option<f64>,
    /// Interface name as written (`can0`, `vcan0`, ...).
    pub interface: String,
    /// CAN identifier without flags.
    pub id: u32,
    /// 29-bit identifier: the log wrote more than 3 hex digits.
    pub extended: bool,
    /// Written in the CAN FD form (`##`), or longer than 8 bytes.
    pub fd: bool,
    /// CAN FD flags nibble (`##<flags>`; 1 = bit rate switch, 2 = error
    /// state indicator); 0 for classic frames or a non-hex flags character.
    pub fd_flags: u8,
    len: u8,
    data: [u8; MAX_DATA],
}

impl Frame {
    /// A frame from its parts (`data` at most 64 bytes).
    pub fn new(id: u32, extended: bool, data: &[u8]) -> Option<Frame> {
        let mut buf = [0; MAX_DATA];
        buf.get_mut(..data.len())?.copy_from_slice(data);
        Some(Frame {
            timestamp: None,
            interface: String::new(),
            id,
            extended,
            fd: data.len() > 8,
            fd_flags: 0,
            len: data.len() as u8,
            data: buf,
        })
    }

    /// The payload.
    pub fn data(&self) -> &[u8] {
        &self.data[..usize::from(self.len)]
    }
}

/// What is wrong with a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineErrorKind {
    /// Neither the compact (`ID#DATA`) nor the spaced (`ID [DLC] DATA`) form.
    Unrecognised,
    /// Compact form whose data has an odd number of hex digits.
    OddHexDigits,
    /// Compact form whose data has a character that is not a hex digit.
    InvalidHex,
    /// Spaced form whose `[DLC]` differs from the number of data bytes.
    DlcMismatch {
        /// The `[n]` of the line.
        dlc: usize,
        /// Data bytes on the line.
        bytes: usize,
    },
    /// More than 64 data bytes.
    TooLong(usize),
}

/// Why a line is not a frame: what was expected and what the line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The problem.
    pub kind: LineErrorKind,
    /// The offending part of the line (abbreviated).
    pub found: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let found = &self.found;
        match &self.kind {
            LineErrorKind::Unrecognised => {
                write!(
                    f,
                    "expected a candump frame like '(t) can0 123#DEADBEEF' or 'can0 123 [4] DE AD BE EF', found '{found}'"
                )
            }
            LineErrorKind::OddHexDigits => {
                write!(f, "expected an even number of hex digits of data, found '{found}'")
            }
            LineErrorKind::InvalidHex => write!(f, "expected hex digits of data, found '{found}'"),
            LineErrorKind::DlcMismatch { dlc, bytes } => {
                write!(f, "expected {dlc} data bytes as the [{dlc}] says, found {bytes}: '{found}'")
            }
            LineErrorKind::TooLong(n) => {
                write!(f, "expected at most {MAX_DATA} data bytes, found {n}: '{found}'")
            }
        }
    }
}

impl std::error::Error for LineError {}

/// An error of [`Reader`]: a line that is not a frame, or a read failure.
#[derive(Debug)]
pub struct LogError {
    /// 1-based line number.
    pub line: usize,
    /// What went wrong.
    pub kind: LogErrorKind,
}

/// The cause of a [`LogError`].
#[derive(Debug)]
pub enum LogErrorKind {
    /// The line could not be parsed; reading continues with the next line.
    Line(LineError),
    /// Reading failed; the reader stops.
    Io(std::io::Error),
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            LogErrorKind::Line(e) => write!(f, "candump line {}: {e}", self.line),
            LogErrorKind::Io(e) => write!(f, "candump line {}: read error: {e}", self.line),
        }
    }
}

impl std::error::Error for LogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            LogErrorKind::Line(e) => Some(e),
            LogErrorKind::Io(e) => Some(e),
        }
    }
}

/// Whitespace as Python's `str.strip()` and `re` `\s` see it in ASCII
/// (bytes of a log that are not ASCII are never whitespace there).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_space(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_space(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

fn tokens(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|&b| is_space(b)).filter(|t| !t.is_empty())
}

fn show(s: &[u8]) -> String {
    let text = String::from_utf8_lossy(s);
    if text.chars().count() > 60 {
        format!("{}...", text.chars().take(60).collect::<String>())
    } else {
        text.into_owned()
    }
}

/// `(1436509052.249713)` -> the number; `None` if the token is not exactly that.
fn timestamp(tok: &[u8]) -> Option<f64> {
    let inner = tok.strip_prefix(b"(")?.strip_suffix(b")")?;
    let digits = inner.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    match &inner[digits..] {
        [] => {}
        [b'.', frac @ ..] if frac.iter().all(u8::is_ascii_digit) => {}
        _ => return None,
    }
    std::str::from_utf8(inner).ok()?.parse().ok()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn parse_id(hex: &[u8]) -> u32 {
    hex.iter().fold(0, |acc, &b| (acc << 4) | u32::from(hex_value(b).unwrap_or(0)))
}

/// Parses one log line (without its line terminator).
///
/// `Ok(None)` for lines that hold no data frame (blank, comment, remote or
/// error frame); `Err` for lines that are not candump output.
pub fn parse_line(line: &[u8]) -> Result<Option<Frame>, LineError> {
    let s = trim(line);
    if s.is_empty() || s[0] == b'#' {
        return Ok(None);
    }
    // Python's regex tries the optional "(t) " first and falls back to
    // reading "(t)" as the interface, so both readings are tried here too.
    let first_is_ts = tokens(s).next().and_then(timestamp).is_some();
    let readings: &[bool] = if first_is_ts { &[true, false] } else { &[false] };
    for &with_ts in readings {
        if let Some(compact) = match_compact(s, with_ts) {
            return compact.finish();
        }
    }
    for &with_ts in readings {
        if let Some(spaced) = match_spaced(s, with_ts) {
            return spaced;
        }
    }
    Err(LineError { kind: LineErrorKind::Unrecognised, found: show(s) })
}

struct Compact<'a> {
    t: Option<f64>,
    interface: &'a [u8],
    id: &'a [u8],
    fd: bool,
    rest: &'a [u8],
}

/// `[(t)] IF ID#DATA [R|T]` or `... ID##<flags>DATA`.
fn match_compact(s: &[u8], with_ts: bool) -> Option<Compact<'_>> {
    let mut toks = tokens(s);
    let t = if with_ts { Some(timestamp(toks.next()?)?) } else { None };
    let interface = toks.next()?;
    let frame = toks.next()?;
    if let Some(trailer) = toks.next()
        && (!matches!(trailer, b"R" | b"T") || toks.next().is_some())
    {
        return None;
    }
    let digits = frame.iter().take_while(|&&b| hex_value(b).is_some()).count();
    if !(1..=8).contains(&digits) || frame.get(digits) != Some(&b'#') {
        return None;
    }
    let fd = frame.get(digits + 1) == Some(&b'#');
    let rest = &frame[digits + if fd { 2 } else { 1 }..];
    Some(Compact { t, interface, id: &frame[..digits], fd, rest })
}

impl Compact<'_> {
    fn finish(self) -> Result<Option<Frame>, LineError> {
        let (hex, flags) = if self.fd {
            match self.rest.split_first() {
                None => return Ok(None),
                Some((&flag, data)) => (data, hex_value(flag).unwrap_or(0)),
            }
        } else {
            if matches!(self.rest.first(), Some(b'R' | b'r')) {
                return Ok(None);
            }
            (self.rest, 0)
        };
        if hex.len() % 2 != 0 {
            return Err(LineError { kind: LineErrorKind::OddHexDigits, found: show(hex) });
        }
        let id = parse_id(self.id);
        if id & 0x2000_0000 != 0 && self.id.len() == 8 {
            return Ok(None); // error frame (CAN_ERR_FLAG)
        }
        let n = hex.len() / 2;
        if n > MAX_DATA {
            return Err(LineError { kind: LineErrorKind::TooLong(n), found: show(hex) });
        }
        let mut data = [0; MAX_DATA];
        for (k, pair) in hex.chunks(2).enumerate() {
            match (hex_value(pair[0]), hex_value(pair[1])) {
                (Some(h), Some(l)) => data[k] = (h << 4) | l,
                _ => return Err(LineError { kind: LineErrorKind::InvalidHex, found: show(hex) }),
            }
        }
        Ok(Some(Frame {
            timestamp: self.t,
            interface: String::from_utf8_lossy(self.interface).into_owned(),
            id,
            extended: self.id.len() > 3,
            fd: self.fd || n > 8,
            fd_flags: flags,
            len: n as u8,
            data,
        }))
    }
}

/// `[(t)] IF ID [DLC] DE AD BE EF [tail]`.
fn match_spaced(s: &[u8], with_ts: bool) -> Option<Result<Option<Frame>, LineError>> {
    let mut pos = 0;
    let next_token = |pos: &mut usize| -> Option<&[u8]> {
        let start = *pos + s[*pos..].iter().position(|&b| !is_space(b))?;
        let end = start + s[start..].iter().position(|&b| is_space(b)).unwrap_or(s.len() - start);
        *pos = end;
        Some(&s[start..end])
    };
    let t = if with_ts { Some(timestamp(next_token(&mut pos)?)?) } else { None };
    let interface = next_token(&mut pos)?;
    let id = next_token(&mut pos)?;
    if !(1..=8).contains(&id.len()) || !id.iter().all(|&b| hex_value(b).is_some()) {
        return None;
    }
    // `\s+\[` : at least one space (guaranteed by the token split), then '['.
    while s.get(pos).is_some_and(|&b| is_space(b)) {
        pos += 1;
    }
    if s.get(pos) != Some(&b'[') {
        return None;
    }
    pos += 1;
    let dlc_digits = s[pos..].iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=2).contains(&dlc_digits) || s.get(pos + dlc_digits) != Some(&b']') {
        return None;
    }
    let dlc: usize = std::str::from_utf8(&s[pos..pos + dlc_digits]).ok()?.parse().ok()?;
    pos += dlc_digits + 1;
    while s.get(pos).is_some_and(|&b| is_space(b)) {
        pos += 1;
    }
    // Greedy hex pairs, each optionally followed by spaces; the rest is a
    // tail (ASCII dump, "remote request", ...).
    let data_start = pos;
    let mut data = Vec::new();
    while let (Some(h), Some(l)) =
        (s.get(pos).copied().and_then(hex_value), s.get(pos + 1).copied().and_then(hex_value))
    {
        data.push((h << 4) | l);
        pos += 2;
        while s.get(pos).is_some_and(|&b| is_space(b)) {
            pos += 1;
        }
    }
    let tail = &s[pos..];
    if tail.windows(14).any(|w| w == b"remote request") {
        return Some(Ok(None));
    }
    if data.len() != dlc {
        let found = show(&s[data_start..]);
        return Some(Err(LineError { kind: LineErrorKind::DlcMismatch { dlc, bytes: data.len() }, found }));
    }
    if data.len() > MAX_DATA {
        return Some(Err(LineError {
            kind: LineErrorKind::TooLong(data.len()),
            found: show(&s[data_start..]),
        }));
    }
    let mut frame = Frame::new(parse_id(id), id.len() > 3, &data)?;
    frame.timestamp = t;
    frame.interface = String::from_utf8_lossy(interface).into_owned();
    Some(Ok(Some(frame)))
}

/// Streaming reader of a candump log: an iterator of frames and line errors.
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// for item in vbus_dbc::candump::Reader::open("drive.log")? {
///     match item {
///         Ok(frame) => println!("{:X} {:02X?}", frame.id, frame.data()),
///         Err(e) => eprintln!("{e}"), // e.g. "candump line 7: expected ..."
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Reader<R> {
    inner: R,
    buf: Vec<u8>,
    offset: usize,
    line: usize,
    done: bool,
}

impl Reader<BufReader<File>> {
    /// Opens a log file.
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<Self> {
        Ok(Reader::new(BufReader::new(File::open(path)?)))
    }
}

impl<R: BufRead> Reader<R> {
    /// Reads a log from any buffered source.
    pub fn new(inner: R) -> Self {
        Reader { inner, buf: Vec::new(), offset: 0, line: 0, done: false }
    }

    /// Number of lines read so far.
    pub fn lines_read(&self) -> usize {
        self.line
    }

    /// Next line as a range of `buf`, splitting at LF, CRLF and lone CR.
    fn next_line(&mut self) -> Option<Result<(usize, usize), std::io::Error>> {
        if self.offset >= self.buf.len() {
            self.buf.clear();
            self.offset = 0;
            match self.inner.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
        let rest = &self.buf[self.offset..];
        let start = self.offset;
        match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(k) => {
                let crlf = rest[k] == b'\r' && rest.get(k + 1) == Some(&b'\n');
                self.offset = start + k + if crlf { 2 } else { 1 };
                Some(Ok((start, start + k)))
            }
            None => {
                self.offset = self.buf.len();
                Some(Ok((start, self.buf.len())))
            }
        }
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Frame, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let (start, end) = match self.next_line()? {
                Ok(range) => range,
                Err(e) => {
                    self.done = true;
                    return Some(Err(LogError { line: self.line + 1, kind: LogErrorKind::Io(e) }));
                }
            };
            self.line += 1;
            match parse_line(&self.buf[start..end]) {
                Ok(Some(frame)) => return Some(Ok(frame)),
                Ok(None) => {}
                Err(e) => return Some(Err(LogError { line: self.line, kind: LogErrorKind::Line(e) })),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(line: &str) -> Frame {
        parse_line(line.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn compact_forms() {
        let f = frame("(1436509052.249713) can0 044#2A366C2BBA");
        assert_eq!((f.timestamp, f.id, f.extended, f.fd), (Some(1436509052.249713), 0x44, false, false));
        assert_eq!(f.data(), [0x2A, 0x36, 0x6C, 0x2B, 0xBA]);
        let f = frame("vcan0 12345678#2A36");
        assert_eq!((f.timestamp, f.id, f.extended), (None, 0x12345678, true));
        let f = frame("(1.5) can1 123##1112233");
        assert_eq!((f.fd, f.fd_flags, f.data()), (true, 1, &[0x11, 0x22, 0x33][..]));
        assert!(frame("can0 0123#").extended);
        assert_eq!(frame("can0 123#00 T").data(), [0]);
    }

    #[test]
    fn skipped_lines() {
        for line in [
            "",
            "   ",
            "# comment",
            "can0 123#R",
            "can0 123#r8",
            "can0 123##",
            "(1.0) can0 20000080#0000000000000000",
        ] {
            assert_eq!(parse_line(line.as_bytes()), Ok(None), "{line}");
        }
        assert_eq!(parse_line(b"can0  123   [4]  remote request"), Ok(None));
    }

    #[test]
    fn spaced_forms() {
        let f = frame("can0  044   [5]  2A 36 6C 2B BA");
        assert_eq!((f.timestamp, f.id, f.data().len()), (None, 0x44, 5));
        let f = frame("(1700000000.001337)  vcan0  30E  [1]  29  '.'");
        assert_eq!((f.timestamp, f.id, f.data()), (Some(1700000000.001337), 0x30E, &[0x29][..]));
        assert_eq!(frame("can0 1 [0]").data(), [] as [u8; 0]);
    }

    #[test]
    fn timestamp_may_be_read_as_interface() {
        // As in the reference's regex: no interface, so "(1.0)" is one.
        let f = frame("(1.0) 123#00");
        assert_eq!((f.timestamp, f.interface.as_str()), (None, "(1.0)"));
    }

    #[test]
    fn bad_lines() {
        let kind = |l: &str| parse_line(l.as_bytes()).unwrap_err().kind;
        assert_eq!(kind("can0 123#ABC"), LineErrorKind::OddHexDigits);
        assert_eq!(kind("can0 123#XY"), LineErrorKind::InvalidHex);
        assert_eq!(kind("can0 123 [3] 01 02"), LineErrorKind::DlcMismatch { dlc: 3, bytes: 2 });
        assert_eq!(kind("hello world"), LineErrorKind::Unrecognised);
        assert_eq!(kind("can0 123456789#00"), LineErrorKind::Unrecognised);
    }

    #[test]
    fn reader_line_endings() {
        let log = b"can0 1#01\r\ncan0 2#02\rjunk\ncan0 3#03";
        let items: Vec<_> = Reader::new(&log[..]).collect();
        assert_eq!(items.len(), 4);
        assert_eq!(items[1].as_ref().unwrap().id, 2);
        let err = items[2].as_ref().unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.to_string().starts_with("candump line 3: expected"), "{err}");
        assert_eq!(items[3].as_ref().unwrap().id, 3);
    }
}
