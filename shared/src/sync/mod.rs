//! Sync: one run of one profile reads its provider through a [`Directory`] and records what it
//! saw, as task runs, into the repositories. The same task chain serves every provider:
//! Application Access → Activity → Application Roster (with each seat's license type) → License
//! Differentiation → License Information → Reclamation (only after every earlier task
//! succeeded, so candidates never come from partial data).
mod dispatch;
mod progress;
mod reclamation;
mod resume;
mod roster;
mod run;

pub use crate::domain::task::new_run_id;
pub use dispatch::{DispatchReport, Dispatcher};
pub use progress::{NoProgress, Progress};
pub use roster::ACTIVE_WITHIN_DAYS;
pub use run::{ProfileOutcome, Run, SyncError, SyncReport};

use std::time::Instant;

use chrono::Utc;

use crate::domain::{self, Provider, RunStage, SyncJob, TaskKind};
use crate::http::ApiStats;
use crate::notify::Notifier;
use crate::ports::{
    Directory, MailEvents, Mailer, ProviderAccess, Repos, RequestQueue, SeatRepo, Window,
};
use resume::{Carry, SaveParts};
use roster::{
    activity_counts, finish_roster, read_activity, read_roster, record_license_tasks,
    with_purchased, Read, RosterWriter,
};
use run::{enabled_profiles, load_profile, return_lease, take_lease, Flow};

/// The time left below which a run saves before Reclamation rather than start it: Reclamation
/// (the rules over every stored seat, notices, enqueueing) is not resumable, and a few minutes
/// cover it for the largest tenants (it reads the seats a page at a time).
const RECLAMATION_TIME: std::time::Duration = std::time::Duration::from_secs(300);

/// The tasks of a run, in order (those not reached after a failure are recorded skipped).
pub const ORDER: &[TaskKind] = &[
    TaskKind::ApplicationAccess,
    TaskKind::Activity,
    TaskKind::ApplicationRoster,
    TaskKind::LicenseDifferentiation,
    TaskKind::LicenseInformation,
    TaskKind::Reclamation,
];

/// Syncs the profiles of one provider. Built once per container (or per seatctl command).
pub struct Syncer<R, P, Q, M, E = ()> {
    pub provider: Provider,
    pub repos: R,
    pub providers: P,
    /// Profiles in auto mode enqueue their candidates here after each finished sync.
    pub queue: Option<Q>,
    /// Profiles in notify mode mail their notices and digests through it (none: not
    /// configured, and a profile in notify mode fails its Reclamation task saying so).
    pub notifier: Option<Notifier<M, E>>,
    /// Activity backfill of a profile's first sync, unless the profile sets its own.
    pub default_backfill_days: u32,
    /// A run still unfinished this long after it started is abandoned (recorded as such); the
    /// next run starts afresh (`SYNC_MAX_RUN_AGE_HOURS`).
    pub max_run_age: chrono::Duration,
}

impl<R: Repos, P: ProviderAccess, Q: RequestQueue, M: Mailer, E: MailEvents> Syncer<R, P, Q, M, E> {
    /// Every enabled profile of the provider, one after another; one failing does not stop the
    /// others.
    pub async fn sync_all(
        &self,
        progress: &dyn Progress,
        deadline: Option<std::time::Instant>,
    ) -> Result<SyncReport, SyncError> {
        let mut report = SyncReport::default();
        for id in enabled_profiles(self.repos.profiles(), self.provider).await? {
            report
                .profiles
                .push(self.sync_or_record(&id, progress, deadline).await);
        }
        Ok(report)
    }

    /// One profile, with any failure captured in the outcome rather than returned.
    pub async fn sync_or_record(
        &self,
        profile_id: &str,
        progress: &dyn Progress,
        deadline: Option<std::time::Instant>,
    ) -> ProfileOutcome {
        self.sync_profile_until(profile_id, progress, deadline)
            .await
            .unwrap_or_else(|e| {
                tracing::error!(provider = self.provider.as_str(), profile = profile_id, error = %e, "sync could not start");
                ProfileOutcome::not_started(profile_id, &e)
            })
    }

    /// Syncs one profile. Errors before any task starts (unknown or disabled profile, lease
    /// held) are returned; a failing task is recorded and reported in the outcome.
    pub async fn sync_profile(
        &self,
        profile_id: &str,
        progress: &dyn Progress,
    ) -> Result<ProfileOutcome, SyncError> {
        self.sync_profile_until(profile_id, progress, None).await
    }

    /// [`Syncer::sync_profile`] in an invocation that ends at `deadline`: the run works until
    /// then, saves where it is and reports the job that continues it
    /// ([`ProfileOutcome::continuation`]); a run the profile had saved is resumed.
    pub async fn sync_profile_until(
        &self,
        profile_id: &str,
        progress: &dyn Progress,
        deadline: Option<Instant>,
    ) -> Result<ProfileOutcome, SyncError> {
        self.run_job(&SyncJob::fresh(profile_id), progress, deadline)
            .await
    }

