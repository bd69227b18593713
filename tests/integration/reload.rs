//! Hot reload: a new rule set swapped in between two events, on SIGHUP and on file changes, in
//! embedded mode on stdin and in Kafka mode; a broken set keeps the old one running; state
//! carries over, even when rules and tags are renumbered.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tagstream::core::Processor;
use tagstream::decode::Source;
use tagstream::rules::RulePack;
use tagstream::state::Partition;
use tagstream::tags::{Output, TagChange};

use crate::kafka_support::{
    self, bootstrap, fold_outputs, produce_lines, read_topic, wait_committed,
};
use crate::support::*;

/// A rule that sorts before every shipped rule, and its catalogue group, which sorts before
/// every shipped group: adding both renumbers every rule and every tag.
const ABTEST_RULE: &str = "fn on_click(event, user) { tag(\"abtest/reloaded\", \"campaign\"); }\n";
const ABTEST_GROUP: &str = "[groups.abtest]\ntags = [\"reloaded\"]\n\n";

/// A copy of the shipped rules and config under a temporary directory, laid out as the repo.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    for entry in std::fs::read_dir(repo().join("rules")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "rhai") {
            std::fs::copy(
                &path,
                dir.path().join("rules").join(path.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    for file in ["tags.toml", "params.toml"] {
        std::fs::copy(
            repo().join("config").join(file),
            dir.path().join("config").join(file),
        )
        .unwrap();
    }
    dir
}

fn load(dir: &Path) -> RulePack {
    RulePack::load(
        &dir.join("rules"),
        &dir.join("config/tags.toml"),
        &dir.join("config/params.toml"),
        &[],
    )
    .unwrap()
}

/// Adds the abtest group to the catalogue and `rule` as rules/abtest.rhai.
fn add_abtest(dir: &Path, rule: &str) {
    let catalogue = dir.join("config/tags.toml");
    let text = std::fs::read_to_string(&catalogue).unwrap();
    let at = text.find("[groups.").unwrap();
    std::fs::write(
        &catalogue,
        format!("{}{ABTEST_GROUP}{}", &text[..at], &text[at..]),
    )
    .unwrap();
    std::fs::write(dir.join("rules/abtest.rhai"), rule).unwrap();
}

/// A change as it reads without its rule set version.
fn key(c: &TagChange) -> String {
    let mut c = c.clone();
    c.rules_version = Arc::from("");
    let mut buf = Vec::new();
    c.write_json(&mut buf);
    String::from_utf8(buf).unwrap()
}

/// Runs the sample stream, swapping `second` in halfway (renumbering state unless `renumber`
/// is false); returns the changes.
fn run_with_swap(first: &RulePack, second: &RulePack, renumber: bool) -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("examples/sample.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut processor = Processor::new(first).unwrap();
    let mut part = Partition::new();
    let mut out = Vec::new();
    let name: Arc<str> = Arc::from("sample");
    for (i, line) in lines.iter().enumerate() {
        if i == lines.len() / 2 {
            let renumbering = processor.swap_rules(second).unwrap();
            if renumber {
                renumbering.apply(&mut part);
            }
        }
        let source = Source::File {
            name: name.clone(),
            line: i as u64 + 1,
        };
        processor.process_record(&mut part, line.as_bytes(), &source, &mut out);
    }
    processor.finish(&mut part, &mut out);
    out.iter()
        .filter_map(|o| match o {
            Output::Change(c) => Some(key(c)),
            Output::Dead(_) => None,
        })
        .collect()
}

#[test]
fn state_follows_rules_and_tags_by_name_across_a_swap() {
    let dir = tree();
    let shipped = load(dir.path());
    // Inert: never fires on the sample stream, which has no user holding its tag.
    add_abtest(
        dir.path(),
        "fn on_click(event, user) { if user.has(\"abtest/reloaded\") { untag(\"abtest/reloaded\"); } }\n",
    );
    let widened = load(dir.path());
    assert_ne!(shipped.version, widened.version);
    let straight = run_with_swap(&shipped, &shipped, true);
    let swapped = run_with_swap(&shipped, &widened, true);
    let first_diff = straight.iter().zip(&swapped).position(|(a, b)| a != b);
    assert!(
        first_diff.is_none() && straight.len() == swapped.len(),
        "first difference at change {first_diff:?} of {}",
        straight.len()
    );
    // The check has teeth: without renumbering, timers and tags land on the wrong rule or tag.
    assert_ne!(run_with_swap(&shipped, &widened, false), straight);
}

/// The bytes `pid` has read so far (Linux).
fn bytes_read(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn log_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits until the JSON log at `path` has a line whose message starts with `message`; returns it.
fn wait_log(path: &Path, message: &str, skip: usize) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = log_lines(path)
            .into_iter()
            .filter(|v| {
                v["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(message))
            })
            .nth(skip);
        if let Some(line) = found {
            return line;
        }
        assert!(
            Instant::now() < deadline,
            "no log line {message:?} in {}:\n{}",
            path.display(),
            std::fs::read_to_string(path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sighup(pid: u32) {
    let status = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The three batches of the reload tests: before the reload, after it, after a failed one.
fn batches(t: i64) -> [Vec<String>; 3] {
    [
        vec![chat("u1", t, "想购买这个"), click("u2", t + MINUTE)],
        vec![
            chat("u1", t + DAY, "怎么下单"),
            click("u2", t + DAY + MINUTE),
        ],
        vec![click("u3", t + 2 * DAY)],
    ]
}

/// Checks outputs of the three batches: the first ran on `v1`, the rest on `v2` (the new rule
/// tags clicks), and state carried over (a purchase intent needs one hit before the reload and
/// one after).
fn check_outputs(changes: &[serde_json::Value], v1: &str, v2: &str) {
    let by_event = |prefix: &str| -> Vec<&serde_json::Value> {
        changes
            .iter()
            .filter(|c| {
                c["event_id"]
                    .as_str()
                    .is_some_and(|e| e.starts_with(prefix))
            })
            .collect()
    };
    let t = T0;
    for c in by_event(&format!("c-u1-{t}"))
        .into_iter()
        .chain(by_event(&format!("k-u2-{}", t + MINUTE)))
    {
        assert_eq!(c["rules_version"], v1, "before the reload: {c}");
    }
    let later: Vec<_> = [
        format!("c-u1-{}", t + DAY),
        format!("k-u2-{}", t + DAY + MINUTE),
        format!("k-u3-{}", t + 2 * DAY),
    ]
    .iter()
    .flat_map(|e| by_event(e))
    .collect();
    assert!(!later.is_empty());
    for c in &later {
        assert_eq!(c["rules_version"], v2, "after the reload: {c}");
    }
    let has = |event: &str, tag: &str| {
        by_event(event)
            .iter()
            .any(|c| c["tag"] == tag && c["op"] == "add")
    };
    assert!(!has(&format!("k-u2-{}", t + MINUTE), "abtest/reloaded"));
    assert!(has(
        &format!("k-u2-{}", t + DAY + MINUTE),
        "abtest/reloaded"
    ));
    assert!(
        has(&format!("k-u3-{}", t + 2 * DAY), "abtest/reloaded"),
        "the broken rule did not replace the running one"
    );
    assert!(
        has(&format!("c-u1-{}", t + DAY), "intent/purchase"),
        "the hit before the reload still counts after it"
    );
}

/// `tagstream run --input - --output -` and `args` in `dir`, logging JSON at info level to
/// `run.log` there; returns the child and the log's path.
fn live_run(dir: &Path, args: &[&str]) -> (std::process::Child, PathBuf) {
    let log = dir.join("run.log");
    let child = Command::new(env!("CARGO_BIN_EXE_tagstream"))
        .args(["run", "--input", "-", "--output", "-"])
        .args(args)
        .current_dir(dir)
        .env("TAGSTREAM_LOG_FORMAT", "json")
        .env("TAGSTREAM_LOG", "info")
        .env("TAGSTREAM_CLOCK__MAX_FUTURE", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    (child, log)
}

fn embedded_reload(workers: &str) {
    let dir = tree();
    let (mut child, log) = live_run(
        dir.path(),
        &["--workers", workers, "--dead-letter", "dead.jsonl"],
    );
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(&l.unwrap()).unwrap())
            .collect::<Vec<_>>()
    });
    let v1 = wait_log(&log, "tagstream starting", 0)["fields"]["rules_version"]
        .as_str()
        .unwrap()
        .to_string();
    wait_log(&log, "hot reload on SIGHUP", 0);
    let mut stdin = child.stdin.take().unwrap();
    let [before, after, last] = batches(T0);
    // Each batch is read, and so processed, before the next step.
    let mut send = |lines: &[String]| {
        let start = bytes_read(pid);
        let text = lines.join("\n") + "\n";
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while bytes_read(pid) < start + text.len() as u64 {
            assert!(Instant::now() < deadline, "the input was not read");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    send(&before);

    add_abtest(dir.path(), ABTEST_RULE);
    sighup(pid);
    let reloaded = wait_log(&log, "rules reloaded", 0);
    assert_eq!(reloaded["fields"]["cause"], "SIGHUP");
    let v2 = reloaded["fields"]["version"].as_str().unwrap().to_string();
    assert_ne!(v1, v2);
    send(&after);

    // A broken rule, seen by the file watcher alone: logged with its line, the set stays.
    std::fs::write(
        dir.path().join("rules/abtest.rhai"),
        format!("{ABTEST_RULE}\nfn on_chat(event, user) {{ let x = ; }}\n"),
    )
    .unwrap();
    let failed = wait_log(&log, "rules reload failed", 0);
    let message = failed["fields"]["message"].as_str().unwrap();
    assert!(
        message.contains("abtest.rhai:3"),
        "the error names the file and line: {message}"
    );
    send(&last);
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status}");
    check_outputs(&reader.join().unwrap(), &v1, &v2);
}

#[test]
fn embedded_stdin_reloads_between_two_events() {
    embedded_reload("1");
}

#[test]
fn embedded_stdin_reloads_between_two_events_on_every_shard() {
    embedded_reload("2");
}

/// A set that loads but that `check` finds errors in — a parameter of the wrong type, a key a
/// rule reads deleted — is refused at reload: every call would fail, so the running set stays
/// and the events after the edit get their tags, not dead letters.
#[test]
fn a_reload_that_check_finds_errors_in_is_refused() {
    let dir = tree();
    let (mut child, log) = live_run(dir.path(), &["--dead-letter", "dead.jsonl"]);
    wait_log(&log, "hot reload on SIGHUP", 0);
    let params = dir.path().join("config/params.toml");
    let shipped = std::fs::read_to_string(&params).unwrap();
    let edits = [
        shipped.replacen("half_life = \"7d\"", "half_life = \"7 days\"", 1),
        shipped.replacen("half_life = \"7d\"\n", "", 1),
    ];
    for (i, edited) in edits.iter().enumerate() {
        assert_ne!(edited, &shipped);
        std::fs::write(&params, edited).unwrap();
        let refused = wait_log(&log, "rules reload refused", i);
        let message = refused["fields"]["message"].as_str().unwrap();
        assert!(
            message.contains(".toml:") || message.contains(".rhai:"),
            "the error names its file and line: {message}"
        );
        assert!(message.contains("half_life"), "and the key: {message}");
    }
    let mut stdin = child.stdin.take().unwrap();
    for k in 0..6 {
        writeln!(stdin, "{}", chat("u1", T0 + k * MINUTE, "你好")).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("activity/"),
        "the running set still tags: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let dead = std::fs::read_to_string(dir.path().join("dead.jsonl")).unwrap();
    assert!(dead.is_empty(), "{dead}");
    assert!(
        !log_lines(&log).iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("rules reloaded"))),
        "nothing was swapped in"
    );
}

#[test]
fn sighup_without_a_change_keeps_the_process_and_the_set() {
    let dir = tree();
    let (mut child, log) = live_run(dir.path(), &[]);
    wait_log(&log, "hot reload on SIGHUP", 0);
    sighup(child.id());
    wait_log(&log, "rules reloaded: unchanged", 0);
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}", chat("u1", T0, "多少钱")).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "SIGHUP did not end the process");
    assert!(String::from_utf8_lossy(&out.stdout).contains("intent/price"));
}

#[test]
fn kafka_mode_reloads_between_two_records() {
    let Some(bootstrap) = bootstrap() else { return };
    let dir = tree();
    let topics = kafka_support::Topics::new(&bootstrap, 2);
    let path = |p: &str| -> String { dir.path().join(p).display().to_string() };
    let (rules, catalogue, params) = (
        path("rules"),
        path("config/tags.toml"),
        path("config/params.toml"),
    );
    let processor = topics.spawn_with(
        "reload-kafka",
        &[
            ("TAGSTREAM_RULES__DIR", rules.as_str()),
            ("TAGSTREAM_RULES__CATALOGUE", catalogue.as_str()),
            ("TAGSTREAM_RULES__PARAMS", params.as_str()),
            ("TAGSTREAM_LOG_FORMAT", "json"),
        ],
    );
    let log: PathBuf = std::env::temp_dir().join("reload-kafka.log");
    let v1 = wait_log(&log, "tagstream starting", 0)["fields"]["rules_version"]
        .as_str()
        .unwrap()
        .to_string();
    wait_log(&log, "hot reload on SIGHUP", 0);
    let [before, after, last] = batches(T0);
    let mut ends = std::collections::BTreeMap::new();
    let mut send = |lines: &[String]| {
        for (p, n) in produce_lines(&bootstrap, &topics.input, 2, lines) {
            *ends.entry(p).or_insert(0) += n;
        }
        wait_committed(
            &bootstrap,
            &topics.group,
            &topics.input,
            &ends,
            Duration::from_secs(60),
        );
    };
    send(&before);
    add_abtest(dir.path(), ABTEST_RULE);
    sighup(processor.child.id());
    let v2 = wait_log(&log, "rules reloaded", 0)["fields"]["version"]
        .as_str()
        .unwrap()
        .to_string();
    send(&after);
    std::fs::write(
        dir.path().join("rules/abtest.rhai"),
        "fn on_click(event, user) {",
    )
    .unwrap();
    wait_log(&log, "rules reload failed", 0);
    send(&last);
    processor.stop();
    let out = read_topic(&bootstrap, &topics.output);
    let changes: Vec<serde_json::Value> = out
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    check_outputs(&changes, &v1, &v2);
    let tags = fold_outputs(&out);
    assert!(tags["u1"].contains("intent/purchase"), "{tags:?}");
}
