//! The builder's configuration: one JSON document in `WASMCC_BUILDER_CONFIG`.
//!
//! The peer gives its builders no arguments beyond directories and strips their environment to the variables named
//! in the builder's `propagateEnvironment` (`docs/fabric-protocol.md` §7), so everything per peer — where the host's
//! admin API is, how to reach the chaincodes, the peer's own TLS client identity — travels in one variable. The
//! schema is documented in `docs/operators.md`.

use std::path::Path;

use anyhow::{bail, Context};
use serde::Deserialize;

/// The environment variable the operator lists in `propagateEnvironment`.
pub const ENV: &str = "WASMCC_BUILDER_CONFIG";

/// The peer's own default is 3 s; a host that precompiles on first use or sits across a WAN needs more, and an
/// absent or empty value is a trap (`docs/fabric-protocol.md` §9, pitfall 3), so the builder always writes one.
pub fn default_dial_timeout() -> String {
    wasmcc_common::connection::go_duration(wasmcc_common::connection::DIAL_TIMEOUT)
}

/// How the peer gets to the chaincode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The operator installed the package on the host first (`wasmcc install`); build looks its route up.
    #[default]
    Lookup,
    /// Build uploads the package to the host itself (possible only for packages made by `wasmcc package`).
    Upload,
    /// No connection.json: the peer calls `bin/run`, which asks the host to dial the peer.
    Launcher,
}

/// The configuration with PEM values loaded and defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub admin_url: String,
    pub admin_token: Option<String>,
    /// CA bundle (PEM) that verifies the admin API's HTTPS certificate; `None`: the public web roots.
    pub admin_ca: Option<String>,
    pub mode: Mode,
    /// Replaces the host part of the route the host reports (keeping its port), for a peer that reaches the host
    /// under another name or address than the host advertises.
    pub chaincode_host: Option<String>,
    /// Replaces the host's shared SNI address (`host:port`).
    pub shared_address: Option<String>,
    pub dial_timeout: String,
    pub use_sni: bool,
    /// For a plaintext chaincode on a host with a shared port: the address is the chaincode's own name on it,
    /// `<label>-<hash12>.<suffix>:<port>`, which the peer sends as HTTP/2 `:authority` and the host routes by.
    pub use_host_names: bool,
    /// The peer's TLS client identity for chaincodes that require client auth (PEM).
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    /// CA (PEM) that verifies the host's chaincode certificate, instead of the one the host reports.
    pub root_cert: Option<String>,
}

/// The document as written: PEM values may be inline or file paths.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    admin_url: String,
    admin_token: Option<String>,
    admin_ca: Option<String>,
    #[serde(default)]
    mode: Mode,
    chaincode_host: Option<String>,
    shared_address: Option<String>,
    dial_timeout: Option<String>,
    #[serde(default)]
    use_sni: bool,
    #[serde(default)]
    use_host_names: bool,
    client_cert: Option<String>,
    client_key: Option<String>,
    root_cert: Option<String>,
}

impl Config {
    /// Reads `WASMCC_BUILDER_CONFIG`.
    pub fn from_env() -> anyhow::Result<Config> {
        let Some(json) = std::env::var_os(ENV) else {
            bail!("{ENV} is not set: list it in the builder's propagateEnvironment in core.yaml (docs/operators.md)");
        };
        let json = json.into_string().map_err(|_| anyhow::anyhow!("{ENV} is not valid UTF-8"))?;
        Config::parse(&json)
    }

    pub fn parse(json: &str) -> anyhow::Result<Config> {
        let raw: Raw = serde_json::from_str(json).with_context(|| format!("{ENV} is not a valid configuration"))?;
        let admin_url = raw.admin_url.trim_end_matches('/').to_owned();
        if !(admin_url.starts_with("http://") || admin_url.starts_with("https://")) {
            bail!("{ENV}: admin_url {admin_url:?} must start with http:// or https://");
        }
        let dial_timeout = raw.dial_timeout.unwrap_or_else(default_dial_timeout);
        check_go_duration(&dial_timeout).with_context(|| format!("{ENV}: dial_timeout {dial_timeout:?}"))?;
        if raw.client_cert.is_some() != raw.client_key.is_some() {
            bail!("{ENV}: client_cert and client_key go together");
        }
        let pem = |field: &str, value: Option<String>| -> anyhow::Result<Option<String>> {
            value.map(|v| pem_or_path(&v).with_context(|| format!("{ENV}: {field}"))).transpose()
        };
        Ok(Config {
            admin_url,
            admin_token: raw.admin_token.filter(|t| !t.is_empty()),
            admin_ca: pem("admin_ca", raw.admin_ca)?,
            mode: raw.mode,
            chaincode_host: raw.chaincode_host.filter(|h| !h.is_empty()),
            shared_address: raw.shared_address.filter(|a| !a.is_empty()),
            dial_timeout,
            use_sni: raw.use_sni,
            use_host_names: raw.use_host_names,
            client_cert: pem("client_cert", raw.client_cert)?,
            client_key: pem("client_key", raw.client_key)?,
            root_cert: pem("root_cert", raw.root_cert)?,
        })
    }
}

