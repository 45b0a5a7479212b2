//! The undo window (`removal: suspend-first`): what the sync does when a window ends, and
//! `seatctl restore`.
//!
//! A reclaim in `suspend-first` mode stops at `suspended` (the user cannot sign in; content and
//! seat stay) and is acknowledged. When `remove_after` has passed, the sync's Reclamation task
//! re-posts the same request ([`repost_due`]; same request id, so it is the same request), and
//! the reclaim function re-checks the user and continues with the removal. Until then, or for a
//! Dropbox member within the provider's recovery days after it, [`restore`] gives the seat
//! back. See `docs/undo.md`.
use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::domain::keep::{Keep, KeepSource};
use crate::domain::{Profile, Provider, ReclaimRecord, ReclaimStatus};
use crate::http::{ApiStats, ProviderError};
use crate::ports::{
    AccessChange, AccessError, AccessOutcome, Deprovisioner, ProfileRepo, ProviderAccess,
    QueueError, ReclaimRepo, Refusal, Repos, RequestQueue, SeatRepo, StoreError,
};

/// How long `seatctl restore` holds a request (it makes one or two provider calls).
const RESTORE_LEASE: chrono::Duration = chrono::Duration::minutes(5);

/// The requests whose undo window has ended at `now` (suspended, `remove_after` passed).
pub fn due(records: &[ReclaimRecord], now: DateTime<Utc>) -> Vec<&ReclaimRecord> {
    records
        .iter()
        .filter(|r| {
            r.status == ReclaimStatus::Suspended && r.remove_after.is_some_and(|a| a <= now)
        })
        .collect()
}

/// Re-posts every request of the profile whose undo window has ended, and says so in the
/// Reclamation task's `detail`. Nothing while the profile is paused (the requests stay
/// suspended). A queue failure is reported in `detail` and retried by the next sync: the
/// request stays `suspended` until a delivery removes the seat.
pub async fn repost_due<R: Repos>(
    repos: &R,
    queue: Option<&impl RequestQueue>,
    profile: &Profile,
    now: DateTime<Utc>,
    detail: &mut String,
) -> Result<(), StoreError> {
    if profile.rules.paused {
        return Ok(());
    }
    let records = repos.reclaims().list(&profile.id).await?;
    let due = due(&records, now);
    if due.is_empty() {
        return Ok(());
    }
    let Some(queue) = queue else {
        detail.push_str(&format!(
            "; {} undo window(s) ended, not re-posted: {}",
            due.len(),
            QueueError::NotConfigured
        ));
        return Ok(());
    };
    let mut sent = 0;
    let mut failed = None;
    for r in &due {
        match queue.send(&r.request).await {
            Ok(_) => sent += 1,
            Err(e) => {
                tracing::warn!(request_id = %r.request.request_id, error = %e, "could not re-post a request whose undo window ended; the next sync tries again");
                failed = Some(e.to_string());
            }
        }
    }
    detail.push_str(&format!(
        "; {} undo window(s) ended: {sent} request(s) re-posted for removal",
        due.len()
    ));
    if let Some(e) = failed {
        detail.push_str(&format!(
            " ({} not re-posted: {e}; the next sync tries again)",
            due.len() - sent
        ));
    }
    Ok(())
}

/// What `seatctl restore` asks.
#[derive(Debug, Clone)]
pub struct RestoreArgs {
    pub profile_id: String,
    /// The provider's user id or the login.
    pub user: String,
    /// The operator, for the audit trail and the keep.
    pub by: String,
    pub reason: Option<String>,
}

/// A restore that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore {
    pub request_id: String,
    pub user_id: String,
    pub login: String,
    pub provider: Provider,
    /// Recovered after the removal (Dropbox), rather than unsuspended in the window.
    pub recovered: bool,
    /// The transfer target that received the files at the removal (recovered only).
    pub files_with: Option<String>,
    /// What the provider said (also the audit step).
    pub detail: String,
    /// The user is exempt from the rules until then (the keep).
    pub kept_until: DateTime<Utc>,
}

