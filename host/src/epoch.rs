//! The engine's epoch ticker: the clock that makes a running guest reach its epoch checks (CPU turns, woken tasks
//! waiting for its thread, the run-time backstop).
//!
//! It ticks every [`limits::EPOCH_TICK`] while guests wait for a CPU turn (their turns come at running guests' epoch
//! checks, when a slice ends), and every [`limits::EPOCH_IDLE_TICK`] while guests run with nobody waiting: then a tick
//! serves only the run-time backstop, and on this VM each wake-up of the thread costs 20–30 µs of CPU (BENCHMARKS.md,
//! changes 25, 28 and 42). When a look finds no instance alive it waits [`limits::EPOCH_IDLE_TICK`], twice that after
//! the next such look, and so on up to [`limits::EPOCH_IDLE_TICK_MAX`]: at a peer's pace instances live a fraction of
//! a millisecond and most looks find none. After [`limits::EPOCH_PARK_AFTER`] without any starting, it sleeps until
//! one does: a host that serves no transaction does not wake at all. A chaincode that waits for a CPU turn cannot
//! wait for a slow look: [`EpochTicker::nudger`] wakes the ticker at once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

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
    /// Set while the ticker waits between two looks that found no instance alive.
    idling: AtomicBool,
    /// Instances started so far.
    started: AtomicU64,
    stop: AtomicBool,
}

impl EpochTicker {
    /// Starts the ticker thread; `increment` advances the engine's epoch, `gauges` say whether instances are alive.
    pub fn start(increment: impl Fn() + Send + 'static, gauges: Arc<Gauges>) -> std::io::Result<Self> {
        Self::start_waiting(
            increment,
            gauges,
            IdleWaits { first: limits::EPOCH_IDLE_TICK, max: limits::EPOCH_IDLE_TICK_MAX },
        )
    }

