//! `bench --quick` runs to the end and prints every figure BENCHMARKS.md documents. The figures themselves are not
//! asserted: benchmarks are not timed tests.

use std::ffi::OsStr;
use std::process::Command;

/// Runs `bench` with `args` and returns what it printed, or fails with everything it printed.
fn bench<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bench"));
    cmd.args(args);
    let out = cmd.output().expect("running bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{cmd:?} failed: {}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    stdout
}

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
    let stdout = bench(["--quick"]);
    for workload in ["noop", "get1", "rw10", "range100"] {
        for c in [1, 64] {
            for which in ["wasm", "native", "node"] {
                let l = line(&stdout, &format!("bench {workload} c={c} {which} "));
                let keys = ["tx_per_s", "p50_us", "p99_us", "cpu_us_per_tx", "switches_per_tx"];
                let [tps, p50, p99, cpu, switches] = fields(l, &keys)[..] else { unreachable!() };
                // CPU is read per thread in nanoseconds: every implementation that served transactions used some,
                // and its threads slept and woke while doing it.
                assert!(tps > 0.0 && p50 > 0.0 && p50 <= p99 && cpu > 0.0 && switches > 0.0, "{l}");
            }
            fields(line(&stdout, &format!("ratio {workload} c={c} ")), &["wasm/node", "wasm/native"]);
        }
    }
    // The paced part: the open loop at a peer's rate, for every implementation.
    for workload in ["noop", "get1"] {
        for which in ["wasm", "native", "node"] {
            let l = line(&stdout, &format!("paced {workload} rate=500 clients=32 {which} "));
            let keys = ["tx_per_s", "p50_us", "p99_us", "cpu_us_per_tx", "switches_per_tx"];
            let [tps, p50, p99, cpu, switches] = fields(l, &keys)[..] else { unreachable!() };
            // At a peer's pace the server sleeps between transactions and wakes for them. Not one wake-up each: on
            // a machine loaded by the other tests, a transaction may arrive before the server has gone to sleep
            // (Node's shim read 0.97 per transaction once).
            assert!(tps > 0.0 && p50 > 0.0 && p50 <= p99 && cpu > 0.0 && switches > 0.0, "{l}");
        }
    }
    let [median, p99] = fields(line(&stdout, "sandbox noop "), &["median_us", "p99_us"])[..] else { unreachable!() };
    assert!(median <= p99, "median {median} above p99 {p99}");
    assert!(fields(line(&stdout, "density rss_mb="), &["rss_mb"])[0] > 0.0);
    fields(line(&stdout, "density restart_ms="), &["restart_ms"]);
    fields(line(&stdout, "density first_tx_us="), &["first_tx_us"]);
    fields(line(&stdout, "density chaincodes="), &["chaincodes"]);
    let connected = fields(line(&stdout, "density connected="), &["connected", "connected_rss_mb"]);
    assert!(connected[0] > 0.0 && connected[1] > 0.0);
    let served = fields(line(&stdout, "density install_to_serving_ms="), &["install_to_serving_ms", "module_kb"]);
    assert!(served[0] > 0.0 && served[1] > 100.0, "a module of over 100 KB");
    let many = fields(
        line(&stdout, "density many="),
        &["many", "install_s", "idle_rss_mb", "restart_ms", "idle_wakeups_per_s"],
    );
    assert!(many[0] == 200.0 && many[2] > 0.0);
    // A host with nothing to serve sleeps: its epoch ticker used to look 250 times a second (BENCHMARKS.md change 25).
    // A blocking-pool thread ending its keep-alive may wake once in the window.
    assert!(many[4] < 10.0, "an idle host woke {} times a second", many[4]);
}

