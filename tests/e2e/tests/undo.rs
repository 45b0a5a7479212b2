//! The undo window end to end (`removal: suspend-first`): requests on a real SQS queue (moto)
//! delivered to the reclaim handler, the sync's Reclamation task re-posting a request whose
//! window ended, `undo::restore` over the real adapters, and the provider sandbox as Box and
//! Dropbox. No test waits: `suspend_days = 0` ends a window at once (the request still stops at
//! `suspended`, and the next sync re-posts it).
use chrono::{Duration, Utc};
use provider_sandbox::{NewBoxUser, NewDropboxMember, RemoveMode};
use seatkeeper::domain::{
    KeepSource, Profile, ReclaimRecord, ReclaimRequest, ReclaimStatus, RemovalMode, TaskKind,
};
use seatkeeper::handlers::sync::handle;
use seatkeeper::ports::{ProfileRepo, ReclaimRepo, RunRepo, SeatRepo, StoreError};
use seatkeeper::providers::dropbox_api::Slot;
use seatkeeper::undo::{self, RestoreArgs, RestoreError};
use seatkeeper::wiring;
use seatkeeper_e2e::TestEnv;
use serde_json::json;

use ReclaimStatus::*;

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

fn statuses(r: &ReclaimRecord) -> Vec<ReclaimStatus> {
    r.steps.iter().map(|s| s.status).collect()
}

async fn restore(env: &TestEnv, profile: &str, user: &str) -> Result<undo::Restore, RestoreError> {
    let providers = wiring::provider_adapters(&env.config, &env.aws).expect("providers");
    let args = RestoreArgs {
        profile_id: profile.into(),
        user: user.into(),
        by: "seatctl:alice".into(),
        reason: Some("INC-42".into()),
    };
    undo::restore(&env.store, &providers, &args, Utc::now()).await
}

/// A Box profile in suspend-first mode with a stale user owning 3 files; synced. Returns
/// (profile, admin id, stale id).
async fn box_setup(env: &TestEnv, suspend_days: u32) -> (Profile, String, String) {
    let tenant = env.sandbox.box_tenant();
    let admin = tenant.users()[0].clone();
    let mut stale = NewBoxUser::member("Stale Sam", "stale@example.com");
    stale.created_at = Utc::now() - Duration::days(400);
    let stale = tenant.add_user(stale);
    tenant.add_event(&stale.id, "LOGIN", Utc::now() - Duration::days(100));
    tenant.set_owned_files(&stale.id, 3);
    let profile = env.add_box_profile().await;
    let admin_id = admin.id.clone();
    edit_profile(env, &profile.id, |p| {
        p.backfill_days = Some(365);
        p.rules.transfer_target = Some(admin_id.clone());
        p.rules.removal = RemovalMode::SuspendFirst;
        p.rules.suspend_days = suspend_days;
    })
    .await;
    let report = handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    assert!(report.profiles[0].succeeded);
    let profile = env.store.profiles.get(&profile.id).await.unwrap().unwrap();
    (profile, admin.id, stale.id)
}

