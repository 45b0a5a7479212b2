//! Each user's newest login and newest activity of an activity read, as compactly as a first
//! sync of a large tenant can hold them.
//!
//! A first sync reads its whole backfill window before the roster, so this holds one entry per
//! user active in it for the whole run: at 500 000 Box users it was most of the first sync's
//! 90 MB. A `HashMap<Box<str>, _>` of two evidence records held ≈ 170 bytes an active user there
//! (an 80-byte bucket in a table that doubles, an allocation per user id and per event id).
//! Here a user is a 36-byte entry in one vector; the newest activity when it is not the login
//! (a minority of users) lies in a second vector; ids lie end to end in one byte string; a hash
//! table of 4-byte entry numbers finds the user. `bench_activity` measures both side by side
//! (docs/benchmarks.md, "Activity aggregator").
//!
//! Ids are kept in the fewest bytes that give them back exactly (Dropbox's made every member
//! cost ≈ 90 bytes of text): a user id longer than 16 bytes (Dropbox's `dbmid:…`, 41) as the
//! first 16 bytes of its SHA-256, because users are only ever looked up by id, never listed
//! back to the provider; an event id that is a UUID (Box's) as its 16 bytes; one that ends in a
//! long run of lower-case hex digits (Dropbox's `dbwsid:` + 39 digits, our `dbx-` + 24 hex) as
//! its head and that run two digits a byte.

use std::borrow::Cow;
use std::hash::{BuildHasher, RandomState};

use chrono::{DateTime, Utc};
use hashbrown::HashTable;

/// More users or id bytes than an entry can address (512 Mi bytes): never met by a real tenant,
/// refused rather than stored wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the activity read holds more than 512 Mi bytes of user and event ids, or 4 Gi users")]
pub struct ActivityFull;

/// A piece of evidence as the table takes and gives it: when, the event's id, and its type (an
/// index into the aggregator's list of event types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Evidence<'a> {
    pub at: DateTime<Utc>,
    pub id: Cow<'a, str>,
    pub ty: u32,
}

/// Where an id lies in the table's byte string; `len`'s top bits say how it is packed.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

/// An event id kept as the 16 bytes of a UUID (read back in its canonical hyphenated form,
/// which it was written in); on a user, the 16-byte digest of a long id.
const PACKED: u32 = 1 << 31;
/// An event id kept as [head length, head, hex tail two digits a byte] ([`pack_hex_tail`]).
const HEX_TAIL: u32 = 1 << 30;
/// The hex tail has an odd number of digits (its last byte's low half is padding).
const ODD: u32 = 1 << 29;
const FLAGS: u32 = PACKED | HEX_TAIL | ODD;

impl Span {
    /// Bytes it occupies in the string.
    fn bytes(self) -> u32 {
        self.len & !FLAGS
    }
}

/// User ids up to this long are kept as they are; longer ones as a digest of this many bytes.
const USER_RAW_MAX: usize = 16;
/// How a digested user id reads in [`NewestByUser::iter`] (and so in a saved run): NUL, then
/// the digest's hex; `keep` and `put` take it back as that digest.
const DIGEST_MARK: char = '\0';

/// A user as the table keys them: the id's bytes, or the digest of a long id.
struct UserKey {
    buf: [u8; USER_RAW_MAX],
    len: usize,
    flag: u32,
}

impl UserKey {
    fn of(user_id: &str) -> Self {
        let mut buf = [0u8; USER_RAW_MAX];
        if let Some(b) = buf.get_mut(..user_id.len()) {
            b.copy_from_slice(user_id.as_bytes());
            return Self {
                buf,
                len: user_id.len(),
                flag: 0,
            };
        }
        let marked = user_id
            .strip_prefix(DIGEST_MARK)
            .and_then(|h| hex::decode_to_slice(h, &mut buf).ok());
        if marked.is_none() {
            use sha2::{Digest, Sha256};
            let d = Sha256::digest(user_id.as_bytes());
            buf.copy_from_slice(d.get(..USER_RAW_MAX).unwrap_or_default());
        }
        Self {
            buf,
            len: USER_RAW_MAX,
            flag: PACKED,
        }
    }

    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Whether the user at `span` of `bytes` is this one.
    fn is(&self, bytes: &[u8], span: Span) -> bool {
        span.len & PACKED == self.flag && raw(bytes, span) == self.bytes()
    }
}

