//! Where a transaction runs: on the network thread that read its message, or on the guest threads.
//!
//! The guest threads keep busy guests away from the sockets ([`super::threads`]), but every message then crosses
//! threads: the TRANSACTION to a guest thread, each stub call to the network thread, the peer's answer back. At the
//! pace a peer sends (a few hundred transactions a second, threads asleep in between) every crossing wakes a sleeping
//! thread, and those wake-ups cost more CPU than the guest itself. So while the host is quiet — fewer transactions
//! running than half the guest threads — a transaction starts where its message was read, and its peer's answers
//! come back to that same thread. For a transaction alone on its stream, transactions waiting on their peer or for
//! admission do not count as running: they take no CPU ([`running`]).
//!
//! A guest is not trusted to be short: started here it yields for fuel every [`limits::INLINE_FUEL_YIELD_INTERVAL`]
//! (the thread's other tasks run in between), and one still computing once it has held the thread for
//! [`limits::INLINE_RUN_TIME`] moves to the guest threads at such a yield. Its chaincode's next few transactions start
//! there directly: [`limits::INLINE_COOLDOWN_FIRST`], doubling up to [`limits::INLINE_COOLDOWN`] while its
//! transactions keep running long, so a chaincode of long transactions holds a network thread once in hundreds, and
//! one whose transactions are short but now and then slowed (preempted, a page fault) keeps its place.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use super::threads::GuestThreads;
use crate::limits;
use crate::telemetry::Gauges;

/// A transaction's whole run, boxed where it is made: a task and [`run`] then move a pointer, not the future, which
/// tokio's spawn and every wrapping `async` block would copy whole again (about 2 KB; the executor's own future, boxed
/// inside it, is twice that).
pub type Transaction = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A chaincode's record of transactions that ran long inline. Relaxed counters: two transactions racing on them
/// shift a cooldown by a transaction or two, which is all they decide.
#[derive(Debug, Default)]
pub struct InlineHistory {
    /// Transactions still to start on the guest threads since the last one that had to move there.
    cooldown: AtomicU32,
    /// The last cooldown's length (0 before any transaction moved).
    last: AtomicU32,
    /// Transactions started inline since the last cooldown ended.
    inline_since: AtomicU32,
    /// Transactions that had to move, since the chaincode was loaded (`/metrics`).
    moves: AtomicU64,
}

impl InlineHistory {
    /// How many of the chaincode's transactions started on a network thread and had to move to the guest threads.
    pub fn moves(&self) -> u64 {
        self.moves.load(Ordering::Relaxed)
    }

