//! Provider-agnostic roster and license bookkeeping: observed seats in, minimal writes out.
use chrono::{DateTime, Utc};
use futures::{pin_mut, Stream, TryStreamExt};

use super::run::{Run, SyncError};
use crate::domain::{
    reconcile_with_activity, ActivityAggregator, ActivityPage, ActivityScope, Entitlement,
    LicenseSummary, LicenseTally, LoginEvidence, Profile, SeatDecision, SeatIndex, TaskCounts,
    TaskKind, TaskRun,
};
use crate::http::{ApiStats, ProviderError};
use crate::ports::{ProfileRepo, PurchasedSeats, Repos, RosterPage, SeatRepo};

/// Activity: folds activity pages into the newest login and the newest activity of any kind
/// per user (and the latest gap a page reported), records the task's counts and ends it.
/// `pages` borrows `stats`, the task's call accounting.
pub(crate) async fn read_activity<R: Repos, S>(
    run: &mut Run<'_, R>,
    mut task: TaskRun,
    stats: &ApiStats,
    pages: S,
    dedup_window: usize,
) -> Result<ActivityAggregator, SyncError>
where
    S: Stream<Item = Result<ActivityPage, ProviderError>>,
{
    let progress = run.progress;
    let r = async {
        let mut activity = ActivityAggregator::new(dedup_window);
        pin_mut!(pages);
        while let Some(page) = pages.try_next().await? {
            activity.note_gap(page.gap_until);
            for e in page.events {
                activity.add(e);
            }
            progress.advanced(0, activity.events_read());
        }
        task.counts.events_read = activity.events_read();
        task.counts.events_duplicate = activity.duplicates();
        task.counts.users_with_logins = activity.users_with_logins() as u64;
        task.counts.sessions_read = activity.sessions_read;
        task.counts.users_with_activity = activity.users_with_activity() as u64;
        if let Some(g) = activity.gap_until {
            let d = task.detail.get_or_insert_with(String::new);
            d.push_str(&format!(
                "; gap: the provider skipped activity before {}",
                g.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
        }
        Ok(activity)
    }
    .await;
    run.end(task, stats, r).await
}

/// Application Roster: writes roster pages through a [`RosterWriter`], then marks who left;
/// records the counts and ends the task.
pub(crate) async fn write_roster<R: Repos, S>(
    run: &mut Run<'_, R>,
    mut task: TaskRun,
    stats: &ApiStats,
    pages: S,
    logins: &ActivityAggregator,
) -> Result<LicenseTally, SyncError>
where
    S: Stream<Item = Result<RosterPage, ProviderError>>,
{
    let (repos, profile, progress, started) = (run.repos, run.profile, run.progress, run.started);
    let run_id = run.run_id.clone();
    let r = async {
        let mut roster = RosterWriter::load(repos.seats(), profile, &run_id, started).await?;
        pin_mut!(pages);
        while let Some(page) = pages.try_next().await? {
            task.counts.non_seats_skipped += page.not_seats;
            roster.page(page.seats, logins, &mut task.counts).await?;
            progress.advanced(task.counts.seats_seen, 0);
        }
        let tally = roster.finish(&mut task.counts).await?;
        if profile.accept_removals {
            // the acceptance is used up by the roster that applied it
            repos
                .profiles()
                .update(&profile.id, |p| {
                    p.accept_removals = false;
                    Ok::<_, SyncError>(())
                })
                .await?;
        }
        Ok(tally)
    }
    .await;
    run.end(task, stats, r).await
}

/// A seat counts as active in License Information with a login this recent (days).
pub const ACTIVE_WITHIN_DAYS: u32 = 60;

/// Takes a roster page by page: decides per seat whether to write (new, changed, restored), writes
/// in batches, tallies license types, and at the end marks the seats that left as removed.
pub(crate) struct RosterWriter<'a, S> {
    seats: &'a S,
    profile: &'a Profile,
    run_id: &'a str,
    now: DateTime<Utc>,
    index: SeatIndex,
    tally: LicenseTally,
}

impl<'a, S: SeatRepo> RosterWriter<'a, S> {
    pub async fn load(
        seats: &'a S,
        profile: &'a Profile,
        run_id: &'a str,
        now: DateTime<Utc>,
    ) -> Result<Self, SyncError> {
        let index = seats.index(&profile.id).await?;
        Ok(Self {
            seats,
            profile,
            run_id,
            now,
            index,
            tally: LicenseTally::default(),
        })
    }

    /// One page of observed seats, with the activity read by this run's activity task.
    pub async fn page(
        &mut self,
        seats: Vec<crate::domain::ObservedSeat>,
        logins: &ActivityAggregator,
        counts: &mut TaskCounts,
    ) -> Result<(), SyncError> {
        let mut writes = Vec::new();
        for observed in seats {
            counts.seats_seen += 1;
            if !observed.license_managed {
                counts.seats_unmanaged += 1;
            }
            let stored = self.index.see(&observed.user_id);
            let window_login = logins.latest_login(&observed.user_id);
            let window_activity = logins.latest_activity(&observed.user_id);
            let mut latest =
                LoginEvidence::newest(stored.and_then(|s| s.last_login.as_ref()), window_login);
            if self.profile.rules.activity == ActivityScope::Any {
                latest = LoginEvidence::newest(
                    latest,
                    LoginEvidence::newest(
                        stored.and_then(|s| s.last_activity.as_ref()),
                        window_activity,
                    ),
                );
            }
            self.tally.add(
                &observed.license_type,
                observed.license_managed,
                latest,
                self.now,
                ACTIVE_WITHIN_DAYS,
            );
            match reconcile_with_activity(
                &self.profile.id,
                self.profile.provider,
                observed,
                stored,
                (window_login, window_activity),
                self.now,
                self.run_id,
            ) {
                SeatDecision::New(s) => {
                    counts.seats_new += 1;
                    writes.push(s);
                }
                SeatDecision::Changed(s) => {
                    counts.seats_changed += 1;
                    writes.push(s);
                }
                SeatDecision::Unchanged => counts.seats_unchanged += 1,
            }
        }
        counts.items_written += self.seats.put_many(&writes).await? as u64;
        Ok(())
    }

    /// The roster finished: whoever was not in it has left the tenant. Only ever called after
    /// the last page, so a partial roster never removes anyone.
    ///
    /// The roster-drop guard: more removals than the profile's [`RosterGuard`] allows are not
    /// applied (unless the operator accepted them with `seatctl sync ID --accept-removals`):
    /// the seats are kept and the task fails with `held: roster dropped by N (x %)`, so the run
    /// produces no candidates.
    ///
    /// [`RosterGuard`]: crate::domain::profile::RosterGuard
    pub async fn finish(self, counts: &mut TaskCounts) -> Result<LicenseTally, SyncError> {
        let gone = self.index.gone();
        let present = self.index.present();
        let guard = self.profile.roster_guard;
        if gone.len() > guard.allowed(present) && !self.profile.accept_removals {
            let share = gone.len() as f64 * 100.0 / present.max(1) as f64;
            counts.seats_held = gone.len() as u64;
            return Err(SyncError::RosterHeld(format!(
                "held: roster dropped by {} ({share:.1} %) of {present} seat(s), more than the guard ({}); the seats are kept and no candidates come from this run. If they really left, accept with `seatctl sync {} --accept-removals`; if not (a provider or permission glitch), the next sync checks again and keeps holding while the drop persists.",
                gone.len(),
                guard.describe(),
                self.profile.id
            )));
        }
        for user_id in gone {
            if self
                .seats
                .mark_removed(&self.profile.id, &user_id, self.now, self.run_id)
                .await?
            {
                counts.seats_removed += 1;
                counts.items_written += 1;
            }
        }
        Ok(self.tally)
    }
}

/// The profile's entitlements with the purchased counts the provider reports (Dropbox knows
/// what was bought: it overrides the operator's count; the operator's price still applies).
pub(crate) fn with_purchased(profile: &Profile, purchased: Vec<PurchasedSeats>) -> Profile {
    let mut effective = profile.clone();
    for p in purchased {
        let own = profile.entitlement(&p.license_type);
        let (unit_price_cents, currency) = (
            own.and_then(|e| e.unit_price_cents),
            own.and_then(|e| e.currency.clone()),
        );
        effective.set_entitlement(Entitlement {
            license_type: p.license_type,
            purchased: p.purchased,
            unit_price_cents,
            currency,
        });
    }
    effective
}

/// License Differentiation and License Information, from the finished roster's tally.
/// `profile` carries the entitlements (purchased seats and prices) to compare against.
pub(crate) async fn record_license_tasks<R: Repos>(
    run: &mut Run<'_, R>,
    tally: &LicenseTally,
    profile: &Profile,
) -> Result<Vec<LicenseSummary>, SyncError> {
    let summaries = tally.summaries(profile, run.started, &run.run_id, ACTIVE_WITHIN_DAYS);

    let (mut task, stats) = run.begin(TaskKind::LicenseDifferentiation).await?;
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
    run.end(task, &stats, Ok(())).await?;

    let (mut task, stats) = run.begin(TaskKind::LicenseInformation).await?;
    let r = run
        .repos
        .seats()
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
    run.end(task, &stats, r).await?;
    run.summaries.clone_from(&summaries);
    Ok(summaries)
}
