//! The one DynamoDB table every adapter shares, and the item plumbing they have in common:
//! (de)serialising items, paged queries, batched writes and the mapping of SDK errors.
use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes,
    PutRequest, ScalarAttributeType, TimeToLiveSpecification, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use futures::{StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::ports::StoreError;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// BatchWriteItem takes at most 25 items; a few batches in flight keep a large first sync short.
const BATCH: usize = 25;
const BATCHES_IN_FLIGHT: usize = 4;
const UNPROCESSED_RETRIES: u32 = 8;
/// BatchGetItem takes at most 100 keys.
const GET_BATCH: usize = 100;

/// DynamoDB refused a conditional write because its condition did not hold.
pub(crate) fn condition_failed<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

/// The outcome of a conditional write: `true` if it was made, `false` if its condition did not
/// hold; any other error is [`StoreError::Aws`] for `op`.
pub(crate) fn conditional<T, E, R>(
    op: &'static str,
    r: Result<T, SdkError<E, R>>,
) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata,
    SdkError<E, R>: std::error::Error + Send + Sync + 'static,
{
    match r {
        Ok(_) => Ok(true),
        Err(e) if condition_failed(&e) => Ok(false),
        Err(e) => Err(aws(op)(e)),
    }
}

/// Maps an SDK error to [`StoreError::Aws`], keeping it as the source and its whole chain as the
/// message (the SDK's own Display is only the outer layer, e.g. "service error").
pub(crate) fn aws<E>(op: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| StoreError::Aws {
        op,
        message: DisplayErrorContext(&e).to_string(),
        source: Box::new(e),
    }
}

/// The table: client and name. Cheap to clone (the client is shared).
#[derive(Debug, Clone)]
pub struct Table {
    client: Client,
    name: String,
}

impl Table {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the table as the SAM template does (local stack and tests; in AWS the stack owns
    /// it). False if it exists already.
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
            .table_name(&self.name)
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
            Err(e) => return Err(aws("CreateTable")(e)),
        }
        self.client
            .update_time_to_live()
            .table_name(&self.name)
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

    /// One item by key (strongly consistent).
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        what: &'static str,
        (pk, sk): (String, String),
    ) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(aws("GetItem"))?;
        out.item.map(|i| from_item(what, i)).transpose()
    }

    /// An unconditional put.
    pub(crate) async fn put<T: Serialize>(
        &self,
        what: &'static str,
        key: (String, String),
        value: &T,
    ) -> Result<(), StoreError> {
        self.put_item(to_item(what, key, value)?).await
    }

    /// An unconditional put of a ready item (one with extra attributes such as `ttl`).
    pub(crate) async fn put_item(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .send()
            .await
            .map_err(aws("PutItem"))?;
        Ok(())
    }

    /// Creates the item only if its key is free (`attribute_not_exists(pk)`): false if taken.
    pub(crate) async fn put_new(&self, item: Item) -> Result<bool, StoreError> {
        let out = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        conditional("PutItem", out)
    }

    /// Deletes the item only while its `attr` is `value` (a lease's owner, a lock's holder, a
    /// saved run's id): false, nothing deleted, if it is absent or someone else's.
    pub(crate) async fn delete_if(
        &self,
        (pk, sk): (String, String),
        attr: &str,
        value: &str,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .condition_expression("#a = :v")
            .expression_attribute_names("#a", attr)
            .expression_attribute_values(":v", AttributeValue::S(value.to_owned()))
            .send()
            .await;
        conditional("DeleteItem", out)
    }

    /// A strongly consistent Query of the items of `pk` whose sort key starts with `prefix`
    /// (page it with `into_paginator`).
    pub(crate) fn query_prefix(&self, pk: String, prefix: String) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.name)
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":p", AttributeValue::S(prefix))
            .consistent_read(true)
    }

    /// Every item of a partition (optionally of one sort-key prefix); with a limit, the newest
    /// `limit` items (descending sort key).
    pub(crate) async fn query_all<T: DeserializeOwned>(
        &self,
        what: &'static str,
        pk: String,
        sk_prefix: Option<&str>,
        newest_first_limit: Option<usize>,
    ) -> Result<Vec<T>, StoreError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.name)
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

    /// BatchWriteItem in batches of 25, a few in flight, unprocessed items retried.
    pub(crate) async fn write_requests(
        &self,
        requests: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        self.write_all(requests.into_iter().map(Ok)).await
    }

    /// As [`Self::write_requests`], taking each batch's requests from `requests` only when a
    /// batch can be sent: a roster page's items are never all built at once (each is a map of
    /// attributes, a few KB), so memory stays at the batches in flight. A request that cannot be
    /// built fails the call and nothing after it is sent; batches sent before it stay written.
    pub(crate) async fn write_all<I>(&self, requests: I) -> Result<(), StoreError>
    where
        I: IntoIterator<Item = Result<WriteRequest, StoreError>>,
    {
        futures::stream::iter(in_batches(requests, BATCH))
            .map(|batch| async move { self.batch_write(batch?).await })
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn batch_write(&self, pending: Vec<WriteRequest>) -> Result<(), StoreError> {
        until_processed(pending, |pending| async move {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.name, pending)
                .send()
                .await
                .map_err(aws("BatchWriteItem"))?;
            let rest = out
                .unprocessed_items
                .and_then(|mut m| m.remove(&self.name))
                .unwrap_or_default();
            Ok((Vec::<()>::new(), rest))
        })
        .await?;
        Ok(())
    }
}

