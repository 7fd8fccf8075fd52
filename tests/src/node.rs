//! The Node reference chaincodes: `tests/node/chaincode/*.js`, written with Fabric's own `fabric-shim` (npm) and
//! served in CCaaS mode by `tests/node/ccaas.js`. The conformance suite runs the same scenarios against them and
//! against the wasm examples (docs/conformance.md).
//!
//! ```no_run
//! # async fn demo() {
//! use wasmcc_peer::{args, PeerSim};
//! use wasmcc_tests::node::NodeChaincode;
//! let node = NodeChaincode::start("probe", "probe:0123").await;
//! let conn = PeerSim::new().connect(&node.addr(), node.ccid()).await.unwrap();
//! let result = conn.invoke("mychannel", args(["put", "k", "v"])).await.unwrap();
//! # }
//! ```
//!
//! Nothing is skipped: without `node` or `tests/node/node_modules`, [`NodeChaincode::start`] panics and says to run
//! `bash scripts/setup-node.sh`.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use wasmcc_testkit::ports::free_port;

/// How long the Node process may take to print its `listening` line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of the process's output is kept for diagnostics (the tail).
const OUTPUT_KEPT: usize = 64 * 1024;
/// Attempts with a fresh port when the one picked was taken in the meantime.
const BIND_ATTEMPTS: usize = 5;

/// The chaincodes `tests/node/ccaas.js` can serve.
pub const CHAINCODES: [&str; 6] = ["probe", "marbles", "private-asset", "bench", "asset-transfer", "loyalty"];

/// `tests/node`.
pub fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// A Node chaincode server on a loopback port, killed when dropped. Its stdin is a pipe that closes with this value,
/// so the process also ends if the test process dies.
pub struct NodeChaincode {
    child: Child,
    _stdin: ChildStdin,
    addr: String,
    ccid: String,
    output: Arc<Mutex<String>>,
}

impl NodeChaincode {
    /// Starts `node tests/node/ccaas.js <name> 127.0.0.1:<free port> <ccid>` and waits for it to listen.
    /// Panics (with the process's output) if it does not within 30 s.
    pub async fn start(name: &str, ccid: &str) -> NodeChaincode {
        assert!(CHAINCODES.contains(&name), "no Node chaincode {name:?}: expected one of {CHAINCODES:?}");
        check_setup();
        let mut last = String::new();
        for _ in 0..BIND_ATTEMPTS {
            match Self::try_start(name, ccid).await {
                Ok(started) => return started,
                // The port picked was taken between our probe and Node's bind: pick another.
                Err(output) if output.contains("EADDRINUSE") => last = output,
                Err(output) => panic!("Node chaincode {name} did not start:\n{output}"),
            }
        }
        panic!("Node chaincode {name} did not start after {BIND_ATTEMPTS} attempts:\n{last}")
    }

    async fn try_start(name: &str, ccid: &str) -> Result<NodeChaincode, String> {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new("node")
            .arg(node_dir().join("ccaas.js"))
            .args([name, &addr, ccid])
            .current_dir(node_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("running node: {e}. Install Node >= 18, then run: bash scripts/setup-node.sh"));
        let stdin = child.stdin.take().expect("stdin piped");
        let stdout = child.stdout.take().expect("stdout piped");
        let stderr = child.stderr.take().expect("stderr piped");

        let output = Arc::new(Mutex::new(String::new()));
        tokio::spawn(collect(stderr, output.clone()));

        let expected = format!("listening {addr}");
        let mut stdout = BufReader::new(stdout);
        let waited = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = next_line(&mut stdout).await {
                if line == expected {
                    return true;
                }
                push(&output, &line);
            }
            false
        })
        .await;
        match waited {
            Ok(true) => {
                tokio::spawn(collect(stdout, output.clone()));
                Ok(NodeChaincode { child, _stdin: stdin, addr, ccid: ccid.to_owned(), output })
            }
            Ok(false) => {
                // stdout closed: the process is ending. Give stderr a moment to be collected.
                let status = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                let status = match status {
                    Ok(Ok(s)) => s.to_string(),
                    _ => "still running".to_owned(),
                };
                Err(format!("node exited ({status}) before listening on {addr}; output:\n{}", tail(&output)))
            }
            Err(_) => {
                Err(format!("node did not print {expected:?} within {START_TIMEOUT:?}; output:\n{}", tail(&output)))
            }
        }
    }

    /// The `host:port` the chaincode listens on, for `PeerSim::connect`.
    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    /// The Node process's id (the benchmarks read its CPU time from `/proc/<pid>/stat`).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The CCID it registers with.
    pub fn ccid(&self) -> &str {
        &self.ccid
    }

    /// What the process printed so far (stdout after the `listening` line, and stderr), up to the last 64 KiB.
    pub fn output(&self) -> String {
        tail(&self.output)
    }
}

impl Drop for NodeChaincode {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Panics unless `node` and the npm packages are installed.
fn check_setup() {
    let shim = node_dir().join("node_modules/fabric-shim/package.json");
    assert!(
        shim.exists(),
        "{} is missing: the Node reference chaincodes need Fabric's fabric-shim. Run: bash scripts/setup-node.sh",
        shim.display()
    );
}

fn push(output: &Mutex<String>, line: &str) {
    let mut out = output.lock().unwrap();
    out.push_str(line);
    out.push('\n');
    if out.len() > 2 * OUTPUT_KEPT {
        let mut cut = out.len() - OUTPUT_KEPT;
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out.drain(..cut);
    }
}

fn tail(output: &Mutex<String>) -> String {
    let out = output.lock().unwrap();
    let mut cut = out.len().saturating_sub(OUTPUT_KEPT);
    while !out.is_char_boundary(cut) {
        cut += 1;
    }
    out[cut..].to_owned()
}

/// The next line (lossy UTF-8, without its end), or `None` at the end of the stream.
async fn next_line(reader: &mut (impl AsyncBufRead + Unpin)) -> Option<String> {
    let mut buf = Vec::new();
    match reader.read_until(b'\n', &mut buf).await {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                buf.pop();
            }
            Some(String::from_utf8_lossy(&buf).into_owned())
        }
    }
}

/// Keeps reading to the end (a full pipe would block Node), keeping the tail.
async fn collect(stream: impl AsyncRead + Unpin, output: Arc<Mutex<String>>) {
    let mut reader = BufReader::new(stream);
    while let Some(line) = next_line(&mut reader).await {
        push(&output, &line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmcc_peer::{args, PeerSim};

    /// The Node probe answers the peer simulator: PUT commits, GET reads it back.
    #[tokio::test]
    async fn node_probe_put_then_get() {
        let node = NodeChaincode::start("probe", "probe:0123abcd").await;
        let peer = PeerSim::new();
        let conn = peer.connect(&node.addr(), node.ccid()).await.expect("connect");
        let put = conn.invoke("mychannel", args(["put", "k", "v"])).await.expect("put");
        assert_eq!(put.status(), Some(200), "{put:?}\n{}", node.output());
        assert!(put.commit.is_committed());
        let get = conn.invoke("mychannel", args(["get", "k"])).await.expect("get");
        assert_eq!(get.response().map(|r| r.payload.as_slice()), Some(&b"v"[..]), "{get:?}");
        let unknown = conn.invoke("mychannel", args(["nope"])).await.expect("nope");
        assert_eq!(unknown.response().map(|r| (r.status, r.message.as_str())), Some((500, "unknown function: nope")));
    }
}
