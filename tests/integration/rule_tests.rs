//! `tagstream test` and `tagstream check` from the outside: the shipped pack's rule tests pass,
//! a failing case is reported with its place and a diff, and `check` reports every mistake of
//! a run with its file and line.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::*;

fn tagstream() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tagstream"));
    cmd.current_dir(repo()).env("TAGSTREAM_LOG", "warn");
    cmd
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `tagstream CMD --rules DIR`'s stderr, once it has exited 2 (a usage error).
fn refused(cmd: &str, dir: &Path) -> String {
    let out = tagstream()
        .args([cmd, "--rules"])
        .arg(dir)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{cmd}: {stderr}");
    stderr
}

/// A copy of the shipped rules in a temporary directory, with `tests` as its test files.
pub(crate) fn rules_with_tests(tests: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo().join("rules")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "rhai") {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    for (name, body) in tests {
        std::fs::write(dir.path().join("tests").join(name), body).unwrap();
    }
    dir
}

pub(crate) fn run_tests(rules: &Path) -> Output {
    tagstream()
        .args(["test", "--rules"])
        .arg(rules)
        .output()
        .unwrap()
}

#[test]
fn the_shipped_rule_tests_pass() {
    let out = tagstream().arg("test").output().unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let last = stdout.lines().last().unwrap();
    let passed: usize = last
        .strip_suffix(" passed, 0 failed")
        .unwrap_or_else(|| panic!("closing line: {last:?}"))
        .parse()
        .unwrap();
    assert!(passed >= 30, "{passed} cases");
    let results: Vec<&str> = stdout.lines().filter(|l| l.starts_with("test ")).collect();
    assert_eq!(results.len(), passed);
    assert!(results.iter().all(|l| l.ends_with(" ... ok")), "{stdout}");
    // Each case is named by its file and line.
    assert!(
        results
            .iter()
            .any(|l| l.starts_with("test rules/tests/rfm.toml:")),
        "{stdout}"
    );
}

const FAILING: &str = r#"[[case]]
name = "a price question adds intent/price"

[[case.step]]
event = { type = "chat", text = "多少钱" }
contains = ["+intent/price"]

[[case]]
name = "a price question adds intent/purchase (wrong on purpose)"

[[case.step]]
event = { type = "chat", text = "你好" }

[[case.step]]
event = { type = "chat", text = "多少钱" }
at = "1h"
changes = ["+intent/purchase"]
"#;

#[test]
fn a_failing_case_shows_its_place_a_diff_and_exits_1() {
    let dir = rules_with_tests(&[("broken.toml", FAILING)]);
    let out = run_tests(dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let file = dir.path().join("tests/broken.toml").display().to_string();
    assert!(
        stdout.contains(&format!(
            "test {file}:1: a price question adds intent/price ... ok"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "test {file}:8: a price question adds intent/purchase (wrong on purpose) ... FAILED"
        )),
        "{stdout}"
    );
    // The failing step, then expected (-) against actual (+).
    assert!(
        stdout.contains(&format!("{file}:14: step 2 (chat event): changes differ")),
        "{stdout}"
    );
    assert!(stdout.contains("- add intent/purchase"), "{stdout}");
    assert!(
        stdout.contains("+ add intent/price  (rule keywords, reason \"said \\\"多少钱\\\"\", expires in 30d, at +1h)"),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().last(),
        Some("1 passed, 1 failed"),
        "{stdout}"
    );
}

/// A step that misses several expectations is reported with every one of them, each with what
/// was expected and what happened; the case still counts once, and its later steps do not run.
#[test]
fn a_failing_step_reports_every_expectation_it_misses() {
    let case = r#"[[case]]
name = "everything wrong at once"

[[case.step]]
raw = "not json"
dead_letters = []
contains = ["+intent/purchase"]
tags = ["intent/price"]
holds = ["intent/purchase"]
lacks = ["activity/low"]

[[case.step]]
event = { type = "chat", text = "多少钱" }
changes = []
"#;
    let dir = rules_with_tests(&[("many.toml", case)]);
    let out = run_tests(dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let file = dir.path().join("tests/many.toml").display().to_string();
    let at = format!("    {file}:4: step 1 (raw input): ");
    let expected = format!(
        "test {file}:1: everything wrong at once ... FAILED\n\
         {at}dead letters differ (- expected, + actual)\n\
         \x20       + dead letter: not JSON: expected ident at line 1 column 2\n\
         {at}expected changes missing\n\
         \x20       - add intent/purchase\n\
         \x20         actual: (no changes)\n\
         {at}tags of u1 differ (- expected, + held)\n\
         \x20       - intent/price\n\
         {at}tags of u1: - should be held, + should not be\n\
         \x20       - intent/purchase\n\
         \x20         held: (none)\n\
         \n\
         0 passed, 1 failed\n"
    );
    assert_eq!(stdout, expected);
}

#[test]
fn a_case_of_a_broken_set_comes_after_what_check_says_of_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.rhai"),
        "fn on_evnt(event, user) {\n    tag(\"intent/price\");\n}\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("tests/x.toml"),
        "[[case]]\nname = \"any event adds intent/price\"\n[[case.step]]\nevent = { type = \"chat\", text = \"hi\" }\ncontains = [\"+intent/price\"]\n",
    )
    .unwrap();
    let out = run_tests(dir.path());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let rule = dir.path().join("x.rhai").display().to_string();
    assert!(
        stderr.contains(&format!(
            "{rule}:1: warning: `on_evnt` is named like a handler but is not one, so it never runs"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: `tagstream check` fails on these rules (1 error(s) above)"),
        "{stderr}"
    );
    // The rule never ran: the step says so rather than showing an empty list.
    assert!(
        stdout.contains("        - add intent/price\n          actual: (no changes)\n"),
        "{stdout}"
    );
}

#[test]
fn broken_test_files_are_usage_errors_with_lines() {
    let bad = "[[case]]\nname = \"x\"\n\n[[case.step]]\nevent = { type = \"chat\", text = \"hi\" }\ncontain = [\"+intent/price\"]\nholds = [\"intent/prise\"]\n";
    let dir = rules_with_tests(&[("bad.toml", bad)]);
    let file = dir.path().join("tests/bad.toml").display().to_string();
    for cmd in ["test", "check"] {
        let stderr = refused(cmd, dir.path());
        assert!(
            stderr.contains(&format!(
                "{file}:6: unknown key `contain`; did you mean `contains`?"
            )),
            "{cmd}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("{file}:7: tag \"intent/prise\" is not declared")),
            "{cmd}: {stderr}"
        );
    }
}

