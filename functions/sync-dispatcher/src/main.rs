//! sync-dispatcher: a provider's schedule → one sync job per enabled profile on the sync queue.
use lambda_runtime::{service_fn, tracing, Error, LambdaEvent};
use seatkeeper::handlers::sync_dispatcher::handle;
use seatkeeper::wiring::{sync_dispatcher, AwsClients};
use seatkeeper::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = AwsClients::from_env().await;
    let dispatcher = sync_dispatcher(&config, &aws)?;
    let dispatcher = &dispatcher;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            handle(dispatcher, event.payload).await
        },
    ))
    .await
}
