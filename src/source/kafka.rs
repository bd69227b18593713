//! Kafka input: the group consumer, its rebalance hooks, and reading a changelog partition
//! back on assignment.
//!
//! Offsets are committed only by this crate, only after outputs and state are durable
//! (`enable.auto.offset.store = false`, `enable.auto.commit = false`: librdkafka's own commits,
//! including its commit on revoke, use the consumer's position, which runs ahead of what is
//! durable). The acker commits after each checkpoint; on revoke the hook asks the owning workers
//! to checkpoint, waits until that is durable, and commits synchronously before the partitions
//! leave.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};

use super::resume::Resume;
pub use super::route::{InputRecord, Router, WorkerMsg, MAX_BATCH};

/// Group session defaults, the values config/tagstream.toml ships (docs/kafka.md): a member
/// silent for the session timeout loses its partitions; one whose poll loop stalls for the
/// poll interval leaves the group.
pub const SESSION_TIMEOUT_MS: &str = "6000";
pub const HEARTBEAT_INTERVAL_MS: &str = "1000";
pub const MAX_POLL_INTERVAL_MS: &str = "30000";

/// A context for short-lived clients (the query commands' reader, `check`'s probes) that keeps
/// librdkafka's own log and errors at debug level. Without a broker librdkafka says "all
/// brokers are down" many times a second; the one error such a command ends with already names
/// the broker and what to do.
pub struct QuietContext;

impl ClientContext for QuietContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        tracing::debug!(?level, fac, "librdkafka: {log_message}");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!("librdkafka: {error}: {reason}");
    }
}

impl ConsumerContext for QuietContext {}

impl ProducerContext for QuietContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

/// How long an assignment waits for the group's committed offsets.
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(10);

/// Input offsets whose outputs and state are durable, per `(topic, partition)`: the only
/// offsets ever committed. (A commit without an explicit list would commit the consumer's
/// position, which runs ahead of what is durable.)
#[derive(Clone, Default)]
pub struct Durable(Arc<Mutex<BTreeMap<(String, i32), i64>>>);

impl Durable {
    pub fn record(&self, topic: &str, partition: i32, next_offset: i64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert((topic.to_string(), partition), next_offset);
    }

    /// The durable offsets of `partitions` (all when `None`), removing them when `forget`.
    fn take(&self, partitions: Option<&BTreeSet<i32>>, forget: bool) -> TopicPartitionList {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut tpl = TopicPartitionList::new();
        for ((topic, p), offset) in map.iter() {
            if partitions.is_none_or(|ps| ps.contains(p)) {
                // Cannot fail for a valid offset value.
                let _ = tpl.add_partition_offset(topic, *p, Offset::Offset(*offset));
            }
        }
        if forget {
            map.retain(|(_, p), _| !partitions.is_none_or(|ps| ps.contains(p)));
        }
        tpl
    }

    /// Commits the durable offsets of `partitions` (all when `None`) synchronously.
    pub fn commit<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        partitions: Option<&BTreeSet<i32>>,
        forget: bool,
    ) {
        let tpl = self.take(partitions, forget);
        if tpl.count() == 0 {
            return;
        }
        let result = consumer.commit(&tpl, CommitMode::Sync);
        crate::metrics::kafka::commit_result(&result);
        if let Err(e) = result {
            tracing::warn!(error = %e, "offset commit failed; the next owner replays from the previous commit");
        }
    }
}

/// The group consumer's context: routes assignment changes to workers.
pub struct GroupContext {
    pub router: Router,
    pub durable: Durable,
    /// Assigned partitions whose start the poll loop still checks; touched only by the
    /// consumer's thread (rebalance hooks run inside its poll).
    pub resume: Mutex<Resume>,
    /// Whether `resume` holds any partition: the per-record check without the lock.
    pub resuming: AtomicBool,
    /// Assignments received so far (see [`super::regroup`]).
    pub assignments: AtomicU64,
    /// Set by [`super::regroup`]: the consumer thread leaves the group and joins again.
    pub regroup: AtomicBool,
}

impl GroupContext {
    /// Starts each newly assigned partition at its committed offset, or at the beginning when
    /// nothing is committed (or the broker cannot say: re-reading is safe, the restored state
    /// skips what it holds).
    fn set_start_offsets<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        tpl: &mut TopicPartitionList,
    ) {
        let committed = match consumer.committed_offsets(tpl.clone(), COMMITTED_TIMEOUT) {
            Ok(committed) => committed,
            Err(e) => {
                tracing::warn!(error = %e, "committed offsets unavailable; reading the assigned partitions from the beginning");
                tpl.clone()
            }
        };
        let now = Instant::now();
        let mut resume = self.resume.lock().unwrap_or_else(|e| e.into_inner());
        let mut starts = Vec::new();
        for e in committed.elements() {
            let asked = match e.offset() {
                Offset::Offset(at) if at >= 0 => Some(at),
                _ => None,
            };
            resume.expect(e.topic(), e.partition(), asked, now);
            let start = asked.map_or(Offset::Beginning, Offset::Offset);
            if let Err(err) = tpl.set_partition_offset(e.topic(), e.partition(), start) {
                tracing::error!(error = %err, "cannot set a start offset");
            }
            starts.push((e.partition(), asked));
        }
        self.resuming.store(!resume.is_empty(), Ordering::Relaxed);
        tracing::info!(?starts, "resuming at the committed offsets");
    }
}

