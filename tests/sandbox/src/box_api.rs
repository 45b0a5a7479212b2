//! The Box endpoints seatkeeper uses, under `/box`, shaped like the Box OpenAPI spec
//! (`components.schemas.AccessToken`, `OAuth2Error`, `Users`, `User--Full`, `Events`, `Event`,
//! `ClientError`):
//!
//! - `POST /box/oauth2/token` (client credentials grant)
//! - `GET /box/2.0/users` (marker and offset paging, `fields`, `filter_term`, `user_type`)
//! - `GET /box/2.0/users/{user_id}` (also `me`: the service account)
//! - `DELETE /box/2.0/users/{user_id}` (`notify`, `force`)
//! - `PUT /box/2.0/users/{user_id}/folders/0` (transfer owned content; `Folder--Full`)
//! - `GET /box/2.0/events?stream_type=admin_logs`

use std::ops::Bound;
use std::sync::MutexGuard;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::app::AppState;
use crate::faults::FaultKind;
use crate::generate::{from_secs, now_secs, page, window, Page, Timed};
use crate::tenant::{file_names, format_event_id, BoxUser, EventRec, Item, SourceRef, TenantState};
use crate::util::{
    b64_decode, b64url_encode, basic_credentials, bearer_token, box_time, parse_time, request_id,
    Params,
};

const HELP_URL: &str = "http://developers.box.com/docs/#errors";
const WWW_AUTHENTICATE_INVALID_TOKEN: &str = r#"Bearer realm="Service", error="invalid_token", error_description="The access token provided is invalid.""#;
const ISSUED_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const MAX_UPLOAD_SIZE: i64 = 5_368_709_120;

const USERS_DEFAULT_LIMIT: u64 = 100;
const USERS_MAX_LIMIT: u64 = 1000;
const USERS_MAX_OFFSET: u64 = 10_000;
const EVENTS_DEFAULT_LIMIT: u64 = 100;
const EVENTS_MAX_LIMIT: u64 = 500;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/box/oauth2/token", post(token))
        .route("/box/2.0/users", get(list_users))
        .route(
            "/box/2.0/users/{user_id}",
            get(get_user).put(update_user).delete(delete_user),
        )
        .route("/box/2.0/users/{user_id}/folders/0", put(transfer_folder))
        .route("/box/2.0/events", get(events))
        .route("/box/{*rest}", any(not_found_route))
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A `ClientError` body (`components.schemas.ClientError`).
#[derive(Debug)]
pub(crate) struct ClientError {
    status: StatusCode,
    code: &'static str,
    message: String,
    context_info: Option<Value>,
}

impl ClientError {
    /// 400 `bad_request` naming the parameter, like Box's `invalid_parameter` errors.
    fn bad_param(name: &str, message: impl Into<String>) -> Self {
        Self::invalid_parameter(StatusCode::BAD_REQUEST, name, message.into())
    }

    fn not_found(name: &str, value: &str) -> Self {
        let message = format!("Invalid value '{value}'. '{name}' with value '{value}' not found");
        Self::invalid_parameter(StatusCode::NOT_FOUND, name, message)
    }

    fn invalid_parameter(status: StatusCode, name: &str, message: String) -> Self {
        ClientError {
            context_info: Some(json!({
                "errors": [{"reason": "invalid_parameter", "name": name, "message": message}]
            })),
            ..Self::for_status(status)
        }
    }

    /// The status's `ClientError` with a message of its own (and no `context_info`).
    fn with_message(status: StatusCode, message: impl Into<String>) -> Self {
        ClientError {
            message: message.into(),
            ..Self::for_status(status)
        }
    }

    /// The error Box sends with this status (for injected faults).
    fn for_status(status: StatusCode) -> Self {
        let (code, message) = match status.as_u16() {
            400 => ("bad_request", "Bad Request"),
            401 => ("unauthorized", "Unauthorized"),
            403 => ("forbidden", "Forbidden"),
            404 => ("not_found", "Not Found"),
            409 => ("conflict", "Conflict"),
            429 => (
                "rate_limit_exceeded",
                "Request rate limit exceeded, please try again later",
            ),
            502 => ("bad_gateway", "Bad Gateway"),
            503 | 504 => ("unavailable", "Unavailable"),
            _ => ("internal_server_error", "Internal Server Error"),
        };
        ClientError {
            status,
            code,
            message: message.to_string(),
            context_info: None,
        }
    }
}

