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
