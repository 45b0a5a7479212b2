//! In-memory adapters of every port, for fast deterministic unit tests of the services (no
//! moto, no sandbox). Built for the library's own tests and, with the `test-support` feature,
//! for other crates' tests. Not for production: nothing here is durable.
pub mod mail;
pub mod provider;
pub mod repos;

pub use mail::{MemoryMailEvents, MemoryMailer};
pub use provider::{MemoryProvider, MemoryQueue, MemorySyncQueue};
pub use repos::MemoryRepos;
