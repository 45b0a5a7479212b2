//! Reclaim requests (the SQS message, schema version 1) and their recorded progress.
//!
//! The message is documented in `docs/reclaim-message.md` with a JSON Schema in
//! `docs/reclaim-message.schema.json`. `request_id` is the idempotency key: every delivery of the
//! same id is the same request, executed at most once in effect.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::RequestId;
use super::rules::Evidence;
use super::{Profile, Provider};

pub const MESSAGE_VERSION: u32 = 1;

/// What a request asks for. v1 knows one action: transfer the user's content to the transfer
/// target, then remove the user (freeing the seat).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReclaimAction {
    Reclaim,
}

/// The reclaim message, as posted on the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReclaimRequest {
    pub version: u32,
    /// Idempotency key: 1-128 of `A-Z a-z 0-9 . _ : -`.
    pub request_id: String,
    pub profile_id: String,
    /// The provider's user id (Box user id, Dropbox team_member_id).
    pub user_id: String,
    pub action: ReclaimAction,
    #[serde(default)]
    pub dry_run: bool,
    /// Who asked (a person or a system), for the audit trail.
    pub requested_by: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum MessageError {
    #[error("the message is not a valid reclaim request: {0}")]
    Json(String),
    #[error("unsupported message version {0} (this deployment reads version 1)")]
    Version(u32),
    #[error("{field} is not valid: {why}")]
    Field { field: &'static str, why: String },
}

impl ReclaimRequest {
    pub fn new(
        profile_id: &str,
        user_id: &str,
        dry_run: bool,
        requested_by: &str,
        reason: Option<String>,
    ) -> Self {
        Self {
            version: MESSAGE_VERSION,
            request_id: uuid::Uuid::new_v4().to_string(),
            profile_id: profile_id.to_owned(),
            user_id: user_id.to_owned(),
            action: ReclaimAction::Reclaim,
            dry_run,
            requested_by: requested_by.to_owned(),
            reason,
        }
    }

    /// Parses and validates a message body.
    pub fn parse(body: &str) -> Result<Self, MessageError> {
        let v: serde_json::Value =
            serde_json::from_str(body).map_err(|e| MessageError::Json(e.to_string()))?;
        // the version first: a newer producer gets "unsupported version", not a field error
        match v.get("version").and_then(serde_json::Value::as_u64) {
            Some(n) if n != u64::from(MESSAGE_VERSION) => {
                return Err(MessageError::Version(u32::try_from(n).unwrap_or(u32::MAX)))
            }
            _ => {}
        }
        let r: Self = serde_json::from_value(v).map_err(|e| MessageError::Json(e.to_string()))?;
        r.validate()?;
        Ok(r)
    }

    pub fn validate(&self) -> Result<(), MessageError> {
        if self.version != MESSAGE_VERSION {
            return Err(MessageError::Version(self.version));
        }
        let field = |field, why: &str| MessageError::Field {
            field,
            why: why.to_owned(),
        };
        // The ids' rules live with their newtypes; the fields stay strings for the wire format.
        RequestId::parse(&self.request_id).map_err(|e| field("request_id", e.rule))?;
        Profile::validate_id(&self.profile_id).map_err(|e| MessageError::Field {
            field: "profile_id",
            why: e.to_string(),
        })?;
        let user_ok = !self.user_id.is_empty()
            && self.user_id.len() <= 128
            && self
                .user_id
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'#');
        if !user_ok {
            return Err(field(
                "user_id",
                "use the provider's user id (1-128 printable characters, no '#')",
            ));
        }
        if self.requested_by.trim().is_empty() || self.requested_by.len() > 256 {
            return Err(field("requested_by", "say who asked (1-256 characters)"));
        }
        if self.reason.as_ref().is_some_and(|r| r.len() > 1024) {
            return Err(field("reason", "at most 1024 characters"));
        }
        Ok(())
    }
}

