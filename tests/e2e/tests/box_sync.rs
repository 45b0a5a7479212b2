//! Box sync end to end: moto server (DynamoDB, Secrets Manager) + the provider sandbox + the
//! box-sync handler, driven with the schedule's input. Every claim is checked in DynamoDB or at
//! the sandbox, not from the sync's own counters.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use provider_sandbox::{FaultKind, FaultRule, Route};
use seatkeeper::domain::{Profile, TaskKind, TaskRun, TaskStatus};
use seatkeeper::handlers::sync::{handle, HandlerError};
use seatkeeper::ports::{ProfileRepo, RunRepo, SeatRepo};
use seatkeeper::sync::SyncReport;
use seatkeeper::wiring::ProductionSync;
use seatkeeper_e2e::{seat, LogCapture, TestEnv};
use serde_json::json;

async fn edit_profile(env: &TestEnv, id: &str, edit: impl Fn(&mut Profile)) {
    env.store
        .profiles
        .update(id, |p| -> Result<(), seatkeeper::ports::StoreError> {
            edit(p);
            Ok(())
        })
        .await
        .unwrap()
        .unwrap();
}

async fn set_backfill(env: &TestEnv, id: &str, days: u32) {
    edit_profile(env, id, |p| p.backfill_days = Some(days)).await;
}

/// One scheduled sync of `profile`, as the schedule's input names it.
async fn sync_once(sync: &ProductionSync, profile: &str) -> Result<SyncReport, HandlerError> {
    handle(sync, json!({ "profile": profile })).await
}

/// The task run of `kind` among `runs`.
fn task<T: std::borrow::Borrow<TaskRun>>(runs: &[T], kind: TaskKind) -> &TaskRun {
    runs.iter()
        .map(|t| t.borrow())
        .find(|t| t.task == kind)
        .unwrap()
}

fn events_query(env: &TestEnv, n: usize) -> HashMap<String, String> {
    let reqs: Vec<_> = env
        .sandbox
        .stats()
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/events"))
        .collect();
    url::form_urlencoded::parse(reqs[n].query.as_bytes())
        .into_owned()
        .collect()
}

