//! Connection hygiene for every listener (chaincode ports, plaintext or TLS, the shared SNI port, the admin API): who
//! gets a file descriptor, and how long a connection may keep it.
//!
//! Three rules keep silent or slow sockets from ever delaying a real peer or the operator:
//!
//! - **Deadlines.** A connection must open its first stream (a chaincode `Connect`, an admin request) within the
//!   handshake timeout of its accept, TLS handshake included, and is closed once it has had no stream for the idle
//!   timeout. A connection with a stream open is never cut for being quiet: a peer holds `Connect` for hours.
//! - **Eviction, not refusal.** A connection that has not opened a stream yet is *pending*. When a listener has too
//!   many pending, or a cap is reached, the oldest pending connection is closed to make room, those that never sent a
//!   byte first. A real peer finishes its handshake in milliseconds, so a flood has to outpace that handshake, not
//!   merely fill the slots and wait. Only when every connection has a stream open is a newcomer refused.
//! - **Budgets.** The connections of a host's chaincode listeners share one budget derived from RLIMIT_NOFILE, with
//!   descriptors reserved for files and for the admin API, whose listener has a budget of its own ([`FdBudget`]). The
//!   soft limit is raised to the hard one at start ([`raise_fd_limit`]).
//!
//! [`Guarded`] wraps each accepted socket and enforces deadlines and evictions from inside its reads and writes:
//! closing a connection means failing the next read of whoever drives it (rustls, hyper), which then drops it.
//! The server marks streams with [`ConnectionActivity::stream`], reached through the connection's `RouteInfo`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::limits;

/// Why the host closed a connection on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Expiry {
    #[error("no stream opened within {0:?} of accept")]
    Handshake(Duration),
    #[error("no stream for {0:?}")]
    Idle(Duration),
    #[error("evicted to make room for newer connections")]
    Evicted,
}

/// Why a connection was refused at accept: every connection of the listener, or of the host, has a stream open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    #[error("the listener's {0} connections all have streams open")]
    ListenerFull(usize),
    #[error("the host's {0} connections all have streams open")]
    BudgetFull(usize),
}

// ---- Descriptor limits ----

/// Raises the soft RLIMIT_NOFILE to the hard limit (where the platform has one) and returns the soft limit now in
/// force. Every connection costs a descriptor; the usual soft limit of 1,024 is far below what the kernel allows.
pub fn raise_fd_limit() -> io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// The soft RLIMIT_NOFILE, when the platform reports one.
pub fn fd_limit() -> Option<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE).ok().map(|(soft, _hard)| soft)
}

/// How a descriptor limit is shared: connections of the chaincode listeners, connections of the admin API, and a
/// reserve for everything else ([`limits::FD_RESERVE`]; the admin share is counted twice, because each launcher-mode
/// launch also dials the peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdBudget {
    pub chaincode: usize,
    pub admin: usize,
}

impl FdBudget {
    /// Splits `nofile` descriptors. With a small limit the reserve shrinks to a quarter and the admin share to an
    /// eighth, so chaincode connections always keep at least half.
    pub fn split(nofile: u64, admin_max: usize) -> FdBudget {
        let nofile = usize::try_from(nofile).unwrap_or(usize::MAX);
        let files = limits::FD_RESERVE.min(nofile / 4);
        let admin = admin_max.min(nofile / 8);
        FdBudget { chaincode: nofile - files - 2 * admin, admin }
    }
}

// ---- Budgets and listeners ----

/// Open connections of a set of listeners (a host's chaincode listeners, or its admin listener), capped, with the
/// pending ones of each listener in accept order so that the oldest can be evicted. Cheap to share.
pub struct ConnectionBudget {
    limit: usize,
    book: Mutex<Book>,
}

impl fmt::Debug for ConnectionBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionBudget").field("limit", &self.limit).field("open", &self.open()).finish()
    }
}

#[derive(Default)]
struct Book {
    next_id: u64,
    /// Admitted and neither closed nor evicted.
    open: usize,
    pending: Pending,
    listeners: HashMap<u64, ListenerBook>,
}

