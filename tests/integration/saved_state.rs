//! Saved state in embedded mode (`run --input … --state DIR`): two runs over the two halves of a
//! stream end exactly as one run over all of it; a state of another rule set or format is
//! refused before anything is touched; nothing is saved unless asked for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tagstream::pipeline::file::{run, FileJob};
use tagstream::rules::RulePack;
use tagstream::state::store::{StateReader, FILE_NAME};
use tagstream::state::UserState;

use crate::support::*;

/// A generated stream (personas included) where every valid line names its event, so that the
/// ids of changes do not depend on the file and line an event was read from.
fn stream(events: u64, seed: u64) -> Vec<String> {
    let opts = tagstream::generate::GenOptions {
        users: 300,
        events,
        days: 130,
        seed,
        personas: true,
        ..Default::default()
    };
    let mut bytes = Vec::new();
    tagstream::generate::generate(&opts, &mut bytes).unwrap();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, line)| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(mut o)) if !o.contains_key("event_id") => {
                o.insert("event_id".into(), format!("g-{i}").into());
                Value::Object(o).to_string()
            }
            _ => line.to_string(),
        })
        .collect()
}

fn job(input: &Path, output: &Path, state: Option<&Path>, workers: usize) -> FileJob {
    FileJob {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        dead_letter: Some(output.with_extension("dead")),
        workers,
        max_future_ms: None,
        state: state.map(Path::to_path_buf),
    }
}

fn saved(dir: &Path, pack: &RulePack) -> (Option<i64>, BTreeMap<String, UserState>) {
    let mut reader = StateReader::open(dir, pack.fingerprint()).unwrap().unwrap();
    let clock = reader.header().clock;
    let mut users = BTreeMap::new();
    while let Some((id, state)) = reader.next_user().unwrap() {
        assert!(users.insert(id, state).is_none(), "a user saved twice");
    }
    (clock, users)
}

fn per_user(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        users
            .entry(v["user_id"].as_str().unwrap().to_string())
            .or_default()
            .push(line.to_string());
    }
    users
}

/// Runs `lines` whole, and split at `split` over two runs sharing a state directory; checks
/// outputs and saved states agree. Returns the second half's output.
fn halves_equal_whole(pack: &RulePack, lines: &[String], split: usize, workers: usize) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let whole_in = write_lines(d, "whole.jsonl", lines);
    let first_in = write_lines(d, "first.jsonl", &lines[..split]);
    let second_in = write_lines(d, "second.jsonl", &lines[split..]);
    let (whole_state, split_state) = (d.join("whole-state"), d.join("split-state"));
    let out = |name: &str| d.join(name);
    let whole = run(
        pack,
        &job(&whole_in, &out("whole.out"), Some(&whole_state), workers),
    )
    .unwrap();
    let first = run(
        pack,
        &job(&first_in, &out("first.out"), Some(&split_state), workers),
    )
    .unwrap();
    assert_eq!(first.restored_users, 0);
    let second = run(
        pack,
        &job(&second_in, &out("second.out"), Some(&split_state), workers),
    )
    .unwrap();
    assert_eq!(second.restored_users, first.saved_users);
    assert_eq!(second.saved_users, whole.saved_users);
    assert_eq!(first.dead_letters + second.dead_letters, whole.dead_letters);
    let read = |name: &str| std::fs::read_to_string(out(name)).unwrap();
    let (whole_out, halves_out) = (
        read("whole.out"),
        read("first.out") + read("second.out").as_str(),
    );
    if workers == 1 {
        assert!(whole_out == halves_out, "outputs differ");
    } else {
        // Several shards interleave users differently; each user's changes are the same.
        assert!(
            per_user(&whole_out) == per_user(&halves_out),
            "outputs differ"
        );
    }
    let (whole_clock, whole_users) = saved(&whole_state, pack);
    let (split_clock, split_users) = saved(&split_state, pack);
    assert_eq!(whole_clock, split_clock);
    assert_eq!(whole_users.len(), split_users.len());
    // Compared encoded: a tag without a score holds NaN, which is never equal to itself.
    let bytes = tagstream::state::snapshot::encode_state;
    for (id, state) in &whole_users {
        let split = split_users.get(id).map(bytes);
        assert!(
            split == Some(bytes(state)),
            "state of {id}: {state:?} / {split:?}"
        );
    }
    read("second.out")
}

