//! Finding and running flatc.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The flatc version whose Rust output vbus-codegen post-processes and is tested with.
pub const FLATC_VERSION: &str = "23.5.26";

/// Which flatc to run: an explicit path, else `$FLATC`, else the vendored build (feature
/// `vendored-flatc`, on by default), else `flatc` from `PATH`.
pub(crate) fn locate(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("FLATC") {
        return PathBuf::from(p);
    }
    #[cfg(feature = "vendored-flatc")]
    {
        flatc::flatc().to_path_buf()
    }
    #[cfg(not(feature = "vendored-flatc"))]
    {
        PathBuf::from("flatc")
    }
}

/// Run flatc with `args`; on failure return its diagnostics (which name the user's files and
/// lines) as the error.
pub(crate) fn run(flatc: &Path, args: &[std::ffi::OsString]) -> io::Result<()> {
    let out = Command::new(flatc).args(args).output().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "could not run flatc at `{}`: {e} (set FLATC, Config::flatc, or enable the `vendored-flatc` feature)",
                flatc.display()
            ),
        )
    })?;
    if out.status.success() {
        return Ok(());
    }
    let mut msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.trim().is_empty() {
        msg.push('\n');
        msg.push_str(stdout.trim());
    }
    // flatc prefixes its messages with its own path and prints usage on some errors: keep
    // only the diagnostic lines.
    let lines: Vec<&str> = msg.lines().filter(|l| !l.trim().is_empty()).collect();
    // flatc writes `error:` and then `  /abs/path/file.fbs:3: 23: error: ...`: make the path
    // relative to the working directory again (as the user named it) and join line and column.
    let cwd = std::env::current_dir().map(|d| format!("{}/", d.display())).unwrap_or_default();
    let diag: Vec<String> = lines
        .iter()
        .map(|l| {
            let l = l.trim();
            let prefix = format!("{}: ", flatc.display());
            let l = l.strip_prefix(&prefix).unwrap_or(l);
            let l = if cwd.len() > 1 { l.replace(&cwd, "") } else { l.to_string() };
            // Errors found after the whole file set is parsed are reported at the end of the
            // include file vbus-codegen wrote, with the real place after "originally at:".
            let l = match l.split_once(", originally at: ") {
                Some((head, at)) => match head.split_once(": error: ") {
                    Some((_, msg)) => format!("{at}: error: {msg}"),
                    None => l,
                },
                None => l,
            };
            join_line_col(&l)
        })
        .filter(|l| l != "error:" && !l.starts_with("usage:") && !l.starts_with('-'))
        .collect();
    Err(io::Error::new(io::ErrorKind::InvalidInput, diag.join("\n")))
}

/// `file.fbs:3: 23: error: x` → `file.fbs:3:23: error: x` (flatc separates the column).
fn join_line_col(l: &str) -> String {
    if let Some(i) = l.find(".fbs:")
        && let Some((line, after)) = l[i + 5..].split_once(": ")
        && let Some((col, msg)) = after.split_once(": ")
        && !line.is_empty()
        && line.chars().all(|c| c.is_ascii_digit())
        && !col.is_empty()
        && col.chars().all(|c| c.is_ascii_digit())
    {
        return format!("{}{line}:{col}: {msg}", &l[..i + 5]);
    }
    l.to_string()
}
