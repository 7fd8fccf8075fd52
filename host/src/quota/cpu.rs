//! CPU turns: at most one guest per guest thread ([`super::threads`]) runs at a time, and when guests wait for a turn the chaincode
//! running the fewest gets the next one; of chaincodes running as many, the one served longest ago.
//!
//! Without this, tokio runs ready tasks first come, first served: 64 runaway loops of one chaincode, each yielding
//! every few milliseconds, put every other chaincode's transaction behind 64 slices. With turns, a transaction
//! waits only for the chaincodes running fewer guests than its own; and a guest gives its turn back
//! - whenever it waits on the peer (a stub call), so waiting never holds a CPU;
//! - at its next epoch check once a chaincode running two fewer guests than its own is waiting, or one running none
//!   that gave no turn back within the last slice (it wants a moment, not a share): arriving, such a waiter bumps
//!   the engine's epoch, so running guests check within microseconds, not at the next tick. One fewer is not
//!   enough in general: two busy chaincodes would hand one turn back and forth at every check; one that gave a turn
//!   back within the slice is such a busy one. Without the second case, with one turn (one guest thread) a quiet
//!   chaincode's transaction waited up to a slice behind a runaway neighbour at each of its turns;
//! - at the end of its slice ([`limits::CPU_SLICE`]) when anyone waits, which shares the CPU among busy
//!   chaincodes, and among one chaincode's own transactions.
//!
//! A guest that steps aside so that its thread can poll the tasks it was woken for (a new transaction, a peer's
//! answer: [`super::threads`]) lends its turn meanwhile: a transaction of a chaincode running fewer guests that asks
//! for a turn on that thread takes it at once. Without the loan it queued for a turn and waited for a second guest, on
//! the other thread, to reach an epoch check: two waits instead of one, each up to the longest stretch a guest runs
//! without a check (tens of microseconds since fills and copies are sliced at upload, `validate/slices.rs`).
//!
//! The time a guest holds turns is also what the run-time backstop measures: a guest's fate never depends on how
//! busy the host is, only on what it does (fuel ends it first).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::limits;
use crate::telemetry::Gauges;

/// Shared by every transaction of the host.
pub struct CpuTurns {
    state: Mutex<State>,
    /// Where the count of guests waiting for a turn is kept, read without the lock by every epoch check and by the
    /// epoch ticker.
    gauges: Arc<Gauges>,
    /// Makes running guests check in at once (the engine's epoch increment).
    kick: Arc<dyn Fn() + Send + Sync>,
    /// Makes the epoch tick every millisecond while guests wait for turns: a waiting guest's turn comes at running
    /// guests' epoch checks, at the end of their slices, and a ticker that saw nobody waiting may be tens of
    /// milliseconds from its next look.
    tick: Arc<dyn Fn() + Send + Sync>,
}

#[derive(Default)]
struct State {
    /// Turns there are: the guest threads ([`super::threads`]).
    turns: usize,
    running: usize,
    chaincodes: super::ByChaincode<Turns>,
    next_ticket: u64,
    /// Turns given so far: the clock of [`Turns::last_turn`].
    turns_given: u64,
    /// Turns lent by guests stepping aside (counted in `running`, not in their chaincode's): loan id and lender.
    lent: Vec<(u64, Arc<str>)>,
}

#[derive(Default)]
struct Turns {
    running: usize,
    waiting: VecDeque<(u64, oneshot::Sender<()>)>,
    /// When the chaincode was last given a turn ([`State::turns_given`]; 0: not since it was last idle). Between
    /// chaincodes running as many guests, the one served longest ago goes first. Waiting longest is no measure:
    /// with one turn every chaincode runs none at the moment a turn is given back, and the earliest waiters were
    /// then a flooding chaincode's dozens, queued before a quiet chaincode's one, which waited a slice for each.
    last_turn: u64,
    /// When a guest of the chaincode last gave a turn back or lent it (forgotten with the chaincode when it is idle).
    gave_back: Option<Instant>,
}

