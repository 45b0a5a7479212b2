//! One contract for every adapter of the repository ports: what the services may rely on.
//! Run against [`super::MemoryRepos`] by the unit tests and against the DynamoDB `Store` by
//! `tests/e2e/tests/store.rs`.
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::domain::activity::LoginEvidence;
use crate::domain::profile::LastSync;
use crate::domain::rules::Evidence;
use crate::domain::{
    Approval, BoxPlan, Candidate, Checkpoint, InvalidMessage, Keep, KeepSource, LicenseSummary,
    PendingConnect, Profile, Provider, ReclaimRecord, ReclaimRequest, Seat, Slot, TaskKind,
    TaskRun, TaskStatus,
};
use crate::domain::{BlobRef, RunStage, RunState};
use crate::domain::{IndexedSeat, SeatIndex};
use crate::domain::{Notice, NoticeMessage, NoticeState, NoticeToken};
use crate::ports::{
    ConnectRepo, KeepOutcome, NoticeRepo, ProfileRepo, ReclaimRepo, Repos, RunRepo, SeatCursor,
    SeatRepo, StoreError, UserLock,
};

/// Runs every check. `profile_prefix` (lowercase letters, digits, '-') keeps the ids of one
/// run apart from others in the same table.
pub async fn check_all(r: &impl Repos, profile_prefix: &str) {
    profiles(r, profile_prefix).await;
    seats(r, profile_prefix).await;
    index_snapshots(r, profile_prefix).await;
    candidates(r, profile_prefix).await;
    keeps(r, profile_prefix).await;
    reclaims(r, profile_prefix).await;
    runs_and_licenses(r, profile_prefix).await;
    connects(r, profile_prefix).await;
    notices(r, profile_prefix).await;
}

/// A fixed instant in whole seconds (every adapter stores it exactly).
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 30, 0)
        .single()
        .expect("valid date")
}

fn profile(id: &str) -> Profile {
    Profile::new_box(id, "Contract", "4242", BoxPlan::BusinessPlus, t0()).expect("valid id")
}

fn seat(profile_id: &str, user_id: &str) -> Seat {
    Seat {
        profile_id: profile_id.to_owned(),
        provider: Provider::Box,
        user_id: user_id.to_owned(),
        login: format!("{user_id}@example.com"),
        name: format!("User {user_id}"),
        status: "active".into(),
        role: "user".into(),
        is_admin: false,
        license_type: "business_plus".into(),
        license_managed: true,
        created_at: Some(t0() - chrono::Duration::days(400)),
        last_login: Some(LoginEvidence {
            at: t0() - chrono::Duration::days(90),
            event_id: format!("ev-{user_id}"),
            event_type: "LOGIN".into(),
        }),
        first_seen_at: t0() - chrono::Duration::days(30),
        last_seen_at: t0(),
        removed_at: None,
        reclaimed_at: None,
        reclaim_request_id: None,
        run_id: "run-1".into(),
        // 24 hex digits, as a sync writes (the index reads them as bytes)
        fingerprint: format!("{:0>24}", hex::encode(user_id)),
        last_activity: Some(LoginEvidence {
            at: t0() - chrono::Duration::days(3),
            event_id: format!("up-{user_id}"),
            event_type: "UPLOAD".into(),
        }),
    }
}

fn candidate(profile_id: &str, user_id: &str) -> Candidate {
    let mut c = Candidate {
        profile_id: profile_id.to_owned(),
        user_id: user_id.to_owned(),
        login: format!("{user_id}@example.com"),
        name: format!("User {user_id}"),
        license_type: "business_plus".into(),
        unit_price_cents: Some(2500),
        currency: Some("USD".into()),
        evidence: Evidence {
            rule: "no_login".into(),
            threshold_days: 60,
            inactive_days: 90,
            last_login: None,
            inactive_since: t0() - chrono::Duration::days(90),
            license_type: "business_plus".into(),
            evaluated_at: t0(),
            last_activity: None,
            activity: Default::default(),
            observed_since: Some(t0() - chrono::Duration::days(120)),
        },
        run_id: "run-1".into(),
        listed_at: t0(),
        approved_by: None,
        approved_at: None,
        request_id: None,
        requested_at: None,
        finding: String::new(),
        waiting: None,
    };
    c.finding = c.finding_digest();
    c
}

fn record(profile_id: &str, user_id: &str, created: DateTime<Utc>) -> ReclaimRecord {
    let request = ReclaimRequest::new(profile_id, user_id, false, "contract", None);
    ReclaimRecord::new(request, Provider::Box, created)
}

async fn profiles(r: &impl Repos, prefix: &str) {
    let repo = r.profiles();
    let id = format!("{prefix}-prof");
    let p = profile(&id);
    repo.create(&p).await.expect("create");
    let again = repo.create(&p).await;
    assert!(
        matches!(again, Err(StoreError::Conflict(_))),
        "a second create conflicts: {again:?}"
    );
    assert_eq!(repo.get(&id).await.expect("get"), Some(p.clone()));
    assert_eq!(
        repo.get(&format!("{prefix}-none")).await.expect("get"),
        None
    );
    assert!(repo.list().await.expect("list").iter().any(|x| x.id == id));

    // versioned put: the read version wins once, then it is stale
    let stale = p.clone();
    let mut edited = p.clone();
    edited.name = "Edited".into();
    repo.put(&edited).await.expect("put at the read version");
    let now = repo.get(&id).await.expect("get").expect("exists");
    assert_eq!((now.name.as_str(), now.version), ("Edited", p.version + 1));
    let lost = repo.put(&stale).await;
    assert!(matches!(lost, Err(StoreError::Conflict(_))), "{lost:?}");

    // set_last_sync bumps the version too, so an edit read before it conflicts
    let last = LastSync {
        run_id: "run-9".into(),
        finished_at: t0(),
        observed_since: Some(t0() - chrono::Duration::days(90)),
    };
    repo.set_last_sync(&id, &last).await.expect("set_last_sync");
    let after = repo.get(&id).await.expect("get").expect("exists");
    assert_eq!(after.last_sync, Some(last.clone()));
    assert_eq!(after.version, now.version + 1);
    assert!(matches!(repo.put(&now).await, Err(StoreError::Conflict(_))));
    assert!(
        repo.set_last_sync(&format!("{prefix}-none"), &last)
            .await
            .is_err(),
        "set_last_sync never creates a profile"
    );
    assert!(
        matches!(
            repo.put(&profile(&format!("{prefix}-none"))).await,
            Err(StoreError::Conflict(_))
        ),
        "put never creates a profile"
    );

    // update: read-modify-write that keeps what the sync wrote
    let out = repo
        .update(&id, |p| -> Result<u64, StoreError> {
            p.enabled = false;
            Ok(p.version)
        })
        .await
        .expect("update");
    assert_eq!(out, Some(after.version));
    let updated = repo.get(&id).await.expect("get").expect("exists");
    assert!(!updated.enabled);
    assert_eq!(updated.last_sync, Some(last));
    assert_eq!(updated.version, after.version + 1);
    let missing = repo
        .update(&format!("{prefix}-none"), |_| -> Result<(), StoreError> {
            Ok(())
        })
        .await
        .expect("update");
    assert_eq!(missing, None);
}

