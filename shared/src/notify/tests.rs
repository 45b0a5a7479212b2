//! Notify mode over the in-memory adapters: every notice state and its transition, one notice
//! per candidacy, reminders once, due → enqueued within the cap, keeps, and the keep page's
//! refusals. Time is passed in, never waited for.
use chrono::{DateTime, Duration, TimeZone, Utc};

use super::keep::KeepRefusal;
use super::*;
use crate::candidates;
use crate::domain::{BoxPlan, LoginEvidence, Profile, ReclaimMode, Seat};
use crate::memory::{MemoryMailEvents, MemoryMailer, MemoryQueue, MemoryRepos};
use crate::ports::ProfileRepo;

fn t0() -> DateTime<Utc> {
    // midnight: a notice sent then is due exactly notice_days later
    Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).single().unwrap()
}

/// 00:00 UTC of a day of March 2026.
fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, 0, 0, 0).single().unwrap()
}

fn seat(id: &str, login: &str, idle_days: i64) -> Seat {
    Seat {
        profile_id: "acme".into(),
        provider: Provider::Box,
        user_id: id.into(),
        login: login.into(),
        name: format!("User {id}"),
        status: "active".into(),
        role: if id == "1" { "admin" } else { "user" }.into(),
        is_admin: id == "1",
        license_type: "business".into(),
        license_managed: true,
        created_at: Some(t0() - Duration::days(400)),
        last_login: Some(LoginEvidence {
            at: t0() - Duration::days(idle_days),
            event_id: format!("ev-{id}"),
            event_type: "LOGIN".into(),
        }),
        first_seen_at: t0() - Duration::days(300),
        last_seen_at: t0(),
        removed_at: None,
        reclaimed_at: None,
        reclaim_request_id: None,
        run_id: "run-1".into(),
        fingerprint: format!("fp-{id}"),
        last_activity: None,
    }
}

pub(crate) struct Fixture {
    pub(crate) repos: MemoryRepos,
    pub(crate) mailer: MemoryMailer,
    pub(crate) queue: MemoryQueue,
    pub(crate) notifier: Notifier<MemoryMailer, MemoryMailEvents>,
    pub(crate) events: MemoryMailEvents,
}

/// An admin (the transfer target) and idle users `2..` with the given logins.
pub(crate) async fn fixture(logins: &[&str]) -> Fixture {
    let repos = MemoryRepos::default();
    let mut p = Profile::new_box("acme", "Acme Box", "42", BoxPlan::Business, t0()).unwrap();
    p.rules.mode = ReclaimMode::Notify;
    p.rules.transfer_target = Some("1".into());
    p.rules.max_per_run = 10;
    p.rules.max_percent = 100;
    repos.profiles().create(&p).await.unwrap();
    let mut seats = vec![seat("1", "ada@acme.com", 1)];
    for (i, l) in logins.iter().enumerate() {
        seats.push(seat(&(i + 2).to_string(), l, 100 + i as i64));
    }
    repos.seats().put_many(&seats).await.unwrap();
    let mailer = MemoryMailer::new();
    let events = MemoryMailEvents::new();
    Fixture {
        notifier: Notifier {
            mailer: mailer.clone(),
            events: events.clone(),
            keep_base_url: url::Url::parse("https://api.example.test/").unwrap(),
            digest_recipient: Some("it@acme.com".into()),
        },
        repos,
        mailer,
        events,
        queue: MemoryQueue::default(),
    }
}

impl Fixture {
    async fn profile(&self) -> Profile {
        self.repos.profiles().get("acme").await.unwrap().unwrap()
    }

    /// A sync's Reclamation at `now`: refresh, then the notify pass.
    pub(crate) async fn sync(&self, now: DateTime<Utc>) -> NotifyReport {
        let p = self.profile().await;
        let r = candidates::refresh(self.repos.seats(), &p, "run", now, 0)
            .await
            .unwrap();
        run(
            &self.repos,
            Some(&self.notifier),
            Some(&self.queue),
            &p,
            r.report.seats_evaluated,
            now,
        )
        .await
        .unwrap()
    }

