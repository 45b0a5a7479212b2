use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::newest_by_user::{ActivityFull, Evidence, NewestByUser};

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
    /// The activity this scope counts, of a seat's newest login and newest activity of any kind.
    pub fn counted<'a>(
        self,
        last_login: Option<&'a LoginEvidence>,
        last_activity: Option<&'a LoginEvidence>,
    ) -> Option<&'a LoginEvidence> {
        match self {
            ActivityScope::Any => LoginEvidence::newest(last_login, last_activity),
            ActivityScope::Logins => last_login,
        }
    }

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

/// Folds activity records into each user's newest login and newest activity of any kind, and
/// remembers the latest gap a page reported. De-duplicates within a bounded window of recent
/// record ids: feeds can repeat records near a page boundary (the newest is idempotent anyway,
/// so only the counts need it).
///
/// Memory is one compact entry per active user ([`NewestByUser`]), because a first sync of a
/// large tenant holds its whole backfill window's users here; event types are stored once (a
/// provider has a handful).
/// Serialisable: a run that continues in a later invocation stores it ([`super::RunState`]);
/// load one with [`ActivityAggregator::from_json`], which also reads what earlier versions
/// stored.
#[derive(Debug, Serialize, Deserialize)]
#[serde(from = "AggregatorWire")]
pub struct ActivityAggregator {
    #[serde(serialize_with = "users_out")]
    users: NewestByUser,
    types: Vec<Box<str>>,
    #[serde(skip_serializing)]
    type_index: HashMap<Box<str>, u32>,
    recent: VecDeque<Box<str>>,
    #[serde(skip_serializing)]
    recent_set: HashSet<Box<str>>,
    window: usize,
    events_read: u64,
    duplicates: u64,
    pub sessions_read: u64,
    pub gap_until: Option<DateTime<Utc>>,
}

/// One piece of evidence as the aggregator stores it (`ty`: an index into its types).
#[derive(Serialize, Deserialize)]
struct Kept<S> {
    at: DateTime<Utc>,
    id: S,
    ty: u32,
}

impl<'a> From<Evidence<'a>> for Kept<std::borrow::Cow<'a, str>> {
    fn from(e: Evidence<'a>) -> Self {
        Self {
            at: e.at,
            id: e.id,
            ty: e.ty,
        }
    }
}

impl Kept<String> {
    fn evidence(&self) -> Evidence<'_> {
        Evidence {
            at: self.at,
            id: std::borrow::Cow::Borrowed(&self.id),
            ty: self.ty,
        }
    }
}

/// A user's newest login, and their newest activity when that is not the login, as stored.
#[derive(Serialize, Deserialize)]
struct Newest<S> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    login: Option<Kept<S>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    other: Option<Kept<S>>,
}

/// The users as a JSON object of user id → [`Newest`] (the form every version stored).
fn users_out<S: serde::Serializer>(users: &NewestByUser, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(users.iter().map(|(user, login, other)| {
        (
            user,
            Newest {
                login: login.map(Kept::from),
                other: other.map(Kept::from),
            },
        )
    }))
}

/// Reads the users' object straight into the compact table (no map of them all on the way).
struct UsersIn(NewestByUser);

impl<'de> Deserialize<'de> for UsersIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = UsersIn;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of users' newest evidence")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<UsersIn, A::Error> {
                let mut users = NewestByUser::default();
                while let Some((user, n)) = m.next_entry::<String, Newest<String>>()? {
                    users
                        .put(
                            &user,
                            n.login.as_ref().map(Kept::evidence),
                            n.other.as_ref().map(Kept::evidence),
                        )
                        .map_err(serde::de::Error::custom)?;
                }
                Ok(UsersIn(users))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// What [`ActivityAggregator`] stores (its lookup sets are rebuilt on load).
#[derive(Deserialize)]
struct AggregatorWire {
    users: UsersIn,
    types: Vec<Box<str>>,
    recent: VecDeque<Box<str>>,
    window: usize,
    events_read: u64,
    duplicates: u64,
    sessions_read: u64,
    gap_until: Option<DateTime<Utc>>,
}

impl From<AggregatorWire> for ActivityAggregator {
    fn from(w: AggregatorWire) -> Self {
        Self {
            type_index: (0u32..)
                .zip(&w.types)
                .map(|(i, t)| (t.clone(), i))
                .collect(),
            recent_set: w.recent.iter().cloned().collect(),
            users: w.users.0,
            types: w.types,
            recent: w.recent,
            window: w.window.max(1),
            events_read: w.events_read,
            duplicates: w.duplicates,
            sessions_read: w.sessions_read,
            gap_until: w.gap_until,
        }
    }
}

