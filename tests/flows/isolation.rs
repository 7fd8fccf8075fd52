//! One host, many tenants: a victim chaincode under steady load while another chaincode is attacked. The victim
//! gets no error, and every attacking transaction ends with a clear ERROR. No timings are asserted: the tests
//! check outcomes, and the benchmark (`bench --parts isolation`) measures latency.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use wasmcc_host::limits::TxLimits;
use wasmcc_host::quota::QuotaConfig;
use wasmcc_peer::{args, ConnectOptions, PeerConnection, PeerSim, TxResult};
use wasmcc_tests::{Served, TestHost};

/// The victim: `counter inc` one transaction after another, until told to stop.
struct Victim {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(u32, Vec<String>)>,
}

impl Victim {
    async fn start(peer: &PeerSim, served: &Served) -> Victim {
        let conn = peer.connect(&served.addr(), &served.ccid).await.unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let done = stop.clone();
        let task = tokio::spawn(async move {
            let (mut ok, mut errors) = (0, Vec::new());
            while !done.load(Ordering::Relaxed) || ok == 0 {
                match conn.invoke("ch", args(["inc", "victim"])).await {
                    Ok(r) if r.status() == Some(200) => ok += 1,
                    Ok(r) => errors.push(format!("{:?}", r.outcome)),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            (ok, errors)
        });
        Victim { stop, task }
    }

    /// Stops the load and asserts it ran without a single error.
    async fn assert_unharmed(self) {
        self.stop.store(true, Ordering::Relaxed);
        let (ok, errors) = self.task.await.unwrap();
        assert!(errors.is_empty(), "the victim got {} errors, first: {:?}", errors.len(), errors.first());
        assert!(ok > 0);
    }
}

/// Sends `count` transactions at once, spread over the connections, and waits for every answer.
async fn flood(conns: &[PeerConnection], count: usize, function: &[&str]) -> Vec<TxResult> {
    let sends = (0..count).map(|i| conns[i % conns.len()].invoke("ch", args(function.iter().copied())));
    join_all(sends).await.into_iter().map(|r| r.expect("the peer got an answer")).collect()
}

/// Every result is an ERROR whose text one of `clear` explains.
fn assert_all_errors(results: &[TxResult], clear: &[&str]) -> Vec<String> {
    let texts: Vec<String> = results
        .iter()
        .map(|r| r.error().unwrap_or_else(|| panic!("expected ERROR, got {:?}", r.outcome)).to_string())
        .collect();
    for text in &texts {
        assert!(clear.iter().any(|c| text.contains(c)), "unexpected error text: {text}");
    }
    texts
}

/// A peer that never answers GET_STATE within a test, and itself waits far longer than the host.
fn silent_peer() -> ConnectOptions {
    ConnectOptions {
        request_delay: Some(Duration::from_secs(3600)),
        execute_timeout: Duration::from_secs(600),
        ..ConnectOptions::default()
    }
}

async fn connections(peer: &PeerSim, served: &Served, n: usize, opts: ConnectOptions) -> Vec<PeerConnection> {
    let mut conns = Vec::new();
    for _ in 0..n {
        conns.push(peer.connect_with(&served.addr(), &served.ccid, opts.clone()).await.unwrap());
    }
    conns
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slow_transactions_of_one_chaincode_leave_another_unharmed() {
    let mut host = TestHost::new();
    let victim = host.serve("counter", "counter", TxLimits::default()).await;
    // Slow but honest: a few milliseconds of computation each, ending on fuel.
    let attacker = host.serve("misbehave", "misbehave", TxLimits { fuel: 5_000_000, ..TxLimits::default() }).await;
    let peer = PeerSim::new();
    let load = Victim::start(&peer, &victim).await;
    let streams = connections(&peer, &attacker, 2, ConnectOptions::default()).await;

    let results = flood(&streams, 1_000, &["loop"]).await;
    let texts = assert_all_errors(&results, &["fuel budget of 5000000", "chaincode misbehave:"]);
    let limits = TxLimits::default();
    let refused = texts.iter().filter(|t| t.contains("its queue limit")).count();
    assert!(
        refused > 0,
        "a flood past the cap ({}) and queue ({}) is refused at once",
        limits.concurrency,
        limits.queue
    );
    load.assert_unharmed().await;
    assert_eq!(host.engine().quota().admission.usage(&attacker.ccid), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_answers_holds_nothing_past_the_execute_timeout() {
    let mut host = TestHost::new();
    let victim = host.serve("counter", "counter", TxLimits::default()).await;
    let limits = TxLimits { execute_timeout_ms: 1_000, queue: 64, ..TxLimits::default() };
    let attacker = host.serve("probe", "probe", limits).await;
    let peer = PeerSim::new();
    let load = Victim::start(&peer, &victim).await;
    let streams = connections(&peer, &attacker, 2, silent_peer()).await;

    let results = flood(&streams, 1_020, &["get", "k"]).await;
    let texts = assert_all_errors(&results, &["execute timeout of 1000 ms", "chaincode probe:"]);
    assert!(texts.iter().any(|t| t.contains("execute timeout")), "the admitted ones ended on the deadline");
    load.assert_unharmed().await;
    let engine = host.engine();
    assert_eq!(engine.quota().admission.usage(&attacker.ccid), (0, 0), "every instance was freed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bombs_wait_for_the_budget_and_never_overcommit_it() {
    // 512 MiB of guest memory: eight 64 MiB transactions at a time, whoever they belong to.
    let quota = QuotaConfig { memory_mb: Some(512), ..QuotaConfig::default() };
    let mut host = TestHost::with_quota(&quota);
    let victim = host.serve("counter", "counter", TxLimits::default()).await;
    let attacker = host.serve("misbehave", "misbehave", TxLimits::default()).await;
    let peer = PeerSim::new();
    let load = Victim::start(&peer, &victim).await;
    let streams = connections(&peer, &attacker, 1, ConnectOptions::default()).await;

    let admission = host.engine().quota().admission.clone();
    let peak = Arc::new(AtomicU32::new(0));
    let watch = tokio::spawn({
        let (admission, peak) = (admission.clone(), peak.clone());
        async move {
            loop {
                let (_, memory) = admission.in_use();
                peak.fetch_max((memory >> 20) as u32, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    let results = flood(&streams, 64, &["alloc"]).await;
    watch.abort();
    assert_all_errors(&results, &["memory limit exceeded"]);
    assert!(peak.load(Ordering::Relaxed) <= 512, "reserved {} MiB of 512", peak.load(Ordering::Relaxed));
    load.assert_unharmed().await;
    assert_eq!(admission.usage(&attacker.ccid), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_runaway_loops_all_end_on_fuel() {
    let mut host = TestHost::new();
    let victim = host.serve("counter", "counter", TxLimits::default()).await;
    let attacker = host.serve("misbehave", "misbehave", TxLimits { fuel: 20_000_000, ..TxLimits::default() }).await;
    let peer = PeerSim::new();
    let load = Victim::start(&peer, &victim).await;
    let streams = connections(&peer, &attacker, 1, ConnectOptions::default()).await;
    let results = flood(&streams, 64, &["loop"]).await;
    // Fuel, not time: however busy the host, each loop ends at the same instruction.
    assert_all_errors(&results, &["fuel budget of 20000000"]);
    load.assert_unharmed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_past_its_stream_cap_gets_its_refusals_held_back() {
    let mut host = TestHost::new();
    let victim = host.serve("counter", "counter", TxLimits::default()).await;
    let limits = TxLimits { execute_timeout_ms: 2_000, ..TxLimits::default() };
    let attacker = host.serve("probe", "probe", limits).await;
    let peer = PeerSim::new();
    let load = Victim::start(&peer, &victim).await;
    // Every admitted transaction holds its slot of the stream until its deadline.
    let stream = connections(&peer, &attacker, 1, silent_peer()).await.remove(0);
    let cap = wasmcc_host::limits::MAX_TX_PER_STREAM;
    let timed = (0..cap + 200).map(|_| async {
        let sent = std::time::Instant::now();
        let result = stream.invoke("ch", args(["get", "k"])).await.expect("an answer");
        (result, sent.elapsed())
    });
    let results = join_all(timed).await;
    let over_cap: Vec<Duration> = results
        .iter()
        .filter(|(r, _)| r.error().is_some_and(|e| e.contains("too many concurrent transactions on this stream")))
        .map(|(_, waited)| *waited)
        .collect();
    assert!(!over_cap.is_empty(), "sending past the cap is refused");
    // Held back as long as a queue refusal, so the peer cannot make the host refuse at line rate.
    let delay = wasmcc_host::limits::REFUSAL_DELAY;
    assert!(over_cap.iter().all(|waited| *waited >= delay), "a refusal came back sooner than {delay:?}");
    let texts: Vec<_> = results.iter().map(|(r, _)| r.clone()).collect();
    assert_all_errors(&texts, &["too many concurrent transactions", "execute timeout of 2000 ms", "chaincode probe:"]);
    load.assert_unharmed().await;
}

/// A runaway loop that a quiet host starts on the thread that read its message — here the test's only thread, which
/// the peer and the other chaincode need too — leaves that thread within its budget: another chaincode's transaction,
/// sent after the loop started, is answered while the loop still runs, and the loop ends on the guest threads.
#[tokio::test(flavor = "current_thread")]
async fn a_runaway_loop_started_on_the_network_thread_leaves_it() {
    let mut host = TestHost::new();
    let victim = host.serve("counter", "counter", TxLimits::default()).await;
    // About a second of computation, ending on fuel.
    let attacker = host.serve("misbehave", "misbehave", TxLimits { fuel: 500_000_000, ..TxLimits::default() }).await;
    let peer = PeerSim::new();
    let attack = peer.connect(&attacker.addr(), &attacker.ccid).await.unwrap();
    let other = peer.connect(&victim.addr(), &victim.ccid).await.unwrap();
    let looping = tokio::spawn(async move { attack.invoke("ch", args(["loop"])).await });
    while host.engine().gauges().live_instances() == 0 {
        tokio::task::yield_now().await;
    }
    let answered = other.invoke("ch", args(["inc", "k"])).await.unwrap();
    assert_eq!(answered.status(), Some(200), "{:?}", answered.outcome);
    assert!(!looping.is_finished(), "the loop ended before another chaincode's transaction could be answered");
    let ended = looping.await.unwrap().unwrap();
    assert!(ended.error().is_some_and(|e| e.contains("fuel budget")), "{:?}", ended.outcome);
    assert_eq!(attacker.chaincode.inline.moves(), 1, "the loop moved to the guest threads");
    assert_eq!(victim.chaincode.inline.moves(), 0);
}
