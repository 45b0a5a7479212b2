//! Test harness: the real thing, started from outside. Each test gets its own table, secret names
//! and provider sandbox; all of them share the one moto server that `infra/test.sh` starts
//! (`AWS_ENDPOINT_URL`), because moto's reset would wipe every test's state at once.
use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use provider_sandbox::{BoxTenantSpec, DropboxTeamSpec, Sandbox, SandboxConfig};
use seatkeeper::domain::ReclaimRequest;
use seatkeeper::domain::{BoxPlan, Profile, Seat};
use seatkeeper::handlers::oauth_callback::{self, Page};
use seatkeeper::handlers::reclaim as reclaim_fn;
use seatkeeper::http::RetryPolicy;
use seatkeeper::ports::ProfileRepo;
use seatkeeper::providers::box_api::BoxCredentials;
use seatkeeper::providers::dropbox_api::{DropboxCredentials, Slot};
use seatkeeper::queue::ReclaimQueue;
use seatkeeper::reclaim::JobPoll;
use seatkeeper::secrets::SecretStore;
use seatkeeper::store::Store;
use seatkeeper::wiring::{self, AwsClients, ProductionReclaimer, ProductionSync};
use seatkeeper::Config;
use secrecy::SecretString;

pub mod heap_count;

/// moto's URL. Tests need it: run them with `infra/test.sh`, which starts moto and sets it.
pub fn moto_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(v) if v.starts_with("http://127.") || v.starts_with("http://localhost") => v,
        Ok(v) => panic!(
            "AWS_ENDPOINT_URL={v} is not a loopback moto server; tests only talk to loopback"
        ),
        Err(_) => panic!(
            "AWS_ENDPOINT_URL is not set: run the tests with infra/test.sh (it starts moto server)"
        ),
    }
}

/// The callback URL tests register with the sandbox's Dropbox apps. Nothing listens there: the
/// tests read the sandbox's 302 and hand its query to the callback handler, as API Gateway would.
pub const CALLBACK_URL: &str = "https://callback.seatkeeper.test/oauth/dropbox/callback";

/// A short unique suffix for table, profile and secret names.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// Fast retries for tests (Retry-After is still honoured, up to 5 s).
pub fn test_retry_policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
    }
}

pub struct TestEnv {
    pub table: String,
    pub aws: AwsClients,
    pub store: Store,
    pub secrets: SecretStore,
    pub sandbox: Sandbox,
    pub config: Config,
    /// The reclaim queue (a real SQS queue in moto, unique per test).
    pub queue_url: String,
}

impl TestEnv {
    /// moto (shared) + a fresh table + a sandbox with a generated Box tenant of `users` users.
    pub async fn start(users: usize, seed: u64) -> TestEnv {
        Self::start_with(users, 50, seed).await
    }

