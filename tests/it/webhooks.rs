//! The providers' event webhooks of `newsletter serve`, spoken to over a real socket as Amazon SNS,
//! Postmark and Mailgun speak: signed with a test key (an RSA certificate made by `openssl` and
//! served by a loopback stand-in for SNS's certificate host; Postmark's basic-auth credentials;
//! Mailgun's HMAC signing key). Signed events become bounce records tied to their delivery by the
//! provider's message id, once however often they are posted; every class of forgery is refused
//! and changes nothing; and the same SES bounce or complaint gives the same record by mail and by
//! webhook.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;

use crate::common;
use common::db::TestDb;
use common::web::{Reply, Server, http_with};
use common::{Env, show, small_issue};

both_backends!(signed_events_become_records_once_and_forgeries_change_nothing);

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:newsletter-events";
const PM_USER: &str = "postmark-hook";
const PM_PASSWORD: &str = "correct horse battery";
const MG_KEY: &str = "key-test-mailgun-signing";

/// A stand-in for SNS's certificate host and subscription links, on loopback.
struct SnsHost {
    origin: String,
    confirmations: Arc<AtomicUsize>,
}

impl SnsHost {
    fn start(certificate: Vec<u8>) -> SnsHost {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let confirmations = Arc::new(AtomicUsize::new(0));
        let counted = confirmations.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split(' ').nth(1).unwrap_or("");
                let (status, body): (&str, Vec<u8>) = if path == "/cert.pem" {
                    ("200 OK", certificate.clone())
                } else if path.starts_with("/confirm") {
                    counted.fetch_add(1, Ordering::SeqCst);
                    ("200 OK", b"<ConfirmSubscriptionResponse/>".to_vec())
                } else {
                    ("404 Not Found", Vec::new())
                };
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                );
                let _ = stream.write_all(&body);
            }
        });
        SnsHost {
            origin,
            confirmations,
        }
    }
}

/// An RSA key and a self-signed certificate for it, made by `openssl`.
fn signing_key(dir: &Path) -> Option<(PathBuf, Vec<u8>)> {
    let openssl = common::require("openssl")?;
    let key = dir.join("sns-key.pem");
    let cert = dir.join("sns-cert.pem");
    let out = std::process::Command::new(openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=sns.eu-west-1.amazonaws.com", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((key, std::fs::read(cert).unwrap()))
}

/// Signs `text` with `key` by `openssl dgst` (SHA-1 for SignatureVersion 1, SHA-256 for 2).
fn rsa_sign(key: &Path, text: &str, version: &str) -> String {
    let digest = if version == "1" { "-sha1" } else { "-sha256" };
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(["dgst", digest, "-sign"]).arg(key);
    let out = common::output(&mut cmd, Some(text.as_bytes()));
    assert!(out.status.success(), "{}", show(&out));
    base64::engine::general_purpose::STANDARD.encode(out.stdout)
}

/// An SNS message with every field it signs; `sign` turns it into the posted JSON.
#[derive(Clone)]
struct Sns {
    kind: &'static str,
    id: String,
    topic: String,
    message: String,
    timestamp: String,
    cert_url: String,
    subscribe_url: String,
    version: &'static str,
}

impl Sns {
    fn notification(host: &SnsHost, id: &str, message: &serde_json::Value) -> Sns {
        Sns {
            kind: "Notification",
            id: id.into(),
            topic: TOPIC.into(),
            message: message.to_string(),
            timestamp: jiff::Timestamp::now().to_string(),
            cert_url: format!("{}/cert.pem", host.origin),
            subscribe_url: String::new(),
            version: "1",
        }
    }

    fn string_to_sign(&self) -> String {
        let mut s = format!("Message\n{}\nMessageId\n{}\n", self.message, self.id);
        if self.kind != "Notification" {
            s += &format!("SubscribeURL\n{}\n", self.subscribe_url);
        }
        s += &format!("Timestamp\n{}\n", self.timestamp);
        if self.kind != "Notification" {
            s += "Token\ntok-1\n";
        }
        s + &format!("TopicArn\n{}\nType\n{}\n", self.topic, self.kind)
    }

    fn sign(&self, key: &Path) -> String {
        let signature = rsa_sign(key, &self.string_to_sign(), self.version);
        self.with_signature(&signature)
    }

    fn with_signature(&self, signature: &str) -> String {
        let mut v = serde_json::json!({
            "Type": self.kind, "MessageId": self.id, "TopicArn": self.topic,
            "Message": self.message, "Timestamp": self.timestamp,
            "SignatureVersion": self.version, "Signature": signature,
            "SigningCertURL": self.cert_url,
        });
        if self.kind != "Notification" {
            v["SubscribeURL"] = self.subscribe_url.clone().into();
            v["Token"] = "tok-1".into();
        }
        v.to_string()
    }
}

/// An SES bounce notification about `email`'s message `message_id`.
fn ses_bounce(email: &str, message_id: &str) -> serde_json::Value {
    serde_json::json!({
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": email, "action": "failed", "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 <".to_string() + email + ">: Recipient address rejected: User unknown"}],
            "timestamp": "2026-12-07T10:00:00.000Z", "feedbackId": "0102-feedback"},
        "mail": {"timestamp": "2026-12-07T09:59:58.000Z", "messageId": message_id,
            "source": "newsletter@this-week-in-rust.org", "destination": [email]}
    })
}

