//! The load a real peer gives: an open loop at a fixed rate. A peer behind a Fabric Gateway sends each chaincode a
//! few hundred transactions a second from many clients, each when its client asks, not when the previous answer came
//! back; at that rate every message finds the host's threads asleep, so what a transaction costs includes waking
//! them. The closed loop of [`super::driver::compare`] keeps threads busy and hides that cost.
//!
//! `clients` tasks share the schedule: transaction `i` is due at `start + i / rate`, and client `i % clients` sends it
//! then (at once if its previous one answered late). Implementations take turns in rounds, as in the comparison.

use std::time::{Duration, Instant};

use anyhow::Context;
use wasmcc_peer::TxOptions;

use super::driver::Target;
use super::serve::Impl;
use super::stats::{CpuSample, Samples};
use super::workload::{Workload, CHANNEL};

/// The pause before each timed round.
const SETTLE: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// Transactions per second, over all clients.
    pub rate: f64,
    pub clients: usize,
    /// Length of one implementation's round.
    pub round: Duration,
    pub rounds: usize,
}

/// The figures of one implementation at one pace.
#[derive(Clone, Debug)]
pub struct PacedFigure {
    pub workload: Workload,
    pub which: Impl,
    pub rate: f64,
    pub clients: usize,
    /// What the implementation kept up with (below `rate` when it fell behind).
    pub achieved_tx_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub cpu_us_per_tx: f64,
    /// Times the implementation's threads were switched in, per transaction.
    pub switches_per_tx: f64,
}

/// Runs `workload` at `pace` on every target, in alternating rounds; one figure per target.
pub async fn measure(targets: &[Target], workload: Workload, pace: Pace) -> anyhow::Result<Vec<PacedFigure>> {
    let warmup = Pace { round: pace.round / 4, ..pace };
    for t in targets {
        round(t, workload, warmup).await?;
    }
    let mut totals: Vec<(Samples, Duration, Duration, u64)> = targets.iter().map(|_| Default::default()).collect();
    for r in 0..pace.rounds {
        for k in 0..targets.len() {
            let i = (r + k) % targets.len();
            let t = &targets[i];
            tokio::time::sleep(SETTLE).await;
            let before = CpuSample::read(t.server.pid)?;
            let started = Instant::now();
            let samples = round(t, workload, pace).await?;
            totals[i].1 += started.elapsed();
            let after = CpuSample::read(t.server.pid)?;
            totals[i].2 += after.since(&before);
            totals[i].3 += after.switches_since(&before);
            totals[i].0.extend(samples);
            t.conn.log().clear();
        }
    }
    Ok(targets
        .iter()
        .zip(totals)
        .map(|(t, (samples, wall, cpu, switches))| {
            let n = samples.len() as f64;
            PacedFigure {
                workload,
                which: t.server.which,
                rate: pace.rate,
                clients: pace.clients,
                achieved_tx_per_s: n / wall.as_secs_f64(),
                p50_us: samples.quantile(0.5),
                p99_us: samples.quantile(0.99),
                cpu_us_per_tx: cpu.as_secs_f64() * 1e6 / n,
                switches_per_tx: switches as f64 / n,
            }
        })
        .collect())
}

/// One round: `rate × round` transactions on the schedule; their latencies.
async fn round(target: &Target, workload: Workload, pace: Pace) -> anyhow::Result<Samples> {
    let total = (pace.rate * pace.round.as_secs_f64()).round().max(1.0) as usize;
    let interval = Duration::from_secs_f64(1.0 / pace.rate);
    let start = tokio::time::Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..pace.clients.min(total) {
        let conn = target.conn.clone();
        clients.spawn(async move {
            let opts = TxOptions::new().evaluate().unsigned();
            let args = workload.args(client);
            let mut samples = Samples::default();
            for i in (client..total).step_by(pace.clients) {
                tokio::time::sleep_until(start + interval * i as u32).await;
                let sent = Instant::now();
                let result = conn.invoke_with(CHANNEL, args.clone(), &opts).await?;
                samples.push(sent.elapsed());
                workload.check(&result)?;
            }
            Ok::<_, anyhow::Error>(samples)
        });
    }
    let mut all = Samples::default();
    while let Some(joined) = clients.join_next().await {
        all.extend(joined.context("a paced client panicked")??);
    }
    Ok(all)
}
