//! CPU turns: at most one guest per guest thread ([`super::threads`]) runs at a time, and when guests wait for a turn the chaincode
//! running the fewest gets the next one.
//!
//! Without this, tokio runs ready tasks first come, first served: 64 runaway loops of one chaincode, each yielding
//! every few milliseconds, put every other chaincode's transaction behind 64 slices. With turns, a transaction
//! waits only for the chaincodes running fewer guests than its own; and a guest gives its turn back
//! - whenever it waits on the peer (a stub call), so waiting never holds a CPU;
//! - at its next epoch check once a chaincode running fewer guests than its own is waiting: arriving, such a
//!   waiter bumps the engine's epoch, so running guests check within microseconds, not at the next tick;
//! - at the end of its slice ([`limits::CPU_SLICE`]) when anyone waits, which shares the CPU among one
//!   chaincode's own transactions.
//!
//! The time a guest holds turns is also what the run-time backstop measures: a guest's fate never depends on how
//! busy the host is, only on what it does (fuel ends it first).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::limits;

/// Shared by every transaction of the host.
pub struct CpuTurns {
    state: Mutex<State>,
    /// Guests waiting for a turn, read without the lock by every epoch check.
    waiting: AtomicUsize,
    /// Makes running guests check in at once (the engine's epoch increment).
    kick: Arc<dyn Fn() + Send + Sync>,
}

#[derive(Default)]
struct State {
    /// Turns there are: the guest threads ([`super::threads`]).
    turns: usize,
    running: usize,
    chaincodes: HashMap<Arc<str>, Turns>,
    next_ticket: u64,
}

#[derive(Default)]
struct Turns {
    running: usize,
    waiting: VecDeque<(u64, oneshot::Sender<()>)>,
}

/// A transaction's claim on turns: holds at most one at a time, and gives a held turn back when the last handle
/// (the transaction's, or a pending yield's) is dropped.
#[derive(Clone)]
pub struct Turn(Arc<Claim>);

struct Claim {
    turns: Arc<CpuTurns>,
    ccid: Arc<str>,
    clock: Mutex<Clock>,
}

#[derive(Default)]
struct Clock {
    held_since: Option<Instant>,
    /// Time spent holding turns before `held_since`, for the run-time backstop.
    ran: Duration,
}

impl CpuTurns {
    /// `turns` guests may run at once; `kick` makes running guests reach their next epoch check now.
    pub fn new(turns: usize, kick: Arc<dyn Fn() + Send + Sync>) -> Arc<Self> {
        let state = Mutex::new(State { turns: turns.max(1), ..State::default() });
        Arc::new(CpuTurns { state, waiting: AtomicUsize::new(0), kick })
    }

    /// A claim for one transaction of `ccid`, holding no turn yet.
    pub fn claim(self: &Arc<Self>, ccid: &str) -> Turn {
        Turn(Arc::new(Claim { turns: self.clone(), ccid: ccid.into(), clock: Mutex::default() }))
    }

    async fn acquire(&self, ccid: &Arc<str>) {
        let (ticket, granted, kick) = {
            let mut state = self.state.lock().expect("cpu turns lock");
            let turns = state.turns;
            let nobody_waits = self.waiting.load(Ordering::Relaxed) == 0;
            if state.running < turns && nobody_waits {
                state.running += 1;
                state.chaincodes.entry(ccid.clone()).or_default().running += 1;
                return;
            }
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            let (tx, rx) = oneshot::channel();
            let entry = state.chaincodes.entry(ccid.clone()).or_default();
            entry.waiting.push_back((ticket, tx));
            let mine = entry.running;
            self.waiting.fetch_add(1, Ordering::Relaxed);
            // Kick only when some running chaincode runs more guests than this one: that one should yield now.
            let kick = state.chaincodes.values().any(|t| t.running > mine);
            (ticket, rx, kick)
        };
        if kick {
            (self.kick)();
        }
        let mut wait = Waiting { turns: self, ccid: ccid.clone(), ticket, granted: Some(granted) };
        let granted = wait.granted.as_mut().expect("set above");
        if granted.await.is_ok() {
            wait.granted = None;
        }
    }

    fn release(&self, ccid: &str) {
        let mut state = self.state.lock().expect("cpu turns lock");
        state.running -= 1;
        if let Some(t) = state.chaincodes.get_mut(ccid) {
            t.running -= 1;
        }
        forget_if_idle(&mut state, ccid);
        self.grant_next(&mut state);
    }

    /// Gives free turns to waiters, the chaincode running the fewest guests first, the earliest waiter of it first.
    fn grant_next(&self, state: &mut State) {
        while state.running < state.turns {
            let next = state
                .chaincodes
                .iter()
                .filter_map(|(k, t)| Some((k, t.running, t.waiting.front()?.0)))
                .min_by_key(|(_, running, ticket)| (*running, *ticket))
                .map(|(k, _, _)| k.clone());
            let Some(ccid) = next else { return };
            let t = state.chaincodes.get_mut(&ccid).expect("a waiting chaincode");
            let (_, grant) = t.waiting.pop_front().expect("a waiter");
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            if grant.send(()).is_ok() {
                t.running += 1;
                state.running += 1;
            }
        }
    }

    /// Whether a guest of `ccid` that has held its turn since `since` should give it back now.
    fn should_yield(&self, ccid: &str, since: Instant) -> bool {
        if self.waiting.load(Ordering::Relaxed) == 0 {
            return false;
        }
        if since.elapsed() >= limits::CPU_SLICE {
            return true;
        }
        let state = self.state.lock().expect("cpu turns lock");
        let mine = state.chaincodes.get(ccid).map_or(0, |t| t.running);
        state.chaincodes.values().any(|t| !t.waiting.is_empty() && t.running + 1 < mine)
    }

