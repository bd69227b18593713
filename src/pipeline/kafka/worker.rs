//! A worker thread: owns a [`Processor`] (its own Rhai engine) and the tasks of the partitions
//! routed to it, processes their records in offset order, and hands outputs and checkpoints to
//! its acker in the same order.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;

use super::task::Task;
use crate::core::Processor;
use crate::metrics::export::Exporter;
use crate::rules::RulePack;
use crate::sink::kafka::{Ack, Batch, Checkpoint, KafkaSink, Record};
use crate::source::kafka::{read_changelog, InputRecord, WorkerMsg, MARKER_KEY};
use crate::state::snapshot::META_KEY;
use crate::tags::Output;

/// Settings shared by every worker.
#[derive(Clone)]
pub struct WorkerConfig {
    pub client: ClientConfig,
    pub output_topic: Arc<str>,
    pub dead_letter_topic: Arc<str>,
    pub changelog_topic: Arc<str>,
    pub idle_follows_wall_clock: bool,
    pub idle_after: Duration,
    /// `clock.max_future` in ms (`None`: off), measured from the wall time of each batch.
    pub max_future_ms: Option<i64>,
    /// A task checkpoints at least this often while it changes ...
    pub checkpoint_interval: Duration,
    /// ... and after this many records.
    pub checkpoint_records: u64,
    /// Dead-letter payloads are cut to this many bytes so the letter fits a Kafka message.
    pub max_payload: usize,
}

struct Slot {
    task: Task,
    last_input: Instant,
    last_checkpoint: Instant,
    since_checkpoint: u64,
    first_seen: Option<i64>,
    /// When the assignment reached this worker (before the restore).
    assigned: Instant,
}

pub struct Worker {
    processor: Processor,
    slots: HashMap<i32, Slot>,
    sink: Arc<KafkaSink>,
    /// The changelog's producer (restore markers here; checkpoints go through the acker).
    state: Arc<KafkaSink>,
    acker: SyncSender<Ack>,
    config: WorkerConfig,
    outputs: Vec<Output>,
    /// Outputs handed to the producer whose acknowledgement the acker has yet to be asked for
    /// (`sent` of them).
    pending: Arc<Batch>,
    sent: usize,
    buf: Vec<u8>,
    metrics: Exporter,
}

impl Worker {
    /// # Errors
    /// The rules do not compile (they were checked at start-up, so this does not happen).
    pub fn new(
        pack: &RulePack,
        sink: Arc<KafkaSink>,
        state: Arc<KafkaSink>,
        acker: SyncSender<Ack>,
        config: WorkerConfig,
    ) -> Result<Worker, crate::rules::RulesError> {
        let mut processor = Processor::new(pack)?;
        processor.future.max_ms = config.max_future_ms;
        Ok(Worker {
            metrics: Exporter::for_core(&mut processor, pack),
            processor,
            slots: HashMap::new(),
            sink,
            state,
            acker,
            config,
            outputs: Vec::new(),
            pending: Batch::new(),
            sent: 0,
            buf: Vec::new(),
        })
    }

