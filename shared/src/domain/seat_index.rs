//! The stored seats of a profile, as compactly as a roster pass can use them.
//!
//! A roster pass holds one entry per stored seat for the whole sync, so this is what bounds a
//! sync's memory at 500 000 seats. A `HashMap<Box<str>, _>` held ≈ 150 bytes a Box seat there (its
//! table doubles to 1 048 576 buckets past 458 752 entries, and every id is its own allocation):
//! 125.8 MB peak for an unchanged Box re-sync. Here a seat is a 48-byte entry in one vector, its id
//! lies in one shared string, and a hash table of 4-byte entry numbers finds it: ≈ 70 bytes a Box
//! seat. `bench_seat_index` measures both side by side (docs/benchmarks.md, "Seat index").

use std::hash::{BuildHasher, RandomState};

use chrono::{DateTime, Utc};
use hashbrown::HashTable;

use super::seat::{Fingerprint, IndexedSeat};

/// More seats or user-id bytes than an entry can address (4 Gi): never met by a real tenant,
/// refused rather than stored wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the seat index holds more than 4 Gi seats or bytes of user ids")]
pub struct IndexFull;

const HAS_FINGERPRINT: u8 = 1;
const REMOVED: u8 = 2;
const SEEN: u8 = 4;
/// Its state differs from what the index was loaded with (a saved snapshot rewrites its part).
const CHANGED: u8 = 8;

/// One stored seat: where its id lies in [`SeatIndex`]'s id string and its [`IndexedSeat`],
/// flattened.
#[derive(Debug, Clone, Copy)]
struct Entry {
    id_start: u32,
    id_len: u32,
    fingerprint: Fingerprint,
    login_at: Option<DateTime<Utc>>,
    activity_at: Option<DateTime<Utc>>,
    flags: u8,
}

impl Entry {
    fn new(id_start: u32, id_len: u32, s: IndexedSeat) -> Self {
        Self {
            id_start,
            id_len,
            fingerprint: s.fingerprint.unwrap_or_default(),
            login_at: s.login_at,
            activity_at: s.activity_at,
            flags: if s.fingerprint.is_some() {
                HAS_FINGERPRINT
            } else {
                0
            } | if s.removed { REMOVED } else { 0 },
        }
    }

    fn seat(&self) -> IndexedSeat {
        IndexedSeat {
            fingerprint: (self.flags & HAS_FINGERPRINT != 0).then_some(self.fingerprint),
            login_at: self.login_at,
            activity_at: self.activity_at,
            removed: self.flags & REMOVED != 0,
        }
    }

    fn id<'a>(&self, ids: &'a str) -> &'a str {
        let start = self.id_start as usize;
        // ranges are whole `push_str`s, so always in bounds and on char boundaries
        ids.get(start..start + self.id_len as usize)
            .unwrap_or_default()
    }
}

/// The stored seats of a profile, compactly, with which of them this sync has seen.
#[derive(Debug, Default)]
pub struct SeatIndex {
    /// every user id, end to end
    ids: String,
    entries: Vec<Entry>,
    /// entry numbers, hashed by their entry's id
    by_id: HashTable<u32>,
    hasher: RandomState,
}

impl SeatIndex {
    /// Adds (or replaces) a stored seat, not yet seen by this sync.
    pub fn insert(&mut self, user_id: &str, s: IndexedSeat) -> Result<(), IndexFull> {
        if let Some(i) = self.find(user_id) {
            if let Some(e) = self.entries.get_mut(i) {
                *e = Entry::new(e.id_start, e.id_len, s);
            }
            return Ok(());
        }
        let number = u32::try_from(self.entries.len()).map_err(|_| IndexFull)?;
        let id_start = u32::try_from(self.ids.len()).map_err(|_| IndexFull)?;
        let id_len = u32::try_from(user_id.len()).map_err(|_| IndexFull)?;
        id_start.checked_add(id_len).ok_or(IndexFull)?;
        self.ids.push_str(user_id);
        self.entries.push(Entry::new(id_start, id_len, s));
        let Self {
            ids,
            entries,
            by_id,
            hasher,
        } = self;
        by_id.insert_unique(hasher.hash_one(user_id), number, |&n| {
            hasher.hash_one(entries.get(n as usize).map_or("", |e| e.id(ids)))
        });
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What the index holds for `user_id`, marking it seen by this sync.
    pub fn see(&mut self, user_id: &str) -> Option<IndexedSeat> {
        let i = self.find(user_id)?;
        let e = self.entries.get_mut(i)?;
        e.flags |= SEEN;
        Some(e.seat())
    }

    /// The state this sync left `user_id` in (written, or found as stored), marking it seen; a
    /// state other than the loaded one marks the entry changed.
    pub fn record(&mut self, user_id: &str, s: IndexedSeat) -> Result<(), IndexFull> {
        if let Some(e) = self.find(user_id).and_then(|i| self.entries.get_mut(i)) {
            if e.seat() != s {
                *e = Entry::new(e.id_start, e.id_len, s);
                e.flags |= CHANGED;
            }
            e.flags |= SEEN;
            return Ok(());
        }
        self.insert(user_id, s)?;
        if let Some(e) = self.entries.last_mut() {
            e.flags |= SEEN | CHANGED;
        }
        Ok(())
    }

    /// Forgets a seat's fingerprint, so the roster pass compares it in full (its stored item was
    /// written outside the pass); its part is saved again with whatever state the pass leaves.
    pub fn compare_in_full(&mut self, user_id: &str) {
        if let Some(e) = self.find(user_id).and_then(|i| self.entries.get_mut(i)) {
            e.flags = (e.flags & !HAS_FINGERPRINT) | CHANGED;
        }
    }

    /// Records a seat this sync marked removed (or found removed by someone else).
    pub fn set_removed(&mut self, user_id: &str) {
        if let Some(e) = self.find(user_id).and_then(|i| self.entries.get_mut(i)) {
            if e.flags & REMOVED == 0 {
                e.flags |= REMOVED | CHANGED;
            }
        }
    }

    /// Every seat, in insertion order, with whether its state changed since the index was
    /// loaded.
    pub fn iter(&self) -> impl Iterator<Item = (&str, IndexedSeat, bool)> + '_ {
        self.entries
            .iter()
            .map(|e| (e.id(&self.ids), e.seat(), e.flags & CHANGED != 0))
    }

