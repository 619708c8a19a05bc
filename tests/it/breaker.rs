//! The campaign's circuit breaker (issue #22 item 5), over the real binary and a real SMTP server
//! that refuses some recipients at RCPT: refusals about us pause the campaign with a reason that
//! `status` shows, nobody is suppressed, and `resume` goes on; readers' own refusals below the
//! thresholds trip nothing.

use std::collections::HashMap;

use newsletter::domain::{EmailAddress, SubscriberStatus};
use newsletter::store::Store;

use crate::common::console::{self, PASSWORD, add_account};
use crate::common::db::TestDb;
use crate::common::smtp::{Server, per_recipient};
use crate::common::{Env, emails, show, small_issue, stdout};

both_backends!(a_provider_refusing_a_fifth_by_reputation_pauses_and_resume_goes_on);

/// The exit code of `send` when the breaker paused the campaign.
const BREAKER_EXIT: i32 = 3;

async fn status_of(store: &Store, who: &str) -> SubscriberStatus {
    let who = EmailAddress::parse(who).unwrap();
    store.find_by_email(&who).await.unwrap().unwrap().status
}

/// Every address in `list` is still an active subscriber.
async fn all_active(env: &Env, list: &[String]) {
    let store = env.store().await;
    for who in list {
        assert_eq!(
            status_of(&store, who).await,
            SubscriberStatus::Active,
            "{who}"
        );
    }
    store.close().await;
}

/// 300 readers at one provider, every fifth refused by reputation: the campaign pauses itself after
/// the tenth refusal, says why, suppresses nobody; `resume` then `send` delivers the rest once the
/// block is lifted, each reader once.
async fn a_provider_refusing_a_fifth_by_reputation_pauses_and_resume_goes_on(db: TestDb) {
    require!("python3:aiosmtpd", "smtp-sink");
    let env = Env::new(db);
    let list: Vec<String> = (0..300)
        .map(|i| {
            if i % 5 == 4 {
                format!("blocked{i:05}@example.org")
            } else {
                format!("reader{i:05}@example.org")
            }
        })
        .collect();
    env.subscribe(&list);
    let blocking = Server::faulty(&[
        "--refuse",
        "blocked=550 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using a reputation list",
    ]);
    let out = env.send(&small_issue(), &blocking.url(), &[]);
    assert_eq!(out.status.code(), Some(BREAKER_EXIT), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("paused by the circuit breaker")
            && err.contains("other refused")
            && err.contains("reputation list")
            && err.contains("newsletter resume 912"),
        "{err}"
    );
    let s = env.status_json(912);
    assert_eq!(s["state"], "paused", "{s}");
    let reason = s["pause_reason"].as_str().unwrap_or_default().to_string();
    assert!(
        reason.contains("other refused")
            && reason.contains("bad-reputation")
            && reason.contains("of the last"),
        "{s}"
    );
    let sent_first = s["counts"]["sent"].as_i64().unwrap();
    assert!(
        (40..240).contains(&sent_first),
        "paused well before the end: {s}"
    );
    let human = env.run(&["status", "912"]);
    assert!(
        stdout(&human).contains(&format!("Paused itself: {reason}")),
        "{}",
        show(&human)
    );
    all_active(&env, &list).await;

    // The block is lifted; resume clears the reason, and the same command goes on.
    let out = env.run(&["resume", "912"]);
    assert!(out.status.success(), "{}", show(&out));
    let s = env.status_json(912);
    assert_eq!(s["state"], "sending", "{s}");
    assert!(s["pause_reason"].is_null(), "{s}");
    let fixed = Server::sink(&[]);
    let env = env.var("NEWSLETTER_SEND__LEASE_SECS", "1");
    let out = env.send(&small_issue(), &fixed.url(), &[]);
    assert!(out.status.success(), "{}", show(&out));
    let s = env.status_json(912);
    assert_eq!(s["state"], "done", "{s}");
    let failed = s["counts"]["failed"].as_i64().unwrap();
    // Each reader got the issue once, from one run or the other, except the blocked ones recorded
    // as refused before the pause (policy bounces: still subscribed).
    let mut got: HashMap<String, usize> = per_recipient(&blocking.messages());
    for (k, n) in per_recipient(&fixed.messages()) {
        *got.entry(k).or_insert(0) += n;
    }
    assert!(got.values().all(|&n| n == 1), "{got:?}");
    assert_eq!(got.len() as i64 + failed, 300, "{s}");
    assert!((1..10).contains(&failed), "fewer than the tenth: {s}");
    for who in list.iter().filter(|w| w.starts_with("reader")) {
        assert!(got.contains_key(who), "{who} never got the issue");
    }
    all_active(&env, &list).await;
}

