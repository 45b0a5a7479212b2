//! Repositories, one per aggregate. The single-table DynamoDB design behind them is in
//! `docs/dynamodb.md`; the services never see keys, items or the SDK.
use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::domain::profile::LastSync;
use crate::domain::rules::ActiveAfter;
use crate::domain::{
    Approval, Candidate, Checkpoint, InvalidMessage, Keep, LicenseSummary, Notice, NoticeMessage,
    NoticeToken, PendingConnect, Profile, ReclaimRecord, RuleSeat, Seat, SeatIndex,
    StoredSeatState, TaskRun,
};
use crate::domain::{BlobRef, IndexTicket, RunState};

/// The source of a store failure, kept for logs and `Error::source` chains.
pub type ErrorSource = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, Error)]
pub enum StoreError {
    /// The database call failed (network, throttling, permissions): usually worth a retry.
    #[error("DynamoDB {op} failed: {message}")]
    Aws {
        op: &'static str,
        /// The whole error chain as one line (the SDK's own Display is only its outer layer).
        message: String,
        #[source]
        source: ErrorSource,
    },
    /// An item did not (de)serialise: a bug or a hand-edited item, never retried.
    #[error("stored {what} could not be read: {source}")]
    Corrupt {
        what: &'static str,
        #[source]
        source: ErrorSource,
    },
    /// A conditional write lost to a concurrent writer: re-read and try again.
    #[error("{0}")]
    Conflict(String),
    #[error("DynamoDB kept {0} items unprocessed after retries")]
    Unprocessed(usize),
}

/// A seat index snapshot that cannot be read or written as it is: never retried.
impl From<crate::domain::SnapshotError> for StoreError {
    fn from(e: crate::domain::SnapshotError) -> Self {
        Self::corrupt("seat index snapshot", e)
    }
}

/// The seat index refused a seat (past 4 Gi): never retried, like a corrupt item.
impl From<crate::domain::IndexFull> for StoreError {
    fn from(e: crate::domain::IndexFull) -> Self {
        Self::corrupt("seat index", e)
    }
}

impl StoreError {
    pub fn corrupt(what: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Corrupt {
            what,
            source: Box::new(e),
        }
    }
}

/// Where the next page of a profile's seats starts (the last user id of the page before);
/// opaque to the services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatCursor(pub String);

/// One page of [`SeatRepo::page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatPage {
    pub seats: Vec<RuleSeat>,
    /// Present seats left out because they are active by the bound asked for.
    pub active_left_out: u64,
    pub next: Option<SeatCursor>,
}

/// Integration profiles (one per Box enterprise or Dropbox team), written with optimistic
/// versioning so an operator's edit and a sync never overwrite each other.
#[allow(async_fn_in_trait)]
pub trait ProfileRepo {
    /// Adds a profile; `Conflict` if one with the same id exists.
    async fn create(&self, p: &Profile) -> Result<(), StoreError>;
    /// Writes `p` if nobody wrote it since it was read (same `version`); `Conflict` otherwise.
    async fn put(&self, p: &Profile) -> Result<(), StoreError>;
    async fn get(&self, id: &str) -> Result<Option<Profile>, StoreError>;
    async fn list(&self) -> Result<Vec<Profile>, StoreError>;
    /// Records the last finished sync without touching fields an operator may be editing.
    async fn set_last_sync(&self, profile_id: &str, last: &LastSync) -> Result<(), StoreError>;

    /// Read-modify-write: `edit` runs on the current profile and is re-run on a fresh read if
    /// someone wrote the profile in between. `None` if the profile does not exist; an `Err`
    /// from `edit` writes nothing.
    async fn update<T, E, F>(&self, id: &str, mut edit: F) -> Result<Option<T>, E>
    where
        E: From<StoreError>,
        F: FnMut(&mut Profile) -> Result<T, E>,
    {
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            let Some(mut p) = self.get(id).await? else {
                return Ok(None);
            };
            let out = edit(&mut p)?;
            match self.put(&p).await {
                Ok(()) => return Ok(Some(out)),
                Err(StoreError::Conflict(_)) if attempt < ATTEMPTS => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict(format!("profile {id} kept changing; try again")).into())
    }
}

