//! Start-up wiring shared by the functions and seatctl: config → AWS and provider clients →
//! the services with their production adapters, built once.
use std::sync::Arc;

use crate::config::{Config, ConfigError};
use crate::connect::ConnectService;
use crate::http::{build_http_client, ProviderError};
use crate::mail::{SesMailer, SqsMailEvents};
use crate::notify::Notifier;
use crate::providers::box_api::BoxClient;
use crate::providers::dropbox_api::DropboxClient;
use crate::providers::ProviderAdapters;
use crate::queue::{ReclaimQueue, SyncQueues};
use crate::reclaim::Reclaimer;
use crate::secrets::SecretStore;
use crate::store::ProfileTable;
use crate::store::Store;
use crate::sync::{Dispatcher, Syncer};

/// The sync service as deployed: DynamoDB, the providers over HTTP, SQS.
pub type ProductionSync =
    Syncer<Store, ProviderAdapters, ReclaimQueue, SesMailer, Option<SqsMailEvents>>;
/// The sync dispatcher as deployed: profiles from DynamoDB, jobs to SQS.
pub type ProductionDispatcher = Dispatcher<ProfileTable, SyncQueues>;
/// The Dropbox connect service as deployed.
pub type ProductionConnect = ConnectService<Store>;
/// The reclaim service as deployed.
pub type ProductionReclaimer = Reclaimer<Store, ProviderAdapters>;

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
    pub ses: aws_sdk_sesv2::Client,
}

impl AwsClients {
    pub async fn from_env() -> Self {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            secrets: aws_sdk_secretsmanager::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            ses: aws_sdk_sesv2::Client::new(&sdk),
        }
    }
}

/// The table's repositories.
pub fn store(config: &Config, aws: &AwsClients) -> Store {
    Store::new(aws.dynamodb.clone(), &config.table_name)
}

/// Both providers' HTTP adapters, with their credentials from Secrets Manager.
pub fn provider_adapters(
    config: &Config,
    aws: &AwsClients,
) -> Result<ProviderAdapters, StartupError> {
    let http = build_http_client(config.http_timeout)?;
    Ok(ProviderAdapters {
        secrets: SecretStore::new(aws.secrets.clone()),
        box_client: Arc::new(BoxClient::new(
            &config.box_endpoints,
            http.clone(),
            config.retry.clone(),
        )),
        dropbox_client: Arc::new(DropboxClient::new(
            &config.dropbox_endpoints,
            http,
            config.retry.clone(),
        )),
    })
}

/// The reclaim queue, when `RECLAIM_QUEUE_URL` is set.
pub fn reclaim_queue(config: &Config, aws: &AwsClients) -> Option<ReclaimQueue> {
    config
        .reclaim_queue_url
        .as_ref()
        .map(|url| ReclaimQueue::new(aws.sqs.clone(), url))
}

/// Notify mode's mailer and links, when `NOTICE_SENDER` and `KEEP_BASE_URL` are set.
/// With `SES_CONFIGURATION_SET` the emails go through it, and with `MAIL_EVENTS_QUEUE_URL`
/// each notify pass first reads the bounces and complaints it publishes.
pub fn notifier(
    config: &Config,
    aws: &AwsClients,
) -> Option<Notifier<SesMailer, Option<SqsMailEvents>>> {
    let sender = config.notice_sender.as_ref()?;
    Some(Notifier {
        mailer: SesMailer::new(aws.ses.clone(), sender)
            .with_configuration_set(config.ses_configuration_set.clone()),
        events: config
            .mail_events_queue_url
            .as_ref()
            .map(|url| SqsMailEvents::new(aws.sqs.clone(), url)),
        keep_base_url: config.keep_base_url.clone()?,
        digest_recipient: config.digest_recipient.clone(),
    })
}

/// The sync of one provider's profiles (box-sync, dropbox-sync, `seatctl sync`).
pub fn sync(
    provider: crate::domain::Provider,
    config: &Config,
    aws: &AwsClients,
) -> Result<ProductionSync, StartupError> {
    Ok(Syncer {
        provider,
        repos: store(config, aws),
        providers: provider_adapters(config, aws)?,
        queue: reclaim_queue(config, aws),
        notifier: notifier(config, aws),
        default_backfill_days: config.default_backfill_days,
        max_run_age: config.sync_max_run_age,
    })
}

/// Everything a Box sync needs.
pub fn box_sync(config: &Config, aws: &AwsClients) -> Result<ProductionSync, StartupError> {
    sync(crate::domain::Provider::Box, config, aws)
}

/// Everything a Dropbox sync needs.
pub fn dropbox_sync(config: &Config, aws: &AwsClients) -> Result<ProductionSync, StartupError> {
    sync(crate::domain::Provider::Dropbox, config, aws)
}

/// A sync function's own queue (`BOX_SYNC_QUEUE_URL` for box-sync, `DROPBOX_SYNC_QUEUE_URL` for
/// dropbox-sync): where a run that reaches its deadline posts the job that continues it. Unset
/// (a local run), none: the saved run is resumed by the next job or `seatctl sync`.
pub fn own_sync_queue(
    provider: crate::domain::Provider,
    config: &Config,
    aws: &AwsClients,
) -> Option<SyncQueues> {
    let url = match provider {
        crate::domain::Provider::Box => config.box_sync_queue_url.as_ref(),
        crate::domain::Provider::Dropbox => config.dropbox_sync_queue_url.as_ref(),
    };
    url.map(|u| SyncQueues::new(aws.sqs.clone(), u, u))
}

/// Everything the sync dispatcher needs (both sync queue URLs are required).
pub fn sync_dispatcher(
    config: &Config,
    aws: &AwsClients,
) -> Result<ProductionDispatcher, StartupError> {
    let box_url = config
        .box_sync_queue_url
        .as_ref()
        .ok_or(ConfigError::Missing("BOX_SYNC_QUEUE_URL"))?;
    let dropbox_url = config
        .dropbox_sync_queue_url
        .as_ref()
        .ok_or(ConfigError::Missing("DROPBOX_SYNC_QUEUE_URL"))?;
    Ok(Dispatcher {
        profiles: store(config, aws).profiles,
        queue: SyncQueues::new(aws.sqs.clone(), box_url, dropbox_url),
    })
}

/// Everything the reclaim function needs.
pub fn reclaimer(config: &Config, aws: &AwsClients) -> Result<ProductionReclaimer, StartupError> {
    Ok(Reclaimer::new(
        store(config, aws),
        provider_adapters(config, aws)?,
    ))
}

/// Starting (seatctl) and finishing (oauth-callback) a Dropbox connect.
pub fn connect_service(
    config: &Config,
    aws: &AwsClients,
) -> Result<ProductionConnect, StartupError> {
    let http = build_http_client(config.http_timeout)?;
    Ok(ConnectService {
        store: store(config, aws),
        secrets: SecretStore::new(aws.secrets.clone()),
        client: DropboxClient::new(&config.dropbox_endpoints, http, config.retry.clone()),
        redirect: config.oauth_redirect_url.clone(),
    })
}
