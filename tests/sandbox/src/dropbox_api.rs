//! The Dropbox endpoints seatkeeper uses, under `/dropbox`, shaped like the Dropbox Stone spec
//! (`team.stone`, `team_log.stone`, `auth.stone`) and its wire-JSON examples:
//!
//! - `GET /dropbox/oauth2/authorize` (authorization code flow with PKCE; auto-approved by the
//!   team's authorizing admin, then a 302 back to the app)
//! - `POST /dropbox/oauth2/token` (`authorization_code` and `refresh_token` grants)
//! - `POST /dropbox/2/<route>` RPC routes: `team/get_info`, `team/token/get_authenticated_admin`,
//!   `team/members/list_v2`, `team/members/list/continue_v2`, `team/members/get_info_v2`,
//!   `team/members/remove`, `team/members/remove/job_status/get`, `team_log/get_events`,
//!   `team_log/get_events/continue`
//!
//! RPC conventions: a JSON argument (`null` for Void routes), 400 plain text for bad input, 401
//! `AuthError` JSON, 409 route errors `{"error_summary", "error"}`, 429 `RateLimitError` with
//! `Retry-After`.

use std::ops::Range;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::dropbox_names::{EVENT_CATEGORIES, EVENT_TYPE_ARGS};
use crate::dropbox_team::{
    AppSlot, CodeRec, DropboxMember, DropboxMemberStatus, DropboxRemoval, DropboxRole, EvKind,
    EvRec, Grant, RemoveJob, RemoveMode, SessionRec, TeamState, TokenProblem, CODE_TTL,
    LOGIN_METHODS, NOBODY,
};
use crate::faults::{FaultKind, Route};
use crate::generate::{from_secs, now_secs, page, window};
use crate::util::{
    b64_decode, b64url_encode, basic_credentials, bearer_token, dropbox_time, parse_dropbox_time,
    percent_encode, random_token, Params,
};

/// The RPC routes served: URL name (after `/2/`), the route's `attrs.scope`, and the handler
/// (called once the route, method, content type, token and scope are checked).
const RPC_ROUTES: &[(&str, &str, Handler)] = &[
    ("team/get_info", "team_info.read", team_info),
    (
        "team/token/get_authenticated_admin",
        "team_info.read",
        authenticated_admin,
    ),
    ("team/members/list_v2", "members.read", members_list),
    (
        "team/members/list/continue_v2",
        "members.read",
        members_continue,
    ),
    ("team/members/get_info_v2", "members.read", members_get_info),
    ("team/members/remove", "members.delete", members_remove),
    ("team/members/suspend", "members.write", members_suspend),
    ("team/members/unsuspend", "members.write", members_unsuspend),
    ("team/members/recover", "members.delete", members_recover),
    (
        "team/members/remove/job_status/get",
        "members.delete",
        remove_job_status,
    ),
    // auth.stone: `token/revoke` needs no scope (any valid token may revoke itself)
    ("auth/token/revoke", "", token_revoke),
    ("team_log/get_events", "events.read", get_events),
    (
        "team/devices/list_members_devices",
        "sessions.list",
        list_members_devices,
    ),
    (
        "team/devices/list_member_devices",
        "sessions.list",
        list_member_devices,
    ),
    (
        "team_log/get_events/continue",
        "events.read",
        get_events_continue,
    ),
];

/// An authorized RPC call, as its handler gets it.
struct Call {
    grant: Grant,
    /// The JSON argument (`null` for an empty body).
    arg: Value,
}

type Handler = fn(&mut TeamState, Call) -> Result<Value, CallError>;

/// A handler's refusal: a bad argument (400, `request body: <message>`, the route named by
/// the caller) or the route's error union member (409).
#[derive(Debug)]
enum CallError {
    Arg(String),
    Route(Value),
}

impl CallError {
    fn arg(message: impl Into<String>) -> Self {
        CallError::Arg(message.into())
    }

    fn route(tag: &str) -> Self {
        CallError::Route(json!({".tag": tag}))
    }
}

const MAX_LIMIT: u64 = 1000;
/// `state` longer than this is refused (Dropbox documents up to 500 bytes).
const MAX_STATE_BYTES: usize = 500;
const ACCESS_DENIED_DESCRIPTION: &str =
    "The user chose not to give your app access to their Dropbox account.";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/dropbox/oauth2/authorize", get(authorize))
        .route("/dropbox/oauth2/token", post(token))
        .route("/dropbox/2/{*route}", any(rpc))
        .route("/dropbox", any(not_found))
        .route("/dropbox/{*rest}", any(not_found))
}

// ---------------------------------------------------------------------------------------------
// Errors

fn text(status: StatusCode, body: String) -> Response {
    typed(status, "text/plain; charset=utf-8", body)
}

fn typed(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let content_type = HeaderValue::from_static(content_type);
    (status, [(CONTENT_TYPE, content_type)], body).into_response()
}

/// JSON the client must not cache (the token endpoint's answers).
fn no_store(status: StatusCode, body: Value) -> Response {
    let no_store = HeaderValue::from_static("no-store");
    (status, [(CACHE_CONTROL, no_store)], Json(body)).into_response()
}

/// `<tag>/` plus one to three dots: the summary's suffix varies, as Dropbox's does, so clients
/// branch on `error[".tag"]`.
fn error_summary(tag: &str) -> String {
    format!("{tag}/{}", ".".repeat(rand::rng().random_range(1..=3)))
}

/// An RPC failure, rendered the way Dropbox renders it.
#[derive(Debug)]
enum RpcError {
    /// 400, plain text: `Error in call to API function "<route>": <message>`.
    BadInput(String, String),
    /// 401 `AuthError`: `invalid_access_token`, `expired_access_token`, or `missing_scope`.
    Auth(&'static str, Option<&'static str>),
    /// 409: the route's error union member (its `.tag` names it).
    Route(Value),
}

impl RpcError {
    fn bad(route: &str, message: impl Into<String>) -> Self {
        RpcError::BadInput(route.to_string(), message.into())
    }

    fn body(route: &str, message: impl std::fmt::Display) -> Self {
        RpcError::bad(route, format!("request body: {message}"))
    }
}

impl IntoResponse for RpcError {
    fn into_response(self) -> Response {
        match self {
            RpcError::BadInput(route, message) => text(
                StatusCode::BAD_REQUEST,
                format!("Error in call to API function \"{route}\": {message}"),
            ),
            RpcError::Auth(tag, required_scope) => {
                let mut error = json!({".tag": tag});
                if let Some(scope) = required_scope {
                    error["required_scope"] = scope.into();
                }
                let body = json!({"error_summary": error_summary(tag), "error": error});
                (StatusCode::UNAUTHORIZED, Json(body)).into_response()
            }
            RpcError::Route(error) => {
                let tag = error[".tag"].as_str().unwrap_or("other").to_string();
                let body = json!({"error_summary": error_summary(&tag), "error": error});
                (StatusCode::CONFLICT, Json(body)).into_response()
            }
        }
    }
}

