//! The reclaim state machine over in-memory ports: every transition and failure point, fast and
//! deterministic (no moto, no sandbox). The e2e suite drives the same code against the real
//! adapters.
use chrono::{Duration, Utc};

use super::*;
use crate::domain::{
    BoxPlan, Keep, KeepSource, LicenseSummary, LoginEvidence, ObservedSeat, Profile, Provider,
    ReclaimRecord, ReclaimRequest, ReclaimStatus, Seat,
};
use crate::http::{ErrorCode, ProviderError};
use crate::memory::provider::{Fault, Op};
use crate::memory::{MemoryProvider, MemoryRepos};
use crate::ports::{AccessError, ProfileRepo, ReclaimRepo, SeatRepo};

const ADMIN: &str = "100";
const IDLE: &str = "200";
const IDLE2: &str = "201";

struct World {
    reclaimer: Reclaimer<MemoryRepos, MemoryProvider>,
    provider: MemoryProvider,
    repos: MemoryRepos,
    profile: Profile,
}

pub(crate) fn observed(id: &str, admin: bool) -> ObservedSeat {
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

pub(crate) fn seat(profile: &Profile, o: &ObservedSeat, last_login_days: Option<i64>) -> Seat {
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
        last_login: last_login_days.map(|d| LoginEvidence {
            at: now - Duration::days(d),
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

/// A profile with an admin (the target) and two idle users who own content, synced.
/// `box_like`: transfer then removal; else the removal carries the transfer.
async fn world(box_like: bool) -> World {
    let now = Utc::now();
    let mut profile = Profile::new_box("acme", "Acme", "42", BoxPlan::Business, now).unwrap();
    profile.rules.transfer_target = Some(ADMIN.into());
    profile.rules.max_per_run = 10;
    profile.rules.max_percent = 100;
    let repos = MemoryRepos::default();
    repos.profiles().create(&profile).await.unwrap();
    let provider = MemoryProvider::new(box_like);
    provider.tenant().target = Some(ADMIN.into());
    let mut seats = Vec::new();
    for (id, admin, owned, login) in [
        (ADMIN, true, 3, Some(1)),
        (IDLE, false, 5, Some(200)),
        (IDLE2, false, 7, None),
    ] {
        let o = observed(id, admin);
        seats.push(seat(&profile, &o, login));
        provider.add_user(o, owned);
    }
    repos.seats().put_many(&seats).await.unwrap();
    repos
        .seats()
        .put_license_summaries(&[LicenseSummary {
            profile_id: profile.id.clone(),
            license_type: "business".into(),
            managed: true,
            purchased: None,
            assigned: 3,
            active: 1,
            inactive: 2,
            never_logged_in: 1,
            unassigned: None,
            over_assigned: None,
            unit_price_cents: None,
            currency: None,
            monthly_cost_cents: None,
            monthly_waste_cents: None,
            inactive_after_days: 60,
            run_id: "run-1".into(),
            computed_at: now,
        }])
        .await
        .unwrap();
    let mut reclaimer = Reclaimer::new(repos.clone(), provider.clone());
    reclaimer.poll = JobPoll {
        attempts: 3,
        interval: std::time::Duration::ZERO,
    };
    World {
        reclaimer,
        provider,
        repos,
        profile,
    }
}

/// A login event `id` at `at`.
fn login(at: chrono::DateTime<Utc>, id: &str) -> LoginEvidence {
    LoginEvidence {
        at,
        event_id: id.into(),
        event_type: "LOGIN".into(),
    }
}

fn request(user: &str) -> ReclaimRequest {
    ReclaimRequest::new("acme", user, false, "tester", Some("idle".into()))
}

impl World {
    /// Records the request's approval (as `seatctl approve` / `reclaim` do), then delivers it.
    async fn deliver(&self, req: &ReclaimRequest) -> Outcome {
        self.approve(req).await;
        self.deliver_unapproved(req).await
    }

    async fn deliver_unapproved(&self, req: &ReclaimRequest) -> Outcome {
        let body = serde_json::to_string(req).unwrap();
        self.reclaimer
            .process_from("msg-1", &body, "delivery-1", Some("AROAEXAMPLE:operator"))
            .await
            .outcome
    }

    async fn approve(&self, req: &ReclaimRequest) {
        self.repos
            .reclaims()
            .put_approval(&crate::domain::Approval::for_request(
                req,
                "seatctl approve",
                Utc::now(),
            ))
            .await
            .unwrap();
    }

    async fn deliver_as(&self, req: &ReclaimRequest, owner: &str) -> Outcome {
        self.approve(req).await;
        let body = serde_json::to_string(req).unwrap();
        self.reclaimer.process("msg-1", &body, owner).await.outcome
    }

    async fn record(&self, req: &ReclaimRequest) -> ReclaimRecord {
        self.repos
            .reclaims()
            .get(&req.profile_id, &req.request_id)
            .await
            .unwrap()
            .expect("recorded")
    }

    /// Changes the stored profile (as `seatctl rules` would) and returns it.
    async fn set_rules(&self, change: impl FnOnce(&mut Profile)) -> Profile {
        let mut p = self.profile.clone();
        change(&mut p);
        self.repos.profiles().put(&p).await.unwrap();
        p
    }

    async fn seat(&self, id: &str) -> Seat {
        self.repos.seats().get("acme", id).await.unwrap().unwrap()
    }

    /// The sync's candidate refresh for `p` (keeping the top 10).
    async fn refresh(
        &self,
        p: &Profile,
        run_id: &str,
        now: chrono::DateTime<Utc>,
    ) -> crate::candidates::Refreshed {
        crate::candidates::refresh(self.repos.seats(), p, run_id, now, 10)
            .await
            .unwrap()
    }

    /// Queues `candidates` (up to `cap`) as the sync or `seatctl` would: (sent, held).
    async fn enqueue(
        &self,
        queue: &crate::memory::MemoryQueue,
        candidates: &mut [crate::domain::Candidate],
        requested_by: &str,
        source: &str,
        cap: u64,
        now: chrono::DateTime<Utc>,
    ) -> (Vec<ReclaimRequest>, u64) {
        crate::candidates::enqueue(
            self.repos.seats(),
            self.repos.reclaims(),
            queue,
            candidates,
            requested_by,
            source,
            cap,
            now,
        )
        .await
        .unwrap()
    }

    fn statuses(rec: &ReclaimRecord) -> Vec<ReclaimStatus> {
        rec.steps.iter().map(|s| s.status).collect()
    }

    fn user_present(&self, id: &str) -> bool {
        self.provider.tenant().users.contains_key(id)
    }

    /// Files are never lost: everything an idle user owned is with the target or still theirs.
    fn assert_no_content_lost(&self) {
        let t = self.provider.tenant();
        assert_eq!(t.lost, 0, "content left with a removed user");
        let held: u64 = t.users.values().map(|u| u.owned).sum();
        assert_eq!(
            held + t.transferred,
            3 + 5 + 7,
            "content appeared or vanished"
        );
    }

    /// Puts a record at `status` as if an earlier delivery had stopped there.
    async fn stored_at(&self, req: &ReclaimRequest, status: ReclaimStatus) -> ReclaimRecord {
        let mut rec = ReclaimRecord::new(req.clone(), Provider::Box, Utc::now());
        rec.transfer_target = Some(ADMIN.into());
        rec.login = Some(format!("u{}@example.com", req.user_id));
        if status != ReclaimStatus::Received {
            rec.step(status, Utc::now(), "an earlier delivery", None);
        }
        assert!(self.repos.reclaims().create(&rec).await.unwrap());
        rec
    }
}

use ReclaimStatus::*;

fn network() -> ProviderError {
    ProviderError::Network {
        provider: "memory",
        message: "connection reset".into(),
    }
}

fn refused(code: &str) -> ProviderError {
    ProviderError::Api {
        provider: "memory",
        status: 403,
        code: ErrorCode::Other(code.into()),
        message: "refused".into(),
        request_id: Some("prov-req-1".into()),
    }
}

// ------------------------------------------------------------------ the happy paths

#[tokio::test]
async fn box_like_transfers_then_removes_then_marks_the_seat() {
    let w = world(true).await;
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    let rec = w.record(&req).await;
    assert_eq!(
        World::statuses(&rec),
        [
            Received,
            Verified,
            Transferring,
            Transferred,
            Removing,
            Removed,
            Done
        ]
    );
    assert!(rec.transfer_folder_id.is_some());
    assert!(rec.evidence.is_some() && rec.plan.is_some());
    assert!(rec.lease_owner.is_none(), "the lease is released");
    assert!(!w.user_present(IDLE));
    assert_eq!(w.provider.count(Op::Transfer), 1);
    assert_eq!(w.provider.count(Op::Remove), 1);
    w.assert_no_content_lost();
    let seat = w.seat(IDLE).await;
    assert!(seat.reclaimed_at.is_some() && seat.removed_at.is_some());
    assert_eq!(
        seat.reclaim_request_id.as_deref(),
        Some(req.request_id.as_str())
    );
}

#[tokio::test]
async fn dropbox_like_removes_with_the_transfer_in_one_call() {
    let w = world(false).await;
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    let rec = w.record(&req).await;
    assert_eq!(
        World::statuses(&rec),
        [Received, Verified, Removing, Removed, Done]
    );
    assert_eq!(w.provider.count(Op::Transfer), 0);
    assert_eq!(w.provider.count(Op::Remove), 1);
    assert!(!w.user_present(IDLE));
    w.assert_no_content_lost();
}

#[tokio::test]
async fn a_removal_job_is_recorded_then_polled_to_completion() {
    let w = world(false).await;
    w.provider.tenant().job_polls = 2;
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    let rec = w.record(&req).await;
    assert_eq!(
        World::statuses(&rec),
        [Received, Verified, Removing, Removing, Removed, Done]
    );
    assert!(rec.async_job_id.is_some());
    assert_eq!(w.provider.count(Op::Poll), 2);
    assert!(!w.user_present(IDLE));
}

// ------------------------------------------------------------ failure points, redelivery

#[tokio::test]
async fn a_job_still_running_is_handed_back_and_polled_not_repeated() {
    let w = world(false).await;
    w.provider.tenant().job_polls = 5; // more than one delivery polls (3)
    let req = request(IDLE);
    assert!(w.deliver(&req).await.is_retry());
    let rec = w.record(&req).await;
    assert_eq!(rec.status, Removing);
    let job = rec
        .async_job_id
        .clone()
        .expect("job recorded before polling");
    assert!(rec.lease_owner.is_none());
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    assert_eq!(
        w.provider.count(Op::Remove),
        1,
        "the redelivery polled job {job}"
    );
    assert!(!w.user_present(IDLE));
}

#[tokio::test]
async fn a_transfer_whose_answer_was_cut_is_probed_not_repeated() {
    let w = world(true).await;
    w.provider.inject(Op::Transfer, Fault::CutAfterEffect);
    let req = request(IDLE);
    assert!(
        w.deliver(&req).await.is_retry(),
        "unknown outcome: redeliver"
    );
    assert_eq!(w.record(&req).await.status, Transferring);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    let rec = w.record(&req).await;
    assert_eq!(w.provider.count(Op::Transfer), 1, "never transferred twice");
    assert!(rec
        .steps
        .iter()
        .any(|s| s.detail.contains("earlier transfer had completed")));
    w.assert_no_content_lost();
}

#[tokio::test]
async fn a_transfer_that_never_happened_is_made_on_redelivery() {
    let w = world(true).await;
    w.provider.inject(Op::Transfer, Fault::Fail(network()));
    let req = request(IDLE);
    assert!(w.deliver(&req).await.is_retry());
    assert_eq!(w.record(&req).await.status, Transferring);
    assert!(w.user_present(IDLE));
    // the probe (a removal without force) is refused while the user owns content
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    assert_eq!(w.provider.count(Op::Transfer), 2);
    assert_eq!(w.provider.count(Op::Remove), 2, "probe, then the removal");
    w.assert_no_content_lost();
}

#[tokio::test]
async fn a_refused_transfer_fails_and_removes_nothing() {
    let w = world(true).await;
    w.provider
        .inject(Op::Transfer, Fault::Fail(refused("access_denied")));
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Failed));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("transfer_refused"));
    assert_eq!(w.provider.count(Op::Remove), 0);
    assert!(w.user_present(IDLE));
    w.assert_no_content_lost();
}

#[tokio::test]
async fn a_refused_delete_after_the_transfer_fails_with_the_folder_named() {
    let w = world(true).await;
    w.provider
        .inject(Op::Remove, Fault::Fail(refused("forbidden")));
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Failed));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("delete_refused"));
    let folder = rec.transfer_folder_id.clone().unwrap();
    assert!(rec.reason.as_deref().unwrap().contains(&folder));
    assert!(rec
        .steps
        .iter()
        .any(|s| s.provider_request_id.as_deref() == Some("prov-req-1")));
    assert!(w.user_present(IDLE), "the user keeps the seat");
    w.assert_no_content_lost();
}

