//! Dropbox end to end: the connect flow through the real callback handler (driven with the query
//! the provider's redirect carries, as API Gateway hands it over), and the dropbox-sync handler.
//! moto server + the provider sandbox; every claim checked in DynamoDB, Secrets Manager or the
//! sandbox.
use std::collections::HashMap;

use chrono::{Duration, Utc};
use provider_sandbox::{DropboxMemberStatus, FaultKind, FaultRule, Route};
use seatkeeper::connect::{state_digest, PendingConnect};
use seatkeeper::domain::{Profile, TaskKind, TaskStatus};
use seatkeeper::handlers::oauth_callback;
use seatkeeper::handlers::sync::{handle, HandlerError};
use seatkeeper::ports::{ConnectRepo, ProfileRepo, RunRepo, SeatRepo};
use seatkeeper::providers::dropbox_api::Slot;
use seatkeeper_e2e::{seat, LogCapture, TestEnv};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

async fn slot_secret(env: &TestEnv, profile: &str, slot: &str) -> serde_json::Value {
    let raw = env
        .aws
        .secrets
        .get_secret_value()
        .secret_id(Profile::dropbox_secret_name(profile, slot))
        .send()
        .await
        .expect("secret")
        .secret_string()
        .unwrap()
        .to_owned();
    serde_json::from_str(&raw).unwrap()
}

fn every_secret(env: &TestEnv) -> Vec<String> {
    let team = env.sandbox.dropbox_team();
    let mut s = team.issued_tokens();
    s.push(team.sync_app().1);
    s.push(team.reclaim_app().1);
    s
}

#[tokio::test]
async fn connecting_both_slots_stores_tokens_and_the_reclaim_admin_and_shows_no_token() {
    let logs = LogCapture::default();
    let _g = logs.install();
    let env = TestEnv::start_with(10, 40, 3).await;
    let profile = env.add_dropbox_profile().await;
    let team = env.sandbox.dropbox_team();

    let page = env.connect_dropbox(&profile.id, Slot::Sync).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html.contains(&team.team_name()) && page.html.contains("sync"),
        "{}",
        page.html
    );
    let sync = slot_secret(&env, &profile.id, "sync").await;
    assert!(sync["refresh_token"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    assert_eq!(sync["team_id"], json!(team.team_id()));
    assert!(
        sync["admin_team_member_id"].is_null(),
        "the sync slot names no admin"
    );

    // the reclaim slot: the approving admin becomes the receiver of reclaimed files
    let admin = team
        .members()
        .into_iter()
        .find(|m| m.is_active_admin())
        .unwrap();
    let other_admin = team
        .members()
        .into_iter()
        .find(|m| {
            m.status == DropboxMemberStatus::Active && m.team_member_id != admin.team_member_id
        })
        .unwrap();
    team.set_authorizing_admin(&admin.team_member_id);
    let page = env.connect_dropbox(&profile.id, Slot::Reclaim).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html.contains(&admin.email),
        "the page names who receives files"
    );
    let reclaim = slot_secret(&env, &profile.id, "reclaim").await;
    assert_eq!(reclaim["admin_team_member_id"], json!(admin.team_member_id));

    // connecting again with another admin replaces the receiver
    team.set_role(
        &other_admin.team_member_id,
        Some(provider_sandbox::DropboxRole::TeamAdmin),
    );
    team.set_authorizing_admin(&other_admin.team_member_id);
    let page = env.connect_dropbox(&profile.id, Slot::Reclaim).await;
    assert_eq!(page.status, 200, "{}", page.html);
    let reclaim = slot_secret(&env, &profile.id, "reclaim").await;
    assert_eq!(
        reclaim["admin_team_member_id"],
        json!(other_admin.team_member_id)
    );

    // Application Access task runs record each connect
    let runs = env.store.runs.task_runs(&profile.id, 10).await.unwrap();
    let connects: Vec<_> = runs
        .iter()
        .filter(|t| t.task == TaskKind::ApplicationAccess)
        .collect();
    assert_eq!(connects.len(), 3);
    assert!(connects.iter().all(|t| t.status == TaskStatus::Succeeded));

    // no token or secret in the pages, the logs or DynamoDB
    let table = env.scan_all().await;
    let logged = logs.text();
    let secrets = every_secret(&env);
    assert!(
        secrets.len() >= 5,
        "app secrets plus issued access and refresh tokens"
    );
    for s in &secrets {
        assert!(!page.html.contains(s.as_str()));
        assert!(!logged.contains(s.as_str()), "a secret reached the logs");
        assert!(!table.contains(s.as_str()), "a secret reached DynamoDB");
    }
}

