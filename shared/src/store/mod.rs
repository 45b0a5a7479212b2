//! DynamoDB: one table, keys in [`keys`], design written down in `docs/dynamodb.md`.
mod dynamo;
pub mod keys;
mod reclaim;

pub use dynamo::{Checkpoint, Store, StoreError};
pub use reclaim::{Candidate, InvalidMessage};
