use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, PutRequest,
    ScalarAttributeType, TimeToLiveSpecification, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::keys;
use crate::connect::PendingConnect;
use crate::domain::{LicenseSummary, Profile, Seat, SeatIndex, StoredSeatState, TaskRun};

type Item = HashMap<String, AttributeValue>;

/// BatchWriteItem takes at most 25 items; a few batches in flight keep a large first sync short.
const BATCH: usize = 25;
const BATCHES_IN_FLIGHT: usize = 4;
const UNPROCESSED_RETRIES: u32 = 8;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("DynamoDB {op} failed: {message}")]
    Aws { op: &'static str, message: String },
    #[error("stored {what} could not be read: {message}")]
    Corrupt { what: &'static str, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error("DynamoDB kept {0} items unprocessed after retries")]
    Unprocessed(usize),
}

/// DynamoDB refused a conditional write because its condition did not hold.
pub(super) fn condition_failed<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

pub(super) fn aws<E: std::error::Error>(op: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Aws {
        op,
        message: DisplayErrorContext(&e).to_string(),
    }
}

/// Where an activity stream has been read up to (moves only after a finished run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub stream: String,
    /// Events created before this instant have been read.
    pub read_until: DateTime<Utc>,
    pub run_id: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Store {
    pub(super) client: Client,
    pub(super) table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    // ---------------------------------------------------------------- profiles

    /// Adds a profile; fails if one with the same id exists.
    pub async fn create_profile(&self, p: &Profile) -> Result<(), StoreError> {
        let item = to_item("profile", keys::profile(&p.id), p)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| {
                if condition_failed(&e) {
                    StoreError::Conflict(format!("profile {} already exists", p.id))
                } else {
                    aws::<_>("PutItem")(e)
                }
            })?;
        Ok(())
    }

    /// Writes `p` if nobody wrote the profile since it was read (same `version`), bumping the
    /// version. A concurrent write gives `StoreError::Conflict`; [`Store::update_profile`] retries.
    pub async fn put_profile(&self, p: &Profile) -> Result<(), StoreError> {
        let mut next = p.clone();
        next.version = p.version + 1;
        let item = to_item("profile", keys::profile(&p.id), &next)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_exists(pk) AND (version = :v OR (attribute_not_exists(version) AND :v = :zero))")
            .expression_attribute_values(":v", AttributeValue::N(p.version.to_string()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await
            .map_err(|e| {
                if condition_failed(&e)
                {
                    StoreError::Conflict(format!("profile {} was changed by someone else meanwhile", p.id))
                } else {
                    aws::<_>("PutItem")(e)
                }
            })?;
        Ok(())
    }

    /// Read-modify-write of a profile: `edit` runs on the current profile and is re-run (on a
    /// fresh read) if a sync or another operator wrote the profile in between. `None` if the
    /// profile does not exist; an `Err` from `edit` writes nothing.
    pub async fn update_profile<T, E, F>(&self, id: &str, mut edit: F) -> Result<Option<T>, E>
    where
        E: From<StoreError>,
        F: FnMut(&mut Profile) -> Result<T, E>,
    {
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            let Some(mut p) = self.get_profile(id).await? else {
                return Ok(None);
            };
            let out = edit(&mut p)?;
            match self.put_profile(&p).await {
                Ok(()) => return Ok(Some(out)),
                Err(StoreError::Conflict(_)) if attempt < ATTEMPTS => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict(format!("profile {id} kept changing; try again")).into())
    }

    pub async fn get_profile(&self, id: &str) -> Result<Option<Profile>, StoreError> {
        self.get("profile", keys::profile(id)).await
    }

    pub async fn list_profiles(&self) -> Result<Vec<Profile>, StoreError> {
        self.query_all("profile", keys::PROFILES_PK.to_owned(), None, None)
            .await
    }

    /// Records the profile's last finished sync without touching fields an operator may be editing.
    pub async fn set_last_sync(
        &self,
        profile_id: &str,
        last: &crate::domain::profile::LastSync,
    ) -> Result<(), StoreError> {
        let (pk, sk) = keys::profile(profile_id);
        let value = serde_dynamo::to_attribute_value(last).map_err(|e| StoreError::Corrupt {
            what: "last sync",
            message: e.to_string(),
        })?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .update_expression("SET last_sync = :v ADD version :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":v", value)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await
            .map_err(aws("UpdateItem"))?;
        Ok(())
    }

    // ------------------------------------------------------------------- seats

    /// The compact state of every stored seat of a profile: one paged Query with a projection.
    pub async fn seat_index(&self, profile_id: &str) -> Result<SeatIndex, StoreError> {
        let mut index = SeatIndex::default();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::seats_pk(profile_id)))
            .projection_expression("user_id, fingerprint, first_seen_at, last_login, removed_at")
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(aws("Query"))?;
            index.insert(from_item::<StoredSeatState>("seat", item)?);
        }
        Ok(index)
    }

    /// Writes seats with BatchWriteItem (25 a batch, a few in flight), retrying unprocessed items.
    pub async fn put_seats(&self, seats: &[Seat]) -> Result<usize, StoreError> {
        let requests = seats
            .iter()
            .map(|s| put_request(to_item("seat", keys::seat(&s.profile_id, &s.user_id), s)?))
            .collect::<Result<Vec<_>, _>>()?;
        self.write_requests(requests).await?;
        Ok(seats.len())
    }

    /// BatchWriteItem in batches of 25, a few in flight, unprocessed items retried.
    pub(super) async fn write_requests(
        &self,
        requests: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        let chunks: Vec<Vec<WriteRequest>> = requests.chunks(BATCH).map(<[_]>::to_vec).collect();
        futures::stream::iter(chunks)
            .map(|c| self.batch_write(c))
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn batch_write(&self, mut pending: Vec<WriteRequest>) -> Result<(), StoreError> {
        let mut attempt = 0;
        while !pending.is_empty() {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, pending)
                .send()
                .await
                .map_err(aws("BatchWriteItem"))?;
            pending = out
                .unprocessed_items
                .and_then(|mut m| m.remove(&self.table))
                .unwrap_or_default();
            if pending.is_empty() {
                break;
            }
            attempt += 1;
            if attempt > UNPROCESSED_RETRIES {
                return Err(StoreError::Unprocessed(pending.len()));
            }
            let wait = 50u64 << attempt.min(6);
            tokio::time::sleep(Duration::from_millis(wait + rand::random_range(0..wait))).await;
        }
        Ok(())
    }

    /// Marks a seat removed (kept, never deleted). Returns false if it was already removed.
    pub async fn mark_seat_removed(
        &self,
        profile_id: &str,
        user_id: &str,
        at: DateTime<Utc>,
        run_id: &str,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = keys::seat(profile_id, user_id);
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .update_expression("SET removed_at = :at, run_id = :run")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(removed_at) OR attribute_type(removed_at, :null))",
            )
            .expression_attribute_values(":at", AttributeValue::S(at.to_rfc3339()))
            .expression_attribute_values(":run", AttributeValue::S(run_id.to_owned()))
            .expression_attribute_values(":null", AttributeValue::S("NULL".to_owned()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(aws::<_>("UpdateItem")(e)),
        }
    }

    /// Every stored seat of a profile (present and removed).
    pub async fn list_seats(&self, profile_id: &str) -> Result<Vec<Seat>, StoreError> {
        self.query_all("seat", keys::seats_pk(profile_id), None, None)
            .await
    }

    // ------------------------------------------------------------- checkpoints

    pub async fn get_checkpoint(
        &self,
        profile_id: &str,
        stream: &str,
    ) -> Result<Option<Checkpoint>, StoreError> {
        self.get("checkpoint", keys::checkpoint(profile_id, stream))
            .await
    }

    pub async fn put_checkpoint(&self, profile_id: &str, c: &Checkpoint) -> Result<(), StoreError> {
        self.put("checkpoint", keys::checkpoint(profile_id, &c.stream), c)
            .await
    }

    // ---------------------------------------------------------------- licenses

    pub async fn put_license_summaries(
        &self,
        summaries: &[LicenseSummary],
    ) -> Result<(), StoreError> {
        for s in summaries {
            self.put("license", keys::license(&s.profile_id, &s.license_type), s)
                .await?;
        }
        Ok(())
    }

    pub async fn license_summaries(
        &self,
        profile_id: &str,
    ) -> Result<Vec<LicenseSummary>, StoreError> {
        self.query_all(
            "license",
            keys::profile_pk(profile_id),
            Some(keys::LICENSE_PREFIX),
            None,
        )
        .await
    }

    // --------------------------------------------------------------- task runs

    pub async fn put_task_run(&self, run: &TaskRun) -> Result<(), StoreError> {
        self.put(
            "task_run",
            keys::task_run(&run.profile_id, run.started_at, &run.run_id, run.task),
            run,
        )
        .await
    }

    /// A profile's task runs, newest first.
    pub async fn task_runs(
        &self,
        profile_id: &str,
        limit: usize,
    ) -> Result<Vec<TaskRun>, StoreError> {
        self.query_all(
            "task_run",
            keys::tasks_pk(profile_id),
            Some("RUN#"),
            Some(limit),
        )
        .await
    }

    // -------------------------------------------------------- pending connects

    /// Records a pending connect under its state's digest; DynamoDB's TTL cleans up leftovers.
    pub async fn put_pending_connect(
        &self,
        state_digest: &str,
        p: &PendingConnect,
    ) -> Result<(), StoreError> {
        let mut item = to_item("pending_connect", keys::pending_connect(state_digest), p)?;
        item.insert(
            "expires_epoch".into(),
            AttributeValue::N(p.expires_at.timestamp().to_string()),
        );
        item.insert(
            "ttl".into(),
            AttributeValue::N((p.expires_at.timestamp() + 3600).to_string()),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(aws("PutItem"))?;
        Ok(())
    }

    /// Consumes a pending connect atomically: it must exist and be unexpired, and it is gone
    /// afterwards, so a replayed callback finds nothing. `None` for unknown, used or expired.
    pub async fn consume_pending_connect(
        &self,
        state_digest: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingConnect>, StoreError> {
        let (pk, sk) = keys::pending_connect(state_digest);
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .condition_expression("attribute_exists(pk) AND expires_epoch > :now")
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        match r {
            Ok(out) => match out.attributes {
                Some(mut item) => {
                    item.remove("expires_epoch");
                    item.remove("ttl");
                    from_item("pending_connect", item).map(Some)
                }
                None => Ok(None),
            },
            Err(e) if condition_failed(&e) => Ok(None),
            Err(e) => Err(aws::<_>("DeleteItem")(e)),
        }
    }

    // ------------------------------------------------------------------ leases

    /// Takes the profile's sync lease so two syncs of one profile never interleave (a scheduled
    /// run and an on-demand one). Expires on its own if its holder dies.
    pub async fn acquire_sync_lease(
        &self,
        profile_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = keys::sync_lease(profile_id);
        let expires = now.timestamp() + ttl.as_secs() as i64;
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(pk))
            .item("sk", AttributeValue::S(sk))
            .item("kind", AttributeValue::S("lease".into()))
            .item("owner", AttributeValue::S(owner.to_owned()))
            .item("expires_at", AttributeValue::N(expires.to_string()))
            .item("ttl", AttributeValue::N((expires + 86_400).to_string()))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(aws::<_>("PutItem")(e)),
        }
    }

    pub async fn release_sync_lease(
        &self,
        profile_id: &str,
        owner: &str,
    ) -> Result<(), StoreError> {
        let (pk, sk) = keys::sync_lease(profile_id);
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .condition_expression("#o = :me")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":me", AttributeValue::S(owner.to_owned()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            // someone else's lease now (ours expired): leave it
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(aws::<_>("DeleteItem")(e)),
        }
    }

    // ------------------------------------------------------------------- admin

    /// Creates the table as the SAM template does (local stack and tests; in AWS the stack owns it).
    pub async fn create_table(&self) -> Result<bool, StoreError> {
        let attr = |n: &str| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(aws("CreateTable"))
        };
        let key = |n: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(t)
                .build()
                .map_err(aws("CreateTable"))
        };
        let r = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .send()
            .await;
        match r {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                return Ok(false)
            }
            Err(e) => return Err(aws::<_>("CreateTable")(e)),
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("ttl")
                    .enabled(true)
                    .build()
                    .map_err(aws("UpdateTimeToLive"))?,
            )
            .send()
            .await
            .map_err(aws("UpdateTimeToLive"))?;
        Ok(true)
    }

    // ----------------------------------------------------------------- helpers

    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        what: &'static str,
        (pk, sk): (String, String),
    ) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(aws("GetItem"))?;
        out.item.map(|i| from_item(what, i)).transpose()
    }

    pub(super) async fn put<T: Serialize>(
        &self,
        what: &'static str,
        key: (String, String),
        value: &T,
    ) -> Result<(), StoreError> {
        let item = to_item(what, key, value)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(aws("PutItem"))?;
        Ok(())
    }

    pub(super) async fn query_all<T: DeserializeOwned>(
        &self,
        what: &'static str,
        pk: String,
        sk_prefix: Option<&str>,
        newest_first_limit: Option<usize>,
    ) -> Result<Vec<T>, StoreError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", AttributeValue::S(pk));
        q = match sk_prefix {
            Some(p) => q
                .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                .expression_attribute_values(":p", AttributeValue::S(p.to_owned())),
            None => q.key_condition_expression("pk = :pk"),
        };
        if newest_first_limit.is_some() {
            q = q.scan_index_forward(false);
        }
        let limit = newest_first_limit.unwrap_or(usize::MAX);
        let mut items = q.into_paginator().items().send();
        let mut out = Vec::new();
        while out.len() < limit {
            match items.next().await {
                Some(item) => out.push(from_item(what, item.map_err(aws("Query"))?)?),
                None => break,
            }
        }
        Ok(out)
    }
}

/// One put of a BatchWriteItem.
pub(super) fn put_request(item: Item) -> Result<WriteRequest, StoreError> {
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(aws("PutRequest"))?;
    Ok(WriteRequest::builder().put_request(put).build())
}

pub(super) fn to_item<T: Serialize>(
    what: &'static str,
    (pk, sk): (String, String),
    value: &T,
) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt {
        what,
        message: e.to_string(),
    })?;
    // Absent beats NULL: smaller items, and attribute_not_exists() means what it says.
    item.retain(|_, v| !matches!(v, AttributeValue::Null(_)));
    item.insert("pk".into(), AttributeValue::S(pk));
    item.insert("sk".into(), AttributeValue::S(sk));
    item.insert("kind".into(), AttributeValue::S(what.into()));
    Ok(item)
}

pub(super) fn from_item<T: DeserializeOwned>(
    what: &'static str,
    mut item: Item,
) -> Result<T, StoreError> {
    for k in ["pk", "sk", "kind"] {
        item.remove(k);
    }
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
        what,
        message: e.to_string(),
    })
}
