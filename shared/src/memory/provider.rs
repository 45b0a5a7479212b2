//! An in-memory provider tenant behind the provider ports, scripted for the services' unit
//! tests: users who own content, an activity log, removal jobs, and faults injected per
//! operation (an error before the call, or a write that happens and then loses its answer).
//! It also keeps the books a test asserts on: every call made, and content never lost.
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::Stream;

use crate::domain::{
    ActivityEvent, ActivityKind, ActivityPage, ActivityScope, LoginEvidence, ObservedSeat, Profile,
    Provider, ReclaimRequest, SyncJob,
};
use crate::http::{ApiStats, ErrorCode, ProviderError};
use crate::ports::{
    AccessChange, AccessError, AccessOutcome, Deprovisioner, Directory, DirectoryUser, JobState,
    ProviderAccess, PurchasedSeats, QueueError, Refusal, Removal, RequestQueue, RosterPage,
    SyncJobQueue, TargetCheck, Transferred, Window,
};
use crate::providers::newest_in;

const PROVIDER: &str = "memory";

/// The operations of the provider ports, for fault injection and the call log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    OpenDirectory,
    OpenDeprovisioner,
    CheckAccess,
    Activity,
    Roster,
    PurchasedSeats,
    User,
    UserActivity,
    CheckTarget,
    Transfer,
    Remove,
    Poll,
    SetAccess,
}

/// What an injected fault does to the next call of its operation.
#[derive(Debug, Clone)]
pub enum Fault {
    /// The call fails with this error and changes nothing.
    Fail(ProviderError),
    /// The call fails to open (credentials, tenant).
    Access(fn() -> AccessError),
    /// The write happens, then its answer is lost: the caller sees an unknown outcome.
    CutAfterEffect,
    /// Removal: the provider is still busy with an earlier removal of this user.
    Busy,
    /// Poll: the provider has forgotten the job.
    ForgetJob,
    /// Roster / activity: the stream fails after this many pages.
    FailAfterPages(usize, ProviderError),
}

/// A user of the tenant.
#[derive(Debug, Clone)]
pub struct MemoryUser {
    pub seat: ObservedSeat,
    /// Items the user owns (content to transfer before a removal).
    pub owned: u64,
}

/// The tenant's state.
#[derive(Debug, Default)]
pub struct Tenant {
    pub users: BTreeMap<String, MemoryUser>,
    /// Accounts the provider lists that are not seats (app users).
    pub not_seats: u64,
    /// The event log (logins and content events), read by window.
    pub events: Vec<ActivityEvent>,
    /// Client sessions (their last activity): listed whole, whatever the window, like Dropbox.
    pub sessions: Vec<ActivityEvent>,
    /// The next activity read reports a gap up to this instant (like a Dropbox `reset`).
    pub gap_until: Option<chrono::DateTime<chrono::Utc>>,
    pub purchased: Vec<PurchasedSeats>,
    /// Who receives files (`None`: the deprovisioner refuses, like a Box profile without one).
    pub target: Option<String>,
    /// Box-like (transfer, then a removal refused while content is owned) or Dropbox-like (the
    /// removal carries the transfer).
    pub transfers_separately: bool,
    /// Dropbox-like removals run as jobs that complete after this many polls (0: at once).
    pub job_polls: u32,
    /// Box-like transfers answer at once but the content moves only after this many removal
    /// attempts (0: at once), like a Box transfer that continues in the background.
    pub background_removes: u32,
    /// Users whose transfer is still moving content: removal attempts left.
    background: HashMap<String, u32>,
    pub page_size: usize,
    jobs: HashMap<String, (String, u32)>,
    next_id: u64,
    faults: HashMap<Op, VecDeque<Fault>>,
    /// Every call made, in order.
    pub calls: Vec<Op>,
    /// Items that left the tenant with a removed user (must stay 0).
    pub lost: u64,
    /// Items now owned by the target through transfers.
    pub transferred: u64,
    /// Removed users a Dropbox-like tenant can still recover (a Box-like one never can).
    pub recoverable: BTreeMap<String, MemoryUser>,
    /// Every access change made, in order (user, change).
    pub access_changes: Vec<(String, AccessChange)>,
}

