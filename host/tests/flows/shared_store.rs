//! Many hosts, one store: `wasmcc serve` processes on 127.0.0.1, .2, .3 (and .4) sharing one real PostgreSQL. What
//! one host installs every host serves, on the same port; a removal anywhere stops it everywhere; two hosts
//! installing one package at once make one chaincode; a host started with an empty data directory serves everything;
//! `/readyz` follows the store; and a host killed (`kill -9`) during an install leaves the store as if the install
//! either happened whole or never began.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wasmcc_host::client::AdminClient;
use wasmcc_peer::{args, PeerSim, TxOutcome};
use wasmcc_testkit::postgres::TempPostgres;

use crate::{example, Served};

/// One `wasmcc serve` with its own data directory, chaincodes on `127.0.0.<n>`.
struct Host {
    dir: tempfile::TempDir,
    ip: String,
    admin_url: String,
    admin: AdminClient,
    process: Option<Served>,
}

impl Host {
    fn start(n: u8, pg: &TempPostgres, ports: (u16, u16)) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let admin_port = wasmcc_testkit::ports::free_port();
        let ip = format!("127.0.0.{n}");
        let config = format!(
            "data_dir = \"data\"\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\ntoken = \"t\"\n\
             [chaincodes]\nlisten_ip = \"{ip}\"\nport_min = {}\nport_max = {}\n[store]\npostgres = \"{}\"\n",
            ports.0,
            ports.1,
            pg.url()
        );
        std::fs::write(dir.path().join("host.toml"), config).unwrap();
        let admin_url = format!("http://127.0.0.1:{admin_port}");
        let admin = AdminClient::new(&admin_url, Some("t".into()), None).unwrap();
        let mut host = Host { dir, ip, admin_url, admin, process: None };
        host.spawn();
        host
    }

    /// Starts the process (again) on the same configuration and data directory; its log goes to `host.log`.
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_wasmcc"))
            .args(["serve", "--config"])
            .arg(self.dir.path().join("host.toml"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.process = Some(Served(child));
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("host.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// `kill -9`.
    fn kill(&mut self) {
        drop(self.process.take());
    }

    async fn readyz(&self) -> (u16, String) {
        self.admin.probe("/readyz").await.unwrap_or((0, "no answer".into()))
    }

    /// The CCIDs this host serves, with their ports.
    async fn serving(&self) -> Vec<(String, u16)> {
        let list = self.admin.list().await.unwrap_or_default();
        list.into_iter().map(|c| (c.ccid, c.route.port.unwrap())).collect()
    }

    /// The host's copy of the shared store's route book, as its data directory keeps it.
    fn route_book(&self) -> wasmcc_host::routes::RouteBook {
        wasmcc_host::store::Store::open(self.dir.path().join("data")).unwrap().routes().unwrap()
    }

    async fn metric(&self, parts: &[&str]) -> f64 {
        let (_, text) = self.admin.probe("/metrics").await.unwrap();
        wasmcc_testkit::metrics::sample(&text, parts)
    }
}

/// Waits (up to 20 s) until `check` holds; panics with `what` and the hosts' logs otherwise. Returns how long it took.
async fn until<F: std::future::Future<Output = bool>>(what: &str, hosts: &[&Host], check: impl Fn() -> F) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if check().await {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let logs: Vec<String> = hosts.iter().map(|h| format!("--- {} ---\n{}", h.ip, h.log())).collect();
    panic!("{what}: not within 20 s\n{}", logs.join("\n"));
}

fn package(label: &str, module: &str) -> Vec<u8> {
    wasmcc_host::package::write_package(label, &std::fs::read(example(module)).unwrap(), &[]).unwrap()
}

async fn serves(host: &Host, ccid: &str) -> bool {
    host.serving().await.iter().any(|(c, _)| c == ccid)
}

/// Increments `key` through the host at `ip`, `times` times; each must succeed.
async fn increment(peer: &PeerSim, ip: &str, port: u16, ccid: &str, key: &str, times: usize) {
    let conn = peer.connect(&format!("{ip}:{port}"), ccid).await.unwrap();
    for _ in 0..times {
        let result = conn.invoke("mychannel", args(["inc", key])).await.unwrap();
        assert!(matches!(&result.outcome, TxOutcome::Completed(r) if r.status == 200), "{:?}", result.outcome);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hosts_serve_what_one_store_holds() {
    let pg = TempPostgres::start();
    let ports = wasmcc_testkit::ports::free_ports(20);
    let start = |n| Host::start(n, &pg, ports);
    let (one, two, three) = (start(1), start(2), start(3));
    let all = [&one, &two, &three];
    for host in all {
        until("every host ready", &all, || async { host.readyz().await.0 == 200 }).await;
    }

    // Installed on host 1: served by hosts 2 and 3 on the same port, soon after.
    let (counter, created) = one.admin.install(package("counter", "counter")).await.unwrap();
    assert!(created);
    let took = until("hosts 2 and 3 serve counter", &all, || async {
        serves(&two, &counter.ccid).await && serves(&three, &counter.ccid).await
    })
    .await;
    eprintln!("an install on host 1 was served by hosts 2 and 3 {took:?} after it was answered");
    // From here on each host reads only what an announcement names, until its connection to the store drops.
    let full_reads = ["wasmcc_shared_store_full_reads_total"];
    let reads_before = [one.metric(&full_reads).await, two.metric(&full_reads).await, three.metric(&full_reads).await];
    assert!(reads_before.iter().all(|n| *n >= 1.0), "{reads_before:?}");
    for host in all {
        assert_eq!(host.serving().await, [(counter.ccid.clone(), counter.route.port.unwrap())], "{}", host.ip);
        let book = host.route_book();
        assert_eq!(book.port_owner(counter.route.port.unwrap()), Some(counter.ccid.as_str()), "{}", host.ip);
    }

    // Transactions through hosts 2 and 3 (one peer, one ledger).
    let peer = PeerSim::new();
    increment(&peer, &two.ip, counter.route.port.unwrap(), &counter.ccid, "k", 3).await;
    increment(&peer, &three.ip, counter.route.port.unwrap(), &counter.ccid, "k", 2).await;
    assert_eq!(peer.get("mychannel", "counter", "k").as_deref(), Some(&b"5"[..]));
    let hash = &counter.ccid["counter:".len().."counter:".len() + 12];
    let ok = ["wasmcc_transactions_total{", "chaincode=\"counter\"", hash, "outcome=\"ok\""];
    assert_eq!((two.metric(&ok).await, three.metric(&ok).await), (3.0, 2.0));
    assert_eq!(one.metric(&["wasmcc_installs_total"]).await, 1.0);

    // One package on two hosts at once: one chaincode, one port, created once.
    let probe = package("probe", "probe");
    let (on_two, on_three) = tokio::join!(two.admin.install(probe.clone()), three.admin.install(probe.clone()));
    let ((a, created_a), (b, created_b)) = (on_two.unwrap(), on_three.unwrap());
    assert_eq!((&a.ccid, a.route.port), (&b.ccid, b.route.port));
    assert!(created_a ^ created_b, "exactly one host created it");
    assert_ne!(a.route.port.unwrap(), counter.route.port.unwrap());
    until("host 1 serves probe", &all, || serves(&one, &a.ccid)).await;
    let installs = two.metric(&["wasmcc_installs_total"]).await + three.metric(&["wasmcc_installs_total"]).await;
    assert_eq!(installs, 1.0);

    // Removed on host 3: no host serves it any more, and its port stops answering on every host.
    three.admin.remove(&counter.ccid).await.unwrap();
    until("no host serves counter", &all, || async {
        !serves(&one, &counter.ccid).await && !serves(&two, &counter.ccid).await
    })
    .await;
    assert_eq!(three.metric(&["wasmcc_removes_total"]).await, 1.0);
    let reads_after = [one.metric(&full_reads).await, two.metric(&full_reads).await, three.metric(&full_reads).await];
    assert_eq!(reads_after, reads_before, "an install and a removal made no host read the whole store");
    for host in all {
        let refused = peer.connect(&format!("{}:{}", host.ip, counter.route.port.unwrap()), &counter.ccid).await;
        assert!(refused.is_err(), "{} still answers on counter's port", host.ip);
    }

    // A host started with an empty data directory serves everything the store holds once it is ready.
    let four = start(4);
    until("host 4 ready", &[&four], || async { four.readyz().await.0 == 200 }).await;
    assert_eq!(four.serving().await, [(a.ccid.clone(), a.route.port.unwrap())]);
    let book = four.route_book();
    assert_eq!(
        book.port_owner(counter.route.port.unwrap()),
        Some(counter.ccid.as_str()),
        "a removed one's route stays"
    );
    assert_eq!(book.port_owner(a.route.port.unwrap()), Some(a.ccid.as_str()));
    let conn = peer.connect(&format!("{}:{}", four.ip, a.route.port.unwrap()), &a.ccid).await.unwrap();
    let answered = conn.invoke("mychannel", args(["get", "x"])).await.unwrap();
    assert!(matches!(answered.outcome, TxOutcome::Completed(_)), "{:?}", answered.outcome);

    // The store goes down: every host says it is not ready, installs are refused with the reason, what is installed
    // keeps serving; the store comes back and so does readiness (and what was missed is read).
    pg.stop();
    until("host 1 not ready", &all, || async {
        let (status, body) = one.readyz().await;
        status == 503 && body.contains("shared store")
    })
    .await;
    let refused = two.admin.install(package("counter", "counter")).await.unwrap_err().to_string();
    assert!(refused.contains("503") && refused.contains("shared store"), "{refused}");
    let kept = two.admin.remove(&a.ccid).await.unwrap_err().to_string();
    assert!(kept.contains("503") && kept.contains("not removed") && kept.contains("shared store"), "{kept}");
    let still = peer.connect(&format!("{}:{}", one.ip, a.route.port.unwrap()), &a.ccid).await.unwrap();
    assert!(matches!(still.invoke("mychannel", args(["get", "x"])).await.unwrap().outcome, TxOutcome::Completed(_)));
    pg.restart();
    for host in all {
        until("ready again", &all, || async { host.readyz().await.0 == 200 }).await;
    }
    assert!(two.metric(&full_reads).await > reads_after[1], "a reconnected host reads the whole store");
    assert_eq!(
        two.serving().await,
        [(a.ccid.clone(), a.route.port.unwrap())],
        "the refused install and removal left nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_killed_during_an_install_leaves_the_store_whole() {
    let pg = TempPostgres::start();
    let ports = wasmcc_testkit::ports::free_ports(20);
    let (mut one, two) = (Host::start(1, &pg, ports), Host::start(2, &pg, ports));
    let all = [&one, &two];
    until("hosts ready", &all, || async { one.readyz().await.0 == 200 && two.readyz().await.0 == 200 }).await;

    // Kill host 1 at moments spread over an install (receiving, compiling, writing the store, answering): whatever
    // the moment, the chaincode is either whole in the store and served by host 2, or nowhere.
    // How long one install takes here, measured first: the kills are spread from its start to past its end.
    let start = Instant::now();
    let timing = one.admin.install(package("timing", "asset_transfer")).await.unwrap().0;
    let install = start.elapsed();
    until("host 2 serves it", &all, || serves(&two, &timing.ccid)).await;
    let delays: Vec<Duration> = (0..8u32).map(|k| install * k / 6).collect();
    let mut whole = 0;
    for (i, delay) in delays.iter().enumerate() {
        let label = format!("asset{i}");
        let admin = AdminClient::new(&one.admin_url, Some("t".into()), None).unwrap();
        let bytes = package(&label, "asset_transfer");
        let install = tokio::spawn(async move { admin.install(bytes).await });
        tokio::time::sleep(*delay).await;
        one.kill();
        let answered = install.await.unwrap();
        let two_ref = &two;
        let listed = two_ref.serving().await;
        let in_store = store_rows(&pg, &label).await;
        if let Ok((info, _)) = &answered {
            assert!(in_store, "{label}: answered as installed, so it is in the store");
            until("host 2 serves what host 1 installed", &[&two], || serves(two_ref, &info.ccid)).await;
            whole += 1;
        } else if in_store {
            let ccid = until_ccid(two_ref, &label).await;
            assert!(serves(two_ref, &ccid).await);
            whole += 1;
        } else {
            assert!(listed.iter().all(|(c, _)| !c.starts_with(&format!("{label}:"))), "{listed:?}");
        }
        // No module without its chaincode, no chaincode without its module (a foreign key keeps that side).
        assert_eq!(orphan_modules(&pg).await, 0, "{label}");

        // Host 1 comes back on its data directory (half-written files from the kill included) and is in step.
        one.spawn();
        let one_ref = &one;
        until("host 1 ready again", &[one_ref], || async { one_ref.readyz().await.0 == 200 }).await;
        until("hosts 1 and 2 serve the same", &[one_ref, two_ref], || async {
            one_ref.serving().await == two_ref.serving().await
        })
        .await;
    }
    eprintln!("{whole} of {} installs killed after 0..4/3 of an install ({install:?}) had committed", delays.len());

    // An install that did not happen can be done again on another host.
    let retried = two.admin.install(package("asset0", "asset_transfer")).await.unwrap().0;
    let one_ref = &one;
    until("host 1 serves the retried install", &[one_ref], || serves(one_ref, &retried.ccid)).await;
}

/// Whether the store holds a chaincode of this label.
async fn store_rows(pg: &TempPostgres, label: &str) -> bool {
    let client = pg_client(pg).await;
    let rows = client.query("SELECT 1 FROM wasmcc_chaincodes WHERE label = $1", &[&label]).await.unwrap();
    !rows.is_empty()
}

async fn orphan_modules(pg: &TempPostgres) -> i64 {
    let client = pg_client(pg).await;
    let sql = "SELECT count(*) FROM wasmcc_modules m \
               WHERE NOT EXISTS (SELECT 1 FROM wasmcc_chaincodes c WHERE c.module_hash = m.hash)";
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// The CCID host 2 serves under a label, once it does.
async fn until_ccid(host: &Host, label: &str) -> String {
    let prefix = format!("{label}:");
    until("the host serves the label", &[host], || async {
        host.serving().await.iter().any(|(c, _)| c.starts_with(&prefix))
    })
    .await;
    host.serving().await.into_iter().find(|(c, _)| c.starts_with(&prefix)).unwrap().0
}

async fn pg_client(pg: &TempPostgres) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}
