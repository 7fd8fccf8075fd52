//! Serving the admin API: the same accept path as the chaincode listeners ([`RoutedIncoming`]: a connection budget
//! of its own, eviction of the oldest pending connection, handshake and idle deadlines, logged TLS refusals), then
//! HTTP/1.1 or HTTP/2 by hyper with a header read timeout, a pause limit on request bodies and a stream cap.
//!
//! Each request counts as an open stream of its connection while its handler runs, so a launcher-mode `POST
//! /v1/launch`, which answers only when its session ends hours later, is never taken for idle.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use futures::StreamExt;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use crate::connections::ListenerPolicy;
use crate::limits;
use crate::sni::{Route, RoutedConn, RoutedIncoming};

/// How the admin listener treats its connections.
#[derive(Clone, Debug)]
pub struct AdminServing {
    /// Admission and deadlines, with the admin API's own budget.
    pub policy: ListenerPolicy,
    /// How long a request's headers may take to arrive (HTTP/1.1; a connection's first request must also come
    /// within the policy's handshake timeout).
    pub header_timeout: Duration,
    /// The longest pause between two chunks of a request body.
    pub body_timeout: Duration,
}

impl Default for AdminServing {
    fn default() -> Self {
        AdminServing {
            policy: ListenerPolicy {
                budget: crate::connections::ConnectionBudget::new(limits::DEFAULT_ADMIN_MAX_CONNECTIONS),
                max_connections: limits::DEFAULT_ADMIN_MAX_CONNECTIONS,
                ..ListenerPolicy::default()
            },
            header_timeout: limits::DEFAULT_ADMIN_HEADER_TIMEOUT,
            body_timeout: limits::DEFAULT_ADMIN_BODY_TIMEOUT,
        }
    }
}

/// Serves `app` on `listener`, over TLS when `tls` is given (offering HTTP/2 and HTTP/1.1), until `stop` completes;
/// requests in flight then get [`limits::ADMIN_SHUTDOWN_GRACE`] to finish. Whether plain HTTP may be offered on the
/// listener's address is the caller's decision (the admin API: loopback only, [`crate::admin::plain_http_allowed`]).
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    serving: AdminServing,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let route = match tls {
        Some(config) => {
            let mut config = (*config).clone();
            // The CLI and builders speak HTTP/1.1 or HTTP/2; offer both.
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            Route::Tls { ccid: None, config: Arc::new(config) }
        }
        None => Route::Plain { ccid: None },
    };
    let mut incoming = RoutedIncoming::with_policy(listener, route, serving.policy.clone())?;
    let http = http_builder(serving.header_timeout);
    let shutdown = CancellationToken::new();
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            next = incoming.next() => match next {
                Some(Ok(conn)) => {
                    let task = serve_connection(http.clone(), conn, app.clone(), serving.body_timeout, shutdown.clone());
                    connections.spawn(task);
                }
                Some(Err(e)) => tracing::warn!("admin API connection failed: {e}"),
                None => break,
            },
        }
    }
    drop(incoming);
    shutdown.cancel();
    let drained = async { while connections.join_next().await.is_some() {} };
    // Past the grace period, dropping the set aborts what is left.
    let _ = tokio::time::timeout(limits::ADMIN_SHUTDOWN_GRACE, drained).await;
    Ok(())
}

/// HTTP/1.1 with a header read timeout (which also bounds an idle keep-alive connection), HTTP/2 with a stream cap and
/// pings that find vanished clients.
fn http_builder(header_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout);
    http.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits::ADMIN_MAX_STREAMS_PER_CONNECTION)
        .keep_alive_interval(limits::HTTP2_KEEPALIVE_INTERVAL)
        .keep_alive_timeout(limits::HTTP2_KEEPALIVE_TIMEOUT);
    http
}

async fn serve_connection(
    http: auto::Builder<TokioExecutor>,
    conn: RoutedConn,
    app: Router,
    body_timeout: Duration,
    shutdown: CancellationToken,
) {
    let activity = conn.route().activity.clone();
    let remote: Option<SocketAddr> = conn.route().remote_addr;
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let open = activity.stream();
        let mut request = request.map(|body| axum::body::Body::new(TimeoutBody::new(body_timeout, body)));
        // The caller's address, for the audit trail (`audit::Remote`).
        if let Some(addr) = remote {
            request.extensions_mut().insert(axum::extract::ConnectInfo(addr));
        }
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await;
            drop(open);
            response
        }
    });
    let connection = http.serve_connection(TokioIo::new(conn), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(?remote, "admin API connection closed: {e}");
    }
}
