//! Shaping per mailbox provider, against a real SMTP server (aiosmtpd, `tests/support/fault_smtp.py`)
//! that accepts one domain at a fixed rate and answers it with providers' throttling replies beyond.
//! `scripts/bench-throttle.sh` measures the same at 10,000 messages.

use std::collections::HashMap;

use crate::common::db::TestDb;
use crate::common::smtp::{Server, per_recipient};
use crate::common::{Env, emails, show, small_issue, stdout};

/// Per domain: accepted and throttled RCPTs with their times, from the server's `--stats` file.
#[derive(Default, Debug)]
struct Seen {
    accepted: Vec<f64>,
    throttled: usize,
}

fn read_stats(path: &std::path::Path) -> HashMap<String, Seen> {
    let mut out: HashMap<String, Seen> = HashMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let mut w = line.split_whitespace();
        let (what, domain, at) = (w.next().unwrap(), w.next().unwrap(), w.next().unwrap());
        let seen = out.entry(domain.to_string()).or_default();
        match what {
            "accept" => seen.accepted.push(at.parse().unwrap()),
            _ => seen.throttled += 1,
        }
    }
    out
}

#[tokio::test]
async fn a_throttling_provider_slows_down_alone_and_everyone_gets_one_copy() {
    require!("python3:aiosmtpd");
    let env = Env::new(TestDb::sqlite());
    let config = env.dir.path().join("providers.toml");
    std::fs::write(
        &config,
        "[send.providers.slowmail]\ndomains = [\"slow.test\"]\nconnections = 4\n",
    )
    .unwrap();
    let env = env.var("NEWSLETTER_CONFIG", config.to_str().unwrap());
    let mut list = Vec::new();
    for (domain, n) in [
        ("fast-a.test", 300),
        ("fast-b.test", 300),
        ("slow.test", 250),
    ] {
        list.extend((0..n).map(|i| format!("reader{i:04}@{domain}")));
    }
    env.subscribe(&list);
    let stats = env.dir.path().join("stats");
    let server = Server::faulty(&[
        "--throttle",
        "slow.test:25",
        "--stats",
        stats.to_str().unwrap(),
    ]);
    let out = env.send(&small_issue(), &server.url(), &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        stdout(&out).contains("asked to slow down"),
        "{}",
        stdout(&out)
    );

    // Exactly once each.
    let counts = per_recipient(&server.messages());
    assert_eq!(counts.len(), list.len());
    assert!(counts.values().all(|&n| n == 1), "duplicates");

    let seen = read_stats(&stats);
    let start = seen
        .values()
        .flat_map(|s| s.accepted.iter().copied())
        .fold(f64::MAX, f64::min);
    let finish = |d: &str| seen[d].accepted.iter().copied().fold(0.0, f64::max) - start;
    let slow = finish("slow.test");
    let fast = finish("fast-a.test").max(finish("fast-b.test"));
    eprintln!(
        "healthy finished after {fast:.2} s, slow after {slow:.2} s, {} throttled replies for 250 slow messages",
        seen["slow.test"].throttled
    );
    // 250 at 25/s take at least 9 s; the healthy ones do not wait for them:
    // they are done while most of the slow ones are still to go (a slow
    // machine stretches the healthy time, never the slow pace, so the bound
    // is on the share of slow mail out when the healthy mail is done).
    assert!(slow > 8.0, "the slow domain was paced: {slow}");
    let slow_done_by_then = seen["slow.test"]
        .accepted
        .iter()
        .filter(|&&t| t - start <= fast)
        .count();
    assert!(
        fast < slow / 2.0 && slow_done_by_then < 250 * 6 / 10,
        "healthy {fast} s vs slow {slow} s; {slow_done_by_then} of 250 slow out by then"
    );
    assert_eq!(
        seen["fast-a.test"].throttled + seen["fast-b.test"].throttled,
        0
    );
    assert!(
        seen["slow.test"].throttled < 25,
        "throttled attempts under 10%: {}",
        seen["slow.test"].throttled
    );
    assert!(seen["slow.test"].throttled > 0, "the server did throttle");

    // `status` shows each provider with its counts and pace.
    let status = env.status_json(912);
    let providers = status["providers"].as_array().unwrap();
    let by_name = |n: &str| {
        providers
            .iter()
            .find(|p| p["provider"] == n)
            .unwrap_or_else(|| panic!("{n} in {status}"))
    };
    let slowmail = by_name("slowmail");
    assert_eq!(slowmail["counts"]["sent"], 250);
    assert!(slowmail["throttled"].as_i64().unwrap() > 0, "{slowmail}");
    assert!(slowmail["rate"].as_f64().is_some(), "{slowmail}");
    let other = by_name("other");
    assert_eq!(other["counts"]["sent"], 600);
    assert_eq!(other["throttled"], 0);
    assert!(other["rate"].is_null(), "full speed: {other}");
    let human = stdout(&env.run(&["status", "912"]));
    assert!(
        human.contains("slowmail") && human.contains("no limit") && !human.contains("full speed"),
        "{human}"
    );
}

