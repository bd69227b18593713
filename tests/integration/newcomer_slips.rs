//! The slips of a first day at the command line: a path without its flag, a rule or a
//! directory given to `test` as its filter, an output that cannot be created. Each is refused
//! with words that say what to type instead.

use crate::operator_audit::stderr;
use crate::operator_audit_3::sample_state;
use crate::query::with_pack;
use crate::support::*;

/// `tagstream ARGS` from the repository: exit 2, and its stderr.
fn refused(args: &[&str]) -> String {
    let out = tagstream().args(args).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    err
}

/// `tagstream check rules` and `tagstream run events.jsonl` said only "unexpected argument
/// 'rules' found": nothing said that every path is given with a flag, nor which.
#[test]
fn a_path_without_its_flag_gets_a_tip_naming_the_flag() {
    for (args, tip) in [
        (
            &["check", "rules"][..],
            "tip: rules is a rules directory: give it as '--rules rules'",
        ),
        (
            &["diff", "rules", "--input", "examples/sample.jsonl"],
            "tip: rules is a rules directory: give it as '--rules rules' (the new set), or \
             '--base rules' (the base)",
        ),
        (
            &["test", "rules/keywords.rhai", "rules"],
            "tip: rules is a rules directory: give it as '--rules rules'",
        ),
        (
            &["check", "rules/keywords.rhai"],
            "tip: rules/keywords.rhai is a rule: rules are given by their directory, \
             '--rules rules'",
        ),
        (
            &["check", "config/params.toml"],
            "tip: a .toml file is given with the flag of what it holds: '--config \
             config/params.toml' (the engine config), '--catalogue config/params.toml' (the \
             tag catalogue) or '--params config/params.toml' (the rule parameters)",
        ),
        (
            &["run", "examples/sample.jsonl"],
            "tip: events are read with '--input examples/sample.jsonl'",
        ),
        (&["run", "-"], "tip: events are read with '--input -'"),
        (
            &["explain", "u1", "examples/sample.jsonl"],
            "tip: tag changes are read with '--changes examples/sample.jsonl'",
        ),
        (
            &["segment", "lifecycle/mature", "value/high"],
            "tip: the expression is one argument: quote it whole, as in \
             'lifecycle/mature & !service/complaint'",
        ),
    ] {
        let err = refused(args);
        assert!(err.contains("unexpected argument"), "{args:?}: {err}");
        assert!(err.contains(tip), "{args:?}: {err}");
    }
    // A saved state is given with --state where the command takes one.
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = sample_state(dir.path());
    let shown = state.display().to_string();
    let err = refused(&["segment", "lifecycle/*", &shown]);
    assert!(
        err.contains(&format!(
            "tip: {shown} holds saved state: give it as '--state {shown}'"
        )),
        "{err}"
    );
    // No tip where the command has no such flag, nor for a word that is no path.
    for args in [&["generate", "rules"][..], &["check", "no-such-dir"]] {
        let err = refused(args);
        assert!(!err.contains("tip:"), "{args:?}: {err}");
    }
}

/// `tagstream test rules/keywords.rhai` and `tagstream test my-rules` said only "no case name
/// contains ...": the filter is a part of a case name, and nothing said how to test a rule or
/// another rules directory.
#[test]
fn a_test_filter_that_is_a_rule_or_a_directory_says_what_to_type() {
    let err = refused(&["test", "rules/keywords.rhai"]);
    assert!(
        err.contains(
            "error: no case name contains \"rules/keywords.rhai\"; rules/keywords.rhai is a \
             rule, not a test: its tests are in rules/tests/keywords.toml (`tagstream test \
             keywords.toml` runs them)"
        ),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("my-rules");
    copy_dir(&repo().join("rules"), &rules);
    let shown = rules.display().to_string();
    let err = refused(&["test", &shown]);
    assert!(
        err.contains(&format!(
            "; {shown} is a rules directory: FILTER picks cases by name, `tagstream test \
             --rules {shown}` runs the tests of the rules in it"
        )),
        "{err}"
    );
    let err = refused(&["test", "rules"]);
    assert!(
        err.contains(
            "; rules is the rules directory: without FILTER, `tagstream test` runs all its tests"
        ),
        "{err}"
    );
    let err = refused(&["test", "rules/tests"]);
    assert!(
        err.contains(
            "; rules/tests is a directory: FILTER is a part of a case name, or one test file \
             ending in .toml; without FILTER every rules/tests/*.toml runs"
        ),
        "{err}"
    );
}

/// `segment --output /tmp` said only "error: /tmp: Is a directory (os error 21)", where `run`
/// and `generate` say what the path is and what to name instead.
#[test]
fn a_segment_output_that_cannot_be_created_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = sample_state(dir.path());
    let segment = |output: &std::path::Path| {
        let out = tagstream()
            .args(["segment", "lifecycle/*", "--state"])
            .arg(&state)
            .arg("--output")
            .arg(output)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        stderr(&out)
    };
    let err = segment(dir.path());
    assert!(
        err.contains(&format!(
            "error: cannot create {} (a directory: --output names the file to write, or - for \
             stdout): ",
            dir.path().display()
        )),
        "{err}"
    );
    let missing = dir.path().join("no-such-dir/users.csv");
    let err = segment(&missing);
    assert!(
        err.contains(&format!(
            "error: cannot create {} (directory {} does not exist): ",
            missing.display(),
            missing.parent().unwrap().display()
        )),
        "{err}"
    );
}

