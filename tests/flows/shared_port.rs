//! One plaintext port for every chaincode, routed by HTTP/2 `:authority`: a peer sends its connection.json address
//! as `:authority` even without TLS, so `<label>-<hash12>.<suffix>:<port>` reaches the chaincode of that name through
//! one port (one Kubernetes Service port for all), and anything else is refused with the reason.

use wasmcc_host::client::AdminClient;
use wasmcc_host::daemon::Daemon;
use wasmcc_host::package::write_package;
use wasmcc_peer::{args, ConnectOptions, PeerSim, SimError};
use wasmcc_tests::{host_config, variant, wasm};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_shared_port_routes_streams_by_authority() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = host_config(dir.path(), (34110, 34119));
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
