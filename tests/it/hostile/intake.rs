//! Hostile input, second round (issue #21): intake. Findings 5 (storage failures must not lose
//! mail: EX_TEMPFAIL), 6 (a crafted multipart must not stall intake or the console), 8 (symbolic
//! links are never followed) and the quarantine part of 9 (private files whatever the umask), each
//! over the real binary: its exit code, the files it leaves, and the console over a real socket.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::console::{add_account, sign_in};
use crate::common::db::TestDb;
use crate::common::show;
use crate::common::web::{Reply, Server, http_with, serve_with};
use newsletter::domain::SubscriberStatus;

const DOMAIN: &str = "bounces.this-week-in-rust.org";
const PASSWORD: &str = "a long password for the quarantine";

/// A bounce that names an address but proves nothing: intake quarantines it.
fn forged_bounce(email: &str) -> Vec<u8> {
    let path = common::fixtures_dir().join("bounces/forged-dsn-plain-address.eml");
    std::fs::read_to_string(path)
        .unwrap()
        .replace("{{EMAIL}}", email)
        .into_bytes()
}

/// `levels` multiparts, each the only part of the one around it.
fn deep_multipart(levels: usize) -> Vec<u8> {
    let mut m = String::with_capacity(levels * 48);
    m.push_str("From: MAILER-DAEMON@mx.example.net\nTo: bounces@");
    m.push_str(DOMAIN);
    m.push_str("\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n");
    for i in 0..levels {
        m.push_str(&format!(
            "Content-Type: multipart/mixed; boundary={i:x}\n\n--{i:x}\n"
        ));
    }
    m.push_str("Content-Type: text/plain\n\nmailbox unavailable\n");
    m.into_bytes()
}

/// The binary in `dir` with `args`, `stdin` on its standard input, under umask 022.
fn run_umask_022(
    db_url: &str,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &[u8],
) -> Output {
    let mut c = common::newsletter(dir, db_url);
    c.args(args).envs(env.iter().copied());
    // SAFETY: umask is async-signal-safe and touches only the child's own state.
    unsafe {
        c.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    // The binary may stop before reading everything (it failed): a broken pipe is fine.
    common::output(&mut c, Some(stdin))
}

/// Every file under `dir` (recursively), symbolic links included.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The messages in a quarantine Maildir's new/.
fn quarantined(q: &Path) -> Vec<PathBuf> {
    files_under(&q.join("new"))
}

/// Makes a file unwritable even for root (`chattr +i`), or read-only when not root; undone on drop.
struct ReadOnly(PathBuf);

impl ReadOnly {
    fn new(path: &Path) -> ReadOnly {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let out = Command::new("chattr").arg("+i").arg(path).output().unwrap();
            assert!(out.status.success(), "chattr +i: {out:?}");
        } else {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).unwrap();
        }
        ReadOnly(path.to_path_buf())
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).output();
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o600));
    }
}

