//! The HTTP application: provider routes behind the stats + fault layer, and the control API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::box_api;
use crate::control;
use crate::dropbox_api;
use crate::dropbox_team::DropboxTeamHandle;
use crate::faults::{FaultHandle, FaultKind, Route};
use crate::stats::{RecordedRequest, StatsHandle};
use crate::tenant::BoxTenantHandle;
use crate::util::{dropbox_request_id, request_id};

/// What every handler can reach.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub tenant: BoxTenantHandle,
    pub dropbox: DropboxTeamHandle,
    pub faults: FaultHandle,
    pub stats: StatsHandle,
    /// Every provider request is answered this many ms late (0: at once); `--latency-ms`.
    pub latency_ms: Arc<AtomicU64>,
}

pub(crate) fn router(state: AppState) -> Router {
    // Provider routes (`/box/...`, `/dropbox/...`) are counted and can be faulted; the control
    // API (`/_sandbox/...`) is neither.
    let providers = box_api::router()
        .merge(dropbox_api::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            provider_layer,
        ))
        .with_state(state.clone());
    providers
        .merge(control::router().with_state(state))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not a provider sandbox route\n") })
}

async fn provider_layer(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let route = Route::classify(req.method(), req.uri().path());
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();

    // The network latency of a real provider: each request sleeps on its own (concurrent
    // requests are not serialised), before its fault rule or handler runs.
    let latency = app.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
        app.stats.record_delay(latency);
    }

    let fault = app.faults.next_fault(route);
    let replacement = |kind: &FaultKind| {
        if route.is_dropbox() {
            dropbox_api::fault_response(kind, route)
        } else {
            box_api::fault_response(kind)
        }
    };
    let response = match &fault {
        None => next.run(req).await,
        Some(kind) => match replacement(kind) {
            Some(response) => response,
            None => match kind {
                FaultKind::Slow { millis } => {
                    tokio::time::sleep(std::time::Duration::from_millis(*millis)).await;
                    next.run(req).await
                }
                FaultKind::DropField { field } => {
                    rewrite_body(next.run(req).await, |body| {
                        let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
                        v.as_object_mut()?.remove(field);
                        serde_json::to_vec(&v).ok()
                    })
                    .await
                }
                FaultKind::ReplaceInBody { from, to } => {
                    rewrite_body(next.run(req).await, |body| {
                        let text = std::str::from_utf8(body).ok()?;
                        Some(text.replace(from.as_str(), to).into_bytes())
                    })
                    .await
                }
                _ => truncate_body(next.run(req).await).await,
            },
        },
    };
    let mut response = response;
    if route.is_dropbox() {
        if let Ok(id) = HeaderValue::from_str(&dropbox_request_id()) {
            response.headers_mut().insert("x-dropbox-request-id", id);
        }
    } else if let Ok(id) = HeaderValue::from_str(&request_id()) {
        // Box names every API response with a `box-request-id` header (for support tickets)
        response.headers_mut().insert("box-request-id", id);
    }
    let status = response.status().as_u16();
    tracing::debug!(%method, %path, %query, status, ?fault, "provider request");
    app.stats.record(RecordedRequest {
        route,
        method,
        path,
        query,
        status,
    });
    response
}

/// The same response with its body rewritten by `f` (unchanged when `f` gives `None`).
async fn rewrite_body(response: Response, f: impl FnOnce(&[u8]) -> Option<Vec<u8>>) -> Response {
    let (mut parts, body) = response.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => {
            parts.headers.remove(CONTENT_LENGTH);
            let out = f(&bytes).unwrap_or_else(|| bytes.to_vec());
            Response::from_parts(parts, Body::from(out))
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The same response with only the first half of its body.
async fn truncate_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => {
            parts.headers.remove(CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
