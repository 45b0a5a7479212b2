//! The keep page's service: what a link shows ([`inspect`], read-only: mail scanners prefetch
//! links) and the keep itself ([`keep`]: the token consumed, the keep written and the notice
//! marked kept in one atomic write, then the candidate dropped from the list).
use chrono::{DateTime, Utc};

use crate::domain::notice::{describe_activity, token_digest, token_well_formed};
use crate::domain::{Keep, KeepSource, Notice, NoticeState};
use crate::ports::{KeepOutcome, NoticeRepo, ProfileRepo, Repos, SeatRepo, StoreError};

pub use crate::domain::keep::MAX_REASON_CHARS;

/// Why a link cannot be used. The page says which, and nothing about the user behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepRefusal {
    /// No token, or not one seatkeeper could have issued (tampered, truncated).
    Malformed,
    /// Well-formed but unknown (forged, or cleaned up long after expiry).
    Unknown,
    Used,
    Expired,
    /// The notice no longer waits for an answer (kept already, cancelled, due, requested).
    Closed,
    /// A reclaim of this seat is already under way (an operator approved it before the due
    /// date): a keep now could not stop it, so none is accepted.
    InProgress,
}

impl KeepRefusal {
    pub fn status(self) -> u16 {
        match self {
            Self::Malformed => 400,
            Self::Unknown => 404,
            Self::Used | Self::Closed | Self::InProgress => 409,
            Self::Expired => 410,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::Malformed => "This link is incomplete or damaged. Open the link from the email exactly as it was sent.",
            Self::Unknown => "This link is not valid. Nothing was changed.",
            Self::Used => "This link was already used. Nothing was changed; the earlier answer stands.",
            Self::Expired => "This link has expired. Nothing was changed; ask your IT administrator if you still need the license.",
            Self::Closed => "This notice no longer waits for an answer. Nothing was changed.",
            Self::InProgress => "A reclaim of this license is already under way, so it can no longer be kept from here. Nothing was changed; contact your IT administrator.",
        }
    }
}

/// What the keep page shows about the notice behind a valid link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepView {
    pub name: String,
    pub login: String,
    pub license_type: String,
    /// The last activity in words, with its evidence.
    pub last_activity: String,
    pub due_at: DateTime<Utc>,
}

impl KeepView {
    fn of(n: &Notice, due_at: DateTime<Utc>) -> Self {
        Self {
            name: n.name.clone(),
            login: n.login.clone(),
            license_type: n.license_type.clone(),
            last_activity: describe_activity(&n.evidence),
            due_at,
        }
    }
}

/// The notice a token opens, if it may be used now. Reads only.
async fn open<R: Repos>(
    repos: &R,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<(String, Notice, DateTime<Utc>), KeepRefusal>, StoreError> {
    if !token_well_formed(token) {
        return Ok(Err(KeepRefusal::Malformed));
    }
    let digest = token_digest(token);
    let Some(t) = repos.notices().get_token(&digest).await? else {
        return Ok(Err(KeepRefusal::Unknown));
    };
    if t.used_at.is_some() {
        return Ok(Err(KeepRefusal::Used));
    }
    if now >= t.expires_at {
        return Ok(Err(KeepRefusal::Expired));
    }
    let Some(n) = repos
        .notices()
        .get_notice(&t.profile_id, &t.user_id, &t.candidacy)
        .await?
    else {
        return Ok(Err(KeepRefusal::Unknown));
    };
    if !matches!(n.state, NoticeState::Sent | NoticeState::Pending) {
        return Ok(Err(if n.state == NoticeState::Kept {
            KeepRefusal::Used
        } else {
            KeepRefusal::Closed
        }));
    }
    // the reclaim function checks keeps only when it verifies: a request already on its way
    // (approved by an operator before the due date) would not see this one
    let requested = repos
        .seats()
        .get_candidate(&n.profile_id, &n.user_id)
        .await?
        .is_some_and(|c| c.request_id.is_some());
    if requested {
        return Ok(Err(KeepRefusal::InProgress));
    }
    Ok(Ok((digest, n, t.expires_at)))
}

/// GET: who and what the link is about. Changes nothing.
pub async fn inspect<R: Repos>(
    repos: &R,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<KeepView, KeepRefusal>, StoreError> {
    Ok(open(repos, token, now)
        .await?
        .map(|(_, n, due)| KeepView::of(&n, due)))
}

/// POST: records the keep for the profile's `keep_days`, with the reason the user typed.
pub async fn keep<R: Repos>(
    repos: &R,
    token: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Result<(Keep, KeepView), KeepRefusal>, StoreError> {
    let (digest, n, due) = match open(repos, token, now).await? {
        Ok(x) => x,
        Err(r) => return Ok(Err(r)),
    };
    let Some(profile) = repos.profiles().get(&n.profile_id).await? else {
        return Ok(Err(KeepRefusal::Closed));
    };
    // by: the user's login, the only identity the link proves
    let keep = Keep::new(
        &n.profile_id,
        &n.user_id,
        &n.login,
        now,
        profile.rules.keep_days,
        reason,
        &n.login,
        KeepSource::KeepPage,
    )
    .with_candidacy(n.candidacy.clone());
    match repos.notices().keep(&digest, &keep, now).await? {
        KeepOutcome::Kept => {
            // off the list now rather than at the next sync (whose refresh honours the keep);
            // the keep is recorded either way, so a failure here must not read as "try again"
            if let Err(e) = repos
                .seats()
                .delete_candidate(&n.profile_id, &n.user_id)
                .await
            {
                tracing::warn!(profile = %n.profile_id, user = %n.user_id, error = %e, "keep recorded; the candidate leaves the list at the next sync");
            }
            tracing::info!(profile = %n.profile_id, user = %n.user_id, until = %keep.until, "license kept by the user");
            Ok(Ok((keep, KeepView::of(&n, due))))
        }
        // lost a race (another click, the due date, the sync): say what stands now
        KeepOutcome::Refused => Ok(Err(match open(repos, token, now).await? {
            Err(r) => r,
            Ok(_) => KeepRefusal::Used,
        })),
    }
}