/// Event ids ending in at least this many lower-case hex digits have them packed.
const HEX_TAIL_MIN: usize = 8;
/// The longest event id [`pack_hex_tail`] packs (longer ones are kept as text).
const PACK_MAX: usize = 96;

/// `id` as [head length, head, its trailing run of lower-case hex digits two a byte] in `out`,
/// with the span flags saying so; `None` when it has no such run of [`HEX_TAIL_MIN`] digits.
/// An odd run is padded with a `0` digit, which [`unpack_hex_tail`] drops again.
fn pack_hex_tail(id: &str, out: &mut [u8; PACK_MAX]) -> Option<(usize, u32)> {
    let b = id.as_bytes();
    let digits = b
        .iter()
        .rev()
        .take_while(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        .count();
    let head = b.len() - digits;
    let packed = 1 + head + digits.div_ceil(2);
    if digits < HEX_TAIL_MIN || head > usize::from(u8::MAX) || packed > PACK_MAX {
        return None;
    }
    let mut run = [b'0'; 2 * PACK_MAX];
    run.get_mut(..digits)?.copy_from_slice(b.get(head..)?);
    let (first, rest) = out.split_first_mut()?;
    *first = u8::try_from(head).ok()?;
    let (h, tail) = rest.split_at_mut(head);
    h.copy_from_slice(b.get(..head)?);
    let bytes = digits.div_ceil(2);
    hex::decode_to_slice(run.get(..2 * bytes)?, tail.get_mut(..bytes)?).ok()?;
    Some((packed, HEX_TAIL | if digits % 2 == 1 { ODD } else { 0 }))
}

/// The id [`pack_hex_tail`] packed into `b`.
fn unpack_hex_tail(b: &[u8], odd: bool) -> String {
    let (head, tail) = match b.split_first() {
        Some((&n, rest)) => rest.split_at(usize::from(n).min(rest.len())),
        None => (&[][..], &[][..]),
    };
    // the head is a whole prefix of an id cut before ASCII digits: valid UTF-8
    let mut s = String::from(std::str::from_utf8(head).unwrap_or_default());
    s.push_str(&hex::encode(tail));
    if odd {
        s.pop();
    }
    s
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    at: DateTime<Utc>,
    id: Span,
    ty: u32,
}

/// No `other` slot.
const NONE: u32 = u32::MAX;

/// One user: their id, their newest login, and where their newest activity lies in `others`
/// when it is not the login (it is never older than the login).
#[derive(Debug, Clone, Copy)]
struct Entry {
    user: Span,
    login: Option<Slot>,
    other: u32,
}

/// The newest login and newest activity per user (see the module's doc).
#[derive(Debug, Default)]
pub(crate) struct NewestByUser {
    /// user ids and event ids, end to end (text spans are whole `&str`s, so valid UTF-8)
    bytes: Vec<u8>,
    /// bytes no span refers to any more (replaced ids): compacted away when they are half
    garbage: usize,
    entries: Vec<Entry>,
    /// users' newest activity that is not their login; a user keeps their slot once given one
    /// (`None` while the login is the newest)
    others: Vec<Option<Slot>>,
    /// entry numbers, hashed by their entry's user id
    by_user: HashTable<u32>,
    hasher: RandomState,
}

/// Compaction waits for at least this much garbage (small tables never bother).
const MIN_GARBAGE: usize = 64 * 1024;

/// The canonical hyphenated lower-case form of a UUID, if `id` is exactly that.
fn as_uuid(id: &str) -> Option<[u8; 16]> {
    let u = uuid::Uuid::try_parse(id).ok()?;
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    (u.hyphenated().encode_lower(&mut buf) == id).then(|| *u.as_bytes())
}

fn raw(bytes: &[u8], s: Span) -> &[u8] {
    let start = s.start as usize;
    bytes
        .get(start..start + s.bytes() as usize)
        .unwrap_or_default()
}

fn text(bytes: &[u8], s: Span) -> Cow<'_, str> {
    let b = raw(bytes, s);
    if s.len & HEX_TAIL != 0 {
        return Cow::Owned(unpack_hex_tail(b, s.len & ODD != 0));
    }
    if s.len & PACKED != 0 {
        let u = uuid::Uuid::from_slice(b).unwrap_or_default();
        return Cow::Owned(u.hyphenated().to_string());
    }
    // text spans are whole ids copied from `&str`s: always valid UTF-8
    Cow::Borrowed(std::str::from_utf8(b).unwrap_or_default())
}

