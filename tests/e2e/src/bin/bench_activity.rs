//! The activity aggregator's memory and speed (docs/benchmarks.md, "Activity aggregator"),
//! against its baseline, side by side in one run: the `HashMap<Box<str>, Newest>` of two
//! evidence records per user it replaced (rebuilt here as it was, de-duplication window
//! included). Both read the same backfill, in time order as Box's event stream gives it: about
//! 90 % of users log in (a few times each, some with a device event) and 10 % of those upload
//! later; event ids are UUIDs, as Box's are. Then every user is looked up once, in a shuffled
//! order (as a roster pass does), and the answers of both must agree.
//!
//! `--shape dropbox` reads what a Dropbox sync reads instead: 41-byte `dbmid:` member ids, sign-in
//! events with our `dbx-` + 24-hex ids, and a device session (`dbwsid:` + 39 digits) for 70 % of
//! members (member and session ids from the sandbox's own generators), which a re-sync reads again every run.
//!
//! usage: bench_activity [--shape box|dropbox] [--users N ...]
//!
//! Prints one line per size and structure: heap bytes live after the read and peak during it (a
//! counting global allocator), bytes per active user, read and lookup wall times; then the
//! new/old ratios.
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use seatkeeper::domain::{ActivityAggregator, ActivityEvent, ActivityKind, LoginEvidence};
use seatkeeper_e2e::heap_count::{measure, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The Box adapter's de-duplication window (records).
const WINDOW: usize = 2_000;

/// The aggregator before this change: a map of user id → newest login and newest other
/// activity, each with its own id allocation, and the same de-duplication window.
#[derive(Default)]
struct Baseline {
    users: HashMap<Box<str>, Newest>,
    types: Vec<Box<str>>,
    recent: VecDeque<Box<str>>,
    recent_set: HashSet<Box<str>>,
}

struct Kept {
    at: DateTime<Utc>,
    id: Box<str>,
    ty: u32,
}

#[derive(Default)]
struct Newest {
    login: Option<Kept>,
    other: Option<Kept>,
}

impl Baseline {
    fn add(&mut self, e: ActivityEvent) {
        let key: Box<str> = format!("{:?}:{}", e.kind, e.evidence.event_id).into();
        if self.recent_set.contains(&key) {
            return;
        }
        if self.recent.len() == WINDOW {
            if let Some(old) = self.recent.pop_front() {
                self.recent_set.remove(&old);
            }
        }
        self.recent_set.insert(key.clone());
        self.recent.push_back(key);
        let ev = e.evidence;
        let newer = |k: Option<&Kept>| k.is_none_or(|k| ev.at > k.at);
        let (newer_login, newer_activity) = match self.users.get(e.user_id.as_str()) {
            Some(n) => (
                newer(n.login.as_ref()),
                newer(n.other.as_ref().or(n.login.as_ref())),
            ),
            None => (true, true),
        };
        let is_login = e.kind == ActivityKind::Login;
        if !(newer_activity || is_login && newer_login) {
            return;
        }
        let ty = match self.types.iter().position(|t| **t == *ev.event_type) {
            Some(i) => i as u32,
            None => {
                self.types.push(ev.event_type.as_str().into());
                self.types.len() as u32 - 1
            }
        };
        let kept = Kept {
            at: ev.at,
            id: ev.event_id.into(),
            ty,
        };
        let n = self.users.entry(e.user_id.into()).or_default();
        if is_login {
            n.login = Some(kept);
            if newer_activity {
                n.other = None;
            }
        } else {
            n.other = Some(kept);
        }
    }

    fn instants(&self, user: &str) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        self.users.get(user).map_or((None, None), |n| {
            (
                n.login.as_ref().map(|k| k.at),
                n.other.as_ref().or(n.login.as_ref()).map(|k| k.at),
            )
        })
    }

    /// The newest login and newest activity of `user`, as evidence.
    fn evidence(&self, user: &str) -> (Option<LoginEvidence>, Option<LoginEvidence>) {
        let ev = |k: &Kept| LoginEvidence {
            at: k.at,
            event_id: k.id.to_string(),
            event_type: self
                .types
                .get(k.ty as usize)
                .map_or_else(String::new, |t| t.to_string()),
        };
        self.users.get(user).map_or((None, None), |n| {
            (
                n.login.as_ref().map(ev),
                n.other.as_ref().or(n.login.as_ref()).map(ev),
            )
        })
    }
}

/// A digest of every user's evidence, in `order`.
fn digest(evidence: impl Iterator<Item = (Option<LoginEvidence>, Option<LoginEvidence>)>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for pair in evidence {
        for e in [pair.0, pair.1] {
            match e {
                None => 0u8.hash(&mut h),
                Some(e) => (e.at.timestamp(), e.event_id, e.event_type).hash(&mut h),
            }
        }
    }
    h.finish()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Box,
    Dropbox,
}