#[test]
fn two_halves_end_as_one_run_single_and_sharded() {
    let pack = pack();
    let lines = stream(6_000, 7);
    for (split, workers) in [(lines.len() / 2, 1), (lines.len() / 3, 3)] {
        let second = halves_equal_whole(&pack, &lines, split, workers);
        assert!(second.lines().count() > 100, "a second half with changes");
        // Timers set in the first half fire in the second (changes without an event).
        assert!(
            second.lines().any(|l| l.contains("\"event_id\":null")),
            "no timer change in the second half"
        );
    }
}

#[test]
fn timers_and_ttls_due_across_the_split_fire_in_the_next_run() {
    let pack = pack();
    let lines = vec![
        chat("ann", T0, "多少钱"),
        order("ann", T0 + HOUR, "o1", 300.0, false),
        chat("bob", T0 + 2 * HOUR, "hello"),
        // The split: nothing of ann's below; her TTLs and timers fall due in the second run.
        tick(T0 + 4 * DAY),
        // Late: applied at the clock (4 d), not at its own time, in either run.
        chat("bob", T0 + 3 * DAY, "便宜吗"),
        tick(T0 + 40 * DAY),
    ];
    let second = halves_equal_whole(&pack, &lines, 3, 1);
    let changes: Vec<Value> = second
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|c: &Value| c["user_id"] == "ann")
        .collect();
    let removed = |tag: &str| {
        changes
            .iter()
            .any(|c| c["tag"] == tag && c["op"] == "remove" && c["event_id"].is_null())
    };
    assert!(removed("identity/newcomer"), "{changes:?}");
    assert!(removed("intent/price"), "{changes:?}");
    assert!(
        changes
            .iter()
            .any(|c| c["tag"] == "lifecycle/declining" && c["op"] == "add"),
        "{changes:?}"
    );
    // The same with the split on every line.
    for split in 1..lines.len() {
        halves_equal_whole(&pack, &lines, split, 1);
    }
}

fn tagstream(cwd: &Path) -> Command {
    tagstream_with(cwd, &repo().join("rules"))
}

fn tagstream_with(cwd: &Path, rules: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tagstream"));
    let root = repo();
    cmd.current_dir(cwd)
        .env("TAGSTREAM_LOG", "warn")
        .arg("run")
        .arg("--config")
        .arg(root.join("config/tagstream.toml"))
        .arg("--rules")
        .arg(rules)
        .arg("--catalogue")
        .arg(root.join("config/tags.toml"))
        .arg("--params")
        .arg(root.join("config/params.toml"));
    cmd
}

fn input(dir: &Path) -> PathBuf {
    write_lines(
        dir,
        "in.jsonl",
        &[chat("ann", T0, "多少钱"), click("bob", T0 + MINUTE)],
    )
}