impl Turns {
    /// One more guest of the chaincode runs, on the turn `turns_given` counts next.
    fn give(&mut self, turns_given: &mut u64) {
        *turns_given += 1;
        self.running += 1;
        self.last_turn = *turns_given;
    }

    /// A guest of the chaincode gives its turn back (or lends it) `now`.
    fn give_back(&mut self, now: Instant) {
        self.running -= 1;
        self.gave_back = Some(now);
    }

    /// Whether the chaincode waits for a moment of CPU rather than a share of it: it runs no guest, and none of its
    /// guests gave a turn back within the last slice. Such a waiter need not wait for a busy chaincode's slice to end
    /// (with one turn, a quiet chaincode's transaction would otherwise wait up to a slice at each of its turns).
    fn wants_a_moment(&self, now: Instant) -> bool {
        self.running == 0 && self.gave_back.is_none_or(|at| now.duration_since(at) >= limits::CPU_SLICE)
    }
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
    /// The loan of this claim's turn while its guest steps aside.
    lent: Option<u64>,
    /// Time spent holding turns before `held_since`, for the run-time backstop.
    ran: Duration,
}

impl CpuTurns {
    /// `turns` guests may run at once; `kick` makes running guests reach their next epoch check now, `tick` makes the
    /// epoch tick every millisecond while guests wait for turns; `gauges` keep the count of those waiting.
    pub fn new(
        turns: usize,
        kick: Arc<dyn Fn() + Send + Sync>,
        tick: Arc<dyn Fn() + Send + Sync>,
        gauges: Arc<Gauges>,
    ) -> Arc<Self> {
        let state = Mutex::new(State { turns: turns.max(1), ..State::default() });
        Arc::new(CpuTurns { state, gauges, kick, tick })
    }

    /// A claim for one transaction of `ccid`, holding no turn yet.
    pub fn claim(self: &Arc<Self>, ccid: impl Into<Arc<str>>) -> Turn {
        Turn(Arc::new(Claim { turns: self.clone(), ccid: ccid.into(), clock: Mutex::default() }))
    }

    async fn acquire(&self, ccid: &Arc<str>) {
        let (ticket, granted, kick) = {
            let mut guard = self.state.lock().expect("cpu turns lock");
            let state = &mut *guard;
            let turns = state.turns;
            let nobody_waits = self.gauges.turn_waiters() == 0;
            if state.running < turns && nobody_waits {
                state.running += 1;
                state.chaincodes.entry(ccid.clone()).or_default().give(&mut state.turns_given);
                return;
            }
            if take_loan(state, ccid) {
                return;
            }
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            let (tx, rx) = oneshot::channel();
            let entry = state.chaincodes.entry(ccid.clone()).or_default();
            entry.waiting.push_back((ticket, tx));
            let mine = entry.running;
            self.gauges.turn_waiter_came();
            // Kick only when some running chaincode runs more guests than this one: that one should yield now.
            let kick = state.chaincodes.values().any(|t| t.running > mine);
            (ticket, rx, kick)
        };
        (self.tick)();
        if kick {
            (self.kick)();
        }
        let mut wait = Waiting { turns: self, ccid: ccid.clone(), ticket, granted: Some(granted) };
        let granted = wait.granted.as_mut().expect("set above");
        if granted.await.is_ok() {
            wait.granted = None;
        }
    }

    /// Gives back a turn of `ccid`'s, given up at `at`.
    fn release(&self, ccid: &str, at: Instant) {
        let mut state = self.state.lock().expect("cpu turns lock");
        state.running -= 1;
        if let Some(t) = state.chaincodes.get_mut(ccid) {
            t.give_back(at);
        }
        forget_if_idle(&mut state, ccid);
        self.grant_next(&mut state);
    }

    /// Lends the turn `ccid`'s guest holds while it steps aside, from `at`; the loan's id.
    fn lend(&self, ccid: &Arc<str>, at: Instant) -> u64 {
        let mut state = self.state.lock().expect("cpu turns lock");
        let id = state.next_ticket;
        state.next_ticket += 1;
        if let Some(t) = state.chaincodes.get_mut(ccid) {
            t.give_back(at);
        }
        forget_if_idle(&mut state, ccid);
        state.lent.push((id, ccid.clone()));
        id
    }