    async fn notice(&self, user: &str) -> Notice {
        let all = self.repos.notices().notices("acme").await.unwrap();
        all.into_iter()
            .rfind(|n| n.user_id == user)
            .unwrap_or_else(|| panic!("no notice for {user}"))
    }

    async fn notices_of(&self, user: &str) -> Vec<Notice> {
        let all = self.repos.notices().notices("acme").await.unwrap();
        all.into_iter().filter(|n| n.user_id == user).collect()
    }

    /// The token of the newest link mailed to `to`.
    pub(crate) fn token(&self, to: &str) -> String {
        let mail = self.mailer.sent_to(to);
        let text = &mail.last().expect("a mail").text;
        let at = text.find("/keep?t=").expect("a keep link") + "/keep?t=".len();
        text[at..at + 43].to_owned()
    }
}

#[tokio::test]
async fn a_new_candidate_gets_one_notice_per_candidacy() {
    let f = fixture(&["eve@acme.com"]).await;
    let r = f.sync(t0()).await;
    assert_eq!(r.notices_sent, 1, "{r:?}");
    let n = f.notice("2").await;
    assert_eq!(n.state, NoticeState::Sent);
    assert_eq!(n.due_at, Some(day(9)), "the start of the 7th day on");
    assert_eq!(n.email.as_deref(), Some("eve@acme.com"));
    let mail = f.mailer.sent_to("eve@acme.com");
    assert_eq!(mail.len(), 1);
    assert!(
        mail[0].text.contains("2026-03-09"),
        "due date: {}",
        mail[0].text
    );
    assert!(mail[0].text.contains("https://api.example.test/keep?t="));
    assert!(
        mail[0].text.contains("User 1 (ada@acme.com)"),
        "where files go"
    );
    // only the digest is stored
    let token = f.token("eve@acme.com");
    assert_eq!(
        n.token_digest.as_deref(),
        Some(token_digest(&token).as_str())
    );
    assert!(!format!("{n:?}").contains(&token));

    // re-runs the same day and later: no second notice
    let r = f.sync(t0() + Duration::hours(3)).await;
    assert_eq!(r.notices_sent, 0);
    f.sync(t0() + Duration::days(1)).await;
    assert_eq!(f.mailer.sent_to("eve@acme.com").len(), 1);
    assert_eq!(f.notices_of("2").await.len(), 1);
}

#[tokio::test]
async fn a_reminder_goes_out_once_on_its_day() {
    let f = fixture(&["eve@acme.com"]).await;
    f.sync(t0()).await;
    assert_eq!(f.sync(t0() + Duration::days(4)).await.reminders_sent, 0);
    let r = f.sync(t0() + Duration::days(5)).await;
    assert_eq!(r.reminders_sent, 1, "{r:?}");
    let mail = f.mailer.sent_to("eve@acme.com");
    assert_eq!(mail.len(), 2);
    assert!(
        mail[1].subject.starts_with("Reminder"),
        "{}",
        mail[1].subject
    );
    assert_eq!(f.sync(t0() + Duration::days(6)).await.reminders_sent, 0);
    assert_eq!(f.mailer.sent_to("eve@acme.com").len(), 2);
    assert_eq!(f.notice("2").await.reminders_sent, vec![2]);
}

