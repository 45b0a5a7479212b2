//! The sync run over in-memory ports: task order and outcomes, what is written, and the
//! invariant that a run that did not finish removes nobody and lists no candidates.
use chrono::{Duration, Utc};

use super::*;
use crate::domain::{BoxPlan, LoginEvidence, ObservedSeat, Profile, ReclaimMode, TaskStatus};
use crate::http::{ErrorCode, ProviderError};
use crate::memory::provider::{Fault, Op};
use crate::memory::{MemoryMailer, MemoryProvider, MemoryQueue, MemoryRepos};
use crate::ports::{AccessError, ProfileRepo, PurchasedSeats, RunRepo, SeatRepo};

type TestSync = Syncer<MemoryRepos, MemoryProvider, MemoryQueue, MemoryMailer>;

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

fn login(days_ago: i64, id: &str) -> LoginEvidence {
    LoginEvidence {
        at: Utc::now() - Duration::days(days_ago),
        event_id: format!("ev-{id}"),
        event_type: "LOGIN".into(),
    }
}

/// Five users (page size 2, so three roster pages): an admin, two active, two idle.
async fn setup(mode: ReclaimMode) -> (TestSync, MemoryProvider, MemoryRepos, MemoryQueue) {
    let repos = MemoryRepos::default();
    let mut profile =
        Profile::new_box("acme", "Acme", "42", BoxPlan::Business, Utc::now()).unwrap();
    profile.rules.transfer_target = Some("1".into());
    profile.rules.mode = mode;
    profile.rules.max_per_run = 1;
    profile.rules.max_percent = 100;
    repos.profiles().create(&profile).await.unwrap();
    let provider = MemoryProvider::new(true);
    for (id, admin) in [
        ("1", true),
        ("2", false),
        ("3", false),
        ("4", false),
        ("5", false),
    ] {
        provider.add_user(observed(id, admin), 1);
    }
    provider.tenant().not_seats = 2;
    provider.add_event("2", login(3, "2"));
    provider.add_event("3", login(10, "3"));
    provider.add_event("3", login(5, "3b"));
    provider.tenant().purchased = vec![PurchasedSeats {
        license_type: "business".into(),
        purchased: 8,
    }];
    let queue = MemoryQueue::default();
    let sync = Syncer {
        provider: crate::domain::Provider::Box,
        repos: repos.clone(),
        providers: provider.clone(),
        queue: Some(queue.clone()),
        notifier: None,
        default_backfill_days: 90,
        max_run_age: chrono::Duration::hours(20),
    };
    (sync, provider, repos, queue)
}

/// The candidates' user ids, sorted.
async fn candidate_ids(repos: &MemoryRepos) -> Vec<String> {
    let mut ids: Vec<String> = repos
        .seats()
        .list_candidates("acme")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.user_id)
        .collect();
    ids.sort();
    ids
}

/// The stored profile.
async fn stored_profile(repos: &MemoryRepos) -> Profile {
    repos.profiles().get("acme").await.unwrap().unwrap()
}

/// Edits the stored profile (as `seatctl rules` would).
async fn edit_profile(repos: &MemoryRepos, mut edit: impl FnMut(&mut Profile)) {
    repos
        .profiles()
        .update("acme", |p: &mut Profile| {
            edit(p);
            Ok::<_, crate::ports::StoreError>(())
        })
        .await
        .unwrap();
}

/// The activity checkpoint `name`, if one was stored.
async fn stored_checkpoint(repos: &MemoryRepos, name: &str) -> Option<crate::domain::Checkpoint> {
    repos.runs().get_checkpoint("acme", name).await.unwrap()
}

fn statuses(o: &ProfileOutcome) -> Vec<(TaskKind, TaskStatus)> {
    o.tasks.iter().map(|t| (t.task, t.status)).collect()
}

#[tokio::test]
async fn a_first_sync_records_every_task_seats_activity_licenses_and_candidates() {
    let (sync, _, repos, queue) = setup(ReclaimMode::Report).await;
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o.succeeded, "{:?}", o.error);
    assert_eq!(
        statuses(&o),
        ORDER
            .iter()
            .map(|k| (*k, TaskStatus::Succeeded))
            .collect::<Vec<_>>()
    );
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    assert_eq!(roster.counts.seats_seen, 5);
    assert_eq!(roster.counts.seats_new, 5);
    assert_eq!(roster.counts.non_seats_skipped, 2);
    let activity = o.task(TaskKind::Activity).unwrap();
    assert_eq!(activity.counts.events_read, 3);
    assert_eq!(activity.counts.users_with_logins, 2);

    let seats = repos.seats().list("acme").await.unwrap();
    assert_eq!(seats.len(), 5);
    let three = seats.iter().find(|s| s.user_id == "3").unwrap();
    assert_eq!(
        three.last_login.as_ref().unwrap().event_id,
        "ev-3b",
        "the newest login"
    );

    let lic = repos.seats().license_summaries("acme").await.unwrap();
    assert_eq!(
        lic[0].purchased,
        Some(8),
        "the provider's purchased count applies"
    );
    assert_eq!(lic[0].assigned, 5);

    let checkpoint = stored_checkpoint(&repos, "memory_activity")
        .await
        .expect("the checkpoint moves after a finished run");
    assert_eq!(checkpoint.run_id, o.run_id);
    let profile = stored_profile(&repos).await;
    assert_eq!(profile.last_sync.unwrap().run_id, o.run_id);

    assert_eq!(
        candidate_ids(&repos).await,
        ["4", "5"],
        "never-active users, not the admin"
    );
    assert!(queue.sent().is_empty(), "report mode enqueues nothing");
    assert_eq!(repos.runs().task_runs("acme", 50).await.unwrap().len(), 6);
}

#[tokio::test]
async fn an_unchanged_resync_writes_no_seat_and_no_candidate() {
    let (sync, _, repos, _) = setup(ReclaimMode::Report).await;
    sync.sync_profile("acme", &NoProgress).await.unwrap();
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o.succeeded);
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    assert_eq!(
        (roster.counts.seats_unchanged, roster.counts.items_written),
        (5, 0)
    );
    assert_eq!(
        o.task(TaskKind::Reclamation).unwrap().counts.items_written,
        0
    );
    assert_eq!(
        repos.calls("seats.states"),
        0,
        "the index alone tells every seat unchanged"
    );
}

