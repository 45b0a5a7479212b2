//! Start-up wiring shared by the functions and seatctl: AWS clients and provider clients, built once.
use crate::config::{Config, ConfigError};
use crate::connect::ConnectService;
use crate::http::{build_http_client, ProviderError};
use crate::providers::box_api::BoxClient;
use crate::providers::dropbox_api::DropboxClient;
use crate::queue::ReclaimQueue;
use crate::reclaim::{JobPoll, Reclaimer};
use crate::secrets::SecretStore;
use crate::store::Store;
use crate::sync::{BoxSync, DropboxSync};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Http(#[from] ProviderError),
}

/// AWS clients from the standard chain (honours `AWS_ENDPOINT_URL` for the local stack).
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl AwsClients {
    pub async fn from_env() -> Self {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            secrets: aws_sdk_secretsmanager::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
        }
    }
}

/// Everything a Box sync needs, from config and AWS clients.
pub fn box_sync(config: &Config, aws: &AwsClients) -> Result<BoxSync, StartupError> {
    let http = build_http_client(config.http_timeout)?;
    Ok(BoxSync::new(
        Store::new(aws.dynamodb.clone(), &config.table_name),
        SecretStore::new(aws.secrets.clone()),
        BoxClient::new(&config.box_endpoints, http, config.retry.clone()),
        config.default_backfill_days,
    )
    .with_queue(reclaim_queue(config, aws)))
}

/// The reclaim queue, when `RECLAIM_QUEUE_URL` is set.
pub fn reclaim_queue(config: &Config, aws: &AwsClients) -> Option<ReclaimQueue> {
    config
        .reclaim_queue_url
        .as_ref()
        .map(|url| ReclaimQueue::new(aws.sqs.clone(), url))
}

/// Everything the reclaim function needs.
pub fn reclaimer(config: &Config, aws: &AwsClients) -> Result<Reclaimer, StartupError> {
    let http = build_http_client(config.http_timeout)?;
    Ok(Reclaimer {
        store: Store::new(aws.dynamodb.clone(), &config.table_name),
        secrets: SecretStore::new(aws.secrets.clone()),
        box_client: BoxClient::new(&config.box_endpoints, http.clone(), config.retry.clone()),
        dropbox_client: DropboxClient::new(&config.dropbox_endpoints, http, config.retry.clone()),
        poll: JobPoll::default(),
    })
}

/// Everything a Dropbox sync needs.
pub fn dropbox_sync(config: &Config, aws: &AwsClients) -> Result<DropboxSync, StartupError> {
    let http = build_http_client(config.http_timeout)?;
    Ok(DropboxSync::new(
        Store::new(aws.dynamodb.clone(), &config.table_name),
        SecretStore::new(aws.secrets.clone()),
        DropboxClient::new(&config.dropbox_endpoints, http, config.retry.clone()),
        config.default_backfill_days,
    )
    .with_queue(reclaim_queue(config, aws)))
}

/// Starting (seatctl) and finishing (oauth-callback) a Dropbox connect.
pub fn connect_service(config: &Config, aws: &AwsClients) -> Result<ConnectService, StartupError> {
    let http = build_http_client(config.http_timeout)?;
    Ok(ConnectService {
        store: Store::new(aws.dynamodb.clone(), &config.table_name),
        secrets: SecretStore::new(aws.secrets.clone()),
        client: DropboxClient::new(&config.dropbox_endpoints, http, config.retry.clone()),
        redirect: config.oauth_redirect_url.clone(),
    })
}