#[tokio::test]
async fn full_sync_stores_every_managed_seat_with_license_type_and_last_login() {
    let env = TestEnv::start(1500, 7).await;
    let profile = env.add_box_profile().await;
    set_backfill(&env, &profile.id, 365).await;
    let sync = env.box_sync();

    let report = sync_once(&sync, &profile.id).await.expect("sync succeeds");
    assert!(
        report.profiles[0].succeeded,
        "{:?}",
        report.profiles[0].error
    );

    let tenant = env.sandbox.box_tenant();
    let users = tenant.users();
    let humans: Vec<_> = users
        .iter()
        .filter(|u| !u.is_platform_access_only)
        .collect();
    let app_users = users.len() - humans.len();
    assert!(app_users > 0, "the generated tenant has app users");

    let stored = env.seat_items(&profile.id).await;
    assert_eq!(
        stored.len(),
        humans.len(),
        "one seat per managed human user, none for app users"
    );
    let events = tenant.events();
    let mut with_login = 0;
    for u in &humans {
        let s = seat(&stored[&u.id]);
        assert_eq!(s.login, u.login);
        assert_eq!(s.status, u.status);
        assert_eq!(s.role, u.role);
        assert_eq!(s.is_admin, u.role == "admin" || u.role == "coadmin");
        assert_eq!(s.license_type, "business_plus");
        assert!(s.license_managed);
        assert!(s.removed_at.is_none());
        assert_eq!(s.created_at, Some(u.created_at));
        let expected = tenant.last_login(&u.id);
        assert_eq!(
            s.last_login.as_ref().map(|l| l.at),
            expected,
            "last login of {}",
            u.id
        );
        if let Some(l) = &s.last_login {
            with_login += 1;
            // the evidence names a real login event of this user at that time
            let ev = events
                .iter()
                .find(|e| e.event_id == l.event_id)
                .expect("evidence event exists");
            assert_eq!((ev.user_id.as_str(), ev.created_at), (u.id.as_str(), l.at));
            assert!(["LOGIN", "ADD_LOGIN_ACTIVITY_DEVICE"].contains(&ev.event_type.as_str()));
            assert_eq!(l.event_type, ev.event_type);
        }
    }
    assert!(
        with_login > 0 && with_login < humans.len(),
        "some users never logged in"
    );
    for u in users.iter().filter(|u| u.is_platform_access_only) {
        assert!(
            !stored.contains_key(&u.id),
            "app user {} is not a seat",
            u.id
        );
    }

    // Task tracking, in DynamoDB.
    let runs = env.store.runs.task_runs(&profile.id, 50).await.unwrap();
    for kind in [
        TaskKind::ApplicationAccess,
        TaskKind::Activity,
        TaskKind::ApplicationRoster,
        TaskKind::LicenseDifferentiation,
        TaskKind::LicenseInformation,
    ] {
        let t = runs
            .iter()
            .find(|t| t.task == kind)
            .unwrap_or_else(|| panic!("{kind:?} recorded"));
        assert_eq!(t.status, TaskStatus::Succeeded, "{kind:?}: {:?}", t.error);
        assert!(t.ended_at.is_some());
    }
    let roster = task(&runs, TaskKind::ApplicationRoster);
    assert_eq!(roster.counts.seats_seen as usize, humans.len());
    assert_eq!(roster.counts.seats_new as usize, humans.len());
    assert_eq!(roster.counts.non_seats_skipped as usize, app_users);

    // The minimum API calls Box's paging allows: one token, ceil(users/1000) user pages.
    let stats = env.sandbox.stats();
    assert_eq!(stats.calls(Route::BoxToken), 1);
    assert_eq!(stats.calls(Route::BoxUsers), users.len().div_ceil(1000));
    assert_eq!(roster.counts.api_calls as usize, users.len().div_ceil(1000));
    let activity = task(&runs, TaskKind::Activity);
    assert_eq!(
        activity.counts.api_calls as usize,
        stats.calls(Route::BoxEvents)
    );
    // logins and content events (activity: any, the default)
    let logins_in_tenant = events
        .iter()
        .filter(|e| provider_sandbox::BOX_ACTIVITY_EVENT_TYPES.contains(&e.event_type.as_str()))
        .count();
    assert_eq!(activity.counts.events_read as usize, logins_in_tenant);
    // pages of 500, and one empty page that tells us the stream is done
    assert_eq!(
        stats.calls(Route::BoxEvents),
        logins_in_tenant.div_ceil(500) + 1
    );
    let q = events_query(&env, 0);
    assert_eq!(q["stream_type"], "admin_logs");
    assert_eq!(
        q["event_type"],
        provider_sandbox::BOX_ACTIVITY_EVENT_TYPES.join(",")
    );

    // License Information: assigned seats per type against the entitlement-free profile.
    let lic = env
        .store
        .seats
        .license_summaries(&profile.id)
        .await
        .unwrap();
    assert_eq!(lic.len(), 1);
    assert_eq!(lic[0].assigned as usize, humans.len());
    assert_eq!(lic[0].purchased, None);
}

#[tokio::test]
async fn unchanged_resync_rewrites_no_seat_item() {
    let env = TestEnv::start(1200, 11).await;
    let profile = env.add_box_profile().await;
    let sync = env.box_sync();
    sync_once(&sync, &profile.id).await.expect("first sync");
    let before = env.seat_items(&profile.id).await;
    let first_run = seat(before.values().next().unwrap()).run_id;

    let report = sync_once(&sync, &profile.id).await.expect("second sync");
    let after = env.seat_items(&profile.id).await;
    assert_eq!(
        before, after,
        "every seat item is byte-for-byte what the first sync wrote"
    );
    assert!(
        after.values().all(|i| seat(i).run_id == first_run),
        "no item carries the second run's id"
    );
    assert_ne!(report.profiles[0].run_id, first_run);

    // ... and the second run read only from the first one's checkpoint (less the latency overlap).
    let first_end = DateTime::parse_from_rfc3339(&events_query(&env, 0)["created_before"]).unwrap();
    let n = env
        .sandbox
        .stats()
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/events"))
        .count();
    let second_start =
        DateTime::parse_from_rfc3339(&events_query(&env, n - 1)["created_after"]).unwrap();
    assert_eq!(
        first_end - second_start,
        seatkeeper::domain::ACTIVITY_OVERLAP
    );
}