/// The provider, shared by the handles the services get (cheap to clone).
#[derive(Debug, Clone)]
pub struct MemoryProvider {
    tenant: Arc<Mutex<Tenant>>,
}

impl Default for MemoryProvider {
    fn default() -> Self {
        Self::new(true)
    }
}

impl MemoryProvider {
    /// An empty tenant; `transfers_separately` picks the Box-like or Dropbox-like flow.
    pub fn new(transfers_separately: bool) -> Self {
        let tenant = Tenant {
            transfers_separately,
            page_size: 2,
            ..Tenant::default()
        };
        Self {
            tenant: Arc::new(Mutex::new(tenant)),
        }
    }

    /// The tenant, to arrange or inspect it.
    pub fn tenant(&self) -> MutexGuard<'_, Tenant> {
        // a test that panicked while holding the lock has failed already; keep going
        self.tenant.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add_user(&self, seat: ObservedSeat, owned: u64) {
        let id = seat.user_id.clone();
        self.tenant().users.insert(id, MemoryUser { seat, owned });
    }

    /// A login event.
    pub fn add_event(&self, user_id: &str, evidence: LoginEvidence) {
        self.add_activity(user_id, ActivityKind::Login, evidence);
    }

    /// An event of any kind (a session goes to the session list).
    pub fn add_activity(&self, user_id: &str, kind: ActivityKind, evidence: LoginEvidence) {
        let e = ActivityEvent::new(user_id, kind, evidence);
        let mut t = self.tenant();
        if kind == ActivityKind::Session {
            t.sessions.push(e);
        } else {
            t.events.push(e);
        }
    }

    /// The next call of `op` meets `fault` (faults of one op queue up in order).
    pub fn inject(&self, op: Op, fault: Fault) {
        self.tenant().faults.entry(op).or_default().push_back(fault);
    }

    /// How many times `op` was called.
    pub fn count(&self, op: Op) -> usize {
        self.tenant().calls.iter().filter(|c| **c == op).count()
    }

    fn enter(&self, op: Op) -> Option<Fault> {
        let mut t = self.tenant();
        t.calls.push(op);
        t.faults.get_mut(&op).and_then(VecDeque::pop_front)
    }
}

fn not_found(what: &str) -> ProviderError {
    ProviderError::Api {
        provider: PROVIDER,
        status: 404,
        code: ErrorCode::NotFound,
        message: format!("{what}: no such user"),
        request_id: None,
    }
}

fn unknown_outcome(endpoint: &str) -> ProviderError {
    ProviderError::Indeterminate {
        provider: PROVIDER,
        endpoint: endpoint.to_owned(),
        cause: "the connection was cut after the request was sent".into(),
    }
}

fn fail_with(fault: Option<Fault>) -> Result<Option<Fault>, ProviderError> {
    match fault {
        Some(Fault::Fail(e)) => Err(e),
        other => Ok(other),
    }
}

impl ProviderAccess for MemoryProvider {
    type Directory = MemoryProvider;
    type Deprovisioner = MemoryProvider;

    async fn directory(&self, _profile: &Profile) -> Result<Self::Directory, AccessError> {
        self.open(Op::OpenDirectory)
    }

    async fn deprovisioner(&self, _profile: &Profile) -> Result<Self::Deprovisioner, AccessError> {
        self.open(Op::OpenDeprovisioner)
    }
}

impl MemoryProvider {
    /// Opens a port, unless a fault is injected for `op`.
    fn open(&self, op: Op) -> Result<Self, AccessError> {
        match self.enter(op) {
            Some(Fault::Access(f)) => Err(f()),
            Some(Fault::Fail(e)) => Err(AccessError::Provider(e)),
            _ => Ok(self.clone()),
        }
    }

