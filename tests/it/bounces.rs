//! Bounce and complaint intake: every fixture understood (`bounce::parse`), the real binary
//! processing a Maildir, an mbox and standard input on both backends, the soft-bounce policy, and
//! a fuzz of the parser.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::db::TestDb;
use common::show;
use newsletter::bounce::{self, Attribution, BouncePolicy, Class, Kind};
use newsletter::domain::{EmailAddress, SubscriberStatus};
use newsletter::mail::Verp;
use newsletter::store::{AddOutcome, Applied, BounceRecord, Outcome, Recorded, Source, Store};

both_backends!(
    maildir_intake_suppresses_exactly_the_right_subscribers,
    forged_bounces_change_nobody,
    unsubscribe_by_mail
);

const DOMAIN: &str = "bounces.this-week-in-rust.org";

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bounces")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Like [`fill`], and `{{MSGID}}` becomes our tagged Message-ID for issue 912 under `ids`' key.
fn fill_with(text: &str, verp: &str, email: &str, sub: i64, ids: &Verp) -> Vec<u8> {
    fill(
        &text.replace("{{MSGID}}", &ids.message_id("issue-912", sub)),
        verp,
        email,
        sub,
    )
}

fn fill(text: &str, verp: &str, email: &str, sub: i64) -> Vec<u8> {
    text.replace("{{VERP}}", verp)
        .replace("{{EMAIL}}", email)
        .replace("{{SUB}}", &sub.to_string())
        .replace('\n', "\r\n")
        .into_bytes()
}

#[test]
fn every_fixture_is_understood() {
    let verp = Verp::new(b"test-key", DOMAIN);
    let addr = verp.address(7, 42);
    let email = "reader@example.org";
    // (file, kind, class, status, attribution)
    let cases: &[(&str, Kind, Class, Option<&str>, Attribution)] = &[
        (
            "dsn-verp-hard.eml",
            Kind::Dsn,
            Class::Hard,
            Some("5.1.1"),
            Attribution::Verp,
        ),
        (
            "dsn-message-id-only.eml",
            Kind::Dsn,
            Class::Hard,
            Some("5.1.2"),
            Attribution::OriginalHeaders,
        ),
        (
            "arf-complaint.eml",
            Kind::Arf,
            Class::Complaint,
            None,
            Attribution::Verp,
        ),
        (
            "mailbox-full.eml",
            Kind::Dsn,
            Class::Soft,
            Some("5.2.2"),
            Attribution::Verp,
        ),
        (
            "policy-571.eml",
            Kind::Dsn,
            Class::Policy,
            Some("5.7.1"),
            Attribution::Verp,
        ),
        (
            "qmail.eml",
            Kind::NonStandardBounce,
            Class::Hard,
            Some("5.1.1"),
            Attribution::Verp,
        ),
        (
            "exim.eml",
            Kind::NonStandardBounce,
            Class::Hard,
            Some("5.1.1"),
            Attribution::Verp,
        ),
        (
            "exchange.eml",
            Kind::NonStandardBounce,
            Class::Hard,
            Some("5.1.10"),
            Attribution::Verp,
        ),
        (
            "yahoo-old.eml",
            Kind::NonStandardBounce,
            Class::Hard,
            Some("554"),
            Attribution::Verp,
        ),
        (
            "sendmail-old.eml",
            Kind::NonStandardBounce,
            Class::Hard,
            Some("5.1.1"),
            Attribution::Verp,
        ),
        (
            "gmail-delayed.eml",
            Kind::NonStandardBounce,
            Class::None,
            // A delay notice gives no code: the phrase decides, and no status is invented.
            None,
            Attribution::Verp,
        ),
    ];
    for (file, kind, class, status, attribution) in cases {
        let r = bounce::parse(
            &fill_with(&fixture(file), &addr, email, 42, &verp),
            &verp,
            None,
        );
        assert_eq!(r.kind, *kind, "{file}: {r:?}");
        assert_eq!(r.recipients.len(), 1, "{file}: {r:?}");
        let rc = &r.recipients[0];
        assert_eq!(rc.class, *class, "{file}: {rc:?}");
        assert_eq!(rc.status.as_deref(), *status, "{file}: {rc:?}");
        assert_eq!(rc.attribution, *attribution, "{file}: {rc:?}");
        let d = rc.delivery.unwrap_or_else(|| panic!("{file}: no delivery"));
        assert_eq!(d.subscriber_id, 42, "{file}");
        if *attribution == Attribution::Verp {
            assert_eq!(d.campaign_id, Some(7), "{file}");
        } else {
            assert_eq!(d.issue, Some(912), "{file}");
        }
        if *kind != Kind::NonStandardBounce || *file != "exchange.eml" {
            assert!(
                rc.email.as_deref().is_some_and(|e| e.contains('@')),
                "{file}: {rc:?}"
            );
        }
    }

    // Several recipients of mixed outcome, sent to a plain (non-VERP) address.
    let r = bounce::parse(
        &fill(&fixture("dsn-mixed-no-verp.eml"), &addr, email, 42),
        &verp,
        None,
    );
    assert_eq!(r.kind, Kind::Dsn);
    let got: Vec<(Option<&str>, Class, Option<&str>, Attribution)> = r
        .recipients
        .iter()
        .map(|x| {
            (
                x.email.as_deref(),
                x.class,
                x.status.as_deref(),
                x.attribution,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                Some("gone@example.com"),
                Class::Hard,
                Some("5.1.1"),
                Attribution::DsnField
            ),
            (
                Some("slow@example.com"),
                Class::None,
                Some("4.4.1"),
                Attribution::DsnField
            ),
            (
                Some("fine@example.com"),
                Class::None,
                Some("2.0.0"),
                Attribution::DsnField
            ),
        ]
    );
    assert!(r.recipients.iter().all(|x| x.delivery.is_none()));
    assert!(
        r.recipients[0]
            .diagnostic
            .as_deref()
            .unwrap()
            .contains("User unknown in virtual mailbox table"),
        "continuation lines are joined: {:?}",
        r.recipients[0].diagnostic
    );

    for (file, kind) in [
        ("vacation.eml", Kind::AutoReply),
        ("not-a-bounce.eml", Kind::NotABounce),
    ] {
        let r = bounce::parse(&fill(&fixture(file), &addr, email, 42), &verp, None);
        assert_eq!(r.kind, kind, "{file}");
        assert!(r.recipients.is_empty(), "{file}: {r:?}");
    }

    // A VERP with a wrong tag is not ours: a forged bounce attributes nothing by VERP.
    let forged = addr.replace("bounces+7-2a-", "bounces+7-2b-");
    let r = bounce::parse(
        &fill(&fixture("mailbox-full.eml"), &forged, email, 42),
        &verp,
        None,
    );
    assert!(r.recipients[0].delivery.is_none(), "{r:?}");
}

