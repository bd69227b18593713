//! The drain phase: Kafka mode as an operator meets it after a restart or an outage. The whole
//! stream already waits on the input topic when `tagstream run` starts as a child process; the
//! clock runs from just before the spawn (start-up, group join, changelog restore and warm-up
//! included) until the group has committed every input offset.
//!
//! Besides that total: the time to the first tag change or dead letter on the output topics
//! (read by a consumer assigned before the spawn), to the first committed offset, the child's
//! own milestones from its log, and the CPU time of the child and, when this bench started it,
//! of the broker. Then SIGTERM: the child drains and must exit with 0.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use super::child::{cpu_secs_of, Exit, Running, MILESTONES};
use super::phase::{produce, Topics};
use super::watch::reader;
use super::{client, Msg, OUTPUT_PARTITIONS};
use crate::bench::stages::{children_cpu_secs, tagstream_run, Measured};
use crate::bench::BenchError;
use crate::cli::CommonArgs;

/// How often the group's committed offsets are read.
const POLL: Duration = Duration::from_millis(50);

/// What the drain phase measured.
pub struct Drain {
    /// Producing the stream beforehand, as fast as the broker takes it (not part of the measure).
    pub produce: Measured,
    /// Start → every input offset committed; the CPU time is the child's up to then.
    pub run: Measured,
    /// Start → the first tag change or dead letter seen on the output topics.
    pub first_output: Option<Duration>,
    /// Start → the first input offset the group committed.
    pub first_commit: Option<Duration>,
    /// Start → each milestone the child logged, in the order of [`MILESTONES`].
    pub milestones: Vec<(&'static str, Duration)>,
    /// CPU seconds of the broker from start to done, when this bench started it.
    pub broker_cpu_secs: Option<f64>,
    pub exit: Exit,
}

/// Produces `msgs` to fresh topics, then times `tagstream run` (Kafka mode, the bench's config
/// and rules flags) from its spawn until it has committed them all, and stops it.
///
/// # Errors
/// Broker errors; the child cannot start, exits before it is done, or is not done within
/// 10 minutes (or 1 ms per event, if longer).
pub(super) fn run(
    bootstrap: &str,
    broker_pid: Option<u32>,
    common: &CommonArgs,
    msgs: &[Msg],
) -> Result<Drain, BenchError> {
    let Topics {
        input,
        output,
        dead,
        group,
    } = Topics::create(bootstrap, "drain")?;
    let produced = produce(bootstrap, &input, msgs, None)?;
    let events = msgs.len() as u64;
    // What the deliveries reported, or what was sent where a delivery reported no offset.
    let ends: BTreeMap<i32, i64> = produced
        .counts
        .iter()
        .map(|(p, n)| (*p, produced.ends.get(p).copied().unwrap_or(0).max(*n)))
        .collect();
    let produce_stage = Measured {
        stage: "kafka: produce before the start".into(),
        events,
        secs: (produced.acked - produced.first).as_secs_f64(),
        cpu_secs: None,
    };

    let first_output = FirstOutput::start(bootstrap, &[(&output, OUTPUT_PARTITIONS), (&dead, 1)])?;
    let offsets: BaseConsumer = client(bootstrap).set("group.id", &group).create()?;
    let (mut cmd, exe) = tagstream_run(common)?;
    cmd.env("TAGSTREAM_KAFKA__BOOTSTRAP_SERVERS", bootstrap)
        .env("TAGSTREAM_KAFKA__INPUT_TOPICS", &input)
        .env("TAGSTREAM_KAFKA__OUTPUT_TOPIC", &output)
        .env("TAGSTREAM_KAFKA__DEAD_LETTER_TOPIC", &dead)
        .env("TAGSTREAM_KAFKA__GROUP_ID", &group)
        // As the in-process phases: the generated stream's event time is synthetic.
        .env("TAGSTREAM_CLOCK__IDLE_FOLLOWS_WALL_CLOCK", "false")
        .env("TAGSTREAM_CLOCK__MAX_FUTURE", "off")
        .env("TAGSTREAM_HTTP__LISTEN", "")
        // Info: the milestones below; a few lines per partition, none per record.
        .env("TAGSTREAM_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    tracing::debug!(command = ?cmd, "drain phase");
    let cpu_before = children_cpu_secs();
    let broker_before = broker_pid.and_then(cpu_secs_of);
    let t0 = Instant::now();
    let child = cmd.spawn().map_err(|source| BenchError::Io {
        what: format!("start {}", exe.display()),
        source,
    })?;
    let mut child = Running::new(child, t0);

    let deadline = t0 + Duration::from_secs(600).max(Duration::from_millis(events));
    let mut first_commit = None;
    let (secs, child_cpu, broker_cpu) = loop {
        if let Some(status) = child.exited()? {
            let log = child.log();
            return Err(BenchError::Failed(format!(
                "tagstream run (Kafka mode) exited with {status} before it had committed its input:\n{}",
                log.tail()
            )));
        }
        let committed = committed_offsets(&offsets, &input, &ends);
        let now = t0.elapsed();
        if first_commit.is_none() && committed.values().any(|o| *o > 0) {
            first_commit = Some(now);
        }
        if all_committed(&committed, &ends) {
            let broker = broker_pid
                .and_then(cpu_secs_of)
                .zip(broker_before)
                .map(|(after, before)| after - before);
            break (now.as_secs_f64(), cpu_secs_of(child.pid()), broker);
        }
        if Instant::now() > deadline {
            return Err(BenchError::Failed(format!(
                "tagstream run (Kafka mode) did not commit its input within {:.0} s: {} of {} records committed\n{}",
                (deadline - t0).as_secs_f64(),
                committed_records(&committed, &ends),
                ends.values().sum::<i64>(),
                child.log().tail()
            )));
        }
        std::thread::sleep(POLL);
    };
    let first_output = first_output
        .stop()?
        .map(|at| at.saturating_duration_since(t0));
    let exit = child.terminate()?;
    let log = child.log();
    // The child's own CPU at the moment it was done, else all of it (drain and exit included).
    let cpu_secs = child_cpu.or_else(|| Some(children_cpu_secs() - cpu_before));
    Ok(Drain {
        produce: produce_stage,
        run: Measured {
            stage: "kafka from process start (child)".into(),
            events,
            secs,
            cpu_secs,
        },
        first_output,
        first_commit,
        milestones: MILESTONES
            .iter()
            .zip(&log.milestones)
            .filter_map(|((_, _, label), at)| Some((*label, (*at)?)))
            .collect(),
        broker_cpu_secs: broker_cpu,
        exit,
    })
}

/// The group's committed offset per partition of `topic` in `ends` (0 where none or unknown).
fn committed_offsets(
    consumer: &BaseConsumer,
    topic: &str,
    ends: &BTreeMap<i32, i64>,
) -> BTreeMap<i32, i64> {
    let mut tpl = TopicPartitionList::new();
    for p in ends.keys() {
        tpl.add_partition(topic, *p);
    }
    match consumer.committed_offsets(tpl, Duration::from_secs(5)) {
        Ok(tpl) => offsets_of(&tpl),
        Err(e) => {
            tracing::debug!(error = %e, "committed offsets unavailable");
            BTreeMap::new()
        }
    }
}

/// The offset per partition of a list; 0 where none is set.
fn offsets_of(tpl: &TopicPartitionList) -> BTreeMap<i32, i64> {
    tpl.elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => (e.partition(), o),
            _ => (e.partition(), 0),
        })
        .collect()
}

