//! connection.json as the peer parses it (Go `encoding/json` into typed fields), from the host's answer about a
//! chaincode and the peer's own configuration.
//!
//! The traps this avoids (`docs/fabric-protocol.md` §7, §9 pitfalls 1–3, §10 item 13): booleans must be JSON
//! booleans, not strings; `dial_timeout` must be a Go duration string, never empty; `domain` is honoured only with
//! client auth, so it is written only then, and only for the shared SNI route where the TLS name differs from the
//! address.

use anyhow::bail;
use wasmcc_common::admin::{ChaincodeInfo, Dial, DialPreference};
use wasmcc_common::connection::ConnectionJson;

use crate::config::Config;

/// The connection.json for the chaincode the host described, as this builder's configuration asks.
pub fn connection_json(info: &ChaincodeInfo, config: &Config) -> anyhow::Result<ConnectionJson> {
    let tls = &info.tls;
    let root_cert = if tls.enabled {
        match config.root_cert.clone().or_else(|| tls.root_cert.clone()) {
            Some(pem) => Some(pem),
            None => bail!(
                "the host serves {} over TLS but reports no CA certificate: set root_cert in the builder \
                 configuration",
                info.ccid
            ),
        }
    } else {
        None
    };
    let client_auth = tls.enabled && tls.client_auth;
    let (client_cert, client_key) = if client_auth {
        match (&config.client_cert, &config.client_key) {
            (Some(cert), Some(key)) => (Some(cert.clone()), Some(key.clone())),
            _ => bail!(
                "the host requires TLS client authentication for {}: set client_cert and client_key (the \
                 peer's TLS client identity) in the builder configuration",
                info.ccid
            ),
        }
    } else {
        (None, None)
    };
    let prefer = DialPreference {
        shared_address: config.shared_address.as_deref(),
        use_sni: config.use_sni,
        use_host_names: config.use_host_names,
    };
    let (address, domain) = match info.route.dial(tls, prefer) {
        Some(Dial::SharedBySni { address, domain }) => (address, Some(domain)),
        Some(Dial::SharedByName(address)) => (address, None),
        Some(Dial::Own(own)) => (with_host(&own, config.chaincode_host.as_deref())?, None),
        None => bail!(
            "the host serves {} only on its shared port, and reports no shared port a peer could use for it",
            info.ccid
        ),
    };
    Ok(ConnectionJson {
        address,
        dial_timeout: config.dial_timeout.clone(),
        tls_required: tls.enabled,
        client_auth_required: client_auth,
        domain,
        root_cert,
        client_cert,
        client_key,
    })
}