#[tokio::test]
async fn recipients_are_counted_under_their_provider() {
    let env = Env::new(TestDb::postgres());
    env.subscribe(&[
        "a@gmail.com".to_string(),
        "b@googlemail.com".to_string(),
        "c@yahoo.co.uk".to_string(),
        "d@outlook.de".to_string(),
        "e@hotmail.com".to_string(),
        "f@example.org".to_string(),
        "g@live.example.org".to_string(),
    ]);
    let out = env.send(&small_issue(), "file:outbox", &[]);
    assert!(out.status.success(), "{}", show(&out));
    let status = env.status_json(912);
    let sent: HashMap<String, i64> = status["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["provider"].as_str().unwrap().to_string(),
                p["counts"]["sent"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sent["google"], 2, "{status}");
    assert_eq!(sent["yahoo"], 1);
    assert_eq!(sent["microsoft"], 2);
    assert_eq!(sent["other"], 2, "a lookalike is not Microsoft: {status}");
}

#[tokio::test]
async fn the_warm_up_caps_each_day_and_the_next_day_goes_on() {
    let env = Env::new(TestDb::sqlite());
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::UTC)
        .date();
    let config = env.dir.path().join("warmup.toml");
    let write = |start: jiff::civil::Date| {
        std::fs::write(
            &config,
            format!(
                "[send.warmup]\nenabled = true\nstart = \"{start}\"\nfirst_day = 10\ngrowth = 2.0\n"
            ),
        )
        .unwrap();
    };
    write(today);
    let env = env.var("NEWSLETTER_CONFIG", config.to_str().unwrap());
    env.subscribe(&emails("reader", 35));
    let outbox = env.dir.path().join("outbox");
    let transport = format!("file:{}", outbox.display());
    let sent = || std::fs::read_dir(&outbox).map_or(0, |d| d.count());

    // Day one: 10, then the cap.
    let out = env.send(&small_issue(), &transport, &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        show(&out).contains("warm-up's cap for today"),
        "{}",
        show(&out)
    );
    assert_eq!(sent(), 10);
    let status = env.status_json(912);
    assert_eq!(status["state"], "sending");
    assert_eq!(status["counts"]["queued"], 25);
    let human = stdout(&env.run(&["status", "912"]));
    assert!(
        human.contains("Waiting for the warm-up: today's cap is reached"),
        "status says why the send stands still: {human}"
    );
    // Again the same day: nothing more.
    let out = env.run(&["worker", "--once", "--transport", &transport]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(sent(), 10);

    // The next day of the warm-up allows 20 (10 of them already sent today here).
    write(today.yesterday().unwrap());
    let out = env.run(&["worker", "--once", "--transport", &transport]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(sent(), 20);
    // A warm-up long past its start no longer limits.
    write(today.checked_sub(jiff::Span::new().days(30)).unwrap());
    let out = env.run(&["worker", "--once", "--transport", &transport]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(sent(), 35);
    let status = env.status_json(912);
    assert_eq!(status["state"], "done");
    assert_eq!(status["counts"]["sent"], 35, "each once: {status}");
}