#[tokio::test]
async fn a_changed_seat_is_reconciled_against_its_full_stored_state() {
    let (sync, provider, repos, _) = setup(ReclaimMode::Report).await;
    sync.sync_profile("acme", &NoProgress).await.unwrap();
    let before = repos.seats().get("acme", "3").await.unwrap().unwrap();
    provider.tenant().users.get_mut("3").unwrap().seat.name = "Renamed".into();
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    assert_eq!(
        (
            roster.counts.seats_changed,
            roster.counts.seats_unchanged,
            roster.counts.items_written
        ),
        (1, 4, 1)
    );
    assert_eq!(repos.calls("seats.states"), 1, "one fetch, for its page");
    let after = repos.seats().get("acme", "3").await.unwrap().unwrap();
    assert_eq!(after.name, "Renamed");
    assert_eq!(after.first_seen_at, before.first_seen_at);
    assert_eq!(after.last_login, before.last_login, "the evidence is kept");
    assert_ne!(after.fingerprint, before.fingerprint);
    // and the next re-sync finds it unchanged again, without a fetch
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    assert_eq!(
        (roster.counts.seats_unchanged, roster.counts.items_written),
        (5, 0)
    );
    assert_eq!(repos.calls("seats.states"), 1);
}

/// User 3 as the provider lists them, renamed (a changed seat).
fn renamed_three(provider: &MemoryProvider) -> ObservedSeat {
    let mut renamed = provider.tenant().users["3"].seat.clone();
    renamed.name = "Renamed".into();
    renamed
}

/// The roster page of a re-sync, written straight through a `RosterWriter` (its index loaded
/// before the page, as in a run).
async fn roster_page(
    repos: &MemoryRepos,
    seats: Vec<ObservedSeat>,
    between: impl FnOnce(),
) -> Result<crate::domain::TaskCounts, super::run::SyncError> {
    let profile = stored_profile(repos).await;
    let mut writer =
        super::roster::RosterWriter::load(repos.seats(), &profile, "run-x", Utc::now(), None)
            .await?;
    between();
    let mut counts = crate::domain::TaskCounts::default();
    writer
        .page(
            seats,
            &crate::domain::ActivityAggregator::new(8),
            &mut counts,
        )
        .await?;
    Ok(counts)
}

#[tokio::test]
async fn a_seat_the_index_listed_but_the_fetch_missed_fails_the_page_and_writes_nothing() {
    let (sync, provider, repos, _) = setup(ReclaimMode::Report).await;
    sync.sync_profile("acme", &NoProgress).await.unwrap();
    let renamed = renamed_three(&provider);
    let r = roster_page(&repos, vec![renamed], || {
        repos.delete_seat_item("acme", "3")
    })
    .await;
    let e = r.expect_err("a missed seat is not written as new");
    assert!(
        e.to_string().contains("seat 3 is in the stored-seat index"),
        "{e}"
    );
    assert_eq!(repos.seats().get("acme", "3").await.unwrap(), None);
}

#[tokio::test]
async fn a_user_listed_twice_on_a_page_is_fetched_once() {
    let (sync, provider, repos, _) = setup(ReclaimMode::Report).await;
    sync.sync_profile("acme", &NoProgress).await.unwrap();
    let renamed = renamed_three(&provider);
    let before = repos.calls("seats.states");
    let counts = roster_page(&repos, vec![renamed.clone(), renamed], || {})
        .await
        .unwrap();
    assert_eq!(repos.calls("seats.states"), before + 1);
    assert_eq!(counts.seats_changed, 2);
    let three = repos.seats().get("acme", "3").await.unwrap().unwrap();
    assert_eq!(three.name, "Renamed");
}

