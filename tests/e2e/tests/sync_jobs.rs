//! One job per profile, end to end: the dispatcher (as its schedule invokes it) posts sync jobs on
//! the providers' sync queues in moto; each job is delivered the way Lambda's SQS event source
//! does (one record per invocation, `BatchSize: 1`) to box-sync's or dropbox-sync's handler.
use std::collections::HashMap;

use aws_lambda_events::event::sqs::SqsEvent;
use seatkeeper::domain::{SyncJob, TaskKind, TaskStatus};
use seatkeeper::handlers::sync::handle_event;
use seatkeeper::handlers::sync_dispatcher;
use seatkeeper::ports::{NoSyncQueue, RunRepo};
use seatkeeper::providers::dropbox_api::Slot;
use seatkeeper::wiring::{self, ProductionSync};
use seatkeeper_e2e::{unique, TestEnv};
use serde_json::json;

async fn create_queue(env: &TestEnv, name: &str) -> String {
    env.aws
        .sqs
        .create_queue()
        .queue_name(unique(name))
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url")
}

/// Receives every message of a queue (until an empty receive), as SQS events of one record.
async fn receive_all(env: &TestEnv, url: &str) -> Vec<(SqsEvent, String)> {
    let mut out = Vec::new();
    loop {
        let msgs = env
            .aws
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default();
        if msgs.is_empty() {
            return out;
        }
        for m in msgs {
            let record = json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": HashMap::<String, String>::new(),
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:sync",
                "awsRegion": "us-east-1",
            });
            let event: SqsEvent =
                serde_json::from_value(json!({ "Records": [record] })).expect("SQS event");
            out.push((event, m.receipt_handle().unwrap_or_default().to_owned()));
        }
    }
}

/// The event source's part after an invocation: a record not reported failed is deleted.
async fn deliver(env: &TestEnv, sync: &ProductionSync, url: &str, event: SqsEvent, receipt: &str) {
    let payload = serde_json::to_value(&event).expect("event json");
    let response = handle_event(sync, &NoSyncQueue, payload, None)
        .await
        .expect("handler answers");
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    env.aws
        .sqs
        .delete_message()
        .queue_url(url)
        .receipt_handle(receipt)
        .send()
        .await
        .expect("delete");
}

async fn reclamation_status(env: &TestEnv, profile: &str) -> Option<TaskStatus> {
    let runs = env.store.runs.task_runs(profile, 20).await.unwrap();
    runs.iter()
        .find(|t| t.task == TaskKind::Reclamation)
        .map(|t| t.status)
}

#[tokio::test]
async fn each_profile_syncs_as_its_own_job_in_parallel_with_independent_outcomes() {
    let mut env = TestEnv::start_with(120, 30, 41).await;
    let good = env.add_box_profile().await;
    let bad = env.add_box_profile().await;
    env.secrets
        .put_box_credentials(
            &bad.credentials_secret,
            &seatkeeper::providers::box_api::BoxCredentials {
                client_id: env.sandbox.box_tenant().client_id(),
                client_secret: secrecy::SecretString::from("wrong".to_string()),
                enterprise_id: env.sandbox.box_tenant().enterprise_id(),
            },
        )
        .await
        .unwrap();
    let team = env.add_dropbox_profile().await;
    env.connect_dropbox(&team.id, Slot::Sync).await;

    let box_url = create_queue(&env, "box-sync").await;
    let dropbox_url = create_queue(&env, "dropbox-sync").await;
    env.config.box_sync_queue_url = Some(box_url.clone());
    env.config.dropbox_sync_queue_url = Some(dropbox_url.clone());
    let dispatcher = wiring::sync_dispatcher(&env.config, &env.aws).expect("dispatcher");

    // the two schedules
    let r = sync_dispatcher::handle(&dispatcher, json!({"provider":"box"}))
        .await
        .expect("box jobs posted");
    assert_eq!(r.enqueued.len(), 2);
    sync_dispatcher::handle(&dispatcher, json!({"provider":"dropbox"}))
        .await
        .expect("dropbox jobs posted");

    // each provider's queue holds only its own profiles' jobs, one each, for a fresh run
    let box_jobs = receive_all(&env, &box_url).await;
    let mut profiles: Vec<_> = box_jobs
        .iter()
        .map(|(e, _)| SyncJob::parse(e.records[0].body.as_deref().unwrap()).unwrap())
        .inspect(|j| assert!(j.run_id.is_none() && j.continuation.is_none()))
        .map(|j| j.profile)
        .collect();
    profiles.sort();
    let mut expected = vec![good.id.clone(), bad.id.clone()];
    expected.sort();
    assert_eq!(profiles, expected);
    let dropbox_jobs = receive_all(&env, &dropbox_url).await;
    assert_eq!(dropbox_jobs.len(), 1);

    // two box-sync invocations at once, one per job; dropbox-sync beside them
    let box_sync = env.box_sync();
    let dropbox_sync = env.dropbox_sync();
    let [(e1, r1), (e2, r2)]: [(SqsEvent, String); 2] = box_jobs.try_into().unwrap();
    let [(e3, r3)]: [(SqsEvent, String); 1] = dropbox_jobs.try_into().unwrap();
    tokio::join!(
        deliver(&env, &box_sync, &box_url, e1, &r1),
        deliver(&env, &box_sync, &box_url, e2, &r2),
        deliver(&env, &dropbox_sync, &dropbox_url, e3, &r3),
    );

    // the failing profile failed on its own; the others finished their whole run
    assert_eq!(
        reclamation_status(&env, &good.id).await,
        Some(TaskStatus::Succeeded)
    );
    assert_eq!(
        reclamation_status(&env, &team.id).await,
        Some(TaskStatus::Succeeded)
    );
    let bad_runs = env.store.runs.task_runs(&bad.id, 20).await.unwrap();
    let access = bad_runs
        .iter()
        .find(|t| t.task == TaskKind::ApplicationAccess)
        .unwrap();
    assert_eq!(access.status, TaskStatus::Failed);
    assert!(!env.seat_items(&good.id).await.is_empty());
    assert!(!env.seat_items(&team.id).await.is_empty());
    assert!(env.seat_items(&bad.id).await.is_empty());
    // every job was acknowledged
    assert!(receive_all(&env, &box_url).await.is_empty());
    assert!(receive_all(&env, &dropbox_url).await.is_empty());
}