#[derive(Debug, Error)]
pub enum RestoreError {
    #[error("profile {0} does not exist")]
    NoProfile(String),
    #[error("{0}")]
    NotFound(String),
    /// Nothing was taken: the request is not (yet) past verification, or ended without a
    /// removal.
    #[error("{0}")]
    NothingToRestore(String),
    /// An admin had suspended the user before seatkeeper did: seatkeeper does not give back an
    /// access it did not take. Nothing changed.
    #[error("{0}")]
    SuspendedBefore(String),
    /// A delivery is working on the request, or a removal is under way: try again shortly.
    #[error("{0}")]
    Busy(String),
    /// What was done cannot be undone (a deleted Box user): the sentence says where the files
    /// are.
    #[error("{0}")]
    CannotBeUndone(String),
    /// The provider refused (no longer recoverable, no free license, ...): nothing changed.
    #[error("{}: {}", .0.code, .0.reason)]
    Refused(Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// The request to restore for a user given by id or login: the newest real (not dry-run) one
/// that took something (a later request refused as `duplicate_user_request` while one is in its
/// window must not hide it), else the newest real one (to say why there is nothing to do). A
/// request that ended skipped or failed after suspending the user, with nothing removed, took
/// something: the user may still be suspended.
fn newest_for<'a>(records: &'a [ReclaimRecord], user: &str) -> Option<&'a ReclaimRecord> {
    let mine: Vec<&ReclaimRecord> = records
        .iter()
        .filter(|r| !r.request.dry_run)
        .filter(|r| {
            r.request.user_id == user
                || r.login
                    .as_deref()
                    .is_some_and(|l| l.trim().eq_ignore_ascii_case(user.trim()))
        })
        .collect();
    let took = |r: &&&ReclaimRecord| {
        !matches!(r.status, ReclaimStatus::Skipped | ReclaimStatus::Failed)
            || r.suspended_not_removed()
    };
    mine.iter()
        .filter(took)
        .max_by_key(|r| r.created_at)
        .or_else(|| mine.iter().max_by_key(|r| r.created_at))
        .copied()
}