/// A relay that refuses our sending identity for every recipient: the breaker pauses the campaign
/// at the tenth refusal (10 of 10 attempts, before the fatal streak of 25 would stop it), nobody is
/// suppressed, and `status` says why.
#[tokio::test]
async fn a_relay_refusing_our_identity_pauses_without_suppressing_anyone() {
    require!("python3:aiosmtpd");
    let env = Env::new(TestDb::sqlite());
    let list = emails("reader", 80);
    env.subscribe(&list);
    let relay = Server::faulty(&[
        "--refuse",
        "@=554 5.7.1 Message rejected: Email address is not verified",
    ]);
    let out = env.send(&small_issue(), &relay.url(), &[]);
    assert_eq!(out.status.code(), Some(BREAKER_EXIT), "{}", show(&out));
    let s = env.status_json(912);
    assert_eq!(s["state"], "paused", "{s}");
    let reason = s["pause_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("other refused 10 of the last 10 messages")
            && reason.contains("sender-rejected")
            && reason.contains("not verified"),
        "{s}"
    );
    // Those held back as a streak when it tripped go back untouched; any recorded before are
    // policy bounces, which suppress nobody.
    assert!(
        s["counts"]["failed"].as_i64().unwrap() < 20,
        "at most the row that tripped it: {s}"
    );
    assert_eq!(s["counts"]["sent"], 0, "{s}");
    all_active(&env, &list).await;
    // The console's campaign page says the same.
    add_account(&env.db, "boss@example.org", "admin", PASSWORD);
    let web = console::serve(&env.db);
    let session = console::signed_in(&web, "boss@example.org", PASSWORD);
    let page = console::get(&web, "/admin/campaigns/912", &session);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Paused itself: ")
            && page
                .body
                .contains("other refused 10 of the last 10 messages")
            && page.body.contains("newsletter resume 912"),
        "{}",
        page.body
    );
    let store = env.store().await;
    let log = store.bounces(0, None, 100).await.unwrap();
    assert!(
        log.iter()
            .all(|b| b.kind != newsletter::domain::BounceClass::Hard),
        "{log:?}"
    );
    store.close().await;
}

