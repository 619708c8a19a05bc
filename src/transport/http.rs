//! The HTTP client the API transports share (SES, Postmark, Mailgun): HTTP/1.1 over keep-alive
//! connections kept in a small pool (one request on each at a time), HTTPS with rustls and the
//! platform's roots, plain HTTP only to an explicit endpoint on this machine (an emulator: the URL
//! parsers refuse anything else), and a timeout on connecting, on TLS and on each answer.
//!
//! Errors are [`Failure`]s already: what cannot be reached or does not answer is transient, a
//! certificate that does not verify is fatal.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

use super::{Failure, TransportError};

type Conn = SendRequest<Full<Bytes>>;

/// Where an API is: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Endpoint {
    /// `https` for every endpoint but an explicit `http://` one on this machine.
    pub https: bool,
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// `https://host[:port]` (the port only when it is not the scheme's default).
    pub fn origin(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            host_port(self)
        )
    }
}

/// The host (bracketed when it is an IPv6 address), and the port when it is not the scheme's.
fn host_port(e: &Endpoint) -> String {
    let host = if e.host.contains(':') {
        format!("[{}]", e.host)
    } else {
        e.host.clone()
    };
    if e.port == if e.https { 443 } else { 80 } {
        host
    } else {
        format!("{host}:{}", e.port)
    }
}

/// A pooled client for one endpoint.
pub(super) struct Client {
    /// Who is called, for messages ("SES", "Postmark").
    service: &'static str,
    endpoint: Endpoint,
    /// The `Host` header: the host, and the port when it is not the scheme's default.
    pub host_header: String,
    pub timeout: Duration,
    tls: Option<tokio_rustls::TlsConnector>,
    idle: Mutex<Vec<Conn>>,
    keep: usize,
}

/// An answer: status, headers and the whole body.
pub(super) struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// A header's value, when it is there and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Client {
    /// A client for `endpoint`; `label` names the transport in a set-up error; `pool` is the most
    /// idle connections kept.
    pub fn new(
        service: &'static str,
        label: &str,
        endpoint: Endpoint,
        timeout: Duration,
        pool: u32,
    ) -> Result<Client, TransportError> {
        let tls = if endpoint.https {
            let config = crate::fetch::tls_config().map_err(|e| TransportError::Invalid {
                url: label.to_string(),
                message: format!("TLS set-up: {e}"),
            })?;
            Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
        } else {
            None
        };
        Ok(Client {
            service,
            host_header: host_port(&endpoint),
            endpoint,
            timeout,
            tls,
            idle: Mutex::new(Vec::new()),
            keep: pool.max(1) as usize,
        })
    }

    /// Whether requests go over TLS.
    #[cfg(test)]
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// A request builder for `method` `path` with the `Host` header set.
    pub fn request(&self, method: &str, path: &str) -> hyper::http::request::Builder {
        hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host_header)
    }

    /// Opens a connection: TCP, TLS when the endpoint is HTTPS, and HTTP/1.1's handshake.
    async fn connect(&self) -> Result<Conn, Failure> {
        let service = self.service;
        let (host, port) = (self.endpoint.host.as_str(), self.endpoint.port);
        let at = format!("{host}:{port}");
        let tcp = tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect((host, port)))
            .await
            .map_err(|_| Failure::Transient(format!("{service} at {at}: connection timed out")))?
            .map_err(|e| Failure::Transient(format!("{service} at {at}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            Some(tls) => {
                let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| Failure::Fatal(format!("{service} host `{at}`: {e}")))?;
                let stream = tokio::time::timeout(self.timeout, tls.connect(name, tcp))
                    .await
                    .map_err(|_| Failure::Transient(format!("{service} at {at}: TLS timed out")))?
                    .map_err(|e| {
                        // A certificate that does not verify will not verify on the next try.
                        if e.get_ref()
                            .is_some_and(|inner| inner.to_string().contains("certificate"))
                        {
                            Failure::Fatal(format!("{service} at {at}: TLS failed: {e}"))
                        } else {
                            Failure::Transient(format!("{service} at {at}: TLS failed: {e}"))
                        }
                    })?;
                handshake(stream, service, &at).await
            }
            None => handshake(tcp, service, &at).await,
        }
    }

    /// One request, built by `build` (called again when the request must go on another
    /// connection, so a signature can be made afresh), on an idle connection or a new one. A
    /// connection found closed before the request was written is replaced; once written, a lost
    /// answer is a transient failure (the message may have gone: the one duplicate a crash or a
    /// network cut can make).
    pub async fn call(
        &self,
        build: &(dyn Fn() -> Result<hyper::Request<Full<Bytes>>, Failure> + Sync),
    ) -> Result<Reply, Failure> {
        let service = self.service;
        let mut fresh = false;
        loop {
            let popped = self.idle.lock().expect("http pool lock").pop();
            let mut conn = match popped {
                Some(c) if !c.is_closed() => c,
                Some(_) => continue,
                None => {
                    fresh = true;
                    self.connect().await?
                }
            };
            let request = build()?;
            let sent = tokio::time::timeout(self.timeout, async {
                if conn.ready().await.is_err() {
                    return Err(None);
                }
                let response = match conn.try_send_request(request).await {
                    Ok(r) => r,
                    Err(mut e) => {
                        let unsent = e.take_message().is_some();
                        let error = e.into_error();
                        return Err(if unsent && !fresh {
                            None
                        } else {
                            Some(error.to_string())
                        });
                    }
                };
                let status = response.status().as_u16();
                let (parts, body) = response.into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map_err(|e| Some(e.to_string()))?
                    .to_bytes();
                Ok(Reply {
                    status,
                    headers: parts.headers,
                    body: bytes,
                })
            })
            .await;
            match sent {
                Err(_) => {
                    return Err(Failure::Transient(format!(
                        "{service}: no answer within {} s",
                        self.timeout.as_secs()
                    )));
                }
                // Closed before anything was written: try another connection.
                Ok(Err(None)) if !fresh => continue,
                Ok(Err(None)) => {
                    return Err(Failure::Transient(format!(
                        "{service} closed the connection"
                    )));
                }
                Ok(Err(Some(e))) => return Err(Failure::Transient(format!("{service}: {e}"))),
                Ok(Ok(reply)) => {
                    if !conn.is_closed() {
                        let mut idle = self.idle.lock().expect("http pool lock");
                        if idle.len() < self.keep {
                            idle.push(conn);
                        }
                    }
                    return Ok(reply);
                }
            }
        }
    }
}

/// Takes the HTTP/1.1 handshake over `io` and drives the connection on its own task.
async fn handshake<T>(io: T, service: &str, at: &str) -> Result<Conn, Failure>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| Failure::Transient(format!("{service} at {at}: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// The first words of a body that is not what was expected (a proxy's page), for a message.
pub(super) fn first_words(text: &str) -> String {
    let words: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    words.chars().take(200).collect()
}
