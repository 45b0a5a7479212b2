//! Resumable reads against the provider sandbox: for every page of an uninterrupted roster or
//! activity read, a new read from that page's resume token gives exactly the pages that
//! followed it (none repeated, none skipped), and the last page has no token. A token the
//! adapter did not write is refused before any call.
use std::collections::BTreeSet;
use std::fmt::Debug;

use chrono::{Duration, Utc};
use futures::{Stream, TryStreamExt};
use provider_sandbox::Route;
use seatkeeper::domain::{ActivityPage, ActivityScope, Profile};
use seatkeeper::http::{ApiStats, ProviderError};
use seatkeeper::ports::provider::{Directory, ProviderAccess, RosterPage, Window};
use seatkeeper::providers::dropbox_api::Slot;
use seatkeeper::providers::AnyDirectory;
use seatkeeper::wiring;
use seatkeeper_e2e::TestEnv;

async fn directory(env: &TestEnv, profile: &Profile) -> AnyDirectory {
    wiring::provider_adapters(&env.config, &env.aws)
        .expect("adapters")
        .directory(profile)
        .await
        .expect("directory")
}

async fn dropbox_directory(env: &TestEnv) -> AnyDirectory {
    let profile = env.add_dropbox_profile().await;
    let page = env.connect_dropbox(&profile.id, Slot::Sync).await;
    assert_eq!(page.status, 200, "{}", page.html);
    directory(env, &profile).await
}

fn window(env: &TestEnv) -> Window {
    let end = env
        .sandbox
        .box_tenant()
        .now()
        .max(env.sandbox.dropbox_team().now());
    Window {
        start: end - Duration::days(365),
        end: end + Duration::seconds(1),
    }
}

/// What a page says, without its token (a resumed read may be given new provider cursors).
trait Page: Debug {
    type Content: PartialEq + Debug;
    fn content(&self) -> Self::Content;
    fn resume(&self) -> Option<&String>;
}

impl Page for RosterPage {
    type Content = (Vec<String>, u64);
    fn content(&self) -> Self::Content {
        let ids = self.seats.iter().map(|s| s.user_id.clone()).collect();
        (ids, self.not_seats)
    }
    fn resume(&self) -> Option<&String> {
        self.resume.as_ref()
    }
}

impl Page for ActivityPage {
    type Content = (Vec<String>, Option<chrono::DateTime<Utc>>);
    fn content(&self) -> Self::Content {
        let ids = self
            .events
            .iter()
            .map(|e| format!("{} {} {}", e.user_id, e.evidence.event_id, e.evidence.at))
            .collect();
        (ids, self.gap_until)
    }
    fn resume(&self) -> Option<&String> {
        self.resume.as_ref()
    }
}

async fn collect<P>(s: impl Stream<Item = Result<P, ProviderError>>) -> Vec<P> {
    s.try_collect().await.expect("read")
}

/// Reads everything, then resumes from every page's token: each resumed read is the rest of
/// the uninterrupted one. Returns the uninterrupted read's pages.
async fn check_resumes<P, S>(read: impl Fn(Option<String>) -> S, min_pages: usize) -> Vec<P>
where
    P: Page,
    S: Stream<Item = Result<P, ProviderError>>,
{
    let all = collect(read(None)).await;
    assert!(all.len() >= min_pages, "{} pages", all.len());
    check_rest(&all, read, 0).await;
    all
}

/// Resumes from the token of every page of `all` from page `first` on: each resumed read is
/// the rest of `all`, and only the last page has no token.
async fn check_rest<P, S>(all: &[P], read: impl Fn(Option<String>) -> S, first: usize)
where
    P: Page,
    S: Stream<Item = Result<P, ProviderError>>,
{
    let contents: Vec<_> = all.iter().map(Page::content).collect();
    for (k, page) in all.iter().enumerate().skip(first) {
        let Some(token) = page.resume() else {
            assert_eq!(k + 1, all.len(), "only the last page has no token");
            continue;
        };
        let rest = collect(read(Some(token.clone()))).await;
        let got: Vec<_> = rest.iter().map(Page::content).collect();
        assert_eq!(got, contents[k + 1..], "resumed after page {k} ({token})");
        let tokens: Vec<bool> = rest.iter().map(|p| p.resume().is_some()).collect();
        let expected: Vec<bool> = all[k + 1..].iter().map(|p| p.resume().is_some()).collect();
        assert_eq!(tokens, expected, "resumed after page {k}");
    }
    assert!(all.last().and_then(Page::resume).is_none());
}

/// A garbage token (or another read's) is a permanent InvalidInput, made before any call.
async fn assert_refused<P: Debug>(
    env: &TestEnv,
    route: Route,
    read: impl Stream<Item = Result<P, ProviderError>>,
) {
    let before = env.sandbox.stats().calls(route);
    let got: Vec<Result<P, ProviderError>> = futures::StreamExt::collect(read).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let e = got
        .into_iter()
        .next()
        .and_then(Result::err)
        .expect("an error");
    assert!(matches!(e, ProviderError::InvalidInput { .. }), "{e}");
    assert!(!e.is_transient());
    assert_eq!(env.sandbox.stats().calls(route), before, "no call was made");
}

