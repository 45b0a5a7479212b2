//! The steps of one request, for any provider: verify (re-read the user, the target and fresh
//! activity; apply the rules) → [suspend, and after the undo window re-check →] [transfer →]
//! remove → [poll the job →] done. Box transfers in a
//! step of its own before the removal; Dropbox's removal carries the transfer
//! ([`Deprovisioner::transfers_separately`]).
use chrono::{DateTime, Utc};

use super::Reclaimer;
use crate::candidates;
use crate::domain::keep::Keep;
use crate::domain::rules::{evaluate, is_suspended_status, Exemption, SeatFacts, Verdict};
use crate::domain::{
    ActivityScope, LoginEvidence, NoticeState, Profile, ReclaimMode, ReclaimRecord, ReclaimStatus,
    RemovalMode, Seat, ACTIVITY_OVERLAP,
};
use crate::http::{ApiStats, ProviderError};
use crate::ports::{
    AccessChange, AccessError, AccessOutcome, Deprovisioner, Directory, DirectoryUser, JobState,
    NoticeRepo, ProviderAccess, ReclaimRepo, Refusal, Removal, Repos, RunRepo, SeatRepo,
    StoreError, TargetCheck, UserLock, Window,
};

/// Skip codes after which the candidate is released to wait for the next auto run or
/// `seatctl approve` (the request did not judge the seat; a later one may act).
const RELEASES_CANDIDATE: [&str; 3] = [
    "blast_radius_cap",
    "profile_paused",
    "duplicate_user_request",
];

/// The code of a failed unsuspend at the end of the undo window (the user stays suspended; not
/// tried again by the give-back after a failure).
const UNSUSPEND_REFUSED: &str = "unsuspend_refused";

/// A request verified longer ago than this (by an earlier delivery: a redelivery, a request
/// waiting behind a busy provider) is verified again before anything changes at the provider.
pub(super) const REVERIFY_AFTER: chrono::Duration = chrono::Duration::minutes(5);

/// Box: after a transfer answered, a removal refused because the user still owns content (the
/// transfer continues in the background) is tried again after these waits, one per refusal;
/// the refusal after the last one ends the request `failed/delete_refused`. The message comes
/// back after the queue's visibility timeout (90 min) anyway, so the waits are mostly a floor:
/// with the first delivery and one spare for a transient error, the checks stay within the
/// queue's 5 receives (about 4.5 h in all).
pub(super) const CONTENT_RECHECKS: [chrono::Duration; 3] = [
    chrono::Duration::minutes(5),
    chrono::Duration::minutes(15),
    chrono::Duration::minutes(60),
];