async fn seats(r: &impl Repos, prefix: &str) {
    let repo = r.seats();
    let pid = format!("{prefix}-seats");
    let other = format!("{prefix}-seats-other");
    let users: Vec<String> = (1..=7).map(|i| format!("u{i:02}")).collect();
    let all: Vec<Seat> = users.iter().map(|u| seat(&pid, u)).collect();
    assert_eq!(repo.put_many(&all).await.expect("put_many"), 7);
    repo.put_many(&[seat(&other, "u01")])
        .await
        .expect("put_many");

    assert_eq!(
        repo.get(&pid, "u03").await.expect("get"),
        Some(all[2].clone())
    );
    assert_eq!(repo.get(&pid, "u99").await.expect("get"), None);
    assert_eq!(repo.list(&pid).await.expect("list"), all, "by user id");

    // paging visits every seat once, in order, from any cursor
    let mut paged = Vec::new();
    let mut cursor = None;
    for _ in 0..20 {
        let page = repo.page(&pid, cursor, None).await.expect("page");
        assert_eq!(page.active_left_out, 0, "nothing left out unless asked");
        paged.extend(page.seats);
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert!(cursor.is_none(), "paging ends");
    // as the rules read them: the projection brings every attribute they use
    assert_eq!(
        paged,
        all.iter()
            .map(crate::domain::RuleSeat::from)
            .collect::<Vec<_>>()
    );
    let from_u03 = repo
        .page(&pid, Some(SeatCursor("u03".into())), None)
        .await
        .expect("page");
    assert_eq!(
        from_u03.seats.first().map(|s| s.user_id.as_str()),
        Some("u04")
    );
    seats_left_out_as_active(r, prefix).await;

    // removal: once, and only of a stored seat
    let at = t0() + chrono::Duration::hours(1);
    assert!(repo
        .mark_removed(&pid, "u02", at, "run-2")
        .await
        .expect("mark_removed"));
    assert!(!repo
        .mark_removed(&pid, "u02", at + chrono::Duration::hours(1), "run-3")
        .await
        .expect("mark_removed"));
    assert!(!repo
        .mark_removed(&pid, "u99", at, "run-2")
        .await
        .expect("mark_removed"));
    assert_eq!(repo.get(&pid, "u99").await.expect("get"), None);
    let removed = repo.get(&pid, "u02").await.expect("get").expect("kept");
    assert_eq!(removed.removed_at, Some(at));
    assert_eq!(removed.run_id, "run-2");

    // the index: compact state, removed seats are not "gone" again
    let mut index = repo.index(&pid).await.expect("index");
    assert_eq!(index.len(), 7);
    let u01 = index.see("u01").expect("indexed");
    assert_eq!(
        u01,
        crate::domain::IndexedSeat {
            fingerprint: crate::domain::seat::parse_fingerprint(&all[0].fingerprint),
            login_at: all[0].last_login.as_ref().map(|l| l.at),
            activity_at: all[0].last_activity.as_ref().map(|a| a.at),
            removed: false,
        }
    );
    assert!(u01.fingerprint.is_some());
    assert!(index.see("u02").expect("indexed").removed);
    let gone = index.gone();
    assert_eq!(gone, ["u03", "u04", "u05", "u06", "u07"]);

    // full states: only of stored seats, in any order
    let mut states = repo
        .states(&pid, &["u02".into(), "u99".into(), "u01".into()])
        .await
        .expect("states");
    states.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    assert_eq!(states.len(), 2);
    assert_eq!(states[0].user_id, "u01");
    assert_eq!(states[0].fingerprint, all[0].fingerprint);
    assert_eq!(states[0].last_login, all[0].last_login);
    assert_eq!(states[0].last_activity, all[0].last_activity);
    assert_eq!(states[0].first_seen_at, all[0].first_seen_at);
    assert_eq!(states[0].removed_at, None);
    assert_eq!(states[1].user_id, "u02");
    assert_eq!(states[1].removed_at, Some(at));
    assert!(repo.states(&pid, &[]).await.expect("none").is_empty());

    // reclaimed: sets removed_at unless set, leaves an unknown seat alone
    let later = at + chrono::Duration::days(1);
    repo.mark_reclaimed(&pid, "u03", "req-3", later)
        .await
        .expect("mark_reclaimed");
    let u03 = repo.get(&pid, "u03").await.expect("get").expect("kept");
    assert_eq!(u03.reclaimed_at, Some(later));
    assert_eq!(u03.reclaim_request_id.as_deref(), Some("req-3"));
    assert_eq!(u03.removed_at, Some(later));
    repo.mark_reclaimed(&pid, "u02", "req-2", later)
        .await
        .expect("mark_reclaimed");
    let u02 = repo.get(&pid, "u02").await.expect("get").expect("kept");
    assert_eq!(u02.removed_at, Some(at), "an earlier removal stays");
    assert_eq!(u02.reclaimed_at, Some(later));
    repo.mark_reclaimed(&pid, "u99", "req-9", later)
        .await
        .expect("an unknown seat is no error");
    assert_eq!(repo.get(&pid, "u99").await.expect("get"), None);

    // a sync whose roster was read before the reclaim (a concurrent sync) updates what it
    // observed but never erases what the reclaim wrote
    let mut stale = seat(&pid, "u03");
    stale.name = "Renamed".into();
    stale.last_seen_at = later - chrono::Duration::minutes(1);
    repo.put_many(&[stale]).await.expect("put_many");
    let u03 = repo.get(&pid, "u03").await.expect("get").expect("kept");
    assert_eq!(u03.name, "Renamed", "observed attributes are written");
    assert_eq!(
        u03.removed_at,
        Some(later),
        "the reclaim's removal survives"
    );
    assert_eq!(u03.reclaimed_at, Some(later));
    assert_eq!(u03.reclaim_request_id.as_deref(), Some("req-3"));

    // a seat listed again well after its reclaim comes back, keeping the reclaim's record
    let mut back = seat(&pid, "u02");
    back.last_seen_at = later + chrono::Duration::hours(1);
    repo.put_many(&[back]).await.expect("put_many");
    let back = repo.get(&pid, "u02").await.expect("get").expect("kept");
    assert_eq!(back.removed_at, None);
    assert_eq!(back.reclaimed_at, Some(later));

    assert_eq!(repo.list(&other).await.expect("list").len(), 1);
}

async fn keeps(r: &impl Repos, prefix: &str) {
    let repo = r.seats();
    let pid = format!("{prefix}-keeps");
    assert_eq!(repo.get_keep(&pid, "u1").await.expect("get_keep"), None);
    assert!(repo.keeps(&pid).await.expect("keeps").is_empty());
    let first = Keep::new(
        &pid,
        "u1",
        "u1@example.com",
        t0(),
        90,
        Some("on leave"),
        "u1@example.com",
        KeepSource::KeepPage,
    )
    .with_candidacy("cand-1");
    repo.put_keep(&first).await.expect("put_keep");
    // the newest keep of a user replaces the older one
    let newer = Keep::new(
        &pid,
        "u1",
        "u1@example.com",
        t0() + chrono::Duration::days(1),
        90,
        None,
        "ops@example.com",
        KeepSource::Restore,
    );
    repo.put_keep(&newer).await.expect("put_keep");
    let other = Keep::new(
        &pid,
        "u2",
        "u2@example.com",
        t0(),
        1,
        None,
        "ops@example.com",
        KeepSource::Operator,
    );
    repo.put_keep(&other).await.expect("put_keep");
    assert_eq!(
        repo.get_keep(&pid, "u1").await.expect("get_keep"),
        Some(newer.clone())
    );
    assert_eq!(
        repo.keeps(&pid).await.expect("keeps"),
        vec![newer, other.clone()],
        "by user id"
    );
    assert!(
        repo.keeps(&format!("{pid}x"))
            .await
            .expect("keeps")
            .is_empty(),
        "per profile"
    );
    // delete: only that user's keep goes; deleting what is not there is fine
    repo.delete_keep(&pid, "u1").await.expect("delete_keep");
    assert_eq!(repo.get_keep(&pid, "u1").await.expect("get_keep"), None);
    assert_eq!(
        repo.get_keep(&pid, "u2").await.expect("get_keep"),
        Some(other.clone())
    );
    repo.delete_keep(&pid, "u1")
        .await
        .expect("delete_keep again");
    assert_eq!(repo.keeps(&pid).await.expect("keeps"), vec![other]);
}

/// `page` with `skip_active`: a present seat active by the bound may be left out and counted;
/// one active by a whole second or more must be (that is the point); no other seat ever is.
/// Instants at and around the bound, with and without a fraction of a second, for the DynamoDB
/// filter that compares them as text.
/// Every entry of an index, in id order.
fn index_entries(index: &SeatIndex) -> Vec<(String, IndexedSeat)> {
    let mut all: Vec<_> = index.iter().map(|(id, s, _)| (id.to_owned(), s)).collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// The seat index snapshot: read only while no seat write outside a roster pass happened since
/// its save, the same seats as a full read, several parts for a large tenant.
async fn index_snapshots(r: &impl Repos, prefix: &str) {
    let repo = r.seats();
    let pid = format!("{prefix}-snapshot");
    let all: Vec<Seat> = ["u1", "u2", "u3"].iter().map(|u| seat(&pid, u)).collect();
    repo.put_many(&all).await.expect("put_many");

    // none saved yet: every seat is read
    let (index, ticket) = repo.open_index(&pid, None).await.expect("open");
    assert_eq!(ticket.snapshot, None);
    let full = index_entries(&repo.index(&pid).await.expect("index"));
    assert_eq!(index_entries(&index), full);
    assert!(repo.save_index(&pid, &ticket, &index).await.expect("save"));

    // the next run reads the snapshot: the same seats
    let (mut index, ticket) = repo.open_index(&pid, None).await.expect("open");
    let saved = ticket.snapshot.expect("read from the snapshot");
    assert_eq!(saved.parts, 1);
    assert_eq!(index_entries(&index), full);
    // a later invocation of the same run reads it again and moves nothing
    let (again, resumed) = repo.open_index(&pid, Some(&ticket)).await.expect("open");
    assert_eq!(resumed, ticket);
    assert_eq!(index_entries(&again), full);
    // a changed seat is saved; the run's save holds (no one else wrote)
    let changed = IndexedSeat {
        login_at: Some(t0()),
        ..full[0].1
    };
    index.record("u1", changed).expect("record");
    assert!(repo.save_index(&pid, &ticket, &index).await.expect("save"));
    let (index, ticket) = repo.open_index(&pid, None).await.expect("open");
    assert!(ticket.snapshot.is_some());
    assert_eq!(index_entries(&index)[0], ("u1".to_owned(), changed));
    // that run opened and did not save: no snapshot is current (it may have written seats)
    let (index, ticket) = repo.open_index(&pid, None).await.expect("open");
    assert_eq!(ticket.snapshot, None);
    assert_eq!(index_entries(&index), full, "read as stored");
    assert!(repo.save_index(&pid, &ticket, &index).await.expect("save"));

    // a reclaim writes a seat: the snapshot is still read, with that seat to compare in full
    repo.mark_reclaimed(&pid, "u2", "req-snap", t0())
        .await
        .expect("mark_reclaimed");
    let (index, ticket) = repo.open_index(&pid, None).await.expect("open");
    assert!(ticket.snapshot.is_some());
    let noted: Vec<&str> = ticket.notes.iter().map(|n| n.user_id.as_str()).collect();
    assert_eq!(noted, ["u2"]);
    let u2 = index_entries(&index)[1].1;
    assert_eq!((u2.fingerprint, u2.removed), (None, false));
    // the save that applied the note deletes it
    assert!(repo.save_index(&pid, &ticket, &index).await.expect("save"));
    let (_, ticket) = repo.open_index(&pid, None).await.expect("open");
    assert!(ticket.notes.is_empty());
    // a reclaim during a run, or one written again since the run read its note: kept
    repo.mark_reclaimed(&pid, "u3", "req-snap-2", t0())
        .await
        .expect("mark_reclaimed");
    let (index, ticket) = repo.open_index(&pid, None).await.expect("open");
    assert_eq!(ticket.notes.len(), 1);
    repo.mark_reclaimed(&pid, "u3", "req-snap-2", t0())
        .await
        .expect("mark_reclaimed");
    repo.mark_reclaimed(&pid, "u1", "req-snap-3", t0())
        .await
        .expect("mark_reclaimed");
    assert!(repo.save_index(&pid, &ticket, &index).await.expect("save"));
    let (_, ticket) = repo.open_index(&pid, None).await.expect("open");
    let noted: Vec<&str> = ticket.notes.iter().map(|n| n.user_id.as_str()).collect();
    assert_eq!(noted, ["u1", "u3"]);
    // a later invocation of a run applies the notes its first one read, moving nothing
    let (again, resumed) = repo.open_index(&pid, Some(&ticket)).await.expect("open");
    assert_eq!(resumed, ticket);
    assert_eq!(
        again.iter().filter(|e| e.1.fingerprint.is_none()).count(),
        2
    );
    // a save under a revision another roster pass moved is not current
    let (index, stale) = repo.open_index(&pid, None).await.expect("open");
    let (_, newer) = repo.open_index(&pid, None).await.expect("open");
    assert!(!repo.save_index(&pid, &stale, &index).await.expect("save"));
    assert!(repo.save_index(&pid, &newer, &index).await.expect("save"));

    // a large tenant: several parts, read back whole
    let big_pid = format!("{prefix}-snapshot-big");
    let mut big = SeatIndex::default();
    for i in 0..12_000u32 {
        let s = IndexedSeat {
            fingerprint: Some([(i % 251) as u8; 12]),
            login_at: Some(t0() - chrono::Duration::seconds(i64::from(i))),
            activity_at: None,
            removed: i.is_multiple_of(10),
        };
        big.record(&format!("dbmid:AAD{i:08}xyzxyzxyzxyzxyzxyz"), s)
            .expect("record");
    }
    let (_, ticket) = repo.open_index(&big_pid, None).await.expect("open");
    assert!(repo
        .save_index(&big_pid, &ticket, &big)
        .await
        .expect("save"));
    let (back, ticket) = repo.open_index(&big_pid, None).await.expect("open");
    assert!(ticket.snapshot.expect("snapshot").parts > 1);
    assert_eq!(index_entries(&back), index_entries(&big));
}

async fn seats_left_out_as_active(r: &impl Repos, prefix: &str) {
    let repo = r.seats();
    let pid = format!("{prefix}-active");
    let bound = t0() - chrono::Duration::days(30);
    let ms = chrono::Duration::milliseconds;
    let ev = |at: DateTime<Utc>, kind: &str| LoginEvidence {
        at,
        event_id: format!("{kind}-{}", at.timestamp_millis()),
        event_type: kind.into(),
    };
    // (user, login and other activity as offsets from the bound, removed)
    type Case = (
        &'static str,
        Option<chrono::Duration>,
        Option<chrono::Duration>,
        bool,
    );
    let cases: [Case; 9] = [
        ("a-day-after", Some(chrono::Duration::days(1)), None, false),
        ("b-at-bound", Some(ms(0)), None, false),
        ("c-ms-after", Some(ms(1)), None, false),
        (
            "d-upload-after",
            Some(-chrono::Duration::days(1)),
            Some(chrono::Duration::days(2)),
            false,
        ),
        ("e-none", None, None, false),
        ("f-removed", Some(chrono::Duration::days(5)), None, true),
        ("g-second-and-half", Some(ms(1500)), None, false),
        ("h-ms-before", Some(ms(-1)), Some(ms(-1)), false),
        ("i-upload-ms-after", None, Some(ms(999)), false),
    ];
    let seats: Vec<Seat> = cases
        .iter()
        .map(|(user, login, other, removed)| Seat {
            last_login: login.map(|d| ev(bound + d, "LOGIN")),
            last_activity: other.map(|d| ev(bound + d, "UPLOAD")),
            removed_at: removed.then(t0),
            ..seat(&pid, user)
        })
        .collect();
    repo.put_many(&seats).await.expect("put_many");
    for scope in [
        crate::domain::ActivityScope::Any,
        crate::domain::ActivityScope::Logins,
    ] {
        let skip = crate::domain::rules::ActiveAfter {
            after: bound,
            scope,
        };
        let (mut returned, mut left_out, mut cursor) = (Vec::new(), 0, None);
        for _ in 0..20 {
            let page = repo.page(&pid, cursor, Some(skip)).await.expect("page");
            returned.extend(page.seats.into_iter().map(|s| s.user_id));
            left_out += page.active_left_out;
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        assert!(cursor.is_none(), "paging ends");
        let active: Vec<&str> = seats
            .iter()
            .filter(|s| crate::domain::RuleSeat::from(*s).active_by(&skip))
            .map(|s| s.user_id.as_str())
            .collect();
        let clearly = |s: &Seat| {
            s.removed_at.is_none()
                && scope
                    .counted(s.last_login.as_ref(), s.last_activity.as_ref())
                    .is_some_and(|e| e.at >= bound + ms(1000))
        };
        for s in &seats {
            let id = s.user_id.as_str();
            if !active.contains(&id) {
                assert!(
                    returned.iter().any(|r| r == id),
                    "{scope:?}: {id} is not active: returned"
                );
            }
            if clearly(s) {
                assert!(
                    !returned.iter().any(|r| r == id),
                    "{scope:?}: {id} is active by a second or more: left out"
                );
            }
        }
        let mut unique = returned.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), returned.len(), "each seat once");
        let returned_active = returned
            .iter()
            .filter(|r| active.contains(&r.as_str()))
            .count();
        assert_eq!(
            left_out + returned_active as u64,
            active.len() as u64,
            "{scope:?}: every active seat is either returned or counted"
        );
        let expected_active: &[&str] = match scope {
            crate::domain::ActivityScope::Any => &[
                "a-day-after",
                "c-ms-after",
                "d-upload-after",
                "g-second-and-half",
                "i-upload-ms-after",
            ],
            crate::domain::ActivityScope::Logins => {
                &["a-day-after", "c-ms-after", "g-second-and-half"]
            }
        };
        assert_eq!(
            active, expected_active,
            "{scope:?}: the bound is exclusive, removed seats are not active"
        );
    }
}

async fn candidates(r: &impl Repos, prefix: &str) {
    let repo = r.seats();
    let pid = format!("{prefix}-cands");
    let one = candidate(&pid, "c000");
    repo.put_candidate(&one).await.expect("put_candidate");
    assert_eq!(
        repo.get_candidate(&pid, "c000").await.expect("get"),
        Some(one.clone())
    );
    // more than one BatchWriteItem's worth
    let many: Vec<Candidate> = (1..=30)
        .map(|i| {
            let mut c = candidate(&pid, &format!("c{i:03}"));
            if i % 10 == 0 {
                c.request_id = Some(format!("req-{i}"));
                c.requested_at = Some(t0());
            }
            c
        })
        .collect();
    repo.put_candidates(&many).await.expect("put_candidates");
    let listed = repo.list_candidates(&pid).await.expect("list");
    assert_eq!(listed.len(), 31);
    assert_eq!(listed[0], one);
    assert_eq!(listed[1..], many[..], "by user id");

    let digests = repo.candidate_digests(&pid).await.expect("digests");
    assert_eq!(digests.len(), 31);
    assert_eq!(digests.get("c000"), Some(&(one.finding.clone(), false)));
    assert_eq!(digests.get("c010").map(|d| d.1), Some(true));
    assert_eq!(digests.get("c011").map(|d| d.1), Some(false));

    repo.delete_candidate(&pid, "c000").await.expect("delete");
    repo.delete_candidate(&pid, "c999")
        .await
        .expect("deleting nothing is fine");
    assert_eq!(repo.get_candidate(&pid, "c000").await.expect("get"), None);
    let drop: Vec<String> = (1..=27).map(|i| format!("c{i:03}")).collect();
    repo.delete_candidates(&pid, &drop).await.expect("delete");
    let left: Vec<String> = repo
        .list_candidates(&pid)
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.user_id)
        .collect();
    assert_eq!(left, ["c028", "c029", "c030"]);
    assert!(repo
        .list_candidates(&format!("{prefix}-none"))
        .await
        .expect("list")
        .is_empty());
}

