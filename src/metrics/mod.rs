//! Observability: Prometheus metrics, liveness and readiness, and what the logs say.
//!
//! - [`Metrics`]: every metric family, registered once per process in one registry
//!   ([`global`]). Pipelines resolve the handles they need once ([`export::Exporter`]) and
//!   update them per batch from the core's [`Stats`](crate::core::Stats) and outputs, never
//!   from inside the core.
//! - [`health`]: what `/livez` and `/readyz` answer.
//! - [`http`]: the listener serving `/metrics`, `/livez` (alias `/healthz`) and `/readyz`.
//! - [`log`]: `TAGSTREAM_LOG` / `TAGSTREAM_LOG_FORMAT`, and the rate-limited summary of dead
//!   letters (a broken producer must not flood the log).
//! - [`kafka`]: consumer lag from librdkafka statistics, commit results.
//!
//! Label values come only from fixed sets (event types, decode reasons, handler names, error
//! kinds), from the rule pack (rule and tag names) or from the config (topics) and partition
//! numbers: never from input data.
//!
//! Hooks for code that holds no handle: [`rules_reloaded`], [`set_rules`],
//! [`partitions_assigned`], [`partitions_revoking`], [`produce_failed`],
//! [`checkpoint_durable`], [`outputs_acknowledged`], [`loop_beat`], [`draining`].

pub mod export;
pub mod health;
pub mod http;
pub mod kafka;
pub mod log;

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Instant;

use prometheus::core::Collector;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::decode::EventType;
use crate::rules::{RuleErrorKind, RulePack};
use crate::tags::{DeadLetter, Op};
use health::Health;
use log::BadInputLog;

/// Every metric tagstream exports. One per process: see [`global`].
pub struct Metrics {
    pub registry: Registry,
    pub records: IntCounter,
    pub events: IntCounterVec,
    pub dead_letters: IntCounterVec,
    pub tag_changes: IntCounterVec,
    pub tags_held: IntGaugeVec,
    pub users: IntGauge,
    pub rule_invocations: IntCounterVec,
    pub rule_errors: IntCounterVec,
    pub rule_compiled: IntGaugeVec,
    pub rule_duration: HistogramVec,
    pub timers_pending: IntGauge,
    pub timers_fired: IntCounter,
    pub event_time_lag: prometheus::GaugeVec,
    pub processing_latency: Histogram,
    pub consumer_lag: IntGaugeVec,
    pub rebalances: IntCounter,
    pub regroups: IntCounter,
    pub commits: IntCounterVec,
    pub produce_errors: IntCounter,
    pub checkpoints: IntCounter,
    pub checkpoint_duration: Histogram,
    pub restore_duration: Histogram,
    pub rules_reloads: IntCounterVec,
    pub build_info: IntGaugeVec,
    pub ready: IntGauge,
    pub health: Health,
    pub bad_input: BadInputLog,
}

/// Rule time per event: compiled handlers take about a microsecond, the interpreter tens.
const RULE_BUCKETS: &[f64] = &[
    0.000_000_5,
    0.000_001,
    0.000_002_5,
    0.000_005,
    0.000_01,
    0.000_025,
    0.000_05,
    0.000_1,
    0.000_25,
    0.001,
    0.01,
    0.1,
];

/// Record in → outputs acknowledged, checkpoints, restores.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

fn register<C: Collector + Clone + 'static>(registry: &Registry, collector: C) -> C {
    registry
        .register(Box::new(collector.clone()))
        .expect("metric names are valid and registered once");
    collector
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    register(r, IntCounter::new(name, help).expect("valid metric"))
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(
        r,
        IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"),
    )
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    register(r, IntGauge::new(name, help).expect("valid metric"))
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(
        r,
        IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric"),
    )
}

fn histogram(r: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    register(r, Histogram::with_opts(opts).expect("valid metric"))
}

