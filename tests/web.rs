//! `newsletter serve` over a real socket, on both backends: the unsubscribe page, RFC 8058
//! one-click POST (form-urlencoded and multipart), idempotence, GET never mutating, 404s.

#[macro_use]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use common::db::TestDb;
use newsletter::domain::{EmailAddress, SubscriberStatus};
use newsletter::store::{Source, Store};

const API_TOKEN: &str = "test-admin-token-0123456789";

struct Server {
    child: Child,
    addr: String,
    outbox: tempfile::TempDir,
}

impl Server {
    /// Waits until every sign-up the server queued has been processed (mail sent, or none needed).
    fn settle(&self) {
        let counter = |body: &str, name: &str| -> Option<u64> {
            body.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .and_then(|v| v.trim().parse().ok())
        };
        for _ in 0..500 {
            let m = http_with(
                &self.addr,
                "GET",
                "/metrics",
                &[("Authorization", &format!("Bearer {API_TOKEN}"))],
                "",
            );
            let q = counter(&m.body, "newsletter_signups_queued_total");
            if q.is_some() && q == counter(&m.body, "newsletter_signups_processed_total") {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the sign-up queue did not drain");
    }

    /// The messages in the file outbox, oldest first.
    fn mails(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(self.outbox.path())
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db: &TestDb) -> Server {
    serve_with(db, &[])
}

/// The real binary serving on a free port, with `env` on top of the test settings.
fn serve_with(db: &TestDb, env: &[(&str, &str)]) -> Server {
    let outbox = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_newsletter"));
    cmd.env(
        "NEWSLETTER_TRANSPORT__URL",
        format!("file:{}", outbox.path().display()),
    )
    .env("NEWSLETTER_SUBSCRIBE__PER_IP", "8");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .args([
            "--database-url",
            &db.url(),
            "serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .env("NEWSLETTER_SITE__NAME", "Weekly Crab")
        .env("NEWSLETTER_API_TOKEN", API_TOKEN)
        .env_remove("NEWSLETTER_CONFIG")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected: {line}"))
        .to_string();
    Server {
        child,
        addr,
        outbox,
    }
}

/// An RFC 8058 one-click POST, form-urlencoded, as mail providers send it.
fn one_click(addr: &str, token: &str) -> Reply {
    http(
        addr,
        "POST",
        &format!("/unsubscribe/{token}"),
        Some("application/x-www-form-urlencoded"),
        "List-Unsubscribe=One-Click",
    )
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

fn http(addr: &str, method: &str, path: &str, content_type: Option<&str>, body: &str) -> Reply {
    let headers: Vec<(&str, &str)> = content_type
        .map(|ct| ("Content-Type", ct))
        .into_iter()
        .collect();
    http_with(addr, method, path, &headers, body)
}

fn http_with(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap();
    Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

both_backends!(
    double_opt_in,
    admin_api_needs_the_token_and_works,
    one_click_unsubscribe,
    bad_tokens_get_a_generic_404,
    the_mailed_header_unsubscribes
);

async fn subscriber(store: &Store, addr: &str) -> String {
    let e = EmailAddress::parse(addr).unwrap();
    store
        .add(&e, None, SubscriberStatus::Active, Source::Cli)
        .await
        .unwrap();
    store
        .find_by_email(&e)
        .await
        .unwrap()
        .unwrap()
        .token
        .expose()
        .to_string()
}

async fn status(store: &Store, addr: &str) -> SubscriberStatus {
    store
        .find_by_email(&EmailAddress::parse(addr).unwrap())
        .await
        .unwrap()
        .unwrap()
        .status
}

async fn one_click_unsubscribe(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    let a = subscriber(&store, "a@example.org").await;
    let b = subscriber(&store, "b@example.org").await;
    let server = serve(&db);

    // GET shows a button and changes nothing, however often a scanner follows it.
    for _ in 0..3 {
        let r = http(&server.addr, "GET", &format!("/unsubscribe/{a}"), None, "");
        assert_eq!(r.status, 200);
        assert!(r.body.contains("<html lang=\"en\">") && r.body.contains("Weekly Crab"));
        assert!(
            r.body.contains("<form method=\"post\">")
                && r.body
                    .contains("<button type=\"submit\">Unsubscribe</button>")
        );
    }
    assert_eq!(
        status(&store, "a@example.org").await,
        SubscriberStatus::Active
    );

    // One-click, form-urlencoded: 200, no redirect, no cookie needed.
    let r = one_click(&server.addr, &a);
    assert_eq!(r.status, 200, "{}", r.head);
    assert!(
        !r.head.to_ascii_lowercase().contains("location:")
            && !r.head.to_ascii_lowercase().contains("set-cookie:")
    );
    assert!(r.body.contains("You are unsubscribed"));
    assert_eq!(
        status(&store, "a@example.org").await,
        SubscriberStatus::Unsubscribed
    );

    // Idempotent: again is 200 and records nothing new.
    let r = one_click(&server.addr, &a);
    assert_eq!(r.status, 200);
    let id = store
        .find_by_email(&EmailAddress::parse("a@example.org").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(
        store
            .history(id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.new_status == "unsubscribed")
            .count(),
        1
    );
    assert!(
        http(&server.addr, "GET", &format!("/unsubscribe/{a}"), None, "")
            .body
            .contains("already unsubscribed")
    );

    // One-click, multipart.
    let boundary = "----nl-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--{boundary}--\r\n"
    );
    let r = http(
        &server.addr,
        "POST",
        &format!("/unsubscribe/{b}"),
        Some(&format!("multipart/form-data; boundary={boundary}")),
        &body,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        status(&store, "b@example.org").await,
        SubscriberStatus::Unsubscribed
    );

    assert_eq!(http(&server.addr, "GET", "/health", None, "").status, 200);
}

async fn bad_tokens_get_a_generic_404(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    subscriber(&store, "c@example.org").await;
    let server = serve(&db);
    let unknown = "AAAAAAAAAAAAAAAAAAAAAAAA";
    let replies: Vec<Reply> = [
        ("GET", format!("/unsubscribe/{unknown}")),
        ("POST", format!("/unsubscribe/{unknown}")),
        ("GET", "/unsubscribe/not-a-token".to_string()),
        ("POST", "/unsubscribe/..%2F..%2Fetc".to_string()),
        ("GET", "/nowhere".to_string()),
    ]
    .iter()
    .map(|(m, p)| {
        http(
            &server.addr,
            m,
            p,
            Some("application/x-www-form-urlencoded"),
            "List-Unsubscribe=One-Click",
        )
    })
    .collect();
    for r in &replies {
        assert_eq!(r.status, 404, "{}", r.head);
        assert_eq!(r.body, replies[0].body, "every miss looks the same");
    }
    assert_eq!(
        status(&store, "c@example.org").await,
        SubscriberStatus::Active
    );
}

/// The loop from #2 to #4: the List-Unsubscribe header of a built message, POSTed, unsubscribes.
async fn the_mailed_header_unsubscribes(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    let token = subscriber(&store, "d@example.org").await;
    let server = serve(&db);
    let issue =
        newsletter::issue::Issue::load(&common::fixtures_dir().join("h1-among-h2.md")).unwrap();
    let config = newsletter::config::Config::defaults();
    let rendered = newsletter::render::render(
        &issue,
        &newsletter::render::Theme::from_config(&config).unwrap(),
    )
    .unwrap();
    let ids = newsletter::mail::Verp::new(b"k", &config.mail.bounce_domain);
    let factory = newsletter::mail::MessageFactory::new(&rendered, &config.mail, "issue-909", &ids);
    let url = format!("http://{}/unsubscribe/{token}", server.addr);
    let email = EmailAddress::parse("d@example.org").unwrap();
    let msg = factory.for_recipient(
        &newsletter::mail::MailRecipient {
            email: &email,
            subscriber_id: 1,
            unsubscribe_url: &url,
        },
        0,
    );
    let text = String::from_utf8(msg).unwrap();
    let header = text.split("\r\n\r\n").next().unwrap().replace("\r\n ", " ");
    let lu = header
        .lines()
        .find_map(|l| l.strip_prefix("List-Unsubscribe: "))
        .unwrap();
    assert!(header.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    let target = lu
        .split(['<', '>'])
        .find(|p| p.starts_with("http"))
        .unwrap();
    let path = target.split_once(&server.addr).unwrap().1;
    let r = http(
        &server.addr,
        "POST",
        path,
        Some("application/x-www-form-urlencoded"),
        "List-Unsubscribe=One-Click",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        status(&store, "d@example.org").await,
        SubscriberStatus::Unsubscribed
    );
}

async fn admin_api_needs_the_token_and_works(db: TestDb) {
    let server = serve(&db);
    let auth = format!("Bearer {API_TOKEN}");
    let api = |method: &str, path: &str, body: &str| {
        http_with(
            &server.addr,
            method,
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body,
        )
    };
    for headers in [
        vec![],
        vec![("Authorization", "Bearer wrong-token")],
        vec![("Authorization", "Basic dXNlcjpwYXNz")],
    ] {
        let r = http_with(&server.addr, "GET", "/api/stats", &headers, "");
        assert_eq!(r.status, 401, "{}", r.head);
        assert!(
            r.head
                .to_ascii_lowercase()
                .contains("www-authenticate: bearer")
        );
    }
    let r = api(
        "POST",
        "/api/subscribers",
        r#"{"email":"Api@Example.ORG","name":"Api"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = api("POST", "/api/subscribers", r#"{"email":"api@example.org"}"#);
    assert_eq!(
        (r.status, r.body.contains("\"added\":false")),
        (200, true),
        "{}",
        r.body
    );
    assert_eq!(
        api("POST", "/api/subscribers", r#"{"email":"no-at-sign"}"#).status,
        400
    );
    let list: serde_json::Value =
        serde_json::from_str(&api("GET", "/api/subscribers?status=active", "").body).unwrap();
    assert_eq!(list["subscribers"][0]["email"], "Api@example.org");
    assert!(
        list["subscribers"][0].get("token").is_none(),
        "tokens never leave the server"
    );
    let show: serde_json::Value =
        serde_json::from_str(&api("GET", "/api/subscribers/api@example.org", "").body).unwrap();
    assert_eq!(show["history"][0]["source"], "api");
    assert_eq!(
        api("DELETE", "/api/subscribers/API@example.org", "").status,
        200
    );
    assert_eq!(
        api("GET", "/api/subscribers/nobody@example.org", "").status,
        404
    );
    let stats: serde_json::Value =
        serde_json::from_str(&api("GET", "/api/stats", "").body).unwrap();
    assert_eq!(
        (stats["unsubscribed"].as_i64(), stats["active"].as_i64()),
        (Some(1), Some(0))
    );
    // The list's size is not public: /metrics needs the token (or a bind of its own).
    assert_eq!(http(&server.addr, "GET", "/metrics", None, "").status, 401);
    let m = api("GET", "/metrics", "");
    assert_eq!(m.status, 200);
    assert!(
        m.body
            .contains("newsletter_subscribers{status=\"unsubscribed\"} 1"),
        "{}",
        m.body
    );
    assert!(
        m.body.contains("newsletter_api_denied_total 4"),
        "{}",
        m.body
    );
    assert!(
        m.body
            .contains("# TYPE newsletter_api_requests_total counter")
    );
}

async fn double_opt_in(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    let server = serve(&db);
    let form = "application/x-www-form-urlencoded";
    let page = http(&server.addr, "GET", "/subscribe", None, "");
    assert!(
        page.status == 200
            && page.body.contains("<label for=\"email\">")
            && page.body.contains("lang=\"en\"")
    );

    let bad = http(
        &server.addr,
        "POST",
        "/subscribe",
        Some(form),
        "email=not-an-address",
    );
    assert!(bad.status == 400 && bad.body.contains("does not look like an e-mail address"));
    let new = http(
        &server.addr,
        "POST",
        "/subscribe",
        Some(form),
        "email=new%40example.org&name=New+Reader",
    );
    assert_eq!(new.status, 200);
    assert!(new.body.contains("Check your inbox"));
    server.settle();
    let mails = server.mails();
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].contains("To: <new@example.org>")
            && mails[0].contains("Subject: Confirm your subscription to Weekly Crab")
    );
    let decoded = mails[0].replace("=\r\n", "");
    let link = decoded
        .lines()
        .find(|l| l.contains("/confirm/"))
        .expect("a confirmation link");
    let token = link.trim().rsplit('/').next().unwrap().to_string();
    assert_eq!(
        status(&store, "new@example.org").await,
        SubscriberStatus::Pending
    );

    // GET shows a button and confirms nothing; POST confirms; the link is then spent.
    let r = http(&server.addr, "GET", &format!("/confirm/{token}"), None, "");
    assert!(r.status == 200 && r.body.contains("Confirm my subscription"));
    assert_eq!(
        status(&store, "new@example.org").await,
        SubscriberStatus::Pending
    );
    let r = http(
        &server.addr,
        "POST",
        &format!("/confirm/{token}"),
        Some(form),
        "",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        status(&store, "new@example.org").await,
        SubscriberStatus::Active
    );
    assert_eq!(
        http(
            &server.addr,
            "POST",
            &format!("/confirm/{token}"),
            Some(form),
            ""
        )
        .status,
        404
    );

    // An address already on the list gets the very same answer, and no mail.
    let again = http(
        &server.addr,
        "POST",
        "/subscribe",
        Some(form),
        "email=NEW%40example.org",
    );
    assert_eq!((again.status, &again.body), (200, &new.body));
    server.settle();
    assert_eq!(server.mails().len(), 1);

    // At most 3 confirmation mails per address per window: the form cannot mail-bomb anyone.
    for _ in 0..4 {
        let r = http(
            &server.addr,
            "POST",
            "/subscribe",
            Some(form),
            "email=victim%40example.org",
        );
        assert_eq!((r.status, &r.body), (200, &new.body));
    }
    server.settle();
    assert_eq!(
        server.mails().len(),
        4,
        "three for the victim, one for new@"
    );

    // At most 8 attempts per client IP: seven so far, one more passes, then 429.
    for expected in [200, 429] {
        let r = http(
            &server.addr,
            "POST",
            "/subscribe",
            Some(form),
            "email=other%40example.org",
        );
        assert_eq!(r.status, expected);
    }
    assert_eq!(
        http(
            &server.addr,
            "POST",
            "/subscribe",
            Some(form),
            "email=not-an-address"
        )
        .status,
        429
    );
}
