//! The binary under test and the ways the tests run it. Every test starts `newsletter` through
//! [`bin`], so `NEWSLETTER_TEST_BIN` points the whole suite at another build; [`newsletter`] is the
//! binary in a folder against a database with nothing inherited from the operator; [`output`] runs a
//! prepared command to its end with optional standard input, and [`run`] both at once; [`stdout`], [`stderr`] and [`show`]
//! turn what it said into text; [`import_csv`] is the one way a test imports a list by
//! `subscribers import`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test: this build's, or another one named by `NEWSLETTER_TEST_BIN` (to show that
/// a test fails on an older build, e.g. `NEWSLETTER_TEST_BIN=/tmp/old/newsletter cargo test --test
/// it hostile`).
pub fn bin() -> PathBuf {
    std::env::var_os("NEWSLETTER_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_newsletter")))
}

/// The real binary, run in `dir` against the database at `db_url`, with no operator config, no
/// inherited transport or SMTP password, and no standard input.
pub fn newsletter(dir: &Path, db_url: &str) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(dir)
        .env_remove("NEWSLETTER_CONFIG")
        .env_remove("NEWSLETTER_TRANSPORT")
        .env_remove("NEWSLETTER_SMTP_PASSWORD")
        .env("NEWSLETTER_DATABASE_URL", db_url)
        .stdin(Stdio::null());
    c
}

/// `newsletter(dir, db_url)` with `args`, run to its end by [`output`] (with `stdin`, if any).
pub fn run(dir: &Path, db_url: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    output(newsletter(dir, db_url).args(args), stdin)
}

/// The binary with `args` and no operator config, for the commands that need no database
/// (`check`, `render`, …); everything else inherited.
pub fn plain(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args).env_remove("NEWSLETTER_CONFIG");
    c
}

/// `plain(args)`, run to its end.
pub fn run_plain(args: &[&str]) -> Output {
    plain(args).output().unwrap()
}

/// Runs `cmd` to its end and returns what it said. With `stdin`, those bytes are its standard
/// input (written from a thread of their own; a command that stops reading early is fine);
/// without, it has none.
pub fn output(cmd: &mut Command, stdin: Option<&[u8]>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let writer = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || match pipe.write_all(&bytes) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("standard input: {e}"),
            _ => {}
        })
    });
    let out = child.wait_with_output().unwrap();
    if let Some(w) = writer {
        w.join().unwrap();
    }
    out
}

/// What a finished command printed on standard output.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What a finished command printed on standard error.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A finished command's exit code and output, for an assertion's message.
pub fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts the command failed with exit 1 and said `needle` on standard error.
pub fn assert_refused_with(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", show(out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(needle),
        "wanted {needle:?}: {}",
        show(out)
    );
}

/// Asserts the command succeeded and printed `needle`.
pub fn assert_ok_with(out: &Output, needle: &str) {
    assert!(out.status.success(), "{}", show(out));
    assert!(
        stdout(out).contains(needle),
        "wanted {needle:?}: {}",
        show(out)
    );
}

/// `subscribers import FILE extra…` run by `cmd` (a [`newsletter`] command, perhaps with settings
/// of its own), where FILE holds `csv` exactly and lives in a folder of its own while it runs.
pub fn import_csv(mut cmd: Command, csv: &str, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("subscribers.csv");
    std::fs::write(&file, csv).unwrap();
    cmd.args(["subscribers", "import"])
        .arg(&file)
        .args(extra)
        .output()
        .unwrap()
}

/// [`import_csv`] that must succeed.
pub fn import_csv_ok(cmd: Command, csv: &str) {
    let out = import_csv(cmd, csv, &[]);
    assert!(out.status.success(), "{}", show(&out));
}
