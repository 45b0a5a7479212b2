//! Activity beyond logins and the observation window, end to end: moto + the provider sandbox's
//! generated tenants (which have content events, device sessions, users who only sync from a
//! desktop client and users last active just beyond the backfill) + the production sync. Every
//! claim is checked against the sandbox's ground truth and DynamoDB.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use seatkeeper::domain::connect::Slot;
use seatkeeper::domain::{ActivityScope, Profile, Seat, TaskKind};
use seatkeeper::handlers::sync::handle;
use seatkeeper::ports::{ProfileRepo, RunRepo, SeatRepo, StoreError};
use seatkeeper::sync::SyncReport;
use seatkeeper_e2e::{seat, TestEnv};
use serde_json::json;

async fn edit(env: &TestEnv, id: &str, f: impl Fn(&mut Profile)) {
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

async fn candidates(env: &TestEnv, profile: &str) -> HashSet<String> {
    env.store
        .seats
        .list_candidates(profile)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.user_id)
        .collect()
}

/// The seats stored for `profile`.
async fn stored_seats(env: &TestEnv, profile: &str) -> Vec<Seat> {
    env.seat_items(profile).await.values().map(seat).collect()
}

/// One scheduled Box sync of `profile`.
async fn box_sync(env: &TestEnv, profile: &str) -> SyncReport {
    handle(&env.box_sync(), json!({ "profile": profile }))
        .await
        .expect("sync")
}

/// One scheduled Dropbox sync of `profile`.
async fn dropbox_sync(env: &TestEnv, profile: &str) -> SyncReport {
    handle(&env.dropbox_sync(), json!({ "profile": profile }))
        .await
        .expect("sync")
}

/// Whether the rules may reclaim the seat at all (not an admin, not protected, past the grace).
fn reclaimable(s: &Seat, now: DateTime<Utc>) -> bool {
    !s.is_admin
        && !s.status.starts_with("cannot_delete")
        && s.license_managed
        && s.created_at.is_none_or(|c| now - c > Duration::days(120))
}

fn within(t: Option<&DateTime<Utc>>, now: DateTime<Utc>, days: i64) -> bool {
    t.is_some_and(|t| now - *t < Duration::days(days))
}

#[tokio::test]
async fn box_sync_only_users_are_not_candidates_and_idle_users_are() {
    let env = TestEnv::start(600, 7).await;
    let profile = env.add_box_profile().await;
    let started = Utc::now();
    let report = box_sync(&env, &profile.id).await;
    assert!(
        report.profiles[0].succeeded,
        "{:?}",
        report.profiles[0].error
    );

    let tenant = env.sandbox.box_tenant();
    let logins = tenant.last_logins();
    let activity = tenant.last_activities();
    let stored: HashMap<String, Seat> = stored_seats(&env, &profile.id)
        .await
        .into_iter()
        .map(|s| (s.user_id.clone(), s))
        .collect();
    let listed = candidates(&env, &profile.id).await;
    let now = Utc::now();

    // the activity read is what the tenant says, within the 90-day backfill
    let window_start = started - Duration::days(90);
    for (id, s) in &stored {
        let truth = activity.get(id).filter(|t| **t >= window_start);
        if truth.is_some_and(|t| (*t - window_start).num_minutes().abs() < 5) {
            continue; // on the window's edge
        }
        assert_eq!(
            s.last_activity.as_ref().map(|a| a.at),
            truth.copied(),
            "{id}"
        );
        if let Some(a) = &s.last_activity {
            let ev = tenant
                .events()
                .into_iter()
                .find(|e| e.event_id == a.event_id)
                .expect("the evidence is a real event");
            assert_eq!(
                (ev.user_id.as_str(), ev.event_type.as_str()),
                (id.as_str(), a.event_type.as_str())
            );
        }
    }

    // users who only sync (no login in 60 days, content events in 60 days): never candidates
    let sync_only: Vec<&Seat> = stored
        .values()
        .filter(|s| reclaimable(s, now))
        .filter(|s| !within(logins.get(&s.user_id), now, 60))
        .filter(|s| within(activity.get(&s.user_id), now, 60))
        .collect();
    assert!(
        sync_only.len() >= 5,
        "the tenant has sync-only users: {}",
        sync_only.len()
    );
    for s in &sync_only {
        assert!(
            !listed.contains(&s.user_id),
            "sync-only user {} listed",
            s.user_id
        );
        let a = s.last_activity.as_ref().expect("content evidence");
        assert_ne!(a.event_type, "LOGIN");
    }
    // truly idle users (nothing at all in the 90 days read) still are
    let idle: Vec<&Seat> = stored
        .values()
        .filter(|s| reclaimable(s, now))
        .filter(|s| !within(activity.get(&s.user_id), now, 90))
        .collect();
    assert!(!idle.is_empty());
    for s in &idle {
        assert!(
            listed.contains(&s.user_id),
            "idle user {} not listed",
            s.user_id
        );
    }
    let c = env
        .store
        .seats
        .list_candidates(&profile.id)
        .await
        .unwrap()
        .into_iter()
        .next()
        .expect("a candidate");
    assert_eq!(c.evidence.activity, ActivityScope::Any);
    assert!(
        c.evidence.rule.starts_with("no activity for 60 days"),
        "{}",
        c.evidence.rule
    );

    // the Activity task says what it read
    let runs = env.store.runs.task_runs(&profile.id, 20).await.unwrap();
    let act = runs.iter().find(|t| t.task == TaskKind::Activity).unwrap();
    assert!(
        act.detail.as_deref().unwrap().contains("UPLOAD"),
        "{:?}",
        act.detail
    );
    assert!(act.counts.users_with_activity > act.counts.users_with_logins);
}

