//! What the providers were asked: call counts per route and a log of recent requests.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use crate::faults::Route;
use crate::util::Shared;

/// How many requests [`StatsHandle::requests`] keeps (the oldest are dropped first).
/// Call counts are not limited.
pub const MAX_RECORDED_REQUESTS: usize = 100_000;

/// One provider request as the sandbox answered it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordedRequest {
    pub route: Route,
    pub method: String,
    pub path: String,
    /// The raw query string, without `?` (empty if there was none).
    pub query: String,
    pub status: u16,
}

#[derive(Debug, Default)]
struct Inner {
    calls: HashMap<Route, usize>,
    total: usize,
    dropbox_total: usize,
    requests: VecDeque<RecordedRequest>,
    /// Provider requests held back by the `--latency-ms` delay, and the delay they were given.
    delayed: usize,
    delayed_ms: u64,
}

/// Call counts and the request log. Cheap to clone; every clone sees the same numbers.
#[derive(Clone, Debug, Default)]
pub struct StatsHandle {
    inner: Shared<Inner>,
}

impl StatsHandle {
    /// Requests to `route` so far (answered, faulted or not); `Route::Any` counts every
    /// provider request, `Route::DropboxAny` every Dropbox request.
    pub fn calls(&self, route: Route) -> usize {
        let inner = self.inner.lock();
        match route {
            Route::Any => inner.total,
            Route::DropboxAny => inner.dropbox_total,
            route => inner.calls.get(&route).copied().unwrap_or(0),
        }
    }

    /// The recorded requests, oldest first (at most [`MAX_RECORDED_REQUESTS`]).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.lock().requests.iter().cloned().collect()
    }

    /// How many provider requests were delayed by the sandbox's latency
    /// ([`crate::Sandbox::set_latency_ms`]), and the sum of the delays they slept, in ms.
    pub fn delayed(&self) -> (usize, u64) {
        let inner = self.inner.lock();
        (inner.delayed, inner.delayed_ms)
    }

    pub(crate) fn record_delay(&self, millis: u64) {
        let mut inner = self.inner.lock();
        inner.delayed += 1;
        inner.delayed_ms += millis;
    }

    pub fn reset(&self) {
        *self.inner.lock() = Inner::default();
    }

    pub(crate) fn record(&self, request: RecordedRequest) {
        let mut inner = self.inner.lock();
        inner.total += 1;
        if request.route.is_dropbox() {
            inner.dropbox_total += 1;
        }
        if request.route != Route::Any && request.route != Route::DropboxAny {
            *inner.calls.entry(request.route).or_insert(0) += 1;
        }
        if inner.requests.len() == MAX_RECORDED_REQUESTS {
            inner.requests.pop_front();
        }
        inner.requests.push_back(request);
    }
}
