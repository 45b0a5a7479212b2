//! Reclamation: the execution of reclaim requests ([`Reclaimer`]) over the provider ports, for
//! any provider.
//!
//! A request is claimed with a conditional write, then moves through recorded steps
//! (received → verified → [suspending → suspended → (the undo window) →] [transferring →
//! transferred →] removing → removed → done, or skipped / failed with a reason; `seatctl
//! restore` ends one `restored`, see the `undo` module). Each step is saved before the provider
//! call it announces, so a redelivery after a crash resumes from the record: a finished request is a no-op, a transfer
//! whose outcome is unknown is probed (a removal without force succeeds only if the content
//! already moved) instead of repeated, and a removal job is polled by its recorded id instead of
//! removing again. The steps themselves are in [`steps`].
pub(crate) mod steps;

use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use thiserror::Error;

use crate::domain::{InvalidMessage, Provider, ReclaimRecord, ReclaimRequest, ReclaimStatus};
use crate::http::{ApiStats, ApiStatsSnapshot};
use crate::ports::{ProfileRepo, ProviderAccess, ReclaimRepo, Repos, StoreError};

/// A delivery holds a request this long (longer than the function may run), so a crashed one
/// lets go on its own and a concurrent duplicate waits.
const LEASE: chrono::Duration = chrono::Duration::minutes(16);

#[derive(Debug, Error)]
pub enum ReclaimError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How the function answers SQS for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum Outcome {
    /// Finished now (done, skipped or failed, as recorded).
    Finished(ReclaimStatus),
    /// Already finished by an earlier delivery: nothing was done.
    AlreadyFinished(ReclaimStatus),
    /// Not a reclaim request (or for no known profile): recorded and acknowledged.
    Invalid(String),
    /// Try again later (transient provider trouble, a job still running, a concurrent
    /// delivery): reported as a batch item failure so SQS redelivers it.
    Retry(String),
}

impl Outcome {
    pub fn is_retry(&self) -> bool {
        matches!(self, Outcome::Retry(_))
    }
}

/// What handling one message did.
#[derive(Debug, Clone)]
pub struct Processed {
    pub outcome: Outcome,
    /// The request's profile, when the message parsed.
    pub profile_id: Option<String>,
    pub dry_run: bool,
    pub api: ApiStatsSnapshot,
    /// The request's provider and final reason code, when its record was reached (metrics).
    pub provider: Option<Provider>,
    pub reason_code: Option<String>,
}

/// How long a removal job is polled within one delivery before handing it back to SQS.
#[derive(Debug, Clone)]
pub struct JobPoll {
    pub attempts: u32,
    pub interval: Duration,
}

impl Default for JobPoll {
    fn default() -> Self {
        Self {
            attempts: 10,
            interval: Duration::from_secs(3),
        }
    }
}

/// Executes reclaim requests over the repositories and a provider access. Built once per
/// container.
pub struct Reclaimer<R, P> {
    pub repos: R,
    pub providers: P,
    pub poll: JobPoll,
}

impl<R: Repos, P: ProviderAccess> Reclaimer<R, P> {
    pub fn new(repos: R, providers: P) -> Self {
        Self {
            repos,
            providers,
            poll: JobPoll::default(),
        }
    }

    /// Handles one queue message. Never panics; every path is recorded. `owner` names this
    /// delivery (the invocation's request id) for the request's lease.
    pub async fn process(&self, message_id: &str, body: &str, owner: &str) -> Processed {
        self.process_from(message_id, body, owner, None).await
    }

    /// [`Reclaimer::process`] with the message's SQS `SenderId` (recorded in the audit trail).
    pub async fn process_from(
        &self,
        message_id: &str,
        body: &str,
        owner: &str,
        sender_id: Option<&str>,
    ) -> Processed {
        let stats = ApiStats::default();
        let mut seen = (None, None);
        let (outcome, profile_id, dry_run) = match ReclaimRequest::parse(body) {
            Ok(req) => {
                let (profile, dry_run) = (req.profile_id.clone(), req.dry_run);
                let outcome = match self.execute(req, owner, sender_id, &stats, &mut seen).await {
                    Ok(o) => o,
                    Err(e) => Outcome::Retry(e.to_string()),
                };
                (outcome, Some(profile), dry_run)
            }
            Err(e) => (Outcome::Invalid(e.to_string()), None, false),
        };
        // every invalid message (malformed, unknown profile, reused id) is recorded as received
        let outcome = match outcome {
            Outcome::Invalid(error) => self.record_invalid(message_id, body, error).await,
            other => other,
        };
        Processed {
            outcome,
            profile_id,
            dry_run,
            api: stats.snapshot(),
            provider: seen.0,
            reason_code: seen.1,
        }
    }

