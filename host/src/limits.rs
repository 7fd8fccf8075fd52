//! Every limit the host enforces, in one place, each with the reason for its value.
//!
//! Per-transaction limits are defaults: the operator may override them per chaincode in the host configuration
//! (a package says *what* runs, the operator says *how*).

use std::time::Duration;

/// The largest gRPC message the host sends or accepts. Fabric's peer, its CCaaS dial and the Go shim all use
/// 100 MiB; anything smaller would refuse a large state value the peer is happy to send.
pub const GRPC_MAX_MESSAGE_BYTES: usize = 100 * 1024 * 1024;

/// Default linear-memory cap of one transaction's instance. Fabric values are at most a few MiB in practice, and
/// 64 MiB leaves room for JSON decoding of large documents while keeping 64 concurrent transactions under 4 GiB.
pub const DEFAULT_MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// Default fuel (roughly: wasm instructions) per transaction. Fuel, not time, is what cuts a runaway guest,
/// because every endorsing peer's host then stops it at the same instruction. Every transaction of the example
/// chaincodes (asset-transfer, marbles with its rich queries, private data, the conformance probe) passes with 2
/// million; 100 million is 50 times that, and about 0.2 s of pure computation. Small enough that 64 runaway loops of
/// one chaincode on a 2-core host all end on fuel within seconds, well before the 30 s execute timeout would end them
/// by time. A chaincode that needs more gets it from the operator (`limits_for`).
pub const DEFAULT_FUEL: u64 = 100_000_000;

/// How much fuel a guest may burn between yields to the async runtime, so a long computation never starves
/// the other transactions sharing a worker thread.
pub const FUEL_YIELD_INTERVAL: u64 = 1_000_000;

/// The same for a guest started on a network thread (`quota/placement.rs`): about 100 µs of guest computation, so the
/// thread's other tasks get their turns meanwhile, and one that runs long reaches a point where the thread can move
/// it soon after [`INLINE_RUN_TIME`], whether or not the epoch ticks. A yield costs a poll of the transaction's task
/// (about a microsecond), 1% of the guest's time.
pub const INLINE_FUEL_YIELD_INTERVAL: u64 = 50_000;

/// Run-time backstop per transaction: the time its guest may hold CPU turns ([`crate::quota::cpu`]), so it does not
/// grow when the host is busy. Fuel ends every runaway loop long before (a billion fuel is a few seconds); this ends
/// what fuel cannot meter, and it matches the peer's default `chaincode.executetimeout` (30 s).
pub const DEFAULT_RUN_TIME: Duration = Duration::from_secs(30);

/// Default execute timeout: the one deadline of a transaction, from its TRANSACTION message to its answer, waits for
/// admission, CPU and the peer included. The peer's own default `chaincode.executetimeout` is 30 s: past it the peer
/// has failed the transaction anyway, so the host frees the instance and answers ERROR.
pub const DEFAULT_EXECUTE_TIMEOUT: Duration = Duration::from_secs(30);

/// Period of the engine's epoch ticker while guests wait for a CPU turn: how often a running guest checks whether to
/// give its turn back (its slice is over). A waiting chaincode that runs fewer guests does not wait for the tick (it
/// bumps the epoch itself); 1 ms bounds the rest at one atomic increment a millisecond.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// The ticker's period while guests run with nobody waiting for a CPU turn (a tick then serves only the run-time
/// backstop), and after a look that found no guest instance alive; it doubles at each such look, up to
/// [`EPOCH_IDLE_TICK_MAX`]. At a peer's pace (hundreds of transactions a second, each alive for a fraction of a
/// millisecond) the ticker mostly finds none, and on this kind of VM each wake-up of a sleeping thread by its timer
/// costs it 20–30 µs of CPU: waking a thousand times a second was a tenth of the host's CPU, 250 times still a tenth of
/// a paced transaction's (BENCHMARKS.md, change 28). Nothing waits for these ticks: a guest started on a network
/// thread is moved by its fuel yields ([`INLINE_FUEL_YIELD_INTERVAL`]), a chaincode that must wait for a CPU turn
/// bumps the epoch and wakes the ticker itself, and the run-time backstop is seconds.
pub const EPOCH_IDLE_TICK: Duration = Duration::from_millis(4);

