//! One plaintext port for every chaincode, routed by HTTP/2 `:authority`: a peer sends its connection.json address
//! as `:authority` even without TLS, so `<label>-<hash12>.<suffix>:<port>` reaches the chaincode of that name through
//! one port (one Kubernetes Service port for all), and anything else is refused with the reason.

use wasmcc_host::client::AdminClient;
use wasmcc_host::daemon::Daemon;
use wasmcc_host::package::write_package;
use wasmcc_peer::{args, ConnectOptions, PeerSim, SimError};
use wasmcc_tests::{free_ports, host_config, variant, wasm};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_shared_port_routes_streams_by_authority() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = host_config(dir.path(), free_ports(10));
    // Port 0: the system picks a free one (a fixed port in the ephemeral range can be taken by any client socket).
    config.chaincodes.shared_listen = Some("127.0.0.1:0".parse().unwrap());
    config.chaincodes.name_suffix = "cc.example".into();
    let daemon = Daemon::start(&config).await.unwrap();
    let shared = daemon.registry().shared_addr().expect("the shared port is bound").to_string();
    let port = shared.rsplit(':').next().unwrap().to_string();
    let api = AdminClient::new(&daemon.admin_url(), Some("test-token".into()), None).unwrap();
    let counter = wasm("counter");
    let (a, _) = api.install(write_package("counter-a", &counter, &[]).unwrap()).await.unwrap();
    let (b, _) = api.install(write_package("counter-b", &variant(&counter, 1), &[]).unwrap()).await.unwrap();
    for info in [&a, &b] {
        assert_eq!(info.route.shared_address.as_deref(), Some(shared.as_str()), "{info:?}");
        assert!(info.route.sni.as_deref().is_some_and(|n| n.ends_with(".cc.example")), "{info:?}");
    }

    let peer = PeerSim::new();
    let as_named = |name: &str| ConnectOptions { authority: Some(format!("{name}:{port}")), ..Default::default() };
    let name_a = a.route.sni.clone().unwrap();
    let conn_a = peer.connect_with(&shared, &a.ccid, as_named(&name_a)).await.unwrap();
    let conn_b = peer.connect_with(&shared, &b.ccid, as_named(b.route.sni.as_ref().unwrap())).await.unwrap();
    assert_eq!(conn_a.invoke("ch", args(["inc", "n"])).await.unwrap().payload(), b"1");
    assert_eq!(conn_b.invoke("ch", args(["inc", "n"])).await.unwrap().payload(), b"1");
    assert_eq!(conn_a.invoke("ch", args(["inc", "n"])).await.unwrap().payload(), b"2");
    // Names are not case-sensitive, as DNS.
    let shouted = peer.connect_with(&shared, &a.ccid, as_named(&name_a.to_uppercase())).await.unwrap();
    assert_eq!(shouted.invoke("ch", args(["inc", "n"])).await.unwrap().payload(), b"3");

    // A name nobody serves, or the bare address, is refused with the reason.
    let refused = |result: Result<wasmcc_peer::PeerConnection, SimError>| match result {
        Err(SimError::Rpc(status)) => status,
        Err(other) => panic!("expected a refused stream, got {other}"),
        Ok(_) => panic!("the stream was accepted"),
    };
    let ghost = refused(peer.connect_with(&shared, &a.ccid, as_named("ghost-0123456789ab.cc.example")).await);
    assert_eq!(ghost.code(), tonic::Code::NotFound);
    assert!(ghost.message().contains("ghost-0123456789ab.cc.example"), "{}", ghost.message());
    let bare = refused(peer.connect(&shared, &a.ccid).await);
    assert!(bare.message().contains("\"127.0.0.1\""), "{}", bare.message());

    // A removed chaincode's name stops routing at once; the other keeps serving.
    api.remove(&a.ccid).await.unwrap();
    let gone = refused(peer.connect_with(&shared, &a.ccid, as_named(&name_a)).await);
    assert_eq!(gone.code(), tonic::Code::NotFound);
    assert_eq!(conn_b.invoke("ch", args(["inc", "n"])).await.unwrap().payload(), b"2");
    daemon.shutdown().await;
}

/// `chaincodes.own_ports = false`: chaincodes have no port of their own (none is reserved, none listens), every one
/// is reached by its name on the shared port, across a restart, and a port cannot be pinned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_own_ports_every_chaincode_is_served_on_the_shared_port_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = host_config(dir.path(), free_ports(10));
    config.chaincodes.shared_listen = Some("127.0.0.1:0".parse().unwrap());
    config.chaincodes.own_ports = false;
    let daemon = Daemon::start(&config).await.unwrap();
    let api = AdminClient::new(&daemon.admin_url(), Some("test-token".into()), None).unwrap();
    let counter = wasm("counter");
    let (a, _) = api.install(write_package("counter-a", &counter, &[]).unwrap()).await.unwrap();
    assert_eq!((a.route.address.as_deref(), a.route.port), (None, None), "{a:?}");
    let shared = a.route.shared_address.clone().expect("the shared address");
    let name = a.route.sni.clone().expect("the chaincode's name on the shared port");
    assert_eq!(a.route.summary(), format!("{name} on the shared port {shared}"));
    // What a peer would be given: the name on the shared port, routed by `:authority`.
    let json = wasmcc_host::connection_json::for_chaincode(&a, None).unwrap();
    let port = shared.rsplit_once(':').unwrap().1;
    assert_eq!(json.address, format!("{name}:{port}"));

    let peer = PeerSim::new();
    let named = ConnectOptions { authority: Some(json.address.clone()), ..Default::default() };
    let conn = peer.connect_with(&shared, &a.ccid, named.clone()).await.unwrap();
    assert_eq!(conn.invoke("ch", args(["inc", "n"])).await.unwrap().payload(), b"1");
    assert!(daemon.registry().not_ready().is_none(), "{:?}", daemon.registry().not_ready());
    for port in config.chaincodes.port_min..=config.chaincodes.port_max {
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "something listens on {port}");
    }
    let pinned = write_package("counter-b", &variant(&counter, 1), &[]).unwrap();
    match api.install_on(pinned, Some(config.chaincodes.port_min + 1)).await {
        Err(wasmcc_host::client::ClientError::Api { status, message }) => {
            assert!(status >= 400 && message.contains("only on its shared port"), "{status} {message}")
        }
        other => panic!("a pinned port must be refused, got {other:?}"),
    }
    drop(conn);
    daemon.shutdown().await;

    // Restarted on the same data directory (and another shared port): the same chaincode by the same name.
    let daemon = Daemon::start(&config).await.unwrap();
    let shared = daemon.registry().shared_addr().unwrap().to_string();
    let named = ConnectOptions {
        authority: Some(format!("{name}:{}", shared.rsplit_once(':').unwrap().1)),
        ..Default::default()
    };
    let conn = peer.connect_with(&shared, &a.ccid, named).await.unwrap();
    assert_eq!(conn.invoke("ch", args(["inc", "n"])).await.unwrap().payload(), b"2");
    assert_eq!(daemon.registry().records().len(), 1, "the refused pinned install left nothing");
    daemon.shutdown().await;
}