#[tokio::test]
async fn a_transient_delete_error_resumes_at_removing_without_a_second_transfer() {
    let w = world(true).await;
    w.provider.inject(Op::Remove, Fault::Fail(network()));
    let req = request(IDLE);
    assert!(w.deliver(&req).await.is_retry());
    assert_eq!(w.record(&req).await.status, Removing);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    assert_eq!(w.provider.count(Op::Transfer), 1);
    w.assert_no_content_lost();
}

#[tokio::test]
async fn a_removal_answer_cut_after_it_happened_finishes_on_redelivery() {
    let w = world(false).await;
    w.provider.inject(Op::Remove, Fault::CutAfterEffect);
    let req = request(IDLE);
    assert!(w.deliver(&req).await.is_retry());
    assert_eq!(w.record(&req).await.status, Removing);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    let rec = w.record(&req).await;
    assert!(rec.steps.iter().any(|s| s.detail.contains("already gone")));
    w.assert_no_content_lost();
}

#[tokio::test]
async fn a_busy_provider_hands_the_request_back() {
    let w = world(false).await;
    w.provider.inject(Op::Remove, Fault::Busy);
    let req = request(IDLE);
    assert!(w.deliver(&req).await.is_retry());
    assert!(w.user_present(IDLE));
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
}

#[tokio::test]
async fn a_forgotten_job_rechecks_the_user_and_removes_again_only_if_present() {
    let w = world(false).await;
    w.provider.tenant().job_polls = 2;
    w.provider.inject(Op::Poll, Fault::ForgetJob);
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    let rec = w.record(&req).await;
    assert!(rec
        .steps
        .iter()
        .any(|s| s.detail.contains("removing again")));
    assert_eq!(w.provider.count(Op::Remove), 2);
    assert!(!w.user_present(IDLE));
}

