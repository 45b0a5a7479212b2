//! Key design of the single table (`pk` partition key, `sk` sort key, both strings).
//!
//! | entity          | pk                    | sk                                   |
//! |-----------------|-----------------------|--------------------------------------|
//! | profile         | `PROFILES`            | `PROFILE#<profile>`                  |
//! | seat            | `SEATS#<profile>`     | `SEAT#<provider user id>`            |
//! | checkpoint      | `PROFILE#<profile>`   | `CHECKPOINT#<stream>`                |
//! | license summary | `PROFILE#<profile>`   | `LICENSE#<license type>`             |
//! | sync lease      | `PROFILE#<profile>`   | `LEASE#sync`                         |
//! | task run        | `TASKS#<profile>`     | `RUN#<started_at>#<run id>#<task>`   |
//! | pending connect | `OAUTH#<sha256(state)>` | `STATE`                            |
//! | candidate       | `CANDIDATES#<profile>` | `CAND#<provider user id>`            |
//! | reclaim request | `RECLAIMS#<profile>`  | `REQ#<request id>`                   |
//! | invalid message | `RECLAIMS#_invalid`   | `MSG#<SQS message id>`               |
//! | reclaim counter | `PROFILE#<profile>`   | `RECLAIMED#<UTC date>`               |
//! | approval        | `APPROVALS#<profile>` | `REQ#<request id>`                   |
//! | user lock       | `USERLOCKS#<profile>` | `USER#<provider user id>`            |
//! | keep            | `KEEPS#<profile>`     | `USER#<provider user id>`            |
//! | notice          | `NOTICES#<profile>`   | `NOTICE#<user id>#<candidacy>`       |
//! | keep token      | `KEEPTOKEN#<sha256(token)>` | `TOKEN`                        |
//! | digest marker   | `PROFILE#<profile>`   | `DIGEST#<UTC date>`                  |
//! | notice message  | `NOTICEMSG#<SES message id>` | `MSG`                         |
//!
//! Every item also has `kind` (the entity name). Profiles share one partition (a deployment has
//! few); a profile's seats are one partition read with one paged Query.

use crate::domain::TaskRun;

pub const PROFILES_PK: &str = "PROFILES";

pub fn profile(id: &str) -> (String, String) {
    (PROFILES_PK.to_owned(), format!("PROFILE#{id}"))
}

pub fn seats_pk(profile: &str) -> String {
    format!("SEATS#{profile}")
}

/// The sort-key prefix of a seat (the user id follows).
pub const SEAT_PREFIX: &str = "SEAT#";

pub fn seat(profile: &str, user_id: &str) -> (String, String) {
    (seats_pk(profile), format!("{SEAT_PREFIX}{user_id}"))
}

/// A profile's seat index snapshot: `HEAD` (the seat revision, and the snapshot current at it),
/// the parts (`PART#<parts>#<part>`) and the notes of seats written outside a roster pass
/// (`NOTE#<user id>`).
pub fn index_snapshot_pk(profile: &str) -> String {
    format!("SEATINDEX#{profile}")
}

pub fn index_snapshot_head(profile: &str) -> (String, String) {
    (index_snapshot_pk(profile), "HEAD".to_owned())
}

/// The sort-key prefix of the parts of a snapshot of `parts` parts.
pub fn index_snapshot_parts(parts: u32) -> String {
    format!("PART#{parts:05}#")
}

/// The sort-key prefix of the notes (a user id follows).
pub const INDEX_NOTE_PREFIX: &str = "NOTE#";

pub fn index_snapshot_note(profile: &str, user_id: &str) -> (String, String) {
    (
        index_snapshot_pk(profile),
        format!("{INDEX_NOTE_PREFIX}{user_id}"),
    )
}

pub fn index_snapshot_part(profile: &str, parts: u32, part: u32) -> (String, String) {
    (
        index_snapshot_pk(profile),
        format!("{}{part:05}", index_snapshot_parts(parts)),
    )
}

pub fn profile_pk(profile: &str) -> String {
    format!("PROFILE#{profile}")
}

pub fn checkpoint(profile: &str, stream: &str) -> (String, String) {
    (profile_pk(profile), format!("CHECKPOINT#{stream}"))
}

pub fn license(profile: &str, license_type: &str) -> (String, String) {
    (profile_pk(profile), format!("LICENSE#{license_type}"))
}

pub const LICENSE_PREFIX: &str = "LICENSE#";

pub fn sync_lease(profile: &str) -> (String, String) {
    (profile_pk(profile), "LEASE#sync".to_owned())
}

/// A pending OAuth connect, keyed by the digest of its `state` (never the state itself).
pub fn pending_connect(state_digest: &str) -> (String, String) {
    (format!("OAUTH#{state_digest}"), "STATE".to_owned())
}

