//! A software CAN bus for tests and demos, shared between processes on one host.
//!
//! Every endpoint binds a Unix datagram socket in the bus directory; sending delivers a copy to
//! every other endpoint in that directory, like frames on a real bus (a sender does not receive
//! its own frames, as with SocketCAN's default `CAN_RAW_RECV_OWN_MSGS = 0`). Datagram layout:
//! `id: u32 LE, flags: u8 (1 = 29-bit, 2 = FD), len: u8, 2 reserved, timestamp_ns: u64 LE
//! (0 = none), data[len]`.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
};

use tokio::net::UnixDatagram;

use crate::{CanError, CanFrame, CanInterface, frame::MAX_DATA};

const HEADER: usize = 16;
static NEXT: AtomicU32 = AtomicU32::new(0);

/// One endpoint on a software bus.
pub struct SoftwareBus {
    dir: PathBuf,
    path: PathBuf,
    socket: UnixDatagram,
    buf: Vec<u8>,
}

impl SoftwareBus {
    /// Join the bus whose endpoints live in `dir` (created if missing).
    pub fn join(dir: impl AsRef<Path>) -> Result<Self, CanError> {
        let dir = dir.as_ref().to_path_buf();
        let open_err = |source| CanError::Open { what: format!("software bus {}", dir.display()), source };
        std::fs::create_dir_all(&dir).map_err(open_err)?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("ep-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).map_err(open_err)?;
        Ok(Self { dir, path, socket, buf: vec![0; HEADER + MAX_DATA] })
    }

    fn encode(frame: &CanFrame, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&frame.id.to_le_bytes());
        out.push(u8::from(frame.extended) | (u8::from(frame.fd) << 1));
        out.push(frame.data().len() as u8);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&frame.timestamp_ns.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(frame.data());
    }

    fn decode(b: &[u8]) -> Option<CanFrame> {
        let id = u32::from_le_bytes(b.get(0..4)?.try_into().ok()?);
        let flags = *b.get(4)?;
        let len = *b.get(5)? as usize;
        let ts = u64::from_le_bytes(b.get(8..16)?.try_into().ok()?);
        let f = CanFrame::new(id, flags & 1 != 0, flags & 2 != 0, b.get(HEADER..HEADER + len)?)?;
        Some(if ts == 0 { f } else { f.at(ts) })
    }
}

impl Drop for SoftwareBus {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl CanInterface for SoftwareBus {
    async fn recv(&mut self) -> Result<Option<CanFrame>, CanError> {
        loop {
            let n = self
                .socket
                .recv(&mut self.buf)
                .await
                .map_err(|source| CanError::Io { what: self.describe(), source })?;
            match Self::decode(&self.buf[..n]) {
                Some(f) => return Ok(Some(f)),
                None => {
                    tracing::warn!(bus = %self.dir.display(), len = n, "malformed software-bus datagram dropped")
                }
            }
        }
    }

    async fn send(&mut self, frame: &CanFrame) -> Result<(), CanError> {
        let mut msg = Vec::with_capacity(HEADER + MAX_DATA);
        Self::encode(frame, &mut msg);
        let entries =
            std::fs::read_dir(&self.dir).map_err(|source| CanError::Io { what: self.describe(), source })?;
        for entry in entries.flatten() {
            let peer = entry.path();
            if peer == self.path || peer.extension().is_none_or(|e| e != "sock") {
                continue;
            }
            if let Err(e) = self.socket.send_to(&msg, &peer).await {
                // An endpoint whose process died leaves its socket file behind: clean it up.
                if matches!(e.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound) {
                    let _ = std::fs::remove_file(&peer);
                } else {
                    return Err(CanError::Io { what: self.describe(), source: e });
                }
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("software bus {}", self.dir.display())
    }
}
