//! A profile's seat inventory: seats (`SEATS#<profile>`), reclaim candidates
//! (`CANDIDATES#<profile>`) and license summaries (`PROFILE#<profile>`, `LICENSE#…`).
use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, ReturnValue, WriteRequest};
use chrono::{DateTime, SecondsFormat, Utc};

use super::keys;
use super::table::{
    aws, condition_failed, conditional, from_item, put_request, to_item, Item, Table,
};
use crate::domain::rules::ActiveAfter;
use crate::domain::seat::parse_fingerprint;
use crate::domain::seat::RECLAIM_LISTING_LAG;
use crate::domain::{seat_snapshot, IndexTicket, SnapshotError, SnapshotNote, SnapshotRef};
use crate::domain::{
    ActivityScope, Candidate, IndexedSeat, Keep, LicenseSummary, LoginEvidence, RuleSeat, Seat,
    SeatIndex, StoredSeatState,
};
use crate::ports::{SeatCursor, SeatPage, SeatRepo, StoreError};

#[derive(Debug, Clone)]
pub struct SeatTable {
    table: Table,
}

impl SeatTable {
    pub fn new(table: Table) -> Self {
        Self { table }
    }
}

/// What is wrong with a seat item a read of the seats partition found.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadSeatItem(String);

fn bad_seat(what: String) -> StoreError {
    StoreError::corrupt("seat", BadSeatItem(what))
}

/// A stored instant; `what` names it in the error.
fn parse_instant(what: &str, v: &str) -> Result<DateTime<Utc>, StoreError> {
    v.parse::<DateTime<Utc>>()
        .map_err(|e| bad_seat(format!("{what}: {e}")))
}

/// One index entry from a projected seat item. A missing `user_id` is a corrupt item; an
/// unreadable fingerprint or instant only makes the seat compared in full.
fn indexed(item: &Item) -> Result<(&str, IndexedSeat), StoreError> {
    let user_id = match item.get("user_id") {
        Some(AttributeValue::S(u)) => u.as_str(),
        _ => return Err(bad_seat("an item without a user_id".into())),
    };
    let at = |attr: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        let Some(AttributeValue::M(m)) = item.get(attr) else {
            return Ok(None);
        };
        match m.get("at") {
            Some(AttributeValue::S(t)) => parse_instant(&format!("{attr}.at"), t).map(Some),
            _ => Err(bad_seat(format!("{attr} without an instant"))),
        }
    };
    let fingerprint = match item.get("fingerprint") {
        Some(AttributeValue::S(f)) => parse_fingerprint(f),
        _ => None,
    };
    Ok((
        user_id,
        IndexedSeat {
            fingerprint,
            login_at: at("last_login")?,
            activity_at: at("last_activity")?,
            removed: matches!(item.get("removed_at"), Some(AttributeValue::S(_))),
        },
    ))
}

/// The Query filter that keeps every seat but the present ones active by `bound`, and the
/// attribute names it uses. A removed seat has `removed_at` as a string (a present one has it
/// null); a missing `at` compares false, so a seat without that evidence is kept.
fn active_filter(bound: &ActiveAfter) -> (&'static str, &'static [(&'static str, &'static str)]) {
    match bound.scope {
        ActivityScope::Any => (
            "attribute_type(removed_at, :s) OR NOT (#ll.#at > :after OR #la.#at > :after)",
            &[
                ("#ll", "last_login"),
                ("#la", "last_activity"),
                ("#at", "at"),
            ],
        ),
        ActivityScope::Logins => (
            "attribute_type(removed_at, :s) OR NOT (#ll.#at > :after)",
            &[("#ll", "last_login"), ("#at", "at")],
        ),
    }
}

