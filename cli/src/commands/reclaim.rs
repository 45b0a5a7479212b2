//! Reclamation commands: `rules`, `candidates`, `approve`, `reclaim`, `pause` / `resume` and
//! `reclaims` (the audit trail).
use std::io::Write;

use clap::{Args, Subcommand};
use seatkeeper::candidates;
use seatkeeper::domain::rules::{evaluate, NeverLoggedIn, SeatFacts, Verdict};
use seatkeeper::domain::{ActivityScope, RemovalMode};
use seatkeeper::domain::{
    Approval, Profile, ReclaimMode, ReclaimRecord, ReclaimRequest, ReclaimRules, ReclaimStatus,
};
use seatkeeper::domain::{Candidate, RuleSeat};
use seatkeeper::ports::{ProfileRepo, ReclaimRepo, SeatRepo};
use seatkeeper::queue::ReclaimQueue;
use seatkeeper::wiring::reclaim_queue;
use serde::Serialize;

use super::{parse_profile_id, parse_text, Ctx};
use crate::error::CliError;
use crate::money::format_minor;
use crate::output::{self, line, write_csv, write_json, write_table, Format, RowFormat};

// ------------------------------------------------------------------- rules

/// `--reminder-days 3,1` (a newtype: clap would otherwise read a `Vec` as repeated values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderDays(pub Vec<u32>);

fn parse_reminder_days(s: &str) -> Result<ReminderDays, String> {
    let mut days = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let d: u32 = part
            .parse()
            .map_err(|_| format!("{part:?} is not a whole number of days"))?;
        if d == 0 || d > 365 {
            return Err(format!(
                "{d}: a reminder is 1 to 365 days before the due date"
            ));
        }
        if !days.contains(&d) {
            days.push(d);
        }
    }
    days.sort_unstable_by(|a, b| b.cmp(a));
    Ok(ReminderDays(days))
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Show a profile's reclamation rules
    Show {
        /// The profile id (see `seatctl profile list`).
        #[arg(value_parser = parse_profile_id)]
        id: String,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// Change a profile's reclamation rules (only the options given change)
    Set(RulesSetArgs),
}

#[derive(Debug, Args)]
pub struct RulesSetArgs {
    /// The profile id (see `seatctl profile list`).
    #[arg(value_parser = parse_profile_id)]
    pub id: String,
    /// A seat with no login for this many days is a candidate.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub inactive_days: Option<u32>,
    /// Accounts created / joined less than this many days ago are never candidates.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(0..=3650))]
    pub grace_days: Option<u32>,
    /// Users who never logged in: `since-created` (inactive since created / joined) or `exempt`.
    #[arg(long, value_name = "POLICY", value_parser = |s: &str| s.parse::<NeverLoggedIn>())]
    pub never_logged_in: Option<NeverLoggedIn>,
    /// License types in scope (repeatable). Default: the profile's managed types.
    #[arg(long = "license-type", value_name = "TYPE", value_parser = super::parse_license_type)]
    pub license_types: Vec<String>,
    /// Put every managed license type back in scope.
    #[arg(long, conflicts_with = "license_types")]
    pub all_license_types: bool,
    /// Never reclaim this login (repeatable).
    #[arg(long = "exempt", value_name = "LOGIN", value_parser = parse_text)]
    pub exempt: Vec<String>,
    /// Remove a login from the exemption list (repeatable).
    #[arg(long = "unexempt", value_name = "LOGIN", value_parser = parse_text)]
    pub unexempt: Vec<String>,
    /// Box: the admin user id that receives reclaimed users' content.
    #[arg(long, value_name = "USER_ID", value_parser = parse_text)]
    pub transfer_to: Option<String>,
    /// report (list only), approve (wait for `seatctl approve`), auto (enqueue after each sync),
    /// notify (email each candidate a notice with a keep link; enqueue after `--notice-days`).
    #[arg(long, value_parser = |s: &str| s.parse::<ReclaimMode>())]
    pub mode: Option<ReclaimMode>,
    /// Notify mode: days between the notice and the reclaim.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(0..=365))]
    pub notice_days: Option<u32>,
    /// Notify mode: reminders this many days before the due date, comma-separated (e.g. 3,1;
    /// an empty value sends none).
    #[arg(long, value_name = "DAYS,...", value_parser = parse_reminder_days)]
    pub reminder_days: Option<ReminderDays>,
    /// Blast-radius cap: at most this many reclaims per run and per day.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub max_per_run: Option<u32>,
    /// Blast-radius cap: at most this percentage of the profile's seats per run and per day.
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(0..=100))]
    pub max_percent: Option<u32>,
    /// Which activity keeps a seat: `any` (logins, content events, client sessions; the
    /// default) or `logins` (cheaper on huge tenants; candidates then say "logins only").
    #[arg(long, value_name = "any|logins", value_parser = |s: &str| s.parse::<ActivityScope>())]
    pub activity: Option<ActivityScope>,
    /// How a reclaim takes the seat: `immediate` (transfer and remove; the default) or
    /// `suspend-first` (suspend now, transfer and remove after --suspend-days; `seatctl
    /// restore` undoes it meanwhile).
    #[arg(long, value_name = "immediate|suspend-first", value_parser = |s: &str| s.parse::<RemovalMode>())]
    pub removal: Option<RemovalMode>,
    /// The undo window of `--removal suspend-first`, in days (default 14).
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(0..=365))]
    pub suspend_days: Option<u32>,
    /// Roster guard: a sync may mark at most this many seats removed at once (or the
    /// percentage below, whichever is larger); more is held for `seatctl sync ID
    /// --accept-removals`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub removal_guard_seats: Option<u32>,
    /// Roster guard: the percentage of the profile's seats a sync may mark removed at once.
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(0..=100))]
    pub removal_guard_percent: Option<u32>,
}

