use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{LoginEvidence, Provider};

/// A seat as the provider shows it right now (no history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedSeat {
    pub user_id: String,
    pub login: String,
    pub name: String,
    /// Provider status (Box: active, inactive, cannot_delete_edit, cannot_delete_edit_upload).
    pub status: String,
    /// Provider role (Box: admin, coadmin, user).
    pub role: String,
    pub is_admin: bool,
    pub license_type: String,
    /// False when the profile does not manage this license type (stored but flagged).
    pub license_managed: bool,
    pub created_at: Option<DateTime<Utc>>,
}

/// A stored seat: what was observed, plus what seatkeeper learned over time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seat {
    pub profile_id: String,
    pub provider: Provider,
    pub user_id: String,
    pub login: String,
    pub name: String,
    pub status: String,
    pub role: String,
    pub is_admin: bool,
    pub license_type: String,
    pub license_managed: bool,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// The newest login seen in the provider's event log, with the event that proves it.
    #[serde(default)]
    pub last_login: Option<LoginEvidence>,
    pub first_seen_at: DateTime<Utc>,
    /// When a sync last wrote this item. A seat that is not removed was also present in the
    /// profile's last finished sync (`Profile::last_sync`), which is not rewritten here daily.
    pub last_seen_at: DateTime<Utc>,
    #[serde(default)]
    pub removed_at: Option<DateTime<Utc>>,
    /// Set when seatkeeper reclaimed the seat (with the request that did it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclaimed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclaim_request_id: Option<String>,
    /// The sync run that wrote this item last.
    pub run_id: String,
    /// Hash of the observed fields and last login: equal means nothing to write.
    pub fingerprint: String,
    /// The newest activity of any kind (a content event, a client session, a login), with the
    /// event or session that proves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity: Option<LoginEvidence>,
}

/// A reclaim within this long before a roster page was read may not show in it yet: a seat
/// write from that page keeps the seat removed even though the page still listed the user (every
/// seat repository honours it).
pub const RECLAIM_LISTING_LAG: chrono::Duration = chrono::Duration::minutes(5);

impl Seat {
    /// Days since the last activity of any kind (or since creation / first sight when there
    /// never was any).
    pub fn inactive_days(&self, now: DateTime<Utc>) -> i64 {
        let since = LoginEvidence::newest(self.last_login.as_ref(), self.last_activity.as_ref())
            .map(|l| l.at)
            .or(self.created_at)
            .unwrap_or(self.first_seen_at);
        (now - since).num_days()
    }
}

/// What the rules and a candidate need of a stored seat: the candidates refresh reads only these
/// attributes (a projection: about half of a seat item's, and the half it deserialises).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSeat {
    pub user_id: String,
    pub login: String,
    pub name: String,
    pub status: String,
    pub is_admin: bool,
    pub license_type: String,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    #[serde(default)]
    pub last_login: Option<LoginEvidence>,
    #[serde(default)]
    pub last_activity: Option<LoginEvidence>,
    #[serde(default)]
    pub removed_at: Option<DateTime<Utc>>,
}

impl RuleSeat {
    /// The attributes a [`RuleSeat`] is read from (a DynamoDB projection expression).
    pub const ATTRIBUTES: &'static str = "user_id, login, #name, #status, is_admin, license_type, created_at, first_seen_at, last_login, last_activity, removed_at";
    /// The projection's reserved words, as `#placeholder` → attribute.
    pub const NAMES: [(&'static str, &'static str); 2] = [("#name", "name"), ("#status", "status")];

    /// A present seat the rules find active by `bound` alone (see [`super::rules::ActiveAfter`]).
    pub fn active_by(&self, bound: &super::rules::ActiveAfter) -> bool {
        self.removed_at.is_none()
            && bound.holds(self.last_login.as_ref(), self.last_activity.as_ref())
    }
}

