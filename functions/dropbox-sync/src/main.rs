//! dropbox-sync: syncs a Dropbox profile's members, license types and activity, one job of the
//! sync queue at a time (or as invoked directly).
use lambda_runtime::{service_fn, tracing, Error, LambdaEvent};
use seatkeeper::domain::Provider;
use seatkeeper::handlers::sync::{handle_event, invocation_deadline};
use seatkeeper::wiring::{dropbox_sync, own_sync_queue, AwsClients};
use seatkeeper::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = AwsClients::from_env().await;
    let sync = dropbox_sync(&config, &aws)?;
    let sync = &sync;
    let jobs = own_sync_queue(Provider::Box, &config, &aws);
    let jobs = &jobs;
    let margin = config.sync_deadline_margin;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let deadline = invocation_deadline(event.context.deadline, margin);
            handle_event(sync, jobs, event.payload, deadline).await
        },
    ))
    .await
}
