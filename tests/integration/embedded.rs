//! Embedded mode as a careless operator meets it: paths that are the same file, full disks,
//! closed pipes, live pipes, Ctrl-C, byte-order marks and blank lines, bytes that are not
//! UTF-8, events from the future, out-of-range flags. Nothing is lost silently.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::*;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn workers_out_of_range_are_usage_errors_not_panics() {
    for bad in ["0", "100000", "many", "2.5"] {
        let out = run_args(&["--input", "examples/sample.jsonl", "--workers", bad]);
        assert_eq!(out.status.code(), Some(2), "--workers {bad:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("--workers")
                && (err.contains("1 to 256") || err.contains("too large (at most 256)")),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn generate_values_out_of_range_are_usage_errors_not_empty_output() {
    for (flag, bad) in [
        ("--users", "0"),
        ("--days", "0"),
        ("--days", "40000"),
        ("--invalid-per-mille", "1001"),
        ("--late-per-mille", "5000"),
    ] {
        let out = tagstream().args(["generate", flag, bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {bad}");
        assert!(out.stdout.is_empty());
        assert!(text(&out.stderr).contains(flag), "{}", text(&out.stderr));
    }
}

#[test]
fn a_write_error_exits_1_naming_the_file_that_failed() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = write_lines(
        dir.path(),
        "in.jsonl",
        &[chat("u1", T0, "多少钱"), "not json".into()],
    );
    let i = input.to_str().unwrap();
    let out = dir.path().join("out.jsonl");
    let res = run_args(&["--input", i, "--output", "/dev/full"]);
    assert_eq!(res.status.code(), Some(1));
    assert!(
        text(&res.stderr).contains("/dev/full: "),
        "{}",
        text(&res.stderr)
    );
    let res = run_args(&[
        "--input",
        i,
        "--output",
        out.to_str().unwrap(),
        "--dead-letter",
        "/dev/full",
    ]);
    assert_eq!(res.status.code(), Some(1));
    let err = text(&res.stderr);
    assert!(
        err.contains("/dev/full: ") && !err.contains("out.jsonl"),
        "{err}"
    );
}

#[test]
fn a_closed_stdout_is_an_error_not_a_silent_success() {
    let res = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" run --input examples/sample.jsonl --dead-letter /dev/null >&-")
        .arg(env!("CARGO_BIN_EXE_tagstream"))
        .current_dir(repo())
        .env("TAGSTREAM_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(1));
    assert!(
        text(&res.stderr).contains("stdout: closed"),
        "{}",
        text(&res.stderr)
    );
}

#[test]
fn a_reader_that_goes_away_ends_the_run_quietly() {
    for workers in ["1", "3"] {
        let mut child = tagstream()
            .args([
                "run",
                "--input",
                "examples/sample.jsonl",
                "--dead-letter",
                "/dev/null",
            ])
            .args(["--workers", workers])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.contains("\"op\""), "{first}");
        // The pipe's read end is closed here, like `| head -1`.
        let status = child.wait().unwrap();
        let err = stderr_of(&mut child);
        assert!(matches!(status.code(), Some(0 | 141)), "{status:?}");
        // The bad-input summary (a warning) may be there; no error is.
        assert!(
            err.lines()
                .all(|l| l.contains(" WARN ") && !l.contains("Broken pipe")),
            "no error line: {err}"
        );
    }
}

/// Starts `run --input -` with stdin and stdout piped.
fn live(workers: &str) -> std::process::Child {
    live_with(&["--workers", workers])
}

/// [`live`] with other arguments than the workers.
fn live_with(args: &[&str]) -> std::process::Child {
    tagstream()
        .args(["run", "--input", "-", "--dead-letter", "/dev/null"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads the child's stdout on a thread until a line holds `needle`, giving up after `limit`.
/// Returns the lines read and the rest of stdout.
fn lines_until(
    out: std::process::ChildStdout,
    needle: &'static str,
    limit: Duration,
) -> (String, std::process::ChildStdout) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(out);
        let mut text = String::new();
        while !text.contains(needle) {
            if reader.read_line(&mut text).unwrap() == 0 {
                break;
            }
        }
        let _ = tx.send((text, reader.into_inner()));
    });
    rx.recv_timeout(limit)
        .expect("the change reached stdout while the input was still open")
}

#[test]
fn stdin_works_in_a_live_pipe() {
    for workers in ["1", "2"] {
        let mut child = live(workers);
        let mut stdin = child.stdin.take().unwrap();
        let line = chat("u1", wall_ms() - DAY, "多少钱") + "\n";
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.flush().unwrap();
        let started = Instant::now();
        let out = child.stdout.take().unwrap();
        let (lines, _out) = lines_until(out, "intent/price", Duration::from_secs(10));
        assert!(lines.contains("intent/price"), "{lines}");
        assert!(started.elapsed() < Duration::from_secs(10));
        drop(stdin);
        assert!(child.wait().unwrap().success());
    }
}

/// A bad line after the last event, then a pause: its dead letter is written while the input is
/// quiet, and the run goes on reading. (With two workers the reader once waited for an answer
/// to a line no shard had: it hung, deaf even to SIGTERM.)
#[test]
fn a_dead_letter_before_a_pause_is_written_and_the_run_reads_on() {
    for workers in ["1", "2"] {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join("dead.jsonl");
        let mut child = tagstream()
            .args(["run", "--input", "-", "--workers", workers, "--dead-letter"])
            .arg(&dead)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"{not json\n").unwrap();
        stdin.flush().unwrap();
        let started = Instant::now();
        while std::fs::read_to_string(&dead).map_or(0, |t| t.lines().count()) == 0 {
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("--workers {workers}: no dead letter 10 s after a bad line and a pause");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let line = chat("u1", wall_ms() - DAY, "多少钱") + "\n";
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.flush().unwrap();
        let out = child.stdout.take().unwrap();
        let (lines, _out) = lines_until(out, "intent/price", Duration::from_secs(10));
        assert!(
            lines.contains("intent/price"),
            "--workers {workers}: {lines}"
        );
        drop(stdin);
        assert!(child.wait().unwrap().success(), "--workers {workers}");
        let dead = std::fs::read_to_string(&dead).unwrap();
        assert_eq!(dead.lines().count(), 1, "{dead}");
        assert!(dead.contains("not JSON"), "{dead}");
    }
}

#[test]
fn sigint_and_sigterm_finish_whole_lines_and_report_how_far_the_run_got() {
    let numbers = regex::Regex::new("[0-9]+").unwrap();
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let mut child = live("2");
        let mut stdin = child.stdin.take().unwrap();
        let now = wall_ms() - DAY;
        let lines = format!(
            "{}\n\n{}\n",
            chat("u1", now, "多少钱"),
            chat("u2", now, "退款")
        );
        stdin.write_all(lines.as_bytes()).unwrap();
        stdin.flush().unwrap();
        let out = child.stdout.take().unwrap();
        let (first, mut out) = lines_until(out, "\n", Duration::from_secs(10));
        send(&child, signal);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "SIG{signal}");
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        for line in first.lines().chain(rest.lines()) {
            serde_json::from_str::<serde_json::Value>(line).expect("whole JSON lines only");
        }
        let err = stderr_of(&mut child);
        assert!(
            err.contains(&format!(
                "stopped by SIG{signal} after 3 lines read (1 blank)"
            )),
            "{err}"
        );
        // The line docs/hardening.md shows, numbers aside.
        let doc = std::fs::read_to_string(repo().join("docs/hardening.md")).unwrap();
        let shown = doc
            .split("```text signal-summary\n")
            .nth(1)
            .and_then(|rest| rest.lines().next())
            .expect("a ```text signal-summary block in docs/hardening.md");
        let said = err
            .lines()
            .find(|l| l.contains("stopped by"))
            .unwrap_or_default();
        assert_eq!(
            numbers.replace_all(said, "N"),
            numbers
                .replace_all(shown.trim(), "N")
                .replace("SIGINT", &format!("SIG{signal}"))
        );
        drop(stdin);
    }
}

