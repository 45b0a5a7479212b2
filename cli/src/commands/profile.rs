//! `seatctl profile add|list|show|enable|disable`.
use std::io::Write;

use clap::builder::PossibleValue;
use clap::{Args, Subcommand, ValueEnum};
use comfy_table::{Cell, CellAlignment, Table};
use seatkeeper::domain::{BoxPlan, LicenseSummary, Profile};
use seatkeeper::ports::{ProfileRepo, SeatRepo};
use serde::Serialize;

use super::{parse_license_type, parse_profile_id, parse_text, Ctx};
use crate::error::CliError;
use crate::money::{format_minor, group_thousands};
use crate::output::{self, line, write_json, write_table, Format, Style};

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Register an integration profile (one per Box enterprise)
    #[command(subcommand)]
    Add(AddCommand),
    /// List every profile
    List(ListArgs),
    /// Show a profile: settings, entitlements, last sync and license summary
    Show(ShowArgs),
    /// Enable a profile: scheduled and on-demand syncs include it again
    Enable(IdArg),
    /// Disable a profile: syncs skip it; its seats, summaries and credentials stay
    Disable(IdArg),
}

#[derive(Debug, Subcommand)]
pub enum AddCommand {
    /// Register a Box enterprise, synced with a Box Client Credentials Grant app. Store the app's
    /// credentials afterwards with `seatctl credentials set-box`.
    Box(AddBoxArgs),
    /// Register a Dropbox team. It has two credential slots, each its own Dropbox app:
    /// `sync` (read the roster and logins) and `reclaim` (remove members, files to an admin).
    /// Set each slot's app with `seatctl credentials set-dropbox-app`, then connect it with
    /// `seatctl connect dropbox`. Purchased seats come from Dropbox itself (team/get_info).
    Dropbox(AddDropboxArgs),
}

#[derive(Debug, Args)]
pub struct AddDropboxArgs {
    /// Profile id: 1-64 lowercase letters, digits and '-'. Names the slot secrets
    /// (seatkeeper/<ID>/dropbox-sync and seatkeeper/<ID>/dropbox-reclaim).
    #[arg(long, value_name = "ID", value_parser = parse_profile_id)]
    pub id: String,

    /// Display name, e.g. "Acme (Dropbox)".
    #[arg(long, value_parser = parse_text)]
    pub name: String,

    /// License types managed, comma-separated. Default: `full` (members with
    /// membership_type limited use no license).
    #[arg(long, value_name = "TYPE,...", value_delimiter = ',', value_parser = parse_license_type)]
    pub managed_license_types: Vec<String>,

    /// Days of login history to read on the first sync. Default: the deployment's BACKFILL_DAYS.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub backfill_days: Option<u32>,

    /// Create the profile disabled.
    #[arg(long)]
    pub disabled: bool,
}

#[derive(Debug, Args)]
pub struct AddBoxArgs {
    /// Profile id used by every other command: 1-64 lowercase letters, digits and '-'.
    /// It also names the credentials secret (seatkeeper/<ID>/box).
    #[arg(long, value_name = "ID", value_parser = parse_profile_id)]
    pub id: String,

    /// Display name, e.g. "Acme (Box)".
    #[arg(long, value_parser = parse_text)]
    pub name: String,

    /// The Box enterprise id (digits; Box Admin Console → Account & Billing). The credentials
    /// stored for this profile must belong to this enterprise.
    #[arg(long, value_name = "DIGITS", value_parser = parse_enterprise_id)]
    pub enterprise_id: String,

    /// The enterprise's Box plan. Box has no API for it: it names the license type every seat
    /// carries unless --license-tracking-code says otherwise.
    #[arg(long, value_enum, ignore_case = true)]
    pub plan: PlanArg,

