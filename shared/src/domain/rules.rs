//! Reclamation rules and the pure decision of whether a seat is a reclaim candidate.
//!
//! The same [`evaluate`] runs after each finished sync (to list candidates) and again in the
//! reclaim function just before acting, with the freshest activity: a seat is only reclaimed if
//! it is still a candidate at that moment.
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{ActivityScope, LoginEvidence};

/// What happens to candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReclaimMode {
    /// Candidates are listed; nothing is enqueued (the default).
    #[default]
    Report,
    /// Candidates wait for `seatctl approve`.
    Approve,
    /// Candidates are enqueued after each finished sync (within the blast-radius cap).
    Auto,
    /// Each new candidate is emailed a notice with a "Keep my license" link; one still a
    /// candidate `notice_days` later is enqueued as in auto mode.
    Notify,
}

impl ReclaimMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReclaimMode::Report => "report",
            ReclaimMode::Approve => "approve",
            ReclaimMode::Auto => "auto",
            ReclaimMode::Notify => "notify",
        }
    }
}

impl FromStr for ReclaimMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "report" => Ok(Self::Report),
            "approve" => Ok(Self::Approve),
            "auto" => Ok(Self::Auto),
            "notify" => Ok(Self::Notify),
            other => Err(format!(
                "unknown mode {other:?} (expected report, approve, auto or notify)"
            )),
        }
    }
}

impl fmt::Display for ReclaimMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a reclaim takes the seat: at once, or after an undo window in which the user is only
/// suspended (Dropbox `members/suspend`, Box status `inactive`) and can be restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalMode {
    /// Transfer and remove in one go (the default, as before the undo window existed).
    #[default]
    Immediate,
    /// Suspend first; transfer and remove after `suspend_days`.
    SuspendFirst,
}

impl RemovalMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RemovalMode::Immediate => "immediate",
            RemovalMode::SuspendFirst => "suspend-first",
        }
    }
}

impl FromStr for RemovalMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "immediate" => Ok(Self::Immediate),
            "suspend-first" => Ok(Self::SuspendFirst),
            other => Err(format!(
                "unknown removal {other:?} (expected immediate or suspend-first)"
            )),
        }
    }
}

impl fmt::Display for RemovalMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Statuses of a user who is suspended but still holds the seat: Box `inactive`, Dropbox
/// `suspended`.
pub fn is_suspended_status(status: &str) -> bool {
    matches!(status, "inactive" | "suspended")
}

/// How a seat that never logged in (no login event on record) counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeverLoggedIn {
    /// Inactive since the account was created / joined (or first seen by seatkeeper when the
    /// provider gives no date): a candidate once that is older than the threshold (the default).
    #[default]
    SinceCreated,
    /// Never a candidate: someone must look at such accounts by hand.
    Exempt,
}

impl FromStr for NeverLoggedIn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "since_created" => Ok(Self::SinceCreated),
            "exempt" => Ok(Self::Exempt),
            other => Err(format!(
                "unknown never-logged-in policy {other:?} (expected since-created or exempt)"
            )),
        }
    }
}

/// A profile's reclamation rules. Every profile gets the defaults when it is added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReclaimRules {
    /// A seat with no login for this many days is a candidate.
    pub inactive_days: u32,
    /// Accounts created / joined less than this many days ago are never candidates.
    pub new_hire_grace_days: u32,
    pub never_logged_in: NeverLoggedIn,
    /// License types in scope; empty means the profile's managed types.
    pub license_types: Vec<String>,
    /// Logins (e-mail addresses, case-insensitive) never reclaimed.
    pub exempt_logins: Vec<String>,
    /// Box: the admin user who receives reclaimed users' content; unset, a Box reclaim fails with
    /// `no_transfer_target`. Dropbox always uses the admin who connected the reclaim slot.
    pub transfer_target: Option<String>,
    pub mode: ReclaimMode,
    /// Blast-radius cap: at most this many reclaims per run (and per UTC day in the function)…
    pub max_per_run: u32,
    /// …and at most this share of the profile's seats (percent, rounded down, at least 1).
    pub max_percent: u32,
    /// Kill switch: while set, nothing is enqueued or executed for the profile.
    pub paused: bool,
    /// Which activity keeps a seat: any use (the default) or logins only.
    pub activity: ActivityScope,
    /// Remove at once, or suspend first and remove after `suspend_days` (the undo window).
    pub removal: RemovalMode,
    /// The undo window of `suspend-first`, in days (0: removed by the next sync after the
    /// suspension).
    pub suspend_days: u32,
    /// Notify mode: days between the notice and the reclaim (the due date).
    pub notice_days: u32,
    /// Notify mode: a reminder goes out this many days before the due date (each once).
    pub reminder_days: Vec<u32>,
    /// A keep (the keep page, `seatctl restore`) exempts the user for this many days.
    pub keep_days: u32,
}

