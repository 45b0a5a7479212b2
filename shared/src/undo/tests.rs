//! The undo window over in-memory ports: suspend first, nothing before the window's end, the
//! removal after it, a crash or lost answer at each new step, an admin's unsuspend in the
//! console, restore in the window and after a removal, and a dry run that never suspends. No
//! test waits: a window "ends" by `suspend_days = 0` or by moving `remove_after` back.
use chrono::{Duration, Utc};

use super::*;
use crate::domain::{BoxPlan, Profile, ReclaimRecord, ReclaimRequest, ReclaimStatus, RemovalMode};
use crate::memory::provider::{Fault, Op};
use crate::memory::{MemoryProvider, MemoryQueue, MemoryRepos};
use crate::ports::{ProfileRepo, ReclaimRepo, SeatRepo, UserLock};
use crate::reclaim::tests::{observed, seat};
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
        seats.push(seat(&profile, &o, Some(login)));
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

// ------------------------------------------------------------------ review: the rules again at the window's end

/// Edits the stored profile (what an operator's `seatctl rules set` does).
async fn edit_rules(w: &World, f: impl Fn(&mut Profile)) {
    w.repos
        .profiles()
        .update("acme", |p| -> Result<(), crate::ports::StoreError> {
            f(p);
            Ok(())
        })
        .await
        .unwrap()
        .unwrap();
}

/// The request ended `restored` with `code`, the user is active again, nothing was moved or
/// removed, and the user's lock is free.
async fn assert_given_back(w: &World, req: &ReclaimRequest, code: &str) {
    let rec = w.record(req).await;
    assert_eq!(rec.status, Restored);
    assert_eq!(rec.reason_code.as_deref(), Some(code));
    assert!(
        rec.reason
            .as_deref()
            .unwrap()
            .contains("nothing was removed"),
        "{:?}",
        rec.reason
    );
    assert_eq!(w.status_of(IDLE).as_deref(), Some("active"));
    assert_eq!(
        w.provider.count(Op::Transfer) + w.provider.count(Op::Remove),
        0
    );
    w.assert_no_content_lost();
    let lock = w
        .repos
        .reclaims()
        .lock_user("acme", IDLE, "next", None)
        .await
        .unwrap();
    assert_eq!(lock, UserLock::Taken);
}

#[tokio::test]
async fn review_a_login_exempted_during_the_window_is_not_removed() {
    let w = world(true, 0).await;
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Suspended));
    edit_rules(&w, |p| {
        p.rules.exempt_logins.push("u200@example.com".into())
    })
    .await;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Restored));
    assert_given_back(&w, &req, "refused_exempt_login").await;
}

#[tokio::test]
async fn a_license_type_leaving_the_scope_during_the_window_unsuspends() {
    let w = world(false, 0).await;
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Suspended));
    edit_rules(&w, |p| p.rules.license_types = vec!["enterprise".into()]).await;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Restored));
    assert_given_back(&w, &req, "license_type_out_of_scope").await;
}

#[tokio::test]
async fn a_user_made_admin_or_transfer_target_during_the_window_unsuspends() {
    let w = world(true, 0).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    w.provider
        .tenant()
        .users
        .get_mut(IDLE)
        .unwrap()
        .seat
        .is_admin = true;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Restored));
    assert_given_back(&w, &req, "refused_admin").await;

    let w = world(true, 0).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    edit_rules(&w, |p| p.rules.transfer_target = Some(IDLE.into())).await;
    w.provider.tenant().target = Some(IDLE.into());
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Restored));
    assert_given_back(&w, &req, "refused_transfer_target").await;
}

#[tokio::test]
async fn a_report_mode_switch_alone_does_not_stop_the_approved_removal() {
    let w = world(true, 0).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    edit_rules(&w, |p| p.rules.mode = crate::domain::ReclaimMode::Report).await;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
}