#[test]
fn test_files_not_ending_in_toml_are_named_when_no_test_is_found() {
    let dir = rules_with_tests(&[("keywords.tml", "[[case]]\nname = \"x\"\n")]);
    let stderr = refused("test", dir.path());
    let tests = dir.path().join("tests");
    assert!(
        stderr.contains(&format!(
            "error: no rule tests: write them in {}/*.toml ({} holds keywords.tml, not read: \
             only files ending in .toml are)",
            tests.display(),
            tests.display()
        )),
        "{stderr}"
    );
}

/// A tag, rule or event type the rule set does not know is reported at the line of the value
/// that names it, not at its step's `[[case.step]]` line: in a list written over several lines,
/// the finding points at the misspelt item.
#[test]
fn unknown_names_in_test_files_are_reported_at_their_own_lines() {
    let bad = r#"[[case]]
name = "x"

[case.given]
tags = [
  "activity/low",
  { tag = "lifecycle/neww", rule = "lifecyle" },
]

[[case.step]]
event = { type = "chat", text = "hi" }
changes = [
  "+activity/low",
  { add = "activity/lo", rule = "activity" },
  { add = "activity/low", rule = "activty" },
]
holds = [
  "activity/low",
  "activity/hihg",
]
dead_letters = [
  { rule = "rfmm" },
]

[[case.step]]
event = { type = "clik", target = "x" }

[[case.step.contains]]
add = "activity/low"
# the rule that adds it
rule = "activit"
"#;
    let dir = rules_with_tests(&[("bad.toml", bad)]);
    let file = dir.path().join("tests/bad.toml").display().to_string();
    let expected = [
        "7: tag \"lifecycle/neww\" is not declared in the tag catalogue; did you mean `lifecycle/new`?",
        "7: no rule named \"lifecyle\"; did you mean `lifecycle`?",
        "14: tag \"activity/lo\" is not declared in the tag catalogue; did you mean `activity/low`?",
        "15: no rule named \"activty\"; did you mean `activity`?",
        "19: tag \"activity/hihg\" is not declared in the tag catalogue; did you mean `activity/high`?",
        "22: no rule named \"rfmm\"; did you mean `rfm`?",
        "26: event type \"clik\" is not chat, click or order (send invalid input with `raw`)",
        "31: no rule named \"activit\"; did you mean `activity`?",
    ];
    for cmd in ["test", "check"] {
        let stderr = refused(cmd, dir.path());
        let found: Vec<&str> = stderr
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{file}:")))
            .collect();
        assert_eq!(found, expected, "{cmd}: {stderr}");
    }
}

