//! Provider adapters. Each module is the only code that knows its provider's wire format, and
//! implements the provider ports ([`crate::ports::provider`]) over its client.
//! [`ProviderAdapters`] hands out a profile's adapters, bound to its credentials; a third
//! provider adds a module, an arm to [`AnyDirectory`] / [`AnyDeprovisioner`] and one to
//! [`ProviderAdapters`].
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::{pin_mut, Stream, StreamExt, TryStreamExt};

pub mod box_api;
pub mod dropbox_api;
mod resume;

use box_api::{BoxClient, BoxDeprovisioner, BoxDirectory};
use dropbox_api::{DropboxClient, DropboxDeprovisioner, DropboxDirectory};

use crate::domain::{
    ActivityEvent, ActivityPage, ActivityScope, LoginEvidence, ObservedSeat, Profile, Provider,
};
use crate::http::{ApiStats, ProviderError};
use crate::ports::provider::{
    AccessChange, AccessError, AccessOutcome, Deprovisioner, Directory, DirectoryUser, JobState,
    ProviderAccess, PurchasedSeats, Refusal, Removal, RosterPage, TargetCheck, Transferred, Window,
};
use crate::secrets::{BoxCredentials, DropboxCredentials, SecretError, SecretStore};

/// The production [`ProviderAccess`]: reads a profile's credentials from Secrets Manager and
/// binds them to the shared clients (built once per container; they cache access tokens).
#[derive(Debug, Clone)]
pub struct ProviderAdapters {
    pub secrets: SecretStore,
    pub box_client: Arc<BoxClient>,
    pub dropbox_client: Arc<DropboxClient>,
}

impl ProviderAccess for ProviderAdapters {
    type Directory = AnyDirectory;
    type Deprovisioner = AnyDeprovisioner;

    async fn directory(&self, profile: &Profile) -> Result<AnyDirectory, AccessError> {
        Ok(match profile.provider {
            Provider::Box => AnyDirectory::Box(BoxDirectory::new(
                self.box_client.clone(),
                self.box_credentials(profile).await?,
                profile.clone(),
            )),
            // the profile's own secret is its sync slot
            Provider::Dropbox => AnyDirectory::Dropbox(DropboxDirectory::new(
                self.dropbox_client.clone(),
                self.dropbox_slot(&profile.credentials_secret).await?,
                profile.clone(),
            )),
        })
    }

    async fn deprovisioner(&self, profile: &Profile) -> Result<AnyDeprovisioner, AccessError> {
        Ok(match profile.provider {
            Provider::Box => AnyDeprovisioner::Box(BoxDeprovisioner::new(
                self.box_client.clone(),
                self.box_credentials(profile).await?,
                profile.clone(),
            )),
            Provider::Dropbox => AnyDeprovisioner::Dropbox(
                self.dropbox_deprovisioner(
                    profile,
                    self.dropbox_slot(&profile.credentials_secret).await?,
                )
                .await?,
            ),
        })
    }

    /// Each secret read once: the directory shares the deprovisioner's credentials (Box) or its
    /// sync slot (Dropbox).
    async fn reclaim_ports(
        &self,
        profile: &Profile,
    ) -> Result<(AnyDeprovisioner, AnyDirectory), AccessError> {
        Ok(match profile.provider {
            Provider::Box => {
                let creds = self.box_credentials(profile).await?;
                (
                    AnyDeprovisioner::Box(BoxDeprovisioner::new(
                        self.box_client.clone(),
                        creds.clone(),
                        profile.clone(),
                    )),
                    AnyDirectory::Box(BoxDirectory::new(
                        self.box_client.clone(),
                        creds,
                        profile.clone(),
                    )),
                )
            }
            Provider::Dropbox => {
                let sync = self.dropbox_slot(&profile.credentials_secret).await?;
                (
                    AnyDeprovisioner::Dropbox(
                        self.dropbox_deprovisioner(profile, sync.clone()).await?,
                    ),
                    AnyDirectory::Dropbox(DropboxDirectory::new(
                        self.dropbox_client.clone(),
                        sync,
                        profile.clone(),
                    )),
                )
            }
        })
    }
}

