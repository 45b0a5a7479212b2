//! Reclamation end to end: candidates after a finished sync, requests on a real SQS queue (moto)
//! handed to the reclaim handler as SQS events the way Lambda's event source mapping does, and
//! the provider sandbox as Box and Dropbox. Every claim is checked at the sandbox (who exists, who
//! owns what, how many transfers and removals happened) or in DynamoDB.
use aws_lambda_events::event::sqs::SqsBatchResponse;
use chrono::{Duration, Utc};
use provider_sandbox::{
    DropboxRole, FaultKind, FaultRule, NewBoxUser, NewDropboxMember, RemoveMode, Route,
};
use seatkeeper::domain::{
    Candidate, Profile, ReclaimMode, ReclaimRecord, ReclaimRequest, ReclaimStatus, TaskKind,
};
use seatkeeper::handlers::sync::handle;
use seatkeeper::ports::{ProfileRepo, ReclaimRepo, RunRepo, SeatRepo, StoreError};
use seatkeeper::providers::dropbox_api::Slot;
use seatkeeper::sync::{NoProgress, ProfileOutcome};
use seatkeeper::wiring::ProductionReclaimer;
use seatkeeper_e2e::{seat, LogCapture, TestEnv};
use serde_json::json;

async fn edit_profile(env: &TestEnv, id: &str, f: impl Fn(&mut Profile)) {
    env.store
        .profiles
        .update(id, |p| -> Result<(), StoreError> {
            f(p);
            Ok(())
        })
        .await
        .unwrap()
        .unwrap();
}

async fn record(env: &TestEnv, profile: &str, request_id: &str) -> ReclaimRecord {
    env.store
        .reclaims
        .get(profile, request_id)
        .await
        .unwrap()
        .expect("request recorded")
}

fn request(profile: &str, user: &str) -> ReclaimRequest {
    ReclaimRequest::new(profile, user, false, "test:alice", Some("e2e".into()))
}

/// Approves and queues a request for `user`, then delivers the queue once:
/// (the request, the SQS batch response, its record).
async fn reclaim_once(
    env: &TestEnv,
    reclaimer: &ProductionReclaimer,
    profile: &str,
    user: &str,
) -> (ReclaimRequest, SqsBatchResponse, ReclaimRecord) {
    let req = request(profile, user);
    env.enqueue(&req).await;
    let (_, response) = env.deliver(reclaimer).await;
    let r = record(env, profile, &req.request_id).await;
    (req, response, r)
}

/// The candidate item for `user`, if there is one.
async fn candidate(env: &TestEnv, profile: &str, user: &str) -> Option<Candidate> {
    env.store.seats.get_candidate(profile, user).await.unwrap()
}

/// The candidates a request was queued for.
async fn requested(env: &TestEnv, profile: &str) -> Vec<Candidate> {
    env.store
        .seats
        .list_candidates(profile)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.request_id.is_some())
        .collect()
}

/// How many requests a sync run's Reclamation task enqueued.
fn requests_enqueued(report: &ProfileOutcome) -> u64 {
    report
        .task(TaskKind::Reclamation)
        .unwrap()
        .counts
        .requests_enqueued
}

/// A Box profile whose tenant has a stale user (created 400 days ago, last login 100 days ago,
/// owning 3 files) and a recently active one; the rules name the tenant's admin as transfer
/// target; synced. Returns (profile, admin id, stale id, active id).
async fn box_setup(env: &TestEnv) -> (Profile, String, String, String) {
    let tenant = env.sandbox.box_tenant();
    let admin = tenant.users()[0].clone();
    assert_eq!(admin.role, "admin");
    let mut stale = NewBoxUser::member("Stale Sam", "stale@example.com");
    stale.created_at = Utc::now() - Duration::days(400);
    let stale = tenant.add_user(stale);
    tenant.add_event(&stale.id, "LOGIN", Utc::now() - Duration::days(100));
    tenant.set_owned_files(&stale.id, 3);
    let mut active = NewBoxUser::member("Active Ann", "active@example.com");
    active.created_at = Utc::now() - Duration::days(400);
    let active = tenant.add_user(active);
    tenant.add_event(&active.id, "LOGIN", Utc::now() - Duration::days(2));

    let profile = env.add_box_profile().await;
    let admin_id = admin.id.clone();
    edit_profile(env, &profile.id, |p| {
        p.backfill_days = Some(365);
        p.rules.transfer_target = Some(admin_id.clone());
    })
    .await;
    let report = handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    assert!(report.profiles[0].succeeded);
    let profile = env.store.profiles.get(&profile.id).await.unwrap().unwrap();
    (profile, admin.id, stale.id, active.id)
}

