//! Resuming an assigned partition no later than its committed offset.
//!
//! A consumer resumes at the group's committed offset. Some brokers (tansu 0.6, measured:
//! committed 1234, first record delivered 2161) answer a fetch from an offset inside a record
//! batch with the *next* batch, silently skipping the rest of the batch. So the first record of
//! each newly assigned partition is checked against its committed offset; when it lies past it,
//! the partition is sought further back (doubling the distance, down to offset 0, which always
//! starts a batch) until a record at or before the committed offset arrives. Records before the
//! committed offset are already in the restored state, so the worker skips them.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};

struct Resume {
    committed: i64,
    back: i64,
    last_seek: Option<Instant>,
    /// Last record let through since the resume point was reached.
    last: Option<i64>,
    /// Highest offset dropped from the skipping fetch: until the sequence passes it, records
    /// still queued from that fetch may arrive, so only consecutive offsets are let through.
    max_dropped: i64,
}

/// Partitions whose first record has not yet been seen since assignment.
#[derive(Default)]
pub struct Resumes {
    pending: Mutex<HashMap<(String, i32), Resume>>,
}

impl Resumes {
    /// Records the committed offsets of newly assigned partitions.
    pub fn expect<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        assigned: &TopicPartitionList,
    ) {
        let committed = match consumer.committed_offsets(assigned.clone(), Duration::from_secs(10))
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "committed offsets unavailable; resume point not checked");
                return;
            }
        };
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        for e in committed.elements() {
            if let Offset::Offset(offset) = e.offset() {
                if offset > 0 {
                    let key = (e.topic().to_string(), e.partition());
                    pending.insert(
                        key,
                        Resume {
                            committed: offset,
                            back: 1_024,
                            last_seek: None,
                            last: None,
                            max_dropped: -1,
                        },
                    );
                }
            }
        }
    }

    pub fn forget(&self, partitions: &BTreeSet<i32>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|(_, p), _| !partitions.contains(p));
    }

    /// Whether a record may be processed: `false` while the partition is being sought back
    /// because its fetch started past the committed offset.
    pub fn admit<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.is_empty() {
            return true;
        }
        let key = (topic.to_string(), partition);
        let Some(resume) = pending.get_mut(&key) else {
            return true;
        };
        let admit = match resume.last {
            None => offset <= resume.committed,
            Some(last) => offset == last + 1,
        };
        if admit {
            resume.last = Some(offset);
            if offset >= resume.max_dropped {
                pending.remove(&key);
            }
            return true;
        }
        if resume.last.is_some() {
            resume.max_dropped = resume.max_dropped.max(offset);
            return false;
        }
        resume.max_dropped = resume.max_dropped.max(offset);
        // Records still arriving from the skipping fetch are dropped until the seek takes effect.
        if resume
            .last_seek
            .is_none_or(|t| t.elapsed() > Duration::from_millis(500))
        {
            let to = (resume.committed - resume.back).max(0);
            tracing::info!(
                topic,
                partition,
                committed = resume.committed,
                first = offset,
                seek_to = to,
                "fetch started past the committed offset; seeking back"
            );
            if let Err(e) =
                consumer.seek(topic, partition, Offset::Offset(to), Duration::from_secs(5))
            {
                tracing::warn!(topic, partition, error = %e, "seek failed; retrying");
            }
            resume.back = resume.back.saturating_mul(4);
            resume.last_seek = Some(Instant::now());
        }
        false
    }
}