    /// One invocation's share of a profile's run. The profile's saved run, if any, is resumed
    /// (whether the job continues it or is the schedule's); a continuation whose run has ended
    /// (a duplicate or late message) does nothing.
    pub async fn run_job(
        &self,
        job: &SyncJob,
        progress: &dyn Progress,
        deadline: Option<Instant>,
    ) -> Result<ProfileOutcome, SyncError> {
        let profile = load_profile(self.repos.profiles(), &job.profile, self.provider).await?;
        // the lease first: the saved state is read and resumed by its holder only
        let owner = take_lease(&self.repos, &profile.id, deadline).await?;
        let saved =
            match resume::saved_run(&self.repos, &profile, self.max_run_age, Utc::now()).await {
                Ok(s) => s,
                Err(e) => {
                    return_lease(&self.repos, &profile.id, &owner).await;
                    return Err(e);
                }
            };
        if let Some(run_id) = &job.run_id {
            // a continuation continues its own run only: one that ended leaves nothing to do
            if saved.as_ref().is_none_or(|s| &s.run_id != run_id) {
                return_lease(&self.repos, &profile.id, &owner).await;
                tracing::info!(provider = self.provider.as_str(), profile = %profile.id, run_id = %run_id, "nothing to continue: the run has ended");
                return Ok(ProfileOutcome::nothing_to_continue(&profile.id, run_id));
            }
        }
        let mut run = Run::start(
            &self.repos,
            &profile,
            progress,
            ORDER,
            deadline,
            (owner, saved),
        )
        .await?;
        // Boxed: the task chain is a deep state machine; one allocation per run keeps it off
        // the stack and under the compiler's layout depth.
        let result = match Box::pin(self.tasks(&mut run)).await {
            Ok(Flow::Done) => Box::pin(reclamation::reclamation(
                &mut run,
                self.queue.as_ref(),
                self.notifier.as_ref(),
            ))
            .await
            .map(|()| Flow::Done),
            other => other,
        };
        Ok(run.finish(result).await)
    }