    /// License types this profile manages, comma-separated. Seats of other types are still
    /// synced but flagged "unmanaged" and never reclaimed. Default: the plan's license type.
    #[arg(
        long,
        value_name = "TYPE,...",
        value_delimiter = ',',
        value_parser = parse_license_type
    )]
    pub managed_license_types: Vec<String>,

    /// Name of a Box user tracking code whose value is the seat's license type, for
    /// enterprises that mix license types (users without the code get the plan's type).
    #[arg(long, value_name = "NAME", value_parser = parse_text)]
    pub license_tracking_code: Option<String>,

    /// Days of login history to read on the first sync (later syncs continue where the last
    /// finished one stopped). Default: the deployment's BACKFILL_DAYS (90).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub backfill_days: Option<u32>,

    /// Create the profile disabled: syncs skip it until `seatctl profile enable ID`.
    #[arg(long)]
    pub disabled: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The profile id.
    #[arg(value_parser = parse_profile_id)]
    pub id: String,
    /// Output format. JSON is {"profile": …, "license_summaries": […]}; amounts are in the
    /// currency's minor unit (cents).
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The profile id.
    #[arg(value_parser = parse_profile_id)]
    pub id: String,
}

/// A Box plan as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanArg(pub BoxPlan);

const PLANS: [PlanArg; 5] = [
    PlanArg(BoxPlan::BusinessStarter),
    PlanArg(BoxPlan::Business),
    PlanArg(BoxPlan::BusinessPlus),
    PlanArg(BoxPlan::Enterprise),
    PlanArg(BoxPlan::EnterprisePlus),
];

impl ValueEnum for PlanArg {
    fn value_variants<'a>() -> &'a [Self] {
        &PLANS
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let v = PossibleValue::new(self.0.license_type());
        Some(match self.0 {
            BoxPlan::BusinessStarter => v.alias("business-starter"),
            BoxPlan::BusinessPlus => v.alias("business-plus"),
            BoxPlan::EnterprisePlus => v.alias("enterprise-plus"),
            BoxPlan::Business | BoxPlan::Enterprise => v,
        })
    }
}

fn parse_enterprise_id(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the Box enterprise id is digits only, got {s:?}"));
    }
    Ok(t.to_owned())
}

pub async fn run(ctx: &Ctx, cmd: ProfileCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        ProfileCommand::Add(AddCommand::Box(a)) => add_box(ctx, a, out).await,
        ProfileCommand::Add(AddCommand::Dropbox(a)) => add_dropbox(ctx, a, out).await,
        ProfileCommand::List(a) => list(ctx, a, out).await,
        ProfileCommand::Show(a) => show(ctx, a, out).await,
        ProfileCommand::Enable(a) => set_enabled(ctx, &a.id, true, out).await,
        ProfileCommand::Disable(a) => set_enabled(ctx, &a.id, false, out).await,
    }
}

