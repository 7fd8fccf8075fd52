//! connection.json: how a Fabric peer finds a chaincode server (`docs/fabric-protocol.md` §7 and §9 pitfalls 1–3).
//!
//! The peer decodes it with Go's `encoding/json`, which is strict about types where the official docs are wrong:
//! `tls_required` and `client_auth_required` must be JSON booleans (a string "true" fails the launch), and
//! `dial_timeout` must be a non-empty Go duration string. PEMs go in as text, not file paths. `domain` is honoured
//! only with client auth (it then becomes the TLS server name, which is how a shared port routes by SNI).

use std::time::Duration;

/// How long a peer waits to dial a chaincode, and the host a peer in launcher mode: long enough for a TLS handshake on
/// a loaded host, short enough that a misrouted chaincode fails a proposal quickly. (The peer's own default, 3 s,
/// applies only when connection.json has no `dial_timeout`.)
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// connection.json as the peer parses it. Serialize with [`ConnectionJson::to_json`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConnectionJson {
    /// `host:port` the peer dials.
    pub address: String,
    /// A Go duration string ("10s", "500ms"): [`go_duration`].
    pub dial_timeout: String,
    pub tls_required: bool,
    pub client_auth_required: bool,
    /// The CA that verifies the *chaincode server's* certificate (the docs call it the peer's root: it is not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cert: Option<String>,
    /// The peer's client certificate for mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    /// The TLS server name the peer sends and verifies; honoured only with client auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

impl ConnectionJson {
    /// A plaintext route at `address` with the default dial timeout; TLS fields are set by the caller.
    pub fn plaintext(address: impl Into<String>) -> ConnectionJson {
        ConnectionJson {
            address: address.into(),
            dial_timeout: go_duration(DIAL_TIMEOUT),
            tls_required: false,
            client_auth_required: false,
            root_cert: None,
            client_cert: None,
            client_key: None,
            domain: None,
        }
    }

    /// Pretty JSON, for a file an operator may read.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("connection.json has only strings and booleans")
    }
}

/// A duration as Go's `time.ParseDuration` reads it, in the largest exact unit.
pub fn go_duration(d: Duration) -> String {
    match (d.subsec_nanos(), d.as_secs()) {
        (0, s) => format!("{s}s"),
        (n, _) if n % 1_000_000 == 0 => format!("{}ms", d.as_millis()),
        _ => format!("{}ns", d.as_nanos()),
    }
}

/// Whether Go would split `address` into a host and a numeric port at its last colon (IPv6 in brackets): catches a
/// missing or non-numeric port here rather than at the peer's launch.
pub fn is_host_port(address: &str) -> bool {
    matches!(address.rsplit_once(':'), Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok())
}

/// `address` with its host replaced by `host`, keeping the port; `None` when `address` has no port.
pub fn with_host(address: &str, host: &str) -> Option<String> {
    let (_, port) = address.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some(if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_go_strings_in_the_largest_exact_unit() {
        assert_eq!(go_duration(DIAL_TIMEOUT), "10s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(go_duration(Duration::from_nanos(1_000_001)), "1000001ns");
    }

    #[test]
    fn plaintext_has_real_booleans_and_a_dial_timeout() {
        let json: serde_json::Value =
            serde_json::from_str(&ConnectionJson::plaintext("10.0.0.1:9101").to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"address": "10.0.0.1:9101", "dial_timeout": "10s", "tls_required": false,
                               "client_auth_required": false})
        );
    }

    #[test]
    fn addresses_and_hosts() {
        assert!(is_host_port("h:1") && is_host_port("[::1]:7052"));
        assert!(!is_host_port("h") && !is_host_port(":1") && !is_host_port("h:port"));
        assert_eq!(with_host("10.0.0.1:9101", "wasmcc.example").as_deref(), Some("wasmcc.example:9101"));
        assert_eq!(with_host("10.0.0.1:9101", "::1").as_deref(), Some("[::1]:9101"));
        assert_eq!(with_host("nowhere", "h"), None);
    }
}
