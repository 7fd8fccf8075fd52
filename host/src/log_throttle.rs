//! Rate limits for log lines that a remote party can cause at will. A peer or client that misbehaves in a loop must
//! not fill the operator's disk or drown the lines that matter; what is held back is counted and reported with the
//! next line that goes out.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::limits;

/// One kind of log line: at most [`limits::LOG_LINES_PER_SECOND`] a second. A `static` per call site.
pub struct LogThrottle {
    window: Mutex<Window>,
}

struct Window {
    start: Option<Instant>,
    lines: u32,
    suppressed: u64,
}

impl LogThrottle {
    pub const fn new() -> Self {
        LogThrottle { window: Mutex::new(Window { start: None, lines: 0, suppressed: 0 }) }
    }

    /// `Some(n)` when this line may be logged, `n` being how many were held back since the last one that was.
    pub fn allow(&self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> Option<u64> {
        let mut w = self.window.lock().expect("log throttle lock");
        if w.start.is_none_or(|start| now.duration_since(start) >= Duration::from_secs(1)) {
            w.start = Some(now);
            w.lines = 0;
        }
        if w.lines >= limits::LOG_LINES_PER_SECOND {
            w.suppressed += 1;
            return None;
        }
        w.lines += 1;
        Some(std::mem::take(&mut w.suppressed))
    }
}

impl Default for LogThrottle {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_cut_and_counted_then_the_next_second_reports_it() {
        let throttle = LogThrottle::new();
        let t0 = Instant::now();
        let allowed = (0..100).filter(|_| throttle.allow_at(t0).is_some()).count();
        assert_eq!(allowed, limits::LOG_LINES_PER_SECOND as usize);
        let later = t0 + Duration::from_millis(1001);
        assert_eq!(throttle.allow_at(later), Some(100 - limits::LOG_LINES_PER_SECOND as u64));
        assert_eq!(throttle.allow_at(later), Some(0));
    }
}
