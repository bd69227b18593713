//! Observability from the outside: `/metrics`, `/readyz` and `/livez` of a running instance,
//! the figures against what the broker holds, and the log settings.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::kafka_support::*;
use crate::support::*;

/// `promtool check metrics` on `text`, when promtool is installed (scripts/test.sh installs it
/// where the machine allows).
fn promtool_check(text: &str) {
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool not installed: `promtool check metrics` skipped");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn generated(users: u64, events: u64) -> Vec<String> {
    let opts = tagstream::generate::GenOptions {
        users,
        events,
        days: 30,
        seed: 5,
        invalid_per_mille: 20,
        late_per_mille: 0,
        personas: false,
        ..tagstream::generate::GenOptions::default()
    };
    generated_lines(&opts)
}

#[test]
fn kafka_metrics_agree_with_what_the_broker_holds() {
    let Some(bootstrap) = bootstrap() else { return };
    let partitions = 3;
    let topics = Topics {
        bootstrap: bootstrap.clone(),
        input: unique("events"),
        output: unique("changes"),
        dead: unique("dead"),
        group: unique("group"),
    };
    create_topic(&bootstrap, &topics.output, 3);
    create_topic(&bootstrap, &topics.dead, 1);
    let addr = free_addr();
    // The input topic does not exist yet: the instance waits for it, not ready.
    let processor = topics.spawn_with("metrics-kafka", &[("TAGSTREAM_HTTP__LISTEN", &addr)]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let first = loop {
        if let Some(answer) = http_get(&addr, "/readyz") {
            break answer;
        }
        assert!(Instant::now() < deadline, "no HTTP listener on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(first.0, 503, "ready before having partitions: {}", first.1);
    assert!(
        first.1.contains("no partition assignment yet"),
        "{}",
        first.1
    );
    assert_eq!(http_get(&addr, "/livez").unwrap().0, 200);

    let lines = generated(200, 4_000);
    create_topic(&bootstrap, &topics.input, partitions);
    let ends = produce_lines(&bootstrap, &topics.input, partitions, &lines);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut statuses = vec![first.0];
    loop {
        let (status, body) = http_get(&addr, "/readyz?verbose").unwrap();
        if statuses.last() != Some(&status) {
            statuses.push(status);
        }
        if status == 200 {
            assert!(
                body.contains("[+]restore every assigned partition restored"),
                "{body}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "never ready: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(statuses, [503, 200]);
    wait_committed(
        &bootstrap,
        &topics.group,
        &topics.input,
        &ends,
        Duration::from_secs(120),
    );
    let out = read_topic(&bootstrap, &topics.output);
    let dead = read_topic(&bootstrap, &topics.dead);
    let (status, text) = http_get(&addr, "/metrics").unwrap();
    assert_eq!(status, 200);
    processor.stop();
    promtool_check(&text);
    let s = samples(&text);

    let produced = lines.len() as u64;
    let events = sum(&s, "tagstream_events_total", &[]);
    let dead_letters = sum(&s, "tagstream_dead_letters_total", &[]);
    let rule_dead = sum(
        &s,
        "tagstream_dead_letters_total",
        &[("reason", "rule_error")],
    );
    assert_eq!(sum(&s, "tagstream_records_total", &[]), produced);
    assert_eq!(
        events + dead_letters - rule_dead,
        produced,
        "events + bad input = records consumed"
    );
    assert_eq!(
        dead_letters,
        dead.len() as u64,
        "dead letters = the dead-letter topic"
    );
    assert_eq!(rule_dead, sum(&s, "tagstream_rule_errors_total", &[]));
    assert!(dead_letters > 0, "the stream has invalid lines");
    assert_eq!(
        sum(&s, "tagstream_tag_changes_total", &[]),
        out.len() as u64,
        "tag changes = records in the output topic"
    );
    let mut held: BTreeMap<String, u64> = BTreeMap::new();
    for tags in fold_outputs(&out).values() {
        for tag in tags {
            *held.entry(tag.clone()).or_default() += 1;
        }
    }
    assert!(!held.is_empty());
    let exported: BTreeMap<String, u64> = s
        .iter()
        .filter(|(n, _, v)| n == "tagstream_tags_held" && *v != 0.0)
        .map(|(_, l, v)| (l["tag"].clone(), *v as u64))
        .collect();
    assert_eq!(exported, held, "tags_held = the fold of the output topic");
    let users: BTreeSet<String> = lines
        .iter()
        .filter_map(|l| {
            tagstream::decode::decode(l.as_bytes(), &tagstream::decode::Source::Timer).ok()
        })
        .map(|e| e.user_id.to_string())
        .collect();
    assert_eq!(sum(&s, "tagstream_users", &[]), users.len() as u64);
    assert!(sum(&s, "tagstream_kafka_rebalances_total", &[]) >= 1);
    // A lone member holds every partition: the regroup watch never acts, and says so from the start.
    assert!(s
        .iter()
        .any(|(n, _, v)| n == "tagstream_kafka_regroups_total" && *v == 0.0));
    assert!(sum(&s, "tagstream_checkpoints_total", &[]) > 0);
    assert!(sum(&s, "tagstream_kafka_commits_total", &[("result", "ok")]) > 0);
    assert_eq!(
        sum(&s, "tagstream_processing_latency_seconds_count", &[]),
        produced
    );
    assert!(sum(&s, "tagstream_state_restore_duration_seconds_count", &[]) >= partitions as u64);
    assert!(sum(&s, "tagstream_rule_duration_seconds_count", &[]) > 0);
    assert!(sum(&s, "process_resident_memory_bytes", &[]) > 0);
    assert_eq!(
        sum(
            &s,
            "tagstream_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1
    );
    let partition_labels: BTreeSet<&str> = s
        .iter()
        .filter(|(n, _, _)| n == "tagstream_event_time_lag_seconds")
        .map(|(_, l, _)| l["partition"].as_str())
        .collect();
    assert_eq!(partition_labels, BTreeSet::from(["0", "1", "2"]));
    // No label value is an id or text from the input.
    for (name, labels, _) in &s {
        for v in labels.values() {
            assert!(!users.contains(v), "{name} carries a user id: {v}");
            assert!(
                !v.contains(' ') || name == "tagstream_build_info",
                "{name}: {v:?}"
            );
        }
    }
}

#[test]
fn embedded_mode_serves_metrics_while_it_reads() {
    let addr = free_addr();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tagstream"))
        .args([
            "run",
            "--input",
            "-",
            "--output",
            "/dev/null",
            "--dead-letter",
            "/dev/null",
            "--workers",
            "1",
        ])
        .args(["--http", &addr])
        .current_dir(repo())
        .env("TAGSTREAM_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = generated(50, 3_000);
    lines.push("not json".into());
    for line in &lines {
        writeln!(stdin, "{line}").unwrap();
    }
    stdin.flush().unwrap();
    // The input stays open: the instance is reading, ready, and counts what it wrote.
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        if let Some((200, text)) = http_get(&addr, "/metrics") {
            if samples(&text).iter().any(|(n, l, v)| {
                n == "tagstream_dead_letters_total" && l["reason"] == "not_json" && *v > 0.0
            }) {
                break text;
            }
        }
        assert!(Instant::now() < deadline, "metrics never showed the input");
        std::thread::sleep(Duration::from_millis(50));
    };
    let s = samples(&text);
    assert!(sum(&s, "tagstream_tag_changes_total", &[]) > 0);
    // The core's counters arrive every 1024 records, before the input ends.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sum(
        &samples(&http_get(&addr, "/metrics").unwrap().1),
        "tagstream_events_total",
        &[],
    ) < 1_900
    {
        assert!(
            Instant::now() < deadline,
            "events never counted while reading"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, body) = http_get(&addr, "/readyz?verbose").unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "[+]rules loaded\n[+]input reading\nready\n")
    );
    assert_eq!(http_get(&addr, "/healthz").unwrap().0, 200);
    assert_eq!(http_get(&addr, "/nope").unwrap().0, 404);
    // The probes docs/monitoring.md gives answer, on the shipped port.
    let probes = std::fs::read_to_string(repo().join("docs/monitoring.md")).unwrap();
    let probes = probes
        .split("```yaml probes\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```yaml probes block in docs/monitoring.md");
    let config = std::fs::read_to_string(repo().join("config/tagstream.toml")).unwrap();
    let mut paths = 0;
    for probe in probes.lines() {
        let field = |key: &str| {
            let rest = probe.split(key).nth(1)?;
            Some(rest.split([',', ' ', '}']).next()?.to_string())
        };
        let (Some(path), Some(port)) = (field("path: "), field("port: ")) else {
            continue;
        };
        assert!(
            config.contains(&format!(":{port}\"")),
            "{probe}: not the shipped port"
        );
        assert_eq!(http_get(&addr, &path).unwrap().0, 200, "{probe}");
        paths += 1;
    }
    assert_eq!(paths, 2, "{probes}");
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("tagstream starting"), "{log}");
    assert!(log.contains("bad_input_by_reason="), "{log}");
    assert!(log.contains("tag total"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colours in a log that is not a terminal"
    );
}

/// With several workers, each shard sent its counters every 1024 events and never on a quiet
/// input, as one worker does: a live pipe's `/metrics` lagged by up to 1023 events a shard for
/// as long as the input was quiet (3,072 of the sample's 4,280 events), and a rule's errors
/// went uncounted while its dead letters were counted.
#[test]
fn several_workers_publish_their_counts_when_the_input_is_quiet() {
    let addr = free_addr();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("spin.rhai"),
        "fn on_click(event, user) { if event.target == \"boom\" { throw \"boom\"; } }\n",
    )
    .unwrap();
    std::fs::copy(
        repo().join("rules/keywords.rhai"),
        dir.path().join("keywords.rhai"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tagstream"))
        .args(["run", "--input", "-", "--output", "/dev/null"])
        .args(["--dead-letter", "/dev/null", "--workers", "2", "--rules"])
        .arg(dir.path())
        .args(["--http", &addr])
        .current_dir(repo())
        .env("TAGSTREAM_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let sample = std::fs::read_to_string(repo().join("examples/sample.jsonl")).unwrap();
    stdin.write_all(sample.as_bytes()).unwrap();
    writeln!(
        stdin,
        r#"{{"type":"click","user_id":"u1","ts":"2026-10-28T23:59:59Z","target":"boom"}}"#
    )
    .unwrap();
    stdin.flush().unwrap();
    // The input stays open and quiet: every count must arrive all the same.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (events, errors) = loop {
        let s = samples(&http_get(&addr, "/metrics").map(|r| r.1).unwrap_or_default());
        let counts = (
            sum(&s, "tagstream_events_total", &[]),
            sum(&s, "tagstream_rule_errors_total", &[("rule", "spin")]),
        );
        if counts == (4_281, 1) || Instant::now() > deadline {
            break counts;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(stdin);
    let _ = child.wait();
    assert_eq!(
        (events, errors),
        (4_281, 1),
        "events and rule errors counted"
    );
}

#[test]
fn log_settings_that_do_not_parse_stop_the_start() {
    for (var, value, says) in [
        ("TAGSTREAM_LOG", "inof", "TAGSTREAM_LOG"),
        ("TAGSTREAM_LOG", "tagstream=loud", "not a level"),
        ("TAGSTREAM_LOG_FORMAT", "yaml", "`text` or `json`"),
        // Named like the two but neither: ignored before, without a word.
        (
            "TAGSTREAM_LOG_LEVEL",
            "debug",
            "TAGSTREAM_LOG_LEVEL is not a variable tagstream reads; did you mean TAGSTREAM_LOG?",
        ),
        (
            "TAGSTREAM_LOGFORMAT",
            "json",
            "TAGSTREAM_LOGFORMAT is not a variable tagstream reads; did you mean TAGSTREAM_LOG_FORMAT?",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tagstream"))
            .args(["check"])
            .current_dir(repo())
            .env(var, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{var}={value}: {err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_tagstream"))
        .args(["run", "--input", "-", "--http", "9898"])
        .current_dir(repo())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bad --http address is a usage error"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("9898"));
}

/// `--http ADDR` on a port another process holds: a runtime failure (exit 1) naming the
/// address and saying it is in use, before any event is read or any output written.
#[test]
fn an_http_address_in_use_stops_the_run_before_it_reads() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let input = write_lines(dir.path(), "in.jsonl", &[chat("u1", T0, "hello")]);
    let output = dir.path().join("out.jsonl");
    let out = tagstream()
        .args(["run", "--http", &addr, "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "http listen address {addr}: the port is in use by another process (another \
             tagstream?); give another with --http HOST:PORT or http.listen \
             (TAGSTREAM_HTTP__LISTEN), or \"\" for none"
        )),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");
    assert!(!output.exists(), "{err}");
}

/// An address no interface has (a documentation address, 192.0.2.1) says so, not
/// "Cannot assign requested address (os error 99)".
#[test]
fn an_http_address_of_another_machine_is_named_as_such() {
    let out = tagstream()
        .args(["run", "--http", "192.0.2.1:9898", "--input", "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "http listen address 192.0.2.1:9898: no network interface of this machine has that \
             address"
        ),
        "{err}"
    );
}
