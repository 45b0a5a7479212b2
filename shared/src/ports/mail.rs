//! Where notices and digests are mailed (Amazon SES v2 in the `mail` module; in memory for
//! tests). Narrow on purpose: one email in, the service's message id out.
use thiserror::Error;

use crate::domain::Email;

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
