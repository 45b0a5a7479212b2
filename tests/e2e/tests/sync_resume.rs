//! Runs across invocations, end to end (sandbox + moto): a sync forced to stop after every page
//! (each invocation has no time left, so it reads one page, saves and continues) ends in the
//! same state as one uninterrupted run of the same tenant, for Box and for Dropbox; a 5xx storm
//! in the middle of a continued run removes nobody.
use std::time::Instant;

use provider_sandbox::{FaultKind, FaultRule, Route};
use seatkeeper::domain::{RunStage, TaskKind, TaskStatus};
use seatkeeper::ports::RunRepo;
use seatkeeper::providers::dropbox_api::Slot;
use seatkeeper::sync::{NoProgress, ProfileOutcome};
use seatkeeper::wiring::ProductionSync;
use seatkeeper_e2e::{seat, TestEnv};

/// A seat as two profiles of one tenant see it: what was observed and decided, without run ids
/// and instants (the fingerprint covers the observed fields and the evidence's instants).
type SeatView = (String, String, String, Option<String>, Option<String>, bool);

async fn seat_views(env: &TestEnv, profile: &str) -> Vec<SeatView> {
    let mut v: Vec<SeatView> = env
        .seat_items(profile)
        .await
        .values()
        .map(seat)
        .map(|s| {
            (
                s.user_id,
                s.fingerprint,
                s.license_type,
                s.last_login.map(|e| e.event_id),
                s.last_activity.map(|e| e.event_id),
                s.removed_at.is_some(),
            )
        })
        .collect();
    v.sort();
    v
}

/// One invocation after another, each with its deadline already past, until the run ends.
async fn sync_in_slices(sync: &ProductionSync, profile: &str) -> (u32, ProfileOutcome) {
    let mut invocations = 0;
    loop {
        invocations += 1;
        let o = sync
            .sync_profile_until(profile, &NoProgress, Some(Instant::now()))
            .await
            .expect("the run starts");
        assert!(o.succeeded, "invocation {invocations}: {:?}", o.error);
        if o.continuation.is_none() {
            return (invocations, o);
        }
        assert!(invocations < 200, "the run never ended");
    }
}

/// Invocations with no time left until the run has saved after its first roster page; the
/// run's id.
async fn slice_until_the_roster_saved(
    env: &TestEnv,
    sync: &ProductionSync,
    profile: &str,
) -> String {
    loop {
        let o = sync
            .sync_profile_until(profile, &NoProgress, Some(Instant::now()))
            .await
            .unwrap();
        assert!(o.continuation.is_some(), "{:?}", o.error);
        let state = env
            .store
            .runs
            .get_run_state(profile)
            .await
            .unwrap()
            .unwrap();
        if matches!(state.stage, RunStage::Roster { resume: Some(_) }) {
            return o.run_id;
        }
    }
}

fn assert_whole(o: &ProfileOutcome) {
    assert_eq!(o.tasks.len(), 6, "{:#?}", o.tasks);
    for t in &o.tasks {
        assert_eq!(t.status, TaskStatus::Succeeded, "{t:?}");
        assert_eq!(t.run_id, o.run_id);
    }
}

