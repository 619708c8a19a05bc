//! Transport URLs: `file:DIR`, one or more `smtp://` / `smtps://` relays with their parameters,
//! `ses://REGION` (Amazon SES's API), `postmark://` and `mailgun://DOMAIN`. Parsing only: what the
//! URL asks for, checked, before anything connects.

use std::path::PathBuf;
use std::time::Duration;

use super::http::Endpoint;
use super::{PASSWORD_ENV, TransportError};
use crate::config::redact_url;

/// How a relay connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TlsMode {
    None,
    StartTls,
    Implicit,
}

/// What a transport URL list names.
pub(super) enum Target {
    /// `file:DIR`.
    File(PathBuf),
    /// One or more relays, in the order given.
    Relays(Vec<RelayUrl>),
    /// `ses://REGION[?endpoint=URL&configuration_set=NAME&timeout=SECS]`.
    Ses(SesUrl),
    /// `postmark://[?endpoint=URL&stream=NAME&timeout=SECS]`.
    Postmark(PostmarkUrl),
    /// `mailgun://DOMAIN[?region=eu&endpoint=URL&timeout=SECS]`.
    Mailgun(MailgunUrl),
}

/// Where SES's API is, parsed from `ses://REGION?...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SesUrl {
    pub region: String,
    pub endpoint: Endpoint,
    pub configuration_set: Option<String>,
    pub timeout: Duration,
}

/// Postmark's API and message stream, parsed from `postmark://?...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PostmarkUrl {
    pub endpoint: Endpoint,
    /// The message stream (`broadcast` unless given).
    pub stream: String,
    pub timeout: Duration,
}

/// Mailgun's API and the sending domain, parsed from `mailgun://DOMAIN?...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MailgunUrl {
    pub domain: String,
    pub endpoint: Endpoint,
    pub timeout: Duration,
}

/// One relay URL, parsed.
#[derive(Debug)]
pub(super) struct RelayUrl {
    /// The URL without its credentials, for error messages.
    pub redacted: String,
    pub weight: u32,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub helo: Option<String>,
    pub user: Option<String>,
    pub timeout: Duration,
}

/// Parses one transport URL, or several separated by commas or spaces.
pub(super) fn parse(urls: &str) -> Result<Target, TransportError> {
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
        return Ok(Target::File(PathBuf::from(dir)));
    }
    if let [one] = list.as_slice()
        && one.starts_with("ses:")
    {
        return ses_url(one).map(Target::Ses);
    }
    if let [one] = list.as_slice()
        && one.starts_with("postmark:")
    {
        return postmark_url(one).map(Target::Postmark);
    }
    if let [one] = list.as_slice()
        && one.starts_with("mailgun:")
    {
        return mailgun_url(one).map(Target::Mailgun);
    }
    if list.is_empty() {
        return Err(TransportError::Unsupported(urls.to_string()));
    }
    for (scheme, name) in [
        ("ses:", "SES"),
        ("postmark:", "Postmark"),
        ("mailgun:", "Mailgun"),
    ] {
        if let Some(api) = list.iter().find(|u| u.starts_with(scheme)) {
            return Err(TransportError::Invalid {
                url: redact_url(api),
                message: format!("{name} cannot be listed with other transports: give it alone"),
            });
        }
    }
    list.iter()
        .map(|u| relay_url(u))
        .collect::<Result<Vec<_>, _>>()
        .map(Target::Relays)
}

/// The error for a malformed transport `url`, with any password in it hidden.
fn invalid_in(url: &str) -> impl Fn(String) -> TransportError + '_ {
    move |message| TransportError::Invalid {
        url: redact_url(url),
        message,
    }
}

/// A URL's query as `key=value` pairs (a pair without `=` has an empty value; empty pairs skipped).
fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// A `timeout=` value: whole seconds.
fn seconds(v: &str) -> Result<u64, String> {
    v.parse()
        .map_err(|_| format!("timeout `{v}` is not a number of seconds"))
}

