//! Provider-agnostic roster and license bookkeeping: observed seats in, minimal writes out.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::{pin_mut, Stream, TryStreamExt};

use super::run::{Run, SyncError};
use super::Progress;
use crate::domain::{
    reconcile_with_activity, ActivityAggregator, ActivityPage, ActivityScope, Entitlement,
    LicenseSummary, LicenseTally, LoginEvidence, Profile, SeatDecision, SeatIndex, StoredSeatState,
    TaskCounts, TaskKind, TaskRun,
};
use crate::domain::{seat_snapshot, IndexTicket, IndexedSeat};
use crate::http::{ApiStats, ProviderError};
use crate::ports::{ProfileRepo, PurchasedSeats, Repos, RosterPage, SeatRepo, StoreError};

/// Where a stage's paged read stands, for a save at the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Position {
    /// No page read yet in this stage (a save restarts the stage's read).
    Start,
    /// After the page with this resume token.
    After(String),
    /// After a page the adapter gave no resume token for, with more to come: the read cannot
    /// stop here (it goes on until a page that can be resumed after).
    Unresumable,
}

impl Position {
    fn from_token(from: Option<String>) -> Self {
        from.map_or(Self::Start, Self::After)
    }
    fn after(page_resume: Option<String>) -> Self {
        page_resume.map_or(Self::Unresumable, Self::After)
    }
    /// The token a resumed read starts from; `None` for an unresumable position.
    pub(crate) fn token(&self) -> Option<Option<String>> {
        match self {
            Self::Start => Some(None),
            Self::After(t) => Some(Some(t.clone())),
            Self::Unresumable => None,
        }
    }
}

/// How a stage's read ended.
#[derive(Debug)]
pub(crate) enum Read {
    /// The stream ended: the stage is complete.
    Complete,
    /// The deadline came; the read continues from this token (`None`: from the start).
    Stopped(Option<String>),
}

/// Whether the read should stop before the next page: the deadline has passed, at least one
/// page was read in this invocation (so every invocation makes progress) and the position can be
/// resumed from.
fn stop_here(stats: &ApiStats, pages_here: u64, at: &Position) -> Option<Option<String>> {
    if pages_here > 0 && stats.time_is_up() {
        at.token()
    } else {
        None
    }
}

/// A page error that only says the deadline came (a retry wait would have passed it): the read
/// stops where it is instead of failing, if it can be resumed there.
fn stopped_by(stats: &ApiStats, e: &ProviderError, at: &Position) -> Option<Option<String>> {
    (stats.out_of_time() && e.is_transient())
        .then(|| at.token())
        .flatten()
}

/// Activity: folds activity pages into `activity` (the newest login and the newest activity of
/// any kind per user, and the latest gap a page reported) until the stream ends or the
/// deadline comes. `from` is where this invocation's read started (`None`: the window's start).
pub(crate) async fn read_activity<S>(
    progress: &dyn Progress,
    stats: &ApiStats,
    pages: S,
    from: Option<String>,
    activity: &mut ActivityAggregator,
) -> Result<Read, SyncError>
where
    S: Stream<Item = Result<ActivityPage, ProviderError>>,
{
    pin_mut!(pages);
    let mut at = Position::from_token(from);
    let mut pages_here = 0u64;
    loop {
        if let Some(token) = stop_here(stats, pages_here, &at) {
            return Ok(Read::Stopped(token));
        }
        let page = match pages.try_next().await {
            Ok(Some(page)) => page,
            Ok(None) => return Ok(Read::Complete),
            Err(e) => match stopped_by(stats, &e, &at) {
                Some(token) => return Ok(Read::Stopped(token)),
                None => return Err(e.into()),
            },
        };
        activity.note_gap(page.gap_until);
        for e in page.events {
            activity.add(e)?;
        }
        at = Position::after(page.resume);
        pages_here += 1;
        progress.advanced(0, activity.events_read());
    }
}

/// The Activity task's counts and detail from a complete read.
pub(crate) fn activity_counts(task: &mut TaskRun, activity: &ActivityAggregator) {
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
}

/// Application Roster: writes roster pages through `roster` until the stream ends or the
/// deadline comes. Page n+1 is fetched while page n is written.
pub(crate) async fn read_roster<S: SeatRepo, P>(
    (progress, stats): (&dyn Progress, &ApiStats),
    pages: P,
    from: Option<String>,
    roster: &mut RosterWriter<'_, S>,
    logins: &ActivityAggregator,
    task: &mut TaskRun,
) -> Result<Read, SyncError>
where
    P: Stream<Item = Result<RosterPage, ProviderError>>,
{
    pin_mut!(pages);
    let mut at = Position::from_token(from);
    let mut pages_here = 0u64;
    let mut next = pages.try_next().await;
    loop {
        let page = match std::mem::replace(&mut next, Ok(None)) {
            Ok(Some(page)) => page,
            Ok(None) => return Ok(Read::Complete),
            Err(e) => match stopped_by(stats, &e, &at) {
                Some(token) => return Ok(Read::Stopped(token)),
                None => return Err(e.into()),
            },
        };
        task.counts.non_seats_skipped += page.not_seats;
        let page_at = Position::after(page.resume);
        let stop = stop_here(stats, pages_here + 1, &page_at);
        if stop.is_some() {
            // the deadline: write this page, fetch no more
            roster.page(page.seats, logins, &mut task.counts).await?;
        } else {
            // overlap: the next page is on its way while this one is written
            let (written, fetched) = futures::join!(
                roster.page(page.seats, logins, &mut task.counts),
                pages.try_next()
            );
            written?;
            next = fetched;
        }
        at = page_at;
        pages_here += 1;
        progress.advanced(task.counts.seats_seen, 0);
        if let Some(token) = stop {
            return Ok(Read::Stopped(token));
        }
    }
}

