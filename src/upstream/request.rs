//! An upstream request as the bytes to write: one owned buffer, or for a
//! large body, the owned head (and spliced pieces) interleaved with slices of
//! the client's read buffer, written with `writev` so the body is never
//! copied. The request owns everything its iovecs point at, so an io_uring
//! operation outliving a cancelled send still reads valid memory.

use std::io;
use std::ops::Range;
use std::rc::Rc;

use monoio::buf::IoVecBuf;
use monoio::io::AsyncWriteRent;

use super::Conn;
use crate::http::io::write_all;

/// Where one piece of the request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// A range of the owned buffer.
    Owned(Range<usize>),
    /// A range of the shared (client) buffer.
    Shared(Range<usize>),
}

/// The bytes of one upstream request.
pub struct OutgoingRequest {
    /// The head, and everything else unless `shared` is set.
    bytes: Vec<u8>,
    shared: Option<Shared>,
}

struct Shared {
    buf: Rc<Vec<u8>>,
    parts: Vec<Part>,
    /// The iovecs still to write (rebuilt for a resend).
    iov: Vec<libc::iovec>,
    /// First iovec not yet fully written.
    first: usize,
}

impl OutgoingRequest {
    /// A request whose bytes are all in `bytes`.
    pub fn whole(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            shared: None,
        }
    }

    /// A request written as `parts`, in order, from `bytes` and `shared`.
    pub fn vectored(bytes: Vec<u8>, shared: Rc<Vec<u8>>, parts: Vec<Part>) -> Self {
        let mut shared = Shared {
            buf: shared,
            parts,
            iov: Vec::new(),
            first: 0,
        };
        shared.reset(&bytes);
        Self {
            bytes,
            shared: Some(shared),
        }
    }

    /// Total length on the wire.
    pub fn len(&self) -> usize {
        match &self.shared {
            None => self.bytes.len(),
            Some(s) => s.parts.iter().map(|p| part_range(p).len()).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The owned buffer back, for reuse.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Write the whole request to `conn`.
    pub async fn write_to(mut self, conn: &mut Conn) -> (io::Result<()>, Self) {
        if self.shared.is_none() {
            let (res, bytes) = write_all(conn, self.bytes).await;
            self.bytes = bytes;
            return (res, self);
        }
        if let Some(s) = self.shared.as_mut() {
            s.reset(&self.bytes);
        }
        loop {
            let left = self.shared.as_ref().map_or(0, |s| s.iov.len() - s.first);
            if left == 0 {
                return (Ok(()), self);
            }
            let (res, back) = conn.writev(self).await;
            self = back;
            match res {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), self),
                Ok(n) => {
                    if let Some(s) = self.shared.as_mut() {
                        s.consume(n);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), self),
            }
        }
    }
}

fn part_range(p: &Part) -> Range<usize> {
    match p {
        Part::Owned(r) | Part::Shared(r) => r.clone(),
    }
}

impl Shared {
    /// Point the iovecs at every part again, nothing written.
    fn reset(&mut self, owned: &[u8]) {
        self.iov.clear();
        self.first = 0;
        for part in &self.parts {
            let slice = match part {
                Part::Owned(r) => &owned[r.clone()],
                Part::Shared(r) => &self.buf[r.clone()],
            };
            if !slice.is_empty() {
                self.iov.push(libc::iovec {
                    iov_base: slice.as_ptr() as *mut libc::c_void,
                    iov_len: slice.len(),
                });
            }
        }
    }

    /// Drop `n` written bytes from the front of the iovecs.
    fn consume(&mut self, mut n: usize) {
        while n > 0 && self.first < self.iov.len() {
            let iov = &mut self.iov[self.first];
            if n >= iov.iov_len {
                n -= iov.iov_len;
                self.first += 1;
            } else {
                // SAFETY: `n < iov_len`, so the new base stays inside the part.
                iov.iov_base = unsafe { iov.iov_base.cast::<u8>().add(n).cast() };
                iov.iov_len -= n;
                n = 0;
            }
        }
    }
}

// SAFETY: the iovecs point into `bytes`' heap buffer and `shared.buf`'s, both
// owned by this value and never reallocated while it exists (no method grows
// them), so they stay valid wherever the value moves and for as long as the
// runtime holds it. `read_iovec_len` counts only initialised entries.
unsafe impl IoVecBuf for OutgoingRequest {
    fn read_iovec_ptr(&self) -> *const libc::iovec {
        match &self.shared {
            Some(s) => s.iov[s.first..].as_ptr(),
            None => std::ptr::null(),
        }
    }

    fn read_iovec_len(&self) -> usize {
        self.shared.as_ref().map_or(0, |s| s.iov.len() - s.first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gather(req: &OutgoingRequest) -> Vec<u8> {
        let mut out = Vec::new();
        let ptr = req.read_iovec_ptr();
        for i in 0..req.read_iovec_len() {
            // SAFETY: the test reads the iovecs the request owns.
            let iov = unsafe { &*ptr.add(i) };
            out.extend_from_slice(unsafe {
                std::slice::from_raw_parts(iov.iov_base.cast::<u8>(), iov.iov_len)
            });
        }
        out
    }

    #[test]
    fn parts_interleave_and_consume_across_boundaries() {
        let owned = b"HEAD\r\n\r\nnew-model".to_vec();
        let shared = Rc::new(br#"{"model":"old","x":1}"#.to_vec());
        let parts = vec![
            Part::Owned(0..8),
            Part::Shared(0..10),
            Part::Owned(8..17),
            Part::Shared(13..21),
        ];
        let mut req = OutgoingRequest::vectored(owned, shared, parts);
        let whole = b"HEAD\r\n\r\n{\"model\":\"new-model\",\"x\":1}".to_vec();
        assert_eq!(gather(&req), whole);
        assert_eq!(req.len(), whole.len());
        for step in [3, 5, 1, 11, 2] {
            req.shared.as_mut().unwrap().consume(step);
        }
        assert_eq!(gather(&req), whole[22..]);
        // A resend starts over.
        let bytes = std::mem::take(&mut req.bytes);
        req.shared.as_mut().unwrap().reset(&bytes);
        req.bytes = bytes;
        assert_eq!(gather(&req), whole);
    }
}
