//! Notify mode, a service over ports: after a finished sync's candidates are refreshed, each
//! new candidate is emailed a notice with a single-use "Keep my license" link, reminders go out
//! on the rules' days, a notice whose due date passed with no keep is enqueued as in auto mode
//! (within the blast-radius cap), and a notice whose user is no longer a candidate is
//! cancelled. The sync's Reclamation task calls [`run`] and then [`send_digest`]; the keep page
//! calls [`keep::inspect`] and [`keep::keep`].
//!
//! Idempotent across re-runs: a notice is keyed by its candidacy (created once, conditionally),
//! each reminder day is recorded when sent, and every write is versioned so a keep made during
//! a sync is never overwritten.
pub mod keep;

use std::collections::{HashMap, HashSet};

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

use crate::candidates::{self, CandidateError};
use crate::domain::notice::{
    candidacy_id, day, notice_email, render_digest, token_digest, DigestInput, DigestReclaim,
    NoticeContext,
};
use crate::domain::{
    Candidate, Email, MailEventKind, Notice, NoticeMessage, NoticeState, NoticeToken, Profile,
    Provider, ReclaimStatus,
};
use crate::ports::{
    MailError, MailEvents, MailEventsError, Mailer, NoticeRepo, QueueError, ReclaimRepo, Repos,
    RequestQueue, SeatRepo, StoreError,
};

#[derive(Debug, Error)]
pub enum NotifyError {
    #[error(
        "the profile is in notify mode but NOTICE_SENDER or KEEP_BASE_URL is not set: no notice can be sent (set them, or `seatctl rules set --mode report|approve|auto`)"
    )]
    NotConfigured,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    MailEvents(#[from] MailEventsError),
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

impl From<CandidateError> for NotifyError {
    fn from(e: CandidateError) -> Self {
        match e {
            CandidateError::Store(e) => Self::Store(e),
            CandidateError::Queue(e) => Self::Queue(e),
        }
    }
}

/// What notify mode needs beyond the repositories: the mailer, where bounces and complaints
/// arrive (`()`: nowhere) and where links point.
#[derive(Debug, Clone)]
pub struct Notifier<M, E = ()> {
    pub mailer: M,
    pub events: E,
    /// The HTTP API's base URL; links are `<base>/keep?t=<token>`.
    pub keep_base_url: url::Url,
    /// The admins' digest address (none: no digest).
    pub digest_recipient: Option<String>,
}

/// What one notify pass did (for the Reclamation task's detail and tests).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NotifyReport {
    pub notices_sent: u64,
    pub reminders_sent: u64,
    /// Sends that failed transiently (retried by the next sync).
    pub retry_later: u64,
    pub notice_failed: u64,
    pub no_email: u64,
    pub cancelled: u64,
    pub due: u64,
    pub enqueued: u64,
    pub held: u64,
    /// Notices a keep changed while this pass worked on them (left for the next sync).
    pub conflicts: u64,
    pub paused: bool,
    /// What the mail-events drain at the start of the pass did.
    pub events: MailEventsReport,
}

/// The mail-events drain: bounces and complaints read before anything is decided due.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MailEventsReport {
    /// Messages read (each acknowledged once handled).
    pub read: u64,
    /// Hard bounces and complaints that made a notice `notice_failed`.
    pub failed_notices: u64,
    /// Transient bounces recorded on a notice that stands.
    pub transient: u64,
    /// Events for a message id no notice was sent with (or another event type): acknowledged.
    pub unknown: u64,
    /// Bodies that are not an SES event: logged and acknowledged.
    pub malformed: u64,
    /// Events whose notice was already failed or is closed (kept, cancelled): nothing to do.
    pub unchanged: u64,
    /// Events left on the queue because their notice kept changing under the pass.
    pub retry_later: u64,
}

impl NotifyReport {
    pub fn describe(&self) -> String {
        if self.paused {
            return "notify: paused, no notice sent and nothing enqueued".into();
        }
        let e = &self.events;
        let events = if e.read > 0 {
            format!(
                "; mail events: {} read, {} notice(s) failed by a bounce or complaint, {} transient bounce(s), {} unchanged, {} unknown, {} malformed, {} left for later",
                e.read, e.failed_notices, e.transient, e.unchanged, e.unknown, e.malformed, e.retry_later
            )
        } else {
            String::new()
        };
        format!(
            "notify: {} notice(s) and {} reminder(s) sent, {} to retry, {} notice failure(s), {} without email, {} cancelled, {} due: enqueued {}, {} held by the cap",
            self.notices_sent,
            self.reminders_sent,
            self.retry_later,
            self.notice_failed,
            self.no_email,
            self.cancelled,
            self.due,
            self.enqueued,
            self.held
        ) + &events
    }
}

