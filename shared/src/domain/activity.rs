use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Proof of a login: when, and the provider event that says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginEvidence {
    pub at: DateTime<Utc>,
    pub event_id: String,
    pub event_type: String,
}

impl LoginEvidence {
    /// The newer of two (ties keep `a`, so re-reading the same event changes nothing).
    pub fn newest<'a>(
        a: Option<&'a LoginEvidence>,
        b: Option<&'a LoginEvidence>,
    ) -> Option<&'a LoginEvidence> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b.at > a.at { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}

/// Folds a stream of login events into the newest login per user. Memory is one entry per user
/// who logged in, plus a bounded window of recent event ids: feeds can repeat events near a page
/// boundary, and the max is idempotent anyway, so only the counts need the de-duplication.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginAggregator {
    latest: HashMap<String, LoginEvidence>,
    recent: VecDeque<String>,
    recent_set: HashSet<String>,
    window: usize,
    pub events_read: u64,
    pub duplicates: u64,
}

impl LoginAggregator {
    pub fn new(dedup_window: usize) -> Self {
        Self {
            latest: HashMap::new(),
            recent: VecDeque::with_capacity(dedup_window),
            recent_set: HashSet::with_capacity(dedup_window),
            window: dedup_window.max(1),
            events_read: 0,
            duplicates: 0,
        }
    }

    /// Records one login event for `user_id`. Returns false for a duplicate.
    pub fn add(&mut self, user_id: &str, evidence: LoginEvidence) -> bool {
        if self.recent_set.contains(&evidence.event_id) {
            self.duplicates += 1;
            return false;
        }
        if self.recent.len() == self.window {
            if let Some(old) = self.recent.pop_front() {
                self.recent_set.remove(&old);
            }
        }
        self.recent.push_back(evidence.event_id.clone());
        self.recent_set.insert(evidence.event_id.clone());
        self.events_read += 1;
        match self.latest.get_mut(user_id) {
            Some(cur) if evidence.at <= cur.at => {}
            Some(cur) => *cur = evidence,
            None => {
                self.latest.insert(user_id.to_owned(), evidence);
            }
        }
        true
    }

    pub fn latest(&self, user_id: &str) -> Option<&LoginEvidence> {
        self.latest.get(user_id)
    }

    /// De-duplication for [`ActivityAggregator`]: true (and counted) the first time a record of
    /// this kind and id is seen within the window.
    fn seen(&mut self, kind: ActivityKind, id: &str) -> bool {
        let key = format!("{kind:?}:{id}");
        if self.recent_set.contains(&key) {
            self.duplicates += 1;
            return false;
        }
        if self.recent.len() == self.window {
            if let Some(old) = self.recent.pop_front() {
                self.recent_set.remove(&old);
            }
        }
        self.recent.push_back(key.clone());
        self.recent_set.insert(key);
        self.events_read += 1;
        true
    }

    fn keep_newest(&mut self, user_id: &str, evidence: LoginEvidence) {
        match self.latest.get_mut(user_id) {
            Some(cur) if evidence.at <= cur.at => {}
            Some(cur) => *cur = evidence,
            None => {
                self.latest.insert(user_id.to_owned(), evidence);
            }
        }
    }

    pub fn users(&self) -> usize {
        self.latest.len()
    }
}

/// What kind of use an activity record proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// The user's own sign-in (Box `LOGIN`, Dropbox `login_success`).
    Login,
    /// Something the user did to content (Box `UPLOAD`…, Dropbox file operations and sharing).
    Content,
    /// A client session's last activity (Dropbox device sessions' `updated`).
    Session,
}

/// One activity record of one user, as an adapter reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityEvent {
    pub user_id: String,
    pub kind: ActivityKind,
    pub evidence: LoginEvidence,
}

impl ActivityEvent {
    pub fn new(user_id: impl Into<String>, kind: ActivityKind, evidence: LoginEvidence) -> Self {
        Self {
            user_id: user_id.into(),
            kind,
            evidence,
        }
    }
}

/// One page of an activity read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityPage {
    pub events: Vec<ActivityEvent>,
    /// The provider skipped part of the window (Dropbox `reset`): activity is read without a
    /// gap only from this instant on.
    pub gap_until: Option<DateTime<Utc>>,
    /// Where the read continues after this page (`None`: the last page). Opaque outside the
    /// adapter that made it: handed back to the directory's activity read (`from`) by a run
    /// that resumes in a later invocation.
    pub resume: Option<String>,
}

impl ActivityPage {
    pub fn of(events: Vec<ActivityEvent>) -> Self {
        Self {
            events,
            gap_until: None,
            resume: None,
        }
    }
}

/// Which activity counts for a profile: any use of the seat (the default), or logins only
/// (cheaper on huge tenants: one event category instead of several, no device sessions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityScope {
    #[default]
    Any,
    Logins,
}

