//! Dropbox Business (Team API v2): OAuth authorization code with PKCE and offline refresh tokens,
//! RPC calls to versioned routes, the error envelope, and team_log paging. Shapes follow the
//! Stone spec (`team.stone`, `team_log.stone`, `auth.stone`, `async.stone`).
mod client;
mod model;

pub use client::{CodeGrant, DropboxClient, EventsWindow, Slot};
pub use model::{
    AsyncJob, AuthenticatedAdmin, DropboxCredentials, LoginEvent, Tagged, TeamInfo,
    TeamMemberInfoV2, TeamMemberProfile,
};
