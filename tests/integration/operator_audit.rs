//! What a new operator gets wrong outside `check`'s own report: a tag misspelt in a rule met
//! by `run` or `test`, a file where a directory is wanted, a state directory misspelt, event
//! times nearly RFC 3339, a benchmark of failing rules. Each message names the value and says
//! what to write instead; `operator_audit_test_command` has the slips met by `test` alone.

use std::path::Path;
use std::process::Output;

use crate::support::{copy_dir, repo, tagstream};

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `command`, which must exit with `code`; its stderr.
pub(crate) fn exits_with(code: i32, command: &mut std::process::Command) -> String {
    let out = command.output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    err
}

/// The shipped rules copied to `dir/rules`, with `extra` added as `extra.rhai`.
pub(crate) fn rules_with(dir: &Path, extra: &str) -> std::path::PathBuf {
    let rules = dir.join("rules");
    copy_dir(&repo().join("rules"), &rules);
    copy_dir(&repo().join("rules/tests"), &rules.join("tests"));
    std::fs::write(rules.join("extra.rhai"), extra).unwrap();
    rules
}

#[test]
fn a_misspelt_tag_or_group_met_by_run_or_test_names_the_near_one() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_with(
        dir.path(),
        "fn on_chat(e, u) {\n    tag(\"intent/pric\");\n}\n",
    );
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "").unwrap();
    let err = exits_with(
        2,
        tagstream()
            .args(["run", "--output", "-", "--rules"])
            .arg(&rules)
            .arg("--input")
            .arg(&input),
    );
    let at = rules.join("extra.rhai").display().to_string();
    assert!(
        err.contains(&format!(
            "{at}:2: tag \"intent/pric\" is not declared in the tag catalogue; did you mean `intent/price`?"
        )),
        "{err}"
    );

    std::fs::write(
        rules.join("extra.rhai"),
        "fn on_chat(e, u) {\n    if u.tag_in(\"activty\") == \"\" {}\n}\n",
    )
    .unwrap();
    let err = exits_with(2, tagstream().arg("test").arg("--rules").arg(&rules));
    assert!(
        err.contains(&format!(
            "{at}:2: group \"activty\" is not declared in the tag catalogue; did you mean `activity`?"
        )),
        "{err}"
    );
}

#[test]
fn a_file_for_the_rules_directory_or_a_directory_for_a_file_says_what_the_flag_takes() {
    let cases: [(&[&str], &str); 3] = [
        (
            &["check", "--rules", "rules/activity.rhai"],
            "hint: rules/activity.rhai is a file; --rules (rules.dir) names the directory of \
             .rhai rules, such as rules",
        ),
        (
            &["test", "--catalogue", "config"],
            "hint: config is a directory; --catalogue (rules.catalogue) names the tag catalogue \
             file, such as config/tags.toml",
        ),
        (
            &["run", "--params", "config", "--input", "-", "--output", "-"],
            "hint: config is a directory; --params (rules.params) names the rule parameters \
             file, such as config/params.toml",
        ),
    ];
    for (args, hint) in cases {
        let out = tagstream()
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(hint), "{args:?}: {err}");
    }
}

