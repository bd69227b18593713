//! Hand-written cases where the compiled form once differed from Rhai's interpreter, each the
//! smallest rule that showed it, run both ways: the outputs must be identical, and the value
//! asserted is the interpreter's.

use crate::compiled::{agree_on_a_chat, compiled_rules};
use crate::support::pack_of;

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
