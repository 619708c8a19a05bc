//! `newsletter man DIR`: a manual page for the program and for every command, generated from the
//! same definitions as `--help`, each read by groff without a warning.

use std::process::Command;

use crate::common;

#[test]
fn every_command_has_a_manual_page_that_groff_reads_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::run_plain(&["man", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::show(&out));

    // Every command `--help` lists has its page.
    let help = common::stdout(&common::run_plain(&["--help"]));
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        // A command's line starts two spaces in; a wrapped description is indented further.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 15, "{commands:?}");
    for c in &commands {
        let page = dir.path().join(format!("newsletter-{c}.1"));
        assert!(page.is_file(), "no page for `{c}`");
    }
    let import =
        std::fs::read_to_string(dir.path().join("newsletter-subscribers-import.1")).unwrap();
    assert!(import.contains("resubscribe"), "{import}");
    let send = std::fs::read_to_string(dir.path().join("newsletter-send.1")).unwrap();
    assert!(send.contains("transport"), "{send}");

    let Some(groff) = common::require("groff") else {
        return;
    };
    for page in std::fs::read_dir(dir.path()).unwrap() {
        let page = page.unwrap().path();
        let out = Command::new(&groff)
            .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
            .arg(&page)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && said.trim().is_empty(),
            "{}: {said}",
            page.display()
        );
    }
}
