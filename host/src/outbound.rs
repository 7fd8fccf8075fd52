//! How a transaction's messages reach its stream's writer: from a guest thread, held back and handed over together.
//!
//! Each stream's messages go through one channel, read by the stream's task on a network thread. When many
//! transactions are in flight the guest threads are the busy ones and the network thread sleeps between messages, so
//! every stub call and every answer sent from a guest thread woke it (an `eventfd` write, an inter-processor
//! interrupt and a thread switch), and it wrote one message per wake-up. A guest thread therefore holds what its
//! transactions send (from a worker's first sleep: [`park`]) and hands the messages over together:
//! - when it has nothing left to poll (it is about to park), so that a quiet host sends at once;
//! - when as many are held as a quarter of the host's live transactions, at most [`limits::HELD_MESSAGES`]: were the
//!   hold a large share of what is in flight, the peers would wait with nothing left to send (with one transaction
//!   in flight nothing is held);
//! - before a guest of another chaincode runs ([`before_guest`]): no chaincode's messages wait for another's
//!   computation;
//! - before a guest of their own chaincode runs, and at a running guest's epoch checks, once the oldest was held for
//!   [`limits::HELD_FOR`]: a chaincode's own computation delays its own messages by about that, or until the running
//!   guest's next epoch check.
//!
//! Messages sent from any other thread (a network thread running a transaction inline, the stream's own task) go at
//! once. Each transaction's messages keep their order: it sends the next only after the peer answered the last.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc::{self, OwnedPermit};
use wasmcc_proto::protos::ChaincodeMessage;

use crate::limits;
use crate::telemetry::Gauges;

/// The stream's writer has gone: the peer stream ended.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the stream to the peer is closed")]
pub struct Closed;

/// Room reserved in a stream's channel for one message of chaincode `ccid`'s.
pub struct Permit {
    permit: OwnedPermit<ChaincodeMessage>,
    ccid: Arc<str>,
}

/// Reserves room for one message of `ccid`'s on `outbound`, waiting while the channel is full.
pub async fn reserve(outbound: &mpsc::Sender<ChaincodeMessage>, ccid: &Arc<str>) -> Result<Permit, Closed> {
    let permit = outbound.clone().reserve_owned().await.map_err(|_| Closed)?;
    Ok(Permit { permit, ccid: ccid.clone() })
}

/// Sends `msg` of `ccid`'s on `outbound`: held when called on a guest thread.
pub async fn send(
    outbound: &mpsc::Sender<ChaincodeMessage>,
    ccid: &Arc<str>,
    msg: ChaincodeMessage,
) -> Result<(), Closed> {
    reserve(outbound, ccid).await?.send(msg);
    Ok(())
}

impl Permit {
    /// Sends `msg` in the reserved room; on a guest thread it is held until the thread hands over what it holds.
    pub fn send(self, msg: ChaincodeMessage) {
        let Permit { permit, ccid } = self;
        if !HELD.with_borrow(|held| held.gauges.is_some()) {
            permit.send(msg);
            return;
        }
        let full = HELD.with_borrow_mut(|held| {
            held.oldest.get_or_insert_with(Instant::now);
            match &held.ccid {
                None if held.messages.is_empty() => held.ccid = Some(ccid),
                Some(mine) if !same(mine, &ccid) => held.ccid = None,
                _ => {}
            }
            held.messages.push((permit, msg));
            let live = held.gauges.as_ref().map_or(0, |g| g.live_transactions().max(0) as usize);
            held.messages.len() >= (live / limits::HELD_SHARE).min(limits::HELD_MESSAGES)
        });
        if full {
            flush();
        }
    }
}

/// A guest thread's worker is about to sleep: hands over what it holds, and holds from now on; `gauges` count the
/// host's live transactions.
pub fn park(gauges: &Arc<Gauges>) {
    HELD.with_borrow_mut(|held| {
        if !held.gauges.as_ref().is_some_and(|g| Arc::ptr_eq(g, gauges)) {
            held.gauges = Some(gauges.clone());
        }
    });
    flush();
}

/// Whether messages sent on this thread are held.
#[cfg(test)]
pub fn holding() -> bool {
    HELD.with_borrow(|held| held.gauges.is_some())
}

/// Hands over every message the calling thread holds. (Sending only wakes the stream's task, on another runtime:
/// nothing runs here that could reach the hold meanwhile.)
pub fn flush() {
    HELD.with_borrow_mut(|held| {
        held.ccid = None;
        held.oldest = None;
        for (permit, msg) in held.messages.drain(..) {
            permit.send(msg);
        }
    });
}

/// A guest of `ccid` is about to run: hands over the calling thread's messages unless all are `ccid`'s and the
/// oldest was held for less than [`limits::HELD_FOR`].
pub fn before_guest(ccid: &str) {
    before_guest_at(ccid, Instant::now);
}

/// Hands over the calling thread's messages if the oldest was held for [`limits::HELD_FOR`] (a running guest's epoch
/// check).
pub fn flush_if_stale() {
    flush_if_stale_at(Instant::now);
}