impl IntoResponse for ClientError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("type".into(), "error".into());
        body.insert("status".into(), self.status.as_u16().into());
        body.insert("code".into(), self.code.into());
        body.insert("message".into(), self.message.into());
        if let Some(context) = self.context_info {
            body.insert("context_info".into(), context);
        }
        body.insert("help_url".into(), HELP_URL.into());
        body.insert("request_id".into(), request_id().into());
        (self.status, Json(Value::Object(body))).into_response()
    }
}

/// An `OAuth2Error` body (400 from the token endpoint).
fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// How Box answers a missing, unknown or expired access token: 401, empty body.
pub(crate) fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(WWW_AUTHENTICATE_INVALID_TOKEN),
        )],
    )
        .into_response()
}

#[derive(Debug)]
enum ApiError {
    Client(ClientError),
    Unauthorized,
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        ApiError::Client(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Client(e) => e.into_response(),
            ApiError::Unauthorized => unauthorized(),
        }
    }
}

/// The response of an injected fault that replaces the normal answer (`None` for the kinds
/// that modify the normal answer: `Slow`, `TruncatedBody`).
pub(crate) fn fault_response(kind: &FaultKind) -> Option<Response> {
    match kind {
        FaultKind::RateLimited { retry_after_secs } => {
            let mut response =
                ClientError::for_status(StatusCode::TOO_MANY_REQUESTS).into_response();
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            Some(response)
        }
        FaultKind::ServerError { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(ClientError::for_status(status).into_response())
        }
        FaultKind::ExpiredToken => Some(unauthorized()),
        FaultKind::Slow { .. }
        | FaultKind::TruncatedBody
        | FaultKind::DropField { .. }
        | FaultKind::ReplaceInBody { .. } => None,
    }
}

async fn not_found_route() -> Response {
    ClientError {
        context_info: Some(
            json!({"message": "The provider sandbox does not serve this Box endpoint"}),
        ),
        ..ClientError::for_status(StatusCode::NOT_FOUND)
    }
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// Parameters

/// A non-negative integer parameter, at most `max`.
fn int_param(q: &Params, name: &str, max: u64) -> Result<Option<u64>, ClientError> {
    let Some(raw) = q.get(name).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let value = raw.parse::<u64>().map_err(|_| {
        ClientError::bad_param(
            name,
            format!("Invalid value '{raw}'. '{name}' must be a non-negative integer"),
        )
    })?;
    if value > max {
        return Err(ClientError::bad_param(
            name,
            format!("Invalid value '{raw}'. '{name}' must be at most {max}"),
        ));
    }
    Ok(Some(value))
}

fn limit_param(q: &Params, default: u64, max: u64) -> Result<usize, ClientError> {
    let limit = int_param(q, "limit", max)?.unwrap_or(default);
    if limit == 0 {
        return Err(ClientError::bad_param(
            "limit",
            "Invalid value '0'. 'limit' must be at least 1",
        ));
    }
    usize::try_from(limit).map_err(|_| ClientError::bad_param("limit", "too large"))
}

fn bool_param(q: &Params, name: &str) -> Result<bool, ClientError> {
    match q.get(name) {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(ClientError::bad_param(
            name,
            format!("Invalid value '{other}'. '{name}' must be true or false"),
        )),
    }
}

fn time_param(q: &Params, name: &str) -> Result<Option<DateTime<Utc>>, ClientError> {
    match q.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(raw) => parse_time(raw).map(Some).ok_or_else(|| {
            ClientError::bad_param(
                name,
                format!("Invalid value '{raw}'. '{name}' must be an RFC 3339 date-time"),
            )
        }),
    }
}