/// A run without hot reload (here: saved state) takes SIGHUP, which would otherwise end the
/// process with nothing saved, and carries on: the next event is processed and the state is
/// saved at the end.
#[test]
fn sighup_without_hot_reload_is_ignored_and_the_run_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut child = live_with(&["--state", state.to_str().unwrap()]);
    let mut stdin = child.stdin.take().unwrap();
    let now = wall_ms() - DAY;
    stdin
        .write_all((chat("u1", now, "多少钱") + "\n").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    let out = child.stdout.take().unwrap();
    let (_, out) = lines_until(out, "intent/price", Duration::from_secs(10));
    send(&child, "HUP");
    stdin
        .write_all((chat("u2", now, "退款") + "\n").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    let (_, _out) = lines_until(out, "\"u2\"", Duration::from_secs(10));
    drop(stdin);
    let status = child.wait().unwrap();
    let err = stderr_of(&mut child);
    assert!(status.success(), "{status:?}: {err}");
    assert!(err.contains("SIGHUP ignored"), "{err}");
    assert!(
        state.join("tagstream.state").is_file(),
        "no state saved: {err}"
    );
}

#[test]
fn a_byte_order_mark_is_skipped_and_blank_lines_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bom.jsonl");
    let body = format!(
        "\u{feff}{}\r\n\n   \n{}\n",
        chat("u1", T0, "多少钱"),
        click("u1", T0 + HOUR)
    );
    std::fs::write(&input, body).unwrap();
    let res = tagstream()
        .env("TAGSTREAM_LOG", "info")
        .env("TAGSTREAM_LOG_FORMAT", "json")
        .args(["run", "--workers", "1", "--input"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(res.status.success(), "{}", text(&res.stderr));
    let err = text(&res.stderr);
    assert!(!err.contains("\"error\""), "no dead letter: {err}");
    assert!(
        err.contains("\"lines\":2,") && err.contains("\"blank_lines\":2,"),
        "{err}"
    );
    assert!(text(&res.stdout).contains("intent/price"));
}

#[test]
fn a_dead_letter_keeps_bytes_that_are_not_utf8_in_base64() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.jsonl");
    let raw: &[u8] = b"{\"type\":\"chat\",\"user_id\":\"u\xff\xfe\",\"text\":\"\x80\"}";
    std::fs::write(&input, [raw, b"\n"].concat()).unwrap();
    let dead = dir.path().join("dead.jsonl");
    let res = tagstream()
        .args(["run", "--input"])
        .arg(&input)
        .arg("--dead-letter")
        .arg(&dead)
        .output()
        .unwrap();
    assert!(res.status.success());
    let letter: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&dead).unwrap().trim()).unwrap();
    assert_eq!(letter["error"], "not valid UTF-8");
    // The RFC 4648 encoding of `raw`, worked out independently of the engine.
    assert_eq!(
        letter["payload_base64"],
        "eyJ0eXBlIjoiY2hhdCIsInVzZXJfaWQiOiJ1//4iLCJ0ZXh0IjoigCJ9"
    );
}

