//! Where finished messages go.
//!
//! - `file:DIR` writes each message as an `.eml` under DIR: the embedded default, so a fresh machine
//!   can send without a mail server.
//! - `smtp://[user@]host[:port][?tls=none|starttls&helo=NAME&timeout=SECS&weight=N]` and
//!   `smtps://[user@]host[:465]` hand messages to a relay with lettre's SMTP client, over reused
//!   connections (one per sender task at most). The
//!   password comes from `NEWSLETTER_SMTP_PASSWORD` only. Several relays may be listed: each message
//!   goes to a healthy one (by weight), and a relay that cannot be reached is rested for a while.
//!
//! Every failure is classified for the delivery engine: [`Failure::Transient`] (retry later),
//! [`Failure::Recipient`] (a 5xx for this recipient: a hard bounce) and [`Failure::Fatal`] (nothing
//! will get through: wrong credentials, TLS, the relay refusing the sender).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use thiserror::Error;

use crate::config::redact_url;
use crate::domain::EmailAddress;

/// The environment variable holding the SMTP password.
pub const PASSWORD_ENV: &str = "NEWSLETTER_SMTP_PASSWORD";

/// How long a relay that could not be reached is left out before it is tried again.
const RELAY_REST: Duration = Duration::from_secs(30);

/// A transport URL that cannot be used.
#[derive(Debug, Error)]
pub enum TransportError {
    /// The transport URL is not one we know.
    #[error(
        "transport `{0}` is not supported: use file:DIR, smtp://host:port (?tls=starttls) or smtps://host:465"
    )]
    Unsupported(String),
    /// The URL is malformed.
    #[error("transport `{url}`: {message}")]
    Invalid { url: String, message: String },
}

/// Why one message was not handed over.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Failure {
    /// Worth retrying: a 4xx, a timeout, a dropped or refused connection.
    #[error("{0}")]
    Transient(String),
    /// Refused for good for this recipient (a 5xx to RCPT or DATA). `status` is the enhanced status
    /// code when the reply has one, else the reply code.
    #[error("{status} {message}")]
    Recipient { status: String, message: String },
    /// Nothing will get through until an operator acts (credentials, TLS, sender refused).
    #[error("{0}")]
    Fatal(String),
    /// This message cannot go through this relay, though others can, and the recipient is not at
    /// fault: an address with non-ASCII characters, and a relay without SMTPUTF8.
    #[error("{0}")]
    Unsendable(String),
}

/// How a relay connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    None,
    StartTls,
    Implicit,
}

/// One configured relay. Connections are lettre's SMTP client on sockets we open ourselves, so
/// that TCP_NODELAY is set: lettre writes a message and its final `.` in two writes, and with
/// Nagle's algorithm a small message then waits for the peer's delayed ACK (about 40 ms) every
/// time. An idle connection is reused as is (no NOOP round trip), and tested only after a pause.
pub struct Relay {
    /// For messages: host:port, never the credentials.
    label: String,
    weight: u32,
    host: String,
    port: u16,
    tls: TlsMode,
    helo: ClientId,
    credentials: Option<Credentials>,
    timeout: Duration,
    /// Connections between messages, with when each was last used. At most `keep` are kept.
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    keep: usize,
    down_until: Mutex<Option<Instant>>,
}

/// Why a connection could not be made or used.
enum ConnError {
    Smtp(lettre::transport::smtp::Error),
    Io(String),
}

impl ConnError {
    fn classify(&self) -> Failure {
        match self {
            ConnError::Smtp(e) => classify(e),
            ConnError::Io(m) => Failure::Transient(m.clone()),
        }
    }

    /// The relay answered (as opposed to: could not be reached at all).
    fn has_reply(&self) -> bool {
        matches!(self, ConnError::Smtp(e) if e.status().is_some() || e.is_tls() || e.is_client())
    }
}

