//! Notify mode end to end: a Box profile (provider sandbox) in notify mode syncs, the notice goes
//! out through SES v2 on moto and is read back from moto's recorded messages (recipient, due date,
//! link); the keep page's handler (GET, then POST) with the token from that mail writes the keep
//! to DynamoDB and the candidate leaves; with `notice_days` 0 a new candidate's notice is due at
//! the next sync and its reclaim is enqueued, approved and executed.
use chrono::{Duration, Utc};
use provider_sandbox::NewBoxUser;
use seatkeeper::domain::{NoticeState, Profile, ReclaimMode, TaskKind};
use seatkeeper::handlers::keep;
use seatkeeper::handlers::sync::handle;
use seatkeeper::ports::{NoticeRepo, ProfileRepo, SeatRepo, StoreError};
use seatkeeper_e2e::{moto_endpoint, unique, TestEnv};
use serde_json::{json, Value};
use std::collections::HashMap;

async fn edit_profile(env: &TestEnv, id: &str, f: impl Fn(&mut Profile)) {
    env.store
        .profiles
        .update(id, |p| -> Result<(), StoreError> {
            f(p);
            Ok(())
        })
        .await
        .unwrap()
        .unwrap();
}

/// A stale Box user (created 400 days ago, last login 100 days ago) with a unique address.
fn add_stale(env: &TestEnv, name: &str) -> (String, String) {
    let tenant = env.sandbox.box_tenant();
    let email = format!("{}@example.com", unique(name));
    let mut u = NewBoxUser::member(name, email.clone());
    u.created_at = Utc::now() - Duration::days(400);
    let u = tenant.add_user(u);
    tenant.add_event(&u.id, "LOGIN", Utc::now() - Duration::days(100));
    (u.id, email)
}

/// moto's model dump. It races with the requests other tests make meanwhile (moto checks each
/// attribute, then serialises them all: an item changed in between fails the dump with a 500),
/// so a failed dump is asked for again.
async fn moto_data() -> Value {
    let mut last = String::new();
    for attempt in 0..5u64 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
        }
        let r = reqwest::get(format!("{}/moto-api/data.json", moto_endpoint()))
            .await
            .expect("moto answers");
        let status = r.status();
        let body = r.text().await.expect("moto's answer has a body");
        match serde_json::from_str(&body) {
            Ok(v) if status.is_success() => return v,
            _ => last = format!("{status}: {}", body.chars().take(200).collect::<String>()),
        }
    }
    panic!("moto's data dump failed five times; last answer {last}");
}