/// The tenant, locked, once the request's bearer token checks out: how every `/2.0` handler
/// starts (the 401 comes before any parameter is looked at).
fn authorized<'a>(
    app: &'a AppState,
    headers: &HeaderMap,
) -> Result<MutexGuard<'a, TenantState>, ApiError> {
    let state = app.tenant.lock();
    match bearer_token(headers) {
        Some(token) if state.token_is_valid(token) => Ok(state),
        _ => Err(ApiError::Unauthorized),
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// POST /box/oauth2/token

async fn token(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Params::parse(&String::from_utf8_lossy(&body));
    let grant_type = form.get("grant_type").unwrap_or("");
    if grant_type.is_empty() {
        return oauth_error(
            "invalid_request",
            "Invalid grant_type parameter or parameter missing",
        );
    }
    let (client_id, client_secret) = match (form.get("client_id"), form.get("client_secret")) {
        (Some(id), Some(secret)) => (id.to_string(), secret.to_string()),
        _ => basic_credentials(&headers).unwrap_or_default(),
    };

    let mut tenant = app.tenant.lock();
    if client_id.is_empty()
        || client_id != tenant.client_id
        || client_secret != tenant.client_secret
    {
        return oauth_error("invalid_client", "The client credentials are not valid");
    }
    if grant_type != "client_credentials" {
        return oauth_error(
            "unsupported_grant_type",
            "The grant type is not supported by the sandbox (only client_credentials)",
        );
    }
    let subject_ok = form.get("box_subject_type") == Some("enterprise")
        && form.get("box_subject_id") == Some(tenant.enterprise_id.as_str());
    if !subject_ok {
        return oauth_error("invalid_grant", "Grant credentials are invalid");
    }
    let access_token = tenant.issue_token();
    let body = json!({
        "access_token": access_token,
        "expires_in": tenant.token_ttl.as_secs(),
        "token_type": "bearer",
        "restricted_to": [],
        "issued_token_type": ISSUED_TOKEN_TYPE,
    });
    Json(body).into_response()
}

// ---------------------------------------------------------------------------------------------
// Users

/// The standard (`User`) fields, returned when `fields` is not given.
const STANDARD_FIELDS: &[&str] = &[
    "name",
    "login",
    "created_at",
    "modified_at",
    "language",
    "timezone",
    "space_amount",
    "space_used",
    "max_upload_size",
    "status",
    "job_title",
    "phone",
    "address",
    "avatar_url",
    "notification_email",
];

/// The fields only `User--Full` has (returned only when asked for with `fields`).
const FULL_ONLY_FIELDS: &[&str] = &[
    "role",
    "tracking_codes",
    "can_see_managed_users",
    "is_sync_enabled",
    "is_external_collab_restricted",
    "is_exempt_from_device_limits",
    "is_exempt_from_login_verification",
    "enterprise",
    "my_tags",
    "hostname",
    "is_platform_access_only",
    "external_app_user_id",
];

/// Which user fields to render besides `type` and `id`.
#[derive(Debug)]
struct Fields(Vec<&'static str>);

impl Fields {
    fn parse(raw: Option<&str>) -> Fields {
        Fields(select_fields(raw, STANDARD_FIELDS, FULL_ONLY_FIELDS, &[]))
    }
}

/// The fields to render of a `fields` parameter: without one the standard fields; with one
/// `always` plus the listed ones this resource has (unknown names are ignored, as Box does).
fn select_fields(
    raw: Option<&str>,
    standard: &[&'static str],
    full_only: &[&'static str],
    always: &[&'static str],
) -> Vec<&'static str> {
    let Some(list) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return standard.to_vec();
    };
    let mut fields = always.to_vec();
    for name in list.split(',').map(str::trim) {
        if let Some(f) = standard.iter().chain(full_only).find(|f| **f == name) {
            if !fields.contains(f) {
                fields.push(f);
            }
        }
    }
    fields
}

fn user_field(u: &BoxUser, field: &str, state: &TenantState) -> Value {
    let app = u.is_platform_access_only;
    match field {
        "name" => u.name.clone().into(),
        "login" => u.login.clone().into(),
        "created_at" => box_time(u.created_at).into(),
        "modified_at" => box_time(u.modified_at).into(),
        "language" => u.language.clone().into(),
        "timezone" => u.timezone.clone().into(),
        "space_amount" => u.space_amount.into(),
        "space_used" => u.space_used.into(),
        "max_upload_size" => MAX_UPLOAD_SIZE.into(),
        "status" => u.status.clone().into(),
        "job_title" => u.job_title.clone().into(),
        "phone" => u.phone.clone().into(),
        "address" => "".into(),
        "avatar_url" => format!("https://app.box.com/api/avatar/large/{}", u.id).into(),
        "notification_email" => match &u.notification_email {
            Some(email) => json!({"email": email, "is_confirmed": true}),
            None => Value::Null,
        },
        "role" => u.role.clone().into(),
        "tracking_codes" => u
            .tracking_codes
            .iter()
            .map(|(name, value)| json!({"type": "tracking_code", "name": name, "value": value}))
            .collect::<Vec<_>>()
            .into(),
        "can_see_managed_users" | "is_sync_enabled" => (!app).into(),
        "is_external_collab_restricted"
        | "is_exempt_from_device_limits"
        | "is_exempt_from_login_verification" => false.into(),
        "enterprise" => json!({
            "id": state.enterprise_id,
            "type": "enterprise",
            "name": state.enterprise_name,
        }),
        "my_tags" => json!([]),
        "hostname" => "https://app.box.com/".into(),
        "is_platform_access_only" => app.into(),
        "external_app_user_id" => u.external_app_user_id.clone().into(),
        _ => Value::Null,
    }
}

fn render_user(u: &BoxUser, fields: &Fields, state: &TenantState) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), "user".into());
    m.insert("id".into(), u.id.clone().into());
    for field in &fields.0 {
        m.insert((*field).into(), user_field(u, field, state));
    }
    Value::Object(m)
}

