//! seatctl end to end: the real binary, run as a child process against moto server (DynamoDB,
//! Secrets Manager) and the provider sandbox (Box). Needs AWS_ENDPOINT_URL pointing at moto:
//! run with `infra/test.sh`. Every claim about seats is checked against the sandbox's ground
//! truth, and every byte the binary printed is checked for the client secret.
use std::collections::BTreeSet;
use std::process::Stdio;

use chrono::{DateTime, Duration, Utc};
use seatkeeper_e2e::{unique, TestEnv};

mod common;
use common::Seatctl;
use secrecy::ExposeSecret;
use serde_json::Value;

const TASK_LABELS: [&str; 6] = [
    "Application Access",
    "Activity",
    "Application Roster",
    "License Differentiation",
    "License Information",
    "Reclamation",
];

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
}

fn ids(seats: &Value) -> BTreeSet<String> {
    seats
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["user_id"].as_str().expect("user_id").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_flow_end_to_end() {
    let env = TestEnv::start(300, 7).await;
    let tenant = env.sandbox.box_tenant();
    let secret = tenant.client_secret();
    let cli = Seatctl::new(&env);
    let id = unique("demo");

    // table create: a new table, then one that exists
    let table = unique("seatctl-table");
    let out = cli.ok(&["--table", &table, "table", "create"]);
    assert_eq!(out, format!("created table {table}\n"));
    let out = cli.ok(&["table", "create", "--table", &table]);
    assert_eq!(out, format!("table {table} already exists\n"));

    // profile, entitlement, credentials
    cli.add_box_profile(&id);
    let out = cli.ok(&[
        "entitlement",
        "set",
        &id,
        "--license-type",
        "business_plus",
        "--purchased",
        "400",
        "--price",
        "33.00",
    ]);
    assert!(
        out.contains("400 seats at 33.00 USD per seat per month (13,200.00 USD per month)"),
        "{out}"
    );
    let out = cli.run_with_stdin(
        &[
            "credentials",
            "set-box",
            &id,
            "--client-id",
            &tenant.client_id(),
            "--client-secret-stdin",
        ],
        &format!("{secret}\n"),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout.lines().next(),
        Some(format!("stored credentials for {id} in secret seatkeeper/{id}/box").as_str())
    );
    let stored = env
        .secrets
        .box_credentials(&format!("seatkeeper/{id}/box"))
        .await
        .expect("stored credentials");
    assert_eq!(stored.client_secret.expose_secret(), secret);
    assert_eq!(stored.client_id, tenant.client_id());
    assert_eq!(stored.enterprise_id, tenant.enterprise_id());

    // sync, with debug logging on to prove the logs keep the secret too
    let r = cli.run(&["-vv", "sync", &id]);
    assert_eq!(r.code, 0, "{r:?}");
    for label in TASK_LABELS {
        assert!(r.stdout.contains(label), "{label} missing: {}", r.stdout);
    }
    assert!(!r.stdout.contains("failed"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("of profile {id} succeeded")),
        "{}",
        r.stdout
    );

    // seats: every human user, no app users, most inactive first
    let users = tenant.users();
    let humans: BTreeSet<String> = users
        .iter()
        .filter(|u| !u.is_platform_access_only)
        .map(|u| u.id.clone())
        .collect();
    let apps: Vec<&str> = users
        .iter()
        .filter(|u| u.is_platform_access_only)
        .map(|u| u.id.as_str())
        .collect();
    assert!(!apps.is_empty(), "the tenant should have app users");
    let seats = cli.json(&["seats", &id, "--output", "json"]);
    assert_eq!(seats.as_array().unwrap().len(), humans.len());
    assert_eq!(ids(&seats), humans);
    for app in &apps {
        assert!(
            !ids(&seats).contains(*app),
            "app user {app} listed as a seat"
        );
    }
    let inactive: Vec<i64> = seats
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["inactive_days"].as_i64().unwrap())
        .collect();
    assert!(
        inactive.windows(2).all(|w| w[0] >= w[1]),
        "not sorted: {inactive:?}"
    );

    // last logins as the sandbox knows them (within the 90-day first-sync backfill)
    let now = Utc::now();
    for s in seats.as_array().unwrap() {
        let uid = s["user_id"].as_str().unwrap();
        match tenant.last_login(uid) {
            Some(truth) if truth > now - Duration::days(89) => {
                assert_eq!(time(&s["last_login_at"]), truth, "{uid}");
                assert!(s["last_login_event_id"].is_string());
            }
            Some(truth) if truth > now - Duration::days(91) => {} // at the window's edge
            _ => assert!(s["last_login_at"].is_null(), "{uid}: {s}"),
        }
        assert_eq!(s["license_type"], "business_plus");
        assert!(s["removed_at"].is_null());
    }

    // inactive seats as CSV: the same seats the JSON says are inactive for 60+ days
    let csv_text = cli.ok(&["seats", &id, "--inactive-days", "60", "--output", "csv"]);
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[0], "user_id");
    let col = header.iter().position(|h| h == "inactive_days").unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let expected: BTreeSet<String> = seats
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["inactive_days"].as_i64().unwrap() >= 60)
        .map(|s| s["user_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !expected.is_empty(),
        "the tenant should have inactive seats"
    );
    assert_eq!(
        rows.iter()
            .map(|r| r[0].to_owned())
            .collect::<BTreeSet<_>>(),
        expected
    );
    for r in &rows {
        assert!(r[col].parse::<i64>().unwrap() >= 60);
    }

    let out = cli.ok(&["seats", &id]);
    assert!(
        out.contains(&format!("{} of {} seats shown", humans.len(), humans.len())),
        "{out}"
    );

    // task tracking
    let tasks = cli.json(&["tasks", &id, "--output", "json"]);
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 6);
    assert!(
        tasks.iter().all(|t| t["status"] == "succeeded"),
        "{tasks:?}"
    );
    let out = cli.ok(&["tasks", &id]);
    for label in TASK_LABELS {
        assert!(out.contains(label));
    }
    let out = cli.ok(&["tasks", "--limit", "3"]);
    assert!(out.contains(&id));
    assert_eq!(out.matches(&id).count(), 3, "{out}");

    // the profile with its license summary
    let show = cli.json(&["profile", "show", &id, "--output", "json"]);
    assert_eq!(show["profile"]["id"], id.as_str());
    let summary = &show["license_summaries"][0];
    assert_eq!(summary["license_type"], "business_plus");
    assert_eq!(summary["assigned"].as_u64().unwrap() as usize, humans.len());
    assert_eq!(summary["purchased"], 400);
    assert_eq!(summary["monthly_cost_cents"], 1_320_000);
    let out = cli.ok(&["profile", "show", &id]);
    assert!(out.contains("License summary (computed"), "{out}");
    assert!(out.contains("13,200.00 USD"), "{out}");
    assert!(out.contains(&format!("seatkeeper/{id}/box")));
    let out = cli.ok(&["profile", "list"]);
    assert!(out.contains(&id));
    let list = cli.json(&["profile", "list", "--output", "json"]);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == id.as_str()));

    // a user leaves: the next sync marks the seat removed; hidden unless asked for
    let leaver = humans.iter().next().unwrap().clone();
    assert!(tenant.remove_user(&leaver));
    cli.ok(&["sync", &id]);
    let seats = cli.json(&["seats", &id, "--output", "json"]);
    assert_eq!(seats.as_array().unwrap().len(), humans.len() - 1);
    assert!(!ids(&seats).contains(&leaver));
    let all = cli.json(&["seats", &id, "--include-removed", "--output", "json"]);
    let gone = all
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["user_id"] == leaver.as_str())
        .expect("removed seat listed with --include-removed");
    assert!(gone["removed_at"].is_string());

    // unchanged seats were not rewritten, yet were seen by the last finished sync
    let show = cli.json(&["profile", "show", &id, "--output", "json"]);
    let finished = time(&show["profile"]["last_sync"]["finished_at"]);
    for s in seats.as_array().unwrap() {
        assert_eq!(time(&s["last_seen_at"]), finished, "{s}");
    }
    assert!(time(&gone["last_seen_at"]) < finished);

    // the secret never appeared in anything seatctl printed
    let transcript = cli.transcript();
    assert!(
        transcript.contains("INFO"),
        "-vv should have logged the run at info"
    );
    assert!(
        !transcript.contains(&secret),
        "the client secret leaked into seatctl output"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors() {
    let env = TestEnv::start(5, 3).await;
    let cli = Seatctl::new(&env);
    let id = unique("errs");
    cli.add_box_profile(&id);

    // duplicate profile
    let enterprise = env.sandbox.box_tenant().enterprise_id();
    let err = cli.fails(
        &[
            "profile",
            "add",
            "box",
            "--id",
            &id,
            "--name",
            "Again",
            "--enterprise-id",
            &enterprise,
            "--plan",
            "business",
        ],
        1,
    );
    assert_eq!(err, format!("error: profile {id} already exists\n"));

    // unknown profile, whatever the command
    let missing = unique("missing");
    for args in [
        vec!["profile", "show", &missing],
        vec!["profile", "disable", &missing],
        vec!["seats", &missing],
        vec!["sync", &missing],
        vec!["tasks", &missing],
        vec![
            "entitlement",
            "set",
            &missing,
            "--license-type",
            "business",
            "--purchased",
            "1",
        ],
        vec![
            "entitlement",
            "remove",
            &missing,
            "--license-type",
            "business",
        ],
    ] {
        let r = cli.run(&args);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert!(
            r.stderr.starts_with("error: profile "),
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("does not exist"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }
    let r = cli.run_with_stdin(
        &[
            "credentials",
            "set-box",
            &missing,
            "--client-id",
            "x",
            "--client-secret-stdin",
        ],
        "whatever",
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("does not exist"));

    // bad prices are usage errors that say what is wrong
    let set = |price: &str| {
        cli.fails(
            &[
                "entitlement",
                "set",
                &id,
                "--license-type",
                "business_plus",
                "--purchased",
                "10",
                "--price",
                price,
            ],
            2,
        )
    };
    assert!(set("-5").contains("price cannot be negative"));
    assert!(set("abc").contains("is not a decimal number"));
    assert!(set("12,50").contains("is not a decimal number"));
    assert!(set("1e3").contains("is not a decimal number"));
    assert!(set("33.005").contains("USD prices have at most 2 decimal places"));
    let err = cli.fails(
        &[
            "entitlement",
            "set",
            &id,
            "--license-type",
            "business_plus",
            "--purchased",
            "ten",
        ],
        2,
    );
    assert!(err.contains("whole number of seats"), "{err}");
    // nothing was stored by the failed attempts
    let show = cli.json(&["profile", "show", &id, "--output", "json"]);
    assert_eq!(show["profile"]["entitlements"], serde_json::json!([]));
    let err = cli.fails(
        &[
            "entitlement",
            "remove",
            &id,
            "--license-type",
            "business_plus",
        ],
        1,
    );
    assert!(
        err.contains("has no entitlement for license type business_plus"),
        "{err}"
    );

    // other usage errors
    let err = cli.fails(
        &[
            "profile",
            "add",
            "box",
            "--id",
            "Not_Valid",
            "--name",
            "x",
            "--enterprise-id",
            "1",
            "--plan",
            "business",
        ],
        2,
    );
    assert!(err.contains("lowercase letters"), "{err}");
    let err = cli.fails(
        &[
            "profile",
            "add",
            "box",
            "--id",
            "x",
            "--name",
            "x",
            "--enterprise-id",
            "1",
            "--plan",
            "gold",
        ],
        2,
    );
    assert!(err.contains("business_plus"), "{err}");
    let r = cli
        .command(&["profile", "list"])
        .env_remove("TABLE_NAME")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--table NAME or set TABLE_NAME"));

    // a secret is never read from a non-terminal stdin without the flag
    let err = cli.fails(&["credentials", "set-box", &id, "--client-id", "x"], 1);
    assert!(err.contains("--client-secret-stdin"), "{err}");
    let err = cli.fails_with_stdin(
        &[
            "credentials",
            "set-box",
            &id,
            "--client-id",
            "x",
            "--client-secret-stdin",
        ],
        "\n",
        1,
    );
    assert!(err.contains("the client secret is empty"), "{err}");

    // a disabled profile is not synced
    cli.ok(&["profile", "disable", &id]);
    let err = cli.fails(&["sync", &id], 1);
    assert_eq!(err, format!("error: profile {id} is disabled\n"));
    assert!(cli.ok(&["profile", "enable", &id]).contains("enabled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sync_prints_its_tasks_and_exits_1() {
    let env = TestEnv::start(5, 4).await;
    let tenant = env.sandbox.box_tenant();
    let cli = Seatctl::new(&env);
    let id = unique("fail");
    cli.add_box_profile(&id);
    let wrong = "wr0ng-s3cret-value";
    let r = cli.run_with_stdin(
        &[
            "credentials",
            "set-box",
            &id,
            "--client-id",
            &tenant.client_id(),
            "--client-secret-stdin",
        ],
        wrong,
    );
    assert_eq!(r.code, 0, "{r:?}");

    let r = cli.run(&["sync", &id]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("Application Access"), "{}", r.stdout);
    assert!(
        r.stdout.contains("failed") && r.stdout.contains("skipped"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .starts_with(&format!("error: sync of profile {id} failed (run ")),
        "{}",
        r.stderr
    );

    let tasks = cli.json(&["tasks", &id, "--output", "json"]);
    let statuses: BTreeSet<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, BTreeSet::from(["failed", "skipped"]));
    let seats = cli.json(&["seats", &id, "--output", "json"]);
    assert_eq!(seats, serde_json::json!([]));
    let csv_text = cli.ok(&["seats", &id, "--output", "csv"]);
    assert!(csv_text.starts_with("user_id,login,"), "{csv_text}");
    assert_eq!(csv_text.lines().count(), 1);

    let transcript = cli.transcript();
    assert!(!transcript.contains(wrong));
    assert!(!transcript.contains(&tenant.client_secret()));
}

impl Seatctl<'_> {
    fn fails_with_stdin(&self, args: &[&str], stdin: &str, code: i32) -> String {
        let r = self.run_with_stdin(args, stdin);
        assert_eq!(r.code, code, "seatctl {args:?}: {r:?}");
        r.stderr
    }
}
