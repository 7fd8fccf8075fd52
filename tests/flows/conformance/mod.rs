//! Conformance: every scenario runs twice through the same peer simulator, once against the wasm examples in the
//! host and once against the same chaincode written with Fabric's own Node `fabric-shim` in CCaaS mode
//! (`tests/node`). Responses, events and write sets must be identical (docs/conformance.md).
//!
//! Each scenario also states what it expects of the result, so the two implementations cannot agree on a wrong
//! answer unnoticed. Where the Node shim's own argument checks word their errors differently from the Go shim (which
//! wasmcc follows), the scenario says so and the comparison is of the status only; the wasm text is then checked
//! against the Go shim's.

mod scenarios;
mod scenarios_contracts;
mod scenarios_samples;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use wasmcc_host::limits::TxLimits;
use wasmcc_peer::{ConnectOptions, Identity, PeerConnection, PeerSim, TxOptions, TxOutcome, TxResult};
use wasmcc_tests::node::NodeChaincode;
use wasmcc_tests::TestHost;

pub use scenarios::scenarios;

/// The chaincodes that take part, by namespace (the chaincode name the peer knows them by), with their wasm module.
pub const CHAINCODES: [(&str, &str); 5] = [
    ("probe", "probe"),
    ("marbles", "marbles"),
    ("private-asset", "private_asset"),
    ("asset-transfer", "asset_transfer"),
    ("loyalty", "loyalty"),
];

/// Every transaction's proposal carries this timestamp, so history and context answers are the same in both runs.
pub const TX_SECONDS: i64 = 1_700_000_000;

/// Who signs a step's proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signer {
    /// `Org1MSP`, with the Fabric CA attribute `role=auditor`.
    Org1,
    /// `Org2MSP`, no attributes.
    Org2,
}

impl Signer {
    fn identity(self) -> &'static Identity {
        static ORG1: OnceLock<Identity> = OnceLock::new();
        static ORG2: OnceLock<Identity> = OnceLock::new();
        match self {
            Signer::Org1 => ORG1.get_or_init(|| {
                Identity::generate_with_attributes("Org1MSP", "user1", &[("role", "auditor")]).expect("identity")
            }),
            Signer::Org2 => ORG2.get_or_init(|| Identity::generate("Org2MSP", "user2").expect("identity")),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A TRANSACTION that is committed when endorsed.
    Submit,
    /// A TRANSACTION that is only endorsed (read-only queries).
    Evaluate,
    /// An INIT.
    Init,
}

/// One transaction of a scenario.
#[derive(Clone, Debug)]
pub struct Step {
    pub cc: &'static str,
    pub kind: Kind,
    pub channel: &'static str,
    pub args: Vec<String>,
    pub transient: Vec<(String, String)>,
    pub signer: Signer,
    /// The Node shim checks this call's arguments itself and words the error its own way: compare the status only.
    pub node_local_check: bool,
    /// Node's fabric-shim answers this step differently from the Go shim, which wasmcc follows (docs/conformance.md,
    /// "Where Node's fabric-shim differs"): nothing of it is compared; the scenario checks the wasm answer itself.
    pub go_only: bool,
    /// The payload is a JSON document whose key order is each implementation's own (GetMetadata): compared as JSON.
    pub json_payload: bool,
}

impl Step {
    pub fn new(cc: &'static str, kind: Kind, args: &[&str]) -> Step {
        Step {
            cc,
            kind,
            channel: "mychannel",
            args: args.iter().map(|a| a.to_string()).collect(),
            transient: Vec::new(),
            signer: Signer::Org1,
            node_local_check: false,
            go_only: false,
            json_payload: false,
        }
    }

