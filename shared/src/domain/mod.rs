//! The domain: what a seat, a profile, a license and a task run are, and the pure decisions made
//! about them (has this seat changed? what is its latest login? what does a license type cost?).
//! No I/O here, so everything is unit-tested without AWS or a provider.
pub mod activity;
pub mod candidate;
pub mod connect;
pub mod ids;
pub mod keep;
pub mod license;
pub mod mail_event;
pub mod newest_by_user;
pub mod notice;
pub mod profile;
pub mod reclaim;
pub mod rules;
pub mod run_state;
pub mod seat;
pub mod seat_index;
pub mod seat_snapshot;
pub mod stats;
pub mod sync_job;
pub mod task;

pub use activity::{
    ActivityAggregator, ActivityEvent, ActivityKind, ActivityPage, ActivityScope, Checkpoint,
    LoginEvidence, ACTIVITY_OVERLAP,
};
pub use candidate::Candidate;
pub use connect::{PendingConnect, Slot};
pub use ids::{BoxUserId, DropboxTeamMemberId, IdError, ProfileId, RequestId};
pub use keep::{Keep, KeepSource};
pub use license::{LicenseSummary, LicenseTally};
pub use mail_event::{parse_mail_event, MailEvent, MailEventKind, MailEventParseError};
pub use newest_by_user::ActivityFull;
pub use notice::{Email, Notice, NoticeMessage, NoticeState, NoticeToken};
pub use profile::{BoxPlan, Entitlement, Profile, ProfileError, Provider};
pub use reclaim::{Approval, InvalidMessage, ReclaimRecord, ReclaimRequest, ReclaimStatus};
pub use rules::{evaluate, ReclaimMode, ReclaimRules, RemovalMode, Verdict};
pub use run_state::{BlobRef, RunStage, RunState};
pub use seat::{
    reconcile, reconcile_with_activity, IndexedSeat, ObservedSeat, RuleSeat, Seat, SeatDecision,
    StoredSeatState,
};
pub use seat_index::{IndexFull, SeatIndex};
pub use seat_snapshot::{IndexTicket, SnapshotError, SnapshotNote, SnapshotRef};
pub use sync_job::{SyncJob, SyncJobError, SYNC_JOB_VERSION};
pub use task::{TaskCounts, TaskKind, TaskRun, TaskStatus};