/// Where a request stands. Steps only move forward; the last four are final (`restored` is
/// also reached from `done`, when a removed Dropbox member is recovered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReclaimStatus {
    Received,
    /// The user was re-read and still qualifies; the plan is fixed.
    Verified,
    /// Undo window: the suspension was sent (its outcome not yet recorded).
    Suspending,
    /// Undo window: the user is suspended (keeps the seat, cannot use it) until `remove_after`;
    /// then the same request continues with the removal.
    Suspended,
    /// Box: the content transfer was sent (its outcome not yet recorded).
    Transferring,
    /// Box: the content now belongs to the transfer target.
    Transferred,
    /// The removal was sent (Dropbox: its job id is recorded as soon as it is known).
    Removing,
    Removed,
    Done,
    Skipped,
    Failed,
    /// `seatctl restore` gave the seat back: unsuspended during the undo window, or (Dropbox)
    /// recovered after the removal.
    Restored,
}

impl ReclaimStatus {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Done | Self::Skipped | Self::Failed | Self::Restored
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Verified => "verified",
            Self::Suspending => "suspending",
            Self::Suspended => "suspended",
            Self::Transferring => "transferring",
            Self::Transferred => "transferred",
            Self::Removing => "removing",
            Self::Removed => "removed",
            Self::Done => "done",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
            Self::Restored => "restored",
        }
    }
}

/// One recorded step of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub status: ReclaimStatus,
    pub at: DateTime<Utc>,
    pub detail: String,
    /// The provider's request id for the call this step made, when it sent one.
    #[serde(default)]
    pub provider_request_id: Option<String>,
}

/// The audit record of one request (one item per request id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReclaimRecord {
    pub request: ReclaimRequest,
    pub provider: Provider,
    pub status: ReclaimStatus,
    pub steps: Vec<Step>,
    /// Why it ended skipped or failed (a stable code, e.g. `active_since_request`).
    #[serde(default)]
    pub reason_code: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    /// The evidence the decision was taken on (at verification).
    #[serde(default)]
    pub evidence: Option<Evidence>,
    #[serde(default)]
    pub login: Option<String>,
    /// Who receives the content.
    #[serde(default)]
    pub transfer_target: Option<String>,
    /// Box: the folder the transfer created in the target's account.
    #[serde(default)]
    pub transfer_folder_id: Option<String>,
    /// Dropbox: the removal job, polled on redelivery instead of removing again.
    #[serde(default)]
    pub async_job_id: Option<String>,
    #[serde(default)]
    pub plan: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How many deliveries worked on it.
    pub deliveries: u32,
    /// Optimistic concurrency: every write checks and bumps it.
    pub version: u64,
    /// A delivery working on the request holds it until then (a crashed one lets go by itself).
    #[serde(default)]
    pub lease_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub lease_owner: Option<String>,
    /// The SQS `SenderId` of the message that created the record (the IAM principal that sent
    /// it), for the audit trail.
    #[serde(default)]
    pub sender_id: Option<String>,
    /// Box: after a transfer answered, the removal was refused because the user still owned
    /// content (the transfer continues in the background at Box): the removal is tried again
    /// from this instant on; a redelivery before it does nothing.
    #[serde(default)]
    pub next_check_at: Option<DateTime<Utc>>,
    /// How many such refusals were waited out so far.
    #[serde(default)]
    pub content_checks: u32,
    /// Undo window: when the user was suspended…
    #[serde(default)]
    pub suspended_at: Option<DateTime<Utc>>,
    /// …and from when the removal continues (a delivery before it does nothing).
    #[serde(default)]
    pub remove_after: Option<DateTime<Utc>>,
    /// The user was already suspended before seatkeeper suspended them (an admin did it):
    /// neither `seatctl restore` nor an automatic give-back after a refusal or failure may
    /// unsuspend them.
    #[serde(default)]
    pub suspended_before: bool,
}

