//! `wasmcc dev`: a Fabric network in one process for developing chaincode and the applications that call it. It
//! serves Fabric's Gateway (what `@hyperledger/fabric-gateway` and the other Gateway SDKs talk to) in front of one
//! peer of one organisation on one channel, and runs the installed wasm chaincodes in the same host engine, with the
//! same checks and limits, as `wasmcc serve`.
//!
//! - the organisation, its CA and a client identity are generated on first start and kept ([`org`]);
//! - installing is committing ([`chaincodes`]): `--chaincode`, `--watch` and `wasmcc install` to this process's admin
//!   API all make a chaincode callable by its label at once;
//! - endorsement, ordering (a block per transaction), validation and commit are `wasmcc-peer`'s gateway; its block
//!   log keeps the ledger in the data directory, unless `--ephemeral`.

mod chaincodes;
pub mod org;
mod watch;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chaincodes::{Committer, Definitions};
use wasmcc_host::config::{Config, DEFAULT_ADMIN_PORT};
use wasmcc_host::daemon::Daemon;
use wasmcc_host::registry::Registry;
use wasmcc_peer::{GatewayService, PeerSim};

/// Where `wasmcc dev` keeps its data unless told otherwise (and where `wasmcc invoke`/`query` look for it).
pub const DEFAULT_DATA_DIR: &str = ".wasmcc-dev";
/// The Gateway's default address: a Fabric peer's usual port, so applications configured for a local test network
/// find it.
pub const DEFAULT_GATEWAY: &str = "127.0.0.1:7051";

/// How many ports after the admin API's chaincodes may take.
const CHAINCODE_PORTS: u16 = 900;

#[derive(clap::Args)]
pub struct DevArgs {
    /// The data directory: installed chaincodes, the organisation's keys, the ledger.
    #[arg(long, env = "WASMCC_DEV_DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// The Gateway's address (plaintext gRPC).
    #[arg(long, default_value = DEFAULT_GATEWAY)]
    gateway: SocketAddr,
    /// The admin API's port (for `wasmcc install`); chaincodes listen on loopback ports from the next one on.
    #[arg(long, default_value_t = DEFAULT_ADMIN_PORT)]
    admin_port: u16,
    /// The organisation's MSP ID.
    #[arg(long, default_value = "Org1MSP")]
    mspid: String,
    /// The channel.
    #[arg(long, default_value = "mychannel")]
    channel: String,
    /// A chaincode to install at start: a package (`.tar.gz`), a chaincode crate's directory (built first), or
    /// `LABEL=MODULE.wasm`. Repeatable.
    #[arg(long)]
    chaincode: Vec<String>,
    /// A chaincode crate to build and install now and again whenever its sources change. Repeatable.
    #[arg(long)]
    watch: Vec<PathBuf>,
    /// Chaincodes (by name) whose definition requires Init before any other transaction (`wasmcc invoke --init`).
    #[arg(long, value_name = "NAME")]
    init_required: Vec<String>,
    /// Private data collections of a chaincode: `NAME=FILE`, FILE a Fabric collection configuration (JSON).
    #[arg(long, value_name = "NAME=FILE")]
    collections: Vec<String>,
    /// Keep the ledger in memory only: every start begins with an empty channel (installed chaincodes and the
    /// organisation are still kept in the data directory).
    #[arg(long)]
    ephemeral: bool,
    /// Threads running transactions (default: one per CPU less the network threads, at least one).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,
}

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let files = org::OrgFiles::new(&args.data_dir);
    let msp = Arc::new(files.open_or_create(&args.mspid)?);

    let mut config = Config { data_dir: args.data_dir.clone(), ..Config::default() };
    config.admin.listen = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), args.admin_port);
    config.chaincodes.listen_ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    config.chaincodes.port_min =
        args.admin_port.checked_add(1).context("--admin-port leaves no port for chaincodes")?;
    config.chaincodes.port_max = config.chaincodes.port_min.saturating_add(CHAINCODE_PORTS - 1);
    config.quota.threads = args.workers;
    let mut daemon = Daemon::start(&config).await?;
    let registry = daemon.registry().clone();
    for spec in &args.chaincode {
        install(&registry, spec).await.with_context(|| format!("--chaincode {spec}"))?;
    }
    for dir in &args.watch {
        watch::build_and_install(&registry, dir).await.with_context(|| format!("--watch {}", dir.display()))?;
    }

    let peer = PeerSim::new();
    let mut definitions =
        Definitions { init_required: args.init_required.iter().cloned().collect(), ..Default::default() };
    definitions.read_collections(&args.collections)?;
    definitions.define_collections(&peer);
    let blocks = args.data_dir.join("dev").join("blocks.jsonl");
    let address = args.gateway.to_string();
    let gateway = if args.ephemeral {
        GatewayService::new(msp.clone(), address, peer.clone())?
    } else {
        GatewayService::with_block_log(msp.clone(), address, peer.clone(), &blocks)?
    };
    let mut committer = Committer::new(registry.clone(), gateway.clone(), peer, definitions, args.channel.clone());
    committer.sync().await?;

    let listener = tokio::net::TcpListener::bind(args.gateway)
        .await
        .with_context(|| format!("binding the Gateway to {}", args.gateway))?;
    let ledger = if args.ephemeral { "in memory (--ephemeral)".to_owned() } else { blocks.display().to_string() };
    print_banner(&args, &files, &daemon, &ledger, gateway.height());
    tokio::spawn(committer.follow());
    for dir in args.watch.clone() {
        tokio::spawn(watch::watch(registry.clone(), dir));
    }
    let serve = tonic::transport::Server::builder()
        .add_service(gateway.into_server())
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = serve => return result.context("the Gateway failed"),
        result = daemon.wait() => return result.context("the admin API failed"),
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    daemon.shutdown().await;
    Ok(())
}

