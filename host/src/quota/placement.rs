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
//! that was idle), and its chaincode's next
//! [`limits::INLINE_COOLDOWN`] transactions start there directly, so a chaincode of long transactions holds a
//! network thread once, not once per transaction.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use super::threads::GuestThreads;
use crate::limits;

/// A chaincode's record of transactions that ran long inline.
#[derive(Debug, Default)]
pub struct InlineHistory {
    /// Transactions still to start on the guest threads since the last one that had to move there.
    cooldown: AtomicU32,
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
        true
    }

    fn moved(&self) {
        self.cooldown.store(limits::INLINE_COOLDOWN, Ordering::Relaxed);
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

    #[test]
    fn a_chaincode_whose_transaction_moved_starts_the_next_ones_on_the_guest_threads() {
        let history = Arc::new(InlineHistory::default());
        assert!(history.allows());
        let inline = Inline { moving: Arc::default(), history: history.clone(), budget: Duration::from_micros(100) };
        assert!(!inline.must_move(Duration::from_micros(50)), "within its budget");
        assert!(inline.must_move(Duration::from_micros(150)));
        assert!(!inline.must_move(Duration::from_micros(300)), "told once");
        for _ in 0..limits::INLINE_COOLDOWN {
            assert!(!history.allows());
        }
        assert!(history.allows(), "short again after the cooldown");
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