pub async fn rules(ctx: &Ctx, c: RulesCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match c {
        RulesCommand::Show { id, output } => {
            let p = ctx.profile(&id).await?;
            show_rules(ctx, &p, output, out)
        }
        RulesCommand::Set(a) => {
            let id = a.id.clone();
            let p = ctx
                .store
                .profiles
                .update(&id, |p: &mut Profile| {
                    apply_rules(&mut p.rules, &a);
                    if let Some(n) = a.removal_guard_seats {
                        p.roster_guard.min_seats = n;
                    }
                    if let Some(n) = a.removal_guard_percent {
                        p.roster_guard.percent = n;
                    }
                    Ok::<_, CliError>(p.clone())
                })
                .await?
                .ok_or_else(|| CliError::UnknownProfile(id.clone()))?;
            if a.notice_days == Some(0) {
                // allowed (trials, demos), but the person has no time to answer
                eprintln!(
                    "warning: --notice-days 0: notices are due at once and the next sync enqueues them; users cannot keep their license in time"
                );
            }
            show_rules(ctx, &p, Format::Table, out)
        }
    }
}

fn apply_rules(r: &mut ReclaimRules, a: &RulesSetArgs) {
    if let Some(v) = a.inactive_days {
        r.inactive_days = v;
    }
    if let Some(v) = a.grace_days {
        r.new_hire_grace_days = v;
    }
    if let Some(v) = a.never_logged_in {
        r.never_logged_in = v;
    }
    if a.all_license_types {
        r.license_types.clear();
    } else if !a.license_types.is_empty() {
        r.license_types = a.license_types.clone();
    }
    for l in &a.exempt {
        if !r.is_exempt_login(l) {
            r.exempt_logins.push(l.to_lowercase());
        }
    }
    r.exempt_logins
        .retain(|l| !a.unexempt.iter().any(|u| u.eq_ignore_ascii_case(l)));
    if let Some(t) = &a.transfer_to {
        r.transfer_target = Some(t.clone());
    }
    if let Some(m) = a.mode {
        r.mode = m;
    }
    if let Some(v) = a.max_per_run {
        r.max_per_run = v;
    }
    if let Some(v) = a.max_percent {
        r.max_percent = v;
    }
    if let Some(v) = a.activity {
        r.activity = v;
    }
    if let Some(v) = a.removal {
        r.removal = v;
    }
    if let Some(v) = a.suspend_days {
        r.suspend_days = v;
    }
    if let Some(v) = a.notice_days {
        r.notice_days = v;
    }
    if let Some(v) = &a.reminder_days {
        r.reminder_days = v.0.clone();
    }
}

