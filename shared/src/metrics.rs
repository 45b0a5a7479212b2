//! CloudWatch Embedded Metric Format (EMF) lines, exactly as `docs/metrics.md` specifies them.
//!
//! Pure functions build each line as a JSON object from data the functions already have (task
//! runs, license summaries, reclaim outcomes); [`emit`] prints them to stdout, one object per
//! line, outside the `tracing` formatter (which would nest the members under `fields`, where EMF
//! does not look). No API call is made: CloudWatch Logs extracts the metrics from the log.
//!
//! Why not a crate: the maintained EMF crates (`metrics_cloudwatch_embedded`, `metrique`) work
//! through a process-wide recorder with one fixed dimension set and their own flush points; our
//! contract needs a different dimension set per line kind, plain properties beside the metrics
//! and money metrics that are left out rather than zero. The format is small enough to own.
use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::domain::{LicenseSummary, Provider, TaskRun, TaskStatus};

/// The namespace of every seatkeeper metric.
pub const NAMESPACE: &str = "seatkeeper";

/// CloudWatch standard units used here.
const COUNT: &str = "Count";
const MILLISECONDS: &str = "Milliseconds";
const NONE: &str = "None";

/// One EMF line under construction: dimensions, metrics (with units) and plain properties.
struct Line {
    at: DateTime<Utc>,
    kind: &'static str,
    dimensions: Vec<(&'static str, String)>,
    metrics: Vec<(&'static str, &'static str, u64)>,
    properties: Map<String, Value>,
}

impl Line {
    fn new(at: DateTime<Utc>, kind: &'static str) -> Self {
        Self {
            at,
            kind,
            dimensions: Vec::new(),
            metrics: Vec::new(),
            properties: Map::new(),
        }
    }

    fn dim(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.dimensions.push((name, value.into()));
        self
    }

    fn metric(mut self, name: &'static str, unit: &'static str, value: u64) -> Self {
        self.metrics.push((name, unit, value));
        self
    }

    fn prop(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.properties.insert(name.to_owned(), value.into());
        self
    }

    fn build(self) -> Value {
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": self.at.timestamp_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [self.dimensions.iter().map(|(n, _)| *n).collect::<Vec<_>>()],
                    "Metrics": self.metrics.iter()
                        .map(|(n, u, _)| json!({"Name": n, "Unit": u}))
                        .collect::<Vec<_>>(),
                }],
            }),
        );
        root.insert("level".into(), "INFO".into());
        root.insert("message".into(), "metrics".into());
        root.insert("kind".into(), self.kind.into());
        for (n, v) in self.dimensions {
            root.insert(n.into(), v.into());
        }
        for (n, v) in self.properties {
            root.insert(n, v);
        }
        for (n, _, v) in self.metrics {
            root.insert(n.into(), v.into());
        }
        Value::Object(root)
    }
}

/// `kind: task`: one line per task run that ran (succeeded or failed). A skipped task, or one
/// still running, gives none.
pub fn task_line(provider: Provider, run: &TaskRun) -> Option<Value> {
    if !matches!(run.status, TaskStatus::Succeeded | TaskStatus::Failed) {
        return None;
    }
    let task = serde_json::to_value(run.task)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))?;
    let c = &run.counts;
    Some(
        Line::new(run.ended_at.unwrap_or(run.started_at), "task")
            .dim("Provider", provider.as_str())
            .dim("Profile", run.profile_id.as_str())
            .dim("Task", task)
            .prop("run_id", run.run_id.as_str())
            .prop("succeeded", run.status == TaskStatus::Succeeded)
            .metric("ProviderCalls", COUNT, c.api_calls)
            .metric("Pages", COUNT, c.pages)
            .metric("Throttled", COUNT, c.throttled)
            .metric("Retries", COUNT, c.retries)
            .metric("DurationMs", MILLISECONDS, run.duration_ms.unwrap_or(0))
            .build(),
    )
}

