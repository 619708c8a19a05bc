//! Scheduling and control of a campaign: `send --at`, `worker` starting it on time, `pause`,
//! `resume` and `cancel` from another process, and a `kill -9` in between, on SQLite and PostgreSQL,
//! against Postfix's smtp-sink.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::db::TestDb;
use crate::common::env::assert_delivered_once_but_in_flight;
use crate::common::smtp::{Server, per_recipient};
use crate::common::{Env, assert_refused_with, emails, show, small_issue, stdout};

both_backends!(
    a_scheduled_campaign_waits_for_its_time_then_the_worker_sends_it,
    pause_resume_and_kill_9_send_everyone_once,
    a_cancelled_campaign_sends_nothing_more,
    pause_and_cancel_stop_at_once_at_a_low_rate,
    a_scheduled_campaign_keeps_its_transport_and_rate
);

/// `worker` for the test campaign, paced so that a control command lands mid-run.
fn worker(env: &Env, sink: &Server, rate: &str, once: bool) -> Child {
    worker_with(env, sink, &["--rate", rate], once)
}

fn worker_with(env: &Env, sink: &Server, flags: &[&str], once: bool) -> Child {
    let mut args = vec!["worker", "--poll-secs", "1"];
    args.extend_from_slice(flags);
    args.push("--transport");
    let url = sink.url();
    args.push(&url);
    if once {
        args.push("--once");
    }
    env.command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `sent` deliveries are recorded (or panics after 30 s).
fn wait_for_sent(env: &Env, at_least: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let s = env.status_json(912);
        if s["counts"]["sent"].as_i64().unwrap_or(0) >= at_least {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("fewer than {at_least} sent after 30 s");
}

/// The addresses of deliveries in flight (claimed, outcome not recorded).
async fn a_scheduled_campaign_waits_for_its_time_then_the_worker_sends_it(db: TestDb) {
    require!("smtp-sink");
    let env = Env::new(db);
    env.subscribe(&emails("reader", 30));
    let sink = Server::sink(&[]);
    // Far enough ahead that the checks before it finish first on a loaded machine.
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(8);
    let at_text = at.to_string();
    let out = env.send(&small_issue(), &sink.url(), &["--at", &at_text]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(stdout(&out).contains("scheduled for"), "{}", show(&out));
    let status = env.status_json(912);
    assert_eq!(status["state"], "scheduled");
    assert_eq!(status["scheduled_at"], at.as_second());
    assert_eq!(status["counts"]["queued"], 30, "snapshotted when scheduled");
    let list = stdout(&env.run(&["campaigns"]));
    assert!(list.contains("scheduled"), "{list}");

    // Before its time, a worker leaves it alone.
    let out = worker(&env, &sink, "0", true).wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        jiff::Timestamp::now() < at,
        "this machine took more than 8 s to get here; the check before the scheduled time proves nothing"
    );
    assert!(sink.messages().is_empty(), "nothing before its time");
    assert_eq!(env.status_json(912)["state"], "scheduled");

    // A waiting worker starts it when the time comes, not before.
    let mut w = worker(&env, &sink, "0", false);
    let deadline = Instant::now() + Duration::from_secs(30);
    while env.status_json(912)["state"] != "done" {
        assert!(Instant::now() < deadline, "not sent 20 s after its time");
        std::thread::sleep(Duration::from_millis(200));
    }
    w.kill().unwrap();
    w.wait().unwrap();
    let status = env.status_json(912);
    assert!(
        status["started_at"].as_i64().unwrap() >= at.as_second(),
        "{status}"
    );
    let counts = per_recipient(&sink.messages());
    assert_eq!(counts.len(), 30);
    assert!(counts.values().all(|&n| n == 1));

    // A local time in the configured zone is read in that zone.
    let env = Env::new(TestDb::sqlite()).var("NEWSLETTER_SEND__TIME_ZONE", "Europe/Berlin");
    env.subscribe(&emails("reader", 3));
    let out = env.send(&small_issue(), &sink.url(), &["--at", "2099-07-01 09:30"]);
    assert!(out.status.success(), "{}", show(&out));
    // 09:30 in Berlin's summer time is 07:30 UTC.
    assert_eq!(env.status_json(912)["scheduled_at"], 4_086_574_200_i64);
    let out = env.send(&small_issue(), &sink.url(), &["--at", "next wednesday"]);
    assert_refused_with(&out, "RFC 3339");
}

async fn pause_resume_and_kill_9_send_everyone_once(db: TestDb) {
    require!("smtp-sink");
    let env = Env::new(db).var("NEWSLETTER_SEND__LEASE_SECS", "2");
    let list = emails("reader", 1500);
    env.subscribe(&list);
    let sink = Server::sink(&[]);
    let out = env.send(&small_issue(), &sink.url(), &["--enqueue-only"]);
    assert!(out.status.success(), "{}", show(&out));

    // Pause mid-run: the worker stops claiming, records what was in flight, and leaves.
    let w = worker(&env, &sink, "300", true);
    wait_for_sent(&env, 100);
    let out = env.run(&["pause", "912"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(stdout(&out).contains("paused"), "{}", stdout(&out));
    let out = w.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let status = env.status_json(912);
    assert_eq!(status["state"], "paused");
    assert_eq!(
        status["counts"]["sending"], 0,
        "in-flight messages were recorded"
    );
    let sent_at_pause = status["counts"]["sent"].as_i64().unwrap();
    assert!(sent_at_pause < 1500, "paused before the end: {status}");
    assert_eq!(
        sink.messages().len() as i64,
        sent_at_pause,
        "recorded = delivered"
    );
    // Nothing goes while paused, whoever runs.
    let out = env.send(&small_issue(), &sink.url(), &[]);
    assert_refused_with(&out, "newsletter resume 912");
    let out = worker(&env, &sink, "0", true).wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(sink.messages().len() as i64, sent_at_pause);
    assert_refused_with(&env.run(&["pause", "912"]), "only a campaign that is");

    // Resume, then kill -9 the worker mid-run, pause and resume again.
    assert!(env.run(&["resume", "912"]).status.success());
    assert_eq!(env.status_json(912)["state"], "sending");
    let mut w = worker(&env, &sink, "300", true);
    wait_for_sent(&env, sent_at_pause + 100);
    w.kill().unwrap(); // SIGKILL
    w.wait().unwrap();
    let killed_in_flight = env.in_flight().await;
    assert!(env.run(&["pause", "912"]).status.success());
    assert!(env.run(&["resume", "912"]).status.success());
    let out = worker(&env, &sink, "0", true).wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));

    let counts = per_recipient(&sink.messages());
    assert_delivered_once_but_in_flight(&list, &counts, &killed_in_flight);
    assert!(counts.values().all(|&n| n <= 2));
    let status = env.status_json(912);
    assert_eq!(status["state"], "done");
    assert_eq!(status["counts"]["sent"], 1500);
    assert_refused_with(&env.run(&["cancel", "912"]), "is done");
}

async fn a_cancelled_campaign_sends_nothing_more(db: TestDb) {
    require!("smtp-sink");
    let env = Env::new(db);
    env.subscribe(&emails("reader", 1000));
    let sink = Server::sink(&[]);
    assert!(
        env.send(&small_issue(), &sink.url(), &["--enqueue-only"])
            .status
            .success()
    );
    let w = worker(&env, &sink, "200", true);
    wait_for_sent(&env, 50);
    let out = env.run(&["cancel", "912"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        stdout(&out).contains("will not be sent"),
        "{}",
        stdout(&out)
    );
    let out = w.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let status = env.status_json(912);
    assert_eq!(status["state"], "cancelled");
    assert_eq!(status["counts"]["sending"], 0);
    let sent = status["counts"]["sent"].as_i64().unwrap();
    assert!(sent < 1000, "{status}");
    assert_eq!(sink.messages().len() as i64, sent);
    assert_refused_with(&env.send(&small_issue(), &sink.url(), &[]), "cancelled");
    assert_refused_with(
        &env.run(&["resume", "912"]),
        "only a campaign that is paused",
    );
    let out = worker(&env, &sink, "0", true).wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        sink.messages().len() as i64,
        sent,
        "nothing after the cancel"
    );
    let list = stdout(&env.run(&["campaigns"]));
    assert!(list.contains("cancelled"), "{list}");
    assert_refused_with(&env.run(&["pause", "7"]), "no campaign");
}

/// The number in "N sent" of a control command's answer.
fn sent_in(answer: &str) -> usize {
    let at = answer
        .find(" sent")
        .unwrap_or_else(|| panic!("no count in {answer:?}"));
    answer[..at]
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {answer:?}"))
}

/// Stop means stop: at 30 messages/s over 4 connections, `pause` and `cancel` return with final
/// counts, and no message reaches the relay after they return (at most the 4 inside an SMTP
/// transaction may finish, and those are recorded before the command answers).
async fn pause_and_cancel_stop_at_once_at_a_low_rate(db: TestDb) {
    require!("smtp-sink");
    let env = Env::new(db);
    env.subscribe(&emails("reader", 600));
    let sink = Server::sink(&[]);
    let out = env.send(&small_issue(), &sink.url(), &["--enqueue-only"]);
    assert!(out.status.success(), "{}", show(&out));
    let flags = ["--rate", "30", "--concurrency", "4"];

    let w = worker_with(&env, &sink, &flags, true);
    wait_for_sent(&env, 30);
    let out = env.run(&["pause", "912"]);
    let at_return = sink.messages().len();
    assert!(out.status.success(), "{}", show(&out));
    let answer = stdout(&out);
    let out = w.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let after = sink.messages().len();
    assert!(
        after - at_return <= 4,
        "{} message(s) reached the relay after `pause` returned ({answer})",
        after - at_return
    );
    eprintln!("pause: {} after it returned; {answer}", after - at_return);
    assert_eq!(sent_in(&answer), after, "pause's count is final: {answer}");
    let status = env.status_json(912);
    assert_eq!(status["counts"]["sent"].as_u64().unwrap() as usize, after);
    assert_eq!(status["counts"]["sending"], 0, "nothing left claimed");

    assert!(env.run(&["resume", "912"]).status.success());
    let w = worker_with(&env, &sink, &flags, true);
    wait_for_sent(&env, after as i64 + 30);
    let out = env.run(&["cancel", "912"]);
    let at_return = sink.messages().len();
    assert!(out.status.success(), "{}", show(&out));
    let answer = stdout(&out);
    let out = w.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let last = sink.messages().len();
    assert!(
        last - at_return <= 4,
        "{} message(s) reached the relay after `cancel` returned ({answer})",
        last - at_return
    );
    eprintln!("cancel: {} after it returned; {answer}", last - at_return);
    assert_eq!(sent_in(&answer), last, "cancel's count is final: {answer}");
    assert!(last < 600, "cancelled before the end");
    let counts = per_recipient(&sink.messages());
    assert!(counts.values().all(|&n| n == 1), "each reader at most once");
}

/// `send --at … --transport smtp://relay --rate R` followed by a plain `worker`: the campaign goes
/// over the relay it was scheduled for, at its rate, and nothing lands in the default `outbox/`.
/// Times in the past and sends to nobody are refused; an idle `worker --once` says so.
async fn a_scheduled_campaign_keeps_its_transport_and_rate(db: TestDb) {
    require!("smtp-sink");
    let env = Env::new(db);
    let out = env.run(&["worker", "--once"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing to send"),
        "{}",
        show(&out)
    );
    let sink = Server::sink(&[]);
    let out = env.send(
        &small_issue(),
        &sink.url(),
        &["--at", "2030-01-01T09:00:00Z"],
    );
    assert_refused_with(&out, "no active subscriber");
    env.subscribe(&emails("reader", 20));
    let out = env.send(
        &small_issue(),
        &sink.url(),
        &["--at", "2020-01-01T09:00:00Z"],
    );
    assert_refused_with(&out, "in the past");
    assert_eq!(
        stdout(&env.run(&["campaigns"])).trim(),
        "no campaigns yet",
        "a refused schedule leaves nothing behind"
    );

    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3);
    let at_text = at.to_string();
    let out = env.send(
        &small_issue(),
        &sink.url(),
        &["--at", &at_text, "--rate", "50"],
    );
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        stdout(&out).contains("by SMTP via 127.0.0.1"),
        "{}",
        stdout(&out)
    );
    while jiff::Timestamp::now() <= at {
        std::thread::sleep(Duration::from_millis(200));
    }
    // A plain worker: no --transport, no --rate.
    let out = env.run(&["worker", "--once"]);
    assert!(out.status.success(), "{}", show(&out));
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        said.contains("sending issue 912 by SMTP via 127.0.0.1"),
        "{said}"
    );
    let counts = per_recipient(&sink.messages());
    assert_eq!(counts.len(), 20, "every reader over the relay: {said}");
    assert!(counts.values().all(|&n| n == 1));
    let outbox = env.dir.path().join("outbox");
    let in_outbox = std::fs::read_dir(&outbox).map(|d| d.count()).unwrap_or(0);
    assert_eq!(in_outbox, 0, "nothing in outbox/: {said}");
    assert_eq!(env.status_json(912)["state"], "done");
}

