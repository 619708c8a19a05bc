//! Mailgun through its HTTP API: `mailgun://DOMAIN[?region=eu&endpoint=URL&timeout=SECS]`.
//!
//! What this relies on, from Mailgun's API documentation (Messages: "send a message in MIME
//! format"; Domains: "get a domain"): requests authenticate with HTTP Basic, user `api` and the
//! API key as password (wrong: 401); the US API is `https://api.mailgun.net`, the EU one
//! `https://api.eu.mailgun.net`; `POST /v3/DOMAIN/messages.mime` takes `multipart/form-data` with
//! the recipients in `to` and the whole MIME message as the file field `message`, and answers
//! `{"id": "<…>", "message": "Queued. Thank you."}`; other answers carry `{"message": …}`: 400 for
//! a request Mailgun will not take (a bad `to` among them), 401/403 for a key or a domain that is
//! not the account's, 429 for too many requests, 5xx for Mailgun's own trouble; `GET
//! /v3/domains/DOMAIN` returns the domain with its `state` (`active`, `unverified`, `disabled`).
//!
//! The message goes as we built it, so DKIM, List-Unsubscribe and every other header stay ours.
//! The id kept with the delivery is Mailgun's `id` without its angle brackets: the `message-id`
//! its events name.

use http_body_util::Full;
use hyper::body::Bytes;

use super::http::{self, Client};
use super::url::MailgunUrl;
use super::{Failure, TransportError};
use crate::domain::EmailAddress;

/// The environment variable holding the API key.
pub const KEY_ENV: &str = "NEWSLETTER_MAILGUN_KEY";

/// A configured Mailgun domain.
pub struct Mailgun {
    /// `mailgun://DOMAIN` (with the endpoint when it is not Mailgun's), for messages.
    pub(super) label: String,
    domain: String,
    /// `Basic base64(api:KEY)`.
    authorization: String,
    client: Client,
}

/// What `GET /v3/domains/DOMAIN` said.
pub(super) struct DomainState {
    pub state: String,
}

impl Mailgun {
    /// A Mailgun transport for `url`, with the key read by `env`; `pool` is the most idle
    /// connections kept.
    pub(super) fn new(
        url: MailgunUrl,
        pool: u32,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Mailgun, TransportError> {
        let standard = matches!(
            url.endpoint.host.as_str(),
            "api.mailgun.net" | "api.eu.mailgun.net"
        ) && url.endpoint.https;
        let label = if standard && url.endpoint.host == "api.mailgun.net" {
            format!("mailgun://{}", url.domain)
        } else if standard {
            format!("mailgun://{}?region=eu", url.domain)
        } else {
            format!("mailgun://{} via {}", url.domain, url.endpoint.origin())
        };
        let Some(key) = env(KEY_ENV)
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
        else {
            return Err(TransportError::Invalid {
                url: label,
                message: format!(
                    "set the Mailgun API key in the environment: {KEY_ENV} (a sending key of \
                     this domain, or the account's API key)"
                ),
            });
        };
        use base64::Engine;
        let authorization = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("api:{key}"))
        );
        let client = Client::new("Mailgun", &label, url.endpoint, url.timeout, pool)?;
        Ok(Mailgun {
            label,
            domain: url.domain,
            authorization,
            client,
        })
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &Bytes,
    ) -> Result<hyper::Request<Full<Bytes>>, Failure> {
        let mut b = self
            .client
            .request(method, path)
            .header("accept", "application/json")
            .header("authorization", &self.authorization);
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        b.body(Full::new(body.clone()))
            .map_err(|e| Failure::Fatal(format!("Mailgun request: {e}")))
    }

    /// Sends one message to one recipient; Mailgun's message id (without `<>`) when it takes it.
    pub(super) async fn deliver(
        &self,
        to: &EmailAddress,
        message: &[u8],
    ) -> Result<Option<String>, Failure> {
        let boundary = boundary(message);
        let body = Bytes::from(form(&boundary, to.as_str(), message));
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let path = format!("/v3/{}/messages.mime", self.domain);
        let reply = self
            .client
            .call(&|| self.request("POST", &path, Some(&content_type), &body))
            .await?;
        let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        let said = v
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| http::first_words(&reply.text()));
        if reply.status == 200 {
            let id = v.get("id").and_then(|i| i.as_str()).map(|id| {
                id.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            });
            return Ok(id.filter(|i| !i.is_empty()));
        }
        Err(classify(reply.status, &said, to.as_str(), &self.domain))
    }

    /// Reads the domain (`GET /v3/domains/DOMAIN`): the key is accepted for it, and its state.
    pub(super) async fn domain(&self) -> Result<DomainState, Failure> {
        let path = format!("/v3/domains/{}", self.domain);
        let reply = self
            .client
            .call(&|| self.request("GET", &path, None, &Bytes::new()))
            .await?;
        let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        if reply.status == 200 {
            let state = v
                .pointer("/domain/state")
                .and_then(|s| s.as_str())
                .unwrap_or("unknown")
                .to_string();
            return Ok(DomainState { state });
        }
        let said = v
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| http::first_words(&reply.text()));
        Err(match reply.status {
            404 => Failure::Fatal(format!(
                "Mailgun has no domain {} on this account (404: {said}); add it in Mailgun, or \
                 fix the domain in mailgun://DOMAIN (and ?region=eu for an EU domain)",
                self.domain
            )),
            s => classify(s, &said, "", &self.domain),
        })
    }
}

