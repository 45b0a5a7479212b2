//! Provider sandbox: an HTTP server that imitates the provider endpoints seatkeeper uses, with
//! the request and response shapes of the official specs, generated tenants of any size and
//! fault injection. Integration tests start it in-process ([`Sandbox::start`]); the local demo
//! runs the `provider-sandbox` binary.
//!
//! Box (under `/box`): `POST /box/oauth2/token`, `GET /box/2.0/users`,
//! `GET /box/2.0/users/{user_id}`, `DELETE /box/2.0/users/{user_id}`,
//! `PUT /box/2.0/users/{user_id}/folders/0` (transfer owned content),
//! `GET /box/2.0/events?stream_type=admin_logs`. Point
//! seatkeeper's `BOX_API_URL` at [`Sandbox::box_api_url`] and `BOX_TOKEN_URL` at
//! [`Sandbox::box_token_url`].
//!
//! Dropbox (under `/dropbox`): `GET /dropbox/oauth2/authorize`, `POST /dropbox/oauth2/token`,
//! and the RPC routes `POST /dropbox/2/team/get_info`, `.../team/token/get_authenticated_admin`,
//! `.../team/members/list_v2`, `.../team/members/list/continue_v2`,
//! `.../team/members/get_info_v2`, `.../team/members/remove`,
//! `.../team/members/remove/job_status/get`, `.../team_log/get_events`,
//! `.../team_log/get_events/continue`.
//! Point `DROPBOX_API_URL` at [`Sandbox::dropbox_api_url`], `DROPBOX_AUTHORIZE_URL` at
//! [`Sandbox::dropbox_authorize_url`] and `DROPBOX_TOKEN_URL` at [`Sandbox::dropbox_token_url`].
//!
//! The control API (`/_sandbox/...`, see the `control` module docs) exposes the handles over HTTP.
//!
//! ## Adding an endpoint
//!
//! Every route under `/box` and `/dropbox` goes through the provider layer (`app.rs`), which
//! counts it, applies fault rules and adds the request-id header: handlers do none of that.
//!
//! - **Box** (`box_api.rs`): a `.route(...)` line in `box_api::router` and a handler
//!   `async fn h(State(app): State<AppState>, headers: HeaderMap, q: Params) ->
//!   Result<Response, ApiError>` that starts with `let state = authorized(&app, &headers)?;`
//!   (the lock and the 401). Parameters: `int_param`, `limit_param`, `bool_param`,
//!   `time_param`, `select_fields`; errors: `ClientError::bad_param`, `not_found`,
//!   `with_message`, `for_status`.
//! - **Dropbox RPC** (`dropbox_api.rs`): a row `(name, scope, handler)` in `RPC_ROUTES` and a
//!   `fn h(team: &mut TeamState, Call { arg, .. }: Call) -> Result<Value, CallError>`; the
//!   method, content type, token and scope are checked before it runs. Arguments:
//!   `struct_arg`, `limit_field`, `bool_field`, `string_field`, `user_selector`, `void_union`
//!   (`call.void()` for a Void route); refusals: `CallError::arg` (400), `CallError::route`
//!   (409).
//! - **Its own fault rules and call counts**: a `Route` variant, its line in `Route::classify`
//!   and its entry in `Route::ALL` (`GET /_sandbox/stats` lists it from there).
//! - **Control API** (`control.rs`): a `.route(...)` line and a handler that takes its body as
//!   `JsonBody<T>` (a bad body is answered 400 before it runs).
//!
//! Generated data comes from `generate.rs` (names, join and sign-in times, event logs), shared
//! by the Box tenant (`tenant.rs`) and the Dropbox team (`dropbox_team.rs`); an event-log route
//! pages with `generate::window` (the time window after a position) and `generate::page`.
//!
//! The Box response shapes follow the Box OpenAPI spec (Apache-2.0, Copyright Box, Inc.); the
//! spec excerpts and SDK fixtures the tests check against are in `tests/fixtures/box/` with
//! their license. The Dropbox shapes follow the Dropbox Stone spec (MIT, Copyright (c) 2020
//! Dropbox Inc.); the type table and examples the tests check against are in
//! `tests/fixtures/dropbox/` with its license, and `src/dropbox_names.rs` is generated from it.

#![forbid(unsafe_code)]

mod app;
mod box_api;
mod control;
mod dropbox_api;
mod dropbox_names;
mod dropbox_team;
mod faults;
mod generate;
mod stats;
mod tenant;
mod util;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use dropbox_api::session_id as dropbox_session_id;
pub use dropbox_team::team_member_id as dropbox_team_member_id;
pub use dropbox_team::{
    DropboxApp, DropboxEvent, DropboxMember, DropboxMemberStatus, DropboxMembershipType,
    DropboxRemoval, DropboxRole, DropboxSecondaryEmail, DropboxSession, DropboxSuspension,
    DropboxTeamHandle, DropboxTeamSpec, NewDropboxMember, RemoveMode, DEFAULT_EVENTS_SCAN_BUDGET,
    RECLAIM_APP_SCOPES, SYNC_APP_SCOPES,
};
pub use faults::{FaultHandle, FaultKind, FaultRule, Route};
pub use stats::{RecordedRequest, StatsHandle, MAX_RECORDED_REQUESTS};
pub use tenant::{
    BoxEvent, BoxTenantHandle, BoxTenantSpec, BoxTransfer, BoxUser, NewBoxUser,
    ACTIVITY_EVENT_TYPES as BOX_ACTIVITY_EVENT_TYPES, FIRST_USER_ID, SERVICE_ACCOUNT_ID,
};

