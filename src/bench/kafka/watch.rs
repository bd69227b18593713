//! The output consumer: counts outputs, notices the warm-up, times latency events.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::{INPUT_PARTITIONS, LATENCY, WARMUP};

/// What the output consumer has seen, shared with the bench thread.
pub(super) struct Watch {
    pub(super) base: Instant,
    pub(super) received: AtomicU64,
    /// Nanoseconds after `base` of the last output received.
    pub(super) last_ns: AtomicU64,
    pub(super) warmed: AtomicU64,
    pub(super) stop: AtomicBool,
}

impl Watch {
    pub(super) fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    pub(super) fn last(&self) -> Instant {
        self.base + Duration::from_nanos(self.last_ns.load(Ordering::SeqCst))
    }
}

/// One timed event: when it was sent and how long its first tag change took (ns).
#[derive(Debug, Clone, Copy)]
pub(super) struct Sample {
    pub(super) sent: u64,
    pub(super) latency: u64,
}

#[derive(serde::Deserialize)]
struct EventIdOnly {
    event_id: Option<String>,
}

/// Reads every partition of `topics` from the beginning until told to stop. Counts outputs
/// (not the warm-up's) and, with `sends`, returns for the first tag change of each `lat-<i>`
/// event its send time and its receive − send time (ns after `watch.base`).
pub(super) fn consume(
    client: ClientConfig,
    topics: &[(String, i32)],
    watch: &Watch,
    sends: Option<&[AtomicU64]>,
) -> Result<Vec<Sample>, KafkaError> {
    let consumer = reader(client, topics)?;
    let mut warm: HashSet<String> = HashSet::new();
    let mut seen = vec![false; sends.map_or(0, <[AtomicU64]>::len)];
    let mut latencies = Vec::new();
    while !watch.stop.load(Ordering::SeqCst) {
        let msg = match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(msg)) => msg,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "bench consumer error");
                continue;
            }
            None => continue,
        };
        let now = watch.base.elapsed().as_nanos() as u64;
        let need_id = sends.is_some() || warm.len() < INPUT_PARTITIONS as usize;
        let id = need_id
            .then(|| serde_json::from_slice::<EventIdOnly>(msg.payload().unwrap_or_default()).ok())
            .flatten()
            .and_then(|e| e.event_id);
        if let Some(w) = id.as_deref().filter(|id| id.starts_with(WARMUP)) {
            warm.insert(w.to_string());
            watch.warmed.store(warm.len() as u64, Ordering::SeqCst);
            continue;
        }
        watch.received.fetch_add(1, Ordering::SeqCst);
        watch.last_ns.store(now, Ordering::SeqCst);
        let Some(sends) = sends else { continue };
        let index = id
            .as_deref()
            .and_then(|id| id.strip_prefix(LATENCY))
            .and_then(|i| i.parse::<usize>().ok())
            .filter(|i| *i < seen.len());
        if let Some(i) = index {
            let sent = sends[i].load(Ordering::SeqCst);
            if !seen[i] && sent > 0 {
                seen[i] = true;
                latencies.push(Sample {
                    sent: sent - 1,
                    latency: now.saturating_sub(sent - 1),
                });
            }
        }
    }
    Ok(latencies)
}

/// A consumer of every partition of `topics` (name, partition count) from the beginning,
/// outside any group's assignment, that reads new records within 10 ms.
pub(super) fn reader(
    mut client: ClientConfig,
    topics: &[(impl AsRef<str>, i32)],
) -> Result<BaseConsumer, KafkaError> {
    let consumer: BaseConsumer = client
        .set("group.id", "tagstream-bench-reader")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for (topic, partitions) in topics {
        for p in 0..*partitions {
            tpl.add_partition_offset(topic.as_ref(), p, Offset::Beginning)?;
        }
    }
    consumer.assign(&tpl)?;
    Ok(consumer)
}