/// Installs a `--chaincode`: a package, a crate directory, or `LABEL=MODULE.wasm`.
async fn install(registry: &Arc<Registry>, spec: &str) -> anyhow::Result<()> {
    let bytes = match spec.split_once('=') {
        Some((label, module)) => {
            let wasm = std::fs::read(module).with_context(|| format!("reading {module}"))?;
            wasmcc_host::package::write_package(label, &wasm, &[])?
        }
        None if Path::new(spec).is_dir() => {
            watch::build_and_install(registry, Path::new(spec)).await?;
            return Ok(());
        }
        None => std::fs::read(spec).with_context(|| format!("reading {spec}"))?,
    };
    registry.install(bytes).await?;
    Ok(())
}

fn print_banner(args: &DevArgs, files: &org::OrgFiles, daemon: &Daemon, ledger: &str, height: u64) {
    let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p).display().to_string();
    println!();
    println!("wasmcc dev: {} on channel {}, ledger at block {height}", args.mspid, args.channel);
    println!("  Gateway      {} (plaintext gRPC)", args.gateway);
    println!("  MSP ID       {}", args.mspid);
    println!("  client cert  {}", absolute(files.client_cert()));
    println!("  client key   {}", absolute(files.client_key()));
    println!("  CA cert      {}", absolute(files.ca_cert()));
    println!("  ledger       {ledger}");
    let admin = match args.admin_port {
        DEFAULT_ADMIN_PORT => String::new(),
        _ => format!(" --admin {}", daemon.admin_url()),
    };
    println!(
        "  admin API    {} (wasmcc install --data-dir {}{admin} PACKAGE)",
        daemon.admin_url(),
        args.data_dir.display()
    );
    println!();
    println!("An application connects to the Gateway with that certificate and key, MSP ID {}:", args.mspid);
    println!(
        "  GATEWAY_ADDRESS={} CERT_PATH={} KEY_PATH={} node examples/application/app.js",
        args.gateway,
        absolute(files.client_cert()),
        absolute(files.client_key())
    );
    println!("Or from the command line: wasmcc query asset-transfer GetAllAssets (wasmcc invoke to submit)");
    println!();
}
