//! Errors and warnings of DBC parsing.

use std::fmt;
use std::path::PathBuf;

/// A DBC file that cannot be read as a database.
///
/// The parser is lenient (see [`Warning`]); it only gives up when a statement
/// cannot be understood at all, and then says where, what it expected and what
/// it found instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column (in bytes) of the problem, when it points at a token.
    pub column: Option<usize>,
    /// What the parser expected, e.g. `"';' after the CM_ comment"`.
    pub expected: String,
    /// What it found instead, e.g. `"end of file"` or `"'BO_'"`.
    pub found: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DBC line {}", self.line)?;
        if let Some(column) = self.column {
            write!(f, ", column {column}")?;
        }
        write!(f, ": expected {}, found {}", self.expected, self.found)
    }
}

impl std::error::Error for ParseError {}

/// Something the parser accepted but that is suspicious or was repaired,
/// e.g. a `VAL_` naming a signal that does not exist (ignored) or a 29-bit
/// identifier written without the extended flag (taken as extended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// 1-based line of the statement concerned.
    pub line: usize,
    /// What was found and what the parser did about it.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DBC line {}: {}", self.line, self.message)
    }
}

/// Failure of [`Database::from_file`](crate::Database::from_file).
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Io {
        /// File that was being read.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file was read but is not a usable DBC.
    Parse {
        /// File that was parsed.
        path: PathBuf,
        /// Where and why parsing stopped.
        error: ParseError,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            LoadError::Parse { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Io { source, .. } => Some(source),
            LoadError::Parse { error, .. } => Some(error),
        }
    }
}
