//! From the consumer to the workers: the records and control messages a partition's worker
//! receives, and the [`Router`] that batches them per worker.

use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};

use crate::rules::RulePack;

/// What the consumer tells a partition's worker.
pub enum WorkerMsg {
    /// Records in offset order per partition: what one poll round had ready for this worker.
    Records(Vec<InputRecord>),
    /// The partition now belongs to this instance: restore it before its records.
    Assign(i32),
    /// The partition leaves: checkpoint, make durable, then answer.
    Revoke(i32, SyncSender<()>),
    /// Wall-clock time (epoch ms), for idle partitions and periodic checkpoints.
    Tick(i64),
    /// Run every later record on this rule set (hot reload).
    Rules(RulePack),
    /// Checkpoint everything, make it durable, answer, stop.
    Shutdown(SyncSender<()>),
}

pub struct InputRecord {
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    /// The key's bytes, then the payload's: one allocation per record.
    bytes: Vec<u8>,
    /// The key's length; `None` for a record without a key.
    key_len: Option<usize>,
}

impl InputRecord {
    pub fn new(
        topic: Arc<str>,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        payload: &[u8],
    ) -> InputRecord {
        let key_len = key.map(<[u8]>::len);
        let key = key.unwrap_or_default();
        let mut bytes = Vec::with_capacity(key.len() + payload.len());
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(payload);
        InputRecord {
            topic,
            partition,
            offset,
            bytes,
            key_len,
        }
    }

    pub fn key(&self) -> Option<&[u8]> {
        self.key_len.map(|n| &self.bytes[..n])
    }

    pub fn payload(&self) -> &[u8] {
        &self.bytes[self.key_len.unwrap_or(0)..]
    }
}

/// Records are handed over in batches of at most this many per worker.
pub const MAX_BATCH: usize = 512;

/// Sends each partition's messages to the worker that owns its partition number.
///
/// Records are gathered per worker ([`Router::push`]) and handed over together
/// ([`Router::flush`]): one channel message and one wake-up per batch rather than per record.
/// Every other message flushes first, so a worker always sees a partition's records before
/// its revocation.
#[derive(Clone)]
pub struct Router {
    workers: Arc<Vec<SyncSender<WorkerMsg>>>,
    pending: Arc<Mutex<Vec<Vec<InputRecord>>>>,
}

impl Router {
    pub fn new(workers: Vec<SyncSender<WorkerMsg>>) -> Router {
        let pending = workers.iter().map(|_| Vec::new()).collect();
        Router {
            workers: Arc::new(workers),
            pending: Arc::new(Mutex::new(pending)),
        }
    }

    fn index(&self, partition: i32) -> usize {
        partition.unsigned_abs() as usize % self.workers.len()
    }

    fn deliver(&self, worker: usize, msg: WorkerMsg) {
        if self.workers[worker].send(msg).is_err() {
            tracing::error!(worker, "worker is gone");
        }
    }

    /// Queues a record for its worker; hands the worker's batch over once it is full.
    pub fn push(&self, record: InputRecord) {
        let worker = self.index(record.partition);
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending[worker].push(record);
            (pending[worker].len() >= MAX_BATCH).then(|| std::mem::take(&mut pending[worker]))
        };
        if let Some(batch) = full {
            self.deliver(worker, WorkerMsg::Records(batch));
        }
    }

    /// Hands every queued record to its worker. Blocks while a worker's queue is full:
    /// back-pressure to the consumer.
    pub fn flush(&self) {
        let batches: Vec<Vec<InputRecord>> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.iter_mut().map(std::mem::take).collect()
        };
        for (worker, batch) in batches.into_iter().enumerate() {
            if !batch.is_empty() {
                self.deliver(worker, WorkerMsg::Records(batch));
            }
        }
    }

    /// Sends a control message to the worker of `partition`, after every queued record.
    pub fn send(&self, partition: i32, msg: WorkerMsg) {
        self.flush();
        self.deliver(self.index(partition), msg);
    }

    pub fn broadcast(&self, make: impl Fn() -> WorkerMsg) {
        self.flush();
        for w in self.workers.iter() {
            let _ = w.send(make());
        }
    }

    /// Sends `make(reply)` to every worker and waits for all answers.
    pub fn ask_all(&self, make: impl Fn(SyncSender<()>) -> WorkerMsg) {
        self.flush();
        let replies: Vec<_> = self
            .workers
            .iter()
            .map(|w| {
                let (tx, rx) = sync_channel(1);
                let _ = w.send(make(tx));
                rx
            })
            .collect();
        for rx in replies {
            let _ = rx.recv();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_keeps_its_key_and_payload_apart_in_one_buffer() {
        let topic: Arc<str> = "events".into();
        for key in [Some(&b"user-1"[..]), Some(&b""[..]), None] {
            let r = InputRecord::new(topic.clone(), 3, 42, key, br#"{"type":"chat"}"#);
            assert_eq!(r.key(), key);
            assert_eq!(r.payload(), br#"{"type":"chat"}"#);
            assert_eq!((r.partition, r.offset), (3, 42));
        }
        let empty = InputRecord::new(topic, 0, 0, Some(b"k"), b"");
        assert_eq!((empty.key(), empty.payload()), (Some(&b"k"[..]), &b""[..]));
    }
}