#[tokio::test]
async fn a_lease_held_by_another_delivery_means_retry_and_nothing_is_called() {
    let w = world(true).await;
    let req = request(IDLE);
    let mut rec = w.stored_at(&req, Received).await;
    rec.lease_owner = Some("delivery-other".into());
    rec.lease_until = Some(Utc::now() + Duration::minutes(5));
    w.repos.reclaims().save(&mut rec).await.unwrap();
    assert!(w.deliver(&req).await.is_retry());
    assert!(w.provider.tenant().calls.is_empty());
    // a lapsed lease (its holder crashed) is taken over
    rec.lease_until = Some(Utc::now() - Duration::minutes(1));
    w.repos.reclaims().save(&mut rec).await.unwrap();
    assert_eq!(
        w.deliver_as(&req, "delivery-2").await,
        Outcome::Finished(Done)
    );
}

#[tokio::test]
async fn a_paused_profile_skips_before_any_write() {
    let w = world(true).await;
    w.set_rules(|p| p.rules.paused = true).await;
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Skipped));
    assert_eq!(
        w.record(&req).await.reason_code.as_deref(),
        Some("profile_paused")
    );
    assert_eq!(
        w.provider.count(Op::Transfer) + w.provider.count(Op::Remove),
        0
    );
}

#[tokio::test]
async fn a_pause_after_verification_stops_before_the_transfer_and_before_the_removal() {
    for at in [Verified, Transferred] {
        let w = world(true).await;
        let req = request(IDLE);
        w.stored_at(&req, at).await;
        w.set_rules(|p| p.rules.paused = true).await;
        assert_eq!(
            w.deliver(&req).await,
            Outcome::Finished(Skipped),
            "at {at:?}"
        );
        assert_eq!(
            w.provider.count(Op::Transfer) + w.provider.count(Op::Remove),
            0
        );
        assert!(w.user_present(IDLE));
    }
}