/// Runs the binary with this database.
/// `bounces process --maildir MAILDIR --quarantine QUARANTINE`, run in `dir`.
fn process_maildir(db: &TestDb, dir: &Path, maildir: &Path, quarantine: &Path) -> Output {
    common::run(
        dir,
        &db.url(),
        &[
            "bounces",
            "process",
            "--maildir",
            maildir.to_str().unwrap(),
            "--quarantine",
            quarantine.to_str().unwrap(),
        ],
        None,
    )
}

/// Subscribers with the given local parts, all active, and a campaign for issue 912 that was sent to
/// every one of them. Returns the ids in order.
async fn list_with_campaign(store: &Store, names: &[&str]) -> (Vec<i64>, i64) {
    let mut ids = Vec::new();
    for n in names {
        let email = EmailAddress::parse(&format!("{n}@example.com")).unwrap();
        let AddOutcome::Added(s) = store
            .add(&email, None, SubscriberStatus::Active, Source::Cli)
            .await
            .unwrap()
        else {
            panic!("{n} not added")
        };
        ids.push(s);
    }
    let c = store
        .campaign_for_issue(912, "hash", "This Week in Rust 912", "Title: x")
        .await
        .unwrap();
    store
        .snapshot(c.id, None, &newsletter::domain::ProviderMap::new(&[]))
        .await
        .unwrap();
    let claimed = store
        .claim(
            c.id,
            &newsletter::domain::ProviderName::other(),
            "test",
            10_000,
            60,
        )
        .await
        .unwrap();
    let sent: Vec<Recorded> = claimed
        .iter()
        .map(|d| Recorded {
            subscriber_id: d.subscriber_id,
            owner: d.owner.clone(),
            outcome: Outcome::Sent,
        })
        .collect();
    store
        .record_many(c.id, &sent, &BouncePolicy::default())
        .await
        .unwrap();
    (ids, c.id)
}

async fn status_of(store: &Store, local: &str) -> SubscriberStatus {
    store
        .find_by_email(&EmailAddress::parse(&format!("{local}@example.com")).unwrap())
        .await
        .unwrap()
        .unwrap()
        .status
}

