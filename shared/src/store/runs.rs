//! Sync runs: the per-profile lease (`LEASE#sync`), task runs (`TASKS#<profile>`) and activity
//! checkpoints (`CHECKPOINT#<stream>`).
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::keys;
use super::table::{conditional, Table};
use crate::domain::{Checkpoint, TaskRun};
use crate::ports::{RunRepo, StoreError};

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
        let (pk, sk) = keys::sync_lease(profile_id);
        let r = self
            .table
            .client()
            .delete_item()
            .table_name(self.table.name())
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .condition_expression("#o = :me")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":me", AttributeValue::S(owner.to_owned()))
            .send()
            .await;
        // someone else's lease now (ours expired): leave it
        conditional("DeleteItem", r)?;
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
}