#[tokio::test]
async fn the_daily_cap_is_counted_and_holds() {
    let w = world(true).await;
    w.set_rules(|p| p.rules.max_per_run = 1).await;
    assert_eq!(w.deliver(&request(IDLE)).await, Outcome::Finished(Done));
    let second = request(IDLE2);
    assert_eq!(w.deliver(&second).await, Outcome::Finished(Skipped));
    assert_eq!(
        w.record(&second).await.reason_code.as_deref(),
        Some("blast_radius_cap")
    );
    assert!(w.user_present(IDLE2));
}

#[tokio::test]
async fn a_finished_request_redelivered_is_a_no_op() {
    let w = world(true).await;
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    let calls = w.provider.tenant().calls.len();
    assert_eq!(w.deliver(&req).await, Outcome::AlreadyFinished(Done));
    assert_eq!(w.provider.tenant().calls.len(), calls);
}

#[tokio::test]
async fn redelivery_resumes_from_each_recorded_state() {
    // (stored state, box-like, transfers expected, removals expected)
    for (at, box_like, transfers, removals) in [
        (Received, true, 1, 1),
        (Verified, true, 1, 1),
        (Transferred, true, 0, 1),
        (Removing, true, 0, 1),
        (Removed, true, 0, 0),
        (Verified, false, 0, 1),
        (Removing, false, 0, 1),
        (Removed, false, 0, 0),
    ] {
        let w = world(box_like).await;
        if matches!(at, Transferred | Removing | Removed) && box_like {
            // the content moved in the earlier delivery
            let mut t = w.provider.tenant();
            let owned = std::mem::take(&mut t.users.get_mut(IDLE).unwrap().owned);
            t.transferred += owned;
        }
        if at == Removed {
            let mut t = w.provider.tenant();
            let u = t.users.remove(IDLE).unwrap();
            t.transferred += u.owned;
        }
        let req = request(IDLE);
        w.stored_at(&req, at).await;
        assert_eq!(
            w.deliver(&req).await,
            Outcome::Finished(Done),
            "from {at:?}"
        );
        assert_eq!(w.provider.count(Op::Transfer), transfers, "from {at:?}");
        assert_eq!(w.provider.count(Op::Remove), removals, "from {at:?}");
        assert!(!w.user_present(IDLE));
        w.assert_no_content_lost();
        let seat = w.seat(IDLE).await;
        assert!(seat.reclaimed_at.is_some(), "from {at:?}");
    }
}

#[tokio::test]
async fn a_dropbox_like_request_in_a_transfer_step_fails_as_a_bad_state() {
    let w = world(false).await;
    let req = request(IDLE);
    w.stored_at(&req, Transferring).await;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Failed));
    assert_eq!(
        w.record(&req).await.reason_code.as_deref(),
        Some("bad_state")
    );
    assert!(w.user_present(IDLE));
}

// ----------------------------------------------------------------- verification refusals

#[tokio::test]
async fn fresh_activity_since_the_sync_keeps_the_seat() {
    let w = world(true).await;
    w.provider
        .add_event(IDLE, login(Utc::now() - Duration::hours(2), "ev-fresh"));
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Skipped));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("active_since_request"));
    assert!(rec.reason.as_deref().unwrap().contains("ev-fresh"));
    assert!(w.user_present(IDLE));
}

#[tokio::test]
async fn a_keep_made_after_the_request_was_queued_wins_and_an_ended_keep_does_not() {
    let w = world(true).await;
    let now = Utc::now();
    let keep = Keep::new(
        "acme",
        IDLE,
        "idle@example.com",
        now,
        90,
        Some("back from leave in May"),
        "idle@example.com",
        KeepSource::KeepPage,
    );
    w.repos.seats().put_keep(&keep).await.unwrap();
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Skipped));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("kept"));
    let reason = rec.reason.as_deref().unwrap();
    assert!(
        reason.contains("back from leave in May") && reason.contains("keep_page"),
        "{reason}"
    );
    assert!(w.user_present(IDLE));

    // a keep that ended no longer protects the seat
    let ended = Keep::new(
        "acme",
        IDLE2,
        "idle2@example.com",
        now - Duration::days(91),
        90,
        None,
        "ops",
        KeepSource::Restore,
    );
    w.repos.seats().put_keep(&ended).await.unwrap();
    let req2 = request(IDLE2);
    assert_eq!(w.deliver(&req2).await, Outcome::Finished(Done));
    assert!(!w.user_present(IDLE2));
    w.assert_no_content_lost();
}

#[tokio::test]
async fn a_kept_user_leaves_the_candidates_until_the_keep_ends() {
    let w = world(true).await;
    let now = Utc::now();
    let listed = w.refresh(&w.profile, "run-2", now).await;
    assert_eq!(listed.report.candidates, 2);
    let keep = Keep::new(
        "acme",
        IDLE,
        "idle@example.com",
        now,
        90,
        Some("needed for audits"),
        "idle@example.com",
        KeepSource::KeepPage,
    );
    w.repos.seats().put_keep(&keep).await.unwrap();
    let after = w.refresh(&w.profile, "run-3", now).await;
    // the kept user is exempt; the admin (and transfer target) logged in yesterday: active,
    // whatever exemption would also keep them
    assert_eq!(
        (
            after.report.candidates,
            after.report.exempt,
            after.report.active,
            after.report.dropped
        ),
        (1, 1, 1, 1)
    );
    assert!(w
        .repos
        .seats()
        .get_candidate("acme", IDLE)
        .await
        .unwrap()
        .is_none());
    // the day the keep ends, the user is judged by their activity again
    let later = w.refresh(&w.profile, "run-4", keep.until).await;
    assert_eq!(later.report.candidates, 2);
}