/// A Dropbox profile in suspend-first mode, both slots connected, with a stale member owning 4
/// files; synced. Returns (profile, reclaim admin, stale member).
async fn dropbox_setup(env: &TestEnv, suspend_days: u32) -> (Profile, String, String) {
    let team = env.sandbox.dropbox_team();
    let mut m = NewDropboxMember::member("stale@dbx.example.com", "Stale", "Member");
    m.joined_on = Utc::now() - Duration::days(300);
    let stale = team.add_member(m);
    team.add_login(&stale.team_member_id, Utc::now() - Duration::days(100));
    team.set_owned_files(&stale.team_member_id, 4);
    team.set_num_licensed_users(1000);
    let profile = env.add_dropbox_profile().await;
    edit_profile(env, &profile.id, |p| {
        p.backfill_days = Some(365);
        p.rules.removal = RemovalMode::SuspendFirst;
        p.rules.suspend_days = suspend_days;
    })
    .await;
    for slot in [Slot::Sync, Slot::Reclaim] {
        assert_eq!(env.connect_dropbox(&profile.id, slot).await.status, 200);
    }
    let report = handle(&env.dropbox_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    assert!(report.profiles[0].succeeded);
    let profile = env.store.profiles.get(&profile.id).await.unwrap().unwrap();
    (profile, team.authorizing_admin(), stale.team_member_id)
}

#[tokio::test]
async fn box_suspends_first_then_the_next_sync_continues_with_transfer_and_delete() {
    let env = TestEnv::start(12, 71).await;
    let (profile, admin, stale) = box_setup(&env, 0).await;
    let tenant = env.sandbox.box_tenant();
    let req = ReclaimRequest::new(&profile.id, &stale, false, "test:alice", None);
    env.enqueue(&req).await;
    let (_, response) = env.deliver(&env.reclaimer()).await;
    assert!(response.batch_item_failures.is_empty(), "acknowledged");
    let r = record(&env, &profile.id, &req.request_id).await;
    assert_eq!(statuses(&r), [Received, Verified, Suspending, Suspended]);
    assert!(r.steps[2]
        .detail
        .contains(&format!("PUT /users/{stale} status=inactive")));
    assert_eq!(tenant.user(&stale).unwrap().status, "inactive");
    assert_eq!(tenant.owned_items(&stale).len(), 3, "content untouched");
    assert!(tenant.transfers().is_empty() && tenant.deleted_users().is_empty());
    let batch = env
        .store
        .runs
        .task_runs(&profile.id, 20)
        .await
        .unwrap()
        .into_iter()
        .find_map(|t| t.detail.filter(|d| d.starts_with("reclaim batch")))
        .expect("the reclaim batch's task run");
    assert!(
        batch.contains("0 reclaimed") && batch.contains("undo window: 1 suspended"),
        "{batch}"
    );

    // the next sync re-posts it (its window is over), and the delivery removes the seat
    let report = handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    assert!(report.profiles[0].succeeded);
    let detail = report.profiles[0]
        .task(TaskKind::Reclamation)
        .unwrap()
        .detail
        .clone()
        .unwrap_or_default();
    assert!(
        detail.contains("1 undo window(s) ended: 1 request(s) re-posted"),
        "{detail}"
    );
    let (_, response) = env.deliver(&env.reclaimer()).await;
    assert!(response.batch_item_failures.is_empty());
    let r = record(&env, &profile.id, &req.request_id).await;
    assert_eq!(
        statuses(&r),
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
    assert!(!tenant.has_user(&stale));
    let transfers = tenant.transfers();
    assert_eq!(transfers.len(), 1);
    assert_eq!(
        (transfers[0].to_user_id.as_str(), transfers[0].items_moved),
        (admin.as_str(), 3)
    );
    assert!(tenant.owned_items(&admin).contains(&transfers[0].folder_id));

    // a deleted Box user cannot be restored: the message names the folder
    let e = restore(&env, &profile.id, "stale@example.com")
        .await
        .unwrap_err();
    let RestoreError::CannotBeUndone(msg) = e else {
        panic!("{e:?}")
    };
    assert!(
        msg.contains("cannot be restored") && msg.contains(&transfers[0].folder_id),
        "{msg}"
    );
    assert_eq!(
        record(&env, &profile.id, &req.request_id).await.status,
        Done
    );
}

#[tokio::test]
async fn box_restore_in_the_window_reactivates_and_keeps() {
    let env = TestEnv::start(12, 72).await;
    let (profile, _, stale) = box_setup(&env, 14).await;
    let tenant = env.sandbox.box_tenant();
    let req = ReclaimRequest::new(&profile.id, &stale, false, "test:alice", None);
    env.enqueue(&req).await;
    env.deliver(&env.reclaimer()).await;
    assert_eq!(tenant.user(&stale).unwrap().status, "inactive");
    // a redelivery in the window changes nothing
    env.enqueue(&req).await;
    env.deliver(&env.reclaimer()).await;
    assert_eq!(
        record(&env, &profile.id, &req.request_id).await.steps.len(),
        4
    );

    let r = restore(&env, &profile.id, &stale).await.unwrap();
    assert!(!r.recovered);
    assert_eq!(tenant.user(&stale).unwrap().status, "active");
    assert_eq!(tenant.owned_items(&stale).len(), 3);
    let rec = record(&env, &profile.id, &req.request_id).await;
    assert_eq!(rec.status, Restored);
    assert!(rec.steps.last().unwrap().detail.contains("INC-42"));
    let keep = env
        .store
        .seats
        .get_keep(&profile.id, &stale)
        .await
        .unwrap()
        .expect("keep");
    assert_eq!(keep.source, KeepSource::Restore);
    assert!(keep.is_active(Utc::now()));
    // the next sync does not pick them again
    handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    assert!(env
        .store
        .seats
        .get_candidate(&profile.id, &stale)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn dropbox_suspends_without_wiping_then_removes_and_recovers() {
    let env = TestEnv::start_with(3, 10, 73).await;
    let (profile, admin, stale) = dropbox_setup(&env, 0).await;
    let team = env.sandbox.dropbox_team();
    team.set_remove_mode(RemoveMode::Complete);
    let req = ReclaimRequest::new(&profile.id, &stale, false, "test:alice", None);
    env.enqueue(&req).await;
    env.deliver(&env.reclaimer()).await;
    let r = record(&env, &profile.id, &req.request_id).await;
    assert_eq!(r.status, Suspended);
    assert_eq!(team.member(&stale).unwrap().status.tag(), "suspended");
    let s = team.suspensions();
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].team_member_id.as_str(), s[0].wipe_data),
        (stale.as_str(), false)
    );
    assert!(team.removals().is_empty());

    let admin_files = team.files_owned_by(&admin);
    handle(&env.dropbox_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    let (_, response) = env.deliver(&env.reclaimer()).await;
    assert!(response.batch_item_failures.is_empty());
    let r = record(&env, &profile.id, &req.request_id).await;
    assert_eq!(
        statuses(&r),
        [Received, Verified, Suspending, Suspended, Removing, Removed, Done]
    );
    assert!(team.member(&stale).unwrap().status.is_removed());
    assert_eq!(team.files_owned_by(&admin), admin_files + 4);
    assert!(!team.removals()[0].wipe_data);

    // recovered while Dropbox still can: a license in use again, the files stay with the admin
    let restored = restore(&env, &profile.id, "stale@dbx.example.com")
        .await
        .unwrap();
    assert!(restored.recovered);
    assert_eq!(restored.files_with.as_deref(), Some(admin.as_str()));
    assert_eq!(team.member(&stale).unwrap().status.tag(), "active");
    assert_eq!(team.recoveries(), vec![stale.clone()]);
    assert_eq!(team.files_owned_by(&admin), admin_files + 4);
    assert_eq!(
        record(&env, &profile.id, &req.request_id).await.status,
        Restored
    );
}

#[tokio::test]
async fn dropbox_restore_in_the_window_unsuspends_and_recover_after_the_days_is_refused() {
    let env = TestEnv::start_with(3, 10, 74).await;
    let (profile, _, stale) = dropbox_setup(&env, 14).await;
    let team = env.sandbox.dropbox_team();
    let req = ReclaimRequest::new(&profile.id, &stale, false, "test:alice", None);
    env.enqueue(&req).await;
    env.deliver(&env.reclaimer()).await;
    assert_eq!(team.member(&stale).unwrap().status.tag(), "suspended");
    let r = restore(&env, &profile.id, &stale).await.unwrap();
    assert!(!r.recovered);
    assert_eq!(team.member(&stale).unwrap().status.tag(), "active");
    assert_eq!(
        record(&env, &profile.id, &req.request_id).await.status,
        Restored
    );
    // a second restore has nothing to do
    assert!(matches!(
        restore(&env, &profile.id, &stale).await,
        Err(RestoreError::NothingToRestore(_))
    ));

    // another member, removed (immediately) and past its recovery days: refused, unchanged
    team.set_remove_mode(RemoveMode::Complete);
    // (the daily cap counted the first suspension)
    edit_profile(&env, &profile.id, |p| {
        p.rules.removal = RemovalMode::Immediate;
        p.rules.max_percent = 100;
    })
    .await;
    let mut m = NewDropboxMember::member("gone@dbx.example.com", "Gone", "Member");
    m.joined_on = Utc::now() - Duration::days(300);
    let gone = team.add_member(m).team_member_id;
    team.add_login(&gone, Utc::now() - Duration::days(100));
    handle(&env.dropbox_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    let req = ReclaimRequest::new(&profile.id, &gone, false, "test:alice", None);
    env.enqueue(&req).await;
    env.deliver(&env.reclaimer()).await;
    let r = record(&env, &profile.id, &req.request_id).await;
    assert_eq!(r.status, Done, "{:?}", r.reason);
    assert!(team.expire_recovery(&gone));
    let e = restore(&env, &profile.id, &gone).await.unwrap_err();
    let RestoreError::Refused(r) = e else {
        panic!("{e:?}")
    };
    assert_eq!(r.code, "user_unrecoverable");
    assert!(team.member(&gone).unwrap().status.is_removed());
    assert_eq!(
        record(&env, &profile.id, &req.request_id).await.status,
        Done
    );
}
