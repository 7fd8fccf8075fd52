//! [`PeerConnection`]: one registered chaincode stream, seen from the peer's side once it is *ready*: the public
//! handle tests hold, the reader task that takes every message off the stream in order, and the keepalive sender.
//! What the peer does with the messages is in [`super::handler`]. When the stream ends, every transaction in flight
//! fails with "chaincode stream terminated".

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use tonic::Streaming;
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_proto::protos::{ChaincodeAdditionalParams, ChaincodeInput, ChaincodeMessage, SignedProposal};

use super::handler::{lock, Shared};
use super::log::RequestLog;
use super::peer::{ConnectOptions, PeerSim};
use super::proposal::{build_proposal, read_proposal, Identity, ProposalSpec, ReadProposal};
use super::tx::{Invocation, TxOptions, TxResult};
use super::SimError;
use crate::world::lifecycle::check_invocation;
use crate::world::simulator::TxSimulator;
use crate::world::CommitInfo;

/// A registered, ready chaincode stream. Clone it to run transactions concurrently; the stream ends when the last
/// clone is dropped, on [`PeerConnection::close`], or when the chaincode breaks the protocol.
#[derive(Clone)]
pub struct PeerConnection {
    shared: Arc<Shared>,
    _handle: Arc<HandleGuard>,
}

impl std::fmt::Debug for PeerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConnection")
            .field("ccid", &self.shared.ccid)
            .field("namespace", &self.shared.namespace)
            .field("terminated", &self.shared.termination.reason())
            .finish_non_exhaustive()
    }
}

/// Ends the stream when the last user handle goes (the reader task keeps `Shared` alive, not the stream).
struct HandleGuard(Termination);

impl Drop for HandleGuard {
    fn drop(&mut self) {
        self.0.end("peer connection dropped");
    }
}

/// Whether, and why, the stream has ended. Everything that must stop with the stream waits on it.
#[derive(Clone, Debug)]
pub(crate) struct Termination(Arc<watch::Sender<Option<String>>>);

impl Termination {
    pub(crate) fn new() -> Termination {
        Termination(Arc::new(watch::channel(None).0))
    }

    /// Records the first reason; later calls change nothing.
    pub(crate) fn end(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.0.send_if_modified(|current| {
            let first = current.is_none();
            if first {
                *current = Some(reason);
            }
            first
        });
    }

    pub(crate) fn reason(&self) -> Option<String> {
        self.0.borrow().clone()
    }

    /// Resolves once the stream has ended (at once if it already has).
    pub(crate) fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.subscribe();
        async move {
            // An error means every sender is gone, which also means the connection is gone.
            let _ = rx.wait_for(Option::is_some).await;
        }
    }
}

impl PeerConnection {
    /// Takes over a stream that has just been sent REGISTERED and READY: starts the reader (and the keepalive
    /// sender, if configured), and registers the chaincode with the simulated peer for chaincode-to-chaincode calls.
    pub(crate) fn start(
        sim: PeerSim,
        ccid: String,
        opts: ConnectOptions,
        out: mpsc::UnboundedSender<ChaincodeMessage>,
        termination: Termination,
        log: RequestLog,
        inbound: Streaming<ChaincodeMessage>,
    ) -> PeerConnection {
        if let Some(every) = opts.keepalive {
            tokio::spawn(send_keepalives(every, out.clone(), termination.clone()));
        }
        // For CCaaS the namespace is the chaincode definition's name; the label is the usual choice.
        let namespace = opts.namespace.clone().unwrap_or_else(|| ccid.split(':').next().unwrap_or(&ccid).to_owned());
        let shared = Arc::new(Shared::new(sim, ccid, namespace, opts, out, termination.clone(), log));
        shared.sim.register_chaincode(&shared.namespace, &shared);
        tokio::spawn(read_loop(shared.clone(), inbound));
        PeerConnection { shared, _handle: Arc::new(HandleGuard(termination)) }
    }

