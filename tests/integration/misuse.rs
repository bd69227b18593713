//! Mistakes a new operator makes on the command line: each is refused before anything is
//! written, with a message that names what to fix, and no line claiming the run started.

use std::process::{Command, Output};

use crate::support::misnamed_handler_rules;

/// With `info` logs: a refused run must not have logged that it started.
fn tagstream() -> Command {
    let mut cmd = crate::support::tagstream();
    cmd.env("TAGSTREAM_LOG", "info");
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Outputs that already hold something, to see that a refused run leaves them alone.
fn kept_outputs(dir: &std::path::Path) -> [std::path::PathBuf; 2] {
    let files = [dir.join("out.jsonl"), dir.join("dead.jsonl")];
    for f in &files {
        std::fs::write(f, "kept\n").unwrap();
    }
    files
}

fn assert_kept(files: &[std::path::PathBuf; 2]) {
    for f in files {
        assert_eq!(
            std::fs::read_to_string(f).unwrap(),
            "kept\n",
            "{}",
            f.display()
        );
    }
}

#[test]
fn a_directory_as_input_is_refused_before_the_outputs_are_opened() {
    let dir = tempfile::tempdir().unwrap();
    let [out, dead] = kept_outputs(dir.path());
    let output = tagstream()
        .args(["run", "--input"])
        .arg(dir.path())
        .arg("--output")
        .arg(&out)
        .arg("--dead-letter")
        .arg(&dead)
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "cannot read input {}: it is a directory, not a file of events",
            dir.path().display()
        )),
        "{err}"
    );
    assert!(!err.contains("tagstream starting"), "{err}");
    assert_kept(&[out, dead]);
}

#[test]
fn state_that_could_not_be_saved_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let [out, dead] = kept_outputs(dir.path());
    // A directory nothing can be written in, whoever runs the test (root included).
    let state = std::path::Path::new("/sys/kernel");
    let output = tagstream()
        .args([
            "run",
            "--input",
            "docs/examples/night-owl/events.jsonl",
            "--output",
        ])
        .arg(&out)
        .arg("--dead-letter")
        .arg(&dead)
        .arg("--state")
        .arg(state)
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot save state in /sys/kernel: "), "{err}");
    assert!(!err.contains("tagstream starting"), "{err}");
    assert_kept(&[out.clone(), dead.clone()]);
    // A directory that cannot be made, not a bare "No such file or directory".
    let output = tagstream()
        .args(["run", "--input", "docs/examples/night-owl/events.jsonl"])
        .arg("--output")
        .arg(&out)
        .arg("--dead-letter")
        .arg(&dead)
        .args(["--state", "/proc/tagstream-state"])
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot create the state directory /proc/tagstream-state: "),
        "{err}"
    );
    assert_kept(&[out, dead]);
}

/// Errors found while opening the run's streams or its listener come without a start line
/// before them; a run that starts logs it.
#[test]
fn the_start_is_logged_only_once_nothing_can_refuse_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    for (args, code) in [
        (vec!["--input", "/nonexistent/events.jsonl"], 1),
        (
            vec![
                "--input",
                "docs/examples/night-owl/events.jsonl",
                "--http",
                "bogus",
            ],
            2,
        ),
        (
            vec![
                "--input",
                "docs/examples/night-owl/events.jsonl",
                "--output",
                "/nonexistent/dir/out.jsonl",
            ],
            1,
        ),
    ] {
        let output = tagstream().arg("run").args(&args).output().unwrap();
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
    let output = tagstream()
        .args([
            "run",
            "--input",
            "docs/examples/night-owl/events.jsonl",
            "--output",
        ])
        .arg(&out)
        .args(["--dead-letter", "/dev/null"])
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(err.contains("tagstream starting"), "{err}");
}

#[test]
fn generate_names_the_output_it_cannot_write() {
    let output = tagstream()
        .args(["generate", "--users", "3", "--events", "5", "--output"])
        .arg("/nonexistent/dir/events.jsonl")
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "cannot create /nonexistent/dir/events.jsonl (directory /nonexistent/dir does not \
             exist): "
        ),
        "{err}"
    );
}