/// A configured transport.
pub enum Transport {
    /// Writes `<DIR>/<name>.eml`.
    File(PathBuf),
    /// One or more SMTP relays.
    Smtp(Vec<Relay>),
    /// Accepts everything and sends nothing (`send --dry-run`).
    DryRun,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Transport {
    /// Parses one transport URL, or several separated by commas or spaces (SMTP relays with
    /// failover). `pool` is the most connections kept per relay; `password` is used for URLs with a
    /// user name.
    pub fn from_url(
        urls: &str,
        pool: u32,
        password: Option<&str>,
    ) -> Result<Transport, TransportError> {
        let list: Vec<&str> = urls
            .split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if let [one] = list.as_slice()
            && let Some(dir) = one.strip_prefix("file:")
        {
            let dir = dir.trim_start_matches("//");
            if dir.is_empty() {
                return Err(TransportError::Invalid {
                    url: one.to_string(),
                    message: "the outbox folder is missing, e.g. file:outbox".into(),
                });
            }
            return Ok(Transport::File(PathBuf::from(dir)));
        }
        if list.is_empty() {
            return Err(TransportError::Unsupported(urls.to_string()));
        }
        let relays = list
            .iter()
            .map(|u| relay(u, pool, password))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Transport::Smtp(relays))
    }

    /// A one-line description for confirmations and logs (no credentials).
    pub fn describe(&self) -> String {
        match self {
            Transport::File(dir) => format!("file outbox {}", dir.display()),
            Transport::Smtp(relays) => {
                let names: Vec<&str> = relays.iter().map(|r| r.label.as_str()).collect();
                format!("SMTP via {}", names.join(", "))
            }
            Transport::DryRun => "dry run (nothing is sent)".to_string(),
        }
    }

    /// Opens a connection to every SMTP relay (greeting, TLS, AUTH) before anything is sent, so
    /// that wrong credentials or TLS stop a campaign before it touches a subscriber. Fails only when
    /// no relay works, or when one has a configuration error (credentials, TLS).
    pub async fn preflight(&self) -> Result<(), Failure> {
        let Transport::Smtp(relays) = self else {
            return Ok(());
        };
        let mut last = None;
        let mut ok = false;
        for r in relays {
            match r.connect().await {
                Ok(conn) => {
                    r.put_back(conn);
                    ok = true;
                }
                Err(e) => match e.classify() {
                    Failure::Fatal(m) => return Err(Failure::Fatal(format!("{}: {m}", r.label))),
                    other => {
                        r.rest();
                        last = Some(Failure::Transient(format!("{}: {other}", r.label)))
                    }
                },
            }
        }
        if ok {
            Ok(())
        } else {
            Err(last.unwrap_or_else(|| Failure::Transient("no relay configured".into())))
        }
    }

    /// Hands one message over: `from` is the envelope sender (VERP), `to` the one recipient, and
    /// `name` a unique name for the message (the outbox file name).
    pub async fn deliver(
        &self,
        from: &str,
        to: &EmailAddress,
        name: &str,
        message: &[u8],
    ) -> Result<(), Failure> {
        match self {
            Transport::DryRun => Ok(()),
            Transport::File(dir) => write_file(dir, name, message)
                .await
                .map_err(|e| Failure::Fatal(format!("cannot write to {}: {e}", dir.display()))),
            Transport::Smtp(relays) => {
                let envelope = envelope(from, to)?;
                let mut last = Failure::Transient("every relay is resting".into());
                for r in order(relays, name) {
                    let mut conn = match r.take().await {
                        Ok(c) => c,
                        Err(e) => {
                            let failure = e.classify();
                            // A relay we could not talk to at all is rested and the next one tried;
                            // a reply from the relay (AUTH, TLS) is the answer.
                            if !e.has_reply() {
                                r.rest();
                                last = Failure::Transient(format!("{}: {failure}", r.label));
                                continue;
                            }
                            return Err(failure);
                        }
                    };
                    if !to.as_str().is_ascii()
                        && !conn.server_info().supports_feature(
                            lettre::transport::smtp::extension::Extension::SmtpUtfEight,
                        )
                    {
                        r.put_back(conn);
                        return Err(Failure::Unsendable(format!(
                            "{}: the relay does not offer SMTPUTF8, which an address with non-ASCII characters needs",
                            r.label
                        )));
                    }
                    let sent = tokio::time::timeout(r.timeout, conn.send(&envelope, message)).await;
                    return match sent {
                        Ok(Ok(_)) => {
                            r.put_back(conn);
                            Ok(())
                        }
                        // lettre has closed the connection after an error reply; it is dropped.
                        Ok(Err(e)) => Err(classify(&e)),
                        Err(_) => Err(Failure::Transient(format!(
                            "{}: no answer within {} s",
                            r.label,
                            r.timeout.as_secs()
                        ))),
                    };
                }
                Err(last)
            }
        }
    }

