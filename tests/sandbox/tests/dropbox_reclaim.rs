//! The Dropbox reclaim routes over real HTTP: `team/members/remove` and
//! `team/members/remove/job_status/get` (every answer checked against the Stone spec by
//! `common::dbx_rpc`, every argument we send against the argument type), file ownership, the
//! async job, every route error, scopes, faults and stats.

mod common;

use common::stone::{stone, Mode};
use common::*;
use provider_sandbox::{
    DropboxMember, DropboxMemberStatus, DropboxRole, FaultKind, FaultRule, NewDropboxMember,
    RemoveMode, Route, Sandbox,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

const REMOVE: &str = "team/members/remove";
const JOB_STATUS: &str = "team/members/remove/job_status/get";

fn tmid(id: &str) -> Value {
    json!({".tag": "team_member_id", "team_member_id": id})
}

/// Active members without a role who own files, in listing order.
fn plain_members(sb: &Sandbox) -> Vec<DropboxMember> {
    let team = sb.dropbox_team();
    team.members()
        .into_iter()
        .filter(|m| {
            m.role.is_none()
                && m.status == DropboxMemberStatus::Active
                && team.files_owned_by(&m.team_member_id) > 0
        })
        .collect()
}

/// The team's first member, its only Team admin.
fn owner(sb: &Sandbox) -> DropboxMember {
    sb.dropbox_team().members().remove(0)
}

/// A checked `members/remove` call (its argument validated as `team.MembersRemoveArg`).
async fn remove(sb: &Sandbox, token: &str, arg: &Value) -> (StatusCode, Value) {
    let errs = stone().check_named("team.MembersRemoveArg", arg, Mode::Arg);
    assert!(
        errs.is_empty(),
        "our argument is not a MembersRemoveArg: {errs:?}"
    );
    dbx_rpc(sb, token, REMOVE, arg).await
}

/// A checked `remove/job_status/get` call.
async fn poll(sb: &Sandbox, token: &str, job: &str) -> (StatusCode, Value) {
    let arg = json!({"async_job_id": job});
    assert!(stone()
        .check_named("async.PollArg", &arg, Mode::Arg)
        .is_empty());
    dbx_rpc(sb, token, JOB_STATUS, &arg).await
}

fn transfer_arg(user: &str, dest: &str, admin: &str) -> Value {
    json!({
        "user": tmid(user),
        "wipe_data": true,
        "transfer_dest_id": tmid(dest),
        "transfer_admin_id": tmid(admin),
        "keep_account": false,
        "retain_team_shares": false,
        "permanently_delete_files": false,
    })
}

async fn reclaim_token(sb: &Sandbox) -> String {
    dbx_connect(sb, App::Reclaim).await.0
}

#[tokio::test]
async fn generated_members_own_a_few_files_deterministically() {
    let a = dbx_start(300, 31).await;
    let b = dbx_start(300, 31).await;
    let (ta, tb) = (a.dropbox_team(), b.dropbox_team());
    let mut counts = [0usize; 5];
    for m in ta.members() {
        let n = ta.files_owned_by(&m.team_member_id);
        assert_eq!(n, tb.files_owned_by(&m.team_member_id));
        if m.status == DropboxMemberStatus::Invited {
            assert_eq!(n, 0, "invited members own nothing");
        } else {
            assert!((1..=4).contains(&n));
            counts[n] += 1;
        }
    }
    assert!(counts[1..].iter().all(|&c| c > 0), "{counts:?}");
    assert_eq!(ta.files_owned_by("dbmid:nope"), 0);
    let added = ta.add_member(NewDropboxMember::member("n@example.com", "N", "M"));
    assert_eq!(ta.files_owned_by(&added.team_member_id), 0);
    ta.set_owned_files(&added.team_member_id, 7);
    assert_eq!(ta.files_owned_by(&added.team_member_id), 7);
    ta.set_owned_files("dbmid:nope", 7);
    assert_eq!(ta.files_owned_by("dbmid:nope"), 0);
}

#[tokio::test]
async fn async_removal_removes_at_once_and_moves_files_when_the_job_completes() {
    let sb = dbx_start(40, 11).await;
    let team = sb.dropbox_team();
    let token = reclaim_token(&sb).await;
    let sync = dbx_token(&sb).await;
    let plain = plain_members(&sb);
    let (gone, dest, admin) = (&plain[0], &plain[1], owner(&sb));
    let (files, dest_files) = (
        team.files_owned_by(&gone.team_member_id),
        team.files_owned_by(&dest.team_member_id),
    );
    let (_, info) = dbx_rpc(&sb, &sync, "team/get_info", &Value::Null).await;
    let provisioned = info["num_provisioned_users"].as_u64().expect("n");

    let (status, body) = remove(
        &sb,
        &token,
        &transfer_arg(
            &gone.team_member_id,
            &dest.team_member_id,
            &admin.team_member_id,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[".tag"], "async_job_id");
    let job = body["async_job_id"].as_str().expect("job id").to_string();

    // Removed at once: status removed (recoverable), not listed, get_info_v2 still finds it.
    let now = team.member(&gone.team_member_id).expect("member");
    assert_eq!(
        now.status,
        DropboxMemberStatus::Removed {
            is_recoverable: true,
            is_disconnected: false
        }
    );
    assert!(now.removed_on.is_some());
    let (listed, _) = dbx_page_members(&sb, &sync, &json!({})).await;
    assert!(listed
        .iter()
        .all(|m| m["profile"]["team_member_id"] != gone.team_member_id.as_str()));
    let (_, got) = dbx_rpc(
        &sb,
        &sync,
        "team/members/get_info_v2",
        &json!({"members": [tmid(&gone.team_member_id)]}),
    )
    .await;
    assert_eq!(got["members_info"][0][".tag"], "member_info");
    assert_eq!(
        got["members_info"][0]["profile"]["status"],
        json!({".tag": "removed", "is_recoverable": true, "is_disconnected": false})
    );
    let (_, info) = dbx_rpc(&sb, &sync, "team/get_info", &Value::Null).await;
    assert_eq!(info["num_provisioned_users"], provisioned - 1);
    let removals = team.removals();
    assert_eq!(removals.len(), 1);
    assert_eq!(removals[0].team_member_id, gone.team_member_id);
    assert_eq!(
        removals[0].transfer_dest_id.as_deref(),
        Some(dest.team_member_id.as_str())
    );
    assert_eq!(
        removals[0].transfer_admin_id.as_deref(),
        Some(admin.team_member_id.as_str())
    );
    assert!(removals[0].wipe_data && !removals[0].keep_account);
    assert_eq!(removals[0].async_job_id.as_deref(), Some(job.as_str()));

    // While the job runs: files not moved yet; removing again is transfer_in_progress; removing
    // the destination is member_is_transfer_destination.
    assert_eq!(team.files_owned_by(&gone.team_member_id), files);
    let (status, body) = remove(&sb, &token, &json!({"user": tmid(&gone.team_member_id)})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], json!({".tag": "transfer_in_progress"}));
    let (status, body) = remove(&sb, &token, &json!({"user": tmid(&dest.team_member_id)})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["error"],
        json!({".tag": "member_is_transfer_destination"})
    );

    let (status, body) = poll(&sb, &token, &job).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({".tag": "in_progress"}))
    );
    assert_eq!(
        team.files_owned_by(&gone.team_member_id),
        files,
        "still running"
    );
    let (status, body) = poll(&sb, &token, &job).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({".tag": "complete"}))
    );
    assert_eq!(team.files_owned_by(&gone.team_member_id), 0);
    assert_eq!(
        team.files_owned_by(&dest.team_member_id),
        dest_files + files
    );
    let (_, body) = poll(&sb, &token, &job).await;
    assert_eq!(body, json!({".tag": "complete"}), "complete stays complete");
    assert_eq!(
        team.files_owned_by(&dest.team_member_id),
        dest_files + files
    );

    // Done: removing again is user_not_in_team (by id), user_not_found (by email).
    let (status, body) = remove(&sb, &token, &json!({"user": tmid(&gone.team_member_id)})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], json!({".tag": "user_not_in_team"}));
    let (_, body) = remove(
        &sb,
        &token,
        &json!({"user": {".tag": "email", "email": gone.email}}),
    )
    .await;
    assert_eq!(body["error"], json!({".tag": "user_not_found"}));
    assert_eq!(team.removals().len(), 1, "refusals are not removals");
    // The destination can be removed now.
    let (status, _) = remove(&sb, &token, &json!({"user": tmid(&dest.team_member_id)})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn remove_modes() {
    let sb = dbx_start(40, 12).await;
    let team = sb.dropbox_team();
    let token = reclaim_token(&sb).await;
    let plain = plain_members(&sb);
    let admin = owner(&sb).team_member_id;

    // Complete: done at once, files moved at once, no job.
    team.set_remove_mode(RemoveMode::Complete);
    let (gone, dest) = (&plain[0].team_member_id, &plain[1].team_member_id);
    let (files, dest_files) = (team.files_owned_by(gone), team.files_owned_by(dest));
    let (status, body) = remove(&sb, &token, &transfer_arg(gone, dest, &admin)).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({".tag": "complete"}))
    );
    assert_eq!(team.files_owned_by(gone), 0);
    assert_eq!(team.files_owned_by(dest), dest_files + files);
    assert_eq!(team.removals()[0].async_job_id, None);
    let (_, body) = remove(&sb, &token, &json!({"user": tmid(gone)})).await;
    assert_eq!(body["error"][".tag"], "user_not_in_team");

    // Without a transfer the files stay in the removed account; the defaults are recorded.
    let keeper = &plain[2].team_member_id;
    let kept = team.files_owned_by(keeper);
    let (status, _) = remove(&sb, &token, &json!({"user": tmid(keeper)})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(team.files_owned_by(keeper), kept);
    let r = &team.removals()[1];
    assert!(r.wipe_data, "wipe_data defaults to true");
    assert!(!r.keep_account && r.transfer_dest_id.is_none() && r.transfer_admin_id.is_none());

    // permanently_delete_files: the files are gone, the member is not recoverable.
    let purged = &plain[3].team_member_id;
    let (status, _) = remove(
        &sb,
        &token,
        &json!({"user": tmid(purged), "permanently_delete_files": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(team.files_owned_by(purged), 0);
    assert_eq!(
        team.member(purged).expect("member").status,
        DropboxMemberStatus::Removed {
            is_recoverable: false,
            is_disconnected: false
        }
    );

    // keep_account (with wipe_data false): disconnected, files kept.
    let kept_account = &plain[4].team_member_id;
    let (status, _) = remove(
        &sb,
        &token,
        &json!({"user": tmid(kept_account), "keep_account": true, "wipe_data": false, "retain_team_shares": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        team.member(kept_account).expect("member").status,
        DropboxMemberStatus::Removed {
            is_recoverable: false,
            is_disconnected: true
        }
    );
    assert!(team.removals()[3].keep_account && !team.removals()[3].wipe_data);

    // Async with 3 in-progress polls, then with none.
    team.set_remove_mode(RemoveMode::Async {
        in_progress_polls: 3,
    });
    let (gone, dest) = (&plain[5].team_member_id, &plain[6].team_member_id);
    let (files, dest_files) = (team.files_owned_by(gone), team.files_owned_by(dest));
    let (_, body) = remove(&sb, &token, &transfer_arg(gone, dest, &admin)).await;
    let job = body["async_job_id"].as_str().expect("job").to_string();
    for _ in 0..3 {
        assert_eq!(
            poll(&sb, &token, &job).await.1,
            json!({".tag": "in_progress"})
        );
    }
    assert_eq!(team.files_owned_by(dest), dest_files);
    assert_eq!(poll(&sb, &token, &job).await.1, json!({".tag": "complete"}));
    assert_eq!(team.files_owned_by(dest), dest_files + files);

    team.set_remove_mode(RemoveMode::Async {
        in_progress_polls: 0,
    });
    let (_, body) = remove(
        &sb,
        &token,
        &json!({"user": tmid(&plain[7].team_member_id)}),
    )
    .await;
    assert_eq!(body[".tag"], "async_job_id");
    let job = body["async_job_id"].as_str().expect("job");
    assert_eq!(poll(&sb, &token, job).await.1, json!({".tag": "complete"}));

    // Selectors by email and external id.
    team.set_remove_mode(RemoveMode::Complete);
    let by_email = &plain[8];
    let (status, _) = remove(
        &sb,
        &token,
        &json!({"user": {".tag": "email", "email": by_email.email.to_uppercase()}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(team
        .member(&by_email.team_member_id)
        .expect("member")
        .status
        .is_removed());
    let with_external = plain[9..]
        .iter()
        .find(|m| m.external_id.is_some())
        .expect("a member with an external id");
    let (status, _) = remove(
        &sb,
        &token,
        &json!({"user": {".tag": "external_id", "external_id": with_external.external_id}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        team.removals().last().map(|r| r.team_member_id.clone()),
        Some(with_external.team_member_id.clone())
    );
}

#[tokio::test]
async fn every_route_error() {
    let sb = dbx_start(40, 13).await;
    let team = sb.dropbox_team();
    let token = reclaim_token(&sb).await;
    let plain = plain_members(&sb);
    let ids: Vec<String> = plain.iter().map(|m| m.team_member_id.clone()).collect();
    let (user, dest, other) = (&ids[0], &ids[1], &ids[2]);
    let admin = owner(&sb).team_member_id;
    // A removed member (removed through the handle: no job) and an invited one.
    let removed = &ids[3];
    assert!(team.remove_member(removed));
    let invited = team.add_member(NewDropboxMember {
        status: DropboxMemberStatus::Invited,
        ..NewDropboxMember::member("invitee@example.com", "In", "Vitee")
    });

    let with = |extra: Value| {
        let mut arg = json!({"user": tmid(user)});
        for (k, v) in extra.as_object().expect("object") {
            arg[k] = v.clone();
        }
        arg
    };
    let cases: Vec<(&str, Value)> = vec![
        ("user_not_found", json!({"user": tmid("dbmid:AAnobody")})),
        (
            "user_not_found",
            json!({"user": {".tag": "email", "email": "nobody@example.com"}}),
        ),
        (
            "user_not_found",
            json!({"user": {".tag": "external_id", "external_id": "no-such-id"}}),
        ),
        ("user_not_in_team", json!({"user": tmid(removed)})),
        (
            "unspecified_transfer_admin_id",
            with(json!({"transfer_dest_id": tmid(dest)})),
        ),
        (
            "unspecified_transfer_admin_id",
            with(json!({"transfer_dest_id": tmid(dest), "transfer_admin_id": null})),
        ),
        (
            "transfer_dest_user_not_found",
            with(
                json!({"transfer_dest_id": tmid("dbmid:AAnobody"), "transfer_admin_id": tmid(&admin)}),
            ),
        ),
        (
            "transfer_dest_user_not_in_team",
            with(json!({"transfer_dest_id": tmid(removed), "transfer_admin_id": tmid(&admin)})),
        ),
        (
            "removed_and_transfer_dest_should_differ",
            with(json!({"transfer_dest_id": tmid(user), "transfer_admin_id": tmid(&admin)})),
        ),
        (
            "transfer_admin_user_not_found",
            with(
                json!({"transfer_dest_id": tmid(dest), "transfer_admin_id": {".tag": "email", "email": "nobody@example.com"}}),
            ),
        ),
        (
            "transfer_admin_user_not_in_team",
            with(json!({"transfer_dest_id": tmid(dest), "transfer_admin_id": tmid(removed)})),
        ),
        (
            "removed_and_transfer_admin_should_differ",
            with(json!({"transfer_dest_id": tmid(dest), "transfer_admin_id": tmid(user)})),
        ),
        (
            "transfer_admin_is_not_admin",
            with(json!({"transfer_dest_id": tmid(dest), "transfer_admin_id": tmid(other)})),
        ),
        ("remove_last_admin", json!({"user": tmid(&admin)})),
        (
            "cannot_keep_account_and_transfer",
            with(
                json!({"keep_account": true, "wipe_data": false, "transfer_dest_id": tmid(dest), "transfer_admin_id": tmid(&admin)}),
            ),
        ),
        (
            "cannot_keep_account_and_delete_data",
            with(json!({"keep_account": true})),
        ),
        (
            "cannot_keep_account_and_delete_data",
            with(json!({"keep_account": true, "wipe_data": true})),
        ),
        (
            "cannot_keep_account_and_permanently_delete",
            with(
                json!({"keep_account": true, "wipe_data": false, "permanently_delete_files": true}),
            ),
        ),
        (
            "cannot_keep_invited_user_account",
            json!({"user": tmid(&invited.team_member_id), "keep_account": true, "wipe_data": false}),
        ),
        (
            "cannot_retain_shares_when_no_account_kept",
            with(json!({"retain_team_shares": true})),
        ),
        (
            "cannot_retain_shares_when_data_wiped",
            with(json!({"retain_team_shares": true, "keep_account": true, "wipe_data": true})),
        ),
        (
            "cannot_permanently_delete_and_transfer",
            with(
                json!({"permanently_delete_files": true, "transfer_dest_id": tmid(dest), "transfer_admin_id": tmid(&admin)}),
            ),
        ),
    ];
    let before = team.members();
    let files: Vec<usize> = before
        .iter()
        .map(|m| team.files_owned_by(&m.team_member_id))
        .collect();
    for (tag, arg) in &cases {
        let (status, body) = remove(&sb, &token, arg).await;
        assert_eq!(status, StatusCode::CONFLICT, "{tag}: {arg} → {body}");
        assert_eq!(body["error"], json!({".tag": tag}), "{arg}");
        assert!(body["error_summary"]
            .as_str()
            .expect("summary")
            .starts_with(&format!("{tag}/")));
    }
    assert_eq!(team.members(), before, "no refusal changed a member");
    assert!(team.removals().is_empty());
    let after: Vec<usize> = before
        .iter()
        .map(|m| team.files_owned_by(&m.team_member_id))
        .collect();
    assert_eq!(after, files);

    // With a second active Team admin the first can go; a non-admin role is not a transfer admin
    // but any active admin role is.
    team.set_remove_mode(RemoveMode::Complete);
    team.set_role(other, Some(DropboxRole::SupportAdmin));
    let (status, _) = remove(&sb, &token, &transfer_arg(user, dest, other)).await;
    assert_eq!(status, StatusCode::OK);
    team.set_role(dest, Some(DropboxRole::TeamAdmin));
    let (status, body) = remove(&sb, &token, &json!({"user": tmid(&admin)})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // ...and then the other is the last one.
    let (_, body) = remove(&sb, &token, &json!({"user": tmid(dest)})).await;
    assert_eq!(body["error"], json!({".tag": "remove_last_admin"}));
    // An invited member can be removed (without keeping the account).
    let (status, _) = remove(&sb, &token, &json!({"user": tmid(&invited.team_member_id)})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bad_arguments_are_400s_and_unknown_jobs_409s() {
    let sb = dbx_start(10, 14).await;
    let team = sb.dropbox_team();
    let token = reclaim_token(&sb).await;
    let id = plain_members(&sb)[0].team_member_id.clone();
    for (route, body) in [
        (REMOVE, "{not json".to_string()),
        (REMOVE, "null".to_string()),
        (REMOVE, "{}".to_string()),
        (REMOVE, json!({"user": tmid(&id), "bogus": 1}).to_string()),
        (
            REMOVE,
            json!({"user": {".tag": "uid", "uid": "1"}}).to_string(),
        ),
        (
            REMOVE,
            json!({"user": {".tag": "team_member_id"}}).to_string(),
        ),
        (
            REMOVE,
            json!({"user": {".tag": "team_member_id", "team_member_id": 5}}).to_string(),
        ),
        (REMOVE, json!({"user": "team_member_id"}).to_string()),
        (
            REMOVE,
            json!({"user": tmid(&id), "wipe_data": "yes"}).to_string(),
        ),
        (
            REMOVE,
            json!({"user": tmid(&id), "wipe_data": null}).to_string(),
        ),
        (
            REMOVE,
            json!({"user": tmid(&id), "transfer_dest_id": "x"}).to_string(),
        ),
        (JOB_STATUS, "{}".to_string()),
        (JOB_STATUS, "null".to_string()),
        (JOB_STATUS, json!({"async_job_id": ""}).to_string()),
        (JOB_STATUS, json!({"async_job_id": 5}).to_string()),
        (
            JOB_STATUS,
            json!({"async_job_id": "x", "more": 1}).to_string(),
        ),
    ] {
        let response = dbx_rpc_raw(&sb, &token, route, body.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{route} {body}");
        assert!(response.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/plain"));
        let text = response.text().await.expect("text");
        assert!(
            text.starts_with(&format!("Error in call to API function \"{route}\": ")),
            "{text}"
        );
    }
    assert!(team.removals().is_empty());
    assert!(!team.member(&id).expect("member").status.is_removed());

    let (status, body) = poll(&sb, &token, "dbjid:AAunknown").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], json!({".tag": "invalid_async_job_id"}));
    assert!(body["error_summary"]
        .as_str()
        .expect("summary")
        .starts_with("invalid_async_job_id/"));
}

#[tokio::test]
async fn the_sync_app_is_refused_and_tokens_are_checked() {
    let sb = dbx_start(10, 15).await;
    let team = sb.dropbox_team();
    let sync = dbx_token(&sb).await;
    let id = plain_members(&sb)[0].team_member_id.clone();
    for (route, arg) in [
        (REMOVE, json!({"user": tmid(&id)})),
        (JOB_STATUS, json!({"async_job_id": "dbjid:AAx"})),
    ] {
        let (status, body) = dbx_rpc(&sb, &sync, route, &arg).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            body["error"],
            json!({".tag": "missing_scope", "required_scope": "members.delete"})
        );
        let (status, body) = dbx_rpc(&sb, "sl.bogus", route, &arg).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"][".tag"], "invalid_access_token");
    }
    assert!(!team.member(&id).expect("member").status.is_removed());
    let reclaim = reclaim_token(&sb).await;
    team.expire_access_tokens();
    let (status, body) = dbx_rpc(&sb, &reclaim, REMOVE, &json!({"user": tmid(&id)})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"][".tag"], "expired_access_token");
    assert!(team.removals().is_empty());
}

#[tokio::test]
async fn faults_and_stats_on_the_reclaim_routes() {
    let sb = dbx_start(20, 16).await;
    let team = sb.dropbox_team();
    let stats = sb.stats();
    let token = reclaim_token(&sb).await;
    let plain = plain_members(&sb);
    let arg = json!({"user": tmid(&plain[0].team_member_id)});

    sb.faults().push(FaultRule::new(
        Route::DropboxMembersRemove,
        FaultKind::RateLimited {
            retry_after_secs: 4,
        },
    ));
    let response = dbx_rpc_raw(&sb, &token, REMOVE, arg.to_string()).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "4");
    let (status, body) = dbx_rpc(&sb, &token, REMOVE, &arg).await; // the rule is used up
    assert_eq!(status, StatusCode::OK);
    assert_eq!(team.removals().len(), 1, "the faulted call removed nobody");
    let job = body["async_job_id"].as_str().expect("job").to_string();

    sb.faults().push(
        FaultRule::new(
            Route::DropboxRemoveJobStatus,
            FaultKind::ServerError { status: 503 },
        )
        .times(2),
    );
    for _ in 0..2 {
        let (status, body) = poll(&sb, &token, &job).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.is_string(), "plain text");
    }
    // Faulted polls did not advance the job.
    assert_eq!(
        poll(&sb, &token, &job).await.1,
        json!({".tag": "in_progress"})
    );
    sb.faults().push(FaultRule::new(
        Route::DropboxRemoveJobStatus,
        FaultKind::ExpiredToken,
    ));
    let (status, body) = poll(&sb, &token, &job).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"][".tag"], "expired_access_token");
    assert_eq!(poll(&sb, &token, &job).await.1, json!({".tag": "complete"}));

    // DropboxMembers rules do not fire on the reclaim routes.
    sb.faults().push(
        FaultRule::new(
            Route::DropboxMembers,
            FaultKind::ServerError { status: 500 },
        )
        .forever(),
    );
    let (status, _) = dbx_rpc(
        &sb,
        &token,
        REMOVE,
        &json!({"user": tmid(&plain[1].team_member_id)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    assert_eq!(stats.calls(Route::DropboxMembersRemove), 3);
    assert_eq!(stats.calls(Route::DropboxRemoveJobStatus), 5);
    assert_eq!(stats.calls(Route::DropboxMembers), 0);
    let recorded = stats.requests();
    let first = recorded
        .iter()
        .find(|r| r.route == Route::DropboxMembersRemove)
        .expect("recorded");
    assert_eq!(
        (first.path.as_str(), first.status),
        ("/dropbox/2/team/members/remove", 429)
    );
    let polls: Vec<u16> = recorded
        .iter()
        .filter(|r| r.route == Route::DropboxRemoveJobStatus)
        .map(|r| r.status)
        .collect();
    assert_eq!(polls, [503, 503, 200, 401, 200]);
}

#[tokio::test]
async fn control_api_exposes_files_removals_and_the_mode() {
    let sb = dbx_start(10, 17).await;
    let token = reclaim_token(&sb).await;
    let plain = plain_members(&sb);
    let (a, b) = (&plain[0].team_member_id, &plain[1].team_member_id);
    use reqwest::Method;
    let (status, body) = control(
        &sb,
        Method::PUT,
        &format!("/dropbox/members/{a}/files"),
        Some(json!({"count": 9})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, body) = control(
        &sb,
        Method::GET,
        &format!("/dropbox/members/{a}/files"),
        None,
    )
    .await;
    assert_eq!(body, json!({"count": 9}));
    let (status, _) = control(&sb, Method::GET, "/dropbox/members/dbmid:x/files", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = control(
        &sb,
        Method::PUT,
        "/dropbox/remove-mode",
        Some(json!("complete")),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let admin = owner(&sb).team_member_id;
    let (_, body) = remove(&sb, &token, &transfer_arg(a, b, &admin)).await;
    assert_eq!(body, json!({".tag": "complete"}));
    let (_, removals) = control(&sb, Method::GET, "/dropbox/removals", None).await;
    assert_eq!(removals[0]["team_member_id"], a.as_str());
    assert_eq!(removals[0]["transfer_dest_id"], b.as_str());
    assert_eq!(removals[0]["async_job_id"], Value::Null);
    let (status, _) = control(
        &sb,
        Method::PUT,
        "/dropbox/remove-mode",
        Some(json!({"async": {"in_progress_polls": 2}})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = remove(&sb, &token, &json!({"user": tmid(b)})).await;
    let job = body["async_job_id"].as_str().expect("job");
    assert_eq!(poll(&sb, &token, job).await.1[".tag"], "in_progress");
    assert_eq!(poll(&sb, &token, job).await.1[".tag"], "in_progress");
    assert_eq!(poll(&sb, &token, job).await.1[".tag"], "complete");
    let (status, _) = control(
        &sb,
        Method::PUT,
        "/dropbox/remove-mode",
        Some(json!("sometimes")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, stats) = control(&sb, Method::GET, "/stats", None).await;
    assert_eq!(stats["calls"]["dropbox_members_remove"], 2);
    assert_eq!(stats["calls"]["dropbox_remove_job_status"], 3);
}

#[test]
fn the_spec_examples_of_the_reclaim_types_pass_the_checker() {
    let st = stone();
    let examples = &common::stone::examples()["examples"];
    for name in [
        "team.MembersRemoveArg",
        "team.MembersRemoveError",
        "async.LaunchEmptyResult",
        "async.PollArg",
        "async.PollEmptyResult",
        "async.PollError",
    ] {
        let labels = examples[name]
            .as_object()
            .unwrap_or_else(|| panic!("{name}"));
        assert!(!labels.is_empty(), "{name}");
        for (label, value) in labels {
            if value.get(".tag") == Some(&json!("other")) {
                continue;
            }
            let errs = st.check_named(name, value, Mode::Response);
            assert!(errs.is_empty(), "{name}.{label}: {errs:?}");
        }
    }
    // Every error tag the sandbox answers is a MembersRemoveError member.
    let members = st.members("team.MembersRemoveError");
    for tag in [
        "user_not_found",
        "user_not_in_team",
        "transfer_in_progress",
        "member_is_transfer_destination",
        "unspecified_transfer_admin_id",
        "transfer_dest_user_not_found",
        "transfer_admin_user_not_found",
        "transfer_dest_user_not_in_team",
        "transfer_admin_user_not_in_team",
        "transfer_admin_is_not_admin",
        "removed_and_transfer_dest_should_differ",
        "removed_and_transfer_admin_should_differ",
        "remove_last_admin",
        "cannot_keep_account_and_transfer",
        "cannot_keep_account_and_delete_data",
        "cannot_keep_account_and_permanently_delete",
        "cannot_keep_invited_user_account",
        "cannot_retain_shares_when_data_wiped",
        "cannot_retain_shares_when_no_account_kept",
        "cannot_permanently_delete_and_transfer",
    ] {
        assert!(members.iter().any(|m| m == tag), "{tag}");
    }
    // Defaults the sandbox applies are the spec's.
    let fields = &st.ty("team.MembersRemoveArg")["fields"];
    for f in fields.as_array().expect("fields") {
        let optional = f["optional"].as_bool().expect("optional");
        assert_eq!(optional, f["name"] != "user", "{f}");
    }
}