/// How long the ticker keeps its fast [`EPOCH_TICK`] after a look last found a guest waiting for a CPU turn. At c=64
/// waiters come and go many times a millisecond: a ticker that slowed down at every gap was woken (unparked) by the
/// next waiter, which cost 5–10% more CPU per get1 and rw10 transaction (BENCHMARKS.md, change 42).
pub const EPOCH_CONTENDED_LINGER: Duration = Duration::from_millis(64);

/// The longest the ticker sleeps between two looks while guests keep starting: how late the first epoch check of a
/// guest that starts just after a look may come when nothing else asks for one.
pub const EPOCH_IDLE_TICK_MAX: Duration = Duration::from_millis(64);

/// How long the ticker goes on looking (every [`EPOCH_IDLE_TICK`] to [`EPOCH_IDLE_TICK_MAX`]) after the last guest
/// instance started, before it sleeps until the next one does (`epoch.rs`). Waking it is a wake-up of another thread on the path of the
/// transaction that starts the instance: at 100 ms, a host at 500 transactions a second whose looks seldom caught an
/// instance alive parked and was woken that way ten times a second, and its p99 latency doubled. A second keeps any
/// host serving a transaction a second or more ticking as before; an idle one does not wake at all.
pub const EPOCH_PARK_AFTER: Duration = Duration::from_secs(1);

/// The most messages a guest thread holds before it hands them to the network threads (`outbound.rs`): at 64
/// transactions in flight, a wake-up of the stream's writer per 16 messages instead of per message, while none waits
/// longer than about 16 short transactions take. 32 measured the same; 64 left the peer with nothing to send and cost
/// a quarter of the throughput (BENCHMARKS.md, change 43).
pub const HELD_MESSAGES: usize = 16;

/// Below [`HELD_MESSAGES`], a guest thread hands its messages over once it holds this share (1/n) of the host's live
/// transactions: 16 held at 16 in flight left the peer idle until the thread slept.
pub const HELD_SHARE: usize = 4;

/// How long a guest thread's held messages may wait for a guest of their own chaincode that computes: at its next
/// epoch check past this age they are handed over.
pub const HELD_FOR: Duration = Duration::from_micros(200);

/// How long a guest keeps its CPU turn while others of its own chaincode (or of one running as many guests) wait:
/// short enough that a transaction's latency does not grow by much behind a long one, long enough that switching
/// (a future poll and a lock) stays under 1% of the slice.
pub const CPU_SLICE: Duration = Duration::from_millis(2);

/// Launcher mode: how long to wait for the peer's listener to accept the connection. The peer's
/// `chaincode.startuptimeout` (300 s) covers the whole launch; failing a dead address fast lets `bin/run` report it
/// while the peer still waits.
/// The same bound a peer gives itself to dial a chaincode ([`wasmcc_common::connection::DIAL_TIMEOUT`]).
pub const LAUNCH_DIAL_TIMEOUT: Duration = wasmcc_common::connection::DIAL_TIMEOUT;

/// Launcher mode: HTTP/2 keepalive as the Go shim sets it as a client (60 s, 20 s timeout). Pinging more often than
/// every 60 s gets the connection closed by the peer's server (too_many_pings, `docs/fabric-protocol.md` §9,
/// pitfall 10).
pub const LAUNCH_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
pub const LAUNCH_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the ERROR of a transaction refused at once (its chaincode's queue is full, or its stream has
/// [`MAX_TX_PER_STREAM`] in flight) is held back. A peer that
/// retries as soon as it is refused would otherwise make the host read, refuse and answer tens of thousands of
/// transactions a second, CPU every other chaincode's transactions wait for; held back, each of its streams'
/// in-flight slots ([`MAX_TX_PER_STREAM`]) is refused at most five times a second. A chaincode whose queue is full is
/// seconds behind already, so its client loses nothing it would have had.
pub const REFUSAL_DELAY: Duration = Duration::from_millis(200);

/// Nice value of the threads that run guests ([`crate::quota::threads`]); the threads that serve sockets keep the
/// process's own. At 10 a guest thread weighs a tenth of a network thread in the kernel's scheduler, so a message
/// is read and handed on at once even while every guest thread is busy; an idle machine still gives guests all of
/// its CPU. It has a price: a guest thread that hands a message to a sleeping network thread is preempted at once.
/// Measured (BENCHMARKS.md, change 22): at 0, get1 at c=64 needs 15% less CPU, but a victim's p99 under the
/// isolation attacks is 12 to 14 times its quiet p99 (a scheduler slice); at 5, 4.3 to 4.8 times; at 10, 2 times.
pub const GUEST_THREAD_NICE: i32 = 10;

/// Nice value of the thread that tears down instances which grew past [`KEEP_RESIDENT_MEMORY_BYTES`]: that of the
/// guest threads, below the network threads. On a thread of its own, a guest never waits behind a memory bomb's
/// teardown; not below the guests, because a transaction keeps its admission until its memory is back (Linux gives a
/// nice-19 thread about 6% of a CPU against two busy nice-10 threads: the chaincode's memory share would come back
/// that slowly under load).
pub const RELEASE_THREAD_NICE: i32 = GUEST_THREAD_NICE;

/// Worker threads of the network runtime: one per four CPUs, at least one. Reading, decoding and writing a
/// message costs a few microseconds against a transaction's tens to hundreds, and guests have threads of their
/// own; a network thread more than needed is one more thread for the kernel to wake per message.
pub fn network_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().div_ceil(4))
}