#[tokio::test]
async fn a_due_notice_is_enqueued_within_the_cap_then_the_rest() {
    let f = fixture(&["a@acme.com", "b@acme.com", "c@acme.com"]).await;
    f.repos
        .profiles()
        .update("acme", |p| -> Result<(), StoreError> {
            p.rules.max_per_run = 2;
            Ok(())
        })
        .await
        .unwrap();
    f.sync(t0()).await;
    assert!(f.queue.sent().is_empty());
    let r = f.sync(t0() + Duration::days(7)).await;
    assert_eq!((r.due, r.enqueued, r.held), (3, 2, 1), "{r:?}");
    let sent = f.queue.sent();
    assert_eq!(sent.len(), 2);
    // the most inactive first (user 4 is the idlest)
    assert_eq!(sent[0].user_id, "4");
    let approval = f
        .repos
        .reclaims()
        .get_approval("acme", &sent[0].request_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(approval.source, "notify");
    let states: Vec<NoticeState> = [
        f.notice("2").await,
        f.notice("3").await,
        f.notice("4").await,
    ]
    .iter()
    .map(|n| n.state)
    .collect();
    assert_eq!(
        states,
        [
            NoticeState::Due,
            NoticeState::Requested,
            NoticeState::Requested
        ]
    );
    assert_eq!(
        f.notice("4").await.request_id.as_deref(),
        Some(sent[0].request_id.as_str())
    );
    // the next sync takes the one the cap held; nothing is sent twice
    let r = f.sync(t0() + Duration::days(8)).await;
    assert_eq!(r.enqueued, 1, "{r:?}");
    assert_eq!(f.queue.sent().len(), 3);
    assert_eq!(f.notice("2").await.state, NoticeState::Requested);
    f.sync(t0() + Duration::days(9)).await;
    assert_eq!(f.queue.sent().len(), 3);
}

#[tokio::test]
async fn no_email_and_notice_failed_are_never_enqueued_and_a_transient_failure_is_retried() {
    let f = fixture(&["not-an-address", "bounce@acme.com", "busy@acme.com"]).await;
    f.mailer.refuse("bounce@acme.com", true);
    f.mailer.refuse("busy@acme.com", false);
    let r = f.sync(t0()).await;
    assert_eq!(
        (r.no_email, r.notice_failed, r.retry_later),
        (1, 1, 1),
        "{r:?}"
    );
    assert_eq!(f.notice("2").await.state, NoticeState::NoEmail);
    let failed = f.notice("3").await;
    assert_eq!(failed.state, NoticeState::NoticeFailed);
    assert!(failed.last_error.unwrap().contains("MessageRejected"));
    assert_eq!(f.notice("4").await.state, NoticeState::Pending);

    f.mailer.accept("busy@acme.com");
    let r = f.sync(t0() + Duration::days(1)).await;
    assert_eq!(r.notices_sent, 1, "{r:?}");
    let busy = f.notice("4").await;
    assert_eq!(busy.state, NoticeState::Sent);
    assert_eq!(busy.due_at, Some(day(10)), "due from the send");

    // long past every due date: only the notified one is enqueued
    let r = f.sync(t0() + Duration::days(30)).await;
    assert_eq!(r.enqueued, 1, "{r:?}");
    let sent = f.queue.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].user_id, "4");
    assert_eq!(f.notice("2").await.state, NoticeState::NoEmail);
    assert_eq!(f.notice("3").await.state, NoticeState::NoticeFailed);
    // the admins see both in the digest
    let out = send_digest(
        &f.repos,
        Some(&f.notifier),
        &f.profile().await,
        t0() + Duration::days(30),
    )
    .await
    .unwrap();
    assert!(matches!(out, DigestOutcome::Sent { .. }), "{out:?}");
    let digest = f.mailer.sent_to("it@acme.com");
    assert!(
        digest[0]
            .text
            .contains("not-an-address (2): no email address"),
        "{}",
        digest[0].text
    );
    assert!(digest[0]
        .text
        .contains("bounce@acme.com (3): notice notice_failed"));
}

