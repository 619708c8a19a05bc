//! The real `newsletter serve` on a free port, and a plain HTTP/1.1 client over a real socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use super::db::TestDb;

pub const API_TOKEN: &str = "test-admin-token-0123456789";

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub outbox: tempfile::TempDir,
}

impl Server {
    /// Waits until every sign-up the server queued has been processed (mail sent, or none needed).
    pub fn settle(&self) {
        let counter = |body: &str, name: &str| -> Option<u64> {
            body.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .and_then(|v| v.trim().parse().ok())
        };
        for _ in 0..500 {
            let m = http_with(
                &self.addr,
                "GET",
                "/metrics",
                &[("Authorization", &format!("Bearer {API_TOKEN}"))],
                "",
            );
            let q = counter(&m.body, "newsletter_signups_queued_total");
            if q.is_some() && q == counter(&m.body, "newsletter_signups_processed_total") {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the sign-up queue did not drain");
    }

    /// The messages in the file outbox, oldest first.
    pub fn mails(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(self.outbox.path())
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(db: &TestDb) -> Server {
    serve_with(db, &[])
}

/// The real binary serving on a free port, with `env` on top of the test settings.
pub fn serve_with(db: &TestDb, env: &[(&str, &str)]) -> Server {
    serve_logging(db, env, None)
}

/// As [`serve_with`], with the server's log (standard error, at `-vv`) written to `log`.
pub fn serve_logging(db: &TestDb, env: &[(&str, &str)], log: Option<&std::path::Path>) -> Server {
    let outbox = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(super::bin());
    cmd.env(
        "NEWSLETTER_TRANSPORT__URL",
        format!("file:{}", outbox.path().display()),
    )
    .env("NEWSLETTER_SUBSCRIBE__PER_IP", "8");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args([
        "--database-url",
        &db.url(),
        "serve",
        "--bind",
        "127.0.0.1:0",
    ])
    .env("NEWSLETTER_SITE__NAME", "Weekly Crab")
    .env("NEWSLETTER_API_TOKEN", API_TOKEN)
    .env_remove("NEWSLETTER_CONFIG")
    .stdout(Stdio::piped());
    if let Some(log) = log {
        cmd.arg("-vv").stderr(std::fs::File::create(log).unwrap());
    }
    Server::start(cmd, outbox)
}

impl Server {
    /// Spawns `cmd` (a `serve` on a free port, stdout piped) and waits for the address it
    /// announces; `outbox` is the file outbox it was given.
    pub fn start(mut cmd: Command, outbox: tempfile::TempDir) -> Server {
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        // Keep reading what the server prints after, so it never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected: {line}"))
            .to_string();
        Server {
            child,
            addr,
            outbox,
        }
    }
}

/// An RFC 8058 one-click POST, form-urlencoded, as mail providers send it.
pub fn one_click(addr: &str, token: &str) -> Reply {
    http(
        addr,
        "POST",
        &format!("/unsubscribe/{token}"),
        Some("application/x-www-form-urlencoded"),
        "List-Unsubscribe=One-Click",
    )
}

pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    /// The values of every header named `name` (any case), in order.
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.head
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
            .collect()
    }
}

pub fn http(addr: &str, method: &str, path: &str, content_type: Option<&str>, body: &str) -> Reply {
    let headers: Vec<(&str, &str)> = content_type
        .map(|ct| ("Content-Type", ct))
        .into_iter()
        .collect();
    http_with(addr, method, path, &headers, body)
}

pub fn http_with(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Reply {
        status,
        head: head.to_string(),
        body: if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    }
}

/// The body of a chunked response (RFC 9112 §7.1): each chunk is its hex size, CRLF, the data, CRLF.
fn dechunk(mut raw: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = raw.split_once("\r\n") {
        let n = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .expect("a chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        raw = &rest[n + 2..];
    }
    out
}
