//! seatkeeper: find and reclaim unused SaaS seats, inside the customer's own AWS account.
//!
//! Layers (handler → service → ports ← adapters; `docs/architecture.md` has the picture):
//! - [`domain`]: the pure model and decisions (profiles, seats, activity, rules, candidates,
//!   reclaim requests, task runs); no I/O.
//! - [`ports`]: the narrow traits the services work over: repositories per aggregate, the
//!   provider's [`ports::Directory`] and [`ports::Deprovisioner`], the request queue.
//! - Services: [`sync`] (one run of one profile, any provider), [`candidates`] (the rules over a
//!   finished sync, enqueueing within the cap), [`reclaim`] (the reclaim state machine),
//!   [`connect`] (a Dropbox slot's OAuth connect).
//! - Adapters: [`store`] (DynamoDB, the single table of `docs/dynamodb.md`), [`providers`] (Box
//!   and Dropbox over HTTP, the only code that knows their wire formats), [`queue`] (SQS),
//!   [`secrets`] (Secrets Manager; never logged); in-memory ones in `memory` (feature
//!   `test-support`) for fast unit tests.
//! - [`http`]: the one place for provider HTTP concerns: retry/backoff, Retry-After, paging,
//!   token caching, call counts.
//! - [`handlers`]: the Lambda handlers; [`wiring`]: start-up (config → clients → services), so
//!   each `functions/*/src/main.rs` only wires and runs.
#![forbid(unsafe_code)]

pub mod candidates;
pub mod config;
pub mod connect;
pub mod domain;
pub mod handlers;
pub mod http;
pub mod mail;
#[cfg(any(test, feature = "test-support"))]
pub mod memory;
pub mod metrics;
pub mod notify;
pub mod ports;
pub mod providers;
pub mod queue;
pub mod reclaim;
pub mod secrets;
pub mod store;
pub mod sync;
pub mod undo;
pub mod wiring;

pub use config::Config;