#[tokio::test]
async fn an_unsuspend_that_fails_at_the_windows_end_is_retried_then_permanent_fails_loudly() {
    let w = world(true, 0).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    edit_rules(&w, |p| {
        p.rules.exempt_logins.push("u200@example.com".into())
    })
    .await;
    w.provider.inject(
        Op::SetAccess,
        Fault::Fail(crate::http::ProviderError::Network {
            provider: "memory",
            message: "connection reset".into(),
        }),
    );
    assert!(w.deliver(&req).await.is_retry());
    assert_eq!(w.record(&req).await.status, Suspended);
    w.provider.inject(
        Op::SetAccess,
        Fault::Fail(crate::http::ProviderError::Malformed {
            provider: "memory",
            endpoint: "/users/200".into(),
            message: "permanent".into(),
        }),
    );
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Failed));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("unsuspend_refused"));
    let why = rec.reason.as_deref().unwrap();
    assert!(
        why.contains("still suspended") && why.contains("seatctl restore acme u200@example.com"),
        "{why}"
    );
    assert_eq!(w.provider.count(Op::Remove), 0);
    // tried once per delivery, not again by the give-back
    assert_eq!(w.provider.count(Op::SetAccess), 3);
    assert_eq!(w.status_of(IDLE).as_deref(), Some("inactive"));
    // and restore gives access back
    w.restore(IDLE).await.unwrap();
    assert_eq!(w.status_of(IDLE).as_deref(), Some("active"));
}

// ------------------------------------------------------------------ review: a failed removal after the window

fn permanent_transfer_failure() -> Fault {
    Fault::Fail(crate::http::ProviderError::Malformed {
        provider: "memory",
        endpoint: "/users/200/folders/0".into(),
        message: "permanent".into(),
    })
}

#[tokio::test]
async fn review_a_failed_removal_after_the_window_gives_access_back_and_stays_restorable() {
    let w = world(true, 0).await;
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Suspended));
    w.provider
        .inject(Op::Transfer, permanent_transfer_failure());
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Failed));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("transfer_refused"));
    assert!(
        rec.reason
            .as_deref()
            .unwrap()
            .contains("the user was given access back"),
        "{:?}",
        rec.reason
    );
    assert_eq!(w.status_of(IDLE).as_deref(), Some("active"));
    // restore still answers (it writes the keep; the user is active already)
    let r = w.restore(IDLE).await;
    assert!(r.is_ok(), "{:?}", r.err().map(|e| e.to_string()));
    assert_eq!(w.record(&req).await.status, Restored);
}

#[tokio::test]
async fn review_a_failed_removal_whose_give_back_failed_is_restorable() {
    let w = world(true, 0).await;
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Suspended));
    w.provider
        .inject(Op::Transfer, permanent_transfer_failure());
    // the give-back fails too (as if the function had crashed before it)
    w.provider.inject(
        Op::SetAccess,
        Fault::Fail(crate::http::ProviderError::Network {
            provider: "memory",
            message: "connection reset".into(),
        }),
    );
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Failed));
    let why = w.record(&req).await.reason.unwrap();
    assert!(
        why.contains("may still be suspended") && why.contains("seatctl restore acme"),
        "{why}"
    );
    assert_eq!(w.status_of(IDLE).as_deref(), Some("inactive"));
    let r = w.restore(IDLE).await;
    assert!(r.is_ok(), "{:?}", r.err().map(|e| e.to_string()));
    assert_eq!(w.status_of(IDLE).as_deref(), Some("active"));
    let rec = w.record(&req).await;
    assert_eq!(rec.status, Restored);
    assert!(rec.lease_owner.is_none());
}

// ------------------------------------------------------------------ review: restore's keep

#[tokio::test]
async fn a_restore_refused_by_the_provider_leaves_no_keep_or_puts_back_the_earlier_one() {
    let w = world(true, 0).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    assert!(matches!(
        w.restore(IDLE).await,
        Err(RestoreError::CannotBeUndone(_))
    ));
    assert_eq!(w.repos.seats().get_keep("acme", IDLE).await.unwrap(), None);
    assert!(w.record(&req).await.lease_owner.is_none());

    // an earlier keep (an operator's) comes back as it was
    let earlier = crate::domain::Keep::new(
        "acme",
        IDLE,
        "u200@example.com",
        Utc::now() - Duration::days(1),
        30,
        Some("operator"),
        "seatctl:bob",
        crate::domain::KeepSource::Operator,
    );
    w.repos.seats().put_keep(&earlier).await.unwrap();
    assert!(w.restore(IDLE).await.is_err());
    assert_eq!(
        w.repos.seats().get_keep("acme", IDLE).await.unwrap(),
        Some(earlier)
    );
}

