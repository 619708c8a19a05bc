//! The whole loop through a real MTA: `send` hands an issue to a local Postfix with VERP senders;
//! Postfix delivers some, and sends real RFC 3464 DSNs for the rest (an unknown local user, a
//! domain routed to a 550 sink, one routed to a 451 sink with a zero queue lifetime) to the VERP
//! address, into the `bounces` user's Maildir; `bounces process --maildir` then suppresses exactly
//! the right subscribers. The same DSNs are also fetched over IMAP from a standalone Dovecot into a
//! copy of the database, with the same outcome.
//!
//! A second test mails the `List-Unsubscribe` mailto address of real sent messages through the same
//! Postfix, as a mail client does: once delivered by an alias into the Maildir, once piped to
//! `bounces process --stdin` by a `master.cf` service, and each unsubscribes exactly its subscriber.
//!
//! Postfix is configured as `../shared/TESTBED.md` describes, on loopback only, with every other
//! destination refused, and its configuration is put back as it was afterwards. The test needs root
//! (it is skipped with a message otherwise).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::db::TestDb;
use common::smtp::Server;
use newsletter::domain::{EmailAddress, SubscriberStatus};
use newsletter::store::Store;

fn sh(cmd: &str) -> std::process::Output {
    Command::new("sh").args(["-c", cmd]).output().unwrap()
}

