//! The control API (JSON over HTTP, under `/_sandbox`) that drives a standalone sandbox the way
//! the handles drive an in-process one.
//!
//! | request | body | answer |
//! | --- | --- | --- |
//! | `POST /_sandbox/faults` | a [`FaultRule`] | 201, the rule |
//! | `DELETE /_sandbox/faults` | | 204 |
//! | `GET /_sandbox/stats` | | `{"calls": {"box_token": n, "box_users": n, "box_events": n, "box_transfer": n, "box_delete_user": n, ..., "any": n}, "requests": n, "latency_ms": n, "delayed_requests": n, "delayed_ms": n}` (delays: `--latency-ms`) |
//! | `DELETE /_sandbox/stats` | | 204 |
//! | `GET /_sandbox/box/users` | | every user ([`crate::BoxUser`]) |
//! | `POST /_sandbox/box/users` | a [`NewBoxUser`] | 201, the user; 409 if the login is taken |
//! | `DELETE /_sandbox/box/users/{id}` | | 204, or 404 |
//! | `POST /_sandbox/box/events` | `{"user_id", "event_type", "created_at"}` | 201, `{"event_id"}` |
//! | `POST /_sandbox/box/expire-tokens` | | 204 |
//! | `GET /_sandbox/box/users/{id}/items` | | `{"items": ["<item id>", ...]}` ([`crate::BoxTenantHandle::owned_items`]), or 404 |
//! | `PUT /_sandbox/box/users/{id}/items` | `{"count": n}` | 204 ([`crate::BoxTenantHandle::set_owned_files`]), or 404 |
//! | `GET /_sandbox/box/transfers` | | every transfer ([`crate::BoxTransfer`]), in order |
//! | `GET /_sandbox/box/deleted-users` | | ids deleted by `DELETE /users/{id}`, in order |
//! | `GET /_sandbox/dropbox/members` | | every member, removed ones included ([`crate::DropboxMember`]) |
//! | `POST /_sandbox/dropbox/members` | a [`NewDropboxMember`] | 201, the member; 409 if the email is taken |
//! | `DELETE /_sandbox/dropbox/members/{team_member_id}` | | 204 (status `removed`), or 404 |
//! | `POST /_sandbox/dropbox/logins` | `{"team_member_id", "at"}` | 201 `{}`; 404 for an unknown member |
//! | `POST /_sandbox/dropbox/authorizing-admin` | `{"team_member_id"}` | 204, or 404 |
//! | `POST /_sandbox/dropbox/expire-tokens` | | 204: every access token issued so far gets 401 `expired_access_token` |
//! | `POST /_sandbox/dropbox/revoke-tokens` | | 204: every refresh token issued so far is revoked |
//! | `GET /_sandbox/dropbox/members/{team_member_id}/files` | | `{"count": n}`, or 404 |
//! | `PUT /_sandbox/dropbox/members/{team_member_id}/files` | `{"count": n}` | 204, or 404 |
//! | `GET /_sandbox/dropbox/removals` | | every successful `members/remove` ([`crate::DropboxRemoval`]) |
//! | `PUT /_sandbox/dropbox/remove-mode` | a [`RemoveMode`]: `"complete"` or `{"async": {"in_progress_polls": n}}` | 204 |
//!
//! Bad input gets 400 `{"error": "..."}`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::dropbox_team::{NewDropboxMember, RemoveMode};
use crate::faults::{FaultRule, Route};
use crate::tenant::NewBoxUser;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/_sandbox/faults", post(push_fault).delete(clear_faults))
        .route("/_sandbox/stats", get(stats).delete(reset_stats))
        .route("/_sandbox/box/users", get(box_users).post(add_box_user))
        .route("/_sandbox/box/users/{id}", delete(remove_box_user))
        .route("/_sandbox/box/events", post(add_box_event))
        .route("/_sandbox/box/expire-tokens", post(expire_box_tokens))
        .route(
            "/_sandbox/box/users/{id}/items",
            get(box_owned_items).put(set_box_owned_files),
        )
        .route("/_sandbox/box/transfers", get(box_transfers))
        .route("/_sandbox/box/deleted-users", get(box_deleted_users))
        .route(
            "/_sandbox/dropbox/members",
            get(dropbox_members).post(add_dropbox_member),
        )
        .route(
            "/_sandbox/dropbox/members/{id}",
            delete(remove_dropbox_member),
        )
        .route("/_sandbox/dropbox/logins", post(add_dropbox_login))
        .route(
            "/_sandbox/dropbox/authorizing-admin",
            post(set_authorizing_admin),
        )
        .route(
            "/_sandbox/dropbox/expire-tokens",
            post(expire_dropbox_tokens),
        )
        .route(
            "/_sandbox/dropbox/revoke-tokens",
            post(revoke_dropbox_tokens),
        )
        .route(
            "/_sandbox/dropbox/members/{id}/files",
            get(dropbox_owned_files).put(set_dropbox_owned_files),
        )
        .route("/_sandbox/dropbox/removals", get(dropbox_removals))
        .route("/_sandbox/dropbox/suspensions", get(dropbox_suspensions))
        .route("/_sandbox/dropbox/recoveries", get(dropbox_recoveries))
        .route(
            "/_sandbox/dropbox/members/{id}/expire-recovery",
            post(expire_dropbox_recovery),
        )
        .route("/_sandbox/dropbox/remove-mode", put(set_remove_mode))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

