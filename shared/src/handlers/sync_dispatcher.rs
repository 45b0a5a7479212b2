//! The sync-dispatcher function: a provider's schedule (`{"provider":"box"}`, optionally with
//! `"profile"`) becomes one sync job per enabled profile on the sync queue.
use lambda_runtime::Diagnostic;
use serde::Deserialize;
use thiserror::Error;

use crate::domain::Provider;
use crate::ports::{ProfileRepo, SyncJobQueue};
use crate::sync::{DispatchReport, Dispatcher, SyncError};

/// The schedule's `Input`. Unknown fields are refused, like the sync functions' input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchInput {
    pub provider: Provider,
    #[serde(default)]
    pub profile: Option<String>,
}

#[derive(Debug, Error)]
pub enum DispatchError {
    #[error("bad input: {0} (expected {{\"provider\":\"box\"|\"dropbox\"}}, optionally with \"profile\")")]
    BadInput(String),
    /// Some jobs could not be posted: the invocation fails so Lambda retries it (and then records
    /// it in the sync DLQ). A job posted twice is harmless: the second run finds the lease held,
    /// or re-syncs a profile that just finished.
    #[error("{} sync job(s) could not be posted: {}", .0.failed.len(), .0.failed.iter().map(|(p, e)| format!("{p}: {e}")).collect::<Vec<_>>().join("; "))]
    NotPosted(DispatchReport),
    #[error(transparent)]
    Sync(#[from] SyncError),
}

impl From<DispatchError> for Diagnostic {
    fn from(e: DispatchError) -> Self {
        let error_type = match &e {
            DispatchError::BadInput(_) => "BadInput",
            DispatchError::NotPosted(_) => "NotPosted",
            DispatchError::Sync(_) => "SyncError",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

pub fn parse_input(payload: serde_json::Value) -> Result<DispatchInput, DispatchError> {
    let input: DispatchInput =
        serde_json::from_value(payload).map_err(|e| DispatchError::BadInput(e.to_string()))?;
    if let Some(p) = &input.profile {
        crate::domain::ids::ProfileId::parse(p)
            .map_err(|e| DispatchError::BadInput(e.to_string()))?;
    }
    Ok(input)
}

pub async fn handle<P: ProfileRepo, Q: SyncJobQueue>(
    dispatcher: &Dispatcher<P, Q>,
    payload: serde_json::Value,
) -> Result<DispatchReport, DispatchError> {
    let input = parse_input(payload)?;
    let report = dispatcher
        .dispatch(input.provider, input.profile.as_deref())
        .await?;
    if report.failed.is_empty() {
        Ok(report)
    } else {
        Err(DispatchError::NotPosted(report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Profile;
    use crate::memory::{MemoryRepos, MemorySyncQueue};
    use crate::ports::Repos;
    use serde_json::json;

    async fn setup() -> Dispatcher<crate::memory::repos::MemoryProfiles, MemorySyncQueue> {
        let repos = MemoryRepos::default();
        for (id, provider, enabled) in [
            ("a", Provider::Box, true),
            ("b", Provider::Box, true),
            ("off", Provider::Box, false),
            ("dbx", Provider::Dropbox, true),
        ] {
            let now = chrono::Utc::now();
            let mut p = match provider {
                Provider::Box => {
                    Profile::new_box(id, id, "1", crate::domain::BoxPlan::Business, now).unwrap()
                }
                Provider::Dropbox => Profile::new_dropbox(id, id, now).unwrap(),
            };
            p.enabled = enabled;
            repos.profiles().create(&p).await.unwrap();
        }
        Dispatcher {
            profiles: repos.profiles().clone(),
            queue: MemorySyncQueue::default(),
        }
    }

    #[tokio::test]
    async fn one_job_per_enabled_profile_of_the_provider() {
        let d = setup().await;
        let r = handle(&d, json!({"provider":"box"})).await.unwrap();
        let mut sent: Vec<_> = d
            .queue
            .sent()
            .into_iter()
            .map(|(p, j)| (p, j.profile))
            .collect();
        sent.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(
            sent,
            [
                (Provider::Box, "a".to_owned()),
                (Provider::Box, "b".to_owned())
            ]
        );
        assert_eq!(r.enqueued.len(), 2);
        assert!(d
            .queue
            .sent()
            .iter()
            .all(|(_, j)| j.run_id.is_none() && j.continuation.is_none()));

        handle(&d, json!({"provider":"dropbox","profile":"dbx"}))
            .await
            .unwrap();
        let last = d.queue.sent().pop().unwrap();
        assert_eq!(
            (last.0, last.1.profile.as_str()),
            (Provider::Dropbox, "dbx")
        );
        // one profile: it must be an enabled profile of the provider
        for bad in [
            json!({"provider":"box","profile":"dbx"}),
            json!({"provider":"box","profile":"off"}),
        ] {
            assert!(matches!(handle(&d, bad).await, Err(DispatchError::Sync(_))));
        }
    }

    #[tokio::test]
    async fn a_failed_post_fails_the_invocation_after_the_others_went_out() {
        let d = setup().await;
        d.queue.fail_for("a");
        let e = handle(&d, json!({"provider":"box"})).await.unwrap_err();
        let DispatchError::NotPosted(r) = &e else {
            panic!("{e}")
        };
        assert_eq!(r.enqueued, ["b"]);
        assert_eq!(r.failed[0].0, "a");
        let d: Diagnostic = e.into();
        assert_eq!(d.error_type, "NotPosted");
    }

    #[test]
    fn input_forms() {
        for bad in [
            json!({}),
            json!({"provider":"slack"}),
            json!({"provider":"box","profle":"x"}),
            json!({"provider":"box","profile":"Bad Id"}),
            serde_json::Value::Null,
        ] {
            assert!(matches!(parse_input(bad), Err(DispatchError::BadInput(_))));
        }
    }
}
