//! Kafka client metrics: consumer lag from librdkafka's statistics (set
//! `statistics.interval.ms` on the group consumer) and offset-commit results, counted where
//! commits are made: a synchronous commit with the broker's answer, an asynchronous one when
//! librdkafka takes the request (rust-rdkafka's event API does not report its outcome).

use std::collections::BTreeSet;
use std::sync::Mutex;

use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;

use super::{global, Metrics};

/// How often librdkafka reports statistics to the group consumer, in ms.
pub const STATISTICS_INTERVAL_MS: &str = "5000";

/// `(topic, partition)` pairs whose lag is exported now.
static EXPORTED: Mutex<BTreeSet<(String, i32)>> = Mutex::new(BTreeSet::new());

/// The group consumer's statistics arrived: exports each partition's lag, removes the
/// partitions whose lag is unknown (librdkafka reports -1: not assigned, nothing committed
/// yet) or that are gone.
pub fn consumer_statistics(stats: &Statistics) {
    export_lag(global(), stats, &EXPORTED);
}

fn export_lag(m: &Metrics, stats: &Statistics, exported: &Mutex<BTreeSet<(String, i32)>>) {
    let mut now = BTreeSet::new();
    for (topic, t) in &stats.topics {
        for (p, part) in &t.partitions {
            // Partition -1 is librdkafka's internal "unassigned" queue.
            if *p < 0 || part.consumer_lag < 0 || !part.desired {
                continue;
            }
            m.consumer_lag
                .with_label_values(&[topic, &p.to_string()])
                .set(part.consumer_lag);
            now.insert((topic.clone(), *p));
        }
    }
    let mut exported = exported.lock().unwrap_or_else(|e| e.into_inner());
    for (topic, p) in exported.difference(&now) {
        let _ = m.consumer_lag.remove_label_values(&[topic, &p.to_string()]);
    }
    *exported = now;
}

/// An offset commit finished, or an asynchronous one was queued (one with nothing to commit
/// is not counted).
pub fn commit_result(result: &KafkaResult<()>) {
    let label = match result {
        Ok(()) => "ok",
        Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => return,
        Err(_) => "error",
    };
    global().commits.with_label_values(&[label]).inc();
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::statistics::{Partition, Topic};

    fn partition(p: i32, lag: i64, desired: bool) -> (i32, Partition) {
        let part = Partition {
            partition: p,
            desired,
            consumer_lag: lag,
            ..Partition::default()
        };
        (p, part)
    }

    #[test]
    fn unknown_lag_is_left_out_and_removed() {
        let m = Metrics::new();
        let exported = Mutex::new(BTreeSet::new());
        let mut stats = Statistics::default();
        let topic = Topic {
            topic: "events".into(),
            partitions: [
                partition(0, 42, true),
                partition(1, -1, true),
                partition(-1, 5, false),
            ]
            .into_iter()
            .collect(),
            ..Topic::default()
        };
        stats.topics.insert("events".into(), topic);
        export_lag(&m, &stats, &exported);
        let text = m.render();
        assert!(
            text.contains("tagstream_kafka_consumer_lag{partition=\"0\",topic=\"events\"} 42"),
            "{text}"
        );
        assert!(
            !text.contains("partition=\"1\""),
            "unknown lag exported: {text}"
        );
        assert!(!text.contains("partition=\"-1\""), "{text}");
        let p0 = stats
            .topics
            .get_mut("events")
            .unwrap()
            .partitions
            .get_mut(&0)
            .unwrap();
        p0.consumer_lag = -1;
        export_lag(&m, &stats, &exported);
        assert!(
            !m.render().contains("tagstream_kafka_consumer_lag{"),
            "the lag of a revoked partition stays"
        );
    }
}
