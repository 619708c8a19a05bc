//! A standalone Dovecot serving one Maildir over IMAP (`../shared/TESTBED.md`), for the
//! `bounces process --imap` tests.

use std::process::{Command, Stdio};

/// A standalone Dovecot serving one Maildir over IMAP on a free loopback port; stopped on drop.
pub struct Dovecot {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    pub port: u16,
}

impl Dovecot {
    /// None when this machine cannot run it: not root (skipped), or Dovecot missing (see
    /// [`super::require`]).
    pub fn start() -> Option<Dovecot> {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .ok()?
            .stdout
            .starts_with(b"0");
        if !root {
            super::skip("needs root, to run Dovecot as the bounces user");
            return None;
        }
        let dovecot = super::require("dovecot")?;
        let ok = |cmd: &str| {
            let o = Command::new("sh").args(["-c", cmd]).output().unwrap();
            assert!(
                o.status.success(),
                "{cmd}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        };
        ok("id bounces >/dev/null 2>&1 || useradd -m -s /usr/sbin/nologin bounces");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let port = super::smtp::free_port();
        for sub in [
            "run",
            "state",
            "home/Maildir/new",
            "home/Maildir/cur",
            "home/Maildir/tmp",
        ] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        ok(&format!(
            "chmod 755 {d} && chown -R bounces:bounces {d}/home"
        ));
        std::fs::write(dir.path().join("passwd"), "bounces:{PLAIN}secret\n").unwrap();
        let config = dir.path().join("dovecot.conf");
        std::fs::write(
            &config,
            format!(
                "protocols = imap\nlisten = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\n\
                 mail_location = maildir:~/Maildir\nbase_dir = {d}/run\nstate_dir = {d}/state\n\
                 log_path = {d}/dovecot.log\n\
                 passdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n\
                 userdb {{\n  driver = static\n  args = uid=bounces gid=bounces home={d}/home\n}}\n\
                 service imap-login {{\n  inet_listener imap {{\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n"
            ),
        )
        .unwrap();
        // Dovecot daemonizes and keeps its inherited output open: give it none to hold.
        let started = Command::new(&dovecot)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(started.success(), "dovecot -c {} failed", config.display());
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(Dovecot { dir, config, port });
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "dovecot did not listen: {}",
            std::fs::read_to_string(dir.path().join("dovecot.log")).unwrap_or_default()
        );
    }

    /// Points `bounces process --imap` of `cmd` at this server.
    pub fn configure<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("NEWSLETTER_BOUNCES__IMAP__HOST", "127.0.0.1")
            .env("NEWSLETTER_BOUNCES__IMAP__PORT", self.port.to_string())
            .env("NEWSLETTER_BOUNCES__IMAP__TLS", "none")
            .env("NEWSLETTER_BOUNCES__IMAP__USER", "bounces")
            .env("NEWSLETTER_IMAP_PASSWORD", "secret")
    }

    pub fn maildir(&self) -> std::path::PathBuf {
        self.dir.path().join("home/Maildir")
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(&self.config)
            .arg("stop")
            .output();
    }
}