async fn reclaims(r: &impl Repos, prefix: &str) {
    let repo = r.reclaims();
    let pid = format!("{prefix}-recl");
    let first = record(&pid, "u1", t0());
    assert!(repo.create(&first).await.expect("create"));
    assert!(!repo.create(&first).await.expect("create"), "id taken");
    let id = first.request.request_id.clone();
    assert_eq!(repo.get(&pid, &id).await.expect("get"), Some(first.clone()));
    assert_eq!(repo.get(&pid, "no-such").await.expect("get"), None);

    // versioned saves: the version moves on success only
    let mut a = first.clone();
    let mut b = first.clone();
    a.deliveries = 1;
    repo.save(&mut a).await.expect("save");
    assert_eq!(a.version, first.version + 1);
    assert_eq!(repo.get(&pid, &id).await.expect("get"), Some(a.clone()));
    b.deliveries = 2;
    let lost = repo.save(&mut b).await;
    assert!(matches!(lost, Err(StoreError::Conflict(_))), "{lost:?}");
    assert_eq!(b.version, first.version, "unchanged on conflict");
    assert_eq!(
        repo.get(&pid, &id)
            .await
            .expect("get")
            .map(|x| x.deliveries),
        Some(1)
    );
    let mut never = record(&pid, "u9", t0());
    assert!(matches!(
        repo.save(&mut never).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        repo.get(&pid, &never.request.request_id)
            .await
            .expect("get"),
        None
    );

    // newest first
    let second = record(&pid, "u2", t0() + chrono::Duration::minutes(1));
    let third = record(&pid, "u3", t0() + chrono::Duration::minutes(2));
    assert!(repo.create(&third).await.expect("create"));
    assert!(repo.create(&second).await.expect("create"));
    let order: Vec<String> = repo
        .list(&pid)
        .await
        .expect("list")
        .into_iter()
        .map(|x| x.request.user_id)
        .collect();
    assert_eq!(order, ["u3", "u2", "u1"]);
    assert!(repo
        .list(&format!("{prefix}-none"))
        .await
        .expect("list")
        .is_empty());

    // messages that were not requests
    let msgs: Vec<InvalidMessage> = (1..=2)
        .map(|i| InvalidMessage {
            message_id: format!("{prefix}-msg-{i}"),
            received_at: t0(),
            error: "not JSON".into(),
            body_excerpt: "{oops".into(),
            body_bytes: 5,
        })
        .collect();
    for m in &msgs {
        repo.put_invalid(m).await.expect("put_invalid");
    }
    let stored: Vec<InvalidMessage> = repo
        .list_invalid()
        .await
        .expect("list_invalid")
        .into_iter()
        .filter(|m| m.message_id.starts_with(prefix))
        .collect();
    assert_eq!(stored, msgs);

    // the daily cap
    let day = "2026-01-05";
    assert!(repo.count_reclaim(&pid, day, 2).await.expect("count"));
    assert!(repo.count_reclaim(&pid, day, 2).await.expect("count"));
    assert!(
        !repo.count_reclaim(&pid, day, 2).await.expect("count"),
        "cap"
    );
    assert!(
        !repo.count_reclaim(&pid, day, 2).await.expect("count"),
        "cap"
    );
    assert!(
        repo.count_reclaim(&pid, day, 3).await.expect("count"),
        "higher cap"
    );
    assert!(repo
        .count_reclaim(&pid, "2026-01-06", 2)
        .await
        .expect("count"));
    assert!(repo
        .count_reclaim(&format!("{prefix}-none"), day, 2)
        .await
        .expect("count"));

    // approvals
    let req = ReclaimRequest::new(&pid, "u1", false, "seatctl:alice", None);
    assert_eq!(
        repo.get_approval(&pid, &req.request_id).await.expect("get"),
        None
    );
    let a = Approval::for_request(&req, "seatctl approve", t0());
    repo.put_approval(&a).await.expect("put_approval");
    let got = repo
        .get_approval(&pid, &req.request_id)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(got, a);
    assert!(got.covers(&req));
    let mut other_user = req.clone();
    other_user.user_id = "u2".into();
    assert!(!got.covers(&other_user));

    // one open request per (profile, user)
    let lock = |user: &'static str, me: &'static str, stale: Option<&'static str>| {
        let pid = pid.clone();
        async move { repo.lock_user(&pid, user, me, stale).await.expect("lock") }
    };
    assert_eq!(lock("u1", "r1", None).await, UserLock::Taken);
    assert_eq!(lock("u1", "r1", None).await, UserLock::Taken, "re-entrant");
    assert_eq!(lock("u1", "r2", None).await, UserLock::HeldBy("r1".into()));
    assert_eq!(lock("u2", "r2", None).await, UserLock::Taken, "per user");
    assert_eq!(
        lock("u1", "r3", Some("r1")).await,
        UserLock::Taken,
        "take over"
    );
    repo.unlock_user(&pid, "u1", "r1")
        .await
        .expect("not the holder: a no-op");
    assert_eq!(lock("u1", "r4", None).await, UserLock::HeldBy("r3".into()));
    repo.unlock_user(&pid, "u1", "r3").await.expect("unlock");
    assert_eq!(lock("u1", "r4", None).await, UserLock::Taken);
}

