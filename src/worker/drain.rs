//! The end of a shutdown drain: when the deadline passes, requests still in
//! flight on this core are cut, each ending the way an upstream failure ends
//! it (an error answer, or a final error event and a proper end of a stream)
//! rather than with a bare close.

use std::cell::{Cell, RefCell};
use std::task::{Poll, Waker};

/// This core's cut signal. `!Send`; one per worker.
#[derive(Debug, Default)]
pub struct Drain {
    cut: Cell<bool>,
    /// Wakers of the reads waiting on the cut, by slot; a slot is freed when
    /// its waiter is dropped, so finished requests leave nothing behind.
    waiting: RefCell<Vec<Option<Waker>>>,
    free: RefCell<Vec<usize>>,
}

impl Drain {
    /// Cut every request in flight: wakes all [`Drain::cut_requested`] waiters.
    pub fn cut(&self) {
        self.cut.set(true);
        for waker in self
            .waiting
            .borrow_mut()
            .iter_mut()
            .filter_map(Option::take)
        {
            waker.wake();
        }
    }

    pub fn is_cut(&self) -> bool {
        self.cut.get()
    }

    /// Resolves once [`Drain::cut`] has been called.
    pub fn cut_requested(&self) -> CutRequested<'_> {
        CutRequested {
            drain: self,
            slot: None,
        }
    }

    /// Waiters registered now (for tests: finished waits leave none).
    pub fn waiting(&self) -> usize {
        self.waiting.borrow().iter().filter(|w| w.is_some()).count()
    }
}

/// Future of [`Drain::cut_requested`].
pub struct CutRequested<'a> {
    drain: &'a Drain,
    slot: Option<usize>,
}

impl std::future::Future for CutRequested<'_> {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if self.drain.cut.get() {
            return Poll::Ready(());
        }
        let mut waiting = self.drain.waiting.borrow_mut();
        let slot = match self.slot {
            Some(slot) => slot,
            None => match self.drain.free.borrow_mut().pop() {
                Some(slot) => slot,
                None => {
                    waiting.push(None);
                    waiting.len() - 1
                }
            },
        };
        waiting[slot] = Some(cx.waker().clone());
        drop(waiting);
        self.slot = Some(slot);
        Poll::Pending
    }
}

impl Drop for CutRequested<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            self.drain.waiting.borrow_mut()[slot] = None;
            self.drain.free.borrow_mut().push(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_wakes_waiters_and_finished_waits_leave_no_slot() {
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async {
            let drain = Drain::default();
            for _ in 0..100 {
                let first = monoio::select! {
                    _ = async {} => "work",
                    _ = drain.cut_requested() => "cut",
                };
                assert_eq!(first, "work");
            }
            assert_eq!(drain.waiting(), 0);
            let waiting = async {
                monoio::select! {
                    _ = std::future::pending::<()>() => "work",
                    _ = drain.cut_requested() => "cut",
                }
            };
            let cutter = async {
                monoio::time::sleep(std::time::Duration::from_millis(5)).await;
                drain.cut();
            };
            let (first, ()) = monoio::join!(waiting, cutter);
            assert_eq!(first, "cut");
            assert_eq!(drain.waiting(), 0);
        });
    }
}
