//! Notify mode: notices (`NOTICES#<profile>`, `NOTICE#<user id>#<candidacy>`), keep tokens by
//! digest (`KEEPTOKEN#<sha256(token)>`, `TOKEN`, cleaned up by the TTL) and the daily digest
//! markers (`PROFILE#<profile>`, `DIGEST#<UTC date>`), and which notice each email was sent for
//! (`NOTICEMSG#<SES message id>`, `MSG`: bounces and complaints name only that id). A keep is one transaction: the token is
//! consumed, the keep written and the notice marked kept, or nothing changes.
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::keys;
use super::table::{aws, condition_failed, from_item, to_item, Table};
use crate::domain::{Keep, Notice, NoticeMessage, NoticeToken};
use crate::ports::{KeepOutcome, NoticeRepo, StoreError};

/// A used or expired token item stays this long after its expiry (then the TTL removes it).
const TOKEN_TTL_AFTER_EXPIRY_SECS: i64 = 30 * 86_400;
/// A message lookup outlives any notice period and the late bounces SES reports (within days).
const MESSAGE_TTL_SECS: i64 = 90 * 86_400;
/// Digest markers are kept a year.
const DIGEST_TTL_SECS: i64 = 366 * 86_400;
/// A notice that no longer follows a candidacy (kept, requested, cancelled) is kept this long
/// after its last change, so a profile's notice partition (read whole by each notify pass)
/// stays the size of its recent history.
const CLOSED_NOTICE_TTL_SECS: i64 = 400 * 86_400;

#[derive(Debug, Clone)]
pub struct NoticeTable {
    table: Table,
}

impl NoticeTable {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    fn notice_item(n: &Notice) -> Result<super::table::Item, StoreError> {
        let mut item = to_item(
            "notice",
            keys::notice(&n.profile_id, &n.user_id, &n.candidacy),
            n,
        )?;
        if !n.state.is_open() {
            item.insert(
                "ttl".into(),
                AttributeValue::N((n.updated_at.timestamp() + CLOSED_NOTICE_TTL_SECS).to_string()),
            );
        }
        Ok(item)
    }
}

impl NoticeRepo for NoticeTable {
    async fn create_notice(&self, n: &Notice) -> Result<bool, StoreError> {
        self.table.put_new(Self::notice_item(n)?).await
    }

    async fn save_notice(&self, n: &mut Notice) -> Result<(), StoreError> {
        let expected = n.version;
        let mut next = n.clone();
        next.version += 1;
        let out = self
            .table
            .client()
            .put_item()
            .table_name(self.table.name())
            .set_item(Some(Self::notice_item(&next)?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", AttributeValue::N(expected.to_string()))
            .send()
            .await;
        match out {
            Ok(_) => {
                n.version = next.version;
                Ok(())
            }
            Err(e) if condition_failed(&e) => Err(StoreError::Conflict(format!(
                "notice of {} changed since it was read",
                n.user_id
            ))),
            Err(e) => Err(aws("PutItem")(e)),
        }
    }

    async fn get_notice(
        &self,
        profile_id: &str,
        user_id: &str,
        candidacy: &str,
    ) -> Result<Option<Notice>, StoreError> {
        self.table
            .get("notice", keys::notice(profile_id, user_id, candidacy))
            .await
    }

    async fn notices(&self, profile_id: &str) -> Result<Vec<Notice>, StoreError> {
        self.table
            .query_all("notice", keys::notices_pk(profile_id), None, None)
            .await
    }

    async fn put_token(&self, digest: &str, t: &NoticeToken) -> Result<(), StoreError> {
        let mut item = to_item("keep_token", keys::keep_token(digest), t)?;
        // expires_epoch is what keep's condition compares (a number, unlike expires_at)
        item.insert(
            "expires_epoch".into(),
            AttributeValue::N(t.expires_at.timestamp().to_string()),
        );
        item.insert(
            "ttl".into(),
            AttributeValue::N((t.expires_at.timestamp() + TOKEN_TTL_AFTER_EXPIRY_SECS).to_string()),
        );
        if self.table.put_new(item).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict("keep token digest taken".into()))
        }
    }

    async fn get_token(&self, digest: &str) -> Result<Option<NoticeToken>, StoreError> {
        let out = self
            .table
            .client()
            .get_item()
            .table_name(self.table.name())
            .set_key(Some(key_map(keys::keep_token(digest))))
            .consistent_read(true)
            .send()
            .await
            .map_err(aws("GetItem"))?;
        out.item
            .map(|mut i| {
                i.remove("expires_epoch");
                i.remove("ttl");
                from_item("keep_token", i)
            })
            .transpose()
    }

