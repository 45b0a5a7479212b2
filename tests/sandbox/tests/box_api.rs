//! The Box endpoints over real HTTP: token grant, users paging and fields, events, auth errors.

mod common;

use std::collections::HashSet;

use chrono::Duration;
use common::*;
use provider_sandbox::{BoxTenantSpec, NewBoxUser, Sandbox, SandboxConfig};
use reqwest::StatusCode;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Token

#[tokio::test]
async fn token_grant_ok_and_errors() {
    let sb = start(10, 1).await;
    let tenant = sb.box_tenant();
    let (id, secret, ent) = (
        tenant.client_id(),
        tenant.client_secret(),
        tenant.enterprise_id(),
    );
    let good = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("box_subject_type", "enterprise"),
        ("box_subject_id", ent.as_str()),
    ];

    let (status, body) = post_form(&sb, &good).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["restricted_to"], serde_json::json!([]));
    assert_eq!(
        body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    let first = body["access_token"].as_str().expect("token").to_string();
    assert!(first.len() >= 20);
    let (_, again) = post_form(&sb, &good).await;
    assert_ne!(
        again["access_token"].as_str(),
        Some(first.as_str()),
        "tokens are random"
    );

    // Client credentials through HTTP Basic instead of the form.
    let response = client()
        .post(sb.box_token_url())
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("box_subject_type", "enterprise"),
            ("box_subject_id", ent.as_str()),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);

    let expect_error = |form: Vec<(&'static str, String)>, error: &'static str| {
        let sb = &sb;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, body) = post_form(sb, &form).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(body["error"], error, "{body}");
            assert!(body["error_description"].is_string());
            assert_eq!(keys(&body), vec!["error", "error_description"]);
        }
    };
    let with = |k: &'static str, v: &str| -> Vec<(&'static str, String)> {
        good.iter()
            .map(|(gk, gv)| {
                (
                    *gk,
                    if *gk == k {
                        v.to_string()
                    } else {
                        gv.to_string()
                    },
                )
            })
            .collect()
    };
    expect_error(with("client_secret", "wrong"), "invalid_client").await;
    expect_error(with("client_id", "someone-else"), "invalid_client").await;
    expect_error(with("box_subject_id", "123"), "invalid_grant").await;
    expect_error(with("box_subject_type", "user"), "invalid_grant").await;
    expect_error(with("grant_type", "password"), "unsupported_grant_type").await;
    expect_error(with("grant_type", ""), "invalid_request").await;

    let (status, body) = post_form(
        &sb,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", "nope"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(
        body["error_description"],
        "The client credentials are not valid"
    );
}

// ---------------------------------------------------------------------------------------------
// Auth

fn assert_box_401(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, &Value::Null, "401 has an empty body");
}

async fn raw_get(url: String, auth: Option<&str>) -> reqwest::Response {
    let mut request = client().get(url);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn unauthorized_requests_get_box_401() {
    let sb = start(10, 1).await;
    for auth in [
        None,
        Some("Bearer not-a-token"),
        Some("Basic Zm9vOmJhcg=="),
        Some("Bearer"),
    ] {
        for path in [
            "/users",
            "/users/10000001",
            "/events?stream_type=admin_logs",
        ] {
            let response = raw_get(format!("{}{path}", sb.box_api_url()), auth).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{path} {auth:?}"
            );
            assert_eq!(
                response.headers()["www-authenticate"],
                r#"Bearer realm="Service", error="invalid_token", error_description="The access token provided is invalid.""#
            );
            assert!(response.bytes().await.expect("body").is_empty());
        }
    }

    let token = token(&sb).await;
    let (status, _) = get(&sb, &token, "/users").await;
    assert_eq!(status, StatusCode::OK);
    sb.box_tenant().expire_all_tokens();
    let (status, body) = get(&sb, &token, "/users").await;
    assert_box_401(status, &body);
    let fresh = common::token(&sb).await;
    let (status, _) = get(&sb, &fresh, "/users").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "new grants work after expire_all_tokens"
    );
    assert_eq!(sb.box_tenant().issued_tokens(), vec![token, fresh]);
}

#[tokio::test]
async fn tokens_expire_after_their_ttl() {
    let sb = Sandbox::start(SandboxConfig {
        box_token_ttl_secs: 1,
        ..config(5, 1)
    })
    .await
    .expect("start");
    let token = token(&sb).await;
    let (status, _) = get(&sb, &token, "/users").await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, body) = get(&sb, &token, "/users").await;
    assert_box_401(status, &body);
}

