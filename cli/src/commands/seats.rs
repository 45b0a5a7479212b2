//! `seatctl seats ID`: a profile's seats with login evidence and inactivity.
use std::io::Write;

use chrono::{DateTime, Utc};
use clap::Args;
use comfy_table::{Cell, CellAlignment, Table};
use seatkeeper::domain::profile::LastSync;
use seatkeeper::domain::Seat;
use seatkeeper::ports::SeatRepo;
use serde::Serialize;

use super::{parse_license_type, parse_profile_id, Ctx};
use crate::error::CliError;
use crate::output::{self, line, write_csv, write_json, write_table, RowFormat, Style};

#[derive(Debug, Args)]
#[command(after_help = "\
Columns:
  last login     the newest login event seatkeeper has read for the user (date and the provider
                 event id that proves it); \"none seen\" when the synced history has none.
  inactive days  days since that login; without one, since the account was created (or first
                 seen by seatkeeper).
  first seen     when a sync first saw the seat.
  last seen      when a sync last saw the seat. Syncs only rewrite seats that changed, so for a
                 seat that is not removed this is the later of the seat's own timestamp and the
                 profile's last finished sync (which saw every seat it did not mark removed).
  removed        when a finished sync found the user gone from the provider, or seatkeeper
                 reclaimed the seat (JSON and CSV also carry reclaimed_at and the request id:
                 `seatctl reclaims ID --request REQUEST`).
Sorted by inactive days (most inactive first), then login; `--sort recent` shows the most
recently active seats first. The table shows roles and statuses in words (JSON and CSV keep the
provider's values) and leaves out the login event id, first seen, last seen and removed unless
`--wide`.")]
pub struct SeatsArgs {
    /// The profile id.
    #[arg(value_parser = parse_profile_id)]
    pub id: String,

    /// Only seats inactive for at least N days (no login for N days; see "inactive days").
    #[arg(long, value_name = "N")]
    pub inactive_days: Option<u32>,

    /// Only seats of this license type (case-insensitive).
    #[arg(long, value_name = "T", value_parser = parse_license_type)]
    pub license_type: Option<String>,

    /// Include seats whose users were removed from the provider (hidden by default).
    #[arg(long)]
    pub include_removed: bool,

    /// Only admins and co-admins.
    #[arg(long)]
    pub admins_only: bool,

    /// Row order: `inactive` (most inactive first) or `recent` (most recently active first).
    #[arg(long, value_enum, default_value_t)]
    pub sort: SeatSort,

    /// Table: also the first seen, last seen and removed columns.
    #[arg(long)]
    pub wide: bool,

    /// Output format. JSON and CSV have one record per seat with RFC 3339 timestamps.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: RowFormat,
}

/// The order of `seatctl seats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SeatSort {
    /// Most inactive first (the reclaim view).
    #[default]
    Inactive,
    /// Most recently active first (seats with a login on record before those without).
    Recent,
}

/// A provider's role or status value in words (Box and Dropbox values; others as they are,
/// with `_` as spaces).
pub fn label(raw: &str) -> String {
    let known = match raw {
        "admin" => "admin",
        "coadmin" => "co-admin",
        "user" => "user",
        "team_admin" => "team admin",
        "user_management_admin" => "user management admin",
        "support_admin" => "support admin",
        "member_only" => "member",
        "active" => "active",
        "inactive" => "inactive",
        "cannot_delete_edit" => "active (no delete/edit)",
        "cannot_delete_edit_upload" => "active (no delete/edit/upload)",
        "invited" => "invited",
        "suspended" => "suspended",
        "removed" => "removed",
        other => return other.replace('_', " "),
    };
    known.to_owned()
}

/// Which seats to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeatFilter {
    pub inactive_days: Option<u32>,
    pub license_type: Option<String>,
    pub include_removed: bool,
    pub admins_only: bool,
}

impl SeatFilter {
    pub fn from_args(a: &SeatsArgs) -> Self {
        SeatFilter {
            inactive_days: a.inactive_days,
            license_type: a.license_type.clone(),
            include_removed: a.include_removed,
            admins_only: a.admins_only,
        }
    }

    pub fn keep(&self, seat: &Seat, now: DateTime<Utc>) -> bool {
        (self.include_removed || seat.removed_at.is_none())
            && (!self.admins_only || seat.is_admin)
            && self
                .license_type
                .as_deref()
                .is_none_or(|t| seat.license_type.eq_ignore_ascii_case(t))
            && self
                .inactive_days
                .is_none_or(|n| seat.inactive_days(now) >= i64::from(n))
    }
}

/// When a sync last saw the seat. A seat not removed was present in the profile's last finished
/// sync, which does not rewrite unchanged seats, so that sync's end counts as a sighting.
pub fn effective_last_seen(seat: &Seat, last_sync: Option<&LastSync>) -> DateTime<Utc> {
    match last_sync {
        Some(s) if seat.removed_at.is_none() && s.finished_at > seat.last_seen_at => s.finished_at,
        _ => seat.last_seen_at,
    }
}

