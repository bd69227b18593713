//! Kafka outputs: tag changes and dead letters to their topics, state to the changelog, and
//! the in-order acknowledgement that makes delivery at-least-once.
//!
//! Each worker has an [`Acker`] thread fed in processing order. It waits until every output of
//! a record is acknowledged by the broker (re-sending on failure, forever, with backoff), then
//! writes checkpoints (user records, then the meta record) to the changelog and only then
//! stores the input offsets for commit. So a committed offset never runs ahead of durable state,
//! and durable state never runs ahead of delivered outputs.

use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// A record to produce, kept until acknowledged so it can be sent again.
#[derive(Debug, Clone)]
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
    Outputs(Vec<(Record, DeliveryFuture)>),
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

/// The shared producer. Sending never drops a record: a full local queue blocks the caller
/// (back-pressure), and [`Producer`] retries are unbounded (`message.timeout.ms = 0`).
pub struct KafkaSink {
    producer: FutureProducer,
}

impl KafkaSink {
    /// # Errors
    /// librdkafka rejects the configuration.
    pub fn new(base: &ClientConfig) -> Result<KafkaSink, KafkaError> {
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
        Ok(KafkaSink {
            producer: config.create()?,
        })
    }

    /// Hands a record to librdkafka, waiting while its queue is full.
    pub fn send(&self, record: &Record) -> DeliveryFuture {
        let mut backoff = Duration::from_millis(1);
        loop {
            let mut fr = FutureRecord::to(&record.topic).payload(&record.payload);
            if let Some(key) = &record.key {
                fr = fr.key(key);
            }
            if let Some(p) = record.partition {
                fr = fr.partition(p);
            }
            match self.producer.send_result(fr) {
                Ok(future) => return future,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    self.producer.poll(Duration::from_millis(0));
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(100));
                }
                Err((e, _)) => {
                    tracing::error!(topic = %record.topic, error = %e, "cannot enqueue record; retrying");
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }

    /// Waits for `future`, re-sending the record until the broker acknowledges it.
    fn deliver(&self, rt: &tokio::runtime::Runtime, record: &Record, mut future: DeliveryFuture) {
        let mut backoff = Duration::from_millis(100);
        for attempt in 1_u64.. {
            let error = match rt.block_on(future) {
                Ok(Ok(_)) => return,
                Ok(Err((e, _))) => e.to_string(),
                Err(_) => "cancelled".to_string(),
            };
            // Logged on attempts 1, 2, 4, 8, ...: a long outage stays visible without flooding.
            crate::metrics::produce_failed(1);
            if attempt.is_power_of_two() {
                tracing::warn!(topic = %record.topic, attempt, %error, "delivery failed; sending again");
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(5));
            future = self.send(record);
        }
    }

    /// Waits for every future of `pending` in one pass, then re-sends any record that failed
    /// until the broker acknowledges it.
    fn deliver_all(&self, rt: &tokio::runtime::Runtime, pending: Vec<(Record, DeliveryFuture)>) {
        let (failed, first_error) = rt.block_on(async {
            let mut failed = Vec::new();
            let mut first_error = None;
            for (record, future) in pending {
                let error = match future.await {
                    Ok(Ok(_)) => continue,
                    Ok(Err((e, _))) => e.to_string(),
                    Err(_) => "cancelled".to_string(),
                };
                first_error.get_or_insert(error);
                failed.push(record);
            }
            (failed, first_error)
        });
        if let Some(error) = first_error {
            crate::metrics::produce_failed(failed.len());
            tracing::warn!(records = failed.len(), %error, "delivery failed; sending again");
        }
        for record in failed {
            let future = self.send(&record);
            self.deliver(rt, &record, future);
        }
    }

    /// Sends one record and waits until the broker acknowledges it.
    pub fn send_and_wait(&self, record: &Record) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime builds");
        let mut backoff = Duration::from_millis(100);
        loop {
            match rt.block_on(self.send(record)) {
                Ok(Ok(_)) => return,
                Ok(Err((e, _))) => {
                    crate::metrics::produce_failed(1);
                    tracing::warn!(topic = %record.topic, error = %e, "delivery failed; sending again")
                }
                Err(_) => {
                    tracing::warn!(topic = %record.topic, "delivery cancelled; sending again")
                }
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds");
    for ack in rx {
        match ack {
            Ack::Outputs(pending) => sink.deliver_all(&rt, pending),
            Ack::Checkpoint(cp) => {
                let started = std::time::Instant::now();
                let users = cp
                    .users
                    .into_iter()
                    .map(|r| {
                        let future = state.send(&r);
                        (r, future)
                    })
                    .collect();
                state.deliver_all(&rt, users);
                let meta = state.send(&cp.meta);
                state.deliver(&rt, &cp.meta, meta);
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