/// A backfill of 90 days for `n` users, in time order.
fn backfill(n: usize, shape: Shape) -> (Vec<String>, Vec<ActivityEvent>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let start = 1_760_000_000i64;
    let span = 90 * 86_400;
    let users: Vec<String> = (0..n)
        .map(|i| match shape {
            Shape::Box => (10_000_000_000u64
                + (i as u64).wrapping_mul(2_654_435_761) % 89_999_999_999)
                .to_string(),
            Shape::Dropbox => provider_sandbox::dropbox_team_member_id(&mut rng),
        })
        .collect();
    let mut events: Vec<(i64, usize, ActivityKind, &str)> = Vec::new();
    for u in 0..n {
        if rng.random_bool(0.10) {
            continue;
        }
        for _ in 0..rng.random_range(1..=6) {
            let at = start + rng.random_range(0..span);
            events.push((at, u, ActivityKind::Login, "LOGIN"));
            if rng.random_bool(0.15) {
                events.push((at, u, ActivityKind::Content, "ADD_LOGIN_ACTIVITY_DEVICE"));
            }
        }
        if rng.random_bool(0.10) {
            let at = start + rng.random_range(0..span);
            events.push((at, u, ActivityKind::Content, "UPLOAD"));
        }
        if shape == Shape::Dropbox && rng.random_bool(0.70) {
            // device sessions are read after the event log (a stage of their own)
            let at = start + span + rng.random_range(0..span);
            events.push((at, u, ActivityKind::Session, "web_session"));
        }
    }
    events.sort_unstable_by_key(|e| e.0);
    let events = events
        .into_iter()
        .filter_map(|(at, u, kind, ty)| {
            let event_id = match (shape, kind) {
                (Shape::Box, _) => uuid::Uuid::from_u128(rng.random()).hyphenated().to_string(),
                (Shape::Dropbox, ActivityKind::Session) => {
                    provider_sandbox::dropbox_session_id("dbwsid:", rng.random())
                }
                (Shape::Dropbox, _) => format!("dbx-{:024x}", rng.random::<u128>() >> 32),
            };
            let evidence = LoginEvidence {
                at: Utc.timestamp_opt(at, 0).single()?,
                event_id,
                event_type: ty.to_owned(),
            };
            Some(ActivityEvent::new(users.get(u)?.clone(), kind, evidence))
        })
        .collect();
    (users, events)
}

struct Figures {
    live: usize,
    peak: usize,
    read_s: f64,
    look_s: f64,
}

fn main() {
    let mut sizes = Vec::new();
    let mut shape = Shape::Box;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match (arg.as_str(), it.next()) {
            ("--shape", Some(s)) => match s.as_str() {
                "box" => shape = Shape::Box,
                "dropbox" => shape = Shape::Dropbox,
                _ => exit(&format!("--shape {s}: box or dropbox")),
            },
            ("--users", Some(n)) => match n.replace('_', "").parse::<usize>() {
                Ok(n) => sizes.push(n),
                Err(e) => exit(&format!("--users {n}: {e}")),
            },
            _ => exit(&format!(
                "unexpected {arg:?}\nusage: bench_activity [--shape box|dropbox] [--users N ...]"
            )),
        }
    }
    if sizes.is_empty() {
        sizes = vec![100_000, 500_000];
    }
    println!("| users | active | events | aggregator | live MB | peak MB | live B/active user | read s | look-up-all s |");
    println!("|---:|---:|---:|---|---:|---:|---:|---:|---:|");
    for n in sizes {
        let (users, events) = backfill(n, shape);
        let mut order: Vec<&String> = users.iter().collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(5));
        let n_events = events.len();

        let (old, live, peak, read_s) = measure(|| {
            let mut b = Baseline::default();
            for e in events.iter().cloned() {
                b.add(e);
            }
            b
        });
        let t = Instant::now();
        let old_answers: Vec<_> = order.iter().map(|u| old.instants(u)).collect();
        let baseline = Figures {
            live,
            peak,
            read_s,
            look_s: t.elapsed().as_secs_f64(),
        };
        let old_digest = digest(order.iter().map(|u| old.evidence(u)));
        let active = old.users.len();
        drop(old);

        let (new, live, peak, read_s) = measure(|| {
            let mut a = ActivityAggregator::new(WINDOW);
            for e in events.iter().cloned() {
                if let Err(e) = a.add(e) {
                    exit(&e.to_string());
                }
            }
            a
        });
        let t = Instant::now();
        let new_answers: Vec<_> = order.iter().map(|u| new.latest_instants(u)).collect();
        let look_s = t.elapsed().as_secs_f64();
        let compact = Figures {
            live,
            peak,
            read_s,
            look_s,
        };
        // the same answers, evidence included
        let new_digest = digest(
            order
                .iter()
                .map(|u| (new.latest_login(u), new.latest_activity(u))),
        );
        if new_answers != old_answers
            || new_digest != old_digest
            || new.users_with_activity() != active
        {
            exit("the aggregators' answers differ");
        }
        drop(new);

        for (name, f) in [
            ("HashMap (before)", &baseline),
            ("ActivityAggregator", &compact),
        ] {
            println!(
                "| {n} | {active} | {n_events} | {name} | {:.1} | {:.1} | {:.0} | {:.3} | {:.3} |",
                f.live as f64 / 1e6,
                f.peak as f64 / 1e6,
                f.live as f64 / active.max(1) as f64,
                f.read_s,
                f.look_s
            );
        }
        println!(
            "| {n} | {active} | {n_events} | ratio | {:.2} | {:.2} | | {:.2} | {:.2} |",
            compact.live as f64 / baseline.live.max(1) as f64,
            compact.peak as f64 / baseline.peak.max(1) as f64,
            compact.read_s / baseline.read_s.max(1e-9),
            compact.look_s / baseline.look_s.max(1e-9),
        );
    }
}

fn exit(msg: &str) -> ! {
    eprintln!("bench_activity: {msg}");
    std::process::exit(2)
}
