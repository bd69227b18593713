//! Compiled handlers held to the interpreter's limits: Rhai's data limits, its operation count
//! (endless loops included), and the time budget of a handler call.

use tagstream::rules::Execution;

use crate::compiled::{agree, agree_on_a_chat, compiled_rules, joined, outputs};
use crate::compiled_corners::{agree_all, rule};
use crate::programs::compare;
use crate::support::{chat, click, order, pack_of, T0};

/// An endless loop leaves the compiled path before the operation limit; the interpreter then
/// stops it at the limit, as before.
#[test]
fn an_endless_loop_is_stopped_by_the_interpreter() {
    let endless = r#"
fn on_chat(event, user) {
    let i = 0;
    while true { i += 1; }
}
"#;
    let pack = pack_of(&[("endless", endless)]).unwrap();
    assert_eq!(compiled_rules(&pack), ["endless"]);
    let (out, fallbacks) = agree(&pack, &joined(&[chat("u1", T0, "hi")]));
    assert_eq!(fallbacks, 1);
    assert_eq!(out.len(), 1);
    assert!(out[0].contains("Too many operations"), "{}", out[0]);
}

/// Rhai's data limits count what arrays hold (items, string bytes), not only their length;
/// the compiled form leaves whatever comes near them to the interpreter.
#[test]
fn data_limits_are_the_interpreters() {
    let hundred = "0123456789".repeat(10);
    let pushes = r#"
fn on_chat(event, user) {
    let a = [];
    let i = 0;
    while i < 10005 { a.push(i); i += 1; }
    tag("intent/price", `pushed ${a.len()}`);
}
"#;
    let strings = format!(
        "fn on_click(event, user) {{\n    let a = [];\n    let i = 0;\n    \
         while i < 700 {{ a.push(\"{hundred}\"); i += 1; }}\n    tag(\"intent/purchase\");\n}}\n"
    );
    let literal = format!(
        "fn on_order(event, user) {{\n    let s = \"{hundred}\";\n    let t = s + s + s + s + s + s + s + s + s + s;\n    \
         let u = t + t + t + t + t + t + t + t + t + t;\n    let a = [u, u, u, u, u, u, u, u];\n    \
         tag(\"service/complaint\");\n}}\n"
    );
    let pack = pack_of(&[
        ("pushes", pushes),
        ("strings", &strings),
        ("literal", &literal),
    ])
    .unwrap();
    assert_eq!(compiled_rules(&pack).len(), 3);
    let lines = [
        chat("u1", T0, "hi"),
        click("u1", T0 + 1),
        order("u1", T0 + 2, "o1", 10.0, false),
    ];
    let (out, _) = agree(&pack, &joined(&lines));
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(out[0].contains("Size of array"), "{}", out[0]);
    assert!(out[1].contains("Length of string") && out[2].contains("Length of string"));
}

/// Long method chains count at least the interpreter's operations: what Rhai stops for its
/// operation count is stopped compiled too.
#[test]
fn method_chains_count_the_interpreters_operations() {
    let rule = r#"
fn on_chat(event, user) {
    let x = 1.5;
    let i = 0;
    while i < 8000 {
        x = x.floor().floor().floor().floor().floor().floor().floor().floor().floor().floor();
        i += 1;
    }
    tag("intent/price", `${x}`);
}
"#;
    let out = agree_on_a_chat(rule);
    assert!(out[0].contains("Too many operations"), "{out:?}");
}

/// One operation can take long (copying a value that holds itself): the time budget ends
/// the call as a rule error naming the budget, its changes rolled back, and the stream goes on.
#[test]
fn a_handler_call_is_bounded_in_time() {
    let rule = r#"
fn on_chat(event, user) {
    tag("service/complaint", "before the loop");
    let x = [42];
    loop { x[0] = x; }
}
fn on_click(event, user) {
    tag("intent/price", "clicked");
}
"#;
    let mut pack = pack_of(&[("hostile", rule)]).unwrap();
    pack.limits.time_budget_ms = 50;
    let lines = joined(&[chat("u1", T0, "hi"), click("u1", T0 + 1)]);
    for execution in [Execution::Compiled, Execution::Interpreted] {
        let started = std::time::Instant::now();
        let (out, _) = outputs(&pack, execution, &lines);
        let took = started.elapsed();
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[0].contains("time budget of 50 ms"), "{}", out[0]);
        assert!(out[0].contains("\"rule\":\"hostile\""), "{}", out[0]);
        assert!(
            out[1].contains("intent/price"),
            "the stream goes on: {}",
            out[1]
        );
        // Without the budget this call runs for many seconds; with it, about 50 ms.
        assert!(took < std::time::Duration::from_secs(3), "{took:?}");
    }
}