    /// The package ID the chaincode registered with.
    pub fn ccid(&self) -> &str {
        &self.shared.ccid
    }

    /// The namespace (chaincode name) whose state transactions read and write.
    pub fn namespace(&self) -> &str {
        &self.shared.namespace
    }

    /// The READY payload that was sent (`None`: an empty payload).
    pub fn ready_params(&self) -> Option<&ChaincodeAdditionalParams> {
        self.shared.opts.ready_params.as_ref()
    }

    /// Every message received from the chaincode, REGISTER included.
    pub fn log(&self) -> &RequestLog {
        &self.shared.log
    }

    /// The simulator whose world state this connection serves.
    pub fn sim(&self) -> &PeerSim {
        &self.shared.sim
    }

    /// Why the stream ended, if it has.
    pub fn termination_reason(&self) -> Option<String> {
        self.shared.termination.reason()
    }

    pub fn is_terminated(&self) -> bool {
        self.termination_reason().is_some()
    }

    /// Ends the stream, as a peer that stops or deregisters the chaincode.
    pub fn close(&self) {
        self.shared.termination.end("closed by the simulator");
    }

    /// Resolves when the stream has ended.
    pub async fn closed(&self) {
        self.shared.termination.wait().await
    }

    /// Submits a TRANSACTION with default options.
    pub async fn invoke(&self, channel_id: &str, args: Vec<Vec<u8>>) -> Result<TxResult, SimError> {
        self.execute(false, channel_id, args, &TxOptions::default()).await
    }

    /// Runs a TRANSACTION with `opts`.
    pub async fn invoke_with(
        &self,
        channel_id: &str,
        args: Vec<Vec<u8>>,
        opts: &TxOptions,
    ) -> Result<TxResult, SimError> {
        self.execute(false, channel_id, args, opts).await
    }

    /// Submits an INIT (`is_init` true), with default options.
    pub async fn init(&self, channel_id: &str, args: Vec<Vec<u8>>) -> Result<TxResult, SimError> {
        self.execute(true, channel_id, args, &TxOptions::default()).await
    }

    /// Runs an INIT with `opts`.
    pub async fn init_with(
        &self,
        channel_id: &str,
        args: Vec<Vec<u8>>,
        opts: &TxOptions,
    ) -> Result<TxResult, SimError> {
        self.execute(true, channel_id, args, opts).await
    }

    /// The endorser's path: build the proposal, check the invocation against the chaincode definition (which
    /// refuses before anything is sent), run it with a fresh simulator, then, like the committer, commit a success.
    async fn execute(
        &self,
        is_init: bool,
        channel_id: &str,
        args: Vec<Vec<u8>>,
        opts: &TxOptions,
    ) -> Result<TxResult, SimError> {
        let shared = &*self.shared;
        let input = ChaincodeInput { args, decorations: opts.decorations.clone(), is_init };
        let creator = opts.creator.as_ref().unwrap_or_else(|| Identity::default_user());
        let proposal = build_proposal(&ProposalSpec {
            channel_id,
            chaincode_name: &shared.namespace,
            input: &input,
            transient: &opts.transient,
            creator,
            txid: opts.txid.as_deref(),
            timestamp: opts.timestamp,
            nonce: opts.nonce.as_deref(),
            unsigned: opts.unsigned,
        })?;
        let run = Run {
            channel_id: channel_id.to_owned(),
            txid: proposal.txid,
            timestamp: proposal.timestamp,
            mspid: creator.mspid().to_owned(),
            input,
            proposal: proposal.signed,
            submit: opts.submit,
        };
        self.run(run).await
    }

    /// Runs a client's own signed proposal, as a gateway hands it to its peer: channel, txid, timestamp, creator,
    /// arguments and transient data all come from the proposal. `submit` commits a success, as [`TxOptions::submit`].
    pub async fn execute_proposal(&self, signed: SignedProposal, submit: bool) -> Result<TxResult, SimError> {
        let read = read_proposal(&signed)?;
        self.execute_read(&read, signed, submit).await
    }