impl ClientContext for GroupContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        crate::metrics::kafka::consumer_statistics(&statistics);
    }
}

fn partitions(tpl: &TopicPartitionList) -> BTreeSet<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

impl ConsumerContext for GroupContext {
    /// Eager rebalancing as librdkafka's default, with the start of each assigned partition
    /// set explicitly: the group's committed offset (the beginning when none), remembered so the
    /// poll loop can check that the broker serves that offset ([`Resume`]).
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let rebalance = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.set_start_offsets(consumer, tpl);
                Rebalance::Assign(tpl)
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => Rebalance::Revoke(tpl),
            other => Rebalance::Error(rdkafka::error::KafkaError::Rebalance(other.into())),
        };
        self.pre_rebalance(consumer, &rebalance);
        let result = match rebalance {
            Rebalance::Assign(tpl) => consumer.assign(tpl),
            Rebalance::Revoke(_) => consumer.unassign(),
            Rebalance::Error(_) => Ok(()),
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "applying the new assignment failed");
        }
        self.post_rebalance(consumer, &rebalance);
    }

    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let mut resume = self.resume.lock().unwrap_or_else(|e| e.into_inner());
            for e in tpl.elements() {
                resume.forget(e.topic(), e.partition());
            }
            drop(resume);
            let revoked = partitions(tpl);
            crate::metrics::partitions_revoking(&revoked);
            tracing::info!(partitions = ?revoked, "partitions revoked; checkpointing");
            let replies: Vec<_> = revoked
                .iter()
                .map(|p| {
                    let (tx, rx) = sync_channel(1);
                    self.router.send(*p, WorkerMsg::Revoke(*p, tx));
                    rx
                })
                .collect();
            for rx in replies {
                let _ = rx.recv();
            }
            self.durable.commit(consumer, Some(&revoked), true);
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let assigned = partitions(tpl);
                crate::metrics::partitions_assigned(&assigned);
                tracing::info!(partitions = ?assigned, "partitions assigned");
                self.assignments.fetch_add(1, Ordering::SeqCst);
                for p in assigned {
                    self.router.send(p, WorkerMsg::Assign(p));
                }
            }
            Rebalance::Error(e) => tracing::error!(error = %e, "rebalance error"),
            Rebalance::Revoke(_) => {}
        }
    }
}

/// Creates the group consumer with the settings at-least-once depends on.
///
/// # Errors
/// librdkafka rejects the configuration.
pub fn group_consumer(
    base: &ClientConfig,
    group_id: &str,
    router: Router,
    durable: Durable,
) -> KafkaResult<BaseConsumer<GroupContext>> {
    // `base` holds none of the forced settings: a config setting one is refused at load.
    group_consumer_config(base, group_id).create_with_context(GroupContext {
        router,
        durable,
        resume: Mutex::new(Resume::default()),
        resuming: AtomicBool::new(false),
        assignments: AtomicU64::new(0),
        regroup: AtomicBool::new(false),
    })
}

/// The settings at-least-once depends on: the group, and the options
/// [`SET_BY_TAGSTREAM`](crate::config::SET_BY_TAGSTREAM) forces, which `[kafka.options]` may
/// not set.
fn forced(group_id: &str) -> impl Iterator<Item = (&'static str, &str)> {
    let options = crate::config::SET_BY_TAGSTREAM
        .iter()
        .filter_map(|option| Some((option.name, option.value?)));
    std::iter::once(("group.id", group_id)).chain(options)
}

/// The config [`group_consumer`] creates its consumer with: `base`, tagstream's defaults for
/// what it leaves out, and the settings at-least-once depends on. `tagstream check` creates a
/// consumer with it too (without brokers), so that a setting librdkafka takes but cannot build
/// a client with is found before a run.
pub fn group_consumer_config(base: &ClientConfig, group_id: &str) -> ClientConfig {
    let mut config = base.clone();
    let fetch_max = fetch_max_bytes(&config);
    for (key, value) in [
        ("auto.offset.reset", "earliest"),
        ("partition.assignment.strategy", "range"),
        // A fetch waits at most this long for new records; librdkafka's 500 ms would be most
        // of an event's time to its tags on a quiet topic.
        ("fetch.wait.max.ms", "10"),
        // At most 1 MiB per fetch response (librdkafka's default is 50 MB). A broker may fill a
        // response from one partition alone (tansu does): the consumer then hands one worker
        // tens of thousands of records in a row while the others wait, and a backlog drains
        // on one core. A small response interleaves the partitions, so every worker has work.
        ("fetch.max.bytes", fetch_max.as_str()),
        // Consumer lag for the metrics.
        (
            "statistics.interval.ms",
            crate::metrics::kafka::STATISTICS_INTERVAL_MS,
        ),
        // Fail-over within about 15 s, as config/tagstream.toml ships it (docs/kafka.md), for a
        // config that does not say.
        ("session.timeout.ms", SESSION_TIMEOUT_MS),
        ("heartbeat.interval.ms", HEARTBEAT_INTERVAL_MS),
        ("max.poll.interval.ms", MAX_POLL_INTERVAL_MS),
    ] {
        if config.get(key).is_none() {
            config.set(key, value);
        }
    }
    for (key, value) in forced(group_id) {
        config.set(key, value);
    }
    config
}

