//! Compiled handlers against Rhai's interpreter: the same rules over the same records must
//! give byte-identical outputs, errors included. Here: the harness that runs both ways, the
//! default pack over generated streams, and hand-written cases of the language; random
//! expressions are in `compiled_random.rs`, the operation, data and time limits in
//! `compiled_limits.rs`.

use std::sync::Arc;

use tagstream::core::Processor;
use tagstream::decode::Source;
use tagstream::generate::{generate, GenOptions};
use tagstream::rules::{Execution, RulePack};
use tagstream::state::Partition;

use crate::support::{chat, click, encoded, order, pack, pack_of, refund, DAY, HOUR, T0};

/// Every output of a run, encoded as the sinks write it, and how many handler calls fell back
/// to the interpreter.
pub fn outputs(pack: &RulePack, execution: Execution, lines: &[u8]) -> (Vec<String>, u64) {
    let mut processor = Processor::with_execution(pack, execution).expect("rules compile");
    let mut part = Partition::new();
    let mut out = Vec::new();
    let name: Arc<str> = Arc::from("differential.jsonl");
    for (i, line) in lines.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let source = Source::File {
            name: name.clone(),
            line: i as u64 + 1,
        };
        processor.process_record(&mut part, line, &source, &mut out);
    }
    processor.finish(&mut part, &mut out);
    (encoded(&out), processor.rules().fallbacks())
}

/// Runs `lines` both ways and requires identical outputs; returns them and the number of
/// compiled calls that fell back. The time budget is off: where it ends a call depends on the
/// machine, and the two ways are compared on what they compute.
pub fn agree(pack: &RulePack, lines: &[u8]) -> (Vec<String>, u64) {
    let mut pack = pack.clone();
    pack.limits.time_budget_ms = 0;
    let (compiled, fallbacks) = outputs(&pack, Execution::Compiled, lines);
    let (interpreted, _) = outputs(&pack, Execution::Interpreted, lines);
    assert_eq!(compiled.len(), interpreted.len(), "output counts differ");
    for (i, (c, r)) in compiled.iter().zip(&interpreted).enumerate() {
        assert_eq!(c, r, "output {i} differs");
    }
    (compiled, fallbacks)
}

pub fn compiled_rules(pack: &RulePack) -> Vec<String> {
    let p = Processor::new(pack).unwrap();
    (0..p.rules().len())
        .filter(|&r| p.rules().is_compiled(r))
        .map(|r| p.rules().names()[r].to_string())
        .collect()
}

pub fn joined(lines: &[String]) -> Vec<u8> {
    (lines.join("\n") + "\n").into_bytes()
}

#[test]
fn the_default_pack_runs_compiled() {
    assert_eq!(
        compiled_rules(&pack()),
        ["activity", "keywords", "lifecycle", "rfm"]
    );
}

#[test]
fn compiled_and_interpreted_agree_on_generated_streams() {
    let pack = pack();
    let streams = [
        GenOptions {
            users: 400,
            events: 30_000,
            days: 150,
            seed: 7,
            personas: true,
            late_per_mille: 30,
            ..GenOptions::default()
        },
        GenOptions {
            users: 3_000,
            events: 40_000,
            days: 45,
            seed: 11,
            invalid_per_mille: 20,
            ..GenOptions::default()
        },
    ];
    for opts in &streams {
        let mut lines = Vec::new();
        generate(opts, &mut lines).unwrap();
        let (out, fallbacks) = agree(&pack, &lines);
        assert!(
            out.len() > 5_000,
            "the stream exercises the rules: {}",
            out.len()
        );
        assert_eq!(
            fallbacks, 0,
            "the default pack never leaves the compiled path"
        );
    }
}