fn no_user(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("no user {id}"))
}

fn no_member(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("no member {id}"))
}

/// A JSON request body; anything else is answered 400 `{"error": "invalid JSON body: ..."}`.
struct JsonBody<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        serde_json::from_slice(&body)
            .map(JsonBody)
            .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
    }
}

async fn push_fault(State(app): State<AppState>, JsonBody(rule): JsonBody<FaultRule>) -> Response {
    app.faults.push(rule.clone());
    (StatusCode::CREATED, Json(rule)).into_response()
}

async fn clear_faults(State(app): State<AppState>) -> StatusCode {
    app.faults.clear();
    StatusCode::NO_CONTENT
}

async fn stats(State(app): State<AppState>) -> Json<serde_json::Value> {
    // Keyed by the routes' JSON names (`box_token`, ..., `any`).
    let calls: serde_json::Map<String, serde_json::Value> = Route::ALL
        .into_iter()
        .filter_map(|route| match serde_json::to_value(route) {
            Ok(serde_json::Value::String(name)) => Some((name, app.stats.calls(route).into())),
            _ => None,
        })
        .collect();
    let (delayed, delayed_ms) = app.stats.delayed();
    Json(json!({
        "calls": calls,
        "requests": app.stats.calls(Route::Any),
        "latency_ms": app.latency_ms.load(std::sync::atomic::Ordering::Relaxed),
        "delayed_requests": delayed,
        "delayed_ms": delayed_ms,
    }))
}

async fn reset_stats(State(app): State<AppState>) -> StatusCode {
    app.stats.reset();
    StatusCode::NO_CONTENT
}

async fn box_users(State(app): State<AppState>) -> Response {
    Json(app.tenant.users()).into_response()
}

const ROLES: &[&str] = &["admin", "coadmin", "user"];
const STATUSES: &[&str] = &[
    "active",
    "inactive",
    "cannot_delete_edit",
    "cannot_delete_edit_upload",
];

async fn add_box_user(
    State(app): State<AppState>,
    JsonBody(new): JsonBody<NewBoxUser>,
) -> Response {
    if new.name.trim().is_empty() || !new.login.contains('@') {
        return error(
            StatusCode::BAD_REQUEST,
            "name must not be empty and login must be an email address",
        );
    }
    if !ROLES.contains(&new.role.as_str()) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("role must be one of {ROLES:?}"),
        );
    }
    if !STATUSES.contains(&new.status.as_str()) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("status must be one of {STATUSES:?}"),
        );
    }
    if app
        .tenant
        .users()
        .iter()
        .any(|u| u.login.eq_ignore_ascii_case(&new.login))
    {
        return error(StatusCode::CONFLICT, "user_login_already_used");
    }
    (StatusCode::CREATED, Json(app.tenant.add_user(new))).into_response()
}

async fn remove_box_user(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    if app.tenant.remove_user(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        no_user(&id)
    }
}

#[derive(Deserialize)]
struct NewEvent {
    user_id: String,
    event_type: String,
    created_at: DateTime<Utc>,
}

async fn add_box_event(State(app): State<AppState>, JsonBody(new): JsonBody<NewEvent>) -> Response {
    let well_formed = !new.event_type.is_empty()
        && new
            .event_type
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !well_formed {
        return error(
            StatusCode::BAD_REQUEST,
            "event_type must be a Box event type such as LOGIN",
        );
    }
    let known = {
        let state = app.tenant.lock();
        new.user_id
            .parse::<u64>()
            .ok()
            .and_then(|id| state.any_user(id))
            .is_some()
    };
    if !known {
        return no_user(&new.user_id);
    }
    let event_id = app
        .tenant
        .add_event(&new.user_id, &new.event_type, new.created_at);
    (StatusCode::CREATED, Json(json!({"event_id": event_id}))).into_response()
}

