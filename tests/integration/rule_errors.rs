//! Broken rules: a rule that loops, throws, tags what the catalogue does not declare or breaks a
//! size limit becomes a dead letter naming it, its partial effects are undone, and the other
//! rules and the rest of the stream go on. Undeclared literal tags fail at load time.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use tagstream::rules::RulePack;
use tagstream::tags::Op::Add;

use crate::support::*;

/// The shipped keywords rule, to run beside a broken one.
fn keywords() -> String {
    std::fs::read_to_string(repo().join("rules/keywords.rhai")).unwrap()
}

fn pack_of_ok(rules: &[(&str, &str)]) -> RulePack {
    pack_of(rules).unwrap_or_else(|e| panic!("pack loads: {e}"))
}

/// Runs on another thread and fails the test if the run takes longer than `limit`: a runaway
/// script must be stopped by the engine's limits, not hang the stream.
fn run_within(pack: RulePack, lines: Vec<String>, limit: Duration) -> Run {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run_lines(&pack, &lines));
    });
    match rx.recv_timeout(limit) {
        Ok(run) => run,
        Err(RecvTimeoutError::Timeout) => panic!("the run did not finish within {limit:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("the run panicked"),
    }
}

const LIMIT: Duration = Duration::from_secs(5);

/// `(user, tag)` of every addition, in order.
fn adds(run: &Run) -> Vec<(String, String)> {
    run.changes
        .iter()
        .filter(|c| c.op == Add)
        .map(|c| (c.user_id.to_string(), c.tag.to_string()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(u, t)| (u.to_string(), t.to_string()))
        .collect()
}

#[test]
fn an_infinite_loop_is_stopped_and_becomes_a_dead_letter() {
    let kw = keywords();
    let pack = pack_of_ok(&[
        ("a_loop", "fn on_chat(event, user) {\n    loop {}\n}\n"),
        ("keywords", &kw),
    ]);
    let lines = vec![
        chat("u1", T0, "多少钱"),
        chat("u2", T0 + HOUR, "价格"),
        click("u1", T0 + 2 * HOUR),
        chat("u3", T0 + 3 * HOUR, "投诉"),
    ];
    let r = run_within(pack, lines.clone(), LIMIT);

    // One dead letter per chat (the click has no handler in the looping rule).
    let sources: Vec<&str> = r.dead.iter().map(|d| d.source.as_str()).collect();
    assert_eq!(sources, ["test.jsonl:1", "test.jsonl:2", "test.jsonl:4"]);
    for (d, line) in r.dead.iter().zip([&lines[0], &lines[1], &lines[3]]) {
        assert_eq!(d.rule.as_deref(), Some("a_loop"));
        assert_eq!(&d.payload, line);
        // The operation limit stops it; in an unoptimised build the time budget may first.
        let error = d.error.to_lowercase();
        assert!(
            error.contains("operations") || error.contains("time budget"),
            "{}",
            d.error
        );
    }
    // The rule after it ran on every event, including those after the failures.
    assert_eq!(
        adds(&r),
        pairs(&[
            ("u1", "intent/price"),
            ("u2", "intent/price"),
            ("u3", "service/complaint")
        ])
    );
    assert!(r.changes.iter().all(|c| &*c.rule == "keywords"));
}

#[test]
fn a_throwing_rule_becomes_a_dead_letter_and_earlier_rules_keep_their_changes() {
    let kw = keywords();
    let pack = pack_of_ok(&[
        ("keywords", &kw),
        (
            "z_boom",
            "fn on_event(event, user) {\n    throw \"boom\";\n}\n",
        ),
    ]);
    let lines = vec![
        chat("u1", T0, "便宜点"),
        order("u1", T0 + HOUR, "o1", 10.0, false),
        chat("u2", T0 + 2 * HOUR, "退款"),
    ];
    let r = run_lines(&pack, &lines);
    assert_eq!(r.dead.len(), 3, "{:?}", r.dead);
    for (i, d) in r.dead.iter().enumerate() {
        assert_eq!(d.rule.as_deref(), Some("z_boom"));
        assert_eq!(d.source, format!("test.jsonl:{}", i + 1));
        assert_eq!(d.payload, lines[i]);
        assert!(d.error.contains("boom"), "{}", d.error);
    }
    assert_eq!(
        adds(&r),
        pairs(&[("u1", "intent/price"), ("u2", "service/complaint")])
    );
}

#[test]
fn tagging_an_undeclared_tag_at_run_time_is_a_rule_error() {
    let kw = keywords();
    let script =
        "fn on_chat(event, user) {\n    let name = \"vip/\" + event.text;\n    tag(name);\n}\n";
    let pack = pack_of_ok(&[("dynamic", script), ("keywords", &kw)]);
    let lines = vec![
        chat("u1", T0, "gold"),
        chat("u1", T0 + HOUR, "价格"),
        chat("u2", T0 + 2 * HOUR, "silver"),
    ];
    let r = run_lines(&pack, &lines);
    assert_eq!(r.dead.len(), 3, "{:?}", r.dead);
    assert!(r.dead.iter().all(|d| d.rule.as_deref() == Some("dynamic")));
    assert_eq!(r.dead[0].payload, lines[0]);
    assert_eq!(r.dead[2].source, "test.jsonl:3");
    assert!(
        r.dead[0].error.contains("vip/gold") && r.dead[0].error.contains("not declared"),
        "{}",
        r.dead[0].error
    );
    assert_eq!(adds(&r), pairs(&[("u1", "intent/price")]));
}

#[test]
fn a_tag_name_built_from_a_literal_prefix_loads_and_fails_only_at_run_time() {
    // `"vip/"` here is a prefix, not a tag: loading cannot know what the name will be.
    let pack = pack_of_ok(&[(
        "dynamic",
        "fn on_chat(event, user) {\n    tag(\"vip/\" + event.text);\n}\n",
    )]);
    let r = run_lines(
        &pack,
        &[chat("u1", T0, "gold"), chat("u2", T0 + HOUR, "silver")],
    );
    assert_eq!(r.dead.len(), 2, "{:?}", r.dead);
    assert!(r.dead[0].error.contains("vip/gold"), "{}", r.dead[0].error);
    assert_eq!(r.dead[1].rule.as_deref(), Some("dynamic"));
    assert_eq!(r.dead[1].payload, chat("u2", T0 + HOUR, "silver"));
}

#[test]
fn a_tag_name_built_from_a_declared_group_prefix_loads_and_works() {
    let pack = pack_of_ok(&[(
        "dynamic",
        "fn on_chat(event, user) {\n    tag(\"intent/\" + event.text);\n}\n",
    )]);
    let r = run_lines(
        &pack,
        &[chat("u1", T0, "price"), chat("u2", T0 + HOUR, "purchase")],
    );
    assert!(r.dead.is_empty(), "{:?}", r.dead);
    assert_eq!(
        adds(&r),
        pairs(&[("u1", "intent/price"), ("u2", "intent/purchase")])
    );
}

#[test]
fn a_failing_rule_leaves_no_partial_effect() {
    // On "fail" it tags, sets a timer, then throws: neither the tag nor the timer survives, so
    // the later "ok" chat adds the tag afresh and the timer never fires.
    let script = r#"
fn on_chat(event, user) {
    tag("intent/price");
    if event.text == "fail" {
        user.wake_in("1h");
        throw "after tagging";
    }
}
fn on_tick(user, now) {
    tag("service/complaint");
}
"#;
    let pack = pack_of_ok(&[("partial", script)]);
    let r = run_lines(
        &pack,
        &[
            chat("u", T0, "fail"),
            tick(T0 + 2 * HOUR),
            chat("u", T0 + 3 * HOUR, "ok"),
        ],
    );
    let changes: Vec<_> = r
        .changes
        .iter()
        .map(|c| (&*c.user_id, &*c.tag, c.op, c.ts))
        .collect();
    assert_eq!(changes, [("u", "intent/price", Add, T0 + 3 * HOUR)]);
    assert_eq!(r.dead.len(), 1, "{:?}", r.dead);
    assert_eq!(r.dead[0].rule.as_deref(), Some("partial"));
    assert_eq!(r.dead[0].source, "test.jsonl:1");
    assert!(
        r.dead[0].error.contains("after tagging"),
        "{}",
        r.dead[0].error
    );
}

/// Runs three chats of user `u`, a millisecond apart, through a pack of the one rule `script`,
/// and requires the second, only, to be a rule error.
fn second_of_three_chats_fails(script: &str, texts: [&str; 3]) -> Run {
    let pack = pack_of_ok(&[("counter", script)]);
    let lines: Vec<String> = (0..)
        .zip(texts)
        .map(|(i, text)| chat("u", T0 + i, text))
        .collect();
    let r = run_lines(&pack, &lines);
    assert_eq!(r.dead.len(), 1, "{:?}", r.dead);
    assert_eq!(r.dead[0].source, "test.jsonl:2");
    r
}

#[test]
fn a_failing_rule_leaves_its_variables_as_they_were() {
    // Counts chats in a variable and tags at exactly 2; a failing chat's increment is undone.
    let script = r#"
fn on_chat(event, user) {
    let n = user.get("n");
    if n == () { n = 0; }
    user.set("n", n + 1);
    if event.text == "fail" { throw "failed on purpose"; }
    if n + 1 == 2 { tag("intent/price", `chat ${n + 1}`); }
}
"#;
    let r = second_of_three_chats_fails(script, ["ok", "fail", "ok"]);
    let add = r
        .last_add("u", "intent/price")
        .expect("tagged at the second counted chat");
    assert_eq!(
        add.event_id.as_deref(),
        Some(format!("c-u-{}", T0 + 2).as_str())
    );
    assert_eq!(add.reason, "chat 2");
}

#[test]
fn a_handler_that_fails_after_another_ran_undoes_both() {
    // `on_chat` runs first and sets a variable (and a tag), then `on_event` counts and
    // overflows: the compiled form stops, the interpreter runs `on_event` again from what
    // `on_chat` left, fails, and the whole rule's changes for that event are undone, both
    // handlers' variables and the tag included.
    let script = r#"
fn on_chat(event, user) {
    user.set("seen", event.text);
    if user.get("n") == 1 { tag("intent/price", `count ${user.get("n")} at ${user.get("seen")}`); }
}

fn on_event(event, user) {
    let n = user.get("n");
    if n == () { n = 0; }
    user.set("n", n + 1);
    let big = 9223372036854775807;
    if event.text == "overflow" { big += 1; }
}
"#;
    let r = second_of_three_chats_fails(script, ["first", "overflow", "third"]);
    let adds: Vec<&str> = r.changes.iter().map(|c| c.reason.as_str()).collect();
    assert_eq!(
        adds,
        ["count 1 at third"],
        "the failed event's tag is undone"
    );
}

#[test]
fn a_failing_timer_is_a_dead_letter_named_after_the_rule() {
    let script =
        "fn on_chat(event, user) {\n    tag(\"intent/price\");\n    user.wake_in(\"1h\");\n}\n\
                  fn on_tick(user, now) {\n    throw \"tick failed\";\n}\n";
    let pack = pack_of_ok(&[("ticker", script)]);
    let r = run_lines(
        &pack,
        &[
            chat("u", T0, "hi"),
            tick(T0 + 2 * HOUR),
            chat("u", T0 + 3 * HOUR, "again"),
        ],
    );
    assert_eq!(adds(&r), pairs(&[("u", "intent/price")]));
    // The timer of T0 + 1 h fails; the one the later chat sets (T0 + 4 h) is past the clock.
    assert_eq!(r.dead.len(), 1, "{:?}", r.dead);
    let d = &r.dead[0];
    assert_eq!(
        (d.rule.as_deref(), d.source.as_str()),
        (Some("ticker"), "timer")
    );
    assert!(d.error.contains("tick failed"), "{}", d.error);
    let payload: serde_json::Value =
        serde_json::from_str(&d.payload).expect("timer payload is JSON");
    assert_eq!(payload["timer"], "ticker");
    assert_eq!(payload["user_id"], "u");
    assert_eq!(payload["due"], "2026-09-01T01:00:00Z");
}

#[test]
fn an_undeclared_literal_tag_fails_to_load_with_file_and_line() {
    let err = pack_of(&[(
        "bad",
        "fn on_chat(event, user) {\n    tag(\"nope/x\");\n}\n",
    )])
    .expect_err("load fails");
    let text = err.to_string();
    assert!(text.contains("bad.rhai:2:"), "{text}");
    assert!(text.contains("nope/x"), "{text}");
}

#[test]
fn a_string_growing_past_the_size_limit_is_a_rule_error_not_a_hang() {
    let kw = keywords();
    let script =
        "fn on_chat(event, user) {\n    let s = \"x\";\n    loop {\n        s += s;\n    }\n}\n";
    let pack = pack_of_ok(&[("a_grow", script), ("keywords", &kw)]);
    let lines = vec![chat("u1", T0, "price"), chat("u2", T0 + HOUR, "多少钱")];
    let r = run_within(pack, lines.clone(), LIMIT);
    assert_eq!(r.dead.len(), 2, "{:?}", r.dead);
    for (d, line) in r.dead.iter().zip(&lines) {
        assert_eq!(d.rule.as_deref(), Some("a_grow"));
        assert_eq!(&d.payload, line);
        assert!(d.error.to_lowercase().contains("string"), "{}", d.error);
    }
    assert_eq!(
        adds(&r),
        pairs(&[("u1", "intent/price"), ("u2", "intent/price")])
    );
}

#[test]
fn an_event_asking_to_wake_now_gets_a_timer_a_second_ahead() {
    // From an event, "now" means as soon as possible: 1 s ahead, once.
    let script = r#"
fn on_chat(event, user) {
    user.wake_in(0);
}
fn on_tick(user, n) {
    tag("intent/price", "woke");
}
"#;
    let pack = pack_of_ok(&[("soon", script)]);
    let r = run_within(
        pack,
        vec![chat("u", T0, "go"), tick(T0 + 10 * MINUTE)],
        LIMIT,
    );
    assert!(r.dead.is_empty(), "{:?}", r.dead);
    let add = r.last_add("u", "intent/price").expect("the tick tags");
    assert_eq!(add.ts, T0 + 1_000);
}