/// How to start a [`Sandbox`].
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Loopback only. Default `127.0.0.1:0` (a free port).
    pub bind: SocketAddr,
    pub box_tenant: BoxTenantSpec,
    /// Lifetime of issued Box access tokens. Default 3600.
    pub box_token_ttl_secs: u64,
    pub dropbox_team: DropboxTeamSpec,
    /// Lifetime of issued Dropbox access tokens (`expires_in`). Default 14400 (4 h, like
    /// Dropbox's short-lived tokens).
    pub dropbox_token_ttl_secs: u64,
}

impl Default for SandboxConfig {
    /// A free loopback port, a 100-user Box tenant and a 50-member Dropbox team from seed 42,
    /// one-hour Box and four-hour Dropbox tokens.
    fn default() -> Self {
        SandboxConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            box_tenant: BoxTenantSpec::new(100, 42),
            box_token_ttl_secs: 3600,
            dropbox_team: DropboxTeamSpec::new(50, 42),
            dropbox_token_ttl_secs: 14_400,
        }
    }
}

/// A running sandbox. Dropping it (or [`Sandbox::shutdown`]) stops the server.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    tenant: BoxTenantHandle,
    dropbox: DropboxTeamHandle,
    faults: FaultHandle,
    stats: StatsHandle,
    latency_ms: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Sandbox {
    /// Generates the tenant, binds and starts serving. Must be called inside a Tokio runtime.
    pub async fn start(config: SandboxConfig) -> io::Result<Sandbox> {
        if !config.bind.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the provider sandbox binds loopback addresses only, not {}",
                    config.bind
                ),
            ));
        }
        let spec = config.box_tenant;
        let ttl = Duration::from_secs(config.box_token_ttl_secs);
        let team_spec = config.dropbox_team;
        let team_ttl = Duration::from_secs(config.dropbox_token_ttl_secs);
        let (tenant, dropbox) = tokio::task::spawn_blocking(move || {
            (
                BoxTenantHandle::generate(&spec, ttl),
                DropboxTeamHandle::generate(&team_spec, team_ttl),
            )
        })
        .await
        .map_err(io::Error::other)?;
        let state = app::AppState {
            tenant: tenant.clone(),
            dropbox: dropbox.clone(),
            faults: FaultHandle::default(),
            stats: StatsHandle::default(),
            latency_ms: Arc::new(AtomicU64::new(0)),
        };
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let router = app::router(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%addr, "provider sandbox listening");
        Ok(Sandbox {
            addr,
            tenant,
            dropbox,
            faults: state.faults,
            stats: state.stats,
            latency_ms: state.latency_ms,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `{url}/box/2.0` (seatkeeper's `BOX_API_URL`).
    pub fn box_api_url(&self) -> String {
        format!("{}/box/2.0", self.url())
    }

    /// `{url}/box/oauth2/token` (seatkeeper's `BOX_TOKEN_URL`).
    pub fn box_token_url(&self) -> String {
        format!("{}/box/oauth2/token", self.url())
    }

    /// `{url}/dropbox` (seatkeeper's `DROPBOX_API_URL`; RPC routes are at `{this}/2/<route>`).
    pub fn dropbox_api_url(&self) -> String {
        format!("{}/dropbox", self.url())
    }

    /// `{url}/dropbox/oauth2/authorize` (seatkeeper's `DROPBOX_AUTHORIZE_URL`).
    pub fn dropbox_authorize_url(&self) -> String {
        format!("{}/dropbox/oauth2/authorize", self.url())
    }

    /// `{url}/dropbox/oauth2/token` (seatkeeper's `DROPBOX_TOKEN_URL`).
    pub fn dropbox_token_url(&self) -> String {
        format!("{}/dropbox/oauth2/token", self.url())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn box_tenant(&self) -> BoxTenantHandle {
        self.tenant.clone()
    }

    pub fn dropbox_team(&self) -> DropboxTeamHandle {
        self.dropbox.clone()
    }

    pub fn faults(&self) -> FaultHandle {
        self.faults.clone()
    }

    pub fn stats(&self) -> StatsHandle {
        self.stats.clone()
    }

    /// Delays every provider request (not the `/_sandbox` control API) by `millis` before it is
    /// answered, each request on its own, like a provider across a network (`--latency-ms`).
    /// Delayed requests are counted in [`StatsHandle::delayed`]. 0 turns it off.
    pub fn set_latency_ms(&self, millis: u64) {
        self.latency_ms.store(millis, Ordering::Relaxed);
    }

    pub fn latency_ms(&self) -> u64 {
        self.latency_ms.load(Ordering::Relaxed)
    }

    /// Stops accepting, lets requests in flight finish (up to 5 s), then returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