/// Markers look like Box's: base64url of `{"type":"id","dir":"next","tail":"<last id>"}`.
/// They name the last user returned, so deletes between pages skip nobody.
fn encode_marker(last_id: u64) -> String {
    b64url_encode(format!(r#"{{"type":"id","dir":"next","tail":"{last_id}"}}"#).as_bytes())
}

fn decode_marker(marker: &str) -> Option<u64> {
    let json: Value = serde_json::from_slice(&b64_decode(marker)?).ok()?;
    match json.get("tail")? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

async fn list_users(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Params,
) -> Result<Response, ApiError> {
    let state = authorized(&app, &headers)?;

    let limit = limit_param(&q, USERS_DEFAULT_LIMIT, USERS_MAX_LIMIT)?;
    let use_marker = bool_param(&q, "usemarker")?;
    let marker = q.get("marker").filter(|m| !m.is_empty());
    if marker.is_some() && !use_marker {
        return Err(
            ClientError::bad_param("marker", "'marker' requires 'usemarker' to be true").into(),
        );
    }
    let offset = int_param(&q, "offset", USERS_MAX_OFFSET)?.unwrap_or(0);
    let user_type = q
        .get("user_type")
        .filter(|t| !t.is_empty())
        .unwrap_or("all");
    if !matches!(user_type, "all" | "managed" | "external") {
        return Err(ClientError::bad_param(
            "user_type",
            format!(
                "Invalid value '{user_type}'. 'user_type' must be one of all, managed, external"
            ),
        )
        .into());
    }
    let filter_term = q
        .get("filter_term")
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let external_app_user_id = q.get("external_app_user_id").filter(|t| !t.is_empty());
    let fields = Fields::parse(q.get("fields"));

    // Every user of the sandbox tenant is managed (app users included); it has no external
    // users, so `user_type=external` finds nobody.
    let wanted = |u: &BoxUser| {
        user_type != "external"
            && filter_term.is_none_or(|t| {
                starts_with_ignore_case(&u.name, t) || starts_with_ignore_case(&u.login, t)
            })
            && external_app_user_id.is_none_or(|id| u.external_app_user_id.as_deref() == Some(id))
    };

    let body = if use_marker {
        let after = match marker {
            None => Bound::Unbounded,
            Some(m) => Bound::Excluded(decode_marker(m).ok_or_else(|| {
                ClientError::bad_param(
                    "marker",
                    format!("Invalid value '{m}'. 'marker' is not a valid marker"),
                )
            })?),
        };
        let mut entries = Vec::with_capacity(limit.min(state.users.len()));
        let mut last_id = 0;
        let mut next_marker = None;
        for (&id, user) in state.users.range((after, Bound::Unbounded)) {
            if !wanted(user) {
                continue;
            }
            if entries.len() == limit {
                next_marker = Some(encode_marker(last_id));
                break;
            }
            entries.push(render_user(user, &fields, &state));
            last_id = id;
        }
        json!({"limit": limit, "next_marker": next_marker, "entries": entries})
    } else {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        let mut total = 0usize;
        let mut entries = Vec::new();
        for user in state.users.values().filter(|u| wanted(u)) {
            if total >= offset && entries.len() < limit {
                entries.push(render_user(user, &fields, &state));
            }
            total += 1;
        }
        json!({"total_count": total, "entries": entries, "limit": limit, "offset": offset})
    };
    Ok(Json(body).into_response())
}

async fn get_user(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let state = authorized(&app, &headers)?;
    let fields = Fields::parse(q.get("fields"));
    let user = if user_id == "me" {
        Some(&state.service_account)
    } else {
        user_id
            .parse::<u64>()
            .ok()
            .and_then(|id| state.users.get(&id))
    };
    match user {
        Some(user) => Ok(Json(render_user(user, &fields, &state)).into_response()),
        None => Err(ClientError::not_found("user", &user_id).into()),
    }
}

/// `PUT /users/{user_id}` statuses (the request body schema's `status` enum).
const USER_STATUSES: &[&str] = &[
    "active",
    "inactive",
    "cannot_delete_edit",
    "cannot_delete_edit_upload",
];

/// `PUT /users/{user_id}` body fields the spec lists; the sandbox changes only `status` and
/// accepts (and ignores) the others.
const UPDATE_USER_FIELDS: &[&str] = &[
    "enterprise",
    "notify",
    "name",
    "login",
    "role",
    "language",
    "is_sync_enabled",
    "job_title",
    "phone",
    "address",
    "tracking_codes",
    "can_see_managed_users",
    "timezone",
    "is_external_collab_restricted",
    "is_exempt_from_device_limits",
    "is_exempt_from_login_verification",
    "is_password_reset_required",
    "status",
    "space_amount",
    "notification_email",
    "external_app_user_id",
];

/// Updates a user: the sandbox sets `status` (`inactive` suspends: content and seat stay) and
/// answers 200 with the user (`User--Full`: every field unless `fields` narrows it). A deleted
/// or unknown user is 404 `not_found`; a body that is not a JSON object, an unknown field or a
/// status outside the spec's enum is 400 `bad_request`.
async fn update_user(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    q: Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut state = authorized(&app, &headers)?;
    let id = current_user_id(&state, &user_id, "user")?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|_| ClientError::bad_param("body", "The request body must be a JSON object"))?;
    let Some(map) = value.as_object() else {
        return Err(
            ClientError::bad_param("body", "The request body must be a JSON object").into(),
        );
    };
    if let Some(k) = map
        .keys()
        .find(|k| !UPDATE_USER_FIELDS.contains(&k.as_str()))
    {
        return Err(ClientError::bad_param(k, format!("Unknown field '{k}'")).into());
    }
    if let Some(v) = map.get("status") {
        let status = v
            .as_str()
            .filter(|s| USER_STATUSES.contains(s))
            .ok_or_else(|| {
                ClientError::bad_param(
                    "status",
                    format!(
                        "Invalid value '{v}'. 'status' must be one of {}",
                        USER_STATUSES.join(", ")
                    ),
                )
            })?;
        if let Some(u) = state.users.get_mut(&id) {
            if u.status != status {
                u.status = status.to_owned();
                u.modified_at = now_secs();
            }
        }
    }
    let fields = match q.get("fields") {
        Some(_) => Fields::parse(q.get("fields")),
        None => Fields(
            STANDARD_FIELDS
                .iter()
                .chain(FULL_ONLY_FIELDS)
                .copied()
                .collect(),
        ),
    };
    let user = &state.users[&id];
    Ok(Json(render_user(user, &fields, &state)).into_response())
}

/// The numeric id of a current user, or the 404 Box answers (`name` is the parameter named in
/// `context_info`).
fn current_user_id(state: &TenantState, raw: &str, name: &str) -> Result<u64, ClientError> {
    raw.parse::<u64>()
        .ok()
        .filter(|id| state.users.contains_key(id))
        .ok_or_else(|| ClientError::not_found(name, raw))
}

// ---------------------------------------------------------------------------------------------
// DELETE /box/2.0/users/{user_id}

/// Statuses whose users can't be deleted (Box: "cannot_delete_edit", "cannot_delete_edit_upload").
const UNDELETABLE_STATUSES: &[&str] = &["cannot_delete_edit", "cannot_delete_edit_upload"];

/// 204 when the user owns nothing (or `force=true`, which deletes what they own too). Refusals,
/// in order: unknown / deleted user → 404 `not_found`; status `cannot_delete_edit*` or the
/// primary `admin` → 403 `forbidden` (even with `force`); owns content without `force` → 400
/// `bad_request` (the code and status Box sends here are undocumented). A refusal deletes
/// nothing.
async fn delete_user(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let mut state = authorized(&app, &headers)?;
    let _notify = bool_param(&q, "notify")?;
    let force = bool_param(&q, "force")?;
    let id = current_user_id(&state, &user_id, "user")?;
    let user = &state.users[&id];
    if UNDELETABLE_STATUSES.contains(&user.status.as_str()) {
        return Err(ClientError::with_message(
            StatusCode::FORBIDDEN,
            format!(
                "User {user_id} cannot be deleted: their status is {}",
                user.status
            ),
        )
        .into());
    }
    if user.role == "admin" {
        return Err(ClientError::with_message(
            StatusCode::FORBIDDEN,
            "The primary admin of the enterprise cannot be deleted",
        )
        .into());
    }
    if !force && !state.holdings(id).is_empty() {
        return Err(ClientError::with_message(
            StatusCode::BAD_REQUEST,
            format!(
                "User {user_id} cannot be deleted because they still own content. Transfer their content first or use force=true"
            ),
        )
        .into());
    }
    state.delete_user(id);
    state.record_deleted(id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------------
// PUT /box/2.0/users/{user_id}/folders/0

/// The standard `Folder` fields (returned without `fields`): the keys of Box's
/// `PutTransferFolder200.json` fixture.
const FOLDER_STANDARD_FIELDS: &[&str] = &[
    "sequence_id",
    "etag",
    "name",
    "created_at",
    "modified_at",
    "description",
    "size",
    "path_collection",
    "created_by",
    "modified_by",
    "trashed_at",
    "purged_at",
    "content_created_at",
    "content_modified_at",
    "owned_by",
    "shared_link",
    "folder_upload_email",
    "parent",
    "item_status",
    "item_collection",
];

/// The `Folder--Mini` fields, always returned (with `fields`, besides the ones asked for).
const FOLDER_MINI_FIELDS: &[&str] = &["sequence_id", "etag", "name"];

/// `Folder--Full` fields the sandbox can render besides the standard ones.
const FOLDER_FULL_ONLY_FIELDS: &[&str] = &[
    "has_collaborations",
    "is_externally_owned",
    "can_non_owners_invite",
    "can_non_owners_view_collaborators",
    "is_collaboration_restricted_to_enterprise",
    "is_accessible_via_shared_link",
    "is_associated_with_app_item",
    "tags",
];

/// The root folder as a `Folder--Mini` (as Box renders it in `parent` and `path_collection`).
fn all_files() -> Value {
    json!({"type": "folder", "id": "0", "sequence_id": null, "etag": null, "name": "All Files"})
}

/// A `File--Mini` or `Folder--Mini` entry of an `item_collection`.
fn item_mini(state: &TenantState, item: Item) -> Value {
    match item {
        Item::File(id) => json!({
            "type": "file",
            "id": id.to_string(),
            "sequence_id": "0",
            "etag": "0",
            "name": file_names(id).0,
        }),
        Item::Folder(id) => json!({
            "type": "folder",
            "id": id.to_string(),
            "sequence_id": "0",
            "etag": "0",
            "name": state.folders.get(&id).map_or("", |f| f.name.as_str()),
        }),
    }
}

/// How many entries an `item_collection` shows (Box's default page of a folder's items).
const ITEM_COLLECTION_LIMIT: usize = 100;

/// A folder made by a transfer, as `Folder--Full` with the requested fields.
fn render_folder(state: &TenantState, folder_id: u64, owner: u64, fields: &[&str]) -> Value {
    let Some(folder) = state.folders.get(&folder_id) else {
        return json!({"type": "folder", "id": folder_id.to_string()});
    };
    let owner = user_mini(state, owner);
    let at = box_time(folder.created_at);
    let mut m = Map::new();
    m.insert("type".into(), "folder".into());
    m.insert("id".into(), folder_id.to_string().into());
    for field in fields {
        let value = match *field {
            "sequence_id" | "etag" => "0".into(),
            "name" => folder.name.clone().into(),
            "created_at" | "modified_at" | "content_created_at" | "content_modified_at" => {
                at.clone().into()
            }
            "description" => "".into(),
            "size" => folder
                .items
                .iter()
                .map(|i| state.item_size(*i))
                .sum::<i64>()
                .into(),
            "path_collection" => json!({"total_count": 1, "entries": [all_files()]}),
            "created_by" | "modified_by" | "owned_by" => owner.clone(),
            "trashed_at" | "purged_at" | "shared_link" | "folder_upload_email" => Value::Null,
            "parent" => all_files(),
            "item_status" => "active".into(),
            "item_collection" => {
                let mut items: Vec<Value> =
                    folder.items.iter().map(|i| item_mini(state, *i)).collect();
                // The order the collection declares: by type, then by name.
                items.sort_by(|a, b| {
                    (a["type"].as_str(), a["name"].as_str(), a["id"].as_str()).cmp(&(
                        b["type"].as_str(),
                        b["name"].as_str(),
                        b["id"].as_str(),
                    ))
                });
                let total = items.len();
                items.truncate(ITEM_COLLECTION_LIMIT);
                json!({
                    "total_count": total,
                    "entries": items,
                    "offset": 0,
                    "limit": ITEM_COLLECTION_LIMIT,
                    "order": [
                        {"by": "type", "direction": "ASC"},
                        {"by": "name", "direction": "ASC"},
                    ],
                })
            }
            "has_collaborations"
            | "is_externally_owned"
            | "is_collaboration_restricted_to_enterprise"
            | "is_accessible_via_shared_link"
            | "is_associated_with_app_item" => false.into(),
            "can_non_owners_invite" | "can_non_owners_view_collaborators" => true.into(),
            "tags" => json!([]),
            _ => continue,
        };
        m.insert((*field).into(), value);
    }
    Value::Object(m)
}

/// The destination user id of a transfer body `{"owned_by": {"id": "<user id>"}}`.
fn transfer_destination(body: &[u8]) -> Result<String, ClientError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        ClientError::bad_param(
            "body",
            "The request body must be a JSON object {\"owned_by\": {\"id\": \"<user id>\"}}",
        )
    })?;
    let Some(owned_by) = value.get("owned_by") else {
        return Err(ClientError::bad_param("owned_by", "'owned_by' is required"));
    };
    match owned_by.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => Ok(id.trim().to_string()),
        Some(Value::String(_)) | None => Err(ClientError::bad_param(
            "owned_by.id",
            "'owned_by.id' is required",
        )),
        Some(other) => Err(ClientError::bad_param(
            "owned_by.id",
            format!("Invalid value '{other}'. 'owned_by.id' must be a string"),
        )),
    }
}