impl ProviderAdapters {
    async fn box_credentials(&self, profile: &Profile) -> Result<BoxCredentials, AccessError> {
        self.secrets
            .box_credentials(&profile.credentials_secret)
            .await
            .map_err(access_error)
    }

    /// The reclaim slot acts; `sync` (the profile's own secret) re-reads.
    async fn dropbox_deprovisioner(
        &self,
        profile: &Profile,
        sync: DropboxCredentials,
    ) -> Result<DropboxDeprovisioner, AccessError> {
        let reclaim = Profile::dropbox_secret_name(&profile.id, "reclaim");
        DropboxDeprovisioner::new(
            self.dropbox_client.clone(),
            self.dropbox_slot(&reclaim).await?,
            sync,
            profile.clone(),
        )
    }

    async fn dropbox_slot(&self, secret: &str) -> Result<DropboxCredentials, AccessError> {
        self.secrets
            .dropbox_credentials(secret)
            .await
            .map_err(access_error)
    }
}

/// Missing or unreadable credentials need an operator; Secrets Manager trouble may pass.
fn access_error(e: SecretError) -> AccessError {
    match e {
        SecretError::NotFound { .. } | SecretError::BadShape { .. } => {
            AccessError::Credentials(e.to_string())
        }
        SecretError::Aws { .. } => AccessError::Unavailable(e.to_string()),
    }
}

/// A profile's [`Directory`], whichever provider it is.
#[derive(Debug)]
pub enum AnyDirectory {
    Box(BoxDirectory),
    Dropbox(DropboxDirectory),
}

impl Directory for AnyDirectory {
    fn activity_stream(&self, scope: ActivityScope) -> &'static str {
        match self {
            Self::Box(d) => d.activity_stream(scope),
            Self::Dropbox(d) => d.activity_stream(scope),
        }
    }

    fn dedup_window(&self) -> usize {
        match self {
            Self::Box(d) => d.dedup_window(),
            Self::Dropbox(d) => d.dedup_window(),
        }
    }

    async fn check_access(&self, stats: &ApiStats) -> Result<String, AccessError> {
        match self {
            Self::Box(d) => d.check_access(stats).await,
            Self::Dropbox(d) => d.check_access(stats).await,
        }
    }

    fn describe_activity(&self, window: Window, scope: ActivityScope) -> String {
        match self {
            Self::Box(d) => d.describe_activity(window, scope),
            Self::Dropbox(d) => d.describe_activity(window, scope),
        }
    }

    fn activity<'a>(
        &'a self,
        window: Window,
        scope: ActivityScope,
        from: Option<String>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<ActivityPage, ProviderError>> + 'a {
        match self {
            Self::Box(d) => d.activity(window, scope, from, stats).left_stream(),
            Self::Dropbox(d) => d.activity(window, scope, from, stats).right_stream(),
        }
    }

    fn roster<'a>(
        &'a self,
        from: Option<String>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<RosterPage, ProviderError>> + 'a {
        match self {
            Self::Box(d) => d.roster(from, stats).left_stream(),
            Self::Dropbox(d) => d.roster(from, stats).right_stream(),
        }
    }

    async fn purchased_seats(
        &self,
        stats: &ApiStats,
    ) -> Result<Vec<PurchasedSeats>, ProviderError> {
        match self {
            Self::Box(d) => d.purchased_seats(stats).await,
            Self::Dropbox(d) => d.purchased_seats(stats).await,
        }
    }

    async fn user(
        &self,
        user_id: &str,
        stats: &ApiStats,
    ) -> Result<Option<DirectoryUser>, ProviderError> {
        match self {
            Self::Box(d) => d.user(user_id, stats).await,
            Self::Dropbox(d) => d.user(user_id, stats).await,
        }
    }

    async fn user_activity(
        &self,
        user: &DirectoryUser,
        window: Window,
        scope: ActivityScope,
        stats: &ApiStats,
    ) -> Result<Option<LoginEvidence>, ProviderError> {
        match self {
            Self::Box(d) => d.user_activity(user, window, scope, stats).await,
            Self::Dropbox(d) => d.user_activity(user, window, scope, stats).await,
        }
    }
}

