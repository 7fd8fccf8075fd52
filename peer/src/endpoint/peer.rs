//! [`PeerSim`]: the simulated peer's world state, and the dial + handshake that opens a [`PeerConnection`].
//!
//! In CCaaS the peer is the gRPC *client*: it dials the chaincode's `protos.Chaincode/Connect`, then waits, because
//! the chaincode speaks first with REGISTER (`docs/fabric-protocol.md` §4). A peer accepts the REGISTER only for the
//! CCID it is launching; for any other name it sends nothing at all and the launch times out. The simulator does the
//! same, so a host that registers the wrong CCID fails here exactly as it would against Fabric.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use futures::StreamExt;
use prost::Message;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tonic::Streaming;
use wasmcc_proto::protos::chaincode_client::ChaincodeClient;
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_proto::protos::{ChaincodeAdditionalParams, ChaincodeId, ChaincodeMessage};

use super::connection::{PeerConnection, Termination};
use super::handler::{lock, Shared};
use super::log::{Disposition, RequestLog};
use super::SimError;
use crate::endpoint::type_name;
use crate::world::lifecycle::ChaincodeDefinition;
use crate::world::private::{CollectionConfig, Collections};
use crate::world::rwset::{Metadata, RwSet, TxRwSet};
use crate::world::{CommitInfo, CommitStatus, HistoryEntry, Version, WorldState};
use wasmcc_common::connection::ConnectionJson;

/// The HTTP/2 receive windows of the simulated peer's streams (see `connect_with`).
pub(crate) const PEER_WINDOW_BYTES: u32 = 16 * 1024 * 1024;

/// gRPC message size limit in both directions: the peer's 100 MiB (tonic's default of 4 MiB would refuse what a
/// peer sends).
pub const MAX_MESSAGE_SIZE: usize = 100 * 1024 * 1024;

/// The READY payload of a peer running the sample core.yaml (`chaincode.runtimeParams`): write batching and
/// multi-key reads on, both limited to 1000.
pub fn fabric_default_ready_params() -> ChaincodeAdditionalParams {
    ChaincodeAdditionalParams {
        use_write_batch: true,
        max_size_write_batch: 1000,
        use_get_multiple_keys: true,
        max_size_get_multiple_keys: 1000,
    }
}

/// How a connection behaves. `Default` is a stock Fabric peer, except for a short startup timeout.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// The namespace state lives in: the chaincode *definition's name*, which for CCaaS need not match the package
    /// label. `None`: the CCID's label (the part before the first `:`).
    pub namespace: Option<String>,
    /// The READY payload. `None` sends an empty payload, as peers before batching support do ("no batching").
    pub ready_params: Option<ChaincodeAdditionalParams>,
    /// How long to wait for an accepted REGISTER (the peer's `chaincode.startuptimeout`, 300 s on a real peer;
    /// 5 s here so that a wrong CCID fails a test quickly).
    pub startup_timeout: Duration,
    /// How long a transaction may run (the peer's `chaincode.executetimeout`, 30 s). Unlike the peer, values below
    /// 1 s are honoured, so tests can exercise the timeout quickly.
    pub execute_timeout: Duration,
    /// The dial timeout (connection.json `dial_timeout`; 3 s when absent).
    pub dial_timeout: Duration,
    /// Send KEEPALIVE this often (the peer's `chaincode.keepalive`; the sample core.yaml's 0 means never: `None`).
    pub keepalive: Option<Duration>,
    /// Serve every state request after this delay, to model ledger latency or to make overlapping requests
    /// observable. `None`: at once.
    pub request_delay: Option<Duration>,
    /// The HTTP/2 `:authority` to send instead of the dialled address, as when connection.json names a host that
    /// resolves to the chaincode server (what the peer sends as `:authority`: `docs/fabric-protocol.md` §10 item 13).
    pub authority: Option<String>,
    /// Dial with TLS (`https`), as a peer does when connection.json has `tls_required`: the CA of the server's
    /// certificate, the client identity for mutual TLS, and the server name (connection.json `domain`, sent as SNI)
    /// when it is not the dialled host. See [`tls_from_connection_json`].
    pub tls: Option<ClientTlsConfig>,
    /// The most results a query hands out in total (the peer's `ledger.state.totalQueryLimit`; 100000 in the
    /// sample core.yaml). Set it small to exercise the limit.
    pub total_query_limit: usize,
    /// The committed chaincode definition the peer enforces: with `init_required`, the first invocation must be
    /// INIT and the peer records it under [`crate::INITIALIZED_KEY`]; without, INIT is refused. `None`: no
    /// checks at all, INIT and TRANSACTION are sent as asked (convenient for chaincodes that do their own Init).
    pub definition: Option<ChaincodeDefinition>,
}

