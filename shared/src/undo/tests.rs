//! The undo window over in-memory ports: suspend first, nothing before the window's end, the
//! removal after it, a crash or lost answer at each new step, an admin's unsuspend in the
//! console, restore in the window and after a removal, and a dry run that never suspends. No
//! test waits: a window "ends" by `suspend_days = 0` or by moving `remove_after` back.
use chrono::{Duration, Utc};

use super::*;
use crate::domain::{
    BoxPlan, LoginEvidence, ObservedSeat, Profile, ReclaimRecord, ReclaimRequest, ReclaimStatus,
    RemovalMode, Seat,
};
use crate::memory::provider::{Fault, Op};
use crate::memory::{MemoryProvider, MemoryQueue, MemoryRepos};
use crate::ports::{ProfileRepo, ReclaimRepo, SeatRepo, UserLock};
use crate::reclaim::{Outcome, Reclaimer};

use ReclaimStatus::*;

const ADMIN: &str = "100";
const IDLE: &str = "200";

struct World {
    reclaimer: Reclaimer<MemoryRepos, MemoryProvider>,
    provider: MemoryProvider,
    repos: MemoryRepos,
    profile: Profile,
}

fn observed(id: &str, admin: bool) -> ObservedSeat {
    ObservedSeat {
        user_id: id.into(),
        login: format!("u{id}@example.com"),
        name: format!("User {id}"),
        status: "active".into(),
        role: if admin { "admin" } else { "user" }.into(),
        is_admin: admin,
        license_type: "business".into(),
        license_managed: true,
        created_at: Some(Utc::now() - Duration::days(400)),
    }
}

fn seat(profile: &Profile, o: &ObservedSeat, last_login_days: i64) -> Seat {
    let now = Utc::now();
    Seat {
        profile_id: profile.id.clone(),
        provider: profile.provider,
        user_id: o.user_id.clone(),
        login: o.login.clone(),
        name: o.name.clone(),
        status: o.status.clone(),
        role: o.role.clone(),
        is_admin: o.is_admin,
        license_type: o.license_type.clone(),
        license_managed: true,
        created_at: o.created_at,
        last_login: Some(LoginEvidence {
            at: now - Duration::days(last_login_days),
            event_id: format!("ev-{}", o.user_id),
            event_type: "LOGIN".into(),
        }),
        first_seen_at: now - Duration::days(300),
        last_seen_at: now,
        removed_at: None,
        reclaimed_at: None,
        reclaim_request_id: None,
        run_id: "run-1".into(),
        fingerprint: String::new(),
        last_activity: None,
    }
}

/// An admin (the target, 3 items) and an idle user (5 items), synced; `suspend-first` with
/// `suspend_days`. `box_like`: transfer then removal; else the removal carries the transfer.
async fn world(box_like: bool, suspend_days: u32) -> World {
    let now = Utc::now();
    let mut profile = Profile::new_box("acme", "Acme", "42", BoxPlan::Business, now).unwrap();
    profile.rules.transfer_target = Some(ADMIN.into());
    profile.rules.max_percent = 100;
    profile.rules.removal = RemovalMode::SuspendFirst;
    profile.rules.suspend_days = suspend_days;
    let repos = MemoryRepos::default();
    repos.profiles().create(&profile).await.unwrap();
    let provider = MemoryProvider::new(box_like);
    provider.tenant().target = Some(ADMIN.into());
    let mut seats = Vec::new();
    for (id, admin, owned, login) in [(ADMIN, true, 3, 1), (IDLE, false, 5, 200)] {
        let o = observed(id, admin);
        seats.push(seat(&profile, &o, login));
        provider.add_user(o, owned);
    }
    repos.seats().put_many(&seats).await.unwrap();
    let reclaimer = Reclaimer::new(repos.clone(), provider.clone());
    World {
        reclaimer,
        provider,
        repos,
        profile,
    }
}

fn request(user: &str) -> ReclaimRequest {
    ReclaimRequest::new("acme", user, false, "tester", Some("idle".into()))
}

