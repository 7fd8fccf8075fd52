//! The admin API (docs/admin-api.md): how operators and builders put chaincodes on a running host.
//!
//! Writes need the bearer token. Plain HTTP is served only on loopback; anywhere else the API needs TLS, so a token
//! never crosses a network in clear.
//!
//! Uploads are budgeted: the token is checked before a byte of the body is read, and at most
//! `max_concurrent_uploads` bodies are received and installed at once; the others wait their turn for a bounded time,
//! then get 503. Errors of the host itself (its disk, its artifacts) reach the client as one plain line; the details,
//! which name paths of the data directory, go to the operator's log. Every write and every refusal is logged to the
//! audit trail ([`crate::audit`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::audit::{self, Remote};
use crate::engine::EngineError;
use crate::launcher::{dial_peer, LaunchSpec};
use crate::registry::{InstallError, Registry};
use crate::store::ChaincodeRecord;

pub use wasmcc_common::admin::{ChaincodeInfo, RouteInfo, TlsInfo};

/// How the API is reached and guarded.
#[derive(Clone)]
pub struct AdminSettings {
    pub token: String,
    pub max_upload_bytes: usize,
    /// Uploads received and installed at once (limits::DEFAULT_MAX_CONCURRENT_UPLOADS).
    pub max_concurrent_uploads: usize,
    /// How long an upload waits for its turn before 503 (limits::UPLOAD_SLOT_WAIT); zero answers 503 at once.
    pub upload_wait: Duration,
}

#[derive(Clone)]
struct AdminState {
    registry: Arc<Registry>,
    settings: AdminSettings,
    uploads: Arc<Semaphore>,
}

/// The API's routes, ready to serve. The caller's address reaches the audit trail when the router is served with
/// `into_make_service_with_connect_info::<SocketAddr>()`, as the admin server does.
pub fn router(registry: Arc<Registry>, settings: AdminSettings) -> Router {
    let limit = settings.max_upload_bytes;
    let uploads = Arc::new(Semaphore::new(settings.max_concurrent_uploads));
    let counted = registry.clone();
    Router::new()
        .route("/v1/health", get(|| async { Json(serde_json::json!({"status": "ok"})) }))
        .route("/v1/chaincodes", get(list).post(install).layer(DefaultBodyLimit::max(limit)))
        .route("/v1/chaincodes/{ccid}", get(show).delete(remove))
        .route("/v1/launch", post(launch))
        .with_state(AdminState { registry: registry.clone(), settings, uploads })
        .merge(probes(registry))
        .layer(axum::middleware::from_fn(move |request, next: axum::middleware::Next| {
            let counted = counted.clone();
            async move {
                let response = next.run(request).await;
                counted.counters().admin_response(response.status().as_u16());
                response
            }
        }))
}

/// `/healthz` (the process serves requests), `/readyz` (its store is reachable and every installed chaincode
/// listens: 503 with the reason otherwise) and `/metrics` (Prometheus): no token, nothing secret. On the admin
/// listener, and on the `[metrics]` listener when one is configured.
pub fn probes(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(registry)
}

async fn ready(State(registry): State<Arc<Registry>>) -> (StatusCode, String) {
    match registry.not_ready() {
        None => (StatusCode::OK, "ready\n".into()),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n")),
    }
}

async fn metrics(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, crate::telemetry::CONTENT_TYPE)], crate::telemetry::render(&registry))
}

/// An API error: a status and one line that says what and why (and, when busy, when to try again).
pub struct ApiError {
    status: StatusCode,
    message: String,
    retry_after: Option<Duration>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), retry_after: None }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(wasmcc_common::admin::ErrorBody { error: self.message })).into_response();
        if let Some(after) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(after.as_secs().max(1)));
        }
        response
    }
}

/// What the client is told about a failed install. The host's own failures (its disk, its stored artifacts, its
/// listeners) are one plain line: their details name paths of the data directory, which are the operator's business
/// and go to the log instead.
fn install_error(e: InstallError, remote: Remote) -> ApiError {
    let status = match &e {
        InstallError::Package(_) | InstallError::Validate(_) => StatusCode::BAD_REQUEST,
        InstallError::NotInstalled(_) => StatusCode::NOT_FOUND,
        // The shared store unreachable: nothing was installed; the same request succeeds once it is back.
        InstallError::NoPort(..) | InstallError::SharedStore(_) => StatusCode::SERVICE_UNAVAILABLE,
        InstallError::RouteTaken(_)
        | InstallError::PortUnavailable { .. }
        | InstallError::InstalledElsewhere { .. } => StatusCode::CONFLICT,
        InstallError::Engine(EngineError::Encode(_) | EngineError::Compile(_) | EngineError::Link(_)) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        InstallError::Engine(
            EngineError::Quota(_) | EngineError::Config(_) | EngineError::Threads(_) | EngineError::Artifact { .. },
        )
        | InstallError::Store(_)
        | InstallError::NotServable(_)
        | InstallError::ModuleMismatch { .. }
        | InstallError::SharedListener { .. } => {
            audit::upload_failed(remote, &e.to_string());
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the host could not store or load the chaincode: an internal error, detailed in the host's log",
            );
        }
    };
    let error = ApiError::new(status, e.to_string());
    audit::upload_refused(remote, status.as_u16(), &error.message);
    error
}

