//! The listening loop: our own accept loop over hyper, so that every connection has limits that
//! `axum::serve` does not offer. At most `[web] max_connections` are open (the process raises its
//! file limit to fit); a client has `header_timeout_secs` to send a request's headers, and an idle
//! keep-alive connection is closed after the same time; a request has `request_timeout_secs` from
//! its headers to its answer, body upload included. Half-sent requests therefore cannot exhaust the
//! server's file descriptors.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// The limits of every connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub request_timeout: Duration,
}

impl Limits {
    /// From `[web]`.
    pub fn from_config(web: &crate::config::Web) -> Self {
        Self {
            max_connections: web.max_connections.max(1),
            header_timeout: Duration::from_secs(web.header_timeout_secs.max(1)),
            request_timeout: Duration::from_secs(web.request_timeout_secs.max(1)),
        }
    }
}

/// Raises the soft limit on open files towards the hard one, so that `wanted` connections fit.
/// Returns the file limit in force afterwards (`wanted` if it cannot be read).
pub fn raise_file_limit(wanted: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit read and write a plain struct we own.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return wanted;
        }
        if lim.rlim_cur < wanted {
            let raised = libc::rlimit {
                rlim_cur: wanted.min(lim.rlim_max),
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
        lim.rlim_cur
    }
}

/// File descriptors kept free of connections: the database pool, the log, Maildir and outbox files.
pub const RESERVED_FILES: u64 = 64;

impl Limits {
    /// Lowers the connection cap to what the process's file limit allows, so that connections wait
    /// in the listen backlog instead of failing `accept` (and starving the database of files).
    pub fn fit_file_limit(mut self, file_limit: u64) -> Limits {
        let room = file_limit.saturating_sub(RESERVED_FILES).max(8) as usize;
        if room < self.max_connections {
            tracing::warn!(
                max_connections = self.max_connections,
                file_limit,
                "the file limit allows only {room} connections; raise it (ulimit -n) to serve more"
            );
            self.max_connections = room;
        }
        self
    }
}

/// Serves `app` on `listener` until `shutdown` turns true, then lets open requests finish (up to
/// the request timeout).
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors or a transient error: wait a moment, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(
                move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    answer_in_time(app.clone(), req, limits.request_timeout)
                },
            );
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(limits.request_timeout, conn).await;
                }
            }
        });
    }
    // Wait for the connections still answering (each returns its permit when done).
    let _ = tokio::time::timeout(
        limits.request_timeout,
        permits.acquire_many(limits.max_connections as u32),
    )
    .await;
}

/// Extra time past the request time limit before the listening loop answers for a handler: the
/// router's own guard answers first at the limit; this one catches whatever the guard does not cover.
const GRACE: Duration = Duration::from_secs(1);

/// Answers `req` with `app`, or with 503 when the answer is not ready within the request time limit
/// (and a grace second); the connection and the server carry on.
async fn answer_in_time(
    app: Router,
    req: axum::http::Request<hyper::body::Incoming>,
    limit: Duration,
) -> Result<axum::response::Response, std::convert::Infallible> {
    use axum::response::IntoResponse;
    match tokio::time::timeout(limit + GRACE, app.oneshot(req)).await {
        Ok(answer) => answer,
        Err(_) => {
            tracing::warn!(
                limit_secs = limit.as_secs(),
                "a request took longer than the request time limit; answered 503"
            );
            Ok((
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                [(axum::http::header::RETRY_AFTER, "5")],
                "the server took too long to answer this request; try again shortly\n",
            )
                .into_response())
        }
    }
}

/// Prints `{what} on http://ADDR` for a bound listener. A closed standard output (the parent stopped
/// reading) must not stop a server, so write errors are ignored.
pub fn announce(what: &str, listener: &TcpListener) {
    use std::io::Write;
    if let Ok(addr) = listener.local_addr() {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{what} on http://{addr}");
        let _ = out.flush();
    }
}
