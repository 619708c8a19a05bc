//! Hostile input, one test per finding of the security review (issue #11), each over the real
//! interface: the real binary, a real socket, a real SQLite file and a real PostgreSQL database.
//! Finding 1 (forged bounces) is `tests/it/bounces.rs::forged_bounces_change_nobody`.

use crate::common;

// Second round (issue #21), one file per surface.
mod console;
mod files;
mod intake;
mod render;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::db::TestDb;
use common::web::{API_TOKEN, http, http_with, one_click, serve, serve_with};
use newsletter::domain::{EmailAddress, SubscriberStatus};
use newsletter::store::{Source, Store};

both_backends!(
    finding_02_the_form_never_brings_back_a_left_address,
    finding_03_confirmation_links_survive_the_per_address_limit,
    finding_05_health_never_scans_and_metrics_are_private,
    finding_13_concurrent_requests_race_cleanly,
);

const FORM: &str = "application/x-www-form-urlencoded";

fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

async fn add(store: &Store, addr: &str) -> newsletter::store::Subscriber {
    store
        .add(&email(addr), None, SubscriberStatus::Active, Source::Cli)
        .await
        .unwrap();
    store.find_by_email(&email(addr)).await.unwrap().unwrap()
}

async fn status(store: &Store, addr: &str) -> SubscriberStatus {
    store
        .find_by_email(&email(addr))
        .await
        .unwrap()
        .unwrap()
        .status
}

fn subscribe(addr: &str, address: &str) -> u16 {
    http(
        addr,
        "POST",
        "/subscribe",
        Some(FORM),
        &format!("email={}", address.replace('@', "%40").replace('+', "%2B")),
    )
    .status
}

/// The confirmation tokens in the mails sent to `to`, oldest first.
fn confirm_links(mails: &[String], to: &str) -> Vec<String> {
    mails
        .iter()
        .filter(|m| m.contains(&format!("To: <{to}>")))
        .map(|m| {
            let decoded = m.replace("=\r\n", "");
            let line = decoded.lines().find(|l| l.contains("/confirm/")).unwrap();
            line.trim().rsplit('/').next().unwrap().to_string()
        })
        .collect()
}

