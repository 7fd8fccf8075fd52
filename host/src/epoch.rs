//! The engine's epoch ticker: the clock that makes a guest on the guest threads reach its epoch checks (CPU turns,
//! the run-time backstop). A guest running inline on a network thread has its own clock instead
//! ([`crate::quota::alarm`]).
//!
//! It ticks every [`limits::EPOCH_TICK`] while guests that need it run ([`Ticking`]) and every
//! [`limits::EPOCH_IDLE_TICK`] when its last look found none. After [`limits::EPOCH_PARK_AFTER`] without any starting,
//! it sleeps until one does: on this VM each wake-up of the thread costs ~17 µs of CPU, so an idle host ticking 250
//! times a second spent 0.4% of a core on nothing (BENCHMARKS.md, change 25), and a host that serves no transaction,
//! or only transactions short enough to run inline, should not wake it at all (change 26).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, Thread};
use std::time::Instant;

use crate::limits;

/// The running ticker; stopped when dropped.
pub struct EpochTicker {
    shared: Arc<Shared>,
    thread: Thread,
}

struct Shared {
    /// Set (before its last look at the gauges) while the ticker sleeps with no deadline.
    parked: AtomicBool,
    /// Guests that need ticks, running now.
    ticking: AtomicI64,
    /// Guests that needed ticks, started so far.
    started: AtomicU64,
    stop: AtomicBool,
}

impl EpochTicker {
    /// Starts the ticker thread; `increment` advances the engine's epoch.
    pub fn start(increment: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            parked: AtomicBool::new(false),
            ticking: AtomicI64::new(0),
            started: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let ticking = shared.clone();
        let handle = thread::Builder::new().name("wasmcc-epoch".into()).spawn(move || tick(&increment, &ticking))?;
        Ok(EpochTicker { shared, thread: handle.thread().clone() })
    }

    /// Ticks for a guest on the guest threads until the guard is dropped; a parked ticker ticks again. Costs two
    /// counters' increments when the ticker is awake.
    pub fn ticking(&self) -> Ticking {
        self.shared.ticking.fetch_add(1, Ordering::SeqCst);
        self.shared.started.fetch_add(1, Ordering::Relaxed);
        if self.shared.parked.load(Ordering::SeqCst) {
            self.thread.unpark();
        }
        Ticking(self.shared.clone())
    }

    /// Whether the ticker sleeps until the next instance starts.
    #[cfg(test)]
    fn is_parked(&self) -> bool {
        self.shared.parked.load(Ordering::SeqCst)
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// A guest that needs the ticker, counted while it lives ([`EpochTicker::ticking`]).
pub struct Ticking(Arc<Shared>);

impl Drop for Ticking {
    fn drop(&mut self) {
        self.0.ticking.fetch_sub(1, Ordering::SeqCst);
    }
}

fn tick(increment: &dyn Fn(), shared: &Shared) {
    // When an instance last started or was seen alive; `None` until one does, so a host that was just started parks
    // at once.
    let (mut active_at, mut seen): (Option<Instant>, u64) = (None, 0);
    while !shared.stop.load(Ordering::SeqCst) {
        // A guest started since the last look counts as activity even if it has ended: most live a few dozen
        // microseconds between two looks, and a ticker that parked between them would be woken on the path of the
        // next transaction (measured: p99 twice as long at 500 tx/s).
        let started = shared.started.load(Ordering::Relaxed);
        let busy = shared.ticking.load(Ordering::SeqCst) > 0;
        if busy || started != seen {
            seen = started;
            active_at = Some(Instant::now());
        }
        if busy {
            thread::sleep(limits::EPOCH_TICK);
        } else if active_at.is_some_and(|at| at.elapsed() < limits::EPOCH_PARK_AFTER) {
            thread::sleep(limits::EPOCH_IDLE_TICK);
        } else {
            // Parked is said before the last look: a guest counted after that look sees it and unparks us (both sides
            // SeqCst), one counted before it is seen here. A stale unpark only makes the next park return early.
            shared.parked.store(true, Ordering::SeqCst);
            if shared.ticking.load(Ordering::SeqCst) == 0 && !shared.stop.load(Ordering::SeqCst) {
                thread::park();
            }
            shared.parked.store(false, Ordering::SeqCst);
            continue;
        }
        increment();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(10), "{what}");
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// The ticker stops ticking on an idle host, and the first guest that needs it gets its ticks again.
    #[test]
    fn an_idle_ticker_sleeps_until_an_instance_starts() {
        let ticks = Arc::new(AtomicU64::new(0));
        let counted = ticks.clone();
        let ticker = EpochTicker::start(move || _ = counted.fetch_add(1, Ordering::SeqCst)).unwrap();
        let epoch = || ticks.load(Ordering::SeqCst);
        wait_until("the ticker parks once the host is idle", || ticker.is_parked());
        let parked_at = epoch();
        thread::sleep(limits::EPOCH_IDLE_TICK * 5);
        assert_eq!(epoch(), parked_at, "a parked ticker does not tick");

        let guest = ticker.ticking();
        wait_until("an instance's epoch advances", || epoch() >= parked_at + 3);
        assert!(!ticker.is_parked());
        drop(guest);
        wait_until("parked again after the instance ended", || ticker.is_parked());
        drop(ticker);
    }
}
