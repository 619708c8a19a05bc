//! The administrators' console's security, over a real socket against the real `newsletter serve`,
//! on SQLite and PostgreSQL: accounts made by `newsletter admins add`, sign-in with its CSRF token
//! and limits, session cookies and their flags, expiry and forgery, CSRF on every POST, the editor
//! kept from subscriber data, the audit log, and no secret in the server's log.

use std::io::Write;
use std::process::Stdio;

use crate::common;
use crate::common::db::TestDb;
use crate::common::web::{Reply, Server, http_with, serve_logging};

both_backends!(
    the_console_is_closed_without_a_session_and_guards_every_post,
    an_admin_finds_a_subscriber_and_changes_them_only_as_allowed,
    an_admin_imports_and_exports_the_list_over_http
);

const PASSWORD: &str = "correct horse battery staple";
const EDITOR_PASSWORD: &str = "an editor's own long password";

pub(crate) fn add_account(db: &TestDb, email: &str, role: &str, password: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = common::newsletter(dir.path(), &db.url())
        .args(["admins", "add", email, "--role", role])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `Set-Cookie` lines of a reply.
fn set_cookies(r: &Reply) -> Vec<String> {
    r.headers("set-cookie")
}

/// The value of cookie `name` set by a reply.
fn cookie(r: &Reply, name: &str) -> Option<String> {
    set_cookies(r).iter().find_map(|c| {
        let first = c.split(';').next()?;
        let (k, v) = first.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

fn location(r: &Reply) -> String {
    r.headers("location").into_iter().next().unwrap_or_default()
}

/// The hidden CSRF field of a page.
pub(crate) fn csrf_field(body: &str) -> String {
    let at =
        body.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    body[at..].split('"').next().unwrap().to_string()
}

fn form(s: &Server, path: &str, cookie: &str, body: &str) -> Reply {
    http_with(
        &s.addr,
        "POST",
        path,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", cookie),
        ],
        body,
    )
}

/// A multipart/form-data POST: (field, file name, content) for each part.
pub(crate) fn multipart(
    s: &Server,
    path: &str,
    cookie: &str,
    parts: &[(&str, Option<&str>, &str)],
) -> Reply {
    let boundary = "----newsletter-test-boundary-7Qx";
    let mut body = String::new();
    for (name, file, content) in parts {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""
        ));
        if let Some(f) = file {
            body.push_str(&format!("; filename=\"{f}\"\r\nContent-Type: text/csv"));
        }
        body.push_str(&format!("\r\n\r\n{content}\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    http_with(
        &s.addr,
        "POST",
        path,
        &[
            (
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            ),
            ("Cookie", cookie),
        ],
        &body,
    )
}

pub(crate) fn get(s: &Server, path: &str, cookie: &str) -> Reply {
    http_with(&s.addr, "GET", path, &[("Cookie", cookie)], "")
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Signs in through the form; returns the session cookie (`name=value`) and the reply.
pub(crate) fn sign_in(
    s: &Server,
    login_cookie_name: &str,
    session_name: &str,
    email: &str,
    password: &str,
) -> (Option<String>, Reply) {
    let page = get(s, "/admin/login", "");
    assert_eq!(page.status, 200);
    let token = cookie(&page, login_cookie_name).expect("a sign-in cookie");
    let csrf = csrf_field(&page.body);
    let r = form(
        s,
        "/admin/login",
        &format!("{login_cookie_name}={token}"),
        &format!(
            "csrf={}&email={}&password={}",
            urlencode(&csrf),
            urlencode(email),
            urlencode(password)
        ),
    );
    (
        cookie(&r, session_name).map(|v| format!("{session_name}={v}")),
        r,
    )
}

async fn the_console_is_closed_without_a_session_and_guards_every_post(db: TestDb) {
    add_account(&db, "Boss@Example.org", "admin", PASSWORD);
    add_account(&db, "ed@example.org", "editor", EDITOR_PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let listed = common::newsletter(dir.path(), &db.url())
        .args(["subscribers", "add", "reader@example.org"])
        .output()
        .unwrap();
    assert!(listed.status.success());
    let log = dir.path().join("serve.log");
    let s = serve_logging(
        &db,
        &[("NEWSLETTER_ADMIN__PLAIN_LOOPBACK", "true")],
        Some(&log),
    );

    // No session: every page goes to the sign-in form, every POST is refused.
    for path in [
        "/admin/",
        "/admin/subscribers",
        "/admin/subscribers/1",
        "/admin/subscribers/1/forget",
        "/admin/audit",
        "/admin/campaigns",
        "/admin/campaigns/1",
        "/admin/bounces",
        "/admin/quarantine",
        "/admin/quarantine/x",
        "/admin/import",
        "/admin/import/x",
        "/admin/export.csv",
        "/admin/preview",
        "/admin/preview/x",
        "/admin/preview/x/html",
    ] {
        let r = get(&s, path, "");
        assert_eq!(r.status, 303, "{path}: {}", r.head);
        assert_eq!(location(&r), "/admin/login");
    }
    for path in [
        "/admin/logout",
        "/admin/subscribers/1/unsubscribe",
        "/admin/subscribers/1/forget",
        "/admin/quarantine/x/discard",
        "/admin/import",
        "/admin/preview",
        "/admin/preview/x/test",
    ] {
        assert_eq!(form(&s, path, "", "csrf=x").status, 401, "{path}");
    }
    // A forged session is no session.
    let forged = format!("nl_admin={}", "A".repeat(43));
    assert_eq!(get(&s, "/admin/", &forged).status, 303);

    // The sign-in form's own token: missing or wrong is refused before any password is tried.
    let page = get(&s, "/admin/login", "");
    let login = cookie(&page, "nl_login").unwrap();
    let flags = set_cookies(&page).join(" | ");
    assert!(
        flags.contains("HttpOnly") && flags.contains("SameSite=Strict"),
        "{flags}"
    );
    let body = format!("email=boss%40example.org&password={}", urlencode(PASSWORD));
    assert_eq!(
        form(&s, "/admin/login", &format!("nl_login={login}"), &body).status,
        403
    );
    assert_eq!(
        form(
            &s,
            "/admin/login",
            &format!("nl_login={login}"),
            &format!("csrf=wrong&{body}")
        )
        .status,
        403
    );

    // A wrong password, then the right one (the address in any case).
    let (none, r) = sign_in(
        &s,
        "nl_login",
        "nl_admin",
        "boss@example.org",
        "not the password",
    );
    assert_eq!(r.status, 401);
    assert!(none.is_none());
    let (session, r) = sign_in(&s, "nl_login", "nl_admin", "BOSS@example.org", PASSWORD);
    assert_eq!(r.status, 303, "{}", r.head);
    assert_eq!(location(&r), "/admin/");
    let session = session.expect("a session cookie");
    let flags = set_cookies(&r)
        .iter()
        .find(|c| c.starts_with("nl_admin="))
        .unwrap()
        .clone();
    assert!(
        flags.contains("HttpOnly") && flags.contains("SameSite=Strict") && flags.contains("Path=/"),
        "{flags}"
    );
    assert!(
        !flags.contains("Secure"),
        "plain loopback was allowed: {flags}"
    );

    let dash = get(&s, "/admin/", &session);
    assert_eq!(dash.status, 200, "{}", dash.head);
    assert!(dash.body.contains("Dashboard") && dash.body.contains("lang=\"en\""));
    assert!(
        dash.head
            .to_ascii_lowercase()
            .contains("cache-control: no-store")
    );
    let subs = get(&s, "/admin/subscribers", &session);
    assert_eq!(subs.status, 200);
    assert!(subs.body.contains("reader@example.org"));

    // Sign-out needs the session's CSRF token.
    let csrf = csrf_field(&dash.body);
    assert_eq!(form(&s, "/admin/logout", &session, "").status, 403);
    assert_eq!(
        form(&s, "/admin/logout", &session, "csrf=not-it").status,
        403
    );
    for path in [
        "/admin/subscribers/1/unsubscribe",
        "/admin/quarantine/x/discard",
        "/admin/preview/x/test",
    ] {
        assert_eq!(
            form(&s, path, &session, "csrf=not-it").status,
            403,
            "{path}"
        );
    }
    for path in ["/admin/import", "/admin/preview"] {
        let r = multipart(
            &s,
            path,
            &session,
            &[("csrf", None, "not-it"), ("text", None, "Title: x")],
        );
        assert_eq!(r.status, 403, "{path}: {}", r.head);
    }
    assert_eq!(get(&s, "/admin/", &session).status, 200, "still signed in");
    let out = form(
        &s,
        "/admin/logout",
        &session,
        &format!("csrf={}", urlencode(&csrf)),
    );
    assert_eq!(out.status, 303);
    assert_eq!(
        get(&s, "/admin/", &session).status,
        303,
        "the session ended"
    );

    // An editor has the console but not subscriber data.
    let (editor, r) = sign_in(
        &s,
        "nl_login",
        "nl_admin",
        "ed@example.org",
        EDITOR_PASSWORD,
    );
    assert_eq!(r.status, 303);
    let editor = editor.unwrap();
    assert_eq!(get(&s, "/admin/", &editor).status, 200);
    let refused = get(&s, "/admin/subscribers", &editor);
    assert_eq!(refused.status, 403);
    assert!(!refused.body.contains("reader@example.org"));
    assert_eq!(get(&s, "/admin/audit", &editor).status, 403);
    for path in [
        "/admin/import",
        "/admin/export.csv",
        "/admin/quarantine",
        "/admin/bounces",
    ] {
        let r = get(&s, path, &editor);
        assert_eq!(r.status, 403, "{path}");
        assert!(!r.body.contains("reader@example.org"), "{path}");
    }
    assert_eq!(
        get(&s, "/admin/preview", &editor).status,
        200,
        "editors preview"
    );

    // The sign-in limit per account: after five failures even the right password waits.
    for _ in 0..5 {
        let (_, r) = sign_in(&s, "nl_login", "nl_admin", "ed@example.org", "wrong guess");
        assert!(matches!(r.status, 401 | 429), "{}", r.status);
    }
    let (none, r) = sign_in(
        &s,
        "nl_login",
        "nl_admin",
        "ed@example.org",
        EDITOR_PASSWORD,
    );
    assert_eq!(r.status, 429);
    assert!(none.is_none());

    // The audit log has who did what.
    let (admin, _) = sign_in(&s, "nl_login", "nl_admin", "boss@example.org", PASSWORD);
    let audit = get(&s, "/admin/audit", &admin.unwrap());
    assert_eq!(audit.status, 200);
    for needle in [
        "login failed",
        "logout",
        "refused: subscribers (editor)",
        "login refused: too many attempts",
        "searched subscribers",
        "account created",
    ] {
        assert!(audit.body.contains(needle), "{needle} in the audit log");
    }
    drop(s);

    // Nothing secret reaches the log.
    let text = std::fs::read_to_string(&log).unwrap();
    for secret in [
        PASSWORD,
        EDITOR_PASSWORD,
        session.split('=').nth(1).unwrap(),
        &csrf,
        &login,
    ] {
        assert!(!text.contains(secret), "a secret in the log");
    }
}

#[tokio::test]
async fn cookies_are_secure_by_default_and_sessions_expire() {
    let db = TestDb::sqlite();
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    // Without the loopback exception: Secure, with the __Host- prefix.
    let s = serve_logging(&db, &[], None);
    let page = get(&s, "/admin/login", "");
    let flags = set_cookies(&page).join(" | ");
    assert!(
        flags.starts_with("__Host-nl_login=") && flags.contains("Secure"),
        "{flags}"
    );
    let (session, r) = sign_in(
        &s,
        "__Host-nl_login",
        "__Host-nl_admin",
        "boss@example.org",
        PASSWORD,
    );
    assert_eq!(r.status, 303);
    let set = set_cookies(&r).join(" | ");
    assert!(
        set.contains("__Host-nl_admin=") && set.contains("Secure") && set.contains("HttpOnly"),
        "{set}"
    );
    assert_eq!(get(&s, "/admin/", &session.unwrap()).status, 200);
    drop(s);

    // A session unused for longer than the idle limit is over.
    let s = serve_logging(
        &db,
        &[
            ("NEWSLETTER_ADMIN__PLAIN_LOOPBACK", "true"),
            ("NEWSLETTER_ADMIN__SESSION_IDLE_SECS", "1"),
        ],
        None,
    );
    let (session, _) = sign_in(&s, "nl_login", "nl_admin", "boss@example.org", PASSWORD);
    let session = session.unwrap();
    assert_eq!(get(&s, "/admin/", &session).status, 200);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let r = get(&s, "/admin/", &session);
    assert_eq!(r.status, 303, "expired: {}", r.head);
    assert_eq!(location(&r), "/admin/login");
}

async fn an_admin_finds_a_subscriber_and_changes_them_only_as_allowed(db: TestDb) {
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("list.csv");
    let mut text = String::from("email,name\n");
    for i in 0..120 {
        text.push_str(&format!("reader{i:03}@example.org,Reader {i}\n"));
    }
    text.push_str("ferris@rust-lang.org,Ferris the Crab\nbounce@example.net,Bouncy\n");
    std::fs::write(&csv, text).unwrap();
    let out = common::newsletter(dir.path(), &db.url())
        .args(["subscribers", "import", csv.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    {
        let store = newsletter::store::Store::connect(&db.url()).await.unwrap();
        let e = newsletter::domain::EmailAddress::parse("bounce@example.net").unwrap();
        store
            .set_status(
                &e,
                newsletter::domain::SubscriberStatus::Bounced,
                newsletter::store::Source::Bounce,
                "test",
            )
            .await
            .unwrap();
        store.close().await;
    }
    let s = serve_logging(&db, &[("NEWSLETTER_ADMIN__PLAIN_LOOPBACK", "true")], None);
    let (session, _) = sign_in(&s, "nl_login", "nl_admin", "boss@example.org", PASSWORD);
    let session = session.unwrap();

    // Search: a prefix, a substring of the address, a part of the name, a status; paged by 50.
    let found = |q: &str| get(&s, &format!("/admin/subscribers?q={q}"), &session).body;
    assert!(found("ferris").contains("ferris@rust-lang.org"));
    assert!(found("rust-lang").contains("ferris@rust-lang.org"));
    let by_name = found("THE%20CRAB");
    assert!(by_name.contains("ferris@rust-lang.org") && !by_name.contains("reader000"));
    let bounced = get(&s, "/admin/subscribers?status=bounced", &session).body;
    assert!(bounced.contains("bounce@example.net") && !bounced.contains("reader000"));
    let first = found("reader");
    assert!(
        first.contains("reader049@")
            && !first.contains("reader050@")
            && first.contains("Next page")
    );
    let next = first
        .split("href=\"/admin/subscribers?q=reader&amp;status=&amp;after=")
        .nth(1)
        .unwrap();
    let after = next.split('"').next().unwrap();
    let second = get(
        &s,
        &format!("/admin/subscribers?q=reader&status=&after={after}"),
        &session,
    )
    .body;
    assert!(second.contains("reader050@") && !second.contains("reader049@"));

    // A subscriber's page and the actions it allows.
    let id_of = |body: &str, email: &str| -> String {
        let at = body.find(email).unwrap();
        let before = &body[..at];
        let href = before.rfind("/admin/subscribers/").unwrap() + "/admin/subscribers/".len();
        before[href..].split('"').next().unwrap().to_string()
    };
    let ferris = id_of(&found("ferris"), "ferris@rust-lang.org");
    let page = get(&s, &format!("/admin/subscribers/{ferris}"), &session);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Status history") && page.body.contains("Unsubscribe"));
    assert!(
        !page.body.contains(">Resubscribe<"),
        "an active subscriber has nothing to resubscribe"
    );
    let csrf = csrf_field(&page.body);
    let path = format!("/admin/subscribers/{ferris}/unsubscribe");
    assert_eq!(form(&s, &path, &session, "").status, 403, "no CSRF token");
    let r = form(&s, &path, &session, &format!("csrf={}", urlencode(&csrf)));
    assert_eq!(r.status, 303);
    let page = get(&s, &format!("/admin/subscribers/{ferris}"), &session).body;
    assert!(
        page.contains(": unsubscribed") && page.contains("in the console"),
        "{page}"
    );
    // Who left is not put back by an admin.
    let back = form(
        &s,
        &format!("/admin/subscribers/{ferris}/resubscribe"),
        &session,
        &format!("csrf={}", urlencode(&csrf)),
    );
    assert_eq!(back.status, 409);
    // A bounced address may be.
    let bouncy = id_of(&bounced, "bounce@example.net");
    let r = form(
        &s,
        &format!("/admin/subscribers/{bouncy}/resubscribe"),
        &session,
        &format!("csrf={}", urlencode(&csrf)),
    );
    assert_eq!(r.status, 303);
    assert!(
        get(&s, &format!("/admin/subscribers/{bouncy}"), &session)
            .body
            .contains(": active")
    );

    // Forget: a confirmation page first, then the address is gone.
    let confirm = get(&s, &format!("/admin/subscribers/{ferris}/forget"), &session);
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("cannot be undone"));
    assert_eq!(
        form(
            &s,
            &format!("/admin/subscribers/{ferris}/forget"),
            &session,
            "csrf=wrong"
        )
        .status,
        403
    );
    let r = form(
        &s,
        &format!("/admin/subscribers/{ferris}/forget"),
        &session,
        &format!("csrf={}", urlencode(&csrf)),
    );
    assert_eq!(r.status, 303);
    assert!(!found("ferris").contains("ferris@rust-lang.org"));
    assert_eq!(
        get(&s, &format!("/admin/subscribers/{ferris}"), &session).status,
        404
    );
    let audit = get(&s, "/admin/audit", &session).body;
    for needle in [
        "unsubscribe subscriber",
        "resubscribe subscriber",
        "forget subscriber",
        "searched subscribers",
    ] {
        assert!(audit.contains(needle), "{needle}");
    }
}

#[tokio::test]
async fn campaigns_and_bounces_are_shown_to_whom_they_may_be() {
    let db = TestDb::sqlite();
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    add_account(&db, "ed@example.org", "editor", EDITOR_PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("list.csv");
    std::fs::write(&csv, "email\na@gmail.com\nb@example.org\nc@outlook.de\n").unwrap();
    let run = |args: &[&str]| {
        let out = common::newsletter(dir.path(), &db.url())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["subscribers", "import", csv.to_str().unwrap()]);
    let issue =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/send/small.md");
    let outbox = format!("file:{}", dir.path().join("outbox").display());
    run(&[
        "send",
        issue.to_str().unwrap(),
        "--yes",
        "--transport",
        &outbox,
        "--enqueue-only",
    ]);
    let s = serve_logging(&db, &[("NEWSLETTER_ADMIN__PLAIN_LOOPBACK", "true")], None);
    let (admin, _) = sign_in(&s, "nl_login", "nl_admin", "boss@example.org", PASSWORD);
    let admin = admin.unwrap();

    // While it waits to be sent, the page refreshes itself; once sent, it shows the outcome.
    let page = get(&s, "/admin/campaigns/912", &admin);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("id=\"auto-refresh\"") && page.body.contains("0 of 3"),
        "{}",
        page.body
    );
    run(&["worker", "--once", "--transport", &outbox]);
    let list = get(&s, "/admin/campaigns", &admin).body;
    assert!(list.contains("/admin/campaigns/912") && list.contains("done"));
    let page = get(&s, "/admin/campaigns/912", &admin).body;
    assert!(
        !page.contains("id=\"auto-refresh\""),
        "a finished campaign does not refresh"
    );
    assert!(
        page.contains("3 of 3")
            && page.contains("google")
            && page.contains("microsoft")
            && page.contains("other")
    );
    let bounces = get(&s, "/admin/bounces", &admin);
    assert_eq!(bounces.status, 200);

    // An editor sees campaigns, not the bounce log (it names addresses).
    let (editor, _) = sign_in(
        &s,
        "nl_login",
        "nl_admin",
        "ed@example.org",
        EDITOR_PASSWORD,
    );
    let editor = editor.unwrap();
    assert_eq!(get(&s, "/admin/campaigns/912", &editor).status, 200);
    assert_eq!(get(&s, "/admin/bounces", &editor).status, 403);
    assert_eq!(get(&s, "/admin/campaigns/77", &admin).status, 404);
}

/// Waits for an import's page to show its outcome (it runs in the background).
fn import_outcome(s: &Server, session: &str, started: &Reply) -> String {
    assert_eq!(started.status, 303, "{}", started.head);
    let job = location(started);
    assert!(job.starts_with("/admin/import/"), "{job}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let page = get(s, &job, session);
        assert_eq!(page.status, 200);
        if !page.body.contains("id=\"auto-refresh\"") {
            return page.body;
        }
        assert!(page.body.contains("Importing"), "{}", page.body);
        assert!(
            std::time::Instant::now() < deadline,
            "the import never finished"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// The console's import has the CLI's semantics (all or nothing, each bad line by its number,
/// "import the valid rows", suppressed addresses left alone), and its export is the CLI's CSV.
async fn an_admin_imports_and_exports_the_list_over_http(db: TestDb) {
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let gone = common::newsletter(dir.path(), &db.url())
        .args(["subscribers", "add", "left@example.org"])
        .output()
        .unwrap();
    assert!(gone.status.success());
    let unsub = common::newsletter(dir.path(), &db.url())
        .args(["subscribers", "remove", "left@example.org"])
        .output()
        .unwrap();
    assert!(
        unsub.status.success(),
        "{}",
        String::from_utf8_lossy(&unsub.stderr)
    );
    let s = serve_logging(&db, &[("NEWSLETTER_ADMIN__PLAIN_LOOPBACK", "true")], None);
    let (session, _) = sign_in(&s, "nl_login", "nl_admin", "boss@example.org", PASSWORD);
    let session = session.unwrap();
    let page = get(&s, "/admin/import", &session);
    let csrf = csrf_field(&page.body);

    // 20,000 rows, a bad one on line 7,778 and one with a quoted comma in its name.
    let mut csv = String::from("\u{feff}Name,E-mail\r\n");
    for i in 0..20_000 {
        if i == 7_776 {
            csv.push_str("Broken,not an address\r\n");
        } else {
            csv.push_str(&format!("\"Reader, No. {i}\",reader{i:05}@example.org\r\n"));
        }
    }
    csv.push_str("Came back,left@example.org\r\n");
    let refused = multipart(
        &s,
        "/admin/import",
        &session,
        &[("csrf", None, &csrf), ("file", Some("list.csv"), &csv)],
    );
    let outcome = import_outcome(&s, &session, &refused);
    assert!(
        outcome.contains("Nothing was imported: 1 invalid row(s)"),
        "{outcome}"
    );
    assert!(
        outcome.contains("<td>7778</td>"),
        "the line is named: {outcome}"
    );
    let export = get(&s, "/admin/export.csv", &session);
    assert_eq!(export.status, 200);
    assert_eq!(
        export.body.lines().count(),
        2,
        "nothing was added: {}",
        export.body
    );

    let started = multipart(
        &s,
        "/admin/import",
        &session,
        &[
            ("csrf", None, &csrf),
            ("skip_invalid", None, "1"),
            ("file", Some("list.csv"), &csv),
        ],
    );
    let outcome = import_outcome(&s, &session, &started);
    assert!(
        outcome.contains("Added 19999, updated 0, skipped 1, invalid 1."),
        "{outcome}"
    );
    assert!(
        outcome.contains("unsubscribed; use --resubscribe to bring back"),
        "{outcome}"
    );

    // The export: a header, then every subscriber, streamed.
    let export = get(&s, "/admin/export.csv", &session);
    assert!(
        export
            .head
            .to_lowercase()
            .contains("content-type: text/csv"),
        "{}",
        export.head
    );
    let lines: Vec<&str> = export.body.lines().collect();
    assert_eq!(lines[0], "email,name,status,created");
    assert_eq!(
        lines.len(),
        1 + 20_000,
        "19,999 readers and the one who left"
    );
    assert!(
        export
            .body
            .contains("reader07775@example.org,\"Reader, No. 7775\",active,")
    );
    assert!(export.body.contains("left@example.org,,unsubscribed,"));
    let active = get(&s, "/admin/export.csv?status=active", &session);
    assert_eq!(active.body.lines().count(), 1 + 19_999);
    assert_eq!(
        get(&s, "/admin/export.csv?status=nonsense", &session).status,
        400
    );
    let audit = get(&s, "/admin/audit", &session).body;
    assert!(
        audit.contains("import finished") && audit.contains("exported subscribers"),
        "{audit}"
    );
}
