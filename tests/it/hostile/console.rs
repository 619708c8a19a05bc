//! Hostile input, second round (issue #21): the console and the command line, over the real server
//! and binary. Finding 2 (the sign-in form fills the disk) and the lesser findings of item 10 that
//! are about accounts, the audit log and logs.

use crate::common;
use crate::common::console::{
    EDITOR_PASSWORD, PASSWORD, PLAIN_LOOPBACK, add_account, cookie, csrf_field, form, get,
    import_outcome, multipart, serve, signed_in, urlencode,
};
use crate::common::db::TestDb;
use crate::common::web::{Reply, Server, http_with, serve_with};
use newsletter::store::Store;

const PROXIED: (&str, &str) = ("NEWSLETTER_WEB__TRUSTED_PROXIES", "127.0.0.1,::1");

/// The database file and its WAL, in bytes.
fn db_bytes(db: &TestDb) -> u64 {
    let TestDb::Sqlite(dir, _) = db else {
        unreachable!("a SQLite test")
    };
    std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// One sign-in attempt through the real form, as the client `ip` behind the trusted proxy.
fn sign_in_from(s: &Server, email: &str, password: &str, ip: &str) -> (Option<String>, Reply) {
    let page = get(s, "/admin/login", "");
    let login = cookie(&page, "nl_login").expect("a sign-in cookie");
    let r = http_with(
        &s.addr,
        "POST",
        "/admin/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &format!("nl_login={login}")),
            ("X-Forwarded-For", ip),
        ],
        &format!(
            "csrf={}&email={}&password={}",
            urlencode(&csrf_field(&page.body)),
            urlencode(email),
            urlencode(password)
        ),
    );
    (cookie(&r, "nl_admin").map(|v| format!("nl_admin={v}")), r)
}

async fn audit(db: &TestDb) -> Vec<newsletter::store::AuditEntry> {
    Store::connect(&db.url())
        .await
        .unwrap()
        .audit_log(100_000)
        .await
        .unwrap()
}

/// Finding 2: refused sign-ins with a 1 MiB address write bounded entries, once per window once the
/// limit is reached: the database grows by kilobytes, and the audit page stays small.
#[tokio::test]
async fn finding_02_the_sign_in_form_cannot_fill_the_disk() {
    let db = TestDb::sqlite();
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    let s = serve(&db);
    let huge = format!("{}@example.org", "a".repeat(1 << 20));
    let before = db_bytes(&db);
    let page = get(&s, "/admin/login", "");
    let login = cookie(&page, "nl_login").unwrap();
    let body = format!(
        "csrf={}&email={}&password=wrong",
        urlencode(&csrf_field(&page.body)),
        urlencode(&huge)
    );
    for _ in 0..60 {
        let r = form(&s, "/admin/login", &format!("nl_login={login}"), &body);
        assert!(matches!(r.status, 401 | 429), "{}", r.head);
    }
    let grown = db_bytes(&db).saturating_sub(before);
    assert!(grown < 2 << 20, "the database grew by {grown} bytes");
    let entries = audit(&db).await;
    assert!(
        entries.len() <= 22,
        "{} entries for 60 refusals: the limit's refusals are logged once per window",
        entries.len()
    );
    for e in &entries {
        assert!(
            e.admin_email.as_deref().map_or(0, str::len) <= 254,
            "{:?}",
            e.action
        );
    }
    // The audit page, seen from a fresh server (this one's limits refuse 127.0.0.1 for a while).
    let other = serve(&db);
    let session = signed_in(&other, "boss@example.org", PASSWORD);
    let page = get(&other, "/admin/audit", &session);
    assert_eq!(page.status, 200);
    assert!(page.body.len() < 256 << 10, "{} bytes", page.body.len());
    assert!(
        page.body.contains("too many attempts"),
        "the refusal is on record"
    );
}

/// Item 10: wrong passwords from one client lock out that client, not the account's owner elsewhere.
#[test]
fn finding_10_a_stranger_cannot_lock_the_owner_out() {
    let db = TestDb::sqlite();
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    let s = serve_with(&db, &[PLAIN_LOOPBACK, PROXIED]);
    for _ in 0..8 {
        let (none, r) = sign_in_from(&s, "boss@example.org", "guess", "203.0.113.9");
        assert!(none.is_none() && matches!(r.status, 401 | 429));
    }
    let (_, r) = sign_in_from(&s, "boss@example.org", PASSWORD, "203.0.113.9");
    assert_eq!(r.status, 429, "the guessing client is held back");
    let (session, r) = sign_in_from(&s, "boss@example.org", PASSWORD, "198.51.100.7");
    assert!(
        session.is_some(),
        "the owner, from another address, signs in: {}",
        r.head
    );
}

