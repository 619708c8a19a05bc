//! `newsletter send --transport ses://REGION?endpoint=…` against Amazon SES's API as `moto_server`
//! (PyPI `moto[server]` 5.2.5) emulates it: every subscriber once, counted by the emulator, with
//! SES's message id kept beside each delivery; a re-run sends nothing; an unverified sender stops
//! the campaign before anyone is marked; and `kill -9` mid-send duplicates only what was in flight.

use crate::common;
use common::env::assert_delivered_once_but_in_flight;
use common::{Env, emails, show, small_issue};

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::db::TestDb;

both_backends!(every_subscriber_once_counted_by_the_emulator_and_a_rerun_sends_nothing);

/// The From domain of the test issues (config/default.toml's `mail.from`).
const FROM_DOMAIN: &str = "this-week-in-rust.org";

/// A running `moto_server`, killed when the guard goes.
struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts one on a free port; `None` (the test skips) when it is not installed.
    fn start() -> Option<Moto> {
        let bin = common::require("moto_server")?;
        let port = common::smtp::free_port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen");
            assert!(
                moto.child.try_wait().unwrap().is_none(),
                "moto_server exited"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn transport(&self) -> String {
        format!("ses://us-east-1?endpoint=http://{}", self.addr())
    }

    /// Verifies a domain identity through the emulator's SES (v1 query API) in us-east-1. The
    /// emulator checks no signature, but reads the region and service from the credential scope.
    fn verify_domain(&self, domain: &str) {
        let reply = common::web::http_with(
            &self.addr(),
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ses/aws4_request, \
                     SignedHeaders=host, Signature=0",
                ),
            ],
            &format!("Action=VerifyDomainIdentity&Version=2010-12-01&Domain={domain}"),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    /// What the emulator accepted: (SES message id, recipient) per message.
    fn sent(&self) -> Vec<(String, String)> {
        let reply = common::web::http(&self.addr(), "GET", "/moto-api/data.json", None, "");
        assert_eq!(reply.status, 200);
        let data: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        data["ses"]["RawMessage"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|m| {
                        (
                            m["id"].as_str().unwrap().to_string(),
                            // The envelope's ToAddresses come first (then the To header's).
                            m["destinations"][0].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A work folder whose binary has (test) AWS credentials.
fn ses_env(db: TestDb) -> Env {
    Env::new(db)
        .var("AWS_ACCESS_KEY_ID", "test")
        .var("AWS_SECRET_ACCESS_KEY", "test")
}

async fn every_subscriber_once_counted_by_the_emulator_and_a_rerun_sends_nothing(db: TestDb) {
    let Some(moto) = Moto::start() else { return };
    moto.verify_domain(FROM_DOMAIN);
    let env = ses_env(db);
    let list = emails("reader", 300);
    env.subscribe(&list);
    let out = env.send(&small_issue(), &moto.transport(), &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(show(&out).contains("sent 300"), "{}", show(&out));
    let sent = moto.sent();
    let counts = common::emulator::per_recipient(&sent);
    assert_eq!(counts.len(), 300, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    assert!(list.iter().all(|e| counts.contains_key(e)));
    // SES's id for each message is kept beside its delivery.
    let ids = env.provider_ids().await;
    assert_eq!(ids.len(), 300);
    let by_emulator: HashMap<&str, &str> = sent
        .iter()
        .map(|(id, to)| (to.as_str(), id.as_str()))
        .collect();
    for (email, id) in &ids {
        assert_eq!(id.as_deref(), Some(by_emulator[email.as_str()]), "{email}");
    }
    // The re-run has nothing to do, and the emulator gets nothing more.
    let again = env.send(&small_issue(), &moto.transport(), &[]);
    assert!(again.status.success(), "{}", show(&again));
    assert!(show(&again).contains("nothing to do"), "{}", show(&again));
    assert_eq!(moto.sent().len(), 300);
    let status = env.status_json(912);
    assert_eq!(status["counts"]["sent"], 300);
    assert_eq!(status["state"], "done");
}

#[tokio::test]
async fn an_unverified_sender_stops_the_campaign_before_anyone_is_marked() {
    let Some(moto) = Moto::start() else { return };
    let env = ses_env(TestDb::sqlite());
    let list = emails("reader", 50);
    env.subscribe(&list);
    let out = env.send(&small_issue(), &moto.transport(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SES refused the sender") && err.contains("MessageRejected"),
        "{err}"
    );
    assert!(err.contains("verify the From address"), "{err}");
    assert!(moto.sent().is_empty());
    let status = env.status_json(912);
    for state in ["sent", "failed", "deferred", "skipped"] {
        assert_eq!(status["counts"][state], 0, "{state}: {status}");
    }
    let store = newsletter::store::Store::connect(&env.db.url())
        .await
        .unwrap();
    for (s, n) in store.stats().await.unwrap() {
        let want = if s == newsletter::domain::SubscriberStatus::Active {
            50
        } else {
            0
        };
        assert_eq!(n, want, "{s}");
    }
    // Once the domain is verified, the same command sends to everyone once.
    moto.verify_domain(FROM_DOMAIN);
    let out = env.send(&small_issue(), &moto.transport(), &[]);
    assert!(out.status.success(), "{}", show(&out));
    let counts = common::emulator::per_recipient(&moto.sent());
    assert_eq!(counts.len(), 50);
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
}

#[test]
fn missing_credentials_are_named_before_anything_is_sent() {
    let err = Env::new(TestDb::sqlite()).send_without(
        "ses://us-east-1?endpoint=http://127.0.0.1:9",
        &[
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ],
    );
    assert!(
        err.contains("AWS_ACCESS_KEY_ID") && err.contains("AWS_SECRET_ACCESS_KEY"),
        "{err}"
    );
}

#[tokio::test]
async fn kill_9_mid_send_duplicates_only_what_was_in_flight() {
    let Some(moto) = Moto::start() else { return };
    moto.verify_domain(FROM_DOMAIN);
    // Short leases, so each resume takes over the killed run's deliveries quickly.
    let env = ses_env(TestDb::sqlite()).var("NEWSLETTER_SEND__LEASE_SECS", "2");
    let list = emails("reader", 2_000);
    env.subscribe(&list);
    // Killed 0.4 to 1.6 s into each of up to three runs.
    let (kills, in_flight_at_kills) = env.kill_sends(&moto.transport(), 3, 400, 1200).await;
    assert!(kills >= 1, "the send finished before any kill");
    let out = env.send(&small_issue(), &moto.transport(), &[]);
    assert!(out.status.success(), "{}", show(&out));

    let counts = common::emulator::per_recipient(&moto.sent());
    let duplicated = assert_delivered_once_but_in_flight(&list, &counts, &in_flight_at_kills);
    eprintln!(
        "{kills} kills; {} in flight at the kills; {} duplicates; the emulator counted {}",
        in_flight_at_kills.len(),
        duplicated,
        counts.values().sum::<usize>()
    );
    assert!(counts.values().sum::<usize>() <= 2_000 + in_flight_at_kills.len());
    let status = env.status_json(912);
    assert_eq!(status["counts"]["sent"], 2_000);
    assert_eq!(status["state"], "done");
}

/// What the scripted SES endpoint saw: per recipient, the answers it gave (200, 429, 500, 400).
type Seen = std::sync::Arc<std::sync::Mutex<HashMap<String, Vec<u16>>>>;

/// A stand-in for SES's SendEmail on a loopback port, over keep-alive HTTP/1.1, answering as SES
/// documents: requests `throttle` (numbered from 0) get 429 `TooManyRequestsException`, the first request
/// for `flaky` a 500, and every request for `suppressed` a 400 `MessageRejected` about the
/// suppression list; everything else 200 with a `MessageId`. It checks each request is signed.
fn scripted_ses(throttle: std::ops::Range<usize>, flaky: &str, suppressed: &str) -> (u16, Seen) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Default::default();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (flaky, suppressed) = (flaky.to_string(), suppressed.to_string());
    let state = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let (seen, count, flaky, suppressed, throttle) = (
                state.clone(),
                count.clone(),
                flaky.clone(),
                suppressed.clone(),
                throttle.clone(),
            );
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut out = stream;
                loop {
                    let mut head = Vec::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push(line.trim_end().to_string());
                    }
                    let header = |name: &str| {
                        head.iter().find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                        })
                    };
                    let length: usize = header("content-length").map_or(0, |v| v.parse().unwrap());
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let auth = header("authorization").unwrap_or_default();
                    assert!(
                        auth.starts_with("AWS4-HMAC-SHA256 Credential=test/")
                            && auth.contains("/us-east-1/ses/aws4_request, SignedHeaders=")
                            && auth.contains("host;x-amz-date, Signature="),
                        "{auth}"
                    );
                    let (status, kind, answer) = if head[0] == "GET /v2/email/account HTTP/1.1" {
                        // GetAccount, as the SES v2 API reference shows it.
                        (
                            200,
                            "",
                            r#"{"SendingEnabled":true,"ProductionAccessEnabled":true,"EnforcementStatus":"HEALTHY","SendQuota":{"Max24HourSend":50000.0,"MaxSendRate":14.0,"SentLast24Hours":0.0}}"#.to_string(),
                        )
                    } else {
                        assert_eq!(head[0], "POST /v2/email/outbound-emails HTTP/1.1");
                        assert!(
                            auth.contains("SignedHeaders=content-type;host;x-amz-date"),
                            "{auth}"
                        );
                        let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        let to = request["Destination"]["ToAddresses"][0]
                            .as_str()
                            .unwrap()
                            .to_string();
                        assert_eq!(
                            request["FromEmailAddress"], "newsletter@this-week-in-rust.org",
                            "{request}"
                        );
                        let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let mut seen = seen.lock().unwrap();
                        let earlier = seen.entry(to.clone()).or_default();
                        let answer = if throttle.contains(&n) {
                            (
                                429,
                                "TooManyRequestsException",
                                r#"{"message":"Too Many Requests"}"#.to_string(),
                            )
                        } else if to == flaky && !earlier.contains(&500) {
                            (
                                500,
                                "InternalFailure",
                                r#"{"message":"An internal error occurred"}"#.to_string(),
                            )
                        } else if to == suppressed {
                            (
                                400,
                                "MessageRejected",
                                r#"{"message":"Address is on the account-level suppression list"}"#
                                    .to_string(),
                            )
                        } else {
                            (200, "", format!(r#"{{"MessageId":"scripted-{n}"}}"#))
                        };
                        earlier.push(answer.0);
                        answer
                    };
                    let mut reply = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
                        answer.len()
                    );
                    if !kind.is_empty() {
                        reply.push_str(&format!("x-amzn-ErrorType: {kind}:http://internal.amazon.com/coral/com.amazonaws.sesv2/\r\n"));
                    }
                    reply.push_str("\r\n");
                    reply.push_str(&answer);
                    if out.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn throttling_slows_down_a_500_is_retried_and_a_suppressed_address_fails_alone() {
    let env = ses_env(TestDb::sqlite());
    let mut list = emails("reader", 120);
    list.push("flaky@example.org".into());
    list.push("suppressed@example.org".into());
    env.subscribe(&list);
    // Throttled after a first burst was accepted: the lane slows down from the pace it had.
    let (port, seen) = scripted_ses(30..36, "flaky@example.org", "suppressed@example.org");
    let out = env.send(
        &small_issue(),
        &format!("ses://us-east-1?endpoint=http://127.0.0.1:{port}"),
        &[],
    );
    assert!(out.status.success(), "{}", show(&out));
    assert!(show(&out).contains("asked to slow down"), "{}", show(&out));
    let seen = seen.lock().unwrap().clone();
    // Everyone but the suppressed address accepted exactly once.
    for e in &list {
        let accepted = seen[e].iter().filter(|&&s| s == 200).count();
        let want = usize::from(e != "suppressed@example.org");
        assert_eq!(accepted, want, "{e}: {:?}", seen[e]);
    }
    let flaky: Vec<u16> = seen["flaky@example.org"]
        .iter()
        .copied()
        .filter(|&s| s != 429)
        .collect();
    assert_eq!(flaky, [500, 200]);
    let throttled: usize = seen.values().flatten().filter(|&&s| s == 429).count();
    assert_eq!(throttled, 6);
    let status = env.status_json(912);
    assert_eq!(status["counts"]["sent"], 121, "{status}");
    assert_eq!(status["counts"]["failed"], 1, "{status}");
    let ids = env.provider_ids().await;
    assert!(
        ids.values()
            .all(|id| id.as_deref().is_some_and(|i| i.starts_with("scripted-"))),
        "{ids:?}"
    );
    // The refusal is logged as a bounce of that address, and nobody else's.
    let out = env.run(&["bounces", "list"]);
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("suppressed@example.org"), "{text}");
    assert!(!text.contains("reader0"), "{text}");
}

/// `doctor` with an SES transport it cannot reach names the transport and says what to check in
/// SES's terms (region, the AWS key and its permissions), not an SMTP relay's.
#[test]
fn doctor_explains_an_unreachable_ses_in_its_own_terms() {
    let env = ses_env(TestDb::sqlite());
    let closed = common::smtp::free_port();
    let out = env.run(&[
        "doctor",
        "--transport",
        &format!("ses://us-east-1?endpoint=http://127.0.0.1:{closed}"),
    ]);
    assert!(!out.status.success(), "{}", show(&out));
    let text = show(&out);
    let relay = text
        .lines()
        .skip_while(|l| !l.contains("relay") || !l.contains("ses://us-east-1"))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(relay.contains("ERROR"), "{text}");
    assert!(
        relay.contains("AWS_ACCESS_KEY_ID") && relay.contains("ses:SendEmail"),
        "{relay}"
    );
    assert!(!relay.contains("TLS mode"), "{relay}");
}

/// `doctor` says whether SES will take the From address: an unverified domain is an error that
/// says what to verify; once the domain is verified, the same check passes.
#[test]
fn doctor_reports_whether_the_sending_identity_is_verified() {
    let Some(moto) = Moto::start() else { return };
    let env = ses_env(TestDb::sqlite());
    let sender = |text: &str| -> String {
        let mut lines = text
            .lines()
            .skip_while(|l| !l.contains("relay") || !l.contains(" sender newsletter@"));
        let mut out: Vec<&str> = lines.next().into_iter().collect();
        out.extend(lines.take_while(|l| l.starts_with(' ')));
        out.join("\n")
    };
    let out = env.run(&["doctor", "--transport", &moto.transport()]);
    let text = show(&out);
    let line = sender(&text);
    assert!(line.contains("ERROR"), "{text}");
    assert!(
        line.contains("newsletter@this-week-in-rust.org")
            && line.contains(&format!("verify the domain {FROM_DOMAIN}")),
        "{line}"
    );
    moto.verify_domain(FROM_DOMAIN);
    let out = env.run(&["doctor", "--transport", &moto.transport()]);
    let text = show(&out);
    let line = sender(&text);
    assert!(
        line.starts_with("ok") && line.contains(&format!("identity {FROM_DOMAIN} is verified")),
        "{text}"
    );
}