/// The 429 `RateLimitError` with its `Retry-After` header.
fn rate_limited(retry_after_secs: u64) -> Response {
    let body = json!({
        "error_summary": error_summary("too_many_requests"),
        "error": {"reason": {".tag": "too_many_requests"}, "retry_after": retry_after_secs},
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

/// The response of an injected fault that replaces the normal answer (`None` for the kinds
/// that modify the normal answer: `Slow`, `TruncatedBody`).
pub(crate) fn fault_response(kind: &FaultKind, route: Route) -> Option<Response> {
    match kind {
        FaultKind::RateLimited { retry_after_secs } => Some(rate_limited(*retry_after_secs)),
        FaultKind::ServerError { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let reason = status.canonical_reason().unwrap_or("Server Error");
            Some(text(status, format!("{} {reason}", status.as_u16())))
        }
        FaultKind::ExpiredToken if route == Route::DropboxToken => Some(oauth_error(
            "invalid_grant",
            "refresh token is invalid or revoked",
        )),
        FaultKind::ExpiredToken => {
            Some(RpcError::Auth("expired_access_token", None).into_response())
        }
        FaultKind::Slow { .. }
        | FaultKind::TruncatedBody
        | FaultKind::DropField { .. }
        | FaultKind::ReplaceInBody { .. } => None,
    }
}

async fn not_found() -> Response {
    text(
        StatusCode::NOT_FOUND,
        "The provider sandbox does not serve this Dropbox endpoint\n".to_string(),
    )
}

// ---------------------------------------------------------------------------------------------
// OAuth 2: authorize

/// The 400 page Dropbox shows (instead of redirecting) when it can't trust the redirect.
fn error_page(message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Dropbox - 400</title></head>\
         <body><h1>Error (400)</h1><p>It seems the app you were using submitted a bad request. \
         If you would like to report this error to the app's developer, include the information \
         below.</p><p>More details for developers</p><pre>{escaped}</pre></body></html>\n"
    );
    typed(StatusCode::BAD_REQUEST, "text/html; charset=utf-8", html)
}

/// A 302 to `redirect_uri` with `params` added to its query.
fn redirect(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!("{redirect_uri}{sep}{}", query.join("&"));
    match HeaderValue::from_str(&location) {
        Ok(value) => (StatusCode::FOUND, [(LOCATION, value)]).into_response(),
        Err(_) => error_page("Invalid redirect_uri."),
    }
}

fn redirect_error(redirect_uri: &str, error: &str, description: &str, state: &str) -> Response {
    let mut params = vec![("error", error), ("error_description", description)];
    if !state.is_empty() {
        params.push(("state", state));
    }
    redirect(redirect_uri, &params)
}

/// An absolute `http`/`https` URL with a host and no fragment.
fn valid_redirect_uri(uri: &str) -> bool {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?']).next().unwrap_or("");
            !host.is_empty() && !uri.contains('#') && !uri.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn is_b64url_no_pad(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `BASE64URL-NOPAD(SHA-256(verifier))` (RFC 7636 `S256`).
pub(crate) fn s256(verifier: &str) -> String {
    b64url_encode(&Sha256::digest(verifier.as_bytes()))
}

async fn authorize(State(app): State<AppState>, q: Params) -> Response {
    let mut team = app.dropbox.lock();

    // Problems Dropbox can't report to the app: a page, no redirect.
    let Some(slot) = q.get("client_id").and_then(|id| team.app_by_key(id)) else {
        return error_page("Invalid client_id.");
    };
    let redirect_uri = q.get("redirect_uri").unwrap_or("").to_string();
    if redirect_uri.is_empty() {
        return error_page(
            "Missing redirect_uri (the provider sandbox does not serve the no-redirect flow).",
        );
    }
    let registered = &team.app(slot).redirect_uris;
    if !valid_redirect_uri(&redirect_uri)
        || (!registered.is_empty() && !registered.contains(&redirect_uri))
    {
        return error_page("Invalid redirect_uri. It must exactly match one of the redirect URIs you've pre-configured for your app (including the path).");
    }

    // The rest is reported to the app through the redirect.
    let state = q.get("state").unwrap_or("").to_string();
    let fail =
        |error: &str, description: &str| redirect_error(&redirect_uri, error, description, &state);
    if state.is_empty() {
        return fail(
            "invalid_request",
            "state is required by the provider sandbox (CSRF protection)",
        );
    }
    if state.len() > MAX_STATE_BYTES {
        return fail("invalid_request", "state must be at most 500 bytes");
    }
    match q.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return fail(
                "unsupported_response_type",
                "only response_type=code is served",
            )
        }
        None => return fail("invalid_request", "No response_type given"),
    }
    let challenge = q.get("code_challenge").unwrap_or("");
    match q.get("code_challenge_method") {
        Some("S256") => {}
        _ => {
            return fail(
                "invalid_request",
                "code_challenge_method must be S256 (the provider sandbox requires PKCE with S256)",
            )
        }
    }
    if challenge.len() != 43 || !is_b64url_no_pad(challenge) {
        return fail(
            "invalid_request",
            "code_challenge must be the 43-character base64url SHA-256 of the code_verifier",
        );
    }
    let offline = match q.get("token_access_type") {
        Some("offline") => true,
        None | Some("online") | Some("legacy") => false,
        Some(_) => {
            return fail(
                "invalid_request",
                "token_access_type must be offline, online or legacy",
            )
        }
    };
    let allowed = team.app(slot).scopes.clone();
    let scopes: Vec<String> = match q.get("scope") {
        Some(list) if !list.trim().is_empty() => {
            let mut scopes: Vec<String> = Vec::new();
            for s in list.split_whitespace() {
                if !allowed.iter().any(|a| a == s) {
                    return fail(
                        "invalid_scope",
                        &format!("Your app is not permitted to request the scope \"{s}\""),
                    );
                }
                if !scopes.iter().any(|x| x == s) {
                    scopes.push(s.to_string());
                }
            }
            scopes
        }
        _ => allowed,
    };
    match q.get("include_granted_scopes") {
        None | Some("user") | Some("team") => {}
        Some(_) => {
            return fail(
                "invalid_request",
                "include_granted_scopes must be user or team",
            )
        }
    }
    if matches!(q.get("sandbox_deny"), Some("1") | Some("true")) {
        return fail("access_denied", ACCESS_DENIED_DESCRIPTION);
    }
    let admin = team.authorizing_admin;
    if !team.members[admin].is_active_admin() {
        return fail(
            "access_denied",
            "Only an active team admin can link this app to the team.",
        );
    }
    let code = team.issue_code(CodeRec {
        app: slot,
        redirect_uri: redirect_uri.clone(),
        scopes,
        challenge: challenge.to_string(),
        admin,
        offline,
        expires: std::time::Instant::now() + CODE_TTL,
        used: false,
    });
    drop(team);
    redirect(&redirect_uri, &[("code", &code), ("state", &state)])
}

// ---------------------------------------------------------------------------------------------
// OAuth 2: token

fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    no_store(StatusCode::BAD_REQUEST, body)
}

async fn token(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Params::parse(&String::from_utf8_lossy(&body));
    let (client_id, client_secret) = match form.get("client_id") {
        Some(id) => (
            id.to_string(),
            form.get("client_secret").map(str::to_string),
        ),
        None => match basic_credentials(&headers) {
            Some((id, secret)) => (id, Some(secret)),
            None => (String::new(), None),
        },
    };
    let grant_type = form.get("grant_type").unwrap_or("");
    if grant_type.is_empty() {
        return oauth_error("invalid_request", "No grant_type provided.");
    }
    if client_id.is_empty() {
        return oauth_error("invalid_request", "No client_id provided.");
    }
    let mut team = app.dropbox.lock();
    let Some(slot) = team.app_by_key(&client_id) else {
        return oauth_error("invalid_client", "Invalid client_id or client_secret");
    };
    if client_secret
        .as_deref()
        .is_some_and(|s| s != team.app(slot).secret)
    {
        return oauth_error("invalid_client", "Invalid client_id or client_secret");
    }
    match grant_type {
        "authorization_code" => code_grant(&mut team, slot, client_secret.is_some(), &form),
        "refresh_token" => refresh_grant(&mut team, slot, &form),
        _ => oauth_error(
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

fn code_grant(team: &mut TeamState, slot: AppSlot, has_secret: bool, form: &Params) -> Response {
    let Some(code) = form.get("code").filter(|c| !c.is_empty()) else {
        return oauth_error("invalid_request", "No code provided.");
    };
    let now = std::time::Instant::now();
    // A code is burned by the first exchange that names it for its app, successful or not.
    let rec = match team.codes.get_mut(code) {
        Some(rec) if rec.app == slot && !rec.used && rec.expires > now => {
            rec.used = true;
            rec
        }
        _ => return oauth_error("invalid_grant", "code doesn't exist or has expired"),
    };
    if form.get("redirect_uri") != Some(rec.redirect_uri.as_str()) {
        return oauth_error("invalid_grant", "redirect_uri mismatch");
    }
    let verifier = form.get("code_verifier").unwrap_or("");
    if verifier.is_empty() && !has_secret {
        return oauth_error(
            "invalid_client",
            "client_secret or code_verifier is required",
        );
    }
    let verifier_ok = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        && s256(verifier) == rec.challenge;
    if !verifier_ok {
        return oauth_error("invalid_grant", "invalid code verifier");
    }
    let scopes = Arc::new(rec.scopes.clone());
    let (admin, offline) = (rec.admin, rec.offline);
    let refresh = offline.then(|| team.issue_refresh(slot, scopes.clone(), admin));
    let access = team.issue_access(scopes.clone(), admin, refresh.clone());
    let mut body = json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": team.token_ttl.as_secs(),
        "scope": scopes.join(" "),
        "uid": team.members[admin].uid,
        "team_id": team.team_id,
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = refresh.into();
    }
    no_store(StatusCode::OK, body)
}

fn refresh_grant(team: &mut TeamState, slot: AppSlot, form: &Params) -> Response {
    let Some(refresh) = form.get("refresh_token").filter(|r| !r.is_empty()) else {
        return oauth_error("invalid_request", "No refresh_token provided.");
    };
    let (scopes, admin) = match team.refresh.get(refresh) {
        Some(rec) if rec.app == slot && !rec.revoked => (rec.scopes.clone(), rec.admin),
        _ => return oauth_error("invalid_grant", "refresh token is invalid or revoked"),
    };
    // An optional `scope` narrows the new access token to a subset.
    let scopes = match form.get("scope").filter(|s| !s.trim().is_empty()) {
        None => scopes,
        Some(list) => {
            let asked: Vec<String> = list.split_whitespace().map(str::to_string).collect();
            if let Some(extra) = asked.iter().find(|s| !scopes.contains(s)) {
                return oauth_error(
                    "invalid_scope",
                    &format!("scope \"{extra}\" was not granted to this refresh token"),
                );
            }
            Arc::new(asked)
        }
    };
    let refresh = refresh.to_string();
    let access = team.issue_access(scopes, admin, Some(refresh));
    no_store(
        StatusCode::OK,
        json!({
            "access_token": access,
            "token_type": "bearer",
            "expires_in": team.token_ttl.as_secs(),
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// RPC plumbing

/// `Authorization: Bearer <token>`: the token, or the 400 Dropbox answers.
fn bearer(route: &str, headers: &HeaderMap) -> Result<String, RpcError> {
    if !headers.contains_key(AUTHORIZATION) {
        return Err(RpcError::bad(
            route,
            "Must provide HTTP header \"Authorization\" or URL parameter \"authorization\".",
        ));
    }
    bearer_token(headers).map(str::to_string).ok_or_else(|| RpcError::bad(
        route,
        "Invalid authorization value in HTTP header \"Authorization\". Expecting \"Bearer <oauth2-access-token>\".",
    ))
}

fn check_content_type(route: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), RpcError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        // Some clients send Void routes with no body at all.
        return if body.iter().all(u8::is_ascii_whitespace) {
            Ok(())
        } else {
            Err(bad_content_type(route, ""))
        };
    };
    let value = value.to_str().unwrap_or("");
    let normalized = value.to_ascii_lowercase().replace(' ', "");
    match normalized.as_str() {
        "application/json"
        | "application/json;charset=utf-8"
        | "text/plain;charset=dropbox-cors-hack" => Ok(()),
        _ => Err(bad_content_type(route, value)),
    }
}

fn bad_content_type(route: &str, value: &str) -> RpcError {
    RpcError::bad(
        route,
        format!("Bad HTTP \"Content-Type\" header: \"{value}\".  Expecting one of \"application/json\", \"application/json; charset=utf-8\", \"text/plain; charset=dropbox-cors-hack\"."),
    )
}

async fn rpc(
    State(app): State<AppState>,
    Path(route): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match rpc_inner(&app, &route, &method, &headers, &body) {
        Ok(value) => Json(value).into_response(),
        Err(response) => *response,
    }
}

impl From<RpcError> for Box<Response> {
    fn from(e: RpcError) -> Self {
        Box::new(e.into_response())
    }
}

fn rpc_inner(
    app: &AppState,
    route: &str,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, Box<Response>> {
    let Some(&(_, scope, handler)) = RPC_ROUTES.iter().find(|(name, ..)| *name == route) else {
        return Err(Box::new(text(
            StatusCode::NOT_FOUND,
            format!("Unknown API function: \"{route}\" (not served by the provider sandbox)"),
        )));
    };
    if method != Method::POST {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Error in call to API function \"{route}\": Only POST is allowed."),
        );
        response
            .headers_mut()
            .insert("allow", HeaderValue::from_static("POST"));
        return Err(Box::new(response));
    }
    check_content_type(route, headers, body)?;
    let token = bearer(route, headers)?;
    let mut team = app.dropbox.lock();
    let grant = match team.check_access(&token) {
        Ok(grant) => grant,
        Err(TokenProblem::Invalid) => {
            return Err(RpcError::Auth("invalid_access_token", None).into())
        }
        Err(TokenProblem::Expired) => {
            return Err(RpcError::Auth("expired_access_token", None).into())
        }
    };
    if !scope.is_empty() && !grant.scopes.iter().any(|s| s == scope) {
        return Err(RpcError::Auth("missing_scope", Some(scope)).into());
    }
    if route == "auth/token/revoke" {
        // the handler needs the token itself, not only its grant
        team.revoke_access_token(&token);
    }
    let arg = parse_arg(route, body)?;
    handler(&mut team, Call { grant, arg }).map_err(|e| match e {
        CallError::Arg(message) => RpcError::body(route, message).into(),
        CallError::Route(error) => RpcError::Route(error).into(),
    })
}

/// The body as JSON (an empty body is `null`).
fn parse_arg(route: &str, body: &[u8]) -> Result<Value, RpcError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body)
        .map_err(|_| RpcError::body(route, "could not decode input as JSON"))
}

impl Call {
    /// A Void route's argument: `null`.
    fn void(&self) -> Result<(), CallError> {
        if self.arg.is_null() {
            Ok(())
        } else {
            Err(CallError::arg(format!(
                "expected null, got {}",
                type_name(&self.arg)
            )))
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// A struct argument as its fields: `null` (when every field is optional) is no fields; any
/// key the struct does not have is an error, as in Stone's strict decoding.
fn struct_arg(
    path: &str,
    arg: Value,
    fields: &[&str],
    nullable_ok: bool,
) -> Result<Map<String, Value>, CallError> {
    let at = |m: String| {
        if path.is_empty() {
            m
        } else {
            format!("{path}: {m}")
        }
    };
    match arg {
        Value::Null if nullable_ok => Ok(Map::new()),
        Value::Object(map) => {
            if let Some(unknown) = map.keys().find(|k| !fields.contains(&k.as_str())) {
                return Err(CallError::arg(at(format!("unknown field '{unknown}'"))));
            }
            Ok(map)
        }
        other => Err(CallError::arg(at(format!(
            "expected object, got {}",
            type_name(&other)
        )))),
    }
}

/// A `UInt32(min_value=1, max_value=1000) = 1000` field.
fn limit_field(map: &Map<String, Value>) -> Result<usize, CallError> {
    match map.get("limit") {
        None => Ok(MAX_LIMIT as usize),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if (1..=MAX_LIMIT).contains(&v) => Ok(v as usize),
            Some(v) if v > MAX_LIMIT => Err(CallError::arg(format!(
                "limit: {v} is greater than {MAX_LIMIT}"
            ))),
            Some(v) if v < 1 => Err(CallError::arg(format!("limit: {v} is less than 1"))),
            _ => Err(CallError::arg(format!("limit: {n} is not a valid UInt32"))),
        },
        Some(other) => Err(CallError::arg(format!(
            "limit: expected integer, got {}",
            type_name(other)
        ))),
    }
}

fn bool_field(map: &Map<String, Value>, name: &str) -> Result<bool, CallError> {
    bool_field_or(map, name, false)
}

/// A `Boolean = default` field.
fn bool_field_or(map: &Map<String, Value>, name: &str, default: bool) -> Result<bool, CallError> {
    match map.get(name) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(CallError::arg(format!(
            "{name}: expected boolean, got {}",
            type_name(other)
        ))),
    }
}

/// A required `String` field.
fn string_field(map: &Map<String, Value>, name: &str) -> Result<String, CallError> {
    match map.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        None => Err(CallError::arg(format!("missing required field '{name}'"))),
        Some(other) => Err(CallError::arg(format!(
            "{name}: expected string, got {}",
            type_name(other)
        ))),
    }
}

/// A union argument whose members are all Void, sent as `"tag"` or `{".tag": "tag"}`: the
/// member's index in `members`. The catch-all `other` is refused.
fn void_union(path: &str, v: &Value, members: &[&str]) -> Result<usize, CallError> {
    let tag = match v {
        Value::String(s) => s.as_str(),
        Value::Object(map) => {
            let Some(tag) = map.get(".tag").and_then(Value::as_str) else {
                return Err(CallError::arg(format!("{path}: missing '.tag' key")));
            };
            for (k, val) in map {
                if k != ".tag" && !(k == tag && val.is_null()) {
                    return Err(CallError::arg(format!("{path}: unexpected key '{k}'")));
                }
            }
            tag
        }
        other => {
            return Err(CallError::arg(format!(
                "{path}: expected string or object, got {}",
                type_name(other)
            )))
        }
    };
    if tag == "other" {
        return Err(CallError::arg(format!(
            "{path}: unexpected use of the catch-all tag 'other'"
        )));
    }
    members
        .iter()
        .position(|m| *m == tag)
        .ok_or_else(|| CallError::arg(format!("{path}: unknown tag '{tag}'")))
}

// ---------------------------------------------------------------------------------------------
// Cursors: opaque, MAC'd, base64url

const CURSOR_VERSION: u8 = 1;
const KIND_MEMBERS: u8 = 1;
const KIND_EVENTS: u8 = 2;
const KIND_DEVICES: u8 = 3;
/// Members per `list_members_devices` page (Dropbox does not document its page size).
const DEVICES_PAGE: usize = 100;
const MAC_LEN: usize = 12;

/// What a `team_log` cursor remembers: the filter, the page size, and the `(at, seq)` key of
/// the last event scanned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct EventsCursor {
    limit: u16,
    category: Option<u8>,
    event_type: Option<u16>,
    account: Option<u32>,
    start: Option<i64>,
    end: Option<i64>,
    position: Option<(i64, u32)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MembersCursor {
    include_removed: bool,
    limit: u16,
    /// Index of the next member to look at.
    next: u32,
}

fn seal(key: &[u8; 32], payload: Vec<u8>) -> String {
    let mut bytes = payload;
    let mac = Sha256::new()
        .chain_update(key)
        .chain_update(&bytes)
        .finalize();
    bytes.extend_from_slice(&mac[..MAC_LEN]);
    b64url_encode(&bytes)
}

/// The payload of a cursor of `kind` sealed with `key`, if it is one.
fn unseal(key: &[u8; 32], cursor: &str, kind: u8) -> Option<Vec<u8>> {
    if !is_b64url_no_pad(cursor) {
        return None;
    }
    let bytes = b64_decode(cursor)?;
    if bytes.len() < 2 + MAC_LEN {
        return None;
    }
    let (payload, mac) = bytes.split_at(bytes.len() - MAC_LEN);
    let expected = Sha256::new()
        .chain_update(key)
        .chain_update(payload)
        .finalize();
    (mac == &expected[..MAC_LEN] && payload[0] == CURSOR_VERSION && payload[1] == kind)
        .then(|| payload[2..].to_vec())
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_be_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }
}

impl MembersCursor {
    fn encode(&self, key: &[u8; 32]) -> String {
        let mut p = vec![CURSOR_VERSION, KIND_MEMBERS, u8::from(self.include_removed)];
        p.extend_from_slice(&self.limit.to_be_bytes());
        p.extend_from_slice(&self.next.to_be_bytes());
        seal(key, p)
    }

    fn decode(key: &[u8; 32], cursor: &str) -> Option<Self> {
        let payload = unseal(key, cursor, KIND_MEMBERS)?;
        let mut r = Reader(&payload);
        let c = MembersCursor {
            include_removed: r.u8()? != 0,
            limit: r.u16()?,
            next: r.u32()?,
        };
        r.0.is_empty().then_some(c)
    }
}

impl EventsCursor {
    fn encode(&self, key: &[u8; 32]) -> String {
        let flags = u8::from(self.category.is_some())
            | u8::from(self.event_type.is_some()) << 1
            | u8::from(self.account.is_some()) << 2
            | u8::from(self.start.is_some()) << 3
            | u8::from(self.end.is_some()) << 4
            | u8::from(self.position.is_some()) << 5;
        let mut p = vec![CURSOR_VERSION, KIND_EVENTS, flags];
        p.extend_from_slice(&self.limit.to_be_bytes());
        if let Some(c) = self.category {
            p.push(c);
        }
        if let Some(t) = self.event_type {
            p.extend_from_slice(&t.to_be_bytes());
        }
        if let Some(a) = self.account {
            p.extend_from_slice(&a.to_be_bytes());
        }
        for t in [self.start, self.end].into_iter().flatten() {
            p.extend_from_slice(&t.to_be_bytes());
        }
        if let Some((at, seq)) = self.position {
            p.extend_from_slice(&at.to_be_bytes());
            p.extend_from_slice(&seq.to_be_bytes());
        }
        seal(key, p)
    }

    fn decode(key: &[u8; 32], cursor: &str) -> Option<Self> {
        let payload = unseal(key, cursor, KIND_EVENTS)?;
        let mut r = Reader(&payload);
        let flags = r.u8()?;
        let has = |bit: u8| flags & (1 << bit) != 0;
        let mut c = EventsCursor {
            limit: r.u16()?,
            ..EventsCursor::default()
        };
        if has(0) {
            c.category = Some(r.u8()?);
        }
        if has(1) {
            c.event_type = Some(r.u16()?);
        }
        if has(2) {
            c.account = Some(r.u32()?);
        }
        if has(3) {
            c.start = Some(r.i64()?);
        }
        if has(4) {
            c.end = Some(r.i64()?);
        }
        if has(5) {
            c.position = Some((r.i64()?, r.u32()?));
        }
        (r.0.is_empty() && flags < 64).then_some(c)
    }
}

// ---------------------------------------------------------------------------------------------
// team/get_info, team/token/get_authenticated_admin

/// `team_policies.TeamMemberPolicies`: the spec example's values.
fn policies() -> Value {
    json!({
        "sharing": {
            "shared_folder_member_policy": {".tag": "team"},
            "shared_folder_join_policy": {".tag": "from_anyone"},
            "shared_link_create_policy": {".tag": "team_only"},
            "group_creation_policy": {".tag": "admins_only"},
            "shared_folder_link_restriction_policy": {".tag": "anyone"},
            "enforce_link_password_policy": {".tag": "optional"},
            "default_link_expiration_days_policy": {".tag": "none"},
            "shared_link_default_permissions_policy": {".tag": "default"},
        },
        "emm_state": {".tag": "disabled"},
        "office_addin": {".tag": "disabled"},
        "suggest_members_policy": {".tag": "enabled"},
        "top_level_content_policy": {".tag": "admin_only"},
    })
}

fn team_info(team: &mut TeamState, call: Call) -> Result<Value, CallError> {
    call.void()?;
    let provisioned = team
        .members
        .iter()
        .filter(|m| {
            matches!(
                m.status,
                DropboxMemberStatus::Active | DropboxMemberStatus::Invited
            )
        })
        .count();
    let used = team
        .members
        .iter()
        .filter(|m| {
            m.membership_type == crate::dropbox_team::DropboxMembershipType::Full
                && matches!(
                    m.status,
                    DropboxMemberStatus::Active | DropboxMemberStatus::Suspended
                )
        })
        .count();
    Ok(json!({
        "name": team.team_name,
        "team_id": team.team_id,
        "num_licensed_users": team.num_licensed_users,
        "num_provisioned_users": provisioned,
        "num_used_licenses": used,
        "policies": policies(),
    }))
}

/// `auth/token/revoke` (Void → Void): the token was revoked before the handler ran (with its
/// refresh token and that refresh token's other access tokens).
fn token_revoke(_team: &mut TeamState, call: Call) -> Result<Value, CallError> {
    call.void()?;
    Ok(Value::Null)
}

fn authenticated_admin(team: &mut TeamState, call: Call) -> Result<Value, CallError> {
    call.void()?;
    let admin = &team.members[call.grant.admin];
    if !admin.is_active_admin() {
        return Err(CallError::route("admin_not_active"));
    }
    Ok(json!({"admin_profile": profile(admin)}))
}

// ---------------------------------------------------------------------------------------------
// Members

fn time(t: DateTime<Utc>) -> Value {
    dropbox_time(t).into()
}

/// `team.TeamMemberProfile`.
fn profile(m: &DropboxMember) -> Value {
    let mut p = Map::new();
    p.insert("team_member_id".into(), m.team_member_id.clone().into());
    if let Some(account) = &m.account_id {
        p.insert("account_id".into(), account.clone().into());
    }
    if let Some(external) = &m.external_id {
        p.insert("external_id".into(), external.clone().into());
    }
    p.insert("email".into(), m.email.clone().into());
    p.insert("email_verified".into(), m.email_verified.into());
    if !m.secondary_emails.is_empty() {
        p.insert(
            "secondary_emails".into(),
            m.secondary_emails
                .iter()
                .map(|e| json!({"email": e.email, "is_verified": e.is_verified}))
                .collect::<Vec<_>>()
                .into(),
        );
    }
    let status = match m.status {
        DropboxMemberStatus::Removed {
            is_recoverable,
            is_disconnected,
        } => json!({
            ".tag": "removed",
            "is_recoverable": is_recoverable,
            "is_disconnected": is_disconnected,
        }),
        other => json!({".tag": other.tag()}),
    };
    p.insert("status".into(), status);
    p.insert(
        "name".into(),
        json!({
            "given_name": m.given_name,
            "surname": m.surname,
            "familiar_name": m.given_name,
            "display_name": m.display_name(),
            "abbreviated_name": m.abbreviated_name(),
        }),
    );
    p.insert(
        "membership_type".into(),
        json!({".tag": m.membership_type.tag()}),
    );
    // Only when the status matches (the spec documents `invited_on` / `suspended_on` so).
    if let (DropboxMemberStatus::Invited, Some(t)) = (m.status, m.invited_on) {
        p.insert("invited_on".into(), time(t));
    }
    if let Some(t) = m.joined_on {
        p.insert("joined_on".into(), time(t));
    }
    if let (DropboxMemberStatus::Suspended, Some(t)) = (m.status, m.suspended_on) {
        p.insert("suspended_on".into(), time(t));
    }
    p.insert("groups".into(), m.groups.clone().into());
    p.insert("member_folder_id".into(), m.member_folder_id.clone().into());
    p.insert("root_folder_id".into(), m.root_folder_id.clone().into());
    if let Some(url) = &m.profile_photo_url {
        p.insert("profile_photo_url".into(), url.clone().into());
    }
    Value::Object(p)
}

/// `team.TeamMemberInfoV2`: non-admins have `roles: []` (`MembersSetPermissions2Result.roles`:
/// "Empty in case the user become a non-admin"); admins their one role.
fn member_info(m: &DropboxMember) -> Value {
    let roles: Vec<Value> = m
        .role
        .iter()
        .map(|r| json!({"role_id": r.role_id(), "name": r.name(), "description": r.description()}))
        .collect();
    json!({"profile": profile(m), "roles": roles})
}

fn members_page(team: &TeamState, cursor: &MembersCursor) -> Value {
    let listed = |m: &DropboxMember| cursor.include_removed || !m.status.is_removed();
    let start = (cursor.next as usize).min(team.members.len());
    let mut members = Vec::new();
    let mut next = team.members.len();
    for (idx, m) in team.members.iter().enumerate().skip(start) {
        if !listed(m) {
            continue;
        }
        if members.len() == usize::from(cursor.limit) {
            next = idx;
            break;
        }
        members.push(member_info(m));
    }
    let has_more = team.members[next..].iter().any(listed);
    let cursor = MembersCursor {
        next: u32::try_from(next).unwrap_or(u32::MAX),
        ..cursor.clone()
    };
    json!({
        "members": members,
        "cursor": cursor.encode(&team.cursor_key),
        "has_more": has_more,
    })
}

fn members_list(team: &mut TeamState, Call { arg, .. }: Call) -> Result<Value, CallError> {
    let map = struct_arg("", arg, &["limit", "include_removed"], true)?;
    let limit = limit_field(&map)?;
    let include_removed = bool_field(&map, "include_removed")?;
    Ok(members_page(
        team,
        &MembersCursor {
            include_removed,
            limit: u16::try_from(limit).unwrap_or(1000),
            next: 0,
        },
    ))
}

fn members_continue(team: &mut TeamState, Call { arg, .. }: Call) -> Result<Value, CallError> {
    let map = struct_arg("", arg, &["cursor"], false)?;
    let raw = string_field(&map, "cursor")?;
    let cursor = MembersCursor::decode(&team.cursor_key, &raw)
        .ok_or_else(|| CallError::route("invalid_cursor"))?;
    Ok(members_page(team, &cursor))
}

/// A `UserSelectorArg` at `path`: `(tag, id)` with tag `team_member_id`, `email` or
/// `external_id`.
fn user_selector<'a>(path: &str, selector: &'a Value) -> Result<(&'a str, &'a str), CallError> {
    let Some(sel) = selector.as_object() else {
        return Err(CallError::arg(format!(
            "{path}: expected object, got {}",
            type_name(selector)
        )));
    };
    let Some(tag) = sel.get(".tag").and_then(Value::as_str) else {
        return Err(CallError::arg(format!("{path}: missing '.tag' key")));
    };
    if !matches!(tag, "team_member_id" | "external_id" | "email") {
        return Err(CallError::arg(format!("{path}: unknown tag '{tag}'")));
    }
    if let Some(k) = sel.keys().find(|k| *k != ".tag" && *k != tag) {
        return Err(CallError::arg(format!("{path}: unexpected key '{k}'")));
    }
    match sel.get(tag) {
        Some(Value::String(id)) => Ok((tag, id.as_str())),
        None => Err(CallError::arg(format!("{path}: missing '{tag}' key"))),
        Some(other) => Err(CallError::arg(format!(
            "{path}: {tag}: expected string, got {}",
            type_name(other)
        ))),
    }
}

