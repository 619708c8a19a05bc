//! Amazon SES through its v2 API: `ses://REGION[?endpoint=URL&configuration_set=NAME&timeout=SECS]`.
//!
//! Each message is one signed `POST /v2/email/outbound-emails` (`SendEmail`) whose content is the
//! raw MIME we built, base64-encoded, so DKIM, List-Unsubscribe and every other header stay ours;
//! the one recipient goes in `Destination.ToAddresses`, the From header's address in
//! `FromEmailAddress`. Credentials come only from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
//! `AWS_SESSION_TOKEN`. Requests are signed by [`super::sigv4`] and go over HTTPS (rustls with the
//! platform's roots), or plain HTTP to an explicit endpoint on this machine (an emulator). Keep-alive
//! connections are pooled, one request on each at a time.
//!
//! SES's answers are sorted for the engine as SMTP replies are: 200 is accepted, with SES's
//! `MessageId` for the delivery; 429, `TooManyRequestsException`, `Throttling` and "Maximum sending
//! rate exceeded" are transient and read as throttling (the lane slows down, as for a 421); bad
//! credentials (403, `SignatureDoesNotMatch`, `InvalidClientTokenId`…), an unverified identity, a
//! suspended or paused account and an exhausted daily quota are fatal (the campaign stops); a
//! refusal that names the recipient (the suppression list, a malformed address) is the
//! recipient's; 5xx, timeouts and connection errors are transient.
//!
//! Through SES our VERP envelope sender is replaced by SES's own, so bounces and complaints come
//! back as SES events, not to our bounce intake.

use base64::Engine;
use http_body_util::Full;
use hyper::body::Bytes;

use super::http::{self, Client};
use super::sigv4::{self, Credentials};
use super::url::SesUrl;
use super::{Failure, TransportError};
use crate::domain::EmailAddress;

/// The environment variables the credentials come from.
pub const ACCESS_KEY_ENV: &str = "AWS_ACCESS_KEY_ID";
pub const SECRET_KEY_ENV: &str = "AWS_SECRET_ACCESS_KEY";
pub const SESSION_TOKEN_ENV: &str = "AWS_SESSION_TOKEN";

const SEND_PATH: &str = "/v2/email/outbound-emails";
const ACCOUNT_PATH: &str = "/v2/email/account";
const IDENTITY_PATH: &str = "/v2/email/identities/";

/// A configured SES endpoint and its idle connections.
pub struct Ses {
    /// `ses://REGION` (with the endpoint when it is not Amazon's), for messages.
    pub(super) label: String,
    url: SesUrl,
    credentials: Credentials,
    client: Client,
}

/// What SES answered to one request.
struct Answer {
    status: u16,
    /// The error's type (`MessageRejected`), when it is an error.
    kind: String,
    /// The error's message, or the body of a success.
    body: String,
}

impl Ses {
    /// An SES transport for `url`, with credentials read by `env` (the process environment, or a
    /// test's table); `pool` is the most idle connections kept.
    pub(super) fn new(
        url: SesUrl,
        pool: u32,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Ses, TransportError> {
        let e = &url.endpoint;
        let label = if e.host == format!("email.{}.amazonaws.com", url.region) {
            format!("ses://{}", url.region)
        } else {
            format!(
                "ses://{} via {}://{}:{}",
                url.region,
                if e.https { "https" } else { "http" },
                e.host,
                e.port
            )
        };
        let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let (Some(access_key_id), Some(secret_access_key)) =
            (get(ACCESS_KEY_ENV), get(SECRET_KEY_ENV))
        else {
            return Err(TransportError::Invalid {
                url: label,
                message: format!(
                    "set the AWS credentials in the environment: {ACCESS_KEY_ENV} and \
                     {SECRET_KEY_ENV} (and {SESSION_TOKEN_ENV} for temporary credentials)"
                ),
            });
        };
        let client = Client::new("SES", &label, url.endpoint.clone(), url.timeout, pool)?;
        Ok(Ses {
            label,
            credentials: Credentials {
                access_key_id,
                secret_access_key,
                session_token: get(SESSION_TOKEN_ENV),
            },
            client,
            url,
        })
    }

    /// One signed request, and SES's answer sorted into status, error type and message.
    async fn call(&self, method: &str, path: &str, body: Vec<u8>) -> Result<Answer, Failure> {
        let reply = self
            .client
            .call(&|| self.request(method, path, &body))
            .await?;
        Ok(answer(
            reply.status,
            reply.header("x-amzn-errortype"),
            &reply.body,
        ))
    }

    /// A signed request.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<hyper::Request<Full<Bytes>>, Failure> {
        let content_type = [("content-type", "application/json")];
        let signed = sigv4::sign(
            &self.credentials,
            &self.url.region,
            "ses",
            &sigv4::amz_date_now(),
            &sigv4::Request {
                method,
                path,
                query: "",
                headers: if body.is_empty() { &[] } else { &content_type },
                host: &self.client.host_header,
                body,
            },
        );
        let mut builder = self
            .client
            .request(method, path)
            .header("accept", "application/json");
        if !body.is_empty() {
            builder = builder.header("content-type", "application/json");
        }
        for (k, v) in signed {
            builder = builder.header(k, v);
        }
        builder
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(|e| Failure::Fatal(format!("SES request: {e}")))
    }

