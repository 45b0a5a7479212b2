//! dropbox-sync: scheduled Lambda that syncs Dropbox team members, license types and activity.
use lambda_runtime::{service_fn, tracing, Error, LambdaEvent};
use seatkeeper::handlers::sync::handle;
use seatkeeper::wiring::{dropbox_sync, AwsClients};
use seatkeeper::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = AwsClients::from_env().await;
    let sync = dropbox_sync(&config, &aws)?;
    let sync = &sync;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            handle(sync, event.payload).await
        },
    ))
    .await
}
