//! A work folder and a database, and the binary run in that folder against that database with
//! settings of the test's choosing: the stage of every test that sends a campaign.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use newsletter::store::Store;

use super::db::TestDb;

/// The small issue (number 912) most sending tests send.
pub fn small_issue() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/send/small.md")
}

/// `n` addresses `PREFIX00000@example.org`, `PREFIX00001@example.org`, ….
pub fn emails(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{prefix}{i:05}@example.org"))
        .collect()
}

/// A work folder and a database, and the binary run in that folder against that database.
pub struct Env {
    pub db: TestDb,
    pub dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

impl Env {
    pub fn new(db: TestDb) -> Env {
        Env {
            db,
            dir: tempfile::tempdir().unwrap(),
            // Fast retries, so fault tests finish in seconds.
            vars: vec![
                ("NEWSLETTER_SEND__RETRY_BASE_SECS".into(), "1".into()),
                ("NEWSLETTER_SEND__RETRY_MAX_SECS".into(), "2".into()),
            ],
        }
    }

    /// The same, with the setting `k` = `v` on every command from now on.
    pub fn var(mut self, k: &str, v: &str) -> Env {
        self.vars.push((k.into(), v.into()));
        self
    }

    /// The binary with `args`, not started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = super::newsletter(self.dir.path(), &self.db.url());
        c.envs(self.vars.iter().map(|(k, v)| (k, v))).args(args);
        c
    }

    /// The binary with `args`, run to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Imports `emails` through `subscribers import`.
    pub fn subscribe(&self, emails: &[String]) {
        let mut text = String::from("email\n");
        for e in emails {
            text.push_str(e);
            text.push('\n');
        }
        super::import_csv_ok(self.command(&[]), &text);
    }

    /// `send ISSUE --yes --transport TRANSPORT extra…`.
    pub fn send(&self, issue: &Path, transport: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "send",
            issue.to_str().unwrap(),
            "--yes",
            "--transport",
            transport,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Sends the small issue through `transport` to three fresh subscribers with the variables
    /// `unset` removed from the environment: it must refuse (exit 1) before anything is sent, and
    /// its standard error, returned, should name what is missing.
    pub fn send_without(&self, transport: &str, unset: &[&str]) -> String {
        self.subscribe(&emails("reader", 3));
        let mut cmd = self.command(&[
            "send",
            small_issue().to_str().unwrap(),
            "--yes",
            "--transport",
            transport,
        ]);
        for var in unset {
            cmd.env_remove(var);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", super::show(&out));
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    pub async fn store(&self) -> Store {
        Store::connect(&self.db.url()).await.unwrap()
    }

    /// `status ISSUE --format json`, which must succeed.
    /// Starts `send` of the small issue through `transport` up to `rounds` times, and kills each run
    /// with SIGKILL at a pseudo-random moment `from_ms` to `from_ms + spread_ms` into it, unless it
    /// finished first. Returns how many runs were killed, and every address whose delivery a killed
    /// run held (`sending`: handed to the transport or about to be, outcome not recorded): the only
    /// ones that may be delivered twice ([`Env::in_flight`] after each kill).
    pub async fn kill_sends(
        &self,
        transport: &str,
        rounds: usize,
        from_ms: u64,
        spread_ms: u64,
    ) -> (usize, HashSet<String>) {
        let mut in_flight: HashSet<String> = HashSet::new();
        let mut kills = 0;
        let mut seed = std::process::id() as u64;
        for _ in 0..rounds {
            let mut child = self
                .command(&[
                    "send",
                    small_issue().to_str().unwrap(),
                    "--yes",
                    "--transport",
                    transport,
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            std::thread::sleep(Duration::from_millis(from_ms + (seed >> 33) % spread_ms));
            if child.try_wait().unwrap().is_some() {
                break; // it finished first
            }
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
            in_flight.extend(self.in_flight().await);
        }
        (kills, in_flight)
    }

    /// The addresses whose delivery is held (`sending`): handed to the transport or about to be,
    /// outcome not recorded. After a kill, the only ones that may be delivered twice.
    pub async fn in_flight(&self) -> HashSet<String> {
        let sql = "SELECT email FROM deliveries WHERE state = 'sending'";
        let rows: Vec<(String,)> = match &self.db {
            TestDb::Sqlite(..) => {
                let pool = sqlx::SqlitePool::connect(&self.db.url()).await.unwrap();
                sqlx::query_as(sql).fetch_all(&pool).await.unwrap()
            }
            TestDb::Postgres(_) => {
                let pool = sqlx::PgPool::connect(&self.db.url()).await.unwrap();
                sqlx::query_as(sql).fetch_all(&pool).await.unwrap()
            }
        };
        rows.into_iter().map(|(e,)| e).collect()
    }

    /// Each sent delivery's stored provider message id, by address.
    pub async fn provider_ids(&self) -> HashMap<String, Option<String>> {
        let sql = "SELECT email, provider_message_id FROM deliveries WHERE state = 'sent'";
        let rows: Vec<(String, Option<String>)> = match &self.db {
            TestDb::Sqlite(..) => {
                let pool = sqlx::SqlitePool::connect(&self.db.url()).await.unwrap();
                sqlx::query_as(sql).fetch_all(&pool).await.unwrap()
            }
            TestDb::Postgres(_) => {
                let pool = sqlx::PgPool::connect(&self.db.url()).await.unwrap();
                sqlx::query_as(sql).fetch_all(&pool).await.unwrap()
            }
        };
        rows.into_iter().collect()
    }

    pub fn status_json(&self, issue: u32) -> serde_json::Value {
        let out = self.run(&["status", &issue.to_string(), "--format", "json"]);
        assert!(out.status.success(), "{}", super::show(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// A campaign of the small issue (912) from `dir` against `db_url`: the list `csv` imported, then
/// `send --yes` to the file outbox `DIR/outbox` with `extra` flags (`--enqueue-only`, `--at …`),
/// each of which must succeed. Returns the outbox as a transport URL.
pub fn small_issue_sent(dir: &Path, db_url: &str, csv: &str, extra: &[&str]) -> String {
    super::import_csv_ok(super::newsletter(dir, db_url), csv);
    let issue = small_issue();
    let outbox = format!("file:{}", dir.join("outbox").display());
    let mut args = vec![
        "send",
        issue.to_str().unwrap(),
        "--yes",
        "--transport",
        &outbox,
    ];
    args.extend_from_slice(extra);
    let out = super::run(dir, db_url, &args, None);
    assert!(out.status.success(), "{args:?}: {}", super::show(&out));
    outbox
}

/// After a run of [`Env::kill_sends`] and a final run to the end: everyone on `list` got the issue
/// (`counts`: copies per recipient), and every address that got it twice was in flight at a kill.
/// Returns how many got it twice.
pub fn assert_delivered_once_but_in_flight(
    list: &[String],
    counts: &HashMap<String, usize>,
    in_flight: &HashSet<String>,
) -> usize {
    let missing: Vec<&String> = list.iter().filter(|e| !counts.contains_key(*e)).collect();
    assert!(
        missing.is_empty(),
        "{} never received it: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let duplicated: Vec<&String> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(e, _)| e)
        .collect();
    let unexplained: Vec<&&String> = duplicated
        .iter()
        .filter(|e| !in_flight.contains(**e))
        .collect();
    assert!(
        unexplained.is_empty(),
        "duplicates that were not in flight at a kill: {unexplained:?}"
    );
    duplicated.len()
}
