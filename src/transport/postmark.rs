//! Postmark through its HTTP API: `postmark://[?endpoint=URL&stream=NAME&timeout=SECS]`.
//!
//! What this relies on, from Postmark's developer documentation (API overview, Email API, "Send
//! batch emails"): requests authenticate with the server token in `X-Postmark-Server-Token`
//! (wrong or missing: HTTP 401); `POST /email/batch` takes a JSON array of up to 500 messages
//! (50 MB) and answers a matching array, one `{ErrorCode, Message, MessageID, To}` per message in
//! order, `ErrorCode` 0 meaning accepted; a message is `From`, `To`, `Subject`, `HtmlBody`,
//! `TextBody`, `ReplyTo`, `Headers` (`[{Name, Value}]`) and `MessageStream` (a newsletter goes to a
//! broadcast stream: `broadcast` unless `?stream=` says otherwise); HTTP 422 carries one
//! `{ErrorCode, Message}` about the whole request, 429 says we are over the rate limit, 500 is
//! Postmark's own failure; `GET /server` reads the server the token belongs to. The API error codes
//! used here: 10 bad or missing token, 300 invalid email request (its message names the field: a
//! recipient's is the reader's, any other ours), 400 sender signature not found,
//! 401 sender signature not confirmed, 405 not allowed to send, 406 inactive recipient, 412 account
//! pending, 413 account may not send, 429 rate limit exceeded.
//!
//! Postmark takes JSON, not MIME: our finished message is read back ([`to_postmark`]) into those
//! fields, keeping the headers that are ours to set (List-Unsubscribe and its -Post, List-Id,
//! Message-ID, Precedence, Auto-Submitted, Feedback-ID, any X- header) and dropping those Postmark
//! writes itself (Date, MIME and transfer headers) and our DKIM-Signature: Postmark rebuilds the
//! message, so our signature would not verify, and Postmark signs what it sends with the DKIM key
//! of the sender signature's domain. Whether Postmark keeps our Message-ID is Postmark's to decide;
//! the id kept with the delivery is Postmark's `MessageID`, which its bounce and delivery events
//! name.
//!
//! Batching: each `deliver` queues its message and waits for its own answer. How full a batch gets
//! is bounded by how many messages are handed over at once, `[send] concurrency` (given here as
//! `pool`): a batch goes as soon as that many (at most 500) are queued, or else [`LINGER`] after
//! its first message was queued (when fewer are in flight: a provider lane with fewer connections,
//! the end of a campaign).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use mail_parser::MessageParser;
use tokio::sync::oneshot;

use super::http::{self, Client};
use super::url::PostmarkUrl;
use super::{Failure, TransportError};
use crate::domain::EmailAddress;

/// The environment variable holding the server token.
pub const TOKEN_ENV: &str = "NEWSLETTER_POSTMARK_TOKEN";

const BATCH_PATH: &str = "/email/batch";
const SERVER_PATH: &str = "/server";
/// The most messages Postmark takes in one batch call.
pub(super) const BATCH_MAX: usize = 500;
/// How long a batch waits, from its first message, for more before it goes.
const LINGER: Duration = Duration::from_millis(25);

type Answer = Result<Option<String>, Failure>;

/// A configured Postmark server and its batcher.
pub struct Postmark {
    /// `postmark://` (with the endpoint when it is not Postmark's), for messages.
    pub(super) label: String,
    stream: String,
    /// A batch goes at once when this many are queued: `pool`, the most messages handed over at
    /// once ([send] concurrency), within Postmark's 500.
    flush_at: usize,
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    token: String,
    queue: Mutex<Queue>,
}

/// Messages waiting for the next batch.
#[derive(Default)]
struct Queue {
    entries: Vec<Entry>,
    /// Counts the batches taken, so a linger timer knows whether its batch already went.
    generation: u64,
}

struct Entry {
    /// The message as Postmark's JSON.
    json: Vec<u8>,
    to: String,
    answer: oneshot::Sender<Answer>,
}

