//! A sync run that reached its invocation's deadline and goes on in a later one: where it
//! stands. The small part is one item ([`RunState`]); what grows with the tenant (the activity
//! read so far, the users the roster has shown) is stored beside it in parts ([`BlobRef`]).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ActivityScope, Checkpoint, LicenseTally, TaskRun};

/// Which part of the run comes next, and where its paged read continues (an adapter's resume
/// token; `None`: from the start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum RunStage {
    Activity {
        resume: Option<String>,
    },
    Roster {
        resume: Option<String>,
    },
    /// The roster finished and the license tasks were recorded: only Reclamation is left.
    Reclamation,
}

/// A stored byte string in `parts` items (each under DynamoDB's item limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    pub name: String,
    pub parts: u32,
}

/// One profile's saved run (at most one: the lease serialises runs of a profile).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub profile_id: String,
    pub run_id: String,
    /// When the run started: the activity window ends here, and a run older than the maximum
    /// age is abandoned.
    pub started: DateTime<Utc>,
    pub saved_at: DateTime<Utc>,
    /// Invocations that have worked on the run so far.
    pub invocations: u32,
    pub stage: RunStage,
    /// The activity the run reads (fixed at its start: a run whose profile's setting changed
    /// since is abandoned, so a checkpoint never moves for activity that was not read).
    pub scope: ActivityScope,
    /// The activity window the run reads (fixed at its start).
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// The activity checkpoint as the run found it (it moves only when the run finishes).
    pub checkpoint: Option<Checkpoint>,
    /// Task runs already ended, in order.
    pub tasks: Vec<TaskRun>,
    /// The task under way, with its counts so far.
    pub current: Option<TaskRun>,
    /// The activity aggregated so far (JSON of `ActivityAggregator`).
    pub activity: Option<BlobRef>,
    /// What the roster has shown so far, in the order written: each invocation's seats and the
    /// states it left them in (`states-…`: [`super::seat_snapshot`] entries; `seen-…`, from an
    /// earlier version: JSON arrays of user ids).
    #[serde(default)]
    pub seen: Vec<BlobRef>,
    /// How the roster stage opened the stored-seat index (its later invocations read the same
    /// snapshot).
    #[serde(default)]
    pub index: Option<super::IndexTicket>,
    /// An invocation began writing seats after this save (set before its first write, cleared
    /// by its save): if it is still set when a run resumes, that invocation may have written
    /// seats its record does not hold, so the run no longer starts from the record alone.
    #[serde(default)]
    pub writing: bool,
    #[serde(default)]
    pub tally: LicenseTally,
    /// Seats stored as present when the roster stage began: the roster-drop guard's baseline
    /// (later invocations' indexes include the seats earlier ones added).
    #[serde(default)]
    pub roster_present: Option<u64>,
}

impl RunState {
    /// How long ago the run started.
    pub fn age(&self, now: DateTime<Utc>) -> chrono::Duration {
        now - self.started
    }
}
