//! A third round of a new operator's slips, met from the outside: a `--changes` file misspelt,
//! an HTTP host name that does not resolve, a test file named with the wrong extension, a tag
//! in capitals or a group misspelt in a segment, a new rule's tag not yet declared, and the
//! engine config, catalogue and parameters given to each other's flags. Each message says what
//! was meant or what to do, and the exit code is the contract's.

use std::path::{Path, PathBuf};

use crate::operator_audit::{exits_with, stderr};
use crate::support::{copy_dir, repo, tagstream};

/// The sample stream run into `dir/state`, its tag changes in `dir/tags.jsonl`.
pub(crate) fn sample_state(dir: &Path) -> (PathBuf, PathBuf) {
    let (state, tags) = (dir.join("state"), dir.join("tags.jsonl"));
    exits_with(
        0,
        tagstream()
            .env("TAGSTREAM_LOG", "error")
            .args([
                "run",
                "--input",
                "examples/sample.jsonl",
                "--dead-letter",
                "/dev/null",
            ])
            .arg("--output")
            .arg(&tags)
            .arg("--state")
            .arg(&state),
    );
    (state, tags)
}

#[test]
fn a_changes_file_misspelt_gets_the_name_meant() {
    let dir = tempfile::tempdir().unwrap();
    let (state, tags) = sample_state(dir.path());
    // `tags.json` for `tags.jsonl`: the name meant, not "No such file or directory (os error
    // 2)". A missing file is exit 1, as run's missing --input is.
    let misspelt = tags.with_extension("json");
    let err = exits_with(
        1,
        tagstream()
            .args(["explain", "wm_c5e14bdf320c7b1c", "--state"])
            .arg(&state)
            .arg("--changes")
            .arg(&misspelt),
    );
    assert!(
        err.contains(&format!(
            "error: --changes {}: no such file; did you mean {}?",
            misspelt.display(),
            tags.display()
        )),
        "{err}"
    );
}

#[test]
fn an_http_host_that_does_not_resolve_says_what_to_give() {
    let err = exits_with(
        2,
        tagstream().args([
            "run",
            "--input",
            "examples/sample.jsonl",
            "--output",
            "/dev/null",
            "--http",
            "no-such-host.invalid:9898",
        ]),
    );
    assert!(
        err.contains("\"no-such-host.invalid:9898\": the host name does not resolve ("),
        "{err}"
    );
    assert!(
        err.contains("give an address of this machine with --http HOST:PORT or http.listen"),
        "{err}"
    );
}

#[test]
fn a_test_filter_named_like_a_file_says_which_file_was_meant() {
    let test = |filter: &str| exits_with(2, tagstream().args(["test", filter]));
    for slip in ["keywords.tom", "rules/tests/keywords.tml"] {
        let err = test(slip);
        assert!(
            err.contains(&format!(
                "{slip} does not exist: did you mean `tagstream test rules/tests/keywords.toml`?"
            )),
            "{err}"
        );
    }
    let err = test("events.json");
    assert!(
        err.contains("events.json does not exist: FILTER is a part of a case name, or one test file ending in .toml (the test files are rules/tests/*.toml)"),
        "{err}"
    );
    // A file that is there but not a test file.
    let err = test("examples/sample.jsonl");
    assert!(
        err.contains("examples/sample.jsonl is a file but not a test file"),
        "{err}"
    );
    // A filter that is no file name keeps the plain message.
    let err = test("activity/high");
    assert!(
        err.ends_with("no case name contains \"activity/high\"\n"),
        "{err}"
    );
}

#[test]
fn a_segment_tag_in_capitals_or_a_misspelt_group_gets_the_name_meant() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = sample_state(dir.path());
    let segment = |expr: &str| {
        let mut command = tagstream();
        command
            .args(["segment", expr, "--count", "--state"])
            .arg(&state);
        exits_with(2, &mut command)
    };
    let err = segment("LIFECYCLE/MATURE & value/high");
    assert!(
        err.contains("tag \"LIFECYCLE/MATURE\" is not declared in the tag catalogue; did you mean \"lifecycle/mature\"?"),
        "{err}"
    );
    let err = segment("lifecyle/*");
    assert!(
        err.contains("the tag catalogue has no \"lifecyle\" group); did you mean \"lifecycle/*\"?"),
        "{err}"
    );
}

