//! Benchmark driver: ONE invocation of box-sync or dropbox-sync, exactly as the Lambda runs it
//! (config from the environment contract, the same clients and services from `wiring`), without
//! the Lambda runtime loop, so `/usr/bin/time -v` measures the sync alone.
//!
//! usage: bench_sync --provider box|dropbox --profile P [--invocation-secs N] [--job JSON]
//!
//! With `--invocation-secs N` the run's deadline is now + N s, as a Lambda invocation's would be:
//! a run that reaches it saves where it was and names the job that continues it. `--job` is the
//! sync job (docs/sync-message.md) an earlier invocation handed over; its profile must be P (or
//! it names the profile when `--profile` is left out).
//!
//! Prints one JSON line on stdout:
//! `{"run_id","succeeded","error","continuation": <job or null>,"api_calls","pages",
//!   "items_written","seats_seen","wall_s"}` (counts summed over the run's tasks). A run that did
//! not even start (unknown profile, lease held) prints `succeeded: false` with its error. The
//! exit status is 0 when the line was printed; 2 on a usage or start-up error.
//! `infra/bench-sync.sh` loops: while `continuation` is not null it runs this again, a new
//! process per invocation, with `--job` set to it.
use std::time::{Duration, Instant};

use seatkeeper::domain::{Provider, SyncJob};
use seatkeeper::sync::NoProgress;
use seatkeeper::wiring::{box_sync, dropbox_sync, AwsClients};
use seatkeeper::Config;

const USAGE: &str =
    "usage: bench_sync --provider box|dropbox --profile P [--invocation-secs N] [--job JSON]";

struct Args {
    provider: Provider,
    profile: String,
    invocation_secs: Option<u64>,
    job: Option<SyncJob>,
}

fn parse_args() -> Result<Args, String> {
    let mut provider = None;
    let mut profile = None;
    let mut invocation_secs = None;
    let mut job = None;
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
            "--invocation-secs" => {
                let v = value("--invocation-secs")?;
                invocation_secs = Some(v.parse::<u64>().map_err(|e| {
                    format!("--invocation-secs {v:?} is not a number of seconds: {e}")
                })?)
            }
            "--job" => {
                let v = value("--job")?;
                job = Some(SyncJob::parse(&v).map_err(|e| format!("--job is not a sync job: {e}"))?)
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let provider = provider.ok_or(format!("--provider is required\n{USAGE}"))?;
    let profile = match (profile, &job) {
        (Some(p), Some(j)) if p != j.profile => {
            return Err(format!(
                "--job is for profile {:?}, not --profile {p:?}",
                j.profile
            ))
        }
        (Some(p), _) => p,
        (None, Some(j)) => j.profile.clone(),
        (None, None) => return Err(format!("--profile is required\n{USAGE}")),
    };
    Ok(Args {
        provider,
        profile,
        invocation_secs,
        job,
    })
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_sync: {e}");
            std::process::exit(2);
        }
    };
    match run(args).await {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("bench_sync: {e}");
            std::process::exit(2);
        }
    }
}

async fn run(args: Args) -> Result<serde_json::Value, String> {
    let config = Config::from_env().map_err(|e| format!("configuration: {e}"))?;
    let aws = AwsClients::from_env().await;
    let sync = match args.provider {
        Provider::Box => box_sync(&config, &aws),
        Provider::Dropbox => dropbox_sync(&config, &aws),
    }
    .map_err(|e| format!("start-up: {e}"))?;
    // the job as the sync function would get it: the continuation, or a fresh one
    let job = args
        .job
        .clone()
        .unwrap_or_else(|| SyncJob::fresh(&args.profile));

    let started = Instant::now();
    let deadline = args
        .invocation_secs
        .map(|s| started + Duration::from_secs(s));
    let outcome = match sync.run_job(&job, &NoProgress, deadline).await {
        Ok(o) => o,
        Err(e) => seatkeeper::sync::ProfileOutcome::not_started(&args.profile, &e),
    };
    let wall = started.elapsed().as_secs_f64();

    let sum = |f: fn(&seatkeeper::domain::TaskCounts) -> u64| -> u64 {
        outcome.tasks.iter().map(|t| f(&t.counts)).sum()
    };
    let continuation = match &outcome.continuation {
        Some(job) => serde_json::to_value(job).map_err(|e| format!("continuation: {e}"))?,
        None => serde_json::Value::Null,
    };
    Ok(serde_json::json!({
        "run_id": outcome.run_id,
        "succeeded": outcome.succeeded,
        "error": outcome.error,
        "continuation": continuation,
        "api_calls": sum(|c| c.api_calls),
        "pages": sum(|c| c.pages),
        "items_written": sum(|c| c.items_written),
        "seats_seen": sum(|c| c.seats_seen),
        "wall_s": (wall * 1000.0).round() / 1000.0,
    }))
}