async fn maildir_intake_suppresses_exactly_the_right_subscribers(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    // One subscriber per fixture, plus the three addresses of the mixed DSN.
    let plan: &[(&str, &str)] = &[
        ("dsn-verp-hard.eml", "hard1"),
        ("dsn-message-id-only.eml", "hard2"),
        ("arf-complaint.eml", "complainer"),
        ("vacation.eml", "vacationer"),
        ("mailbox-full.eml", "full"),
        ("policy-571.eml", "blocked"),
        ("qmail.eml", "qmail"),
        ("exim.eml", "exim"),
        ("exchange.eml", "exchange"),
        ("yahoo-old.eml", "yahoo"),
        ("sendmail-old.eml", "sendmail"),
        ("gmail-delayed.eml", "delayed"),
        ("not-a-bounce.eml", "chatty"),
    ];
    let mut names: Vec<&str> = plan.iter().map(|(_, n)| *n).collect();
    names.extend(["gone", "slow", "fine", "bystander"]);
    let (ids, campaign) = list_with_campaign(&store, &names).await;
    let verp = Verp::new(&store.verp_key().await.unwrap(), DOMAIN);

    let work = tempfile::tempdir().unwrap();
    let maildir = work.path().join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for (i, (file, name)) in plan.iter().enumerate() {
        let id = ids[i];
        let bytes = fill_with(
            &fixture(file),
            &verp.address(campaign, id),
            &format!("{name}@example.com"),
            id,
            &verp,
        );
        std::fs::write(maildir.join("new").join(format!("{i:02}.{file}")), bytes).unwrap();
    }
    // Addresses with no VERP or Message-ID of ours prove nothing: quarantined, nobody changed.
    std::fs::write(
        maildir.join("new/90.mixed.eml"),
        fill(&fixture("dsn-mixed-no-verp.eml"), "x", "x", 0),
    )
    .unwrap();
    // What no one can attribute or parse: binary garbage, and a report naming no recipient.
    std::fs::write(
        maildir.join("new/91.garbage"),
        [0u8, 159, 146, 150, 255, 0, 13, 10],
    )
    .unwrap();
    std::fs::write(
        maildir.join("new/92.empty-dsn.eml"),
        b"From: MAILER-DAEMON@x.example\r\nTo: bounces@x.example\r\nSubject: report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"q\"\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nnothing\r\n--q\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x.example\r\n\r\n--q--\r\n",
    )
    .unwrap();

    let quarantine = work.path().join("quarantine");
    let process = || process_maildir(&db, work.path(), &maildir, &quarantine);
    let out = process();
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("16 message(s) handled"), "{stdout}");
    assert!(stdout.contains("3 quarantined"), "{stdout}");

    use SubscriberStatus::*;
    let expected = [
        ("hard1", Bounced),
        ("hard2", Bounced),
        ("complainer", Complained),
        ("vacationer", Active),
        ("full", Active),
        ("blocked", Active),
        ("qmail", Bounced),
        ("exim", Bounced),
        ("exchange", Bounced),
        ("yahoo", Bounced),
        ("sendmail", Bounced),
        ("delayed", Active),
        ("chatty", Active),
        ("gone", Active),
        ("slow", Active),
        ("fine", Active),
        ("bystander", Active),
    ];
    for (name, want) in expected {
        assert_eq!(status_of(&store, name).await, want, "{name}");
    }
    // Soft ones are only counted; the policy refusal is logged, not held against the subscriber.
    let log = store.bounces(0, None, 100).await.unwrap();
    let kinds = |local: &str| -> Vec<String> {
        log.iter()
            .filter(|b| {
                b.email
                    .as_deref()
                    .is_some_and(|e| e.starts_with(&format!("{local}@")))
            })
            .map(|b| format!("{}:{}", b.kind, b.attribution))
            .collect()
    };
    assert_eq!(kinds("full"), vec!["soft:verp"]);
    assert!(
        kinds("slow").is_empty() && kinds("gone").is_empty(),
        "unproven: not logged"
    );
    assert_eq!(kinds("blocked"), vec!["policy:verp"]);
    assert_eq!(
        kinds("hard2"),
        Vec::<String>::new(),
        "hard2's evidence names another address"
    );
    assert!(
        log.iter()
            .any(|b| b.attribution == "original-headers" && b.subscriber_id == Some(ids[1]))
    );
    assert!(kinds("fine").is_empty() && kinds("vacationer").is_empty());

    // Every message was moved: to cur/ when understood, to the quarantine otherwise.
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(maildir.join("cur")).unwrap().count(), 13);
    assert_eq!(
        std::fs::read_dir(quarantine.join("new")).unwrap().count(),
        3
    );

    // Idempotent: a second run finds nothing new.
    let again = process();
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("0 message(s) handled"),
        "{}",
        show(&again)
    );

    // The operator's views.
    let list = common::run(
        work.path(),
        &db.url(),
        &["bounces", "list", "--format", "json"],
        None,
    );
    let entries: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), log.len());
    let shown = common::run(
        work.path(),
        &db.url(),
        &["subscribers", "show", "qmail@example.com"],
        None,
    );
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains("hard") && text.contains("5.1.1") && text.contains("heuristic"),
        "{text}"
    );
    assert!(text.contains("-> bounced"), "{text}");
    let inspect = common::run(
        work.path(),
        &db.url(),
        &[
            "bounces",
            "inspect",
            "--format",
            "json",
            quarantine
                .join("new")
                .read_dir()
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path()
                .to_str()
                .unwrap(),
        ],
        None,
    );
    assert!(inspect.status.success(), "{}", show(&inspect));
}

#[tokio::test]
async fn stdin_intake_and_exit_codes_for_postfix() {
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url()).await.unwrap();
    let (ids, campaign) = list_with_campaign(&store, &["piped"]).await;
    let verp = Verp::new(&store.verp_key().await.unwrap(), DOMAIN);
    let work = tempfile::tempdir().unwrap();
    // Postfix pipe: the VERP comes as the envelope recipient; the message itself names nobody.
    let out = common::run(
        work.path(),
        &db.url(),
        &[
            "bounces",
            "process",
            "--stdin",
            "--recipient",
            &verp.address(campaign, ids[0]),
        ],
        Some(&fill(
            &fixture("dsn-verp-hard.eml"),
            "bounces@bounces.this-week-in-rust.org",
            "alias@example.net",
            ids[0],
        )),
    );
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(status_of(&store, "piped").await, SubscriberStatus::Bounced);

    // The database is down: EX_TEMPFAIL (75), so Postfix keeps the message and retries.
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/x",
        common::smtp::free_port()
    );
    let out = common::run(work.path(), &url, &["bounces", "process", "--stdin"], None);
    assert_eq!(out.status.code(), Some(75), "{}", show(&out));
}