    /// Sends one message to one recipient; SES's message id when it accepts it.
    pub(super) async fn deliver(
        &self,
        to: &EmailAddress,
        message: &[u8],
    ) -> Result<Option<String>, Failure> {
        let mut request = serde_json::json!({
            "Content": {"Raw": {"Data": base64::engine::general_purpose::STANDARD.encode(message)}},
            "Destination": {"ToAddresses": [to.as_str()]},
        });
        if let Some(from) = header_from(message) {
            request["FromEmailAddress"] = from.into();
        }
        if let Some(set) = &self.url.configuration_set {
            request["ConfigurationSetName"] = set.clone().into();
        }
        let body = serde_json::to_vec(&request).expect("JSON of strings");
        let answer = self.call("POST", SEND_PATH, body).await?;
        if (200..300).contains(&answer.status) {
            let id = serde_json::from_str::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v.get("MessageId")?.as_str().map(str::to_string));
            return Ok(id);
        }
        Err(classify(
            answer.status,
            &answer.kind,
            &answer.body,
            to.as_str(),
        ))
    }

    /// Whether `from` may be sent from (`GetEmailIdentity`, `GET /v2/email/identities/ID`): its
    /// domain, else the address itself, is an identity verified for sending in this region
    /// (`VerifiedForSendingStatus`, or `VerificationStatus` `SUCCESS`); 404 is no such identity.
    pub(super) async fn identity(&self, from: &str) -> Result<String, Failure> {
        let domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or(from);
        let mut said = Vec::new();
        for identity in [domain, from] {
            let path = format!("{IDENTITY_PATH}{}", path_segment(identity));
            let answer = self.call("GET", &path, Vec::new()).await?;
            match answer.status {
                200..=299 => {
                    let v: serde_json::Value =
                        serde_json::from_str(&answer.body).unwrap_or_default();
                    // SES documents both; moto_server 5.2.5 sets only VerificationStatus.
                    let for_sending =
                        v.get("VerifiedForSendingStatus").and_then(|b| b.as_bool()) == Some(true);
                    let status = v
                        .get("VerificationStatus")
                        .and_then(|s| s.as_str())
                        .unwrap_or("");
                    if for_sending || status == "SUCCESS" {
                        return Ok(format!("identity {identity} is verified for sending"));
                    }
                    said.push(match status {
                        "" => format!("{identity} is not verified yet"),
                        s => format!("{identity} is not verified yet ({s})"),
                    });
                }
                404 => said.push(format!("{identity} is not an identity here")),
                s => {
                    return Err(match classify(s, &answer.kind, &answer.body, "") {
                        f @ Failure::Fatal(_) => f,
                        other => {
                            Failure::Transient(format!("reading identity {identity}: {other}"))
                        }
                    });
                }
            }
        }
        Err(Failure::Fatal(format!(
            "SES will refuse the sender {from}: {}; verify the domain {domain} (or the address) \
             in SES for region {} and publish its DKIM records",
            said.join(", "),
            self.url.region
        )))
    }

    /// Reads the account (`GetAccount`): whether the credentials are accepted and sending is
    /// enabled. An endpoint that does not offer `GetAccount` (an emulator) is taken at its word.
    pub(super) async fn account(&self) -> Result<String, Failure> {
        let answer = self.call("GET", ACCOUNT_PATH, Vec::new()).await?;
        if (200..300).contains(&answer.status) {
            let v: serde_json::Value = serde_json::from_str(&answer.body).unwrap_or_default();
            if v.get("SendingEnabled").and_then(|b| b.as_bool()) == Some(false) {
                return Err(Failure::Fatal(
                    "sending is paused for this SES account (SendingEnabled is false): \
                     see the SES console's account dashboard"
                        .into(),
                ));
            }
            let mut what = vec!["credentials accepted".to_string()];
            match v.get("ProductionAccessEnabled").and_then(|b| b.as_bool()) {
                Some(false) => {
                    what.push("in the sandbox (only verified recipients receive mail)".to_string())
                }
                Some(true) => what.push("production access".to_string()),
                None => {}
            }
            if let Some(q) = v.get("SendQuota") {
                let n = |k: &str| q.get(k).and_then(|x| x.as_f64()).unwrap_or(0.0);
                what.push(format!(
                    "{} of {} sent in 24 h, up to {}/s",
                    n("SentLast24Hours"),
                    n("Max24HourSend"),
                    n("MaxSendRate")
                ));
            }
            return Ok(what.join(", "));
        }
        match classify(answer.status, &answer.kind, &answer.body, "") {
            f @ Failure::Fatal(_) if answer.status != 404 => Err(f),
            f @ Failure::Transient(_) if answer.status >= 500 || answer.status == 429 => Err(f),
            // 404 and the like: the endpoint has no GetAccount (moto_server has none).
            _ => Ok(format!(
                "reachable; the account could not be read ({} {}), so the credentials are checked at the first message",
                answer.status, answer.kind
            )),
        }
    }
}