#[tokio::test]
async fn replayed_forged_expired_missing_and_denied_callbacks_store_nothing() {
    let env = TestEnv::start_with(10, 20, 4).await;
    let profile = env.add_dropbox_profile().await;
    let svc = env.connect_service();
    let not_connected = |v: &serde_json::Value| v["refresh_token"].is_null();

    // a good callback, then the same one replayed
    let query = env.authorize(&profile.id, Slot::Sync, "").await;
    assert_eq!(
        oauth_callback::handle(&svc, "dropbox", &query, None)
            .await
            .status,
        200
    );
    let replay = oauth_callback::handle(&svc, "dropbox", &query, None).await;
    assert_eq!(replay.status, 400);
    assert!(
        replay.html.contains("expired or already used"),
        "{}",
        replay.html
    );

    // everything below targets the reclaim slot, which must stay unconnected
    let forged: HashMap<String, String> = [
        ("code".to_string(), "abc".to_string()),
        ("state".to_string(), seatkeeper::connect::new_state()),
    ]
    .into();
    let page = oauth_callback::handle(&svc, "dropbox", &forged, None).await;
    assert_eq!(page.status, 400);

    let mut missing = env.authorize(&profile.id, Slot::Reclaim, "").await;
    missing.remove("state");
    let page = oauth_callback::handle(&svc, "dropbox", &missing, None).await;
    assert_eq!(page.status, 400);
    assert!(page.html.contains("state"), "{}", page.html);

    // an expired state (stored as seatctl would, 11 minutes ago)
    let state = seatkeeper::connect::new_state();
    let long_ago = Utc::now() - Duration::minutes(11);
    env.store
        .connects
        .put_pending(
            &state_digest(&state),
            &PendingConnect {
                profile_id: profile.id.clone(),
                slot: Slot::Reclaim,
                created_at: long_ago,
                expires_at: long_ago + seatkeeper::connect::STATE_TTL,
                started_by: "test".into(),
            },
        )
        .await
        .unwrap();
    let expired: HashMap<String, String> = [
        ("code".to_string(), "abc".to_string()),
        ("state".to_string(), state),
    ]
    .into();
    assert_eq!(
        oauth_callback::handle(&svc, "dropbox", &expired, None)
            .await
            .status,
        400
    );

    // a PKCE mismatch: the verifier the callback derives no longer matches the challenge
    let query = env.authorize(&profile.id, Slot::Reclaim, "").await;
    let (key, _) = env.sandbox.dropbox_team().reclaim_app();
    let name = Profile::dropbox_secret_name(&profile.id, "reclaim");
    let mut creds = env.secrets.dropbox_credentials(&name).await.unwrap();
    let real_secret = creds.app_secret.expose_secret().to_owned();
    creds.app_secret = SecretString::from("rotated-secret".to_owned());
    env.secrets
        .put_dropbox_credentials(&name, &creds)
        .await
        .unwrap();
    let page = oauth_callback::handle(&svc, "dropbox", &query, None).await;
    assert_eq!(page.status, 400, "{}", page.html);
    assert!(page.html.contains("Dropbox refused"), "{}", page.html);
    creds.app_secret = SecretString::from(real_secret);
    env.secrets
        .put_dropbox_credentials(&name, &creds)
        .await
        .unwrap();
    assert_eq!(creds.app_key, key);

    // the admin declines
    let denied = env
        .authorize(&profile.id, Slot::Reclaim, "&sandbox_deny=1")
        .await;
    assert_eq!(denied["error"], "access_denied");
    let page = oauth_callback::handle(&svc, "dropbox", &denied, None).await;
    assert_eq!(page.status, 403);
    assert!(page.html.contains("declined"), "{}", page.html);

    // none of that connected the reclaim slot
    assert!(not_connected(
        &slot_secret(&env, &profile.id, "reclaim").await
    ));
    // and an unknown provider path is a clear 404
    assert_eq!(
        oauth_callback::handle(&svc, "box", &HashMap::new(), None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn dropbox_sync_of_a_large_team_stores_seats_and_survives_token_expiry() {
    let env = TestEnv::start_with(10, 10_000, 8).await;
    let profile = env.add_dropbox_profile().await;
    assert_eq!(
        env.connect_dropbox(&profile.id, Slot::Sync).await.status,
        200
    );
    env.store
        .profiles
        .update(
            &profile.id,
            |p| -> Result<(), seatkeeper::ports::StoreError> {
                p.backfill_days = Some(365);
                Ok(())
            },
        )
        .await
        .unwrap();
    let sync = env.dropbox_sync();
    let team = env.sandbox.dropbox_team();
    // the access token from the connect is cached nowhere in this sync: refresh once; then a
    // token that expires mid-roster is renewed once more
    env.sandbox.faults().push(FaultRule {
        route: Route::DropboxMembers,
        skip: 3,
        times: 1,
        kind: FaultKind::ExpiredToken,
    });

    let report = handle(&sync, json!({ "profile": profile.id }))
        .await
        .expect("sync succeeds");
    assert!(report.profiles[0].succeeded);

    let members = team.members();
    let seated: Vec<_> = members.iter().filter(|m| !m.status.is_removed()).collect();
    let stored = env.seat_items(&profile.id).await;
    assert_eq!(
        stored.len(),
        seated.len(),
        "active, invited and suspended members hold seats"
    );
    assert!(seated
        .iter()
        .any(|m| m.status == DropboxMemberStatus::Suspended));
    for m in &seated {
        let s = seat(&stored[&m.team_member_id]);
        assert_eq!(s.login, m.email);
        assert_eq!(s.status, m.status.tag());
        assert_eq!(s.license_type, m.membership_type.tag());
        assert_eq!(s.license_managed, m.membership_type.tag() == "full");
        assert_eq!(s.is_admin, m.role.is_some(), "{}", m.team_member_id);
        assert_eq!(
            s.last_login.map(|l| l.at),
            team.last_login(&m.team_member_id)
        );
    }
    for m in members.iter().filter(|m| m.status.is_removed()) {
        assert!(!stored.contains_key(&m.team_member_id));
    }
    let stats = env.sandbox.stats();
    assert_eq!(
        stats.calls(Route::DropboxMembers),
        seated.len().div_ceil(1000) + 1,
        "one 401 retried"
    );
    assert_eq!(
        stats.calls(Route::DropboxToken),
        3,
        "the connect's code exchange, the sync's refresh, one renewal after the 401"
    );

    // License Information: purchased seats are Dropbox's num_licensed_users, read every sync
    let purchased = |lic: Vec<seatkeeper::domain::LicenseSummary>| {
        lic.into_iter()
            .find(|l| l.license_type == "full")
            .and_then(|l| l.purchased)
    };
    let spec = provider_sandbox::DropboxTeamSpec::new(10_000, 8);
    let lic = env
        .store
        .seats
        .license_summaries(&profile.id)
        .await
        .unwrap();
    assert_eq!(purchased(lic), Some(spec.num_licensed_users));
    team.set_num_licensed_users(12_345);

    // unchanged re-sync rewrites no seat (and reads the new purchased count)
    handle(&sync, json!({ "profile": profile.id }))
        .await
        .expect("re-sync");
    assert_eq!(stored, env.seat_items(&profile.id).await);
    let lic = env
        .store
        .seats
        .license_summaries(&profile.id)
        .await
        .unwrap();
    assert_eq!(purchased(lic), Some(12_345));

    let table = env.scan_all().await;
    for s in every_secret(&env) {
        assert!(!table.contains(s.as_str()), "a secret reached DynamoDB");
    }
}

#[tokio::test]
async fn a_failed_dropbox_sync_marks_nobody_removed_until_a_finished_one() {
    let logs = LogCapture::default();
    let _g = logs.install();
    let env = TestEnv::start_with(10, 1500, 12).await;
    let profile = env.add_dropbox_profile().await;
    assert_eq!(
        env.connect_dropbox(&profile.id, Slot::Sync).await.status,
        200
    );
    let sync = env.dropbox_sync();
    let team = env.sandbox.dropbox_team();
    handle(&sync, json!({ "profile": profile.id }))
        .await
        .expect("first sync");
    let seated: Vec<_> = team
        .members()
        .into_iter()
        .filter(|m| !m.status.is_removed())
        .collect();
    let checkpoint = env
        .store
        .runs
        .get_checkpoint(&profile.id, "dropbox_team_log_activity")
        .await
        .unwrap();

    // a failing sync marks nobody removed
    let leaver = seated[7].team_member_id.clone();
    team.remove_member(&leaver);
    env.sandbox.faults().push(FaultRule {
        route: Route::DropboxMembers,
        skip: 1,
        times: usize::MAX,
        kind: FaultKind::ServerError { status: 503 },
    });
    let before = env.seat_items(&profile.id).await;
    let err = handle(&sync, json!({ "profile": profile.id }))
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::SyncFailed { .. }), "{err}");
    assert!(err.to_string().contains("503"), "{err}");
    assert_eq!(
        before,
        env.seat_items(&profile.id).await,
        "no seat changed, none marked removed"
    );
    let cp = env
        .store
        .runs
        .get_checkpoint(&profile.id, "dropbox_team_log_activity")
        .await
        .unwrap();
    assert_eq!(cp, checkpoint, "the activity checkpoint did not move");

    // once Dropbox recovers, a finished sync marks the leaver removed and moves the checkpoint
    env.sandbox.faults().clear();
    handle(&sync, json!({ "profile": profile.id }))
        .await
        .expect("sync after recovery");
    let after = env.seat_items(&profile.id).await;
    assert!(seat(&after[&leaver]).removed_at.is_some());
    assert_eq!(
        after
            .values()
            .filter(|i| seat(i).removed_at.is_some())
            .count(),
        1
    );
    let cp = env
        .store
        .runs
        .get_checkpoint(&profile.id, "dropbox_team_log_activity")
        .await
        .unwrap();
    assert!(cp.unwrap().read_until > checkpoint.unwrap().read_until);
}

#[tokio::test]
async fn a_dropbox_profile_without_a_connected_sync_slot_fails_clearly() {
    let env = TestEnv::start_with(10, 10, 5).await;
    let profile = env.add_dropbox_profile().await;
    let err = handle(&env.dropbox_sync(), json!({ "profile": profile.id }))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("seatctl connect dropbox"), "{err}");
    let runs = env.store.runs.task_runs(&profile.id, 10).await.unwrap();
    assert!(runs
        .iter()
        .any(|t| t.task == TaskKind::ApplicationAccess && t.status == TaskStatus::Failed));
}

