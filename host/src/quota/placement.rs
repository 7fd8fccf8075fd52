//! Where a transaction runs: on the network thread that read its message, or on the guest threads.
//!
//! The guest threads keep busy guests away from the sockets ([`super::threads`]), but every message then crosses
//! threads: the TRANSACTION to a guest thread, each stub call to the network thread, the peer's answer back. At the
//! pace a peer sends (a few hundred transactions a second, threads asleep in between) every crossing wakes a sleeping
//! thread, and those wake-ups cost more CPU than the guest itself. So while the host is quiet — fewer transactions
//! running than half the guest threads — a transaction starts where its message was read, and its peer's answers
//! come back to that same thread.
//!
//! A guest is not trusted to be short: one that has held its CPU turn for [`limits::INLINE_RUN_TIME`] moves to the
//! guest threads at its next epoch check ([`limits::EPOCH_TICK`] later, or [`limits::EPOCH_IDLE_TICK`] on a host
//! that was idle), and its chaincode's next few transactions start there directly: [`limits::INLINE_COOLDOWN_FIRST`],
//! doubling up to [`limits::INLINE_COOLDOWN`] while its transactions keep running long, so a chaincode of long
//! transactions holds a network thread once in hundreds, and one whose transactions are short but now and then
//! slowed (preempted, a page fault) keeps its place.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use super::threads::GuestThreads;
use crate::limits;

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
}

impl InlineHistory {
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

/// A transaction running inline: what its guest's epoch checks ask, and what tells its task to move.
#[derive(Clone)]
pub struct Inline {
    moving: Arc<AtomicBool>,
    history: Arc<InlineHistory>,
    budget: Duration,
}

impl Inline {
    /// Asked at the guest's epoch checks with the CPU time it has used: whether it must move to the guest threads now
    /// (it then yields, and its task moves it).
    pub fn must_move(&self, ran: Duration) -> bool {
        if ran < self.budget || self.moving.load(Ordering::Relaxed) {
            return false;
        }
        self.moving.store(true, Ordering::Relaxed);
        self.history.moved();
        true
    }
}

/// An [`Inline`] for a transaction of a chaincode with this `history` when the host is quiet (`running`
/// transactions, this one not counted, fewer than half the guest threads; none, on two) and the chaincode's
/// transactions have been short; `None`: it starts on the guest threads.
pub fn choose(history: &Arc<InlineHistory>, running: i64, threads: &GuestThreads) -> Option<Inline> {
    // Half the guest threads: a moment's lull in a busy host (a few answers at once) must not pull transactions onto
    // the network thread while dozens of others wait to be read and answered.
    let quiet = running * 2 < threads.threads().max(2) as i64;
    if !quiet || !history.allows() {
        return None;
    }
    let moving = Arc::new(AtomicBool::new(false));
    Some(Inline { moving, history: history.clone(), budget: limits::INLINE_RUN_TIME })
}

/// Runs `transaction` on the current (network) thread until it ends or its guest must move; then on the guest
/// threads, until it ends. Dropping this ends the transaction wherever it runs.
pub async fn run<F>(transaction: F, inline: Inline, threads: &GuestThreads)
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut transaction = Box::pin(transaction);
    let must_move = std::future::poll_fn(|cx| match transaction.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(false),
        // The guest yielded at the epoch check that told it to move: it is ready to go on, wherever it is polled next.
        Poll::Pending if inline.moving.load(Ordering::Relaxed) => Poll::Ready(true),
        Poll::Pending => Poll::Pending,
    })
    .await;
    if must_move {
        let mut moved = AbortOnDrop(threads.spawn_handle(transaction));
        let _ = (&mut moved.0).await;
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
        let inline = Inline { moving: Arc::default(), history: history.clone(), budget: Duration::from_micros(100) };
        assert!(!inline.must_move(Duration::from_micros(50)), "within its budget");
        assert!(inline.must_move(Duration::from_micros(150)));
        assert!(!inline.must_move(Duration::from_micros(300)), "told once");
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
            let inline = Inline { moving: Arc::default(), history: history.clone(), budget: Duration::ZERO };
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

    #[tokio::test]
    async fn a_transaction_that_must_move_finishes_on_a_guest_thread() {
        let threads = GuestThreads::new(1, Arc::new(|| {})).unwrap();
        let history = Arc::new(InlineHistory::default());
        let inline = choose(&history, 0, &threads).expect("a quiet host runs it inline");
        assert!(choose(&history, 1, &threads).is_none(), "one running already: not quiet");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let guest = inline.clone();
        let here = std::thread::current().id();
        run(
            async move {
                let started = std::thread::current().id();
                assert!(guest.must_move(Duration::from_secs(1)));
                crate::quota::cpu::YieldOnce::new().await;
                let _ = tx.send((started, std::thread::current().id()));
            },
            inline,
            &threads,
        )
        .await;
        let (started, ended) = rx.await.unwrap();
        assert_eq!(started, here, "started inline");
        assert_ne!(ended, here, "ended on a guest thread");
    }
}