fn ok(cmd: &str) {
    let out = sh(cmd);
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Puts Postfix's configuration back as it was, and stops it if it was not running.
struct PostfixGuard {
    backup: tempfile::TempDir,
    was_running: bool,
}

impl Drop for PostfixGuard {
    fn drop(&mut self) {
        let b = self.backup.path().display();
        let _ = sh(&format!(
            "cp {b}/main.cf {b}/master.cf /etc/postfix/ && \
             if [ -f {b}/transport ]; then cp {b}/transport /etc/postfix/transport; postmap /etc/postfix/transport; else rm -f /etc/postfix/transport /etc/postfix/transport.db; fi; \
             if [ -f {b}/aliases ]; then cp {b}/aliases /etc/aliases; newaliases; fi"
        ));
        if self.was_running {
            let _ = sh("postfix reload");
        } else {
            let _ = sh("postfix stop");
        }
    }
}

fn configure_postfix(reject_port: u16, defer_port: u16, sink_port: u16) -> PostfixGuard {
    let backup = tempfile::tempdir().unwrap();
    let b = backup.path().display();
    ok(&format!(
        "cp /etc/postfix/main.cf /etc/postfix/master.cf {b}/ && \
         if [ -f /etc/postfix/transport ]; then cp /etc/postfix/transport {b}/; fi; \
         if [ -f /etc/aliases ]; then cp /etc/aliases {b}/; fi"
    ));
    let was_running = sh("postfix status").status.success();
    let guard = PostfixGuard {
        backup,
        was_running,
    };
    ok("id bounces >/dev/null 2>&1 || useradd -m -s /usr/sbin/nologin bounces");
    ok(
        "postconf -e 'myhostname = mx.newsletter.test' 'mydomain = newsletter.test' 'myorigin = $mydomain' \
        'mydestination = $mydomain, localhost' 'inet_interfaces = loopback-only' 'inet_protocols = ipv4' \
        'mynetworks = 127.0.0.0/8' 'recipient_delimiter = +' 'local_recipient_maps =' \
        'home_mailbox = Maildir/' 'transport_maps = hash:/etc/postfix/transport' \
        'maillog_file = /var/log/postfix.log' 'default_transport = error' 'relay_transport = error' \
        'maximal_queue_lifetime = 0' 'bounce_queue_lifetime = 0' 'smtp_connect_timeout = 5s'",
    );
    ok("postconf -F '*/*/chroot = n'");
    std::fs::write(
        "/etc/postfix/transport",
        format!(
            "reject.test smtp:[127.0.0.1]:{reject_port}\ndefer.test smtp:[127.0.0.1]:{defer_port}\nsink.test smtp:[127.0.0.1]:{sink_port}\n"
        ),
    )
    .unwrap();
    ok("postmap /etc/postfix/transport && newaliases && postfix check");
    if was_running {
        ok("postfix reload");
    } else {
        ok("postfix start");
    }
    // Wait for the SMTP listener.
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect("127.0.0.1:25").is_err() {
        assert!(
            Instant::now() < deadline,
            "Postfix did not listen on 127.0.0.1:25"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    guard
}

fn maildir_new() -> PathBuf {
    PathBuf::from("/home/bounces/Maildir/new")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// The machine's one Postfix, held for the whole test (another test or test run waits), or `None`
/// when it cannot be used: these tests need root (skipped otherwise) and Postfix (see
/// [`common::require`]).
fn take_postfix() -> Option<std::fs::File> {
    if !sh("id -u").stdout.starts_with(b"0") {
        common::skip("needs root, to configure the machine's Postfix");
        return None;
    }
    common::require("postfix")?;
    let lock = std::fs::File::create("/tmp/newsletter-postfix-test.lock").unwrap();
    lock.lock().unwrap();
    Some(lock)
}

#[tokio::test]
async fn postfix_dsns_suppress_exactly_the_right_subscribers() {
    let Some(_lock) = take_postfix() else {
        return;
    };
    require!("smtp-sink", "dovecot");

    let reject = Server::sink(&["-f", "RCPT", "-B", "550 5.1.1 User unknown"]);
    let defer = Server::sink(&["-r", "RCPT", "-b", "451 4.7.1 Try again later"]);
    let sink = Server::sink(&[]);
    let _postfix = configure_postfix(reject.port, defer.port, sink.port);
    let before: std::collections::HashSet<PathBuf> = files_in(&maildir_new()).into_iter().collect();

    let db = TestDb::sqlite();
    let work = tempfile::tempdir().unwrap();
    // Postfix delivers newsletter.test locally: VERP senders there come back to ~bounces.
    let newsletter = |db: &TestDb| {
        let mut c = common::newsletter(work.path(), &db.url());
        c.env("NEWSLETTER_MAIL__BOUNCE_DOMAIN", "newsletter.test");
        c
    };
    let run = |args: &[&str]| newsletter(&db).args(args).output().unwrap();
    common::import_csv_ok(
        newsletter(&db),
        "email\nok1@sink.test\nok2@sink.test\nok3@sink.test\nnosuchuser@newsletter.test\nx1@reject.test\nx2@reject.test\ny1@defer.test\n",
    );
    let issue = common::small_issue();
    let out = run(&[
        "send",
        issue.to_str().unwrap(),
        "--yes",
        "--transport",
        "smtp://127.0.0.1:25",
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Postfix accepted all seven; four come back as DSNs to their VERP addresses.
    let deadline = Instant::now() + Duration::from_secs(60);
    let ours = loop {
        let new: Vec<PathBuf> = files_in(&maildir_new())
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect();
        if new.len() >= 4 || Instant::now() > deadline {
            break new;
        }
        let _ = sh("postqueue -f");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(ours.len(), 4, "DSNs in ~bounces/Maildir/new: {ours:?}");
    assert_eq!(
        sink.messages().len(),
        3,
        "the deliverable three reached the sink"
    );

    // The same DSNs will also be fetched over IMAP (Dovecot), into a copy of this database.
    let imap_db = TestDb::sqlite();
    if let TestDb::Sqlite(_, from) = &db
        && let TestDb::Sqlite(_, to) = &imap_db
    {
        for ext in ["", "-wal", "-shm"] {
            let src = PathBuf::from(format!("{}{ext}", from.display()));
            if src.exists() {
                std::fs::copy(&src, format!("{}{ext}", to.display())).unwrap();
            }
        }
    }
    let dovecot = common::imap::Dovecot::start();
    if let Some(d) = &dovecot {
        for p in &ours {
            std::fs::copy(p, d.maildir().join("new").join(p.file_name().unwrap())).unwrap();
        }
        let _ = sh(&format!(
            "chown -R bounces:bounces {}",
            d.maildir().display()
        ));
    }

    // Process them from a Maildir of their own, so the system one keeps only what it had.
    let maildir = work.path().join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for p in &ours {
        std::fs::copy(p, maildir.join("new").join(p.file_name().unwrap())).unwrap();
        std::fs::remove_file(p).unwrap();
    }
    let out = run(&["bounces", "process", "--maildir", maildir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("4 message(s) handled: 3 subscriber(s) suppressed, 1 soft bounce(s) counted"),
        "{text}"
    );

    let dovecot = dovecot.expect("Dovecot is installed (scripts/install-test-deps.sh)");
    let out = dovecot
        .configure(&mut newsletter(&imap_db))
        .args(["bounces", "process", "--imap"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("4 message(s) handled: 3 subscriber(s) suppressed, 1 soft bounce(s) counted"),
        "over IMAP: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    for url in [db.url(), imap_db.url()] {
        let store = Store::connect(&url).await.unwrap();
        for (email, want) in [
            ("ok1@sink.test", SubscriberStatus::Active),
            ("ok2@sink.test", SubscriberStatus::Active),
            ("ok3@sink.test", SubscriberStatus::Active),
            ("nosuchuser@newsletter.test", SubscriberStatus::Bounced),
            ("x1@reject.test", SubscriberStatus::Bounced),
            ("x2@reject.test", SubscriberStatus::Bounced),
            ("y1@defer.test", SubscriberStatus::Active),
        ] {
            let s = store
                .find_by_email(&EmailAddress::parse(email).unwrap())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(s.status, want, "{email}");
        }
        let log = store.bounces(0, None, 100).await.unwrap();
        assert_eq!(log.len(), 4, "{log:?}");
        assert!(
            log.iter()
                .all(|b| b.attribution == "verp" && b.source == "dsn"),
            "{log:?}"
        );
        let soft: Vec<_> = log.iter().filter(|b| b.kind == "soft").collect();
        assert_eq!(soft.len(), 1);
        assert_eq!(soft[0].status.as_deref(), Some("4.7.1"));
        assert!(
            log.iter()
                .filter(|b| b.kind == "hard")
                .all(|b| b.status.as_deref() == Some("5.1.1")),
            "{log:?}"
        );
    }
}

/// The message a mail client sends for a `List-Unsubscribe` mailto, sent through Postfix on
/// 127.0.0.1:25 with swaks.
fn mail_unsubscribe_request(from: &str, to: &str) {
    ok(&format!(
        "swaks --silent 2 --server 127.0.0.1:25 --from {from} --to '{to}' \
         --header 'Subject: unsubscribe' --body 'This message was generated automatically.'"
    ));
}

/// Waits for `check` to hold, flushing Postfix's queue meanwhile.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "{what} within 60 s; /var/log/postfix.log:\n{}",
            String::from_utf8_lossy(&sh("tail -n 30 /var/log/postfix.log").stdout)
        );
        let _ = sh("postqueue -f");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn postfix_delivers_unsubscribe_requests_to_the_intake() {
    let Some(_lock) = take_postfix() else {
        return;
    };
    require!("smtp-sink", "swaks");

    // The issue goes out to a sink; the requests come back through Postfix. PostgreSQL, so that the
    // pipe, which runs as the `bounces` user, reaches the same database.
    let sink = Server::sink(&[]);
    let _postfix = configure_postfix(sink.port, sink.port, sink.port);
    let db = TestDb::postgres();
    let work = tempfile::tempdir().unwrap();
    let newsletter = || {
        let mut c = common::newsletter(work.path(), &db.url());
        c.env("NEWSLETTER_MAIL__BOUNCE_DOMAIN", "newsletter.test");
        c
    };
    common::import_csv_ok(
        newsletter(),
        "email\nalice@sink.test\nbob@sink.test\ncarol@sink.test\n",
    );
    let issue = common::small_issue();
    let out = newsletter()
        .args([
            "send",
            issue.to_str().unwrap(),
            "--yes",
            "--transport",
            &sink.url(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mailto = |who: &str| {
        sink.messages()
            .into_iter()
            .find(|m| m.rcpt == who)
            .unwrap_or_else(|| panic!("no message to {who}"))
            .unsubscribe_mailto()
    };
    let (alice, bob) = (mailto("alice@sink.test"), mailto("bob@sink.test"));
    assert!(
        alice.starts_with("unsubscribe+") && alice.ends_with("@newsletter.test"),
        "{alice}"
    );
    assert_ne!(alice, bob);

    let store = Store::connect(&db.url()).await.unwrap();
    let status = |email: &'static str| {
        let store = &store;
        async move {
            store
                .find_by_email(&EmailAddress::parse(email).unwrap())
                .await
                .unwrap()
                .unwrap()
                .status
        }
    };

    // 1. Delivered by an alias into ~bounces/Maildir, then read from there.
    ok(
        "grep -q '^unsubscribe:' /etc/aliases || echo 'unsubscribe: bounces' >> /etc/aliases; newaliases",
    );
    let before: std::collections::HashSet<PathBuf> = files_in(&maildir_new()).into_iter().collect();
    mail_unsubscribe_request("alice@sink.test", &alice);
    let token = alice["unsubscribe+".len()..alice.find('@').unwrap()].to_lowercase();
    let mut arrived = Vec::new();
    eventually("the request reaches ~bounces/Maildir/new", || {
        arrived = files_in(&maildir_new())
            .into_iter()
            .filter(|p| !before.contains(p))
            .filter(|p| {
                String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default())
                    .to_lowercase()
                    .contains(&token)
            })
            .collect();
        let found = !arrived.is_empty();
        async move { found }
    })
    .await;
    let maildir = work.path().join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for p in &arrived {
        std::fs::copy(p, maildir.join("new").join(p.file_name().unwrap())).unwrap();
        std::fs::remove_file(p).unwrap();
    }
    let out = newsletter()
        .args(["bounces", "process", "--maildir", maildir.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 unsubscribed by mail"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        status("alice@sink.test").await,
        SubscriberStatus::Unsubscribed
    );
    assert_eq!(status("bob@sink.test").await, SubscriberStatus::Active);

    // 2. Piped to `bounces process --stdin` by a master.cf service that transport_maps routes the
    // unsubscribe addresses to (Postfix tries user+ext@domain, then user@domain).
    let quarantine = tempfile::tempdir().unwrap();
    ok(&format!("chmod 777 {}", quarantine.path().display()));
    ok(&format!(
        "postconf -M 'newsletter-unsubscribe/unix=newsletter-unsubscribe unix - n n - 4 pipe \
         flags=Rq user=bounces argv=/usr/bin/env NEWSLETTER_DATABASE_URL={} \
         NEWSLETTER_MAIL__BOUNCE_DOMAIN=newsletter.test {} bounces process --stdin \
         --quarantine {} --recipient ${{recipient}}'",
        db.url(),
        common::bin().display(),
        quarantine.path().display()
    ));
    ok(
        "echo 'unsubscribe@newsletter.test newsletter-unsubscribe:' >> /etc/postfix/transport && postmap /etc/postfix/transport && postfix reload",
    );
    let log_start = std::fs::metadata("/var/log/postfix.log").map_or(0, |m| m.len() as usize);
    mail_unsubscribe_request("bob@sink.test", &bob);
    eventually("bob is unsubscribed through the pipe", || {
        let s = status("bob@sink.test");
        async move { s.await == SubscriberStatus::Unsubscribed }
    })
    .await;
    let log = std::fs::read("/var/log/postfix.log").unwrap_or_default();
    let log = String::from_utf8_lossy(&log[log_start.min(log.len())..]).to_string();
    assert!(
        log.lines()
            .any(|l| l.contains("relay=newsletter-unsubscribe") && l.contains("status=sent")),
        "{log}"
    );
    assert_eq!(status("carol@sink.test").await, SubscriberStatus::Active);
    assert_eq!(
        status("alice@sink.test").await,
        SubscriberStatus::Unsubscribed
    );
    for email in ["alice@sink.test", "bob@sink.test"] {
        let s = store
            .find_by_email(&EmailAddress::parse(email).unwrap())
            .await
            .unwrap()
            .unwrap();
        let by_mail = store
            .history(s.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.source == "mail")
            .count();
        assert_eq!(by_mail, 1, "{email}");
    }
    // Postfix sent no reply to either requester: nothing reached the sink after the issue.
    assert_eq!(sink.messages().len(), 3);
}
