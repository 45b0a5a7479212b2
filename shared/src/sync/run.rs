//! One sync run of one profile, whatever the provider: the lease, task runs recorded as they start
//! and end, skipped tasks after a failure, the outcome and its log line.
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use thiserror::Error;

use super::Progress;
use crate::candidates::CandidateError;
use crate::domain::profile::LastSync;
use crate::domain::task::new_run_id;
use crate::domain::{
    Checkpoint, LicenseSummary, Profile, Provider, TaskKind, TaskRun, TaskStatus, ACTIVITY_OVERLAP,
};
use crate::http::{ApiStats, ProviderError};
use crate::ports::{AccessError, ProfileRepo, QueueError, Repos, RunRepo, StoreError};

/// Longer than a Lambda can run, so a crashed holder's lease lapses before the next schedule.
const LEASE_TTL: Duration = Duration::from_secs(16 * 60);

#[derive(Debug, Error)]
pub enum SyncError {
    #[error("profile {0} does not exist")]
    UnknownProfile(String),
    #[error("profile {0} is a {1} profile, not a {2} profile")]
    WrongProvider(String, Provider, Provider),
    #[error("profile {0} is disabled")]
    Disabled(String),
    #[error("profile {0} is being synced by another run (lease held); try again later")]
    Busy(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The provider could not be reached with the profile's credentials, or refused them.
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// Notify mode could not do its part (not configured, or the random source failed).
    #[error(transparent)]
    Notify(#[from] crate::notify::NotifyError),
    /// The roster-drop guard held this run's removals (the message says how to accept).
    #[error("{0}")]
    RosterHeld(String),
}

impl From<CandidateError> for SyncError {
    fn from(e: CandidateError) -> Self {
        match e {
            CandidateError::Store(e) => SyncError::Store(e),
            CandidateError::Queue(e) => SyncError::Queue(e),
        }
    }
}

/// What one profile's sync did.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileOutcome {
    pub profile_id: String,
    pub run_id: String,
    pub succeeded: bool,
    pub error: Option<String>,
    pub tasks: Vec<TaskRun>,
    /// The license summaries the License Information task stored (empty if it did not run):
    /// the sync's metric line is built from them without reading them back.
    #[serde(skip)]
    pub summaries: Vec<LicenseSummary>,
    /// The run reached its invocation's deadline, saved where it was, and goes on in a later
    /// invocation: this is the job that continues it (posted on the sync queue by the Lambda
    /// handler; looped over by `seatctl sync` and the benchmark driver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation: Option<crate::domain::SyncJob>,
}

impl ProfileOutcome {
    /// A profile whose sync could not even start (unknown, disabled, busy).
    pub fn not_started(profile_id: &str, e: &SyncError) -> Self {
        Self {
            profile_id: profile_id.to_owned(),
            run_id: String::new(),
            succeeded: false,
            error: Some(e.to_string()),
            tasks: Vec::new(),
            summaries: Vec::new(),
            continuation: None,
        }
    }

    pub fn task(&self, kind: TaskKind) -> Option<&TaskRun> {
        self.tasks.iter().find(|t| t.task == kind)
    }
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

/// The profile, if it exists, is of `provider` and is enabled.
pub(super) async fn load_profile(
    profiles: &impl ProfileRepo,
    id: &str,
    provider: Provider,
) -> Result<Profile, SyncError> {
    let p = profiles
        .get(id)
        .await?
        .ok_or_else(|| SyncError::UnknownProfile(id.to_owned()))?;
    if p.provider != provider {
        return Err(SyncError::WrongProvider(p.id, p.provider, provider));
    }
    if !p.enabled {
        return Err(SyncError::Disabled(p.id));
    }
    Ok(p)
}

/// The ids of a provider's enabled profiles.
pub(super) async fn enabled_profiles(
    profiles: &impl ProfileRepo,
    provider: Provider,
) -> Result<Vec<String>, SyncError> {
    Ok(profiles
        .list()
        .await?
        .into_iter()
        .filter(|p| p.provider == provider && p.enabled)
        .map(|p| p.id)
        .collect())
}

/// One run of one profile's sync: what its tasks record into.
pub struct Run<'a, R> {
    pub(crate) repos: &'a R,
    pub(crate) profile: &'a Profile,
    pub(crate) run_id: String,
    pub(crate) started: DateTime<Utc>,
    pub(crate) progress: &'a dyn Progress,
    order: &'static [TaskKind],
    tasks: Vec<TaskRun>,
    pub(crate) summaries: Vec<LicenseSummary>,
    /// No provider wait of this run ends after it (the invocation's deadline less its margin).
    pub(crate) deadline: Option<Instant>,
}

impl<'a, R: Repos> Run<'a, R> {
    /// Takes the profile's sync lease and starts a run of the tasks in `order`.
    pub(crate) async fn start(
        repos: &'a R,
        profile: &'a Profile,
        progress: &'a dyn Progress,
        order: &'static [TaskKind],
        deadline: Option<Instant>,
    ) -> Result<Run<'a, R>, SyncError> {
        let started = Utc::now();
        let run_id = new_run_id(started);
        if !repos
            .runs()
            .acquire_lease(&profile.id, &run_id, started, LEASE_TTL)
            .await?
        {
            return Err(SyncError::Busy(profile.id.clone()));
        }
        Ok(Run {
            repos,
            profile,
            run_id,
            started,
            progress,
            order,
            tasks: Vec::new(),
            summaries: Vec::new(),
            deadline,
        })
    }

