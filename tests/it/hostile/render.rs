//! Hostile input, second round (issue #21): render. Findings 1 (nesting that overflowed the stack),
//! 4 (the `<noscript>` bypass of the raw-HTML filter) and parts of 10 (`<small style>`, the size of
//! `check`'s human output), each over the real binary.

use crate::common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::db::TestDb;
use scraper::{Html, Selector};

const HEADER: &str =
    "Title: This Week in Rust 921\nNumber: 921\nDate: 2026-09-02\nCategory: This Week in Rust\n\n";

/// Writes `HEADER` + `body` as a draft in `dir`.
fn draft(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{HEADER}{body}")).unwrap();
    path
}

/// A SQLite database of its own in `dir`.
fn db_in(dir: &Path) -> String {
    format!("sqlite://{}/nl.db?mode=rwc", dir.display())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The exit code, or a description of the signal that killed the process.
fn code(o: &Output) -> Result<i32, String> {
    o.status
        .code()
        .ok_or_else(|| format!("killed: {:?}", o.status))
}

/// Finding 1: 10,000 nested `>`, 50,000 nested `*a `, 100,000 nested `<small>` made `check` and
/// `render` abort (exit 134, a stack overflow). Now `check` exits 1 with a `nesting` error naming
/// the line, and `render` exits 1 with a message naming the file and line.
#[test]
fn finding_01_deep_nesting_is_an_error_not_an_abort() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "quotes.md",
            format!("Intro.\n\n{}deep\n", ">".repeat(10_000)),
            8,
        ),
        (
            "emphasis.md",
            format!(
                "Intro.\n\n\n{}b{}\n",
                "*a ".repeat(50_000),
                " a*".repeat(50_000)
            ),
            9,
        ),
        ("small.md", format!("{}x\n", "<small>".repeat(100_000)), 6),
    ];
    for (name, body, line) in cases {
        let path = draft(dir.path(), name, &body);
        let p = path.to_str().unwrap();
        let checked = common::run(dir.path(), &db_in(dir.path()), &["check", p], None);
        let out = text(&checked.stdout);
        assert_eq!(
            code(&checked),
            Ok(1),
            "{name}: check\n{}",
            text(&checked.stderr)
        );
        assert!(
            out.contains("error[nesting]"),
            "{name}: {}",
            &out[..out.len().min(2000)]
        );
        assert!(
            out.contains(&format!("{p}:{line}:")),
            "{name}: {}",
            &out[..out.len().min(2000)]
        );
        assert!(out.len() < 20_000, "{name}: {} bytes of output", out.len());

        let json = common::run(
            dir.path(),
            &db_in(dir.path()),
            &["check", "--format", "json", p],
            None,
        );
        assert_eq!(code(&json), Ok(1), "{name}: check --format json");
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        let nesting: Vec<&serde_json::Value> = v["files"][0]["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["rule"] == "nesting")
            .collect();
        assert_eq!(nesting.len(), 1, "{name}: {v}");
        assert_eq!(nesting[0]["severity"], "error");
        assert_eq!(nesting[0]["line"], line, "{name}");

        let out_dir = dir.path().join(format!("out-{name}"));
        let rendered = common::run(
            dir.path(),
            &db_in(dir.path()),
            &["render", p, "--out", out_dir.to_str().unwrap()],
            None,
        );
        let err = text(&rendered.stderr);
        assert_eq!(code(&rendered), Ok(1), "{name}: render\n{err}");
        assert!(
            err.contains(&format!("{p}: line {line}:")) && err.contains("nested"),
            "{name}: {err}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
}

/// Finding 4: `<noscript><p title="</noscript><img src=x onerror=alert(1)>">` went through the
/// hand-written tag filter and a mail client ran the handler. Now the body goes through a real HTML
/// sanitizer: no element of the e-mail has an event handler, and `check` stops the draft.
#[test]
fn finding_04_the_noscript_trick_renders_no_live_handler() {
    let dir = tempfile::tempdir().unwrap();
    let body = "Before.\n\n<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></p></noscript>\n\n\
                After <noscript><p title=\"</noscript><img src=y onerror=alert(2)>\">inline</p></noscript>.\n";
    let path = draft(dir.path(), "noscript.md", body);
    let p = path.to_str().unwrap();
    let out_dir = dir.path().join("out");
    let rendered = common::run(
        dir.path(),
        &db_in(dir.path()),
        &["render", p, "--out", out_dir.to_str().unwrap()],
        None,
    );
    assert_eq!(code(&rendered), Ok(0), "{}", text(&rendered.stderr));
    let html = std::fs::read_to_string(out_dir.join("921.html")).unwrap();
    // What a browser (scripting on) builds from the e-mail: no element carries a handler, and the
    // words around the trick are still there.
    let doc = Html::parse_document(&html);
    for e in doc.select(&Selector::parse("*").unwrap()) {
        for (name, value) in e.value().attrs() {
            assert!(
                !name.starts_with("on"),
                "<{} {name}={value:?}> in\n{html}",
                e.value().name()
            );
        }
    }
    assert_eq!(
        doc.select(&Selector::parse("noscript").unwrap()).count(),
        0,
        "{html}"
    );
    assert!(html.contains("Before.") && html.contains("After"), "{html}");

    let checked = common::run(dir.path(), &db_in(dir.path()), &["check", p], None);
    let out = text(&checked.stdout);
    assert_eq!(code(&checked), Ok(1), "{out}");
    assert!(
        out.contains("error[unsafe-html]: raw HTML `<noscript>` is not allowed"),
        "{out}"
    );
}

/// Finding 10 (part): `<small style="x">` passed `check`, then `render` refused the issue blaming
/// the stylesheet. Now the style is dropped (the stylesheet gives the look), `render` succeeds, and
/// `check` says the attribute is dropped, as a warning.
#[test]
fn finding_10_small_with_a_style_renders_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = draft(
        dir.path(),
        "style.md",
        "A line with <small style=\"x\">a small note</small>.\n",
    );
    let p = path.to_str().unwrap();
    let out_dir = dir.path().join("out");
    let rendered = common::run(
        dir.path(),
        &db_in(dir.path()),
        &["render", p, "--out", out_dir.to_str().unwrap()],
        None,
    );
    assert_eq!(code(&rendered), Ok(0), "{}", text(&rendered.stderr));
    let html = std::fs::read_to_string(out_dir.join("921.html")).unwrap();
    let doc = Html::parse_document(&html);
    let small: Vec<_> = doc.select(&Selector::parse("small").unwrap()).collect();
    assert_eq!(small.len(), 1, "{html}");
    assert_eq!(small[0].text().collect::<String>(), "a small note");
    assert!(
        small[0]
            .value()
            .attr("style")
            .is_none_or(|s| s.split(';').all(|d| d.trim() != "x")),
        "{html}"
    );

    let checked = common::run(dir.path(), &db_in(dir.path()), &["check", p], None);
    let out = text(&checked.stdout);
    assert_eq!(code(&checked), Ok(0), "{out}");
    assert!(
        out.contains("warning[dropped-html]: attribute `style` of `<small>` is dropped"),
        "{out}"
    );
}

/// Finding 10 (part): `check` in human format on 64 KiB of bare URLs on one line printed 322 MB
/// (every finding repeated the whole line). Now it prints 20 findings per rule, each with a short
/// excerpt, and says how many more there are.
#[test]
fn finding_10_human_output_of_check_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut line = String::new();
    let mut n = 0;
    while line.len() < 64 * 1024 {
        line.push_str(&format!("https://example.org/page/{n} "));
        n += 1;
    }
    let path = draft(dir.path(), "urls.md", &format!("{line}\n"));
    let mut child = common::newsletter(dir.path(), &db_in(dir.path()))
        .args(["check", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Read at most 4 MB: the old build's 322 MB need not be waited for.
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .take(4 * 1024 * 1024)
        .read_to_end(&mut out)
        .unwrap();
    let _ = child.kill();
    let status = child.wait().unwrap();
    let out = text(&out);
    assert!(
        out.len() < 64 * 1024,
        "{} bytes of output for {n} URLs",
        out.len()
    );
    assert_eq!(status.code(), Some(0), "notes only");
    assert_eq!(out.matches("note[bare-url]").count(), 20, "{out}");
    assert!(
        out.contains(&format!("… and {} more `bare-url` finding(s)", n - 20)),
        "{out}"
    );
    // The excerpt still points at the right place: line 6, the column of the 1,000th URL.
    let col = line.find("https://example.org/page/999 ").unwrap() + 1;
    assert!(
        !out.contains(&format!(":6:{col}")),
        "only the first 20 are printed"
    );
    assert!(out.contains(&format!("{}:6:1\n", path.display())), "{out}");
    let second = line.find("https://example.org/page/1 ").unwrap() + 1;
    assert!(
        out.contains(&format!("{}:6:{second}\n", path.display())),
        "{out}"
    );
}

/// Finding 1, as reported: an editor pastes a header and 3,000 `>` into the console preview, and
/// `serve` aborted with a stack overflow. Now the preview says why the draft cannot be rendered,
/// and the server goes on answering.
#[test]
fn finding_01_a_deep_paste_in_the_console_preview_leaves_the_server_up() {
    use crate::common::console::{add_account, csrf_field, get, multipart, serve, sign_in};
    let db = TestDb::sqlite();
    let password = "a long editor password for the preview";
    add_account(&db, "ed@example.org", "editor", password);
    let s = serve(&db);
    let (session, r) = sign_in(&s, "nl_login", "nl_admin", "ed@example.org", password);
    let session = session.unwrap_or_else(|| panic!("signed in: {} {}", r.status, r.body));
    let page = get(&s, "/admin/preview", &session);
    assert_eq!(page.status, 200);
    let csrf = csrf_field(&page.body);
    let paste = format!("{HEADER}{}\n", ">".repeat(3000));
    let r = multipart(
        &s,
        "/admin/preview",
        &session,
        &[("csrf", None, &csrf), ("text", None, &paste)],
    );
    let shown = match r.status {
        303 => {
            let to = r.headers("location").into_iter().next().unwrap();
            get(&s, &to, &session)
        }
        _ => r,
    };
    // Shown, with the reason, as a draft that cannot be rendered (422), not a server error.
    assert_eq!(shown.status, 422, "{}", shown.body);
    assert!(
        shown.body.contains("nesting"),
        "check's finding is listed: {}",
        shown.body
    );
    assert!(
        shown.body.contains("cannot be rendered") && shown.body.contains("nested"),
        "{}",
        shown.body
    );
    // Still serving.
    assert_eq!(get(&s, "/admin/preview", &session).status, 200);
}