/// The TLS a peer uses for a connection.json: `None` when it does not require TLS. As the peer does, the client
/// identity and `domain` count only with `client_auth_required`.
pub fn tls_from_connection_json(json: &ConnectionJson) -> Option<ClientTlsConfig> {
    if !json.tls_required {
        return None;
    }
    let mut tls = ClientTlsConfig::new();
    if let Some(root) = &json.root_cert {
        tls = tls.ca_certificate(Certificate::from_pem(root));
    }
    if json.client_auth_required {
        if let (Some(cert), Some(key)) = (&json.client_cert, &json.client_key) {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        if let Some(domain) = &json.domain {
            tls = tls.domain_name(domain.clone());
        }
    }
    Some(tls)
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            namespace: None,
            ready_params: Some(fabric_default_ready_params()),
            startup_timeout: Duration::from_secs(5),
            execute_timeout: Duration::from_secs(30),
            dial_timeout: Duration::from_secs(3),
            keepalive: None,
            request_delay: None,
            authority: None,
            tls: None,
            total_query_limit: 100_000,
            definition: None,
        }
    }
}

/// A simulated peer: the committed world state, the private data collections, and the chaincodes connected to it
/// (by namespace, for chaincode-to-chaincode calls), shared by every connection made from it. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct PeerSim {
    world: Arc<Mutex<WorldState>>,
    collections: Arc<Mutex<Collections>>,
    chaincodes: Arc<Mutex<Registry>>,
}