impl Postmark {
    /// A Postmark transport for `url`, with the token read by `env`; `pool` is the most idle
    /// connections kept.
    pub(super) fn new(
        url: PostmarkUrl,
        pool: u32,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Postmark, TransportError> {
        let label = if url.endpoint.host == "api.postmarkapp.com" && url.endpoint.https {
            "postmark://".to_string()
        } else {
            format!("postmark:// via {}", url.endpoint.origin())
        };
        let Some(token) = env(TOKEN_ENV)
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
        else {
            return Err(TransportError::Invalid {
                url: label,
                message: format!(
                    "set the Postmark server token in the environment: {TOKEN_ENV} (the server's \
                     API Tokens tab)"
                ),
            });
        };
        let client = Client::new("Postmark", &label, url.endpoint, url.timeout, pool)?;
        Ok(Postmark {
            label,
            stream: url.stream,
            flush_at: (pool as usize).clamp(1, BATCH_MAX),
            inner: Arc::new(Inner {
                client,
                token,
                queue: Mutex::new(Queue::default()),
            }),
        })
    }

    /// Queues one message for the next batch and waits for Postmark's answer about it.
    pub(super) async fn deliver(&self, to: &EmailAddress, message: &[u8]) -> Answer {
        let json = to_postmark(message, to.as_str(), &self.stream).map_err(|e| {
            Failure::Fatal(format!("cannot turn the message into Postmark's JSON: {e}"))
        })?;
        let json = serde_json::to_vec(&json).expect("JSON of strings");
        let (tx, rx) = oneshot::channel();
        let (full, linger) = {
            let mut q = self.inner.queue.lock().expect("postmark queue lock");
            q.entries.push(Entry {
                json,
                to: to.as_str().to_string(),
                answer: tx,
            });
            let linger = (q.entries.len() == 1).then_some(q.generation);
            let full = (q.entries.len() >= self.flush_at).then(|| {
                q.generation += 1;
                std::mem::take(&mut q.entries)
            });
            (full, linger)
        };
        if let Some(generation) = linger {
            let inner = self.inner.clone();
            tokio::spawn(async move {
                tokio::time::sleep(LINGER).await;
                let batch = {
                    let mut q = inner.queue.lock().expect("postmark queue lock");
                    (q.generation == generation && !q.entries.is_empty()).then(|| {
                        q.generation += 1;
                        std::mem::take(&mut q.entries)
                    })
                };
                if let Some(batch) = batch {
                    inner.send(batch).await;
                }
            });
        }
        if let Some(batch) = full {
            let inner = self.inner.clone();
            tokio::spawn(async move { inner.send(batch).await });
        }
        rx.await.unwrap_or_else(|_| {
            Err(Failure::Transient(
                "Postmark: the batch this message was in was lost".into(),
            ))
        })
    }

    /// Reads the server the token belongs to (`GET /server`): whether the token is accepted.
    pub(super) async fn server(&self) -> Result<String, Failure> {
        let inner = &self.inner;
        let reply = inner
            .client
            .call(&|| {
                inner
                    .client
                    .request("GET", SERVER_PATH)
                    .header("accept", "application/json")
                    .header("x-postmark-server-token", &inner.token)
                    .body(Full::new(Bytes::new()))
                    .map_err(|e| Failure::Fatal(format!("Postmark request: {e}")))
            })
            .await?;
        if reply.status == 200 {
            let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
            let name = v.get("Name").and_then(|n| n.as_str()).unwrap_or("?");
            return Ok(format!(
                "server token accepted (server `{name}`), message stream `{}`",
                self.stream
            ));
        }
        Err(whole_request(reply.status, &reply.body))
    }
}

impl Inner {
    /// Sends one batch and hands each message's answer to its caller.
    async fn send(&self, batch: Vec<Entry>) {
        let mut body =
            Vec::with_capacity(batch.iter().map(|e| e.json.len() + 1).sum::<usize>() + 2);
        body.push(b'[');
        for (i, e) in batch.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&e.json);
        }
        body.push(b']');
        let body = Bytes::from(body);
        let reply = self
            .client
            .call(&|| {
                self.client
                    .request("POST", BATCH_PATH)
                    .header("accept", "application/json")
                    .header("content-type", "application/json")
                    .header("x-postmark-server-token", &self.token)
                    .body(Full::new(body.clone()))
                    .map_err(|e| Failure::Fatal(format!("Postmark request: {e}")))
            })
            .await;
        let answers: Vec<Answer> = match reply {
            Err(f) => batch.iter().map(|_| Err(f.clone())).collect(),
            Ok(reply) if reply.status == 200 => {
                let list: Vec<serde_json::Value> =
                    serde_json::from_slice(&reply.body).unwrap_or_default();
                batch
                    .iter()
                    .enumerate()
                    .map(|(i, e)| match list.get(i) {
                        Some(one) => per_message(one, &e.to),
                        None => Err(Failure::Transient(format!(
                            "Postmark answered {} results for a batch of {}",
                            list.len(),
                            batch.len()
                        ))),
                    })
                    .collect()
            }
            Ok(reply) => {
                let f = whole_request(reply.status, &reply.body);
                batch.iter().map(|_| Err(f.clone())).collect()
            }
        };
        for (e, a) in batch.into_iter().zip(answers) {
            let _ = e.answer.send(a);
        }
    }
}

