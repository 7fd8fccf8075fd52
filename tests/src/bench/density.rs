//! Density: many distinct chaincodes installed in one host, then the host restarted as an operator restarts it.
//!
//! Installation runs in this process through the registry (what the admin API calls); the restarted host is
//! `bench serve-daemon`, a process running [`Daemon::start`] exactly as `wasmcc serve` does, so its RSS and start
//! time are a host's own. The chaincodes have no ports of their own: every one is served on the host's shared
//! plaintext port, routed by the name a peer sends as `:authority`, as a host of thousands of chaincodes is run.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use tokio::process::Command;
use wasmcc_host::config::Config;
use wasmcc_host::daemon::Daemon;
use wasmcc_host::store::ChaincodeRecord;
use wasmcc_peer::{args, ConnectOptions, PeerConnection, PeerSim};

use super::serve::spawn_until_line;
use super::stats::{idle_wakeups_per_s, process_rss, status_bytes};

/// How long the restarted host is left idle before its RSS is read.
const SETTLE: Duration = Duration::from_millis(500);

/// How long the idle host's wake-ups are counted, after [`SETTLE`].
const IDLE_WINDOW: Duration = Duration::from_secs(2);

#[derive(Clone, Debug)]
pub struct Density {
    pub chaincodes: usize,
    pub install_s: f64,
    pub rss_mb: f64,
    pub restart_ms: f64,
    pub connect_us: f64,
    pub first_tx_us: f64,
    /// RSS once every chaincode has a live peer stream and has served a transaction.
    pub connected_rss_mb: f64,
    /// Upload of a module of `install_module_kb` to its first answered transaction, on the restarted host.
    pub install_to_serving_ms: f64,
    pub install_module_kb: f64,
}

/// Many chaincodes of one module: what a host's own bookkeeping costs per chaincode.
#[derive(Clone, Debug)]
pub struct ManyDensity {
    pub chaincodes: usize,
    pub install_s: f64,
    pub rss_mb: f64,
    pub restart_ms: f64,
    /// How often the idle host's threads woke, per second: a host with nothing to serve should sleep.
    pub idle_wakeups_per_s: f64,
}

/// Installs `count` distinct variants of `wasm` into a fresh data directory, restarts the host on it, and
/// measures it idle, then with every chaincode connected, then installing `fresh` (another module) and serving it.
pub async fn measure(wasm: &[u8], count: usize, fresh: &[u8]) -> anyhow::Result<Density> {
    let dir = tempfile::tempdir()?;
    let (installed, install_s) = install_all(dir.path(), count, |i| {
        Ok(wasmcc_common::package::package(&format!("bench{i}"), &crate::variant(wasm, i as u32), &[])?)
    })
    .await?;
    let Restarted { child, _stdin, restart_ms, admin_url, shared } = restart(dir.path(), count).await?;
    let pid = child.id().context("the host has no pid")?;
    let rss_mb = settled_rss_mb(pid).await?;
    let mb = |field| status_bytes(pid, field).map(|b| b as f64 / (1024.0 * 1024.0));
    println!("density: idle RSS {rss_mb:.1} MB = anonymous {:.1} + file-backed {:.1}", mb("RssAnon")?, mb("RssFile")?);

    // The first transaction of a chaincode after the restart: its artifact's pages are touched for the first time.
    let last = installed.last().context("nothing installed")?;
    let started = Instant::now();
    let conn = connect(&PeerSim::new(), &shared, &last.ccid).await?;
    let connect_us = started.elapsed().as_secs_f64() * 1e6;
    let started = Instant::now();
    let result = conn.invoke("bench", args(["noop"])).await?;
    let first_tx_us = started.elapsed().as_secs_f64() * 1e6;
    ensure!(result.status() == Some(200), "first transaction after restart: {:?}", result.outcome);
    // The first stream maps its chaincode's artifact in (lazy loading); the very first in a process also pays the
    // engine's one-time setup. A few more show the usual cost.
    let mut others = Vec::new();
    for r in installed.iter().rev().skip(1).take(9) {
        let started = Instant::now();
        let conn = connect(&PeerSim::new(), &shared, &r.ccid).await?;
        others.push(started.elapsed().as_secs_f64() * 1e6);
        drop(conn);
    }
    others.sort_by(f64::total_cmp);
    if let Some(median) = others.get(others.len() / 2) {
        println!("density: first stream of a chaincode after the restart: {connect_us:.0} µs for the first, median {median:.0} µs for {} more", others.len());
    }

    // Every chaincode with a live stream (as behind a peer that uses them all) and one transaction served.
    let peer = PeerSim::new();
    let mut streams = Vec::with_capacity(installed.len());
    for r in &installed {
        let conn = connect(&peer, &shared, &r.ccid).await?;
        let result = conn.invoke("bench", args(["noop"])).await?;
        ensure!(result.status() == Some(200), "{}: {:?}", r.ccid, result.outcome);
        streams.push(conn);
    }
    let connected_rss_mb = settled_rss_mb(pid).await?;

    // A new chaincode: upload, validate, compile, listen, and its first transaction answered.
    let admin = wasmcc_host::client::AdminClient::new(&admin_url, Some(crate::ADMIN_TOKEN.into()), None)?;
    let package = wasmcc_common::package::package("fresh", fresh, &[])?;
    let started = Instant::now();
    let (info, _) = admin.install(package).await?;
    let conn = connect(&peer, &shared, &info.ccid).await?;
    let answered = conn.invoke("bench", args(["noop"])).await?;
    let install_to_serving_ms = started.elapsed().as_secs_f64() * 1e3;
    ensure!(answered.status().is_some(), "the fresh chaincode did not answer: {:?}", answered.outcome);
    drop((streams, conn, child));
    Ok(Density {
        chaincodes: count,
        install_s,
        rss_mb,
        restart_ms,
        connect_us,
        first_tx_us,
        connected_rss_mb,
        install_to_serving_ms,
        install_module_kb: fresh.len() as f64 / 1024.0,
    })
}

