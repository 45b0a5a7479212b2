//! Dropbox fault injection, stats and the Dropbox control API.

mod common;

use std::time::{Duration, Instant};

use common::*;
use provider_sandbox::{FaultKind, FaultRule, Route};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn rate_limited() {
    let sb = dbx_start(20, 1).await;
    let token = dbx_token(&sb).await;
    sb.faults().push(FaultRule::new(
        Route::DropboxMembers,
        FaultKind::RateLimited {
            retry_after_secs: 7,
        },
    ));
    let response = dbx_rpc_raw(&sb, &token, "team/members/list_v2", "{}".into()).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "7");
    assert!(response.headers().contains_key("x-dropbox-request-id"));
    assert!(response.headers()["content-type"]
        .to_str()
        .is_ok_and(|c| c.starts_with("application/json")));
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        body["error"],
        json!({"reason": {".tag": "too_many_requests"}, "retry_after": 7})
    );
    assert!(body["error_summary"]
        .as_str()
        .is_some_and(|s| s.starts_with("too_many_requests/")));
    // Checked against auth.RateLimitError too; fired once.
    sb.faults().push(FaultRule::new(
        Route::DropboxEvents,
        FaultKind::RateLimited {
            retry_after_secs: 1,
        },
    ));
    let (status, _) = dbx_rpc(&sb, &token, "team_log/get_events", &json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = dbx_rpc(&sb, &token, "team/members/list_v2", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn server_errors() {
    let sb = dbx_start(20, 2).await;
    let token = dbx_token(&sb).await;
    for status in [500, 502, 503, 504] {
        sb.faults().push(FaultRule::new(
            Route::DropboxEvents,
            FaultKind::ServerError { status },
        ));
        let response = dbx_rpc_raw(&sb, &token, "team_log/get_events", "{}".into()).await;
        assert_eq!(response.status().as_u16(), status);
        assert!(response.headers().contains_key("x-dropbox-request-id"));
        assert!(response
            .text()
            .await
            .expect("body")
            .starts_with(&status.to_string()));
    }
    let (status, _) = dbx_rpc(&sb, &token, "team_log/get_events", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn expired_token_fault() {
    let sb = dbx_start(20, 3).await;
    let (token, refresh) = dbx_connect(&sb, App::Sync).await;
    sb.faults()
        .push(FaultRule::new(Route::DropboxTeamInfo, FaultKind::ExpiredToken).skip(1));
    let (status, _) = dbx_rpc(&sb, &token, "team/get_info", &Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = dbx_rpc(&sb, &token, "team/get_info", &Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], json!({".tag": "expired_access_token"}));
    let (status, _) = dbx_rpc(&sb, &token, "team/get_info", &Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    // On the token endpoint it is a refused refresh.
    sb.faults()
        .push(FaultRule::new(Route::DropboxToken, FaultKind::ExpiredToken));
    let (status, body) = dbx_refresh(&sb, App::Sync, &refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        dbx_refresh(&sb, App::Sync, &refresh).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn slow_responses() {
    let sb = dbx_start(20, 4).await;
    let token = dbx_token(&sb).await;
    sb.faults()
        .push(FaultRule::new(Route::DropboxAny, FaultKind::Slow { millis: 300 }).times(2));
    let started = Instant::now();
    let (status, body) = dbx_rpc(
        &sb,
        &token,
        "team/members/get_info_v2",
        &json!({"members": []}),
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"members_info": []}), "answers normally");
    let started = Instant::now();
    let _ = dbx_code(&sb, App::Sync, &pkce()).await; // DropboxAny covers authorize too
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    let _ = dbx_rpc(&sb, &token, "team/get_info", &Value::Null).await;
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn truncated_body() {
    let sb = dbx_start(50, 5).await;
    let token = dbx_token(&sb).await;
    let full = dbx_rpc_raw(&sb, &token, "team/members/list_v2", "{}".into())
        .await
        .bytes()
        .await
        .expect("body");
    sb.faults().push(FaultRule::new(
        Route::DropboxMembers,
        FaultKind::TruncatedBody,
    ));
    let response = dbx_rpc_raw(&sb, &token, "team/members/list_v2", "{}".into()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.headers().contains_key("x-dropbox-request-id"));
    let cut = response.bytes().await.expect("body");
    assert_eq!(cut.len(), full.len() / 2);
    assert_eq!(&full[..cut.len()], &cut[..]);
    assert!(serde_json::from_slice::<Value>(&cut).is_err());
}

#[tokio::test]
async fn stats_count_dropbox_routes() {
    let sb = dbx_start(20, 6).await;
    let token = dbx_token(&sb).await; // 1 authorize + 1 token
    let stats = sb.stats();
    for (route, arg) in [
        ("team/members/list_v2", json!({})),
        ("team/members/list/continue_v2", json!({"cursor": "x"})),
        ("team_log/get_events", json!({})),
        ("team/get_info", Value::Null),
        ("team/members/get_info_v2", json!({"members": []})),
        ("team/token/get_authenticated_admin", Value::Null),
    ] {
        dbx_rpc(&sb, &token, route, &arg).await;
    }
    let _ = client()
        .get(format!("{}/x", sb.box_api_url()))
        .send()
        .await
        .expect("box request");
    assert_eq!(stats.calls(Route::DropboxAuthorize), 1);
    assert_eq!(stats.calls(Route::DropboxToken), 1);
    assert_eq!(stats.calls(Route::DropboxMembers), 2);
    assert_eq!(stats.calls(Route::DropboxEvents), 1);
    assert_eq!(stats.calls(Route::DropboxTeamInfo), 1);
    assert_eq!(stats.calls(Route::DropboxAny), 8);
    assert_eq!(stats.calls(Route::Any), 9);
    let recorded = stats.requests();
    assert_eq!(recorded[0].route, Route::DropboxAuthorize);
    assert_eq!(recorded[0].status, 302);
    let get_info_v2 = recorded
        .iter()
        .find(|r| r.path == "/dropbox/2/team/members/get_info_v2")
        .expect("recorded");
    assert_eq!(
        (get_info_v2.route, get_info_v2.status),
        (Route::DropboxAny, 200)
    );
    let cont = recorded
        .iter()
        .find(|r| r.path.ends_with("continue_v2"))
        .expect("recorded");
    assert_eq!((cont.method.as_str(), cont.status), ("POST", 409));
}

#[tokio::test]
async fn control_api() {
    use reqwest::Method;
    let sb = dbx_start(20, 7).await;
    let team = sb.dropbox_team();
    let token = dbx_token(&sb).await;

    let (status, members) = control(&sb, Method::GET, "/dropbox/members", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(members.as_array().map(Vec::len), Some(20));
    assert_eq!(members[0]["role"], "team_admin");

    let new = json!({"email": "pat.new@example.com", "given_name": "Pat", "surname": "New"});
    let (status, added) = control(&sb, Method::POST, "/dropbox/members", Some(new.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["status"], "active");
    let id = added["team_member_id"].as_str().expect("id").to_string();
    let (status, _) = control(&sb, Method::POST, "/dropbox/members", Some(new)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = control(
        &sb,
        Method::POST,
        "/dropbox/members",
        Some(json!({"email": "x", "given_name": "", "surname": "Y"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let invited = json!({"email": "inv@example.com", "given_name": "In", "surname": "Vited", "status": "invited", "role": "support_admin"});
    let (status, inv) = control(&sb, Method::POST, "/dropbox/members", Some(invited)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(inv["invited_on"].is_string() && inv["joined_on"].is_null());

    // A login, then visible to an activity read.
    let at = "2025-05-30T08:00:00Z";
    let (status, _) = control(
        &sb,
        Method::POST,
        "/dropbox/logins",
        Some(json!({"team_member_id": id, "at": at})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(team.last_login(&id).map(dbx_time).as_deref(), Some(at));
    let (status, _) = control(
        &sb,
        Method::POST,
        "/dropbox/logins",
        Some(json!({"team_member_id": "dbmid:nobody", "at": at})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Remove: status removed; listed only with include_removed.
    let (status, _) = control(&sb, Method::DELETE, &format!("/dropbox/members/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = control(&sb, Method::DELETE, &format!("/dropbox/members/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page) = dbx_rpc(&sb, &token, "team/members/list_v2", &json!({})).await;
    assert!(!page.to_string().contains(&id));
    let (_, page) = dbx_rpc(
        &sb,
        &token,
        "team/members/list_v2",
        &json!({"include_removed": true}),
    )
    .await;
    assert!(page.to_string().contains(&id));

    // Authorizing admin.
    let (status, _) = control(
        &sb,
        Method::POST,
        "/dropbox/authorizing-admin",
        Some(json!({"team_member_id": inv["team_member_id"]})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(team.authorizing_admin(), inv["team_member_id"]);
    let (status, _) = control(
        &sb,
        Method::POST,
        "/dropbox/authorizing-admin",
        Some(json!({"team_member_id": "dbmid:nobody"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Expire and revoke.
    let (status, _) = control(&sb, Method::POST, "/dropbox/expire-tokens", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = dbx_rpc(&sb, &token, "team/get_info", &Value::Null).await;
    assert_eq!(
        (status, body["error"][".tag"].clone()),
        (StatusCode::UNAUTHORIZED, json!("expired_access_token"))
    );
    let (status, _) = control(&sb, Method::POST, "/dropbox/revoke-tokens", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = dbx_rpc(&sb, &token, "team/get_info", &Value::Null).await;
    assert_eq!(
        (status, body["error"][".tag"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid_access_token"))
    );

    // Faults and stats over HTTP.
    let (status, _) = control(
        &sb,
        Method::POST,
        "/faults",
        Some(json!({"route": "dropbox_token", "kind": {"rate_limited": {"retry_after_secs": 2}}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = dbx_refresh(&sb, App::Sync, "x").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (_, stats) = control(&sb, Method::GET, "/stats", None).await;
    for key in [
        "dropbox_token",
        "dropbox_authorize",
        "dropbox_members",
        "dropbox_events",
        "dropbox_team_info",
        "dropbox_any",
    ] {
        assert!(stats["calls"][key].is_u64(), "{key}: {stats}");
    }
    assert_eq!(stats["calls"]["dropbox_token"], 2);
    assert_eq!(stats["calls"]["dropbox_members"], 2);
}