    pub fn transient(mut self, key: &str, value: &str) -> Step {
        self.transient.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn signer(mut self, signer: Signer) -> Step {
        self.signer = signer;
        self
    }

    pub fn channel(mut self, channel: &'static str) -> Step {
        self.channel = channel;
        self
    }

    pub fn node_local_check(mut self) -> Step {
        self.node_local_check = true;
        self
    }

    pub fn go_only(mut self) -> Step {
        self.go_only = true;
        self
    }

    pub fn json_payload(mut self) -> Step {
        self.json_payload = true;
        self
    }
}

/// A sequence of transactions against fresh ledgers, and what the scenario expects of their results.
pub struct Scenario {
    pub name: &'static str,
    pub steps: Vec<Step>,
    pub expect: fn(&Run),
}

/// The results of one scenario on one target, with the accessors expectations are written with.
pub struct Run<'a> {
    pub target: &'static str,
    pub results: &'a [TxResult],
}

impl Run<'_> {
    pub fn is_wasm(&self) -> bool {
        self.target == "wasm"
    }

    /// The payload of step `i` as text, which must have succeeded with status 200.
    pub fn ok(&self, i: usize) -> String {
        let r = &self.results[i];
        assert_eq!(r.status(), Some(200), "{} step {i}: {:?}", self.target, r.outcome);
        String::from_utf8_lossy(r.payload()).into_owned()
    }

    /// The message of step `i`, which must have answered status 500.
    pub fn err(&self, i: usize) -> String {
        let r = &self.results[i];
        assert_eq!(r.status(), Some(500), "{} step {i}: {:?}", self.target, r.outcome);
        r.response().unwrap().message.clone()
    }

    /// Step `i`'s payload parsed as JSON.
    pub fn json(&self, i: usize) -> serde_json::Value {
        let text = self.ok(i);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} step {i}: not JSON ({e}): {text}", self.target))
    }
}

/// Where the chaincodes run.
pub enum Target {
    /// The host is kept only to keep serving until the target is dropped.
    Wasm {
        _host: TestHost,
        served: BTreeMap<&'static str, (String, String)>,
    },
    Node {
        servers: BTreeMap<&'static str, NodeChaincode>,
    },
}

impl Target {
    pub async fn wasm() -> Target {
        let mut host = TestHost::new();
        let mut served = BTreeMap::new();
        for (name, module) in CHAINCODES {
            let s = host.serve(name, module, TxLimits::default()).await;
            served.insert(name, (s.addr(), s.ccid.clone()));
        }
        Target::Wasm { _host: host, served }
    }

    pub async fn node() -> Target {
        let mut servers = BTreeMap::new();
        for (name, _) in CHAINCODES {
            let ccid = format!("{name}:{}", "0".repeat(64));
            servers.insert(name, NodeChaincode::start(name, &ccid).await);
        }
        Target::Node { servers }
    }

    fn name(&self) -> &'static str {
        match self {
            Target::Wasm { .. } => "wasm",
            Target::Node { .. } => "node",
        }
    }

    fn endpoint(&self, cc: &str) -> (String, String) {
        match self {
            Target::Wasm { served, .. } => served[cc].clone(),
            Target::Node { servers, .. } => {
                let s = &servers[cc];
                (s.addr(), s.ccid().to_owned())
            }
        }
    }

    /// Runs a scenario on a fresh simulated peer connected to every chaincode (so they can call each other).
    pub async fn run(&self, scenario: &Scenario) -> Vec<TxResult> {
        let peer = PeerSim::new();
        let mut conns: BTreeMap<&str, PeerConnection> = BTreeMap::new();
        for (name, _) in CHAINCODES {
            let (addr, ccid) = self.endpoint(name);
            let opts = ConnectOptions { namespace: Some(name.to_owned()), ..Default::default() };
            let conn = peer.connect_with(&addr, &ccid, opts).await.unwrap_or_else(|e| {
                panic!("{}: connecting to {name} for scenario {}: {e}", self.name(), scenario.name)
            });
            conns.insert(name, conn);
        }
        let mut results = Vec::new();
        for (i, step) in scenario.steps.iter().enumerate() {
            let mut opts = TxOptions::new()
                .txid(format!("{}-{i}", scenario.name))
                .timestamp(TX_SECONDS + i as i64, 0)
                .nonce(format!("{}-{i}", scenario.name).into_bytes())
                .creator(step.signer.identity().clone());
            for (k, v) in &step.transient {
                opts = opts.transient(k.clone(), v.clone().into_bytes());
            }
            if step.kind == Kind::Evaluate {
                opts = opts.evaluate();
            }
            let conn = &conns[step.cc];
            let args: Vec<Vec<u8>> = step.args.iter().map(|a| a.clone().into_bytes()).collect();
            let result = match step.kind {
                Kind::Init => conn.init_with(step.channel, args, &opts).await,
                _ => conn.invoke_with(step.channel, args, &opts).await,
            };
            results.push(result.unwrap_or_else(|e| {
                panic!("{}: scenario {} step {i} ({:?}): {e}", self.name(), scenario.name, step.args)
            }));
        }
        results
    }
}

