//! Dropbox OAuth: authorize (PKCE, state, scopes, the approving admin), the code and refresh
//! grants, every `invalid_grant` case, token expiry and revocation, scope enforcement and the RPC
//! request conventions.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use provider_sandbox::{DropboxRole, Sandbox};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn assert_oauth_error((status, body): (StatusCode, Value), error: &str) {
    let body = &body;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(keys(body), ["error", "error_description"], "{body}");
    assert!(body["error_description"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
}

fn assert_invalid_grant(answer: (StatusCode, Value)) {
    assert_oauth_error(answer, "invalid_grant");
}

async fn get_info(sb: &Sandbox, token: &str) -> (StatusCode, Value) {
    dbx_rpc(sb, token, "team/get_info", &Value::Null).await
}

async fn authenticated_admin(sb: &Sandbox, token: &str) -> (StatusCode, Value) {
    dbx_rpc(
        sb,
        token,
        "team/token/get_authenticated_admin",
        &Value::Null,
    )
    .await
}

#[tokio::test]
async fn full_flow_authorize_exchange_refresh() {
    let sb = dbx_start(40, 1).await;
    let team = sb.dropbox_team();
    let (key, _) = team.sync_app();
    let p = pkce();
    let state = "s t&a=t/e é+";
    let response = dbx_authorize_raw(
        &sb,
        &authorize_query(&key, App::Sync.scopes(), &p.challenge, state),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(response.headers().contains_key("x-dropbox-request-id"));
    let (base, q) = location_query(&response);
    assert_eq!(base, REDIRECT);
    assert_eq!(q["state"], state, "state comes back unchanged");
    assert_eq!(
        q.keys().cloned().collect::<BTreeSet<_>>(),
        ["code", "state"].map(String::from).into()
    );
    let code = q["code"].clone();

    let (status, body) = dbx_exchange(&sb, App::Sync, &code, &p.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        key_set(&body),
        [
            "access_token",
            "token_type",
            "expires_in",
            "refresh_token",
            "scope",
            "uid",
            "team_id"
        ]
        .map(String::from)
        .into()
    );
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 14_400);
    assert_eq!(body["scope"], App::Sync.scopes());
    assert_eq!(body["team_id"], team.team_id());
    let admin = team.member(&team.authorizing_admin()).expect("admin");
    assert_eq!(body["uid"], admin.uid);
    let access = body["access_token"].as_str().expect("access").to_string();
    let refresh = body["refresh_token"].as_str().expect("refresh").to_string();
    assert!(access.starts_with("sl."), "short-lived token shape");
    assert_ne!(access, refresh);

    let (status, info) = get_info(&sb, &access).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["team_id"], team.team_id());
    let (status, me) = authenticated_admin(&sb, &access).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["admin_profile"]["team_member_id"], admin.team_member_id);
    assert_eq!(me["admin_profile"]["email"], admin.email);

    // Refresh: a new access token, no new refresh token.
    let (status, body) = dbx_refresh(&sb, App::Sync, &refresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        key_set(&body),
        ["access_token", "token_type", "expires_in"]
            .map(String::from)
            .into()
    );
    let access2 = body["access_token"].as_str().expect("access").to_string();
    assert_ne!(access2, access);
    assert_eq!(get_info(&sb, &access2).await.0, StatusCode::OK);
    assert_eq!(
        get_info(&sb, &access).await.0,
        StatusCode::OK,
        "the old one lives on"
    );
    // The refreshed token has the same admin.
    let (_, me2) = authenticated_admin(&sb, &access2).await;
    assert_eq!(me2, me);
    // The refresh token is reusable.
    assert_eq!(
        dbx_refresh(&sb, App::Sync, &refresh).await.0,
        StatusCode::OK
    );

    let issued = team.issued_tokens();
    for t in [&access, &refresh, &access2] {
        assert!(issued.contains(t), "issued_tokens lists {t}");
    }
    assert!(!issued.contains(&code), "codes are not tokens");
    assert_eq!(issued.len(), 4);
}