/// Bearer-token check, in constant time over the token's hash so timing says nothing about the token. The scheme
/// matches in any case (RFC 7235 §2.1: `bearer`, `BEARER`). A refusal is logged with the caller's address; `action`
/// says what was attempted.
fn authorise(headers: &HeaderMap, token: &str, remote: Remote, action: &str) -> Result<(), ApiError> {
    let refuse = |status, reason: &str| {
        audit::auth_failed(remote, action, reason);
        Err(ApiError::new(status, reason))
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return refuse(StatusCode::UNAUTHORIZED, "missing bearer token (Authorization: Bearer …)");
    };
    let credentials = value.to_str().ok().and_then(|v| v.split_once(' '));
    let Some(given) = credentials.filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")).map(|(_, t)| t) else {
        return refuse(StatusCode::UNAUTHORIZED, "the Authorization header is not a bearer token (Bearer …)");
    };
    let (a, b) = (Sha256::digest(given.trim_start_matches(' ').as_bytes()), Sha256::digest(token.as_bytes()));
    if a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) != 0 {
        return refuse(StatusCode::FORBIDDEN, "wrong bearer token");
    }
    Ok(())
}

/// Waits, for at most the configured time, for one of the upload slots; past it, 503 with `Retry-After`.
async fn upload_slot(s: &AdminState, remote: Remote) -> Result<OwnedSemaphorePermit, ApiError> {
    let wait = s.settings.upload_wait;
    let slot = if wait.is_zero() {
        s.uploads.clone().try_acquire_owned().ok()
    } else {
        // The semaphore is never closed: an error cannot happen, and would only refuse the upload.
        tokio::time::timeout(wait, s.uploads.clone().acquire_owned()).await.ok().and_then(Result::ok)
    };
    if let Some(slot) = slot {
        return Ok(slot);
    }
    let busy = format!(
        "the host is busy: {} upload(s) are being installed (admin.max_concurrent_uploads) and this one waited {} s \
         for its turn; try again later",
        s.settings.max_concurrent_uploads,
        wait.as_secs()
    );
    audit::upload_refused(remote, StatusCode::SERVICE_UNAVAILABLE.as_u16(), &busy);
    let retry_after = Some(wait.max(Duration::from_secs(1)));
    Err(ApiError { retry_after, ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, busy) })
}

/// The public view of a record: its route as a peer would dial it.
pub fn info(registry: &Registry, record: &ChaincodeRecord) -> ChaincodeInfo {
    let host = &registry.settings().advertise_host;
    let port = registry.listen_addr(&record.ccid).map(|a| a.port()).or(record.port);
    let tls = registry.settings().tls.as_ref();
    // The SNI name and shared address only while the shared port is actually listening.
    let shared = registry.shared_addr().and_then(|addr| Some((registry.settings().route_name(&record.ccid)?, addr)));
    let (sni, shared_address) = match shared {
        Some((name, addr)) => (Some(name), Some(format!("{host}:{}", addr.port()))),
        None => (None, None),
    };
    ChaincodeInfo {
        ccid: record.ccid.clone(),
        label: record.label.clone(),
        module_hash: record.module_hash.clone(),
        module_size: record.module_size,
        route: RouteInfo { address: port.map(|port| format!("{host}:{port}")), port, sni, shared_address },
        tls: match tls {
            Some(tls) => {
                TlsInfo { enabled: true, client_auth: tls.client_auth, root_cert: Some(tls.root_cert.clone()) }
            }
            None => TlsInfo::default(),
        },
    }
}

async fn list(State(s): State<AdminState>) -> Json<Vec<ChaincodeInfo>> {
    Json(s.registry.records().iter().map(|r| info(&s.registry, r)).collect())
}

async fn show(State(s): State<AdminState>, Path(ccid): Path<String>) -> Result<Json<ChaincodeInfo>, ApiError> {
    let record = s
        .registry
        .record(&ccid)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("chaincode {ccid} is not installed")))?;
    Ok(Json(info(&s.registry, &record)))
}