    /// Whether a transaction of this chaincode may start inline: none of its recent ones ran long.
    fn allows(&self) -> bool {
        let mut left = self.cooldown.load(Ordering::Relaxed);
        while left > 0 {
            match self.cooldown.compare_exchange_weak(left, left - 1, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return false,
                Err(now) => left = now,
            }
        }
        self.inline_since.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// A transaction had to move: the next ones start on the guest threads, twice as many as last time if it came
    /// soon after the last cooldown, else [`limits::INLINE_COOLDOWN_FIRST`].
    fn moved(&self) {
        self.moves.fetch_add(1, Ordering::Relaxed);
        let last = self.last.load(Ordering::Relaxed);
        let next = match self.inline_since.load(Ordering::Relaxed) <= last {
            true => (last * 2).clamp(limits::INLINE_COOLDOWN_FIRST, limits::INLINE_COOLDOWN),
            false => limits::INLINE_COOLDOWN_FIRST,
        };
        self.last.store(next, Ordering::Relaxed);
        self.inline_since.store(0, Ordering::Relaxed);
        self.cooldown.store(next, Ordering::Relaxed);
    }
}

/// A transaction that starts inline: how long it may hold the network thread, and its chaincode's record.
pub struct Inline {
    history: Arc<InlineHistory>,
    budget: Duration,
}

impl Inline {
    /// Whether a transaction that has held the network thread for `held` must move to the guest threads; a move is
    /// recorded in its chaincode's history.
    fn must_move(&self, held: Duration) -> bool {
        let must = held >= self.budget;
        if must {
            self.history.moved();
        }
        must
    }
}

/// The transactions that make the host busy for one placed with `others_on_stream` of its stream in flight (itself
/// not counted). One alone on its stream counts only those that may want the CPU, so that a flood parked on a silent
/// peer or queued behind its own chaincode's cap does not send a quiet chaincode's transactions across threads; one
/// with others of its stream in flight counts every live transaction, since starting some of one stream's
/// transactions inline and the rest on the guest threads costs more than either (BENCHMARKS.md, change 34).
pub fn running(gauges: &Gauges, others_on_stream: usize) -> i64 {
    match others_on_stream {
        0 => gauges.busy_transactions(),
        _ => gauges.live_transactions(),
    }
}

/// An [`Inline`] for a transaction of a chaincode with this `history` when the host is quiet (`running`
/// transactions, this one not counted, fewer than half the guest threads; none, on one or two) and the chaincode's
/// transactions have been short; `None`: it starts on the guest threads.
pub fn choose(history: &Arc<InlineHistory>, running: i64, threads: &GuestThreads) -> Option<Inline> {
    // Half the guest threads: a moment's lull in a busy host (a few answers at once) must not pull transactions onto
    // the network thread while dozens of others wait to be read and answered.
    let quiet = running * 2 < threads.threads().max(2) as i64;
    if !quiet || !history.allows() {
        return None;
    }
    Some(Inline { history: history.clone(), budget: limits::INLINE_RUN_TIME })
}

/// Runs `transaction` on the current (network) thread until it ends, or until it yields for fuel (it is computing)
/// after holding the thread for its budget, its polls added up; then on the guest threads, until it ends. Dropping
/// this ends the transaction wherever it runs.
///
/// Only a fuel yield moves it: a transaction of many stub calls holds the thread a few microseconds at a time, and
/// one slowed now and then (preempted, a page fault) is no reason to send its chaincode's next transactions across
/// threads; a guest computing reaches a fuel yield every [`limits::INLINE_FUEL_YIELD_INTERVAL`].
pub async fn run(mut transaction: Transaction, inline: Inline, threads: &GuestThreads) {
    let mut held = Duration::ZERO;
    let (noting, waker) = NotingWaker::new();
    let must_move = std::future::poll_fn(|cx| {
        noting.follow(cx.waker());
        let polled = Instant::now();
        let poll = transaction.as_mut().poll(&mut Context::from_waker(&waker));
        held += polled.elapsed();
        match poll {
            Poll::Ready(()) => Poll::Ready(false),
            // A guest that yielded goes on wherever it is polled next.
            Poll::Pending if noting.woke_during_poll() && inline.must_move(held) => Poll::Ready(true),
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    if must_move {
        let mut moved = AbortOnDrop(threads.spawn_handle(transaction));
        let _ = (&mut moved.0).await;
    }
}

/// The waker an inline transaction is polled with: it passes every wake-up on to the transaction's task, and notes one
/// that comes during a poll, which is how a guest yields for fuel (wasmtime wakes the task, then returns Pending). A
/// wait for the peer is woken later, from the stream's reader.
struct NotingWaker {
    task: Mutex<Waker>,
    woken: AtomicBool,
}

impl NotingWaker {
    /// The waker, and a handle on what it notes; it wakes nothing until [`NotingWaker::follow`] gives it a task.
    fn new() -> (Arc<NotingWaker>, Waker) {
        let noting = Arc::new(NotingWaker { task: Mutex::new(Waker::noop().clone()), woken: AtomicBool::new(false) });
        (noting.clone(), Waker::from(noting))
    }

    /// Before a poll: wake `task` from now on, and forget earlier wake-ups.
    fn follow(&self, task: &Waker) {
        let mut current = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if !current.will_wake(task) {
            *current = task.clone();
        }
        self.woken.store(false, Ordering::SeqCst);
    }

    fn woke_during_poll(&self) -> bool {
        self.woken.load(Ordering::SeqCst)
    }
}

impl Wake for NotingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.task.lock().unwrap_or_else(|e| e.into_inner()).wake_by_ref();
    }
}

/// A task that is aborted when what awaits it goes away (a session that ends takes its transactions with it).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts a transaction inline (it must be allowed) that runs past its budget.
    fn runs_long(history: &Arc<InlineHistory>) {
        assert!(history.allows(), "starts inline");
        let inline = Inline { history: history.clone(), budget: Duration::from_micros(100) };
        assert!(!inline.must_move(Duration::from_micros(50)), "within its budget");
        assert!(inline.must_move(Duration::from_micros(150)));
    }

    /// How many transactions in a row start on the guest threads.
    fn cooldown(history: &InlineHistory) -> u32 {
        let mut n = 0;
        while !history.allows() {
            n += 1;
        }
        n
    }

    #[test]
    fn a_chaincode_whose_transactions_keep_running_long_leaves_the_network_thread_for_longer_each_time() {
        let history = Arc::new(InlineHistory::default());
        let mut expected = limits::INLINE_COOLDOWN_FIRST;
        runs_long(&history);
        for _ in 0..10 {
            assert_eq!(cooldown(&history), expected);
            // `cooldown` started the next transaction inline: it runs long too.
            let inline = Inline { history: history.clone(), budget: Duration::ZERO };
            assert!(inline.must_move(Duration::from_micros(1)));
            expected = (expected * 2).min(limits::INLINE_COOLDOWN);
        }
        assert_eq!(expected, limits::INLINE_COOLDOWN, "capped");
    }

    #[test]
    fn a_rare_long_transaction_costs_its_chaincode_a_short_cooldown() {
        let history = Arc::new(InlineHistory::default());
        runs_long(&history);
        assert_eq!(cooldown(&history), limits::INLINE_COOLDOWN_FIRST);
        // Many short transactions inline, then one long one: back to the first, short, cooldown.
        for _ in 0..100 {
            assert!(history.allows());
        }
        runs_long(&history);
        assert_eq!(cooldown(&history), limits::INLINE_COOLDOWN_FIRST);
    }

    /// Runs a transaction inline that computes for `computing` between two fuel yields, `polls` times.
    async fn run_inline(computing: Duration, polls: u32) -> (std::thread::ThreadId, std::thread::ThreadId) {
        let threads = GuestThreads::new(1, Arc::new(|| {}), Arc::default()).unwrap();
        let history = Arc::new(InlineHistory::default());
        let inline = choose(&history, 0, &threads).expect("a quiet host runs it inline");
        assert!(choose(&history, 1, &threads).is_none(), "one running already: not quiet");
        let (tx, rx) = tokio::sync::oneshot::channel();
        run(
            Box::pin(async move {
                let started = std::thread::current().id();
                for _ in 0..polls {
                    let computed = Instant::now();
                    while computed.elapsed() < computing {
                        std::hint::spin_loop();
                    }
                    // Pending once, woken during the poll: as wasmtime yields a guest for fuel.
                    crate::quota::cpu::YieldOnce::new().await;
                }
                let _ = tx.send((started, std::thread::current().id()));
            }),
            inline,
            &threads,
        )
        .await;
        rx.await.unwrap()
    }

    #[tokio::test]
    async fn a_transaction_that_holds_the_network_thread_past_its_budget_finishes_on_a_guest_thread() {
        let here = std::thread::current().id();
        // Each poll alone is within the budget; together they are not.
        let (started, ended) = run_inline(limits::INLINE_RUN_TIME / 4, 8).await;
        assert_eq!(started, here, "started inline");
        assert_ne!(ended, here, "ended on a guest thread");
    }

    #[tokio::test]
    async fn a_transaction_that_waits_between_short_polls_stays_on_the_network_thread_past_its_budget() {
        let threads = GuestThreads::new(1, Arc::new(|| {}), Arc::default()).unwrap();
        let inline = choose(&Arc::new(InlineHistory::default()), 0, &threads).unwrap();
        let here = std::thread::current().id();
        let ended = tokio::spawn(async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let transaction = Box::pin(async move {
                // Each poll computes a tenth of the budget, then waits for a "peer" woken from another task.
                for _ in 0..20 {
                    let computed = Instant::now();
                    while computed.elapsed() < limits::INLINE_RUN_TIME / 10 {
                        std::hint::spin_loop();
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let _ = tx.send(std::thread::current().id());
            });
            run(transaction, inline, &threads).await;
            rx.await.unwrap()
        });
        assert_eq!(ended.await.unwrap(), here);
    }

    #[tokio::test]
    async fn a_short_transaction_stays_on_the_network_thread() {
        let here = std::thread::current().id();
        let (started, ended) = run_inline(Duration::ZERO, 3).await;
        assert_eq!((started, ended), (here, here));
    }
}
