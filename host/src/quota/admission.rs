//! Admission: a transaction runs only once it holds an instance slot of the pool and a share of the host's guest
//! memory budget, within its chaincode's concurrency cap.
//!
//! Every slot and byte is shared by all chaincodes, so the rules are about fairness:
//! - A chaincode never runs more than its cap of transactions at once; more wait in its own bounded queue.
//! - While another chaincode waits, a chaincode already holding its fair share (the budget divided among the busy
//!   chaincodes) gets nothing more; freed capacity goes first to the waiting chaincode that holds the least. A busy
//!   chaincode can therefore delay a newcomer only until its transactions end, which the execute timeout bounds.
//! - A transaction waits at most `wait`; past it, or when its chaincode's queue is full, it gets an error that names
//!   the chaincode and the limit.
//!
//! A transaction reserves its whole memory limit, not what it happens to use: once admitted, nothing another tenant
//! does can make it fail, so endorsing peers' hosts agree on its result whatever their load.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

/// What a transaction of one chaincode asks for, from its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demand {
    /// Guest memory the transaction may use (its memory limit).
    pub memory_bytes: u64,
    /// The chaincode's cap of concurrent transactions.
    pub concurrency: u32,
    /// The chaincode's cap of waiting transactions.
    pub queue: u32,
}

/// Why a transaction was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("chaincode {ccid} has {running} transactions running (its limit) and {queued} waiting (its queue limit): try again later")]
    QueueFull { ccid: String, running: u32, queued: u32 },
    #[error("chaincode {ccid} waited {} ms for room to run ({running} of its transactions running, limit {concurrency}; host instances {instances_used}/{instances}, guest memory {memory_used_mb}/{memory_mb} MiB)", .waited.as_millis())]
    WaitedTooLong {
        ccid: String,
        waited: Duration,
        running: u32,
        concurrency: u32,
        instances_used: u32,
        instances: u32,
        memory_used_mb: u64,
        memory_mb: u64,
    },
    #[error("chaincode {ccid} may use {need_mb} MiB of guest memory per transaction, more than the host's whole budget of {budget_mb} MiB")]
    NeverFits { ccid: String, need_mb: u64, budget_mb: u64 },
}

/// The host-wide bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub instances: u32,
    pub memory_bytes: u64,
    pub wait: Duration,
}

/// Shared by every transaction of the host.
pub struct Admission {
    capacity: Capacity,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    instances: u32,
    memory: u64,
    chaincodes: super::ByChaincode<Usage>,
    next_ticket: u64,
}

#[derive(Default)]
struct Usage {
    running: u32,
    memory: u64,
    waiting: VecDeque<Waiter>,
}

struct Waiter {
    ticket: u64,
    demand: Demand,
    grant: oneshot::Sender<Admitted>,
}

/// A transaction [`Admission::enter`] let in: admitted, or in its chaincode's queue (which it leaves if dropped).
pub enum Ticket {
    Admitted(Admitted),
    Queued { place: InQueue, demand: Demand, granted: oneshot::Receiver<Admitted> },
}

impl Ticket {
    /// Waits, at most the host's admission wait, for the transaction to be admitted.
    pub async fn admitted(self) -> Result<Admitted, Refused> {
        let (place, demand, mut granted) = match self {
            Ticket::Admitted(admitted) => return Ok(admitted),
            Ticket::Queued { place, demand, granted } => (place, demand, granted),
        };
        let waited = tokio::time::timeout(place.admission.capacity.wait, &mut granted).await;
        match waited {
            Ok(Ok(admitted)) => Ok(admitted),
            // A grant may have raced the timeout.
            _ => granted.try_recv().map_err(|_| place.admission.waited_too_long(&place.ccid, demand)),
        }
    }
}

/// A waiting transaction's place in its chaincode's queue.
pub struct InQueue {
    admission: Arc<Admission>,
    ccid: Arc<str>,
    ticket: u64,
}