    /// Takes back the loan `id` unless a borrower took it; whether it did.
    fn reclaim(&self, ccid: &Arc<str>, id: u64) -> bool {
        let mut state = self.state.lock().expect("cpu turns lock");
        let Some(at) = state.lent.iter().position(|(k, _)| *k == id) else { return false };
        state.lent.swap_remove(at);
        state.chaincodes.entry(ccid.clone()).or_default().running += 1;
        true
    }

    /// Ends the loan `id` of a transaction that went away while stepping aside: its turn is free.
    fn cancel_loan(&self, id: u64) {
        let mut state = self.state.lock().expect("cpu turns lock");
        if let Some(at) = state.lent.iter().position(|(k, _)| *k == id) {
            state.lent.swap_remove(at);
            state.running -= 1;
            self.grant_next(&mut state);
        }
    }

    /// Gives free turns to waiters: the chaincode running the fewest guests first, of those the one served longest
    /// ago, and its earliest waiter.
    fn grant_next(&self, state: &mut State) {
        while state.running < state.turns {
            let next = state
                .chaincodes
                .iter()
                .filter_map(|(k, t)| Some((k, t.running, t.last_turn, t.waiting.front()?.0)))
                .min_by_key(|(_, running, last_turn, ticket)| (*running, *last_turn, *ticket))
                .map(|(k, ..)| k.clone());
            let Some(ccid) = next else { return };
            let t = state.chaincodes.get_mut(&ccid).expect("a waiting chaincode");
            let (_, grant) = t.waiting.pop_front().expect("a waiter");
            self.gauges.turn_waiter_left();
            if grant.send(()).is_ok() {
                state.running += 1;
                t.give(&mut state.turns_given);
            }
        }
    }

    /// Whether a guest of `ccid` that has held its turn since `since` should give it back now.
    fn should_yield(&self, ccid: &str, since: Instant) -> bool {
        if self.gauges.turn_waiters() == 0 {
            return false;
        }
        if since.elapsed() >= limits::CPU_SLICE {
            return true;
        }
        let state = self.state.lock().expect("cpu turns lock");
        let mine = state.chaincodes.get(ccid).map_or(0, |t| t.running);
        let now = Instant::now();
        state
            .chaincodes
            .values()
            .any(|t| !t.waiting.is_empty() && t.running < mine && (t.running + 1 < mine || t.wants_a_moment(now)))
    }

    fn leave_queue(&self, ccid: &str, ticket: u64) {
        let mut state = self.state.lock().expect("cpu turns lock");
        if let Some(t) = state.chaincodes.get_mut(ccid) {
            let before = t.waiting.len();
            t.waiting.retain(|(k, _)| *k != ticket);
            if t.waiting.len() < before {
                self.gauges.turn_waiter_left();
            }
        }
        forget_if_idle(&mut state, ccid);
    }

    /// Guests running and waiting for a turn (tests and metrics).
    pub fn load(&self) -> (usize, usize) {
        let state = self.state.lock().expect("cpu turns lock");
        (state.running, self.gauges.turn_waiters())
    }
}

