//! The Dropbox undo-window routes over real HTTP: `team/members/suspend` (whose `wipe_data`
//! defaults to true and is honoured), `team/members/unsuspend` and `team/members/recover`
//! (within the 7 days only), every answer checked against the Stone spec by `common::dbx_rpc`
//! and every argument against its argument type; their route errors and scopes.

mod common;

use common::stone::{stone, Mode};
use common::*;
use provider_sandbox::{DropboxMember, DropboxMemberStatus, RemoveMode, Sandbox};
use reqwest::StatusCode;
use serde_json::{json, Value};

const SUSPEND: &str = "team/members/suspend";
const UNSUSPEND: &str = "team/members/unsuspend";
const RECOVER: &str = "team/members/recover";
const REMOVE: &str = "team/members/remove";

fn tmid(id: &str) -> Value {
    json!({".tag": "team_member_id", "team_member_id": id})
}

/// Active members without a role, in listing order.
fn plain_members(sb: &Sandbox) -> Vec<DropboxMember> {
    sb.dropbox_team()
        .members()
        .into_iter()
        .filter(|m| m.role.is_none() && m.status == DropboxMemberStatus::Active)
        .collect()
}

/// A call whose argument is checked against the route's argument type first.
async fn call(
    sb: &Sandbox,
    token: &str,
    route: &str,
    arg_type: &str,
    arg: &Value,
) -> (StatusCode, Value) {
    let errs = stone().check_named(arg_type, arg, Mode::Arg);
    assert!(
        errs.is_empty(),
        "our argument is not a {arg_type}: {errs:?}"
    );
    dbx_rpc(sb, token, route, arg).await
}

fn status_of(sb: &Sandbox, id: &str) -> &'static str {
    sb.dropbox_team().member(id).expect("member").status.tag()
}