/// Finding 2: `POST /subscribe` never changes an unsubscribed or bounced address; only its owner's use of
/// the confirmation link brings it back (with a new unsubscribe token). A plain import never
/// reactivates an address that left, nor a pending one that left before.
async fn finding_02_the_form_never_brings_back_a_left_address(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    let left = add(&store, "reader01@example.org").await;
    store
        .change_status(&left, SubscriberStatus::Unsubscribed, Source::Web, "link")
        .await
        .unwrap();
    let bounced = add(&store, "reader02@example.org").await;
    store
        .change_status(&bounced, SubscriberStatus::Bounced, Source::Bounce, "5.1.1")
        .await
        .unwrap();
    let server = serve(&db);
    for who in ["reader01@example.org", "reader02@example.org"] {
        assert_eq!(subscribe(&server.addr, who), 200);
    }
    server.settle();
    assert_eq!(
        status(&store, "reader01@example.org").await,
        SubscriberStatus::Unsubscribed
    );
    assert_eq!(
        status(&store, "reader02@example.org").await,
        SubscriberStatus::Bounced
    );
    // The old unsubscribe link still names the same row: nothing was rotated by a stranger.
    let now = store
        .find_by_email(&email("reader01@example.org"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.token, left.token);

    // A plain import brings neither back.
    let work = tempfile::tempdir().unwrap();
    let import =
        |csv: &str| common::import_csv(common::newsletter(work.path(), &db.url()), csv, &[]);
    let o = import("email\nreader01@example.org\nreader02@example.org\n");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("added 0, updated 0, skipped 2"), "{out}");
    assert_eq!(
        status(&store, "reader01@example.org").await,
        SubscriberStatus::Unsubscribed
    );

    // A pending row with a past of leaving (left by the old form) is as good as gone for import.
    let pending = add(&store, "reader03@example.org").await;
    let pending = store
        .change_status(
            &pending,
            SubscriberStatus::Unsubscribed,
            Source::Web,
            "link",
        )
        .await
        .unwrap();
    store
        .change_status(
            &pending,
            SubscriberStatus::Pending,
            Source::Web,
            "signed up again",
        )
        .await
        .unwrap();
    let o = import("email\nreader03@example.org\n");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("left the list before"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(
        status(&store, "reader03@example.org").await,
        SubscriberStatus::Pending
    );

    // The owner confirms: back, with a new unsubscribe token.
    let links = confirm_links(&server.mails(), "reader01@example.org");
    assert_eq!(links.len(), 1);
    let r = http(
        &server.addr,
        "POST",
        &format!("/confirm/{}", links[0]),
        Some(FORM),
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let back = store
        .find_by_email(&email("reader01@example.org"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.status, SubscriberStatus::Active);
    assert_ne!(
        back.token, left.token,
        "links mailed before they left cannot act"
    );
}

/// Finding 3: Past the per-address limit no mail goes out and no token changes: every link already mailed
/// still works.
async fn finding_03_confirmation_links_survive_the_per_address_limit(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    let server = serve(&db);
    for _ in 0..5 {
        assert_eq!(subscribe(&server.addr, "newcomer@example.org"), 200);
    }
    server.settle();
    let links = confirm_links(&server.mails(), "newcomer@example.org");
    assert_eq!(links.len(), 3, "the limit is 3 mails");
    assert!(
        links.iter().all(|l| l == &links[0]),
        "one token, mailed three times"
    );
    let r = http(
        &server.addr,
        "POST",
        &format!("/confirm/{}", links[0]),
        Some(FORM),
        "",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        status(&store, "newcomer@example.org").await,
        SubscriberStatus::Active
    );
}

/// Finding 4: `-vv` raises our crate's level only: a `check` of the 2024-size issue logs kilobytes, not the
/// gigabytes of its dependencies' trace output.
#[test]
fn finding_04_verbose_logs_only_our_crate() {
    let issue = common::fixtures_dir().join("large-2024.md");
    let o = Command::new(common::bin())
        .args(["-vvv", "check", issue.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .env_remove("NEWSLETTER_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.len() < 100_000, "{} bytes of logs", err.len());
    for line in err.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            !line.contains(" comrak")
                && !line.contains(" css_inline")
                && !line.contains(" html5ever"),
            "a dependency logged: {line}"
        );
    }
    // RUST_LOG still lets an operator ask for more (a dropped link is logged at debug).
    let placeholders = common::fixtures_dir().join("placeholders.md");
    let o = Command::new(common::bin())
        .args(["check", placeholders.to_str().unwrap()])
        .env("RUST_LOG", "newsletter=debug")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("DEBUG"));
}

/// Finding 5: `/health` is one round trip that reads no table, so it answers while the subscribers table
/// is locked (PostgreSQL) or busy; `/metrics` is served from a 30 s cache and needs the admin
/// token, or is served only on its own address.
async fn finding_05_health_never_scans_and_metrics_are_private(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    add(&store, "counted@example.org").await;
    let server = serve(&db);
    assert_eq!(http(&server.addr, "GET", "/metrics", None, "").status, 401);
    let auth = format!("Bearer {API_TOKEN}");
    let m = http_with(
        &server.addr,
        "GET",
        "/metrics",
        &[("Authorization", &auth)],
        "",
    );
    assert!(
        m.body
            .contains("newsletter_subscribers{status=\"active\"} 1"),
        "{}",
        m.body
    );
    if let TestDb::Postgres(_) = db {
        // Another session holds the table: a scan would wait; health and cached metrics do not.
        let pool = sqlx::PgPool::connect(&db.url()).await.unwrap();
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("LOCK TABLE subscribers IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .unwrap();
        let t = Instant::now();
        assert_eq!(http(&server.addr, "GET", "/health", None, "").status, 200);
        let m = http_with(
            &server.addr,
            "GET",
            "/metrics",
            &[("Authorization", &auth)],
            "",
        );
        assert_eq!(m.status, 200);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        tx.rollback().await.unwrap();
    }
    // With a metrics address of its own: served there without a token, and not on the main one.
    let port = common::smtp::free_port();
    let other = serve_with(
        &db,
        &[("NEWSLETTER_WEB__METRICS_BIND", &format!("127.0.0.1:{port}"))],
    );
    let m = http(&format!("127.0.0.1:{port}"), "GET", "/metrics", None, "");
    assert_eq!(m.status, 200);
    assert!(
        m.body
            .contains("newsletter_subscribers{status=\"active\"} 1")
    );
    assert_eq!(
        http_with(
            &other.addr,
            "GET",
            "/metrics",
            &[("Authorization", &auth)],
            ""
        )
        .status,
        404
    );
}

/// Finding 6: The per-IP sign-up limit reads the client from X-Forwarded-For only when the peer is a
/// trusted proxy; without the setting, the header is ignored.
#[test]
fn finding_06_the_ip_limit_sees_clients_behind_a_trusted_proxy() {
    let db = TestDb::sqlite();
    let post = |addr: &str, client: &str, who: &str| {
        http_with(
            addr,
            "POST",
            "/subscribe",
            &[("Content-Type", FORM), ("X-Forwarded-For", client)],
            &format!("email={who}%40example.org"),
        )
        .status
    };
    let behind = serve_with(
        &db,
        &[
            ("NEWSLETTER_SUBSCRIBE__PER_IP", "2"),
            ("NEWSLETTER_WEB__TRUSTED_PROXIES", "127.0.0.1,::1"),
        ],
    );
    // Ten clients behind the proxy each get their own allowance.
    for i in 0..10 {
        assert_eq!(
            post(&behind.addr, &format!("198.51.100.{i}"), &format!("c{i}")),
            200
        );
    }
    assert_eq!(post(&behind.addr, "198.51.100.1", "again"), 200);
    assert_eq!(post(&behind.addr, "198.51.100.1", "again2"), 429);
    // A client cannot dodge the limit by writing the header itself: only the proxy's entry counts.
    assert_eq!(
        post(&behind.addr, "203.0.113.50, 198.51.100.1", "again3"),
        429
    );
    // Without trusted proxies, the header means nothing.
    let direct = serve_with(&db, &[("NEWSLETTER_SUBSCRIBE__PER_IP", "2")]);
    assert_eq!(post(&direct.addr, "198.51.100.7", "d1"), 200);
    assert_eq!(post(&direct.addr, "198.51.100.8", "d2"), 200);
    assert_eq!(post(&direct.addr, "198.51.100.9", "d3"), 429);
}

/// Finding 7: Addresses with specials or encoded words are refused at every door, so no header we build can
/// carry a second address.
#[test]
fn finding_07_addresses_that_would_inject_headers_are_refused() {
    let db = TestDb::sqlite();
    let server = serve(&db);
    for evil in [
        "x%3E%2C%3Cbcc%40evil.example.org",
        "%22a%2Cb%22%40example.org",
        "%3D%3Futf-8%3Fq%3Fbcc%3D40evil.example%3F%3D%40example.org",
    ] {
        let r = http(
            &server.addr,
            "POST",
            "/subscribe",
            Some(FORM),
            &format!("email={evil}"),
        );
        assert_eq!(r.status, 400, "{evil}");
    }
    let auth = format!("Bearer {API_TOKEN}");
    let r = http_with(
        &server.addr,
        "POST",
        "/api/subscribers",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        r#"{"email":"x>,<bcc@evil.example.org"}"#,
    );
    assert_eq!(r.status, 400);
    server.settle();
    assert!(server.mails().is_empty());
    let work = tempfile::tempdir().unwrap();
    let o = common::import_csv(
        common::newsletter(work.path(), &db.url()),
        "email\n\"x>,<bcc@evil.example.org\"\n",
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 2:"));
}

/// Finding 8: Half-sent requests are closed after the header timeout, and the server keeps answering while
/// 300 of them are open.
#[test]
fn finding_08_half_sent_requests_cannot_starve_the_server() {
    let db = TestDb::sqlite();
    let server = serve_with(&db, &[("NEWSLETTER_WEB__HEADER_TIMEOUT_SECS", "2")]);
    let mut slow: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = TcpStream::connect(&server.addr).unwrap();
            s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    let t = Instant::now();
    let r = http(&server.addr, "GET", "/health", None, "");
    assert_eq!(r.status, 200);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    // An idle connection that never sends a byte is closed too.
    let mut idle = TcpStream::connect(&server.addr).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    for s in slow.iter_mut().chain(std::iter::once(&mut idle)) {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf);
        assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    }
    assert_eq!(http(&server.addr, "GET", "/health", None, "").status, 200);
}

/// Runs the binary with `args` and returns its exit code, its standard error and its peak resident
/// memory in kilobytes. Measured by a small Python parent: a child forked from this multi-threaded
/// test process would count the test's own memory in its peak.
fn run_measured(args: &[&str]) -> (Option<i32>, String, i64) {
    let script = "import json, resource, subprocess, sys\n\
        p = subprocess.run(sys.argv[1:], capture_output=True)\n\
        print(json.dumps([p.returncode, p.stderr.decode('utf-8', 'replace'), \
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))";
    let o = Command::new("python3")
        .args(["-c", script, common::bin().to_str().unwrap()])
        .args(args)
        .output()
        .expect("python3 (scripts/install-test-deps.sh)");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    (
        v[0].as_i64().map(|c| c as i32),
        v[1].as_str().unwrap().to_string(),
        v[2].as_i64().unwrap(),
    )
}

/// Finding 9: The 4 MiB limit holds while reading, whatever the file is: `/dev/zero`, a FIFO with no
/// writer, 30 MB on `/dev/stdin`.
#[test]
fn finding_09_issue_reads_are_bounded() {
    require!("python3");
    let bin = common::bin();
    let bin = bin.to_str().unwrap();
    let (code, stderr, rss_kb) = run_measured(&["check", "/dev/zero"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("may be at most 4194304 bytes"), "{stderr}");
    assert!(rss_kb < 100_000, "peak {rss_kb} kB");

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("issue.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: creating a FIFO at a path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let t = Instant::now();
    let o = Command::new("timeout")
        .args(["20", bin, "check", fifo.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "a FIFO with no writer blocked"
    );
    assert_ne!(o.status.code(), Some(124), "timed out");

    let mut child = Command::new(bin)
        .args(["check", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..30 {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let o = child.wait_with_output().unwrap();
    let _ = writer.join();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("more than 4194304"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `bounces inspect` reads only regular files: `/dev/zero` took all memory until it was killed,
/// and a FIFO with no writer blocked for ever.
#[test]
fn bounces_inspect_reads_only_regular_files() {
    require!("python3");
    let (code, stderr, rss_kb) = run_measured(&["bounces", "inspect", "/dev/zero"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert!(rss_kb < 100_000, "peak {rss_kb} kB");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("bounce.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: creating a FIFO at a path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let o = Command::new("timeout")
        .args(["20", common::bin().to_str().unwrap(), "bounces", "inspect"])
        .arg(&fifo)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("FIFO"));
}

/// Finding 10: A message over `[bounces] max_message_bytes` on `--stdin` is refused whole with exit 65
/// (EX_DATAERR: the MTA reports it), and nothing is cut or stored.
#[test]
fn finding_10_an_oversize_bounce_is_refused_not_cut() {
    let db = TestDb::sqlite();
    let work = tempfile::tempdir().unwrap();
    let quarantine = work.path().join("q");
    let mut big = b"From: MAILER-DAEMON@x.example\r\nSubject: Undeliverable\r\n\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 2 << 20));
    let o = common::output(
        common::newsletter(work.path(), &db.url())
            .env("NEWSLETTER_BOUNCES__MAX_MESSAGE_BYTES", "1048576")
            .args([
                "bounces",
                "process",
                "--stdin",
                "--quarantine",
                quarantine.to_str().unwrap(),
            ]),
        Some(&big),
    );
    assert_eq!(
        o.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("refused whole"));
    assert!(
        !quarantine.exists() || std::fs::read_dir(quarantine.join("new")).unwrap().count() == 0
    );
}

/// Finding 11: The per-address limit counts an address however its local part is cased.
#[test]
fn finding_11_the_per_address_limit_ignores_case() {
    let db = TestDb::sqlite();
    let server = serve_with(&db, &[("NEWSLETTER_SUBSCRIBE__PER_IP", "100")]);
    for who in [
        "victim", "Victim", "VICTIM", "vIcTiM", "victiM", "VICtim", "victIM",
    ] {
        assert_eq!(subscribe(&server.addr, &format!("{who}@example.org")), 200);
    }
    server.settle();
    assert_eq!(server.mails().len(), 3, "three mails, not seven");
}

/// Finding 12: Names lose control characters and are capped; exports neutralise spreadsheet formulas;
/// listings escape what would drive a terminal.
#[test]
fn finding_12_names_cannot_attack_a_spreadsheet_or_a_terminal() {
    let db = TestDb::sqlite();
    let work = tempfile::tempdir().unwrap();
    let long = "x".repeat(50_000);
    let endless = "y".repeat(1_900_000);
    let o = common::import_csv(
        common::newsletter(work.path(), &db.url()),
        &format!(
            "email,name\na@example.org,\"=cmd|' /C calc'!A0\"\nb@example.org,+SUM(1+1)\nc@example.org,@SUM(A1)\n\
             d@example.org,\"Evil\u{1b}[2J\u{1b}[H\r\n    99  fake@row.example  active\"\ne@example.org,{long}\n\
             f@example.org,{endless}\n"
        ),
        &["--skip-invalid"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The fourth record holds a quoted CR LF, so the fifth starts on line 7.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("line 7: name: the name is 50000 characters long"),
        "{stderr}"
    );
    // A record past 64 KiB is cut by the reader before any rule sees it.
    assert!(
        stderr.contains("line 8: longer than 64 KiB: not read"),
        "{stderr}"
    );
    let export = work.path().join("out.csv");
    common::run(
        work.path(),
        &db.url(),
        &["subscribers", "export", export.to_str().unwrap()],
        None,
    );
    let text = std::fs::read_to_string(&export).unwrap();
    for line in text.lines().skip(1) {
        let name = line.split(',').nth(1).unwrap_or("");
        assert!(
            !name.trim_matches('"').starts_with(['=', '+', '@', '-']),
            "{line}"
        );
    }
    assert!(text.contains("'=cmd"), "{text}");
    let o = common::run(work.path(), &db.url(), &["subscribers", "list"], None);
    let list = String::from_utf8_lossy(&o.stdout);
    assert!(!list.contains('\u{1b}') && !list.contains('\r'), "{list:?}");
    assert_eq!(
        list.lines().count(),
        5,
        "a header and four rows, no fake one: {list}"
    );
    // The export reads back as it was.
    let db2 = TestDb::sqlite();
    let o = common::run(
        work.path(),
        &db2.url(),
        &["subscribers", "import", export.to_str().unwrap()],
        None,
    );
    assert!(o.status.success());
    let o = common::run(
        work.path(),
        &db2.url(),
        &["subscribers", "show", "a@example.org"],
        None,
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("name:     =cmd|' /C calc'!A0"));
}

/// Finding 13: 32 sign-ups for one new address at once: no 5xx, one row. 64 one-click POSTs on one link at
/// once: all 200, one unsubscribe event.
async fn finding_13_concurrent_requests_race_cleanly(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    let target = add(&store, "target@example.org").await;
    let server = serve_with(&db, &[("NEWSLETTER_SUBSCRIBE__PER_IP", "1000")]);
    let addr = server.addr.clone();
    let signups: Vec<_> = (0..32)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || subscribe(&addr, "racer@example.org"))
        })
        .collect();
    let token = target.token.expose().to_string();
    let clicks: Vec<_> = (0..64)
        .map(|_| {
            let (addr, token) = (addr.clone(), token.clone());
            std::thread::spawn(move || one_click(&addr, &token).status)
        })
        .collect();
    for h in signups.into_iter().chain(clicks) {
        assert_eq!(h.join().unwrap(), 200);
    }
    server.settle();
    assert_eq!(
        status(&store, "racer@example.org").await,
        SubscriberStatus::Pending
    );
    assert_eq!(
        status(&store, "target@example.org").await,
        SubscriberStatus::Unsubscribed
    );
    let events = store.history(target.id).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.new_status == "unsubscribed")
            .count(),
        1,
        "{events:?}"
    );
}

/// Finding 14: The sign-up answer takes the same time whether or not the address is on the list: both do
/// the same work (check, queue) before answering.
#[test]
fn finding_14_sign_up_timing_does_not_tell_who_is_subscribed() {
    let db = TestDb::sqlite();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::connect(&db.url()).await.unwrap();
        for i in 0..60 {
            add(&store, &format!("known{i}@example.org")).await;
        }
    });
    let server = serve_with(&db, &[("NEWSLETTER_SUBSCRIBE__PER_IP", "1000")]);
    let time = |who: String| {
        let t = Instant::now();
        assert_eq!(subscribe(&server.addr, &who), 200);
        t.elapsed()
    };
    // Warm up, then interleave, so drift hits both sides alike.
    for i in 0..10 {
        time(format!("warm{i}@example.org"));
    }
    let (mut known, mut new) = (Vec::new(), Vec::new());
    for i in 0..60 {
        known.push(time(format!("known{i}@example.org")));
        new.push(time(format!("new{i}@example.org")));
    }
    known.sort();
    new.sort();
    let (k, n) = (known[30].as_secs_f64(), new[30].as_secs_f64());
    let ratio = k.max(n) / k.min(n);
    eprintln!(
        "sign-up answer, median of 60: {:.0} µs for a known address, {:.0} µs for a new one",
        k * 1e6,
        n * 1e6
    );
    assert!(
        ratio < 1.5,
        "median {:.0} µs known vs {:.0} µs new",
        k * 1e6,
        n * 1e6
    );
    server.settle();
}

/// Finding 15: Every page carries a strict CSP, frame-ancestors 'none', nosniff and no-referrer.
#[test]
fn finding_15_pages_carry_security_headers() {
    let db = TestDb::sqlite();
    let server = serve(&db);
    for path in [
        "/subscribe",
        "/unsubscribe/AAAAAAAAAAAAAAAAAAAAAAAA",
        "/health",
        "/nowhere",
    ] {
        let r = http(&server.addr, "GET", path, None, "");
        let head = r.head.to_ascii_lowercase();
        assert!(
            head.contains("content-security-policy: default-src 'none'; style-src 'sha256-")
                && head.contains("frame-ancestors 'none'"),
            "{path}: {}",
            r.head
        );
        assert!(head.contains("x-frame-options: deny"), "{path}");
        assert!(head.contains("referrer-policy: no-referrer"), "{path}");
        assert!(head.contains("x-content-type-options: nosniff"), "{path}");
    }
}

/// Finding 16: A broken pipe ends a listing quietly; a numeric-looking override stays a string; a
/// password in a config file is refused; an undecodable token path gets the generic 404.
#[test]
fn finding_16_assorted() {
    let db = TestDb::sqlite();
    let work = tempfile::tempdir().unwrap();
    common::run(
        work.path(),
        &db.url(),
        &["subscribers", "add", "pipe@example.org"],
        None,
    );
    let mut child = common::newsletter(work.path(), &db.url())
        .args(["subscribers", "show", "pipe@example.org"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_ne!(
        o.status.code(),
        Some(101),
        "panicked: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));

    let issue = common::fixtures_dir().join("small-html.md");
    let out = work.path().join("out");
    let o = common::newsletter(work.path(), &db.url())
        .env("NEWSLETTER_DKIM__SELECTOR", "20240101")
        .args([
            "render",
            issue.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let config = work.path().join("secret.toml");
    std::fs::write(
        &config,
        "[database]\nurl = \"postgres://app:hunter2@127.0.0.1/news\"\n",
    )
    .unwrap();
    let o = Command::new(common::bin())
        .args(["--config", config.to_str().unwrap(), "subscribers", "stats"])
        .env_remove("NEWSLETTER_DATABASE_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("holds a password") && !err.contains("hunter2"),
        "{err}"
    );

    let server = serve(&db);
    let generic = http(
        &server.addr,
        "GET",
        "/unsubscribe/AAAAAAAAAAAAAAAAAAAAAAAA",
        None,
        "",
    );
    for path in ["/unsubscribe/%FF%FE", "/confirm/%FF%FE"] {
        for method in ["GET", "POST"] {
            let r = http(
                &server.addr,
                method,
                path,
                Some(FORM),
                "List-Unsubscribe=One-Click",
            );
            assert_eq!((r.status, &r.body), (404, &generic.body), "{method} {path}");
        }
    }
}
