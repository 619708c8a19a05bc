//! Real SMTP servers for the delivery tests: Postfix's `smtp-sink`, and an aiosmtpd server whose
//! per-recipient answers a test chooses (`tests/support/fault_smtp.py`). Each runs as a child process
//! on a free loopback port and is killed when its guard goes. A test using them first says
//! `require!("smtp-sink")` or `require!("python3:aiosmtpd")`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running SMTP server that stores what it accepts in `dir`.
pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for_port(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the SMTP server exited before listening: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the SMTP server did not listen on {port}");
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Server {
    /// `smtp-sink` storing every message (one file each), with extra fault options such as `-w 1`.
    pub fn sink(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        // smtp-sink drops privileges to `nobody`, who must be able to write the dumps.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        let port = free_port();
        let mut cmd = Command::new(super::which("smtp-sink").unwrap_or("smtp-sink".into()));
        if is_root() {
            cmd.args(["-u", "nobody"]);
        }
        let template = format!("{}/%M.", dir.path().display());
        cmd.args(["-d", &template])
            .args(extra)
            .arg(format!("127.0.0.1:{port}"))
            .arg("1024")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .expect("smtp-sink is installed (scripts/install-test-deps.sh installs postfix)");
        wait_for_port(port, &mut child);
        Server { child, port, dir }
    }

    /// The aiosmtpd fault server with the given options (`--reject bad`, `--drop-every 7`, …).
    pub fn faulty(options: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fault_smtp.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string(), "--dir"])
            .arg(dir.path())
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("ready"),
            "fault server did not start (is aiosmtpd installed? scripts/install-test-deps.sh): {line:?}"
        );
        wait_for_port(port, &mut child);
        Server { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The stored messages, each with the envelope it came with.
    pub fn messages(&self) -> Vec<Stored> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "tmp") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            out.push(Stored::parse(path, bytes));
        }
        out
    }
}

/// One message as a server stored it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub path: PathBuf,
    pub mail_from: String,
    pub rcpt: String,
    pub headers: HashMap<String, String>,
    pub raw: Vec<u8>,
}

impl Stored {
    fn parse(path: PathBuf, raw: Vec<u8>) -> Stored {
        let text = String::from_utf8_lossy(&raw);
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let mut headers = HashMap::new();
        let mut last: Option<String> = None;
        for line in head.split("\r\n").flat_map(|l| l.split('\n')) {
            if line.starts_with([' ', '\t']) {
                if let Some(k) = &last {
                    let v: &mut String = headers.get_mut(k).unwrap();
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                headers
                    .entry(k.clone())
                    .or_insert_with(|| v.trim().to_string());
                last = Some(k);
            }
        }
        let angle = |v: &str| {
            v.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        };
        // smtp-sink writes X-Mail-Args/X-Rcpt-Args; the fault server X-Envelope-From and To.
        let mail_from = headers
            .get("x-mail-args")
            .or(headers.get("x-envelope-from"))
            .map(|v| angle(v.split_whitespace().next().unwrap_or("")))
            .unwrap_or_default();
        let rcpt = headers
            .get("x-rcpt-args")
            .or(headers.get("to"))
            .map(|v| angle(v.split_whitespace().next().unwrap_or("")))
            .unwrap_or_default();
        Stored {
            path,
            mail_from,
            rcpt,
            headers,
            raw,
        }
    }

    /// The token at the end of the List-Unsubscribe URL.
    pub fn unsubscribe_token(&self) -> String {
        let v = &self.headers["list-unsubscribe"];
        let url = v.split('>').next().unwrap().trim_start_matches('<');
        url.rsplit('/').next().unwrap().to_string()
    }

    /// The address of the List-Unsubscribe mailto, without `mailto:` and its `?subject=`.
    pub fn unsubscribe_mailto(&self) -> String {
        let v = &self.headers["list-unsubscribe"];
        let start = v.find("<mailto:").expect("a mailto in List-Unsubscribe") + "<mailto:".len();
        let rest = &v[start..];
        rest[..rest.find(['?', '>']).unwrap()].to_string()
    }
}

/// Messages per envelope recipient.
pub fn per_recipient(messages: &[Stored]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for s in messages {
        *m.entry(s.rcpt.clone()).or_insert(0) += 1;
    }
    m
}

/// Asserts the server got exactly one message for each of `n` recipients.
pub fn assert_each_once(server: &Server, n: usize) {
    let counts = per_recipient(&server.messages());
    assert_eq!(counts.len(), n, "{counts:?}");
    assert!(counts.values().all(|&c| c == 1), "{counts:?}");
}

/// Parses every file in `dir` with Python's `email` package under `policy.strict` and returns
/// (messages parsed, total defects, first problems).
pub fn python_strict_check(dir: &Path) -> (usize, usize, String) {
    let script = r#"
import email, email.policy, os, sys
n = defects = 0
problems = []
for name in sorted(os.listdir(sys.argv[1])):
    if name.endswith(".tmp"):
        continue
    with open(os.path.join(sys.argv[1], name), "rb") as f:
        raw = f.read()
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.strict)
        found = list(msg.defects)
        for part in msg.walk():
            found += list(part.defects)
            part.get_content() if not part.is_multipart() else None
        assert msg.get_content_type() == "multipart/alternative", msg.get_content_type()
        kinds = [p.get_content_type() for p in msg.iter_parts()]
        assert kinds == ["text/plain", "text/html"], kinds
        for h in ("Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post", "Date", "From", "To", "Subject"):
            assert msg[h], h
    except Exception as e:
        found = [repr(e)]
    n += 1
    defects += len(found)
    if found and len(problems) < 5:
        problems.append(name + ": " + "; ".join(map(str, found)))
print(n, defects)
print("\n".join(problems))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let mut nums = lines.next().unwrap().split_whitespace();
    let n = nums.next().unwrap().parse().unwrap();
    let d = nums.next().unwrap().parse().unwrap();
    (n, d, lines.collect::<Vec<_>>().join("\n"))
}