impl World {
    async fn deliver(&self, req: &ReclaimRequest) -> Outcome {
        self.repos
            .reclaims()
            .put_approval(&crate::domain::Approval::for_request(
                req,
                "seatctl approve",
                Utc::now(),
            ))
            .await
            .unwrap();
        let body = serde_json::to_string(req).unwrap();
        self.reclaimer
            .process("msg-1", &body, "delivery-1")
            .await
            .outcome
    }

    async fn record(&self, req: &ReclaimRequest) -> ReclaimRecord {
        self.repos
            .reclaims()
            .get("acme", &req.request_id)
            .await
            .unwrap()
            .expect("recorded")
    }

    /// The undo window of `req` ends now (as if `suspend_days` had passed).
    async fn end_window(&self, req: &ReclaimRequest) {
        let mut rec = self.record(req).await;
        rec.remove_after = Some(Utc::now() - Duration::seconds(1));
        self.repos.reclaims().save(&mut rec).await.unwrap();
    }

    fn status_of(&self, id: &str) -> Option<String> {
        self.provider
            .tenant()
            .users
            .get(id)
            .map(|u| u.seat.status.clone())
    }

    fn assert_no_content_lost(&self) {
        let t = self.provider.tenant();
        assert_eq!(t.lost, 0, "content left with a removed user");
        let held: u64 = t.users.values().map(|u| u.owned).sum();
        assert_eq!(held + t.transferred, 3 + 5, "content appeared or vanished");
    }

    async fn restore(&self, user: &str) -> Result<Restore, RestoreError> {
        let args = RestoreArgs {
            profile_id: "acme".into(),
            user: user.into(),
            by: "seatctl:alice".into(),
            reason: Some("needed for the audit".into()),
        };
        restore(&self.repos, &self.provider, &args, Utc::now()).await
    }
}

fn statuses(rec: &ReclaimRecord) -> Vec<ReclaimStatus> {
    rec.steps.iter().map(|s| s.status).collect()
}

// ------------------------------------------------------------------ suspend, wait, remove

#[tokio::test]
async fn box_like_suspends_first_and_a_redelivery_in_the_window_does_nothing() {
    let w = world(true, 14).await;
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Suspended));
    let rec = w.record(&req).await;
    assert_eq!(statuses(&rec), [Received, Verified, Suspending, Suspended]);
    let (at, after) = (rec.suspended_at.unwrap(), rec.remove_after.unwrap());
    assert_eq!(after - at, Duration::days(14));
    assert!(rec
        .plan
        .as_deref()
        .unwrap()
        .starts_with("suspend u200@example.com"));
    assert!(rec.steps[3]
        .detail
        .contains("seatctl restore acme u200@example.com"));
    assert_eq!(w.status_of(IDLE).as_deref(), Some("inactive"));
    assert_eq!(
        w.provider.count(Op::Transfer) + w.provider.count(Op::Remove),
        0
    );

    let calls = w.provider.tenant().calls.len();
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Suspended));
    assert_eq!(
        w.provider.tenant().calls.len(),
        calls,
        "no provider call in the window"
    );
    assert_eq!(w.record(&req).await.steps.len(), 4);
    // the cap was counted once, at the suspension
    let day = Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(w.repos.reclaim_count("acme", &day), 1);
}

#[tokio::test]
async fn box_like_after_the_window_transfers_then_deletes() {
    let w = world(true, 14).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    w.end_window(&req).await;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    let rec = w.record(&req).await;
    assert_eq!(
        statuses(&rec),
        [
            Received,
            Verified,
            Suspending,
            Suspended,
            Transferring,
            Transferred,
            Removing,
            Removed,
            Done
        ]
    );
    assert!(!w.provider.tenant().users.contains_key(IDLE));
    assert_eq!(w.provider.tenant().transferred, 5);
    w.assert_no_content_lost();
    let day = Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(w.repos.reclaim_count("acme", &day), 1, "not counted again");
}

