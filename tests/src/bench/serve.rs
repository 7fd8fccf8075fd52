//! The chaincode servers under test, each in a process of its own so that its CPU time is its own: `bench serve`
//! (this binary again) for `wasm` and `native`, `node tests/node/ccaas.js bench` for `node`.

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

/// The implementations compared, in the order reports list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Impl {
    Wasm,
    Native,
    Node,
    /// The wasm host recording its errors (`[record] mode = "errors"`): what recording costs when nothing fails.
    WasmRecording,
}

impl Impl {
    pub const ALL: [Impl; 4] = [Impl::Wasm, Impl::Native, Impl::Node, Impl::WasmRecording];

    pub fn name(self) -> &'static str {
        match self {
            Impl::Wasm => "wasm",
            Impl::Native => "native",
            Impl::Node => "node",
            Impl::WasmRecording => "wasm-recording",
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
    _process: Process,
}

enum Process {
    /// Killed on drop; its stdin closing also ends it.
    Own {
        child: Child,
        _stdin: ChildStdin,
    },
    Node {
        _node: NodeChaincode,
    },
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Process::Own { child, .. } = self {
            let _ = child.start_kill();
        }
    }
}

impl Server {
    /// Starts the `which` implementation of the bench chaincode under `ccid`; a wasmcc host (wasm, native) with
    /// `workers` guest threads, else the host's default.
    pub async fn start(which: Impl, wasm: &Path, ccid: &str, workers: Option<usize>) -> anyhow::Result<Server> {
        if which == Impl::Node {
            let node = NodeChaincode::start("bench", ccid).await;
            let pid = node.pid().context("the Node process has no pid")?;
            return Ok(Server {
                which,
                addr: node.addr(),
                ccid: ccid.into(),
                pid,
                _process: Process::Node { _node: node },
            });
        }
        let exe = std::env::current_exe().context("locating the bench binary")?;
        let mut cmd = Command::new(exe);
        cmd.args(["serve", which.name(), "--ccid", ccid, "--wasm"]).arg(wasm);
        if let Some(workers) = workers {
            cmd.arg("--workers").arg(workers.to_string());
        }
        let (child, stdin, line) = spawn_until_line(cmd, "listening ").await?;
        let pid = child.id().context("the server has no pid")?;
        Ok(Server { which, addr: line, ccid: ccid.into(), pid, _process: Process::Own { child, _stdin: stdin } })
    }
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