/// Gives a reclaimed seat back: during the undo window the user is unsuspended (Box:
/// reactivated); after a Dropbox removal the member is recovered while Dropbox still can. The
/// request ends `restored` with the step in its audit trail and its user lock released. A
/// deleted Box user cannot be restored: the error says where their files are.
pub async fn restore<R: Repos, P: ProviderAccess>(
    repos: &R,
    providers: &P,
    args: &RestoreArgs,
    now: DateTime<Utc>,
) -> Result<Restore, RestoreError> {
    let Some(profile) = repos.profiles().get(&args.profile_id).await? else {
        return Err(RestoreError::NoProfile(args.profile_id.clone()));
    };
    let reclaims = repos.reclaims();
    let records = reclaims.list(&profile.id).await?;
    let Some(found) = newest_for(&records, &args.user) else {
        return Err(RestoreError::NotFound(format!(
            "no reclaim of {} is recorded in profile {} (`seatctl reclaims {}` lists them)",
            args.user, profile.id, profile.id
        )));
    };
    let mut rec = reclaims
        .get(&profile.id, &found.request.request_id)
        .await?
        .ok_or_else(|| RestoreError::NotFound("the request record vanished".into()))?;
    let (id, login) = (
        rec.request.request_id.clone(),
        rec.login
            .clone()
            .unwrap_or_else(|| rec.request.user_id.clone()),
    );
    let change = match rec.status {
        ReclaimStatus::Suspending | ReclaimStatus::Suspended => AccessChange::Unsuspend,
        // ended after the suspension with nothing removed (a failed removal, a crash before
        // the give-back): the user may still be suspended
        ReclaimStatus::Skipped | ReclaimStatus::Failed if rec.suspended_not_removed() => {
            AccessChange::Unsuspend
        }
        // Dropbox recovers a removed member for a few days; Box refuses (`cannot_be_undone`)
        ReclaimStatus::Done => AccessChange::Recover,
        ReclaimStatus::Restored => {
            return Err(RestoreError::NothingToRestore(format!(
                "{login} was already restored (request {id})"
            )))
        }
        ReclaimStatus::Transferring
        | ReclaimStatus::Transferred
        | ReclaimStatus::Removing
        | ReclaimStatus::Removed => {
            return Err(RestoreError::Busy(format!(
                "the removal of {login} (request {id}) is under way ({}); try again when it has ended (`seatctl reclaims {} --request {id}`)",
                rec.status.as_str(),
                profile.id
            )))
        }
        ReclaimStatus::Received | ReclaimStatus::Verified => {
            return Err(RestoreError::Busy(format!(
                "request {id} for {login} is still being verified; nothing was changed at the provider yet: try again in a minute"
            )))
        }
        ReclaimStatus::Skipped | ReclaimStatus::Failed => {
            return Err(RestoreError::NothingToRestore(format!(
                "request {id} for {login} ended {} ({}): the seat was not taken, nothing to restore",
                rec.status.as_str(),
                rec.reason_code.as_deref().unwrap_or_default()
            )))
        }
    };
    if rec.suspended_before {
        return Err(RestoreError::SuspendedBefore(format!(
            "{login} was already suspended before seatkeeper acted (by an admin; request {id}): seatkeeper does not give back an access it did not take; nothing was changed. Unsuspend them in the {} admin console if they should have access.",
            profile.provider
        )));
    }
    // hold the request like a delivery does, so the removal cannot run while we restore
    if let (Some(until), Some(holder)) = (rec.lease_until, rec.lease_owner.as_deref()) {
        if until > now {
            return Err(RestoreError::Busy(format!(
                "a delivery ({holder}) is working on request {id}; try again in a few minutes"
            )));
        }
    }
    let owner = format!("restore:{}", args.by);
    rec.lease_until = Some(now + RESTORE_LEASE);
    rec.lease_owner = Some(owner);
    match reclaims.save(&mut rec).await {
        Ok(()) => {}
        Err(StoreError::Conflict(m)) => {
            return Err(RestoreError::Busy(format!(
                "request {id} changed while restoring ({m}); try again"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    // The keep first: if anything below fails, the user is still never taken again (a keep
    // found at the window's end gives the seat back), rather than restored and then re-picked
    // by the next sync because the keep was never written.
    let keep = Keep::new(
        &profile.id,
        &rec.request.user_id,
        &login,
        now,
        profile.rules.keep_days,
        args.reason.as_deref(),
        &args.by,
        KeepSource::Restore,
    );
    let seats = repos.seats();
    let release = |mut rec: ReclaimRecord| async move {
        rec.lease_until = None;
        rec.lease_owner = None;
        if let Err(s) = reclaims.save(&mut rec).await {
            tracing::warn!(request_id = %rec.request.request_id, error = %s, "could not release the request after a failed restore; its lease expires by itself");
        }
    };
    // what to put back if nothing is restored
    let previous = match seats.get_keep(&profile.id, &rec.request.user_id).await {
        Ok(k) => k,
        Err(e) => {
            release(rec).await;
            return Err(e.into());
        }
    };
    if let Err(e) = seats.put_keep(&keep).await {
        release(rec).await;
        return Err(e.into());
    }
    let stats = ApiStats::default();
    // `definite`: nothing was restored for sure (no call made, or the provider refused)
    let (outcome, definite) = match providers.deprovisioner(&profile).await {
        Ok(d) => match d.set_access(&rec.request.user_id, change, &stats).await {
            Ok(o) => {
                let refused = matches!(o, AccessOutcome::Refused(_));
                (Ok(o), refused)
            }
            // the outcome may be unknown: the keep stays (a repeat settles it)
            Err(e) => (Err(RestoreError::from(e)), false),
        },
        Err(e) => (Err(e.into()), true),
    };
    let done = match outcome {
        Ok(AccessOutcome::Done {
            detail, request_id, ..
        }) => Ok((detail, request_id)),
        Ok(AccessOutcome::Refused(r)) if r.code == "cannot_be_undone" => {
            Err(RestoreError::CannotBeUndone(format!(
                "{login} was removed by request {id}, and {}. Their files are in folder {} of the transfer target (user {}); create the user again and move that folder to them if they need it.",
                r.reason,
                rec.transfer_folder_id.as_deref().unwrap_or("(none recorded)"),
                rec.transfer_target.as_deref().unwrap_or("(none recorded)")
            )))
        }
        Ok(AccessOutcome::Refused(r)) => Err(RestoreError::Refused(r)),
        Err(e) => Err(e),
    };
    let (detail, request_id) = match done {
        Ok(d) => d,
        Err(e) => {
            if definite {
                // nothing restored: the keep written above goes again (or the earlier one
                // comes back)
                let undone = match &previous {
                    Some(k) => seats.put_keep(k).await,
                    None => seats.delete_keep(&profile.id, &rec.request.user_id).await,
                };
                if let Err(s) = undone {
                    tracing::warn!(request_id = %id, error = %s, "could not take back the keep of a restore that restored nothing");
                }
            }
            // or the outcome is unknown, which a repeat settles
            release(rec).await;
            return Err(e);
        }
    };
    let recovered = change == AccessChange::Recover;
    let files_with = recovered.then(|| rec.transfer_target.clone()).flatten();
    let step = format!(
        "restored by {}{}: {detail}{}",
        args.by,
        args.reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
        match &files_with {
            Some(t) => format!("; the files transferred at the removal stay with admin {t}"),
            None => String::new(),
        }
    );
    rec.restored(Utc::now(), step.clone(), request_id);
    rec.reason_code = Some("restored".into());
    rec.reason = Some(step.clone());
    rec.lease_until = None;
    rec.lease_owner = None;
    reclaims.save(&mut rec).await?;
    if let Err(e) = reclaims
        .unlock_user(&profile.id, &rec.request.user_id, &id)
        .await
    {
        tracing::warn!(request_id = %id, error = %e, "could not release the user's reclaim lock; the next request takes it over");
    }
    Ok(Restore {
        request_id: id,
        user_id: rec.request.user_id.clone(),
        login,
        provider: profile.provider,
        recovered,
        files_with,
        detail: step,
        kept_until: keep.until,
    })
}

#[cfg(test)]
mod tests;