/// What moto's SES recorded as sent to `to` (subject, body), oldest first. Moto keeps the HTML
/// part of a simple message as its body.
async fn ses_messages_to(to: &str) -> Vec<(String, String)> {
    let data = moto_data().await;
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| {
            m["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == to))
        })
        .map(|m| {
            (
                m["subject"].as_str().unwrap_or_default().to_owned(),
                m["body"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The token of the keep link in a mail body.
fn token_in(body: &str, base: &str) -> String {
    let prefix = format!("{base}/keep?t=");
    let at = body.find(&prefix).expect("the keep link") + prefix.len();
    body[at..at + 43].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn box_notify_mode_mails_the_notice_keeps_through_the_page_and_reclaims_when_due() {
    let mut env = TestEnv::start(4, 71).await;
    let base = "https://keep.seatkeeper.test";
    let sender = format!("{}@seatkeeper.test", unique("notices"));
    let admins = format!("{}@example.com", unique("it-admins"));
    // SES only sends as a verified identity
    let ses = aws_sdk_sesv2::Client::new(
        &aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
    );
    ses.create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("identity created");
    env.config.notice_sender = Some(sender.clone());
    env.config.keep_base_url = Some(url::Url::parse(base).unwrap());
    env.config.digest_recipient = Some(admins.clone());

    let tenant = env.sandbox.box_tenant();
    let admin = tenant.users()[0].clone();
    let (kim, kim_mail) = add_stale(&env, "keeper-kim");
    let (dan, dan_mail) = add_stale(&env, "due-dan");
    let profile = env.add_box_profile().await;
    let admin_id = admin.id.clone();
    edit_profile(&env, &profile.id, |p| {
        p.backfill_days = Some(365);
        p.rules.transfer_target = Some(admin_id.clone());
        p.rules.mode = ReclaimMode::Notify;
        p.rules.max_percent = 100;
    })
    .await;

    // the sync notifies both; the notice is in SES with recipient, date and link
    let report = handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    let outcome = &report.profiles[0];
    assert!(outcome.succeeded, "{:?}", outcome.error);
    let detail = outcome
        .task(TaskKind::Reclamation)
        .unwrap()
        .detail
        .clone()
        .unwrap();
    assert!(detail.contains("notify:"), "{detail}");
    // 7 whole days: the first midnight after now + 7 days
    let due = (Utc::now() + Duration::days(8))
        .format("%Y-%m-%d")
        .to_string();
    let mails = ses_messages_to(&kim_mail).await;
    assert_eq!(mails.len(), 1, "one notice: {mails:?}");
    let (subject, body) = &mails[0];
    assert!(subject.contains(&due), "{subject}");
    assert!(body.contains(&due), "{body}");
    assert!(body.contains(&admin.login), "where the files go: {body}");
    let token = token_in(body, base);
    assert_eq!(ses_messages_to(&dan_mail).await.len(), 1);
    // the digest went to the admins, naming the new notices
    let digest = ses_messages_to(&admins).await;
    assert_eq!(digest.len(), 1);
    assert!(digest[0].1.contains(&kim_mail), "{}", digest[0].1);

    // only the token's digest is stored, never the token
    assert!(!env.scan_all().await.contains(&token));
    let notice = env
        .store
        .notices
        .notices(&profile.id)
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.user_id == kim)
        .unwrap();
    assert_eq!(notice.state, NoticeState::Sent);

    // a re-run sends nothing new (one notice per candidacy, one digest a day)
    handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    assert_eq!(ses_messages_to(&kim_mail).await.len(), 1);
    assert_eq!(ses_messages_to(&admins).await.len(), 1);

    // Kim opens the link (GET changes nothing), then presses the button (POST)
    let q: HashMap<String, String> = [("t".to_owned(), token.clone())].into();
    let page = keep::handle(&env.store, "GET", &q, b"").await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains(&kim_mail));
    assert!(page
        .html
        .contains("<button type=\"submit\" id=\"keep\">Keep my license</button>"));
    assert!(env
        .store
        .seats
        .get_keep(&profile.id, &kim)
        .await
        .unwrap()
        .is_none());
    let body = format!("t={token}&reason=on+parental+leave");
    let page = keep::handle(&env.store, "POST", &HashMap::new(), body.as_bytes()).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("id=\"kept\""));
    let k = env
        .store
        .seats
        .get_keep(&profile.id, &kim)
        .await
        .unwrap()
        .expect("the keep is in DynamoDB");
    assert_eq!(k.reason.as_deref(), Some("on parental leave"));
    assert!(page.html.contains(&k.until.format("%Y-%m-%d").to_string()));
    assert_eq!(
        env.partition(&format!("KEEPS#{}", profile.id)).await.len(),
        1
    );
    assert!(env
        .store
        .seats
        .get_candidate(&profile.id, &kim)
        .await
        .unwrap()
        .is_none());
    // the same link again changes nothing
    let again = keep::handle(&env.store, "POST", &HashMap::new(), body.as_bytes()).await;
    assert_eq!(again.status, 409);
    assert_eq!(
        env.store.seats.get_keep(&profile.id, &kim).await.unwrap(),
        Some(k)
    );

    // the next sync leaves Kim off the list; Dan waits for his date
    handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    assert!(env
        .store
        .seats
        .get_candidate(&profile.id, &kim)
        .await
        .unwrap()
        .is_none());
    assert!(env
        .store
        .seats
        .get_candidate(&profile.id, &dan)
        .await
        .unwrap()
        .is_some());

    // a notice period of 0 days: a new candidate is due at the next sync and reclaimed
    edit_profile(&env, &profile.id, |p| p.rules.notice_days = 0).await;
    let (quinn, quinn_mail) = add_stale(&env, "quick-quinn");
    handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    assert_eq!(ses_messages_to(&quinn_mail).await.len(), 1);
    let report = handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    let task = report.profiles[0].task(TaskKind::Reclamation).unwrap();
    assert_eq!(task.counts.requests_enqueued, 1, "{:?}", task.detail);
    let c = env
        .store
        .seats
        .get_candidate(&profile.id, &quinn)
        .await
        .unwrap()
        .expect("still a candidate until reclaimed");
    let request_id = c.request_id.clone().expect("enqueued");
    env.drain(&env.reclaimer(), 3).await;
    assert!(
        tenant.deleted_users().contains(&quinn),
        "Quinn was reclaimed"
    );
    assert!(
        !tenant.deleted_users().contains(&dan),
        "Dan's date has not come"
    );
    assert!(
        !tenant.deleted_users().contains(&kim),
        "Kim kept the license"
    );
    let notices = env.store.notices.notices(&profile.id).await.unwrap();
    let state = |u: &str| notices.iter().rfind(|n| n.user_id == u).map(|n| n.state);
    assert_eq!(state(&quinn), Some(NoticeState::Requested));
    assert_eq!(state(&kim), Some(NoticeState::Kept));
    assert_eq!(state(&dan), Some(NoticeState::Sent));
    let requested = notices.iter().find(|n| n.user_id == quinn).unwrap();
    assert_eq!(requested.request_id.as_deref(), Some(request_id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_ses_refuses_leaves_the_notice_failed_and_the_user_is_never_reclaimed() {
    let mut env = TestEnv::start(2, 72).await;
    // a sender SES never verified: SES v2 answers MessageRejected (permanent)
    env.config.notice_sender = Some(format!("{}@unverified.test", unique("nobody")));
    env.config.keep_base_url = Some(url::Url::parse("https://keep.seatkeeper.test").unwrap());
    let admin = env.sandbox.box_tenant().users()[0].id.clone();
    let (sam, sam_mail) = add_stale(&env, "bounced-sam");
    let profile = env.add_box_profile().await;
    edit_profile(&env, &profile.id, |p| {
        p.backfill_days = Some(365);
        p.rules.transfer_target = Some(admin.clone());
        p.rules.mode = ReclaimMode::Notify;
        p.rules.notice_days = 0;
        p.rules.max_percent = 100;
    })
    .await;
    for _ in 0..2 {
        let report = handle(&env.box_sync(), json!({ "profile": profile.id }))
            .await
            .expect("sync");
        let task = report.profiles[0].task(TaskKind::Reclamation).unwrap();
        assert_eq!(task.counts.requests_enqueued, 0, "{:?}", task.detail);
    }
    assert!(ses_messages_to(&sam_mail).await.is_empty());
    let n = env
        .store
        .notices
        .notices(&profile.id)
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.user_id == sam)
        .unwrap();
    assert_eq!(n.state, NoticeState::NoticeFailed);
    assert!(
        n.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("MessageRejected"),
        "{:?}",
        n.last_error
    );
    // still a candidate, visible to the admin, and nothing on the queue
    assert!(env
        .store
        .seats
        .get_candidate(&profile.id, &sam)
        .await
        .unwrap()
        .is_some());
    assert_eq!(env.drain(&env.reclaimer(), 1).await.len(), 0);
}

/// A mail-events queue in moto, set in the environment like the template's MailEventsQueue.
async fn mail_events_queue(env: &mut TestEnv) -> String {
    let url = env
        .aws
        .sqs
        .create_queue()
        .queue_name(unique("mail-events"))
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "1",
        )
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url");
    env.config.mail_events_queue_url = Some(url.clone());
    url
}

/// Puts an SES event record on the mail-events queue as the template's SNS subscription
/// delivers it (raw message delivery: the body is the record itself). Moto's SES v2 accepts a
/// configuration set name on SendEmail but publishes no events for it, so the test plays SES and
/// SNS here, with the record in SES's documented event-publishing format.
async fn deliver_mail_event(env: &TestEnv, url: &str, record: String) {
    env.aws
        .sqs
        .send_message()
        .queue_url(url)
        .message_body(record)
        .send()
        .await
        .expect("event queued");
}

async fn notice_of(env: &TestEnv, profile: &str, user: &str) -> seatkeeper::domain::Notice {
    env.store
        .notices
        .notices(profile)
        .await
        .unwrap()
        .into_iter()
        .rfind(|n| n.user_id == user)
        .expect("a notice")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounce_after_sending_fails_the_notice_and_nothing_is_reclaimed() {
    use seatkeeper::domain::mail_event::{ses_bounce_record, ses_complaint_record};
    use seatkeeper::domain::ReclaimStatus;
    use seatkeeper::ports::ReclaimRepo;

    let mut env = TestEnv::start(1, 73).await;
    let sender = format!("{}@seatkeeper.test", unique("notices"));
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    ses.create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("identity created");
    let config_set = unique("seatkeeper-notices");
    ses.create_configuration_set()
        .configuration_set_name(&config_set)
        .send()
        .await
        .expect("configuration set created");
    env.config.notice_sender = Some(sender);
    env.config.keep_base_url = Some(url::Url::parse("https://keep.seatkeeper.test").unwrap());
    env.config.ses_configuration_set = Some(config_set);
    let events = mail_events_queue(&mut env).await;

    let tenant = env.sandbox.box_tenant();
    let admin = tenant.users()[0].id.clone();
    let (bea, bea_mail) = add_stale(&env, "bounced-bea");
    let (fay, fay_mail) = add_stale(&env, "fine-fay");
    let profile = env.add_box_profile().await;
    edit_profile(&env, &profile.id, |p| {
        p.backfill_days = Some(365);
        p.rules.transfer_target = Some(admin.clone());
        p.rules.mode = ReclaimMode::Notify;
        // due at the next sync: the bounce must still win
        p.rules.notice_days = 0;
        p.rules.max_percent = 100;
    })
    .await;

    // both are notified; SES (moto) accepts both emails
    handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    assert_eq!(ses_messages_to(&bea_mail).await.len(), 1);
    assert_eq!(ses_messages_to(&fay_mail).await.len(), 1);
    let bea_msg = notice_of(&env, &profile.id, &bea)
        .await
        .message_id
        .expect("sent");
    // the lookup item a bounce finds the notice by
    let lookup = env.partition(&format!("NOTICEMSG#{bea_msg}")).await;
    assert_eq!(lookup.len(), 1);
    assert!(lookup[0].contains_key("ttl"));

    // Bea's mailbox does not exist: the bounce arrives after SendEmail succeeded
    deliver_mail_event(
        &env,
        &events,
        ses_bounce_record(
            &bea_msg,
            "Permanent",
            &bea_mail,
            "smtp; 550 5.1.1 user unknown",
        ),
    )
    .await;
    let report = handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    let task = report.profiles[0].task(TaskKind::Reclamation).unwrap();
    let detail = task.detail.clone().unwrap_or_default();
    assert!(
        detail.contains("mail events: 1 read, 1 notice(s) failed"),
        "{detail}"
    );
    assert_eq!(task.counts.requests_enqueued, 1, "only Fay: {detail}");
    let n = notice_of(&env, &profile.id, &bea).await;
    assert_eq!(n.state, NoticeState::NoticeFailed);
    assert!(
        n.last_error
            .as_deref()
            .unwrap()
            .contains("550 5.1.1 user unknown"),
        "{:?}",
        n.last_error
    );
    let bea_candidate = env
        .store
        .seats
        .get_candidate(&profile.id, &bea)
        .await
        .unwrap()
        .expect("still listed for the admin");
    assert!(bea_candidate.request_id.is_none(), "never enqueued");
    assert_eq!(env.in_flight().await, 1, "Fay's request alone");

    // Fay's complaint arrives after her request was enqueued, before the reclaim runs
    let fay_notice = notice_of(&env, &profile.id, &fay).await;
    assert_eq!(fay_notice.state, NoticeState::Requested);
    let fay_request = fay_notice.request_id.clone().unwrap();
    deliver_mail_event(
        &env,
        &events,
        ses_complaint_record(fay_notice.message_id.as_deref().unwrap(), &fay_mail),
    )
    .await;
    handle(&env.box_sync(), json!({ "profile": profile.id }))
        .await
        .expect("sync");
    let n = notice_of(&env, &profile.id, &fay).await;
    assert_eq!(n.state, NoticeState::NoticeFailed);
    assert!(n.last_error.unwrap().contains(&fay_request));
    // the reclaim function refuses it: never reclaimed silently
    env.drain(&env.reclaimer(), 3).await;
    let r = env
        .store
        .reclaims
        .get(&profile.id, &fay_request)
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(r.status, ReclaimStatus::Skipped, "{r:#?}");
    assert_eq!(r.reason_code.as_deref(), Some("notice_failed"));
    assert!(!tenant.deleted_users().contains(&fay));
    assert!(!tenant.deleted_users().contains(&bea));
    // every event was acknowledged
    let left = env
        .aws
        .sqs
        .get_queue_attributes()
        .queue_url(&events)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    assert_eq!(
        left.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .map(String::as_str),
        Some("0")
    );
}
