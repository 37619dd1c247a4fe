//! DBC syntax: a cursor over the bytes and one function per statement.
//!
//! The parser reads what each statement expects at each point instead of
//! running a context-free tokenizer first. That is what makes the real-world
//! quirks easy: `2017_5` is a valid message name where a name is expected,
//! `m0:` splits into a multiplexer indicator and a colon, `0-3` in
//! `SG_MUL_VAL_` is a range, and `[-128|+127]` is two numbers. The output is a
//! flat list of statements ([`Raw`]); `resolve` turns it into a
//! [`Database`](crate::Database).

use crate::error::{ParseError, Warning};
use crate::model::{AttributeObject, AttributeType, Database};
use crate::text::decode_lossy;

/// Statement keywords that may start a line. Used to end a statement whose
/// `;` is missing: a new keyword at the start of a line cannot belong to it.
const KEYWORDS: &[&str] = &[
    "VERSION",
    "NS_",
    "BS_",
    "BU_",
    "BO_",
    "CM_",
    "BA_DEF_",
    "BA_DEF_REL_",
    "BA_DEF_DEF_",
    "BA_DEF_DEF_REL_",
    "BA_",
    "BA_REL_",
    "VAL_",
    "VAL_TABLE_",
    "SIG_VALTYPE_",
    "SG_MUL_VAL_",
    "SIG_GROUP_",
    "BO_TX_BU_",
    "EV_",
    "ENVVAR_DATA_",
    "EV_DATA_",
    "SGTYPE_",
    "SGTYPE_VAL_",
    "BA_DEF_SGTYPE_",
    "BA_SGTYPE_",
    "SIG_TYPE_REF_",
    "SIGTYPE_VALTYPE_",
    "CAT_DEF_",
    "CAT_",
    "FILTER",
    "NS_DESC_",
    "BU_SG_REL_",
    "BU_EV_REL_",
    "BU_BO_REL_",
];

/// Sections that are valid DBC but carry nothing the engine uses. They are
/// skipped up to their `;` without a warning.
const IGNORED: &[&str] = &[
    "ENVVAR_DATA_",
    "EV_DATA_",
    "SGTYPE_",
    "SGTYPE_VAL_",
    "BA_DEF_SGTYPE_",
    "BA_SGTYPE_",
    "SIG_TYPE_REF_",
    "SIGTYPE_VALTYPE_",
    "CAT_DEF_",
    "CAT_",
    "FILTER",
    "NS_DESC_",
    "BU_SG_REL_",
    "BU_EV_REL_",
    "BU_BO_REL_",
];

