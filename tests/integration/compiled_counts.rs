//! Handing a handler over to Rhai's interpreter: a handler's changes before the handover
//! undone, so that none counts twice; and what the compiled form counts against the operation
//! limit, construct by construct, held to at least what the interpreter counts, so that a
//! handler the interpreter stops for its operations does not finish compiled.

use crate::compiled::{agree, compiled_rules, joined};
use crate::compiled_corners::agree_all;
use crate::programs::compare;
use crate::support::{chat, click, pack_of, T0};

/// A handler that changes the user (tags, variables, decayed sums, hits, timers) and then
/// meets what the compiled form leaves to the interpreter (`"a" + n`): its changes are undone
/// before the interpreter runs it again, so none counts twice.
#[test]
fn changes_before_a_fallback_count_once() {
    agree_all(
        &[
            ("tag", "tag(\"service/complaint\", `r${n}`); let s = \"a\" + n; s"),
            ("untag", "tag(\"service/complaint\"); untag(\"service/complaint\"); let s = \"a\" + n; user.has(\"service/complaint\")"),
            ("var", "let v = user.get(\"v\"); user.set(\"v\", if v == () { 1 } else { v + 1 }); let s = \"a\" + n; user.get(\"v\")"),
            ("unset", "user.set(\"v\", 5); user.unset(\"v\"); let s = \"a\" + n; `${user.get(\"v\")}`"),
            ("decay", "user.decay_add(\"d\", \"7d\", 2.0); let s = \"a\" + n; user.decayed(\"d\", \"7d\")"),
            ("hits", "user.record_hit(\"h\", \"1d\"); let s = \"a\" + n; user.record_hit(\"h\", \"1d\")"),
            ("wake", "user.wake_in(\"1h\"); let s = \"a\" + n; 1"),
            ("exclusive", "tag(\"activity/high\"); tag(\"activity/low\"); let s = \"a\" + n; user.tag_in(\"activity\")"),
        ],
        "",
    );
}

/// Runs a pack of `rules` both ways over `lines`; panics if they differ or a rule is not
/// compiled. Returns the outputs.
fn agree_rules(rules: &[(&str, &str)], lines: &[String]) -> Vec<String> {
    let mut pack = pack_of(rules).unwrap();
    pack.limits.time_budget_ms = 0;
    assert_eq!(
        compiled_rules(&pack).len(),
        rules.len(),
        "every rule is compiled"
    );
    let (why, outcome) = compare(&pack, lines);
    assert!(why.is_none(), "{}", why.unwrap_or_default());
    outcome.outputs
}

/// A later handler of a rule, a later rule and a timer, each falling back after changes of
/// its own, see the earlier ones' changes kept and undo only their own.
#[test]
fn later_handlers_rules_and_timers_fall_back_alone() {
    let first = r#"
fn on_chat(event, user) {
    tag("service/complaint", "first");
    user.set("seen", user.events);
    user.wake_in("1h");
}

fn on_event(event, user) {
    user.decay_add("d", "7d", 1.0);
    let s = "a" + user.events;
    tag("intent/price", `${s} ${user.decayed("d", "7d")} ${user.get("seen")}`);
}

fn on_tick(user, now) {
    user.record_hit("t", "1d");
    let s = "t" + now;
    tag("intent/purchase", `${s} ${user.record_hit("t", "1d")} ${user.has("service/complaint")}`);
}
"#;
    let second = r#"
fn on_event(event, user) {
    let held = user.has("intent/price");
    tag("activity/high");
    let s = "b" + user.events;
    tag("activity/low", `${held} ${s} ${user.tag_in("activity")}`);
}
"#;
    let lines = [
        chat("u1", T0, "hi"),
        click("u1", T0 + 1),
        click("clock", T0 + 3 * 3_600_000),
    ];
    let out = agree_rules(&[("first", first), ("second", second)], &lines);
    assert!(
        out.iter().any(|o| o.contains("t17")),
        "the timer ran: {out:?}"
    );
}

