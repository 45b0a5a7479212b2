//! The reclaim queue (SQS): where requests are posted by seatctl, by auto mode and by the
//! customer's own tools. The SQS adapter of [`RequestQueue`].
use aws_sdk_sqs::error::DisplayErrorContext;

use crate::domain::ReclaimRequest;
// Kept here too: callers named it `queue::QueueError` before the port existed.
pub use crate::ports::queue::QueueError;
use crate::ports::RequestQueue;

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

    /// Posts one request; returns the SQS message id. (Also the [`RequestQueue`] impl; inherent
    /// so callers need not import the trait.)
    pub async fn send(&self, request: &ReclaimRequest) -> Result<String, QueueError> {
        let body = serde_json::to_string(request)?;
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
                source: Box::new(e),
            })?;
        Ok(out.message_id.unwrap_or_default())
    }
}

impl RequestQueue for ReclaimQueue {
    async fn send(&self, request: &ReclaimRequest) -> Result<String, QueueError> {
        ReclaimQueue::send(self, request).await
    }
}