#[tokio::test]
async fn box_candidates_have_evidence_and_a_reclaim_moves_every_file_to_the_admin() {
    let env = TestEnv::start(12, 41).await;
    let (profile, admin, stale, active) = box_setup(&env).await;
    let tenant = env.sandbox.box_tenant();

    // candidates: the stale user with the proof of the last login; the active one is not
    let candidates = env.store.seats.list_candidates(&profile.id).await.unwrap();
    let c = candidates
        .iter()
        .find(|c| c.user_id == stale)
        .expect("stale user is a candidate");
    assert!(!candidates
        .iter()
        .any(|c| c.user_id == active || c.user_id == admin));
    let last = c.evidence.last_login.as_ref().expect("login evidence");
    assert_eq!(last.event_type, "LOGIN");
    assert!(tenant.events().iter().any(|e| e.event_id == last.event_id));
    assert_eq!(c.evidence.threshold_days, 60);
    assert!((99..=101).contains(&c.evidence.inactive_days));
    assert_eq!(c.license_type, "business_plus");
    let reclamation = env
        .store
        .runs
        .task_runs(&profile.id, 20)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.task == TaskKind::Reclamation)
        .expect("Reclamation task in the sync run");
    assert_eq!(reclamation.counts.candidates, candidates.len() as u64);

    let files: Vec<String> = tenant.owned_items(&stale);
    assert_eq!(files.len(), 3);
    let req = request(&profile.id, &stale);
    env.enqueue(&req).await;
    let (event, response) = env.deliver(&env.reclaimer()).await;
    assert_eq!(event.records.len(), 1);
    assert!(response.batch_item_failures.is_empty());

    // at the provider: the user is gone, every file belongs to the admin
    assert!(!tenant.has_user(&stale));
    assert!(tenant.owned_items(&stale).is_empty());
    let transfers = tenant.transfers();
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0].from_user_id, stale);
    assert_eq!(transfers[0].to_user_id, admin);
    assert_eq!(transfers[0].items_moved, 3);
    assert!(tenant.owned_items(&admin).contains(&transfers[0].folder_id));
    assert_eq!(tenant.deleted_users(), vec![stale.clone()]);

    // the audit trail: every step, the evidence, the folder, who asked
    let r = record(&env, &profile.id, &req.request_id).await;
    assert_eq!(r.status, ReclaimStatus::Done, "{r:#?}");
    let steps: Vec<ReclaimStatus> = r.steps.iter().map(|s| s.status).collect();
    assert_eq!(
        steps,
        vec![
            ReclaimStatus::Received,
            ReclaimStatus::Verified,
            ReclaimStatus::Transferring,
            ReclaimStatus::Transferred,
            ReclaimStatus::Removing,
            ReclaimStatus::Removed,
            ReclaimStatus::Done
        ]
    );
    assert_eq!(
        r.transfer_folder_id.as_deref(),
        Some(transfers[0].folder_id.as_str())
    );
    assert_eq!(r.transfer_target.as_deref(), Some(admin.as_str()));
    // Box's request id of each call that changed something is in the audit trail
    for step in [ReclaimStatus::Transferred, ReclaimStatus::Removed] {
        let s = r.steps.iter().find(|s| s.status == step).unwrap();
        assert!(
            s.provider_request_id
                .as_ref()
                .is_some_and(|id| !id.is_empty()),
            "{s:?}"
        );
    }
    assert_eq!(r.request.requested_by, "test:alice");
    assert_eq!(
        r.evidence
            .as_ref()
            .unwrap()
            .last_login
            .as_ref()
            .unwrap()
            .event_id,
        last.event_id
    );
    assert!(r.lease_owner.is_none());
    // the seat says it was reclaimed, and it is no longer a candidate
    let s = seat(&env.seat_items(&profile.id).await[&stale]);
    assert!(s.reclaimed_at.is_some() && s.removed_at.is_some());
    assert_eq!(
        s.reclaim_request_id.as_deref(),
        Some(req.request_id.as_str())
    );
    assert!(candidate(&env, &profile.id, &stale).await.is_none());
    // a Reclamation task run for the batch
    let batch = env
        .store
        .runs
        .task_runs(&profile.id, 20)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.task == TaskKind::Reclamation && t.counts.requests_received > 0)
        .expect("batch task run");
    assert_eq!(batch.counts.reclaimed, 1);
    // the next sync sees the user gone and keeps the reclaimed mark
    handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    let s = seat(&env.seat_items(&profile.id).await[&stale]);
    assert!(s.reclaimed_at.is_some());
}

#[tokio::test]
async fn box_the_same_message_three_times_removes_once() {
    let env = TestEnv::start(8, 42).await;
    let (profile, _admin, stale, _) = box_setup(&env).await;
    let req = request(&profile.id, &stale);
    for _ in 0..3 {
        env.enqueue(&req).await;
    }
    let reclaimer = env.reclaimer();
    let responses = env.drain(&reclaimer, 5).await;
    assert!(responses.iter().all(|r| r.batch_item_failures.is_empty()));
    // and once more, later
    env.enqueue(&req).await;
    env.drain(&reclaimer, 2).await;

    let tenant = env.sandbox.box_tenant();
    assert_eq!(tenant.transfers().len(), 1);
    assert_eq!(tenant.deleted_users(), vec![stale.clone()]);
    let deletes = env
        .sandbox
        .stats()
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .count();
    assert_eq!(deletes, 1, "one DELETE reached Box");
    let r = record(&env, &profile.id, &req.request_id).await;
    assert_eq!(r.status, ReclaimStatus::Done);
    assert_eq!(r.deliveries, 1, "later deliveries did nothing");
}

