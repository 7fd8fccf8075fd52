//! The admin API (docs/admin-api.md): how operators and builders put chaincodes on a running host.
//!
//! Writes need the bearer token. Plain HTTP is served only on loopback; anywhere else the API needs TLS, so a token
//! never crosses a network in clear.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::launcher::{dial_peer, LaunchSpec};
use crate::registry::{InstallError, Registry};
use crate::store::ChaincodeRecord;

/// What the API says about one chaincode (docs/admin-api.md, `ChaincodeInfo`).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ChaincodeInfo {
    pub ccid: String,
    pub label: String,
    pub module_hash: String,
    pub module_size: u64,
    pub route: RouteInfo,
    pub tls: TlsInfo,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct RouteInfo {
    pub address: String,
    pub port: u16,
    pub sni: Option<String>,
    pub shared_address: Option<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq, Default)]
pub struct TlsInfo {
    pub enabled: bool,
    pub client_auth: bool,
    pub root_cert: Option<String>,
}

/// How the API is reached and guarded.
#[derive(Clone)]
pub struct AdminSettings {
    pub token: String,
    pub max_upload_bytes: usize,
}

#[derive(Clone)]
struct AdminState {
    registry: Arc<Registry>,
    settings: AdminSettings,
}

/// The API's routes, ready to serve.
pub fn router(registry: Arc<Registry>, settings: AdminSettings) -> Router {
    let limit = settings.max_upload_bytes;
    Router::new()
        .route("/v1/health", get(|| async { Json(serde_json::json!({"status": "ok"})) }))
        .route("/v1/chaincodes", get(list).post(install).layer(DefaultBodyLimit::max(limit)))
        .route("/v1/chaincodes/{ccid}", get(show).delete(remove))
        .route("/v1/launch", post(launch))
        .with_state(AdminState { registry, settings })
}

/// An API error: a status and one line that says what and why.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<InstallError> for ApiError {
    fn from(e: InstallError) -> Self {
        let status = match &e {
            InstallError::Package(_) | InstallError::Validate(_) => StatusCode::BAD_REQUEST,
            InstallError::NotInstalled(_) => StatusCode::NOT_FOUND,
            InstallError::NoPort(..) => StatusCode::SERVICE_UNAVAILABLE,
            InstallError::RouteTaken(_)
            | InstallError::PortUnavailable { .. }
            | InstallError::InstalledElsewhere { .. } => StatusCode::CONFLICT,
            InstallError::Engine(_) => StatusCode::UNPROCESSABLE_ENTITY,
            InstallError::Store(_) | InstallError::SharedListener { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

/// Bearer-token check, in constant time over the token's hash so timing says nothing about the token.
fn authorise(headers: &HeaderMap, token: &str) -> Result<(), ApiError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(ApiError(StatusCode::UNAUTHORIZED, "missing bearer token (Authorization: Bearer …)".into()));
    };
    let given = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
    let (a, b) = (Sha256::digest(given.as_bytes()), Sha256::digest(token.as_bytes()));
    if a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) != 0 {
        return Err(ApiError(StatusCode::FORBIDDEN, "wrong bearer token".into()));
    }
    Ok(())
}

impl ChaincodeInfo {
    /// The connection.json a peer needs to dial this chaincode: with client auth and a shared port, the shared
    /// address with `domain` = the SNI name; otherwise the chaincode's own port. `peer` is the peer's client
    /// identity, required when the endpoint demands client certificates.
    pub fn connection_json(
        &self,
        peer: Option<&crate::connection_json::PeerConfig>,
    ) -> Result<crate::connection_json::ConnectionJson, crate::connection_json::ConnectionJsonError> {
        use crate::connection_json::{ConnectionJson, TlsInfo as RouteTls};
        let Some(root_cert) = self.tls.root_cert.clone().filter(|_| self.tls.enabled) else {
            return ConnectionJson::for_route(self.route.address.clone(), None, peer);
        };
        let shared = match (&self.route.shared_address, &self.route.sni) {
            (Some(address), Some(sni)) if self.tls.client_auth => Some((address.clone(), sni.clone())),
            _ => None,
        };
        let (address, domain) = match shared {
            Some((address, sni)) => (address, Some(sni)),
            None => (self.route.address.clone(), None),
        };
        let tls = RouteTls { root_cert, client_auth_required: self.tls.client_auth, domain };
        ConnectionJson::for_route(address, Some(&tls), peer)
    }
}

