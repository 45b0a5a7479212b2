//! The stored-seat index's memory and speed (docs/benchmarks.md, "Seat index"), against its
//! baseline, side by side in one run: the `HashMap<Box<str>, (IndexedSeat, bool)>` it replaced.
//! Both are loaded with the same seats in key order (as a Query returns them), then every seat is
//! looked up once in a shuffled order (as a roster pass sees them), then the gone seats listed.
//!
//! usage: bench_seat_index [--seats N ...] [--ids box|dropbox]
//!
//! Prints one line per size: heap bytes live after loading and peak during it (a counting global
//! allocator), bytes per seat, and load and lookup wall times; then the new/old ratios.
use std::collections::HashMap;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use seatkeeper::domain::{IndexedSeat, SeatIndex};
use seatkeeper_e2e::heap_count::{measure, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const USAGE: &str = "usage: bench_seat_index [--seats N ...] [--ids box|dropbox]";

fn seat(i: usize) -> IndexedSeat {
    let at = Utc
        .timestamp_opt(1_760_000_000 + (i as i64 % 7_776_000), 0)
        .single();
    IndexedSeat {
        fingerprint: Some([(i % 251) as u8; 12]),
        login_at: at,
        activity_at: at.filter(|_| i.is_multiple_of(3)),
        removed: i.is_multiple_of(50),
    }
}

struct Figures {
    live: usize,
    peak: usize,
    load_s: f64,
    see_s: f64,
    gone: usize,
}

fn main() {
    let mut sizes = Vec::new();
    let mut dropbox = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match (arg.as_str(), it.next()) {
            ("--seats", Some(n)) => match n.replace('_', "").parse::<usize>() {
                Ok(n) => sizes.push(n),
                Err(e) => exit(&format!("--seats {n}: {e}")),
            },
            ("--ids", Some(kind)) if kind == "box" || kind == "dropbox" => {
                dropbox = kind == "dropbox"
            }
            _ => exit(&format!("unexpected {arg:?}")),
        }
    }
    if sizes.is_empty() {
        sizes = vec![100_000, 500_000];
    }
    println!(
        "| ids | seats | index | live MB | peak MB | live B/seat | load s | see-all s | gone |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        // Box ids are decimal numbers, Dropbox team member ids `dbmid:` and 43 characters
        let mut ids: Vec<String> = (0..n)
            .map(|i| {
                let x = 10_000_000_000u64 + (i as u64).wrapping_mul(2_654_435_761) % 89_999_999_999;
                if dropbox {
                    format!("dbmid:AAD{x:0>40}")
                } else {
                    x.to_string()
                }
            })
            .collect();
        ids.sort();
        ids.dedup();
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(5));
        // every 100th seat left the tenant: not looked up
        let seen: Vec<usize> = order.into_iter().filter(|i| i % 100 != 1).collect();

        let (mut old, live, peak, load_s) = measure(|| {
            let mut m: HashMap<Box<str>, (IndexedSeat, bool)> = HashMap::new();
            for (i, id) in ids.iter().enumerate() {
                m.insert(id.as_str().into(), (seat(i), false));
            }
            m
        });
        let t = Instant::now();
        for &i in &seen {
            if let Some((_, s)) = ids.get(i).and_then(|id| old.get_mut(id.as_str())) {
                *s = true;
            }
        }
        let see_s = t.elapsed().as_secs_f64();
        let gone = old.values().filter(|(s, seen)| !seen && !s.removed).count();
        let baseline = Figures {
            live,
            peak,
            load_s,
            see_s,
            gone,
        };
        drop(old);

        let (mut new, live, peak, load_s) = measure(|| {
            let mut ix = SeatIndex::default();
            for (i, id) in ids.iter().enumerate() {
                if let Err(e) = ix.insert(id, seat(i)) {
                    exit(&e.to_string());
                }
            }
            ix
        });
        let t = Instant::now();
        for &i in &seen {
            if let Some(id) = ids.get(i) {
                new.see(id);
            }
        }
        let see_s = t.elapsed().as_secs_f64();
        let gone = new.gone().len();
        let compact = Figures {
            live,
            peak,
            load_s,
            see_s,
            gone,
        };
        drop(new);

        if baseline.gone != compact.gone {
            exit(&format!(
                "gone seats differ: {} against {}",
                compact.gone, baseline.gone
            ));
        }
        let kind = if dropbox { "dropbox" } else { "box" };
        for (name, f) in [("HashMap (before)", &baseline), ("SeatIndex", &compact)] {
            println!(
                "| {kind} | {} | {name} | {:.1} | {:.1} | {:.0} | {:.3} | {:.3} | {} |",
                ids.len(),
                f.live as f64 / 1e6,
                f.peak as f64 / 1e6,
                f.live as f64 / ids.len() as f64,
                f.load_s,
                f.see_s,
                f.gone
            );
        }
        println!(
            "| {kind} | {} | ratio | {:.2} | {:.2} | | {:.2} | {:.2} | |",
            ids.len(),
            compact.live as f64 / baseline.live as f64,
            compact.peak as f64 / baseline.peak as f64,
            compact.load_s / baseline.load_s,
            compact.see_s / baseline.see_s,
        );
    }
}

fn exit(message: &str) -> ! {
    eprintln!("bench_seat_index: {message}\n{USAGE}");
    std::process::exit(2)
}