/// Every stored seat as the index keeps it, in id order.
fn index_entries(index: &crate::domain::SeatIndex) -> Vec<(String, crate::domain::IndexedSeat)> {
    let mut all: Vec<_> = index.iter().map(|(id, s, _)| (id.to_owned(), s)).collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// The profile's snapshot is current and holds the stored seats (read without moving the
/// revision, so the next run still trusts it): each as stored, or, for a seat whose write kept
/// what a reclaim set, present without a fingerprint (so compared in full, never taken as
/// unchanged).
async fn assert_snapshot_holds_the_seats(repos: &MemoryRepos) {
    let current = repos.current_snapshot("acme");
    assert!(current.is_some(), "a current snapshot");
    let ticket = crate::domain::IndexTicket {
        rev: 0,
        snapshot: current,
        notes: Vec::new(),
        empty: false,
    };
    let (snapshot, opened) = repos
        .seats()
        .open_index("acme", Some(&ticket))
        .await
        .unwrap();
    assert_eq!(opened.snapshot, current, "read from the snapshot");
    let stored = index_entries(&repos.seats().index("acme").await.unwrap());
    let held = index_entries(&snapshot);
    assert_eq!(
        held.iter().map(|e| &e.0).collect::<Vec<_>>(),
        stored.iter().map(|e| &e.0).collect::<Vec<_>>()
    );
    for ((id, held), (_, stored)) in held.iter().zip(&stored) {
        let compared_in_full = held.fingerprint.is_none() && !held.removed;
        assert!(
            held == stored || compared_in_full,
            "{id}: {held:?} against {stored:?}"
        );
    }
}

/// The seat index snapshot: a run saves the seats as it left them, the next run reads it
/// instead of every seat, and what it holds is what is stored, after new, changed, removed and
/// restored seats, whole runs and runs continued at every page alike.
#[tokio::test]
async fn each_run_reads_the_snapshot_the_last_one_saved_and_it_holds_the_stored_seats() {
    let (sync, provider, repos, _) = setup(ReclaimMode::Report).await;
    sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert_eq!(
        repos.calls("seats.index"),
        1,
        "a first run reads every seat"
    );
    assert_eq!(
        repos.current_snapshot("acme"),
        None,
        "a first sync, which found no seats, holds no index and saves no snapshot"
    );
    sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert_eq!(
        repos.calls("seats.index"),
        2,
        "the next run reads every seat"
    );
    assert_snapshot_holds_the_seats(&repos).await;

    // renamed, logged in, left
    provider.tenant().users.get_mut("3").unwrap().seat.name = "Renamed".into();
    provider.add_event("4", login(0, "4b"));
    let five = provider.tenant().users.remove("5").unwrap();
    let full_reads = repos.calls("seats.index");
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    assert_eq!(
        (roster.counts.seats_changed, roster.counts.seats_removed),
        (2, 1)
    );
    assert_eq!(
        repos.calls("seats.index"),
        full_reads,
        "read from the snapshot"
    );
    assert_snapshot_holds_the_seats(&repos).await;

    // back again (restored), in a run continued at every page
    provider.tenant().users.insert("5".into(), five);
    provider.tenant().page_size = 1;
    let full_reads = repos.calls("seats.index");
    let (_, o) = run_in_slices(&sync).await;
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    assert_eq!(roster.counts.seats_changed, 1, "{roster:?}");
    assert!(repos
        .seats()
        .get("acme", "5")
        .await
        .unwrap()
        .unwrap()
        .removed_at
        .is_none());
    assert_eq!(
        repos.calls("seats.index"),
        full_reads,
        "read from the snapshot"
    );
    assert_snapshot_holds_the_seats(&repos).await;

    // and an unchanged run trusts it again
    let full_reads = repos.calls("seats.index");
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    assert_eq!(
        (roster.counts.seats_unchanged, roster.counts.items_written),
        (5, 0)
    );
    assert_eq!(repos.calls("seats.index"), full_reads);
    assert_snapshot_holds_the_seats(&repos).await;
}

/// A reclaim writes a seat outside any roster pass and leaves a note: the next run still reads
/// the snapshot, compares that seat in full and so sees the reclaim (here undone since: the
/// user is back and the seat is restored, where the snapshot alone would have found it
/// unchanged). A note left during a run outlives that run's save.
#[tokio::test]
async fn a_reclaimed_seat_is_compared_in_full_by_the_next_run() {
    let (sync, _, repos, _) = setup(ReclaimMode::Report).await;
    // a first sync saves no snapshot; the next run reads every seat and saves one
    sync.sync_profile("acme", &NoProgress).await.unwrap();
    sync.sync_profile("acme", &NoProgress).await.unwrap();
    let a_day_ago = Utc::now() - Duration::days(1);
    repos
        .seats()
        .mark_reclaimed("acme", "4", "req-1", a_day_ago)
        .await
        .unwrap();
    assert!(repos.current_snapshot("acme").is_some(), "still current");
    let (full_reads, fetches) = (repos.calls("seats.index"), repos.calls("seats.states"));
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    assert_eq!(
        repos.calls("seats.index"),
        full_reads,
        "read from the snapshot"
    );
    assert_eq!(
        repos.calls("seats.states"),
        fetches + 1,
        "user 4 compared in full"
    );
    assert_eq!(roster.counts.seats_changed, 1, "{roster:?}");
    let four = repos.seats().get("acme", "4").await.unwrap().unwrap();
    assert!(four.removed_at.is_none(), "restored: the user is back");
    assert_snapshot_holds_the_seats(&repos).await;

    // a reclaim during a run (after its roster pass opened the index)
    let profile = stored_profile(&repos).await;
    let mut writer =
        super::roster::RosterWriter::load(repos.seats(), &profile, "run-y", Utc::now(), None)
            .await
            .unwrap();
    repos
        .seats()
        .mark_reclaimed("acme", "2", "req-2", a_day_ago)
        .await
        .unwrap();
    let mut counts = crate::domain::TaskCounts::default();
    let seats: Vec<ObservedSeat> = ["1", "2", "3", "4", "5"]
        .iter()
        .map(|id| observed(id, *id == "1"))
        .collect();
    writer
        .page(
            seats,
            &crate::domain::ActivityAggregator::new(8),
            &mut counts,
        )
        .await
        .unwrap();
    writer.finish(&mut counts).await.unwrap();
    let (index, ticket) = repos.seats().open_index("acme", None).await.unwrap();
    assert!(ticket.snapshot.is_some());
    let noted: Vec<&str> = ticket.notes.iter().map(|n| n.user_id.as_str()).collect();
    assert_eq!(
        noted,
        ["2"],
        "the note outlives the run that did not apply it"
    );
    let two = index.iter().find(|e| e.0 == "2").map(|e| e.1).unwrap();
    assert_eq!(two.fingerprint, None, "compared in full");
}

#[tokio::test]
async fn a_user_who_left_is_marked_removed_after_a_complete_roster() {
    let (sync, provider, repos, _) = setup(ReclaimMode::Report).await;
    sync.sync_profile("acme", &NoProgress).await.unwrap();
    provider.tenant().users.remove("5");
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert_eq!(
        o.task(TaskKind::ApplicationRoster)
            .unwrap()
            .counts
            .seats_removed,
        1
    );
    let five = repos.seats().get("acme", "5").await.unwrap().unwrap();
    assert!(five.removed_at.is_some(), "kept, marked removed");
    let candidates = repos.seats().list_candidates("acme").await.unwrap();
    assert!(candidates.iter().all(|c| c.user_id != "5"));
}

#[tokio::test]
async fn a_roster_that_fails_midway_removes_nobody_and_lists_no_candidates() {
    let (sync, provider, repos, _) = setup(ReclaimMode::Auto).await;
    assert!(
        sync.sync_profile("acme", &NoProgress)
            .await
            .unwrap()
            .succeeded
    );
    let before = repos.seats().list_candidates("acme").await.unwrap();
    let checkpoint = stored_checkpoint(&repos, "memory_activity").await;
    // everyone but the admin leaves, and the roster breaks after its first page
    provider.tenant().users.retain(|id, _| id == "1");
    provider.add_user(observed("6", false), 0);
    provider.inject(
        Op::Roster,
        Fault::FailAfterPages(
            1,
            ProviderError::Network {
                provider: "memory",
                message: "reset".into(),
            },
        ),
    );
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(!o.succeeded);
    let st = statuses(&o);
    assert_eq!(st[2], (TaskKind::ApplicationRoster, TaskStatus::Failed));
    assert!(
        st[3..].iter().all(|(_, s)| *s == TaskStatus::Skipped),
        "{st:?}"
    );
    let seats = repos.seats().list("acme").await.unwrap();
    assert!(
        seats.iter().all(|s| s.removed_at.is_none()),
        "nobody removed"
    );
    assert_eq!(repos.seats().list_candidates("acme").await.unwrap(), before);
    assert_eq!(
        stored_checkpoint(&repos, "memory_activity").await,
        checkpoint,
        "the checkpoint stays"
    );
}

#[tokio::test]
async fn an_activity_failure_stops_the_run_before_the_roster() {
    let (sync, provider, repos, _) = setup(ReclaimMode::Report).await;
    provider.inject(
        Op::Activity,
        Fault::FailAfterPages(
            1,
            ProviderError::Server {
                provider: "memory",
                status: 503,
                code: ErrorCode::Other("unavailable".into()),
                request_id: None,
                retry_after: None,
            },
        ),
    );
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(!o.succeeded);
    assert_eq!(statuses(&o)[1], (TaskKind::Activity, TaskStatus::Failed));
    assert_eq!(provider.count(Op::Roster), 0);
    assert!(repos.seats().list("acme").await.unwrap().is_empty());
    assert!(stored_checkpoint(&repos, "memory_activity").await.is_none());
}

#[tokio::test]
async fn bad_credentials_fail_application_access_and_skip_the_rest() {
    let (sync, provider, _, _) = setup(ReclaimMode::Report).await;
    provider.inject(
        Op::CheckAccess,
        Fault::Access(|| {
            AccessError::WrongTenant("profile acme: credentials are for enterprise 7".into())
        }),
    );
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o.error.as_deref().unwrap().contains("enterprise 7"));
    let st = statuses(&o);
    assert_eq!(st[0], (TaskKind::ApplicationAccess, TaskStatus::Failed));
    assert!(st[1..].iter().all(|(_, s)| *s == TaskStatus::Skipped));
    assert_eq!(provider.count(Op::Activity) + provider.count(Op::Roster), 0);
}