/// A profile's [`Deprovisioner`], whichever provider it is.
#[derive(Debug)]
pub enum AnyDeprovisioner {
    Box(BoxDeprovisioner),
    Dropbox(DropboxDeprovisioner),
}

impl Deprovisioner for AnyDeprovisioner {
    fn transfer_target(&self) -> Result<String, Refusal> {
        match self {
            Self::Box(d) => d.transfer_target(),
            Self::Dropbox(d) => d.transfer_target(),
        }
    }

    async fn check_target(
        &self,
        target: &str,
        stats: &ApiStats,
    ) -> Result<TargetCheck, ProviderError> {
        match self {
            Self::Box(d) => d.check_target(target, stats).await,
            Self::Dropbox(d) => d.check_target(target, stats).await,
        }
    }

    fn transfers_separately(&self) -> bool {
        match self {
            Self::Box(d) => d.transfers_separately(),
            Self::Dropbox(d) => d.transfers_separately(),
        }
    }

    fn plan(&self, user: &DirectoryUser, target: &str) -> String {
        match self {
            Self::Box(d) => d.plan(user, target),
            Self::Dropbox(d) => d.plan(user, target),
        }
    }

    fn announce_transfer(&self, user_id: &str, target: &str) -> String {
        match self {
            Self::Box(d) => d.announce_transfer(user_id, target),
            Self::Dropbox(d) => d.announce_transfer(user_id, target),
        }
    }

    fn announce_removal(&self, user_id: &str, target: &str) -> String {
        match self {
            Self::Box(d) => d.announce_removal(user_id, target),
            Self::Dropbox(d) => d.announce_removal(user_id, target),
        }
    }

    async fn transfer(
        &self,
        user_id: &str,
        target: &str,
        stats: &ApiStats,
    ) -> Result<Transferred, ProviderError> {
        match self {
            Self::Box(d) => d.transfer(user_id, target, stats).await,
            Self::Dropbox(d) => d.transfer(user_id, target, stats).await,
        }
    }

    async fn remove(
        &self,
        user_id: &str,
        target: &str,
        stats: &ApiStats,
    ) -> Result<Removal, ProviderError> {
        match self {
            Self::Box(d) => d.remove(user_id, target, stats).await,
            Self::Dropbox(d) => d.remove(user_id, target, stats).await,
        }
    }

    async fn poll(&self, job_id: &str, stats: &ApiStats) -> Result<JobState, ProviderError> {
        match self {
            Self::Box(d) => d.poll(job_id, stats).await,
            Self::Dropbox(d) => d.poll(job_id, stats).await,
        }
    }

    fn announce_access(&self, user_id: &str, change: AccessChange) -> String {
        match self {
            Self::Box(d) => d.announce_access(user_id, change),
            Self::Dropbox(d) => d.announce_access(user_id, change),
        }
    }

    async fn set_access(
        &self,
        user_id: &str,
        change: AccessChange,
        stats: &ApiStats,
    ) -> Result<AccessOutcome, ProviderError> {
        match self {
            Self::Box(d) => d.set_access(user_id, change, stats).await,
            Self::Dropbox(d) => d.set_access(user_id, change, stats).await,
        }
    }
}

