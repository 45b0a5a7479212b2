//! Reclamation: candidates after each finished sync ([`candidates`]) and the execution of reclaim
//! requests ([`Reclaimer`]), for Box ([`box_steps`]) and Dropbox ([`dropbox_steps`]).
//!
//! A request is claimed with a conditional write, then moves through recorded steps
//! (received → verified → [transferring → transferred →] removing → removed → done, or skipped /
//! failed with a reason). Each step is saved before the provider call it announces, so a
//! redelivery after a crash resumes from the record: a finished request is a no-op, a Box
//! transfer whose outcome is unknown is probed (a delete without `force` succeeds only if the
//! content already moved) instead of repeated, and a Dropbox removal job is polled by its
//! recorded id instead of removing again.
pub mod candidates;

mod box_steps;
mod dropbox_steps;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use thiserror::Error;

use crate::domain::rules::{evaluate, Exemption, SeatFacts, Verdict};
use crate::domain::{
    LoginEvidence, Profile, Provider, ReclaimRecord, ReclaimRequest, ReclaimStatus, Seat,
};
use crate::http::{ApiStats, ApiStatsSnapshot, ProviderError};
use crate::providers::box_api::BoxClient;
use crate::providers::dropbox_api::DropboxClient;
use crate::queue::QueueError;
use crate::secrets::{SecretError, SecretStore};
use crate::store::{InvalidMessage, Store, StoreError};

/// A delivery holds a request this long (longer than the function may run), so a crashed one
/// lets go on its own and a concurrent duplicate waits.
const LEASE: chrono::Duration = chrono::Duration::minutes(16);

#[derive(Debug, Error)]
pub enum ReclaimError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{0}")]
    Invalid(String),
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
}

/// How long a Dropbox removal job is polled within one delivery before handing it back to SQS.
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

/// Executes reclaim requests. Built once per container.
pub struct Reclaimer {
    pub store: Store,
    pub secrets: SecretStore,
    pub box_client: BoxClient,
    pub dropbox_client: DropboxClient,
    pub poll: JobPoll,
}

/// Why a step stopped.
#[derive(Debug)]
enum Stop {
    /// Leave it to a redelivery.
    Retry(String),
    /// Permanent: record as failed.
    Fail {
        code: &'static str,
        reason: String,
        request_id: Option<String>,
    },
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Retry(e.to_string())
    }
}

impl From<SecretError> for Stop {
    fn from(e: SecretError) -> Self {
        match e {
            SecretError::NotFound { .. } | SecretError::BadShape { .. } => Stop::Fail {
                code: "credentials_missing",
                reason: e.to_string(),
                request_id: None,
            },
            other => Stop::Retry(other.to_string()),
        }
    }
}

impl Stop {
    /// A provider error: transient and unknown outcomes are retried by redelivery; anything
    /// else the provider refused is permanent.
    fn provider(code: &'static str, e: ProviderError) -> Self {
        if e.is_transient()
            || matches!(
                e,
                ProviderError::Indeterminate { .. } | ProviderError::Unauthorized { .. }
            )
        {
            Stop::Retry(e.to_string())
        } else {
            Stop::Fail {
                code,
                request_id: e.request_id().map(str::to_owned),
                reason: e.to_string(),
            }
        }
    }
}

type StepResult = Result<(), Stop>;

/// What the verification found about the user, provider-neutral.
struct Fresh<'a> {
    seat: &'a Seat,
    login: String,
    status: String,
    is_admin: bool,
    created_at: Option<DateTime<Utc>>,
    /// The newest login on record or just read from the provider.
    last_login: Option<LoginEvidence>,
    target: String,
    plan: String,
}

