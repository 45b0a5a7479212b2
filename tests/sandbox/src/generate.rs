//! What the Box tenant and the Dropbox team generators share: the clock, people's names and
//! emails, when they joined and last signed in, and the `(at, seq)`-ordered event logs.
//!
//! Both generators draw from one seeded `SmallRng` in a fixed order, so that a seed always gives
//! the same tenant: every helper here draws exactly what the inline code it replaced drew, in
//! the same order. Change a draw and every generated tenant changes.

use std::collections::HashMap;
use std::ops::Range;

use chrono::{DateTime, Timelike, Utc};
use rand::rngs::SmallRng;
use rand::Rng;

pub(crate) const DAY: i64 = 86_400;

/// The current time truncated to seconds (timestamps on the wire have second precision).
pub(crate) fn now_secs() -> DateTime<Utc> {
    let now = Utc::now();
    now.with_nanosecond(0).unwrap_or(now)
}

pub(crate) fn from_secs(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// The reference time of the unit tests' tenants (so generated data is reproducible).
#[cfg(test)]
pub(crate) fn test_now() -> DateTime<Utc> {
    from_secs(1_748_779_200) // 2025-06-01T12:00:00Z
}

/// The fractions of people whose last sign-in (`last`) is none, and is over 60 days before `now`.
#[cfg(test)]
pub(crate) fn never_and_stale(now: DateTime<Utc>, last: &[Option<DateTime<Utc>>]) -> (f64, f64) {
    let fraction = |f: &dyn Fn(&Option<DateTime<Utc>>) -> bool| {
        last.iter().filter(|l| f(l)).count() as f64 / last.len() as f64
    };
    let stale_before = now - chrono::Duration::days(60);
    (
        fraction(&|l| l.is_none()),
        fraction(&|l| l.is_some_and(|at| at < stale_before)),
    )
}

/// Names of generated users (Box) and members (Dropbox).
pub(crate) const FIRST_NAMES: &[&str] = &[
    "Aaron", "Abigail", "Adrian", "Aisha", "Alex", "Alice", "Amara", "Andrea", "Ben", "Bianca",
    "Carlos", "Chen", "Chloe", "Daniel", "Diana", "Dmitri", "Elena", "Emma", "Farah", "Felix",
    "Gabriel", "Grace", "Hana", "Hugo", "Ines", "Isaac", "Jamal", "Julia", "Kai", "Keiko", "Laura",
    "Leo", "Lina", "Lucas", "Maya", "Mateo", "Nadia", "Noah", "Olivia", "Omar", "Priya", "Quinn",
    "Rafael", "Rosa", "Sam", "Sofia", "Tariq", "Tess", "Uma", "Victor", "Wei", "Yara", "Yusuf",
    "Zoe",
];

#[rustfmt::skip] // One name a line would be 40 lines.
pub(crate) const LAST_NAMES: &[&str] = &[
    "Adams", "Baker", "Bauer", "Chen", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Gupta",
    "Hansen", "Ito", "Jensen", "Kim", "Kowalski", "Larsen", "Lopez", "Martin", "Meyer", "Nakamura",
    "Novak", "Okafor", "Olsen", "Patel", "Perez", "Quinn", "Rossi", "Santos", "Schmidt", "Silva",
    "Singh", "Tanaka", "Turner", "Usman", "Varga", "Wagner", "Walsh", "Wong", "Xu", "Young",
    "Zhang", "Zimmerman",
];

/// A random pick (generated tenants).
pub(crate) fn pick<'a>(rng: &mut SmallRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// A uniform instant in `[lo, hi]` (or `lo` if the range is empty).
pub(crate) fn between(rng: &mut SmallRng, lo: i64, hi: i64) -> i64 {
    if hi <= lo {
        lo
    } else {
        rng.random_range(lo..=hi)
    }
}

/// Unique `first.last[n]@domain` emails (Box logins, Dropbox emails) for generated people.
pub(crate) struct People {
    domain: String,
    counts: HashMap<String, u32>,
}

/// A generated person's name.
pub(crate) struct Person {
    pub first: &'static str,
    pub last: &'static str,
    /// `first.last`, lowercase.
    pub base: String,
    pub email: String,
}

impl People {
    pub(crate) fn new(domain: String, capacity: usize) -> Self {
        People {
            domain,
            counts: HashMap::with_capacity(capacity),
        }
    }

    /// Draws a first and a last name; the second `first.last` gets `first.last2@...`, and so on.
    pub(crate) fn next(&mut self, rng: &mut SmallRng) -> Person {
        let first = pick(rng, FIRST_NAMES);
        let last = pick(rng, LAST_NAMES);
        let base = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
        let n = self.counts.entry(base.clone()).or_insert(0);
        *n += 1;
        let email = if *n == 1 {
            format!("{base}@{}", self.domain)
        } else {
            format!("{base}{n}@{}", self.domain)
        };
        Person {
            first,
            last,
            base,
            email,
        }
    }
}

/// When a generated person joined (Box: `created_at`): the first one (the admin) 1000-1095
/// days before `now`, ~3% in the last 20 days, the rest 20-1095 days before.
pub(crate) fn joined(rng: &mut SmallRng, now: i64, first: bool) -> i64 {
    if first {
        now - rng.random_range(1000 * DAY..1095 * DAY)
    } else if rng.random_bool(0.03) {
        now - rng.random_range(3600..20 * DAY)
    } else {
        now - rng.random_range(20 * DAY..1095 * DAY)
    }
}

/// The last sign-in of a person active in `[start, until]`: none if that is empty; in
/// `[admin_from, until]` for an admin; else ~10% never, ~15% (if they existed then) 61+ days
/// before `now`, the rest in the last 60 days.
pub(crate) fn last_login(
    rng: &mut SmallRng,
    now: i64,
    start: i64,
    until: i64,
    admin_from: Option<i64>,
) -> Option<i64> {
    let r: f64 = rng.random();
    if start >= until {
        None
    } else if let Some(from) = admin_from {
        Some(between(rng, from, until))
    } else if r < 0.10 {
        None
    } else if r < 0.25 && start <= now - 61 * DAY {
        Some(between(rng, start, (now - 61 * DAY).min(until)))
    } else {
        Some(between(rng, start.max(now - 60 * DAY).min(until), until))
    }
}

/// 1-4 sign-ins ending at `last` (the others in `[start, last]`), handed to `record` in order.
pub(crate) fn each_login(
    rng: &mut SmallRng,
    start: i64,
    last: i64,
    mut record: impl FnMut(&mut SmallRng, i64),
) {
    let logins = rng.random_range(1..=4);
    for k in 0..logins {
        let at = if k == 0 {
            last
        } else {
            between(rng, start, last)
        };
        record(rng, at);
    }
}

/// An address in one of the three documentation ranges (RFC 5737).
pub(crate) fn random_ip(rng: &mut SmallRng) -> u32 {
    let octet: u8 = rng.random();
    [
        u32::from_be_bytes([203, 0, 113, octet]),
        u32::from_be_bytes([198, 51, 100, octet]),
        u32::from_be_bytes([192, 0, 2, octet]),
    ][usize::from(octet % 3)]
}

/// A stored event: logs are kept sorted by `(at, seq)`, `seq` unique and increasing in
/// insertion order.
pub(crate) trait Timed {
    fn key(&self) -> (i64, u32);
    fn set_seq(&mut self, seq: u32);

    fn at(&self) -> i64 {
        self.key().0
    }
}

/// Sorts generated events by time (stably) and numbers them; returns the next free `seq`.
pub(crate) fn sequence<E: Timed>(events: &mut [E]) -> u32 {
    events.sort_by_key(Timed::at);
    for (seq, e) in events.iter_mut().enumerate() {
        e.set_seq(u32::try_from(seq).unwrap_or(u32::MAX));
    }
    u32::try_from(events.len()).unwrap_or(u32::MAX)
}

/// Inserts an event (its `seq` already the next one) in order.
pub(crate) fn insert_event<E: Timed>(events: &mut Vec<E>, rec: E) {
    let pos = events.partition_point(|e| e.key() <= rec.key());
    events.insert(pos, rec);
}

/// The events at or after `start` and before `end`, after the event keyed `after`:
/// `(from, to)` indexes (`from` may pass `to`: nothing is left).
pub(crate) fn window<E: Timed>(
    events: &[E],
    start: Option<i64>,
    end: Option<i64>,
    after: Option<(i64, u32)>,
) -> Range<usize> {
    let lo = start.map_or(0, |t| events.partition_point(|e| e.at() < t));
    let hi = end.map_or(events.len(), |t| events.partition_point(|e| e.at() < t));
    let from = match after {
        Some(key) => lo.max(events.partition_point(|e| e.key() <= key)),
        None => lo,
    };
    from..hi
}

/// A page of a log (see [`page`]).
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    /// The key of the last event looked at: where the next page starts.
    pub last: Option<(i64, u32)>,
    /// How many events were looked at.
    pub scanned: usize,
}

/// Up to `limit` events of `range` that `render` keeps (`Some`), looking at `budget` events at
/// most (Box: no budget; Dropbox: the scan budget).
pub(crate) fn page<E: Timed, T>(
    events: &[E],
    range: Range<usize>,
    budget: usize,
    limit: usize,
    mut render: impl FnMut(&E) -> Option<T>,
) -> Page<T> {
    let mut page = Page {
        items: Vec::new(),
        last: None,
        scanned: 0,
    };
    for e in events.get(range).unwrap_or_default().iter().take(budget) {
        page.scanned += 1;
        page.last = Some(e.key());
        if let Some(item) = render(e) {
            page.items.push(item);
            if page.items.len() == limit {
                break;
            }
        }
    }
    page
}
