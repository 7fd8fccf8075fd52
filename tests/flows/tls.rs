//! TLS on the chaincode endpoints, end to end: a host configured with `[tls]` serves every chaincode on its own
//! mutual-TLS port and on one shared port that routes by the TLS server name, and the simulated peer dials both
//! from the connection.json the admin API describes.

use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};
use wasmcc_host::admin::ChaincodeInfo;
use wasmcc_host::client::AdminClient;
use wasmcc_host::config::Config;
use wasmcc_host::connection_json::{ConnectionJson, PeerConfig, TlsInfo};
use wasmcc_host::daemon::Daemon;
use wasmcc_host::package::write_package;
use wasmcc_host::routes::{sni_name, sni_name_for_ccid};
use wasmcc_peer::{args, ConnectOptions, PeerSim, SimError};
use wasmcc_tests::{free_port, free_ports, variant, wasm};

const SUFFIX: &str = "chaincodes.test";

pub(crate) fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A certificate and key issued by `ca`: `(cert PEM, key PEM)`.
pub(crate) fn issue(
    ca: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    ip: bool,
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    if ip {
        params.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    }
    params.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("peer0.org1"));
    params.extended_key_usages = vec![usage];
    (params.signed_by(&key, ca).unwrap().pem(), key.serialize_pem())
}

/// Fails fast: every refusal below is a TLS refusal, not a slow peer.
fn quick() -> ConnectOptions {
    ConnectOptions {
        startup_timeout: Duration::from_secs(3),
        dial_timeout: Duration::from_secs(3),
        ..Default::default()
    }
}

