//! `seatctl report`: one profile's savings report, as one self-contained HTML file (inline CSS and
//! SVG charts, no script, no network, a Content-Security-Policy that forbids everything else) or
//! as JSON. Every figure comes from the same records `profile show`, `candidates`, `reclaims` and
//! `tasks` read, computed the same way, so the report and those commands agree.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use seatkeeper::domain::{
    Candidate, LicenseSummary, Profile, ReclaimRecord, ReclaimStatus, Seat, TaskKind, TaskRun,
    TaskStatus,
};
use seatkeeper::ports::{ReclaimRepo, RunRepo, SeatRepo};
use serde::Serialize;

use super::{parse_profile_id, Ctx};
use crate::error::CliError;
use crate::money::{format_minor, group_thousands};
use crate::output::{self, line, write_json};

/// How many task runs the history and the sync health read (a sync records 5 or 6).
const HISTORY_RUNS: usize = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML file (inline SVG charts, no scripts, no network).
    #[default]
    Html,
    /// The report's figures as JSON, for programs.
    Json,
}

#[derive(Debug, Args)]
#[command(after_help = "\
The HTML report is one file with everything inline (no scripts, fonts or network access), safe to
mail or attach to a ticket. Its figures are the ones `seatctl profile show`, `seatctl candidates`,
`seatctl reclaims` and `seatctl tasks` print. Money is per month, in the entitlement's currency.")]
pub struct ReportArgs {
    /// The profile id (see `seatctl profile list`).
    #[arg(value_parser = parse_profile_id, value_name = "ID")]
    pub id: String,
    /// Where to write the report; `-` writes to stdout. Default: `seatkeeper-report-<ID>.html`
    /// in the current directory for HTML, stdout for JSON.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// `html` (a file for people) or `json` (the same figures for programs).
    #[arg(long, value_enum, default_value_t)]
    pub format: ReportFormat,
}

// ------------------------------------------------------------------ the figures

#[derive(Debug, Serialize)]
pub struct Report {
    pub profile_id: String,
    pub profile_name: String,
    pub provider: String,
    pub generated_at: DateTime<Utc>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_sync_run: Option<String>,
    /// The reclamation rule in words, and its inactivity threshold.
    pub rule: String,
    pub threshold_days: u32,
    /// As `seatctl profile show` lists them.
    pub license_types: Vec<LicenseSummary>,
    pub totals: Totals,
    pub waste_trend: Vec<TrendPoint>,
    pub inactivity: Vec<Bucket>,
    pub candidates: Vec<CandidateEntry>,
    /// Sum of the candidates' monthly prices (what reclaiming them all would save).
    pub candidates_monthly_cents: u64,
    pub reclaims: Vec<ReclaimEntry>,
    pub reclaims_done: u64,
    /// Monthly price of the seats freed by done (not dry-run) reclaims, at today's prices:
    /// realised savings, counted only once the seat is removed.
    pub saved_monthly_cents: u64,
    /// Users suspended in the undo window (`suspend-first`): they still hold a license, so
    /// their price is pending, not saved.
    pub reclaims_suspended: u64,
    pub pending_monthly_cents: u64,
    pub sync_health: Vec<TaskHealth>,
    /// The currency of every amount, when the profile uses one (else `mixed` or absent).
    pub currency: Option<String>,
}

/// The managed license types added up (as the `sync` metric line does).
#[derive(Debug, Default, Serialize)]
pub struct Totals {
    pub purchased: u64,
    pub assigned: u64,
    pub active: u64,
    pub inactive: u64,
    pub never_logged_in: u64,
    pub unassigned: u64,
    pub monthly_cost_cents: Option<u64>,
    pub monthly_waste_cents: Option<u64>,
}

