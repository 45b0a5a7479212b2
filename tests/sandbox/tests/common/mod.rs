//! Helpers shared by the integration tests: a sandbox with a fixed clock and a small client.
#![allow(dead_code)]

pub mod stone;

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use chrono::{DateTime, Utc};
use provider_sandbox::{BoxTenantSpec, DropboxTeamSpec, Sandbox, SandboxConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

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

/// The client-credentials grant seatkeeper makes for the sandbox's enterprise, unchecked.
pub async fn token_response(sb: &Sandbox) -> (StatusCode, Value) {
    let tenant = sb.box_tenant();
    post_form(
        sb,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &tenant.client_id()),
            ("client_secret", &tenant.client_secret()),
            ("box_subject_type", "enterprise"),
            ("box_subject_id", &tenant.enterprise_id()),
        ],
    )
    .await
}

/// A client-credentials token for the sandbox's enterprise.
pub async fn token(sb: &Sandbox) -> String {
    let (status, body) = token_response(sb).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// `POST {url}` with a form body; the answer must be JSON.
pub async fn post_form_to(url: String, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = client()
        .post(url)
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = response.status();
    (status, response.json().await.expect("JSON body"))
}

/// `POST /box/oauth2/token` with a form body.
pub async fn post_form(sb: &Sandbox, form: &[(&str, &str)]) -> (StatusCode, Value) {
    post_form_to(sb.box_token_url(), form).await
}

/// The status and the body parsed as JSON (`Value::Null` for an empty body).
pub async fn json_response(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    if bytes.is_empty() {
        return (status, Value::Null);
    }
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

/// GET `{box_api_url}{path_and_query}` with a bearer token; the body parsed as JSON
/// (`Value::Null` for an empty body).
pub async fn get(sb: &Sandbox, token: &str, path_and_query: &str) -> (StatusCode, Value) {
    box_call(sb, token, reqwest::Method::GET, path_and_query, None).await
}

/// GET `{box_api_url}{path_and_query}` with a bearer token, unchecked.
pub async fn get_raw(sb: &Sandbox, token: &str, path_and_query: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path_and_query}", sb.box_api_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

/// `{method} {url}/_sandbox{path}` (the control API) with an optional JSON body; the body parsed
/// as JSON (`Value::Null` for an empty body).
pub async fn control(
    sb: &Sandbox,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client().request(method, format!("{}/_sandbox{path}", sb.url()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    json_response(request.send().await.expect("control request")).await
}

/// `{method} {box_api_url}{path_and_query}` with a bearer token and, if given, a raw JSON body;
/// the body parsed as JSON (`Value::Null` for an empty body).
pub async fn box_call(
    sb: &Sandbox,
    token: &str,
    method: reqwest::Method,
    path_and_query: &str,
    body: Option<String>,
) -> (StatusCode, Value) {
    let mut request = client()
        .request(method, format!("{}{}", sb.box_api_url(), path_and_query))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    json_response(request.send().await.expect("request")).await
}

/// `PUT /users/{from}/folders/0` with `{"owned_by": {"id": to}}` (seatkeeper's transfer).
pub async fn box_transfer(sb: &Sandbox, token: &str, from: &str, to: &str) -> (StatusCode, Value) {
    box_call(
        sb,
        token,
        reqwest::Method::PUT,
        &format!("/users/{from}/folders/0?notify=false"),
        Some(json!({"owned_by": {"id": to}}).to_string()),
    )
    .await
}

/// `DELETE /users/{id}?notify=false[&force=true]`.
pub async fn box_delete(sb: &Sandbox, token: &str, id: &str, force: bool) -> (StatusCode, Value) {
    let force = if force { "&force=true" } else { "" };
    box_call(
        sb,
        token,
        reqwest::Method::DELETE,
        &format!("/users/{id}?notify=false{force}"),
        None,
    )
    .await
}

/// An object's keys, sorted.
pub fn keys(v: &Value) -> Vec<String> {
    key_set(v).into_iter().collect()
}

pub fn key_set(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
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

// ---------------------------------------------------------------------------------------------
// Dropbox

/// The redirect URI the tests use (nothing listens there: tests read the 302's `Location`).
pub const REDIRECT: &str = "https://callback.seatkeeper.test/oauth/dropbox/callback";

/// A sandbox whose Dropbox team has `members` members from `seed`, with the fixed clock.
pub fn dbx_config(members: usize, seed: u64) -> SandboxConfig {
    let mut cfg = config(10, seed);
    let mut team = DropboxTeamSpec::new(members, seed);
    team.now = fixed_now();
    cfg.dropbox_team = team;
    cfg
}

pub async fn dbx_start(members: usize, seed: u64) -> Sandbox {
    Sandbox::start(dbx_config(members, seed))
        .await
        .expect("sandbox starts")
}

/// Which of the team's two apps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    Sync,
    Reclaim,
}

impl App {
    pub fn creds(self, sb: &Sandbox) -> (String, String) {
        match self {
            App::Sync => sb.dropbox_team().sync_app(),
            App::Reclaim => sb.dropbox_team().reclaim_app(),
        }
    }

    pub fn scopes(self) -> &'static str {
        match self {
            App::Sync => "members.read team_data.member events.read team_info.read sessions.list",
            App::Reclaim => "team_info.read members.write members.delete team_data.member",
        }
    }
}

/// A PKCE pair (RFC 7636 S256).
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier =
        format!("v{}", uuid::Uuid::new_v4().simple()) + &uuid::Uuid::new_v4().simple().to_string();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

pub fn no_redirect_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The standard authorize query seatkeeper sends.
pub fn authorize_query(key: &str, scopes: &str, challenge: &str, state: &str) -> String {
    format!(
        "client_id={}&response_type=code&redirect_uri={}&state={}&scope={}&token_access_type=offline&code_challenge={}&code_challenge_method=S256",
        enc(key),
        enc(REDIRECT),
        enc(state),
        enc(scopes),
        enc(challenge)
    )
}

/// `GET /dropbox/oauth2/authorize?{query}` without following the redirect.
pub async fn dbx_authorize_raw(sb: &Sandbox, query: &str) -> reqwest::Response {
    no_redirect_client()
        .get(format!("{}?{query}", sb.dropbox_authorize_url()))
        .send()
        .await
        .expect("authorize request")
}

/// Percent-decodes a query component (`+` is a space).
pub fn dec(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'+' {
            out.push(b' ');
        } else if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("utf8");
            out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
            i += 2;
        } else {
            out.push(bytes[i]);
        }
        i += 1;
    }
    String::from_utf8(out).expect("utf8")
}

/// The query parameters of a redirect `Location`.
pub fn location_query(response: &reqwest::Response) -> (String, HashMap<String, String>) {
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let (base, query) = location.split_once('?').expect("a query");
    let params = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (dec(k), dec(v)))
        .collect();
    (base.to_string(), params)
}