#[tokio::test]
async fn box_sync_continued_after_every_page_ends_as_one_uninterrupted_run() {
    // 2 100 users: three users pages of 1 000, and several admin_logs pages
    let env = TestEnv::start(2100, 61).await;
    let whole = env.add_box_profile().await;
    let sliced = env.add_box_profile().await;
    let sync = env.box_sync();

    let o = sync.sync_profile(&whole.id, &NoProgress).await.unwrap();
    assert_whole(&o);
    let whole_roster = o.task(TaskKind::ApplicationRoster).unwrap().counts.clone();
    let (invocations, o) = sync_in_slices(&sync, &sliced.id).await;
    assert_whole(&o);
    let pages = |o: &ProfileOutcome, k: TaskKind| o.task(k).unwrap().counts.pages;
    let roster_pages = pages(&o, TaskKind::ApplicationRoster);
    let activity_pages = pages(&o, TaskKind::Activity);
    assert_eq!(roster_pages, 3);
    assert!(activity_pages > 1, "{activity_pages}");
    // one page per invocation, and Reclamation in one of its own
    assert!(
        u64::from(invocations) >= roster_pages + activity_pages,
        "{invocations} invocations for {roster_pages} + {activity_pages} pages"
    );
    // the same counts as the uninterrupted run (the generated tenant's app users are no seats)
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    let counts =
        |c: &seatkeeper::domain::TaskCounts| (c.seats_seen, c.seats_new, c.non_seats_skipped);
    assert_eq!(counts(&roster.counts), counts(&whole_roster));
    assert!(roster.counts.seats_seen > 2000, "{:?}", roster.counts);
    let views = seat_views(&env, &sliced.id).await;
    assert_eq!(views.len() as u64, roster.counts.seats_seen);
    assert_eq!(views, seat_views(&env, &whole.id).await);
    assert_eq!(
        env.store.runs.get_run_state(&sliced.id).await.unwrap(),
        None
    );

    // two users leave and one logs in; the sliced re-sync sweeps after its last page only
    let users = env.sandbox.box_tenant().users();
    for u in &users[..2] {
        assert!(env.sandbox.box_tenant().remove_user(&u.id));
    }
    let now = env.sandbox.box_tenant().now();
    env.sandbox
        .box_tenant()
        .add_event(&users[5].id, "LOGIN", now);
    let o = sync.sync_profile(&whole.id, &NoProgress).await.unwrap();
    assert_whole(&o);
    let (_, o) = sync_in_slices(&sync, &sliced.id).await;
    assert_whole(&o);
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    assert_eq!(roster.counts.seats_removed, 2);
    let views = seat_views(&env, &sliced.id).await;
    assert_eq!(views, seat_views(&env, &whole.id).await);
    let removed: Vec<&str> = views.iter().filter(|v| v.5).map(|v| v.0.as_str()).collect();
    let mut left: Vec<&str> = users[..2].iter().map(|u| u.id.as_str()).collect();
    left.sort();
    assert_eq!(removed, left);
}

#[tokio::test]
async fn dropbox_sync_continued_after_every_page_ends_as_one_uninterrupted_run() {
    let env = TestEnv::start_with(20, 2100, 62).await;
    let whole = env.add_dropbox_profile().await;
    let sliced = env.add_dropbox_profile().await;
    env.connect_dropbox(&whole.id, Slot::Sync).await;
    env.connect_dropbox(&sliced.id, Slot::Sync).await;
    let sync = env.dropbox_sync();

    let o = sync.sync_profile(&whole.id, &NoProgress).await.unwrap();
    assert_whole(&o);
    let (invocations, o) = sync_in_slices(&sync, &sliced.id).await;
    assert_whole(&o);
    let roster_pages = o.task(TaskKind::ApplicationRoster).unwrap().counts.pages;
    let activity_pages = o.task(TaskKind::Activity).unwrap().counts.pages;
    assert!(roster_pages >= 3, "{roster_pages}");
    // logins, two content categories and device sessions: at least one page each
    assert!(activity_pages >= 4, "{activity_pages}");
    assert!(u64::from(invocations) >= roster_pages + activity_pages);
    let views = seat_views(&env, &sliced.id).await;
    assert!(views.len() >= 2000, "{}", views.len());
    assert_eq!(views, seat_views(&env, &whole.id).await);
    assert_eq!(
        env.store.runs.get_run_state(&sliced.id).await.unwrap(),
        None
    );
}

/// The "a 5xx storm mid-run leaves no seat removed": a continued run whose roster
/// pages start failing for good after earlier slices were saved ends failed, clears its state
/// and marks nobody removed, though a user did leave; the next run removes exactly that user.
#[tokio::test]
async fn a_5xx_storm_in_a_continued_run_removes_nobody() {
    let env = TestEnv::start(2100, 63).await;
    let profile = env.add_box_profile().await;
    let sync = env.box_sync();
    let o = sync.sync_profile(&profile.id, &NoProgress).await.unwrap();
    assert_whole(&o);
    let before = seat_views(&env, &profile.id).await;
    let gone = env.sandbox.box_tenant().users()[0].id.clone();
    assert!(env.sandbox.box_tenant().remove_user(&gone));

    // slices until the roster has saved after its first page
    let run_id = slice_until_the_roster_saved(&env, &sync, &profile.id).await;
    env.sandbox.faults().push(FaultRule {
        route: Route::BoxUsers,
        skip: 0,
        times: usize::MAX,
        kind: FaultKind::ServerError { status: 503 },
    });
    // an invocation with time to spare: the retries run out, the run fails (one with no time
    // left would save instead and leave the storm to the next invocation)
    let o = sync
        .sync_profile_until(
            &profile.id,
            &NoProgress,
            Some(Instant::now() + std::time::Duration::from_secs(120)),
        )
        .await
        .unwrap();
    assert!(!o.succeeded);
    assert_eq!(o.run_id, run_id);
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    assert_eq!(roster.status, TaskStatus::Failed);
    assert!(roster.counts.retries > 0, "{roster:?}");
    assert_eq!(
        env.store.runs.get_run_state(&profile.id).await.unwrap(),
        None
    );
    assert_eq!(seat_views(&env, &profile.id).await, before);

    env.sandbox.faults().clear();
    let o = sync.sync_profile(&profile.id, &NoProgress).await.unwrap();
    assert_whole(&o);
    assert_ne!(o.run_id, run_id);
    let removed: Vec<String> = seat_views(&env, &profile.id)
        .await
        .into_iter()
        .filter(|v| v.5)
        .map(|v| v.0)
        .collect();
    assert_eq!(removed, [gone]);
}