impl From<&Seat> for RuleSeat {
    fn from(s: &Seat) -> Self {
        Self {
            user_id: s.user_id.clone(),
            login: s.login.clone(),
            name: s.name.clone(),
            status: s.status.clone(),
            is_admin: s.is_admin,
            license_type: s.license_type.clone(),
            created_at: s.created_at,
            first_seen_at: s.first_seen_at,
            last_login: s.last_login.clone(),
            last_activity: s.last_activity.clone(),
            removed_at: s.removed_at,
        }
    }
}

/// The part of a stored seat a sync needs to decide whether to write (loaded with a projection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSeatState {
    pub user_id: String,
    pub fingerprint: String,
    pub first_seen_at: DateTime<Utc>,
    #[serde(default)]
    pub last_login: Option<LoginEvidence>,
    #[serde(default)]
    pub removed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_activity: Option<LoginEvidence>,
}

impl From<&Seat> for StoredSeatState {
    fn from(seat: &Seat) -> Self {
        Self {
            user_id: seat.user_id.clone(),
            fingerprint: seat.fingerprint.clone(),
            first_seen_at: seat.first_seen_at,
            last_login: seat.last_login.clone(),
            removed_at: seat.removed_at,
            last_activity: seat.last_activity.clone(),
        }
    }
}

/// Stable hash of what we store from the provider plus the last login's instant. Field order is
/// fixed here; changing it rewrites every seat once, which is safe.
pub fn fingerprint(observed: &ObservedSeat, last_login: Option<&LoginEvidence>) -> String {
    fingerprint_with_activity(observed, last_login, None)
}

/// [`fingerprint`] with the last activity of any kind; without one it is the same hash, so
/// seats stored before activity was recorded are not rewritten for it.
pub fn fingerprint_with_activity(
    observed: &ObservedSeat,
    last_login: Option<&LoginEvidence>,
    last_activity: Option<&LoginEvidence>,
) -> String {
    hex::encode(fingerprint_bytes(
        observed,
        last_login.map(|l| l.at),
        last_activity.map(|a| a.at),
    ))
}

