//! Running a chaincode natively inside a host process, with no sandbox: a host implements [`Backend`] over its line
//! to the peer and calls [`invoke`]. The wasmcc benchmarks use it for their `native` implementation, the same
//! chaincode crate compiled into the host, which is the ceiling a sandboxed chaincode is measured against.
//!
//! Not for production: a native chaincode shares the host's memory, clock and failures, which is what the wasm
//! sandbox exists to prevent.

pub use crate::backend::{Backend, Page};
pub use crate::iterators::{unpack_kv_batch, Cursor};
use crate::iterators::{HistoryIterator, KeyModification, KeyValue, StateIterator};
use crate::{Chaincode, Response, Stub};

/// Runs one INIT (`is_init`) or TRANSACTION of `C` against `backend`.
pub fn invoke<C: Chaincode>(backend: &mut dyn Backend, is_init: bool) -> Response {
    let mut stub = Stub::new(backend);
    if is_init {
        C::init(&mut stub)
    } else {
        C::invoke(&mut stub)
    }
}

/// The [`StateIterator`] a [`Backend`] returns for a query whose results come from `cursor`.
pub fn state_iterator(cursor: impl Cursor<KeyValue> + 'static) -> StateIterator {
    StateIterator::new(cursor)
}

/// The [`HistoryIterator`] a [`Backend`] returns for a history query whose results come from `cursor`.
pub fn history_iterator(cursor: impl Cursor<KeyModification> + 'static) -> HistoryIterator {
    HistoryIterator::new(cursor)
}
