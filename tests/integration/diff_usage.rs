//! `tagstream diff` as an operator meets its messages: what `check` says of each side comes
//! before the report, and bad arguments exit 2 naming what is wrong.

use std::process::Output;

use crate::support::*;

fn tagstream(args: &[&str]) -> Output {
    crate::support::tagstream().args(args).output().unwrap()
}

#[test]
fn what_check_says_of_each_side_is_printed_before_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let rules = misnamed_handler_rules(dir.path());
    let input = write_lines(dir.path(), "events.jsonl", &[chat("a", T0, "多少钱")]);
    let out = tagstream(&[
        "diff",
        "--rules",
        rules.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rule = rules.join("x.rhai").display().to_string();
    for expected in [
        format!("new rules: {rule}:1: warning: `on_evnt` is named like a handler but is not one"),
        format!("new rules: {rule}: warning: no handler"),
        "new rules: warning: `tagstream check` fails on these rules (1 error(s) above)".into(),
    ] {
        assert!(stderr.contains(&expected), "no {expected:?} in:\n{stderr}");
    }
    // The base is the shipped set: nothing to say of it.
    assert!(!stderr.contains("base rules:"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("intent/price"));

    // A misspelt key in the new parameters, named on the side that has it.
    let shipped = std::fs::read_to_string(repo().join("config/params.toml")).unwrap();
    let params = dir.path().join("typo.toml");
    std::fs::write(&params, shipped.replace("weight_chat =", "weigth_chat =")).unwrap();
    let out = tagstream(&[
        "diff",
        "--rules",
        "rules",
        "--params",
        params.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "new rules: {}:7: warning: [activity] weigth_chat: no rule reads this key",
            params.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "new rules: rules/activity.rhai:14: warning: `activity::weight_chat` is not in"
        ),
        "{stderr}"
    );
}

#[test]
fn bad_arguments_exit_2_with_a_clear_message() {
    let cases: [(&[&str], &str); 8] = [
        (&["diff", "--input", "examples/sample.jsonl"], "--rules"),
        (&["diff", "--rules", "rules"], "--input"),
        (
            &["diff", "--rules", "rules", "--input", "nope.jsonl"],
            "--input nope.jsonl: No such file",
        ),
        (
            &["diff", "--rules", "rules", "--input", "examples"],
            "--input examples: is a directory",
        ),
        (
            &[
                "diff",
                "--rules",
                "no-such-dir",
                "--input",
                "examples/sample.jsonl",
            ],
            "new rules: no-such-dir",
        ),
        (
            &[
                "diff",
                "--rules",
                "rules",
                "--base-params",
                "missing.toml",
                "--input",
                "examples/sample.jsonl",
            ],
            "base rules: missing.toml",
        ),
        (
            &[
                "diff",
                "--rules",
                "rules",
                "--params",
                "config/parms.toml",
                "--input",
                "examples/sample.jsonl",
            ],
            "config/parms.toml does not exist; did you mean config/params.toml?",
        ),
        (
            &[
                "diff",
                "--rules",
                "rules",
                "--input",
                "examples/sample.jsonl",
                "--format",
                "yaml",
            ],
            "yaml",
        ),
    ];
    for (args, needle) in cases {
        let out = tagstream(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn an_input_without_a_valid_event_is_not_reported_as_no_difference() {
    let dir = tempfile::tempdir().unwrap();
    // The output of a run (tag changes) given where the recorded events go.
    let changes = dir.path().join("changes.jsonl");
    let out = tagstream(&[
        "run",
        "--input",
        "examples/sample.jsonl",
        "--output",
        changes.to_str().unwrap(),
        "--dead-letter",
        "/dev/null",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = changes.display().to_string();
    let out = tagstream(&["diff", "--rules", "rules", "--input", &shown]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("no difference"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "nothing compared: none of the {} lines of {shown} is a valid event (first: \
             {shown}:1: missing field `type`); --input takes recorded events",
            std::fs::read_to_string(&changes).unwrap().lines().count()
        )),
        "{stdout}"
    );
    // JSON keeps its fields; the person at the terminal is told on stderr.
    let out = tagstream(&[
        "diff", "--rules", "rules", "--input", &shown, "--format", "json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: nothing compared: none of the"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["invalid_lines"], report["lines"]);

    let empty = write_lines(dir.path(), "empty.jsonl", &[]);
    let out = tagstream(&[
        "diff",
        "--rules",
        "rules",
        "--input",
        empty.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "nothing compared: {} holds no lines",
            empty.display()
        )),
        "{stdout}"
    );
}
