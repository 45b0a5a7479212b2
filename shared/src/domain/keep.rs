//! TEMPORARY stand-in for the foundation commit's `domain::keep` (replaced at the merge).
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepSource {
    KeepPage,
    Restore,
    Operator,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keep {
    pub profile_id: String,
    pub user_id: String,
    pub login: String,
    pub kept_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    #[serde(default)]
    pub reason: Option<String>,
    pub by: String,
    pub source: KeepSource,
    #[serde(default)]
    pub candidacy: Option<String>,
}

impl Keep {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        profile_id: &str,
        user_id: &str,
        login: &str,
        kept_at: DateTime<Utc>,
        days: u32,
        reason: Option<String>,
        by: &str,
        source: KeepSource,
        candidacy: Option<String>,
    ) -> Self {
        Self {
            profile_id: profile_id.into(),
            user_id: user_id.into(),
            login: login.into(),
            kept_at,
            until: kept_at + Duration::days(i64::from(days)),
            reason,
            by: by.into(),
            source,
            candidacy,
        }
    }
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        now < self.until
    }
}