#[tokio::test]
async fn box_roster_resumes_after_every_page() {
    let env = TestEnv::start(2100, 31).await;
    let d = directory(&env, &env.add_box_profile().await).await;
    let stats = ApiStats::default();
    let all = check_resumes(|from| d.roster(from, &stats), 3).await;
    let seen: usize = all
        .iter()
        .map(|p| p.seats.len() + p.not_seats as usize)
        .sum();
    assert_eq!(seen, env.sandbox.box_tenant().users().len());

    for token in [
        "garbage",
        "{\"v\":1}",
        "{\"v\":2,\"read\":\"box_users\",\"at\":{\"marker\":\"x\"}}",
    ] {
        assert_refused(&env, Route::BoxUsers, d.roster(Some(token.into()), &stats)).await;
    }
    // a roster token is no activity token
    let roster_token = all[0].resume.clone();
    let w = window(&env);
    assert_refused(
        &env,
        Route::BoxEvents,
        d.activity(w, ActivityScope::Any, roster_token, &stats),
    )
    .await;
}

#[tokio::test]
async fn box_activity_resumes_after_every_page() {
    let env = TestEnv::start(1500, 32).await;
    let d = directory(&env, &env.add_box_profile().await).await;
    let stats = ApiStats::default();
    let w = window(&env);
    for (scope, min_pages) in [(ActivityScope::Any, 3), (ActivityScope::Logins, 2)] {
        check_resumes(|from| d.activity(w, scope, from, &stats), min_pages).await;
    }
    assert_refused(
        &env,
        Route::BoxEvents,
        d.activity(w, ActivityScope::Any, Some("not json".into()), &stats),
    )
    .await;
}

#[tokio::test]
async fn dropbox_roster_resumes_after_every_page() {
    let env = TestEnv::start_with(5, 2100, 33).await;
    let d = dropbox_directory(&env).await;
    let stats = ApiStats::default();
    let all = check_resumes(|from| d.roster(from, &stats), 3).await;
    let seen: BTreeSet<String> = all
        .iter()
        .flat_map(|p| p.seats.iter().map(|s| s.user_id.clone()))
        .collect();
    let seats: usize = all.iter().map(|p| p.seats.len()).sum();
    assert_eq!(seen.len(), seats, "no member listed twice");
    assert_refused(
        &env,
        Route::DropboxMembers,
        d.roster(
            Some("{\"v\":1,\"read\":\"box_users\",\"at\":{\"marker\":\"x\"}}".into()),
            &stats,
        ),
    )
    .await;
}

/// The stage a Dropbox activity token points into (peeked at only by this test).
fn stage(token: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(token).expect("token is JSON");
    v["at"]["stage"].as_u64().expect("stage")
}

#[tokio::test]
async fn dropbox_activity_resumes_after_every_page_across_stages() {
    let env = TestEnv::start_with(5, 250, 34).await;
    // small team_log pages: each stage takes several
    env.sandbox.dropbox_team().set_events_scan_budget(150);
    let d = dropbox_directory(&env).await;
    let stats = ApiStats::default();
    let w = window(&env);
    for (scope, stages) in [(ActivityScope::Any, 4u64), (ActivityScope::Logins, 1)] {
        let min_pages = usize::try_from(stages).expect("small") + 2;
        let all = check_resumes(|from| d.activity(w, scope, from, &stats), min_pages).await;
        let tokens: Vec<&String> = all.iter().filter_map(|p| p.resume.as_ref()).collect();
        let seen: BTreeSet<u64> = tokens.iter().map(|t| stage(t)).collect();
        assert_eq!(
            seen,
            (0..stages).collect(),
            "{scope:?}: every stage is paged"
        );
        // each stage's last page points at the start of the next one
        let starts = tokens.iter().filter(|t| !t.contains("cursor")).count();
        assert_eq!(
            u64::try_from(starts).expect("small"),
            stages - 1,
            "{scope:?}"
        );
        assert!(all.iter().any(|p| !p.events.is_empty()), "{scope:?}");
    }
    // a token of the wider read names a stage the logins read does not have
    let any = collect(d.activity(w, ActivityScope::Any, None, &stats)).await;
    let devices = any
        .iter()
        .filter_map(|p| p.resume.clone())
        .find(|t| stage(t) == 3)
        .expect("a devices token");
    for token in [devices.as_str(), "", "{\"v\":1,\"read\":\"dropbox_activity\",\"at\":{\"stage\":0,\"cursor\":{\"devices\":{\"cursor\":null,\"restarts\":0}}}}"] {
        assert_refused(
            &env,
            Route::DropboxAny,
            d.activity(w, ActivityScope::Logins, Some(token.into()), &stats),
        )
        .await;
    }
}

#[tokio::test]
async fn dropbox_a_reset_keeps_its_gap_page_and_the_read_resumes_after_it() {
    let env = TestEnv::start_with(5, 120, 35).await;
    let team = env.sandbox.dropbox_team();
    team.set_events_scan_budget(100);
    let d = dropbox_directory(&env).await;
    let stats = ApiStats::default();
    let w = window(&env);
    // the first continue of the read answers `reset`: an empty page that reports the gap
    team.reset_next_events_continue();
    let all = collect(d.activity(w, ActivityScope::Logins, None, &stats)).await;
    let gaps: Vec<usize> = (0..all.len())
        .filter(|&k| all[k].gap_until.is_some())
        .collect();
    assert_eq!(gaps.len(), 1, "one page reports the gap");
    let g = gaps[0];
    assert!(all[g].events.is_empty());
    let token = all[g]
        .resume
        .clone()
        .expect("the read goes on after the gap");
    assert!(token.contains("\"restarts\":1"), "{token}");
    // from the gap page on, a resumed read is the rest (the restart already counted)
    check_rest(
        &all,
        |from| d.activity(w, ActivityScope::Logins, from, &stats),
        g,
    )
    .await;
}
