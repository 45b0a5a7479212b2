//! Reclamation items: candidates, reclaim request records (the audit trail), messages that were
//! not requests, the daily reclaim counter, and the reclaimed mark on seats.
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dynamo::{aws, condition_failed, from_item, put_request, to_item};
use super::{keys, Store, StoreError};

type Item = HashMap<String, AttributeValue>;
use crate::domain::rules::Evidence;
use crate::domain::{ReclaimRecord, Seat};

/// A seat the rules picked, with its evidence and price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub profile_id: String,
    pub user_id: String,
    pub login: String,
    pub name: String,
    pub license_type: String,
    /// Monthly price of the seat (minor units) from the profile's entitlement, when known.
    #[serde(default)]
    pub unit_price_cents: Option<u64>,
    #[serde(default)]
    pub currency: Option<String>,
    pub evidence: Evidence,
    /// The sync run whose data produced it.
    pub run_id: String,
    pub listed_at: DateTime<Utc>,
    #[serde(default)]
    pub approved_by: Option<String>,
    #[serde(default)]
    pub approved_at: Option<DateTime<Utc>>,
    /// The reclaim request enqueued for it, if any.
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub requested_at: Option<DateTime<Utc>>,
    /// Digest of the finding (see [`Candidate::finding_digest`]): equal means nothing to write.
    #[serde(default)]
    pub finding: String,
}

impl Candidate {
    /// A digest of what the candidate says (who, license, price, rule, evidence): a re-sync
    /// compares it with the stored one instead of holding every stored candidate in memory.
    pub fn finding_digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let login = self.evidence.last_login.as_ref();
        for part in [
            self.user_id.as_str(),
            self.login.as_str(),
            self.license_type.as_str(),
            &format!("{:?}", self.unit_price_cents),
            self.evidence.rule.as_str(),
            login.map(|l| l.event_id.as_str()).unwrap_or(""),
            &login.map(|l| l.at.timestamp()).unwrap_or(0).to_string(),
            &self.evidence.inactive_since.timestamp().to_string(),
        ] {
            h.update(part.as_bytes());
            h.update([0x1f]);
        }
        hex::encode(&h.finalize()[..12])
    }
}

/// A queue message that was not a valid reclaim request: recorded, then acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidMessage {
    pub message_id: String,
    pub received_at: DateTime<Utc>,
    pub error: String,
    /// The body as received (first 4 KiB), so the sender can see what was wrong.
    pub body_excerpt: String,
    pub body_bytes: usize,
}

/// Invalid messages are kept 90 days.
const INVALID_TTL_DAYS: i64 = 90;

impl Store {
    // -------------------------------------------------------------- candidates

    pub async fn list_candidates(&self, profile_id: &str) -> Result<Vec<Candidate>, StoreError> {
        self.query_all("candidate", keys::candidates_pk(profile_id), None, None)
            .await
    }

    pub async fn get_candidate(
        &self,
        profile_id: &str,
        user_id: &str,
    ) -> Result<Option<Candidate>, StoreError> {
        self.get("candidate", keys::candidate(profile_id, user_id))
            .await
    }

    pub async fn put_candidate(&self, c: &Candidate) -> Result<(), StoreError> {
        self.put("candidate", keys::candidate(&c.profile_id, &c.user_id), c)
            .await
    }

    /// Writes many candidates with batched writes (a first sync can list thousands).
    pub async fn put_candidates(&self, list: &[Candidate]) -> Result<(), StoreError> {
        let requests = list
            .iter()
            .map(|c| {
                put_request(to_item(
                    "candidate",
                    keys::candidate(&c.profile_id, &c.user_id),
                    c,
                )?)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.write_requests(requests).await
    }

    /// Deletes many candidates with batched writes.
    pub async fn delete_candidates(
        &self,
        profile_id: &str,
        user_ids: &[String],
    ) -> Result<(), StoreError> {
        let mut requests = Vec::with_capacity(user_ids.len());
        for u in user_ids {
            let (pk, sk) = keys::candidate(profile_id, u);
            let del = DeleteRequest::builder()
                .key("pk", AttributeValue::S(pk))
                .key("sk", AttributeValue::S(sk))
                .build()
                .map_err(aws("DeleteRequest"))?;
            requests.push(WriteRequest::builder().delete_request(del).build());
        }
        self.write_requests(requests).await
    }

    pub async fn delete_candidate(
        &self,
        profile_id: &str,
        user_id: &str,
    ) -> Result<(), StoreError> {
        let (pk, sk) = keys::candidate(profile_id, user_id);
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .send()
            .await
            .map_err(aws("DeleteItem"))?;
        Ok(())
    }

    /// One page (≤1 MB) of a profile's stored seats, and where the next one starts.
    pub async fn seat_page(
        &self,
        profile_id: &str,
        start: Option<Item>,
    ) -> Result<(Vec<Seat>, Option<Item>), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::seats_pk(profile_id)))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(aws("Query"))?;
        let seats = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|i| from_item::<Seat>("seat", i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((seats, out.last_evaluated_key.filter(|k| !k.is_empty())))
    }

