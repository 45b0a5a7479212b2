//! Profiles: one partition (`PROFILES`), versioned puts so an operator's edit and a sync's
//! bookkeeping never overwrite each other.
use aws_sdk_dynamodb::types::AttributeValue;

use super::keys;
use super::table::{aws, condition_failed, to_item, Table};
use crate::domain::profile::LastSync;
use crate::domain::Profile;
use crate::ports::{ProfileRepo, StoreError};

#[derive(Debug, Clone)]
pub struct ProfileTable {
    table: Table,
}

impl ProfileTable {
    pub fn new(table: Table) -> Self {
        Self { table }
    }
}

impl ProfileRepo for ProfileTable {
    async fn create(&self, p: &Profile) -> Result<(), StoreError> {
        let item = to_item("profile", keys::profile(&p.id), p)?;
        if self.table.put_new(item).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!(
                "profile {} already exists",
                p.id
            )))
        }
    }

    /// Writes `p` with its version bumped, if the stored version is still `p.version` (a
    /// profile written before versioning has none and counts as 0).
    async fn put(&self, p: &Profile) -> Result<(), StoreError> {
        let mut next = p.clone();
        next.version = p.version + 1;
        let item = to_item("profile", keys::profile(&p.id), &next)?;
        self.table
            .client()
            .put_item()
            .table_name(self.table.name())
            .set_item(Some(item))
            .condition_expression(
                "attribute_exists(pk) AND (version = :v OR (attribute_not_exists(version) AND :v = :zero))",
            )
            .expression_attribute_values(":v", AttributeValue::N(p.version.to_string()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await
            .map_err(|e| {
                if condition_failed(&e) {
                    StoreError::Conflict(format!(
                        "profile {} was changed by someone else meanwhile",
                        p.id
                    ))
                } else {
                    aws("PutItem")(e)
                }
            })?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Profile>, StoreError> {
        self.table.get("profile", keys::profile(id)).await
    }

    async fn list(&self) -> Result<Vec<Profile>, StoreError> {
        self.table
            .query_all("profile", keys::PROFILES_PK.to_owned(), None, None)
            .await
    }

    /// An UpdateItem of `last_sync` alone (and the version, so a concurrent edit re-reads).
    async fn set_last_sync(&self, profile_id: &str, last: &LastSync) -> Result<(), StoreError> {
        let (pk, sk) = keys::profile(profile_id);
        let value = serde_dynamo::to_attribute_value(last)
            .map_err(|e| StoreError::corrupt("last sync", e))?;
        self.table
            .client()
            .update_item()
            .table_name(self.table.name())
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
}