    /// A paged read's injected failure for `op`: after how many pages, and with what.
    fn page_fault(&self, op: Op) -> Option<(usize, ProviderError)> {
        match self.enter(op) {
            Some(Fault::FailAfterPages(n, e)) => Some((n, e)),
            Some(Fault::Fail(e)) => Some((0, e)),
            _ => None,
        }
    }
}

impl Tenant {
    /// The activity `scope` counts in `window`: events, then (with `any`) client sessions.
    fn activity_in(
        &self,
        window: Window,
        scope: ActivityScope,
    ) -> impl Iterator<Item = &ActivityEvent> {
        let in_window = self.events.iter().filter(move |e| {
            scope.counts(e.kind) && e.evidence.at >= window.start && e.evidence.at < window.end
        });
        let sessions = self
            .sessions
            .iter()
            .filter(move |_| scope == ActivityScope::Any);
        in_window.chain(sessions)
    }
}

/// Pages of `items` from page `from` on (a resume token is the next page's index), each with
/// its page index and the token of the page after it (`None` on the last); failing after
/// `fail_after` pages of this read when asked to.
#[allow(clippy::type_complexity)]
fn paged<T: Clone>(
    items: Vec<T>,
    size: usize,
    from: Option<String>,
    fail: Option<(usize, ProviderError)>,
) -> impl Stream<Item = Result<(usize, Vec<T>, Option<String>), ProviderError>> {
    let chunks: Vec<Vec<T>> = items.chunks(size.max(1)).map(<[T]>::to_vec).collect();
    let total = chunks.len();
    let mut pages: Vec<Result<(usize, Vec<T>, Option<String>), ProviderError>> =
        match from.as_deref().map(str::parse::<usize>) {
            None => chunks.into_iter().enumerate().map(Ok).collect(),
            Some(Ok(start)) => chunks.into_iter().enumerate().skip(start).map(Ok).collect(),
            Some(Err(_)) => vec![Err(ProviderError::InvalidInput {
                provider: "memory",
                message: format!("bad resume token {from:?}"),
            })],
        }
        .into_iter()
        .map(|r| r.map(|(i, page)| (i, page, (i + 1 < total).then(|| (i + 1).to_string()))))
        .collect();
    if let Some((after, e)) = fail {
        pages.truncate(after);
        pages.push(Err(e));
    }
    futures::stream::iter(pages)
}

