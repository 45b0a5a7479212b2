//! Reclaim requests (`RECLAIMS#<profile>`, the audit trail), messages that were not requests
//! (`RECLAIMS#_invalid`) and the daily reclaim counter (`PROFILE#<profile>`, `RECLAIMED#<day>`).
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;

use super::keys;
use super::table::{aws, condition_failed, conditional, to_item, Table};
use crate::domain::{Approval, InvalidMessage, ReclaimRecord};
use crate::ports::{ReclaimRepo, StoreError, UserLock};

/// Invalid messages are kept 90 days.
const INVALID_TTL_DAYS: i64 = 90;

#[derive(Debug, Clone)]
pub struct ReclaimTable {
    table: Table,
}

impl ReclaimTable {
    pub fn new(table: Table) -> Self {
        Self { table }
    }
}

impl ReclaimRepo for ReclaimTable {
    async fn create(&self, r: &ReclaimRecord) -> Result<bool, StoreError> {
        let item = to_item(
            "reclaim",
            keys::reclaim(&r.request.profile_id, &r.request.request_id),
            r,
        )?;
        self.table.put_new(item).await
    }

    async fn get(
        &self,
        profile_id: &str,
        request_id: &str,
    ) -> Result<Option<ReclaimRecord>, StoreError> {
        self.table
            .get("reclaim", keys::reclaim(profile_id, request_id))
            .await
    }

    async fn save(&self, r: &mut ReclaimRecord) -> Result<(), StoreError> {
        let expected = r.version;
        r.version += 1;
        let item = to_item(
            "reclaim",
            keys::reclaim(&r.request.profile_id, &r.request.request_id),
            &*r,
        );
        let item = match item {
            Ok(i) => i,
            Err(e) => {
                r.version = expected;
                return Err(e);
            }
        };
        let out = self
            .table
            .client()
            .put_item()
            .table_name(self.table.name())
            .set_item(Some(item))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", AttributeValue::N(expected.to_string()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) => {
                r.version = expected;
                if condition_failed(&e) {
                    Err(StoreError::Conflict(format!(
                        "reclaim request {} was changed by another delivery",
                        r.request.request_id
                    )))
                } else {
                    Err(aws("PutItem")(e))
                }
            }
        }
    }

    async fn list(&self, profile_id: &str) -> Result<Vec<ReclaimRecord>, StoreError> {
        let mut all: Vec<ReclaimRecord> = self
            .table
            .query_all("reclaim", keys::reclaims_pk(profile_id), None, None)
            .await?;
        // request ids are the sender's, not time-ordered: sort by creation
        all.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        Ok(all)
    }

    async fn put_invalid(&self, m: &InvalidMessage) -> Result<(), StoreError> {
        let mut item = to_item("invalid_message", keys::invalid_message(&m.message_id), m)?;
        let ttl = m.received_at.timestamp() + INVALID_TTL_DAYS * 86_400;
        item.insert("ttl".into(), AttributeValue::N(ttl.to_string()));
        self.table.put_item(item).await
    }

    async fn list_invalid(&self) -> Result<Vec<InvalidMessage>, StoreError> {
        self.table
            .query_all(
                "invalid_message",
                keys::INVALID_MESSAGES_PK.to_owned(),
                None,
                None,
            )
            .await
    }

    /// `ADD reclaims 1` conditioned on `reclaims < cap`: the cap holds across concurrent
    /// invocations.
    async fn count_reclaim(
        &self,
        profile_id: &str,
        day: &str,
        cap: u64,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = keys::reclaim_counter(profile_id, day);
        let ttl = Utc::now().timestamp() + 7 * 86_400;
        let r = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .update_expression("ADD reclaims :one SET kind = :kind, #ttl = :ttl")
            .condition_expression("attribute_not_exists(reclaims) OR reclaims < :cap")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":cap", AttributeValue::N(cap.to_string()))
            .expression_attribute_values(":kind", AttributeValue::S("reclaim_counter".into()))
            .expression_attribute_values(":ttl", AttributeValue::N(ttl.to_string()))
            .send()
            .await;
        conditional("UpdateItem", r)
    }

    async fn put_approval(&self, a: &Approval) -> Result<(), StoreError> {
        self.table
            .put("approval", keys::approval(&a.profile_id, &a.request_id), a)
            .await
    }

    async fn get_approval(
        &self,
        profile_id: &str,
        request_id: &str,
    ) -> Result<Option<Approval>, StoreError> {
        self.table
            .get("approval", keys::approval(profile_id, request_id))
            .await
    }

    async fn lock_user(
        &self,
        profile_id: &str,
        user_id: &str,
        request_id: &str,
        stale: Option<&str>,
    ) -> Result<UserLock, StoreError> {
        let (pk, sk) = keys::user_lock(profile_id, user_id);
        let mut cond = "attribute_not_exists(pk) OR request_id = :me".to_owned();
        let mut put = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S(sk.clone()))
            .update_expression("SET request_id = :me, kind = :kind, locked_at = :at")
            .expression_attribute_values(":me", AttributeValue::S(request_id.to_owned()))
            .expression_attribute_values(":kind", AttributeValue::S("user_lock".into()))
            .expression_attribute_values(":at", AttributeValue::S(Utc::now().to_rfc3339()));
        if let Some(stale) = stale {
            cond.push_str(" OR request_id = :stale");
            put = put.expression_attribute_values(":stale", AttributeValue::S(stale.to_owned()));
        }
        match put.condition_expression(cond).send().await {
            Ok(_) => Ok(UserLock::Taken),
            Err(e) if condition_failed(&e) => {
                let item = self
                    .table
                    .client()
                    .get_item()
                    .table_name(self.table.name())
                    .key("pk", AttributeValue::S(pk))
                    .key("sk", AttributeValue::S(sk))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(aws("GetItem"))?;
                let holder = item
                    .item
                    .as_ref()
                    .and_then(|i| i.get("request_id"))
                    .and_then(|v| v.as_s().ok())
                    .cloned();
                match holder {
                    Some(h) => Ok(UserLock::HeldBy(h)),
                    // released in between: the caller tries again on its next delivery
                    None => Err(StoreError::Conflict(format!(
                        "the reclaim lock of user {user_id} changed hands; try again"
                    ))),
                }
            }
            Err(e) => Err(aws("UpdateItem")(e)),
        }
    }

    async fn unlock_user(
        &self,
        profile_id: &str,
        user_id: &str,
        request_id: &str,
    ) -> Result<(), StoreError> {
        // not ours (any more): nothing to release
        self.table
            .delete_if(
                keys::user_lock(profile_id, user_id),
                "request_id",
                request_id,
            )
            .await?;
        Ok(())
    }
}
