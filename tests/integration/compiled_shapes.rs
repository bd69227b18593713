//! Shapes of rule an operator, or someone looking for a difference, writes that the random
//! programs and `compiled_corners.rs` do not reach: constants handed to functions that change
//! their parameters, `break`, `continue` and `return` inside operands and arguments, loop
//! variables named as parameters, switch values with side effects, indexes that are chains
//! themselves, and script functions named as natives. Each runs compiled and interpreted over
//! the same events with identical outputs, and no fewer operations counted compiled.

use crate::compiled_corners::agree_all;

#[test]
fn constants_handed_to_functions() {
    let extra = r#"
fn change(a) { a.push(99); a.len() }
fn bump(a) { a += 1; a }
fn app(s) { s += "y"; s }
fn mk(k) { const A = [k]; A }
"#;
    agree_all(
        &[
            ("to a pushing fn", "const A = [n, 2]; `${change(A)} ${A.len()}`"),
            ("to an assigning fn", "const A = n * 5; `${bump(A)} ${A}`"),
            ("to an appending fn", "const S = `x${n}`; app(S)"),
            ("returned, then pushed", "let b = mk(n); b.push(5); b.len()"),
            ("through an if, then pushed", "const A = [n]; let b = if n > 0 { A } else { [] }; b.push(5); `${b.len()} ${A.len()}`"),
            ("items pushed in a loop", "const A = [[n], [2]]; let s = 0; for x in A { x.push(3); s += x.len(); } `${s} ${A[0].len()}`"),
            ("continue in a fn's argument", "let s = 0; for x in [1, 2, 3] { s += change([x, { if x == 2 { continue; } 0 }]); } s"),
        ],
        extra,
    );
}

#[test]
fn jumps_inside_operands_and_arguments() {
    agree_all(
        &[
            ("break in an operand", "let s = 0; for x in [1, 2, 3] { s += x + { if x == 2 { break; } 0 }; } s"),
            ("continue in an operand", "let s = 0; for x in [1, 2, 3] { s += x * { if x == 2 { continue; } 10 }; } s"),
            ("break in a native's argument", "let s = 0; for x in [1, 2, 3] { s += round_to({ if x == 3 { break; } 1.5 * x }, 1).to_int(); } s"),
            ("return in an operand", "let y = 1 + { if n > 0 { return \"early\"; } 2 }; `${y}`"),
            ("return from a switch in loops", "for x in [1, 2, 3] { switch x { 2 => { for y in [n] { return `${x}${y}`; } }, _ => {} } } \"none\""),
        ],
        "",
    );
}

#[test]
fn names_and_switches() {
    agree_all(
        &[
            (
                "loop names shadow the parameters",
                "let s = \"\"; for (n, z) in [5, 6] { s += `${n}:${z}`; } `${s} ${n} ${z}`",
            ),
            (
                "let shadows inside a loop",
                "let x = n; let i = 0; while i < 3 { let x = x * 2; x += 1; i += 1; } x",
            ),
            (
                "assign, then shadow in a block",
                "let x = n; if true { x = 2; let x = 3; x = 4; } x",
            ),
            (
                "loop variable and counter assigned",
                "let s = \"\"; for (x, i) in [5, 6, 7] { x *= 10; i += 10; s += `${x}:${i} `; } s",
            ),
            (
                "switch value with a side effect",
                "let k = 0; let r = switch { k += 1; n } { 1 => k, _ => -1 }; `${r} ${k}`",
            ),
            (
                "nested switch",
                "switch n { 1 => switch z { 0 => \"a\", _ => \"b\" }, _ => \"c\" }",
            ),
            (
                "float value, int range",
                "switch 2.5 * n { 0..5 => \"in\", _ => \"out\" }",
            ),
            (
                "negative zero value",
                "switch 0.0 * -n { 0.0 => \"zero\", _ => \"other\" }",
            ),
            (
                "bool and unit cases",
                "switch event.paid { true => \"t\", false => \"f\", () => \"u\" }",
            ),
        ],
        "",
    );
}

#[test]
fn indexes_that_are_chains() {
    agree_all(
        &[
            ("index by an index", "let a = [[1, 2, 3], [4, 5]]; let b = [1, 0]; `${a[b[0]].len()} ${a[b[0]][b[1]]} ${a[b.len() - 1][0]} ${a[[1, 0][0]][0]}`"),
            ("methods on items", "let a = [[1.25, 2.5], [4]]; `${a[0][1].floor()} ${a[0][0].round_to(1)} ${a[1][0].days()} ${a[0].len().days()} ${a[{ let i = 1; i }][0]}`"),
            ("handles in an array", "let us = [user, event]; `${us[0].events} ${us[1].type} ${us[0].has(\"intent/price\")} ${us[1].keyword_hits().len()}`"),
            ("a hit's text", "let h = event.keyword_hits(); if h.len() > 0 { `${h[0].tag.len()} ${event.keyword_hits()[n - 1].word}` } else { \"none\" }"),
        ],
        "",
    );
}

#[test]
fn script_functions_named_as_natives() {
    let extra = r#"
fn days(k) { k * 10 }
fn to_int(x) { 9 }
fn keyword_hits(e) { 5 }
fn push(a, b) { 0 }
fn get(u, k) { "mine" }
"#;
    agree_all(
        &[
            ("days", "days(2 * n)"),
            ("to_int", "to_int(2.5 * n)"),
            ("keyword_hits", "keyword_hits(event)"),
            ("push as a function", "let a = [n]; push(a, 2); a.len()"),
            ("get with the user", "get(user, \"x\")"),
        ],
        extra,
    );
}

/// `+=` appends to a text in place when nothing else holds it; every other holder of the text
/// (a variable it was copied to, an array, a user variable, a tag name, a constant, a caller)
/// keeps the text as it was.
#[test]
fn texts_appended_in_place_leave_their_copies_alone() {
    let extra = r#"
fn app(s) { s += "y"; s += "z"; s }
"#;
    agree_all(
        &[
            ("copied to a variable", "let a = `x${n}`; let b = a; b += \"y\"; `${a} ${b}`"),
            ("held by an array", "let s = `x${n}`; let t = [s]; s += \"y\"; `${t[0]} ${s}`"),
            ("taken from an array", "let arr = [`x${n}`]; let s = arr[0]; s += \"y\"; `${arr[0]} ${s}`"),
            ("a constant", "const C = \"c\"; let s = C; s += \"d\"; s += \"e\"; `${C} ${s}`"),
            ("a user variable", "let s = `v${n}`; user.set(\"v\", s); s += \"x\"; `${user.get(\"v\")} ${s}`"),
            ("the user id", "let s = user.id; s += \"x\"; s += \"y\"; `${user.id} ${s}`"),
            ("a held tag", "tag(\"intent/price\"); let t = user.tag_in(\"intent\"); t += \"X\"; t += \"Y\"; `${t}|${user.tag_in(\"intent\")}|${user.tags}`"),
            ("empty on either side", "let s = \"\"; s += \"\"; s += `${n}`; s += \"\"; s += \"z\"; s"),
            ("a caller's text", "let s = `a${n}`; let r = app(s); s += \"q\"; `${s} ${r}`"),
        ],
        extra,
    );
}