/// The CSV header: the fields of [`SeatRow`], in order.
pub const CSV_HEADER: [&str; 18] = [
    "user_id",
    "login",
    "name",
    "status",
    "role",
    "is_admin",
    "license_type",
    "license_managed",
    "last_login_at",
    "last_login_event_id",
    "last_login_event_type",
    "inactive_days",
    "created_at",
    "first_seen_at",
    "last_seen_at",
    "removed_at",
    "reclaimed_at",
    "reclaim_request_id",
];

/// One seat as shown (the same record in JSON and CSV).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeatRow {
    pub user_id: String,
    pub login: String,
    pub name: String,
    pub status: String,
    pub role: String,
    pub is_admin: bool,
    pub license_type: String,
    /// False: the profile does not manage this license type (reported, never reclaimed).
    pub license_managed: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub last_login_event_id: Option<String>,
    pub last_login_event_type: Option<String>,
    pub inactive_days: i64,
    pub created_at: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub removed_at: Option<DateTime<Utc>>,
    /// Set when seatkeeper reclaimed the seat (see `seatctl reclaims`).
    pub reclaimed_at: Option<DateTime<Utc>>,
    pub reclaim_request_id: Option<String>,
}

impl SeatRow {
    pub fn new(seat: &Seat, last_sync: Option<&LastSync>, now: DateTime<Utc>) -> Self {
        let login = seat.last_login.as_ref();
        SeatRow {
            user_id: seat.user_id.clone(),
            login: seat.login.clone(),
            name: seat.name.clone(),
            status: seat.status.clone(),
            role: seat.role.clone(),
            is_admin: seat.is_admin,
            license_type: seat.license_type.clone(),
            license_managed: seat.license_managed,
            last_login_at: login.map(|l| l.at),
            last_login_event_id: login.map(|l| l.event_id.clone()),
            last_login_event_type: login.map(|l| l.event_type.clone()),
            inactive_days: seat.inactive_days(now),
            created_at: seat.created_at,
            first_seen_at: seat.first_seen_at,
            last_seen_at: effective_last_seen(seat, last_sync),
            removed_at: seat.removed_at,
            reclaimed_at: seat.reclaimed_at,
            reclaim_request_id: seat.reclaim_request_id.clone(),
        }
    }
}

/// Filters, converts and sorts: most inactive first, then by login.
#[cfg(test)]
pub fn seat_rows(
    seats: &[Seat],
    filter: &SeatFilter,
    last_sync: Option<&LastSync>,
    now: DateTime<Utc>,
) -> Vec<SeatRow> {
    seat_rows_sorted(seats, filter, last_sync, now, SeatSort::Inactive)
}

/// Filters, converts and sorts in the given order.
pub fn seat_rows_sorted(
    seats: &[Seat],
    filter: &SeatFilter,
    last_sync: Option<&LastSync>,
    now: DateTime<Utc>,
    sort: SeatSort,
) -> Vec<SeatRow> {
    let mut rows: Vec<SeatRow> = seats
        .iter()
        .filter(|s| filter.keep(s, now))
        .map(|s| SeatRow::new(s, last_sync, now))
        .collect();
    rows.sort_by(|a, b| {
        let order = match sort {
            SeatSort::Inactive => b.inactive_days.cmp(&a.inactive_days),
            // Some(newer) > Some(older) > None
            SeatSort::Recent => b.last_login_at.cmp(&a.last_login_at),
        };
        order
            .then_with(|| a.login.cmp(&b.login))
            .then_with(|| a.user_id.cmp(&b.user_id))
    });
    rows
}

#[cfg(test)]
pub fn seats_table(style: &Style, rows: &[SeatRow]) -> Table {
    seats_table_cols(style, rows, true)
}

/// The seats table; `wide` adds first seen, last seen and removed.
pub fn seats_table_cols(style: &Style, rows: &[SeatRow], wide: bool) -> Table {
    let mut header = vec![
        "user id",
        "login",
        "name",
        "status",
        "role",
        "license type",
        if wide {
            "last login (event)"
        } else {
            "last login"
        },
        "inactive days",
    ];
    if wide {
        header.extend(["first seen", "last seen", "removed"]);
    }
    let mut t = style.table(header);
    for r in rows {
        let license = if r.license_managed {
            r.license_type.clone()
        } else {
            format!("{} (unmanaged)", r.license_type)
        };
        let last_login = match (&r.last_login_at, &r.last_login_event_id) {
            (Some(at), Some(id)) if wide => format!("{} ({id})", output::date(*at)),
            (Some(at), _) => output::date(*at),
            (None, _) => "none seen".to_owned(),
        };
        let mut row = vec![
            Cell::new(&r.user_id),
            Cell::new(&r.login),
            Cell::new(&r.name),
            Cell::new(label(&r.status)),
            Cell::new(label(&r.role)),
            Cell::new(license),
            Cell::new(last_login),
            Cell::new(r.inactive_days).set_alignment(CellAlignment::Right),
        ];
        if wide {
            row.extend([
                Cell::new(output::date(r.first_seen_at)),
                Cell::new(output::date(r.last_seen_at)),
                Cell::new(output::opt_date(r.removed_at)),
            ]);
        }
        t.add_row(row);
    }
    // ids, logins and names wrap; the short columns stay whole
    output::no_wrap(&mut t, 3..if wide { 11 } else { 8 });
    t
}

