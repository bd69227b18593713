//! Rules that are legal but almost surely not what was meant: `check` passes them (exit 0)
//! with a warning at the line, and a run that loads them logs the same warning.

use std::process::Stdio;

use crate::check_variables::check_one_rule;
use crate::support::tagstream;

/// `tag(name, #{ttl: 5})` is a tag that expires 5 milliseconds after it is set: a number is
/// milliseconds, and 5 was meant as days or hours.
#[test]
fn a_ttl_of_a_few_milliseconds_is_a_warning_at_its_line() {
    let (dir, rule, code, err) = check_one_rule(
        "vip.rhai",
        r#"fn on_order(event, user) {
    tag("value/high", #{ ttl: 5 });
    tag("value/high", #{ ttl: 1000 });
    tag("value/high", #{ ttl: days(5) });
    tag("value/high", #{ ttl: "5d", reason: "big" });
}
"#,
    );
    let warning = format!(
        "{}:2: warning: tag(): ttl 5: a number without a unit is milliseconds, so this is 5 ms; \
         write \"5d\", \"5h\" or days(5) if that is what is meant",
        rule.display()
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(&warning), "{err}");
    for line in 3..=5 {
        assert!(
            !err.contains(&format!("{}:{line}:", rule.display())),
            "{err}"
        );
    }
    // A run loading the rules says so too, and runs.
    let out = tagstream()
        .args(["run", "--input", "-", "--output", "/dev/null", "--rules"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("tag(): ttl 5: a number without a unit"),
        "{err}"
    );
}
