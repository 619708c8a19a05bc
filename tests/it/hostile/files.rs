//! Hostile input, second round (issue #21): files. Findings 3 (the drafts picker read a FIFO or a
//! link to `/dev/zero` on the executor), 7 (the preview ignored the 4 MiB limit of `send`), 9 (the
//! database and the outbox were created with the umask) and the preview half of 10 (its frames
//! loaded remote images). Each over the real `newsletter serve` or the real binary, started by
//! `sh` under `umask 022` as an operator's shell would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::console::{PASSWORD, add_account, csrf_field};
use crate::common::db::TestDb;
use crate::common::web::Server;

/// A draft `send` accepts.
fn small_draft() -> String {
    std::fs::read_to_string(common::small_issue()).unwrap()
}

/// `newsletter serve` started as `sh -c 'umask 022; ulimit -v …; exec newsletter …'`: the umask
/// an operator's shell has, and an address-space cap (8 GiB) so that a server reading `/dev/zero`
/// dies instead of taking the machine with it.
fn serve_umask_022(db: &TestDb, env: &[(&str, &str)]) -> Server {
    let outbox = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "umask 022; ulimit -v 8388608; exec \"$0\" \"$@\"",
        common::bin().to_str().unwrap(),
        "--database-url",
        &db.url(),
        "serve",
        "--bind",
        "127.0.0.1:0",
    ])
    .env(
        "NEWSLETTER_TRANSPORT__URL",
        format!("file:{}", outbox.path().display()),
    )
    .env("NEWSLETTER_ADMIN__PLAIN_LOOPBACK", "true")
    .env_remove("NEWSLETTER_CONFIG")
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Server::start(cmd, outbox)
}

struct Answer {
    status: u16,
    head: String,
    body: String,
    took: Duration,
}

/// One HTTP/1.1 request over a real socket that gives up after `wait`: an `Err` says the server
/// did not answer in time (or at all).
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    wait: Duration,
) -> Result<Answer, String> {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(wait)).unwrap();
    s.set_write_timeout(Some(wait)).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    s.write_all(body)
        .map_err(|e| format!("{method} {path}: sending: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| {
        format!(
            "{method} {path}: no answer within {wait:?} ({e}) after {:?}",
            start.elapsed()
        )
    })?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{method} {path}: not an HTTP answer: {head:?}"))?;
    Ok(Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
        took: start.elapsed(),
    })
}

fn header(a: &Answer, name: &str) -> Option<String> {
    a.head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

fn cookie(a: &Answer, name: &str) -> String {
    a.head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("set-cookie"))
        .find_map(|(_, v)| {
            let first = v.trim().split(';').next()?;
            first
                .starts_with(&format!("{name}="))
                .then(|| first.to_string())
        })
        .unwrap_or_else(|| panic!("no {name} cookie: {}", a.head))
}

const WAIT: Duration = Duration::from_secs(20);

/// Signs in as a new admin; returns the session cookie and the preview form's CSRF token.
fn sign_in(s: &Server) -> (String, String) {
    let page = request(&s.addr, "GET", "/admin/login", &[], b"", WAIT).unwrap();
    let login = cookie(&page, "nl_login");
    let body = format!(
        "csrf={}&email=boss%40example.org&password={}",
        csrf_field(&page.body),
        PASSWORD.replace(' ', "+")
    );
    let r = request(
        &s.addr,
        "POST",
        "/admin/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &login),
        ],
        body.as_bytes(),
        WAIT,
    )
    .unwrap();
    assert_eq!(r.status, 303, "sign-in: {}", r.head);
    let session = cookie(&r, "nl_admin");
    let form = request(
        &s.addr,
        "GET",
        "/admin/preview",
        &[("Cookie", &session)],
        b"",
        WAIT,
    )
    .unwrap();
    assert_eq!(form.status, 200, "{}", form.head);
    (session, csrf_field(&form.body))
}

/// `POST /admin/preview` with (field, file name, content) parts.
fn preview(
    addr: &str,
    session: &str,
    parts: &[(&str, Option<&str>, &[u8])],
    wait: Duration,
) -> Result<Answer, String> {
    let boundary = "----newsletter-files-boundary-9Zq";
    let mut body = Vec::new();
    for (name, file, content) in parts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
        );
        if let Some(f) = file {
            body.extend_from_slice(
                format!("; filename=\"{f}\"\r\nContent-Type: text/markdown").as_bytes(),
            );
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    request(
        addr,
        "POST",
        "/admin/preview",
        &[
            (
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            ),
            ("Cookie", session),
        ],
        &body,
        wait,
    )
}

