//! Kafka mode's state for the query commands: the changelog topic read end to end (every
//! partition, by assignment: no group is joined and nothing is committed), and one user's
//! changes from the output topic.
//!
//! A compacted topic may still hold older values of a key beside the latest one, so each
//! partition is read twice: first to find the offset of each user's latest record (a map of
//! 16 bytes per user of that partition), then to hand out exactly those records.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::Value;

use super::{Found, QueryError};
use crate::config::Config;
use crate::hash::fnv1a;
use crate::source::kafka::{QuietContext, MARKER_KEY};
use crate::state::snapshot::{Meta, UserRecord, META_KEY};

const TIMEOUT: Duration = Duration::from_secs(10);
/// A partition that hands out nothing for this long, short of its end, is an error.
const STALL: Duration = Duration::from_secs(30);
/// How long nothing must arrive after the end of a partition for the read to stop there.
const QUIET: Duration = Duration::from_millis(500);

fn kafka(e: KafkaError) -> QueryError {
    QueryError::Kafka(e.to_string())
}

type QueryConsumer = BaseConsumer<QuietContext>;

fn consumer(config: &Config) -> Result<QueryConsumer, QueryError> {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.kafka.bootstrap_servers);
    for (key, value) in &config.kafka.options {
        client.set(key, value);
    }
    // librdkafka wants a group id for any consumer; partitions are assigned, never subscribed,
    // and no offset is committed, so the group is never joined.
    client
        .set("group.id", format!("{}-query", config.kafka.group_id))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true");
    client.create_with_context(QuietContext).map_err(kafka)
}

fn partitions(
    config: &Config,
    consumer: &QueryConsumer,
    topic: &str,
) -> Result<Vec<i32>, QueryError> {
    let metadata = consumer.fetch_metadata(Some(topic), TIMEOUT).map_err(|e| {
        QueryError::Kafka(format!(
            "cannot read topic {topic:?} from {}: {e} (for the saved state of embedded mode, \
             pass --state DIR)",
            config.kafka.bootstrap_servers
        ))
    })?;
    let found = metadata.topics().iter().find(|t| t.name() == topic);
    match found {
        Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
            Ok(t.partitions().iter().map(|p| p.id()).collect())
        }
        _ => Err(QueryError::Kafka(format!(
            "topic {topic:?} not found (has Kafka mode run with this kafka.group_id?)"
        ))),
    }
}

/// What [`scan`] hands each record to: `(offset, key, value)` (`None` = tombstone); `false` stops.
type OnRecord<'a> = dyn FnMut(i64, &[u8], Option<&[u8]>) -> Result<bool, QueryError> + 'a;

/// Hands each record of `topic`/`partition` to `each` (offset, key, value), from the beginning
/// to the end, until it returns `false`. The end is where the broker reports the partition's
/// end and nothing more arrives for [`QUIET`]: it does not trust high watermarks alone (some
/// brokers under-report them), and it ends on a partition still being written to as soon as
/// the writer pauses between checkpoints.
fn scan(
    consumer: &QueryConsumer,
    topic: &str,
    partition: i32,
    each: &mut OnRecord<'_>,
) -> Result<(), QueryError> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Beginning)
        .map_err(kafka)?;
    consumer.assign(&tpl).map_err(kafka)?;
    let mut progress = Instant::now();
    let mut at_end: Option<Instant> = None;
    loop {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(msg)) => {
                progress = Instant::now();
                at_end = None;
                if !each(msg.offset(), msg.key().unwrap_or_default(), msg.payload())? {
                    return Ok(());
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => {
                at_end.get_or_insert_with(Instant::now);
            }
            Some(Err(e)) => return Err(kafka(e)),
            None => match at_end {
                Some(since) if since.elapsed() >= QUIET => return Ok(()),
                Some(_) => {}
                None if progress.elapsed() > STALL => {
                    return Err(QueryError::Kafka(format!(
                        "{topic}/{partition}: no records and no end of partition for {}s",
                        STALL.as_secs()
                    )))
                }
                None => {}
            },
        }
    }
}

/// Every user of the changelog, partition by partition.
pub(super) fn each_user(
    config: &Config,
    each: &mut dyn FnMut(Found) -> Result<bool, QueryError>,
) -> Result<(), QueryError> {
    let consumer = consumer(config)?;
    let topic = config.changelog_topic();
    for partition in partitions(config, &consumer, &topic)? {
        let mut latest: HashMap<u64, i64> = HashMap::new();
        let mut meta: Option<Vec<u8>> = None;
        scan(&consumer, &topic, partition, &mut |offset, key, value| {
            if key == META_KEY {
                meta = value.map(<[u8]>::to_vec);
            } else if key != MARKER_KEY {
                latest.insert(fnv1a(key), offset);
            }
            Ok(true)
        })?;
        let clock = match &meta {
            Some(bytes) => {
                Meta::decode(bytes)
                    .map_err(|e| {
                        QueryError::Kafka(format!("{topic}/{partition}: checkpoint: {e}"))
                    })?
                    .clock
            }
            None => None,
        };
        let mut go_on = true;
        scan(&consumer, &topic, partition, &mut |offset, key, value| {
            let (Some(value), true) = (value, latest.get(&fnv1a(key)) == Some(&offset)) else {
                return Ok(true);
            };
            if key == META_KEY || key == MARKER_KEY {
                return Ok(true);
            }
            let id = String::from_utf8_lossy(key).into_owned();
            let record = UserRecord::decode(value)
                .map_err(|e| QueryError::Kafka(format!("{topic}/{partition}: user {id:?}: {e}")))?;
            go_on = each(Found {
                id,
                state: record.state,
                clock,
                partition: Some(partition),
            })?;
            Ok(go_on)
        })?;
        if !go_on {
            break;
        }
    }
    Ok(())
}

/// The changes of `user` in the output topic, oldest first: from the partition the user's key
/// goes to under librdkafka's default partitioner, or from every partition when
/// `kafka.options` names another.
pub(super) fn history(config: &Config, user: &str) -> Result<Vec<Value>, QueryError> {
    let consumer = consumer(config)?;
    let topic = &config.kafka.output_topic;
    let all = partitions(config, &consumer, topic)?;
    let default_partitioner = config
        .kafka
        .options
        .get("partitioner")
        .is_none_or(|p| p == "consistent_random" || p == "consistent");
    let read: Vec<i32> = if default_partitioner {
        vec![(crc32(user.as_bytes()) % all.len() as u32) as i32]
    } else {
        all
    };
    let mut changes: Vec<(i64, Value)> = Vec::new();
    for &partition in &read {
        scan(&consumer, topic, partition, &mut |offset, key, value| {
            if key == user.as_bytes() {
                if let Some(change) = value.and_then(super::explain::parse_change) {
                    changes.push((offset, change));
                }
            }
            Ok(true)
        })?;
    }
    // Within a partition offsets are the order of production; across partitions (another
    // partitioner) the change time orders them, and the sort keeps offsets' order for ties.
    if read.len() > 1 {
        let ms = |c: &Value| {
            c["ts"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp_millis())
        };
        changes.sort_by_key(|(_, c)| ms(c));
    }
    Ok(changes.into_iter().map(|(_, c)| c).collect())
}

/// CRC-32 (IEEE), as librdkafka's consistent partitioners hash keys.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0_u32;
    for b in bytes {
        c ^= u32::from(*b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_known_vector() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
