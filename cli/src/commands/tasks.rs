//! `seatctl tasks [ID]`: task tracking, newest first. The task table is shared with `sync`.
use std::io::Write;

use clap::Args;
use comfy_table::{Cell, CellAlignment, Table};
use seatkeeper::domain::{TaskKind, TaskRun, TaskStatus};
use seatkeeper::ports::{ProfileRepo, RunRepo};

use super::{parse_profile_id, Ctx};
use crate::error::CliError;
use crate::money::group_thousands;
use crate::output::{self, line, write_json, write_table, Format, Style};

/// Width of the error/detail column of `tasks` in table mode (JSON has it all).
const NOTE_WIDTH: usize = 60;

#[derive(Debug, Args)]
#[command(after_help = "\
Columns: ms = duration in milliseconds, calls = provider API calls, 429s = rate-limited
responses, seats = seen/new/changed/removed. JSON has every field and the whole error or detail.
Each sync run records one task run per task: Application Access (credentials and token),
Activity (login events), Application Roster (users → seats), License Differentiation
(license types) and License Information (purchased vs assigned vs active). A task left
\"running\" means its run crashed or timed out; \"skipped\" means an earlier task of the run failed.")]
pub struct TasksArgs {
    /// Only this profile's task runs. Default: every profile's.
    #[arg(value_parser = parse_profile_id)]
    pub id: Option<String>,

    /// Show at most this many task runs (a sync run records 5).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,

    /// Output format. JSON has every field, the error and detail untruncated.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

pub async fn run(ctx: &Ctx, a: TasksArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let limit = a.limit as usize;
    let runs = match &a.id {
        Some(id) => {
            let p = ctx.profile(id).await?;
            ctx.store.runs.task_runs(&p.id, limit).await?
        }
        None => {
            let mut all = Vec::new();
            for p in ctx.store.profiles.list().await? {
                all.extend(ctx.store.runs.task_runs(&p.id, limit).await?);
            }
            newest_first(all, limit)
        }
    };
    match a.output {
        Format::Json => write_json(out, &runs),
        Format::Table if runs.is_empty() => line(
            out,
            match &a.id {
                Some(id) => format!("no task runs for profile {id} yet (run `seatctl sync {id}`)"),
                None => "no task runs yet (run `seatctl sync ID`)".to_owned(),
            },
        ),
        Format::Table => write_table(
            out,
            &task_table(
                &ctx.style,
                &runs,
                TaskColumns {
                    run: true,
                    note_width: Some(NOTE_WIDTH),
                },
            ),
        ),
    }
}

/// Merges task runs of several profiles: newest first, at most `limit`.
pub fn newest_first(mut runs: Vec<TaskRun>, limit: usize) -> Vec<TaskRun> {
    runs.sort_by(|a, b| {
        b.started_at
            .cmp(&a.started_at)
            .then_with(|| a.profile_id.cmp(&b.profile_id))
            .then_with(|| b.run_id.cmp(&a.run_id))
    });
    runs.truncate(limit);
    runs
}

pub fn status_word(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::Running => "running",
        TaskStatus::Succeeded => "succeeded",
        TaskStatus::Failed => "failed",
        TaskStatus::Skipped => "skipped",
    }
}

/// Which columns a task table has.
#[derive(Debug, Clone, Copy)]
pub struct TaskColumns {
    /// Start time, profile and run id (several runs in one table).
    pub run: bool,
    /// Cut the error/detail column to this many characters.
    pub note_width: Option<usize>,
}

/// The error when the task failed, else what it reports about itself.
fn note(t: &TaskRun) -> String {
    match (&t.error, &t.detail) {
        (Some(e), _) => e.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => String::new(),
    }
}

