//! Helpers shared by the integration tests: the binary and how to run it ([`cli`]), a work folder
//! with a database ([`env`]), throwaway databases ([`db`]), SMTP and IMAP servers ([`smtp`],
//! [`imap`]), `serve` and an HTTP client ([`web`]), the console's client ([`console`]), the tools a
//! test needs ([`require`]), and the fixtures and render checks the render tests share.
#![allow(dead_code, unused_macros)]

/// Runs each listed `async fn name(db: TestDb)` twice: on a fresh SQLite file and on a fresh
/// PostgreSQL database. The test file must import `TestDb`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::TestDb::sqlite()).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(super::TestDb::postgres()).await })*
        }
    };
}

/// Returns from the calling test unless every named tool is there (see [`require`]): outside CI
/// the test is skipped with one line on the terminal, in CI it fails.
macro_rules! require {
    ($($tool:expr),+ $(,)?) => {
        if ![$($tool),+].iter().all(|t| $crate::common::require(t).is_some()) {
            return;
        }
    };
}

pub mod cli;
pub mod console;
pub mod db;
pub mod emulator;
pub mod env;
pub mod imap;
pub mod smtp;
pub mod web;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use newsletter::config::Config;
use newsletter::issue::{Issue, is_heading_line};
use newsletter::render::{self, Recipient, Rendered, Theme};
use scraper::{Html, Node};

pub use cli::{
    assert_ok_with, assert_refused_with, bin, import_csv, import_csv_ok, newsletter, output, plain,
    run, run_plain, show, stderr, stdout,
};
pub use env::{Env, emails, small_issue, small_issue_sent};

/// Whether this is a CI run (`CI` set, and not to `false` or `0`): there every tool must be there,
/// since `scripts/install-test-deps.sh` installs them all.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "false" | "0"))
}

/// Where a tool is, or `None`, without a word. `tool` is one of:
/// - a program: `groff` (on PATH, or in /usr/sbin or /sbin), or alternatives such as
///   `chromium|google-chrome` (the first found);
/// - a module of an interpreter: `python3:aiosmtpd`, `perl:Sisimai` (the interpreter's path);
/// - a file the install script puts in this repository, by its path from the crate root
///   ([`AXE_CORE`]).
pub fn which(tool: &str) -> Option<PathBuf> {
    if tool.contains('|') {
        return tool.split('|').find_map(which);
    }
    if let Some((interpreter, module)) = tool.split_once(':') {
        let path = which(interpreter)?;
        let probe: Vec<String> = match interpreter {
            "python3" => vec!["-c".into(), format!("import {module}")],
            "perl" => vec![format!("-M{module}"), "-e1".into()],
            other => panic!("no module probe for {other}"),
        };
        let loads = Command::new(&path)
            .args(probe)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        return loads.then_some(path);
    }
    if tool.contains('/') {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(tool);
        return path.is_file().then_some(path);
    }
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&dirs)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// axe-core, the accessibility checker the browser tests run in a page, where
/// `scripts/install-test-deps.sh` installs it (a name for [`require`]).
pub const AXE_CORE: &str = "tests/tools/node_modules/axe-core/axe.min.js";

/// Where a tool a test needs is (see [`which`] for the names). Missing: in CI the test fails, since
/// `scripts/install-test-deps.sh` installs every tool; elsewhere it is [`skip`]ped and the caller
/// returns (the [`require!`] macro does both).
pub fn require(tool: &str) -> Option<PathBuf> {
    let found = which(tool);
    if found.is_none() {
        let why = format!("{tool} is missing (scripts/install-test-deps.sh installs it)");
        assert!(!in_ci(), "{why}");
        skip(&why);
    }
    found
}

/// Says in one line on the terminal, past the test harness's capture, that the running test is
/// skipped and why; the caller then returns.
pub fn skip(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().filter(|n| *n != "main").unwrap_or("a test");
    // Straight to standard error: `eprintln!` would be captured, and shown only on failure.
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
}

