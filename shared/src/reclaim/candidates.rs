//! Candidates: the rules applied to a profile's seats after each finished sync, and enqueueing
//! (auto mode after a sync, `seatctl approve`) within the blast-radius cap.
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ReclaimError;
use crate::domain::rules::{evaluate, SeatFacts, Verdict};
use crate::domain::{Profile, ReclaimRequest};
use crate::queue::ReclaimQueue;
use crate::store::{Candidate, Store};

/// What one evaluation found.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct CandidateReport {
    pub seats_evaluated: u64,
    pub candidates: u64,
    pub exempt: u64,
    pub active: u64,
    pub in_grace: u64,
    pub out_of_scope: u64,
    /// Candidate items written (new or changed evidence) and dropped (no longer candidates).
    pub written: u64,
    pub dropped: u64,
    pub enqueued: u64,
    /// Candidates left waiting because the blast-radius cap was reached.
    pub held_by_cap: u64,
}

/// Re-evaluates every present seat of the profile and stores the candidates (only what changed
/// is written). Runs only after a finished sync: its data is complete.
pub async fn refresh(
    store: &Store,
    profile: &Profile,
    run_id: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<Candidate>, CandidateReport), ReclaimError> {
    let mut report = CandidateReport::default();
    let mut found: Vec<Candidate> = Vec::new();
    let target = profile.rules.transfer_target.as_deref();
    store
        .for_each_seat_page(&profile.id, |seats| {
            for seat in seats.iter().filter(|s| s.removed_at.is_none()) {
                report.seats_evaluated += 1;
                let verdict = evaluate(
                    &SeatFacts::from(seat),
                    &profile.rules,
                    profile.reclaimable(&seat.license_type),
                    target,
                    now,
                );
                match verdict {
                    Verdict::Candidate(evidence) => {
                        let ent = profile.entitlement(&seat.license_type);
                        found.push(Candidate {
                            profile_id: profile.id.clone(),
                            user_id: seat.user_id.clone(),
                            login: seat.login.clone(),
                            name: seat.name.clone(),
                            license_type: seat.license_type.clone(),
                            unit_price_cents: ent.and_then(|e| e.unit_price_cents),
                            currency: ent.and_then(|e| e.currency.clone()),
                            evidence,
                            run_id: run_id.to_owned(),
                            listed_at: now,
                            approved_by: None,
                            approved_at: None,
                            request_id: None,
                            requested_at: None,
                        });
                    }
                    Verdict::Active { .. } => report.active += 1,
                    Verdict::InGrace { .. } => report.in_grace += 1,
                    Verdict::Exempt(_) => report.exempt += 1,
                    Verdict::OutOfScope => report.out_of_scope += 1,
                }
            }
        })
        .await?;
    report.candidates = found.len() as u64;

    let mut existing: std::collections::HashMap<String, Candidate> = store
        .list_candidates(&profile.id)
        .await?
        .into_iter()
        .map(|c| (c.user_id.clone(), c))
        .collect();
    let mut changed: Vec<Candidate> = Vec::new();
    for c in &mut found {
        match existing.remove(&c.user_id) {
            Some(old) if old.same_finding(c) => *c = old,
            Some(old) => {
                // new evidence; an approval or request made on the old evidence still stands
                // (the reclaim function re-checks the rules before acting)
                c.listed_at = old.listed_at;
                c.approved_by = old.approved_by;
                c.approved_at = old.approved_at;
                c.request_id = old.request_id;
                c.requested_at = old.requested_at;
                changed.push(c.clone());
            }
            None => changed.push(c.clone()),
        }
    }
    // batched: a first sync can list thousands of candidates
    store.put_candidates(&changed).await?;
    report.written = changed.len() as u64;
    drop(changed);
    let gone: Vec<String> = existing.into_keys().collect();
    store.delete_candidates(&profile.id, &gone).await?;
    report.dropped = gone.len() as u64;
    found.sort_by(|a, b| {
        b.evidence
            .inactive_days
            .cmp(&a.evidence.inactive_days)
            .then_with(|| a.user_id.cmp(&b.user_id))
    });
    Ok((found, report))
}

/// The number of seats the profile holds (for the blast-radius share), from the last sync's
/// license summaries.
pub async fn seat_count(store: &Store, profile_id: &str) -> Result<u64, ReclaimError> {
    Ok(store
        .license_summaries(profile_id)
        .await?
        .iter()
        .map(|s| u64::from(s.assigned))
        .sum())
}

/// Enqueues a reclaim request for each candidate not yet requested, most inactive first, up to
/// `cap`; records the request on the candidate. Returns (enqueued, held by the cap).
pub async fn enqueue(
    store: &Store,
    queue: &ReclaimQueue,
    candidates: &mut [Candidate],
    requested_by: &str,
    cap: u64,
    now: DateTime<Utc>,
) -> Result<(Vec<ReclaimRequest>, u64), ReclaimError> {
    let mut sent = Vec::new();
    let mut held = 0;
    for c in candidates.iter_mut().filter(|c| c.request_id.is_none()) {
        if sent.len() as u64 >= cap {
            held += 1;
            continue;
        }
        let reason = format!(
            "{}: {} days without a login{}",
            c.evidence.rule,
            c.evidence.inactive_days,
            c.evidence
                .last_login
                .as_ref()
                .map(|l| format!(" (last {} event {})", l.at.format("%Y-%m-%d"), l.event_id))
                .unwrap_or_else(|| " (never logged in)".to_owned())
        );
        let req = ReclaimRequest::new(&c.profile_id, &c.user_id, false, requested_by, Some(reason));
        // Recorded first: a crash after sending leaves a request id on the candidate, so it is
        // never sent twice under two ids.
        c.request_id = Some(req.request_id.clone());
        c.requested_at = Some(now);
        store.put_candidate(c).await?;
        queue.send(&req).await?;
        sent.push(req);
    }
    Ok((sent, held))
}