impl ActivityScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityScope::Any => "any",
            ActivityScope::Logins => "logins",
        }
    }

    /// Whether records of `kind` count under this scope.
    pub fn counts(self, kind: ActivityKind) -> bool {
        self == ActivityScope::Any || kind == ActivityKind::Login
    }

    /// The activity a verdict rests on, in words.
    pub fn describe(self) -> &'static str {
        match self {
            ActivityScope::Any => "any activity (logins, content events, client sessions)",
            ActivityScope::Logins => "logins only",
        }
    }
}

impl std::str::FromStr for ActivityScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "any" => Ok(Self::Any),
            "logins" | "login" => Ok(Self::Logins),
            other => Err(format!(
                "unknown activity setting {other:?} (expected any or logins)"
            )),
        }
    }
}

impl std::fmt::Display for ActivityScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Folds activity records into the newest login and the newest activity of any kind per user.
/// Memory is at most two entries per active user plus a bounded window of recent ids (as in
/// [`LoginAggregator`]); it also remembers the latest gap a page reported.
/// Serialisable: a run that continues in a later invocation stores it ([`super::RunState`]).
#[derive(Debug, Serialize, Deserialize)]
pub struct ActivityAggregator {
    logins: LoginAggregator,
    any: HashMap<String, LoginEvidence>,
    pub sessions_read: u64,
    pub gap_until: Option<DateTime<Utc>>,
}

impl ActivityAggregator {
    pub fn new(dedup_window: usize) -> Self {
        Self {
            logins: LoginAggregator::new(dedup_window),
            any: HashMap::new(),
            sessions_read: 0,
            gap_until: None,
        }
    }

    /// Records one activity record. Returns false for a duplicate (by kind and id).
    pub fn add(&mut self, e: ActivityEvent) -> bool {
        let ActivityEvent {
            user_id,
            kind,
            evidence,
        } = e;
        if !self.logins.seen(kind, &evidence.event_id) {
            return false;
        }
        if kind == ActivityKind::Session {
            self.sessions_read += 1;
        }
        match self.any.get_mut(&user_id) {
            Some(cur) if evidence.at <= cur.at => {}
            Some(cur) => *cur = evidence.clone(),
            None => {
                self.any.insert(user_id.clone(), evidence.clone());
            }
        }
        if kind == ActivityKind::Login {
            self.logins.keep_newest(&user_id, evidence);
        }
        true
    }

    /// A page's gap: the read is continuous only from the latest one.
    pub fn note_gap(&mut self, until: Option<DateTime<Utc>>) {
        if let Some(t) = until {
            self.gap_until = Some(self.gap_until.map_or(t, |g| g.max(t)));
        }
    }

    pub fn latest_login(&self, user_id: &str) -> Option<&LoginEvidence> {
        self.logins.latest(user_id)
    }

    /// The newest record of any kind (a login included).
    pub fn latest_activity(&self, user_id: &str) -> Option<&LoginEvidence> {
        self.any.get(user_id)
    }

    /// Records read (sessions included), not counting duplicates.
    pub fn events_read(&self) -> u64 {
        self.logins.events_read
    }

    pub fn duplicates(&self) -> u64 {
        self.logins.duplicates
    }

    pub fn users_with_logins(&self) -> usize {
        self.logins.users()
    }

    pub fn users_with_activity(&self) -> usize {
        self.any.len()
    }
}

/// The earliest instant from which a stream's activity has been read without a gap, after a
/// finished read of a window that started at `window_start`. A stream with a checkpoint was
/// read continuously up to it (the window starts before it, by the overlap), so its start stays;
/// a stream without one (first sync, lost or new checkpoint) starts at this window; a gap the
/// provider reported moves it forward. A checkpoint written before this was recorded knows no
/// start: it counts from this window (nothing earlier is proven).
pub fn observed_since(
    previous: Option<&Checkpoint>,
    window_start: DateTime<Utc>,
    gap_until: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let base = previous
        .and_then(|c| c.observed_since)
        .unwrap_or(window_start);
    gap_until.map_or(base, |g| base.max(g))
}

/// Where a run started at `now` reads activity from: the last finished run's checkpoint less the
/// overlap, or `backfill_days` back on a first sync (the sync, and the benchmark's paging floor).
pub fn window_start(
    checkpoint: Option<&Checkpoint>,
    backfill_days: u32,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    checkpoint.map_or(
        now - chrono::Duration::days(i64::from(backfill_days)),
        |c| c.read_until - ACTIVITY_OVERLAP,
    )
}

/// Each activity window starts this long before the last one ended: provider event logs are
/// delivered with latency, so an event created just before the checkpoint can appear after it
/// was read. Re-reading is harmless (the last activity is a maximum) and costs a few pages.
pub const ACTIVITY_OVERLAP: chrono::Duration = chrono::Duration::hours(1);