fn show_rules(ctx: &Ctx, p: &Profile, f: Format, out: &mut dyn Write) -> Result<(), CliError> {
    let r = &p.rules;
    if f == Format::Json {
        return write_json(out, r);
    }
    let rows = vec![
        ("profile", p.id.clone()),
        ("mode", r.mode.to_string()),
        (
            "paused",
            if r.paused {
                "yes (nothing is enqueued or executed)".into()
            } else {
                "no".into()
            },
        ),
        (
            "inactive after",
            format!(
                "{} days without {}",
                r.inactive_days,
                match r.activity {
                    ActivityScope::Any => "activity",
                    ActivityScope::Logins => "a login",
                }
            ),
        ),
        ("activity counted", r.activity.describe().to_owned()),
        (
            "observed since",
            match p.last_sync.as_ref().and_then(|l| l.observed_since) {
                Some(t) => format!(
                    "{} (activity read without a gap; no verdict reaches further back)",
                    t.format("%Y-%m-%d")
                ),
                None => "(not yet: after the next finished sync)".into(),
            },
        ),
        ("new-hire grace", format!("{} days", r.new_hire_grace_days)),
        (
            "never logged in",
            match r.never_logged_in {
                NeverLoggedIn::SinceCreated => "inactive since created / joined".into(),
                NeverLoggedIn::Exempt => "exempt".into(),
            },
        ),
        (
            "license types",
            if r.license_types.is_empty() {
                format!("managed types ({})", p.managed_license_types.join(", "))
            } else {
                r.license_types.join(", ")
            },
        ),
        (
            "exempt logins",
            if r.exempt_logins.is_empty() {
                "(none)".into()
            } else {
                r.exempt_logins.join(", ")
            },
        ),
        (
            "always exempt",
            "admins and co-admins, the transfer target, Box users that cannot be deleted".into(),
        ),
        (
            "transfer target",
            match (p.provider, &r.transfer_target) {
                (seatkeeper::domain::Provider::Dropbox, _) => {
                    "the admin who connected the reclaim slot".into()
                }
                (_, Some(t)) => format!("Box user {t}"),
                (_, None) => "(not set: seatctl rules set ID --transfer-to <admin user id>)".into(),
            },
        ),
        ("removal", describe_removal(r)),
        (
            "roster guard",
            format!(
                "a sync marks at most {} removed at once; more is held (seatctl sync {} --accept-removals)",
                p.roster_guard.describe(),
                p.id
            ),
        ),
        (
            "blast-radius cap",
            format!(
                "{} per run / day, at most {} % of seats",
                r.max_per_run, r.max_percent
            ),
        ),
        (
            "notice (notify mode)",
            format!(
                "reclaimed {} days after the notice unless kept; reminders {}",
                r.notice_days,
                if r.reminder_days.is_empty() {
                    "none".to_owned()
                } else {
                    r.reminder_days
                        .iter()
                        .map(|d| format!("{d}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                        + " day(s) before"
                }
            ),
        ),
    ];
    write_table(out, &ctx.style.key_values(rows))
}

/// The removal setting in words (rules and profile show).
pub fn describe_removal(r: &ReclaimRules) -> String {
    match r.removal {
        RemovalMode::Immediate => "immediate (transfer and remove in one go)".into(),
        RemovalMode::SuspendFirst => format!(
            "suspend-first: suspended now, removed after {} day(s) unless restored (seatctl restore)",
            r.suspend_days
        ),
    }
}

// -------------------------------------------------------------- candidates

#[derive(Debug, Args)]
#[command(after_help = "\
Candidates are computed after every finished sync (never after a failed one). Each carries its
evidence: the last login and the event that proves it, the rule and its threshold, the license
type and its monthly price.")]
pub struct CandidatesArgs {
    /// The profile id (see `seatctl profile list`).
    #[arg(value_parser = parse_profile_id)]
    pub id: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: RowFormat,
    /// Also list the seats without activity that cannot be decided yet (activity has not been
    /// read for as long as the rule asks), with the date each becomes decidable.
    #[arg(long)]
    pub all: bool,
}

/// A seat with no activity in the threshold whose inactivity cannot be proven yet.
#[derive(Debug, Serialize)]
struct WaitingRow {
    user_id: String,
    login: String,
    license_type: String,
    observed_since: String,
    decidable_on: String,
}

/// The keeps still running, soonest end first.
async fn kept(ctx: &Ctx, p: &Profile) -> Result<Vec<seatkeeper::domain::Keep>, CliError> {
    let now = chrono::Utc::now();
    let mut list: Vec<_> = ctx
        .store
        .seats
        .keeps(&p.id)
        .await?
        .into_iter()
        .filter(|k| k.is_active(now))
        .collect();
    list.sort_by(|a, b| a.until.cmp(&b.until).then(a.user_id.cmp(&b.user_id)));
    Ok(list)
}

/// The seats the rules cannot decide yet (`NotObservedLongEnough`), soonest first.
async fn waiting(ctx: &Ctx, p: &Profile) -> Result<Vec<WaitingRow>, CliError> {
    let observed_since = p.last_sync.as_ref().and_then(|l| l.observed_since);
    let now = chrono::Utc::now();
    let target = p.rules.transfer_target.as_deref();
    let mut rows: Vec<(chrono::DateTime<chrono::Utc>, WaitingRow)> = Vec::new();
    let kept = candidates::active_keeps(&ctx.store.seats, &p.id, now).await?;
    for s in ctx.store.seats.list(&p.id).await? {
        if s.removed_at.is_some() {
            continue;
        }
        let s = RuleSeat::from(&s);
        let v = evaluate(
            &SeatFacts {
                kept_until: kept.get(&s.user_id).copied(),
                ..SeatFacts::observed(&s, observed_since)
            },
            &p.rules,
            p.reclaimable(&s.license_type),
            target,
            now,
        );
        if let Verdict::NotObservedLongEnough {
            observed_since,
            decidable_on,
        } = v
        {
            rows.push((
                decidable_on,
                WaitingRow {
                    user_id: s.user_id.clone(),
                    login: s.login.clone(),
                    license_type: s.license_type.clone(),
                    observed_since: observed_since.format("%Y-%m-%d").to_string(),
                    decidable_on: decidable_on.format("%Y-%m-%d").to_string(),
                },
            ));
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.user_id.cmp(&b.1.user_id)));
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

const CANDIDATE_CSV_HEADER: [&str; 14] = [
    "user_id",
    "login",
    "name",
    "license_type",
    "inactive_days",
    "last_login",
    "last_login_event",
    "rule",
    "threshold_days",
    "monthly_price",
    "request_id",
    "approved_by",
    "last_activity",
    "activity_counted",
];

#[derive(Debug, Serialize)]
struct CandidateRow {
    user_id: String,
    login: String,
    name: String,
    license_type: String,
    inactive_days: i64,
    last_login: Option<String>,
    last_login_event: Option<String>,
    rule: String,
    threshold_days: u32,
    monthly_price: Option<String>,
    request_id: Option<String>,
    approved_by: Option<String>,
    /// The newest activity of any kind on record (`UPLOAD 2026-… evid`).
    last_activity: Option<String>,
    /// `any` or `logins` (only logins were counted).
    activity_counted: String,
}

impl From<&Candidate> for CandidateRow {
    fn from(c: &Candidate) -> Self {
        let l = c.evidence.last_login.as_ref();
        Self {
            user_id: c.user_id.clone(),
            login: c.login.clone(),
            name: c.name.clone(),
            license_type: c.license_type.clone(),
            inactive_days: c.evidence.inactive_days,
            last_login: l.map(|l| l.at.to_rfc3339()),
            last_login_event: l.map(|l| format!("{} {}", l.event_type, l.event_id)),
            rule: c.evidence.rule.clone(),
            threshold_days: c.evidence.threshold_days,
            monthly_price: c
                .unit_price_cents
                .map(|p| format_minor(p, c.currency.as_deref())),
            request_id: c.request_id.clone(),
            approved_by: c.approved_by.clone(),
            last_activity: c
                .evidence
                .last_activity
                .as_ref()
                .map(|a| format!("{} {} {}", a.event_type, a.at.to_rfc3339(), a.event_id)),
            activity_counted: c.evidence.activity.to_string(),
        }
    }
}

pub async fn candidates(ctx: &Ctx, a: CandidatesArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let p = ctx.profile(&a.id).await?;
    let mut list = ctx.store.seats.list_candidates(&p.id).await?;
    list.sort_by_key(|c| std::cmp::Reverse(c.evidence.inactive_days));
    let rows: Vec<CandidateRow> = list.iter().map(CandidateRow::from).collect();
    if a.all {
        let waiting = waiting(ctx, &p).await?;
        let kept = kept(ctx, &p).await?;
        match a.output {
            RowFormat::Json => {
                return write_json(
                    out,
                    &serde_json::json!({ "candidates": rows, "not_observed_long_enough": waiting, "kept": kept }),
                )
            }
            RowFormat::Csv => {}
            RowFormat::Table => {
                if !kept.is_empty() {
                    let mut t =
                        ctx.style
                            .table(["user", "login", "kept until", "by", "how", "reason"]);
                    for k in &kept {
                        t.add_row(vec![
                            k.user_id.clone(),
                            k.login.clone(),
                            k.until.format("%Y-%m-%d").to_string(),
                            k.by.clone(),
                            k.source.as_str().to_owned(),
                            k.reason.clone().unwrap_or_default(),
                        ]);
                    }
                    write_table(out, &t)?;
                }
                line(
                    out,
                    format!(
                        "{} user(s) kept: they asked to keep the license (or were restored); exempt until the date shown",
                        kept.len()
                    ),
                )?;
                if !waiting.is_empty() {
                    let mut t = ctx.style.table([
                        "user",
                        "login",
                        "license",
                        "observed since",
                        "decidable on",
                    ]);
                    for w in &waiting {
                        t.add_row(vec![
                            w.user_id.clone(),
                            w.login.clone(),
                            w.license_type.clone(),
                            w.observed_since.clone(),
                            w.decidable_on.clone(),
                        ]);
                    }
                    write_table(out, &t)?;
                }
                line(
                    out,
                    format!(
                        "{} seat(s) not observed long enough: no activity on record, but activity has been read for less than the rule's {} days",
                        waiting.len(),
                        p.rules.inactive_days
                    ),
                )?;
            }
        }
    }
    match a.output {
        RowFormat::Json => write_json(out, &rows),
        RowFormat::Csv => write_csv(out, &CANDIDATE_CSV_HEADER, &rows),
        RowFormat::Table if rows.is_empty() => line(
            out,
            format!(
                "no candidates for {} ({}; candidates appear after a finished sync)",
                p.id,
                p.rules.describe()
            ),
        ),
        RowFormat::Table => {
            let mut t = ctx.style.table([
                "user",
                "login",
                "license",
                "inactive",
                "last login (event)",
                "price/mo",
                "request",
            ]);
            for r in &rows {
                t.add_row(vec![
                    r.user_id.clone(),
                    r.login.clone(),
                    r.license_type.clone(),
                    format!("{} d", r.inactive_days),
                    match (&r.last_login, &r.last_login_event) {
                        (Some(at), Some(ev)) => format!("{} ({ev})", &at[..10.min(at.len())]),
                        _ => "never".into(),
                    },
                    output::opt(r.monthly_price.clone()),
                    output::opt(r.request_id.clone()),
                ]);
            }
            write_table(out, &t)?;
            let total: u64 = list.iter().filter_map(|c| c.unit_price_cents).sum();
            let currency = list.iter().find_map(|c| c.currency.clone());
            line(
                out,
                format!(
                    "{} candidate(s) by rule: {}{}",
                    rows.len(),
                    p.rules.describe(),
                    if total > 0 {
                        format!("; {} per month", format_minor(total, currency.as_deref()))
                    } else {
                        String::new()
                    }
                ),
            )
        }
    }
}

// ------------------------------------------------------ approve and reclaim

#[derive(Debug, Args)]
#[command(after_help = "\
Approving enqueues a reclaim request per candidate (most inactive first) within the profile's
blast-radius cap. The reclaim function re-checks every rule just before acting.")]
pub struct ApproveArgs {
    /// The profile id (see `seatctl profile list`).
    #[arg(value_parser = parse_profile_id)]
    pub id: String,
    /// The candidates' user ids. Default with --all: every candidate not yet requested.
    #[arg(value_name = "USER_ID")]
    pub users: Vec<String>,
    /// Approve every candidate not yet requested (instead of naming USER_IDs).
    #[arg(long, conflicts_with = "users")]
    pub all: bool,
    /// Who approves (recorded in the audit trail). Default: $USER.
    #[arg(long, value_name = "NAME", value_parser = parse_text)]
    pub by: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReclaimArgs {
    /// The profile id (see `seatctl profile list`).
    #[arg(value_parser = parse_profile_id)]
    pub id: String,
    /// The provider's user id (Box user id, Dropbox team_member_id).
    #[arg(value_name = "USER_ID", value_parser = parse_text)]
    pub user: String,
    /// Verify and record the plan only: nothing changes at the provider.
    #[arg(long)]
    pub dry_run: bool,
    /// Why (e.g. a ticket number); recorded in the audit trail.
    #[arg(long, value_name = "TEXT", value_parser = parse_text)]
    pub reason: Option<String>,
    /// Who asks (recorded in the audit trail). Default: $USER.
    #[arg(long, value_name = "NAME", value_parser = parse_text)]
    pub by: Option<String>,
}

pub(crate) fn operator(by: &Option<String>) -> String {
    by.clone()
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .map(|u| format!("seatctl:{u}"))
        .unwrap_or_else(|| "seatctl".into())
}

fn queue(ctx: &Ctx) -> Result<ReclaimQueue, CliError> {
    reclaim_queue(&ctx.config, &ctx.aws).ok_or_else(|| {
        CliError::Invalid(
            "RECLAIM_QUEUE_URL is not set: export the stack's ReclaimQueueUrl output".into(),
        )
    })
}

pub async fn approve(ctx: &Ctx, a: ApproveArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let p = ctx.profile(&a.id).await?;
    if p.rules.paused {
        return Err(CliError::Invalid(format!(
            "reclamation is paused for {} (seatctl resume {})",
            p.id, p.id
        )));
    }
    if p.rules.mode == ReclaimMode::Report {
        return Err(CliError::Invalid(format!(
            "profile {} is in report mode: `seatctl rules set {} --mode approve` first (or reclaim one user with `seatctl reclaim`)",
            p.id, p.id
        )));
    }
    if a.users.is_empty() && !a.all {
        return Err(CliError::Usage(
            "name the users to approve, or --all".into(),
        ));
    }
    if a.all && p.rules.mode == ReclaimMode::Notify {
        // --all would take seats from users who have not had their notice period
        return Err(CliError::Invalid(format!(
            "profile {} is in notify mode: the sync enqueues each candidate once its notice is due (`seatctl notices {}`); approve users by name to act sooner",
            p.id, p.id
        )));
    }
    let queue = queue(ctx)?;
    let mut list = ctx.store.seats.list_candidates(&p.id).await?;
    list.sort_by_key(|c| std::cmp::Reverse(c.evidence.inactive_days));
    for u in &a.users {
        if !list.iter().any(|c| &c.user_id == u) {
            return Err(CliError::Invalid(format!(
                "{u} is not a candidate of {} (see `seatctl candidates {}`)",
                p.id, p.id
            )));
        }
    }
    let by = operator(&a.by);
    // every request carries `by`: refuse one the message cannot carry before anything is marked
    // or sent (the reclaim function would drop such messages as invalid)
    ReclaimRequest::new(&p.id, "-", false, &by, None)
        .validate()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let mut chosen: Vec<Candidate> = list
        .into_iter()
        .filter(|c| a.all || a.users.contains(&c.user_id))
        .map(|mut c| {
            c.approved_by = Some(by.clone());
            c.approved_at = Some(ctx.now);
            c
        })
        .collect();
    let already: Vec<&Candidate> = chosen.iter().filter(|c| c.request_id.is_some()).collect();
    let already_note = if already.is_empty() {
        String::new()
    } else {
        format!(
            "; {} already requested ({}{})",
            already.len(),
            already
                .iter()
                .take(3)
                .map(|c| format!("{}: {}", c.user_id, c.request_id.as_deref().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", "),
            if already.len() > 3 { ", …" } else { "" }
        )
    };
    let seats = candidates::seat_count(&ctx.store.seats, &p.id)
        .await
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    let cap = p.rules.cap(seats);
    let (sent, held) = candidates::enqueue(
        &ctx.store.seats,
        &ctx.store.reclaims,
        &queue,
        &mut chosen,
        &by,
        "seatctl approve",
        cap,
        ctx.now,
    )
    .await
    .map_err(|e| CliError::Invalid(e.to_string()))?;
    for r in &sent {
        line(
            out,
            format!("enqueued {} for user {}", r.request_id, r.user_id),
        )?;
    }
    // always say why nothing (or not everything) went
    let why = if sent.is_empty() && chosen.is_empty() {
        format!(
            ": {} has no candidates (they appear after a finished sync: `seatctl candidates {}`)",
            p.id, p.id
        )
    } else if sent.is_empty() && held == 0 {
        format!(": every chosen candidate already has a request{already_note}")
    } else if sent.is_empty() && cap == 0 {
        format!(
            ": the blast-radius cap is 0 ({} per run, {} % of {seats} assigned seat(s){}); {held} approved candidate(s) wait: raise it with `seatctl rules set {} --max-per-run N --max-percent P` and approve again",
            p.rules.max_per_run,
            p.rules.max_percent,
            if seats == 0 { "; no license summary yet: run a sync first" } else { "" },
            p.id
        )
    } else if held > 0 {
        format!(
            ", {held} held by the blast-radius cap (they wait: approve again later){already_note}"
        )
    } else {
        already_note
    };
    line(
        out,
        format!(
            "{} request(s) enqueued (cap {cap}){why}; follow them with `seatctl reclaims {}`",
            sent.len(),
            p.id
        ),
    )
}

pub async fn reclaim(ctx: &Ctx, a: ReclaimArgs, out: &mut dyn Write) -> Result<(), CliError> {
    // the queue first: without it nothing can be enqueued, so DynamoDB is not read
    let queue = queue(ctx)?;
    let p = ctx.profile(&a.id).await?;
    if p.rules.paused && !a.dry_run {
        return Err(CliError::Invalid(format!(
            "reclamation is paused for {} (seatctl resume {})",
            p.id, p.id
        )));
    }
    let req = ReclaimRequest::new(
        &p.id,
        &a.user,
        a.dry_run,
        &operator(&a.by),
        a.reason.clone(),
    );
    req.validate().map_err(|e| CliError::Usage(e.to_string()))?;
    // the operator's direct request is its own approval: recorded before it is sent, so the
    // reclaim function accepts it in report and approve mode too
    ctx.store
        .reclaims
        .put_approval(&Approval::for_request(&req, "seatctl reclaim", ctx.now))
        .await?;
    queue
        .send(&req)
        .await
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    line(
        out,
        format!(
            "enqueued {}{} for user {}; follow it with `seatctl reclaims {} --request {}`",
            req.request_id,
            if a.dry_run { " (dry run)" } else { "" },
            req.user_id,
            p.id,
            req.request_id
        ),
    )
}

// ------------------------------------------------------------ kill switch

pub async fn set_paused(
    ctx: &Ctx,
    id: &str,
    paused: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    ctx.store
        .profiles
        .update(id, |p: &mut Profile| {
            p.rules.paused = paused;
            Ok::<_, CliError>(())
        })
        .await?
        .ok_or_else(|| CliError::UnknownProfile(id.to_owned()))?;
    line(
        out,
        if paused {
            format!("reclamation paused for {id}: nothing is enqueued, and the reclaim function skips its requests")
        } else {
            format!("reclamation resumed for {id}")
        },
    )
}

// --------------------------------------------------------------- reclaims

#[derive(Debug, Args)]
pub struct ReclaimsArgs {
    /// The profile id (see `seatctl profile list`).
    #[arg(value_parser = parse_profile_id)]
    pub id: String,
    /// One request with every step.
    #[arg(long, value_name = "REQUEST_ID")]
    pub request: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

pub async fn reclaims(ctx: &Ctx, a: ReclaimsArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let p = ctx.profile(&a.id).await?;
    if let Some(req) = &a.request {
        let r =
            ctx.store.reclaims.get(&p.id, req).await?.ok_or_else(|| {
                CliError::Invalid(format!("no reclaim request {req} for {}", p.id))
            })?;
        return match a.output {
            Format::Json => write_json(out, &r),
            Format::Table => show_request(ctx, &r, out),
        };
    }
    let list = ctx.store.reclaims.list(&p.id).await?;
    match a.output {
        Format::Json => write_json(out, &list),
        Format::Table if list.is_empty() => {
            line(out, format!("no reclaim requests for {} yet", p.id))
        }
        Format::Table => {
            let mut t = ctx
                .style
                .table(["requested", "request", "user", "by", "status", "reason"]);
            for r in &list {
                t.add_row(vec![
                    output::datetime(r.created_at),
                    r.request.request_id.clone(),
                    format!(
                        "{} {}",
                        r.request.user_id,
                        r.login.clone().unwrap_or_default()
                    ),
                    r.request.requested_by.clone(),
                    format!(
                        "{}{}",
                        r.status.as_str(),
                        if r.request.dry_run { " (dry run)" } else { "" }
                    ),
                    output::truncate(r.reason_code.as_deref().unwrap_or(""), 40),
                ]);
            }
            write_table(out, &t)
        }
    }
}

/// What the request came to, in words: the recorded reason when it ended skipped or failed, and
/// for a `done` one what was done.
fn outcome_text(r: &ReclaimRecord) -> String {
    if let Some(reason) = &r.reason {
        return reason.clone();
    }
    match r.status {
        ReclaimStatus::Done if r.request.dry_run => {
            "dry run: verified and planned; nothing changed at the provider".into()
        }
        ReclaimStatus::Done => match &r.transfer_target {
            Some(t) => format!("seat freed: content transferred to {t}, then the user removed"),
            None => "seat freed: the user was removed".into(),
        },
        ReclaimStatus::Suspended => format!(
            "suspended (undo window): still holds the license; removed after {} unless restored (`seatctl restore {} {}`)",
            r.remove_after
                .map(|t| format!("{} UTC", output::datetime(t)))
                .unwrap_or_else(|| "?".into()),
            r.request.profile_id,
            r.login.as_deref().unwrap_or(&r.request.user_id)
        ),
        s if !s.is_final() => format!("in progress ({})", s.as_str()),
        _ => String::new(),
    }
}

fn show_request(ctx: &Ctx, r: &ReclaimRecord, out: &mut dyn Write) -> Result<(), CliError> {
    let mut rows = vec![
        ("request", r.request.request_id.clone()),
        (
            "user",
            format!(
                "{} {}",
                r.request.user_id,
                r.login.clone().unwrap_or_default()
            ),
        ),
        ("requested by", r.request.requested_by.clone()),
        ("reason given", r.request.reason.clone().unwrap_or_default()),
        (
            "dry run",
            if r.request.dry_run {
                "yes".into()
            } else {
                "no".into()
            },
        ),
        ("status", r.status.as_str().to_owned()),
        ("outcome", outcome_text(r)),
        (
            "transfer target",
            r.transfer_target.clone().unwrap_or_default(),
        ),
        ("plan", r.plan.clone().unwrap_or_default()),
    ];
    if let Some(e) = &r.evidence {
        rows.push((
            "rule",
            format!("{} (threshold {} days)", e.rule, e.threshold_days),
        ));
        rows.push((
            "evidence",
            match &e.last_login {
                Some(l) => format!(
                    "{} days inactive; last login {} ({} {})",
                    e.inactive_days,
                    output::datetime(l.at),
                    l.event_type,
                    l.event_id
                ),
                None => format!("{} days inactive; never logged in", e.inactive_days),
            },
        ));
    }
    write_table(out, &ctx.style.key_values(rows))?;
    let mut t = ctx
        .style
        .table(["at", "step", "detail", "provider request id"]);
    for s in &r.steps {
        t.add_row(vec![
            output::datetime(s.at),
            s.status.as_str().to_owned(),
            s.detail.clone(),
            s.provider_request_id.clone().unwrap_or_default(),
        ]);
    }
    write_table(out, &t)
}