/// One finished sync: its managed seats and waste, from the counts its License Information task
/// recorded (`type: purchased P assigned A active N`), priced at today's entitlement prices.
#[derive(Debug, Serialize)]
pub struct TrendPoint {
    pub run_id: String,
    pub at: DateTime<Utc>,
    pub assigned: u64,
    pub active: u64,
    pub monthly_waste_cents: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct Bucket {
    pub label: String,
    /// Days since last activity, inclusive bounds (`to_days` absent: no upper bound).
    pub from_days: i64,
    pub to_days: Option<i64>,
    pub seats: u64,
}

#[derive(Debug, Serialize)]
pub struct CandidateEntry {
    pub user_id: String,
    pub login: String,
    pub name: String,
    pub license_type: String,
    pub inactive_days: i64,
    pub last_login: Option<DateTime<Utc>>,
    pub last_login_event: Option<String>,
    pub rule: String,
    pub threshold_days: u32,
    pub monthly_price_cents: Option<u64>,
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ReclaimEntry {
    pub request_id: String,
    pub user_id: String,
    pub login: Option<String>,
    pub status: String,
    pub dry_run: bool,
    pub reason_code: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub license_type: Option<String>,
    pub monthly_price_cents: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct TaskHealth {
    pub task: String,
    pub runs: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub skipped: u64,
    pub last_status: String,
    pub last_ended_at: Option<DateTime<Utc>>,
    pub avg_duration_ms: u64,
    pub api_calls: u64,
    pub throttled: u64,
    pub retries: u64,
    pub last_error: Option<String>,
}

pub async fn run(ctx: &Ctx, a: ReportArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let p = ctx.profile(&a.id).await?;
    let summaries = ctx.store.seats.license_summaries(&p.id).await?;
    let candidates = ctx.store.seats.list_candidates(&p.id).await?;
    let seats = ctx.store.seats.list(&p.id).await?;
    let reclaims = ctx.store.reclaims.list(&p.id).await?;
    let runs = ctx.store.runs.task_runs(&p.id, HISTORY_RUNS).await?;
    let report = build(&p, summaries, candidates, &seats, reclaims, &runs, ctx.now);
    let body = match a.format {
        ReportFormat::Json => {
            let mut v =
                serde_json::to_vec_pretty(&report).map_err(|e| CliError::Encode(e.to_string()))?;
            v.push(b'\n');
            v
        }
        ReportFormat::Html => html(&report).into_bytes(),
    };
    let path = match (&a.out, a.format) {
        (Some(p), _) if p.as_os_str() == "-" => None,
        (Some(p), _) => Some(p.clone()),
        (None, ReportFormat::Json) => None,
        (None, ReportFormat::Html) => {
            Some(PathBuf::from(format!("seatkeeper-report-{}.html", p.id)))
        }
    };
    match path {
        None if a.format == ReportFormat::Json => write_json(out, &report),
        None => out.write_all(&body).map_err(CliError::Output),
        Some(path) => {
            std::fs::write(&path, &body).map_err(|e| CliError::Io {
                context: "could not write the report",
                source: e,
            })?;
            let shown = std::fs::canonicalize(&path).unwrap_or(path);
            line(out, format!("report written to {}", shown.display()))
        }
    }
}

/// The report from the stored records (pure: unit-tested without AWS).
pub fn build(
    p: &Profile,
    mut summaries: Vec<LicenseSummary>,
    mut candidates: Vec<Candidate>,
    seats: &[Seat],
    mut reclaims: Vec<ReclaimRecord>,
    runs: &[TaskRun],
    now: DateTime<Utc>,
) -> Report {
    summaries.sort_by(|a, b| a.license_type.cmp(&b.license_type));
    candidates.sort_by_key(|c| std::cmp::Reverse(c.evidence.inactive_days));
    reclaims.sort_by_key(|r| std::cmp::Reverse(r.updated_at));

    // totals over the managed types, money only in one currency
    let managed: Vec<&LicenseSummary> = summaries.iter().filter(|s| s.managed).collect();
    let sum = |f: fn(&LicenseSummary) -> u64| managed.iter().map(|s| f(s)).sum::<u64>();
    let currencies: std::collections::BTreeSet<&str> = managed
        .iter()
        .filter(|s| s.unit_price_cents.is_some())
        .map(|s| s.currency.as_deref().unwrap_or("USD"))
        .collect();
    let entitled_currencies: std::collections::BTreeSet<&str> = p
        .entitlements
        .iter()
        .filter(|e| e.unit_price_cents.is_some())
        .map(|e| e.currency.as_deref().unwrap_or("USD"))
        .collect();
    let currency = match (currencies.len(), entitled_currencies.len()) {
        (1, _) => currencies.iter().next().map(|c| (*c).to_owned()),
        (0, 1) => entitled_currencies.iter().next().map(|c| (*c).to_owned()),
        (0, 0) => None,
        _ => Some("mixed".to_owned()),
    };
    let one_currency = currency.as_deref().is_some_and(|c| c != "mixed");
    let money = |f: fn(&LicenseSummary) -> Option<u64>| {
        (one_currency && managed.iter().any(|s| f(s).is_some()))
            .then(|| managed.iter().filter_map(|s| f(s)).sum::<u64>())
    };
    let totals = Totals {
        purchased: sum(|s| u64::from(s.purchased.unwrap_or(0))),
        assigned: sum(|s| u64::from(s.assigned)),
        active: sum(|s| u64::from(s.active)),
        inactive: sum(|s| u64::from(s.inactive)),
        never_logged_in: sum(|s| u64::from(s.never_logged_in)),
        unassigned: sum(|s| u64::from(s.unassigned.unwrap_or(0))),
        monthly_cost_cents: money(|s| s.monthly_cost_cents),
        monthly_waste_cents: money(|s| s.monthly_waste_cents),
    };

    // waste over the recorded syncs, oldest first
    let price_of = |t: &str| {
        p.entitlement(t)
            .and_then(|e| e.unit_price_cents)
            .filter(|_| one_currency)
    };
    let mut waste_trend: Vec<TrendPoint> = runs
        .iter()
        .filter(|r| r.task == TaskKind::LicenseInformation && r.status == TaskStatus::Succeeded)
        .filter_map(|r| {
            let mut point = TrendPoint {
                run_id: r.run_id.clone(),
                at: r.ended_at.unwrap_or(r.started_at),
                assigned: 0,
                active: 0,
                monthly_waste_cents: None,
            };
            for (t, purchased, assigned, active) in parse_license_detail(r.detail.as_deref()?) {
                if !p.manages(&t) {
                    continue;
                }
                point.assigned += assigned;
                point.active += active;
                if let Some(price) = price_of(&t) {
                    let idle = assigned.saturating_sub(active)
                        + purchased.map_or(0, |n| n.saturating_sub(assigned));
                    *point.monthly_waste_cents.get_or_insert(0) += price * idle;
                }
            }
            Some(point)
        })
        .collect();
    waste_trend.sort_by_key(|t| t.at);

    // inactivity distribution of present managed seats
    let threshold = p.rules.inactive_days;
    let bounds: [(i64, Option<i64>); 8] = [
        (0, Some(7)),
        (8, Some(30)),
        (31, Some(60)),
        (61, Some(90)),
        (91, Some(180)),
        (181, Some(365)),
        (366, Some(730)),
        (731, None),
    ];
    let mut inactivity: Vec<Bucket> = bounds
        .iter()
        .map(|&(from, to)| Bucket {
            label: match to {
                Some(to) => format!("{from}–{to}"),
                None => format!("{from}+"),
            },
            from_days: from,
            to_days: to,
            seats: 0,
        })
        .collect();
    for s in seats
        .iter()
        .filter(|s| s.removed_at.is_none() && s.license_managed)
    {
        let d = s.inactive_days(now).max(0);
        if let Some(b) = inactivity
            .iter_mut()
            .find(|b| d >= b.from_days && b.to_days.is_none_or(|t| d <= t))
        {
            b.seats += 1;
        }
    }

    let candidates: Vec<CandidateEntry> = candidates
        .iter()
        .map(|c| {
            let l = c.evidence.last_login.as_ref();
            CandidateEntry {
                user_id: c.user_id.clone(),
                login: c.login.clone(),
                name: c.name.clone(),
                license_type: c.license_type.clone(),
                inactive_days: c.evidence.inactive_days,
                last_login: l.map(|l| l.at),
                last_login_event: l.map(|l| format!("{} {}", l.event_type, l.event_id)),
                rule: c.evidence.rule.clone(),
                threshold_days: c.evidence.threshold_days,
                monthly_price_cents: c.unit_price_cents,
                request_id: c.request_id.clone(),
            }
        })
        .collect();
    let candidates_monthly_cents = candidates
        .iter()
        .filter_map(|c| c.monthly_price_cents)
        .sum();

    let license_of: BTreeMap<&str, &str> = seats
        .iter()
        .map(|s| (s.user_id.as_str(), s.license_type.as_str()))
        .collect();
    let reclaims: Vec<ReclaimEntry> = reclaims
        .iter()
        .map(|r| {
            let license_type = r
                .evidence
                .as_ref()
                .map(|e| e.license_type.clone())
                .or_else(|| {
                    license_of
                        .get(r.request.user_id.as_str())
                        .map(|t| (*t).to_owned())
                });
            ReclaimEntry {
                request_id: r.request.request_id.to_string(),
                user_id: r.request.user_id.to_string(),
                login: r.login.clone(),
                status: r.status.as_str().to_owned(),
                dry_run: r.request.dry_run,
                reason_code: r.reason_code.clone(),
                updated_at: r.updated_at,
                monthly_price_cents: license_type.as_deref().and_then(&price_of),
                license_type,
            }
        })
        .collect();
    let done: Vec<&ReclaimEntry> = reclaims
        .iter()
        .filter(|r| r.status == ReclaimStatus::Done.as_str() && !r.dry_run)
        .collect();
    let reclaims_done = done.len() as u64;
    let saved_monthly_cents = done.iter().filter_map(|r| r.monthly_price_cents).sum();
    // a suspended Dropbox member (or inactive Box user) still uses a license
    let suspended: Vec<&ReclaimEntry> = reclaims
        .iter()
        .filter(|r| {
            !r.dry_run
                && (r.status == ReclaimStatus::Suspended.as_str()
                    || r.status == ReclaimStatus::Suspending.as_str())
        })
        .collect();
    let reclaims_suspended = suspended.len() as u64;
    let pending_monthly_cents = suspended.iter().filter_map(|r| r.monthly_price_cents).sum();

    Report {
        profile_id: p.id.clone(),
        profile_name: p.name.clone(),
        provider: p.provider.to_string(),
        generated_at: now,
        last_sync_at: p.last_sync.as_ref().map(|s| s.finished_at),
        last_sync_run: p.last_sync.as_ref().map(|s| s.run_id.clone()),
        rule: p.rules.describe(),
        threshold_days: threshold,
        license_types: summaries,
        totals,
        waste_trend,
        inactivity,
        candidates,
        candidates_monthly_cents,
        reclaims,
        reclaims_done,
        saved_monthly_cents,
        reclaims_suspended,
        pending_monthly_cents,
        sync_health: health(runs),
        currency,
    }
}

/// `business_plus: purchased 220 assigned 200 active 150; …` → (type, purchased, assigned, active).
fn parse_license_detail(detail: &str) -> Vec<(String, Option<u64>, u64, u64)> {
    detail
        .split("; ")
        .filter_map(|part| {
            let (t, rest) = part.rsplit_once(": ")?;
            let w: Vec<&str> = rest.split_whitespace().collect();
            match w.as_slice() {
                ["purchased", p, "assigned", a, "active", n] => Some((
                    t.to_owned(),
                    p.parse().ok(),
                    a.parse().ok()?,
                    n.parse().ok()?,
                )),
                _ => None,
            }
        })
        .collect()
}

fn health(runs: &[TaskRun]) -> Vec<TaskHealth> {
    // the sync's own task order (the reclaim function's Reclamation runs land in the same row)
    seatkeeper::sync::ORDER
        .iter()
        .filter_map(|&kind| {
            let mut of: Vec<&TaskRun> = runs.iter().filter(|r| r.task == kind).collect();
            if of.is_empty() {
                return None;
            }
            of.sort_by_key(|r| std::cmp::Reverse(r.started_at));
            let count = |s: TaskStatus| of.iter().filter(|r| r.status == s).count() as u64;
            let ran: Vec<&&TaskRun> = of
                .iter()
                .filter(|r| r.status != TaskStatus::Skipped)
                .collect();
            let durations: Vec<u64> = ran.iter().filter_map(|r| r.duration_ms).collect();
            Some(TaskHealth {
                task: kind.label().to_owned(),
                runs: of.len() as u64,
                succeeded: count(TaskStatus::Succeeded),
                failed: count(TaskStatus::Failed),
                skipped: count(TaskStatus::Skipped),
                last_status: status_label(of[0].status).to_owned(),
                last_ended_at: of[0].ended_at,
                avg_duration_ms: if durations.is_empty() {
                    0
                } else {
                    durations.iter().sum::<u64>() / durations.len() as u64
                },
                api_calls: of.iter().map(|r| r.counts.api_calls).sum(),
                throttled: of.iter().map(|r| r.counts.throttled).sum(),
                retries: of.iter().map(|r| r.counts.retries).sum(),
                last_error: of.iter().find_map(|r| r.error.clone()),
            })
        })
        .collect()
}

fn status_label(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::Running => "running",
        TaskStatus::Succeeded => "succeeded",
        TaskStatus::Failed => "failed",
        TaskStatus::Skipped => "skipped",
    }
}

// ------------------------------------------------------------------ HTML

/// Escapes text for HTML element content and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#1f2933;padding:0 16px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d9e2ec;padding-bottom:4px}
.muted{color:#627d98;font-size:13px}
.kpis{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.kpi{border:1px solid #d9e2ec;border-radius:8px;padding:10px 14px;min-width:150px}
.kpi .v{font-size:22px;font-weight:600}.kpi .l{font-size:12px;color:#627d98}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f7fa}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1f7a4d}.bad{color:#b3261e}
svg text{font-family:inherit;font-size:11px;fill:#334e68}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}";

const C_PURCHASED: &str = "#9fb3c8";
const C_ASSIGNED: &str = "#2680c2";
const C_ACTIVE: &str = "#27ab83";
const C_WASTE: &str = "#d64545";
const C_BAR: &str = "#627d98";

fn money(cents: Option<u64>, currency: Option<&str>) -> String {
    match cents {
        Some(c) => format_minor(c, currency.filter(|c| *c != "mixed")),
        None => "–".into(),
    }
}

fn n(v: u64) -> String {
    group_thousands(v)
}

/// The whole HTML document (every value escaped).
pub fn html(r: &Report) -> String {
    let cur = r.currency.as_deref();
    let mut h = String::with_capacity(64 * 1024);
    let title = format!("seatkeeper report: {}", r.profile_id);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{CSS}</style></head><body>\n",
        esc(&title)
    );
    let _ = write!(
        h,
        "<h1>{} <span class=\"muted\">({} · {})</span></h1>\n<p class=\"muted\">Generated {} UTC · last finished sync {} · rule: {}</p>\n",
        esc(&r.profile_name),
        esc(&r.profile_id),
        esc(&r.provider),
        esc(&output::datetime(r.generated_at)),
        esc(&r
            .last_sync_at
            .map(|t| format!("{} UTC", output::datetime(t)))
            .unwrap_or_else(|| "never".into())),
        esc(&r.rule)
    );

    // key figures
    let t = &r.totals;
    let kpis = [
        (
            "kpi-waste",
            "monthly waste",
            money(t.monthly_waste_cents, cur),
        ),
        ("kpi-cost", "monthly cost", money(t.monthly_cost_cents, cur)),
        ("kpi-assigned", "seats assigned", n(t.assigned)),
        ("kpi-active", "active seats", n(t.active)),
        (
            "kpi-candidates",
            "reclaim candidates",
            n(r.candidates.len() as u64),
        ),
        (
            "kpi-saved",
            "saved per month (reclaimed)",
            money(Some(r.saved_monthly_cents), cur),
        ),
        (
            "kpi-pending",
            "pending per month (suspended, undo window)",
            format!(
                "{} ({} seat(s))",
                money(Some(r.pending_monthly_cents), cur),
                r.reclaims_suspended
            ),
        ),
    ];
    h.push_str("<div class=\"kpis\">");
    for (id, label, value) in kpis {
        let _ = write!(
            h,
            "<div class=\"kpi\" id=\"{id}\"><div class=\"v\">{}</div><div class=\"l\">{}</div></div>",
            esc(&value),
            esc(label)
        );
    }
    h.push_str("</div>\n");

    // purchased vs assigned vs active
    h.push_str("<h2>Purchased vs assigned vs active, per license type</h2>\n");
    h.push_str(&license_chart(&r.license_types));
    h.push_str("<table id=\"license-types\"><tr><th>license type</th><th>managed</th><th class=\"n\">purchased</th><th class=\"n\">assigned</th><th class=\"n\">active</th><th class=\"n\">inactive</th><th class=\"n\">never logged in</th><th class=\"n\">unassigned</th><th class=\"n\">monthly cost</th><th class=\"n\">monthly waste</th></tr>\n");
    for s in &r.license_types {
        let c = s.currency.as_deref();
        let o = |v: Option<u32>| v.map(|v| n(u64::from(v))).unwrap_or_else(|| "–".into());
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&s.license_type),
            if s.managed { "yes" } else { "no" },
            o(s.purchased),
            n(u64::from(s.assigned)),
            n(u64::from(s.active)),
            n(u64::from(s.inactive)),
            n(u64::from(s.never_logged_in)),
            o(s.unassigned),
            esc(&money(s.monthly_cost_cents, c)),
            esc(&money(s.monthly_waste_cents, c)),
        );
    }
    h.push_str("</table>\n<p class=\"muted\">Active: a login in the last ");
    let _ = writeln!(
        h,
        "{} days (as <code>seatctl profile show</code>). Waste: (inactive + unassigned seats) × price.</p>",
        r.license_types.first().map_or(30, |s| s.inactive_after_days)
    );

    // waste trend
    h.push_str("<h2>Monthly waste over the recorded syncs</h2>\n");
    h.push_str(&trend_chart(&r.waste_trend, cur));
    h.push_str("<p class=\"muted\">One point per finished sync still in the task history, from the seat counts its License Information task recorded, priced at today's entitlement prices (the store keeps only the latest license summary).</p>\n");

    // inactivity distribution
    h.push_str("<h2>Days since last activity</h2>\n");
    h.push_str(&inactivity_chart(&r.inactivity, r.threshold_days));
    let _ = writeln!(
        h,
        "<p class=\"muted\">Present managed seats by days since their last activity (a seat never active counts from its creation). The dashed line is the rule's threshold: {} days.</p>",
        r.threshold_days
    );

    // candidates
    let _ = writeln!(
        h,
        "<h2>Reclaim candidates ({}; {} per month)</h2>",
        n(r.candidates.len() as u64),
        esc(&money(Some(r.candidates_monthly_cents), cur))
    );
    if r.candidates.is_empty() {
        h.push_str("<p>No candidates after the last finished sync.</p>\n");
    } else {
        h.push_str("<table id=\"candidates\"><tr><th>user</th><th>login</th><th>name</th><th>license</th><th class=\"n\">inactive</th><th>last login (event)</th><th>rule</th><th class=\"n\">price / month</th><th>request</th></tr>\n");
        for c in &r.candidates {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{} d</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                esc(&c.user_id),
                esc(&c.login),
                esc(&c.name),
                esc(&c.license_type),
                c.inactive_days,
                esc(&match (&c.last_login, &c.last_login_event) {
                    (Some(at), Some(ev)) => format!("{} ({ev})", output::date(*at)),
                    _ => "never".into(),
                }),
                esc(&c.rule),
                esc(&money(c.monthly_price_cents, cur)),
                esc(c.request_id.as_deref().unwrap_or("–")),
            );
        }
        h.push_str("</table>\n");
    }

    // reclaims
    let _ = writeln!(
        h,
        "<h2>Reclaims ({} done; {} per month saved)</h2>",
        n(r.reclaims_done),
        esc(&money(Some(r.saved_monthly_cents), cur))
    );
    if r.reclaims.is_empty() {
        h.push_str("<p>No reclaim requests yet.</p>\n");
    } else {
        h.push_str("<table id=\"reclaims\"><tr><th>updated (UTC)</th><th>user</th><th>login</th><th>status</th><th>reason</th><th>license</th><th class=\"n\">price / month</th></tr>\n");
        for x in &r.reclaims {
            let status = if x.dry_run {
                format!("{} (dry run)", x.status)
            } else {
                x.status.clone()
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                esc(&output::datetime(x.updated_at)),
                esc(&x.user_id),
                esc(x.login.as_deref().unwrap_or("–")),
                esc(&status),
                esc(x.reason_code.as_deref().unwrap_or("–")),
                esc(x.license_type.as_deref().unwrap_or("–")),
                esc(&money(x.monthly_price_cents, cur)),
            );
        }
        h.push_str("</table>\n");
    }

    // sync health
    h.push_str("<h2>Sync health per task</h2>\n");
    h.push_str("<table id=\"sync-health\"><tr><th>task</th><th class=\"n\">runs</th><th class=\"n\">succeeded</th><th class=\"n\">failed</th><th class=\"n\">skipped</th><th>last</th><th class=\"n\">avg duration</th><th class=\"n\">API calls</th><th class=\"n\">429s</th><th class=\"n\">retries</th><th>last error</th></tr>\n");
    for t in &r.sync_health {
        let cls = if t.last_status == "failed" {
            "bad"
        } else {
            "ok"
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"{cls}\">{}</td><td class=\"n\">{:.1} s</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&t.task),
            n(t.runs),
            n(t.succeeded),
            n(t.failed),
            n(t.skipped),
            esc(&t.last_status),
            t.avg_duration_ms as f64 / 1000.0,
            n(t.api_calls),
            n(t.throttled),
            n(t.retries),
            esc(t.last_error.as_deref().unwrap_or("–")),
        );
    }
    h.push_str("</table>\n<p class=\"muted\">From the task runs in the table's history (<code>seatctl tasks</code>).</p>\n</body></html>\n");
    h
}

fn license_chart(types: &[LicenseSummary]) -> String {
    let max = types
        .iter()
        .map(|s| s.purchased.unwrap_or(0).max(s.assigned))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    // room on the right for the longest label ("purchased 1,000,000")
    let (label_w, bar_w, row_h) = (160.0, 680.0, 54.0);
    let height = 30.0 + row_h * types.len() as f64;
    let mut s = format!(
        "<svg id=\"chart-licenses\" role=\"img\" aria-label=\"purchased, assigned and active seats per license type\" width=\"1000\" height=\"{height}\" viewBox=\"0 0 1000 {height}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for (i, t) in types.iter().enumerate() {
        let y = 10.0 + row_h * i as f64;
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\">{}</text>",
            y + 26.0,
            esc(&t.license_type)
        );
        for (j, (v, color, name)) in [
            (t.purchased.unwrap_or(0), C_PURCHASED, "purchased"),
            (t.assigned, C_ASSIGNED, "assigned"),
            (t.active, C_ACTIVE, "active"),
        ]
        .into_iter()
        .enumerate()
        {
            let w = bar_w * f64::from(v) / max;
            let by = y + 14.0 * j as f64;
            let _ = write!(
                s,
                "<rect x=\"{label_w}\" y=\"{by}\" width=\"{w:.1}\" height=\"12\" fill=\"{color}\"><title>{name}: {v}</title></rect><text x=\"{:.1}\" y=\"{}\">{name} {}</text>",
                label_w + w + 4.0,
                by + 10.0,
                n(u64::from(v))
            );
        }
    }
    s.push_str("</svg>\n");
    s.push_str(&format!(
        "<div class=\"legend\"><span><i class=\"sw\" style=\"background:{C_PURCHASED}\"></i>purchased</span><span><i class=\"sw\" style=\"background:{C_ASSIGNED}\"></i>assigned</span><span><i class=\"sw\" style=\"background:{C_ACTIVE}\"></i>active</span></div>\n"
    ));
    s
}

fn trend_chart(points: &[TrendPoint], cur: Option<&str>) -> String {
    let values: Vec<(DateTime<Utc>, u64)> = points
        .iter()
        .filter_map(|p| p.monthly_waste_cents.map(|w| (p.at, w)))
        .collect();
    if values.is_empty() {
        return "<p id=\"chart-trend\">No priced syncs recorded yet (set a price with <code>seatctl entitlement set</code>).</p>\n".into();
    }
    let (w, hgt, left, top, bottom) = (1000.0, 220.0, 110.0, 14.0, 40.0);
    let max = values.iter().map(|v| v.1).max().unwrap_or(0).max(1) as f64;
    let plot_w = w - left - 20.0;
    let plot_h = hgt - top - bottom;
    let x = |i: usize| {
        if values.len() == 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (values.len() - 1) as f64
        }
    };
    let y = |v: u64| top + plot_h * (1.0 - v as f64 / max);
    let mut s = format!(
        "<svg id=\"chart-trend\" role=\"img\" aria-label=\"monthly waste per sync\" width=\"{w}\" height=\"{hgt}\" viewBox=\"0 0 {w} {hgt}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"#bcccdc\"/><line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#bcccdc\"/>",
        top + plot_h,
        top + plot_h,
        left + plot_w,
        top + plot_h
    );
    let _ = write!(
        s,
        "<text x=\"0\" y=\"{}\">{}</text><text x=\"0\" y=\"{}\">{}</text>",
        top + 8.0,
        esc(&format_minor(max as u64, cur)),
        top + plot_h,
        esc(&format_minor(0, cur))
    );
    let path: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(v.1)))
        .collect();
    let _ = write!(
        s,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{C_WASTE}\" stroke-width=\"2\"/>",
        path.join(" ")
    );
    let step = values.len().div_ceil(8).max(1);
    for (i, v) in values.iter().enumerate() {
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{C_WASTE}\"><title>{}: {}</title></circle>",
            x(i),
            y(v.1),
            esc(&output::datetime(v.0)),
            esc(&format_minor(v.1, cur))
        );
        if i % step == 0 || i + 1 == values.len() {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x(i),
                top + plot_h + 16.0,
                esc(&v.0.format("%m-%d %H:%M").to_string())
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

fn inactivity_chart(buckets: &[Bucket], threshold: u32) -> String {
    let (w, hgt, left, top, bottom) = (1000.0, 240.0, 40.0, 20.0, 40.0);
    let max = buckets.iter().map(|b| b.seats).max().unwrap_or(0).max(1) as f64;
    let slot = (w - left - 20.0) / buckets.len().max(1) as f64;
    let plot_h = hgt - top - bottom;
    let mut s = format!(
        "<svg id=\"chart-inactivity\" role=\"img\" aria-label=\"seats by days since last activity\" width=\"{w}\" height=\"{hgt}\" viewBox=\"0 0 {w} {hgt}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for (i, b) in buckets.iter().enumerate() {
        let bh = plot_h * b.seats as f64 / max;
        let x = left + slot * i as f64 + 6.0;
        let over = b.from_days > i64::from(threshold);
        let color = if over { C_WASTE } else { C_BAR };
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{color}\"><title>{} days: {} seats</title></rect><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text><text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{} d</text>",
            top + plot_h - bh,
            slot - 12.0,
            esc(&b.label),
            b.seats,
            x + (slot - 12.0) / 2.0,
            top + plot_h - bh - 4.0,
            n(b.seats),
            x + (slot - 12.0) / 2.0,
            top + plot_h + 16.0,
            esc(&b.label)
        );
    }
    // the threshold, placed inside its bucket by linear interpolation
    let t = i64::from(threshold);
    if let Some((i, b)) = buckets
        .iter()
        .enumerate()
        .find(|(_, b)| t >= b.from_days && b.to_days.is_none_or(|to| t <= to))
    {
        let span = b.to_days.map_or(1.0, |to| (to - b.from_days + 1) as f64);
        let frac = ((t - b.from_days) as f64 + 1.0) / span;
        let x = left + slot * i as f64 + 6.0 + (slot - 12.0) * frac.min(1.0);
        let _ = write!(
            s,
            "<line id=\"threshold\" x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"{C_WASTE}\" stroke-dasharray=\"5,4\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{}\">threshold {threshold} d</text>",
            top - 10.0,
            top + plot_h,
            x + 4.0,
            top - 2.0
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_matters() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("a\u{7}b"), "ab");
    }

    #[test]
    fn parses_the_license_information_detail() {
        let d = "business_plus: purchased 220 assigned 200 active 150; enterprise: purchased ? assigned 3 active 1";
        assert_eq!(
            parse_license_detail(d),
            vec![
                ("business_plus".into(), Some(220), 200, 150),
                ("enterprise".into(), None, 3, 1)
            ]
        );
        assert!(parse_license_detail("garbage").is_empty());
    }

    #[test]
    fn savings_are_realised_only_after_the_removal_and_suspended_seats_are_pending() {
        use seatkeeper::domain::{Provider, ReclaimRequest};
        let now = Utc::now();
        let mut p = Profile::new_box(
            "acme",
            "Acme",
            "1",
            seatkeeper::domain::BoxPlan::Business,
            now,
        )
        .unwrap();
        p.entitlements = vec![seatkeeper::domain::Entitlement {
            license_type: "business".into(),
            purchased: 10,
            unit_price_cents: Some(2000),
            currency: Some("USD".into()),
        }];
        let rec = |user: &str, status: ReclaimStatus| {
            let req = ReclaimRequest::new("acme", user, false, "t", None);
            let mut r = ReclaimRecord::new(req, Provider::Box, now);
            r.evidence = Some(seatkeeper::domain::rules::Evidence {
                rule: "r".into(),
                threshold_days: 60,
                inactive_days: 90,
                last_login: None,
                inactive_since: now,
                license_type: "business".into(),
                evaluated_at: now,
                last_activity: None,
                activity: Default::default(),
                observed_since: None,
            });
            r.status = status;
            r
        };
        let reclaims = vec![
            rec("1", ReclaimStatus::Done),
            rec("2", ReclaimStatus::Suspended),
            rec("3", ReclaimStatus::Suspending),
            rec("4", ReclaimStatus::Restored),
        ];
        let r = build(&p, vec![], vec![], &[], reclaims, &[], now);
        assert_eq!((r.reclaims_done, r.saved_monthly_cents), (1, 2000));
        assert_eq!((r.reclaims_suspended, r.pending_monthly_cents), (2, 4000));
        let page = html(&r);
        assert!(page.contains("pending per month (suspended, undo window)"));
    }

    #[test]
    fn an_empty_profile_renders_a_complete_page_without_scripts() {
        let p = Profile::new_box(
            "acme",
            "Acme <Corp>",
            "1",
            seatkeeper::domain::BoxPlan::Business,
            Utc::now(),
        )
        .unwrap();
        let r = build(&p, vec![], vec![], &[], vec![], &[], Utc::now());
        let page = html(&r);
        assert!(page.contains("Acme &lt;Corp&gt;"));
        assert!(!page.contains("<script"));
        // nothing is loaded: no script, no src or href, no external URL
        for banned in ["src=", "href=", "https://", "@import", "url("] {
            assert!(!page.contains(banned), "{banned}");
        }
        assert!(page.ends_with("</html>\n"));
        assert_eq!(r.totals.assigned, 0);
        assert!(r.inactivity.iter().all(|b| b.seats == 0));
    }
}