#[tokio::test]
async fn a_restore_whose_keep_cannot_be_written_releases_the_request() {
    let w = world(true, 14).await;
    let req = request(IDLE);
    w.deliver(&req).await;
    w.repos.fail_next("seats.put_keep");
    assert!(matches!(w.restore(IDLE).await, Err(RestoreError::Store(_))));
    let rec = w.record(&req).await;
    assert!(rec.lease_owner.is_none() && rec.lease_until.is_none());
    assert_eq!(w.status_of(IDLE).as_deref(), Some("inactive"));
    // a repeat works at once (no 5-minute wait)
    w.restore(IDLE).await.unwrap();
    assert_eq!(w.status_of(IDLE).as_deref(), Some("active"));
}

// ------------------------------------------------------------------ review: suspended by an admin before seatkeeper

/// The idle user was suspended by an admin before seatkeeper acted.
async fn suspended_by_an_admin(box_like: bool) -> (World, ReclaimRequest) {
    let w = world(box_like, 0).await;
    let off = if box_like { "inactive" } else { "suspended" };
    w.provider.tenant().users.get_mut(IDLE).unwrap().seat.status = off.into();
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Suspended));
    let rec = w.record(&req).await;
    assert!(rec.suspended_before);
    assert!(
        rec.steps
            .last()
            .unwrap()
            .detail
            .contains("already suspended before seatkeeper"),
        "{}",
        rec.steps.last().unwrap().detail
    );
    (w, req)
}

#[tokio::test]
async fn restore_refuses_to_unsuspend_a_user_an_admin_had_suspended() {
    let (w, req) = suspended_by_an_admin(true).await;
    let mut rec = w.record(&req).await;
    // back in the window
    rec.remove_after = Some(Utc::now() + Duration::days(1));
    w.repos.reclaims().save(&mut rec).await.unwrap();
    let e = w.restore(IDLE).await.unwrap_err();
    let RestoreError::SuspendedBefore(msg) = e else {
        panic!("{e:?}")
    };
    assert!(
        msg.contains("by an admin") && msg.contains("nothing was changed"),
        "{msg}"
    );
    assert_eq!(w.status_of(IDLE).as_deref(), Some("inactive"));
    assert_eq!(w.repos.seats().get_keep("acme", IDLE).await.unwrap(), None);
    assert_eq!(w.record(&req).await.status, Suspended);
    // the approved reclaim still proceeds after the window
    w.end_window(&req).await;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
}

#[tokio::test]
async fn an_admins_suspension_is_not_undone_by_a_refusal_or_a_failure_at_the_windows_end() {
    let (w, req) = suspended_by_an_admin(true).await;
    edit_rules(&w, |p| {
        p.rules.exempt_logins.push("u200@example.com".into())
    })
    .await;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Skipped));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("refused_exempt_login"));
    assert!(rec.reason.unwrap().contains("stays suspended"));
    assert_eq!(w.status_of(IDLE).as_deref(), Some("inactive"));
    assert_eq!(w.provider.count(Op::SetAccess), 1, "the suspend only");

    let (w, req) = suspended_by_an_admin(true).await;
    w.provider
        .inject(Op::Transfer, permanent_transfer_failure());
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Failed));
    let why = w.record(&req).await.reason.unwrap();
    assert!(why.contains("stays suspended"), "{why}");
    assert_eq!(w.status_of(IDLE).as_deref(), Some("inactive"));
    assert!(matches!(
        w.restore(IDLE).await,
        Err(RestoreError::SuspendedBefore(_))
    ));
}

#[tokio::test]
async fn a_lost_suspend_answer_is_not_taken_for_an_admins_suspension() {
    let w = world(false, 14).await;
    let req = request(IDLE);
    w.provider.inject(Op::SetAccess, Fault::CutAfterEffect);
    assert!(w.deliver(&req).await.is_retry());
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Suspended));
    assert!(!w.record(&req).await.suspended_before);
    w.restore(IDLE).await.unwrap();
    assert_eq!(w.status_of(IDLE).as_deref(), Some("active"));
}