/// A run saved at a deadline: its state and blobs (several parts: 700 000 bytes cross the
/// store's 300 000-byte parts), replaced by a later save, all gone after a clear, per profile.
async fn run_states(r: &impl Repos, prefix: &str) {
    let runs = r.runs();
    let pid = format!("{prefix}-state");
    let other = format!("{prefix}-state2");
    assert_eq!(runs.get_run_state(&pid).await.expect("get"), None);
    let data: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    let blob = runs
        .put_run_blob(&pid, "run-a", "seen-1", &data)
        .await
        .expect("put blob");
    assert!(blob.parts >= 3, "{blob:?}");
    assert_eq!(
        runs.get_run_blob(&pid, "run-a", &blob).await.expect("get"),
        data
    );
    let small = runs
        .put_run_blob(&pid, "run-a", "activity-1", b"{}")
        .await
        .expect("put blob");
    assert_eq!(small.parts, 1);
    let mut state = RunState {
        profile_id: pid.clone(),
        run_id: "run-a".into(),
        started: t0(),
        saved_at: t0() + chrono::Duration::minutes(14),
        invocations: 1,
        stage: RunStage::Roster {
            resume: Some("marker-7".into()),
        },
        window_start: t0() - chrono::Duration::days(90),
        window_end: t0(),
        checkpoint: None,
        tasks: vec![TaskRun::start(&pid, "run-a", TaskKind::Activity, t0())],
        current: Some(TaskRun::start(
            &pid,
            "run-a",
            TaskKind::ApplicationRoster,
            t0(),
        )),
        activity: Some(small.clone()),
        seen: vec![blob.clone()],
        index: Some(crate::domain::IndexTicket {
            rev: 7,
            snapshot: Some(crate::domain::SnapshotRef { rev: 6, parts: 2 }),
            notes: vec![crate::domain::SnapshotNote {
                user_id: "u3".into(),
                nonce: "n-1".into(),
            }],
            empty: false,
        }),
        writing: true,
        tally: Default::default(),
        scope: Default::default(),
        roster_present: Some(12),
    };
    // only the lease's holder saves
    assert!(!runs
        .put_run_state(&state, "run-a#1#x")
        .await
        .expect("no lease"));
    assert_eq!(runs.get_run_state(&pid).await.expect("get"), None);
    assert!(runs
        .acquire_lease(&pid, "run-a#1#x", t0(), Duration::from_secs(60))
        .await
        .expect("lease"));
    assert!(runs
        .put_run_state(&state, "run-a#1#x")
        .await
        .expect("put state"));
    assert_eq!(
        runs.get_run_state(&pid).await.expect("get"),
        Some(state.clone())
    );
    state.invocations = 2;
    state.stage = RunStage::Reclamation;
    assert!(runs
        .put_run_state(&state, "run-a#1#x")
        .await
        .expect("replace state"));
    assert!(!runs
        .put_run_state(&state, "run-a#2#y")
        .await
        .expect("not the holder"));
    runs.release_lease(&pid, "run-a#1#x")
        .await
        .expect("release");
    assert_eq!(
        runs.get_run_state(&pid).await.expect("get"),
        Some(state.clone())
    );
    // a part missing (the ref claims more than were stored) is an error, not short data
    let claimed = BlobRef {
        name: small.name.clone(),
        parts: 2,
    };
    assert!(runs.get_run_blob(&pid, "run-a", &claimed).await.is_err());
    let kept = runs
        .put_run_blob(&other, "run-z", "seen-1", b"[\"1\"]")
        .await
        .expect("put blob");
    // another run's clear leaves this run's state and blobs
    runs.clear_run_state(&pid, "run-b")
        .await
        .expect("clear other");
    assert_eq!(
        runs.get_run_state(&pid).await.expect("get"),
        Some(state.clone())
    );
    assert!(runs.get_run_blob(&pid, "run-a", &blob).await.is_ok());
    runs.clear_run_state(&pid, "run-a").await.expect("clear");
    assert_eq!(runs.get_run_state(&pid).await.expect("get"), None);
    assert!(runs.get_run_blob(&pid, "run-a", &blob).await.is_err());
    assert_eq!(
        runs.get_run_blob(&other, "run-z", &kept)
            .await
            .expect("other profile's"),
        b"[\"1\"]".to_vec()
    );
    runs.clear_run_state(&other, "run-z").await.expect("clear");
    runs.clear_run_state(&other, "run-z")
        .await
        .expect("clearing nothing is fine");
}