/// `address` with its host replaced, keeping the port.
fn with_host(address: &str, host: Option<&str>) -> anyhow::Result<String> {
    let Some(host) = host else { return Ok(address.to_owned()) };
    match wasmcc_common::connection::with_host(address, host) {
        Some(address) => Ok(address),
        None => bail!("the host reported the route {address:?}, which has no port"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn info(tls: Value) -> ChaincodeInfo {
        serde_json::from_value(json!({
            "ccid": "cc:ab", "label": "cc", "module_hash": "ab", "module_size": 1,
            "route": {"address": "10.0.0.1:9101", "port": 9101, "sni": "cc-ab.chaincodes.wasmcc",
                      "shared_address": "10.0.0.1:9443"},
            "tls": tls,
        }))
        .unwrap()
    }

    fn config(extra: Value) -> Config {
        let mut doc = json!({"admin_url": "http://h:9100"});
        doc.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        Config::parse(&doc.to_string()).unwrap()
    }

    fn json_of(c: &ConnectionJson) -> Value {
        serde_json::to_value(c).unwrap()
    }

    #[test]
    fn plaintext_has_real_booleans_and_a_dial_timeout() {
        let c = connection_json(&info(json!({"enabled": false})), &config(json!({"use_sni": true}))).unwrap();
        assert_eq!(
            json_of(&c),
            json!({"address": "10.0.0.1:9101", "dial_timeout": "10s", "tls_required": false,
                   "client_auth_required": false})
        );
    }

    #[test]
    fn server_tls_uses_the_host_ca_or_the_override_and_never_a_domain() {
        let c = connection_json(&info(json!({"enabled": true, "root_cert": "host-ca"})), &config(json!({}))).unwrap();
        let v = json_of(&c);
        assert_eq!((v["tls_required"].clone(), v["root_cert"].clone()), (json!(true), json!("host-ca")));
        assert!(v.get("domain").is_none() && v.get("client_key").is_none());

        let c = connection_json(
            &info(json!({"enabled": true, "root_cert": "host-ca"})),
            &config(json!({"root_cert": PEM, "use_sni": true})),
        )
        .unwrap();
        assert_eq!(c.root_cert.as_deref(), Some(PEM));
        assert_eq!((c.address.as_str(), c.domain.as_deref()), ("10.0.0.1:9101", None));

        let err = connection_json(&info(json!({"enabled": true})), &config(json!({}))).unwrap_err();
        assert!(err.to_string().contains("set root_cert"));
    }

    #[test]
    fn client_auth_needs_the_peer_identity_and_may_use_sni() {
        let tls = json!({"enabled": true, "client_auth": true, "root_cert": "ca"});
        let err = connection_json(&info(tls.clone()), &config(json!({}))).unwrap_err();
        assert!(err.to_string().contains("set client_cert and client_key"));

        let identity = json!({"client_cert": PEM, "client_key": PEM});
        let c = connection_json(&info(tls.clone()), &config(identity.clone())).unwrap();
        assert_eq!((c.address.as_str(), c.domain.as_deref()), ("10.0.0.1:9101", None));
        assert!(c.client_auth_required && c.client_cert.is_some() && c.client_key.is_some());

        let mut sni = identity.clone();
        sni["use_sni"] = json!(true);
        let c = connection_json(&info(tls.clone()), &config(sni.clone())).unwrap();
        assert_eq!((c.address.as_str(), c.domain.as_deref()), ("10.0.0.1:9443", Some("cc-ab.chaincodes.wasmcc")));

        sni["shared_address"] = json!("wasmcc.example:443");
        let c = connection_json(&info(tls), &config(sni)).unwrap();
        assert_eq!(c.address, "wasmcc.example:443");
    }

    #[test]
    fn chaincode_host_replaces_only_the_host() {
        let c = connection_json(&info(json!({})), &config(json!({"chaincode_host": "wasmcc.example"}))).unwrap();
        assert_eq!(c.address, "wasmcc.example:9101");
        let c = connection_json(&info(json!({})), &config(json!({"chaincode_host": "::1"}))).unwrap();
        assert_eq!(c.address, "[::1]:9101");
    }

    #[test]
    fn host_names_route_plaintext_chaincodes_through_the_shared_port() {
        let plain = info(json!({"enabled": false}));
        let by_name = connection_json(&plain, &config(json!({"use_host_names": true}))).unwrap();
        assert_eq!(by_name.address, "cc-ab.chaincodes.wasmcc:9443");
        assert!(!by_name.tls_required && by_name.domain.is_none());
        let own = connection_json(&plain, &config(json!({}))).unwrap();
        assert_eq!(own.address, "10.0.0.1:9101", "opt-in only");
        let tls = info(json!({"enabled": true, "client_auth": false, "root_cert": PEM}));
        let tls = connection_json(&tls, &config(json!({"use_host_names": true}))).unwrap();
        assert_eq!(tls.address, "10.0.0.1:9101", "TLS routes by the certificate's names, not by these");
    }

    #[test]
    fn a_chaincode_without_a_port_of_its_own_is_reached_on_the_shared_port() {
        let shared_only = |tls: Value| {
            let mut info = info(tls);
            (info.route.address, info.route.port) = (None, None);
            info
        };
        let plain = connection_json(&shared_only(json!({"enabled": false})), &config(json!({}))).unwrap();
        assert_eq!(plain.address, "cc-ab.chaincodes.wasmcc:9443");
        let identity = json!({"client_cert": PEM, "client_key": PEM});
        let mtls = shared_only(json!({"enabled": true, "client_auth": true, "root_cert": "ca"}));
        let c = connection_json(&mtls, &config(identity)).unwrap();
        assert_eq!((c.address.as_str(), c.domain.as_deref()), ("10.0.0.1:9443", Some("cc-ab.chaincodes.wasmcc")));
        let mut unreachable = shared_only(json!({"enabled": false}));
        unreachable.route.shared_address = None;
        let err = connection_json(&unreachable, &config(json!({}))).unwrap_err().to_string();
        assert!(err.contains("only on its shared port"), "{err}");
    }
}