/// The connected chaincodes by namespace, oldest first; calls go to the newest that is still alive.
#[derive(Default)]
struct Registry(HashMap<String, Vec<Weak<Shared>>>);

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl PeerSim {
    pub fn new() -> PeerSim {
        PeerSim::default()
    }

    /// The committed value of a key.
    pub fn get(&self, channel: &str, namespace: &str, key: &str) -> Option<Vec<u8>> {
        self.world().get(channel, namespace, key).map(|v| v.value.clone())
    }

    /// The version that wrote a key's committed value.
    pub fn version(&self, channel: &str, namespace: &str, key: &str) -> Option<Version> {
        self.world().get(channel, namespace, key).map(|v| v.version)
    }

    /// Every committed key and value of a namespace, sorted by key.
    pub fn snapshot(&self, channel: &str, namespace: &str) -> BTreeMap<String, Vec<u8>> {
        self.world().snapshot(channel, namespace)
    }

    /// The metadata of a public key (empty if none, or if the key does not exist).
    pub fn metadata(&self, channel: &str, namespace: &str, key: &str) -> Metadata {
        self.world().get(channel, namespace, key).map(|v| v.metadata.clone()).unwrap_or_default()
    }

    /// Every committed write of a public key, newest first (as `GetHistoryForKey` returns them).
    pub fn history(&self, channel: &str, namespace: &str, key: &str) -> Vec<HistoryEntry> {
        self.world().history(channel, namespace, key)
    }

    /// The committed value of a private key.
    pub fn get_private(&self, channel: &str, namespace: &str, collection: &str, key: &str) -> Option<Vec<u8>> {
        self.world().get_private(channel, namespace, collection, key).map(|v| v.value.clone())
    }

    /// The SHA-256 of a private key's committed value.
    pub fn private_hash(&self, channel: &str, namespace: &str, collection: &str, key: &str) -> Option<Vec<u8>> {
        self.world().private_hash(channel, namespace, collection, key)
    }

    /// The metadata of a private key.
    pub fn private_metadata(&self, channel: &str, namespace: &str, collection: &str, key: &str) -> Metadata {
        let world = self.world();
        world.get_private(channel, namespace, collection, key).map(|v| v.metadata.clone()).unwrap_or_default()
    }

    /// Every committed key and value of a collection, sorted by key.
    pub fn private_snapshot(&self, channel: &str, namespace: &str, collection: &str) -> BTreeMap<String, Vec<u8>> {
        self.world().private_snapshot(channel, namespace, collection)
    }

    /// Defines a private data collection of `namespace` (on every channel). Once a namespace has one, only its
    /// defined collections and the implicit `_implicit_org_<MSPID>` ones exist; before, any name is accepted.
    pub fn define_collection(&self, namespace: &str, name: &str, config: CollectionConfig) {
        lock(&self.collections).define(namespace, name, config);
    }

    /// The channel's height: the last committed block (0 before any commit).
    pub fn height(&self, channel: &str) -> u64 {
        self.world().height(channel)
    }

    /// Commits `entries` in one block, as if a transaction had written them (an empty value deletes). Returns the
    /// block number.
    pub fn seed<I, K, V>(&self, channel: &str, namespace: &str, entries: I) -> u64
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let mut rwset = RwSet::default();
        for (key, value) in entries {
            rwset.record_put(key.as_ref(), value.as_ref().to_vec());
        }
        self.seed_set(channel, namespace, rwset)
    }

    /// Commits private `entries` of one collection in one block (an empty value deletes). Returns the block number.
    pub fn seed_private<I, K, V>(&self, channel: &str, namespace: &str, collection: &str, entries: I) -> u64
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let mut rwset = RwSet::default();
        let coll = rwset.collection_mut(collection);
        for (key, value) in entries {
            coll.record_put(key.as_ref(), value.as_ref().to_vec());
        }
        self.seed_set(channel, namespace, rwset)
    }

    /// Commits a write-only set; history records it as transaction `seed-<block>` at time 0.
    fn seed_set(&self, channel: &str, namespace: &str, rwset: RwSet) -> u64 {
        match self.commit(channel, namespace, &rwset) {
            CommitStatus::Committed { block } => block,
            other => unreachable!("a write-only set always commits, got {other:?}"),
        }
    }

    /// Commits one key in its own block. Returns the block number.
    pub fn put(&self, channel: &str, namespace: &str, key: &str, value: impl AsRef<[u8]>) -> u64 {
        self.seed(channel, namespace, [(key, value)])
    }

    /// Validates and commits one namespace's read/write set (see [`WorldState::commit`]); history records it as
    /// transaction `seed-<block>` at time 0.
    pub fn commit(&self, channel: &str, namespace: &str, rwset: &RwSet) -> CommitStatus {
        let mut world = self.world();
        let info = CommitInfo { txid: format!("seed-{}", world.height(channel) + 1), timestamp: Default::default() };
        world.commit_ns(channel, namespace, rwset, &info)
    }

    /// Validates and commits a whole transaction's read/write set (see [`WorldState::commit`]).
    pub fn commit_tx(&self, channel: &str, rwset: &TxRwSet, info: &CommitInfo) -> CommitStatus {
        self.world().commit(channel, rwset, info)
    }

    /// Locks the world state. Never held across an `.await`. Lock order: collections, world, a simulator.
    pub(crate) fn world(&self) -> MutexGuard<'_, WorldState> {
        lock(&self.world)
    }

    pub(crate) fn collections(&self) -> MutexGuard<'_, Collections> {
        lock(&self.collections)
    }

    /// Makes a connection reachable by chaincode-to-chaincode calls to `namespace`.
    pub(crate) fn register_chaincode(&self, namespace: &str, shared: &Arc<Shared>) {
        let mut registry = lock(&self.chaincodes);
        let connections = registry.0.entry(namespace.to_owned()).or_default();
        connections.retain(|c| c.strong_count() > 0);
        connections.push(Arc::downgrade(shared));
    }

    /// The connection serving `namespace`: the newest whose stream is up, else the newest (whose calls then fail
    /// with "chaincode stream terminated").
    pub(crate) fn chaincode(&self, namespace: &str) -> Option<Arc<Shared>> {
        let registry = lock(&self.chaincodes);
        let alive: Vec<Arc<Shared>> = registry.0.get(namespace)?.iter().rev().filter_map(Weak::upgrade).collect();
        let up = alive.iter().find(|c| c.termination.reason().is_none()).cloned();
        up.or_else(|| alive.into_iter().next())
    }

    /// Dials `addr` (`host:port`, plaintext) and runs the peer's handshake for `ccid` with default options.
    pub async fn connect(&self, addr: &str, ccid: &str) -> Result<PeerConnection, SimError> {
        self.connect_with(addr, ccid, ConnectOptions::default()).await
    }

    /// Dials what a connection.json names (address, TLS, client identity, `domain`) and runs the handshake for
    /// `ccid`; `opts.tls` is replaced by the connection.json's.
    pub async fn connect_json(
        &self,
        json: &ConnectionJson,
        ccid: &str,
        opts: ConnectOptions,
    ) -> Result<PeerConnection, SimError> {
        let opts = ConnectOptions { tls: tls_from_connection_json(json), ..opts };
        self.connect_with(&json.address, ccid, opts).await
    }

    /// Dials `addr` and runs the handshake: wait for REGISTER naming `ccid`, then send REGISTERED and READY.
    ///
    /// A REGISTER with another name gets no reply (as from a real peer); after `startup_timeout` this returns
    /// [`SimError::RegisterIgnored`] and drops the stream.
    pub async fn connect_with(&self, addr: &str, ccid: &str, opts: ConnectOptions) -> Result<PeerConnection, SimError> {
        let invalid = |reason: String| SimError::InvalidAddress { addr: addr.to_owned(), reason };
        let scheme = if opts.tls.is_some() { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
            .map_err(|e| invalid(e.to_string()))?
            .connect_timeout(opts.dial_timeout)
            // grpc-go grows a busy stream's windows by bandwidth-delay estimation, up to 16 MiB; fixed large windows
            // stand in for that, so the simulated peer never waits on flow control where a real one would not.
            .initial_stream_window_size(PEER_WINDOW_BYTES)
            .initial_connection_window_size(PEER_WINDOW_BYTES)
            // What the peer's CCaaS dial sets: HTTP/2 ping every 60 s, 20 s timeout, also without a stream.
            .http2_keep_alive_interval(Duration::from_secs(60))
            .keep_alive_timeout(Duration::from_secs(20))
            .keep_alive_while_idle(true);
        if let Some(authority) = &opts.authority {
            let origin = format!("{scheme}://{authority}").parse().map_err(|e| invalid(format!("authority: {e}")))?;
            endpoint = endpoint.origin(origin);
        }
        if let Some(tls) = opts.tls.clone() {
            endpoint = endpoint.tls_config(tls).map_err(|e| invalid(format!("TLS: {e}")))?;
        }
        // The startup timeout covers the whole launch: dial, Connect, REGISTER (as the peer's does).
        let deadline = Instant::now() + opts.startup_timeout;
        let channel = endpoint.connect().await.map_err(|source| SimError::Dial { addr: addr.to_owned(), source })?;
        let mut client = ChaincodeClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);

        // One writer channel for everything the peer sends; the request stream ends when the connection does.
        let (out, out_rx) = mpsc::unbounded_channel();
        let termination = Termination::new();
        let outbound = UnboundedReceiverStream::new(out_rx).take_until(termination.wait());
        let call = tokio::time::timeout_at(deadline, client.connect(outbound));
        let inbound = match call.await {
            Ok(response) => response?.into_inner(),
            Err(_) => return Err(SimError::StartupTimeout(opts.startup_timeout)),
        };
        self.accept_stream(inbound, ccid, opts, out, termination, deadline).await
    }

    /// The peer's side of an open chaincode stream, whichever side dialled (`Connect` here, `Register` in
    /// [`super::support`]): wait for REGISTER naming `ccid`, answer REGISTERED and READY, and hand the stream to a
    /// [`PeerConnection`]. `out` must feed the stream's outgoing half until `termination` ends.
    pub(super) async fn accept_stream(
        &self,
        mut inbound: Streaming<ChaincodeMessage>,
        ccid: &str,
        opts: ConnectOptions,
        out: mpsc::UnboundedSender<ChaincodeMessage>,
        termination: Termination,
        deadline: Instant,
    ) -> Result<PeerConnection, SimError> {
        let log = RequestLog::default();
        let result = handshake(&mut inbound, ccid, &log, deadline, opts.startup_timeout).await;
        if let Err(err) = result {
            termination.end(err.to_string());
            return Err(err);
        }

        // Accepted: REGISTERED, then READY at once, as the peer's HandleRegister does.
        let ready_payload = opts.ready_params.as_ref().map(Message::encode_to_vec).unwrap_or_default();
        for (msg_type, payload) in [(Type::Registered, Vec::new()), (Type::Ready, ready_payload)] {
            let msg = ChaincodeMessage { r#type: msg_type as i32, payload, ..Default::default() };
            // The receiver lives inside the request stream, which lives as long as `termination` is not ended.
            let _ = out.send(msg);
        }

        Ok(PeerConnection::start(self.clone(), ccid.to_owned(), opts, out, termination, log, inbound))
    }
}

