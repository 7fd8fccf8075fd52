//! Latency samples and the process CPU clock the figures are computed from.

use std::time::Duration;

/// Latencies of a set of transactions, in microseconds.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    micros: Vec<f64>,
}

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.micros.push(d.as_secs_f64() * 1e6);
    }

    pub fn extend(&mut self, other: Samples) {
        self.micros.extend(other.micros);
    }

    pub fn len(&self) -> usize {
        self.micros.len()
    }

    pub fn is_empty(&self) -> bool {
        self.micros.is_empty()
    }

    /// The `q` quantile (0.5 = median) by nearest rank; 0 without samples.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.micros.is_empty() {
            return 0.0;
        }
        let mut sorted = self.micros.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }
}

/// A process's CPU clock read two ways: the kernel's per-thread run time in nanoseconds (fine enough for one short
/// round; live threads only) and `/proc/<pid>/stat`'s user + system time (every thread, exited ones too, but in
/// 10 ms ticks: on a 0.2 s round of a cheap workload that alone would be ±10%).
///
/// It also counts how many times the process's threads were switched in: a count of hand-offs between threads and
/// sleeps. At one transaction in flight, or at a peer's pace, it moves with how the host is built, not with how busy
/// the machine is (CPU time per transaction on this VM can differ by a third between runs an hour apart; at c=64 the
/// count moves with the threads' interleaving too: BENCHMARKS.md, change 24).
#[derive(Clone, Copy, Debug)]
pub struct CpuSample {
    threads: Duration,
    ticks: Duration,
    switches: u64,
}

impl CpuSample {
    pub fn read(pid: u32) -> std::io::Result<CpuSample> {
        let (threads, switches) = threads_schedstat(pid)?;
        Ok(CpuSample { threads, ticks: process_cpu(pid)?, switches })
    }

    /// Times the process's live threads were switched in since `before`.
    pub fn switches_since(&self, before: &CpuSample) -> u64 {
        self.switches.saturating_sub(before.switches)
    }

    /// The CPU used since `before`: the fine figure, unless the coarse one shows more than a tick of work it cannot
    /// see (a thread that ran and exited in between).
    pub fn since(&self, before: &CpuSample) -> Duration {
        let fine = self.threads.saturating_sub(before.threads);
        let coarse = self.ticks.saturating_sub(before.ticks);
        if coarse > fine + Duration::from_millis(20) {
            coarse
        } else {
            fine
        }
    }
}

/// The run time of a process's live threads and how many times they were switched in, summed.
fn threads_schedstat(pid: u32) -> std::io::Result<(Duration, u64)> {
    let (ns, switches) = schedstat_by_thread(pid)?.into_values().fold((0, 0), |(n, s), t| (n + t.0, s + t.1));
    Ok((Duration::from_nanos(ns), switches))
}

/// How many times a process's threads were switched in per second over `window` in which it is left alone: each is a
/// wake-up (an idle thread's timer, a poll). Counted per thread, over the threads alive at both ends, so a thread
/// that exits in between neither adds nor hides any.
pub fn idle_wakeups_per_s(pid: u32, window: Duration) -> std::io::Result<f64> {
    let before = schedstat_by_thread(pid)?;
    std::thread::sleep(window);
    let after = schedstat_by_thread(pid)?;
    let woken: u64 =
        after.iter().filter_map(|(tid, (_, n))| before.get(tid).map(|(_, was)| n.saturating_sub(*was))).sum();
    Ok(woken as f64 / window.as_secs_f64())
}

/// Each live thread's nanoseconds on the CPU and times switched in: the first and third fields of its
/// `/proc/<pid>/task/<tid>/schedstat` (the second is time spent waiting for a CPU).
fn schedstat_by_thread(pid: u32) -> std::io::Result<std::collections::BTreeMap<std::ffi::OsString, (u64, u64)>> {
    let mut out = std::collections::BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let task = task?;
        // A thread may exit between the listing and the read.
        let Ok(schedstat) = std::fs::read_to_string(task.path().join("schedstat")) else { continue };
        let field = |n| schedstat.split_whitespace().nth(n).and_then(|f| f.parse().ok()).unwrap_or(0);
        out.insert(task.file_name(), (field(0), field(2)));
    }
    Ok(out)
}

/// The user + system CPU time a process has used so far (`/proc/<pid>/stat` fields 14 and 15, all its threads,
/// including those that have exited).
pub fn process_cpu(pid: u32) -> std::io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu(&stat, clock_ticks_per_second())
        .ok_or_else(|| std::io::Error::other(format!("unexpected /proc/{pid}/stat: {stat}")))
}

