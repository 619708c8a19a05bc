//! One-shot HTTP GETs `serve` and `doctor` make to the outside: an SNS signing certificate, an SNS
//! subscription link, a webhook's own public address. HTTPS with the platform's roots; plain HTTP
//! only where the caller allows it (a loopback emulator). The body is read up to a limit and the
//! whole exchange bounded in time.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

/// The TLS client settings of every HTTPS and IMAPS client here (these GETs, the API transports,
/// IMAP): the platform's roots, and ring's cryptography named rather than left to the process
/// default, which panics when a build links a second provider, as this one does.
pub fn tls_config() -> Result<tokio_rustls::rustls::ClientConfig, tokio_rustls::rustls::Error> {
    use rustls_platform_verifier::BuilderVerifierExt;
    use tokio_rustls::rustls;
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_platform_verifier()?
    .with_no_client_auth())
}

/// True for a plain `http://` URL whose host is this machine (`127.0.0.1`, `[::1]`,
/// `localhost`, with any port and path): the only place plain HTTP is ever fetched from.
pub fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    matches!(host, "127.0.0.1" | "[::1]" | "localhost")
}

/// What came back.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

/// Fetches `url` (`https://…`, or `http://…` when `allow_plain`), reading at most `limit` bytes of
/// body, all within `timeout`. The error says what failed, in words.
pub async fn get(
    url: &str,
    allow_plain: bool,
    limit: usize,
    timeout: Duration,
) -> Result<Fetched, String> {
    tokio::time::timeout(timeout, fetch(url, allow_plain, limit))
        .await
        .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?
}

async fn fetch(url: &str, allow_plain: bool, limit: usize) -> Result<Fetched, String> {
    let uri: hyper::Uri = url.parse().map_err(|_| "not a URL".to_string())?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") if allow_plain => false,
        _ => return Err("only https:// addresses are fetched".into()),
    };
    let host = uri.host().ok_or("a URL without a host")?.to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = uri
        .authority()
        .map(|a| a.as_str().rsplit('@').next().unwrap_or("").to_string())
        .unwrap_or_default();
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tcp = tokio::net::TcpStream::connect((bare.as_str(), port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let request = hyper::Request::get(path)
        .header("host", authority)
        .header(
            "user-agent",
            concat!("newsletter/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = if https {
        let config = tls_config().map_err(|e| format!("TLS set-up: {e}"))?;
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(bare)
            .map_err(|e| format!("host `{host}`: {e}"))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {host} failed: {e}"))?;
        send(tls, request).await?
    } else {
        send(tcp, request).await?
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = Limited::new(response.into_body(), limit)
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes()
        .to_vec();
    Ok(Fetched {
        status,
        headers,
        body,
    })
}

async fn send<T>(
    io: T,
    request: hyper::Request<Empty<Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_is_loopback() {
        for yes in [
            "http://127.0.0.1",
            "http://127.0.0.1:8080/news",
            "http://[::1]:80",
            "http://localhost/",
        ] {
            assert!(is_loopback_http(yes), "{yes}");
        }
        for no in [
            "https://127.0.0.1",
            "http://127.0.0.1.evil.example",
            "http://127.0.0.1:80@evil.example",
            "http://evil.example/127.0.0.1",
            "http://localhost:x",
            "http://[::1]:8080:1",
        ] {
            assert!(!is_loopback_http(no), "{no}");
        }
    }
}