/// The newest evidence of `user_id` of the kinds `scope` counts in activity pages: the freshest
/// activity the provider has for one user.
pub(crate) async fn newest_of<S>(
    pages: S,
    user_id: &str,
    scope: ActivityScope,
) -> Result<Option<LoginEvidence>, ProviderError>
where
    S: Stream<Item = Result<ActivityPage, ProviderError>>,
{
    pin_mut!(pages);
    let mut newest: Option<LoginEvidence> = None;
    while let Some(page) = pages.try_next().await? {
        let in_page = newest_in(&page.events, user_id, scope);
        newest = LoginEvidence::newest(newest.as_ref(), in_page.as_ref()).cloned();
    }
    Ok(newest)
}

/// The newest evidence of `user_id` among `events` of the kinds `scope` counts (ties keep the
/// first, as [`LoginEvidence::newest`] does).
pub(crate) fn newest_in<'a>(
    events: impl IntoIterator<Item = &'a ActivityEvent>,
    user_id: &str,
    scope: ActivityScope,
) -> Option<LoginEvidence> {
    events
        .into_iter()
        .filter(|e| e.user_id == user_id && scope.counts(e.kind))
        .fold(None, |newest, e| {
            LoginEvidence::newest(newest, Some(&e.evidence))
        })
        .cloned()
}

/// A page of users as a roster: what `observe` keeps are seats, the rest are counted.
pub(crate) fn roster_of<U>(
    page: &[U],
    observe: impl FnMut(&U) -> Option<ObservedSeat>,
) -> RosterPage {
    let seats: Vec<ObservedSeat> = page.iter().filter_map(observe).collect();
    RosterPage {
        not_seats: (page.len() - seats.len()) as u64,
        seats,
        resume: None,
    }
}

/// An id from a request, a profile or a slot, refused before any call unless it parses.
pub(crate) fn id_arg<T, E: std::fmt::Display>(
    provider: &'static str,
    parsed: Result<T, E>,
) -> Result<T, ProviderError> {
    parsed.map_err(|e| ProviderError::InvalidInput {
        provider,
        message: e.to_string(),
    })
}

/// A time in whole seconds, `Z` for UTC (`%Y-%m-%dT%H:%M:%SZ`): task details are read by
/// people, and Dropbox takes no fractions.
pub(crate) fn secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, at: &str) -> LoginEvidence {
        LoginEvidence {
            at: at.parse().unwrap(),
            event_id: id.into(),
            event_type: "LOGIN".into(),
        }
    }

    #[tokio::test]
    async fn newest_of_keeps_the_latest_of_one_user_across_pages() {
        use crate::domain::{ActivityEvent, ActivityKind};
        let pages = || {
            futures::stream::iter(vec![
                Ok(ActivityPage::of(vec![
                    ActivityEvent::new("1", ActivityKind::Login, ev("a", "2026-01-01T00:00:00Z")),
                    ActivityEvent::new("2", ActivityKind::Login, ev("b", "2026-03-01T00:00:00Z")),
                ])),
                Ok(ActivityPage::of(vec![
                    ActivityEvent::new("1", ActivityKind::Login, ev("c", "2026-02-01T00:00:00Z")),
                    ActivityEvent::new("1", ActivityKind::Content, ev("d", "2026-02-05T00:00:00Z")),
                ])),
            ])
        };
        let n = newest_of(pages(), "1", ActivityScope::Logins)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n.event_id, "c");
        let n = newest_of(pages(), "1", ActivityScope::Any)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n.event_id, "d");
        let none = newest_of(futures::stream::iter(Vec::new()), "1", ActivityScope::Any).await;
        assert!(none.unwrap().is_none());
    }

    #[test]
    fn secret_errors_become_access_errors_without_their_value() {
        let e = access_error(SecretError::NotFound { name: "s".into() });
        assert!(matches!(e, AccessError::Credentials(_)));
        let e = access_error(SecretError::BadShape {
            name: "s".into(),
            expected: "a, b",
        });
        assert!(matches!(e, AccessError::Credentials(_)));
        let e = access_error(SecretError::Aws {
            name: "s".into(),
            message: "throttled".into(),
        });
        assert!(matches!(e, AccessError::Unavailable(m) if m.contains("throttled")));
    }
}