    /// Like [`start`](Self::start) with a Dropbox team of `members` members too.
    pub async fn start_with(users: usize, members: usize, seed: u64) -> TestEnv {
        let endpoint = moto_endpoint();
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ] {
            if std::env::var(k).is_err() {
                // SAFETY-free in Rust 2021; tests set the same static values everywhere.
                std::env::set_var(k, v);
            }
        }
        let sandbox = Sandbox::start(SandboxConfig {
            box_tenant: BoxTenantSpec::new(users, seed),
            dropbox_team: DropboxTeamSpec::new(members, seed),
            ..SandboxConfig::default()
        })
        .await
        .expect("sandbox starts");
        let table = unique("seatkeeper-test");
        let vars = [
            ("TABLE_NAME".to_string(), table.clone()),
            ("BOX_API_URL".to_string(), sandbox.box_api_url()),
            ("BOX_TOKEN_URL".to_string(), sandbox.box_token_url()),
            ("DROPBOX_API_URL".to_string(), sandbox.dropbox_api_url()),
            (
                "DROPBOX_AUTHORIZE_URL".to_string(),
                sandbox.dropbox_authorize_url(),
            ),
            ("DROPBOX_TOKEN_URL".to_string(), sandbox.dropbox_token_url()),
            ("OAUTH_REDIRECT_URL".to_string(), CALLBACK_URL.to_string()),
        ];
        let mut config =
            Config::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
                .expect("config");
        config.retry = test_retry_policy();
        config.http_timeout = Duration::from_secs(10);
        assert!(std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| v == endpoint));
        let aws = AwsClients::from_env().await;
        let store = Store::new(aws.dynamodb.clone(), &table);
        assert!(store.create_table().await.expect("create table"));
        let secrets = SecretStore::new(aws.secrets.clone());
        let queue_url = aws
            .sqs
            .create_queue()
            .queue_name(unique("reclaim"))
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                "1",
            )
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url");
        config.reclaim_queue_url = Some(queue_url.clone());
        TestEnv {
            table,
            aws,
            store,
            secrets,
            sandbox,
            config,
            queue_url,
        }
    }

    /// The environment contract for a process under test (a function binary, seatctl).
    pub fn env_vars(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("TABLE_NAME".into(), self.table.clone()),
            ("BOX_API_URL".into(), self.sandbox.box_api_url()),
            ("BOX_TOKEN_URL".into(), self.sandbox.box_token_url()),
            ("DROPBOX_API_URL".into(), self.sandbox.dropbox_api_url()),
            (
                "DROPBOX_AUTHORIZE_URL".into(),
                self.sandbox.dropbox_authorize_url(),
            ),
            ("DROPBOX_TOKEN_URL".into(), self.sandbox.dropbox_token_url()),
            ("OAUTH_REDIRECT_URL".into(), CALLBACK_URL.into()),
            ("RECLAIM_QUEUE_URL".into(), self.queue_url.clone()),
            ("PROVIDER_MAX_RETRIES".into(), "3".into()),
            ("PROVIDER_RETRY_BASE_MS".into(), "10".into()),
            ("PROVIDER_RETRY_MAX_MS".into(), "50".into()),
        ];
        for k in [
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_REGION",
        ] {
            if let Ok(val) = std::env::var(k) {
                v.push((k.into(), val));
            }
        }
        v
    }

    /// A Box profile for the sandbox tenant, with its credentials secret stored.
    pub async fn add_box_profile(&self) -> Profile {
        let tenant = self.sandbox.box_tenant();
        let id = unique("box");
        let profile = Profile::new_box(
            &id,
            "Sandbox Box",
            &tenant.enterprise_id(),
            BoxPlan::BusinessPlus,
            Utc::now(),
        )
        .expect("profile");
        self.store
            .profiles
            .create(&profile)
            .await
            .expect("create profile");
        self.secrets
            .put_box_credentials(
                &profile.credentials_secret,
                &BoxCredentials {
                    client_id: tenant.client_id(),
                    client_secret: SecretString::from(tenant.client_secret()),
                    enterprise_id: tenant.enterprise_id(),
                },
            )
            .await
            .expect("store credentials");
        profile
    }

    /// A Dropbox profile with both slots' apps stored (not yet connected).
    pub async fn add_dropbox_profile(&self) -> Profile {
        let team = self.sandbox.dropbox_team();
        let id = unique("dbx");
        let profile = Profile::new_dropbox(&id, "Sandbox Dropbox", Utc::now()).expect("profile");
        self.store
            .profiles
            .create(&profile)
            .await
            .expect("create profile");
        for (slot, (key, secret)) in [("sync", team.sync_app()), ("reclaim", team.reclaim_app())] {
            self.secrets
                .put_dropbox_credentials(
                    &Profile::dropbox_secret_name(&id, slot),
                    &DropboxCredentials {
                        app_key: key,
                        app_secret: SecretString::from(secret),
                        refresh_token: None,
                        team_id: None,
                        team_name: None,
                        admin_team_member_id: None,
                        admin_email: None,
                        connected_at: None,
                    },
                )
                .await
                .expect("store app");
        }
        profile
    }

    /// Connects a slot the way an admin would: start (seatctl), the browser at the sandbox's
    /// authorize URL (which approves and redirects), then the callback handler with the
    /// redirect's query. Returns the callback's page.
    pub async fn connect_dropbox(&self, profile_id: &str, slot: Slot) -> Page {
        let query = self.authorize(profile_id, slot, "").await;
        oauth_callback::handle(&self.connect_service(), "dropbox", &query, None).await
    }

    /// Starts a connect and follows the authorize URL (plus `extra` query) to the redirect;
    /// returns the redirect's query parameters.
    pub async fn authorize(
        &self,
        profile_id: &str,
        slot: Slot,
        extra: &str,
    ) -> HashMap<String, String> {
        let start = self
            .connect_service()
            .start(profile_id, slot, "test", Utc::now())
            .await
            .expect("connect starts");
        self.follow_authorize(&format!("{}{extra}", start.url))
            .await
    }

    /// The browser at an authorize URL: returns the query of the redirect back to the callback.
    pub async fn follow_authorize(&self, url: &str) -> HashMap<String, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let resp = http.get(url).send().await.expect("authorize answers");
        assert_eq!(resp.status().as_u16(), 302, "authorize redirects back");
        let location = resp.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        assert!(location.starts_with(CALLBACK_URL), "{location}");
        url::Url::parse(&location)
            .expect("redirect URL")
            .query_pairs()
            .into_owned()
            .collect()
    }

    pub fn connect_service(&self) -> seatkeeper::wiring::ProductionConnect {
        wiring::connect_service(&self.config, &self.aws).expect("connect service")
    }

    pub fn dropbox_sync(&self) -> ProductionSync {
        wiring::dropbox_sync(&self.config, &self.aws).expect("dropbox sync")
    }

    /// Every item of a partition, straight from DynamoDB.
    pub async fn partition(&self, pk: &str) -> Vec<Item> {
        let mut out = Vec::new();
        let mut pages = self
            .aws
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.into()))
            .into_paginator()
            .items()
            .send();
        while let Some(i) = pages.next().await {
            out.push(i.expect("query"));
        }
        out
    }

    /// A profile's seat items by provider user id, straight from DynamoDB.
    pub async fn seat_items(&self, profile: &str) -> BTreeMap<String, Item> {
        self.partition(&format!("SEATS#{profile}"))
            .await
            .into_iter()
            .map(|i| (i["user_id"].as_s().expect("user_id").clone(), i))
            .collect()
    }

    /// Every item in the table as text, for leak checks.
    pub async fn scan_all(&self) -> String {
        let mut out = String::new();
        let mut pages = self
            .aws
            .dynamodb
            .scan()
            .table_name(&self.table)
            .into_paginator()
            .items()
            .send();
        while let Some(i) = pages.next().await {
            out.push_str(&format!("{:?}\n", i.expect("scan")));
        }
        out
    }

    /// The reclaim function's engine as its main builds it (job polls shortened for tests).
    pub fn reclaimer(&self) -> ProductionReclaimer {
        let mut r = wiring::reclaimer(&self.config, &self.aws).expect("reclaimer");
        r.poll = JobPoll {
            attempts: 3,
            interval: Duration::from_millis(20),
        };
        r
    }

    pub fn queue(&self) -> ReclaimQueue {
        ReclaimQueue::new(self.aws.sqs.clone(), &self.queue_url)
    }

    /// Posts a request on the reclaim queue as `seatctl reclaim` does: its approval is recorded
    /// first (the reclaim function checks it in report and approve mode).
    pub async fn enqueue(&self, request: &ReclaimRequest) {
        use seatkeeper::ports::ReclaimRepo;
        self.store
            .reclaims
            .put_approval(&seatkeeper::domain::Approval::for_request(
                request,
                "seatctl reclaim",
                chrono::Utc::now(),
            ))
            .await
            .expect("approval");
        self.enqueue_unapproved(request).await;
    }

    /// Posts a request on the reclaim queue with no approval, as any holder of send rights could.
    pub async fn enqueue_unapproved(&self, request: &ReclaimRequest) {
        self.queue().send(request).await.expect("send");
    }

    /// Posts a raw body on the reclaim queue.
    pub async fn enqueue_raw(&self, body: &str) {
        self.aws
            .sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }

    /// What Lambda's SQS event source mapping does, once: receives up to 10 messages, hands
    /// them to the reclaim handler as an SQS event, and deletes those not reported as batch
    /// item failures (the failures become visible again after the visibility timeout).
    /// Returns the event and the handler's response.
    pub async fn deliver(&self, reclaimer: &ProductionReclaimer) -> (SqsEvent, SqsBatchResponse) {
        let msgs = self
            .aws
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default();
        let records: Vec<serde_json::Value> = msgs
            .iter()
            .map(|m| {
                serde_json::json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": m.attributes().map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), v.clone())).collect::<HashMap<_, _>>()).unwrap_or_default(),
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:reclaim",
                    "awsRegion": "us-east-1",
                })
            })
            .collect();
        let event: SqsEvent =
            serde_json::from_value(serde_json::json!({ "Records": records })).expect("SQS event");
        let response = reclaim_fn::handle(
            reclaimer,
            event.clone(),
            &uuid::Uuid::new_v4().to_string(),
            None,
            self.config.reclaim_min_time_left,
        )
        .await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        for m in &msgs {
            if !failed.contains(&m.message_id().unwrap_or_default()) {
                self.aws
                    .sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
        (event, response)
    }

    /// Delivers until the queue is empty (failures come back after the 1 s visibility timeout),
    /// at most `rounds` times. Returns every response.
    pub async fn drain(
        &self,
        reclaimer: &ProductionReclaimer,
        rounds: usize,
    ) -> Vec<SqsBatchResponse> {
        let mut out = Vec::new();
        let mut idle = 0;
        while out.len() < rounds && idle < 10 {
            let (event, response) = self.deliver(reclaimer).await;
            if !event.records.is_empty() {
                out.push(response);
                idle = 0;
                continue;
            }
            // empty: done, unless messages handed back are still invisible
            if self.in_flight().await == 0 {
                break;
            }
            idle += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        out
    }

    /// Messages received but neither deleted nor visible again yet.
    pub async fn in_flight(&self) -> u64 {
        let attrs = self
            .aws
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        [
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
        ]
        .iter()
        .filter_map(|k| attrs.get(k).and_then(|v| v.parse::<u64>().ok()))
        .sum()
    }

    /// The sync as box-sync's main builds it, from this environment's config.
    pub fn box_sync(&self) -> ProductionSync {
        wiring::box_sync(&self.config, &self.aws).expect("box sync")
    }
}

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A seat item read back as the domain's `Seat`.
pub fn seat(item: &Item) -> Seat {
    let mut i = item.clone();
    for k in ["pk", "sk", "kind"] {
        i.remove(k);
    }
    serde_dynamo::from_item(i).expect("seat item")
}

/// Captures everything logged (at every level) while the guard lives, to check for leaks.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Installs a thread-local subscriber (tests run on a current-thread runtime).
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
