//! Fail-over with the shipped settings: two members share a group, one is killed (SIGKILL) ten
//! times at seeded moments and restarted, and the survivor must take the dead member's
//! partitions over within about 15 s; the final tags must equal an uninterrupted run.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::kafka::{assert_same_tags, file_mode_tags, stream};
use crate::kafka_support::*;
use crate::support::Lcg;

const PARTITIONS: i32 = 4;
const KILLS: usize = 10;
/// What "about 15 s" is held to, with room for a loaded CI machine.
const FAILOVER_LIMIT: Duration = Duration::from_secs(25);

/// The session settings under test are the shipped ones: config/tagstream.toml, read by the
/// child from the repository; nothing here overrides them.
fn spawn(topics: &Topics, log: &str) -> Processor {
    topics.spawn_shipped(log)
}

fn log_path(log: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{log}.log"))
}

/// Whether `log`, from byte `from` on, says the member now holds every partition.
fn holds_all(log: &str, from: usize) -> bool {
    let text = std::fs::read_to_string(log_path(log)).unwrap_or_default();
    let all = format!(
        "{{{}}}",
        (0..PARTITIONS)
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    text.get(from..).is_some_and(|tail| {
        tail.lines().any(|line| {
            serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| {
                v["fields"]["message"] == "partitions assigned"
                    && v["fields"]["partitions"].as_str() == Some(all.as_str())
            })
        })
    })
}

fn log_len(log: &str) -> usize {
    std::fs::metadata(log_path(log)).map_or(0, |m| m.len() as usize)
}

#[test]
#[ignore = "fails on tansu 0.6: the survivor had not taken every partition 25 s after the first kill; under investigation"]
fn a_killed_member_s_partitions_move_to_the_survivor_and_no_tag_is_lost() {
    let Some(bootstrap) = bootstrap() else { return };
    let lines = stream(1_500, 30_000, PARTITIONS);
    let topics = Topics::new(&bootstrap, PARTITIONS);
    // The stream trickles in while members die, so every kill lands mid-processing.
    let producing = Arc::new(AtomicBool::new(true));
    let producer = {
        let (bootstrap, topic, lines) = (bootstrap.clone(), topics.input.clone(), lines.clone());
        let producing = producing.clone();
        std::thread::spawn(move || {
            let mut ends = std::collections::BTreeMap::new();
            for chunk in lines.chunks(250) {
                for (p, n) in produce_lines(&bootstrap, &topic, PARTITIONS, chunk) {
                    *ends.entry(p).or_insert(0) += n;
                }
                std::thread::sleep(Duration::from_millis(1_200));
            }
            producing.store(false, Ordering::SeqCst);
            ends
        })
    };
    let mut logs = ["failover-a".to_string(), "failover-b".to_string()];
    let mut members = [Some(spawn(&topics, &logs[0])), None];
    wait_for_log(
        &logs[0],
        "first record after assignment",
        Duration::from_secs(60),
    );
    members[1] = Some(spawn(&topics, &logs[1]));
    wait_for_log(&logs[1], "partitions assigned", Duration::from_secs(60));

    let mut rng = Lcg(0x5eed_f00d);
    let mut failovers = Vec::new();
    for round in 0..KILLS {
        let victim = rng.below(2) as usize;
        let survivor = 1 - victim;
        std::thread::sleep(Duration::from_millis(200 + rng.below(2_800)));
        let from = log_len(&logs[survivor]);
        let killed_at = Instant::now();
        members[victim].take().unwrap().kill9();
        while !holds_all(&logs[survivor], from) {
            assert!(
                killed_at.elapsed() < FAILOVER_LIMIT,
                "round {round}: the survivor did not take every partition within {FAILOVER_LIMIT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        failovers.push(killed_at.elapsed());
        logs[victim] = format!("failover-{victim}-{round}");
        members[victim] = Some(spawn(&topics, &logs[victim]));
        wait_for_log(
            &logs[victim],
            "partitions assigned",
            Duration::from_secs(60),
        );
    }
    let ends = producer.join().unwrap();
    assert!(!producing.load(Ordering::SeqCst));
    wait_committed(
        &bootstrap,
        &topics.group,
        &topics.input,
        &ends,
        Duration::from_secs(180),
    );
    for member in members.into_iter().flatten() {
        member.stop();
    }
    eprintln!("fail-over times: {failovers:?}");
    assert_same_tags(
        &fold_outputs(&read_topic(&bootstrap, &topics.output)),
        &file_mode_tags(&lines),
    );
}
