//! The tokio runtime a host process serves its sockets on.

use crate::limits;

/// The tokio runtime a host process serves its sockets on (peer streams, the admin API). Transactions run on
/// threads of their own ([`crate::quota::threads`]), so this runtime only moves messages:
/// [`limits::network_threads`] workers.
///
/// With one network thread (up to four CPUs) the runtime is tokio's current-thread scheduler, run by the thread that
/// calls `block_on`: a multi-thread scheduler of one worker adds work-stealing and idle-worker bookkeeping to every
/// wake-up for no second worker to steal, and keeps the calling thread parked beside its worker. Guest threads wake
/// the runtime's tasks the same way under both (a remote queue and the I/O driver's waker). One thread fewer; the CPU
/// per transaction moved within the benchmarks' spread (BENCHMARKS.md, changes 47 and 49).
pub fn network_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    match limits::network_threads() {
        1 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        workers => tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build(),
    }
}

#[cfg(test)]
mod tests {
    use tokio::runtime::RuntimeFlavor;

    use super::*;

    #[test]
    fn one_network_thread_is_the_thread_that_blocks_on_the_runtime() {
        let runtime = network_runtime().unwrap();
        let expected = match limits::network_threads() {
            1 => RuntimeFlavor::CurrentThread,
            _ => RuntimeFlavor::MultiThread,
        };
        assert_eq!(runtime.handle().runtime_flavor(), expected);
        // Tasks spawned from another thread run while the caller blocks on the runtime, as the host's sessions do.
        let handle = runtime.handle().clone();
        let spawned = std::thread::spawn(move || handle.spawn(async { std::thread::current().id() })).join().unwrap();
        let ran_on = runtime.block_on(spawned).unwrap();
        if expected == RuntimeFlavor::CurrentThread {
            assert_eq!(ran_on, std::thread::current().id());
        }
    }
}