/// `segment --state nowhere` said "no such state directory" and nothing of what writes one,
/// where a directory without a state file says `write one with tagstream run … --state`.
#[test]
fn a_missing_state_directory_says_what_writes_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tagstream_in(dir.path());
    cmd.args(["segment", "rfm/*", "--state", "nowhere"]);
    let out = with_pack(&mut cmd).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "error: nowhere: no such state directory (looked up in the working directory {}); \
             `tagstream run --input FILE --state nowhere` writes one",
            dir.path().canonicalize().unwrap().display()
        )),
        "{err}"
    );
}

/// `run`, `test` and the other commands that load rules stop at the first mistake in a
/// script and said nothing of the others: fixed one run at a time, a set with five typos took
/// five runs.
#[test]
fn a_rule_that_does_not_load_points_to_check_for_the_other_errors() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    copy_dir(&repo().join("rules"), &rules);
    std::fs::write(
        rules.join("typos.rhai"),
        "fn on_chat(event, user) {\n    tag(\"intent/prise\");\n    tag(\"vip/gold\");\n}\n",
    )
    .unwrap();
    let hint = format!(
        "hint: `tagstream check --rules {}` (with the same --config, --catalogue and --params) \
         lists every error of the rules at once, not only the first",
        rules.display()
    );
    for command in [
        &[
            "run",
            "--input",
            "examples/sample.jsonl",
            "--output",
            "/dev/null",
        ][..],
        &["test"],
    ] {
        let out = tagstream()
            .args(command)
            .arg("--rules")
            .arg(&rules)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {err}");
        assert!(err.contains("typos.rhai:2: tag \"intent/prise\""), "{err}");
        assert!(err.contains(&hint), "{command:?}: {err}");
    }
    // diff names the set that does not load, the changed one here.
    let out = tagstream()
        .args(["diff", "--input", "examples/sample.jsonl", "--rules"])
        .arg(&rules)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&hint), "diff: {err}");
    let out = tagstream()
        .arg("check")
        .arg("--rules")
        .arg(&rules)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        err.contains("typos.rhai:2:") && err.contains("typos.rhai:3:") && !err.contains(&hint),
        "{err}"
    );
}

/// `explain USER --changes DIR` said only "error: /tmp: Is a directory (os error 21)", without
/// the flag it came from or what the flag takes.
#[test]
fn explain_changes_that_are_a_directory_say_what_the_flag_takes() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = sample_state(dir.path());
    let out = tagstream()
        .args(["explain", "wm_c5e14bdf320c7b1c", "--state"])
        .arg(&state)
        .arg("--changes")
        .arg(dir.path())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "error: --changes {}: a directory; --changes takes the file of tag changes that \
             `tagstream run --input … --output FILE` wrote",
            dir.path().display()
        )),
        "{err}"
    );
}

/// `bench --kafka` away from the repository ran every in-process stage (minutes) before it
/// looked for the script that starts its broker, then failed with exit 1.
#[test]
fn bench_kafka_without_its_broker_script_is_refused_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let mut cmd = tagstream_in(dir.path());
    cmd.args(["bench", "--kafka"]);
    let out = with_pack(&mut cmd).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--kafka needs scripts/tansu.sh"), "{err}");
    assert!(err.contains("--bootstrap HOST:PORT"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{err}"
    );
}
