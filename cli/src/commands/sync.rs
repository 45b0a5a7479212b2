//! `seatctl sync ID`: the same sync the scheduled Lambda runs (Box or Dropbox), with a progress bar.
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use seatkeeper::domain::{Provider, TaskKind, TaskStatus};
use seatkeeper::sync::{ProfileOutcome, Progress};
use seatkeeper::wiring;

use super::tasks::{task_table, TaskColumns};
use super::{parse_profile_id, Ctx};
use crate::error::CliError;
use crate::logging;
use crate::money::group_thousands;
use crate::output::{line, write_table};

#[derive(Debug, Args)]
#[command(after_help = "\
The sync runs its tasks in order (Application Access, Activity, Application Roster, License
Differentiation, License Information) and records each as a task run (`seatctl tasks ID`).
It takes the profile's sync lease, so it never overlaps the scheduled run of the same profile.
A sync that fails part-way never marks seats removed. A sync that would mark more seats
removed than the profile's roster guard allows (default max(10 seats, 5 %)) holds them: the
Application Roster task ends `held: roster dropped by N (x %)`, the seats are kept and no
candidates are listed. If those users really left, run `seatctl sync ID --accept-removals`;
otherwise every later sync checks again and keeps holding while the drop persists.
Exit status: 0 when every task succeeded, 1 otherwise.")]
pub struct SyncArgs {
    /// The profile id (an enabled Box profile with stored credentials).
    #[arg(value_parser = parse_profile_id)]
    pub id: String,
    /// Apply this sync's removals even beyond the roster guard (after a held drop you have
    /// checked). Used up by this sync only.
    #[arg(long)]
    pub accept_removals: bool,
}

pub async fn run(ctx: &Ctx, a: SyncArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let provider = ctx.profile(&a.id).await?.provider;
    if a.accept_removals {
        set_accept_removals(ctx, &a.id, true).await?;
    }
    let progress = BarProgress::new(io::stderr().is_terminal());
    let result = match provider {
        Provider::Box => {
            wiring::box_sync(&ctx.config, &ctx.aws)?
                .sync_profile(&a.id, &progress)
                .await
        }
        Provider::Dropbox => {
            wiring::dropbox_sync(&ctx.config, &ctx.aws)?
                .sync_profile(&a.id, &progress)
                .await
        }
    };
    progress.finish();
    if a.accept_removals {
        // the acceptance is for this sync only: a run that stopped before its roster finished
        // must not leave it for a later (scheduled) sync
        set_accept_removals(ctx, &a.id, false).await?;
    }
    let outcome = result?;
    write_table(
        out,
        &task_table(
            &ctx.style,
            &outcome.tasks,
            TaskColumns {
                run: false,
                note_width: None,
            },
        ),
    )?;
    line(out, summary(&outcome))?;
    if outcome.succeeded {
        Ok(())
    } else {
        Err(CliError::SyncFailed {
            profile: outcome.profile_id,
            run_id: outcome.run_id,
            message: outcome.error.unwrap_or_else(|| "a task failed".to_owned()),
        })
    }
}

async fn set_accept_removals(ctx: &Ctx, id: &str, accept: bool) -> Result<(), CliError> {
    use seatkeeper::ports::ProfileRepo;
    ctx.store
        .profiles
        .update(id, |p| {
            p.accept_removals = accept;
            Ok::<_, CliError>(())
        })
        .await?
        .ok_or_else(|| CliError::UnknownProfile(id.to_owned()))
}

/// One line under the task table: `run R succeeded: 1,200 seats (…), 3,400 login events, 40 API calls`.
pub fn summary(o: &ProfileOutcome) -> String {
    // numbers of tasks that ran; a skipped task has none worth showing
    let counts = |k: TaskKind| {
        o.tasks
            .iter()
            .find(|t| t.task == k && t.status != TaskStatus::Skipped)
            .map(|t| &t.counts)
    };
    let mut parts = Vec::new();
    if let Some(c) = counts(TaskKind::ApplicationRoster) {
        parts.push(format!(
            "{} seats ({} new, {} changed, {} removed, {} unmanaged)",
            group_thousands(c.seats_seen),
            group_thousands(c.seats_new),
            group_thousands(c.seats_changed),
            group_thousands(c.seats_removed),
            group_thousands(c.seats_unmanaged)
        ));
        if c.non_seats_skipped > 0 {
            parts.push(format!(
                "{} app/service accounts skipped",
                group_thousands(c.non_seats_skipped)
            ));
        }
    }
    if let Some(c) = counts(TaskKind::Activity) {
        parts.push(format!("{} login events", group_thousands(c.events_read)));
    }
    let calls: u64 = o.tasks.iter().map(|t| t.counts.api_calls).sum();
    let ms: u64 = o.tasks.iter().filter_map(|t| t.duration_ms).sum();
    parts.push(format!(
        "{} API calls in {}.{:01} s",
        group_thousands(calls),
        ms / 1000,
        (ms % 1000) / 100
    ));
    format!(
        "run {} of profile {} {}: {}",
        o.run_id,
        o.profile_id,
        if o.succeeded { "succeeded" } else { "failed" },
        parts.join(", ")
    )
}