/// Every partition of `ends` committed up to its end (an empty partition needs no commit).
fn all_committed(committed: &BTreeMap<i32, i64>, ends: &BTreeMap<i32, i64>) -> bool {
    ends.iter()
        .all(|(p, end)| *end == 0 || committed.get(p).is_some_and(|c| c >= end))
}

/// Input records covered by the commits so far.
fn committed_records(committed: &BTreeMap<i32, i64>, ends: &BTreeMap<i32, i64>) -> i64 {
    ends.iter()
        .map(|(p, end)| committed.get(p).copied().unwrap_or(0).clamp(0, *end))
        .sum()
}

/// Reads the output topics from the beginning until their first record.
struct FirstOutput {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Result<Option<Instant>, KafkaError>>,
}

impl FirstOutput {
    /// Assigns the consumer before returning, so that nothing the child writes is missed.
    fn start(bootstrap: &str, topics: &[(&str, i32)]) -> Result<FirstOutput, BenchError> {
        let consumer = reader(client(bootstrap), topics)?;
        // The topics are empty: this only gets the fetchers going before the clock starts.
        let _ = consumer.poll(Duration::from_millis(200));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("bench-first-output".into())
            .spawn(move || {
                while !flag.load(Ordering::SeqCst) {
                    match consumer.poll(Duration::from_millis(20)) {
                        Some(Ok(_)) => return Ok(Some(Instant::now())),
                        Some(Err(e)) => tracing::debug!(error = %e, "bench consumer error"),
                        None => {}
                    }
                }
                Ok(None)
            })
            .map_err(|source| BenchError::Io {
                what: "spawn the output consumer thread".into(),
                source,
            })?;
        Ok(FirstOutput { stop, handle })
    }

    /// When the first output arrived, if one did.
    fn stop(self) -> Result<Option<Instant>, BenchError> {
        self.stop.store(true, Ordering::SeqCst);
        match self.handle.join() {
            Ok(result) => Ok(result?),
            Err(_) => Err(BenchError::Failed("the output consumer panicked".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(i32, i64)]) -> BTreeMap<i32, i64> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn done_only_when_every_partition_reached_its_end() {
        let ends = map(&[(0, 10), (1, 5), (2, 0), (3, 7)]);
        assert!(!all_committed(&map(&[]), &ends));
        assert!(!all_committed(&map(&[(0, 10), (1, 5), (3, 6)]), &ends));
        assert!(!all_committed(&map(&[(0, 10), (1, 5), (2, 0)]), &ends));
        // An empty partition has nothing to commit.
        assert!(all_committed(&map(&[(0, 10), (1, 5), (3, 7)]), &ends));
        assert!(all_committed(
            &map(&[(0, 11), (1, 5), (2, 0), (3, 7)]),
            &ends
        ));
        assert_eq!(committed_records(&map(&[(0, 12), (1, 2)]), &ends), 12);
    }

    #[test]
    fn a_partition_without_a_commit_reads_as_zero() {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("t", 0, Offset::Offset(42))
            .unwrap();
        tpl.add_partition_offset("t", 1, Offset::Invalid).unwrap();
        assert_eq!(offsets_of(&tpl), map(&[(0, 42), (1, 0)]));
    }
}
