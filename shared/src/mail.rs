//! The [`Mailer`] over Amazon SES v2 (`SendEmail`, simple content: plain text and HTML). The
//! sender is the stack's verified identity (`NOTICE_SENDER`); with `SES_CONFIGURATION_SET`, each
//! email names the configuration set whose event destination publishes bounces and complaints,
//! which [`SqsMailEvents`] reads back from the mail-events queue (`MAIL_EVENTS_QUEUE_URL`).
use aws_sdk_sesv2::error::{DisplayErrorContext, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;

use crate::domain::{parse_mail_event, Email};
use crate::ports::{MailError, MailEvents, MailEventsError, Mailer, ReceivedMailEvent};

#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    sender: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: Client, sender: impl Into<String>) -> Self {
        Self {
            client,
            sender: sender.into(),
            configuration_set: None,
        }
    }

    /// Sends through this configuration set (its event destination reports bounces and
    /// complaints).
    pub fn with_configuration_set(mut self, name: Option<String>) -> Self {
        self.configuration_set = name;
        self
    }
}

fn content(data: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError::Permanent(e.to_string()))
}

/// Which SES refusals are for good. `MessageRejected` and `BadRequest` are about this message
/// (its recipient or content): the notice becomes `notice_failed`, visible to the admin, who can
/// send it again once fixed (`seatctl notices P --resend`). Refusals of the whole account or
/// sender (suspended, sending paused, an unverified MAIL FROM domain, a missing configuration)
/// are not this user's fault: they stay `pending` and are retried by the next sync, like
/// throttling, a daily quota and transport faults.
fn classify(e: SdkError<SendEmailError>) -> MailError {
    let permanent = e
        .as_service_error()
        .is_some_and(|s| s.is_message_rejected() || s.is_bad_request_exception());
    // the chain names the SES error code and message; it never holds a link or token
    let message = DisplayErrorContext(&e).to_string();
    if permanent {
        MailError::Permanent(message)
    } else {
        MailError::Transient(message)
    }
}

impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .text(content(&email.text)?)
                    .html(content(&email.html)?)
                    .build(),
            )
            .build();
        let out = self
            .client
            .send_email()
            .from_email_address(&self.sender)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(classify)?;
        Ok(out.message_id.unwrap_or_default())
    }
}

/// Bounces and complaints from the mail-events queue (SES → SNS → SQS).
#[derive(Debug, Clone)]
pub struct SqsMailEvents {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsMailEvents {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }
}

fn sqs_error<E>(op: &'static str) -> impl Fn(E) -> MailEventsError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| MailEventsError::Aws {
        op,
        message: aws_sdk_sqs::error::DisplayErrorContext(&e).to_string(),
        source: Box::new(e),
    }
}

impl MailEvents for SqsMailEvents {
    async fn receive(&self) -> Result<Vec<ReceivedMailEvent>, MailEventsError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            // a short long-poll: every server is asked (a short poll samples some and may
            // answer empty while events wait), at most a second's wait when there are none
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(sqs_error("ReceiveMessage"))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let handle = m.receipt_handle?;
                Some(ReceivedMailEvent {
                    handle,
                    event: parse_mail_event(m.body.as_deref().unwrap_or_default()),
                })
            })
            .collect())
    }

    async fn ack(&self, handles: &[String]) -> Result<(), MailEventsError> {
        for chunk in handles.chunks(10) {
            let mut batch = self.client.delete_message_batch().queue_url(&self.url);
            for (i, h) in chunk.iter().enumerate() {
                let entry = aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(h)
                    .build()
                    .map_err(sqs_error("DeleteMessageBatch"))?;
                batch = batch.entries(entry);
            }
            let out = batch
                .send()
                .await
                .map_err(sqs_error("DeleteMessageBatch"))?;
            // an entry that failed comes back after the visibility timeout: handled again,
            // harmlessly (events are idempotent)
            if !out.failed.is_empty() {
                tracing::warn!(
                    failed = out.failed.len(),
                    "some mail events were not deleted"
                );
            }
        }
        Ok(())
    }
}