/// How long a transaction started on the network thread that read it (`quota/placement.rs`) may hold that thread, its
/// polls added up, before it moves to the guest threads at its next fuel yield ([`INLINE_FUEL_YIELD_INTERVAL`]). The
/// transactions Fabric chaincodes run take tens of microseconds of guest time; 200 µs keeps nearly all of them where
/// they started, and a guest computing holds the thread about 100 µs at a time, 300 µs in all, before it moves.
pub const INLINE_RUN_TIME: Duration = Duration::from_micros(200);

/// How many of a chaincode's transactions start on the guest threads after one of them had to move there, the first
/// time: a chaincode of short transactions whose turn now and then runs long (preempted, a page fault; 1% of rw10's
/// at c=1 here) loses the network thread for a few transactions, not for [`INLINE_COOLDOWN`] (which put nearly all
/// of rw10 on the guest threads: a third more CPU per transaction, BENCHMARKS.md change 27).
pub const INLINE_COOLDOWN_FIRST: u32 = 4;

/// The most transactions a chaincode starts on the guest threads after one moved there. The count doubles from
/// [`INLINE_COOLDOWN_FIRST`] each time a transaction moves again within as many inline ones as the last count: a
/// chaincode of long transactions soon holds a network thread once in this many.
pub const INLINE_COOLDOWN: u32 = 256;

/// How much of each freed linear memory stays mapped and is reset in place. A Rust guest's memory is its 1 MiB
/// stack plus data and heap: 2 MiB covers what a typical transaction touches, so its reset needs no `madvise` (a TLB
/// shootdown on every core). PAGEMAP_SCAN rewrites the pages a slot has ever dirtied within this size, not only
/// this transaction's: after one transaction that used all of it, each later one in that slot pays ~40 µs to reset
/// (BENCHMARKS.md, change 20), a cost smaller sizes would trade for an `madvise` per transaction. Beyond it, pages
/// are released with `madvise`.
pub const KEEP_RESIDENT_MEMORY_BYTES: usize = 2 * 1024 * 1024;
/// The most one `memory.fill` or `memory.copy` writes before the guest reaches an epoch check (validate/slices.rs
/// slices every one into these): 64 KiB of fresh pages fault in within tens of microseconds, where a 1 MiB fill held the guest's CPU
/// turn for half a millisecond or more while other chaincodes waited for it.
pub const FILL_SLICE_BYTES: u32 = 64 * 1024;
/// The same for tables: a component's tables are a few hundred entries at most.
pub const KEEP_RESIDENT_TABLE_BYTES: usize = 64 * 1024;

/// Default size of the instance pool: instances that may exist at once across all chaincodes. Each in-flight
/// transaction holds one; 1,000 covers 64 concurrent transactions on each of 15 busy chaincodes. Admission keeps any
/// one chaincode from taking them all.
pub const DEFAULT_INSTANCES: u32 = 1_000;

/// Largest configurable pool: each slot reserves address space for its memories (4 × [`MAX_MEMORY_BYTES`]), and
/// 4,000 slots are 4 TiB of the 128 TiB a process may map.
pub const MAX_INSTANCES: u32 = 4_000;

/// Default transactions of one chaincode running at once on the host, across all its peers' streams. 64 keep both
/// cores of a small host busy even when transactions spend most of their time waiting on the peer, and bound what
/// one chaincode can hold: 64 × [`DEFAULT_MEMORY_BYTES`] = 4 GiB of guest memory, 64 of the pool's slots.
pub const DEFAULT_CONCURRENCY: u32 = 64;

