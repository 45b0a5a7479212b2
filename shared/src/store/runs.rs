//! Sync runs: the per-profile lease (`LEASE#sync`), task runs (`TASKS#<profile>`), activity
//! checkpoints (`CHECKPOINT#<stream>`) and the saved state of a run that continues in a later
//! invocation (`RUNSTATE#<profile>`: `STATE` and its blobs' parts).
use std::time::Duration;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, DeleteRequest, Put, TransactWriteItem, WriteRequest,
};
use chrono::{DateTime, Utc};

use super::keys;
use super::table::{aws, conditional, put_request, to_item, Table};
use crate::domain::{BlobRef, Checkpoint, RunState, TaskRun};
use crate::ports::{RunRepo, StoreError};

/// Bytes per blob part: under DynamoDB's 400 KB item limit with room for the keys, and 25 parts
/// (one BatchWriteItem) stay under its 16 MB request limit.
const BLOB_PART: usize = 300_000;

/// Saved run items expire on their own this long after they were written (an abandoned run's
/// state is cleared by the next run anyway; this catches a deleted profile's).
const RUN_STATE_TTL_SECS: i64 = 7 * 86_400;

fn ttl_from_now() -> AttributeValue {
    AttributeValue::N((Utc::now().timestamp() + RUN_STATE_TTL_SECS).to_string())
}

#[derive(Debug, Clone)]
pub struct RunTable {
    table: Table,
}

impl RunTable {
    pub fn new(table: Table) -> Self {
        Self { table }
    }
}

impl RunRepo for RunTable {
    /// A conditional put, so two syncs of one profile never interleave (a scheduled run and an
    /// on-demand one); it expires on its own if its holder dies.
    async fn acquire_lease(
        &self,
        profile_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = keys::sync_lease(profile_id);
        let expires = now.timestamp() + ttl.as_secs() as i64;
        let r = self
            .table
            .client()
            .put_item()
            .table_name(self.table.name())
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
        conditional("PutItem", r)
    }

    async fn release_lease(&self, profile_id: &str, owner: &str) -> Result<(), StoreError> {
        // someone else's lease now (ours expired): leave it
        self.table
            .delete_if(keys::sync_lease(profile_id), "owner", owner)
            .await?;
        Ok(())
    }

    async fn put_task_run(&self, run: &TaskRun) -> Result<(), StoreError> {
        self.table.put("task_run", keys::task_run(run), run).await
    }

    /// The sort key starts with the start time: a descending Query is newest first.
    async fn task_runs(&self, profile_id: &str, limit: usize) -> Result<Vec<TaskRun>, StoreError> {
        self.table
            .query_all(
                "task_run",
                keys::tasks_pk(profile_id),
                Some("RUN#"),
                Some(limit),
            )
            .await
    }

    async fn get_checkpoint(
        &self,
        profile_id: &str,
        stream: &str,
    ) -> Result<Option<Checkpoint>, StoreError> {
        self.table
            .get("checkpoint", keys::checkpoint(profile_id, stream))
            .await
    }

    async fn put_checkpoint(&self, profile_id: &str, c: &Checkpoint) -> Result<(), StoreError> {
        self.table
            .put("checkpoint", keys::checkpoint(profile_id, &c.stream), c)
            .await
    }

    async fn get_run_state(&self, profile_id: &str) -> Result<Option<RunState>, StoreError> {
        self.table
            .get("run_state", keys::run_state(profile_id))
            .await
    }