#[tokio::test]
async fn box_a_crash_between_transfer_and_delete_resumes_without_a_second_transfer() {
    let env = TestEnv::start(8, 43).await;
    let (profile, admin, stale, _) = box_setup(&env).await;
    let tenant = env.sandbox.box_tenant();
    // Box keeps failing the delete: the delivery gives up after its retries
    env.sandbox.faults().push(
        FaultRule::new(Route::BoxDeleteUser, FaultKind::ServerError { status: 503 }).times(10),
    );
    let reclaimer = env.reclaimer();
    let (req, response, r) = reclaim_once(&env, &reclaimer, &profile.id, &stale).await;
    assert_eq!(response.batch_item_failures.len(), 1, "handed back to SQS");
    assert_eq!(r.status, ReclaimStatus::Removing);
    assert!(r.reached(ReclaimStatus::Transferred));
    assert_eq!(tenant.transfers().len(), 1);
    assert!(tenant.has_user(&stale));

    env.sandbox.faults().clear();
    env.drain(&reclaimer, 5).await;
    assert_eq!(tenant.transfers().len(), 1, "no second transfer");
    assert!(!tenant.has_user(&stale));
    assert!(tenant
        .owned_items(&admin)
        .contains(&tenant.transfers()[0].folder_id));
    assert_eq!(
        record(&env, &profile.id, &req.request_id).await.status,
        ReclaimStatus::Done
    );
}

#[tokio::test]
async fn box_a_transfer_whose_answer_was_lost_is_not_repeated() {
    let env = TestEnv::start(8, 44).await;
    let (profile, _admin, stale, _) = box_setup(&env).await;
    let tenant = env.sandbox.box_tenant();
    // Box performs the transfer, but the answer is cut off: the outcome is unknown
    env.sandbox
        .faults()
        .push(FaultRule::new(Route::BoxTransfer, FaultKind::TruncatedBody).times(1));
    let reclaimer = env.reclaimer();
    let (req, response, r) = reclaim_once(&env, &reclaimer, &profile.id, &stale).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(r.status, ReclaimStatus::Transferring);
    assert_eq!(
        tenant.transfers().len(),
        1,
        "the transfer did happen at Box"
    );

    env.drain(&reclaimer, 5).await;
    assert_eq!(
        tenant.transfers().len(),
        1,
        "the redelivery probed, it did not transfer again"
    );
    assert!(!tenant.has_user(&stale));
    let r = record(&env, &profile.id, &req.request_id).await;
    assert_eq!(r.status, ReclaimStatus::Done);
    assert!(r
        .steps
        .iter()
        .any(|s| s.detail.contains("earlier transfer had completed")));
}

#[tokio::test]
async fn box_refusals_login_since_request_pause_and_dry_run_leave_the_provider_untouched() {
    let logs = LogCapture::default();
    let _g = logs.install();
    let env = TestEnv::start(12, 45).await;
    let (profile, admin, stale, _) = box_setup(&env).await;
    let tenant = env.sandbox.box_tenant();
    // a co-admin who never logs in, and an exempt login
    let mut co = NewBoxUser::member("Co Admin", "co@example.com");
    co.role = "coadmin".into();
    co.created_at = Utc::now() - Duration::days(400);
    let co = tenant.add_user(co);
    let mut vip = NewBoxUser::member("Vip", "vip@example.com");
    vip.created_at = Utc::now() - Duration::days(400);
    let vip = tenant.add_user(vip);
    edit_profile(&env, &profile.id, |p| {
        p.rules.exempt_logins = vec!["VIP@example.com".into()]
    })
    .await;
    handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .unwrap();
    let reclaimer = env.reclaimer();

    let cases = [
        (admin.clone(), "refused_transfer_target"),
        (co.id.clone(), "refused_admin"),
        (vip.id.clone(), "refused_exempt_login"),
        ("999999999".to_string(), "unknown_seat"),
    ];
    for (user, code) in &cases {
        let (_, response, r) = reclaim_once(&env, &reclaimer, &profile.id, user).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(r.status, ReclaimStatus::Skipped, "{user}");
        assert_eq!(r.reason_code.as_deref(), Some(*code), "{r:#?}");
    }

    // dry run: the plan is recorded, nothing changes
    let mut dry = request(&profile.id, &stale);
    dry.dry_run = true;
    env.enqueue(&dry).await;
    env.deliver(&reclaimer).await;
    let r = record(&env, &profile.id, &dry.request_id).await;
    assert_eq!(r.status, ReclaimStatus::Done);
    assert_eq!(r.reason_code.as_deref(), Some("dry_run"));
    assert!(
        r.plan.as_deref().unwrap().contains("folders/0"),
        "{:?}",
        r.plan
    );

    // paused: nothing executed
    edit_profile(&env, &profile.id, |p| p.rules.paused = true).await;
    let (_, _, r) = reclaim_once(&env, &reclaimer, &profile.id, &stale).await;
    assert_eq!(r.reason_code.as_deref(), Some("profile_paused"));
    edit_profile(&env, &profile.id, |p| p.rules.paused = false).await;

    // the user logs in after the candidate list was made: skipped with that reason
    tenant.add_event(&stale, "LOGIN", Utc::now() - Duration::minutes(5));
    let (_, _, r) = reclaim_once(&env, &reclaimer, &profile.id, &stale).await;
    assert_eq!(r.status, ReclaimStatus::Skipped);
    assert_eq!(r.reason_code.as_deref(), Some("active_since_request"));
    assert!(r.reason.as_deref().unwrap().contains("was active"));

    // none of it touched Box
    assert!(tenant.transfers().is_empty());
    assert!(tenant.deleted_users().is_empty());
    assert_eq!(tenant.owned_items(&stale).len(), 3);
    for (user, _) in &cases[..3] {
        assert!(tenant.has_user(user));
    }
    let writes = env
        .sandbox
        .stats()
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" || r.method == "DELETE")
        .count();
    assert_eq!(writes, 0);
    // and no secret reached the logs or the table
    let secret = tenant.client_secret();
    assert!(!logs.text().contains(&secret));
    let table = env.scan_all().await;
    assert!(!table.contains(&secret));
    for t in tenant.issued_tokens() {
        assert!(!logs.text().contains(&t) && !table.contains(&t));
    }
}