#[tokio::test]
async fn a_fresh_desktop_session_or_content_event_keeps_the_seat_unless_logins_only() {
    use crate::domain::{ActivityKind, ActivityScope};
    let w = world(true).await;
    w.provider.add_activity(
        IDLE,
        ActivityKind::Session,
        LoginEvidence {
            at: Utc::now() - Duration::hours(1),
            event_id: "dbdsid:fresh".into(),
            event_type: "desktop_client session".into(),
        },
    );
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Skipped));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("active_since_request"));
    assert!(rec.reason.as_deref().unwrap().contains("dbdsid:fresh"));

    // logins only: the session does not count, and the request goes ahead
    w.repos
        .profiles()
        .update(&w.profile.id, |p| -> Result<(), crate::ports::StoreError> {
            p.rules.activity = ActivityScope::Logins;
            Ok(())
        })
        .await
        .unwrap();
    let req2 = request(IDLE);
    assert_eq!(w.deliver(&req2).await, Outcome::Finished(Done));
    assert_ne!(
        w.record(&req2).await.reason_code.as_deref(),
        Some("active_since_request")
    );
}

#[tokio::test]
async fn refusals_before_acting_change_nothing() {
    // (arrange, expected status, expected code)
    type Arrange = fn(&World);
    let cases: [(&str, Arrange, ReclaimStatus, &str); 6] = [
        ("unknown seat", |_| {}, Skipped, "unknown_seat"),
        (
            "gone at the provider",
            |w| {
                // left the tenant (their files went elsewhere) since the sync
                let mut t = w.provider.tenant();
                let gone = t.users.remove(IDLE).map_or(0, |u| u.owned);
                t.transferred += gone;
            },
            Skipped,
            "user_not_found",
        ),
        (
            "no target",
            |w| w.provider.tenant().target = None,
            Failed,
            "no_transfer_target",
        ),
        (
            "target not an admin",
            |w| w.provider.tenant().target = Some(IDLE2.into()),
            Failed,
            "bad_transfer_target",
        ),
        (
            "admin",
            |w| {
                w.provider
                    .tenant()
                    .users
                    .get_mut(IDLE)
                    .unwrap()
                    .seat
                    .is_admin = true;
            },
            Skipped,
            "refused_admin",
        ),
        (
            "credentials",
            |w| {
                w.provider.inject(
                    Op::OpenDeprovisioner,
                    Fault::Access(|| AccessError::Credentials("secret gone".into())),
                )
            },
            Failed,
            "credentials_missing",
        ),
    ];
    for (name, arrange, status, code) in cases {
        let w = world(true).await;
        arrange(&w);
        let req = if name == "unknown seat" {
            request("999")
        } else {
            request(IDLE)
        };
        assert_eq!(w.deliver(&req).await, Outcome::Finished(status), "{name}");
        assert_eq!(
            w.record(&req).await.reason_code.as_deref(),
            Some(code),
            "{name}"
        );
        assert_eq!(
            w.provider.count(Op::Transfer) + w.provider.count(Op::Remove),
            0,
            "{name}"
        );
        w.assert_no_content_lost();
    }
}

#[tokio::test]
async fn credentials_that_cannot_be_read_now_mean_retry() {
    let w = world(true).await;
    w.provider.inject(
        Op::OpenDeprovisioner,
        Fault::Access(|| AccessError::Unavailable("Secrets Manager timed out".into())),
    );
    let req = request(IDLE);
    assert!(w.deliver(&req).await.is_retry());
    assert_eq!(w.record(&req).await.status, Received);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
}

#[tokio::test]
async fn a_dry_run_records_the_plan_and_touches_nothing() {
    let w = world(true).await;
    let mut req = request(IDLE);
    req.dry_run = true;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("dry_run"));
    assert!(rec.plan.is_some());
    assert_eq!(
        w.provider.count(Op::Transfer) + w.provider.count(Op::Remove),
        0
    );
    assert!(w.user_present(IDLE));
}

// -------------------------------------------------------------------- invalid messages

#[tokio::test]
async fn invalid_messages_are_recorded_and_acknowledged() {
    let w = world(true).await;
    let other = ReclaimRequest::new("nobody", IDLE, false, "t", None);
    for (i, (body, says)) in [
        ("not json".to_owned(), "not a valid reclaim request"),
        (r#"{"version":2}"#.to_owned(), "version 2"),
        (serde_json::to_string(&other).unwrap(), "does not exist"),
    ]
    .into_iter()
    .enumerate()
    {
        let p = w.reclaimer.process(&format!("m{i}"), &body, "d").await;
        assert!(
            matches!(&p.outcome, Outcome::Invalid(e) if e.contains(says)),
            "{body}: {:?}",
            p.outcome
        );
    }
    let invalid = w.repos.reclaims().list_invalid().await.unwrap();
    assert_eq!(invalid.len(), 3);
    // a different request under a used id is refused, the first one stands
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    let mut forged = req.clone();
    forged.user_id = IDLE2.into();
    assert_eq!(w.deliver(&forged).await, Outcome::AlreadyFinished(Done));
    assert!(w.user_present(IDLE2));
}

// ------------------------------------------------------- authorisation and one per user

#[tokio::test]
async fn an_unapproved_request_is_refused_before_anything_is_read() {
    let w = world(true).await;
    let req = request(IDLE);
    let calls = w.provider.tenant().calls.len();
    assert_eq!(w.deliver_unapproved(&req).await, Outcome::Finished(Skipped));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("not_approved"));
    assert!(rec.reason.as_deref().unwrap().contains("seatctl approve"));
    assert_eq!(rec.sender_id.as_deref(), Some("AROAEXAMPLE:operator"));
    assert!(rec.steps[0].detail.contains("sent by AROAEXAMPLE:operator"));
    assert_eq!(
        w.provider.tenant().calls.len(),
        calls,
        "nothing asked of the provider"
    );
    assert!(w.user_present(IDLE));
    // final: a redelivery does nothing
    assert_eq!(
        w.deliver_unapproved(&req).await,
        Outcome::AlreadyFinished(Skipped)
    );

    // an approval of another user, or of a dry run, does not cover a real request
    let other = request(IDLE2);
    let mut wrong = other.clone();
    wrong.user_id = IDLE.into();
    w.approve(&wrong).await;
    assert_eq!(
        w.deliver_unapproved(&other).await,
        Outcome::Finished(Skipped)
    );
    let mut dry = request(IDLE2);
    dry.dry_run = true;
    w.approve(&dry).await;
    let mut real = dry.clone();
    real.dry_run = false;
    let body = serde_json::to_string(&real).unwrap();
    let out = w.reclaimer.process("m", &body, "d").await.outcome;
    assert_eq!(out, Outcome::Finished(Skipped));
    assert_eq!(
        w.record(&real).await.reason_code.as_deref(),
        Some("not_approved")
    );
    assert!(w.user_present(IDLE2));
}

