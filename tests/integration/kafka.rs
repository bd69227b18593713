//! Kafka mode against a real broker: equivalence with file mode, crash recovery, consumer
//! groups, dead letters, broker loss.

use std::time::Duration;

use crate::kafka_support::*;
use crate::support::*;

/// A generated stream with no late events, ending with one clock event per partition at the
/// final time so every partition's clock ends where file mode's does.
pub fn stream(users: u64, events: u64, partitions: i32) -> Vec<String> {
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
    let mut lines = generated_lines(&opts);
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

pub fn file_mode_tags(
    lines: &[String],
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let run = run(lines);
    let mut tags = fold(&run.changes);
    tags.retain(|_, t| !t.is_empty());
    tags
}

pub type Tags = std::collections::BTreeMap<String, std::collections::BTreeSet<String>>;

/// Asserts equal final tags, naming the first users that differ.
pub fn assert_same_tags(actual: &Tags, expected: &Tags) {
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

#[test]
fn kill_9_at_several_points_loses_nothing() {
    let Some(bootstrap) = bootstrap() else { return };
    let lines = stream(2_000, 40_000, 4);
    let topics = Topics::new(&bootstrap, 4);
    // A quarter of the stream before each instance, so each one has records it has not seen
    // however fast the one before it got through (and checkpointed) what it was given.
    let mut parts = lines.chunks(lines.len().div_ceil(4));
    let mut ends = std::collections::BTreeMap::new();
    let mut produce_part = |part: &[String]| {
        for (p, n) in produce_lines(&bootstrap, &topics.input, 4, part) {
            *ends.entry(p).or_insert(0) += n;
        }
    };
    for (round, after_ms) in [300_u64, 1_000, 2_000].into_iter().enumerate() {
        produce_part(parts.next().expect("four parts"));
        let log = format!("kill9-{round}");
        let processor = topics.spawn(&log);
        wait_for_log(
            &log,
            "first record after assignment",
            Duration::from_secs(120),
        );
        std::thread::sleep(Duration::from_millis(after_ms));
        processor.kill9();
    }
    produce_part(parts.next().expect("four parts"));
    let processor = topics.spawn("kill9-final");
    wait_committed(
        &bootstrap,
        &topics.group,
        &topics.input,
        &ends,
        Duration::from_secs(180),
    );
    processor.stop();
    let out = read_topic(&bootstrap, &topics.output);
    let unique: std::collections::HashSet<&str> = out.iter().map(|l| l.as_str()).collect();
    let ids: std::collections::HashSet<String> = out
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "every duplicate output is an exact repeat of its id's first copy"
    );
    assert_same_tags(&fold_outputs(&out), &file_mode_tags(&lines));
}

#[test]
fn two_processors_in_one_group_split_the_work() {
    let Some(bootstrap) = bootstrap() else { return };
    let lines = stream(1_000, 20_000, 4);
    // The second half is produced only once the second member holds partitions, so both
    // members have records to process however fast the first one is.
    let (early, late) = lines.split_at(lines.len() / 2);
    let topics = Topics::new(&bootstrap, 4);
    let mut ends = produce_lines(&bootstrap, &topics.input, 4, early);
    let first = topics.spawn("group-a");
    wait_for_log(
        "group-a",
        "first record after assignment",
        Duration::from_secs(120),
    );
    let second = topics.spawn("group-b");
    wait_for_log("group-b", "partitions assigned", Duration::from_secs(120));
    for (p, n) in produce_lines(&bootstrap, &topics.input, 4, late) {
        *ends.get_mut(&p).unwrap() += n;
    }
    wait_committed(
        &bootstrap,
        &topics.group,
        &topics.input,
        &ends,
        Duration::from_secs(180),
    );
    first.stop();
    second.stop();
    let logs = std::fs::read_to_string(std::env::temp_dir().join("group-b.log")).unwrap();
    assert!(
        logs.contains("first record after assignment"),
        "the second member processed records: {logs}"
    );
    assert_same_tags(
        &fold_outputs(&read_topic(&bootstrap, &topics.output)),
        &file_mode_tags(&lines),
    );
}

#[test]
fn malformed_messages_become_dead_letters_with_source() {
    let Some(bootstrap) = bootstrap() else { return };
    let topics = Topics::new(&bootstrap, 1);
    let lines = vec![
        chat("u1", T0, "你好"),
        "{not json".to_string(),
        r#"{"type":"view","user_id":"u1","ts":1788220800000}"#.to_string(),
        r#"{"type":"order","user_id":"u1","ts":1788220800000,"order_id":"o1","amount":-5}"#
            .to_string(),
        chat("u1", T0 + HOUR, "多少钱"),
    ];
    let ends = produce_lines(&bootstrap, &topics.input, 1, &lines);
    let processor = topics.spawn("dead-letters");
    wait_committed(
        &bootstrap,
        &topics.group,
        &topics.input,
        &ends,
        Duration::from_secs(60),
    );
    processor.stop();
    let dead: Vec<serde_json::Value> = read_topic(&bootstrap, &topics.dead)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dead.len(), 3, "{dead:?}");
    for (letter, offset) in dead.iter().zip([1, 2, 3]) {
        assert_eq!(letter["source"], format!("{}/0/{offset}", topics.input));
        assert_eq!(letter["payload"], lines[offset]);
        assert_eq!(letter["rule"], serde_json::Value::Null);
    }
    assert!(dead[0]["error"].as_str().unwrap().starts_with("not JSON"));
    assert!(dead[1]["error"].as_str().unwrap().contains("view"));
    assert!(dead[2]["error"].as_str().unwrap().contains("amount"));
    let tags = fold_outputs(&read_topic(&bootstrap, &topics.output));
    assert!(
        tags["u1"].contains("intent/price"),
        "the stream went on after bad input: {tags:?}"
    );
}