#[tokio::test]
async fn users_who_leave_are_marked_removed_and_new_logins_move_forward() {
    let env = TestEnv::start(300, 3).await;
    let profile = env.add_box_profile().await;
    let sync = env.box_sync();
    sync_once(&sync, &profile.id).await.expect("first sync");

    let tenant = env.sandbox.box_tenant();
    let humans: Vec<_> = tenant
        .users()
        .into_iter()
        .filter(|u| !u.is_platform_access_only)
        .collect();
    let leaver = humans[5].id.clone();
    let stayer = humans[6].id.clone();
    assert!(tenant.remove_user(&leaver));
    let login_at: DateTime<Utc> = Utc::now() - chrono::Duration::seconds(5);
    let login_at = DateTime::from_timestamp(login_at.timestamp(), 0).unwrap();
    let event_id = tenant.add_event(&stayer, "LOGIN", login_at);

    sync_once(&sync, &profile.id).await.expect("second sync");
    let stored = env.seat_items(&profile.id).await;
    let gone = seat(&stored[&leaver]);
    assert!(
        gone.removed_at.is_some(),
        "a user missing from a finished sync is marked removed"
    );
    let s = seat(&stored[&stayer]);
    assert!(s.removed_at.is_none());
    let l = s.last_login.expect("new login recorded");
    assert_eq!((l.event_id.as_str(), l.at), (event_id.as_str(), login_at));
    let removed: Vec<_> = stored
        .values()
        .map(seat)
        .filter(|s| s.removed_at.is_some())
        .collect();
    assert_eq!(removed.len(), 1);

    let roster = env.store.runs.task_runs(&profile.id, 20).await.unwrap();
    let latest = task(&roster, TaskKind::ApplicationRoster);
    assert_eq!(
        (latest.counts.seats_removed, latest.counts.seats_changed),
        (1, 1)
    );
}

