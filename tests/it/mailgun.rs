//! `newsletter send --transport mailgun://DOMAIN?endpoint=…` against `tests/emulators/mailgun.py`,
//! which answers as Mailgun's `messages.mime` does: every subscriber once, counted by the
//! emulator, with our MIME as we built it and Mailgun's id (without `<>`) kept beside each
//! delivery; a re-run sends nothing; each class of answer (a refused recipient, throttling, a 500,
//! a wrong key) does what it should; `doctor` checks the key and the domain's state; `kill -9`
//! mid-send duplicates only what was in flight.

use crate::common;
use common::emulator::Emulator;
use common::env::assert_delivered_once_but_in_flight;
use common::{Env, emails, show, small_issue};

use std::collections::HashMap;

use common::db::TestDb;

both_backends!(every_subscriber_once_with_mailguns_ids_and_a_rerun_sends_nothing);

const KEY: &str = "key-3b9f0c";
const DOMAIN: &str = "mg.this-week-in-rust.org";

fn start(args: &[&str]) -> Option<Emulator> {
    let mut all = vec![KEY, DOMAIN];
    all.extend_from_slice(args);
    Emulator::start("mailgun.py", &all)
}

fn transport(mg: &Emulator) -> String {
    format!("mailgun://{DOMAIN}?endpoint={}", mg.url())
}

fn mg_env(db: TestDb) -> Env {
    Env::new(db).var("NEWSLETTER_MAILGUN_KEY", KEY)
}

