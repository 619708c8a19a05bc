//! Scheduling and control of a campaign: `send --at`, `worker` starting it on time, `pause`,
//! `resume` and `cancel` from another process, and a `kill -9` in between, on SQLite and PostgreSQL,
//! against Postfix's smtp-sink.

use std::collections::HashSet;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::db::TestDb;
use crate::common::smtp::Server;
use crate::send::{Env, assert_refused_with, emails, per_recipient, small_issue, stderr, stdout};

both_backends!(
    a_scheduled_campaign_waits_for_its_time_then_the_worker_sends_it,
    pause_resume_and_kill_9_send_everyone_once,
    a_cancelled_campaign_sends_nothing_more
);

/// `worker` for the test campaign, paced so that a control command lands mid-run.
fn worker(env: &Env, sink: &Server, rate: &str, once: bool) -> Child {
    let mut args = vec!["worker", "--poll-secs", "1", "--rate", rate, "--transport"];
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
async fn in_flight(db: &TestDb) -> HashSet<String> {
    let sql = "SELECT email FROM deliveries WHERE state = 'sending'";
    let rows: Vec<(String,)> = if db.url().starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
        sqlx::query_as(sql).fetch_all(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(&db.url()).await.unwrap();
        sqlx::query_as(sql).fetch_all(&pool).await.unwrap()
    };
    rows.into_iter().map(|(e,)| e).collect()
}

async fn a_scheduled_campaign_waits_for_its_time_then_the_worker_sends_it(db: TestDb) {
    let env = Env::new(db);
    env.subscribe(&emails("reader", 30));
    let sink = Server::sink(&[]);
    // Far enough ahead that the checks before it finish first on a loaded machine.
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(8);
    let at_text = at.to_string();
    let out = env.send(&small_issue(), &sink.url(), &["--at", &at_text]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("scheduled for"), "{}", stderr(&out));
    let status = env.status_json(912);
    assert_eq!(status["state"], "scheduled");
    assert_eq!(status["scheduled_at"], at.as_second());
    assert_eq!(status["counts"]["queued"], 30, "snapshotted when scheduled");
    let list = stdout(&env.run(&["campaigns"]));
    assert!(list.contains("scheduled"), "{list}");

    // Before its time, a worker leaves it alone.
    let out = worker(&env, &sink, "0", true).wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
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
    assert!(out.status.success(), "{}", stderr(&out));
    // 09:30 in Berlin's summer time is 07:30 UTC.
    assert_eq!(env.status_json(912)["scheduled_at"], 4_086_574_200_i64);
    let out = env.send(&small_issue(), &sink.url(), &["--at", "next wednesday"]);
    assert_refused_with(&out, "RFC 3339");
}

async fn pause_resume_and_kill_9_send_everyone_once(db: TestDb) {
    let env = Env::new(db).var("NEWSLETTER_SEND__LEASE_SECS", "2");
    let list = emails("reader", 1500);
    env.subscribe(&list);
    let sink = Server::sink(&[]);
    let out = env.send(&small_issue(), &sink.url(), &["--enqueue-only"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Pause mid-run: the worker stops claiming, records what was in flight, and leaves.
    let w = worker(&env, &sink, "300", true);
    wait_for_sent(&env, 100);
    let out = env.run(&["pause", "912"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("paused"), "{}", stdout(&out));
    let out = w.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
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
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sink.messages().len() as i64, sent_at_pause);
    assert_refused_with(&env.run(&["pause", "912"]), "only a campaign that is");

    // Resume, then kill -9 the worker mid-run, pause and resume again.
    assert!(env.run(&["resume", "912"]).status.success());
    assert_eq!(env.status_json(912)["state"], "sending");
    let mut w = worker(&env, &sink, "300", true);
    wait_for_sent(&env, sent_at_pause + 100);
    w.kill().unwrap(); // SIGKILL
    w.wait().unwrap();
    let killed_in_flight = in_flight(&env.db).await;
    assert!(env.run(&["pause", "912"]).status.success());
    assert!(env.run(&["resume", "912"]).status.success());
    let out = worker(&env, &sink, "0", true).wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let counts = per_recipient(&sink.messages());
    let missing: Vec<&String> = list.iter().filter(|e| !counts.contains_key(*e)).collect();
    assert!(
        missing.is_empty(),
        "{} missed: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let unexplained: Vec<&String> = counts
        .iter()
        .filter(|(e, n)| **n > 1 && !killed_in_flight.contains(*e))
        .map(|(e, _)| e)
        .collect();
    assert!(
        unexplained.is_empty(),
        "duplicates not in flight at the kill: {unexplained:?}"
    );
    assert!(counts.values().all(|&n| n <= 2));
    let status = env.status_json(912);
    assert_eq!(status["state"], "done");
    assert_eq!(status["counts"]["sent"], 1500);
    assert_refused_with(&env.run(&["cancel", "912"]), "is done");
}

async fn a_cancelled_campaign_sends_nothing_more(db: TestDb) {
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
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("will not be sent"),
        "{}",
        stdout(&out)
    );
    let out = w.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
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