#[tokio::test]
async fn dry_runs_and_auto_mode_need_no_approval_record() {
    let w = world(true).await;
    let mut dry = request(IDLE);
    dry.dry_run = true;
    assert_eq!(w.deliver_unapproved(&dry).await, Outcome::Finished(Done));
    assert_eq!(w.record(&dry).await.reason_code.as_deref(), Some("dry_run"));
    assert!(w.user_present(IDLE), "a dry run removes nothing");
    w.set_rules(|p| p.rules.mode = crate::domain::ReclaimMode::Auto)
        .await;
    let req = request(IDLE);
    assert_eq!(w.deliver_unapproved(&req).await, Outcome::Finished(Done));
    assert!(!w.user_present(IDLE));
}

#[tokio::test]
async fn two_requests_for_one_user_run_once() {
    let w = world(true).await;
    let first = request(IDLE);
    // the first stops mid-way (transfer busy) and stays open
    w.provider.inject(Op::Transfer, Fault::Fail(network()));
    assert!(w.deliver(&first).await.is_retry());
    assert_eq!(w.record(&first).await.status, Transferring);
    let second = request(IDLE);
    let calls = w.provider.tenant().calls.len();
    assert_eq!(w.deliver(&second).await, Outcome::Finished(Skipped));
    assert_eq!(w.provider.tenant().calls.len(), calls, "not executed");
    let rec = w.record(&second).await;
    assert_eq!(rec.reason_code.as_deref(), Some("duplicate_user_request"));
    assert!(rec.reason.as_deref().unwrap().contains(&first.request_id));
    // another user is not held up
    assert_eq!(w.deliver(&request(IDLE2)).await, Outcome::Finished(Done));
    // the first finishes; exactly one transfer and one removal happened for the user
    assert_eq!(w.deliver(&first).await, Outcome::Finished(Done));
    assert!(!w.user_present(IDLE) && !w.user_present(IDLE2));
    w.assert_no_content_lost();
    // the lock was released: a later request for the user is admitted (and finds them gone)
    let third = request(IDLE);
    assert_eq!(w.deliver(&third).await, Outcome::Finished(Skipped));
    assert_ne!(
        w.record(&third).await.reason_code.as_deref(),
        Some("duplicate_user_request")
    );
}

#[tokio::test]
async fn a_lock_left_by_a_finished_request_is_taken_over() {
    let w = world(true).await;
    let gone = request(IDLE);
    let mut rec = w.stored_at(&gone, Received).await;
    rec.end(Skipped, Utc::now(), "x", "ended", None);
    w.repos.reclaims().save(&mut rec).await.unwrap();
    w.repos
        .reclaims()
        .lock_user("acme", IDLE, &gone.request_id, None)
        .await
        .unwrap();
    assert_eq!(w.deliver(&request(IDLE)).await, Outcome::Finished(Done));
}