pub fn task_table(style: &Style, runs: &[TaskRun], cols: TaskColumns) -> Table {
    let mut header: Vec<&str> = Vec::new();
    if cols.run {
        header.extend(["started (UTC)", "profile", "run id"]);
    }
    header.extend([
        "task",
        "status",
        "ms",
        "pages",
        "calls",
        "retries",
        "429s",
        "seats seen/new/chg/rm",
        "events",
        "error / detail",
    ]);
    let mut t = style.table(header);
    let num = |n: u64| Cell::new(group_thousands(n)).set_alignment(CellAlignment::Right);
    for r in runs {
        let c = &r.counts;
        let mut row: Vec<Cell> = Vec::new();
        if cols.run {
            row.push(Cell::new(output::datetime(r.started_at)));
            row.push(Cell::new(&r.profile_id));
            row.push(Cell::new(&r.run_id));
        }
        let seats = if c.seats_seen + c.seats_new + c.seats_changed + c.seats_removed == 0 {
            "-".to_owned()
        } else {
            format!(
                "{}/{}/{}/{}",
                group_thousands(c.seats_seen),
                group_thousands(c.seats_new),
                group_thousands(c.seats_changed),
                group_thousands(c.seats_removed)
            )
        };
        let events = if (r.task == TaskKind::Activity && r.status != TaskStatus::Skipped)
            || c.events_read > 0
        {
            group_thousands(c.events_read)
        } else {
            "-".to_owned()
        };
        let note = note(r);
        row.extend([
            Cell::new(r.task.label()),
            style.status_cell(status_word(r.status)),
            match r.duration_ms {
                Some(ms) => num(ms),
                None => Cell::new("-"),
            },
            num(c.pages),
            num(c.api_calls),
            num(c.retries),
            num(c.throttled),
            Cell::new(seats).set_alignment(CellAlignment::Right),
            Cell::new(events).set_alignment(CellAlignment::Right),
            Cell::new(match cols.note_width {
                Some(w) => output::truncate_ascii(&note, w),
                None => note,
            }),
        ]);
        t.add_row(row);
    }
    // the profile, task, status and counts stay whole; dates, run ids, seats and the note wrap
    let first = if cols.run { 3 } else { 0 };
    let profile = cols.run.then_some(1);
    output::no_wrap(
        &mut t,
        profile
            .into_iter()
            .chain(first..first + 7)
            .chain([first + 8]),
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn run(profile: &str, secs: i64, task: TaskKind) -> TaskRun {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::seconds(secs);
        let mut t = TaskRun::start(profile, &format!("run-{secs}"), task, at);
        t.finish(at + Duration::milliseconds(1500), None);
        t
    }

    #[test]
    fn merges_profiles_newest_first_with_limit() {
        let all = vec![
            run("a", 1, TaskKind::Activity),
            run("b", 3, TaskKind::Activity),
            run("a", 2, TaskKind::Activity),
            run("b", 0, TaskKind::Activity),
        ];
        let got: Vec<i64> = newest_first(all, 3)
            .iter()
            .map(|t| t.started_at.timestamp() % 60)
            .collect();
        assert_eq!(got, vec![3, 2, 1]);
    }

    #[test]
    fn renders_counts_errors_and_truncation() {
        let mut roster = run("acme", 5, TaskKind::ApplicationRoster);
        roster.counts.seats_seen = 1200;
        roster.counts.seats_new = 1200;
        roster.counts.api_calls = 13;
        roster.counts.throttled = 2;
        let mut failed = run("acme", 6, TaskKind::LicenseInformation);
        failed.finish(
            failed.started_at,
            Some(format!("DynamoDB PutItem failed: {}", "x".repeat(100))),
        );
        let access = run("acme", 1, TaskKind::ApplicationAccess);
        let runs = [roster, failed, access];
        // wrapped to the pipe width, task labels and statuses stay whole
        let wrapped = task_table(
            &Style::plain(),
            &runs,
            TaskColumns {
                run: true,
                note_width: None,
            },
        )
        .to_string();
        assert!(wrapped.contains("Application Roster"), "{wrapped}");
        assert!(wrapped.contains("License Information"), "{wrapped}");
        assert!(
            wrapped.lines().all(|l| l.chars().count() <= 160),
            "{wrapped}"
        );
        // unwrapped (no width): this checks the note's own truncation, not the table's wrapping
        let s = Style {
            width: None,
            ..Style::plain()
        };
        let text = task_table(
            &s,
            &runs,
            TaskColumns {
                run: true,
                note_width: Some(30),
            },
        )
        .to_string();
        assert!(text.contains("1,200/1,200/0/0"), "{text}");
        assert!(
            text.contains("Application Roster") && text.contains("failed"),
            "{text}"
        );
        assert!(text.contains("run-5") && text.contains("2026-11-01 00:00:05"));
        assert!(text.contains("DynamoDB PutItem failed: xx..."), "{text}");
        assert!(!text.contains(&"x".repeat(40)));
        let text = task_table(
            &s,
            &runs,
            TaskColumns {
                run: false,
                note_width: None,
            },
        )
        .to_string();
        assert!(!text.contains("run-5"));
        assert!(text.contains(&"x".repeat(100)));
    }
}
