//! `bench`: see BENCHMARKS.md. `cargo run --release -p wasmcc-tests --bin bench -- [--quick]`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use wasmcc_peer::PeerSim;
use wasmcc_tests::bench::attack::{self, Aim, Attack};
use wasmcc_tests::bench::driver::{self, Plan, Target};
use wasmcc_tests::bench::paced::{self, Pace};
use wasmcc_tests::bench::serve::{self, HostExes, Impl, Server};
use wasmcc_tests::bench::workload::{self, Workload};
use wasmcc_tests::bench::{density, isolation, report, sandbox};

/// The allocator `wasmcc` runs with, so `bench serve` measures the host as operators run it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "wasmcc against Fabric's Node shim and native code, the sandbox's cost, density and isolation")]
struct Cli {
    #[command(subcommand)]
    command: Option<Internal>,
    /// A short run (under 2 minutes): fewer transactions, 100 chaincodes for density.
    #[arg(long)]
    quick: bool,
    /// Parts to run (comma-separated): compare, paced, sandbox, density, isolation (not run unless named: it starts
    /// many processes and loads the machine on purpose).
    #[arg(long, value_delimiter = ',', default_value = "compare,paced,sandbox,density")]
    parts: Vec<String>,
    /// Workloads to run (comma-separated): noop, get1, rw10, range100.
    #[arg(long, value_delimiter = ',', default_value = "noop,get1,rw10,range100")]
    workloads: Vec<String>,
    /// Implementations to compare (comma-separated): wasm, native, node; wasm-recording (recording errors on);
    /// wasm-base (the `--baseline-exe` build).
    #[arg(long, value_delimiter = ',', default_value = "wasm,native,node")]
    impls: Vec<String>,
    /// Concurrency levels (transactions in flight on the stream).
    #[arg(long, value_delimiter = ',', default_value = "1,64")]
    concurrency: Vec<usize>,
    /// Measured transactions per implementation at concurrency 1 (default 4000, quick 400).
    #[arg(long)]
    tx: Option<usize>,
    /// Measured transactions per implementation at higher concurrency (default 32000, quick 800): enough that a
    /// round of the cheapest workload lasts a good fraction of a second, not a few milliseconds of ramp-up.
    #[arg(long)]
    tx_concurrent: Option<usize>,
    /// Rounds the measured transactions are split into, alternating the implementations.
    #[arg(long, default_value_t = 8)]
    batches: usize,
    /// Chaincodes for the density figures (default 1000, quick 100); 0 skips them.
    #[arg(long)]
    density: Option<usize>,
    /// Chaincodes of one module for the `density many=` figure (default 10000, quick 200); 0 skips it.
    #[arg(long)]
    density_many: Option<usize>,
    /// Fresh instances timed for the sandbox figure (default 20000, quick 2000).
    #[arg(long)]
    sandbox: Option<usize>,
    /// Victim transactions per round of the isolation part (default 2000, quick 200).
    #[arg(long)]
    isolation_tx: Option<usize>,
    /// Attacks of the isolation part (comma-separated): slow, silent-peer, memory, loops, connections, upload.
    #[arg(long, value_delimiter = ',', default_value = "slow,silent-peer,memory,loops,connections,upload")]
    attacks: Vec<String>,
    /// The paced part's rate: transactions per second a peer sends, over all its clients.
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    /// The paced part's clients: transactions the peer may have in flight.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds of one implementation's paced round (default 4, quick 0.25); 4 rounds alternate the implementations.
    #[arg(long)]
    paced_seconds: Option<f64>,
    /// Workloads of the paced part (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "noop,get1")]
    paced_workloads: Vec<String>,
    /// Guest threads of the wasm and native hosts and of the isolation part's host (`wasmcc serve --workers`);
    /// default: wasmcc's.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    host_workers: Option<u16>,
    /// The bench chaincode's wasm module.
    #[arg(long, default_value_os_t = default_wasm())]
    wasm: PathBuf,
    /// Serve the `wasm` implementation of the compare and paced parts with this `wasmcc` binary (`wasmcc serve` on a
    /// data directory of its own) instead of this bench's own server: to measure the binary operators run, or to
    /// train a profile-guided build of it (scripts/build-release.sh).
    #[arg(long)]
    host_exe: Option<PathBuf>,
    /// Serve the `wasm-base` implementation with this `wasmcc` binary: with `--impls wasm,wasm-base` and
    /// `--host-exe`, an A/B of two builds whose rounds alternate in one run (`ab` lines: the first over this one).
    #[arg(long)]
    baseline_exe: Option<PathBuf>,
}

