//! Fail-over with the shipped settings: two members share a group, one is killed (SIGKILL) ten
//! times at seeded moments and restarted, and the survivor must take the dead member's
//! partitions over within about 15 s; the final tags must equal an uninterrupted run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::kafka::{assert_same_tags, file_mode_tags, stream};
use crate::kafka_support::*;
use crate::support::{free_addr, http_get, run, samples, sum, Lcg};

const PARTITIONS: i32 = 4;
const KILLS: usize = 10;
/// What "about 15 s" is held to, with room for a loaded CI machine.
const FAILOVER_LIMIT: Duration = Duration::from_secs(25);

/// The session settings under test are the shipped ones: config/tagstream.toml, read by the
/// child from the repository; nothing here overrides them. Each member serves `/metrics` on
/// an address of its own, returned with it.
fn spawn(topics: &Topics, log: &str) -> (Processor, String) {
    let addr = free_addr();
    let member = topics.spawn_shipped(log, &[("TAGSTREAM_HTTP__LISTEN", &addr)]);
    (member, addr)
}

/// What a member logs each time it leaves the group to re-form it.
const REGROUP: &str =
    "the group coordinator left partitions without an owner; leaving the group and joining again";

/// `tagstream_kafka_regroups_total` of the member serving `addr` (`None` while it does not
/// answer), once it equals the number of re-forms its log reports (the poll loop counts a
/// request a moment after the watch logs it), or the last reading after 10 s.
fn regroups_counted(addr: &str, log: &str) -> (Option<u64>, u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logged = log_events(log, 0, REGROUP).len() as u64;
        let counted = http_get(addr, "/metrics")
            .map(|(_, text)| sum(&samples(&text), "tagstream_kafka_regroups_total", &[]));
        if counted == Some(logged) || Instant::now() >= deadline {
            return (counted, logged);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn log_len(log: &str) -> usize {
    std::fs::metadata(log_path(log)).map_or(0, |m| m.len() as usize)
}

/// The JSON log lines of `log` from byte `from` on whose message is `message`.
fn log_events(log: &str, from: usize, message: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(log_path(log)).unwrap_or_default();
    text.get(from..)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v["fields"]["message"] == message)
        .collect()
}

/// The partitions of the last assignment `log` reports (`{0, 1}` as the log writes it).
fn last_assignment(log: &str) -> BTreeSet<i32> {
    log_events(log, 0, "partitions assigned")
        .last()
        .and_then(|v| v["fields"]["partitions"].as_str().map(str::to_string))
        .map(|set| {
            set.trim_matches(|c| c == '{' || c == '}')
                .split(", ")
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// When `log` (from byte `from` on) first says its worker processed a record of `partition`
/// after an assignment.
fn first_record_at(log: &str, from: usize, partition: i32) -> Option<SystemTime> {
    log_events(log, from, "first record after assignment")
        .iter()
        .find(|v| v["fields"]["partition"] == partition)
        .and_then(|v| v["timestamp"].as_str())
        .and_then(|ts| chrono::DateTime::parse_from_rfc3339(ts).ok())
        .map(SystemTime::from)
}

/// Quantiles of a sample, for the report.
fn spread(sample: &[Duration]) -> String {
    let mut s = sample.to_vec();
    s.sort();
    let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize].as_secs_f64();
    format!(
        "min {:.1} s, median {:.1} s, p90 {:.1} s, max {:.1} s over {}",
        at(0.0),
        at(0.5),
        at(0.9),
        at(1.0),
        s.len()
    )
}

#[test]
fn a_killed_member_s_partitions_move_to_the_survivor_and_no_event_is_lost() {
    let Some(bootstrap) = bootstrap() else { return };
    let lines = stream(1_500, 30_000, PARTITIONS);
    let topics = Topics::new(&bootstrap, PARTITIONS);
    // The stream trickles in while members die, so every kill lands mid-processing; once the
    // kills are over the rest goes in at once.
    let killing = Arc::new(AtomicBool::new(true));
    let producing = Arc::new(AtomicBool::new(true));
    let producer = {
        let (bootstrap, topic, lines) = (bootstrap.clone(), topics.input.clone(), lines.clone());
        let (killing, producing) = (killing.clone(), producing.clone());
        std::thread::spawn(move || {
            let mut ends = BTreeMap::new();
            for chunk in lines.chunks(60) {
                for (p, n) in produce_lines(&bootstrap, &topic, PARTITIONS, chunk) {
                    *ends.entry(p).or_insert(0) += n;
                }
                if killing.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(500));
                }
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
    let (mut takeovers, mut first_records) = (Vec::new(), Vec::new());
    for round in 0..KILLS {
        let victim = rng.below(2) as usize;
        let survivor = 1 - victim;
        std::thread::sleep(Duration::from_millis(200 + rng.below(2_800)));
        let from = log_len(&logs[survivor]);
        let orphans = last_assignment(&logs[victim]);
        let killed_at = (Instant::now(), SystemTime::now());
        members[victim].take().unwrap().0.kill9();
        while last_assignment(&logs[survivor]).len() < PARTITIONS as usize
            || log_events(&logs[survivor], from, "partitions assigned").is_empty()
        {
            assert!(
                killed_at.0.elapsed() < FAILOVER_LIMIT,
                "round {round}: the survivor did not take every partition within {FAILOVER_LIMIT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        takeovers.push(killed_at.0.elapsed());
        // The first record of each orphaned partition the survivor processed. While the stream
        // still flows every partition has new records, so each must come.
        if producing.load(Ordering::SeqCst) {
            let latest = loop {
                let seen: Option<Vec<SystemTime>> = orphans
                    .iter()
                    .map(|p| first_record_at(&logs[survivor], from, *p))
                    .collect();
                if let Some(seen) = seen {
                    break seen.into_iter().max().unwrap_or(killed_at.1);
                }
                assert!(
                    killed_at.0.elapsed() < FAILOVER_LIMIT,
                    "round {round}: the survivor processed no record of some of {orphans:?} within {FAILOVER_LIMIT:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            };
            first_records.push(latest.duration_since(killed_at.1).unwrap_or_default());
        }
        eprintln!(
            "round {round}: killed member {victim} holding {orphans:?}; the survivor held every partition after {:.1} s",
            takeovers[round].as_secs_f64()
        );
        logs[victim] = format!("failover-{victim}-{round}");
        members[victim] = Some(spawn(&topics, &logs[victim]));
        wait_for_log(
            &logs[victim],
            "partitions assigned",
            Duration::from_secs(60),
        );
        if round + 1 == KILLS {
            killing.store(false, Ordering::SeqCst);
        }
    }
    let ends = producer.join().unwrap();
    wait_committed(
        &bootstrap,
        &topics.group,
        &topics.input,
        &ends,
        Duration::from_secs(120),
    );
    // Each re-form of the group a member logs is counted in its metrics, exactly once.
    for (member, log) in members.iter().zip(&logs) {
        let (_, addr) = member.as_ref().expect("every member runs at the end");
        let (counted, logged) = regroups_counted(addr, log);
        eprintln!("{log}: {logged} re-forms of the group logged, {counted:?} counted");
        assert_eq!(
            counted,
            Some(logged),
            "{log}: tagstream_kafka_regroups_total against its log"
        );
    }
    for (member, _) in members.into_iter().flatten() {
        member.stop();
    }
    eprintln!(
        "kill to the survivor holding every partition: {}",
        spread(&takeovers)
    );
    if !first_records.is_empty() {
        eprintln!(
            "kill to the survivor's first record of every orphaned partition: {}",
            spread(&first_records)
        );
    }
    assert_same_tags(
        &fold_outputs(&read_topic(&bootstrap, &topics.output)),
        &file_mode_tags(&lines),
    );
    // No event lost: each invalid one is a dead letter (once or, replayed after a kill, more).
    let dead: BTreeSet<(String, String)> = read_topic(&bootstrap, &topics.dead)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["source"].as_str().unwrap().to_string(),
                v["payload"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut payloads: Vec<&String> = dead.iter().map(|(_, p)| p).collect();
    payloads.sort();
    let mut expected: Vec<String> = run(&lines).dead.into_iter().map(|d| d.payload).collect();
    expected.sort();
    assert_eq!(payloads, expected.iter().collect::<Vec<_>>());
}
