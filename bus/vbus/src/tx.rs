//! Send buffers that publishers reuse, so that publishing allocates nothing in steady state.
//!
//! A sample goes to zenoh as two slices of one reference-counted buffer, `[attachment | payload]`
//! (zenoh's public API has no allocation-free `ZBytes` constructor; its buffer types do). Zenoh
//! lets go of a buffer once it has serialized the sample into a transmission batch, i.e. when
//! `put` returns for remote subscribers; subscribers of the same process and the history ring
//! keep theirs longer, and the pool then grows up to its bound before it allocates per message.

use std::sync::Arc;

use zenoh::bytes::ZBytes;
use zenoh_buffers::{ZBuf, ZSlice, ZSliceBuffer};

/// One send buffer.
#[derive(Debug, Default)]
pub(crate) struct TxBuf(Vec<u8>);

impl ZSliceBuffer for TxBuf {
    fn as_slice(&self) -> &[u8] {
        &self.0
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// Buffers reused once nobody else holds them.
pub(crate) struct TxPool {
    bufs: Vec<Arc<TxBuf>>,
    next: usize,
    max: usize,
}

impl TxPool {
    /// A pool that keeps at most `max` buffers (at least one).
    pub(crate) fn new(max: usize) -> Self {
        Self { bufs: Vec::new(), next: 0, max: max.max(1) }
    }

    /// The attachment (`head` then `ext`) and the payload as two zero-copy `ZBytes` of one
    /// buffer: a pooled one that nobody else holds, or a new one.
    pub(crate) fn frame(&mut self, head: &[u8], ext: &[u8], payload: &[u8]) -> (ZBytes, ZBytes) {
        let fill = |v: &mut Vec<u8>| {
            v.clear();
            v.reserve(head.len() + ext.len() + payload.len());
            v.extend_from_slice(head);
            v.extend_from_slice(ext);
            v.extend_from_slice(payload);
        };
        let n = self.bufs.len();
        let free = (0..n).map(|i| (self.next + i) % n).find(|&i| Arc::get_mut(&mut self.bufs[i]).is_some());
        let buf = match free {
            Some(i) => {
                fill(&mut Arc::get_mut(&mut self.bufs[i]).expect("checked unique").0);
                self.next = (i + 1) % n;
                self.bufs[i].clone()
            }
            None => {
                let mut b = TxBuf::default();
                fill(&mut b.0);
                let b = Arc::new(b);
                if n < self.max {
                    self.bufs.push(b.clone());
                }
                b
            }
        };
        let att = head.len() + ext.len();
        (slice(&buf, 0, att), slice(&buf, att, buf.0.len()))
    }
}

fn slice(buf: &Arc<TxBuf>, start: usize, end: usize) -> ZBytes {
    let dynbuf: Arc<dyn ZSliceBuffer> = buf.clone();
    ZBytes::from(ZBuf::from(ZSlice::new(dynbuf, start, end).expect("range inside the buffer")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_once_released_and_kept_while_held() {
        let mut pool = TxPool::new(2);
        let (a, p) = pool.frame(b"hd", b"x", b"payload");
        assert_eq!(&*a.to_bytes(), b"hdx");
        assert_eq!(&*p.to_bytes(), b"payload");
        let held = (a, p);
        // The first buffer is held: a second one is made.
        let (a2, p2) = pool.frame(b"h2", b"", b"p2");
        assert_eq!((&*a2.to_bytes(), &*p2.to_bytes()), (&b"h2"[..], &b"p2"[..]));
        drop((a2, p2));
        assert_eq!(&*held.1.to_bytes(), b"payload", "a held buffer is never overwritten");
        drop(held);
        let (_, p3) = pool.frame(b"", b"", b"again");
        assert_eq!(&*p3.to_bytes(), b"again");
        assert_eq!(pool.bufs.len(), 2);
    }
}
