//! `newsletter check`: precision on clean issues, the expected findings on damaged ones and on the
//! seed drafts, the command's interface, and `--fix` (with ftfy as a second opinion).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{fixtures_dir, run_plain, seeds, seeds_dir};
use newsletter::check::{self, CheckOptions, FileReport, Severity};
use newsletter::config::Config;

fn check_dir() -> PathBuf {
    fixtures_dir().join("check")
}

fn run_check(path: &Path) -> FileReport {
    let opts = CheckOptions::from_config(&Config::defaults()).unwrap();
    check::check_bytes(path, &std::fs::read(path).unwrap(), &opts)
}

fn findings(r: &FileReport) -> Vec<(String, usize)> {
    r.diagnostics
        .iter()
        .map(|d| (d.rule.name().to_string(), r.line_col(d.range.start).0))
        .collect()
}

/// The clean issues written the way TWiR writes in 2024-2026 (`scripts/gen-clean-issues.py`).
fn generated_clean_issues() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(check_dir())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("clean-") && n[6..].starts_with(|c: char| c.is_ascii_digit())
            })
        })
        .collect();
    v.sort();
    v
}

#[test]
fn clean_issues_give_no_findings_at_all() {
    let generated = generated_clean_issues();
    assert!(generated.len() >= 10, "the clean corpus: {generated:?}");
    let clean = [
        check_dir().join("clean-international.md"),
        fixtures_dir().join("large-2024.md"),
        fixtures_dir().join("nested-events.md"),
        fixtures_dir().join("reference-links.md"),
        fixtures_dir().join("small-html.md"),
        fixtures_dir().join("fcp-comments.md"),
    ]
    .into_iter()
    .chain(generated);
    for path in clean {
        let r = run_check(&path);
        assert!(
            r.diagnostics.is_empty(),
            "{}: {:#?}",
            path.display(),
            r.diagnostics
        );
    }
}

#[test]
fn each_damaged_fixture_gives_exactly_its_findings() {
    let cases: &[(&str, &[(&str, usize)])] = &[
        (
            "mojibake.md",
            &[
                ("mojibake", 8),
                ("mojibake", 12),
                ("mojibake", 13),
                ("mojibake", 15),
                ("mojibake", 17),
                ("mojibake", 20),
            ],
        ),
        (
            "placeholders.md",
            &[("placeholder", 9), ("placeholder", 13), ("placeholder", 15)],
        ),
        (
            "unterminated-comment.md",
            &[
                ("empty-section", 8),
                ("unterminated-comment", 9),
                ("empty-section", 11),
                ("unterminated-comment", 12),
                ("unterminated-comment", 22),
            ],
        ),
        (
            // Line 12 repeats line 8's article in another section (#24: duplicates across sections).
            "check/duplicate-item.md",
            &[
                ("duplicate-item", 9),
                ("duplicate-item", 12),
                ("duplicate-item", 27),
            ],
        ),
        (
            "check/empty-sections.md",
            &[
                ("empty-section", 8),
                ("empty-section", 10),
                ("empty-section", 26),
            ],
        ),
        (
            "check/event-dates.md",
            &[
                // Line 17, a week past the window, is an early listing, not a mistake (#24).
                ("event-date", 11),
                ("event-date", 19),
                ("event-date", 25),
            ],
        ),
        ("check/header-mismatch.md", &[("header", 1)]),
        ("check/urls.md", &[("http-link", 7), ("bare-url", 8)]),
        (
            // Markers, template targets and generic words standing in place of content; the same words
            // in real link text, event titles, a location and sentences are not reported.
            "check/placeholders-generic.md",
            &[
                ("placeholder", 8),
                ("placeholder", 14),
                ("placeholder", 15),
                ("placeholder", 16),
                ("placeholder", 26),
                ("placeholder", 27),
                ("placeholder", 36),
                ("placeholder", 50),
                ("placeholder", 52),
            ],
        ),
        (
            // Well-formed multi-line comments with headings inside are honoured; only the three
            // accidents are reported.
            "check/comment-shapes.md",
            &[
                ("empty-section", 26),
                ("unterminated-comment", 27),
                ("unterminated-comment", 32),
                ("empty-section", 37),
                ("unterminated-comment", 39),
            ],
        ),
        (
            // irc, ircs, mailto and ftp links are fine; script and data targets are not, however
            // they are written.
            "check/links.md",
            &[
                ("unsafe-link", 11),
                ("unsafe-link", 12),
                ("unsafe-link", 13),
                ("unsafe-link", 14),
                ("unsafe-link", 15),
                ("unsafe-link", 16),
                ("unsafe-link", 18),
            ],
        ),
        ("check/raw-html.md", &[("raw-html", 8), ("raw-html", 8)]),
    ];
    for (file, expected) in cases {
        let r = run_check(&fixtures_dir().join(file));
        let expected: Vec<(String, usize)> =
            expected.iter().map(|(r, l)| (r.to_string(), *l)).collect();
        assert_eq!(findings(&r), expected, "{file}");
    }
}