#[tokio::test]
async fn a_candidate_held_by_the_cap_waits_and_is_queued_by_the_next_run() {
    let w = world(true).await;
    let p = w
        .set_rules(|p| {
            p.rules.max_per_run = 1;
            p.rules.mode = crate::domain::ReclaimMode::Auto;
        })
        .await;
    // the sync's candidates: both idle users; the day's cap (1) lets one through
    let now = Utc::now();
    let refreshed = w.refresh(&p, "run-1", now).await;
    assert_eq!(refreshed.unrequested, 2);
    let queue = crate::memory::MemoryQueue::default();
    let mut all = refreshed.top_unrequested;
    let (sent, held) = w
        .enqueue(&queue, &mut all, "seatkeeper auto mode", "auto", 2, now)
        .await;
    assert_eq!((sent.len(), held), (2, 0));
    for r in &sent {
        w.deliver_unapproved(r).await;
    }
    let statuses: Vec<_> = {
        let mut v = Vec::new();
        for r in &sent {
            v.push(w.record(r).await.reason_code);
        }
        v
    };
    assert!(
        statuses.contains(&Some("blast_radius_cap".into())),
        "{statuses:?}"
    );
    let held_req = sent
        .iter()
        .zip(&statuses)
        .find(|(_, s)| s.as_deref() == Some("blast_radius_cap"))
        .unwrap()
        .0;
    let c = w
        .repos
        .seats()
        .get_candidate("acme", &held_req.user_id)
        .await
        .unwrap()
        .expect("still a candidate");
    assert_eq!(c.request_id, None, "released for a later request");
    assert!(c.waiting.as_deref().unwrap().contains("blast_radius_cap"));
    assert!(w.user_present(&held_req.user_id));
    // the next run (another day: a fresh counter) queues it again, with an approval
    let again = w.refresh(&p, "run-2", now).await;
    assert_eq!(again.unrequested, 1);
    let mut top = again.top_unrequested;
    let (sent2, _) = w
        .enqueue(&queue, &mut top, "seatkeeper auto mode", "auto", 1, now)
        .await;
    assert_eq!(sent2.len(), 1);
    assert_eq!(sent2[0].user_id, held_req.user_id);
    let stored = w
        .repos
        .seats()
        .get_candidate("acme", &held_req.user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.waiting, None);
    assert!(w
        .repos
        .reclaims()
        .get_approval("acme", &sent2[0].request_id)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn enqueue_over_the_cap_stores_why_the_candidate_waits() {
    let w = world(true).await;
    let now = Utc::now();
    let refreshed = w.refresh(&w.profile, "run-1", now).await;
    let queue = crate::memory::MemoryQueue::default();
    let mut all = refreshed.top_unrequested;
    let (sent, held) = w
        .enqueue(&queue, &mut all, "seatctl:alice", "seatctl approve", 1, now)
        .await;
    assert_eq!((sent.len(), held), (1, 1));
    let waiting = w.repos.seats().list_candidates("acme").await.unwrap();
    let w1: Vec<_> = waiting.iter().filter(|c| c.waiting.is_some()).collect();
    assert_eq!(w1.len(), 1);
    assert!(w1[0]
        .waiting
        .as_deref()
        .unwrap()
        .contains("blast-radius cap"));
    assert!(w1[0].request_id.is_none());
}

// --------------------------------------------------------- the sync never erases a reclaim

#[tokio::test]
async fn a_concurrent_reclaim_survives_the_sync_write() {
    let w = world(true).await;
    // the sync read the roster (IDLE still listed) just before the reclaim finished
    let mut from_sync = w.seat(IDLE).await;
    from_sync.last_seen_at = Utc::now();
    from_sync.name = "Renamed by the sync".into();
    assert_eq!(w.deliver(&request(IDLE)).await, Outcome::Finished(Done));
    w.repos.seats().put_many(&[from_sync]).await.unwrap();
    let seat = w.seat(IDLE).await;
    assert!(seat.reclaimed_at.is_some() && seat.removed_at.is_some());
    assert_eq!(seat.name, "Renamed by the sync");
}

#[tokio::test]
async fn a_request_verified_earlier_rechecks_the_target_before_the_removal() {
    let w = world(false).await;
    let req = request(IDLE);
    w.stored_at(&req, Verified).await;
    // the admin who receives the files was demoted since the verification
    w.provider
        .tenant()
        .users
        .get_mut(ADMIN)
        .unwrap()
        .seat
        .is_admin = false;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Failed));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("bad_transfer_target"));
    assert_eq!(w.provider.count(Op::Remove), 0, "nothing removed");
    assert!(w.user_present(IDLE));
}

// ------------------------------------------- stale verifications, background transfers (Box)

impl World {
    /// Moves the request's verified step `minutes` into the past.
    async fn verified_ago(&self, req: &ReclaimRequest, minutes: i64) {
        let mut rec = self.record(req).await;
        for s in rec.steps.iter_mut().filter(|s| s.status == Verified) {
            s.at = Utc::now() - Duration::minutes(minutes);
        }
        self.repos.reclaims().save(&mut rec).await.unwrap();
    }

    /// The waiting removal is due now (the backoff has passed).
    async fn check_due(&self, req: &ReclaimRequest) {
        let mut rec = self.record(req).await;
        assert!(rec.next_check_at.is_some(), "a re-check is scheduled");
        rec.next_check_at = Some(Utc::now() - Duration::seconds(1));
        self.repos.reclaims().save(&mut rec).await.unwrap();
    }
}

#[tokio::test]
async fn a_stale_verification_is_verified_again_without_counting_the_cap_twice() {
    for box_like in [true, false] {
        let w = world(box_like).await;
        let req = request(IDLE);
        w.stored_at(&req, Verified).await;
        w.verified_ago(&req, 10).await;
        assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
        let rec = w.record(&req).await;
        assert!(rec
            .steps
            .iter()
            .any(|s| s.status == Verified && s.detail.contains("verified again")));
        // the earlier verification counted the cap (not here, by construction): nothing more
        let day = Utc::now().format("%Y-%m-%d").to_string();
        assert!(
            w.repos
                .reclaims()
                .count_reclaim("acme", &day, 1)
                .await
                .unwrap(),
            "the re-verification did not count the cap"
        );
        assert!(!w.user_present(IDLE));
        w.assert_no_content_lost();
    }
}

#[tokio::test]
async fn a_recent_verification_is_not_verified_again() {
    let w = world(true).await;
    let req = request(IDLE);
    w.stored_at(&req, Verified).await;
    w.verified_ago(&req, 2).await;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    let rec = w.record(&req).await;
    assert!(!rec
        .steps
        .iter()
        .any(|s| s.detail.contains("verified again")));
}

#[tokio::test]
async fn a_user_active_since_a_stale_verification_is_skipped_before_any_write() {
    for box_like in [true, false] {
        let w = world(box_like).await;
        let req = request(IDLE);
        w.stored_at(&req, Verified).await;
        w.verified_ago(&req, 30).await;
        w.provider
            .add_event(IDLE, login(Utc::now() - Duration::minutes(10), "ev-back"));
        assert_eq!(w.deliver(&req).await, Outcome::Finished(Skipped));
        let rec = w.record(&req).await;
        assert_eq!(rec.reason_code.as_deref(), Some("active_since_request"));
        assert_eq!(w.provider.count(Op::Transfer), 0);
        assert_eq!(w.provider.count(Op::Remove), 0);
        assert!(w.user_present(IDLE));
        w.assert_no_content_lost();
    }
}