/// A profile's seat inventory: seats, the reclaim candidates among them, and the license
/// summaries of the last finished sync.
#[allow(async_fn_in_trait)]
pub trait SeatRepo {
    /// The compact state of every stored seat (what a roster pass compares against).
    async fn index(&self, profile_id: &str) -> Result<SeatIndex, StoreError>;
    /// The stored-seat index for a roster pass, from the profile's snapshot when that can be
    /// trusted, else from every stored seat ([`Self::index`]), and the ticket that saves it.
    ///
    /// `resume: None` (a run's first roster invocation) moves the profile's seat revision first:
    /// a snapshot holds only while the revision is the one its save ran under, so once this run
    /// may write seats, no snapshot saved before it is trusted unless this run saves one. The
    /// snapshot is read if it holds the revision before the move. `resume: Some(t)` (a later
    /// invocation of the same run) reads the snapshot `t` names if it is still the saved one,
    /// else every seat, and moves nothing.
    ///
    /// Every seat write outside a roster pass ([`Self::mark_reclaimed`]) leaves a note beside
    /// the snapshot; opening applies the notes (each noted seat is compared in full), so a
    /// snapshot never hides such a write.
    async fn open_index(
        &self,
        profile_id: &str,
        resume: Option<&IndexTicket>,
    ) -> Result<(SeatIndex, IndexTicket), StoreError>;
    /// Saves `index` (the seats as a complete roster pass left them) as the profile's snapshot,
    /// rewriting only the parts that changed, marks it current for `ticket`'s revision, then
    /// deletes the notes the ticket applied, each only if not written again since; false (the
    /// parts written, the snapshot not current) when the revision moved since.
    async fn save_index(
        &self,
        profile_id: &str,
        ticket: &IndexTicket,
        index: &SeatIndex,
    ) -> Result<bool, StoreError>;
    /// The full stored states of these seats (those stored; any order): what a roster pass
    /// reconciles a seat against when the index cannot tell it unchanged.
    async fn states(
        &self,
        profile_id: &str,
        user_ids: &[String],
    ) -> Result<Vec<StoredSeatState>, StoreError>;
    /// Writes seats in batches; returns how many were written.
    async fn put_many(&self, seats: &[Seat]) -> Result<usize, StoreError>;
    /// Marks a seat removed (kept, never deleted); false if it already was.
    async fn mark_removed(
        &self,
        profile_id: &str,
        user_id: &str,
        at: DateTime<Utc>,
        run_id: &str,
    ) -> Result<bool, StoreError>;
    /// Marks a seat reclaimed (and removed) by a request; a seat never stored is left alone.
    /// Leaves a note for the seat beside the profile's snapshot before the write and again
    /// after it (a crash between leaves the note; a roster pass that applied the first and
    /// saved before the write leaves the second).
    async fn mark_reclaimed(
        &self,
        profile_id: &str,
        user_id: &str,
        request_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn get(&self, profile_id: &str, user_id: &str) -> Result<Option<Seat>, StoreError>;
    /// Every stored seat (present and removed).
    async fn list(&self, profile_id: &str) -> Result<Vec<Seat>, StoreError>;
    /// One page of stored seats, as the rules read them, and where the next starts (bounded
    /// memory on any tenant). With `skip_active`, present seats active by that bound
    /// ([`RuleSeat::active_by`]) may be left out of the page and only counted: an adapter may
    /// return some of them anyway, and never leaves out any other seat.
    async fn page(
        &self,
        profile_id: &str,
        start: Option<SeatCursor>,
        skip_active: Option<ActiveAfter>,
    ) -> Result<SeatPage, StoreError>;

    async fn list_candidates(&self, profile_id: &str) -> Result<Vec<Candidate>, StoreError>;
    async fn get_candidate(
        &self,
        profile_id: &str,
        user_id: &str,
    ) -> Result<Option<Candidate>, StoreError>;
    async fn put_candidate(&self, c: &Candidate) -> Result<(), StoreError>;
    async fn put_candidates(&self, list: &[Candidate]) -> Result<(), StoreError>;
    async fn delete_candidate(&self, profile_id: &str, user_id: &str) -> Result<(), StoreError>;
    async fn delete_candidates(
        &self,
        profile_id: &str,
        user_ids: &[String],
    ) -> Result<(), StoreError>;
    /// Stored candidates as `user id → (finding digest, requested)`: what a refresh compares
    /// against without holding whole candidates in memory.
    async fn candidate_digests(
        &self,
        profile_id: &str,
    ) -> Result<HashMap<String, (String, bool)>, StoreError>;

    async fn put_license_summaries(&self, summaries: &[LicenseSummary]) -> Result<(), StoreError>;
    async fn license_summaries(&self, profile_id: &str) -> Result<Vec<LicenseSummary>, StoreError>;

    /// Stores a user's keep (replacing an older one).
    async fn put_keep(&self, k: &Keep) -> Result<(), StoreError>;
    async fn get_keep(&self, profile_id: &str, user_id: &str) -> Result<Option<Keep>, StoreError>;
    /// Deletes a user's keep (none stored is fine): a restore that restored nothing takes back
    /// the keep it wrote first.
    async fn delete_keep(&self, profile_id: &str, user_id: &str) -> Result<(), StoreError>;
    /// Every stored keep of the profile, ended ones too (they are few: one per user who asked).
    async fn keeps(&self, profile_id: &str) -> Result<Vec<Keep>, StoreError>;
}

/// Reclaim requests (the audit trail), messages that were not requests, and the daily counter
/// behind the blast-radius cap.
#[allow(async_fn_in_trait)]
pub trait ReclaimRepo {
    /// Stores a new record; false if the request id is taken.
    async fn create(&self, r: &ReclaimRecord) -> Result<bool, StoreError>;
    async fn get(
        &self,
        profile_id: &str,
        request_id: &str,
    ) -> Result<Option<ReclaimRecord>, StoreError>;
    /// Writes `r` if nobody wrote it since it was read and bumps `r.version`; `Conflict` if a
    /// concurrent delivery did (the version is left as it was).
    async fn save(&self, r: &mut ReclaimRecord) -> Result<(), StoreError>;
    /// A profile's requests, newest first.
    async fn list(&self, profile_id: &str) -> Result<Vec<ReclaimRecord>, StoreError>;
    async fn put_invalid(&self, m: &InvalidMessage) -> Result<(), StoreError>;
    async fn list_invalid(&self) -> Result<Vec<InvalidMessage>, StoreError>;
    /// Counts one reclaim against the profile's cap for `day` (UTC `YYYY-MM-DD`); false when
    /// the cap is reached (nothing counted).
    async fn count_reclaim(
        &self,
        profile_id: &str,
        day: &str,
        cap: u64,
    ) -> Result<bool, StoreError>;

