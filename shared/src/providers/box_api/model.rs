use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;

use crate::http::ErrorCode;

/// `components.schemas.Users` in marker mode (`limit`, `next_marker`, `entries`).
#[derive(Debug, Deserialize)]
pub(crate) struct UsersPage {
    /// Required: a page without its list is malformed (an error), never an empty page.
    pub entries: Vec<BoxUser>,
    #[serde(default)]
    pub next_marker: Option<String>,
}

/// `User--Full`, only the fields we request with `fields=` (Box drops the rest).
#[derive(Debug, Clone, Deserialize)]
pub struct BoxUser {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub is_platform_access_only: Option<bool>,
    #[serde(default)]
    pub tracking_codes: Option<Vec<TrackingCode>>,
    #[serde(default)]
    pub enterprise: Option<EnterpriseRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TrackingCode {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EnterpriseRef {
    #[serde(default)]
    pub id: Option<String>,
}

impl BoxUser {
    pub fn tracking_pairs(&self) -> Vec<(String, String)> {
        self.tracking_codes
            .iter()
            .flatten()
            .filter_map(|t| Some((t.name.clone()?, t.value.clone()?)))
            .collect()
    }

    /// App users and service accounts (`is_platform_access_only`) hold no paid seat.
    pub fn is_seat(&self) -> bool {
        self.is_platform_access_only != Some(true)
    }

    pub fn created_utc(&self) -> Option<DateTime<Utc>> {
        self.created_at.map(|t| t.with_timezone(&Utc))
    }
}

/// `components.schemas.Events`.
#[derive(Debug, Deserialize)]
pub(crate) struct EventsPage {
    #[serde(default)]
    pub chunk_size: Option<i64>,
    /// string or int64 in the spec.
    #[serde(default)]
    pub next_stream_position: Option<serde_json::Value>,
    /// Required: a page without its list is malformed (an error), never an empty page.
    pub entries: Vec<BoxEvent>,
}

/// `components.schemas.Event` (the parts activity needs).
#[derive(Debug, Clone, Deserialize)]
pub struct BoxEvent {
    pub event_id: String,
    #[serde(default)]
    pub event_type: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub created_by: Option<UserMini>,
}

/// `User--Mini`.
#[derive(Debug, Clone, Deserialize)]
pub struct UserMini {
    pub id: String,
}

/// `components.schemas.ClientError`: Box's error envelope.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClientError {
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub request_id: Option<String>,
}

impl ClientError {
    /// The envelope's `code`, typed: the one place a Box error code is read as text.
    pub fn error_code(&self, status: u16) -> ErrorCode {
        match self.code.as_deref() {
            Some("not_found") => ErrorCode::NotFound,
            Some(other) => ErrorCode::Other(other.to_owned()),
            None => ErrorCode::NoCode(status),
        }
    }
}

/// `Folder--Full` as returned by `PUT /users/{id}/folders/0`, reduced to what the audit keeps.
#[derive(Debug, Clone, Deserialize)]
pub struct TransferredFolder {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub owned_by: Option<FolderOwner>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FolderOwner {
    pub id: String,
    #[serde(default)]
    pub login: Option<String>,
}
