//! Resuming at the committed offset against the real broker: a fetch served honestly (every
//! record its own batch), one served with tansu 0.6's mid-batch defect (large batches, the
//! committed offset inside one), and one whose committed offset lies in the last batch.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::kafka_support::*;
use crate::support::*;

/// One chat per user `u<i>`, each of which tags its user `intent/price`.
fn lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| chat(&format!("u{i}"), T0 + i as i64 * MINUTE, "多少钱"))
        .collect()
}

/// Produces each line as its own request and record batch.
fn produce_one_by_one(bootstrap: &str, topic: &str, lines: &[String]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "0")
        .create()
        .unwrap();
    let rt = rt();
    for line in lines {
        let record = FutureRecord::<(), _>::to(topic).payload(line).partition(0);
        rt.block_on(producer.send(record, Duration::from_secs(10)))
            .unwrap();
    }
}

/// Commits `offset` for `group` on partition 0 of `topic`, as an earlier member would have.
fn commit(bootstrap: &str, group: &str, topic: &str, offset: i64) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(offset))
        .unwrap();
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
}

fn log_messages(log: &str) -> Vec<serde_json::Value> {
    let path: PathBuf = std::env::temp_dir().join(format!("{log}.log"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["fields"].clone())
        .collect()
}

/// Runs a member over `n` records of which `committed` are committed; checks that exactly the
/// records from `committed` on were processed. Returns the member's log.
fn resume(log: &str, n: usize, committed: i64, one_by_one: bool) -> Vec<serde_json::Value> {
    let bootstrap = bootstrap().expect("checked by the caller");
    let topics = Topics::new(&bootstrap, 1);
    let stream = lines(n);
    if one_by_one {
        produce_one_by_one(&bootstrap, &topics.input, &stream);
    } else {
        produce_lines(&bootstrap, &topics.input, 1, &stream);
    }
    commit(&bootstrap, &topics.group, &topics.input, committed);
    let member = topics.spawn_with(log, &[("TAGSTREAM_LOG_FORMAT", "json")]);
    let ends = BTreeMap::from([(0, n as i64)]);
    wait_committed(
        &bootstrap,
        &topics.group,
        &topics.input,
        &ends,
        Duration::from_secs(60),
    );
    member.stop();
    let tagged: BTreeSet<String> = fold_outputs(&read_topic(&bootstrap, &topics.output))
        .into_iter()
        .filter(|(_, tags)| tags.contains("intent/price"))
        .map(|(user, _)| user)
        .collect();
    let expected: BTreeSet<String> = (committed as usize..n).map(|i| format!("u{i}")).collect();
    assert_eq!(
        tagged.len(),
        expected.len(),
        "records from the committed offset on, each once"
    );
    assert_eq!(tagged, expected);
    let messages = log_messages(log);
    let first = messages
        .iter()
        .find(|f| f["message"] == "first record after assignment")
        .expect("a first record");
    assert_eq!(first["offset"], committed, "{first}");
    messages
}

fn said(messages: &[serde_json::Value], what: &str) -> bool {
    messages
        .iter()
        .any(|f| f["message"].as_str().is_some_and(|m| m.starts_with(what)))
}

#[test]
fn an_honest_fetch_resumes_at_the_committed_offset() {
    if bootstrap().is_none() {
        return;
    }
    let messages = resume("resume-honest", 1_500, 1_234, true);
    assert!(
        !said(&messages, "broker skipped records"),
        "every record is its own batch: the broker starts where asked"
    );
}

#[test]
fn a_fetch_that_skips_part_of_a_batch_is_caught() {
    if bootstrap().is_none() {
        return;
    }
    let messages = resume("resume-defective", 4_000, 1_234, false);
    // tansu 0.6 serves a fetch from inside a batch from the next batch, or with nothing when
    // the batch is the last: either way the fallback seeks back until the fetch is whole.
    assert!(
        said(&messages, "broker skipped records on resume")
            || said(&messages, "no record since resuming"),
        "the fallback was taken"
    );
    assert!(said(&messages, "resume confirmed after seeking back"));
}

#[test]
fn a_committed_offset_in_the_last_batch_is_not_left_waiting() {
    if bootstrap().is_none() {
        return;
    }
    resume("resume-last-batch", 3_000, 2_990, false);
}

/// Milliseconds from the "partitions assigned" line of `log` to the broker timestamp of the
/// first output made for a record at or after `from_user`.
fn assignment_to_first_output(log: &str, bootstrap: &str, topic: &str, from_user: usize) -> i64 {
    let path: PathBuf = std::env::temp_dir().join(format!("{log}.log"));
    let assigned = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["message"] == "partitions assigned")
        .and_then(|v| {
            chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str()?)
                .ok()
                .map(|t| t.timestamp_millis())
        })
        .expect("an assignment in the log");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique("measure"))
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut first: Option<i64> = None;
    let mut quiet = 0;
    while quiet < 20 {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                use rdkafka::Message;
                quiet = 0;
                let v: serde_json::Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
                let user = v["user_id"].as_str().unwrap_or_default();
                let new = user
                    .strip_prefix('u')
                    .and_then(|i| i.parse::<usize>().ok())
                    .is_some_and(|i| i >= from_user);
                if let (true, Some(ts)) = (new, m.timestamp().to_millis()) {
                    first = Some(first.map_or(ts, |f: i64| f.min(ts)));
                }
            }
            _ => quiet += 1,
        }
    }
    first.expect("an output of a new record") - assigned
}

/// The cost of an assignment against the size of the retained log: a member processes `n`
/// records and stops; ten more arrive; a new member starts, and the time from its assignment to
/// the output of the first new record is printed. Run with
/// `cargo test --release --test integration measure_assignment_cost -- --ignored --nocapture`
/// (with a broker in `TAGSTREAM_TEST_BOOTSTRAP`; `TAGSTREAM_TEST_BIN` measures another build).
#[test]
#[ignore = "a measurement, not a check: run by hand"]
fn measure_assignment_cost() {
    let Some(bootstrap) = bootstrap() else { return };
    println!("retained records | assignment to first new output (ms)");
    for n in [10_000, 100_000, 300_000] {
        let topics = Topics::new(&bootstrap, 1);
        let stream = lines(n + 10);
        produce_lines(&bootstrap, &topics.input, 1, &stream[..n]);
        let first = topics.spawn_with("measure-first", &[]);
        let ends = BTreeMap::from([(0, n as i64)]);
        wait_committed(
            &bootstrap,
            &topics.group,
            &topics.input,
            &ends,
            Duration::from_secs(600),
        );
        first.stop();
        produce_lines(&bootstrap, &topics.input, 1, &stream[n..]);
        let log = format!("measure-{n}");
        let second = topics.spawn_with(&log, &[("TAGSTREAM_LOG_FORMAT", "json")]);
        let ends = BTreeMap::from([(0, n as i64 + 10)]);
        wait_committed(
            &bootstrap,
            &topics.group,
            &topics.input,
            &ends,
            Duration::from_secs(600),
        );
        second.stop();
        let ms = assignment_to_first_output(&log, &bootstrap, &topics.output, n);
        println!("{n:>16} | {ms}");
    }
}
