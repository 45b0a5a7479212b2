//! Pending OAuth connects (`OAUTH#<sha256(state)>`, `STATE`), cleaned up by the table's TTL.
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use super::keys;
use super::table::{aws, condition_failed, from_item, to_item, Table};
use crate::domain::PendingConnect;
use crate::ports::{ConnectRepo, StoreError};

#[derive(Debug, Clone)]
pub struct ConnectTable {
    table: Table,
}

impl ConnectTable {
    pub fn new(table: Table) -> Self {
        Self { table }
    }
}

impl ConnectRepo for ConnectTable {
    async fn put_pending(&self, state_digest: &str, p: &PendingConnect) -> Result<(), StoreError> {
        let mut item = to_item("pending_connect", keys::pending_connect(state_digest), p)?;
        // expires_epoch is what consume_pending's condition compares (a number, unlike expires_at)
        item.insert(
            "expires_epoch".into(),
            AttributeValue::N(p.expires_at.timestamp().to_string()),
        );
        item.insert(
            "ttl".into(),
            AttributeValue::N((p.expires_at.timestamp() + 3600).to_string()),
        );
        self.table
            .client()
            .put_item()
            .table_name(self.table.name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(aws("PutItem"))?;
        Ok(())
    }

    /// A conditional delete returning the old item, so a replayed callback finds nothing.
    async fn consume_pending(
        &self,
        state_digest: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingConnect>, StoreError> {
        let (pk, sk) = keys::pending_connect(state_digest);
        let r = self
            .table
            .client()
            .delete_item()
            .table_name(self.table.name())
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .condition_expression("attribute_exists(pk) AND expires_epoch > :now")
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .return_values(ReturnValue::AllOld)
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
            Err(e) => Err(aws("DeleteItem")(e)),
        }
    }
}
