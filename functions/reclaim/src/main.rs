//! reclaim: SQS-fed Lambda that executes reclaim requests, reporting batch item failures.
use std::time::{Duration, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, tracing, Error, LambdaEvent};
use seatkeeper::handlers::reclaim::handle;
use seatkeeper::wiring::{reclaimer, AwsClients};
use seatkeeper::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = AwsClients::from_env().await;
    let reclaimer = reclaimer(&config, &aws)?;
    let reclaimer = &reclaimer;
    let min_time_left = config.reclaim_min_time_left;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = UNIX_EPOCH.checked_add(Duration::from_millis(event.context.deadline));
        let owner = event.context.request_id;
        Ok::<SqsBatchResponse, Error>(
            handle(reclaimer, event.payload, &owner, deadline, min_time_left).await,
        )
    }))
    .await
}