/// Installs `count` chaincodes of one module (a label each) through the registry, restarts the host on them, and
/// reads its idle RSS: the host's own cost per installed chaincode, apart from modules (one artifact here).
pub async fn measure_many(wasm: &[u8], count: usize) -> anyhow::Result<ManyDensity> {
    let dir = tempfile::tempdir()?;
    let (_, install_s) =
        install_all(dir.path(), count, |i| Ok(wasmcc_common::package::package(&format!("many{i}"), wasm, &[])?))
            .await?;
    let Restarted { child, _stdin, restart_ms, .. } = restart(dir.path(), count).await?;
    let pid = child.id().context("the host has no pid")?;
    let rss_mb = settled_rss_mb(pid).await?;
    let idle_wakeups_per_s = tokio::task::spawn_blocking(move || idle_wakeups_per_s(pid, IDLE_WINDOW)).await??;
    Ok(ManyDensity { chaincodes: count, install_s, rss_mb, restart_ms, idle_wakeups_per_s })
}

/// Installs `count` packages (`package(i)`) through the registry of a host on `data_dir`, then stops it; the records
/// and the seconds it took.
async fn install_all(
    data_dir: &Path,
    count: usize,
    package: impl Fn(usize) -> anyhow::Result<Vec<u8>>,
) -> anyhow::Result<(Vec<ChaincodeRecord>, f64)> {
    let started = Instant::now();
    let daemon = Daemon::start(&host_config(data_dir, None)).await?;
    let mut installed = Vec::with_capacity(count);
    for i in 0..count {
        let (record, _) = daemon.registry().install(package(i)?).await.with_context(|| format!("installing #{i}"))?;
        installed.push(record);
    }
    let install_s = started.elapsed().as_secs_f64();
    daemon.shutdown().await;
    Ok((installed, install_s))
}

/// A host process restarted on a data directory, serving every chaincode in it; killed when dropped.
struct Restarted {
    child: tokio::process::Child,
    _stdin: tokio::process::ChildStdin,
    restart_ms: f64,
    admin_url: String,
    /// The shared port every chaincode is served on.
    shared: String,
}

/// Starts `bench serve-daemon` on `data_dir` and waits until it serves the `count` chaincodes installed there.
async fn restart(data_dir: &Path, count: usize) -> anyhow::Result<Restarted> {
    let started = Instant::now();
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("serve-daemon").arg("--data-dir").arg(data_dir);
    let (child, stdin, served) = spawn_until_line(cmd, "serving ").await?;
    let restart_ms = started.elapsed().as_secs_f64() * 1e3;
    let field =
        |name: &str| served.split_whitespace().find_map(|w| w.strip_prefix(name)).unwrap_or_default().to_owned();
    let (admin_url, shared) = (field("admin="), field("shared="));
    let served = served.split_whitespace().next().unwrap_or_default();
    ensure!(served == count.to_string(), "the restarted host serves {served} chaincodes, not {count}");
    ensure!(!shared.is_empty(), "the restarted host reports no shared port: {served}");
    Ok(Restarted { child, _stdin: stdin, restart_ms, admin_url, shared })
}

/// A host configuration for `data_dir`: chaincodes on their own ports from `ports`, else only on a shared plaintext
/// port the system picks.
fn host_config(data_dir: &Path, ports: Option<(u16, u16)>) -> Config {
    match ports {
        Some(ports) => crate::host_config(data_dir, ports),
        None => {
            let mut config = crate::host_config(data_dir, (1, 1));
            config.chaincodes.own_ports = false;
            config.chaincodes.shared_listen = Some("127.0.0.1:0".parse().expect("an address"));
            config
        }
    }
}

/// A stream for `ccid` through the shared port, named as a peer names it (`:authority`, from connection.json).
async fn connect(peer: &PeerSim, shared: &str, ccid: &str) -> anyhow::Result<PeerConnection> {
    let suffix = &Config::default().chaincodes.name_suffix;
    let name = wasmcc_host::routes::sni_name_for_ccid(ccid, suffix).context("a CCID has a label and a hash")?;
    let port = shared.rsplit_once(':').context("the shared port is host:port")?.1;
    let authority = Some(format!("{name}:{port}"));
    Ok(peer.connect_with(shared, ccid, ConnectOptions { authority, ..Default::default() }).await?)
}

/// A process's RSS in MB once it has been left alone for [`SETTLE`].
async fn settled_rss_mb(pid: u32) -> anyhow::Result<f64> {
    tokio::time::sleep(SETTLE).await;
    Ok(process_rss(pid)? as f64 / (1024.0 * 1024.0))
}

/// `bench serve-daemon`: a host on `data_dir`, started as `wasmcc serve` starts; prints `serving <n> admin=<url>
/// shared=<address>` once every installed chaincode is served, then runs until stdin closes. `workers` guest threads,
/// else the default (`wasmcc serve --workers`).
pub async fn serve_daemon(data_dir: &Path, ports: Option<(u16, u16)>, workers: Option<u16>) -> anyhow::Result<()> {
    let mut config = host_config(data_dir, ports);
    config.quota.threads = workers;
    let daemon = Daemon::start(&config).await?;
    let shared = daemon.registry().shared_addr().map(|a| a.to_string()).unwrap_or_default();
    let count = daemon.registry().records().len();
    println!("serving {count} admin={} shared={shared}", daemon.admin_url());
    super::serve::stdin_closed().await;
    daemon.shutdown().await;
    Ok(())
}
