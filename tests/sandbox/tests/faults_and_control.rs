//! Fault injection, stats and the HTTP control API.

mod common;

use std::time::{Duration, Instant};

use common::*;
use provider_sandbox::{FaultKind, FaultRule, Route};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn rate_limited() {
    let sb = start(20, 1).await;
    let token = token(&sb).await;
    sb.faults().push(FaultRule::new(
        Route::BoxUsers,
        FaultKind::RateLimited {
            retry_after_secs: 7,
        },
    ));
    let response = get_raw(&sb, &token, "/users").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "7");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["type"], "error");
    assert_eq!(body["status"], 429);
    assert_eq!(body["code"], "rate_limit_exceeded");
    assert_eq!(
        body["message"],
        "Request rate limit exceeded, please try again later"
    );
    assert!(body["request_id"].is_string() && body["help_url"].is_string());
    // Fired once: the retry goes through.
    assert_eq!(
        get_raw(&sb, &token, "/users").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn server_errors() {
    let sb = start(20, 1).await;
    let token = token(&sb).await;
    for (status, code) in [
        (500, "internal_server_error"),
        (502, "bad_gateway"),
        (503, "unavailable"),
    ] {
        sb.faults().push(FaultRule::new(
            Route::BoxEvents,
            FaultKind::ServerError { status },
        ));
        let response = get_raw(&sb, &token, "/events?stream_type=admin_logs").await;
        assert_eq!(response.status().as_u16(), status);
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["status"], status);
        assert_eq!(body["code"], code);
    }
    assert_eq!(
        get_raw(&sb, &token, "/events?stream_type=admin_logs")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn expired_token_fault() {
    let sb = start(20, 1).await;
    let token = token(&sb).await;
    sb.faults()
        .push(FaultRule::new(Route::BoxUsers, FaultKind::ExpiredToken).skip(1));
    assert_eq!(
        get_raw(&sb, &token, "/users").await.status(),
        StatusCode::OK
    );
    let response = get_raw(&sb, &token, "/users").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .is_ok_and(|v| v.contains("invalid_token")));
    assert!(response.bytes().await.expect("body").is_empty());
    assert_eq!(
        get_raw(&sb, &token, "/users").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn slow_responses() {
    let sb = start(20, 1).await;
    let token = token(&sb).await;
    sb.faults()
        .push(FaultRule::new(Route::Any, FaultKind::Slow { millis: 300 }).times(2));
    let started = Instant::now();
    let (status, body) = get(&sb, &token, "/users?usemarker=true").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["entries"].as_array().map(Vec::len),
        Some(20),
        "answers normally"
    );
    let started = Instant::now();
    let _ = common::token(&sb).await; // `Any` covers the token route too
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    let _ = get(&sb, &token, "/users").await;
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn truncated_body() {
    let sb = start(50, 1).await;
    let token = token(&sb).await;
    let full = get_raw(&sb, &token, "/users?usemarker=true")
        .await
        .bytes()
        .await
        .expect("body");
    sb.faults()
        .push(FaultRule::new(Route::BoxUsers, FaultKind::TruncatedBody));
    let response = get_raw(&sb, &token, "/users?usemarker=true").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let cut = response.bytes().await.expect("body");
    assert_eq!(cut.len(), full.len() / 2);
    assert_eq!(&full[..cut.len()], &cut[..]);
    assert!(serde_json::from_slice::<Value>(&cut).is_err());

    // And through reqwest's own JSON decoding, as seatkeeper reads it.
    sb.faults()
        .push(FaultRule::new(Route::BoxEvents, FaultKind::TruncatedBody));
    let response = get_raw(&sb, &token, "/events?stream_type=admin_logs").await;
    assert!(response.json::<Value>().await.is_err());
}

#[tokio::test]
async fn rules_count_per_route_and_fire_in_push_order() {
    let sb = start(20, 1).await;
    let token = token(&sb).await;
    let faults = sb.faults();
    faults.push(
        FaultRule::new(Route::BoxUsers, FaultKind::ServerError { status: 503 })
            .skip(2)
            .times(2),
    );
    faults.push(
        FaultRule::new(
            Route::BoxUsers,
            FaultKind::RateLimited {
                retry_after_secs: 1,
            },
        )
        .forever(),
    );
    // Requests to other routes are not counted by a BoxUsers rule.
    for _ in 0..3 {
        assert_eq!(
            get_raw(&sb, &token, "/events?stream_type=admin_logs")
                .await
                .status(),
            StatusCode::OK
        );
    }
    let statuses = [
        get_raw(&sb, &token, "/users").await.status().as_u16(),
        get_raw(&sb, &token, "/users").await.status().as_u16(),
        get_raw(&sb, &token, "/users").await.status().as_u16(),
        get_raw(&sb, &token, "/users/10000001")
            .await
            .status()
            .as_u16(),
        get_raw(&sb, &token, "/users").await.status().as_u16(),
    ];
    assert_eq!(statuses, [429, 429, 503, 503, 429]);
    faults.clear();
    assert_eq!(
        get_raw(&sb, &token, "/users").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn latency_delays_each_provider_request_and_is_recorded() {
    let sb = start(20, 1).await;
    sb.set_latency_ms(40);
    assert_eq!(sb.latency_ms(), 40);
    let token = token(&sb).await;
    // one request alone takes at least the latency (tokio's sleep never wakes early)
    let started = Instant::now();
    let (status, _) = get(&sb, &token, "/users/10000002").await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(40));
    // concurrent requests are delayed each on its own, and every one is recorded
    let (a, b) = tokio::join!(
        get(&sb, &token, "/users?limit=5"),
        get(&sb, &token, "/events?stream_type=admin_logs")
    );
    assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK));
    // the control API is not delayed, nor counted
    let (status, body) = control(&sb, reqwest::Method::GET, "/stats", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["latency_ms"], 40);
    assert_eq!(body["delayed_requests"], 4, "{body}");
    assert_eq!(body["delayed_ms"], 160, "{body}");
    assert_eq!(sb.stats().delayed(), (4, 160));
    // 0 turns it off
    sb.set_latency_ms(0);
    let _ = get(&sb, &token, "/users?limit=5").await;
    assert_eq!(sb.stats().delayed(), (4, 160));
    assert_eq!(sb.stats().calls(Route::Any), 5);
}

#[tokio::test]
async fn stats_count_calls_and_record_requests() {
    let sb = start(20, 1).await;
    let stats = sb.stats();
    let token = token(&sb).await;
    let _ = get(&sb, &token, "/users?usemarker=true&limit=5").await;
    let _ = get(&sb, &token, "/users/10000002").await;
    let _ = get(&sb, &token, "/events?stream_type=admin_logs").await;
    let _ = get(&sb, &token, "/files/1").await;
    sb.faults().push(FaultRule::new(
        Route::BoxEvents,
        FaultKind::ServerError { status: 500 },
    ));
    let _ = get(&sb, &token, "/events?stream_type=admin_logs").await;
    // The control API is not counted.
    let _ = client()
        .get(format!("{}/_sandbox/stats", sb.url()))
        .send()
        .await;

    assert_eq!(stats.calls(Route::BoxToken), 1);
    assert_eq!(stats.calls(Route::BoxUsers), 2);
    assert_eq!(stats.calls(Route::BoxEvents), 2);
    assert_eq!(stats.calls(Route::Any), 6);
    let requests = stats.requests();
    assert_eq!(requests.len(), 6);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/box/oauth2/token");
    assert_eq!(requests[1].path, "/box/2.0/users");
    assert_eq!(requests[1].query, "usemarker=true&limit=5");
    assert_eq!(requests[1].status, 200);
    assert_eq!(requests[2].query, "");
    assert_eq!(requests[4].route, Route::Any);
    assert_eq!(requests[4].status, 404);
    assert_eq!(requests[5].status, 500);
    stats.reset();
    assert_eq!(stats.calls(Route::Any), 0);
    assert!(stats.requests().is_empty());
}

#[tokio::test]
async fn unknown_box_paths_are_client_errors() {
    let sb = start(5, 1).await;
    let token = token(&sb).await;
    let (status, body) = get(&sb, &token, "/files/123").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["type"], "error");
    assert_eq!(body["code"], "not_found");
}

// ---------------------------------------------------------------------------------------------
// Control API

#[tokio::test]
async fn control_api() {
    use reqwest::Method;
    let sb = start(10, 1).await;
    let token = token(&sb).await;

    // Faults.
    let (status, _) = control(
        &sb,
        Method::POST,
        "/faults",
        Some(json!({
            "route": "box_users", "kind": {"rate_limited": {"retry_after_secs": 2}}
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        get_raw(&sb, &token, "/users").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let (status, _) = control(&sb, Method::POST, "/faults", Some(json!({
        "route": "any", "skip": 0, "times": 18446744073709551615u64, "kind": {"server_error": {"status": 503}}
    }))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(get_raw(&sb, &token, "/users").await.status().as_u16(), 503);
    let (status, _) = control(&sb, Method::DELETE, "/faults", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        get_raw(&sb, &token, "/users").await.status(),
        StatusCode::OK
    );
    let (status, body) = control(
        &sb,
        Method::POST,
        "/faults",
        Some(json!({"route": "nowhere"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].is_string());

    // Stats.
    let (status, body) = control(&sb, Method::GET, "/stats", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["calls"]["box_token"], 1);
    assert_eq!(body["calls"]["box_users"], 3);
    assert_eq!(body["requests"], 4);

    // Users.
    let (status, created) = control(
        &sb,
        Method::POST,
        "/box/users",
        Some(json!({
            "name": "Pat Demo", "login": "pat.demo@example.com"
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["role"], "user");
    assert_eq!(created["status"], "active");
    let id = created["id"].as_str().expect("id").to_string();
    let (status, _) = control(
        &sb,
        Method::POST,
        "/box/users",
        Some(json!({"name": "Dup", "login": "PAT.demo@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = control(
        &sb,
        Method::POST,
        "/box/users",
        Some(json!({"name": "X", "login": "x@example.com", "role": "owner"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = control(
        &sb,
        Method::POST,
        "/box/users",
        Some(json!({"login": "x@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, users) = control(&sb, Method::GET, "/box/users", None).await;
    assert_eq!(users.as_array().map(Vec::len), Some(11));
    let (_, one) = get(&sb, &token, &format!("/users/{id}?fields=login")).await;
    assert_eq!(one["login"], "pat.demo@example.com");

    // Events.
    let (status, body) = control(
        &sb,
        Method::POST,
        "/box/events",
        Some(json!({
            "user_id": id, "event_type": "LOGIN", "created_at": "2025-06-01T11:00:00Z"
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let event_id = body["event_id"].as_str().expect("event_id").to_string();
    assert!(sb
        .box_tenant()
        .events()
        .iter()
        .any(|e| e.event_id == event_id && e.user_id == id));
    let (status, _) = control(
        &sb,
        Method::POST,
        "/box/events",
        Some(json!({
            "user_id": "424242", "event_type": "LOGIN", "created_at": "2025-06-01T11:00:00Z"
        })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = control(
        &sb,
        Method::POST,
        "/box/events",
        Some(json!({
            "user_id": id, "event_type": "login now", "created_at": "2025-06-01T11:00:00Z"
        })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = control(
        &sb,
        Method::POST,
        "/box/events",
        Some(json!({
            "user_id": id, "event_type": "LOGIN", "created_at": "yesterday"
        })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Delete, expire tokens.
    let (status, _) = control(&sb, Method::DELETE, &format!("/box/users/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = control(&sb, Method::DELETE, &format!("/box/users/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = control(&sb, Method::POST, "/box/expire-tokens", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        get_raw(&sb, &token, "/users").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = control(&sb, Method::DELETE, "/stats", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(sb.stats().calls(Route::Any), 0);
}