#[test]
fn nothing_is_saved_unless_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let input = input(tmp.path());
    let out = tagstream(tmp.path())
        .arg("--input")
        .arg(&input)
        .args(["--output", "out.jsonl"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!tmp.path().join("state").exists(), "state saved unasked");
    // state.embedded = true uses state.dir.
    let out = tagstream(tmp.path())
        .env("TAGSTREAM_STATE__EMBEDDED", "true")
        .arg("--input")
        .arg(&input)
        .args(["--output", "out.jsonl"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(tmp.path().join("state").join(FILE_NAME).exists());
}

#[test]
fn a_state_of_other_rules_or_format_is_refused_and_nothing_is_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let input = input(d);
    let ok = tagstream(d)
        .arg("--input")
        .arg(&input)
        .args(["--output", "out.jsonl", "--state", "st"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let before = std::fs::read(d.join("st").join(FILE_NAME)).unwrap();
    let output_before = std::fs::read(d.join("out.jsonl")).unwrap();
    // Another rule set: one rule changed.
    let rules = d.join("rules");
    std::fs::create_dir(&rules).unwrap();
    for entry in std::fs::read_dir(repo().join("rules")).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue; // rules/tests/
        }
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("\n// changed\n");
        std::fs::write(rules.join(path.file_name().unwrap()), text).unwrap();
    }
    let refused = tagstream_with(d, &rules)
        .arg("--input")
        .arg(&input)
        .args(["--output", "out.jsonl", "--state", "st"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("different rule set"), "{err}");
    assert_eq!(std::fs::read(d.join("out.jsonl")).unwrap(), output_before);
    assert_eq!(std::fs::read(d.join("st").join(FILE_NAME)).unwrap(), before);
    // Another format version.
    let mut other = before.clone();
    other[16] = 99;
    std::fs::write(d.join("st").join(FILE_NAME), &other).unwrap();
    let refused = tagstream(d)
        .arg("--input")
        .arg(&input)
        .args(["--output", "out.jsonl", "--state", "st"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("state format 99."), "{err}");
    // A damaged file: runtime failure, nothing read.
    let mut damaged = before.clone();
    let at = damaged.len() / 2;
    damaged[at] ^= 0x55;
    std::fs::write(d.join("st").join(FILE_NAME), &damaged).unwrap();
    let refused = tagstream(d)
        .arg("--input")
        .arg(&input)
        .args(["--output", "out.jsonl", "--state", "st"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("damaged"), "{err}");
    assert!(err.contains("move it aside and replay the input"), "{err}");
    assert_eq!(std::fs::read(d.join("out.jsonl")).unwrap(), output_before);
    // --state naming a file, and --state without --input.
    let refused = tagstream(d)
        .arg("--input")
        .arg(&input)
        .args(["--output", "out.jsonl", "--state", "in.jsonl"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let refused = tagstream(d).args(["--state", "st"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("embedded mode"));
}

/// A live run with `--state` stopped by a signal still saves the state, as of the last record
/// read, before it exits 130/143; single and sharded.
#[test]
fn a_run_stopped_by_a_signal_saves_the_state_before_it_exits() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    let pack = pack();
    for (signal, code, workers) in [("INT", 130, "1"), ("TERM", 143, "2")] {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let mut child = tagstream(tmp.path())
            .env("TAGSTREAM_CLOCK__MAX_FUTURE", "off")
            .args([
                "--input",
                "-",
                "--dead-letter",
                "/dev/null",
                "--workers",
                workers,
            ])
            .arg("--state")
            .arg(&state)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            - DAY;
        let mut stdin = child.stdin.take().unwrap();
        let lines = format!("{}\n{}\n", chat("ann", now, "多少钱"), click("bob", now));
        stdin.write_all(lines.as_bytes()).unwrap();
        stdin.flush().unwrap();
        // The first change on stdout: the records are in hand, the input still open.
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(out);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
        });
        let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(first.contains("\"op\":\"add\""), "{first}");
        std::thread::sleep(Duration::from_millis(300));
        send(&child, signal);
        let status = child.wait().unwrap();
        let err = stderr_of(&mut child);
        assert_eq!(status.code(), Some(code), "SIG{signal}: {err}");
        assert!(err.contains("state of 2 users saved to"), "{err}");
        let (clock, users) = saved(&state, &pack);
        assert_eq!(clock, Some(now), "SIG{signal}");
        assert_eq!(
            users.keys().map(String::as_str).collect::<Vec<_>>(),
            ["ann", "bob"]
        );
        drop(stdin);
    }
}