/// Sizes that would make an empty or meaningless stream are refused by `generate` and `bench`
/// alike, as are start dates whose events would all be invalid.
#[test]
fn sizes_and_dates_that_make_no_stream_are_refused() {
    for args in [
        &["generate", "--users", "0"][..],
        &["generate", "--events", "0"],
        &["generate", "--start", "1990-01-01"],
        &["bench", "--quick", "--events", "0"],
        &["bench", "--quick", "--users", "0"],
        &["bench", "--quick", "--days", "0"],
    ] {
        let output = tagstream().args(args).output().unwrap();
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("invalid value"), "{args:?}: {err}");
    }
    // A start that is fine, with days that run past the last year event times may have.
    let output = tagstream()
        .args(["generate", "--start", "2099-12-30", "--days", "10"])
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("use --days 2 or less"), "{err}");
    assert!(output.stdout.is_empty());
}

/// A flag given a typo, a negative number or a value out of its range is refused in words
/// that say what it takes, not in Rust's ("invalid digit found in string", "0 is not in
/// 1..=3650", "invalid socket address") nor as an unknown flag (`-3`).
#[test]
fn flag_values_say_what_they_take() {
    for (args, expected) in [
        (
            &["generate", "--days", "x"][..],
            "expected a whole number from 1 to 3650",
        ),
        (
            &["generate", "--days", "0"],
            "expected a whole number from 1 to 3650",
        ),
        (
            &["bench", "--quick", "--days", "-3"],
            "expected a whole number from 1 to 3650",
        ),
        (
            &["generate", "--seed", "-1"],
            "expected a whole number of 0 or more",
        ),
        (
            &["bench", "--quick", "--seed", "one"],
            "expected a whole number of 0 or more",
        ),
        (
            &["generate", "--users", "-5"],
            "expected a whole number from 1 to 10,000,000",
        ),
        (
            &["generate", "--late-per-mille", "1001"],
            "too large (at most 1000)",
        ),
        (
            &["run", "--input", "-", "--workers", "-1"],
            "expected a whole number from 1 to 256",
        ),
        (
            &[
                "diff",
                "--rules",
                "rules",
                "--input",
                "-",
                "--samples",
                "-1",
            ],
            "expected a whole number of 0 or more",
        ),
        (
            &["run", "--input", "-", "--http", "abc"],
            "expected host:port like 127.0.0.1:9898, or \"\" for off",
        ),
    ] {
        let output = tagstream().args(args).output().unwrap();
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.lines().next().unwrap_or("").ends_with(expected),
            "{args:?}: {err}"
        );
    }
}

/// Sizes past what `generate` and `bench` can hold are refused up front, naming the bound,
/// rather than panicking on a capacity overflow or aborting on a failed allocation.
#[test]
fn sizes_past_the_bounds_are_refused_naming_the_bound() {
    let huge = "18446744073709551615";
    for (args, expected) in [
        (
            &["generate", "--users", huge, "--events", huge][..],
            "too large (at most 10,000,000)",
        ),
        (
            &["generate", "--events", "1000000000000", "--users", "10"],
            "too large (at most 1,000,000,000)",
        ),
        (
            &["generate", "--events", huge, "--users", "10"],
            "too large (at most 1,000,000,000)",
        ),
        (
            &["generate", "--users", "99999999999999999999"],
            "too large (at most 10,000,000)",
        ),
        (
            &["generate", "--seed", "99999999999999999999"],
            "too large (at most 18,446,744,073,709,551,615)",
        ),
        (&["generate", "--days", "3651"], "too large (at most 3650)"),
        (
            &["bench", "--quick", "--events", "20000001"],
            "too large (at most 20,000,000)",
        ),
        (
            &["bench", "--quick", "--users", "10000001"],
            "too large (at most 10,000,000)",
        ),
    ] {
        let output = tagstream()
            .args(args)
            .args(
                ["--output", "/dev/null"]
                    .iter()
                    .filter(|_| args[0] == "generate"),
            )
            .output()
            .unwrap();
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            err.lines().next().unwrap_or("").ends_with(expected),
            "{args:?}: {err}"
        );
    }
}