impl Directory for MemoryProvider {
    fn activity_stream(&self, scope: ActivityScope) -> &'static str {
        match scope {
            ActivityScope::Any => "memory_activity",
            ActivityScope::Logins => "memory_logins",
        }
    }

    fn dedup_window(&self) -> usize {
        100
    }

    async fn check_access(&self, stats: &ApiStats) -> Result<String, AccessError> {
        stats.call();
        match self.enter(Op::CheckAccess) {
            Some(Fault::Access(f)) => Err(f()),
            Some(Fault::Fail(e)) => Err(AccessError::Provider(e)),
            _ => Ok("memory tenant".into()),
        }
    }

    fn describe_activity(&self, window: Window, scope: ActivityScope) -> String {
        format!(
            "memory events ({scope}) from {} to {}",
            window.start, window.end
        )
    }

    fn activity<'a>(
        &'a self,
        window: Window,
        scope: ActivityScope,
        from: Option<String>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<ActivityPage, ProviderError>> + 'a {
        use futures::StreamExt;
        stats.call();
        let fault = self.page_fault(Op::Activity);
        let mut t = self.tenant();
        let events: Vec<ActivityEvent> = t.activity_in(window, scope).cloned().collect();
        let gap = t.gap_until.take();
        paged(events, t.page_size, from, fault).map(move |page| {
            page.map(|(i, events, resume)| ActivityPage {
                events,
                gap_until: if i == 0 { gap } else { None },
                resume,
            })
        })
    }

    fn roster<'a>(
        &'a self,
        from: Option<String>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<RosterPage, ProviderError>> + 'a {
        use futures::StreamExt;
        stats.call();
        let fault = self.page_fault(Op::Roster);
        let t = self.tenant();
        let seats: Vec<ObservedSeat> = t.users.values().map(|u| u.seat.clone()).collect();
        let not_seats = t.not_seats;
        paged(seats, t.page_size, from, fault).map(move |page| {
            page.map(|(i, seats, resume)| RosterPage {
                seats,
                // the accounts that are not seats are counted on the first page
                not_seats: if i == 0 { not_seats } else { 0 },
                resume,
            })
        })
    }

    async fn purchased_seats(
        &self,
        _stats: &ApiStats,
    ) -> Result<Vec<PurchasedSeats>, ProviderError> {
        fail_with(self.enter(Op::PurchasedSeats))?;
        Ok(self.tenant().purchased.clone())
    }

    async fn user(
        &self,
        user_id: &str,
        stats: &ApiStats,
    ) -> Result<Option<DirectoryUser>, ProviderError> {
        stats.call();
        fail_with(self.enter(Op::User))?;
        Ok(self.tenant().users.get(user_id).map(|u| DirectoryUser {
            user_id: u.seat.user_id.clone(),
            login: u.seat.login.clone(),
            status: u.seat.status.clone(),
            is_admin: u.seat.is_admin,
            created_at: u.seat.created_at,
            activity_key: None,
        }))
    }

    async fn user_activity(
        &self,
        user: &DirectoryUser,
        window: Window,
        scope: ActivityScope,
        stats: &ApiStats,
    ) -> Result<Option<LoginEvidence>, ProviderError> {
        stats.call();
        fail_with(self.enter(Op::UserActivity))?;
        let t = self.tenant();
        Ok(newest_in(
            t.activity_in(window, scope),
            &user.user_id,
            scope,
        ))
    }
}

impl Deprovisioner for MemoryProvider {
    fn transfer_target(&self) -> Result<String, Refusal> {
        self.tenant().target.clone().ok_or_else(|| Refusal {
            code: "no_transfer_target",
            reason: "the profile names no transfer target".into(),
        })
    }

    async fn check_target(
        &self,
        target: &str,
        stats: &ApiStats,
    ) -> Result<TargetCheck, ProviderError> {
        stats.call();
        fail_with(self.enter(Op::CheckTarget))?;
        let ok = self
            .tenant()
            .users
            .get(target)
            .is_some_and(|u| u.seat.is_admin && u.seat.status == "active");
        Ok(if ok {
            TargetCheck::Ok
        } else {
            TargetCheck::Refused(Refusal {
                code: "bad_transfer_target",
                reason: format!("transfer target {target} is not an active admin"),
            })
        })
    }

    fn transfers_separately(&self) -> bool {
        self.tenant().transfers_separately
    }

    fn plan(&self, user: &DirectoryUser, target: &str) -> String {
        format!(
            "move what {} owns to {target}, then remove them",
            user.login
        )
    }

    fn announce_transfer(&self, user_id: &str, target: &str) -> String {
        format!("transfer {user_id} → {target}")
    }

    fn announce_removal(&self, user_id: &str, target: &str) -> String {
        format!("remove {user_id} (files to {target})")
    }

    async fn transfer(
        &self,
        user_id: &str,
        target: &str,
        stats: &ApiStats,
    ) -> Result<Transferred, ProviderError> {
        stats.call();
        let fault = fail_with(self.enter(Op::Transfer))?;
        let mut t = self.tenant();
        let background = t.background_removes;
        let moved = match t.users.get_mut(user_id) {
            Some(u) if background > 0 => u.owned,
            Some(u) => std::mem::take(&mut u.owned),
            None => return Err(not_found("transfer")),
        };
        if background > 0 {
            // answered; the content moves later (counted then)
            t.background.insert(user_id.to_owned(), background);
        } else {
            t.transferred += moved;
        }
        t.next_id += 1;
        let folder_id = format!("folder-{}", t.next_id);
        if matches!(fault, Some(Fault::CutAfterEffect)) {
            return Err(unknown_outcome("transfer"));
        }
        Ok(Transferred {
            detail: format!("{moved} item(s) moved to folder {folder_id} of {target}"),
            folder_id,
            request_id: Some(format!("req-{}", t.next_id)),
        })
    }