/// Runs a stream through one processor while `disrupt` takes the broker away and brings it
/// back, then checks that the final tags equal file mode's.
fn survives_broker_disruption(bootstrap: &str, log: &str, disrupt: impl FnOnce()) {
    let lines = stream(1_000, 20_000, 2);
    let topics = Topics::new(bootstrap, 2);
    let ends = produce_lines(bootstrap, &topics.input, 2, &lines);
    let processor = topics.spawn(log);
    wait_for_log(
        log,
        "first record after assignment",
        Duration::from_secs(60),
    );
    std::thread::sleep(Duration::from_millis(500));
    disrupt();
    wait_committed(
        bootstrap,
        &topics.group,
        &topics.input,
        &ends,
        Duration::from_secs(240),
    );
    processor.stop_after_outage();
    assert_same_tags(
        &fold_outputs(&read_topic(bootstrap, &topics.output)),
        &file_mode_tags(&lines),
    );
}

#[test]
fn broker_stopped_and_restarted_mid_run_loses_nothing() {
    if bootstrap().is_none() {
        return;
    }
    let mut broker = OwnBroker::start();
    let bootstrap = broker.bootstrap();
    survives_broker_disruption(&bootstrap, "broker-restart", || {
        broker.stop();
        std::thread::sleep(Duration::from_secs(3));
        broker.restart();
    });
}

#[test]
fn broker_lost_mid_run_and_back_loses_nothing() {
    if bootstrap().is_none() {
        return;
    }
    let broker = crate::net_cut::ProxiedBroker::start();
    survives_broker_disruption(&broker.bootstrap(), "broker-lost", || {
        broker.cut();
        std::thread::sleep(Duration::from_secs(5));
        broker.restore();
    });
    let log = std::fs::read_to_string(std::env::temp_dir().join("broker-lost.log")).unwrap();
    assert!(
        log.contains("AllBrokersDown") || log.contains("Disconnected"),
        "the processor saw the broker go away"
    );
}

#[test]
fn an_idle_partition_follows_wall_clock_so_silence_moves_users() {
    let Some(bootstrap) = bootstrap() else { return };
    let topics = Topics::new(&bootstrap, 1);
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let long_ago = wall - 100 * DAY;
    let lines = vec![
        chat("quiet", long_ago, "大家好"),
        chat("quiet", long_ago + HOUR, "多少钱"),
    ];
    produce_lines(&bootstrap, &topics.input, 1, &lines);
    let processor = topics.spawn_with(
        "idle-clock",
        &[
            ("TAGSTREAM_CLOCK__IDLE_FOLLOWS_WALL_CLOCK", "true"),
            ("TAGSTREAM_CLOCK__IDLE_AFTER", "1s"),
        ],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let tags = loop {
        let tags = fold_outputs(&read_topic(&bootstrap, &topics.output));
        if tags
            .get("quiet")
            .is_some_and(|t| t.contains("lifecycle/churned"))
            || std::time::Instant::now() > deadline
        {
            break tags;
        }
    };
    processor.stop();
    let quiet = &tags["quiet"];
    assert!(
        quiet.contains("lifecycle/churned"),
        "100 days of silence by the wall clock churn the user: {quiet:?}"
    );
    assert!(
        !quiet.contains("intent/price"),
        "the 30 d keyword TTL expired by the wall clock: {quiet:?}"
    );
    assert!(!quiet.contains("identity/newcomer"), "{quiet:?}");
}
