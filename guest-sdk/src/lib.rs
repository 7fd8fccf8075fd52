//! Write Hyperledger Fabric chaincode in safe Rust and run it as a wasm component on wasmcc.
//!
//! A chaincode is a type implementing [`Chaincode`], exported with [`chaincode!`]:
//!
//! ```
//! use wasmcc_sdk::{Chaincode, Response, Stub};
//!
//! pub struct Hello;
//!
//! impl Chaincode for Hello {
//!     fn invoke(stub: &mut Stub) -> Response {
//!         let (function, params) = stub.function_and_parameters();
//!         match function.as_str() {
//!             "put" if params.len() == 2 => match stub.put_state(&params[0], params[1].as_bytes()) {
//!                 Ok(()) => Response::success(Vec::new()),
//!                 Err(e) => Response::error(e.to_string()),
//!             },
//!             _ => Response::error(format!("unknown function {function}")),
//!         }
//!     }
//! }
//!
//! wasmcc_sdk::chaincode!(Hello);
//! ```
//!
//! [`Stub`] offers what the Go shim's `ChaincodeStubInterface` offers: world state and private data, range,
//! partial composite key and rich queries ([`StateIterator`], paginated with [`QueryMetadata`]), key history
//! ([`HistoryIterator`]), key-level endorsement ([`statebased`]), events, chaincode-to-chaincode calls and the
//! transaction's context, including the submitter ([`ClientIdentity`], like Go's `cid`). Argument rules and their
//! error texts are the Go shim's, checked in the guest before anything is sent.
//!
//! The same code runs on two backends, chosen by target so that a chaincode never says which:
//! on `wasm32` the [`Stub`] calls the host through the WIT imports of `fabric:chaincode`; on native
//! targets it talks to [`mock::MockLedger`], an in-memory ledger with peer semantics, so chaincode
//! authors unit-test with plain `cargo test`.
//!
//! On `wasm32` the SDK also installs a fast, small global allocator (Talc): every transaction runs in a fresh
//! instance and allocates nearly everything it touches. A chaincode that brings its own turns off the default
//! feature `allocator`.

// `#[contract]` expands to `::wasmcc_sdk::…` paths; this lets the SDK's own tests use it.
extern crate self as wasmcc_sdk;

mod backend;
mod composite;
pub mod contract;
mod der;
#[cfg(all(feature = "embed", not(target_arch = "wasm32")))]
pub mod embed;
mod error;
mod host;
mod identity;
mod iterators;
mod limits;
#[cfg(not(target_arch = "wasm32"))]
pub mod mock;
mod private;
mod proto;
mod queries;
mod response;
pub mod statebased;
mod stub;

/// Every transaction runs in a fresh instance and allocates almost everything it touches (arguments, keys, values,
/// query results) from a young heap. Rust's default wasm allocator, dlmalloc, was a fifth of the host's CPU on a
/// 100-result range query (BENCHMARKS.md); Talc does the same work in a fraction of it and is smaller.
#[cfg(all(target_arch = "wasm32", feature = "allocator"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

