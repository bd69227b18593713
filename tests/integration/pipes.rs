//! Every command whose stdout or stderr goes away or fills up: a reader that went away
//! (`… | head`) ends the command quietly with exit 141, any other write error on stdout is
//! exit 1 with an error naming it, and a stderr that cannot be written loses only log lines,
//! never the exit code. No command panics.

use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};

fn tagstream() -> Command {
    let mut cmd = crate::support::tagstream();
    // Log lines at `info`, so that every command has something to write to stderr.
    cmd.env("TAGSTREAM_LOG", "info").stdin(Stdio::null());
    cmd
}

/// A pipe whose read end is closed before the child starts: its first write fails with
/// `EPIPE`, as after `| head -0`, without racing the reader. The write end is close-on-exec, so
/// no other child started meanwhile holds it open.
fn closed_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: `pipe2` fills `fds` with two new descriptors that nothing else owns.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and are owned here alone.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    Stdio::from(write)
}

fn full() -> Option<Stdio> {
    let file = File::options().write(true).open("/dev/full").ok()?;
    Some(Stdio::from(file))
}

/// Runs `cmd` to its end; its exit code and what it wrote to the stream that was piped.
fn finish(mut cmd: Command, piped_stderr: bool) -> (Option<i32>, String) {
    if piped_stderr {
        cmd.stderr(Stdio::piped());
    } else {
        cmd.stdout(Stdio::piped());
    }
    let mut child = cmd.spawn().unwrap();
    let mut text = String::new();
    let stream: &mut dyn Read = match (&mut child.stderr, &mut child.stdout) {
        (Some(err), _) if piped_stderr => err,
        (_, Some(out)) => out,
        _ => unreachable!("one stream is piped"),
    };
    stream.read_to_string(&mut text).unwrap();
    (child.wait().unwrap().code(), text)
}

