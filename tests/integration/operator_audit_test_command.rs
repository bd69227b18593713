//! What a new operator gets wrong with `tagstream test`: a filter that picks no case, a test
//! file named as the filter, a single tag where a test wants a list. Each message names the
//! value and says what to write instead.

use crate::operator_audit::{exits_with, rules_with, stderr};
use crate::support::{repo, tagstream};

#[test]
fn a_test_filter_that_picks_nothing_says_why() {
    let run = |filter: &str| {
        let out = tagstream().args(["test", filter]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        stderr(&out)
    };
    // A file's name: the filter matches case names only.
    let err = run("lifecycle");
    assert!(
        err.contains(
            "error: no case name contains \"lifecycle\"; FILTER matches case names, not file \
             names: the cases of rules/tests/lifecycle.toml are named like \""
        ),
        "{err}"
    );
    // Another letter case: the filter is case-sensitive.
    let err = run("PRICE QUESTION");
    assert!(
        err.contains("FILTER is case-sensitive: did you mean a part of \"a price question"),
        "{err}"
    );
    // Nothing near: no hint.
    let err = run("zzzz");
    assert!(
        err.contains("error: no case name contains \"zzzz\"\n"),
        "{err}"
    );
    // A test file that is not there: the near one, or the ones there are.
    let err = run("rules/tests/lifecyle.toml");
    assert!(
        err.contains(
            "error: no test file rules/tests/lifecyle.toml; did you mean \
             rules/tests/lifecycle.toml?"
        ),
        "{err}"
    );
    let err = run("/nowhere/churn.toml");
    assert!(
        err.contains(
            "error: no test file /nowhere/churn.toml; the test files are \
             rules/tests/activity.toml, rules/tests/keywords.toml"
        ),
        "{err}"
    );
}

/// A FILTER ending in .toml names a test file, by its path or by its name in `rules/tests`,
/// and runs every case of it and no other; a file elsewhere runs against the rules given.
#[test]
fn a_test_file_named_runs_its_cases() {
    let cases = |filter: &str| {
        let out = tagstream().args(["test", filter]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{filter}: {}", stderr(&out));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let ran: Vec<String> = stdout
            .lines()
            .filter(|l| l.starts_with("test "))
            .map(str::to_string)
            .collect();
        (ran, stdout)
    };
    let text = std::fs::read_to_string(repo().join("rules/tests/lifecycle.toml")).unwrap();
    let written = text.lines().filter(|l| l.trim() == "[[case]]").count();
    for filter in ["rules/tests/lifecycle.toml", "lifecycle.toml"] {
        let (ran, stdout) = cases(filter);
        assert_eq!(ran.len(), written, "{filter}: {stdout}");
        assert!(
            ran.iter()
                .all(|l| l.starts_with("test rules/tests/lifecycle.toml:")),
            "{filter}: {stdout}"
        );
        assert!(
            stdout.contains(&format!("{written} passed, 0 failed")),
            "{stdout}"
        );
    }
    // A file kept outside the rules directory, with a case that fails.
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("mine.toml");
    std::fs::write(
        &own,
        "[[case]]\nname = \"price asked\"\n\n[[case.step]]\n\
         event = { type = \"chat\", text = \"多少钱\" }\ncontains = [\"+intent/purchase\"]\n",
    )
    .unwrap();
    let out = tagstream().arg("test").arg(&own).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", stderr(&out));
    assert!(
        stdout.contains(&format!("test {}:1: price asked ... FAILED", own.display())),
        "{stdout}"
    );
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
    // One without cases says so, and prints no report.
    std::fs::write(&own, "# to do\n").unwrap();
    let out = tagstream().arg("test").arg(&own).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains(&format!(
            "{}:1: no test cases: write each as a [[case]] table",
            own.display()
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_single_tag_where_a_test_wants_a_list_shows_the_list_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_with(dir.path(), "");
    std::fs::remove_file(rules.join("extra.rhai")).unwrap();
    std::fs::write(
        rules.join("tests/keywords.toml"),
        "[[case]]\nname = \"a\"\n\n[[case.step]]\nevent = { type = \"chat\", text = \"多少钱\" }\nholds = \"intent/price\"\n",
    )
    .unwrap();
    let err = exits_with(2, tagstream().arg("test").arg("--rules").arg(&rules));
    assert!(
        err.contains(&format!(
            "{}:6: `holds` must be a list of tag names: write holds = [\"intent/price\"]",
            rules.join("tests/keywords.toml").display()
        )),
        "{err}"
    );
}