pub fn candidates_pk(profile: &str) -> String {
    format!("CANDIDATES#{profile}")
}

pub fn candidate(profile: &str, user_id: &str) -> (String, String) {
    (candidates_pk(profile), format!("CAND#{user_id}"))
}

pub fn reclaims_pk(profile: &str) -> String {
    format!("RECLAIMS#{profile}")
}

pub fn reclaim(profile: &str, request_id: &str) -> (String, String) {
    (reclaims_pk(profile), format!("REQ#{request_id}"))
}

/// Messages that are not reclaim requests; `_` never starts a profile id.
pub const INVALID_MESSAGES_PK: &str = "RECLAIMS#_invalid";

pub fn invalid_message(message_id: &str) -> (String, String) {
    (INVALID_MESSAGES_PK.to_owned(), format!("MSG#{message_id}"))
}

/// Reclaims executed for a profile on one UTC day (the function's blast-radius cap).
pub fn reclaim_counter(profile: &str, day: &str) -> (String, String) {
    (profile_pk(profile), format!("RECLAIMED#{day}"))
}

/// The approval of one request (seatctl or auto mode), checked by the reclaim function.
pub fn approval(profile: &str, request_id: &str) -> (String, String) {
    (format!("APPROVALS#{profile}"), format!("REQ#{request_id}"))
}

/// One open reclaim per (profile, user).
pub fn user_lock(profile: &str, user_id: &str) -> (String, String) {
    (format!("USERLOCKS#{profile}"), format!("USER#{user_id}"))
}

pub fn keeps_pk(profile: &str) -> String {
    format!("KEEPS#{profile}")
}

/// A user's keep (the keep page, `seatctl restore`): one per user, the newest.
pub fn keep(profile: &str, user_id: &str) -> (String, String) {
    (keeps_pk(profile), format!("USER#{user_id}"))
}

pub fn notices_pk(profile: &str) -> String {
    format!("NOTICES#{profile}")
}

/// One candidacy's notice; a user's notices sort by candidacy (its start time).
pub fn notice(profile: &str, user_id: &str, candidacy: &str) -> (String, String) {
    (notices_pk(profile), format!("NOTICE#{user_id}#{candidacy}"))
}

/// A keep token's lookup item, keyed by the token's digest (never the token itself).
pub fn keep_token(digest: &str) -> (String, String) {
    (format!("KEEPTOKEN#{digest}"), "TOKEN".to_owned())
}

/// Which notice an email was sent for, by the mail service's message id (bounces name only it).
pub fn notice_message(message_id: &str) -> (String, String) {
    (format!("NOTICEMSG#{message_id}"), "MSG".to_owned())
}

pub const DIGEST_PREFIX: &str = "DIGEST#";

/// The admins' digest of one profile and UTC day (claimed once).
pub fn digest_marker(profile: &str, day: &str) -> (String, String) {
    (profile_pk(profile), format!("{DIGEST_PREFIX}{day}"))
}

/// A profile's saved sync run (`STATE`) and its blobs (`BLOB#<run>#<name>#<part>`).
pub fn run_state_pk(profile: &str) -> String {
    format!("RUNSTATE#{profile}")
}

pub fn run_state(profile: &str) -> (String, String) {
    (run_state_pk(profile), "STATE".to_owned())
}

pub fn run_blob_part(profile: &str, run_id: &str, name: &str, part: u32) -> (String, String) {
    (
        run_state_pk(profile),
        format!("BLOB#{run_id}#{name}#{part:05}"),
    )
}

pub fn tasks_pk(profile: &str) -> String {
    format!("TASKS#{profile}")
}

pub fn task_run(run: &TaskRun) -> (String, String) {
    (tasks_pk(&run.profile_id), run.order_key())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TaskKind;
    use chrono::{DateTime, Utc};

    #[test]
    fn task_run_keys_sort_by_start_time_and_name_the_task_as_stored() {
        let t0 = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let t1 = t0 + chrono::Duration::milliseconds(1);
        let a = TaskRun::start("p", "r1", TaskKind::Activity, t0);
        let b = TaskRun::start("p", "r0", TaskKind::ApplicationAccess, t1);
        let ((pk, a), (_, b)) = (task_run(&a), task_run(&b));
        assert_eq!(pk, "TASKS#p");
        assert_eq!(a, "RUN#2026-01-02T03:04:05.000Z#r1#activity");
        assert!(a < b);
        for k in [
            TaskKind::ApplicationAccess,
            TaskKind::ApplicationRoster,
            TaskKind::LicenseDifferentiation,
            TaskKind::LicenseInformation,
            TaskKind::Activity,
            TaskKind::Reclamation,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }
}