    fn start_waiting(
        increment: impl Fn() + Send + 'static,
        gauges: Arc<Gauges>,
        waits: IdleWaits,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            parked: AtomicBool::new(false),
            idling: AtomicBool::new(false),
            started: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let ticking = shared.clone();
        let handle = thread::Builder::new()
            .name("wasmcc-epoch".into())
            .spawn(move || tick(&increment, &gauges, &ticking, waits))?;
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

    /// What wakes the ticker for a look now, from anywhere.
    pub fn nudger(&self) -> Nudger {
        Nudger { shared: self.shared.clone(), thread: self.thread.clone() }
    }

    /// Whether the ticker sleeps until the next instance starts.
    #[cfg(test)]
    fn is_parked(&self) -> bool {
        self.shared.parked.load(Ordering::SeqCst)
    }
}

/// Wakes the ticker for a look now when it waits between idle looks or sleeps: its next look finds the guest waiting
/// for a CPU turn and it ticks every [`limits::EPOCH_TICK`]. Costs two atomic loads when it is ticking already (every
/// [`limits::EPOCH_IDLE_TICK`] at most, while guests run: its next look then finds the waiter).
#[derive(Clone)]
pub struct Nudger {
    shared: Arc<Shared>,
    thread: Thread,
}

impl Nudger {
    pub fn nudge(&self) {
        if self.shared.idling.load(Ordering::SeqCst) || self.shared.parked.load(Ordering::SeqCst) {
            self.thread.unpark();
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

impl Shared {
    /// Waits `wait` for the next look, or less if nudged, unless `changed` already says the look is due; whether it
    /// waited. Idling is said before that last look, as parking is in [`tick`]: a nudge after the look unparks us. A
    /// nudge (or a stale unpark) only brings the next look forward.
    fn wait_unless(&self, wait: Duration, changed: impl Fn() -> bool) -> bool {
        self.idling.store(true, Ordering::SeqCst);
        let waits = !changed();
        if waits {
            thread::park_timeout(wait);
        }
        self.idling.store(false, Ordering::SeqCst);
        waits
    }
}

/// How long the ticker waits after a look that found no instance alive: `first`, doubling up to `max`.
#[derive(Clone, Copy)]
struct IdleWaits {
    first: Duration,
    max: Duration,
}

fn tick(increment: &dyn Fn(), gauges: &Gauges, shared: &Shared, waits: IdleWaits) {
    // When an instance last started or was seen alive; `None` until one does, so a host that was just started parks
    // at once.
    let (mut active_at, mut seen): (Option<Instant>, u64) = (None, 0);
    // When a look last found a guest waiting for a CPU turn.
    let mut contended_at: Option<Instant> = None;
    let mut idle = waits.first;
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
        if gauges.turn_waiters() > 0 {
            contended_at = Some(Instant::now());
        }
        if busy {
            idle = waits.first;
            if contended_at.is_some_and(|at| at.elapsed() < limits::EPOCH_CONTENDED_LINGER) {
                thread::sleep(limits::EPOCH_TICK);
            } else {
                // Nobody waits for a turn: a tick serves only the run-time backstop. A guest that starts waiting
                // nudges us, since its turn may come only at the end of a running slice.
                shared.wait_unless(limits::EPOCH_IDLE_TICK, || gauges.turn_waiters() > 0);
            }
        } else if active_at.is_some_and(|at| at.elapsed() < limits::EPOCH_PARK_AFTER) {
            if shared.wait_unless(idle, || gauges.live_instances() > 0) {
                idle = (idle * 2).min(waits.max);
            }
        } else {
            // Parked is said before the last look: an instance counted after that look sees it and unparks us (both
            // sides SeqCst), one counted before it is seen here. A stale unpark only makes the next park return early.
            shared.parked.store(true, Ordering::SeqCst);
            if gauges.live_instances() == 0 && !shared.stop.load(Ordering::SeqCst) {
                thread::park();
            }
            shared.parked.store(false, Ordering::SeqCst);
            idle = waits.first;
            continue;
        }
        increment();
    }
}

#[cfg(test)]
mod tests {
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

    /// While guests keep starting but none is alive at its looks (a peer's pace), the ticker looks ever less often.
    #[test]
    fn a_ticker_that_finds_no_guest_alive_looks_less_and_less_often() {
        let ticks = Arc::new(AtomicU64::new(0));
        let counted = ticks.clone();
        let ticker = EpochTicker::start(move || _ = counted.fetch_add(1, Ordering::SeqCst), Arc::default()).unwrap();
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(600) {
            ticker.instance_started();
            thread::sleep(Duration::from_millis(2));
        }
        // Every EPOCH_IDLE_TICK, that would be 150 ticks; a busy machine only makes the waits longer.
        let fixed = (started.elapsed().as_millis() / limits::EPOCH_IDLE_TICK.as_millis()) as u64;
        let ticked = ticks.load(Ordering::SeqCst);
        assert!(ticked * 4 < fixed, "{ticked} ticks in {:?}", started.elapsed());
    }

    /// A ticker in a long wait between idle looks ticks again at once when nudged (a chaincode waits for a CPU turn
    /// that a running guest gives up only at an epoch check), and only then: starting an instance does not wake it.
    #[test]
    fn a_nudge_ends_an_idle_wait_at_once() {
        let ticks = Arc::new(AtomicU64::new(0));
        let gauges = Arc::new(Gauges::default());
        let counted = ticks.clone();
        let hour = Duration::from_secs(3600);
        let waits = IdleWaits { first: hour, max: hour };
        let ticker =
            EpochTicker::start_waiting(move || _ = counted.fetch_add(1, Ordering::SeqCst), gauges.clone(), waits)
                .unwrap();
        wait_until("the ticker parks", || ticker.is_parked());
        ticker.instance_started();
        wait_until("the ticker waits an hour for its next look", || ticker.shared.idling.load(Ordering::SeqCst));
        let before = ticks.load(Ordering::SeqCst);
        let _instance = InstanceGuard::new(gauges.clone());
        ticker.instance_started();
        thread::sleep(Duration::from_millis(20));
        assert_eq!(ticks.load(Ordering::SeqCst), before, "a starting instance leaves an idle wait alone");
        ticker.nudger().nudge();
        wait_until("ticking again", || ticks.load(Ordering::SeqCst) >= before + 3);
    }

    /// Guests that run with nobody waiting for a CPU turn need a tick only for the run-time backstop: the ticker then
    /// looks every `EPOCH_IDLE_TICK`, where guests waiting for a turn get one every `EPOCH_TICK`.
    #[test]
    fn guests_running_with_nobody_waiting_for_a_turn_are_ticked_slowly() {
        let ticks = Arc::new(AtomicU64::new(0));
        let gauges = Arc::new(Gauges::default());
        let counted = ticks.clone();
        let ticker = EpochTicker::start(move || _ = counted.fetch_add(1, Ordering::SeqCst), gauges.clone()).unwrap();
        let _instance = InstanceGuard::new(gauges.clone());
        ticker.instance_started();
        let epoch = || ticks.load(Ordering::SeqCst);
        wait_until("the ticker sees the instance", || epoch() > 0);
        let (before, started) = (epoch(), Instant::now());
        thread::sleep(Duration::from_millis(200));
        // Every look sleeps at least EPOCH_IDLE_TICK: a busy machine only makes the waits longer.
        let most = (started.elapsed().as_millis() / limits::EPOCH_IDLE_TICK.as_millis()) as u64 + 1;
        assert!(epoch() - before <= most, "{} ticks in {:?}", epoch() - before, started.elapsed());

        gauges.turn_waiter_came();
        ticker.nudger().nudge();
        let waited = epoch();
        wait_until("ticking while a guest waits for a turn", || epoch() >= waited + 3);
        gauges.turn_waiter_left();
    }
}
