//! The attacks of `bench --parts isolation`. Each runs in a process of its own (`bench attack <kind>`), so the
//! driver's one thread serves only the victim: a victim transaction is never late because the driver was busy
//! re-issuing an attacker's. The attacker is a simulated peer (or a TCP client, or an admin client) aimed at one
//! chaincode of the host; it prints `attacking …` once its load is in place, keeps it up until its standard input
//! closes (or [`MAX_ATTACK`] passes), then closes its connections and prints `attacked …` with what it did.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use wasmcc_host::client::AdminClient;
use wasmcc_peer::{args, ConnectOptions, PeerConnection, PeerSim, TxOptions};

use super::serve::stdin_closed;
use super::stats::process_cpu;

/// The longest an attack runs if nobody stops it: longer than a victim round may last (the bench's 600 s bound),
/// so an attack never ends by itself while the victim is measured.
pub const MAX_ATTACK: Duration = Duration::from_secs(900);
/// How long an attacker may take to connect and put its load in place.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an attacker may take to stop and report.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Transactions one flood worker sends at most (a bound; the driver stops the attack long before).
const MAX_PER_WORKER: u64 = 1_000_000;
/// Idle TCP connections held by the `connections` attack.
pub const IDLE_CONNECTIONS: usize = 2_000;
/// Uploads in flight at once in the `upload` attack: the host installs one at a time, so a second one waiting keeps
/// its compiler busy without a gap.
const UPLOADERS: u64 = 2;
/// Most uploads of one `upload` attack; each installs a distinct chaincode and keeps a port of the host's range.
pub const MAX_UPLOADS: u64 = 200;
/// Functions added to the real chaincode to make the uploaded module compile-heavy (well under the host's
/// `MAX_FUNCTIONS` of 100,000 and `MAX_MODULE_BYTES` of 32 MiB: about 2 MB).
const UPLOAD_EXTRA_FUNCTIONS: u32 = 4_000;
/// The channel the attackers' transactions name.
const CHANNEL: &str = "attack";
/// How often a flooding attacker drops the simulated peer's message log, which would otherwise grow with every
/// message of the flood.
const LOG_CLEAR_EVERY: Duration = Duration::from_millis(100);

/// The attacks, in the order the bench runs them. `upload` is last: the host finishes a compile it has started even
/// after its uploader is gone, so it would still be compiling in the next attack's quiet round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attack {
    /// 1,000 transactions over 2 streams that run until out of fuel, re-issued as they end.
    Slow,
    /// A peer that never answers GET_STATE: 2 streams × 510 transactions, re-issued as they end.
    SilentPeer,
    /// 64 transactions growing memory until their limit traps them, re-issued.
    Memory,
    /// 64 transactions on one stream that run until out of fuel, re-issued.
    Loops,
    /// Thousands of idle TCP connections to the attacker chaincode's port.
    Connections,
    /// Back-to-back uploads of a compile-heavy module through the admin API.
    Upload,
}

impl Attack {
    pub const ALL: [Attack; 6] =
        [Attack::Slow, Attack::SilentPeer, Attack::Memory, Attack::Loops, Attack::Connections, Attack::Upload];

    pub fn name(self) -> &'static str {
        match self {
            Attack::Slow => "slow",
            Attack::SilentPeer => "silent-peer",
            Attack::Memory => "memory",
            Attack::Loops => "loops",
            Attack::Connections => "connections",
            Attack::Upload => "upload",
        }
    }

    pub fn parse(s: &str) -> anyhow::Result<Attack> {
        Attack::ALL.into_iter().find(|a| a.name() == s).with_context(|| format!("unknown attack {s:?}"))
    }

    /// The example the attack aims at (`upload` installs its own).
    pub fn target_module(self) -> &'static str {
        match self {
            Attack::SilentPeer => "probe",
            _ => "misbehave",
        }
    }
}

/// Where an attack process aims.
#[derive(Clone, Debug)]
pub struct Aim {
    /// The attacker chaincode's address and CCID.
    pub addr: String,
    pub ccid: String,
    /// The host's admin API and its token (for `upload`).
    pub admin_url: String,
    pub token: String,
    /// The real chaincode the `upload` attack makes compile-heavy.
    pub wasm: PathBuf,
}

/// A running attack process, seen from the driver.
pub struct Running {
    attack: Attack,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    pub pid: u32,
    /// What the attacker said once its load was in place.
    pub started: String,
}