// ---------------------------------------------------------------------------------------------
// Users

#[tokio::test]
async fn marker_paging_returns_every_managed_user_once() {
    let sb = start(2345, 11).await;
    let token = token(&sb).await;
    let truth: Vec<String> = sb.box_tenant().users().into_iter().map(|u| u.id).collect();
    assert_eq!(truth.len(), 2345);

    for (query, pages) in [
        ("limit=1000", 3),
        ("limit=1000&user_type=managed", 3),
        ("", 24),
        ("limit=7&user_type=all", 335),
    ] {
        let (ids, n) = page_users(&sb, &token, query).await;
        assert_eq!(ids, truth, "{query}: every user once, ordered by id");
        assert_eq!(n, pages, "{query}");
    }

    // The last page has next_marker null; a full page followed by nothing also ends.
    let (_, body) = get(&sb, &token, "/users?usemarker=true&limit=1000").await;
    assert_eq!(keys(&body), vec!["entries", "limit", "next_marker"]);
    assert_eq!(body["limit"], 1000);
    let m1 = body["next_marker"].as_str().expect("marker").to_string();
    assert!(!m1.contains("10001000"), "markers are opaque");
    let (_, body) = get(
        &sb,
        &token,
        &format!("/users?usemarker=true&limit=1000&marker={}", enc(&m1)),
    )
    .await;
    let m2 = body["next_marker"].as_str().expect("marker").to_string();
    let (_, body) = get(
        &sb,
        &token,
        &format!("/users?usemarker=true&limit=1000&marker={}", enc(&m2)),
    )
    .await;
    assert_eq!(body["entries"].as_array().map(Vec::len), Some(345));
    assert_eq!(body["next_marker"], Value::Null);

    // App users are managed users too; external users: the tenant has none.
    let apps = sb
        .box_tenant()
        .users()
        .iter()
        .filter(|u| u.is_platform_access_only)
        .count();
    assert!(apps > 0);
    let (ids, _) = page_users(&sb, &token, "user_type=external").await;
    assert!(ids.is_empty());
}