struct ListenerBook {
    open: usize,
    max_open: usize,
    max_pending: usize,
    pending: Pending,
}

/// Pending connections by admission order (ids grow), split by whether they have sent anything yet.
#[derive(Default)]
struct Pending {
    silent: BTreeMap<u64, Entry>,
    heard: BTreeMap<u64, Entry>,
}

#[derive(Clone)]
struct Entry {
    listener: u64,
    remote: SocketAddr,
    evict: CancellationToken,
}

impl Pending {
    fn len(&self) -> usize {
        self.silent.len() + self.heard.len()
    }

    /// The one to evict first: the oldest that never sent a byte, else the oldest.
    fn first(&self) -> Option<u64> {
        self.silent.keys().next().or_else(|| self.heard.keys().next()).copied()
    }

    fn remove(&mut self, id: u64) -> Option<Entry> {
        self.silent.remove(&id).or_else(|| self.heard.remove(&id))
    }

    fn mark_heard(&mut self, id: u64) {
        if let Some(entry) = self.silent.remove(&id) {
            self.heard.insert(id, entry);
        }
    }
}

impl Book {
    /// Closes a pending connection: it stops counting at once, and its [`Guarded`] fails its next read.
    fn evict(&mut self, id: u64) -> Option<SocketAddr> {
        let entry = self.pending.remove(id)?;
        if let Some(listener) = self.listeners.get_mut(&entry.listener) {
            listener.pending.remove(id);
            listener.open -= 1;
        }
        self.open -= 1;
        entry.evict.cancel();
        Some(entry.remote)
    }

    fn evict_first_of(&mut self, listener: u64) -> Option<SocketAddr> {
        let id = self.listeners.get(&listener)?.pending.first()?;
        self.evict(id)
    }
}

impl ConnectionBudget {
    /// A budget of `limit` connections.
    pub fn new(limit: usize) -> Arc<ConnectionBudget> {
        Arc::new(ConnectionBudget { limit, book: Mutex::default() })
    }

