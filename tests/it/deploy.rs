//! The systemd units in `deploy/`: systemd itself reads them without a complaint, every command
//! they start is one the binary accepts, and each service is confined as deploy/README.md says.

use std::path::Path;
use std::process::Command;

fn units() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "service" || e == "timer")
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 4,
        "serve, worker, bounces and its timer: {out:?}"
    );
    out
}

/// `systemd-analyze verify` on a copy whose ExecStart runs the binary under test: exit 0 and not
/// one warning (an unknown key or a value systemd cannot parse is only a warning to systemd).
#[test]
fn systemd_reads_every_unit_without_a_warning() {
    let Some(analyze) = crate::common::require("systemd-analyze") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bin = crate::common::bin();
    let mut names = Vec::new();
    for u in units() {
        let text = std::fs::read_to_string(&u).unwrap();
        let name = u.file_name().unwrap();
        std::fs::write(
            dir.path().join(name),
            text.replace("/usr/local/bin/newsletter", bin.to_str().unwrap()),
        )
        .unwrap();
        names.push(name.to_owned());
    }
    let out = Command::new(analyze)
        .current_dir(dir.path())
        .args(["verify", "--man=no"])
        .args(&names)
        .env("SYSTEMD_LOG_LEVEL", "info")
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}

/// Each ExecStart is a command line the binary parses (its arguments checked by `--help` after
/// them), and each service runs as the `newsletter` user, confined.
#[test]
fn each_unit_starts_a_real_command_and_is_confined() {
    for u in units() {
        let text = std::fs::read_to_string(&u).unwrap();
        let name = u.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".timer") {
            assert!(text.contains("Unit=newsletter-"), "{name}");
            continue;
        }
        let exec = text
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap_or_else(|| panic!("{name} has no ExecStart"));
        let mut words = exec.split_whitespace();
        assert_eq!(words.next(), Some("/usr/local/bin/newsletter"), "{name}");
        let args: Vec<&str> = words.collect();
        let out = Command::new(crate::common::bin())
            .args(&args)
            .arg("--help")
            .env_remove("NEWSLETTER_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: `newsletter {}` is refused: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        for line in [
            "User=newsletter",
            "StateDirectory=newsletter",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "UMask=0077",
            "CapabilityBoundingSet=",
        ] {
            assert!(text.lines().any(|l| l == line), "{name} lacks {line}");
        }
    }
}