/// Each construct repeated in a straight line, so that what the compiled form counts for it
/// alone decides whether it counts at least the interpreter's operations (the compiled form
/// counts a dozen more for the handler call itself).
#[test]
fn every_construct_counts_the_interpreters_operations() {
    let extra = r#"
fn one(a) { a }
fn none() { }
fn three(a, b, c) { c }
"#;
    let constructs = [
        "n;",
        "x = n;",
        "x += n;",
        "x = n; x += 0.5;",
        "x = n; x -= 0.5;",
        "x = n; x *= 0.5;",
        "x = n; x /= 0.5;",
        "x = n; x %= 0.5;",
        "x = n; x = x + 0.5;",
        "x = 0.5; x += n;",
        "x = x;",
        "s += \"a\";",
        "let y = n;",
        "let y;",
        "-n;",
        "+n;",
        "!b;",
        "n + n;",
        "n + n + n;",
        "(n + n) * (n - n);",
        "n == z;",
        "b && b;",
        "b || b;",
        "b && b && b;",
        "!(n > z);",
        "one(n);",
        "one(n + 1);",
        "none();",
        "three(n, n, n);",
        "one(one(one(n)));",
        "days(n);",
        "days(n + 1);",
        "n.days();",
        "(n + 1).days();",
        "f.floor();",
        "f.floor().floor();",
        "round_to(f, 2);",
        "f.round_to(2);",
        "user.events;",
        "event.type;",
        "event.text;",
        "user.paid_orders().count;",
        "user.has(\"intent/price\");",
        "user.count(\"chat\", \"7d\");",
        "user.tags.len();",
        "user.tags.len().days();",
        "user.tags.len() + 1;",
        "user.tags[0];",
        "user.id.len();",
        "event.text.len();",
        "a[0];",
        "a[-1];",
        "aa[0][1];",
        "aa[0].len();",
        "a.len();",
        "len(a);",
        "[n, n];",
        "[];",
        "#{k: n};",
        "`${n}`;",
        "`${n}${f}${s}`;",
        "`x`;",
        "{ n };",
        "{ let q = n; q };",
        "{};",
        "if b { n } else { z };",
        "if b {};",
        "if n > z { n };",
        "if user.events > z { n };",
        "if b { } else if b { };",
        "switch n { 1 => n, _ => z };",
        "switch n { 2 => n, _ => z };",
        "switch n { 2 => n };",
        "switch n { 0..5 => n, _ => z };",
        "switch n { 1 if b => n, _ => z };",
        "switch n { 1 if !b => n, 0..3 if b => z, _ => n };",
        "switch s { \"a\" => n, _ => z };",
        "for q in a { }",
        "for (q, i) in a { q; }",
        "for q in a { continue; }",
        "for q in a { break; }",
        "while false { }",
        "let w = 0; while w < 3 { w += 1; }",
        "let w = 0; while true { w += 1; if w > 2 { break; } }",
        "do { } while false;",
        "do { break; } while true;",
        "let w = 0; do { w += 1; } until w > 2;",
        "a.push(n); a = [1, 2, 3];",
        "tag(\"intent/purchase\");",
        "untag(\"intent/purchase\");",
        "user.get(\"v\");",
        "user.set(\"v\", n);",
        "grade_at_least(n, [1, 2]);",
        "now();",
        "x = { n };",
        "x = if b { n } else { z };",
        ";",
    ];
    let probes: Vec<(String, String)> = constructs
        .iter()
        .map(|c| {
            let body = format!(
                "let x = 0; let s = \"\"; let b = n > z; let f = 1.5; let a = [1, 2, 3]; \
                 let aa = [[1, 2], [3]];\n{}\n0",
                format!("{c}\n").repeat(25)
            );
            (c.to_string(), body)
        })
        .collect();
    let probes: Vec<(&str, &str)> = probes
        .iter()
        .map(|(c, b)| (c.as_str(), b.as_str()))
        .collect();
    agree_all(&probes, extra);
}

/// A rule whose handler repeats `statement` `times` times, then tags; run both ways under an
/// operation limit between what the interpreter counts and what the compiled form once
/// counted: both must stop at the limit.
fn stopped_at_the_limit(
    setup: &str,
    statement: &str,
    times: usize,
    operations: u64,
) -> Vec<String> {
    let rule = format!(
        "fn on_chat(event, user) {{\n    {setup}\n{}    tag(\"intent/price\", \"finished\");\n}}\n",
        format!("    {statement}\n").repeat(times)
    );
    let mut pack = pack_of(&[("limited", &rule)]).unwrap();
    assert_eq!(compiled_rules(&pack), ["limited"]);
    pack.limits.operations = operations;
    agree(&pack, &joined(&[chat("u1", T0, "hi")])).0
}

/// Rhai has no built-in `int op= float` (`x += 0.5` on an integer `x`): it looks for an
/// operator-assignment function, then for the operator, two operations more than `x += 1`.
/// The compiled form once counted the cheaper case, so a handler the interpreter stops for its
/// operations (here about 800 against a limit of 700) finished compiled.
#[test]
fn an_operator_assignment_counts_rhais_two_lookups() {
    let out = stopped_at_the_limit("let x = 0;", "x = 0; x += 0.5;", 100, 700);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].contains("Too many operations"), "{out:?}");
    for op in ["-=", "*=", "/=", "%="] {
        let out = stopped_at_the_limit("let x = 0;", &format!("x = 1; x {op} 0.5;"), 100, 700);
        assert!(out[0].contains("Too many operations"), "{op}: {out:?}");
    }
}

/// After a method that takes its receiver by reference (an array's `len`), Rhai writes the
/// value of a property back through its setter, then through an indexer, and counts both
/// attempts even when neither exists: `user.tags.len()` costs two operations more than
/// `user.id.len()`. The compiled form once counted it as the latter, so a handler the
/// interpreter stops for its operations (about 1800 against a limit of 1700) finished compiled.
#[test]
fn a_method_on_a_property_counts_rhais_write_back() {
    let out = stopped_at_the_limit("", "user.tags.len();", 200, 1_700);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].contains("Too many operations"), "{out:?}");
}