#[test]
fn a_tag_or_group_not_yet_declared_says_how_to_declare_it() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    copy_dir(&repo().join("rules"), &rules);
    std::fs::write(
        rules.join("night.rhai"),
        "fn on_chat(e, u) {\n    tag(\"habit/night-owl\");\n    tag(\"activity/nocturnal\");\n    \
         if u.tag_in(\"sleepers\") != () { tag(\"vip\"); }\n}\n",
    )
    .unwrap();
    let out = tagstream()
        .arg("check")
        .arg("--rules")
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = String::from_utf8_lossy(&out.stdout).into_owned() + stderr(&out).as_str();
    for declare in [
        ":2: tag \"habit/night-owl\" is not declared in the tag catalogue; to declare it, add a table [groups.habit] with tags = [\"night-owl\"]",
        ":3: tag \"activity/nocturnal\" is not declared in the tag catalogue; to declare it, add \"nocturnal\" to the tags of [groups.activity]",
        ":4: group \"sleepers\" is not declared in the tag catalogue; to declare it, add a table [groups.sleepers]",
        ":4: tag \"vip\" is not declared in the tag catalogue; to declare it, add a table [groups.vip] without `tags`",
    ] {
        assert!(err.contains(declare), "{declare}\n{err}");
    }
    // `run` stops at the first, with the same words.
    let err = exits_with(
        2,
        tagstream()
            .args(["run", "--input", "/dev/null", "--output", "-", "--rules"])
            .arg(&rules),
    );
    assert!(
        err.contains("night.rhai:2: tag \"habit/night-owl\" is not declared in the tag catalogue; to declare it, add a table [groups.habit]"),
        "{err}"
    );
}

#[test]
fn a_file_given_to_another_files_flag_names_the_flag_that_takes_it() {
    let check = |flag: &str, file: &str| {
        let out = tagstream().args(["check", flag, file]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned() + stderr(&out).as_str()
    };
    let cases = [
        ("--catalogue", "config/params.toml", "looks like rule parameters, not a tag catalogue: give it with --params (rules.params)"),
        ("--params", "config/tags.toml", "looks like a tag catalogue, not rule parameters: give it with --catalogue (rules.catalogue)"),
        ("--config", "config/tags.toml", "looks like a tag catalogue, not the engine config: give it with --catalogue (rules.catalogue)"),
        ("--config", "config/params.toml", "looks like rule parameters, not the engine config: give it with --params (rules.params)"),
        ("--params", "config/tagstream.toml", "looks like the engine config, not rule parameters: give it with --config"),
        ("--catalogue", "config/tagstream.toml", "looks like the engine config, not a tag catalogue: give it with --config"),
    ];
    for (flag, file, said) in cases {
        let err = check(flag, file);
        assert!(
            err.contains(&format!("({file} {said})")),
            "{flag} {file}\n{err}"
        );
    }
    // A typo inside the right kind of file is only the typo.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tagstream.toml");
    std::fs::write(&config, "[clocks]\nmax_future = \"1h\"\n").unwrap();
    let err = check("--config", config.to_str().unwrap());
    assert!(err.contains("did you mean `clock`?"), "{err}");
    assert!(!err.contains("looks like"), "{err}");
}

#[test]
fn a_directory_named_like_a_rule_says_what_to_do_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    copy_dir(&repo().join("rules"), &rules);
    std::fs::create_dir(rules.join("old.rhai")).unwrap();
    let run = ["run", "--input", "/dev/null", "--output", "-"];
    for args in [&["check"][..], &run[..]] {
        let out = tagstream()
            .args(args)
            .arg("--rules")
            .arg(&rules)
            .output()
            .unwrap();
        let all = String::from_utf8_lossy(&out.stdout).into_owned() + stderr(&out).as_str();
        assert_eq!(out.status.code(), Some(2), "{all}");
        assert!(
            all.contains(&format!(
                "{}: a directory, not a rule script: every *.rhai of the rules directory is read \
                 as a rule; rename it or move it out of the rules directory",
                rules.join("old.rhai").display()
            )),
            "{all}"
        );
    }
}

