//! What an operator reads off a running host: `/metrics` counts the outcomes, stub calls and streams the test
//! causes, `/healthz` answers while the process serves, and `/readyz` turns to 503 while the store is unreachable —
//! all without the admin token, on the admin listener and on the `[metrics]` listener.

use wasmcc_host::client::AdminClient;
use wasmcc_host::daemon::Daemon;
use wasmcc_host::limits::TxLimits;
use wasmcc_peer::{args, PeerSim};
use wasmcc_testkit::metrics::sample;
use wasmcc_tests::{free_ports, host_config, wasm};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_happened_and_readiness_follows_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut config = host_config(&data, free_ports(10));
    // A port the system hands out now: a fixed one may be some other test's connection's local port.
    let metrics_port = wasmcc_tests::free_port();
    config.metrics.listen = Some(([127, 0, 0, 1], metrics_port).into());
    let small_fuel = TxLimits { fuel: 5_000_000, ..TxLimits::default() };
    config.limits_for.insert("misbehave".into(), small_fuel);
    let daemon = Daemon::start(&config).await.unwrap();
    let admin = AdminClient::new(&daemon.admin_url(), Some("test-token".into()), None).unwrap();
    let package = wasmcc_host::package::write_package("misbehave", &wasm("misbehave"), &[]).unwrap();
    let (info, _) = admin.install(package).await.unwrap();

    let peer = PeerSim::new();
    let conn = peer.connect(info.route.address.as_deref().unwrap(), &info.ccid).await.unwrap();
    for call in [&["ok"][..], &["ok"], &["nope"], &["trap"], &["loop"], &["put", "k", "v"]] {
        conn.invoke("mychannel", args(call.iter().copied())).await.unwrap();
    }
    let stranger = AdminClient::new(&daemon.admin_url(), Some("wrong".into()), None).unwrap();
    assert!(stranger.remove(&info.ccid).await.is_err(), "a wrong token is refused");

    let open = AdminClient::new(&daemon.admin_url(), None, None).unwrap();
    let (status, text) = open.probe("/metrics").await.unwrap();
    assert_eq!(status, 200, "no token needed: {text}");
    let hash = &info.ccid["misbehave:".len().."misbehave:".len() + 12];
    let of = |outcome: &str| {
        sample(
            &text,
            &["wasmcc_transactions_total{", "chaincode=\"misbehave\"", hash, &format!("outcome=\"{outcome}\"")],
        )
    };
    assert_eq!(of("ok"), 3.0, "two ok and the put");
    assert_eq!(of("chaincode_error"), 1.0);
    assert_eq!(of("trap"), 1.0);
    assert_eq!(of("out_of_fuel"), 1.0);
    assert_eq!(of("timeout"), 0.0);
    assert_eq!(sample(&text, &["wasmcc_transaction_duration_seconds_count{", "misbehave"]), 6.0);
    assert!(sample(&text, &["wasmcc_fuel_consumed_total{", "misbehave"]) >= 5_000_000.0, "the loop burned its budget");
    assert!(sample(&text, &["wasmcc_guest_memory_peak_bytes{", "misbehave"]) >= 65536.0);
    assert_eq!(sample(&text, &["wasmcc_stub_calls_total{", "call=\"PUT_STATE\""]), 1.0);
    assert_eq!(sample(&text, &["wasmcc_peer_streams{", "misbehave"]), 1.0);
    assert_eq!(sample(&text, &["wasmcc_installs_total"]), 1.0);
    assert_eq!(sample(&text, &["wasmcc_instances_in_use"]), 0.0);
    assert_eq!(sample(&text, &["wasmcc_cpu_turn_waiters"]), 0.0, "nothing runs");
    assert_eq!(sample(&text, &["wasmcc_guest_threads"]), config.quota.threads() as f64);
    assert!(sample(&text, &["wasmcc_compiles_total"]) >= 1.0);
    assert_eq!(sample(&text, &["wasmcc_admin_requests_total{", "status=\"403\""]), 1.0);
    assert!(!text.contains(&info.ccid), "labels carry the hash's prefix only");

    // The same on the [metrics] listener, with the probes.
    let probes = AdminClient::new(&format!("http://127.0.0.1:{metrics_port}"), None, None).unwrap();
    let get = |path: &'static str| {
        let probes = &probes;
        async move { probes.probe(path).await.unwrap() }
    };
    let (status, text) = get("/metrics").await;
    assert_eq!((status, sample(&text, &["wasmcc_installs_total"])), (200, 1.0));
    assert_eq!(get("/healthz").await.0, 200);
    assert_eq!(get("/readyz").await, (200, "ready\n".to_owned()));
    assert_eq!(get("/v1/chaincodes").await.0, 404, "the admin API is not on this listener");

    // The store goes away: not ready (the process still serves), and ready again when it is back.
    let moved = dir.path().join("moved");
    std::fs::rename(&data, &moved).unwrap();
    let (status, why) = get("/readyz").await;
    assert_eq!(status, 503, "{why}");
    assert!(why.contains("not reachable"), "{why}");
    assert_eq!(get("/healthz").await.0, 200);
    std::fs::rename(&moved, &data).unwrap();
    assert_eq!(get("/readyz").await.0, 200);

    conn.close();
    daemon.shutdown().await;
}