/// The profile `profile add box` creates (pure: tested without AWS).
pub fn new_box_profile(
    a: &AddBoxArgs,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Profile, CliError> {
    let mut p = Profile::new_box(&a.id, &a.name, &a.enterprise_id, a.plan.0, now)?;
    if !a.managed_license_types.is_empty() {
        let mut types: Vec<String> = Vec::new();
        for t in &a.managed_license_types {
            if !types.contains(t) {
                types.push(t.clone());
            }
        }
        p.managed_license_types = types;
    }
    p.license_tracking_code = a.license_tracking_code.clone();
    p.backfill_days = a.backfill_days;
    p.enabled = !a.disabled;
    Ok(p)
}

async fn add_dropbox(ctx: &Ctx, a: AddDropboxArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let mut p = Profile::new_dropbox(&a.id, &a.name, ctx.now)?;
    if !a.managed_license_types.is_empty() {
        p.managed_license_types = a.managed_license_types.clone();
        p.managed_license_types.dedup();
    }
    p.backfill_days = a.backfill_days;
    p.enabled = !a.disabled;
    ctx.store.profiles.create(&p).await?;
    line(
        out,
        format!("created Dropbox profile {} ({})", p.id, p.name),
    )?;
    line(out, "next:")?;
    for slot in ["sync", "reclaim"] {
        line(
            out,
            format!(
                "  seatctl credentials set-dropbox-app {} --slot {slot} --app-key KEY",
                p.id
            ),
        )?;
        line(
            out,
            format!("  seatctl connect dropbox --profile {} --slot {slot}", p.id),
        )?;
    }
    line(out, format!("  seatctl sync {}", p.id))
}

async fn add_box(ctx: &Ctx, a: AddBoxArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let p = new_box_profile(&a, ctx.now)?;
    ctx.store.profiles.create(&p).await?;
    line(
        out,
        format!(
            "created Box profile {} ({}; enterprise {}, plan {}, {})",
            p.id,
            p.name,
            a.enterprise_id,
            a.plan.0,
            if p.enabled { "enabled" } else { "disabled" }
        ),
    )?;
    line(out, "next:")?;
    line(
        out,
        format!(
            "  seatctl entitlement set {} --license-type {} --purchased N --price 0.00",
            p.id,
            a.plan.0.license_type()
        ),
    )?;
    line(
        out,
        format!(
            "  seatctl credentials set-box {} --client-id CLIENT_ID   (secret stored as {})",
            p.id, p.credentials_secret
        ),
    )?;
    line(out, format!("  seatctl sync {}", p.id))
}

async fn list(ctx: &Ctx, a: ListArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let mut profiles = ctx.store.profiles.list().await?;
    profiles.sort_by(|a, b| a.id.cmp(&b.id));
    match a.output {
        Format::Json => write_json(out, &profiles),
        Format::Table if profiles.is_empty() => line(
            out,
            "no profiles yet: add one with `seatctl profile add box --help`",
        ),
        Format::Table => write_table(out, &profiles_table(&ctx.style, &profiles)),
    }
}

pub fn profiles_table(style: &Style, profiles: &[Profile]) -> Table {
    let mut t = style.table([
        "id",
        "name",
        "provider",
        "status",
        "account",
        "plan",
        "managed license types",
        "entitlements",
        "last sync (UTC)",
    ]);
    for p in profiles {
        t.add_row(vec![
            Cell::new(&p.id),
            Cell::new(&p.name),
            Cell::new(p.provider),
            style.status_cell(enabled_word(p.enabled)),
            Cell::new(output::opt(p.box_enterprise_id.as_deref())),
            Cell::new(output::opt(p.plan)),
            Cell::new(managed_types(p)),
            Cell::new(
                p.entitlements
                    .iter()
                    .map(|e| format!("{} {}", e.license_type, e.purchased))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            Cell::new(
                p.last_sync
                    .as_ref()
                    .map(|s| output::datetime(s.finished_at))
                    .unwrap_or_else(|| "never".into()),
            ),
        ]);
    }
    t
}

fn enabled_word(enabled: bool) -> &'static str {
    if enabled {
        "enabled"
    } else {
        "disabled"
    }
}

fn managed_types(p: &Profile) -> String {
    if p.managed_license_types.is_empty() {
        "all".to_owned()
    } else {
        p.managed_license_types.join(", ")
    }
}

#[derive(Serialize)]
struct ShowJson<'a> {
    profile: &'a Profile,
    license_summaries: &'a [LicenseSummary],
}

async fn show(ctx: &Ctx, a: ShowArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let p = ctx.profile(&a.id).await?;
    let mut summaries = ctx.store.seats.license_summaries(&p.id).await?;
    summaries.sort_by(|a, b| a.license_type.cmp(&b.license_type));
    match a.output {
        Format::Json => write_json(
            out,
            &ShowJson {
                profile: &p,
                license_summaries: &summaries,
            },
        ),
        Format::Table => {
            let style = &ctx.style;
            line(out, format!("Profile {}", p.id))?;
            write_table(
                out,
                &profile_details(style, &p, ctx.config.default_backfill_days),
            )?;
            line(out, "")?;
            if p.entitlements.is_empty() {
                line(
                    out,
                    format!(
                        "Entitlements: none (add with `seatctl entitlement set {} ...`)",
                        p.id
                    ),
                )?;
            } else {
                line(
                    out,
                    "Entitlements (purchased seats and price per seat per month)",
                )?;
                write_table(out, &entitlements_table(style, &p))?;
            }
            line(out, "")?;
            match summaries.first() {
                None => line(
                    out,
                    format!("License summary: none yet (run `seatctl sync {}`)", p.id),
                ),
                Some(first) => {
                    line(
                        out,
                        format!(
                            "License summary (computed {} UTC by run {}; active = a login in the last {} days)",
                            output::datetime(first.computed_at),
                            first.run_id,
                            first.inactive_after_days
                        ),
                    )?;
                    write_table(out, &summaries_table(style, &summaries))
                }
            }
        }
    }
}