    async fn remove(
        &self,
        user_id: &str,
        _target: &str,
        stats: &ApiStats,
    ) -> Result<Removal, ProviderError> {
        stats.call();
        let fault = fail_with(self.enter(Op::Remove))?;
        if matches!(fault, Some(Fault::Busy)) {
            return Ok(Removal::Busy(
                "a removal of this user is still running".into(),
            ));
        }
        let mut t = self.tenant();
        if let Some(left) = t.background.get_mut(user_id) {
            *left -= 1;
            if *left == 0 {
                t.background.remove(user_id);
                let moved = t
                    .users
                    .get_mut(user_id)
                    .map_or(0, |u| std::mem::take(&mut u.owned));
                t.transferred += moved;
            }
        }
        let Some(owned) = t.users.get(user_id).map(|u| u.owned) else {
            return Ok(Removal::Done {
                detail: "the user is already gone".into(),
                already_gone: true,
                request_id: None,
            });
        };
        if t.transfers_separately && owned > 0 {
            return Err(ProviderError::Api {
                provider: PROVIDER,
                status: 400,
                code: ErrorCode::Other("user_owns_content".into()),
                message: format!("{user_id} still owns {owned} item(s)"),
                request_id: None,
            });
        }
        if !t.transfers_separately && t.job_polls > 0 {
            t.next_id += 1;
            let job_id = format!("job-{}", t.next_id);
            let polls = t.job_polls;
            t.jobs.insert(job_id.clone(), (user_id.to_owned(), polls));
            if matches!(fault, Some(Fault::CutAfterEffect)) {
                return Err(unknown_outcome("remove"));
            }
            return Ok(Removal::Job {
                job_id,
                request_id: None,
            });
        }
        remove_now(&mut t, user_id);
        if matches!(fault, Some(Fault::CutAfterEffect)) {
            return Err(unknown_outcome("remove"));
        }
        Ok(Removal::Done {
            detail: "user removed".into(),
            already_gone: false,
            request_id: None,
        })
    }

    fn announce_access(&self, user_id: &str, change: AccessChange) -> String {
        format!("{} {user_id}", change.as_str())
    }

    async fn set_access(
        &self,
        user_id: &str,
        change: AccessChange,
        stats: &ApiStats,
    ) -> Result<AccessOutcome, ProviderError> {
        stats.call();
        let fault = fail_with(self.enter(Op::SetAccess))?;
        let mut t = self.tenant();
        let done = |detail: &str, already: bool| AccessOutcome::Done {
            detail: detail.to_owned(),
            already,
            request_id: None,
        };
        let outcome = match change {
            AccessChange::Suspend | AccessChange::Unsuspend => {
                // Box-like tenants say `inactive`, Dropbox-like ones `suspended`
                let (from, to) = match (change, t.transfers_separately) {
                    (AccessChange::Suspend, true) => ("active", "inactive"),
                    (AccessChange::Suspend, false) => ("active", "suspended"),
                    (_, true) => ("inactive", "active"),
                    (_, false) => ("suspended", "active"),
                };
                let Some(u) = t.users.get_mut(user_id) else {
                    return Err(not_found(change.as_str()));
                };
                if u.seat.status == to {
                    done(&format!("{user_id} already {to}"), true)
                } else if u.seat.status == from {
                    u.seat.status = to.to_owned();
                    done(&format!("{user_id} {to}"), false)
                } else {
                    AccessOutcome::Refused(Refusal {
                        code: "bad_status",
                        reason: format!("{user_id} is {}", u.seat.status),
                    })
                }
            }
            AccessChange::Recover if t.transfers_separately => AccessOutcome::Refused(Refusal {
                code: "cannot_be_undone",
                reason: "a deleted user cannot be restored".into(),
            }),
            AccessChange::Recover => {
                if t.users.contains_key(user_id) {
                    done(&format!("{user_id} is a member"), true)
                } else if let Some(mut u) = t.recoverable.remove(user_id) {
                    // the files went to the target with the removal; they stay there
                    u.owned = 0;
                    u.seat.status = "active".into();
                    t.users.insert(user_id.to_owned(), u);
                    done(&format!("{user_id} recovered"), false)
                } else {
                    AccessOutcome::Refused(Refusal {
                        code: "user_unrecoverable",
                        reason: format!("{user_id} is not recoverable"),
                    })
                }
            }
        };
        if matches!(outcome, AccessOutcome::Done { already: false, .. }) {
            t.access_changes.push((user_id.to_owned(), change));
        }
        if matches!(fault, Some(Fault::CutAfterEffect)) {
            return Err(unknown_outcome(change.as_str()));
        }
        Ok(outcome)
    }