#[tokio::test]
async fn marker_paging_is_stable_under_deletes_and_adds() {
    let sb = start(100, 5).await;
    let token = token(&sb).await;
    let tenant = sb.box_tenant();
    let (_, page1) = get(&sb, &token, "/users?usemarker=true&limit=10").await;
    let marker = page1["next_marker"].as_str().expect("marker").to_string();
    // Delete the last user returned (the marker's tail) and one not yet returned; add one.
    assert!(tenant.remove_user("10000010"));
    assert!(tenant.remove_user("10000015"));
    let added = tenant.add_user(NewBoxUser::member("Late Joiner", "late.joiner@example.com"));
    let mut ids: Vec<String> = page1["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_string())
        .collect();
    let mut marker = Some(marker);
    while let Some(m) = marker {
        let (status, body) = get(
            &sb,
            &token,
            &format!("/users?usemarker=true&limit=10&marker={}", enc(&m)),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        ids.extend(
            body["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .map(|e| e["id"].as_str().expect("id").to_string()),
        );
        marker = body["next_marker"].as_str().map(str::to_string);
    }
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no duplicates");
    let expected: Vec<String> = (10_000_001..=10_000_100u64)
        .map(|id| id.to_string())
        .filter(|id| id != "10000015")
        .chain([added.id.clone()])
        .collect();
    assert_eq!(ids, expected, "nobody still present is skipped");
}

#[tokio::test]
async fn offset_paging() {
    let sb = start(250, 3).await;
    let token = token(&sb).await;
    let (status, body) = get(&sb, &token, "/users").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        keys(&body),
        vec!["entries", "limit", "offset", "total_count"]
    );
    assert_eq!(body["total_count"], 250);
    assert_eq!(body["limit"], 100);
    assert_eq!(body["offset"], 0);
    let mut ids = Vec::new();
    let mut offset = 0;
    loop {
        let (_, body) = get(&sb, &token, &format!("/users?limit=60&offset={offset}")).await;
        let entries = body["entries"].as_array().expect("entries");
        if entries.is_empty() {
            break;
        }
        ids.extend(
            entries
                .iter()
                .map(|e| e["id"].as_str().expect("id").to_string()),
        );
        offset += body["limit"].as_u64().expect("limit");
    }
    let truth: Vec<String> = sb.box_tenant().users().into_iter().map(|u| u.id).collect();
    assert_eq!(ids, truth);

    let (status, _) = get(&sb, &token, "/users?offset=10000").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = get(&sb, &token, "/users?offset=10001").await;
    assert_client_error(status, &body, 400, "bad_request");
    assert_eq!(body["context_info"]["errors"][0]["name"], "offset");
}

fn assert_client_error(status: StatusCode, body: &Value, want: u16, code: &str) {
    assert_eq!(status.as_u16(), want, "{body}");
    assert_eq!(body["type"], "error");
    assert_eq!(body["status"], want);
    assert_eq!(body["code"], code);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["help_url"].is_string());
    assert!(body["request_id"].as_str().is_some_and(|r| !r.is_empty()));
}

#[tokio::test]
async fn bad_parameters_get_client_errors() {
    let sb = start(20, 3).await;
    let token = token(&sb).await;
    let (status, first) = get(&sb, &token, "/users?usemarker=true&limit=1001").await;
    assert_client_error(status, &first, 400, "bad_request");
    assert_eq!(
        keys(&first),
        vec![
            "code",
            "context_info",
            "help_url",
            "message",
            "request_id",
            "status",
            "type"
        ]
    );
    let detail = &first["context_info"]["errors"][0];
    assert_eq!(detail["reason"], "invalid_parameter");
    assert_eq!(detail["name"], "limit");
    let (_, second) = get(&sb, &token, "/users?limit=1001").await;
    assert_ne!(
        first["request_id"], second["request_id"],
        "a fresh request_id per error"
    );

    for query in [
        "/users?limit=abc",
        "/users?limit=0",
        "/users?limit=-1",
        "/users?usemarker=maybe",
        "/users?usemarker=true&marker=%%%",
        "/users?usemarker=true&marker=bm90IGpzb24",
        "/users?marker=abc",
        "/users?user_type=robots",
        "/users?offset=x",
        "/events",
        "/events?stream_type=all",
        "/events?stream_type=changes",
        "/events?stream_type=admin_logs&limit=501",
        "/events?stream_type=admin_logs&created_after=yesterday",
        "/events?stream_type=admin_logs&created_before=2024-13-01T00:00:00Z",
        "/events?stream_type=admin_logs&stream_position=xyz",
    ] {
        let (status, body) = get(&sb, &token, query).await;
        assert_client_error(status, &body, 400, "bad_request");
        assert!(
            body["context_info"]["errors"][0]["name"].is_string(),
            "{query}"
        );
    }
    let (status, _) = get(&sb, &token, "/users?usemarker=true&limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get(&sb, &token, "/events?stream_type=admin_logs&limit=500").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn fields_select_exactly_what_is_asked() {
    let sb = start(300, 9).await;
    let token = token(&sb).await;
    let tenant = sb.box_tenant();

    let (_, body) = get(&sb, &token, "/users?usemarker=true&limit=1000").await;
    let standard = [
        "address",
        "avatar_url",
        "created_at",
        "id",
        "job_title",
        "language",
        "login",
        "max_upload_size",
        "modified_at",
        "name",
        "notification_email",
        "phone",
        "space_amount",
        "space_used",
        "status",
        "timezone",
        "type",
    ];
    for e in body["entries"].as_array().expect("entries") {
        assert_eq!(
            keys(e),
            standard,
            "default = the standard User fields, no role"
        );
    }

    let (_, body) = get(&sb, &token, "/users?usemarker=true&limit=1000&fields=role,enterprise,is_platform_access_only,tracking_codes").await;
    let truth = tenant.users();
    for (e, u) in body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .zip(&truth)
    {
        assert_eq!(
            keys(e),
            vec![
                "enterprise",
                "id",
                "is_platform_access_only",
                "role",
                "tracking_codes",
                "type"
            ]
        );
        assert_eq!(e["type"], "user");
        assert_eq!(e["id"], u.id.as_str());
        assert_eq!(e["role"], u.role.as_str());
        assert_eq!(e["is_platform_access_only"], u.is_platform_access_only);
        assert_eq!(e["enterprise"]["type"], "enterprise");
        assert_eq!(e["enterprise"]["id"], tenant.enterprise_id().as_str());
        assert!(e["enterprise"]["name"].is_string());
        let codes: Vec<(String, String)> = e["tracking_codes"]
            .as_array()
            .expect("array")
            .iter()
            .map(|c| {
                assert_eq!(c["type"], "tracking_code");
                (
                    c["name"].as_str().expect("name").to_string(),
                    c["value"].as_str().expect("value").to_string(),
                )
            })
            .collect();
        assert_eq!(codes, u.tracking_codes);
    }
    assert!(truth.iter().any(|u| !u.tracking_codes.is_empty()));

    // The seatkeeper field list; id/type may be listed too; unknown fields are ignored.
    let fields = "id,type,name,login,status,role,created_at,modified_at,space_used,is_platform_access_only,enterprise,external_app_user_id,bogus";
    let (_, body) = get(
        &sb,
        &token,
        &format!("/users?usemarker=true&limit=5&fields={fields}"),
    )
    .await;
    let e = &body["entries"][0];
    assert_eq!(
        keys(e),
        vec![
            "created_at",
            "enterprise",
            "external_app_user_id",
            "id",
            "is_platform_access_only",
            "login",
            "modified_at",
            "name",
            "role",
            "space_used",
            "status",
            "type"
        ]
    );
    let admin = &truth[0];
    assert_eq!(e["name"], admin.name.as_str());
    assert_eq!(e["login"], admin.login.as_str());
    assert_eq!(e["role"], "admin");
    assert_eq!(e["space_used"], admin.space_used);
    let created =
        chrono::DateTime::parse_from_rfc3339(e["created_at"].as_str().expect("created_at"))
            .expect("RFC 3339");
    assert_eq!(created, admin.created_at);
    assert!(
        e["created_at"]
            .as_str()
            .is_some_and(|s| s.ends_with("-08:00")),
        "offset form like the spec"
    );

    // Single user, with and without fields.
    let (status, one) = get(
        &sb,
        &token,
        &format!("/users/{}?fields=role,status", admin.id),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&one), vec!["id", "role", "status", "type"]);
    let (_, one) = get(&sb, &token, &format!("/users/{}", admin.id)).await;
    assert_eq!(keys(&one), standard);
    let (_, me) = get(&sb, &token, "/users/me?fields=enterprise").await;
    assert_eq!(keys(&me), vec!["enterprise", "id", "type"]);
    assert_eq!(me["enterprise"]["id"], tenant.enterprise_id().as_str());
}

#[tokio::test]
async fn filter_term_matches_name_or_login_prefix() {
    let sb = start(400, 21).await;
    let token = token(&sb).await;
    let users = sb.box_tenant().users();
    let target = &users[37];
    let first_name = target.name.split(' ').next().expect("first name");
    for term in [
        first_name.to_string(),
        first_name.to_uppercase(),
        target.login[..4].to_string(),
    ] {
        let (ids, _) = page_users(
            &sb,
            &token,
            &format!("limit=1000&filter_term={}", enc(&term)),
        )
        .await;
        let lower = term.to_lowercase();
        let expected: Vec<String> = users
            .iter()
            .filter(|u| {
                u.name.to_lowercase().starts_with(&lower)
                    || u.login.to_lowercase().starts_with(&lower)
            })
            .map(|u| u.id.clone())
            .collect();
        assert!(ids.contains(&target.id));
        assert_eq!(ids, expected, "{term}");
    }
    let (ids, _) = page_users(&sb, &token, "filter_term=zzzz-nobody").await;
    assert!(ids.is_empty());
    let (_, body) = get(&sb, &token, "/users?filter_term=zzzz-nobody").await;
    assert_eq!(body["total_count"], 0);
}

#[tokio::test]
async fn get_user_and_404_after_delete() {
    let sb = start(20, 4).await;
    let token = token(&sb).await;
    let tenant = sb.box_tenant();
    let victim = tenant.users()[5].clone();
    let (status, body) = get(
        &sb,
        &token,
        &format!("/users/{}?fields=status,login", victim.id),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["login"], victim.login.as_str());
    assert!(tenant.remove_user(&victim.id));
    for id in [victim.id.as_str(), "12345", "not-a-number"] {
        let (status, body) = get(&sb, &token, &format!("/users/{id}")).await;
        assert_client_error(status, &body, 404, "not_found");
        assert_eq!(body["context_info"]["errors"][0]["name"], "user");
    }
    let (ids, _) = page_users(&sb, &token, "").await;
    assert!(!ids.contains(&victim.id));
    tenant.set_status(&tenant.users()[3].id, "inactive");
    let (_, body) = get(
        &sb,
        &token,
        &format!("/users/{}?fields=status", tenant.users()[3].id),
    )
    .await;
    assert_eq!(body["status"], "inactive");
}

// ---------------------------------------------------------------------------------------------
// Events

#[tokio::test]
async fn events_window_type_filter_and_paging() {
    let sb = start(600, 13).await;
    let token = token(&sb).await;
    let tenant = sb.box_tenant();
    let now = tenant.now();
    let truth = tenant.events();

    // Everything, in small pages: the whole stream in order, ending with an empty chunk.
    let (all, pages) = page_events(&sb, &token, "limit=100").await;
    let ids: Vec<&str> = all
        .iter()
        .map(|e| e["event_id"].as_str().expect("event_id"))
        .collect();
    let truth_ids: Vec<&str> = truth.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, truth_ids);
    assert_eq!(pages, truth.len().div_ceil(100) + 1);

    // A window and a type filter.
    let after = now - Duration::days(30);
    let before = now - Duration::days(2);
    let query = format!(
        "limit=500&event_type=LOGIN,ADD_LOGIN_ACTIVITY_DEVICE&created_after={}&created_before={}",
        enc(&after.to_rfc3339()),
        enc(&before
            .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).expect("offset"))
            .to_rfc3339())
    );
    let (got, _) = page_events(&sb, &token, &query).await;
    let expected: Vec<&str> = truth
        .iter()
        .filter(|e| ["LOGIN", "ADD_LOGIN_ACTIVITY_DEVICE"].contains(&e.event_type.as_str()))
        .filter(|e| e.created_at >= after && e.created_at < before)
        .map(|e| e.event_id.as_str())
        .collect();
    assert!(!expected.is_empty());
    let got_ids: Vec<&str> = got
        .iter()
        .map(|e| e["event_id"].as_str().expect("id"))
        .collect();
    assert_eq!(got_ids, expected);
    let mut last = None;
    for e in &got {
        let at =
            chrono::DateTime::parse_from_rfc3339(e["created_at"].as_str().expect("created_at"))
                .expect("RFC 3339");
        assert!(last.is_none_or(|l| l <= at), "chronological");
        last = Some(at);
        assert!(["LOGIN", "ADD_LOGIN_ACTIVITY_DEVICE"]
            .contains(&e["event_type"].as_str().expect("type")));
        assert_eq!(e["created_by"]["type"], "user");
        assert_eq!(e["type"], "event");
    }

    // Noise is there for whoever doesn't filter: events that are not logins.
    let types: HashSet<&str> = truth.iter().map(|e| e.event_type.as_str()).collect();
    for noise in ["FAILED_LOGIN", "ADMIN_LOGIN", "UPLOAD"] {
        assert!(types.contains(noise), "{noise}");
    }
    let (uploads, _) = page_events(&sb, &token, "event_type=UPLOAD&limit=500").await;
    assert!(!uploads.is_empty());
    for e in &uploads {
        assert_eq!(e["source"]["item_type"], "file");
        assert_eq!(e["source"]["owned_by"]["id"], e["created_by"]["id"]);
    }
    let (none, _) = page_events(&sb, &token, "event_type=NO_SUCH_TYPE").await;
    assert!(none.is_empty());

    // `now`: no events, the latest position; new events show up from there.
    let (_, body) = get(
        &sb,
        &token,
        "/events?stream_type=admin_logs&stream_position=now",
    )
    .await;
    assert_eq!(body["chunk_size"], 0);
    let latest = body["next_stream_position"]
        .as_str()
        .expect("position")
        .to_string();
    let user = tenant.users()[1].id.clone();
    let event_id = tenant.add_event(&user, "LOGIN", now - Duration::seconds(5));
    let (_, body) = get(
        &sb,
        &token,
        &format!("/events?stream_type=admin_logs&stream_position={latest}"),
    )
    .await;
    assert_eq!(body["chunk_size"], 1);
    assert_eq!(body["entries"][0]["event_id"], event_id.as_str());
    assert_eq!(body["entries"][0]["created_by"]["id"], user.as_str());
    assert_eq!(tenant.last_login(&user), Some(now - Duration::seconds(5)));
}

