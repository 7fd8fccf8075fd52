//! Loopback ports for the tests' servers and chaincodes. They come from below Linux's ephemeral range (32768–60999):
//! a port picked there can be taken, between picking and binding, by any client socket of a test running beside this
//! one. Each caller gets ports no other caller in its process gets, so two tests running at once never meet on one.

use std::sync::atomic::{AtomicU16, Ordering};

/// Ports handed out here; no test uses them as fixed ports, and the bench (which a test may run beside the others)
/// takes its own below them.
pub const PORTS: std::ops::Range<u16> = 22_000..27_000;
static NEXT: AtomicU16 = AtomicU16::new(PORTS.start);

/// `n` consecutive ports this process has not handed out before, as the inclusive `(min, max)` of a host's
/// `chaincodes.port_min`/`port_max`.
pub fn free_ports(n: u16) -> (u16, u16) {
    let first = NEXT.fetch_add(n, Ordering::Relaxed);
    assert!(
        n > 0 && first >= PORTS.start && u32::from(first) + u32::from(n) <= u32::from(PORTS.end),
        "no {n} free ports left for the tests in {PORTS:?}"
    );
    (first, first + n - 1)
}

/// A port of the tests' own range that nobody listens on now and that this process has not handed out before.
pub fn free_port() -> u16 {
    loop {
        let (port, _) = free_ports(1);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_free_and_never_handed_out_twice() {
        let (a, b) = (free_port(), free_port());
        assert_ne!(a, b);
        let held = std::net::TcpListener::bind(("127.0.0.1", b + 1));
        let c = free_port();
        assert!(c > b && (held.is_err() || c != b + 1), "{a} {b} {c}");
        let (lo, hi) = free_ports(10);
        assert!(lo > c && hi == lo + 9 && PORTS.contains(&hi), "{lo} {hi}");
    }
}
