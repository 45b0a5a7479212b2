//! What the services need from a SaaS provider, in the provider's own terms nowhere: seats,
//! activity and users in ([`Directory`]); transfer and removal out ([`Deprovisioner`]). A third
//! provider implements these two traits and is handed out by a [`ProviderAccess`].
use chrono::{DateTime, Utc};
use futures::Stream;
use thiserror::Error;

use crate::domain::{ActivityPage, ActivityScope, LoginEvidence, ObservedSeat, Profile};
use crate::http::{ApiStats, ProviderError};

/// A span of activity to read: events created at or after `start` and before `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// One page of the roster: the accounts that hold a seat, and how many listed accounts do not
/// (Box app users, Dropbox members the provider lists as removed).
#[derive(Debug, Clone, Default)]
pub struct RosterPage {
    pub seats: Vec<ObservedSeat>,
    pub not_seats: u64,
    /// Where the roster continues after this page (`None`: the last page). Opaque outside the
    /// adapter that made it (the provider's marker or cursor): handed back to
    /// [`Directory::roster`]'s `from` by a run that resumes in a later invocation.
    pub resume: Option<String>,
}

/// Seats the provider says were purchased for a license type (Box has no API for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchasedSeats {
    pub license_type: String,
    pub purchased: u32,
}

/// A user as the provider has them now, re-read just before acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub user_id: String,
    pub login: String,
    pub status: String,
    pub is_admin: bool,
    pub created_at: Option<DateTime<Utc>>,
    /// What the provider's activity log is filtered by for this user, when it can be (Dropbox:
    /// the account id); `None` where the adapter filters by user id itself.
    pub activity_key: Option<String>,
}

/// Why a provider could not be reached for a profile before any call was made, or refused who
/// we are.
#[derive(Debug, Error)]
pub enum AccessError {
    /// The credentials are missing or unusable as stored: an operator must act.
    #[error("{0}")]
    Credentials(String),
    /// The credentials could not be read just now (Secrets Manager trouble): try again.
    #[error("{0}")]
    Unavailable(String),
    /// The credentials belong to another tenant than the profile's.
    #[error("{0}")]
    WrongTenant(String),
    /// A credential slot that this work needs is not connected.
    #[error("{0}")]
    NotConnected(String),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// Reads a provider's tenant for one profile (bound to its credentials).
#[allow(async_fn_in_trait)]
pub trait Directory {
    /// The name of this provider's activity checkpoint for the kinds `scope` reads (each scope
    /// has its own, so widening the scope backfills the new kinds instead of assuming them read).
    fn activity_stream(&self, scope: ActivityScope) -> &'static str;
    /// Event ids remembered to drop duplicates across overlapping pages.
    fn dedup_window(&self) -> usize;
    /// Application Access: proves the credentials work and are for the profile's tenant;
    /// returns a sentence for the task run.
    async fn check_access(&self, stats: &ApiStats) -> Result<String, AccessError>;
    /// What [`Directory::activity`] reads, as a sentence for the task run.
    fn describe_activity(&self, window: Window, scope: ActivityScope) -> String;
    /// Pages of activity records: every event in `window` of the kinds `scope` counts (only
    /// those that prove a person used their seat, each checked by the adapter whatever filter
    /// the provider was given), and with `ActivityScope::Any` the client sessions the provider
    /// lists (their last activity, whenever it was). A page may report a gap.
    ///
    /// `from`: a page's [`ActivityPage::resume`] from an earlier read of the same `window` and
    /// `scope` (a run resuming in a later invocation): the read continues right after that
    /// page. A token the adapter cannot read is a permanent error.
    fn activity<'a>(
        &'a self,
        window: Window,
        scope: ActivityScope,
        from: Option<String>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<ActivityPage, ProviderError>> + 'a;
    /// The whole roster, page by page, as the provider's paging allows; with `from` (a page's
    /// [`RosterPage::resume`]), the rest of it after that page.
    fn roster<'a>(
        &'a self,
        from: Option<String>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<RosterPage, ProviderError>> + 'a;
    /// Purchased seats per license type, where the provider knows them.
    async fn purchased_seats(&self, stats: &ApiStats)
        -> Result<Vec<PurchasedSeats>, ProviderError>;
    /// One user now; `None` when the provider no longer has them (or lists them as removed).
    async fn user(
        &self,
        user_id: &str,
        stats: &ApiStats,
    ) -> Result<Option<DirectoryUser>, ProviderError>;
    /// The user's newest activity of the kinds `scope` counts in `window` (and their client
    /// sessions' last activity): what a stored seat cannot know yet.
    async fn user_activity(
        &self,
        user: &DirectoryUser,
        window: Window,
        scope: ActivityScope,
        stats: &ApiStats,
    ) -> Result<Option<LoginEvidence>, ProviderError>;
}

/// A step a reclaim cannot take, with the code and sentence its record keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub reason: String,
}

/// Whether the transfer target may receive files now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetCheck {
    Ok,
    Refused(Refusal),
}