/// Item 10: CSRF refusals are audited (once per session and window) with the client's address, as
/// is every other console action.
#[tokio::test]
async fn finding_10_csrf_refusals_are_audited_with_the_address_of_origin() {
    let db = TestDb::sqlite();
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    let s = serve_with(&db, &[PLAIN_LOOPBACK, PROXIED]);
    let (session, _) = sign_in_from(&s, "boss@example.org", PASSWORD, "198.51.100.23");
    let session = session.unwrap();
    for _ in 0..5 {
        let r = http_with(
            &s.addr,
            "POST",
            "/admin/logout",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", &session),
                ("X-Forwarded-For", "198.51.100.23"),
            ],
            "csrf=forged",
        );
        assert_eq!(r.status, 403);
    }
    let r = http_with(
        &s.addr,
        "GET",
        "/admin/subscribers?q=someone",
        &[("Cookie", &session), ("X-Forwarded-For", "198.51.100.23")],
        "",
    );
    assert_eq!(r.status, 200);
    let entries = audit(&db).await;
    let csrf: Vec<_> = entries
        .iter()
        .filter(|e| e.action.contains("CSRF"))
        .collect();
    assert_eq!(csrf.len(), 1, "{entries:?}");
    assert_eq!(csrf[0].ip.as_deref(), Some("198.51.100.23"));
    let search = entries
        .iter()
        .find(|e| e.action == "searched subscribers")
        .expect("the search is audited");
    assert_eq!(search.ip.as_deref(), Some("198.51.100.23"));
}

/// Item 10: `forget` erases the address from the audit log's search entries too.
#[tokio::test]
async fn finding_10_forget_leaves_no_trace_in_the_audit_log() {
    let db = TestDb::sqlite();
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = common::run(dir.path(), &db.url(), args, None);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run(&["subscribers", "add", "Private.Person@example.org"]);
    let s = serve(&db);
    let session = signed_in(&s, "boss@example.org", PASSWORD);
    for q in ["private.person@example.org", "Private.Person%40Example.org"] {
        assert_eq!(
            get(&s, &format!("/admin/subscribers?q={q}"), &session).status,
            200
        );
    }
    assert!(
        audit(&db)
            .await
            .iter()
            .any(|e| e.detail.as_deref().is_some_and(|d| d.contains("rivate.")))
    );
    run(&["subscribers", "forget", "private.person@example.org"]);
    for e in audit(&db).await {
        let d = e.detail.unwrap_or_default().to_lowercase();
        assert!(!d.contains("private.person"), "{d}");
    }
}

/// Item 10: `admins add` asks for a role for a new account, and refuses a password of spaces.
#[tokio::test]
async fn finding_10_new_accounts_need_a_role_and_a_real_password() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let add = |args: &[&str], password: &str| {
        common::output(
            common::newsletter(dir.path(), &db.url())
                .args(["admins", "add"])
                .args(args),
            Some(format!("{password}\n").as_bytes()),
        )
    };
    let o = add(&["new@example.org"], PASSWORD);
    assert!(!o.status.success(), "a new account without --role");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--role"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = add(&["new@example.org", "--role", "editor"], &" ".repeat(12));
    assert!(!o.status.success(), "twelve spaces were accepted");
    let o = add(&["new@example.org", "--role", "editor"], "aaaaaaaaaaaaaaaa");
    assert!(!o.status.success(), "one letter sixteen times was accepted");
    let o = add(&["new@example.org", "--role", "editor"], EDITOR_PASSWORD);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Changing the password of an existing account keeps its role.
    let o = add(&["new@example.org"], "another long pass phrase");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let store = Store::connect(&db.url()).await.unwrap();
    let a = store
        .admin_by_email("new@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.role.to_string(), "editor");
}

