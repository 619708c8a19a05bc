//! `newsletter send --transport postmark://?endpoint=…` against `tests/emulators/postmark.py`, which
//! answers as Postmark's batch API does: every subscriber once, counted by the emulator, in batches
//! of at most 500, with Postmark's `MessageID` kept beside each delivery; a re-run sends nothing;
//! each class of answer (inactive recipient, throttling, a 500, a wrong token, an unconfirmed
//! sender) does what it should; `doctor` checks the token; `kill -9` mid-send duplicates only what
//! was in flight.

use crate::common;
use common::emulator::Emulator;
use common::env::assert_delivered_once_but_in_flight;
use common::{Env, emails, show, small_issue};

use std::collections::HashMap;

use common::db::TestDb;

both_backends!(every_subscriber_once_in_batches_with_postmarks_ids_and_a_rerun_sends_nothing);

const TOKEN: &str = "server-token-5d1e";

fn start(args: &[&str]) -> Option<Emulator> {
    let mut all = vec![TOKEN];
    all.extend_from_slice(args);
    Emulator::start("postmark.py", &all)
}

fn transport(pm: &Emulator) -> String {
    format!("postmark://?endpoint={}", pm.url())
}

/// A work folder whose binary has the emulator's token.
fn pm_env(db: TestDb) -> Env {
    Env::new(db).var("NEWSLETTER_POSTMARK_TOKEN", TOKEN)
}