#[tokio::test]
async fn auto_mode_enqueues_the_most_inactive_within_the_cap_and_says_what_it_held() {
    let (sync, _, repos, queue) = setup(ReclaimMode::Auto).await;
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    let task = o.task(TaskKind::Reclamation).unwrap();
    assert_eq!(task.counts.requests_enqueued, 1);
    assert!(task
        .detail
        .as_deref()
        .unwrap()
        .contains("1 held by the cap"));
    let sent = queue.sent();
    assert_eq!(sent.len(), 1);
    let c = repos
        .seats()
        .get_candidate("acme", &sent[0].user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.request_id.as_deref(), Some(sent[0].request_id.as_str()));
}

#[tokio::test]
async fn notify_mode_mails_each_candidate_once_and_fails_the_task_when_not_configured() {
    let (mut sync, _, repos, queue) = setup(ReclaimMode::Notify).await;
    // no mailer configured: the task fails saying what is missing, nothing is enqueued
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(!o.succeeded);
    let task = o.task(TaskKind::Reclamation).unwrap();
    assert_eq!(task.status, TaskStatus::Failed);
    assert!(
        o.error
            .as_deref()
            .unwrap_or_default()
            .contains("NOTICE_SENDER"),
        "{:?}",
        o.error
    );
    assert!(queue.sent().is_empty());

    let mailer = MemoryMailer::new();
    sync.notifier = Some(crate::notify::Notifier {
        mailer: mailer.clone(),
        events: (),
        keep_base_url: url::Url::parse("https://api.example.test").unwrap(),
        digest_recipient: Some("it@example.com".into()),
    });
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o.succeeded, "{:?}", o.error);
    let detail = o
        .task(TaskKind::Reclamation)
        .unwrap()
        .detail
        .clone()
        .unwrap();
    assert!(detail.contains("notify: 2 notice(s)"), "{detail}");
    assert!(detail.contains("digest sent"), "{detail}");
    let ids = candidate_ids(&repos).await;
    for id in &ids {
        assert_eq!(mailer.sent_to(&format!("u{id}@example.com")).len(), 1);
    }
    // a re-sync mails nobody again and enqueues nothing before the due date
    let before = mailer.sent().len();
    sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert_eq!(mailer.sent().len(), before);
    assert!(queue.sent().is_empty());
}

#[tokio::test]
async fn a_profile_that_cannot_sync_is_an_error_before_any_task() {
    let (sync, provider, repos, _) = setup(ReclaimMode::Report).await;
    let e = sync.sync_profile("nope", &NoProgress).await.unwrap_err();
    assert!(matches!(e, SyncError::UnknownProfile(_)), "{e}");
    let dbx = Profile::new_dropbox("team", "Team", Utc::now()).unwrap();
    repos.profiles().create(&dbx).await.unwrap();
    let e = sync.sync_profile("team", &NoProgress).await.unwrap_err();
    assert!(matches!(e, SyncError::WrongProvider(..)), "{e}");
    // a lease held by another run
    assert!(repos
        .runs()
        .acquire_lease(
            "acme",
            "someone",
            Utc::now(),
            std::time::Duration::from_secs(60)
        )
        .await
        .unwrap());
    let e = sync.sync_profile("acme", &NoProgress).await.unwrap_err();
    assert!(matches!(e, SyncError::Busy(_)), "{e}");
    assert!(provider.tenant().calls.is_empty());
    // sync_all records it and goes on (the Dropbox profile is not this provider's)
    let report = sync.sync_all(&NoProgress, None).await.unwrap();
    assert_eq!(report.profiles.len(), 1);
    assert!(!report.profiles[0].succeeded);
}