/// One message's result in a batch's answer.
fn per_message(v: &serde_json::Value, to: &str) -> Answer {
    let code = v.get("ErrorCode").and_then(|c| c.as_i64()).unwrap_or(-1);
    let message = v.get("Message").and_then(|m| m.as_str()).unwrap_or("");
    if code == 0 {
        return match v.get("MessageID").and_then(|m| m.as_str()) {
            Some(id) if !id.is_empty() => Ok(Some(id.to_string())),
            _ => Ok(None),
        };
    }
    Err(classify(code, message, to))
}

/// An answer about the whole request (not 200): the token, the rate limit, Postmark's trouble.
fn whole_request(status: u16, body: &[u8]) -> Failure {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let code = v.get("ErrorCode").and_then(|c| c.as_i64());
    let message = v
        .get("Message")
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| http::first_words(&String::from_utf8_lossy(body)));
    if status == 401 || code == Some(10) {
        return token_refused(&format!("{status}: {message}"));
    }
    if status == 429 || code == Some(429) {
        return Failure::Transient(format!(
            "Postmark is throttling us (HTTP {status}, rate limit exceeded: {message})"
        ));
    }
    if status >= 500 || status == 408 {
        return Failure::Transient(format!("Postmark answered {status}: {message}"));
    }
    match code {
        // A request-wide answer never names one recipient: nothing after it would fare better.
        Some(c) if status == 422 => match classify(c, &message, "") {
            Failure::Recipient { message, .. } => Failure::Fatal(message),
            other => other,
        },
        _ if (400..500).contains(&status) => Failure::Fatal(format!(
            "Postmark refused the request ({status}: {message})"
        )),
        _ => Failure::Transient(format!("Postmark answered {status}: {message}")),
    }
}

fn token_refused(said: &str) -> Failure {
    Failure::Fatal(format!(
        "Postmark refused the server token ({said}); set {TOKEN_ENV} to the token on the API \
         Tokens tab of the Postmark server that sends this newsletter"
    ))
}

/// Sorts a Postmark API error code into what the engine does next.
fn classify(code: i64, message: &str, to: &str) -> Failure {
    let said = format!("ErrorCode {code}: {message}");
    match code {
        406 => Failure::Recipient {
            status: "5.1.1".into(),
            message: format!(
                "Postmark refused the recipient: inactive (it bounced hard, complained or was \
                 suppressed) ({said})"
            ),
        },
        // "Invalid email request" names the field at fault: the recipient's, or one of ours
        // (which every next message shares, so it is not the reader's fault).
        300 if !to.is_empty()
            && (message
                .to_ascii_lowercase()
                .contains(&to.to_ascii_lowercase())
                || message.contains("'To'")) =>
        {
            Failure::Recipient {
                status: "5.1.3".into(),
                message: format!("Postmark refused the recipient as invalid ({said})"),
            }
        }
        300 => Failure::Fatal(format!(
            "Postmark refused the message as invalid ({said}); this is a fault of ours, please \
             report it"
        )),
        10 => token_refused(&said),
        400 | 401 => Failure::Fatal(format!(
            "Postmark refused the sender ({said}); add and confirm the From address, or verify \
             its domain, as a sender signature in Postmark"
        )),
        405 | 412 | 413 => Failure::Fatal(format!(
            "Postmark will not send for this account ({said}); see the account's page in \
             Postmark (approval, or sending suspended)"
        )),
        429 => Failure::Transient(format!("Postmark is throttling us (rate limit: {said})")),
        100 => Failure::Transient(format!("Postmark is in maintenance ({said})")),
        _ => Failure::Fatal(format!("Postmark refused the message ({said})")),
    }
}

/// Headers of ours that Postmark is given as custom headers, by the name to give (the parser
/// spells some names its own way); the rest are fields of the JSON (From, To, Subject, Reply-To),
/// Postmark's own (Date, the MIME headers), or ours but broken by Postmark's rebuilding the message
/// (DKIM-Signature).
fn kept(name: &str) -> Option<&str> {
    const KEPT: &[&str] = &[
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "List-Id",
        "Message-ID",
        "Precedence",
        "Auto-Submitted",
        "Feedback-ID",
    ];
    if let Some(k) = KEPT.iter().find(|k| k.eq_ignore_ascii_case(name)) {
        return Some(k);
    }
    (name.len() > 2 && name[..2].eq_ignore_ascii_case("x-")).then_some(name)
}