/// Default transactions of one chaincode waiting to be admitted. A waiting transaction costs a task and its
/// TRANSACTION message, no instance; past this the peer gets ERROR at once, so a flood of one chaincode's
/// transactions is refused instead of piling up.
pub const DEFAULT_QUEUE: u32 = 256;

/// Default longest wait to be admitted: a transaction that cannot run within 10 s gets a clear ERROR naming its
/// chaincode and the limit, well inside the peer's 30 s execute timeout, instead of the peer's timeout.
pub const DEFAULT_ADMISSION_WAIT: Duration = Duration::from_secs(10);

/// The share of the process's memory (its cgroup's limit, else the machine's) that guest memory may use by default:
/// half, leaving the rest to the host itself, compilation, buffers of large messages and the page cache.
pub const DEFAULT_MEMORY_BUDGET_SHARE: (u64, u64) = (1, 2);

/// The memory assumed when neither the cgroup nor /proc/meminfo says: a small machine's.
pub const FALLBACK_MACHINE_MEMORY: u64 = 4 << 30;

/// Core instances, memories and tables per component instance. A `wasm32-unknown-unknown` module turned into a
/// component brings a few small adapter modules along; 4 is ample for what `wit-component` emits.
pub const CORE_INSTANCES_PER_COMPONENT: u32 = 4;

/// Largest linear memory any chaincode may be configured with: the pooling allocator reserves this much address
/// space per memory slot, so it bounds both per-chaincode overrides and the host's virtual footprint.
pub const MAX_MEMORY_BYTES: usize = 256 * 1024 * 1024;

/// Outgoing messages buffered per peer stream (either dial direction) before a sender waits: enough for a burst
/// of concurrent transactions without letting a stalled peer pile up unbounded memory.
pub const OUTBOUND_BUFFER: usize = 256;

/// HTTP/2 receive window of a peer stream, and of its connection (either dial direction). Every transaction of a
/// chaincode shares its one gRPC stream, so with h2's default 64 KiB a peer could have only a handful of range-query
/// batches on the way before waiting for the host's WINDOW_UPDATE (grpc-go, on the peer's side, grows its own
/// windows up to 16 MiB by estimating the bandwidth-delay product). What a window admits is bounded anyway: the
/// peer only sends what the stream's transactions asked for, and those are capped by [`MAX_TX_PER_STREAM`].
pub const STREAM_WINDOW_BYTES: u32 = 2 * 1024 * 1024;
pub const CONNECTION_WINDOW_BYTES: u32 = 4 * 1024 * 1024;

/// Largest table a guest may grow to. Rust guests use one small table for indirect calls; a table growing past
/// this is a guest gone wrong, and refusing it keeps host memory bounded.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Concurrent transactions on one peer stream. A real peer sends as many as its clients ask for; past this the host
/// answers ERROR at once instead of queueing unbounded work behind one stream.
pub const MAX_TX_PER_STREAM: usize = 512;

/// Query iterators a transaction may hold open at once. Each one holds a cached batch of up to 100 results on the
/// host and an iterator on the peer; a guest that opens them in a loop without closing them is cut off with a clear
/// error instead of growing both without bound.
pub const MAX_OPEN_ITERATORS: usize = 256;

/// Longest message a guest's `abort` (its panic message) passes on to the peer's ERROR; the rest is cut. A panic
/// message is a line or two; the bound keeps a guest from sending megabytes of its memory through the peer's logs.
pub const MAX_ABORT_MESSAGE_BYTES: usize = 4 * 1024;

// The defaults must fit the host's maximums; checked at compile time.
const _: () = assert!(
    DEFAULT_MEMORY_BYTES <= MAX_MEMORY_BYTES
        && INLINE_FUEL_YIELD_INTERVAL < FUEL_YIELD_INTERVAL
        && FUEL_YIELD_INTERVAL < DEFAULT_FUEL
);

/// Per-chaincode limits, with the defaults above: how each of its transactions runs, and how many may run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TxLimits {
    /// Linear-memory cap in bytes.
    pub memory_bytes: usize,
    /// Fuel budget.
    pub fuel: u64,
    /// Run-time backstop in milliseconds (time holding CPU turns). Was `wall_clock_ms`.
    #[serde(alias = "wall_clock_ms")]
    pub run_time_ms: u64,
    /// The transaction's one deadline in milliseconds, waits included.
    pub execute_timeout_ms: u64,
    /// Transactions of the chaincode running at once on this host.
    pub concurrency: u32,
    /// Transactions of the chaincode waiting to run.
    pub queue: u32,
}

