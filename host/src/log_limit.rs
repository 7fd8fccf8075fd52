//! Rate-limited logging of what a client can make the host say at will (refused TLS handshakes, evicted and refused
//! connections): a token bucket per listener, and a count of the lines left out, given with the next line logged. An
//! operator sees each kind of trouble with its address, while a flood can neither fill the disk nor slow the host
//! down with logging.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket: `burst` lines at once, then one per `every`.
#[derive(Debug)]
pub struct LogLimiter {
    burst: u32,
    every: Duration,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: u32,
    /// When the last token was earned (tokens accrue from here).
    refilled: Instant,
    suppressed: u64,
}

impl LogLimiter {
    pub fn new(burst: u32, every: Duration) -> LogLimiter {
        let bucket = Bucket { tokens: burst, refilled: Instant::now(), suppressed: 0 };
        LogLimiter { burst, every, bucket: Mutex::new(bucket) }
    }

    /// `Some(n)`: log this line, and say that `n` lines were left out since the previous one. `None`: leave it out.
    pub fn admit(&self) -> Option<u64> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Option<u64> {
        let mut bucket = self.bucket.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let every = self.every.as_nanos().max(1);
        let earned = now.saturating_duration_since(bucket.refilled).as_nanos() / every;
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            bucket.tokens = bucket.tokens.saturating_add(earned).min(self.burst);
            bucket.refilled = if bucket.tokens == self.burst { now } else { bucket.refilled + self.every * earned };
        }
        if bucket.tokens == 0 {
            bucket.suppressed += 1;
            return None;
        }
        bucket.tokens -= 1;
        Some(std::mem::take(&mut bucket.suppressed))
    }
}

/// " (N similar lines suppressed)" when N > 0, for the end of a log line.
pub fn suppressed_note(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} similar lines suppressed)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_interval_and_the_rest_counted() {
        let limiter = LogLimiter::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(limiter.admit_at(t0), Some(0));
        assert_eq!(limiter.admit_at(t0), Some(0));
        for _ in 0..5 {
            assert_eq!(limiter.admit_at(t0 + Duration::from_secs(9)), None);
        }
        assert_eq!(limiter.admit_at(t0 + Duration::from_secs(10)), Some(5));
        assert_eq!(limiter.admit_at(t0 + Duration::from_secs(11)), None);
        // A long quiet spell refills the burst, never more.
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(limiter.admit_at(later), Some(1));
        assert_eq!(limiter.admit_at(later), Some(0));
        assert_eq!(limiter.admit_at(later), None);
        assert_eq!(suppressed_note(0), "");
        assert_eq!(suppressed_note(3), " (3 similar lines suppressed)");
    }
}