    fn still_owns_content(&self, e: &ProviderError) -> bool {
        matches!(e, ProviderError::Api { code: ErrorCode::Other(c), .. } if c == "user_owns_content")
    }

    async fn poll(&self, job_id: &str, stats: &ApiStats) -> Result<JobState, ProviderError> {
        stats.call();
        let fault = fail_with(self.enter(Op::Poll))?;
        let mut t = self.tenant();
        if matches!(fault, Some(Fault::ForgetJob)) {
            t.jobs.remove(job_id);
        }
        let Some((user, left)) = t.jobs.get_mut(job_id) else {
            return Ok(JobState::Unknown);
        };
        if *left > 1 {
            *left -= 1;
            return Ok(JobState::InProgress);
        }
        let user = user.clone();
        t.jobs.remove(job_id);
        remove_now(&mut t, &user);
        Ok(JobState::Complete)
    }
}

/// Removes a user; a Dropbox-like removal carries their content to the target first.
fn remove_now(t: &mut Tenant, user_id: &str) {
    if let Some(u) = t.users.remove(user_id) {
        if t.transfers_separately {
            t.lost += u.owned;
        } else {
            t.transferred += u.owned;
            t.recoverable.insert(user_id.to_owned(), u);
        }
    }
}

/// The request queue in memory: what was sent, in order.
#[derive(Debug, Clone, Default)]
pub struct MemoryQueue {
    sent: Arc<Mutex<Vec<ReclaimRequest>>>,
}

impl MemoryQueue {
    pub fn sent(&self) -> Vec<ReclaimRequest> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl RequestQueue for MemoryQueue {
    async fn send(&self, request: &ReclaimRequest) -> Result<String, QueueError> {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.push(request.clone());
        Ok(format!("msg-{}", sent.len()))
    }
}

/// The sync queues in memory: the jobs sent with their provider, in order; `fail_for` makes
/// sends for one profile fail.
#[derive(Debug, Clone, Default)]
pub struct MemorySyncQueue {
    sent: Arc<Mutex<Vec<(Provider, SyncJob)>>>,
    fail_for: Arc<Mutex<Option<String>>>,
}

impl MemorySyncQueue {
    pub fn sent(&self) -> Vec<(Provider, SyncJob)> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Every later send of a job for `profile` fails (an SQS outage seen by one message).
    pub fn fail_for(&self, profile: &str) {
        *self.fail_for.lock().unwrap_or_else(|p| p.into_inner()) = Some(profile.to_owned());
    }
}

impl SyncJobQueue for MemorySyncQueue {
    async fn send_job(&self, provider: Provider, job: &SyncJob) -> Result<String, QueueError> {
        let failing = self
            .fail_for
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if failing.as_deref() == Some(job.profile.as_str()) {
            return Err(QueueError::Aws {
                op: "SendMessage",
                message: "injected failure".into(),
                source: "injected failure".into(),
            });
        }
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.push((provider, job.clone()));
        Ok(format!("job-{}", sent.len()))
    }
}