pub use composite::{create_composite_key, split_composite_key};
pub use contract::Context;
pub use error::Error;
pub use identity::ClientIdentity;
pub use iterators::{HistoryIterator, KeyModification, KeyValue, QueryMetadata, StateIterator};
pub use response::Response;
pub use stub::{Stub, Timestamp};
/// Turns an `impl` block into a contract: see [the contract layer](mod@crate::contract) for what the peer sees.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use wasmcc_sdk::{contract, Context};
///
/// #[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
/// pub enum Colour { Red, Blue }
///
/// pub struct Paint;
///
/// #[contract(name = "Paint", default, title = "Paint shop", version = "1.2.0")]
/// impl Paint {
///     /// `Mix <colour> <litres>` → the tin's label.
///     #[transaction]
///     pub fn mix(ctx: &mut Context, colour: Colour, litres: f64) -> Result<String, String> {
///         let label = format!("{colour:?} {litres} l");
///         ctx.stub().put_state(&label, b"mixed")?;
///         Ok(label)
///     }
///
///     /// A query: tagged EVALUATE in the metadata.
///     #[transaction(evaluate, name = "Stock")]
///     pub fn stock_of(ctx: &mut Context, label: String) -> Result<bool, String> {
///         Ok(ctx.stub().get_state(&label)?.is_some())
///     }
///
///     #[before_transaction]
///     fn shop_open(ctx: &mut Context) -> Result<(), String> {
///         match ctx.client_identity()?.msp_id() {
///             "Org1MSP" => Ok(()),
///             other => Err(format!("{other} does not shop here")),
///         }
///     }
///
///     #[after_transaction]
///     fn receipt(ctx: &mut Context, payload: &[u8]) -> Result<(), wasmcc_sdk::Error> {
///         ctx.stub().set_event("receipt", payload)
///     }
///
///     #[unknown_transaction]
///     fn not_sold_here(ctx: &mut Context) -> Result<(), String> {
///         Err(format!("we do not {} here", ctx.function()))
///     }
/// }
///
/// wasmcc_sdk::chaincode!(pub Shop = [Paint]);
///
/// # fn main() {
/// use wasmcc_sdk::mock::{MockLedger, TestIdentity};
/// let mut ledger = MockLedger::new();
/// ledger.set_identity(&TestIdentity::new("Org1MSP", "ada"));
/// assert_eq!(ledger.invoke::<Shop>(&["Mix", r#""Red""#, "2.5"]).payload, b"Red 2.5 l");
/// assert_eq!(ledger.last_event(), Some(("receipt", &b"Red 2.5 l"[..])));
/// assert_eq!(ledger.invoke::<Shop>(&["Paint:Stock", "Red 2.5 l"]).payload, b"true");
/// assert_eq!(ledger.invoke::<Shop>(&["Sell"]).message, "we do not Sell here");
/// # }
/// ```
pub use wasmcc_sdk_macros::contract;
/// The crates a contract's types derive from, at the versions the SDK uses: `#[derive(JsonSchema)]` with
/// `#[schemars(crate = "wasmcc_sdk::schemars")]` needs no dependency of its own.
pub use {schemars, serde, serde_json};

/// A chaincode: what the peer's INIT and TRANSACTION messages run.
///
/// Both functions get a fresh [`Stub`] for one transaction; the host creates a new instance per transaction,
/// so nothing survives between calls except what is written to the ledger.
pub trait Chaincode {
    /// Runs for INIT (the first call of an `init_required` definition). Default: 200 with an empty payload,
    /// like a Go chaincode whose `Init` does nothing.
    fn init(stub: &mut Stub) -> Response {
        let _ = stub;
        Response::success(Vec::new())
    }

    /// Runs for every TRANSACTION. By convention `stub.function_and_parameters()` says what to do.
    fn invoke(stub: &mut Stub) -> Response;
}