/// The member a selector names: any member (removed ones included) by `team_member_id`, current
/// members only by `email` (ignoring case) or `external_id`.
fn find_member(team: &TeamState, (tag, id): (&str, &str)) -> Option<usize> {
    match tag {
        "team_member_id" => team.member_index(id),
        "email" => team.email_index(id),
        _ => team.external_index(id),
    }
}

fn members_get_info(team: &mut TeamState, Call { arg, .. }: Call) -> Result<Value, CallError> {
    let map = struct_arg("", arg, &["members"], false)?;
    let selectors = match map.get("members") {
        Some(Value::Array(list)) => list,
        None => return Err(CallError::arg("missing required field 'members'")),
        Some(other) => {
            return Err(CallError::arg(format!(
                "members: expected list, got {}",
                type_name(other)
            )))
        }
    };
    let mut infos = Vec::with_capacity(selectors.len());
    for (i, selector) in selectors.iter().enumerate() {
        let sel = user_selector(&format!("members: [{i}]"), selector)?;
        let id = sel.1;
        infos.push(match find_member(team, sel) {
            Some(idx) => {
                let mut info = member_info(&team.members[idx]);
                info[".tag"] = "member_info".into();
                info
            }
            None => json!({".tag": "id_not_found", "id_not_found": id}),
        });
    }
    Ok(json!({"members_info": infos}))
}