    /// The stored candidates of a profile as `user id → (finding digest, requested)`: what a
    /// refresh compares against (a projection, so large lists stay small in memory).
    pub async fn candidate_digests(
        &self,
        profile_id: &str,
    ) -> Result<HashMap<String, (String, bool)>, StoreError> {
        let mut out = HashMap::new();
        let mut items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::candidates_pk(profile_id)))
            .projection_expression("user_id, finding, request_id")
            .into_paginator()
            .items()
            .send();
        while let Some(item) = items.next().await {
            let item = item.map_err(aws("Query"))?;
            let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
            if let Some(user) = s("user_id") {
                out.insert(
                    user,
                    (
                        s("finding").unwrap_or_default(),
                        item.contains_key("request_id"),
                    ),
                );
            }
        }
        Ok(out)
    }

    pub async fn get_seat(
        &self,
        profile_id: &str,
        user_id: &str,
    ) -> Result<Option<Seat>, StoreError> {
        self.get("seat", keys::seat(profile_id, user_id)).await
    }

    /// Marks a seat reclaimed (and removed) by a request.
    pub async fn mark_seat_reclaimed(
        &self,
        profile_id: &str,
        user_id: &str,
        request_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (pk, sk) = keys::seat(profile_id, user_id);
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .update_expression(
                "SET reclaimed_at = :at, reclaim_request_id = :req, removed_at = if_not_exists(removed_at, :at)",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", AttributeValue::S(at.to_rfc3339()))
            .expression_attribute_values(":req", AttributeValue::S(request_id.to_owned()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            // no stored seat (never synced): the request record is the audit trail
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(aws::<_>("UpdateItem")(e)),
        }
    }

    // -------------------------------------------------------- reclaim requests

    /// Stores a new request record; false if one with the same request id exists already.
    pub async fn create_reclaim(&self, r: &ReclaimRecord) -> Result<bool, StoreError> {
        let item = to_item(
            "reclaim",
            keys::reclaim(&r.request.profile_id, &r.request.request_id),
            r,
        )?;
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(aws::<_>("PutItem")(e)),
        }
    }

    pub async fn get_reclaim(
        &self,
        profile_id: &str,
        request_id: &str,
    ) -> Result<Option<ReclaimRecord>, StoreError> {
        self.get("reclaim", keys::reclaim(profile_id, request_id))
            .await
    }

    /// Writes `r` if nobody wrote it since it was read (its `version`), and bumps the version in
    /// `r`. A concurrent writer gives `StoreError::Conflict`: the caller re-reads.
    pub async fn save_reclaim(&self, r: &mut ReclaimRecord) -> Result<(), StoreError> {
        let expected = r.version;
        r.version += 1;
        let item = to_item(
            "reclaim",
            keys::reclaim(&r.request.profile_id, &r.request.request_id),
            &*r,
        )?;
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
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
                    Err(aws::<_>("PutItem")(e))
                }
            }
        }
    }

    /// A profile's reclaim requests, newest first.
    pub async fn list_reclaims(&self, profile_id: &str) -> Result<Vec<ReclaimRecord>, StoreError> {
        let mut all: Vec<ReclaimRecord> = self
            .query_all("reclaim", keys::reclaims_pk(profile_id), None, None)
            .await?;
        all.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        Ok(all)
    }

    pub async fn put_invalid_message(&self, m: &InvalidMessage) -> Result<(), StoreError> {
        let mut item = to_item("invalid_message", keys::invalid_message(&m.message_id), m)?;
        let ttl = m.received_at.timestamp() + INVALID_TTL_DAYS * 86_400;
        item.insert("ttl".into(), AttributeValue::N(ttl.to_string()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(aws("PutItem"))?;
        Ok(())
    }

    pub async fn list_invalid_messages(&self) -> Result<Vec<InvalidMessage>, StoreError> {
        self.query_all(
            "invalid_message",
            keys::INVALID_MESSAGES_PK.to_owned(),
            None,
            None,
        )
        .await
    }

    /// Counts one reclaim against the profile's cap for `day` (UTC `YYYY-MM-DD`); false when the
    /// cap is reached (nothing counted).
    pub async fn count_reclaim(
        &self,
        profile_id: &str,
        day: &str,
        cap: u64,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = keys::reclaim_counter(profile_id, day);
        let ttl = Utc::now().timestamp() + 7 * 86_400;
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
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
        match r {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(aws::<_>("UpdateItem")(e)),
        }
    }
}
