//! DynamoDB: one table, keys in [`keys`], design written down in `docs/dynamodb.md`.
mod dynamo;
pub mod keys;

pub use dynamo::{Checkpoint, Store, StoreError};
