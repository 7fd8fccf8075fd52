//! The comparison: the same peer simulator drives every implementation over loopback gRPC, in alternating
//! batches, and reads each implementation's CPU time from its own process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use wasmcc_peer::{ConnectOptions, PeerConnection, TxOptions};

use super::serve::{Impl, Server};
use super::stats::{CpuSample, Samples};
use super::workload::{Workload, CHANNEL, NAMESPACE};

/// The pause before each timed round.
const SETTLE: Duration = Duration::from_millis(50);

/// How many transactions to run, and how they are split.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Per implementation and configuration, before measuring.
    pub warmup: usize,
    /// Measured rounds; each runs every implementation once, in a rotating order.
    pub batches: usize,
    /// Transactions per implementation per round.
    pub per_batch: usize,
}

/// One implementation connected and ready.
pub struct Target {
    pub server: Server,
    pub conn: PeerConnection,
}

impl Target {
    pub async fn connect(server: Server, peer: &wasmcc_peer::PeerSim) -> anyhow::Result<Target> {
        let opts = ConnectOptions { namespace: Some(NAMESPACE.into()), ..ConnectOptions::default() };
        let conn = peer
            .connect_with(&server.addr, &server.ccid, opts)
            .await
            .with_context(|| format!("connecting to the {} implementation", server.which.name()))?;
        Ok(Target { server, conn })
    }

    /// Closes the stream, then ends the server as it ends in use.
    pub async fn stop(self) -> anyhow::Result<()> {
        drop(self.conn);
        self.server.stop().await
    }
}

/// The figures of one implementation in one configuration.
#[derive(Clone, Debug)]
pub struct Figure {
    pub workload: Workload,
    pub concurrency: usize,
    pub which: Impl,
    pub tx_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub cpu_us_per_tx: f64,
    /// The driver's own CPU (the simulated peer and its gRPC client) per transaction of this implementation.
    pub driver_cpu_us_per_tx: f64,
    /// Times the implementation's threads were switched in, per transaction (each a hand-off or a wake-up).
    pub switches_per_tx: f64,
}

#[derive(Default)]
struct Totals {
    samples: Samples,
    wall: Duration,
    cpu: Duration,
    driver_cpu: Duration,
    switches: u64,
}

/// Runs `workload` at `concurrency` on every target and returns one figure per target.
pub async fn compare(
    targets: &[Target],
    workload: Workload,
    concurrency: usize,
    plan: Plan,
) -> anyhow::Result<Vec<Figure>> {
    for t in targets {
        run_batch(&t.conn, workload, concurrency, plan.warmup).await?;
    }
    let mut totals: Vec<Totals> = targets.iter().map(|_| Totals::default()).collect();
    for round in 0..plan.batches {
        for k in 0..targets.len() {
            let i = (round + k) % targets.len();
            let t = &targets[i];
            // Whatever the previous implementation left running (a garbage collector, threads going idle) ends
            // before this one is timed.
            tokio::time::sleep(SETTLE).await;
            let cpu_before = CpuSample::read(t.server.pid)?;
            let driver_before = CpuSample::read(std::process::id())?;
            let started = Instant::now();
            let samples = run_batch(&t.conn, workload, concurrency, plan.per_batch).await?;
            totals[i].wall += started.elapsed();
            let cpu_after = CpuSample::read(t.server.pid)?;
            totals[i].cpu += cpu_after.since(&cpu_before);
            totals[i].switches += cpu_after.switches_since(&cpu_before);
            totals[i].driver_cpu += CpuSample::read(std::process::id())?.since(&driver_before);
            totals[i].samples.extend(samples);
            t.conn.log().clear();
        }
    }
    Ok(targets
        .iter()
        .zip(totals)
        .map(|(t, totals)| {
            let n = totals.samples.len() as f64;
            Figure {
                workload,
                concurrency,
                which: t.server.which,
                tx_per_s: n / totals.wall.as_secs_f64(),
                p50_us: totals.samples.quantile(0.5),
                p99_us: totals.samples.quantile(0.99),
                cpu_us_per_tx: totals.cpu.as_secs_f64() * 1e6 / n,
                driver_cpu_us_per_tx: totals.driver_cpu.as_secs_f64() * 1e6 / n,
                switches_per_tx: totals.switches as f64 / n,
            }
        })
        .collect())
}

/// `count` transactions, `concurrency` at a time, each checked; their latencies.
async fn run_batch(
    conn: &PeerConnection,
    workload: Workload,
    concurrency: usize,
    count: usize,
) -> anyhow::Result<Samples> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let (conn, next) = (conn.clone(), next.clone());
        workers.spawn(async move {
            let opts = TxOptions::new().evaluate().unsigned();
            let args = workload.args(worker);
            let mut samples = Samples::default();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let started = Instant::now();
                let result = conn.invoke_with(CHANNEL, args.clone(), &opts).await?;
                samples.push(started.elapsed());
                workload.check(&result)?;
            }
            Ok::<_, anyhow::Error>(samples)
        });
    }
    let mut all = Samples::default();
    while let Some(joined) = workers.join_next().await {
        all.extend(joined.context("a bench worker panicked")??);
    }
    Ok(all)
}