#[tokio::test]
async fn dropbox_like_after_the_window_removes_with_the_transfer() {
    let w = world(false, 0).await;
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Suspended));
    assert_eq!(w.status_of(IDLE).as_deref(), Some("suspended"));
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    let rec = w.record(&req).await;
    assert_eq!(
        statuses(&rec),
        [Received, Verified, Suspending, Suspended, Removing, Removed, Done]
    );
    w.assert_no_content_lost();
    assert_eq!(w.provider.tenant().transferred, 5);
}

#[tokio::test]
async fn a_dry_run_never_suspends() {
    let w = world(false, 0).await;
    let mut req = request(IDLE);
    req.dry_run = true;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("dry_run"));
    assert!(rec.steps.last().unwrap().detail.contains("would suspend"));
    assert_eq!(w.provider.count(Op::SetAccess), 0);
    assert_eq!(w.status_of(IDLE).as_deref(), Some("active"));
}

// ------------------------------------------------------------------ crashes and lost answers

#[tokio::test]
async fn a_lost_suspend_answer_is_settled_by_the_redelivery() {
    let w = world(true, 14).await;
    let req = request(IDLE);
    w.provider.inject(Op::SetAccess, Fault::CutAfterEffect);
    assert!(w.deliver(&req).await.is_retry());
    assert_eq!(w.record(&req).await.status, Suspending);
    assert_eq!(
        w.status_of(IDLE).as_deref(),
        Some("inactive"),
        "it did happen"
    );
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Suspended));
    let rec = w.record(&req).await;
    assert!(rec
        .steps
        .last()
        .unwrap()
        .detail
        .contains("already inactive"));
    assert_eq!(
        w.provider.tenant().access_changes.len(),
        1,
        "suspended once"
    );
}

#[tokio::test]
async fn a_failed_suspend_call_is_retried_and_changes_nothing() {
    let w = world(false, 14).await;
    let req = request(IDLE);
    w.provider.inject(
        Op::SetAccess,
        Fault::Fail(crate::http::ProviderError::Network {
            provider: "memory",
            message: "connection reset".into(),
        }),
    );
    assert!(w.deliver(&req).await.is_retry());
    assert_eq!(w.record(&req).await.status, Suspending);
    assert_eq!(w.status_of(IDLE).as_deref(), Some("active"));
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Suspended));
}

#[tokio::test]
async fn a_lost_removal_answer_after_the_window_is_settled_by_the_redelivery() {
    let w = world(false, 0).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    w.provider.inject(Op::Remove, Fault::CutAfterEffect);
    assert!(w.deliver(&req).await.is_retry());
    assert_eq!(w.record(&req).await.status, Removing);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    w.assert_no_content_lost();
}

#[tokio::test]
async fn a_lost_transfer_answer_after_the_window_is_probed_not_repeated() {
    let w = world(true, 0).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    w.provider.inject(Op::Transfer, Fault::CutAfterEffect);
    assert!(w.deliver(&req).await.is_retry());
    assert_eq!(w.record(&req).await.status, Transferring);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    assert_eq!(w.provider.count(Op::Transfer), 1);
    w.assert_no_content_lost();
}

#[tokio::test]
async fn a_user_unsuspended_in_the_console_is_skipped_and_keeps_the_seat() {
    let w = world(true, 0).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    // an admin reactivated them in the Box admin console during the window
    w.provider.tenant().users.get_mut(IDLE).unwrap().seat.status = "active".into();
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Skipped));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("unsuspended_in_console"));
    assert!(w.provider.tenant().users.contains_key(IDLE));
    assert_eq!(
        w.provider.count(Op::Transfer) + w.provider.count(Op::Remove),
        0
    );
    // the user's lock is free again
    let lock = w
        .repos
        .reclaims()
        .lock_user("acme", IDLE, "next", None)
        .await
        .unwrap();
    assert_eq!(lock, UserLock::Taken);
}

#[tokio::test]
async fn a_pause_holds_the_removal_after_the_window() {
    let w = world(true, 0).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    let mut p = w.profile.clone();
    p.rules.paused = true;
    w.repos.profiles().put(&p).await.unwrap();
    let calls = w.provider.tenant().calls.len();
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Suspended));
    assert_eq!(w.provider.tenant().calls.len(), calls);
    let queue = MemoryQueue::default();
    let mut detail = String::new();
    repost_due(&w.repos, Some(&queue), &p, Utc::now(), &mut detail)
        .await
        .unwrap();
    assert!(queue.sent().is_empty() && detail.is_empty());
}