/// The processes the bench starts (not for direct use).
#[derive(Subcommand)]
enum Internal {
    /// Serves the bench chaincode as `wasm` or `native` until stdin closes.
    #[command(hide = true)]
    Serve {
        which: String,
        #[arg(long)]
        ccid: String,
        #[arg(long)]
        wasm: PathBuf,
        /// As `wasmcc serve --workers`.
        #[arg(long)]
        workers: Option<u16>,
    },
    /// Runs a host on a data directory until stdin closes.
    #[command(hide = true)]
    ServeDaemon {
        #[arg(long)]
        data_dir: PathBuf,
        /// Each chaincode's own port from `min-max`; without it, chaincodes are served only on a shared plaintext
        /// port (`chaincodes.own_ports = false`).
        #[arg(long)]
        ports: Option<String>,
        /// As `wasmcc serve --workers`.
        #[arg(long)]
        workers: Option<u16>,
    },
    /// Attacks a chaincode of a host until stdin closes (the isolation part).
    #[command(hide = true)]
    Attack {
        kind: String,
        /// The attacker chaincode's address and CCID.
        #[arg(long)]
        addr: String,
        #[arg(long)]
        ccid: String,
        /// The host's admin API.
        #[arg(long)]
        admin: String,
        #[arg(long, env = "WASMCC_ADMIN_TOKEN", hide_env_values = true)]
        token: String,
        /// The chaincode the upload attack makes compile-heavy.
        #[arg(long)]
        wasm: PathBuf,
    },
}

/// The longest one isolation round may take: a bound in a full run, and in a quick run what keeps an attack that slows
/// the victim a hundredfold from stretching the run to minutes.
const FULL_ROUND_S: u64 = 600;
const QUICK_ROUND_S: u64 = 3;

fn default_wasm() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm/bench.wasm")
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The driver (the simulated peer) runs on one thread. On a multi-threaded runtime its tasks woke each other
    // across threads and it spent 1.7x the CPU per transaction; on 2 cores every driver cycle is taken from the
    // implementation under test. The servers run on the multi-threaded runtime `wasmcc serve` uses. An attacker is a
    // simulated peer too: one thread, so its CPU stays bounded however hard it floods.
    let runtime = match cli.command {
        None | Some(Internal::Attack { .. }) => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        Some(Internal::Serve { .. } | Internal::ServeDaemon { .. }) => wasmcc_host::runtime::network_runtime()?,
    };
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Some(Internal::Serve { which, ccid, wasm, workers }) => {
            serve::serve(Impl::parse(which)?, ccid, wasm, *workers).await
        }
        Some(Internal::ServeDaemon { data_dir, ports, workers }) => {
            let ports = match ports {
                Some(ports) => {
                    let (lo, hi) = ports.split_once('-').context("--ports min-max")?;
                    Some((lo.parse()?, hi.parse()?))
                }
                None => None,
            };
            density::serve_daemon(data_dir, ports, *workers).await
        }
        Some(Internal::Attack { kind, addr, ccid, admin, token, wasm }) => {
            let aim = Aim {
                addr: addr.clone(),
                ccid: ccid.clone(),
                admin_url: admin.clone(),
                token: token.clone(),
                wasm: wasm.clone(),
            };
            attack::run(Attack::parse(kind)?, &aim).await
        }
        None => run(&cli).await,
    }
}