// ---------------------------------------------------------------------------------------------
// team/members/remove, team/members/remove/job_status/get

/// `MembersRemoveArg`'s fields.
const MEMBERS_REMOVE_FIELDS: &[&str] = &[
    "user",
    "wipe_data",
    "transfer_dest_id",
    "transfer_admin_id",
    "keep_account",
    "retain_team_shares",
    "permanently_delete_files",
];

/// Removes a member. The checks, in order (the first that fails is the 409):
///
/// 1. `user` names no member → `user_not_found`; a removed member → `transfer_in_progress`
///    while its removal job runs, else `user_not_in_team`;
/// 2. the member is the destination of a running removal job → `member_is_transfer_destination`;
/// 3. `retain_team_shares` without `keep_account` → `cannot_retain_shares_when_no_account_kept`,
///    with `wipe_data` (default true) → `cannot_retain_shares_when_data_wiped`; `keep_account`
///    with a transfer → `cannot_keep_account_and_transfer`, with `wipe_data` →
///    `cannot_keep_account_and_delete_data`, with `permanently_delete_files` →
///    `cannot_keep_account_and_permanently_delete`, for an invited member →
///    `cannot_keep_invited_user_account`; `permanently_delete_files` with a transfer →
///    `cannot_permanently_delete_and_transfer`;
/// 4. a transfer without `transfer_admin_id` → `unspecified_transfer_admin_id`; the destination
///    unknown → `transfer_dest_user_not_found`, removed → `transfer_dest_user_not_in_team`, the
///    member itself → `removed_and_transfer_dest_should_differ`; the admin (checked whenever
///    given) unknown → `transfer_admin_user_not_found`, removed →
///    `transfer_admin_user_not_in_team`, the member itself →
///    `removed_and_transfer_admin_should_differ`, not an active admin →
///    `transfer_admin_is_not_admin`;
/// 5. the member is the only active Team admin → `remove_last_admin`.
///
/// Then the member is removed at once (status `removed`, `is_recoverable` unless
/// `permanently_delete_files` or `keep_account`, `is_disconnected` = `keep_account`), and the
/// answer follows the [`RemoveMode`].
fn members_remove(team: &mut TeamState, Call { arg, .. }: Call) -> Result<Value, CallError> {
    let map = struct_arg("", arg, MEMBERS_REMOVE_FIELDS, false)?;
    let user = match map.get("user") {
        Some(v) => user_selector("user", v)?,
        None => return Err(CallError::arg("missing required field 'user'")),
    };
    let optional_selector = |name: &str| match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => user_selector(name, v).map(Some),
    };
    let dest_sel = optional_selector("transfer_dest_id")?;
    let admin_sel = optional_selector("transfer_admin_id")?;
    let wipe_data = bool_field_or(&map, "wipe_data", true)?;
    let keep_account = bool_field(&map, "keep_account")?;
    let retain_shares = bool_field(&map, "retain_team_shares")?;
    let delete_files = bool_field(&map, "permanently_delete_files")?;
    let fail = |tag: &str| Err(CallError::route(tag));

    // 1-2: the member.
    let Some(idx) = find_member(team, user) else {
        return fail("user_not_found");
    };
    if team.members[idx].status.is_removed() {
        return if team.running_job(idx, false) {
            fail("transfer_in_progress")
        } else {
            fail("user_not_in_team")
        };
    }
    if team.running_job(idx, true) {
        return fail("member_is_transfer_destination");
    }
    // 3: combinations of the flags.
    let transfer = dest_sel.is_some();
    if retain_shares {
        if !keep_account {
            return fail("cannot_retain_shares_when_no_account_kept");
        }
        if wipe_data {
            return fail("cannot_retain_shares_when_data_wiped");
        }
    }
    if keep_account {
        if transfer {
            return fail("cannot_keep_account_and_transfer");
        }
        if wipe_data {
            return fail("cannot_keep_account_and_delete_data");
        }
        if delete_files {
            return fail("cannot_keep_account_and_permanently_delete");
        }
        if team.members[idx].status == DropboxMemberStatus::Invited {
            return fail("cannot_keep_invited_user_account");
        }
    }
    if delete_files && transfer {
        return fail("cannot_permanently_delete_and_transfer");
    }
    // 4: the transfer destination and admin.
    let dest = match dest_sel {
        None => None,
        Some(sel) => {
            if admin_sel.is_none() {
                return fail("unspecified_transfer_admin_id");
            }
            let Some(d) = find_member(team, sel) else {
                return fail("transfer_dest_user_not_found");
            };
            if team.members[d].status.is_removed() {
                return fail("transfer_dest_user_not_in_team");
            }
            if d == idx {
                return fail("removed_and_transfer_dest_should_differ");
            }
            Some(d)
        }
    };
    let admin = match admin_sel {
        None => None,
        Some(sel) => {
            let Some(a) = find_member(team, sel) else {
                return fail("transfer_admin_user_not_found");
            };
            if team.members[a].status.is_removed() {
                return fail("transfer_admin_user_not_in_team");
            }
            if a == idx {
                return fail("removed_and_transfer_admin_should_differ");
            }
            if !team.members[a].is_active_admin() {
                return fail("transfer_admin_is_not_admin");
            }
            Some(a)
        }
    };
    // 5: the last Team admin stays.
    let is_team_admin =
        |m: &DropboxMember| m.role == Some(DropboxRole::TeamAdmin) && m.is_active_admin();
    if is_team_admin(&team.members[idx])
        && !team
            .members
            .iter()
            .enumerate()
            .any(|(i, m)| i != idx && is_team_admin(m))
    {
        return fail("remove_last_admin");
    }

    let m = &mut team.members[idx];
    m.status = DropboxMemberStatus::Removed {
        is_recoverable: !delete_files && !keep_account,
        is_disconnected: keep_account,
    };
    m.suspended_on = None;
    m.removed_on = Some(now_secs());
    let (result, async_job_id) = match team.remove_mode {
        RemoveMode::Complete => {
            team.finish_removal(idx, dest, delete_files);
            (json!({".tag": "complete"}), None)
        }
        RemoveMode::Async { in_progress_polls } => {
            let id = format!("dbjid:AA{}", random_token(40));
            team.jobs.insert(
                id.clone(),
                RemoveJob {
                    member: idx,
                    dest,
                    delete_files,
                    polls_left: in_progress_polls,
                    done: false,
                },
            );
            (
                json!({".tag": "async_job_id", "async_job_id": id}),
                Some(id),
            )
        }
    };
    let id_of = |i: Option<usize>| i.map(|i| team.members[i].team_member_id.clone());
    let removal = DropboxRemoval {
        team_member_id: team.members[idx].team_member_id.clone(),
        transfer_dest_id: id_of(dest),
        transfer_admin_id: id_of(admin),
        wipe_data,
        keep_account,
        async_job_id,
    };
    team.removals.push(removal);
    Ok(result)
}

