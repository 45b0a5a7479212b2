//! Candidates: the rules applied to a profile's seats after each finished sync, and enqueueing
//! (auto mode after a sync, `seatctl approve`) within the blast-radius cap. Used by the sync's
//! Reclamation task, by the reclaim function (the cap's seat count) and by seatctl.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use thiserror::Error;

use crate::domain::rules::{evaluate, ActiveAfter, SeatFacts, Verdict};
use crate::domain::{Approval, Candidate, Profile, ReclaimRequest};
use crate::ports::{QueueError, ReclaimRepo, RequestQueue, SeatRepo, StoreError};

#[derive(Debug, Error)]
pub enum CandidateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// What one evaluation found.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct CandidateReport {
    pub seats_evaluated: u64,
    pub candidates: u64,
    /// The counts below are of seats not active: an active seat counts as active even when an
    /// exemption, the scope or the grace period would also keep it (it is not read at all).
    pub exempt: u64,
    /// Activity within the threshold, of the kind the rules count.
    pub active: u64,
    pub in_grace: u64,
    pub out_of_scope: u64,
    /// No activity within the threshold, but activity was not read for that long yet.
    pub not_observed_long_enough: u64,
    /// Candidate items written (new or changed evidence) and dropped (no longer candidates).
    pub written: u64,
    pub dropped: u64,
}

/// What a refresh leaves for enqueueing: the most inactive candidates not yet requested (at most
/// the number asked for) and how many unrequested candidates there are in all.
#[derive(Debug, Default)]
pub struct Refreshed {
    pub report: CandidateReport,
    pub top_unrequested: Vec<Candidate>,
    pub unrequested: u64,
}

/// Candidate items are flushed in groups of this many (batched writes, bounded memory).
const FLUSH_AT: usize = 100;

/// Re-evaluates every present seat of the profile and stores the candidates: only new candidates
/// and those whose evidence changed are written, those that no longer qualify are dropped. Seats
/// are read a page at a time and only a compact digest per stored candidate is kept, so memory
/// stays flat on a 100 000-seat tenant. Runs only after a finished sync: its data is complete.
/// `keep` is how many of the most inactive unrequested candidates to return (for auto mode).
pub async fn refresh(
    seats: &impl SeatRepo,
    profile: &Profile,
    run_id: &str,
    now: DateTime<Utc>,
    keep: usize,
) -> Result<Refreshed, CandidateError> {
    let mut out = Refreshed::default();
    let target = profile.rules.transfer_target.as_deref();
    // user id → (finding digest, already requested)
    let mut existing = seats.candidate_digests(&profile.id).await?;
    let mut pending: Vec<Candidate> = Vec::with_capacity(FLUSH_AT);
    let observed_since = profile.last_sync.as_ref().and_then(|l| l.observed_since);
    let kept = active_keeps(seats, &profile.id, now).await?;
    // most seats are active: the store need not send them (they are counted, not read)
    let active = ActiveAfter::of(&profile.rules, now);
    let mut start = None;
    loop {
        let page = seats.page(&profile.id, start.take(), Some(active)).await?;
        let next = page.next;
        out.report.seats_evaluated += page.active_left_out;
        out.report.active += page.active_left_out;
        for seat in page.seats.iter().filter(|s| s.removed_at.is_none()) {
            out.report.seats_evaluated += 1;
            // the same count whether or not the store left the seat out
            if seat.active_by(&active) {
                out.report.active += 1;
                continue;
            }
            let verdict = evaluate(
                &SeatFacts {
                    kept_until: kept.get(&seat.user_id).copied(),
                    observed_since,
                    ..SeatFacts::from(seat)
                },
                &profile.rules,
                profile.reclaimable(&seat.license_type),
                target,
                now,
            );
            let evidence = match verdict {
                Verdict::Candidate(evidence) => evidence,
                Verdict::Active { .. } => {
                    out.report.active += 1;
                    continue;
                }
                Verdict::InGrace { .. } => {
                    out.report.in_grace += 1;
                    continue;
                }
                Verdict::Exempt(_) => {
                    out.report.exempt += 1;
                    continue;
                }
                Verdict::OutOfScope => {
                    out.report.out_of_scope += 1;
                    continue;
                }
                Verdict::NotObservedLongEnough { .. } => {
                    out.report.not_observed_long_enough += 1;
                    continue;
                }
            };
            out.report.candidates += 1;
            let ent = profile.entitlement(&seat.license_type);
            let mut c = Candidate {
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
                finding: String::new(),
                waiting: None,
            };
            c.finding = c.finding_digest();
            let requested = match existing.remove(&c.user_id) {
                Some((digest, requested)) if digest == c.finding => requested,
                Some(_) => {
                    // new evidence; an approval or request made on the old evidence still
                    // stands (the reclaim function re-checks the rules before acting)
                    if let Some(old) = seats.get_candidate(&profile.id, &c.user_id).await? {
                        c.listed_at = old.listed_at;
                        c.approved_by = old.approved_by;
                        c.approved_at = old.approved_at;
                        c.request_id = old.request_id;
                        c.requested_at = old.requested_at;
                        c.waiting = old.waiting;
                    }
                    let requested = c.request_id.is_some();
                    pending.push(c.clone());
                    requested
                }
                None => {
                    pending.push(c.clone());
                    false
                }
            };
            if !requested {
                out.unrequested += 1;
                keep_top(&mut out.top_unrequested, c, keep);
            }
            if pending.len() >= FLUSH_AT {
                out.report.written += pending.len() as u64;
                seats.put_candidates(&pending).await?;
                pending.clear();
            }
        }
        match next {
            Some(n) => start = Some(n),
            None => break,
        }
    }
    out.report.written += pending.len() as u64;
    seats.put_candidates(&pending).await?;
    let gone: Vec<String> = existing.into_keys().collect();
    for chunk in gone.chunks(FLUSH_AT) {
        seats.delete_candidates(&profile.id, chunk).await?;
    }
    out.report.dropped = gone.len() as u64;
    Ok(out)
}

