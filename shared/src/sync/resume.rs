//! A run that reaches its invocation's deadline: what it carries from one invocation to the next
//! ([`Carry`]), how it saves ([`save`]) and how a saved run is found again ([`saved_run`]).
use chrono::{DateTime, Utc};

use super::run::{Run, SyncError};
use crate::domain::{
    ActivityAggregator, ActivityScope, BlobRef, Checkpoint, IndexTicket, LicenseTally, Profile,
    RunStage, RunState, SyncJob, TaskKind, TaskRun, TaskStatus, SYNC_JOB_VERSION,
};
use crate::http::ApiStats;
use crate::ports::{Repos, RunRepo, StoreError, Window};

/// What a run carries across invocations besides its stage: the activity window and the
/// checkpoint it started from, and the stored blobs of what it has read.
#[derive(Debug, Clone)]
pub(crate) struct Carry {
    pub scope: ActivityScope,
    pub roster_present: Option<u64>,
    pub window: Window,
    pub checkpoint: Option<Checkpoint>,
    pub activity: Option<BlobRef>,
    pub seen: Vec<BlobRef>,
    pub index: Option<IndexTicket>,
    /// the saved state says an invocation began writing seats after it ([`RunState::writing`])
    pub writing: bool,
    pub tally: LicenseTally,
}

impl Carry {
    pub fn fresh(scope: ActivityScope, window: Window, checkpoint: Option<Checkpoint>) -> Self {
        Self {
            scope,
            roster_present: None,
            window,
            checkpoint,
            activity: None,
            seen: Vec::new(),
            index: None,
            writing: false,
            tally: LicenseTally::default(),
        }
    }

    pub fn from_state(s: &RunState) -> Self {
        Self {
            scope: s.scope,
            roster_present: s.roster_present,
            window: Window {
                start: s.window_start,
                end: s.window_end,
            },
            checkpoint: s.checkpoint.clone(),
            activity: s.activity.clone(),
            seen: s.seen.clone(),
            index: s.index.clone(),
            writing: s.writing,
            tally: s.tally.clone(),
        }
    }
}

/// The blob-name part of this attempt (`<invocation>-<nonce>`): two attempts at one invocation
/// never overwrite each other's blobs, so a saved state names exactly what its attempt wrote.
fn attempt(run: &Run<'_, impl Repos>) -> String {
    format!("{}-{}", run.invocation, run.lease_owner)
}

fn corrupt(e: serde_json::Error) -> SyncError {
    SyncError::Store(StoreError::corrupt("run state", e))
}

/// The activity a saved run had read (`None`: none stored; a fresh aggregator).
pub(crate) async fn load_activity(
    runs: &impl RunRepo,
    run_id: &str,
    profile_id: &str,
    blob: Option<&BlobRef>,
    dedup_window: usize,
) -> Result<ActivityAggregator, SyncError> {
    match blob {
        None => Ok(ActivityAggregator::new(dedup_window)),
        Some(b) => {
            let bytes = runs.get_run_blob(profile_id, run_id, b).await?;
            ActivityAggregator::from_json(&bytes).map_err(corrupt)
        }
    }
}

/// One stored record of what an invocation's roster showed.
pub(crate) enum Seen {
    /// seat index entries: each seat and the state the invocation left it in
    States(Vec<u8>),
    /// user ids (a run saved by an earlier version)
    Ids(Vec<String>),
}

/// Where an invocation's record of the seats it saw is stored.
const STATES: &str = "states-";

/// One stored `seen` blob.
pub(crate) async fn load_seen(
    runs: &impl RunRepo,
    run_id: &str,
    profile_id: &str,
    blob: &BlobRef,
) -> Result<Seen, SyncError> {
    let bytes = runs.get_run_blob(profile_id, run_id, blob).await?;
    if blob.name.starts_with(STATES) {
        return Ok(Seen::States(bytes));
    }
    serde_json::from_slice(&bytes)
        .map(Seen::Ids)
        .map_err(corrupt)
}

/// What a save writes besides the state: the activity (when not stored yet in its current
/// form) and the seats the roster showed in this invocation, with the states it left them in.
pub(crate) struct SaveParts<'a> {
    pub activity: Option<&'a ActivityAggregator>,
    pub seen: Option<Vec<u8>>,
}