/// The aggregator as versions before 2026-11-30 stored it (a run saved by one of them can
/// continue after an upgrade).
#[derive(Deserialize)]
struct LegacyAggregator {
    logins: LegacyLogins,
    any: HashMap<String, LoginEvidence>,
    sessions_read: u64,
    gap_until: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct LegacyLogins {
    latest: HashMap<String, LoginEvidence>,
    recent: VecDeque<String>,
    window: usize,
    events_read: u64,
    duplicates: u64,
}

impl TryFrom<LegacyAggregator> for ActivityAggregator {
    type Error = ActivityFull;
    fn try_from(l: LegacyAggregator) -> Result<Self, ActivityFull> {
        let mut a = Self::new(l.logins.window);
        let mut any = l.any;
        for (user, login) in l.logins.latest {
            let other = any.remove(&user).filter(|any| {
                // the newest activity that is the login shares its entry (an activity older
                // than the login cannot be the newest); otherwise as stored, even when tied with
                // the login (the older version kept whichever it read first)
                !(*any == login || any.at < login.at)
            });
            let login = a.kept(login);
            let other = other.map(|e| a.kept(e));
            a.users.put(
                &user,
                Some(login.evidence()),
                other.as_ref().map(Kept::evidence),
            )?;
        }
        // users with activity and no login
        for (user, other) in any {
            let other = a.kept(other);
            a.users.put(&user, None, Some(other.evidence()))?;
        }
        for key in l.logins.recent {
            a.remember(key.into());
        }
        a.events_read = l.logins.events_read;
        a.duplicates = l.logins.duplicates;
        a.sessions_read = l.sessions_read;
        a.gap_until = l.gap_until;
        Ok(a)
    }
}

impl ActivityAggregator {
    pub fn new(dedup_window: usize) -> Self {
        let window = dedup_window.max(1);
        Self {
            users: NewestByUser::default(),
            types: Vec::new(),
            type_index: HashMap::new(),
            recent: VecDeque::with_capacity(window),
            recent_set: HashSet::with_capacity(window),
            window,
            events_read: 0,
            duplicates: 0,
            sessions_read: 0,
            gap_until: None,
        }
    }