pub fn profile_details(style: &Style, p: &Profile, default_backfill_days: u32) -> Table {
    let last_sync = p
        .last_sync
        .as_ref()
        .map(|s| format!("{} UTC (run {})", output::datetime(s.finished_at), s.run_id))
        .unwrap_or_else(|| "never".into());
    style.key_values(vec![
        ("id", p.id.clone()),
        ("name", p.name.clone()),
        ("provider", p.provider.to_string()),
        ("status", enabled_word(p.enabled).to_owned()),
        ("enterprise id", output::opt(p.box_enterprise_id.as_deref())),
        ("plan", output::opt(p.plan)),
        ("managed license types", managed_types(p)),
        (
            "license tracking code",
            output::opt(p.license_tracking_code.as_deref()),
        ),
        (
            "first-sync backfill",
            match p.backfill_days {
                Some(d) => format!("{d} days"),
                None => format!("{default_backfill_days} days (deployment default)"),
            },
        ),
        ("credentials secret", p.credentials_secret.clone()),
        ("reclaim mode", p.rules.mode.to_string()),
        ("removal", super::reclaim::describe_removal(&p.rules)),
        ("created", format!("{} UTC", output::datetime(p.created_at))),
        ("last finished sync", last_sync),
    ])
}

pub fn entitlements_table(style: &Style, p: &Profile) -> Table {
    let mut t = style.table([
        "license type",
        "managed",
        "purchased",
        "price / seat / month",
        "monthly cost",
    ]);
    for e in &p.entitlements {
        let currency = e.currency.as_deref();
        t.add_row(vec![
            Cell::new(&e.license_type),
            Cell::new(yes_no(p.manages(&e.license_type))),
            right(group_thousands(u64::from(e.purchased))),
            right(output::opt(
                e.unit_price_cents.map(|c| format_minor(c, currency)),
            )),
            right(output::opt(e.unit_price_cents.map(|c| {
                format_minor(c.saturating_mul(u64::from(e.purchased)), currency)
            }))),
        ]);
    }
    t
}

