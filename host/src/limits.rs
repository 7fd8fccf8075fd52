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
/// because every endorsing peer's host then stops it at the same instruction. One billion is several seconds of
/// pure computation: far beyond any honest contract, small enough to stop a loop quickly.
pub const DEFAULT_FUEL: u64 = 1_000_000_000;

/// How much fuel a guest may burn between yields to the async runtime, so a long computation never starves
/// the other transactions sharing a worker thread.
pub const FUEL_YIELD_INTERVAL: u64 = 1_000_000;

/// Wall-clock backstop per transaction, enforced by epoch interruption. It matches the peer's default
/// `chaincode.executetimeout` (30 s): past it the peer has given up on the transaction anyway.
pub const DEFAULT_WALL_CLOCK: Duration = Duration::from_secs(30);

/// Period of the engine's epoch ticker. The wall-clock limit is rounded up to a whole number of ticks; 10 ms keeps
/// that rounding invisible while costing one atomic increment per tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Instances that may exist at once across all chaincodes (the pooling allocator's slots). Each in-flight
/// transaction holds one; 1,000 covers 64 concurrent transactions on each of 15 busy chaincodes.
pub const MAX_CONCURRENT_INSTANCES: u32 = 1_000;

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
const _: () = assert!(DEFAULT_MEMORY_BYTES <= MAX_MEMORY_BYTES && FUEL_YIELD_INTERVAL < DEFAULT_FUEL);

/// Per-transaction limits, with the defaults above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TxLimits {
    /// Linear-memory cap in bytes.
    pub memory_bytes: usize,
    /// Fuel budget.
    pub fuel: u64,
    /// Wall-clock backstop in milliseconds.
    pub wall_clock_ms: u64,
}

impl Default for TxLimits {
    fn default() -> Self {
        TxLimits {
            memory_bytes: DEFAULT_MEMORY_BYTES,
            fuel: DEFAULT_FUEL,
            wall_clock_ms: DEFAULT_WALL_CLOCK.as_millis() as u64,
        }
    }
}

impl TxLimits {
    /// The wall-clock limit in epoch ticks, rounded up so a limit is never shorter than asked.
    pub fn epoch_ticks(&self) -> u64 {
        let tick = EPOCH_TICK.as_millis() as u64;
        self.wall_clock_ms.div_ceil(tick).max(1)
    }

    /// Refuses limits the engine cannot honour.
    pub fn check(&self) -> Result<(), String> {
        if self.memory_bytes > MAX_MEMORY_BYTES {
            return Err(format!("memory_bytes {} exceeds the host maximum {}", self.memory_bytes, MAX_MEMORY_BYTES));
        }
        if self.fuel == 0 || self.wall_clock_ms == 0 {
            return Err("fuel and wall_clock_ms must be positive".into());
        }
        Ok(())
    }
}

// --- Accepting peer connections (sni.rs) ---

/// Longest a dialler may take from TCP accept to a finished TLS handshake. The peer dials with connection.json's
/// `dial_timeout` (wasmcc writes 10 s) and retries, so a handshake still unfinished after that is a client that
/// will never finish; dropping it frees its slot among the pending handshakes.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress on one listener before it stops accepting (the kernel backlog then holds new dialers).
/// Real peers open a handful of connections per chaincode; the bound only keeps a flood of silent clients from
/// holding unbounded sockets and buffers, while far exceeding a peer restart that re-dials every chaincode at once.
pub const MAX_PENDING_HANDSHAKES: usize = 256;

/// Pause after an accept error that is not about the one connection (EMFILE, ENOBUFS): retrying at once would spin a
/// core and flood the log, while 100 ms lets closing connections free descriptors and is short for a re-dialling peer.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

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
/// scratch directory on the peer) must fit 255 bytes. The rule lives with the label rule in `wasmcc-package`, which
/// the host, `wasmcc package`/`check` and the builder share; the reasoning for 128 is there.
pub const MAX_LABEL_BYTES: usize = wasmcc_package::MAX_LABEL_BYTES;

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
    fn epoch_ticks_round_up() {
        let l = TxLimits { wall_clock_ms: 15, ..TxLimits::default() };
        assert_eq!(l.epoch_ticks(), 2);
        let l = TxLimits { wall_clock_ms: 30_000, ..TxLimits::default() };
        assert_eq!(l.epoch_ticks(), 3_000);
    }

    #[test]
    fn oversized_memory_is_refused() {
        let l = TxLimits { memory_bytes: MAX_MEMORY_BYTES + 1, ..TxLimits::default() };
        assert!(l.check().unwrap_err().contains("exceeds"));
    }
}