    /// The budget of listeners not given one (`Runtime::listen`, tests): the chaincode share of the descriptor limit
    /// in force when it is first used, for the whole process.
    pub fn process_default() -> Arc<ConnectionBudget> {
        static BUDGET: OnceLock<Arc<ConnectionBudget>> = OnceLock::new();
        BUDGET
            .get_or_init(|| {
                let nofile = fd_limit().unwrap_or(1_024);
                ConnectionBudget::new(FdBudget::split(nofile, limits::DEFAULT_ADMIN_MAX_CONNECTIONS).chaincode)
            })
            .clone()
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Connections admitted and not yet closed or evicted.
    pub fn open(&self) -> usize {
        self.book().open
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn register(&self, max_open: usize, max_pending: usize) -> u64 {
        let mut book = self.book();
        let id = book.next_id;
        book.next_id += 1;
        book.listeners.insert(id, ListenerBook { open: 0, max_open, max_pending, pending: Pending::default() });
        id
    }

    fn unregister(&self, listener: u64) {
        self.book().listeners.remove(&listener);
    }

    /// Makes room and admits a connection as pending; returns its id, eviction token and the evicted addresses.
    fn admit(
        &self,
        listener: u64,
        remote: SocketAddr,
    ) -> Result<(u64, CancellationToken, Vec<SocketAddr>), AdmitError> {
        let mut book = self.book();
        let mut evicted = Vec::new();
        let Some(own) = book.listeners.get(&listener) else { return Err(AdmitError::ListenerFull(0)) };
        if own.pending.len() >= own.max_pending {
            evicted.extend(book.evict_first_of(listener));
        }
        let open = book.listeners.get(&listener).map_or(0, |l| l.open);
        if open >= book.listeners.get(&listener).map_or(0, |l| l.max_open) {
            evicted.push(book.evict_first_of(listener).ok_or(AdmitError::ListenerFull(open))?);
        }
        if book.open >= self.limit {
            let first = book.pending.first();
            evicted.push(first.and_then(|id| book.evict(id)).ok_or(AdmitError::BudgetFull(book.open))?);
        }
        let id = book.next_id;
        book.next_id += 1;
        let entry = Entry { listener, remote, evict: CancellationToken::new() };
        let evict = entry.evict.clone();
        book.open += 1;
        book.pending.silent.insert(id, entry.clone());
        if let Some(own) = book.listeners.get_mut(&listener) {
            own.open += 1;
            own.pending.silent.insert(id, entry);
        }
        Ok((id, evict, evicted))
    }

    /// A connection closed; an evicted one no longer counted.
    fn release(&self, listener: u64, id: u64, evict: &CancellationToken) {
        let mut book = self.book();
        if evict.is_cancelled() {
            return;
        }
        book.pending.remove(id);
        book.open -= 1;
        if let Some(own) = book.listeners.get_mut(&listener) {
            own.pending.remove(id);
            own.open -= 1;
        }
    }

    /// A connection opened its first stream: no longer pending, never evicted.
    fn prove(&self, listener: u64, id: u64) {
        let mut book = self.book();
        book.pending.remove(id);
        if let Some(own) = book.listeners.get_mut(&listener) {
            own.pending.remove(id);
        }
    }

    /// A pending connection sent its first bytes: it is evicted after the silent ones.
    fn heard(&self, listener: u64, id: u64) {
        let mut book = self.book();
        book.pending.mark_heard(id);
        if let Some(own) = book.listeners.get_mut(&listener) {
            own.pending.mark_heard(id);
        }
    }
}

/// How one listener admits connections and how long they may stay.
#[derive(Clone, Debug)]
pub struct ListenerPolicy {
    /// Shared with the other listeners of the same kind.
    pub budget: Arc<ConnectionBudget>,
    /// Connections on this listener.
    pub max_connections: usize,
    /// Connections on this listener that have not opened a stream yet.
    pub max_pending: usize,
    /// From accept to the first stream.
    pub handshake_timeout: Duration,
    /// With no stream open.
    pub idle_timeout: Duration,
}

impl Default for ListenerPolicy {
    fn default() -> Self {
        ListenerPolicy {
            budget: ConnectionBudget::process_default(),
            max_connections: limits::DEFAULT_MAX_CONNECTIONS_PER_PORT,
            max_pending: limits::MAX_PENDING_CONNECTIONS,
            handshake_timeout: limits::DEFAULT_HANDSHAKE_TIMEOUT,
            idle_timeout: limits::DEFAULT_IDLE_TIMEOUT,
        }
    }
}

impl ListenerPolicy {
    /// The same policy without a cap of its own: the listener is bounded by the shared budget only (the shared SNI
    /// port, which serves every chaincode).
    pub fn uncapped(&self) -> ListenerPolicy {
        ListenerPolicy { max_connections: usize::MAX, ..self.clone() }
    }

    /// Enters a listener into the budget; it leaves when the registration drops.
    pub(crate) fn register(&self) -> Registration {
        let id = self.budget.register(self.max_connections, self.max_pending);
        Registration { policy: self.clone(), id }
    }
}

/// A listener's place in its budget.
pub(crate) struct Registration {
    policy: ListenerPolicy,
    id: u64,
}

/// An admitted connection, with the addresses of the pending connections evicted to make room for it.
pub(crate) struct Admission {
    pub(crate) admitted: Admitted,
    pub(crate) evicted: Vec<SocketAddr>,
}

impl Registration {
    /// Admits a connection just accepted from `remote`, evicting pending ones if a cap says so.
    pub(crate) fn admit(&self, remote: SocketAddr) -> Result<Admission, AdmitError> {
        let budget = &self.policy.budget;
        let (id, evict, evicted) = budget.admit(self.id, remote)?;
        let now = Instant::now();
        let tracked = Arc::new(Tracked {
            budget: budget.clone(),
            listener: self.id,
            id,
            handshake_deadline: now + self.policy.handshake_timeout,
            handshake_timeout: self.policy.handshake_timeout,
            idle_timeout: self.policy.idle_timeout,
            evict,
            heard: AtomicBool::new(false),
            state: Mutex::new(State { proven: false, streams: 0, idle_since: now, expiry: None }),
        });
        Ok(Admission { admitted: Admitted { tracked }, evicted })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.policy.budget.unregister(self.id);
    }
}

// ---- One connection ----

/// What the budget and the server know about one connection.
struct Tracked {
    budget: Arc<ConnectionBudget>,
    listener: u64,
    id: u64,
    handshake_deadline: Instant,
    handshake_timeout: Duration,
    idle_timeout: Duration,
    evict: CancellationToken,
    heard: AtomicBool,
    state: Mutex<State>,
}

struct State {
    /// A stream has been opened: no longer pending.
    proven: bool,
    streams: usize,
    idle_since: Instant,
    expiry: Option<Expiry>,
}

impl Tracked {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// When to look again, or why the connection is over.
    fn check(&self, now: Instant) -> Result<Instant, Expiry> {
        let mut state = self.state();
        let verdict = if self.evict.is_cancelled() {
            Err(Expiry::Evicted)
        } else if !state.proven {
            if now >= self.handshake_deadline {
                Err(Expiry::Handshake(self.handshake_timeout))
            } else {
                Ok(self.handshake_deadline)
            }
        } else if state.streams > 0 {
            Ok(now + self.idle_timeout)
        } else if now >= state.idle_since + self.idle_timeout {
            Err(Expiry::Idle(self.idle_timeout))
        } else {
            Ok(state.idle_since + self.idle_timeout)
        };
        if let Err(expiry) = verdict {
            state.expiry.get_or_insert(expiry);
        }
        verdict
    }

    fn expiry(&self) -> Option<Expiry> {
        if self.evict.is_cancelled() {
            return Some(Expiry::Evicted);
        }
        self.state().expiry
    }

    fn mark_heard(&self) {
        if !self.heard.swap(true, Ordering::Relaxed) {
            self.budget.heard(self.listener, self.id);
        }
    }
}

/// The owner's handle of an admitted connection: dropping it gives its place in the budget back.
pub(crate) struct Admitted {
    tracked: Arc<Tracked>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let t = &self.tracked;
        t.budget.release(t.listener, t.id, &t.evict);
    }
}

/// A connection's activity as the server sees it (in `RouteInfo`): open streams, and why the host closed it.
#[derive(Clone)]
pub struct ConnectionActivity(Arc<Tracked>);

impl ConnectionActivity {
    /// Marks a stream open until the guard drops. The first one takes the connection out of the pending set (it is
    /// never evicted after that), and while any is open the connection is never idle, however quiet.
    pub fn stream(&self) -> StreamGuard {
        let first = {
            let mut state = self.0.state();
            state.streams += 1;
            !std::mem::replace(&mut state.proven, true)
        };
        if first {
            self.0.budget.prove(self.0.listener, self.0.id);
        }
        StreamGuard(self.0.clone())
    }

