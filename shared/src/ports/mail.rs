//! Where notices and digests are mailed (Amazon SES v2 in the `mail` module; in memory for
//! tests). Narrow on purpose: one email in, the service's message id out.
use thiserror::Error;

use crate::domain::{Email, MailEvent, MailEventParseError};

#[derive(Debug, Error)]
pub enum MailError {
    /// The mail service refused this email for good (a rejected or invalid address; in the SES
    /// sandbox also an unverified sender): retrying the same email as is will not help.
    #[error("the mail service refused the email: {0}")]
    Permanent(String),
    /// Throttling, a quota, a network or service fault, or the whole account or sender refused
    /// (suspended, paused): the next sync tries again.
    #[error("the mail service could not be reached or was busy: {0}")]
    Transient(String),
}

impl MailError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent(_))
    }
}

#[allow(async_fn_in_trait)]
pub trait Mailer {
    /// Sends one email from the configured sender; returns the service's message id.
    async fn send(&self, email: &Email) -> Result<String, MailError>;
}

#[derive(Debug, Error)]
pub enum MailEventsError {
    #[error("reading the mail-events queue failed ({op}): {message}")]
    Aws {
        op: &'static str,
        message: String,
        #[source]
        source: crate::ports::repos::ErrorSource,
    },
}

/// One message taken from the mail-events source: its receipt handle (what [`MailEvents::ack`]
/// takes) and the event, or why its body is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMailEvent {
    pub handle: String,
    pub event: Result<MailEvent, MailEventParseError>,
}

/// Where bounces and complaints of sent mail arrive (SES → SNS → the mail-events SQS queue; in
/// memory for tests). Narrow on purpose: take what is waiting, acknowledge what was handled.
#[allow(async_fn_in_trait)]
pub trait MailEvents {
    /// One batch of waiting events (empty: none left). Received events stay invisible to
    /// other readers until acknowledged or until the queue's visibility timeout.
    async fn receive(&self) -> Result<Vec<ReceivedMailEvent>, MailEventsError>;
    /// Deletes handled events.
    async fn ack(&self, handles: &[String]) -> Result<(), MailEventsError>;
}

/// Configured or not (`MAIL_EVENTS_QUEUE_URL`): none reads nothing.
impl<T: MailEvents> MailEvents for Option<T> {
    async fn receive(&self) -> Result<Vec<ReceivedMailEvent>, MailEventsError> {
        match self {
            Some(t) => t.receive().await,
            None => Ok(Vec::new()),
        }
    }
    async fn ack(&self, handles: &[String]) -> Result<(), MailEventsError> {
        match self {
            Some(t) => t.ack(handles).await,
            None => Ok(()),
        }
    }
}

/// No mail-events source configured: nothing ever arrives.
impl MailEvents for () {
    async fn receive(&self) -> Result<Vec<ReceivedMailEvent>, MailEventsError> {
        Ok(Vec::new())
    }
    async fn ack(&self, _handles: &[String]) -> Result<(), MailEventsError> {
        Ok(())
    }
}