pub async fn run(ctx: &Ctx, a: SeatsArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let p = ctx.profile(&a.id).await?;
    let seats = ctx.store.seats.list(&p.id).await?;
    let filter = SeatFilter::from_args(&a);
    let rows = seat_rows_sorted(&seats, &filter, p.last_sync.as_ref(), ctx.now, a.sort);
    match a.output {
        RowFormat::Json => write_json(out, &rows),
        RowFormat::Csv => write_csv(out, &CSV_HEADER, &rows),
        RowFormat::Table if rows.is_empty() => line(
            out,
            if seats.is_empty() {
                format!(
                    "no seats stored for profile {} yet (run `seatctl sync {}`)",
                    p.id, p.id
                )
            } else {
                format!(
                    "no seats match ({} stored for profile {})",
                    seats.len(),
                    p.id
                )
            },
        ),
        RowFormat::Table => {
            write_table(out, &seats_table_cols(&ctx.style, &rows, a.wide))?;
            line(
                out,
                format!(
                    "{} of {} seats shown; last finished sync: {}",
                    rows.len(),
                    seats.len(),
                    p.last_sync
                        .as_ref()
                        .map(|s| format!("{} UTC", output::datetime(s.finished_at)))
                        .unwrap_or_else(|| "never".into())
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use seatkeeper::domain::{LoginEvidence, Provider};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
    }

    fn seat(id: &str, login_days_ago: Option<i64>) -> Seat {
        let n = now();
        Seat {
            profile_id: "acme".into(),
            provider: Provider::Box,
            user_id: id.into(),
            login: format!("{id}@acme.test"),
            name: format!("User {id}"),
            status: "active".into(),
            role: "user".into(),
            is_admin: false,
            license_type: "business_plus".into(),
            license_managed: true,
            created_at: Some(n - Duration::days(400)),
            last_login: login_days_ago.map(|d| LoginEvidence {
                at: n - Duration::days(d),
                event_id: format!("ev-{id}"),
                event_type: "LOGIN".into(),
            }),
            first_seen_at: n - Duration::days(30),
            last_seen_at: n - Duration::days(30),
            removed_at: None,
            reclaimed_at: None,
            reclaim_request_id: None,
            run_id: "r0".into(),
            fingerprint: "f".into(),
            last_activity: None,
        }
    }

    #[test]
    fn filters() {
        let n = now();
        let mut admin = seat("1", Some(5));
        admin.is_admin = true;
        let mut removed = seat("2", Some(90));
        removed.removed_at = Some(n - Duration::days(1));
        let mut other = seat("3", Some(61));
        other.license_type = "enterprise".into();
        let never = seat("4", None); // created 400 days ago
        let seats = [admin, removed, other, never];
        let ids = |f: SeatFilter| -> Vec<String> {
            seat_rows(&seats, &f, None, n)
                .into_iter()
                .map(|r| r.user_id)
                .collect()
        };
        assert_eq!(ids(SeatFilter::default()), ["4", "3", "1"]);
        assert_eq!(
            ids(SeatFilter {
                include_removed: true,
                ..Default::default()
            }),
            ["4", "2", "3", "1"]
        );
        assert_eq!(
            ids(SeatFilter {
                inactive_days: Some(61),
                ..Default::default()
            }),
            ["4", "3"]
        );
        assert_eq!(
            ids(SeatFilter {
                inactive_days: Some(62),
                ..Default::default()
            }),
            ["4"]
        );
        assert_eq!(
            ids(SeatFilter {
                license_type: Some("ENTERPRISE".into()),
                ..Default::default()
            }),
            ["3"]
        );
        assert_eq!(
            ids(SeatFilter {
                admins_only: true,
                ..Default::default()
            }),
            ["1"]
        );
    }

    #[test]
    fn ties_sort_by_login() {
        let seats = [seat("b", Some(10)), seat("a", Some(10)), seat("c", Some(3))];
        let rows = seat_rows(&seats, &SeatFilter::default(), None, now());
        let logins: Vec<&str> = rows.iter().map(|r| r.login.as_str()).collect();
        assert_eq!(logins, ["a@acme.test", "b@acme.test", "c@acme.test"]);
    }

    #[test]
    fn last_seen_is_the_later_of_item_and_last_sync_for_present_seats() {
        let n = now();
        let s = seat("1", Some(3)); // last_seen_at 30 days ago
        let recent = LastSync {
            run_id: "r9".into(),
            observed_since: None,
            finished_at: n - Duration::days(1),
        };
        let older = LastSync {
            run_id: "r1".into(),
            observed_since: None,
            finished_at: n - Duration::days(40),
        };
        assert_eq!(
            effective_last_seen(&s, Some(&recent)),
            n - Duration::days(1)
        );
        assert_eq!(
            effective_last_seen(&s, Some(&older)),
            n - Duration::days(30)
        );
        assert_eq!(effective_last_seen(&s, None), n - Duration::days(30));
        // a removed seat was last seen when its item says, whatever syncs came later
        let mut gone = s.clone();
        gone.removed_at = Some(n - Duration::days(2));
        assert_eq!(
            effective_last_seen(&gone, Some(&recent)),
            n - Duration::days(30)
        );
        let row = SeatRow::new(&s, Some(&recent), n);
        assert_eq!(row.last_seen_at, n - Duration::days(1));
    }

    #[test]
    fn renders_table_json_and_csv() {
        let n = now();
        let mut unmanaged = seat("7", None);
        unmanaged.license_managed = false;
        unmanaged.license_type = "enterprise".into();
        let seats = [seat("1", Some(70)), unmanaged];
        let rows = seat_rows(&seats, &SeatFilter::default(), None, n);

        let text = seats_table(&Style::plain(), &rows).to_string();
        assert!(text.contains("2026-09-14 (ev-1)"), "{text}");
        assert!(text.contains("enterprise (unmanaged)"));
        assert!(text.contains("none seen"));

        let mut buf = Vec::new();
        write_json(&mut buf, &rows).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert_eq!(v[0]["user_id"], "7");
        assert_eq!(v[0]["inactive_days"], 400);
        assert_eq!(v[0]["license_managed"], false);
        assert!(v[0]["last_login_at"].is_null());
        assert_eq!(v[1]["last_login_event_id"], "ev-1");
        assert_eq!(v[1]["last_login_at"], "2026-09-14T12:00:00Z");

        assert_eq!(output::csv_header_of(&rows[0]), CSV_HEADER.join(","));
        let mut buf = Vec::new();
        write_csv(&mut buf, &CSV_HEADER, &rows).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "user_id,login,name,status,role,is_admin,license_type,license_managed,last_login_at,\
             last_login_event_id,last_login_event_type,inactive_days,created_at,first_seen_at,\
             last_seen_at,removed_at,reclaimed_at,reclaim_request_id"
        );
        assert!(lines
            .next()
            .unwrap()
            .starts_with("7,7@acme.test,User 7,active,user,false,enterprise,false,,,,400,"));
        assert_eq!(lines.count(), 1);
    }

    #[test]
    fn labels_roles_and_statuses() {
        assert_eq!(label("coadmin"), "co-admin");
        assert_eq!(label("team_admin"), "team admin");
        assert_eq!(label("member_only"), "member");
        assert_eq!(label("cannot_delete_edit"), "active (no delete/edit)");
        assert_eq!(label("some_new_value"), "some new value");
    }

    #[test]
    fn compact_table_shows_the_login_date_and_wide_the_event() {
        let n = now();
        let mut seat = seat("u1", Some(3));
        seat.status = "cannot_delete_edit".into();
        seat.role = "coadmin".into();
        let rows = seat_rows(&[seat.clone()], &SeatFilter::default(), None, n);
        let compact = seats_table_cols(&Style::plain(), &rows, false).to_string();
        let day = output::date(n - Duration::days(3));
        assert!(
            compact.contains(&day) && !compact.contains("none seen"),
            "{compact}"
        );
        assert!(
            compact.contains("co-admin") && !compact.contains("first seen"),
            "{compact}"
        );
        let wide = seats_table_cols(&Style::plain(), &rows, true).to_string();
        assert!(
            wide.contains("first seen") && wide.contains(&format!("{day} (")),
            "{wide}"
        );
    }

    #[test]
    fn recent_sort_puts_seats_with_activity_first() {
        let n = now();
        let seats = [
            seat("never", None),
            seat("old", Some(90)),
            seat("new", Some(1)),
        ];
        let rows = seat_rows_sorted(&seats, &SeatFilter::default(), None, n, SeatSort::Recent);
        let ids: Vec<&str> = rows.iter().map(|r| r.user_id.as_str()).collect();
        assert_eq!(ids, ["new", "old", "never"]);
    }
}