// ---------------------------------------------------------------------------------------------
// team/members/suspend, team/members/unsuspend, team/members/recover

/// The member a `user` selector names, or the `UserSelectorError` / `MembersDeactivateError`
/// answer: `user_not_found` for no member, `user_not_in_team` for a removed one.
fn current_member(team: &TeamState, map: &Map<String, Value>) -> Result<usize, CallError> {
    let user = match map.get("user") {
        Some(v) => user_selector("user", v)?,
        None => return Err(CallError::arg("missing required field 'user'")),
    };
    let Some(idx) = find_member(team, user) else {
        return Err(CallError::route("user_not_found"));
    };
    if team.members[idx].status.is_removed() {
        return Err(CallError::route("user_not_in_team"));
    }
    Ok(idx)
}

/// `MembersDeactivateArg` (`user`, `wipe_data` = true) → Void. Errors (`MembersSuspendError`),
/// in order: `user_not_found`, `user_not_in_team` (removed), `suspend_inactive_user` (not
/// active: invited or already suspended), `suspend_last_admin` (the only active Team admin).
/// The member becomes `suspended` with `suspended_on`; the call is recorded with its
/// `wipe_data`, so a test can prove the client always sent `false`.
fn members_suspend(team: &mut TeamState, Call { arg, .. }: Call) -> Result<Value, CallError> {
    let map = struct_arg("", arg, &["user", "wipe_data"], false)?;
    let wipe_data = bool_field_or(&map, "wipe_data", true)?;
    let idx = current_member(team, &map)?;
    if team.members[idx].status != DropboxMemberStatus::Active {
        return Err(CallError::route("suspend_inactive_user"));
    }
    let is_team_admin =
        |m: &DropboxMember| m.role == Some(DropboxRole::TeamAdmin) && m.is_active_admin();
    if is_team_admin(&team.members[idx])
        && !team
            .members
            .iter()
            .enumerate()
            .any(|(i, m)| i != idx && is_team_admin(m))
    {
        return Err(CallError::route("suspend_last_admin"));
    }
    let m = &mut team.members[idx];
    m.status = DropboxMemberStatus::Suspended;
    m.suspended_on = Some(now_secs());
    let team_member_id = m.team_member_id.clone();
    team.suspensions
        .push(crate::dropbox_team::DropboxSuspension {
            team_member_id,
            wipe_data,
        });
    Ok(Value::Null)
}