#[tokio::test]
async fn box_a_rule_longer_than_the_backfill_waits_and_users_just_beyond_it_are_not_dated_further()
{
    let env = TestEnv::start(600, 7).await;
    let profile = env.add_box_profile().await;
    edit(&env, &profile.id, |p| p.rules.inactive_days = 180).await;
    let started = Utc::now();
    let report = box_sync(&env, &profile.id).await;
    assert!(
        report.profiles[0].succeeded,
        "{:?}",
        report.profiles[0].error
    );

    // 90 days read cannot prove 180 idle days: no candidate at all
    assert!(candidates(&env, &profile.id).await.is_empty());
    let p = env.store.profiles.get(&profile.id).await.unwrap().unwrap();
    let since = p.last_sync.unwrap().observed_since.expect("observed since");
    assert!(
        (since - (started - Duration::days(90))).num_seconds().abs() < 60,
        "{since}"
    );
    let runs = env.store.runs.task_runs(&profile.id, 20).await.unwrap();
    let rec = runs
        .iter()
        .find(|t| t.task == TaskKind::Reclamation)
        .unwrap();
    assert!(rec.counts.not_observed_long_enough > 0);
    assert!(rec
        .detail
        .as_deref()
        .unwrap()
        .contains("not observed long enough"));

    // users last active 91-120 days ago are among them
    let tenant = env.sandbox.box_tenant();
    let activity = tenant.last_activities();
    let now = Utc::now();
    let beyond: Vec<String> = stored_seats(&env, &profile.id)
        .await
        .into_iter()
        .filter(|s| reclaimable(s, now))
        .filter(|s| {
            activity
                .get(&s.user_id)
                .is_some_and(|t| (92..=119).contains(&(now - *t).num_days()))
        })
        .map(|s| s.user_id)
        .collect();
    assert!(
        !beyond.is_empty(),
        "the tenant has users just beyond the backfill"
    );

    // the same tenant under the 60-day rule: those users are rightly candidates, dated from
    // the start of the observation at the earliest
    edit(&env, &profile.id, |p| p.rules.inactive_days = 60).await;
    let report = box_sync(&env, &profile.id).await;
    assert!(report.profiles[0].succeeded);
    let list = env.store.seats.list_candidates(&profile.id).await.unwrap();
    for id in &beyond {
        let c = list.iter().find(|c| &c.user_id == id).expect("candidate");
        assert!(c.evidence.inactive_since >= since, "{id}");
        assert!(
            c.evidence.inactive_days <= 91,
            "{id}: {}",
            c.evidence.inactive_days
        );
    }
}

#[tokio::test]
async fn box_logins_only_reads_logins_and_its_candidates_say_so() {
    let env = TestEnv::start(300, 7).await;
    let profile = env.add_box_profile().await;
    edit(&env, &profile.id, |p| {
        p.rules.activity = ActivityScope::Logins
    })
    .await;
    let report = box_sync(&env, &profile.id).await;
    assert!(report.profiles[0].succeeded);
    for r in env.sandbox.stats().requests() {
        if r.path.ends_with("/events") {
            let q: HashMap<String, String> = url::form_urlencoded::parse(r.query.as_bytes())
                .into_owned()
                .collect();
            assert_eq!(q["event_type"], "LOGIN,ADD_LOGIN_ACTIVITY_DEVICE");
        }
    }
    let list = env.store.seats.list_candidates(&profile.id).await.unwrap();
    assert!(!list.is_empty());
    for c in &list {
        assert_eq!(c.evidence.activity, ActivityScope::Logins);
        assert!(c.evidence.rule.contains("logins only"));
    }
}

