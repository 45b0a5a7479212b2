//! Box: Client Credentials Grant, `GET /users` (marker paging), `GET /events` (admin_logs), and
//! Box's error envelope. Shapes follow Box's OpenAPI spec (`components.schemas.*` named below).
mod client;
mod model;

pub use client::{BoxClient, EventsWindow, LOGIN_EVENT_TYPES, USER_FIELDS};
pub use model::{BoxCredentials, BoxEvent, BoxUser, ClientError, TransferredFolder};