/// A new keep token: 32 bytes from the OS RNG, base64url (no padding) for the link, and its
/// SHA-256 digest for the store. The token is only ever in the email.
pub fn new_token() -> Result<(String, String), NotifyError> {
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| NotifyError::Random(e.to_string()))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let digest = token_digest(&token);
    Ok((token, digest))
}

/// The keep link for a token.
pub fn keep_link(base: &url::Url, token: &str) -> String {
    format!("{}/keep?t={token}", base.as_str().trim_end_matches('/'))
}

/// Who receives a reclaimed user's files, in words for the notice.
async fn files_to(seats: &impl SeatRepo, profile: &Profile) -> Result<String, StoreError> {
    Ok(match profile.provider {
        Provider::Box => match profile.rules.transfer_target.as_deref() {
            Some(target) => match seats.get(&profile.id, target).await? {
                Some(s) => format!("the Box administrator {} ({})", s.name, s.login),
                None => format!("the Box administrator with user id {target}"),
            },
            None => "the Box administrator named in seatkeeper's rules".into(),
        },
        Provider::Dropbox => {
            "the Dropbox team administrator who connected seatkeeper's reclaim app".into()
        }
    })
}

/// One notify pass over a profile whose candidates were just refreshed from a finished sync.
/// `seats` is the number of present seats (the blast-radius share).
pub async fn run<R: Repos, M: Mailer, E: MailEvents, Q: RequestQueue>(
    repos: &R,
    notifier: Option<&Notifier<M, E>>,
    queue: Option<&Q>,
    profile: &Profile,
    seats: u64,
    now: DateTime<Utc>,
) -> Result<NotifyReport, NotifyError> {
    let mut report = NotifyReport::default();
    if profile.rules.paused {
        report.paused = true;
        return Ok(report);
    }
    let notifier = notifier.ok_or(NotifyError::NotConfigured)?;
    // first: a bounce that has arrived must never be outrun by the due date
    report.events = drain_mail_events(repos, &notifier.events, now).await?;
    let rules = &profile.rules;
    let candidates = repos.seats().list_candidates(&profile.id).await?;
    let mut notices: HashMap<(String, String), Notice> = repos
        .notices()
        .notices(&profile.id)
        .await?
        .into_iter()
        .map(|n| ((n.user_id.clone(), n.candidacy.clone()), n))
        .collect();

    // No longer a candidate of that candidacy: an open notice is cancelled.
    let current: HashSet<(String, String)> = candidates
        .iter()
        .map(|c| (c.user_id.clone(), candidacy_id(c)))
        .collect();
    for (k, n) in notices.iter_mut() {
        if !current.contains(k) && n.state.is_open() && n.cancel(now) {
            match save(repos, n).await? {
                true => report.cancelled += 1,
                false => report.conflicts += 1,
            }
        }
    }

    let files_to = files_to(repos.seats(), profile).await?;
    let mut due: Vec<Candidate> = Vec::new();
    for c in &candidates {
        let k = (c.user_id.clone(), candidacy_id(c));
        let mut n = match notices.remove(&k) {
            Some(n) => n,
            None => {
                if c.request_id.is_some() {
                    // requested by an operator before any notice: nothing to announce
                    continue;
                }
                // both providers' roster login is the user's email address
                let n = Notice::new(c, Some(c.login.clone()), now);
                if !repos.notices().create_notice(&n).await? {
                    report.conflicts += 1;
                    continue;
                }
                if n.state == NoticeState::NoEmail {
                    report.no_email += 1;
                }
                n
            }
        };
        match n.state {
            NoticeState::Pending => {
                let due_at = Notice::due_date(now, rules.notice_days);
                match send(repos, notifier, profile, &files_to, &n, due_at, None, now).await? {
                    Ok((message_id, digest)) => {
                        record_message(repos, &n, &message_id, now).await?;
                        let sent = n.sent(message_id, digest, now, rules.notice_days);
                        if sent.is_ok() && save(repos, &mut n).await? {
                            report.notices_sent += 1;
                        } else {
                            report.conflicts += 1;
                        }
                    }
                    Err(e) => {
                        let permanent = e.is_permanent();
                        tracing::warn!(profile = %profile.id, user = %n.user_id, error = %e, "notice not sent");
                        if n.send_failed(e.to_string(), permanent, now).is_ok()
                            && save(repos, &mut n).await?
                        {
                            if permanent {
                                report.notice_failed += 1;
                            } else {
                                report.retry_later += 1;
                            }
                        }
                    }
                }
            }
            NoticeState::Sent => {
                if n.mark_due_if_passed(now) {
                    if save(repos, &mut n).await? {
                        report.due += 1;
                        due.push(c.clone());
                    } else {
                        report.conflicts += 1;
                    }
                } else if let Some(d) = n.reminder_due(&rules.reminder_days, now) {
                    let Some(due_at) = n.due_at else { continue };
                    match send(
                        repos,
                        notifier,
                        profile,
                        &files_to,
                        &n,
                        due_at,
                        Some(d),
                        now,
                    )
                    .await?
                    {
                        Ok((message_id, digest)) => {
                            record_message(repos, &n, &message_id, now).await?;
                            if n.reminded(d, &rules.reminder_days, message_id, digest, now)
                                .is_ok()
                                && save(repos, &mut n).await?
                            {
                                report.reminders_sent += 1;
                            }
                        }
                        Err(e) => {
                            // the notice itself went out: a failed reminder is retried
                            tracing::warn!(profile = %profile.id, user = %n.user_id, error = %e, "reminder not sent");
                            report.retry_later += 1;
                        }
                    }
                }
            }
            NoticeState::Due => {
                report.due += 1;
                due.push(c.clone());
            }
            NoticeState::Requested if c.request_id.is_none() => {
                // the reclaim function let the request go (the daily cap, a pause, another
                // request for the user) and cleared it from the candidate: due again
                if n.released(now).is_ok() && save(repos, &mut n).await? {
                    report.due += 1;
                    due.push(c.clone());
                } else {
                    report.conflicts += 1;
                }
            }
            // kept (the keep exempts the user from the next refresh), requested, and the
            // states that wait for an admin: nothing to do
            _ => {}
        }
    }

    if !due.is_empty() {
        // a request id on the candidate already (a crash after enqueueing): record it
        for c in due.iter().filter(|c| c.request_id.is_some()) {
            mark_requested(repos, c, now).await?;
        }
        let queue = queue.ok_or(QueueError::NotConfigured)?;
        // the most inactive first, as in auto mode
        due.sort_by(candidates::more_inactive);
        let (sent, held) = candidates::enqueue(
            repos.seats(),
            repos.reclaims(),
            queue,
            &mut due,
            "seatkeeper notify mode",
            "notify",
            rules.cap(seats),
            now,
        )
        .await?;
        report.enqueued = sent.len() as u64;
        report.held = held;
        for c in due.iter().filter(|c| c.request_id.is_some()) {
            mark_requested(repos, c, now).await?;
        }
    }
    Ok(report)
}

