//! AWS Signature Version 4 for the SES transport's requests, written from AWS's documented
//! algorithm: a canonical request, a string to sign over its SHA-256, and a signing key derived
//! from the secret by HMAC-SHA256 over the date, region, service and `aws4_request`.
//!
//! Why our own ~100 lines instead of `aws-sigv4` with `reqwest`, or the AWS SDK: the SDK and
//! reqwest bring a second HTTP stack, aws-lc (a C and assembly build) and hundreds of crates, which
//! would add minutes to a clean build on two cores and megabytes to the binary, for one signed POST.
//! The crates this needs (`ring` for HMAC, `sha2`, `hyper` for HTTP/1.1) are already in the tree.
//! The test below checks it against the example values AWS publishes.
//!
//! Only what the SES API needs is here: header signing (no presigned URLs), a path and query the
//! caller gives already in canonical form, and no chunked payload signing.

use ring::hmac;
use sha2::{Digest, Sha256};

use crate::domain::hex;

/// The credentials a request is signed with. `Debug` shows the access key id only.
#[derive(Clone)]
pub(super) struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// A temporary credential's session token (`AWS_SESSION_TOKEN`).
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, secret hidden)", self.access_key_id)
    }
}

/// One request as it will be sent, to sign.
pub(super) struct Request<'a> {
    pub method: &'a str,
    /// The path, already URI-encoded (`/v2/email/outbound-emails`).
    pub path: &'a str,
    /// The query string in canonical form (names sorted, values encoded), or empty.
    pub query: &'a str,
    /// Headers that are sent and signed besides `host`, `x-amz-date` and the session token, with
    /// lower-case names (`content-type`).
    pub headers: &'a [(&'a str, &'a str)],
    /// The `Host` header's value (with `:port` when it is not the scheme's default).
    pub host: &'a str,
    pub body: &'a [u8],
}

/// The headers to add to `req`: `x-amz-date`, `x-amz-security-token` when there is a session
/// token, and `authorization`. `amz_date` is the request's time as `YYYYMMDDTHHMMSSZ` (UTC).
pub(super) fn sign(
    creds: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
    req: &Request<'_>,
) -> Vec<(&'static str, String)> {
    let date = &amz_date[..8.min(amz_date.len())];
    let mut signed: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), normalise(v)))
        .collect();
    signed.push(("host".into(), req.host.to_string()));
    signed.push(("x-amz-date".into(), amz_date.to_string()));
    if let Some(token) = &creds.session_token {
        signed.push(("x-amz-security-token".into(), token.clone()));
    }
    signed.sort();
    let names: Vec<&str> = signed.iter().map(|(k, _)| k.as_str()).collect();
    let signed_headers = names.join(";");
    let canonical_headers: String = signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        req.method,
        req.path,
        req.query,
        hex(&Sha256::digest(req.body))
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let key = signing_key(&creds.secret_access_key, date, region, service);
    let signature = hex(hmac::sign(&key, string_to_sign.as_bytes()).as_ref());
    let mut out = vec![("x-amz-date", amz_date.to_string())];
    if let Some(token) = &creds.session_token {
        out.push(("x-amz-security-token", token.clone()));
    }
    out.push((
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            creds.access_key_id
        ),
    ));
    out
}

/// The derived key: HMAC chained over date, region, service and `aws4_request`.
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Key {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [date, region, service, "aws4_request"] {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), part.as_bytes());
        key = tag.as_ref().to_vec();
    }
    hmac::Key::new(hmac::HMAC_SHA256, &key)
}

/// A header value as it is signed: trimmed, inner runs of spaces made one.
fn normalise(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The current time as SigV4 writes it.
pub(super) fn amz_date_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example ("Create a signed AWS API request", the IAM `ListUsers` GET with
    /// the documentation's example key): the signing key and the signature it gives.
    #[test]
    fn signs_the_documented_example() {
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let key = signing_key(&creds.secret_access_key, "20150830", "us-east-1", "iam");
        // The derived key is not readable from ring's Key: check it through a known HMAC.
        let mut raw = format!("AWS4{}", creds.secret_access_key).into_bytes();
        for part in ["20150830", "us-east-1", "iam", "aws4_request"] {
            raw = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &raw), part.as_bytes())
                .as_ref()
                .to_vec();
        }
        assert_eq!(
            hex(&raw),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        assert_eq!(
            hmac::sign(&key, b"x").as_ref(),
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &raw), b"x").as_ref()
        );
        let headers = sign(
            &creds,
            "us-east-1",
            "iam",
            "20150830T123600Z",
            &Request {
                method: "GET",
                path: "/",
                query: "Action=ListUsers&Version=2010-05-08",
                headers: &[(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                )],
                host: "iam.amazonaws.com",
                body: b"",
            },
        );
        assert_eq!(headers[0], ("x-amz-date", "20150830T123600Z".to_string()));
        assert_eq!(
            headers[1].1,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    /// A SES v2 POST with a session token, as botocore 1.43 (the AWS SDK for Python) signs it for
    /// the same credentials, time and body: the value was computed with its `SigV4Auth`.
    #[test]
    fn signs_a_post_with_a_session_token_as_botocore_does() {
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: Some("session-token-example".into()),
        };
        let body = br#"{"Content":{"Raw":{"Data":"U3ViamVjdDogaGkNCg0KaGkNCg=="}},"Destination":{"ToAddresses":["reader@example.org"]}}"#;
        let headers = sign(
            &creds,
            "us-east-1",
            "ses",
            "20261207T050000Z",
            &Request {
                method: "POST",
                path: "/v2/email/outbound-emails",
                query: "",
                headers: &[("content-type", "application/json")],
                host: "127.0.0.1:5005",
                body,
            },
        );
        let names: Vec<&str> = headers.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            ["x-amz-date", "x-amz-security-token", "authorization"]
        );
        assert_eq!(
            headers[2].1,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/us-east-1/ses/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, \
             Signature=247a028cd99b4dc061a3282ae01e0560b65e23686e6cd2f01ddd6b8b3c596026"
        );
        let shown = format!("{creds:?}");
        assert!(!shown.contains("EXAMPLEKEY"), "{shown}");
    }
}