impl Drop for InQueue {
    fn drop(&mut self) {
        self.admission.leave_queue(&self.ccid, self.ticket);
    }
}

/// Held for as long as the transaction runs; gives its capacity back when dropped.
pub struct Admitted {
    admission: Arc<Admission>,
    ccid: Arc<str>,
    memory: u64,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.admission.release(&self.ccid, self.memory);
    }
}

impl Admission {
    pub fn new(capacity: Capacity) -> Arc<Self> {
        Arc::new(Admission { capacity, state: Mutex::default() })
    }

    pub fn capacity(&self) -> Capacity {
        self.capacity
    }

    /// Waits for room to run a transaction of `ccid`, within the rules of the module docs.
    pub async fn admit(self: &Arc<Self>, ccid: &str, demand: Demand) -> Result<Admitted, Refused> {
        self.enter(ccid, demand)?.admitted().await
    }

    /// The synchronous half of [`Admission::admit`]: admits at once, queues, or refuses at once (the queue is full,
    /// or the demand never fits). The session calls it as a message arrives, so a flood of transactions its
    /// chaincode has no room for is refused where it is read, without a task per refusal.
    pub fn enter(self: &Arc<Self>, ccid: &str, demand: Demand) -> Result<Ticket, Refused> {
        if demand.memory_bytes > self.capacity.memory_bytes {
            return Err(Refused::NeverFits {
                ccid: ccid.into(),
                need_mb: demand.memory_bytes >> 20,
                budget_mb: self.capacity.memory_bytes >> 20,
            });
        }
        let mut state = self.state.lock().expect("admission lock");
        let key: Arc<str> = state.chaincodes.get_key_value(ccid).map(|(k, _)| k.clone()).unwrap_or_else(|| ccid.into());
        if state.can_start_now(&key, demand, &self.capacity) {
            return Ok(Ticket::Admitted(state.start(self, key, demand)));
        }
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        let usage = state.chaincodes.entry(key.clone()).or_default();
        if usage.waiting.len() >= demand.queue as usize {
            let (running, queued) = (usage.running, usage.waiting.len() as u32);
            state.forget_if_idle(&key);
            return Err(Refused::QueueFull { ccid: ccid.into(), running, queued });
        }
        let (grant, granted) = oneshot::channel();
        usage.waiting.push_back(Waiter { ticket, demand, grant });
        let place = InQueue { admission: self.clone(), ccid: key, ticket };
        Ok(Ticket::Queued { place, demand, granted })
    }

    fn waited_too_long(&self, ccid: &str, demand: Demand) -> Refused {
        let state = self.state.lock().expect("admission lock");
        Refused::WaitedTooLong {
            ccid: ccid.into(),
            waited: self.capacity.wait,
            running: state.chaincodes.get(ccid).map_or(0, |u| u.running),
            concurrency: demand.concurrency,
            instances_used: state.instances,
            instances: self.capacity.instances,
            memory_used_mb: state.memory >> 20,
            memory_mb: self.capacity.memory_bytes >> 20,
        }
    }

    fn leave_queue(&self, ccid: &str, ticket: u64) {
        let mut state = self.state.lock().expect("admission lock");
        if let Some(usage) = state.chaincodes.get_mut(ccid) {
            usage.waiting.retain(|w| w.ticket != ticket);
        }
        state.forget_if_idle(ccid);
    }

    fn release(self: &Arc<Self>, ccid: &str, memory: u64) {
        let mut grants = Vec::new();
        {
            let mut state = self.state.lock().expect("admission lock");
            state.instances -= 1;
            state.memory -= memory;
            if let Some(usage) = state.chaincodes.get_mut(ccid) {
                usage.running -= 1;
                usage.memory -= memory;
            }
            state.forget_if_idle(ccid);
            state.grant_waiters(self, &mut grants);
        }
        // Sent outside the lock: a grant whose waiter is gone comes back and is dropped, which releases again.
        for (grant, admitted) in grants {
            let _ = grant.send(admitted);
        }
    }

