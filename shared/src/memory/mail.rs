//! An in-memory [`Mailer`] that records what it sent and refuses addresses on request, and an
//! in-memory [`MailEvents`] queue of bounces and complaints.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::{parse_mail_event, Email};
use crate::ports::{MailError, MailEvents, MailEventsError, Mailer, ReceivedMailEvent};

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

#[derive(Debug, Default)]
struct EventsState {
    waiting: std::collections::VecDeque<(String, String)>,
    /// received, not acknowledged yet
    in_flight: HashMap<String, String>,
    acked: usize,
    next: u64,
}

/// An in-memory mail-events queue: bodies go in as SES would publish them (raw or in the SNS
/// envelope) and are parsed on receipt like the SQS adapter's. Clones share the queue.
#[derive(Debug, Clone, Default)]
pub struct MemoryMailEvents(Arc<Mutex<EventsState>>);

impl MemoryMailEvents {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, EventsState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts a message body on the queue.
    pub fn push(&self, body: impl Into<String>) {
        let mut s = self.state();
        s.next += 1;
        let handle = format!("rh-{}", s.next);
        s.waiting.push_back((handle, body.into()));
    }

    /// Messages neither received nor acknowledged, plus those received and not acknowledged.
    pub fn unacked(&self) -> usize {
        let s = self.state();
        s.waiting.len() + s.in_flight.len()
    }

    pub fn acked(&self) -> usize {
        self.state().acked
    }

    /// What a visibility timeout does: received, unacknowledged messages become visible again.
    pub fn expire_in_flight(&self) {
        let mut s = self.state();
        let back: Vec<_> = s.in_flight.drain().collect();
        s.waiting.extend(back);
    }
}

impl MailEvents for MemoryMailEvents {
    async fn receive(&self) -> Result<Vec<ReceivedMailEvent>, MailEventsError> {
        let mut s = self.state();
        let n = s.waiting.len().min(10);
        let batch: Vec<(String, String)> = s.waiting.drain(..n).collect();
        Ok(batch
            .into_iter()
            .map(|(handle, body)| {
                let event = parse_mail_event(&body);
                s.in_flight.insert(handle.clone(), body);
                ReceivedMailEvent { handle, event }
            })
            .collect())
    }

    async fn ack(&self, handles: &[String]) -> Result<(), MailEventsError> {
        let mut s = self.state();
        for h in handles {
            if s.in_flight.remove(h).is_some() {
                s.acked += 1;
            }
        }
        Ok(())
    }
}
