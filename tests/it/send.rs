//! `newsletter send`, `status` and `worker`, run as the real binary against real SMTP servers
//! (Postfix's smtp-sink, and aiosmtpd for per-recipient faults), on SQLite and PostgreSQL.

use crate::common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::db::TestDb;
use common::env::assert_delivered_once_but_in_flight;
use common::smtp::{Server, assert_each_once, per_recipient, python_strict_check};
use common::{Env, assert_ok_with, assert_refused_with, emails, show, small_issue, stdout};
use newsletter::domain::{EmailAddress, SubscriberStatus};
use newsletter::mail::Verp;

both_backends!(thousand_subscribers_get_one_message_each);

const BOUNCE_DOMAIN: &str = "bounces.this-week-in-rust.org";

fn issue_576() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/2024-11-27-this-week-in-rust-576.md")
}

async fn thousand_subscribers_get_one_message_each(db: TestDb) {
    require!("smtp-sink", "python3");
    let env = Env::new(db);
    let list = emails("reader", 1000);
    env.subscribe(&list);
    let sink = Server::sink(&[]);
    let out = env.send(&issue_576(), &sink.url(), &["--concurrency", "8"]);
    assert_ok_with(&out, "sent 1000, failed permanently 0");

    let messages = sink.messages();
    assert_eq!(messages.len(), 1000);
    let counts = per_recipient(&messages);
    assert_eq!(counts.len(), 1000, "every subscriber, once");
    assert!(counts.values().all(|&n| n == 1));

    let store = env.store().await;
    let campaign = store.campaign_by_number(576).await.unwrap().unwrap();
    let verp = Verp::new(&store.verp_key().await.unwrap(), BOUNCE_DOMAIN);
    let mut message_ids = HashSet::new();
    let mut tokens = HashSet::new();
    for m in &messages {
        let sub = store
            .find_by_email(&EmailAddress::parse(&m.rcpt).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.headers["to"], format!("<{}>", m.rcpt));
        // The subscriber's own token, in both the header and the body's footer link.
        assert_eq!(m.unsubscribe_token(), sub.token.expose());
        let url = format!(
            "https://this-week-in-rust.org/newsletter/unsubscribe/{}",
            sub.token.expose()
        );
        assert!(
            String::from_utf8_lossy(&m.raw)
                .replace("=\r\n", "")
                .contains(&url),
            "footer link of {}",
            m.rcpt
        );
        assert_eq!(
            m.headers["list-unsubscribe-post"],
            "List-Unsubscribe=One-Click"
        );
        // Message-ID derived from (campaign, subscriber) and signed with the installation's key, like
        // the VERP sender, which names exactly this delivery.
        assert_eq!(
            m.headers["message-id"],
            verp.message_id("issue-576", sub.id)
        );
        assert!(
            m.headers["message-id"].starts_with(&format!("<issue-576.s{}.", sub.id))
                && m.headers["message-id"].ends_with(&format!("@{BOUNCE_DOMAIN}>"))
        );
        assert_eq!(
            verp.parse_message_id(&m.headers["message-id"])
                .map(|id| (id.issue, id.subscriber_id)),
            Some((576, sub.id))
        );
        assert_eq!(verp.parse(&m.mail_from), Some((campaign.id, sub.id)));
        message_ids.insert(m.headers["message-id"].clone());
        tokens.insert(m.unsubscribe_token());
        let longest = m.raw.split(|&b| b == b'\n').map(<[u8]>::len).max().unwrap();
        assert!(longest <= 998, "{} has a {longest}-octet line", m.rcpt);
    }
    assert_eq!((message_ids.len(), tokens.len()), (1000, 1000));

    let (parsed, defects, problems) = python_strict_check(sink.dir.path());
    assert_eq!(
        (parsed, defects),
        (1000, 0),
        "Python email policy.strict: {problems}"
    );

    // Running the same command again sends nothing.
    let again = env.send(&issue_576(), &sink.url(), &[]);
    assert!(again.status.success(), "{}", show(&again));
    assert!(stdout(&again).contains("already sent"), "{}", show(&again));
    assert_eq!(sink.messages().len(), 1000);

    let status = env.status_json(576);
    assert_eq!(status["state"], "done");
    assert_eq!(status["counts"]["sent"], 1000);
    assert_eq!(status["total"], 1000);
    assert!(status["finished_at"].as_i64().is_some());
}

