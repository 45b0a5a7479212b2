//! Ports: the narrow interfaces the services (sync, candidates, reclaim) work over. Ports name
//! only the domain and `http`'s error and call accounting: adapters and services depend on them,
//! never the other way round (`shared/tests/module_graph.rs`).
//!
//! - [`repos`]: one repository per aggregate (profiles, seats with their candidates and license
//!   summaries, reclaim requests, sync runs, pending connects), bundled by [`Repos`]. The DynamoDB
//!   adapters live in the `store` module; in-memory ones in `memory` (feature `test-support`).
//! - [`provider`]: what a sync and a re-check read from a provider ([`Directory`]) and what a
//!   reclaim does there ([`Deprovisioner`]), handed out per profile by [`ProviderAccess`]. The HTTP
//!   adapters live with their provider in `providers`.
//! - [`queue`]: where reclaim requests ([`RequestQueue`]) and sync jobs ([`SyncJobQueue`]) are
//!   posted; SQS in the `queue` module.
//! - [`mail`]: where notices and digests are mailed ([`Mailer`]); SES v2 in the `mail` module.
//!
//! The traits use `async fn` (static dispatch): the services are generic over them, so nothing
//! is boxed on the hot paths and an adapter is chosen once, at start-up.
pub mod mail;
pub mod provider;
pub mod queue;
pub mod repos;

pub use mail::{MailError, MailEvents, MailEventsError, Mailer, ReceivedMailEvent};
pub use provider::{
    AccessChange, AccessError, AccessOutcome, Deprovisioner, Directory, DirectoryUser, JobState,
    ProviderAccess, PurchasedSeats, Refusal, Removal, RosterPage, TargetCheck, Transferred, Window,
};
pub use queue::{NoSyncQueue, QueueError, RequestQueue, SyncJobQueue};
pub use repos::{
    ConnectRepo, KeepOutcome, NoticeRepo, ProfileRepo, ReclaimRepo, Repos, RunRepo, SeatCursor,
    SeatPage, SeatRepo, StoreError, UserLock,
};