    /// Why the host closed the connection, if it did.
    pub fn expiry(&self) -> Option<Expiry> {
        self.0.expiry()
    }

    /// Whether the client has sent anything at all.
    pub fn heard(&self) -> bool {
        self.0.heard.load(Ordering::Relaxed)
    }
}

impl PartialEq for ConnectionActivity {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ConnectionActivity {}

impl fmt::Debug for ConnectionActivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.0.state();
        f.debug_struct("ConnectionActivity").field("streams", &state.streams).field("expiry", &state.expiry).finish()
    }
}

/// An open stream (see [`ConnectionActivity::stream`]).
pub struct StreamGuard(Arc<Tracked>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.streams -= 1;
        if state.streams == 0 {
            state.idle_since = Instant::now();
        }
    }
}

/// An accepted socket under its listener's policy: reads and writes fail once the connection is evicted or past a
/// deadline, so whoever drives it (rustls, hyper) drops it. Dropping it gives its place in the budget back.
pub struct Guarded<IO> {
    io: IO,
    admitted: Admitted,
    timer: Pin<Box<Sleep>>,
    evicted: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl<IO> Guarded<IO> {
    pub(crate) fn new(io: IO, admitted: Admitted) -> Guarded<IO> {
        let t = &admitted.tracked;
        let timer = Box::pin(tokio::time::sleep_until(t.handshake_deadline));
        let evicted = Box::pin(t.evict.clone().cancelled_owned());
        Guarded { io, admitted, timer, evicted }
    }

    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    pub fn activity(&self) -> ConnectionActivity {
        ConnectionActivity(self.admitted.tracked.clone())
    }

    /// When the first stream must be open by.
    pub fn handshake_deadline(&self) -> Instant {
        self.admitted.tracked.handshake_deadline
    }

    pub fn handshake_timeout(&self) -> Duration {
        self.admitted.tracked.handshake_timeout
    }

    /// Ready with the error to fail IO with once the connection is over; otherwise registers for the next check.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let tracked = &self.admitted.tracked;
        if self.evicted.as_mut().poll(cx).is_ready() {
            return Poll::Ready(closed(Expiry::Evicted));
        }
        loop {
            ready!(self.timer.as_mut().poll(cx));
            match tracked.check(Instant::now()) {
                Ok(next) => self.timer.as_mut().reset(next),
                Err(expiry) => {
                    tracing::debug!("closing a connection: {expiry}");
                    return Poll::Ready(closed(expiry));
                }
            }
        }
    }
}