#[tokio::test]
async fn a_sync_that_fails_midway_removes_nothing_and_keeps_the_checkpoint() {
    let env = TestEnv::start(2500, 5).await;
    let profile = env.add_box_profile().await;
    let sync = env.box_sync();
    sync_once(&sync, &profile.id).await.expect("first sync");
    let checkpoint = env
        .store
        .runs
        .get_checkpoint(&profile.id, "box_admin_logs_activity")
        .await
        .unwrap()
        .unwrap();
    let before = env.seat_items(&profile.id).await;

    // Someone leaves, and then Box fails on the second page of users, past the retry budget.
    let tenant = env.sandbox.box_tenant();
    let leaver = tenant
        .users()
        .into_iter()
        .find(|u| !u.is_platform_access_only)
        .unwrap()
        .id;
    tenant.remove_user(&leaver);
    env.sandbox.faults().push(FaultRule {
        route: Route::BoxUsers,
        skip: 1,
        times: usize::MAX,
        kind: FaultKind::ServerError { status: 500 },
    });

    let err = sync_once(&sync, &profile.id)
        .await
        .expect_err("the sync fails");
    assert!(
        matches!(err, HandlerError::SyncFailed { failed: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("500"), "{err}");

    let after = env.seat_items(&profile.id).await;
    assert_eq!(
        before, after,
        "no seat changed: none marked removed from partial data"
    );
    assert!(seat(&after[&leaver]).removed_at.is_none());
    let cp = env
        .store
        .runs
        .get_checkpoint(&profile.id, "box_admin_logs_activity")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cp, checkpoint, "the activity checkpoint did not move");

    let runs = env.store.runs.task_runs(&profile.id, 20).await.unwrap();
    let failed_run = &runs[0].run_id;
    let this_run: Vec<_> = runs.iter().filter(|t| &t.run_id == failed_run).collect();
    let roster = task(&this_run, TaskKind::ApplicationRoster);
    assert_eq!(roster.status, TaskStatus::Failed);
    let msg = roster.error.as_deref().unwrap();
    assert!(
        msg.contains("HTTP 500") && msg.contains("request_id"),
        "{msg}"
    );
    assert_eq!(roster.counts.retries, 3, "the retry budget was used");
    for later in [
        TaskKind::LicenseDifferentiation,
        TaskKind::LicenseInformation,
    ] {
        let t = this_run.iter().find(|t| t.task == later).unwrap();
        assert_eq!(t.status, TaskStatus::Skipped);
    }
    let profile_now = env.store.profiles.get(&profile.id).await.unwrap().unwrap();
    assert_ne!(profile_now.last_sync.unwrap().run_id, *failed_run);
}

#[tokio::test]
async fn rate_limits_are_waited_out_expired_tokens_renewed_and_no_secret_leaks() {
    let logs = LogCapture::default();
    let _guard = logs.install();
    let env = TestEnv::start(150, 9).await;
    let profile = env.add_box_profile().await;
    let sync = env.box_sync();
    sync_once(&sync, &profile.id).await.expect("first sync");

    // Warm container: the token is cached. Box now says it expired, and throttles twice.
    let tenant = env.sandbox.box_tenant();
    tenant.expire_all_tokens();
    env.sandbox.faults().push(FaultRule {
        route: Route::BoxUsers,
        skip: 0,
        times: 2,
        kind: FaultKind::RateLimited {
            retry_after_secs: 1,
        },
    });
    let started = Instant::now();
    let report = sync_once(&sync, &profile.id)
        .await
        .expect("second sync succeeds");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "both Retry-After waits were honoured"
    );
    assert!(report.profiles[0].succeeded);

    let stats = env.sandbox.stats();
    assert_eq!(
        stats.calls(Route::BoxToken),
        2,
        "one renewal after the 401, none otherwise"
    );
    let statuses: Vec<u16> = stats
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/events"))
        .map(|r| r.status)
        .collect();
    assert!(
        statuses.contains(&401),
        "the cached token was rejected once: {statuses:?}"
    );
    let runs = env.store.runs.task_runs(&profile.id, 20).await.unwrap();
    let roster = runs
        .iter()
        .find(|t| t.task == TaskKind::ApplicationRoster && t.run_id == report.profiles[0].run_id)
        .unwrap();
    assert_eq!((roster.counts.throttled, roster.counts.retries), (2, 2));

    // No secret anywhere: logs, DynamoDB, the report.
    let secret = tenant.client_secret();
    let mut secrets = vec![secret.clone()];
    secrets.extend(tenant.issued_tokens());
    assert!(secrets.len() >= 3, "client secret and two access tokens");
    let logged = logs.text();
    assert!(
        logged.contains("sync run") && logged.contains("provider=\"box\""),
        "the run's log line was captured"
    );
    let table = env.scan_all().await;
    let response = serde_json::to_string(&report).unwrap();
    for s in &secrets {
        assert!(!logged.contains(s.as_str()), "a secret reached the logs");
        assert!(!table.contains(s.as_str()), "a secret reached DynamoDB");
        assert!(
            !response.contains(s.as_str()),
            "a secret reached the response"
        );
    }
}

#[tokio::test]
async fn truncated_pages_and_bad_credentials_fail_clearly_and_other_profiles_still_sync() {
    let env = TestEnv::start(100, 21).await;
    let good = env.add_box_profile().await;
    let bad = env.add_box_profile().await;
    // wrong secret for the second profile
    env.secrets
        .put_box_credentials(
            &bad.credentials_secret,
            &seatkeeper::providers::box_api::BoxCredentials {
                client_id: env.sandbox.box_tenant().client_id(),
                client_secret: secrecy::SecretString::from("wrong".to_string()),
                enterprise_id: env.sandbox.box_tenant().enterprise_id(),
            },
        )
        .await
        .unwrap();
    // a truncated page is retried like a cut connection
    env.sandbox.faults().push(FaultRule {
        route: Route::BoxUsers,
        skip: 0,
        times: 1,
        kind: FaultKind::TruncatedBody,
    });
    let sync = env.box_sync();
    let err = handle(&sync, json!({}))
        .await
        .expect_err("one profile fails");
    let HandlerError::SyncFailed {
        failed,
        total,
        summary,
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!((failed, total), (1, 2));
    assert!(
        summary.contains(&bad.id) && summary.contains("invalid_client"),
        "{summary}"
    );
    assert!(
        !env.seat_items(&good.id).await.is_empty(),
        "the good profile synced"
    );
    assert!(env.seat_items(&bad.id).await.is_empty());
    let runs = env.store.runs.task_runs(&bad.id, 10).await.unwrap();
    let access = task(&runs, TaskKind::ApplicationAccess);
    assert_eq!(access.status, TaskStatus::Failed);

    // unknown profiles and malformed input are clear errors, not panics
    let err = handle(&sync, json!({ "profile": "no-such-profile" }))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no-such-profile does not exist"),
        "{err}"
    );
    let err = handle(&sync, json!({ "profiles": ["x"] }))
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::BadInput(_)), "{err}");
}