    /// Closes pooled connections politely (QUIT).
    pub async fn shutdown(&self) {
        if let Transport::Smtp(relays) = self {
            for r in relays {
                let idle: Vec<_> = r.idle.lock().expect("relay lock").drain(..).collect();
                for (mut c, _) in idle {
                    let _ = tokio::time::timeout(Duration::from_secs(2), c.quit()).await;
                }
            }
        }
    }
}

impl Relay {
    /// Opens a connection: TCP (or implicit TLS), greeting and EHLO, STARTTLS, AUTH.
    async fn connect(&self) -> Result<AsyncSmtpConnection, ConnError> {
        let tls = || TlsParameters::new(self.host.clone()).map_err(ConnError::Smtp);
        let mut conn = match self.tls {
            // lettre's own socket; the TLS records it writes are not delayed the same way.
            TlsMode::Implicit => AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.timeout),
                &self.helo,
                Some(tls()?),
                None,
            )
            .await
            .map_err(ConnError::Smtp)?,
            TlsMode::None | TlsMode::StartTls => {
                let tcp = tokio::time::timeout(
                    self.timeout,
                    tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
                )
                .await
                .map_err(|_| ConnError::Io(format!("{}: connection timed out", self.label)))?
                .map_err(|e| ConnError::Io(format!("{}: {e}", self.label)))?;
                tcp.set_nodelay(true)
                    .map_err(|e| ConnError::Io(format!("{}: {e}", self.label)))?;
                let greeted = tokio::time::timeout(
                    self.timeout,
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.helo),
                )
                .await
                .map_err(|_| ConnError::Io(format!("{}: no greeting", self.label)))?;
                greeted.map_err(ConnError::Smtp)?
            }
        };
        if self.tls == TlsMode::StartTls {
            conn.starttls(tls()?, &self.helo)
                .await
                .map_err(ConnError::Smtp)?;
        }
        if let Some(c) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], c)
                .await
                .map_err(ConnError::Smtp)?;
        }
        Ok(conn)
    }

    /// An idle connection (tested with NOOP if it sat idle a while), or a new one.
    async fn take(&self) -> Result<AsyncSmtpConnection, ConnError> {
        loop {
            let popped = self.idle.lock().expect("relay lock").pop();
            let Some((mut conn, since)) = popped else {
                return self.connect().await;
            };
            if conn.has_broken() {
                continue;
            }
            if since.elapsed() < Duration::from_secs(5) || conn.test_connected().await {
                return Ok(conn);
            }
        }
    }

    fn put_back(&self, conn: AsyncSmtpConnection) {
        let mut idle = self.idle.lock().expect("relay lock");
        if idle.len() < self.keep && !conn.has_broken() {
            idle.push((conn, Instant::now()));
        }
    }

    fn rest(&self) {
        *self.down_until.lock().expect("relay lock") = Some(Instant::now() + RELAY_REST);
    }

    fn resting(&self, now: Instant) -> bool {
        matches!(*self.down_until.lock().expect("relay lock"), Some(t) if t > now)
    }
}

