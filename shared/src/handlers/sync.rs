//! The sync functions (box-sync, dropbox-sync) take two event shapes:
//! - an SQS event from the sync queue (the dispatcher's jobs, `docs/sync-message.md`): one
//!   profile's run per record, failures to retry reported as batch item failures;
//! - a direct invocation (`seatctl`-style, the demo, a schedule of your own): `{"profile":"<id>"}`
//!   syncs that profile; `{}` syncs every enabled profile of the function's provider in turn.
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Diagnostic;
use serde::Deserialize;
use thiserror::Error;

use crate::domain::{Provider, SyncJob, TaskKind};
use crate::metrics;
use crate::ports::{
    MailEvents, Mailer, NoSyncQueue, ProviderAccess, QueueError, Repos, RequestQueue, SyncJobQueue,
};
use crate::sync::{NoProgress, ProfileOutcome, SyncError, SyncReport, Syncer};

/// The schedule's `Input`. Unknown fields are refused: a typo like `{"profle":"x"}` must not
/// silently sync every profile.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncInput {
    #[serde(default)]
    pub profile: Option<String>,
}

#[derive(Debug, Error)]
pub enum HandlerError {
    #[error("bad input: {0} (expected {{}} or {{\"profile\":\"<id>\"}})")]
    BadInput(String),
    #[error("{failed} of {total} profile sync(s) failed: {summary}")]
    SyncFailed {
        failed: usize,
        total: usize,
        summary: String,
    },
    #[error(transparent)]
    Sync(#[from] SyncError),
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match &e {
            HandlerError::BadInput(_) => "BadInput",
            HandlerError::SyncFailed { .. } => "SyncFailed",
            HandlerError::Sync(_) => "SyncError",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

pub fn parse_input(payload: serde_json::Value) -> Result<SyncInput, HandlerError> {
    let input = match payload {
        // a scheduler with no Input, or an empty invoke
        serde_json::Value::Null => SyncInput::default(),
        v => serde_json::from_value::<SyncInput>(v)
            .map_err(|e| HandlerError::BadInput(e.to_string()))?,
    };
    if let Some(p) = &input.profile {
        crate::domain::ids::ProfileId::parse(p)
            .map_err(|e| HandlerError::BadInput(e.to_string()))?;
    }
    Ok(input)
}

/// When this invocation's provider waits must end: the Lambda context's deadline (epoch ms) less
/// `margin` (`SYNC_DEADLINE_MARGIN_SECS`), left to record the run's end. A deadline already past
/// at the start is an emulator's artefact (AWS always gives the configured timeout): none then.
pub fn invocation_deadline(deadline_ms: u64, margin: Duration) -> Option<Instant> {
    let end = UNIX_EPOCH.checked_add(Duration::from_millis(deadline_ms))?;
    let left = end.duration_since(SystemTime::now()).ok()?;
    Some(Instant::now() + left.saturating_sub(margin))
}

/// Either event shape: an SQS event (it has `Records`) is handled as sync jobs and answered
/// with the batch response; anything else is a direct invocation, answered with the report.
/// No provider wait ends after `deadline` ([`invocation_deadline`]).
pub async fn handle_event<
    R: Repos,
    P: ProviderAccess,
    Q: RequestQueue,
    M: Mailer,
    E: MailEvents,
    J: SyncJobQueue,
>(
    sync: &Syncer<R, P, Q, M, E>,
    jobs: &J,
    payload: serde_json::Value,
    deadline: Option<Instant>,
) -> Result<serde_json::Value, HandlerError> {
    let encode = |v: Result<serde_json::Value, serde_json::Error>| {
        v.map_err(|e| HandlerError::BadInput(e.to_string()))
    };
    if payload.get("Records").is_some() {
        let event: SqsEvent = serde_json::from_value(payload)
            .map_err(|e| HandlerError::BadInput(format!("not an SQS event: {e}")))?;
        encode(serde_json::to_value(
            Box::pin(handle_jobs(sync, jobs, event, deadline)).await,
        ))
    } else {
        encode(serde_json::to_value(
            Box::pin(handle_until(sync, jobs, payload, deadline)).await?,
        ))
    }
}

/// Sync jobs from the sync queue (the template sets `BatchSize: 1`: one profile's run per
/// invocation). A record is handed back (batch item failure) only when trying again can help: a
/// malformed message (it reaches the DLQ and its alarm) or a store error before the run started.
/// A run that started is recorded in its task runs whatever its end, and acknowledged; so is a
/// job whose profile is gone, disabled, of the other provider, or already being synced (the
/// run holding the lease is doing this work). A run that reaches the deadline saves and posts
/// the job that continues it on `jobs`; if that post fails, the record is handed back, and its
/// redelivery resumes the saved run.
pub async fn handle_jobs<
    R: Repos,
    P: ProviderAccess,
    Q: RequestQueue,
    M: Mailer,
    E: MailEvents,
    J: SyncJobQueue,
>(
    sync: &Syncer<R, P, Q, M, E>,
    jobs: &J,
    event: SqsEvent,
    deadline: Option<Instant>,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let mut report = SyncReport::default();
    for record in event.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let job = match SyncJob::parse(record.body.as_deref().unwrap_or("")) {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(%message_id, error = %e, "invalid sync job; handed back (it ends in the sync queue's DLQ)");
                response.add_failure(message_id);
                continue;
            }
        };
        match Box::pin(sync.run_job(&job, &NoProgress, deadline)).await {
            Ok(outcome) => {
                // not posted, or not saved at all (the previous save stands): the redelivery
                // resumes the saved run
                let unsaved = !outcome.ended && outcome.continuation.is_none();
                if unsaved
                    || post_continuation(sync.provider, jobs, &outcome)
                        .await
                        .is_err()
                {
                    response.add_failure(message_id);
                }
                report.profiles.push(outcome);
            }
            Err(e) => {
                let retry = matches!(e, SyncError::Store(_));
                tracing::error!(provider = sync.provider.as_str(), profile = %job.profile, %message_id, retry, error = %e, "sync could not start");
                if retry {
                    response.add_failure(message_id);
                }
                report
                    .profiles
                    .push(ProfileOutcome::not_started(&job.profile, &e));
            }
        }
    }
    crate::metrics::emit(&metric_lines(sync.provider, &report));
    response
}

/// Runs the sync the input asks for. The invocation fails if any profile failed, after every
/// profile has had its turn.
pub async fn handle<R: Repos, P: ProviderAccess, Q: RequestQueue, M: Mailer, E: MailEvents>(
    sync: &Syncer<R, P, Q, M, E>,
    payload: serde_json::Value,
) -> Result<SyncReport, HandlerError> {
    handle_until(sync, &NoSyncQueue, payload, None).await
}

/// Posts the job that continues a run that reached the deadline (none: nothing to do).
async fn post_continuation<J: SyncJobQueue>(
    provider: Provider,
    jobs: &J,
    outcome: &ProfileOutcome,
) -> Result<(), QueueError> {
    let Some(job) = &outcome.continuation else {
        return Ok(());
    };
    match jobs.send_job(provider, job).await {
        Ok(message_id) => {
            tracing::info!(provider = provider.as_str(), profile = %outcome.profile_id, run_id = %outcome.run_id, %message_id, "the run continues in the next invocation");
            Ok(())
        }
        Err(e) => {
            tracing::error!(provider = provider.as_str(), profile = %outcome.profile_id, run_id = %outcome.run_id, error = %e, "could not post the job that continues the run; its saved state is resumed by the job's redelivery or the next schedule");
            Err(e)
        }
    }
}

/// [`handle`] in an invocation that ends at `deadline`; a run that continues posts its next
/// job on `jobs`.
pub async fn handle_until<
    R: Repos,
    P: ProviderAccess,
    Q: RequestQueue,
    M: Mailer,
    E: MailEvents,
    J: SyncJobQueue,
>(
    sync: &Syncer<R, P, Q, M, E>,
    jobs: &J,
    payload: serde_json::Value,
    deadline: Option<Instant>,
) -> Result<SyncReport, HandlerError> {
    let input = parse_input(payload)?;
    let report = match input.profile {
        Some(id) => SyncReport {
            profiles: vec![Box::pin(sync.sync_or_record(&id, &NoProgress, deadline)).await],
        },
        None => Box::pin(sync.sync_all(&NoProgress, deadline)).await?,
    };
    for o in &report.profiles {
        // a failed post is logged; the saved run is resumed by the next schedule's job
        let _ = post_continuation(sync.provider, jobs, o).await;
    }
    crate::metrics::emit(&metric_lines(sync.provider, &report));
    let failed = report.failed();
    if failed.is_empty() {
        Ok(report)
    } else {
        Err(HandlerError::SyncFailed {
            failed: failed.len(),
            total: report.profiles.len(),
            summary: failed
                .iter()
                .map(|o| {
                    format!(
                        "{}: {}",
                        o.profile_id,
                        o.error.as_deref().unwrap_or("failed")
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        })
    }
}

/// The EMF lines of an invocation (`docs/metrics.md`): one `task` line per task run that ran,
/// and one `sync` line per finished profile sync.
pub fn metric_lines(provider: Provider, report: &SyncReport) -> Vec<serde_json::Value> {
    let mut lines = Vec::new();
    for o in &report.profiles {
        if !o.ended {
            // the run goes on: its task lines come once, with the invocation that ends it
            continue;
        }
        lines.extend(
            o.tasks
                .iter()
                .filter_map(|t| metrics::task_line(provider, t)),
        );
        if o.succeeded && !o.tasks.is_empty() {
            let last = o.tasks.iter().filter_map(|t| t.ended_at).max();
            let candidates = o
                .task(TaskKind::Reclamation)
                .map_or(0, |t| t.counts.candidates);
            lines.push(metrics::sync_line(
                provider,
                &o.profile_id,
                &o.run_id,
                &o.summaries,
                candidates,
                last.unwrap_or_else(chrono::Utc::now),
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_forms() {
        assert_eq!(parse_input(json!({})).unwrap().profile, None);
        assert_eq!(parse_input(serde_json::Value::Null).unwrap().profile, None);
        assert_eq!(
            parse_input(json!({"profile":"acme"}))
                .unwrap()
                .profile
                .as_deref(),
            Some("acme")
        );
        for bad in [
            json!({"profle":"acme"}),
            json!({"profile":5}),
            json!({"profile":"Bad Id"}),
            json!([1]),
        ] {
            let e = parse_input(bad.clone()).unwrap_err();
            assert!(matches!(e, HandlerError::BadInput(_)), "{bad}: {e}");
        }
        let d: Diagnostic = parse_input(json!({"x":1})).unwrap_err().into();
        assert_eq!(d.error_type, "BadInput");
    }

    #[test]
    fn the_deadline_keeps_the_margin_and_ignores_one_already_past() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let d = invocation_deadline(now_ms + 900_000, Duration::from_secs(60)).unwrap();
        let left = d.duration_since(Instant::now());
        assert!(
            left <= Duration::from_secs(840) && left > Duration::from_secs(830),
            "{left:?}"
        );
        // less time left than the margin: no wait at all
        let d = invocation_deadline(now_ms + 30_000, Duration::from_secs(60)).unwrap();
        assert!(d <= Instant::now() + Duration::from_millis(10));
        assert_eq!(
            invocation_deadline(now_ms - 1_000, Duration::from_secs(60)),
            None
        );
    }

    use crate::domain::{BoxPlan, ObservedSeat, Profile, TaskStatus};
    use crate::http::{ErrorCode, ProviderError};
    use crate::memory::provider::{Fault, Op};
    use crate::memory::{MemoryMailer, MemoryProvider, MemoryQueue, MemoryRepos, MemorySyncQueue};
    use crate::ports::{ProfileRepo, RunRepo, SeatRepo};

    type TestSync = Syncer<MemoryRepos, MemoryProvider, MemoryQueue, MemoryMailer>;

    /// A Box-like profile "acme" with two users, in report mode.
    async fn setup() -> (TestSync, MemoryProvider, MemoryRepos) {
        let repos = MemoryRepos::default();
        let profile =
            Profile::new_box("acme", "Acme", "42", BoxPlan::Business, chrono::Utc::now()).unwrap();
        repos.profiles().create(&profile).await.unwrap();
        let provider = MemoryProvider::new(true);
        for id in ["1", "2"] {
            provider.add_user(
                ObservedSeat {
                    user_id: id.into(),
                    login: format!("u{id}@example.com"),
                    name: format!("User {id}"),
                    status: "active".into(),
                    role: "user".into(),
                    is_admin: false,
                    license_type: "business".into(),
                    license_managed: true,
                    created_at: None,
                },
                1,
            );
        }
        let sync = Syncer {
            provider: Provider::Box,
            repos: repos.clone(),
            providers: provider.clone(),
            queue: None,
            notifier: None,
            default_backfill_days: 90,
            max_run_age: chrono::Duration::hours(20),
        };
        (sync, provider, repos)
    }

    /// An SQS event of sync-job bodies, as the event source delivers them.
    fn sqs_event(bodies: &[&str]) -> serde_json::Value {
        let records: Vec<_> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| {
                serde_json::json!({
                    "messageId": format!("m{i}"),
                    "receiptHandle": "r",
                    "body": b,
                    "attributes": {},
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:sync",
                    "awsRegion": "us-east-1",
                })
            })
            .collect();
        serde_json::json!({ "Records": records })
    }

    #[tokio::test]
    async fn sync_jobs_from_the_queue_are_retried_only_when_that_can_help() {
        let (sync, provider, repos) = setup().await;
        let jobs = MemorySyncQueue::default();
        let failures = |v: serde_json::Value| -> Vec<String> {
            v["batchItemFailures"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
                .collect()
        };
        // a good job runs the profile's sync; an unknown profile is acknowledged; a malformed body is
        // handed back (to reach the DLQ)
        let v = handle_event(
            &sync,
            &jobs,
            sqs_event(&[
                r#"{"version":1,"profile":"acme","run_id":null,"continuation":null}"#,
                r#"{"version":1,"profile":"ghost"}"#,
                r#"{"profile":"acme"}"#,
            ]),
            None,
        )
        .await
        .unwrap();
        assert_eq!(failures(v), ["m2"]);
        let runs = repos.runs().task_runs("acme", 50).await.unwrap();
        assert!(runs
            .iter()
            .any(|t| t.task == TaskKind::Reclamation && t.status == TaskStatus::Succeeded));
        assert_eq!(repos.seats().list("acme").await.unwrap().len(), 2);

        // a run that fails at the provider is recorded and acknowledged: the next schedule tries again
        provider.inject(
            Op::Roster,
            Fault::Fail(ProviderError::Server {
                provider: "memory",
                status: 503,
                code: ErrorCode::Other("unavailable".into()),
                request_id: None,
                retry_after: None,
            }),
        );
        let v = handle_event(
            &sync,
            &jobs,
            sqs_event(&[r#"{"version":1,"profile":"acme"}"#]),
            None,
        )
        .await
        .unwrap();
        assert!(failures(v).is_empty());
        // a store error before the run started: handed back, SQS delivers it again
        repos.fail_next("runs.acquire_lease");
        let v = handle_event(
            &sync,
            &jobs,
            sqs_event(&[r#"{"version":1,"profile":"acme"}"#]),
            None,
        )
        .await
        .unwrap();
        assert_eq!(failures(v), ["m0"]);
        // a direct invocation still answers with the report
        let v = handle_event(&sync, &jobs, serde_json::json!({"profile":"acme"}), None)
            .await
            .unwrap();
        assert_eq!(v["profiles"][0]["succeeded"], true);
    }

    /// A job whose invocation has no time left works one page, saves, and posts the job that
    /// continues it on its own queue; fed back until none is posted, the runs end in the state
    /// of one uninterrupted run. A continuation that cannot be posted hands the record back.
    #[tokio::test]
    async fn a_run_that_reaches_the_deadline_posts_its_continuation() {
        let (sync, provider, repos) = setup().await;
        provider.tenant().page_size = 1;
        let jobs = MemorySyncQueue::default();
        let past = Some(Instant::now());
        let v = handle_event(
            &sync,
            &jobs,
            sqs_event(&[r#"{"version":1,"profile":"acme"}"#]),
            past,
        )
        .await
        .unwrap();
        assert_eq!(v["batchItemFailures"], json!([]));
        let mut invocations = 1;
        loop {
            let sent = jobs.sent();
            if sent.len() < invocations {
                break;
            }
            let (to, job) = sent[invocations - 1].clone();
            assert_eq!(to, Provider::Box);
            assert!(
                job.run_id.is_some() && job.continuation.is_some(),
                "{job:?}"
            );
            let body = job.to_body().unwrap();
            handle_event(&sync, &jobs, sqs_event(&[&body]), past)
                .await
                .unwrap();
            invocations += 1;
            assert!(invocations < 50, "the run never ended");
        }
        // one activity page and two roster pages: at least three invocations
        assert!(invocations >= 3, "{invocations}");
        assert_eq!(repos.seats().list("acme").await.unwrap().len(), 2);
        assert_eq!(repos.runs().get_run_state("acme").await.unwrap(), None);
        let runs = repos.runs().task_runs("acme", 50).await.unwrap();
        assert!(runs
            .iter()
            .all(|t| t.status == TaskStatus::Succeeded && t.run_id == runs[0].run_id));
        assert_eq!(runs.len(), 6, "{runs:#?}");

        // the continuation cannot be posted: the record is handed back, the state stays saved
        jobs.fail_for("acme");
        let v = handle_event(
            &sync,
            &jobs,
            sqs_event(&[r#"{"version":1,"profile":"acme"}"#]),
            past,
        )
        .await
        .unwrap();
        assert_eq!(v["batchItemFailures"][0]["itemIdentifier"], "m0");
        assert!(repos.runs().get_run_state("acme").await.unwrap().is_some());
    }
}