#[tokio::test]
async fn a_poison_message_does_not_block_its_batch_and_is_recorded() {
    let env = TestEnv::start(8, 46).await;
    let (profile, _admin, stale, _) = box_setup(&env).await;
    env.enqueue_raw("{ this is not json").await;
    env.enqueue_raw(r#"{"version":1,"request_id":"x1","profile_id":"no-such-profile","user_id":"1","action":"reclaim","requested_by":"t"}"#).await;
    env.enqueue_raw(r#"{"version":2,"request_id":"x2"}"#).await;
    let good = request(&profile.id, &stale);
    env.enqueue(&good).await;
    let reclaimer = env.reclaimer();
    let responses = env.drain(&reclaimer, 4).await;
    assert!(responses.iter().all(|r| r.batch_item_failures.is_empty()));
    assert_eq!(
        record(&env, &profile.id, &good.request_id).await.status,
        ReclaimStatus::Done
    );
    let invalid = env.store.reclaims.list_invalid().await.unwrap();
    assert_eq!(invalid.len(), 3, "{invalid:#?}");
    let errors: Vec<&str> = invalid.iter().map(|m| m.error.as_str()).collect();
    assert!(errors
        .iter()
        .any(|e| e.contains("not a valid reclaim request")));
    assert!(errors
        .iter()
        .any(|e| e.contains("no-such-profile does not exist")));
    assert!(errors.iter().any(|e| e.contains("version 2")));
    assert!(invalid
        .iter()
        .any(|m| m.body_excerpt == "{ this is not json"));
}

#[tokio::test]
async fn a_transient_failure_is_retried_by_sqs_and_only_that_message_fails() {
    let env = TestEnv::start(8, 47).await;
    let (profile, _admin, stale, _) = box_setup(&env).await;
    let tenant = env.sandbox.box_tenant();
    let mut other = NewBoxUser::member("Other Stale", "other@example.com");
    other.created_at = Utc::now() - Duration::days(400);
    let other = tenant.add_user(other);
    // two reclaims today: above the default cap for so small a tenant (5 % → 1 a day)
    edit_profile(&env, &profile.id, |p| p.rules.max_percent = 100).await;
    handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .unwrap();
    // the first user read fails for longer than the retry budget (4 attempts)
    env.sandbox.faults().push(
        FaultRule::new(
            Route::BoxUsers,
            FaultKind::RateLimited {
                retry_after_secs: 0,
            },
        )
        .times(4),
    );
    let first = request(&profile.id, &stale);
    let second = request(&profile.id, &other.id);
    env.enqueue(&first).await;
    env.enqueue(&second).await;
    let reclaimer = env.reclaimer();
    let (event, response) = env.deliver(&reclaimer).await;
    assert_eq!(event.records.len(), 2);
    assert_eq!(response.batch_item_failures.len(), 1);
    let failed = &response.batch_item_failures[0].item_identifier;
    let failed_body = event
        .records
        .iter()
        .find(|r| r.message_id.as_ref() == Some(failed))
        .unwrap()
        .body
        .clone()
        .unwrap();
    let failed_req = ReclaimRequest::parse(&failed_body).unwrap();
    assert_eq!(
        record(&env, &profile.id, &failed_req.request_id)
            .await
            .status,
        ReclaimStatus::Received
    );
    env.drain(&reclaimer, 5).await;
    for r in [&first, &second] {
        assert_eq!(
            record(&env, &profile.id, &r.request_id).await.status,
            ReclaimStatus::Done
        );
    }
    assert_eq!(tenant.deleted_users().len(), 2);

    // the daily blast-radius cap holds in the function too, whoever posts the requests
    edit_profile(&env, &profile.id, |p| p.rules.max_per_run = 2).await;
    let mut third = NewBoxUser::member("Third Stale", "third@example.com");
    third.created_at = Utc::now() - Duration::days(400);
    let third = tenant.add_user(third);
    handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .unwrap();
    let req = request(&profile.id, &third.id);
    env.enqueue(&req).await;
    env.drain(&reclaimer, 3).await;
    let r = record(&env, &profile.id, &req.request_id).await;
    assert_eq!(r.reason_code.as_deref(), Some("blast_radius_cap"), "{r:#?}");
    assert!(tenant.has_user(&third.id));
}

#[tokio::test]
async fn auto_mode_enqueues_within_the_cap_and_a_failed_sync_produces_no_candidates() {
    let env = TestEnv::start(8, 48).await;
    let tenant = env.sandbox.box_tenant();
    let mut ids = Vec::new();
    for i in 0..4 {
        let mut u = NewBoxUser::member(format!("Stale {i}"), format!("stale{i}@example.com"));
        u.created_at = Utc::now() - Duration::days(300);
        ids.push(tenant.add_user(u).id);
    }
    let profile = env.add_box_profile().await;
    let admin = tenant.users()[0].id.clone();
    // a failed first sync: no candidates from partial data
    env.sandbox
        .faults()
        .push(FaultRule::new(Route::BoxUsers, FaultKind::ServerError { status: 500 }).forever());
    let r = handle(&env.box_sync(), json!({ "profile": profile.id })).await;
    assert!(r.is_err());
    assert!(env
        .store
        .seats
        .list_candidates(&profile.id)
        .await
        .unwrap()
        .is_empty());
    let runs = env.store.runs.task_runs(&profile.id, 20).await.unwrap();
    let rec = runs
        .iter()
        .find(|t| t.task == TaskKind::Reclamation)
        .unwrap();
    assert_eq!(rec.status, seatkeeper::domain::TaskStatus::Skipped);
    env.sandbox.faults().clear();

    edit_profile(&env, &profile.id, |p| {
        p.rules.mode = ReclaimMode::Auto;
        p.rules.max_per_run = 2;
        p.rules.max_percent = 50;
        p.rules.transfer_target = Some(admin.clone());
    })
    .await;
    let sync = env.box_sync();
    let report = sync.sync_profile(&profile.id, &NoProgress).await.unwrap();
    assert!(report.succeeded, "{:?}", report.error);
    let task = report.task(TaskKind::Reclamation).unwrap();
    assert!(task.counts.candidates >= 4);
    assert_eq!(task.counts.requests_enqueued, 2, "{:?}", task.detail);
    assert!(task.detail.as_deref().unwrap().contains("held by the cap"));
    let requested = requested(&env, &profile.id).await;
    assert_eq!(requested.len(), 2);
    env.drain(&env.reclaimer(), 3).await;
    assert_eq!(tenant.deleted_users().len(), 2);
    for c in &requested {
        let r = record(&env, &profile.id, c.request_id.as_ref().unwrap()).await;
        assert_eq!(r.status, ReclaimStatus::Done);
        assert_eq!(r.request.requested_by, "seatkeeper auto mode");
    }
}

// ------------------------------------------------------------------ Dropbox

/// A connected, synced Dropbox profile with a stale member (joined 300 days ago, last login 100
/// days ago, owning 4 files). Returns (profile, reclaim admin, stale member).
async fn dropbox_setup(env: &TestEnv) -> (Profile, String, String) {
    let team = env.sandbox.dropbox_team();
    let mut m = NewDropboxMember::member("stale@dbx.example.com", "Stale", "Member");
    m.joined_on = Utc::now() - Duration::days(300);
    let stale = team.add_member(m);
    team.add_login(&stale.team_member_id, Utc::now() - Duration::days(100));
    team.set_owned_files(&stale.team_member_id, 4);
    let profile = env.add_dropbox_profile().await;
    edit_profile(env, &profile.id, |p| p.backfill_days = Some(365)).await;
    assert_eq!(
        env.connect_dropbox(&profile.id, Slot::Sync).await.status,
        200
    );
    assert_eq!(
        env.connect_dropbox(&profile.id, Slot::Reclaim).await.status,
        200
    );
    let report = handle(&env.dropbox_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    assert!(report.profiles[0].succeeded);
    let admin = team.authorizing_admin();
    let profile = env.store.profiles.get(&profile.id).await.unwrap().unwrap();
    (profile, admin, stale.team_member_id)
}

#[tokio::test]
async fn dropbox_reclaim_removes_the_member_and_transfers_files_to_the_reclaim_admin() {
    let env = TestEnv::start_with(3, 10, 51).await;
    let (profile, admin, stale) = dropbox_setup(&env).await;
    let team = env.sandbox.dropbox_team();
    let c = candidate(&env, &profile.id, &stale)
        .await
        .expect("candidate");
    assert!(c.evidence.last_login.is_some());
    let admin_files = team.files_owned_by(&admin);
    team.set_remove_mode(RemoveMode::Async {
        in_progress_polls: 1,
    });
    let req = request(&profile.id, &stale);
    env.enqueue(&req).await;
    // the same message three times
    env.enqueue(&req).await;
    env.enqueue(&req).await;
    let responses = env.drain(&env.reclaimer(), 5).await;
    assert!(responses.iter().all(|r| r.batch_item_failures.is_empty()));

    let removals = team.removals();
    assert_eq!(removals.len(), 1, "exactly one removal");
    let rm = &removals[0];
    assert_eq!(rm.team_member_id, stale);
    assert_eq!(rm.transfer_dest_id.as_deref(), Some(admin.as_str()));
    assert_eq!(rm.transfer_admin_id.as_deref(), Some(admin.as_str()));
    assert!(!rm.keep_account);
    assert_eq!(team.files_owned_by(&stale), 0);
    assert_eq!(team.files_owned_by(&admin), admin_files + 4);
    assert!(team.member(&stale).unwrap().status.is_removed());
    let r = record(&env, &profile.id, &req.request_id).await;
    assert_eq!(r.status, ReclaimStatus::Done, "{r:#?}");
    assert_eq!(r.async_job_id, rm.async_job_id);
    assert!(seat(&env.seat_items(&profile.id).await[&stale])
        .reclaimed_at
        .is_some());
}

#[tokio::test]
async fn dropbox_a_redelivery_polls_the_recorded_job_instead_of_removing_again() {
    let env = TestEnv::start_with(3, 10, 52).await;
    let (profile, admin, stale) = dropbox_setup(&env).await;
    let team = env.sandbox.dropbox_team();
    // the job outlives one delivery's polls (3)
    team.set_remove_mode(RemoveMode::Async {
        in_progress_polls: 4,
    });
    let reclaimer = env.reclaimer();
    let (req, response, r) = reclaim_once(&env, &reclaimer, &profile.id, &stale).await;
    assert_eq!(response.batch_item_failures.len(), 1, "job still running");
    assert_eq!(r.status, ReclaimStatus::Removing);
    let job = r.async_job_id.clone().expect("job id recorded");
    env.drain(&reclaimer, 5).await;
    assert_eq!(team.removals().len(), 1);
    assert_eq!(
        team.removals()[0].async_job_id.as_deref(),
        Some(job.as_str())
    );
    assert_eq!(team.files_owned_by(&stale), 0);
    assert!(team.files_owned_by(&admin) >= 4);
    assert_eq!(
        record(&env, &profile.id, &req.request_id).await.status,
        ReclaimStatus::Done
    );
}

#[tokio::test]
async fn dropbox_refusals_and_permanent_errors_are_recorded_not_retried() {
    let env = TestEnv::start_with(3, 10, 53).await;
    let (profile, admin, stale) = dropbox_setup(&env).await;
    let team = env.sandbox.dropbox_team();
    let reclaimer = env.reclaimer();

    // the reclaim admin (transfer target) is refused
    let (_, _, r) = reclaim_once(&env, &reclaimer, &profile.id, &admin).await;
    assert_eq!(r.reason_code.as_deref(), Some("refused_transfer_target"));

    // a login since the candidate list: skipped
    team.add_login(&stale, Utc::now() - Duration::minutes(3));
    let (_, _, r) = reclaim_once(&env, &reclaimer, &profile.id, &stale).await;
    assert_eq!(
        r.reason_code.as_deref(),
        Some("active_since_request"),
        "{r:#?}"
    );
    assert!(team.removals().is_empty());

    // a member nobody saw log in, whose removal Dropbox refuses for good
    let mut m = NewDropboxMember::member("quiet@dbx.example.com", "Quiet", "One");
    m.joined_on = Utc::now() - Duration::days(300);
    let quiet = team.add_member(m).team_member_id;
    handle(&env.dropbox_sync(), json!({ "profile": profile.id }))
        .await
        .unwrap();
    team.set_role(&admin, None); // the reclaim admin lost its admin role meanwhile
    let (_, response, r) = reclaim_once(&env, &reclaimer, &profile.id, &quiet).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "not retried forever"
    );
    assert_eq!(r.status, ReclaimStatus::Failed);
    // checked with the reclaim slot before members/remove: nothing was even attempted
    assert_eq!(
        r.reason_code.as_deref(),
        Some("transfer_admin_not_team_admin"),
        "{r:#?}"
    );
    assert!(
        r.reason.as_deref().unwrap().contains(&format!(
            "seatctl connect dropbox --profile {} --slot reclaim",
            profile.id
        )),
        "{:?}",
        r.reason
    );
    assert!(team.removals().is_empty());
    assert!(!team.member(&quiet).unwrap().status.is_removed());
}

#[tokio::test]
async fn dropbox_a_demoted_admin_stops_the_removal_with_nothing_moved() {
    let env = TestEnv::start_with(3, 10, 54).await;
    let (profile, admin, stale) = dropbox_setup(&env).await;
    let team = env.sandbox.dropbox_team();
    let (admin_files, stale_files) = (team.files_owned_by(&admin), team.files_owned_by(&stale));
    // still an admin, but no longer a Team admin
    assert!(team.set_role(&admin, Some(DropboxRole::SupportAdmin)));
    let (_, response, r) = reclaim_once(&env, &env.reclaimer(), &profile.id, &stale).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "failed safe, not retried"
    );
    assert_eq!(r.status, ReclaimStatus::Failed);
    assert_eq!(
        r.reason_code.as_deref(),
        Some("transfer_admin_not_team_admin"),
        "{r:#?}"
    );
    assert!(r.reason.as_deref().unwrap().contains("Team admin role"));
    assert!(team.removals().is_empty());
    assert!(!team.member(&stale).unwrap().status.is_removed());
    assert_eq!(team.files_owned_by(&stale), stale_files);
    assert_eq!(team.files_owned_by(&admin), admin_files);
}

#[tokio::test]
async fn candidates_follow_the_data_and_an_unchanged_sync_rewrites_none() {
    let env = TestEnv::start(10, 49).await;
    let (profile, _admin, stale, _) = box_setup(&env).await;
    let tenant = env.sandbox.box_tenant();
    let before = env.partition(&format!("CANDIDATES#{}", profile.id)).await;
    assert!(before
        .iter()
        .any(|c| c["user_id"].as_s().unwrap() == &stale));

    // an unchanged re-sync rewrites no candidate
    let report = env
        .box_sync()
        .sync_profile(&profile.id, &NoProgress)
        .await
        .unwrap();
    let task = report.task(TaskKind::Reclamation).unwrap();
    assert_eq!(task.counts.items_written, 0, "{:?}", task.detail);
    assert_eq!(
        env.partition(&format!("CANDIDATES#{}", profile.id)).await,
        before
    );

    // the stale user logs in: the next finished sync drops the candidate
    tenant.add_event(&stale, "LOGIN", Utc::now() - Duration::seconds(30));
    let report = env
        .box_sync()
        .sync_profile(&profile.id, &NoProgress)
        .await
        .unwrap();
    let task = report.task(TaskKind::Reclamation).unwrap();
    assert_eq!(task.counts.items_written, 1, "{:?}", task.detail);
    assert!(candidate(&env, &profile.id, &stale).await.is_none());
    assert_eq!(
        task.counts.candidates,
        env.store
            .seats
            .list_candidates(&profile.id)
            .await
            .unwrap()
            .len() as u64
    );
}

#[tokio::test]
async fn a_request_another_delivery_holds_waits_and_is_then_executed_once() {
    let env = TestEnv::start(8, 50).await;
    let (profile, _admin, stale, _) = box_setup(&env).await;
    let tenant = env.sandbox.box_tenant();
    let req = request(&profile.id, &stale);
    // another delivery claimed the request and is working on it (its lease is live)
    let mut held = ReclaimRecord::new(req.clone(), profile.provider, Utc::now());
    held.lease_owner = Some("another-invocation".into());
    held.lease_until = Some(Utc::now() + Duration::minutes(10));
    assert!(env.store.reclaims.create(&held).await.unwrap());
    env.enqueue(&req).await;
    let reclaimer = env.reclaimer();
    let (_, response) = env.deliver(&reclaimer).await;
    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "handed back, not executed"
    );
    assert!(tenant.transfers().is_empty() && tenant.has_user(&stale));
    let r = record(&env, &profile.id, &req.request_id).await;
    assert_eq!(r.status, ReclaimStatus::Received);
    assert_eq!(r.deliveries, 0);

    // the holder crashed: its lease lapses, and the next delivery executes the request
    let mut lapsed = r;
    lapsed.lease_until = Some(Utc::now() - Duration::minutes(1));
    env.store.reclaims.save(&mut lapsed).await.unwrap();
    env.drain(&reclaimer, 5).await;
    let r = record(&env, &profile.id, &req.request_id).await;
    assert_eq!(r.status, ReclaimStatus::Done);
    assert_eq!(r.deliveries, 1);
    assert_eq!(tenant.transfers().len(), 1);
    assert!(!tenant.has_user(&stale));
}

