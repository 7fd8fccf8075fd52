//! `wasmcc demo`: the README's first command. Serves the bundled examples with embedded defaults, drives a short
//! session through the peer simulator so a newcomer sees transactions flow, then keeps serving for a real peer.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use wasmcc_host::limits::TxLimits;
use wasmcc_host::runtime::Runtime;
use wasmcc_host::testing::{args, PeerConnection, PeerSim, TxOutcome};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where scripts/build-guests.sh put the example modules.
    #[arg(long, default_value = "target/wasm")]
    wasm_dir: PathBuf,
    /// The address to listen on (loopback by default: nothing is exposed unless asked).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// The first listen port; each example takes the next one.
    #[arg(long, default_value_t = 9101)]
    port: u16,
    /// Stop after the session instead of serving on.
    #[arg(long)]
    exit: bool,
}

/// The examples the demo serves: (label, module file).
const EXAMPLES: [(&str, &str); 2] = [("asset-transfer", "asset_transfer.wasm"), ("counter", "counter.wasm")];

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let runtime = Runtime::new()?;
    let mut served = Vec::new();
    let mut servers = tokio::task::JoinSet::new();
    for (i, (label, file)) in EXAMPLES.iter().enumerate() {
        let path = args.wasm_dir.join(file);
        let wasm = std::fs::read(&path)
            .with_context(|| format!("reading {} (build the examples with scripts/build-guests.sh)", path.display()))?;
        let ccid = wasmcc_host::config::ccid_of(label, &wasm);
        let chaincode = runtime.load(&ccid, &wasm, TxLimits::default())?;
        let addr = SocketAddr::new(args.host, args.port + i as u16);
        let listener = runtime.listen(chaincode, addr).await.with_context(|| format!("binding {addr}"))?;
        served.push((ccid, listener.local_addr()?));
        servers.spawn(listener.serve());
    }

    session(&served).await?;

    println!();
    for (ccid, addr) in &served {
        println!("serving {ccid}");
        println!("    a peer dials {addr}  (connection.json: {{\"address\": \"{addr}\", \"dial_timeout\": \"10s\"}})");
    }
    if args.exit {
        return Ok(());
    }
    println!("\nwasmcc is serving; Ctrl-C stops it.");
    tokio::select! {
        Some(done) = servers.join_next() => {
            done?.context("a listener failed")?;
            anyhow::bail!("a listener stopped unexpectedly")
        }
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// A short session on two channels, printing each transaction and its result.
async fn session(served: &[(String, SocketAddr)]) -> anyhow::Result<()> {
    let peer = PeerSim::new();
    let assets = peer.connect(&served[0].1.to_string(), &served[0].0).await?;
    let counter = peer.connect(&served[1].1.to_string(), &served[1].0).await?;
    println!("peer simulator connected: REGISTER → REGISTERED → READY on both chaincodes\n");

    let steps: [(&PeerConnection, &str, &[&str]); 10] = [
        (&assets, "mychannel", &["InitLedger"]),
        (&assets, "mychannel", &["ReadAsset", "asset1"]),
        (&assets, "mychannel", &["CreateAsset", "asset7", "purple", "8", "Ada", "900"]),
        (&assets, "mychannel", &["CreateAsset", "asset7", "purple", "8", "Ada", "900"]),
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