/// A compiled loop is held to the same budget.
#[test]
fn a_compiled_handler_is_bounded_in_time() {
    let rule = r#"
fn on_chat(event, user) {
    let i = 0;
    let s = 0;
    while i < 100000000 { s += i % 7; i += 1; }
    tag("intent/price", `${s}`);
}
"#;
    let mut pack = pack_of(&[("slow", rule)]).unwrap();
    assert_eq!(compiled_rules(&pack), ["slow"]);
    pack.limits.time_budget_ms = 30;
    pack.limits.operations = 0;
    let (out, fallbacks) = outputs(&pack, Execution::Compiled, &joined(&[chat("u1", T0, "hi")]));
    assert_eq!(fallbacks, 0, "the compiled call ends itself");
    assert!(out[0].contains("time budget of 30 ms"), "{out:?}");
}

/// A text grown by `+=` grows in place, as in the interpreter: a long one built in a loop
/// finishes within the time budget both ways. The compiled form once copied the whole text at
/// every `+=`, quadratic time that ran past a budget the interpreter kept well within.
#[test]
fn a_text_grown_by_plus_assign_keeps_within_the_time_budget() {
    let rule = r#"
fn on_chat(event, user) {
    let s = "";
    let i = 0;
    while i < 150000 { s += "0123456789"; i += 1; }
    tag("intent/price", `${s.len()}`);
}
"#;
    let mut pack = pack_of(&[("grown", rule)]).unwrap();
    assert_eq!(compiled_rules(&pack), ["grown"]);
    pack.limits.string_bytes = 2_000_000;
    pack.limits.operations = 5_000_000;
    pack.limits.time_budget_ms = 2_000;
    let lines = joined(&[chat("u1", T0, "hi")]);
    let (compiled, fallbacks) = outputs(&pack, Execution::Compiled, &lines);
    let (interpreted, _) = outputs(&pack, Execution::Interpreted, &lines);
    assert_eq!(compiled, interpreted);
    assert_eq!(fallbacks, 0);
    assert!(
        compiled[0].contains("\"reason\":\"1500000\""),
        "{compiled:?}"
    );
}

/// Values grown to Rhai's data limits, each just under or at and just over: 64 KiB of text
/// (by `+=`, `+` and `${…}`, in one- and three-byte characters), the array items the compiled
/// form grows itself (256), an array that holds itself (10,000 items in all), and an array's
/// texts (64 KiB in all). Both tiers give the same length, or the same error.
#[test]
fn values_at_the_data_limits_agree() {
    const TEXT: &str = "Length of string";
    const ARRAY: &str = "Size of array";
    let hundred = "0123456789".repeat(10);
    let doubled = |init: &str, step: &str, times: u32| {
        format!(
            "let s = `{init}${{z}}`; let i = 0; while i < {times} * n {{ {step} i += 1; }} s.len()"
        )
    };
    let pushes = |times: u32, item: &str| {
        format!(
            "let a = []; let i = 0; while i < {times} * n {{ a.push({item}); i += 1; }} a.len()"
        )
    };
    let holding = |times: u32| {
        format!("let a = [n]; let i = 0; while i < {times} * n {{ a.push(a); i += 1; }} a.len()")
    };
    let quoted = format!("\"{hundred}\"");
    // (probe, its body, the reason it tags or the error it meets)
    let probes = [
        // 8 bytes doubled 13 times is 64 KiB exactly: at the limit, not past it.
        ("text at the limit", doubled("abcdefg", "s += s;", 13), "65536"),
        ("text past the limit", doubled("abcdefg", "s += s;", 14), TEXT),
        ("plus at the limit", doubled("abcdefg", "s = s + s;", 13), "65536"),
        ("plus past the limit", doubled("abcdefg", "s = s + s;", 14), TEXT),
        ("parts at the limit", doubled("abcdefg", "s = `${s}${s}`;", 13), "65536"),
        ("parts past the limit", doubled("abcdefg", "s = `${s}${s}`;", 14), TEXT),
        // `多0` is four bytes in two characters: `len` counts characters.
        ("wide text at the limit", doubled("多", "s += s;", 14), "32768"),
        ("wide text past the limit", doubled("多", "s += s;", 15), TEXT),
        ("255 pushes", pushes(255, "i"), "255"),
        ("256 pushes", pushes(256, "i"), "256"),
        ("257 pushes", pushes(257, "i"), "257"),
        // 2^(k+1) - 1 items in all after k pushes: 8,191, then 16,383.
        ("holding itself under the limit", holding(12), "13"),
        ("holding itself past the limit", holding(13), ARRAY),
        ("texts under the limit", pushes(655, &quoted), "655"),
        ("texts past the limit", pushes(656, &quoted), TEXT),
        (
            "a literal of long texts",
            format!("let s = `{hundred}${{z}}`; let i = 0; while i < 9 * n {{ s += s; i += 1; }} [s, s].len()"),
            TEXT,
        ),
    ];
    let bodies: Vec<(&str, &str)> = probes.iter().map(|(n, b, _)| (*n, b.as_str())).collect();
    agree_all(&bodies, "");
    for (name, body, expected) in &probes {
        let mut pack = pack_of(&[("limits", &rule(body, ""))]).unwrap();
        pack.limits.time_budget_ms = 0;
        let (_, outcome) = compare(&pack, &[chat("u1", T0, "hi")]);
        let first = &outcome.outputs[0];
        let v: serde_json::Value = serde_json::from_str(first).unwrap();
        let met = if expected.starts_with(char::is_numeric) {
            v["reason"].as_str() == Some(expected)
        } else {
            first.contains(expected)
        };
        assert!(met, "{name}: expected {expected}, got {first}");
    }
}

