//! In-memory repositories with the DynamoDB adapters' semantics (conditional creates, versioned
//! writes, lease expiry, single-use pending connects, the daily cap, sort orders), plus fault
//! injection, so a service's unit test can make any store call fail once.
//!
//! [`contract::check_all`] holds both adapters to the same behaviour: it runs here against
//! [`MemoryRepos`] and in `tests/e2e/tests/store.rs` against the DynamoDB `Store` on moto.
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::domain::profile::LastSync;
use crate::domain::rules::ActiveAfter;
use crate::domain::{seat_snapshot, BlobRef, IndexTicket, RunState, SnapshotNote, SnapshotRef};
use crate::domain::{
    Approval, Candidate, Checkpoint, IndexedSeat, InvalidMessage, Keep, LicenseSummary, Notice,
    NoticeMessage, NoticeToken, PendingConnect, Profile, ReclaimRecord, RuleSeat, Seat, SeatIndex,
    StoredSeatState, TaskRun,
};
use crate::ports::{
    ConnectRepo, KeepOutcome, NoticeRepo, ProfileRepo, ReclaimRepo, Repos, RunRepo, SeatCursor,
    SeatPage, SeatRepo, StoreError, UserLock,
};

/// The source of the `StoreError::Aws` errors this adapter produces.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MemoryError {
    /// A fault a test asked for ([`MemoryRepos::fail_next`], [`MemoryRepos::cut_next`]).
    #[error("injected fault in {0}")]
    Injected(&'static str),
    /// What DynamoDB answers where a failed condition is not part of the method's result
    /// (e.g. `set_last_sync` on a missing profile).
    #[error("ConditionalCheckFailedException: the conditional request failed")]
    ConditionFailed,
    /// What DynamoDB answers a BatchGetItem that names one key twice.
    #[error("ValidationException: Provided list of item keys contains duplicates")]
    DuplicateKeys,
}

fn aws(op: &'static str, e: MemoryError) -> StoreError {
    StoreError::Aws {
        op,
        message: e.to_string(),
        source: Box::new(e),
    }
}

/// Seats per [`SeatRepo::page`] unless set otherwise: small, so paging loops really loop.
pub const DEFAULT_PAGE_SIZE: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The call fails and changes nothing.
    Before,
    /// The call takes effect but the caller sees an error (a lost response).
    After,
}

#[derive(Debug)]
struct Lease {
    owner: String,
    /// Epoch seconds, compared as DynamoDB compares the stored number.
    expires_at: i64,
}

#[derive(Debug, Default)]
struct State {
    profiles: BTreeMap<String, Profile>,
    /// (profile, user id): BTreeMap order is the DynamoDB sort-key order (`SEAT#<user id>`).
    seats: BTreeMap<(String, String), Seat>,
    candidates: BTreeMap<(String, String), Candidate>,
    licenses: BTreeMap<(String, String), LicenseSummary>,
    /// (profile, user id)
    keeps: BTreeMap<(String, String), Keep>,
    /// (profile, request id)
    reclaims: BTreeMap<(String, String), ReclaimRecord>,
    invalid: BTreeMap<String, InvalidMessage>,
    /// (profile, day) → reclaims counted
    counters: HashMap<(String, String), u64>,
    leases: HashMap<String, Lease>,
    /// (profile, the DynamoDB sort key): the same order as the table's.
    task_runs: BTreeMap<(String, String), TaskRun>,
    checkpoints: HashMap<(String, String), Checkpoint>,
    pending: HashMap<String, PendingConnect>,
    /// (profile, request id)
    approvals: HashMap<(String, String), Approval>,
    /// (profile, user id) → the request holding the user
    user_locks: HashMap<(String, String), String>,
    /// (profile, "<user id>#<candidacy>"): the table's sort order
    notices: BTreeMap<(String, String), Notice>,
    /// token digest → lookup item
    tokens: HashMap<String, NoticeToken>,
    /// (profile, day) → claimed at
    digests: BTreeMap<(String, String), DateTime<Utc>>,
    /// mail service message id → the notice it was sent for
    messages: HashMap<String, NoticeMessage>,
    /// profile → its saved sync run
    run_states: HashMap<String, RunState>,
    /// (profile, run id, blob name) → the blob's parts
    run_blobs: BTreeMap<(String, String, String), Vec<Vec<u8>>>,
    /// profile → its seat revision and the snapshot current at it
    snapshot_heads: HashMap<String, SnapshotHead>,
    /// (profile, parts, part) → the part's bytes
    snapshot_parts: HashMap<(String, u32, u32), Vec<u8>>,
    /// (profile, user id) → the note's nonce
    snapshot_notes: BTreeMap<(String, String), String>,
}

#[derive(Debug, Default)]
struct SnapshotHead {
    rev: u64,
    current: Option<SnapshotRef>,
}

impl State {
    /// The seats of a profile as the snapshot `at` holds them; `None` if a part is missing.
    fn snapshot(&self, profile_id: &str, at: SnapshotRef) -> Result<Option<SeatIndex>, StoreError> {
        let mut index = SeatIndex::default();
        for part in 0..at.parts {
            match self
                .snapshot_parts
                .get(&(profile_id.to_owned(), at.parts, part))
            {
                Some(bytes) => seat_snapshot::load_part(&mut index, bytes)?,
                None => return Ok(None),
            }
        }
        Ok(Some(index))
    }

    fn notes(&self, profile_id: &str) -> Vec<SnapshotNote> {
        profile_range(&self.snapshot_notes, profile_id)
            .map(|((_, user_id), nonce)| SnapshotNote {
                user_id: user_id.clone(),
                nonce: nonce.clone(),
            })
            .collect()
    }

