//! The subscriber store and `newsletter subscribers`, on a real SQLite file and a real PostgreSQL
//! server. Every test body runs on both backends.

use crate::common;

use std::process::{Command, Output};

use common::db::{TestDb, psql_at};
use newsletter::domain::{EmailAddress, SubscriberStatus};
use newsletter::store::{AddOutcome, Source, Store};

both_backends!(
    addresses_are_unique_case_insensitively,
    tokens_survive_unsubscribe_and_rotate_on_return,
    forget_erases_and_blocks_re_adding,
    import_edge_cases,
    import_is_all_or_nothing,
    import_respects_suppression,
    list_export_and_stats,
    search_finds_any_part_of_an_address_or_name,
    search_indexes_after_an_import_that_rolled_back_or_updated,
);

fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

/// Import rows `filler{i}@list.example` for each `i` of `range`, on line `i + 1`, without names:
/// more of them than the search's first window makes a rare query go to the index.
fn fillers(range: std::ops::Range<u64>) -> impl Iterator<Item = newsletter::store::ImportRow> {
    range.map(|i| newsletter::store::ImportRow {
        line: i + 1,
        email: Ok(email(&format!("filler{i}@list.example"))),
        name: None,
    })
}

fn name(s: &str) -> newsletter::domain::SubscriberName {
    newsletter::domain::SubscriberName::parse(s)
        .unwrap()
        .unwrap()
}

/// The binary against `db`, named by `--database-url`, with no operator config.
fn cli_against(db: &TestDb) -> Command {
    common::plain(&["--database-url", &db.url()])
}

fn cli(db: &TestDb, args: &[&str]) -> Output {
    cli_against(db).args(args).output().unwrap()
}

/// `subscribers import` of `csv` with `extra` flags.
fn import(db: &TestDb, csv: &str, extra: &[&str]) -> Output {
    common::import_csv(cli_against(db), csv, extra)
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn addresses_are_unique_case_insensitively(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    let added = store
        .add(
            &email("Ferris@Example.ORG"),
            Some(&name("Ferris")),
            SubscriberStatus::Active,
            Source::Cli,
        )
        .await
        .unwrap();
    assert!(matches!(added, AddOutcome::Added(_)));
    let again = store
        .add(
            &email("ferris@example.org"),
            None,
            SubscriberStatus::Pending,
            Source::Cli,
        )
        .await
        .unwrap();
    assert_eq!(again, AddOutcome::Exists(SubscriberStatus::Active));
    let s = store
        .find_by_email(&email("FERRIS@example.org"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.email, "Ferris@example.org",
        "local part kept as given, domain lowercased"
    );
    let idn = store
        .add(
            &email("zoë@Bücher.example"),
            None,
            SubscriberStatus::Active,
            Source::Cli,
        )
        .await
        .unwrap();
    assert!(matches!(idn, AddOutcome::Added(_)));
    assert!(
        store
            .find_by_email(&email("zoë@xn--bcher-kva.example"))
            .await
            .unwrap()
            .is_some()
    );
}

async fn tokens_survive_unsubscribe_and_rotate_on_return(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    let e = email("crab@example.org");
    store
        .add(&e, None, SubscriberStatus::Active, Source::Cli)
        .await
        .unwrap();
    let first = store.find_by_email(&e).await.unwrap().unwrap();
    assert_eq!(
        store.find_by_token(&first.token).await.unwrap().unwrap().id,
        first.id
    );
    let left = store
        .set_status(&e, SubscriberStatus::Unsubscribed, Source::Web, "one-click")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        left.token, first.token,
        "the token survives unsubscribing, so the link stays idempotent"
    );
    let back = store
        .set_status(&e, SubscriberStatus::Active, Source::Cli, "back")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(back.token, first.token, "returning rotates the token");
    assert!(store.find_by_token(&first.token).await.unwrap().is_none());
    let history = store.history(first.id).await.unwrap();
    let steps: Vec<(&str, &str)> = history
        .iter()
        .map(|e| (e.source.as_str(), e.new_status.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("cli", "active"),
            ("web", "unsubscribed"),
            ("cli", "active")
        ]
    );
}

async fn forget_erases_and_blocks_re_adding(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    let e = email("gone@example.org");
    store
        .add(
            &e,
            Some(&name("Gone Person")),
            SubscriberStatus::Active,
            Source::Cli,
        )
        .await
        .unwrap();
    let id = store.find_by_email(&e).await.unwrap().unwrap().id;
    assert!(store.forget(&e, Source::Cli).await.unwrap());
    assert!(
        store.find_by_email(&e).await.unwrap().is_none(),
        "personal data deleted"
    );
    assert!(
        store.history(id).await.unwrap().is_empty(),
        "history detached from the erased id"
    );
    assert_eq!(
        store
            .add(
                &email("GONE@example.org"),
                None,
                SubscriberStatus::Active,
                Source::Cli
            )
            .await
            .unwrap(),
        AddOutcome::Forgotten
    );
    store.close().await;
    let o = import(&db, "email\ngone@example.org\n", &["--resubscribe"]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).contains("added 0") && out(&o).contains("erased on request"),
        "{}",
        out(&o)
    );
}

