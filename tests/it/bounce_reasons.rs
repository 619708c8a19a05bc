//! Bounce reasons (issue #22): every fixture of `tests/fixtures/bounces/reasons` read by the real
//! binary as reviewed (`bounces inspect --format json`), and the same fixtures processed by the real
//! binary against a real campaign: a refusal about us, the message, the rate or a temporary state
//! suppresses nobody; a gone address and a complaint still act.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::db::TestDb;
use common::show;
use newsletter::bounce::BouncePolicy;
use newsletter::domain::{EmailAddress, SubscriberStatus};
use newsletter::mail::Verp;
use newsletter::store::{AddOutcome, Outcome, Recorded, Source, Store};

const DOMAIN: &str = "bounces.this-week-in-rust.org";

/// Fixtures this build still reads differently from the manifest, each with why. Empty: every
/// fixture is read as reviewed.
const KNOWN_MISREADS: &[(&str, &str)] = &[];

#[derive(serde::Deserialize)]
struct Expected {
    file: String,
    kind: String,
    recipients: Vec<String>,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bounces/reasons")
}

fn manifest() -> Vec<Expected> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        fixture: Vec<Expected>,
    }
    let text = std::fs::read_to_string(dir().join("expected.toml")).unwrap();
    toml::from_str::<Manifest>(&text).unwrap().fixture
}

/// "ADDRESS REASON CLASS" for each recipient of one `inspect` report, sorted.
fn recipients_of(report: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = report["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["email"].as_str().unwrap_or("-").to_lowercase(),
                r["reason"].as_str().unwrap_or("(no reason)"),
                r["class"].as_str().unwrap_or("?")
            )
        })
        .collect();
    v.sort();
    v
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

/// Every fixture read through the real binary exactly as the manifest says: kind, every recipient,
/// its reason and its class. Prints exact/total and the readers a build would wrongly call hard.
#[tokio::test]
async fn every_reason_fixture_is_read_as_reviewed() {
    let db = TestDb::sqlite();
    Store::connect(&db.url()).await.unwrap().close().await;
    let work = tempfile::tempdir().unwrap();
    let expected = manifest();
    assert!(expected.len() >= 60, "{} fixtures", expected.len());
    let paths: Vec<String> = expected
        .iter()
        .map(|e| dir().join(&e.file).display().to_string())
        .collect();
    let mut args = vec!["bounces", "inspect", "--format", "json"];
    args.extend(paths.iter().map(String::as_str));
    let out = common::run(work.path(), &db.url(), &args, None);
    assert!(out.status.success(), "{}", show(&out));
    let reports: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports.len(), expected.len());

    let mut misread = BTreeMap::new();
    let mut wrongly_hard = Vec::new();
    for (e, r) in expected.iter().zip(&reports) {
        let report = &r["report"];
        let kind = match report["kind"].as_str().unwrap_or("") {
            "non-standard-bounce" => "non-standard bounce",
            "not-a-bounce" => "not a bounce",
            k => k,
        };
        let got = recipients_of(report);
        let want = sorted(&e.recipients);
        for g in &got {
            let addr = g.split(' ').next().unwrap();
            let hard = g.ends_with(" hard");
            let want_hard = want
                .iter()
                .any(|w| w.split(' ').next() == Some(addr) && w.ends_with(" hard"));
            if hard && !want_hard {
                wrongly_hard.push(format!("{}: {g}", e.file));
            }
        }
        if kind != e.kind || got != want {
            misread.insert(
                e.file.clone(),
                format!("want {} {want:?}\n      got {kind} {got:?}", e.kind),
            );
        }
    }
    eprintln!(
        "reasons: kind, recipients, reasons and classes exact on {}/{} fixtures; {} reader(s) wrongly hard",
        expected.len() - misread.len(),
        expected.len(),
        wrongly_hard.len()
    );
    let known: BTreeMap<&str, &str> = KNOWN_MISREADS.iter().copied().collect();
    let unexpected: Vec<String> = misread
        .iter()
        .filter(|(f, _)| !known.contains_key(f.as_str()))
        .map(|(f, m)| format!("  {f}: {m}"))
        .collect();
    assert!(
        wrongly_hard.is_empty() && unexpected.is_empty(),
        "readers wrongly hard:\n  {}\nmisread:\n{}",
        wrongly_hard.join("\n  "),
        unexpected.join("\n")
    );
    // A known misread that is now read right must leave the list.
    for f in known.keys() {
        assert!(
            misread.contains_key(*f),
            "{f} is read right now: drop it from KNOWN_MISREADS"
        );
    }
}