/// `user id → end` of the profile's keeps still running at `now` (few: one per user who asked).
pub async fn active_keeps(
    seats: &impl SeatRepo,
    profile_id: &str,
    now: DateTime<Utc>,
) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
    Ok(seats
        .keeps(profile_id)
        .await?
        .into_iter()
        .filter(|k| k.is_active(now))
        .map(|k| (k.user_id, k.until))
        .collect())
}

/// Most inactive first, then by user id (a stable order for equal days).
pub fn more_inactive(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    b.evidence
        .inactive_days
        .cmp(&a.evidence.inactive_days)
        .then_with(|| a.user_id.cmp(&b.user_id))
}

/// Keeps the `keep` most inactive candidates in `top` (sorted).
fn keep_top(top: &mut Vec<Candidate>, c: Candidate, keep: usize) {
    if keep == 0 {
        return;
    }
    let at = top
        .binary_search_by(|x| more_inactive(x, &c))
        .unwrap_or_else(|i| i);
    if at < keep {
        top.insert(at, c);
        top.truncate(keep);
    }
}

/// The number of seats the profile holds (for the blast-radius share), from the last sync's
/// license summaries.
pub async fn seat_count(seats: &impl SeatRepo, profile_id: &str) -> Result<u64, StoreError> {
    Ok(seats
        .license_summaries(profile_id)
        .await?
        .iter()
        .map(|s| u64::from(s.assigned))
        .sum())
}

/// Enqueues a reclaim request for each candidate not yet requested, most inactive first, up to
/// `cap`; records the approval (by `requested_by`, from `source`: `auto` or `seatctl approve`)
/// and the request on the candidate before sending. Candidates over the cap are stored with
/// the reason they wait (`Candidate::waiting`) and picked up by the next auto run or `seatctl
/// approve`. Returns (enqueued, held by the cap).
#[allow(clippy::too_many_arguments)]
pub async fn enqueue(
    seats: &impl SeatRepo,
    approvals: &impl ReclaimRepo,
    queue: &impl RequestQueue,
    candidates: &mut [Candidate],
    requested_by: &str,
    source: &str,
    cap: u64,
    now: DateTime<Utc>,
) -> Result<(Vec<ReclaimRequest>, u64), CandidateError> {
    let mut sent = Vec::new();
    let mut held = 0;
    for c in candidates.iter_mut().filter(|c| c.request_id.is_none()) {
        if sent.len() as u64 >= cap {
            held += 1;
            let why = format!(
                "held by the blast-radius cap ({cap} per run) on {}; waits for the next auto run or `seatctl approve`",
                now.format("%Y-%m-%d")
            );
            if c.waiting.as_deref() != Some(why.as_str()) {
                c.waiting = Some(why);
                seats.put_candidate(c).await?;
            }
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
        // The approval first (the reclaim function checks it), then the request id on the
        // candidate: a crash after sending leaves a request id on the candidate, so it is never
        // sent twice under two ids.
        approvals
            .put_approval(&Approval::for_request(&req, source, now))
            .await?;
        c.request_id = Some(req.request_id.clone());
        c.requested_at = Some(now);
        c.waiting = None;
        seats.put_candidate(c).await?;
        queue.send(&req).await?;
        sent.push(req);
    }
    Ok((sent, held))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::Evidence;

    fn cand(user: &str, days: i64) -> Candidate {
        let now = Utc::now();
        Candidate {
            profile_id: "p".into(),
            user_id: user.into(),
            login: format!("{user}@x"),
            name: user.into(),
            license_type: "business".into(),
            unit_price_cents: None,
            currency: None,
            evidence: Evidence {
                rule: "r".into(),
                threshold_days: 60,
                inactive_days: days,
                last_login: None,
                inactive_since: now,
                license_type: "business".into(),
                evaluated_at: now,
                last_activity: None,
                activity: Default::default(),
                observed_since: None,
            },
            run_id: "r".into(),
            listed_at: now,
            approved_by: None,
            approved_at: None,
            request_id: None,
            requested_at: None,
            finding: String::new(),
            waiting: None,
        }
    }

    #[test]
    fn keep_top_holds_the_most_inactive_in_order() {
        let mut top = Vec::new();
        for (u, d) in [("a", 70), ("b", 300), ("c", 90), ("d", 300), ("e", 61)] {
            keep_top(&mut top, cand(u, d), 3);
        }
        let ids: Vec<&str> = top.iter().map(|c| c.user_id.as_str()).collect();
        assert_eq!(ids, ["b", "d", "c"]);
        let mut none = Vec::new();
        keep_top(&mut none, cand("a", 1), 0);
        assert!(none.is_empty());
    }

    #[test]
    fn the_finding_digest_changes_with_the_evidence_only() {
        let a = cand("a", 70);
        let mut b = a.clone();
        b.listed_at = a.listed_at + chrono::Duration::days(1);
        b.evidence.inactive_days = 71; // a day later: same finding
        assert_eq!(a.finding_digest(), b.finding_digest());
        b.evidence.rule = "other".into();
        assert_ne!(a.finding_digest(), b.finding_digest());
    }
}
