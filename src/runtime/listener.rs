//! Listening sockets. Every worker binds its own SO_REUSEPORT socket; before
//! that, one plain bind checks that nobody else holds the address, because a
//! second process with SO_REUSEPORT would silently share the port
//! (MONOIO-NOTES §5.7). Port 0 is resolved to one concrete port for all workers.

use std::io;
use std::net::SocketAddr;

/// Bind once without SO_REUSEPORT to prove the address is free; return it with
/// a concrete port.
pub fn check_and_resolve(addr: SocketAddr) -> io::Result<SocketAddr> {
    let probe = std::net::TcpListener::bind(addr)?;
    probe.local_addr()
}

/// This worker's listener.
pub fn bind(addr: SocketAddr) -> io::Result<monoio::net::TcpListener> {
    let opts = monoio::net::ListenerOpts::new()
        .reuse_port(true)
        .reuse_addr(true)
        .backlog(4096);
    monoio::net::TcpListener::bind_with_config(addr, &opts)
}
