//! Admin API calls that need the store (keys, teams, customers, logs,
//! usage), from a worker to the store thread: a worker queues the call and
//! polls for its answer, the store thread serves the queue between batches
//! of log rows. Workers never touch the store themselves.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::Value;

use crate::governance::admin::Answer;
use crate::store::{EntityKind, LogFilter, UsageQuery};

#[derive(Debug, Clone, PartialEq)]
pub enum AdminCall {
    Create(EntityKind, Value),
    List(EntityKind),
    Get(EntityKind, String),
    Update(EntityKind, String, Value),
    Delete(EntityKind, String),
    Logs(LogFilter),
    Usage(UsageQuery),
}

#[derive(Default)]
pub struct AdminCalls {
    next_ticket: AtomicU64,
    waiting: Mutex<VecDeque<(u64, AdminCall)>>,
    answers: Mutex<HashMap<u64, Answer>>,
}

impl AdminCalls {
    pub fn submit(&self, call: AdminCall) -> u64 {
        let ticket = self.next_ticket.fetch_add(1, Ordering::AcqRel) + 1;
        lock(&self.waiting).push_back((ticket, call));
        ticket
    }

    /// The answer to `ticket`, once (later calls get `None`).
    pub fn answer(&self, ticket: u64) -> Option<Answer> {
        lock(&self.answers).remove(&ticket)
    }

    /// The caller gave up waiting: its answer, when it comes, is dropped.
    pub fn abandon(&self, ticket: u64) {
        lock(&self.waiting).retain(|(t, _)| *t != ticket);
        lock(&self.answers).remove(&ticket);
    }

    /// For the store thread: every call waiting now.
    pub fn take_waiting(&self) -> Vec<(u64, AdminCall)> {
        lock(&self.waiting).drain(..).collect()
    }

    pub fn answered(&self, ticket: u64, answer: Answer) {
        lock(&self.answers).insert(ticket, answer);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_answered_once_and_an_abandoned_one_not_at_all() {
        let calls = AdminCalls::default();
        let a = calls.submit(AdminCall::List(EntityKind::Key));
        let b = calls.submit(AdminCall::Get(EntityKind::Team, "eng".into()));
        calls.abandon(b);
        let waiting = calls.take_waiting();
        assert_eq!(waiting, vec![(a, AdminCall::List(EntityKind::Key))]);
        assert_eq!(calls.answer(a), None);
        calls.answered(a, Answer::error(404, "not_found", "x"));
        assert_eq!(calls.answer(a).map(|x| x.status), Some(404));
        assert_eq!(calls.answer(a), None);
    }
}
