//! The threads guests run on: a tokio runtime of their own, apart from the one that serves sockets.
//!
//! On one runtime, a worker busy polling guests looks at its sockets only every few dozen tasks, so while
//! runaway guests kept every worker busy, a quiet chaincode's TRANSACTION and its peer's answers sat unread in the
//! kernel for tens of milliseconds: CPU turns ([`super::cpu`]) cannot hand a turn to a transaction the host has not
//! read yet. With guests on their own threads, the network runtime is idle whenever only guests are busy, so it reads
//! a message as soon as it arrives and hands it to the transaction, which then asks for a turn.
//!
//! Guest threads also run at a lower scheduling priority ([`limits::GUEST_THREAD_NICE`]) than the network threads:
//! when both want the CPU, the kernel runs the thread that moves a message first, and guests lose only the
//! microseconds that takes. On an otherwise idle machine the priority changes nothing.

use std::future::Future;
use std::sync::Arc;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::AbortHandle;
use tokio_util::task::TaskTracker;

use crate::telemetry::Gauges;
use crate::{limits, outbound};

/// A runtime whose worker threads run transactions: one CPU turn per thread.
pub struct GuestThreads {
    /// Taken on drop, to shut down without waiting (an engine may be dropped inside another runtime).
    runtime: Option<Runtime>,
    handle: Handle,
    threads: usize,
    /// Makes running guests reach their next epoch check now (the engine's epoch increment).
    kick: Arc<dyn Fn() + Send + Sync>,
}

impl GuestThreads {
    /// `threads` worker threads (at least one); `kick` makes running guests reach their next epoch check now; `gauges`
    /// count the host's transactions, which decide how many messages a thread holds back (`outbound.rs`).
    pub fn new(threads: usize, kick: Arc<dyn Fn() + Send + Sync>, gauges: Arc<Gauges>) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("wasmcc-guest")
            // A new transaction, or a peer's answer, is woken from the network runtime into the shared queue: a
            // worker busy with guests looks there before every task it polls, not every few dozen.
            .global_queue_interval(1)
            .on_thread_start(|| lower_priority_to(limits::GUEST_THREAD_NICE))
            // What a worker's transactions sent goes out before it sleeps, and before it ends. Holding starts at a
            // worker's first sleep: the runtime's blocking threads (a lazy program load, the benchmarks' native
            // chaincodes) never park, so nothing sent on them could wait for a hand-over.
            .on_thread_park(move || outbound::park(&gauges))
            .on_thread_stop(outbound::flush)
            .enable_time()
            .build()?;
        let handle = runtime.handle().clone();
        Ok(GuestThreads { runtime: Some(runtime), handle, threads, kick })
    }

    /// How many transactions may run guest code at once: one per thread.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs a transaction on the guest threads, as one of `set`'s tasks (aborted with the set).
    pub fn spawn<F>(&self, set: &mut GuestTasks, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        set.prune();
        set.aborts.push(set.tracker.spawn_on(task, &self.handle).abort_handle());
        self.woken();
    }

    /// Runs a task on the guest threads; the caller awaits (or aborts) it.
    pub fn spawn_handle<F>(&self, task: F) -> tokio::task::JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = self.handle.spawn(task);
        self.woken();
        handle
    }

    /// Says that a task of the guest threads was woken from outside them (a new transaction, a peer's answer). A
    /// guest thread looks at its queue only between polls, and a guest may run for milliseconds in one poll: this
    /// makes running guests reach their epoch check now, where [`GuestThreads::backlog`] sends them back to their
    /// thread's queue.
    pub fn woken(&self) {
        (self.kick)();
    }

    /// What a running guest asks at its epoch checks: whether a woken task waits for a guest thread.
    pub fn backlog(&self) -> Backlog {
        Backlog(self.handle.clone())
    }
}

/// One stream's transactions on the guest threads: a `JoinSet` whose tasks' ends wake no one.
///
/// A `JoinSet`'s task wakes the set's owner when it ends, and here the owner is the stream's task on a network
/// thread, asleep at that moment: what the transaction sent is still held on the guest thread (`outbound.rs`), to be
/// handed over together. At c=64 that wake-up, one per transaction and for nothing, was a twentieth of a noop's CPU.
/// Here the tasks are only counted: their ends wake the owner only while it waits for all of them to end.
#[derive(Default)]
pub struct GuestTasks {
    tracker: TaskTracker,
    /// Every task's handle; those of ended tasks are pruned as more are spawned.
    aborts: Vec<AbortHandle>,
}

impl GuestTasks {
    /// Whether every task spawned has ended.
    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }

    /// Ends when every task has ended, those spawned meanwhile included. It closes the set to do so (tokio-util's
    /// `TaskTracker` waits only once closed); a closed set still runs and counts what is spawned on it.
    pub fn ended(&self) -> impl Future<Output = ()> + '_ {
        self.tracker.close();
        self.tracker.wait()
    }

    /// Aborts every task: each is dropped, with its instance, at its next poll or at once if it waits.
    pub fn abort_all(&mut self) {
        self.aborts.drain(..).for_each(|task| task.abort());
    }

    /// Forgets the handles of ended tasks once there are many: a stream has at most
    /// [`limits::MAX_TX_PER_STREAM`] in flight, so this runs once per that many spawns at most.
    fn prune(&mut self) {
        if self.aborts.len() >= 2 * limits::MAX_TX_PER_STREAM {
            self.aborts.retain(|task| !task.is_finished());
        }
    }
}

