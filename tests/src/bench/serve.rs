//! The chaincode servers under test, each in a process of its own so that its CPU time is its own: `bench serve`
//! (this binary again) for `wasm` and `native`, `node tests/node/ccaas.js bench` for `node`; or, with `--host-exe`,
//! a `wasmcc` binary's own `wasmcc serve` for `wasm`, so that the binary operators run is the one measured (and the
//! one a profile-guided build is trained on: scripts/build-release.sh).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use wasmcc_host::engine::WasmEngine;
use wasmcc_host::executor::{LoadedChaincode, Program};
use wasmcc_host::limits::TxLimits;
use wasmcc_host::recording::recorder::{RecordMode, RecordPolicy, RecordTarget, Recorder};
use wasmcc_host::server::Listener;

use super::native::NativeChaincode;
use crate::node::NodeChaincode;

/// How long a server may take to print its `listening` line.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server asked to end may take before it is killed. A server that ends by itself runs its exit handlers,
/// which is where an instrumented build writes its profile.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The implementations compared, in the order reports list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Impl {
    Wasm,
    Native,
    Node,
    /// The wasm host recording its errors (`[record] mode = "errors"`): what recording costs when nothing fails.
    WasmRecording,
    /// `wasmcc serve` of another build (`--baseline-exe`): an A/B of two builds whose rounds alternate in one run.
    WasmBase,
}

impl Impl {
    pub const ALL: [Impl; 5] = [Impl::Wasm, Impl::Native, Impl::Node, Impl::WasmRecording, Impl::WasmBase];

    pub fn name(self) -> &'static str {
        match self {
            Impl::Wasm => "wasm",
            Impl::Native => "native",
            Impl::Node => "node",
            Impl::WasmRecording => "wasm-recording",
            Impl::WasmBase => "wasm-base",
        }
    }

    pub fn parse(s: &str) -> anyhow::Result<Impl> {
        Impl::ALL.into_iter().find(|i| i.name() == s).with_context(|| format!("unknown implementation {s:?}"))
    }
}

/// A running chaincode server: where it listens, its CCID and its process.
pub struct Server {
    pub which: Impl,
    pub addr: String,
    pub ccid: String,
    pub pid: u32,
    process: Process,
}

enum Process {
    /// `bench serve`: ends when its stdin closes (and is killed on drop).
    Bench {
        child: Child,
        stdin: Option<ChildStdin>,
    },
    /// `wasmcc serve` on a data directory of its own: ends on SIGTERM (and is killed on drop).
    Wasmcc {
        child: Child,
        _data: tempfile::TempDir,
    },
    Node {
        _node: NodeChaincode,
    },
}

impl Process {
    /// Asks the server to end as it would end in use, waits up to [`STOP_TIMEOUT`], then kills it.
    async fn stop(&mut self) -> anyhow::Result<()> {
        let child = match self {
            Process::Bench { child, stdin } => {
                stdin.take();
                child
            }
            Process::Wasmcc { child, .. } => {
                if let Some(pid) = child.id() {
                    // SAFETY: kill(2) on our own child's pid, which `child` has not reaped yet.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
                }
                child
            }
            Process::Node { .. } => return Ok(()),
        };
        match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
            Ok(status) => {
                let status = status?;
                anyhow::ensure!(status.success(), "the server ended with {status}");
                Ok(())
            }
            Err(_) => {
                child.start_kill()?;
                bail!("the server did not end within {STOP_TIMEOUT:?} of being asked to, and was killed")
            }
        }
    }
}

impl Server {
    /// Starts the `which` implementation of the bench chaincode under `ccid`; a wasmcc host (wasm, native) with
    /// `workers` guest threads, else the host's default. `exes`: the `wasmcc` binaries that serve `wasm` and
    /// `wasm-base`.
    pub async fn start(
        which: Impl,
        wasm: &Path,
        ccid: &str,
        workers: Option<usize>,
        exes: HostExes<'_>,
    ) -> anyhow::Result<Server> {
        if which == Impl::Node {
            let node = NodeChaincode::start("bench", ccid).await;
            let pid = node.pid().context("the Node process has no pid")?;
            return Ok(Server {
                which,
                addr: node.addr(),
                ccid: ccid.into(),
                pid,
                process: Process::Node { _node: node },
            });
        }
        if let (Impl::Wasm, Some(exe)) = (which, exes.host) {
            return start_wasmcc(which, exe, wasm, workers).await;
        }
        if which == Impl::WasmBase {
            let exe = exes.baseline.context("the wasm-base implementation needs --baseline-exe")?;
            return start_wasmcc(which, exe, wasm, workers).await;
        }
        let exe = std::env::current_exe().context("locating the bench binary")?;
        let mut cmd = Command::new(exe);
        cmd.args(["serve", which.name(), "--ccid", ccid, "--wasm"]).arg(wasm);
        if let Some(workers) = workers {
            cmd.arg("--workers").arg(workers.to_string());
        }
        let (child, stdin, line) = spawn_until_line(cmd, "listening ").await?;
        let pid = child.id().context("the server has no pid")?;
        let process = Process::Bench { child, stdin: Some(stdin) };
        Ok(Server { which, addr: line, ccid: ccid.into(), pid, process })
    }

    /// Ends the server as it ends in use (stdin closed, SIGTERM) and checks that it ended by itself.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.process.stop().await.with_context(|| format!("stopping the {} implementation", self.which.name()))
    }
}

