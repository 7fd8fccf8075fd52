//! The admin API's audit trail: who installed or removed what, and who was refused, with the caller's address.
//!
//! Every event goes to the tracing target [`TARGET`]. Installs and removals are ordinary events (`info`); refusals
//! (failed authentication, refused or failed uploads) are `warn`, since a run of them is what an attack looks like.
//! The host's default filter ([`DEFAULT_LOG_FILTER`]) shows the host from `info` and its libraries from `warn`. No event carries
//! the bearer token, or any part of the `Authorization` header.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

/// The tracing target of audit events: `WASMCC_LOG=wasmcc::audit=off` silences them, `=warn` keeps only refusals.
pub const TARGET: &str = "wasmcc::audit";

/// The log filter when `WASMCC_LOG` is not set: the host at `info` (the audit trail, installs and removals, peer
/// streams opened and closed; per-transaction lines are `debug`), its libraries at `warn`.
pub const DEFAULT_LOG_FILTER: &str = "warn,wasmcc=info,wasmcc_host=info,wasmcc_peer=info,wasmcc::audit=info";

/// The caller's address, from the connection (axum's `ConnectInfo`); `unknown` where the server does not record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote(pub Option<SocketAddr>);

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => write!(f, "{addr}"),
            None => f.write_str("unknown"),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Remote {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Remote(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0)))
    }
}

/// A request refused for its credentials (401/403). `action` names what was attempted, e.g. `install`.
pub fn auth_failed(remote: Remote, action: &str, reason: &str) {
    tracing::warn!(target: TARGET, %remote, action, "authentication failed: {reason}");
}

/// An authenticated upload the host refused (a bad package or module, over a limit, too busy): the client's reason.
pub fn upload_refused(remote: Remote, status: u16, reason: &str) {
    tracing::warn!(target: TARGET, %remote, status, "upload refused: {reason}");
}

/// An upload that failed on the host's side; `detail` may name host paths, so it goes only to this log.
pub fn upload_failed(remote: Remote, detail: &str) {
    tracing::error!(target: TARGET, %remote, "upload failed on the host: {detail}");
}

pub fn installed(remote: Remote, ccid: &str, created: bool) {
    if created {
        tracing::info!(target: TARGET, %remote, %ccid, "installed");
    } else {
        tracing::info!(target: TARGET, %remote, %ccid, "already installed");
    }
}

pub fn removed(remote: Remote, ccid: &str) {
    tracing::info!(target: TARGET, %remote, %ccid, "removed");
}

/// A launch (`bin/run`) asked the host to dial a peer as `ccid`.
pub fn launch(remote: Remote, ccid: &str, peer: &str) {
    tracing::info!(target: TARGET, %remote, %ccid, %peer, "launch");
}