fn assert_refused(result: Result<wasmcc_peer::PeerConnection, SimError>, what: &str) {
    match result {
        Err(SimError::Dial { .. } | SimError::Rpc(_) | SimError::Handshake(_)) => {}
        Err(other) => panic!("{what}: expected a refused connection, got {other}"),
        Ok(_) => panic!("{what}: the connection was accepted"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_port_routes_by_sni_under_mutual_tls_and_refuses_strangers() {
    let dir = tempfile::tempdir().unwrap();
    let host_ca = ca("host CA");
    let peer_ca = ca("peer CA");
    let rogue_ca = ca("rogue CA");
    let wildcard = format!("*.{SUFFIX}");
    let (server_cert, server_key) = issue(&host_ca, &[&wildcard], true, ExtendedKeyUsagePurpose::ServerAuth);
    let (peer_cert, peer_key) = issue(&peer_ca, &[], false, ExtendedKeyUsagePurpose::ClientAuth);
    let (rogue_cert, rogue_key) = issue(&rogue_ca, &[], false, ExtendedKeyUsagePurpose::ClientAuth);

    // The chain file ends with the host CA: the root peers are told to trust.
    std::fs::write(dir.path().join("server.pem"), format!("{server_cert}{}", host_ca.pem())).unwrap();
    std::fs::write(dir.path().join("server.key"), &server_key).unwrap();
    std::fs::write(dir.path().join("peers-ca.pem"), peer_ca.pem()).unwrap();
    let shared_port = free_port();
    let chaincode_ports = free_ports(100);
    let toml = format!(
        "data_dir = \"data\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"test-token\"\n\
         [chaincodes]\nport_min = {}\nport_max = {}\n\
         [tls]\ncert = \"server.pem\"\nkey = \"server.key\"\nclient_ca = \"peers-ca.pem\"\n\
         shared_listen = \"127.0.0.1:{shared_port}\"\nsni_suffix = \"{SUFFIX}\"\n",
        chaincode_ports.0, chaincode_ports.1
    );
    let config_path = dir.path().join("host.toml");
    std::fs::write(&config_path, toml).unwrap();
    let config = Config::load(&config_path).unwrap();

    let daemon = Daemon::start(&config).await.unwrap();
    let api = AdminClient::new(&daemon.admin_url(), Some(daemon.token().to_string()), None).unwrap();
    let counter = wasm("counter");
    let (a, _) = api.install(write_package("counter-a", &counter, &[]).unwrap()).await.unwrap();
    let (b, _) = api.install(write_package("counter-b", &variant(&counter, 1), &[]).unwrap()).await.unwrap();

    // The admin API describes both routes: own port, SNI name on the shared port, and the CA to trust.
    for info in [&a, &b] {
        assert!(info.tls.enabled && info.tls.client_auth, "{info:?}");
        assert_eq!(info.tls.root_cert.as_deref().map(str::trim), Some(host_ca.pem().trim()));
        assert_eq!(info.route.sni, sni_name_for_ccid(&info.ccid, SUFFIX));
        assert_eq!(info.route.shared_address.as_deref(), Some(format!("127.0.0.1:{shared_port}").as_str()));
        assert_ne!(info.route.port, Some(shared_port));
    }
    assert_ne!(a.route.sni, b.route.sni);

    // Each SNI name reaches its own chaincode: its REGISTER names it, its state lives in its own namespace.
    let peer = PeerSim::new();
    let identity = PeerConfig::from_pem(&peer_cert, &peer_key).unwrap();
    let json = |info: &ChaincodeInfo| wasmcc_host::connection_json::for_chaincode(info, Some(&identity)).unwrap();
    let (json_a, json_b) = (json(&a), json(&b));
    assert_eq!(json_a.address, format!("127.0.0.1:{shared_port}"));
    assert_eq!(json_a.domain, a.route.sni);
    assert!(json_a.tls_required && json_a.client_auth_required);

    let conn_a = peer.connect_json(&json_a, &a.ccid, quick()).await.unwrap();
    let conn_b = peer.connect_json(&json_b, &b.ccid, quick()).await.unwrap();
    assert_eq!(conn_a.invoke("ch", args(["inc", "hits"])).await.unwrap().payload(), b"1");
    assert_eq!(conn_a.invoke("ch", args(["inc", "hits"])).await.unwrap().payload(), b"2");
    assert_eq!(conn_b.invoke("ch", args(["inc", "hits"])).await.unwrap().payload(), b"1");
    assert_eq!(peer.get("ch", "counter-a", "hits").as_deref(), Some(&b"2"[..]));
    assert_eq!(peer.get("ch", "counter-b", "hits").as_deref(), Some(&b"1"[..]));

    // B's name serves B, whatever CCID the peer expects.
    match peer.connect_json(&json_b, &a.ccid, quick()).await {
        Err(SimError::RegisterIgnored { got, .. }) => assert_eq!(got, b.ccid),
        Err(other) => panic!("expected B's REGISTER, got {other}"),
        Ok(_) => panic!("B's SNI name registered A"),
    }

    // Refused during the handshake: a client certificate from another CA, none at all, a name nobody serves.
    let rogue = ConnectionJson { client_cert: Some(rogue_cert), client_key: Some(rogue_key), ..json_a.clone() };
    assert_refused(peer.connect_json(&rogue, &a.ccid, quick()).await, "client cert of another CA");
    let anonymous = ConnectionJson { client_cert: None, client_key: None, ..json_a.clone() };
    assert_refused(peer.connect_json(&anonymous, &a.ccid, quick()).await, "no client cert");
    let ghost = sni_name("ghost", "0123456789abcdef", SUFFIX);
    let unknown = ConnectionJson { domain: Some(ghost), ..json_a.clone() };
    assert_refused(peer.connect_json(&unknown, &a.ccid, quick()).await, "unknown SNI name");

    // The chaincode's own port speaks mutual TLS too (no `domain`: the server certificate's IP SAN is checked).
    let tls = TlsInfo { root_cert: a.tls.root_cert.clone().unwrap(), client_auth_required: true, domain: None };
    let own_port =
        wasmcc_host::connection_json::for_route(a.route.address.clone().unwrap(), Some(&tls), Some(&identity)).unwrap();
    let direct = peer.connect_json(&own_port, &a.ccid, quick()).await.unwrap();
    assert_eq!(direct.invoke("ch", args(["inc", "hits"])).await.unwrap().payload(), b"3");
    let anonymous = ConnectionJson { client_cert: None, client_key: None, ..own_port.clone() };
    assert_refused(peer.connect_json(&anonymous, &a.ccid, quick()).await, "own port without client cert");

    // Removal closes A's streams and frees its name at once; B keeps serving.
    api.remove(&a.ccid).await.unwrap();
    for conn in [&conn_a, &direct] {
        tokio::time::timeout(Duration::from_secs(5), conn.closed()).await.expect("stream closed on removal");
    }
    assert_refused(peer.connect_json(&json_a, &a.ccid, quick()).await, "removed chaincode's SNI name");
    assert_eq!(conn_b.invoke("ch", args(["inc", "hits"])).await.unwrap().payload(), b"2");
    let again = peer.connect_json(&json_b, &b.ccid, quick()).await.unwrap();
    assert_eq!(again.invoke("ch", args(["inc", "hits"])).await.unwrap().payload(), b"3");
    daemon.shutdown().await;
}

#[tokio::test]
async fn admin_api_needs_tls_off_loopback_and_serves_https_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = wasmcc_tests::host_config(dir.path(), free_ports(10));
    config.admin.listen = "0.0.0.0:0".parse().unwrap();
    let refused = Daemon::start(&config).await.err().expect("plain HTTP off loopback must be refused");
    assert!(refused.to_string().contains("plain HTTP is served only on loopback"), "{refused}");

    let authority = ca("admin CA");
    let (cert, key) = issue(&authority, &["localhost"], true, ExtendedKeyUsagePurpose::ServerAuth);
    std::fs::write(dir.path().join("admin.pem"), &cert).unwrap();
    std::fs::write(dir.path().join("admin.key"), &key).unwrap();
    config.admin.tls_cert = Some(dir.path().join("admin.pem"));
    config.admin.tls_key = Some(dir.path().join("admin.key"));
    let daemon = Daemon::start(&config).await.unwrap();
    assert!(daemon.admin_url().starts_with("https://"));
    let url = format!("https://127.0.0.1:{}", daemon.admin_addr().port());
    let ca_pem = authority.pem();
    let api = AdminClient::new(&url, Some("test-token".into()), Some(ca_pem.as_bytes())).unwrap();
    let (info, created) = api.install(write_package("counter", &wasm("counter"), &[]).unwrap()).await.unwrap();
    assert!(created);
    assert_eq!(api.list().await.unwrap(), vec![info]);
    // A client that does not trust the host's CA gets nowhere.
    let stranger = AdminClient::new(&url, None, Some(ca("other CA").pem().as_bytes())).unwrap();
    assert!(stranger.list().await.is_err());
    daemon.shutdown().await;
}

/// A reload (SIGHUP) swaps the chaincode endpoints' certificate for new handshakes and applies new limits to new
/// transactions, while an open stream keeps serving; a certificate that does not read leaves the old one in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_renews_certificates_and_limits_without_dropping_streams() {
    let dir = tempfile::tempdir().unwrap();
    let (old_ca, new_ca) = (ca("old host CA"), ca("renewed host CA"));
    let write_server = |issuer: &CertifiedIssuer<'static, KeyPair>| {
        let (cert, key) = issue(issuer, &["localhost"], true, ExtendedKeyUsagePurpose::ServerAuth);
        std::fs::write(dir.path().join("server.pem"), format!("{cert}{}", issuer.pem())).unwrap();
        std::fs::write(dir.path().join("server.key"), key).unwrap();
    };
    write_server(&old_ca);
    let (port_min, port_max) = free_ports(10);
    let config_text = |fuel: u64| {
        format!(
            "data_dir = \"data\"\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"test-token\"\n\
             [chaincodes]\nport_min = {port_min}\nport_max = {port_max}\n[tls]\ncert = \"server.pem\"\nkey = \"server.key\"\n\
             [limits_for.misbehave]\nfuel = {fuel}\n"
        )
    };
    let config_path = dir.path().join("host.toml");
    std::fs::write(&config_path, config_text(3_000_000)).unwrap();
    let daemon = Daemon::start(&Config::load(&config_path).unwrap()).await.unwrap();
    let api = AdminClient::new(&daemon.admin_url(), Some(daemon.token().to_string()), None).unwrap();
    let (info, _) = api.install(write_package("misbehave", &wasm("misbehave"), &[]).unwrap()).await.unwrap();
    let trusting = |issuer: &CertifiedIssuer<'static, KeyPair>| ConnectionJson {
        address: info.route.address.clone().unwrap(),
        dial_timeout: "3s".into(),
        tls_required: true,
        client_auth_required: false,
        root_cert: Some(issuer.pem()),
        client_cert: None,
        client_key: None,
        domain: None,
    };
    let peer = PeerSim::new();
    let open = peer.connect_json(&trusting(&old_ca), &info.ccid, quick()).await.unwrap();
    let spin = || open.invoke("ch", args(["loop"]));
    let failed = spin().await.unwrap();
    assert!(format!("{:?}", failed.outcome).contains("fuel budget of 3000000"), "{:?}", failed.outcome);
    assert_refused(
        peer.connect_json(&trusting(&new_ca), &info.ccid, quick()).await,
        "the renewed CA before the reload",
    );

    // Renewed on disk, limits raised, then reloaded.
    write_server(&new_ca);
    std::fs::write(&config_path, config_text(4_000_000)).unwrap();
    let reloaded = daemon.reload(&Config::load(&config_path).unwrap()).unwrap();
    assert_eq!(reloaded.limits_changed, vec![info.ccid.clone()]);
    assert_eq!(reloaded.certificates, vec!["chaincode endpoints".to_owned()]);
    assert!(reloaded.restart_needed.is_empty(), "{reloaded:?}");

    let failed = spin().await.unwrap();
    assert!(
        format!("{:?}", failed.outcome).contains("fuel budget of 4000000"),
        "the open stream runs under new limits"
    );
    let renewed = peer.connect_json(&trusting(&new_ca), &info.ccid, quick()).await.unwrap();
    assert_eq!(renewed.invoke("ch", args(["ok"])).await.unwrap().payload(), b"ok");
    assert_refused(peer.connect_json(&trusting(&old_ca), &info.ccid, quick()).await, "the old CA after the reload");

    // A broken key file: the reload is refused and the renewed certificate keeps serving.
    std::fs::write(dir.path().join("server.key"), "not a key").unwrap();
    assert!(daemon.reload(&Config::load(&config_path).unwrap()).is_err());
    let again = peer.connect_json(&trusting(&new_ca), &info.ccid, quick()).await.unwrap();
    assert_eq!(again.invoke("ch", args(["ok"])).await.unwrap().payload(), b"ok");
    assert!(!open.is_terminated(), "the first stream lived through both reloads");
    daemon.shutdown().await;
}