async fn runs_and_licenses(r: &impl Repos, prefix: &str) {
    let runs = r.runs();
    let pid = format!("{prefix}-runs");

    // the lease: one holder until released by it or expired
    let now = t0();
    let ttl = Duration::from_secs(60);
    assert!(runs
        .acquire_lease(&pid, "a", now, ttl)
        .await
        .expect("acquire"));
    assert!(!runs
        .acquire_lease(&pid, "b", now, ttl)
        .await
        .expect("acquire"));
    assert!(!runs
        .acquire_lease(&pid, "a", now + chrono::Duration::seconds(60), ttl)
        .await
        .expect("acquire"));
    runs.release_lease(&pid, "b").await.expect("release");
    assert!(!runs
        .acquire_lease(&pid, "b", now, ttl)
        .await
        .expect("acquire"));
    let later = now + chrono::Duration::seconds(61);
    assert!(runs
        .acquire_lease(&pid, "b", later, ttl)
        .await
        .expect("expired"));
    runs.release_lease(&pid, "a").await.expect("release");
    assert!(!runs
        .acquire_lease(&pid, "c", later, ttl)
        .await
        .expect("acquire"));
    runs.release_lease(&pid, "b").await.expect("release");
    assert!(runs
        .acquire_lease(&pid, "c", later, ttl)
        .await
        .expect("acquire"));
    assert!(runs
        .acquire_lease(&format!("{prefix}-none"), "a", now, ttl)
        .await
        .expect("per profile"));

    // task runs: newest first by start, then run id, then task (descending), one per key
    let start = t0();
    let roster = TaskRun::start(&pid, "run-a", TaskKind::ApplicationRoster, start);
    let activity = TaskRun::start(&pid, "run-a", TaskKind::Activity, start);
    let mut newer = TaskRun::start(
        &pid,
        "run-b",
        TaskKind::Reclamation,
        start + chrono::Duration::milliseconds(5),
    );
    for t in [&activity, &newer, &roster] {
        runs.put_task_run(t).await.expect("put_task_run");
    }
    newer.finish(start + chrono::Duration::seconds(3), None);
    runs.put_task_run(&newer)
        .await
        .expect("the finish overwrites");
    let listed = runs.task_runs(&pid, 10).await.expect("task_runs");
    assert_eq!(listed, vec![newer.clone(), roster.clone(), activity]);
    assert_eq!(listed[0].status, TaskStatus::Succeeded);
    assert_eq!(
        runs.task_runs(&pid, 2).await.expect("task_runs"),
        vec![newer, roster]
    );

    // checkpoints
    let stream = "box_admin_logs_logins";
    assert_eq!(runs.get_checkpoint(&pid, stream).await.expect("get"), None);
    let mut c = Checkpoint {
        stream: stream.into(),
        read_until: t0(),
        run_id: "run-a".into(),
        updated_at: t0(),
        observed_since: Some(t0() - chrono::Duration::days(90)),
    };
    runs.put_checkpoint(&pid, &c).await.expect("put");
    assert_eq!(
        runs.get_checkpoint(&pid, stream).await.expect("get"),
        Some(c.clone())
    );
    c.read_until = t0() + chrono::Duration::hours(1);
    runs.put_checkpoint(&pid, &c).await.expect("put");
    assert_eq!(
        runs.get_checkpoint(&pid, stream).await.expect("get"),
        Some(c)
    );
    assert_eq!(runs.get_checkpoint(&pid, "other").await.expect("get"), None);

    run_states(r, prefix).await;

    // license summaries share the profile's partition with the lease and checkpoints
    let seats = r.seats();
    let summary = |license_type: &str, assigned: u32| LicenseSummary {
        profile_id: pid.clone(),
        license_type: license_type.into(),
        managed: true,
        purchased: Some(10),
        assigned,
        active: 1,
        inactive: assigned - 1,
        never_logged_in: 0,
        unassigned: Some(10 - assigned),
        over_assigned: None,
        unit_price_cents: Some(2500),
        currency: Some("USD".into()),
        monthly_cost_cents: Some(25_000),
        monthly_waste_cents: None,
        inactive_after_days: 60,
        computed_at: t0(),
        run_id: "run-a".into(),
    };
    let list = vec![summary("full", 4), summary("basic", 2)];
    seats.put_license_summaries(&list).await.expect("put");
    seats
        .put_license_summaries(&[summary("full", 5)])
        .await
        .expect("put");
    assert_eq!(
        seats.license_summaries(&pid).await.expect("list"),
        vec![summary("basic", 2), summary("full", 5)]
    );
    assert!(seats
        .license_summaries(&format!("{prefix}-none"))
        .await
        .expect("list")
        .is_empty());
}

