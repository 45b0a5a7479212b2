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
    Checkpoint, LicenseSummary, Profile, Provider, RunState, SyncJob, TaskKind, TaskRun, TaskStatus,
};
use crate::http::{ApiStats, ProviderError};
use crate::ports::{AccessError, ProfileRepo, QueueError, Repos, RunRepo, StoreError};

/// Longer than a Lambda can run, so a crashed holder's lease lapses before the next schedule.
const LEASE_TTL: Duration = Duration::from_secs(16 * 60);
/// How long past its deadline an invocation may hold the lease: longer than the default
/// `SYNC_DEADLINE_MARGIN_SECS` (60), so the lease outlives the invocation itself (the save is
/// fenced by the lease too: a save later than this is refused, never interleaved).
const SAVE_TIME: Duration = Duration::from_secs(90);

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
    /// The invocation's lease lapsed before it could save its run (it overran its deadline by
    /// more than the save allowance): the run goes on from its previous save.
    #[error("profile {0}: the sync lease lapsed before the run could be saved; it continues from its previous save")]
    LeaseLost(String),
    /// The run could not be saved at the deadline (the store failed): it continues from its
    /// previous save when the job is delivered again.
    #[error(
        "the run could not be saved at its deadline ({0}); it continues from its previous save"
    )]
    SaveFailed(StoreError),
    /// The roster-drop guard held this run's removals (the message says how to accept).
    #[error("{0}")]
    RosterHeld(String),
    /// The activity read outgrew what one run can hold (never met by a real tenant).
    #[error(transparent)]
    ActivityFull(#[from] crate::domain::ActivityFull),
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
    /// The run ended in this invocation (succeeded or failed): its task lines and metrics are
    /// emitted now. False for a continuation, and for an invocation whose save failed (the
    /// previous save stands: the job is handed back so its redelivery resumes it).
    #[serde(skip)]
    pub ended: bool,
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
            ended: true,
        }
    }

    /// A continuation whose run has already ended (a duplicate or late message): nothing ran.
    pub fn nothing_to_continue(profile_id: &str, run_id: &str) -> Self {
        Self {
            profile_id: profile_id.to_owned(),
            run_id: run_id.to_owned(),
            succeeded: true,
            error: None,
            tasks: Vec::new(),
            summaries: Vec::new(),
            continuation: None,
            ended: true,
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

/// Takes the profile's sync lease for one attempt (before anything of a saved run is read, so
/// two attempts never work from the same state); returns its owner, which is unique to the
/// attempt and also names the attempt's blobs. A run that stops at its deadline needs the lease
/// until its save is done; a crashed invocation's lease lapses soon after its deadline.
pub(crate) async fn take_lease(
    repos: &impl Repos,
    profile_id: &str,
    deadline: Option<Instant>,
) -> Result<String, SyncError> {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let owner = format!("attempt-{}", &nonce[..12]);
    let ttl = deadline.map_or(LEASE_TTL, |d| {
        (d.saturating_duration_since(Instant::now()) + SAVE_TIME).min(LEASE_TTL)
    });
    if repos
        .runs()
        .acquire_lease(profile_id, &owner, Utc::now(), ttl)
        .await?
    {
        Ok(owner)
    } else {
        Err(SyncError::Busy(profile_id.to_owned()))
    }
}

/// Gives the lease back when no run was started after all (nothing to continue).
pub(crate) async fn return_lease(repos: &impl Repos, profile_id: &str, owner: &str) {
    if let Err(e) = repos.runs().release_lease(profile_id, owner).await {
        tracing::warn!(profile = profile_id, error = %e, "could not release sync lease; it will expire");
    }
}

/// How a run's invocation ended without error.
#[derive(Debug)]
pub(crate) enum Flow {
    /// Every task ran.
    Done,
    /// The invocation's deadline came: the run saved where it was and goes on with this job.
    Continue(SyncJob),
}

/// One run of one profile's sync: what its tasks record into.
pub struct Run<'a, R> {
    pub(crate) repos: &'a R,
    pub(crate) profile: &'a Profile,
    pub(crate) run_id: String,
    pub(crate) started: DateTime<Utc>,
    pub(crate) progress: &'a dyn Progress,
    order: &'static [TaskKind],
    pub(crate) tasks: Vec<TaskRun>,
    pub(crate) summaries: Vec<LicenseSummary>,
    /// No provider wait of this run ends after it (the invocation's deadline less its margin).
    pub(crate) deadline: Option<Instant>,
    /// Which invocation of the run this is (1 for a fresh run).
    pub(crate) invocation: u32,
    /// The lease's owner: this attempt at this invocation of this run, so a duplicate
    /// continuation of the same run cannot work beside it; it also names this attempt's blobs.
    pub(crate) lease_owner: String,
    /// The state this invocation resumed (cleared when the run ends).
    pub(crate) resumed: Option<RunState>,
}

impl<'a, R: Repos> Run<'a, R> {
    /// Takes the profile's sync lease and starts a run of the tasks in `order`, or resumes
    /// the saved run `resume`.
    pub(crate) async fn start(
        repos: &'a R,
        profile: &'a Profile,
        progress: &'a dyn Progress,
        order: &'static [TaskKind],
        deadline: Option<Instant>,
        (lease_owner, resume): (String, Option<RunState>),
    ) -> Result<Run<'a, R>, SyncError> {
        let now = Utc::now();
        let (run_id, started, invocation) = match &resume {
            Some(s) => (s.run_id.clone(), s.started, s.invocations + 1),
            None => (new_run_id(now), now, 1),
        };
        let tasks = resume.as_ref().map(|s| s.tasks.clone()).unwrap_or_default();
        Ok(Run {
            repos,
            profile,
            run_id,
            started,
            progress,
            order,
            tasks,
            summaries: Vec::new(),
            deadline,
            invocation,
            lease_owner,
            resumed: resume,
        })
    }

    /// The task of `kind` as a saved run left it under way, if it did: it goes on with its
    /// counts (recorded again as running), else it starts now.
    pub(crate) async fn begin_or_resume(
        &mut self,
        kind: TaskKind,
    ) -> Result<(TaskRun, ApiStats), SyncError> {
        match self
            .resumed
            .as_mut()
            .and_then(|s| s.current.take_if(|t| t.task == kind))
        {
            Some(task) => {
                self.progress.task(kind.label());
                Ok((task, ApiStats::until(self.deadline)))
            }
            None => self.begin(kind).await,
        }
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
        crate::domain::activity::window_start(checkpoint, backfill, self.started)
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

    /// Ends this invocation. A run that continues releases the lease and reports its job; a run
    /// that ended (done or failed) clears its saved state, records the tasks that never ran as
    /// skipped, and releases the lease; one structured log line says what happened.
    pub(crate) async fn finish(mut self, result: Result<Flow, SyncError>) -> ProfileOutcome {
        let continuation = match &result {
            Ok(Flow::Continue(job)) => Some(job.clone()),
            _ => None,
        };
        // a lapsed lease or a failed save: the previous save stands (another invocation may be
        // working from it, or the job's redelivery resumes it); leave it
        let ended = continuation.is_none()
            && !matches!(
                result,
                Err(SyncError::LeaseLost(_) | SyncError::SaveFailed(_))
            );
        let mut error = result.err().map(|e| e.to_string());
        if ended && self.resumed.is_some() {
            // the task a failure interrupted before it was taken up again
            if let Some(mut t) = self.resumed.as_mut().and_then(|s| s.current.take()) {
                t.finish(Utc::now(), error.clone());
                if let Err(e) = self.repos.runs().put_task_run(&t).await {
                    tracing::warn!(error = %e, "could not record the interrupted task");
                }
                self.tasks.push(t);
            }
        }
        if ended {
            // also after a save in an earlier invocation of this one: never resume a run that ended
            if let Err(e) = self
                .repos
                .runs()
                .clear_run_state(&self.profile.id, &self.run_id)
                .await
            {
                tracing::warn!(profile = %self.profile.id, error = %e, "could not clear the run's saved state; the next run sees it already ended");
            }
        }
        if error.is_some() && ended {
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
            .release_lease(&self.profile.id, &self.lease_owner)
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
            continuation,
            ended,
        };
        log_outcome(
            self.profile.provider,
            &outcome,
            self.started,
            self.invocation,
        );
        outcome
    }
}

/// One structured log line per profile run (CloudWatch Logs Insights friendly).
fn log_outcome(provider: Provider, o: &ProfileOutcome, started: DateTime<Utc>, invocation: u32) {
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
        invocation,
        continues = o.continuation.is_some(),
        "sync run"
    );
}