/// Where an activity stream has been read up to (moves only after a finished run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub stream: String,
    /// Events created before this instant have been read.
    pub read_until: DateTime<Utc>,
    pub run_id: String,
    pub updated_at: DateTime<Utc>,
    /// Activity has been read without a gap since this instant (see [`observed_since`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_since: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ev(id: &str, secs: i64) -> LoginEvidence {
        LoginEvidence {
            at: Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap(),
            event_id: id.into(),
            event_type: "LOGIN".into(),
        }
    }

    #[test]
    fn keeps_newest_per_user_and_counts_duplicates_once() {
        let mut a = LoginAggregator::new(4);
        assert!(a.add("u1", ev("e1", 10)));
        assert!(a.add("u1", ev("e2", 5)));
        assert!(!a.add("u1", ev("e1", 10)));
        assert!(a.add("u2", ev("e3", 1)));
        assert_eq!(a.latest("u1").unwrap().event_id, "e1");
        assert_eq!(a.latest("u2").unwrap().event_id, "e3");
        assert_eq!((a.events_read, a.duplicates, a.users()), (3, 1, 2));
    }

    #[test]
    fn dedup_window_is_bounded() {
        let mut a = LoginAggregator::new(2);
        a.add("u", ev("e1", 1));
        a.add("u", ev("e2", 2));
        a.add("u", ev("e3", 3));
        // e1 fell out of the window: counted again, but the max is unaffected
        assert!(a.add("u", ev("e1", 1)));
        assert_eq!(a.latest("u").unwrap().event_id, "e3");
    }

    fn act(user: &str, kind: ActivityKind, id: &str, secs: i64, ty: &str) -> ActivityEvent {
        let mut e = ev(id, secs);
        e.event_type = ty.into();
        ActivityEvent::new(user, kind, e)
    }

    #[test]
    fn activity_keeps_newest_login_and_newest_of_any_kind() {
        let mut a = ActivityAggregator::new(8);
        assert!(a.add(act("u1", ActivityKind::Login, "l1", 10, "LOGIN")));
        assert!(a.add(act("u1", ActivityKind::Content, "c1", 50, "UPLOAD")));
        assert!(!a.add(act("u1", ActivityKind::Content, "c1", 50, "UPLOAD")));
        assert!(a.add(act(
            "u2",
            ActivityKind::Session,
            "s1",
            70,
            "desktop_client session"
        )));
        // the same id of another kind is another record
        assert!(a.add(act("u2", ActivityKind::Content, "s1", 20, "DOWNLOAD")));
        assert_eq!(a.latest_login("u1").unwrap().event_id, "l1");
        assert_eq!(a.latest_activity("u1").unwrap().event_type, "UPLOAD");
        assert!(a.latest_login("u2").is_none());
        assert_eq!(
            a.latest_activity("u2").unwrap().event_type,
            "desktop_client session"
        );
        assert_eq!(
            (a.events_read(), a.duplicates(), a.sessions_read),
            (4, 1, 1)
        );
        assert_eq!((a.users_with_logins(), a.users_with_activity()), (1, 2));
    }

    #[test]
    fn observation_starts_at_the_first_window_and_moves_only_past_a_gap() {
        let t = |d: i64| Utc.timestamp_opt(1_700_000_000 + d * 86_400, 0).unwrap();
        // first sync: the backfill's start
        assert_eq!(observed_since(None, t(0), None), t(0));
        let cp = Checkpoint {
            stream: "s".into(),
            read_until: t(90),
            run_id: "r".into(),
            updated_at: t(90),
            observed_since: Some(t(0)),
        };
        // a continuous re-sync keeps it
        assert_eq!(observed_since(Some(&cp), t(89), None), t(0));
        // a reset that skipped to day 95 moves it there
        assert_eq!(observed_since(Some(&cp), t(89), Some(t(95))), t(95));
        // a gap before the start changes nothing
        assert_eq!(observed_since(Some(&cp), t(89), Some(t(-5))), t(0));
        // a checkpoint from before observation was recorded proves only this window
        let legacy = Checkpoint {
            observed_since: None,
            ..cp
        };
        assert_eq!(observed_since(Some(&legacy), t(89), None), t(89));
    }

    #[test]
    fn scope_parses_and_counts() {
        assert_eq!("ANY".parse::<ActivityScope>().unwrap(), ActivityScope::Any);
        assert_eq!(
            "logins".parse::<ActivityScope>().unwrap(),
            ActivityScope::Logins
        );
        assert!("files".parse::<ActivityScope>().is_err());
        assert!(ActivityScope::Logins.counts(ActivityKind::Login));
        assert!(!ActivityScope::Logins.counts(ActivityKind::Session));
        assert!(ActivityScope::Any.counts(ActivityKind::Content));
        assert_eq!(ActivityScope::default(), ActivityScope::Any);
    }

    #[test]
    fn newest_prefers_later_and_keeps_first_on_tie() {
        let (a, b) = (ev("a", 1), ev("b", 1));
        assert_eq!(
            LoginEvidence::newest(Some(&a), Some(&b)).unwrap().event_id,
            "a"
        );
        let c = ev("c", 2);
        assert_eq!(
            LoginEvidence::newest(Some(&a), Some(&c)).unwrap().event_id,
            "c"
        );
        assert_eq!(LoginEvidence::newest(None, Some(&c)).unwrap().event_id, "c");
    }
}