/// The real issues in `../shared/published/` as they went out: `check` stops only the one real defect
/// (a job link published with an empty target in 2021) and warns only where a reader would agree.
#[test]
fn published_issues_stop_only_on_real_mistakes() {
    let dir = common::seeds_dir().with_file_name("published");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("../shared/published is absent");
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md") && !p.ends_with("README.md"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    for path in files {
        let r = run_check(&path);
        let name = path.file_name().unwrap().to_str().unwrap();
        let errors: Vec<(String, usize)> = findings(&r)
            .into_iter()
            .zip(&r.diagnostics)
            .filter(|(_, d)| d.severity == Severity::Error)
            .map(|(f, _)| f)
            .collect();
        let warnings: Vec<(String, usize)> = findings(&r)
            .into_iter()
            .zip(&r.diagnostics)
            .filter(|(_, d)| d.severity == Severity::Warning)
            .map(|(f, _)| f)
            .collect();
        type Findings = &'static [(&'static str, usize)];
        let (want_errors, want_warnings): (Findings, Findings) = match name {
            "2021-06-30-this-week-in-rust.md" => (&[("placeholder", 186)], &[]),
            "2019-03-05-this-week-in-rust.md" => (&[], &[("raw-html", 149)]),
            _ => (&[], &[]),
        };
        let own = |v: &[(&str, usize)]| -> Vec<(String, usize)> {
            v.iter().map(|(r, l)| (r.to_string(), *l)).collect()
        };
        assert_eq!(errors, own(want_errors), "{name}: {:#?}", r.diagnostics);
        assert_eq!(warnings, own(want_warnings), "{name}: {:#?}", r.diagnostics);
    }
}

#[test]
fn a_generic_word_in_place_of_content_says_what_to_do() {
    let r = run_check(&check_dir().join("placeholders-generic.md"));
    let messages: Vec<&str> = r.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(
        messages.contains(&"`TBD` stands where the content should be"),
        "{messages:#?}"
    );
    assert!(
        messages.contains(&"link target `Item URL` is the template's placeholder, not a URL"),
        "{messages:#?}"
    );
    assert!(
        messages.contains(&"leftover placeholder `$twir_events_list`"),
        "{messages:#?}"
    );
    let raw = run_check(&check_dir().join("raw-html.md"));
    assert_eq!(
        raw.diagnostics[0].help,
        "put the code in backticks: `` `TryFrom<u8>` ``"
    );
}

#[test]
fn invalid_utf8_and_header_errors_point_at_the_spot() {
    let mut bytes = b"Title: This Week in Rust 7\nNumber: 7\nDate: 2023-02-30\n\nRust N".to_vec();
    bytes.extend([0xFC, b'r', b'n', b'\n']);
    let opts = CheckOptions::from_config(&Config::defaults()).unwrap();
    let r = check::check_bytes(Path::new("x.md"), &bytes, &opts);
    let f = findings(&r);
    assert!(f.contains(&("header".into(), 3)), "{f:?}");
    let bad = r
        .diagnostics
        .iter()
        .find(|d| d.rule.name() == "invalid-utf8")
        .expect("invalid-utf8");
    assert_eq!(r.line_col(bad.range.start), (5, 7));
    assert!(bad.message.contains("byte offset 61"), "{}", bad.message);
    assert!(bad.help.contains('ü'), "{}", bad.help);
}

