//! Box: Application Access (Client Credentials Grant), Activity (admin_logs logins), Application
//! Roster (managed users; app users are not seats), License Differentiation and Information.
use chrono::{DateTime, Utc};
use futures::{pin_mut, TryStreamExt};

use super::roster::{record_license_tasks, RosterWriter};
use super::run::{ProviderSync, Run, SyncError};
use crate::domain::{LoginAggregator, LoginEvidence, ObservedSeat, Profile, Provider, TaskKind};
use crate::providers::box_api::{
    BoxClient, BoxCredentials, BoxUser, EventsWindow, LOGIN_EVENT_TYPES,
};
use crate::secrets::SecretStore;
use crate::store::Store;

/// The activity stream's checkpoint name.
const EVENTS_STREAM: &str = "box_admin_logs_logins";
/// Event ids remembered for de-duplication: two admin_logs pages.
const DEDUP_WINDOW: usize = 1000;
/// Each activity window starts this long before the last one ended: Box's admin_logs are
/// delivered with latency, so an event created just before the checkpoint can appear after it
/// was read. Re-reading is harmless (the last login is a maximum) and costs a few pages.
pub const ACTIVITY_OVERLAP: chrono::Duration = chrono::Duration::hours(1);

const ORDER: &[TaskKind] = &[
    TaskKind::ApplicationAccess,
    TaskKind::Activity,
    TaskKind::ApplicationRoster,
    TaskKind::LicenseDifferentiation,
    TaskKind::LicenseInformation,
];

/// Syncs Box profiles: roster, license types, activity and license information.
pub struct BoxSync {
    store: Store,
    secrets: SecretStore,
    client: BoxClient,
    default_backfill_days: u32,
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
        }
    }
}

impl ProviderSync for BoxSync {
    const PROVIDER: Provider = Provider::Box;
    const ORDER: &'static [TaskKind] = ORDER;

    fn store(&self) -> &Store {
        &self.store
    }

    async fn tasks(&self, run: &mut Run<'_>) -> Result<(), SyncError> {
        let profile = run.profile;
        let started = run.started;
        let progress = run.progress;

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
        let checkpoint = self
            .store
            .get_checkpoint(&profile.id, EVENTS_STREAM)
            .await?;
        let backfill = profile.backfill_days.unwrap_or(self.default_backfill_days);
        let window = EventsWindow {
            created_after: checkpoint
                .map(|c| c.read_until - ACTIVITY_OVERLAP)
                .unwrap_or(started - chrono::Duration::days(i64::from(backfill))),
            created_before: started,
        };
        let (mut task, stats) = run.begin(TaskKind::Activity).await?;
        task.detail = Some(format!(
            "admin_logs {} from {} to {}",
            LOGIN_EVENT_TYPES.join(","),
            secs(window.created_after),
            secs(window.created_before)
        ));
        let r = async {
            let mut logins = LoginAggregator::new(DEDUP_WINDOW);
            let events = self
                .client
                .admin_events(&creds, LOGIN_EVENT_TYPES, window, &stats);
            pin_mut!(events);
            while let Some(page) = events.try_next().await? {
                for e in page {
                    let (Some(user), Some(at)) = (e.created_by.as_ref(), e.created_at) else {
                        continue;
                    };
                    let evidence = LoginEvidence {
                        at: at.with_timezone(&Utc),
                        event_id: e.event_id.clone(),
                        event_type: e.event_type.clone().unwrap_or_default(),
                    };
                    logins.add(&user.id, evidence);
                }
                progress.advanced(0, logins.events_read);
            }
            task.counts.events_read = logins.events_read;
            task.counts.events_duplicate = logins.duplicates;
            task.counts.users_with_logins = logins.users() as u64;
            Ok(logins)
        }
        .await;
        let logins = run.end(task, &stats, r).await?;

        // Application Roster (with each seat's license type): stream users, write what changed.
        let (mut task, stats) = run.begin(TaskKind::ApplicationRoster).await?;
        let run_id = run.run_id.clone();
        let r = async {
            let mut roster = RosterWriter::load(&self.store, profile, &run_id, started).await?;
            let users = self.client.users(&creds, &stats);
            pin_mut!(users);
            while let Some(page) = users.try_next().await? {
                let total = page.len();
                let seats: Vec<ObservedSeat> = page
                    .iter()
                    .filter(|u| u.is_seat())
                    .map(|u| observe(profile, u))
                    .collect();
                task.counts.non_seats_skipped += (total - seats.len()) as u64;
                roster.page(seats, &logins, &mut task.counts).await?;
                progress.advanced(task.counts.seats_seen, 0);
            }
            roster.finish(&mut task.counts).await
        }
        .await;
        let tally = run.end(task, &stats, r).await?;

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

pub(crate) fn secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