#[tokio::test]
async fn a_member_with_an_unknown_status_is_kept_counted_and_never_a_candidate() {
    let env = TestEnv::start_with(10, 40, 24).await;
    let profile = env.add_dropbox_profile().await;
    assert_eq!(
        env.connect_dropbox(&profile.id, Slot::Sync).await.status,
        200
    );
    let team = env.sandbox.dropbox_team();
    // every invited member shows a status tag Stone does not define (yet)
    env.sandbox.faults().push(
        FaultRule::new(
            Route::DropboxMembers,
            FaultKind::ReplaceInBody {
                from: r#"{".tag":"invited"}"#.into(),
                to: r#"{".tag":"pending_activation"}"#.into(),
            },
        )
        .forever(),
    );
    let invited: Vec<String> = team
        .members()
        .into_iter()
        .filter(|m| m.status.tag() == "invited")
        .map(|m| m.team_member_id)
        .collect();
    assert!(
        !invited.is_empty(),
        "the generated team has invited members"
    );
    handle(&env.dropbox_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    let items = env.seat_items(&profile.id).await;
    for id in &invited {
        let s = seat(&items[id]);
        assert_eq!(s.status, "unknown:pending_activation");
        assert!(s.removed_at.is_none());
    }
    let seated = team
        .members()
        .into_iter()
        .filter(|m| !m.status.is_removed())
        .count();
    assert_eq!(items.len(), seated, "every listed member is a seat");
    let candidates = env.store.seats.list_candidates(&profile.id).await.unwrap();
    assert!(candidates.iter().all(|c| !invited.contains(&c.user_id)));
}

#[tokio::test]
async fn the_team_is_pinned_at_the_first_connect_and_a_refused_connect_revokes_its_tokens() {
    let env = TestEnv::start_with(10, 20, 25).await;
    let profile = env.add_dropbox_profile().await;
    let team = env.sandbox.dropbox_team();
    assert_eq!(
        env.connect_dropbox(&profile.id, Slot::Sync).await.status,
        200
    );
    let p = env.store.profiles.get(&profile.id).await.unwrap().unwrap();
    assert_eq!(p.dropbox_team_id.as_deref(), Some(team.team_id().as_str()));

    // the profile belongs to another team: this team's authorization is refused and revoked
    env.store
        .profiles
        .update(
            &profile.id,
            |p| -> Result<(), seatkeeper::ports::StoreError> {
                p.dropbox_team_id = Some("dbtid:AAAnother-team".into());
                Ok(())
            },
        )
        .await
        .unwrap();
    let page = env.connect_dropbox(&profile.id, Slot::Reclaim).await;
    assert_eq!(page.status, 400, "{}", page.html);
    assert!(
        page.html.contains("pinned to Dropbox team"),
        "{}",
        page.html
    );
    assert_eq!(team.api_revocations(), 1, "the fresh tokens were revoked");
    let reclaim = slot_secret(&env, &profile.id, "reclaim").await;
    assert!(
        reclaim["refresh_token"].is_null(),
        "nothing stored: {reclaim}"
    );
    let p = env.store.profiles.get(&profile.id).await.unwrap().unwrap();
    assert_eq!(p.dropbox_team_id.as_deref(), Some("dbtid:AAAnother-team"));
}