/// A multipart boundary that does not occur in `message`.
fn boundary(message: &[u8]) -> String {
    let mut n = 0u32;
    loop {
        let b = format!("nl-mailgun-{n:08x}-form");
        if memchr::memmem::find(message, b.as_bytes()).is_none() {
            return b;
        }
        n += 1;
    }
}

/// The `multipart/form-data` body: `to`, and `message` as a file.
fn form(boundary: &str, to: &str, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 400);
    out.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n{to}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"message\"; \
             filename=\"message.mime\"\r\nContent-Type: message/rfc822\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(message);
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

/// Sorts a Mailgun error answer. `to` is the recipient (empty when the request was not about one).
fn classify(status: u16, said: &str, to: &str, domain: &str) -> Failure {
    let lower = said.to_ascii_lowercase();
    match status {
        401 => Failure::Fatal(format!(
            "Mailgun refused the API key ({status}: {said}); set {KEY_ENV} to a key of the \
             account that has {domain} (and use ?region=eu for a domain in the EU region)"
        )),
        403 => Failure::Fatal(format!(
            "Mailgun will not let this key send for {domain} ({status}: {said}); check the \
             domain in mailgun://DOMAIN, the key in {KEY_ENV}, and the account's standing"
        )),
        429 => Failure::Transient(format!(
            "Mailgun is throttling us (429 too many requests: {said})"
        )),
        400 if !to.is_empty()
            && (lower.contains(&to.to_ascii_lowercase())
                || lower.contains("'to'")
                || lower.contains("to parameter")) =>
        {
            Failure::Recipient {
                status: "5.1.3".into(),
                message: format!("Mailgun refused the recipient ({status}: {said})"),
            }
        }
        400 | 404 | 413 => {
            Failure::Fatal(format!("Mailgun refused the request ({status}: {said})"))
        }
        _ => Failure::Transient(format!("Mailgun answered {status}: {said}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_throttling(f: &Failure) -> bool {
        matches!(f, Failure::Transient(m) if crate::send::shaping::is_throttling(m))
    }

    #[test]
    fn answers_are_sorted_as_the_engine_needs() {
        let d = "mg.example.org";
        for s in [401, 403] {
            let f = classify(s, "Forbidden", "r@x.test", d);
            assert!(
                matches!(&f, Failure::Fatal(m) if m.contains(KEY_ENV)),
                "{f:?}"
            );
        }
        let f = classify(
            400,
            "'to' parameter is not a valid address. please check documentation",
            "r@x.test",
            d,
        );
        assert!(matches!(f, Failure::Recipient { .. }), "{f:?}");
        let f = classify(
            400,
            "Sandbox subdomains are for test purposes only",
            "r@x.test",
            d,
        );
        assert!(matches!(f, Failure::Fatal(_)), "{f:?}");
        assert!(is_throttling(&classify(429, "", "r@x.test", d)));
        let f = classify(502, "bad gateway", "r@x.test", d);
        assert!(
            matches!(f, Failure::Transient(_)) && !is_throttling(&f),
            "{f:?}"
        );
    }

    #[test]
    fn the_form_carries_to_and_the_message_as_a_file() {
        let m = b"Subject: x\r\n\r\nnl-mailgun-00000000-form\r\n";
        let b = boundary(m);
        assert_eq!(b, "nl-mailgun-00000001-form");
        let body = String::from_utf8(form(&b, "r@x.test", m)).unwrap();
        assert!(body.starts_with(&format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nr@x.test\r\n"
        )));
        assert!(body.contains("name=\"message\"; filename=\"message.mime\""));
        assert!(body.ends_with(&format!("nl-mailgun-00000000-form\r\n\r\n--{b}--\r\n")));
    }
}