#[tokio::test]
async fn events_name_deleted_users() {
    let sb = start(50, 2).await;
    let token = token(&sb).await;
    let tenant = sb.box_tenant();
    let user = tenant.users()[3].clone();
    tenant.add_event(&user.id, "LOGIN", tenant.now() - Duration::hours(1));
    assert!(tenant.remove_user(&user.id));
    let (events, _) = page_events(&sb, &token, "event_type=LOGIN&limit=500").await;
    let last = events.last().expect("an event");
    assert_eq!(last["created_by"]["id"], user.id.as_str());
    assert_eq!(last["created_by"]["login"], user.login.as_str());
}

// ---------------------------------------------------------------------------------------------
// Determinism and config

#[tokio::test]
async fn same_seed_same_responses() {
    let a = start(300, 77).await;
    let b = start(300, 77).await;
    let c = start(300, 78).await;
    let (ta, tb, tc) = (token(&a).await, token(&b).await, token(&c).await);
    for path in [
        "/users?usemarker=true&limit=1000&fields=name,login,role,status,created_at,is_platform_access_only,tracking_codes",
        "/events?stream_type=admin_logs&limit=500",
    ] {
        let (_, ra) = get(&a, &ta, path).await;
        let (_, rb) = get(&b, &tb, path).await;
        let (_, rc) = get(&c, &tc, path).await;
        assert_eq!(ra, rb, "{path}");
        assert_ne!(ra, rc, "{path}");
    }
}

