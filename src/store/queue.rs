//! Per-core bounded queues of finished requests' log rows, from the
//! workers to the store thread. A worker only ever tries to enqueue: when
//! its queue is full (the store is slow or down), the row is dropped and
//! counted, and the request goes on as if nothing happened.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;

use super::LogRow;

/// The workers' ends, one queue per core.
pub struct LogQueues {
    senders: Vec<SyncSender<LogRow>>,
    dropped: Vec<AtomicU64>,
    /// The store thread's ends, until it takes them.
    receivers: Mutex<Option<Vec<Receiver<LogRow>>>>,
}

impl LogQueues {
    pub fn new(cores: usize, rows_per_core: usize) -> Self {
        let (senders, receivers) = (0..cores).map(|_| sync_channel(rows_per_core)).unzip();
        Self {
            senders,
            dropped: (0..cores).map(|_| AtomicU64::new(0)).collect(),
            receivers: Mutex::new(Some(receivers)),
        }
    }

    /// Enqueue core `core`'s row; false (and counted) when its queue is full
    /// or nobody reads it any more.
    pub fn push(&self, core: usize, row: LogRow) -> bool {
        match self.senders[core].try_send(row) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped[core].fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Rows dropped so far, all cores.
    pub fn dropped(&self) -> u64 {
        self.dropped.iter().map(|d| d.load(Ordering::Relaxed)).sum()
    }

    /// For the store thread, once.
    pub fn take_receivers(&self) -> Option<Vec<Receiver<LogRow>>> {
        self.receivers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        let queues = LogQueues::new(2, 2);
        let row = LogRow::default;
        assert!(queues.push(0, row()) && queues.push(0, row()));
        assert!(!queues.push(0, row()));
        assert!(queues.push(1, row()));
        assert_eq!(queues.dropped(), 1);
        let receivers = queues.take_receivers().unwrap();
        assert!(queues.take_receivers().is_none());
        assert_eq!(receivers[0].try_iter().count(), 2);
        assert!(queues.push(0, row()));
        drop(receivers);
        assert!(!queues.push(1, row()));
        assert_eq!(queues.dropped(), 2);
    }
}
