//! Reload requests between the data plane and the control thread: a worker
//! (`POST /admin/reload`) or the SIGHUP handler asks, the control thread
//! reads and validates the file and publishes it, and whoever asked reads
//! the outcome. Requests made while a reload runs are served by the next
//! one, which reads the file after they were made.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What a reload did: the generation published, or why the file was refused
/// (the old configuration keeps serving).
pub type Outcome = Result<u64, String>;

#[derive(Default)]
pub struct Reloads {
    /// Tickets handed out; the control thread serves every ticket up to this.
    requested: AtomicU64,
    /// The last ticket served, and its outcome.
    served: Mutex<(u64, Option<Outcome>)>,
    /// Set by SIGHUP.
    pub signal: Arc<AtomicBool>,
}

impl Reloads {
    /// Ask for a reload; the ticket is served once [`Reloads::outcome`] has it.
    pub fn request(&self) -> u64 {
        self.requested.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// The outcome of the reload that served `ticket`, once there is one.
    pub fn outcome(&self, ticket: u64) -> Option<Outcome> {
        let served = self.served.lock().unwrap_or_else(|e| e.into_inner());
        (served.0 >= ticket).then(|| served.1.clone()).flatten()
    }

    /// For the control thread: the ticket to serve now, if any is waiting
    /// (a SIGHUP counts as one).
    pub fn pending(&self) -> Option<u64> {
        if self.signal.swap(false, Ordering::AcqRel) {
            self.request();
        }
        let requested = self.requested.load(Ordering::Acquire);
        let served = self.served.lock().unwrap_or_else(|e| e.into_inner()).0;
        (requested > served).then_some(requested)
    }

    /// For the control thread: every ticket up to `ticket` got `outcome`.
    pub fn served(&self, ticket: u64, outcome: Outcome) {
        *self.served.lock().unwrap_or_else(|e| e.into_inner()) = (ticket, Some(outcome));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_served_by_the_next_reload_and_a_signal_asks_for_one() {
        let r = Reloads::default();
        assert_eq!(r.pending(), None);
        let first = r.request();
        let second = r.request();
        assert_eq!(r.outcome(first), None);
        assert_eq!(r.pending(), Some(second));
        r.served(second, Ok(2));
        assert_eq!(r.outcome(first), Some(Ok(2)));
        assert_eq!(r.outcome(second), Some(Ok(2)));
        assert_eq!(r.pending(), None);
        r.signal.store(true, Ordering::Release);
        let third = r.pending().expect("SIGHUP asks for a reload");
        assert_eq!(r.outcome(third), None);
        r.served(third, Err("bad".into()));
        assert_eq!(r.outcome(third), Some(Err("bad".into())));
    }
}