#[tokio::test]
async fn a_transfer_continuing_in_the_background_is_checked_again_then_finishes() {
    let w = world(true).await;
    // the content moves at the third removal attempt
    w.provider.tenant().background_removes = 3;
    let req = request(IDLE);
    let first = w.deliver(&req).await;
    assert!(first.is_retry(), "{first:?}");
    let rec = w.record(&req).await;
    assert_eq!(rec.status, Removing);
    assert_eq!(rec.content_checks, 1);
    assert!(rec.next_check_at.is_some_and(|t| t > Utc::now()));
    assert!(rec
        .steps
        .iter()
        .any(|s| s.detail.contains("continues in the background")));
    // redelivered before the re-check is due: nothing is called
    let calls = w.provider.tenant().calls.len();
    match w.deliver(&req).await {
        Outcome::Retry(why) => assert!(why.contains("checked again in"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.provider.tenant().calls.len(), calls);
    w.check_due(&req).await;
    assert!(w.deliver(&req).await.is_retry(), "still moving");
    assert_eq!(w.record(&req).await.content_checks, 2);
    w.check_due(&req).await;
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
    assert_eq!(w.provider.count(Op::Transfer), 1, "never transferred twice");
    assert_eq!(w.provider.count(Op::Remove), 3);
    assert!(!w.user_present(IDLE));
    w.assert_no_content_lost();
}

#[tokio::test]
async fn a_transfer_that_never_completes_fails_after_the_checks_with_the_folder_named() {
    let w = world(true).await;
    w.provider.tenant().background_removes = 1000;
    let req = request(IDLE);
    let mut outcome = w.deliver(&req).await;
    let mut deliveries = 1;
    while outcome.is_retry() {
        assert!(
            deliveries <= super::steps::CONTENT_RECHECKS.len(),
            "{outcome:?}"
        );
        w.check_due(&req).await;
        outcome = w.deliver(&req).await;
        deliveries += 1;
    }
    assert_eq!(outcome, Outcome::Finished(Failed));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("delete_refused"));
    let folder = rec.transfer_folder_id.clone().unwrap();
    assert!(rec.reason.as_deref().unwrap().contains(&folder));
    assert!(rec.reason.as_deref().unwrap().contains("re-checks"));
    assert_eq!(w.provider.count(Op::Transfer), 1);
    assert_eq!(
        w.provider.count(Op::Remove),
        1 + super::steps::CONTENT_RECHECKS.len()
    );
    assert!(w.user_present(IDLE), "the user keeps the seat");
    w.assert_no_content_lost();
}

/// A notice in `state` for the user's current candidacy, as notify mode stores it.
async fn notice_in(w: &World, user: &str, state: crate::domain::NoticeState) {
    use crate::domain::{Candidate, Notice};
    use crate::ports::NoticeRepo;
    let s = w.seat(user).await;
    let c = Candidate {
        profile_id: "acme".into(),
        user_id: user.into(),
        login: s.login.clone(),
        name: s.name.clone(),
        license_type: s.license_type.clone(),
        unit_price_cents: None,
        currency: None,
        evidence: crate::domain::rules::Evidence {
            rule: "no activity for 60 days".into(),
            threshold_days: 60,
            inactive_days: 200,
            last_login: s.last_login.clone(),
            inactive_since: Utc::now() - Duration::days(200),
            license_type: s.license_type.clone(),
            evaluated_at: Utc::now(),
            last_activity: None,
            activity: Default::default(),
            observed_since: None,
        },
        run_id: "run-1".into(),
        listed_at: Utc::now() - Duration::days(8),
        approved_by: None,
        approved_at: None,
        request_id: None,
        requested_at: None,
        finding: String::new(),
        waiting: None,
    };
    let mut n = Notice::new(&c, Some(s.login.clone()), Utc::now() - Duration::days(8));
    n.state = state;
    n.last_error = Some("the notice bounced: Permanent bounce (General): smtp; 550".into());
    assert!(w.repos.notices().create_notice(&n).await.unwrap());
}

#[tokio::test]
async fn notify_mode_never_reclaims_a_user_whose_notice_failed() {
    use crate::domain::{NoticeState, ReclaimMode};
    let w = world(true).await;
    w.set_rules(|p| p.rules.mode = ReclaimMode::Notify).await;
    // the bounce arrived after the request was enqueued: the notice is notice_failed now
    notice_in(&w, IDLE, NoticeState::NoticeFailed).await;
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Skipped));
    let rec = w.record(&req).await;
    assert_eq!(rec.reason_code.as_deref(), Some("notice_failed"));
    assert!(
        rec.reason.unwrap().contains("550"),
        "the reason names the bounce"
    );
    assert!(w.provider.tenant().users.contains_key(IDLE), "untouched");
    // a notice that went out (requested) does not stop it
    notice_in(&w, IDLE2, NoticeState::Requested).await;
    let req2 = request(IDLE2);
    assert_eq!(w.deliver(&req2).await, Outcome::Finished(Done));
}

#[tokio::test]
async fn outside_notify_mode_a_failed_notice_is_no_reason_to_skip() {
    use crate::domain::NoticeState;
    let w = world(true).await;
    notice_in(&w, IDLE, NoticeState::NoticeFailed).await;
    let req = request(IDLE);
    assert_eq!(w.deliver(&req).await, Outcome::Finished(Done));
}
