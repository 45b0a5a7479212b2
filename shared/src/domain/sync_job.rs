//! A sync job: the message on the sync queue that asks box-sync or dropbox-sync to run one
//! profile's sync (`docs/sync-message.md`). The dispatcher posts one per enabled profile.
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::ProfileId;

/// The version of the message format this build reads and writes.
pub const SYNC_JOB_VERSION: u32 = 1;

/// One profile's sync job. `run_id` and `continuation` name a run to resume; a job from the
/// dispatcher has neither (a fresh run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncJob {
    pub version: u32,
    pub profile: String,
    #[serde(default)]
    pub run_id: Option<String>,
    /// Where a run that reached its invocation's deadline stopped (opaque to the producer).
    #[serde(default)]
    pub continuation: Option<serde_json::Value>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SyncJobError {
    #[error("the message is not a valid sync job: {0}")]
    Json(String),
    #[error("unsupported sync job version {0} (this deployment reads version 1)")]
    Version(u64),
    #[error("profile is not valid: {0}")]
    Profile(String),
}

impl SyncJob {
    /// A fresh run of `profile`.
    pub fn fresh(profile: &str) -> Self {
        Self {
            version: SYNC_JOB_VERSION,
            profile: profile.to_owned(),
            run_id: None,
            continuation: None,
        }
    }

    /// Parses and validates a message body.
    pub fn parse(body: &str) -> Result<Self, SyncJobError> {
        let v: serde_json::Value =
            serde_json::from_str(body).map_err(|e| SyncJobError::Json(e.to_string()))?;
        // the version first: a newer producer gets "unsupported version", not a field error
        match v.get("version").and_then(serde_json::Value::as_u64) {
            Some(n) if n != u64::from(SYNC_JOB_VERSION) => return Err(SyncJobError::Version(n)),
            _ => {}
        }
        let job: Self = serde_json::from_value(v).map_err(|e| SyncJobError::Json(e.to_string()))?;
        ProfileId::parse(&job.profile).map_err(|e| SyncJobError::Profile(e.to_string()))?;
        Ok(job)
    }

    pub fn to_body(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_bad_messages() {
        let job = SyncJob::fresh("acme");
        let body = job.to_body().unwrap();
        assert_eq!(
            body,
            r#"{"version":1,"profile":"acme","run_id":null,"continuation":null}"#
        );
        assert_eq!(SyncJob::parse(&body).unwrap(), job);
        // the optional fields may be left out
        assert_eq!(
            SyncJob::parse(r#"{"version":1,"profile":"acme"}"#).unwrap(),
            job
        );
        assert_eq!(
            SyncJob::parse(r#"{"version":2,"profile":"acme"}"#),
            Err(SyncJobError::Version(2))
        );
        for bad in [
            "nope",
            r#"{"profile":"acme"}"#,
            r#"{"version":1}"#,
            r#"{"version":1,"profile":"acme","profle":"x"}"#,
        ] {
            assert!(
                matches!(SyncJob::parse(bad), Err(SyncJobError::Json(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            SyncJob::parse(r#"{"version":1,"profile":"Bad Id"}"#),
            Err(SyncJobError::Profile(_))
        ));
    }
}