/// `"Name" <address>`, or the bare address.
fn mailbox(addr: &mail_parser::Addr<'_>) -> Option<String> {
    let address = addr.address()?.trim();
    Some(match addr.name().map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!(
            "\"{}\" <{address}>",
            name.replace('\\', "\\\\").replace('"', "\\\"")
        ),
        None => address.to_string(),
    })
}

/// Our finished MIME message as one message of Postmark's batch, to `to` in `stream`.
pub(super) fn to_postmark(
    message: &[u8],
    to: &str,
    stream: &str,
) -> Result<serde_json::Value, String> {
    let parsed = MessageParser::default()
        .parse(message)
        .ok_or("it is not a MIME message")?;
    let from = parsed
        .from()
        .and_then(|a| a.first())
        .and_then(mailbox)
        .ok_or("it has no From address")?;
    let mut json = serde_json::json!({
        "From": from,
        "To": to,
        "Subject": parsed.subject().unwrap_or(""),
        "MessageStream": stream,
    });
    if let Some(reply_to) = parsed.reply_to().and_then(|a| a.first()).and_then(mailbox) {
        json["ReplyTo"] = reply_to.into();
    }
    let part = |ids: &[u32], html: bool| {
        ids.iter()
            .filter_map(|&i| parsed.part(i))
            .find(|p| p.is_text() && p.is_text_html() == html)
            .and_then(|p| p.text_contents())
            .map(str::to_string)
    };
    let html = part(&parsed.html_body, true);
    let text = part(&parsed.text_body, false);
    if html.is_none() && text.is_none() {
        return Err("it has neither a text nor an HTML body".into());
    }
    if let Some(h) = html {
        json["HtmlBody"] = h.into();
    }
    if let Some(t) = text {
        json["TextBody"] = t.into();
    }
    let headers: Vec<serde_json::Value> = parsed
        .headers_raw()
        .filter_map(|(name, raw)| Some((kept(name)?, raw)))
        .map(|(name, raw)| {
            let value = raw.split_whitespace().collect::<Vec<_>>().join(" ");
            serde_json::json!({"Name": name, "Value": value})
        })
        .collect();
    if !headers.is_empty() {
        json["Headers"] = headers.into();
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_throttling(f: &Failure) -> bool {
        matches!(f, Failure::Transient(m) if crate::send::shaping::is_throttling(m))
    }

    const MESSAGE: &[u8] = b"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\
To: <reader@example.org>\r\n\
Message-ID: <912.s7.abc@this-week-in-rust.org>\r\n\
List-Unsubscribe: <https://twir.example/unsubscribe/T>,\r\n <mailto:u+T@this-week-in-rust.org?subject=unsubscribe>\r\n\
List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\
DKIM-Signature: v=1; a=rsa-sha256; d=this-week-in-rust.org; s=nl;\r\n b=AAAA\r\n\
From: =?utf-8?q?Caf=C3=A9_Weekly?= <newsletter@this-week-in-rust.org>\r\n\
Reply-To: \"Editors, TWiR\" <editors@this-week-in-rust.org>\r\n\
Subject: =?utf-8?b?VGhpcyBXZWVrIGluIFJ1c3Qg4oCUIMOpdMOp?=\r\n\
List-Id: This Week in Rust <news.this-week-in-rust.org>\r\n\
Precedence: bulk\r\n\
X-Campaign: issue-912\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative;\r\n boundary=\"=_b\"\r\n\
\r\n\
--=_b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Caf=C3=A9 au lait=\r\n and more\r\n\
--=_b\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
<p>Caf=C3=A9</p>\r\n\
--=_b--\r\n";

    #[test]
    fn mime_becomes_postmark_json() {
        let j = to_postmark(MESSAGE, "reader@example.org", "broadcast").unwrap();
        assert_eq!(
            j["From"],
            "\"Café Weekly\" <newsletter@this-week-in-rust.org>"
        );
        assert_eq!(j["To"], "reader@example.org");
        assert_eq!(j["Subject"], "This Week in Rust — été");
        assert_eq!(
            j["ReplyTo"],
            "\"Editors, TWiR\" <editors@this-week-in-rust.org>"
        );
        assert_eq!(j["MessageStream"], "broadcast");
        assert_eq!(
            j["TextBody"].as_str().unwrap().trim_end(),
            "Café au lait and more"
        );
        assert_eq!(j["HtmlBody"].as_str().unwrap().trim_end(), "<p>Café</p>");
        let headers: Vec<(String, String)> = j["Headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["Name"].as_str().unwrap().to_string(),
                    h["Value"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Message-ID",
                "List-Unsubscribe",
                "List-Unsubscribe-Post",
                "List-Id",
                "Precedence",
                "X-Campaign"
            ]
        );
        // Folded values are unfolded.
        assert_eq!(
            headers[1].1,
            "<https://twir.example/unsubscribe/T>, <mailto:u+T@this-week-in-rust.org?subject=unsubscribe>"
        );
        assert_eq!(headers[0].1, "<912.s7.abc@this-week-in-rust.org>");
        // Not passed on: what Postmark writes itself, and our signature.
        for gone in [
            "DKIM-Signature",
            "Date",
            "MIME-Version",
            "Content-Type",
            "To",
        ] {
            assert!(!names.contains(&gone), "{gone}");
        }
    }

    #[test]
    fn a_batch_goes_at_the_concurrency_and_never_above_500() {
        let url = |s: &str| match super::super::url::parse(s) {
            Ok(super::super::url::Target::Postmark(u)) => u,
            _ => panic!("{s}"),
        };
        let env = |_: &str| Some("t".to_string());
        for (pool, want) in [(0, 1), (8, 8), (100, 100), (500, 500), (2_000, 500)] {
            let p = Postmark::new(url("postmark://"), pool, &env).unwrap();
            assert_eq!(p.flush_at, want, "{pool}");
        }
    }

    #[test]
    fn a_message_with_one_body_gets_only_that_one() {
        let m = b"From: a@b.test\r\nSubject: plain\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n";
        let j = to_postmark(m, "r@example.org", "news").unwrap();
        assert_eq!(j["From"], "a@b.test");
        assert!(j.get("HtmlBody").is_none(), "{j}");
        assert_eq!(j["TextBody"].as_str().unwrap().trim_end(), "hello");
        assert!(to_postmark(b"Subject: x\r\n\r\nno sender", "r@example.org", "news").is_err());
    }

    #[test]
    fn answers_are_sorted_as_the_engine_needs() {
        let ok = serde_json::json!({"ErrorCode": 0, "Message": "OK", "MessageID": "b7bc2f4a-e38e", "To": "r@x"});
        assert_eq!(per_message(&ok, "r@x"), Ok(Some("b7bc2f4a-e38e".into())));
        for (code, message) in [
            (406, "Found inactive addresses: r@x."),
            (300, "Invalid 'To' address: 'r@x'."),
            (300, "Error parsing 'To': Illegal email address 'r@x'"),
        ] {
            let v = serde_json::json!({"ErrorCode": code, "Message": message});
            assert!(
                matches!(per_message(&v, "r@x"), Err(Failure::Recipient { .. })),
                "{code} {message}"
            );
        }
        // An invalid request that is not about the recipient is ours: it stops the campaign.
        let v = serde_json::json!({"ErrorCode": 300, "Message": "Provide either email TextBody or HtmlBody or both."});
        assert!(matches!(per_message(&v, "r@x"), Err(Failure::Fatal(_))));
        for code in [10, 400, 401, 405, 412, 413, 402] {
            let v = serde_json::json!({"ErrorCode": code, "Message": "no"});
            assert!(
                matches!(per_message(&v, "r@x"), Err(Failure::Fatal(_))),
                "{code}"
            );
        }
        let f = whole_request(
            401,
            br#"{"ErrorCode":10,"Message":"Bad or missing API token"}"#,
        );
        assert!(
            matches!(&f, Failure::Fatal(m) if m.contains(TOKEN_ENV) && m.contains("Bad or missing")),
            "{f:?}"
        );
        assert!(is_throttling(&whole_request(429, b"")));
        assert!(is_throttling(&classify(429, "Rate limit exceeded", "r@x")));
        let f = whole_request(503, b"<html>Service unavailable</html>");
        assert!(
            matches!(f, Failure::Transient(_)) && !is_throttling(&f),
            "{f:?}"
        );
        let f = whole_request(
            422,
            br#"{"ErrorCode":300,"Message":"Invalid email request"}"#,
        );
        assert!(matches!(f, Failure::Fatal(_)), "{f:?}");
        let f = whole_request(422, br#"{"ErrorCode":412,"Message":"Account is pending"}"#);
        assert!(matches!(f, Failure::Fatal(_)), "{f:?}");
    }
}