/// The isolation part is not among the default parts (it loads the machine on purpose); its quick run prints a line
/// per attack, and the victim got no error under any of them. The ratios are not asserted.
#[test]
fn bench_quick_isolation_prints_every_attack_and_the_victim_never_fails() {
    let stdout = bench(["--quick", "--parts", "isolation"]);
    let quiet = line(&stdout, "isolation quiet ");
    let [p50, p99, errors] = fields(quiet, &["victim_p50_us", "victim_p99_us", "victim_errors"])[..] else {
        unreachable!()
    };
    assert!(p50 > 0.0 && p50 <= p99 && errors == 0.0, "{quiet}");
    for attack in ["slow", "silent-peer", "memory", "loops", "connections", "upload"] {
        let l = line(&stdout, &format!("isolation {attack} "));
        let keys = ["victim_p50_us", "victim_p99_us", "quiet_p99_us", "ratio_p99", "victim_errors"];
        let [p50, p99, quiet_p99, ratio, errors] = fields(l, &keys)[..] else { unreachable!() };
        assert_eq!(errors, 0.0, "the victim failed under the {attack} attack: {l}\n{stdout}");
        assert!(p50 > 0.0 && p50 <= p99 && quiet_p99 > 0.0 && ratio > 0.0, "{l}");
        let rss = line(&stdout, &format!("isolation {attack}: host RSS "));
        // Memory comes back: what may stay is the pool's resident share of the slots the attack used (64 bombs ×
        // 2 MiB), never the bombs' memory.
        let mb = |label: &str| -> f64 {
            let before = rss.split(label).next().unwrap_or_default();
            before.rsplit(|c: char| !c.is_ascii_digit()).find(|w| !w.is_empty()).and_then(|w| w.parse().ok()).unwrap()
        };
        let (before, settled) = (mb(" MB before"), mb(" MB settled"));
        assert!(settled <= before + 256.0, "the host kept memory after the {attack} attack: {rss}");
    }
}

/// `--host-exe`: the wasm implementation served by a `wasmcc` binary's own `wasmcc serve` (what
/// scripts/build-release.sh trains a profile-guided build on), which ends by itself when asked (SIGTERM): an
/// instrumented build writes its profile only then, and the bench fails when a server had to be killed.
#[test]
fn bench_measures_a_wasmcc_binary_and_stops_it_cleanly() {
    // `cargo test --workspace` builds every binary of the workspace, the host's beside this one.
    let wasmcc = std::path::Path::new(env!("CARGO_BIN_EXE_bench")).with_file_name("wasmcc");
    assert!(wasmcc.exists(), "{} is missing: cargo build -p wasmcc-host --bin wasmcc", wasmcc.display());
    let args = ["--quick", "--parts", "compare,paced", "--impls", "wasm", "--workloads", "get1", "--concurrency", "1"];
    let stdout = bench(args.iter().map(OsStr::new).chain([OsStr::new("--host-exe"), wasmcc.as_os_str()]));
    assert!(stdout.contains(&format!("wasm: served by {} serve", wasmcc.display())), "{stdout}");
    for prefix in ["bench get1 c=1 wasm ", "paced get1 rate=500 clients=32 wasm "] {
        let l = line(&stdout, prefix);
        let [tps, p50, cpu] = fields(l, &["tx_per_s", "p50_us", "cpu_us_per_tx"])[..] else { unreachable!() };
        assert!(tps > 0.0 && p50 > 0.0 && cpu > 0.0, "{l}");
    }
}

/// `--baseline-exe`: two builds in one run, their rounds alternating, and the `ab` lines that compare them.
#[test]
fn bench_compares_two_wasmcc_builds_in_one_run() {
    let wasmcc = std::path::Path::new(env!("CARGO_BIN_EXE_bench")).with_file_name("wasmcc");
    let args = ["--quick", "--parts", "compare,paced", "--impls", "wasm,wasm-base", "--workloads", "get1"];
    let exes = [OsStr::new("--host-exe"), wasmcc.as_os_str(), OsStr::new("--baseline-exe"), wasmcc.as_os_str()];
    let stdout = bench(args.iter().map(OsStr::new).chain(exes));
    assert!(stdout.contains(&format!("wasm-base: served by {} serve", wasmcc.display())), "{stdout}");
    for prefix in ["bench get1 c=64 wasm-base ", "paced get1 rate=500 clients=32 wasm-base "] {
        let l = line(&stdout, prefix);
        let [tps, cpu] = fields(l, &["tx_per_s", "cpu_us_per_tx"])[..] else { unreachable!() };
        assert!(tps > 0.0 && cpu > 0.0, "{l}");
    }
    for prefix in ["ab get1 c=1 wasm/wasm-base ", "ab get1 c=64 wasm/wasm-base ", "ab get1 rate=500 clients=32 "] {
        let l = line(&stdout, prefix);
        assert!(fields(l, &["cpu", "p50"]).iter().all(|&r| r > 0.0), "{l}");
    }

    let missing = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["--quick", "--parts", "compare", "--impls", "wasm-base", "--workloads", "noop", "--concurrency", "1"])
        .output()
        .expect("running bench");
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("needs --baseline-exe"), "{stderr}");
}