/// `kind: sync`: one line per finished profile sync, from its license summaries (managed license
/// types only) and its candidate count.
pub fn sync_line(
    provider: Provider,
    profile_id: &str,
    run_id: &str,
    summaries: &[LicenseSummary],
    candidates: u64,
    at: DateTime<Utc>,
) -> Value {
    let managed: Vec<&LicenseSummary> = summaries.iter().filter(|s| s.managed).collect();
    let sum = |f: fn(&LicenseSummary) -> u32| managed.iter().map(|s| u64::from(f(s))).sum::<u64>();
    let mut line = Line::new(at, "sync")
        .dim("Provider", provider.as_str())
        .dim("Profile", profile_id)
        .prop("run_id", run_id)
        .metric("SeatsAssigned", COUNT, sum(|s| s.assigned))
        .metric("SeatsActive", COUNT, sum(|s| s.active))
        .metric("SeatsInactive", COUNT, sum(|s| s.inactive))
        .metric("SeatsNeverActive", COUNT, sum(|s| s.never_logged_in))
        .metric("Candidates", COUNT, candidates);
    // money: only priced managed types, in one currency
    let priced: Vec<&&LicenseSummary> = managed
        .iter()
        .filter(|s| s.unit_price_cents.is_some())
        .collect();
    let currencies: std::collections::BTreeSet<&str> = priced
        .iter()
        .map(|s| s.currency.as_deref().unwrap_or("USD"))
        .collect();
    match currencies.len() {
        0 => {}
        1 => {
            let currency = currencies.iter().next().copied().unwrap_or("USD");
            let cost = priced.iter().filter_map(|s| s.monthly_cost_cents).sum();
            let waste = priced.iter().filter_map(|s| s.monthly_waste_cents).sum();
            line = line
                .prop("currency", currency)
                .metric("MonthlyCostCents", NONE, cost)
                .metric("MonthlyWasteCents", NONE, waste);
        }
        _ => line = line.prop("currency", "mixed"),
    }
    line.build()
}

/// How one reclaim request ended in a batch, as the metrics count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReclaimEnd {
    /// Ended `done` and freed a seat.
    Done,
    /// Handed back to the queue.
    Retried,
    /// Ended `skipped` (dry runs too, with reason `dry_run`).
    Skipped(String),
    /// Ended `failed` for good.
    Failed(String),
}

