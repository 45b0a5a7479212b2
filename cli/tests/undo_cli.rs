//! `seatctl rules set --removal/--suspend-days` and `seatctl restore` end to end: the real binary
//! against moto (DynamoDB, SQS, Secrets Manager) and the provider sandbox (Box), with the reclaim
//! function's engine delivering the queue in-process. Exit codes and what the operator reads are
//! checked, and the state at the sandbox and in DynamoDB.
use chrono::{Duration, Utc};
use provider_sandbox::NewBoxUser;
use seatkeeper::domain::{KeepSource, ReclaimStatus};
use seatkeeper::ports::{ReclaimRepo, SeatRepo};
use seatkeeper_e2e::{unique, TestEnv};

mod common;
use common::Seatctl;

/// A synced Box profile with credentials, the admin as transfer target, in suspend-first mode
/// for 14 days; two stale users owning 3 files each. Returns (admin, stale1, stale2).
fn setup(cli: &Seatctl<'_>, id: &str) -> (String, String, String) {
    let tenant = cli.env.sandbox.box_tenant();
    let admin = tenant.users()[0].id.clone();
    let mut ids = Vec::new();
    for (name, login) in [
        ("Stale Sam", "sam@example.com"),
        ("Stale Sue", "sue@example.com"),
    ] {
        let mut u = NewBoxUser::member(name, login);
        u.created_at = Utc::now() - Duration::days(400);
        let u = tenant.add_user(u);
        tenant.add_event(&u.id, "LOGIN", Utc::now() - Duration::days(100));
        tenant.set_owned_files(&u.id, 3);
        ids.push(u.id);
    }
    cli.add_box_profile(id);
    let r = cli.run_with_stdin(
        &[
            "credentials",
            "set-box",
            id,
            "--client-id",
            &tenant.client_id(),
            "--client-secret-stdin",
        ],
        &tenant.client_secret(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let out = cli.ok(&[
        "rules",
        "set",
        id,
        "--transfer-to",
        &admin,
        "--removal",
        "suspend-first",
        "--suspend-days",
        "14",
        "--max-percent",
        "100",
    ]);
    assert!(
        out.contains("suspend-first: suspended now, removed after 14 day(s) unless restored"),
        "{out}"
    );
    cli.ok(&["sync", id]);
    (admin, ids.remove(0), ids.remove(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_set_removal_is_shown_and_bad_values_are_refused() {
    let env = TestEnv::start(3, 81).await;
    let cli = Seatctl::new(&env);
    let id = unique("undo-rules");
    cli.add_box_profile(&id);
    let rules = cli.json(&["rules", "show", &id, "--output", "json"]);
    assert_eq!(rules["removal"], "immediate");
    assert_eq!(rules["suspend_days"], 14);
    cli.ok(&[
        "rules",
        "set",
        &id,
        "--removal",
        "suspend-first",
        "--suspend-days",
        "3",
    ]);
    let rules = cli.json(&["rules", "show", &id, "--output", "json"]);
    assert_eq!(
        (rules["removal"].as_str(), rules["suspend_days"].as_u64()),
        (Some("suspend_first"), Some(3))
    );
    let shown = cli.ok(&["profile", "show", &id]);
    assert!(
        shown.contains("suspend-first") && shown.contains("3 day(s)"),
        "{shown}"
    );
    let e = cli.fails(&["rules", "set", &id, "--removal", "later"], 2);
    assert!(e.contains("expected immediate or suspend-first"), "{e}");
    cli.fails(&["rules", "set", &id, "--suspend-days", "999"], 2);
    cli.ok(&["rules", "set", &id, "--removal", "immediate"]);
    assert_eq!(
        cli.json(&["rules", "show", &id, "--output", "json"])["removal"],
        "immediate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_unsuspends_in_the_window_and_refuses_what_cannot_be_undone() {
    let env = TestEnv::start(3, 82).await;
    let cli = Seatctl::new(&env);
    let id = unique("undo");
    let (admin, sam, sue) = setup(&cli, &id);
    let tenant = env.sandbox.box_tenant();

    // Sam: suspended by the reclaim, then restored by login
    let out = cli.ok(&["reclaim", &id, &sam, "--reason", "idle"]);
    assert!(out.contains("enqueued"), "{out}");
    env.deliver(&env.reclaimer()).await;
    assert_eq!(tenant.user(&sam).unwrap().status, "inactive");
    let listed = cli.ok(&["reclaims", &id]);
    assert!(listed.contains("suspended"), "{listed}");
    let out = cli.ok(&[
        "restore",
        &id,
        "sam@example.com",
        "--reason",
        "INC-7",
        "--by",
        "bob",
    ]);
    assert!(
        out.contains("restored sam@example.com")
            && out.contains("unsuspended, nothing was removed"),
        "{out}"
    );
    assert!(out.contains("kept: exempt from the rules until"), "{out}");
    assert_eq!(tenant.user(&sam).unwrap().status, "active");
    let keep = env
        .store
        .seats
        .get_keep(&id, &sam)
        .await
        .unwrap()
        .expect("keep");
    assert_eq!(
        (keep.source, keep.by.as_str(), keep.reason.as_deref()),
        (KeepSource::Restore, "seatctl:bob", Some("INC-7"))
    );
    let records = env.store.reclaims.list(&id).await.unwrap();
    let rec = records.iter().find(|r| r.request.user_id == sam).unwrap();
    assert_eq!(rec.status, ReclaimStatus::Restored);
    // again: nothing left to restore (exit 3)
    let e = cli.fails_quietly(&["restore", &id, &sam], 3);
    assert!(e.contains("already restored"), "{e}");
    // nobody: exit 3
    let e = cli.fails_quietly(&["restore", &id, "nobody@example.com"], 3);
    assert!(e.contains("no reclaim of nobody@example.com"), "{e}");

    // Sue: removed at once (immediate), then restore is refused with the folder named
    cli.ok(&["rules", "set", &id, "--removal", "immediate"]);
    cli.ok(&["reclaim", &id, &sue]);
    env.deliver(&env.reclaimer()).await;
    assert!(!tenant.has_user(&sue));
    let folder = tenant.transfers().last().unwrap().folder_id.clone();
    let e = cli.fails_quietly(&["restore", &id, &sue], 3);
    assert!(e.contains("a deleted Box user cannot be restored"), "{e}");
    assert!(
        e.contains(&format!("folder {folder}")) && e.contains(&admin),
        "{e}"
    );
    // nothing was restored: the keep restore wrote before the call is gone again
    assert_eq!(env.store.seats.get_keep(&id, &sue).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_user_an_admin_had_suspended_before_seatkeeper() {
    let env = TestEnv::start(3, 83).await;
    let cli = Seatctl::new(&env);
    let id = unique("undo-admin");
    let (_admin, _sam, sue) = setup(&cli, &id);
    let tenant = env.sandbox.box_tenant();
    // an admin suspended Sue in the Box console before seatkeeper acted
    tenant.set_status(&sue, "inactive");
    cli.ok(&["reclaim", &id, &sue]);
    env.deliver(&env.reclaimer()).await;
    let records = env.store.reclaims.list(&id).await.unwrap();
    let rec = records.iter().find(|r| r.request.user_id == sue).unwrap();
    assert_eq!(rec.status, ReclaimStatus::Suspended);
    assert!(rec.suspended_before);
    let e = cli.fails_quietly(&["restore", &id, "sue@example.com"], 3);
    assert!(
        e.contains("already suspended before seatkeeper acted")
            && e.contains("nothing was changed"),
        "{e}"
    );
    assert_eq!(tenant.user(&sue).unwrap().status, "inactive");
    assert_eq!(env.store.seats.get_keep(&id, &sue).await.unwrap(), None);
}