/// Relays in the order to try for one message: healthy ones first, the first picked by weight
/// (spread by a hash of the message name), then resting ones as a last resort.
fn order<'a>(relays: &'a [Relay], name: &str) -> Vec<&'a Relay> {
    let now = Instant::now();
    let (mut healthy, resting): (Vec<&Relay>, Vec<&Relay>) =
        relays.iter().partition(|r| !r.resting(now));
    let total: u32 = healthy.iter().map(|r| r.weight).sum();
    if total > 0 && healthy.len() > 1 {
        let mut pick = fnv(name) % total;
        let first = healthy
            .iter()
            .position(|r| {
                if pick < r.weight {
                    true
                } else {
                    pick -= r.weight;
                    false
                }
            })
            .unwrap_or(0);
        healthy.rotate_left(first);
    }
    healthy.extend(resting);
    healthy
}

fn fnv(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn envelope(from: &str, to: &EmailAddress) -> Result<Envelope, Failure> {
    let from = from
        .parse()
        .map_err(|e| Failure::Fatal(format!("envelope sender `{from}`: {e}")))?;
    let to = to.as_str().parse().map_err(|e| Failure::Recipient {
        status: "5.1.3".into(),
        message: format!("address not usable in SMTP: {e}"),
    })?;
    Envelope::new(Some(from), vec![to]).map_err(|e| Failure::Fatal(e.to_string()))
}

/// Sorts an SMTP error into what the engine does next.
fn classify(e: &lettre::transport::smtp::Error) -> Failure {
    let text = e.to_string();
    if e.is_tls() {
        return Failure::Fatal(format!("TLS failed: {text}"));
    }
    if e.is_client() {
        // No usable AUTH mechanism, STARTTLS required but not offered: configuration problems.
        return Failure::Fatal(text);
    }
    match e.status().map(|c| c.to_string()) {
        // Authentication required / failed / too weak: a configuration problem.
        Some(code) if matches!(code.as_str(), "530" | "534" | "535" | "538" | "454") => {
            Failure::Fatal(format!("authentication failed: {text}"))
        }
        Some(code) if e.is_permanent() => Failure::Recipient {
            status: enhanced_status(&text).unwrap_or(code),
            message: text,
        },
        Some(_) => Failure::Transient(text),
        None if e.is_timeout() => Failure::Transient(format!("timed out: {text}")),
        None => Failure::Transient(text),
    }
}

/// The first RFC 3463 enhanced status code (`5.1.1`) in a reply text.
pub fn enhanced_status(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == ':' || c == ',' || c == '(' || c == ')')
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() == 3
                && matches!(parts[0], "2" | "4" | "5")
                && parts[1..]
                    .iter()
                    .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_string)
}

fn relay(url: &str, pool: u32, password: Option<&str>) -> Result<Relay, TransportError> {
    let invalid = |message: String| TransportError::Invalid {
        url: redact_url(url),
        message,
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| TransportError::Unsupported(redact_url(url)))?;
    let implicit_tls = match scheme {
        "smtp" => false,
        "smtps" => true,
        _ => return Err(TransportError::Unsupported(redact_url(url))),
    };
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = authority.trim_end_matches('/');
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if user.is_some_and(|u| u.contains(':')) {
        return Err(invalid(format!(
            "put the password in {PASSWORD_ENV}, not in the URL"
        )));
    }
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h.trim_matches(['[', ']']),
            Some(
                p.parse::<u16>()
                    .map_err(|_| invalid(format!("port `{p}` is not a number")))?,
            ),
        ),
        _ => (hostport, None),
    };
    if host.is_empty() {
        return Err(invalid("the host is missing".into()));
    }
    let mut tls_mode = if implicit_tls { "tls" } else { "none" };
    let mut helo = None;
    let mut timeout = 30u64;
    let mut weight = 1u32;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "tls" => tls_mode = v,
            "helo" => helo = Some(v.to_string()),
            "timeout" => {
                timeout = v
                    .parse()
                    .map_err(|_| invalid(format!("timeout `{v}` is not a number of seconds")))?
            }
            "weight" => {
                weight = v
                    .parse()
                    .map_err(|_| invalid(format!("weight `{v}` is not a whole number")))?
            }
            other => {
                return Err(invalid(format!(
                    "unknown parameter `{other}` (known: tls, helo, timeout, weight)"
                )));
            }
        }
    }
    let tls = match tls_mode {
        "none" => TlsMode::None,
        "starttls" => TlsMode::StartTls,
        "tls" => TlsMode::Implicit,
        other => {
            return Err(invalid(format!("tls=`{other}`: use none, starttls or tls")));
        }
    };
    let port = port.unwrap_or(if implicit_tls { 465 } else { 25 });
    let credentials = match user {
        Some(u) => {
            let password = password.ok_or_else(|| {
                invalid(format!(
                    "the URL names user `{u}`: set its password in {PASSWORD_ENV}"
                ))
            })?;
            Some(Credentials::new(u.to_string(), password.to_string()))
        }
        None => None,
    };
    Ok(Relay {
        label: format!("{host}:{port}"),
        weight,
        host: host.to_string(),
        port,
        tls,
        helo: helo.map_or_else(ClientId::default, ClientId::Domain),
        credentials,
        timeout: Duration::from_secs(timeout),
        idle: Mutex::new(Vec::new()),
        keep: pool.max(1) as usize,
        down_until: Mutex::new(None),
    })
}

