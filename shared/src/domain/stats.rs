//! Call accounting of one task run: calls, retries, 429s and pages, counted by the provider
//! adapters while the task runs and kept in its [`super::TaskCounts`].
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// Per-task call accounting, shared by reference with the provider client for the task's duration.
#[derive(Debug, Default)]
pub struct ApiStats {
    calls: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    pages: AtomicU64,
    /// When the task's invocation must stop waiting: retries and Retry-After waits that would
    /// end after it are not taken (the call fails instead of being killed mid-sleep).
    deadline: Option<Instant>,
    /// A retry or Retry-After wait was not taken because it would have ended past `deadline`.
    out_of_time: AtomicBool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiStatsSnapshot {
    pub api_calls: u64,
    pub retries: u64,
    pub throttled: u64,
    pub pages: u64,
}

impl ApiStats {
    /// Accounting for a task that must not wait past `deadline` (none: no limit).
    pub fn until(deadline: Option<Instant>) -> Self {
        Self {
            deadline,
            ..Self::default()
        }
    }
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
    /// The deadline has passed.
    pub fn time_is_up(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
    /// Records that a wait was given up for the deadline (see [`ApiStats::out_of_time`]).
    pub fn give_up_wait(&self) {
        self.out_of_time.store(true, Ordering::Relaxed);
    }
    /// A call failed only because waiting to retry it would have passed the deadline: a run
    /// saves where it is and continues in the next invocation instead of failing.
    pub fn out_of_time(&self) -> bool {
        self.out_of_time.load(Ordering::Relaxed)
    }
    pub fn call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
    pub fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
    pub fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }
    pub fn page(&self) {
        self.pages.fetch_add(1, Ordering::Relaxed);
    }
    pub fn snapshot(&self) -> ApiStatsSnapshot {
        ApiStatsSnapshot {
            api_calls: self.calls.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            pages: self.pages.load(Ordering::Relaxed),
        }
    }
}
