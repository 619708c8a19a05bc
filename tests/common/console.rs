//! A client of the administrators' console over a real socket: accounts made by `newsletter admins
//! add`, the real `newsletter serve` open to plain loopback, the sign-in form with its CSRF token,
//! and the GETs, form POSTs and uploads a signed-in browser makes.

use super::db::TestDb;
use super::web::{Reply, Server, http_with, serve_with};

/// The administrator's password most console tests sign in with.
pub const PASSWORD: &str = "correct horse battery staple";
/// The editor's.
pub const EDITOR_PASSWORD: &str = "an editor's own long password";

/// The setting that lets the console set its cookies without `Secure` on plain loopback HTTP.
pub const PLAIN_LOOPBACK: (&str, &str) = ("NEWSLETTER_ADMIN__PLAIN_LOOPBACK", "true");

/// An account made by `newsletter admins add EMAIL --role ROLE`, its password typed on standard
/// input.
pub fn add_account(db: &TestDb, email: &str, role: &str, password: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = super::run(
        dir.path(),
        &db.url(),
        &["admins", "add", email, "--role", role],
        Some(format!("{password}\n").as_bytes()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `newsletter serve` on `db` with the console open to plain loopback.
pub fn serve(db: &TestDb) -> Server {
    serve_with(db, &[PLAIN_LOOPBACK])
}

/// The `Set-Cookie` lines of a reply.
pub fn set_cookies(r: &Reply) -> Vec<String> {
    r.headers("set-cookie")
}

/// The value of cookie `name` set by a reply.
pub fn cookie(r: &Reply, name: &str) -> Option<String> {
    set_cookies(r).iter().find_map(|c| {
        let first = c.split(';').next()?;
        let (k, v) = first.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// Where a reply sends the browser (empty when nowhere).
pub fn location(r: &Reply) -> String {
    r.headers("location").into_iter().next().unwrap_or_default()
}

/// The hidden CSRF field of a page.
pub fn csrf_field(body: &str) -> String {
    let at =
        body.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    body[at..].split('"').next().unwrap().to_string()
}

/// A GET with the cookie `cookie` (`name=value`, or empty).
pub fn get(s: &Server, path: &str, cookie: &str) -> Reply {
    http_with(&s.addr, "GET", path, &[("Cookie", cookie)], "")
}

/// A form POST (`application/x-www-form-urlencoded`) with the cookie `cookie`.
pub fn form(s: &Server, path: &str, cookie: &str, body: &str) -> Reply {
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
pub fn multipart(
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

/// `v` percent-encoded for a form or a query.
pub fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Signs in through the form; returns the session cookie (`name=value`) and the reply.
pub fn sign_in(
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

/// The session cookie of a sign-in on a plain loopback console ([`serve`]), which must succeed.
pub fn signed_in(s: &Server, email: &str, password: &str) -> String {
    sign_in(s, "nl_login", "nl_admin", email, password)
        .0
        .unwrap()
}

/// Waits for an import's page to show its outcome (it runs in the background).
pub fn import_outcome(s: &Server, session: &str, started: &Reply) -> String {
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