/// A value starting with `-----BEGIN` is PEM text; anything else names a PEM file. Operators keep keys in files,
/// while generated configurations often inline them.
fn pem_or_path(value: &str) -> anyhow::Result<String> {
    if value.trim_start().starts_with("-----BEGIN") {
        return Ok(value.to_owned());
    }
    let text = std::fs::read_to_string(Path::new(value)).with_context(|| format!("reading {value}"))?;
    if !text.contains("-----BEGIN") {
        bail!("{value} holds no PEM block");
    }
    Ok(text)
}

/// Accepts what Go's `time.ParseDuration` accepts and the peer keeps (a positive duration such as "10s", "1m30s",
/// "500ms"), because the peer refuses connection.json when it cannot parse `dial_timeout`.
pub fn check_go_duration(s: &str) -> anyhow::Result<()> {
    const UNITS: [&str; 7] = ["ns", "us", "µs", "ms", "s", "m", "h"];
    let mut rest = s;
    let mut positive = false;
    if rest.is_empty() {
        bail!("is empty");
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let value: f64 = number.parse().map_err(|_| anyhow::anyhow!("is not a Go duration such as \"10s\""))?;
        positive |= value > 0.0;
        let unit = UNITS
            .iter()
            .filter(|u| tail.starts_with(**u))
            .max_by_key(|u| u.len())
            .ok_or_else(|| anyhow::anyhow!("is not a Go duration such as \"10s\" (units ns, us, ms, s, m, h)"))?;
        rest = &tail[unit.len()..];
    }
    if !positive {
        bail!("must be positive");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::parse(r#"{"admin_url":"http://127.0.0.1:9100/"}"#).unwrap();
        assert_eq!(c.admin_url, "http://127.0.0.1:9100");
        assert_eq!(c.mode, Mode::Lookup);
        assert_eq!(c.dial_timeout, "10s");
        assert!(!c.use_sni && c.admin_token.is_none() && c.root_cert.is_none());
    }

    #[test]
    fn pem_values_are_inline_or_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, CERT).unwrap();
        let json = serde_json::json!({
            "admin_url": "https://host:9100", "admin_ca": path, "root_cert": CERT,
            "client_cert": CERT, "client_key": path, "mode": "upload", "use_sni": true, "dial_timeout": "1m30s",
        });
        let c = Config::parse(&json.to_string()).unwrap();
        assert_eq!(c.admin_ca.as_deref(), Some(CERT));
        assert_eq!(c.root_cert.as_deref(), Some(CERT));
        assert_eq!(c.client_key.as_deref(), Some(CERT));
        assert_eq!((c.mode, c.use_sni, c.dial_timeout.as_str()), (Mode::Upload, true, "1m30s"));
    }

    #[test]
    fn bad_configs_say_why() {
        let cases = [
            ("not json", "not a valid configuration"),
            (r#"{}"#, "not a valid configuration"),
            (r#"{"admin_url":"ftp://x"}"#, "must start with http"),
            (r#"{"admin_url":"http://x","mode":"docker"}"#, "not a valid configuration"),
            (r#"{"admin_url":"http://x","typo":1}"#, "not a valid configuration"),
            (r#"{"admin_url":"http://x","dial_timeout":""}"#, "dial_timeout"),
            (r#"{"admin_url":"http://x","client_cert":"-----BEGIN X"}"#, "go together"),
            (r#"{"admin_url":"http://x","root_cert":"/nonexistent/ca.pem"}"#, "root_cert"),
        ];
        for (json, want) in cases {
            let err = format!("{:#}", Config::parse(json).unwrap_err());
            assert!(err.contains(want), "{json}: {err}");
            assert!(!err.contains('\n'), "{json}: one line expected: {err}");
        }
    }

    #[test]
    fn go_durations() {
        for ok in ["10s", "500ms", "1m30s", "1.5h", "3us", "2µs", "100ns"] {
            check_go_duration(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["", "10", "s", "0s", "10 s", "-1s", "10sec"] {
            assert!(check_go_duration(bad).is_err(), "{bad:?}");
        }
    }
}
