//! Overload protection for the client side: how many connections are open and
//! how many request-body bytes are buffered, gateway-wide, and which of this
//! core's connections sit idle between requests (closed oldest first when the
//! connection limit is reached, before a new client is turned away).

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bodies up to this size are not counted against the body budget: with the
/// connection limit they are bounded already, and most requests are this small.
pub const UNCOUNTED_BODY_BYTES: usize = 64 * 1024;

/// `max_connections` when the config leaves it automatic, if descriptors allow
/// (the runtime lowers it to fit the open-file limit).
pub const DEFAULT_MAX_CONNECTIONS: usize = 32_768;

/// Gateway-wide counters, shared by every core.
#[derive(Debug)]
pub struct Capacity {
    open_connections: AtomicUsize,
    pub max_connections: usize,
    buffered_body_bytes: AtomicUsize,
    pub max_buffered_body_bytes: usize,
}

impl Capacity {
    pub fn new(max_connections: usize, max_buffered_body_bytes: usize) -> Self {
        Self {
            open_connections: AtomicUsize::new(0),
            max_connections,
            buffered_body_bytes: AtomicUsize::new(0),
            max_buffered_body_bytes,
        }
    }

    /// Count a new connection; false if that puts the gateway over its limit
    /// (the connection is counted either way: call [`Capacity::closed`] for it).
    pub fn opened(&self) -> bool {
        self.open_connections.fetch_add(1, Ordering::Relaxed) < self.max_connections
    }

    pub fn closed(&self) {
        self.open_connections.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn open_connections(&self) -> usize {
        self.open_connections.load(Ordering::Relaxed)
    }

    /// Reserve `bytes` of body buffer; false (nothing reserved) past the limit.
    pub fn reserve_body(&self, bytes: usize) -> bool {
        let before = self.buffered_body_bytes.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) <= self.max_buffered_body_bytes {
            return true;
        }
        self.buffered_body_bytes.fetch_sub(bytes, Ordering::Relaxed);
        false
    }

    pub fn release_body(&self, bytes: usize) {
        if bytes > 0 {
            self.buffered_body_bytes.fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    pub fn buffered_body_bytes(&self) -> usize {
        self.buffered_body_bytes.load(Ordering::Relaxed)
    }
}

/// One core's client connections, to find the one idle the longest.
///
/// Marking idle and busy is two stores per request; finding the oldest idle
/// connection scans the table, which happens only at the connection limit.
#[derive(Debug, Default)]
pub struct IdleConnections {
    slots: RefCell<Vec<Slot>>,
    free: RefCell<Vec<u32>>,
    /// Ticks once per idle period, so a smaller stamp is an older one.
    clock: Cell<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    fd: RawFd,
    /// When this connection last became idle; 0 while busy (or free).
    idle_since: u64,
}

impl IdleConnections {
    pub fn register(&self, fd: RawFd) -> u32 {
        let slot = Slot { fd, idle_since: 0 };
        let mut slots = self.slots.borrow_mut();
        match self.free.borrow_mut().pop() {
            Some(id) => {
                slots[id as usize] = slot;
                id
            }
            None => {
                slots.push(slot);
                (slots.len() - 1) as u32
            }
        }
    }

    /// Forget a connection before its socket is closed.
    pub fn unregister(&self, id: u32) {
        self.slots.borrow_mut()[id as usize] = Slot {
            fd: -1,
            idle_since: 0,
        };
        self.free.borrow_mut().push(id);
    }

    /// The connection waits for its next request.
    pub fn set_idle(&self, id: u32) {
        let now = self.clock.get() + 1;
        self.clock.set(now);
        self.slots.borrow_mut()[id as usize].idle_since = now;
    }

    /// The connection is reading or serving a request.
    pub fn set_busy(&self, id: u32) {
        self.slots.borrow_mut()[id as usize].idle_since = 0;
    }

    /// Close the connection idle the longest: its pending read sees end of
    /// stream and its task ends, closing the socket. False if none is idle.
    pub fn close_oldest(&self) -> bool {
        let mut slots = self.slots.borrow_mut();
        let oldest = slots
            .iter_mut()
            .filter(|s| s.idle_since != 0)
            .min_by_key(|s| s.idle_since);
        let Some(slot) = oldest else {
            return false;
        };
        slot.idle_since = 0;
        // SAFETY: a registered fd stays open until its connection unregisters
        // it, and both happen on this thread; shutdown does not close the fd.
        unsafe { libc::shutdown(slot.fd, libc::SHUT_RDWR) };
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_past_the_limit_are_refused_and_counted() {
        let cap = Capacity::new(2, 100);
        assert!(cap.opened() && cap.opened());
        assert!(!cap.opened());
        cap.closed();
        assert_eq!(cap.open_connections(), 2);
        cap.closed();
        assert!(cap.opened());
    }

    #[test]
    fn body_reservations_fail_past_the_limit_without_reserving() {
        let cap = Capacity::new(1, 100);
        assert!(cap.reserve_body(60));
        assert!(!cap.reserve_body(41));
        assert_eq!(cap.buffered_body_bytes(), 60);
        assert!(cap.reserve_body(40));
        cap.release_body(100);
        assert_eq!(cap.buffered_body_bytes(), 0);
    }

    #[test]
    fn the_connection_idle_longest_is_closed_first() {
        let pairs: Vec<_> = (0..3)
            .map(|_| std::os::unix::net::UnixStream::pair().unwrap())
            .collect();
        let idle = IdleConnections::default();
        use std::os::fd::AsRawFd;
        let ids: Vec<u32> = pairs
            .iter()
            .map(|(a, _)| idle.register(a.as_raw_fd()))
            .collect();
        idle.set_idle(ids[1]);
        idle.set_idle(ids[0]);
        idle.set_idle(ids[2]);
        idle.set_busy(ids[2]);
        assert!(idle.close_oldest());
        // ids[1] became idle first: its peer now reads end of stream.
        use std::io::Read;
        let mut byte = [0u8; 1];
        assert_eq!((&pairs[1].1).read(&mut byte).unwrap(), 0);
        assert!(idle.close_oldest());
        assert_eq!((&pairs[0].1).read(&mut byte).unwrap(), 0);
        assert!(!idle.close_oldest(), "ids[2] is busy");
        idle.unregister(ids[1]);
        assert_eq!(idle.register(-5), ids[1], "slots are reused");
    }
}