/// After a complete roster: marks who left (behind the roster-drop guard) and uses up an
/// accepted drop.
pub(crate) async fn finish_roster<R: Repos>(
    repos: &R,
    profile: &Profile,
    roster: RosterWriter<'_, R::Seats>,
    task: &mut TaskRun,
) -> Result<LicenseTally, SyncError> {
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
    ticket: IndexTicket,
    /// this invocation's seats as it left them ([`seat_snapshot`] entries), kept when the run
    /// may stop: a resumed invocation replays them onto the index it loads
    record: Option<Vec<u8>>,
    tally: LicenseTally,
    baseline: Option<u64>,
}

impl<'a, S: SeatRepo> RosterWriter<'a, S> {
    pub async fn load(
        seats: &'a S,
        profile: &'a Profile,
        run_id: &'a str,
        now: DateTime<Utc>,
        resume: Option<&IndexTicket>,
    ) -> Result<Self, SyncError> {
        let (index, ticket) = match resume {
            // a first sync's later invocation: from no seats (see `IndexTicket::empty`)
            Some(t) if t.empty => (SeatIndex::default(), t.clone()),
            _ => seats.open_index(&profile.id, resume).await?,
        };
        Ok(Self {
            seats,
            profile,
            run_id,
            now,
            index,
            ticket,
            record: None,
            tally: LicenseTally::default(),
            baseline: None,
        })
    }

    /// What the index was opened with (saved with a run that continues).
    pub fn ticket(&self) -> &IndexTicket {
        &self.ticket
    }

    /// Keeps a record of the seats this invocation sees, for [`Self::take_record`].
    pub fn keep_record(&mut self) {
        self.record = Some(Vec::new());
    }

    /// This invocation's record of the seats it saw and the states it left them in.
    pub fn take_record(&mut self) -> Option<Vec<u8>> {
        self.record.take()
    }

    /// A resumed run: what an earlier invocation recorded ([`Self::take_record`]).
    pub fn replay(&mut self, record: &[u8]) -> Result<(), SyncError> {
        seat_snapshot::replay(&mut self.index, record).map_err(StoreError::from)?;
        Ok(())
    }

    /// The state a seat was left in: into the index (for the snapshot this run saves) and the
    /// invocation's record.
    ///
    /// A run that found no stored seats (a first sync) holds no index and saves no snapshot, so
    /// that a first sync's memory stays its activity's (the next run reads every seat once and
    /// saves the snapshot); its record holds only the ids, for a retry that has to read every
    /// seat (see `sync::mod`).
    fn left(&mut self, user_id: &str, state: IndexedSeat) -> Result<(), StoreError> {
        if self.ticket.empty {
            if let Some(r) = self.record.as_mut() {
                seat_snapshot::encode_seen(r, user_id)?;
            }
            return Ok(());
        }
        self.index.record(user_id, state)?;
        if let Some(r) = self.record.as_mut() {
            seat_snapshot::encode(r, user_id, &state)?;
        }
        Ok(())
    }

    /// Seats stored as present now (before this invocation's pages).
    pub fn present(&self) -> usize {
        self.index.present()
    }

    /// The roster-drop guard's baseline: the seats present when the run's roster stage began.
    pub fn set_baseline(&mut self, present: u64) {
        self.baseline = Some(present);
    }

    /// A resumed run: the license tally so far.
    pub fn set_tally(&mut self, tally: LicenseTally) {
        self.tally = tally;
    }

    /// A resumed run: users earlier invocations saw (so the sweep does not take them as gone).
    pub fn mark_seen(&mut self, seen: impl IntoIterator<Item = String>) {
        for id in seen {
            self.index.mark_seen(&id);
        }
    }

    /// The license tally so far (saved with a run that continues).
    pub fn tally(&self) -> &LicenseTally {
        &self.tally
    }