    fn leave_queue(&self, ccid: &str, ticket: u64) {
        let mut state = self.state.lock().expect("cpu turns lock");
        if let Some(t) = state.chaincodes.get_mut(ccid) {
            let before = t.waiting.len();
            t.waiting.retain(|(k, _)| *k != ticket);
            if t.waiting.len() < before {
                self.waiting.fetch_sub(1, Ordering::Relaxed);
            }
        }
        forget_if_idle(&mut state, ccid);
    }

    /// Guests running and waiting for a turn (tests and metrics).
    pub fn load(&self) -> (usize, usize) {
        let state = self.state.lock().expect("cpu turns lock");
        (state.running, self.waiting.load(Ordering::Relaxed))
    }
}

fn forget_if_idle(state: &mut State, ccid: &str) {
    if state.chaincodes.get(ccid).is_some_and(|t| t.running == 0 && t.waiting.is_empty()) {
        state.chaincodes.remove(ccid);
    }
}

/// A waiter's place in the queue; leaves it if the transaction is dropped while waiting, and gives back a turn
/// granted just as it was dropped.
struct Waiting<'a> {
    turns: &'a CpuTurns,
    ccid: Arc<str>,
    ticket: u64,
    granted: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let Some(mut granted) = self.granted.take() else { return };
        granted.close();
        if granted.try_recv().is_ok() {
            self.turns.release(&self.ccid);
        } else {
            self.turns.leave_queue(&self.ccid, self.ticket);
        }
    }
}

impl Turn {
    /// Waits for a turn (no-op when one is held).
    pub async fn resume(&self) {
        if self.clock().held_since.is_none() {
            self.0.turns.acquire(&self.0.ccid).await;
            self.clock().held_since = Some(Instant::now());
        }
    }

    /// Gives the turn back (no-op when none is held), e.g. while waiting on the peer.
    pub fn pause(&self) {
        self.0.pause();
    }

    /// Whether the guest should give its turn back at this epoch check.
    pub fn should_yield(&self) -> bool {
        let since = self.clock().held_since;
        since.is_some_and(|since| self.0.turns.should_yield(&self.0.ccid, since))
    }

    /// Gives the turn back and returns the wait for the next one, for a guest to await at an epoch check.
    pub fn yield_now(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.pause();
        let turn = self.clone();
        async move { turn.resume().await }
    }

    /// Time spent holding turns so far.
    pub fn ran(&self) -> Duration {
        let clock = self.clock();
        clock.ran + clock.held_since.map_or(Duration::ZERO, |since| since.elapsed())
    }

    fn clock(&self) -> std::sync::MutexGuard<'_, Clock> {
        self.0.clock.lock().expect("turn clock lock")
    }
}

impl Claim {
    fn pause(&self) {
        let mut clock = self.clock.lock().expect("turn clock lock");
        if let Some(since) = clock.held_since.take() {
            clock.ran += since.elapsed();
            drop(clock);
            self.turns.release(&self.ccid);
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.pause();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    fn turns() -> (Arc<CpuTurns>, Arc<AtomicU32>) {
        let kicks = Arc::new(AtomicU32::new(0));
        let k = kicks.clone();
        (
            CpuTurns::new(
                2,
                Arc::new(move || {
                    k.fetch_add(1, Ordering::Relaxed);
                }),
            ),
            kicks,
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_chaincode_running_fewest_gets_the_next_turn_and_its_waiter_kicks() {
        let (cpu, kicks) = turns();
        let a1 = cpu.claim("a");
        let a2 = cpu.claim("a");
        a1.resume().await;
        a2.resume().await;
        assert_eq!(cpu.load(), (2, 0));
        // A third of A's waits without a kick (A runs the most), then B's waiter kicks: A runs more than B.
        let a3 = tokio::spawn({
            let cpu = cpu.clone();
            async move {
                let t = cpu.claim("a");
                t.resume().await;
                t
            }
        });
        while cpu.load().1 < 1 {
            tokio::task::yield_now().await;
        }
        assert_eq!(kicks.load(Ordering::Relaxed), 0);
        let b = tokio::spawn({
            let cpu = cpu.clone();
            async move {
                let t = cpu.claim("b");
                t.resume().await;
                t
            }
        });
        while cpu.load().1 < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(kicks.load(Ordering::Relaxed), 1);
        assert!(a1.should_yield(), "A runs two guests, B none and waits");
        a1.pause();
        let b = b.await.unwrap();
        assert!(!a3.is_finished(), "B went first although A's waiter came earlier");
        a2.pause();
        let a3 = a3.await.unwrap();
        assert_eq!(cpu.load(), (2, 0));
        drop((a3, b));
        assert_eq!(cpu.load(), (0, 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiter_dropped_leaves_the_queue_and_time_held_is_counted() {
        let (cpu, _) = turns();
        let a = cpu.claim("a");
        let b = cpu.claim("b");
        a.resume().await;
        b.resume().await;
        let c = cpu.claim("c");
        assert!(tokio::time::timeout(Duration::from_millis(10), c.resume()).await.is_err());
        assert_eq!(cpu.load(), (2, 0), "the dropped wait left the queue");
        std::thread::sleep(Duration::from_millis(5));
        a.pause();
        assert!(a.ran() >= Duration::from_millis(5));
        c.resume().await;
        assert_eq!(cpu.load(), (2, 0));
    }
}