#[test]
fn unterminated_comments_name_what_they_would_hide() {
    let r = run_check(&fixtures_dir().join("unterminated-comment.md"));
    let first = &r
        .diagnostics
        .iter()
        .find(|d| d.rule.name() == "unterminated-comment")
        .unwrap();
    assert!(
        first.message.contains("Unsafe Code Guidelines")
            && first.message.contains("New and Updated RFCs"),
        "{}",
        first.message
    );
    assert!(first.message.contains("up to line 18"), "{}", first.message);
    assert_eq!(first.fix.as_ref().unwrap().replacement, " -->");
}

#[test]
fn seeds_give_what_a_careful_reader_expects() {
    if seeds().is_empty() {
        eprintln!("../shared/seeds is absent");
        return;
    }
    // (seed, errors by rule and line, warnings by rule: count)
    let errors: &[(&str, &[(&str, usize)])] = &[
        (
            "000_91cedf54084d974b.txt",
            &[
                ("unterminated-comment", 110),
                ("unterminated-comment", 113),
                ("mojibake", 140),
                ("placeholder", 237),
                ("placeholder", 249),
            ],
        ),
        (
            "001_4be746dd7e1610fe.txt",
            &[
                ("unterminated-comment", 109),
                ("unterminated-comment", 112),
                ("mojibake", 139),
                ("mojibake", 148),
                ("mojibake", 156),
                ("mojibake", 209),
                ("placeholder", 252),
                ("placeholder", 264),
            ],
        ),
        (
            "002_cc1c6dd0954e906e.txt",
            &[
                ("mojibake", 49),
                ("unterminated-comment", 115),
                ("unterminated-comment", 118),
                ("mojibake", 145),
                ("mojibake", 160),
                ("mojibake", 208),
                ("placeholder", 251),
                ("placeholder", 263),
            ],
        ),
        (
            "003_09a664d404590bff.txt",
            &[
                ("mojibake", 165),
                ("mojibake", 184),
                ("mojibake", 185),
                ("mojibake", 200),
                ("mojibake", 201),
                ("mojibake", 227),
                ("mojibake", 293),
                ("placeholder", 315),
                ("placeholder", 327),
            ],
        ),
        (
            "004_be00f24dea159675.txt",
            &[("placeholder", 353), ("placeholder", 369)],
        ),
    ];
    let mut mojibake_lines = 0;
    for (seed, expected) in errors {
        let r = run_check(&seeds_dir().join(seed));
        let got: Vec<(String, usize)> = findings(&r)
            .into_iter()
            .zip(&r.diagnostics)
            .filter(|(_, d)| d.severity == Severity::Error)
            .map(|(f, _)| f)
            .collect();
        let expected: Vec<(String, usize)> =
            expected.iter().map(|(r, l)| (r.to_string(), *l)).collect();
        assert_eq!(got, expected, "{seed}");
        mojibake_lines += got.iter().filter(|(r, _)| r == "mojibake").count();
    }
    assert_eq!(mojibake_lines, 16, "the seeds hold 16 damaged lines");

    // The filled issue: one duplicate article, three empty sections, nothing else to warn about.
    let r = run_check(&seeds_dir().join("004_be00f24dea159675.txt"));
    let warnings: Vec<(String, usize)> = findings(&r)
        .into_iter()
        .zip(&r.diagnostics)
        .filter(|(_, d)| d.severity != Severity::Error)
        .map(|(f, _)| f)
        .collect();
    assert_eq!(
        warnings,
        [
            ("empty-section".to_string(), 33),
            ("empty-section".into(), 35),
            ("duplicate-item".into(), 56),
            ("empty-section".into(), 65)
        ]
    );
    // Drafts: events before the stated window are flagged, and group pages never count as duplicates.
    for seed in ["000_91cedf54084d974b.txt", "003_09a664d404590bff.txt"] {
        let r = run_check(&seeds_dir().join(seed));
        assert!(
            r.diagnostics.iter().any(|d| d.rule.name() == "event-date"),
            "{seed}"
        );
        assert!(
            !r.diagnostics
                .iter()
                .any(|d| d.rule.name() == "duplicate-item"),
            "{seed}"
        );
    }
}