/// What the emulator accepted: (MessageID, recipient) per message.
fn sent(pm: &Emulator) -> Vec<(String, String)> {
    pm.get("/_emulator/messages")
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["MessageID"].as_str().unwrap().to_string(),
                m["To"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn every_subscriber_once_in_batches_with_postmarks_ids_and_a_rerun_sends_nothing(db: TestDb) {
    let Some(pm) = start(&[]) else { return };
    let env = pm_env(db);
    let list = emails("reader", 300);
    env.subscribe(&list);
    let out = env.send(&small_issue(), &transport(&pm), &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(show(&out).contains("sent 300"), "{}", show(&out));
    let sent = sent(&pm);
    let counts = common::emulator::per_recipient(&sent);
    assert_eq!(counts.len(), 300, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    assert!(list.iter().all(|e| counts.contains_key(e)));
    // Batched: fewer calls than messages, none over 500.
    let batches: Vec<u64> = pm
        .get("/_emulator/batches")
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert_eq!(batches.iter().sum::<u64>(), 300, "{batches:?}");
    assert!(batches.len() < 300, "no batching: {batches:?}");
    assert!(batches.iter().all(|&n| n <= 500), "{batches:?}");
    // The message as Postmark got it: our headers kept, in the broadcast stream.
    let first = &pm.get("/_emulator/messages")[0];
    assert_eq!(first["MessageStream"], "broadcast");
    assert_eq!(first["HasText"], true);
    assert_eq!(first["HasHtml"], true);
    let names: Vec<&str> = first["Headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["Name"].as_str().unwrap())
        .collect();
    for want in [
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "List-Id",
        "Message-ID",
    ] {
        assert!(names.contains(&want), "{want} missing: {names:?}");
    }
    // Postmark's MessageID for each message is kept beside its delivery.
    let ids = env.provider_ids().await;
    assert_eq!(ids.len(), 300);
    let by_emulator: HashMap<&str, &str> = sent
        .iter()
        .map(|(id, to)| (to.as_str(), id.as_str()))
        .collect();
    for (email, id) in &ids {
        assert_eq!(id.as_deref(), Some(by_emulator[email.as_str()]), "{email}");
    }
    let again = env.send(&small_issue(), &transport(&pm), &[]);
    assert!(again.status.success(), "{}", show(&again));
    assert!(show(&again).contains("nothing to do"), "{}", show(&again));
    assert_eq!(self::sent(&pm).len(), 300);
    let status = env.status_json(912);
    assert_eq!(status["counts"]["sent"], 300);
    assert_eq!(status["state"], "done");
}

#[tokio::test]
async fn inactive_fails_alone_throttling_slows_down_and_a_500_is_retried() {
    let Some(pm) = start(&["--throttle", "2"]) else {
        return;
    };
    let env = pm_env(TestDb::sqlite());
    let mut list = emails("reader", 120);
    list.push("inactive@example.org".into());
    list.push("throttle@example.org".into());
    list.push("boom@example.org".into());
    env.subscribe(&list);
    let out = env.send(&small_issue(), &transport(&pm), &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(show(&out).contains("asked to slow down"), "{}", show(&out));
    let counts = common::emulator::per_recipient(&sent(&pm));
    for e in &list {
        let want = usize::from(e != "inactive@example.org");
        assert_eq!(counts.get(e).copied().unwrap_or(0), want, "{e}");
    }
    let status = env.status_json(912);
    assert_eq!(status["counts"]["sent"], 122, "{status}");
    assert_eq!(status["counts"]["failed"], 1, "{status}");
    // The refusal is a bounce of that address, and nobody else's.
    let out = env.run(&["bounces", "list"]);
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("inactive@example.org"), "{text}");
    assert!(!text.contains("reader0"), "{text}");
}

/// Asserts nobody was marked in any way and the emulator got nothing.
async fn nobody_touched(env: &Env, pm: &Emulator, subscribers: i64) {
    assert!(sent(pm).is_empty());
    let status = env.status_json(912);
    for state in ["sent", "failed", "deferred", "skipped"] {
        assert_eq!(status["counts"][state], 0, "{state}: {status}");
    }
    let store = env.store().await;
    for (s, n) in store.stats().await.unwrap() {
        let want = if s == newsletter::domain::SubscriberStatus::Active {
            subscribers
        } else {
            0
        };
        assert_eq!(n, want, "{s}");
    }
}

#[tokio::test]
async fn a_wrong_token_stops_the_campaign_before_anyone_is_marked() {
    let Some(pm) = start(&[]) else { return };
    let env = Env::new(TestDb::sqlite()).var("NEWSLETTER_POSTMARK_TOKEN", "not-the-token");
    env.subscribe(&emails("reader", 40));
    let out = env.send(&small_issue(), &transport(&pm), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Postmark refused the server token")
            && err.contains("NEWSLETTER_POSTMARK_TOKEN"),
        "{err}"
    );
    assert!(!err.contains("not-the-token"), "the token is shown: {err}");
    nobody_touched(&env, &pm, 40).await;
}

#[tokio::test]
async fn an_unconfirmed_sender_stops_the_campaign_and_nobody_is_marked() {
    // The server's only sender signature is another domain's.
    let Some(pm) = start(&["--sender", "other.example"]) else {
        return;
    };
    let env = pm_env(TestDb::sqlite());
    env.subscribe(&emails("reader", 40));
    let out = env.send(&small_issue(), &transport(&pm), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Postmark refused the sender") && err.contains("sender signature"),
        "{err}"
    );
    nobody_touched(&env, &pm, 40).await;
}

#[test]
fn a_missing_token_is_named_before_anything_is_sent() {
    let err = Env::new(TestDb::sqlite()).send_without(
        "postmark://?endpoint=http://127.0.0.1:9",
        &["NEWSLETTER_POSTMARK_TOKEN"],
    );
    assert!(err.contains("NEWSLETTER_POSTMARK_TOKEN"), "{err}");
}

/// The lines of `doctor`'s output about the transport.
fn relay_lines(text: &str, label: &str) -> String {
    let mut lines = text.lines().skip_while(|l| !l.contains(label));
    let mut out: Vec<&str> = lines.next().into_iter().collect();
    // The finding's own lines (its fix) are indented.
    out.extend(lines.take_while(|l| l.starts_with(' ')));
    out.join("\n")
}

#[test]
fn doctor_checks_the_token() {
    let Some(pm) = start(&[]) else { return };
    let env = pm_env(TestDb::sqlite());
    let out = env.run(&["doctor", "--transport", &transport(&pm)]);
    let text = show(&out);
    let relay = relay_lines(&text, "postmark://");
    assert!(relay.contains("server token accepted"), "{text}");
    assert!(!relay.contains("ERROR"), "{relay}");

    let bad = Env::new(TestDb::sqlite()).var("NEWSLETTER_POSTMARK_TOKEN", "wrong");
    let out = bad.run(&["doctor", "--transport", &transport(&pm)]);
    assert!(!out.status.success(), "{}", show(&out));
    let text = show(&out);
    let relay = relay_lines(&text, "postmark://");
    assert!(relay.contains("ERROR"), "{text}");
    assert!(relay.contains("NEWSLETTER_POSTMARK_TOKEN"), "{relay}");
    assert!(!text.contains("wrong"), "the token is shown: {text}");
}

#[tokio::test]
async fn kill_9_mid_send_duplicates_only_what_was_in_flight() {
    // 40 ms before each batch's answer, after its messages were taken: batches are in flight at
    // each kill, and the send lasts long enough to be killed.
    let Some(pm) = start(&["--delay", "40"]) else {
        return;
    };
    let env = pm_env(TestDb::sqlite()).var("NEWSLETTER_SEND__LEASE_SECS", "2");
    let list = emails("reader", 2_000);
    env.subscribe(&list);
    let (kills, in_flight_at_kills) = env.kill_sends(&transport(&pm), 3, 400, 1200).await;
    assert!(kills >= 1, "the send finished before any kill");
    let out = env.send(&small_issue(), &transport(&pm), &[]);
    assert!(out.status.success(), "{}", show(&out));
    let counts = common::emulator::per_recipient(&sent(&pm));
    let duplicated = assert_delivered_once_but_in_flight(&list, &counts, &in_flight_at_kills);
    eprintln!(
        "{kills} kills; {} in flight at the kills; {} duplicates; the emulator counted {}",
        in_flight_at_kills.len(),
        duplicated,
        counts.values().sum::<usize>()
    );
    let status = env.status_json(912);
    assert_eq!(status["counts"]["sent"], 2_000);
    assert_eq!(status["state"], "done");
}

/// With a concurrency above what Postmark takes in one call, batches still stop at 500 (the emulator
/// refuses a longer one, as Postmark does), and hold more than the shipped concurrency's 8.
#[tokio::test]
async fn batches_hold_at_most_500_whatever_the_concurrency() {
    let Some(pm) = start(&[]) else { return };
    let env = pm_env(TestDb::sqlite());
    let list = emails("reader", 1_200);
    env.subscribe(&list);
    let out = env.send(&small_issue(), &transport(&pm), &["--concurrency", "600"]);
    assert!(out.status.success(), "{}", show(&out));
    let batches: Vec<u64> = pm
        .get("/_emulator/batches")
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert_eq!(batches.iter().sum::<u64>(), 1_200, "{batches:?}");
    assert!(batches.iter().all(|&n| n <= 500), "{batches:?}");
    assert!(batches.iter().any(|&n| n > 8), "{batches:?}");
    let counts = common::emulator::per_recipient(&sent(&pm));
    assert_eq!(counts.len(), 1_200);
}

/// An account Postmark has not approved yet (ErrorCode 412 for every message) stops the campaign
/// at its first batch, and nobody is marked.
#[tokio::test]
async fn an_account_pending_approval_stops_the_campaign_and_nobody_is_marked() {
    let Some(pm) = start(&["--pending"]) else {
        return;
    };
    let env = pm_env(TestDb::sqlite());
    env.subscribe(&emails("reader", 40));
    let out = env.send(&small_issue(), &transport(&pm), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Postmark will not send for this account") && err.contains("412"),
        "{err}"
    );
    nobody_touched(&env, &pm, 40).await;
}
