//! `wasmcc demo`: serves the bundled examples with embedded defaults, drives a short session through the peer
//! simulator so a newcomer sees transactions flow at the chaincode protocol's level, then keeps serving for a real
//! peer. (The README's first command runs `wasmcc dev` instead: the same host behind Fabric's Gateway.)

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use wasmcc_host::client::AdminClient;
use wasmcc_host::config::{Config, DEFAULT_ADMIN_PORT};
use wasmcc_host::daemon::Daemon;
use wasmcc_host::package;
use wasmcc_peer::{args, PeerConnection, PeerSim, TxOutcome};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where scripts/build-guests.sh put the example modules.
    #[arg(long, default_value = "target/wasm")]
    wasm_dir: PathBuf,
    /// The host's data directory (kept between runs; installing the same package again is a no-op).
    #[arg(long, default_value = "target/demo-data")]
    data_dir: PathBuf,
    /// The address chaincodes listen on (loopback by default: nothing is exposed unless asked).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// The admin API's port; chaincodes get ports from the next one on.
    #[arg(long, default_value_t = DEFAULT_ADMIN_PORT)]
    port: u16,
    /// Stop after the session instead of serving on.
    #[arg(long)]
    exit: bool,
}

/// The examples the demo installs: (label, module file).
const EXAMPLES: [(&str, &str); 2] = [("asset-transfer", "asset_transfer.wasm"), ("counter", "counter.wasm")];

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let mut config = Config { data_dir: args.data_dir.clone(), ..Config::default() };
    config.admin.listen = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), args.port);
    config.chaincodes.listen_ip = args.host;
    config.chaincodes.port_min = args.port + 1;
    let mut daemon = Daemon::start(&config).await?;
    println!("wasmcc admin API on {} (data in {})", daemon.admin_url(), args.data_dir.display());

    // Installed the way an operator would: package, then upload through the admin API.
    let client = AdminClient::new(&daemon.admin_url(), Some(daemon.token().to_string()), None)?;
    let mut served = Vec::new();
    for (label, file) in EXAMPLES {
        let path = args.wasm_dir.join(file);
        let wasm = std::fs::read(&path)
            .with_context(|| format!("reading {} (build the examples with scripts/build-guests.sh)", path.display()))?;
        let (info, created) = client.install(package::write_package(label, &wasm, &[])?).await?;
        println!("{} {}", if created { "installed" } else { "already installed" }, info.ccid);
        let address = info.route.address.context("the demo's host gives every chaincode a port of its own")?;
        served.push((info.ccid, address));
    }

    session(&served).await?;

    println!();
    for (ccid, addr) in &served {
        println!("serving {ccid}");
        println!("    a peer dials {addr}  (connection.json: {{\"address\": \"{addr}\", \"dial_timeout\": \"10s\"}})");
    }
    if args.exit {
        daemon.shutdown().await;
        return Ok(());
    }
    println!(
        "\nwasmcc is serving; Ctrl-C stops it. Install more with: wasmcc install --data-dir {} PKG",
        args.data_dir.display()
    );
    tokio::select! {
        result = daemon.wait() => result.context("admin API failed"),
        _ = tokio::signal::ctrl_c() => {
            daemon.shutdown().await;
            Ok(())
        }
    }
}

/// A short session on two channels, printing each transaction and its result.
async fn session(served: &[(String, String)]) -> anyhow::Result<()> {
    let peer = PeerSim::new();
    let assets = peer.connect(&served[0].1, &served[0].0).await?;
    let counter = peer.connect(&served[1].1, &served[1].0).await?;
    println!("peer simulator connected: REGISTER → REGISTERED → READY on both chaincodes\n");

    let steps: [(&PeerConnection, &str, &[&str]); 11] = [
        (&assets, "mychannel", &["InitLedger"]),
        (&assets, "mychannel", &["ReadAsset", "asset1"]),
        (&assets, "mychannel", &["CreateAsset", "asset7", "purple", "8", "Ada", "900"]),
        (&assets, "mychannel", &["CreateAsset", "asset7", "purple", "8", "Ada", "900"]),
        (&assets, "mychannel", &["CreateAsset", "asset8", "teal", "big", "Ada", "900"]),
        (&assets, "mychannel", &["TransferAsset", "asset7", "Grace"]),
        (&assets, "mychannel", &["ReadAsset", "asset7"]),
        (&assets, "mychannel", &["NoSuchFunction"]),
        (&counter, "mychannel", &["inc", "visits"]),
        (&counter, "otherchannel", &["inc", "visits"]),
        (&counter, "mychannel", &["inc", "visits"]),
    ];
    for (conn, channel, call) in steps {
        let result = conn.invoke(channel, args(call)).await?;
        let shown = match &result.outcome {
            TxOutcome::Completed(r) => {
                format!("{} {} {}", r.status, r.message, String::from_utf8_lossy(&r.payload))
            }
            TxOutcome::Error(text) => format!("ERROR {text}"),
        };
        let label = conn.ccid().split(':').next().unwrap_or_default();
        println!("[{label} @ {channel}] {} → {}", call.join(" "), shown.trim());
    }
    Ok(())
}
