//! Dropbox: verify (re-read the member and their fresh logins with the sync slot, which holds
//! `members.read` and `events.read`) → `team/members/remove` with the reclaim slot, the files
//! transferred to the reclaim admin → poll the recorded async job → done.
use chrono::Utc;
use futures::TryStreamExt;

use super::{newest_login, Fresh, Reclaimer, StepResult, Stop};
use crate::domain::{LoginEvidence, Profile, ReclaimRecord, ReclaimStatus};
use crate::http::{ApiStats, ProviderError};
use crate::providers::dropbox_api::{AsyncJob, DropboxCredentials, EventsWindow};
use crate::sync::dropbox_sync;

/// `members/remove` answers for a member who is already gone: the removal happened.
const ALREADY_REMOVED: &[&str] = &["user_not_in_team", "user_not_found"];

impl Reclaimer {
    pub(super) async fn run_dropbox(
        &self,
        profile: &Profile,
        rec: &mut ReclaimRecord,
        stats: &ApiStats,
    ) -> StepResult {
        let creds = self
            .secrets
            .dropbox_credentials(&Profile::dropbox_secret_name(&profile.id, "reclaim"))
            .await?;
        let sync = self
            .secrets
            .dropbox_credentials(&profile.credentials_secret)
            .await?;
        if creds.refresh_token.is_none() || sync.refresh_token.is_none() {
            return Err(Stop::Fail {
                code: "reclaim_slot_not_connected",
                reason: format!(
                    "both Dropbox slots must be connected: seatctl connect dropbox --profile {} --slot sync|reclaim",
                    profile.id
                ),
                request_id: None,
            });
        }
        loop {
            match rec.status {
                ReclaimStatus::Received => {
                    self.dbx_verify(profile, rec, &creds, &sync, stats).await?
                }
                ReclaimStatus::Verified => {
                    if Self::paused(profile, rec) {
                        continue;
                    }
                    rec.step(
                        ReclaimStatus::Removing,
                        Utc::now(),
                        format!(
                            "team/members/remove {} transfer_dest_id=transfer_admin_id={} keep_account=false wipe_data=false",
                            rec.request.user_id,
                            rec.transfer_target.as_deref().unwrap_or_default()
                        ),
                        None,
                    );
                    self.save(rec).await?;
                    self.dbx_remove(rec, &creds, &sync, stats).await?;
                }
                ReclaimStatus::Removing => match rec.async_job_id.clone() {
                    Some(job) => self.dbx_poll(rec, &creds, &sync, &job, stats).await?,
                    // the call was announced but no job id recorded: removing again is safe,
                    // an already removed member answers user_not_in_team
                    None => self.dbx_remove(rec, &creds, &sync, stats).await?,
                },
                ReclaimStatus::Removed => self.finish(profile, rec).await?,
                ReclaimStatus::Transferring | ReclaimStatus::Transferred => {
                    return Err(Stop::Fail {
                        code: "bad_state",
                        reason: "a Dropbox request cannot be in a Box transfer step".into(),
                        request_id: None,
                    })
                }
                ReclaimStatus::Done | ReclaimStatus::Skipped | ReclaimStatus::Failed => {
                    return Ok(())
                }
            }
        }
    }

    async fn dbx_verify(
        &self,
        profile: &Profile,
        rec: &mut ReclaimRecord,
        creds: &DropboxCredentials,
        sync: &DropboxCredentials,
        stats: &ApiStats,
    ) -> StepResult {
        let Some(seat) = self.synced_seat(profile, rec).await? else {
            return Ok(());
        };
        if Self::paused(profile, rec) {
            return Ok(());
        }
        let Some(target) = creds.admin_team_member_id.clone() else {
            return Err(Stop::Fail {
                code: "reclaim_slot_not_connected",
                reason: "the reclaim slot records no admin: connect it again".into(),
                request_id: None,
            });
        };
        let user_id = rec.request.user_id.clone();
        let member = self
            .dropbox_client
            .member_info(sync, &user_id, stats)
            .await
            .map_err(|e| Stop::provider("provider_error", e))?;
        let member = match member {
            Some(m) if m.profile.status.tag != "removed" => m,
            _ => {
                rec.end(
                    ReclaimStatus::Skipped,
                    Utc::now(),
                    "user_not_found",
                    "the member is no longer in the team",
                    None,
                );
                return Ok(());
            }
        };
        let fresh_login = match member.profile.account_id.as_deref() {
            Some(account) => {
                self.dbx_fresh_login(profile, sync, &user_id, account, stats)
                    .await?
            }
            None => None,
        };
        let roles = member.roles.clone().unwrap_or_default();
        let p = &member.profile;
        let plan = format!(
            "remove {} ({user_id}) from the team with team/members/remove, transferring their files to admin {target} (keep_account=false, wipe_data=false)",
            p.email
        );
        let fresh = Fresh {
            seat: &seat,
            login: p.email.clone(),
            status: p.status.tag.clone(),
            is_admin: roles
                .iter()
                .any(|r| r.name.to_ascii_lowercase().contains("admin")),
            created_at: p.joined_on.or(p.invited_on),
            last_login: LoginEvidence::newest(seat.last_login.as_ref(), fresh_login.as_ref())
                .cloned(),
            target,
            plan,
        };
        self.decide(profile, rec, fresh).await
    }

