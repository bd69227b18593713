//! Kafka outputs: tag changes and dead letters to their topics, state to the changelog, and
//! the in-order acknowledgement that makes delivery at-least-once.
//!
//! Each worker has an [`Acker`] thread fed in processing order. It waits until every output of
//! a record is acknowledged by the broker (re-sending on failure, forever, with backoff), then
//! writes checkpoints (user records, then the meta record) to the changelog and only then
//! stores the input offsets for commit. So a committed offset never runs ahead of durable state,
//! and durable state never runs ahead of delivered outputs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer, PARTITION_UA};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// A record to produce.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub topic: Arc<str>,
    pub partition: Option<i32>,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

/// A checkpoint of one partition's state, and the input offsets it makes safe to commit.
#[derive(Debug)]
pub struct Checkpoint {
    pub users: Vec<Record>,
    pub meta: Record,
    /// `(topic, partition, next offset)` to store once the checkpoint is durable.
    pub commit: Vec<(String, i32, i64)>,
}

/// What an acker is handed, in processing order.
pub enum Ack {
    /// Records handed to the producer together; acknowledged when the batch is settled.
    Outputs(Arc<Batch>),
    Checkpoint(Checkpoint),
    /// Answered once everything before it is acknowledged and its offsets stored.
    Barrier(SyncSender<()>),
    /// `records` records reached their worker at `received`; everything before is acknowledged
    /// when the acker gets here (processing latency).
    Processed {
        received: std::time::Instant,
        records: usize,
    },
}

/// Records sent together, counted down by the producer's delivery reports: the acker waits
/// for a batch as a whole instead of for each record. A record the broker refused is kept here
/// (rebuilt from the report) to be sent again; the others are not kept at all once librdkafka
/// has copied them.
#[derive(Debug, Default)]
pub struct Batch {
    /// Handed to the producer and not yet reported.
    outstanding: AtomicUsize,
    /// Refused records; `done` is signalled under this lock when `outstanding` reaches zero.
    failed: Mutex<Failed>,
    done: Condvar,
}

#[derive(Debug, Default)]
struct Failed {
    records: Vec<Record>,
    first_error: Option<String>,
}

impl Batch {
    pub fn new() -> Arc<Batch> {
        Arc::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Failed> {
        // Nothing panics while holding it; a poisoned lock still holds whole values.
        self.failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a record in; before it is sent, since its report may come before `send` returns.
    fn count_in(&self) {
        self.outstanding.fetch_add(1, Ordering::AcqRel);
    }

    fn report(&self, result: &DeliveryResult<'_>) {
        if let Err((e, message)) = result {
            let mut failed = self.lock();
            failed.first_error.get_or_insert_with(|| e.to_string());
            failed.records.push(Record {
                topic: message.topic().into(),
                partition: Some(message.partition()).filter(|p| *p != PARTITION_UA),
                key: message.key().map(<[u8]>::to_vec),
                payload: message.payload().unwrap_or_default().to_vec(),
            });
        }
        self.count_out();
    }

    /// Counts a record out: reported, or not taken by the producer after all.
    fn count_out(&self) {
        if self.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Under the lock, so a waiter between its check and its wait cannot miss it.
            let _failed = self.lock();
            self.done.notify_all();
        }
    }

    /// Waits until every record sent in the batch is reported; returns the refused ones and
    /// the first error.
    fn wait(&self) -> (Vec<Record>, Option<String>) {
        let mut failed = self.lock();
        while self.outstanding.load(Ordering::Acquire) > 0 {
            failed = self
                .done
                .wait(failed)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        (
            std::mem::take(&mut failed.records),
            failed.first_error.take(),
        )
    }
}

/// Routes each delivery report to the batch its record was sent in.
pub struct Reports;

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = Arc<Batch>;

    fn delivery(&self, result: &DeliveryResult<'_>, batch: Arc<Batch>) {
        batch.report(result);
    }
}

/// The config [`KafkaSink`] creates its producer with: `base` without the consumer's group
/// settings, and tagstream's defaults for what it leaves out. `tagstream check` creates a
/// producer with it too (without brokers), so that a setting librdkafka takes but cannot build
/// a client with is found before a run.
pub fn producer_config(base: &ClientConfig) -> ClientConfig {
    let mut config = base.clone();
    // Group settings from `[kafka.options]` concern the consumer; librdkafka warns about
    // each one a producer is given.
    for key in [
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "max.poll.interval.ms",
    ] {
        config.remove(key);
    }
    for (key, value) in [
        ("message.timeout.ms", "0"),
        ("acks", "all"),
        ("linger.ms", "5"),
        ("queue.buffering.max.messages", "200000"),
        ("max.in.flight.requests.per.connection", "5"),
    ] {
        if config.get(key).is_none() {
            config.set(key, value);
        }
    }
    config
}

/// The shared producer. Sending never drops a record: a full local queue blocks the caller
/// (back-pressure), and [`Producer`] retries are unbounded (`message.timeout.ms = 0`).
pub struct KafkaSink {
    producer: ThreadedProducer<Reports>,
}

impl KafkaSink {
    /// # Errors
    /// librdkafka rejects the configuration.
    pub fn new(base: &ClientConfig) -> Result<KafkaSink, KafkaError> {
        Ok(KafkaSink {
            producer: producer_config(base).create_with_context(Reports)?,
        })
    }