/// The bound as the filter compares it with stored instants, which are RFC 3339 in UTC (`Z`,
/// with a fraction only when there is one) and so compare as text the way they compare in time
/// down to the second. The bound is cut to whole seconds: a stored instant greater as text has
/// a later second, so it is later than the bound; one in the bound's own second compares equal
/// or less (`.` sorts before `Z`) and is kept, for the rules to judge exactly. The filter can
/// keep too much, never leave out too much.
fn after_text(after: DateTime<Utc>) -> String {
    after.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A [`RuleSeat`] from an item read with its projection, taken straight off the attribute
/// values in one pass (the strings moved, not copied): the rules pass reads every seat of a
/// profile, and serde_dynamo's generic path was 18 % of an unchanged re-sync's instructions
/// (`docs/benchmarks.md`, "In instructions"). Same answers as `from_item::<RuleSeat>`, unit-
/// tested against it; a missing or mistyped attribute is a corrupt item, never a panic.
fn rule_seat(item: Item) -> Result<RuleSeat, StoreError> {
    fn string(attr: &str, v: AttributeValue) -> Result<String, StoreError> {
        match v {
            AttributeValue::S(s) => Ok(s),
            _ => Err(bad_seat(format!("{attr} is not a string"))),
        }
    }
    fn instant(attr: &str, v: AttributeValue) -> Result<DateTime<Utc>, StoreError> {
        parse_instant(attr, &string(attr, v)?)
    }
    fn optional_instant(
        attr: &str,
        v: AttributeValue,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        match v {
            AttributeValue::Null(_) => Ok(None),
            v => instant(attr, v).map(Some),
        }
    }
    fn evidence(attr: &str, v: AttributeValue) -> Result<Option<LoginEvidence>, StoreError> {
        let m = match v {
            AttributeValue::Null(_) => return Ok(None),
            AttributeValue::M(m) => m,
            _ => return Err(bad_seat(format!("{attr} is not a map"))),
        };
        let (mut at, mut event_id, mut event_type) = (None, None, None);
        for (k, v) in m {
            match k.as_str() {
                "at" => at = Some(instant(attr, v)?),
                "event_id" => event_id = Some(string(attr, v)?),
                "event_type" => event_type = Some(string(attr, v)?),
                _ => {}
            }
        }
        Ok(Some(LoginEvidence {
            at: at.ok_or_else(|| bad_seat(format!("{attr} without an instant")))?,
            event_id: event_id.ok_or_else(|| bad_seat(format!("{attr} without an event id")))?,
            event_type: event_type
                .ok_or_else(|| bad_seat(format!("{attr} without an event type")))?,
        }))
    }
    fn required<T>(v: Option<T>, attr: &str) -> Result<T, StoreError> {
        v.ok_or_else(|| bad_seat(format!("an item without {attr}")))
    }
    // one pass over the attributes: no hashing of their names
    let (mut user_id, mut login, mut name, mut status, mut license_type) =
        (None, None, None, None, None);
    let (mut is_admin, mut first_seen_at) = (None, None);
    let (mut created_at, mut removed_at, mut last_login, mut last_activity) =
        (None, None, None, None);
    for (k, v) in item {
        match k.as_str() {
            "user_id" => user_id = Some(string(&k, v)?),
            "login" => login = Some(string(&k, v)?),
            "name" => name = Some(string(&k, v)?),
            "status" => status = Some(string(&k, v)?),
            "license_type" => license_type = Some(string(&k, v)?),
            "is_admin" => match v {
                AttributeValue::Bool(b) => is_admin = Some(b),
                _ => return Err(bad_seat("is_admin is not a boolean".into())),
            },
            "first_seen_at" => first_seen_at = Some(instant(&k, v)?),
            "created_at" => created_at = optional_instant(&k, v)?,
            "removed_at" => removed_at = optional_instant(&k, v)?,
            "last_login" => last_login = evidence(&k, v)?,
            "last_activity" => last_activity = evidence(&k, v)?,
            _ => {}
        }
    }
    Ok(RuleSeat {
        user_id: required(user_id, "user_id")?,
        login: required(login, "login")?,
        name: required(name, "name")?,
        status: required(status, "status")?,
        is_admin: required(is_admin, "is_admin")?,
        license_type: required(license_type, "license_type")?,
        created_at,
        first_seen_at: required(first_seen_at, "first_seen_at")?,
        last_login,
        last_activity,
        removed_at,
    })
}

/// A number attribute of an item (`None`: absent or not a number).
fn number(item: &Item, attr: &str) -> Option<u64> {
    match item.get(attr) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// The snapshot a head item names as current.
fn snapshot_of(head: &Item) -> Option<SnapshotRef> {
    Some(SnapshotRef {
        rev: number(head, "snapshot_rev")?,
        parts: u32::try_from(number(head, "snapshot_parts")?).ok()?,
    })
}

impl SeatTable {
    /// An UpdateItem of the profile's snapshot head, `#rev` naming its revision.
    fn update_head(&self, profile_id: &str) -> UpdateItemFluentBuilder {
        let (pk, sk) = keys::index_snapshot_head(profile_id);
        self.table
            .client()
            .update_item()
            .table_name(self.table.name())
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .expression_attribute_names("#rev", "rev")
    }

    /// Leaves (or writes again, with a new nonce) the note that `user_id`'s seat was written
    /// outside a roster pass.
    async fn note(&self, profile_id: &str, user_id: &str) -> Result<(), StoreError> {
        let (pk, sk) = keys::index_snapshot_note(profile_id, user_id);
        let item = [
            ("pk".to_owned(), AttributeValue::S(pk)),
            ("sk".to_owned(), AttributeValue::S(sk)),
            (
                "kind".to_owned(),
                AttributeValue::S("seat_index_note".into()),
            ),
            ("user_id".to_owned(), AttributeValue::S(user_id.to_owned())),
            (
                "nonce".to_owned(),
                AttributeValue::S(uuid::Uuid::new_v4().to_string()),
            ),
        ]
        .into_iter()
        .collect();
        self.table.put_item(item).await
    }

    /// The notes left for a profile's snapshot.
    async fn notes(&self, profile_id: &str) -> Result<Vec<SnapshotNote>, StoreError> {
        let mut items = self
            .table
            .query_prefix(
                keys::index_snapshot_pk(profile_id),
                keys::INDEX_NOTE_PREFIX.to_owned(),
            )
            .into_paginator()
            .items()
            .send();
        let mut notes = Vec::new();
        while let Some(item) = items.try_next().await.map_err(aws("Query"))? {
            match (item.get("user_id"), item.get("nonce")) {
                (Some(AttributeValue::S(u)), Some(AttributeValue::S(n))) => {
                    notes.push(SnapshotNote {
                        user_id: u.clone(),
                        nonce: n.clone(),
                    })
                }
                _ => return Err(SnapshotError::Malformed.into()),
            }
        }
        Ok(notes)
    }

    /// The seats as the snapshot `at` holds them; `None` if a part is missing.
    async fn snapshot(
        &self,
        profile_id: &str,
        at: SnapshotRef,
    ) -> Result<Option<SeatIndex>, StoreError> {
        let mut parts = self
            .table
            .query_prefix(
                keys::index_snapshot_pk(profile_id),
                keys::index_snapshot_parts(at.parts),
            )
            .into_paginator()
            .items()
            .send();
        let mut index = SeatIndex::default();
        let mut n = 0u32;
        while let Some(item) = parts.try_next().await.map_err(aws("Query"))? {
            match item.get("data") {
                Some(AttributeValue::B(b)) => seat_snapshot::load_part(&mut index, b.as_ref())?,
                _ => return Err(SnapshotError::Malformed.into()),
            }
            n += 1;
        }
        Ok((n == at.parts).then_some(index))
    }
}

impl SeatRepo for SeatTable {
    /// One paged Query projecting the fingerprint and the evidence's instants only, read
    /// straight off the attribute values: the least a roster pass needs (see [`IndexedSeat`]).
    async fn index(&self, profile_id: &str) -> Result<SeatIndex, StoreError> {
        let mut index = SeatIndex::default();
        let mut pages = self
            .table
            .client()
            .query()
            .table_name(self.table.name())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::seats_pk(profile_id)))
            .projection_expression("user_id, fingerprint, removed_at, #ll.#at, #la.#at")
            .expression_attribute_names("#ll", "last_login")
            .expression_attribute_names("#la", "last_activity")
            .expression_attribute_names("#at", "at")
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(aws("Query"))?;
            let (user_id, seat) = indexed(&item)?;
            index.insert(user_id, seat)?;
        }
        Ok(index)
    }

    /// The head's `ADD rev 1` returns the revision before it and the snapshot current then (one
    /// request); a resumed run reads the head. The parts are one consistent Query.
    async fn open_index(
        &self,
        profile_id: &str,
        resume: Option<&IndexTicket>,
    ) -> Result<(SeatIndex, IndexTicket), StoreError> {
        let notes = match resume {
            None => self.notes(profile_id).await?,
            Some(t) => t.notes.clone(),
        };
        let opening = match resume {
            None => {
                let out = self
                    .update_head(profile_id)
                    .update_expression("ADD #rev :one")
                    .expression_attribute_values(":one", AttributeValue::N("1".into()))
                    .return_values(ReturnValue::AllOld)
                    .send()
                    .await
                    .map_err(aws("UpdateItem"))?;
                let head = out.attributes();
                let before = head.and_then(|h| number(h, "rev")).unwrap_or(0);
                seat_snapshot::trusted(resume, before, head.and_then(snapshot_of))
            }
            Some(_) => {
                let (pk, sk) = keys::index_snapshot_head(profile_id);
                let out = self
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
                seat_snapshot::trusted(resume, 0, out.item().and_then(snapshot_of))
            }
        };
        let (mut index, snapshot) = match opening.1 {
            Some(at) => match self.snapshot(profile_id, at).await? {
                Some(index) => (index, Some(at)),
                None => (self.index(profile_id).await?, None),
            },
            None => (self.index(profile_id).await?, None),
        };
        let ticket = seat_snapshot::opened(&mut index, resume, (opening.0, snapshot), notes);
        Ok((index, ticket))
    }

    /// The parts in batches (a few groups of parts at a time, so a save holds little), then the
    /// head, conditioned on the revision.
    async fn save_index(
        &self,
        profile_id: &str,
        ticket: &IndexTicket,
        index: &SeatIndex,
    ) -> Result<bool, StoreError> {
        let plan = seat_snapshot::Plan::new(index, ticket.snapshot);
        for group in plan.groups(index) {
            let mut requests = Vec::new();
            for (part, bytes) in group? {
                let (pk, sk) = keys::index_snapshot_part(profile_id, plan.parts, part);
                let item = [
                    ("pk".to_owned(), AttributeValue::S(pk)),
                    ("sk".to_owned(), AttributeValue::S(sk)),
                    (
                        "kind".to_owned(),
                        AttributeValue::S("seat_index_part".into()),
                    ),
                    ("data".to_owned(), AttributeValue::B(Blob::new(bytes))),
                ]
                .into_iter()
                .collect();
                requests.push(put_request(item)?);
            }
            self.table.write_requests(requests).await?;
        }
        let r = self
            .update_head(profile_id)
            .update_expression("SET snapshot_rev = :rev, snapshot_parts = :parts")
            .condition_expression("#rev = :rev")
            .expression_attribute_values(":rev", AttributeValue::N(ticket.rev.to_string()))
            .expression_attribute_values(":parts", AttributeValue::N(plan.parts.to_string()))
            .send()
            .await;
        if !conditional("UpdateItem", r)? {
            return Ok(false);
        }
        for n in &ticket.notes {
            // written again since (another nonce): kept for the next run
            self.table
                .delete_if(
                    keys::index_snapshot_note(profile_id, &n.user_id),
                    "nonce",
                    &n.nonce,
                )
                .await?;
        }
        Ok(true)
    }

    /// BatchGetItem with the state's projection.
    async fn states(
        &self,
        profile_id: &str,
        user_ids: &[String],
    ) -> Result<Vec<StoredSeatState>, StoreError> {
        let keys = user_ids.iter().map(|u| keys::seat(profile_id, u)).collect();
        self.table
            .batch_get(
                keys,
                "user_id, fingerprint, first_seen_at, last_login, removed_at, last_activity",
                &[],
            )
            .await?
            .into_iter()
            .map(|item| from_item::<StoredSeatState>("seat", item))
            .collect()
    }

    /// One conditional UpdateItem per seat (a few in flight): every attribute of the serialised
    /// seat is SET, so fields added to `Seat` are written without touching this code, and what
    /// a reclaim wrote survives (see [`seat_update`]).
    ///
    /// A seat seen for the first time (`first_seen_at == last_seen_at`, as `reconcile` makes a
    /// new one) has no stored item a reclaim could have written (a reclaim acts only on a stored
    /// seat), so new seats go in batches of 25 as before: a first sync of a large tenant stays
    /// cheap.
    async fn put_many(&self, seats: &[Seat]) -> Result<usize, StoreError> {
        use futures::{StreamExt, TryStreamExt};
        let (new, changed): (Vec<&Seat>, Vec<&Seat>) = seats
            .iter()
            .partition(|s| s.first_seen_at == s.last_seen_at && s.reclaimed_at.is_none());
        let requests = new
            .iter()
            .map(|s| put_request(to_item("seat", keys::seat(&s.profile_id, &s.user_id), s)?));
        self.table.write_all(requests).await?;
        futures::stream::iter(changed.into_iter().map(|s| self.update_seat(s)))
            .buffer_unordered(8)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(seats.len())
    }

    async fn mark_removed(
        &self,
        profile_id: &str,
        user_id: &str,
        at: DateTime<Utc>,
        run_id: &str,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = keys::seat(profile_id, user_id);
        let r = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
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
        conditional("UpdateItem", r)
    }

    async fn mark_reclaimed(
        &self,
        profile_id: &str,
        user_id: &str,
        request_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.note(profile_id, user_id).await?;
        let (pk, sk) = keys::seat(profile_id, user_id);
        let r = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
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
        // no stored seat (never synced): the request record is the audit trail
        conditional("UpdateItem", r)?;
        self.note(profile_id, user_id).await
    }

    async fn get(&self, profile_id: &str, user_id: &str) -> Result<Option<Seat>, StoreError> {
        self.table
            .get("seat", keys::seat(profile_id, user_id))
            .await
    }

    async fn list(&self, profile_id: &str) -> Result<Vec<Seat>, StoreError> {
        self.table
            .query_all("seat", keys::seats_pk(profile_id), None, None)
            .await
    }

    /// One Query page (≤1 MB read). The cursor is the last user id; its key is rebuilt here, so
    /// the services never hold a DynamoDB key. With `skip_active`, a filter leaves out present
    /// seats active by the bound: DynamoDB reads them (same capacity) but does not send them, so
    /// they cost no decoding here (`ScannedCount - Count` counts them).
    async fn page(
        &self,
        profile_id: &str,
        start: Option<SeatCursor>,
        skip_active: Option<ActiveAfter>,
    ) -> Result<SeatPage, StoreError> {
        let start = start.map(|SeatCursor(user_id)| {
            let (pk, sk) = keys::seat(profile_id, &user_id);
            HashMap::from([
                ("pk".to_owned(), AttributeValue::S(pk)),
                ("sk".to_owned(), AttributeValue::S(sk)),
            ])
        });
        let mut names: HashMap<String, String> = RuleSeat::NAMES
            .iter()
            .map(|(p, n)| ((*p).to_owned(), (*n).to_owned()))
            .collect();
        let mut values = HashMap::from([(
            ":pk".to_owned(),
            AttributeValue::S(keys::seats_pk(profile_id)),
        )]);
        let filter = skip_active.map(|bound| {
            let (expr, used) = active_filter(&bound);
            for (p, n) in used {
                names.insert((*p).to_owned(), (*n).to_owned());
            }
            values.insert(
                ":after".to_owned(),
                AttributeValue::S(after_text(bound.after)),
            );
            values.insert(":s".to_owned(), AttributeValue::S("S".to_owned()));
            expr
        });
        let out = self
            .table
            .client()
            .query()
            .table_name(self.table.name())
            .key_condition_expression("pk = :pk")
            .set_filter_expression(filter.map(str::to_owned))
            .set_expression_attribute_values(Some(values))
            .set_exclusive_start_key(start)
            .projection_expression(RuleSeat::ATTRIBUTES)
            .set_expression_attribute_names(Some(names))
            .send()
            .await
            .map_err(aws("Query"))?;
        let active_left_out = u64::try_from(out.scanned_count - out.count).unwrap_or(0);
        let seats = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(rule_seat)
            .collect::<Result<Vec<_>, _>>()?;
        let next = out
            .last_evaluated_key
            .as_ref()
            .and_then(|k| k.get("sk"))
            .and_then(|v| v.as_s().ok())
            .and_then(|sk| sk.strip_prefix(keys::SEAT_PREFIX))
            .map(|user_id| SeatCursor(user_id.to_owned()));
        Ok(SeatPage {
            seats,
            active_left_out,
            next,
        })
    }

    async fn list_candidates(&self, profile_id: &str) -> Result<Vec<Candidate>, StoreError> {
        self.table
            .query_all("candidate", keys::candidates_pk(profile_id), None, None)
            .await
    }

    async fn get_candidate(
        &self,
        profile_id: &str,
        user_id: &str,
    ) -> Result<Option<Candidate>, StoreError> {
        self.table
            .get("candidate", keys::candidate(profile_id, user_id))
            .await
    }

    async fn put_candidate(&self, c: &Candidate) -> Result<(), StoreError> {
        self.table
            .put("candidate", keys::candidate(&c.profile_id, &c.user_id), c)
            .await
    }

    /// Batched writes: a first sync can list thousands.
    async fn put_candidates(&self, list: &[Candidate]) -> Result<(), StoreError> {
        let requests = list.iter().map(|c| {
            put_request(to_item(
                "candidate",
                keys::candidate(&c.profile_id, &c.user_id),
                c,
            )?)
        });
        self.table.write_all(requests).await
    }

    async fn delete_candidate(&self, profile_id: &str, user_id: &str) -> Result<(), StoreError> {
        let (pk, sk) = keys::candidate(profile_id, user_id);
        self.table
            .client()
            .delete_item()
            .table_name(self.table.name())
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .send()
            .await
            .map_err(aws("DeleteItem"))?;
        Ok(())
    }

    async fn delete_candidates(
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
        self.table.write_requests(requests).await
    }

    /// A projection, so large candidate lists stay small in memory.
    async fn candidate_digests(
        &self,
        profile_id: &str,
    ) -> Result<HashMap<String, (String, bool)>, StoreError> {
        let mut out = HashMap::new();
        let mut items = self
            .table
            .client()
            .query()
            .table_name(self.table.name())
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

    async fn put_license_summaries(&self, summaries: &[LicenseSummary]) -> Result<(), StoreError> {
        for s in summaries {
            self.table
                .put("license", keys::license(&s.profile_id, &s.license_type), s)
                .await?;
        }
        Ok(())
    }

    async fn license_summaries(&self, profile_id: &str) -> Result<Vec<LicenseSummary>, StoreError> {
        self.table
            .query_all(
                "license",
                keys::profile_pk(profile_id),
                Some(keys::LICENSE_PREFIX),
                None,
            )
            .await
    }

    async fn put_keep(&self, k: &Keep) -> Result<(), StoreError> {
        self.table
            .put("keep", keys::keep(&k.profile_id, &k.user_id), k)
            .await
    }

    async fn get_keep(&self, profile_id: &str, user_id: &str) -> Result<Option<Keep>, StoreError> {
        self.table
            .get("keep", keys::keep(profile_id, user_id))
            .await
    }

    async fn delete_keep(&self, profile_id: &str, user_id: &str) -> Result<(), StoreError> {
        let (pk, sk) = keys::keep(profile_id, user_id);
        self.table
            .client()
            .delete_item()
            .table_name(self.table.name())
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .send()
            .await
            .map_err(aws("DeleteItem"))?;
        Ok(())
    }

    async fn keeps(&self, profile_id: &str) -> Result<Vec<Keep>, StoreError> {
        self.table
            .query_all("keep", keys::keeps_pk(profile_id), None, None)
            .await
    }
}