#[tokio::test]
async fn client_may_authenticate_with_basic_or_pkce_only() {
    let sb = dbx_start(10, 2).await;
    let (key, secret) = App::Reclaim.creds(&sb);
    // HTTP Basic.
    let p = pkce();
    let code = dbx_code(&sb, App::Reclaim, &p).await;
    let response = client()
        .post(sb.dropbox_token_url())
        .basic_auth(&key, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", p.verifier.as_str()),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["scope"], App::Reclaim.scopes());
    // PKCE without the secret (a public client), and refresh likewise.
    let p = pkce();
    let code = dbx_code(&sb, App::Reclaim, &p).await;
    let (status, body) = dbx_token_form(
        &sb,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &p.verifier),
            ("client_id", &key),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refresh = body["refresh_token"].as_str().expect("refresh");
    let (status, _) = dbx_token_form(
        &sb,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &key),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn every_invalid_grant() {
    let sb = dbx_start(10, 3).await;
    let team = sb.dropbox_team();

    // A code is single-use.
    let p = pkce();
    let code = dbx_code(&sb, App::Sync, &p).await;
    assert_eq!(
        dbx_exchange(&sb, App::Sync, &code, &p.verifier).await.0,
        StatusCode::OK
    );
    assert_invalid_grant(dbx_exchange(&sb, App::Sync, &code, &p.verifier).await);

    // Wrong verifier: refused, and the code is burned.
    let p = pkce();
    let code = dbx_code(&sb, App::Sync, &p).await;
    assert_invalid_grant(dbx_exchange(&sb, App::Sync, &code, &pkce().verifier).await);
    assert_invalid_grant(dbx_exchange(&sb, App::Sync, &code, &p.verifier).await);

    // The challenge itself is not the verifier.
    let p = pkce();
    let code = dbx_code(&sb, App::Sync, &p).await;
    assert_invalid_grant(dbx_exchange(&sb, App::Sync, &code, &p.challenge).await);

    // Wrong or missing redirect_uri.
    let (key, secret) = App::Sync.creds(&sb);
    for redirect in [Some("https://callback.seatkeeper.test/other"), None] {
        let p = pkce();
        let code = dbx_code(&sb, App::Sync, &p).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", p.verifier.as_str()),
            ("client_id", key.as_str()),
            ("client_secret", secret.as_str()),
        ];
        if let Some(r) = redirect {
            form.push(("redirect_uri", r));
        }
        assert_invalid_grant(dbx_token_form(&sb, &form).await);
    }

    // Expired.
    let p = pkce();
    let code = dbx_code(&sb, App::Sync, &p).await;
    team.expire_authorization_codes();
    assert_invalid_grant(dbx_exchange(&sb, App::Sync, &code, &p.verifier).await);

    // Issued to the other app.
    let p = pkce();
    let code = dbx_code(&sb, App::Sync, &p).await;
    assert_invalid_grant(dbx_exchange(&sb, App::Reclaim, &code, &p.verifier).await);

    // Unknown code.
    assert_invalid_grant(dbx_exchange(&sb, App::Sync, "not-a-code", &p.verifier).await);

    // Refresh: unknown, other app's, revoked.
    let (access, refresh) = dbx_connect(&sb, App::Sync).await;
    assert_invalid_grant(dbx_refresh(&sb, App::Sync, "nope").await);
    assert_invalid_grant(dbx_refresh(&sb, App::Reclaim, &refresh).await);
    team.revoke_refresh_tokens();
    assert_invalid_grant(dbx_refresh(&sb, App::Sync, &refresh).await);
    let (status, body) = get_info(&sb, &access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"][".tag"], "invalid_access_token");
    // A new connect works again.
    let (access, _) = dbx_connect(&sb, App::Sync).await;
    assert_eq!(get_info(&sb, &access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn token_endpoint_client_and_request_errors() {
    let sb = dbx_start(10, 4).await;
    let (key, secret) = App::Sync.creds(&sb);
    let p = pkce();
    let code = dbx_code(&sb, App::Sync, &p).await;
    let base = |grant: &'static str| {
        vec![
            ("grant_type", grant.to_string()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT.to_string()),
            ("code_verifier", p.verifier.clone()),
        ]
    };
    let send = |form: Vec<(&'static str, String)>| {
        let sb = &sb;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            dbx_token_form(sb, &pairs).await
        }
    };
    let mut wrong_secret = base("authorization_code");
    wrong_secret.push(("client_id", key.clone()));
    wrong_secret.push(("client_secret", "wrong".into()));
    assert_oauth_error(send(wrong_secret).await, "invalid_client");

    let mut unknown = base("authorization_code");
    unknown.push(("client_id", "nobody".into()));
    unknown.push(("client_secret", secret.clone()));
    assert_oauth_error(send(unknown).await, "invalid_client");

    assert_oauth_error(
        send(vec![("client_id", key.clone())]).await,
        "invalid_request",
    );

    let mut no_client = base("authorization_code");
    no_client.retain(|(k, _)| *k != "client_id");
    assert_oauth_error(send(no_client).await, "invalid_request");

    let mut cc = base("client_credentials");
    cc.push(("client_id", key.clone()));
    cc.push(("client_secret", secret.clone()));
    assert_oauth_error(send(cc).await, "unsupported_grant_type");

    assert_oauth_error(
        send(vec![
            ("grant_type", "authorization_code".into()),
            ("client_id", key.clone()),
            ("client_secret", secret.clone()),
        ])
        .await,
        "invalid_request",
    );

    // Wrong Basic credentials.
    let response = client()
        .post(sb.dropbox_token_url())
        .basic_auth(&key, Some("wrong"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .expect("token");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_oauth_error((status, body), "invalid_client");

    // None of those burned the code.
    assert_eq!(
        dbx_exchange(&sb, App::Sync, &code, &p.verifier).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn online_access_and_refresh_scope_narrowing() {
    let sb = dbx_start(10, 5).await;
    let (key, _) = App::Sync.creds(&sb);
    let p = pkce();
    let query = authorize_query(&key, "members.read team_info.read", &p.challenge, "x")
        .replace("offline", "online");
    let response = dbx_authorize_raw(&sb, &query).await;
    let (_, q) = location_query(&response);
    let (status, body) = dbx_exchange(&sb, App::Sync, &q["code"], &p.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.get("refresh_token").is_none(),
        "online: no refresh token"
    );
    assert_eq!(body["scope"], "members.read team_info.read");
    let token = body["access_token"].as_str().expect("token");
    let (status, body) = dbx_rpc(&sb, token, "team_log/get_events", &json!({"limit": 1})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error"],
        json!({".tag": "missing_scope", "required_scope": "events.read"})
    );

    // Refresh with a narrower scope; a wider one is refused.
    let (_, refresh) = dbx_connect(&sb, App::Sync).await;
    let (key, secret) = App::Sync.creds(&sb);
    let (status, body) = dbx_token_form(
        &sb,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &key),
            ("client_secret", &secret),
            ("scope", "events.read"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let narrow = body["access_token"].as_str().expect("token");
    let (status, body) = dbx_rpc(&sb, narrow, "team/members/list_v2", &json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["required_scope"], "members.read");
    assert_eq!(
        dbx_rpc(&sb, narrow, "team_log/get_events", &json!({"limit": 1}))
            .await
            .0,
        StatusCode::OK
    );
    assert_oauth_error(
        dbx_token_form(
            &sb,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &key),
                ("client_secret", &secret),
                ("scope", "members.delete"),
            ],
        )
        .await,
        "invalid_scope",
    );
}

#[tokio::test]
async fn authorize_errors() {
    let mut cfg = dbx_config(10, 6);
    cfg.dropbox_team
        .reclaim_app
        .redirect_uris
        .push(REDIRECT.to_string());
    let sb = Sandbox::start(cfg).await.expect("sandbox");
    let team = sb.dropbox_team();
    let (sync_key, _) = team.sync_app();
    let (reclaim_key, _) = team.reclaim_app();
    let p = pkce();
    let good = authorize_query(&sync_key, App::Sync.scopes(), &p.challenge, "st");

    // Pages, no redirect.
    for query in [
        good.replace(&sync_key, "unknown-app"),
        good.replace(&format!("redirect_uri={}", enc(REDIRECT)), ""),
        good.replace(&enc(REDIRECT), "%2Frelative"),
        good.replace(&enc(REDIRECT), &enc("https://x.test/cb#frag")),
        // The reclaim app registered one redirect URI: others are refused.
        authorize_query(&reclaim_key, App::Reclaim.scopes(), &p.challenge, "st")
            .replace(&enc(REDIRECT), &enc("https://evil.test/cb")),
    ] {
        let response = dbx_authorize_raw(&sb, &query).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert!(response.headers().get("location").is_none());
        assert!(response.headers()["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("text/html")));
        assert!(response.text().await.expect("page").contains("Error (400)"));
    }
    // The registered one works.
    let response = dbx_authorize_raw(
        &sb,
        &authorize_query(&reclaim_key, App::Reclaim.scopes(), &p.challenge, "st"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FOUND);

    // Errors reported to the app by redirect, with the state.
    let cases = [
        (
            authorize_query(&sync_key, "members.read members.delete", &p.challenge, "st"),
            "invalid_scope",
        ),
        (
            good.replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (good.replace("&response_type=code", ""), "invalid_request"),
        (
            good.replace("code_challenge_method=S256", "code_challenge_method=plain"),
            "invalid_request",
        ),
        (
            good.replace("&code_challenge_method=S256", ""),
            "invalid_request",
        ),
        (good.replace(&enc(&p.challenge), "short"), "invalid_request"),
        (
            good.replace("token_access_type=offline", "token_access_type=forever"),
            "invalid_request",
        ),
        (
            format!("{good}&include_granted_scopes=everything"),
            "invalid_request",
        ),
        (format!("{good}&sandbox_deny=1"), "access_denied"),
    ];
    for (query, error) in cases {
        let response = dbx_authorize_raw(&sb, &query).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{query}");
        let (base, q) = location_query(&response);
        assert_eq!(base, REDIRECT);
        assert_eq!(
            q.get("error").map(String::as_str),
            Some(error),
            "{query}: {q:?}"
        );
        assert!(q.get("error_description").is_some_and(|d| !d.is_empty()));
        assert_eq!(q.get("state").map(String::as_str), Some("st"));
        assert!(!q.contains_key("code"));
    }
    // No state at all, or too long a state.
    for query in [
        good.replace("&state=st", ""),
        good.replace("state=st", &format!("state={}", "s".repeat(501))),
    ] {
        let (_, q) = location_query(&dbx_authorize_raw(&sb, &query).await);
        assert_eq!(q["error"], "invalid_request");
    }
    // Without `scope` the app's configured scopes are granted.
    let p2 = pkce();
    let no_scope = authorize_query(&sync_key, App::Sync.scopes(), &p2.challenge, "st")
        .replace(&format!("&scope={}", enc(App::Sync.scopes())), "");
    let (_, q) = location_query(&dbx_authorize_raw(&sb, &no_scope).await);
    let (status, body) = dbx_exchange(&sb, App::Sync, &q["code"], &p2.verifier).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["scope"], App::Sync.scopes());

    // The approving admin must be an active admin.
    let plain = team
        .members()
        .into_iter()
        .find(|m| m.role.is_none() && m.status.tag() == "active")
        .expect("a plain member");
    assert!(team.set_authorizing_admin(&plain.team_member_id));
    let (_, q) = location_query(&dbx_authorize_raw(&sb, &good).await);
    assert_eq!(q["error"], "access_denied");
}

#[tokio::test]
async fn tokens_carry_the_approving_admin() {
    let sb = dbx_start(60, 7).await;
    let team = sb.dropbox_team();
    let other = team
        .members()
        .into_iter()
        .find(|m| m.role.is_none() && m.status.tag() == "active")
        .expect("member");
    team.set_role(
        &other.team_member_id,
        Some(DropboxRole::UserManagementAdmin),
    );
    team.set_authorizing_admin(&other.team_member_id);
    let (token, _) = dbx_connect(&sb, App::Reclaim).await;
    let (status, me) = authenticated_admin(&sb, &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["admin_profile"]["team_member_id"], other.team_member_id);
    // No longer an admin: admin_not_active.
    team.set_role(&other.team_member_id, None);
    let (status, body) = authenticated_admin(&sb, &token).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"][".tag"], "admin_not_active");
}

#[tokio::test]
async fn scopes_are_enforced_per_route() {
    let sb = dbx_start(10, 8).await;
    let (reclaim, _) = dbx_connect(&sb, App::Reclaim).await;
    for (route, arg, scope) in [
        ("team/members/list_v2", json!({}), "members.read"),
        (
            "team/members/list/continue_v2",
            json!({"cursor": "x"}),
            "members.read",
        ),
        (
            "team/members/get_info_v2",
            json!({"members": []}),
            "members.read",
        ),
        ("team_log/get_events", json!({}), "events.read"),
        (
            "team_log/get_events/continue",
            json!({"cursor": "x"}),
            "events.read",
        ),
    ] {
        let (status, body) = dbx_rpc(&sb, &reclaim, route, &arg).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{route}");
        assert_eq!(
            body["error"],
            json!({".tag": "missing_scope", "required_scope": scope}),
            "{route}"
        );
    }
    // team_info.read is granted to both apps.
    assert_eq!(get_info(&sb, &reclaim).await.0, StatusCode::OK);
    // The reclaim routes need members.delete, which only the reclaim app has.
    let sync = dbx_token(&sb).await;
    for (route, arg) in [
        ("team/members/remove", json!({})),
        (
            "team/members/remove/job_status/get",
            json!({"async_job_id": "x"}),
        ),
    ] {
        let (status, body) = dbx_rpc(&sb, &sync, route, &arg).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{route}");
        assert_eq!(
            body["error"],
            json!({".tag": "missing_scope", "required_scope": "members.delete"}),
            "{route}"
        );
        // The reclaim app gets past the scope check (to the argument check here).
        let (status, _) = dbx_rpc(&sb, &reclaim, route, &json!({"bogus": 1})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{route}");
    }
}

#[tokio::test]
async fn access_tokens_expire_and_refresh_renews() {
    let mut cfg = dbx_config(10, 9);
    cfg.dropbox_token_ttl_secs = 1;
    let sb = Sandbox::start(cfg).await.expect("sandbox");
    let p = pkce();
    let code = dbx_code(&sb, App::Sync, &p).await;
    let (_, body) = dbx_exchange(&sb, App::Sync, &code, &p.verifier).await;
    assert_eq!(body["expires_in"], 1);
    let token = body["access_token"].as_str().expect("token").to_string();
    let refresh = body["refresh_token"].as_str().expect("refresh").to_string();
    assert_eq!(get_info(&sb, &token).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = get_info(&sb, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"][".tag"], "expired_access_token");
    let (_, body) = dbx_refresh(&sb, App::Sync, &refresh).await;
    let fresh = body["access_token"].as_str().expect("token");
    assert_eq!(get_info(&sb, fresh).await.0, StatusCode::OK);

    // expire_access_tokens: every token so far is expired; refresh still works.
    sb.dropbox_team().expire_access_tokens();
    let (status, body) = get_info(&sb, fresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"][".tag"], "expired_access_token");
    assert_eq!(
        dbx_refresh(&sb, App::Sync, &refresh).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn rpc_request_conventions() {
    let sb = dbx_start(10, 10).await;
    let token = dbx_token(&sb).await;
    let url = format!("{}/2/team/get_info", sb.dropbox_api_url());
    let expect_text = |response: reqwest::Response, status: StatusCode| async move {
        assert_eq!(response.status(), status);
        assert!(response.headers().contains_key("x-dropbox-request-id"));
        assert!(response.headers()["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("text/plain")));
        response.text().await.expect("body")
    };
    // No Authorization header: 400.
    let r = client()
        .post(&url)
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .expect("rpc");
    let text = expect_text(r, StatusCode::BAD_REQUEST).await;
    assert!(
        text.starts_with("Error in call to API function \"team/get_info\""),
        "{text}"
    );
    // Not a bearer token: 400, and the credentials are not echoed.
    let r = client()
        .post(&url)
        .basic_auth("user", Some("secret-value"))
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .expect("rpc");
    let text = expect_text(r, StatusCode::BAD_REQUEST).await;
    assert!(!text.contains("secret-value") && !text.contains("dXNlcj"));
    // Unknown token: 401 invalid_access_token.
    let (status, body) = get_info(&sb, "sl.nope").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], json!({".tag": "invalid_access_token"}));
    // Wrong content type.
    let r = client()
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("null")
        .send()
        .await
        .expect("rpc");
    let text = expect_text(r, StatusCode::BAD_REQUEST).await;
    assert!(text.contains("Content-Type"), "{text}");
    // Void route: no body and no content type is fine; so is `application/json; charset=utf-8`.
    let r = client()
        .post(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("rpc");
    assert_eq!(r.status(), StatusCode::OK);
    let r = client()
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json; charset=utf-8")
        .body("null")
        .send()
        .await
        .expect("rpc");
    assert_eq!(r.status(), StatusCode::OK);
    // A Void route given an argument; not JSON at all.
    let text = expect_text(
        dbx_rpc_raw(&sb, &token, "team/get_info", "{}".into()).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(text.contains("expected null"), "{text}");
    let text = expect_text(
        dbx_rpc_raw(&sb, &token, "team/members/list_v2", "{limit:".into()).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(text.contains("could not decode input as JSON"), "{text}");
    // GET is not an RPC; unknown routes are 404.
    let r = client()
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("rpc");
    expect_text(r, StatusCode::METHOD_NOT_ALLOWED).await;
    let text = expect_text(
        dbx_rpc_raw(&sb, &token, "team/nothing_here", "null".into()).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(text.contains("team/nothing_here"));
    let r = client()
        .get(format!("{}/elsewhere", sb.dropbox_api_url()))
        .send()
        .await
        .expect("rpc");
    expect_text(r, StatusCode::NOT_FOUND).await;
    // The token endpoint's answers carry the request id too.
    let (key, secret) = App::Sync.creds(&sb);
    let r = client()
        .post(sb.dropbox_token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", key.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .expect("token");
    assert!(r.headers().contains_key("x-dropbox-request-id"));
    assert_eq!(r.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn secrets_never_appear_in_responses() {
    let sb = dbx_start(30, 11).await;
    let (token, refresh) = dbx_connect(&sb, App::Sync).await;
    let (_, secret) = App::Sync.creds(&sb);
    let mut bodies = Vec::new();
    for (route, arg) in [
        ("team/get_info", Value::Null),
        ("team/token/get_authenticated_admin", Value::Null),
        (
            "team/members/list_v2",
            json!({"limit": 1000, "include_removed": true}),
        ),
        ("team_log/get_events", json!({"limit": 1000})),
    ] {
        bodies.push(dbx_rpc(&sb, &token, route, &arg).await.1.to_string());
    }
    bodies.push(
        dbx_rpc(&sb, "sl.bogus", "team/get_info", &Value::Null)
            .await
            .1
            .to_string(),
    );
    for body in &bodies {
        assert!(!body.contains(&token) && !body.contains(&refresh) && !body.contains(&secret));
    }
}
