//! Where reclaim requests are posted (auto mode after a sync, `seatctl approve|reclaim`).
use thiserror::Error;

use crate::domain::ReclaimRequest;

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