/// A spinner on stderr showing the current task and running totals; hidden when stderr is not
/// a terminal (logs and pipes stay clean).
pub struct BarProgress {
    bar: ProgressBar,
    tasks: AtomicU64,
    seats: AtomicU64,
    events: AtomicU64,
}

impl BarProgress {
    pub fn new(visible: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            None,
            if visible {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {prefix}: {wide_msg}")
        {
            bar.set_style(style);
        }
        bar.set_prefix("starting");
        if visible {
            bar.enable_steady_tick(Duration::from_millis(120));
            // log lines (e.g. retry warnings) are printed above the bar, not through it
            logging::set_active_bar(Some(bar.clone()));
        }
        BarProgress {
            bar,
            tasks: AtomicU64::new(0),
            seats: AtomicU64::new(0),
            events: AtomicU64::new(0),
        }
    }

    fn refresh(&self) {
        self.bar.set_message(format!(
            "{} seats, {} login events",
            group_thousands(self.seats.load(Ordering::Relaxed)),
            group_thousands(self.events.load(Ordering::Relaxed))
        ));
    }

    #[cfg(test)]
    pub fn message(&self) -> String {
        format!("{}: {}", self.bar.prefix(), self.bar.message())
    }

    pub fn finish(&self) {
        logging::set_active_bar(None);
        self.bar.finish_and_clear();
    }
}

impl Progress for BarProgress {
    fn task(&self, label: &str) {
        let n = self.tasks.fetch_add(1, Ordering::Relaxed) + 1;
        self.bar.set_prefix(format!("task {n} {label}"));
        self.refresh();
    }

    /// Totals of the current task; the library reports seats in the roster and events in the
    /// activity task, so a zero means "not this task's number" and keeps the last value.
    fn advanced(&self, seats_seen: u64, events_read: u64) {
        if seats_seen > 0 {
            self.seats.store(seats_seen, Ordering::Relaxed);
        }
        if events_read > 0 {
            self.events.store(events_read, Ordering::Relaxed);
        }
        self.refresh();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use seatkeeper::domain::TaskRun;

    #[test]
    fn progress_keeps_both_totals() {
        let p = BarProgress::new(false);
        p.task("Activity");
        p.advanced(0, 500);
        p.advanced(0, 1500);
        p.task("Application Roster");
        p.advanced(1000, 0);
        assert_eq!(
            p.message(),
            "task 2 Application Roster: 1,000 seats, 1,500 login events"
        );
        p.finish();
    }

    #[test]
    fn summary_line() {
        let now = Utc::now();
        let mut roster = TaskRun::start("acme", "r1", TaskKind::ApplicationRoster, now);
        roster.counts.seats_seen = 1200;
        roster.counts.seats_new = 1200;
        roster.counts.non_seats_skipped = 3;
        roster.counts.api_calls = 12;
        roster.finish(now + chrono::Duration::milliseconds(2345), None);
        let mut activity = TaskRun::start("acme", "r1", TaskKind::Activity, now);
        activity.counts.events_read = 3400;
        activity.counts.api_calls = 7;
        activity.finish(now, None);
        let o = ProfileOutcome {
            profile_id: "acme".into(),
            run_id: "r1".into(),
            succeeded: true,
            error: None,
            tasks: vec![activity, roster],
            summaries: Vec::new(),
            continuation: None,
            ended: true,
        };
        assert_eq!(
            summary(&o),
            "run r1 of profile acme succeeded: 1,200 seats (1,200 new, 0 changed, 0 removed, \
             0 unmanaged), 3 app/service accounts skipped, 3,400 login events, 19 API calls in 2.3 s"
        );
    }
}
