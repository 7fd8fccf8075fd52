//! `bench --quick` runs to the end and prints every figure BENCHMARKS.md documents. The figures themselves are not
//! asserted: benchmarks are not timed tests.

use std::process::Command;

/// Every `key=value` of a line, or a panic naming the line.
fn fields(line: &str, keys: &[&str]) -> Vec<f64> {
    keys.iter()
        .map(|key| {
            let value = line
                .split_whitespace()
                .find_map(|f| f.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("no {key}= in {line:?}"));
            let v: f64 = value.parse().unwrap_or_else(|_| panic!("{key}={value} is not a number in {line:?}"));
            assert!(v.is_finite() && v >= 0.0, "{key}={value} in {line:?}");
            v
        })
        .collect()
}

fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{out}"))
}

#[test]
fn bench_quick_prints_every_figure() {
    let out = Command::new(env!("CARGO_BIN_EXE_bench")).arg("--quick").output().expect("running bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench --quick failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for workload in ["noop", "get1", "rw10", "range100"] {
        for c in [1, 64] {
            for which in ["wasm", "native", "node"] {
                let l = line(&stdout, &format!("bench {workload} c={c} {which} "));
                let [tps, p50, p99, cpu] = fields(l, &["tx_per_s", "p50_us", "p99_us", "cpu_us_per_tx"])[..] else {
                    unreachable!()
                };
                // CPU is read per thread in nanoseconds: every implementation that served transactions used some.
                assert!(tps > 0.0 && p50 > 0.0 && p50 <= p99 && cpu > 0.0, "{l}");
            }
            fields(line(&stdout, &format!("ratio {workload} c={c} ")), &["wasm/node", "wasm/native"]);
        }
    }
    let [median, p99] = fields(line(&stdout, "sandbox noop "), &["median_us", "p99_us"])[..] else { unreachable!() };
    assert!(median <= p99, "median {median} above p99 {p99}");
    assert!(fields(line(&stdout, "density rss_mb="), &["rss_mb"])[0] > 0.0);
    fields(line(&stdout, "density restart_ms="), &["restart_ms"]);
    fields(line(&stdout, "density first_tx_us="), &["first_tx_us"]);
    fields(line(&stdout, "density chaincodes="), &["chaincodes"]);
}
