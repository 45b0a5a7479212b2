//! Notify mode: the notice a candidate receives, its states and the pure transitions between
//! them, the keep token's digest, and the texts of the notice email and the admins' digest.
//!
//! One notice per candidacy (one continuous period as a candidate). States:
//! `pending` (recorded, not yet accepted by the mail service) → `sent` (→ `kept` by the user's
//! keep, or → `due` on the due date → `requested` once enqueued); `cancelled` when the user is no
//! longer a candidate; `notice_failed` when the mail service refused the address for good;
//! `no_email` when the roster has no address. The last two are never enqueued: an admin sees them.
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::rules::Evidence;
use super::{Candidate, LoginEvidence};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeState {
    /// Recorded; the email is not accepted yet (a transient mail failure is retried next sync).
    Pending,
    Sent,
    /// The user kept the license (a `Keep` exempts them).
    Kept,
    /// The due date passed with no keep: enqueued by the next sync within the cap.
    Due,
    /// A reclaim request was enqueued for it.
    Requested,
    /// No longer a candidate (activity, a rule or roster change): nothing will happen.
    Cancelled,
    /// The mail service refused the notice for good: never reclaimed without an admin.
    NoticeFailed,
    /// The roster has no email address for the user: never reclaimed without an admin.
    NoEmail,
}

impl NoticeState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Kept => "kept",
            Self::Due => "due",
            Self::Requested => "requested",
            Self::Cancelled => "cancelled",
            Self::NoticeFailed => "notice_failed",
            Self::NoEmail => "no_email",
        }
    }

    /// Still following a candidacy (a later sync may move it on).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Pending | Self::Sent | Self::Due | Self::NoticeFailed | Self::NoEmail
        )
    }
}

impl fmt::Display for NoticeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NoticeState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.trim().to_ascii_lowercase()))
            .map_err(|_| format!("unknown notice state {s:?}"))
    }
}

/// The notice of one candidacy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub profile_id: String,
    pub user_id: String,
    pub login: String,
    pub name: String,
    /// The roster's address (Box login, Dropbox email); None: `no_email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The candidacy it belongs to ([`candidacy_id`]).
    pub candidacy: String,
    pub license_type: String,
    /// What the rules saw (last activity, rule, threshold).
    pub evidence: Evidence,
    pub state: NoticeState,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// When the seat is reclaimed unless kept (set when the notice is sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// The reminder days (before the due date) already sent.
    #[serde(default)]
    pub reminders_sent: Vec<u32>,
    /// The mail service's id of the last email sent for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// SHA-256 (hex) of the newest keep token sent; the token itself is never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic version: a sync's write never overwrites a keep recorded meanwhile.
    #[serde(default)]
    pub version: u64,
}

