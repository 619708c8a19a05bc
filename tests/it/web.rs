//! `newsletter serve` over a real socket, on both backends: the unsubscribe page, RFC 8058
//! one-click POST (form-urlencoded and multipart), idempotence, GET never mutating, 404s.

use crate::common;

use common::db::TestDb;
use common::web::{API_TOKEN, Reply, http, http_with, one_click, serve};
use newsletter::domain::{EmailAddress, SubscriberStatus, UnsubscribeToken};
use newsletter::store::{Source, Store};

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
            unsubscribe_token: &UnsubscribeToken::parse(&token).unwrap(),
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
    // Beside the URL, the subscriber's own mailto address, which `bounces process` reads back.
    let parsed = newsletter::domain::UnsubscribeToken::parse(&token).unwrap();
    let mailto = format!(
        "<mailto:unsubscribe+{}@{}?subject=unsubscribe>",
        parsed.mailto_form(),
        config.mail.bounce_domain
    );
    assert!(lu.contains(&mailto), "{lu}");
    assert_eq!(
        newsletter::bounce::mailto::recognise(
            &[mailto[8..mailto.find('?').unwrap()].to_string()],
            &config.mail.unsubscribe_local,
            &config.mail.bounce_domain
        ),
        Some(Some(parsed))
    );
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
