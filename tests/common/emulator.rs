//! The provider emulators in `tests/emulators/` (Python 3 stdlib HTTP servers standing in for
//! Postmark's and Mailgun's APIs), started on a free port and killed when the guard goes.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running emulator.
pub struct Emulator {
    child: Child,
    pub port: u16,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Emulator {
    /// Starts `tests/emulators/SCRIPT` with the port and `args`; `None` (the test skips) without
    /// `python3`.
    pub fn start(script: &str, args: &[&str]) -> Option<Emulator> {
        let python = super::require("python3")?;
        let port = super::smtp::free_port();
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/emulators")
            .join(script);
        let child = Command::new(python)
            .arg(path)
            .arg(port.to_string())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 starts");
        let mut e = Emulator { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{script} did not listen");
            assert!(e.child.try_wait().unwrap().is_none(), "{script} exited");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(e)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A JSON answer of the emulator's own (`/_emulator/...`).
    pub fn get(&self, path: &str) -> serde_json::Value {
        let reply = super::web::http(&format!("127.0.0.1:{}", self.port), "GET", path, None, "");
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        serde_json::from_str(&reply.body).unwrap()
    }
}

/// How many messages an emulator accepted for each recipient, from its (id, recipient) pairs.
pub fn per_recipient(sent: &[(String, String)]) -> std::collections::HashMap<String, usize> {
    let mut m = std::collections::HashMap::new();
    for (_, to) in sent {
        *m.entry(to.clone()).or_insert(0) += 1;
    }
    m
}
