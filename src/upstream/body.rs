//! Following an upstream response body as it arrives: where it ends, its
//! payload bytes without the chunked framing, and whether its connection can
//! be pooled again.

use std::io;
use std::time::{Duration, Instant};

use super::{Conn, Origin, Pools, Response, UpstreamError};
use crate::http::chunked::{ChunkError, ChunkedScanner};
use crate::http::io::read_append_timeout;
use crate::http::response::{ResponseFraming, ResponseHead};

/// Where the relay is within the response body.
pub enum BodyState {
    Done,
    Length(u64),
    Chunked(ChunkedScanner),
    UntilClose,
}

impl BodyState {
    /// Take the part of `data` that belongs to this response: (bytes, finished).
    /// `payload` receives the body bytes in it, without chunk framing.
    pub fn consume(
        &mut self,
        data: &[u8],
        mut payload: impl FnMut(&[u8]),
    ) -> Result<(usize, bool), ChunkError> {
        match self {
            BodyState::Done => Ok((0, true)),
            BodyState::Length(left) => {
                let take = (*left).min(data.len() as u64) as usize;
                payload(&data[..take]);
                *left -= take as u64;
                if *left == 0 {
                    *self = BodyState::Done;
                }
                Ok((take, matches!(self, BodyState::Done)))
            }
            BodyState::Chunked(scanner) => match scanner.scan(data, &mut payload)? {
                Some(end) => {
                    *self = BodyState::Done;
                    Ok((end, true))
                }
                None => Ok((data.len(), false)),
            },
            BodyState::UntilClose => {
                payload(data);
                Ok((data.len(), false))
            }
        }
    }

    /// An error event can be added as a whole chunk here.
    pub fn can_append_chunk(&self) -> bool {
        match self {
            BodyState::Chunked(s) => s.at_chunk_boundary(),
            BodyState::UntilClose => true,
            _ => false,
        }
    }
}

impl BodyState {
    pub fn new(framing: ResponseFraming) -> Self {
        match framing {
            ResponseFraming::Empty | ResponseFraming::Length(0) => BodyState::Done,
            ResponseFraming::Length(n) => BodyState::Length(n),
            ResponseFraming::Chunked => BodyState::Chunked(ChunkedScanner::new()),
            ResponseFraming::UntilClose => BodyState::UntilClose,
        }
    }
}

/// One upstream response body, read piece by piece: the one place read
/// errors are mapped, the body's end is found and the connection's reuse is
/// decided. The pass-through relay, the translators and whole-body reads all
/// consume it.
pub struct BodyReader {
    conn: Option<Conn>,
    /// The bytes of the current piece (`buf[..piece_len]`), framing included.
    buf: Vec<u8>,
    piece_len: usize,
    /// Bytes after the head that arrived with it, not yet handed out.
    first: Option<usize>,
    state: BodyState,
    /// The upstream allows reuse and nothing past this response was read.
    reusable: bool,
    stream_idle: Duration,
    /// Time spent waiting on the upstream, head included.
    pub upstream_wait: Duration,
    pub head: ResponseHead,
}

impl BodyReader {
    pub fn new(resp: Response, stream_idle: Duration) -> Self {
        let Response {
            conn,
            buf,
            head,
            upstream_wait,
            ..
        } = resp;
        Self {
            conn: Some(conn),
            first: Some(head.head_len),
            piece_len: 0,
            state: BodyState::new(head.framing),
            reusable: head.keep_alive,
            buf,
            stream_idle,
            upstream_wait,
            head,
        }
    }

    /// The head's bytes (`head.headers` index into them) until the first
    /// call to [`BodyReader::next`].
    pub fn head_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Mutable head bytes, to mask credentials before relaying them.
    pub fn head_bytes_mut(&mut self) -> &mut [u8] {
        let end = self.head.head_len.min(self.buf.len());
        &mut self.buf[..end]
    }

    /// The value of response header `name`, before the first `next`.
    pub fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.head
            .headers
            .iter()
            .find(|h| h.name(&self.buf).eq_ignore_ascii_case(name))
            .map(|h| h.value(&self.buf))
    }

    /// The next piece of the body: `Ok(true)` with [`BodyReader::piece`] set
    /// (it may be empty), `Ok(false)` at the end. `payload` receives the body
    /// bytes without chunk framing. A read races `cut` (the shutdown deadline).
    pub async fn next(
        &mut self,
        cut: impl std::future::Future<Output = ()>,
        mut payload: impl FnMut(&[u8]),
    ) -> Result<bool, UpstreamError> {
        if let Some(start) = self.first.take() {
            self.buf.drain(..start);
        } else {
            if matches!(self.state, BodyState::Done) {
                return Ok(false);
            }
            let Some(conn) = self.conn.as_mut() else {
                return Ok(false);
            };
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            let waited = Instant::now();
            let read = read_append_timeout(conn, buf, self.stream_idle);
            let (res, buf) = monoio::select! {
                r = read => r,
                _ = cut => {
                    // The read is cancelled and its buffer dropped with it.
                    self.upstream_wait += waited.elapsed();
                    return Err(UpstreamError::Shutdown);
                }
            };
            self.buf = buf;
            self.upstream_wait += waited.elapsed();
            match res {
                Ok(0) if matches!(self.state, BodyState::UntilClose) => {
                    self.state = BodyState::Done;
                    self.reusable = false;
                    self.piece_len = 0;
                    return Ok(false);
                }
                Ok(0) => return Err(UpstreamError::Truncated),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Err(UpstreamError::StreamIdleTimeout)
                }
                Err(e) => return Err(UpstreamError::Read(e)),
            }
        }
        let (n, _) = self
            .state
            .consume(&self.buf, &mut payload)
            .map_err(|e| UpstreamError::BadResponse(e.0))?;
        self.reusable &= n == self.buf.len();
        self.piece_len = n;
        Ok(true)
    }

    /// The current piece as received (chunk framing included).
    pub fn piece(&self) -> &[u8] {
        &self.buf[..self.piece_len]
    }

    /// Whether the body has ended (the last piece was its end).
    pub fn is_done(&self) -> bool {
        matches!(self.state, BodyState::Done)
    }

    /// An event can still be added as a whole chunk after the last piece.
    pub fn at_piece_boundary(&self) -> bool {
        self.state.can_append_chunk()
    }

    /// The piece's buffer, moved out for an owned write; give it back with
    /// [`BodyReader::put_buf`].
    pub fn take_piece_buf(&mut self) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.truncate(self.piece_len);
        buf
    }

    pub fn put_buf(&mut self, buf: Vec<u8>) {
        self.buf = buf;
    }

    /// Read the rest of the body into `out` (payload only), up to `max` bytes.
    pub async fn read_to_end<F: std::future::Future<Output = ()>>(
        &mut self,
        cut: impl Fn() -> F,
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<(), UpstreamError> {
        while self.next(cut(), |p| out.extend_from_slice(p)).await? {
            if out.len() > max {
                return Err(UpstreamError::BadResponse("response body too large"));
            }
        }
        Ok(())
    }

    /// Give the connection back to `pools` if the body was read to its end
    /// and the upstream allows reuse, else close it. Returns the buffer.
    pub fn finish(mut self, pools: &Pools, origin: &Origin, max_idle: usize) -> Vec<u8> {
        if let Some(conn) = self.conn.take() {
            if self.reusable && self.first.is_none() && self.is_done() {
                pools.checkin(origin, conn, max_idle);
            } else {
                pools.discard(conn);
            }
        }
        pools.recycle_headers(std::mem::take(&mut self.head.headers));
        std::mem::take(&mut self.buf)
    }
}
