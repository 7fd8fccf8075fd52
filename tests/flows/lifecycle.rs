//! Module lifecycle through the admin API: install, serve at once, restart without recompiling, remove.

use std::sync::Arc;

use futures::StreamExt;
use wasmcc_host::client::{AdminClient, ClientError};
use wasmcc_host::daemon::Daemon;
use wasmcc_host::engine::WasmEngine;
use wasmcc_host::package::write_package;
use wasmcc_peer::{args, PeerSim};
use wasmcc_tests::{free_ports, host_config, variant, wasm};

const CHAINCODES: u32 = 200;

fn client(daemon: &Daemon) -> AdminClient {
    AdminClient::new(&daemon.admin_url(), Some(daemon.token().to_string()), None).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_chaincodes_serve_and_survive_a_restart_without_recompiling() {
    let dir = tempfile::tempdir().unwrap();
    let config = host_config(dir.path(), free_ports(300));
    let counter = wasm("counter");
    let packages: Vec<(String, Vec<u8>)> = (0..CHAINCODES)
        .map(|i| {
            let label = format!("counter-v{i}");
            let pkg = write_package(&label, &variant(&counter, i), &[]).unwrap();
            (label, pkg)
        })
        .collect();

    let engine = Arc::new(WasmEngine::new().unwrap());
    let daemon = Daemon::start_with_engine(&config, engine.clone()).await.unwrap();
    let api = client(&daemon);
    let mut infos = Vec::new();
    for (_, pkg) in &packages {
        let (info, created) = api.install(pkg.clone()).await.unwrap();
        assert!(created);
        infos.push(info);
    }
    assert_eq!(engine.gauges().compilations(), CHAINCODES as i64);
    let distinct: std::collections::HashSet<_> = infos.iter().map(|i| i.route.port).collect();
    assert_eq!(distinct.len(), infos.len(), "every chaincode has its own port");

    // A simulated peer reaches each chaincode through its route and runs a transaction.
    let peer = PeerSim::new();
    let run_all = |expected: &'static [u8]| {
        let peer = peer.clone();
        let infos = infos.clone();
        async move {
            futures::stream::iter(infos)
                .map(|info| {
                    let peer = peer.clone();
                    async move {
                        let conn = peer.connect(info.route.address.as_deref().unwrap(), &info.ccid).await.unwrap();
                        let r = conn.invoke("ch", args(["inc", "hits"])).await.unwrap();
                        assert_eq!(r.payload(), expected, "{}", info.ccid);
                    }
                })
                .buffer_unordered(16)
                .collect::<Vec<_>>()
                .await;
        }
    };
    run_all(b"1").await;
    daemon.shutdown().await;

    // A new engine, as in a new process: every chaincode serves again from its stored artifact, loaded when a peer
    // first connects to it.
    let engine = Arc::new(WasmEngine::new().unwrap());
    let daemon = Daemon::start_with_engine(&config, engine.clone()).await.unwrap();
    assert_eq!(daemon.registry().records().len(), CHAINCODES as usize);
    let loaded = |daemon: &Daemon| infos.iter().filter(|i| daemon.registry().get(&i.ccid).unwrap().is_loaded()).count();
    assert_eq!(loaded(&daemon), 0, "nothing is loaded before a peer connects");
    run_all(b"2").await;
    assert_eq!(loaded(&daemon), CHAINCODES as usize);
    assert_eq!(engine.gauges().compilations(), 0, "a restart must not recompile");
    let mut sorted = infos.clone();
    sorted.sort_by(|a, b| a.ccid.cmp(&b.ccid));
    assert_eq!(client(&daemon).list().await.unwrap(), sorted, "same chaincodes on the same routes");

    // Another package of code the host compiled before (a new label, the same module): installed without compiling,
    // and served.
    let again = write_package("counter-again", &variant(&counter, 0), &[]).unwrap();
    let (info, created) = client(&daemon).install(again).await.unwrap();
    assert!(created && info.module_hash == infos[0].module_hash);
    assert_eq!(engine.gauges().compilations(), 0, "its artifact was already there");
    let conn = peer.connect(info.route.address.as_deref().unwrap(), &info.ccid).await.unwrap();
    assert_eq!(conn.invoke("ch", args(["inc", "hits"])).await.unwrap().payload(), b"1");
    daemon.shutdown().await;
}