impl Drop for GuestTasks {
    fn drop(&mut self) {
        self.abort_all();
    }
}

/// Tells a running guest whether its thread has woken tasks to poll ([`GuestThreads::woken`]).
#[derive(Clone)]
pub struct Backlog(Handle);

impl Backlog {
    pub fn waiting(&self) -> bool {
        self.0.metrics().global_queue_depth() > 0
    }
}

impl Drop for GuestThreads {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The default number of guest threads: one per CPU this process may use (affinity and cgroup quota included) that
/// the network threads ([`limits::network_threads`]) leave, at least one: on 2 CPUs, one. A guest thread more than the
/// CPUs left is one more thread for the kernel to wake and preempt on every hand-over: with two on 2 CPUs, a
/// transaction of ten stub calls at 64 in flight needed a third more CPU than with one (BENCHMARKS.md, change 32),
/// and a host shares its machine with a peer. The CPUs left to the network threads are not idle meanwhile: they read
/// and write every message, and while the host is quiet run short transactions themselves ([`super::placement`]).
/// With one turn a quiet chaincode still gets the CPU within microseconds of a busy one ([`super::cpu`]).
pub fn default_threads() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    cpus.saturating_sub(limits::network_threads()).max(1)
}

/// Lowers the calling thread's priority to `nice` (Linux: nice values are per thread). Raising a nice value needs
/// no privilege; if it fails anyway the thread runs at normal priority, which costs latency, not correctness.
pub(super) fn lower_priority_to(nice: i32) {
    let tid = rustix::thread::gettid();
    let current = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
    if let Err(e) = rustix::process::setpriority_process(Some(tid), current.max(nice)) {
        tracing::debug!(error = %e, "guest thread keeps its priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn transactions_run_on_lower_priority_threads_and_the_runtime_drops_inside_another() {
        // Whatever the count, every guest thread runs at the guests' priority.
        for count in [1, 2] {
            on_lower_priority_threads(count).await;
        }
    }

    async fn on_lower_priority_threads(count: usize) {
        let threads = GuestThreads::new(count, Arc::new(|| {}), Arc::default()).unwrap();
        assert_eq!(threads.threads(), count);
        let mut set = GuestTasks::default();
        let (tx, rx) = tokio::sync::oneshot::channel();
        threads.spawn(&mut set, async move {
            let tid = rustix::thread::gettid();
            let name = std::thread::current().name().map(str::to_string);
            tx.send((rustix::process::getpriority_process(Some(tid)).unwrap(), name)).unwrap();
        });
        let (nice, name) = rx.await.unwrap();
        assert!(nice >= limits::GUEST_THREAD_NICE, "nice {nice}");
        assert_eq!(name.as_deref(), Some("wasmcc-guest"));
        let here = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        assert!(here < limits::GUEST_THREAD_NICE, "the caller's thread keeps its priority");
        set.ended().await;
        drop(threads);
    }

    #[tokio::test]
    async fn a_set_counts_its_tasks_until_they_end_and_aborts_them_when_asked_or_dropped() {
        let threads = GuestThreads::new(1, Arc::new(|| {}), Arc::default()).unwrap();
        // A task that waits forever, and tells when it has started and when its future is dropped.
        let waiting = |set: &mut GuestTasks| {
            let (started, has_started) = tokio::sync::oneshot::channel();
            let (dropped, is_dropped) = tokio::sync::oneshot::channel::<()>();
            threads.spawn(set, async move {
                let _dropped = dropped;
                started.send(()).unwrap();
                std::future::pending::<()>().await;
            });
            (has_started, is_dropped)
        };
        let mut set = GuestTasks::default();
        let (started, dropped) = waiting(&mut set);
        started.await.unwrap();
        assert!(!set.is_empty(), "counted while it waits");
        set.abort_all();
        assert!(dropped.await.is_err(), "aborted, its future is dropped");
        set.ended().await;
        assert!(set.is_empty());

        let mut set = GuestTasks::default();
        let (started, dropped) = waiting(&mut set);
        started.await.unwrap();
        drop(set);
        assert!(dropped.await.is_err(), "a set dropped aborts its tasks");
    }

    #[test]
    fn a_busy_thread_sees_a_task_woken_from_outside_waiting() {
        let threads = GuestThreads::new(1, Arc::new(|| {}), Arc::default()).unwrap();
        let backlog = threads.backlog();
        // The one guest thread computes (blocks, here) until told to stop.
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (busy, is_busy) = std::sync::mpsc::channel();
        let _computing = threads.spawn_handle(async move {
            busy.send(()).unwrap();
            released.recv().unwrap();
        });
        is_busy.recv().unwrap();
        assert!(!backlog.waiting());
        let (ran, has_run) = std::sync::mpsc::channel();
        let _woken = threads.spawn_handle(async move { ran.send(()).unwrap() });
        assert!(backlog.waiting(), "a task spawned from another thread waits in the shared queue");
        release.send(()).unwrap();
        has_run.recv().unwrap();
        assert!(!backlog.waiting());
    }

    #[tokio::test]
    async fn workers_hold_messages_once_they_have_slept_and_blocking_threads_never() {
        let threads = GuestThreads::new(1, Arc::new(|| {}), Arc::default()).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        threads.spawn_handle(async move {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            let blocking = tokio::task::spawn_blocking(outbound::holding).await.unwrap();
            tx.send((outbound::holding(), blocking)).unwrap();
        });
        assert_eq!(rx.await.unwrap(), (true, false));
    }
}