/// The subscriber's unsubscribe token, read from the database (`subscribers show --format json`
/// does not print it).
async fn token_of(db: &TestDb, email: &str) -> newsletter::domain::UnsubscribeToken {
    let store = newsletter::store::Store::connect(&db.url()).await.unwrap();
    let s = store
        .find_by_email(&newsletter::domain::EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap();
    store.close().await;
    s.token
}

async fn status_of(db: &TestDb, email: &str) -> newsletter::domain::SubscriberStatus {
    let store = newsletter::store::Store::connect(&db.url()).await.unwrap();
    let s = store
        .find_by_email(&newsletter::domain::EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap();
    store.close().await;
    s.status
}

/// Finding 5: a database that cannot be written is a temporary failure. `--stdin` exits 75
/// (EX_TEMPFAIL), so the MTA keeps the message and delivers it again; `--maildir` leaves it in new/
/// and says so. Once the database is writable again, the same message does its work.
#[tokio::test]
async fn a_read_only_database_tempfails_and_loses_nothing() {
    let db = TestDb::sqlite();
    let work = tempfile::tempdir().unwrap();
    let added = run_umask_022(
        &db.url(),
        work.path(),
        &["subscribers", "add", "leaver@example.com"],
        &[],
        b"",
    );
    assert!(added.status.success(), "{}", show(&added));
    let token = token_of(&db, "leaver@example.com").await;
    let to = newsletter::bounce::mailto::address("unsubscribe", DOMAIN, &token);
    let request = format!(
        "From: <leaver@example.com>\r\nTo: <{to}>\r\nSubject: unsubscribe\r\nMessage-ID: <r1@example.com>\r\n\r\nplease\r\n"
    );
    let quarantine = work.path().join("quarantine");
    let q = quarantine.to_str().unwrap();
    let TestDb::Sqlite(_, db_file) = &db else {
        unreachable!()
    };

    let maildir = work.path().join("Maildir");
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    std::fs::write(maildir.join("new/1.request"), &request).unwrap();
    {
        let _ro = ReadOnly::new(db_file);
        let out = run_umask_022(
            &db.url(),
            work.path(),
            &[
                "bounces",
                "process",
                "--stdin",
                "--recipient",
                &to,
                "--quarantine",
                q,
            ],
            &[],
            request.as_bytes(),
        );
        assert_eq!(out.status.code(), Some(75), "{}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("keeps the message") && err.contains("nothing was lost"),
            "{err}"
        );
        assert!(quarantined(&quarantine).is_empty(), "nothing half-done");

        let out = run_umask_022(
            &db.url(),
            work.path(),
            &[
                "bounces",
                "process",
                "--maildir",
                maildir.to_str().unwrap(),
                "--quarantine",
                q,
            ],
            &[],
            b"",
        );
        assert_eq!(out.status.code(), Some(75), "{}", show(&out));
        assert!(maildir.join("new/1.request").is_file(), "left in new/");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("nothing was removed"), "{err}");
    }
    assert_eq!(
        status_of(&db, "leaver@example.com").await,
        SubscriberStatus::Active
    );
    // Writable again: the MTA's retry does the work.
    let out = run_umask_022(
        &db.url(),
        work.path(),
        &[
            "bounces",
            "process",
            "--stdin",
            "--recipient",
            &to,
            "--quarantine",
            q,
        ],
        &[],
        request.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        status_of(&db, "leaver@example.com").await,
        SubscriberStatus::Unsubscribed
    );
}

/// Finding 5: a quarantine that cannot be written is a temporary failure too (exit 75), and a
/// Maildir message that was to go there stays in new/.
#[test]
fn an_unwritable_quarantine_tempfails() {
    let db = TestDb::sqlite();
    let work = tempfile::tempdir().unwrap();
    // Below a regular file: no folder can be made there, whoever runs the binary.
    let blocker = work.path().join("not-a-folder");
    std::fs::write(&blocker, b"").unwrap();
    let quarantine = blocker.join("quarantine");
    let q = quarantine.to_str().unwrap();
    let out = run_umask_022(
        &db.url(),
        work.path(),
        &["bounces", "process", "--stdin", "--quarantine", q],
        &[],
        &forged_bounce("someone@example.com"),
    );
    assert_eq!(out.status.code(), Some(75), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("quarantine") && err.contains("keeps the message"),
        "{err}"
    );

    let maildir = work.path().join("Maildir");
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    std::fs::write(
        maildir.join("new/1.forged"),
        forged_bounce("someone@example.com"),
    )
    .unwrap();
    let out = run_umask_022(
        &db.url(),
        work.path(),
        &[
            "bounces",
            "process",
            "--maildir",
            maildir.to_str().unwrap(),
            "--quarantine",
            q,
        ],
        &[],
        b"",
    );
    assert_eq!(out.status.code(), Some(75), "{}", show(&out));
    assert!(maildir.join("new/1.forged").is_file(), "left in new/");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 message(s) left in") && err.contains("from 1.forged on"),
        "{err}"
    );
}

/// A configuration that cannot be read is fixed by its operator: under an MTA's pipe the message
/// waits in the queue for that (75), it is not bounced.
#[test]
fn a_broken_configuration_tempfails_stdin() {
    let db = TestDb::sqlite();
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("newsletter.toml");
    std::fs::write(&config, "[bounces\nquarantine = \n").unwrap();
    let out = run_umask_022(
        &db.url(),
        work.path(),
        &["bounces", "process", "--stdin"],
        &[("NEWSLETTER_CONFIG", config.to_str().unwrap())],
        &forged_bounce("someone@example.com"),
    );
    assert_eq!(out.status.code(), Some(75), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("keeps the message"));
}

