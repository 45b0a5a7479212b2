//! Dropbox: Application Access (refresh token of the sync slot), License Information source
//! (`team/get_info`: purchased seats), Activity (`team_log` `login_success`), Application Roster
//! (`members/list_v2`; active, invited and suspended members hold a license), License
//! Differentiation (`membership_type`: full / limited) and Information.
use futures::TryStreamExt;

use super::roster::{read_logins, record_license_tasks, write_roster};
use super::run::{secs, ProviderSync, Run, SyncError};
use crate::domain::{Entitlement, LoginEvidence, ObservedSeat, Profile, Provider, TaskKind};
use crate::providers::dropbox_api::{DropboxClient, EventsWindow, LoginEvent, TeamMemberInfoV2};
use crate::queue::ReclaimQueue;
use crate::secrets::SecretStore;
use crate::store::Store;

pub(crate) const EVENTS_STREAM: &str = "dropbox_team_log_logins";
const DEDUP_WINDOW: usize = 2000;

const ORDER: &[TaskKind] = &[
    TaskKind::ApplicationAccess,
    TaskKind::Activity,
    TaskKind::ApplicationRoster,
    TaskKind::LicenseDifferentiation,
    TaskKind::LicenseInformation,
    TaskKind::Reclamation,
];

/// Syncs Dropbox profiles with their sync slot's credentials.
pub struct DropboxSync {
    store: Store,
    secrets: SecretStore,
    client: DropboxClient,
    default_backfill_days: u32,
    queue: Option<ReclaimQueue>,
}

impl DropboxSync {
    pub fn new(
        store: Store,
        secrets: SecretStore,
        client: DropboxClient,
        default_backfill_days: u32,
    ) -> Self {
        Self {
            store,
            secrets,
            client,
            default_backfill_days,
            queue: None,
        }
    }

    /// Profiles in auto mode enqueue their candidates here after each finished sync.
    pub fn with_queue(mut self, queue: Option<ReclaimQueue>) -> Self {
        self.queue = queue;
        self
    }
}

impl ProviderSync for DropboxSync {
    const PROVIDER: Provider = Provider::Dropbox;
    const ORDER: &'static [TaskKind] = ORDER;

    fn store(&self) -> &Store {
        &self.store
    }

    fn queue(&self) -> Option<&ReclaimQueue> {
        self.queue.as_ref()
    }

    async fn tasks(&self, run: &mut Run<'_>) -> Result<(), SyncError> {
        let profile = run.profile;
        let started = run.started;

        // Application Access: the sync slot's refresh token → access token; which team it is.
        let (mut task, stats) = run.begin(TaskKind::ApplicationAccess).await?;
        let r = async {
            let creds = self
                .secrets
                .dropbox_credentials(&profile.credentials_secret)
                .await?;
            let fetched = self.client.authenticate(&creds, &stats).await?;
            let info = self.client.team_info(&creds, &stats).await?;
            if let Some(expected) = &creds.team_id {
                if expected != &info.team_id {
                    return Err(SyncError::BadProfile {
                        id: profile.id.clone(),
                        message: format!(
                            "connected to team {expected} but the token now reads team {}",
                            info.team_id
                        ),
                    });
                }
            }
            task.detail = Some(format!(
                "team {} ({}); {} access token",
                info.name,
                info.team_id,
                if fetched { "new" } else { "cached" }
            ));
            Ok((creds, info))
        }
        .await;
        let (creds, info) = run.end(task, &stats, r).await?;

        let window = EventsWindow {
            start: run
                .activity_start(EVENTS_STREAM, self.default_backfill_days)
                .await?,
            end: started,
        };
        let (mut task, stats) = run.begin(TaskKind::Activity).await?;
        task.detail = Some(format!(
            "team_log login_success from {} to {}",
            secs(window.start),
            secs(window.end)
        ));
        let events = self
            .client
            .login_events(&creds, window, None, &stats)
            .map_ok(|page| page.into_iter().map(login).collect());
        let logins = read_logins(run, task, &stats, events, DEDUP_WINDOW).await?;

        let (task, stats) = run.begin(TaskKind::ApplicationRoster).await?;
        let members = self.client.members(&creds, &stats).map_ok(|page| {
            let seats: Vec<ObservedSeat> =
                page.iter().filter_map(|m| observe(profile, m)).collect();
            let not_seats = (page.len() - seats.len()) as u64;
            (seats, not_seats)
        });
        let tally = write_roster(run, task, &stats, members, &logins).await?;

        // Dropbox knows what was purchased: it overrides the profile's own entitlement count for
        // `full` seats (the price, if the operator set one, still applies).
        let mut effective = profile.clone();
        let price = profile.entitlement("full").and_then(|e| e.unit_price_cents);
        let currency = profile.entitlement("full").and_then(|e| e.currency.clone());
        effective.set_entitlement(Entitlement {
            license_type: "full".into(),
            purchased: info.num_licensed_users,
            unit_price_cents: price,
            currency,
        });
        record_license_tasks(run, &tally, &effective).await?;
        run.commit(EVENTS_STREAM, window.end).await
    }
}

/// A member as a seat. Active, invited and suspended members hold a license (a suspended
/// account keeps its seat); removed members (only listed with include_removed) do not.
fn observe(profile: &Profile, m: &TeamMemberInfoV2) -> Option<ObservedSeat> {
    let p = &m.profile;
    if !matches!(p.status.tag.as_str(), "active" | "invited" | "suspended") {
        return None;
    }
    let roles: Vec<&str> = m.roles.iter().flatten().map(|r| r.name.as_str()).collect();
    // Roles mirror the old AdminTier, which includes "member only": admin means an admin role
    // (Team admin, User management admin, Support admin, Billing admin, …).
    let is_admin = roles
        .iter()
        .any(|r| r.to_ascii_lowercase().contains("admin"));
    let license_type = p.membership_type.tag.clone();
    Some(ObservedSeat {
        user_id: p.team_member_id.clone(),
        login: p.email.clone(),
        name: p.name.display_name.clone(),
        status: p.status.tag.clone(),
        is_admin,
        role: if roles.is_empty() {
            "member_only".into()
        } else {
            roles.join(", ")
        },
        license_managed: profile.manages(&license_type),
        license_type,
        created_at: p.joined_on.or(p.invited_on),
    })
}

/// A team_log login as (team member id, evidence).
pub(crate) fn login(e: LoginEvent) -> (String, LoginEvidence) {
    let evidence = LoginEvidence {
        at: e.at,
        event_id: e.id,
        event_type: e.event_type,
    };
    (e.team_member_id, evidence)
}
