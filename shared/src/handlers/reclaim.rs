//! The reclaim function: an SQS batch of reclaim requests (the template sets `BatchSize: 1`, so
//! every delivery is an attempt: see `docs/deploy.md`). Messages are handled one after another; those to try again are reported as batch item failures
//! (`ReportBatchItemFailures`), so one poison or slow message never blocks the rest. One
//! Reclamation task run per profile in the batch records the counts.
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;

use crate::domain::task::new_run_id;
use crate::domain::{ReclaimStatus, TaskCounts, TaskKind, TaskRun};
use crate::ports::{ProviderAccess, Repos, RunRepo};
use crate::reclaim::{Outcome, Reclaimer};

/// Handles one SQS event. `owner` is the invocation's request id; `deadline` its end. A message
/// is not started with less than `min_time_left` before the deadline (a Box transfer can take
/// minutes); it goes back to the queue instead.
pub async fn handle<R: Repos, P: ProviderAccess>(
    reclaimer: &Reclaimer<R, P>,
    event: SqsEvent,
    owner: &str,
    deadline: Option<SystemTime>,
    min_time_left: Duration,
) -> SqsBatchResponse {
    // A deadline already past at the start is an emulator's artefact (AWS always gives the
    // configured timeout): ignore it rather than hand every message back.
    let deadline = deadline.filter(|d| {
        let sane = d.duration_since(SystemTime::now()).is_ok();
        if !sane {
            tracing::warn!("the invocation's deadline is already past; ignoring it");
        }
        sane
    });
    let started = Utc::now();
    let run_id = new_run_id(started);
    let mut response = SqsBatchResponse::default();
    let mut per_profile: BTreeMap<String, TaskCounts> = BTreeMap::new();
    for record in event.records {
        let Some(message_id) = record.message_id.clone() else {
            tracing::error!("SQS record without a message id; cannot be reported, skipped");
            continue;
        };
        let left = deadline.map(|d| d.duration_since(SystemTime::now()).unwrap_or_default());
        if let Some(left) = left.filter(|l| *l < min_time_left) {
            tracing::warn!(%message_id, left_ms = left.as_millis() as u64, "too little time left in this invocation; handing the message back");
            response.add_failure(message_id);
            continue;
        }
        let body = record.body.as_deref().unwrap_or("");
        // the IAM principal that sent the message, for the audit trail
        let sender = record.attributes.get("SenderId").map(String::as_str);
        let done = reclaimer
            .process_from(&message_id, body, owner, sender)
            .await;
        if done.outcome.is_retry() {
            response.add_failure(message_id.clone());
        }
        // an invalid message (e.g. for an unknown profile) counts for no profile's task runs
        let profile = done
            .profile_id
            .as_ref()
            .filter(|_| !matches!(done.outcome, Outcome::Invalid(_)));
        if let Some(profile) = profile {
            let c = per_profile.entry(profile.clone()).or_default();
            c.requests_received += 1;
            c.add_api(done.api);
            match &done.outcome {
                Outcome::Finished(ReclaimStatus::Done) if !done.dry_run => c.reclaimed += 1,
                Outcome::Finished(ReclaimStatus::Skipped) => c.reclaim_skipped += 1,
                Outcome::Finished(ReclaimStatus::Failed) => c.reclaim_failed += 1,
                Outcome::Retry(_) => c.reclaim_retried += 1,
                _ => {}
            }
        }
    }
    for (profile, counts) in per_profile {
        let mut task = TaskRun::start(&profile, &run_id, TaskKind::Reclamation, started);
        task.detail = Some(format!(
            "reclaim batch: {} request(s): {} reclaimed, {} skipped, {} failed, {} to retry",
            counts.requests_received,
            counts.reclaimed,
            counts.reclaim_skipped,
            counts.reclaim_failed,
            counts.reclaim_retried
        ));
        task.counts = counts;
        task.finish(Utc::now(), None);
        if let Err(e) = reclaimer.repos.runs().put_task_run(&task).await {
            tracing::warn!(profile, error = %e, "could not record the Reclamation task run");
        }
    }
    response
}