    /// Hands a record to librdkafka (which copies it) as part of `batch`, waiting while its
    /// queue is full.
    pub fn send(
        &self,
        batch: &Arc<Batch>,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        payload: &[u8],
    ) {
        let mut backoff = Duration::from_millis(1);
        loop {
            let mut record = BaseRecord::with_opaque_to(topic, batch.clone()).payload(payload);
            if let Some(key) = key {
                record = record.key(key);
            }
            if let Some(p) = partition {
                record = record.partition(p);
            }
            batch.count_in();
            let Err((e, _)) = self.producer.send(record) else {
                return;
            };
            batch.count_out();
            if let KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull) = e {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_millis(100));
            } else {
                tracing::error!(%topic, error = %e, "cannot enqueue record; retrying");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }

    /// Sends `record` as part of `batch`.
    pub fn send_record(&self, batch: &Arc<Batch>, record: &Record) {
        self.send(
            batch,
            &record.topic,
            record.partition,
            record.key.as_deref(),
            &record.payload,
        );
    }

    /// Waits until the broker has acknowledged every record of `batch`, sending the ones it
    /// refused again (with backoff, forever) until it has.
    pub fn settle(&self, batch: &Arc<Batch>) {
        let (mut failed, mut error) = batch.wait();
        let mut backoff = Duration::from_millis(100);
        for attempt in 1_u64.. {
            let Some(why) = error.take() else {
                return;
            };
            crate::metrics::produce_failed(failed.len());
            // Logged on attempts 1, 2, 4, 8, ...: a long outage stays visible without flooding.
            if attempt.is_power_of_two() {
                tracing::warn!(records = failed.len(), attempt, error = %why, "delivery failed; sending again");
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(5));
            let again = Batch::new();
            for record in &failed {
                self.send_record(&again, record);
            }
            (failed, error) = again.wait();
        }
    }

    /// Sends one record and waits until the broker acknowledges it.
    pub fn send_and_wait(&self, record: &Record) {
        let batch = Batch::new();
        self.send_record(&batch, record);
        self.settle(&batch);
    }

    /// Flushes everything queued; returns whether it all left in time.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.producer.flush(timeout).is_ok()
    }
}

/// Runs an acker until its channel closes. Checkpoints go through their own producer
/// (`state`), so a burst of state records never queues ahead of tag changes on the same
/// broker connection.
pub fn run_acker<C: ConsumerContext>(
    durable: crate::source::kafka::Durable,
    sink: Arc<KafkaSink>,
    state: Arc<KafkaSink>,
    consumer: Arc<BaseConsumer<C>>,
    rx: Receiver<Ack>,
) {
    for ack in rx {
        match ack {
            Ack::Outputs(batch) => sink.settle(&batch),
            Ack::Checkpoint(cp) => {
                let started = std::time::Instant::now();
                let users = Batch::new();
                for record in &cp.users {
                    state.send_record(&users, record);
                }
                state.settle(&users);
                state.send_and_wait(&cp.meta);
                let mut tpl = TopicPartitionList::new();
                for (topic, partition, offset) in &cp.commit {
                    durable.record(topic, *partition, *offset);
                    // Cannot fail for a valid offset value.
                    let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset));
                }
                if let Err(e) = consumer.store_offsets(&tpl) {
                    // The partition was revoked meanwhile; its new owner restores from the changelog.
                    tracing::debug!(error = %e, "offsets not stored");
                }
                let result = consumer.commit(&tpl, rdkafka::consumer::CommitMode::Async);
                crate::metrics::kafka::commit_result(&result);
                if let Err(e) = result {
                    tracing::debug!(error = %e, "offset commit not sent; the next checkpoint commits");
                }
                crate::metrics::checkpoint_durable(started);
            }
            Ack::Processed { received, records } => {
                crate::metrics::outputs_acknowledged(received, records);
            }
            Ack::Barrier(reply) => {
                let _ = reply.send(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_settled_only_when_its_last_record_is_counted_out() {
        for round in 0..200 {
            let batch = Batch::new();
            let n = 1 + round % 7;
            for _ in 0..n {
                batch.count_in();
            }
            let reporter = {
                let batch = batch.clone();
                std::thread::spawn(move || {
                    for i in 0..n {
                        if i % 2 == 0 {
                            std::thread::yield_now();
                        }
                        batch.count_out();
                    }
                })
            };
            let (failed, error) = batch.wait();
            assert_eq!(
                batch.outstanding.load(Ordering::Acquire),
                0,
                "round {round}"
            );
            assert!(failed.is_empty() && error.is_none());
            reporter.join().unwrap();
        }
    }
}