/// `s` as one path segment: unreserved characters and `@` as they are, the rest percent-encoded.
fn path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An answer's status, error type and message (or body, on success). The type comes from the
/// `x-amzn-ErrorType` header or the JSON body's `__type`/`code`, without its namespace or URL.
fn answer(status: u16, kind_header: Option<&str>, bytes: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(bytes);
    if (200..300).contains(&status) {
        return Answer {
            status,
            kind: String::new(),
            body: text.into_owned(),
        };
    }
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| json.get(*n).and_then(|v| v.as_str()))
            .map(str::to_string)
    };
    let kind = kind_header
        .map(str::to_string)
        .or_else(|| field(&["__type", "code", "Code"]))
        .unwrap_or_default();
    let kind = kind.split(':').next().unwrap_or("");
    let kind = kind.rsplit('#').next().unwrap_or("").trim().to_string();
    // Not JSON (a proxy's or an emulator's page): its first words.
    let message = field(&["message", "Message"]).unwrap_or_else(|| http::first_words(&text));
    Answer {
        status,
        kind,
        body: message,
    }
}

/// Sorts an SES error answer into what the engine does next. `to` is the recipient (empty when
/// the request was not about one).
fn classify(status: u16, kind: &str, message: &str, to: &str) -> Failure {
    let said = if kind.is_empty() {
        format!("{status}: {message}")
    } else {
        format!("{status} {kind}: {message}")
    };
    let lower = message.to_ascii_lowercase();
    let names_recipient = !to.is_empty() && lower.contains(&to.to_ascii_lowercase());
    const CREDENTIALS: &[&str] = &[
        "AccessDenied",
        "AccessDeniedException",
        "SignatureDoesNotMatch",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
    ];
    const ACCOUNT: &[&str] = &[
        "AccountSuspendedException",
        "SendingPausedException",
        "MailFromDomainNotVerifiedException",
        "ConfigurationSetDoesNotExistException",
        "ConfigurationSetDoesNotExist",
    ];
    if status == 429
        || matches!(
            kind,
            "TooManyRequestsException" | "Throttling" | "ThrottlingException"
        )
        || lower.contains("maximum sending rate exceeded")
    {
        return Failure::Transient(format!("SES is throttling us ({said})"));
    }
    if status == 401 || status == 403 || CREDENTIALS.contains(&kind) {
        return Failure::Fatal(format!(
            "SES refused our credentials ({said}); check {ACCESS_KEY_ENV}, {SECRET_KEY_ENV} \
             (and {SESSION_TOKEN_ENV}) and the region, and that the key may call ses:SendEmail"
        ));
    }
    if ACCOUNT.contains(&kind) {
        return Failure::Fatal(format!(
            "SES will not send for this account ({said}); see the SES console"
        ));
    }
    if kind == "LimitExceededException" || lower.contains("daily message quota exceeded") {
        return Failure::Fatal(format!(
            "SES's sending quota for the day is used up ({said}); run the same command again \
             when it resets"
        ));
    }
    if kind == "MessageRejected" {
        if lower.contains("not verified") || lower.contains("did not have authority") {
            return Failure::Fatal(format!(
                "SES refused the sender ({said}); verify the From address or its domain in SES \
                 for this region (in the sandbox, every recipient must be verified too)"
            ));
        }
        if lower.contains("suppression list") || lower.contains("suppressed") || names_recipient {
            return Failure::Recipient {
                status: "5.1.1".into(),
                message: format!("SES refused the recipient ({said})"),
            };
        }
        // About this message (its size, its content): the next ones are built the same way.
        return Failure::Fatal(format!("SES rejected the message ({said})"));
    }
    if matches!(
        kind,
        "NotFoundException" | "BadRequestException" | "InvalidParameterValue"
    ) {
        if names_recipient {
            return Failure::Recipient {
                status: "5.1.3".into(),
                message: format!("SES refused the recipient ({said})"),
            };
        }
        return Failure::Fatal(format!("SES refused the request ({said})"));
    }
    Failure::Transient(format!("SES answered {said}"))
}

