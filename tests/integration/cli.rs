//! The binary from the outside: exit codes, `check`, embedded `run`.

use crate::support::*;

/// `tagstream check` on a rules directory holding `rules` (file name, text).
fn check_rules(rules: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in rules {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    tagstream()
        .args(["check", "--rules"])
        .arg(dir.path())
        .output()
        .unwrap()
}

#[test]
fn check_passes_on_the_shipped_pack() {
    let out = tagstream().arg("check").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("4 rules"));
}

/// A mistyped path fails with exit 2 and names the file meant; a run started from another
/// directory is told where the paths were looked up.
#[test]
fn missing_rules_paths_say_what_was_meant() {
    for (command, flag, typo, meant) in [
        (
            "check",
            "--params",
            "config/param.toml",
            "config/params.toml",
        ),
        ("run", "--params", "config/param.toml", "config/params.toml"),
        (
            "check",
            "--catalogue",
            "config/tagz.toml",
            "config/tags.toml",
        ),
        ("test", "--rules", "rule", "rules"),
        ("check", "--rules", "rulez", "rules"),
    ] {
        let out = tagstream()
            .args([command, flag, typo])
            .args(if command == "run" {
                &["--input", "-"][..]
            } else {
                &[]
            })
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command} {flag} {typo}: {err}");
        assert!(
            err.contains(&format!("{typo} does not exist; did you mean {meant}?")),
            "{command} {flag} {typo}: {err}"
        );
        // The missing parameters are one finding, not one per parameter a rule reads; missing
        // rules do not make every parameter section "unread".
        assert!(!err.contains("has no ["), "{command} {flag} {typo}: {err}");
        assert!(!err.contains("no rule "), "{command} {flag} {typo}: {err}");
    }

    let elsewhere = tempfile::tempdir().unwrap();
    let out = tagstream()
        .current_dir(elsewhere.path())
        .arg("check")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "rules, config/tags.toml, config/params.toml are relative to the working directory"
        ),
        "{err}"
    );
}