async fn connects(r: &impl Repos, prefix: &str) {
    let repo = r.connects();
    let digest = format!("{prefix}-digest");
    let p = PendingConnect {
        profile_id: format!("{prefix}-dbx"),
        slot: Slot::Reclaim,
        created_at: t0(),
        expires_at: t0() + chrono::Duration::minutes(10),
        started_by: "contract".into(),
    };
    repo.put_pending(&digest, &p).await.expect("put_pending");
    assert!(
        repo.put_pending(&digest, &p).await.is_err(),
        "a state is stored once"
    );
    let expired = repo
        .consume_pending(&digest, p.expires_at)
        .await
        .expect("consume");
    assert_eq!(expired, None, "expired at expires_at");
    let taken = repo.consume_pending(&digest, t0()).await.expect("consume");
    assert_eq!(taken, Some(p));
    assert_eq!(
        repo.consume_pending(&digest, t0()).await.expect("consume"),
        None,
        "single use"
    );
    assert_eq!(
        repo.consume_pending(&format!("{prefix}-unknown"), t0())
            .await
            .expect("consume"),
        None
    );
}

async fn notices(r: &impl Repos, prefix: &str) {
    let repo = r.notices();
    let pid = format!("{prefix}-notices");
    let c = candidate(&pid, "u1");
    let mut n = Notice::new(&c, Some("u1@example.com".into()), t0());
    assert!(repo.create_notice(&n).await.expect("create"));
    assert!(
        !repo.create_notice(&n).await.expect("create"),
        "one notice per candidacy"
    );
    let digest = format!("{prefix}-{}", "d".repeat(40));
    n.sent("m-1".into(), digest.clone(), t0(), 7)
        .expect("pending → sent");
    repo.save_notice(&mut n).await.expect("save");
    assert_eq!(n.version, 1);
    let stale = {
        let mut s = n.clone();
        s.version = 0;
        s
    };
    assert!(matches!(
        repo.save_notice(&mut stale.clone()).await,
        Err(StoreError::Conflict(_))
    ));
    let got = repo
        .get_notice(&pid, "u1", &n.candidacy)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(got, n);
    // a second candidacy of the same user sorts after the first; another user's stays apart
    let mut later = candidate(&pid, "u1");
    later.listed_at = t0() + chrono::Duration::days(100);
    let n2 = Notice::new(&later, None, later.listed_at);
    assert_eq!(n2.state, NoticeState::NoEmail);
    assert!(repo.create_notice(&n2).await.expect("create"));
    assert!(repo
        .create_notice(&Notice::new(&candidate(&pid, "u0"), None, t0()))
        .await
        .expect("create"));
    let all = repo.notices(&pid).await.expect("list");
    let keys: Vec<(&str, &str)> = all
        .iter()
        .map(|n| (n.user_id.as_str(), n.candidacy.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("u0", n.candidacy.as_str()),
            ("u1", n.candidacy.as_str()),
            ("u1", n2.candidacy.as_str())
        ]
    );
    assert!(repo
        .notices(&format!("{pid}x"))
        .await
        .expect("list")
        .is_empty());

    // message lookups: which notice an SES message id was sent for (bounces name only it)
    let msg_id = format!("{prefix}-ses-0100017example");
    assert_eq!(repo.get_message(&msg_id).await.expect("get"), None);
    let m = NoticeMessage::of(&n, &msg_id, t0());
    repo.put_message(&m).await.expect("put");
    repo.put_message(&m).await.expect("a re-put is harmless");
    assert_eq!(repo.get_message(&msg_id).await.expect("get"), Some(m));
    assert_eq!(
        repo.get_message(&format!("{msg_id}x")).await.expect("get"),
        None
    );

    // tokens: stored once by digest; a keep consumes it with the notice, atomically
    let token = NoticeToken {
        profile_id: pid.clone(),
        user_id: "u1".into(),
        candidacy: n.candidacy.clone(),
        issued_at: t0(),
        expires_at: t0() + chrono::Duration::days(7),
        used_at: None,
    };
    repo.put_token(&digest, &token).await.expect("put_token");
    assert!(
        repo.put_token(&digest, &token).await.is_err(),
        "stored once"
    );
    assert_eq!(
        repo.get_token(&digest).await.expect("get_token"),
        Some(token.clone())
    );
    let keep = |at: DateTime<Utc>| {
        Keep::new(
            &pid,
            "u1",
            "u1@example.com",
            at,
            90,
            Some("needed"),
            "u1@example.com",
            KeepSource::KeepPage,
        )
        .with_candidacy(n.candidacy.clone())
    };
    let expired = token.expires_at;
    assert_eq!(
        repo.keep(&digest, &keep(expired), expired)
            .await
            .expect("keep"),
        KeepOutcome::Refused,
        "expired at expires_at"
    );
    assert_eq!(
        repo.keep(&format!("{digest}x"), &keep(t0()), t0())
            .await
            .expect("keep"),
        KeepOutcome::Refused,
        "unknown digest"
    );
    assert_eq!(
        r.seats().get_keep(&pid, "u1").await.expect("get_keep"),
        None
    );
    let now = t0() + chrono::Duration::days(1);
    assert_eq!(
        repo.keep(&digest, &keep(now), now).await.expect("keep"),
        KeepOutcome::Kept
    );
    assert_eq!(
        r.seats().get_keep(&pid, "u1").await.expect("get_keep"),
        Some(keep(now))
    );
    let kept = repo
        .get_notice(&pid, "u1", &n.candidacy)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(kept.state, NoticeState::Kept);
    assert_eq!(kept.keep_reason.as_deref(), Some("needed"));
    assert_eq!(kept.version, 2);
    assert_eq!(
        repo.get_token(&digest)
            .await
            .expect("get_token")
            .and_then(|t| t.used_at),
        Some(now)
    );
    let again = now + chrono::Duration::hours(1);
    assert_eq!(
        repo.keep(&digest, &keep(again), again).await.expect("keep"),
        KeepOutcome::Refused,
        "single use"
    );
    assert_eq!(
        r.seats().get_keep(&pid, "u1").await.expect("get_keep"),
        Some(keep(now)),
        "the refused keep wrote nothing"
    );

    // digest markers: once per day, given back on failure, the newest is the last
    assert_eq!(repo.last_digest(&pid).await.expect("last"), None);
    assert!(repo
        .claim_digest(&pid, "2026-01-05", t0())
        .await
        .expect("claim"));
    assert!(!repo
        .claim_digest(&pid, "2026-01-05", t0())
        .await
        .expect("claim"));
    let next = t0() + chrono::Duration::days(1);
    assert!(repo
        .claim_digest(&pid, "2026-01-06", next)
        .await
        .expect("claim"));
    assert_eq!(repo.last_digest(&pid).await.expect("last"), Some(next));
    repo.release_digest(&pid, "2026-01-06")
        .await
        .expect("release");
    assert_eq!(repo.last_digest(&pid).await.expect("last"), Some(t0()));
    assert!(repo
        .claim_digest(&pid, "2026-01-06", next)
        .await
        .expect("claim"));
    assert_eq!(
        repo.last_digest(&format!("{pid}x")).await.expect("last"),
        None
    );
}
