//! `newsletter render` as a user runs it: the real binary, real files.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::{fixtures_dir, plain, run_plain, stderr, stdout};

fn fx(name: &str) -> String {
    fixtures_dir().join(name).display().to_string()
}

#[test]
fn writes_html_text_and_eml_and_reports_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run_plain(&[
        "render",
        &fx("large-2024.md"),
        &fx("nested-events.md"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<String> = stdout(&o).lines().map(String::from).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (line, n) in lines.iter().zip(["999", "908"]) {
        let html = std::fs::metadata(out.join(format!("{n}.html")))
            .unwrap()
            .len();
        let text = std::fs::metadata(out.join(format!("{n}.txt")))
            .unwrap()
            .len();
        assert!(out.join(format!("{n}.eml")).exists());
        assert!(
            line.starts_with(&format!("{n}\tThis Week in Rust {n}\t")),
            "{line}"
        );
        assert!(line.contains(&format!("html {html} bytes")), "{line}");
        assert!(line.contains(&format!("text {text} bytes")), "{line}");
        assert!(!line.contains("warning"), "{line}");
    }
}

#[test]
fn warns_when_over_budget() {
    let dir = tempfile::tempdir().unwrap();
    let o = plain(&[
        "render",
        &fx("large-2024.md"),
        "--out",
        dir.path().to_str().unwrap(),
    ])
    .env("NEWSLETTER_THEME__SIZE_BUDGET", "50000")
    .output()
    .unwrap();
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("warning: HTML is over the 50000 byte budget"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn the_sample_message_is_strict_mime() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_plain(&[
        "render",
        &fx("mojibake.md"),
        &fx("large-2024.md"),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let script = r#"
import email, email.policy, sys
for path in sys.argv[1:]:
    raw = open(path, 'rb').read()
    msg = email.message_from_bytes(raw, policy=email.policy.strict)
    assert not msg.defects, msg.defects
    assert msg.get_content_type() == 'multipart/alternative'
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ['text/plain', 'text/html'], parts
    for p in msg.iter_parts():
        assert not p.defects, p.defects
        p.get_content()
    assert msg['List-Unsubscribe-Post'] == 'List-Unsubscribe=One-Click'
    assert '<https://' in msg['List-Unsubscribe'] and 'mailto:' in msg['List-Unsubscribe']
    assert msg['Message-ID'].startswith('<issue-')
    assert max(len(l) for l in raw.split(b'\r\n')) <= 998
    assert b'\n' not in raw.replace(b'\r\n', b'')
    text = msg.get_body(('plain',)).get_content()
    assert 'Unsubscribe: https://' in text
    print(path, msg['Subject'], len(raw))
"#;
    let emls = [dir.path().join("904.eml"), dir.path().join("999.eml")];
    require!("python3");
    let py = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(&emls)
        .output()
        .expect("python3 is installed");
    assert!(
        py.status.success(),
        "{}{}",
        String::from_utf8_lossy(&py.stdout),
        String::from_utf8_lossy(&py.stderr)
    );
}

#[test]
fn two_drafts_of_one_issue_do_not_overwrite_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("draft-b.md");
    std::fs::copy(fixtures_dir().join("h1-among-h2.md"), &copy).unwrap();
    let out = dir.path().join("out");
    let o = run_plain(&[
        "render",
        &fx("h1-among-h2.md"),
        copy.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("909.html").exists() && out.join("909-draft-b.html").exists());
    assert!(stderr(&o).contains("also issue 909"));
}

#[test]
fn an_operator_stylesheet_and_name_apply_without_recompiling() {
    let dir = tempfile::tempdir().unwrap();
    let css = dir.path().join("mine.css");
    std::fs::write(&css, "p { color: #123456; }\n@media (prefers-color-scheme: dark) { p { color: #fedcba !important; } }\n").unwrap();
    let cfg = dir.path().join("newsletter.toml");
    std::fs::write(
        &cfg,
        format!(
            "[theme]\nstylesheet = \"{}\"\n[site]\nname = \"Weekly Crab\"\n",
            css.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = run_plain(&[
        "--config",
        cfg.to_str().unwrap(),
        "render",
        &fx("h1-among-h2.md"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(out.join("909.html")).unwrap();
    assert!(html.contains("style=\"color:#123456\""), "{html}");
    assert!(html.contains("#fedcba"));
    assert!(html.contains("Weekly Crab"));
}

fn assert_clean_failure(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in: {err}");
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

#[test]
fn bad_input_gives_a_clear_error_and_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("out");
    let out = out.to_str().unwrap();

    let mut latin1 = b"Title: This Week in Rust 1\nNumber: 1\nDate: 2024-01-03\n\nRust N".to_vec();
    latin1.extend([0xFC, b'r', b'n', b'b', b'e', b'r', b'g', b'\n']);
    let f = write(d, "latin1.md", &latin1);
    assert_clean_failure(
        &run_plain(&["render", &f, "--out", out]),
        &["latin1.md:5:7", "not valid UTF-8", "byte offset 61"],
    );

    let f = write(
        d,
        "no-number.md",
        b"Title: This Week in Rust 1\nDate: 2024-01-03\n\nBody\n",
    );
    assert_clean_failure(
        &run_plain(&["render", &f, "--out", out]),
        &["no-number.md:2", "`Number`", "Number: 522"],
    );

    let f = write(
        d,
        "bad-date.md",
        b"Title: T 1\nNumber: 1\nDate: 2024-02-30\n\nBody\n",
    );
    assert_clean_failure(
        &run_plain(&["render", &f, "--out", out]),
        &["bad-date.md:3", "`Date`", "not a real date"],
    );

    let f = write(d, "empty.md", b"");
    assert_clean_failure(
        &run_plain(&["render", &f, "--out", out]),
        &["empty.md", "`Title`"],
    );

    let mut big = b"Title: T 1\nNumber: 1\nDate: 2024-01-03\n\n".to_vec();
    big.resize(10 * 1024 * 1024, b'x');
    let f = write(d, "huge.md", &big);
    assert_clean_failure(
        &run_plain(&["render", &f, "--out", out]),
        &["huge.md", "10485760 bytes", "at most"],
    );

    let f = d.join("missing.md").display().to_string();
    assert_clean_failure(
        &run_plain(&["render", &f, "--out", out]),
        &["missing.md", "cannot read"],
    );

    // One bad file does not stop the good ones.
    let o = run_plain(&["render", &f, &fx("h1-among-h2.md"), "--out", out]);
    assert_clean_failure(&o, &["1 of 2 issues could not be rendered"]);
    assert!(Path::new(out).join("909.html").exists());
}

#[test]
fn every_command_has_help() {
    for args in [vec!["--help"], vec!["render", "--help"]] {
        let o = run_plain(&args);
        assert!(o.status.success());
        assert!(stdout(&o).contains("Usage: newsletter"), "{}", stdout(&o));
    }
}

#[test]
fn every_date_form_pelican_reads_renders_and_others_say_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let forms = [
        ("2020-12-2", "2020/12/02"),
        ("2015-08-10 12:00", "2015/08/10"),
        ("2015-08-10 12:00:30", "2015/08/10"),
        ("2015-08-10T12:00:30", "2015/08/10"),
        ("2015-8-9T9:05", "2015/08/09"),
    ];
    for (i, (date, path)) in forms.iter().enumerate() {
        let n = 700 + i;
        let file = write(
            dir.path(),
            &format!("d{i}.md"),
            format!("Title: This Week in Rust {n}\nNumber: {n}\nDate: {date}\n\nHello.\n")
                .as_bytes(),
        );
        let o = run_plain(&["render", &file, "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{date}: {}", stderr(&o));
        let html = std::fs::read_to_string(out.join(format!("{n}.html"))).unwrap();
        assert!(
            html.contains(&format!("/blog/{path}/this-week-in-rust-{n}/")),
            "{date} should date the web link {path}"
        );
    }
    for (date, why) in [
        ("22/11/2023", "not a date"),
        ("2023-02-30 10:00", "not a real date"),
        ("2023-11-22 noon", "not a time of day"),
    ] {
        let file = write(
            dir.path(),
            "bad.md",
            format!("Title: This Week in Rust 1\nNumber: 1\nDate: {date}\n\nHello.\n").as_bytes(),
        );
        let o = run_plain(&["render", &file, "--out", out.to_str().unwrap()]);
        assert_clean_failure(&o, &["bad.md:3: header field `Date`", why]);
    }
}