/// Authorizes `app` with its seatkeeper scopes and PKCE; returns the code (asserting the 302).
pub async fn dbx_code(sb: &Sandbox, app: App, pkce: &Pkce) -> String {
    let (key, _) = app.creds(sb);
    let response = dbx_authorize_raw(
        sb,
        &authorize_query(&key, app.scopes(), &pkce.challenge, "st4te"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let (base, q) = location_query(&response);
    assert_eq!(base, REDIRECT);
    assert_eq!(q.get("state").map(String::as_str), Some("st4te"));
    q["code"].clone()
}

/// `POST /dropbox/oauth2/token` with a form body.
pub async fn dbx_token_form(sb: &Sandbox, form: &[(&str, &str)]) -> (StatusCode, Value) {
    post_form_to(sb.dropbox_token_url(), form).await
}

/// The code grant seatkeeper makes (client id and secret in the body, PKCE verifier).
pub async fn dbx_exchange(
    sb: &Sandbox,
    app: App,
    code: &str,
    verifier: &str,
) -> (StatusCode, Value) {
    let (key, secret) = app.creds(sb);
    dbx_token_form(
        sb,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("client_id", &key),
            ("client_secret", &secret),
        ],
    )
    .await
}

pub async fn dbx_refresh(sb: &Sandbox, app: App, refresh: &str) -> (StatusCode, Value) {
    let (key, secret) = app.creds(sb);
    dbx_token_form(
        sb,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &key),
            ("client_secret", &secret),
        ],
    )
    .await
}