/// A user id as [`NewestByUser::iter`] gives it: as it came, or its digest after
/// [`DIGEST_MARK`].
fn user_text(bytes: &[u8], s: Span) -> Cow<'_, str> {
    if s.len & PACKED != 0 {
        return Cow::Owned(format!("{DIGEST_MARK}{}", hex::encode(raw(bytes, s))));
    }
    text(bytes, s)
}

impl NewestByUser {
    /// Users with any activity.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Users with a login.
    pub fn with_logins(&self) -> usize {
        self.entries.iter().filter(|e| e.login.is_some()).count()
    }

    pub fn login(&self, user_id: &str) -> Option<Evidence<'_>> {
        let e = self.entry(user_id)?;
        e.login.map(|s| self.evidence(s))
    }

    /// The newest activity of any kind (the login when nothing newer).
    pub fn activity(&self, user_id: &str) -> Option<Evidence<'_>> {
        let e = self.entry(user_id)?;
        self.other(e).or(e.login).map(|s| self.evidence(s))
    }

    /// The instants of [`Self::login`] and [`Self::activity`].
    pub fn instants(&self, user_id: &str) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        self.entry(user_id).map_or((None, None), |e| {
            (
                e.login.map(|s| s.at),
                self.other(e).or(e.login).map(|s| s.at),
            )
        })
    }

    /// Every user with their login and their activity when it is not the login, in no order
    /// (a long user id as its digest: see [`DIGEST_MARK`]).
    pub fn iter(
        &self,
    ) -> impl Iterator<Item = (Cow<'_, str>, Option<Evidence<'_>>, Option<Evidence<'_>>)> {
        self.entries.iter().map(|e| {
            (
                user_text(&self.bytes, e.user),
                e.login.map(|s| self.evidence(s)),
                self.other(e).map(|s| self.evidence(s)),
            )
        })
    }

    /// Keeps `ev` where it is the newest login (`is_login`) or the newest activity; ties keep
    /// what is there, so re-reading the same event changes nothing.
    pub fn keep(
        &mut self,
        user_id: &str,
        is_login: bool,
        ev: Evidence<'_>,
    ) -> Result<(), ActivityFull> {
        let newer = |s: Option<Slot>| s.is_none_or(|s| ev.at > s.at);
        let i = self.find_or_add(user_id)?;
        let Some(&e) = self.entries.get(i) else {
            return Ok(());
        };
        let other = self.other(&e);
        let newer_activity = newer(other.or(e.login));
        if is_login && newer(e.login) {
            let login = self.write(e.login, &ev)?;
            if let Some(entry) = self.entries.get_mut(i) {
                entry.login = Some(login);
            }
            // the login is now the newest activity too, or `other` stays newer
            if newer_activity {
                self.set_other(i, None)?;
            }
        } else if !is_login && newer_activity {
            let slot = self.write(other, &ev)?;
            self.set_other(i, Some(slot))?;
        }
        self.compact_if_wasteful();
        Ok(())
    }

    /// Sets a user's evidence as stored (a saved aggregator being loaded): `other` as given,
    /// even when it ties with the login.
    pub fn put(
        &mut self,
        user_id: &str,
        login: Option<Evidence<'_>>,
        other: Option<Evidence<'_>>,
    ) -> Result<(), ActivityFull> {
        let i = self.find_or_add(user_id)?;
        let Some(&e) = self.entries.get(i) else {
            return Ok(());
        };
        let login = match login {
            Some(ev) => Some(self.write(e.login, &ev)?),
            None => {
                self.drop_slot(e.login);
                None
            }
        };
        if let Some(entry) = self.entries.get_mut(i) {
            entry.login = login;
        }
        let other = match other {
            Some(ev) => Some(self.write(self.other(&e), &ev)?),
            None => None,
        };
        self.set_other(i, other)?;
        self.compact_if_wasteful();
        Ok(())
    }

    fn other(&self, e: &Entry) -> Option<Slot> {
        self.others.get(e.other as usize).copied().flatten()
    }

    /// Sets entry `i`'s other activity, giving it a slot the first time it has one.
    fn set_other(&mut self, i: usize, slot: Option<Slot>) -> Result<(), ActivityFull> {
        let Some(e) = self.entries.get(i).copied() else {
            return Ok(());
        };
        match (self.others.get_mut(e.other as usize), slot) {
            (Some(o), Some(_)) => *o = slot,
            (Some(o), None) => {
                // the login is the newest again: the other record's id is no longer used
                let old = o.take();
                self.drop_slot(old);
            }
            (None, Some(_)) => {
                let n = u32::try_from(self.others.len())
                    .ok()
                    .filter(|&n| n != NONE)
                    .ok_or(ActivityFull)?;
                self.others.push(slot);
                if let Some(e) = self.entries.get_mut(i) {
                    e.other = n;
                }
            }
            (None, None) => {}
        }
        Ok(())
    }

    fn evidence(&self, s: Slot) -> Evidence<'_> {
        Evidence {
            at: s.at,
            id: text(&self.bytes, s.id),
            ty: s.ty,
        }
    }

    fn entry(&self, user_id: &str) -> Option<&Entry> {
        self.entries.get(self.find(user_id)?)
    }

    fn find(&self, user_id: &str) -> Option<usize> {
        self.find_key(&UserKey::of(user_id))
    }

    fn find_key(&self, key: &UserKey) -> Option<usize> {
        let hash = self.hasher.hash_one((key.flag, key.bytes()));
        self.by_user
            .find(hash, |&n| {
                self.entries
                    .get(n as usize)
                    .is_some_and(|e| key.is(&self.bytes, e.user))
            })
            .map(|&n| n as usize)
    }

    /// The entry number of `user_id`, a new entry without evidence if it has none.
    fn find_or_add(&mut self, user_id: &str) -> Result<usize, ActivityFull> {
        let key = UserKey::of(user_id);
        if let Some(i) = self.find_key(&key) {
            return Ok(i);
        }
        let number = u32::try_from(self.entries.len()).map_err(|_| ActivityFull)?;
        let user = self.append(key.bytes(), key.flag)?;
        self.entries.push(Entry {
            user,
            login: None,
            other: NONE,
        });
        let Self {
            bytes,
            entries,
            by_user,
            hasher,
            ..
        } = self;
        by_user.insert_unique(hasher.hash_one((key.flag, key.bytes())), number, |&n| {
            hasher.hash_one(
                entries
                    .get(n as usize)
                    .map_or((0, &[][..]), |e| (e.user.len & PACKED, raw(bytes, e.user))),
            )
        });
        Ok(number as usize)
    }

    /// `ev` in place of `old`: its id overwrites the old id where it fits (a provider's event
    /// ids mostly have one length), else it is appended and the old id becomes garbage.
    fn write(&mut self, old: Option<Slot>, ev: &Evidence<'_>) -> Result<Slot, ActivityFull> {
        let uuid = as_uuid(&ev.id);
        let mut packed = [0u8; PACK_MAX];
        let (new, flag): (&[u8], u32) = match &uuid {
            Some(u) => (u, PACKED),
            None => match pack_hex_tail(&ev.id, &mut packed) {
                Some((n, flags)) => (packed.get(..n).unwrap_or_default(), flags),
                None => (ev.id.as_bytes(), 0),
            },
        };
        let len = u32::try_from(new.len())
            .ok()
            .filter(|l| l & FLAGS == 0)
            .ok_or(ActivityFull)?;
        if let Some(o) = old.filter(|o| o.id.bytes() >= len) {
            let start = o.id.start as usize;
            if let Some(place) = self.bytes.get_mut(start..start + new.len()) {
                place.copy_from_slice(new);
                self.garbage += (o.id.bytes() - len) as usize;
                let id = Span {
                    start: o.id.start,
                    len: len | flag,
                };
                return Ok(Slot {
                    at: ev.at,
                    id,
                    ty: ev.ty,
                });
            }
        }
        self.drop_slot(old);
        let id = self.append(new, flag)?;
        Ok(Slot {
            at: ev.at,
            id,
            ty: ev.ty,
        })
    }

    fn drop_slot(&mut self, s: Option<Slot>) {
        if let Some(s) = s {
            self.garbage += s.id.bytes() as usize;
        }
    }

    fn append(&mut self, b: &[u8], flag: u32) -> Result<Span, ActivityFull> {
        let start = u32::try_from(self.bytes.len()).map_err(|_| ActivityFull)?;
        let len = u32::try_from(b.len()).map_err(|_| ActivityFull)?;
        start
            .checked_add(len)
            .filter(|end| end & FLAGS == 0)
            .ok_or(ActivityFull)?;
        self.bytes.extend_from_slice(b);
        Ok(Span {
            start,
            len: len | flag,
        })
    }

    /// Compacts once garbage is half the bytes: each byte is copied a bounded number of times
    /// on average, and the string never holds more than twice what is live.
    fn compact_if_wasteful(&mut self) {
        if self.garbage >= MIN_GARBAGE && self.garbage * 2 >= self.bytes.len() {
            self.compact();
        }
    }

    /// Rewrites the byte string with only the ids in use (entry numbers, and so the hash table,
    /// stay as they are).
    fn compact(&mut self) {
        let mut bytes = Vec::with_capacity(self.bytes.len().saturating_sub(self.garbage));
        let mut copy = |s: &mut Span| {
            let b = raw(&self.bytes, *s);
            // the new string is no longer than the old one, whose offsets fitted
            s.start = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            bytes.extend_from_slice(b);
        };
        for e in &mut self.entries {
            copy(&mut e.user);
            if let Some(s) = &mut e.login {
                copy(&mut s.id);
            }
        }
        for s in self.others.iter_mut().flatten() {
            copy(&mut s.id);
        }
        self.bytes = bytes;
        self.garbage = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rand::{Rng, SeedableRng};
    use std::collections::HashMap;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
    }

    fn ev(id: &str, secs: i64) -> Evidence<'_> {
        Evidence {
            at: at(secs),
            id: Cow::Borrowed(id),
            ty: 0,
        }
    }

    #[test]
    fn an_entry_is_36_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 36);
        assert_eq!(std::mem::size_of::<Option<Slot>>(), 24);
    }

    #[test]
    fn a_uuid_event_id_is_kept_in_16_bytes_and_read_back_as_it_came() {
        let mut t = NewestByUser::default();
        let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        t.keep("u", true, ev(id, 1)).unwrap();
        assert_eq!(t.bytes.len(), 1 + 16);
        assert_eq!(t.login("u").unwrap().id, id);
        // not in the canonical form: kept as text, exactly
        for other in [
            "0F8FAD5B-D9CB-469F-A165-70867728950E",
            "{0f8fad5b-d9cb-469f-a165-70867728950e}",
        ] {
            let mut t = NewestByUser::default();
            t.keep("u", false, ev(other, 1)).unwrap();
            assert_eq!(t.bytes.len(), 1 + other.len());
            assert_eq!(t.activity("u").unwrap().id, other);
        }
        // a text id over a packed one, and back
        t.keep("u", true, ev("short", 2)).unwrap();
        assert_eq!(t.login("u").unwrap().id, "short");
        t.keep("u", true, ev("3f8fad5b-d9cb-469f-a165-70867728950e", 3))
            .unwrap();
        assert_eq!(
            t.login("u").unwrap().id,
            "3f8fad5b-d9cb-469f-a165-70867728950e"
        );
    }

    #[test]
    fn an_id_ending_in_hex_digits_is_kept_two_digits_a_byte_and_read_back_exactly() {
        // Dropbox's session ids, our team_log digests, odd and even runs, a multi-byte head,
        // hex only, and ids that stay text (a short run, upper case, no run at all)
        let packed = [
            ("dbwsid:000000000000000012340000000000000001234", 1 + 7 + 20),
            ("dbx-0123456789abcdef01234567", 1 + 4 + 12),
            ("évt-123456789", 1 + 5 + 5),
            ("0f8fad5bd9cb469fa16570867728950e", 1 + 16),
        ];
        for (id, bytes) in packed {
            let mut t = NewestByUser::default();
            t.keep("u", false, ev(id, 1)).unwrap();
            assert_eq!(t.bytes.len(), 1 + bytes, "{id}");
            assert_eq!(t.activity("u").unwrap().id, id);
            // the same id read back after a compaction
            t.compact();
            assert_eq!(t.activity("u").unwrap().id, id);
        }
        for id in ["dbwsid:1234567", "DBX-0123456789ABCDEF", "abc-def-ghi", ""] {
            let mut t = NewestByUser::default();
            t.keep("u", true, ev(id, 1)).unwrap();
            assert_eq!(t.bytes.len(), 1 + id.len(), "{id}");
            assert_eq!(t.login("u").unwrap().id, id);
        }
        // a packed id written over a text one in place, and a longer text one after it
        let mut t = NewestByUser::default();
        t.keep("u", true, ev("a-text-event-id-of-forty-bytes-or-so-xyz", 1))
            .unwrap();
        t.keep(
            "u",
            true,
            ev("dbwsid:000000000000000012340000000000000001234", 2),
        )
        .unwrap();
        assert_eq!(
            t.login("u").unwrap().id,
            "dbwsid:000000000000000012340000000000000001234"
        );
        t.keep("u", true, ev("z".repeat(200).as_str(), 3)).unwrap();
        assert_eq!(t.login("u").unwrap().id, "z".repeat(200));
    }

    #[test]
    fn a_long_user_id_is_kept_as_its_digest_and_found_by_id_or_digest() {
        let long = "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU";
        let other = "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwV";
        let mut t = NewestByUser::default();
        t.keep(long, true, ev("a", 1)).unwrap();
        t.keep(other, false, ev("b", 2)).unwrap();
        // 16 bytes a user, not 41
        assert_eq!(t.bytes.len(), 16 + 1 + 16 + 1);
        assert_eq!(t.login(long).unwrap().id, "a");
        assert!(t.login(other).is_none());
        assert_eq!(t.activity(other).unwrap().id, "b");
        assert!(t
            .activity("dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwW")
            .is_none());
        // listed as their digests
        let listed: Vec<_> = t.iter().map(|(u, ..)| u.into_owned()).collect();
        assert!(listed
            .iter()
            .all(|u| u.starts_with(DIGEST_MARK) && u.len() == 33));
        // what iter lists (and a saved run stores) finds the same user when put back
        let mut back = NewestByUser::default();
        for (u, l, o) in t.iter() {
            back.put(&u, l, o).unwrap();
        }
        assert_eq!(back.login(long).unwrap().id, "a");
        assert_eq!(back.activity(other).unwrap().id, "b");
        // ids up to 16 bytes stay as they are
        let mut t = NewestByUser::default();
        t.keep("1234567890123456", true, ev("a", 1)).unwrap();
        let listed = t.iter().next().map(|(u, ..)| u.into_owned());
        assert_eq!(listed.as_deref(), Some("1234567890123456"));
    }

    /// What the table must answer, as plain maps of owned evidence.
    #[derive(Default)]
    struct Model {
        login: HashMap<String, (DateTime<Utc>, String, u32)>,
        other: HashMap<String, (DateTime<Utc>, String, u32)>,
    }

    impl Model {
        fn keep(&mut self, user: &str, is_login: bool, at: DateTime<Utc>, id: &str, ty: u32) {
            let activity = self.other.get(user).or(self.login.get(user)).map(|x| x.0);
            let newer_activity = activity.is_none_or(|a| at > a);
            let rec = (at, id.to_owned(), ty);
            if is_login && self.login.get(user).is_none_or(|l| at > l.0) {
                self.login.insert(user.to_owned(), rec);
                if newer_activity {
                    self.other.remove(user);
                }
            } else if !is_login && newer_activity {
                self.other.insert(user.to_owned(), rec);
            }
        }
    }

    fn owned(e: Option<Evidence<'_>>) -> Option<(DateTime<Utc>, String, u32)> {
        e.map(|e| (e.at, e.id.into_owned(), e.ty))
    }

    fn check(t: &NewestByUser, m: &Model, users: usize) {
        for u in (0..users).map(|n| format!("user-{n}")) {
            let login = m.login.get(&u).cloned();
            let activity = m.other.get(&u).or(m.login.get(&u)).cloned();
            assert_eq!(owned(t.login(&u)), login, "{u}");
            assert_eq!(owned(t.activity(&u)), activity, "{u}");
            assert_eq!(
                t.instants(&u),
                (login.map(|l| l.0), activity.map(|a| a.0)),
                "{u}"
            );
        }
        let mut listed: Vec<_> = t
            .iter()
            .map(|(u, l, o)| (u.into_owned(), owned(l), owned(o)))
            .collect();
        listed.sort();
        let mut expected: Vec<_> = m
            .login
            .keys()
            .chain(m.other.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|u| (u.clone(), m.login.get(u).cloned(), m.other.get(u).cloned()))
            .collect();
        expected.sort();
        assert_eq!(listed, expected);
    }

    /// Random records (ids of varying length, many ties, enough churn to compact several times)
    /// give the answers of plain maps.
    #[test]
    fn answers_as_plain_maps_through_replacements_and_compactions() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut t = NewestByUser::default();
        let mut m = Model::default();
        let mut compactions = 0;
        for i in 0..60_000 {
            let user = format!("user-{}", rng.random_range(0..300));
            let is_login = rng.random_bool(0.4);
            // mostly later than what came before (a feed read in time order), with ties
            let secs = i / 20 + rng.random_range(0..200);
            // mostly one length, sometimes longer or shorter, sometimes multi-byte
            let id = match rng.random_range(0..10) {
                0 => format!("évt-{i}-{}", "x".repeat(rng.random_range(0..40))),
                1 => format!("{i}"),
                2..=4 => uuid::Uuid::from_u128(rng.random()).hyphenated().to_string(),
                _ => format!("{:036}", i),
            };
            let ty = rng.random_range(0..4);
            let before = t.garbage;
            let e = Evidence {
                at: at(secs),
                id: Cow::Borrowed(&id),
                ty,
            };
            t.keep(&user, is_login, e).unwrap();
            m.keep(&user, is_login, at(secs), &id, ty);
            if t.garbage < before {
                compactions += 1;
                check(&t, &m, 300);
            }
            assert!(t.garbage * 2 < t.bytes.len() || t.garbage < MIN_GARBAGE);
        }
        assert!(compactions > 2, "compacted {compactions} times");
        check(&t, &m, 300);
    }

    #[test]
    fn a_shorter_id_is_written_in_place_and_a_longer_one_appended() {
        let mut t = NewestByUser::default();
        t.keep("u", true, ev("id-0123456", 1)).unwrap();
        let len = t.bytes.len();
        t.keep("u", true, ev("abcdefgh", 2)).unwrap();
        assert_eq!((t.bytes.len(), t.garbage), (len, 2));
        assert_eq!(t.login("u").unwrap().id, "abcdefgh");
        t.keep("u", true, ev("a-much-longer-event-id", 3)).unwrap();
        assert_eq!(t.bytes.len(), len + 22);
        assert_eq!(t.garbage, 10);
        assert_eq!(t.login("u").unwrap().id, "a-much-longer-event-id");
        // a multi-byte id over a longer one, then a shorter id cut inside its characters
        t.keep("u", true, ev("ééééé", 4)).unwrap();
        t.keep("u", true, ev("abc", 5)).unwrap();
        assert_eq!(t.login("u").unwrap().id, "abc");
        assert_eq!(t.activity("u").unwrap().id, "abc");
    }

    #[test]
    fn users_that_are_prefixes_of_each_other_are_told_apart() {
        let mut t = NewestByUser::default();
        t.keep("12", true, ev("a", 1)).unwrap();
        t.keep("123", false, ev("b", 2)).unwrap();
        t.keep("1", true, ev("c", 3)).unwrap();
        assert_eq!(t.login("12").unwrap().id, "a");
        assert!(t.login("123").is_none());
        assert_eq!(t.activity("123").unwrap().id, "b");
        assert_eq!(t.activity("1").unwrap().id, "c");
        assert!(t.activity("1234").is_none());
        assert_eq!((t.len(), t.with_logins()), (3, 2));
    }

    #[test]
    fn put_stores_what_it_is_given() {
        let mut t = NewestByUser::default();
        t.put("u", Some(ev("l", 5)), Some(ev("o", 5))).unwrap();
        // a tie stays as stored: the other record is the activity
        assert_eq!(t.activity("u").unwrap().id, "o");
        t.put("u", None, Some(ev("p", 6))).unwrap();
        assert!(t.login("u").is_none());
        assert_eq!(t.activity("u").unwrap().id, "p");
        assert_eq!(t.len(), 1);
    }
}
