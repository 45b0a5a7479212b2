//! Dropbox Business (Team API v2): OAuth authorization code with PKCE and offline refresh tokens,
//! RPC calls to versioned routes, the error envelope, and team_log paging. Shapes follow the
//! Stone spec (`team.stone`, `team_log.stone`, `auth.stone`, `async.stone`). The provider ports
//! over them: [`DropboxDirectory`] (sync slot) and [`DropboxDeprovisioner`] (reclaim slot).
mod adapter;
mod client;
mod model;

pub use crate::domain::connect::Slot;
pub use crate::secrets::DropboxCredentials;
pub use adapter::{
    DropboxDeprovisioner, DropboxDirectory, DEDUP_WINDOW, EVENTS_STREAM, FULL_LICENSE,
};
pub use client::{CodeGrant, DropboxClient, EventsWindow, LOGIN_EVENT_TYPE};
pub use model::{
    AsyncJob, AuthenticatedAdmin, LoginEvent, Tagged, TeamInfo, TeamMemberInfoV2, TeamMemberProfile,
};