/// The candidacy of a candidate: its `listed_at` survives re-syncs while the user stays a
/// candidate and is new each time they become one again.
pub fn candidacy_id(c: &Candidate) -> String {
    c.listed_at.format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

/// Why a notice refused a transition (a bug in the caller, or a concurrent change).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("notice of {user_id} is {state}, cannot {action}")]
pub struct NoticeTransitionError {
    pub user_id: String,
    pub state: NoticeState,
    pub action: &'static str,
}

impl Notice {
    /// A new notice for a candidate: `pending`, or `no_email` when there is no address.
    pub fn new(c: &Candidate, email: Option<String>, now: DateTime<Utc>) -> Self {
        let email = email.filter(|e| is_plausible_address(e));
        Self {
            profile_id: c.profile_id.clone(),
            user_id: c.user_id.clone(),
            login: c.login.clone(),
            name: c.name.clone(),
            state: if email.is_some() {
                NoticeState::Pending
            } else {
                NoticeState::NoEmail
            },
            email,
            candidacy: candidacy_id(c),
            license_type: c.license_type.clone(),
            evidence: c.evidence.clone(),
            created_at: now,
            sent_at: None,
            due_at: None,
            reminders_sent: Vec::new(),
            message_id: None,
            last_error: None,
            token_digest: None,
            token_expires_at: None,
            kept_at: None,
            kept_until: None,
            keep_reason: None,
            request_id: None,
            updated_at: now,
            version: 0,
        }
    }

    fn refuse(&self, action: &'static str) -> NoticeTransitionError {
        NoticeTransitionError {
            user_id: self.user_id.clone(),
            state: self.state,
            action,
        }
    }

    /// When a notice sent at `now` is due: the first 00:00 UTC at least `notice_days` whole days
    /// later, so the person always has the full period (a sync at 23:00 UTC with one day's
    /// notice gives them until the midnight after next, not one hour). A whole day, because
    /// syncs run daily at about the same time: the sync after that midnight enqueues the
    /// reclaim, and reminders fall on whole days before it. The notice names that day; the keep
    /// link works until it begins. `notice_days` 0 means due at once (the next sync enqueues):
    /// for trials and demos, and `seatctl rules set` warns about it.
    pub fn due_date(now: DateTime<Utc>, notice_days: u32) -> DateTime<Utc> {
        if notice_days == 0 {
            return now;
        }
        let earliest = now + Duration::days(i64::from(notice_days));
        let midnight = earliest
            .date_naive()
            .and_time(chrono::NaiveTime::MIN)
            .and_utc();
        if midnight == earliest {
            midnight
        } else {
            midnight + Duration::days(1)
        }
    }

    /// `pending` → `sent`: the mail service accepted it; the due date starts from now.
    pub fn sent(
        &mut self,
        message_id: String,
        token_digest: String,
        now: DateTime<Utc>,
        notice_days: u32,
    ) -> Result<(), NoticeTransitionError> {
        if self.state != NoticeState::Pending {
            return Err(self.refuse("be sent"));
        }
        let due = Self::due_date(now, notice_days);
        self.state = NoticeState::Sent;
        self.sent_at = Some(now);
        self.due_at = Some(due);
        self.message_id = Some(message_id);
        self.token_digest = Some(token_digest);
        self.token_expires_at = Some(due);
        self.last_error = None;
        self.updated_at = now;
        Ok(())
    }

    /// The mail service refused: for good → `notice_failed`; transient → stays `pending`
    /// (retried by the next sync), the error recorded either way.
    pub fn send_failed(
        &mut self,
        error: String,
        permanent: bool,
        now: DateTime<Utc>,
    ) -> Result<(), NoticeTransitionError> {
        if self.state != NoticeState::Pending {
            return Err(self.refuse("fail to send"));
        }
        if permanent {
            self.state = NoticeState::NoticeFailed;
        }
        self.last_error = Some(error);
        self.updated_at = now;
        Ok(())
    }

    /// The reminder (days before the due date) to send now, if any: the nearest one whose time
    /// has come, not sent yet, and later than the notice itself (a short notice period skips
    /// reminders rather than sending one with the notice).
    pub fn reminder_due(&self, reminder_days: &[u32], now: DateTime<Utc>) -> Option<u32> {
        let (NoticeState::Sent, Some(sent), Some(due)) = (self.state, self.sent_at, self.due_at)
        else {
            return None;
        };
        if now >= due {
            return None;
        }
        reminder_days
            .iter()
            .copied()
            .filter(|d| !self.reminders_sent.contains(d))
            .filter(|d| {
                let at = due - Duration::days(i64::from(*d));
                at > sent && at <= now
            })
            .min()
    }

    /// A reminder went out (with a fresh token: only digests are stored, so the reminder's
    /// link is new; the notice's earlier link keeps working until the due date).
    /// Every reminder day already passed counts as sent, so a late sync sends one, not several.
    pub fn reminded(
        &mut self,
        day: u32,
        reminder_days: &[u32],
        message_id: String,
        token_digest: String,
        now: DateTime<Utc>,
    ) -> Result<(), NoticeTransitionError> {
        if self.state != NoticeState::Sent {
            return Err(self.refuse("be reminded"));
        }
        for d in reminder_days.iter().copied().filter(|d| *d >= day) {
            if !self.reminders_sent.contains(&d) {
                self.reminders_sent.push(d);
            }
        }
        self.reminders_sent.sort_unstable();
        self.message_id = Some(message_id);
        self.token_digest = Some(token_digest);
        self.updated_at = now;
        Ok(())
    }

    /// `sent` → `due` once the due date has passed. True if it moved.
    pub fn mark_due_if_passed(&mut self, now: DateTime<Utc>) -> bool {
        match (self.state, self.due_at) {
            (NoticeState::Sent, Some(due)) if now >= due => {
                self.state = NoticeState::Due;
                self.updated_at = now;
                true
            }
            _ => false,
        }
    }

    /// `due` → `requested`: a reclaim request was enqueued.
    pub fn requested(
        &mut self,
        request_id: String,
        now: DateTime<Utc>,
    ) -> Result<(), NoticeTransitionError> {
        if self.state != NoticeState::Due {
            return Err(self.refuse("be requested"));
        }
        self.state = NoticeState::Requested;
        self.request_id = Some(request_id);
        self.updated_at = now;
        Ok(())
    }

    /// `requested` → `due`: the reclaim function let the request go without acting (the daily
    /// cap, a pause, another request for the user) and cleared it from the candidate, so the
    /// next sync enqueues it again.
    pub fn released(&mut self, now: DateTime<Utc>) -> Result<(), NoticeTransitionError> {
        if self.state != NoticeState::Requested {
            return Err(self.refuse("be released"));
        }
        self.state = NoticeState::Due;
        self.request_id = None;
        self.updated_at = now;
        Ok(())
    }

    /// `notice_failed` → `pending`: an admin fixed what made the mail service refuse (a
    /// sender verified late, a mailbox restored) and asks for the notice again
    /// (`seatctl notices P --resend`); the next sync sends it, and the due date counts from then.
    pub fn resend(&mut self, now: DateTime<Utc>) -> Result<(), NoticeTransitionError> {
        if self.state != NoticeState::NoticeFailed {
            return Err(self.refuse("be sent again"));
        }
        self.state = NoticeState::Pending;
        self.updated_at = now;
        Ok(())
    }

    /// The user is no longer a candidate of this candidacy: an open notice is cancelled. True
    /// if it moved.
    pub fn cancel(&mut self, now: DateTime<Utc>) -> bool {
        if !self.state.is_open() {
            return false;
        }
        self.state = NoticeState::Cancelled;
        self.updated_at = now;
        true
    }

    /// A bounce or complaint arrived for an email of this notice: a notice that still leads to
    /// a reclaim (pending, sent, due, even requested: the reclaim function refuses a request
    /// whose notice failed) becomes `notice_failed` with the reason. True if it moved; false
    /// for one already failed (the same event twice) or closed (kept, cancelled).
    pub fn mail_failed(&mut self, reason: String, now: DateTime<Utc>) -> bool {
        if !matches!(
            self.state,
            NoticeState::Pending | NoticeState::Sent | NoticeState::Due | NoticeState::Requested
        ) {
            return false;
        }
        let reason = match (&self.request_id, self.state) {
            (Some(id), NoticeState::Requested) => format!(
                "{reason} (after reclaim request {id} was enqueued: the reclaim function refuses it)"
            ),
            _ => reason,
        };
        self.state = NoticeState::NoticeFailed;
        self.last_error = Some(reason);
        self.updated_at = now;
        true
    }

    /// A transient bounce: recorded on the notice, which keeps its state (SES already retried
    /// the delivery; the user may still read it). True if anything changed.
    pub fn soft_bounced(&mut self, reason: String, now: DateTime<Utc>) -> bool {
        // a failed notice keeps the reason it failed with
        let standing = matches!(
            self.state,
            NoticeState::Pending | NoticeState::Sent | NoticeState::Due | NoticeState::Requested
        );
        if !standing || self.last_error.as_deref() == Some(reason.as_str()) {
            return false;
        }
        self.last_error = Some(reason);
        self.updated_at = now;
        true
    }

    /// Whether a keep token of this notice may be used now: sent and before the due date, or
    /// pending — its email may have gone out before the record of it was saved (a crash, a lost
    /// answer): then the token's own expiry, checked with the token in the same atomic keep,
    /// decides.
    pub fn keepable(&self, now: DateTime<Utc>) -> bool {
        match self.state {
            NoticeState::Pending => true,
            NoticeState::Sent => self.token_expires_at.is_some_and(|t| now < t),
            _ => false,
        }
    }

    /// `sent` → `kept`, with the user's reason.
    pub fn kept(
        &mut self,
        reason: Option<String>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), NoticeTransitionError> {
        if !self.keepable(now) {
            return Err(self.refuse("be kept"));
        }
        self.state = NoticeState::Kept;
        self.kept_at = Some(now);
        self.kept_until = Some(until);
        self.keep_reason = reason;
        self.updated_at = now;
        Ok(())
    }
}

/// The lookup item of one email sent for a notice (the notice or a reminder), under SES's
/// message id: how a bounce or complaint, which names only that id, finds its notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeMessage {
    pub message_id: String,
    pub profile_id: String,
    pub user_id: String,
    pub candidacy: String,
    pub sent_at: DateTime<Utc>,
}