/// `MembersUnsuspendArg` (`user`) → Void. Errors (`MembersUnsuspendError`), in order:
/// `user_not_found`, `user_not_in_team` (removed), `unsuspend_non_suspended_member`.
fn members_unsuspend(team: &mut TeamState, Call { arg, .. }: Call) -> Result<Value, CallError> {
    let map = struct_arg("", arg, &["user"], false)?;
    let idx = current_member(team, &map)?;
    if team.members[idx].status != DropboxMemberStatus::Suspended {
        return Err(CallError::route("unsuspend_non_suspended_member"));
    }
    let m = &mut team.members[idx];
    m.status = DropboxMemberStatus::Active;
    m.suspended_on = None;
    Ok(Value::Null)
}

/// `MembersRecoverArg` (`user`) → Void. Errors (`MembersRecoverError`), in order:
/// `user_not_found`; `user_unrecoverable` for a member that is not removed, not recoverable
/// (`permanently_delete_files`, `keep_account`), past its 7 days, or whose removal job still
/// runs; `team_license_limit` when every licence is in use. The member is `active` again; the
/// files a removal transferred stay with the destination.
fn members_recover(team: &mut TeamState, Call { arg, .. }: Call) -> Result<Value, CallError> {
    let map = struct_arg("", arg, &["user"], false)?;
    let user = match map.get("user") {
        Some(v) => user_selector("user", v)?,
        None => return Err(CallError::arg("missing required field 'user'")),
    };
    let Some(idx) = find_member(team, user) else {
        return Err(CallError::route("user_not_found"));
    };
    let m = &team.members[idx];
    let within = m.removed_on.is_some_and(|t| {
        Utc::now() - t < chrono::Duration::days(crate::dropbox_team::RECOVERY_DAYS)
    });
    let recoverable = matches!(
        m.status,
        DropboxMemberStatus::Removed {
            is_recoverable: true,
            ..
        }
    );
    if !recoverable || !within || team.running_job(idx, false) {
        return Err(CallError::route("user_unrecoverable"));
    }
    let used = team
        .members
        .iter()
        .filter(|m| {
            m.membership_type == crate::dropbox_team::DropboxMembershipType::Full
                && matches!(
                    m.status,
                    DropboxMemberStatus::Active | DropboxMemberStatus::Suspended
                )
        })
        .count();
    if used >= team.num_licensed_users as usize {
        return Err(CallError::route("team_license_limit"));
    }
    let m = &mut team.members[idx];
    m.status = DropboxMemberStatus::Active;
    m.removed_on = None;
    m.suspended_on = None;
    let id = m.team_member_id.clone();
    team.recoveries.push(id);
    Ok(Value::Null)
}

/// `PollArg` → `PollEmptyResult`: `in_progress` while the job has polls left, then
/// `complete` (the job's files move on that poll) for good; 409 `invalid_async_job_id` for an
/// id no removal answered.
fn remove_job_status(team: &mut TeamState, Call { arg, .. }: Call) -> Result<Value, CallError> {
    let map = struct_arg("", arg, &["async_job_id"], false)?;
    let id = string_field(&map, "async_job_id")?;
    if id.is_empty() {
        return Err(CallError::arg(
            "async_job_id: '' must be at least 1 characters long",
        ));
    }
    let Some(job) = team.jobs.get_mut(&id) else {
        return Err(CallError::route("invalid_async_job_id"));
    };
    if job.done {
        return Ok(json!({".tag": "complete"}));
    }
    if job.polls_left > 0 {
        job.polls_left -= 1;
        return Ok(json!({".tag": "in_progress"}));
    }
    job.done = true;
    let (member, dest, delete) = (job.member, job.dest, job.delete_files);
    team.finish_removal(member, dest, delete);
    Ok(json!({".tag": "complete"}))
}