/// Remembers which notice an email belongs to, so its bounce can find it. Before the notice
/// is saved as sent: a bounce can arrive within seconds.
async fn record_message<R: Repos>(
    repos: &R,
    n: &Notice,
    message_id: &str,
    now: DateTime<Utc>,
) -> Result<(), NotifyError> {
    if message_id.is_empty() {
        return Ok(());
    }
    repos
        .notices()
        .put_message(&NoticeMessage::of(n, message_id, now))
        .await?;
    Ok(())
}

/// At most this many batches (of up to 10) per pass: a flood is finished by the next syncs.
const MAX_EVENT_BATCHES: usize = 100;
/// Re-reads of a notice that changed while a bounce was applied to it.
const EVENT_SAVE_ATTEMPTS: usize = 3;

/// Reads every waiting bounce and complaint and applies it to the notice its email was sent
/// for: a hard bounce or a complaint makes it `notice_failed`, a transient bounce is recorded
/// on it. Idempotent (the same event twice changes nothing the second time); an unknown
/// message id or a malformed body is logged and acknowledged. Events of any profile are
/// handled: the queue is the deployment's, and the message id names the notice.
pub async fn drain_mail_events<R: Repos, E: MailEvents>(
    repos: &R,
    events: &E,
    now: DateTime<Utc>,
) -> Result<MailEventsReport, NotifyError> {
    let mut report = MailEventsReport::default();
    for _ in 0..MAX_EVENT_BATCHES {
        let batch = events.receive().await?;
        if batch.is_empty() {
            break;
        }
        let mut done = Vec::with_capacity(batch.len());
        for m in batch {
            report.read += 1;
            let event = match m.event {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(error = %e, "malformed mail event acknowledged");
                    report.malformed += 1;
                    done.push(m.handle);
                    continue;
                }
            };
            match apply_event(repos, &event, now).await? {
                Applied::Failed => report.failed_notices += 1,
                Applied::Transient => report.transient += 1,
                Applied::Unchanged => report.unchanged += 1,
                Applied::Unknown => {
                    tracing::info!(message_id = %event.message_id, kind = ?event.kind, "mail event for no notice acknowledged");
                    report.unknown += 1;
                }
                Applied::Conflict => {
                    // left on the queue: it comes back after the visibility timeout
                    report.retry_later += 1;
                    continue;
                }
            }
            done.push(m.handle);
        }
        events.ack(&done).await?;
    }
    Ok(report)
}

