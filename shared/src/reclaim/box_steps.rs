//! Box: verify (re-read user, target and fresh logins) → transfer owned content to the target
//! admin (`PUT /users/{id}/folders/0`) → delete the user without `force` → done.
use chrono::Utc;
use futures::TryStreamExt;

use super::{newest_login, Fresh, Reclaimer, StepResult, Stop};
use crate::domain::{LoginEvidence, Profile, ReclaimRecord, ReclaimStatus};
use crate::http::ApiStats;
use crate::providers::box_api::{BoxCredentials, EventsWindow, LOGIN_EVENT_TYPES};
use crate::sync::{box_sync, ACTIVITY_OVERLAP, BOX_EVENTS_STREAM};

impl Reclaimer {
    pub(super) async fn run_box(
        &self,
        profile: &Profile,
        rec: &mut ReclaimRecord,
        stats: &ApiStats,
    ) -> StepResult {
        let creds = self
            .secrets
            .box_credentials(&profile.credentials_secret)
            .await?;
        loop {
            match rec.status {
                ReclaimStatus::Received => self.box_verify(profile, rec, &creds, stats).await?,
                ReclaimStatus::Verified => {
                    if Self::paused(profile, rec) {
                        continue;
                    }
                    let target = rec.transfer_target.clone().unwrap_or_default();
                    rec.step(
                        ReclaimStatus::Transferring,
                        Utc::now(),
                        format!(
                            "PUT /users/{}/folders/0 owned_by {target}",
                            rec.request.user_id
                        ),
                        None,
                    );
                    self.save(rec).await?;
                    self.box_transfer(rec, &creds, stats).await?;
                }
                ReclaimStatus::Transferring => {
                    // Resumed: the earlier transfer's outcome is unknown. A delete without
                    // `force` only succeeds if the user owns nothing, i.e. the content moved.
                    match self
                        .box_client
                        .delete_user(&creds, &rec.request.user_id, stats)
                        .await
                    {
                        Ok((deleted, request_id)) => rec.step(
                            ReclaimStatus::Removed,
                            Utc::now(),
                            if deleted {
                                "the earlier transfer had completed: the user owned nothing and was deleted without force"
                            } else {
                                "the user is already gone (404)"
                            },
                            request_id,
                        ),
                        Err(e) if e.is_transient() => return Err(Stop::Retry(e.to_string())),
                        Err(e) => {
                            tracing::info!(error = %e, "content remains after an unfinished transfer; transferring it");
                            self.box_transfer(rec, &creds, stats).await?;
                        }
                    }
                }
                ReclaimStatus::Transferred | ReclaimStatus::Removing => {
                    if rec.status == ReclaimStatus::Transferred {
                        if Self::paused(profile, rec) {
                            continue;
                        }
                        rec.step(
                            ReclaimStatus::Removing,
                            Utc::now(),
                            format!("DELETE /users/{} (force=false)", rec.request.user_id),
                            None,
                        );
                        self.save(rec).await?;
                    }
                    self.box_delete(rec, &creds, stats).await?;
                }
                ReclaimStatus::Removed => self.finish(profile, rec).await?,
                ReclaimStatus::Done | ReclaimStatus::Skipped | ReclaimStatus::Failed => {
                    return Ok(())
                }
            }
        }
    }