/// The limits of a chaincode the operator says nothing about.
pub const DEFAULT_TX_LIMITS: TxLimits = TxLimits {
    memory_bytes: DEFAULT_MEMORY_BYTES,
    fuel: DEFAULT_FUEL,
    run_time_ms: DEFAULT_RUN_TIME.as_millis() as u64,
    execute_timeout_ms: DEFAULT_EXECUTE_TIMEOUT.as_millis() as u64,
    concurrency: DEFAULT_CONCURRENCY,
    queue: DEFAULT_QUEUE,
};

impl Default for TxLimits {
    fn default() -> Self {
        DEFAULT_TX_LIMITS
    }
}

impl TxLimits {
    pub fn run_time(&self) -> Duration {
        Duration::from_millis(self.run_time_ms)
    }

    pub fn execute_timeout(&self) -> Duration {
        Duration::from_millis(self.execute_timeout_ms)
    }

    /// Refuses limits the engine cannot honour.
    pub fn check(&self) -> Result<(), String> {
        if self.memory_bytes > MAX_MEMORY_BYTES {
            return Err(format!("memory_bytes {} exceeds the host maximum {}", self.memory_bytes, MAX_MEMORY_BYTES));
        }
        if self.fuel == 0 || self.run_time_ms == 0 || self.execute_timeout_ms == 0 || self.concurrency == 0 {
            return Err("fuel, run_time_ms, execute_timeout_ms and concurrency must be positive".into());
        }
        Ok(())
    }
}

/// How long a peer has to answer our REGISTER (REGISTERED, then READY). A peer that expects this chaincode answers
/// at once; one that expects another CCID on this route stays silent and, while its launch waits, holds its
/// channel's ledger lock, stalling every block commit (up to `chaincode.startuptimeout`, 300 s). Ending the stream
/// fails that launch within seconds. 5 s is far above a loaded peer's answer time and far below what a stall costs.
pub const REGISTER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the host keeps sending ERROR for a stream's in-flight transactions when it ends that stream. A peer that
/// stopped reading cannot hold the session (and its transactions' memory) past this.
pub const STREAM_END_GRACE: Duration = Duration::from_secs(5);

/// How long connecting to the shared store (PostgreSQL) may take before the store counts as unreachable: an install
/// answers with the reason instead of hanging, and `/readyz` says so.
pub const SHARED_STORE_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a host asks the shared store whether it still answers, on the connection that listens for installs and
/// removals. A store that went away without closing the connection (a partition, a frozen VM) is noticed within this
/// plus the connect timeout, and `/readyz` turns 503.
pub const SHARED_STORE_PING_EVERY: Duration = Duration::from_secs(2);

/// How soon a host tries again after losing the shared store, or after a chaincode it must serve failed to load from
/// it. Reconnecting is cheap; each time it succeeds the host reads the whole store again, so nothing announced
/// while it was away is missed.
pub const SHARED_STORE_RETRY_EVERY: Duration = Duration::from_secs(1);

/// Lines per second one kind of log line that a remote party can cause (stray replies, duplicate txids, refused
/// handshakes) may write; the rest are counted and the count is logged with the next line. Ten a second shows an
/// operator what is happening without letting a peer in a loop fill the disk.
pub const LOG_LINES_PER_SECOND: u32 = 10;

// --- Recording transactions (recording/) ---

/// Recordings waiting for the writer thread. A transaction hands its recording over without waiting; when the disk
/// falls this far behind, further recordings are dropped (counted and logged) rather than slowing transactions or
/// holding their memory.
pub const RECORDING_QUEUE: usize = 1_024;

/// Disk one chaincode's recordings may use unless `[record] max_mb` says otherwise; the oldest are deleted first.
pub const DEFAULT_RECORDING_MAX_MB: u64 = 64;

// --- Accepting connections: every listener, chaincode and admin (connections.rs, sni.rs, admin_server.rs) ---

