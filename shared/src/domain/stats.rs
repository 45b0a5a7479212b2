//! Call accounting of one task run: calls, retries, 429s and pages, counted by the provider
//! adapters while the task runs and kept in its [`super::TaskCounts`].
use std::sync::atomic::{AtomicU64, Ordering};

/// Per-task call accounting, shared by reference with the provider client for the task's duration.
#[derive(Debug, Default)]
pub struct ApiStats {
    calls: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    pages: AtomicU64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiStatsSnapshot {
    pub api_calls: u64,
    pub retries: u64,
    pub throttled: u64,
    pub pages: u64,
}

impl ApiStats {
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