impl NoticeMessage {
    pub fn of(n: &Notice, message_id: &str, now: DateTime<Utc>) -> Self {
        Self {
            message_id: message_id.to_owned(),
            profile_id: n.profile_id.clone(),
            user_id: n.user_id.clone(),
            candidacy: n.candidacy.clone(),
            sent_at: now,
        }
    }
}

/// The lookup item of one keep token (stored under the token's digest, never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeToken {
    pub profile_id: String,
    pub user_id: String,
    pub candidacy: String,
    pub issued_at: DateTime<Utc>,
    /// The notice's due date: after it the token is refused.
    pub expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<DateTime<Utc>>,
}

impl NoticeToken {
    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        self.used_at.is_none() && now < self.expires_at
    }
}

/// SHA-256 (hex) of a keep token as it appears in the link: what is stored and looked up.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether a token from a link has the shape seatkeeper issues (43 base64url characters, 32
/// bytes): anything else is refused before any lookup.
pub fn token_well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One email (plain text and HTML alternatives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A just plausible address (`x@y`): the roster's logins are addresses on both providers, but an
/// empty or odd one is treated as no address rather than a bounce.
pub fn is_plausible_address(s: &str) -> bool {
    let s = s.trim();
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
        }
        None => false,
    }
}

/// HTML escaping for anything that came from a roster, a user or a request.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A date as the emails and pages show it.
pub fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// The last activity as a sentence, with its evidence.
pub fn describe_activity(e: &Evidence) -> String {
    let newest: Option<&LoginEvidence> =
        LoginEvidence::newest(e.last_login.as_ref(), e.last_activity.as_ref());
    match newest {
        Some(l) => format!(
            "your last recorded activity was on {} ({}, event {})",
            day(l.at),
            l.event_type,
            l.event_id
        ),
        None => format!(
            "we have no record of any activity since {}",
            day(e.inactive_since)
        ),
    }
}

