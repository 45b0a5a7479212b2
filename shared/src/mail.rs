//! The [`Mailer`] over Amazon SES v2 (`SendEmail`, simple content: plain text and HTML). The
//! sender is the stack's verified identity (`NOTICE_SENDER`).
use aws_sdk_sesv2::error::{DisplayErrorContext, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;

use crate::domain::Email;
use crate::ports::{MailError, Mailer};

#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    sender: String,
}

impl SesMailer {
    pub fn new(client: Client, sender: impl Into<String>) -> Self {
        Self {
            client,
            sender: sender.into(),
        }
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
            .send()
            .await
            .map_err(classify)?;
        Ok(out.message_id.unwrap_or_default())
    }
}