// ---------------------------------------------------------------------------------------------
// team_log

const GEO: [(&str, &str, &str); 5] = [
    ("San Francisco", "California", "US"),
    ("New York", "New York", "US"),
    ("London", "England", "GB"),
    ("Berlin", "Berlin", "DE"),
    ("Tokyo", "Tokyo", "JP"),
];

/// The `TeamMemberLogInfo` fields of a member (`.tag` added by the caller).
fn member_log_info(m: &DropboxMember) -> Map<String, Value> {
    let mut info = Map::new();
    if let Some(account) = &m.account_id {
        info.insert("account_id".into(), account.clone().into());
    }
    info.insert("display_name".into(), m.display_name().into());
    info.insert("email".into(), m.email.clone().into());
    info.insert("team_member_id".into(), m.team_member_id.clone().into());
    info
}

fn tagged(tag: &str, mut fields: Map<String, Value>) -> Value {
    fields.insert(".tag".into(), tag.into());
    Value::Object(fields)
}

/// A device session's id as the sandbox renders them: `prefix` (`dbwsid:`, `dbdsid:` or
/// `dbmsid:`) and 39 digits.
pub fn session_id(prefix: &str, session: u64) -> String {
    format!(
        "{prefix}{:020}{:019}",
        session,
        session % 10_000_000_000_000_000_000
    )
}

fn render_event(team: &TeamState, e: &EvRec) -> Value {
    let member = |i: u32| {
        (i != NOBODY)
            .then(|| team.members.get(i as usize))
            .flatten()
    };
    let actor = member(e.actor);
    let context = member(e.context);
    let octet = e.ip.to_be_bytes()[3];
    let (city, region, country) = GEO[usize::from(octet) % GEO.len()];
    let geo = json!({
        "ip_address": std::net::Ipv4Addr::from(e.ip).to_string(),
        "city": city,
        "region": region,
        "country": country,
    });
    let access_method = match e.kind {
        EvKind::SignInAsStart | EvKind::SignInAsEnd => {
            json!({".tag": "sign_in_as", "session_id": session_id("dbwsid:", e.session)})
        }
        _ => {
            let (client, prefix) = match e.client {
                1 => ("desktop", "dbdsid:"),
                2 => ("mobile", "dbmsid:"),
                _ => ("web", "dbwsid:"),
            };
            json!({
                ".tag": "end_user",
                "end_user": {".tag": client, "session_id": session_id(prefix, e.session)},
            })
        }
    };
    let actor_json = match (e.kind, actor) {
        (_, None) => json!({".tag": "anonymous"}),
        (EvKind::SignInAsStart | EvKind::SignInAsEnd, Some(a)) => {
            json!({".tag": "admin", "admin": tagged("team_member", member_log_info(a))})
        }
        (_, Some(a)) => json!({".tag": "user", "user": tagged("team_member", member_log_info(a))}),
    };
    let context_json = match context {
        Some(c) => tagged("team_member", member_log_info(c)),
        None => json!({".tag": "anonymous"}),
    };
    let login_method = json!({".tag": LOGIN_METHODS[usize::from(e.method) % LOGIN_METHODS.len()]});
    let details = match e.kind {
        EvKind::LoginSuccess => json!({
            ".tag": "login_success_details",
            "is_emm_managed": false,
            "login_method": login_method,
        }),
        EvKind::LoginFail => json!({
            ".tag": "login_fail_details",
            "is_emm_managed": false,
            "login_method": login_method,
            "error_details": {"user_friendly_message": "Invalid email or password."},
        }),
        EvKind::Logout => json!({".tag": "logout_details"}),
        EvKind::SignInAsStart => json!({".tag": "sign_in_as_session_start_details"}),
        EvKind::SignInAsEnd => json!({".tag": "sign_in_as_session_end_details"}),
        EvKind::FileAdd => json!({".tag": "file_add_details"}),
        EvKind::FileDownload => json!({".tag": "file_download_details"}),
        EvKind::FileEdit => json!({".tag": "file_edit_details"}),
        EvKind::FilePreview => json!({".tag": "file_preview_details"}),
        EvKind::SharedLinkCreate => json!({".tag": "shared_link_create_details"}),
    };
    json!({
        "timestamp": dropbox_time(from_secs(e.at)),
        "event_category": {".tag": e.kind.category()},
        "actor": actor_json,
        "origin": {"access_method": access_method, "geo_location": geo},
        "involve_non_team_member": false,
        "context": context_json,
        "event_type": {".tag": e.kind.tag(), "description": e.kind.description()},
        "details": details,
    })
}

// ---------------------------------------------------------------------------------------------
// team/devices/list_members_devices, team/devices/list_member_devices

/// A session's id, with the prefix of its kind (`dbwsid:` web, `dbdsid:` desktop, `dbmsid:`
/// mobile).
pub(crate) fn device_session_id(s: &SessionRec) -> String {
    let prefix = ["dbwsid:", "dbdsid:", "dbmsid:"][usize::from(s.client.min(2))];
    session_id(prefix, s.id)
}

/// A session as `ActiveWebSession`, `DesktopClientSession` or `MobileClientSession`.
fn render_session(s: &SessionRec) -> Value {
    let ip = std::net::Ipv4Addr::from(0xCB00_7100 | (s.id as u32 & 0xFF));
    let (_, _, country) = GEO[(s.id % GEO.len() as u64) as usize];
    let mut v = json!({
        "session_id": device_session_id(s),
        "ip_address": ip.to_string(),
        "country": country,
        "created": dropbox_time(from_secs(s.created)),
        "updated": dropbox_time(from_secs(s.updated)),
    });
    let extra = match s.client {
        1 => json!({
            "host_name": format!("desktop-{:04}", s.id % 10_000),
            "client_type": {".tag": if s.id.is_multiple_of(2) { "mac" } else { "windows" }},
            "client_version": "210.4.6575",
            "platform": if s.id.is_multiple_of(2) { "Mac OS X 14.4" } else { "Windows 11" },
            "is_delete_on_unlink_supported": true,
        }),
        2 => json!({
            "device_name": format!("Phone {:04}", s.id % 10_000),
            "client_type": {".tag": if s.id.is_multiple_of(2) { "iphone" } else { "android" }},
            "client_version": "390.2.2",
            "os_version": "17.4",
        }),
        _ => json!({
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
            "os": "Mac OS X",
            "browser": "Safari",
            "expires": dropbox_time(from_secs(s.updated + 30 * 86_400)),
        }),
    };
    if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
        v.extend(extra);
    }
    v
}

/// Which kinds a devices listing includes (`include_web_sessions`, `_desktop_clients`,
/// `_mobile_clients`, each `Boolean = true`).
fn device_kinds(map: &Map<String, Value>) -> Result<[bool; 3], CallError> {
    Ok([
        bool_field_or(map, "include_web_sessions", true)?,
        bool_field_or(map, "include_desktop_clients", true)?,
        bool_field_or(map, "include_mobile_clients", true)?,
    ])
}

/// The sessions of member `idx` of the kinds asked for, as (web, desktop, mobile) lists.
fn member_sessions(team: &TeamState, idx: usize, kinds: [bool; 3]) -> [Vec<Value>; 3] {
    let mut out: [Vec<Value>; 3] = Default::default();
    let lo = team.sessions.partition_point(|s| (s.member as usize) < idx);
    for s in team.sessions[lo..]
        .iter()
        .take_while(|s| s.member as usize == idx)
    {
        let k = usize::from(s.client.min(2));
        if kinds[k] {
            out[k].push(render_session(s));
        }
    }
    out
}

fn devices_page(team: &TeamState, kinds: [bool; 3], next: usize) -> Value {
    let mut devices = Vec::new();
    let mut idx = next;
    let listed = |i: usize| team.members.get(i).is_some_and(|m| !m.status.is_removed());
    while idx < team.members.len() && devices.len() < DEVICES_PAGE {
        if listed(idx) {
            let [web, desktop, mobile] = member_sessions(team, idx, kinds);
            if !(web.is_empty() && desktop.is_empty() && mobile.is_empty()) {
                devices.push(json!({
                    "team_member_id": team.members[idx].team_member_id,
                    "web_sessions": web,
                    "desktop_clients": desktop,
                    "mobile_clients": mobile,
                }));
            }
        }
        idx += 1;
    }
    let has_more = team.sessions[team.sessions.partition_point(|s| (s.member as usize) < idx)..]
        .iter()
        .any(|s| listed(s.member as usize));
    let mut page = json!({ "devices": devices, "has_more": has_more });
    if has_more {
        let flags = u8::from(kinds[0]) | u8::from(kinds[1]) << 1 | u8::from(kinds[2]) << 2;
        let mut p = vec![CURSOR_VERSION, KIND_DEVICES, flags];
        p.extend_from_slice(&u32::try_from(idx).unwrap_or(u32::MAX).to_be_bytes());
        page["cursor"] = json!(seal(&team.cursor_key, p));
    }
    page
}