/// `items` in batches of `size`, each taken only when asked for; after an item that is an
/// error, that error and nothing more.
fn in_batches<T, E>(
    items: impl IntoIterator<Item = Result<T, E>>,
    size: usize,
) -> impl Iterator<Item = Result<Vec<T>, E>> {
    let mut items = items.into_iter();
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        match items.by_ref().take(size).collect::<Result<Vec<_>, _>>() {
            Ok(batch) if batch.is_empty() => None,
            Err(e) => {
                failed = true;
                Some(Err(e))
            }
            batch => Some(batch),
        }
    })
}

/// Sends `pending` through `send` (one batch call: what it returned and what is left
/// unprocessed) until nothing is left, backing off with jitter between rounds; gives up with
/// [`StoreError::Unprocessed`] after [`UNPROCESSED_RETRIES`] rounds.
async fn until_processed<T, O, F, Fut>(
    mut pending: Vec<T>,
    mut send: F,
) -> Result<Vec<O>, StoreError>
where
    F: FnMut(Vec<T>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<O>, Vec<T>), StoreError>>,
{
    let mut out = Vec::new();
    let mut attempt = 0;
    while !pending.is_empty() {
        let (done, rest) = send(pending).await?;
        out.extend(done);
        pending = rest;
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
    Ok(out)
}

impl Table {
    /// The items at `keys` (those that exist; strongly consistent reads), with only the attributes `projection` names
    /// (`names`: its `#placeholders`): BatchGetItem in batches of 100, a few in flight,
    /// unprocessed keys retried; the order is not the keys' order.
    pub(crate) async fn batch_get(
        &self,
        keys: Vec<(String, String)>,
        projection: &str,
        names: &[(&str, &str)],
    ) -> Result<Vec<Item>, StoreError> {
        let keys: Vec<Item> = keys
            .into_iter()
            .map(|(pk, sk)| {
                HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(pk)),
                    ("sk".to_owned(), AttributeValue::S(sk)),
                ])
            })
            .collect();
        let chunks: Vec<Vec<Item>> = keys.chunks(GET_BATCH).map(<[_]>::to_vec).collect();
        let found = futures::stream::iter(chunks)
            .map(|c| self.batch_get_chunk(c, projection, names))
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .try_collect::<Vec<Vec<Item>>>()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn batch_get_chunk(
        &self,
        pending: Vec<Item>,
        projection: &str,
        names: &[(&str, &str)],
    ) -> Result<Vec<Item>, StoreError> {
        until_processed(pending, |pending| async move {
            // strongly consistent: a seat written moments ago (an earlier invocation of the run)
            // must be found
            let mut ka = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(true)
                .projection_expression(projection);
            for (placeholder, name) in names {
                ka = ka.expression_attribute_names(*placeholder, *name);
            }
            let ka = ka.build().map_err(aws("KeysAndAttributes"))?;
            let got = self
                .client
                .batch_get_item()
                .request_items(&self.name, ka)
                .send()
                .await
                .map_err(aws("BatchGetItem"))?;
            let found = got
                .responses
                .and_then(|mut r| r.remove(&self.name))
                .unwrap_or_default();
            let rest = got
                .unprocessed_keys
                .and_then(|mut m| m.remove(&self.name))
                .map(|ka| ka.keys)
                .unwrap_or_default();
            Ok((found, rest))
        })
        .await
    }
}

/// One put of a BatchWriteItem.
pub(crate) fn put_request(item: Item) -> Result<WriteRequest, StoreError> {
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(aws("PutRequest"))?;
    Ok(WriteRequest::builder().put_request(put).build())
}

/// The item for `value` under `key`, with its `kind`.
pub(crate) fn to_item<T: Serialize>(
    what: &'static str,
    (pk, sk): (String, String),
    value: &T,
) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(|e| StoreError::corrupt(what, e))?;
    // Absent beats NULL: smaller items, and attribute_not_exists() means what it says.
    item.retain(|_, v| !matches!(v, AttributeValue::Null(_)));
    item.insert("pk".into(), AttributeValue::S(pk));
    item.insert("sk".into(), AttributeValue::S(sk));
    item.insert("kind".into(), AttributeValue::S(what.into()));
    Ok(item)
}

pub(crate) fn from_item<T: DeserializeOwned>(
    what: &'static str,
    mut item: Item,
) -> Result<T, StoreError> {
    for k in ["pk", "sk", "kind"] {
        item.remove(k);
    }
    serde_dynamo::from_item(item).map_err(|e| StoreError::corrupt(what, e))
}

#[cfg(test)]
mod tests {
    use super::in_batches;

    #[test]
    fn batches_are_taken_one_at_a_time_and_stop_at_the_first_error() {
        let ok = |n: usize| (0..n).map(Ok::<usize, &str>);
        fn sizes(b: Vec<Result<Vec<usize>, &'static str>>) -> Vec<Result<usize, &'static str>> {
            b.into_iter()
                .map(|r| r.map(|v| v.len()))
                .collect::<Vec<_>>()
        }
        assert_eq!(sizes(in_batches(ok(0), 25).collect()), vec![]);
        assert_eq!(
            sizes(in_batches(ok(51), 25).collect()),
            vec![Ok(25), Ok(25), Ok(1)]
        );
        let with_error = ok(30).chain([Err("bad")]).chain(ok(60));
        assert_eq!(
            sizes(in_batches(with_error, 25).collect()),
            vec![Ok(25), Err("bad")]
        );
        // lazy: a batch is built only when asked for
        let built = std::cell::Cell::new(0);
        let counted = (0..100).map(|i| {
            built.set(built.get() + 1);
            Ok::<usize, &str>(i)
        });
        let mut batches = in_batches(counted, 25);
        assert_eq!(batches.next().map(|b| b.map(|v| v.len())), Some(Ok(25)));
        drop(batches);
        assert_eq!(built.get(), 25);
    }
}
