//! `newsletter doctor` against a real authoritative DNS server (NSD) on loopback, serving zones this
//! test writes: one correct, and one per broken record. Each broken zone gives its own finding, and
//! only that one. The relay is Postfix's smtp-sink; the database a real SQLite file.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::smtp::{Server, free_port};

/// NSD serving `zones` (name, zone file text) on 127.0.0.1:`port`, stopped on drop.
struct Nsd {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Nsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nsd_binary() -> PathBuf {
    common::which("nsd").expect("nsd is installed (scripts/install-test-deps.sh installs it)")
}

impl Nsd {
    fn start(zones: &[(String, String)]) -> Nsd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let port = free_port();
        let mut conf = format!(
            "server:\n  ip-address: 127.0.0.1@{port}\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  \
             pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  \
             logfile: \"{d}/nsd.log\"\n  xfrdir: \"{d}\"\nremote-control:\n  control-enable: no\n"
        );
        for (name, text) in zones {
            std::fs::write(dir.path().join(format!("{name}.zone")), text).unwrap();
            conf.push_str(&format!(
                "zone:\n  name: {name}\n  zonefile: \"{d}/{name}.zone\"\n"
            ));
        }
        let conf_path = dir.path().join("nsd.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(nsd_binary())
            .args(["-d", "-c"])
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let nsd = Nsd {
            child,
            port,
            _dir: dir,
        };
        nsd.wait_for(&zones[0].0);
        nsd
    }

    /// Waits until the server answers an SOA query for `zone` (a DNS query written by hand).
    fn wait_for(&self, zone: &str) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut query = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in zone.split('.') {
            query.push(label.len() as u8);
            query.extend_from_slice(label.as_bytes());
        }
        query.extend_from_slice(&[0, 0, 6, 0, 1]);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = [0u8; 512];
        while Instant::now() < deadline {
            socket.send_to(&query, ("127.0.0.1", self.port)).unwrap();
            if let Ok((n, _)) = socket.recv_from(&mut buf)
                && n > 12
                && buf[..2] == [0x12, 0x34]
            {
                return;
            }
        }
        panic!("nsd did not answer for {zone}");
    }
}

/// A zone with the records under test.
fn zone(name: &str, records: Vec<String>) -> (String, String) {
    let mut text = format!(
        "$ORIGIN {name}.\n$TTL 300\n@ IN SOA ns.{name}. hostmaster.{name}. (1 3600 600 86400 300)\n@ IN NS ns.{name}.\nns IN A 127.0.0.1\n"
    );
    for r in &records {
        text.push_str(r);
        text.push('\n');
    }
    (name.to_string(), text)
}

/// A TXT record's value in 255-byte strings, as a zone file writes a long DKIM key.
fn txt(value: &str) -> String {
    value
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", std::str::from_utf8(c).unwrap()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn good_records(p: &str) -> Vec<String> {
    vec![
        "bounces IN MX 10 mx.newsletter.test.".into(),
        "bounces IN TXT \"v=spf1 ip4:127.0.0.1 -all\"".into(),
        format!(
            "sel1._domainkey IN TXT {}",
            txt(&format!("v=DKIM1; k=rsa; p={p}"))
        ),
        "_dmarc IN TXT \"v=DMARC1; p=none; rua=mailto:dmarc@newsletter.test\"".into(),
    ]
}

/// Runs doctor with a From domain, DKIM d= and key, against the server.
fn doctor(dir: &Path, nsd: &Nsd, from_domain: &str, d: &str, key: &Path, sink: &Server) -> Output {
    let config = dir.join(format!("{from_domain}-{d}.toml"));
    std::fs::write(
        &config,
        format!(
            "[mail]\nfrom = \"Test <news@{from_domain}>\"\nbounce_domain = \"bounces.{from_domain}\"\n\
             [dkim]\nenabled = true\ndomain = \"{d}\"\nselector = \"sel1\"\nkey_file = \"{}\"\n\
             [doctor]\nnameserver = \"127.0.0.1:{}\"\n",
            key.display(),
            nsd.port
        ),
    )
    .unwrap();
    let db = format!("sqlite://{}/doctor.db", dir.display());
    common::newsletter(dir, &db)
        .env("NEWSLETTER_CONFIG", &config)
        .env("NEWSLETTER_API_TOKEN", "a-token-for-the-admin-api")
        .args(["doctor", "--transport", &sink.url()])
        .output()
        .unwrap()
}