    pub fn run(mut self, rx: Receiver<WorkerMsg>) {
        let mut next = None;
        while let Some(msg) = next.take().or_else(|| self.receive(&rx)) {
            match msg {
                WorkerMsg::Records(records) => {
                    let (received, n) = (Instant::now(), records.len());
                    self.metrics.records(n);
                    self.processor
                        .set_wall_clock(chrono::Utc::now().timestamp_millis());
                    // One look at the clock per batch: its records are handled within
                    // milliseconds, and the times below are compared with seconds.
                    for record in records {
                        self.record(record, received);
                    }
                    self.ack_pending();
                    self.publish();
                    let _ = self.acker.send(Ack::Processed {
                        received,
                        records: n,
                    });
                }
                WorkerMsg::Assign(p) => {
                    // An assignment reaches a worker as one message per partition, together:
                    // they are restored together.
                    let mut partitions = vec![p];
                    while let Ok(msg) = rx.try_recv() {
                        match msg {
                            WorkerMsg::Assign(q) => partitions.push(q),
                            other => {
                                next = Some(other);
                                break;
                            }
                        }
                    }
                    self.assign(&partitions);
                }
                WorkerMsg::Revoke(p, reply) => {
                    self.checkpoint(p, true);
                    if let Some(slot) = self.slots.remove(&p) {
                        self.metrics.partition_left(p, &slot.task.part);
                    }
                    let _ = self.acker.send(Ack::Barrier(reply));
                }
                WorkerMsg::Tick(wall_ms) => {
                    self.tick(wall_ms);
                    self.publish();
                }
                WorkerMsg::Rules(pack) => match self.processor.swap_rules(&pack) {
                    Ok(renumbering) => {
                        for slot in self.slots.values_mut() {
                            renumbering.apply(&mut slot.task.part);
                            slot.task.changed = true;
                        }
                        self.metrics.rules_changed(&pack);
                        tracing::debug!(version = %pack.version, "rule set swapped in");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "new rule set does not compile here; the running set stays")
                    }
                },
                WorkerMsg::Shutdown(reply) => {
                    let partitions: Vec<i32> = self.slots.keys().copied().collect();
                    for p in partitions {
                        self.checkpoint(p, true);
                    }
                    self.publish();
                    let _ = self.acker.send(Ack::Barrier(reply));
                    return;
                }
            }
        }
    }

    /// The next message. While some partition holds changes not yet checkpointed, waits at
    /// most [`QUIET`]: when its input pauses that long, it is checkpointed (and its offsets
    /// committed) at once rather than at the next interval, so an input that stops leaves no
    /// uncommitted tail behind it for up to two seconds.
    fn receive(&mut self, rx: &Receiver<WorkerMsg>) -> Option<WorkerMsg> {
        loop {
            if !self.slots.values().any(|s| s.task.changed) {
                return rx.recv().ok();
            }
            match rx.recv_timeout(QUIET) {
                Ok(msg) => return Some(msg),
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => {
                    let changed: Vec<i32> = self
                        .slots
                        .iter()
                        .filter(|(_, s)| s.task.changed)
                        .map(|(p, _)| *p)
                        .collect();
                    for p in changed {
                        self.checkpoint(p, false);
                    }
                }
            }
        }
    }

    /// Hands what the processor counted and the partitions' gauges to the metrics.
    fn publish(&mut self) {
        self.metrics.core(&mut self.processor);
        let wall = chrono::Utc::now().timestamp_millis();
        self.metrics
            .partitions(self.slots.iter().map(|(p, s)| (*p, &s.task.part)), wall);
    }

    /// Restores `partitions` (those not held yet) from the changelog, side by side: a restore
    /// mostly waits on the broker (the marker's acknowledgement, a new consumer's first fetch).
    fn assign(&mut self, partitions: &[i32]) {
        let mut new: Vec<i32> = partitions
            .iter()
            .copied()
            .filter(|p| !self.slots.contains_key(p))
            .collect();
        new.sort_unstable();
        new.dedup();
        let assigned = Instant::now();
        let (config, state) = (&self.config, &*self.state);
        // A few at a time: each read is a consumer of its own, with its threads and connection.
        for chunk in new.chunks(PARALLEL_RESTORES) {
            let restored: Vec<(i32, Latest)> = std::thread::scope(|scope| {
                let reads: Vec<_> = chunk
                    .iter()
                    .map(|&p| scope.spawn(move || (p, read_state(config, state, p))))
                    .collect();
                reads
                    .into_iter()
                    .map(|read| read.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            });
            for (partition, latest) in restored {
                let now = Instant::now();
                let task = Task::restore(partition, latest);
                self.metrics
                    .partition_restored(partition, &task.part, assigned);
                self.slots.insert(
                    partition,
                    Slot {
                        task,
                        last_input: now,
                        last_checkpoint: now,
                        since_checkpoint: 0,
                        first_seen: None,
                        assigned,
                    },
                );
            }
        }
    }

    /// Applies one record; `now` is when its batch arrived.
    fn record(&mut self, record: InputRecord, now: Instant) {
        if !self.slots.contains_key(&record.partition) {
            tracing::info!(
                partition = record.partition,
                offset = record.offset,
                "record for an unassigned partition"
            );
            self.assign(&[record.partition]);
        }
        let Some(slot) = self.slots.get_mut(&record.partition) else {
            return;
        };
        let applied = slot.task.apply(
            &mut self.processor,
            &record.topic,
            record.offset,
            record.payload(),
            &mut self.outputs,
        );
        if applied && slot.first_seen.is_none() {
            // The cost of an assignment: restore, then whatever is read before the first
            // record the state does not hold yet.
            tracing::info!(
                partition = record.partition,
                offset = record.offset,
                since_assign_ms = slot.assigned.elapsed().as_millis() as u64,
                "first record after assignment"
            );
            slot.first_seen = Some(record.offset);
        }
        slot.last_input = now;
        slot.since_checkpoint += 1;
        self.flush_outputs(record.key());
        let slot = &self.slots[&record.partition];
        if slot.since_checkpoint >= self.config.checkpoint_records
            || now.saturating_duration_since(slot.last_checkpoint)
                >= self.config.checkpoint_interval
        {
            self.checkpoint(record.partition, false);
        }
    }

    fn tick(&mut self, wall_ms: i64) {
        let partitions: Vec<i32> = self.slots.keys().copied().collect();
        for p in partitions {
            let slot = self.slots.get_mut(&p).expect("listed above");
            if self.config.idle_follows_wall_clock
                && slot.last_input.elapsed() >= self.config.idle_after
            {
                slot.task
                    .follow_wall_clock(&mut self.processor, wall_ms, &mut self.outputs);
                self.flush_outputs(None);
                self.ack_pending();
            }
            if self.slots[&p].last_checkpoint.elapsed() >= self.config.checkpoint_interval {
                self.checkpoint(p, false);
            }
        }
    }

    /// Produces the outputs made so far; [`Worker::ack_pending`] queues their acknowledgement.
    fn flush_outputs(&mut self, input_key: Option<&[u8]>) {
        self.metrics.outputs(&self.outputs);
        for output in self.outputs.drain(..) {
            self.buf.clear();
            match output {
                Output::Change(change) => {
                    change.write_json(&mut self.buf);
                    let key = Some(change.user_id.as_bytes());
                    let topic = &self.config.output_topic;
                    self.sink.send(&self.pending, topic, None, key, &self.buf);
                }
                Output::Dead(mut dead) => {
                    dead.fit(self.config.max_payload);
                    dead.write_json(&mut self.buf);
                    let topic = &self.config.dead_letter_topic;
                    self.sink
                        .send(&self.pending, topic, None, input_key, &self.buf);
                }
            }
            self.sent += 1;
        }
    }

    /// Asks the acker to wait for every output produced so far (one message per batch).
    fn ack_pending(&mut self) {
        if self.sent > 0 {
            self.sent = 0;
            let batch = std::mem::replace(&mut self.pending, Batch::new());
            let _ = self.acker.send(Ack::Outputs(batch));
        }
    }

    /// Queues a checkpoint of partition `p` when it changed (or always, when `force`).
    fn checkpoint(&mut self, p: i32, force: bool) {
        // A checkpoint is durable only after the outputs of the records it includes.
        self.ack_pending();
        let Some(slot) = self.slots.get_mut(&p) else {
            return;
        };
        slot.last_checkpoint = Instant::now();
        slot.since_checkpoint = 0;
        if !slot.task.changed && !force {
            return;
        }
        let commit = slot
            .task
            .applied
            .iter()
            .map(|(topic, offset)| (topic.clone(), p, offset + 1))
            .collect();
        let (users, meta) = slot.task.checkpoint();
        let record = |key: Vec<u8>, payload: Vec<u8>| Record {
            topic: self.config.changelog_topic.clone(),
            partition: Some(p),
            key: Some(key),
            payload,
        };
        let users = users.into_iter().map(|(k, v)| record(k, v)).collect();
        let meta = record(META_KEY.to_vec(), meta);
        let _ = self.acker.send(Ack::Checkpoint(Checkpoint {
            users,
            meta,
            commit,
        }));
    }
}