/// A literal attribute value before its definition gives it a type.
#[derive(Debug, Clone)]
pub(crate) enum Lit {
    Num(String),
    Str(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MuxMark {
    None,
    /// `M`
    Multiplexer,
    /// `m3`
    Multiplexed(u64),
    /// `m3M`
    MultiplexedMultiplexer(u64),
}

#[derive(Debug)]
pub(crate) struct RawSignal {
    pub name: String,
    pub mux: MuxMark,
    pub start: u64,
    pub length: u64,
    pub big_endian: bool,
    pub signed: bool,
    pub factor: f64,
    pub offset: f64,
    pub min: f64,
    pub max: f64,
    pub unit: String,
    pub receivers: Vec<String>,
    pub line: usize,
}

#[derive(Debug)]
pub(crate) struct RawMessage {
    pub raw_id: u64,
    pub name: String,
    pub size: u64,
    pub sender: Option<String>,
    pub signals: Vec<RawSignal>,
    pub line: usize,
}

/// Object of a `CM_` or `BA_`.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Network,
    Node(String),
    Message(u64),
    Signal(u64, String),
    EnvVar(String),
}

#[derive(Debug)]
pub(crate) enum RelTarget {
    Message(u64),
    Signal(u64, String),
    EnvVar(String),
}

#[derive(Debug)]
pub(crate) struct RawAttrDef {
    pub object: AttributeObject,
    pub name: String,
    pub kind: AttributeType,
}

#[derive(Debug)]
pub(crate) struct RawAttr {
    pub name: String,
    pub target: Target,
    pub value: Lit,
    pub line: usize,
}

#[derive(Debug)]
pub(crate) struct RawRelAttr {
    pub name: String,
    pub node: String,
    pub target: RelTarget,
    pub value: Lit,
    pub line: usize,
}

#[derive(Debug)]
pub(crate) struct RawVal {
    /// `Target::Signal` or `Target::EnvVar`.
    pub target: Target,
    pub entries: Vec<(i64, String)>,
    pub line: usize,
}

#[derive(Debug)]
pub(crate) struct RawMulVal {
    pub raw_id: u64,
    pub signal: String,
    pub mux: String,
    pub ranges: Vec<(u64, u64)>,
    pub line: usize,
}

#[derive(Debug)]
pub(crate) struct RawValTable {
    pub name: String,
    pub entries: Vec<(i64, String)>,
    pub line: usize,
}

#[derive(Debug)]
pub(crate) struct RawSigGroup {
    pub raw_id: u64,
    pub name: String,
    pub repetitions: u32,
    pub signals: Vec<String>,
    pub line: usize,
}

#[derive(Debug)]
pub(crate) struct RawEnvVar {
    pub name: String,
    pub kind: u32,
    pub min: f64,
    pub max: f64,
    pub unit: String,
    pub initial: f64,
    pub ev_id: u64,
    pub access_type: String,
    pub access_nodes: Vec<String>,
}

/// Every statement of the file, in file order per kind.
#[derive(Debug, Default)]
pub(crate) struct Raw {
    pub version: Option<String>,
    pub nodes: Vec<String>,
    pub messages: Vec<RawMessage>,
    pub comments: Vec<(Target, String, usize)>,
    pub attr_defs: Vec<RawAttrDef>,
    pub attr_defaults: Vec<(String, Lit, usize)>,
    pub attrs: Vec<RawAttr>,
    pub rel_attrs: Vec<RawRelAttr>,
    pub vals: Vec<RawVal>,
    pub val_tables: Vec<RawValTable>,
    pub valtypes: Vec<(u64, String, u64, usize)>,
    pub mul_vals: Vec<RawMulVal>,
    pub sig_groups: Vec<RawSigGroup>,
    pub tx_bu: Vec<(u64, Vec<String>)>,
    pub env_vars: Vec<RawEnvVar>,
}

pub(crate) fn parse(src: &[u8]) -> Result<Database, ParseError> {
    let mut parser = Parser { cur: Cursor::new(src), raw: Raw::default(), warnings: Vec::new() };
    parser.run()?;
    Ok(crate::resolve::build(parser.raw, parser.warnings))
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Position in the source. `Copy` so that look-ahead is a saved copy.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
    line_start: usize,
}

impl<'a> Cursor<'a> {
    fn new(src: &'a [u8]) -> Self {
        let pos = if src.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        Cursor { src, pos, line: 1, line_start: pos }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn peek_at(&self, k: usize) -> Option<u8> {
        self.src.get(self.pos + k).copied()
    }

    fn advance(&mut self) {
        if self.src[self.pos] == b'\n' {
            self.line += 1;
            self.line_start = self.pos + 1;
        }
        self.pos += 1;
    }

    fn column(&self) -> usize {
        self.pos - self.line_start + 1
    }

    fn at_comment(&self) -> bool {
        self.peek() == Some(b'/') && self.peek_at(1) == Some(b'/')
    }

    /// Skips whitespace, newlines and `//` comments.
    fn skip_ws(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c) => self.advance(),
                Some(b'/') if self.at_comment() => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    /// Skips whitespace other than newlines.
    fn skip_inline_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | 0x0b | 0x0c)) {
            self.pos += 1;
        }
    }

    /// Whether only whitespace or a comment remains on the current line.
    fn at_line_end(&mut self) -> bool {
        self.skip_inline_ws();
        matches!(self.peek(), None | Some(b'\n')) || self.at_comment()
    }

    fn word_end(&self) -> usize {
        let mut end = self.pos;
        while end < self.src.len() && is_word_byte(self.src[end]) {
            end += 1;
        }
        end
    }

    fn peek_word(&self) -> Option<&'a str> {
        let end = self.word_end();
        // Word bytes are ASCII, so the slice is valid UTF-8.
        (end > self.pos).then(|| std::str::from_utf8(&self.src[self.pos..end]).unwrap_or_default())
    }

    /// Reads `[A-Za-z0-9_]+`.
    fn word(&mut self) -> Option<&'a str> {
        let w = self.peek_word()?;
        self.pos += w.len();
        Some(w)
    }

    /// Reads a decimal number (`-12`, `+127`, `0.5`, `.5`, `1E+038`). A run
    /// that continues with letters or `_` (`2017_5`) is not a number.
    fn number(&mut self) -> Option<&'a str> {
        let s = self.src;
        let mut i = self.pos;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let int_start = i;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let mut digits = i - int_start;
        if s.get(i) == Some(&b'.') {
            i += 1;
            let frac_start = i;
            while s.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            digits += i - frac_start;
        }
        if digits == 0 {
            return None;
        }
        if matches!(s.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(s.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if s.get(j).is_some_and(u8::is_ascii_digit) {
                while s.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
                i = j;
            }
        }
        if s.get(i).is_some_and(|&b| is_word_byte(b) || b == b'.') {
            return None;
        }
        let text = std::str::from_utf8(&s[self.pos..i]).unwrap_or_default();
        self.pos = i;
        Some(text)
    }

    /// Reads a `"..."` string at the cursor. `\"` is an escaped quote, as in
    /// the files Vector tools write; strings may span lines.
    fn string(&mut self) -> Result<String, ParseError> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        let (line, column) = (self.line, self.column());
        self.advance();
        let mut bytes = Vec::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ParseError {
                        line,
                        column: Some(column),
                        expected: "closing '\"' of the string that starts here".into(),
                        found: "end of file".into(),
                    });
                }
                Some(b'"') => {
                    self.advance();
                    return Ok(decode_lossy(&bytes));
                }
                Some(b'\\') if self.peek_at(1) == Some(b'"') => {
                    bytes.push(b'"');
                    self.pos += 2;
                }
                Some(c) => {
                    bytes.push(c);
                    self.advance();
                }
            }
        }
    }

    /// Describes what is at the cursor, for error messages.
    fn found(&self) -> String {
        match self.peek() {
            None => "end of file".into(),
            Some(b'\n' | b'\r') => "end of line".into(),
            Some(b'"') => {
                let rest = &self.src[self.pos + 1..];
                let end = rest.iter().position(|&c| c == b'"' || c == b'\n').unwrap_or(rest.len()).min(24);
                format!("string \"{}...\"", decode_lossy(&rest[..end]))
            }
            Some(c) if is_word_byte(c) => {
                let w = self.peek_word().unwrap_or_default();
                if w.len() > 40 { format!("'{}...'", &w[..40]) } else { format!("'{w}'") }
            }
            Some(c) if c.is_ascii_graphic() || c == b' ' => format!("'{}'", char::from(c)),
            Some(c) => format!("byte 0x{c:02X}"),
        }
    }

    fn error(&self, expected: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            column: Some(self.column()),
            expected: expected.into(),
            found: self.found(),
        }
    }

    /// Whether the cursor is at a statement keyword that is the first thing on
    /// its line.
    fn at_statement_start(&self) -> bool {
        let line_prefix = &self.src[self.line_start..self.pos];
        line_prefix.iter().all(|&c| matches!(c, b' ' | b'\t' | b'\r'))
            && self.peek_word().is_some_and(|w| KEYWORDS.contains(&w))
    }
}