#[test]
fn a_misspelt_state_directory_names_the_near_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("state")).unwrap();
    let typo = dir.path().join("stat");
    for args in [["segment", "rfm/*"], ["explain", "u1"]] {
        let err = exits_with(2, tagstream().args(args).arg("--state").arg(&typo));
        assert!(
            err.contains(&format!(
                "{}: no such state directory; did you mean {}?",
                typo.display(),
                dir.path().join("state").display()
            )),
            "{err}"
        );
    }
    let file = dir.path().join("state.toml");
    std::fs::write(&file, "").unwrap();
    let out = tagstream()
        .args(["segment", "rfm/*", "--state"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains(
            "not a directory (--state names the directory given to `tagstream run --state`)"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn generate_into_a_missing_folder_or_a_directory_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nodir/events.jsonl");
    let err = exits_with(
        1,
        tagstream()
            .args(["generate", "--events", "5", "--users", "2", "--output"])
            .arg(&missing),
    );
    assert!(
        err.contains(&format!(
            "cannot create {} (directory {} does not exist)",
            missing.display(),
            dir.path().join("nodir").display()
        )),
        "{err}"
    );
    let err = exits_with(
        1,
        tagstream()
            .args(["generate", "--events", "5", "--users", "2", "--output"])
            .arg(dir.path()),
    );
    assert!(
        err.contains("(a directory: --output names the file to write, or - for stdout)"),
        "{err}"
    );
}

#[test]
fn nearly_valid_times_and_types_say_what_to_write() {
    let input = [
        r#"{"type":"chat","user_id":"u1","ts":"2026-07-01T09:00:00","text":"hi"}"#,
        r#"{"type":"chat","user_id":"u1","ts":"2026-07-01T09:00:00+0800","text":"hi"}"#,
        r#"{"type":"chat","user_id":"u1","ts":"2026-07-01","text":"hi"}"#,
        r#"{"type":"Chat","user_id":"u1","ts":"2026-07-01T09:00:00Z","text":"hi"}"#,
    ]
    .join("\n");
    let mut child = tagstream()
        .args([
            "run",
            "--input",
            "-",
            "--output",
            "/dev/null",
            "--dead-letter",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let errors: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["error"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let expected = [
        "(no UTC offset: end it with Z, or with its zone's offset such as +08:00)",
        "(the UTC offset needs a colon, as in +08:00)",
        "(a date alone: add the time and its UTC offset, as in 2026-07-01T00:00:00Z)",
        "unknown event type \"Chat\" (chat, click or order)",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:?}");
    for (error, end) in errors.iter().zip(expected) {
        assert!(error.ends_with(end), "{error}");
    }
}

#[test]
fn a_bench_of_rules_that_fail_warns_that_it_times_failures() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_with(
        dir.path(),
        "fn on_event(e, u) {\n    throw \"broken\";\n}\n",
    );
    let out = tagstream()
        .args([
            "bench", "--quick", "--events", "200", "--users", "5", "--rules",
        ])
        .arg(&rules)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "dead letters of valid events: rule errors, so these figures time rules that fail"
        ),
        "{err}"
    );
    // The shipped rules fail on nothing: no warning.
    let out = tagstream()
        .args(["bench", "--quick", "--events", "200", "--users", "5"])
        .output()
        .unwrap();
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn a_run_in_which_no_line_is_an_event_says_so_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let event = r#"{"type":"chat","user_id":"u1","ts":"2026-07-01T09:00:00Z","text":"hi"}"#;
    // A JSON array of events, one per line, as an export tool may write it.
    let array = dir.path().join("events.json");
    std::fs::write(&array, format!("[{event},\n{event}]\n")).unwrap();
    let run = |input: &Path| {
        let out = tagstream()
            .env("TAGSTREAM_LOG", "warn")
            .args([
                "run",
                "--output",
                "/dev/null",
                "--dead-letter",
                "/dev/null",
                "--input",
            ])
            .arg(input)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stderr(&out)
    };
    let err = run(&array);
    assert!(
        err.contains("no line of the input is a valid event; the dead-letter output gives each line's reason"),
        "{err}"
    );
    assert!(err.contains("bad_input_by_reason=not_json=2"), "{err}");
    assert!(
        err.contains("hint=\"--input takes JSON lines: one event object per line"),
        "{err}"
    );
    // Objects with a field wrong: the fields, not the format, are the hint.
    let fields = dir.path().join("fields.jsonl");
    std::fs::write(&fields, event.replace("chat", "view") + "\n").unwrap();
    let err = run(&fields);
    assert!(
        err.contains("no line of the input is a valid event"),
        "{err}"
    );
    assert!(
        err.contains("the events' fields are in docs/contract.md"),
        "{err}"
    );
    // One valid line among bad ones: no warning.
    let mixed = dir.path().join("mixed.jsonl");
    std::fs::write(&mixed, format!("[1]\n{event}\n")).unwrap();
    assert!(!run(&mixed).contains("no line of the input"));
}

#[test]
fn a_directory_for_the_config_file_names_the_file_in_it() {
    let expected = "config: a directory; --config names the engine config file, such as \
                    config/tagstream.toml";
    for args in [
        &["check", "--config", "config"][..],
        &["test", "--config", "config"],
        &["run", "--config", "config", "--input", "-", "--output", "-"],
    ] {
        let out = tagstream()
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn segment_expressions_in_words_say_what_to_write() {
    let cases = [
        (
            "lifecycle/mature and value/high",
            "(write & for and, | for or)",
        ),
        (
            "lifecycle/mature or value/high",
            "(write & for and, | for or)",
        ),
        (
            "not lifecycle/mature",
            "tag \"not\" is not declared in the tag catalogue (write ! for not)",
        ),
        (
            "lifecycle/mature,value/high",
            "(a comma joins nothing: write & for and, | for or)",
        ),
    ];
    for (expr, expected) in cases {
        let out = tagstream()
            .args(["segment", expr, "--count", "--state", "nowhere"])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{expr}: {err}");
        assert!(err.contains(expected), "{expr}: {err}");
    }
}

#[test]
fn a_rule_that_loops_forever_is_told_the_limit_it_broke() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_with(
        dir.path(),
        "fn on_chat(e, u) {\n    spin();\n}\nfn spin() {\n    loop {}\n}\n",
    );
    let mut child = tagstream()
        .args([
            "run",
            "--input",
            "-",
            "--output",
            "/dev/null",
            "--dead-letter",
            "-",
            "--rules",
        ])
        .arg(&rules)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let event = r#"{"type":"chat","user_id":"u1","ts":"2026-07-01T09:00:00Z","text":"hi"}"#;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let letter: serde_json::Value =
        serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert_eq!(letter["rule"], "extra");
    let error = letter["error"].as_str().unwrap();
    // The handler's line that called into the loop, then the limit and its usual cause.
    assert!(
        error.starts_with("Too many operations (line 2, position 5)"),
        "{error}"
    );
    assert!(
        error.ends_with(
            ": more than the 200000 operations a handler call may run (a loop that never ends?)"
        ),
        "{error}"
    );
}

/// `explain` of an id no event can carry (empty, or past 128 bytes) is refused before any
/// state is read; `run --output` or `--dead-letter` naming a directory says so.
#[test]
fn an_impossible_user_and_a_directory_for_output_are_refused_with_why() {
    let err = exits_with(2, tagstream().args(["explain", ""]));
    assert!(err.contains("a user id is never empty"), "{err}");
    let long = "u".repeat(129);
    let err = exits_with(2, tagstream().args(["explain", &long]));
    assert!(err.contains("129 bytes: a user id is at most 128"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "").unwrap();
    for flag in ["--output", "--dead-letter"] {
        let err = exits_with(
            1,
            tagstream()
                .args(["run", "--input"])
                .arg(&input)
                .arg(flag)
                .arg(dir.path()),
        );
        assert!(
            err.contains(&format!(
                "{} (a directory: name the file to write in it, or - for stdout)",
                dir.path().display()
            )),
            "{flag}: {err}"
        );
    }
}