/// A fresh 2048-bit RSA key made by `openssl` as `DIR/NAME.pem`, and its public half as DKIM
/// publishes it (`p=`: base64 of the SubjectPublicKeyInfo, what `openssl pkey -pubout` prints).
pub fn dkim_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(format!("{name}.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .output()
        .expect("openssl is installed (scripts/install-test-deps.sh)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let public = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(public.status.success());
    let pem = String::from_utf8(public.stdout).unwrap();
    let p: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    (key, p)
}

pub const UNSUBSCRIBE: &str =
    "https://this-week-in-rust.org/newsletter/unsubscribe/AAAAAAAAAAAAAAAAAAAAAA";

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seeds")
}

/// The real published issues in `../shared/published/`, if that folder exists.
pub fn published() -> Vec<PathBuf> {
    md_files(&seeds_dir().with_file_name("published"), "md")
        .into_iter()
        .filter(|p| !p.ends_with("README.md"))
        .collect()
}

/// The project's Markdown fixtures, sorted.
pub fn fixtures() -> Vec<PathBuf> {
    md_files(&fixtures_dir(), "md")
}

/// The shared seed drafts, if that folder exists.
pub fn seeds() -> Vec<PathBuf> {
    md_files(&seeds_dir(), "txt")
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect()
}

fn md_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

pub struct Output {
    pub issue: Issue,
    pub rendered: Rendered,
    pub html: String,
    pub text: String,
}

pub fn render_file(path: &Path) -> Output {
    let issue = Issue::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let theme = Theme::from_config(&Config::defaults()).unwrap();
    let rendered = render::render(&issue, &theme).unwrap();
    let r = Recipient {
        unsubscribe_url: UNSUBSCRIBE,
    };
    let html = rendered.html.fill(&r);
    let text = rendered.text.fill(&r);
    Output {
        issue,
        rendered,
        html,
        text,
    }
}

/// Headings an editor wrote outside comments (and outside code), as plain text.
pub fn expected_headings(issue: &Issue) -> Vec<String> {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut in_fence = false;
    for line in issue.source.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        if start < issue.body_offset {
            continue;
        }
        let l = line.trim_end();
        if l.trim_start().starts_with("```") || l.trim_start().starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        let commented = issue
            .comments
            .iter()
            .any(|c| c.span.start <= start && start < c.span.end);
        if in_fence || commented || !is_heading_line(l) {
            continue;
        }
        let text = l
            .trim_start()
            .trim_start_matches('#')
            .trim()
            .trim_end_matches('#')
            .trim();
        out.push(markdown_to_plain(text));
    }
    out
}

/// `[text](url)` → `text`, without emphasis markers.
pub fn markdown_to_plain(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('[') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match (after.find("]("), after.find(')')) {
            (Some(j), Some(k)) if j < k => {
                out.push_str(&after[..j]);
                rest = &after[k + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace("**", "").replace('`', "").trim().to_string()
}

/// Heading texts of the issue's content, in order (the masthead, the e-mail's h1, is the frame's).
pub fn html_headings(html: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = scraper::Selector::parse(
        "td.content h1, td.content h2, td.content h3, td.content h4, td.content h5, td.content h6",
    )
    .unwrap();
    doc.select(&sel)
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
}

/// Problems with a rendered HTML e-mail, checked with an HTML5 parser. Empty when all is well.
pub fn html_problems(html: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let doc = Html::parse_document(html);
    for node in doc.tree.nodes() {
        match node.value() {
            Node::Comment(c) => {
                let c: &str = c;
                if !c.trim_start().starts_with("[if") {
                    problems.push(format!("an issue comment reached the HTML: <!--{c}-->"));
                }
            }
            Node::Text(t) if t.contains("<!~~") || t.contains("~~>") => {
                let t: String = t.chars().take(80).collect();
                problems.push(format!("a <!~~ pseudo-comment reached the HTML: {t}"));
            }
            Node::Element(e) => {
                if e.name() == "script" {
                    problems.push("a <script> element".into());
                }
                if e.name() == "link" && e.attr("rel") == Some("stylesheet") {
                    problems.push("a remote stylesheet".into());
                }
                if e.name() == "a" {
                    use newsletter::render::markdown::{Target, classify_target};
                    match e.attr("href").map(|h| (h, classify_target(h, ""))) {
                        Some((h, Target::Absolute(abs)))
                            if abs == h && newsletter::render::markdown::scheme(h).is_some() => {}
                        other => problems
                            .push(format!("a link without an absolute, safe href: {other:?}")),
                    }
                }
                for attr in ["src", "href", "background"] {
                    if let Some(v) = e.attr(attr)
                        && matches!(
                            newsletter::render::markdown::classify_target(v, ""),
                            newsletter::render::markdown::Target::Blocked(_)
                        )
                    {
                        problems.push(format!("an unsafe {attr}: {v}"));
                    }
                }
                if let Some((name, _)) = e.attrs().find(|(n, _)| n.starts_with("on")) {
                    problems.push(format!("an event handler attribute: {name}"));
                }
            }
            _ => {}
        }
    }
    let p = scraper::Selector::parse("td.content p").unwrap();
    let styled = doc.select(&p).filter(|e| e.attr("style").is_some()).count();
    let total = doc.select(&p).count();
    if styled != total {
        problems.push(format!(
            "{styled} of {total} body paragraphs carry an inline style"
        ));
    }
    let cell = scraper::Selector::parse("td.content").unwrap();
    let font = doc
        .select(&cell)
        .next()
        .and_then(|e| e.attr("style"))
        .is_some_and(|s| s.contains("font:") && s.contains("color:"));
    if !font {
        problems.push("the body cell has no inline font and colour".into());
    }
    let style = scraper::Selector::parse("style").unwrap();
    let css: String = doc.select(&style).flat_map(|e| e.text()).collect();
    if !css.contains("prefers-color-scheme: dark") {
        problems.push("the dark-mode media query is missing from <style>".into());
    }
    problems
}