struct Parser<'a> {
    cur: Cursor<'a>,
    raw: Raw,
    warnings: Vec<Warning>,
}

impl<'a> Parser<'a> {
    fn warn(&mut self, line: usize, message: impl Into<String>) {
        self.warnings.push(Warning { line, message: message.into() });
    }

    fn run(&mut self) -> Result<(), ParseError> {
        loop {
            self.cur.skip_ws();
            let Some(c) = self.cur.peek() else { return Ok(()) };
            let line = self.cur.line;
            if c == b';' {
                self.warn(line, "stray ';' ignored");
                self.cur.advance();
                continue;
            }
            let Some(keyword) = self.cur.word() else {
                return Err(self.cur.error("a DBC keyword such as BO_, CM_, BA_ or VAL_"));
            };
            match keyword {
                "VERSION" => self.version()?,
                "NS_" => self.new_symbols(),
                "BS_" => self.bit_timing()?,
                "BU_" => self.nodes()?,
                "BO_" => self.message(line)?,
                "SG_" => {
                    self.cur.pos -= keyword.len();
                    return Err(self
                        .cur
                        .error("SG_ lines only right after their BO_ message (or another SG_)"));
                }
                "CM_" => self.comment(line)?,
                "BA_DEF_" => self.attribute_definition(line, false)?,
                "BA_DEF_REL_" => self.attribute_definition(line, true)?,
                "BA_DEF_DEF_" | "BA_DEF_DEF_REL_" => self.attribute_default(keyword, line)?,
                "BA_" => self.attribute(line)?,
                "BA_REL_" => self.relation_attribute(line)?,
                "VAL_" => self.value_descriptions(line)?,
                "VAL_TABLE_" => self.value_table(line)?,
                "SIG_VALTYPE_" => self.signal_value_type(line)?,
                "SG_MUL_VAL_" => self.extended_multiplexing(line)?,
                "SIG_GROUP_" => self.signal_group(line)?,
                "BO_TX_BU_" => self.message_transmitters(line)?,
                "EV_" => self.environment_variable(line)?,
                _ if IGNORED.contains(&keyword) => self.skip_statement(keyword, line)?,
                _ => {
                    self.warn(line, format!("unknown section '{keyword}' skipped"));
                    self.skip_statement(keyword, line)?;
                }
            }
        }
    }

    // ----- small helpers -------------------------------------------------

    fn expect_char(&mut self, c: u8, what: &str) -> Result<(), ParseError> {
        self.cur.skip_ws();
        if self.cur.peek() == Some(c) {
            self.cur.advance();
            Ok(())
        } else {
            Err(self.cur.error(format!("'{}' {what}", char::from(c))))
        }
    }

    fn expect_word(&mut self, what: &str) -> Result<String, ParseError> {
        self.cur.skip_ws();
        self.cur.word().map(str::to_owned).ok_or_else(|| self.cur.error(what))
    }