#[tokio::test]
async fn dropbox_desktop_only_members_are_not_candidates_and_idle_members_are() {
    let env = TestEnv::start_with(10, 800, 7).await;
    let profile = env.add_dropbox_profile().await;
    assert_eq!(
        env.connect_dropbox(&profile.id, Slot::Sync).await.status,
        200
    );
    let report = dropbox_sync(&env, &profile.id).await;
    assert!(
        report.profiles[0].succeeded,
        "{:?}",
        report.profiles[0].error
    );

    let team = env.sandbox.dropbox_team();
    let logins = team.last_logins();
    let activity = team.last_activities();
    let sessions = team.sessions();
    let now = Utc::now();
    let stored: Vec<Seat> = stored_seats(&env, &profile.id).await;
    let listed = candidates(&env, &profile.id).await;

    // the device listing was read, and every seat's last activity is at least its newest session
    let paths: Vec<String> = env
        .sandbox
        .stats()
        .requests()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert!(paths
        .iter()
        .any(|p| p.ends_with("/2/team/devices/list_members_devices")));
    for s in &stored {
        if let Some(newest) = sessions
            .iter()
            .filter(|x| x.team_member_id == s.user_id)
            .map(|x| x.updated)
            .max()
        {
            let a = s.last_activity.as_ref().expect("session evidence");
            assert!(a.at >= newest, "{}", s.user_id);
        }
    }

    let members: HashMap<String, String> = team
        .members()
        .into_iter()
        .map(|m| (m.team_member_id.clone(), m.status.tag().to_string()))
        .collect();
    let active = |s: &&Seat| members.get(&s.user_id).is_some_and(|st| st == "active");
    // desktop-only members: no sign-in in 60 days, a recent session or file operation
    let desktop_only: Vec<&Seat> = stored
        .iter()
        .filter(active)
        .filter(|s| reclaimable(s, now))
        .filter(|s| !within(logins.get(&s.user_id), now, 60))
        .filter(|s| within(activity.get(&s.user_id), now, 60))
        .collect();
    assert!(desktop_only.len() >= 5, "{}", desktop_only.len());
    assert!(desktop_only.iter().any(|s| s
        .last_activity
        .as_ref()
        .is_some_and(|a| a.event_type == "desktop_client session")));
    for s in &desktop_only {
        assert!(
            !listed.contains(&s.user_id),
            "desktop-only {} listed",
            s.user_id
        );
    }
    // idle members (nothing in the 90 days read) still are candidates
    let idle: Vec<&Seat> = stored
        .iter()
        .filter(active)
        .filter(|s| reclaimable(s, now))
        .filter(|s| !within(activity.get(&s.user_id), now, 90))
        .collect();
    assert!(!idle.is_empty());
    for s in &idle {
        assert!(listed.contains(&s.user_id), "idle {} not listed", s.user_id);
    }
    let runs = env.store.runs.task_runs(&profile.id, 20).await.unwrap();
    let act = runs.iter().find(|t| t.task == TaskKind::Activity).unwrap();
    assert!(act.counts.sessions_read > 0);
}

/// The newest Activity task's events read, sessions read and pages.
async fn activity_counts(env: &TestEnv, profile: &str) -> (u64, u64, u64) {
    let runs = env.store.runs.task_runs(profile, 50).await.unwrap();
    let a = runs
        .iter()
        .filter(|t| t.task == TaskKind::Activity)
        .max_by_key(|t| t.started_at)
        .unwrap();
    (a.counts.events_read, a.counts.sessions_read, a.counts.pages)
}

/// The provider calls the wider activity costs: a 1 000-user Box tenant and a 1 000-member
/// Dropbox team, first sync (90-day backfill) and re-sync, `logins` (what seatkeeper read before)
/// vs `any`. Prints the numbers; run with `--run-ignored only`.
#[tokio::test]
#[ignore]
async fn measure_the_calls_of_wider_activity() {
    use provider_sandbox::Route;
    for scope in [ActivityScope::Logins, ActivityScope::Any] {
        let env = TestEnv::start_with(1000, 1000, 11).await;
        let boxp = env.add_box_profile().await;
        let dbx = env.add_dropbox_profile().await;
        assert_eq!(env.connect_dropbox(&dbx.id, Slot::Sync).await.status, 200);
        for id in [&boxp.id, &dbx.id] {
            edit(&env, id, |p| p.rules.activity = scope).await;
        }
        for round in ["first sync", "re-sync"] {
            let stats = env.sandbox.stats();
            stats.reset();
            let t = std::time::Instant::now();
            let r = box_sync(&env, &boxp.id).await;
            assert!(r.profiles[0].succeeded);
            let box_ms = t.elapsed().as_millis();
            let box_events = stats.calls(Route::BoxEvents);
            let box_all = stats.calls(Route::Any);
            stats.reset();
            let t = std::time::Instant::now();
            let r = dropbox_sync(&env, &dbx.id).await;
            assert!(r.profiles[0].succeeded);
            let dbx_ms = t.elapsed().as_millis();
            let dbx_events = stats.calls(Route::DropboxEvents);
            let dbx_all = stats.calls(Route::DropboxAny);
            let devices = stats
                .requests()
                .iter()
                .filter(|r| r.path.contains("/team/devices/"))
                .count();
            let (be, _, bp) = activity_counts(&env, &boxp.id).await;
            let (de, ds, dp) = activity_counts(&env, &dbx.id).await;
            println!(
                "MEASURE {scope} {round}: box events calls {box_events} (all {box_all}, events read {be}, pages {bp}, {box_ms} ms); \
                 dropbox team_log calls {dbx_events}, devices calls {devices} (all {dbx_all}, events read {de}, sessions {ds}, pages {dp}, {dbx_ms} ms)"
            );
        }
    }
}
