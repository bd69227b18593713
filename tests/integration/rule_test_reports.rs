//! What a failing rule test shows beyond the basics `rule_tests` covers.

use crate::rule_tests::{rules_with_tests, run_tests, text};

/// When a step's expectations name a score, an actual change without one says "no score",
/// where the report showed nothing for it before (the other tests' reports, with no score
/// expected, stay as they were).
#[test]
fn a_missing_score_is_shown_when_one_was_expected() {
    let case = r#"[[case]]
name = "a score on a tag that has none"

[[case.step]]
event = { type = "chat", text = "多少钱" }
contains = [{ add = "activity/low", score = 0.5 }]
"#;
    let dir = rules_with_tests(&[("score.toml", case)]);
    let out = run_tests(dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("- add activity/low  (score 0.5)")
            && stdout.contains("add activity/low  (no score, rule activity,"),
        "{stdout}"
    );
}