/// Default longest time from TCP accept until a connection has opened its first stream (a chaincode `Connect`, an
/// admin request), TLS handshake included; config `connections.handshake_timeout_ms`. A peer dials, handshakes (two
/// round trips) and opens its stream at once, so 5 s is many round trips even between continents, while a silent or
/// dribbling socket gives its descriptor back within seconds. It is also well inside the peer's 10 s `dial_timeout`.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Default longest time a connection may stay open with no stream (or admin request) in flight; config
/// `connections.idle_timeout_ms`. A peer closes its connection as soon as its chaincode stream ends, and admin clients
/// reconnect on demand, so only abandoned connections are cut. A connection with an open stream is never idle, however
/// quiet: a peer keeps its `Connect` stream for hours and may send nothing in between (KEEPALIVE is off by default).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Connections on one listener that have not opened a stream yet (still handshaking, or silent). When another
/// arrives, the oldest of them is evicted, preferring those that never sent a byte: a real peer sends its TLS hello or
/// HTTP/2 preface at once and finishes in milliseconds, so it is the newest, not the oldest, when a flood comes, and a
/// flood cannot hold the slots to keep it out (refusing the newcomer instead would let 256 silent sockets block every
/// peer). 256 far exceeds a peer restart that re-dials every chaincode at once.
pub const MAX_PENDING_CONNECTIONS: usize = 256;

/// Default cap of connections on one chaincode's own port; config `connections.max_per_port`. A chaincode has one
/// connection per peer that runs it (plus a few while a peer reconnects); 1,024 is a very large network, while one
/// flooded port cannot take the whole process budget from the others. The shared SNI port serves every chaincode and
/// is bounded by the process budget only.
pub const DEFAULT_MAX_CONNECTIONS_PER_PORT: usize = 1_024;

/// Descriptors kept out of the connection budgets for everything else the host opens: stored files, chaincode
/// listeners, the memory images of loaded modules, the runtime's own. 1,024 covers hundreds of chaincodes; with a small
/// RLIMIT_NOFILE it is cut to a quarter of the limit.
pub const FD_RESERVE: usize = 1_024;

/// Default cap of admin API connections; config `connections.admin_max_connections`. Each launcher-mode launch holds a
/// request open for its session's lifetime (and dials the peer: the reserve counts both), while the CLI and builders
/// make a few short requests. The admin budget is separate from the chaincode one, so a flood of peers' ports never
/// takes the operator's way in.
pub const DEFAULT_ADMIN_MAX_CONNECTIONS: usize = 512;

/// HTTP/2 streams one peer connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS; the excess is refused
/// with REFUSED_STREAM). A peer opens one `Connect` stream per connection; a few more cover a stream being replaced,
/// while a client opening thousands of silent streams on one connection gets eight.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 8;

/// HTTP/2 streams one admin connection may have open at once: HTTP/2 clients multiplex their requests, and each
/// launcher-mode launch holds one for hours, yet a client cannot pile up thousands.
pub const ADMIN_MAX_STREAMS_PER_CONNECTION: u32 = 32;

/// HTTP/2 ping interval and ack timeout on chaincode connections: what the peer's CCaaS dial uses itself. A peer whose
/// machine vanished (no FIN, no RST) would otherwise hold its descriptor and stream forever; an alive peer answers a
/// ping within milliseconds, whatever its stream carries.
pub const HTTP2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
pub const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Default longest time an admin client may take to send a request's headers; config
/// `connections.admin_header_timeout_ms`. Headers are a few hundred bytes; 10 s is generous on any network and closes
/// slowloris connections that dribble a header byte at a time. (A connection's first request must also come within
/// the handshake timeout.)
pub const DEFAULT_ADMIN_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Default longest pause between two chunks of an admin request body; config `connections.admin_body_timeout_ms`. An
/// upload of any size over any link keeps sending; a body that stops (a `Content-Length` never fulfilled) holds its
/// connection and buffer only this long. 15 s rides out TCP retransmission backoff.
pub const DEFAULT_ADMIN_BODY_TIMEOUT: Duration = Duration::from_secs(15);

/// Default longest a stopping host waits for its peer streams to end on their own (each starts nothing new and ends
/// once what it runs has answered); config `connections.drain_timeout_ms`. Kubernetes sends SIGKILL 30 s after SIGTERM by
/// default: 25 s leaves the rest for the hard stop. Past it, the streams still open end with UNAVAILABLE and their
/// transactions in flight get ERROR.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(25);

/// How often a stopping host looks whether its streams have ended: short against the drain, long against a spin.
pub const DRAIN_POLL: Duration = Duration::from_millis(20);