/// A command line that names no usable source is a usage error (64): no retry will help.
#[test]
fn a_missing_source_is_a_usage_error() {
    let db = TestDb::sqlite();
    let work = tempfile::tempdir().unwrap();
    let out = run_umask_022(&db.url(), work.path(), &["bounces", "process"], &[], b"");
    assert_eq!(out.status.code(), Some(64), "{}", show(&out));
    let out = run_umask_022(
        &db.url(),
        work.path(),
        &[
            "bounces",
            "process",
            "--maildir",
            work.path().to_str().unwrap(),
        ],
        &[],
        b"",
    );
    assert_eq!(out.status.code(), Some(64), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a Maildir"));
}

/// Finding 6: 50,000 nested multiparts are quarantined at once, with the reason.
#[test]
fn a_deep_multipart_is_quarantined_fast() {
    let db = TestDb::sqlite();
    let work = tempfile::tempdir().unwrap();
    let quarantine = work.path().join("quarantine");
    let message = deep_multipart(50_000);
    let t = Instant::now();
    let out = run_umask_022(
        &db.url(),
        work.path(),
        &[
            "bounces",
            "process",
            "--stdin",
            "--quarantine",
            quarantine.to_str().unwrap(),
        ],
        &[("NEWSLETTER_BOUNCES__MAX_MESSAGE_BYTES", "10000000")],
        &message,
    );
    let took = t.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(quarantined(&quarantine).len(), 1, "{}", show(&out));
    let why = files_under(&quarantine.join("explain"));
    assert_eq!(why.len(), 1, "an explanation beside the message");
    let text = std::fs::read_to_string(&why[0]).unwrap();
    assert!(text.contains("nest more than 32 levels"), "{text}");
}

/// The console signed in as an admin, with the quarantine at `quarantine`.
fn console(db: &TestDb, quarantine: &Path) -> (Server, String) {
    add_account(db, "boss@example.org", "admin", PASSWORD);
    let s = serve_with(
        db,
        &[
            ("NEWSLETTER_ADMIN__PLAIN_LOOPBACK", "true"),
            (
                "NEWSLETTER_BOUNCES__QUARANTINE",
                quarantine.to_str().unwrap(),
            ),
            ("NEWSLETTER_WEB__REQUEST_TIMEOUT_SECS", "5"),
        ],
    );
    let (session, r) = sign_in(&s, "nl_login", "nl_admin", "boss@example.org", PASSWORD);
    assert_eq!(r.status, 303, "{}", r.body);
    (s, session.expect("a session"))
}

fn get(s: &Server, path: &str, session: &str) -> (Reply, Duration) {
    let t = Instant::now();
    let r = http_with(&s.addr, "GET", path, &[("Cookie", session)], "");
    (r, t.elapsed())
}

/// Finding 6: the quarantine page never parses a message again: four crafted messages put there
/// by hand (no explanation stored) and one quarantined by intake, and the page answers at once.
#[test]
fn the_quarantine_page_answers_fast_whatever_it_holds() {
    let db = TestDb::sqlite();
    let work = tempfile::tempdir().unwrap();
    let quarantine = work.path().join("quarantine");
    let out = run_umask_022(
        &db.url(),
        work.path(),
        &[
            "bounces",
            "process",
            "--stdin",
            "--quarantine",
            quarantine.to_str().unwrap(),
        ],
        &[],
        &forged_bounce("victim@example.com"),
    );
    assert!(out.status.success(), "{}", show(&out));
    let deep = deep_multipart(40_000);
    for i in 0..4 {
        std::fs::write(quarantine.join(format!("new/deep-{i}")), &deep).unwrap();
    }
    let (s, session) = console(&db, &quarantine);
    let (r, took) = get(&s, "/admin/quarantine", &session);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(r.body.contains("deep-3"), "listed");
    assert!(
        r.body.contains("proves nothing") && r.body.contains("victim@example.com"),
        "the explanation stored at intake is shown: {}",
        r.body
    );
    let (r, took) = get(&s, "/admin/quarantine/deep-0", &session);
    assert_eq!(r.status, 200);
    assert!(took < Duration::from_secs(3), "took {took:?}");
    // The server still answers.
    assert_eq!(get(&s, "/health", "").0.status, 200);
}

/// Finding 8: a symbolic link in the quarantine folder is not shown as its target.
#[test]
fn a_symlink_in_the_quarantine_is_not_followed() {
    let db = TestDb::sqlite();
    let work = tempfile::tempdir().unwrap();
    let quarantine = work.path().join("quarantine");
    std::fs::create_dir_all(quarantine.join("new")).unwrap();
    let secret = work.path().join("secret.txt");
    std::fs::write(
        &secret,
        "From: a@example.org\nSubject: s\n\nSECRET-7d1f0c the service can read this\n",
    )
    .unwrap();
    symlink(&secret, quarantine.join("new/link")).unwrap();
    let (s, session) = console(&db, &quarantine);
    let (r, _) = get(&s, "/admin/quarantine/link", &session);
    assert!(!r.body.contains("SECRET-7d1f0c"), "the target was shown");
    assert_eq!(r.status, 404);
    let (r, _) = get(&s, "/admin/quarantine", &session);
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("SECRET-7d1f0c") && !r.body.contains(">link<"));
}

