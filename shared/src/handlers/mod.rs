//! Lambda handlers. Each function's `main.rs` builds config and clients once and calls these.
pub mod keep;
pub mod oauth_callback;
pub mod reclaim;
pub mod sync;
pub mod sync_dispatcher;