/// A pause in a worker's input after which its changed partitions are checkpointed.
const QUIET: Duration = Duration::from_millis(200);

/// Changelog partitions a worker reads at once when an assignment gives it several.
const PARALLEL_RESTORES: usize = 4;

/// The latest value of each key of a changelog partition.
type Latest = HashMap<Vec<u8>, Vec<u8>>;

/// The latest value of every key of partition `partition`'s changelog, read up to a marker
/// written just before (so nothing produced earlier is missed).
fn read_state(config: &WorkerConfig, state: &KafkaSink, partition: i32) -> Latest {
    let nonce = format!(
        "{}:{}:{}",
        std::process::id(),
        partition,
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let marker = Record {
        topic: config.changelog_topic.clone(),
        partition: Some(partition),
        key: Some(MARKER_KEY.to_vec()),
        payload: nonce.into_bytes(),
    };
    state.send_and_wait(&marker);
    let mut latest = Latest::new();
    let read = read_changelog(
        &config.client,
        &config.changelog_topic,
        partition,
        &marker.payload,
        |key, value| match value {
            Some(v) => {
                latest.insert(key.to_vec(), v.to_vec());
            }
            None => {
                latest.remove(key);
            }
        },
    );
    tracing::debug!(partition, records = read, "changelog read");
    latest
}