    fn full_index(&self, profile_id: &str) -> Result<SeatIndex, StoreError> {
        let mut index = SeatIndex::default();
        for (_, seat) in profile_range(&self.seats, profile_id) {
            index.insert(&seat.user_id, IndexedSeat::of_seat(seat))?;
        }
        Ok(index)
    }
}

/// Bytes per blob part here: small, so the tests cross part boundaries.
const MEMORY_BLOB_PART: usize = 1024;

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// op name → faults to inject, in order
    faults: Mutex<HashMap<String, Vec<Fault>>>,
    /// op name → calls so far
    calls: Mutex<HashMap<String, usize>>,
    page_size: Mutex<usize>,
}

/// A poisoned lock only means another test thread panicked mid-call; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Runs one operation: counts the call, applies an injected fault, and runs `f` on the state
    /// under the lock (never held across an await).
    fn call<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut State) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        *lock(&self.calls).entry(op.to_owned()).or_default() += 1;
        let fault = {
            let mut faults = lock(&self.faults);
            match faults.get_mut(op) {
                Some(list) if !list.is_empty() => Some(list.remove(0)),
                _ => None,
            }
        };
        if fault == Some(Fault::Before) {
            return Err(aws(op, MemoryError::Injected(op)));
        }
        let out = f(&mut lock(&self.state))?;
        if fault == Some(Fault::After) {
            return Err(aws(op, MemoryError::Injected(op)));
        }
        Ok(out)
    }
}

/// Every repository, in memory. Clones share the state (like two handles on one table).
#[derive(Debug, Clone)]
pub struct MemoryRepos {
    shared: Arc<Shared>,
    profiles: MemoryProfiles,
    seats: MemorySeats,
    reclaims: MemoryReclaims,
    runs: MemoryRuns,
    connects: MemoryConnects,
    notices: MemoryNotices,
}