/// Finding 8: a symbolic link in a Maildir's new/ is left there, reported, and never copied.
#[test]
fn a_symlink_in_maildir_new_is_left_and_not_copied() {
    let db = TestDb::sqlite();
    let work = tempfile::tempdir().unwrap();
    let quarantine = work.path().join("quarantine");
    let maildir = work.path().join("Maildir");
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    // A file the service can read, shaped so that intake would quarantine it.
    let secret = work.path().join("secret.eml");
    let mut content = forged_bounce("someone@example.com");
    content.extend_from_slice(b"SECRET-51aa09\n");
    std::fs::write(&secret, &content).unwrap();
    symlink(&secret, maildir.join("new/1.link")).unwrap();
    let out = run_umask_022(
        &db.url(),
        work.path(),
        &[
            "bounces",
            "process",
            "--maildir",
            maildir.to_str().unwrap(),
            "--quarantine",
            quarantine.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    assert!(out.status.success(), "{}", show(&out));
    let link = maildir.join("new/1.link");
    assert!(
        std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()),
        "the link stays where it was"
    );
    for f in files_under(&quarantine)
        .iter()
        .chain(&files_under(&maildir.join("cur")))
    {
        let bytes = std::fs::read(f).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("SECRET-51aa09"),
            "copied into {}",
            f.display()
        );
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1.link") && err.contains("symbolic link"),
        "{err}"
    );
}

/// Finding 9 (quarantine): under umask 022 the quarantine folders are 0700 and its files 0600,
/// messages stored from standard input and moved in unread alike.
#[test]
fn quarantine_files_are_private_whatever_the_umask() {
    let db = TestDb::sqlite();
    let work = tempfile::tempdir().unwrap();
    let quarantine = work.path().join("quarantine");
    let q = quarantine.to_str().unwrap();
    let out = run_umask_022(
        &db.url(),
        work.path(),
        &["bounces", "process", "--stdin", "--quarantine", q],
        &[],
        &forged_bounce("someone@example.com"),
    );
    assert!(out.status.success(), "{}", show(&out));
    let maildir = work.path().join("Maildir");
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    let big = maildir.join("new/2.big");
    std::fs::write(&big, vec![b'x'; 20_000]).unwrap();
    std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run_umask_022(
        &db.url(),
        work.path(),
        &[
            "bounces",
            "process",
            "--maildir",
            maildir.to_str().unwrap(),
            "--quarantine",
            q,
        ],
        &[("NEWSLETTER_BOUNCES__MAX_MESSAGE_BYTES", "10000")],
        b"",
    );
    assert!(out.status.success(), "{}", show(&out));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&quarantine), 0o700, "{}", quarantine.display());
    for sub in ["new", "cur", "tmp"] {
        assert_eq!(mode(&quarantine.join(sub)), 0o700, "{sub}/");
    }
    let files = files_under(&quarantine);
    assert!(files.len() >= 2, "{files:?}");
    assert_eq!(quarantined(&quarantine).len(), 2, "{files:?}");
    for f in files {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}