#[tokio::test]
async fn activity_after_the_notice_cancels_it_and_a_new_candidacy_gets_a_new_notice() {
    let f = fixture(&["eve@acme.com"]).await;
    f.sync(t0()).await;
    // eve logs in: no longer a candidate
    let mut s = f.repos.seats().get("acme", "2").await.unwrap().unwrap();
    s.last_login = Some(LoginEvidence {
        at: t0() + Duration::days(1),
        event_id: "ev-new".into(),
        event_type: "LOGIN".into(),
    });
    f.repos.seats().put_many(&[s.clone()]).await.unwrap();
    let r = f.sync(t0() + Duration::days(2)).await;
    assert_eq!(r.cancelled, 1, "{r:?}");
    assert_eq!(f.notice("2").await.state, NoticeState::Cancelled);
    // and her link no longer works
    let token = f.token("eve@acme.com");
    let got = keep::inspect(&f.repos, &token, t0() + Duration::days(2))
        .await
        .unwrap();
    assert_eq!(got.unwrap_err(), KeepRefusal::Closed);

    // idle again, much later: a new candidacy, a new notice
    let later = t0() + Duration::days(200);
    let r = f.sync(later).await;
    assert_eq!(r.notices_sent, 1, "{r:?}");
    let all = f.notices_of("2").await;
    assert_eq!(all.len(), 2);
    assert_ne!(all[0].candidacy, all[1].candidacy);
    assert_eq!(f.mailer.sent_to("eve@acme.com").len(), 2);
}

