//! Complaint control, as an operator meets it: a campaign still going out (held by the warm-up's
//! daily cap) pauses itself once the readers who marked it as spam at one mailbox provider reach
//! `[send.complaints]`'s limit; `status` shows each provider's rate and why it paused; the next
//! day's `worker` sends nothing more until `resume`.

use crate::common;
use common::db::TestDb;
use common::{Env, show, small_issue, stdout};

use newsletter::domain::{EmailAddress, Verp};

const BOUNCE_DOMAIN: &str = "bounces.this-week-in-rust.org";

both_backends!(a_campaign_pauses_itself_when_complaints_at_one_provider_reach_the_limit);

/// An RFC 5965 feedback report about `email`'s copy of issue 912, sent to its VERP address.
fn complaint(verp: &Verp, campaign: i64, sub: i64, email: &str) -> Vec<u8> {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/bounces/arf-complaint.eml"),
    )
    .unwrap();
    template
        .replace("{{VERP}}", &verp.address(campaign, sub))
        .replace("{{EMAIL}}", email)
        .replace("{{MSGID}}", &verp.message_id("issue-912", sub))
        .replace('\n', "\r\n")
        .into_bytes()
}

async fn a_campaign_pauses_itself_when_complaints_at_one_provider_reach_the_limit(db: TestDb) {
    let env = Env::new(db);
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::UTC)
        .date();
    let config = env.dir.path().join("warmup.toml");
    let write = |start: jiff::civil::Date| {
        std::fs::write(
            &config,
            format!(
                "[send.warmup]\nenabled = true\nstart = \"{start}\"\nfirst_day = 1100\ngrowth = 2.0\n"
            ),
        )
        .unwrap();
    };
    write(today);
    let env = env.var("NEWSLETTER_CONFIG", config.to_str().unwrap());
    // 1,150 readers at Gmail and 30 elsewhere: the day's cap leaves some of them for tomorrow.
    let mut readers: Vec<String> = (0..1150)
        .map(|i| format!("reader{i:04}@gmail.com"))
        .collect();
    readers.extend((0..30).map(|i| format!("other{i:02}@example.org")));
    env.subscribe(&readers);
    let outbox = env.dir.path().join("outbox");
    let transport = format!("file:{}", outbox.display());
    let sent = || std::fs::read_dir(&outbox).map_or(0, |d| d.count());
    let out = env.send(&small_issue(), &transport, &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(sent(), 1100);

    let store = env.store().await;
    let campaign = store.campaign_by_number(912).await.unwrap().unwrap().id;
    let verp = Verp::new(&store.verp_key().await.unwrap(), BOUNCE_DOMAIN);
    // Which Gmail readers got it today (the snapshot's order is not the list's).
    let providers = store.provider_counts(campaign).await.unwrap();
    let google = providers.iter().find(|p| p.provider == "google").unwrap();
    let delivered_at_google = google.counts.sent;
    assert!(delivered_at_google >= 1070, "{providers:?}");
    let mut complainers = Vec::new();
    for i in 0..1150 {
        let email = format!("reader{i:04}@gmail.com");
        let s = store
            .find_by_email(&EmailAddress::parse(&email).unwrap())
            .await
            .unwrap()
            .unwrap();
        let delivered = store
            .find_delivery(Some(campaign), None, s.id)
            .await
            .unwrap()
            .is_some();
        if delivered && complainers.len() < 4 {
            complainers.push((s.id, email));
        }
    }
    store.close().await;
    let complain = |k: usize| {
        let (id, email) = &complainers[k];
        let out = env
            .command(&["bounces", "process", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(&complaint(&verp, campaign, *id, email))
                    .unwrap();
                child.wait_with_output().unwrap()
            })
            .unwrap();
        assert!(out.status.success(), "{}", show(&out));
        out
    };

    // Under the limit (3 of ≥ 1,070 is under 0.3%): counted and shown, the campaign goes on.
    for k in 0..3 {
        complain(k);
    }
    let status = env.status_json(912);
    assert_eq!(status["state"], "sending", "{status}");
    let google = status["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "google")
        .unwrap()
        .clone();
    assert_eq!(google["complaints"], 3, "{status}");
    assert!(status["complaint_limit"]["over"].is_null(), "{status}");

    // The fourth passes 0.3% once the count is at least 1,000 there: it pauses, and says why.
    assert!(4.0 / delivered_at_google as f64 >= 0.003);
    let out = complain(3);
    assert!(
        stdout(&out).contains("a campaign paused itself: complaints at google: 4 of"),
        "{}",
        show(&out)
    );
    let status = env.status_json(912);
    assert_eq!(status["state"], "paused", "{status}");
    let reason = status["pause_reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "complaints at google: 4 of {delivered_at_google} readers"
        )),
        "{reason}"
    );
    assert!(!reason.contains("@"), "no address in the reason: {reason}");
    let human = stdout(&env.run(&["status", "912"]));
    assert!(
        human.contains(&format!("Paused itself: {reason}")),
        "{human}"
    );
    assert!(human.contains("complaints"), "{human}");
    // The complainers are suppressed for good, as every complaint does.
    let store = env.store().await;
    for (id, _) in &complainers {
        let s = store.find_by_id(*id).await.unwrap().unwrap();
        assert_eq!(s.status.as_str(), "complained");
    }
    store.close().await;

    // The next day's worker leaves a paused campaign alone…
    write(today.yesterday().unwrap());
    let out = env.run(&["worker", "--once", "--transport", &transport]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(sent(), 1100, "a paused campaign sends nothing");
    // …until an operator resumes it; a complaint already counted does not pause it again.
    let out = env.run(&["resume", "912"]);
    assert!(out.status.success(), "{}", show(&out));
    let out = env.run(&["worker", "--once", "--transport", &transport]);
    assert!(out.status.success(), "{}", show(&out));
    let status = env.status_json(912);
    assert_eq!(status["state"], "done", "{status}");
    assert_eq!(status["counts"]["sent"], 1180, "each once: {status}");
    assert_eq!(sent(), 1180);
}
