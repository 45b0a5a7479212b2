//! An in-memory [`Mailer`] that records what it sent and refuses addresses on request.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::Email;
use crate::ports::{MailError, Mailer};

#[derive(Debug, Default)]
struct State {
    sent: Vec<Email>,
    /// address → refuse for good (true) or transiently (false)
    refuse: HashMap<String, bool>,
}

/// Clones share what was sent.
#[derive(Debug, Clone, Default)]
pub struct MemoryMailer(Arc<Mutex<State>>);

impl MemoryMailer {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every email sent so far, in order.
    pub fn sent(&self) -> Vec<Email> {
        self.state().sent.clone()
    }

    /// Emails sent to `to`.
    pub fn sent_to(&self, to: &str) -> Vec<Email> {
        self.state()
            .sent
            .iter()
            .filter(|e| e.to == to)
            .cloned()
            .collect()
    }

    /// Mail to `to` is refused: for good (`permanent`, like an SES `MessageRejected`) or
    /// transiently (throttling), until [`MemoryMailer::accept`].
    pub fn refuse(&self, to: &str, permanent: bool) {
        self.state().refuse.insert(to.to_owned(), permanent);
    }

    pub fn accept(&self, to: &str) {
        self.state().refuse.remove(to);
    }
}

impl Mailer for MemoryMailer {
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        let mut s = self.state();
        match s.refuse.get(&email.to) {
            Some(true) => Err(MailError::Permanent(format!(
                "MessageRejected: {} refused",
                email.to
            ))),
            Some(false) => Err(MailError::Transient("TooManyRequests".into())),
            None => {
                s.sent.push(email.clone());
                Ok(format!("mem-{}", s.sent.len()))
            }
        }
    }
}