/// The issue's "a crash (process killed) between two continuations resumes without duplicate
/// or lost seats": an invocation in its own process (as a Lambda) resumes a saved run, writes
/// the next users page and is killed with SIGKILL while the page after it is on its way; its
/// lease lapses soon after its deadline, and the next invocation resumes from the last save
/// (reading that page again: its seats are already stored, so nothing is written twice) and
/// ends as an uninterrupted run of the same tenant.
#[tokio::test]
async fn a_killed_invocation_resumes_from_the_last_save_without_duplicate_or_lost_seats() {
    use std::process::{Command, Stdio};
    use std::time::Duration;
    let env = TestEnv::start(2100, 64).await;
    let whole = env.add_box_profile().await;
    let profile = env.add_box_profile().await;
    let sync = env.box_sync();
    assert_whole(&sync.sync_profile(&whole.id, &NoProgress).await.unwrap());

    // slices in this process until the roster has saved after its first page
    let run_id = slice_until_the_roster_saved(&env, &sync, &profile.id).await;
    let after_first_page = env.seat_items(&profile.id).await.len();
    assert!(
        (900..=1000).contains(&after_first_page),
        "{after_first_page}"
    );

    // the next users page answers at once, the one after it takes 4 minutes (the child's HTTP
    // timeout is longer): the kill comes while it waits, however slow this machine is
    env.sandbox.faults().push(FaultRule {
        route: Route::BoxUsers,
        skip: 1,
        times: 1,
        kind: FaultKind::Slow { millis: 240_000 },
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_bench_sync"))
        .args(["--provider", "box", "--profile", &profile.id])
        // time enough to be past page 2 however loaded the machine (with none left, the
        // invocation would write page 2, fetch nothing more and save at once)
        .args(["--invocation-secs", "30"])
        .envs(env.env_vars())
        .env("PROVIDER_HTTP_TIMEOUT_SECS", "300")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("bench_sync starts");
    let started = Instant::now();
    loop {
        let stored = env.seat_items(&profile.id).await.len();
        if stored >= after_first_page + 900 {
            break;
        }
        if child.try_wait().expect("child").is_some() {
            let mut out = String::new();
            if let Some(mut o) = child.stdout.take() {
                let _ = std::io::Read::read_to_string(&mut o, &mut out);
            }
            panic!("the invocation ended before it could be killed: {out}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(200),
            "page 2 never written"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(child.try_wait().expect("child").is_none());
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    // the killed attempt saved nothing: the state still resumes after the first page
    let state = env
        .store
        .runs
        .get_run_state(&profile.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.run_id, run_id);

    // its lease lapses 90 s after its deadline (it outlives the invocation); until then a run is
    // refused
    let o = loop {
        match sync.sync_profile(&profile.id, &NoProgress).await {
            Ok(o) => break o,
            Err(seatkeeper::sync::SyncError::Busy(_)) => {
                assert!(
                    started.elapsed() < Duration::from_secs(400),
                    "the lease never lapsed"
                );
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_whole(&o);
    assert_eq!(o.run_id, run_id);
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    // pages 2 and 3 read again: page 2's seats were stored by the killed attempt, unchanged now
    assert!(roster.counts.seats_unchanged >= 900, "{:?}", roster.counts);
    assert_eq!(roster.counts.seats_removed, 0);
    let views = seat_views(&env, &profile.id).await;
    assert_eq!(views, seat_views(&env, &whole.id).await);
    assert!(views.iter().all(|v| !v.5));
    assert_eq!(
        env.store.runs.get_run_state(&profile.id).await.unwrap(),
        None
    );
}