fn evidence(days_ago: i64, id: &str, ty: &str) -> LoginEvidence {
    LoginEvidence {
        at: Utc::now() - Duration::days(days_ago),
        event_id: id.into(),
        event_type: ty.into(),
    }
}

/// Users 4 (uploads, never logs in) and 6 (a desktop client, no event at all) are active; 5 is
/// truly idle.
async fn setup_activity(
    scope: crate::domain::ActivityScope,
) -> (TestSync, MemoryProvider, MemoryRepos) {
    use crate::domain::ActivityKind;
    let (sync, provider, repos, _) = setup(ReclaimMode::Report).await;
    provider.add_user(observed("6", false), 1);
    provider.add_activity("4", ActivityKind::Content, evidence(5, "up-4", "UPLOAD"));
    provider.add_activity(
        "6",
        ActivityKind::Session,
        evidence(1, "dbdsid:6", "desktop_client session"),
    );
    edit_profile(&repos, |p| p.rules.activity = scope).await;
    (sync, provider, repos)
}

#[tokio::test]
async fn content_and_desktop_users_are_not_candidates_and_an_idle_user_is() {
    let (sync, _, repos) = setup_activity(crate::domain::ActivityScope::Any).await;
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o.succeeded, "{:?}", o.error);
    let activity = o.task(TaskKind::Activity).unwrap();
    assert_eq!(activity.counts.events_read, 5);
    assert_eq!(activity.counts.sessions_read, 1);
    assert_eq!(activity.counts.users_with_activity, 4);
    assert_eq!(candidate_ids(&repos).await, vec!["5".to_string()]);
    let four = repos.seats().get("acme", "4").await.unwrap().unwrap();
    assert!(four.last_login.is_none());
    assert_eq!(four.last_activity.unwrap().event_type, "UPLOAD");
    let six = repos.seats().get("acme", "6").await.unwrap().unwrap();
    assert_eq!(six.last_activity.unwrap().event_id, "dbdsid:6");
    let c = &repos.seats().list_candidates("acme").await.unwrap()[0];
    assert_eq!(c.evidence.activity, crate::domain::ActivityScope::Any);
    assert!(
        c.evidence.rule.starts_with("no activity"),
        "{}",
        c.evidence.rule
    );
}

#[tokio::test]
async fn logins_only_reads_and_counts_logins_and_says_so() {
    let (sync, provider, repos) = setup_activity(crate::domain::ActivityScope::Logins).await;
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o.succeeded, "{:?}", o.error);
    assert_eq!(o.task(TaskKind::Activity).unwrap().counts.events_read, 3);
    assert_eq!(
        candidate_ids(&repos).await,
        vec!["4".to_string(), "5".into(), "6".into()]
    );
    for c in repos.seats().list_candidates("acme").await.unwrap() {
        assert_eq!(c.evidence.activity, crate::domain::ActivityScope::Logins);
        assert!(c.evidence.rule.contains("logins only"));
    }
    // its own checkpoint: widening to `any` later backfills the content events
    assert!(stored_checkpoint(&repos, "memory_logins").await.is_some());
    assert!(stored_checkpoint(&repos, "memory_activity").await.is_none());
    drop(provider);
}

#[tokio::test]
async fn a_rule_longer_than_the_observation_lists_no_candidate_until_it_is_decidable() {
    let (sync, _, repos) = setup_activity(crate::domain::ActivityScope::Any).await;
    edit_profile(&repos, |p| p.rules.inactive_days = 180).await;
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o.succeeded, "{:?}", o.error);
    // 90 days of backfill cannot prove 180 days without activity
    assert!(candidate_ids(&repos).await.is_empty());
    let rec = o.task(TaskKind::Reclamation).unwrap();
    assert_eq!(rec.counts.not_observed_long_enough, 1, "{:?}", rec.detail);
    assert!(
        rec.detail
            .as_deref()
            .unwrap()
            .contains("not observed long enough"),
        "{:?}",
        rec.detail
    );
    let p = stored_profile(&repos).await;
    let since = p.last_sync.unwrap().observed_since.unwrap();
    let expected = o.task(TaskKind::Activity).unwrap().started_at - Duration::days(90);
    assert!(
        (since - expected).num_seconds().abs() < 5,
        "{since} {expected}"
    );
}

#[tokio::test]
async fn observation_survives_a_resync_and_moves_past_a_gap() {
    let (sync, provider, repos) = setup_activity(crate::domain::ActivityScope::Any).await;
    assert!(
        sync.sync_profile("acme", &NoProgress)
            .await
            .unwrap()
            .succeeded
    );
    let first = stored_profile(&repos).await;
    let first_since = first.last_sync.unwrap().observed_since.unwrap();
    assert!(
        sync.sync_profile("acme", &NoProgress)
            .await
            .unwrap()
            .succeeded
    );
    let again = stored_profile(&repos).await;
    assert_eq!(again.last_sync.unwrap().observed_since, Some(first_since));
    // the provider skips part of the next window (a cursor reset): observation restarts there
    let gap = Utc::now() - Duration::hours(2);
    provider.tenant().gap_until = Some(gap);
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o.succeeded, "{:?}", o.error);
    assert!(o
        .task(TaskKind::Activity)
        .unwrap()
        .detail
        .as_deref()
        .unwrap()
        .contains("gap"));
    let after = stored_profile(&repos).await;
    assert_eq!(after.last_sync.unwrap().observed_since, Some(gap));
    let cp = stored_checkpoint(&repos, "memory_activity").await.unwrap();
    assert_eq!(cp.observed_since, Some(gap));
    // now nobody is decidable under the 60-day rule: the idle user waits
    assert!(candidate_ids(&repos).await.is_empty());
}

