//! What the bench prints: a table for people, then one `key=value` line per figure for machines (BENCHMARKS.md
//! describes both).

use super::density::{Density, ManyDensity};
use super::driver::Figure;
use super::isolation::VictimFigure;
use super::paced::PacedFigure;
use super::serve::Impl;
use super::stats::Samples;

/// The human-readable table of one configuration.
pub fn table(figures: &[Figure]) -> String {
    let mut out = String::new();
    if let Some(f) = figures.first() {
        out.push_str(&format!("{} c={}\n", f.workload.name(), f.concurrency));
        out.push_str(&format!(
            "  {:<7} {:>10} {:>10} {:>10} {:>12} {:>14} {:>12}\n",
            "impl", "tx/s", "p50 µs", "p99 µs", "cpu µs/tx", "driver µs/tx", "switches/tx"
        ));
    }
    for f in figures {
        out.push_str(&format!(
            "  {:<7} {:>10.0} {:>10.1} {:>10.1} {:>12.1} {:>14.1} {:>12.2}\n",
            f.which.name(),
            f.tx_per_s,
            f.p50_us,
            f.p99_us,
            f.cpu_us_per_tx,
            f.driver_cpu_us_per_tx,
            f.switches_per_tx
        ));
    }
    out
}

pub fn bench_line(f: &Figure) -> String {
    format!(
        "bench {} c={} {} tx_per_s={:.1} p50_us={:.1} p99_us={:.1} cpu_us_per_tx={:.1} switches_per_tx={:.2}",
        f.workload.name(),
        f.concurrency,
        f.which.name(),
        f.tx_per_s,
        f.p50_us,
        f.p99_us,
        f.cpu_us_per_tx,
        f.switches_per_tx
    )
}

/// Throughput ratios: how many times the transactions per second of wasm the others reach.
pub fn ratio_line(figures: &[Figure]) -> Option<String> {
    let tps = |i: Impl| figures.iter().find(|f| f.which == i).map(|f| f.tx_per_s);
    let (wasm, native, node) = (tps(Impl::Wasm)?, tps(Impl::Native)?, tps(Impl::Node)?);
    let f = figures.first()?;
    Some(format!(
        "ratio {} c={} wasm/node={:.2} wasm/native={:.2}",
        f.workload.name(),
        f.concurrency,
        wasm / node,
        wasm / native
    ))
}

/// What recording errors costs when none happen: the recording host's CPU per transaction and throughput over the
/// plain wasm host's, measured in the same run.
pub fn recording_line(figures: &[Figure]) -> Option<String> {
    let (f, r) = relative(figures, Impl::WasmRecording, Impl::Wasm)?;
    Some(format!(
        "recording {} c={} wasm-recording/wasm cpu={:.3} tx_per_s={:.3}",
        f.workload.name(),
        f.concurrency,
        r.cpu,
        r.tx_per_s
    ))
}

/// An A/B of two builds in one run: wasm's CPU per transaction, throughput and p50 over the baseline build's
/// (`wasm-base`), their rounds alternating.
pub fn ab_line(figures: &[Figure]) -> Option<String> {
    let (f, r) = relative(figures, Impl::Wasm, Impl::WasmBase)?;
    Some(format!(
        "ab {} c={} wasm/wasm-base cpu={:.3} tx_per_s={:.3} p50={:.3}",
        f.workload.name(),
        f.concurrency,
        r.cpu,
        r.tx_per_s,
        r.p50
    ))
}

/// One implementation's figures over another's.
struct Ratios {
    cpu: f64,
    tx_per_s: f64,
    p50: f64,
}

/// `a`'s figure and its ratios over `b`'s, when both implementations ran.
fn relative(figures: &[Figure], a: Impl, b: Impl) -> Option<(&Figure, Ratios)> {
    let find = |i: Impl| figures.iter().find(|f| f.which == i);
    let (a, b) = (find(a)?, find(b)?);
    let ratios =
        Ratios { cpu: a.cpu_us_per_tx / b.cpu_us_per_tx, tx_per_s: a.tx_per_s / b.tx_per_s, p50: a.p50_us / b.p50_us };
    Some((a, ratios))
}

/// The same for the paced part.
pub fn paced_ab_line(figures: &[PacedFigure]) -> Option<String> {
    let find = |i: Impl| figures.iter().find(|f| f.which == i);
    let (wasm, base) = (find(Impl::Wasm)?, find(Impl::WasmBase)?);
    Some(format!(
        "ab {} rate={:.0} clients={} wasm/wasm-base cpu={:.3} p50={:.3}",
        wasm.workload.name(),
        wasm.rate,
        wasm.clients,
        wasm.cpu_us_per_tx / base.cpu_us_per_tx,
        wasm.p50_us / base.p50_us
    ))
}

/// `paced <workload> rate=<tx/s> clients=<n> <impl> …`: the open loop a real peer drives.
pub fn paced_line(f: &PacedFigure) -> String {
    format!(
        "paced {} rate={:.0} clients={} {} tx_per_s={:.1} p50_us={:.1} p99_us={:.1} cpu_us_per_tx={:.1} \
         switches_per_tx={:.2}",
        f.workload.name(),
        f.rate,
        f.clients,
        f.which.name(),
        f.achieved_tx_per_s,
        f.p50_us,
        f.p99_us,
        f.cpu_us_per_tx,
        f.switches_per_tx
    )
}