/// The peer's *created* state: wait for an acceptable REGISTER, ignoring KEEPALIVE. Anything else ends the stream.
async fn handshake(
    inbound: &mut Streaming<ChaincodeMessage>,
    ccid: &str,
    log: &RequestLog,
    deadline: Instant,
    startup_timeout: Duration,
) -> Result<(), SimError> {
    // The last name that was refused: what the caller will want to see when the launch times out.
    let mut refused: Option<String> = None;
    let give_up = |refused: Option<String>, otherwise: SimError| match refused {
        Some(got) => SimError::RegisterIgnored { got, expected: ccid.to_owned() },
        None => otherwise,
    };
    loop {
        let msg = match tokio::time::timeout_at(deadline, inbound.message()).await {
            Err(_elapsed) => return Err(give_up(refused, SimError::StartupTimeout(startup_timeout))),
            Ok(Err(status)) => return Err(give_up(refused, SimError::Rpc(status))),
            Ok(Ok(None)) => {
                let ended = SimError::Handshake("stream ended before REGISTER".to_owned());
                return Err(give_up(refused, ended));
            }
            Ok(Ok(Some(msg))) => msg,
        };
        match Type::try_from(msg.r#type) {
            Ok(Type::Keepalive) => log.record(&msg, Disposition::Ignored),
            Ok(Type::Register) => {
                // An undecodable payload is logged and ignored by the peer, like a wrong name.
                let name = ChaincodeId::decode(&msg.payload[..]).map(|id| id.name).unwrap_or_default();
                if !name.is_empty() && name == ccid {
                    log.record(&msg, Disposition::Registered);
                    return Ok(());
                }
                log.record(&msg, Disposition::RegisterIgnored);
                refused = Some(name);
            }
            _ => {
                log.record(&msg, Disposition::StreamEnded);
                return Err(SimError::Handshake(format!(
                    "[{}] Fabric side handler cannot handle message ({}) while in created state",
                    msg.txid,
                    type_name(msg.r#type)
                )));
            }
        }
    }
}