impl Running {
    /// Starts `attack` against `aim` and waits until its load is in place.
    pub async fn start(attack: Attack, aim: &Aim) -> anyhow::Result<Running> {
        let mut cmd = Command::new(std::env::current_exe().context("locating the bench binary")?);
        cmd.args(["attack", attack.name(), "--addr", &aim.addr, "--ccid", &aim.ccid, "--admin", &aim.admin_url])
            .arg("--wasm")
            .arg(&aim.wasm)
            .env("WASMCC_ADMIN_TOKEN", &aim.token)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("spawning an attacker")?;
        let pid = child.id().context("the attacker has no pid")?;
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(child.stdout.take().context("stdout piped")?).lines();
        let started = tokio::time::timeout(START_TIMEOUT, line_starting(&mut lines, "attacking "))
            .await
            .with_context(|| format!("the {} attacker did not start within {START_TIMEOUT:?}", attack.name()))??;
        Ok(Running { attack, child, stdin, lines, pid, started })
    }

    /// Stops the attack (its standard input closes), waits for its report and its exit.
    pub async fn stop(mut self) -> anyhow::Result<String> {
        drop(self.stdin.take());
        let name = self.attack.name();
        let report = tokio::time::timeout(STOP_TIMEOUT, line_starting(&mut self.lines, "attacked "))
            .await
            .with_context(|| format!("the {name} attacker did not stop within {STOP_TIMEOUT:?}"))??;
        let status = tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .with_context(|| format!("the {name} attacker did not exit"))??;
        if !status.success() {
            bail!("the {name} attacker exited with {status}");
        }
        Ok(report)
    }
}

/// The rest of the first line starting with `prefix`.
async fn line_starting(lines: &mut Lines<BufReader<ChildStdout>>, prefix: &str) -> anyhow::Result<String> {
    while let Some(line) = lines.next_line().await? {
        if let Some(rest) = line.strip_prefix(prefix) {
            return Ok(rest.to_string());
        }
    }
    bail!("the attacker exited before printing {prefix:?}")
}

/// `bench attack <kind>`: the attacker process.
pub async fn run(attack: Attack, aim: &Aim) -> anyhow::Result<()> {
    let started = Instant::now();
    let report = match attack {
        Attack::Slow => flood(aim, 2, 1_000, &["loop"], ConnectOptions::default()).await?,
        Attack::SilentPeer => {
            let silent = ConnectOptions {
                request_delay: Some(Duration::from_secs(3600)),
                execute_timeout: Duration::from_secs(600),
                ..ConnectOptions::default()
            };
            flood(aim, 2, 2 * 510, &["get", "k"], silent).await?
        }
        Attack::Memory => flood(aim, 1, 64, &["alloc"], ConnectOptions::default()).await?,
        Attack::Loops => flood(aim, 1, 64, &["loop"], ConnectOptions::default()).await?,
        Attack::Connections => hold_connections(aim, IDLE_CONNECTIONS).await?,
        Attack::Upload => upload(aim).await?,
    };
    let cpu = process_cpu(std::process::id())?;
    println!("attacked {report} for {:.2} s, attacker cpu {:.2} s", started.elapsed().as_secs_f64(), cpu.as_secs_f64());
    Ok(())
}

/// Resolves when the driver stops the attack, or after [`MAX_ATTACK`].
async fn stopped() {
    let _ = tokio::time::timeout(MAX_ATTACK, stdin_closed()).await;
}

/// How the flood's transactions ended.
#[derive(Default)]
struct Tally {
    /// Refused at once: the chaincode's cap and queue were full.
    refused: AtomicU64,
    /// Any other ERROR (out of fuel, memory limit, execute timeout, admission wait).
    errors: AtomicU64,
    /// Answered with a response (none is expected).
    answered: AtomicU64,
    /// No answer from the host (the stream failed).
    failed: AtomicU64,
}