/// Attributes only a reclaim writes: the sync never SETs them.
const RECLAIM_OWNED: [&str; 2] = ["reclaimed_at", "reclaim_request_id"];

/// The update expression of one seat write, built from the serialised seat (NULLs kept):
/// `SET` of every attribute with a value and `REMOVE` of every `None` one, except the
/// reclaim-owned attributes (and `removed_at` too when `keep_removed`). New `Seat` fields are
/// covered without touching this code.
fn seat_update(
    item: &HashMap<String, AttributeValue>,
    keep_removed: bool,
) -> (
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
) {
    let mut sets = Vec::new();
    let mut removes = Vec::new();
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut attrs: Vec<&String> = item.keys().collect();
    attrs.sort();
    for (i, a) in attrs.into_iter().enumerate() {
        if a == "pk"
            || a == "sk"
            || RECLAIM_OWNED.contains(&a.as_str())
            || (keep_removed && a == "removed_at")
        {
            continue;
        }
        names.insert(format!("#a{i}"), a.clone());
        if matches!(item[a], AttributeValue::Null(_)) {
            removes.push(format!("#a{i}"));
        } else {
            values.insert(format!(":v{i}"), item[a].clone());
            sets.push(format!("#a{i} = :v{i}"));
        }
    }
    let mut expr = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expr.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    (expr, names, values)
}