// ------------------------------------------- authorisation, one per user, the cap, the sync

#[tokio::test]
async fn an_unapproved_message_is_refused_and_recorded_with_its_sender() {
    let env = TestEnv::start(8, 61).await;
    let (profile, _admin, stale, _) = box_setup(&env).await;
    let req = request(&profile.id, &stale);
    env.enqueue_unapproved(&req).await;
    let responses = env.drain(&env.reclaimer(), 3).await;
    assert!(responses.iter().all(|r| r.batch_item_failures.is_empty()));
    let r = record(&env, &profile.id, &req.request_id).await;
    assert_eq!(r.status, ReclaimStatus::Skipped);
    assert_eq!(r.reason_code.as_deref(), Some("not_approved"), "{r:#?}");
    assert!(r.sender_id.is_some(), "the SQS SenderId is recorded");
    let tenant = env.sandbox.box_tenant();
    assert!(tenant.has_user(&stale));
    assert!(tenant.transfers().is_empty());
}

#[tokio::test]
async fn two_requests_for_one_user_run_once() {
    let env = TestEnv::start(8, 62).await;
    let (profile, _admin, stale, _) = box_setup(&env).await;
    let tenant = env.sandbox.box_tenant();
    // the first request's user read fails for longer than two deliveries' retry budget (4
    // attempts each): it stays open while the second is delivered
    env.sandbox.faults().push(
        FaultRule::new(
            Route::BoxUsers,
            FaultKind::RateLimited {
                retry_after_secs: 0,
            },
        )
        .times(8),
    );
    let first = request(&profile.id, &stale);
    env.enqueue(&first).await;
    let reclaimer = env.reclaimer();
    let (_, response) = env.deliver(&reclaimer).await;
    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "the first is retried"
    );
    // a second request for the same user while the first is open
    let second = request(&profile.id, &stale);
    env.enqueue(&second).await;
    env.drain(&reclaimer, 5).await;
    let a = record(&env, &profile.id, &first.request_id).await;
    let b = record(&env, &profile.id, &second.request_id).await;
    let statuses = [a.status, b.status];
    assert!(statuses.contains(&ReclaimStatus::Done), "{a:#?} {b:#?}");
    let loser = if a.status == ReclaimStatus::Done {
        &b
    } else {
        &a
    };
    assert_eq!(loser.status, ReclaimStatus::Skipped);
    assert_eq!(
        loser.reason_code.as_deref(),
        Some("duplicate_user_request"),
        "{loser:#?}"
    );
    assert_eq!(tenant.transfers().len(), 1);
    assert_eq!(tenant.deleted_users(), vec![stale.clone()]);
    // the lock is released when the request ends
    let items = env.partition(&format!("USERLOCKS#{}", profile.id)).await;
    assert!(items.is_empty(), "{items:?}");
}