impl Metrics {
    /// A registry with every family registered, and the process collector (RSS, CPU, open fds).
    pub fn new() -> Metrics {
        let r = Registry::new();
        #[cfg(target_os = "linux")]
        r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))
        .expect("the process collector registers once");
        let m = Metrics {
            records: counter(&r, "tagstream_records_total", "Input records read (valid or not)."),
            events: counter_vec(&r, "tagstream_events_total", "Valid events processed.", &["type"]),
            dead_letters: counter_vec(
                &r,
                "tagstream_dead_letters_total",
                "Dead letters written, by reason (a decode reason, or rule_error).",
                &["reason"],
            ),
            tag_changes: counter_vec(
                &r,
                "tagstream_tag_changes_total",
                "Tag changes emitted.",
                &["tag", "op"],
            ),
            tags_held: gauge_vec(
                &r,
                "tagstream_tags_held",
                "Users holding each tag now, over the partitions this instance owns.",
                &["tag"],
            ),
            users: gauge(&r, "tagstream_users", "Users in state, over the partitions this instance owns."),
            rule_invocations: counter_vec(
                &r,
                "tagstream_rule_invocations_total",
                "Rule handler calls.",
                &["rule", "handler"],
            ),
            rule_errors: counter_vec(
                &r,
                "tagstream_rule_errors_total",
                "Rule errors (each is a dead letter with reason rule_error).",
                &["rule", "kind"],
            ),
            rule_compiled: gauge_vec(
                &r,
                "tagstream_rule_compiled",
                "1 when the rule runs in compiled form, 0 when Rhai's interpreter runs it \
                 (rules.execution, or a construct the compiled form lacks).",
                &["rule"],
            ),
            rule_duration: register(
                &r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "tagstream_rule_duration_seconds",
                        "Time in a rule for one event, sampled on one event in 16.",
                    )
                    .buckets(RULE_BUCKETS.to_vec()),
                    &["rule"],
                )
                .expect("valid metric"),
            ),
            timers_pending: gauge(
                &r,
                "tagstream_timers_pending",
                "Timer wake-ups and tag expiries queued, over the partitions this instance owns.",
            ),
            timers_fired: counter(&r, "tagstream_timers_fired_total", "Rule timers fired."),
            event_time_lag: register(
                &r,
                prometheus::GaugeVec::new(
                    Opts::new(
                        "tagstream_event_time_lag_seconds",
                        "Wall clock minus the partition's event-time clock.",
                    ),
                    &["partition"],
                )
                .expect("valid metric"),
            ),
            processing_latency: histogram(
                &r,
                "tagstream_processing_latency_seconds",
                "From a record reaching its worker to its outputs being acknowledged.",
                LATENCY_BUCKETS,
            ),
            consumer_lag: gauge_vec(
                &r,
                "tagstream_kafka_consumer_lag",
                "Messages behind the high watermark (librdkafka statistics; unknown lag is left out).",
                &["topic", "partition"],
            ),
            rebalances: counter(
                &r,
                "tagstream_kafka_rebalances_total",
                "Partition assignments received from the group.",
            ),
            regroups: counter(
                &r,
                "tagstream_kafka_regroups_total",
                "Times this instance left the group and joined again because the coordinator left partitions without an owner.",
            ),
            commits: counter_vec(
                &r,
                "tagstream_kafka_commits_total",
                "Offset commits, by result (ok, error).",
                &["result"],
            ),
            produce_errors: counter(
                &r,
                "tagstream_kafka_produce_errors_total",
                "Deliveries that failed and were sent again.",
            ),
            checkpoints: counter(
                &r,
                "tagstream_checkpoints_total",
                "Partition checkpoints made durable in the changelog.",
            ),
            checkpoint_duration: histogram(
                &r,
                "tagstream_checkpoint_duration_seconds",
                "Time to make one checkpoint durable.",
                LATENCY_BUCKETS,
            ),
            restore_duration: histogram(
                &r,
                "tagstream_state_restore_duration_seconds",
                "Time to restore one partition's state from the changelog.",
                LATENCY_BUCKETS,
            ),
            rules_reloads: counter_vec(
                &r,
                "tagstream_rules_reloads_total",
                "Rule set reloads, by result (ok, error).",
                &["result"],
            ),
            build_info: gauge_vec(
                &r,
                "tagstream_build_info",
                "Always 1: the version and the hash of the loaded rule set.",
                &["version", "rules_version"],
            ),
            ready: gauge(&r, "tagstream_ready", "1 when /readyz answers 200, else 0."),
            health: Health::new(),
            bad_input: BadInputLog::new(),
            registry: r,
        };
        for t in EventType::ALL {
            m.events.with_label_values(&[t.as_str()]);
        }
        m.dead_letters.with_label_values(&[DeadLetter::RULE_ERROR]);
        for result in ["ok", "error"] {
            m.commits.with_label_values(&[result]);
            m.rules_reloads.with_label_values(&[result]);
        }
        m
    }

    /// Describes the loaded rule set: `build_info`, how each rule runs (logged too, for a rule
    /// the interpreter runs), and every tag and rule at zero so that `rate()` and alerts see
    /// them before their first change.
    pub fn set_rules(&self, pack: &RulePack) {
        self.build_info.reset();
        self.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), &rules_version(pack)])
            .set(1);
        for id in 0..pack.catalogue.len() {
            let tag = pack.catalogue.name(id as crate::tags::TagId);
            for op in [Op::Add, Op::Remove] {
                self.tag_changes.with_label_values(&[tag, op.as_str()]);
            }
            self.tags_held.with_label_values(&[tag]);
        }
        for rule in pack.rules.iter() {
            for kind in RuleErrorKind::ALL {
                self.rule_errors
                    .with_label_values(&[&rule.name, kind.as_str()]);
            }
        }
        self.set_execution(pack);
        self.health.rules_loaded();
    }

    /// `rule_compiled` for each rule of `pack`, from the set as the workers compile it.
    fn set_execution(&self, pack: &RulePack) {
        self.rule_compiled.reset();
        // The set loaded, so it compiles; the workers compile their own copies.
        let Ok(set) = crate::rules::RuleSet::compile(pack) else {
            return;
        };
        for (i, rule) in pack.rules.iter().enumerate() {
            let compiled = set.is_compiled(i);
            self.rule_compiled
                .with_label_values(&[&rule.name])
                .set(i64::from(compiled));
            if let Some(why) = set.interpreted_because(i) {
                tracing::info!(rule = %rule.name, reason = %why, "rule runs in the interpreter, several times slower");
            }
        }
    }

    /// The Prometheus text format of every metric.
    pub fn render(&self) -> String {
        self.ready.set(i64::from(self.health.readiness().ready));
        let mut text = String::new();
        TextEncoder::new()
            .encode_utf8(&self.registry.gather(), &mut text)
            .expect("encoding into a string does not fail");
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The process's metrics, built on first use.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// The version of the rule set in force (the rules, catalogue and parameters): the same
/// `rules_version` every output record carries, so a dashboard names the set its outputs do.
pub fn rules_version(pack: &RulePack) -> String {
    pack.version.to_string()
}

/// Counts a rule reload (`tagstream_rules_reloads_total{result}`). Call [`set_rules`] too
/// when it succeeded.
pub fn rules_reloaded(ok: bool) {
    global()
        .rules_reloads
        .with_label_values(&[if ok { "ok" } else { "error" }])
        .inc();
}

/// The rule set in force changed (start, reload): `build_info` and the zeroed series.
pub fn set_rules(pack: &RulePack) {
    global().set_rules(pack);
}

/// Kafka mode waits for `what` before it can join its group (`None`: no longer), for
/// `/readyz` to say.
pub fn waiting_for(what: Option<String>) {
    global().health.waiting_for(what);
}

/// The group handed this instance `partitions` (possibly none): a rebalance ends; each of
/// them is restoring until its worker says otherwise.
pub fn partitions_assigned(partitions: &BTreeSet<i32>) {
    let m = global();
    m.rebalances.inc();
    m.health.assigned(partitions);
}

/// This instance leaves the group to join again: the coordinator left partitions without an
/// owner (see [`crate::source::regroup`]).
pub fn regrouping() {
    global().regroups.inc();
}

/// The group takes `partitions` away: not ready until the next assignment is restored.
pub fn partitions_revoking(partitions: &BTreeSet<i32>) {
    global().health.revoking(partitions);
}

/// `n` deliveries failed (they are sent again).
pub fn produce_failed(n: usize) {
    global().produce_errors.inc_by(n as u64);
}

/// A checkpoint started at `started` is durable.
pub fn checkpoint_durable(started: Instant) {
    let m = global();
    m.checkpoints.inc();
    m.checkpoint_duration
        .observe(started.elapsed().as_secs_f64());
}

/// Every output of `records` records that reached their worker at `received` is acknowledged.
pub fn outputs_acknowledged(received: Instant, records: usize) {
    let seconds = received.elapsed().as_secs_f64();
    let local = global().processing_latency.local();
    for _ in 0..records {
        local.observe(seconds);
    }
    local.flush();
}

/// `tagstream_processing_latency_seconds` so far: each bucket's upper bound in seconds with
/// its cumulative count, and the count of all observations (the `+Inf` bucket).
pub fn processing_latency_buckets() -> (Vec<(f64, u64)>, u64) {
    use prometheus::core::Metric;
    let metric = global().processing_latency.metric();
    let histogram = metric.get_histogram();
    let buckets = histogram
        .get_bucket()
        .iter()
        .map(|b| (b.upper_bound(), b.cumulative_count()))
        .collect();
    (buckets, histogram.get_sample_count())
}

/// The processing loop went round: `/livez` stays 200.
pub fn loop_beat() {
    global().health.beat();
}

/// Shutdown began: `/readyz` answers 503 from now on.
pub fn draining() {
    let m = global();
    m.health.draining();
    m.bad_input.flush();
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`); `None` off Linux or once the
/// process is gone.
pub fn status_kb(pid: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// This process's peak resident set in bytes (`VmHWM`: the high-water mark of its memory,
/// the figure `/usr/bin/time` prints as maximum resident set size); `None` off Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    status_kb("self", "VmHWM").map(|kb| kb * 1024)
}

#[cfg(test)]
mod tests;