/// The server's peak resident memory, in MiB (`VmHWM`).
fn peak_mib(s: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        / 1024
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path in our own temporary folder, with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// A file's permission bits, in octal as `ls` and `chmod` write them.
fn mode(path: &Path) -> String {
    let bits = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777;
    format!("{bits:o}")
}

/// Finding 3: a FIFO and a link to `/dev/zero` among the drafts. Each is refused at once with a
/// 422 that says what it is; two FIFO picks at once freeze nothing (`/health` answers within a
/// second meanwhile); and reading the link costs no memory.
#[test]
fn finding_21_03_a_fifo_or_a_device_among_the_drafts_is_refused_and_blocks_nothing() {
    let db = TestDb::sqlite();
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    let drafts = tempfile::tempdir().unwrap();
    std::fs::write(drafts.path().join("real.md"), small_draft()).unwrap();
    mkfifo(&drafts.path().join("pipe.md"));
    std::os::unix::fs::symlink("/dev/zero", drafts.path().join("zero.md")).unwrap();
    let s = serve_umask_022(
        &db,
        &[("NEWSLETTER_ADMIN__DRAFTS", drafts.path().to_str().unwrap())],
    );
    let (session, token) = sign_in(&s);
    let pick = |name: &'static str| {
        let (addr, session, token) = (s.addr.clone(), session.clone(), token.clone());
        std::thread::spawn(move || {
            preview(
                &addr,
                &session,
                &[
                    ("csrf", None, token.as_bytes()),
                    ("draft", None, name.as_bytes()),
                ],
                Duration::from_secs(10),
            )
        })
    };
    // The FIFO twice at once: on a two-core machine the old server blocked both executor threads.
    let picks = [pick("pipe.md"), pick("pipe.md")];
    std::thread::sleep(Duration::from_millis(300));
    let health = request(&s.addr, "GET", "/health", &[], b"", Duration::from_secs(3));
    for p in picks {
        let a = p.join().unwrap().expect("a FIFO pick is answered");
        assert_eq!(a.status, 422, "{}\n{}", a.head, a.body);
        assert!(a.body.contains("a FIFO"), "{}", a.body);
        assert!(a.took < Duration::from_secs(2), "took {:?}", a.took);
    }
    let health = health.expect("/health answers while FIFOs are picked");
    assert_eq!(health.status, 200);
    assert!(health.took < Duration::from_secs(1), "{:?}", health.took);

    let zero = preview(
        &s.addr,
        &session,
        &[
            ("csrf", None, token.as_bytes()),
            ("draft", None, b"zero.md"),
        ],
        Duration::from_secs(10),
    )
    .expect("a pick of the /dev/zero link is answered");
    assert_eq!(zero.status, 422, "{}\n{}", zero.head, zero.body);
    assert!(zero.body.contains("symbolic link"), "{}", zero.body);
    let peak = peak_mib(&s);
    eprintln!("peak resident memory after the FIFO and /dev/zero picks: {peak} MiB");
    assert!(peak < 200, "the server peaked at {peak} MiB");

    // The real draft next to them still previews.
    let real = preview(
        &s.addr,
        &session,
        &[
            ("csrf", None, token.as_bytes()),
            ("draft", None, b"real.md"),
        ],
        WAIT,
    )
    .unwrap();
    assert_eq!(real.status, 303, "{}\n{}", real.head, real.body);
}

/// Finding 7: a draft over 4 MiB (the limit of `send`) is refused with a 413 that names the limit,
/// whether it is picked from the folder, uploaded or pasted, and costs the server no more than a
/// draft within it; a draft of 4 MiB exactly still previews.
#[test]
fn finding_21_07_the_preview_obeys_the_issue_limit() {
    const LIMIT: usize = 4 * 1024 * 1024;
    let db = TestDb::sqlite();
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    let drafts = tempfile::tempdir().unwrap();
    let mut big = small_draft().into_bytes();
    let filler = b"\nA line of the issue, over and over, to make a large draft.\n";
    while big.len() <= LIMIT {
        big.extend_from_slice(filler);
    }
    big.truncate(LIMIT + 1);
    std::fs::write(drafts.path().join("big.md"), &big).unwrap();
    let s = serve_umask_022(
        &db,
        &[("NEWSLETTER_ADMIN__DRAFTS", drafts.path().to_str().unwrap())],
    );
    let (session, token) = sign_in(&s);
    let csrf = ("csrf", None, token.as_bytes());
    for (what, part) in [
        ("picked", ("draft", None, &b"big.md"[..])),
        ("uploaded", ("file", Some("big.md"), &big[..])),
        ("pasted", ("text", None, &big[..])),
    ] {
        let a = preview(&s.addr, &session, &[csrf, part], WAIT).unwrap();
        assert_eq!(a.status, 413, "{what}: {}\n{}", a.head, a.body);
        assert!(
            a.body.contains("4194304 bytes"),
            "{what}: the limit is named: {}",
            a.body
        );
    }
    let peak = peak_mib(&s);
    eprintln!("peak resident memory after three drafts over 4 MiB: {peak} MiB");
    assert!(peak < 200, "the server peaked at {peak} MiB");
    // Exactly at the limit is a draft like any other.
    let start = Instant::now();
    let a = preview(
        &s.addr,
        &session,
        &[csrf, ("file", Some("at.md"), &big[..LIMIT])],
        WAIT,
    )
    .unwrap();
    eprintln!(
        "a draft of 4 MiB exactly previewed in {:?}; peak {} MiB",
        start.elapsed(),
        peak_mib(&s)
    );
    assert!(a.status == 303 || a.status == 422, "{}\n{}", a.head, a.body);
}

