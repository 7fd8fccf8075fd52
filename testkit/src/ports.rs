//! Loopback ports for the tests' servers. They come from below Linux's ephemeral range (32768–60999): a port picked
//! there can be taken, between picking and binding, by any client socket of a test running beside this one.

use std::sync::atomic::{AtomicU16, Ordering};

/// Ports handed out here; no test uses them as fixed ports.
const PORTS: std::ops::Range<u16> = 29400..30000;
static NEXT: AtomicU16 = AtomicU16::new(PORTS.start);

/// A port of the tests' own range that nobody listens on now and that this process has not handed out before.
pub fn free_port() -> u16 {
    loop {
        let port = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(PORTS.contains(&port), "no free port left for the tests' servers in {PORTS:?}");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_are_free_and_never_handed_out_twice() {
        let (a, b) = (super::free_port(), super::free_port());
        assert_ne!(a, b);
        let held = std::net::TcpListener::bind(("127.0.0.1", b + 1));
        let c = super::free_port();
        assert!(c > b && (held.is_err() || c != b + 1), "{a} {b} {c}");
    }
}
