//! Kafka test helpers: a broker address (started by `.ci/run` via scripts/tansu.sh, passed as
//! `TAGSTREAM_TEST_BOOTSTRAP`), random topic names, producing a stream, running the processor
//! as a child process, waiting until it has committed everything, reading a topic back.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use crate::support::repo;

/// The broker to test against; `None` skips Kafka tests outside CI (CI always has one).
pub fn bootstrap() -> Option<String> {
    match std::env::var("TAGSTREAM_TEST_BOOTSTRAP") {
        Ok(b) if !b.is_empty() => Some(b),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must provide TAGSTREAM_TEST_BOOTSTRAP (see .ci/run)"
            );
            eprintln!("TAGSTREAM_TEST_BOOTSTRAP not set: Kafka test skipped (run scripts/test.sh for the full suite)");
            None
        }
    }
}

pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    c
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<_> = client(bootstrap).create().unwrap();
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(-1));
    let res = rt()
        .block_on(admin.create_topics([&new], &AdminOptions::new()))
        .unwrap();
    for r in res {
        r.unwrap();
    }
}

/// The partition a test puts a user's events in (stable, independent of librdkafka).
pub fn partition_of(key: &str, partitions: i32) -> i32 {
    let mut h: u32 = 2_166_136_261;
    for b in key.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(16_777_619);
    }
    (h % partitions as u32) as i32
}

/// Produces each line keyed by its `user_id` (lines without one go to partition 0); returns
/// how many records each partition received.
pub fn produce_lines(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    lines: &[String],
) -> BTreeMap<i32, i64> {
    let mut counts: BTreeMap<i32, i64> = (0..partitions).map(|p| (p, 0)).collect();
    let producer: FutureProducer = client(bootstrap).set("linger.ms", "5").create().unwrap();
    let rt = rt();
    let mut pending = Vec::new();
    for line in lines {
        let user = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| {
                v.get("user_id")
                    .and_then(|u| u.as_str())
                    .map(str::to_string)
            });
        let p = user.as_deref().map_or(0, |u| partition_of(u, partitions));
        *counts.get_mut(&p).unwrap() += 1;
        let mut rec = FutureRecord::to(topic).payload(line.as_str()).partition(p);
        if let Some(u) = &user {
            rec = rec.key(u.as_str());
        }
        loop {
            match producer.send_result(rec) {
                Ok(f) => {
                    pending.push(f);
                    break;
                }
                Err((_, r)) => {
                    producer.poll(Duration::from_millis(10));
                    rec = r;
                }
            }
        }
    }
    for f in pending {
        rt.block_on(f).unwrap().unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    counts
}

/// End offsets of every partition of `topic`.
pub fn high_watermarks(bootstrap: &str, topic: &str) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = client(bootstrap).create().unwrap();
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    md.topics()[0]
        .partitions()
        .iter()
        .map(|p| {
            (
                p.id(),
                consumer
                    .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                    .unwrap()
                    .1,
            )
        })
        .collect()
}