fn errors(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("ERROR"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn doctor_passes_a_correct_zone_and_names_each_broken_record() {
    require!("nsd", "openssl", "smtp-sink");
    let dir = tempfile::tempdir().unwrap();
    let (key, p) = common::dkim_key(dir.path(), "good");
    let (_, other_p) = common::dkim_key(dir.path(), "other");
    let rename = |records: Vec<String>, domain: &str| -> Vec<String> {
        records
            .into_iter()
            .map(|r| r.replace("newsletter.test", domain))
            .collect()
    };
    let good = good_records(&p);
    let zones = vec![
        zone("newsletter.test", good.clone()),
        zone(
            "nospf.test",
            rename(
                good.iter()
                    .filter(|r| !r.contains("spf1"))
                    .cloned()
                    .collect(),
                "nospf.test",
            ),
        ),
        zone(
            "wrongkey.test",
            rename(good_records(&other_p), "wrongkey.test"),
        ),
        zone(
            "nodmarc.test",
            rename(
                good.iter()
                    .filter(|r| !r.contains("DMARC"))
                    .cloned()
                    .collect(),
                "nodmarc.test",
            ),
        ),
        // Its own SPF, MX and DMARC are right; it signs as d=newsletter.test, another organization.
        zone("misaligned.test", rename(good.clone(), "misaligned.test")),
        // A common real layout: mail From a subdomain, DMARC and the DKIM key at the apex only.
        zone(
            "apex.test",
            vec![
                "bounces.news IN MX 10 mx.apex.test.".into(),
                "bounces.news IN TXT \"v=spf1 ip4:127.0.0.1 -all\"".into(),
                format!(
                    "sel1._domainkey IN TXT {}",
                    txt(&format!("v=DKIM1; k=rsa; p={p}"))
                ),
                "_dmarc IN TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc@apex.test\"".into(),
                "google-site-verification IN TXT \"abc123\"".into(),
            ],
        ),
    ];
    let nsd = Nsd::start(&zones);
    for (name, _) in &zones {
        nsd.wait_for(name);
    }
    let sink = Server::sink(&[]);
    // The database exists (doctor does not create one).
    let db = format!("sqlite://{}/doctor.db", dir.path().display());
    let made = common::run(
        dir.path(),
        &db,
        &["subscribers", "add", "reader@example.org"],
        None,
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let out = doctor(
        dir.path(),
        &nsd,
        "newsletter.test",
        "newsletter.test",
        &key,
        &sink,
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    eprintln!("correct zone:\n{text}");
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(errors(&out).is_empty(), "{text}");
    for needle in [
        "SPF for bounces.newsletter.test",
        "MX for bounces.newsletter.test: mx.newsletter.test",
        "matches the configured private key",
        "DMARC at _dmarc.newsletter.test",
        "aligns with DKIM d=newsletter.test",
        "greeting received",
        "reachable, all ",
    ] {
        assert!(text.contains(needle), "{needle:?} in:\n{text}");
    }

    // A database one migration behind: a warning, and doctor does not apply it.
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let max: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = ?")
        .bind(max)
        .execute(&pool)
        .await
        .unwrap();
    let out = doctor(
        dir.path(),
        &nsd,
        "newsletter.test",
        "newsletter.test",
        &key,
        &sink,
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning is not an error: {text}"
    );
    assert!(
        text.contains("migrations applied") && text.contains("warning  database"),
        "{text}"
    );
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = ?")
        .bind(max)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(after, 0, "doctor changed nothing");
    sqlx::query("DELETE FROM _sqlx_migrations")
        .execute(&pool)
        .await
        .ok();
    pool.close().await;
    // Start the broken zones from a fresh, fully migrated database.
    for f in ["doctor.db", "doctor.db-wal", "doctor.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(f));
    }
    let made = common::run(
        dir.path(),
        &db,
        &["subscribers", "add", "reader@example.org"],
        None,
    );
    assert!(made.status.success());

    // DMARC found at the organizational domain, d= at the apex: relaxed alignment holds.
    let out = doctor(dir.path(), &nsd, "news.apex.test", "apex.test", &key, &sink);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(errors(&out).is_empty(), "{text}");
    assert!(
        text.contains("DMARC at _dmarc.apex.test") && text.contains("aligns with DKIM d=apex.test"),
        "{text}"
    );

    for (from, d, want, fix) in [
        (
            "nospf.test",
            "nospf.test",
            "no SPF record for bounces.nospf.test",
            "v=spf1",
        ),
        (
            "wrongkey.test",
            "wrongkey.test",
            "is not the public half",
            &format!("p={p}") as &str,
        ),
        (
            "nodmarc.test",
            "nodmarc.test",
            "no DMARC record for nodmarc.test",
            "v=DMARC1",
        ),
        (
            "misaligned.test",
            "newsletter.test",
            "does not align with the DKIM d=newsletter.test",
            "sign as d=misaligned.test",
        ),
    ] {
        let out = doctor(dir.path(), &nsd, from, d, &key, &sink);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        eprintln!("{from}:\n{text}");
        assert_eq!(out.status.code(), Some(1), "{text}");
        let errs = errors(&out);
        assert_eq!(errs.len(), 1, "exactly one error for {from}: {errs:?}");
        assert!(errs[0].contains(want), "{want:?} in {errs:?}");
        assert!(
            text.contains(fix),
            "the fix names the record: {fix:?} in\n{text}"
        );
    }
}

/// The per-recipient unsubscribe address is `LOCAL+TOKEN@…`; a local name too long for the token
/// to fit in mail's 64-character local part is named, with the length to keep to.
#[test]
fn doctor_names_an_unsubscribe_local_part_too_long_for_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db::TestDb::sqlite();
    let run = |local: &str| {
        let out = common::newsletter(dir.path(), &db.url())
            .env("NEWSLETTER_MAIL__UNSUBSCRIBE_LOCAL", local)
            .args(["doctor", "--transport", "file:outbox"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let long = run("newsletter-unsubscribe-requests");
    assert!(long.contains("unsubscribe_local"), "{long}");
    assert!(long.contains("24 characters or fewer"), "{long}");
    let fine = run("leave-this-list");
    assert!(!fine.contains("unsubscribe_local"), "{fine}");
}