/// The address of the message's `From:` header (the last `<...>` of its unfolded value, or the
/// bare value), which SES checks against its verified identities.
fn header_from(message: &[u8]) -> Option<String> {
    let end = memchr::memmem::find(message, b"\r\n\r\n").unwrap_or(message.len());
    let head = std::str::from_utf8(&message[..end]).ok()?;
    let mut value: Option<String> = None;
    for line in head.split("\r\n") {
        match &mut value {
            Some(v) if line.starts_with([' ', '\t']) => v.push_str(line),
            Some(_) => break,
            None => {
                if line.len() > 5 && line[..5].eq_ignore_ascii_case("from:") {
                    value = Some(line[5..].to_string());
                }
            }
        }
    }
    address_of(&value?)
}

/// The address in a mailbox (`Name <address>`: the last `<...>`; or the bare address).
pub(super) fn address_of(value: &str) -> Option<String> {
    let address = match (value.rfind('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.trim(),
    };
    let address = address.trim();
    (!address.is_empty() && address.contains('@')).then(|| address.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn url(s: &str) -> SesUrl {
        match super::super::url::parse(s) {
            Ok(super::super::url::Target::Ses(u)) => u,
            Ok(_) => panic!("{s}: not SES"),
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn missing_credentials_name_the_variables() {
        let e = Ses::new(url("ses://us-east-1"), 4, &env(&[]))
            .err()
            .expect("refused")
            .to_string();
        assert!(
            e.contains("AWS_ACCESS_KEY_ID") && e.contains("AWS_SECRET_ACCESS_KEY"),
            "{e}"
        );
        let e = Ses::new(
            url("ses://us-east-1"),
            4,
            &env(&[
                ("AWS_ACCESS_KEY_ID", "AKID"),
                ("AWS_SECRET_ACCESS_KEY", " "),
            ]),
        )
        .err()
        .expect("an empty secret is none")
        .to_string();
        assert!(e.contains("AWS_SECRET_ACCESS_KEY"), "{e}");
        let ok = Ses::new(
            url("ses://eu-west-1?endpoint=http://127.0.0.1:5005&configuration_set=weekly"),
            4,
            &env(&[
                ("AWS_ACCESS_KEY_ID", "AKID"),
                ("AWS_SECRET_ACCESS_KEY", "the-secret"),
            ]),
        )
        .unwrap();
        assert_eq!(ok.label, "ses://eu-west-1 via http://127.0.0.1:5005");
        assert_eq!(ok.client.host_header, "127.0.0.1:5005");
        assert!(!ok.client.is_tls());
        assert_eq!(ok.url.configuration_set.as_deref(), Some("weekly"));
    }

    #[test]
    fn urls_are_checked() {
        let u = url("ses://us-east-1");
        assert_eq!(
            (u.endpoint.https, u.endpoint.host.as_str(), u.endpoint.port),
            (true, "email.us-east-1.amazonaws.com", 443)
        );
        let u = url("ses://us-east-1?endpoint=https://ses.internal.example:8443/&timeout=5");
        assert_eq!(
            (
                u.endpoint.https,
                u.endpoint.host.as_str(),
                u.endpoint.port,
                u.timeout.as_secs()
            ),
            (true, "ses.internal.example", 8443, 5)
        );
        for (bad, want) in [
            ("ses://", "not an AWS region"),
            ("ses://US_EAST", "not an AWS region"),
            (
                "ses://us-east-1?endpoint=http://ses.example.org",
                "in clear",
            ),
            (
                "ses://us-east-1?endpoint=ftp://x",
                "must start with https://",
            ),
            (
                "ses://us-east-1?endpoint=https://x/path",
                "scheme, host and port",
            ),
            ("ses://us-east-1?colour=red", "unknown parameter `colour`"),
            (
                "ses://us-east-1?configuration_set=",
                "configuration_set is empty",
            ),
            ("ses://us-east-1, smtp://relay", "alone"),
        ] {
            let e = match super::super::url::parse(bad) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("{bad}: accepted"),
            };
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    fn is_throttling(f: &Failure) -> bool {
        matches!(f, Failure::Transient(m) if crate::send::shaping::is_throttling(m))
    }

    #[test]
    fn answers_are_sorted_as_the_engine_needs() {
        let to = "reader@example.org";
        // Throttling, as SES v2 says it and as v1's message says it.
        for (status, kind, message) in [
            (429, "TooManyRequestsException", "Too many requests"),
            (400, "Throttling", "Maximum sending rate exceeded."),
            (400, "", "Maximum sending rate exceeded."),
            (429, "", ""),
        ] {
            let f = classify(status, kind, message, to);
            assert!(is_throttling(&f), "{status} {kind}: {f:?}");
        }
        // Credentials, identity, account: the campaign stops.
        for (status, kind, message) in [
            (
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match",
            ),
            (
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            ),
            (
                403,
                "AccessDeniedException",
                "not authorized to perform ses:SendEmail",
            ),
            (
                400,
                "MessageRejected",
                "Email address is not verified. The following identities failed the check in region US-EAST-1: news@newsletter.test",
            ),
            (
                400,
                "MessageRejected",
                "Did not have authority to send from email news@other.test",
            ),
            (
                400,
                "AccountSuspendedException",
                "Your account is suspended",
            ),
            (
                400,
                "SendingPausedException",
                "Sending is paused for this account",
            ),
            (
                400,
                "LimitExceededException",
                "Daily message quota exceeded.",
            ),
            (
                404,
                "NotFoundException",
                "Configuration set weekly does not exist.",
            ),
        ] {
            let f = classify(status, kind, message, to);
            assert!(matches!(f, Failure::Fatal(_)), "{status} {kind}: {f:?}");
            assert!(!is_throttling(&f));
        }
        // The recipient's own.
        for (status, kind, message) in [
            (
                400,
                "MessageRejected",
                "Address is on the account-level suppression list",
            ),
            (
                400,
                "BadRequestException",
                "Illegal address: reader@example.org",
            ),
            (
                404,
                "NotFoundException",
                "reader@example.org is not a contact of the list",
            ),
        ] {
            let f = classify(status, kind, message, to);
            assert!(
                matches!(f, Failure::Recipient { .. }),
                "{status} {kind}: {f:?}"
            );
        }
        // Worth retrying, and not throttling.
        for (status, kind, message) in [
            (500, "InternalFailure", "An internal error occurred"),
            (503, "ServiceUnavailable", "Service is unavailable"),
            (502, "", "<html>Bad gateway</html>"),
        ] {
            let f = classify(status, kind, message, to);
            assert!(
                matches!(f, Failure::Transient(_)) && !is_throttling(&f),
                "{status} {kind}: {f:?}"
            );
        }
    }

    #[test]
    fn error_types_are_read_from_the_header_or_the_body() {
        let a = answer(
            400,
            Some("MessageRejected:http://internal.amazon.com/coral/com.amazonaws.sesv2/"),
            br#"{"message":"Email address is not verified."}"#,
        );
        assert_eq!(
            (a.kind.as_str(), a.body.as_str()),
            ("MessageRejected", "Email address is not verified.")
        );
        let a = answer(
            400,
            None,
            br#"{"__type":"com.amazonaws.sesv2#TooManyRequestsException","Message":"slow"}"#,
        );
        assert_eq!(
            (a.kind.as_str(), a.body.as_str()),
            ("TooManyRequestsException", "slow")
        );
        let a = answer(502, None, b"<html>\n<body>Bad   gateway</body></html>");
        assert_eq!(
            (a.kind.as_str(), a.body.as_str()),
            ("", "<html> <body>Bad gateway</body></html>")
        );
    }

    #[test]
    fn the_from_address_is_read_from_the_header() {
        assert_eq!(
            header_from(b"Subject: x\r\nFrom: \"This Week\" <news@newsletter.test>\r\nTo: a@b\r\n\r\nFrom: body@x.test"),
            Some("news@newsletter.test".into())
        );
        assert_eq!(
            header_from(b"from: =?utf-8?q?Caf=C3=A9?=\r\n <cafe@newsletter.test>\r\n\r\n"),
            Some("cafe@newsletter.test".into())
        );
        assert_eq!(
            header_from(b"From: news@newsletter.test\r\n\r\n"),
            Some("news@newsletter.test".into())
        );
        assert_eq!(header_from(b"Subject: none\r\n\r\nFrom: x@y.test"), None);
    }
}