/// The bench's header gives the users the stream has: no more than its events.
#[test]
fn the_bench_header_counts_the_users_generated() {
    let output = tagstream()
        .args(["bench", "--quick", "--events", "100"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = String::from_utf8_lossy(&output.stdout);
    let header = out.lines().next().unwrap_or("");
    assert!(
        header.starts_with("tagstream bench: 100 events, 100 users, "),
        "{header}"
    );
}

#[test]
fn a_misspelt_config_file_gets_the_name_meant() {
    for command in ["check", "test"] {
        let output = tagstream()
            .args([command, "--config", "config/tagstream.tml"])
            .output()
            .unwrap();
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains("config/tagstream.tml: no such file; did you mean config/tagstream.toml?"),
            "{command}: {err}"
        );
    }
    // diff too, for its --config and its --input.
    let diff = |args: &[&str]| {
        let output = tagstream()
            .args(["diff", "--rules", "rules"])
            .args(args)
            .output()
            .unwrap();
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        err
    };
    let err = diff(&[
        "--config",
        "config/tagstream.tom",
        "--input",
        "examples/sample.jsonl",
    ]);
    assert!(
        err.contains("config/tagstream.tom: no such file; did you mean config/tagstream.toml?"),
        "{err}"
    );
    let err = diff(&["--input", "examples/sampl.jsonl"]);
    assert!(
        err.contains(
            "--input examples/sampl.jsonl: no such file; did you mean examples/sample.jsonl?"
        ),
        "{err}"
    );
    // run's --input (an unreadable input is exit 1, before any output is opened).
    let output = tagstream()
        .args(["run", "--input", "examples/sampl.jsonl", "--output", "-"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "cannot read input examples/sampl.jsonl: no such file; did you mean examples/sample.jsonl?"
        ),
        "{}",
        stderr(&output)
    );
    // A hint names something of the same kind that starts alike, or nothing.
    let output = tagstream()
        .args(["check", "--rules", "zzzz"])
        .output()
        .unwrap();
    assert!(
        !stderr(&output).contains("did you mean"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_override_with_one_underscore_is_refused() {
    let output = tagstream()
        .arg("check")
        .env("TAGSTREAM_ACTIVITY_HALF_LIFE", "3d")
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("did you mean TAGSTREAM_ACTIVITY__HALF_LIFE?"),
        "{err}"
    );
}

/// The findings `diff` and `test` print before their results go to a stderr that may be full:
/// they are dropped, and the command ends as it would have.
#[test]
fn findings_on_a_full_stderr_change_no_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let rules = misnamed_handler_rules(dir.path());
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let output = tagstream()
        .args(["diff", "--rules"])
        .arg(&rules)
        .args(["--input", "docs/examples/night-owl/events.jsonl"])
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    // No test cases in that directory: a usage error (2), not a panic (101).
    let output = tagstream()
        .args(["test", "--rules"])
        .arg(&rules)
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// `run --output tags.jsonl < events.jsonl` (no `--input`) started Kafka mode, dropping the
/// flags given for embedded mode, and waited for a broker; `--state` alone was refused.
#[test]
fn embedded_mode_flags_without_input_are_refused_not_dropped_for_kafka_mode() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let out = out.to_str().unwrap();
    for flags in [
        vec!["--output", out],
        vec!["--output", "-"],
        vec!["--dead-letter", out],
        vec!["--workers", "2"],
        vec!["--output", out, "--workers", "2"],
    ] {
        let mut child = tagstream()
            .arg("run")
            .args(&flags)
            .env("TAGSTREAM_HTTP__LISTEN", "")
            .env("TAGSTREAM_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let running = child.try_wait().unwrap().is_none();
        if running {
            child.kill().unwrap();
        }
        let status = child.wait().unwrap();
        let err = crate::support::stderr_of(&mut child);
        assert!(!running, "{flags:?}: still running (Kafka mode): {err}");
        assert_eq!(status.code(), Some(2), "{flags:?}: {err}");
        let flag = flags[0];
        assert!(
            err.contains(&format!(
                "error: {flag} is for embedded mode (--input FILE, or --input - for stdin); \
                 without --input, run is Kafka mode"
            )),
            "{flags:?}: {err}"
        );
        assert!(!err.contains("tagstream starting"), "{err}");
        assert!(!dir.path().join("out.jsonl").exists());
    }
}