// ------------------------------------------------------------------ the sync re-posts

#[tokio::test]
async fn the_sync_reposts_only_requests_whose_window_ended() {
    let w = world(true, 14).await;
    let (waiting, ended) = (request(IDLE), request(ADMIN));
    w.deliver(&waiting).await;
    // a second suspended request, its window over (stored as an earlier delivery left it)
    let mut rec = ReclaimRecord::new(ended.clone(), w.profile.provider, Utc::now());
    rec.step(Suspended, Utc::now(), "an earlier delivery", None);
    rec.remove_after = Some(Utc::now() - Duration::minutes(1));
    assert!(w.repos.reclaims().create(&rec).await.unwrap());
    let queue = MemoryQueue::default();
    let mut detail = String::new();
    repost_due(&w.repos, Some(&queue), &w.profile, Utc::now(), &mut detail)
        .await
        .unwrap();
    assert_eq!(queue.sent(), vec![ended.clone()], "same request, same id");
    assert!(
        detail.contains("1 undo window(s) ended: 1 request(s) re-posted"),
        "{detail}"
    );
    // without a queue it says so
    let mut detail = String::new();
    repost_due(
        &w.repos,
        None::<&MemoryQueue>,
        &w.profile,
        Utc::now(),
        &mut detail,
    )
    .await
    .unwrap();
    assert!(detail.contains("not re-posted"), "{detail}");
}

// ------------------------------------------------------------------ restore

#[tokio::test]
async fn restore_in_the_window_unsuspends_and_ends_the_request() {
    let w = world(false, 14).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    let r = w.restore("U200@example.com").await.unwrap();
    assert!(!r.recovered);
    assert_eq!(
        (r.user_id.as_str(), r.request_id.as_str()),
        (IDLE, req.request_id.as_str())
    );
    assert_eq!(w.status_of(IDLE).as_deref(), Some("active"));
    let rec = w.record(&req).await;
    assert_eq!(rec.status, Restored);
    assert_eq!(rec.reason_code.as_deref(), Some("restored"));
    let last = rec.steps.last().unwrap();
    assert!(last.detail.contains("seatctl:alice") && last.detail.contains("needed for the audit"));
    assert!(rec.lease_owner.is_none());
    // a redelivery (or the sync's re-post) does nothing now
    w.end_window(&req).await;
    assert_eq!(w.deliver(&req).await, Outcome::AlreadyFinished(Restored));
    assert_eq!(w.provider.count(Op::Remove), 0);
    // and a second restore says there is nothing left to do
    assert!(matches!(
        w.restore(IDLE).await,
        Err(RestoreError::NothingToRestore(_))
    ));
}

#[tokio::test]
async fn restore_after_a_dropbox_like_removal_recovers_the_member() {
    let w = world(false, 0).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    let r = w.restore(IDLE).await.unwrap();
    assert!(r.recovered);
    assert_eq!(r.files_with.as_deref(), Some(ADMIN));
    assert_eq!(w.status_of(IDLE).as_deref(), Some("active"));
    let rec = w.record(&req).await;
    assert_eq!(rec.status, Restored);
    assert!(rec
        .steps
        .last()
        .unwrap()
        .detail
        .contains("stay with admin 100"));
    // the transferred files stayed with the admin
    assert_eq!(w.provider.tenant().transferred, 5);
}

#[tokio::test]
async fn restore_after_a_box_deletion_is_refused_with_the_folder_named() {
    let w = world(true, 0).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    let folder = w.record(&req).await.transfer_folder_id.unwrap();
    let e = w.restore(IDLE).await.unwrap_err();
    let RestoreError::CannotBeUndone(msg) = e else {
        panic!("{e:?}")
    };
    assert!(
        msg.contains("cannot be restored") && msg.contains(&folder) && msg.contains(ADMIN),
        "{msg}"
    );
    assert_eq!(w.record(&req).await.status, Done, "nothing recorded");
}