#[tokio::test]
async fn a_candidate_held_by_the_cap_is_queued_by_the_next_run() {
    let env = TestEnv::start(8, 63).await;
    let (profile, admin, _, _) = box_setup(&env).await;
    edit_profile(&env, &profile.id, |p| {
        p.rules.mode = ReclaimMode::Auto;
        p.rules.max_per_run = 1;
        p.rules.max_percent = 100;
        p.rules.transfer_target = Some(admin.clone());
    })
    .await;
    // today's reclaims have already reached the cap: the function holds the request
    let day = Utc::now().format("%Y-%m-%d").to_string();
    assert!(env
        .store
        .reclaims
        .count_reclaim(&profile.id, &day, 1)
        .await
        .unwrap());
    let sync = env.box_sync();
    let report = sync.sync_profile(&profile.id, &NoProgress).await.unwrap();
    assert_eq!(requests_enqueued(&report), 1);
    let requested = requested(&env, &profile.id).await;
    assert_eq!(requested.len(), 1);
    let stale = requested[0].user_id.clone();
    env.drain(&env.reclaimer(), 3).await;
    let c = candidate(&env, &profile.id, &stale)
        .await
        .expect("still a candidate");
    assert_eq!(c.request_id, None, "released by the held request");
    assert!(c.waiting.as_deref().unwrap().contains("blast_radius_cap"));
    assert!(env.sandbox.box_tenant().has_user(&stale));
    // the next auto run queues it again
    let report = sync.sync_profile(&profile.id, &NoProgress).await.unwrap();
    assert_eq!(
        requests_enqueued(&report),
        1,
        "{:?}",
        report.task(TaskKind::Reclamation).unwrap().detail
    );
    let again = candidate(&env, &profile.id, &stale).await.unwrap();
    assert!(again.request_id.is_some());
    assert_eq!(again.waiting, None);
}