async fn run(cli: &Cli) -> anyhow::Result<()> {
    let wasm = std::fs::read(&cli.wasm)
        .with_context(|| format!("{}: build the examples first (bash scripts/build-guests.sh)", cli.wasm.display()))?;
    for part in &cli.parts {
        if !["compare", "paced", "sandbox", "density", "isolation"].contains(&part.as_str()) {
            bail!("unknown part {part:?}: expected compare, paced, sandbox, density or isolation");
        }
    }
    let part = |name: &str| cli.parts.iter().any(|p| p == name);
    let workloads = cli.workloads.iter().map(|w| Workload::parse(w)).collect::<anyhow::Result<Vec<_>>>()?;
    let impls = cli.impls.iter().map(|i| Impl::parse(i)).collect::<anyhow::Result<Vec<_>>>()?;
    let attacks = cli.attacks.iter().map(|a| Attack::parse(a)).collect::<anyhow::Result<Vec<_>>>()?;
    if cli.concurrency.iter().any(|&c| c == 0 || c > workload::MAX_WORKERS) {
        bail!("concurrency must be 1..={}", workload::MAX_WORKERS);
    }
    let serial = cli.tx.unwrap_or(if cli.quick { 400 } else { 4000 });
    let concurrent = cli.tx_concurrent.unwrap_or(if cli.quick { 800 } else { 32000 });
    let batches = cli.batches.clamp(1, serial.min(concurrent).max(1));
    let plan_for = |c: usize| {
        let per_impl = if c == 1 { serial } else { concurrent };
        Plan { warmup: (per_impl / 10).max(20), batches, per_batch: per_impl.div_ceil(batches) }
    };
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let host_workers = match cli.host_workers {
        Some(n) => format!("{n} guest thread(s) (wasmcc serve --workers {n})"),
        None => format!("the host's default threads ({cpus} CPUs)"),
    };
    println!("machine: {}", machine());
    let mut lines = Vec::new();
    if part("compare") || part("paced") {
        let (one, many) = (plan_for(1), plan_for(2));
        println!(
            "plan: {} (c=1) or {} (c>1) measured transactions per implementation and configuration, in {batches} alternating rounds, after {} or {} warm-up",
            one.per_batch * batches,
            many.per_batch * batches,
            one.warmup,
            many.warmup
        );
        println!("hosts: wasm and native run with {host_workers}; the driver on one thread");
        if let Some(exe) = &cli.host_exe {
            println!("wasm: served by {} serve", exe.display());
        }
        if let Some(exe) = &cli.baseline_exe {
            println!("wasm-base: served by {} serve", exe.display());
        }
        let peer = PeerSim::new();
        workload::seed(&peer);
        let ccid = wasmcc_common::package::package_id("bench", &wasm);
        let workers = cli.host_workers.map(usize::from);
        let mut targets = Vec::new();
        for which in impls {
            let exes = HostExes { host: cli.host_exe.as_deref(), baseline: cli.baseline_exe.as_deref() };
            let server = Server::start(which, &cli.wasm, &ccid, workers, exes).await?;
            targets.push(Target::connect(server, &peer).await?);
        }
        if part("compare") {
            for &w in &workloads {
                for &c in &cli.concurrency {
                    let figures = driver::compare(&targets, w, c, plan_for(c)).await?;
                    print!("{}", report::table(&figures));
                    lines.extend(figures.iter().map(report::bench_line));
                    lines.extend(report::ratio_line(&figures));
                    lines.extend(report::recording_line(&figures));
                    lines.extend(report::ab_line(&figures));
                }
            }
        }
        if part("paced") {
            let seconds = cli.paced_seconds.unwrap_or(if cli.quick { 0.25 } else { 4.0 });
            let pace = Pace {
                rate: cli.rate,
                clients: cli.clients.clamp(1, workload::MAX_WORKERS),
                round: Duration::from_secs_f64(seconds),
                rounds: 4,
            };
            for w in &cli.paced_workloads {
                let figures = paced::measure(&targets, Workload::parse(w)?, pace).await?;
                lines.extend(figures.iter().map(report::paced_line));
                lines.extend(report::paced_ab_line(&figures));
            }
        }
        for target in targets {
            target.stop().await?;
        }
    }

    let iterations = cli.sandbox.unwrap_or(if cli.quick { 2000 } else { 20000 });
    if part("sandbox") && iterations > 0 {
        let samples = sandbox::noop(&wasm, iterations / 10, iterations).await?;
        lines.push(report::sandbox_line(&samples));
    }
    let chaincodes = cli.density.unwrap_or(if cli.quick { 100 } else { 1000 });
    if part("density") && chaincodes > 0 {
        let fresh_path = cli.wasm.with_file_name("marbles.wasm");
        let fresh = std::fs::read(&fresh_path).with_context(|| format!("reading {}", fresh_path.display()))?;
        let d = density::measure(&wasm, chaincodes, &fresh).await?;
        lines.extend(report::density_lines(&d));
    }
    let many = cli.density_many.unwrap_or(if cli.quick { 200 } else { 10_000 });
    if part("density") && many > 0 {
        lines.push(report::many_density_line(&density::measure_many(&wasm, many).await?));
    }
    let victim_tx = cli.isolation_tx.unwrap_or(if cli.quick { 200 } else { 2000 });
    if part("isolation") && victim_tx > 0 {
        let budget = Duration::from_secs(if cli.quick { QUICK_ROUND_S } else { FULL_ROUND_S });
        let rounds = isolation::Rounds { transactions: victim_tx, budget };
        let figures = isolation::measure(&cli.wasm, &attacks, rounds, cli.host_workers).await?;
        lines.extend(figures.iter().map(report::isolation_line));
    }
    println!();
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// The CPU model and count, for the record.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model =
        cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map(|m| m.trim_start_matches([' ', '\t', ':']));
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{} × {cpus}", model.unwrap_or("unknown CPU"))
}
