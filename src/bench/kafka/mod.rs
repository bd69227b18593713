//! `--kafka`: the same stream through a broker, with Kafka mode running exactly as
//! `tagstream run` runs it (default options, idle partitions do not follow the wall clock).
//!
//! Three phases, each on fresh topics and a fresh consumer group:
//! 1. throughput: Kafka mode in-process (`pipeline::kafka::run`); produce the whole stream keyed
//!    by `user_id` as fast as the broker takes it, while a separate consumer reads the output
//!    topics; done once the group has committed every input record and the outputs have been
//!    quiet for two seconds (counts come from what was produced: tansu 0.6 under-reports high
//!    watermarks);
//! 2. drain from process start ([`drain`]): the whole stream is produced first, then
//!    `tagstream run` starts as a child process and is timed from its spawn until every input
//!    offset is committed: start-up, group join, restore and warm-up included;
//! 3. latency: in-process again, the start of the stream at a fixed rate, each event with its
//!    own `event_id`; the consumer times each event's first tag change. At 50k events/s (what a
//!    deployment is sized for, and the rate the p99 goal is judged at), at 25k events/s, and at
//!    half the measured throughput unless that is close to one of them.
//!
//! The in-process phases first send one warm-up event per input partition and wait for its tag
//! changes, so that group join and state restore are not timed there.

mod child;
mod drain;
mod phase;
mod watch;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;

use crate::cli::CommonArgs;
use crate::config::Config;
use crate::rules::RulePack;

use super::broker::Broker;
use super::stages::Measured;
use super::stream::{key_hash, Stream};
use super::BenchError;
pub use drain::Drain;
use phase::Phase;
use watch::Sample;

pub const INPUT_PARTITIONS: i32 = 4;
const OUTPUT_PARTITIONS: i32 = 4;
const QUIET: Duration = Duration::from_secs(2);
const WARMUP: &str = "bench-warmup-";
const LATENCY: &str = "lat-";

pub struct KafkaReport {
    pub produce: Measured,
    pub e2e: Measured,
    pub outputs: u64,
    pub drain: Drain,
    /// One run per rate, slowest first.
    pub latency: Vec<Latency>,
}

/// The rate a deployment is sized for, and the one the p99 goal is judged at (issue #19).
pub const SIZED_RATE: f64 = 50_000.0;
/// Half of it: the rate latency was first judged at.
const SIZED_HALF_RATE: f64 = 25_000.0;
/// Kafka mode from process start, on two cores with the broker beside it (issue #19).
pub const DRAIN_GOAL: f64 = 100_000.0;
/// Event-to-tag p99 at [`SIZED_RATE`] (issue #19).
pub const P99_GOAL: Duration = Duration::from_millis(100);

pub struct Latency {
    pub rate: f64,
    pub secs: f64,
    pub events: usize,
    /// Events with at least one tag change (only those have a latency).
    pub samples: usize,
    pub p50: Duration,
    pub p99: Duration,
    /// The highest p99 of any one second of sends: shows whether latency drifts upwards.
    pub worst_second_p99: Duration,
    /// The processor's span, from its `tagstream_processing_latency_seconds` histogram over
    /// this run: a record reaching its worker → its outputs acknowledged by the broker.
    /// Upper bounds of the buckets holding the 50th and 99th percentile of input records
    /// (`None`: beyond the last bucket).
    pub inside: Inside,
}

/// Percentiles read off a histogram's buckets: the upper bound of the bucket each falls in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inside {
    pub records: u64,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
}

/// One record to produce.
struct Msg<'a> {
    partition: i32,
    key: Option<&'a [u8]>,
    payload: &'a [u8],
}

