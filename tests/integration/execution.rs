//! `rules.execution`: every rule run by Rhai's interpreter instead of in compiled form, an
//! operator's way to rule the compiled form out. The outputs are the same either way.

use std::process::Output;

use tagstream::generate::GenOptions;

use crate::support::{check_with, generated_lines, tagstream, write_lines};

/// `tagstream run --workers 1` over `input` with `rules.execution` set by its variable;
/// returns the tag changes, the dead letters and the log.
fn run_with(execution: &str, input: &std::path::Path) -> (String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (changes, dead) = (dir.path().join("changes"), dir.path().join("dead"));
    let out: Output = tagstream()
        .env("TAGSTREAM_LOG", "info")
        .env("TAGSTREAM_RULES__EXECUTION", execution)
        .arg("run")
        .args(["--workers", "1", "--input"])
        .arg(input)
        .arg("--output")
        .arg(&changes)
        .arg("--dead-letter")
        .arg(&dead)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{execution}: {log}");
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
    (read(&changes), read(&dead), log)
}

#[test]
fn the_interpreter_chosen_by_config_gives_the_same_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let lines = generated_lines(&GenOptions {
        users: 300,
        events: 6_000,
        days: 40,
        seed: 23,
        invalid_per_mille: 10,
        ..GenOptions::default()
    });
    let input = write_lines(dir.path(), "events.jsonl", &lines);
    let (changes, dead, log) = run_with("compiled", &input);
    assert!(log.contains("execution=\"compiled\""), "{log}");
    let (changes_i, dead_i, log_i) = run_with("interpreted", &input);
    assert!(log_i.contains("execution=\"interpreted\""), "{log_i}");
    assert!(
        changes.lines().count() > 1_000,
        "a stream that tags: {changes}"
    );
    assert!(dead.lines().count() > 10, "and has dead letters: {dead}");
    assert!(changes == changes_i, "tag changes differ");
    assert!(dead == dead_i, "dead letters differ");
}

#[test]
fn check_says_when_every_rule_runs_in_the_interpreter() {
    let (code, err, out) = check_with("[rules]\nexecution = \"interpreted\"\n", &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("note: rules.execution = \"interpreted\": every rule runs in the interpreter"),
        "{out}"
    );
    // Letter case does not matter, as for "off" elsewhere.
    let (code, err, out) = check_with("", &[("TAGSTREAM_RULES__EXECUTION", "Interpreted")]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("every rule runs in the interpreter"), "{out}");
    // The default pack compiles whole: no note at all.
    let (code, err, out) = check_with("", &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!out.contains("note:"), "{out}");
}

#[test]
fn a_misspelt_execution_is_refused_with_the_value_meant() {
    let (code, err, _) = check_with("[rules]\nexecution = \"interpretd\"\n", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "CONFIG:2: rules.execution = \"interpretd\" must be \"compiled\" or \"interpreted\"; \
             did you mean \"interpreted\"?"
        ),
        "{err}"
    );
    let (code, err, _) = check_with("", &[("TAGSTREAM_RULES__EXECUTION", "fast")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "environment variable TAGSTREAM_RULES__EXECUTION: rules.execution = \"fast\" must be \
             \"compiled\" or \"interpreted\""
        ),
        "{err}"
    );
    // `run` refuses it before reading any input.
    let out = tagstream()
        .env("TAGSTREAM_RULES__EXECUTION", "jit")
        .args(["run", "--input", "examples/sample.jsonl", "--output", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "no output before the config is right"
    );
}
