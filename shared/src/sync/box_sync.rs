use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{pin_mut, TryStreamExt};
use serde::Serialize;
use thiserror::Error;

use super::{new_run_id, Progress};
use crate::domain::profile::LastSync;
use crate::domain::{
    reconcile, LicenseTally, LoginAggregator, LoginEvidence, ObservedSeat, Profile, Provider,
    SeatDecision, TaskKind, TaskRun, TaskStatus,
};
use crate::http::{ApiStats, ProviderError};
use crate::providers::box_api::{BoxClient, BoxUser, EventsWindow, LOGIN_EVENT_TYPES};
use crate::secrets::{SecretError, SecretStore};
use crate::store::{Checkpoint, Store, StoreError};

/// The activity stream's checkpoint name.
const EVENTS_STREAM: &str = "box_admin_logs_logins";
/// A seat counts as active in License Information with a login this recent (days).
pub const ACTIVE_WITHIN_DAYS: u32 = 60;
/// Longer than a Lambda can run, so a crashed holder's lease lapses before the next schedule.
const LEASE_TTL: Duration = Duration::from_secs(16 * 60);
/// Event ids remembered for de-duplication: two admin_logs pages.
const DEDUP_WINDOW: usize = 1000;
/// Each activity window starts this long before the last one ended: Box's admin_logs are
/// delivered with latency, so an event created just before the checkpoint can appear after it
/// was read. Re-reading is harmless (the last login is a maximum) and costs a few pages.
pub const ACTIVITY_OVERLAP: chrono::Duration = chrono::Duration::hours(1);

#[derive(Debug, Error)]
pub enum SyncError {
    #[error("profile {0} does not exist")]
    UnknownProfile(String),
    #[error("profile {0} is a {1} profile, not a Box profile")]
    WrongProvider(String, Provider),
    #[error("profile {0} is disabled")]
    Disabled(String),
    #[error("profile {0} is being synced by another run (lease held); try again later")]
    Busy(String),
    #[error("profile {id}: {message}")]
    BadProfile { id: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// What one profile's sync did.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileOutcome {
    pub profile_id: String,
    pub run_id: String,
    pub succeeded: bool,
    pub error: Option<String>,
    pub tasks: Vec<TaskRun>,
}

/// What an invocation did, profile by profile (the Lambda's response).
#[derive(Debug, Clone, Serialize, Default)]
pub struct SyncReport {
    pub profiles: Vec<ProfileOutcome>,
}

impl SyncReport {
    pub fn failed(&self) -> Vec<&ProfileOutcome> {
        self.profiles.iter().filter(|p| !p.succeeded).collect()
    }
}

/// Syncs Box profiles: roster, license types, activity and license information.
pub struct BoxSync {
    store: Store,
    secrets: SecretStore,
    client: BoxClient,
    default_backfill_days: u32,
}

impl BoxSync {
    pub fn new(
        store: Store,
        secrets: SecretStore,
        client: BoxClient,
        default_backfill_days: u32,
    ) -> Self {
        Self {
            store,
            secrets,
            client,
            default_backfill_days,
        }
    }

    /// Every enabled Box profile, one after another; one failing does not stop the others.
    pub async fn sync_all(&self, progress: &dyn Progress) -> Result<SyncReport, SyncError> {
        let mut report = SyncReport::default();
        for p in self.store.list_profiles().await? {
            if p.provider != Provider::Box || !p.enabled {
                continue;
            }
            report
                .profiles
                .push(self.sync_or_record(&p.id, progress).await);
        }
        Ok(report)
    }

