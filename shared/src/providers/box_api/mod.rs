//! Box: Client Credentials Grant, `GET /users` (marker paging), `GET /events` (admin_logs),
//! Box's error envelope, and the provider ports over them ([`BoxDirectory`],
//! [`BoxDeprovisioner`]). Shapes follow Box's OpenAPI spec (`components.schemas.*` named below).
mod adapter;
mod client;
mod model;

pub use crate::secrets::BoxCredentials;
pub use adapter::{BoxDeprovisioner, BoxDirectory, DEDUP_WINDOW, EVENTS_STREAM};
pub use client::{BoxClient, EventsWindow, LOGIN_EVENT_TYPES, USER_FIELDS};
pub use model::{BoxEvent, BoxUser, ClientError, TransferredFolder};