/// `now` is read only when something is held: these run at every turn and every epoch check.
fn before_guest_at(ccid: &str, now: impl FnOnce() -> Instant) {
    let go = HELD.with_borrow(|held| match &held.ccid {
        Some(mine) => &**mine != ccid || held.stale(now),
        None => !held.messages.is_empty(),
    });
    if go {
        flush();
    }
}

fn flush_if_stale_at(now: impl FnOnce() -> Instant) {
    if HELD.with_borrow(|held| held.stale(now)) {
        flush();
    }
}

/// What a guest thread holds.
#[derive(Default)]
struct Held {
    /// Set on threads that hold messages (guest threads): the host's count of live transactions.
    gauges: Option<Arc<Gauges>>,
    messages: Vec<(OwnedPermit<ChaincodeMessage>, ChaincodeMessage)>,
    /// The one chaincode whose messages are held; `None` when none or several are.
    ccid: Option<Arc<str>>,
    /// When the oldest held message was sent.
    oldest: Option<Instant>,
}

impl Held {
    fn stale(&self, now: impl FnOnce() -> Instant) -> bool {
        self.oldest.is_some_and(|at| now().saturating_duration_since(at) >= limits::HELD_FOR)
    }
}

thread_local! {
    static HELD: RefCell<Held> = RefCell::default();
}

fn same(a: &Arc<str>, b: &Arc<str>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::TransactionGuard;

    fn message(txid: &str) -> ChaincodeMessage {
        ChaincodeMessage { txid: txid.into(), ..Default::default() }
    }

    /// Gauges that count `n` live transactions, and what keeps them counted.
    fn live(n: usize) -> (Arc<Gauges>, Vec<TransactionGuard>) {
        let gauges = Arc::new(Gauges::default());
        let guards = (0..n).map(|_| TransactionGuard::new(gauges.clone())).collect();
        (gauges, guards)
    }

    #[tokio::test]
    async fn a_thread_that_holds_sends_at_a_flush_and_others_send_at_once() {
        let (tx, mut rx) = mpsc::channel(64);
        let a: Arc<str> = "a".into();
        send(&tx, &a, message("1")).await.unwrap();
        assert_eq!(rx.try_recv().unwrap().txid, "1", "a thread that does not hold sends at once");
        std::thread::spawn(move || {
            let (gauges, _live) = live(64);
            park(&gauges);
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            rt.block_on(async {
                let before = Instant::now();
                send(&tx, &a, message("2")).await.unwrap();
                send(&tx, &a, message("3")).await.unwrap();
                assert!(rx.try_recv().is_err(), "held");
                before_guest_at("a", || before);
                assert!(rx.try_recv().is_err(), "a guest of the same chaincode does not flush");
                flush_if_stale_at(|| before);
                assert!(rx.try_recv().is_err(), "not held long yet");
                before_guest_at("b", || before);
                assert_eq!(rx.try_recv().unwrap().txid, "2", "a guest of another chaincode flushes, in order");
                assert_eq!(rx.try_recv().unwrap().txid, "3");
                send(&tx, &a, message("4")).await.unwrap();
                send(&tx, &a, message("5")).await.unwrap();
                before_guest_at("a", || Instant::now() + limits::HELD_FOR);
                assert_eq!(rx.try_recv().unwrap().txid, "4", "held too long for a guest of their own chaincode");
                assert_eq!(rx.try_recv().unwrap().txid, "5");
                send(&tx, &a, message("6")).await.unwrap();
                flush_if_stale_at(|| Instant::now() + limits::HELD_FOR);
                assert_eq!(rx.try_recv().unwrap().txid, "6", "held too long for an epoch check");
                for i in 0..limits::HELD_MESSAGES {
                    assert!(rx.try_recv().is_err(), "{i} held");
                    send(&tx, &a, message("n")).await.unwrap();
                }
                assert_eq!(rx.len(), limits::HELD_MESSAGES, "a full hold is handed over");
            });
            // With few transactions live, few are held: one in flight, none.
            let (gauges, _live) = live(1);
            park(&gauges);
            let mut rx = rx;
            while rx.try_recv().is_ok() {}
            rt.block_on(async {
                send(&tx, &a, message("alone")).await.unwrap();
                assert_eq!(rx.try_recv().unwrap().txid, "alone");
            });
        })
        .join()
        .unwrap();
    }

    #[tokio::test]
    async fn several_chaincodes_held_flush_before_any_guest() {
        let (tx, rx) = mpsc::channel(4);
        std::thread::spawn(move || {
            let (gauges, _live) = live(64);
            park(&gauges);
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            rt.block_on(async {
                send(&tx, &"a".into(), message("1")).await.unwrap();
                send(&tx, &"b".into(), message("2")).await.unwrap();
                before_guest("a");
                assert_eq!(rx.len(), 2);
                drop(rx);
                assert!(send(&tx, &"a".into(), message("3")).await.is_err(), "a closed stream says so");
            });
        })
        .join()
        .unwrap();
    }
}