enum Applied {
    Failed,
    Transient,
    Unchanged,
    Unknown,
    Conflict,
}

async fn apply_event<R: Repos>(
    repos: &R,
    event: &crate::domain::MailEvent,
    now: DateTime<Utc>,
) -> Result<Applied, NotifyError> {
    let hard = match &event.kind {
        MailEventKind::HardBounce | MailEventKind::Complaint => true,
        MailEventKind::SoftBounce => false,
        MailEventKind::Other(_) => return Ok(Applied::Unknown),
    };
    let Some(m) = repos.notices().get_message(&event.message_id).await? else {
        return Ok(Applied::Unknown);
    };
    let reason = match event.kind {
        MailEventKind::Complaint => {
            format!("the user reported the notice as spam: {}", event.detail)
        }
        MailEventKind::SoftBounce => {
            format!("a transient bounce (the notice stands): {}", event.detail)
        }
        _ => format!("the notice bounced: {}", event.detail),
    };
    for _ in 0..EVENT_SAVE_ATTEMPTS {
        let Some(mut n) = repos
            .notices()
            .get_notice(&m.profile_id, &m.user_id, &m.candidacy)
            .await?
        else {
            return Ok(Applied::Unknown);
        };
        let moved = if hard {
            n.mail_failed(reason.clone(), now)
        } else {
            n.soft_bounced(reason.clone(), now)
        };
        if !moved {
            return Ok(Applied::Unchanged);
        }
        if save(repos, &mut n).await? {
            tracing::warn!(profile = %n.profile_id, user = %n.user_id, state = %n.state, "mail event applied to a notice");
            return Ok(if hard {
                Applied::Failed
            } else {
                Applied::Transient
            });
        }
    }
    Ok(Applied::Conflict)
}

/// `due` → `requested` with the candidate's request id (no-op for any other state).
async fn mark_requested<R: Repos>(
    repos: &R,
    c: &Candidate,
    now: DateTime<Utc>,
) -> Result<(), NotifyError> {
    let (Some(request_id), cand) = (c.request_id.clone(), candidacy_id(c)) else {
        return Ok(());
    };
    if let Some(mut n) = repos
        .notices()
        .get_notice(&c.profile_id, &c.user_id, &cand)
        .await?
    {
        if n.requested(request_id, now).is_ok() {
            save(repos, &mut n).await?;
        }
    }
    Ok(())
}