#[tokio::test]
async fn binds_loopback_only() {
    let err = Sandbox::start(SandboxConfig {
        bind: "0.0.0.0:0".parse().expect("addr"),
        ..SandboxConfig::default()
    })
    .await
    .expect_err("non-loopback bind is refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);

    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("start");
    assert!(sb.url().starts_with("http://127.0.0.1:"));
    assert_eq!(sb.box_api_url(), format!("{}/box/2.0", sb.url()));
    assert_eq!(sb.box_token_url(), format!("{}/box/oauth2/token", sb.url()));
    let url = sb.url();
    sb.shutdown().await;
    assert!(
        client()
            .get(format!("{url}/_sandbox/stats"))
            .send()
            .await
            .is_err(),
        "stopped"
    );
}

#[tokio::test]
async fn big_tenant_pages_quickly() {
    let started = std::time::Instant::now();
    let mut spec = BoxTenantSpec::new(20_000, 5);
    spec.now = fixed_now();
    let sb = Sandbox::start(SandboxConfig {
        box_tenant: spec,
        ..SandboxConfig::default()
    })
    .await
    .expect("start");
    let token = token(&sb).await;
    let (ids, pages) = page_users(&sb, &token, "limit=1000&fields=id,login,role,status").await;
    assert_eq!(ids.len(), 20_000);
    assert_eq!(pages, 20);
    eprintln!("20k users generated and paged in {:?}", started.elapsed());
}

#[test]
fn generated_tenants_have_sync_only_users_and_users_just_beyond_the_backfill() {
    let tenant = provider_sandbox::BoxTenantHandle::generate(
        &provider_sandbox::BoxTenantSpec::new(1000, 7),
        std::time::Duration::from_secs(3600),
    );
    let now = tenant.now();
    let logins = tenant.last_logins();
    let activity = tenant.last_activities();
    let recent = |t: Option<&chrono::DateTime<chrono::Utc>>| {
        t.is_some_and(|t| now - *t < chrono::Duration::days(60))
    };
    let sync_only = tenant
        .users()
        .into_iter()
        .filter(|u| !u.is_platform_access_only && u.status == "active")
        .filter(|u| !recent(logins.get(&u.id)) && recent(activity.get(&u.id)))
        .count();
    assert!(sync_only > 20, "{sync_only}");
    let just_beyond = activity
        .values()
        .filter(|t| (91..=120).contains(&(now - **t).num_days()))
        .count();
    assert!(just_beyond > 5, "{just_beyond}");
    // every content type Box's inactive-user report counts occurs
    let types: std::collections::HashSet<String> =
        tenant.events().into_iter().map(|e| e.event_type).collect();
    for t in provider_sandbox::BOX_ACTIVITY_EVENT_TYPES {
        assert!(types.contains(t), "{t}");
    }
}