/// Why a step stopped.
#[derive(Debug)]
pub(super) enum Stop {
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

impl From<Refusal> for Stop {
    fn from(r: Refusal) -> Self {
        Stop::Fail {
            code: r.code,
            reason: r.reason,
            request_id: None,
        }
    }
}

impl From<AccessError> for Stop {
    fn from(e: AccessError) -> Self {
        let fail = |code, reason| Stop::Fail {
            code,
            reason,
            request_id: None,
        };
        match e {
            AccessError::Unavailable(why) => Stop::Retry(why),
            AccessError::Provider(p) => Stop::provider("provider_error", p),
            AccessError::Credentials(why) => fail("credentials_missing", why),
            AccessError::NotConnected(why) => fail("reclaim_slot_not_connected", why),
            AccessError::WrongTenant(why) => fail("wrong_tenant", why),
        }
    }
}

impl Stop {
    /// A provider error: transient and unknown outcomes are retried by redelivery; anything
    /// else the provider refused is permanent.
    pub(super) fn provider(code: &'static str, e: ProviderError) -> Self {
        if retryable(&e) {
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

/// Worth a redelivery: the provider may answer differently later, or the write may have
/// happened and must be re-read first.
fn retryable(e: &ProviderError) -> bool {
    e.is_transient()
        || matches!(
            e,
            ProviderError::Indeterminate { .. } | ProviderError::Unauthorized { .. }
        )
}

type StepResult = Result<(), Stop>;

/// The adapters one delivery works with.
struct Ports<'p, D, X> {
    directory: &'p D,
    deprovisioner: &'p X,
    stats: &'p ApiStats,
}

impl<R: Repos, P: ProviderAccess> Reclaimer<R, P> {
    /// Runs the request's steps from wherever its record stands.
    pub(super) async fn run(
        &self,
        profile: &Profile,
        rec: &mut ReclaimRecord,
        stats: &ApiStats,
    ) -> StepResult {
        // a removal waiting for a background transfer: nothing to do before its re-check
        if let Some(at) = rec
            .next_check_at
            .filter(|_| rec.status == ReclaimStatus::Removing)
        {
            let left = at - Utc::now();
            if left > chrono::Duration::zero() {
                return Err(Stop::Retry(format!(
                    "the transfer continues at the provider: the removal is checked again in {} min",
                    left.num_minutes() + 1
                )));
            }
        }
        // in the undo window: nothing to do before it ends (and nothing while paused)
        if rec.status == ReclaimStatus::Suspended && (in_window(rec) || profile.rules.paused) {
            tracing::info!(request_id = %rec.request.request_id, remove_after = ?rec.remove_after, paused = profile.rules.paused, "suspended; the removal waits for the end of the undo window");
            return Ok(());
        }
        let (deprovisioner, directory) = self.providers.reclaim_ports(profile).await?;
        let ports = Ports {
            directory: &directory,
            deprovisioner: &deprovisioner,
            stats,
        };
        let ran = self.steps(profile, rec, &ports).await;
        match ran {
            // a permanent failure after the suspension: the person is not left locked out
            Err(Stop::Fail {
                code,
                reason,
                request_id,
            }) if rec.suspended_not_removed() && code != UNSUSPEND_REFUSED => {
                let back = self.give_back(rec, &ports).await;
                Err(Stop::Fail {
                    code,
                    reason: format!("{reason}; {back}"),
                    request_id,
                })
            }
            other => other,
        }
    }

    /// The steps of [`Reclaimer::run`], once the ports are open.
    async fn steps<D: Directory, X: Deprovisioner>(
        &self,
        profile: &Profile,
        rec: &mut ReclaimRecord,
        ports: &Ports<'_, D, X>,
    ) -> StepResult {
        let deprovisioner = ports.deprovisioner;
        let separate = deprovisioner.transfers_separately();
        // the target was checked by this delivery's verification
        let mut target_checked = false;
        loop {
            match rec.status {
                ReclaimStatus::Received => {
                    self.verify(profile, rec, ports, false).await?;
                    target_checked = true;
                }
                ReclaimStatus::Verified => {
                    if paused(profile, rec) {
                        continue;
                    }
                    // verified too long ago by an earlier delivery: the user may be back
                    if !target_checked && stale_verification(rec, Utc::now()) {
                        self.verify(profile, rec, ports, true).await?;
                        target_checked = true;
                        continue;
                    }
                    if profile.rules.removal == RemovalMode::SuspendFirst {
                        let (user, _) = who(rec);
                        let announce = format!(
                            "{}; removal after the undo window of {} day(s)",
                            deprovisioner.announce_access(&user, AccessChange::Suspend),
                            profile.rules.suspend_days
                        );
                        rec.step(ReclaimStatus::Suspending, Utc::now(), announce, None);
                        self.save(rec).await?;
                        // the delivery ends at `suspended`, whatever the window's length
                        return self.suspend(profile, rec, ports, true).await;
                    }
                    self.start_removal(rec, ports, &mut target_checked).await?;
                }
                // a redelivery: an `already` answer may be our own lost one
                ReclaimStatus::Suspending => return self.suspend(profile, rec, ports, false).await,
                ReclaimStatus::Suspended => {
                    // a delivery before the window's end (or while paused): acknowledged; the
                    // sync re-posts it when the window has passed
                    if in_window(rec) || profile.rules.paused {
                        return Ok(());
                    }
                    self.recheck_after_window(profile, rec, ports).await?;
                    if !rec.status.is_final() {
                        self.start_removal(rec, ports, &mut target_checked).await?;
                    }
                }
                ReclaimStatus::Transferring | ReclaimStatus::Transferred if !separate => {
                    return Err(Stop::Fail {
                        code: "bad_state",
                        reason: format!(
                            "a {} request cannot be in a separate transfer step",
                            profile.provider
                        ),
                        request_id: None,
                    })
                }
                ReclaimStatus::Transferring => self.resume_transfer(rec, ports).await?,
                ReclaimStatus::Transferred => {
                    if paused(profile, rec) {
                        continue;
                    }
                    let (user, target) = who(rec);
                    let announce = deprovisioner.announce_removal(&user, &target);
                    rec.step(ReclaimStatus::Removing, Utc::now(), announce, None);
                    self.save(rec).await?;
                    self.remove(rec, ports).await?;
                }
                ReclaimStatus::Removing => match rec.async_job_id.clone() {
                    Some(job) => self.poll(rec, ports, &job).await?,
                    // announced, no job recorded: removing again is safe (an already removed
                    // user answers as gone)
                    None => self.remove(rec, ports).await?,
                },
                ReclaimStatus::Removed => self.finish(profile, rec).await?,
                ReclaimStatus::Done
                | ReclaimStatus::Skipped
                | ReclaimStatus::Failed
                | ReclaimStatus::Restored => return Ok(()),
            }
        }
    }

    /// Admission of a newly claimed request, before anything is read at the provider:
    /// approval (in `report` and `approve` mode, for a real reclaim) and the (profile, user)
    /// lock. A refusal ends the request as skipped with the reason.
    pub(super) async fn admit(&self, profile: &Profile, rec: &mut ReclaimRecord) -> StepResult {
        let req = rec.request.clone();
        if req.dry_run {
            // a dry run changes nothing: no approval, no lock
            return Ok(());
        }
        let reclaims = self.repos.reclaims();
        if profile.rules.mode != ReclaimMode::Auto {
            let approval = reclaims
                .get_approval(&req.profile_id, &req.request_id)
                .await?;
            match approval {
                Some(a) if a.covers(&req) => {
                    let note = format!(
                        "; approved by {} ({}) on {}",
                        a.approved_by,
                        a.source,
                        a.approved_at.format("%Y-%m-%d %H:%M UTC")
                    );
                    if let Some(first) = rec.steps.first_mut() {
                        if !first.detail.contains("; approved by ") {
                            first.detail.push_str(&note);
                        }
                    }
                }
                _ => {
                    rec.end(
                        ReclaimStatus::Skipped,
                        Utc::now(),
                        "not_approved",
                        format!(
                            "profile {} is in {} mode and no approval of this request is recorded: post requests with `seatctl approve` or `seatctl reclaim` (which record the approval), or switch the profile to auto mode",
                            profile.id, profile.rules.mode
                        ),
                        None,
                    );
                    return Ok(());
                }
            }
        }
        let (p, u, me) = (&req.profile_id, &req.user_id, &req.request_id);
        let mut stale = None;
        for _ in 0..2 {
            match reclaims.lock_user(p, u, me, stale.as_deref()).await? {
                UserLock::Taken => return Ok(()),
                UserLock::HeldBy(other) => {
                    let open = reclaims
                        .get(p, &other)
                        .await?
                        .is_some_and(|r| !r.status.is_final());
                    if open {
                        rec.end(
                            ReclaimStatus::Skipped,
                            Utc::now(),
                            "duplicate_user_request",
                            format!("request {other} for this user is still open; this one was not executed (`seatctl reclaims {p} --request {other}`)"),
                            None,
                        );
                        return Ok(());
                    }
                    // held by a request that ended without releasing it: take it over
                    stale = Some(other);
                }
            }
        }
        Err(Stop::Retry(format!(
            "the reclaim lock of user {u} kept changing"
        )))
    }

    /// After a request ended: the user's lock is released, and a candidate whose request was
    /// skipped for a reason that does not judge the seat (the cap, a pause, another open
    /// request) is released to wait for the next auto run or `seatctl approve`. Best effort: a
    /// lock left behind is taken over by the next request, since its holder has ended.
    pub(super) async fn after_end(&self, rec: &ReclaimRecord) {
        let req = &rec.request;
        if !req.dry_run {
            if let Err(e) = self
                .repos
                .reclaims()
                .unlock_user(&req.profile_id, &req.user_id, &req.request_id)
                .await
            {
                tracing::warn!(request_id = %req.request_id, error = %e, "could not release the user's reclaim lock; the next request takes it over");
            }
        }
        let code = rec.reason_code.as_deref().unwrap_or_default();
        if rec.status == ReclaimStatus::Skipped && RELEASES_CANDIDATE.contains(&code) {
            if let Err(e) = self.release_candidate(rec).await {
                tracing::warn!(request_id = %req.request_id, error = %e, "could not release the candidate for a later request");
            }
        }
    }

    async fn release_candidate(&self, rec: &ReclaimRecord) -> Result<(), StoreError> {
        let req = &rec.request;
        let seats = self.repos.seats();
        let Some(mut c) = seats.get_candidate(&req.profile_id, &req.user_id).await? else {
            return Ok(());
        };
        if c.request_id.as_deref() != Some(req.request_id.as_str()) {
            return Ok(());
        }
        c.request_id = None;
        c.requested_at = None;
        c.waiting = Some(format!(
            "request {} {}: {}; waits for the next auto run or `seatctl approve`",
            req.request_id,
            rec.reason_code.as_deref().unwrap_or_default(),
            rec.reason.as_deref().unwrap_or_default()
        ));
        seats.put_candidate(&c).await
    }

    /// The transfer (Box) or the removal with its transfer (Dropbox), from `verified` or from
    /// the end of the undo window.
    async fn start_removal<D: Directory, X: Deprovisioner>(
        &self,
        rec: &mut ReclaimRecord,
        p: &Ports<'_, D, X>,
        target_checked: &mut bool,
    ) -> StepResult {
        let separate = p.deprovisioner.transfers_separately();
        let (user, target) = who(rec);
        // verified by an earlier delivery: the target may have changed since
        if !*target_checked && !separate && target != user {
            match p
                .deprovisioner
                .check_target(&target, p.stats)
                .await
                .map_err(|e| Stop::provider("provider_error", e))?
            {
                TargetCheck::Ok => *target_checked = true,
                TargetCheck::Refused(r) => return Err(r.into()),
            }
        }
        if separate {
            let announce = p.deprovisioner.announce_transfer(&user, &target);
            rec.step(ReclaimStatus::Transferring, Utc::now(), announce, None);
            self.save(rec).await?;
            self.transfer(rec, p).await
        } else {
            let announce = p.deprovisioner.announce_removal(&user, &target);
            rec.step(ReclaimStatus::Removing, Utc::now(), announce, None);
            self.save(rec).await?;
            self.remove(rec, p).await
        }
    }

    /// Sends the suspension (again, after a lost answer: a repeat finds the user suspended) and
    /// opens the undo window. The request is then acknowledged; the sync re-posts it when the
    /// window has passed.
    async fn suspend<D, X: Deprovisioner>(
        &self,
        profile: &Profile,
        rec: &mut ReclaimRecord,
        p: &Ports<'_, D, X>,
        first: bool,
    ) -> StepResult {
        let (user, _) = who(rec);
        match p
            .deprovisioner
            .set_access(&user, AccessChange::Suspend, p.stats)
            .await
        {
            Ok(AccessOutcome::Done {
                detail,
                request_id,
                already,
            }) => {
                // on the first call `already` means someone else suspended them; on a
                // redelivery it may be our own lost answer, and the status read at
                // verification decides
                if first && already {
                    rec.suspended_before = true;
                }
                let now = Utc::now();
                let after = now + chrono::Duration::days(i64::from(profile.rules.suspend_days));
                rec.suspended_at = Some(now);
                rec.remove_after = Some(after);
                let detail = if rec.suspended_before {
                    format!(
                        "{detail}; the user was already suspended before seatkeeper acted (by an admin): the seat is removed after {}, and neither `seatctl restore` nor seatkeeper unsuspends them",
                        after.format("%Y-%m-%d %H:%M UTC"),
                    )
                } else {
                    format!(
                        "{detail}; the seat is removed after {} unless restored (`seatctl restore {} {}`)",
                        after.format("%Y-%m-%d %H:%M UTC"),
                        profile.id,
                        rec.login.as_deref().unwrap_or(&user)
                    )
                };
                rec.step(ReclaimStatus::Suspended, now, detail, request_id);
                self.save(rec).await
            }
            Ok(AccessOutcome::Refused(r)) => Err(r.into()),
            Err(e) => Err(Stop::provider("suspend_refused", e)),
        }
    }

    /// At the end of the undo window, before anything is removed: the user must still be at
    /// the provider, the rules must still make them a candidate (the same [`evaluate`] as at
    /// verification, with the profile's rules as they are now, the freshly read user and an
    /// active keep), and they must still be suspended (an admin may have unsuspended them in
    /// the console). Activity counts as known before the suspension (a suspended user cannot
    /// sign in; nothing is read again). A refusal gives the user access back first (unless an
    /// admin had suspended them before seatkeeper) and ends the request `restored` with the
    /// refusal's code.
    async fn recheck_after_window<D: Directory, X: Deprovisioner>(
        &self,
        profile: &Profile,
        rec: &mut ReclaimRecord,
        p: &Ports<'_, D, X>,
    ) -> StepResult {
        let user = p
            .directory
            .user(&rec.request.user_id, p.stats)
            .await
            .map_err(|e| Stop::provider("provider_error", e))?;
        let now = Utc::now();
        let Some(user) = user else {
            rec.end(
                ReclaimStatus::Skipped,
                now,
                "user_not_found",
                format!(
                    "{} no longer has this user at the end of the undo window (removed in the admin console?); nothing was done",
                    rec.provider
                ),
                None,
            );
            return Ok(());
        };
        let Some((code, why)) = self.refused_after_window(profile, rec, &user, p).await? else {
            if !is_suspended_status(&user.status) {
                rec.end(
                    ReclaimStatus::Skipped,
                    now,
                    "unsuspended_in_console",
                    format!(
                        "the user is {} again at the end of the undo window (unsuspended in the admin console); nothing was removed",
                        user.status
                    ),
                    None,
                );
            }
            return Ok(());
        };
        if rec.suspended_before {
            rec.end(
                ReclaimStatus::Skipped,
                now,
                code,
                format!("{why}; nothing was removed; the user stays suspended: an admin had suspended them before seatkeeper acted"),
                None,
            );
            return Ok(());
        }
        let (detail, request_id) = if is_suspended_status(&user.status) {
            match p
                .deprovisioner
                .set_access(&user.user_id, AccessChange::Unsuspend, p.stats)
                .await
            {
                Ok(AccessOutcome::Done {
                    detail, request_id, ..
                }) => (detail, request_id),
                Ok(AccessOutcome::Refused(r)) => {
                    return Err(self.unsuspend_failed(profile, rec, &why, r.reason))
                }
                Err(e) if retryable(&e) => return Err(Stop::Retry(e.to_string())),
                Err(e) => return Err(self.unsuspend_failed(profile, rec, &why, e.to_string())),
            }
        } else {
            // unsuspended already (in the console, or by a delivery that crashed after it)
            (format!("the user is {} already", user.status), None)
        };
        let why = format!("{why}; {detail}; nothing was removed");
        rec.reason_code = Some(code.into());
        rec.reason = Some(why.clone());
        rec.restored(Utc::now(), format!("{code}: {why}"), request_id);
        Ok(())
    }

    /// The rules applied again at the end of the undo window: `None` while the user is still a
    /// candidate, else the refusal's code and sentence.
    async fn refused_after_window<D: Directory, X: Deprovisioner>(
        &self,
        profile: &Profile,
        rec: &ReclaimRecord,
        user: &DirectoryUser,
        p: &Ports<'_, D, X>,
    ) -> Result<Option<(&'static str, String)>, Stop> {
        let now = Utc::now();
        let seats = self.repos.seats();
        let seat = match seats.get(&profile.id, &rec.request.user_id).await? {
            Some(s) if s.removed_at.is_none() => s,
            _ => {
                return Ok(Some((
                    "unknown_seat",
                    "the user is no longer a seat in the profile's last finished sync".to_owned(),
                )))
            }
        };
        let keep = seats
            .get_keep(&profile.id, &seat.user_id)
            .await?
            .filter(|k| k.is_active(now));
        // what was known before the suspension: the synced seat and the verification's read
        let before = rec.suspended_at.unwrap_or(now);
        let known = |a: Option<&LoginEvidence>, b: Option<&LoginEvidence>| {
            LoginEvidence::newest(a.filter(|l| l.at <= before), b.filter(|l| l.at <= before))
                .cloned()
        };
        let evidence = rec.evidence.as_ref();
        let last_login = known(
            seat.last_login.as_ref(),
            evidence.and_then(|e| e.last_login.as_ref()),
        );
        let last_activity = known(
            seat.last_activity.as_ref(),
            evidence.and_then(|e| e.last_activity.as_ref()),
        );
        // the target as configured now (an operator may have made this user the target)
        let target = p
            .deprovisioner
            .transfer_target()
            .ok()
            .or_else(|| rec.transfer_target.clone());
        let facts = SeatFacts {
            user_id: &seat.user_id,
            login: &user.login,
            status: &user.status,
            is_admin: user.is_admin,
            license_type: &seat.license_type,
            created_at: user.created_at.or(seat.created_at),
            first_seen_at: seat.first_seen_at,
            last_login: last_login.as_ref(),
            last_activity: last_activity.as_ref(),
            observed_since: profile.last_sync.as_ref().and_then(|l| l.observed_since),
            kept_until: keep.as_ref().map(|k| k.until),
        };
        let verdict = evaluate(
            &facts,
            &profile.rules,
            profile.reclaimable(&seat.license_type),
            target.as_deref(),
            now,
        );
        if matches!(verdict, Verdict::Candidate(_)) {
            return Ok(None);
        }
        let (code, why) = refusal(
            profile,
            &seat,
            verdict,
            keep.as_ref(),
            (last_login.as_ref(), last_activity.as_ref()),
        );
        Ok(Some((
            code,
            format!("at the end of the undo window the rules no longer take the seat: {why}"),
        )))
    }

    /// The unsuspend after a refusal at the window's end failed: the request fails, and says
    /// the user is still suspended and how to give access back.
    fn unsuspend_failed(
        &self,
        profile: &Profile,
        rec: &ReclaimRecord,
        why: &str,
        error: String,
    ) -> Stop {
        Stop::Fail {
            code: UNSUSPEND_REFUSED,
            reason: format!(
                "{why}; nothing was removed, but unsuspending the user failed ({error}): they are still suspended; `seatctl restore {} {}` gives access back",
                profile.id,
                rec.login.as_deref().unwrap_or(&rec.request.user_id)
            ),
            request_id: None,
        }
    }

    /// After a permanent failure following the suspension (nothing removed): gives the user
    /// access back, unless an admin had suspended them before seatkeeper. Says what happened,
    /// for the failure's reason; never fails itself.
    async fn give_back<D, X: Deprovisioner>(
        &self,
        rec: &ReclaimRecord,
        p: &Ports<'_, D, X>,
    ) -> String {
        if rec.suspended_before {
            return "the user stays suspended: an admin had suspended them before seatkeeper acted"
                .to_owned();
        }
        let restore = format!(
            "`seatctl restore {} {}` gives access back",
            rec.request.profile_id,
            rec.login.as_deref().unwrap_or(&rec.request.user_id)
        );
        match p
            .deprovisioner
            .set_access(&rec.request.user_id, AccessChange::Unsuspend, p.stats)
            .await
        {
            Ok(AccessOutcome::Done { detail, .. }) => {
                format!("the user was given access back ({detail}); the seat stays theirs")
            }
            Ok(AccessOutcome::Refused(r)) => format!(
                "the user is still suspended: unsuspending was refused ({}: {}); {restore}",
                r.code, r.reason
            ),
            Err(e) => {
                tracing::warn!(request_id = %rec.request.request_id, error = %e, "could not give a suspended user access back after a failed removal");
                format!("the user may still be suspended: unsuspending failed ({e}); {restore}")
            }
        }
    }

    /// Saves a step before the provider call it announces.
    async fn save(&self, rec: &mut ReclaimRecord) -> StepResult {
        self.repos.reclaims().save(rec).await.map_err(Stop::from)
    }

    /// Re-reads the user, the target and the user's fresh activity, then decides. `again`: a
    /// re-verification of a stale `verified` (the cap was counted the first time).
    async fn verify<D: Directory, X: Deprovisioner>(
        &self,
        profile: &Profile,
        rec: &mut ReclaimRecord,
        p: &Ports<'_, D, X>,
        again: bool,
    ) -> StepResult {
        let Some(seat) = self.synced_seat(profile, rec).await? else {
            return Ok(());
        };
        if paused(profile, rec) {
            return Ok(());
        }
        if self.notice_failed(profile, rec).await? {
            return Ok(());
        }
        let target = p.deprovisioner.transfer_target()?;
        let user_id = rec.request.user_id.clone();
        let user = p
            .directory
            .user(&user_id, p.stats)
            .await
            .map_err(|e| Stop::provider("provider_error", e))?;
        let Some(user) = user else {
            rec.end(
                ReclaimStatus::Skipped,
                Utc::now(),
                "user_not_found",
                format!("{} no longer has this user", profile.provider),
                None,
            );
            return Ok(());
        };
        if target != user_id {
            match p
                .deprovisioner
                .check_target(&target, p.stats)
                .await
                .map_err(|e| Stop::provider("provider_error", e))?
            {
                TargetCheck::Ok => {}
                TargetCheck::Refused(r) => return Err(r.into()),
            }
        }
        let fresh = self.fresh_activity(profile, &user, p).await?;
        let mut plan = p.deprovisioner.plan(&user, &target);
        if profile.rules.removal == RemovalMode::SuspendFirst {
            plan = format!(
                "suspend {} now and, after an undo window of {} day(s), {plan}",
                user.login, profile.rules.suspend_days
            );
        }
        // the fresh read holds the kinds the rules count: logins only, or any activity
        let (last_login, last_activity) = match profile.rules.activity {
            ActivityScope::Logins => (
                LoginEvidence::newest(seat.last_login.as_ref(), fresh.as_ref()).cloned(),
                seat.last_activity.clone(),
            ),
            ActivityScope::Any => (
                seat.last_login.clone(),
                LoginEvidence::newest(seat.last_activity.as_ref(), fresh.as_ref()).cloned(),
            ),
        };
        self.decide(
            profile,
            rec,
            &seat,
            &user,
            (last_login, last_activity),
            target,
            plan,
            again,
        )
        .await
    }

    /// Notify mode: a user whose latest notice failed (SES refused it, or it bounced or drew a
    /// complaint after the request was enqueued) was never told, so is never reclaimed: the
    /// request ends skipped `notice_failed`, and the admin sees the notice in the digest.
    async fn notice_failed(
        &self,
        profile: &Profile,
        rec: &mut ReclaimRecord,
    ) -> Result<bool, Stop> {
        if profile.rules.mode != ReclaimMode::Notify {
            return Ok(false);
        }
        let latest = self
            .repos
            .notices()
            .notices(&profile.id)
            .await?
            .into_iter()
            .filter(|n| n.user_id == rec.request.user_id)
            .max_by(|a, b| {
                a.created_at
                    .cmp(&b.created_at)
                    .then(a.candidacy.cmp(&b.candidacy))
            });
        let Some(n) = latest.filter(|n| n.state == NoticeState::NoticeFailed) else {
            return Ok(false);
        };
        rec.end(
            ReclaimStatus::Skipped,
            Utc::now(),
            "notice_failed",
            format!(
                "the user's notice failed ({}): in notify mode a user who was not told is never reclaimed",
                n.last_error.as_deref().unwrap_or("no reason recorded")
            ),
            None,
        );
        Ok(true)
    }

    /// Activity since the last sync's checkpoint (less the overlap), or since the rule's
    /// threshold if that is later: what the stored seat does not know yet.
    async fn fresh_activity<D: Directory, X>(
        &self,
        profile: &Profile,
        user: &DirectoryUser,
        p: &Ports<'_, D, X>,
    ) -> Result<Option<LoginEvidence>, Stop> {
        let now = Utc::now();
        let threshold = now - chrono::Duration::days(i64::from(profile.rules.inactive_days));
        let since_sync = self
            .repos
            .runs()
            .get_checkpoint(
                &profile.id,
                p.directory.activity_stream(profile.rules.activity),
            )
            .await?
            .map(|c| c.read_until - ACTIVITY_OVERLAP);
        let window = Window {
            start: since_sync.map_or(threshold, |s| s.max(threshold)),
            end: now,
        };
        p.directory
            .user_activity(user, window, profile.rules.activity, p.stats)
            .await
            .map_err(|e| Stop::provider("provider_error", e))
    }

    /// The seat as last synced; a request for a seat seatkeeper never saw (or saw leave) is not
    /// executed: there is no evidence to act on.
    async fn synced_seat(
        &self,
        profile: &Profile,
        rec: &mut ReclaimRecord,
    ) -> Result<Option<Seat>, Stop> {
        let seat = self
            .repos
            .seats()
            .get(&profile.id, &rec.request.user_id)
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

    /// Applies the rules to the freshly re-read user; on success records the evidence and the
    /// plan (and ends a dry run), else ends the request as skipped with the reason.
    #[allow(clippy::too_many_arguments)]
    async fn decide(
        &self,
        profile: &Profile,
        rec: &mut ReclaimRecord,
        seat: &Seat,
        user: &DirectoryUser,
        (last_login, last_activity): (Option<LoginEvidence>, Option<LoginEvidence>),
        target: String,
        plan: String,
        again: bool,
    ) -> StepResult {
        let now = Utc::now();
        // a keep made after the request was queued (the keep page, a restore) wins
        let keep = self
            .repos
            .seats()
            .get_keep(&profile.id, &seat.user_id)
            .await?
            .filter(|k| k.is_active(now));
        let facts = SeatFacts {
            user_id: &seat.user_id,
            login: &user.login,
            status: &user.status,
            is_admin: user.is_admin,
            license_type: &seat.license_type,
            created_at: user.created_at.or(seat.created_at),
            first_seen_at: seat.first_seen_at,
            last_login: last_login.as_ref(),
            last_activity: last_activity.as_ref(),
            observed_since: profile.last_sync.as_ref().and_then(|l| l.observed_since),
            kept_until: keep.as_ref().map(|k| k.until),
        };
        rec.login = Some(user.login.clone());
        rec.transfer_target = Some(target.clone());
        let verdict = evaluate(
            &facts,
            &profile.rules,
            profile.reclaimable(&seat.license_type),
            Some(&target),
            now,
        );
        let (code, reason) = match verdict {
            Verdict::Candidate(evidence) => {
                rec.evidence = Some(evidence);
                rec.plan = Some(plan);
                // read before seatkeeper changes anything: an admin suspended them already
                rec.suspended_before = is_suspended_status(&user.status);
                if rec.request.dry_run {
                    rec.reason_code = Some("dry_run".into());
                    let detail = format!(
                        "dry run: nothing changed at the provider; would {}",
                        rec.plan.as_deref().unwrap_or_default()
                    );
                    rec.step(ReclaimStatus::Done, now, detail, None);
                    return Ok(());
                }
                if again {
                    let detail = format!(
                        "verified again before acting (the last verification was over {} min old): still qualifies: {}; plan: {}",
                        REVERIFY_AFTER.num_minutes(),
                        describe_login(rec.evidence.as_ref().and_then(|e| e.last_login.as_ref())),
                        rec.plan.as_deref().unwrap_or_default()
                    );
                    rec.step(ReclaimStatus::Verified, now, detail, None);
                    return self.save(rec).await;
                }
                return self.count_against_cap(profile, rec, now).await;
            }
            other => refusal(
                profile,
                seat,
                other,
                keep.as_ref(),
                (last_login.as_ref(), last_activity.as_ref()),
            ),
        };
        rec.end(ReclaimStatus::Skipped, now, code, reason, None);
        Ok(())
    }

    /// The daily blast-radius cap, counted atomically; then the request is verified.
    async fn count_against_cap(
        &self,
        profile: &Profile,
        rec: &mut ReclaimRecord,
        now: DateTime<Utc>,
    ) -> StepResult {
        let seats = candidates::seat_count(self.repos.seats(), &profile.id).await?;
        let cap = profile.rules.cap(seats);
        let day = now.format("%Y-%m-%d").to_string();
        if !self
            .repos
            .reclaims()
            .count_reclaim(&profile.id, &day, cap)
            .await?
        {
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
        self.save(rec).await
    }

    async fn transfer<D, X: Deprovisioner>(
        &self,
        rec: &mut ReclaimRecord,
        p: &Ports<'_, D, X>,
    ) -> StepResult {
        let (user, target) = who(rec);
        match p.deprovisioner.transfer(&user, &target, p.stats).await {
            Ok(t) => {
                rec.transfer_folder_id = Some(t.folder_id);
                rec.step(
                    ReclaimStatus::Transferred,
                    Utc::now(),
                    t.detail,
                    t.request_id,
                );
                self.save(rec).await
            }
            // refused: nothing moved, and nothing is removed
            Err(e) => Err(Stop::provider("transfer_refused", e)),
        }
    }

    /// Resumed at `transferring`: the earlier transfer's outcome is unknown. A removal without
    /// force only succeeds if the user owns nothing, i.e. the content moved; otherwise the
    /// content is still theirs and the transfer is made again.
    async fn resume_transfer<D, X: Deprovisioner>(
        &self,
        rec: &mut ReclaimRecord,
        p: &Ports<'_, D, X>,
    ) -> StepResult {
        let (user, target) = who(rec);
        match p.deprovisioner.remove(&user, &target, p.stats).await {
            Ok(Removal::Done {
                detail,
                already_gone,
                request_id,
            }) => {
                let detail = if already_gone {
                    detail
                } else {
                    format!("the earlier transfer had completed: the user owned nothing; {detail}")
                };
                rec.step(ReclaimStatus::Removed, Utc::now(), detail, request_id);
                Ok(())
            }
            Ok(Removal::Job { job_id, request_id }) => {
                self.record_job(rec, job_id, request_id).await
            }
            Ok(Removal::Busy(why)) => Err(Stop::Retry(why)),
            Err(e) if retryable(&e) => Err(Stop::Retry(e.to_string())),
            Err(e) => {
                tracing::info!(error = %e, "content remains after an unfinished transfer; transferring it");
                self.transfer(rec, p).await
            }
        }
    }

    async fn remove<D: Directory, X: Deprovisioner>(
        &self,
        rec: &mut ReclaimRecord,
        p: &Ports<'_, D, X>,
    ) -> StepResult {
        let (user, target) = who(rec);
        match p.deprovisioner.remove(&user, &target, p.stats).await {
            Ok(Removal::Done {
                detail, request_id, ..
            }) => {
                rec.next_check_at = None;
                rec.step(ReclaimStatus::Removed, Utc::now(), detail, request_id);
                self.save(rec).await
            }
            Ok(Removal::Job { job_id, request_id }) => {
                self.record_job(rec, job_id.clone(), request_id).await?;
                self.poll(rec, p, &job_id).await
            }
            Ok(Removal::Busy(why)) => Err(Stop::Retry(why)),
            Err(e) if retryable(&e) => Err(Stop::Retry(e.to_string())),
            Err(e)
                if p.deprovisioner.transfers_separately()
                    && rec.transfer_folder_id.is_some()
                    && p.deprovisioner.still_owns_content(&e)
                    && (rec.content_checks as usize) < CONTENT_RECHECKS.len() =>
            {
                // the transfer answered but continues in the background: check again later
                let wait = CONTENT_RECHECKS[rec.content_checks as usize];
                let now = Utc::now();
                rec.content_checks += 1;
                rec.next_check_at = Some(now + wait);
                let detail = format!(
                    "the user still owns content ({e}): the transfer to folder {} continues in the background; removal checked again after {} (check {} of {})",
                    rec.transfer_folder_id.as_deref().unwrap_or_default(),
                    (now + wait).format("%Y-%m-%d %H:%M UTC"),
                    rec.content_checks,
                    CONTENT_RECHECKS.len()
                );
                rec.step(
                    ReclaimStatus::Removing,
                    now,
                    detail,
                    e.request_id().map(str::to_owned),
                );
                self.save(rec).await?;
                Err(Stop::Retry(format!(
                    "the user still owns content; the removal is checked again in {} min",
                    wait.num_minutes()
                )))
            }
            Err(e) if p.deprovisioner.transfers_separately() => Err(Stop::Fail {
                code: "delete_refused",
                request_id: e.request_id().map(str::to_owned),
                reason: format!(
                    "the provider refused to remove the user without force ({e}){}; nothing was forced: the content transferred so far is in folder {} of {}, and the user keeps the seat. Check the user in the admin console, then request again.",
                    if rec.content_checks > 0 {
                        format!(" after {} re-checks while the transfer continued", rec.content_checks)
                    } else {
                        String::new()
                    },
                    rec.transfer_folder_id.as_deref().unwrap_or("(none)"),
                    rec.transfer_target.as_deref().unwrap_or("(none)")
                ),
            }),
            Err(e) => Err(Stop::provider("remove_refused", e)),
        }
    }

    /// Recorded before polling: a redelivery polls this job instead of removing again.
    async fn record_job(
        &self,
        rec: &mut ReclaimRecord,
        job_id: String,
        request_id: Option<String>,
    ) -> StepResult {
        let detail = format!("removal running as job {job_id}");
        rec.async_job_id = Some(job_id);
        rec.step(ReclaimStatus::Removing, Utc::now(), detail, request_id);
        self.save(rec).await
    }

    async fn poll<D: Directory, X: Deprovisioner>(
        &self,
        rec: &mut ReclaimRecord,
        p: &Ports<'_, D, X>,
        job: &str,
    ) -> StepResult {
        for attempt in 0..self.poll.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(self.poll.interval).await;
            }
            match p.deprovisioner.poll(job, p.stats).await {
                Ok(JobState::Complete) => {
                    let detail = format!(
                        "job {job} complete: member removed, files transferred to {}",
                        rec.transfer_target.as_deref().unwrap_or_default()
                    );
                    rec.step(ReclaimStatus::Removed, Utc::now(), detail, None);
                    return self.save(rec).await;
                }
                Ok(JobState::InProgress) => continue,
                Ok(JobState::Unknown) => return self.job_forgotten(rec, p, job).await,
                Err(e) => return Err(Stop::provider("provider_error", e)),
            }
        }
        Err(Stop::Retry(format!(
            "removal job {job} is still in progress"
        )))
    }

    /// The provider forgot the job: what matters is whether the user is gone.
    async fn job_forgotten<D: Directory, X: Deprovisioner>(
        &self,
        rec: &mut ReclaimRecord,
        p: &Ports<'_, D, X>,
        job: &str,
    ) -> StepResult {
        let present = p
            .directory
            .user(&rec.request.user_id, p.stats)
            .await
            .map_err(|e| Stop::provider("provider_error", e))?;
        if present.is_none() {
            let detail = format!("job {job} unknown to the provider; the member is removed");
            rec.step(ReclaimStatus::Removed, Utc::now(), detail, None);
            return self.save(rec).await;
        }
        rec.async_job_id = None;
        let detail = format!(
            "job {job} unknown to the provider and the member is still there; removing again"
        );
        rec.step(ReclaimStatus::Removing, Utc::now(), detail, None);
        self.save(rec).await?;
        Box::pin(self.remove(rec, p)).await
    }

    /// The last step: the seat records that it was reclaimed, and its candidate entry goes.
    async fn finish(&self, profile: &Profile, rec: &mut ReclaimRecord) -> StepResult {
        let now = Utc::now();
        let seats = self.repos.seats();
        seats
            .mark_reclaimed(
                &profile.id,
                &rec.request.user_id,
                &rec.request.request_id,
                now,
            )
            .await?;
        seats
            .delete_candidate(&profile.id, &rec.request.user_id)
            .await?;
        rec.step(ReclaimStatus::Done, now, "seat reclaimed", None);
        Ok(())
    }
}

/// The code and sentence of a verdict that is not a candidacy (at verification, and again at
/// the end of the undo window).
fn refusal(
    profile: &Profile,
    seat: &Seat,
    verdict: Verdict,
    keep: Option<&Keep>,
    (last_login, last_activity): (Option<&LoginEvidence>, Option<&LoginEvidence>),
) -> (&'static str, String) {
    match verdict {
            Verdict::Active { last_login: at } => (
            "active_since_request",
            format!(
                "the user was active on {} (within {} days): {}",
                at.format("%Y-%m-%d %H:%M UTC"),
                profile.rules.inactive_days,
                describe_activity(
                    LoginEvidence::newest(last_login, last_activity)
                        .filter(|l| l.at == at)
                        .or(last_login)
                )
            ),
        ),
        Verdict::InGrace { since } => (
            "in_grace",
            format!(
                "the account is new or recent ({})",
                since.format("%Y-%m-%d")
            ),
        ),
        Verdict::Exempt(Exemption::Kept) => (
            exemption_code(Exemption::Kept),
            match keep {
                Some(k) => format!(
                    "{} asked to keep the license until {} ({}){}",
                    k.by,
                    k.until.format("%Y-%m-%d"),
                    k.source.as_str(),
                    k.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
                ),
                None => Exemption::Kept.reason().to_owned(),
            },
        ),
        Verdict::Exempt(x) => (exemption_code(x), format!("refused: {}", x.reason())),
        Verdict::NotObservedLongEnough {
            observed_since,
            decidable_on,
        } => (
            "not_observed_long_enough",
            format!(
                "activity has been read only since {}, less than the rule's {} days: decidable on {}",
                observed_since.format("%Y-%m-%d"),
                profile.rules.inactive_days,
                decidable_on.format("%Y-%m-%d")
            ),
        ),
        Verdict::OutOfScope => (
            "license_type_out_of_scope",
            format!(
                "license type {} is not in the rules' scope",
                seat.license_type
            ),
        ),
        Verdict::Candidate(_) => ("candidate", "still qualifies".to_owned()),
    }
}

/// The request's user and the recorded transfer target.
fn who(rec: &ReclaimRecord) -> (String, String) {
    (
        rec.request.user_id.clone(),
        rec.transfer_target.clone().unwrap_or_default(),
    )
}

/// Suspended, and the undo window has not ended yet.
fn in_window(rec: &ReclaimRecord) -> bool {
    rec.remove_after.is_some_and(|a| a > Utc::now())
}

/// Verified by an earlier delivery longer ago than [`REVERIFY_AFTER`].
fn stale_verification(rec: &ReclaimRecord, now: DateTime<Utc>) -> bool {
    rec.steps
        .iter()
        .rev()
        .find(|s| s.status == ReclaimStatus::Verified)
        .is_some_and(|s| now - s.at > REVERIFY_AFTER)
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

fn exemption_code(x: Exemption) -> &'static str {
    match x {
        Exemption::Admin => "refused_admin",
        Exemption::TransferTarget => "refused_transfer_target",
        Exemption::ExemptLogin => "refused_exempt_login",
        Exemption::ProtectedStatus => "refused_protected_status",
        Exemption::NeverLoggedIn => "refused_never_logged_in",
        Exemption::UnknownStatus => "refused_unknown_status",
        Exemption::Kept => "kept",
    }
}

fn describe_activity(l: Option<&LoginEvidence>) -> String {
    match l {
        Some(l) => format!(
            "{} on {} ({})",
            l.event_type,
            l.at.format("%Y-%m-%d %H:%M UTC"),
            l.event_id
        ),
        None => "no activity on record".to_owned(),
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
