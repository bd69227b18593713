//! What a run or a query must not destroy: the input named as an output, two outputs in one
//! file, a state directory another run is using, the saved state itself named as an output,
//! and the old content of an output when the command is refused or fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tagstream::state::store::FILE_NAME;

use crate::support::*;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `run --input IN --output OUT --dead-letter /dev/null --state ST` and any `extra` flags.
fn run(input: &Path, output: &Path, state: &Path, extra: &[&str]) -> Output {
    tagstream()
        .args(["run", "--input"])
        .arg(input)
        .arg("--output")
        .arg(output)
        .args(["--dead-letter", "/dev/null", "--state"])
        .arg(state)
        .args(extra)
        .output()
        .unwrap()
}

fn input(dir: &Path) -> PathBuf {
    write_lines(
        dir,
        "in.jsonl",
        &[chat("ann", T0, "多少钱"), click("bob", T0 + MINUTE)],
    )
}

/// A run of [`input`] saved to `dir/st`: the input, the state directory and its file's bytes.
fn saved(dir: &Path) -> (PathBuf, PathBuf, Vec<u8>) {
    let input = input(dir);
    let state = dir.join("st");
    let out = run(&input, &dir.join("out.jsonl"), &state, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(state.join(FILE_NAME)).unwrap();
    (input, state, bytes)
}

/// Waits until the lock file of `state` names `pid`: the run holds the directory.
fn wait_for_lock(state: &Path, pid: u32) {
    let lock = state.join("tagstream.lock");
    let started = Instant::now();
    while std::fs::read_to_string(&lock).map_or(true, |held| held.trim() != pid.to_string()) {
        assert!(started.elapsed() < Duration::from_secs(20), "no lock taken");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_output_that_is_the_input_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let input = input(dir.path());
    let before = std::fs::read(&input).unwrap();
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    let hard = dir.path().join("hard.jsonl");
    std::fs::hard_link(&input, &hard).unwrap();
    let input_arg = input.to_str().unwrap();
    for out in [&input, &link, &hard] {
        for flag in ["--output", "--dead-letter"] {
            let out = run_args(&["--input", input_arg, flag, out.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(2), "{flag}");
            assert!(stderr(&out).contains("is the input"), "{}", stderr(&out));
        }
    }
    // Through the shell too: stdout appended to the input.
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec \"$0\" run --input \"$1\" >> \"$1\" 2>{}",
            dir.path().join("err").display()
        ))
        .arg(env!("CARGO_BIN_EXE_tagstream"))
        .arg(&input)
        .current_dir(repo())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
    assert_eq!(
        std::fs::read(&input).unwrap(),
        before,
        "the input is untouched"
    );
}

#[test]
fn two_outputs_in_one_file_are_refused_but_dev_null_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let input = input(dir.path());
    let out = dir.path().join("out.jsonl");
    let (i, o) = (input.to_str().unwrap(), out.to_str().unwrap());
    let res = run_args(&["--input", i, "--output", o, "--dead-letter", o]);
    assert_eq!(res.status.code(), Some(2));
    assert!(
        stderr(&res).contains("are the same file"),
        "{}",
        stderr(&res)
    );
    assert!(!out.exists(), "nothing was created");
    let res = run_args(&[
        "--input",
        i,
        "--output",
        "/dev/null",
        "--dead-letter",
        "/dev/null",
    ]);
    assert_eq!(res.status.code(), Some(0), "{}", stderr(&res));
}

