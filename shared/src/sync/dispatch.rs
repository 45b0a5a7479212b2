//! The dispatcher: turns a provider's schedule into one sync job per enabled profile on the sync
//! queue, so every profile runs in its own invocation, in parallel, and one slow or failing
//! profile delays nobody.
use serde::Serialize;

use super::run::{enabled_profiles, load_profile, SyncError};
use crate::domain::{Provider, SyncJob};
use crate::ports::{ProfileRepo, SyncJobQueue};

/// What one dispatch did (the dispatcher's Lambda response).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DispatchReport {
    pub provider: String,
    /// Profiles whose job is on the queue.
    pub enqueued: Vec<String>,
    /// Profiles whose job could not be posted, with why.
    pub failed: Vec<(String, String)>,
}

/// Posts sync jobs for one provider's profiles.
pub struct Dispatcher<P, Q> {
    pub profiles: P,
    pub queue: Q,
}

impl<P: ProfileRepo, Q: SyncJobQueue> Dispatcher<P, Q> {
    /// One job per enabled profile of `provider`, or only for `only` (which must be an enabled
    /// profile of that provider). A failed post is reported and the others still go out.
    pub async fn dispatch(
        &self,
        provider: Provider,
        only: Option<&str>,
    ) -> Result<DispatchReport, SyncError> {
        let ids = match only {
            Some(id) => vec![load_profile(&self.profiles, id, provider).await?.id],
            None => enabled_profiles(&self.profiles, provider).await?,
        };
        let mut report = DispatchReport {
            provider: provider.as_str().to_owned(),
            ..DispatchReport::default()
        };
        for id in ids {
            match self.queue.send_job(provider, &SyncJob::fresh(&id)).await {
                Ok(_) => report.enqueued.push(id),
                Err(e) => {
                    tracing::error!(provider = provider.as_str(), profile = %id, error = %e, "could not post the sync job");
                    report.failed.push((id, e.to_string()));
                }
            }
        }
        tracing::info!(
            provider = provider.as_str(),
            enqueued = report.enqueued.len(),
            failed = report.failed.len(),
            "sync jobs dispatched"
        );
        Ok(report)
    }
}