#[tokio::test]
async fn a_keep_is_recorded_once_with_its_reason_and_the_candidate_leaves() {
    let f = fixture(&["eve@acme.com"]).await;
    f.sync(t0()).await;
    let token = f.token("eve@acme.com");
    let now = t0() + Duration::days(1);

    let view = keep::inspect(&f.repos, &token, now).await.unwrap().unwrap();
    assert_eq!(view.login, "eve@acme.com");
    assert_eq!(view.due_at, day(9));

    let (k, _) = keep::keep(&f.repos, &token, Some("  quarterly audits  "), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(k.reason.as_deref(), Some("quarterly audits"));
    assert_eq!(k.until, now + Duration::days(90));
    assert_eq!(f.repos.keep_of("acme", "2"), Some(k.clone()));
    let n = f.notice("2").await;
    assert_eq!(n.state, NoticeState::Kept);
    assert_eq!(n.keep_reason.as_deref(), Some("quarterly audits"));
    assert!(f
        .repos
        .seats()
        .get_candidate("acme", "2")
        .await
        .unwrap()
        .is_none());

    // single use
    let again = keep::keep(&f.repos, &token, None, now).await.unwrap();
    assert_eq!(again.unwrap_err(), KeepRefusal::Used);
    assert_eq!(
        keep::inspect(&f.repos, &token, now)
            .await
            .unwrap()
            .unwrap_err(),
        KeepRefusal::Used
    );
    assert_eq!(
        f.repos.keep_of("acme", "2"),
        Some(k),
        "the first keep stands"
    );

    // the next syncs: exempt (not a candidate), never enqueued, the notice stays kept
    let r = f.sync(t0() + Duration::days(8)).await;
    assert_eq!(
        (r.enqueued, r.notices_sent, r.cancelled),
        (0, 0, 0),
        "{r:?}"
    );
    assert!(f.queue.sent().is_empty());
    assert!(f
        .repos
        .seats()
        .get_candidate("acme", "2")
        .await
        .unwrap()
        .is_none());
    assert_eq!(f.notice("2").await.state, NoticeState::Kept);
    assert_eq!(f.notices_of("2").await.len(), 1);
    // the admins see the reason in the digest
    send_digest(
        &f.repos,
        Some(&f.notifier),
        &f.profile().await,
        now + Duration::hours(1),
    )
    .await
    .unwrap();
    let digest = f.mailer.sent_to("it@acme.com");
    assert!(
        digest[0].text.contains("reason: quarterly audits"),
        "{}",
        digest[0].text
    );
}

#[tokio::test]
async fn expired_forged_tampered_and_missing_tokens_change_nothing() {
    let f = fixture(&["eve@acme.com"]).await;
    f.sync(t0()).await;
    let token = f.token("eve@acme.com");
    let due = t0() + Duration::days(7);
    let before = f.repos.notices().notices("acme").await.unwrap();

    let mut tampered = token.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let cases = [
        (token.as_str(), due, KeepRefusal::Expired),
        (tampered.as_str(), t0(), KeepRefusal::Unknown),
        (&"x".repeat(43), t0(), KeepRefusal::Unknown),
        (&token[..42], t0(), KeepRefusal::Malformed),
        ("", t0(), KeepRefusal::Malformed),
        ("<script>", t0(), KeepRefusal::Malformed),
    ];
    for (tok, now, want) in cases {
        assert_eq!(
            keep::keep(&f.repos, tok, Some("x"), now)
                .await
                .unwrap()
                .unwrap_err(),
            want,
            "{tok}"
        );
        assert_eq!(
            keep::inspect(&f.repos, tok, now)
                .await
                .unwrap()
                .unwrap_err(),
            want
        );
    }
    assert_eq!(f.repos.notices().notices("acme").await.unwrap(), before);
    assert_eq!(f.repos.keep_of("acme", "2"), None);
    assert_eq!(
        f.repos.calls("notices.keep"),
        0,
        "refused before the atomic write"
    );
}

#[tokio::test]
async fn the_digest_goes_out_once_a_day() {
    let f = fixture(&["eve@acme.com"]).await;
    f.sync(t0()).await;
    let p = f.profile().await;
    let out = send_digest(&f.repos, Some(&f.notifier), &p, t0())
        .await
        .unwrap();
    assert!(matches!(out, DigestOutcome::Sent { .. }), "{out:?}");
    let again = send_digest(&f.repos, Some(&f.notifier), &p, t0() + Duration::hours(5))
        .await
        .unwrap();
    assert_eq!(again, DigestOutcome::NotDue);
    let d = f.mailer.sent_to("it@acme.com");
    assert_eq!(d.len(), 1);
    assert!(
        d[0].text.contains("eve@acme.com (2): due 2026-03-09"),
        "{}",
        d[0].text
    );

    // the next day has no news: what the first digest reported is not repeated
    let next = t0() + Duration::days(1);
    let out = send_digest(&f.repos, Some(&f.notifier), &p, next)
        .await
        .unwrap();
    assert_eq!(out, DigestOutcome::Empty);
    // a refused digest gives the day back: the reclaim due tomorrow is news on day 6
    let day6 = t0() + Duration::days(6) + Duration::hours(1);
    f.mailer.refuse("it@acme.com", false);
    let out = send_digest(&f.repos, Some(&f.notifier), &p, day6)
        .await
        .unwrap();
    assert!(matches!(out, DigestOutcome::Failed(_)), "{out:?}");
    f.mailer.accept("it@acme.com");
    let out = send_digest(&f.repos, Some(&f.notifier), &p, day6 + Duration::hours(1))
        .await
        .unwrap();
    assert!(matches!(out, DigestOutcome::Sent { .. }), "{out:?}");
    let d = f.mailer.sent_to("it@acme.com");
    assert!(
        d[1].text.contains("Reclaims due tomorrow (1)"),
        "{}",
        d[1].text
    );
    // what the first digest reported is not news again: the notice went out in the same pass
    // (at the same instant) as that digest
    assert!(d[1].text.contains("New notices (0)"), "{}", d[1].text);
}

#[tokio::test]
async fn notify_mode_without_a_mailer_fails_and_a_paused_profile_sends_nothing() {
    let f = fixture(&["eve@acme.com"]).await;
    let mut p = f.profile().await;
    let none: Option<&Notifier<MemoryMailer>> = None;
    let err = run(&f.repos, none, Some(&f.queue), &p, 2, t0())
        .await
        .unwrap_err();
    assert!(matches!(err, NotifyError::NotConfigured), "{err}");
    p.rules.paused = true;
    let r = run(&f.repos, Some(&f.notifier), Some(&f.queue), &p, 2, t0())
        .await
        .unwrap();
    assert!(r.paused);
    assert!(f.mailer.sent().is_empty());
}

#[test]
fn tokens_are_32_random_bytes_in_base64url() {
    let (a, da) = new_token().unwrap();
    let (b, _) = new_token().unwrap();
    assert_ne!(a, b);
    assert!(crate::domain::notice::token_well_formed(&a), "{a}");
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&a)
            .unwrap()
            .len(),
        32
    );
    assert_eq!(da, token_digest(&a));
    let base = url::Url::parse("https://x.test/prod/").unwrap();
    assert_eq!(keep_link(&base, "T"), "https://x.test/prod/keep?t=T");
}