    /// Transactions running and waiting for `ccid` (for metrics and tests).
    pub fn usage(&self, ccid: &str) -> (u32, u32) {
        let state = self.state.lock().expect("admission lock");
        state.chaincodes.get(ccid).map(|u| (u.running, u.waiting.len() as u32)).unwrap_or_default()
    }

    /// Instances and guest memory held right now, host-wide.
    pub fn in_use(&self) -> (u32, u64) {
        let state = self.state.lock().expect("admission lock");
        (state.instances, state.memory)
    }
}

impl State {
    fn fits(&self, usage: Option<&Usage>, demand: Demand, capacity: &Capacity) -> bool {
        let running = usage.map_or(0, |u| u.running);
        self.instances < capacity.instances
            && self.memory + demand.memory_bytes <= capacity.memory_bytes
            && running < demand.concurrency
    }

    /// Chaincodes running or waiting.
    fn busy(&self) -> u64 {
        self.chaincodes.values().filter(|u| u.running > 0 || !u.waiting.is_empty()).count() as u64
    }

    /// Whether a chaincode holding `usage` (plus `demand`) stays within its fair share of the instances and memory.
    fn within_share(&self, usage: Option<&Usage>, demand: Demand, capacity: &Capacity, busy: u64) -> bool {
        let busy = busy.max(1);
        let (running, memory) = usage.map_or((0, 0), |u| (u.running, u.memory));
        u64::from(running) < u64::from(capacity.instances) / busy
            && memory + demand.memory_bytes <= capacity.memory_bytes / busy
    }

    /// A transaction starts at once when it fits, nobody of its chaincode is ahead of it, and — when other
    /// chaincodes wait — its chaincode is within its fair share.
    fn can_start_now(&self, ccid: &str, demand: Demand, capacity: &Capacity) -> bool {
        let usage = self.chaincodes.get(ccid);
        if usage.is_some_and(|u| !u.waiting.is_empty()) || !self.fits(usage, demand, capacity) {
            return false;
        }
        let others_wait = self.chaincodes.iter().any(|(k, u)| &**k != ccid && !u.waiting.is_empty());
        let busy = self.busy() + u64::from(usage.is_none_or(|u| u.running == 0));
        !others_wait || self.within_share(usage, demand, capacity, busy)
    }

    fn start(&mut self, admission: &Arc<Admission>, ccid: Arc<str>, demand: Demand) -> Admitted {
        self.instances += 1;
        self.memory += demand.memory_bytes;
        let usage = self.chaincodes.entry(ccid.clone()).or_default();
        usage.running += 1;
        usage.memory += demand.memory_bytes;
        Admitted { admission: admission.clone(), ccid, memory: demand.memory_bytes }
    }

    /// Hands freed capacity to waiters: each round, the waiting chaincode that holds the least memory goes first.
    fn grant_waiters(&mut self, admission: &Arc<Admission>, grants: &mut Vec<(oneshot::Sender<Admitted>, Admitted)>) {
        loop {
            let capacity = admission.capacity;
            let next = self
                .chaincodes
                .iter()
                .filter_map(|(k, u)| Some((k, u, u.waiting.front()?)))
                .filter(|(_, u, w)| self.fits(Some(u), w.demand, &capacity))
                .min_by_key(|(_, u, w)| (u.memory, w.ticket))
                .map(|(k, _, _)| k.clone());
            let Some(ccid) = next else { return };
            let waiter = self.chaincodes.get_mut(&ccid).and_then(|u| u.waiting.pop_front()).expect("a waiter");
            if waiter.grant.is_closed() {
                continue;
            }
            let admitted = self.start(admission, ccid, waiter.demand);
            grants.push((waiter.grant, admitted));
        }
    }