/// `utime + stime` of a `/proc/<pid>/stat` line. The command name (field 2) may hold spaces and parentheses, so
/// fields are counted from the last `)`.
fn parse_cpu(stat: &str, ticks_per_second: u64) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) as f64 / ticks_per_second as f64))
}

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux this runs on (it is fixed by the kernel ABI for /proc).
fn clock_ticks_per_second() -> u64 {
    100
}

/// A process's resident set (`VmRSS` of `/proc/<pid>/status`), in bytes.
pub fn process_rss(pid: u32) -> std::io::Result<u64> {
    status_bytes(pid, "VmRSS")
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `RssAnon`, `RssFile`), in bytes.
pub fn status_bytes(pid: u32, field: &str) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| std::io::Error::other(format!("no {field} in /proc/{pid}/status")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut s = Samples::default();
        for us in 1..=100 {
            s.push(Duration::from_micros(us));
        }
        assert_eq!(s.quantile(0.5), 50.0);
        assert_eq!(s.quantile(0.99), 99.0);
        assert_eq!(s.quantile(1.0), 100.0);
        assert_eq!(Samples::default().quantile(0.5), 0.0);
    }

    #[test]
    fn cpu_fields_counted_after_the_command_name() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 3 0 100 0 0";
        assert_eq!(parse_cpu(line, 100), Some(Duration::from_secs(3)));
        assert_eq!(parse_cpu("garbage", 100), None);
    }

    #[test]
    fn own_process_is_readable() {
        let pid = std::process::id();
        assert!(process_rss(pid).unwrap() > 0);
        process_cpu(pid).unwrap();
    }

    /// The clock counts a process's work: a busy process's clock advances, and never goes back. The busy process is a
    /// child of its own (a shell loop on one thread): this test process's clock also sums other tests' threads, which
    /// come and go. Progress is measured by the clock itself, not by wall time, so a loaded machine only makes the
    /// loop longer; the wall-time bound is there to fail a clock that never moves.
    #[test]
    fn a_busy_process_cpu_clock_advances() {
        let busy = Shell::run("while :; do :; done");
        let before = CpuSample::read(busy.pid()).unwrap();
        rises_to(Duration::from_millis(20), || CpuSample::read(busy.pid()).unwrap().since(&before)).unwrap();
    }

    /// A shell script, killed when dropped.
    struct Shell(std::process::Child);

    impl Shell {
        fn run(script: &str) -> Shell {
            Shell(std::process::Command::new("sh").args(["-c", script]).spawn().unwrap())
        }

        fn pid(&self) -> u32 {
            self.0.id()
        }
    }

    impl Drop for Shell {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Reads `read` until it reaches `enough`, failing if it ever goes back or has not got there in a minute (a
    /// counter that never moves; a loaded machine only makes the wait longer).
    fn rises_to<T: PartialOrd + Copy + std::fmt::Debug>(enough: T, mut read: impl FnMut() -> T) -> Result<(), String> {
        let started = std::time::Instant::now();
        let mut last = read();
        loop {
            std::thread::sleep(Duration::from_millis(5));
            let now = read();
            if now < last {
                return Err(format!("went back: {last:?} then {now:?}"));
            }
            if now >= enough {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(format!("a minute, and only {now:?}"));
            }
            last = now;
        }
    }

    /// A process that wakes every 10 ms reads as such; one that only waits reads as idle.
    #[test]
    fn idle_wake_ups_count_a_sleeper_and_not_a_waiter() {
        let sleeper = Shell::run("while :; do sleep 0.01; done");
        let waiter = Shell::run("exec sleep 30");
        std::thread::sleep(Duration::from_millis(100)); // both past their start
        let woken = idle_wakeups_per_s(sleeper.pid(), Duration::from_millis(500)).unwrap();
        let idle = idle_wakeups_per_s(waiter.pid(), Duration::from_millis(500)).unwrap();
        // At most 100 a second; on a loaded machine fewer, but the shell wakes for every child that ends.
        assert!(woken >= 2.0, "a shell starting a sleep every 10 ms woke {woken}/s");
        assert_eq!(idle, 0.0, "a sleeping process does not wake");
    }

    /// A process that sleeps and wakes is switched in each time it wakes, and the count never goes back.
    #[test]
    fn a_process_that_sleeps_and_wakes_counts_its_switches() {
        let sleeper = Shell::run("while :; do sleep 0.01; done");
        let before = CpuSample::read(sleeper.pid()).unwrap();
        rises_to(3, || CpuSample::read(sleeper.pid()).unwrap().switches_since(&before)).unwrap();
    }
}