#[tokio::test]
async fn transient_4xx_is_retried_until_delivered() {
    require!("python3:aiosmtpd");
    let env = Env::new(TestDb::sqlite());
    let mut list = emails("reader", 24);
    list.extend(emails("retry", 6));
    env.subscribe(&list);
    let server = Server::faulty(&["--defer-once", "retry"]);
    let out = env.send(&small_issue(), &server.url(), &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert_each_once(&server, 30);
    let status = env.status_json(912);
    assert_eq!(status["counts"]["sent"], 30);
    assert_eq!(status["counts"]["deferred"], 0);
}

#[tokio::test]
async fn transient_failures_beyond_the_attempts_are_deferred_then_retried_by_a_rerun() {
    require!("python3:aiosmtpd");
    // Every attempt to the retry addresses gets 451 in the first run (one attempt allowed).
    let env = Env::new(TestDb::sqlite()).var("NEWSLETTER_SEND__MAX_ATTEMPTS", "1");
    let mut list = emails("reader", 10);
    list.extend(emails("retry", 3));
    env.subscribe(&list);
    let server = Server::faulty(&["--defer-once", "retry"]);
    let out = env.send(&small_issue(), &server.url(), &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(stdout(&out).contains("deferred 3"), "{}", show(&out));
    let status = env.status_json(912);
    assert_eq!(status["counts"]["deferred"], 3);
    assert!(
        status["top_failures"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("4.7.1"),
        "{status}"
    );
    // A later run retries only the deferred ones.
    let out = env.send(&small_issue(), &server.url(), &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(stdout(&out).contains("sent 3,"), "{}", show(&out));
    assert_each_once(&server, 13);
}

#[tokio::test]
async fn permanent_5xx_fails_and_suppresses_only_those_recipients() {
    permanent_5xx(&[]).await;
}

/// The same refusals through a relay that does not offer PIPELINING: one command at a time.
#[tokio::test]
async fn permanent_5xx_reads_the_same_from_a_relay_without_pipelining() {
    permanent_5xx(&["--no-pipelining"]).await;
}

async fn permanent_5xx(relay_options: &[&str]) {
    require!("python3:aiosmtpd");
    let env = Env::new(TestDb::sqlite());
    let mut list = emails("reader", 35);
    for i in [3, 11, 19, 27, 31] {
        list.insert(i, format!("bad{i}@example.org"));
    }
    env.subscribe(&list);
    let server = Server::faulty(&[&["--reject", "bad"], relay_options].concat());
    let out = env.send(&small_issue(), &server.url(), &[]);
    assert_ok_with(&out, "sent 35, failed permanently 5");
    let counts = per_recipient(&server.messages());
    assert_eq!(counts.len(), 35);
    assert!(counts.keys().all(|r| r.starts_with("reader")));

    let store = env.store().await;
    for e in &list {
        let s = store
            .find_by_email(&EmailAddress::parse(e).unwrap())
            .await
            .unwrap()
            .unwrap();
        let want = if e.starts_with("bad") {
            SubscriberStatus::Bounced
        } else {
            SubscriberStatus::Active
        };
        assert_eq!(s.status, want, "{e}");
        if e.starts_with("bad") {
            let history = store.history(s.id).await.unwrap();
            let detail = history.last().unwrap().detail.clone().unwrap();
            assert!(detail.contains("5.1.1"), "{detail}");
        }
    }
    let status = env.status_json(912);
    assert_eq!(status["counts"]["failed"], 5);
    assert_eq!(status["top_failures"][0]["count"], 5);
}

#[tokio::test]
async fn a_relay_dropping_connections_after_data_loses_nothing() {
    require!("python3:aiosmtpd");
    let env = Env::new(TestDb::sqlite());
    let list = emails("reader", 60);
    env.subscribe(&list);
    // Every 7th message is stored, then the connection is cut before the reply: the sender cannot
    // know it arrived, so it is sent again. Those are the only duplicates allowed.
    let server = Server::faulty(&["--drop-every", "7"]);
    let out = env.send(&small_issue(), &server.url(), &[]);
    assert!(out.status.success(), "{}", show(&out));
    let messages = server.messages();
    let counts = per_recipient(&messages);
    assert_eq!(counts.len(), 60, "everyone delivered");
    let duplicates = messages.len() - 60;
    let dropped = messages.len() / 7;
    assert!(
        duplicates >= 1 && duplicates <= dropped,
        "{duplicates} duplicates, {dropped} dropped sessions"
    );
    assert_eq!(env.status_json(912)["counts"]["sent"], 60);
}

#[tokio::test]
async fn a_slow_relay_still_gets_everything_once() {
    require!("smtp-sink");
    let env = Env::new(TestDb::sqlite());
    env.subscribe(&emails("reader", 24));
    // smtp-sink waits 1 s before answering each DATA.
    let sink = Server::sink(&["-w", "1"]);
    let out = env.send(&small_issue(), &sink.url(), &["--concurrency", "8"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_each_once(&sink, 24);
}

#[tokio::test]
async fn bad_credentials_stop_the_campaign_before_anyone_is_touched() {
    require!("python3:aiosmtpd");
    let env = Env::new(TestDb::sqlite()).var("NEWSLETTER_SMTP_PASSWORD", "wrong");
    let list = emails("reader", 10);
    env.subscribe(&list);
    let server = Server::faulty(&["--auth", "newsletter:right"]);
    let url = format!("smtp://newsletter@127.0.0.1:{}", server.port);
    let out = env.send(&small_issue(), &url, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("authentication failed"), "{err}");
    assert!(!err.contains("wrong"), "the password leaked: {err}");
    assert!(server.messages().is_empty());
    let store = env.store().await;
    let c = store.campaign_by_number(912).await.unwrap().unwrap();
    assert_eq!(store.delivery_counts(c.id).await.unwrap().total(), 0);
    for (status, n) in store.stats().await.unwrap() {
        let want = if status == SubscriberStatus::Active {
            10
        } else {
            0
        };
        assert_eq!(n, want, "{status}");
    }
    // With the right password the same command sends.
    let env = env.var("NEWSLETTER_SMTP_PASSWORD", "right");
    let out = env.send(&small_issue(), &url, &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(per_recipient(&server.messages()).len(), 10);
}

#[tokio::test]
async fn a_relay_refusing_every_recipient_stops_without_bouncing_anyone() {
    require!("smtp-sink");
    // The fatal streak is the backstop behind the circuit breaker (which would pause this campaign
    // at its tenth refusal about us, tests/it/breaker.rs): with the breaker off, it still stops.
    let env = Env::new(TestDb::sqlite())
        .var("NEWSLETTER_SEND__FATAL_STREAK", "10")
        .var("NEWSLETTER_SEND__BREAKER__ENABLED", "false");
    env.subscribe(&emails("reader", 60));
    let refusing = Server::sink(&["-f", "mail", "-B", "550 5.7.1 Sender address rejected"]);
    let out = env.send(&small_issue(), &refusing.url(), &[]);
    assert_refused_with(&out, "refused permanently");
    let store = env.store().await;
    let c = store.campaign_by_number(912).await.unwrap().unwrap();
    let counts = store.delivery_counts(c.id).await.unwrap();
    assert_eq!(counts.failed, 0, "{counts:?}");
    for (status, n) in store.stats().await.unwrap() {
        let want = if status == SubscriberStatus::Active {
            60
        } else {
            0
        };
        assert_eq!(n, want, "{status}");
    }
    // Once the relay is fixed, the same command delivers to everyone (after the leases of the
    // stopped run's in-flight messages end).
    let good = Server::sink(&[]);
    let env = env.var("NEWSLETTER_SEND__LEASE_SECS", "1");
    let out = env.send(&small_issue(), &good.url(), &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert_each_once(&good, 60);
}

#[tokio::test]
async fn refuses_without_confirmation_or_with_check_errors_and_supports_dry_run_and_test_to() {
    require!("smtp-sink");
    let env = Env::new(TestDb::sqlite());
    env.subscribe(&emails("reader", 5));
    let sink = Server::sink(&[]);
    // No terminal and no --yes.
    let out = env.run(&[
        "send",
        small_issue().to_str().unwrap(),
        "--transport",
        &sink.url(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    // A draft with check errors.
    if let Some(draft) = common::seeds().first() {
        let out = env.send(draft, &sink.url(), &[]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("nothing was sent") && err.contains("--force"),
            "{err}"
        );
    }
    // Dry run: every message built, nothing sent or recorded.
    let out = env.send(&small_issue(), &sink.url(), &["--dry-run"]);
    assert_ok_with(&out, "5 message(s) built");
    // Test copy: one message, no campaign.
    let out = env.send(
        &small_issue(),
        &sink.url(),
        &["--test-to", "editor@example.org"],
    );
    assert!(out.status.success(), "{}", show(&out));
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].rcpt, "editor@example.org");
    assert!(messages[0].unsubscribe_token().starts_with("SAMPLE-token"));
    let status = env.run(&["status"]);
    assert_eq!(status.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&status.stderr).contains("no campaigns"));
}

#[tokio::test]
async fn ctrl_c_finishes_in_flight_messages_and_the_rerun_resumes_without_duplicates() {
    require!("smtp-sink");
    let env = Env::new(TestDb::sqlite());
    env.subscribe(&emails("reader", 40));
    let sink = Server::sink(&["-w", "1"]);
    let child = env
        .command(&[
            "send",
            small_issue().to_str().unwrap(),
            "--yes",
            "--concurrency",
            "4",
            "--transport",
            &sink.url(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("run the same command again"),
        "{}",
        show(&out)
    );
    let first = sink.messages().len();
    assert!((1..40).contains(&first), "{first} sent before Ctrl-C");
    let out = env.send(&small_issue(), &sink.url(), &["--concurrency", "8"]);
    assert!(out.status.success(), "{}", show(&out));
    let messages = sink.messages();
    assert_eq!(messages.len(), 40, "a graceful stop leaves no duplicates");
    assert_eq!(per_recipient(&messages).len(), 40);
}

#[tokio::test]
async fn one_click_unsubscribe_from_the_header_works_and_later_leavers_are_skipped() {
    require!("smtp-sink");
    let env = Env::new(TestDb::sqlite());
    let port = common::smtp::free_port();
    let base = format!("http://127.0.0.1:{port}/unsubscribe/");
    let env = env.var("NEWSLETTER_SITE__UNSUBSCRIBE_URL", &base);
    env.subscribe(&emails("reader", 5));
    let mut server = env
        .command(&["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.starts_with("listening"), "{line}");

    let sink = Server::sink(&[]);
    let out = env.send(&issue_576(), &sink.url(), &[]);
    assert!(out.status.success(), "{}", show(&out));
    let messages = sink.messages();
    let first = messages
        .iter()
        .find(|m| m.rcpt == "reader00000@example.org")
        .unwrap();
    // RFC 8058: POST "List-Unsubscribe=One-Click" to the URL in the header.
    let header = &first.headers["list-unsubscribe"];
    let url = header.split('>').next().unwrap().trim_start_matches('<');
    assert!(url.starts_with(&base), "{header}");
    assert_eq!(http_post(url, "List-Unsubscribe=One-Click"), 200);
    let store = env.store().await;
    let email = EmailAddress::parse("reader00000@example.org").unwrap();
    assert_eq!(
        store.find_by_email(&email).await.unwrap().unwrap().status,
        SubscriberStatus::Unsubscribed
    );

    // The next issue is queued; then reader 1 leaves before a worker delivers it.
    let out = env.send(&small_issue(), &sink.url(), &["--enqueue-only"]);
    assert_ok_with(&out, "queued for 4 recipient(s)");
    let second = messages
        .iter()
        .find(|m| m.rcpt == "reader00001@example.org")
        .unwrap();
    assert_eq!(
        http_post(
            &format!("{base}{}", second.unsubscribe_token()),
            "List-Unsubscribe=One-Click"
        ),
        200
    );
    let out = env.run(&["worker", "--once", "--transport", &sink.url()]);
    assert_ok_with(&out, "sent 3, failed permanently 0, deferred 0, skipped 1");
    let _ = server.kill();
    let _ = server.wait();
}

/// A form POST over a plain socket; returns the status code.
fn http_post(url: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    reply.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn kill_9_at_random_moments_loses_nothing_and_duplicates_only_what_was_in_flight() {
    require!("smtp-sink");
    // Short leases, so each resume takes over the killed run's deliveries quickly.
    let env = Env::new(TestDb::sqlite()).var("NEWSLETTER_SEND__LEASE_SECS", "2");
    let list = emails("reader", 10_000);
    env.subscribe(&list);
    let sink = Server::sink(&[]);
    // Killed 0.4 to 2.4 s into each of up to four runs.
    let (kills, in_flight_at_kills) = env.kill_sends(&sink.url(), 4, 400, 2000).await;
    assert!(kills >= 1, "the send finished before any kill");
    let out = env.send(&small_issue(), &sink.url(), &[]);
    assert!(out.status.success(), "{}", show(&out));

    let counts = per_recipient(&sink.messages());
    let duplicated = assert_delivered_once_but_in_flight(&list, &counts, &in_flight_at_kills);
    eprintln!(
        "{kills} kills; {} in flight at the kills; {} duplicates",
        in_flight_at_kills.len(),
        duplicated
    );
    assert!(counts.values().all(|&n| n <= 1 + kills));
    let status = env.status_json(912);
    assert_eq!(status["counts"]["sent"], 10_000);
    assert_eq!(status["state"], "done");
}

#[tokio::test]
async fn two_workers_on_postgres_share_one_campaign_without_duplicates_or_gaps() {
    require!("smtp-sink");
    let env = Env::new(TestDb::postgres());
    let list = emails("reader", 2000);
    env.subscribe(&list);
    let sink = Server::sink(&[]);
    let out = env.send(&small_issue(), &sink.url(), &["--enqueue-only"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(sink.messages().is_empty(), "enqueue-only sends nothing");
    let workers: Vec<_> = (0..2)
        .map(|_| {
            env.command(&[
                "worker",
                "--once",
                "--concurrency",
                "4",
                "--transport",
                &sink.url(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut sent_by = Vec::new();
    for w in workers {
        let out = w.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", show(&out));
        let line = stdout(&out);
        let n: u64 = line
            .split("sent ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no summary: {line}"));
        sent_by.push(n);
    }
    assert_eq!(sent_by.iter().sum::<u64>(), 2000, "{sent_by:?}");
    assert!(
        sent_by.iter().all(|&n| n > 0),
        "both workers took part: {sent_by:?}"
    );
    let counts = per_recipient(&sink.messages());
    assert_eq!(counts.len(), 2000, "no gaps");
    assert!(counts.values().all(|&n| n == 1), "no duplicates");
    assert_eq!(env.status_json(912)["state"], "done");
}

#[tokio::test]
async fn a_relay_that_is_down_fails_over_to_the_next() {
    require!("smtp-sink");
    let env = Env::new(TestDb::sqlite());
    env.subscribe(&emails("reader", 20));
    let sink = Server::sink(&[]);
    let dead = common::smtp::free_port(); // nothing listens there
    let relays = format!("smtp://127.0.0.1:{dead}?weight=5, {}", sink.url());
    let out = env.send(&small_issue(), &relays, &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert_each_once(&sink, 20);
}

#[tokio::test]
async fn dkim_signatures_verify_with_dkimpy() {
    require!("openssl", "smtp-sink", "python3:dkim");
    let env = Env::new(TestDb::sqlite());
    let (key, p) = common::dkim_key(env.dir.path(), "dkim");
    let env = env
        .var("NEWSLETTER_DKIM__ENABLED", "true")
        .var("NEWSLETTER_DKIM__DOMAIN", "this-week-in-rust.org")
        .var("NEWSLETTER_DKIM__SELECTOR", "nl2026")
        .var("NEWSLETTER_DKIM__KEY_FILE", key.to_str().unwrap());
    env.subscribe(&emails("reader", 3));
    let sink = Server::sink(&[]);
    let out = env.send(&issue_576(), &sink.url(), &[]);
    assert!(out.status.success(), "{}", show(&out));
    let messages = sink.messages();
    assert_eq!(messages.len(), 3);
    // dkimpy verifies each message with the public key served by a DNS stub; then a tampered copy
    // (List-Unsubscribe changed) must fail.
    let script = r#"
import dkim, sys
record = ("v=DKIM1; k=rsa; p=" + sys.argv[1]).encode()
def dns(name, timeout=5):
    assert name == b"nl2026._domainkey.this-week-in-rust.org.", name
    return record
for path in sys.argv[2:]:
    raw = open(path, "rb").read()
    # Drop the lines smtp-sink prepends before the message itself.
    raw = raw[raw.index(b"DKIM-Signature:"):]
    sig = dkim.DKIM(raw)
    ok = sig.verify(dnsfunc=dns)
    signed = [h[0].decode().lower() for h in sig.signed_headers] if ok else []
    for h in ["from", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe", "list-unsubscribe-post"]:
        assert h in signed, (h, signed)
    tampered = raw.replace(b"List-Unsubscribe: <https", b"List-Unsubscribe: <http")
    bad = dkim.verify(tampered, dnsfunc=dns)
    print(path.rsplit("/", 1)[-1], ok, bad, "c=relaxed/relaxed" in raw.decode("ascii", "replace"))
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script, &p]);
    for m in &messages {
        cmd.arg(&m.path);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 3, "{text}");
    for line in text.lines() {
        assert!(line.ends_with(" True False True"), "{text}");
    }
}

#[tokio::test]
async fn the_rate_limit_paces_messages_handed_to_smtp() {
    require!("smtp-sink");
    // 21 messages at 10/s with a burst of 1: the last one cannot leave before 2 s.
    let env = Env::new(TestDb::sqlite()).var("NEWSLETTER_SEND__BURST", "1");
    env.subscribe(&emails("reader", 21));
    let sink = Server::sink(&[]);
    let started = std::time::Instant::now();
    let out = env.send(&small_issue(), &sink.url(), &["--rate", "10"]);
    let elapsed = started.elapsed();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(per_recipient(&sink.messages()).len(), 21);
    assert!(
        elapsed >= Duration::from_millis(1900),
        "21 messages at 10/s took only {elapsed:?}"
    );
}

#[tokio::test]
async fn a_tls_failure_stops_before_anyone_is_touched() {
    require!("openssl", "python3:aiosmtpd");
    let env = Env::new(TestDb::sqlite());
    env.subscribe(&emails("reader", 5));
    // A STARTTLS server whose self-signed certificate no verifier trusts.
    let dir = env.dir.path();
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
        ])
        .arg(dir.join("tls.key"))
        .arg("-out")
        .arg(dir.join("tls.crt"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", show(&made));
    let port = common::smtp::free_port();
    let mailbox = tempfile::tempdir().unwrap();
    let mut server = Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "--tlscert",
        ])
        .arg(dir.join("tls.crt"))
        .arg("--tlskey")
        .arg(dir.join("tls.key"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(mailbox.path())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("smtp://localhost:{port}?tls=starttls");
    let out = env.send(&small_issue(), &url, &[]);
    let _ = server.kill();
    let _ = server.wait();
    assert_refused_with(&out, "TLS");
    let store = env.store().await;
    let c = store.campaign_by_number(912).await.unwrap().unwrap();
    assert_eq!(store.delivery_counts(c.id).await.unwrap().total(), 0);
}

/// The seed list: `--test-to` takes several addresses; `--seeds` mails the configured seeds alone;
/// a campaign mails its seeds first (test token, no delivery rows) and only once, even when resumed;
/// and a seed that refuses stops the send before any subscriber is touched.
#[tokio::test]
async fn seeds_see_the_issue_first_and_only_once() {
    require!("smtp-sink", "python3:aiosmtpd");
    let env = Env::new(TestDb::sqlite()).var(
        "NEWSLETTER_SEND__SEED_LIST",
        "seed-gmail@example.org, seed-outlook@example.net",
    );
    env.subscribe(&emails("reader", 6));
    let sink = Server::sink(&[]);

    let out = env.send(
        &small_issue(),
        &sink.url(),
        &[
            "--test-to",
            "a@example.org,b@example.org",
            "--test-to",
            "c@example.org",
        ],
    );
    assert_ok_with(&out, "sent 3 test copy(ies)");
    let out = env.send(&small_issue(), &sink.url(), &["--seeds"]);
    assert_ok_with(&out, "sent 2 test copy(ies)");
    let got = sink.messages();
    let mut rcpts: Vec<&str> = got.iter().map(|m| m.rcpt.as_str()).collect();
    rcpts.sort();
    assert_eq!(
        rcpts,
        [
            "a@example.org",
            "b@example.org",
            "c@example.org",
            "seed-gmail@example.org",
            "seed-outlook@example.net"
        ]
    );
    assert!(
        got.iter()
            .all(|m| m.unsubscribe_token().starts_with("SAMPLE-token"))
    );
    assert_eq!(
        env.run(&["status"]).status.code(),
        Some(1),
        "no campaign yet"
    );

    // A campaign: the two seeds, then the six subscribers, each once.
    let sink = Server::sink(&[]);
    let out = env.send(&small_issue(), &sink.url(), &[]);
    assert_ok_with(&out, "sent 6");
    assert!(
        show(&out).contains("sent issue 912 to 2 seed inbox(es) first"),
        "{}",
        show(&out)
    );
    let got = sink.messages();
    assert_eq!(got.len(), 8);
    let seeds: Vec<_> = got.iter().filter(|m| m.rcpt.starts_with("seed-")).collect();
    assert_eq!(seeds.len(), 2);
    assert!(
        seeds
            .iter()
            .all(|m| m.unsubscribe_token().starts_with("SAMPLE-token"))
    );
    let status = env.status_json(912);
    assert_eq!(status["total"], 6, "seeds are not deliveries");
    // Sending again finds the issue done and mails nobody, seeds included.
    let out = env.send(&small_issue(), &sink.url(), &[]);
    assert_ok_with(&out, "already sent");
    assert_eq!(sink.messages().len(), 8);

    // A seed that refuses stops a new campaign before its snapshot.
    let env = Env::new(TestDb::sqlite()).var("NEWSLETTER_SEND__SEED_LIST", "bad-seed@example.org");
    env.subscribe(&emails("reader", 3));
    let server = Server::faulty(&["--reject", "bad"]);
    let out = env.send(&small_issue(), &server.url(), &[]);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        show(&out).contains("bad-seed@example.org"),
        "{}",
        show(&out)
    );
    assert!(
        show(&out).contains("no subscriber was touched"),
        "{}",
        show(&out)
    );
    assert!(server.messages().is_empty());
    assert_eq!(
        env.run(&["status"]).status.code(),
        Some(1),
        "no campaign was created"
    );
}

/// `newsletter campaigns` lists every campaign, newest issue first, with its state and counts.
#[tokio::test]
async fn campaigns_lists_every_campaign_with_its_state_and_counts() {
    require!("smtp-sink");
    let env = Env::new(TestDb::sqlite());
    // Before anything was sent from here there is no database, and `campaigns` creates none.
    assert_refused_with(&env.run(&["campaigns"]), "creates none");
    env.subscribe(&emails("reader", 5));
    assert_ok_with(&env.run(&["campaigns"]), "no campaigns yet");
    let sink = Server::sink(&[]);
    assert_ok_with(&env.send(&small_issue(), &sink.url(), &[]), "sent 5");
    // A second issue, only queued.
    let next = env.dir.path().join("next.md");
    let text = std::fs::read_to_string(small_issue()).unwrap();
    std::fs::write(
        &next,
        text.replace("Number: 912", "Number: 913")
            .replace(" 912", " 913"),
    )
    .unwrap();
    assert_ok_with(
        &env.send(&next, &sink.url(), &["--enqueue-only"]),
        "queued for 5",
    );

    let out = env.run(&["campaigns"]);
    assert!(out.status.success(), "{}", show(&out));
    let text = stdout(&out);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(
        rows[0][..8],
        ["913", "sending", "5", "0", "0", "0", "0", "5"],
        "{text}"
    );
    assert_eq!(
        rows[1][..8],
        ["912", "done", "5", "5", "0", "0", "0", "0"],
        "{text}"
    );

    let out = env.run(&["campaigns", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["issue_number"], 913);
    assert_eq!(v[0]["state"], "sending");
    assert_eq!(v[0]["counts"]["queued"], 5);
    assert_eq!(v[1]["state"], "done");
    assert_eq!(v[1]["counts"]["sent"], 5);
}