impl SeatTable {
    /// Writes one seat. Conditioned on no reclaim newer than the roster read
    /// (`reclaimed_at` absent or older than `last_seen_at` less [`RECLAIM_LISTING_LAG`]); if one
    /// is, the observed attributes are still written but `removed_at` is left as the reclaim set
    /// it. `reclaimed_at` and `reclaim_request_id` are never written by the sync.
    async fn update_seat(&self, seat: &Seat) -> Result<(), StoreError> {
        let (pk, sk) = keys::seat(&seat.profile_id, &seat.user_id);
        // NULLs kept: a `None` is a REMOVE (a seat that comes back loses its `removed_at`)
        let mut item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(seat).map_err(|e| StoreError::corrupt("seat", e))?;
        item.insert("kind".into(), AttributeValue::S("seat".into()));
        let seen = (seat.last_seen_at - RECLAIM_LISTING_LAG).to_rfc3339();
        for keep_removed in [false, true] {
            let (expr, names, mut values) = seat_update(&item, keep_removed);
            let mut req = self
                .table
                .client()
                .update_item()
                .table_name(self.table.name())
                .key("pk", AttributeValue::S(pk.clone()))
                .key("sk", AttributeValue::S(sk.clone()))
                .update_expression(expr)
                .set_expression_attribute_names(Some(names));
            if !keep_removed {
                values.insert(":seen".into(), AttributeValue::S(seen.clone()));
                req = req.condition_expression(
                    "attribute_not_exists(reclaimed_at) OR reclaimed_at < :seen",
                );
            }
            match req
                .set_expression_attribute_values(Some(values))
                .send()
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if !keep_removed && condition_failed(&e) => {
                    tracing::info!(
                        profile = %seat.profile_id,
                        user_id = %seat.user_id,
                        "seat reclaimed while the roster was read; its removal is kept"
                    );
                }
                Err(e) => return Err(aws("UpdateItem")(e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::domain::Provider;

    fn evidence(rng: &mut impl Rng, at: DateTime<Utc>) -> Option<LoginEvidence> {
        rng.random_bool(0.7).then(|| LoginEvidence {
            at: at - Duration::seconds(rng.random_range(0..10_000_000)),
            event_id: format!("ev-{}", rng.random::<u32>()),
            event_type: ["LOGIN", "UPLOAD", "session"][rng.random_range(0..3)].into(),
        })
    }

    fn seat(rng: &mut impl Rng, i: u32) -> Seat {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 7, 0, 0).unwrap();
        let maybe = |rng: &mut _, p| {
            Rng::random_bool(rng, p)
                .then(|| now - Duration::milliseconds(Rng::random_range(rng, 0..10_000_000_000)))
        };
        Seat {
            profile_id: "acme".into(),
            provider: Provider::Box,
            user_id: format!("{}", 10_000_000 + i),
            login: format!("user{i}@example.com"),
            name: format!("Üser «{i}»"),
            status: ["active", "inactive", "cannot_delete_edit"][rng.random_range(0..3)].into(),
            role: "user".into(),
            is_admin: rng.random_bool(0.1),
            license_type: ["business", "enterprise"][rng.random_range(0..2)].into(),
            license_managed: true,
            created_at: maybe(&mut *rng, 0.8),
            last_login: evidence(rng, now),
            first_seen_at: now - Duration::days(rng.random_range(0..900)),
            last_seen_at: now,
            removed_at: maybe(&mut *rng, 0.2),
            reclaimed_at: None,
            reclaim_request_id: None,
            run_id: "run-1".into(),
            fingerprint: "v2:00".into(),
            last_activity: evidence(rng, now),
        }
    }

    /// The item a Query with the rules' projection returns for this seat.
    fn projected(seat: &Seat) -> Item {
        let wanted: Vec<&str> = RuleSeat::ATTRIBUTES
            .split(", ")
            .map(|a| {
                RuleSeat::NAMES
                    .iter()
                    .find(|(p, _)| *p == a)
                    .map_or(a, |(_, n)| *n)
            })
            .collect();
        let mut item = to_item("seat", keys::seat(&seat.profile_id, &seat.user_id), seat).unwrap();
        item.retain(|k, _| wanted.contains(&k.as_str()));
        item
    }

    #[test]
    fn rule_seats_read_off_the_item_equal_serde_dynamos() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for i in 0..2_000 {
            let seat = seat(&mut rng, i);
            let item = projected(&seat);
            let serde: RuleSeat = from_item("seat", item.clone()).unwrap();
            assert_eq!(rule_seat(item).unwrap(), serde);
            assert_eq!(serde, RuleSeat::from(&seat));
        }
    }

    #[test]
    fn a_stored_null_reads_as_absent_like_serde_dynamo() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(12);
        let mut item = projected(&seat(&mut rng, 1));
        for attr in ["created_at", "removed_at", "last_login", "last_activity"] {
            item.insert(attr.into(), AttributeValue::Null(true));
        }
        let serde: RuleSeat = from_item("seat", item.clone()).unwrap();
        let read = rule_seat(item).unwrap();
        assert_eq!(read, serde);
        assert!(read.created_at.is_none() && read.last_login.is_none());
    }

    #[test]
    fn a_corrupt_item_is_an_error_naming_what_is_wrong_never_a_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(13);
        let good = projected(&Seat {
            last_login: Some(LoginEvidence {
                at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
                event_id: "ev-1".into(),
                event_type: "LOGIN".into(),
            }),
            ..seat(&mut rng, 2)
        });
        // what the message must say, and how the item is broken
        type Case = (&'static str, fn(&mut Item));
        let cases: Vec<Case> = vec![
            (
                "without user_id",
                (|i: &mut Item| drop(i.remove("user_id"))),
            ),
            (
                "is_admin is not a boolean",
                (|i: &mut Item| drop(i.insert("is_admin".into(), AttributeValue::S("yes".into())))),
            ),
            (
                "first_seen_at",
                (|i: &mut Item| {
                    drop(i.insert(
                        "first_seen_at".into(),
                        AttributeValue::S("yesterday".into()),
                    ))
                }),
            ),
            (
                "last_login is not a map",
                (|i: &mut Item| drop(i.insert("last_login".into(), AttributeValue::S("x".into())))),
            ),
            (
                "last_login without an event id",
                (|i: &mut Item| {
                    if let Some(AttributeValue::M(m)) = i.get_mut("last_login") {
                        m.remove("event_id");
                    }
                }),
            ),
            (
                "removed_at is not a string",
                (|i: &mut Item| drop(i.insert("removed_at".into(), AttributeValue::N("1".into())))),
            ),
        ];
        for (want, break_it) in cases {
            let mut item = good.clone();
            break_it(&mut item);
            assert!(
                from_item::<RuleSeat>("seat", item.clone()).is_err(),
                "{want}: serde_dynamo accepts it"
            );
            let e = rule_seat(item).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
        assert!(rule_seat(good).is_ok());
    }
}
