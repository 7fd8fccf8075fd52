//! The engine's epoch ticker: the clock that makes a running guest reach its epoch checks (CPU turns, inline
//! placement, the run-time backstop).
//!
//! It ticks every [`limits::EPOCH_TICK`] while guest instances are alive and every [`limits::EPOCH_IDLE_TICK`] when
//! its last look found none. After [`limits::EPOCH_PARK_AFTER`] without any starting, it sleeps until one does: on
//! this VM each wake-up of the thread costs ~17 µs of CPU, so an idle host ticking 250 times a second spent 0.4% of a
//! core on nothing (BENCHMARKS.md, change 25), and a host that serves no transaction should not wake at all.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, Thread};
use std::time::Instant;

use crate::limits;
use crate::telemetry::Gauges;

/// The running ticker; stopped when dropped.
pub struct EpochTicker {
    shared: Arc<Shared>,
    thread: Thread,
}

struct Shared {
    /// Set (before its last look at the gauges) while the ticker sleeps with no deadline.
    parked: AtomicBool,
    /// Instances started so far.
    started: AtomicU64,
    stop: AtomicBool,
}

impl EpochTicker {
    /// Starts the ticker thread; `increment` advances the engine's epoch, `gauges` say whether instances are alive.
    pub fn start(increment: impl Fn() + Send + 'static, gauges: Arc<Gauges>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            parked: AtomicBool::new(false),
            started: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let ticking = shared.clone();
        let handle =
            thread::Builder::new().name("wasmcc-epoch".into()).spawn(move || tick(&increment, &gauges, &ticking))?;
        Ok(EpochTicker { shared, thread: handle.thread().clone() })
    }

    /// Says that a guest instance started (after it was counted in the gauges): a parked ticker ticks again. Costs a
    /// counter's increment when the ticker is awake.
    pub fn instance_started(&self) {
        self.shared.started.fetch_add(1, Ordering::Relaxed);
        if self.shared.parked.load(Ordering::SeqCst) {
            self.thread.unpark();
        }
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

fn tick(increment: &dyn Fn(), gauges: &Gauges, shared: &Shared) {
    // When an instance last started or was seen alive; `None` until one does, so a host that was just started parks
    // at once.
    let (mut active_at, mut seen): (Option<Instant>, u64) = (None, 0);
    while !shared.stop.load(Ordering::SeqCst) {
        // An instance started since the last look counts as activity even if it has ended: at a peer's pace most
        // instances live a few dozen microseconds between two looks, and a ticker that parked between them would be
        // woken on the path of the next transaction (measured: p99 twice as long at 500 tx/s).
        let started = shared.started.load(Ordering::Relaxed);
        let busy = gauges.live_instances() > 0;
        if busy || started != seen {
            seen = started;
            active_at = Some(Instant::now());
        }
        if busy {
            thread::sleep(limits::EPOCH_TICK);
        } else if active_at.is_some_and(|at| at.elapsed() < limits::EPOCH_PARK_AFTER) {
            thread::sleep(limits::EPOCH_IDLE_TICK);
        } else {
            // Parked is said before the last look: an instance counted after that look sees it and unparks us (both
            // sides SeqCst), one counted before it is seen here. A stale unpark only makes the next park return early.
            shared.parked.store(true, Ordering::SeqCst);
            if gauges.live_instances() == 0 && !shared.stop.load(Ordering::SeqCst) {
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
    use crate::telemetry::InstanceGuard;

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(10), "{what}");
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// The ticker stops ticking on an idle host, and the first instance to start gets its ticks again.
    #[test]
    fn an_idle_ticker_sleeps_until_an_instance_starts() {
        let ticks = Arc::new(AtomicU64::new(0));
        let gauges = Arc::new(Gauges::default());
        let counted = ticks.clone();
        let ticker = EpochTicker::start(move || _ = counted.fetch_add(1, Ordering::SeqCst), gauges.clone()).unwrap();
        let epoch = || ticks.load(Ordering::SeqCst);
        wait_until("the ticker parks once the host is idle", || ticker.is_parked());
        let parked_at = epoch();
        thread::sleep(limits::EPOCH_IDLE_TICK * 5);
        assert_eq!(epoch(), parked_at, "a parked ticker does not tick");

        let instance = InstanceGuard::new(gauges.clone());
        ticker.instance_started();
        wait_until("an instance's epoch advances", || epoch() >= parked_at + 3);
        assert!(!ticker.is_parked());
        drop(instance);
        wait_until("parked again after the instance ended", || ticker.is_parked());
        drop(ticker);
    }
}
