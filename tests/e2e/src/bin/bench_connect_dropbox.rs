//! Benchmark set-up helper: connects a Dropbox profile's credential slot against the provider
//! sandbox the way an admin would, without the oauth-callback Lambda: starts the connect (what
//! `seatctl connect dropbox` does), plays the admin's browser at the sandbox's authorize URL
//! (which approves and redirects back), then hands the redirect's query to the oauth-callback
//! handler. The slot's app must already be stored (`seatctl credentials set-dropbox-app`), and
//! OAUTH_REDIRECT_URL set (any URL: nothing is served there).
//!
//! usage: bench_connect_dropbox --profile P [--slot sync|reclaim]
use std::collections::HashMap;

use chrono::Utc;
use seatkeeper::domain::Slot;
use seatkeeper::handlers::oauth_callback;
use seatkeeper::wiring::{connect_service, AwsClients};
use seatkeeper::Config;

const USAGE: &str = "usage: bench_connect_dropbox --profile P [--slot sync|reclaim]";

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("bench_connect_dropbox: {e}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), String> {
    let mut profile = None;
    let mut slot = Slot::Sync;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match (arg.as_str(), it.next()) {
            ("--profile", Some(v)) => profile = Some(v),
            ("--slot", Some(v)) if v == "sync" => slot = Slot::Sync,
            ("--slot", Some(v)) if v == "reclaim" => slot = Slot::Reclaim,
            _ => return Err(format!("bad argument {arg:?}\n{USAGE}")),
        }
    }
    let profile = profile.ok_or(format!("--profile is required\n{USAGE}"))?;
    let config = Config::from_env().map_err(|e| format!("configuration: {e}"))?;
    let aws = AwsClients::from_env().await;
    let svc = connect_service(&config, &aws).map_err(|e| format!("start-up: {e}"))?;
    let start = svc
        .start(&profile, slot, "bench", Utc::now())
        .await
        .map_err(|e| format!("connect start: {e}"))?;

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("http client: {e}"))?;
    let resp = http
        .get(&start.url)
        .send()
        .await
        .map_err(|e| format!("authorize URL {}: {e}", start.url))?;
    if resp.status().as_u16() != 302 {
        return Err(format!(
            "the authorize URL answered {} instead of redirecting back",
            resp.status()
        ));
    }
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or("the authorize redirect has no Location")?;
    let query: HashMap<String, String> = url::Url::parse(location)
        .map_err(|e| format!("redirect {location:?}: {e}"))?
        .query_pairs()
        .into_owned()
        .collect();
    let page = oauth_callback::handle(&svc, "dropbox", &query, None).await;
    if page.status != 200 {
        return Err(format!(
            "the callback answered {}: {}",
            page.status,
            page.html.chars().take(400).collect::<String>()
        ));
    }
    println!("connected the {slot:?} slot of {profile}");
    Ok(())
}