/// What a mail client sends for the `List-Unsubscribe` mailto: a fixed subject, often no text.
fn unsubscribe_request(from: &str, to: &str) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: unsubscribe\r\nDate: Wed, 26 Nov 2025 10:00:00 +0000\r\nMessage-ID: <req-{from}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThis message was automatically generated by Mail.\r\n"
    )
    .into_bytes()
}

/// Mail to a subscriber's `unsubscribe+TOKEN@` address unsubscribes exactly that subscriber, by
/// standard input (a Postfix pipe) and by Maildir: idempotent, logged with source `mail`, and a
/// token that matches nobody changes nothing and is quarantined.
async fn unsubscribe_by_mail(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    let (ids, _) = list_with_campaign(&store, &["leaver", "stayer", "later"]).await;
    let token = |id: i64| {
        let store = &store;
        async move { store.find_by_id(id).await.unwrap().unwrap().token }
    };
    let local = "unsubscribe";
    let leaver = newsletter::bounce::mailto::address(local, DOMAIN, &token(ids[0]).await);
    let work = tempfile::tempdir().unwrap();

    // Through a pipe, the address comes as the envelope recipient; twice, as a client may resend.
    for _ in 0..2 {
        let out = common::run(
            work.path(),
            &db.url(),
            &["bounces", "process", "--stdin", "--recipient", &leaver],
            Some(&unsubscribe_request("leaver@example.com", &leaver)),
        );
        assert!(out.status.success(), "{}", show(&out));
    }
    assert_eq!(
        status_of(&store, "leaver").await,
        SubscriberStatus::Unsubscribed
    );
    assert_eq!(status_of(&store, "stayer").await, SubscriberStatus::Active);
    let mail_events: Vec<_> = store
        .history(ids[0])
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.source == "mail")
        .collect();
    assert_eq!(mail_events.len(), 1, "idempotent: {mail_events:?}");

    // Through a Maildir, with the address upper-cased by some relay on the way; and a token that
    // matches nobody, which changes nothing and is kept for a person to look at.
    let later =
        newsletter::bounce::mailto::address(local, DOMAIN, &token(ids[2]).await).to_uppercase();
    let stranger = newsletter::bounce::mailto::address(
        local,
        DOMAIN,
        &newsletter::domain::UnsubscribeToken::generate(),
    );
    let maildir = work.path().join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    std::fs::write(
        maildir.join("new/1.later.eml"),
        unsubscribe_request("later@example.com", &later),
    )
    .unwrap();
    std::fs::write(
        maildir.join("new/2.stranger.eml"),
        unsubscribe_request("someone@example.net", &stranger),
    )
    .unwrap();
    let quarantine = work.path().join("quarantine");
    let out = process_maildir(&db, work.path(), &maildir, &quarantine);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 unsubscribed by mail"), "{stdout}");
    assert!(stdout.contains("1 quarantined"), "{stdout}");
    assert_eq!(
        status_of(&store, "later").await,
        SubscriberStatus::Unsubscribed
    );
    assert_eq!(status_of(&store, "stayer").await, SubscriberStatus::Active);
    assert_eq!(
        std::fs::read_dir(quarantine.join("new")).unwrap().count(),
        1
    );
    // Nothing about a request goes into the bounce log.
    assert!(store.bounces(0, None, 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn mbox_intake() {
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url()).await.unwrap();
    let (ids, campaign) = list_with_campaign(&store, &["m1", "m2", "m3"]).await;
    let verp = Verp::new(&store.verp_key().await.unwrap(), DOMAIN);
    let mut mbox = Vec::new();
    for (i, file) in ["dsn-verp-hard.eml", "arf-complaint.eml", "vacation.eml"]
        .iter()
        .enumerate()
    {
        mbox.extend_from_slice(b"From MAILER-DAEMON Wed Mar 26 09:14:02 2025\n");
        let text = fixture(file)
            .replace("{{VERP}}", &verp.address(campaign, ids[i]))
            .replace("{{EMAIL}}", &format!("m{}@example.com", i + 1))
            .replace("{{SUB}}", &ids[i].to_string())
            // mboxrd quoting of a body line that starts with "From ".
            .replace("(body)", ">From the editors: thanks");
        mbox.extend_from_slice(text.as_bytes());
        mbox.extend_from_slice(b"\n");
    }
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("bounces.mbox");
    std::fs::write(&file, &mbox).unwrap();
    let out = common::run(
        work.path(),
        &db.url(),
        &["bounces", "process", "--mbox", file.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("3 message(s) handled"),
        "{}",
        show(&out)
    );
    assert_eq!(status_of(&store, "m1").await, SubscriberStatus::Bounced);
    assert_eq!(status_of(&store, "m2").await, SubscriberStatus::Complained);
    assert_eq!(status_of(&store, "m3").await, SubscriberStatus::Active);
    assert_eq!(newsletter::bounce::intake::split_mbox(&mbox).len(), 3);
}

#[tokio::test]
async fn soft_bounces_suppress_after_three_campaigns_unless_a_delivery_succeeds_between() {
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url()).await.unwrap();
    let policy = BouncePolicy {
        soft_limit: 3,
        soft_window_secs: 30 * 86_400,
        soft_min_span_secs: 10 * 86_400,
    };
    for n in ["steady", "recovers"] {
        store
            .add(
                &EmailAddress::parse(&format!("{n}@example.com")).unwrap(),
                None,
                SubscriberStatus::Active,
                Source::Cli,
            )
            .await
            .unwrap();
    }
    let pool = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
    let now = newsletter::domain::unix_now();
    // Five weekly campaigns, each delivered to both.
    let mut campaigns = Vec::new();
    for week in 0..5i64 {
        let c = store
            .campaign_for_issue(900 + week, "h", "s", "Title: x")
            .await
            .unwrap();
        store
            .snapshot(c.id, None, &newsletter::domain::ProviderMap::new(&[]))
            .await
            .unwrap();
        let claimed = store
            .claim(
                c.id,
                &newsletter::domain::ProviderName::other(),
                &format!("w{week}"),
                10,
                60,
            )
            .await
            .unwrap();
        let rec: Vec<Recorded> = claimed
            .iter()
            .map(|d| Recorded {
                subscriber_id: d.subscriber_id,
                owner: d.owner.clone(),
                outcome: Outcome::Sent,
            })
            .collect();
        store
            .record_many(c.id, &rec, &BouncePolicy::default())
            .await
            .unwrap();
        // Sent a week apart, five weeks ago to now.
        sqlx::query("UPDATE deliveries SET sent_at = ? WHERE campaign_id = ?")
            .bind(now - (4 - week) * 7 * 86_400 + 60)
            .bind(c.id)
            .execute(&pool)
            .await
            .unwrap();
        campaigns.push(c.id);
    }
    let sub = |n: &str| {
        let store = store.clone();
        let n = n.to_string();
        async move {
            store
                .find_by_email(&EmailAddress::parse(&format!("{n}@example.com")).unwrap())
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    let (steady, recovers) = (sub("steady").await, sub("recovers").await);
    let soft = |sid: i64, campaign: i64| BounceRecord {
        subscriber_id: Some(sid),
        campaign_id: Some(campaign),
        email: None,
        kind: Class::Soft,
        status: Some("4.2.2".into()),
        diagnostic: Some("mailbox full".into()),
        source: newsletter::domain::BounceSource::Dsn,
        attribution: Attribution::Verp,
        reason: Some(newsletter::domain::BounceReason::MailboxFull),
        evidence: Some("Status: 4.2.2".into()),
    };
    // A bounce arrives an hour after the campaign it is about (week 0 is four weeks ago).
    let bounce_in_week = |sid: i64, week: i64| {
        let (store, pool, rec) = (
            store.clone(),
            pool.clone(),
            soft(sid, campaigns[week as usize]),
        );
        async move {
            let applied = store.record_bounce(&rec, policy).await.unwrap();
            sqlx::query(
                "UPDATE bounces SET received_at = ? WHERE id = (SELECT MAX(id) FROM bounces)",
            )
            .bind(now - (4 - week) * 7 * 86_400 + 3600)
            .execute(&pool)
            .await
            .unwrap();
            applied
        }
    };
    let mut last = None;
    for week in 2..5 {
        last = Some(bounce_in_week(steady, week).await);
    }
    assert!(matches!(last, Some(Applied::Suppressed { .. })), "{last:?}");
    // Bounces for weeks 0, 1 and 4; week 2 and 3 arrived fine in between, so the count restarts.
    for week in [0i64, 1, 4] {
        last = Some(bounce_in_week(recovers, week).await);
    }
    assert_eq!(
        last,
        Some(Applied::Counted {
            subscriber_id: recovers,
            count: 1,
            limit: 3
        })
    );
    assert_eq!(status_of(&store, "steady").await, SubscriberStatus::Bounced);
    assert_eq!(
        status_of(&store, "recovers").await,
        SubscriberStatus::Active
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
    ))]

    /// Arbitrary bytes, and fixtures with arbitrary damage (truncation, bytes flipped, 8-bit
    /// headers), never panic the parser.
    #[test]
    fn the_parser_never_panics(
        noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096),
        which in 0usize..10_000,
        cut in 0usize..4000,
        flips in proptest::collection::vec((0usize..4000, proptest::prelude::any::<u8>()), 0..20),
    ) {
        let verp = Verp::new(b"k", DOMAIN);
        let _ = bounce::parse(&noise, &verp, None);
        let names = &*ALL_FIXTURES;
        let mut bytes = fill_with(&fixture(&names[which % names.len()]), &verp.address(1, 2), "é@example.com", 2, &verp);
        for (at, b) in flips {
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] = b;
            }
        }
        bytes.truncate(cut.max(1));
        let _ = bounce::parse(&bytes, &verp, Some("bounces+zz@x"));
    }
}