    /// A stored aggregator, in this version's form or an earlier one's.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice::<Self>(bytes).or_else(|e| {
            let legacy = serde_json::from_slice::<LegacyAggregator>(bytes).map_err(|_| e)?;
            Self::try_from(legacy).map_err(serde::de::Error::custom)
        })
    }

    /// Records one activity record. Returns false for a duplicate (by kind and id).
    pub fn add(&mut self, e: ActivityEvent) -> Result<bool, ActivityFull> {
        let ActivityEvent {
            user_id,
            kind,
            evidence,
        } = e;
        let key: Box<str> = format!("{kind:?}:{}", evidence.event_id).into();
        if self.recent_set.contains(&key) {
            self.duplicates += 1;
            return Ok(false);
        }
        self.remember(key);
        self.events_read += 1;
        if kind == ActivityKind::Session {
            self.sessions_read += 1;
        }
        let ty = self.type_of(&evidence.event_type);
        let ev = Evidence {
            at: evidence.at,
            id: std::borrow::Cow::Borrowed(&evidence.event_id),
            ty,
        };
        self.users.keep(&user_id, kind == ActivityKind::Login, ev)?;
        Ok(true)
    }

    /// Adds `key` to the de-duplication window, dropping the oldest when it is full.
    fn remember(&mut self, key: Box<str>) {
        if self.recent.len() == self.window {
            if let Some(old) = self.recent.pop_front() {
                self.recent_set.remove(&old);
            }
        }
        self.recent_set.insert(key.clone());
        self.recent.push_back(key);
    }

    /// `e` with its type as an index into the types.
    fn kept(&mut self, e: LoginEvidence) -> Kept<String> {
        Kept {
            at: e.at,
            ty: self.type_of(&e.event_type),
            id: e.event_id,
        }
    }

    fn type_of(&mut self, event_type: &str) -> u32 {
        if let Some(&i) = self.type_index.get(event_type) {
            return i;
        }
        let i = u32::try_from(self.types.len()).unwrap_or(u32::MAX);
        self.types.push(event_type.into());
        self.type_index.insert(event_type.into(), i);
        i
    }

    fn evidence(&self, e: Evidence<'_>) -> LoginEvidence {
        LoginEvidence {
            at: e.at,
            event_id: e.id.into_owned(),
            event_type: usize::try_from(e.ty)
                .ok()
                .and_then(|i| self.types.get(i))
                .map_or_else(String::new, |t| t.to_string()),
        }
    }

    /// A page's gap: the read is continuous only from the latest one.
    pub fn note_gap(&mut self, until: Option<DateTime<Utc>>) {
        if let Some(t) = until {
            self.gap_until = Some(self.gap_until.map_or(t, |g| g.max(t)));
        }
    }

    pub fn latest_login(&self, user_id: &str) -> Option<LoginEvidence> {
        Some(self.evidence(self.users.login(user_id)?))
    }

    /// The newest record of any kind (a login included).
    pub fn latest_activity(&self, user_id: &str) -> Option<LoginEvidence> {
        Some(self.evidence(self.users.activity(user_id)?))
    }

    /// The instants of [`Self::latest_login`] and [`Self::latest_activity`], without copying
    /// the evidence.
    pub fn latest_instants(&self, user_id: &str) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        self.users.instants(user_id)
    }

    /// Records read (sessions included), not counting duplicates.
    pub fn events_read(&self) -> u64 {
        self.events_read
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    pub fn users_with_logins(&self) -> usize {
        self.users.with_logins()
    }

    pub fn users_with_activity(&self) -> usize {
        self.users.len()
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

    fn login(user: &str, id: &str, secs: i64) -> ActivityEvent {
        ActivityEvent::new(user, ActivityKind::Login, ev(id, secs))
    }

    #[test]
    fn keeps_newest_per_user_and_counts_duplicates_once() {
        let mut a = ActivityAggregator::new(4);
        assert!(a.add(login("u1", "e1", 10)).unwrap());
        assert!(a.add(login("u1", "e2", 5)).unwrap());
        assert!(!a.add(login("u1", "e1", 10)).unwrap());
        assert!(a.add(login("u2", "e3", 1)).unwrap());
        assert_eq!(a.latest_login("u1").unwrap().event_id, "e1");
        assert_eq!(a.latest_login("u2").unwrap(), ev("e3", 1));
        assert_eq!(
            (a.events_read(), a.duplicates(), a.users_with_logins()),
            (3, 1, 2)
        );
    }

    #[test]
    fn dedup_window_is_bounded() {
        let mut a = ActivityAggregator::new(2);
        a.add(login("u", "e1", 1)).unwrap();
        a.add(login("u", "e2", 2)).unwrap();
        a.add(login("u", "e3", 3)).unwrap();
        // e1 fell out of the window: counted again, but the newest is unaffected
        assert!(a.add(login("u", "e1", 1)).unwrap());
        assert_eq!(a.latest_login("u").unwrap().event_id, "e3");
        assert_eq!(a.events_read(), 4);
    }

    fn act(user: &str, kind: ActivityKind, id: &str, secs: i64, ty: &str) -> ActivityEvent {
        let mut e = ev(id, secs);
        e.event_type = ty.into();
        ActivityEvent::new(user, kind, e)
    }

    #[test]
    fn activity_keeps_newest_login_and_newest_of_any_kind() {
        let mut a = ActivityAggregator::new(8);
        assert!(a
            .add(act("u1", ActivityKind::Login, "l1", 10, "LOGIN"))
            .unwrap());
        assert!(a
            .add(act("u1", ActivityKind::Content, "c1", 50, "UPLOAD"))
            .unwrap());
        assert!(!a
            .add(act("u1", ActivityKind::Content, "c1", 50, "UPLOAD"))
            .unwrap());
        assert!(a
            .add(act(
                "u2",
                ActivityKind::Session,
                "s1",
                70,
                "desktop_client session"
            ))
            .unwrap());
        // the same id of another kind is another record
        assert!(a
            .add(act("u2", ActivityKind::Content, "s1", 20, "DOWNLOAD"))
            .unwrap());
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

    /// The compact aggregator answers what two plain maps of the newest evidence would (the
    /// first of equal instants kept), over many records with many ties.
    #[test]
    fn compact_entries_answer_as_plain_newest_maps() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut a = ActivityAggregator::new(16);
        let (mut logins, mut any) = (
            HashMap::<String, LoginEvidence>::new(),
            HashMap::<String, LoginEvidence>::new(),
        );
        let keep = |m: &mut HashMap<String, LoginEvidence>, u: &str, e: &LoginEvidence| {
            if m.get(u).is_none_or(|c| e.at > c.at) {
                m.insert(u.to_owned(), e.clone());
            }
        };
        for i in 0..5000 {
            let user = format!("u{}", rng.random_range(0..40));
            let kind = [
                ActivityKind::Login,
                ActivityKind::Content,
                ActivityKind::Session,
            ][rng.random_range(0..3)];
            let ty = ["LOGIN", "UPLOAD", "PREVIEW", "desktop session"][rng.random_range(0..4)];
            let mut e = ev(&format!("e{i}"), rng.random_range(0..200));
            e.event_type = ty.into();
            assert!(a.add(ActivityEvent::new(&user, kind, e.clone())).unwrap());
            keep(&mut any, &user, &e);
            if kind == ActivityKind::Login {
                keep(&mut logins, &user, &e);
            }
        }
        for u in (0..40).map(|n| format!("u{n}")) {
            assert_eq!(a.latest_login(&u).as_ref(), logins.get(&u), "{u}");
            assert_eq!(a.latest_activity(&u).as_ref(), any.get(&u), "{u}");
            assert_eq!(
                a.latest_instants(&u),
                (logins.get(&u).map(|e| e.at), any.get(&u).map(|e| e.at))
            );
        }
        assert_eq!(a.users_with_logins(), logins.len());
        assert_eq!(a.users_with_activity(), any.len());
    }

    #[test]
    fn a_stored_aggregator_loads_with_its_evidence_and_its_dedup_window() {
        let mut a = ActivityAggregator::new(8);
        a.add(act("u1", ActivityKind::Login, "l1", 10, "LOGIN"))
            .unwrap();
        a.add(act("u1", ActivityKind::Content, "c1", 50, "UPLOAD"))
            .unwrap();
        a.add(act("u2", ActivityKind::Session, "s1", 70, "desktop"))
            .unwrap();
        a.note_gap(Some(ev("x", 5).at));
        let mut b = ActivityAggregator::from_json(&serde_json::to_vec(&a).unwrap()).unwrap();
        for u in ["u1", "u2", "u3"] {
            assert_eq!(a.latest_login(u), b.latest_login(u));
            assert_eq!(a.latest_activity(u), b.latest_activity(u));
        }
        assert_eq!(b.gap_until, a.gap_until);
        assert_eq!(
            (b.events_read(), b.sessions_read, b.users_with_logins()),
            (3, 1, 1)
        );
        // the window came along: a repeat is still a duplicate; known types are not added twice
        assert!(!b
            .add(act("u1", ActivityKind::Content, "c1", 50, "UPLOAD"))
            .unwrap());
        assert!(b
            .add(act("u3", ActivityKind::Content, "c2", 60, "UPLOAD"))
            .unwrap());
        assert_eq!(b.types.len(), 3);
        assert_eq!(b.latest_activity("u3").unwrap().event_type, "UPLOAD");
    }

    /// A run saved mid-activity by a version before the compact form continues after an upgrade.
    #[test]
    fn an_aggregator_stored_by_an_earlier_version_loads() {
        let at = |secs: i64| serde_json::to_value(ev("x", secs).at).unwrap();
        let legacy = serde_json::json!({
            "logins": {
                "latest": {
                    "u1": { "at": at(10), "event_id": "l1", "event_type": "LOGIN" },
                    "u3": { "at": at(30), "event_id": "l3", "event_type": "LOGIN" },
                    "u4": { "at": at(40), "event_id": "l4", "event_type": "LOGIN" }
                },
                "recent": ["Login:l1", "Content:c1"],
                "recent_set": ["Login:l1", "Content:c1"],
                "window": 8,
                "events_read": 2,
                "duplicates": 1
            },
            "any": {
                "u1": { "at": at(50), "event_id": "c1", "event_type": "UPLOAD" },
                "u2": { "at": at(20), "event_id": "d1", "event_type": "DOWNLOAD" },
                "u3": { "at": at(30), "event_id": "c3", "event_type": "PREVIEW" },
                "u4": { "at": at(40), "event_id": "l4", "event_type": "LOGIN" }
            },
            "sessions_read": 0,
            "gap_until": null
        });
        let mut a = ActivityAggregator::from_json(&serde_json::to_vec(&legacy).unwrap()).unwrap();
        assert_eq!(a.latest_login("u1").unwrap().event_id, "l1");
        assert_eq!(a.latest_activity("u1").unwrap().event_type, "UPLOAD");
        assert_eq!(a.latest_activity("u2").unwrap().event_id, "d1");
        assert!(a.latest_login("u2").is_none());
        // a content record tied with the login stays the activity, as it was stored
        assert_eq!(a.latest_login("u3").unwrap().event_id, "l3");
        assert_eq!(a.latest_activity("u3").unwrap().event_id, "c3");
        // the login that was the activity is both
        assert_eq!(
            a.latest_activity("u4").unwrap(),
            a.latest_login("u4").unwrap()
        );
        assert_eq!((a.users_with_logins(), a.users_with_activity()), (3, 4));
        assert_eq!((a.events_read(), a.duplicates()), (2, 1));
        assert!(!a
            .add(act("u1", ActivityKind::Content, "c1", 50, "UPLOAD"))
            .unwrap());
        // neither form: the error of this version's form
        assert!(ActivityAggregator::from_json(b"{\"users\": 3}").is_err());
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