impl Default for MemoryRepos {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRepos {
    pub fn new() -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            faults: Mutex::new(HashMap::new()),
            calls: Mutex::new(HashMap::new()),
            page_size: Mutex::new(DEFAULT_PAGE_SIZE),
        });
        Self {
            profiles: MemoryProfiles(shared.clone()),
            seats: MemorySeats(shared.clone()),
            reclaims: MemoryReclaims(shared.clone()),
            runs: MemoryRuns(shared.clone()),
            connects: MemoryConnects(shared.clone()),
            notices: MemoryNotices(shared.clone()),
            shared,
        }
    }

    /// Seats per [`SeatRepo::page`] (at least 1).
    pub fn with_page_size(self, n: usize) -> Self {
        *lock(&self.shared.page_size) = n.max(1);
        self
    }

    /// Deletes a seat item outright (nothing in seatkeeper does): a test's way to have a read
    /// miss an item the stored-seat index listed.
    #[cfg(test)]
    pub(crate) fn delete_seat_item(&self, profile_id: &str, user_id: &str) {
        lock(&self.shared.state)
            .seats
            .remove(&key(profile_id, user_id));
    }

    /// The next call of `op` fails with `StoreError::Aws` and changes nothing. Calls queue up:
    /// two `fail_next("x")` fail the next two calls. Op names are `<repo>.<method>` as in the
    /// traits, e.g. `profiles.put`, `seats.put_many`, `seats.mark_removed`, `reclaims.save`,
    /// `reclaims.count_reclaim`, `runs.acquire_lease`, `runs.put_task_run`,
    /// `connects.consume_pending` (see [`OPS`]).
    pub fn fail_next(&self, op: &str) {
        self.push_fault(op, Fault::Before);
    }

    /// The next call of `op` takes effect but returns `StoreError::Aws`, as when the answer is
    /// lost on the way back: what a redelivery or a retry must cope with.
    pub fn cut_next(&self, op: &str) {
        self.push_fault(op, Fault::After);
    }

    fn push_fault(&self, op: &str, f: Fault) {
        debug_assert!(OPS.contains(&op), "unknown store op {op:?}");
        lock(&self.shared.faults)
            .entry(op.to_owned())
            .or_default()
            .push(f);
    }

    /// How many times `op` was called (failed calls included).
    pub fn calls(&self, op: &str) -> usize {
        lock(&self.shared.calls).get(op).copied().unwrap_or(0)
    }

    /// The day's reclaim count of a profile (what the cap compares).
    pub fn reclaim_count(&self, profile_id: &str, day: &str) -> u64 {
        lock(&self.shared.state)
            .counters
            .get(&(profile_id.to_owned(), day.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Who holds a profile's sync lease (expired or not), if anyone.
    pub fn lease_owner(&self, profile_id: &str) -> Option<String> {
        lock(&self.shared.state)
            .leases
            .get(profile_id)
            .map(|l| l.owner.clone())
    }
}

/// Every op name [`MemoryRepos::fail_next`] knows.
pub const OPS: &[&str] = &[
    "profiles.create",
    "profiles.put",
    "profiles.get",
    "profiles.list",
    "profiles.set_last_sync",
    "seats.index",
    "seats.open_index",
    "seats.save_index",
    "seats.states",
    "seats.put_many",
    "seats.mark_removed",
    "seats.mark_reclaimed",
    "seats.get",
    "seats.list",
    "seats.page",
    "seats.list_candidates",
    "seats.get_candidate",
    "seats.put_candidate",
    "seats.put_candidates",
    "seats.delete_candidate",
    "seats.delete_candidates",
    "seats.candidate_digests",
    "seats.put_license_summaries",
    "seats.license_summaries",
    "seats.put_keep",
    "seats.get_keep",
    "seats.delete_keep",
    "seats.keeps",
    "reclaims.create",
    "reclaims.get",
    "reclaims.save",
    "reclaims.list",
    "reclaims.put_invalid",
    "reclaims.list_invalid",
    "reclaims.count_reclaim",
    "runs.acquire_lease",
    "runs.release_lease",
    "runs.put_task_run",
    "runs.task_runs",
    "runs.get_checkpoint",
    "runs.put_checkpoint",
    "runs.get_run_state",
    "runs.put_run_state",
    "runs.put_run_blob",
    "runs.get_run_blob",
    "runs.clear_run_state",
    "connects.put_pending",
    "connects.consume_pending",
    "notices.create_notice",
    "notices.save_notice",
    "notices.get_notice",
    "notices.notices",
    "notices.put_token",
    "notices.get_token",
    "notices.keep",
    "notices.claim_digest",
    "notices.release_digest",
    "notices.last_digest",
    "notices.put_message",
    "notices.get_message",
];

impl Repos for MemoryRepos {
    type Profiles = MemoryProfiles;
    type Seats = MemorySeats;
    type Reclaims = MemoryReclaims;
    type Runs = MemoryRuns;
    type Connects = MemoryConnects;
    type Notices = MemoryNotices;

    fn profiles(&self) -> &MemoryProfiles {
        &self.profiles
    }
    fn seats(&self) -> &MemorySeats {
        &self.seats
    }
    fn reclaims(&self) -> &MemoryReclaims {
        &self.reclaims
    }
    fn runs(&self) -> &MemoryRuns {
        &self.runs
    }
    fn connects(&self) -> &MemoryConnects {
        &self.connects
    }
    fn notices(&self) -> &MemoryNotices {
        &self.notices
    }
}

fn key(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

// ------------------------------------------------------------------------------ profiles

#[derive(Debug, Clone)]
pub struct MemoryProfiles(Arc<Shared>);

impl ProfileRepo for MemoryProfiles {
    async fn create(&self, p: &Profile) -> Result<(), StoreError> {
        self.0.call("profiles.create", |s| {
            if s.profiles.contains_key(&p.id) {
                return Err(StoreError::Conflict(format!(
                    "profile {} already exists",
                    p.id
                )));
            }
            s.profiles.insert(p.id.clone(), p.clone());
            Ok(())
        })
    }

    async fn put(&self, p: &Profile) -> Result<(), StoreError> {
        self.0
            .call("profiles.put", |s| match s.profiles.get(&p.id) {
                Some(stored) if stored.version == p.version => {
                    let mut next = p.clone();
                    next.version = p.version + 1;
                    s.profiles.insert(p.id.clone(), next);
                    Ok(())
                }
                _ => Err(StoreError::Conflict(format!(
                    "profile {} was changed by someone else meanwhile",
                    p.id
                ))),
            })
    }

    async fn get(&self, id: &str) -> Result<Option<Profile>, StoreError> {
        self.0
            .call("profiles.get", |s| Ok(s.profiles.get(id).cloned()))
    }

    async fn list(&self) -> Result<Vec<Profile>, StoreError> {
        self.0.call("profiles.list", |s| {
            Ok(s.profiles.values().cloned().collect())
        })
    }

    async fn set_last_sync(&self, profile_id: &str, last: &LastSync) -> Result<(), StoreError> {
        const OP: &str = "profiles.set_last_sync";
        self.0.call(OP, |s| match s.profiles.get_mut(profile_id) {
            Some(p) => {
                p.last_sync = Some(last.clone());
                p.version += 1;
                Ok(())
            }
            None => Err(aws(OP, MemoryError::ConditionFailed)),
        })
    }
}

// --------------------------------------------------------------------------------- seats

#[derive(Debug, Clone)]
pub struct MemorySeats(Arc<Shared>);

/// The entries of one profile (one partition), in key order.
fn profile_range<'a, V>(
    map: &'a BTreeMap<(String, String), V>,
    profile_id: &str,
) -> impl DoubleEndedIterator<Item = (&'a (String, String), &'a V)> {
    // (p, "") ..< (p + "\0", ""): exactly the keys whose first part is p
    map.range((profile_id.to_owned(), String::new())..(format!("{profile_id}\0"), String::new()))
}

impl SeatRepo for MemorySeats {
    async fn index(&self, profile_id: &str) -> Result<SeatIndex, StoreError> {
        self.0.call("seats.index", |s| s.full_index(profile_id))
    }

    async fn open_index(
        &self,
        profile_id: &str,
        resume: Option<&IndexTicket>,
    ) -> Result<(SeatIndex, IndexTicket), StoreError> {
        // Err: read every seat, as `index` does (counted as a call of it)
        let opened = self.0.call("seats.open_index", |s| {
            let notes = match resume {
                None => s.notes(profile_id),
                Some(t) => t.notes.clone(),
            };
            let head = s.snapshot_heads.entry(profile_id.to_owned()).or_default();
            let opening = seat_snapshot::trusted(resume, head.rev, head.current);
            if resume.is_none() {
                // the move DynamoDB's `ADD rev 1` makes
                head.rev = opening.0;
            }
            if let Some(at) = opening.1 {
                if let Some(mut index) = s.snapshot(profile_id, at)? {
                    let ticket = seat_snapshot::opened(&mut index, resume, opening, notes);
                    return Ok(Ok((index, ticket)));
                }
            }
            Ok(Err((opening.0, notes)))
        })?;
        match opened {
            Ok(found) => Ok(found),
            Err((rev, notes)) => {
                let mut index = self.index(profile_id).await?;
                let ticket = seat_snapshot::opened(&mut index, resume, (rev, None), notes);
                Ok((index, ticket))
            }
        }
    }

    async fn save_index(
        &self,
        profile_id: &str,
        ticket: &IndexTicket,
        index: &SeatIndex,
    ) -> Result<bool, StoreError> {
        self.0.call("seats.save_index", |s| {
            let plan = seat_snapshot::Plan::new(index, ticket.snapshot);
            for group in plan.groups(index) {
                for (part, bytes) in group? {
                    s.snapshot_parts
                        .insert((profile_id.to_owned(), plan.parts, part), bytes);
                }
            }
            let head = s.snapshot_heads.entry(profile_id.to_owned()).or_default();
            if head.rev != ticket.rev {
                return Ok(false);
            }
            head.current = Some(SnapshotRef {
                rev: ticket.rev,
                parts: plan.parts,
            });
            for n in &ticket.notes {
                let k = key(profile_id, &n.user_id);
                if s.snapshot_notes.get(&k) == Some(&n.nonce) {
                    s.snapshot_notes.remove(&k);
                }
            }
            Ok(true)
        })
    }

    async fn states(
        &self,
        profile_id: &str,
        user_ids: &[String],
    ) -> Result<Vec<StoredSeatState>, StoreError> {
        self.0.call("seats.states", |s| {
            // as BatchGetItem: one key twice is refused
            let distinct: std::collections::HashSet<&String> = user_ids.iter().collect();
            if distinct.len() < user_ids.len() {
                return Err(aws("seats.states", MemoryError::DuplicateKeys));
            }
            Ok(user_ids
                .iter()
                .filter_map(|u| s.seats.get(&key(profile_id, u)))
                .map(StoredSeatState::from)
                .collect())
        })
    }

    async fn put_many(&self, seats: &[Seat]) -> Result<usize, StoreError> {
        // as the DynamoDB adapter: the sync never writes the reclaim's attributes, and a seat
        // reclaimed after the roster read stays removed
        self.0.call("seats.put_many", |s| {
            for seat in seats {
                let k = key(&seat.profile_id, &seat.user_id);
                let mut next = seat.clone();
                if let Some(stored) = s.seats.get(&k) {
                    next.reclaimed_at = stored.reclaimed_at;
                    next.reclaim_request_id = stored.reclaim_request_id.clone();
                    let cutoff = seat.last_seen_at - crate::domain::seat::RECLAIM_LISTING_LAG;
                    if stored.reclaimed_at.is_some_and(|at| at >= cutoff) {
                        next.removed_at = stored.removed_at;
                    }
                } else {
                    next.reclaimed_at = None;
                    next.reclaim_request_id = None;
                }
                s.seats.insert(k, next);
            }
            Ok(seats.len())
        })
    }

    async fn mark_removed(
        &self,
        profile_id: &str,
        user_id: &str,
        at: DateTime<Utc>,
        run_id: &str,
    ) -> Result<bool, StoreError> {
        self.0.call("seats.mark_removed", |s| {
            match s.seats.get_mut(&key(profile_id, user_id)) {
                Some(seat) if seat.removed_at.is_none() => {
                    seat.removed_at = Some(at);
                    seat.run_id = run_id.to_owned();
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }

    async fn mark_reclaimed(
        &self,
        profile_id: &str,
        user_id: &str,
        request_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.0.call("seats.mark_reclaimed", |s| {
            // one note stands for the two around DynamoDB's write: nothing runs between here
            s.snapshot_notes
                .insert(key(profile_id, user_id), uuid::Uuid::new_v4().to_string());
            if let Some(seat) = s.seats.get_mut(&key(profile_id, user_id)) {
                seat.reclaimed_at = Some(at);
                seat.reclaim_request_id = Some(request_id.to_owned());
                seat.removed_at = seat.removed_at.or(Some(at));
            }
            Ok(())
        })
    }

    async fn get(&self, profile_id: &str, user_id: &str) -> Result<Option<Seat>, StoreError> {
        self.0.call("seats.get", |s| {
            Ok(s.seats.get(&key(profile_id, user_id)).cloned())
        })
    }

    async fn list(&self, profile_id: &str) -> Result<Vec<Seat>, StoreError> {
        self.0.call("seats.list", |s| {
            Ok(profile_range(&s.seats, profile_id)
                .map(|(_, v)| v.clone())
                .collect())
        })
    }

    async fn page(
        &self,
        profile_id: &str,
        start: Option<SeatCursor>,
        skip_active: Option<ActiveAfter>,
    ) -> Result<SeatPage, StoreError> {
        let size = *lock(&self.0.page_size);
        self.0.call("seats.page", |s| {
            let mut rest = profile_range(&s.seats, profile_id)
                .filter(|((_, user), _)| start.as_ref().is_none_or(|c| *user > c.0))
                .map(|(_, v)| v);
            // like a Query's filter: a page is `size` seats read, then some are left out
            let read: Vec<RuleSeat> = rest.by_ref().take(size).map(RuleSeat::from).collect();
            let next = match (rest.next(), read.last()) {
                (Some(_), Some(last)) => Some(SeatCursor(last.user_id.clone())),
                _ => None,
            };
            let (left_out, seats): (Vec<_>, Vec<_>) = read
                .into_iter()
                .partition(|seat| skip_active.is_some_and(|b| seat.active_by(&b)));
            Ok(SeatPage {
                seats,
                active_left_out: left_out.len() as u64,
                next,
            })
        })
    }

    async fn list_candidates(&self, profile_id: &str) -> Result<Vec<Candidate>, StoreError> {
        self.0.call("seats.list_candidates", |s| {
            Ok(profile_range(&s.candidates, profile_id)
                .map(|(_, v)| v.clone())
                .collect())
        })
    }

    async fn get_candidate(
        &self,
        profile_id: &str,
        user_id: &str,
    ) -> Result<Option<Candidate>, StoreError> {
        self.0.call("seats.get_candidate", |s| {
            Ok(s.candidates.get(&key(profile_id, user_id)).cloned())
        })
    }

    async fn put_candidate(&self, c: &Candidate) -> Result<(), StoreError> {
        self.0.call("seats.put_candidate", |s| {
            s.candidates
                .insert(key(&c.profile_id, &c.user_id), c.clone());
            Ok(())
        })
    }

    async fn put_candidates(&self, list: &[Candidate]) -> Result<(), StoreError> {
        self.0.call("seats.put_candidates", |s| {
            for c in list {
                s.candidates
                    .insert(key(&c.profile_id, &c.user_id), c.clone());
            }
            Ok(())
        })
    }

    async fn delete_candidate(&self, profile_id: &str, user_id: &str) -> Result<(), StoreError> {
        self.0.call("seats.delete_candidate", |s| {
            s.candidates.remove(&key(profile_id, user_id));
            Ok(())
        })
    }

    async fn delete_candidates(
        &self,
        profile_id: &str,
        user_ids: &[String],
    ) -> Result<(), StoreError> {
        self.0.call("seats.delete_candidates", |s| {
            for u in user_ids {
                s.candidates.remove(&key(profile_id, u));
            }
            Ok(())
        })
    }

    async fn candidate_digests(
        &self,
        profile_id: &str,
    ) -> Result<HashMap<String, (String, bool)>, StoreError> {
        self.0.call("seats.candidate_digests", |s| {
            Ok(profile_range(&s.candidates, profile_id)
                .map(|(_, c)| {
                    (
                        c.user_id.clone(),
                        (c.finding.clone(), c.request_id.is_some()),
                    )
                })
                .collect())
        })
    }

    async fn put_license_summaries(&self, summaries: &[LicenseSummary]) -> Result<(), StoreError> {
        self.0.call("seats.put_license_summaries", |s| {
            for l in summaries {
                s.licenses
                    .insert(key(&l.profile_id, &l.license_type), l.clone());
            }
            Ok(())
        })
    }

    async fn license_summaries(&self, profile_id: &str) -> Result<Vec<LicenseSummary>, StoreError> {
        self.0.call("seats.license_summaries", |s| {
            Ok(profile_range(&s.licenses, profile_id)
                .map(|(_, v)| v.clone())
                .collect())
        })
    }

    async fn put_keep(&self, k: &Keep) -> Result<(), StoreError> {
        self.0.call("seats.put_keep", |s| {
            s.keeps.insert(key(&k.profile_id, &k.user_id), k.clone());
            Ok(())
        })
    }

    async fn get_keep(&self, profile_id: &str, user_id: &str) -> Result<Option<Keep>, StoreError> {
        self.0.call("seats.get_keep", |s| {
            Ok(s.keeps.get(&key(profile_id, user_id)).cloned())
        })
    }

    async fn delete_keep(&self, profile_id: &str, user_id: &str) -> Result<(), StoreError> {
        self.0.call("seats.delete_keep", |s| {
            s.keeps.remove(&key(profile_id, user_id));
            Ok(())
        })
    }

    async fn keeps(&self, profile_id: &str) -> Result<Vec<Keep>, StoreError> {
        self.0.call("seats.keeps", |s| {
            Ok(profile_range(&s.keeps, profile_id)
                .map(|(_, v)| v.clone())
                .collect())
        })
    }
}

// ------------------------------------------------------------------------------ reclaims

#[derive(Debug, Clone)]
pub struct MemoryReclaims(Arc<Shared>);

impl ReclaimRepo for MemoryReclaims {
    async fn create(&self, r: &ReclaimRecord) -> Result<bool, StoreError> {
        self.0.call("reclaims.create", |s| {
            let k = key(&r.request.profile_id, &r.request.request_id);
            if s.reclaims.contains_key(&k) {
                return Ok(false);
            }
            s.reclaims.insert(k, r.clone());
            Ok(true)
        })
    }

    async fn get(
        &self,
        profile_id: &str,
        request_id: &str,
    ) -> Result<Option<ReclaimRecord>, StoreError> {
        self.0.call("reclaims.get", |s| {
            Ok(s.reclaims.get(&key(profile_id, request_id)).cloned())
        })
    }

    async fn save(&self, r: &mut ReclaimRecord) -> Result<(), StoreError> {
        // A lost answer (cut_next) leaves the bumped version stored but not in `r`, as a
        // failed PutItem does in the DynamoDB adapter.
        let expected = r.version;
        let out = self.0.call("reclaims.save", |s| {
            let k = key(&r.request.profile_id, &r.request.request_id);
            match s.reclaims.get(&k) {
                Some(stored) if stored.version == expected => {
                    let mut next = r.clone();
                    next.version = expected + 1;
                    s.reclaims.insert(k, next);
                    Ok(())
                }
                _ => Err(StoreError::Conflict(format!(
                    "reclaim request {} was changed by another delivery",
                    r.request.request_id
                ))),
            }
        });
        if out.is_ok() {
            r.version = expected + 1;
        }
        out
    }

    async fn list(&self, profile_id: &str) -> Result<Vec<ReclaimRecord>, StoreError> {
        self.0.call("reclaims.list", |s| {
            let mut all: Vec<ReclaimRecord> = profile_range(&s.reclaims, profile_id)
                .map(|(_, v)| v.clone())
                .collect();
            // stable, like the DynamoDB adapter's sort of its request-id-ordered Query
            all.sort_by_key(|r| std::cmp::Reverse(r.created_at));
            Ok(all)
        })
    }

    async fn put_invalid(&self, m: &InvalidMessage) -> Result<(), StoreError> {
        self.0.call("reclaims.put_invalid", |s| {
            s.invalid.insert(m.message_id.clone(), m.clone());
            Ok(())
        })
    }

    async fn list_invalid(&self) -> Result<Vec<InvalidMessage>, StoreError> {
        self.0.call("reclaims.list_invalid", |s| {
            Ok(s.invalid.values().cloned().collect())
        })
    }

    async fn count_reclaim(
        &self,
        profile_id: &str,
        day: &str,
        cap: u64,
    ) -> Result<bool, StoreError> {
        self.0.call("reclaims.count_reclaim", |s| {
            // `attribute_not_exists(reclaims) OR reclaims < :cap`: the first count of a day
            // always passes, as in DynamoDB
            match s.counters.get_mut(&key(profile_id, day)) {
                None => {
                    s.counters.insert(key(profile_id, day), 1);
                    Ok(true)
                }
                Some(n) if *n < cap => {
                    *n += 1;
                    Ok(true)
                }
                Some(_) => Ok(false),
            }
        })
    }

    async fn put_approval(&self, a: &Approval) -> Result<(), StoreError> {
        self.0.call("reclaims.put_approval", |s| {
            s.approvals
                .insert(key(&a.profile_id, &a.request_id), a.clone());
            Ok(())
        })
    }

    async fn get_approval(
        &self,
        profile_id: &str,
        request_id: &str,
    ) -> Result<Option<Approval>, StoreError> {
        self.0.call("reclaims.get_approval", |s| {
            Ok(s.approvals.get(&key(profile_id, request_id)).cloned())
        })
    }

    async fn lock_user(
        &self,
        profile_id: &str,
        user_id: &str,
        request_id: &str,
        stale: Option<&str>,
    ) -> Result<UserLock, StoreError> {
        self.0.call("reclaims.lock_user", |s| {
            let k = key(profile_id, user_id);
            match s.user_locks.get(&k) {
                Some(h) if h != request_id && Some(h.as_str()) != stale => {
                    Ok(UserLock::HeldBy(h.clone()))
                }
                _ => {
                    s.user_locks.insert(k, request_id.to_owned());
                    Ok(UserLock::Taken)
                }
            }
        })
    }

    async fn unlock_user(
        &self,
        profile_id: &str,
        user_id: &str,
        request_id: &str,
    ) -> Result<(), StoreError> {
        self.0.call("reclaims.unlock_user", |s| {
            let k = key(profile_id, user_id);
            if s.user_locks.get(&k).is_some_and(|h| h == request_id) {
                s.user_locks.remove(&k);
            }
            Ok(())
        })
    }
}

// ---------------------------------------------------------------------------------- runs

#[derive(Debug, Clone)]
pub struct MemoryRuns(Arc<Shared>);

impl RunRepo for MemoryRuns {
    async fn acquire_lease(
        &self,
        profile_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.0.call("runs.acquire_lease", |s| {
            let now_secs = now.timestamp();
            if s.leases
                .get(profile_id)
                .is_some_and(|l| l.expires_at >= now_secs)
            {
                return Ok(false);
            }
            s.leases.insert(
                profile_id.to_owned(),
                Lease {
                    owner: owner.to_owned(),
                    expires_at: now_secs + ttl.as_secs() as i64,
                },
            );
            Ok(true)
        })
    }

    async fn release_lease(&self, profile_id: &str, owner: &str) -> Result<(), StoreError> {
        self.0.call("runs.release_lease", |s| {
            if s.leases.get(profile_id).is_some_and(|l| l.owner == owner) {
                s.leases.remove(profile_id);
            }
            Ok(())
        })
    }

    async fn put_task_run(&self, run: &TaskRun) -> Result<(), StoreError> {
        self.0.call("runs.put_task_run", |s| {
            s.task_runs
                .insert((run.profile_id.clone(), run.order_key()), run.clone());
            Ok(())
        })
    }

    async fn task_runs(&self, profile_id: &str, limit: usize) -> Result<Vec<TaskRun>, StoreError> {
        self.0.call("runs.task_runs", |s| {
            Ok(profile_range(&s.task_runs, profile_id)
                .rev()
                .take(limit)
                .map(|(_, v)| v.clone())
                .collect())
        })
    }

    async fn get_checkpoint(
        &self,
        profile_id: &str,
        stream: &str,
    ) -> Result<Option<Checkpoint>, StoreError> {
        self.0.call("runs.get_checkpoint", |s| {
            Ok(s.checkpoints.get(&key(profile_id, stream)).cloned())
        })
    }

    async fn put_checkpoint(&self, profile_id: &str, c: &Checkpoint) -> Result<(), StoreError> {
        self.0.call("runs.put_checkpoint", |s| {
            s.checkpoints.insert(key(profile_id, &c.stream), c.clone());
            Ok(())
        })
    }

    async fn get_run_state(&self, profile_id: &str) -> Result<Option<RunState>, StoreError> {
        self.0.call("runs.get_run_state", |s| {
            Ok(s.run_states.get(profile_id).cloned())
        })
    }

    async fn put_run_state(&self, state: &RunState, lease_owner: &str) -> Result<bool, StoreError> {
        self.0.call("runs.put_run_state", |s| {
            if s.leases
                .get(&state.profile_id)
                .is_none_or(|l| l.owner != lease_owner)
            {
                return Ok(false);
            }
            s.run_states.insert(state.profile_id.clone(), state.clone());
            Ok(true)
        })
    }

    async fn put_run_blob(
        &self,
        profile_id: &str,
        run_id: &str,
        name: &str,
        data: &[u8],
    ) -> Result<BlobRef, StoreError> {
        self.0.call("runs.put_run_blob", |s| {
            let parts: Vec<Vec<u8>> = data.chunks(MEMORY_BLOB_PART).map(<[u8]>::to_vec).collect();
            let blob = BlobRef {
                name: name.to_owned(),
                parts: parts.len() as u32,
            };
            s.run_blobs.insert(
                (profile_id.to_owned(), run_id.to_owned(), name.to_owned()),
                parts,
            );
            Ok(blob)
        })
    }

    async fn get_run_blob(
        &self,
        profile_id: &str,
        run_id: &str,
        blob: &BlobRef,
    ) -> Result<Vec<u8>, StoreError> {
        self.0.call("runs.get_run_blob", |s| {
            let k = (profile_id.to_owned(), run_id.to_owned(), blob.name.clone());
            match s.run_blobs.get(&k) {
                Some(parts) if parts.len() == blob.parts as usize => Ok(parts.concat()),
                _ => Err(StoreError::Corrupt {
                    what: "run blob",
                    source: format!("{} of run {run_id}: parts missing", blob.name).into(),
                }),
            }
        })
    }

    async fn clear_run_state(&self, profile_id: &str, run_id: &str) -> Result<(), StoreError> {
        self.0.call("runs.clear_run_state", |s| {
            if s.run_states
                .get(profile_id)
                .is_some_and(|st| st.run_id == run_id)
            {
                s.run_states.remove(profile_id);
            }
            s.run_blobs
                .retain(|(p, r, _), _| !(p == profile_id && r == run_id));
            Ok(())
        })
    }
}

// ------------------------------------------------------------------------------ connects

#[derive(Debug, Clone)]
pub struct MemoryConnects(Arc<Shared>);

impl ConnectRepo for MemoryConnects {
    async fn put_pending(&self, state_digest: &str, p: &PendingConnect) -> Result<(), StoreError> {
        const OP: &str = "connects.put_pending";
        self.0.call(OP, |s| {
            if s.pending.contains_key(state_digest) {
                // DynamoDB's answer to a taken state (never expected: states are random)
                return Err(aws(OP, MemoryError::ConditionFailed));
            }
            s.pending.insert(state_digest.to_owned(), p.clone());
            Ok(())
        })
    }

    async fn consume_pending(
        &self,
        state_digest: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingConnect>, StoreError> {
        self.0.call("connects.consume_pending", |s| {
            // whole seconds, like the stored `expires_epoch`; an expired one stays (for the TTL)
            match s.pending.get(state_digest) {
                Some(p) if p.expires_at.timestamp() > now.timestamp() => {
                    Ok(s.pending.remove(state_digest))
                }
                _ => Ok(None),
            }
        })
    }
}

// ------------------------------------------------------------------------------ notices

#[derive(Debug, Clone)]
pub struct MemoryNotices(Arc<Shared>);

fn notice_key(n: &Notice) -> (String, String) {
    (
        n.profile_id.clone(),
        format!("{}#{}", n.user_id, n.candidacy),
    )
}

impl MemoryRepos {
    /// The profile's current seat index snapshot, if one is (what a run's first roster
    /// invocation would read).
    pub fn current_snapshot(&self, profile_id: &str) -> Option<SnapshotRef> {
        let s = lock(&self.shared.state);
        let head = s.snapshot_heads.get(profile_id)?;
        head.current.filter(|c| c.rev == head.rev)
    }

    /// The keep recorded for a user, if any (what the keep page wrote).
    pub fn keep_of(&self, profile_id: &str, user_id: &str) -> Option<Keep> {
        lock(&self.shared.state)
            .keeps
            .get(&key(profile_id, user_id))
            .cloned()
    }
}

impl NoticeRepo for MemoryNotices {
    async fn create_notice(&self, n: &Notice) -> Result<bool, StoreError> {
        self.0.call("notices.create_notice", |s| {
            let k = notice_key(n);
            if s.notices.contains_key(&k) {
                return Ok(false);
            }
            s.notices.insert(k, n.clone());
            Ok(true)
        })
    }

    async fn save_notice(&self, n: &mut Notice) -> Result<(), StoreError> {
        self.0.call("notices.save_notice", |s| {
            let k = notice_key(n);
            match s.notices.get(&k) {
                Some(old) if old.version == n.version => {
                    let mut stored = n.clone();
                    stored.version += 1;
                    s.notices.insert(k, stored);
                    n.version += 1;
                    Ok(())
                }
                _ => Err(StoreError::Conflict(format!(
                    "notice of {} changed since it was read",
                    n.user_id
                ))),
            }
        })
    }

    async fn get_notice(
        &self,
        profile_id: &str,
        user_id: &str,
        candidacy: &str,
    ) -> Result<Option<Notice>, StoreError> {
        self.0.call("notices.get_notice", |s| {
            Ok(s.notices
                .get(&key(profile_id, &format!("{user_id}#{candidacy}")))
                .cloned())
        })
    }

    async fn notices(&self, profile_id: &str) -> Result<Vec<Notice>, StoreError> {
        self.0.call("notices.notices", |s| {
            Ok(profile_range(&s.notices, profile_id)
                .map(|(_, n)| n.clone())
                .collect())
        })
    }

    async fn put_token(&self, digest: &str, t: &NoticeToken) -> Result<(), StoreError> {
        self.0.call("notices.put_token", |s| {
            if s.tokens.contains_key(digest) {
                return Err(StoreError::Conflict("token digest taken".into()));
            }
            s.tokens.insert(digest.to_owned(), t.clone());
            Ok(())
        })
    }

    async fn get_token(&self, digest: &str) -> Result<Option<NoticeToken>, StoreError> {
        self.0
            .call("notices.get_token", |s| Ok(s.tokens.get(digest).cloned()))
    }

    async fn keep(
        &self,
        digest: &str,
        keep: &Keep,
        now: DateTime<Utc>,
    ) -> Result<KeepOutcome, StoreError> {
        self.0.call("notices.keep", |s| {
            // all three conditions first, then all three writes: one transaction
            let Some(token) = s.tokens.get(digest).filter(|t| {
                t.usable(now) && t.profile_id == keep.profile_id && t.user_id == keep.user_id
            }) else {
                return Ok(KeepOutcome::Refused);
            };
            let nk = key(
                &token.profile_id,
                &format!("{}#{}", token.user_id, token.candidacy),
            );
            let Some(mut notice) = s.notices.get(&nk).cloned() else {
                return Ok(KeepOutcome::Refused);
            };
            if notice.kept(keep.reason.clone(), keep.until, now).is_err() {
                return Ok(KeepOutcome::Refused);
            }
            notice.version += 1;
            s.notices.insert(nk, notice);
            if let Some(t) = s.tokens.get_mut(digest) {
                t.used_at = Some(now);
            }
            s.keeps
                .insert(key(&keep.profile_id, &keep.user_id), keep.clone());
            Ok(KeepOutcome::Kept)
        })
    }

    async fn claim_digest(
        &self,
        profile_id: &str,
        day: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.0.call("notices.claim_digest", |s| {
            let k = key(profile_id, day);
            if s.digests.contains_key(&k) {
                return Ok(false);
            }
            s.digests.insert(k, at);
            Ok(true)
        })
    }

    async fn release_digest(&self, profile_id: &str, day: &str) -> Result<(), StoreError> {
        self.0.call("notices.release_digest", |s| {
            s.digests.remove(&key(profile_id, day));
            Ok(())
        })
    }

    async fn last_digest(&self, profile_id: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.0.call("notices.last_digest", |s| {
            Ok(profile_range(&s.digests, profile_id)
                .next_back()
                .map(|(_, at)| *at))
        })
    }

    async fn put_message(&self, m: &NoticeMessage) -> Result<(), StoreError> {
        self.0.call("notices.put_message", |s| {
            s.messages.insert(m.message_id.clone(), m.clone());
            Ok(())
        })
    }

    async fn get_message(&self, message_id: &str) -> Result<Option<NoticeMessage>, StoreError> {
        self.0.call("notices.get_message", |s| {
            Ok(s.messages.get(message_id).cloned())
        })
    }
}

// ------------------------------------------------------------------------------ contract

pub mod contract;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_repos_meet_the_repository_contract() {
        contract::check_all(&MemoryRepos::new(), "mem").await;
    }

    #[tokio::test]
    async fn the_contract_holds_with_one_seat_per_page_too() {
        contract::check_all(&MemoryRepos::new().with_page_size(1), "one").await;
    }

    #[tokio::test]
    async fn fail_next_fails_one_call_and_writes_nothing() {
        let r = MemoryRepos::new();
        let p = Profile::new_dropbox("p1", "P", Utc::now()).unwrap();
        r.fail_next("profiles.create");
        let err = r.profiles().create(&p).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Aws {
                    op: "profiles.create",
                    ..
                }
            ),
            "{err}"
        );
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("injected fault in profiles.create"));
        assert_eq!(r.profiles().get("p1").await.unwrap(), None);
        r.profiles().create(&p).await.unwrap();
        assert_eq!(r.calls("profiles.create"), 2);
        assert_eq!(r.calls("profiles.get"), 1);
    }

    #[tokio::test]
    async fn cut_next_writes_but_reports_a_failure() {
        let r = MemoryRepos::new();
        let mut rec = ReclaimRecord::new(
            crate::domain::ReclaimRequest::new("p1", "u1", false, "t", None),
            crate::domain::Provider::Box,
            Utc::now(),
        );
        assert!(r.reclaims().create(&rec).await.unwrap());
        r.cut_next("reclaims.save");
        assert!(r.reclaims().save(&mut rec).await.is_err());
        assert_eq!(rec.version, 0, "the caller did not see the write");
        let stored = r
            .reclaims()
            .get("p1", &rec.request.request_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.version, 1, "but it happened");
        // a retry with the stale version now conflicts, as against DynamoDB
        assert!(matches!(
            r.reclaims().save(&mut rec).await,
            Err(StoreError::Conflict(_))
        ));
    }

    #[tokio::test]
    async fn faults_queue_up_per_op_and_clones_share_state() {
        let r = MemoryRepos::new();
        let other = r.clone();
        r.fail_next("reclaims.count_reclaim");
        r.fail_next("reclaims.count_reclaim");
        assert!(other.reclaims().count_reclaim("p", "d", 5).await.is_err());
        assert!(other.reclaims().count_reclaim("p", "d", 5).await.is_err());
        assert!(other.reclaims().count_reclaim("p", "d", 5).await.unwrap());
        assert_eq!(r.reclaim_count("p", "d"), 1);
        assert!(r
            .runs()
            .acquire_lease("p", "me", Utc::now(), Duration::from_secs(5))
            .await
            .unwrap());
        assert_eq!(other.lease_owner("p").as_deref(), Some("me"));
    }

    #[tokio::test]
    async fn paging_uses_the_configured_size() {
        let r = MemoryRepos::new().with_page_size(2);
        let seats: Vec<Seat> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|u| {
                let mut s = r_seat(u);
                s.profile_id = "p".into();
                s
            })
            .collect();
        r.seats().put_many(&seats).await.unwrap();
        let p1 = r.seats().page("p", None, None).await.unwrap();
        assert_eq!(p1.seats.len(), 2);
        assert_eq!(p1.next, Some(SeatCursor("b".into())));
        let p2 = r.seats().page("p", p1.next, None).await.unwrap();
        assert_eq!(p2.seats[0].user_id, "c");
        let p3 = r.seats().page("p", p2.next, None).await.unwrap();
        assert_eq!((p3.seats.len(), p3.next), (1, None));
    }

    fn r_seat(user: &str) -> Seat {
        let now = Utc::now();
        Seat {
            profile_id: String::new(),
            provider: crate::domain::Provider::Box,
            user_id: user.into(),
            login: String::new(),
            name: String::new(),
            status: "active".into(),
            role: "user".into(),
            is_admin: false,
            license_type: "x".into(),
            license_managed: true,
            created_at: None,
            last_login: None,
            first_seen_at: now,
            last_seen_at: now,
            removed_at: None,
            reclaimed_at: None,
            reclaim_request_id: None,
            run_id: "r".into(),
            fingerprint: "f".into(),
            last_activity: None,
        }
    }
}