#[tokio::test]
async fn a_request_the_reclaim_function_let_go_is_enqueued_again() {
    let f = fixture(&["eve@acme.com"]).await;
    f.sync(t0()).await;
    assert_eq!(f.sync(t0() + Duration::days(7)).await.enqueued, 1);
    assert_eq!(f.notice("2").await.state, NoticeState::Requested);
    // as Reclaimer::release_candidate does when the daily cap refuses the request
    let mut c = f
        .repos
        .seats()
        .get_candidate("acme", "2")
        .await
        .unwrap()
        .unwrap();
    c.request_id = None;
    c.requested_at = None;
    c.waiting = Some("request x blast_radius_cap: waits for the next run".into());
    f.repos.seats().put_candidate(&c).await.unwrap();
    let r = f.sync(t0() + Duration::days(8)).await;
    assert_eq!((r.due, r.enqueued), (1, 1), "{r:?}");
    assert_eq!(
        f.queue.sent().len(),
        2,
        "a second request for the same user"
    );
    assert_eq!(f.notice("2").await.state, NoticeState::Requested);
}

#[tokio::test]
async fn a_mailed_notice_whose_record_was_lost_can_still_be_kept_once() {
    let f = fixture(&["eve@acme.com"]).await;
    let p = f.profile().await;
    let r = candidates::refresh(f.repos.seats(), &p, "run", t0(), 0)
        .await
        .unwrap();
    // SES accepted the mail, then the notice's save failed (a crash, a lost answer)
    f.repos.fail_next("notices.save_notice");
    assert!(run(
        &f.repos,
        Some(&f.notifier),
        Some(&f.queue),
        &p,
        r.report.seats_evaluated,
        t0()
    )
    .await
    .is_err());
    assert_eq!(f.mailer.sent_to("eve@acme.com").len(), 1);
    assert_eq!(f.notice("2").await.state, NoticeState::Pending);
    let token = f.token("eve@acme.com");
    let now = t0() + Duration::hours(1);
    assert!(keep::inspect(&f.repos, &token, now).await.unwrap().is_ok());
    let kept = keep::keep(&f.repos, &token, Some("need it"), now)
        .await
        .unwrap();
    assert!(kept.is_ok(), "{:?}", kept.err());
    assert_eq!(f.notice("2").await.state, NoticeState::Kept);
    // the next sync neither mails again nor enqueues
    let next = f.sync(t0() + Duration::days(8)).await;
    assert_eq!((next.notices_sent, next.enqueued), (0, 0), "{next:?}");
    assert_eq!(f.mailer.sent_to("eve@acme.com").len(), 1);
    // and the link is used up, with the reason the page gives
    assert_eq!(
        keep::keep(&f.repos, &token, None, now).await.unwrap().err(),
        Some(KeepRefusal::Used)
    );
}

#[tokio::test]
async fn no_keep_is_accepted_while_a_reclaim_is_under_way() {
    let f = fixture(&["eve@acme.com"]).await;
    f.sync(t0()).await;
    let token = f.token("eve@acme.com");
    // an operator approved the reclaim before the due date: the request is on its way
    let mut c = f
        .repos
        .seats()
        .get_candidate("acme", "2")
        .await
        .unwrap()
        .unwrap();
    c.request_id = Some("req-op".into());
    f.repos.seats().put_candidate(&c).await.unwrap();
    let now = t0() + Duration::days(1);
    assert_eq!(
        keep::inspect(&f.repos, &token, now).await.unwrap().err(),
        Some(KeepRefusal::InProgress)
    );
    assert_eq!(
        keep::keep(&f.repos, &token, Some("please"), now)
            .await
            .unwrap()
            .err(),
        Some(KeepRefusal::InProgress)
    );
    assert_eq!(f.repos.keep_of("acme", "2"), None, "nothing written");
    assert_eq!(f.notice("2").await.state, NoticeState::Sent);
}

