//! The reclaim queue (SQS): where requests are posted by seatctl, by auto mode and by the
//! customer's own tools.
use aws_sdk_sqs::error::DisplayErrorContext;
use thiserror::Error;

use crate::domain::ReclaimRequest;

#[derive(Debug, Error)]
pub enum QueueError {
    #[error(
        "RECLAIM_QUEUE_URL is not set: the reclaim queue URL is a stack output (ReclaimQueueUrl)"
    )]
    NotConfigured,
    #[error("SQS {op} failed: {message}")]
    Aws { op: &'static str, message: String },
    #[error("could not encode the reclaim request: {0}")]
    Encode(String),
}

#[derive(Debug, Clone)]
pub struct ReclaimQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl ReclaimQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Posts one request; returns the SQS message id.
    pub async fn send(&self, request: &ReclaimRequest) -> Result<String, QueueError> {
        let body = serde_json::to_string(request).map_err(|e| QueueError::Encode(e.to_string()))?;
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| QueueError::Aws {
                op: "SendMessage",
                message: DisplayErrorContext(&e).to_string(),
            })?;
        Ok(out.message_id.unwrap_or_default())
    }
}
