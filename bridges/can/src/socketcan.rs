//! SocketCAN (Linux), classic and FD, through the `socketcan` crate on tokio.

use socketcan::{CanAnyFrame, CanFdFrame, EmbeddedFrame, ExtendedId, Frame, Id, StandardId, id::FdFlags};

use crate::{CanError, CanFrame, CanInterface};

/// A SocketCAN interface (`can0`, `vcan0`, ...), opened for CAN FD so it carries both kinds.
pub struct SocketCan {
    name: String,
    socket: socketcan::tokio::CanFdSocket,
}

impl SocketCan {
    /// Open interface `name`. Fails where the kernel has no SocketCAN (no `AF_CAN`) or the
    /// interface does not exist.
    pub fn open(name: &str) -> Result<Self, CanError> {
        let socket = socketcan::tokio::CanFdSocket::open(name)
            .map_err(|source| CanError::Open { what: format!("socketcan {name}"), source })?;
        Ok(Self { name: name.to_owned(), socket })
    }

    fn id(frame: &CanFrame) -> Option<Id> {
        if frame.extended {
            ExtendedId::new(frame.id).map(Id::Extended)
        } else {
            StandardId::new(frame.id as u16).map(Id::Standard)
        }
    }
}

impl CanInterface for SocketCan {
    async fn recv(&mut self) -> Result<Option<CanFrame>, CanError> {
        loop {
            let (f, at) = self
                .socket
                .read_frame_with_timestamp()
                .await
                .map_err(|source| CanError::Io { what: self.describe(), source })?;
            let ts = at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
            let frame = match &f {
                CanAnyFrame::Normal(d) => CanFrame::new(d.raw_id(), d.is_extended(), false, d.data()),
                CanAnyFrame::Fd(d) => CanFrame::new(d.raw_id(), d.is_extended(), true, d.data()),
                // Remote and error frames carry no signals.
                CanAnyFrame::Remote(_) | CanAnyFrame::Error(_) => continue,
            };
            if let Some(frame) = frame {
                return Ok(Some(frame.at(ts)));
            }
        }
    }

    async fn send(&mut self, frame: &CanFrame) -> Result<(), CanError> {
        let unsupported = |reason: &str| CanError::Unsupported {
            what: self.describe(),
            frame: frame.to_string(),
            reason: reason.to_owned(),
        };
        let id = Self::id(frame).ok_or_else(|| unsupported("identifier out of range"))?;
        let any: CanAnyFrame = if frame.fd {
            CanFdFrame::with_flags(id, frame.data(), FdFlags::BRS)
                .ok_or_else(|| unsupported("bad FD length"))?
                .into()
        } else {
            socketcan::CanDataFrame::new(id, frame.data())
                .ok_or_else(|| unsupported("bad classic length"))?
                .into()
        };
        self.socket.write_frame(&any).await.map_err(|source| CanError::Io { what: self.describe(), source })
    }

    fn describe(&self) -> String {
        format!("socketcan {}", self.name)
    }
}
