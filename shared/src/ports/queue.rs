//! Where reclaim requests are posted (auto mode after a sync, `seatctl approve|reclaim`), and
//! where sync jobs are posted (the dispatcher: one per profile).
use thiserror::Error;

use crate::domain::{Provider, ReclaimRequest, SyncJob};

#[derive(Debug, Error)]
pub enum QueueError {
    #[error(
        "RECLAIM_QUEUE_URL is not set: the reclaim queue URL is a stack output (ReclaimQueueUrl)"
    )]
    NotConfigured,
    #[error("the sync function's own queue URL (BOX_SYNC_QUEUE_URL / DROPBOX_SYNC_QUEUE_URL) is not set: a run that continues cannot post its next job")]
    SyncQueueNotConfigured,
    #[error("SQS {op} failed: {message}")]
    Aws {
        op: &'static str,
        message: String,
        #[source]
        source: crate::ports::repos::ErrorSource,
    },
    #[error("could not encode the reclaim request: {0}")]
    Encode(#[from] serde_json::Error),
}

#[allow(async_fn_in_trait)]
pub trait RequestQueue {
    /// Posts one request; returns the message id.
    async fn send(&self, request: &ReclaimRequest) -> Result<String, QueueError>;
}

/// The sync queues: one job per profile's run, on the queue of the profile's provider (each
/// provider's sync function consumes only its own, so a job never reaches the wrong one).
#[allow(async_fn_in_trait)]
pub trait SyncJobQueue {
    /// Posts one job for a profile of `provider`; returns the message id.
    async fn send_job(&self, provider: Provider, job: &SyncJob) -> Result<String, QueueError>;
}

/// A sync queue that may not be configured (a local run).
impl<Q: SyncJobQueue> SyncJobQueue for Option<Q> {
    async fn send_job(&self, provider: Provider, job: &SyncJob) -> Result<String, QueueError> {
        match self {
            Some(q) => q.send_job(provider, job).await,
            None => Err(QueueError::SyncQueueNotConfigured),
        }
    }
}

/// No sync queue (a caller without a deadline never has a continuation to post).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSyncQueue;

impl SyncJobQueue for NoSyncQueue {
    async fn send_job(&self, _: Provider, _: &SyncJob) -> Result<String, QueueError> {
        Err(QueueError::SyncQueueNotConfigured)
    }
}
