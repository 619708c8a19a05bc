//! The administrators' console's security, over a real socket against the real `newsletter serve`,
//! on SQLite and PostgreSQL: accounts made by `newsletter admins add`, sign-in with its CSRF token
//! and limits, session cookies and their flags, expiry and forgery, CSRF on every POST, the editor
//! kept from subscriber data, the audit log, and no secret in the server's log.

use crate::common;
use crate::common::console::{
    EDITOR_PASSWORD, PASSWORD, add_account, cookie, csrf_field, form, get, import_outcome,
    location, multipart, serve, set_cookies, sign_in, signed_in, urlencode,
};
use crate::common::db::TestDb;
use crate::common::web::{Server, serve_logging};

both_backends!(
    the_search_folds_names_as_people_expect,
    an_admin_controls_an_issue_through_confirmations_and_sees_what_happened,
    an_admin_undoes_their_own_unsubscribe_in_the_same_session_only,
    the_console_is_closed_without_a_session_and_guards_every_post,
    an_admin_finds_a_subscriber_and_changes_them_only_as_allowed,
    an_admin_imports_and_exports_the_list_over_http
);

/// Runs the binary in `dir` against `db` with `args`, and asserts it succeeded.
fn cli_ok(dir: &std::path::Path, db: &TestDb, args: &[&str]) {
    let out = common::run(dir, &db.url(), args, None);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn the_console_is_closed_without_a_session_and_guards_every_post(db: TestDb) {
    add_account(&db, "Boss@Example.org", "admin", PASSWORD);
    add_account(&db, "ed@example.org", "editor", EDITOR_PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let listed = common::run(
        dir.path(),
        &db.url(),
        &["subscribers", "add", "reader@example.org"],
        None,
    );
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
    let session = signed_in(&s, "boss@example.org", PASSWORD);
    assert_eq!(get(&s, "/admin/", &session).status, 200);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let r = get(&s, "/admin/", &session);
    assert_eq!(r.status, 303, "expired: {}", r.head);
    assert_eq!(location(&r), "/admin/login");
}

async fn an_admin_finds_a_subscriber_and_changes_them_only_as_allowed(db: TestDb) {
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("email,name\n");
    for i in 0..120 {
        text.push_str(&format!("reader{i:03}@example.org,Reader {i}\n"));
    }
    text.push_str("ferris@rust-lang.org,Ferris the Crab\nbounce@example.net,Bouncy\n");
    common::import_csv_ok(common::newsletter(dir.path(), &db.url()), &text);
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
    let s = serve(&db);
    let session = signed_in(&s, "boss@example.org", PASSWORD);

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
    let outbox = common::small_issue_sent(
        dir.path(),
        &db.url(),
        "email\na@gmail.com\nb@example.org\nc@outlook.de\n",
        &["--enqueue-only"],
    );
    let run = |args: &[&str]| cli_ok(dir.path(), &db, args);
    let s = serve(&db);
    let admin = signed_in(&s, "boss@example.org", PASSWORD);

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
    let editor = signed_in(&s, "ed@example.org", EDITOR_PASSWORD);
    assert_eq!(get(&s, "/admin/campaigns/912", &editor).status, 200);
    assert_eq!(get(&s, "/admin/bounces", &editor).status, 403);
    assert_eq!(get(&s, "/admin/campaigns/77", &admin).status, 404);
}

/// The console's import has the CLI's semantics (all or nothing, each bad line by its number,
/// "import the valid rows", suppressed addresses left alone), and its export is the CLI's CSV.
async fn an_admin_imports_and_exports_the_list_over_http(db: TestDb) {
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let gone = common::run(
        dir.path(),
        &db.url(),
        &["subscribers", "add", "left@example.org"],
        None,
    );
    assert!(gone.status.success());
    let unsub = common::run(
        dir.path(),
        &db.url(),
        &["subscribers", "remove", "left@example.org"],
        None,
    );
    assert!(
        unsub.status.success(),
        "{}",
        String::from_utf8_lossy(&unsub.stderr)
    );
    let s = serve(&db);
    let session = signed_in(&s, "boss@example.org", PASSWORD);
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
        outcome.contains("<td data-label=\"Line\">7778</td>"),
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

/// Issue #23, item 3: an administrator schedules again, pauses, resumes and cancels an issue from
/// its page; each button leads to a confirmation that says what will happen, with the numbers and
/// the issue number, and changes nothing; the POST (with its CSRF token) does it, is audited, and
/// the page says what happened. An editor sees the state and no control.
async fn an_admin_controls_an_issue_through_confirmations_and_sees_what_happened(db: TestDb) {
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    add_account(&db, "ed@example.org", "editor", EDITOR_PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let mut list = String::from("email\n");
    for i in 0..1203 {
        list.push_str(&format!("reader{i:04}@example.org\n"));
    }
    common::small_issue_sent(dir.path(), &db.url(), &list, &["--at", "2099-07-01 09:30"]);
    let s = serve(&db);
    let admin = signed_in(&s, "boss@example.org", PASSWORD);
    let page = get(&s, "/admin/campaigns/912", &admin);
    assert_eq!(page.status, 200);
    for control in [
        "Send now…",
        "Pause…",
        "Cancel the issue…",
        "Move to this time…",
    ] {
        assert!(page.body.contains(control), "{control}: {}", page.body);
    }
    assert!(!page.body.contains("Resume…"), "not paused: no Resume");
    let csrf = csrf_field(&page.body);
    let state = |s: &Server| {
        let b = get(s, "/admin/campaigns/912", &admin).body;
        let at = b.find("<dt>State</dt><dd>").expect("a state") + "<dt>State</dt><dd>".len();
        b[at..].split('<').next().unwrap().to_string()
    };

    // A confirmation says what will happen, in numbers, and changes nothing.
    let confirm = get(&s, "/admin/campaigns/912/cancel", &admin);
    assert_eq!(confirm.status, 200);
    assert!(
        confirm
            .body
            .contains("1,203 readers will not get issue 912"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains("Cancel issue 912") && confirm.body.contains("cannot be undone"));
    assert_eq!(
        state(&s),
        "scheduled",
        "a confirmation page changes nothing"
    );
    let confirm = get(&s, "/admin/campaigns/912/pause", &admin);
    assert!(
        confirm.body.contains("1,203 readers are still waiting"),
        "{}",
        confirm.body
    );

    // Without the session's token, nothing happens.
    let forged = form(&s, "/admin/campaigns/912/cancel", &admin, "");
    assert_eq!(forged.status, 403);
    assert!(
        forged.body.contains("class=\"flash error\"")
            && forged.body.contains("not from your current sign-in")
            && forged.body.contains("Nothing was changed."),
        "a refusal in colour and words: {}",
        forged.body
    );
    assert_eq!(state(&s), "scheduled");

    // Another time: not one in the past; a future one, said back on the page.
    let r = form(
        &s,
        "/admin/campaigns/912/reschedule",
        &admin,
        &format!("csrf={}&at=2001-01-01T10:00", urlencode(&csrf)),
    );
    assert_eq!(r.status, 400);
    assert!(r.body.contains("already passed"), "{}", r.body);
    let moved = get(
        &s,
        "/admin/campaigns/912/reschedule?at=2098-03-02T08%3A15",
        &admin,
    );
    assert!(
        moved.body.contains("Sun 2 Mar 2098, 08:15") && moved.body.contains("1,203 readers"),
        "{}",
        moved.body
    );
    let r = form(
        &s,
        "/admin/campaigns/912/reschedule",
        &admin,
        &format!("csrf={}&at=2098-03-02T08%3A15", urlencode(&csrf)),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(location(&r), "/admin/campaigns/912?done=rescheduled");
    let after = get(&s, &location(&r), &admin).body;
    assert!(
        after.contains("Issue 912 is moved") && after.contains("Sun 2 Mar 2098, 08:15"),
        "{after}"
    );

    // Pause, then resume: each said on the page with its counts.
    let r = form(
        &s,
        "/admin/campaigns/912/pause",
        &admin,
        &format!("csrf={}", urlencode(&csrf)),
    );
    assert_eq!(location(&r), "/admin/campaigns/912?done=paused");
    let after = get(&s, &location(&r), &admin).body;
    assert!(
        after.contains("Issue 912 is paused.") && after.contains("1,203 readers waiting"),
        "{after}"
    );
    assert_eq!(state(&s), "paused");
    assert!(after.contains("Resume…") && !after.contains("Pause…"));
    let r = form(
        &s,
        "/admin/campaigns/912/resume",
        &admin,
        &format!("csrf={}", urlencode(&csrf)),
    );
    assert_eq!(location(&r), "/admin/campaigns/912?done=resumed");
    assert!(
        get(&s, &location(&r), &admin)
            .body
            .contains("Issue 912 is resumed.")
    );
    assert_eq!(
        state(&s),
        "scheduled",
        "it never started, so it waits for its time again"
    );

    // An editor sees the state, not the controls, and cannot use them.
    let editor = signed_in(&s, "ed@example.org", EDITOR_PASSWORD);
    let seen = get(&s, "/admin/campaigns/912", &editor);
    assert_eq!(seen.status, 200);
    assert!(
        seen.body.contains("scheduled") && !seen.body.contains("Pause…"),
        "{}",
        seen.body
    );
    assert_eq!(get(&s, "/admin/campaigns/912/pause", &editor).status, 403);
    let editor_csrf = csrf_field(&seen.body);
    let r = form(
        &s,
        "/admin/campaigns/912/cancel",
        &editor,
        &format!("csrf={}", urlencode(&editor_csrf)),
    );
    assert_eq!(r.status, 403);
    assert_eq!(state(&s), "scheduled");

    // Cancel: the page says who will not get it; a cancelled issue cannot be resumed.
    let r = form(
        &s,
        "/admin/campaigns/912/cancel",
        &admin,
        &format!("csrf={}", urlencode(&csrf)),
    );
    assert_eq!(location(&r), "/admin/campaigns/912?done=cancelled");
    let after = get(&s, &location(&r), &admin).body;
    assert!(
        after.contains("Issue 912 is cancelled.")
            && after.contains("1,203 readers will not get it"),
        "{after}"
    );
    let r = form(
        &s,
        "/admin/campaigns/912/resume",
        &admin,
        &format!("csrf={}", urlencode(&csrf)),
    );
    assert_eq!(r.status, 409);
    assert!(
        r.body
            .contains("issue 912 is cancelled now, so it cannot be resumed"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("class=\"flash error\""),
        "an error in colour and words"
    );
    // A flash is a code, never text from the address.
    let odd = get(&s, "/admin/campaigns/912?done=%3Cb%3Ehi", &admin).body;
    assert!(!odd.contains("<b>hi") && !odd.contains("class=\"flash\""));

    let audit = get(&s, "/admin/audit", &admin).body;
    for needle in [
        "reschedule issue",
        "pause issue",
        "resume issue",
        "cancel issue",
        "refused: campaign control (editor)",
    ] {
        assert!(audit.contains(needle), "{needle}: {audit}");
    }
    let out = common::run(
        dir.path(),
        &db.url(),
        &["status", "912", "--format", "json"],
        None,
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["counts"]["sent"], 0, "nothing went out: {json}");
}

/// Issue #23, item 4: an administrator's own unsubscribe can be undone from the flash that follows
/// it, in the same session, once; it puts the reader back as they were without asking them. Another
/// session cannot, and a reader's own unsubscribe is not offered at all.
async fn an_admin_undoes_their_own_unsubscribe_in_the_same_session_only(db: TestDb) {
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    for who in ["ana@example.org", "ben@example.org"] {
        let out = common::run(dir.path(), &db.url(), &["subscribers", "add", who], None);
        assert!(out.status.success());
    }
    let s = serve(&db);
    let admin = signed_in(&s, "boss@example.org", PASSWORD);
    let page = get(&s, "/admin/subscribers/1", &admin);
    assert!(
        page.body.contains("ana@example.org</strong>: active"),
        "{}",
        page.body
    );
    let csrf = csrf_field(&page.body);
    let r = form(
        &s,
        "/admin/subscribers/1/unsubscribe",
        &admin,
        &format!("csrf={}", urlencode(&csrf)),
    );
    assert_eq!(r.status, 303);
    assert_eq!(location(&r), "/admin/subscribers/1?done=unsubscribed");
    let flash = get(&s, &location(&r), &admin).body;
    assert!(
        flash.contains("ana@example.org is unsubscribed.")
            && flash.contains("action=\"/admin/subscribers/1/undo\""),
        "{flash}"
    );

    // Another session of the same administrator is not offered the undo, and cannot use it.
    let other = signed_in(&s, "boss@example.org", PASSWORD);
    let seen = get(&s, "/admin/subscribers/1?done=unsubscribed", &other).body;
    assert!(!seen.contains("/undo"), "{seen}");
    let other_csrf = csrf_field(&seen);
    let r = form(
        &s,
        "/admin/subscribers/1/undo",
        &other,
        &format!("csrf={}", urlencode(&other_csrf)),
    );
    assert_eq!(r.status, 409);
    assert!(r.body.contains("can no longer be undone"), "{}", r.body);

    // Without the token, nothing; with it, the reader is back, and told so.
    assert_eq!(
        form(&s, "/admin/subscribers/1/undo", &admin, "").status,
        403
    );
    let r = form(
        &s,
        "/admin/subscribers/1/undo",
        &admin,
        &format!("csrf={}", urlencode(&csrf)),
    );
    assert_eq!(location(&r), "/admin/subscribers/1?done=undone");
    let back = get(&s, &location(&r), &admin).body;
    assert!(
        back.contains("Undone: ana@example.org is active again.")
            && back.contains("ana@example.org</strong>: active"),
        "{back}"
    );
    assert!(
        back.contains("undo by boss@example.org"),
        "the history says why: {back}"
    );
    // Once only.
    let r = form(
        &s,
        "/admin/subscribers/1/undo",
        &admin,
        &format!("csrf={}", urlencode(&csrf)),
    );
    assert_eq!(r.status, 409);

    // A reader who left by themselves: no undo is offered, and none works.
    let out = common::run(
        dir.path(),
        &db.url(),
        &["subscribers", "remove", "ben@example.org"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ben = get(&s, "/admin/subscribers/2?done=unsubscribed", &admin).body;
    assert!(!ben.contains("/undo"), "{ben}");
    let r = form(
        &s,
        "/admin/subscribers/2/undo",
        &admin,
        &format!("csrf={}", urlencode(&csrf)),
    );
    assert_eq!(r.status, 409);

    // Forgetting says so on the page it leads to.
    let r = form(
        &s,
        "/admin/subscribers/2/forget",
        &admin,
        &format!("csrf={}", urlencode(&csrf)),
    );
    assert_eq!(location(&r), "/admin/subscribers?done=forgotten");
    assert!(
        get(&s, &location(&r), &admin)
            .body
            .contains("The subscriber is forgotten.")
    );
    let audit = get(&s, "/admin/audit", &admin).body;
    assert!(audit.contains("undo subscriber"), "{audit}");
}

/// Issue #23, item 7: the search finds names as people write them: "Weiss" finds "Weiß", "Muller"
/// and "Müller" find "Müller", whatever the case, through the first rows scanned and through the
/// index alike (the named readers come after 6,000 others); a query too short to search names
/// says so.
async fn the_search_folds_names_as_people_expect(db: TestDb) {
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let mut list = String::from("email,name\n");
    for i in 0..6000 {
        list.push_str(&format!("reader{i:05}@example.org,Reader {i}\n"));
    }
    list.push_str(
        "jw@example.de,Jürgen Weiß\nam@example.at,Anna Müller\nzoe@example.fr,ZOË DUPRÉ\n",
    );
    common::import_csv_ok(common::newsletter(dir.path(), &db.url()), &list);
    cli_ok(
        dir.path(),
        &db,
        &[
            "subscribers",
            "add",
            "first@example.org",
            "--name",
            "Gößwein Straße",
        ],
    );
    let s = serve(&db);
    let admin = signed_in(&s, "boss@example.org", PASSWORD);
    let found = |q: &str| {
        get(
            &s,
            &format!("/admin/subscribers?q={}", urlencode(q)),
            &admin,
        )
        .body
    };
    for (q, who) in [
        ("Weiss", "jw@example.de"),
        ("weiß", "jw@example.de"),
        ("WEISS", "jw@example.de"),
        ("jurgen", "jw@example.de"),
        ("Muller", "am@example.at"),
        ("Müller", "am@example.at"),
        ("zoe dupre", "zoe@example.fr"),
        ("Dupré", "zoe@example.fr"),
        ("strasse", "first@example.org"),
        ("gosswein", "first@example.org"),
    ] {
        let page = found(q);
        if who.is_empty() {
            assert!(page.contains("Nobody matches."), "{q}: {page}");
        } else {
            assert!(page.contains(who), "{q} finds {who}: {page}");
        }
    }
    let short = found("we");
    assert!(
        short.contains("Only the start of addresses was searched"),
        "a hint for a short query: {short}"
    );
    assert!(
        !found("weiss").contains("Only the start"),
        "no hint for a full query"
    );
}

/// Issue #23, item 6: a reader's server accepted issue 912 and later sent it back: the subscriber's
/// page says the delivery bounced (with the class in words), not "sent" beside a hard bounce, and
/// names the issue by its number.
#[tokio::test]
async fn a_delivery_that_bounced_later_says_so() {
    use newsletter::domain::EmailAddress;
    let db = TestDb::sqlite();
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    common::small_issue_sent(
        dir.path(),
        &db.url(),
        "email\ngone@example.com\nfine@example.com\n",
        &[],
    );
    // The ids and the VERP key, read from a copy of the database: this test's own library would
    // migrate the original, and the binary under test may be an older one.
    let TestDb::Sqlite(_, path) = &db else {
        unreachable!()
    };
    let copy = dir.path().join("copy.db");
    std::fs::copy(path, &copy).unwrap();
    for ext in ["-wal", "-shm"] {
        let side = std::path::PathBuf::from(format!("{}{ext}", path.display()));
        if side.exists() {
            std::fs::copy(&side, format!("{}{ext}", copy.display())).unwrap();
        }
    }
    let store = newsletter::store::Store::connect(&format!("sqlite://{}", copy.display()))
        .await
        .unwrap();
    let campaign = store.campaign_by_number(912).await.unwrap().unwrap().id;
    let gone = store
        .find_by_email(&EmailAddress::parse("gone@example.com").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let verp = newsletter::mail::Verp::new(
        &store.verp_key().await.unwrap(),
        "bounces.this-week-in-rust.org",
    );
    store.close().await;
    let dsn = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/bounces/dsn-verp-hard.eml"),
    )
    .unwrap()
    .replace("{{VERP}}", "bounces@bounces.this-week-in-rust.org")
    .replace("{{EMAIL}}", "gone@example.com")
    .replace("{{SUB}}", &gone.to_string())
    .replace('\n', "\r\n");
    let out = common::run(
        dir.path(),
        &db.url(),
        &[
            "bounces",
            "process",
            "--stdin",
            "--recipient",
            &verp.address(campaign, gone),
        ],
        Some(dsn.as_bytes()),
    );
    assert!(
        out.status.success(),
        "bounces process: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = serve(&db);
    let admin = signed_in(&s, "boss@example.org", PASSWORD);
    let page = get(&s, &format!("/admin/subscribers/{gone}"), &admin).body;
    assert!(page.contains("</strong>: bounced"), "{page}");
    let deliveries =
        &page[page.find("<h2>Deliveries</h2>").unwrap()..page.find("<h2>Bounces</h2>").unwrap()];
    assert!(
        deliveries.contains("Issue 912")
            && deliveries.contains("<strong>bounced</strong>: Permanent failure")
            && deliveries.contains("then sent it back"),
        "{deliveries}"
    );
    assert!(
        !deliveries.contains("delivered to the reader") && !deliveries.contains(">sent<"),
        "no bare 'sent' beside the bounce: {deliveries}"
    );
    let fine = gone + 1;
    let page = get(&s, &format!("/admin/subscribers/{fine}"), &admin).body;
    assert!(
        page.contains("delivered to the reader&#39;s server")
            || page.contains("delivered to the reader's server"),
        "{page}"
    );
    assert!(!page.to_lowercase().contains("campaign 1"), "{page}");
}