/// A second run on a state directory in use is refused (exit 2, naming the first run's pid)
/// before it reads the state or touches its output; once the first run ends, the next one is
/// let in, and a lock left by a killed run does not block anyone.
#[test]
fn one_run_at_a_time_per_state_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let input = input(d);
    let state = d.join("st");
    let mut first = tagstream()
        .args(["run", "--input", "-", "--output"])
        .arg(d.join("first.jsonl"))
        .args(["--dead-letter", "/dev/null", "--state"])
        .arg(&state)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_lock(&state, first.id());
    std::fs::write(d.join("second.jsonl"), "kept\n").unwrap();
    let second = run(&input, &d.join("second.jsonl"), &state, &[]);
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert!(
        stderr(&second).contains(&format!(
            "state directory {} is in use by another tagstream run (pid {})",
            state.display(),
            first.id()
        )),
        "{}",
        stderr(&second)
    );
    assert_eq!(
        std::fs::read_to_string(d.join("second.jsonl")).unwrap(),
        "kept\n"
    );
    // The first run carries on and saves its one user.
    let mut stdin = first.stdin.take().unwrap();
    writeln!(stdin, "{}", chat("cat", T0, "你好")).unwrap();
    drop(stdin);
    assert!(first.wait().unwrap().success(), "{}", stderr_of(&mut first));
    let after = run(&input, &d.join("second.jsonl"), &state, &[]);
    assert!(after.status.success(), "{}", stderr(&after));
    assert!(stderr(&after).is_empty() || !stderr(&after).contains("in use"));
    // A run killed while holding the lock leaves the file, not the lock.
    let mut killed = tagstream()
        .args(["run", "--input", "-", "--output", "/dev/null", "--state"])
        .arg(&state)
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_lock(&state, killed.id());
    killed.kill().unwrap();
    killed.wait().unwrap();
    let next = run(&input, &d.join("second.jsonl"), &state, &[]);
    assert!(next.status.success(), "{}", stderr(&next));
}

/// An output that cannot be created leaves the other output's old content (a typo in the
/// dead-letter directory does not empty yesterday's changes); an output that is the state
/// file, its temporary or its lock is refused, and the state stays as it was.
#[test]
fn a_refused_run_empties_no_output_and_never_writes_over_the_state() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (input, state, saved) = saved(d);
    std::fs::write(d.join("out.jsonl"), "kept\n").unwrap();

    let refused = tagstream()
        .args(["run", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(d.join("out.jsonl"))
        .arg("--dead-letter")
        .arg(d.join("no-such-dir/dead.jsonl"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("directory"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        std::fs::read_to_string(d.join("out.jsonl")).unwrap(),
        "kept\n"
    );
    // An output that did not exist before is not left behind empty either.
    let refused = tagstream()
        .args(["run", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(d.join("new.jsonl"))
        .arg("--dead-letter")
        .arg(d.join("no-such-dir/dead.jsonl"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(!d.join("new.jsonl").exists());

    std::os::unix::fs::symlink(state.join(FILE_NAME), d.join("link.jsonl")).unwrap();
    for output in [
        state.join(FILE_NAME),
        state.join("tagstream.state.tmp"),
        d.join("link.jsonl"),
    ] {
        let refused = run(&input, &output, &state, &[]);
        assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
        assert!(
            stderr(&refused).contains("of the state directory"),
            "{}",
            stderr(&refused)
        );
        assert_eq!(std::fs::read(state.join(FILE_NAME)).unwrap(), saved);
    }
    assert!(!state.join("tagstream.state.tmp").exists());
}

/// `segment --output` replaces its file only once the report is whole: a state that cannot
/// be read leaves the old report, and the state file itself (by any name) is refused.
#[test]
fn segment_keeps_the_old_report_on_failure_and_never_writes_over_the_state() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (_, state, saved) = saved(d);
    let segment = |state: &Path, output: &Path| {
        tagstream()
            .args(["segment", "intent/*", "--state"])
            .arg(state)
            .arg("--output")
            .arg(output)
            .output()
            .unwrap()
    };
    std::os::unix::fs::symlink(state.join(FILE_NAME), d.join("link.csv")).unwrap();
    for output in [state.join(FILE_NAME), d.join("link.csv")] {
        let refused = segment(&state, &output);
        assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("of the state directory"));
        assert_eq!(std::fs::read(state.join(FILE_NAME)).unwrap(), saved);
    }

    let good = segment(&state, &d.join("report.csv"));
    assert!(good.status.success(), "{}", stderr(&good));
    let report = std::fs::read_to_string(d.join("report.csv")).unwrap();
    assert!(report.contains("ann"), "{report}");
    // A damaged copy of the state: exit 1, the report as it was, no temporary left.
    let damaged = d.join("damaged");
    std::fs::create_dir(&damaged).unwrap();
    std::fs::write(damaged.join(FILE_NAME), &saved[..saved.len() / 2]).unwrap();
    let failed = segment(&damaged, &d.join("report.csv"));
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert_eq!(
        std::fs::read_to_string(d.join("report.csv")).unwrap(),
        report
    );
    let names: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}
