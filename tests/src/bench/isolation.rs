//! Isolation: one host serving a victim chaincode and attacker chaincodes, as `wasmcc serve` would. The victim's
//! latency is measured quiet, then while another chaincode of the same host is attacked (attack.rs), one attack at a
//! time. Each attack gets its own quiet round just before it, so a slow drift of the machine (other work on a shared
//! VM) does not show up as the attack's cost.
//!
//! The host is `bench serve-daemon` on a data directory this process installed the chaincodes into (as
//! density.rs does): a process of its own whose CPU the figures can name.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use tokio::process::Command;
use wasmcc_host::daemon::Daemon;
use wasmcc_host::store::ChaincodeRecord;
use wasmcc_peer::{ConnectOptions, PeerConnection, PeerSim, TxOptions};

use super::attack::{self, Aim, Attack, Running};
use super::serve::spawn_until_line;
use super::stats::{process_rss, CpuSample, Samples};
use super::workload::{self, Workload, CHANNEL, NAMESPACE};

/// The chaincodes' ports: the three installed here, then room for every chaincode the `upload` attack installs.
const PORT_BASE: u16 = crate::BENCH_PORT_BASE;
/// What the victim runs: one GET_STATE, so each transaction also waits on its peer as real ones do.
pub const VICTIM_WORKLOAD: Workload = Workload::Get1;
/// From the attacker being in place to the victim's first measured transaction: the attack's transactions are
/// admitted, queued or refused, and the host runs at the attack's steady state.
const RAMP: Duration = Duration::from_millis(500);
/// From an attack's end (its connections closed) to the next quiet round.
const SETTLE: Duration = Duration::from_millis(200);

/// How many victim transactions a round runs, and for how long at most.
#[derive(Clone, Copy, Debug)]
pub struct Rounds {
    pub transactions: usize,
    /// Past this a round sends no more transactions (the one in flight is awaited; the simulated peer's execute
    /// timeout bounds it).
    pub budget: Duration,
}

/// The victim's latency in one condition.
#[derive(Clone, Debug)]
pub struct VictimFigure {
    /// `quiet`, or the attack's name.
    pub condition: &'static str,
    pub p50_us: f64,
    pub p99_us: f64,
    /// p99 of the quiet round just before (for `quiet`: of every quiet round).
    pub quiet_p99_us: f64,
    pub errors: usize,
}

impl VictimFigure {
    pub fn ratio_p99(&self) -> f64 {
        self.p99_us / self.quiet_p99_us
    }
}

/// One round of the victim: its latencies (successes only), errors and the first error's text.
#[derive(Default)]
struct Round {
    samples: Samples,
    errors: usize,
    first_error: Option<String>,
}

/// The host process and what the attacks aim at.
struct Host {
    process: tokio::process::Child,
    _stdin: tokio::process::ChildStdin,
    pid: u32,
    admin_url: String,
    token: String,
    victim: ChaincodeRecord,
    /// The attackers' chaincodes, by example name.
    targets: Vec<(&'static str, ChaincodeRecord)>,
}

impl Host {
    /// Installs the victim and the attackers in-process, as the admin API would, then serves them from a process of
    /// its own.
    async fn start(dir: &Path, victim_wasm: &[u8], workers: Option<u16>) -> anyhow::Result<Host> {
        let ports = (PORT_BASE, PORT_BASE + 8 + attack::MAX_UPLOADS as u16);
        let config = crate::host_config(dir, ports);
        let daemon = Daemon::start(&config).await?;
        let victim = daemon.registry().install(wasmcc_common::package::package("bench", victim_wasm, &[])?).await?.0;
        let mut targets = Vec::new();
        for name in ["misbehave", "probe"] {
            let package = wasmcc_common::package::package(name, &crate::wasm(name), &[])?;
            let record = daemon.registry().install(package).await.with_context(|| format!("installing {name}"))?.0;
            targets.push((name, record));
        }
        let token = daemon.token().to_string();
        daemon.shutdown().await;

        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("serve-daemon").arg("--data-dir").arg(dir).args(["--ports", &format!("{}-{}", ports.0, ports.1)]);
        if let Some(workers) = workers {
            cmd.arg("--workers").arg(workers.to_string());
        }
        let (process, stdin, serving) = spawn_until_line(cmd, "serving ").await?;
        let pid = process.id().context("the host has no pid")?;
        let admin_url =
            serving.split_whitespace().find_map(|w| w.strip_prefix("admin=")).context("no admin URL")?.to_owned();
        Ok(Host { process, _stdin: stdin, pid, admin_url, token, victim, targets })
    }