impl Default for ReclaimRules {
    fn default() -> Self {
        Self {
            inactive_days: 60,
            new_hire_grace_days: 30,
            never_logged_in: NeverLoggedIn::SinceCreated,
            license_types: Vec::new(),
            exempt_logins: Vec::new(),
            transfer_target: None,
            mode: ReclaimMode::Report,
            max_per_run: 10,
            max_percent: 5,
            paused: false,
            activity: ActivityScope::Any,
            removal: RemovalMode::Immediate,
            suspend_days: 14,
            notice_days: 7,
            reminder_days: vec![2],
            keep_days: 90,
        }
    }
}

impl ReclaimRules {
    /// How many reclaims one run (or one UTC day) may execute for a profile of `seats` seats.
    pub fn cap(&self, seats: u64) -> u64 {
        let by_share = (seats * u64::from(self.max_percent) / 100).max(1);
        u64::from(self.max_per_run).min(by_share)
    }

    pub fn is_exempt_login(&self, login: &str) -> bool {
        self.exempt_logins
            .iter()
            .any(|l| l.trim().eq_ignore_ascii_case(login.trim()))
    }

    /// The rule in words, as recorded with every candidate.
    pub fn describe(&self) -> String {
        match self.activity {
            ActivityScope::Any => format!(
                "no activity for {} days (new-hire grace {} days)",
                self.inactive_days, self.new_hire_grace_days
            ),
            ActivityScope::Logins => format!(
                "no login for {} days (logins only; new-hire grace {} days)",
                self.inactive_days, self.new_hire_grace_days
            ),
        }
    }
}

/// Why a seat is never reclaimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exemption {
    Admin,
    TransferTarget,
    ExemptLogin,
    /// Box status `cannot_delete_edit` / `cannot_delete_edit_upload`.
    ProtectedStatus,
    NeverLoggedIn,
    /// A provider status seatkeeper does not know (`unknown:<tag>`): kept as a seat, never a
    /// candidate.
    UnknownStatus,
    /// The user (keep page) or an operator (`seatctl restore`) asked to keep the seat, and the
    /// keep has not ended.
    Kept,
}

impl Exemption {
    pub fn reason(self) -> &'static str {
        match self {
            Exemption::Admin => "admins and co-admins are never reclaimed",
            Exemption::TransferTarget => "the transfer target is never reclaimed",
            Exemption::ExemptLogin => "the login is on the profile's exemption list",
            Exemption::ProtectedStatus => "the provider marks the user as not deletable",
            Exemption::NeverLoggedIn => "never logged in, and the rules exempt such accounts",
            Exemption::UnknownStatus => {
                "the provider reports a status seatkeeper does not know; it is kept, never reclaimed"
            }
            Exemption::Kept => "the user asked to keep the license, and the keep has not ended",
        }
    }
}

/// The outcome of the rules for one seat (short-lived: the candidate's evidence is not boxed).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Verdict {
    Candidate(Evidence),
    /// Active within the threshold (`last_login` is the newest activity the rules count).
    Active {
        last_login: DateTime<Utc>,
    },
    /// Created / joined within the grace period.
    InGrace {
        since: DateTime<Utc>,
    },
    Exempt(Exemption),
    /// License type not in scope, or already removed.
    OutOfScope,
    /// No activity in the threshold, but activity has not been read for that long (the backfill,
    /// or a gap, is shorter than the rule): undecidable until `decidable_on`.
    NotObservedLongEnough {
        observed_since: DateTime<Utc>,
        decidable_on: DateTime<Utc>,
    },
}

/// Why a seat is a candidate: what the rules compared, and the proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub rule: String,
    pub threshold_days: u32,
    /// Days without a login at evaluation time.
    pub inactive_days: i64,
    /// The newest login on record, with the event that proves it (None: never logged in).
    pub last_login: Option<LoginEvidence>,
    /// Where the inactivity counts from when there is no login (created / joined / first seen).
    pub inactive_since: DateTime<Utc>,
    pub license_type: String,
    pub evaluated_at: DateTime<Utc>,
    /// The newest activity of any kind on record (a content event, a client session, a login).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity: Option<LoginEvidence>,
    /// Which activity the verdict rests on (`logins`: only logins were counted).
    #[serde(default)]
    pub activity: ActivityScope,
    /// Activity has been read without a gap since then; `inactive_since` is never earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_since: Option<DateTime<Utc>>,
}