#[test]
fn check_reports_every_mistake_of_a_run_together() {
    let dir = rules_with_tests(&[]);
    std::fs::write(
        dir.path().join("typo.rhai"),
        "fn on_clicks(event, user) {\n    user.sett(\"k\", 1);\n}\n\nfn on_chat(event, user) {\n    tag(\"intent/price\", #{ ttl: \"7 days\" });\n    let n = user.count(\"clik\", days(1));\n}\n",
    )
    .unwrap();
    let params = dir.path().join("params.toml");
    let shipped = std::fs::read_to_string(repo().join("config/params.toml")).unwrap();
    std::fs::write(
        &params,
        shipped.replace("half_life = \"7d\"", "half_life = \"7 days\""),
    )
    .unwrap();
    let out = tagstream()
        .args(["check", "--rules"])
        .arg(dir.path())
        .arg("--params")
        .arg(&params)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let rule = dir.path().join("typo.rhai").display().to_string();
    for expected in [
        format!("{rule}:1: `on_clicks` is named like a handler"),
        format!("{rule}:2: unknown method `sett` on User; did you mean `set`?"),
        format!("{rule}:6: \"7 days\" is not a duration"),
        format!("{rule}:7: unknown event type \"clik\""),
        format!("{}:6: [activity] half_life = \"7 days\"", params.display()),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(stderr.contains("check failed: 5 error(s)"), "{stderr}");
}

#[test]
fn check_counts_the_shipped_rule_tests() {
    let out = tagstream().arg("check").output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("test cases in 4 files"), "{stdout}");
}

const LIMITS: &str = r#"// Each chat text breaks one limit somewhere else.
fn on_chat(event, user) {
    if event.text == "loop" { spin(); }
    if event.text == "big" { let s = "x"; loop { s += s; } }
    if event.text == "deep" { deep(1); }
    if event.text == "throw" { throw "boom"; }
}

fn spin() {
    loop { }
}

fn deep(n) { deep(n + 1) }
"#;

#[test]
fn rule_errors_at_run_time_name_the_line_in_the_rule() {
    let pack = pack_of(&[("limits", LIMITS)]).unwrap();
    let lines: Vec<String> = ["loop", "big", "deep", "throw"]
        .iter()
        .enumerate()
        .map(|(i, t)| chat("u1", T0 + i as i64 * MINUTE, t))
        .collect();
    let run = run_lines(&pack, &lines);
    let errors: Vec<&str> = run.dead.iter().map(|d| d.error.as_str()).collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    // A limit broken in a helper points at the handler's call of it; in the handler, at the
    // statement itself. Never at line 1, where no code is.
    for (error, expected) in errors.iter().zip([
        ("operations", "(line 3,"),
        ("string", "(line 4,"),
        ("stack overflow", "(line 5,"),
        ("boom", "(line 6,"),
    ]) {
        let lower = error.to_lowercase();
        assert!(
            lower.contains(expected.0) && error.contains(expected.1),
            "{error}"
        );
    }
}

/// The fenced blocks of a markdown file in the given language.
fn fenced(markdown: &str, lang: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim() == format!("```{lang}") => current = Some(String::new()),
            Some(_) if line.trim() == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn the_examples_of_the_testing_guide_pass() {
    let guide = std::fs::read_to_string(repo().join("docs/testing.md")).unwrap();
    let files: Vec<(String, String)> = fenced(&guide, "toml")
        .into_iter()
        .filter(|b| b.contains("[[case]]"))
        .enumerate()
        .map(|(i, b)| (format!("example{i}.toml"), b))
        .collect();
    assert_eq!(files.len(), 2, "the guide's examples");
    let cases: usize = files
        .iter()
        .map(|(_, b)| b.matches("[[case]]").count())
        .sum();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_str()))
        .collect();
    let dir = rules_with_tests(&refs);
    let out = run_tests(dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert_eq!(
        stdout.lines().last(),
        Some(format!("{cases} passed, 0 failed").as_str()),
        "{stdout}"
    );
}

/// The output `docs/testing.md` shows is what `tagstream test` prints for the guide's failing
/// example, exit code 1 included.
#[test]
fn the_testing_guide_shows_what_test_prints() {
    let guide = std::fs::read_to_string(repo().join("docs/testing.md")).unwrap();
    let [case] = &fenced(&guide, "toml failing-example")[..] else {
        panic!("one ```toml failing-example block in docs/testing.md");
    };
    let [shown] = &fenced(&guide, "text test-output")[..] else {
        panic!("one ```text test-output block in docs/testing.md");
    };
    let (command, expected) = shown.split_once('\n').unwrap();
    assert_eq!(command, "$ tagstream test --rules my-rules");
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_with_tests(&[("keywords.toml", case)]);
    std::fs::rename(rules.path(), dir.path().join("my-rules")).unwrap();
    let out = tagstream()
        .args(["test", "--rules", "my-rules"])
        .env(
            "TAGSTREAM_RULES__CATALOGUE",
            repo().join("config/tags.toml"),
        )
        .env("TAGSTREAM_RULES__PARAMS", repo().join("config/params.toml"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), *expected, "{}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(1));
}