    fn aim(&self, attack: Attack, victim_wasm_path: &Path) -> anyhow::Result<Aim> {
        let (_, target) = self.targets.iter().find(|(name, _)| *name == attack.target_module()).context("target")?;
        Ok(Aim {
            addr: format!("127.0.0.1:{}", target.port.context("a chaincode of its own port")?),
            ccid: target.ccid.clone(),
            admin_url: self.admin_url.clone(),
            token: self.token.clone(),
            wasm: victim_wasm_path.to_path_buf(),
        })
    }
}

/// Runs every attack in `attacks`, with a quiet round before each, against a host of `workers` guest threads (else
/// the default); the pooled quiet rounds' figure, then one per attack.
pub async fn measure(
    victim_wasm_path: &Path,
    attacks: &[Attack],
    rounds: Rounds,
    workers: Option<u16>,
) -> anyhow::Result<Vec<VictimFigure>> {
    let dir = tempfile::tempdir()?;
    let victim_wasm = std::fs::read(victim_wasm_path)
        .with_context(|| format!("{}: build the examples first", victim_wasm_path.display()))?;
    let host = Host::start(dir.path(), &victim_wasm, workers).await?;

    let peer = PeerSim::new();
    workload::seed(&peer);
    let opts = ConnectOptions { namespace: Some(NAMESPACE.into()), ..ConnectOptions::default() };
    let victim = format!("127.0.0.1:{}", host.victim.port.context("the victim has its own port")?);
    let conn = peer.connect_with(&victim, &host.victim.ccid, opts).await?;
    let warmup = Rounds { transactions: (rounds.transactions / 2).max(50), ..rounds };
    let warm = victim_round(&conn, warmup).await;
    ensure!(warm.errors == 0, "the victim failed before any attack: {:?}", warm.first_error);
    println!(
        "isolation: victim {} at c=1, {} transactions a round (at most {:?}); host pid {}",
        VICTIM_WORKLOAD.name(),
        rounds.transactions,
        rounds.budget,
        host.pid
    );

    let mut figures = Vec::new();
    let mut quiet_all = Samples::default();
    let mut quiet_errors = 0;
    for &attack in attacks {
        let (quiet, quiet_cores) = timed_round(&conn, rounds, host.pid).await?;
        quiet_errors += quiet.errors;
        let quiet_p99_us = quiet.samples.quantile(0.99);
        quiet_all.extend(quiet.samples);

        let rss_before = process_rss(host.pid)?;
        let running = Running::start(attack, &host.aim(attack, victim_wasm_path)?).await?;
        tokio::time::sleep(RAMP).await;
        let attacker_before = CpuSample::read(running.pid)?;
        let started = Instant::now();
        let (under, host_cores) = timed_round(&conn, rounds, host.pid).await?;
        let wall = started.elapsed();
        let attacker_cores = cores(CpuSample::read(running.pid)?.since(&attacker_before), wall);
        let started_line = running.started.clone();
        let rss_under = process_rss(host.pid)?;
        let report = running.stop().await?;
        println!(
            "isolation {}: {started_line}; victim {} tx in {:.2} s, host {host_cores:.2} cores (quiet {quiet_cores:.2}), attacker {attacker_cores:.2} cores; attacker: {report}",
            attack.name(),
            under.samples.len() + under.errors,
            wall.as_secs_f64()
        );
        if let Some(e) = &under.first_error {
            println!("isolation {}: {} victim errors, first: {e}", attack.name(), under.errors);
        }
        figures.push(VictimFigure {
            condition: attack.name(),
            p50_us: under.samples.quantile(0.5),
            p99_us: under.samples.quantile(0.99),
            quiet_p99_us,
            errors: under.errors,
        });
        tokio::time::sleep(SETTLE).await;
        // Whether the host gives back what an attack made it take (guest memory above all).
        let mb = |bytes: u64| bytes as f64 / (1 << 20) as f64;
        let rss_after = process_rss(host.pid)?;
        let (rss_settled, settled_in) = settled_rss(host.pid).await?;
        println!(
            "isolation {}: host RSS {:.0} MB before, {:.0} MB under attack, {:.0} MB {} ms after, {:.0} MB settled {} ms later",
            attack.name(),
            mb(rss_before),
            mb(rss_under),
            mb(rss_after),
            SETTLE.as_millis(),
            mb(rss_settled),
            settled_in.as_millis()
        );
    }
    let p99 = quiet_all.quantile(0.99);
    let quiet = VictimFigure {
        condition: "quiet",
        p50_us: quiet_all.quantile(0.5),
        p99_us: p99,
        quiet_p99_us: p99,
        errors: quiet_errors,
    };
    figures.insert(0, quiet);
    drop(conn);
    drop(host.process);
    Ok(figures)
}

/// A victim round, and the cores the host kept busy meanwhile.
async fn timed_round(conn: &PeerConnection, rounds: Rounds, host_pid: u32) -> anyhow::Result<(Round, f64)> {
    let (before, started) = (CpuSample::read(host_pid)?, Instant::now());
    let round = victim_round(conn, rounds).await;
    Ok((round, cores(CpuSample::read(host_pid)?.since(&before), started.elapsed())))
}

/// CPU time per wall time: how many cores a process kept busy.
fn cores(cpu: Duration, wall: Duration) -> f64 {
    cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9)
}

/// Victim transactions one after another, each checked, until the round's count or budget is reached.
async fn victim_round(conn: &PeerConnection, rounds: Rounds) -> Round {
    let opts = TxOptions::new().evaluate().unsigned();
    let args = VICTIM_WORKLOAD.args(0);
    let round_started = Instant::now();
    let mut round = Round::default();
    for _ in 0..rounds.transactions {
        if round_started.elapsed() > rounds.budget {
            break;
        }
        let started = Instant::now();
        let outcome = match conn.invoke_with(CHANNEL, args.clone(), &opts).await {
            Ok(result) => VICTIM_WORKLOAD.check(&result),
            Err(e) => Err(e.into()),
        };
        match outcome {
            Ok(()) => round.samples.push(started.elapsed()),
            Err(e) => {
                round.errors += 1;
                round.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    conn.log().clear();
    round
}

/// The host's RSS once it stops falling (two samples 100 ms apart within 1 MB, or after 5 s), and how long that
/// took: instances that grew big are torn down on a low-priority thread, so their pages come back over a few
/// hundred milliseconds after an attack rather than at once.
async fn settled_rss(pid: u32) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let mut last = process_rss(pid)?;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = process_rss(pid)?;
        if last.saturating_sub(now) < 1 << 20 || started.elapsed() > Duration::from_secs(5) {
            return Ok((now, started.elapsed()));
        }
        last = now;
    }
}
