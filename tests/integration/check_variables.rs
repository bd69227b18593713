//! What `check` follows through a `let` or a `for`: a variable bound to `user`, `event`, a value
//! their methods return or an item of an array they return is checked as they are, so the rules
//! guide's own patterns (`let year = user.paid_orders(days(365)); … year.count`, `for hit in
//! event.keyword_hits() { … hit.within … }`) have their slips found before a run.

use std::path::PathBuf;

use crate::support::tagstream;

/// `check --rules` on a rule set of one rule, `file` holding `source`: the set's directory (kept
/// while the result lives), the rule's path, the exit code and stderr.
pub(crate) fn check_one_rule(
    file: &str,
    source: &str,
) -> (tempfile::TempDir, PathBuf, Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join(file);
    std::fs::write(&rule, source).unwrap();
    let out = tagstream()
        .args(["check", "--rules"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (dir, rule, out.status.code(), err)
}

/// `year.cont` passed check and made every order a rule error (`Property not found`) at run
/// time, though `user.paid_orders(…).cont` written in one chain was found.
#[test]
fn a_member_misspelt_on_a_variable_bound_to_a_typed_value_is_found() {
    let (_dir, rule, code, err) = check_one_rule(
        "vip.rhai",
        r#"fn on_order(event, user) {
    let year = user.paid_orders(days(365));
    if year.cont >= 3 { tag("value/high"); }
    let who = user;
    who.sett("k", 1);
    let e = event;
    if e.amout > 1.0 && year.count > 0 && year.last != () { tag("value/high"); }
    let stats = user.paid_orders();
    stats = #{ cont: 1 };
    if stats.cont > 0 { untag("value/high"); }
    let year = 365;
    if year.cont > 0 { untag("value/high"); }
}
"#,
    );
    let rule = rule.display();
    assert_eq!(code, Some(2), "{err}");
    for finding in [
        format!("{rule}:3: OrderStats has no property `cont`; did you mean `count`?"),
        format!("{rule}:5: unknown method `sett` on User; did you mean `set`?"),
        format!("{rule}:7: Event has no property `amout`; did you mean `amount`?"),
    ] {
        assert!(err.contains(&finding), "{finding}\n{err}");
    }
    // Rebound or assigned something else, a variable is no longer checked as before.
    for line in [10, 12] {
        assert!(!err.contains(&format!("{rule}:{line}:")), "{err}");
    }
    assert!(err.contains("check failed: 3 error(s)"), "{err}");
}

/// `hit.withn` in the keyword rule's own loop passed check (exit 0, with only a note that the
/// rule runs in the interpreter) and made every repeated keyword a rule error at run time.
#[test]
fn a_member_misspelt_on_a_loop_variable_over_keyword_hits_is_found() {
    let (_dir, rule, code, err) = check_one_rule(
        "kw.rhai",
        r#"fn on_chat(event, user) {
    let hit = user.paid_orders(days(30));
    for hit in event.keyword_hits() {
        let n = user.record_hit(hit.tag, hit.withn);
        if n >= hit.hits { tag(hit.tag, #{ ttl: hit.ttl, reason: hit.word }); }
        for hit in [1, 2] { if hit.count > 0 { untag("value/high"); } }
        if hit.cont > 0 { untag("value/high"); }
    }
    if hit.count > 0 && hit.last != () { tag("value/high"); }
    if hit.word != "" { tag("value/high"); }
}
"#,
    );
    let rule = rule.display();
    assert_eq!(code, Some(2), "{err}");
    for finding in [
        format!("{rule}:4: KeywordHit has no property `withn`; did you mean `within`?"),
        // Back in the outer loop after the inner one over plain numbers.
        format!("{rule}:7: KeywordHit has no property `cont`"),
        // After the loop the name is the `let` before it again: an order summary.
        format!("{rule}:10: OrderStats has no property `word`"),
    ] {
        assert!(err.contains(&finding), "{finding}\n{err}");
    }
    // An item of an array literal is not followed; the summary's members are its own.
    for line in [5, 6, 9] {
        assert!(!err.contains(&format!("{rule}:{line}:")), "{err}");
    }
    assert!(err.contains("check failed: 3 error(s)"), "{err}");
}
