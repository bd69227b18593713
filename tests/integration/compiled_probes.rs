//! Hand-written cases where the compiled form once differed from Rhai's interpreter, each the
//! smallest rule that showed it, run both ways: the outputs must be identical, and the value
//! asserted is the interpreter's.

use crate::compiled::{agree, agree_on_a_chat, compiled_rules, joined};
use crate::support::{chat, pack_of, T0};

/// The reason of the first output (a tag change), or the whole output when it is not one.
fn reason(out: &[String]) -> String {
    let v: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
    v["reason"]
        .as_str()
        .map_or_else(|| out[0].clone(), str::to_string)
}

/// Rhai evaluates a method's arguments before it reads the variable the method is called on,
/// so an argument that assigns to that variable changes the receiver: `x.round_to({ x = …; 2 })`
/// rounds the new value. The compiled form once read the variable first.
#[test]
fn a_method_reads_its_variable_after_the_arguments() {
    let rule = r#"
fn on_chat(event, user) {
    let x = 1.23456;
    let r = x.round_to({ x = 9.87654; 2 });
    let g = 3;
    let grade = g.grade_at_least({ g = 10; [5, 3] });
    tag("intent/price", `${r} ${grade}`);
}
"#;
    let pack = pack_of(&[("regression", rule)]).unwrap();
    assert_eq!(compiled_rules(&pack), ["regression"]);
    let out = agree_on_a_chat(rule);
    assert_eq!(reason(&out), "9.88 3");

    // A receiver turned into another type is the interpreter's error.
    let retyped = r#"
fn on_chat(event, user) {
    let u = user;
    if u.has({ u = 5; "intent/price" }) { return; }
    tag("intent/price", "reached");
}
"#;
    let out = agree_on_a_chat(retyped);
    assert!(
        out[0].contains("Function not found: has (int, string)"),
        "{out:?}"
    );
}

/// Rhai makes a function call whose first argument is a variable, `f(x, …)`, like the method
/// call `x.f(…)`: it evaluates the other arguments first and reads the variable last, natives
/// and script functions alike. The compiled form once read it first.
#[test]
fn a_call_reads_a_variable_first_argument_after_the_others() {
    let rule = r#"
fn on_chat(event, user) {
    let f = 2.5;
    let r = round_to(f, { f = 9.25; 1 });
    let x = 10;
    let m = h(x, { x = 100; x });
    tag("intent/price", `${r} ${m}`);
}

fn h(p, q) { p * 1000 + q }
"#;
    let pack = pack_of(&[("regression", rule)]).unwrap();
    assert_eq!(compiled_rules(&pack), ["regression"]);
    let out = agree_on_a_chat(rule);
    assert_eq!(reason(&out), "9.3 100100");
}

/// Everywhere else Rhai reads left to right: an operator's left operand before its right, an
/// index before the value it indexes, a changing method's arguments before its variable, an
/// assignment's value before its variable, interpolated parts in order. Each is read here
/// around an assignment inside a later part.
#[test]
fn other_reads_around_an_assignment_keep_rhai_order() {
    let rule = r#"
fn on_chat(event, user) {
    let x = 1;
    let sum = x + { x = 10; 1 };
    let a = [1, 2, 3];
    let item = a[{ a = [7, 8, 9]; 0 }];
    let b = [1];
    b.push({ b = [5, 6]; 3 });
    let c = 5;
    c += { c = 10; 1 };
    let s = "s";
    let t = `${s}${{ s = "t"; s }}${s}`;
    tag("intent/price", `${sum} ${item} ${b.len()}:${b[0]} ${c} ${t}`);
}
"#;
    let pack = pack_of(&[("regression", rule)]).unwrap();
    assert_eq!(compiled_rules(&pack), ["regression"]);
    let out = agree_on_a_chat(rule);
    assert_eq!(reason(&out), "2 7 3:5 11 stt");
}

/// Each `let` of a function takes a slot of its own, though Rhai limits only the variables in
/// scope at once: 65,540 blocks `{ let a = …; }` make a valid rule. The compiled form once
/// numbered the slots in a `u16` that wrapped past 65,535 and then indexed beyond the frame (a
/// panic); a function with that many `let`s now runs interpreted.
#[test]
fn a_function_of_very_many_lets_runs_interpreted() {
    let blocks = "{ let a = user.events; }\n".repeat(65_540);
    let rule =
        format!("fn on_chat(event, user) {{\n{blocks}tag(\"intent/price\", \"many\");\n}}\n");
    let mut pack = pack_of(&[("regression", &rule)]).unwrap();
    assert!(compiled_rules(&pack).is_empty());
    pack.limits.operations = 1_000_000;
    let (out, _) = agree(&pack, &joined(&[chat("u1", T0, "hi")]));
    assert_eq!(reason(&out), "many");
}