async fn expire_box_tokens(State(app): State<AppState>) -> StatusCode {
    app.tenant.expire_all_tokens();
    StatusCode::NO_CONTENT
}

async fn dropbox_members(State(app): State<AppState>) -> Response {
    Json(app.dropbox.members()).into_response()
}

async fn add_dropbox_member(
    State(app): State<AppState>,
    JsonBody(new): JsonBody<NewDropboxMember>,
) -> Response {
    let well_formed = new.email.contains('@')
        && new.email.len() <= 255
        && !new.given_name.trim().is_empty()
        && !new.surname.trim().is_empty();
    if !well_formed {
        return error(
            StatusCode::BAD_REQUEST,
            "email must be an email address; given_name and surname must not be empty",
        );
    }
    if app.dropbox.lock().email_index(&new.email).is_some() {
        return error(StatusCode::CONFLICT, "email_address_already_used");
    }
    (StatusCode::CREATED, Json(app.dropbox.add_member(new))).into_response()
}

async fn remove_dropbox_member(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    if app.dropbox.remove_member(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        no_member(&format!("{id} (or already removed)"))
    }
}

#[derive(Deserialize)]
struct NewLogin {
    team_member_id: String,
    at: DateTime<Utc>,
}

async fn add_dropbox_login(
    State(app): State<AppState>,
    JsonBody(new): JsonBody<NewLogin>,
) -> Response {
    if app.dropbox.member(&new.team_member_id).is_none() {
        return no_member(&new.team_member_id);
    }
    app.dropbox.add_login(&new.team_member_id, new.at);
    (StatusCode::CREATED, Json(json!({}))).into_response()
}

#[derive(Deserialize)]
struct AuthorizingAdmin {
    team_member_id: String,
}

async fn set_authorizing_admin(
    State(app): State<AppState>,
    JsonBody(admin): JsonBody<AuthorizingAdmin>,
) -> Response {
    if app.dropbox.set_authorizing_admin(&admin.team_member_id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        no_member(&admin.team_member_id)
    }
}

async fn expire_dropbox_tokens(State(app): State<AppState>) -> StatusCode {
    app.dropbox.expire_access_tokens();
    StatusCode::NO_CONTENT
}

async fn revoke_dropbox_tokens(State(app): State<AppState>) -> StatusCode {
    app.dropbox.revoke_refresh_tokens();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Count {
    count: usize,
}

async fn box_owned_items(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    if !app.tenant.has_user(&id) {
        return no_user(&id);
    }
    Json(json!({"items": app.tenant.owned_items(&id)})).into_response()
}

async fn set_box_owned_files(
    State(app): State<AppState>,
    Path(id): Path<String>,
    JsonBody(Count { count }): JsonBody<Count>,
) -> Response {
    if !app.tenant.has_user(&id) {
        return no_user(&id);
    }
    app.tenant.set_owned_files(&id, count);
    StatusCode::NO_CONTENT.into_response()
}

async fn box_transfers(State(app): State<AppState>) -> Response {
    Json(app.tenant.transfers()).into_response()
}

async fn box_deleted_users(State(app): State<AppState>) -> Response {
    Json(app.tenant.deleted_users()).into_response()
}

async fn dropbox_owned_files(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    if app.dropbox.member(&id).is_none() {
        return no_member(&id);
    }
    Json(json!({"count": app.dropbox.files_owned_by(&id)})).into_response()
}

async fn set_dropbox_owned_files(
    State(app): State<AppState>,
    Path(id): Path<String>,
    JsonBody(Count { count }): JsonBody<Count>,
) -> Response {
    if app.dropbox.member(&id).is_none() {
        return no_member(&id);
    }
    app.dropbox.set_owned_files(&id, count);
    StatusCode::NO_CONTENT.into_response()
}

async fn dropbox_removals(State(app): State<AppState>) -> Response {
    Json(app.dropbox.removals()).into_response()
}

async fn dropbox_suspensions(State(app): State<AppState>) -> Response {
    Json(app.dropbox.suspensions()).into_response()
}

async fn dropbox_recoveries(State(app): State<AppState>) -> Response {
    Json(app.dropbox.recoveries()).into_response()
}

/// Ends a removed member's 7-day recovery window now.
async fn expire_dropbox_recovery(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    if app.dropbox.expire_recovery(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::CONFLICT, format!("member {id} is not removed"))
    }
}

async fn set_remove_mode(
    State(app): State<AppState>,
    JsonBody(mode): JsonBody<RemoveMode>,
) -> StatusCode {
    app.dropbox.set_remove_mode(mode);
    StatusCode::NO_CONTENT
}