/// Every bounce fixture's file name, sorted: the seeds of the fuzz.
static ALL_FIXTURES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bounces");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    v.sort();
    v
});

#[test]
fn a_huge_message_is_read_quickly_from_its_top() {
    let verp = Verp::new(b"k", DOMAIN);
    let mut big = fill(
        &fixture("dsn-verp-hard.eml"),
        &verp.address(3, 4),
        "a@example.com",
        4,
    );
    // A 25 MB returned attachment after the report.
    big.extend(std::iter::repeat_n(b'A', 25 * 1024 * 1024));
    let r = bounce::parse(&big, &verp, None);
    assert_eq!(r.kind, Kind::Dsn);
    assert_eq!(r.recipients[0].class, Class::Hard);
}

#[tokio::test]
async fn imap_intake_through_dovecot() {
    let Some(dovecot) = common::imap::Dovecot::start() else {
        return;
    };
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url()).await.unwrap();
    let (ids, campaign) = list_with_campaign(&store, &["imap1", "imap2", "imap3"]).await;
    let verp = Verp::new(&store.verp_key().await.unwrap(), DOMAIN);
    let files = ["dsn-verp-hard.eml", "arf-complaint.eml", "vacation.eml"];
    for (i, file) in files.iter().enumerate() {
        let bytes = fill(
            &fixture(file),
            &verp.address(campaign, ids[i]),
            &format!("imap{}@example.com", i + 1),
            ids[i],
        );
        std::fs::write(
            dovecot.maildir().join("new").join(format!("{i}.fixture")),
            bytes,
        )
        .unwrap();
    }
    // One that nobody can be tied to.
    std::fs::write(
        dovecot.maildir().join("new/9.orphan"),
        fill(&fixture("dsn-mixed-no-verp.eml"), "x", "x", 0)
            .into_iter()
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let _ = Command::new("chown")
        .args(["-R", "bounces:bounces"])
        .arg(dovecot.maildir())
        .output();

    let work = tempfile::tempdir().unwrap();
    let process = || {
        dovecot
            .configure(&mut common::newsletter(work.path(), &db.url()))
            .args(["bounces", "process", "--imap"])
            .output()
            .unwrap()
    };
    let out = process();
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // The mixed DSN names no subscriber of this list: logged and quarantined.
    assert!(
        text.contains("4 message(s) handled: 2 subscriber(s) suppressed, 0 soft bounce(s) counted, 1 not bounces, 1 quarantined"),
        "{text}"
    );
    assert_eq!(status_of(&store, "imap1").await, SubscriberStatus::Bounced);
    assert_eq!(
        status_of(&store, "imap2").await,
        SubscriberStatus::Complained
    );
    assert_eq!(status_of(&store, "imap3").await, SubscriberStatus::Active);
    // Everything is \Seen now: a second run fetches nothing.
    let again = process();
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("0 message(s) handled"),
        "{}",
        show(&again)
    );
    assert!(
        work.path()
            .join("bounces-quarantine/new")
            .read_dir()
            .unwrap()
            .count()
            == 1
    );
}