/// Counts of one SQS batch, per (provider, profile): `kind: reclaim` and `reclaim_outcome` lines.
#[derive(Debug, Default, Clone)]
pub struct ReclaimBatch {
    per_profile: BTreeMap<(&'static str, String), (u64, u64)>,
    outcomes: BTreeMap<(&'static str, String, bool, String), u64>,
}

impl ReclaimBatch {
    pub fn add(&mut self, provider: Provider, profile_id: &str, end: ReclaimEnd) {
        let provider = provider.as_str();
        let key = (provider, profile_id.to_owned());
        let counts = self.per_profile.entry(key).or_default();
        match end {
            ReclaimEnd::Done => counts.0 += 1,
            ReclaimEnd::Retried => counts.1 += 1,
            ReclaimEnd::Skipped(reason) => {
                *self
                    .outcomes
                    .entry((provider, profile_id.to_owned(), false, reason))
                    .or_default() += 1
            }
            ReclaimEnd::Failed(reason) => {
                *self
                    .outcomes
                    .entry((provider, profile_id.to_owned(), true, reason))
                    .or_default() += 1
            }
        }
    }

    /// The batch's lines: one `reclaim` per profile seen, one `reclaim_outcome` per (profile,
    /// outcome, reason).
    pub fn lines(&self, at: DateTime<Utc>) -> Vec<Value> {
        let mut out = Vec::new();
        for ((provider, profile), (done, retried)) in &self.per_profile {
            out.push(
                Line::new(at, "reclaim")
                    .dim("Provider", *provider)
                    .dim("Profile", profile.as_str())
                    .metric("ReclaimsDone", COUNT, *done)
                    .metric("ReclaimsRetried", COUNT, *retried)
                    .build(),
            );
        }
        for ((provider, profile, failed, reason), n) in &self.outcomes {
            let name = if *failed {
                "ReclaimsFailed"
            } else {
                "ReclaimsSkipped"
            };
            out.push(
                Line::new(at, "reclaim_outcome")
                    .dim("Provider", *provider)
                    .dim("Profile", profile.as_str())
                    .dim("Reason", reason.as_str())
                    .metric(name, COUNT, *n)
                    .build(),
            );
        }
        out
    }
}

/// Prints each line as one JSON object on its own stdout line (write errors are ignored: metrics
/// never fail a function).
pub fn emit(lines: &[Value]) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    let _ = out.flush();
}

/// Checks a line against the EMF rules of `docs/metrics.md` (for tests and for callers that
/// want to be sure): `_aws.Timestamp` an integer, every dimension a non-empty string member,
/// every metric a number member with a CloudWatch unit.
pub fn validate(line: &Value) -> Result<(), String> {
    const UNITS: &[&str] = &[COUNT, MILLISECONDS, NONE, "Seconds", "Bytes", "Percent"];
    let root = line.as_object().ok_or("not an object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws")?;
    if aws
        .keys()
        .any(|k| k != "Timestamp" && k != "CloudWatchMetrics")
    {
        return Err("unexpected member in _aws".into());
    }
    aws.get("Timestamp")
        .and_then(Value::as_i64)
        .ok_or("Timestamp is not an integer")?;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("no CloudWatchMetrics")?;
    if directives.is_empty() {
        return Err("no directive".into());
    }
    for d in directives {
        if d.get("Namespace").and_then(Value::as_str) != Some(NAMESPACE) {
            return Err("wrong namespace".into());
        }
        let sets = d
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("no Dimensions")?;
        for set in sets {
            let set = set.as_array().ok_or("dimension set not an array")?;
            if set.is_empty() || set.len() > 30 {
                return Err("dimension set size".into());
            }
            for name in set {
                let name = name.as_str().ok_or("dimension name not a string")?;
                match root.get(name).and_then(Value::as_str) {
                    Some(v) if !v.is_empty() => {}
                    _ => return Err(format!("dimension {name} is not a non-empty string")),
                }
            }
        }
        let metrics = d
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("no Metrics")?;
        if metrics.is_empty() || metrics.len() > 100 {
            return Err("metric count".into());
        }
        for m in metrics {
            let name = m
                .get("Name")
                .and_then(Value::as_str)
                .ok_or("metric without a name")?;
            let unit = m.get("Unit").and_then(Value::as_str).unwrap_or(NONE);
            if !UNITS.contains(&unit) {
                return Err(format!("unit {unit} of {name}"));
            }
            if !root.get(name).is_some_and(Value::is_number) {
                return Err(format!("metric {name} is not a number member"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{TaskCounts, TaskKind};

    fn summary(t: &str, managed: bool, price: Option<u64>, cur: Option<&str>) -> LicenseSummary {
        LicenseSummary {
            profile_id: "acme-box".into(),
            license_type: t.into(),
            managed,
            purchased: Some(220),
            assigned: 200,
            active: 150,
            inactive: 50,
            never_logged_in: 9,
            unassigned: Some(20),
            over_assigned: Some(0),
            unit_price_cents: price,
            currency: cur.map(str::to_owned),
            monthly_cost_cents: price.map(|p| p * 220),
            monthly_waste_cents: price.map(|p| p * 70),
            inactive_after_days: 60,
            computed_at: Utc::now(),
            run_id: "r1".into(),
        }
    }

    #[test]
    fn task_line_is_valid_emf_with_the_counts() {
        let now = Utc::now();
        let mut run = TaskRun::start("acme-box", "r1", TaskKind::ApplicationRoster, now);
        run.counts = TaskCounts {
            api_calls: 361,
            pages: 360,
            throttled: 2,
            retries: 3,
            ..TaskCounts::default()
        };
        run.finish(now + chrono::Duration::milliseconds(48_210), None);
        let l = task_line(Provider::Box, &run).unwrap();
        validate(&l).unwrap();
        assert_eq!(l["Task"], "application_roster");
        assert_eq!(l["Provider"], "box");
        assert_eq!(l["Profile"], "acme-box");
        assert_eq!(l["ProviderCalls"], 361);
        assert_eq!(l["Pages"], 360);
        assert_eq!(l["Throttled"], 2);
        assert_eq!(l["Retries"], 3);
        assert_eq!(l["DurationMs"], 48_210);
        assert_eq!(l["succeeded"], true);
        assert_eq!(l["level"], "INFO");
        assert_eq!(l["message"], "metrics");
        assert_eq!(
            l["_aws"]["Timestamp"],
            (now + chrono::Duration::milliseconds(48_210)).timestamp_millis()
        );
        assert_eq!(
            l["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Provider", "Profile", "Task"]])
        );
        // one line, no newline inside
        assert!(!l.to_string().contains('\n'));

        let mut failed = TaskRun::start("acme-box", "r1", TaskKind::Activity, now);
        failed.finish(now, Some("boom".into()));
        assert_eq!(
            task_line(Provider::Box, &failed).unwrap()["succeeded"],
            false
        );
        let skipped = TaskRun::skipped("acme-box", "r1", TaskKind::Reclamation, now, "x");
        assert!(task_line(Provider::Box, &skipped).is_none());
    }

    #[test]
    fn sync_line_sums_managed_types_and_handles_money() {
        let now = Utc::now();
        let s = vec![
            summary("business_plus", true, Some(3300), Some("USD")),
            summary("enterprise", false, Some(5000), Some("USD")),
        ];
        let l = sync_line(Provider::Box, "acme-box", "r1", &s, 37, now);
        validate(&l).unwrap();
        assert_eq!(l["SeatsAssigned"], 200);
        assert_eq!(l["SeatsActive"], 150);
        assert_eq!(l["SeatsInactive"], 50);
        assert_eq!(l["SeatsNeverActive"], 9);
        assert_eq!(l["Candidates"], 37);
        assert_eq!(l["MonthlyCostCents"], 3300 * 220);
        assert_eq!(l["MonthlyWasteCents"], 3300 * 70);
        assert_eq!(l["currency"], "USD");
        assert_eq!(
            l["_aws"]["CloudWatchMetrics"][0]["Metrics"][5]["Unit"],
            "None"
        );

        // no price: money left out of the directive and the line, no currency
        let unpriced = vec![summary("business_plus", true, None, None)];
        let l = sync_line(Provider::Box, "acme-box", "r1", &unpriced, 0, now);
        validate(&l).unwrap();
        assert!(l.get("MonthlyCostCents").is_none());
        assert!(l.get("currency").is_none());
        let names: Vec<&str> = l["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert!(!names.contains(&"MonthlyWasteCents"));

        // two currencies: no money metrics, currency "mixed"
        let mixed = vec![
            summary("a", true, Some(1), Some("USD")),
            summary("b", true, Some(100), Some("JPY")),
        ];
        let l = sync_line(Provider::Dropbox, "x", "r1", &mixed, 0, now);
        validate(&l).unwrap();
        assert_eq!(l["currency"], "mixed");
        assert!(l.get("MonthlyWasteCents").is_none());
        assert_eq!(l["SeatsAssigned"], 400);
    }

    #[test]
    fn reclaim_batch_lines() {
        let mut b = ReclaimBatch::default();
        b.add(Provider::Dropbox, "acme-dbx", ReclaimEnd::Done);
        b.add(Provider::Dropbox, "acme-dbx", ReclaimEnd::Done);
        b.add(Provider::Dropbox, "acme-dbx", ReclaimEnd::Retried);
        b.add(
            Provider::Dropbox,
            "acme-dbx",
            ReclaimEnd::Skipped("active_since_request".into()),
        );
        b.add(
            Provider::Dropbox,
            "acme-dbx",
            ReclaimEnd::Skipped("active_since_request".into()),
        );
        b.add(
            Provider::Dropbox,
            "acme-dbx",
            ReclaimEnd::Failed("remove_refused".into()),
        );
        b.add(
            Provider::Box,
            "acme-box",
            ReclaimEnd::Skipped("dry_run".into()),
        );
        let lines = b.lines(Utc::now());
        for l in &lines {
            validate(l).unwrap();
        }
        let find = |kind: &str, profile: &str, reason: Option<&str>| {
            lines
                .iter()
                .find(|l| {
                    l["kind"] == kind
                        && l["Profile"] == profile
                        && reason.is_none_or(|r| l["Reason"] == r)
                })
                .cloned()
                .unwrap()
        };
        let r = find("reclaim", "acme-dbx", None);
        assert_eq!(
            (r["ReclaimsDone"].as_u64(), r["ReclaimsRetried"].as_u64()),
            (Some(2), Some(1))
        );
        assert_eq!(find("reclaim", "acme-box", None)["ReclaimsDone"], 0);
        let s = find("reclaim_outcome", "acme-dbx", Some("active_since_request"));
        assert_eq!(s["ReclaimsSkipped"], 2);
        assert!(s.get("ReclaimsFailed").is_none());
        assert_eq!(
            find("reclaim_outcome", "acme-dbx", Some("remove_refused"))["ReclaimsFailed"],
            1
        );
        assert_eq!(
            find("reclaim_outcome", "acme-box", Some("dry_run"))["ReclaimsSkipped"],
            1
        );
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn validate_rejects_broken_lines() {
        let good = json!({"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"seatkeeper",
            "Dimensions":[["Profile"]],"Metrics":[{"Name":"M","Unit":"Count"}]}]},"Profile":"p","M":1});
        validate(&good).unwrap();
        let mut bad = good.clone();
        bad["M"] = json!("1");
        assert!(validate(&bad).is_err());
        let mut bad = good.clone();
        bad["Profile"] = json!(5);
        assert!(validate(&bad).is_err());
        let mut bad = good;
        bad["_aws"]["Timestamp"] = json!("now");
        assert!(validate(&bad).is_err());
    }
}