    /// Marks `user_id` seen by this sync without reading its state (a run resuming in a later
    /// invocation: the roster showed it in an earlier one).
    pub fn mark_seen(&mut self, user_id: &str) {
        self.see(user_id);
    }

    /// Seats stored as present (not removed), seen or not.
    pub fn present(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.flags & REMOVED == 0)
            .count()
    }

    /// Seats stored as present that this (finished) sync did not see: they left the tenant. In
    /// id order.
    pub fn gone(&self) -> Vec<String> {
        let mut gone: Vec<String> = self
            .entries
            .iter()
            .filter(|e| e.flags & (SEEN | REMOVED) == 0)
            .map(|e| e.id(&self.ids).to_owned())
            .collect();
        gone.sort_unstable();
        gone
    }

    fn find(&self, user_id: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(user_id);
        self.by_id
            .find(hash, |&n| {
                self.entries
                    .get(n as usize)
                    .is_some_and(|e| e.id(&self.ids) == user_id)
            })
            .map(|&n| n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rand::{Rng, SeedableRng};
    use std::collections::HashMap;

    fn seat(n: u8, removed: bool) -> IndexedSeat {
        let at = Utc
            .timestamp_opt(1_700_000_000 + i64::from(n) * 3_600, 0)
            .single();
        IndexedSeat {
            fingerprint: (!n.is_multiple_of(3)).then_some([n; 12]),
            login_at: at.filter(|_| n.is_multiple_of(2)),
            activity_at: at.filter(|_| n.is_multiple_of(5)),
            removed,
        }
    }

    #[test]
    fn an_entry_is_48_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 48);
    }

    #[test]
    fn reports_unseen_present_seats_only() {
        let mut idx = SeatIndex::default();
        for (id, removed) in [("2", false), ("1", false), ("3", true), ("10", false)] {
            idx.insert(id, seat(1, removed)).expect("insert");
        }
        assert_eq!(idx.len(), 4);
        assert_eq!(idx.present(), 3);
        assert!(idx.see("1").is_some());
        assert!(idx.see("9").is_none());
        assert_eq!(idx.gone(), ["10", "2"]);
        idx.mark_seen("10");
        idx.mark_seen("nobody");
        assert_eq!(idx.gone(), ["2"]);
        // a removed seat seen again reads as removed, and is never gone
        assert!(idx.see("3").expect("indexed").removed);
    }

    #[test]
    fn insert_replaces_a_seat_and_forgets_it_was_seen() {
        let mut idx = SeatIndex::default();
        idx.insert("a", seat(1, false)).expect("insert");
        idx.insert("b", seat(2, false)).expect("insert");
        assert_eq!(idx.see("a"), Some(seat(1, false)));
        idx.insert("a", seat(4, true)).expect("insert");
        idx.insert("b", seat(3, false)).expect("insert");
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.see("a"), Some(seat(4, true)));
        assert_eq!(idx.gone(), ["b"]);
        assert_eq!(idx.see("b"), Some(seat(3, false)));
    }

    #[test]
    fn multibyte_and_prefix_ids_are_told_apart() {
        let mut idx = SeatIndex::default();
        let ids = ["dbmid:é", "dbmid:", "dbmid:ée", "", "dbmid:e", "z"];
        for (n, id) in ids.iter().enumerate() {
            idx.insert(id, seat(n as u8, false)).expect("insert");
        }
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(idx.see(id), Some(seat(n as u8, false)), "{id}");
        }
        assert!(idx.gone().is_empty());
        assert_eq!(idx.see("dbmid:é\0"), None);
    }

    /// Random sequences of inserts (in and out of order, replacing), sightings and marks answer
    /// as the map the index replaced did.
    #[test]
    fn answers_as_a_map_does() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(21);
        for round in 0..200 {
            let mut idx = SeatIndex::default();
            let mut model: HashMap<String, (IndexedSeat, bool)> = HashMap::new();
            // ids of varying length, so byte order is not numeric order
            let id_space = rng.random_range(1..400u32);
            for _ in 0..rng.random_range(0..600) {
                let id = (rng.random_range(0..id_space) * 37 % 1000).to_string();
                match rng.random_range(0..4) {
                    0 | 1 => {
                        let s = seat(rng.random(), rng.random_bool(0.2));
                        idx.insert(&id, s).expect("insert");
                        model.insert(id, (s, false));
                    }
                    2 => {
                        let want = model.get_mut(&id).map(|(s, seen)| {
                            *seen = true;
                            *s
                        });
                        assert_eq!(idx.see(&id), want, "round {round}");
                    }
                    _ => {
                        idx.mark_seen(&id);
                        if let Some((_, seen)) = model.get_mut(&id) {
                            *seen = true;
                        }
                    }
                }
            }
            assert_eq!(idx.len(), model.len());
            let present = model.values().filter(|(s, _)| !s.removed).count();
            assert_eq!(idx.present(), present);
            let mut gone: Vec<String> = model
                .iter()
                .filter(|(_, (s, seen))| !seen && !s.removed)
                .map(|(id, _)| id.clone())
                .collect();
            gone.sort();
            assert_eq!(idx.gone(), gone, "round {round}");
        }
    }
}