/// Item 10: even at `RUST_LOG=trace`, the SMTP conversation's `AUTH` line (the password in base64)
/// is never written.
#[test]
fn finding_10_trace_logging_never_writes_the_smtp_password() {
    require!("python3:aiosmtpd");
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let o = common::run(
        dir.path(),
        &db.url(),
        &["subscribers", "add", "reader@example.org"],
        None,
    );
    assert!(o.status.success());
    let server = common::smtp::Server::faulty(&["--auth", "newsletter:Sup3r-secret-pass"]);
    let issue = common::small_issue();
    let o = common::newsletter(dir.path(), &db.url())
        .env("RUST_LOG", "trace")
        .env("NEWSLETTER_SMTP_PASSWORD", "Sup3r-secret-pass")
        .args([
            "send",
            issue.to_str().unwrap(),
            "--yes",
            "--transport",
            &format!("smtp://newsletter@127.0.0.1:{}", server.port),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(server.messages().len(), 1);
    // PLAIN carries "\0newsletter\0Sup3r-secret-pass" in base64; LOGIN each part on its own.
    for secret in [
        "Sup3r-secret-pass",
        "AG5ld3NsZXR0ZXIAU3VwM3Itc2VjcmV0LXBhc3M",
        "U3VwM3Itc2VjcmV0LXBhc3M",
        "AUTH PLAIN",
    ] {
        assert!(!err.contains(secret), "the log holds {secret}");
    }
}

/// Item 10: an editor sees why deliveries failed without the addresses, however they are written.
#[test]
fn finding_10_editors_see_failure_reasons_without_addresses() {
    require!("smtp-sink");
    let db = TestDb::sqlite();
    add_account(&db, "ed@example.org", "editor", EDITOR_PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let o = common::run(
        dir.path(),
        &db.url(),
        &["subscribers", "add", "reader@example.org"],
        None,
    );
    assert!(o.status.success());
    let refusing = common::smtp::Server::sink(&[
        "-f",
        "rcpt",
        "-B",
        "550 5.1.1 \"john.smith\" at corp.example does not exist here",
    ]);
    let issue = common::small_issue();
    let _ = common::run(
        dir.path(),
        &db.url(),
        &[
            "send",
            issue.to_str().unwrap(),
            "--yes",
            "--transport",
            &refusing.url(),
        ],
        None,
    );
    let s = serve(&db);
    let editor = signed_in(&s, "ed@example.org", EDITOR_PASSWORD);
    let page = get(&s, "/admin/campaigns/912", &editor);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("does not exist here"), "{}", page.body);
    assert!(!page.body.contains("john.smith"), "{}", page.body);
}

/// Item 10: a hand-made `resubscribe=0` (or `skip_invalid=0`) is not a ticked box: an address that
/// left stays gone.
#[tokio::test]
async fn finding_10_an_unticked_resubscribe_brings_nobody_back() {
    let db = TestDb::sqlite();
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    for args in [
        ["subscribers", "add", "left@example.org"],
        ["subscribers", "remove", "left@example.org"],
    ] {
        let o = common::run(dir.path(), &db.url(), &args, None);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let s = serve(&db);
    let session = signed_in(&s, "boss@example.org", PASSWORD);
    let csrf = csrf_field(&get(&s, "/admin/import", &session).body);
    let started = multipart(
        &s,
        "/admin/import",
        &session,
        &[
            ("csrf", None, &csrf),
            ("resubscribe", None, "0"),
            ("file", Some("list.csv"), "email\nleft@example.org\n"),
        ],
    );
    import_outcome(&s, &session, &started);
    let store = Store::connect(&db.url()).await.unwrap();
    let row = store
        .find_by_email(&newsletter::domain::EmailAddress::parse("left@example.org").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.status,
        newsletter::domain::SubscriberStatus::Unsubscribed
    );
}

/// Item 1, for JSON: a body nested 100,000 deep is refused with 400 (serde_json stops at 128
/// levels), and the server goes on answering.
#[test]
fn finding_01_deeply_nested_json_is_refused() {
    let db = TestDb::sqlite();
    let s = serve_with(&db, &[]);
    let deep = format!(
        "{{\"email\":{}1{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let r = http_with(
        &s.addr,
        "POST",
        "/api/subscribers",
        &[
            (
                "Authorization",
                &format!("Bearer {}", common::web::API_TOKEN),
            ),
            ("Content-Type", "application/json"),
        ],
        &deep,
    );
    assert!(matches!(r.status, 400 | 413 | 422), "{}", r.head);
    assert_eq!(
        common::web::http(&s.addr, "GET", "/health", None, "").status,
        200
    );
}

/// Item 10 (a choice, with its limit): an editor may send test copies, at most 20 an hour per
/// account; the 21st is refused with a sentence.
#[test]
fn finding_10_test_copies_are_limited_per_account() {
    let db = TestDb::sqlite();
    add_account(&db, "ed@example.org", "editor", EDITOR_PASSWORD);
    let s = serve(&db);
    let session = signed_in(&s, "ed@example.org", EDITOR_PASSWORD);
    let csrf = csrf_field(&get(&s, "/admin/preview", &session).body);
    let draft = std::fs::read_to_string(common::small_issue()).unwrap();
    let r = multipart(
        &s,
        "/admin/preview",
        &session,
        &[("csrf", None, &csrf), ("text", None, &draft)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = r.headers("location").into_iter().next().unwrap();
    let body = format!("csrf={}&to=copy%40example.org", urlencode(&csrf));
    for i in 0..20 {
        let r = form(&s, &format!("{page}/test"), &session, &body);
        assert!(r.body.contains("Sent a test copy"), "copy {i}: {}", r.body);
    }
    let r = form(&s, &format!("{page}/test"), &session, &body);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("in the last hour"), "{}", r.body);
}