    /// One profile, with any failure captured in the outcome rather than returned.
    pub async fn sync_or_record(
        &self,
        profile_id: &str,
        progress: &dyn Progress,
    ) -> ProfileOutcome {
        match self.sync_profile(profile_id, progress).await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(profile = profile_id, error = %e, "box sync could not run");
                ProfileOutcome {
                    profile_id: profile_id.to_owned(),
                    run_id: String::new(),
                    succeeded: false,
                    error: Some(e.to_string()),
                    tasks: Vec::new(),
                }
            }
        }
    }

    /// Syncs one profile. Errors before any task starts (unknown profile, lease held) are
    /// returned; a failing task is recorded and reported in the outcome.
    pub async fn sync_profile(
        &self,
        profile_id: &str,
        progress: &dyn Progress,
    ) -> Result<ProfileOutcome, SyncError> {
        let profile = self
            .store
            .get_profile(profile_id)
            .await?
            .ok_or_else(|| SyncError::UnknownProfile(profile_id.to_owned()))?;
        if profile.provider != Provider::Box {
            return Err(SyncError::WrongProvider(profile.id, profile.provider));
        }
        if !profile.enabled {
            return Err(SyncError::Disabled(profile.id));
        }
        let started = Utc::now();
        let run_id = new_run_id(started);
        if !self
            .store
            .acquire_sync_lease(&profile.id, &run_id, started, LEASE_TTL)
            .await?
        {
            return Err(SyncError::Busy(profile.id));
        }
        let mut run = Run {
            sync: self,
            profile: &profile,
            run_id: run_id.clone(),
            tasks: Vec::new(),
            progress,
        };
        let result = run.execute(started).await;
        let tasks = std::mem::take(&mut run.tasks);
        if let Err(e) = self.store.release_sync_lease(&profile.id, &run_id).await {
            tracing::warn!(profile = %profile.id, error = %e, "could not release sync lease; it will expire");
        }
        let outcome = ProfileOutcome {
            profile_id: profile.id.clone(),
            run_id,
            succeeded: result.is_ok(),
            error: result.err().map(|e| e.to_string()),
            tasks,
        };
        log_outcome(&outcome, started);
        Ok(outcome)
    }
}

/// One sync run of one profile: its tasks in order, each recorded as it starts and ends.
struct Run<'a> {
    sync: &'a BoxSync,
    profile: &'a Profile,
    run_id: String,
    tasks: Vec<TaskRun>,
    progress: &'a dyn Progress,
}

const ORDER: [TaskKind; 5] = [
    TaskKind::ApplicationAccess,
    TaskKind::Activity,
    TaskKind::ApplicationRoster,
    TaskKind::LicenseDifferentiation,
    TaskKind::LicenseInformation,
];