/// Saves the run at `stage` (blobs first, then the state that names them, so a crash between
/// the two leaves the previous state whole) and returns the job that continues it. `task` is
/// the task under way, with this invocation's calls added to its counts.
pub(crate) async fn save<R: Repos>(
    run: &Run<'_, R>,
    carry: &mut Carry,
    stage: RunStage,
    task: Option<(TaskRun, &ApiStats)>,
    parts: SaveParts<'_>,
) -> Result<SyncJob, SyncError> {
    let runs = run.repos.runs();
    let (pid, run_id, n) = (&run.profile.id, &run.run_id, run.invocation);
    if let Some(a) = parts.activity {
        let bytes = serde_json::to_vec(a).map_err(corrupt)?;
        carry.activity = Some(
            runs.put_run_blob(pid, run_id, &format!("activity-{}", attempt(run)), &bytes)
                .await
                .map_err(SyncError::SaveFailed)?,
        );
    }
    if let Some(bytes) = parts.seen.filter(|b| !b.is_empty()) {
        carry.seen.push(
            runs.put_run_blob(pid, run_id, &format!("{STATES}{}", attempt(run)), &bytes)
                .await
                .map_err(SyncError::SaveFailed)?,
        );
    }
    let current = match task {
        Some((mut t, stats)) => {
            t.counts.add_api(stats.snapshot());
            runs.put_task_run(&t).await.map_err(SyncError::SaveFailed)?;
            Some(t)
        }
        None => None,
    };
    let state = RunState {
        profile_id: pid.clone(),
        run_id: run_id.clone(),
        started: run.started,
        saved_at: Utc::now(),
        invocations: n,
        stage,
        window_start: carry.window.start,
        window_end: carry.window.end,
        checkpoint: carry.checkpoint.clone(),
        tasks: run.tasks.clone(),
        current,
        activity: carry.activity.clone(),
        seen: carry.seen.clone(),
        index: carry.index.clone(),
        writing: false,
        tally: carry.tally.clone(),
        scope: carry.scope,
        roster_present: carry.roster_present,
    };
    if !runs
        .put_run_state(&state, &run.lease_owner)
        .await
        .map_err(SyncError::SaveFailed)?
    {
        return Err(SyncError::LeaseLost(pid.clone()));
    }
    Ok(SyncJob {
        version: SYNC_JOB_VERSION,
        profile: pid.clone(),
        run_id: Some(run_id.clone()),
        continuation: Some(serde_json::json!({ "invocation": n + 1 })),
    })
}

/// Marks the saved state before this invocation writes seats ([`RunState::writing`]); its
/// save clears the mark.
pub(crate) async fn mark_writing<R: Repos>(run: &Run<'_, R>) -> Result<(), SyncError> {
    let runs = run.repos.runs();
    let pid = &run.profile.id;
    let Some(mut state) = runs
        .get_run_state(pid)
        .await?
        .filter(|s| s.run_id == run.run_id)
    else {
        return Err(SyncError::LeaseLost(pid.clone()));
    };
    state.writing = true;
    if !runs.put_run_state(&state, &run.lease_owner).await? {
        return Err(SyncError::LeaseLost(pid.clone()));
    }
    Ok(())
}

/// The profile's saved run, if it should be resumed (read while holding the lease). A state
/// whose run already ended (its clear failed: the run's sync is recorded finished, or a task of
/// it failed or its Reclamation ended) is cleared; one older than `max_age`, or whose profile's
/// activity setting changed since it started, is abandoned: its task under way is recorded
/// failed, the state cleared, and the next run starts afresh.
pub(crate) async fn saved_run(
    repos: &impl Repos,
    profile: &Profile,
    max_age: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Option<RunState>, SyncError> {
    let runs = repos.runs();
    let Some(state) = runs.get_run_state(&profile.id).await? else {
        return Ok(None);
    };
    // the run's sync is recorded finished before Reclamation, its last stage
    let synced = state.stage != RunStage::Reclamation
        && profile
            .last_sync
            .as_ref()
            .is_some_and(|l| l.run_id == state.run_id);
    let ended = synced
        || runs
            .task_runs(&profile.id, 30)
            .await?
            .iter()
            .filter(|t| t.run_id == state.run_id)
            .any(|t| {
                t.status == TaskStatus::Failed
                    || (t.task == TaskKind::Reclamation && t.status != TaskStatus::Running)
            });
    if ended {
        runs.clear_run_state(&profile.id, &state.run_id).await?;
        return Ok(None);
    }
    let why = if state.age(now) > max_age {
        Some(format!(
            "abandoned: the run started at {} and had not finished {} hours later (after {} invocation(s)); the next run starts afresh",
            state.started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            max_age.num_hours(),
            state.invocations
        ))
    } else if state.scope != profile.rules.activity {
        Some(format!(
            "abandoned: the profile's activity setting changed from {} to {} during the run; the next run starts afresh with the new one",
            state.scope, profile.rules.activity
        ))
    } else {
        None
    };
    if let Some(why) = why {
        if let Some(mut t) = state.current.clone() {
            t.finish(now, Some(why.clone()));
            runs.put_task_run(&t).await?;
        }
        tracing::error!(provider = profile.provider.as_str(), profile = %profile.id, run_id = %state.run_id, succeeded = false, error = %why, "sync run abandoned");
        runs.clear_run_state(&profile.id, &state.run_id).await?;
        return Ok(None);
    }
    Ok(Some(state))
}
