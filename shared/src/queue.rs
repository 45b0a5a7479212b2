//! The reclaim queue (SQS): where requests are posted by seatctl, by auto mode and by the
//! customer's own tools. The SQS adapter of [`RequestQueue`]; and the sync queue, the SQS
//! adapter of [`SyncJobQueue`].
use aws_sdk_sqs::error::DisplayErrorContext;

use crate::domain::{Provider, ReclaimRequest, SyncJob};
// Kept here too: callers named it `queue::QueueError` before the port existed.
pub use crate::ports::queue::QueueError;
use crate::ports::{RequestQueue, SyncJobQueue};

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
        send(&self.client, &self.url, body).await
    }
}

async fn send(client: &aws_sdk_sqs::Client, url: &str, body: String) -> Result<String, QueueError> {
    let out = client
        .send_message()
        .queue_url(url)
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

impl RequestQueue for ReclaimQueue {
    async fn send(&self, request: &ReclaimRequest) -> Result<String, QueueError> {
        ReclaimQueue::send(self, request).await
    }
}

/// The sync queues (`BOX_SYNC_QUEUE_URL`, `DROPBOX_SYNC_QUEUE_URL`): one job per profile's run,
/// for box-sync and dropbox-sync respectively.
#[derive(Debug, Clone)]
pub struct SyncQueues {
    client: aws_sdk_sqs::Client,
    box_url: String,
    dropbox_url: String,
}

impl SyncQueues {
    pub fn new(
        client: aws_sdk_sqs::Client,
        box_url: impl Into<String>,
        dropbox_url: impl Into<String>,
    ) -> Self {
        Self {
            client,
            box_url: box_url.into(),
            dropbox_url: dropbox_url.into(),
        }
    }

    pub fn url(&self, provider: Provider) -> &str {
        match provider {
            Provider::Box => &self.box_url,
            Provider::Dropbox => &self.dropbox_url,
        }
    }
}

impl SyncJobQueue for SyncQueues {
    async fn send_job(&self, provider: Provider, job: &SyncJob) -> Result<String, QueueError> {
        send(&self.client, self.url(provider), job.to_body()?).await
    }
}