/// Finding 10 (the preview): the frames showing the e-mail load no remote image, and the page says
/// so.
#[test]
fn finding_21_10_the_preview_loads_no_remote_image() {
    let db = TestDb::sqlite();
    add_account(&db, "boss@example.org", "admin", PASSWORD);
    let s = serve_umask_022(&db, &[]);
    let (session, token) = sign_in(&s);
    let draft = format!(
        "{}\n![A tracking pixel](https://tracker.example.net/pixel.png)\n",
        small_draft()
    );
    let a = preview(
        &s.addr,
        &session,
        &[
            ("csrf", None, token.as_bytes()),
            ("file", Some("pixel.md"), draft.as_bytes()),
        ],
        WAIT,
    )
    .unwrap();
    assert_eq!(a.status, 303, "{}\n{}", a.head, a.body);
    let page_path = header(&a, "location").unwrap();
    let page = request(
        &s.addr,
        "GET",
        &page_path,
        &[("Cookie", &session)],
        b"",
        WAIT,
    )
    .unwrap();
    assert_eq!(page.status, 200, "{}", page.head);
    assert!(
        page.body.contains("Remote images are not loaded"),
        "{}",
        page.body
    );
    let frame = request(
        &s.addr,
        "GET",
        &format!("{page_path}/html?scheme=light"),
        &[("Cookie", &session)],
        b"",
        WAIT,
    )
    .unwrap();
    assert_eq!(frame.status, 200, "{}", frame.head);
    assert!(
        frame.body.contains("tracker.example.net/pixel.png"),
        "the image is in the e-mail: {}",
        frame.body
    );
    let policy = header(&frame, "content-security-policy").unwrap();
    let img = policy
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("img-src"))
        .unwrap_or("img-src (none: default-src applies)");
    assert!(
        !img.contains("http") && !img.contains('*'),
        "the frame may load remote images: {policy}"
    );
}

/// Finding 9: under `umask 022`, the SQLite file and its -wal and -shm are 0600 while the server
/// runs, a database left world-readable by an older version is narrowed with a warning, and the
/// file outbox's folder is 0700 and its messages 0600.
#[test]
fn finding_21_09_the_database_and_the_outbox_are_private_whatever_the_umask() {
    let db = TestDb::sqlite();
    let TestDb::Sqlite(_, file) = &db else {
        unreachable!()
    };
    let file = file.clone();
    let wal = file.with_extension("db-wal");
    let shm = file.with_extension("db-shm");
    {
        let s = serve_umask_022(&db, &[]);
        // A sign-up writes, so the WAL is in use.
        let r = request(
            &s.addr,
            "POST",
            "/subscribe",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"email=reader%40example.org",
            WAIT,
        )
        .unwrap();
        assert!(r.status < 500, "{}", r.head);
        for f in [&file, &wal, &shm] {
            assert_eq!(mode(f), "600", "{}", f.display());
        }
    }

    // An older version's database, world-readable: narrowed, and the operator told.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let umask = |args: &[&str]| {
        let mut sh = Command::new("sh");
        sh.args(["-c", "umask 022; exec \"$0\" \"$@\""])
            .arg(common::bin())
            .args(args)
            .current_dir(dir.path())
            .env_remove("NEWSLETTER_CONFIG")
            .env_remove("NEWSLETTER_TRANSPORT")
            .env("NEWSLETTER_DATABASE_URL", db.url())
            .stdin(Stdio::null());
        sh.output().unwrap()
    };
    let out = umask(&["subscribers", "add", "second@example.org"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&file), "600", "narrowed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("readable by others") && err.contains("0600"),
        "the operator is told: {err}"
    );

    // The file outbox, in a folder `send` creates.
    let outbox = dir.path().join("out/box");
    let issue = common::small_issue();
    let out = umask(&[
        "send",
        issue.to_str().unwrap(),
        "--yes",
        "--transport",
        &format!("file:{}", outbox.display()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&outbox), "700", "the outbox folder");
    let messages: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!messages.is_empty(), "send wrote nothing");
    for m in &messages {
        assert_eq!(mode(m), "600", "{}", m.display());
    }
}
