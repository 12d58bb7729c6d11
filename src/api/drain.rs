//! The end of a shutdown drain: when the deadline passes, requests still in
//! flight on this core are cut, each ending the way an upstream failure ends
//! it (an error answer, or a final error event and a proper end of a stream)
//! rather than with a bare close.

use std::cell::{Cell, RefCell};
use std::io;
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

/// The error an upstream read returns once requests are cut.
#[derive(Debug, thiserror::Error)]
#[error("the gateway is shutting down")]
pub struct ShutdownCut;

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

    /// `fut`, unless requests are cut first: then an [`io::Error`] carrying
    /// [`ShutdownCut`] (the read is cancelled and its buffer dropped).
    pub async fn or_cut<T>(
        &self,
        fut: impl std::future::Future<Output = (io::Result<T>, Vec<u8>)>,
    ) -> (io::Result<T>, Vec<u8>) {
        monoio::select! {
            r = fut => r,
            _ = self.cut_requested() => (Err(io::Error::other(ShutdownCut)), Vec::new()),
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

/// Whether `e` is the error of a read cut by the shutdown deadline.
pub fn is_shutdown_cut(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<ShutdownCut>())
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
                let ready = async { (Ok(1usize), Vec::new()) };
                assert_eq!(drain.or_cut(ready).await.0.unwrap(), 1);
            }
            assert_eq!(drain.waiting(), 0);
            let never = std::future::pending::<(io::Result<usize>, Vec<u8>)>();
            let cutter = async {
                monoio::time::sleep(std::time::Duration::from_millis(5)).await;
                drain.cut();
            };
            let (res, ()) = monoio::join!(drain.or_cut(never), cutter);
            assert!(is_shutdown_cut(&res.0.unwrap_err()));
            assert_eq!(drain.waiting(), 0);
        });
    }
}