/// Anyone can mail the bounce address. A DSN, a plain "Undeliverable" text, an ARF complaint and a
/// DSN with a forged VERP tag and a guessed Message-ID, each naming a real subscriber: none of them
/// changes anyone; each is quarantined, and `inspect` still says what it read. A genuine bounce in
/// the same run still acts.
async fn forged_bounces_change_nobody(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    let names = [
        "reader01", "reader02", "reader03", "reader04", "reader05", "reader06", "reader07",
    ];
    let (ids, campaign) = list_with_campaign(&store, &names).await;
    let verp = Verp::new(&store.verp_key().await.unwrap(), DOMAIN);
    let reader07 = "reader07@example.com";
    let forged_verp = format!("bounces+{campaign:x}-{:x}-0000000000@{DOMAIN}", ids[6]);
    let work = tempfile::tempdir().unwrap();
    let maildir = work.path().join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let forged = [
        "forged-dsn-plain-address.eml",
        "forged-undeliverable-text.eml",
        "forged-arf-address-only.eml",
        "forged-guessed-ids.eml",
    ];
    for (i, f) in forged.iter().enumerate() {
        std::fs::write(
            maildir.join(format!("new/{i}.{f}")),
            fill(&fixture(f), &forged_verp, reader07, ids[6]),
        )
        .unwrap();
    }
    // A tagged Message-ID of ours, but for an issue we never sent to anyone.
    std::fs::write(
        maildir.join("new/5.never-sent.eml"),
        fill(
            &fixture("dsn-message-id-only.eml")
                .replace("{{MSGID}}", &verp.message_id("issue-999", ids[6])),
            "x",
            reader07,
            ids[6],
        ),
    )
    .unwrap();
    // The control: a genuine bounce for reader01 through its VERP.
    std::fs::write(
        maildir.join("new/6.genuine.eml"),
        fill_with(
            &fixture("dsn-verp-hard.eml"),
            &verp.address(campaign, ids[0]),
            "reader01@example.com",
            ids[0],
            &verp,
        ),
    )
    .unwrap();
    let quarantine = work.path().join("quarantine");
    let out = process_maildir(&db, work.path(), &maildir, &quarantine);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("6 message(s) handled: 1 subscriber(s) suppressed, 0 soft bounce(s) counted, 0 not bounces, 5 quarantined"),
        "{stdout}"
    );
    assert_eq!(
        status_of(&store, "reader01").await,
        SubscriberStatus::Bounced
    );
    for n in &names[1..] {
        assert_eq!(status_of(&store, n).await, SubscriberStatus::Active, "{n}");
    }
    let log = store.bounces(0, None, 100).await.unwrap();
    assert_eq!(log.len(), 1, "only the genuine bounce is logged: {log:?}");
    assert_eq!(
        std::fs::read_dir(quarantine.join("new")).unwrap().count(),
        5
    );

    // Through --stdin (a Postfix pipe to the plain bounce address) too: exit 0, quarantined.
    for f in forged {
        let out = common::run(
            work.path(),
            &db.url(),
            &[
                "bounces",
                "process",
                "--stdin",
                "--quarantine",
                quarantine.to_str().unwrap(),
            ],
            Some(&fill(&fixture(f), &forged_verp, reader07, ids[6])),
        );
        assert!(out.status.success(), "{f}: {}", show(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 quarantined"),
            "{f}: {}",
            show(&out)
        );
    }
    assert_eq!(
        status_of(&store, "reader07").await,
        SubscriberStatus::Active
    );

    // inspect still reports what each one says, and that it proves nothing.
    let files: Vec<String> = std::fs::read_dir(quarantine.join("new"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    let mut args = vec!["bounces", "inspect"];
    args.extend(files.iter().map(String::as_str));
    let out = common::run(work.path(), &db.url(), &args, None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.matches(reader07).count() >= 5, "{text}");
    assert!(
        text.contains("unproven: nothing we issued names this delivery"),
        "{text}"
    );
    assert!(
        text.contains("we have no record of sending that delivery"),
        "{text}"
    );
    assert!(!text.contains("proof: our"), "{text}");
}

/// One fixture of `tests/fixtures/bounces/expected.toml`.
#[derive(serde::Deserialize)]
struct Expected {
    file: String,
    family: String,
    kind: String,
    failed: Vec<String>,
}

fn manifest() -> Vec<Expected> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        fixture: Vec<Expected>,
    }
    let text = fixture("expected.toml");
    toml::from_str::<Manifest>(&text).unwrap().fixture
}