#[tokio::test]
async fn a_concurrent_reclaim_survives_the_sync() {
    let env = TestEnv::start(8, 64).await;
    let (profile, _admin, stale, _) = box_setup(&env).await;
    // the seat as a sync read it from the roster just before the reclaim finished
    let mut from_sync = env
        .store
        .seats
        .get(&profile.id, &stale)
        .await
        .unwrap()
        .unwrap();
    from_sync.last_seen_at = Utc::now();
    from_sync.name = "Renamed".into();
    let req = request(&profile.id, &stale);
    env.enqueue(&req).await;
    env.drain(&env.reclaimer(), 3).await;
    assert_eq!(
        record(&env, &profile.id, &req.request_id).await.status,
        ReclaimStatus::Done
    );
    env.store.seats.put_many(&[from_sync]).await.unwrap();
    let seat = env
        .store
        .seats
        .get(&profile.id, &stale)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seat.name, "Renamed", "the sync's observation is written");
    assert!(seat.removed_at.is_some(), "the reclaim's removal survives");
    assert!(seat.reclaimed_at.is_some());
    assert_eq!(
        seat.reclaim_request_id.as_deref(),
        Some(req.request_id.as_str())
    );
    // and a later sync (the user is gone at Box) keeps it removed
    handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .unwrap();
    let seat = env
        .store
        .seats
        .get(&profile.id, &stale)
        .await
        .unwrap()
        .unwrap();
    assert!(seat.removed_at.is_some() && seat.reclaimed_at.is_some());
}