    async fn box_verify(
        &self,
        profile: &Profile,
        rec: &mut ReclaimRecord,
        creds: &BoxCredentials,
        stats: &ApiStats,
    ) -> StepResult {
        let Some(seat) = self.synced_seat(profile, rec).await? else {
            return Ok(());
        };
        if Self::paused(profile, rec) {
            return Ok(());
        }
        let Some(target) = profile.rules.transfer_target.clone() else {
            return Err(Stop::Fail {
                code: "no_transfer_target",
                reason: format!(
                    "the profile names no transfer target: seatctl rules set {} --transfer-to <admin user id>",
                    profile.id
                ),
                request_id: None,
            });
        };
        let user_id = rec.request.user_id.clone();
        let user = self
            .box_client
            .user(creds, &user_id, stats)
            .await
            .map_err(|e| Stop::provider("provider_error", e))?;
        let Some(user) = user else {
            rec.end(
                ReclaimStatus::Skipped,
                Utc::now(),
                "user_not_found",
                "Box no longer has this user",
                None,
            );
            return Ok(());
        };
        if target != user_id {
            let t = self
                .box_client
                .user(creds, &target, stats)
                .await
                .map_err(|e| Stop::provider("provider_error", e))?;
            let ok = t.as_ref().is_some_and(|t| {
                matches!(t.role.as_deref(), Some("admin") | Some("coadmin"))
                    && t.status.as_deref() == Some("active")
            });
            if !ok {
                return Err(Stop::Fail {
                    code: "bad_transfer_target",
                    reason: format!(
                        "transfer target {target} is not an active admin or co-admin of the enterprise"
                    ),
                    request_id: None,
                });
            }
        }
        let fresh_login = self
            .box_fresh_login(profile, &user_id, creds, stats)
            .await?;
        let role = user.role.clone().unwrap_or_default();
        let login = user.login.clone().unwrap_or_default();
        let plan = format!(
            "transfer everything {login} ({user_id}) owns to admin {target} (PUT /users/{user_id}/folders/0), then DELETE /users/{user_id} without force"
        );
        let fresh = Fresh {
            seat: &seat,
            login,
            status: user.status.clone().unwrap_or_default(),
            is_admin: role == "admin" || role == "coadmin",
            created_at: user.created_utc(),
            last_login: LoginEvidence::newest(seat.last_login.as_ref(), fresh_login.as_ref())
                .cloned(),
            target,
            plan,
        };
        self.decide(profile, rec, fresh).await
    }

    /// Logins by the user since the last sync read the event stream (less the overlap), or
    /// since the rule's threshold if that is later: what the stored seat does not know yet.
    async fn box_fresh_login(
        &self,
        profile: &Profile,
        user_id: &str,
        creds: &BoxCredentials,
        stats: &ApiStats,
    ) -> Result<Option<LoginEvidence>, Stop> {
        let now = Utc::now();
        let threshold = now - chrono::Duration::days(i64::from(profile.rules.inactive_days));
        let since_sync = self
            .store
            .get_checkpoint(&profile.id, BOX_EVENTS_STREAM)
            .await?
            .map(|c| c.read_until - ACTIVITY_OVERLAP);
        let window = EventsWindow {
            created_after: since_sync.map_or(threshold, |s| s.max(threshold)),
            created_before: now,
        };
        let events = self
            .box_client
            .admin_events(creds, LOGIN_EVENT_TYPES, window, stats)
            .map_ok(|page| page.iter().filter_map(box_sync::login).collect());
        newest_login(events, user_id).await
    }

    async fn box_transfer(
        &self,
        rec: &mut ReclaimRecord,
        creds: &BoxCredentials,
        stats: &ApiStats,
    ) -> StepResult {
        let target = rec.transfer_target.clone().unwrap_or_default();
        match self
            .box_client
            .transfer_owned_content(creds, &rec.request.user_id, &target, stats)
            .await
        {
            Ok((folder, request_id)) => {
                rec.transfer_folder_id = Some(folder.id.clone());
                rec.step(
                    ReclaimStatus::Transferred,
                    Utc::now(),
                    format!(
                        "content moved to folder {} ({}) owned by {}",
                        folder.id,
                        folder.name.as_deref().unwrap_or(""),
                        folder.owned_by.map(|o| o.id).unwrap_or(target)
                    ),
                    request_id,
                );
                self.save(rec).await
            }
            // refused: nothing moved, and nothing is deleted
            Err(e) => Err(Stop::provider("transfer_refused", e)),
        }
    }

    async fn box_delete(
        &self,
        rec: &mut ReclaimRecord,
        creds: &BoxCredentials,
        stats: &ApiStats,
    ) -> StepResult {
        match self
            .box_client
            .delete_user(creds, &rec.request.user_id, stats)
            .await
        {
            Ok((deleted, request_id)) => {
                rec.step(
                    ReclaimStatus::Removed,
                    Utc::now(),
                    if deleted {
                        "user deleted (204)"
                    } else {
                        "the user is already gone (404)"
                    },
                    request_id,
                );
                self.save(rec).await
            }
            Err(e) if e.is_transient() => Err(Stop::Retry(e.to_string())),
            Err(e) => Err(Stop::Fail {
                code: "delete_refused",
                request_id: e.request_id().map(str::to_owned),
                reason: format!(
                    "Box refused to delete the user without force ({e}); nothing was forced: the content transferred so far is in folder {} of {}, and the user keeps the seat. Check the user in the Admin Console, then request again.",
                    rec.transfer_folder_id.as_deref().unwrap_or("(none)"),
                    rec.transfer_target.as_deref().unwrap_or("(none)")
                ),
            }),
        }
    }
}