/// Readers' own refusals (user unknown) at 5 % and a few refusals about us under `min_refusals`
/// trip nothing: the campaign finishes, the gone addresses are suppressed, the rest are not.
#[tokio::test]
async fn refusals_below_the_thresholds_do_not_pause() {
    require!("python3:aiosmtpd");
    let env = Env::new(TestDb::sqlite());
    let list: Vec<String> = (0..300)
        .map(|i| match i % 20 {
            7 => format!("gone{i:05}@example.org"),
            13 if i < 180 => format!("blocked{i:05}@example.org"),
            _ => format!("reader{i:05}@example.org"),
        })
        .collect();
    env.subscribe(&list);
    let server = Server::faulty(&[
        "--reject",
        "gone",
        "--refuse",
        "blocked=550 5.7.1 Client host blocked using a reputation list",
    ]);
    let out = env.send(&small_issue(), &server.url(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("circuit breaker"),
        "{}",
        show(&out)
    );
    let s = env.status_json(912);
    assert_eq!(s["state"], "done", "{s}");
    assert!(s["pause_reason"].is_null(), "{s}");
    assert_eq!(s["counts"]["failed"], 15 + 9, "{s}");
    let store = env.store().await;
    for who in &list {
        let want = if who.starts_with("gone") {
            SubscriberStatus::Bounced
        } else {
            SubscriberStatus::Active
        };
        assert_eq!(status_of(&store, who).await, want, "{who}");
    }
    store.close().await;
}

/// A DSN from a receiving MTA for one message we sent (its envelope sender and Message-ID), refused
/// because of a block list: about us, not the reader.
fn block_list_dsn(sent: &crate::common::smtp::Stored, n: usize) -> String {
    let to = &sent.rcpt;
    let msgid = &sent.headers["message-id"];
    format!(
        "Return-Path: <>\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx{m}.example.org>\r\n\
         To: <{verp}>\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Date: Mon, 7 Dec 2026 09:{min:02}:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b{n}\"\r\n\r\n\
         --b{n}\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\r\n\
         --b{n}\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; mx{m}.example.org\r\n\r\n\
         Final-Recipient: rfc822; {to}\r\nAction: failed\r\nStatus: 5.7.1\r\n\
         Diagnostic-Code: smtp; 554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org\r\n\r\n\
         --b{n}\r\nContent-Type: text/rfc822-headers\r\n\r\n\
         From: This Week in Rust <newsletter@this-week-in-rust.org>\r\nTo: <{to}>\r\n\
         Message-ID: {msgid}\r\nSubject: This Week in Rust 912\r\n\r\n--b{n}--\r\n",
        m = n % 3,
        min = n % 60,
        verp = sent.mail_from,
    )
}

/// A send at 25 a second to `n` readers at example.org, and the relay it goes to, once 40 whole
/// messages have reached it (with those messages).
fn slow_send(
    env: &Env,
    n: usize,
) -> (
    Vec<String>,
    std::process::Child,
    Server,
    Vec<crate::common::smtp::Stored>,
) {
    let list: Vec<String> = (0..n)
        .map(|i| format!("reader{i:05}@example.org"))
        .collect();
    env.subscribe(&list);
    let sink = Server::sink(&[]);
    let send = env
        .command(&[
            "send",
            small_issue().to_str().unwrap(),
            "--yes",
            "--rate",
            "25",
            "--transport",
            &sink.url(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while sink.messages().len() < 40 {
        assert!(
            std::time::Instant::now() < deadline,
            "fewer than 40 sent in 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Whole messages only (the sink may be writing the newest one).
    let whole: Vec<_> = sink
        .messages()
        .into_iter()
        .filter(|m| m.headers.contains_key("message-id") && !m.mail_from.is_empty())
        .collect();
    (list, send, sink, whole)
}

/// `bounces process` on a Maildir holding `bounces`; it must succeed and suppress nobody.
fn process_bounces(env: &Env, bounces: &[String]) {
    let maildir = env.dir.path().join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for (n, b) in bounces.iter().enumerate() {
        std::fs::write(maildir.join("new").join(format!("{n:03}.mx")), b).unwrap();
    }
    let quarantine = env.dir.path().join("quarantine");
    let out = env.run(&[
        "bounces",
        "process",
        "--maildir",
        maildir.to_str().unwrap(),
        "--quarantine",
        quarantine.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        stdout(&out).contains("0 subscriber(s) suppressed"),
        "{}",
        stdout(&out)
    );
}

/// Refusals about us that come back by mail while the send goes on (a provider accepted the messages
/// and then bounced them for a block list): bounce intake logs them, the running send reads them,
/// and the campaign pauses itself within seconds, says why, and suppresses nobody.
#[tokio::test]
async fn bounces_arriving_by_mail_during_the_send_pause_it() {
    require!("smtp-sink");
    let env = Env::new(TestDb::sqlite());
    let (list, send, sink, whole) = slow_send(&env, 400);
    let bounces: Vec<String> = whole
        .iter()
        .take(30)
        .enumerate()
        .map(|(n, sent)| block_list_dsn(sent, n))
        .collect();
    process_bounces(&env, &bounces);
    let out = send.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(BREAKER_EXIT), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bounce by mail"), "{err}");
    let s = env.status_json(912);
    assert_eq!(s["state"], "paused", "{s}");
    let reason = s["pause_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("example.org") || reason.contains("other"),
        "{reason}"
    );
    assert!(reason.contains("blocked using"), "{reason}");
    assert!(
        sink.messages().len() < 400,
        "paused before the end: {}",
        sink.messages().len()
    );
    all_active(&env, &list).await;
}

/// One reader cannot stop everyone's issue: thirty "blocked" reports about the same copy (each
/// proven by that copy's tagged Message-ID, as a reader who forwards their own message to the
/// bounce address can make them) weigh as one refusal, and the send goes on to the end.
#[tokio::test]
async fn one_reader_forging_refusals_about_their_own_copy_does_not_pause_the_send() {
    require!("smtp-sink");
    let env = Env::new(TestDb::sqlite());
    let (list, send, sink, whole) = slow_send(&env, 240);
    let bounces: Vec<String> = (0..30).map(|n| block_list_dsn(&whole[0], n)).collect();
    process_bounces(&env, &bounces);
    let out = send.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let s = env.status_json(912);
    assert_eq!(s["state"], "done", "{s}");
    assert_eq!(sink.messages().len(), 240);
    all_active(&env, &list).await;
}