    /// Every task but Reclamation, from where the run stands; `Flow::Continue` when the
    /// deadline came first (the run is saved). A run that reaches Reclamation with its time up
    /// saves too, so Reclamation gets an invocation of its own.
    async fn tasks(&self, run: &mut Run<'_, R>) -> Result<Flow, SyncError> {
        let profile = run.profile;
        let started = run.started;
        let resumed = run.resumed.clone();
        if resumed
            .as_ref()
            .is_some_and(|s| s.stage == RunStage::Reclamation)
        {
            // the sync's metric line reports the summaries License Information stored
            run.summaries = run.repos.seats().license_summaries(&profile.id).await?;
            return Ok(Flow::Done);
        }

        // Application Access: the credentials, a token, and which tenant it is. A resumed run
        // checks again (it needs the token) and keeps its first invocation's task run.
        let directory = match &resumed {
            None => {
                let (mut task, stats) = run.begin(TaskKind::ApplicationAccess).await?;
                let r = async {
                    let directory = self.providers.directory(profile).await?;
                    task.detail = Some(directory.check_access(&stats).await?);
                    Ok(directory)
                }
                .await;
                run.end(task, &stats, r).await?
            }
            Some(_) => {
                let directory = self.providers.directory(profile).await?;
                directory
                    .check_access(&ApiStats::until(run.deadline))
                    .await?;
                directory
            }
        };

        // Activity: the window since the checkpoint (or the backfill window on a first sync),
        // of the kinds the profile's rules count; fixed for the run across invocations.
        let scope = resumed.as_ref().map_or(profile.rules.activity, |s| s.scope);
        let stream = directory.activity_stream(scope);
        let (mut carry, stage) = match &resumed {
            Some(s) => (Carry::from_state(s), s.stage.clone()),
            None => {
                let checkpoint = run.checkpoint(stream).await?;
                let window = Window {
                    start: run.activity_start_from(checkpoint.as_ref(), self.default_backfill_days),
                    end: started,
                };
                (
                    Carry::fresh(scope, window, checkpoint),
                    RunStage::Activity { resume: None },
                )
            }
        };
        let window = carry.window;
        let mut activity = resume::load_activity(
            run.repos.runs(),
            &run.run_id,
            &profile.id,
            carry.activity.as_ref(),
            directory.dedup_window(),
        )
        .await?;
        // the stored activity is complete once the roster stage has begun
        let mut activity_stored = false;
        let roster_from = match stage {
            RunStage::Activity { resume } => {
                let (mut task, stats) = run.begin_or_resume(TaskKind::Activity).await?;
                task.detail = Some(directory.describe_activity(window, scope));
                let pages = directory.activity(window, scope, resume.clone(), &stats);
                match read_activity(run.progress, &stats, pages, resume, &mut activity).await {
                    Ok(Read::Stopped(at)) => {
                        let parts = SaveParts {
                            activity: Some(&activity),
                            seen: None,
                        };
                        let stage = RunStage::Activity { resume: at };
                        let job = resume::save(run, &mut carry, stage, Some((task, &stats)), parts)
                            .await?;
                        return Ok(Flow::Continue(job));
                    }
                    Ok(Read::Complete) => {
                        activity_counts(&mut task, &activity);
                        run.end(task, &stats, Ok(())).await?;
                    }
                    Err(e) => return run.end(task, &stats, Err(e)).await,
                }
                None
            }
            RunStage::Roster { resume } => {
                activity_stored = true;
                resume
            }
            RunStage::Reclamation => return Ok(Flow::Done),
        };
        let observed_since = domain::activity::observed_since(
            carry.checkpoint.as_ref(),
            window.start,
            activity.gap_until,
        );

        // Application Roster (with each seat's license type): stream pages, write what changed;
        // who left is marked only after the last page.
        let (mut task, stats) = run.begin_or_resume(TaskKind::ApplicationRoster).await?;
        let (repos, run_id) = (run.repos, run.run_id.clone());
        // a later invocation of a run that found no stored seats (a first sync) starts from no
        // seats too: nothing can have left, and the roster goes on past what earlier
        // invocations wrote. Unless an attempt since the last save began writing (it may have
        // written seats and died before saving them, and its pages are read again): then it
        // reads every seat, as does the rest of the run
        if let Some(t) = carry.index.as_mut().filter(|_| carry.writing) {
            t.empty = false;
        }
        let from_nothing = carry.index.as_ref().is_some_and(|t| t.empty);
        let mut roster = RosterWriter::load(
            repos.seats(),
            profile,
            &run_id,
            started,
            carry.index.as_ref(),
        )
        .await?;
        carry.index = Some(roster.ticket().clone());
        if from_nothing {
            resume::mark_writing(run).await?;
        }
        roster.set_tally(carry.tally.clone());
        // the roster-drop guard compares with the seats present when the roster stage began
        let present = *carry.roster_present.get_or_insert(roster.present() as u64);
        roster.set_baseline(present);
        // starting from no seats, there is nothing to replay onto
        let replayed = if roster.ticket().empty {
            &[][..]
        } else {
            &carry.seen[..]
        };
        for blob in replayed {
            match resume::load_seen(repos.runs(), &run_id, &profile.id, blob).await? {
                resume::Seen::States(record) => roster.replay(&record)?,
                resume::Seen::Ids(ids) => roster.mark_seen(ids),
            }
        }
        // only a run that can stop needs a record of what it saw (for the sweep and the
        // snapshot after a resume)
        if run.deadline.is_some() {
            roster.keep_record();
        }
        let pages = directory.roster(roster_from.clone(), &stats);
        let read = read_roster(
            (run.progress, &stats),
            pages,
            roster_from,
            &mut roster,
            &activity,
            &mut task,
        )
        .await;
        let tally = match read {
            Ok(Read::Stopped(at)) => {
                carry.tally = roster.tally().clone();
                let parts = SaveParts {
                    activity: (!activity_stored).then_some(&activity),
                    seen: roster.take_record(),
                };
                let stage = RunStage::Roster { resume: at };
                let job = resume::save(run, &mut carry, stage, Some((task, &stats)), parts).await?;
                return Ok(Flow::Continue(job));
            }
            Ok(Read::Complete) => {
                // the roster pass was its last use: freed before the snapshot's save builds its
                // parts, so the two never add up (the peak of a second run: docs/benchmarks.md)
                drop(activity);
                let r = finish_roster(repos, profile, roster, &mut task).await;
                run.end(task, &stats, r).await?
            }
            Err(e) => return run.end(task, &stats, Err(e)).await,
        };

        // License Differentiation and Information, against what the provider says was bought.
        // not bound by the deadline: the roster is complete, and a transient error here would
        // otherwise fail the whole run (a kill past the deadline resumes from the last save)
        let purchased = directory.purchased_seats(&ApiStats::default()).await?;
        record_license_tasks(run, &tally, &with_purchased(profile, purchased)).await?;
        // Everything finished: only now does the activity checkpoint move.
        run.commit(stream, window.end, Some(observed_since)).await?;
        // Reclamation reads every stored seat and cannot stop half way: with less time left
        // than it may need, it gets an invocation of its own
        if run
            .deadline
            .is_some_and(|d| d.saturating_duration_since(Instant::now()) < RECLAMATION_TIME)
        {
            let parts = SaveParts {
                activity: None,
                seen: None,
            };
            let job = resume::save(run, &mut carry, RunStage::Reclamation, None, parts).await?;
            return Ok(Flow::Continue(job));
        }
        Ok(Flow::Done)
    }
}

#[cfg(test)]
mod tests;
