//! The tokio runtime a host process serves its sockets on.

use crate::limits;

/// The tokio runtime a host process serves its sockets on (peer streams, the admin API). Transactions run on
/// threads of their own ([`crate::quota::threads`]), so this runtime only moves messages:
/// [`limits::network_threads`] workers.
pub fn network_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(limits::network_threads()).enable_all().build()
}
