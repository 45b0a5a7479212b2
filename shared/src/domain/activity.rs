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
#[derive(Debug)]
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

    pub fn users(&self) -> usize {
        self.latest.len()
    }
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