/// The whole connect: authorize, exchange; returns `(access_token, refresh_token)`.
pub async fn dbx_connect(sb: &Sandbox, app: App) -> (String, String) {
    let p = pkce();
    let code = dbx_code(sb, app, &p).await;
    let (status, body) = dbx_exchange(sb, app, &code, &p.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string(),
        body["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_string(),
    )
}

/// A sync-app access token.
pub async fn dbx_token(sb: &Sandbox) -> String {
    dbx_connect(sb, App::Sync).await.0
}

/// `POST {dropbox_api_url}/2/{route}` with a JSON body, no checks.
pub async fn dbx_rpc_raw(
    sb: &Sandbox,
    token: &str,
    route: &str,
    body: String,
) -> reqwest::Response {
    client()
        .post(format!("{}/2/{route}", sb.dropbox_api_url()))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("rpc request")
}

/// An RPC call, its answer checked against the spec: 200 bodies against the route's result
/// type, 409 `error`s against its error type, 401 against `auth.AuthError`, 429 against
/// `auth.RateLimitError`; every answer has `X-Dropbox-Request-Id`. Plain-text bodies (400s) come
/// back as `Value::String`.
pub async fn dbx_rpc(sb: &Sandbox, token: &str, route: &str, arg: &Value) -> (StatusCode, Value) {
    dbx_rpc_checked(sb, token, route, arg, true).await
}

/// [`dbx_rpc`], with the spec checks only if `checked` (big pages validate slowly unoptimized).
pub async fn dbx_rpc_checked(
    sb: &Sandbox,
    token: &str,
    route: &str,
    arg: &Value,
    checked: bool,
) -> (StatusCode, Value) {
    let response = dbx_rpc_raw(sb, token, route, arg.to_string()).await;
    let status = response.status();
    assert!(
        response.headers().contains_key("x-dropbox-request-id"),
        "{route}: no X-Dropbox-Request-Id"
    );
    let json_type = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("application/json"));
    let text = response.text().await.expect("body");
    if !json_type {
        return (status, Value::String(text));
    }
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{route}: not JSON ({e}): {text}"));
    if !checked {
        return (status, body);
    }
    let st = stone::stone();
    let check = |tref: &Value, v: &Value| {
        let errs = st.check_type(tref, v, stone::Mode::Response);
        assert!(errs.is_empty(), "{route} {status}: {errs:#?}\n{v}");
    };
    match status.as_u16() {
        200 => check(&st.route(route)["result"], &body),
        401 | 409 | 429 => {
            assert_eq!(keys(&body), ["error", "error_summary"], "{body}");
            let summary = body["error_summary"].as_str().expect("error_summary");
            let error = &body["error"];
            match status.as_u16() {
                401 => check(&json!({"ref": "auth.AuthError"}), error),
                429 => check(&json!({"ref": "auth.RateLimitError"}), error),
                _ => check(&st.route(route)["error"], error),
            }
            if status != StatusCode::TOO_MANY_REQUESTS {
                let tag = error[".tag"].as_str().expect(".tag");
                assert!(summary.starts_with(&format!("{tag}/")), "{summary}");
            }
        }
        _ => {}
    }
    (status, body)
}

/// Pages `members/list_v2` + `list/continue_v2` to the end like the SDKs; returns the members
/// and the number of pages.
pub async fn dbx_page_members(sb: &Sandbox, token: &str, arg: &Value) -> (Vec<Value>, usize) {
    dbx_page_members_checked(sb, token, arg, true).await
}

pub async fn dbx_page_members_checked(
    sb: &Sandbox,
    token: &str,
    arg: &Value,
    checked: bool,
) -> (Vec<Value>, usize) {
    let routes = ("team/members/list_v2", "team/members/list/continue_v2");
    dbx_page(sb, token, routes, "members", arg, checked, 10_000).await
}

/// Pages `team_log/get_events` + `continue` while `has_more`; returns the events and pages.
pub async fn dbx_page_events(sb: &Sandbox, token: &str, arg: &Value) -> (Vec<Value>, usize) {
    dbx_page_events_checked(sb, token, arg, true).await
}

pub async fn dbx_page_events_checked(
    sb: &Sandbox,
    token: &str,
    arg: &Value,
    checked: bool,
) -> (Vec<Value>, usize) {
    let routes = ("team_log/get_events", "team_log/get_events/continue");
    dbx_page(sb, token, routes, "events", arg, checked, 100_000).await
}

/// Calls `first` with `arg`, then `continue` with each page's cursor while `has_more`; returns
/// every page's `items` and the number of pages (asserting fewer than `max_pages`).
async fn dbx_page(
    sb: &Sandbox,
    token: &str,
    (first, next_route): (&str, &str),
    items: &str,
    arg: &Value,
    checked: bool,
    max_pages: usize,
) -> (Vec<Value>, usize) {
    let (status, mut page) = dbx_rpc_checked(sb, token, first, arg, checked).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut all = Vec::new();
    let mut pages = 1;
    loop {
        all.extend(page[items].as_array().expect(items).iter().cloned());
        if page["has_more"] != true {
            break;
        }
        let cursor = page["cursor"].clone();
        let (status, next) =
            dbx_rpc_checked(sb, token, next_route, &json!({"cursor": cursor}), checked).await;
        assert_eq!(status, StatusCode::OK, "{next}");
        page = next;
        pages += 1;
        assert!(pages < max_pages, "paging does not end");
    }
    (all, pages)
}

/// A Dropbox timestamp.
pub fn dbx_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
