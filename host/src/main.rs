//! `wasmcc`: the host binary and its operator CLI.

mod author;
#[cfg(feature = "dev")]
mod call;
#[cfg(feature = "dev")]
mod demo;
#[cfg(feature = "dev")]
mod dev;
mod offline;
mod replay;

use std::path::PathBuf;

use anyhow::Context;
use author::AuthorCommand;
use clap::{Args, Parser, Subcommand};
use offline::OfflineCommand;
use wasmcc_host::client::AdminClient;
use wasmcc_host::config::{Config, DEFAULT_ADMIN_PORT};
use wasmcc_host::connection_json::PeerConfig;
use wasmcc_host::daemon::Daemon;

/// Every transaction allocates its messages, contexts and instances afresh; mimalloc's per-thread free lists cost
/// less than glibc malloc's arenas on that path (BENCHMARKS.md, "What changed").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "wasmcc", version, about = "Serves Fabric chaincode compiled to WebAssembly to Fabric peers")]
struct Cli {
    /// How log lines are written (to stderr): `text` for people, `json` (one object per line) for a log pipeline.
    /// The level comes from WASMCC_LOG (a tracing filter, e.g. `debug` for a line per transaction).
    #[arg(long, global = true, env = "WASMCC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the host: serve every installed chaincode and the admin API until stopped.
    Serve {
        /// The host configuration (TOML); every key is optional, see host/src/config.rs.
        #[arg(long, short, env = "WASMCC_CONFIG")]
        config: Option<PathBuf>,
        /// The data directory (overrides the configuration's `data_dir`).
        #[arg(long, env = "WASMCC_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Threads running transactions (default: one per CPU the host may use less its network threads, at least
        /// one; overrides `[quota] threads`). Fewer leave busy neighbours, such as a peer, CPU under heavy load.
        #[arg(long, env = "WASMCC_WORKERS", value_parser = clap::value_parser!(u16).range(1..))]
        workers: Option<u16>,
    },
    /// Install a package on a running host (or a module, packaged on the fly with --wasm and --label).
    Install {
        /// The package file (made by `wasmcc package` or `peer lifecycle chaincode package`).
        package: Option<PathBuf>,
        #[arg(long, conflicts_with = "package", requires = "label")]
        wasm: Option<PathBuf>,
        #[arg(long)]
        label: Option<String>,
        /// Serve it on this port (refused if the port ever belonged to another chaincode). Default: the port it
        /// had before, if it was installed before, else the lowest port of the range never given to any chaincode.
        #[arg(long)]
        port: Option<u16>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// List the installed chaincodes.
    List {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show one installed chaincode (or the connection.json a peer needs to dial it).
    Show {
        ccid: String,
        /// Print the connection.json for the peer instead: the shared SNI address with `domain` under client auth,
        /// the chaincode's own port otherwise.
        #[arg(long)]
        connection_json: bool,
        /// The peer's client certificate (PEM), embedded when the endpoint requires client auth.
        #[arg(long, requires = "connection_json", requires = "peer_key")]
        peer_cert: Option<PathBuf>,
        /// The peer's client key (PEM).
        #[arg(long, requires = "peer_cert")]
        peer_key: Option<PathBuf>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Remove an installed chaincode: its streams close; its route stays reserved for it.
    Remove {
        ccid: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// A Fabric network in one process for development: a Gateway for applications, one organisation, one channel,
    /// the installed chaincodes committed on it.
    #[cfg(feature = "dev")]
    Dev(Box<dev::DevArgs>),
    /// Submit a transaction through `wasmcc dev`'s Gateway and print its response, event, writes and commit.
    #[cfg(feature = "dev")]
    Invoke(call::InvokeArgs),
    /// Evaluate a transaction through `wasmcc dev`'s Gateway and print its response.
    #[cfg(feature = "dev")]
    Query(call::CallArgs),
    /// Serve the bundled examples, drive a short session through the peer simulator, then keep serving.
    #[cfg(feature = "dev")]
    Demo(demo::DemoArgs),
    /// Run recorded transactions again, offline, and report whether each did exactly what it did on the host; with
    /// --wasm or --package, which of them a new version would answer differently.
    Replay(Box<replay::ReplayArgs>),
    #[command(flatten)]
    Offline(OfflineCommand),
    #[command(flatten)]
    Author(AuthorCommand),
}

/// Where the admin API is and how to authenticate: given on the command line, or read from the host's own
/// configuration file (`--config`), or the local defaults.
#[derive(Args)]
struct AdminArgs {
    /// The host's configuration file: its admin address, and its token (configured, or the one in its data
    /// directory).
    #[arg(long, env = "WASMCC_CONFIG")]
    config: Option<PathBuf>,
    /// The admin API's URL [default: the configuration's, else http://127.0.0.1:9100].
    #[arg(long, env = "WASMCC_ADMIN_URL")]
    admin: Option<String>,
    /// The bearer token; by default the configuration's, else the one the host keeps in <data_dir>/admin.token.
    #[arg(long, env = "WASMCC_ADMIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The host's data directory, to read its token from [default: the configuration's, else .wasmcc].
    #[arg(long, env = "WASMCC_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// A PEM CA certificate that verifies an HTTPS admin API.
    #[arg(long)]
    admin_ca: Option<PathBuf>,
}

/// A client of the admin API, and where its token came from (for the message when the host refuses it).
struct Admin {
    client: AdminClient,
    token_from: String,
}

impl AdminArgs {
    fn client(&self) -> anyhow::Result<Admin> {
        let config = match &self.config {
            Some(path) => Some(Config::load(path).with_context(|| format!("reading {}", path.display()))?),
            None => None,
        };
        let admin = self.admin.clone().unwrap_or_else(|| match &config {
            Some(c) => {
                let scheme = if c.admin.tls_cert.is_some() { "https" } else { "http" };
                let mut addr = c.admin.listen;
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("{scheme}://{addr}")
            }
            None => format!("http://127.0.0.1:{DEFAULT_ADMIN_PORT}"),
        });
        let data_dir = match (&self.data_dir, &config) {
            (Some(dir), _) => dir.clone(),
            (None, Some(c)) => c.data_dir.clone(),
            (None, None) => PathBuf::from(".wasmcc"),
        };
        let token_file = wasmcc_host::store::token_path(&data_dir);
        let (token, token_from) = match (&self.token, config.as_ref().and_then(|c| c.admin.token.clone())) {
            (Some(t), _) => (Some(t.clone()), "--token (or WASMCC_ADMIN_TOKEN)".to_owned()),
            (None, Some(t)) => (Some(t), "the configuration's admin.token".to_owned()),
            (None, None) => match std::fs::read_to_string(&token_file) {
                Ok(t) => (Some(t.trim().to_string()), token_file.display().to_string()),
                Err(_) => (
                    None,
                    format!(
                        "nowhere: no --token or WASMCC_ADMIN_TOKEN, no admin.token in a --config, and no {}; pass the \
                         host's configuration with --config, or its data directory with --data-dir",
                        token_file.display()
                    ),
                ),
            },
        };
        let ca = self.admin_ca.as_ref().map(std::fs::read).transpose().context("reading --admin-ca")?;
        Ok(Admin { client: AdminClient::new(&admin, token, ca.as_deref())?, token_from })
    }
}

impl Admin {
    /// A refused request names where the token came from: a wrong or missing token is the usual cause.
    fn explain<T>(&self, result: Result<T, wasmcc_host::client::ClientError>) -> anyhow::Result<T> {
        result.map_err(|e| {
            let refused = matches!(e, wasmcc_host::client::ClientError::Api { status: 401 | 403, .. });
            let e = anyhow::Error::from(e);
            if refused {
                e.context(format!("the admin API refused the token; it came from {}", self.token_from))
            } else {
                e
            }
        })
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("WASMCC_LOG")
        .unwrap_or_else(|_| wasmcc_host::audit::DEFAULT_LOG_FILTER.into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => logs.json().init(),
        // Colours only on a terminal: a log file or the journal gets plain text an operator can grep.
        LogFormat::Text => logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
    }
    wasmcc_host::runtime::network_runtime().context("starting the async runtime")?.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { config, data_dir, workers } => serve(config, data_dir, workers).await,
        Command::Install { package, wasm, label, port, admin } => {
            let bytes = match (package, wasm, label) {
                (Some(path), _, _) => std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
                (None, Some(wasm), Some(label)) => {
                    let module = std::fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
                    wasmcc_host::package::write_package(&label, &module, &[])?
                }
                _ => anyhow::bail!("give a package file, or --wasm and --label"),
            };
            let admin = admin.client()?;
            let (info, created) = admin.explain(admin.client.install_on(bytes, port).await)?;
            println!("{} {}", if created { "installed" } else { "already installed" }, info.ccid);
            print_routes(&info.route);
            Ok(())
        }
        Command::List { admin } => {
            let admin = admin.client()?;
            for info in admin.explain(admin.client.list().await)? {
                println!("{}\t{}", info.ccid, info.route.summary());
            }
            Ok(())
        }
        Command::Show { ccid, connection_json, peer_cert, peer_key, admin } => {
            let admin = admin.client()?;
            let info = admin.explain(admin.client.show(&ccid).await)?;
            if !connection_json {
                println!("{}", serde_json::to_string_pretty(&info)?);
                return Ok(());
            }
            let peer = match (peer_cert, peer_key) {
                (Some(cert), Some(key)) => Some(PeerConfig::from_files(&cert, &key)?),
                _ => None,
            };
            let json = wasmcc_host::connection_json::for_chaincode(&info, peer.as_ref()).with_context(|| {
                if peer.is_none() && info.tls.client_auth {
                    "the chaincode endpoint requires client auth: give the peer's --peer-cert and --peer-key"
                } else {
                    "cannot write connection.json"
                }
            })?;
            println!("{}", json.to_json());
            Ok(())
        }
        Command::Remove { ccid, admin } => {
            let admin = admin.client()?;
            let info = admin.explain(admin.client.remove(&ccid).await)?;
            println!("removed {ccid}");
            println!(
                "its route ({}) stays reserved for it: peers that installed this chaincode keep dialling it and fail \
                 until it is installed here again",
                info.route.summary()
            );
            Ok(())
        }
        #[cfg(feature = "dev")]
        Command::Dev(args) => dev::run(*args).await,
        #[cfg(feature = "dev")]
        Command::Invoke(args) => call::invoke(args).await,
        #[cfg(feature = "dev")]
        Command::Query(args) => call::query(args).await,
        #[cfg(feature = "dev")]
        Command::Demo(args) => demo::run(args).await,
        Command::Replay(args) => replay::run(*args).await,
        Command::Offline(command) => offline::run(command),
        Command::Author(command) => author::run(command),
    }
}

/// Where peers reach an installed chaincode: its own port, and the shared port with the name that routes to it when
/// the host has one (builders with `use_sni` or `use_host_names` send peers there; without an own port, always).
fn print_routes(route: &wasmcc_host::admin::RouteInfo) {
    let shared = route.shared_address.as_ref().zip(route.sni.as_ref());
    match (&route.address, shared) {
        (Some(own), Some((shared, name))) => {
            println!("peers dial {own}");
            println!("or the shared port {shared} with TLS server name {name} (builders with use_sni)");
        }
        (Some(own), None) => println!("peers dial {own}"),
        (None, _) => println!("peers reach it only as {}", route.summary()),
    }
}

async fn serve(config_path: Option<PathBuf>, data_dir: Option<PathBuf>, workers: Option<u16>) -> anyhow::Result<()> {
    let mut config = match &config_path {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    if workers.is_some() {
        config.quota.threads = workers;
    }
    let mut daemon = Daemon::start(&config).await?;
    println!("wasmcc admin API on {} (data in {})", daemon.admin_url(), config.data_dir.display());
    for record in daemon.registry().records() {
        let addr = daemon.registry().listen_addr(&record.ccid).map(|a| a.to_string()).unwrap_or("(no listener)".into());
        println!("serving {} on {addr}", record.ccid);
    }
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut hangup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    loop {
        tokio::select! {
            result = daemon.wait() => return result.context("admin API failed"),
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            _ = hangup.recv() => reload(&daemon, config_path.as_deref()),
        }
    }
    let drain = std::time::Duration::from_millis(config.connections.drain_timeout_ms);
    tracing::info!(timeout_ms = drain.as_millis() as u64, "stopping: draining peer streams");
    if daemon.stop_gracefully(drain).await {
        tracing::info!("stopped: every peer stream ended with its transactions answered");
    } else {
        tracing::warn!("stopped: the drain timed out; streams still open were ended");
    }
    Ok(())
}

/// SIGHUP: the configuration file read again, and what can change while serving applied (limits, certificates).
/// A file that does not read or check leaves everything as it was.
fn reload(daemon: &Daemon, path: Option<&std::path::Path>) {
    let Some(path) = path else {
        tracing::info!("SIGHUP: nothing to reload (started without --config)");
        return;
    };
    let applied = Config::load(path).map_err(anyhow::Error::from).and_then(|c| Ok(daemon.reload(&c)?));
    match applied {
        Ok(reloaded) => {
            tracing::info!(path = %path.display(), limits_changed = ?reloaded.limits_changed,
                certificates = ?reloaded.certificates, "SIGHUP: configuration reloaded");
            for change in reloaded.restart_needed {
                tracing::warn!("SIGHUP: {change}: only a restart applies it");
            }
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), "SIGHUP: reload refused, the running configuration stays: {e:#}")
        }
    }
}
