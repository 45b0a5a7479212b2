//! The reclaim function: an SQS batch of reclaim requests (the template sets `BatchSize: 1`, so
//! every delivery is an attempt: see `docs/deploy.md`). Messages are handled one after another; those to try again are reported as batch item failures
//! (`ReportBatchItemFailures`), so one poison or slow message never blocks the rest. One
//! Reclamation task run per profile in the batch records the counts.
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;

use crate::domain::task::new_run_id;
use crate::domain::{Provider, ReclaimRequest, ReclaimStatus, TaskCounts, TaskKind, TaskRun};
use crate::metrics::{self, ReclaimBatch, ReclaimEnd};
use crate::ports::{ProfileRepo, ProviderAccess, Repos, RunRepo};
use crate::reclaim::{Outcome, Processed, Reclaimer};

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
    // undo window: suspended now (still holding the seat) or ended restored
    let mut undo: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut batch = BatchMetrics::default();
    for record in event.records {
        let Some(message_id) = record.message_id.clone() else {
            tracing::error!("SQS record without a message id; cannot be reported, skipped");
            continue;
        };
        let left = deadline.map(|d| d.duration_since(SystemTime::now()).unwrap_or_default());
        if let Some(left) = left.filter(|l| *l < min_time_left) {
            tracing::warn!(%message_id, left_ms = left.as_millis() as u64, "too little time left in this invocation; handing the message back");
            response.add_failure(message_id);
            // counted as retried for its profile, when the body names one
            if let Ok(req) = ReclaimRequest::parse(record.body.as_deref().unwrap_or("")) {
                batch.pending.push((req.profile_id, ReclaimEnd::Retried));
            }
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
        if let Some(end) = profile.and_then(|_| reclaim_end(&done)) {
            batch.add(&done, end);
        }
        if let Some(profile) = profile {
            let c = per_profile.entry(profile.clone()).or_default();
            c.requests_received += 1;
            c.add_api(done.api);
            match &done.outcome {
                Outcome::Finished(ReclaimStatus::Done) if !done.dry_run => c.reclaimed += 1,
                Outcome::Finished(ReclaimStatus::Skipped) => c.reclaim_skipped += 1,
                Outcome::Finished(ReclaimStatus::Failed) => c.reclaim_failed += 1,
                Outcome::Retry(_) => c.reclaim_retried += 1,
                Outcome::Finished(ReclaimStatus::Suspended) => {
                    undo.entry(profile.clone()).or_default().0 += 1
                }
                Outcome::Finished(ReclaimStatus::Restored) => {
                    undo.entry(profile.clone()).or_default().1 += 1
                }
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
        if let (Some(detail), Some((suspended, restored))) = (&mut task.detail, undo.get(&profile))
        {
            detail.push_str(&format!(
                "; undo window: {suspended} suspended (or waiting for its end), {restored} restored"
            ));
        }
        task.counts = counts;
        task.finish(Utc::now(), None);
        if let Err(e) = reclaimer.repos.runs().put_task_run(&task).await {
            tracing::warn!(profile, error = %e, "could not record the Reclamation task run");
        }
    }
    batch.emit(reclaimer).await;
    response
}

/// What a processed message counts as in the batch's metrics (an already finished request
/// counts for nothing: this delivery did nothing).
fn reclaim_end(done: &Processed) -> Option<ReclaimEnd> {
    let reason = || done.reason_code.clone().unwrap_or_else(|| "unknown".into());
    match &done.outcome {
        Outcome::Finished(ReclaimStatus::Done) if done.dry_run => {
            Some(ReclaimEnd::Skipped("dry_run".into()))
        }
        Outcome::Finished(ReclaimStatus::Done) => Some(ReclaimEnd::Done),
        Outcome::Finished(ReclaimStatus::Skipped) => Some(ReclaimEnd::Skipped(reason())),
        Outcome::Finished(ReclaimStatus::Failed) => Some(ReclaimEnd::Failed(reason())),
        Outcome::Retry(_) => Some(ReclaimEnd::Retried),
        _ => None,
    }
}

/// The batch's metric counts (`docs/metrics.md`), with the provider of each profile: known
/// from the processed request, else looked up once (only for messages handed back unread).
#[derive(Default)]
struct BatchMetrics {
    batch: ReclaimBatch,
    providers: BTreeMap<String, Provider>,
    pending: Vec<(String, ReclaimEnd)>,
}

impl BatchMetrics {
    fn add(&mut self, done: &Processed, end: ReclaimEnd) {
        let Some(profile) = done.profile_id.clone() else {
            return;
        };
        match done
            .provider
            .or_else(|| self.providers.get(&profile).copied())
        {
            Some(provider) => {
                self.providers.insert(profile.clone(), provider);
                self.batch.add(provider, &profile, end);
            }
            None => self.pending.push((profile, end)),
        }
    }

    async fn emit<R: Repos, P: ProviderAccess>(mut self, reclaimer: &Reclaimer<R, P>) {
        for (profile, end) in std::mem::take(&mut self.pending) {
            let provider = match self.providers.get(&profile) {
                Some(p) => Some(*p),
                None => match reclaimer.repos.profiles().get(&profile).await {
                    Ok(Some(p)) => {
                        self.providers.insert(profile.clone(), p.provider);
                        Some(p.provider)
                    }
                    _ => None,
                },
            };
            match provider {
                Some(provider) => self.batch.add(provider, &profile, end),
                None => tracing::debug!(profile, "no provider known; not in the batch metrics"),
            }
        }
        metrics::emit(&self.batch.lines(Utc::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ApiStatsSnapshot;

    fn processed(outcome: Outcome, dry_run: bool, reason: Option<&str>) -> Processed {
        Processed {
            outcome,
            profile_id: Some("acme".into()),
            dry_run,
            api: ApiStatsSnapshot::default(),
            provider: Some(Provider::Box),
            reason_code: reason.map(str::to_owned),
        }
    }

    #[test]
    fn outcomes_count_as_the_metrics_contract_says() {
        let done = processed(Outcome::Finished(ReclaimStatus::Done), false, None);
        assert_eq!(reclaim_end(&done), Some(ReclaimEnd::Done));
        let dry = processed(Outcome::Finished(ReclaimStatus::Done), true, None);
        assert_eq!(
            reclaim_end(&dry),
            Some(ReclaimEnd::Skipped("dry_run".into()))
        );
        let skipped = processed(
            Outcome::Finished(ReclaimStatus::Skipped),
            false,
            Some("active_since_request"),
        );
        assert_eq!(
            reclaim_end(&skipped),
            Some(ReclaimEnd::Skipped("active_since_request".into()))
        );
        let failed = processed(
            Outcome::Finished(ReclaimStatus::Failed),
            false,
            Some("remove_refused"),
        );
        assert_eq!(
            reclaim_end(&failed),
            Some(ReclaimEnd::Failed("remove_refused".into()))
        );
        let retry = processed(Outcome::Retry("later".into()), false, None);
        assert_eq!(reclaim_end(&retry), Some(ReclaimEnd::Retried));
        let again = processed(Outcome::AlreadyFinished(ReclaimStatus::Done), false, None);
        assert_eq!(reclaim_end(&again), None);

        let mut batch = BatchMetrics::default();
        for p in [&done, &dry, &skipped, &failed, &retry] {
            batch.add(p, reclaim_end(p).unwrap());
        }
        let lines = batch.batch.lines(Utc::now());
        let reclaim = lines.iter().find(|l| l["kind"] == "reclaim").unwrap();
        assert_eq!(reclaim["ReclaimsDone"], 1);
        assert_eq!(reclaim["ReclaimsRetried"], 1);
        assert_eq!(lines.len(), 4, "{lines:#?}");
    }
}
