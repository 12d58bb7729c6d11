//! Socket helpers over monoio's owned-buffer ("rent") API.
//!
//! monoio's `read(Vec)` writes from index 0 and a full Vec reads as EOF
//! (MONOIO-NOTES §5.3), so every read here appends through `slice_mut(len..)`
//! after reserving spare room. A timed-out operation loses its buffer to the
//! cancelled op; callers treat a timeout as the end of that connection.

use std::io;
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};

/// Spare capacity guaranteed before each read.
pub const READ_CHUNK_BYTES: usize = 16 * 1024;

/// Append whatever the socket has to `buf`. `Ok(0)` is end of stream.
pub async fn read_append<S: AsyncReadRent>(
    s: &mut S,
    mut buf: Vec<u8>,
) -> (io::Result<usize>, Vec<u8>) {
    if buf.capacity() - buf.len() < READ_CHUNK_BYTES / 4 {
        buf.reserve(READ_CHUNK_BYTES);
    }
    let len = buf.len();
    let (res, slice) = s.read(buf.slice_mut(len..)).await;
    (res, slice.into_inner())
}

/// [`read_append`] bounded by `limit`; on expiry the buffer is lost and a fresh
/// empty one is returned with `ErrorKind::TimedOut`.
pub async fn read_append_timeout<S: AsyncReadRent>(
    s: &mut S,
    buf: Vec<u8>,
    limit: Duration,
) -> (io::Result<usize>, Vec<u8>) {
    match monoio::time::timeout(limit, read_append(s, buf)).await {
        Ok(r) => r,
        Err(_) => (Err(io::ErrorKind::TimedOut.into()), Vec::new()),
    }
}

/// Write all of `buf`, handing it back.
pub async fn write_all<S: AsyncWriteRent>(s: &mut S, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
    let (res, buf) = s.write_all(buf).await;
    (res.map(|_| ()), buf)
}
