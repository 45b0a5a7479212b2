//! The stored-seat index kept as a snapshot: a few binary parts per profile, so that a roster
//! pass reads its index in a few requests instead of a Query over every stored seat (the one
//! full read of the seats partition left in an unchanged re-sync: 21 % of its instructions,
//! and on moto minutes before the roster can start; `docs/benchmarks.md`, "Seat index
//! snapshot").
//!
//! A seat's entry lies in part `fnv1a(user id) % parts`, so a save rewrites only the parts
//! holding a seat whose state changed; an unchanged re-sync rewrites none. When the snapshot is
//! trusted, and why a stale one is never read, is the adapters' part (`ports::SeatRepo::
//! open_index`): a revision every other seat writer moves.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::seat::IndexedSeat;
use super::seat_index::{IndexFull, SeatIndex};

/// Bytes a part aims at: a third of DynamoDB's 400 KB item, so the fullest of the parts (hashing
/// spreads seats within a few per cent) stays far under it.
pub const PART_TARGET: usize = 128 * 1024;
/// A part larger than this is not saved: under the item limit with room for the keys.
pub const PART_MAX: usize = 380 * 1024;
/// Parts built in one pass over the index: a save holds at most this many parts' bytes.
const GROUP: u32 = 16;
/// The first byte of every part: its format.
const FORMAT: u8 = 1;

const HAS_FINGERPRINT: u8 = 1;
const REMOVED: u8 = 2;
const HAS_LOGIN: u8 = 4;
const HAS_ACTIVITY: u8 = 8;
/// An entry with no state: the seat was seen unchanged (a resumed run's record of what an
/// earlier invocation saw).
const SEEN_ONLY: u8 = 16;

/// A saved snapshot: the seats' revision it holds and its number of parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRef {
    pub rev: u64,
    pub parts: u32,
}

/// What a run's roster pass opened: the seats' revision it moved to (its save holds only if no
/// roster pass moved it since), the snapshot its index came from (`None`: read in full), and
/// the notes it applied (its save deletes them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexTicket {
    pub rev: u64,
    pub snapshot: Option<SnapshotRef>,
    #[serde(default)]
    pub notes: Vec<SnapshotNote>,
    /// Read in full and empty (a first sync): the run keeps no index and saves no snapshot, and
    /// its later invocations start from no seats, reading none (unless an attempt died after
    /// writing: `RunState::writing`).
    #[serde(default)]
    pub empty: bool,
}

/// A seat written outside a roster pass (a reclaim), left beside the snapshot: the next roster
/// pass compares that seat in full instead of trusting the snapshot's entry. `nonce` changes
/// with every write of the note, so a save deletes only a note it applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotNote {
    pub user_id: String,
    pub nonce: String,
}

/// Which snapshot an index being opened may read, and the revision its run saves under. A run's
/// first roster invocation (`resume: None`) has just moved the revision from `rev_before` and
/// trusts the snapshot `current` then only if it was saved under `rev_before`; a later one keeps
/// its ticket's revision and reads its ticket's snapshot only while that is still `current`.
pub fn trusted(
    resume: Option<&IndexTicket>,
    rev_before: u64,
    current: Option<SnapshotRef>,
) -> (u64, Option<SnapshotRef>) {
    match resume {
        None => (rev_before + 1, current.filter(|c| c.rev == rev_before)),
        Some(t) => (t.rev, t.snapshot.filter(|_| current == t.snapshot)),
    }
}