/// `workers` transactions calling `function`, spread over `streams` streams, each re-issued as soon as it ends.
async fn flood(
    aim: &Aim,
    streams: usize,
    workers: usize,
    function: &'static [&'static str],
    opts: ConnectOptions,
) -> anyhow::Result<String> {
    let peer = PeerSim::new();
    let mut conns: Vec<PeerConnection> = Vec::new();
    for _ in 0..streams {
        conns.push(peer.connect_with(&aim.addr, &aim.ccid, opts.clone()).await.context("attacker stream")?);
    }
    let tally = Arc::new(Tally::default());
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (conn, tally) = (conns[w % streams].clone(), tally.clone());
        tasks.spawn(async move {
            let opts = TxOptions::new().evaluate().unsigned();
            for _ in 0..MAX_PER_WORKER {
                let counter = match conn.invoke_with(CHANNEL, args(function.iter().copied()), &opts).await {
                    Ok(r) => match r.error() {
                        Some(e) if e.contains("queue limit") => &tally.refused,
                        Some(_) => &tally.errors,
                        None => &tally.answered,
                    },
                    Err(_) => &tally.failed,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                if conn.is_terminated() {
                    break;
                }
            }
        });
    }
    println!("attacking {workers} transactions over {streams} stream(s)");
    let stop = stopped();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(LOG_CLEAR_EVERY) => conns.iter().for_each(|c| c.log().clear()),
        }
    }
    conns.iter().for_each(PeerConnection::close);
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    Ok(format!(
        "ended={} refused={} errors={} answered={} failed={}",
        n(&tally.refused) + n(&tally.errors) + n(&tally.answered) + n(&tally.failed),
        n(&tally.refused),
        n(&tally.errors),
        n(&tally.answered),
        n(&tally.failed)
    ))
}

/// `count` TCP connections to the chaincode's port that never send a byte, held until the attack stops.
async fn hold_connections(aim: &Aim, count: usize) -> anyhow::Result<String> {
    let limit = raise_open_files_limit()?;
    let mut held = Vec::with_capacity(count);
    let mut failed = 0;
    for _ in 0..count {
        match tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(&aim.addr)).await {
            Ok(Ok(stream)) => held.push(stream),
            _ => failed += 1,
        }
    }
    println!("attacking {} idle connections ({failed} failed; open-files limit {limit})", held.len());
    stopped().await;
    let open = held.iter().filter(|s| still_open(s)).count();
    Ok(format!("connections={} still_open={open} failed={failed}", held.len()))
}

/// Whether the host still holds `stream` open: reading finds no end of stream (bytes the host sent, such as its
/// HTTP/2 settings, count as open).
fn still_open(stream: &tokio::net::TcpStream) -> bool {
    match stream.try_read(&mut [0u8; 64]) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    }
}

/// Raises this process's soft limit of open files to its hard limit (2,000 connections need more than the usual
/// 1,024); returns the limit now in force.
fn raise_open_files_limit() -> anyhow::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            bail!("getrlimit: {}", std::io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                bail!("setrlimit: {}", std::io::Error::last_os_error());
            }
        }
    }
    Ok(limit.rlim_cur)
}

/// Uploads distinct compile-heavy packages back to back, [`UPLOADERS`] at a time, until stopped or
/// [`MAX_UPLOADS`] are done.
async fn upload(aim: &Aim) -> anyhow::Result<String> {
    let base = std::fs::read(&aim.wasm).with_context(|| format!("reading {}", aim.wasm.display()))?;
    let heavy = Arc::new(super::heavy::compile_heavy(&base, UPLOAD_EXTRA_FUNCTIONS)?);
    let client = Arc::new(AdminClient::new(&aim.admin_url, Some(aim.token.clone()), None)?);
    let next = Arc::new(AtomicU64::new(0));
    let took = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..UPLOADERS {
        let (heavy, client, next, took) = (heavy.clone(), client.clone(), next.clone(), took.clone());
        tasks.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= MAX_UPLOADS {
                    return Ok(());
                }
                let package = wasmcc_common::package::package("upload", &crate::variant(&heavy, n as u32), &[])?;
                let started = Instant::now();
                let (_, created) = client.install(package).await?;
                anyhow::ensure!(created, "upload #{n} was already installed");
                took.lock().expect("upload times").push(started.elapsed());
            }
        });
    }
    println!("attacking with {UPLOADERS} uploaders of a {} KB module", heavy.len() / 1024);
    let mut failure = None;
    tokio::select! {
        _ = stopped() => {}
        // Every upload done (or one failed): nothing left to attack with.
        _ = async {
            while let Some(joined) = tasks.join_next().await {
                if let Ok(Err(e)) = joined {
                    failure = Some(e);
                    return;
                }
            }
        } => {}
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    if let Some(e) = failure {
        bail!("an upload failed: {e:#}");
    }
    let took = took.lock().expect("upload times");
    let mean = took.iter().map(Duration::as_secs_f64).fold(0.0, |a, b| a + b) / took.len().max(1) as f64;
    Ok(format!("uploads={} mean_upload_s={mean:.2} module_kb={}", took.len(), heavy.len() / 1024))
}
