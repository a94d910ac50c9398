//! The accept loop, written out (rather than `axum::serve`) for what an exposed auth server
//! needs from its connections:
//! - a **connection cap**: past `limits.max_connections`, a new connection gets an immediate
//!   `503` with `Retry-After` (plain HTTP) or is closed (TLS), and those already served go on;
//! - a **slow-client limit**: the request line and headers must arrive within
//!   `limits.header_read_timeout` (slowloris), TLS handshakes within the same time;
//! - a **header-size limit**: `limits.max_header_bytes` of request line and headers (HTTP/1:
//!   431 and close; HTTP/2: the header-list limit);
//! - **TLS certificate reload**: each new connection takes the current certificate from
//!   [`TlsReloader`], so a reload never drops a connection;
//! - **graceful shutdown**: stop accepting, let in-flight requests finish (10 s at most).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use super::tls::TlsReloader;
use crate::config::LimitsSettings;

/// How long in-flight requests may take to finish after the stop signal.
const DRAIN: Duration = Duration::from_secs(10);

/// The body of the answer to a connection over the cap.
const BUSY_BODY: &str =
    r#"{"error":"temporarily_unavailable","error_description":"too many connections"}"#;

/// Serves `router` on `listener` until `signal` completes.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<TlsReloader>>,
    limits: LimitsSettings,
    signal: impl Future<Output = ()> + Send + 'static,
) {
    let builder = builder(&limits);
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(signal);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(error.message = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(
                event = "connection.refused",
                max_connections = limits.max_connections,
                "connection cap reached"
            );
            if tls.is_none() {
                tokio::spawn(answer_busy(stream));
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone().map_request(
            move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        ));
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls
            .as_ref()
            .map(|t| (t.acceptor(), limits.header_read_timeout));
        tokio::spawn(async move {
            match tls {
                None => {
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
                Some((acceptor, handshake_timeout)) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(DRAIN) => {
            tracing::warn!("some connections were still busy after 10 s; closing them");
        },
    }
}

/// HTTP/1.1 and HTTP/2 with the configured header limits and timers.
fn builder(limits: &LimitsSettings) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    builder
}

/// Writes the 503 to a connection over the cap and closes it, without reading anything.
async fn answer_busy(mut stream: TcpStream) {
    // Written raw: no request has been read, and none will be.
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{BUSY_BODY}",
        BUSY_BODY.len()
    );
    let write = async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}