/// Exports a [`Chaincode`] type as the component's `init` and `invoke`, or makes one of contracts.
///
/// Use it once per chaincode crate, at the crate root:
/// - `wasmcc_sdk::chaincode!(MyChaincode);` exports a type implementing [`Chaincode`];
/// - `wasmcc_sdk::chaincode!(pub MyChaincode = [Assets, Audit]);` defines `MyChaincode`, a [`Chaincode`] that routes
///   every transaction to the `#[contract]`s listed (the first is the default unless one says `default`), and
///   exports it. The chaincode's title and version in its metadata are the crate's name and version.
///
/// On `wasm32` it emits the component exports (all `unsafe` glue is generated by wit-bindgen inside this
/// macro, none is written by the author). On native targets it only checks that the type implements
/// [`Chaincode`]: exporting the symbols there would clash when two chaincodes link into one test binary.
#[macro_export]
macro_rules! chaincode {
    ($(#[$meta:meta])* $vis:vis $name:ident = [$($contract:ty),+ $(,)?]) => {
        $(#[$meta])*
        $vis struct $name;

        impl $crate::Chaincode for $name {
            fn init(stub: &mut $crate::Stub) -> $crate::Response {
                <Self as $crate::Chaincode>::invoke(stub)
            }
            fn invoke(stub: &mut $crate::Stub) -> $crate::Response {
                use $crate::__private::contract::Contract;
                $crate::__private::contract::run(
                    stub,
                    &[$(&<$contract as Contract>::DESCRIPTOR),+],
                    env!("CARGO_PKG_NAME"),
                    env!("CARGO_PKG_VERSION"),
                )
            }
        }

        $crate::chaincode!($name);
    };
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            impl $crate::__private::Guest for $ty {
                fn init() -> $crate::__private::bindings::Response {
                    $crate::__private::run::<$ty>(true)
                }
                fn invoke() -> $crate::__private::bindings::Response {
                    $crate::__private::run::<$ty>(false)
                }
            }
            $crate::__private::bindings::export! { $ty with_types_in $crate::__private::bindings }
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = $crate::__private::assert_chaincode::<$ty>;
    };
}

/// Support for [`chaincode!`]; not a stable API.
#[doc(hidden)]
pub mod __private {
    /// Generated from `wit/` (the sandbox ABI). Hidden: chaincode talks to [`Stub`](crate::Stub), so the
    /// ABI can move without breaking chaincode source.
    pub mod bindings {
        wit_bindgen::generate!({
            // Relative to this crate's manifest: the WIT ships inside this crate, so the SDK builds wherever it is
            // packaged or vendored. The host compiles the same files.
            path: "wit",
            world: "chaincode",
            // The export macro must be callable from the chaincode crate (through `chaincode!`).
            pub_export_macro: true,
            default_bindings_module: "::wasmcc_sdk::__private::bindings",
        });
    }

    /// What `#[contract]` expands to calls.
    pub use crate::contract::__private as contract;
    use crate::Chaincode;
    #[cfg(target_arch = "wasm32")]
    use crate::Stub;
    pub use bindings::Guest;

    /// Runs one transaction against the host backend and lowers the answer to the WIT response.
    #[cfg(target_arch = "wasm32")]
    pub fn run<C: Chaincode>(init: bool) -> bindings::Response {
        // Every transaction runs in a fresh instance, so the hook is installed for each one.
        std::panic::set_hook(Box::new(report_panic));
        let mut stub = Stub::new();
        let r = if init { C::init(&mut stub) } else { C::invoke(&mut stub) };
        bindings::Response { status: r.status, message: r.message, payload: r.payload }
    }

    /// The panic hook: hands the panic's message and location to the host's `abort`, which ends the transaction
    /// with them (the peer sees `chaincode panicked: <message> at <file>:<line>:<column>`). Without it a guest
    /// built with `panic = "abort"` would end in a bare `unreachable` trap, its message lost.
    #[cfg(target_arch = "wasm32")]
    fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
        let message = match (info.payload_as_str(), info.location()) {
            (Some(text), Some(at)) => format!("{text} at {at}"),
            (Some(text), None) => text.to_owned(),
            (None, Some(at)) => format!("panic at {at}"),
            (None, None) => "panic".to_owned(),
        };
        // std's answer to `SystemTime::now()` on wasm32-unknown-unknown; say what to use instead.
        let message = if info.payload_as_str() == Some("time not implemented on this platform") {
            format!(
                "{message} (a chaincode has no clock, so that every endorsing peer computes the same result: use \
                 Stub::tx_timestamp, the transaction's own time)"
            )
        } else {
            message
        };
        bindings::fabric::chaincode::abort::abort(&message);
    }

    pub fn assert_chaincode<C: Chaincode>() {}
}