impl ReclaimRecord {
    pub fn new(request: ReclaimRequest, provider: Provider, now: DateTime<Utc>) -> Self {
        let detail = format!(
            "requested by {}{}{}",
            request.requested_by,
            request
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default(),
            if request.dry_run { " (dry run)" } else { "" }
        );
        Self {
            request,
            provider,
            status: ReclaimStatus::Received,
            steps: vec![Step {
                status: ReclaimStatus::Received,
                at: now,
                detail,
                provider_request_id: None,
            }],
            reason_code: None,
            reason: None,
            evidence: None,
            login: None,
            transfer_target: None,
            transfer_folder_id: None,
            async_job_id: None,
            plan: None,
            created_at: now,
            updated_at: now,
            deliveries: 0,
            version: 0,
            lease_until: None,
            lease_owner: None,
            sender_id: None,
            next_check_at: None,
            content_checks: 0,
            suspended_at: None,
            remove_after: None,
            suspended_before: false,
        }
    }

    /// Records a step (forward only; a final status is never left).
    pub fn step(
        &mut self,
        status: ReclaimStatus,
        now: DateTime<Utc>,
        detail: impl Into<String>,
        provider_request_id: Option<String>,
    ) {
        debug_assert!(!self.status.is_final());
        self.status = status;
        self.updated_at = now;
        self.steps.push(Step {
            status,
            at: now,
            detail: detail.into(),
            provider_request_id,
        });
    }

    /// Ends the request as skipped or failed with a stable code and a sentence.
    pub fn end(
        &mut self,
        status: ReclaimStatus,
        now: DateTime<Utc>,
        code: &str,
        reason: impl Into<String>,
        provider_request_id: Option<String>,
    ) {
        let reason = reason.into();
        self.reason_code = Some(code.to_owned());
        self.reason = Some(reason.clone());
        self.step(
            status,
            now,
            format!("{code}: {reason}"),
            provider_request_id,
        );
    }

    /// Records a restore (`seatctl restore`): from the undo window, after a removal whose seat
    /// the provider gave back, or after a request that ended while the user was suspended. The
    /// only step that may follow a final one (`done`, `failed`, `skipped`).
    pub fn restored(
        &mut self,
        now: DateTime<Utc>,
        detail: impl Into<String>,
        provider_request_id: Option<String>,
    ) {
        self.status = ReclaimStatus::Restored;
        self.updated_at = now;
        self.steps.push(Step {
            status: ReclaimStatus::Restored,
            at: now,
            detail: detail.into(),
            provider_request_id,
        });
    }

    /// In the undo window: suspended (or being suspended), nothing removed yet.
    pub fn in_undo_window(&self) -> bool {
        matches!(
            self.status,
            ReclaimStatus::Suspending | ReclaimStatus::Suspended
        )
    }

    /// The user was suspended by this request and nothing was removed: they may still be
    /// suspended, whatever the request's end (a failure after the window, a crash).
    pub fn suspended_not_removed(&self) -> bool {
        self.suspended_at.is_some()
            && !self.reached(ReclaimStatus::Removed)
            && !self.reached(ReclaimStatus::Done)
    }

    pub fn reached(&self, status: ReclaimStatus) -> bool {
        self.steps.iter().any(|s| s.status == status)
    }
}

/// The approval of one reclaim request, written before the request is posted: by `seatctl
/// approve` / `seatctl reclaim` with the operator's identity, or by the sync in `auto` mode. In
/// `report` and `approve` mode the reclaim function acts only on a request whose approval exists
/// and names the same user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub profile_id: String,
    pub request_id: String,
    pub user_id: String,
    /// Who approved (the operator, or `seatkeeper auto mode`).
    pub approved_by: String,
    pub approved_at: DateTime<Utc>,
    /// How it was approved: `seatctl approve`, `seatctl reclaim` or `auto`.
    pub source: String,
    /// An approval of a dry run does not authorise a real reclaim.
    #[serde(default)]
    pub dry_run: bool,
}

