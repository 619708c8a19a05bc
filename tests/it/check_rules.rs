//! `newsletter check` against the mistakes editors made and fixed by hand (#24): every rule on a
//! damaged fixture (flagged on the right line) and on a clean one in the same shape (silent), over
//! the real binary; `--fix` where the fix is certain; and every file `render` refuses is an error of
//! `check` in `render`'s own words.

use crate::common;

use std::path::{Path, PathBuf};

use common::{fixtures_dir, run_plain, show};

fn rules_dir() -> PathBuf {
    fixtures_dir().join("check/rules")
}

/// Every diagnostic of `check --format json` on one file: (rule, severity, line, message).
fn diagnostics(path: &Path) -> Vec<(String, String, u64, String)> {
    let o = run_plain(&["check", "--format", "json", path.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), show(&o)));
    v["files"][0]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["rule"].as_str().unwrap().to_string(),
                d["severity"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// (rule, line) of every finding, notes left out (a bare URL beside a broken link is a note).
fn findings(path: &Path) -> Vec<(String, u64)> {
    diagnostics(path)
        .into_iter()
        .filter(|(_, sev, _, _)| sev != "note")
        .map(|(r, _, l, _)| (r, l))
        .collect()
}

fn expect(file: &str, expected: &[(&str, u64)]) {
    let path = rules_dir().join(file);
    let want: Vec<(String, u64)> = expected.iter().map(|(r, l)| (r.to_string(), *l)).collect();
    assert_eq!(findings(&path), want, "{file}: {:#?}", diagnostics(&path));
}

fn silent(file: &str) {
    let path = rules_dir().join(file);
    let d = diagnostics(&path);
    assert!(d.is_empty(), "{file} is clean: {d:#?}");
}

#[test]
fn merge_conflict_markers_are_errors_on_their_lines() {
    expect(
        "conflict-marker.md",
        &[
            ("conflict-marker", 12),
            ("conflict-marker", 14),
            ("conflict-marker", 16),
            ("conflict-marker", 21),
            ("conflict-marker", 22),
            ("conflict-marker", 24),
            ("conflict-marker", 26),
        ],
    );
    let o = run_plain(&[
        "check",
        rules_dir().join("conflict-marker.md").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("error[conflict-marker]: git merge-conflict marker `<<<<<<< patch-15`"),
        "{}",
        show(&o)
    );
    // A setext heading underline, markers in code and an eight-deep quote are not conflicts.
    silent("conflict-marker-clean.md");
}

#[test]
fn todo_notes_standing_as_lines_or_targets_are_errors_and_content_is_not() {
    expect(
        "todo.md",
        &[
            ("todo", 10),
            ("todo", 17),
            ("todo", 18),
            ("todo", 22),
            ("todo", 28),
        ],
    );
    // Pull-request titles that mention FIXME or TODO, prose, and `// TODO` in code stay silent.
    silent("todo-clean.md");
}

#[test]
fn header_date_is_compared_with_file_name_sequence_and_window() {
    let archive = rules_dir().join("archive");
    // The 2021-01-06 issue dated 2020-01-06: a year off its file name; the window agrees with the
    // file name, so the fix is certain and the window is not reported a second time.
    let year_off = archive.join("2021-01-06-this-week-in-rust.md");
    let d = diagnostics(&year_off);
    assert_eq!(
        d.iter()
            .map(|(r, _, l, _)| (r.as_str(), *l))
            .collect::<Vec<_>>(),
        [("header-date", 3)],
        "{d:#?}"
    );
    assert!(d[0].3.contains("2021-01-06-this-week-in-rust.md"), "{d:#?}");
    // The window line copied from last week's issue.
    let stale_window = archive.join("2021-01-13-this-week-in-rust.md");
    assert_eq!(
        findings(&stale_window),
        [("header-date".to_string(), 10)],
        "{:#?}",
        diagnostics(&stale_window)
    );
    // A draft not named by date, a year off the weekly sequence of the issues beside it.
    let draft = archive.join("draft-374.md");
    let d = diagnostics(&draft);
    assert_eq!(
        d.iter()
            .map(|(r, _, l, _)| (r.as_str(), *l))
            .collect::<Vec<_>>(),
        [("header-date", 3)],
        "{d:#?}"
    );
    assert!(
        d[0].3.contains("365 days off the weekly sequence") && d[0].3.contains("2021-01-20"),
        "{d:#?}"
    );
    // Alone (no archive beside it), the draft has nothing to be compared with.
    let dir = tempfile::tempdir().unwrap();
    let alone = dir.path().join("draft-374.md");
    std::fs::copy(&draft, &alone).unwrap();
    assert!(diagnostics(&alone).is_empty(), "{:#?}", diagnostics(&alone));
    // The issues whose dates agree are silent, checked one by one or all together.
    silent("archive/2020-12-23-this-week-in-rust.md");
    silent("archive/2020-12-30-this-week-in-rust.md");
    let o = run_plain(&[
        "check",
        "--format",
        "json",
        archive
            .join("2020-12-23-this-week-in-rust.md")
            .to_str()
            .unwrap(),
        archive
            .join("2020-12-30-this-week-in-rust.md")
            .to_str()
            .unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["errors"], 0, "{}", show(&o));
}

#[test]
fn header_date_fix_takes_the_date_the_file_name_and_window_agree_on() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("2021-01-06-this-week-in-rust.md");
    std::fs::copy(
        rules_dir().join("archive/2021-01-06-this-week-in-rust.md"),
        &copy,
    )
    .unwrap();
    let o = run_plain(&["check", "--fix", copy.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let fixed = std::fs::read_to_string(&copy).unwrap();
    assert!(fixed.contains("\nDate: 2021-01-06\n"), "{fixed}");
}

#[test]
fn broken_link_syntax_is_an_error_on_its_line() {
    expect(
        "link-syntax.md",
        &[
            ("link-syntax", 9),
            ("link-syntax", 10),
            ("link-syntax", 11),
            ("link-syntax", 12),
            ("link-syntax", 13),
            ("link-syntax", 14),
            ("link-syntax", 15),
            ("link-syntax", 16),
            ("link-syntax", 20),
            ("link-syntax", 22),
            ("link-syntax", 23),
        ],
    );
    let messages: Vec<String> = diagnostics(&rules_dir().join("link-syntax.md"))
        .into_iter()
        .map(|d| d.3)
        .collect();
    for want in [
        "has the scheme `hhttps:`, a misspelling of `https:`",
        "link target `crates.io/crates/cargo-semver-checks` has no scheme",
        "link text and target are swapped",
        "a space between `]` and `(` makes this text, not a link",
        "is not a link: the text goes in square brackets",
        "is not closed by `)`: `for the suggestion!` follows it",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(want)),
            "{want}: {messages:#?}"
        );
    }
    // irc/mailto targets, site-relative paths, parentheses in URLs, titles, autolinks, images,
    // reference links, and prose in brackets or parentheses are fine.
    silent("link-syntax-clean.md");
}

#[test]
fn link_syntax_fix_repairs_what_is_certain() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("link-syntax.md");
    std::fs::copy(rules_dir().join("link-syntax.md"), &copy).unwrap();
    let o = run_plain(&["check", "--fix", copy.to_str().unwrap()]);
    let fixed = std::fs::read_to_string(&copy).unwrap();
    for want in [
        "* [Announcing zerocopy 0.9](https://jack.wrenn.fyi/blog/zerocopy-0.9/)",
        "* [cargo-semver-checks v0.43](https://crates.io/crates/cargo-semver-checks)",
        "* [rustup 1.28.2](https://github.com/rust-lang/rustup/releases/tag/1.28.2)",
        "* [Tauri 2.7](https://v2.tauri.app/blog/tauri-27/)",
        "* [Release notes](https://github.com/rust-lang/rust/releases/tag/1.89.0)",
        "* [Rust 1.89 highlights](https://blog.rust-lang.org/2025/08/07/Rust-1.89.0/)",
        "* [Bevy 0.17 migration](https://bevyengine.org/learn/migration-guides/0-16-to-0-17/)",
        "(https://users.rust-lang.org/t/crate-of-the-week/2704/1275) for the suggestion!",
        "[submit_crate]: https://users.rust-lang.org/t/crate-of-the-week/2704",
        "[guidelines]: https://github.com/rust-lang/this-week-in-rust",
    ] {
        assert!(fixed.contains(want), "{want}\n{fixed}\n{}", show(&o));
    }
    // What only the editor knows stays reported: the target of `[Rust Walkthrough](walkthrough)`.
    assert_eq!(
        findings(&copy),
        [("link-syntax".to_string(), 11)],
        "{:#?}",
        diagnostics(&copy)
    );
}

#[test]
fn past_deadlines_outside_the_events_are_warnings() {
    expect("stale-date.md", &[("stale-date", 15), ("stale-date", 22)]);
    let o = run_plain(&["check", rules_dir().join("stale-date.md").to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "a warning does not block: {}",
        show(&o)
    );
    // Future closing dates, a historical date in another sentence, dates in URLs and in the
    // perf-triage line are fine.
    silent("stale-date-clean.md");
}

#[test]
fn items_in_two_sections_and_repeated_sections_are_found() {
    expect(
        "duplicate-sections.md",
        &[("duplicate-item", 14), ("duplicate-item", 26)],
    );
    // `##### [Rust]` under two different parents, and one event in Virtual and Europe, are fine.
    silent("duplicate-sections-clean.md");
}

#[test]
fn a_discuss_link_to_another_issues_thread_is_a_warning() {
    let d = diagnostics(&rules_dir().join("discuss-link.md"));
    assert_eq!(
        d.iter()
            .map(|(r, s, l, _)| (r.as_str(), s.as_str(), *l))
            .collect::<Vec<_>>(),
        [("discuss-link", "warning", 12)],
        "{d:#?}"
    );
    assert!(
        d[0].3.contains("issue 367") && d[0].3.contains("issue 372"),
        "{d:#?}"
    );
    // A quote taken from last week's thread is not the issue's own discussion link.
    silent("discuss-link-clean.md");
}

#[test]
fn empty_emphasis_is_an_error() {
    expect(
        "empty-emphasis.md",
        &[
            ("empty-emphasis", 12),
            ("empty-emphasis", 14),
            ("empty-emphasis", 18),
        ],
    );
    // Thematic breaks (`***`, `* * *`), `__init__`, snake__case and real emphasis are fine.
    silent("empty-emphasis-clean.md");
}

#[test]
fn early_listed_events_pass_and_past_or_wrong_year_events_warn() {
    expect("event-date.md", &[("event-date", 11), ("event-date", 17)]);
    // A conference five days past the window and a meetup three weeks past it are early listings.
    silent("event-date-clean.md");
}

#[test]
fn check_help_lists_the_new_rules() {
    let o = run_plain(&["check", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    for rule in [
        "conflict-marker",
        "todo",
        "header-date",
        "link-syntax",
        "stale-date",
        "discuss-link",
        "empty-emphasis",
    ] {
        assert!(help.contains(rule), "{rule}: {help}");
    }
}

/// `render`'s error for a file, without the location in front: (line, words).
fn render_refusal(path: &Path, out: &Path) -> Option<(u64, String)> {
    let o = run_plain(&[
        "render",
        "-o",
        out.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    if o.status.success() {
        return None;
    }
    let stderr = String::from_utf8_lossy(&o.stderr);
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or_else(|| panic!("{}", show(&o)));
    let p = path.display().to_string();
    // `PATH:LINE[:COL]: words`, `PATH: line LINE: words`, or `PATH: rendering failed: PATH: line …`.
    let rest = line
        .rsplit_once(&format!("{p}: line "))
        .map(|(_, r)| r)
        .or_else(|| line.rsplit_once(&format!("{p}:")).map(|(_, r)| r))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let mut words = rest[digits.len()..].trim_start_matches(':');
    let col: String = words.chars().take_while(char::is_ascii_digit).collect();
    if !col.is_empty() {
        words = words[col.len()..].trim_start_matches(':');
    }
    Some((digits.parse().ok()?, words.trim().to_string()))
}

#[test]
fn every_file_render_refuses_is_an_error_of_check_in_the_same_words() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let head = "Title: This Week in Rust 600\nNumber: 600\nDate: 2025-05-21\n\n";
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("no-title.md", b"Number: 600\nDate: 2025-05-21\n\nText\n".to_vec()),
        (
            "bad-date.md",
            b"Title: This Week in Rust 600\nNumber: 600\nDate: 2025-02-30\n\nText\n".to_vec(),
        ),
        (
            "bad-number.md",
            b"Title: This Week in Rust 600\nNumber: six hundred\nDate: 2025-05-21\n\nText\n".to_vec(),
        ),
        (
            "twice.md",
            b"Title: This Week in Rust 600\nNumber: 600\nDate: 2025-05-21\nDate: 2025-05-21\n\nText\n"
                .to_vec(),
        ),
        (
            "not-a-header.md",
            b"Title: This Week in Rust 600\n# Number 600\nDate: 2025-05-21\n\nText\n".to_vec(),
        ),
        (
            "deep-quotes.md",
            format!("{head}## Quote\n\n{} too deep\n", "> ".repeat(40)).into_bytes(),
        ),
        (
            "deep-lists.md",
            format!(
                "{head}## List\n\n{}",
                (0..40)
                    .map(|i| format!("{}* level {i}\n", "  ".repeat(i)))
                    .collect::<String>()
            )
            .into_bytes(),
        ),
        (
            "deep-emphasis.md",
            format!("{head}## Emphasis\n\n{}x{}\n", "*a ".repeat(70), " a*".repeat(70)).into_bytes(),
        ),
        (
            "deep-html.md",
            format!("{head}## Html\n\n{}x\n", "<small>".repeat(140)).into_bytes(),
        ),
        (
            // The raw HTML the issue named: `render` keeps its text and drops the style, so there
            // is nothing to refuse, and `check` warns (dropped-html).
            "small-style.md",
            format!("{head}## Jobs\n\n<small style=\"x\">Discuss</small>\n").into_bytes(),
        ),
    ];
    let mut utf8 = head.as_bytes().to_vec();
    utf8.extend(b"## Events\n\nN");
    utf8.push(0xFC);
    utf8.extend(b"rnberg\n");
    cases.push(("latin1.md", utf8));
    let mut refused = 0;
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let Some((line, words)) = render_refusal(&path, &out) else {
            assert_eq!(name, "small-style.md", "render refuses {name}");
            continue;
        };
        refused += 1;
        // `render`'s reason is its first clause; what follows is its advice (check's help).
        let reason = words
            .split_once(". ")
            .map_or(words.as_str(), |(a, _)| a)
            .split_once("; ")
            .map_or_else(|| words.split(". ").next().unwrap(), |(a, _)| a)
            .to_string();
        assert!(reason.len() > 20, "{name}: render's reason `{words}`");
        let d = diagnostics(&path);
        assert!(
            d.iter()
                .any(|(_, sev, l, m)| sev == "error" && *l == line && m.starts_with(&reason)),
            "{name}: render says (line {line}) `{words}`; check says {d:#?}"
        );
        let o = run_plain(&["check", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", show(&o));
    }
    assert_eq!(refused, 10, "render refuses every damaged case");
}