/// Maps inside arrays and arrays and texts inside maps count toward the data limits as Rhai
/// counts them (an entry for each map value, an item for each array item, the bytes of every
/// text): the compiled form finishes a call at the limit itself and hands one past it to the
/// interpreter, whose error it then is.
#[test]
fn maps_in_values_are_measured_as_rhai_measures_them() {
    let hundred = "0123456789".repeat(10);
    let forty = (0..39)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let pushes = |times: u32, item: &str| {
        format!(
            "let a = []; let i = 0; while i < {times} * n {{ a.push({item}); i += 1; }} a.len()"
        )
    };
    let four = "#{a: i, b: 2, c: 3.5, d: ()}";
    let texts = "#{a: s, b: s, c: s, d: s}";
    let texts = |times| format!("let s = `{hundred}${{z}}`; {}", pushes(times, texts));
    let lists = format!("#{{l: [{forty}]}}");
    // (probe, its body, the reason it tags or the error it meets)
    let probes = [
        // Four entries a map: 250 maps are 1,000 entries, the limit.
        ("map entries at the limit", pushes(250, four), "250"),
        (
            "map entries past the limit",
            pushes(251, four),
            "Size of object map",
        ),
        // Four texts of 101 bytes a map: 162 maps are 65,448 bytes, 163 are 65,852.
        ("texts in maps under the limit", texts(162), "162"),
        (
            "texts in maps past the limit",
            texts(163),
            "Length of string",
        ),
        // An array of 39 in each map: 40 items a push, 10,000 at 250.
        ("arrays in maps at the limit", pushes(250, &lists), "250"),
        (
            "arrays in maps past the limit",
            pushes(251, &lists),
            "Size of array",
        ),
    ];
    for (name, body, expected) in &probes {
        let mut pack = pack_of(&[("limits", &rule(body, ""))]).unwrap();
        pack.limits.time_budget_ms = 0;
        assert_eq!(compiled_rules(&pack).len(), 1, "{name}");
        let line = format!("{}\n", chat("u1", T0, "hi"));
        let (compiled, fallbacks) = outputs(&pack, Execution::Compiled, line.as_bytes());
        let (interpreted, _) = outputs(&pack, Execution::Interpreted, line.as_bytes());
        assert_eq!(compiled, interpreted, "{name}");
        let first = &compiled[0];
        if expected.starts_with(char::is_numeric) {
            let v: serde_json::Value = serde_json::from_str(first).unwrap();
            assert_eq!(v["reason"].as_str(), Some(*expected), "{name}: {first}");
            assert_eq!(fallbacks, 0, "{name}: measured by the compiled form");
        } else {
            assert!(first.contains(expected), "{name}: {first}");
            assert_eq!(fallbacks, 1, "{name}: handed to the interpreter");
        }
    }
}