/// The public view of a record: its route as a peer would dial it.
pub fn info(registry: &Registry, record: &ChaincodeRecord) -> ChaincodeInfo {
    let host = &registry.settings().advertise_host;
    let port = registry.listen_addr(&record.ccid).map(|a| a.port()).unwrap_or(record.port);
    let tls = registry.settings().tls.as_ref();
    // The SNI name and shared address only while the shared port is actually listening.
    let shared = registry.shared_addr().and_then(|addr| Some((tls?.sni_name(&record.ccid)?, addr)));
    let (sni, shared_address) = match shared {
        Some((name, addr)) => (Some(name), Some(format!("{host}:{}", addr.port()))),
        None => (None, None),
    };
    ChaincodeInfo {
        ccid: record.ccid.clone(),
        label: record.label.clone(),
        module_hash: record.module_hash.clone(),
        module_size: record.module_size,
        route: RouteInfo { address: format!("{host}:{port}"), port, sni, shared_address },
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
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("chaincode {ccid} is not installed")))?;
    Ok(Json(info(&s.registry, &record)))
}

/// `POST /v1/chaincodes?port=N`: the operator pins the chaincode's port.
#[derive(Debug, serde::Deserialize)]
struct InstallQuery {
    port: Option<u16>,
}

async fn install(
    State(s): State<AdminState>,
    headers: HeaderMap,
    Query(query): Query<InstallQuery>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<ChaincodeInfo>), ApiError> {
    authorise(&headers, &s.settings.token)?;
    let body = body.map_err(|e| {
        let status = e.status();
        let why = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("upload larger than the limit of {} bytes", s.settings.max_upload_bytes)
        } else {
            format!("upload incomplete: {}", e.body_text())
        };
        ApiError(status, why)
    })?;
    let (record, created) = s.registry.install_on(body.to_vec(), query.port).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(info(&s.registry, &record))))
}

async fn remove(
    State(s): State<AdminState>,
    headers: HeaderMap,
    Path(ccid): Path<String>,
) -> Result<Json<ChaincodeInfo>, ApiError> {
    authorise(&headers, &s.settings.token)?;
    let record = s.registry.remove(&ccid).await?;
    Ok(Json(info(&s.registry, &record)))
}

/// Launcher mode (`bin/run`): dial the peer as the chaincode and answer when that session ends. If the caller goes
/// away first, axum drops this future, which drops the session and closes the stream to the peer.
async fn launch(
    State(s): State<AdminState>,
    headers: HeaderMap,
    body: Result<Json<LaunchSpec>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    authorise(&headers, &s.settings.token)?;
    let Json(spec) =
        body.map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("bad chaincode.json: {}", e.body_text())))?;
    let chaincode = s
        .registry
        .get(&spec.chaincode_id)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("chaincode {} is not installed", spec.chaincode_id)))?;
    dial_peer(s.registry.engine().clone(), chaincode, &spec)
        .await
        .map(|()| Json(serde_json::json!({"result": "closed"})))
        .map_err(|e| ApiError(StatusCode::BAD_GATEWAY, e.to_string()))
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

    #[test]
    fn token_checks() {
        assert!(authorise(&headers(Some("Bearer s3cret")), "s3cret").is_ok());
        assert_eq!(authorise(&headers(None), "s3cret").err().unwrap().0, StatusCode::UNAUTHORIZED);
        assert_eq!(authorise(&headers(Some("Bearer nope")), "s3cret").err().unwrap().0, StatusCode::FORBIDDEN);
        assert_eq!(authorise(&headers(Some("s3cret")), "s3cret").err().unwrap().0, StatusCode::FORBIDDEN);
    }
}