impl Approval {
    pub fn for_request(r: &ReclaimRequest, source: &str, now: DateTime<Utc>) -> Self {
        Self {
            profile_id: r.profile_id.clone(),
            request_id: r.request_id.clone(),
            user_id: r.user_id.clone(),
            approved_by: r.requested_by.clone(),
            approved_at: now,
            source: source.to_owned(),
            dry_run: r.dry_run,
        }
    }

    /// Whether this approval authorises `r` (same profile, request, user; not a dry run's
    /// approval for a real request).
    pub fn covers(&self, r: &ReclaimRequest) -> bool {
        self.profile_id == r.profile_id
            && self.request_id == r.request_id
            && self.user_id == r.user_id
            && (r.dry_run || !self.dry_run)
    }
}

/// A queue message that was not a valid reclaim request: recorded, then acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidMessage {
    pub message_id: String,
    pub received_at: DateTime<Utc>,
    pub error: String,
    /// The body as received (first 4 KiB), so the sender can see what was wrong.
    pub body_excerpt: String,
    pub body_bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"version":1,"request_id":"b7c1f0e2-1","profile_id":"acme-box","user_id":"12345","action":"reclaim","dry_run":true,"requested_by":"alice@example.com","reason":"no login for 94 days"}"#;

    #[test]
    fn a_valid_message_parses() {
        let r = ReclaimRequest::parse(GOOD).unwrap();
        assert_eq!(r.user_id, "12345");
        assert!(r.dry_run);
        assert_eq!(r.action, ReclaimAction::Reclaim);
        // round trip is the same message
        let again = ReclaimRequest::parse(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn bad_messages_get_clear_errors() {
        assert!(matches!(
            ReclaimRequest::parse("not json"),
            Err(MessageError::Json(_))
        ));
        assert!(matches!(
            ReclaimRequest::parse(&GOOD.replace("\"version\":1", "\"version\":2")),
            Err(MessageError::Version(2))
        ));
        let e = ReclaimRequest::parse(&GOOD.replace("\"reclaim\"", "\"delete_everything\""))
            .unwrap_err();
        assert!(matches!(e, MessageError::Json(_)), "{e}");
        let e = ReclaimRequest::parse(&GOOD.replace("b7c1f0e2-1", "bad id!")).unwrap_err();
        assert!(e.to_string().contains("request_id"), "{e}");
        let e = ReclaimRequest::parse(&GOOD.replace("acme-box", "Acme Box")).unwrap_err();
        assert!(e.to_string().contains("profile_id"), "{e}");
        let e = ReclaimRequest::parse(&GOOD.replace("\"12345\"", "\"\"")).unwrap_err();
        assert!(e.to_string().contains("user_id"), "{e}");
        let e = ReclaimRequest::parse(&GOOD.replace("\"dry_run\"", "\"force\"")).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let e = ReclaimRequest::parse(&GOOD.replace("alice@example.com", " ")).unwrap_err();
        assert!(e.to_string().contains("requested_by"), "{e}");
    }

    #[test]
    fn the_documented_example_is_valid() {
        let doc = include_str!("../../../docs/reclaim-message.example.json");
        ReclaimRequest::parse(doc).unwrap();
    }

    #[test]
    fn records_move_forward_and_end_with_a_reason() {
        let now = Utc::now();
        let mut r = ReclaimRecord::new(ReclaimRequest::parse(GOOD).unwrap(), Provider::Box, now);
        assert_eq!(r.status, ReclaimStatus::Received);
        assert!(r.steps[0].detail.contains("alice@example.com"));
        r.step(ReclaimStatus::Verified, now, "still inactive", None);
        r.end(
            ReclaimStatus::Skipped,
            now,
            "active_since_request",
            "logged in",
            None,
        );
        assert!(r.status.is_final());
        assert!(r.reached(ReclaimStatus::Verified));
        assert_eq!(r.reason_code.as_deref(), Some("active_since_request"));
        assert_eq!(r.steps.len(), 3);
    }
}