fn list_members_devices(team: &mut TeamState, Call { arg, .. }: Call) -> Result<Value, CallError> {
    let map = struct_arg(
        "",
        arg,
        &[
            "cursor",
            "include_web_sessions",
            "include_desktop_clients",
            "include_mobile_clients",
        ],
        true,
    )?;
    let kinds = device_kinds(&map)?;
    let next = match map.get("cursor").filter(|c| !c.is_null()) {
        None => 0,
        Some(Value::String(raw)) => {
            let payload = unseal(&team.cursor_key, raw, KIND_DEVICES)
                .ok_or_else(|| CallError::route("reset"))?;
            let mut r = Reader(&payload);
            let (_flags, next) = (r.u8(), r.u32());
            next.map(|n| n as usize)
                .filter(|_| r.0.is_empty())
                .ok_or_else(|| CallError::route("reset"))?
        }
        Some(other) => {
            return Err(CallError::arg(format!(
                "cursor: expected string, got {}",
                type_name(other)
            )))
        }
    };
    Ok(devices_page(team, kinds, next))
}

fn list_member_devices(team: &mut TeamState, Call { arg, .. }: Call) -> Result<Value, CallError> {
    let map = struct_arg(
        "",
        arg,
        &[
            "team_member_id",
            "include_web_sessions",
            "include_desktop_clients",
            "include_mobile_clients",
        ],
        false,
    )?;
    let id = string_field(&map, "team_member_id")?;
    let kinds = device_kinds(&map)?;
    let idx = team
        .member_index(&id)
        .filter(|&i| !team.members[i].status.is_removed())
        .ok_or_else(|| CallError::route("member_not_found"))?;
    let [web, desktop, mobile] = member_sessions(team, idx, kinds);
    Ok(json!({
        "active_web_sessions": web,
        "desktop_client_sessions": desktop,
        "mobile_client_sessions": mobile,
    }))
}

fn event_matches(e: &EvRec, c: &EventsCursor) -> bool {
    let category_ok = c
        .category
        .is_none_or(|i| EVENT_CATEGORIES.get(usize::from(i)) == Some(&e.kind.category()));
    let type_ok = c
        .event_type
        .is_none_or(|i| EVENT_TYPE_ARGS.get(usize::from(i)) == Some(&e.kind.tag()));
    let account_ok = c.account.is_none_or(|a| e.actor == a || e.context == a);
    category_ok && type_ok && account_ok
}

/// One page from `cursor`: up to `limit` matching events among at most the scan budget of raw
/// events in the window. `has_more` is true while raw events of the window remain unscanned (so
/// it may be true with no events, and a page may end exactly at the last event with
/// `has_more: false`).
fn events_page(team: &TeamState, cursor: &EventsCursor) -> Value {
    let all = &team.events;
    let Range {
        start: from,
        end: hi,
    } = window(all, cursor.start, cursor.end, cursor.position);
    let limit = usize::from(cursor.limit);
    let page = page(all, from..hi, team.scan_budget, limit, |e| {
        event_matches(e, cursor).then(|| render_event(team, e))
    });
    let next = EventsCursor {
        position: page.last.or(cursor.position),
        ..cursor.clone()
    };
    json!({
        "events": page.items,
        "cursor": next.encode(&team.cursor_key),
        "has_more": from + page.scanned < hi,
    })
}

fn get_events(team: &mut TeamState, Call { arg, .. }: Call) -> Result<Value, CallError> {
    let map = struct_arg(
        "",
        arg,
        &["limit", "account_id", "time", "category", "event_type"],
        true,
    )?;
    let limit = limit_field(&map)?;
    let account_id = match map.get("account_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() == 40 => Some(s.clone()),
        Some(Value::String(s)) => {
            return Err(CallError::arg(format!(
                "account_id: '{s}' must be exactly 40 characters"
            )))
        }
        Some(other) => {
            return Err(CallError::arg(format!(
                "account_id: expected string, got {}",
                type_name(other)
            )))
        }
    };
    let (mut start, mut end) = (None, None);
    if let Some(time) = map.get("time").filter(|t| !t.is_null()) {
        let time = struct_arg("time", time.clone(), &["start_time", "end_time"], true)?;
        for (name, slot) in [("start_time", &mut start), ("end_time", &mut end)] {
            match time.get(name) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => match parse_dropbox_time(s) {
                    Some(t) => *slot = Some(t.timestamp()),
                    None => {
                        return Err(CallError::arg(format!(
                        "time: {name}: timestamp '{s}' does not match format '%Y-%m-%dT%H:%M:%SZ'"
                    )))
                    }
                },
                Some(other) => {
                    return Err(CallError::arg(format!(
                        "time: {name}: expected timestamp, got {}",
                        type_name(other)
                    )))
                }
            }
        }
    }
    let category = match map.get("category").filter(|c| !c.is_null()) {
        Some(v) => Some(void_union("category", v, EVENT_CATEGORIES)?),
        None => None,
    };
    let event_type = match map.get("event_type").filter(|c| !c.is_null()) {
        Some(v) => Some(void_union("event_type", v, EVENT_TYPE_ARGS)?),
        None => None,
    };
    if category.is_some() && event_type.is_some() {
        return Err(CallError::route("invalid_filters"));
    }
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return Err(CallError::route("invalid_time_range"));
        }
    }
    let account = match account_id {
        None => None,
        Some(id) => match team.account_index(&id) {
            Some(idx) => Some(u32::try_from(idx).unwrap_or(NOBODY)),
            None => return Err(CallError::route("account_id_not_found")),
        },
    };
    let cursor = EventsCursor {
        limit: u16::try_from(limit).unwrap_or(1000),
        category: category.and_then(|c| u8::try_from(c).ok()),
        event_type: event_type.and_then(|t| u16::try_from(t).ok()),
        account,
        start,
        end,
        position: None,
    };
    Ok(events_page(team, &cursor))
}

fn get_events_continue(team: &mut TeamState, Call { arg, .. }: Call) -> Result<Value, CallError> {
    let map = struct_arg("", arg, &["cursor"], false)?;
    let raw = string_field(&map, "cursor")?;
    let cursor = EventsCursor::decode(&team.cursor_key, &raw)
        .ok_or_else(|| CallError::route("bad_cursor"))?;
    if team.reset_next_continue {
        team.reset_next_continue = false;
        // "The approximate timestamp of the most recent event returned by the cursor."
        let at = cursor
            .position
            .map(|(at, _)| at)
            .or(cursor.start)
            .or_else(|| team.events.first().map(|e| e.at))
            .unwrap_or_else(|| team.now.timestamp());
        return Err(CallError::Route(
            json!({".tag": "reset", "reset": dropbox_time(from_secs(at))}),
        ));
    }
    Ok(events_page(team, &cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn members_cursor_round_trip_and_tamper() {
        let c = MembersCursor {
            include_removed: true,
            limit: 250,
            next: 12_345,
        };
        let s = c.encode(&KEY);
        assert!(is_b64url_no_pad(&s));
        assert_eq!(MembersCursor::decode(&KEY, &s), Some(c));
        assert_eq!(MembersCursor::decode(&[8; 32], &s), None, "other key");
        assert_eq!(EventsCursor::decode(&KEY, &s), None, "other kind");
        let mut bytes = b64_decode(&s).expect("b64");
        bytes[3] ^= 1;
        assert_eq!(MembersCursor::decode(&KEY, &b64url_encode(&bytes)), None);
        assert_eq!(MembersCursor::decode(&KEY, "garbage!"), None);
        assert_eq!(MembersCursor::decode(&KEY, ""), None);
    }

    #[test]
    fn events_cursor_round_trip() {
        for c in [
            EventsCursor {
                limit: 1000,
                ..EventsCursor::default()
            },
            EventsCursor {
                limit: 7,
                category: Some(11),
                event_type: Some(300),
                account: Some(42),
                start: Some(1_700_000_000),
                end: Some(1_800_000_000),
                position: Some((1_750_000_000, 99)),
            },
        ] {
            let s = c.encode(&KEY);
            assert_eq!(EventsCursor::decode(&KEY, &s), Some(c));
            assert_eq!(MembersCursor::decode(&KEY, &s), None);
        }
    }

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn redirect_uris() {
        assert!(valid_redirect_uri("https://cb.example/oauth/callback"));
        assert!(valid_redirect_uri("http://127.0.0.1:8080/cb?x=1"));
        assert!(!valid_redirect_uri("ftp://x/y"));
        assert!(!valid_redirect_uri("https:///path"));
        assert!(!valid_redirect_uri("https://x/y#frag"));
        assert!(!valid_redirect_uri("/relative"));
    }
}