/// What the emulator accepted: (id, recipient) per message.
fn sent(mg: &Emulator) -> Vec<(String, String)> {
    mg.get("/_emulator/messages")
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_string(),
                m["to"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn every_subscriber_once_with_mailguns_ids_and_a_rerun_sends_nothing(db: TestDb) {
    let Some(mg) = start(&[]) else { return };
    let env = mg_env(db);
    let list = emails("reader", 300);
    env.subscribe(&list);
    let out = env.send(&small_issue(), &transport(&mg), &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(show(&out).contains("sent 300"), "{}", show(&out));
    let sent = sent(&mg);
    let counts = common::emulator::per_recipient(&sent);
    assert_eq!(counts.len(), 300, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    assert!(list.iter().all(|e| counts.contains_key(e)));
    // Our MIME, as we built it: our List-Unsubscribe is in it.
    let first = &mg.get("/_emulator/messages")[0];
    assert!(
        first["list_unsubscribe"]
            .as_str()
            .unwrap()
            .contains("unsubscribe"),
        "{first}"
    );
    // Mailgun's id, without its angle brackets, beside each delivery.
    let ids = env.provider_ids().await;
    assert_eq!(ids.len(), 300);
    let by_emulator: HashMap<&str, &str> = sent
        .iter()
        .map(|(id, to)| (to.as_str(), id.as_str()))
        .collect();
    for (email, id) in &ids {
        let id = id.as_deref().unwrap();
        assert!(!id.starts_with('<') && !id.ends_with('>'), "{id}");
        assert_eq!(id, by_emulator[email.as_str()], "{email}");
    }
    let again = env.send(&small_issue(), &transport(&mg), &[]);
    assert!(again.status.success(), "{}", show(&again));
    assert!(show(&again).contains("nothing to do"), "{}", show(&again));
    assert_eq!(self::sent(&mg).len(), 300);
    let status = env.status_json(912);
    assert_eq!(status["counts"]["sent"], 300);
    assert_eq!(status["state"], "done");
}

#[tokio::test]
async fn a_refused_recipient_fails_alone_throttling_slows_down_and_a_500_is_retried() {
    let Some(mg) = start(&["--throttle", "3"]) else {
        return;
    };
    let env = mg_env(TestDb::sqlite());
    let mut list = emails("reader", 120);
    list.push("invalid@example.org".into());
    list.push("throttle@example.org".into());
    list.push("boom@example.org".into());
    env.subscribe(&list);
    let out = env.send(&small_issue(), &transport(&mg), &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(show(&out).contains("asked to slow down"), "{}", show(&out));
    let counts = common::emulator::per_recipient(&sent(&mg));
    for e in &list {
        let want = usize::from(e != "invalid@example.org");
        assert_eq!(counts.get(e).copied().unwrap_or(0), want, "{e}");
    }
    let status = env.status_json(912);
    assert_eq!(status["counts"]["sent"], 122, "{status}");
    assert_eq!(status["counts"]["failed"], 1, "{status}");
    let out = env.run(&["bounces", "list"]);
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("invalid@example.org"), "{text}");
    assert!(!text.contains("reader0"), "{text}");
}

#[tokio::test]
async fn a_wrong_key_stops_the_campaign_before_anyone_is_marked() {
    let Some(mg) = start(&[]) else { return };
    let env = Env::new(TestDb::sqlite()).var("NEWSLETTER_MAILGUN_KEY", "key-wrong");
    env.subscribe(&emails("reader", 40));
    let out = env.send(&small_issue(), &transport(&mg), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Mailgun refused the API key") && err.contains("NEWSLETTER_MAILGUN_KEY"),
        "{err}"
    );
    assert!(!err.contains("key-wrong"), "the key is shown: {err}");
    assert!(sent(&mg).is_empty());
    let status = env.status_json(912);
    for state in ["sent", "failed", "deferred", "skipped"] {
        assert_eq!(status["counts"][state], 0, "{state}: {status}");
    }
}

#[test]
fn a_missing_key_is_named_before_anything_is_sent() {
    let err = Env::new(TestDb::sqlite()).send_without(
        "mailgun://mg.example.org?endpoint=http://127.0.0.1:9",
        &["NEWSLETTER_MAILGUN_KEY"],
    );
    assert!(err.contains("NEWSLETTER_MAILGUN_KEY"), "{err}");
}

fn relay_lines(text: &str) -> String {
    let mut lines = text.lines().skip_while(|l| !l.contains("mailgun://"));
    let mut out: Vec<&str> = lines.next().into_iter().collect();
    // The finding's own lines (its fix) are indented.
    out.extend(lines.take_while(|l| l.starts_with(' ')));
    out.join("\n")
}

#[test]
fn doctor_checks_the_key_and_the_domains_state() {
    let Some(mg) = start(&[]) else { return };
    let out = mg_env(TestDb::sqlite()).run(&["doctor", "--transport", &transport(&mg)]);
    let text = show(&out);
    let relay = relay_lines(&text);
    assert!(relay.contains("domain active"), "{text}");
    assert!(!relay.contains("ERROR"), "{relay}");

    let bad = Env::new(TestDb::sqlite()).var("NEWSLETTER_MAILGUN_KEY", "key-wrong");
    let out = bad.run(&["doctor", "--transport", &transport(&mg)]);
    assert!(!out.status.success(), "{}", show(&out));
    let text = show(&out);
    let relay = relay_lines(&text);
    assert!(
        relay.contains("ERROR") && relay.contains("NEWSLETTER_MAILGUN_KEY"),
        "{text}"
    );
    assert!(!text.contains("key-wrong"), "the key is shown: {text}");

    let Some(unverified) = start(&["--state", "unverified"]) else {
        return;
    };
    let out = mg_env(TestDb::sqlite()).run(&["doctor", "--transport", &transport(&unverified)]);
    assert!(!out.status.success(), "{}", show(&out));
    let text = show(&out);
    let relay = relay_lines(&text);
    assert!(
        relay.contains("ERROR") && relay.contains("unverified"),
        "{text}"
    );
}

#[tokio::test]
async fn kill_9_mid_send_duplicates_only_what_was_in_flight() {
    // 30 ms before each answer, after the message was taken: messages are in flight at each
    // kill, and the send lasts long enough to be killed.
    let Some(mg) = start(&["--delay", "30"]) else {
        return;
    };
    let env = mg_env(TestDb::sqlite()).var("NEWSLETTER_SEND__LEASE_SECS", "2");
    let list = emails("reader", 1_000);
    env.subscribe(&list);
    let (kills, in_flight_at_kills) = env.kill_sends(&transport(&mg), 3, 400, 1200).await;
    assert!(kills >= 1, "the send finished before any kill");
    let out = env.send(&small_issue(), &transport(&mg), &[]);
    assert!(out.status.success(), "{}", show(&out));
    let counts = common::emulator::per_recipient(&sent(&mg));
    let duplicated = assert_delivered_once_but_in_flight(&list, &counts, &in_flight_at_kills);
    eprintln!(
        "{kills} kills; {} in flight at the kills; {} duplicates; the emulator counted {}",
        in_flight_at_kills.len(),
        duplicated,
        counts.values().sum::<usize>()
    );
    let status = env.status_json(912);
    assert_eq!(status["counts"]["sent"], 1_000);
    assert_eq!(status["state"], "done");
}
