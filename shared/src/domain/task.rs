use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::stats::ApiStatsSnapshot;

/// The task tracking categories (as SaaS-management tools name them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    ApplicationAccess,
    ApplicationRoster,
    LicenseDifferentiation,
    LicenseInformation,
    Activity,
    Reclamation,
}

impl TaskKind {
    /// The stored name (as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::ApplicationAccess => "application_access",
            TaskKind::ApplicationRoster => "application_roster",
            TaskKind::LicenseDifferentiation => "license_differentiation",
            TaskKind::LicenseInformation => "license_information",
            TaskKind::Activity => "activity",
            TaskKind::Reclamation => "reclamation",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TaskKind::ApplicationAccess => "Application Access",
            TaskKind::ApplicationRoster => "Application Roster",
            TaskKind::LicenseDifferentiation => "License Differentiation",
            TaskKind::LicenseInformation => "License Information",
            TaskKind::Activity => "Activity",
            TaskKind::Reclamation => "Reclamation",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Started and not finished: if it stays so, the run crashed or timed out.
    Running,
    Succeeded,
    Failed,
    /// Not run because an earlier task of the same run failed.
    Skipped,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskCounts {
    pub pages: u64,
    pub api_calls: u64,
    pub retries: u64,
    pub throttled: u64,
    pub seats_seen: u64,
    pub seats_new: u64,
    pub seats_changed: u64,
    pub seats_unchanged: u64,
    pub seats_removed: u64,
    pub seats_unmanaged: u64,
    /// Provider accounts that are not seats (Box app users / service accounts).
    pub non_seats_skipped: u64,
    pub events_read: u64,
    pub events_duplicate: u64,
    pub users_with_logins: u64,
    pub items_written: u64,
    /// Reclamation: seats the rules picked, requests enqueued, and what the function did.
    pub candidates: u64,
    pub requests_enqueued: u64,
    pub requests_received: u64,
    pub reclaimed: u64,
    pub reclaim_skipped: u64,
    pub reclaim_failed: u64,
    pub reclaim_retried: u64,
    /// Activity: device sessions read (Dropbox), users with any activity in the window.
    pub sessions_read: u64,
    pub users_with_activity: u64,
    /// Reclamation: seats without activity whose rule is longer than what was observed.
    pub not_observed_long_enough: u64,
    /// Application Roster: removals the roster-drop guard held (not applied).
    pub seats_held: u64,
}

impl TaskCounts {
    pub fn add_api(&mut self, s: ApiStatsSnapshot) {
        self.pages += s.pages;
        self.api_calls += s.api_calls;
        self.retries += s.retries;
        self.throttled += s.throttled;
    }
}

/// One task of one sync run, as recorded for task tracking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRun {
    pub profile_id: String,
    pub run_id: String,
    pub task: TaskKind,
    pub status: TaskStatus,
    pub started_at: DateTime<Utc>,
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    pub counts: TaskCounts,
    /// What failed, in words an operator can act on (never a secret).
    #[serde(default)]
    pub error: Option<String>,
    /// Free-form facts worth showing (e.g. the activity window).
    #[serde(default)]
    pub detail: Option<String>,
}

impl TaskRun {
    pub fn start(profile_id: &str, run_id: &str, task: TaskKind, now: DateTime<Utc>) -> Self {
        Self {
            profile_id: profile_id.to_owned(),
            run_id: run_id.to_owned(),
            task,
            status: TaskStatus::Running,
            started_at: now,
            ended_at: None,
            duration_ms: None,
            counts: TaskCounts::default(),
            error: None,
            detail: None,
        }
    }

    pub fn finish(&mut self, now: DateTime<Utc>, error: Option<String>) {
        self.status = if error.is_some() {
            TaskStatus::Failed
        } else {
            TaskStatus::Succeeded
        };
        self.ended_at = Some(now);
        self.duration_ms = Some((now - self.started_at).num_milliseconds().max(0) as u64);
        self.error = error;
    }

    pub fn skipped(
        profile_id: &str,
        run_id: &str,
        task: TaskKind,
        now: DateTime<Utc>,
        why: &str,
    ) -> Self {
        let mut t = Self::start(profile_id, run_id, task, now);
        t.status = TaskStatus::Skipped;
        t.ended_at = Some(now);
        t.duration_ms = Some(0);
        t.detail = Some(why.to_owned());
        t
    }
}
impl TaskRun {
    /// Where the task run sorts among its profile's runs (start time to the millisecond, run,
    /// task): every store lists them newest first by this key.
    pub fn order_key(&self) -> String {
        format!(
            "RUN#{}#{}#{}",
            self.started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            self.run_id,
            self.task.as_str()
        )
    }
}

/// Sortable, readable run ids: `20261123T120000Z-1a2b3c4d`.
pub fn new_run_id(now: DateTime<Utc>) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), &id[..8])
}