#[tokio::test]
async fn install_is_served_at_once_and_removal_closes_streams_and_frees_the_route() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&host_config(dir.path(), free_ports(10))).await.unwrap();
    let api = client(&daemon);
    let pkg = write_package("counter", &wasm("counter"), &[]).unwrap();
    let (info, created) = api.install(pkg.clone()).await.unwrap();
    assert!(created);
    assert_eq!(info.ccid, wasmcc_common::package::package_id("counter", &pkg));
    let (again, created) = api.install(pkg.clone()).await.unwrap();
    assert!(!created, "the same package twice is a no-op");
    assert_eq!(again, info);

    let peer = PeerSim::new();
    let conn = peer.connect(info.route.address.as_deref().unwrap(), &info.ccid).await.unwrap();
    assert_eq!(conn.invoke("ch", args(["inc", "a"])).await.unwrap().payload(), b"1");

    api.remove(&info.ccid).await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), conn.closed()).await.expect("stream closed on removal");
    assert!(peer.connect(info.route.address.as_deref().unwrap(), &info.ccid).await.is_err(), "the route is gone");
    match api.show(&info.ccid).await {
        Err(ClientError::Api { status: 404, .. }) => {}
        other => panic!("expected 404, got {other:?}"),
    }
    assert!(matches!(api.remove(&info.ccid).await, Err(ClientError::Api { status: 404, .. })));

    // Installing it again brings it back.
    let (back, created) = api.install(pkg).await.unwrap();
    assert!(created);
    let conn = peer.connect(back.route.address.as_deref().unwrap(), &back.ccid).await.unwrap();
    assert_eq!(conn.invoke("ch", args(["inc", "a"])).await.unwrap().payload(), b"2");
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_damaged_artifact_is_recompiled_on_first_use_and_an_upgraded_engine_recompiles_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = host_config(dir.path(), free_ports(10));
    let daemon = Daemon::start(&config).await.unwrap();
    let pkg = write_package("counter", &wasm("counter"), &[]).unwrap();
    let (info, _) = client(&daemon).install(pkg).await.unwrap();
    daemon.shutdown().await;

    let compiled = dir.path().join("compiled");
    let artifact = std::fs::read_dir(&compiled).unwrap().next().unwrap().unwrap().path();
    std::fs::write(&artifact, b"not an artifact").unwrap();
    let engine = Arc::new(WasmEngine::new().unwrap());
    let daemon = Daemon::start_with_engine(&config, engine.clone()).await.unwrap();
    assert_eq!(engine.gauges().compilations(), 0, "a damaged artifact is only found when loaded");
    let conn = PeerSim::new().connect(info.route.address.as_deref().unwrap(), &info.ccid).await.unwrap();
    assert_eq!(conn.invoke("ch", args(["inc", "a"])).await.unwrap().payload(), b"1");
    assert_eq!(engine.gauges().compilations(), 1, "recompiled from the stored module");
    drop(conn);
    daemon.shutdown().await;

    // An artifact another engine build wrote has another name: as if the host were upgraded, none is found.
    std::fs::remove_file(&artifact).unwrap();
    let engine = Arc::new(WasmEngine::new().unwrap());
    let daemon = Daemon::start_with_engine(&config, engine.clone()).await.unwrap();
    assert_eq!(engine.gauges().compilations(), 1, "recompiled at start, before any peer connects");
    let conn = PeerSim::new().connect(info.route.address.as_deref().unwrap(), &info.ccid).await.unwrap();
    assert_eq!(conn.invoke("ch", args(["inc", "a"])).await.unwrap().payload(), b"1");
    assert_eq!(engine.gauges().compilations(), 1);
    daemon.shutdown().await;
}

/// A peer keeps a chaincode's connection.json for as long as it has the package: the route it holds must never lead
/// to another chaincode, or the peer waits minutes on a REGISTER it does not expect, stalling its channel.
#[tokio::test]
async fn a_route_once_given_never_leads_to_another_chaincode_across_removals_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = host_config(dir.path(), free_ports(10));
    let pinned = config.chaincodes.port_max - 1;
    let daemon = Daemon::start(&config).await.unwrap();
    let api = client(&daemon);
    let counter = wasm("counter");
    let p = write_package("p", &variant(&counter, 1), &[]).unwrap();
    let f = write_package("f", &variant(&counter, 2), &[]).unwrap();
    let (p_info, _) = api.install(p.clone()).await.unwrap();

    // Remove P; its port is not handed to F, which comes next.
    let removed = api.remove(&p_info.ccid).await.unwrap();
    assert_eq!(removed.route, p_info.route, "the removal answers the route that stays reserved");
    let (f_info, _) = api.install(f.clone()).await.unwrap();
    assert_ne!(f_info.route.port, p_info.route.port, "a removed chaincode's port stays reserved for it");

    // Installing P again gives it its old port back: the peer's old connection.json works again.
    let (p_again, created) = api.install(p.clone()).await.unwrap();
    assert!(created);
    assert_eq!(p_again.route, p_info.route);
    let peer = PeerSim::new();
    for info in [&p_again, &f_info] {
        let conn = peer.connect(info.route.address.as_deref().unwrap(), &info.ccid).await.unwrap();
        assert_eq!(conn.ccid(), info.ccid, "each route leads to its own chaincode");
    }

    // An operator may pin a port, but never one that belonged to another chaincode.
    let g = write_package("g", &variant(&counter, 3), &[]).unwrap();
    match api.install_on(g.clone(), p_info.route.port).await {
        Err(ClientError::Api { status: 409, message }) => assert!(message.contains(&p_info.ccid), "{message}"),
        other => panic!("expected 409, got {other:?}"),
    }
    let (g_info, _) = api.install_on(g.clone(), Some(pinned)).await.unwrap();
    assert_eq!(g_info.route.port, Some(pinned));
    api.remove(&g_info.ccid).await.unwrap();
    daemon.shutdown().await;

    // After a restart the reservations hold: G's port is not free for a new chaincode, and comes back to G.
    let daemon = Daemon::start(&config).await.unwrap();
    let api = client(&daemon);
    match api.install_on(write_package("h", &variant(&counter, 4), &[]).unwrap(), Some(pinned)).await {
        Err(ClientError::Api { status: 409, message }) => assert!(message.contains(&g_info.ccid), "{message}"),
        other => panic!("expected 409, got {other:?}"),
    }
    let (g_back, _) = api.install(g).await.unwrap();
    assert_eq!(g_back.route.port, Some(pinned));
    for info in [&p_again, &f_info, &g_back] {
        let conn = peer.connect(info.route.address.as_deref().unwrap(), &info.ccid).await.unwrap();
        assert_eq!(conn.ccid(), info.ccid);
    }
    daemon.shutdown().await;
}