/// A versioned save; false when a keep (or another writer) changed the notice meanwhile.
async fn save<R: Repos>(repos: &R, n: &mut Notice) -> Result<bool, NotifyError> {
    match repos.notices().save_notice(n).await {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Issues a token (stored by digest, expiring on the due date) and mails the notice or a
/// reminder with its link. The outer error is the store's; the inner one the mail service's.
#[allow(clippy::too_many_arguments)]
async fn send<R: Repos, M: Mailer, E>(
    repos: &R,
    notifier: &Notifier<M, E>,
    profile: &Profile,
    files_to: &str,
    n: &Notice,
    due_at: DateTime<Utc>,
    reminder: Option<u32>,
    now: DateTime<Utc>,
) -> Result<Result<(String, String), MailError>, NotifyError> {
    let (token, digest) = new_token()?;
    repos
        .notices()
        .put_token(
            &digest,
            &NoticeToken {
                profile_id: n.profile_id.clone(),
                user_id: n.user_id.clone(),
                candidacy: n.candidacy.clone(),
                issued_at: now,
                expires_at: due_at,
                used_at: None,
            },
        )
        .await?;
    let link = keep_link(&notifier.keep_base_url, &token);
    let ctx = NoticeContext {
        organisation: &profile.name,
        files_to,
        keep_link: &link,
        reminder,
    };
    let Some(email) = notice_email(n, due_at, &ctx) else {
        return Ok(Err(MailError::Permanent("no email address".into())));
    };
    Ok(notifier
        .mailer
        .send(&email)
        .await
        .map(|message_id| (message_id, digest)))
}

/// What the digest step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestOutcome {
    /// No `DIGEST_RECIPIENT`, or today's digest was already sent.
    NotDue,
    /// Nothing happened since the last one (the day counts as done).
    Empty,
    Sent {
        message_id: String,
    },
    /// The mail service refused; the day's claim was given back for the next sync.
    Failed(String),
}

/// The admins' digest of one profile, at most once per UTC day (a conditional marker), sent
/// at the end of the sync's Reclamation: new notices, keeps with their reasons, reclaims due
/// tomorrow, reclaims done and failed since the last digest, and the notices needing an admin.
pub async fn send_digest<R: Repos, M: Mailer, E>(
    repos: &R,
    notifier: Option<&Notifier<M, E>>,
    profile: &Profile,
    now: DateTime<Utc>,
) -> Result<DigestOutcome, NotifyError> {
    let Some((notifier, to)) = notifier.and_then(|n| n.digest_recipient.clone().map(|to| (n, to)))
    else {
        return Ok(DigestOutcome::NotDue);
    };
    let today = day(now);
    let since = repos
        .notices()
        .last_digest(&profile.id)
        .await?
        .unwrap_or(now - Duration::days(1));
    if !repos
        .notices()
        .claim_digest(&profile.id, &today, now)
        .await?
    {
        return Ok(DigestOutcome::NotDue);
    }
    let input = digest_input(repos, profile, &today, since, now).await?;
    if input.is_empty() {
        return Ok(DigestOutcome::Empty);
    }
    let (subject, text) = render_digest(&input);
    let html = format!(
        "<!doctype html><html><body><pre>{}</pre></body></html>",
        crate::domain::notice::escape_html(&text)
    );
    let email = Email {
        to,
        subject,
        text,
        html,
    };
    match notifier.mailer.send(&email).await {
        Ok(message_id) => Ok(DigestOutcome::Sent { message_id }),
        Err(e) => {
            tracing::warn!(profile = %profile.id, error = %e, "digest not sent");
            repos.notices().release_digest(&profile.id, &today).await?;
            Ok(DigestOutcome::Failed(e.to_string()))
        }
    }
}

/// The digest the next send would carry (everything since the last digest, or the last day),
/// rendered but not sent and not recorded: `seatctl notices P --digest`. None: nothing to say.
pub async fn preview_digest<R: Repos>(
    repos: &R,
    profile: &Profile,
    now: DateTime<Utc>,
) -> Result<Option<(String, String)>, NotifyError> {
    let since = repos
        .notices()
        .last_digest(&profile.id)
        .await?
        .unwrap_or(now - Duration::days(1));
    let input = digest_input(repos, profile, &day(now), since, now).await?;
    Ok((!input.is_empty()).then(|| render_digest(&input)))
}

async fn digest_input<R: Repos>(
    repos: &R,
    profile: &Profile,
    today: &str,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<DigestInput, NotifyError> {
    let notices = repos.notices().notices(&profile.id).await?;
    let tomorrow = now + Duration::days(1);
    let mut d = DigestInput {
        profile_id: profile.id.clone(),
        day: today.to_owned(),
        ..Default::default()
    };
    for n in notices {
        // strictly after: the last digest's instant is its own pass's `now`, which is also when
        // that pass's notices were sent (and that digest reported them)
        if n.sent_at.is_some_and(|t| t > since) {
            d.new_notices.push(n.clone());
        }
        match n.state {
            NoticeState::Kept if n.kept_at.is_some_and(|t| t > since) => d.keeps.push(n),
            NoticeState::Sent if n.due_at.is_some_and(|t| t > now && t <= tomorrow) => {
                d.due_tomorrow.push(n)
            }
            NoticeState::NoticeFailed | NoticeState::NoEmail => d.attention.push(n),
            _ => {}
        }
    }
    for r in repos.reclaims().list(&profile.id).await? {
        if r.updated_at <= since {
            continue;
        }
        let line = DigestReclaim {
            user_id: r.request.user_id.clone(),
            login: r.login.clone().unwrap_or_else(|| r.request.user_id.clone()),
            status: r.status.as_str().to_owned(),
            detail: r.reason.clone(),
        };
        match r.status {
            ReclaimStatus::Done => d.reclaimed.push(line),
            ReclaimStatus::Failed => d.reclaim_failures.push(line),
            _ => {}
        }
    }
    Ok(d)
}

#[cfg(test)]
pub(crate) mod tests;