/// `POST /v1/chaincodes?port=N`: the operator pins the chaincode's port.
#[derive(Debug, serde::Deserialize)]
struct InstallQuery {
    port: Option<u16>,
}

/// Token first, then a turn among the uploads, and only then the body: an unauthenticated or surplus upload costs no
/// buffering.
async fn install(
    State(s): State<AdminState>,
    remote: Remote,
    Query(query): Query<InstallQuery>,
    request: Request,
) -> Result<(StatusCode, Json<ChaincodeInfo>), ApiError> {
    authorise(request.headers(), &s.settings.token, remote, "install")?;
    let _slot = upload_slot(&s, remote).await?;
    let body = Bytes::from_request(request, &()).await.map_err(|e| {
        let status = e.status();
        let why = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("upload larger than the limit of {} bytes", s.settings.max_upload_bytes)
        } else {
            format!("upload incomplete: {}", e.body_text())
        };
        audit::upload_refused(remote, status.as_u16(), &why);
        ApiError::new(status, why)
    })?;
    let (record, created) =
        s.registry.install_on(Vec::from(body), query.port).await.map_err(|e| install_error(e, remote))?;
    audit::installed(remote, &record.ccid, created);
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(info(&s.registry, &record))))
}

async fn remove(
    State(s): State<AdminState>,
    remote: Remote,
    headers: HeaderMap,
    Path(ccid): Path<String>,
) -> Result<Json<ChaincodeInfo>, ApiError> {
    authorise(&headers, &s.settings.token, remote, "remove")?;
    match s.registry.remove(&ccid).await {
        Ok(record) => {
            audit::removed(remote, &ccid);
            Ok(Json(info(&s.registry, &record)))
        }
        Err(e @ InstallError::NotInstalled(_)) => Err(ApiError::new(StatusCode::NOT_FOUND, e.to_string())),
        // Nothing was removed; the same request succeeds once the store is back.
        Err(e @ InstallError::SharedStore(_)) => {
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("chaincode {ccid} was not removed: {e}")))
        }
        Err(e) => {
            audit::upload_failed(remote, &format!("removing {ccid}: {e}"));
            let why = format!("chaincode {ccid} could not be removed: an internal error, detailed in the host's log");
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, why))
        }
    }
}

/// Launcher mode (`bin/run`): dial the peer as the chaincode and answer when that session ends. If the caller goes
/// away first, axum drops this future, which drops the session and closes the stream to the peer.
async fn launch(
    State(s): State<AdminState>,
    remote: Remote,
    headers: HeaderMap,
    body: Result<Json<LaunchSpec>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    authorise(&headers, &s.settings.token, remote, "launch")?;
    let Json(spec) =
        body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad chaincode.json: {}", e.body_text())))?;
    let chaincode = s.registry.get(&spec.chaincode_id).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, format!("chaincode {} is not installed", spec.chaincode_id))
    })?;
    audit::launch(remote, &spec.chaincode_id, &spec.peer_address);
    dial_peer(s.registry.engine().clone(), chaincode, &spec)
        .await
        .map(|()| Json(serde_json::json!({"result": "closed"})))
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()))
}

/// Plain HTTP carries the bearer token in clear, so it is served only where nothing crosses a network.
pub fn plain_http_allowed(addr: SocketAddr) -> std::io::Result<()> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!(
            "plain HTTP is served only on loopback: configure admin.tls_cert and admin.tls_key to listen on {addr}"
        ),
    ))
}

// Serving (accept, TLS, timeouts, connection caps): `admin_server.rs`.

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = value {
            h.insert(axum::http::header::AUTHORIZATION, v.parse().unwrap());
        }
        h
    }

    fn status(value: Option<&str>) -> Option<StatusCode> {
        authorise(&headers(value), "s3cret", Remote(None), "test").err().map(|e| e.status)
    }

    #[test]
    fn token_checks() {
        assert_eq!(status(Some("Bearer s3cret")), None);
        assert_eq!(status(None), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(status(Some("Bearer nope")), Some(StatusCode::FORBIDDEN));
        assert_eq!(status(Some("Bearer s3cret2")), Some(StatusCode::FORBIDDEN));
        assert_eq!(status(Some("Bearer ")), Some(StatusCode::FORBIDDEN));
        // No scheme, or another one: not a bearer token at all.
        assert_eq!(status(Some("s3cret")), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(status(Some("Basic s3cret")), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(status(Some("Bearers3cret")), Some(StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn the_scheme_matches_in_any_case() {
        for value in ["bearer s3cret", "BEARER s3cret", "bEaReR s3cret", "Bearer  s3cret"] {
            assert_eq!(status(Some(value)), None, "{value:?}");
        }
    }
}
