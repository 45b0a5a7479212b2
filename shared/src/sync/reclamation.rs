//! Reclamation, the last task of a finished sync: the rules applied to the complete roster, and
//! in auto mode the candidates enqueued within the blast-radius cap; in notify mode the
//! notify service ([`crate::notify`]) mails notices, enqueues the due ones and sends the digest.
//! It never runs after a failed task, so candidates never come from partial data.
use chrono::Utc;

use super::run::{Run, SyncError};
use crate::candidates;
use crate::domain::{ReclaimMode, TaskKind};
use crate::notify::{self, Notifier};
use crate::ports::{MailEvents, Mailer, ProfileRepo, QueueError, Repos, RequestQueue, SeatRepo};

pub(crate) async fn reclamation<R: Repos, M: Mailer, E: MailEvents>(
    run: &mut Run<'_, R>,
    queue: Option<&impl RequestQueue>,
    notifier: Option<&Notifier<M, E>>,
) -> Result<(), SyncError> {
    let (mut task, stats) = run.begin(TaskKind::Reclamation).await?;
    let (repos, run_id) = (run.repos, run.run_id.clone());
    let loaded = run.profile;
    let r = async {
        // the rules as they are now (a pause or edit made during the sync counts)
        let profile = repos
            .profiles()
            .get(&loaded.id)
            .await?
            .unwrap_or_else(|| loaded.clone());
        let now = Utc::now();
        let auto = profile.rules.mode == ReclaimMode::Auto && !profile.rules.paused;
        // the cap counts present seats, known only after the pass: keep enough for any cap
        let keep = if auto {
            usize::try_from(profile.rules.max_per_run).unwrap_or(usize::MAX)
        } else {
            0
        };
        let refreshed = candidates::refresh(repos.seats(), &profile, &run_id, now, keep).await?;
        let report = &refreshed.report;
        task.counts.candidates = report.candidates;
        task.counts.not_observed_long_enough = report.not_observed_long_enough;
        task.counts.items_written = report.written + report.dropped;
        let mut detail = format!(
            "{} [{} mode]: {} candidate(s) of {} seat(s); {} exempt, {} active, {} in grace, {} out of scope",
            profile.rules.describe(),
            profile.rules.mode,
            report.candidates,
            report.seats_evaluated,
            report.exempt,
            report.active,
            report.in_grace,
            report.out_of_scope
        );
        if report.not_observed_long_enough > 0 {
            let since = profile.last_sync.as_ref().and_then(|l| l.observed_since);
            detail.push_str(&format!(
                "; {} not observed long enough (activity read since {}; `seatctl candidates {} --all` lists when each becomes decidable)",
                report.not_observed_long_enough,
                since.map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d").to_string()),
                profile.id
            ));
        }
        if profile.rules.mode == ReclaimMode::Notify {
            let r = notify::run(repos, notifier, queue, &profile, report.seats_evaluated, now)
                .await?;
            task.counts.requests_enqueued = r.enqueued;
            detail.push_str("; ");
            detail.push_str(&r.describe());
            if !r.paused {
                match notify::send_digest(repos, notifier, &profile, now).await? {
                    notify::DigestOutcome::Sent { .. } => detail.push_str("; digest sent"),
                    notify::DigestOutcome::Failed(e) => {
                        detail.push_str(&format!("; digest not sent ({e})"))
                    }
                    _ => {}
                }
            }
        } else if profile.rules.paused {
            detail.push_str("; paused: nothing enqueued");
        } else if auto {
            let queue = queue.ok_or(QueueError::NotConfigured)?;
            let cap = profile.rules.cap(report.seats_evaluated);
            // the stored item (with any approval on it) is what gets the request id
            let mut top = Vec::with_capacity(refreshed.top_unrequested.len());
            for c in refreshed.top_unrequested {
                top.push(
                    repos
                        .seats()
                        .get_candidate(&c.profile_id, &c.user_id)
                        .await?
                        .unwrap_or(c),
                );
            }
            let (sent, _) = candidates::enqueue(
                repos.seats(),
                repos.reclaims(),
                queue,
                &mut top,
                "seatkeeper auto mode",
                "auto",
                cap,
                now,
            )
            .await?;
            let held = refreshed.unrequested.saturating_sub(sent.len() as u64);
            task.counts.requests_enqueued = sent.len() as u64;
            detail.push_str(&format!(
                "; enqueued {} (cap {cap}), {held} held by the cap",
                sent.len()
            ));
        }
        crate::undo::repost_due(repos, queue, &profile, now, &mut detail).await?;
        task.detail = Some(detail);
        Ok(())
    }
    .await;
    run.end(task, &stats, r).await
}