#[tokio::test]
async fn restore_waits_for_a_delivery_that_holds_the_request() {
    let w = world(true, 14).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    let mut rec = w.record(&req).await;
    rec.lease_owner = Some("delivery-9".into());
    rec.lease_until = Some(Utc::now() + Duration::minutes(10));
    w.repos.reclaims().save(&mut rec).await.unwrap();
    assert!(matches!(w.restore(IDLE).await, Err(RestoreError::Busy(_))));
    assert_eq!(w.status_of(IDLE).as_deref(), Some("inactive"));
}

#[tokio::test]
async fn restore_of_an_unknown_user_or_a_skipped_request_says_so() {
    let w = world(true, 14).await;
    assert!(matches!(
        w.restore("nobody@example.com").await,
        Err(RestoreError::NotFound(_))
    ));
    // an admin is refused at verification: nothing was taken
    let req = request(ADMIN);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Skipped));
    assert!(matches!(
        w.restore(ADMIN).await,
        Err(RestoreError::NothingToRestore(_))
    ));
}

#[tokio::test]
async fn a_lost_unsuspend_answer_fails_the_restore_and_a_repeat_settles_it() {
    let w = world(false, 14).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    w.provider.inject(Op::SetAccess, Fault::CutAfterEffect);
    assert!(matches!(
        w.restore(IDLE).await,
        Err(RestoreError::Provider(_))
    ));
    assert_eq!(w.record(&req).await.status, Suspended);
    assert!(w.record(&req).await.lease_owner.is_none(), "released");
    let r = w.restore(IDLE).await.unwrap();
    assert!(r.detail.contains("already active"), "{}", r.detail);
    assert_eq!(w.record(&req).await.status, Restored);
}

#[tokio::test]
async fn restore_writes_a_keep_so_the_next_sync_does_not_pick_them_again() {
    let w = world(true, 14).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    let r = w.restore(IDLE).await.unwrap();
    let keep = w
        .repos
        .seats()
        .get_keep("acme", IDLE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(keep.source, crate::domain::KeepSource::Restore);
    assert_eq!(keep.by, "seatctl:alice");
    assert_eq!(keep.reason.as_deref(), Some("needed for the audit"));
    assert_eq!(keep.until, r.kept_until);
    assert_eq!(keep.until - keep.kept_at, Duration::days(90));
    // a new request for them is refused at verification: kept
    let again = request(IDLE);
    assert_eq!(w.deliver(&again).await, Outcome::Finished(Skipped));
    assert_eq!(w.record(&again).await.reason_code.as_deref(), Some("kept"));
    assert_eq!(w.status_of(IDLE).as_deref(), Some("active"));
}

#[tokio::test]
async fn a_keep_made_during_the_window_unsuspends_at_its_end() {
    let w = world(false, 0).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    let keep = crate::domain::Keep::new(
        "acme",
        IDLE,
        "u200@example.com",
        Utc::now(),
        90,
        Some("still on parental leave"),
        "u200@example.com",
        crate::domain::KeepSource::KeepPage,
    );
    w.repos.seats().put_keep(&keep).await.unwrap();
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Restored));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("kept"));
    assert!(rec.reason.as_deref().unwrap().contains("parental leave"));
    assert_eq!(w.status_of(IDLE).as_deref(), Some("active"));
    assert_eq!(w.provider.count(Op::Remove), 0);
}

#[tokio::test]
async fn a_later_refused_request_does_not_hide_the_one_in_its_window() {
    let w = world(true, 14).await;
    let first = request(IDLE);
    w.deliver(&first).await;
    // the operator asks again during the window: refused, the user's lock is held
    let again = request(IDLE);
    assert_eq!(w.deliver(&again).await, Outcome::Finished(Skipped));
    assert_eq!(
        w.record(&again).await.reason_code.as_deref(),
        Some("duplicate_user_request")
    );
    let r = w.restore(IDLE).await.unwrap();
    assert_eq!(r.request_id, first.request_id);
    assert_eq!(w.status_of(IDLE).as_deref(), Some("active"));
}