fn relay_url(url: &str) -> Result<RelayUrl, TransportError> {
    let invalid = invalid_in(url);
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
    for (k, v) in query_pairs(query) {
        match k {
            "tls" => tls_mode = v,
            "helo" => helo = Some(v.to_string()),
            "timeout" => timeout = seconds(v).map_err(&invalid)?,
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
    Ok(RelayUrl {
        redacted: redact_url(url),
        weight,
        host: host.to_string(),
        port,
        tls,
        helo,
        user: user.map(str::to_string),
        timeout: Duration::from_secs(timeout),
    })
}

/// `ses://REGION[?endpoint=URL&configuration_set=NAME&timeout=SECS]`.
fn ses_url(url: &str) -> Result<SesUrl, TransportError> {
    let invalid = invalid_in(url);
    let rest = url
        .strip_prefix("ses://")
        .ok_or_else(|| invalid("write it ses://REGION, e.g. ses://us-east-1".into()))?;
    let (region, query) = rest.split_once('?').unwrap_or((rest, ""));
    let region = region.trim_end_matches('/');
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(invalid(format!(
            "`{region}` is not an AWS region: write ses://REGION, e.g. ses://us-east-1"
        )));
    }
    let mut endpoint = None;
    let mut configuration_set = None;
    let mut timeout = 30u64;
    for (k, v) in query_pairs(query) {
        match k {
            "endpoint" => endpoint = Some(v),
            "configuration_set" if !v.is_empty() => configuration_set = Some(v.to_string()),
            "configuration_set" => return Err(invalid("configuration_set is empty".into())),
            "timeout" => timeout = seconds(v).map_err(&invalid)?,
            other => {
                return Err(invalid(format!(
                    "unknown parameter `{other}` (known: endpoint, configuration_set, timeout)"
                )));
            }
        }
    }
    let endpoint = match endpoint {
        None => Endpoint {
            https: true,
            host: format!("email.{region}.amazonaws.com"),
            port: 443,
        },
        Some(e) => endpoint_url(e, &invalid)?,
    };
    Ok(SesUrl {
        region: region.to_string(),
        endpoint,
        configuration_set,
        timeout: Duration::from_secs(timeout.max(1)),
    })
}

/// An `endpoint=` value: `https://host[:port]`, or `http://` to this machine only (an emulator).
fn endpoint_url(
    e: &str,
    invalid: &impl Fn(String) -> TransportError,
) -> Result<Endpoint, TransportError> {
    let (https, rest) = if let Some(r) = e.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = e.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(invalid(format!(
            "endpoint `{e}` must start with https:// (or http:// on this machine)"
        )));
    };
    let hostport = rest.trim_end_matches('/');
    if hostport.contains(['/', '@', '?']) {
        return Err(invalid(format!(
            "endpoint `{e}`: give a scheme, host and port only"
        )));
    }
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h.trim_matches(['[', ']']),
            p.parse::<u16>()
                .map_err(|_| invalid(format!("endpoint port `{p}` is not a number")))?,
        ),
        _ => (hostport, if https { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err(invalid(format!("endpoint `{e}` has no host")));
    }
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !https && !loopback {
        return Err(invalid(format!(
            "endpoint `{e}`: credentials and mail would cross the network in clear; \
             plain http:// is only for an endpoint on this machine (127.0.0.1)"
        )));
    }
    Ok(Endpoint {
        https,
        host: host.to_string(),
        port,
    })
}

/// `postmark://[?endpoint=URL&stream=NAME&timeout=SECS]` (also `postmark:` alone).
fn postmark_url(url: &str) -> Result<PostmarkUrl, TransportError> {
    let invalid = invalid_in(url);
    let rest = url.strip_prefix("postmark:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !authority.trim_end_matches('/').is_empty() {
        return Err(invalid(
            "write it postmark:// (the server token goes in NEWSLETTER_POSTMARK_TOKEN, \
             other settings after ?: endpoint, stream, timeout)"
                .into(),
        ));
    }
    let mut endpoint = None;
    let mut stream = "broadcast".to_string();
    let mut timeout = 30u64;
    for (k, v) in query_pairs(query) {
        match k {
            "endpoint" => endpoint = Some(endpoint_url(v, &invalid)?),
            "stream" if !v.is_empty() => stream = v.to_string(),
            "stream" => return Err(invalid("stream is empty".into())),
            "timeout" => timeout = seconds(v).map_err(&invalid)?,
            other => {
                return Err(invalid(format!(
                    "unknown parameter `{other}` (known: endpoint, stream, timeout)"
                )));
            }
        }
    }
    Ok(PostmarkUrl {
        endpoint: endpoint.unwrap_or_else(|| Endpoint {
            https: true,
            host: "api.postmarkapp.com".into(),
            port: 443,
        }),
        stream,
        timeout: Duration::from_secs(timeout.max(1)),
    })
}

/// `mailgun://DOMAIN[?region=eu&endpoint=URL&timeout=SECS]`.
fn mailgun_url(url: &str) -> Result<MailgunUrl, TransportError> {
    let invalid = invalid_in(url);
    let rest = url.strip_prefix("mailgun://").ok_or_else(|| {
        invalid("write it mailgun://DOMAIN, e.g. mailgun://mg.example.org".into())
    })?;
    let (domain, query) = rest.split_once('?').unwrap_or((rest, ""));
    let domain = domain.trim_end_matches('/');
    if domain.is_empty()
        || !domain.contains('.')
        || !domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(invalid(format!(
            "`{domain}` is not a domain: write mailgun://DOMAIN with the sending domain as \
             Mailgun lists it, e.g. mailgun://mg.example.org"
        )));
    }
    let mut endpoint = None;
    let mut eu = false;
    let mut timeout = 30u64;
    for (k, v) in query_pairs(query) {
        match k {
            "endpoint" => endpoint = Some(endpoint_url(v, &invalid)?),
            "region" => {
                eu = match v {
                    "eu" => true,
                    "us" => false,
                    other => {
                        return Err(invalid(format!(
                            "region=`{other}`: use eu (api.eu.mailgun.net) or us (api.mailgun.net)"
                        )));
                    }
                }
            }
            "timeout" => timeout = seconds(v).map_err(&invalid)?,
            other => {
                return Err(invalid(format!(
                    "unknown parameter `{other}` (known: region, endpoint, timeout)"
                )));
            }
        }
    }
    Ok(MailgunUrl {
        domain: domain.to_ascii_lowercase(),
        endpoint: endpoint.unwrap_or_else(|| Endpoint {
            https: true,
            host: if eu {
                "api.eu.mailgun.net"
            } else {
                "api.mailgun.net"
            }
            .into(),
            port: 443,
        }),
        timeout: Duration::from_secs(timeout.max(1)),
    })
}