    async fn record_invalid(&self, message_id: &str, body: &str, error: String) -> Outcome {
        tracing::warn!(message_id, error = %error, "invalid reclaim message; recorded and acknowledged");
        let mut excerpt: String = body.chars().take(4096).collect();
        excerpt.shrink_to_fit();
        let m = InvalidMessage {
            message_id: message_id.to_owned(),
            received_at: Utc::now(),
            error: error.clone(),
            body_excerpt: excerpt,
            body_bytes: body.len(),
        };
        match self.repos.reclaims().put_invalid(&m).await {
            Ok(()) => Outcome::Invalid(error),
            // not recorded: keep the message (SQS redelivers, then the DLQ keeps it)
            Err(e) => Outcome::Retry(format!("could not record an invalid message: {e}")),
        }
    }

    /// Claims the request (one record per request id, one delivery at a time by lease), runs
    /// its steps, and records the outcome.
    async fn execute(
        &self,
        req: ReclaimRequest,
        owner: &str,
        sender_id: Option<&str>,
        stats: &ApiStats,
        seen: &mut (Option<Provider>, Option<String>),
    ) -> Result<Outcome, ReclaimError> {
        let now = Utc::now();
        let Some(profile) = self.repos.profiles().get(&req.profile_id).await? else {
            return Ok(Outcome::Invalid(format!(
                "profile {} does not exist",
                req.profile_id
            )));
        };
        seen.0 = Some(profile.provider);
        let reclaims = self.repos.reclaims();
        let mut fresh = ReclaimRecord::new(req.clone(), profile.provider, now);
        if let Some(sender) = sender_id {
            fresh.sender_id = Some(sender.to_owned());
            if let Some(first) = fresh.steps.first_mut() {
                first.detail.push_str(&format!("; sent by {sender}"));
            }
        }
        let mut rec = if reclaims.create(&fresh).await? {
            fresh
        } else {
            match reclaims.get(&req.profile_id, &req.request_id).await? {
                Some(r) => r,
                None => return Ok(Outcome::Retry("request record vanished".into())),
            }
        };
        if rec.status.is_final() {
            tracing::info!(request_id = %req.request_id, status = rec.status.as_str(), "redelivered request already finished; nothing to do");
            return Ok(Outcome::AlreadyFinished(rec.status));
        }
        if rec.request != req {
            tracing::warn!(request_id = %req.request_id, "a different message reuses this request id; ignored");
            return Ok(Outcome::Invalid(format!(
                "request id {} is already used by a different request",
                req.request_id
            )));
        }
        if let (Some(until), Some(holder)) = (rec.lease_until, rec.lease_owner.as_deref()) {
            if until > now && holder != owner {
                return Ok(Outcome::Retry(
                    "another delivery of this request is executing it".into(),
                ));
            }
        }
        rec.lease_until = Some(now + LEASE);
        rec.lease_owner = Some(owner.to_owned());
        rec.deliveries += 1;
        match reclaims.save(&mut rec).await {
            Ok(()) => {}
            Err(StoreError::Conflict(m)) => return Ok(Outcome::Retry(m)),
            Err(e) => return Err(e.into()),
        }

        let admitted = if rec.status == ReclaimStatus::Received {
            self.admit(&profile, &mut rec).await
        } else {
            Ok(())
        };
        let ran = match admitted {
            // refused at admission: the provider is not even opened
            Ok(()) if rec.status.is_final() => Ok(()),
            Ok(()) => self.run(&profile, &mut rec, stats).await,
            Err(stop) => Err(stop),
        };
        let retry = match ran {
            Ok(()) => None,
            Err(steps::Stop::Fail {
                code,
                reason,
                request_id,
            }) => {
                rec.end(ReclaimStatus::Failed, Utc::now(), code, reason, request_id);
                None
            }
            Err(steps::Stop::Retry(why)) => Some(why),
        };
        rec.lease_until = None;
        rec.lease_owner = None;
        if let Err(e) = reclaims.save(&mut rec).await {
            return Ok(Outcome::Retry(format!("could not record the outcome: {e}")));
        }
        if rec.status.is_final() {
            self.after_end(&rec).await;
        }
        log_request(&rec, retry.as_deref());
        seen.1.clone_from(&rec.reason_code);
        Ok(match retry {
            Some(why) => Outcome::Retry(why),
            None => Outcome::Finished(rec.status),
        })
    }
}

/// One structured line per request and delivery (CloudWatch Logs Insights friendly).
fn log_request(rec: &ReclaimRecord, retry: Option<&str>) {
    tracing::info!(
        provider = rec.provider.as_str(),
        profile = %rec.request.profile_id,
        request_id = %rec.request.request_id,
        user_id = %rec.request.user_id,
        dry_run = rec.request.dry_run,
        status = rec.status.as_str(),
        reason_code = rec.reason_code.as_deref(),
        deliveries = rec.deliveries,
        retry,
        "reclaim request"
    );
}

#[cfg(test)]
pub(crate) mod tests;
