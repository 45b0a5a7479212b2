//! seatctl's reclamation commands end to end: the real binary, run as a child process against moto
//! server (DynamoDB, SQS) and the provider sandbox (Box), as in `cli.rs`. Every claim is checked
//! in what seatctl printed and in the state it left: the profile's rules and the candidates in
//! DynamoDB, the messages on a real SQS queue. Run with `infra/test.sh`.
use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use provider_sandbox::NewBoxUser;
use seatkeeper::domain::{
    NoticeState, NoticeToken, Provider, ReclaimMode, ReclaimRecord, ReclaimRequest, ReclaimRules,
};
use seatkeeper::ports::{NoticeRepo, ProfileRepo, ReclaimRepo, SeatRepo};
use seatkeeper_e2e::{unique, TestEnv};

mod common;
use common::Seatctl;
use serde_json::{json, Value};

const CSV_HEADER: &str = "user_id,login,name,license_type,inactive_days,last_login,last_login_event,rule,threshold_days,monthly_price,request_id,approved_by,last_activity,activity_counted";

/// The reclamation tests' own steps.
trait ReclaimCli {
    fn rules(&self, id: &str) -> Value;
    fn add_box_profile_backfilled(&self, id: &str);
    fn add_synced_box_profile(&self, id: &str);
}

impl ReclaimCli for Seatctl<'_> {
    fn rules(&self, id: &str) -> Value {
        self.json(&["rules", "show", id, "--output", "json"])
    }

    /// A Box profile for the sandbox tenant (no credentials).
    fn add_box_profile_backfilled(&self, id: &str) {
        let enterprise = self.env.sandbox.box_tenant().enterprise_id();
        self.ok(&[
            "profile",
            "add",
            "box",
            "--id",
            id,
            "--name",
            "Sandbox Box",
            "--enterprise-id",
            &enterprise,
            "--plan",
            "business_plus",
            "--backfill-days",
            "365",
        ]);
    }

    /// A Box profile with an entitlement and credentials, synced once.
    fn add_synced_box_profile(&self, id: &str) {
        let tenant = self.env.sandbox.box_tenant();
        self.add_box_profile_backfilled(id);
        self.ok(&[
            "entitlement",
            "set",
            id,
            "--license-type",
            "business_plus",
            "--purchased",
            "50",
            "--price",
            "33.00",
        ]);
        let r = self.run_with_stdin(
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
        let out = self.ok(&["sync", id]);
        assert!(out.contains(&format!("of profile {id} succeeded")), "{out}");
    }
}

/// The row of a key/value table whose key is `key`.
fn row<'a>(table: &'a str, key: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.starts_with(&format!("│ {key} ")) || l.starts_with(&format!("| {key} ")))
        .unwrap_or_else(|| panic!("no row {key:?} in\n{table}"))
}

/// Every message on the queue, received and deleted (the queue is empty afterwards).
async fn take_messages(env: &TestEnv, url: &str) -> Vec<ReclaimRequest> {
    let mut out = Vec::new();
    loop {
        let msgs = env
            .aws
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default();
        if msgs.is_empty() {
            return out;
        }
        for m in msgs {
            let body = m.body().expect("body");
            out.push(
                ReclaimRequest::parse(body)
                    .unwrap_or_else(|e| panic!("not a reclaim request: {e}: {body}")),
            );
            env.aws
                .sqs
                .delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().expect("receipt handle"))
                .send()
                .await
                .expect("delete");
        }
    }
}

async fn stored_rules(env: &TestEnv, id: &str) -> ReclaimRules {
    env.store
        .profiles
        .get(id)
        .await
        .expect("get profile")
        .expect("profile stored")
        .rules
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
}

/// Adds a user created 400 days ago whose last login was `days` ago; returns (id, event id).
fn add_stale_user(env: &TestEnv, name: &str, login: &str, days: i64) -> (String, String) {
    let tenant = env.sandbox.box_tenant();
    let mut u = NewBoxUser::member(name, login);
    u.created_at = Utc::now() - Duration::days(400);
    let u = tenant.add_user(u);
    let event = tenant.add_event(&u.id, "LOGIN", Utc::now() - Duration::days(days));
    (u.id, event)
}