pub fn summaries_table(style: &Style, summaries: &[LicenseSummary]) -> Table {
    let mut t = style.table([
        "license type",
        "managed",
        "purchased",
        "assigned",
        "active",
        "inactive",
        "never logged in",
        "unassigned",
        "over-assigned",
        "monthly cost",
        "monthly waste",
    ]);
    for s in summaries {
        let currency = s.currency.as_deref();
        let count = |n: Option<u32>| right(output::opt(n.map(|n| group_thousands(u64::from(n)))));
        t.add_row(vec![
            Cell::new(&s.license_type),
            Cell::new(yes_no(s.managed)),
            count(s.purchased),
            count(Some(s.assigned)),
            count(Some(s.active)),
            count(Some(s.inactive)),
            count(Some(s.never_logged_in)),
            count(s.unassigned),
            count(s.over_assigned),
            right(output::opt(
                s.monthly_cost_cents.map(|c| format_minor(c, currency)),
            )),
            right(output::opt(
                s.monthly_waste_cents.map(|c| format_minor(c, currency)),
            )),
        ]);
    }
    t
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn right(text: String) -> Cell {
    Cell::new(text).set_alignment(CellAlignment::Right)
}

async fn set_enabled(
    ctx: &Ctx,
    id: &str,
    enabled: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let word = enabled_word(enabled);
    let changed = ctx
        .store
        .profiles
        .update(id, |p| -> Result<bool, CliError> {
            let changed = p.enabled != enabled;
            p.enabled = enabled;
            Ok(changed)
        })
        .await?
        .ok_or_else(|| CliError::UnknownProfile(id.to_owned()))?;
    if !changed {
        return line(out, format!("profile {id} is already {word}"));
    }
    line(out, format!("profile {id} {word}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use clap::Parser;
    use seatkeeper::domain::profile::LastSync;
    use seatkeeper::domain::Entitlement;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: AddCommand,
    }

    fn add(args: &[&str]) -> Result<AddBoxArgs, clap::Error> {
        let mut v = vec!["t", "box"];
        v.extend_from_slice(args);
        T::try_parse_from(v).and_then(|t| match t.cmd {
            AddCommand::Box(a) => Ok(a),
            AddCommand::Dropbox(_) => {
                Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand))
            }
        })
    }

    const BASE: [&str; 8] = [
        "--id",
        "acme",
        "--name",
        "Acme",
        "--enterprise-id",
        "900001",
        "--plan",
        "business-plus",
    ];

    #[test]
    fn add_box_defaults_to_the_plan_type() {
        let a = add(&BASE).unwrap();
        let p = new_box_profile(&a, Utc::now()).unwrap();
        assert_eq!(p.plan, Some(BoxPlan::BusinessPlus));
        assert_eq!(p.managed_license_types, vec!["business_plus"]);
        assert!(p.enabled);
        assert_eq!(p.backfill_days, None);
        assert_eq!(p.credentials_secret, "seatkeeper/acme/box");
    }

    #[test]
    fn add_box_options() {
        let mut args = BASE.to_vec();
        args.extend([
            "--managed-license-types",
            "Business_Plus,enterprise,business_plus",
            "--license-tracking-code",
            "license",
            "--backfill-days",
            "30",
            "--disabled",
        ]);
        let p = new_box_profile(&add(&args).unwrap(), Utc::now()).unwrap();
        assert_eq!(p.managed_license_types, vec!["business_plus", "enterprise"]);
        assert_eq!(p.license_tracking_code.as_deref(), Some("license"));
        assert_eq!(p.backfill_days, Some(30));
        assert!(!p.enabled);
    }

    #[test]
    fn add_box_rejects_bad_values() {
        let with = |flag: &str, value: &str| {
            let mut args = BASE.to_vec();
            let i = args.iter().position(|a| *a == flag).unwrap();
            args[i + 1] = value;
            add(&args).map(|_| ()).unwrap_err().to_string()
        };
        assert!(with("--id", "Acme").contains("lowercase letters"));
        assert!(with("--enterprise-id", "acme").contains("digits only"));
        assert!(with("--plan", "gold").contains("business_plus"));
        let mut args = BASE.to_vec();
        args.extend(["--backfill-days", "0"]);
        assert!(add(&args).is_err());
    }

    fn profile() -> Profile {
        let mut p =
            Profile::new_box("acme", "Acme", "900001", BoxPlan::BusinessPlus, Utc::now()).unwrap();
        p.set_entitlement(Entitlement {
            license_type: "business_plus".into(),
            purchased: 1200,
            unit_price_cents: Some(3300),
            currency: Some("USD".into()),
        });
        p
    }

    #[test]
    fn renders_list_and_details() {
        let mut p = profile();
        let s = Style::plain();
        let text = profiles_table(&s, std::slice::from_ref(&p)).to_string();
        assert!(text.contains("acme") && text.contains("business_plus 1200"));
        assert!(text.contains("never"));
        p.last_sync = Some(LastSync {
            run_id: "r1".into(),
            observed_since: None,
            finished_at: Utc::now(),
        });
        let text = profile_details(&s, &p, 90).to_string();
        assert!(text.contains("seatkeeper/acme/box"));
        assert!(text.contains("(run r1)"));
        assert!(text.contains("90 days (deployment default)"));
        let text = entitlements_table(&s, &p).to_string();
        assert!(
            text.contains("33.00 USD") && text.contains("39,600.00 USD"),
            "{text}"
        );
    }

    #[test]
    fn renders_license_summaries() {
        let p = profile();
        let summary = LicenseSummary {
            profile_id: p.id.clone(),
            license_type: "business_plus".into(),
            managed: true,
            purchased: Some(1200),
            assigned: 1000,
            active: 700,
            inactive: 300,
            never_logged_in: 20,
            unassigned: Some(200),
            over_assigned: Some(0),
            unit_price_cents: Some(3300),
            currency: Some("USD".into()),
            monthly_cost_cents: Some(3_960_000),
            monthly_waste_cents: Some(1_650_000),
            inactive_after_days: 60,
            computed_at: Utc::now(),
            run_id: "r1".into(),
        };
        let text = summaries_table(&Style::plain(), &[summary]).to_string();
        for want in [
            "1,200",
            "1,000",
            "700",
            "300",
            "39,600.00 USD",
            "16,500.00 USD",
        ] {
            assert!(text.contains(want), "{want} in {text}");
        }
    }
}