// ---- bounces and complaints (the mail-events queue) ------------------------------------------

use crate::domain::mail_event::{in_sns_envelope, ses_bounce_record, ses_complaint_record};

impl Fixture {
    fn message_id(n: &Notice) -> String {
        n.message_id.clone().expect("sent")
    }
}

#[tokio::test]
async fn a_permanent_bounce_fails_the_notice_and_it_is_never_enqueued() {
    let f = fixture(&["gone@acme.com", "ok@acme.com"]).await;
    f.sync(t0()).await;
    let gone = f.notice("2").await;
    assert_eq!(gone.state, NoticeState::Sent);
    // SES accepted it; the bounce comes later, through SNS (with and without the envelope)
    let raw = ses_bounce_record(
        &Fixture::message_id(&gone),
        "Permanent",
        "gone@acme.com",
        "smtp; 550 5.1.1 user unknown",
    );
    f.events.push(in_sns_envelope(&raw));
    let r = f.sync(t0() + Duration::hours(1)).await;
    assert_eq!(r.events.read, 1, "{r:?}");
    assert_eq!(r.events.failed_notices, 1, "{r:?}");
    assert!(
        r.describe().contains("1 notice(s) failed by a bounce"),
        "{}",
        r.describe()
    );
    let failed = f.notice("2").await;
    assert_eq!(failed.state, NoticeState::NoticeFailed);
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("the notice bounced: Permanent bounce (General): smtp; 550 5.1.1"),
        "{:?}",
        failed.last_error
    );
    assert_eq!(f.events.unacked(), 0, "acknowledged");
    // past the due date: only the one who was told is enqueued
    let r = f.sync(t0() + Duration::days(8)).await;
    assert_eq!(r.enqueued, 1, "{r:?}");
    assert!(f.queue.sent().iter().all(|q| q.user_id == "3"));
    assert_eq!(f.notice("2").await.state, NoticeState::NoticeFailed);
    // and the admins see it in the digest
    send_digest(
        &f.repos,
        Some(&f.notifier),
        &f.profile().await,
        t0() + Duration::days(8),
    )
    .await
    .unwrap();
    let digest = f.mailer.sent_to("it@acme.com");
    assert!(
        digest[0]
            .text
            .contains("gone@acme.com (2): notice notice_failed: the notice bounced"),
        "{}",
        digest[0].text
    );
}

#[tokio::test]
async fn a_complaint_fails_the_notice_a_transient_bounce_keeps_it() {
    let f = fixture(&["spam@acme.com", "full@acme.com"]).await;
    f.sync(t0()).await;
    let spam = Fixture::message_id(&f.notice("2").await);
    let full = Fixture::message_id(&f.notice("3").await);
    f.events.push(ses_complaint_record(&spam, "spam@acme.com"));
    f.events.push(ses_bounce_record(
        &full,
        "Transient",
        "full@acme.com",
        "552 mailbox full",
    ));
    let r = f.sync(t0() + Duration::hours(1)).await;
    assert_eq!(
        (r.events.failed_notices, r.events.transient),
        (1, 1),
        "{r:?}"
    );
    let n = f.notice("2").await;
    assert_eq!(n.state, NoticeState::NoticeFailed);
    assert!(n.last_error.unwrap().contains("spam"));
    let kept = f.notice("3").await;
    assert_eq!(
        kept.state,
        NoticeState::Sent,
        "a transient bounce keeps the notice"
    );
    assert!(kept.last_error.unwrap().contains("mailbox full"));
    let r = f.sync(t0() + Duration::days(8)).await;
    assert_eq!(r.enqueued, 1, "{r:?}");
    assert_eq!(f.queue.sent()[0].user_id, "3");
}

