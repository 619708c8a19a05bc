//! Throwaway databases on both backends: a fresh SQLite file, or a fresh PostgreSQL database that is
//! dropped when the guard goes.

use std::path::PathBuf;

/// The PostgreSQL server tests use (`NEWSLETTER_TEST_PG` overrides it).
pub fn pg_admin_url() -> String {
    std::env::var("NEWSLETTER_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub enum TestDb {
    Sqlite(tempfile::TempDir, PathBuf),
    Postgres(String),
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("newsletter.db");
        TestDb::Sqlite(dir, path)
    }

    /// A new database on the test server. Panics with instructions if the server is not there.
    pub fn postgres() -> TestDb {
        let name = format!("nl_test_{}_{}", std::process::id(), rand_suffix());
        psql(&format!("CREATE DATABASE {name}"));
        TestDb::Postgres(name)
    }

    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(_, path) => format!("sqlite://{}", path.display()),
            TestDb::Postgres(name) => {
                let admin = pg_admin_url();
                let base = admin
                    .rsplit_once('/')
                    .map_or(admin.as_str(), |(b, _)| b)
                    .to_string();
                format!("{base}/{name}")
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres(name) = self {
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{t:x}{}", N.fetch_add(1, Ordering::Relaxed))
}

fn psql(sql: &str) {
    let out = psql_at(&pg_admin_url(), sql);
    assert!(
        out.status.success(),
        "PostgreSQL at {} is needed for the tests (scripts/install-test-deps.sh starts one): {}",
        pg_admin_url(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `sql` with psql in the database at `url`, stopping at the first error; rows come out bare
/// (`-tA`: no header, `|` between columns).
pub fn psql_at(url: &str, sql: &str) -> std::process::Output {
    std::process::Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-tA", "-c", sql])
        .output()
        .expect("psql is installed (scripts/install-test-deps.sh)")
}
