//! `/metrics`: the host's figures in the OpenMetrics text format, read from the registry's chaincodes, the engine's
//! gauges and the quota at scrape time (a `prometheus-client` collector; nothing is registered in advance, so a
//! removed chaincode disappears from the next scrape).

use std::sync::Arc;

use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder};
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::MetricType;
use wasmcc_proto::protos::chaincode_message::Type;

use crate::executor::LoadedChaincode;
use crate::quota::Admission;
use crate::registry::Registry;

/// The metrics text of a registry's host.
pub fn render(registry: &Arc<Registry>) -> String {
    let mut prometheus = prometheus_client::registry::Registry::default();
    prometheus.register_collector(Box::new(Exporter(registry.clone())));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &prometheus).expect("writing to a String");
    text
}

struct Exporter(Arc<Registry>);

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Exporter")
    }
}

type Labels = Vec<(&'static str, String)>;

fn counter(m: &mut MetricEncoder<'_>, labels: &Labels, value: u64) -> Result<(), std::fmt::Error> {
    m.encode_family(labels)?.encode_counter(&value, None::<&Exemplar<Labels, u64>>)
}

/// One sample of a counter or a gauge.
fn sample(m: &mut MetricEncoder<'_>, kind: MetricType, labels: &Labels, value: u64) -> Result<(), std::fmt::Error> {
    match kind {
        MetricType::Counter => counter(m, labels, value),
        _ => m.encode_family(labels)?.encode_gauge(&(value.min(i64::MAX as u64) as i64)),
    }
}

/// A per-chaincode value, read at scrape time.
type PerChaincode = fn(&LoadedChaincode, &Admission) -> u64;

impl prometheus_client::collector::Collector for Exporter {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let registry = &self.0;
        let engine = registry.engine();
        let chaincodes: Vec<(Labels, Arc<LoadedChaincode>)> = registry
            .chaincodes()
            .into_iter()
            .map(|(record, cc)| {
                let hash = record.ccid.rsplit(':').next().unwrap_or_default().chars().take(12).collect();
                (vec![("chaincode", record.label), ("hash", hash)], cc)
            })
            .collect();

        // Each family is written whole before the next: its encoder borrows `encoder` while it lives.
        let mut m = encoder.encode_descriptor(
            "wasmcc_transactions",
            "Transactions by how they ended",
            None,
            MetricType::Counter,
        )?;
        for (labels, cc) in &chaincodes {
            for (outcome, n) in cc.metrics.outcomes() {
                let mut labels = labels.clone();
                labels.push(("outcome", outcome.label().to_owned()));
                counter(&mut m, &labels, n)?;
            }
        }
        let mut m = encoder.encode_descriptor(
            "wasmcc_transaction_duration_seconds",
            "From the peer's TRANSACTION or INIT to the answer",
            None,
            MetricType::Histogram,
        )?;
        for (labels, cc) in &chaincodes {
            let (sum, count, buckets) = cc.metrics.duration().snapshot();
            m.encode_family(labels)?.encode_histogram(
                sum,
                count,
                &buckets,
                None::<&std::collections::HashMap<usize, Exemplar<Labels, f64>>>,
            )?;
        }
        let admission = &engine.quota().admission;
        // One value per chaincode: (name, help, type, value).
        let singles: [(&str, &str, MetricType, PerChaincode); 5] = [
            ("wasmcc_fuel_consumed", "Fuel the guests burned", MetricType::Counter, |cc, _| cc.metrics.fuel()),
            (
                "wasmcc_transactions_moved",
                "Transactions started on a network thread that ran past their budget there and moved to the guest threads",
                MetricType::Counter,
                |cc, _| cc.inline.moves(),
            ),
            (
                "wasmcc_guest_memory_peak_bytes",
                "The largest linear memory one transaction grew to",
                MetricType::Gauge,
                |cc, _| cc.metrics.memory_peak(),
            ),
            ("wasmcc_peer_streams", "Peer streams open now", MetricType::Gauge, |cc, _| {
                cc.metrics.streams().max(0) as u64
            }),
            (
                "wasmcc_transactions_queued",
                "Transactions admitted to the chaincode's queue, waiting for an instance",
                MetricType::Gauge,
                |cc, admission| u64::from(admission.usage(&cc.ccid).1),
            ),
        ];
        for (name, help, kind, value) in singles {
            let mut m = encoder.encode_descriptor(name, help, None, kind)?;
            for (labels, cc) in &chaincodes {
                sample(&mut m, kind, labels, value(cc, admission))?;
            }
        }
        let mut m = encoder.encode_descriptor(
            "wasmcc_stub_calls",
            "Requests to the peer by message type",
            None,
            MetricType::Counter,
        )?;
        for (labels, cc) in &chaincodes {
            for (ty, n) in cc.metrics.stub_calls() {
                let mut labels = labels.clone();
                let name = Type::try_from(ty).map(|t| t.as_str_name().to_owned()).unwrap_or_else(|_| ty.to_string());
                labels.push(("call", name));
                counter(&mut m, &labels, n)?;
            }
        }

        let none = Labels::new();
        let capacity = admission.capacity();
        let (instances, memory) = admission.in_use();
        let (gauges, counters) = (engine.gauges(), registry.counters());
        let host: [(&str, &str, MetricType, u64); 10] = [
            (
                "wasmcc_instances_in_use",
                "Instances of the host-wide pool held by transactions",
                MetricType::Gauge,
                u64::from(instances),
            ),
            (
                "wasmcc_instances_capacity",
                "The host-wide instance pool ([quota] instances)",
                MetricType::Gauge,
                u64::from(capacity.instances),
            ),
            (
                "wasmcc_memory_budget_in_use_bytes",
                "Guest memory reserved by running transactions",
                MetricType::Gauge,
                memory,
            ),
            (
                "wasmcc_memory_budget_bytes",
                "The host-wide guest memory budget ([quota] memory_mb)",
                MetricType::Gauge,
                capacity.memory_bytes,
            ),
            (
                "wasmcc_guest_threads",
                "Threads that run guests: at most this many guests compute at once ([quota] threads)",
                MetricType::Gauge,
                engine.quota().threads.threads() as u64,
            ),
            (
                "wasmcc_cpu_turn_waiters",
                "Guests ready to compute and waiting for a turn on the guest threads",
                MetricType::Gauge,
                gauges.turn_waiters() as u64,
            ),
            ("wasmcc_compiles", "Modules compiled by this host", MetricType::Counter, gauges.compilations() as u64),
            (
                "wasmcc_installs",
                "Chaincodes installed since the host started",
                MetricType::Counter,
                counters.installs(),
            ),
            ("wasmcc_removes", "Chaincodes removed since the host started", MetricType::Counter, counters.removes()),
            (
                "wasmcc_shared_store_full_reads",
                "Reads of every chaincode of the shared store (at start and on reconnecting; an announcement reads only \
                 the chaincode it names)",
                MetricType::Counter,
                counters.shared_store_reads(),
            ),
        ];
        for (name, help, kind, value) in host {
            sample(&mut encoder.encode_descriptor(name, help, None, kind)?, kind, &none, value)?;
        }
        let compile_time = gauges.compile_time().as_secs_f64();
        encoder
            .encode_descriptor("wasmcc_compile_seconds", "Time spent compiling modules", None, MetricType::Counter)?
            .encode_counter(&compile_time, None::<&Exemplar<Labels, f64>>)?;
        let mut m = encoder.encode_descriptor(
            "wasmcc_admin_requests",
            "Admin API responses by HTTP status",
            None,
            MetricType::Counter,
        )?;
        for (status, n) in counters.admin_responses() {
            counter(&mut m, &vec![("status", status.to_string())], n)?;
        }
        let (written, dropped) = registry.recorder().map(|r| r.counts()).unwrap_or_default();
        let mut m = encoder.encode_descriptor(
            "wasmcc_recordings",
            "Transactions recorded ([record]): written, or dropped because the writer fell behind",
            None,
            MetricType::Counter,
        )?;
        for (result, n) in [("written", written), ("dropped", dropped)] {
            counter(&mut m, &vec![("result", result.to_string())], n)?;
        }
        Ok(())
    }
}