    async fn keep(
        &self,
        digest: &str,
        keep: &Keep,
        now: DateTime<Utc>,
    ) -> Result<KeepOutcome, StoreError> {
        let Some(token) = self.get_token(digest).await? else {
            return Ok(KeepOutcome::Refused);
        };
        if !token.usable(now)
            || token.profile_id != keep.profile_id
            || token.user_id != keep.user_id
        {
            return Ok(KeepOutcome::Refused);
        }
        let Some(mut notice) = self
            .get_notice(&token.profile_id, &token.user_id, &token.candidacy)
            .await?
        else {
            return Ok(KeepOutcome::Refused);
        };
        let expected = notice.version;
        if notice.kept(keep.reason.clone(), keep.until, now).is_err() {
            return Ok(KeepOutcome::Refused);
        }
        notice.version += 1;
        let name = self.table.name();
        let build = |e| aws("TransactWriteItems")(e);
        let consume = Update::builder()
            .table_name(name)
            .set_key(Some(key_map(keys::keep_token(digest))))
            .update_expression("SET used_at = :at")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(used_at) AND expires_epoch > :now",
            )
            .expression_attribute_values(":at", AttributeValue::S(rfc3339(now)))
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .build()
            .map_err(build)?;
        let put_keep = Put::builder()
            .table_name(name)
            .set_item(Some(to_item(
                "keep",
                keys::keep(&keep.profile_id, &keep.user_id),
                keep,
            )?))
            .build()
            .map_err(build)?;
        let mark = Put::builder()
            .table_name(name)
            .set_item(Some(Self::notice_item(&notice)?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", AttributeValue::N(expected.to_string()))
            .build()
            .map_err(build)?;
        let out = self
            .table
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(consume).build())
            .transact_items(TransactWriteItem::builder().put(put_keep).build())
            .transact_items(TransactWriteItem::builder().put(mark).build())
            .send()
            .await;
        match out {
            Ok(_) => Ok(KeepOutcome::Kept),
            // a condition failed (used meanwhile, expired, the notice moved on): nothing written
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                Ok(KeepOutcome::Refused)
            }
            Err(e) => Err(aws("TransactWriteItems")(e)),
        }
    }

    async fn claim_digest(
        &self,
        profile_id: &str,
        day: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut item = key_map(keys::digest_marker(profile_id, day));
        item.insert("kind".into(), AttributeValue::S("digest".into()));
        item.insert("at".into(), AttributeValue::S(rfc3339(at)));
        item.insert(
            "ttl".into(),
            AttributeValue::N((at.timestamp() + DIGEST_TTL_SECS).to_string()),
        );
        self.table.put_new(item).await
    }

    async fn release_digest(&self, profile_id: &str, day: &str) -> Result<(), StoreError> {
        self.table
            .client()
            .delete_item()
            .table_name(self.table.name())
            .set_key(Some(key_map(keys::digest_marker(profile_id, day))))
            .send()
            .await
            .map_err(aws("DeleteItem"))?;
        Ok(())
    }

    async fn last_digest(&self, profile_id: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Marker {
            at: DateTime<Utc>,
        }
        let newest: Vec<Marker> = self
            .table
            .query_all(
                "digest",
                keys::profile_pk(profile_id),
                Some(keys::DIGEST_PREFIX),
                Some(1),
            )
            .await?;
        Ok(newest.into_iter().next().map(|m| m.at))
    }

    async fn put_message(&self, m: &NoticeMessage) -> Result<(), StoreError> {
        let mut item = to_item("notice_message", keys::notice_message(&m.message_id), m)?;
        item.insert(
            "ttl".into(),
            AttributeValue::N((m.sent_at.timestamp() + MESSAGE_TTL_SECS).to_string()),
        );
        self.table
            .client()
            .put_item()
            .table_name(self.table.name())
            .set_item(Some(item))
            .send()
            .await
            .map_err(aws("PutItem"))?;
        Ok(())
    }

    async fn get_message(&self, message_id: &str) -> Result<Option<NoticeMessage>, StoreError> {
        let out = self
            .table
            .client()
            .get_item()
            .table_name(self.table.name())
            .set_key(Some(key_map(keys::notice_message(message_id))))
            .send()
            .await
            .map_err(aws("GetItem"))?;
        out.item
            .map(|mut i| {
                i.remove("ttl");
                from_item("notice_message", i)
            })
            .transpose()
    }
}

fn key_map((pk, sk): (String, String)) -> super::table::Item {
    super::table::Item::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(sk)),
    ])
}

/// A time as serde writes it into items (so a later read parses it the same way).
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}