async fn import_edge_cases(db: TestDb) {
    // BOM, CRLF, a header in another order, quoted fields with commas and a newline, case duplicates.
    let o = import(
        &db,
        "\u{feff}Name,E-mail\r\n\"Crab, Corro\",corro@example.org\r\n\"Multi\r\nLine\",multi@example.org\r\nFerris,ferris@example.org\r\nFERRIS,Ferris@EXAMPLE.org\r\n",
        &[],
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).contains("added 3, updated 0, skipped 1, invalid 0"),
        "{}",
        out(&o)
    );
    assert!(
        out(&o).contains("skipped 1: listed earlier in the file"),
        "{}",
        out(&o)
    );
    let store = Store::connect(&db.url()).await.unwrap();
    let corro = store
        .find_by_email(&email("corro@example.org"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(corro.name.as_deref(), Some("Crab, Corro"));
    let multi = store
        .find_by_email(&email("multi@example.org"))
        .await
        .unwrap()
        .unwrap();
    // The quoted field is read whole; its line break is a space once stored (a CR LF in a name would
    // fake a row in `subscribers list`).
    assert_eq!(multi.name.as_deref(), Some("Multi Line"));
    // No header: email first, name second. Running the same file again adds nothing.
    store.close().await;
    let o = import(&db, "new@example.org,New\ncorro@example.org,Corro\n", &[]);
    assert!(
        out(&o).contains("added 1, updated 0, skipped 1"),
        "{}",
        out(&o)
    );
}

async fn import_is_all_or_nothing(db: TestDb) {
    let csv = "email,name\nok@example.org,Ok\nno-at-sign,Bad\n\"quoted\r\nnewline\",x\nctl\u{7}@example.org,Bell\nx@-bad-.org,Dash\n,Empty\nlast@example.org,Last\n";
    let o = import(&db, csv, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    for expected in [
        "line 3: `no-at-sign`",
        "line 4:",
        "line 6: ",
        "control character",
        "line 7: ",
        "line 8: no email address",
        "nothing imported: 5 invalid row(s)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let stats = cli(&db, &["subscribers", "stats"]);
    assert!(
        out(&stats).contains("total         0"),
        "rolled back: {}",
        out(&stats)
    );
    let o = import(&db, csv, &["--skip-invalid"]);
    assert!(o.status.success());
    assert!(
        out(&o).contains("added 2, updated 0, skipped 0, invalid 5"),
        "{}",
        out(&o)
    );
}

async fn import_respects_suppression(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    for (addr, status) in [
        ("u@example.org", SubscriberStatus::Unsubscribed),
        ("b@example.org", SubscriberStatus::Bounced),
        ("c@example.org", SubscriberStatus::Complained),
        ("p@example.org", SubscriberStatus::Pending),
    ] {
        store
            .add(&email(addr), None, status, Source::Cli)
            .await
            .unwrap();
    }
    store.close().await;
    let csv = "email\nu@example.org\nb@example.org\nc@example.org\np@example.org\n";
    let o = import(&db, csv, &[]);
    assert!(
        out(&o).contains("added 0, updated 1, skipped 3"),
        "pending is confirmed, the rest stay: {}",
        out(&o)
    );
    let o = import(&db, csv, &["--resubscribe"]);
    assert!(
        out(&o).contains("added 0, updated 3, skipped 1"),
        "{}",
        out(&o)
    );
    let o = cli(
        &db,
        &[
            "subscribers",
            "list",
            "--status",
            "active",
            "--format",
            "csv",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        5,
        "{}",
        out(&o)
    );
}

async fn list_export_and_stats(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    for i in 0..12 {
        store
            .add(
                &email(&format!("s{i}@example.org")),
                Some(&name(&format!("Sub {i}"))),
                SubscriberStatus::Active,
                Source::Cli,
            )
            .await
            .unwrap();
    }
    store
        .set_status(
            &email("s3@example.org"),
            SubscriberStatus::Unsubscribed,
            Source::Cli,
            "",
        )
        .await
        .unwrap();
    store.close().await;
    let o = cli(&db, &["subscribers", "stats"]);
    assert!(
        out(&o).contains("active        11") && out(&o).contains("unsubscribed  1"),
        "{}",
        out(&o)
    );
    let o = cli(&db, &["subscribers", "list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 12);
    assert!(v[0].get("token").is_none(), "tokens are never printed");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.csv");
    let o = cli(
        &db,
        &[
            "subscribers",
            "export",
            file.to_str().unwrap(),
            "--status",
            "active",
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    let exported = std::fs::read_to_string(&file).unwrap();
    assert_eq!(exported.lines().count(), 12);
    assert!(!exported.contains("s3@example.org"));
    // The export imports back into a fresh database.
    let fresh = TestDb::sqlite();
    let o = cli(&fresh, &["subscribers", "import", file.to_str().unwrap()]);
    assert!(out(&o).contains("added 11"), "{}", out(&o));
    let o = cli(&db, &["subscribers", "show", "s3@example.org"]);
    assert!(
        out(&o).contains("status:   unsubscribed") && out(&o).contains("active -> unsubscribed"),
        "{}",
        out(&o)
    );
}

/// The console's search: any part of an address or a name, case-insensitively; the status filter;
/// keyset pages; characters that mean something to LIKE or FTS5 match only themselves; a changed
/// or forgotten subscriber is found by what is true now.
async fn search_finds_any_part_of_an_address_or_name(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    // Enough rows before the people that a rare query is answered by the index, not the first
    // window of the scan.
    store
        .import(
            fillers(0..6000),
            &newsletter::store::ImportOptions::default(),
        )
        .await
        .unwrap();
    let people = [
        ("ada.lovelace@example.org", Some("Ada Lovelace")),
        ("grace@hopper.example", Some("Grace Brewster Hopper")),
        ("linus_t@kernel.example", None),
        ("percent%sign@example.net", Some("Quote \"Marks\" Person")),
        ("Mixed.Case@Example.COM", Some("Ünïcödé Näme")),
    ];
    for (e, n) in people {
        store
            .add(
                &email(e),
                n.map(name).as_ref(),
                SubscriberStatus::Active,
                Source::Cli,
            )
            .await
            .unwrap();
    }
    let found = |q: &'static str, status: Option<SubscriberStatus>| {
        let store = &store;
        async move {
            let mut v: Vec<String> = store
                .search(q, status, 0, 50)
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.email.as_str().to_lowercase())
                .collect();
            v.sort();
            v
        }
    };
    // Rows an import wrote are in the index (it indexes them once, at its end), and the rows added
    // one by one after it are too (its trigger is back).
    assert_eq!(
        found("filler5998@", None).await,
        ["filler5998@list.example"]
    );
    assert_eq!(found("lovelace", None).await, ["ada.lovelace@example.org"]);
    assert_eq!(found("LOVE", None).await, ["ada.lovelace@example.org"]);
    assert_eq!(
        found("brewster", None).await,
        ["grace@hopper.example"],
        "a middle name"
    );
    assert_eq!(
        found("ada.", None).await,
        ["ada.lovelace@example.org"],
        "a prefix"
    );
    assert_eq!(
        found("s_t", None).await,
        ["linus_t@kernel.example"],
        "_ is a character"
    );
    assert_eq!(
        found("t%s", None).await,
        ["percent%sign@example.net"],
        "% is a character"
    );
    assert_eq!(
        found("e \"m", None).await,
        ["percent%sign@example.net"],
        "a quote is a character"
    );
    assert_eq!(
        found("näme", None).await,
        ["mixed.case@example.com"],
        "non-ASCII name"
    );
    assert_eq!(found("mixed.case", None).await, ["mixed.case@example.com"]);
    assert_eq!(found("hop", None).await, ["grace@hopper.example"]);
    assert_eq!(
        found("ho", None).await,
        Vec::<String>::new(),
        "two characters: a beginning"
    );
    assert_eq!(found("gr", None).await, ["grace@hopper.example"]);
    assert_eq!(found("Mi", None).await, ["mixed.case@example.com"]);
    assert_eq!(
        found("fi", None).await.len(),
        50,
        "a page of a common beginning"
    );
    assert_eq!(found("xyzzy", None).await, Vec::<String>::new());
    assert_eq!(
        found("", None).await.len(),
        50,
        "an empty query lists everyone"
    );
    assert_eq!(found("example", None).await.len(), 50, "a full page");
    assert_eq!(found("example.", None).await.len(), 3, "only the people");

    // Status filter and pages of two in id order.
    let ada = store
        .find_by_email(&email("ada.lovelace@example.org"))
        .await
        .unwrap()
        .unwrap();
    store
        .change_status(&ada, SubscriberStatus::Unsubscribed, Source::Cli, "test")
        .await
        .unwrap();
    assert_eq!(
        found("exam", Some(SubscriberStatus::Unsubscribed)).await,
        ["ada.lovelace@example.org"]
    );
    assert_eq!(
        found("lovelace", Some(SubscriberStatus::Active)).await,
        Vec::<String>::new()
    );
    let first = store.search("example.", None, 0, 2).await.unwrap();
    let second = store
        .search("example.", None, first[1].id, 2)
        .await
        .unwrap();
    let ids: Vec<i64> = first.iter().chain(&second).map(|s| s.id).collect();
    assert_eq!(ids.len(), 3);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "keyset pages in id order: {ids:?}"
    );

    // Forgotten: not found by any part any more.
    assert!(
        store
            .forget(&email("grace@hopper.example"), Source::Cli)
            .await
            .unwrap()
    );
    assert_eq!(found("hopper", None).await, Vec::<String>::new());
    assert_eq!(found("brewster", None).await, Vec::<String>::new());
    assert_eq!(found("example.", None).await.len(), 3, "the others stay");
    assert_eq!(found("gr", None).await, Vec::<String>::new());
}

/// An import indexes its rows once, at its end, instead of row by row; whatever way it ends (rolled
/// back for an invalid row, or bringing a suppressed address back with a new name), the rows written
/// after it are indexed again as they are added, and what it changed is found by what is true now.
async fn search_indexes_after_an_import_that_rolled_back_or_updated(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    let options = newsletter::store::ImportOptions::default();
    // More rows than the search's first window, so a rare query is answered by the index.
    store.import(fillers(0..6000), &options).await.unwrap();
    let rolled_back = store
        .import(
            fillers(6000..6100).chain([newsletter::store::ImportRow {
                line: 7000,
                email: Err("not an address".to_string()),
                name: None,
            }]),
            &options,
        )
        .await
        .unwrap();
    assert!(rolled_back.rolled_back);
    store
        .add(
            &email("late.comer@example.org"),
            Some(&name("Late Comer")),
            SubscriberStatus::Active,
            Source::Cli,
        )
        .await
        .unwrap();
    let found = |q: &'static str| {
        let store = &store;
        async move {
            store
                .search(q, None, 0, 50)
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.email.as_str().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found("comer").await, ["late.comer@example.org"]);
    assert_eq!(found("filler6050@").await, Vec::<String>::new());
    assert_eq!(found("filler5999@").await, ["filler5999@list.example"]);

    // An import that brings an unsubscribed address back: found under its new status.
    let late = store
        .find_by_email(&email("late.comer@example.org"))
        .await
        .unwrap()
        .unwrap();
    store
        .change_status(&late, SubscriberStatus::Unsubscribed, Source::Cli, "test")
        .await
        .unwrap();
    let back = store
        .import(
            [newsletter::store::ImportRow {
                line: 2,
                email: Ok(email("late.comer@example.org")),
                name: Some(name("Lätë Returner")),
            }]
            .into_iter()
            .chain(fillers(6000..6010)),
            &newsletter::store::ImportOptions {
                resubscribe: true,
                skip_invalid: false,
            },
        )
        .await
        .unwrap();
    assert_eq!((back.added, back.updated), (10, 1));
    let active = store
        .search("comer", Some(SubscriberStatus::Active), 0, 50)
        .await
        .unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(
        found("late returner").await,
        ["late.comer@example.org"],
        "the name it brought, folded"
    );
    assert_eq!(found("filler6009@").await, ["filler6009@list.example"]);

    // PostgreSQL: the first load set indexes and the events' foreign key aside and built them
    // again; all are there, and the key holds.
    if let TestDb::Postgres(_) = db {
        let psql = |sql: &str| {
            let o = psql_at(&db.url(), sql);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        };
        assert_eq!(
            psql(
                "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'subscribers'"
            ),
            "subscribers_confirm_token_key,subscribers_email_key_key,subscribers_email_prefix,\
             subscribers_email_trgm,subscribers_name_key_missing,subscribers_name_key_trgm,\
             subscribers_pkey,subscribers_token_key"
        );
        assert_eq!(
            psql(
                "SELECT string_agg(pg_get_constraintdef(oid), ',') FROM pg_constraint \
                 WHERE conrelid = 'subscriber_events'::regclass AND contype = 'f'"
            ),
            "FOREIGN KEY (subscriber_id) REFERENCES subscribers(id) ON DELETE SET NULL"
        );
        let orphan = psql_at(
            &db.url(),
            "INSERT INTO subscriber_events (subscriber_id, at, source, new_status) VALUES (999999999, 0, 'cli', 'active')",
        );
        assert!(
            !orphan.status.success()
                && String::from_utf8_lossy(&orphan.stderr).contains("foreign key"),
            "the key is enforced again: {}",
            String::from_utf8_lossy(&orphan.stderr)
        );
    }
}

/// A list that was searchable before migration 0012 (which rebuilds the search index without its
/// column sizes and lets imports defer it) is searchable after it: the rows already there are
/// found by any part, and the rows added afterwards too. SQLite only: the migration is SQLite's.
#[tokio::test]
async fn sqlite_search_survives_the_upgrade_to_a_deferred_index() {
    let db = TestDb::sqlite();
    let url = db.url();
    {
        let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        let mut before = sqlx::migrate::Migrator::new(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite"
        )))
        .await
        .unwrap();
        let upto: Vec<_> = before
            .migrations
            .iter()
            .filter(|m| m.version < 12)
            .cloned()
            .collect();
        assert_eq!(upto.len(), 11);
        before.migrations = upto.into();
        before.run(&pool).await.unwrap();
        // More rows than the search's first window, written as the old build wrote them.
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 5999) \
             INSERT INTO subscribers (email, email_key, name, name_key, status, token, created_at, updated_at) \
             SELECT 'old' || i || '@list.example', 'old' || i || '@list.example', 'Old ' || i, 'old ' || i, \
             'active', substr('tokentokentokentoken' || printf('%06d', i), -24, 24), 0, 0 FROM n",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    let store = Store::connect(&url).await.unwrap();
    let emails = |found: Vec<newsletter::store::Subscriber>| {
        found
            .into_iter()
            .map(|s| s.email.as_str().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        emails(store.search("old5998@", None, 0, 50).await.unwrap()),
        ["old5998@list.example"]
    );
    assert_eq!(
        emails(store.search("old 5997", None, 0, 50).await.unwrap()),
        ["old5997@list.example"]
    );
    store
        .add(
            &email("new.after@example.org"),
            None,
            SubscriberStatus::Active,
            Source::Cli,
        )
        .await
        .unwrap();
    assert_eq!(
        emails(store.search("new.after", None, 0, 50).await.unwrap()),
        ["new.after@example.org"]
    );
}

/// `subscribers import` of a device or a directory is refused at once with what to give instead:
/// /dev/zero is one endless line that the CSV reader would hold in memory until the machine ran out.
#[test]
fn import_refuses_a_device_or_a_directory() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    for path in ["/dev/zero", dir.path().to_str().unwrap()] {
        let o = cli(&db, &["subscribers", "import", path]);
        assert_eq!(o.status.code(), Some(1), "{path}: {}", out(&o));
        assert!(
            out(&o).contains("is not a file: give a CSV file"),
            "{path}: {}",
            out(&o)
        );
    }
}