#[tokio::test]
async fn suspend_keeps_data_when_asked_and_wipes_by_default() {
    let sb = dbx_start(40, 7).await;
    let token = dbx_connect(&sb, App::Reclaim).await.0;
    let members = plain_members(&sb);
    let (a, b) = (&members[0].team_member_id, &members[1].team_member_id);
    let arg = json!({"user": tmid(a), "wipe_data": false});
    let (status, body) = call(&sb, &token, SUSPEND, "team.MembersDeactivateArg", &arg).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    assert_eq!(status_of(&sb, a), "suspended");
    let m = sb.dropbox_team().member(a).unwrap();
    assert!(m.suspended_on.is_some());
    // listed as suspended by members/get_info_v2
    let sync = dbx_token(&sb).await;
    let (_, info) = dbx_rpc(
        &sb,
        &sync,
        "team/members/get_info_v2",
        &json!({"members": [tmid(a)]}),
    )
    .await;
    assert_eq!(
        info["members_info"][0]["profile"]["status"][".tag"],
        "suspended"
    );
    assert!(info["members_info"][0]["profile"]["suspended_on"].is_string());
    // without wipe_data: the spec's default (true) is what happened
    let (status, _) = call(
        &sb,
        &token,
        SUSPEND,
        "team.MembersDeactivateArg",
        &json!({"user": tmid(b)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let s = sb.dropbox_team().suspensions();
    assert_eq!(
        s.iter()
            .map(|s| (s.team_member_id.as_str(), s.wipe_data))
            .collect::<Vec<_>>(),
        [(a.as_str(), false), (b.as_str(), true)]
    );
    // a repeat: the member is not active any more
    let (status, body) = call(&sb, &token, SUSPEND, "team.MembersDeactivateArg", &arg).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"][".tag"], "suspend_inactive_user");
}

#[tokio::test]
async fn suspend_errors_follow_members_suspend_error() {
    let sb = dbx_start(40, 8).await;
    let token = dbx_connect(&sb, App::Reclaim).await.0;
    let owner = sb.dropbox_team().members().remove(0);
    let plain = plain_members(&sb)[0].team_member_id.clone();
    let tag = |v: &Value| v["error"][".tag"].as_str().unwrap_or_default().to_owned();
    let (s, b) = dbx_rpc(
        &sb,
        &token,
        SUSPEND,
        &json!({"user": tmid("dbmid:nobody"), "wipe_data": false}),
    )
    .await;
    assert_eq!(
        (s, tag(&b).as_str()),
        (StatusCode::CONFLICT, "user_not_found")
    );
    let (s, b) = dbx_rpc(
        &sb,
        &token,
        SUSPEND,
        &json!({"user": tmid(&owner.team_member_id), "wipe_data": false}),
    )
    .await;
    assert_eq!(
        (s, tag(&b).as_str()),
        (StatusCode::CONFLICT, "suspend_last_admin")
    );
    assert!(sb.dropbox_team().remove_member(&plain));
    let (s, b) = dbx_rpc(
        &sb,
        &token,
        SUSPEND,
        &json!({"user": tmid(&plain), "wipe_data": false}),
    )
    .await;
    assert_eq!(
        (s, tag(&b).as_str()),
        (StatusCode::CONFLICT, "user_not_in_team")
    );
    // a bad argument is a 400 in plain text
    let (s, _) = dbx_rpc(
        &sb,
        &token,
        SUSPEND,
        &json!({"user": tmid(&plain), "wipe": false}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unsuspend_undoes_a_suspension_once() {
    let sb = dbx_start(40, 9).await;
    let token = dbx_connect(&sb, App::Reclaim).await.0;
    let id = plain_members(&sb)[0].team_member_id.clone();
    let arg = json!({"user": tmid(&id)});
    let (s, b) = call(&sb, &token, UNSUSPEND, "team.MembersUnsuspendArg", &arg).await;
    assert_eq!(
        (s, b["error"][".tag"].as_str()),
        (StatusCode::CONFLICT, Some("unsuspend_non_suspended_member"))
    );
    call(
        &sb,
        &token,
        SUSPEND,
        "team.MembersDeactivateArg",
        &json!({"user": tmid(&id), "wipe_data": false}),
    )
    .await;
    let (s, b) = call(&sb, &token, UNSUSPEND, "team.MembersUnsuspendArg", &arg).await;
    assert_eq!((s, b), (StatusCode::OK, Value::Null));
    assert_eq!(status_of(&sb, &id), "active");
    assert!(sb
        .dropbox_team()
        .member(&id)
        .unwrap()
        .suspended_on
        .is_none());
}

#[tokio::test]
async fn recover_brings_back_a_removed_member_within_its_days_only() {
    let sb = dbx_start(40, 10).await;
    let token = dbx_connect(&sb, App::Reclaim).await.0;
    let owner = sb.dropbox_team().members().remove(0).team_member_id;
    let members = plain_members(&sb);
    let (a, b) = (
        members[0].team_member_id.clone(),
        members[1].team_member_id.clone(),
    );
    let team = sb.dropbox_team();
    team.set_num_licensed_users(1000);
    team.set_remove_mode(RemoveMode::Complete);
    let arg = json!({"user": tmid(&a)});
    // an active member is not recoverable
    let (s, body) = call(&sb, &token, RECOVER, "team.MembersRecoverArg", &arg).await;
    assert_eq!(
        (s, body["error"][".tag"].as_str()),
        (StatusCode::CONFLICT, Some("user_unrecoverable"))
    );
    for id in [&a, &b] {
        let remove = json!({"user": tmid(id), "wipe_data": false, "transfer_dest_id": tmid(&owner), "transfer_admin_id": tmid(&owner)});
        let (s, _) = dbx_rpc(&sb, &token, REMOVE, &remove).await;
        assert_eq!(s, StatusCode::OK);
    }
    let files = team.files_owned_by(&owner);
    let (s, body) = call(&sb, &token, RECOVER, "team.MembersRecoverArg", &arg).await;
    assert_eq!((s, body), (StatusCode::OK, Value::Null));
    assert_eq!(status_of(&sb, &a), "active");
    assert_eq!(
        team.files_owned_by(&owner),
        files,
        "transferred files stay with the admin"
    );
    assert_eq!(team.recoveries(), vec![a.clone()]);
    // after the 7 days (expired by the control endpoint)
    let r = client()
        .post(format!(
            "{}/_sandbox/dropbox/members/{b}/expire-recovery",
            sb.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (s, body) = call(
        &sb,
        &token,
        RECOVER,
        "team.MembersRecoverArg",
        &json!({"user": tmid(&b)}),
    )
    .await;
    assert_eq!(
        (s, body["error"][".tag"].as_str()),
        (StatusCode::CONFLICT, Some("user_unrecoverable"))
    );
    assert!(team.member(&b).unwrap().status.is_removed());
    let (s, body) = call(
        &sb,
        &token,
        RECOVER,
        "team.MembersRecoverArg",
        &json!({"user": tmid("dbmid:nobody")}),
    )
    .await;
    assert_eq!(
        (s, body["error"][".tag"].as_str()),
        (StatusCode::CONFLICT, Some("user_not_found"))
    );
}

#[tokio::test]
async fn recover_waits_for_a_running_removal_job() {
    let sb = dbx_start(40, 13).await;
    let token = dbx_connect(&sb, App::Reclaim).await.0;
    let owner = sb.dropbox_team().members().remove(0).team_member_id;
    let id = plain_members(&sb)[0].team_member_id.clone();
    sb.dropbox_team().set_num_licensed_users(1000);
    let remove = json!({"user": tmid(&id), "wipe_data": false, "transfer_dest_id": tmid(&owner), "transfer_admin_id": tmid(&owner)});
    let (_, job) = dbx_rpc(&sb, &token, REMOVE, &remove).await;
    assert_eq!(job[".tag"], "async_job_id");
    let (s, body) = call(
        &sb,
        &token,
        RECOVER,
        "team.MembersRecoverArg",
        &json!({"user": tmid(&id)}),
    )
    .await;
    assert_eq!(
        (s, body["error"][".tag"].as_str()),
        (StatusCode::CONFLICT, Some("user_unrecoverable"))
    );
}

#[tokio::test]
async fn recover_needs_a_free_license() {
    let sb = dbx_start(40, 11).await;
    let token = dbx_connect(&sb, App::Reclaim).await.0;
    let owner = sb.dropbox_team().members().remove(0).team_member_id;
    let id = plain_members(&sb)[0].team_member_id.clone();
    sb.dropbox_team().set_remove_mode(RemoveMode::Complete);
    let remove = json!({"user": tmid(&id), "wipe_data": false, "transfer_dest_id": tmid(&owner), "transfer_admin_id": tmid(&owner)});
    dbx_rpc(&sb, &token, REMOVE, &remove).await;
    sb.dropbox_team().set_num_licensed_users(1);
    let (s, body) = call(
        &sb,
        &token,
        RECOVER,
        "team.MembersRecoverArg",
        &json!({"user": tmid(&id)}),
    )
    .await;
    assert_eq!(
        (s, body["error"][".tag"].as_str()),
        (StatusCode::CONFLICT, Some("team_license_limit"))
    );
}

#[tokio::test]
async fn scopes_follow_the_route_attributes() {
    let sb = dbx_start(40, 12).await;
    let sync = dbx_token(&sb).await;
    let id = plain_members(&sb)[0].team_member_id.clone();
    for (route, scope) in [
        (SUSPEND, "members.write"),
        (UNSUSPEND, "members.write"),
        (RECOVER, "members.delete"),
    ] {
        let (s, body) = dbx_rpc(&sb, &sync, route, &json!({"user": tmid(&id)})).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(
            body["error"],
            json!({".tag": "missing_scope", "required_scope": scope})
        );
    }
    assert_eq!(status_of(&sb, &id), "active");
}