/// The terminal's words agree with what happened: read-only commands create no database, `status`
/// takes the issue file too, a cancelled campaign's rest "will not be sent" (never "queued"), a
/// rate limit is not "full speed", and a schedule is echoed in the configured time zone.
#[tokio::test]
async fn the_terminal_says_what_happened() {
    require!("smtp-sink");
    let env = Env::new(TestDb::sqlite()).var("NEWSLETTER_SEND__TIME_ZONE", "Europe/Berlin");
    let empty = tempfile::tempdir().unwrap();
    for args in [&["status"][..], &["campaigns"][..], &["status", "912"][..]] {
        let out = crate::common::run(empty.path(), "sqlite://newsletter.db", args, None);
        assert_eq!(out.status.code(), Some(1), "{}", show(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("creates none"),
            "{}",
            show(&out)
        );
        assert!(
            !empty.path().join("newsletter.db").exists(),
            "`{}` created a database",
            args.join(" ")
        );
    }

    env.subscribe(&emails("reader", 40));
    let sink = Server::sink(&[]);
    let out = env.send(&small_issue(), &sink.url(), &["--at", "2099-07-01 09:30"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        stdout(&out).contains("09:30 Europe/Berlin (07:30 UTC)"),
        "the schedule in the operator's zone: {}",
        stdout(&out)
    );
    let out = env.run(&["status", small_issue().to_str().unwrap()]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(stdout(&out).starts_with("Issue 912:"), "{}", stdout(&out));
    assert_refused_with(
        &env.run(&["status", "next-week"]),
        "neither an issue number nor an issue file",
    );
    assert!(env.run(&["cancel", "912"]).status.success());
    let said = stdout(&env.run(&["status", "912"]));
    assert!(said.contains("40 will not be sent (cancelled)"), "{said}");
    assert!(!said.contains("queued"), "{said}");

    let env = Env::new(TestDb::sqlite());
    env.subscribe(&emails("reader", 10));
    let out = env.send(&small_issue(), &sink.url(), &["--rate", "200"]);
    assert!(out.status.success(), "{}", show(&out));
    let said = stdout(&env.run(&["status", "912"]));
    assert!(said.contains("(limit 200/s)"), "{said}");
    assert!(said.contains("the campaign's limit"), "{said}");
    assert!(!said.contains("full speed"), "{said}");
}