    /// One transaction: the lease is still `lease_owner`'s (a condition check), and the state
    /// is written.
    async fn put_run_state(&self, state: &RunState, lease_owner: &str) -> Result<bool, StoreError> {
        let mut item = to_item("run_state", keys::run_state(&state.profile_id), state)?;
        item.insert("ttl".into(), ttl_from_now());
        let build = |e| aws("TransactWriteItems")(e);
        let (pk, sk) = keys::sync_lease(&state.profile_id);
        let held = ConditionCheck::builder()
            .table_name(self.table.name())
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .condition_expression("#o = :me")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":me", AttributeValue::S(lease_owner.to_owned()))
            .build()
            .map_err(build)?;
        let put = Put::builder()
            .table_name(self.table.name())
            .set_item(Some(item))
            .build()
            .map_err(build)?;
        let out = self
            .table
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(held).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        // only the lease check failing means "not the holder"; a conflict or throttling is
        // an error like any other
        let lease_lost =
            |e: &aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError| {
                match e {
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => c
                .cancellation_reasons()
                .first()
                .and_then(|r| r.code())
                == Some("ConditionalCheckFailed"),
            _ => false,
        }
            };
        match out {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(lease_lost) => Ok(false),
            Err(e) => Err(aws("TransactWriteItems")(e)),
        }
    }

    /// Parts of [`BLOB_PART`] bytes in binary attributes, written in batches.
    async fn put_run_blob(
        &self,
        profile_id: &str,
        run_id: &str,
        name: &str,
        data: &[u8],
    ) -> Result<BlobRef, StoreError> {
        let mut requests = Vec::new();
        for (i, chunk) in data.chunks(BLOB_PART).enumerate() {
            let (pk, sk) = keys::run_blob_part(profile_id, run_id, name, i as u32);
            let item = [
                ("pk".to_owned(), AttributeValue::S(pk)),
                ("sk".to_owned(), AttributeValue::S(sk)),
                ("kind".to_owned(), AttributeValue::S("run_blob".into())),
                ("data".to_owned(), AttributeValue::B(Blob::new(chunk))),
                ("ttl".to_owned(), ttl_from_now()),
            ]
            .into_iter()
            .collect();
            requests.push(put_request(item)?);
        }
        let parts = requests.len() as u32;
        self.table.write_requests(requests).await?;
        Ok(BlobRef {
            name: name.to_owned(),
            parts,
        })
    }

    async fn get_run_blob(
        &self,
        profile_id: &str,
        run_id: &str,
        blob: &BlobRef,
    ) -> Result<Vec<u8>, StoreError> {
        let prefix = format!("BLOB#{run_id}#{}#", blob.name);
        let mut parts = self
            .table
            .query_prefix(keys::run_state_pk(profile_id), prefix)
            .into_paginator()
            .items()
            .send();
        let mut data = Vec::new();
        let mut n = 0u32;
        while let Some(item) = parts.try_next().await.map_err(aws("Query"))? {
            match item.get("data") {
                Some(AttributeValue::B(b)) => data.extend_from_slice(b.as_ref()),
                _ => {
                    return Err(StoreError::Corrupt {
                        what: "run blob",
                        source: "a part without data".into(),
                    })
                }
            }
            n += 1;
        }
        if n != blob.parts {
            return Err(StoreError::Corrupt {
                what: "run blob",
                source: format!(
                    "{} of run {run_id}: {n} of {} parts stored",
                    blob.name, blob.parts
                )
                .into(),
            });
        }
        Ok(data)
    }

    /// The state (a conditional delete: only if it is this run's), then the run's blob parts
    /// (a Query of keys under `BLOB#<run>#`, deleted in batches).
    async fn clear_run_state(&self, profile_id: &str, run_id: &str) -> Result<(), StoreError> {
        // another run's state: not ours to delete
        self.table
            .delete_if(keys::run_state(profile_id), "run_id", run_id)
            .await?;
        let mut keys_of = self
            .table
            .query_prefix(keys::run_state_pk(profile_id), format!("BLOB#{run_id}#"))
            .projection_expression("pk, sk")
            .into_paginator()
            .items()
            .send();
        let mut requests: Vec<WriteRequest> = Vec::new();
        while let Some(key) = keys_of.try_next().await.map_err(aws("Query"))? {
            let del = DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .map_err(aws("DeleteRequest"))?;
            requests.push(WriteRequest::builder().delete_request(del).build());
        }
        self.table.write_requests(requests).await
    }
}