    /// The member's logins within the rule's threshold, read with the sync slot (the reclaim
    /// slot has no `events.read`), filtered by account at Dropbox.
    async fn dbx_fresh_login(
        &self,
        profile: &Profile,
        sync: &DropboxCredentials,
        team_member_id: &str,
        account_id: &str,
        stats: &ApiStats,
    ) -> Result<Option<LoginEvidence>, Stop> {
        let now = Utc::now();
        let window = EventsWindow {
            start: now - chrono::Duration::days(i64::from(profile.rules.inactive_days)),
            end: now,
        };
        let events = self
            .dropbox_client
            .login_events(sync, window, Some(account_id), stats)
            .map_ok(|page| page.into_iter().map(dropbox_sync::login).collect());
        newest_login(events, team_member_id).await
    }

    async fn dbx_remove(
        &self,
        rec: &mut ReclaimRecord,
        creds: &DropboxCredentials,
        sync: &DropboxCredentials,
        stats: &ApiStats,
    ) -> StepResult {
        let target = rec.transfer_target.clone().unwrap_or_default();
        match self
            .dropbox_client
            .remove_member(creds, &rec.request.user_id, &target, stats)
            .await
        {
            Ok((AsyncJob::Complete, request_id)) => {
                rec.step(
                    ReclaimStatus::Removed,
                    Utc::now(),
                    format!("member removed; files transferred to {target}"),
                    request_id,
                );
                self.save(rec).await
            }
            Ok((AsyncJob::AsyncJobId { async_job_id }, request_id)) => {
                // recorded before polling: a redelivery polls this job instead of removing again
                rec.async_job_id = Some(async_job_id.clone());
                rec.step(
                    ReclaimStatus::Removing,
                    Utc::now(),
                    format!("removal running as job {async_job_id}"),
                    request_id,
                );
                self.save(rec).await?;
                self.dbx_poll(rec, creds, sync, &async_job_id, stats).await
            }
            Ok((AsyncJob::InProgress, _)) => Err(Stop::Retry(
                "members/remove answered in_progress without a job id".into(),
            )),
            Err(e) if api_tag(&e).is_some_and(|t| ALREADY_REMOVED.contains(&t)) => {
                rec.step(
                    ReclaimStatus::Removed,
                    Utc::now(),
                    format!(
                        "the member is already removed ({})",
                        api_tag(&e).unwrap_or_default()
                    ),
                    e.request_id().map(str::to_owned),
                );
                self.save(rec).await
            }
            Err(e) if api_tag(&e) == Some("transfer_in_progress") => Err(Stop::Retry(
                "a removal with transfer is still running at Dropbox".into(),
            )),
            Err(e) => Err(Stop::provider("remove_refused", e)),
        }
    }

    async fn dbx_poll(
        &self,
        rec: &mut ReclaimRecord,
        creds: &DropboxCredentials,
        sync: &DropboxCredentials,
        job: &str,
        stats: &ApiStats,
    ) -> StepResult {
        for attempt in 0..self.poll.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(self.poll.interval).await;
            }
            match self
                .dropbox_client
                .remove_job_status(creds, job, stats)
                .await
            {
                Ok(AsyncJob::Complete) => {
                    rec.step(
                        ReclaimStatus::Removed,
                        Utc::now(),
                        format!(
                            "job {job} complete: member removed, files transferred to {}",
                            rec.transfer_target.as_deref().unwrap_or_default()
                        ),
                        None,
                    );
                    return self.save(rec).await;
                }
                Ok(_) => continue,
                Err(e) if api_tag(&e) == Some("invalid_async_job_id") => {
                    // Dropbox forgot the job: what matters is whether the member is gone
                    let m = self
                        .dropbox_client
                        .member_info(sync, &rec.request.user_id, stats)
                        .await
                        .map_err(|e| Stop::provider("provider_error", e))?;
                    if m.is_none_or(|m| m.profile.status.tag == "removed") {
                        rec.step(
                            ReclaimStatus::Removed,
                            Utc::now(),
                            format!("job {job} unknown to Dropbox; the member is removed"),
                            None,
                        );
                        return self.save(rec).await;
                    }
                    rec.async_job_id = None;
                    rec.step(
                        ReclaimStatus::Removing,
                        Utc::now(),
                        format!("job {job} unknown to Dropbox and the member is still there; removing again"),
                        None,
                    );
                    self.save(rec).await?;
                    return Box::pin(self.dbx_remove(rec, creds, sync, stats)).await;
                }
                Err(e) => return Err(Stop::provider("provider_error", e)),
            }
        }
        Err(Stop::Retry(format!(
            "removal job {job} is still in progress"
        )))
    }
}

/// The Dropbox route error tag (409 `error[".tag"]`).
fn api_tag(e: &ProviderError) -> Option<&str> {
    match e {
        ProviderError::Api {
            status: 409, code, ..
        } => Some(code.as_str()),
        _ => None,
    }
}
