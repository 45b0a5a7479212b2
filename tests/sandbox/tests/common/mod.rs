//! Helpers shared by the integration tests: a sandbox with a fixed clock and a small client.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use provider_sandbox::{BoxTenantSpec, Sandbox, SandboxConfig};
use reqwest::StatusCode;
use serde_json::Value;

/// The reference time of every test tenant, so generated data is reproducible.
pub fn fixed_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .expect("valid timestamp")
}

pub fn config(users: usize, seed: u64) -> SandboxConfig {
    let mut box_tenant = BoxTenantSpec::new(users, seed);
    box_tenant.now = fixed_now();
    SandboxConfig {
        box_tenant,
        ..SandboxConfig::default()
    }
}

pub async fn start(users: usize, seed: u64) -> Sandbox {
    Sandbox::start(config(users, seed))
        .await
        .expect("sandbox starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// A client-credentials token for the sandbox's enterprise.
pub async fn token(sb: &Sandbox) -> String {
    let tenant = sb.box_tenant();
    let (status, body) = post_form(
        sb,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &tenant.client_id()),
            ("client_secret", &tenant.client_secret()),
            ("box_subject_type", "enterprise"),
            ("box_subject_id", &tenant.enterprise_id()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub async fn post_form(sb: &Sandbox, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = client()
        .post(sb.box_token_url())
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = response.status();
    (status, response.json().await.expect("JSON body"))
}

/// GET `{box_api_url}{path_and_query}` with a bearer token; the body parsed as JSON
/// (`Value::Null` for an empty body).
pub async fn get(sb: &Sandbox, token: &str, path_and_query: &str) -> (StatusCode, Value) {
    let response = client()
        .get(format!("{}{}", sb.box_api_url(), path_and_query))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    if bytes.is_empty() {
        return (status, Value::Null);
    }
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

pub fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Percent-encodes a query value (RFC 3339 offsets contain `+` and `:`).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Pages `GET /users?usemarker=true` to the end like the official SDKs do; returns the ids in
/// order and the number of pages.
pub async fn page_users(sb: &Sandbox, token: &str, query: &str) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("/users?usemarker=true&{query}");
        if let Some(m) = &marker {
            url.push_str(&format!("&marker={}", enc(m)));
        }
        let (status, body) = get(sb, token, &url).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        for e in body["entries"].as_array().expect("entries") {
            ids.push(e["id"].as_str().expect("id").to_string());
        }
        match body["next_marker"].as_str() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => break,
        }
        assert!(pages < 10_000, "paging does not end");
    }
    (ids, pages)
}

/// Pages `GET /events?stream_type=admin_logs` until an empty chunk; returns the events.
pub async fn page_events(sb: &Sandbox, token: &str, query: &str) -> (Vec<Value>, usize) {
    let mut events = Vec::new();
    let mut position = "0".to_string();
    let mut pages = 0;
    loop {
        let url = format!("/events?stream_type=admin_logs&stream_position={position}&{query}");
        let (status, body) = get(sb, token, &url).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        let chunk = body["entries"].as_array().expect("entries").clone();
        assert_eq!(body["chunk_size"].as_u64(), Some(chunk.len() as u64));
        let next = body["next_stream_position"]
            .as_str()
            .expect("next_stream_position is a string")
            .to_string();
        if chunk.is_empty() {
            assert_eq!(next, position, "an empty chunk keeps the position");
            break;
        }
        events.extend(chunk);
        position = next;
        assert!(pages < 100_000, "paging does not end");
    }
    (events, pages)
}
