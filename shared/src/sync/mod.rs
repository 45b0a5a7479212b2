//! Sync: one run of one profile reads its provider through a [`Directory`] and records what it
//! saw, as task runs, into the repositories. The same task chain serves every provider:
//! Application Access → Activity → Application Roster (with each seat's license type) → License
//! Differentiation → License Information → Reclamation (only after every earlier task
//! succeeded, so candidates never come from partial data).
mod dispatch;
mod progress;
mod reclamation;
mod roster;
mod run;

pub use crate::domain::task::new_run_id;
pub use dispatch::{DispatchReport, Dispatcher};
pub use progress::{NoProgress, Progress};
pub use roster::ACTIVE_WITHIN_DAYS;
pub use run::{ProfileOutcome, Run, SyncError, SyncReport};

use crate::domain::{self, Provider, TaskKind};
use crate::http::ApiStats;
use crate::notify::Notifier;
use crate::ports::{Directory, MailEvents, Mailer, ProviderAccess, Repos, RequestQueue, Window};
use roster::{read_activity, record_license_tasks, with_purchased, write_roster};
use run::{enabled_profiles, load_profile};

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

    /// [`Syncer::sync_profile`] in an invocation that ends at `deadline`: no provider retry or
    /// Retry-After wait is taken that would end after it (the task fails instead, recorded, and
    /// the lease is released, rather than the invocation being killed mid-sleep).
    pub async fn sync_profile_until(
        &self,
        profile_id: &str,
        progress: &dyn Progress,
        deadline: Option<std::time::Instant>,
    ) -> Result<ProfileOutcome, SyncError> {
        let profile = load_profile(self.repos.profiles(), profile_id, self.provider).await?;
        let mut run = Run::start(&self.repos, &profile, progress, ORDER, deadline).await?;
        // Boxed: the task chain is a deep state machine; one allocation per run keeps it off
        // the stack and under the compiler's layout depth.
        let result = match Box::pin(self.tasks(&mut run)).await {
            Ok(()) => {
                Box::pin(reclamation::reclamation(
                    &mut run,
                    self.queue.as_ref(),
                    self.notifier.as_ref(),
                ))
                .await
            }
            Err(e) => Err(e),
        };
        Ok(run.finish(result).await)
    }

    async fn tasks(&self, run: &mut Run<'_, R>) -> Result<(), SyncError> {
        let profile = run.profile;
        let started = run.started;

        // Application Access: the credentials, a token, and which tenant it is.
        let (mut task, stats) = run.begin(TaskKind::ApplicationAccess).await?;
        let r = async {
            let directory = self.providers.directory(profile).await?;
            task.detail = Some(directory.check_access(&stats).await?);
            Ok(directory)
        }
        .await;
        let directory = run.end(task, &stats, r).await?;

        // Activity: the window since the checkpoint (or the backfill window on a first sync),
        // of the kinds the profile's rules count.
        let scope = profile.rules.activity;
        let stream = directory.activity_stream(scope);
        let checkpoint = run.checkpoint(stream).await?;
        let window = Window {
            start: run.activity_start_from(checkpoint.as_ref(), self.default_backfill_days),
            end: started,
        };
        let (mut task, stats) = run.begin(TaskKind::Activity).await?;
        task.detail = Some(directory.describe_activity(window, scope));
        let pages = directory.activity(window, scope, None, &stats);
        let logins = read_activity(run, task, &stats, pages, directory.dedup_window()).await?;
        let observed_since =
            domain::activity::observed_since(checkpoint.as_ref(), window.start, logins.gap_until);

        // Application Roster (with each seat's license type): stream pages, write what changed.
        let (task, stats) = run.begin(TaskKind::ApplicationRoster).await?;
        let tally =
            write_roster(run, task, &stats, directory.roster(None, &stats), &logins).await?;

        // License Differentiation and Information, against what the provider says was bought.
        let purchased = directory
            .purchased_seats(&ApiStats::until(run.deadline))
            .await?;
        record_license_tasks(run, &tally, &with_purchased(profile, purchased)).await?;
        // Everything finished: only now does the activity checkpoint move.
        run.commit(stream, window.end, Some(observed_since)).await
    }
}

#[cfg(test)]
mod tests;