/// Every fixture that names a recipient, delivered to the real binary as Postfix's pipe does (our VERP
/// as the envelope recipient, for a delivery of a real campaign to that reader): the reader the
/// fixture names is suppressed exactly when the manifest says the address is gone or the reader
/// complained. A sender-side refusal, a message refusal, a rate, a delay or a DMARC report leaves the
/// reader active.
#[tokio::test]
async fn only_a_gone_address_a_complaint_or_an_unsubscribe_changes_a_reader() {
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url()).await.unwrap();
    let verp = Verp::new(&store.verp_key().await.unwrap(), DOMAIN);
    // (fixture, the reader it acts on, that reader's expected class)
    let cases: Vec<(String, String, String)> = manifest()
        .into_iter()
        .filter_map(|e| {
            // The first recipient the report acts on: a failure, a complaint, or an unsubscribe.
            let first = e
                .recipients
                .iter()
                .find(|r| !r.ends_with(" none") || r.ends_with(" unsubscribe none"))?;
            let mut words = first.split(' ');
            let (addr, reason, class) = (words.next()?, words.next()?, words.next()?);
            let class = if reason == "unsubscribe" {
                reason
            } else {
                class
            };
            (addr != "-").then(|| (e.file, addr.to_string(), class.to_string()))
        })
        .collect();
    assert!(cases.len() >= 50, "{} cases", cases.len());

    let mut ids = BTreeMap::new();
    for (_, addr, _) in &cases {
        let email = EmailAddress::parse(addr).unwrap();
        let AddOutcome::Added(s) = store
            .add(&email, None, SubscriberStatus::Active, Source::Cli)
            .await
            .unwrap()
        else {
            panic!("{addr} not added")
        };
        ids.insert(addr.clone(), s);
    }
    let c = store
        .campaign_for_issue(912, "hash", "This Week in Rust 912", "Title: x")
        .await
        .unwrap();
    store
        .snapshot(c.id, None, &newsletter::domain::ProviderMap::new(&[]))
        .await
        .unwrap();
    // Every address is "sent", whichever provider it counts under (hotmail.example is Outlook's).
    let mut claimed = Vec::new();
    let mut names = newsletter::domain::provider_names();
    names.sort_unstable();
    names.dedup();
    for p in names {
        let name = newsletter::domain::ProviderName::parse(p).unwrap();
        claimed.extend(store.claim(c.id, &name, "test", 10_000, 60).await.unwrap());
    }
    claimed.sort_by_key(|d| d.subscriber_id);
    claimed.dedup_by_key(|d| d.subscriber_id);
    assert_eq!(claimed.len(), ids.len());
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

    let work = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for (file, addr, class) in &cases {
        let bytes = std::fs::read(dir().join(file)).unwrap();
        let envelope = verp.address(c.id, ids[addr]);
        let out = common::run(
            work.path(),
            &db.url(),
            &["bounces", "process", "--stdin", "--recipient", &envelope],
            Some(&bytes),
        );
        assert!(out.status.success(), "{file}: {}", show(&out));
        let now = store
            .find_by_email(&EmailAddress::parse(addr).unwrap())
            .await
            .unwrap()
            .unwrap()
            .status;
        let want = match class.as_str() {
            "hard" => SubscriberStatus::Bounced,
            "complaint" => SubscriberStatus::Complained,
            "unsubscribe" => SubscriberStatus::Unsubscribed,
            _ => SubscriberStatus::Active,
        };
        if now != want {
            wrong.push(format!(
                "  {file}: {addr} ({class}) is {now:?}, want {want:?}; {}",
                show(&out)
            ));
        }
    }
    store.close().await;
    assert!(
        wrong.is_empty(),
        "{} of {} readers handled wrongly:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

/// A relay answers RCPT with a refusal about us for a fifth of the list (a reputation block), one
/// reader's mailbox is gone, and one is full: during `send`, only the gone address is suppressed;
/// the refusals about us are logged as `policy` and suppress nobody.
#[tokio::test]
async fn refusals_about_us_during_send_suppress_nobody() {
    require!("python3:aiosmtpd");
    use common::{Env, emails, small_issue};
    let env = Env::new(TestDb::sqlite());
    let mut list = emails("reader", 20);
    list.extend(emails("blocked", 5));
    list.push("gone@example.org".into());
    list.push("full@example.org".into());
    env.subscribe(&list);
    let server = common::smtp::Server::faulty(&[
        "--refuse",
        "blocked=550 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using a reputation list",
        "--refuse",
        "gone@=550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
        "--refuse",
        "full@=552 5.2.2 <full@example.org>: Mailbox full",
    ]);
    let out = env.send(&small_issue(), &server.url(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = env.store().await;
    async fn status(store: &Store, who: &str) -> SubscriberStatus {
        let who = EmailAddress::parse(who).unwrap();
        store.find_by_email(&who).await.unwrap().unwrap().status
    }
    for who in list.iter().filter(|w| w.starts_with("blocked")) {
        assert_eq!(status(&store, who).await, SubscriberStatus::Active, "{who}");
    }
    assert_eq!(
        status(&store, "gone@example.org").await,
        SubscriberStatus::Bounced
    );
    assert_eq!(
        status(&store, "full@example.org").await,
        SubscriberStatus::Active
    );
    let log = store.bounces(0, None, 100).await.unwrap();
    let kind_of = |who: &str| {
        log.iter()
            .find(|b| b.email.as_deref() == Some(who))
            .map(|b| b.kind.to_string())
    };
    assert_eq!(
        kind_of("blocked00001@example.org").as_deref(),
        Some("policy")
    );
    assert_eq!(kind_of("gone@example.org").as_deref(), Some("hard"));
    assert_eq!(kind_of("full@example.org").as_deref(), Some("soft"));
    // Each entry keeps why, and says so in `bounces list`.
    let reason_of = |who: &str| {
        log.iter()
            .find(|b| b.email.as_deref() == Some(who))
            .and_then(|b| b.reason)
    };
    assert!(
        reason_of("blocked00001@example.org").is_some_and(|r| r.is_sender_side()),
        "{log:?}"
    );
    assert_eq!(
        reason_of("gone@example.org"),
        Some(newsletter::domain::BounceReason::UserUnknown)
    );
    assert_eq!(
        reason_of("full@example.org"),
        Some(newsletter::domain::BounceReason::MailboxFull)
    );
    let listed = env.run(&["bounces", "list"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains("user-unknown: the address does not exist"),
        "{text}"
    );
    // The console's bounce log says it in words.
    use common::console::{PASSWORD, add_account, get, serve, signed_in};
    add_account(&env.db, "boss@example.org", "admin", PASSWORD);
    let s = serve(&env.db);
    let session = signed_in(&s, "boss@example.org", PASSWORD);
    let page = get(&s, "/admin/bounces", &session);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("about us, so nobody was suppressed")
            && page.body.contains("the address does not exist"),
        "{}",
        page.body
    );
}

/// Item 6: a newcomer pastes a bounce with no database anywhere: `bounces inspect` explains it (who,
/// why, the reason) and says that whether it proves a delivery of ours needs the database; it
/// creates no database.
#[test]
fn inspect_explains_a_bounce_without_a_database() {
    let work = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(common::bin())
        .current_dir(work.path())
        .env_remove("NEWSLETTER_DATABASE_URL")
        .env_remove("NEWSLETTER_CONFIG")
        .args(["bounces", "inspect"])
        .arg(dir().join("ses-relay-identity-not-verified.eml"))
        .arg(dir().join("postfix-null-mx-5.1.10.eml"))
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("ses-relay-identity-not-verified.eml: "),
        "{out}"
    );
    assert!(
        out.contains("policy"),
        "an identity refusal is about us: {out}"
    );
    assert!(out.contains("hard"), "a null MX is gone: {out}");
    assert!(out.contains("not checked"), "{out}");
    assert!(err.contains("needs the database"), "{err}");
    assert_eq!(
        std::fs::read_dir(work.path()).unwrap().count(),
        0,
        "no database was created"
    );
}
