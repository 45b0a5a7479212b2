//! Provider sandbox: an HTTP server that imitates the provider endpoints seatkeeper uses, with
//! the request and response shapes of the official specs, generated tenants of any size and
//! fault injection. Integration tests start it in-process ([`Sandbox::start`]); the local demo
//! runs the `provider-sandbox` binary.
//!
//! Box (under `/box`): `POST /box/oauth2/token`, `GET /box/2.0/users`,
//! `GET /box/2.0/users/{user_id}`, `GET /box/2.0/events?stream_type=admin_logs`. Point
//! seatkeeper's `BOX_API_URL` at [`Sandbox::box_api_url`] and `BOX_TOKEN_URL` at
//! [`Sandbox::box_token_url`].
//!
//! The control API (`/_sandbox/...`, see the `control` module docs) exposes the handles over HTTP.
//!
//! The Box response shapes follow the Box OpenAPI spec (Apache-2.0, Copyright Box, Inc.); the
//! spec excerpts and SDK fixtures the tests check against are in `tests/fixtures/box/` with
//! their license.

#![forbid(unsafe_code)]

mod app;
mod box_api;
mod control;
mod faults;
mod stats;
mod tenant;
mod util;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{FaultHandle, FaultKind, FaultRule, Route};
pub use stats::{RecordedRequest, StatsHandle, MAX_RECORDED_REQUESTS};
pub use tenant::{
    BoxEvent, BoxTenantHandle, BoxTenantSpec, BoxUser, NewBoxUser, FIRST_USER_ID,
    SERVICE_ACCOUNT_ID,
};

/// How to start a [`Sandbox`].
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Loopback only. Default `127.0.0.1:0` (a free port).
    pub bind: SocketAddr,
    pub box_tenant: BoxTenantSpec,
    /// Lifetime of issued Box access tokens. Default 3600.
    pub box_token_ttl_secs: u64,
}

impl Default for SandboxConfig {
    /// A free loopback port, a 100-user Box tenant from seed 42, one-hour tokens.
    fn default() -> Self {
        SandboxConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            box_tenant: BoxTenantSpec::new(100, 42),
            box_token_ttl_secs: 3600,
        }
    }
}

/// A running sandbox. Dropping it (or [`Sandbox::shutdown`]) stops the server.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    tenant: BoxTenantHandle,
    faults: FaultHandle,
    stats: StatsHandle,
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
        let tenant = tokio::task::spawn_blocking(move || BoxTenantHandle::generate(&spec, ttl))
            .await
            .map_err(io::Error::other)?;
        let state = app::AppState {
            tenant: tenant.clone(),
            faults: FaultHandle::default(),
            stats: StatsHandle::default(),
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
            faults: state.faults,
            stats: state.stats,
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

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn box_tenant(&self) -> BoxTenantHandle {
        self.tenant.clone()
    }

    pub fn faults(&self) -> FaultHandle {
        self.faults.clone()
    }

    pub fn stats(&self) -> StatsHandle {
        self.stats.clone()
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