/// Waits until `group` has committed `ends` (records per partition of a fresh topic). The ends
/// are counted by the producer: tansu 0.6 under-reports high watermarks.
pub fn wait_committed(
    bootstrap: &str,
    group: &str,
    topic: &str,
    ends: &BTreeMap<i32, i64>,
    timeout: Duration,
) {
    let consumer: BaseConsumer = client(bootstrap).set("group.id", group).create().unwrap();
    let deadline = Instant::now() + timeout;
    loop {
        let mut tpl = TopicPartitionList::new();
        for p in ends.keys() {
            tpl.add_partition(topic, *p);
        }
        let done = consumer
            .committed_offsets(tpl, Duration::from_secs(5))
            .is_ok_and(|c| {
                c.elements().iter().all(|e| match e.offset() {
                    Offset::Offset(o) => o >= ends[&e.partition()],
                    _ => ends[&e.partition()] == 0,
                })
            });
        if done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "group {group} did not commit {topic} to {ends:?} in {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every message of `topic`, each partition in offset order (partitions one after another).
/// Reads until the topic has been quiet for two seconds (high watermarks are not reliable on
/// tansu 0.6), so call it once the writers have stopped.
pub fn read_topic(bootstrap: &str, topic: &str) -> Vec<String> {
    let partitions = high_watermarks(bootstrap, topic).len() as i32;
    let consumer: BaseConsumer = client(bootstrap)
        .set("group.id", unique("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut per_partition: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(2) {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            per_partition
                .entry(m.partition())
                .or_default()
                .push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
            quiet_since = Instant::now();
        }
    }
    let lines: Vec<String> = per_partition.into_values().flatten().collect();
    if let Ok(dir) = std::env::var("TAGSTREAM_TEST_DUMP") {
        std::fs::write(
            PathBuf::from(dir).join(format!("{topic}.jsonl")),
            lines.join("\n"),
        )
        .unwrap();
    }
    lines
}

/// Final tags per user from output messages: duplicates (same id) are dropped first, as a
/// consumer of an at-least-once stream does; the fold then must be consistent.
pub fn fold_outputs(lines: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    let mut seen = HashSet::new();
    let unique: Vec<&String> = lines
        .iter()
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            seen.insert(v["id"].as_str().unwrap().to_string())
        })
        .collect();
    crate::support::fold_json_lines(
        &unique
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// A `tagstream run` child process in Kafka mode.
pub struct Processor {
    pub child: Child,
    /// Where its stderr goes.
    pub log: PathBuf,
}

pub struct Topics {
    pub bootstrap: String,
    pub input: String,
    pub output: String,
    pub dead: String,
    pub group: String,
}

impl Topics {
    pub fn new(bootstrap: &str, partitions: i32) -> Topics {
        let t = Topics {
            bootstrap: bootstrap.to_string(),
            input: unique("events"),
            output: unique("changes"),
            dead: unique("dead"),
            group: unique("group"),
        };
        create_topic(bootstrap, &t.input, partitions);
        create_topic(bootstrap, &t.output, 3);
        create_topic(bootstrap, &t.dead, 1);
        t
    }

    pub fn spawn(&self, log: &str) -> Processor {
        self.spawn_with(log, &[])
    }

    /// Spawns with extra environment, e.g. a stable `group.instance.id` for an instance that is
    /// restarted (static membership: the restart reclaims the partitions at once).
    pub fn spawn_with(&self, log: &str, env: &[(&str, &str)]) -> Processor {
        let mut command = self.command(log);
        command
            // A killed member's partitions move on after this (as shipped).
            .env("TAGSTREAM_KAFKA__OPTIONS__SESSION_TIMEOUT_MS", "6000")
            .env("TAGSTREAM_KAFKA__OPTIONS__HEARTBEAT_INTERVAL_MS", "1000")
            // A member whose poll loop stalls this long leaves the group (shipped: 30 s).
            .env("TAGSTREAM_KAFKA__OPTIONS__MAX_POLL_INTERVAL_MS", "10000")
            .envs(env.iter().copied());
        Processor {
            child: command.spawn().unwrap(),
            log: log_path(log),
        }
    }

    /// Spawns with the group session settings of config/tagstream.toml as shipped, logging
    /// JSON lines, with extra environment that leaves those settings alone (an HTTP listener).
    pub fn spawn_shipped(&self, log: &str, env: &[(&str, &str)]) -> Processor {
        let mut command = self.command(log);
        command
            .env("TAGSTREAM_LOG_FORMAT", "json")
            .envs(env.iter().copied());
        Processor {
            child: command.spawn().unwrap(),
            log: log_path(log),
        }
    }

    /// The release binary in Kafka mode on these topics, logging to `<tmp>/<log>.log`.
    fn command(&self, log: &str) -> Command {
        let log_file = std::fs::File::create(log_path(log)).unwrap();
        // Another build can be measured against this one (see resume::measure_assignment_cost).
        let bin = std::env::var("TAGSTREAM_TEST_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_tagstream").to_string());
        let mut command = Command::new(bin);
        command
            .arg("run")
            .current_dir(repo())
            .env("TAGSTREAM_KAFKA__BOOTSTRAP_SERVERS", &self.bootstrap)
            // Generated streams have synthetic event times, which may lie ahead of the wall clock.
            .env("TAGSTREAM_CLOCK__MAX_FUTURE", "off")
            .env("TAGSTREAM_KAFKA__INPUT_TOPICS", &self.input)
            .env("TAGSTREAM_KAFKA__OUTPUT_TOPIC", &self.output)
            .env("TAGSTREAM_KAFKA__DEAD_LETTER_TOPIC", &self.dead)
            .env("TAGSTREAM_KAFKA__GROUP_ID", &self.group)
            .env("TAGSTREAM_CLOCK__IDLE_FOLLOWS_WALL_CLOCK", "false")
            .env("TAGSTREAM_HTTP__LISTEN", "")
            .env("TAGSTREAM_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log_file);
        command
    }
}

/// The file a spawned processor named `log` writes its stderr to.
pub fn log_path(log: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{log}.log"))
}

impl Processor {
    /// SIGTERM, then wait for a clean exit that logs no error.
    pub fn stop(self) {
        self.stop_checking(true);
    }

    /// SIGTERM, then wait for a clean exit, without the check on errors: after a broker outage,
    /// librdkafka may still log connection failures while the processor stops.
    pub fn stop_after_outage(self) {
        self.stop_checking(false);
    }

    fn stop_checking(mut self, no_errors: bool) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "processor exited with {status}");
                if no_errors {
                    // A clean stop logs no error: an operator alerting on errors is not paged.
                    let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                    let stopping = log.find("draining: leaving the group").unwrap_or(log.len());
                    let errors: Vec<&str> = log[stopping..]
                        .lines()
                        .filter(|l| l.contains("ERROR"))
                        .collect();
                    assert!(errors.is_empty(), "errors while stopping: {errors:#?}");
                }
                return;
            }
            assert!(
                Instant::now() < deadline,
                "processor did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Processor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the processor log `name` contains `needle`.
pub fn wait_for_log(name: &str, needle: &str, timeout: Duration) {
    let path = std::env::temp_dir().join(format!("{name}.log"));
    let deadline = Instant::now() + timeout;
    while !std::fs::read_to_string(&path)
        .unwrap_or_default()
        .contains(needle)
    {
        assert!(
            Instant::now() < deadline,
            "{name}: no {needle:?} in the log within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A tansu broker owned by one test (for tests that stop and restart the broker), with
/// SQLite storage so its data survives a restart. Stopped on drop.
pub struct OwnBroker {
    pub port: u16,
    pid: Option<String>,
    storage: String,
    _dir: tempfile::TempDir,
}

fn script() -> PathBuf {
    repo().join("scripts/tansu.sh")
}

impl OwnBroker {
    pub fn start() -> OwnBroker {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script()).arg("free-port").output().unwrap();
        let port: u16 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let storage = format!("sqlite:///{}", dir.path().join("tansu.db").display());
        let mut broker = OwnBroker {
            port,
            pid: None,
            storage,
            _dir: dir,
        };
        broker.restart();
        broker
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker (again) on the same port and storage; waits until it answers.
    pub fn restart(&mut self) {
        let out = Command::new(script())
            .args(["start", &self.port.to_string(), &self.storage])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tansu did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.pid = Some(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }

    pub fn stop(&mut self) {
        if let Some(pid) = self.pid.take() {
            Command::new(script())
                .args(["stop", &pid])
                .status()
                .unwrap();
        }
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.stop();
    }
}