/// The seat facts the rules need, so the reclaim function can evaluate a freshly re-read user
/// as well as a stored seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatFacts<'a> {
    pub user_id: &'a str,
    pub login: &'a str,
    pub status: &'a str,
    pub is_admin: bool,
    pub license_type: &'a str,
    pub created_at: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    pub last_login: Option<&'a LoginEvidence>,
    /// The newest activity of any kind (counted unless the rules say logins only).
    pub last_activity: Option<&'a LoginEvidence>,
    /// The profile's activity has been read without a gap since then (`LastSync::observed_since`):
    /// no seat is dated inactive from before it. None: no bound known.
    pub observed_since: Option<DateTime<Utc>>,
    /// An active keep ends then (see [`super::Keep`]): exempt until that instant.
    pub kept_until: Option<DateTime<Utc>>,
}

impl<'a> From<&'a super::RuleSeat> for SeatFacts<'a> {
    fn from(s: &'a super::RuleSeat) -> Self {
        Self {
            user_id: &s.user_id,
            login: &s.login,
            status: &s.status,
            is_admin: s.is_admin,
            license_type: &s.license_type,
            created_at: s.created_at,
            first_seen_at: s.first_seen_at,
            last_login: s.last_login.as_ref(),
            last_activity: s.last_activity.as_ref(),
            observed_since: None,
            kept_until: None,
        }
    }
}

impl<'a> SeatFacts<'a> {
    /// A stored seat, as the rules read it, with its profile's observation window.
    pub fn observed(s: &'a super::RuleSeat, observed_since: Option<DateTime<Utc>>) -> Self {
        Self {
            observed_since,
            ..Self::from(s)
        }
    }
}

/// The prefix of a provider status seatkeeper does not know (`unknown:<tag>`): such a seat is
/// kept and counted, never a candidate.
pub const UNKNOWN_STATUS_PREFIX: &str = "unknown:";

/// A stored status for a provider status tag: the tag itself if known, else `unknown:<tag>`.
pub fn status_or_unknown(tag: &str, known: &[&str]) -> String {
    if known.contains(&tag) {
        tag.to_owned()
    } else {
        format!("{UNKNOWN_STATUS_PREFIX}{tag}")
    }
}

/// Box statuses that forbid deletion.
pub fn is_protected_status(status: &str) -> bool {
    status.starts_with("cannot_delete")
}

/// Activity newer than `after` (of the kind the rules count) makes a seat active whatever else
/// holds: an exemption, the license scope or the grace period would only keep it too. So the
/// rules pass need not read such a seat, and the store can leave it out of the page it returns
/// (`SeatRepo::page`): on a tenant where most people work, most seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveAfter {
    pub after: DateTime<Utc>,
    pub scope: ActivityScope,
}

impl ActiveAfter {
    /// The bound the rules put at `now`: [`evaluate`] finds a seat active exactly when its
    /// counted activity is newer than `now` less the inactivity threshold.
    pub fn of(rules: &ReclaimRules, now: DateTime<Utc>) -> Self {
        Self {
            after: now - Duration::days(i64::from(rules.inactive_days)),
            scope: rules.activity,
        }
    }

    /// Whether this evidence is activity newer than the bound.
    pub fn holds(
        &self,
        last_login: Option<&LoginEvidence>,
        last_activity: Option<&LoginEvidence>,
    ) -> bool {
        self.scope
            .counted(last_login, last_activity)
            .is_some_and(|e| e.at > self.after)
    }
}

