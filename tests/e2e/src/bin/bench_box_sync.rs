//! Benchmark driver: runs box-sync's handler once, exactly as the Lambda does (same config from
//! the environment contract, same clients, same handler), without the Lambda runtime loop, so
//! `/usr/bin/time -v` measures the sync alone. `infra/bench-box-sync.sh` starts moto and a
//! sandbox tenant, creates the profile, and runs this twice (first sync, unchanged re-sync).
//!
//! usage: bench_box_sync <profile-id>
use std::time::Instant;

use seatkeeper::handlers::sync::handle;
use seatkeeper::wiring::{box_sync, AwsClients};
use seatkeeper::Config;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let profile = std::env::args()
        .nth(1)
        .ok_or("usage: bench_box_sync <profile-id>")?;
    let config = Config::from_env()?;
    let aws = AwsClients::from_env().await;
    let sync = box_sync(&config, &aws)?;
    let started = Instant::now();
    let report = handle(&sync, serde_json::json!({ "profile": profile })).await?;
    let wall = started.elapsed();
    for o in &report.profiles {
        for t in &o.tasks {
            println!(
                "{:<24} {:?} {:>7} ms  pages {:>4}  api calls {:>4}  seats seen {:>6} new {:>6} changed {:>6} removed {:>4}  events {:>7}  items written {:>6}",
                t.task.label(),
                t.status,
                t.duration_ms.unwrap_or(0),
                t.counts.pages,
                t.counts.api_calls,
                t.counts.seats_seen,
                t.counts.seats_new,
                t.counts.seats_changed,
                t.counts.seats_removed,
                t.counts.events_read,
                t.counts.items_written
            );
        }
    }
    println!("sync wall time: {:.2} s", wall.as_secs_f64());
    Ok(())
}