/// What the notice email needs besides the notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeContext<'a> {
    /// The product or tenant name shown to the user (the profile's name).
    pub organisation: &'a str,
    /// Who receives the files (e.g. "the Box administrator Ada Admin (ada@acme.com)").
    pub files_to: &'a str,
    /// The "Keep my license" link (carries the token: never logged).
    pub keep_link: &'a str,
    /// Which reminder this is (days before the due date), None for the notice itself.
    pub reminder: Option<u32>,
}

/// The notice (or reminder) email. Needs a sent or pending notice with an address and a due
/// date; the caller passes the due date it is about to record.
pub fn notice_email(n: &Notice, due: DateTime<Utc>, ctx: &NoticeContext<'_>) -> Option<Email> {
    let to = n.email.clone()?;
    let due_day = day(due);
    let subject = match ctx.reminder {
        None => format!(
            "Your {} license will be reclaimed on {due_day} unless you keep it",
            n.license_type
        ),
        Some(_) => format!(
            "Reminder: your {} license will be reclaimed on {due_day}",
            n.license_type
        ),
    };
    let noticed = format!(
        "We noticed that {}: {} days without activity, beyond the rule \"{}\".",
        describe_activity(&n.evidence),
        n.evidence.inactive_days,
        n.evidence.rule
    );
    let what = format!(
        "On {due_day}, your files will be transferred to {} and your {} account ({}) will then be removed, freeing its {} license.",
        ctx.files_to, ctx.organisation, n.login, n.license_type
    );
    let keep = format!(
        "If you still need this license, open the link below and press \"Keep my license\". The link works once, until {due_day} 00:00 UTC."
    );
    let text = format!(
        "Hello {name},\n\n{noticed}\n\n{what}\n\n{keep}\n\nKeep my license: {link}\n\nIf you no longer need it, nothing needs to be done.\n",
        name = n.name,
        link = ctx.keep_link
    );
    let html = format!(
        "<!doctype html><html lang=\"en\"><body style=\"font-family:sans-serif;line-height:1.5\">\
         <p>Hello {name},</p><p>{noticed}</p><p>{what}</p><p>{keep}</p>\
         <p><a href=\"{link}\">Keep my license</a></p>\
         <p>If you no longer need it, nothing needs to be done.</p></body></html>",
        name = escape_html(&n.name),
        noticed = escape_html(&noticed),
        what = escape_html(&what),
        keep = escape_html(&keep),
        link = escape_html(ctx.keep_link)
    );
    Some(Email {
        to,
        subject,
        text,
        html,
    })
}