    /// Records the approval of a request (before it is posted). Overwrites the same request's.
    async fn put_approval(&self, a: &Approval) -> Result<(), StoreError>;
    async fn get_approval(
        &self,
        profile_id: &str,
        request_id: &str,
    ) -> Result<Option<Approval>, StoreError>;
    /// Takes the (profile, user) reclaim lock for `request_id` with a conditional write: free,
    /// already held by `request_id`, or held by `stale` (a finished or vanished request whose
    /// lock was not released) → `Taken`; else `HeldBy` the open request.
    async fn lock_user(
        &self,
        profile_id: &str,
        user_id: &str,
        request_id: &str,
        stale: Option<&str>,
    ) -> Result<UserLock, StoreError>;
    /// Releases the lock if `request_id` holds it (a no-op otherwise).
    async fn unlock_user(
        &self,
        profile_id: &str,
        user_id: &str,
        request_id: &str,
    ) -> Result<(), StoreError>;
}

/// The answer of [`ReclaimRepo::lock_user`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLock {
    Taken,
    /// Another request (its id) holds the user.
    HeldBy(String),
}

/// Sync runs: the per-profile lease, task runs and activity checkpoints.
#[allow(async_fn_in_trait)]
pub trait RunRepo {
    /// Takes the profile's sync lease unless someone holds an unexpired one.
    async fn acquire_lease(
        &self,
        profile_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<bool, StoreError>;
    /// Releases the lease if `owner` still holds it.
    async fn release_lease(&self, profile_id: &str, owner: &str) -> Result<(), StoreError>;
    async fn put_task_run(&self, run: &TaskRun) -> Result<(), StoreError>;
    /// A profile's task runs, newest first.
    async fn task_runs(&self, profile_id: &str, limit: usize) -> Result<Vec<TaskRun>, StoreError>;
    async fn get_checkpoint(
        &self,
        profile_id: &str,
        stream: &str,
    ) -> Result<Option<Checkpoint>, StoreError>;
    async fn put_checkpoint(&self, profile_id: &str, c: &Checkpoint) -> Result<(), StoreError>;
    /// The profile's saved run, if one stopped at a deadline and has not finished since.
    async fn get_run_state(&self, profile_id: &str) -> Result<Option<RunState>, StoreError>;
    /// Saves (replaces) the profile's run state, only while `lease_owner` holds the profile's
    /// sync lease (false, nothing written, if it lost it: another invocation may be working
    /// on the run). Its blobs must be stored first.
    async fn put_run_state(&self, state: &RunState, lease_owner: &str) -> Result<bool, StoreError>;
    /// Stores `data` under `name` for the profile's run `run_id`, in as many parts as it needs.
    async fn put_run_blob(
        &self,
        profile_id: &str,
        run_id: &str,
        name: &str,
        data: &[u8],
    ) -> Result<BlobRef, StoreError>;
    /// A blob stored by [`RunRepo::put_run_blob`]; an error if a part is missing.
    async fn get_run_blob(
        &self,
        profile_id: &str,
        run_id: &str,
        blob: &BlobRef,
    ) -> Result<Vec<u8>, StoreError>;
    /// Deletes run `run_id`'s blobs, and the profile's run state if it is that run's (another
    /// run's state, saved meanwhile, stays).
    async fn clear_run_state(&self, profile_id: &str, run_id: &str) -> Result<(), StoreError>;
}

/// Pending OAuth connects, keyed by the digest of their `state`.
#[allow(async_fn_in_trait)]
pub trait ConnectRepo {
    async fn put_pending(&self, state_digest: &str, p: &PendingConnect) -> Result<(), StoreError>;
    /// Takes a pending connect atomically: it must exist and be unexpired, and it is gone
    /// afterwards. `None` for unknown, used or expired.
    async fn consume_pending(
        &self,
        state_digest: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingConnect>, StoreError>;
}

/// The answer of [`NoticeRepo::keep`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepOutcome {
    /// The token was consumed, the keep written and the notice marked kept, all at once.
    Kept,
    /// Nothing changed: the token is unknown, used or expired, or the notice is no longer
    /// waiting for an answer.
    Refused,
}

/// Notify mode: one notice per candidacy, the keep tokens (stored by digest only) and the
/// daily digest markers.
#[allow(async_fn_in_trait)]
pub trait NoticeRepo {
    /// Stores a new notice; false if the candidacy already has one (nothing written).
    async fn create_notice(&self, n: &Notice) -> Result<bool, StoreError>;
    /// Writes `n` if nobody wrote it since it was read and bumps `n.version`; `Conflict` if
    /// someone did (e.g. the user kept it meanwhile).
    async fn save_notice(&self, n: &mut Notice) -> Result<(), StoreError>;
    async fn get_notice(
        &self,
        profile_id: &str,
        user_id: &str,
        candidacy: &str,
    ) -> Result<Option<Notice>, StoreError>;
    /// A profile's notices, by user then candidacy (oldest first).
    async fn notices(&self, profile_id: &str) -> Result<Vec<Notice>, StoreError>;
    /// Stores a keep token's lookup item under its digest; `Conflict` if the digest is taken.
    async fn put_token(&self, digest: &str, t: &NoticeToken) -> Result<(), StoreError>;
    async fn get_token(&self, digest: &str) -> Result<Option<NoticeToken>, StoreError>;
    /// Atomically: consumes the token (only if unused and unexpired at `now`), writes `keep`
    /// and marks the token's notice kept (only if it still waits for an answer), or changes
    /// nothing.
    async fn keep(
        &self,
        digest: &str,
        keep: &Keep,
        now: DateTime<Utc>,
    ) -> Result<KeepOutcome, StoreError>;
    /// Claims the profile's digest of `day` (UTC `YYYY-MM-DD`): false if already claimed.
    async fn claim_digest(
        &self,
        profile_id: &str,
        day: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Gives the day's claim back (the digest could not be sent: the next sync tries again).
    async fn release_digest(&self, profile_id: &str, day: &str) -> Result<(), StoreError>;
    /// When the profile's last digest was claimed.
    async fn last_digest(&self, profile_id: &str) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Records which notice an email (notice or reminder) was sent for, under the mail
    /// service's message id (overwrites: the id is the mail service's, unique per email).
    async fn put_message(&self, m: &NoticeMessage) -> Result<(), StoreError>;
    /// The notice an email was sent for, by the mail service's message id.
    async fn get_message(&self, message_id: &str) -> Result<Option<NoticeMessage>, StoreError>;
}

/// Every repository of one deployment (one table), so a service takes one parameter.
pub trait Repos {
    type Profiles: ProfileRepo;
    type Seats: SeatRepo;
    type Reclaims: ReclaimRepo;
    type Runs: RunRepo;
    type Connects: ConnectRepo;
    type Notices: NoticeRepo;
    fn profiles(&self) -> &Self::Profiles;
    fn seats(&self) -> &Self::Seats;
    fn reclaims(&self) -> &Self::Reclaims;
    fn runs(&self) -> &Self::Runs;
    fn connects(&self) -> &Self::Connects;
    fn notices(&self) -> &Self::Notices;
}