/// Runs the three phases against `broker`; `common` gives the child of the drain phase the
/// bench's config and rules.
///
/// # Errors
/// Broker errors, a processor that stops or does not finish in time.
pub fn run(
    broker: &Broker,
    common: &CommonArgs,
    stream: &Stream,
    user_ids: &[Option<Box<str>>],
    config: &Config,
    pack: &RulePack,
    latency_secs: f64,
) -> Result<KafkaReport, BenchError> {
    let msgs: Vec<Msg> = stream
        .lines
        .iter()
        .zip(user_ids)
        .enumerate()
        .map(|(i, (line, user))| Msg {
            partition: partition_of(user.as_deref(), i),
            key: user.as_deref().map(str::as_bytes),
            payload: stream.line(line),
        })
        .collect();
    let n = msgs.len() as u64;
    let bootstrap = broker.bootstrap.as_str();

    let mut phase = Phase::start(bootstrap, config, pack, "tput", None)?;
    let (first, produced, ends) = phase.produce(&msgs, None, None)?;
    phase.wait_done(&ends, produced, n)?;
    let (outputs, last) = (phase.watch.received(), phase.watch.last());
    phase.stop()?;
    let produce = Measured {
        stage: "kafka: produce the stream".into(),
        events: n,
        secs: (produced - first).as_secs_f64(),
        cpu_secs: None,
    };
    let e2e = Measured {
        stage: format!("kafka end to end ({INPUT_PARTITIONS} partitions)"),
        events: n,
        secs: last.saturating_duration_since(first).as_secs_f64(),
        cpu_secs: None,
    };

    let drain = drain::run(bootstrap, broker.pid(), common, &msgs)?;

    let rates = latency_rates(e2e.rate());
    let latency = rates
        .into_iter()
        .map(|rate| {
            latency_at(
                bootstrap,
                stream,
                user_ids,
                config,
                pack,
                rate,
                latency_secs,
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(KafkaReport {
        produce,
        e2e,
        outputs,
        drain,
        latency,
    })
}

/// 25k and 50k events/s, and half the measured `throughput` unless it is within 20 % of
/// either; slowest first.
fn latency_rates(throughput: f64) -> Vec<f64> {
    let half = (throughput / 2.0).max(50.0);
    let mut rates = vec![SIZED_HALF_RATE, SIZED_RATE];
    if rates.iter().all(|r| (half / r - 1.0).abs() > 0.2) {
        rates.push(half);
    }
    rates.sort_by(f64::total_cmp);
    rates
}

/// Sends the start of the stream at `rate` for `secs` and times each event's first tag change.
fn latency_at(
    bootstrap: &str,
    stream: &Stream,
    user_ids: &[Option<Box<str>>],
    config: &Config,
    pack: &RulePack,
    rate: f64,
    secs: f64,
) -> Result<Latency, BenchError> {
    let wanted = (rate * secs) as usize;
    let payloads: Vec<(i32, &[u8], Vec<u8>)> = stream
        .lines
        .iter()
        .zip(user_ids)
        .filter_map(|(line, user)| Some((line, user.as_deref()?)))
        .take(wanted)
        .enumerate()
        .map(|(i, (line, user))| {
            (
                partition_of(Some(user), i),
                user.as_bytes(),
                with_event_id(stream.line(line), i),
            )
        })
        .collect();
    let lat_msgs: Vec<Msg> = payloads
        .iter()
        .map(|(partition, key, payload)| Msg {
            partition: *partition,
            key: Some(key),
            payload,
        })
        .collect();
    let sends: Arc<[AtomicU64]> = (0..lat_msgs.len()).map(|_| AtomicU64::new(0)).collect();
    let label = format!("latency-{}", rate.round());
    let before = crate::metrics::processing_latency_buckets();
    let mut phase = Phase::start(bootstrap, config, pack, &label, Some(sends.clone()))?;
    let (first, produced, ends) = phase.produce(&lat_msgs, Some(rate), Some(&sends))?;
    phase.wait_done(&ends, produced, lat_msgs.len() as u64)?;
    let samples = phase.stop()?;
    let inside = inside(&before, &crate::metrics::processing_latency_buckets());
    let mut all: Vec<u64> = samples.iter().map(|s| s.latency).collect();
    all.sort_unstable();
    Ok(Latency {
        rate,
        secs: (produced - first).as_secs_f64(),
        events: lat_msgs.len(),
        samples: samples.len(),
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        worst_second_p99: worst_second_p99(&samples),
        inside,
    })
}

/// The percentiles of what a cumulative histogram (bucket bounds with cumulative counts, and
/// the count of all) gained between `before` and `after`, two readings of the same histogram.
fn inside(before: &(Vec<(f64, u64)>, u64), after: &(Vec<(f64, u64)>, u64)) -> Inside {
    let records = after.1.saturating_sub(before.1);
    let bound = |q: f64| {
        let wanted = (records as f64 * q).ceil() as u64;
        after
            .0
            .iter()
            .zip(&before.0)
            .find(|((_, cum), (_, was))| cum.saturating_sub(*was) >= wanted.max(1))
            .map(|((bound, _), _)| Duration::from_secs_f64(*bound))
    };
    Inside {
        records,
        p50: bound(0.50),
        p99: bound(0.99),
    }
}

/// The `p` quantile (nearest rank) of latencies in ns, sorted.
fn percentile(ns: &[u64], p: f64) -> Duration {
    let rank = ((ns.len() as f64 * p).ceil() as usize).clamp(1, ns.len().max(1)) - 1;
    Duration::from_nanos(ns.get(rank).copied().unwrap_or(0))
}

/// The p99 of each whole second of sends (by send time), the highest of them.
fn worst_second_p99(samples: &[Sample]) -> Duration {
    let mut seconds: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for s in samples {
        seconds
            .entry(s.sent / 1_000_000_000)
            .or_default()
            .push(s.latency);
    }
    // A second with few samples is the ragged end of the run, not a measure.
    let busiest = seconds.values().map(Vec::len).max().unwrap_or(0);
    seconds
        .into_values()
        .filter(|v| v.len() * 4 >= busiest)
        .map(|mut v| {
            v.sort_unstable();
            percentile(&v, 0.99)
        })
        .max()
        .unwrap_or_default()
}

fn partition_of(user: Option<&str>, index: usize) -> i32 {
    match user {
        Some(u) => (key_hash(u.as_bytes()) % INPUT_PARTITIONS as u32) as i32,
        None => (index % INPUT_PARTITIONS as usize) as i32,
    }
}

/// The record with `event_id` set to `lat-<i>`, so the consumer can match its tag changes.
fn with_event_id(raw: &[u8], i: usize) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(raw) {
        Ok(mut object) => {
            object.insert("event_id".into(), format!("{LATENCY}{i}").into());
            serde_json::to_vec(&object).unwrap_or_else(|_| raw.to_vec())
        }
        Err(_) => raw.to_vec(),
    }
}

fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_what_the_histogram_gained() {
        let ms = Duration::from_millis;
        let before = (vec![(0.01, 100), (0.05, 100), (0.1, 100)], 100);
        // 1,000 more: 900 within 10 ms, 95 more within 50 ms, 4 within 100 ms, 1 beyond.
        let after = (vec![(0.01, 1000), (0.05, 1095), (0.1, 1099)], 1100);
        let got = inside(&before, &after);
        assert_eq!(got.records, 1000);
        assert_eq!(got.p50, Some(ms(10)));
        assert_eq!(got.p99, Some(ms(50)));
        // 20 beyond the last bucket: the 99th percentile is past it.
        let after = (vec![(0.01, 1000), (0.05, 1050), (0.1, 1080)], 1100);
        assert_eq!(inside(&before, &after).p99, None);
        // Nothing observed in between.
        let idle = inside(&before, &before);
        assert_eq!((idle.records, idle.p50, idle.p99), (0, None, None));
    }

    #[test]
    fn latency_runs_at_the_sized_rates_and_half_the_throughput_when_it_differs() {
        assert_eq!(latency_rates(180_000.0), [25_000.0, 50_000.0, 90_000.0]);
        // Half of 110k is within 20 % of 50k: not run again.
        assert_eq!(latency_rates(110_000.0), [25_000.0, 50_000.0]);
        assert_eq!(latency_rates(20_000.0), [10_000.0, 25_000.0, 50_000.0]);
    }
}