/// One reclaim request's outcome for the digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestReclaim {
    pub user_id: String,
    pub login: String,
    pub status: String,
    pub detail: Option<String>,
}

/// What the admins' daily digest of one profile says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DigestInput {
    pub profile_id: String,
    pub day: String,
    pub new_notices: Vec<Notice>,
    pub keeps: Vec<Notice>,
    pub due_tomorrow: Vec<Notice>,
    pub reclaimed: Vec<DigestReclaim>,
    pub reclaim_failures: Vec<DigestReclaim>,
    /// `notice_failed` and `no_email` notices still open.
    pub attention: Vec<Notice>,
}

impl DigestInput {
    pub fn is_empty(&self) -> bool {
        self.new_notices.is_empty()
            && self.keeps.is_empty()
            && self.due_tomorrow.is_empty()
            && self.reclaimed.is_empty()
            && self.reclaim_failures.is_empty()
            && self.attention.is_empty()
    }
}

/// The digest as plain text (subject, body).
pub fn render_digest(d: &DigestInput) -> (String, String) {
    let subject = format!(
        "seatkeeper digest {} for {}: {} notice(s), {} keep(s), {} due tomorrow, {} reclaimed, {} failure(s)",
        d.day,
        d.profile_id,
        d.new_notices.len(),
        d.keeps.len(),
        d.due_tomorrow.len(),
        d.reclaimed.len(),
        d.reclaim_failures.len() + d.attention.len()
    );
    let mut b = format!(
        "seatkeeper daily digest for profile {} ({} UTC)\n",
        d.profile_id, d.day
    );
    let section = |b: &mut String, title: &str, lines: Vec<String>| {
        b.push_str(&format!("\n{title} ({})\n", lines.len()));
        if lines.is_empty() {
            b.push_str("  (none)\n");
        }
        for l in lines {
            b.push_str("  ");
            b.push_str(&l);
            b.push('\n');
        }
    };
    let due = |n: &Notice| n.due_at.map(day).unwrap_or_else(|| "-".into());
    section(
        &mut b,
        "New notices",
        d.new_notices
            .iter()
            .map(|n| format!("{} ({}): due {}", n.login, n.user_id, due(n)))
            .collect(),
    );
    section(
        &mut b,
        "Kept by the user",
        d.keeps
            .iter()
            .map(|n| {
                format!(
                    "{} ({}): until {}; reason: {}",
                    n.login,
                    n.user_id,
                    n.kept_until.map(day).unwrap_or_else(|| "-".into()),
                    n.keep_reason.as_deref().unwrap_or("(none given)")
                )
            })
            .collect(),
    );
    section(
        &mut b,
        "Reclaims due tomorrow",
        d.due_tomorrow
            .iter()
            .map(|n| format!("{} ({}): due {}", n.login, n.user_id, due(n)))
            .collect(),
    );
    section(
        &mut b,
        "Reclaimed",
        d.reclaimed
            .iter()
            .map(|r| format!("{} ({}): {}", r.login, r.user_id, r.status))
            .collect(),
    );
    let mut failures: Vec<String> = d
        .reclaim_failures
        .iter()
        .map(|r| {
            format!(
                "reclaim of {} ({}): {}{}",
                r.login,
                r.user_id,
                r.status,
                r.detail
                    .as_deref()
                    .map(|x| format!(": {x}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    failures.extend(d.attention.iter().map(|n| match n.state {
        NoticeState::NoEmail => format!(
            "{} ({}): no email address in the roster; not notified, never reclaimed in notify mode",
            n.login, n.user_id
        ),
        _ => format!(
            "{} ({}): notice {}: {}",
            n.login,
            n.user_id,
            n.state,
            n.last_error.as_deref().unwrap_or("-")
        ),
    }));
    section(&mut b, "Failures and notices needing an admin", failures);
    b.push_str(&format!(
        "\n`seatctl notices {}` lists every notice; `seatctl candidates {} --all` the candidates.\n",
        d.profile_id, d.profile_id
    ));
    (subject, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, 10, 0, 0).single().unwrap()
    }

    pub(crate) fn candidate(user: &str, login: &str) -> Candidate {
        Candidate {
            profile_id: "p".into(),
            user_id: user.into(),
            login: login.into(),
            name: format!("Name {user}"),
            license_type: "business".into(),
            unit_price_cents: None,
            currency: None,
            evidence: Evidence {
                rule: "no activity for 60 days".into(),
                threshold_days: 60,
                inactive_days: 75,
                last_login: Some(LoginEvidence {
                    at: t(1) - Duration::days(75),
                    event_id: "ev-1".into(),
                    event_type: "LOGIN".into(),
                }),
                inactive_since: t(1) - Duration::days(75),
                license_type: "business".into(),
                evaluated_at: t(1),
                last_activity: None,
                activity: Default::default(),
                observed_since: None,
            },
            run_id: "r".into(),
            listed_at: t(1),
            approved_by: None,
            approved_at: None,
            request_id: None,
            requested_at: None,
            finding: String::new(),
            waiting: None,
        }
    }

    fn sent_notice() -> Notice {
        let mut n = Notice::new(
            &candidate("u1", "u1@acme.com"),
            Some("u1@acme.com".into()),
            t(1),
        );
        // 6 whole days from 10:00 on the 1st: due at the start of the 8th
        n.sent("m-1".into(), "d1".into(), t(1), 6).unwrap();
        n
    }

    #[test]
    fn a_new_notice_is_pending_or_no_email() {
        let c = candidate("u1", "u1@acme.com");
        assert_eq!(
            Notice::new(&c, Some("u1@acme.com".into()), t(1)).state,
            NoticeState::Pending
        );
        assert_eq!(Notice::new(&c, None, t(1)).state, NoticeState::NoEmail);
        assert_eq!(
            Notice::new(&c, Some("not-an-address".into()), t(1)).state,
            NoticeState::NoEmail
        );
        assert_eq!(
            Notice::new(&c, None, t(1)).candidacy,
            "20260301T100000.000Z"
        );
    }

    #[test]
    fn sending_sets_the_due_date_and_the_token_expiry() {
        let n = sent_notice();
        assert_eq!(n.state, NoticeState::Sent);
        let day8 = Utc.with_ymd_and_hms(2026, 3, 8, 0, 0, 0).single().unwrap();
        assert_eq!(n.due_at, Some(day8), "the first midnight 6 whole days on");
        assert_eq!(n.token_expires_at, Some(day8));
        assert_eq!(Notice::due_date(t(1), 0), t(1));
        let mut again = n.clone();
        assert!(again.sent("m-2".into(), "d2".into(), t(2), 7).is_err());
    }

    #[test]
    fn a_permanent_failure_is_notice_failed_a_transient_one_stays_pending() {
        let c = candidate("u1", "u1@acme.com");
        let mut a = Notice::new(&c, Some("u1@acme.com".into()), t(1));
        a.send_failed("throttled".into(), false, t(1)).unwrap();
        assert_eq!(a.state, NoticeState::Pending);
        assert_eq!(a.last_error.as_deref(), Some("throttled"));
        a.send_failed("rejected".into(), true, t(1)).unwrap();
        assert_eq!(a.state, NoticeState::NoticeFailed);
        assert!(
            !a.mark_due_if_passed(t(30)),
            "a failed notice never becomes due"
        );
    }

    #[test]
    fn the_due_date_gives_the_whole_notice_period_and_zero_means_at_once() {
        // 23:00 UTC with one day's notice: until the midnight after next, never one hour
        let late = Utc.with_ymd_and_hms(2026, 3, 1, 23, 0, 0).single().unwrap();
        assert_eq!(
            Notice::due_date(late, 1),
            Utc.with_ymd_and_hms(2026, 3, 3, 0, 0, 0).single().unwrap()
        );
        let midnight = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).single().unwrap();
        assert_eq!(Notice::due_date(midnight, 7), midnight + Duration::days(7));
        for days in 1..=30 {
            assert!(Notice::due_date(late, days) - late >= Duration::days(i64::from(days)));
        }
        assert_eq!(Notice::due_date(late, 0), late);
    }

    #[test]
    fn a_reminder_is_due_once_in_its_window() {
        let mut n = sent_notice(); // due t(8)
        assert_eq!(n.reminder_due(&[2], t(5)), None);
        assert_eq!(n.reminder_due(&[2], t(6)), Some(2));
        n.reminded(2, &[2], "m-2".into(), "d2".into(), t(6))
            .unwrap();
        assert_eq!(n.reminder_due(&[2], t(7)), None, "sent once");
        assert_eq!(n.reminders_sent, vec![2]);
        assert_eq!(n.reminder_due(&[2], t(9)), None, "never after the due date");
    }

    #[test]
    fn a_late_sync_sends_one_reminder_for_the_days_it_missed() {
        let mut n = sent_notice(); // due t(8)
        let days = [1, 3, 5];
        assert_eq!(n.reminder_due(&days, t(7)), Some(1));
        n.reminded(1, &days, "m".into(), "d".into(), t(7)).unwrap();
        assert_eq!(n.reminders_sent, vec![1, 3, 5]);
        assert_eq!(n.reminder_due(&days, t(7)), None);
    }

    #[test]
    fn a_short_notice_period_skips_reminders() {
        let mut n = Notice::new(
            &candidate("u1", "u1@acme.com"),
            Some("u1@acme.com".into()),
            t(1),
        );
        n.sent("m".into(), "d".into(), t(1), 1).unwrap();
        assert_eq!(n.reminder_due(&[2], t(1)), None);
    }

    #[test]
    fn only_a_failed_notice_is_sent_again() {
        let c = candidate("u1", "u1@acme.com");
        let mut n = Notice::new(&c, Some("u1@acme.com".into()), t(1));
        assert!(n.resend(t(1)).is_err(), "pending");
        n.send_failed("MessageRejected".into(), true, t(1)).unwrap();
        n.resend(t(2)).unwrap();
        assert_eq!(n.state, NoticeState::Pending);
        assert!(sent_notice().resend(t(2)).is_err(), "sent");
    }

    #[test]
    fn due_then_requested() {
        let mut n = sent_notice();
        assert!(!n.mark_due_if_passed(t(7)));
        assert!(n.mark_due_if_passed(t(8)));
        assert_eq!(n.state, NoticeState::Due);
        assert!(!n.keepable(t(8)));
        n.requested("req-1".into(), t(8)).unwrap();
        assert_eq!(n.state, NoticeState::Requested);
        assert!(!n.cancel(t(9)), "a requested notice is left to the reclaim");
    }

    #[test]
    fn keep_only_while_sent_and_unexpired() {
        let mut n = sent_notice();
        assert!(n.keepable(t(7)));
        assert!(!n.keepable(t(8)));
        n.kept(Some("on leave".into()), t(7) + Duration::days(90), t(7))
            .unwrap();
        assert_eq!(n.state, NoticeState::Kept);
        assert_eq!(n.keep_reason.as_deref(), Some("on leave"));
        assert!(n.kept(None, t(9), t(7)).is_err(), "kept once");
        assert!(!n.cancel(t(9)), "a kept notice stays kept");
    }

    #[test]
    fn open_notices_are_cancelled() {
        for state in [
            NoticeState::Pending,
            NoticeState::Sent,
            NoticeState::Due,
            NoticeState::NoticeFailed,
            NoticeState::NoEmail,
        ] {
            let mut n = sent_notice();
            n.state = state;
            assert!(n.cancel(t(3)), "{state}");
            assert_eq!(n.state, NoticeState::Cancelled);
        }
    }

    #[test]
    fn a_bounce_fails_a_notice_that_still_leads_to_a_reclaim() {
        for state in [NoticeState::Sent, NoticeState::Due, NoticeState::Pending] {
            let mut n = sent_notice();
            n.state = state;
            assert!(
                n.mail_failed("the notice bounced: x".into(), t(3)),
                "{state}"
            );
            assert_eq!(n.state, NoticeState::NoticeFailed);
            assert!(!n.mail_failed("again".into(), t(3)), "idempotent");
            assert_eq!(n.last_error.as_deref(), Some("the notice bounced: x"));
        }
        let mut n = sent_notice();
        n.mark_due_if_passed(t(8));
        n.requested("req-1".into(), t(8)).unwrap();
        assert!(n.mail_failed("the notice bounced: x".into(), t(9)));
        assert!(n.last_error.as_deref().unwrap().contains("req-1"));
        let mut kept = sent_notice();
        kept.kept(None, t(30), t(2)).unwrap();
        assert!(!kept.mail_failed("late".into(), t(3)), "a keep stands");
        let mut soft = sent_notice();
        assert!(soft.soft_bounced("mailbox full".into(), t(2)));
        assert!(!soft.soft_bounced("mailbox full".into(), t(2)));
        assert_eq!(soft.state, NoticeState::Sent);
        let mut failed = sent_notice();
        failed.mail_failed("the notice bounced: 550".into(), t(2));
        assert!(!failed.soft_bounced("mailbox full".into(), t(3)));
        assert_eq!(
            failed.last_error.as_deref(),
            Some("the notice bounced: 550")
        );
    }

    #[test]
    fn states_round_trip_their_names() {
        for s in [
            "pending",
            "sent",
            "kept",
            "due",
            "requested",
            "cancelled",
            "notice_failed",
            "no_email",
        ] {
            assert_eq!(s.parse::<NoticeState>().unwrap().as_str(), s);
        }
        assert!("x".parse::<NoticeState>().is_err());
    }

    #[test]
    fn tokens_are_checked_by_shape_and_digest() {
        let tok = "A".repeat(43);
        assert!(token_well_formed(&tok));
        assert!(!token_well_formed(&"A".repeat(42)));
        assert!(!token_well_formed(&format!("{}=", "A".repeat(42))));
        assert_eq!(token_digest(&tok).len(), 64);
        assert_ne!(token_digest(&tok), token_digest(&"B".repeat(43)));
        let tk = NoticeToken {
            profile_id: "p".into(),
            user_id: "u".into(),
            candidacy: "c".into(),
            issued_at: t(1),
            expires_at: t(8),
            used_at: None,
        };
        assert!(tk.usable(t(7)));
        assert!(!tk.usable(t(8)));
        assert!(!NoticeToken {
            used_at: Some(t(2)),
            ..tk
        }
        .usable(t(3)));
    }

    #[test]
    fn the_email_says_what_when_where_and_escapes_the_roster() {
        let mut c = candidate("u1", "eve@acme.com");
        c.name = "<script>alert(1)</script>".into();
        let n = Notice::new(&c, Some("eve@acme.com".into()), t(1));
        let ctx = NoticeContext {
            organisation: "Acme Box",
            files_to: "the Box administrator Ada (ada@acme.com)",
            keep_link: "https://api.example/keep?t=abc",
            reminder: None,
        };
        let e = notice_email(&n, t(8), &ctx).unwrap();
        assert_eq!(e.to, "eve@acme.com");
        assert!(e.subject.contains("2026-03-08"), "{}", e.subject);
        for part in [&e.text, &e.html] {
            assert!(part.contains("2026-03-08"));
            assert!(part.contains("https://api.example/keep?t=abc"));
            assert!(part.contains("ada@acme.com"));
            assert!(part.contains("ev-1"), "the evidence");
            assert!(part.contains("no activity for 60 days"), "the rule");
        }
        assert!(!e.html.contains("<script>"));
        assert!(e.html.contains("&lt;script&gt;"));
        assert!(notice_email(&Notice::new(&c, None, t(1)), t(8), &ctx).is_none());
    }

    #[test]
    fn the_digest_lists_every_section() {
        let mut kept = sent_notice();
        kept.kept(Some("project X".into()), t(30), t(2)).unwrap();
        let mut failed = Notice::new(
            &candidate("u2", "u2@acme.com"),
            Some("u2@acme.com".into()),
            t(1),
        );
        failed
            .send_failed("MessageRejected: bad address".into(), true, t(1))
            .unwrap();
        let none = Notice::new(&candidate("u3", "u3"), None, t(1));
        let d = DigestInput {
            profile_id: "acme".into(),
            day: "2026-03-02".into(),
            new_notices: vec![sent_notice()],
            keeps: vec![kept],
            due_tomorrow: vec![sent_notice()],
            reclaimed: vec![DigestReclaim {
                user_id: "u9".into(),
                login: "u9@acme.com".into(),
                status: "done".into(),
                detail: None,
            }],
            reclaim_failures: vec![DigestReclaim {
                user_id: "u8".into(),
                login: "u8@acme.com".into(),
                status: "failed".into(),
                detail: Some("transfer refused".into()),
            }],
            attention: vec![failed, none],
        };
        assert!(!d.is_empty());
        let (subject, body) = render_digest(&d);
        assert!(
            subject.contains("acme") && subject.contains("2026-03-02"),
            "{subject}"
        );
        for needle in [
            "New notices (1)",
            "u1@acme.com (u1): due 2026-03-08",
            "reason: project X",
            "Reclaims due tomorrow (1)",
            "u9@acme.com (u9): done",
            "transfer refused",
            "MessageRejected: bad address",
            "u3 (u3): no email address",
        ] {
            assert!(body.contains(needle), "{needle} in\n{body}");
        }
        assert!(DigestInput::default().is_empty());
    }
}