#[tokio::test]
async fn a_roster_that_drops_by_30_percent_holds_the_removals_until_accepted() {
    let (sync, provider, repos, queue) = setup(ReclaimMode::Auto).await;
    for i in 10..35 {
        provider.add_user(observed(&i.to_string(), false), 1);
    }
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o.succeeded, "{:?}", o.error);
    let sent_before = queue.sent().len();
    let candidates_before = repos.seats().list_candidates("acme").await.unwrap();
    // 30 seats; 11 vanish (36.7 %): more than max(10 seats, 5 %)
    {
        let mut t = provider.tenant();
        for i in 10..21 {
            t.users.remove(&i.to_string());
        }
    }
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(!o.succeeded);
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    assert_eq!(roster.status, TaskStatus::Failed);
    let err = roster.error.as_deref().unwrap();
    assert!(
        err.starts_with("held: roster dropped by 11 (36.7 %)"),
        "{err}"
    );
    assert!(err.contains("seatctl sync acme --accept-removals"), "{err}");
    assert_eq!(roster.counts.seats_held, 11);
    assert_eq!(roster.counts.seats_removed, 0);
    assert_eq!(
        o.task(TaskKind::Reclamation).unwrap().status,
        TaskStatus::Skipped,
        "no candidates from this run"
    );
    let seats = repos.seats().list("acme").await.unwrap();
    assert!(seats.iter().all(|s| s.removed_at.is_none()), "seats kept");
    assert_eq!(queue.sent().len(), sent_before, "nothing enqueued");
    assert_eq!(
        repos.seats().list_candidates("acme").await.unwrap(),
        candidates_before
    );

    // the next sync sees the same drop: still held
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(!o.succeeded);

    // accepted: applied once, and the acceptance is used up
    edit_profile(&repos, |p| p.accept_removals = true).await;
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o.succeeded, "{:?}", o.error);
    assert_eq!(
        o.task(TaskKind::ApplicationRoster)
            .unwrap()
            .counts
            .seats_removed,
        11
    );
    let p = stored_profile(&repos).await;
    assert!(!p.accept_removals);
}

#[tokio::test]
async fn a_drop_within_the_guard_is_applied() {
    let (sync, provider, repos, _) = setup(ReclaimMode::Report).await;
    sync.sync_profile("acme", &NoProgress).await.unwrap();
    {
        let mut t = provider.tenant();
        for i in ["2", "3", "4"] {
            t.users.remove(i);
        }
    }
    // 3 of 5 (60 %) but under the 10-seat floor
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o.succeeded, "{:?}", o.error);
    let removed = repos
        .seats()
        .list("acme")
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.removed_at.is_some())
        .count();
    assert_eq!(removed, 3);
}

// ------------------------------------------------------------------ runs across invocations

/// A seat as a comparison of two tenants built moments apart sees it: what was observed and
/// decided, without run ids and instants.
type SeatView = (String, String, String, Option<String>, Option<String>, bool);

async fn comparable_seats(repos: &MemoryRepos) -> Vec<SeatView> {
    let mut seats: Vec<SeatView> = repos
        .seats()
        .list("acme")
        .await
        .unwrap()
        .into_iter()
        .map(|s| {
            (
                s.user_id,
                s.login,
                s.license_type,
                s.last_login.map(|e| e.event_id),
                s.last_activity.map(|e| e.event_id),
                s.removed_at.is_some(),
            )
        })
        .collect();
    seats.sort();
    seats
}

/// Runs the profile's sync one invocation after another, each with no time left (so each reads
/// one page and saves), until a run ends; returns the invocations and the last outcome.
async fn run_in_slices(sync: &TestSync) -> (u32, ProfileOutcome) {
    let (invocations, o) = run_in_slices_allowing_failure(sync).await;
    assert!(o.succeeded, "{:?}", o.error);
    (invocations, o)
}

/// The issue's "a sync forced to continue every page ends in the same state as one
/// uninterrupted run", over the in-memory ports: a first sync and then a re-sync in which one
/// user left and one changed (the sweep after the last page, across invocations).
#[tokio::test]
async fn a_run_continued_at_every_page_ends_as_an_uninterrupted_one() {
    let (whole, whole_provider, whole_repos, _) = setup(ReclaimMode::Report).await;
    let (sliced, sliced_provider, sliced_repos, _) = setup(ReclaimMode::Report).await;
    for p in [&whole_provider, &sliced_provider] {
        p.tenant().page_size = 1;
    }
    let o = whole.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o.succeeded);
    let (invocations, o) = run_in_slices(&sliced).await;
    // activity: 3 events in pages of 1; roster: 5 users in pages of 1; then license tasks
    assert!(invocations >= 8, "{invocations}");
    assert_eq!(statuses(&o).len(), ORDER.len());
    assert!(o.tasks.iter().all(|t| t.status == TaskStatus::Succeeded));
    assert!(o.tasks.iter().all(|t| t.run_id == o.run_id));
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    assert_eq!((roster.counts.seats_seen, roster.counts.seats_new), (5, 5));
    assert_eq!(roster.counts.non_seats_skipped, 2);
    let activity = o.task(TaskKind::Activity).unwrap();
    assert_eq!(activity.counts.events_read, 3);
    assert_eq!(
        sliced_repos.calls("seats.index"),
        1,
        "the stored seats are read once, empty; later invocations start from no seats"
    );
    assert_eq!(
        comparable_seats(&sliced_repos).await,
        comparable_seats(&whole_repos).await
    );
    assert_eq!(
        whole_repos
            .seats()
            .license_summaries("acme")
            .await
            .unwrap()
            .len(),
        sliced_repos
            .seats()
            .license_summaries("acme")
            .await
            .unwrap()
            .len()
    );
    assert_eq!(
        sliced_repos.runs().get_run_state("acme").await.unwrap(),
        None
    );

    // user 5 leaves, user 4 logs in: the re-sync's sweep needs every earlier slice's users
    for (p, r) in [
        (&whole_provider, &whole_repos),
        (&sliced_provider, &sliced_repos),
    ] {
        p.tenant().users.remove("5");
        p.add_event("4", login(1, "4"));
        let _ = r;
    }
    let o = whole.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o.succeeded);
    let (_, o) = run_in_slices(&sliced).await;
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    assert_eq!(roster.counts.seats_removed, 1, "{roster:?}");

    let seats = comparable_seats(&sliced_repos).await;
    assert_eq!(seats, comparable_seats(&whole_repos).await);
    let removed: Vec<_> = seats.iter().filter(|s| s.5).map(|s| s.0.as_str()).collect();
    assert_eq!(removed, ["5"]);
    assert_eq!(
        candidate_ids(&sliced_repos).await,
        candidate_ids(&whole_repos).await
    );
}