/// Saved state of `examples/sample.jsonl` in `dir`, and a user it holds.
fn saved_state(dir: &Path) -> String {
    let out = tagstream()
        .args(["run", "--input", "examples/sample.jsonl"])
        .args([
            "--output",
            "/dev/null",
            "--dead-letter",
            "/dev/null",
            "--state",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = tagstream()
        .args(["segment", "activity/*", "--format", "jsonl", "--state"])
        .arg(dir)
        .output()
        .unwrap();
    let first = String::from_utf8_lossy(&out.stdout);
    let user: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    user["user_id"].as_str().unwrap().to_string()
}

/// Each command that writes to stdout, with arguments that make it write.
fn writers(state: &Path, user: &str) -> Vec<Vec<String>> {
    let state = state.display().to_string();
    let sample = "examples/sample.jsonl";
    [
        vec!["check"],
        vec!["test"],
        vec!["bench", "--quick", "--events", "100", "--users", "10"],
        vec!["generate", "--events", "100"],
        vec!["diff", "--rules", "rules", "--input", sample],
        vec!["segment", "activity/*", "--state", &state],
        vec!["segment", "activity/*", "--count", "--state", &state],
        vec!["explain", user, "--state", &state],
        vec!["run", "--input", sample, "--dead-letter", "/dev/null"],
    ]
    .into_iter()
    .map(|args| args.into_iter().map(String::from).collect())
    .collect()
}

#[test]
fn every_command_ends_quietly_with_141_when_its_reader_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let user = saved_state(dir.path());
    let mut wrong = Vec::new();
    for args in writers(dir.path(), &user) {
        let mut cmd = tagstream();
        cmd.args(&args).stdout(closed_pipe());
        let (code, err) = finish(cmd, true);
        let quiet =
            !err.contains("panicked") && !err.contains("error:") && !err.contains(" ERROR ");
        if code != Some(141) || !quiet {
            wrong.push(format!("{args:?}: exit {code:?}, stderr: {err}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_command_exits_1_naming_stdout_when_it_is_full() {
    if full().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let user = saved_state(dir.path());
    let mut wrong = Vec::new();
    for args in writers(dir.path(), &user) {
        let mut cmd = tagstream();
        cmd.args(&args).stdout(full().unwrap());
        let (code, err) = finish(cmd, true);
        let named = err.contains("error: writing to stdout: ") && !err.contains("panicked");
        if code != Some(1) || !named {
            wrong.push(format!("{args:?}: exit {code:?}, stderr: {err}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `tagstream segment … >&-`: the Rust runtime puts `/dev/null` on a closed stdout, so every
/// write succeeded and the export was lost with exit 0. `run` already refused it; every
/// command does now, before it starts, as it would a full stdout.
#[test]
fn every_command_exits_1_naming_stdout_when_it_was_closed() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let user = saved_state(dir.path());
    let mut wrong = Vec::new();
    for args in writers(dir.path(), &user) {
        let mut cmd = tagstream();
        cmd.args(&args);
        // SAFETY: `close` is async-signal-safe and touches nothing the parent shares.
        unsafe {
            cmd.pre_exec(|| {
                libc::close(1);
                Ok(())
            });
        }
        let (code, err) = finish(cmd, true);
        let named = err.contains(
            "error: stdout: closed when tagstream started, so nothing can be written to it",
        ) && !err.contains("panicked");
        if code != Some(1) || !named {
            wrong.push(format!("{args:?}: exit {code:?}, stderr: {err}"));
        }
    }
    // An output named by --output does not need stdout.
    let out = dir.path().join("users.csv");
    let mut cmd = tagstream();
    cmd.args(["segment", "activity/*", "--state"])
        .arg(dir.path())
        .arg("--output")
        .arg(&out);
    // SAFETY: as above.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let (code, err) = finish(cmd, true);
    if code != Some(0) || !out.exists() {
        wrong.push(format!(
            "segment --output FILE: exit {code:?}, stderr: {err}"
        ));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Commands, the exit code each has whatever becomes of stderr, and what it writes there
/// (log lines, findings, errors).
fn stderr_writers() -> Vec<(Vec<&'static str>, i32)> {
    let sample = "examples/sample.jsonl";
    vec![
        (
            vec!["run", "--input", sample, "--dead-letter", "/dev/null"],
            0,
        ),
        (vec!["run", "--input", "/nonexistent.jsonl"], 1),
        (vec!["run", "--workers", "0", "--input", sample], 2),
        (vec!["check"], 0),
        (vec!["check", "--rules", "/nonexistent"], 2),
        (vec!["test"], 0),
        (vec!["test", "no case has this name"], 2),
        (vec!["generate", "--events", "100"], 0),
        (vec!["diff", "--rules", "rules", "--input", sample], 0),
        (vec!["segment", "activity/*", "--state", "/nonexistent"], 2),
        (
            vec!["bench", "--quick", "--events", "100", "--users", "10"],
            0,
        ),
    ]
}

#[test]
fn a_stderr_that_cannot_be_written_changes_no_exit_code() {
    let have_full = full().is_some();
    let mut wrong = Vec::new();
    for (args, expected) in stderr_writers() {
        let mut streams = vec![("a closed pipe", closed_pipe())];
        if have_full {
            streams.push(("/dev/full", full().unwrap()));
        }
        for (what, stderr) in streams {
            let mut cmd = tagstream();
            cmd.args(&args).stderr(stderr);
            // Stdout is read to its end, so that only stderr fails.
            let (code, _) = finish(cmd, false);
            if code != Some(expected) {
                wrong.push(format!(
                    "{args:?} with stderr {what}: exit {code:?}, not {expected}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Without `--dead-letter`, dead letters go to stderr: when they cannot be written there, the
/// run fails rather than losing them.
#[test]
fn dead_letters_that_stderr_cannot_take_fail_the_run() {
    let run = || {
        let mut cmd = tagstream();
        cmd.args(["run", "--input", "examples/sample.jsonl", "--output", "-"]);
        cmd
    };
    let mut cmd = run();
    cmd.stderr(closed_pipe());
    assert_eq!(finish(cmd, false).0, Some(141));
    if let Some(full) = full() {
        let mut cmd = run();
        cmd.stderr(full);
        assert_eq!(finish(cmd, false).0, Some(1));
    }
}