/// One sync job for `profile`, as the event source hands it over (nothing on a real queue).
fn job_event(profile: &str) -> serde_json::Value {
    json!({ "Records": [{
        "messageId": "m-1",
        "receiptHandle": "r-1",
        "body": SyncJob::fresh(profile).to_body().unwrap(),
        "attributes": {},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:box-sync",
        "awsRegion": "us-east-1",
    }]})
}

/// The "a Retry-After longer than the time left saves and continues": a 429 asking for
/// more time than the invocation has left is not waited out; the run saves where it is (nothing
/// read yet), posts the job that continues it, removes nobody, and the continuation finishes
/// the same run.
#[tokio::test]
async fn a_retry_after_longer_than_the_time_left_saves_and_continues() {
    use provider_sandbox::{FaultKind, FaultRule, Route};
    use seatkeeper::domain::RunStage;
    use seatkeeper::queue::SyncQueues;
    use std::time::{Duration, Instant};
    let env = TestEnv::start(150, 43).await;
    let profile = env.add_box_profile().await;
    let sync = env.box_sync();
    let url = create_queue(&env, "box-sync-jobs").await;
    let jobs = SyncQueues::new(env.aws.sqs.clone(), &url, &url);
    let first = handle_event(&sync, &jobs, job_event(&profile.id), None)
        .await
        .unwrap();
    assert_eq!(first["batchItemFailures"], json!([]));
    let before = env.seat_items(&profile.id).await;
    assert!(!before.is_empty());

    // a 429 asking for 3 s (within the retry policy's cap) when 1 s is left: no wait is taken
    env.sandbox.faults().push(FaultRule {
        route: Route::BoxEvents,
        skip: 0,
        times: 1,
        kind: FaultKind::RateLimited {
            retry_after_secs: 3,
        },
    });
    let deadline = Some(Instant::now() + Duration::from_secs(1));
    let answer = handle_event(&sync, &jobs, job_event(&profile.id), deadline)
        .await
        .unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]));
    // saved at the start of Activity, the task still under way with its one call counted
    let state = env
        .store
        .runs
        .get_run_state(&profile.id)
        .await
        .unwrap()
        .expect("the run is saved");
    assert_eq!(state.stage, RunStage::Activity { resume: None });
    let runs = env.store.runs.task_runs(&profile.id, 20).await.unwrap();
    let activity = runs
        .iter()
        .find(|t| t.task == TaskKind::Activity && t.run_id == state.run_id)
        .unwrap();
    assert_eq!(activity.status, TaskStatus::Running);
    assert_eq!((activity.counts.api_calls, activity.counts.retries), (1, 0));
    // nobody removed, nothing else changed
    assert_eq!(env.seat_items(&profile.id).await, before);

    // the continuation was posted; delivered, it finishes the same run
    let mut posted = receive_all(&env, &url).await;
    assert_eq!(posted.len(), 1);
    let (event, _) = posted.remove(0);
    let job = SyncJob::parse(event.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(job.run_id.as_deref(), Some(state.run_id.as_str()));
    let again = handle_event(&sync, &jobs, serde_json::to_value(&event).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(again["batchItemFailures"], json!([]));
    assert_eq!(
        reclamation_status(&env, &profile.id).await,
        Some(TaskStatus::Succeeded)
    );
    let runs = env.store.runs.task_runs(&profile.id, 20).await.unwrap();
    assert_eq!(runs[0].run_id, state.run_id);
    assert_eq!(
        env.store.runs.get_run_state(&profile.id).await.unwrap(),
        None
    );
    assert_eq!(env.seat_items(&profile.id).await.len(), before.len());
    assert!(receive_all(&env, &url).await.is_empty());
}