    fn forget_if_idle(&mut self, ccid: &str) {
        if self.chaincodes.get(ccid).is_some_and(|u| u.running == 0 && u.waiting.is_empty()) {
            self.chaincodes.remove(ccid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn admission(instances: u32, memory_mb: u64) -> Arc<Admission> {
        Admission::new(Capacity { instances, memory_bytes: memory_mb * MIB, wait: Duration::from_secs(60) })
    }

    fn demand(memory_mb: u64, concurrency: u32) -> Demand {
        Demand { memory_bytes: memory_mb * MIB, concurrency, queue: 100 }
    }

    /// Whether the future would finish at once.
    async fn now<F: std::future::Future>(f: F) -> Option<F::Output> {
        tokio::time::timeout(Duration::from_millis(0), f).await.ok()
    }

    #[tokio::test]
    async fn a_chaincode_never_runs_more_than_its_cap_and_waits_in_order() {
        let a = admission(100, 1000);
        let held: Vec<_> = futures::future::join_all((0..2).map(|_| a.admit("a", demand(1, 2)))).await;
        assert!(held.iter().all(Result::is_ok));
        let waiting = tokio::spawn({
            let a = a.clone();
            async move { a.admit("a", demand(1, 2)).await }
        });
        tokio::task::yield_now().await;
        assert_eq!(a.usage("a"), (2, 1));
        drop(held);
        let third = waiting.await.unwrap().unwrap();
        assert_eq!(a.usage("a"), (1, 0));
        drop(third);
        assert_eq!(a.in_use(), (0, 0));
    }

    #[tokio::test]
    async fn a_full_queue_and_a_long_wait_are_refused_with_the_chaincode_and_limit() {
        let a = Admission::new(Capacity { instances: 10, memory_bytes: 100 * MIB, wait: Duration::from_millis(20) });
        let d = Demand { memory_bytes: MIB, concurrency: 1, queue: 1 };
        let _running = a.admit("a", d).await.unwrap();
        let queued = tokio::spawn({
            let a = a.clone();
            async move { a.admit("a", d).await }
        });
        tokio::task::yield_now().await;
        let full = a.admit("a", d).await.err().unwrap();
        assert!(matches!(full, Refused::QueueFull { running: 1, queued: 1, .. }), "{full}");
        let waited = queued.await.unwrap().err().unwrap();
        assert!(waited.to_string().contains("chaincode a waited 20 ms"), "{waited}");
        assert_eq!(a.usage("a"), (1, 0), "the waiter left the queue");
    }

    #[tokio::test]
    async fn one_chaincode_cannot_take_the_pool_from_another() {
        // The pool is full with A's transactions; B waits, and each slot A frees goes to B until B has its share.
        let a = admission(4, 1000);
        let mut held_a = Vec::new();
        for _ in 0..4 {
            held_a.push(a.admit("a", demand(1, 100)).await.unwrap());
        }
        let b1 = tokio::spawn({
            let a = a.clone();
            async move { a.admit("b", demand(1, 100)).await }
        });
        tokio::task::yield_now().await;
        assert!(now(a.admit("a", demand(1, 100))).await.is_none(), "A queues behind B");
        held_a.pop();
        let b1 = b1.await.unwrap().unwrap();
        assert_eq!(a.usage("b"), (1, 0));
        held_a.pop();
        // Two busy chaincodes: B is below its share (2 of 4) and starts at once.
        let b2 = now(a.admit("b", demand(1, 100))).await.expect("B under its share starts at once").unwrap();
        drop((b1, b2, held_a));
        assert_eq!(a.in_use(), (0, 0));
    }

    #[tokio::test]
    async fn memory_is_reserved_whole_and_never_overcommitted() {
        let a = admission(100, 100);
        let big = a.admit("a", demand(64, 10)).await.unwrap();
        assert!(now(a.admit("b", demand(64, 10))).await.is_none(), "64 + 64 MiB would pass the 100 MiB budget");
        let small = now(a.admit("c", demand(16, 10))).await.expect("16 MiB fits").unwrap();
        assert_eq!(a.in_use(), (2, 80 * MIB));
        drop((big, small));
        assert!(matches!(a.admit("d", demand(200, 1)).await, Err(Refused::NeverFits { .. })));
    }
}
