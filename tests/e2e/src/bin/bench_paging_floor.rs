//! The paging floor of the sync benchmarks (docs/benchmarks.md): the provider pages a sync of
//! the profile would fetch, fetched through the same `Directory` adapter (wiring's provider
//! adapters, credentials from Secrets Manager), with no DynamoDB writes: access check, the
//! activity window the sync would read now (since the profile's checkpoint less the overlap, or
//! the backfill window on a first sync, until now), the whole roster, purchased seats. Activity
//! then roster, one after the other, as the sync needs them (the roster is reconciled with the
//! logins read before it).
//!
//! usage: bench_paging_floor --provider box|dropbox --profile P
//!
//! Run it just before the sync it is the floor of, so it reads the same checkpoint. Prints one
//! JSON line: `{"pages","activity_pages","roster_pages","api_calls","seats","window_start",
//! "window_end","wall_s"}`; exit status 2 with a message on stderr on any error.
use std::time::Instant;

use chrono::Utc;
use futures::{pin_mut, StreamExt};
use seatkeeper::domain::activity::window_start;
use seatkeeper::domain::Provider;
use seatkeeper::http::ApiStats;
use seatkeeper::ports::{Directory, ProfileRepo, ProviderAccess, Repos, RunRepo, Window};
use seatkeeper::wiring::{provider_adapters, store, AwsClients};
use seatkeeper::Config;

const USAGE: &str = "usage: bench_paging_floor --provider box|dropbox --profile P";

fn parse_args() -> Result<(Provider, String), String> {
    let mut provider = None;
    let mut profile = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--provider" => {
                provider = Some(match value("--provider")?.as_str() {
                    "box" => Provider::Box,
                    "dropbox" => Provider::Dropbox,
                    other => return Err(format!("unknown provider {other:?}\n{USAGE}")),
                })
            }
            "--profile" => profile = Some(value("--profile")?),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok((
        provider.ok_or(format!("--provider is required\n{USAGE}"))?,
        profile.ok_or(format!("--profile is required\n{USAGE}"))?,
    ))
}

#[tokio::main]
async fn main() {
    let result = match parse_args() {
        Ok((provider, profile)) => run(provider, &profile).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("bench_paging_floor: {e}");
            std::process::exit(2);
        }
    }
}

async fn run(provider: Provider, profile_id: &str) -> Result<serde_json::Value, String> {
    let config = Config::from_env().map_err(|e| format!("configuration: {e}"))?;
    let aws = AwsClients::from_env().await;
    let repos = store(&config, &aws);
    let adapters = provider_adapters(&config, &aws).map_err(|e| format!("start-up: {e}"))?;
    let profile = repos
        .profiles()
        .get(profile_id)
        .await
        .map_err(|e| format!("reading profile {profile_id}: {e}"))?
        .ok_or(format!("no profile {profile_id}"))?;
    if profile.provider != provider {
        return Err(format!(
            "profile {profile_id} is a {} profile",
            profile.provider.as_str()
        ));
    }

    let started = Instant::now();
    let now = Utc::now();
    let stats = ApiStats::until(None);
    let directory = adapters
        .directory(&profile)
        .await
        .map_err(|e| format!("provider access: {e}"))?;
    directory
        .check_access(&stats)
        .await
        .map_err(|e| format!("access check: {e}"))?;

    // The window the sync would read now.
    let scope = profile.rules.activity;
    let checkpoint = repos
        .runs()
        .get_checkpoint(&profile.id, directory.activity_stream(scope))
        .await
        .map_err(|e| format!("reading the checkpoint: {e}"))?;
    let backfill = profile
        .backfill_days
        .unwrap_or(config.default_backfill_days);
    let window = Window {
        start: window_start(checkpoint.as_ref(), backfill, now),
        end: now,
    };

    let mut activity_pages = 0u64;
    {
        let pages = directory.activity(window, scope, None, &stats);
        pin_mut!(pages);
        while let Some(page) = pages.next().await {
            page.map_err(|e| format!("activity page {}: {e}", activity_pages + 1))?;
            activity_pages += 1;
        }
    }
    let mut roster_pages = 0u64;
    let mut seats = 0u64;
    {
        let pages = directory.roster(None, &stats);
        pin_mut!(pages);
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| format!("roster page {}: {e}", roster_pages + 1))?;
            roster_pages += 1;
            seats += page.seats.len() as u64;
        }
    }
    directory
        .purchased_seats(&stats)
        .await
        .map_err(|e| format!("purchased seats: {e}"))?;
    let wall = started.elapsed().as_secs_f64();
    let s = stats.snapshot();
    Ok(serde_json::json!({
        "pages": activity_pages + roster_pages,
        "activity_pages": activity_pages,
        "roster_pages": roster_pages,
        "api_calls": s.api_calls,
        "seats": seats,
        "window_start": window.start.to_rfc3339(),
        "window_end": window.end.to_rfc3339(),
        "wall_s": (wall * 1000.0).round() / 1000.0,
    }))
}