#[tokio::test]
async fn a_reminder_bounce_fails_the_notice_too() {
    let f = fixture(&["eve@acme.com"]).await;
    f.sync(t0()).await;
    let r = f.sync(day(7) + Duration::hours(6)).await;
    assert_eq!(r.reminders_sent, 1, "{r:?}");
    let reminder = Fixture::message_id(&f.notice("2").await);
    f.events.push(ses_bounce_record(
        &reminder,
        "Permanent",
        "eve@acme.com",
        "550",
    ));
    f.sync(day(8)).await;
    assert_eq!(f.notice("2").await.state, NoticeState::NoticeFailed);
    f.sync(day(20)).await;
    assert!(f.queue.sent().is_empty());
}

#[tokio::test]
async fn duplicate_unknown_and_malformed_events_are_acknowledged_and_counted() {
    let f = fixture(&["gone@acme.com"]).await;
    f.sync(t0()).await;
    let id = Fixture::message_id(&f.notice("2").await);
    let bounce = ses_bounce_record(&id, "Permanent", "gone@acme.com", "550");
    f.events.push(bounce.clone());
    f.events.push(bounce);
    f.events.push(ses_bounce_record(
        "never-sent",
        "Permanent",
        "x@acme.com",
        "550",
    ));
    f.events.push("not json at all");
    f.events
        .push(r#"{"Type":"SubscriptionConfirmation","Message":"{}"}"#);
    f.events
        .push(r#"{"eventType":"Delivery","mail":{"messageId":"m"},"delivery":{}}"#);
    // more than one receive batch
    for _ in 0..12 {
        f.events.push("{}");
    }
    let r = f.sync(t0() + Duration::hours(1)).await;
    let e = &r.events;
    assert_eq!(e.read, 18, "{e:?}");
    assert_eq!(
        (e.failed_notices, e.unchanged, e.unknown, e.malformed),
        (1, 1, 2, 14),
        "{e:?}"
    );
    assert_eq!(f.events.unacked(), 0);
    assert_eq!(f.events.acked(), 18);
    assert_eq!(f.notice("2").await.state, NoticeState::NoticeFailed);
    // the same event delivered again later (SQS is at least once): harmless
    f.events
        .push(ses_bounce_record(&id, "Permanent", "gone@acme.com", "550"));
    let r = f.sync(t0() + Duration::hours(2)).await;
    assert_eq!(r.events.unchanged, 1, "{r:?}");
}

#[tokio::test]
async fn a_bounce_after_enqueueing_fails_the_requested_notice() {
    let f = fixture(&["late@acme.com"]).await;
    f.sync(t0()).await;
    let id = Fixture::message_id(&f.notice("2").await);
    f.sync(day(9)).await;
    let n = f.notice("2").await;
    assert_eq!(n.state, NoticeState::Requested);
    let request_id = n.request_id.clone().unwrap();
    // the bounce was late (an MTA retried for days): the reclaim may not have run yet
    f.events.push(ses_bounce_record(
        &id,
        "Permanent",
        "late@acme.com",
        "550 gone",
    ));
    let r = f.sync(day(9) + Duration::hours(1)).await;
    assert_eq!(r.events.failed_notices, 1, "{r:?}");
    let n = f.notice("2").await;
    assert_eq!(n.state, NoticeState::NoticeFailed);
    let why = n.last_error.unwrap();
    assert!(
        why.contains(&request_id) && why.contains("refuses"),
        "{why}"
    );
    assert_eq!(f.queue.sent().len(), 1, "nothing enqueued again");
}

#[tokio::test]
async fn a_store_failure_leaves_the_event_on_the_queue() {
    let f = fixture(&["gone@acme.com"]).await;
    f.sync(t0()).await;
    let id = Fixture::message_id(&f.notice("2").await);
    f.events
        .push(ses_bounce_record(&id, "Permanent", "gone@acme.com", "550"));
    f.repos.fail_next("notices.get_message");
    let p = f.profile().await;
    let err = run(&f.repos, Some(&f.notifier), Some(&f.queue), &p, 2, t0()).await;
    assert!(err.is_err());
    assert_eq!(f.events.unacked(), 1, "not acknowledged");
    f.events.expire_in_flight();
    let r = f.sync(t0() + Duration::hours(1)).await;
    assert_eq!(r.events.failed_notices, 1, "{r:?}");
}