/// A fixture with its slots filled: our VERP (campaign 7, subscriber 42) and our tagged Message-ID.
fn filled(name: &str, verp: &Verp) -> Vec<u8> {
    fill_with(
        &fixture(name),
        &verp.address(7, 42),
        "reader@example.org",
        42,
        verp,
    )
}

/// What `read` found: the failed recipients as "address class" ("-" for an unnamed one), sorted.
fn failed_of(report: &bounce::Report) -> Vec<String> {
    let mut v: Vec<String> = report
        .recipients
        .iter()
        .filter(|r| r.class != Class::None)
        .map(|r| {
            format!(
                "{} {}",
                r.email
                    .as_deref()
                    .map_or("-".to_string(), str::to_lowercase),
                r.class.as_str()
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn real_world_formats_are_read_exactly() {
    let verp = Verp::new(b"test-key", DOMAIN);
    let config = newsletter::config::Config::defaults();
    let own: Vec<String> = [
        "newsletter@this-week-in-rust.org",
        "editors@this-week-in-rust.org",
    ]
    .map(String::from)
    .to_vec();
    let ctx = bounce::Context {
        verp: &verp,
        envelope_to: None,
        own: &own,
        unsubscribe_local: &config.mail.unsubscribe_local,
    };
    let all = manifest();
    assert!(all.len() >= 40, "{} fixtures", all.len());
    let (mut recognised, mut exact, mut bounces) = (0, 0, 0);
    let mut wrong = Vec::new();
    for e in &all {
        let report = bounce::read(&filled(&e.file, &verp), &ctx);
        let mut want = e.failed.clone();
        want.sort();
        let got = failed_of(&report);
        let is_bounce = !matches!(e.kind.as_str(), "auto-reply" | "not a bounce");
        if is_bounce {
            bounces += 1;
            if report.kind.as_str() == e.kind {
                recognised += 1;
            }
        }
        if report.kind.as_str() == e.kind && got == want {
            exact += 1;
        } else {
            wrong.push(format!(
                "{} ({}): want {} {want:?}, got {} {got:?}{}",
                e.file,
                e.family,
                e.kind,
                report.kind.as_str(),
                report
                    .recipients
                    .iter()
                    .map(|r| format!("\n      {:?} {} from {}", r.email, r.evidence, r.found_in))
                    .collect::<String>()
            ));
        }
        // Complaints whose recipient is redacted are tied to the delivery by our tagged ids.
        if e.kind == "arf" {
            assert!(
                report
                    .recipients
                    .iter()
                    .all(|r| r.delivery.is_some_and(|d| d.subscriber_id == 42)),
                "{}: {report:?}",
                e.file
            );
        }
    }
    eprintln!(
        "{} fixtures: {recognised} of {bounces} bounces and complaints recognised; {exact} of {} read exactly (kind, every failed recipient, its class)",
        all.len(),
        all.len()
    );
    assert!(
        wrong.is_empty(),
        "{} misread:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Sisimai's reason names that blame the sender or the content rather than the address: our
/// "policy" class.
const SISIMAI_POLICY: &[&str] = &[
    "blocked",
    "contenterror",
    "policyviolation",
    "rejected",
    "securityerror",
    "spamdetected",
    "virusdetected",
];

#[derive(serde::Deserialize)]
struct Disagreement {
    file: String,
    /// What Sisimai reads as failed, in the manifest's form ("address class", sorted).
    sisimai: Vec<String>,
    /// "newsletter", "sisimai" or "neither": who reads the message as its sender meant it.
    right: String,
    why: String,
}

/// Runs Sisimai (Debian's libsisimai-perl) on every fixture of the manifest and compares its
/// failed recipients and their class with ours. Sisimai is a second opinion, not an oracle: every
/// disagreement was reviewed and is recorded, with who was right and why, in
/// sisimai-disagreements.toml. With the reviewed Sisimai version a new or vanished disagreement
/// fails the test, so a change on either side gets looked at; with another version the comparison
/// is only printed.
#[test]
fn sisimai_second_opinion() {
    #[derive(serde::Deserialize)]
    struct Reviewed {
        sisimai_version: String,
        disagreement: Vec<Disagreement>,
    }
    let Some(perl) = common::require("perl:Sisimai") else {
        return;
    };
    let verp = Verp::new(b"test-key", DOMAIN);
    let all = manifest();
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for e in &all {
        let path = dir.path().join(&e.file);
        std::fs::write(&path, filled(&e.file, &verp)).unwrap();
        paths.push(path);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/sisimai.pl");
    let out = Command::new(perl)
        .arg(script)
        .args(&paths)
        .output()
        .expect("perl runs");
    assert!(
        out.status.success(),
        "Sisimai did not run; install libsisimai-perl (scripts/install-test-deps.sh does): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut version = String::new();
    let mut theirs: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields[0] == "version" {
            version = fields[1].to_string();
            continue;
        }
        let file = Path::new(fields[0])
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let failed = theirs.entry(file).or_default();
        let (address, reason, soft) = (fields[1], fields[2], fields[3]);
        let class = match (reason, soft) {
            ("none" | "delivered" | "vacation", _) => continue,
            ("feedback", _) => "complaint",
            (r, _) if SISIMAI_POLICY.contains(&r) => "policy",
            (_, "1") => "soft",
            (_, "0") => "hard",
            _ => "unclassified",
        };
        failed.push(format!("{} {class}", address.to_lowercase()));
    }
    let reviewed: Reviewed =
        toml::from_str(&fixture("sisimai-disagreements.toml")).expect("the reviewed list parses");

    let mut same_addresses = 0;
    let mut found = Vec::new();
    for e in &all {
        let mut ours = e.failed.clone();
        ours.sort();
        let mut sis = theirs.remove(&e.file).unwrap_or_default();
        sis.sort();
        let addresses = |v: &[String]| -> Vec<String> {
            let mut a: Vec<String> = v
                .iter()
                .map(|s| s.split(' ').next().unwrap().to_string())
                .collect();
            a.sort();
            a
        };
        if addresses(&ours) == addresses(&sis) {
            same_addresses += 1;
        }
        if ours != sis {
            found.push((e.file.clone(), ours, sis));
        }
    }
    eprintln!(
        "Sisimai {version} on {} fixtures: same failed addresses on {same_addresses}, same addresses and classes on {}; {} disagreements:",
        all.len(),
        all.len() - found.len(),
        found.len()
    );
    for (file, ours, sis) in &found {
        let note = reviewed.disagreement.iter().find(|d| &d.file == file);
        eprintln!(
            "  {file}: newsletter {ours:?}, Sisimai {sis:?}; right: {}",
            note.map_or("not reviewed", |d| d.right.as_str())
        );
    }
    if version != reviewed.sisimai_version {
        eprintln!(
            "Sisimai {version} is not the reviewed {}: comparison printed, not enforced",
            reviewed.sisimai_version
        );
        return;
    }
    let mut problems = Vec::new();
    for (file, _, sis) in &found {
        match reviewed.disagreement.iter().find(|d| &d.file == file) {
            None => problems.push(format!(
                "{file}: a new disagreement; review it and record it"
            )),
            Some(d) if &d.sisimai != sis => problems.push(format!(
                "{file}: Sisimai now reads {sis:?}, reviewed was {:?}",
                d.sisimai
            )),
            Some(d) => assert!(
                matches!(d.right.as_str(), "newsletter" | "sisimai" | "neither")
                    && !d.why.is_empty(),
                "{file}: say who was right and why"
            ),
        }
    }
    for d in &reviewed.disagreement {
        if !found.iter().any(|(f, _, _)| f == &d.file) {
            problems.push(format!(
                "{}: recorded as a disagreement, but the two now agree",
                d.file
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `bounces inspect` reads the VERP key of an existing database: pointed at a file that is not
/// there, it says so, explains the message without it (issue #22 item 6), and leaves no new empty
/// database behind (one would carry a fresh key, and every real bounce would look forged).
#[test]
fn inspect_creates_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here.db");
    let fixture = common::fixtures_dir().join("bounces/amazon-ses-dsn.eml");
    let out = common::newsletter(dir.path(), &format!("sqlite://{}", missing.display()))
        .args(["bounces", "inspect"])
        .arg(&fixture)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("creates none") && err.contains("needs the database"),
        "{err}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not checked"),
        "{}",
        show(&out)
    );
    assert!(!missing.exists(), "inspect created {}", missing.display());

    // With the database there, the same command reads the message.
    let url = format!("sqlite://{}", dir.path().join("real.db").display());
    let made = common::run(dir.path(), &url, &["subscribers", "stats"], None);
    assert!(made.status.success(), "{}", show(&made));
    let out = common::newsletter(dir.path(), &url)
        .args(["bounces", "inspect"])
        .arg(&fixture)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
}