    fn expect_number(&mut self, what: &str) -> Result<&'a str, ParseError> {
        self.cur.skip_ws();
        let save = self.cur;
        self.cur.number().ok_or_else(|| save.error(what))
    }

    fn expect_f64(&mut self, what: &str) -> Result<f64, ParseError> {
        self.cur.skip_ws();
        let save = self.cur;
        let text = self.expect_number(what)?;
        text.parse::<f64>().map_err(|_| save.error(what))
    }

    fn expect_u64(&mut self, what: &str) -> Result<u64, ParseError> {
        self.cur.skip_ws();
        let save = self.cur;
        let text = self.expect_number(what)?;
        parse_u64(text).ok_or_else(|| save.error(what))
    }

    fn expect_string(&mut self, what: &str) -> Result<String, ParseError> {
        self.cur.skip_ws();
        if self.cur.peek() == Some(b'"') { self.cur.string() } else { Err(self.cur.error(what)) }
    }

    fn literal(&mut self, what: &str) -> Result<Lit, ParseError> {
        self.cur.skip_ws();
        if self.cur.peek() == Some(b'"') {
            return Ok(Lit::Str(self.cur.string()?));
        }
        match self.cur.number() {
            Some(n) => Ok(Lit::Num(n.to_owned())),
            None => Err(self.cur.error(what)),
        }
    }

    /// Consumes the `;` that ends a statement. A missing `;` is repaired
    /// (with a warning) when the next thing is the end of the file or a
    /// keyword starting a line, since neither can continue the statement.
    fn end_statement(&mut self, what: &str, line: usize) -> Result<(), ParseError> {
        self.cur.skip_ws();
        match self.cur.peek() {
            Some(b';') => {
                self.cur.advance();
                Ok(())
            }
            None => {
                self.warn(line, format!("{what} is not terminated by ';' (found end of file)"));
                Ok(())
            }
            Some(_) if self.cur.at_statement_start() => {
                let (found, at) = (self.cur.found(), self.cur.line);
                self.warn(
                    line,
                    format!(
                        "{what} is not terminated by ';' (found {found} at line {at}); taken to end there"
                    ),
                );
                Ok(())
            }
            Some(_) => Err(self.cur.error(format!("';' to end the {what} of line {line}"))),
        }
    }

    /// Skips a statement the engine does not use, up to its `;`.
    fn skip_statement(&mut self, keyword: &str, line: usize) -> Result<(), ParseError> {
        loop {
            match self.cur.peek() {
                None => return Ok(()),
                Some(b';') => {
                    self.cur.advance();
                    return Ok(());
                }
                Some(b'"') => {
                    self.cur.string()?;
                }
                Some(b'\n') => {
                    self.cur.advance();
                    let mut ahead = self.cur;
                    ahead.skip_inline_ws();
                    if ahead.at_statement_start() {
                        self.warn(line, format!("{keyword} statement is not terminated by ';'; taken to end at the end of the line"));
                        return Ok(());
                    }
                }
                Some(_) => self.cur.advance(),
            }
        }
    }

    // ----- header sections -------------------------------------------------

    fn version(&mut self) -> Result<(), ParseError> {
        self.raw.version = Some(self.expect_string("the version string after VERSION")?);
        Ok(())
    }

    /// `NS_ :` lists the section keywords the file may use, one per line.
    /// The list ends at the first line that is not a lone word (`BS_:`, `BU_:
    /// ...`, `BO_ ...`).
    fn new_symbols(&mut self) {
        self.cur.skip_ws();
        if self.cur.peek() == Some(b':') {
            self.cur.advance();
        }
        loop {
            self.cur.skip_ws();
            let save = self.cur;
            if self.cur.word().is_some() && self.cur.at_line_end() {
                continue;
            }
            self.cur = save;
            return;
        }
    }

    /// `BS_: [baudrate : BTR1 , BTR2]` — obsolete; the values are ignored.
    fn bit_timing(&mut self) -> Result<(), ParseError> {
        self.expect_char(b':', "after BS_")?;
        while !self.cur.at_line_end() {
            self.cur.advance();
        }
        Ok(())
    }

    fn nodes(&mut self) -> Result<(), ParseError> {
        self.expect_char(b':', "after BU_")?;
        let nodes = self.word_list();
        self.raw.nodes.extend(nodes);
        Ok(())
    }

    // ----- messages and signals ------------------------------------------

    fn message(&mut self, line: usize) -> Result<(), ParseError> {
        let raw_id = self.expect_u64("message ID after BO_")?;
        let name = self.expect_word("message name after the BO_ ID")?;
        self.expect_char(b':', &format!("after message name '{name}'"))?;
        let size = self.expect_u64(&format!("payload length in bytes of message '{name}'"))?;
        let sender = if self.cur.at_line_end() {
            None
        } else {
            Some(
                self.cur
                    .word()
                    .map(str::to_owned)
                    .ok_or_else(|| self.cur.error(format!("sender node of message '{name}'")))?,
            )
        };
        let mut signals = Vec::new();
        loop {
            self.cur.skip_ws();
            if self.cur.peek_word() != Some("SG_") {
                break;
            }
            let sg_line = self.cur.line;
            self.cur.word();
            signals.push(self.signal(&name, sg_line)?);
        }
        self.raw.messages.push(RawMessage { raw_id, name, size, sender, signals, line });
        Ok(())
    }

    /// `SG_ name [mux] : start|length@order sign (factor,offset) [min|max] "unit" receivers`
    fn signal(&mut self, message: &str, line: usize) -> Result<RawSignal, ParseError> {
        let name = self.expect_word(&format!("signal name after SG_ in message '{message}'"))?;
        let ctx = format!("of signal '{name}'");
        self.cur.skip_ws();
        let mut mux = MuxMark::None;
        if self.cur.peek() != Some(b':') {
            let save = self.cur;
            let expected =
                || format!("':' or a multiplexer indicator (M, m<n>, m<n>M) after signal name '{name}'");
            mux = self.cur.word().and_then(parse_mux_indicator).ok_or_else(|| save.error(expected()))?;
        }
        self.expect_char(b':', &format!("before the bit layout {ctx}"))?;
        let start = self.expect_u64(&format!("start bit {ctx}"))?;
        self.expect_char(b'|', &format!("between start bit and length {ctx}"))?;
        let length = self.expect_u64(&format!("bit length {ctx}"))?;
        self.expect_char(b'@', &format!("before the byte order {ctx}"))?;
        self.cur.skip_ws();
        let big_endian = match self.cur.peek() {
            Some(b'0') => true,
            Some(b'1') => false,
            _ => return Err(self.cur.error(format!("byte order 0 (Motorola) or 1 (Intel) {ctx}"))),
        };
        self.cur.advance();
        self.cur.skip_ws();
        let signed = match self.cur.peek() {
            Some(b'-') => true,
            Some(b'+') => false,
            _ => return Err(self.cur.error(format!("sign '+' or '-' {ctx}"))),
        };
        self.cur.advance();
        self.expect_char(b'(', &format!("before the factor {ctx}"))?;
        let factor = self.expect_f64(&format!("factor {ctx}"))?;
        self.expect_char(b',', &format!("between factor and offset {ctx}"))?;
        let offset = self.expect_f64(&format!("offset {ctx}"))?;
        self.expect_char(b')', &format!("after the offset {ctx}"))?;
        self.expect_char(b'[', &format!("before the minimum {ctx}"))?;
        let min = self.expect_f64(&format!("minimum {ctx}"))?;
        self.expect_char(b'|', &format!("between minimum and maximum {ctx}"))?;
        let max = self.expect_f64(&format!("maximum {ctx}"))?;
        self.expect_char(b']', &format!("after the maximum {ctx}"))?;
        let unit = self.expect_string(&format!("unit string {ctx}"))?;
        let receivers = self.receivers();
        Ok(RawSignal {
            name,
            mux,
            start,
            length,
            big_endian,
            signed,
            factor,
            offset,
            min,
            max,
            unit,
            receivers,
            line,
        })
    }

    /// Receivers: words separated by commas (or, in some files, spaces),
    /// on the `SG_` line; a comma may continue the list on the next line.
    fn receivers(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            if self.cur.at_line_end() {
                return out;
            }
            match self.cur.word() {
                Some(w) => out.push(w.to_owned()),
                None => return out,
            }
            self.cur.skip_inline_ws();
            if self.cur.peek() == Some(b',') {
                self.cur.advance();
                self.cur.skip_ws();
            }
        }
    }

    // ----- comments, attributes ---------------------------------------------

    fn target(&mut self, what: &str) -> Result<Target, ParseError> {
        self.cur.skip_ws();
        let save = self.cur;
        Ok(match self.cur.word() {
            Some("BU_") => Target::Node(self.expect_word(&format!("node name after {what} BU_"))?),
            Some("BO_") => Target::Message(self.expect_u64(&format!("message ID after {what} BO_"))?),
            Some("SG_") => {
                let id = self.expect_u64(&format!("message ID after {what} SG_"))?;
                Target::Signal(id, self.expect_word(&format!("signal name after {what} SG_ {id}"))?)
            }
            Some("EV_") => {
                Target::EnvVar(self.expect_word(&format!("environment variable name after {what} EV_"))?)
            }
            _ => {
                self.cur = save;
                Target::Network
            }
        })
    }

    fn comment(&mut self, line: usize) -> Result<(), ParseError> {
        let target = self.target("CM_")?;
        let text = self.expect_string("the comment string of CM_")?;
        self.end_statement("CM_ comment", line)?;
        self.raw.comments.push((target, text, line));
        Ok(())
    }

    fn attribute_definition(&mut self, line: usize, relation: bool) -> Result<(), ParseError> {
        self.cur.skip_ws();
        let save = self.cur;
        let object = match (relation, self.cur.word()) {
            (false, Some("BU_")) => AttributeObject::Node,
            (false, Some("BO_")) => AttributeObject::Message,
            (false, Some("SG_")) => AttributeObject::Signal,
            (false, Some("EV_")) => AttributeObject::EnvironmentVariable,
            (true, Some("BU_BO_REL_")) => AttributeObject::NodeMessage,
            (true, Some("BU_SG_REL_")) => AttributeObject::NodeSignal,
            (true, Some("BU_EV_REL_")) => AttributeObject::NodeEnvironmentVariable,
            _ => {
                self.cur = save;
                AttributeObject::Network
            }
        };
        let keyword = if relation { "BA_DEF_REL_" } else { "BA_DEF_" };
        let name = self.expect_string(&format!("attribute name string in {keyword}"))?;
        self.cur.skip_ws();
        let save = self.cur;
        let type_name = self.cur.word();
        let bounds = |p: &mut Self| -> Result<(f64, f64), ParseError> {
            p.cur.skip_ws();
            if p.cur.peek() == Some(b';') {
                return Ok((0.0, 0.0));
            }
            let min = p.expect_f64(&format!("minimum of attribute \"{name}\""))?;
            let max = p.expect_f64(&format!("maximum of attribute \"{name}\""))?;
            Ok((min, max))
        };
        let kind = match type_name {
            Some("INT") => bounds(self).map(|(min, max)| AttributeType::Int { min, max })?,
            Some("HEX") => bounds(self).map(|(min, max)| AttributeType::Hex { min, max })?,
            Some("FLOAT") => bounds(self).map(|(min, max)| AttributeType::Float { min, max })?,
            Some("STRING") => AttributeType::String,
            Some("ENUM") => {
                let mut labels = Vec::new();
                loop {
                    self.cur.skip_ws();
                    if self.cur.peek() != Some(b'"') {
                        break;
                    }
                    labels.push(self.cur.string()?);
                    self.cur.skip_ws();
                    if self.cur.peek() == Some(b',') {
                        self.cur.advance();
                    }
                }
                AttributeType::Enum(labels)
            }
            _ => {
                return Err(
                    save.error(format!("attribute type INT, HEX, FLOAT, STRING or ENUM for \"{name}\""))
                );
            }
        };
        self.end_statement(&format!("{keyword} \"{name}\""), line)?;
        self.raw.attr_defs.push(RawAttrDef { object, name, kind });
        Ok(())
    }

    fn attribute_default(&mut self, keyword: &str, line: usize) -> Result<(), ParseError> {
        let name = self.expect_string(&format!("attribute name string in {keyword}"))?;
        let value = self.literal(&format!("default value (number or string) of attribute \"{name}\""))?;
        self.end_statement(&format!("{keyword} \"{name}\""), line)?;
        self.raw.attr_defaults.push((name, value, line));
        Ok(())
    }

    fn attribute(&mut self, line: usize) -> Result<(), ParseError> {
        let name = self.expect_string("attribute name string in BA_")?;
        let target = self.target("BA_")?;
        let value = self.literal(&format!("value (number or string) of attribute \"{name}\""))?;
        self.end_statement(&format!("BA_ \"{name}\""), line)?;
        self.raw.attrs.push(RawAttr { name, target, value, line });
        Ok(())
    }

    fn relation_attribute(&mut self, line: usize) -> Result<(), ParseError> {
        let name = self.expect_string("attribute name string in BA_REL_")?;
        self.cur.skip_ws();
        let save = self.cur;
        let kind = self.cur.word();
        let node = self.expect_word(&format!("node name in BA_REL_ \"{name}\""))?;
        let target = match kind {
            Some("BU_SG_REL_") => {
                self.cur.skip_ws();
                if self.cur.peek_word() == Some("SG_") {
                    self.cur.word();
                }
                let id = self.expect_u64(&format!("message ID in BA_REL_ \"{name}\""))?;
                RelTarget::Signal(id, self.expect_word(&format!("signal name in BA_REL_ \"{name}\""))?)
            }
            Some("BU_BO_REL_") => {
                RelTarget::Message(self.expect_u64(&format!("message ID in BA_REL_ \"{name}\""))?)
            }
            Some("BU_EV_REL_") => {
                RelTarget::EnvVar(self.expect_word(&format!("environment variable in BA_REL_ \"{name}\""))?)
            }
            _ => {
                return Err(save.error(format!("BU_SG_REL_, BU_BO_REL_ or BU_EV_REL_ in BA_REL_ \"{name}\"")));
            }
        };
        let value = self.literal(&format!("value (number or string) of attribute \"{name}\""))?;
        self.end_statement(&format!("BA_REL_ \"{name}\""), line)?;
        self.raw.rel_attrs.push(RawRelAttr { name, node, target, value, line });
        Ok(())
    }

    // ----- value descriptions --------------------------------------------

    /// `value "label"` pairs up to (not including) the `;`.
    fn value_pairs(&mut self, owner: &str, line: usize) -> Result<Vec<(i64, String)>, ParseError> {
        let mut entries = Vec::new();
        loop {
            self.cur.skip_ws();
            let save = self.cur;
            let Some(text) = self.cur.number() else { return Ok(entries) };
            let label = self.expect_string(&format!("label string after value {text} of {owner}"))?;
            match parse_i64_lenient(text) {
                Some(v) => entries.push((v, label)),
                None => self.warn(
                    line,
                    format!("value {text} of {owner} (line {}) is not a 64-bit integer; ignored", save.line),
                ),
            }
        }
    }

    fn value_descriptions(&mut self, line: usize) -> Result<(), ParseError> {
        self.cur.skip_ws();
        let (target, owner) = if self.cur.peek().is_some_and(|c| c.is_ascii_digit()) {
            let id = self.expect_u64("message ID after VAL_")?;
            let signal = self.expect_word(&format!("signal name after VAL_ {id}"))?;
            let owner = format!("VAL_ {id} {signal}");
            (Target::Signal(id, signal), owner)
        } else {
            let name = self.expect_word("message ID or environment variable name after VAL_")?;
            let owner = format!("VAL_ {name}");
            (Target::EnvVar(name), owner)
        };
        let entries = self.value_pairs(&owner, line)?;
        self.end_statement(&owner, line)?;
        self.raw.vals.push(RawVal { target, entries, line });
        Ok(())
    }

    fn value_table(&mut self, line: usize) -> Result<(), ParseError> {
        let name = self.expect_word("value table name after VAL_TABLE_")?;
        let owner = format!("VAL_TABLE_ {name}");
        let entries = self.value_pairs(&owner, line)?;
        self.end_statement(&owner, line)?;
        self.raw.val_tables.push(RawValTable { name, entries, line });
        Ok(())
    }

    fn signal_value_type(&mut self, line: usize) -> Result<(), ParseError> {
        let id = self.expect_u64("message ID after SIG_VALTYPE_")?;
        let signal = self.expect_word(&format!("signal name after SIG_VALTYPE_ {id}"))?;
        self.cur.skip_ws();
        if self.cur.peek() == Some(b':') {
            self.cur.advance();
        }
        let kind =
            self.expect_u64(&format!("value type 0, 1 (float32) or 2 (float64) of signal '{signal}'"))?;
        self.end_statement(&format!("SIG_VALTYPE_ {id} {signal}"), line)?;
        self.raw.valtypes.push((id, signal, kind, line));
        Ok(())
    }

    /// `SG_MUL_VAL_ id signal multiplexer lo-hi, lo-hi ;`
    fn extended_multiplexing(&mut self, line: usize) -> Result<(), ParseError> {
        let raw_id = self.expect_u64("message ID after SG_MUL_VAL_")?;
        let signal = self.expect_word(&format!("signal name after SG_MUL_VAL_ {raw_id}"))?;
        let mux =
            self.expect_word(&format!("multiplexer signal name after SG_MUL_VAL_ {raw_id} {signal}"))?;
        let mut ranges = Vec::new();
        loop {
            let ctx = format!("in SG_MUL_VAL_ {raw_id} {signal} {mux}");
            let lo = self.expect_u64(&format!("value range 'min-max' {ctx}"))?;
            self.cur.skip_inline_ws();
            if self.cur.peek() != Some(b'-') {
                return Err(self.cur.error(format!("'-' between the two ends of a value range {ctx}")));
            }
            self.cur.advance();
            let hi = self.expect_u64(&format!("end of value range {lo}- {ctx}"))?;
            ranges.push((lo.min(hi), lo.max(hi)));
            self.cur.skip_ws();
            if self.cur.peek() != Some(b',') {
                break;
            }
            self.cur.advance();
        }
        self.end_statement(&format!("SG_MUL_VAL_ {raw_id} {signal}"), line)?;
        self.raw.mul_vals.push(RawMulVal { raw_id, signal, mux, ranges, line });
        Ok(())
    }

    fn signal_group(&mut self, line: usize) -> Result<(), ParseError> {
        let raw_id = self.expect_u64("message ID after SIG_GROUP_")?;
        let name = self.expect_word(&format!("group name after SIG_GROUP_ {raw_id}"))?;
        let repetitions = self.expect_u64(&format!("repetitions of signal group '{name}'"))?;
        self.expect_char(b':', &format!("before the signals of group '{name}'"))?;
        let signals = self.word_list();
        self.end_statement(&format!("SIG_GROUP_ {raw_id} {name}"), line)?;
        let repetitions = u32::try_from(repetitions).unwrap_or(u32::MAX);
        self.raw.sig_groups.push(RawSigGroup { raw_id, name, repetitions, signals, line });
        Ok(())
    }

    /// Names separated by spaces or commas, possibly over several lines,
    /// up to anything that is not a name or a keyword starting a line.
    fn word_list(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            self.cur.skip_ws();
            if self.cur.at_statement_start() {
                return out;
            }
            match self.cur.word() {
                Some(w) => out.push(w.to_owned()),
                None => return out,
            }
            self.cur.skip_ws();
            if self.cur.peek() == Some(b',') {
                self.cur.advance();
            }
        }
    }

    fn message_transmitters(&mut self, line: usize) -> Result<(), ParseError> {
        let raw_id = self.expect_u64("message ID after BO_TX_BU_")?;
        self.expect_char(b':', &format!("after BO_TX_BU_ {raw_id}"))?;
        let nodes = self.word_list();
        self.end_statement(&format!("BO_TX_BU_ {raw_id}"), line)?;
        self.raw.tx_bu.push((raw_id, nodes));
        Ok(())
    }

    /// `EV_ name : type [min|max] "unit" initial id access_type nodes ;`
    fn environment_variable(&mut self, line: usize) -> Result<(), ParseError> {
        let name = self.expect_word("environment variable name after EV_")?;
        let ctx = format!("of environment variable '{name}'");
        self.expect_char(b':', &format!("after environment variable name '{name}'"))?;
        let kind = self.expect_u64(&format!("type (0 integer, 1 float, 2 string) {ctx}"))?;
        self.expect_char(b'[', &format!("before the minimum {ctx}"))?;
        let min = self.expect_f64(&format!("minimum {ctx}"))?;
        self.expect_char(b'|', &format!("between minimum and maximum {ctx}"))?;
        let max = self.expect_f64(&format!("maximum {ctx}"))?;
        self.expect_char(b']', &format!("after the maximum {ctx}"))?;
        let unit = self.expect_string(&format!("unit string {ctx}"))?;
        let initial = self.expect_f64(&format!("initial value {ctx}"))?;
        let ev_id = self.expect_u64(&format!("identifier {ctx}"))?;
        let access_type = self.expect_word(&format!("access type {ctx}"))?;
        let access_nodes = self.word_list();
        self.end_statement(&format!("EV_ {name}"), line)?;
        let kind = u32::try_from(kind).unwrap_or(u32::MAX);
        self.raw.env_vars.push(RawEnvVar {
            name,
            kind,
            min,
            max,
            unit,
            initial,
            ev_id,
            access_type,
            access_nodes,
        });
        Ok(())
    }
}