/// A run that did not finish removes nobody, even across invocations: a roster page failing
/// after earlier slices saved ends the run (recorded failed), clears its state, and the seats
/// of the previous finished sync stay as they were.
#[tokio::test]
async fn a_failure_after_saved_slices_removes_nobody_and_the_next_run_starts_afresh() {
    let (sync, provider, repos, _) = setup(ReclaimMode::Report).await;
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o.succeeded);
    let before = comparable_seats(&repos).await;
    provider.tenant().page_size = 1;
    provider.tenant().users.remove("5");
    let now = || Some(std::time::Instant::now());
    // slices until the roster stage has saved at least once
    let first_run = loop {
        let o = sync
            .sync_profile_until("acme", &NoProgress, now())
            .await
            .unwrap();
        let state = repos.runs().get_run_state("acme").await.unwrap().unwrap();
        if matches!(state.stage, RunStage::Roster { resume: Some(_) }) {
            break o.run_id;
        }
    };
    let server_error = ProviderError::Server {
        provider: "memory",
        status: 503,
        code: ErrorCode::Other("unavailable".into()),
        request_id: None,
        retry_after: None,
    };
    provider.inject(Op::Roster, Fault::Fail(server_error));
    let o = sync
        .sync_profile_until("acme", &NoProgress, now())
        .await
        .unwrap();
    assert!(!o.succeeded);
    assert_eq!(o.run_id, first_run);
    assert_eq!(
        o.task(TaskKind::ApplicationRoster).map(|t| t.status),
        Some(TaskStatus::Failed)
    );
    assert_eq!(repos.runs().get_run_state("acme").await.unwrap(), None);
    assert_eq!(comparable_seats(&repos).await, before);
    // the next run is a new one, and it removes the user who left
    let o = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o.succeeded);
    assert_ne!(o.run_id, first_run);
    assert_eq!(
        o.task(TaskKind::ApplicationRoster)
            .unwrap()
            .counts
            .seats_removed,
        1
    );
}

/// A continuation of a run that has ended (a duplicate or late message) does nothing; a second
/// attempt while one holds the lease is refused; a run older than the maximum age is abandoned
/// (its task under way recorded failed) and the next fresh job starts a new run.
#[tokio::test]
async fn stale_duplicate_and_abandoned_continuations() {
    let (mut sync, provider, repos, _) = setup(ReclaimMode::Report).await;
    provider.tenant().page_size = 1;
    let o = sync
        .sync_profile_until("acme", &NoProgress, Some(std::time::Instant::now()))
        .await
        .unwrap();
    let job = o.continuation.clone().expect("continues");
    assert_eq!(job.run_id.as_deref(), Some(o.run_id.as_str()));
    assert_eq!(SyncJob::parse(&job.to_body().unwrap()).unwrap(), job);

    // another attempt holds the lease: this one is refused and changes nothing
    assert!(repos
        .runs()
        .acquire_lease(
            "acme",
            "someone",
            Utc::now(),
            std::time::Duration::from_secs(60)
        )
        .await
        .unwrap());
    assert!(matches!(
        sync.run_job(&job, &NoProgress, None).await,
        Err(SyncError::Busy(_))
    ));
    repos.runs().release_lease("acme", "someone").await.unwrap();

    // abandoned: too old
    sync.max_run_age = Duration::seconds(-1);
    let o2 = sync.run_job(&job, &NoProgress, None).await.unwrap();
    assert!(o2.tasks.is_empty() && o2.succeeded, "{o2:?}");
    assert_eq!(repos.runs().get_run_state("acme").await.unwrap(), None);
    let runs = repos.runs().task_runs("acme", 20).await.unwrap();
    let abandoned = runs
        .iter()
        .find(|t| t.run_id == o.run_id && t.status == TaskStatus::Failed);
    assert!(
        abandoned.is_some_and(|t| t.error.as_deref().unwrap_or("").contains("abandoned")),
        "{runs:#?}"
    );
    sync.max_run_age = Duration::hours(20);

    // a fresh job starts a new run and finishes it
    let o3 = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o3.succeeded && o3.continuation.is_none());
    assert_ne!(o3.run_id, o.run_id);
    // the old continuation, delivered late: nothing to continue
    let o4 = sync.run_job(&job, &NoProgress, None).await.unwrap();
    assert!(o4.tasks.is_empty() && o4.succeeded);
    assert_eq!(repos.seats().list("acme").await.unwrap().len(), 5);
}

/// The roster-drop guard of a run that continues compares with the seats present when its
/// roster stage began, not with an index that already holds the seats its earlier invocations
/// added: a tenant swap held by one uninterrupted run is held by a sliced one too.
#[tokio::test]
async fn the_roster_drop_guard_of_a_continued_run_uses_the_seats_present_at_its_start() {
    let (sync, provider, repos, _) = setup(ReclaimMode::Report).await;
    edit_profile(&repos, |p| {
        p.roster_guard.min_seats = 0;
        p.roster_guard.percent = 40;
    })
    .await;
    assert!(
        sync.sync_profile("acme", &NoProgress)
            .await
            .unwrap()
            .succeeded
    );
    // three of five leave, three others arrive: 3 gone is more than 40 % of the 5 present seats
    // (held), but not of the 8 an index holds once the new ones are written
    for id in ["3", "4", "5"] {
        provider.tenant().users.remove(id);
    }
    for id in ["6", "7", "8"] {
        provider.add_user(observed(id, false), 1);
    }
    provider.tenant().page_size = 1;
    let (_, o) = run_in_slices_allowing_failure(&sync).await;
    assert!(!o.succeeded);
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    assert_eq!(roster.status, TaskStatus::Failed);
    assert!(
        roster.error.as_deref().unwrap_or("").starts_with("held:"),
        "{roster:?}"
    );
    let removed = repos
        .seats()
        .list("acme")
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.removed_at.is_some())
        .count();
    assert_eq!(removed, 0);
}