/// Content moved to the target: where it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    /// The folder that now holds it (Box), for the audit trail and a restore.
    pub folder_id: String,
    pub detail: String,
    pub request_id: Option<String>,
}

/// What a removal call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// The seat is free: removed now, or already gone (`already_gone`).
    Done {
        detail: String,
        already_gone: bool,
        request_id: Option<String>,
    },
    /// The provider runs it as a job: poll `job_id`.
    Job {
        job_id: String,
        request_id: Option<String>,
    },
    /// A removal of this user is still running at the provider: try again later.
    Busy(String),
}

/// A removal job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Complete,
    InProgress,
    /// The provider does not know the job (expired): re-read the user to know.
    Unknown,
}

/// A change of a user's access that keeps (or gives back) the seat: the undo window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessChange {
    /// The user can no longer sign in; content and seat stay (Dropbox `members/suspend` with
    /// `wipe_data=false`, Box status `inactive`).
    Suspend,
    /// Undoes [`AccessChange::Suspend`].
    Unsuspend,
    /// Brings a removed user back (Dropbox `members/recover`, within its 7 days); Box cannot.
    Recover,
}

impl AccessChange {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessChange::Suspend => "suspend",
            AccessChange::Unsuspend => "unsuspend",
            AccessChange::Recover => "recover",
        }
    }
}

/// What an [`AccessChange`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessOutcome {
    /// Done now, or the user already was so (`already`: a repeat after a lost answer).
    Done {
        detail: String,
        already: bool,
        request_id: Option<String>,
    },
    /// The provider cannot do it for this user (Box recover: a deleted user is gone; Dropbox:
    /// no longer recoverable, no license free, not in the team): nothing changed.
    Refused(Refusal),
}

/// Takes a seat back at a provider for one profile. Every write is announced (saved) by the
/// service before it is called, so a redelivery knows what may have happened.
#[allow(async_fn_in_trait)]
pub trait Deprovisioner {
    /// Who receives the user's files, or why nobody can.
    fn transfer_target(&self) -> Result<String, Refusal>;
    /// Whether the target may receive files now (an active admin).
    async fn check_target(
        &self,
        target: &str,
        stats: &ApiStats,
    ) -> Result<TargetCheck, ProviderError>;
    /// True when content moves in its own step before the removal (Box); false when the
    /// removal carries the transfer (Dropbox).
    fn transfers_separately(&self) -> bool;
    /// The whole plan as a sentence, for the record and a dry run.
    fn plan(&self, user: &DirectoryUser, target: &str) -> String;
    /// The transfer call, as announced in the audit trail before it is made.
    fn announce_transfer(&self, user_id: &str, target: &str) -> String;
    /// The removal call, as announced in the audit trail before it is made.
    fn announce_removal(&self, user_id: &str, target: &str) -> String;
    /// Moves everything the user owns to `target`. Not idempotent: an unknown outcome is
    /// [`ProviderError::Indeterminate`].
    async fn transfer(
        &self,
        user_id: &str,
        target: &str,
        stats: &ApiStats,
    ) -> Result<Transferred, ProviderError>;
    /// Removes the user's seat without destroying content (Box refuses while the user owns
    /// anything; Dropbox transfers to `target` as part of the call).
    async fn remove(
        &self,
        user_id: &str,
        target: &str,
        stats: &ApiStats,
    ) -> Result<Removal, ProviderError>;
    async fn poll(&self, job_id: &str, stats: &ApiStats) -> Result<JobState, ProviderError>;
    /// An access change, as announced in the audit trail before it is made.
    fn announce_access(&self, user_id: &str, change: AccessChange) -> String;
    /// Suspends, unsuspends or recovers a user. Idempotent in effect: a repeat finds the user
    /// already so and answers `Done { already: true }`.
    async fn set_access(
        &self,
        user_id: &str,
        change: AccessChange,
        stats: &ApiStats,
    ) -> Result<AccessOutcome, ProviderError>;
    /// True when `remove` was refused only because the user still owns content (Box: a
    /// transfer that continues in the background); such a refusal is re-checked later.
    fn still_owns_content(&self, _e: &ProviderError) -> bool {
        false
    }
}

/// Hands out a profile's adapters, bound to its credentials.
#[allow(async_fn_in_trait)]
pub trait ProviderAccess {
    type Directory: Directory;
    type Deprovisioner: Deprovisioner;
    /// What a sync and a re-check read with (Dropbox: the sync slot).
    async fn directory(&self, profile: &Profile) -> Result<Self::Directory, AccessError>;
    /// What a reclaim acts with (Dropbox: the reclaim slot; both slots must be connected).
    async fn deprovisioner(&self, profile: &Profile) -> Result<Self::Deprovisioner, AccessError>;
    /// Both, for one reclaim. An adapter whose two share credentials overrides it to read each
    /// secret once per delivery.
    async fn reclaim_ports(
        &self,
        profile: &Profile,
    ) -> Result<(Self::Deprovisioner, Self::Directory), AccessError> {
        let deprovisioner = self.deprovisioner(profile).await?;
        Ok((deprovisioner, self.directory(profile).await?))
    }
}
