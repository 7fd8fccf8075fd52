//! A CPU-time alarm for a transaction running inline on a network thread ([`super::placement`]).
//!
//! A guest reaches its epoch checks (where it is told to move, to yield, or that its run time is up) only when the
//! engine's epoch advances. For guests on the guest threads the ticker thread advances it (`epoch.rs`). For a guest
//! on a network thread, the thread's own CPU clock does: each poll of an inline transaction arms a one-shot timer on
//! the thread's CPU time, and a poll that runs [`crate::limits::INLINE_RUN_TIME`] of CPU gets a signal whose handler
//! advances the epoch; the guest's next check finds it ran long, and it moves. A short transaction — nearly all of
//! them — costs two `timer_settime` calls and wakes no other thread. Before, the ticker looked every 4 ms for such
//! guests: half a wake-up of another thread per transaction at a peer's pace (BENCHMARKS.md, change 26).
//!
//! The signal is SIGURG, the one Go's runtime preempts goroutines with: ignored by default, so one arriving without
//! the handler would do nothing, and nothing else in the host uses it. The handler only adds to an atomic counter
//! (the engine's epoch), which is async-signal-safe; `SA_RESTART` restarts a system call it interrupts.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::Engine;

thread_local! {
    /// The engine whose epoch the alarm advances while a poll of this thread is armed. `const` and without a
    /// destructor: the signal handler reads it, and must not initialise or register anything.
    static ARMED_FOR: Cell<*const Engine> = const { Cell::new(std::ptr::null()) };
    /// This thread's timer, made on its first armed poll and deleted when the thread ends.
    static TIMER: ThreadTimer = ThreadTimer::new();
}

/// Why inline transactions cannot be bounded here; they then start on the guest threads.
#[derive(Debug, thiserror::Error)]
#[error("the CPU-time alarm for inline transactions is unavailable: {0}")]
pub struct Unavailable(&'static str);

/// A poll of an inline transaction, armed; disarmed when dropped. Not `Send`: the timer is the current thread's.
pub struct Armed {
    timer: libc::timer_t,
    budget: Duration,
}

/// Arms the current thread's alarm for one poll of a guest of `engine`: it goes off once the thread has run `budget`
/// of CPU (at least a microsecond).
pub fn arm(engine: &Engine, budget: Duration) -> Result<Armed, Unavailable> {
    install_handler()?;
    let timer = TIMER.with(|t| t.get()).ok_or(Unavailable("timer_create failed"))?;
    let budget = budget.max(Duration::from_micros(1));
    ARMED_FOR.with(|armed| armed.set(engine));
    set(timer, budget);
    Ok(Armed { timer, budget })
}

impl Armed {
    /// Disarms the alarm; the CPU time the thread ran while it was armed (the whole budget once it went off).
    pub fn disarm(self) -> Duration {
        let left = set(self.timer, Duration::ZERO);
        // Linux reports a CPU timer that went off as a nanosecond short of it.
        if left < Duration::from_micros(1) {
            self.budget
        } else {
            self.budget.saturating_sub(left)
        }
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        // Disarmed first: a signal generated before `timer_settime` returns is delivered before it returns to this
        // code, so once the pointer is cleared no handler can read it.
        set(self.timer, Duration::ZERO);
        ARMED_FOR.with(|armed| armed.set(std::ptr::null()));
    }
}

extern "C" fn on_alarm(_signal: libc::c_int) {
    let engine = ARMED_FOR.with(Cell::get);
    if !engine.is_null() {
        // SAFETY: set only while an `Armed` of this thread lives, whose caller holds the engine for longer; the
        // timer is disarmed before the pointer is cleared (see `Drop for Armed`).
        unsafe { (*engine).increment_epoch() }
    }
}

fn install_handler() -> Result<(), Unavailable> {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        // SAFETY: a zeroed sigaction is valid; the handler only touches a const thread-local and an atomic.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGURG, &action, std::ptr::null_mut()) == 0
        }
    });
    installed.then_some(()).ok_or(Unavailable("sigaction failed"))
}