/// What two runs of a step must agree on.
fn compare(scenario: &Scenario, wasm: &[TxResult], node: &[TxResult]) -> Result<(), String> {
    for (i, step) in scenario.steps.iter().enumerate() {
        let (w, n) = (&wasm[i], &node[i]);
        let at = format!("scenario {} step {i} {:?}", scenario.name, step.args);
        if step.go_only {
            continue;
        }
        if step.node_local_check {
            if w.status() != n.status() {
                return Err(format!("{at}: status wasm {:?} node {:?}", w.outcome, n.outcome));
            }
        } else if step.json_payload {
            let json = |r: &TxResult| serde_json::from_slice(r.payload()).ok().map(without_type_docs);
            let message = |r: &TxResult| r.response().map(|r| r.message.clone());
            if (w.status(), message(w), json(w)) != (n.status(), message(n), json(n)) {
                return Err(format!(
                    "{at}: JSON payload differs\n wasm {}\n node {}",
                    show(&w.outcome),
                    show(&n.outcome)
                ));
            }
        } else if w.outcome != n.outcome {
            return Err(format!("{at}: outcome differs\n wasm {}\n node {}", show(&w.outcome), show(&n.outcome)));
        }
        let event = |r: &TxResult| r.event.as_ref().map(|e| (e.event_name.clone(), e.payload.clone()));
        if event(w) != event(n) {
            return Err(format!("{at}: event differs\n wasm {:?}\n node {:?}", w.event, n.event));
        }
        if w.rwset != n.rwset {
            return Err(format!("{at}: read/write set differs\n wasm {:?}\n node {:?}", w.rwset, n.rwset));
        }
        if w.commit != n.commit {
            return Err(format!("{at}: commit differs: wasm {:?} node {:?}", w.commit, n.commit));
        }
    }
    Ok(())
}

/// The metadata document without the `description`s of its component schemas: schemars writes a Rust type's and its
/// fields' doc comments there, which fabric-contract-api has no way to say (docs/conformance.md).
fn without_type_docs(mut doc: serde_json::Value) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(fields) => {
                fields.remove("description");
                fields.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    if let Some(schemas) = doc.pointer_mut("/components/schemas") {
        strip(schemas);
    }
    doc
}

fn show(outcome: &TxOutcome) -> String {
    match outcome {
        TxOutcome::Completed(r) => {
            format!("COMPLETED {} {:?} {:?}", r.status, r.message, String::from_utf8_lossy(&r.payload))
        }
        TxOutcome::Error(text) => format!("ERROR {text:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasm_and_node_fabric_shim_agree_on_every_scenario() {
    let all = scenarios();
    assert!(all.len() >= 40, "the suite must cover at least 40 scenarios, has {}", all.len());
    let wasm = Target::wasm().await;
    let node = Target::node().await;
    let mut failures = Vec::new();
    for scenario in &all {
        let w = wasm.run(scenario).await;
        let n = node.run(scenario).await;
        // The scenario's own expectations, on both runs: they must also be right, not merely equal.
        for (target, results) in [("wasm", &w), ("node", &n)] {
            let run = Run { target, results };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (scenario.expect)(&run)));
            if outcome.is_err() {
                failures.push(format!("{target}: scenario {} failed its expectations", scenario.name));
            }
        }
        if let Err(diff) = compare(scenario, &w, &n) {
            failures.push(diff);
        }
    }
    assert!(failures.is_empty(), "{} of {} scenarios disagree:\n{}", failures.len(), all.len(), failures.join("\n"));
}
