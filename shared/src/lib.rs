//! seatkeeper: find and reclaim unused SaaS seats, inside the customer's own AWS account.
//!
//! Layers (handler → domain → ports → adapters):
//! - [`domain`]: pure model and decisions (seats, profiles, licenses, activity, task runs); no I/O.
//! - [`http`]: the one place for provider HTTP concerns: retry/backoff, Retry-After, paging, token caching, call counts.
//! - [`providers`]: the only code that knows a provider's wire format (Box today).
//! - [`store`]: DynamoDB (the single table; key design in `docs/dynamodb.md`).
//! - [`secrets`]: Secrets Manager (provider credentials; never logged).
//! - [`reclaim`]: candidates after each finished sync, and the execution of reclaim requests.
//! - [`queue`]: the reclaim queue (SQS).
//! - [`sync`]: orchestration of a provider sync for a profile, recording task runs.
//! - [`functions`]: the Lambda handlers, so each `functions/*/src/main.rs` only wires config and clients.
#![forbid(unsafe_code)]

pub mod config;
pub mod connect;
pub mod domain;
pub mod functions;
pub mod http;
pub mod providers;
pub mod queue;
pub mod reclaim;
pub mod runtime;
pub mod secrets;
pub mod store;
pub mod sync;

pub use config::Config;