/// A run whose profile's activity setting changed while it was saved is abandoned: its
/// checkpoint would otherwise move for activity it never read.
#[tokio::test]
async fn a_saved_run_is_abandoned_when_the_activity_setting_changes() {
    let (sync, provider, repos, _) = setup(ReclaimMode::Report).await;
    provider.tenant().page_size = 1;
    let o = sync
        .sync_profile_until("acme", &NoProgress, Some(std::time::Instant::now()))
        .await
        .unwrap();
    assert!(o.continuation.is_some());
    edit_profile(&repos, |p| {
        p.rules.activity = crate::domain::ActivityScope::Logins
    })
    .await;
    let o2 = sync.sync_profile("acme", &NoProgress).await.unwrap();
    assert!(o2.succeeded);
    assert_ne!(o2.run_id, o.run_id);
    let runs = repos.runs().task_runs("acme", 30).await.unwrap();
    assert!(runs.iter().any(|t| t.run_id == o.run_id
        && t.status == TaskStatus::Failed
        && t.error
            .as_deref()
            .unwrap_or("")
            .contains("activity setting changed")));
    assert!(stored_checkpoint(&repos, "memory_logins").await.is_some());
    assert_eq!(stored_checkpoint(&repos, "memory_activity").await, None);
}

/// [`run_in_slices`] for a run that may fail: slices until it ends, whatever its end.
async fn run_in_slices_allowing_failure(sync: &TestSync) -> (u32, ProfileOutcome) {
    let mut invocations = 0;
    loop {
        invocations += 1;
        let o = sync
            .sync_profile_until("acme", &NoProgress, Some(std::time::Instant::now()))
            .await
            .unwrap();
        if o.continuation.is_none() {
            return (invocations, o);
        }
        assert!(invocations < 100, "the run never ended");
    }
}

/// A first sync's later invocations start from the saved record of what earlier ones wrote
/// (there were no stored seats to read), unless an attempt died after writing seats and before
/// saving them: its retry finds the mark it left and reads every seat, so those seats are found
/// as stored, never written again as new.
#[tokio::test]
async fn a_first_sync_resumed_after_an_attempt_that_wrote_and_died_reads_every_seat() {
    let (sync, provider, repos, _) = setup(ReclaimMode::Report).await;
    provider.tenant().page_size = 1;
    let now = || Some(std::time::Instant::now());
    // invocations until the roster stage has saved once (one page, one seat)
    loop {
        let o = sync
            .sync_profile_until("acme", &NoProgress, now())
            .await
            .unwrap();
        assert!(o.continuation.is_some());
        let state = repos.runs().get_run_state("acme").await.unwrap().unwrap();
        if matches!(
            state.stage,
            crate::domain::RunStage::Roster { resume: Some(_) }
        ) {
            break;
        }
    }
    assert_eq!(repos.calls("seats.index"), 1);
    // the next attempt writes its page, then its save fails (the attempt dies)
    repos.fail_next("runs.put_task_run");
    let died = sync.sync_profile_until("acme", &NoProgress, now()).await;
    assert!(
        died.is_err() || died.is_ok_and(|o| !o.succeeded),
        "the attempt failed"
    );
    assert_eq!(
        repos.seats().list("acme").await.unwrap().len(),
        2,
        "it wrote its seat"
    );
    let state = repos.runs().get_run_state("acme").await.unwrap().unwrap();
    assert!(state.writing, "the mark it left");
    let (_, o) = run_in_slices(&sync).await;
    let roster = o.task(TaskKind::ApplicationRoster).unwrap();
    assert_eq!(
        (roster.counts.seats_new, roster.counts.seats_unchanged),
        (4, 1),
        "the dead attempt's seat is found as stored: {roster:?}"
    );
    assert_eq!(
        roster.counts.seats_removed, 0,
        "every earlier page's seats seen"
    );
    let seats = repos.seats().list("acme").await.unwrap();
    assert_eq!(seats.len(), 5);
    assert!(
        seats.iter().all(|s| s.removed_at.is_none()),
        "nobody removed"
    );
    assert!(
        repos.calls("seats.index") >= 2,
        "the retry (and the rest of the run) read every seat"
    );
}

/// Reclamation cannot stop half way: a run that reaches it with less time left than it may need
/// saves and gives it an invocation of its own (the same run, its checkpoint already moved).
#[tokio::test]
async fn reclamation_gets_its_own_invocation_when_little_time_is_left() {
    let (sync, _, repos, _) = setup(ReclaimMode::Report).await;
    let soon = Some(std::time::Instant::now() + std::time::Duration::from_secs(200));
    let o = sync
        .sync_profile_until("acme", &NoProgress, soon)
        .await
        .unwrap();
    assert!(o.continuation.is_some());
    assert!(o.task(TaskKind::Reclamation).is_none());
    let state = repos.runs().get_run_state("acme").await.unwrap().unwrap();
    assert_eq!(state.stage, RunStage::Reclamation);
    assert_eq!(
        stored_profile(&repos).await.last_sync.unwrap().run_id,
        o.run_id
    );
    let o2 = sync
        .sync_profile_until("acme", &NoProgress, soon)
        .await
        .unwrap();
    assert!(o2.continuation.is_none());
    assert_eq!(o2.run_id, o.run_id);
    assert_eq!(statuses(&o2).len(), ORDER.len());
    assert!(!o2.summaries.is_empty(), "the metric line's summaries");
    assert_eq!(candidate_ids(&repos).await.len(), 2);
    let o3 = sync
        .sync_profile_until(
            "acme",
            &NoProgress,
            Some(std::time::Instant::now() + std::time::Duration::from_secs(900)),
        )
        .await
        .unwrap();
    assert!(o3.continuation.is_none() && o3.task(TaskKind::Reclamation).is_some());
}
