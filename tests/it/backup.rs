//! `newsletter backup FILE`: a copy of the SQLite database that opens as the database did, is
//! private, and is never written over anything; on PostgreSQL it names pg_dump and writes nothing.

use std::os::unix::fs::PermissionsExt;

use crate::common::{self, Env, db::TestDb, show, small_issue, smtp::Server, stdout};

fn export(dir: &std::path::Path, db_url: &str, name: &str) -> String {
    let csv = dir.join(name);
    let out = common::run(
        dir,
        db_url,
        &["subscribers", "export", csv.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{}", show(&out));
    std::fs::read_to_string(csv).unwrap()
}

#[tokio::test]
async fn a_backup_opens_as_the_database_did_and_is_private() {
    require!("smtp-sink");
    let env = Env::new(TestDb::sqlite());
    let list: Vec<String> = (0..40).map(|i| format!("reader{i}@example.org")).collect();
    env.subscribe(&list);
    let sink = Server::sink(&[]);
    let out = env.send(&small_issue(), &sink.url(), &[]);
    assert!(out.status.success(), "{}", show(&out));

    let file = env.dir.path().join("copy.db");
    let out = env.run(&["backup", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(stdout(&out).contains("backed up to"), "{}", stdout(&out));
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the copy holds secrets: {mode:o}");

    // The copy is a database of its own with the same list and the same campaign.
    let copy_url = format!("sqlite://{}", file.display());
    assert_eq!(
        export(env.dir.path(), &copy_url, "from-copy.csv"),
        export(env.dir.path(), &env.db.url(), "from-live.csv")
    );
    let campaigns = common::run(
        env.dir.path(),
        &copy_url,
        &["status", "912", "--format", "json"],
        None,
    );
    assert!(campaigns.status.success(), "{}", show(&campaigns));
    let status: serde_json::Value = serde_json::from_slice(&campaigns.stdout).unwrap();
    assert_eq!(status["counts"]["sent"], 40, "{status}");

    // Never over an existing file, nor through a symbolic link.
    let before = std::fs::read(&file).unwrap();
    let again = env.run(&["backup", file.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "{}", show(&again));
    assert!(show(&again).contains("already exists"), "{}", show(&again));
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let target = env.dir.path().join("elsewhere");
    let link = env.dir.path().join("link.db");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let through = env.run(&["backup", link.to_str().unwrap()]);
    assert_eq!(through.status.code(), Some(1), "{}", show(&through));
    assert!(!target.exists(), "nothing written through the link");
}

#[tokio::test]
async fn on_postgresql_backup_names_pg_dump_and_writes_nothing() {
    let env = Env::new(TestDb::postgres());
    env.subscribe(&["a@example.org".to_string()]);
    let file = env.dir.path().join("copy.dump");
    let out = env.run(&["backup", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        show(&out).contains("pg_dump --format=custom"),
        "{}",
        show(&out)
    );
    assert!(!file.exists());
}