#[test]
fn exit_codes_and_formats() {
    let clean = check_dir().join("clean-international.md");
    let damaged = fixtures_dir().join("placeholders.md");
    let warn_only = check_dir().join("empty-sections.md");
    let o = run_plain(&["check", clean.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        run_plain(&["check", warn_only.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let o = run_plain(&["check", damaged.to_str().unwrap(), clean.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let human = String::from_utf8(o.stdout).unwrap();
    assert!(
        human.contains("error[placeholder]: leftover placeholder `INSERT_LINK_HERE`"),
        "{human}"
    );
    assert!(
        human.contains(&format!("{}:13:55", damaged.display())),
        "{human}"
    );
    assert!(human.contains("^^^^^^^^^^^^^^^^ placeholder"), "{human}");
    assert!(
        human.contains("= help: replace `INSERT_LINK_HERE` with the real URL"),
        "{human}"
    );
    assert!(!human.contains('\u{1b}'), "no colour when piped");
    let missing = run_plain(&["check", "/nonexistent/issue.md", clean.to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/issue.md"));

    let o = run_plain(&[
        "check",
        "--format",
        "json",
        damaged.to_str().unwrap(),
        "/nonexistent/x.md",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(v["errors"], 3);
    assert_eq!(v["unreadable"][0]["path"], "/nonexistent/x.md");
    let d = &v["files"][0]["diagnostics"][1];
    assert_eq!(
        (
            d["rule"].as_str(),
            d["severity"].as_str(),
            d["line"].as_u64(),
            d["column"].as_u64()
        ),
        (Some("placeholder"), Some("error"), Some(13), Some(55))
    );
    assert!(d["message"].is_string() && d.get("replacement").is_some());

    let o = run_plain(&["check", "--allow", "placeholder", damaged.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = run_plain(&[
        "check",
        "--allow",
        "no-such-rule",
        damaged.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such rule"));
    let o = run_plain(&[
        "check",
        "--budget",
        "20000",
        fixtures_dir().join("large-2024.md").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("warning[size-budget]"));
}

fn ftfy(lines: &[String]) -> Vec<String> {
    let script = "import ftfy, json, sys\nprint(json.dumps([ftfy.fix_text(l, uncurl_quotes=False) for l in json.load(sys.stdin)]))";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(lines).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ftfy is installed (scripts/install-test-deps.sh)"
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Pairs of (old line, new line) that a fix replaced; deleted lines are left out.
fn changed_lines(before: &str, after: &str) -> Vec<(String, String)> {
    let diff = similar::TextDiff::from_lines(before, after);
    let (old, new): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    let mut pairs = Vec::new();
    for op in diff.ops() {
        if let similar::DiffOp::Replace {
            old_index,
            old_len,
            new_index,
            new_len,
        } = *op
        {
            assert_eq!(old_len, new_len, "a fix replaces lines one for one");
            for k in 0..old_len {
                pairs.push((
                    old[old_index + k].to_string(),
                    new[new_index + k].to_string(),
                ));
            }
        }
    }
    pairs
}

/// Runs `check --fix` on a copy of `src`; returns (original text, fixed text, command output).
fn fix_copy(src: &Path, dir: &Path) -> (String, String, Output) {
    let copy = dir.join(src.file_name().unwrap());
    std::fs::copy(src, &copy).unwrap();
    let o = run_plain(&["check", "--fix", copy.to_str().unwrap()]);
    let mut orig = copy.clone().into_os_string();
    orig.push(".orig");
    let original = std::fs::read_to_string(&orig).expect("<file>.orig is written first");
    assert_eq!(
        original.as_bytes(),
        std::fs::read(src).unwrap(),
        ".orig is the untouched original"
    );
    (original, std::fs::read_to_string(&copy).unwrap(), o)
}

#[test]
fn fix_repairs_mojibake_byte_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (before, after, o) = fix_copy(&fixtures_dir().join("mojibake.md"), dir.path());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("-Rusty Events between 2025-01-29 - 2025-02-26 ðŸ¦€")
            && stdout.contains("+Rusty Events between 2025-01-29 - 2025-02-26 🦀"),
        "{stdout}"
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "nothing left after the fix: {stdout}"
    );
    // The expectation, built from the text the fixture was damaged from.
    let mut expected = before.clone();
    for (original, enc) in [
        ("🦀", encoding_rs::WINDOWS_1252),
        ("Nürnberg", encoding_rs::WINDOWS_1252),
        ("’", encoding_rs::WINDOWS_1252),
        ("Раст у вебі", encoding_rs::MACINTOSH),
        ("🦀", encoding_rs::MACINTOSH),
    ] {
        expected = expected.replace(enc.decode(original.as_bytes()).0.as_ref(), original);
    }
    assert_eq!(after, expected);
    assert!(
        after.contains("Rust München online 🦀"),
        "legitimate ü kept next to the repair"
    );
    // ftfy agrees on every line it changes (it does not see MacRoman damage).
    let changed = changed_lines(&before, &after);
    require!("python3:ftfy");
    let theirs = ftfy(&changed.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>());
    let mut agreed = 0;
    for ((damaged, ours), theirs) in changed.iter().zip(&theirs) {
        if theirs != damaged {
            assert_eq!(theirs, ours, "ftfy disagrees on {damaged}");
            agreed += 1;
        }
    }
    assert_eq!(agreed, 4, "ftfy repairs the four Windows-1252 lines");
}

#[test]
fn fix_repairs_every_damaged_seed_line() {
    if seeds().is_empty() {
        return;
    }
    require!("python3:ftfy");
    let dir = tempfile::tempdir().unwrap();
    let (mut agreed, mut changed_total) = (0, 0);
    for seed in seeds() {
        let (before, after, _) = fix_copy(&seed, dir.path());
        let changed = changed_lines(&before, &after);
        changed_total += changed.iter().filter(|(a, _)| !a.contains("<!--")).count();
        let theirs = ftfy(&changed.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>());
        for ((damaged, ours), theirs) in changed.iter().zip(&theirs) {
            if theirs != damaged && !damaged.contains("<!--") {
                assert_eq!(theirs, ours, "ftfy disagrees on {damaged}");
                agreed += 1;
            }
        }
        let r = run_check(&dir.path().join(seed.file_name().unwrap()));
        assert!(
            !r.diagnostics.iter().any(|d| d.rule.name() == "mojibake"),
            "{}",
            seed.display()
        );
        assert!(
            !r.diagnostics
                .iter()
                .any(|d| d.rule.name() == "unterminated-comment"),
            "{}",
            seed.display()
        );
        if seed.ends_with("001_4be746dd7e1610fe.txt") {
            // The lines ftfy leaves alone, checked by hand.
            assert!(after.contains(
                "* [**Довгий шлях до першого комерційного досвіду або до чого тут Rust?**]"
            ));
            assert!(after.contains("Rusty Events between 2023-11-15 - 2023-12-13 🦀\n"));
            assert!(after.contains("[**Rust NYC Monthly Mixer: Share, Show, & Tell! 🦀**]"));
        }
        if seed.ends_with("004_be00f24dea159675.txt") {
            assert_eq!(
                after
                    .matches("[Checking semver in the presence of doc(hidden) items]")
                    .count(),
                1
            );
        }
    }
    assert_eq!(
        changed_total, 16,
        "the 16 damaged lines (the duplicate article is a deletion)"
    );
    // ftfy leaves the three MacRoman lines of seed 001 alone; with quotes kept curly it repairs and
    // agrees on all 13 others (its default straightens `’`, hence "12 exact" in the seeds README).
    assert_eq!(
        agreed, 13,
        "ftfy repairs 13 of the 16 damaged lines, and agrees on each"
    );
}

#[test]
fn fix_keeps_crlf_and_refuses_to_overwrite_an_orig() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(fixtures_dir().join("unterminated-comment.md"))
        .unwrap()
        .replace('\n', "\r\n");
    let path = dir.path().join("crlf.md");
    std::fs::write(&path, &src).unwrap();
    let o = run_plain(&["check", "--fix", path.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the comment with no closer is still an error"
    );
    let fixed = std::fs::read_to_string(&path).unwrap();
    assert!(fixed.contains("<!-- Remove this section if empty -->\r\n"));
    assert!(!fixed.replace("\r\n", "").contains('\n'), "CRLF kept");
    std::fs::write(&path, &src).unwrap();
    let o = run_plain(&["check", "--fix", path.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        src,
        "nothing written when .orig exists"
    );
}