#[test]
fn check_names_rules_that_run_interpreted() {
    let out = check_rules(&[
        (
            "debugging.rhai",
            "fn on_chat(event, user) {\n    print(event.text);\n}\n",
        ),
        (
            "plain.rhai",
            "fn on_chat(event, user) {\n    tag(\"intent/price\");\n}\n",
        ),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("debugging.rhai runs in the interpreter") && text.contains("`print`"),
        "{text}"
    );
    assert!(!text.contains("plain.rhai"), "{text}");
}

/// Why a rule runs interpreted is said in the script's terms, not Rust's or the AST's.
#[test]
fn the_reason_a_rule_runs_interpreted_is_in_script_terms() {
    for (body, reason) in [
        (
            "for i in 0..3 { tag(\"intent/price\"); }",
            "(a range (`a..b`))",
        ),
        (
            "for i in 0..=3 { tag(\"intent/price\"); }",
            "(a range (`a..=b`))",
        ),
        (
            "let f = |x| x + 1; if f.call(1) > 1 { tag(\"intent/price\"); }",
            "(a closure (`|x| …`))",
        ),
        (
            "if \"价\" in event.text { tag(\"intent/price\"); }",
            "`x in y`",
        ),
    ] {
        let out = check_rules(&[(
            "r.rhai",
            &format!("fn on_chat(event, user) {{\n    {body}\n}}\n"),
        )]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{body}: {text}");
        let note = text.lines().find(|l| l.contains("runs in the interpreter"));
        let note = note.unwrap_or_else(|| panic!("{body}: no note in {text}"));
        assert!(note.contains(reason), "{body}: {note}");
        for jargon in ["core::", "i64", "Range<", "outside the function", "/2"] {
            assert!(!note.contains(jargon), "{body}: {note}");
        }
    }
}

#[test]
fn check_reports_undeclared_tag_with_file_and_line() {
    let out = check_rules(&[(
        "bad.rhai",
        "fn on_chat(event, user) {\n    tag(\"vip/gold\");\n}\n",
    )]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.rhai:2:") && err.contains("vip/gold"),
        "{err}"
    );
}

#[test]
fn check_reports_syntax_error_with_file_and_line() {
    let out = check_rules(&[(
        "broken.rhai",
        "fn on_chat(event, user) {\n    let x = ;\n}\n",
    )]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.rhai:2:"), "{err}");
}

/// Rhai notices an unclosed `{` at the end of the file or at the next `fn`, and a missing `;`
/// or `)` at the first token of the next line; `check` and `run` name where the slip is too.
#[test]
fn syntax_errors_name_where_the_slip_is_not_only_where_rhai_noticed_it() {
    let cases = [
        (
            "fn on_chat(event, user) {\n    tag(\"intent/price\");\n\n// the end\n",
            "1: Expecting '}' to terminate this block, at the end of the file; the `{` opened \
             at line 1 is never closed",
        ),
        (
            "fn on_chat(event, user) {\n    if event.text == \"a\" {\n        tag(\"intent/price\");\n\n}\n\nfn on_click(event, user) {\n}\n",
            "7: Function definitions must be at global level and cannot be inside a block or \
             another function; the `{` opened at line 1 is not closed before line 7 (by the \
             indentation, the `}` at line 5 lines up with it, so the `{` at line 2 may be the \
             one missing its `}`)",
        ),
        (
            "fn on_chat(event, user) {\n    let n = 1\n\n    tag(\"intent/price\");\n}\n",
            "2: Expecting ';' to terminate this statement, at the end of line 2 (noticed at \
             line 4)",
        ),
        (
            "fn on_chat(event, user) {\n    tag(\"intent/price\"\n}\n",
            "2: Expecting ',' to separate the arguments to function call 'tag', at the end of \
             line 2 (noticed at line 3); the `(` opened at line 2 is not closed before line 3",
        ),
    ];
    for (text, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let rule = dir.path().join("x.rhai");
        std::fs::write(&rule, text).unwrap();
        let expected = format!("{}:{expected}\n", rule.display());
        let out = tagstream()
            .args(["check", "--rules"])
            .arg(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.starts_with(&expected), "check: {err}");
        let out = tagstream()
            .args(["run", "--input", "-", "--output", "-", "--rules"])
            .arg(dir.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(&expected), "run: {err}");
    }
}

#[test]
fn bad_config_and_usage_exit_2() {
    let out = tagstream()
        .args(["run", "--input", "-"])
        .env("TAGSTREAM_CLOCK__IDLE_AFTER", "soon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = tagstream().args(["run", "--bogus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn run_logs_what_check_would_report_and_runs_the_rules_anyway() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    // The shipped pack, with a typo in one call and one tag literal.
    for rule in ["activity", "keywords", "lifecycle", "rfm"] {
        let mut text = std::fs::read_to_string(repo().join(format!("rules/{rule}.rhai"))).unwrap();
        if rule == "keywords" {
            text = text.replace("user.record_hit(", "user.record_hits(");
        }
        if rule == "lifecycle" {
            text = text.replace("\"lifecycle/silent\"\n", "\"lifecycle/silnet\"\n");
        }
        std::fs::write(rules.join(format!("{rule}.rhai")), text).unwrap();
    }
    let input = write_lines(dir.path(), "in.jsonl", &[chat("u1", T0, "hello")]);
    let out = tagstream()
        .args(["run", "--rules"])
        .arg(&rules)
        .arg("--input")
        .arg(&input)
        .arg("--dead-letter")
        .arg(dir.path().join("dead.jsonl"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains("`tagstream check` reports errors") && log.contains("errors=2"),
        "{log}"
    );
    assert!(
        log.contains("keywords.rhai:") && log.contains("`record_hits`"),
        "{log}"
    );
    assert!(
        log.contains("\"lifecycle/silnet\" is not declared"),
        "{log}"
    );
    // The rules ran: the chat was tagged by the rules without errors.
    let changes = String::from_utf8_lossy(&out.stdout);
    assert!(changes.contains("activity/low"), "{changes}");

    // The shipped pack logs nothing of the kind.
    let out = tagstream()
        .args(["run", "--input"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("rules check"));
}

#[test]
fn run_logs_the_warnings_check_gives_too() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    copy_dir(&repo().join("rules"), &rules);
    std::fs::write(rules.join("zz_helper.rhai"), "fn helper(x) { x + 1 }\n").unwrap();
    let input = write_lines(dir.path(), "in.jsonl", &[chat("u1", T0, "hello")]);
    let out = tagstream()
        .args(["run", "--rules"])
        .arg(&rules)
        .arg("--input")
        .arg(&input)
        .arg("--dead-letter")
        .arg(dir.path().join("dead.jsonl"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains(&format!(
            "rules check: {}: warning: no handler (on_chat, on_click, on_order, on_event, on_tick): this rule never runs",
            rules.join("zz_helper.rhai").display()
        )),
        "{log}"
    );
    // Only a warning: the line that announces errors is not there.
    assert!(!log.contains("`tagstream check` reports errors"), "{log}");
}

/// The shipped parameters with `[activity]` misspelt, in `dir`.
fn misspelt_section(dir: &std::path::Path) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(repo().join("config/params.toml")).unwrap();
    let params = dir.join("params.toml");
    std::fs::write(&params, shipped.replace("[activity]", "[activty]")).unwrap();
    params
}

#[test]
fn a_misspelt_parameter_section_stops_every_command_with_what_check_says() {
    let dir = tempfile::tempdir().unwrap();
    let params = misspelt_section(dir.path());
    let input = write_lines(dir.path(), "in.jsonl", &[chat("u1", T0, "hello")]);
    let (params, input) = (params.to_str().unwrap(), input.to_str().unwrap());
    let expected = format!(
        "rules/activity.rhai:14: `activity::weight_chat`: {params} has no [activity] section (read at 12 more places); did you mean `activty`?"
    );
    for args in [
        vec!["run", "--input", input, "--params", params],
        vec!["test", "--params", params],
        vec![
            "diff", "--rules", "rules", "--input", input, "--params", params,
        ],
        vec!["segment", "value/high", "--params", params],
    ] {
        let out = tagstream().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("Undefined module"), "{args:?}: {stderr}");
    }
    // `check` says the same, once.
    let out = tagstream()
        .args(["check", "--params", params])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches(&expected).count(), 1, "{stderr}");
    assert!(
        stderr.contains("check failed: 1 error(s), 1 warning(s)"),
        "{stderr}"
    );
}

#[test]
fn a_keyword_tag_the_catalogue_lacks_is_named_at_its_line() {
    // The tutorial's catalogue has only its own tag; the shipped parameters have keyword tags.
    let night_owl = "docs/examples/night-owl";
    let expected = format!(
        "config/params.toml:49: [keywords.\"intent/price\"]: tag \"intent/price\" is not declared in the tag catalogue ({night_owl}/tags.toml)"
    );
    for command in ["run", "test", "check"] {
        let out = tagstream()
            .args([
                command,
                "--rules",
                &format!("{night_owl}/rules"),
                "--catalogue",
                &format!("{night_owl}/tags.toml"),
            ])
            .args(if command == "run" {
                vec!["--input", "docs/examples/night-owl/events.jsonl"]
            } else {
                vec![]
            })
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(stderr.contains(&expected), "{command}: {stderr}");
    }
}

#[test]
fn missing_input_file_exits_1() {
    let out = tagstream()
        .args(["run", "--input", "/nonexistent/events.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn run_streams_file_to_file_with_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_lines(
        dir.path(),
        "in.jsonl",
        &[
            chat("u1", T0, "这个多少钱"),
            "not json".to_string(),
            order("u1", T0 + HOUR, "o1", 99.0, false),
        ],
    );
    let (out, dead) = (dir.path().join("out.jsonl"), dir.path().join("dead.jsonl"));
    let status = tagstream()
        .args(["run", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .arg("--dead-letter")
        .arg(&dead)
        .status()
        .unwrap();
    assert!(status.success());
    let tags = fold_json_lines(&std::fs::read_to_string(&out).unwrap());
    assert!(tags["u1"].contains("intent/price"), "{tags:?}");
    let dead = std::fs::read_to_string(&dead).unwrap();
    let letter: serde_json::Value = serde_json::from_str(dead.lines().next().unwrap()).unwrap();
    assert_eq!(letter["payload"], "not json");
    assert!(letter["source"].as_str().unwrap().ends_with("in.jsonl:2"));
}

#[test]
fn same_input_twice_gives_byte_identical_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for i in 0..200 {
        let user = format!("u{}", i % 17);
        let ts = T0 + i * 7 * HOUR;
        lines.push(match i % 5 {
            0 => order(&user, ts, &format!("o{i}"), 100.0 + i as f64, i % 3 == 0),
            1 => click(&user, ts),
            _ => chat(&user, ts, "价格多少？想购买"),
        });
    }
    let input = write_lines(dir.path(), "in.jsonl", &lines);
    let run_once = |name: &str| {
        let out = dir.path().join(name);
        let status = tagstream()
            .args(["run", "--input"])
            .arg(&input)
            .arg("--output")
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read(out).unwrap()
    };
    let (a, b) = (run_once("a.jsonl"), run_once("b.jsonl"));
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn sharded_file_mode_gives_exactly_the_same_changes() {
    let dir = tempfile::tempdir().unwrap();
    let run_with = |workers: &str| {
        let out = dir.path().join(format!("out-{workers}.jsonl"));
        let status = tagstream()
            .args([
                "run",
                "--input",
                "examples/sample.jsonl",
                "--dead-letter",
                "/dev/null",
                "--workers",
                workers,
                "--output",
            ])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        let mut lines: Vec<String> = std::fs::read_to_string(out)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    let single = run_with("1");
    assert!(single.len() > 1_000);
    assert_eq!(
        run_with("3"),
        single,
        "the same changes, whatever the number of shards"
    );
}