/// The ticket of an index just read (from `snapshot`, or every seat when `None`), with the
/// notes applied to it: each noted seat is compared in full.
pub fn opened(
    index: &mut SeatIndex,
    resume: Option<&IndexTicket>,
    (rev, snapshot): (u64, Option<SnapshotRef>),
    notes: Vec<SnapshotNote>,
) -> IndexTicket {
    for n in &notes {
        index.compare_in_full(&n.user_id);
    }
    IndexTicket {
        rev,
        empty: resume.is_none() && snapshot.is_none() && index.is_empty(),
        snapshot,
        notes,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    #[error("a seat index snapshot part is cut short or malformed")]
    Malformed,
    #[error("a user id of {0} bytes is longer than a snapshot entry holds")]
    LongId(usize),
    #[error("a seat index snapshot part would hold {0} bytes, more than an item holds")]
    TooLarge(usize),
    #[error(transparent)]
    Full(#[from] IndexFull),
}

/// FNV-1a: stable across builds and platforms (the part a seat lies in is stored), and cheap.
fn fnv1a(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The part of a snapshot of `parts` parts that holds `user_id`.
pub fn part_of(user_id: &str, parts: u32) -> u32 {
    // the remainder is below `parts`, a u32
    (fnv1a(user_id) % u64::from(parts.max(1))) as u32
}

fn put_instant(out: &mut Vec<u8>, at: DateTime<Utc>) {
    out.extend_from_slice(&at.timestamp().to_le_bytes());
    out.extend_from_slice(&at.timestamp_subsec_nanos().to_le_bytes());
}

fn put_id(out: &mut Vec<u8>, id: &str, flags: u8) -> Result<(), SnapshotError> {
    let len = u16::try_from(id.len()).map_err(|_| SnapshotError::LongId(id.len()))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(id.as_bytes());
    out.push(flags);
    Ok(())
}

/// Appends one seat's entry.
pub fn encode(out: &mut Vec<u8>, id: &str, s: &IndexedSeat) -> Result<(), SnapshotError> {
    let flags = if s.fingerprint.is_some() {
        HAS_FINGERPRINT
    } else {
        0
    } | if s.removed { REMOVED } else { 0 }
        | if s.login_at.is_some() { HAS_LOGIN } else { 0 }
        | if s.activity_at.is_some() {
            HAS_ACTIVITY
        } else {
            0
        };
    put_id(out, id, flags)?;
    if let Some(f) = s.fingerprint {
        out.extend_from_slice(&f);
    }
    for at in [s.login_at, s.activity_at].into_iter().flatten() {
        put_instant(out, at);
    }
    Ok(())
}

/// Appends an entry that only says the seat was seen (its state unchanged).
pub fn encode_seen(out: &mut Vec<u8>, id: &str) -> Result<(), SnapshotError> {
    put_id(out, id, SEEN_ONLY)
}

/// The bytes [`encode`] appends for this seat.
fn encoded_len(id: &str, s: &IndexedSeat) -> usize {
    3 + id.len()
        + if s.fingerprint.is_some() { 12 } else { 0 }
        + 12 * (usize::from(s.login_at.is_some()) + usize::from(s.activity_at.is_some()))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if self.0.len() < n {
            return Err(SnapshotError::Malformed);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        self.take(N)?
            .try_into()
            .map_err(|_| SnapshotError::Malformed)
    }

    fn instant(&mut self) -> Result<DateTime<Utc>, SnapshotError> {
        let secs = i64::from_le_bytes(self.array()?);
        let nanos = u32::from_le_bytes(self.array()?);
        DateTime::from_timestamp(secs, nanos).ok_or(SnapshotError::Malformed)
    }
}

/// Each entry of `bytes` (entries end to end, as [`encode`] and [`encode_seen`] append them):
/// the id and its state, `None` for a seen-only entry.
pub fn decode(
    bytes: &[u8],
    mut each: impl FnMut(&str, Option<IndexedSeat>) -> Result<(), SnapshotError>,
) -> Result<(), SnapshotError> {
    let mut r = Reader(bytes);
    while !r.0.is_empty() {
        let len = usize::from(u16::from_le_bytes(r.array()?));
        let id = std::str::from_utf8(r.take(len)?).map_err(|_| SnapshotError::Malformed)?;
        let [flags] = r.array()?;
        if flags & SEEN_ONLY != 0 {
            each(id, None)?;
            continue;
        }
        let fingerprint = if flags & HAS_FINGERPRINT != 0 {
            Some(r.array()?)
        } else {
            None
        };
        let login_at = if flags & HAS_LOGIN != 0 {
            Some(r.instant()?)
        } else {
            None
        };
        let activity_at = if flags & HAS_ACTIVITY != 0 {
            Some(r.instant()?)
        } else {
            None
        };
        let seat = IndexedSeat {
            fingerprint,
            login_at,
            activity_at,
            removed: flags & REMOVED != 0,
        };
        each(id, Some(seat))?;
    }
    Ok(())
}

/// Adds the seats of one saved part to `index` (a part starts with its format byte).
pub fn load_part(index: &mut SeatIndex, part: &[u8]) -> Result<(), SnapshotError> {
    match part.split_first() {
        Some((&FORMAT, entries)) => decode(entries, |id, s| match s {
            Some(s) => Ok(index.insert(id, s)?),
            None => Err(SnapshotError::Malformed),
        }),
        _ => Err(SnapshotError::Malformed),
    }
}

/// Applies what an earlier invocation of the same run recorded ([`encode`]d states and
/// [`encode_seen`] entries) to the index this invocation loaded.
pub fn replay(index: &mut SeatIndex, entries: &[u8]) -> Result<(), SnapshotError> {
    decode(entries, |id, s| {
        match s {
            Some(s) => index.record(id, s)?,
            None => index.mark_seen(id),
        }
        Ok(())
    })
}

/// Which parts a save of `index` writes: all of them when the index was not loaded from a
/// snapshot of this many parts, else only those holding a seat whose state changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub parts: u32,
    write: Vec<bool>,
}

impl Plan {
    pub fn new(index: &SeatIndex, loaded: Option<SnapshotRef>) -> Self {
        let bytes: usize = index.iter().map(|(id, s, _)| encoded_len(id, &s)).sum();
        let need = u32::try_from(bytes.div_ceil(PART_TARGET))
            .unwrap_or(u32::MAX)
            .max(1)
            .next_power_of_two();
        // keep the loaded layout while it has room (a tenant that grows a little does not
        // rewrite every part)
        let kept = loaded.map(|s| s.parts).filter(|&p| p >= need);
        let parts = kept.unwrap_or(need);
        let mut write = vec![kept.is_none(); parts as usize];
        if kept.is_some() {
            for (id, _, changed) in index.iter() {
                if changed {
                    if let Some(w) = write.get_mut(part_of(id, parts) as usize) {
                        *w = true;
                    }
                }
            }
        }
        Self { parts, write }
    }

    /// How many parts the save writes.
    pub fn writes(&self) -> usize {
        self.write.iter().filter(|w| **w).count()
    }

    /// The parts to write, [`GROUP`] parts per pass over the index: `(part, bytes)`.
    pub fn groups<'a>(
        &'a self,
        index: &'a SeatIndex,
    ) -> impl Iterator<Item = Result<Vec<(u32, Vec<u8>)>, SnapshotError>> + 'a {
        (0..self.parts)
            .step_by(GROUP as usize)
            .filter(|&first| {
                (first..(first + GROUP).min(self.parts))
                    .any(|p| self.write.get(p as usize) == Some(&true))
            })
            .map(move |first| self.group(index, first))
    }

    fn group(&self, index: &SeatIndex, first: u32) -> Result<Vec<(u32, Vec<u8>)>, SnapshotError> {
        let end = (first + GROUP).min(self.parts);
        let mut bufs: Vec<(u32, Vec<u8>)> = (first..end)
            .filter(|&p| self.write.get(p as usize) == Some(&true))
            .map(|p| (p, vec![FORMAT]))
            .collect();
        for (id, s, _) in index.iter() {
            let p = part_of(id, self.parts);
            if let Some((_, buf)) = bufs.iter_mut().find(|(q, _)| *q == p) {
                encode(buf, id, &s)?;
            }
        }
        if let Some((_, big)) = bufs.iter().find(|(_, b)| b.len() > PART_MAX) {
            return Err(SnapshotError::TooLarge(big.len()));
        }
        Ok(bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn seat(n: u32, removed: bool) -> IndexedSeat {
        let at = Utc
            .timestamp_opt(
                1_700_000_000 + i64::from(n) * 3_600,
                (n % 1_000) * 1_000_003,
            )
            .single();
        IndexedSeat {
            fingerprint: (!n.is_multiple_of(3)).then_some([n as u8; 12]),
            login_at: at.filter(|_| n.is_multiple_of(2)),
            activity_at: at.filter(|_| n.is_multiple_of(5)),
            removed,
        }
    }

    fn index(n: u32) -> SeatIndex {
        let mut idx = SeatIndex::default();
        for i in 0..n {
            idx.insert(&format!("user-{i}-é"), seat(i, i % 7 == 0))
                .expect("insert");
        }
        idx
    }

    fn saved(idx: &SeatIndex, plan: &Plan) -> Vec<(u32, Vec<u8>)> {
        plan.groups(idx)
            .collect::<Result<Vec<_>, _>>()
            .expect("parts")
            .into_iter()
            .flatten()
            .collect()
    }

    fn entries(idx: &SeatIndex) -> Vec<(String, IndexedSeat)> {
        let mut all: Vec<_> = idx.iter().map(|(id, s, _)| (id.to_owned(), s)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    #[test]
    fn a_saved_index_loads_back_exactly() {
        let idx = index(40_000);
        let plan = Plan::new(&idx, None);
        assert!(plan.parts > 8, "{} parts", plan.parts);
        let parts = saved(&idx, &plan);
        assert_eq!(parts.len() as u32, plan.parts);
        let mut back = SeatIndex::default();
        for (_, bytes) in &parts {
            assert!(bytes.len() <= PART_MAX);
            load_part(&mut back, bytes).expect("load");
        }
        assert_eq!(entries(&back), entries(&idx));
        // nothing changed since loading: nothing to write
        assert_eq!(
            Plan::new(
                &back,
                Some(SnapshotRef {
                    rev: 1,
                    parts: plan.parts
                })
            )
            .writes(),
            0
        );
    }

    #[test]
    fn only_the_parts_of_changed_seats_are_rewritten() {
        let idx = index(40_000);
        let first = Plan::new(&idx, None);
        let mut parts: Vec<Vec<u8>> = vec![Vec::new(); first.parts as usize];
        for (p, bytes) in saved(&idx, &first) {
            parts[p as usize] = bytes;
        }
        let mut back = SeatIndex::default();
        for bytes in &parts {
            load_part(&mut back, bytes).expect("load");
        }
        // one seat changes, one is recorded as it was, one is new, one is removed
        back.record("user-10-é", seat(11, false)).expect("record");
        back.record("user-12-é", seat(12, false)).expect("record");
        back.record("newcomer", seat(3, false)).expect("record");
        back.set_removed("user-13-é");
        let loaded = SnapshotRef {
            rev: 1,
            parts: first.parts,
        };
        let plan = Plan::new(&back, Some(loaded));
        let want: std::collections::BTreeSet<u32> = ["user-10-é", "newcomer", "user-13-é"]
            .iter()
            .map(|id| part_of(id, first.parts))
            .collect();
        let written = saved(&back, &plan);
        assert_eq!(
            written
                .iter()
                .map(|(p, _)| *p)
                .collect::<std::collections::BTreeSet<_>>(),
            want
        );
        for (p, bytes) in written {
            parts[p as usize] = bytes;
        }
        let mut again = SeatIndex::default();
        for bytes in &parts {
            load_part(&mut again, bytes).expect("load");
        }
        assert_eq!(entries(&again), entries(&back));
        assert_eq!(again.see("user-10-é"), Some(seat(11, false)));
        assert!(again.see("user-13-é").expect("stored").removed);
    }

    #[test]
    fn a_grown_tenant_gets_more_parts_all_written() {
        let small = index(100);
        let plan = Plan::new(&small, None);
        assert_eq!((plan.parts, plan.writes()), (1, 1));
        let big = index(40_000);
        let plan = Plan::new(&big, Some(SnapshotRef { rev: 3, parts: 1 }));
        assert!(plan.parts > 1);
        assert_eq!(plan.writes(), plan.parts as usize);
    }

    #[test]
    fn replay_applies_states_and_sightings() {
        let mut idx = index(10);
        let mut rec = Vec::new();
        encode(&mut rec, "user-1-é", &seat(9, false)).expect("encode");
        encode_seen(&mut rec, "user-2-é").expect("encode");
        encode(&mut rec, "brand-new", &seat(4, false)).expect("encode");
        replay(&mut idx, &rec).expect("replay");
        assert_eq!(idx.see("brand-new"), Some(seat(4, false)));
        let gone = idx.gone();
        assert!(!gone.contains(&"user-1-é".to_owned()));
        assert!(!gone.contains(&"user-2-é".to_owned()));
        assert!(gone.contains(&"user-3-é".to_owned()));
        let changed: Vec<&str> = idx.iter().filter(|e| e.2).map(|e| e.0).collect();
        assert_eq!(changed, ["user-1-é", "brand-new"]);
    }

    #[test]
    fn bad_bytes_are_an_error_never_a_panic() {
        let idx = index(50);
        let plan = Plan::new(&idx, None);
        let (_, bytes) = saved(&idx, &plan).pop().expect("a part");
        for cut in 0..bytes.len() {
            let mut i = SeatIndex::default();
            // every prefix is either a whole number of entries or an error
            let _ = load_part(&mut i, &bytes[..cut]);
        }
        let mut i = SeatIndex::default();
        assert_eq!(
            load_part(&mut i, &bytes[..bytes.len() - 1]),
            Err(SnapshotError::Malformed)
        );
        assert_eq!(load_part(&mut i, &[7, 0]), Err(SnapshotError::Malformed));
        let mut long = Vec::new();
        assert_eq!(
            encode(&mut long, &"x".repeat(70_000), &seat(1, false)),
            Err(SnapshotError::LongId(70_000))
        );
    }
}