    /// One page of observed seats, with the activity read by this run's activity task. A seat
    /// the index shows unchanged costs no read; the others' full stored states are fetched in
    /// one batch for the page and reconciled as before.
    pub async fn page(
        &mut self,
        seats: Vec<crate::domain::ObservedSeat>,
        logins: &ActivityAggregator,
        counts: &mut TaskCounts,
    ) -> Result<(), SyncError> {
        let any_activity = self.profile.rules.activity == ActivityScope::Any;
        // the instant the tally dates a seat's activity by (logins only, unless the rules
        // count any activity)
        let latest = |login: Option<DateTime<Utc>>, activity: Option<DateTime<Utc>>| {
            if any_activity {
                login.max(activity)
            } else {
                login
            }
        };
        let mut closer = Vec::new();
        let mut fetch = Vec::new();
        for observed in seats {
            counts.seats_seen += 1;
            if !observed.license_managed {
                counts.seats_unmanaged += 1;
            }
            let (login_at, activity_at) = logins.latest_instants(&observed.user_id);
            match self.index.see(&observed.user_id) {
                Some(ix) if ix.unchanged(&observed, login_at, activity_at) => {
                    // no newer evidence in the window: the stored instants are the latest
                    self.tally.add(
                        &observed.license_type,
                        observed.license_managed,
                        latest(ix.login_at, ix.activity_at),
                        self.now,
                        ACTIVE_WITHIN_DAYS,
                    );
                    counts.seats_unchanged += 1;
                    if let Some(r) = self.record.as_mut() {
                        seat_snapshot::encode_seen(r, &observed.user_id)
                            .map_err(StoreError::from)?;
                    }
                }
                Some(_) => {
                    fetch.push(observed.user_id.clone());
                    closer.push(observed);
                }
                None => closer.push(observed),
            }
        }
        // a user listed twice on a page is fetched once (BatchGetItem refuses duplicate keys)
        fetch.sort_unstable();
        fetch.dedup();
        let stored: HashMap<String, StoredSeatState> = if fetch.is_empty() {
            HashMap::new()
        } else {
            self.seats
                .states(&self.profile.id, &fetch)
                .await?
                .into_iter()
                .map(|s| (s.user_id.clone(), s))
                .collect()
        };
        // every fetched seat is stored (seats are never deleted): one missing would otherwise be
        // written as new over its item, losing what a reclaim recorded on it
        if let Some(missing) = fetch.iter().find(|id| !stored.contains_key(*id)) {
            return Err(StoreError::Conflict(format!(
                "seat {missing} is in the stored-seat index but its item could not be read; the next run tries again"
            ))
            .into());
        }
        let mut writes = Vec::new();
        for observed in closer {
            let stored = stored.get(&observed.user_id);
            let window_login = logins.latest_login(&observed.user_id);
            let window_activity = logins.latest_activity(&observed.user_id);
            let at = |e: Option<&LoginEvidence>| e.map(|e| e.at);
            self.tally.add(
                &observed.license_type,
                observed.license_managed,
                latest(
                    at(stored.and_then(|s| s.last_login.as_ref())).max(at(window_login.as_ref())),
                    at(stored.and_then(|s| s.last_activity.as_ref()))
                        .max(at(window_activity.as_ref())),
                ),
                self.now,
                ACTIVE_WITHIN_DAYS,
            );
            let user_id = observed.user_id.clone();
            let state = stored.map(IndexedSeat::of);
            match reconcile_with_activity(
                &self.profile.id,
                self.profile.provider,
                observed,
                stored,
                (window_login.as_ref(), window_activity.as_ref()),
                self.now,
                self.run_id,
            ) {
                SeatDecision::New(s) => {
                    counts.seats_new += 1;
                    self.left(&user_id, IndexedSeat::of_seat(&s))?;
                    writes.push(s);
                }
                SeatDecision::Changed(s) => {
                    counts.seats_changed += 1;
                    let mut left = IndexedSeat::of_seat(&s);
                    if state.is_some_and(|st| st.removed) {
                        // a restore: the write keeps `removed_at` if a reclaim is newer than
                        // the listing, so the state is not known here; no fingerprint makes
                        // the next run compare the seat in full
                        left.fingerprint = None;
                    }
                    self.left(&user_id, left)?;
                    writes.push(s);
                }
                SeatDecision::Unchanged => {
                    counts.seats_unchanged += 1;
                    // unchanged means stored
                    if let Some(state) = state {
                        self.left(&user_id, state)?;
                    }
                }
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
        let present = self.baseline.map_or(self.index.present(), |b| {
            usize::try_from(b).unwrap_or(usize::MAX)
        });
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
        let mut index = self.index;
        for user_id in gone {
            if self
                .seats
                .mark_removed(&self.profile.id, &user_id, self.now, self.run_id)
                .await?
            {
                counts.seats_removed += 1;
                counts.items_written += 1;
            }
            // removed now, by this run or by a reclaim before it
            index.set_removed(&user_id);
        }
        if self.ticket.empty {
            // a first sync held no index (see `keep_record`)
            return Ok(self.tally);
        }
        // the snapshot only saves reads: a failed save leaves none trusted, and the next run
        // reads every seat
        match self
            .seats
            .save_index(&self.profile.id, &self.ticket, &index)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(profile = %self.profile.id, "seat index snapshot not saved: a reclaim wrote a seat during the run; the next run reads every seat")
            }
            Err(e) => {
                tracing::warn!(profile = %self.profile.id, error = %e, "seat index snapshot not saved; the next run reads every seat")
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