/// Starts (or, with zero, stops) `timer`, to fire once after `after` of the thread's CPU time; returns what was left
/// of its previous setting (zero once it went off).
fn set(timer: libc::timer_t, after: Duration) -> Duration {
    let value = libc::timespec { tv_sec: after.as_secs() as libc::time_t, tv_nsec: after.subsec_nanos().into() };
    let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    let spec = libc::itimerspec { it_interval: zero, it_value: value };
    let mut old = libc::itimerspec { it_interval: zero, it_value: zero };
    // SAFETY: `timer` is this thread's live timer; timer_settime fails only for a bad timer or value.
    unsafe { libc::timer_settime(timer, 0, &spec, &mut old) };
    Duration::new(old.it_value.tv_sec.max(0) as u64, old.it_value.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// A POSIX timer on the CPU clock of the thread that made it, signalling that thread.
struct ThreadTimer(Option<libc::timer_t>);

impl ThreadTimer {
    fn new() -> Self {
        // SAFETY: plain system calls on zeroed, then filled, structures.
        unsafe {
            let mut event: libc::sigevent = std::mem::zeroed();
            event.sigev_notify = libc::SIGEV_THREAD_ID;
            event.sigev_signo = libc::SIGURG;
            event.sigev_notify_thread_id = libc::gettid();
            let mut timer: libc::timer_t = std::mem::zeroed();
            let made = libc::timer_create(libc::CLOCK_THREAD_CPUTIME_ID, &mut event, &mut timer) == 0;
            ThreadTimer(made.then_some(timer))
        }
    }

    fn get(&self) -> Option<libc::timer_t> {
        self.0
    }
}

impl Drop for ThreadTimer {
    fn drop(&mut self) {
        if let Some(timer) = self.0 {
            // SAFETY: the timer was made by this thread and is deleted once.
            unsafe { libc::timer_delete(timer) };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use wasmtime::{Config, Store, UpdateDeadline};

    use super::*;
    use crate::limits;

    /// This thread's CPU time.
    fn thread_cpu() -> Duration {
        let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: writes one timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
        Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
    }

    /// A store whose calls say whether the engine's epoch has advanced since its deadline was last set (each call
    /// reaches the check at its function's entry).
    struct Probe {
        store: Store<()>,
        f: wasmtime::TypedFunc<(), ()>,
        hit: Arc<AtomicBool>,
    }

    impl Probe {
        fn new(engine: &Engine) -> Self {
            let mut store = Store::new(engine, ());
            let hit = Arc::new(AtomicBool::new(false));
            let seen = hit.clone();
            store.epoch_deadline_callback(move |_| {
                seen.store(true, Ordering::SeqCst);
                Ok(UpdateDeadline::Continue(1))
            });
            let wasm = wat::parse_str(r#"(module (func (export "f")))"#).unwrap();
            let module = wasmtime::Module::new(engine, wasm).unwrap();
            let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
            let f = instance.get_typed_func::<(), ()>(&mut store, "f").unwrap();
            Probe { store, f, hit }
        }

        fn reset(&mut self) {
            self.store.set_epoch_deadline(1);
            self.hit.store(false, Ordering::SeqCst);
        }

        fn advanced(&mut self) -> bool {
            self.f.call(&mut self.store, ()).unwrap();
            self.hit.load(Ordering::SeqCst)
        }

        /// Spins on this thread's CPU for up to `limit`, until the epoch advances; the CPU it took, if it did.
        fn spin_until_advanced(&mut self, limit: Duration) -> Option<Duration> {
            let started = thread_cpu();
            while thread_cpu() - started < limit {
                if self.advanced() {
                    return Some(thread_cpu() - started);
                }
            }
            None
        }
    }

    /// A poll that runs past its budget of CPU gets the engine's epoch advanced under it; one that ends first does
    /// not, nor does a disarmed alarm. On the thread's CPU clock, so a loaded machine changes nothing; Linux looks at
    /// CPU timers at its scheduler tick, so the signal comes within a tick (10 ms at most) past the budget.
    #[test]
    fn a_long_poll_advances_the_epoch_and_a_short_one_does_not() {
        let engine = Engine::new(Config::new().epoch_interruption(true)).unwrap();
        let mut probe = Probe::new(&engine);
        probe.reset();
        let used = arm(&engine, limits::INLINE_RUN_TIME).unwrap().disarm();
        assert!(used < limits::INLINE_RUN_TIME, "a short poll used {used:?}");
        assert_eq!(probe.spin_until_advanced(Duration::from_millis(50)), None, "a disarmed alarm went off");

        probe.reset();
        let armed = arm(&engine, limits::INLINE_RUN_TIME).unwrap();
        let took = probe.spin_until_advanced(Duration::from_secs(1)).expect("the alarm advanced the epoch");
        assert!(took >= limits::INLINE_RUN_TIME, "not before its budget: {took:?}");
        assert_eq!(armed.disarm(), limits::INLINE_RUN_TIME, "the whole budget, once it went off");
    }
}