fn closed(expiry: Expiry) -> io::Error {
    let kind = match expiry {
        Expiry::Evicted => io::ErrorKind::ConnectionAborted,
        Expiry::Handshake(_) | Expiry::Idle(_) => io::ErrorKind::TimedOut,
    };
    io::Error::new(kind, expiry)
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Poll::Ready(e) = this.poll_expired(cx) {
            return Poll::Ready(Err(e));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.admitted.tracked.mark_heard();
        }
        result
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Poll::Ready(e) = this.poll_expired(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Poll::Ready(e) = this.poll_expired(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn policy(budget: usize, per_listener: usize, pending: usize) -> ListenerPolicy {
        ListenerPolicy {
            budget: ConnectionBudget::new(budget),
            max_connections: per_listener,
            max_pending: pending,
            ..ListenerPolicy::default()
        }
    }

    #[test]
    fn fd_limit_is_split_with_reserves_and_at_least_half_for_peers() {
        let big = FdBudget::split(1_048_576, 512);
        assert_eq!(big, FdBudget { chaincode: 1_048_576 - limits::FD_RESERVE - 1_024, admin: 512 });
        let small = FdBudget::split(1_024, 512);
        assert_eq!(small, FdBudget { chaincode: 512, admin: 128 });
        assert!(FdBudget::split(u64::MAX, 512).chaincode > 1 << 40);
        assert_eq!(FdBudget::split(0, 512), FdBudget { chaincode: 0, admin: 0 });
    }

    #[tokio::test]
    async fn a_full_pending_set_evicts_its_oldest_silent_connection_first() {
        let policy = policy(100, 100, 3);
        let listener = policy.register();
        let expiry = |a: &Admission| ConnectionActivity(a.admitted.tracked.clone()).expiry();
        let a = listener.admit(addr(1)).unwrap();
        let b = listener.admit(addr(2)).unwrap();
        let c = listener.admit(addr(3)).unwrap();
        // The oldest has sent its hello: the oldest silent one goes instead.
        a.admitted.tracked.mark_heard();
        let d = listener.admit(addr(4)).unwrap();
        assert_eq!(d.evicted, vec![addr(2)]);
        assert_eq!(expiry(&b), Some(Expiry::Evicted));
        assert_eq!(expiry(&a), None);
        assert_eq!(policy.budget.open(), 3);
        let e = listener.admit(addr(5)).unwrap();
        assert_eq!(e.evicted, vec![addr(3)]);
        d.admitted.tracked.mark_heard();
        let f = listener.admit(addr(6)).unwrap();
        assert_eq!(f.evicted, vec![addr(5)]);
        // Only connections that sent something are left: the oldest of them goes.
        f.admitted.tracked.mark_heard();
        let g = listener.admit(addr(7)).unwrap();
        assert_eq!(g.evicted, vec![addr(1)]);
        // Evicted connections stopped counting when evicted, not again when dropped.
        assert_eq!(policy.budget.open(), 3);
        drop((a, b, c, e));
        assert_eq!(policy.budget.open(), 3);
        drop(d);
        assert_eq!(policy.budget.open(), 2);
    }

    #[tokio::test]
    async fn connections_with_a_stream_are_never_evicted_and_a_full_listener_refuses() {
        let policy = policy(100, 2, 10);
        let listener = policy.register();
        let a = listener.admit(addr(1)).unwrap();
        let _stream_a = ConnectionActivity(a.admitted.tracked.clone()).stream();
        let _b = listener.admit(addr(2)).unwrap();
        // At the listener cap: the pending one makes room, the one with a stream stays.
        let c = listener.admit(addr(3)).unwrap();
        assert_eq!(c.evicted, vec![addr(2)]);
        assert_eq!(ConnectionActivity(a.admitted.tracked.clone()).expiry(), None);
        let _stream_c = ConnectionActivity(c.admitted.tracked.clone()).stream();
        assert!(matches!(listener.admit(addr(4)), Err(AdmitError::ListenerFull(2))));
        drop(c);
        assert_eq!(listener.admit(addr(5)).unwrap().evicted, vec![]);
    }

    #[tokio::test]
    async fn the_budget_is_shared_by_listeners_and_evicts_across_them() {
        let shared = policy(2, 10, 10);
        let one = shared.register();
        let two = shared.register();
        let a = one.admit(addr(1)).unwrap();
        let b = two.admit(addr(2)).unwrap();
        let _stream_b = ConnectionActivity(b.admitted.tracked.clone()).stream();
        // The budget is full: listener two's newcomer evicts listener one's pending connection.
        let c = two.admit(addr(3)).unwrap();
        assert_eq!(c.evicted, vec![addr(1)]);
        drop(a);
        assert_eq!(shared.budget.open(), 2);
        // Once every connection has a stream, a newcomer is refused; a closed one makes room again.
        let stream_c = ConnectionActivity(c.admitted.tracked.clone()).stream();
        assert!(matches!(one.admit(addr(4)), Err(AdmitError::BudgetFull(2))));
        drop((stream_c, c));
        assert_eq!(one.admit(addr(5)).unwrap().evicted, vec![]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn deadlines_close_pending_and_idle_connections_but_not_open_streams() {
        let policy = ListenerPolicy {
            handshake_timeout: Duration::from_millis(50),
            idle_timeout: Duration::from_millis(100),
            ..policy(10, 10, 10)
        };
        let listener = policy.register();
        let (client, server) = tokio::io::duplex(64);
        let mut silent = Guarded::new(server, listener.admit(addr(1)).unwrap().admitted);
        let mut buf = [0u8; 8];
        let err = tokio::io::AsyncReadExt::read(&mut silent, &mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(silent.activity().expiry(), Some(Expiry::Handshake(Duration::from_millis(50))));
        drop((client, silent));
        assert_eq!(policy.budget.open(), 0);

        let (_client, server) = tokio::io::duplex(64);
        let mut busy = Guarded::new(server, listener.admit(addr(2)).unwrap().admitted);
        let stream = busy.activity().stream();
        // A stream stays open through many idle timeouts.
        let quiet =
            tokio::time::timeout(Duration::from_millis(400), tokio::io::AsyncReadExt::read(&mut busy, &mut buf));
        assert!(quiet.await.is_err(), "a connection with an open stream was closed");
        drop(stream);
        let err = tokio::io::AsyncReadExt::read(&mut busy, &mut buf).await.unwrap_err();
        assert_eq!(busy.activity().expiry(), Some(Expiry::Idle(Duration::from_millis(100))), "{err}");
    }
}