fn parse_mux_indicator(s: &str) -> Option<MuxMark> {
    if s == "M" {
        return Some(MuxMark::Multiplexer);
    }
    let rest = s.strip_prefix('m')?;
    let (digits, nested) = match rest.strip_suffix('M') {
        Some(d) => (d, true),
        None => (rest, false),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = digits.parse().ok()?;
    Some(if nested { MuxMark::MultiplexedMultiplexer(value) } else { MuxMark::Multiplexed(value) })
}

/// An unsigned integer; also accepts integral float spellings (`8.0`).
pub(crate) fn parse_u64(text: &str) -> Option<u64> {
    let t = text.strip_prefix('+').unwrap_or(text);
    t.parse::<u64>().ok().or_else(|| {
        let f = t.parse::<f64>().ok()?;
        (f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0).then_some(f as u64)
    })
}

/// A signed integer; also accepts integral float spellings.
pub(crate) fn parse_i64_lenient(text: &str) -> Option<i64> {
    let t = text.strip_prefix('+').unwrap_or(text);
    t.parse::<i64>().ok().or_else(|| {
        let f = t.parse::<f64>().ok()?;
        (f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f))
            .then_some(f as i64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for (src, want) in [
            ("12 ", Some("12")),
            ("-128|", Some("-128")),
            ("+127]", Some("+127")),
            ("0.5,", Some("0.5")),
            (".5)", Some(".5")),
            ("1E+038]", Some("1E+038")),
            ("3.4e-3 ", Some("3.4e-3")),
            ("2017_5:", None),
            ("0-3", Some("0")),
            ("abc", None),
        ] {
            let mut c = Cursor::new(src.as_bytes());
            assert_eq!(c.number(), want, "{src}");
        }
    }

    #[test]
    fn number_spellings_parse() {
        for (text, want) in
            [("1.", 1.0), (".5", 0.5), ("+127", 127.0), ("-3.4E+038", -3.4e38), ("1e-05", 1e-5)]
        {
            assert_eq!(text.parse::<f64>(), Ok(want), "{text}");
        }
        assert_eq!(parse_u64("8.0"), Some(8));
        assert_eq!(parse_i64_lenient("-5.0"), Some(-5));
        // Just below i64::MIN once rounded: not an i64 (kept as a float).
        assert_eq!(parse_i64_lenient("-9.22337203685478E+018"), None);
    }

    #[test]
    fn mux_indicators() {
        assert_eq!(parse_mux_indicator("M"), Some(MuxMark::Multiplexer));
        assert_eq!(parse_mux_indicator("m0"), Some(MuxMark::Multiplexed(0)));
        assert_eq!(parse_mux_indicator("m12M"), Some(MuxMark::MultiplexedMultiplexer(12)));
        assert_eq!(parse_mux_indicator("mM"), None);
        assert_eq!(parse_mux_indicator("x1"), None);
    }
}
