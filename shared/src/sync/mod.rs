//! Sync orchestration: reads a provider through its adapter and records what it saw, as task runs.
pub(crate) mod box_sync;
pub(crate) mod dropbox_sync;
mod progress;
mod reclamation;
mod roster;
mod run;

pub use box_sync::BoxSync;
pub const BOX_EVENTS_STREAM: &str = box_sync::EVENTS_STREAM;
pub const DROPBOX_EVENTS_STREAM: &str = dropbox_sync::EVENTS_STREAM;
pub use dropbox_sync::DropboxSync;
pub use progress::{NoProgress, Progress};
pub use roster::ACTIVE_WITHIN_DAYS;
pub use run::{ProfileOutcome, ProviderSync, Run, SyncError, SyncReport, ACTIVITY_OVERLAP};

/// Sortable, readable run ids: `20261123T120000Z-1a2b3c4d`.
pub fn new_run_id(now: chrono::DateTime<chrono::Utc>) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), &id[..8])
}