/// Operators, loops, switches, strings and numbers, each result written into a tag reason.
const SEMANTICS: &str = r#"
fn on_event(event, user) {
    let n = user.events;
    let parts = [];
    let f = 0.1 + 0.2;
    parts.push(`eps ${f == 0.3} ${f > 0.3} ${f >= 0.3} ${f} ${1.0} ${n * 1.5}`);
    parts.push(`div ${17 / 5} ${-17 % 5} ${7.0 / 2} ${as_days(event.ts % 86400000)}`);
    let big = 100000000000000000000.0 * n;
    parts.push(`big ${big} ${1.0 / 3} ${round_to(2.0 / 3, 3)} ${-big} ${0.000001 * n}`);
    let xs = [3, 1, 4, 1, 5];
    xs.push(n % 7);
    let ys = xs;
    ys.push(100);
    let sum = 0;
    for (x, i) in xs {
        if x == 1 { continue; }
        if i > 4 { break; }
        sum += x * i;
    }
    parts.push(`loop ${sum} ${xs[-1]} ${xs.len()} ${ys.len()} ${ys[1]}`);
    let k = 0;
    do { k += 3; } until k > n % 10;
    let w = 0;
    while true { w += 1; if w >= 4 { break; } }
    parts.push(`k ${k} w ${w}`);
    let kind = switch event.type {
        "chat" if n % 2 == 0 => "even chat",
        "chat" => "chat",
        "order" => if event.paid { "paid" } else { "refund" },
        _ => "other",
    };
    parts.push(kind);
    let band = switch n % 12 {
        0 => "zero",
        11 => "eleven",
        1..4 => "low",
        4..=8 if n % 2 == 0 => "mid even",
        4..=8 => "mid",
        _ => "high",
    };
    parts.push(band);
    parts.push(size(n));
    let s = "x";
    s += "y" + `${!(n > 3)}` + `${-n}`;
    parts.push(s);
    parts.push(`${"abc" < "abd"} ${"b" >= "abc"} ${n == 2 || n == 3 && false}`);
    let nothing = ();
    parts.push(`${user.paid_orders().last == ()} ${n != ()} ${kind_of(n) == 1} ${nothing == ()} ${nothing >= ()} ${event.type != ()}`);
    let orders = user.paid_orders();
    parts.push(`orders ${orders.count} ${orders.last} ${user.count("chat", days(7))} ${user.count("chat", "14d", "7d")}`);
    let text = "";
    for p in parts { text += p + "|"; }
    untag("intent/price");
    tag("intent/price", #{ reason: text, score: f * n });
}

fn kind_of(n) {
    if n % 2 == 0 { "even" } else { () }
}

fn size(n) {
    if n > 10 { return "many"; }
    if n > 3 && n < 10 || n == 0 { return "some"; }
    "few"
}
"#;

fn semantic_stream() -> Vec<u8> {
    let mut lines = Vec::new();
    for i in 0..24 {
        let t = T0 + i * 7 * HOUR;
        lines.push(chat("u1", t, "你好"));
        lines.push(click("u2", t + 1));
        if i % 5 == 0 {
            lines.push(order(
                "u1",
                t + 2,
                &format!("o{i}"),
                99.5 * i as f64,
                i % 2 == 0,
            ));
        }
        if i % 10 == 5 {
            lines.push(refund("u1", t + 3, &format!("o{}", i - 5)));
        }
    }
    joined(&lines)
}

#[test]
fn operators_loops_and_strings_agree_with_the_interpreter() {
    let pack = pack_of(&[("semantics", SEMANTICS)]).unwrap();
    assert_eq!(compiled_rules(&pack), ["semantics"], "the rule is compiled");
    let (out, fallbacks) = agree(&pack, &semantic_stream());
    assert_eq!(fallbacks, 0);
    let last = out.last().unwrap();
    assert!(last.contains("eps true false true"), "{last}");
    assert!(
        out.iter().all(|o| !o.contains("\"error\"")),
        "no rule errors"
    );
}

/// An error inside a compiled handler is reported by the interpreter, with its message.
#[test]
fn errors_are_the_interpreters() {
    let overflow = r#"
fn on_chat(event, user) {
    tag("intent/price", "before the error");
    let big = 9223372036854775807;
    let x = big + user.events;
}
"#;
    let pack = pack_of(&[("overflow", overflow)]).unwrap();
    assert_eq!(compiled_rules(&pack), ["overflow"]);
    let (out, fallbacks) = agree(
        &pack,
        &joined(&[chat("u1", T0, "hi"), chat("u1", T0 + DAY, "hi")]),
    );
    assert_eq!(fallbacks, 2);
    assert_eq!(out.len(), 2, "{out:?}");
    for o in &out {
        assert!(
            o.contains("overflow"),
            "a dead letter naming the overflow: {o}"
        );
        assert!(!o.contains("\"op\""), "the rule's tag is rolled back: {o}");
    }
}

/// A rule error names the script's types, not Rust's (`string`, not `&str | ImmutableString |
/// String`; `int`, not `i64`), and the compiled form gives the very same text: it hands the
/// call to the interpreter, whose error is the one formatted.
#[test]
fn rule_errors_name_script_types_both_ways() {
    // Compiled: Rhai's operators on the wrong types.
    let mixed = r#"
fn on_chat(event, user) {
    if event.text == "b" { let n = event.text + 1 - 2; }
    if event.text == "c" { let x = 1.5 * user.events; let y = x + [1]; }
}
"#;
    // Interpreted (a call to no function at all is beyond the compiled form).
    let typo =
        "fn on_chat(event, user) {\n    if event.text == \"a\" { tagg(\"intent/price\"); }\n}\n";
    let pack = pack_of(&[("mixed", mixed), ("typo", typo)]).unwrap();
    assert_eq!(compiled_rules(&pack), ["mixed"]);
    let lines = ["a", "b", "c"].map(|t| chat("u1", T0, t));
    let (out, fallbacks) = agree(&pack, &joined(&lines));
    assert_eq!(fallbacks, 2);
    let errors: Vec<String> = out
        .iter()
        .map(|o| {
            let v: serde_json::Value = serde_json::from_str(o).unwrap();
            v["error"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        errors,
        [
            "Function not found: tagg (string) (line 2, position 28)",
            "Function not found: - (string, int) (line 3, position 51)",
            "Function not found: + (float, array) (line 4, position 65)",
        ]
    );
}

/// When a later handler of a rule leaves the compiled path, only that handler runs again:
/// the earlier handler's change is emitted once.
#[test]
fn a_second_handler_falls_back_alone() {
    let two = r#"
fn on_chat(event, user) {
    tag("intent/price", `chat ${user.events}`);
}

fn on_event(event, user) {
    // Arrays compared: Rhai's array functions answer, not the compiled path.
    if [event.type] == ["order"] {
        tag("service/complaint");
    }
    tag("intent/purchase", "event");
}
"#;
    let pack = pack_of(&[("two", two)]).unwrap();
    assert_eq!(compiled_rules(&pack), ["two"]);
    let (out, fallbacks) = agree(&pack, &joined(&[chat("u1", T0, "hi"), click("u1", T0 + 1)]));
    assert_eq!(fallbacks, 2, "on_event falls back on both events");
    let adds: Vec<_> = out.iter().filter(|o| o.contains("\"add\"")).collect();
    assert_eq!(adds.len(), 2, "{out:?}");
    assert!(adds[0].contains("intent/price") && adds[1].contains("intent/purchase"));
}

/// Constructs the compiled form does not cover leave the rule to the interpreter, which runs
/// it as before.
#[test]
fn uncovered_constructs_run_interpreted() {
    let printing = r#"
fn on_chat(event, user) {
    print(`chat from ${user.id}`);
    if event.text.matches("价|钱") {
        tag("intent/price", "asked");
    }
}
"#;
    let pack = pack_of(&[("printing", printing)]).unwrap();
    assert!(compiled_rules(&pack).is_empty());
    let (out, _) = agree(&pack, &joined(&[chat("u1", T0, "多少钱")]));
    assert_eq!(out.len(), 1);
    assert!(out[0].contains("intent/price"));
}

/// Rhai evaluates a chain's call arguments before its target: side effects keep that order.
#[test]
fn chain_arguments_are_evaluated_before_the_target() {
    let order = r#"
fn on_chat(event, user) {
    let held = holder(user, "intent/price").has(named(user, "service/complaint"));
    if held {
        tag("intent/purchase", "both");
    }
}

fn holder(user, t) {
    tag(t, "target");
    user
}

fn named(user, t) {
    tag(t, "argument");
    t
}
"#;
    let pack = pack_of(&[("order", order)]).unwrap();
    assert_eq!(compiled_rules(&pack), ["order"]);
    let (out, fallbacks) = agree(&pack, &joined(&[chat("u1", T0, "hi")]));
    assert_eq!(fallbacks, 0);
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(out[0].contains("service/complaint") && out[1].contains("intent/price"));
}

/// Each rule runs both ways over a chat and must give identical outputs; returns them.
pub fn agree_on_a_chat(rule: &str) -> Vec<String> {
    let pack = pack_of(&[("regression", rule)]).unwrap();
    agree(&pack, &joined(&[chat("u1", T0, "hi")])).0
}

/// A method or index after an index applies to the item: `a[0].days()` is the first item in
/// days, not `a[0.days()]`.
#[test]
fn a_method_after_an_index_applies_to_the_item() {
    let rule = r#"
fn on_chat(event, user) {
    let a = [10, 20];
    let w = [7, 30];
    let n = [[1, 2], [3]];
    tag("intent/price", `${a[0].days()} ${(a[0]).minutes()} ${a[1].hours() / 1000} ${n[1][0]} ${n[0][1].days()} ${n[0].len()} ${user.count("chat", w[0].days())}`);
}
"#;
    let pack = pack_of(&[("regression", rule)]).unwrap();
    assert_eq!(compiled_rules(&pack), ["regression"]);
    let out = agree_on_a_chat(rule);
    assert!(
        out[0].contains("\"reason\":\"864000000 600000 72000 3 172800000 2 1\""),
        "{out:?}"
    );
}

/// In Rhai 1.27 `continue` in a `do` loop starts the body again without testing the
/// condition; the compiled form does the same (an endless loop, stopped by the limit).
#[test]
fn continue_in_a_do_loop_skips_the_condition() {
    let counted = r#"
fn on_chat(event, user) {
    let i = 0; let c = 0;
    do { i += 1; if i == 3 { continue; } c += 1; } while i < 3;
    tag("intent/price", `${i} ${c}`);
}
"#;
    let out = agree_on_a_chat(counted);
    assert!(out[0].contains("\"reason\":\"4 3\""), "{out:?}");
    let endless = r#"
fn on_chat(event, user) {
    let i = 0;
    do { i += 1; continue; } while i < 3;
    tag("intent/price", `${i}`);
}
"#;
    let out = agree_on_a_chat(endless);
    assert!(out[0].contains("Too many operations"), "{out:?}");
}

/// A changing method on a constant is Rhai's error; the rule runs interpreted.
#[test]
fn a_changing_method_on_a_constant_is_the_interpreters_error() {
    let rule = r#"
fn on_chat(event, user) {
    const a = [1, 2];
    a.push(3);
    tag("intent/price", `${a.len()}`);
}
"#;
    let pack = pack_of(&[("regression", rule)]).unwrap();
    assert!(compiled_rules(&pack).is_empty());
    let out = agree_on_a_chat(rule);
    assert!(out[0].contains("Non-pure method"), "{out:?}");
}