/// A line past the 1 MiB limit is a dead letter that says so truthfully: the reader stops a
/// byte past the limit, so the reason gives the limit rather than a made-up length, and says
/// that the payload holds only the line's first megabyte.
#[test]
fn an_oversize_line_says_its_payload_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("{{\"type\":\"chat\",\"text\":\"{}\"}}", "x".repeat(3 << 20));
    let input = write_lines(dir.path(), "in.jsonl", &[long, click("u1", T0)]);
    let dead = dir.path().join("dead.jsonl");
    let res = tagstream()
        .args(["run", "--output", "/dev/null", "--input"])
        .arg(&input)
        .arg("--dead-letter")
        .arg(&dead)
        .output()
        .unwrap();
    assert!(res.status.success(), "{}", text(&res.stderr));
    let letter: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&dead).unwrap().trim()).unwrap();
    assert_eq!(
        letter["error"],
        "line longer than the 1048576-byte limit (1 MiB); payload cut to its first 1048576 bytes"
    );
    let payload = letter["payload"].as_str().unwrap();
    assert_eq!(payload.len(), 1 << 20);
    assert!(
        payload.starts_with("{\"type\":\"chat\",\"text\":\"xxx"),
        "{}",
        &payload[..40]
    );
    assert!(letter.get("payload_base64").is_none());
}

/// The issue's scenario: one click dated months ahead in the middle of a live stream.
fn poisoned_stream(now: i64) -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..20 {
        lines.push(chat(&format!("u{i}"), now - 2 * DAY + i * MINUTE, "hello"));
    }
    lines.push(click("mallory", now + 200 * DAY));
    for i in 20..40 {
        lines.push(chat(&format!("u{i}"), now - DAY + i * MINUTE, "hello"));
    }
    lines
}

#[test]
fn an_event_from_the_future_is_a_dead_letter_and_moves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_lines(dir.path(), "in.jsonl", &poisoned_stream(wall_ms()));
    for workers in ["1", "3"] {
        let (out, dead) = (dir.path().join("out.jsonl"), dir.path().join("dead.jsonl"));
        let res = tagstream()
            .env_remove("TAGSTREAM_CLOCK__MAX_FUTURE")
            .args(["run", "--workers", workers, "--input"])
            .arg(&input)
            .arg("--output")
            .arg(&out)
            .arg("--dead-letter")
            .arg(&dead)
            .output()
            .unwrap();
        assert!(res.status.success(), "{}", text(&res.stderr));
        let dead = std::fs::read_to_string(&dead).unwrap();
        assert_eq!(dead.lines().count(), 1, "{dead}");
        assert!(
            dead.contains("ahead of the wall clock") && dead.contains("mallory"),
            "{dead}"
        );
        let tags = fold_json_lines(&std::fs::read_to_string(&out).unwrap());
        assert_eq!(tags.len(), 40);
        for (user, tags) in &tags {
            assert!(!tags.contains("lifecycle/churned"), "{user}: {tags:?}");
        }
    }
    // Switched off (a replay of synthetic future data), the same click moves the clock.
    let res = tagstream()
        .env("TAGSTREAM_CLOCK__MAX_FUTURE", "off")
        .args([
            "run",
            "--workers",
            "1",
            "--dead-letter",
            "/dev/null",
            "--input",
        ])
        .arg(&input)
        .output()
        .unwrap();
    assert!(res.status.success());
    let tags = fold_json_lines(&text(&res.stdout));
    assert!(tags["u0"].contains("lifecycle/churned"), "{:?}", tags["u0"]);
}