    /// Records a task as running and gives it its own call accounting.
    pub(crate) async fn begin(&mut self, kind: TaskKind) -> Result<(TaskRun, ApiStats), SyncError> {
        self.progress.task(kind.label());
        let task = TaskRun::start(&self.profile.id, &self.run_id, kind, Utc::now());
        self.repos.runs().put_task_run(&task).await?;
        Ok((task, ApiStats::until(self.deadline)))
    }

    /// Records how a task ended (counts, calls, error) and passes its result on.
    pub(crate) async fn end<T>(
        &mut self,
        mut task: TaskRun,
        stats: &ApiStats,
        result: Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        task.counts.add_api(stats.snapshot());
        task.finish(Utc::now(), result.as_ref().err().map(ToString::to_string));
        self.repos.runs().put_task_run(&task).await?;
        self.tasks.push(task);
        result
    }

    /// The activity stream's checkpoint, if a finished run left one.
    pub(crate) async fn checkpoint(&self, stream: &str) -> Result<Option<Checkpoint>, SyncError> {
        Ok(self
            .repos
            .runs()
            .get_checkpoint(&self.profile.id, stream)
            .await?)
    }

    /// Where this run's activity read starts: the last finished run's checkpoint less the
    /// overlap, or the profile's backfill window on a first sync. It ends at the run's start.
    pub(crate) fn activity_start_from(
        &self,
        checkpoint: Option<&Checkpoint>,
        default_backfill_days: u32,
    ) -> DateTime<Utc> {
        let backfill = self.profile.backfill_days.unwrap_or(default_backfill_days);
        checkpoint
            .map(|c| c.read_until - ACTIVITY_OVERLAP)
            .unwrap_or(self.started - chrono::Duration::days(i64::from(backfill)))
    }

    /// After every task succeeded: move the activity checkpoint and record the finished sync,
    /// with since when activity has been read without a gap (on the checkpoint, and on the
    /// profile's last sync for the rules).
    pub(crate) async fn commit(
        &self,
        stream: &str,
        read_until: DateTime<Utc>,
        observed_since: Option<DateTime<Utc>>,
    ) -> Result<(), SyncError> {
        let now = Utc::now();
        self.repos
            .runs()
            .put_checkpoint(
                &self.profile.id,
                &Checkpoint {
                    stream: stream.into(),
                    read_until,
                    run_id: self.run_id.clone(),
                    updated_at: now,
                    observed_since,
                },
            )
            .await?;
        self.repos
            .profiles()
            .set_last_sync(
                &self.profile.id,
                &LastSync {
                    run_id: self.run_id.clone(),
                    finished_at: now,
                    observed_since,
                },
            )
            .await?;
        Ok(())
    }

    /// Ends the run: tasks that never ran are recorded as skipped, the lease is released, and
    /// one structured log line says what happened.
    pub(crate) async fn finish(mut self, result: Result<(), SyncError>) -> ProfileOutcome {
        let mut error = result.err().map(|e| e.to_string());
        if error.is_some() {
            let now = Utc::now();
            for &kind in self.order {
                if !self.tasks.iter().any(|t| t.task == kind) {
                    let t = TaskRun::skipped(
                        &self.profile.id,
                        &self.run_id,
                        kind,
                        now,
                        "an earlier task of this run failed",
                    );
                    if let Err(e) = self.repos.runs().put_task_run(&t).await {
                        tracing::warn!(error = %e, "could not record a skipped task");
                    }
                    self.tasks.push(t);
                }
            }
        }
        if let Err(e) = self
            .repos
            .runs()
            .release_lease(&self.profile.id, &self.run_id)
            .await
        {
            tracing::warn!(profile = %self.profile.id, error = %e, "could not release sync lease; it will expire");
            error.get_or_insert_with(|| e.to_string());
        }
        let outcome = ProfileOutcome {
            profile_id: self.profile.id.clone(),
            run_id: self.run_id.clone(),
            succeeded: error.is_none(),
            error,
            tasks: std::mem::take(&mut self.tasks),
            summaries: std::mem::take(&mut self.summaries),
            continuation: None,
        };
        log_outcome(self.profile.provider, &outcome, self.started);
        outcome
    }
}

/// One structured log line per profile run (CloudWatch Logs Insights friendly).
fn log_outcome(provider: Provider, o: &ProfileOutcome, started: DateTime<Utc>) {
    let count = |k: TaskKind| o.task(k).map(|t| t.counts.clone()).unwrap_or_default();
    let roster = count(TaskKind::ApplicationRoster);
    let activity = count(TaskKind::Activity);
    let sum = |f: fn(&TaskRun) -> u64| o.tasks.iter().map(f).sum::<u64>();
    let failed_task = o
        .tasks
        .iter()
        .find(|t| t.status == TaskStatus::Failed)
        .map(|t| t.task.label());
    tracing::info!(
        provider = provider.as_str(),
        profile = %o.profile_id,
        run_id = %o.run_id,
        succeeded = o.succeeded,
        failed_task,
        error = o.error.as_deref(),
        duration_ms = (Utc::now() - started).num_milliseconds(),
        api_calls = sum(|t| t.counts.api_calls),
        retries = sum(|t| t.counts.retries),
        throttled = sum(|t| t.counts.throttled),
        seats_seen = roster.seats_seen,
        seats_new = roster.seats_new,
        seats_changed = roster.seats_changed,
        seats_removed = roster.seats_removed,
        events_read = activity.events_read,
        "sync run"
    );
}