/// The group consumer's `fetch.max.bytes` unless configured (see [`group_consumer`]): 1 MiB,
/// or `message.max.bytes` when that is set higher (librdkafka refuses a smaller fetch).
fn fetch_max_bytes(config: &ClientConfig) -> String {
    const ONE_MIB: u64 = 1 << 20;
    let message_max = config
        .get("message.max.bytes")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    ONE_MIB.max(message_max).to_string()
}

/// Key of the restore marker: longer than any user id (≤ 128 bytes), so it never names a user.
pub const MARKER_KEY: [u8; 129] = [0xff; 129];

/// Reads a changelog partition from the beginning up to the marker record whose value is
/// `marker` (written by the caller just before, so the read depends neither on the broker's
/// reported high watermark nor on reported offsets), handing each `(key, value)` to `apply`
/// (`None` = tombstone).
/// Retries until the broker answers; `apply` may see a record again after a retry, so it
/// must keep the latest value per key.
pub fn read_changelog(
    base: &ClientConfig,
    topic: &str,
    partition: i32,
    marker: &[u8],
    mut apply: impl FnMut(&[u8], Option<&[u8]>),
) -> u64 {
    let mut config = base.clone();
    // As for the group consumer: librdkafka's 500 ms fetch wait would be paid on every fetch
    // of a short changelog, and a partition applies no record until its restore is done.
    if config.get("fetch.wait.max.ms").is_none() {
        config.set("fetch.wait.max.ms", "10");
    }
    config
        .set("group.id", format!("{topic}-restore"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    let mut backoff = Duration::from_millis(200);
    loop {
        match try_read(&config, topic, partition, marker, &mut apply) {
            Ok(n) => return n,
            Err(e) => {
                tracing::warn!(topic, partition, error = %e, "changelog restore failed; retrying");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn try_read(
    config: &ClientConfig,
    topic: &str,
    partition: i32,
    marker: &[u8],
    apply: &mut impl FnMut(&[u8], Option<&[u8]>),
) -> KafkaResult<u64> {
    let consumer: BaseConsumer = config.create()?;
    // Assigned at a logical offset with no leader known yet, librdkafka retries the offset
    // query on a 500 ms timer; asking for the log start first learns the leader and the
    // offset in one round trip.
    let (start, _) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(10))?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(start))?;
    consumer.assign(&tpl)?;
    let mut read = 0;
    let mut idle_since = Instant::now();
    loop {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(msg)) => {
                idle_since = Instant::now();
                let key = msg.key().unwrap_or_default();
                if key != MARKER_KEY {
                    apply(key, msg.payload());
                    read += 1;
                } else if msg.payload() == Some(marker) {
                    return Ok(read);
                }
            }
            Some(Err(e)) => return Err(e),
            None if idle_since.elapsed() > Duration::from_secs(60) => {
                return Err(rdkafka::error::KafkaError::PartitionEOF(partition));
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every setting the group consumer is forced to is refused at load when `[kafka.options]`
    /// sets it, so that no config sets one and sees it ignored.
    #[test]
    fn every_forced_setting_is_refused_at_load_and_set_on_the_consumer() {
        let consumer = group_consumer_config(&ClientConfig::new(), "g");
        let mut count = 0;
        for (key, value) in forced("g") {
            count += 1;
            assert_eq!(consumer.get(key), Some(value), "{key}");
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(
                file.path(),
                format!("[kafka.options]\n{key:?} = {value:?}\n"),
            )
            .unwrap();
            let err = crate::config::Config::load(file.path(), true, &[])
                .expect_err(key)
                .to_string();
            assert!(
                err.contains(&format!(":2: kafka.options.{key:?} = {value:?}: ")),
                "{key}: {err}"
            );
        }
        assert_eq!(count, 4);
    }

    #[test]
    fn a_fetch_is_one_mib_unless_a_message_may_be_larger() {
        let mut config = ClientConfig::new();
        assert_eq!(fetch_max_bytes(&config), "1048576");
        config.set("message.max.bytes", "1000000");
        assert_eq!(fetch_max_bytes(&config), "1048576");
        config.set("message.max.bytes", "10485760");
        assert_eq!(fetch_max_bytes(&config), "10485760");
    }
}