#[test]
fn an_input_with_no_records_is_not_passed_over_in_silence() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("events.jsonl");
    std::fs::write(&empty, "\n\n").unwrap();
    let err = exits_with(
        0,
        tagstream()
            .env("TAGSTREAM_LOG", "warn")
            .args(["run", "--output", "/dev/null", "--input"])
            .arg(&empty),
    );
    assert!(
        err.contains("the input holds no records: nothing was processed; check that --input names the file meant"),
        "{err}"
    );
    assert!(err.contains("blank_lines=2"), "{err}");
    // A run that read records says nothing of the kind.
    let err = exits_with(
        0,
        tagstream().env("TAGSTREAM_LOG", "warn").args([
            "run",
            "--input",
            "examples/sample.jsonl",
            "--output",
            "/dev/null",
            "--dead-letter",
            "/dev/null",
        ]),
    );
    assert!(!err.contains("holds no records"), "{err}");
}

#[test]
fn a_parameter_that_is_nan_or_infinite_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let params = dir.path().join("params.toml");
    let shipped = std::fs::read_to_string(repo().join("config/params.toml")).unwrap();
    for written in ["nan", "inf", "-inf"] {
        let text = shipped.replace("high_enter = 10.0", &format!("high_enter = {written}"));
        std::fs::write(&params, text).unwrap();
        let out = tagstream()
            .arg("check")
            .arg("--params")
            .arg(&params)
            .output()
            .unwrap();
        let all = String::from_utf8_lossy(&out.stdout).into_owned() + stderr(&out).as_str();
        assert_eq!(out.status.code(), Some(2), "{all}");
        assert!(
            all.contains(&format!(
                "params.toml:10: [activity] high_enter = {written}: must be a finite number"
            )),
            "{all}"
        );
    }
    // From the environment: digits past a float's range are infinity.
    let out = tagstream()
        .env("TAGSTREAM_ACTIVITY__HIGH_ENTER", "1e400")
        .arg("check")
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&out.stdout).into_owned() + stderr(&out).as_str();
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("high_enter = inf: must be a finite number"),
        "{all}"
    );
}

#[test]
fn a_whole_number_past_the_limit_names_the_limit_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.toml");
    let shipped = |name: &str| std::fs::read_to_string(repo().join(name)).unwrap();
    let cases = [
        (
            "--config",
            shipped("config/tagstream.toml")
                .replace("max_future = \"1h\"", "max_future = 99999999999999999999"),
            39,
        ),
        (
            "--catalogue",
            shipped("config/tags.toml").replace(
                "max_tags_per_user = 32",
                "max_tags_per_user = 99999999999999999999",
            ),
            6,
        ),
        (
            "--params",
            shipped("config/params.toml")
                .replace("high_enter = 10.0", "high_enter = 99999999999999999999"),
            10,
        ),
    ];
    for (flag, text, line) in cases {
        std::fs::write(&file, text).unwrap();
        let out = tagstream()
            .arg("check")
            .arg(flag)
            .arg(&file)
            .output()
            .unwrap();
        let all = String::from_utf8_lossy(&out.stdout).into_owned() + stderr(&out).as_str();
        assert_eq!(out.status.code(), Some(2), "{all}");
        assert!(
            all.contains(&format!(
                "f.toml:{line}: a whole number is at most 9223372036854775807 (this one has more digits than fit); write the value meant"
            )),
            "{flag}\n{all}"
        );
    }
}