    /// [`execute_proposal`](Self::execute_proposal) of a proposal the caller has read already.
    pub async fn execute_read(
        &self,
        read: &ReadProposal,
        signed: SignedProposal,
        submit: bool,
    ) -> Result<TxResult, SimError> {
        if read.chaincode_name != self.shared.namespace {
            return Err(SimError::BadProposal(format!(
                "the proposal is for chaincode {}, this connection serves {}",
                read.chaincode_name, self.shared.namespace
            )));
        }
        let run = Run {
            channel_id: read.channel_id.clone(),
            txid: read.txid.clone(),
            timestamp: read.timestamp,
            mspid: read.mspid.clone(),
            input: read.input.clone(),
            proposal: signed,
            submit,
        };
        self.run(run).await
    }

    async fn run(&self, run: Run) -> Result<TxResult, SimError> {
        let shared = &*self.shared;
        let Run { channel_id, txid, timestamp, mspid, input, proposal, submit } = run;
        let is_init = input.is_init;
        let sim = Arc::new(Mutex::new(TxSimulator::new(&channel_id, &txid)));
        let kind = {
            let world = shared.sim.world();
            let definition = shared.opts.definition.as_ref();
            check_invocation(definition, &world, &mut lock(&sim), &shared.namespace, is_init).map(|()| {
                if is_init {
                    Type::Init
                } else {
                    Type::Transaction
                }
            })
        };
        let kind = kind.map_err(|reason| SimError::InvalidInvocation { txid: txid.clone(), reason })?;
        let invocation = Invocation {
            kind,
            channel_id,
            txid: txid.clone(),
            input,
            proposal,
            creator_mspid: mspid,
            sim: sim.clone(),
        };
        let reply = shared.run(invocation).await?;
        let rwset = std::mem::take(&mut lock(&sim).rwset);
        let info = CommitInfo { txid, timestamp };
        shared.finish(reply, rwset, submit, info)
    }
}

/// One transaction to run: what [`PeerConnection::execute`] builds and [`PeerConnection::execute_proposal`] reads.
struct Run {
    channel_id: String,
    txid: String,
    timestamp: prost_types::Timestamp,
    mspid: String,
    input: ChaincodeInput,
    proposal: SignedProposal,
    submit: bool,
}

/// Reads the stream until it ends or breaks the protocol, then ends the connection.
async fn read_loop(shared: Arc<Shared>, mut inbound: Streaming<ChaincodeMessage>) {
    let ended = shared.termination.wait();
    tokio::pin!(ended);
    let reason = loop {
        let next = tokio::select! {
            _ = &mut ended => return,
            next = inbound.message() => next,
        };
        match next {
            Ok(Some(msg)) => {
                if let Err(reason) = shared.dispatch(msg) {
                    break format!("error handling message, ending stream: {reason}");
                }
            }
            Ok(None) => break "received EOF, ending chaincode support stream".to_owned(),
            Err(status) => break format!("receive from chaincode support stream failed: {status}"),
        }
    };
    shared.termination.end(reason);
}

/// Sends KEEPALIVE (type only) every `every` until the stream ends.
async fn send_keepalives(every: std::time::Duration, out: mpsc::UnboundedSender<ChaincodeMessage>, end: Termination) {
    let ended = end.wait();
    tokio::pin!(ended);
    let mut ticks = tokio::time::interval(every);
    ticks.tick().await; // The first tick is immediate; the peer's ticker first fires after one interval.
    loop {
        tokio::select! {
            _ = &mut ended => return,
            _ = ticks.tick() => {
                let keepalive = ChaincodeMessage { r#type: Type::Keepalive as i32, ..Default::default() };
                if out.send(keepalive).is_err() {
                    return;
                }
            }
        }
    }
}