/// The fingerprint's bytes, from the evidence's instants alone: the seat index keeps only those
/// (not the evidence), and stored evidence is only ever replaced by a strictly newer one, so the
/// instant identifies it. The event-id slots stay, empty: a seat without evidence keeps the
/// fingerprint it had when event ids were hashed too.
pub fn fingerprint_bytes(
    observed: &ObservedSeat,
    login_at: Option<DateTime<Utc>>,
    activity_at: Option<DateTime<Utc>>,
) -> Fingerprint {
    let mut h = Sha256::new();
    let created = observed
        .created_at
        .map(|t| t.timestamp())
        .unwrap_or(i64::MIN);
    for part in [
        observed.user_id.as_str(),
        observed.login.as_str(),
        observed.name.as_str(),
        observed.status.as_str(),
        observed.role.as_str(),
        if observed.is_admin { "1" } else { "0" },
        observed.license_type.as_str(),
        if observed.license_managed { "1" } else { "0" },
        &created.to_string(),
        "",
        &login_at.map(|t| t.timestamp()).unwrap_or(0).to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    if let Some(at) = activity_at {
        for part in ["", &at.timestamp().to_string()] {
            h.update(part.as_bytes());
            h.update([0x1e]);
        }
    }
    let mut out = [0u8; 12];
    out.copy_from_slice(&h.finalize()[..12]);
    out
}

/// A seat fingerprint's 12 bytes (stored as 24 hex digits).
pub type Fingerprint = [u8; 12];

/// A stored fingerprint as bytes; `None` for anything that is not one (an item written by a
/// test or an older version): such a seat is always compared in full.
pub fn parse_fingerprint(hex_digits: &str) -> Option<Fingerprint> {
    let mut out = [0u8; 12];
    hex::decode_to_slice(hex_digits, &mut out).ok()?;
    Some(out)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatDecision {
    New(Seat),
    Changed(Seat),
    Unchanged,
}

/// Decides what to store for one observed seat. Unchanged seats are not rewritten; a removed seat
/// that reappears is restored; the last login only ever moves forward.
pub fn reconcile(
    profile_id: &str,
    provider: Provider,
    observed: ObservedSeat,
    stored: Option<&StoredSeatState>,
    login_in_window: Option<&LoginEvidence>,
    now: DateTime<Utc>,
    run_id: &str,
) -> SeatDecision {
    reconcile_with_activity(
        profile_id,
        provider,
        observed,
        stored,
        (login_in_window, None),
        now,
        run_id,
    )
}

/// [`reconcile`] with this run's newest login and newest activity of any kind for the seat
/// (`in_window`); both only ever move forward.
pub fn reconcile_with_activity(
    profile_id: &str,
    provider: Provider,
    observed: ObservedSeat,
    stored: Option<&StoredSeatState>,
    in_window: (Option<&LoginEvidence>, Option<&LoginEvidence>),
    now: DateTime<Utc>,
    run_id: &str,
) -> SeatDecision {
    let (login_in_window, activity_in_window) = in_window;
    let last_login =
        LoginEvidence::newest(stored.and_then(|s| s.last_login.as_ref()), login_in_window).cloned();
    let last_activity = LoginEvidence::newest(
        stored.and_then(|s| s.last_activity.as_ref()),
        activity_in_window,
    )
    .cloned();
    let fp = fingerprint_with_activity(&observed, last_login.as_ref(), last_activity.as_ref());
    if let Some(s) = stored {
        if s.fingerprint == fp && s.removed_at.is_none() {
            return SeatDecision::Unchanged;
        }
    }
    let seat = Seat {
        profile_id: profile_id.to_owned(),
        provider,
        user_id: observed.user_id,
        login: observed.login,
        name: observed.name,
        status: observed.status,
        role: observed.role,
        is_admin: observed.is_admin,
        license_type: observed.license_type,
        license_managed: observed.license_managed,
        created_at: observed.created_at,
        last_login,
        first_seen_at: stored.map(|s| s.first_seen_at).unwrap_or(now),
        last_seen_at: now,
        removed_at: None,
        reclaimed_at: None,
        reclaim_request_id: None,
        run_id: run_id.to_owned(),
        fingerprint: fp,
        last_activity,
    };
    if stored.is_some() {
        SeatDecision::Changed(seat)
    } else {
        SeatDecision::New(seat)
    }
}

/// What the seat index keeps of one stored seat: its fingerprint and the instants of its
/// evidence, not the evidence itself ([`super::SeatIndex`] holds it in 48 bytes a seat besides
/// the id, so 500 000 seats fit in a small function). That is enough to tell an unchanged seat; any other goes through
/// [`reconcile_with_activity`] with its full stored state, fetched for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedSeat {
    pub fingerprint: Option<Fingerprint>,
    pub login_at: Option<DateTime<Utc>>,
    pub activity_at: Option<DateTime<Utc>>,
    pub removed: bool,
}

impl IndexedSeat {
    pub fn of(s: &StoredSeatState) -> Self {
        Self {
            fingerprint: parse_fingerprint(&s.fingerprint),
            login_at: s.last_login.as_ref().map(|l| l.at),
            activity_at: s.last_activity.as_ref().map(|a| a.at),
            removed: s.removed_at.is_some(),
        }
    }

    /// What the index keeps of a seat as written.
    pub fn of_seat(s: &Seat) -> Self {
        Self {
            fingerprint: parse_fingerprint(&s.fingerprint),
            login_at: s.last_login.as_ref().map(|l| l.at),
            activity_at: s.last_activity.as_ref().map(|a| a.at),
            removed: s.removed_at.is_some(),
        }
    }

    /// True when [`reconcile_with_activity`] would find nothing to write: the seat is present,
    /// the window brings no strictly newer evidence (a tie keeps the stored one) and the observed
    /// fields hash as stored. False means "compare in full", never "changed".
    pub fn unchanged(
        &self,
        observed: &ObservedSeat,
        window_login: Option<DateTime<Utc>>,
        window_activity: Option<DateTime<Utc>>,
    ) -> bool {
        let newer = |w: Option<DateTime<Utc>>, stored: Option<DateTime<Utc>>| match (w, stored) {
            (Some(w), Some(s)) => w > s,
            (Some(_), None) => true,
            (None, _) => false,
        };
        !self.removed
            && !newer(window_login, self.login_at)
            && !newer(window_activity, self.activity_at)
            && self.fingerprint
                == Some(fingerprint_bytes(observed, self.login_at, self.activity_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn observed() -> ObservedSeat {
        ObservedSeat {
            user_id: "1".into(),
            login: "a@x.com".into(),
            name: "A".into(),
            status: "active".into(),
            role: "user".into(),
            is_admin: false,
            license_type: "business".into(),
            license_managed: true,
            created_at: None,
        }
    }

    fn login(id: &str, days_ago: i64, now: DateTime<Utc>) -> LoginEvidence {
        LoginEvidence {
            at: now - Duration::days(days_ago),
            event_id: id.into(),
            event_type: "LOGIN".into(),
        }
    }

    fn stored_from(seat: &Seat) -> StoredSeatState {
        StoredSeatState::from(seat)
    }

    #[test]
    fn new_then_unchanged_then_changed() {
        let now = Utc::now();
        let l = login("e1", 3, now);
        let SeatDecision::New(seat) =
            reconcile("p", Provider::Box, observed(), None, Some(&l), now, "r1")
        else {
            panic!("expected new")
        };
        assert_eq!(seat.last_login.as_ref().unwrap().event_id, "e1");
        let st = stored_from(&seat);

        // same observation, no new login: nothing to write
        let later = now + Duration::days(1);
        assert_eq!(
            reconcile("p", Provider::Box, observed(), Some(&st), None, later, "r2"),
            SeatDecision::Unchanged
        );
        // an older login in the window does not move last_login back
        let old = login("e0", 30, now);
        assert_eq!(
            reconcile(
                "p",
                Provider::Box,
                observed(),
                Some(&st),
                Some(&old),
                later,
                "r2"
            ),
            SeatDecision::Unchanged
        );
        // a status change is written, first_seen_at kept
        let mut o = observed();
        o.status = "inactive".into();
        let SeatDecision::Changed(c) =
            reconcile("p", Provider::Box, o, Some(&st), None, later, "r2")
        else {
            panic!("expected changed")
        };
        assert_eq!(c.first_seen_at, now);
        assert_eq!(c.last_seen_at, later);
        assert_eq!(c.last_login.unwrap().event_id, "e1");
    }

    #[test]
    fn removed_seat_that_reappears_is_restored() {
        let now = Utc::now();
        let SeatDecision::New(seat) =
            reconcile("p", Provider::Box, observed(), None, None, now, "r1")
        else {
            panic!()
        };
        let mut st = stored_from(&seat);
        st.removed_at = Some(now);
        let SeatDecision::Changed(c) =
            reconcile("p", Provider::Box, observed(), Some(&st), None, now, "r2")
        else {
            panic!("expected restore")
        };
        assert!(c.removed_at.is_none());
    }

    /// (observed, stored, window login, window activity, the shortcut's expected answer)
    type Case<'a> = (
        ObservedSeat,
        &'a StoredSeatState,
        Option<&'a LoginEvidence>,
        Option<&'a LoginEvidence>,
        bool,
    );

    /// The index's shortcut agrees with `reconcile_with_activity`: whenever it says unchanged,
    /// the full comparison does too; it says so in the everyday cases, and defers otherwise.
    #[test]
    fn the_index_tells_unchanged_seats_exactly_as_reconcile_does() {
        let now = Utc::now();
        let (l, a) = (login("e1", 10, now), login("u1", 2, now));
        let SeatDecision::New(seat) = reconcile_with_activity(
            "p",
            Provider::Box,
            observed(),
            None,
            (Some(&l), Some(&a)),
            now,
            "r1",
        ) else {
            panic!()
        };
        let st = stored_from(&seat);
        let ix = IndexedSeat::of(&st);
        let tie = LoginEvidence {
            event_id: "other".into(),
            ..l.clone()
        };
        let (older, newer) = (login("e0", 20, now), login("e2", 1, now));
        let mut renamed = observed();
        renamed.name = "B".into();
        let mut removed = st.clone();
        removed.removed_at = Some(now);
        let mut not_hex = st.clone();
        not_hex.fingerprint = "f".into();
        let cases: Vec<Case> = vec![
            (observed(), &st, None, None, true),
            (observed(), &st, Some(&l), Some(&a), true),
            (observed(), &st, Some(&older), Some(&older), true),
            (observed(), &st, Some(&tie), None, true),
            (observed(), &st, Some(&newer), None, false),
            (observed(), &st, None, Some(&newer), false),
            (renamed, &st, None, None, false),
            (observed(), &removed, None, None, false),
            (observed(), &not_hex, None, None, false),
        ];
        for (i, (o, stored, wl, wa, expect)) in cases.into_iter().enumerate() {
            let at = |e: Option<&LoginEvidence>| e.map(|e| e.at);
            let shortcut = IndexedSeat::of(stored).unchanged(&o, at(wl), at(wa));
            assert_eq!(shortcut, expect, "case {i}");
            let full =
                reconcile_with_activity("p", Provider::Box, o, Some(stored), (wl, wa), now, "r2");
            if shortcut {
                assert_eq!(full, SeatDecision::Unchanged, "case {i}");
            }
        }
        assert!(ix.fingerprint.is_some());
        assert_eq!(parse_fingerprint(&st.fingerprint), ix.fingerprint);
    }

    #[test]
    fn a_seat_without_evidence_keeps_its_fingerprint_from_before_the_instants_only_hash() {
        // the hash of the previous scheme (event ids included) for a seat with no evidence
        let o = observed();
        let mut h = Sha256::new();
        for part in [
            "1",
            "a@x.com",
            "A",
            "active",
            "user",
            "0",
            "business",
            "1",
            &i64::MIN.to_string(),
            "",
            "0",
        ] {
            h.update(part.as_bytes());
            h.update([0x1f]);
        }
        assert_eq!(fingerprint(&o, None), hex::encode(&h.finalize()[..12]));
    }

    #[test]
    fn activity_moves_forward_and_is_written_only_when_it_does() {
        let now = Utc::now();
        let l = login("e1", 30, now);
        let upload = login("u1", 2, now);
        let SeatDecision::New(seat) = reconcile_with_activity(
            "p",
            Provider::Box,
            observed(),
            None,
            (Some(&l), Some(&upload)),
            now,
            "r1",
        ) else {
            panic!()
        };
        assert_eq!(seat.last_activity.as_ref().unwrap().event_id, "u1");
        assert_eq!(seat.inactive_days(now), 2);
        let st = stored_from(&seat);
        let older = login("u0", 10, now);
        assert_eq!(
            reconcile_with_activity(
                "p",
                Provider::Box,
                observed(),
                Some(&st),
                (None, Some(&older)),
                now,
                "r2"
            ),
            SeatDecision::Unchanged
        );
        // a seat stored before activity was recorded keeps its fingerprint
        assert_eq!(
            fingerprint(&observed(), Some(&l)),
            fingerprint_with_activity(&observed(), Some(&l), None)
        );
    }

    #[test]
    fn inactive_days_falls_back_to_creation() {
        let now = Utc::now();
        let mut o = observed();
        o.created_at = Some(now - Duration::days(10));
        let SeatDecision::New(mut seat) = reconcile("p", Provider::Box, o, None, None, now, "r")
        else {
            panic!()
        };
        assert_eq!(seat.inactive_days(now), 10);
        seat.last_login = Some(login("e", 2, now));
        assert_eq!(seat.inactive_days(now), 2);
    }
}