async fn write_file(dir: &PathBuf, name: &str, message: &[u8]) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let tmp = dir.join(format!(".{safe}.tmp"));
    // Write then rename, so a reader never sees half a message.
    tokio::fs::write(&tmp, message).await?;
    tokio::fs::rename(&tmp, dir.join(format!("{safe}.eml"))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parses_transport_urls() {
        assert!(matches!(
            Transport::from_url("file:outbox", 4, None).unwrap(),
            Transport::File(p) if p == std::path::Path::new("outbox")
        ));
        let t = Transport::from_url(
            "smtp://127.0.0.1:2526?helo=nl.test&weight=3, smtps://mail.example.org",
            4,
            None,
        )
        .unwrap();
        assert_eq!(
            t.describe(),
            "SMTP via 127.0.0.1:2526, mail.example.org:465"
        );
        let Transport::Smtp(relays) = &t else {
            panic!("smtp")
        };
        assert_eq!(relays[0].weight, 3);
    }

    #[tokio::test]
    async fn rejects_bad_urls_with_reasons() {
        for (url, want) in [
            ("ftp://x", "not supported"),
            ("file:", "outbox folder is missing"),
            ("smtp://u:pw@host", "NEWSLETTER_SMTP_PASSWORD"),
            ("smtp://u@host", "NEWSLETTER_SMTP_PASSWORD"),
            ("smtp://host:99999", "port"),
            ("smtp://host?tls=maybe", "tls=`maybe`"),
            ("smtp://host?colour=red", "unknown parameter `colour`"),
        ] {
            let e = Transport::from_url(url, 1, None).unwrap_err().to_string();
            assert!(e.contains(want), "{url}: {e}");
            assert!(!e.contains("pw"), "{url} leaks the password: {e}");
        }
    }

    #[test]
    fn finds_enhanced_status_codes() {
        assert_eq!(
            enhanced_status("permanent error (550): 5.1.1 User unknown").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(enhanced_status("550 no such user"), None);
        assert_eq!(enhanced_status("version 1.2.3"), None);
    }

    #[tokio::test]
    async fn weighted_order_prefers_healthy_relays() {
        let Transport::Smtp(relays) =
            Transport::from_url("smtp://a:25?weight=1, smtp://b:25?weight=9", 1, None).unwrap()
        else {
            panic!()
        };
        let firsts: Vec<String> = (0..1000)
            .map(|i| order(&relays, &format!("m{i}"))[0].label.clone())
            .collect();
        let b = firsts.iter().filter(|l| l.starts_with('b')).count();
        assert!((800..=980).contains(&b), "b first {b} times of 1000");
        relays[1].rest();
        assert_eq!(order(&relays, "m1")[0].label, "a:25");
        assert_eq!(order(&relays, "m1")[1].label, "b:25");
    }
}
