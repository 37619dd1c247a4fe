//! Replay of candump logs (`candump -l` and the spaced `-ta` format) as a CAN source.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use vbus_dbc::candump::{LogErrorKind, Reader};

use crate::{CanError, CanFrame, CanInterface};

/// How to pace a replay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pacing {
    /// Follow the capture's timestamps (scaled by `rate`); false: as fast as possible.
    pub realtime: bool,
    /// Speed factor for real-time pacing (2.0 = twice as fast).
    pub rate: f64,
    /// Start over at the end.
    pub looped: bool,
}

impl Default for Pacing {
    fn default() -> Self {
        Self { realtime: true, rate: 1.0, looped: false }
    }
}

/// A candump log as a receive-only CAN interface.
///
/// Timestamps: in real-time pacing, frames carry the wall-clock time at which they are replayed
/// (the capture's timeline moved to now), so downstream latency and lifespan checks stay
/// meaningful; as fast as possible, they carry the capture's own timestamps.
pub struct CandumpReplay {
    path: PathBuf,
    reader: Reader<std::io::BufReader<std::fs::File>>,
    pacing: Pacing,
    /// (capture time of the first frame, wall instant and epoch ns it maps to)
    origin: Option<(f64, Instant, u64)>,
    /// A frame read but not yet due (keeps `recv` cancel-safe).
    pending: Option<(CanFrame, Option<f64>)>,
    bad_lines: u64,
}

impl CandumpReplay {
    /// Open `path` for replay.
    pub fn open(path: impl AsRef<Path>, pacing: Pacing) -> Result<Self, CanError> {
        let path = path.as_ref().to_path_buf();
        let reader = Reader::open(&path)
            .map_err(|source| CanError::Open { what: format!("candump log {}", path.display()), source })?;
        Ok(Self { path, reader, pacing, origin: None, pending: None, bad_lines: 0 })
    }

    /// Lines that could not be parsed so far (each was logged and skipped).
    pub fn bad_lines(&self) -> u64 {
        self.bad_lines
    }

    fn next_frame(&mut self) -> Result<Option<(CanFrame, Option<f64>)>, CanError> {
        loop {
            match self.reader.next() {
                None if self.pacing.looped => {
                    self.reader = Reader::open(&self.path)
                        .map_err(|source| CanError::Io { what: self.describe(), source })?;
                    self.origin = None;
                    continue;
                }
                None => return Ok(None),
                Some(Ok(f)) => {
                    let Some(frame) = CanFrame::new(f.id, f.extended, f.fd, f.data()) else {
                        self.bad_lines += 1;
                        tracing::warn!(log = %self.path.display(), id = f.id, "frame does not fit CAN limits; skipped");
                        continue;
                    };
                    return Ok(Some((frame, f.timestamp)));
                }
                Some(Err(e)) => match e.kind {
                    LogErrorKind::Line(_) => {
                        self.bad_lines += 1;
                        if self.bad_lines <= 10 {
                            tracing::warn!(log = %self.path.display(), error = %e, "bad candump line skipped");
                        }
                    }
                    LogErrorKind::Io(source) => {
                        return Err(CanError::Log { what: self.describe(), line: e.line, source });
                    }
                },
            }
        }
    }
}

impl CanInterface for CandumpReplay {
    async fn recv(&mut self) -> Result<Option<CanFrame>, CanError> {
        if self.pending.is_none() {
            self.pending = self.next_frame()?;
        }
        let Some((frame, t)) = self.pending else { return Ok(None) };
        let frame = match (self.pacing.realtime, t) {
            (true, Some(t)) => {
                let (t0, start, start_ns) =
                    *self.origin.get_or_insert_with(|| (t, Instant::now(), vbus::wire::now_ns()));
                let offset = Duration::from_secs_f64(((t - t0) / self.pacing.rate.max(1e-6)).max(0.0));
                tokio::time::sleep_until((start + offset).into()).await;
                frame.at(start_ns + offset.as_nanos() as u64)
            }
            (false, Some(t)) => frame.at((t * 1e9) as u64),
            (_, None) => frame.at(vbus::wire::now_ns()),
        };
        self.pending = None;
        Ok(Some(frame))
    }

    async fn send(&mut self, _frame: &CanFrame) -> Result<(), CanError> {
        Err(CanError::ReadOnly(self.describe()))
    }

    fn describe(&self) -> String {
        format!("candump log {}", self.path.display())
    }
}
