//! Kafka mode against a real broker: equivalence with file mode, crash recovery, consumer
//! groups, dead letters, broker loss.

use std::time::Duration;

use crate::kafka_support::*;
use crate::support::*;

/// A generated stream with no late events, ending with one clock event per partition at the
/// final time so every partition's clock ends where file mode's does.
fn stream(users: u64, events: u64, partitions: i32) -> Vec<String> {
    let opts = tagstream::generate::GenOptions {
        users,
        events,
        days: 40,
        seed: 11,
        invalid_per_mille: 10,
        late_per_mille: 0,
        personas: false,
        ..tagstream::generate::GenOptions::default()
    };
    let mut buf = Vec::new();
    tagstream::generate::generate(&opts, &mut buf).unwrap();
    let mut lines: Vec<String> = String::from_utf8(buf)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let last = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            v.get("ts").and_then(|t| {
                t.as_i64()
                    .or_else(|| t.as_str().and_then(tagstream::decode::parse_rfc3339_ms))
            })
        })
        .max()
        .unwrap();
    let mut p = 0;
    let mut i = 0;
    while p < partitions {
        let user = format!("clock-{i}");
        if partition_of(&user, partitions) == p {
            lines.push(click(&user, last));
            p += 1;
        }
        i += 1;
    }
    lines
}

fn file_mode_tags(
    lines: &[String],
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let run = run(lines);
    let mut tags = fold(&run.changes);
    tags.retain(|_, t| !t.is_empty());
    tags
}

type Tags = std::collections::BTreeMap<String, std::collections::BTreeSet<String>>;

/// Asserts equal final tags, naming the first users that differ.
fn assert_same_tags(actual: &Tags, expected: &Tags) {
    let users: std::collections::BTreeSet<&String> = actual.keys().chain(expected.keys()).collect();
    let diff: Vec<_> = users
        .into_iter()
        .filter(|u| actual.get(*u) != expected.get(*u))
        .take(5)
        .map(|u| {
            format!(
                "{u}: kafka {:?} / file {:?}",
                actual.get(u),
                expected.get(u)
            )
        })
        .collect();
    assert!(
        diff.is_empty(),
        "{} of {} users differ, e.g.\n{}",
        diff.len(),
        expected.len(),
        diff.join("\n")
    );
}

#[test]
fn kafka_mode_matches_file_mode() {
    let Some(bootstrap) = bootstrap() else { return };
    let lines = stream(300, 6_000, 4);
    let topics = Topics::new(&bootstrap, 4);
    let ends = produce_lines(&bootstrap, &topics.input, 4, &lines);
    let processor = topics.spawn("kafka-matches-file");
    wait_committed(
        &bootstrap,
        &topics.group,
        &topics.input,
        &ends,
        Duration::from_secs(120),
    );
    processor.stop();
    let out = read_topic(&bootstrap, &topics.output);
    if std::env::var("TAGSTREAM_TEST_DUMP").is_ok() {
        std::fs::write("/tmp/kafka_out.jsonl", out.join("\n")).unwrap();
        std::fs::write("/tmp/kafka_in.jsonl", lines.join("\n")).unwrap();
    }
    let kafka = fold_outputs(&out);
    let expected = file_mode_tags(&lines);
    assert_same_tags(&kafka, &expected);
    let dead = read_topic(&bootstrap, &topics.dead);
    assert_eq!(dead.len(), run(&lines).dead.len());
}