/// How long admin requests in flight get to finish when the host stops.
pub const ADMIN_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Pause after an accept error that is not about the one connection (EMFILE, ENOBUFS): retrying at once would spin a
/// core and flood the log, while 100 ms lets closing connections free descriptors and is short for a re-dialling peer.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// A server certificate expiring within this long gets a warning at start: time to renew before peers refuse it.
pub const CERT_EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

// ---- Packages and static module checks (package.rs, validate.rs) ----

/// Largest package file `read_package` accepts. The whole file is held in memory to hash it for the CCID, so it
/// must be bounded; it is sized to hold the largest module below, which a package barely compresses.
pub const MAX_PACKAGE_BYTES: usize = 64 * 1024 * 1024;

/// Largest wasm module or component accepted. A Rust chaincode is 20 KB–2 MB (our examples 26–153 KB); 8 MiB is four
/// times the largest. It bounds memory at upload and, above all, compile time, which grows with the code: a 136 KB
/// example compiles in 0.76 s (cranelift at opt-level 2, one core of the 2-core development machine), so 8 MiB of
/// ordinary code is about 45 s, and code crafted within the per-function limits below costs up to 20 times as much
/// per byte. A JavaScript engine built with componentize-js (~10 MB) is refused by these limits, on purpose; see
/// [`MAX_FUNCTIONS`].
pub const MAX_MODULE_BYTES: usize = 8 * 1024 * 1024;

/// Most bytes one gzip layer of a package (the package itself, or its `code.tar.gz`) may expand to. Decompression
/// stops there, so a gzip bomb costs at most this much memory instead of expanding; it holds the largest module plus
/// indexes and tar headers.
pub const MAX_UNPACKED_BYTES: usize = MAX_MODULE_BYTES + 16 * 1024 * 1024;

/// Largest `metadata.json`. It holds three short strings (type, label, path); anything bigger is not a package.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// Longest package label, in bytes: every file name made from a label (`<label>.<64 hex>.tar.gz` here, the builder
/// scratch directory on the peer) must fit 255 bytes. The rule lives with the label rule in `wasmcc-common`, which
/// the host, `wasmcc package`/`check` and the builder share; the reasoning for 128 is there.
pub const MAX_LABEL_BYTES: usize = wasmcc_common::package::MAX_LABEL_BYTES;

/// Most entries `code.tar.gz` may hold (the module, CouchDB indexes and their directories). A chaincode has a
/// handful of indexes; the bound keeps a tar of millions of empty entries from costing unbounded work.
pub const MAX_CODE_ENTRIES: usize = 1_000;

/// Most functions (imported and defined) in one core module. Compiling costs about 0.3 ms per function however small
/// it is, so this, not the module size, bounds what a tiny upload can cost: 90,000 empty functions (an 11 KB package)
/// took 46.6 s and 0.5 GB to compile (26 s on the development machine); 10,000 take 3 s. Our examples have 150–520
/// functions and a 5.7 MB Rust program (componentize-js's splicer) 8,724, so Rust chaincode fits with room to spare.
/// The trade-off: the JavaScript engine of componentize-js 0.23 (StarlingMonkey) has 12,665 functions (19,949 in its
/// weval'd build) and three bodies over [`MAX_FUNCTION_BODY_BYTES`]; admitting it would double or triple the worst
/// case of every limit here, for a kind of chaincode the host cannot serve anyway (it imports WASI).
pub const MAX_FUNCTIONS: u64 = 10_000;

/// Largest function body, in bytes. Cranelift's work on one function grows faster than its size: a 60 KB body of
/// 10,000 memory loads compiles in 4.7 s, a 258 KB one of 43,000 in 45 s. Our examples' largest body is 15 KB, the
/// splicer's 69 KB; 128 KiB is twice that, and caps one crafted body (within [`MAX_OPERAND_STACK`]) near 15 s.
/// wasmparser's own ceiling is 7.3 MiB.
pub const MAX_FUNCTION_BODY_BYTES: u64 = 128 * 1024;

/// Most values one function's operand stack holds at once. Values live at the same time are what make register
/// allocation slow: a 129 KB body pushing 21,500 values before adding them up compiles in 115 s, the same bytes as
/// sequences of 1,000 in 15 s. Compilers keep the stack shallow: our examples reach 12, StarlingMonkey 64.
pub const MAX_OPERAND_STACK: u64 = 1_000;