impl Run<'_> {
    async fn execute(&mut self, started: DateTime<Utc>) -> Result<(), SyncError> {
        let r = self.tasks_in_order(started).await;
        if r.is_err() {
            // later tasks did not run: say so, so nobody reads stale numbers as today's
            let now = Utc::now();
            for kind in ORDER {
                if !self.tasks.iter().any(|t| t.task == kind) {
                    let t = TaskRun::skipped(
                        &self.profile.id,
                        &self.run_id,
                        kind,
                        now,
                        "an earlier task of this run failed",
                    );
                    self.sync.store.put_task_run(&t).await?;
                    self.tasks.push(t);
                }
            }
        }
        r
    }

    async fn tasks_in_order(&mut self, started: DateTime<Utc>) -> Result<(), SyncError> {
        let sync = self.sync;
        let profile = self.profile;
        let progress = self.progress;

        // Application Access: credentials from Secrets Manager, then a token.
        let (mut task, stats) = self.begin(TaskKind::ApplicationAccess).await?;
        let r = async {
            let creds = sync
                .secrets
                .box_credentials(&profile.credentials_secret)
                .await?;
            if Some(creds.enterprise_id.as_str()) != profile.box_enterprise_id.as_deref() {
                return Err(SyncError::BadProfile {
                    id: profile.id.clone(),
                    message: format!(
                        "credentials are for enterprise {} but the profile is enterprise {}",
                        creds.enterprise_id,
                        profile.box_enterprise_id.as_deref().unwrap_or("(none)")
                    ),
                });
            }
            let fetched = sync.client.authenticate(&creds, &stats).await?;
            task.detail = Some(
                if fetched {
                    "new access token"
                } else {
                    "cached access token"
                }
                .into(),
            );
            Ok(creds)
        }
        .await;
        let creds = self.end(task, &stats, r).await?;

        // Activity: logins in the window since the checkpoint (or the backfill window).
        let checkpoint = sync
            .store
            .get_checkpoint(&profile.id, EVENTS_STREAM)
            .await?;
        let backfill = profile.backfill_days.unwrap_or(sync.default_backfill_days);
        let window = EventsWindow {
            created_after: checkpoint
                .as_ref()
                .map(|c| c.read_until - ACTIVITY_OVERLAP)
                .unwrap_or(started - chrono::Duration::days(i64::from(backfill))),
            created_before: started,
        };
        let (mut task, stats) = self.begin(TaskKind::Activity).await?;
        task.detail = Some(format!(
            "admin_logs {} from {} to {}",
            LOGIN_EVENT_TYPES.join(","),
            window.created_after.to_rfc3339(),
            window.created_before.to_rfc3339()
        ));
        let r = async {
            let mut agg = LoginAggregator::new(DEDUP_WINDOW);
            let events = sync
                .client
                .admin_events(&creds, LOGIN_EVENT_TYPES, window, &stats);
            pin_mut!(events);
            while let Some(page) = events.try_next().await? {
                for e in page {
                    let (Some(user), Some(at)) = (e.created_by.as_ref(), e.created_at) else {
                        continue;
                    };
                    agg.add(
                        &user.id,
                        LoginEvidence {
                            at: at.with_timezone(&Utc),
                            event_id: e.event_id.clone(),
                            event_type: e.event_type.clone().unwrap_or_default(),
                        },
                    );
                }
                progress.advanced(0, agg.events_read);
            }
            task.counts.events_read = agg.events_read;
            task.counts.events_duplicate = agg.duplicates;
            task.counts.users_with_logins = agg.users() as u64;
            Ok(agg)
        }
        .await;
        let logins = self.end(task, &stats, r).await?;

        // Application Roster (and each seat's license type): stream users, write what changed.
        let (mut task, stats) = self.begin(TaskKind::ApplicationRoster).await?;
        let run_id = self.run_id.clone();
        let r = async {
            let mut index = sync.store.seat_index(&profile.id).await?;
            let mut tally = LicenseTally::default();
            let now = started;
            let users = sync.client.users(&creds, &stats);
            pin_mut!(users);
            while let Some(page) = users.try_next().await? {
                let mut writes = Vec::new();
                for u in page {
                    if !u.is_seat() {
                        task.counts.non_seats_skipped += 1;
                        continue;
                    }
                    let observed = observe(profile, &u);
                    task.counts.seats_seen += 1;
                    if !observed.license_managed {
                        task.counts.seats_unmanaged += 1;
                    }
                    let stored = index.see(&observed.user_id);
                    let window_login = logins.latest(&observed.user_id);
                    let latest = LoginEvidence::newest(
                        stored.and_then(|s| s.last_login.as_ref()),
                        window_login,
                    );
                    tally.add(
                        &observed.license_type,
                        observed.license_managed,
                        latest,
                        now,
                        ACTIVE_WITHIN_DAYS,
                    );
                    match reconcile(
                        &profile.id,
                        Provider::Box,
                        observed,
                        stored,
                        window_login,
                        now,
                        &run_id,
                    ) {
                        SeatDecision::New(s) => {
                            task.counts.seats_new += 1;
                            writes.push(s);
                        }
                        SeatDecision::Changed(s) => {
                            task.counts.seats_changed += 1;
                            writes.push(s);
                        }
                        SeatDecision::Unchanged => task.counts.seats_unchanged += 1,
                    }
                }
                task.counts.items_written += sync.store.put_seats(&writes).await? as u64;
                progress.advanced(task.counts.seats_seen, 0);
            }
            // The roster finished: whoever was not in it has left the tenant.
            for user_id in index.gone() {
                if sync
                    .store
                    .mark_seat_removed(&profile.id, &user_id, now, &run_id)
                    .await?
                {
                    task.counts.seats_removed += 1;
                    task.counts.items_written += 1;
                }
            }
            Ok(tally)
        }
        .await;
        let tally = self.end(task, &stats, r).await?;

        // License Differentiation: which license types the seats carry, and which are unmanaged.
        let summaries = tally.summaries(profile, started, &self.run_id, ACTIVE_WITHIN_DAYS);
        let (mut task, stats) = self.begin(TaskKind::LicenseDifferentiation).await?;
        task.counts.seats_seen = summaries.iter().map(|s| u64::from(s.assigned)).sum();
        task.counts.seats_unmanaged = summaries
            .iter()
            .filter(|s| !s.managed)
            .map(|s| u64::from(s.assigned))
            .sum();
        task.detail = Some(
            summaries
                .iter()
                .map(|s| {
                    format!(
                        "{}={}{}",
                        s.license_type,
                        s.assigned,
                        if s.managed { "" } else { " (unmanaged)" }
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        );
        self.end(task, &stats, Ok(())).await?;

        // License Information: purchased (entitlements) vs assigned vs active, with cost.
        let (mut task, stats) = self.begin(TaskKind::LicenseInformation).await?;
        let r = sync
            .store
            .put_license_summaries(&summaries)
            .await
            .map_err(SyncError::from);
        task.counts.items_written = summaries.len() as u64;
        task.detail = Some(
            summaries
                .iter()
                .map(|s| {
                    format!(
                        "{}: purchased {} assigned {} active {}",
                        s.license_type,
                        s.purchased
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| "?".into()),
                        s.assigned,
                        s.active
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        );
        self.end(task, &stats, r).await?;

        // Everything finished: only now does the activity checkpoint move.
        let now = Utc::now();
        sync.store
            .put_checkpoint(
                &profile.id,
                &Checkpoint {
                    stream: EVENTS_STREAM.into(),
                    read_until: window.created_before,
                    run_id: self.run_id.clone(),
                    updated_at: now,
                },
            )
            .await?;
        sync.store
            .set_last_sync(
                &profile.id,
                &LastSync {
                    run_id: self.run_id.clone(),
                    finished_at: now,
                },
            )
            .await?;
        Ok(())
    }

    /// Records a task as running and gives it its own call accounting.
    async fn begin(&mut self, kind: TaskKind) -> Result<(TaskRun, ApiStats), SyncError> {
        self.progress.task(kind.label());
        let task = TaskRun::start(&self.profile.id, &self.run_id, kind, Utc::now());
        self.sync.store.put_task_run(&task).await?;
        Ok((task, ApiStats::default()))
    }

    /// Records how a task ended (counts, calls, error) and passes its result on.
    async fn end<T>(
        &mut self,
        mut task: TaskRun,
        stats: &ApiStats,
        result: Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        task.counts.add_api(stats.snapshot());
        task.finish(Utc::now(), result.as_ref().err().map(ToString::to_string));
        self.sync.store.put_task_run(&task).await?;
        self.tasks.push(task);
        result
    }
}

/// A Box user as a seat: license type from the profile (plan or tracking code).
fn observe(profile: &Profile, u: &BoxUser) -> ObservedSeat {
    let role = u.role.clone().unwrap_or_else(|| "user".into());
    let license_type = profile.box_license_type(&u.tracking_pairs());
    ObservedSeat {
        user_id: u.id.clone(),
        login: u.login.clone().unwrap_or_default(),
        name: u.name.clone().unwrap_or_default(),
        status: u.status.clone().unwrap_or_default(),
        is_admin: role == "admin" || role == "coadmin",
        role,
        license_managed: profile.manages(&license_type),
        license_type,
        created_at: u.created_utc(),
    }
}

/// One structured log line per profile run (CloudWatch Logs Insights friendly).
fn log_outcome(o: &ProfileOutcome, started: DateTime<Utc>) {
    let count = |k: TaskKind| {
        o.tasks
            .iter()
            .find(|t| t.task == k)
            .map(|t| t.counts.clone())
            .unwrap_or_default()
    };
    let roster = count(TaskKind::ApplicationRoster);
    let activity = count(TaskKind::Activity);
    let api_calls: u64 = o.tasks.iter().map(|t| t.counts.api_calls).sum();
    let throttled: u64 = o.tasks.iter().map(|t| t.counts.throttled).sum();
    let retries: u64 = o.tasks.iter().map(|t| t.counts.retries).sum();
    let failed_task = o
        .tasks
        .iter()
        .find(|t| t.status == TaskStatus::Failed)
        .map(|t| t.task.label());
    tracing::info!(
        provider = "box",
        profile = %o.profile_id,
        run_id = %o.run_id,
        succeeded = o.succeeded,
        failed_task,
        error = o.error.as_deref(),
        duration_ms = (Utc::now() - started).num_milliseconds(),
        api_calls,
        retries,
        throttled,
        seats_seen = roster.seats_seen,
        seats_new = roster.seats_new,
        seats_changed = roster.seats_changed,
        seats_removed = roster.seats_removed,
        events_read = activity.events_read,
        "box sync run"
    );
}
