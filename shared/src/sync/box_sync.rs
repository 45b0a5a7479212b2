//! Box: Application Access (Client Credentials Grant), Activity (admin_logs logins), Application
//! Roster (managed users; app users are not seats), License Differentiation and Information.
use chrono::Utc;
use futures::TryStreamExt;

use super::roster::{read_logins, record_license_tasks, write_roster};
use super::run::{secs, ProviderSync, Run, SyncError};
use crate::domain::{LoginEvidence, ObservedSeat, Profile, Provider, TaskKind};
use crate::providers::box_api::{
    BoxClient, BoxCredentials, BoxEvent, BoxUser, EventsWindow, LOGIN_EVENT_TYPES,
};
use crate::queue::ReclaimQueue;
use crate::secrets::SecretStore;
use crate::store::Store;

/// The activity stream's checkpoint name.
pub(crate) const EVENTS_STREAM: &str = "box_admin_logs_logins";
/// Event ids remembered for de-duplication: two admin_logs pages.
const DEDUP_WINDOW: usize = 1000;

const ORDER: &[TaskKind] = &[
    TaskKind::ApplicationAccess,
    TaskKind::Activity,
    TaskKind::ApplicationRoster,
    TaskKind::LicenseDifferentiation,
    TaskKind::LicenseInformation,
    TaskKind::Reclamation,
];

/// Syncs Box profiles: roster, license types, activity and license information.
pub struct BoxSync {
    store: Store,
    secrets: SecretStore,
    client: BoxClient,
    default_backfill_days: u32,
    queue: Option<ReclaimQueue>,
}

impl BoxSync {
    pub fn new(
        store: Store,
        secrets: SecretStore,
        client: BoxClient,
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

impl ProviderSync for BoxSync {
    const PROVIDER: Provider = Provider::Box;
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

        // Application Access: credentials from Secrets Manager, then a token.
        let (mut task, stats) = run.begin(TaskKind::ApplicationAccess).await?;
        let r = async {
            let creds = self
                .secrets
                .box_credentials(&profile.credentials_secret)
                .await?;
            check_enterprise(profile, &creds)?;
            let fetched = self.client.authenticate(&creds, &stats).await?;
            task.detail = Some(
                if fetched {
                    "new access token"
                } else {
                    "cached access token"
                }
                .into(),
            );
            Ok(creds)
        }
        .await;
        let creds = run.end(task, &stats, r).await?;

        // Activity: logins in the window since the checkpoint (or the backfill window).
        let window = EventsWindow {
            created_after: run
                .activity_start(EVENTS_STREAM, self.default_backfill_days)
                .await?,
            created_before: started,
        };
        let (mut task, stats) = run.begin(TaskKind::Activity).await?;
        task.detail = Some(format!(
            "admin_logs {} from {} to {}",
            LOGIN_EVENT_TYPES.join(","),
            secs(window.created_after),
            secs(window.created_before)
        ));
        let events = self
            .client
            .admin_events(&creds, LOGIN_EVENT_TYPES, window, &stats)
            .map_ok(|page| page.iter().filter_map(login).collect());
        let logins = read_logins(run, task, &stats, events, DEDUP_WINDOW).await?;

        // Application Roster (with each seat's license type): stream users, write what changed.
        let (task, stats) = run.begin(TaskKind::ApplicationRoster).await?;
        let users = self.client.users(&creds, &stats).map_ok(|page| {
            let seats: Vec<ObservedSeat> = page
                .iter()
                .filter(|u| u.is_seat())
                .map(|u| observe(profile, u))
                .collect();
            let not_seats = (page.len() - seats.len()) as u64;
            (seats, not_seats)
        });
        let tally = write_roster(run, task, &stats, users, &logins).await?;

        record_license_tasks(run, &tally, profile).await?;
        // Everything finished: only now does the activity checkpoint move.
        run.commit(EVENTS_STREAM, window.created_before).await
    }
}

fn check_enterprise(profile: &Profile, creds: &BoxCredentials) -> Result<(), SyncError> {
    if Some(creds.enterprise_id.as_str()) == profile.box_enterprise_id.as_deref() {
        return Ok(());
    }
    Err(SyncError::BadProfile {
        id: profile.id.clone(),
        message: format!(
            "credentials are for enterprise {} but the profile is enterprise {}",
            creds.enterprise_id,
            profile.box_enterprise_id.as_deref().unwrap_or("(none)")
        ),
    })
}

/// A login event as (user id, evidence); events without a user or time say nothing.
pub(crate) fn login(e: &BoxEvent) -> Option<(String, LoginEvidence)> {
    let (user, at) = (e.created_by.as_ref()?, e.created_at?);
    Some((
        user.id.clone(),
        LoginEvidence {
            at: at.with_timezone(&Utc),
            event_id: e.event_id.clone(),
            event_type: e.event_type.clone().unwrap_or_default(),
        },
    ))
}

/// A Box user as a seat: license type from the profile (plan or tracking code).
fn observe(profile: &Profile, u: &BoxUser) -> ObservedSeat {
    let role = u.role.clone().unwrap_or_else(|| "user".into());
    let license_type = profile.box_license_type(&u.tracking_pairs());
    ObservedSeat {
        user_id: u.id.clone(),
        login: u.login.clone().unwrap_or_default(),
        name: u.name.clone().unwrap_or_default(),
        status: u.status.clone().unwrap_or_default(),
        is_admin: role == "admin" || role == "coadmin",
        role,
        license_managed: profile.manages(&license_type),
        license_type,
        created_at: u.created_utc(),
    }
}