/// Takes a turn lent by another chaincode that runs at least as many guests as `ccid` without it: with its loan
/// it would run more.
fn take_loan(state: &mut State, ccid: &Arc<str>) -> bool {
    let running = |state: &State, k: &str| state.chaincodes.get(k).map_or(0, |t| t.running);
    let mine = running(state, ccid);
    let Some(at) = state.lent.iter().position(|(_, lender)| lender != ccid && running(state, lender) >= mine) else {
        return false;
    };
    state.lent.swap_remove(at);
    state.chaincodes.entry(ccid.clone()).or_default().give(&mut state.turns_given);
    true
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
            self.turns.release(&self.ccid, Instant::now());
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
            self.runs();
        }
    }

    /// The chaincode the turns are for.
    pub fn ccid(&self) -> &Arc<str> {
        &self.0.ccid
    }

    /// The guest is about to run on its turn: what its thread holds of other chaincodes' messages goes first.
    fn runs(&self) {
        crate::outbound::before_guest(&self.0.ccid);
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

    /// Lends the turn while the guest's thread polls the tasks it was woken for, and returns the wait to take it
    /// back (or, if a less served chaincode's transaction took it, for the next turn): for a guest to await at an
    /// epoch check. Without a turn held it only yields.
    pub fn step_aside(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let loan = {
            let mut clock = self.clock();
            clock.stop().map(|at| {
                let id = self.0.turns.lend(&self.0.ccid, at);
                clock.lent = Some(id);
                id
            })
        };
        let turn = self.clone();
        async move {
            YieldOnce::new().await;
            let Some(id) = loan else { return };
            let kept = turn.0.turns.reclaim(&turn.0.ccid, id);
            {
                let mut clock = turn.clock();
                clock.lent = None;
                if kept {
                    clock.held_since = Some(Instant::now());
                }
            }
            match kept {
                true => turn.runs(),
                false => turn.resume().await,
            }
        }
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

/// Pending once, woken at once: back of the thread's queue, behind the tasks it has to poll. (Tokio's `yield_now`
/// wakes a yielded task only when its thread runs out of other work, which under load took tens of milliseconds,
/// with the turn lent all along.)
pub(super) struct YieldOnce(bool);

impl YieldOnce {
    pub(super) fn new() -> YieldOnce {
        YieldOnce(false)
    }
}

impl std::future::Future for YieldOnce {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl Clock {
    /// Stops counting a held turn's time; when, if one was held.
    fn stop(&mut self) -> Option<Instant> {
        let since = self.held_since.take()?;
        let now = Instant::now();
        self.ran += now.duration_since(since);
        Some(now)
    }
}

impl Claim {
    fn pause(&self) {
        let stopped = self.clock.lock().expect("turn clock lock").stop();
        if let Some(at) = stopped {
            self.turns.release(&self.ccid, at);
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.pause();
        if let Some(id) = self.clock.get_mut().map(|c| c.lent.take()).unwrap_or_default() {
            self.turns.cancel_loan(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn turns() -> (Arc<CpuTurns>, Arc<AtomicU32>) {
        let kicks = Arc::new(AtomicU32::new(0));
        let k = kicks.clone();
        (
            CpuTurns::new(
                2,
                Arc::new(move || {
                    k.fetch_add(1, Ordering::Relaxed);
                }),
                Arc::new(|| {}),
                Arc::default(),
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
        // The kick follows the queueing, outside the lock.
        while cpu.load().1 < 2 || kicks.load(Ordering::Relaxed) == 0 {
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
    async fn with_one_turn_a_quiet_chaincode_goes_before_a_flooding_ones_earlier_waiters() {
        let cpu = CpuTurns::new(1, Arc::new(|| {}), Arc::new(|| {}), Arc::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        // Each waiter notes when it gets the turn, and gives it back as it ends.
        let wait = |ccid: &'static str| {
            let (cpu, order) = (cpu.clone(), order.clone());
            tokio::spawn(async move {
                let turn = cpu.claim(ccid);
                turn.resume().await;
                order.lock().unwrap().push(ccid);
            })
        };
        let a = cpu.claim("a");
        a.resume().await;
        let mut waiters: Vec<_> = (0..3).map(|_| wait("a")).collect();
        while cpu.load().1 < 3 {
            tokio::task::yield_now().await;
        }
        waiters.push(wait("b"));
        while cpu.load().1 < 4 {
            tokio::task::yield_now().await;
        }
        // A's guest ends its slice: with one turn both chaincodes then run none, and B, never served, goes first.
        a.pause();
        for waiter in waiters {
            waiter.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["b", "a", "a", "a"]);
        assert_eq!(cpu.load(), (0, 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_one_turn_a_chaincode_wanting_a_moment_gets_it_before_the_busy_ones_slice_ends() {
        let cpu = CpuTurns::new(1, Arc::new(|| {}), Arc::new(|| {}), Arc::default());
        let wait = |ccid: &'static str| {
            let cpu = cpu.clone();
            tokio::spawn(async move {
                let turn = cpu.claim(ccid);
                turn.resume().await;
                turn
            })
        };
        let a = cpu.claim("a");
        a.resume().await;
        let a2 = wait("a");
        while cpu.load().1 < 1 {
            tokio::task::yield_now().await;
        }
        let b = wait("b");
        while cpu.load().1 < 2 {
            tokio::task::yield_now().await;
        }
        // B runs none and gave no turn back: A's guest gives the turn up at once, not at its slice's end.
        assert!(a.should_yield());
        a.pause();
        let b = b.await.unwrap();
        assert!(!a2.is_finished(), "B went first");
        drop(b);
        drop((a2.await.unwrap(), a));
        assert_eq!(cpu.load(), (0, 0));
    }

    #[test]
    fn a_chaincode_that_gave_a_turn_back_within_the_slice_wants_a_share_not_a_moment() {
        let at = Instant::now();
        let quiet = Turns::default();
        assert!(quiet.wants_a_moment(at), "never served");
        let busy = Turns { gave_back: Some(at), ..Turns::default() };
        assert!(
            !busy.wants_a_moment(at + limits::CPU_SLICE / 2),
            "two busy chaincodes would swap the turn at every check"
        );
        assert!(busy.wants_a_moment(at + limits::CPU_SLICE));
        let running = Turns { running: 1, ..Turns::default() };
        assert!(!running.wants_a_moment(at), "it runs a guest already");
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

    #[test]
    fn messages_a_thread_holds_go_out_before_another_chaincodes_guest_runs() {
        let (cpu, _) = turns();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let gauges: Arc<Gauges> = Arc::default();
        let _live: Vec<_> = (0..64).map(|_| crate::telemetry::TransactionGuard::new(gauges.clone())).collect();
        std::thread::spawn(move || {
            crate::outbound::park(&gauges);
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            rt.block_on(async {
                // (Whether a guest of the messages' own chaincode sends them depends on how long they were held:
                // `outbound`'s tests.)
                crate::outbound::send(&tx, &"b".into(), Default::default()).await.unwrap();
                assert!(rx.try_recv().is_err(), "held");
                cpu.claim("a").resume().await;
                assert!(rx.try_recv().is_ok(), "sent before a guest of another chaincode runs");
            });
        })
        .join()
        .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_turn_lent_while_stepping_aside_goes_to_a_less_served_chaincode_and_the_lender_waits() {
        let (cpu, _) = turns();
        let a1 = cpu.claim("a");
        let a2 = cpu.claim("a");
        a1.resume().await;
        a2.resume().await;
        // A guest of A steps aside: a transaction of B takes the lent turn without queueing or waiting for A.
        let back = a1.step_aside();
        let b = cpu.claim("b");
        tokio::time::timeout(Duration::from_secs(5), b.resume()).await.expect("the loan was taken at once");
        assert_eq!(cpu.load(), (2, 0));
        let lender = tokio::spawn(back);
        while cpu.load().1 == 0 {
            tokio::task::yield_now().await;
        }
        assert!(!lender.is_finished(), "A's guest queues for a turn again");
        drop(b);
        lender.await.unwrap();
        // A loan nobody took is taken back; one of the lender's own chaincode is not taken.
        let back = a1.step_aside();
        let a3 = cpu.claim("a");
        assert!(tokio::time::timeout(Duration::from_millis(10), a3.resume()).await.is_err());
        back.await;
        assert_eq!(cpu.load(), (2, 0));
        // A transaction that goes away while its turn is lent frees the turn.
        let back = a1.step_aside();
        drop(back);
        drop(a1);
        a3.resume().await;
        assert_eq!(cpu.load(), (2, 0));
    }
}
