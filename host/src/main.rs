//! `wasmcc`: the host binary and its operator CLI.

mod demo;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use wasmcc_host::config::Config;
use wasmcc_host::runtime::Runtime;

#[derive(Parser)]
#[command(name = "wasmcc", version, about = "Serves Fabric chaincode compiled to WebAssembly to Fabric peers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the chaincodes named in a configuration file until stopped.
    Serve {
        /// The host configuration (TOML).
        #[arg(long, short, env = "WASMCC_CONFIG")]
        config: PathBuf,
    },
    /// Serve the bundled examples, drive a short session through the peer simulator, then keep serving.
    Demo(demo::DemoArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("WASMCC_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve { config } => serve(config).await,
        Command::Demo(args) => demo::run(args).await,
    }
}

async fn serve(path: PathBuf) -> anyhow::Result<()> {
    let config = Config::load(&path)?;
    anyhow::ensure!(!config.chaincodes.is_empty(), "{} names no chaincode", path.display());
    let runtime = Runtime::new()?;
    let mut servers = tokio::task::JoinSet::new();
    for cc in &config.chaincodes {
        let wasm = std::fs::read(&cc.module).with_context(|| format!("reading {}", cc.module.display()))?;
        let ccid = cc.ccid(&wasm);
        let loaded = runtime.load(&ccid, &wasm, cc.limits).with_context(|| format!("loading {ccid}"))?;
        let listener = runtime.listen(loaded, cc.listen).await.with_context(|| format!("binding {}", cc.listen))?;
        println!("serving {ccid} on {}", listener.local_addr()?);
        servers.spawn(listener.serve());
    }
    tokio::select! {
        Some(done) = servers.join_next() => {
            done?.context("a listener failed")?;
            anyhow::bail!("a listener stopped unexpectedly")
        }
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
