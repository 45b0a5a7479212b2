//! `seatctl report` end to end: the real binary against moto and the provider sandbox (as in
//! `cli.rs`). The report's figures must equal what `profile show` and `candidates` print, and
//! the HTML must render in a real browser (headless Chromium, installed by `infra/setup.sh`)
//! with the key figures in its DOM.
use std::path::Path;
use std::process::Command;

use seatkeeper_e2e::TestEnv;
use serde_json::Value;

mod common;
use common::Seatctl;

/// A Box profile with a price, synced, with one candidate reclaimed through the real queue and
/// the reclaim handler. Returns the profile id.
async fn synced_profile_with_a_reclaim(env: &TestEnv, cli: &Seatctl<'_>) -> String {
    let id = "report-box";
    let tenant = env.sandbox.box_tenant();
    let enterprise = tenant.enterprise_id();
    cli.ok(&[
        "profile",
        "add",
        "box",
        "--id",
        id,
        "--name",
        "Report <Box> & Co",
        "--enterprise-id",
        &enterprise,
        "--plan",
        "business_plus",
        "--backfill-days",
        "365",
    ]);
    cli.ok(&[
        "entitlement",
        "set",
        id,
        "--license-type",
        "business_plus",
        "--purchased",
        "220",
        "--price",
        "33.00",
    ]);
    let r = cli.run_with_stdin(
        &[
            "credentials",
            "set-box",
            id,
            "--client-id",
            &tenant.client_id(),
            "--client-secret-stdin",
        ],
        &tenant.client_secret(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let admin = tenant.users()[0].clone();
    assert_eq!(admin.role, "admin");
    cli.ok(&["rules", "set", id, "--transfer-to", &admin.id]);
    cli.ok(&["sync", id]);
    // a second sync: the waste trend has two points
    cli.ok(&["sync", id]);

    let candidates = cli.json(&["candidates", id, "-o", "json"]);
    let first = candidates[0]["user_id"].as_str().expect("a candidate");
    cli.ok(&["reclaim", id, first, "--reason", "report test"]);
    let (_, response) = env.deliver(&env.reclaimer()).await;
    assert!(response.batch_item_failures.is_empty());
    id.to_owned()
}

fn chromium(args: &[&str]) -> std::process::Output {
    let profile_dir = tempfile::tempdir().expect("tempdir");
    let dir = format!("--user-data-dir={}", profile_dir.path().display());
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            &dir,
        ])
        .args(args)
        .output()
        .expect("chromium not found on PATH: run infra/setup.sh (it installs Debian's chromium)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_equals_profile_show_and_candidates_and_renders_in_chromium() {
    let env = TestEnv::start(200, 42).await;
    let cli = Seatctl::new(&env);
    let id = synced_profile_with_a_reclaim(&env, &cli).await;

    let show = cli.json(&["profile", "show", &id, "-o", "json"]);
    let candidates = cli.json(&["candidates", &id, "-o", "json"]);
    let report = cli.json(&["report", &id, "--format", "json"]);

    // purchased vs assigned vs active, cost and waste: the very summaries `profile show` prints
    assert_eq!(report["license_types"], show["license_summaries"]);
    let bp = &show["license_summaries"][0];
    assert_eq!(bp["license_type"], "business_plus");
    assert_eq!(report["totals"]["assigned"], bp["assigned"]);
    assert_eq!(report["totals"]["active"], bp["active"]);
    assert_eq!(report["totals"]["purchased"], 220);
    assert_eq!(
        report["totals"]["monthly_waste_cents"],
        bp["monthly_waste_cents"]
    );
    assert_eq!(report["totals"]["monthly_cost_cents"], 220 * 3300);

    // candidates: the same users, in the same order, with the same evidence
    let listed: Vec<(&Value, &Value)> = candidates
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (&c["user_id"], &c["inactive_days"]))
        .collect();
    let reported: Vec<(&Value, &Value)> = report["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (&c["user_id"], &c["inactive_days"]))
        .collect();
    assert!(!listed.is_empty());
    assert_eq!(listed, reported);
    assert_eq!(
        report["candidates_monthly_cents"],
        3300 * listed.len() as u64
    );

    // the reclaim is done and saves one seat's price
    assert_eq!(report["reclaims_done"], 1, "{:#}", report["reclaims"]);
    assert_eq!(report["saved_monthly_cents"], 3300);
    // two syncs in the trend, the last one equal to today's waste
    let trend = report["waste_trend"].as_array().unwrap();
    assert_eq!(trend.len(), 2, "{trend:?}");
    // the threshold is the rule's, and every present managed seat is in a bucket
    assert_eq!(report["threshold_days"], 60);
    let bucketed: u64 = report["inactivity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["seats"].as_u64().unwrap())
        .sum();
    assert_eq!(Some(bucketed), bp["assigned"].as_u64().map(|a| a - 1));
    let health = report["sync_health"].as_array().unwrap();
    assert!(health
        .iter()
        .any(|t| t["task"] == "Application Roster" && t["runs"] == 2 && t["succeeded"] == 2));

    // the HTML file: written where asked, its path printed, nothing loaded from elsewhere
    let dir = tempfile::tempdir().unwrap();
    let html_path = dir.path().join("report.html");
    let out = cli.ok(&["report", &id, "--out", html_path.to_str().unwrap()]);
    assert!(out.contains("report written to"), "{out}");
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(
        html.contains("Report &lt;Box&gt; &amp; Co"),
        "the name is escaped"
    );
    for banned in ["<script", "src=", "href=", "https://", "@import", "url("] {
        assert!(!html.contains(banned), "{banned} in the report");
    }

    // in a real browser: the DOM holds the key figures, and a screenshot is taken
    let url = format!("file://{}", html_path.display());
    let dom = chromium(&["--dump-dom", &url]);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    let waste = money(bp["monthly_waste_cents"].as_u64().unwrap());
    for expected in [
        format!("<div class=\"kpi\" id=\"kpi-waste\"><div class=\"v\">{waste}</div>"),
        format!(
            "<div class=\"kpi\" id=\"kpi-candidates\"><div class=\"v\">{}</div>",
            listed.len()
        ),
        format!(
            "<div class=\"kpi\" id=\"kpi-saved\"><div class=\"v\">{}</div>",
            money(3300)
        ),
        "<svg id=\"chart-licenses\"".into(),
        "<svg id=\"chart-trend\"".into(),
        "<line id=\"threshold\"".into(),
        "threshold 60 d".into(),
        format!("<td>{}</td>", listed[0].0.as_str().unwrap()),
    ] {
        assert!(dom.contains(&expected), "{expected} not in the DOM:\n{dom}");
    }
    let shot = std::env::var("SK_REPORT_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("report.png"));
    let arg = format!("--screenshot={}", shot.display());
    let r = chromium(&[&arg, "--window-size=1280,2000", &url]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let png = std::fs::read(Path::new(&shot)).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    assert!(png.len() > 20_000, "a rendered page, not a blank one");
}

/// `123456` → `1,234.56 USD`, as seatctl prints money.
fn money(cents: u64) -> String {
    let major = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in major.chars().enumerate() {
        if i > 0 && (major.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{:02} USD", cents % 100)
}