/// Most locals one function declares. A local costs two bytes to declare but a variable in the compiler, and
/// wasmparser allows 50,000 per function; 1,000 is twice the most seen in real code (StarlingMonkey's 483; our
/// examples declare at most 22), so such declarations cannot add up across thousands of functions.
pub const MAX_FUNCTION_LOCALS: u64 = 1_000;

/// Most 64 KiB pages a memory may start with, or declare as its maximum: the host's memory ceiling
/// ([`MAX_MEMORY_BYTES`]). A larger initial memory could never be instantiated, and a larger declared maximum states
/// a need no configuration of this host can meet; both are refused at upload rather than failing at run time.
pub const MAX_MEMORY_PAGES: u64 = (MAX_MEMORY_BYTES / WASM_PAGE_BYTES) as u64;

/// The size of a wasm page.
pub const WASM_PAGE_BYTES: usize = 64 * 1024;

/// Most tables one core module may define. The engine's pooling allocator keeps wasmtime's default of one table slot
/// per module (which is what Rust and wit-component emit); a module with more would pass upload and fail at every
/// instantiation.
pub const MAX_TABLES_PER_MODULE: u64 = 1;

/// Largest initial size of a table. The pooling allocator's table slot holds wasmtime's default 20,000 elements
/// (the engine keeps it); a Rust chaincode's indirect-call table has a few hundred.
pub const MAX_TABLE_INITIAL_ELEMENTS: u64 = 20_000;

/// Most globals in one core module. They live in the instance's fixed-size context (1 MiB in the pool); a Rust
/// chaincode has one to three.
pub const MAX_GLOBALS: u64 = 1_000;

/// Most data segments in one core module. Each one is copied into memory at every instantiation, i.e. on every
/// transaction; Rust emits two or three.
pub const MAX_DATA_SEGMENTS: u64 = 1_000;

/// Most exports of one core module. A chaincode exports its two entry points plus canonical-ABI helpers (about ten).
pub const MAX_EXPORTS: u64 = 1_000;

const _: () = assert!(MAX_MODULE_BYTES <= MAX_PACKAGE_BYTES && MAX_MODULE_BYTES < MAX_UNPACKED_BYTES);

// ---- Admin API and compilation budget ----

/// Compilations running at once, whatever started them (an upload, a restart recompiling, a damaged artifact). A
/// compilation takes one core (wasmtime is built without parallel compilation) and up to hundreds of MiB for a
/// large module; one at a time leaves the other cores to the transactions being served. Installs are serialised
/// anyway (the registry allocates ports and writes the store one install at a time), so more would not speed them.
pub const MAX_CONCURRENT_COMPILES: usize = 1;

/// Uploads being received, unpacked, validated or compiled at once (admin.max_concurrent_uploads). Each holds its
/// body (up to admin.max_upload_mb), the unpacked package and the module's component in memory: 12 concurrent 42 MB
/// uploads peaked at 959 MB. Installs run one at a time, so two is one installing and one ready behind it.
pub const DEFAULT_MAX_CONCURRENT_UPLOADS: usize = 2;

/// How long an upload waits for its turn before the API answers 503 with `Retry-After`. Several peers often
/// install the same package at once (the builder's `upload` mode, which does not retry): waiting keeps their installs
/// from failing, and the bound keeps a flood of uploads from holding connections forever. Well inside the builder's
/// request timeout (120 s) and the peer's install timeout (300 s).
pub const UPLOAD_SLOT_WAIT: Duration = Duration::from_secs(60);

/// Largest package upload the admin API accepts by default. A wasm chaincode is at most a few MiB; 64 MiB leaves
/// room for bundled CouchDB indexes while refusing a runaway upload before it fills memory.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_within_host_maximums() {
        TxLimits::default().check().unwrap();
    }

    #[test]
    fn the_old_wall_clock_key_still_reads() {
        let l: TxLimits = serde_json::from_str(r#"{"wall_clock_ms": 15}"#).unwrap();
        assert_eq!(l.run_time_ms, 15);
        assert_eq!(l.concurrency, DEFAULT_CONCURRENCY);
    }

    #[test]
    fn oversized_memory_is_refused() {
        let l = TxLimits { memory_bytes: MAX_MEMORY_BYTES + 1, ..TxLimits::default() };
        assert!(l.check().unwrap_err().contains("exceeds"));
    }
}
