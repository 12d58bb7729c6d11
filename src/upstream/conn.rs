//! One upstream connection, plain TCP or TLS, behind one read/write surface.

use std::io;
use std::rc::Rc;
use std::time::Instant;

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use monoio::BufResult;
use monoio_rustls::ClientTlsStream;

use crate::telemetry::CoreMetrics;

pub(crate) enum Io {
    Plain(TcpStream),
    Tls(Box<ClientTlsStream<TcpStream>>),
}

/// An upstream connection and what the pool needs to know about it. Dropping
/// it closes the socket, wherever that happens (pool eviction, error,
/// cancellation), and the connection gauges follow.
pub struct Conn {
    pub(crate) io: Io,
    /// Came out of the pool (so a failure before the first response byte may be
    /// a stale connection and is worth one retry on a fresh one).
    pub reused: bool,
    pub(crate) idle_since: Instant,
    /// The TCP socket's fd, kept for the liveness probe (the TLS wrapper hides it).
    fd: i32,
    metrics: Rc<CoreMetrics>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.metrics.upstream_connection_closed();
    }
}

impl Conn {
    pub(crate) fn new(io: Io, fd: i32, metrics: Rc<CoreMetrics>) -> Self {
        metrics.upstream_connection_opened();
        Self {
            io,
            fd,
            metrics,
            reused: false,
            idle_since: Instant::now(),
        }
    }

    /// A pooled connection is usable only if the peer has neither closed it nor
    /// sent anything unasked: `recv(MSG_PEEK | MSG_DONTWAIT)` must say EAGAIN.
    pub(crate) fn is_quiet(&self) -> bool {
        let mut byte = 0u8;
        // SAFETY: one valid byte of writable memory; the fd is owned by `self`.
        let n = unsafe {
            libc::recv(
                self.fd,
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }
}

impl AsyncReadRent for Conn {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match &mut self.io {
            Io::Plain(s) => s.read(buf).await,
            Io::Tls(s) => s.read(buf).await,
        }
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match &mut self.io {
            Io::Plain(s) => s.readv(buf).await,
            Io::Tls(s) => s.readv(buf).await,
        }
    }
}

impl AsyncWriteRent for Conn {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match &mut self.io {
            Io::Plain(s) => s.write(buf).await,
            Io::Tls(s) => s.write(buf).await,
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match &mut self.io {
            Io::Plain(s) => s.writev(buf).await,
            Io::Tls(s) => s.writev(buf).await,
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match &mut self.io {
            Io::Plain(s) => s.flush().await,
            Io::Tls(s) => s.flush().await,
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match &mut self.io {
            Io::Plain(s) => s.shutdown().await,
            Io::Tls(s) => s.shutdown().await,
        }
    }
}