fn candidate<'a>(list: &'a Value, user: &str) -> Option<&'a Value> {
    list.as_array()
        .expect("array")
        .iter()
        .find(|c| c["user_id"] == user)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_show_defaults_set_changes_only_what_is_given_and_bad_values_are_refused() {
    let env = TestEnv::start(3, 21).await;
    let cli = Seatctl::new(&env);
    let id = unique("rules");
    cli.add_box_profile_backfilled(&id);

    // a new profile has the defaults
    let out = cli.ok(&["rules", "show", &id]);
    assert!(row(&out, "profile").contains(&id), "{out}");
    assert!(row(&out, "mode").contains("report"), "{out}");
    assert!(row(&out, "paused").contains("no"), "{out}");
    assert!(
        row(&out, "inactive after").contains("60 days without activity"),
        "{out}"
    );
    assert!(row(&out, "new-hire grace").contains("30 days"), "{out}");
    assert!(
        row(&out, "blast-radius cap").contains("10 per run / day, at most 5 % of seats"),
        "{out}"
    );
    assert!(row(&out, "exempt logins").contains("(none)"), "{out}");
    assert!(
        row(&out, "license types").contains("managed types (business_plus)"),
        "{out}"
    );
    let defaults = json!({
        "inactive_days": 60,
        "new_hire_grace_days": 30,
        "never_logged_in": "since_created",
        "license_types": [],
        "exempt_logins": [],
        "transfer_target": null,
        "mode": "report",
        "max_per_run": 10,
        "max_percent": 5,
        "paused": false,
        "activity": "any",
        "keep_days": 90,
        "removal": "immediate",
        "suspend_days": 14,
        "notice_days": 7,
        "reminder_days": [2],
    });
    assert_eq!(cli.rules(&id), defaults);

    // set changes exactly the options given
    let out = cli.ok(&[
        "rules",
        "set",
        &id,
        "--inactive-days",
        "90",
        "--grace-days",
        "14",
        "--mode",
        "approve",
        "--exempt",
        "Boss@Example.com",
        "--transfer-to",
        "123",
        "--max-per-run",
        "3",
        "--max-percent",
        "20",
    ]);
    assert!(row(&out, "mode").contains("approve"), "{out}");
    assert!(
        row(&out, "inactive after").contains("90 days without activity"),
        "{out}"
    );
    assert!(
        row(&out, "transfer target").contains("Box user 123"),
        "{out}"
    );
    let mut expected = defaults.clone();
    expected["inactive_days"] = json!(90);
    expected["new_hire_grace_days"] = json!(14);
    expected["mode"] = json!("approve");
    expected["exempt_logins"] = json!(["boss@example.com"]);
    expected["transfer_target"] = json!("123");
    expected["max_per_run"] = json!(3);
    expected["max_percent"] = json!(20);
    assert_eq!(cli.rules(&id), expected);
    let stored = stored_rules(&env, &id).await;
    assert_eq!(stored.mode, ReclaimMode::Approve);
    assert_eq!(stored.exempt_logins, vec!["boss@example.com".to_owned()]);
    assert_eq!(serde_json::to_value(&stored).unwrap(), expected);

    // the same login again (any case) is not listed twice; --unexempt removes it
    cli.ok(&["rules", "set", &id, "--exempt", "BOSS@example.com"]);
    assert_eq!(cli.rules(&id), expected);
    cli.ok(&["rules", "set", &id, "--unexempt", "boss@example.com"]);
    expected["exempt_logins"] = json!([]);
    assert_eq!(cli.rules(&id), expected);

    // bad values are usage errors that say what is wrong, and change nothing
    let err = cli.fails_quietly(&["rules", "set", &id, "--mode", "sometimes"], 2);
    assert!(err.contains("--mode"), "{err}");
    assert!(
        err.contains("unknown mode") && err.contains("report, approve, auto or notify"),
        "{err}"
    );
    let err = cli.fails_quietly(&["rules", "set", &id, "--max-percent", "101"], 2);
    assert!(
        err.contains("--max-percent") && err.contains("101"),
        "{err}"
    );
    assert!(err.contains("0..=100"), "{err}");
    let err = cli.fails_quietly(&["rules", "set", &id, "--inactive-days", "0"], 2);
    assert!(err.contains("--inactive-days"), "{err}");
    let err = cli.fails_quietly(&["rules", "set", &id, "--never-logged-in", "sometimes"], 2);
    assert!(err.contains("since-created or exempt"), "{err}");
    assert_eq!(cli.rules(&id), expected);

    // notify mode and its notice period and reminders
    let out = cli.ok(&[
        "rules",
        "set",
        &id,
        "--mode",
        "notify",
        "--notice-days",
        "10",
        "--reminder-days",
        "1,3",
    ]);
    assert!(row(&out, "mode").contains("notify"), "{out}");
    assert!(
        row(&out, "notice (notify mode)").contains("10 days after the notice"),
        "{out}"
    );
    expected["mode"] = json!("notify");
    expected["notice_days"] = json!(10);
    expected["reminder_days"] = json!([3, 1]);
    assert_eq!(cli.rules(&id), expected);
    let err = cli.fails_quietly(&["rules", "set", &id, "--reminder-days", "2,x"], 2);
    assert!(err.contains("--reminder-days"), "{err}");
    cli.ok(&["rules", "set", &id, "--reminder-days", ""]);
    expected["reminder_days"] = json!([]);
    assert_eq!(cli.rules(&id), expected);

    // unknown profile, whatever the command; nothing is created on the way
    let missing = unique("missing");
    for args in [
        vec!["rules", "show", missing.as_str()],
        vec!["rules", "set", &missing, "--mode", "approve"],
        vec!["pause", &missing],
        vec!["resume", &missing],
        vec!["candidates", &missing],
        vec!["approve", &missing, "--all"],
        vec!["reclaim", &missing, "123"],
        vec!["reclaims", &missing],
        vec!["notices", &missing],
    ] {
        let err = cli.fails_quietly(&args, 1);
        assert_eq!(
            err,
            format!("error: profile {missing} does not exist (see `seatctl profile list`)\n"),
            "{args:?}"
        );
    }
    assert!(env.store.profiles.get(&missing).await.unwrap().is_none());
    assert!(take_messages(&env, &env.queue_url).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_is_a_kill_switch_for_reclaim_and_approve_but_not_dry_runs() {
    let env = TestEnv::start(3, 22).await;
    let cli = Seatctl::new(&env);
    let id = unique("pause");
    cli.add_box_profile_backfilled(&id);

    let out = cli.ok(&["pause", &id]);
    assert!(
        out.starts_with(&format!("reclamation paused for {id}")),
        "{out}"
    );
    assert_eq!(cli.rules(&id)["paused"], true);
    assert!(stored_rules(&env, &id).await.paused);
    let out = cli.ok(&["rules", "show", &id]);
    assert!(row(&out, "paused").contains("yes"), "{out}");

    // refused while paused, and nothing is enqueued
    let err = cli.fails_quietly(&["reclaim", &id, "4242", "--reason", "x"], 1);
    assert!(err.contains("paused"), "{err}");
    assert!(err.contains(&format!("seatctl resume {id}")), "{err}");
    cli.ok(&["rules", "set", &id, "--mode", "approve"]);
    let err = cli.fails_quietly(&["approve", &id, "--all"], 1);
    assert!(err.contains("paused"), "{err}");
    assert!(take_messages(&env, &env.queue_url).await.is_empty());
    // pausing again leaves it paused; other rule changes keep it paused
    cli.ok(&["pause", &id]);
    assert_eq!(cli.rules(&id)["paused"], true);

    // a dry run is allowed while paused
    let out = cli.ok(&["reclaim", &id, "4242", "--dry-run", "--by", "alice"]);
    assert!(out.contains("(dry run)"), "{out}");
    let msgs = take_messages(&env, &env.queue_url).await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].dry_run);
    assert_eq!(msgs[0].user_id, "4242");
    assert!(out.contains(&msgs[0].request_id), "{out}");

    // resume lifts it
    let out = cli.ok(&["resume", &id]);
    assert_eq!(out, format!("reclamation resumed for {id}\n"));
    assert_eq!(cli.rules(&id)["paused"], false);
    assert!(!stored_rules(&env, &id).await.paused);
    cli.ok(&["reclaim", &id, "4242"]);
    let msgs = take_messages(&env, &env.queue_url).await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(!msgs[0].dry_run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reclaim_puts_one_valid_request_on_the_queue() {
    let env = TestEnv::start(3, 23).await;
    let cli = Seatctl::new(&env);
    let id = unique("reclaim");
    cli.add_box_profile_backfilled(&id);
    let url = env
        .aws
        .sqs
        .create_queue()
        .queue_name(unique("seatctl-reclaim"))
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url");
    let queue = [("RECLAIM_QUEUE_URL", url.as_str())];

    let args = ["reclaim", &id, "4242", "--reason", "x", "--by", "alice"];
    let r = cli.run_env(&args, &queue, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let msgs = take_messages(&env, &url).await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let m = &msgs[0];
    assert_eq!(m.version, 1);
    assert_eq!(m.profile_id, id);
    assert_eq!(m.user_id, "4242");
    assert_eq!(m.requested_by, "seatctl:alice");
    assert_eq!(m.reason.as_deref(), Some("x"));
    assert!(!m.dry_run);
    // the operator's direct request is its own approval, recorded before it was sent
    let approval =
        seatkeeper::ports::ReclaimRepo::get_approval(&env.store.reclaims, &id, &m.request_id)
            .await
            .unwrap()
            .expect("approval recorded");
    assert_eq!(
        (approval.approved_by.as_str(), approval.source.as_str()),
        ("seatctl:alice", "seatctl reclaim")
    );
    assert_eq!(
        r.stdout,
        format!(
            "enqueued {rid} for user 4242; follow it with `seatctl reclaims {id} --request {rid}`\n",
            rid = m.request_id
        )
    );
    // it went to the queue named by RECLAIM_QUEUE_URL, nowhere else
    assert!(take_messages(&env, &env.queue_url).await.is_empty());

    // who asks: --by, else $USER, else plain "seatctl"
    let r = cli.run_env(&["reclaim", &id, "4242"], &[queue[0], ("USER", "bob")], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = cli.run_env(&["reclaim", &id, "4242"], &queue, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let by: BTreeSet<String> = take_messages(&env, &url)
        .await
        .into_iter()
        .map(|m| {
            assert_eq!(m.reason, None);
            m.requested_by
        })
        .collect();
    assert_eq!(by, BTreeSet::from(["seatctl:bob".into(), "seatctl".into()]));

    // a user id the message cannot carry is a usage error
    let r = cli.run_env(&["reclaim", &id, "12#34"], &queue, &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("user_id"), "{r:?}");

    // no queue configured: a clear error, nothing sent
    let r = cli.run_env(&args, &[], &["RECLAIM_QUEUE_URL"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(r.stderr.starts_with("error: "), "{r:?}");
    assert!(r.stderr.contains("RECLAIM_QUEUE_URL"), "{r:?}");
    assert!(take_messages(&env, &url).await.is_empty());
    assert!(take_messages(&env, &env.queue_url).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidates_after_a_sync_list_the_stale_user_with_evidence_in_every_format() {
    let env = TestEnv::start(5, 24).await;
    let tenant = env.sandbox.box_tenant();
    let cli = Seatctl::new(&env);
    let (stale, event) = add_stale_user(&env, "Stale Sam", "stale@example.com", 100);
    let mut active = NewBoxUser::member("Active Ann", "active@example.com");
    active.created_at = Utc::now() - Duration::days(400);
    let active = tenant.add_user(active);
    tenant.add_event(&active.id, "LOGIN", Utc::now() - Duration::days(2));
    let mut hire = NewBoxUser::member("New Nina", "new@example.com");
    hire.created_at = Utc::now() - Duration::days(5);
    let hire = tenant.add_user(hire);
    let admin = tenant.users()[0].clone();
    assert_eq!(admin.role, "admin");

    let id = unique("cands");
    // before any sync: none, and the table says why
    let id_before = unique("cands");
    cli.add_box_profile_backfilled(&id_before);
    let out = cli.ok(&["candidates", &id_before]);
    assert!(
        out.starts_with(&format!("no candidates for {id_before}")),
        "{out}"
    );
    assert!(out.contains("after a finished sync"), "{out}");
    assert_eq!(
        cli.json(&["candidates", &id_before, "--output", "json"]),
        json!([])
    );
    assert_eq!(
        cli.ok(&["candidates", &id_before, "--output", "csv"]),
        format!("{CSV_HEADER}\n")
    );

    cli.add_synced_box_profile(&id);
    let list = cli.json(&["candidates", &id, "--output", "json"]);
    let c = candidate(&list, &stale).expect("the stale user is a candidate");
    assert_eq!(c["login"], "stale@example.com");
    assert_eq!(c["name"], "Stale Sam");
    assert_eq!(c["license_type"], "business_plus");
    let inactive = c["inactive_days"].as_i64().unwrap();
    assert!((99..=101).contains(&inactive), "{c}");
    let last = time(&c["last_login"]);
    assert!(
        (last - (Utc::now() - Duration::days(100)))
            .num_minutes()
            .abs()
            < 10
    );
    assert_eq!(c["last_login_event"], format!("LOGIN {event}"));
    assert_eq!(
        c["rule"],
        "no activity for 60 days (new-hire grace 30 days)"
    );
    assert_eq!(c["threshold_days"], 60);
    assert_eq!(c["monthly_price"], "33.00 USD");
    assert!(
        c["request_id"].is_null() && c["approved_by"].is_null(),
        "{c}"
    );
    for not in [&active.id, &hire.id, &admin.id] {
        assert!(candidate(&list, not).is_none(), "{not} listed: {list}");
    }
    // most inactive first, and the same set DynamoDB holds
    let days: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["inactive_days"].as_i64().unwrap())
        .collect();
    assert!(days.windows(2).all(|w| w[0] >= w[1]), "{days:?}");
    let listed: BTreeSet<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["user_id"].as_str().unwrap().to_owned())
        .collect();
    let stored: BTreeSet<String> = env
        .store
        .seats
        .list_candidates(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.user_id)
        .collect();
    assert_eq!(listed, stored);

    // table
    let out = cli.ok(&["candidates", &id]);
    let line = out
        .lines()
        .find(|l| l.contains(&stale))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("stale@example.com"), "{line}");
    assert!(line.contains(&format!("{inactive} d")), "{line}");
    assert!(line.contains(&format!("(LOGIN {event})")), "{line}");
    assert!(line.contains("33.00 USD"), "{line}");
    assert!(
        out.contains(&format!(
            "{} candidate(s) by rule: no activity for 60 days (new-hire grace 30 days)",
            listed.len()
        )),
        "{out}"
    );

    // CSV: the documented header, one row per candidate, the same values as the JSON
    let text = cli.ok(&["candidates", &id, "--output", "csv"]);
    assert_eq!(text.lines().next(), Some(CSV_HEADER));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), listed.len());
    let r = rows
        .iter()
        .find(|r| &r[0] == stale.as_str())
        .expect("stale row");
    assert_eq!(&r[1], "stale@example.com");
    assert_eq!(&r[2], "Stale Sam");
    assert_eq!(&r[3], "business_plus");
    assert_eq!(r[4].parse::<i64>().unwrap(), inactive);
    assert_eq!(time(&json!(&r[5])), last);
    assert_eq!(&r[6], format!("LOGIN {event}"));
    assert_eq!(&r[7], "no activity for 60 days (new-hire grace 30 days)");
    assert_eq!(&r[8], "60");
    assert_eq!(&r[9], "33.00 USD");
    assert_eq!(&r[10], "");
    assert_eq!(&r[11], "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_enqueues_candidates_within_the_cap_in_approve_mode_only() {
    let env = TestEnv::start(5, 25).await;
    let cli = Seatctl::new(&env);
    let mut stale = Vec::new();
    for (i, days) in [300, 200, 100].into_iter().enumerate() {
        stale.push(
            add_stale_user(
                &env,
                &format!("Stale {i}"),
                &format!("stale{i}@example.com"),
                days,
            )
            .0,
        );
    }
    let tenant = env.sandbox.box_tenant();
    let mut active = NewBoxUser::member("Active Ann", "active@example.com");
    active.created_at = Utc::now() - Duration::days(400);
    let active = tenant.add_user(active);
    tenant.add_event(&active.id, "LOGIN", Utc::now() - Duration::days(2));
    let id = unique("approve");
    cli.add_synced_box_profile(&id);
    let before = cli.json(&["candidates", &id, "--output", "json"]);
    let n = before.as_array().unwrap().len();
    for s in &stale {
        assert!(candidate(&before, s).is_some(), "{s} not a candidate");
    }

    // report mode: refused with the hint
    let err = cli.fails_quietly(&["approve", &id, "--all"], 1);
    assert!(err.contains("report mode"), "{err}");
    assert!(
        err.contains(&format!("seatctl rules set {id} --mode approve")),
        "{err}"
    );
    assert!(take_messages(&env, &env.queue_url).await.is_empty());

    // approve mode, cap 2 per run
    cli.ok(&[
        "rules",
        "set",
        &id,
        "--mode",
        "approve",
        "--max-per-run",
        "2",
        "--max-percent",
        "100",
    ]);
    let err = cli.fails_quietly(&["approve", &id], 2);
    assert!(err.contains("--all"), "{err}");
    let err = cli.fails_quietly(&["approve", &id, &active.id], 1);
    assert!(
        err.contains(&format!("{} is not a candidate of {id}", active.id)),
        "{err}"
    );
    let err = cli.fails_quietly(&["approve", &id, &stale[0], "nobody"], 1);
    assert!(err.contains("nobody is not a candidate"), "{err}");
    assert!(take_messages(&env, &env.queue_url).await.is_empty());

    // an approver the message cannot carry is refused before anything is sent or marked
    let long = "a".repeat(300);
    let err = cli.fails_quietly(&["approve", &id, "--all", "--by", &long], 2);
    assert!(err.contains("requested_by"), "{err}");
    assert!(take_messages(&env, &env.queue_url).await.is_empty());
    assert!(env
        .store
        .seats
        .list_candidates(&id)
        .await
        .unwrap()
        .iter()
        .all(|c| c.request_id.is_none() && c.approved_by.is_none()));

    let out = cli.ok(&["approve", &id, "--all", "--by", "alice"]);
    let sent = take_messages(&env, &env.queue_url).await;
    assert_eq!(sent.len(), 2.min(n), "{out}");
    assert!(
        out.contains(&format!(
            "2 request(s) enqueued (cap 2), {} held by the blast-radius cap",
            n - 2
        )),
        "{out}"
    );
    let after = cli.json(&["candidates", &id, "--output", "json"]);
    let stored = env.store.seats.list_candidates(&id).await.unwrap();
    for m in &sent {
        assert_eq!(m.profile_id, id);
        assert_eq!(m.requested_by, "seatctl:alice");
        assert!(!m.dry_run);
        assert!(
            m.reason
                .as_deref()
                .unwrap()
                .contains("days without a login"),
            "{m:?}"
        );
        assert!(
            out.contains(&format!("enqueued {} for user {}", m.request_id, m.user_id)),
            "{out}"
        );
        let c = candidate(&after, &m.user_id).expect("still a candidate");
        assert_eq!(c["request_id"], m.request_id.as_str());
        assert_eq!(c["approved_by"], "seatctl:alice");
        let s = stored.iter().find(|c| c.user_id == m.user_id).unwrap();
        assert_eq!(s.request_id.as_deref(), Some(m.request_id.as_str()));
        assert!(s.requested_at.is_some() && s.approved_at.is_some());
    }
    // the most inactive went first; the others wait, unrequested
    let requested: BTreeSet<&str> = sent.iter().map(|m| m.user_id.as_str()).collect();
    let min_sent = after
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| requested.contains(c["user_id"].as_str().unwrap()))
        .map(|c| c["inactive_days"].as_i64().unwrap())
        .min()
        .unwrap();
    for c in after.as_array().unwrap() {
        if !requested.contains(c["user_id"].as_str().unwrap()) {
            assert!(c["request_id"].is_null(), "{c}");
            assert!(c["inactive_days"].as_i64().unwrap() <= min_sent, "{c}");
        }
    }

    // approving again sends only candidates not yet requested
    let out = cli.ok(&["approve", &id, "--all", "--by", "alice"]);
    let again = take_messages(&env, &env.queue_url).await;
    assert_eq!(again.len(), 2.min(n - 2), "{out}");
    for m in &again {
        assert!(!requested.contains(m.user_id.as_str()), "{m:?} sent twice");
    }
    // every request sent carries a recorded approval (the function checks it)
    use seatkeeper::ports::ReclaimRepo;
    for m in sent.iter().chain(&again) {
        let a = env
            .store
            .reclaims
            .get_approval(&id, &m.request_id)
            .await
            .unwrap()
            .expect("approval recorded");
        assert_eq!(a.approved_by, "seatctl:alice");
        assert_eq!(a.source, "seatctl approve");
        assert_eq!(a.user_id, m.user_id);
    }
    // nothing left to send: it says why
    if n <= 4 {
        let out = cli.ok(&["approve", &id, "--all", "--by", "alice"]);
        assert!(
            out.contains(
                "0 request(s) enqueued (cap 2): every chosen candidate already has a request"
            ),
            "{out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reclaims_lists_the_audit_trail() {
    let env = TestEnv::start(3, 26).await;
    let cli = Seatctl::new(&env);
    let id = unique("audit");
    cli.add_box_profile_backfilled(&id);
    let other = unique("audit");
    cli.add_box_profile_backfilled(&other);

    assert_eq!(
        cli.ok(&["reclaims", &id]),
        format!("no reclaim requests for {id} yet\n")
    );
    assert_eq!(cli.json(&["reclaims", &id, "--output", "json"]), json!([]));

    let request = ReclaimRequest::new(&id, "777", true, "test:bob", Some("audit check".into()));
    let record = ReclaimRecord::new(request.clone(), Provider::Box, Utc::now());
    assert!(env.store.reclaims.create(&record).await.unwrap());
    let elsewhere = ReclaimRecord::new(
        ReclaimRequest::new(&other, "888", false, "test:eve", None),
        Provider::Box,
        Utc::now(),
    );
    assert!(env.store.reclaims.create(&elsewhere).await.unwrap());
    let rid = request.request_id.as_str();

    let out = cli.ok(&["reclaims", &id]);
    let line = out
        .lines()
        .find(|l| l.contains(rid))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("777"), "{line}");
    assert!(line.contains("test:bob"), "{line}");
    assert!(line.contains("received (dry run)"), "{line}");
    assert!(!out.contains(&elsewhere.request.request_id), "{out}");

    let list = cli.json(&["reclaims", &id, "--output", "json"]);
    let list: Vec<ReclaimRecord> = serde_json::from_value(list).unwrap();
    assert_eq!(list, vec![record.clone()]);

    let one = cli.json(&["reclaims", &id, "--request", rid, "--output", "json"]);
    assert_eq!(one["request"]["request_id"], rid);
    let one: ReclaimRecord = serde_json::from_value(one).unwrap();
    assert_eq!(one, record);

    let out = cli.ok(&["reclaims", &id, "--request", rid]);
    assert!(row(&out, "request").contains(rid), "{out}");
    assert!(row(&out, "requested by").contains("test:bob"), "{out}");
    assert!(row(&out, "reason given").contains("audit check"), "{out}");
    assert!(row(&out, "dry run").contains("yes"), "{out}");
    assert!(row(&out, "status").contains("received"), "{out}");
    assert!(
        out.contains("requested by test:bob: audit check (dry run)"),
        "{out}"
    );

    // another profile's request is not found under this one
    let err = cli.fails_quietly(
        &["reclaims", &id, "--request", &elsewhere.request.request_id],
        1,
    );
    assert_eq!(
        err,
        format!(
            "error: no reclaim request {} for {id}\n",
            elsewhere.request.request_id
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_lists_each_notice_with_its_state_sent_due_and_keep_reason() {
    let mut env = TestEnv::start(3, 24).await;
    let id = unique("notices");
    let sender = format!("{}@seatkeeper.test", unique("notices"));
    env.aws
        .ses
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("identity");
    env.config.notice_sender = Some(sender);
    env.config.keep_base_url = Some("https://keep.seatkeeper.test".parse().unwrap());
    let env = env;
    let cli = Seatctl::new(&env);
    let tenant = env.sandbox.box_tenant();
    let mut users = Vec::new();
    for name in ["kim", "dan"] {
        let mut u = NewBoxUser::member(name, format!("{}@example.com", unique(name)));
        u.created_at = Utc::now() - Duration::days(400);
        let u = tenant.add_user(u);
        tenant.add_event(&u.id, "LOGIN", Utc::now() - Duration::days(100));
        users.push(u);
    }
    cli.add_synced_box_profile(&id);
    let admin = tenant.users()[0].id.clone();
    cli.ok(&[
        "rules",
        "set",
        &id,
        "--mode",
        "notify",
        "--transfer-to",
        &admin,
    ]);
    // no notices before a sync in notify mode
    let out = cli.ok(&["notices", &id]);
    assert!(out.contains("no notices"), "{out}");

    // a sync (as box-sync runs it) sends the notices; kim keeps hers through the page's service
    let report = env
        .box_sync()
        .sync_profile(&id, &seatkeeper::sync::NoProgress)
        .await
        .unwrap();
    assert!(report.succeeded, "{:?}", report.error);
    let kim = env
        .store
        .notices
        .notices(&id)
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.user_id == users[0].id)
        .expect("kim's notice");
    // the token is only in the mail: reissue one for the test through the repository
    let (token, digest) = seatkeeper::notify::new_token().unwrap();
    env.store
        .notices
        .put_token(
            &digest,
            &NoticeToken {
                profile_id: id.clone(),
                user_id: kim.user_id.clone(),
                candidacy: kim.candidacy.clone(),
                issued_at: Utc::now(),
                expires_at: kim.due_at.unwrap(),
                used_at: None,
            },
        )
        .await
        .unwrap();
    seatkeeper::notify::keep::keep(&env.store, &token, Some("audit season"), Utc::now())
        .await
        .unwrap()
        .expect("kept");

    // 7 whole days: the first midnight after now + 7 days
    let due = (Utc::now() + Duration::days(8))
        .format("%Y-%m-%d")
        .to_string();
    let out = cli.ok(&["notices", &id]);
    for u in &users {
        assert!(out.contains(&u.login), "{out}");
    }
    let kim_row = out.lines().find(|l| l.contains(&users[0].login)).unwrap();
    assert!(
        kim_row.contains("kept") && kim_row.contains("audit season"),
        "{kim_row}"
    );
    let dan_row = out.lines().find(|l| l.contains(&users[1].login)).unwrap();
    assert!(
        dan_row.contains("sent") && dan_row.contains(&due),
        "{dan_row}"
    );

    let json = cli.json(&["notices", &id, "--output", "json", "--state", "kept"]);
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["user_id"], json!(users[0].id));
    assert_eq!(list[0]["state"], json!("kept"));
    assert_eq!(list[0]["keep_reason"], json!("audit season"));
    assert!(list[0].get("token_digest").is_some());

    // approving everyone would skip the notice period; nothing is enqueued
    let err = cli.fails_quietly(&["approve", &id, "--all"], 1);
    assert!(err.contains("notify mode"), "{err}");
    assert!(take_messages(&env, &env.queue_url).await.is_empty());

    // a failed notice is sent again on request (only failed ones)
    let err = cli.fails_quietly(&["notices", &id, "--resend", "all"], 1);
    assert!(err.contains("no failed notice"), "{err}");
    let mut dan = env
        .store
        .notices
        .notices(&id)
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.user_id == users[1].id)
        .expect("dan's notice");
    dan.state = NoticeState::NoticeFailed;
    env.store.notices.save_notice(&mut dan).await.unwrap();
    let out = cli.ok(&["notices", &id, "--resend", &users[1].login]);
    assert!(out.contains("1 notice(s) will be sent again"), "{out}");
    let json = cli.json(&["notices", &id, "--output", "json", "--state", "pending"]);
    assert_eq!(json.as_array().map(Vec::len), Some(1), "{json}");
    assert_eq!(json[0]["user_id"], json!(users[1].id));
}