/// An SES complaint notification about `email`'s message `message_id`.
fn ses_complaint(email: &str, message_id: &str) -> serde_json::Value {
    serde_json::json!({
        "notificationType": "Complaint",
        "complaint": {"complainedRecipients": [{"emailAddress": email}],
            "complaintFeedbackType": "abuse", "timestamp": "2026-12-07T10:00:00.000Z"},
        "mail": {"messageId": message_id, "source": "newsletter@this-week-in-rust.org",
            "destination": [email]}
    })
}

fn mailgun_sign(timestamp: &str, token: &str, key: &str) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
    ring::hmac::sign(&k, format!("{timestamp}{token}").as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn mailgun_body(timestamp: &str, token: &str, signature: &str, data: &serde_json::Value) -> String {
    serde_json::json!({
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": data,
    })
    .to_string()
}

fn post(server: &Server, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    http_with(&server.addr, "POST", path, &all, body)
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// `bounces list --format json`'s entries.
fn bounce_log(env: &Env) -> Vec<serde_json::Value> {
    let out = env.run(&["bounces", "list", "--format", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .cloned()
        .or_else(|| v.get("bounces").and_then(|b| b.as_array()).cloned())
        .unwrap_or_else(|| panic!("bounces list JSON: {v}"))
}

/// Runs SQL on the test database.
async fn sql(env: &Env, statement: &'static str) {
    match &env.db {
        TestDb::Sqlite(..) => {
            let pool = sqlx::SqlitePool::connect(&env.db.url()).await.unwrap();
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        TestDb::Postgres(_) => {
            let pool = sqlx::PgPool::connect(&env.db.url()).await.unwrap();
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
    }
}

/// `serve` on a free port with the three webhooks configured; its log goes to `log`.
fn serve(env: &Env, host: &SnsHost, log: &Path) -> Server {
    let config = env.dir.path().join("webhooks.toml");
    std::fs::write(
        &config,
        format!(
            "[webhooks.ses]\ntopics = [\"{TOPIC}\"]\ncertificate_origin = \"{}\"\n",
            host.origin
        ),
    )
    .unwrap();
    let outbox = tempfile::tempdir().unwrap();
    let mut cmd = env.command(&["serve", "--bind", "127.0.0.1:0"]);
    cmd.env("NEWSLETTER_CONFIG", &config)
        .env("NEWSLETTER_POSTMARK_WEBHOOK_USER", PM_USER)
        .env("NEWSLETTER_POSTMARK_WEBHOOK_PASSWORD", PM_PASSWORD)
        .env("NEWSLETTER_MAILGUN_SIGNING_KEY", MG_KEY)
        .env(
            "NEWSLETTER_TRANSPORT__URL",
            format!("file:{}", outbox.path().display()),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap());
    Server::start(cmd, outbox)
}

async fn signed_events_become_records_once_and_forgeries_change_nothing(db: TestDb) {
    let env = Env::new(db);
    let Some((key, certificate)) = signing_key(env.dir.path()) else {
        return;
    };
    let host = SnsHost::start(certificate);
    let readers: Vec<String> = (1..=6).map(|i| format!("reader{i}@example.net")).collect();
    env.subscribe(&readers);
    let outbox = env.dir.path().join("outbox");
    let out = env.send(&small_issue(), &format!("file:{}", outbox.display()), &[]);
    assert!(out.status.success(), "{}", show(&out));
    // As an API transport keeps them: the id the provider answered each message with.
    sql(
        &env,
        "UPDATE deliveries SET provider_message_id = 'pm-' || REPLACE(email, '@example.net', '')",
    )
    .await;
    let log = env.dir.path().join("serve.log");
    let server = serve(&env, &host, &log);

    // Reachable, and says which webhooks are configured.
    for provider in ["ses", "postmark", "mailgun"] {
        let r = http_with(
            &server.addr,
            "GET",
            &format!("/webhooks/{provider}"),
            &[],
            "",
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.headers("x-newsletter-webhook"), ["configured"]);
    }

    // SNS asks to confirm the subscription: confirmed for our topic only.
    let mut confirm = Sns {
        kind: "SubscriptionConfirmation",
        id: "sub-1".into(),
        topic: TOPIC.into(),
        message: "You have chosen to subscribe to the topic.".into(),
        timestamp: jiff::Timestamp::now().to_string(),
        cert_url: format!("{}/cert.pem", host.origin),
        subscribe_url: format!("{}/confirm?Token=tok-1", host.origin),
        version: "2",
    };
    let r = post(&server, "/webhooks/ses", &[], &confirm.sign(&key));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(host.confirmations.load(Ordering::SeqCst), 1);
    confirm.topic = "arn:aws:sns:eu-west-1:999999999999:someone-else".into();
    let r = post(&server, "/webhooks/ses", &[], &confirm.sign(&key));
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(host.confirmations.load(Ordering::SeqCst), 1);

    // Signed events, each posted twice (providers retry): one record each.
    let bounce = Sns::notification(
        &host,
        "sns-1",
        &ses_bounce("reader1@example.net", "pm-reader1"),
    );
    let complaint = Sns::notification(
        &host,
        "sns-2",
        &ses_complaint("reader2@example.net", "pm-reader2"),
    );
    let pm_bounce = serde_json::json!({"RecordType": "Bounce", "ID": 4242, "Type": "HardBounce",
        "TypeCode": 1, "MessageID": "pm-reader3", "Email": "reader3@example.net",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "BouncedAt": "2026-12-07T10:00:00Z", "MessageStream": "broadcast"})
    .to_string();
    let now = jiff::Timestamp::now().as_second().to_string();
    let mg_data = serde_json::json!({"event": "complained", "id": "mg-ev-1",
        "timestamp": 1796637600.5, "recipient": "reader4@example.net",
        "message": {"headers": {"message-id": "pm-reader4"}}});
    let auth = basic(PM_USER, PM_PASSWORD);
    for round in 0..2 {
        let r = post(&server, "/webhooks/ses", &[], &bounce.sign(&key));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body.trim(),
            if round == 0 {
                "recorded"
            } else {
                "already received"
            }
        );
        let r = post(&server, "/webhooks/ses", &[], &complaint.sign(&key));
        assert_eq!(r.status, 200, "{}", r.body);
        let r = post(
            &server,
            "/webhooks/postmark",
            &[("Authorization", &auth)],
            &pm_bounce,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body.trim(),
            if round == 0 {
                "recorded"
            } else {
                "already received"
            }
        );
        // Mailgun signs each delivery afresh.
        let token = format!("token-round-{round}");
        let body = mailgun_body(&now, &token, &mailgun_sign(&now, &token, MG_KEY), &mg_data);
        let r = post(&server, "/webhooks/mailgun", &[], &body);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let records = bounce_log(&env);
    assert_eq!(records.len(), 4, "{records:#?}");
    let by = |email: &str| {
        records
            .iter()
            .find(|r| r["email"] == email)
            .unwrap_or_else(|| panic!("{email} in {records:#?}"))
            .clone()
    };
    let r1 = by("reader1@example.net");
    assert_eq!(r1["kind"], "hard", "{r1}");
    assert_eq!(r1["reason"], "user-unknown", "{r1}");
    assert_eq!(r1["source"], "provider", "{r1}");
    assert_eq!(r1["attribution"], "provider-message-id", "{r1}");
    assert_eq!(by("reader2@example.net")["kind"], "complaint");
    assert_eq!(by("reader3@example.net")["reason"], "user-unknown");
    assert_eq!(by("reader4@example.net")["kind"], "complaint");
    let list = env.run(&["subscribers", "list", "--format", "json"]);
    let subscribers: serde_json::Value =
        serde_json::from_slice(&list.stdout).unwrap_or_else(|_| panic!("{}", show(&list)));
    let status = |email: &str| {
        subscribers
            .as_array()
            .or_else(|| subscribers.get("subscribers").and_then(|s| s.as_array()))
            .unwrap()
            .iter()
            .find(|s| s["email"] == email)
            .map(|s| s["status"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_ne!(status("reader1@example.net"), "active");
    assert_ne!(status("reader3@example.net"), "active");
    assert_eq!(status("reader5@example.net"), "active");
    // `bounces inspect --webhook` explains a body as it would be read, and by what proof.
    let file = env.dir.path().join("postmark-event.json");
    std::fs::write(&file, &pm_bounce).unwrap();
    let out = env.run(&[
        "bounces",
        "inspect",
        "--webhook",
        "postmark",
        file.to_str().unwrap(),
    ]);
    let text = show(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("reader3@example.net  hard"), "{text}");
    assert!(text.contains("attributed by provider-message-id"), "{text}");
    assert!(
        text.contains("proof: the message id the provider gave a delivery of ours"),
        "{text}"
    );
    assert!(text.contains("signature is not checked"), "{text}");

    // Every forgery is refused and changes nothing.
    let fresh = |id: &str, who: &str| {
        Sns::notification(
            &host,
            id,
            &ses_bounce(&format!("{who}@example.net"), &format!("pm-{who}")),
        )
    };
    let mut forgeries: Vec<Forgery> = Vec::new();
    let unsigned: serde_json::Value =
        serde_json::from_str(&fresh("f1", "reader5").sign(&key)).unwrap();
    let mut unsigned = unsigned;
    unsigned.as_object_mut().unwrap().remove("Signature");
    forgeries.push((
        "ses unsigned",
        "/webhooks/ses",
        vec![],
        unsigned.to_string(),
        401,
    ));
    let wrong = fresh("f2", "reader5");
    forgeries.push((
        "ses signed by another key",
        "/webhooks/ses",
        vec![],
        wrong.with_signature(&rsa_sign(
            &common::dkim_key(env.dir.path(), "forger").0,
            &wrong.string_to_sign(),
            "1",
        )),
        403,
    ));
    let mut tampered = fresh("f3", "reader5");
    let signature = rsa_sign(&key, &tampered.string_to_sign(), "1");
    tampered.message = ses_bounce("reader6@example.net", "pm-reader6").to_string();
    forgeries.push((
        "ses tampered after signing",
        "/webhooks/ses",
        vec![],
        tampered.with_signature(&signature),
        403,
    ));
    let mut stale = fresh("f4", "reader5");
    stale.timestamp = "2026-01-01T00:00:00.000Z".into();
    forgeries.push(("ses stale", "/webhooks/ses", vec![], stale.sign(&key), 403));
    let mut foreign = fresh("f5", "reader5");
    foreign.cert_url = "https://certs.example.com/sns.eu-west-1.amazonaws.com/cert.pem".into();
    forgeries.push((
        "ses certificate elsewhere",
        "/webhooks/ses",
        vec![],
        foreign.sign(&key),
        403,
    ));
    let mut other_topic = fresh("f6", "reader5");
    other_topic.topic = "arn:aws:sns:eu-west-1:999999999999:newsletter-events".into();
    forgeries.push((
        "ses another topic",
        "/webhooks/ses",
        vec![],
        other_topic.sign(&key),
        403,
    ));
    let pm_other = pm_bounce
        .replace("4242", "4343")
        .replace("reader3", "reader5");
    forgeries.push((
        "postmark no credentials",
        "/webhooks/postmark",
        vec![],
        pm_other.clone(),
        401,
    ));
    forgeries.push((
        "postmark wrong password",
        "/webhooks/postmark",
        vec![("Authorization", basic(PM_USER, "guess"))],
        pm_other.clone(),
        403,
    ));
    let mg_other = serde_json::json!({"event": "failed", "id": "mg-ev-2", "severity": "permanent",
        "reason": "bounce", "recipient": "reader5@example.net",
        "delivery-status": {"code": 550, "message": "5.1.1 no such user"},
        "message": {"headers": {"message-id": "pm-reader5"}}});
    forgeries.push((
        "mailgun unsigned",
        "/webhooks/mailgun",
        vec![],
        serde_json::json!({"event-data": mg_other}).to_string(),
        401,
    ));
    forgeries.push((
        "mailgun wrong key",
        "/webhooks/mailgun",
        vec![],
        mailgun_body(
            &now,
            "t-a",
            &mailgun_sign(&now, "t-a", "key-guess"),
            &mg_other,
        ),
        403,
    ));
    let old = (jiff::Timestamp::now().as_second() - 3600).to_string();
    forgeries.push((
        "mailgun stale",
        "/webhooks/mailgun",
        vec![],
        mailgun_body(&old, "t-b", &mailgun_sign(&old, "t-b", MG_KEY), &mg_other),
        403,
    ));
    forgeries.push((
        "mailgun replayed token",
        "/webhooks/mailgun",
        vec![],
        mailgun_body(
            &now,
            "token-round-0",
            &mailgun_sign(&now, "token-round-0", MG_KEY),
            &mg_other,
        ),
        403,
    ));
    forgeries.push((
        "mailgun tampered",
        "/webhooks/mailgun",
        vec![],
        mailgun_body(&now, "t-c", &mailgun_sign(&now, "t-d", MG_KEY), &mg_other),
        403,
    ));
    forgeries.push((
        "not JSON",
        "/webhooks/ses",
        vec![],
        "{{{".repeat(10_000),
        400,
    ));
    for (what, path, headers, body, want) in &forgeries {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = post(&server, path, &headers, body);
        assert_eq!(r.status, *want, "{what}: {}", r.body);
    }
    assert_eq!(bounce_log(&env).len(), 4, "a forgery was recorded");
    // Signed, but about another address than the one the message went to: nobody changes.
    let elsewhere = Sns::notification(
        &host,
        "sns-9",
        &ses_bounce("someone-else@example.net", "pm-reader5"),
    );
    let r = post(&server, "/webhooks/ses", &[], &elsewhere.sign(&key));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("names no delivery of ours"), "{}", r.body);
    assert_eq!(
        bounce_log(&env).len(),
        4,
        "an event about someone else was recorded"
    );
    assert_eq!(status("reader5@example.net"), "active");
    assert_eq!(status("reader6@example.net"), "active");
    // One bounded line each in the log, and no secret in it.
    let text = std::fs::read_to_string(&log).unwrap();
    let refused: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("webhook refused"))
        .collect();
    assert_eq!(refused.len(), forgeries.len() + 1, "{text}");
    assert!(refused.iter().all(|l| l.len() < 400), "{refused:#?}");
    assert!(!text.contains(PM_PASSWORD) && !text.contains(MG_KEY) && !text.contains("guess"));

    // The same bounce and complaint by mail (SNS's email-json delivery) give the same record.
    for (who, json) in [
        ("reader5", ses_bounce("reader5@example.net", "pm-reader5")),
        (
            "reader6",
            ses_complaint("reader6@example.net", "pm-reader6"),
        ),
    ] {
        let mail = format!(
            "From: AWS Notifications <no-reply@sns.amazonaws.com>\r\nTo: bounces@this-week-in-rust.org\r\n\
             Subject: AWS Notification Message\r\nMessage-ID: <{who}@sns.amazonaws.com>\r\n\
             Content-Type: text/plain; charset=UTF-8\r\n\r\n{}\r\n",
            serde_json::json!({"Type": "Notification", "MessageId": format!("m-{who}"),
                "TopicArn": TOPIC, "Message": json.to_string()})
        );
        let out = common::output(
            &mut env.command(&["bounces", "process", "--stdin"]),
            Some(mail.as_bytes()),
        );
        assert!(out.status.success(), "{}", show(&out));
    }
    let records = bounce_log(&env);
    let same = |a: &serde_json::Value, b: &serde_json::Value| {
        for field in [
            "kind",
            "reason",
            "status",
            "source",
            "attribution",
            "campaign_id",
        ] {
            assert_eq!(a[field], b[field], "{field}: {a} / {b}");
        }
    };
    let by = |email: &str| {
        records
            .iter()
            .find(|r| r["email"] == email)
            .unwrap()
            .clone()
    };
    same(&by("reader1@example.net"), &by("reader5@example.net"));
    same(&by("reader2@example.net"), &by("reader6@example.net"));
    drop(server);
}

/// One forged request: what it is, where it goes, its headers and body, and the status it must get.
type Forgery = (
    &'static str,
    &'static str,
    Vec<(&'static str, String)>,
    String,
    u16,
);

/// `doctor` fetches each webhook in use at `[webhooks] public_url` and says, in its own terms,
/// whether `newsletter serve` answered there and is configured for it.
#[test]
fn doctor_checks_each_webhook_at_the_public_address() {
    let env = Env::new(TestDb::sqlite());
    let host = SnsHost::start(Vec::new());
    let log = env.dir.path().join("serve.log");
    // This serve has Postmark's and Mailgun's secrets; its SES topic list is the test config's.
    let server = serve(&env, &host, &log);
    let doctor = |public: &str, mailgun_here: bool| {
        let config = env.dir.path().join("doctor.toml");
        std::fs::write(
            &config,
            format!(
                "[webhooks]\npublic_url = \"{public}\"\n[webhooks.ses]\ntopics = [\"{TOPIC}\"]\n"
            ),
        )
        .unwrap();
        let mut cmd = env.command(&["doctor", "--format", "json", "--transport", "file:outbox"]);
        cmd.env("NEWSLETTER_CONFIG", &config)
            .env("NEWSLETTER_POSTMARK_WEBHOOK_USER", PM_USER);
        if mailgun_here {
            cmd.env("NEWSLETTER_MAILGUN_SIGNING_KEY", MG_KEY);
        }
        let out = cmd.output().unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", show(&out)));
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["area"] == "webhooks")
            .map(|f| {
                (
                    f["level"].as_str().unwrap().to_string(),
                    f["what"].as_str().unwrap().to_string(),
                    f["fix"].as_str().unwrap().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    // Reached and configured, but over plain http on this machine: said, as a warning.
    let found = doctor(&format!("http://{}", server.addr), true);
    assert_eq!(found.len(), 3, "{found:#?}");
    for (level, what, fix) in &found {
        assert_eq!(level, "warning", "{what}");
        assert!(
            what.contains("answered by newsletter serve, configured"),
            "{what}"
        );
        assert!(fix.contains("https://"), "{fix}");
    }
    // Something else answers there (a proxy that does not pass /webhooks/ on).
    let found = doctor(&host.origin, false);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found
            .iter()
            .all(|(l, w, _)| l == "error" && w.contains("something else")),
        "{found:#?}"
    );
    // Nobody listens there.
    let closed = common::smtp::free_port();
    let found = doctor(&format!("http://127.0.0.1:{closed}"), false);
    assert!(
        found
            .iter()
            .all(|(l, w, _)| l == "error" && w.contains("cannot connect")),
        "{found:#?}"
    );
    // HTTPS to a server that speaks plain HTTP: the TLS failure is named.
    let found = doctor(&format!("https://{}", server.addr), false);
    assert!(
        found
            .iter()
            .all(|(l, w, _)| l == "error" && w.contains("TLS")),
        "{found:#?}"
    );
    // Not HTTPS and not this machine: refused outright.
    let found = doctor("http://news.example.org", false);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].1.contains("not HTTPS"), "{found:#?}");
    // Empty: a warning that nothing was checked.
    let found = doctor("", false);
    assert_eq!(found[0].0, "warning");
    assert!(found[0].1.contains("public_url is empty"), "{found:#?}");
}

/// A serve without the secrets refuses every event, and says so on `GET`.
#[test]
fn an_unconfigured_webhook_refuses_everything() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let server = common::web::serve_logging(&db, &[], Some(&log));
    for provider in ["ses", "postmark", "mailgun"] {
        let r = http_with(
            &server.addr,
            "GET",
            &format!("/webhooks/{provider}"),
            &[],
            "",
        );
        assert_eq!(
            r.headers("x-newsletter-webhook"),
            ["not-configured"],
            "{provider}"
        );
    }
    let auth = basic(PM_USER, PM_PASSWORD);
    let r = post(
        &server,
        "/webhooks/postmark",
        &[("Authorization", &auth)],
        "{\"RecordType\":\"Bounce\"}",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let now = jiff::Timestamp::now().as_second().to_string();
    let body = mailgun_body(
        &now,
        "t",
        &mailgun_sign(&now, "t", MG_KEY),
        &serde_json::json!({"event": "complained", "id": "x"}),
    );
    assert_eq!(post(&server, "/webhooks/mailgun", &[], &body).status, 403);
    let r = post(&server, "/webhooks/ses", &[], &serde_json::json!({"Type": "Notification", "MessageId": "m",
        "TopicArn": TOPIC, "Message": "{}", "Timestamp": "2026-12-07T10:00:00Z", "SignatureVersion": "1",
        "Signature": "AAAA", "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/c.pem"}).to_string());
    assert_eq!(r.status, 403, "{}", r.body);
    // A flood of refusals is logged at most 20 lines a minute.
    for _ in 0..40 {
        assert_eq!(
            post(&server, "/webhooks/ses", &[], "{\"Type\":\"Notification\"}").status,
            401
        );
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let lines = text
        .lines()
        .filter(|l| l.contains("webhook refused"))
        .count();
    // 43 refused in all; 20 a minute (40 when the minute turned meanwhile).
    assert!((20..=40).contains(&lines), "{lines} lines: {text}");
    // Larger than 256 KiB: refused before it is read.
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(300 * 1024));
    assert_eq!(post(&server, "/webhooks/ses", &[], &big).status, 413);
}