/// The `wasmcc` binaries that serve the wasm implementations instead of the bench's own server.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostExes<'a> {
    /// Serves `wasm` (`--host-exe`).
    pub host: Option<&'a Path>,
    /// Serves `wasm-base` (`--baseline-exe`).
    pub baseline: Option<&'a Path>,
}

/// `wasmcc serve` (the binary at `exe`) with the bench chaincode installed on a fresh data directory, served on a
/// port of its own as a peer would dial it, under the CCID the install gives it, as the `which` implementation.
async fn start_wasmcc(which: Impl, exe: &Path, wasm: &Path, workers: Option<usize>) -> anyhow::Result<Server> {
    let data = tempfile::tempdir()?;
    // A port the system hands out now and that is free again when the host binds it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let config = crate::host_config(data.path(), (port, port));
    // Installed as `wasmcc install` would, by the same store code, before the host under test starts on it.
    let daemon = wasmcc_host::daemon::Daemon::start(&config).await?;
    let bytes = std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let record = daemon.registry().install(wasmcc_common::package::package("bench", &bytes, &[])?).await?.0;
    daemon.shutdown().await;
    let ccid = record.ccid;

    // What `host_config` set that the host under test needs: the data, the admin API on a free port, the one port.
    let config_path = data.path().join("wasmcc.toml");
    let data_dir = toml::Value::from(data.path().display().to_string());
    let toml = format!(
        "data_dir = {data_dir}\n[admin]\nlisten = \"127.0.0.1:0\"\n[chaincodes]\nport_min = {port}\nport_max = {port}\n"
    );
    std::fs::write(&config_path, toml)?;

    let mut cmd = Command::new(exe);
    cmd.arg("serve").arg("--config").arg(&config_path).env("WASMCC_LOG", "warn");
    if let Some(workers) = workers {
        cmd.arg("--workers").arg(workers.to_string());
    }
    let (child, _stdin, line) = spawn_until_line(cmd, &format!("serving {ccid} on "))
        .await
        .with_context(|| format!("starting {} serve", exe.display()))?;
    let pid = child.id().context("the server has no pid")?;
    Ok(Server { which, addr: line, ccid, pid, process: Process::Wasmcc { child, _data: data } })
}

/// Spawns `cmd` with piped stdin and waits for a stdout line starting with `prefix`; returns the rest of it. The
/// process's later output is drained in the background.
pub async fn spawn_until_line(mut cmd: Command, prefix: &str) -> anyhow::Result<(Child, ChildStdin, String)> {
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).kill_on_drop(true).spawn().context("spawning a server")?;
    let stdin = child.stdin.take().context("stdin piped")?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout piped")?).lines();
    let found = tokio::time::timeout(START_TIMEOUT, async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.strip_prefix(prefix) {
                return Ok(Some(rest.to_string()));
            }
        }
        Ok::<_, std::io::Error>(None)
    })
    .await;
    let line = match found {
        Ok(Ok(Some(line))) => line,
        Ok(Ok(None)) => bail!("the server exited before printing {prefix:?}: {:?}", child.wait().await),
        Ok(Err(e)) => bail!("reading the server's output: {e}"),
        Err(_) => bail!("the server did not print {prefix:?} within {START_TIMEOUT:?}"),
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, stdin, line))
}

/// `bench serve <wasm|native>`: the server process. Prints `listening <addr>`, serves until stdin closes.
pub async fn serve(which: Impl, ccid: &str, wasm: &Path, workers: Option<u16>) -> anyhow::Result<()> {
    let quota = wasmcc_host::quota::QuotaConfig { threads: workers, ..Default::default() };
    let engine = Arc::new(WasmEngine::with_quota(&quota)?);
    // Kept until the server ends: the recordings go here.
    let recordings = tempfile::tempdir()?;
    let chaincode = match which {
        Impl::Wasm | Impl::WasmRecording => {
            let bytes = std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?;
            let chaincode = LoadedChaincode::new(ccid.into(), engine.load(&bytes)?, TxLimits::default());
            if which == Impl::WasmRecording {
                let policy = RecordPolicy { mode: RecordMode::Errors, ..Default::default() };
                let recorder = Recorder::start(recordings.path().to_path_buf())?;
                chaincode.set_recording(Some(Arc::new(RecordTarget::new(policy, "bench".into(), recorder))));
            }
            Arc::new(chaincode)
        }
        Impl::Native => {
            let program = Program::Native(Arc::new(NativeChaincode::<bench::Bench>::default()));
            Arc::new(LoadedChaincode::with_program(ccid.into(), program, TxLimits::default()))
        }
        Impl::Node => bail!("the node implementation is served by tests/node/ccaas.js"),
        Impl::WasmBase => bail!("the wasm-base implementation is served by the --baseline-exe binary"),
    };
    let addr: SocketAddr = "127.0.0.1:0".parse()?;
    let listener = Listener::bind_one(addr, engine, chaincode)?;
    println!("listening {}", listener.local_addr()?);
    listener.serve_until(stdin_closed()).await?;
    Ok(())
}

/// Resolves when standard input reaches its end: the parent closed it or died.
pub async fn stdin_closed() {
    let _ = tokio::task::spawn_blocking(|| {
        let mut buf = [0u8; 64];
        while let Ok(1..) = std::io::Read::read(&mut std::io::stdin(), &mut buf) {}
    })
    .await;
}