pub fn sandbox_line(samples: &Samples) -> String {
    format!("sandbox noop median_us={:.2} p99_us={:.2}", samples.quantile(0.5), samples.quantile(0.99))
}

pub fn density_lines(d: &Density) -> Vec<String> {
    vec![
        format!("density chaincodes={} install_s={:.1} connect_us={:.0}", d.chaincodes, d.install_s, d.connect_us),
        format!("density rss_mb={:.1}", d.rss_mb),
        format!("density restart_ms={:.0}", d.restart_ms),
        format!("density first_tx_us={:.0}", d.first_tx_us),
        format!("density connected={} connected_rss_mb={:.1}", d.chaincodes, d.connected_rss_mb),
        format!("density install_to_serving_ms={:.0} module_kb={:.0}", d.install_to_serving_ms, d.install_module_kb),
    ]
}

pub fn many_density_line(d: &ManyDensity) -> String {
    format!(
        "density many={} install_s={:.1} idle_rss_mb={:.1} restart_ms={:.0} idle_wakeups_per_s={:.1}",
        d.chaincodes, d.install_s, d.rss_mb, d.restart_ms, d.idle_wakeups_per_s
    )
}

/// `isolation quiet …` (every quiet round pooled), or `isolation <attack> …` with the ratio of the victim's p99 to
/// its quiet round just before.
pub fn isolation_line(f: &VictimFigure) -> String {
    if f.condition == "quiet" {
        return format!(
            "isolation quiet victim_p50_us={:.1} victim_p99_us={:.1} victim_errors={}",
            f.p50_us, f.p99_us, f.errors
        );
    }
    format!(
        "isolation {} victim_p50_us={:.1} victim_p99_us={:.1} quiet_p99_us={:.1} ratio_p99={:.2} victim_errors={}",
        f.condition,
        f.p50_us,
        f.p99_us,
        f.quiet_p99_us,
        f.ratio_p99(),
        f.errors
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::workload::Workload;

    fn fig(which: Impl, tx_per_s: f64) -> Figure {
        Figure {
            workload: Workload::Rw10,
            concurrency: 64,
            which,
            tx_per_s,
            p50_us: 1.0,
            p99_us: 2.0,
            cpu_us_per_tx: 3.0,
            driver_cpu_us_per_tx: 4.0,
            switches_per_tx: 0.5,
        }
    }

    #[test]
    fn lines_have_the_documented_shape() {
        let figures = [fig(Impl::Wasm, 3000.0), fig(Impl::Native, 4000.0), fig(Impl::Node, 1000.0)];
        assert_eq!(
            bench_line(&figures[0]),
            "bench rw10 c=64 wasm tx_per_s=3000.0 p50_us=1.0 p99_us=2.0 cpu_us_per_tx=3.0 switches_per_tx=0.50"
        );
        assert_eq!(ratio_line(&figures).unwrap(), "ratio rw10 c=64 wasm/node=3.00 wasm/native=0.75");
        assert_eq!(ratio_line(&figures[..2]), None);
        assert_eq!(recording_line(&figures), None);
        let recorded = [fig(Impl::Wasm, 3000.0), fig(Impl::WasmRecording, 2970.0)];
        assert_eq!(
            recording_line(&recorded).unwrap(),
            "recording rw10 c=64 wasm-recording/wasm cpu=1.000 tx_per_s=0.990"
        );
        assert_eq!(ab_line(&figures), None);
        let mut ab = [fig(Impl::Wasm, 3000.0), fig(Impl::WasmBase, 2000.0)];
        ab[1].cpu_us_per_tx = 4.0;
        assert_eq!(ab_line(&ab).unwrap(), "ab rw10 c=64 wasm/wasm-base cpu=0.750 tx_per_s=1.500 p50=1.000");
        let paced = PacedFigure {
            workload: Workload::Get1,
            which: Impl::Native,
            rate: 500.0,
            clients: 32,
            achieved_tx_per_s: 499.5,
            p50_us: 180.0,
            p99_us: 400.0,
            cpu_us_per_tx: 61.25,
            switches_per_tx: 4.0,
        };
        assert_eq!(
            paced_line(&paced),
            "paced get1 rate=500 clients=32 native tx_per_s=499.5 p50_us=180.0 p99_us=400.0 cpu_us_per_tx=61.2 \
             switches_per_tx=4.00"
        );
    }

    #[test]
    fn isolation_lines_have_the_documented_shape() {
        let f = VictimFigure { condition: "slow", p50_us: 100.0, p99_us: 300.0, quiet_p99_us: 150.0, errors: 0 };
        assert_eq!(
            isolation_line(&f),
            "isolation slow victim_p50_us=100.0 victim_p99_us=300.0 quiet_p99_us=150.0 ratio_p99=2.00 victim_errors=0"
        );
        let quiet = VictimFigure { condition: "quiet", ..f };
        assert_eq!(isolation_line(&quiet), "isolation quiet victim_p50_us=100.0 victim_p99_us=300.0 victim_errors=0");
    }
}