// ------------------------------------------------------------ guards against a bad roster

#[tokio::test]
async fn a_roster_that_drops_by_30_percent_holds_the_removals_until_accepted() {
    let env = TestEnv::start(60, 21).await;
    let profile = env.add_box_profile().await;
    let sync = env.box_sync();
    sync_once(&sync, &profile.id).await.expect("first sync");
    let before = env.seat_items(&profile.id).await;
    let tenant = env.sandbox.box_tenant();
    let members: Vec<String> = tenant
        .users()
        .into_iter()
        .filter(|u| u.role == "user" && before.contains_key(&u.id))
        .map(|u| u.id)
        .collect();
    let n = before.len() * 3 / 10;
    for id in &members[..n] {
        assert!(tenant.remove_user(id));
    }
    let err = sync_once(&sync, &profile.id).await.unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("held: roster dropped by {n} (")),
        "{err}"
    );
    let after = env.seat_items(&profile.id).await;
    assert!(
        after.values().all(|i| seat(i).removed_at.is_none()),
        "the seats are kept"
    );
    let runs = env.store.runs.task_runs(&profile.id, 6).await.unwrap();
    let roster = task(&runs, TaskKind::ApplicationRoster);
    assert_eq!(roster.status, TaskStatus::Failed);
    assert!(roster.error.as_deref().unwrap().starts_with("held: "));
    assert!(roster
        .error
        .as_deref()
        .unwrap()
        .contains(&format!("seatctl sync {} --accept-removals", profile.id)));
    assert_eq!(roster.counts.seats_held, n as u64);
    let reclamation = task(&runs, TaskKind::Reclamation);
    assert_eq!(reclamation.status, TaskStatus::Skipped, "no candidates");

    // the operator accepts: the next roster applies the removals and uses the acceptance up
    edit_profile(&env, &profile.id, |p| p.accept_removals = true).await;
    sync_once(&sync, &profile.id).await.expect("accepted sync");
    let after = env.seat_items(&profile.id).await;
    assert_eq!(
        after
            .values()
            .filter(|i| seat(i).removed_at.is_some())
            .count(),
        n
    );
    let p = env.store.profiles.get(&profile.id).await.unwrap().unwrap();
    assert!(!p.accept_removals);
}

#[tokio::test]
async fn a_users_page_without_entries_fails_the_task_and_removes_nobody() {
    let env = TestEnv::start(30, 22).await;
    let profile = env.add_box_profile().await;
    let sync = env.box_sync();
    sync_once(&sync, &profile.id).await.expect("first sync");
    let before = env.seat_items(&profile.id).await;
    env.sandbox.faults().push(
        FaultRule::new(
            Route::BoxUsers,
            FaultKind::DropField {
                field: "entries".into(),
            },
        )
        .forever(),
    );
    let err = sync_once(&sync, &profile.id).await.unwrap_err();
    assert!(err.to_string().contains("entries"), "{err}");
    assert_eq!(before, env.seat_items(&profile.id).await, "nothing changed");
    let runs = env.store.runs.task_runs(&profile.id, 6).await.unwrap();
    let roster = task(&runs, TaskKind::ApplicationRoster);
    assert_eq!(roster.status, TaskStatus::Failed);
}

#[tokio::test]
async fn an_unknown_box_status_is_kept_as_a_seat() {
    let env = TestEnv::start(20, 23).await;
    let profile = env.add_box_profile().await;
    let tenant = env.sandbox.box_tenant();
    let user = tenant
        .users()
        .into_iter()
        .find(|u| u.role == "user" && !u.is_platform_access_only)
        .unwrap();
    tenant.set_status(&user.id, "pending_review");
    handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    let items = env.seat_items(&profile.id).await;
    let s = seat(&items[&user.id]);
    assert_eq!(s.status, "unknown:pending_review");
    assert!(s.removed_at.is_none());
    let candidates = env.store.seats.list_candidates(&profile.id).await.unwrap();
    assert!(candidates.iter().all(|c| c.user_id != user.id));
}