/// Moves everything the user owns into a new folder `"<name>'s Files and Folders"` owned by
/// `owned_by.id`; 200 with the folder (`Folder--Full`). Not idempotent: a second call makes
/// another (empty) folder. Errors, in order: unknown / deleted source → 404 `not_found`
/// (`context_info.errors[0].name` = `user`); no / malformed body, no `owned_by.id` → 400
/// `bad_request`; unknown / deleted destination → 404 `not_found` (name `owned_by.id`); source
/// = destination → 400 `bad_request`.
async fn transfer_folder(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    q: Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut state = authorized(&app, &headers)?;
    let _notify = bool_param(&q, "notify")?;
    let fields = select_fields(
        q.get("fields"),
        FOLDER_STANDARD_FIELDS,
        FOLDER_FULL_ONLY_FIELDS,
        FOLDER_MINI_FIELDS,
    );
    let from = current_user_id(&state, &user_id, "user")?;
    let dest = transfer_destination(&body)?;
    let to = current_user_id(&state, &dest, "owned_by.id")?;
    if from == to {
        return Err(ClientError::bad_param(
            "owned_by.id",
            format!(
                "Invalid value '{dest}'. Content cannot be transferred to the user who owns it"
            ),
        )
        .into());
    }
    let folder_id = state.transfer(from, to, now_secs());
    Ok(Json(render_folder(&state, folder_id, to, &fields)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Events

/// Where a page of the stream starts.
#[derive(Debug, Clone, Copy)]
enum StreamPosition {
    Start,
    Now,
    /// After the event with this `(at, seq)` key.
    After((i64, u32)),
}

/// Stream positions are decimal strings (like Box's) encoding the `(at, seq)` key of the last
/// event scanned: `at << 32 | seq`.
fn encode_position(key: (i64, u32)) -> String {
    let at = u64::try_from(key.0).unwrap_or(0);
    ((at << 32) | u64::from(key.1)).to_string()
}

fn parse_position(raw: Option<&str>) -> Result<StreamPosition, ClientError> {
    match raw.map(str::trim) {
        None | Some("") | Some("0") => Ok(StreamPosition::Start),
        Some("now") => Ok(StreamPosition::Now),
        Some(s) => s
            .parse::<u64>()
            .ok()
            .and_then(|v| Some((i64::try_from(v >> 32).ok()?, (v & 0xFFFF_FFFF) as u32)))
            .map(StreamPosition::After)
            .ok_or_else(|| {
                ClientError::bad_param(
                    "stream_position",
                    format!(
                        "Invalid value '{s}'. 'stream_position' is not a valid stream position"
                    ),
                )
            }),
    }
}

/// Whole seconds at or after `t` (event times have second precision).
fn ceil_secs(t: DateTime<Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

fn user_mini(state: &TenantState, id: u64) -> Value {
    match state.any_user(id) {
        Some(u) => json!({"type": "user", "id": u.id, "name": u.name, "login": u.login}),
        None => json!({"type": "user", "id": id.to_string(), "name": "Unknown user", "login": ""}),
    }
}

fn render_event(e: &EventRec, state: &TenantState) -> Value {
    let source = match e.source {
        SourceRef::User(id) => user_mini(state, id),
        SourceRef::File(file_id) => {
            let (name, folder_id, folder) = file_names(file_id);
            json!({
                "item_type": "file",
                "item_id": file_id.to_string(),
                "item_name": name,
                "parent": {
                    "type": "folder",
                    "id": folder_id.to_string(),
                    "sequence_id": "0",
                    "etag": "0",
                    "name": folder,
                },
                "owned_by": user_mini(state, e.user),
            })
        }
    };
    json!({
        "type": "event",
        "event_id": format_event_id(e.id),
        "created_at": box_time(from_secs(e.at)),
        "created_by": user_mini(state, e.user),
        "event_type": state.event_type_name(e.etype),
        "session_id": null,
        "source": source,
        "additional_details": null,
        "ip_address": std::net::Ipv4Addr::from(e.ip).to_string(),
        "action_by": null,
    })
}

async fn events(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Params,
) -> Result<Response, ApiError> {
    let state = authorized(&app, &headers)?;

    let stream_type = q
        .get("stream_type")
        .filter(|s| !s.is_empty())
        .unwrap_or("all");
    if stream_type != "admin_logs" {
        return Err(ClientError::bad_param(
            "stream_type",
            format!("Invalid value '{stream_type}'. The provider sandbox serves only 'admin_logs'"),
        )
        .into());
    }
    let limit = limit_param(&q, EVENTS_DEFAULT_LIMIT, EVENTS_MAX_LIMIT)?;
    let created_after = time_param(&q, "created_after")?;
    let created_before = time_param(&q, "created_before")?;
    let given_position = q
        .get("stream_position")
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let position = parse_position(given_position)?;
    // event_type: a mask over the interned types; names the tenant never saw match nothing.
    let type_mask: Option<Vec<bool>> = q.get("event_type").filter(|t| !t.is_empty()).map(|list| {
        let mut mask = vec![false; state.event_type_count()];
        for id in list
            .split(',')
            .filter_map(|t| state.event_type_id(t.trim()))
        {
            mask[usize::from(id)] = true;
        }
        mask
    });

    let all = &state.events;
    let after = match position {
        StreamPosition::Start => None,
        StreamPosition::After(key) => Some(key),
        StreamPosition::Now => {
            let latest = all
                .last()
                .map_or_else(|| "0".to_string(), |e| encode_position(e.key()));
            return Ok(Json(
                json!({"chunk_size": 0, "next_stream_position": latest, "entries": []}),
            )
            .into_response());
        }
    };

    // The window is [created_after, created_before).
    let range = window(
        all,
        created_after.map(ceil_secs),
        created_before.map(ceil_secs),
        after,
    );
    let matches = |e: &EventRec| {
        type_mask
            .as_ref()
            .is_none_or(|mask| mask.get(usize::from(e.etype)).copied().unwrap_or(false))
    };
    let Page {
        items: entries,
        last,
        ..
    } = page(all, range, usize::MAX, limit, |e| {
        matches(e).then(|| render_event(e, &state))
    });
    let next = match (entries.is_empty(), last) {
        (false, Some(key)) => encode_position(key),
        _ => given_position.unwrap_or("0").to_string(),
    };
    let body =
        json!({"chunk_size": entries.len(), "next_stream_position": next, "entries": entries});
    Ok(Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        let m = encode_marker(10_000_123);
        assert_eq!(decode_marker(&m), Some(10_000_123));
        assert!(!m.contains("10000123"), "markers are opaque");
        assert_eq!(decode_marker("garbage!"), None);
        assert_eq!(decode_marker(&b64url_encode(b"{}")), None);
    }

    #[test]
    fn positions_round_trip() {
        let key = (1_700_000_000, 42);
        let pos = encode_position(key);
        assert!(matches!(parse_position(Some(&pos)), Ok(StreamPosition::After(k)) if k == key));
        assert!(matches!(
            parse_position(Some("0")),
            Ok(StreamPosition::Start)
        ));
        assert!(matches!(parse_position(None), Ok(StreamPosition::Start)));
        assert!(matches!(
            parse_position(Some("now")),
            Ok(StreamPosition::Now)
        ));
        assert!(parse_position(Some("abc")).is_err());
        assert!(parse_position(Some("-5")).is_err());
    }

    #[test]
    fn fields_parse() {
        assert_eq!(Fields::parse(None).0, STANDARD_FIELDS);
        assert_eq!(Fields::parse(Some("")).0, STANDARD_FIELDS);
        assert_eq!(
            Fields::parse(Some("role, login,bogus,id,type,role")).0,
            vec!["role", "login"]
        );
    }
}