/// Applies the rules to one seat. `in_scope` says whether its license type is reclaimable
/// (see [`super::Profile::reclaimable`]); `transfer_target` is the account that receives files.
pub fn evaluate(
    seat: &SeatFacts<'_>,
    rules: &ReclaimRules,
    in_scope: bool,
    transfer_target: Option<&str>,
    now: DateTime<Utc>,
) -> Verdict {
    // Exemptions first: they hold whatever the activity says.
    if transfer_target == Some(seat.user_id) {
        return Verdict::Exempt(Exemption::TransferTarget);
    }
    if seat.is_admin {
        return Verdict::Exempt(Exemption::Admin);
    }
    if rules.is_exempt_login(seat.login) {
        return Verdict::Exempt(Exemption::ExemptLogin);
    }
    if is_protected_status(seat.status) {
        return Verdict::Exempt(Exemption::ProtectedStatus);
    }
    if seat.status.starts_with(UNKNOWN_STATUS_PREFIX) {
        return Verdict::Exempt(Exemption::UnknownStatus);
    }
    if seat.kept_until.is_some_and(|until| now < until) {
        return Verdict::Exempt(Exemption::Kept);
    }
    if !in_scope {
        return Verdict::OutOfScope;
    }
    let joined = seat.created_at.unwrap_or(seat.first_seen_at);
    if now - joined < Duration::days(i64::from(rules.new_hire_grace_days)) {
        return Verdict::InGrace { since: joined };
    }
    let threshold = Duration::days(i64::from(rules.inactive_days));
    let mut since = match rules.activity.counted(seat.last_login, seat.last_activity) {
        Some(l) if now - l.at < threshold => return Verdict::Active { last_login: l.at },
        Some(l) => l.at,
        None if rules.never_logged_in == NeverLoggedIn::Exempt => {
            return Verdict::Exempt(Exemption::NeverLoggedIn)
        }
        None => joined,
    };
    // No verdict beyond what was observed: before `observed_since` there may be activity we
    // never read, so inactivity counts from there at the earliest.
    if let Some(observed) = seat.observed_since.filter(|o| *o > since) {
        since = observed;
        if now - since < threshold {
            return Verdict::NotObservedLongEnough {
                observed_since: observed,
                decidable_on: observed + threshold,
            };
        }
    }
    if now - since < threshold {
        // no activity on record, but created within the threshold
        return Verdict::InGrace { since };
    }
    Verdict::Candidate(Evidence {
        rule: rules.describe(),
        threshold_days: rules.inactive_days,
        inactive_days: (now - since).num_days(),
        last_login: seat.last_login.cloned(),
        inactive_since: since,
        license_type: seat.license_type.to_owned(),
        evaluated_at: now,
        last_activity: seat.last_activity.cloned(),
        activity: rules.activity,
        observed_since: seat.observed_since,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days_ago: i64) -> DateTime<Utc> {
        now() - Duration::days(days_ago)
    }
    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }
    fn login(days_ago: i64) -> LoginEvidence {
        LoginEvidence {
            at: at(days_ago),
            event_id: format!("ev-{days_ago}"),
            event_type: "LOGIN".into(),
        }
    }
    fn facts<'a>(last: Option<&'a LoginEvidence>, created_days_ago: i64) -> SeatFacts<'a> {
        SeatFacts {
            user_id: "u1",
            login: "u1@example.com",
            status: "active",
            is_admin: false,
            license_type: "business",
            created_at: Some(at(created_days_ago)),
            first_seen_at: at(5),
            last_login: last,
            last_activity: None,
            observed_since: None,
            kept_until: None,
        }
    }

    fn content(days_ago: i64, ty: &str) -> LoginEvidence {
        LoginEvidence {
            at: at(days_ago),
            event_id: format!("c-{days_ago}"),
            event_type: ty.into(),
        }
    }

    #[test]
    fn an_active_keep_exempts_until_it_ends_then_the_activity_decides() {
        let old = login(200);
        let mut f = facts(Some(&old), 400);
        let rules = ReclaimRules::default();
        f.kept_until = Some(at(-1));
        assert_eq!(
            evaluate(&f, &rules, true, None, now()),
            Verdict::Exempt(Exemption::Kept)
        );
        f.kept_until = Some(now());
        assert!(matches!(
            evaluate(&f, &rules, true, None, now()),
            Verdict::Candidate(_)
        ));
    }

    #[test]
    fn content_and_sessions_keep_a_seat_unless_the_rules_count_logins_only() {
        let old_login = login(200);
        let upload = content(3, "UPLOAD");
        let mut f = facts(Some(&old_login), 400);
        f.last_activity = Some(&upload);
        let rules = ReclaimRules::default();
        assert_eq!(
            evaluate(&f, &rules, true, None, now()),
            Verdict::Active {
                last_login: upload.at
            }
        );
        // a desktop-only user: never a login, a recent session
        let session = content(1, "desktop_client session");
        let mut d = facts(None, 400);
        d.last_activity = Some(&session);
        assert!(matches!(
            evaluate(&d, &rules, true, None, now()),
            Verdict::Active { .. }
        ));
        // logins only: the upload does not count, and the evidence says so
        let logins_only = ReclaimRules {
            activity: ActivityScope::Logins,
            ..ReclaimRules::default()
        };
        let Verdict::Candidate(e) = evaluate(&f, &logins_only, true, None, now()) else {
            panic!()
        };
        assert_eq!(e.activity, ActivityScope::Logins);
        assert_eq!(e.inactive_days, 200);
        assert!(e.rule.contains("logins only"), "{}", e.rule);
        assert_eq!(e.last_activity.unwrap().event_type, "UPLOAD");
        // any: an old upload newer than the old login is where inactivity counts from
        let old_upload = content(100, "UPLOAD");
        f.last_activity = Some(&old_upload);
        let Verdict::Candidate(e) = evaluate(&f, &rules, true, None, now()) else {
            panic!()
        };
        assert_eq!(e.inactive_days, 100);
        assert_eq!(e.activity, ActivityScope::Any);
        assert!(e.rule.starts_with("no activity for 60 days"), "{}", e.rule);
    }

    #[test]
    fn no_verdict_beyond_what_was_observed() {
        let rules = ReclaimRules {
            inactive_days: 180,
            ..ReclaimRules::default()
        };
        // observed for 90 days, no activity on record, created long ago: not decidable yet
        let mut f = facts(None, 400);
        f.observed_since = Some(at(90));
        assert_eq!(
            evaluate(&f, &rules, true, None, now()),
            Verdict::NotObservedLongEnough {
                observed_since: at(90),
                decidable_on: at(90) + Duration::days(180),
            }
        );
        // activity older than the observation (before a gap) cannot date the seat further back
        let before_gap = login(300);
        let mut g = facts(Some(&before_gap), 400);
        g.observed_since = Some(at(90));
        assert!(matches!(
            evaluate(&g, &rules, true, None, now()),
            Verdict::NotObservedLongEnough { .. }
        ));
        // observed long enough: a candidate counted from the later of creation and observation
        f.observed_since = Some(at(200));
        let Verdict::Candidate(e) = evaluate(&f, &rules, true, None, now()) else {
            panic!()
        };
        assert_eq!(e.inactive_since, at(200));
        assert_eq!(e.inactive_days, 200);
        assert_eq!(e.observed_since, Some(at(200)));
        // created after observation started: the creation date rules, as before
        let mut n = facts(None, 190);
        n.observed_since = Some(at(300));
        let Verdict::Candidate(e) = evaluate(&n, &rules, true, None, now()) else {
            panic!()
        };
        assert_eq!(e.inactive_since, at(190));
        // the default 60-day rule over a 90-day backfill decides as before
        let mut d = facts(None, 400);
        d.observed_since = Some(at(90));
        assert!(matches!(
            evaluate(&d, &ReclaimRules::default(), true, None, now()),
            Verdict::Candidate(_)
        ));
    }

    #[test]
    fn inactive_past_threshold_is_a_candidate_with_evidence() {
        let l = login(61);
        let v = evaluate(
            &facts(Some(&l), 400),
            &ReclaimRules::default(),
            true,
            None,
            now(),
        );
        let Verdict::Candidate(e) = v else {
            panic!("{v:?}")
        };
        assert_eq!(e.inactive_days, 61);
        assert_eq!(e.threshold_days, 60);
        assert_eq!(e.last_login.unwrap().event_id, "ev-61");
        assert_eq!(e.license_type, "business");
        assert!(e.rule.contains("60 days"));
    }

    #[test]
    fn recent_login_grace_and_scope_protect_seats() {
        let rules = ReclaimRules::default();
        let l = login(59);
        assert!(matches!(
            evaluate(&facts(Some(&l), 400), &rules, true, None, now()),
            Verdict::Active { .. }
        ));
        // created 10 days ago, never logged in: new-hire grace
        assert!(matches!(
            evaluate(&facts(None, 10), &rules, true, None, now()),
            Verdict::InGrace { .. }
        ));
        // created 45 days ago, never logged in: past grace, not yet past the threshold
        assert!(matches!(
            evaluate(&facts(None, 45), &rules, true, None, now()),
            Verdict::InGrace { .. }
        ));
        // created 90 days ago, never logged in: a candidate counted from creation
        let Verdict::Candidate(e) = evaluate(&facts(None, 90), &rules, true, None, now()) else {
            panic!()
        };
        assert_eq!(e.inactive_days, 90);
        assert!(e.last_login.is_none());
        let old = login(100);
        assert_eq!(
            evaluate(&facts(Some(&old), 400), &rules, false, None, now()),
            Verdict::OutOfScope
        );
        let exempt_never = ReclaimRules {
            never_logged_in: NeverLoggedIn::Exempt,
            ..ReclaimRules::default()
        };
        assert_eq!(
            evaluate(&facts(None, 90), &exempt_never, true, None, now()),
            Verdict::Exempt(Exemption::NeverLoggedIn)
        );
    }

    #[test]
    fn exemptions_hold_whatever_the_activity() {
        let old = login(300);
        let rules = ReclaimRules {
            exempt_logins: vec!["CEO@example.com".into()],
            ..ReclaimRules::default()
        };
        let mut f = facts(Some(&old), 400);
        f.is_admin = true;
        assert_eq!(
            evaluate(&f, &rules, true, None, now()),
            Verdict::Exempt(Exemption::Admin)
        );
        let f = facts(Some(&old), 400);
        assert_eq!(
            evaluate(&f, &rules, true, Some("u1"), now()),
            Verdict::Exempt(Exemption::TransferTarget)
        );
        let mut f = facts(Some(&old), 400);
        f.login = "ceo@EXAMPLE.com";
        assert_eq!(
            evaluate(&f, &rules, true, None, now()),
            Verdict::Exempt(Exemption::ExemptLogin)
        );
        let mut f = facts(Some(&old), 400);
        f.status = "cannot_delete_edit_upload";
        assert_eq!(
            evaluate(&f, &rules, true, None, now()),
            Verdict::Exempt(Exemption::ProtectedStatus)
        );
    }

    #[test]
    fn blast_radius_cap_is_the_smaller_of_count_and_share() {
        let r = ReclaimRules::default(); // 10 seats or 5 %
        assert_eq!(r.cap(1000), 10);
        assert_eq!(r.cap(100), 5);
        assert_eq!(r.cap(3), 1);
        assert_eq!(r.cap(0), 1);
        let r = ReclaimRules {
            max_per_run: 0,
            ..ReclaimRules::default()
        };
        assert_eq!(r.cap(1000), 0);
    }

    #[test]
    fn modes_and_policies_parse() {
        assert_eq!("AUTO".parse::<ReclaimMode>().unwrap(), ReclaimMode::Auto);
        assert!("sometimes".parse::<ReclaimMode>().is_err());
        assert_eq!(
            "since-created".parse::<NeverLoggedIn>().unwrap(),
            NeverLoggedIn::SinceCreated
        );
        // profiles stored before rules existed read as the defaults
        let r: ReclaimRules = serde_json::from_str("{}").unwrap();
        assert_eq!(r, ReclaimRules::default());
    }

    #[test]
    fn active_after_holds_exactly_where_the_rules_find_a_seat_active() {
        for scope in [ActivityScope::Any, ActivityScope::Logins] {
            let rules = ReclaimRules {
                activity: scope,
                ..ReclaimRules::default()
            };
            let bound = ActiveAfter::of(&rules, now());
            for ms in [-86_400_000, -1000, -1, 0, 1, 999, 1000, 86_400_000] {
                let e = LoginEvidence {
                    at: bound.after + Duration::milliseconds(ms),
                    event_id: "ev".into(),
                    event_type: "LOGIN".into(),
                };
                let old = login(400);
                // the evidence as the login, as other activity beside an old login, alone
                for (l, a) in [(Some(&e), None), (Some(&old), Some(&e)), (None, Some(&e))] {
                    let f = SeatFacts {
                        last_login: l,
                        last_activity: a,
                        observed_since: Some(at(200)),
                        ..facts(None, 400)
                    };
                    let verdict = evaluate(&f, &rules, true, None, now());
                    let holds = bound.holds(l, a);
                    assert_eq!(
                        holds,
                        matches!(verdict, Verdict::Active { .. }),
                        "{scope:?} {ms} ms: {verdict:?}"
                    );
                    // an exempt seat it holds for is never a candidate either
                    let admin = evaluate(
                        &SeatFacts {
                            is_admin: true,
                            ..f
                        },
                        &rules,
                        true,
                        None,
                        now(),
                    );
                    assert!(!holds || matches!(admin, Verdict::Exempt(_)));
                }
            }
        }
    }
}