impl Reclaimer {
    /// Handles one queue message. Never panics; every path is recorded. `owner` names this
    /// delivery (the invocation's request id) for the request's lease.
    pub async fn process(&self, message_id: &str, body: &str, owner: &str) -> Processed {
        let stats = ApiStats::default();
        let (outcome, profile_id, dry_run) = match ReclaimRequest::parse(body) {
            Ok(req) => {
                let (profile, dry_run) = (req.profile_id.clone(), req.dry_run);
                let outcome = match self.execute(req, owner, &stats).await {
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
        match self.store.put_invalid_message(&m).await {
            Ok(()) => Outcome::Invalid(error),
            // not recorded: keep the message (SQS redelivers, then the DLQ keeps it)
            Err(e) => Outcome::Retry(format!("could not record an invalid message: {e}")),
        }
    }

    async fn execute(
        &self,
        req: ReclaimRequest,
        owner: &str,
        stats: &ApiStats,
    ) -> Result<Outcome, ReclaimError> {
        let now = Utc::now();
        let Some(profile) = self.store.get_profile(&req.profile_id).await? else {
            return Ok(Outcome::Invalid(format!(
                "profile {} does not exist",
                req.profile_id
            )));
        };
        let fresh = ReclaimRecord::new(req.clone(), profile.provider, now);
        let mut rec = if self.store.create_reclaim(&fresh).await? {
            fresh
        } else {
            match self
                .store
                .get_reclaim(&req.profile_id, &req.request_id)
                .await?
            {
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
        match self.store.save_reclaim(&mut rec).await {
            Ok(()) => {}
            Err(StoreError::Conflict(m)) => return Ok(Outcome::Retry(m)),
            Err(e) => return Err(e.into()),
        }

        let result = match profile.provider {
            Provider::Box => self.run_box(&profile, &mut rec, stats).await,
            Provider::Dropbox => self.run_dropbox(&profile, &mut rec, stats).await,
        };
        let retry = match result {
            Ok(()) => None,
            Err(Stop::Fail {
                code,
                reason,
                request_id,
            }) => {
                rec.end(ReclaimStatus::Failed, Utc::now(), code, reason, request_id);
                None
            }
            Err(Stop::Retry(why)) => Some(why),
        };
        rec.lease_until = None;
        rec.lease_owner = None;
        if let Err(e) = self.store.save_reclaim(&mut rec).await {
            return Ok(Outcome::Retry(format!("could not record the outcome: {e}")));
        }
        log_request(&rec, retry.as_deref());
        Ok(match retry {
            Some(why) => Outcome::Retry(why),
            None => Outcome::Finished(rec.status),
        })
    }

    /// Saves a step before the provider call it announces.
    async fn save(&self, rec: &mut ReclaimRecord) -> StepResult {
        self.store.save_reclaim(rec).await.map_err(Stop::from)
    }

    /// The seat as last synced; a request for a seat seatkeeper never saw (or saw leave) is not
    /// executed: there is no evidence to act on.
    async fn synced_seat(
        &self,
        profile: &Profile,
        rec: &mut ReclaimRecord,
    ) -> Result<Option<Seat>, Stop> {
        let seat = self
            .store
            .get_seat(&profile.id, &rec.request.user_id)
            .await?;
        match seat {
            Some(s) if s.removed_at.is_none() => Ok(Some(s)),
            _ => {
                rec.end(
                    ReclaimStatus::Skipped,
                    Utc::now(),
                    "unknown_seat",
                    "the user is not a seat in the profile's last finished sync (run a sync first)",
                    None,
                );
                Ok(None)
            }
        }
    }

    /// Kill switch, checked before every step that changes something at the provider.
    fn paused(profile: &Profile, rec: &mut ReclaimRecord) -> bool {
        if profile.rules.paused {
            rec.end(
                ReclaimStatus::Skipped,
                Utc::now(),
                "profile_paused",
                "reclamation is paused for this profile (seatctl resume to allow it)",
                None,
            );
        }
        profile.rules.paused
    }

    /// Applies the rules to the freshly re-read user; on success records the evidence and the
    /// plan (and ends a dry run), else ends the request as skipped with the reason.
    async fn decide(&self, profile: &Profile, rec: &mut ReclaimRecord, f: Fresh<'_>) -> StepResult {
        let now = Utc::now();
        let facts = SeatFacts {
            user_id: &f.seat.user_id,
            login: &f.login,
            status: &f.status,
            is_admin: f.is_admin,
            license_type: &f.seat.license_type,
            created_at: f.created_at.or(f.seat.created_at),
            first_seen_at: f.seat.first_seen_at,
            last_login: f.last_login.as_ref(),
        };
        rec.login = Some(f.login.clone());
        rec.transfer_target = Some(f.target.clone());
        let verdict = evaluate(
            &facts,
            &profile.rules,
            profile.reclaimable(&f.seat.license_type),
            Some(&f.target),
            now,
        );
        let (code, reason) = match verdict {
            Verdict::Candidate(evidence) => {
                rec.evidence = Some(evidence);
                rec.plan = Some(f.plan);
                if rec.request.dry_run {
                    rec.reason_code = Some("dry_run".into());
                    rec.step(
                        ReclaimStatus::Done,
                        now,
                        format!(
                            "dry run: nothing changed at the provider; would {}",
                            rec.plan.as_deref().unwrap_or_default()
                        ),
                        None,
                    );
                    return Ok(());
                }
                let cap = profile.rules.cap(
                    candidates::seat_count(&self.store, &profile.id)
                        .await
                        .map_err(|e| Stop::Retry(e.to_string()))?,
                );
                let day = now.format("%Y-%m-%d").to_string();
                if !self.store.count_reclaim(&profile.id, &day, cap).await? {
                    rec.end(
                        ReclaimStatus::Skipped,
                        now,
                        "blast_radius_cap",
                        format!("the profile's cap of {cap} reclaims per day is reached"),
                        None,
                    );
                    return Ok(());
                }
                let detail = format!(
                    "still qualifies: {}; plan: {}",
                    describe_login(rec.evidence.as_ref().and_then(|e| e.last_login.as_ref())),
                    rec.plan.as_deref().unwrap_or_default()
                );
                rec.step(ReclaimStatus::Verified, now, detail, None);
                return self.save(rec).await;
            }
            Verdict::Active { last_login } => (
                "active_since_request",
                format!(
                    "the user logged in on {} (within {} days): {}",
                    last_login.format("%Y-%m-%d %H:%M UTC"),
                    profile.rules.inactive_days,
                    describe_login(f.last_login.as_ref())
                ),
            ),
            Verdict::InGrace { since } => (
                "in_grace",
                format!(
                    "the account is new or recent ({})",
                    since.format("%Y-%m-%d")
                ),
            ),
            Verdict::Exempt(x) => (exemption_code(x), format!("refused: {}", x.reason())),
            Verdict::OutOfScope => (
                "license_type_out_of_scope",
                format!(
                    "license type {} is not in the rules' scope",
                    f.seat.license_type
                ),
            ),
        };
        rec.end(ReclaimStatus::Skipped, now, code, reason, None);
        Ok(())
    }

    /// The last step: the seat records that it was reclaimed, and its candidate entry goes.
    async fn finish(&self, profile: &Profile, rec: &mut ReclaimRecord) -> StepResult {
        let now = Utc::now();
        self.store
            .mark_seat_reclaimed(
                &profile.id,
                &rec.request.user_id,
                &rec.request.request_id,
                now,
            )
            .await?;
        self.store
            .delete_candidate(&profile.id, &rec.request.user_id)
            .await?;
        rec.step(ReclaimStatus::Done, now, "seat reclaimed", None);
        Ok(())
    }
}

/// The newest login of `user_id` in pages of (user id, evidence): the freshest activity the
/// provider has, read just before acting.
async fn newest_login<S>(pages: S, user_id: &str) -> Result<Option<LoginEvidence>, Stop>
where
    S: futures::Stream<Item = Result<Vec<(String, LoginEvidence)>, ProviderError>>,
{
    use futures::TryStreamExt;
    futures::pin_mut!(pages);
    let mut newest: Option<LoginEvidence> = None;
    while let Some(page) = pages
        .try_next()
        .await
        .map_err(|e| Stop::provider("provider_error", e))?
    {
        for (user, ev) in page {
            if user == user_id {
                newest = LoginEvidence::newest(newest.as_ref(), Some(&ev)).cloned();
            }
        }
    }
    Ok(newest)
}

fn exemption_code(x: Exemption) -> &'static str {
    match x {
        Exemption::Admin => "refused_admin",
        Exemption::TransferTarget => "refused_transfer_target",
        Exemption::ExemptLogin => "refused_exempt_login",
        Exemption::ProtectedStatus => "refused_protected_status",
        Exemption::NeverLoggedIn => "refused_never_logged_in",
    }
}

fn describe_login(l: Option<&LoginEvidence>) -> String {
    match l {
        Some(l) => format!(
            "last login {} ({} event {})",
            l.at.format("%Y-%m-%d %H:%M UTC"),
            l.event_type,
            l.event_id
        ),
        None => "no login on record".to_owned(),
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
