//! Corners of the language the random programs rarely reach, each run compiled and
//! interpreted over the same events: the outputs (tag reasons, errors and their messages) must
//! be identical, and the compiled form must not count fewer operations than the interpreter
//! (handovers and operation counts construct by construct: `compiled_counts.rs`).

use crate::compiled::compiled_rules;
use crate::programs::compare;
use crate::support::{chat, click, order, pack_of, refund, T0};

/// One event of each kind, each of its own user, so that every handler call emits its tag.
fn events() -> Vec<String> {
    vec![
        chat("u1", T0, "多少钱 buy"),
        click("u2", T0 + 1),
        order("u3", T0 + 2, "o1", 120.5, false),
        refund("u4", T0 + 3, "o9"),
        order("u5", T0 + 4, "o2", 0.0, true),
    ]
}

/// The rule of a probe: `body` is the body of `probe(event, user, n, z)`, where `n` is the
/// user's event count (1) and `z` is 0, both known only at run time so that Rhai's optimiser
/// cannot fold what uses them; its value becomes the tag's reason. `extra` adds functions.
pub(crate) fn rule(body: &str, extra: &str) -> String {
    format!(
        "fn on_event(event, user) {{\n    let n = user.events;\n    let z = n - 1;\n    \
         tag(\"intent/price\", `${{probe(event, user, n, z)}}`);\n}}\n\n\
         fn probe(event, user, n, z) {{\n{body}\n}}\n{extra}"
    )
}

/// Runs every probe both ways; panics listing every one that differs or does not compile.
pub(crate) fn agree_all(probes: &[(&str, &str)], extra: &str) {
    let lines = events();
    let mut failures = Vec::new();
    for (name, body) in probes {
        let source = rule(body, extra);
        let pack = match pack_of(&[("corner", &source)]) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{name}: the rule does not load: {e}"));
                continue;
            }
        };
        if compiled_rules(&pack).is_empty() {
            failures.push(format!("{name}: the rule is not compiled"));
            continue;
        }
        let mut pack = pack;
        pack.limits.time_budget_ms = 0;
        let (why, _) = compare(&pack, &lines);
        if let Some(why) = why {
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn float_formatting() {
    agree_all(
        &[
            ("1e20", "1e20 * n"),
            ("1.0", "1.0 * n"),
            ("neg zero", "0.0 * -n"),
            ("neg zero lit", "-0.0 * n"),
            ("0.1+0.2", "0.1 * n + 0.2"),
            ("inf", "1.0 / z"),
            ("-inf", "-1.0 / z"),
            ("nan", "0.0 / (0.0 * n)"),
            ("nan int", "(0.0 * n) / z"),
            ("tiny", "1e-10 * n"),
            ("tiny2", "1.5e-7 * n"),
            ("small", "0.0001 * n"),
            ("small2", "0.00001 * n"),
            ("e15", "1e15 * n"),
            ("e16", "1e16 * n"),
            ("e17", "1e17 * n"),
            ("big int-ish", "123456789012345678.0 * n"),
            ("max", "1.7976931348623157e308 * n"),
            ("overflow", "1.7976931348623157e308 * n * 10.0"),
            ("min pos", "5e-324 * n"),
            ("third", "n / 3.0"),
            ("int float mix", "n + 0.5"),
            ("int float div", "7 / 2.0 * n"),
            ("float rem", "7 % 2.5 * n"),
            ("neg float rem", "-5.5 * n % 2.0"),
            ("float rem zero", "5.0 * n % 0.0"),
            ("float rem int zero", "5.0 * n % z"),
            ("parts", "`${1.0 * n}|${-0.0 * n}|${1e20 * n}|${1e-7 * n}`"),
            ("round_to", "round_to(2.0 / 3 * n, 3)"),
            ("round_to neg digits", "round_to(1234.5678 * n, -2)"),
            ("round_to big digits", "round_to(1.23456789 * n, 40)"),
            ("floor", "(2.5 * n).floor()"),
            ("ceiling", "(-2.5 * n).ceiling()"),
            ("round", "(-2.5 * n).round()"),
            ("round half", "(0.5 * n).round()"),
            ("to_int", "(2.9 * n).to_int()"),
            ("to_int neg", "(-2.9 * n).to_int()"),
            ("to_int big", "(1e19 * n).to_int()"),
            ("to_int 2^63", "(9223372036854775807.0 * n).to_int()"),
            ("to_int -2^63", "(-9223372036854775808.0 * n).to_int()"),
            ("to_int nan", "(0.0 / z).to_int()"),
            ("to_int inf", "(1.0 / z).to_int()"),
            ("to_float", "n.to_float()"),
            ("to_float float", "(n * 1.5).to_float()"),
            ("as_days", "as_days(n * 86400000 + 1)"),
            ("days float", "days(1.5 * n)"),
            ("days nan", "days(0.0 / z)"),
            ("days inf", "days(1.0 / z)"),
            ("hours neg", "hours(-n)"),
            ("minutes float", "minutes(0.1 * n)"),
        ],
        "",
    );
}

#[test]
fn integer_corners() {
    agree_all(
        &[
            ("add overflow", "9223372036854775807 + n"),
            ("sub overflow", "-9223372036854775807 - n - n"),
            ("mul overflow", "4611686018427387904 * (n + 1)"),
            ("neg min", "let m = -9223372036854775807 - n; -m"),
            ("min div -1", "let m = -9223372036854775807 - n; m / -1"),
            ("min rem -1", "let m = -9223372036854775807 - n; m % -1"),
            ("min rem 1", "let m = -9223372036854775807 - n; m % 1"),
            ("div zero", "n / z"),
            ("rem zero", "n % z"),
            ("neg div", "-7 * n / 2"),
            ("neg rem", "-7 * n % 2"),
            ("rem neg", "7 * n % -2"),
            (
                "add assign overflow",
                "let x = 9223372036854775807; x += n; x",
            ),
            ("mul assign", "let x = 3; x *= n + 1; x"),
            ("div assign", "let x = 7; x /= n + 1; x"),
            ("rem assign", "let x = 7; x %= n + 1; x"),
            ("sub assign float", "let x = 7; x -= n * 0.5; x"),
            ("int assign float", "let x = n; x += 0.25; x"),
            ("float assign int", "let x = 0.5; x += n; x"),
            ("unary plus", "+n"),
            ("unary plus float", "+(n * 0.5)"),
            ("unary plus string", "+`${n}`"),
            ("unary minus string", "-`${n}`"),
            ("unary minus unit", "-event.amount"),
            ("not int", "!n"),
            ("not unit", "!event.amount"),
            ("days overflow", "days(9223372036854775807 - z)"),
            ("hours min", "hours(-9223372036854775807 - n)"),
            ("as_days min", "as_days(-9223372036854775807 - n)"),
            ("len neg index", "let a = [1, 2, 3]; a[-n]"),
            ("far neg index", "let a = [1, 2, 3]; a[-4 * n]"),
            ("index past end", "let a = [1, 2, 3]; a[3 * n]"),
            (
                "index min",
                "let a = [1, 2, 3]; a[-9223372036854775807 - n]",
            ),
            ("index float", "let a = [1, 2, 3]; a[n * 1.0]"),
            ("index string", "let s = `ab${n}`; s[0]"),
            ("index unit", "let a = [1, 2]; a[event.amount]"),
        ],
        "",
    );
}

#[test]
fn comparisons_of_mixed_types() {
    agree_all(
        &[
            ("unit eq unit", "let u = event.staff_id; `${u == ()} ${u != ()} ${u < ()} ${u <= ()} ${u > ()} ${u >= ()}`"),
            ("unit vs int", "let u = event.staff_id; `${u == n} ${u != n} ${u < n} ${u <= n} ${u > n} ${u >= n}`"),
            ("int vs unit", "let u = event.staff_id; `${n == u} ${n != u} ${n < u} ${n <= u} ${n > u} ${n >= u}`"),
            ("bool vs int", "let b = n > 0; `${b == n} ${b != n} ${b < n} ${b > 1}`"),
            ("bools", "let b = n > 0; let c = n < 0; `${b == c} ${b != c} ${b < c} ${b <= c} ${b > c} ${b >= c}`"),
            ("str vs int", "let s = `${n}`; `${s == n} ${s != n} ${s < n} ${s >= n}`"),
            ("str vs unit", "let s = `${n}`; let u = event.staff_id; `${s == u} ${s != u} ${s < u} ${u >= s}`"),
            ("str plus unit", "let s = `${n}`; let u = event.staff_id; s + u"),
            ("unit plus str", "let s = `${n}`; let u = event.staff_id; u + s"),
            ("str plus int", "let s = `${n}`; s + n"),
            ("int plus str", "let s = `${n}`; n + s"),
            ("str minus str", "let s = `${n}abc${n}`; s - `${n}`"),
            ("str times", "let s = `${n}`; s * 2"),
            ("strings", "let a = `a${n}`; let b = `b${z}`; `${a < b} ${a > b} ${a == b} ${a <= a} ${a >= b} ${a != a}`"),
            ("string prefix", "let a = `ab${n}`; let b = `ab`; `${a < b} ${a > b}`"),
            ("unicode order", "let a = `é${n}`; let b = `z${n}`; `${a < b} ${a > b}`"),
            ("array vs int", "let a = [n]; `${a == n} ${a != n} ${a < n}`"),
            ("arrays eq", "let a = [n]; let b = [n]; a == b"),
            ("arrays ne", "let a = [n]; let b = [z]; a != b"),
            ("map vs int", "let m = #{a: n}; `${m == n} ${m != n}`"),
            ("user vs event", "`${user == event} ${user != event} ${event == ()}`"),
            ("user vs user", "user == user"),
            ("orders vs unit", "let o = user.paid_orders(); `${o == ()} ${o != n}`"),
            ("float vs int eq", "let f = 1.0 * n; `${f == n} ${n == f} ${f != n} ${f < n} ${n <= f}`"),
            ("float int epsilon", "let big = 9007199254740993 * n; `${big == 9007199254740992.0} ${big > 9007199254740992.0}`"),
            ("float epsilon", "let f = 1.0 * n; `${f == 1.0000000000000002} ${f < 1.0000000000000002} ${f >= 1.0000000000000004}`"),
            ("nan compare", "let x = 0.0 / z; `${x == x} ${x != x} ${x < 1.0} ${x > 1.0} ${x == 0.0} ${x >= 0.0}`"),
            ("inf compare", "let x = 1.0 / z; `${x == x} ${x > 1e308} ${x < x} ${-x < x}`"),
            ("zero compare", "let x = 0.0 * n; let y = -0.0 * n; `${x == y} ${x < y} ${x <= z} ${z == y}`"),
            ("tiny compare", "let x = 1e-300 * n; `${x == 0.0} ${x > 0.0} ${x == 2e-300} ${0.0 < x}`"),
            ("and non bool", "n && true"),
            ("or non bool", "false || n"),
            ("and unit", "true && event.staff_id"),
            ("if non bool", "if n { 1 } else { 2 }"),
            ("while non bool", "let i = 0; while n { i += 1; if i > 2 { break; } } i"),
            ("not string", "!`${n}`"),
        ],
        "",
    );
}

#[test]
fn strings_and_interpolation() {
    agree_all(
        &[
            ("concat", "let s = \"a\"; s += `${n}`; s += \"\"; s"),
            ("concat empty", "let s = \"\"; s += `${n}`; s"),
            ("str len", "`多少${n}`.len()"),
            ("str len var", "let s = `多少${n}`; s.len()"),
            ("text len", "event.text.len()"),
            ("interp unit", "`[${event.staff_id}]`"),
            ("interp bool", "`${n > 0}${n < 0}`"),
            ("interp array", "`${[n, 1.5, \"x\"]}`"),
            ("interp nested array", "let a = [[n], []]; `${a}`"),
            ("interp map", "`${#{a: n}}`"),
            ("interp user", "`${user}`"),
            ("interp event", "`${event}`"),
            ("interp orders", "`${user.paid_orders()}`"),
            ("interp nested", "`a${`b${n}c`}d`"),
            ("interp block", "`${ { let x = n; x + 1 } }`"),
            ("interp if", "`${if n > 5 { 1 }}`"),
            ("interp empty", "let s = ``; `${s}${n}`"),
            ("text plus", "event.text + `${n}`"),
            ("id", "`${user.id} ${event.id} ${event.type} ${event.user_id}`"),
            ("absent fields", "`${event.text}|${event.amount}|${event.target}|${event.order_id}|${event.status}|${event.paid}|${event.promo}|${event.category}|${event.room_id}|${event.channel}|${event.ts}`"),
            ("tags", "`${user.tags} ${user.tags.len()}`"),
            ("keyword hits", "let h = event.keyword_hits(); `${h.len()}`"),
            ("chars", "let s = `ab${n}`; let t = \"\"; for c in s { t += c; } t"),
            ("string for", "let k = 0; for c in `ab${n}` { k += 1; } k"),
            ("long concat", "let s = `${n}`; let i = 0; while i < 20 { s += s; i += 1; } s.len()"),
        ],
        "",
    );
}

#[test]
fn control_flow() {
    agree_all(
        &[
            ("switch dup", "switch n { 1 => \"a\", 1 => \"b\", _ => \"c\" }"),
            ("switch no match", "let r = switch n { 5 => \"a\" }; `${r}`"),
            ("switch default only", "switch n { _ => n + 1 }"),
            ("switch str", "switch `${n}` { \"1\" => \"one\", 1 => \"int\", _ => \"other\" }"),
            ("switch float", "switch n * 1.0 { 1 => \"int\", 1.0 => \"float\", _ => \"other\" }"),
            ("switch float int", "switch n * 1.0 { 1 => \"int\", _ => \"other\" }"),
            ("switch int float case", "switch n { 1.0 => \"float\", _ => \"other\" }"),
            ("switch unit", "switch event.staff_id { () => \"unit\", _ => \"other\" }"),
            ("switch bool", "switch n > 0 { true => \"t\", false => \"f\" }"),
            ("switch range", "switch n { 0..1 => \"a\", 1..=1 => \"b\", _ => \"c\" }"),
            ("switch range float", "switch n * 1.0 { 0..2 => \"range\", _ => \"other\" }"),
            ("switch range str", "switch `${n}` { 0..2 => \"range\", _ => \"other\" }"),
            ("switch range overlap", "switch n { 0..5 if z > 0 => \"a\", 1..3 => \"b\", _ => \"c\" }"),
            ("switch guard fallthrough", "switch n { 1 if z > 0 => \"a\", 1 if z == 0 => \"b\", _ => \"c\" }"),
            ("switch guard non bool", "switch n { 1 if n => \"a\", _ => \"c\" }"),
            ("switch array", "switch [n] { _ => \"any\" }"),
            ("switch expr value", "switch n + z { 1 => { let x = 5; x * 2 }, _ => 0 }"),
            ("switch event type", "switch event.type { \"chat\" => 1, \"click\" => 2, \"order\" => 3 }"),
            ("switch negative", "switch -n { -1 => \"neg\", 1 => \"pos\" }"),
            ("switch in loop break", "let i = 0; while true { i += 1; switch i { 3 => break, _ => continue } } i"),
            ("break in if in for", "let s = 0; for x in [1, 2, 3, 4] { if x == 3 { break; } s += x; } s"),
            ("continue in for", "let s = 0; for (x, i) in [1, 2, 3, 4] { if i % 2 == 0 { continue; } s += x * i; } s"),
            ("nested break", "let s = 0; for x in [1, 2] { for y in [10, 20, 30] { if y == 20 { break; } s += x * y; } } s"),
            ("do until", "let i = n; do { i *= 2; } until i > 50; i"),
            ("do while false", "let i = n; do { i += 1; } while false; i"),
            ("do break", "let i = 0; do { i += 1; if i == 2 { break; } } while true; i"),
            ("return from loop", "for x in [1, 2, 3] { while true { if x == 2 { return x * 100; } break; } } -1"),
            ("if no else", "let r = if n > 5 { 1 }; `${r}`"),
            ("if else if", "if n > 5 { 1 } else if n > 0 { 2 } else { 3 }"),
            ("block value", "let r = { let x = n; x * 3 }; r"),
            ("block semicolon", "let r = { n * 3; }; `${r}`"),
            ("block let last", "let r = { let x = n; }; `${r}`"),
            ("empty block", "let r = {}; `${r}`"),
            ("while value", "let r = while false {}; `${r}`"),
            ("for value", "let r = for x in [] {}; `${r}`"),
            ("shadow", "let x = n; let x = x + 1; { let x = x * 10; } x"),
            ("shadow in block", "let x = n; { let x = 5; x += 1; } x"),
            ("shadow loop var", "let x = 100; for x in [1, 2] { } x"),
            ("for counter", "let s = \"\"; for (x, i) in [\"a\", \"b\"] { s += `${x}${i}`; } s"),
            ("for empty", "let s = 0; for x in [] { s += 1; } s"),
            ("for modify array", "let a = [1, 2, 3]; let s = 0; for x in a { a.push(x); s += x; } `${s} ${a.len()}`"),
            ("for over int", "let s = 0; for x in n { s += x; } s"),
            ("for over unit", "let s = 0; for x in event.staff_id { s += 1; } s"),
            ("let no init", "let x; `${x}`"),
            ("assign returns", "let x = 1; let y = { x = 5 }; `${y} ${x}`"),
            ("const", "const C = 5; C * n"),
            ("nested fn value", "let a = [n, 2]; a[0] + a[-1]"),
            ("early return unit", "if n > 0 { return; } 5"),
            ("loop var after", "let i = 0; while i < 3 { let j = i; i += 1; } i"),
            ("chained comparison", "`${n < 2 < 3} ${n == 1 == true} ${z < n > z}`"),
            ("variable named as a native", "let days = 5 * n; days(days)"),
            ("param shadowed", "let n = n + 1; let n = `${n}!`; n"),
            ("min literal", "let m = -9223372036854775808; `${m} ${m + n}`"),
            ("min literal minus", "let m = -9223372036854775808; m - n"),
            ("switch in condition", "if switch n { 1 => true, _ => false } { \"yes\" } else { \"no\" }"),
            ("tags len in switch", "switch user.tags.len() { 0 => \"none\", _ => \"some\" }"),
            ("int op-assign float loop", "let x = 0; let i = 0; while i < 5 { x += 0.5; i += 1; } x"),
        ],
        "",
    );
}

#[test]
fn functions_and_recursion() {
    let extra = r#"
fn fact(k) { if k <= 1 { 1 } else { k * fact(k - 1) } }
fn deep(k) { if k == 0 { 0 } else { 1 + deep(k - 1) } }
fn early(k) { for x in [1, 2, 3] { if x == k { return x * 10; } } -1 }
fn none(k) { }
fn noret(k) { let y = k; }
fn loops(k) { let i = 0; while true { i += 1; if i >= k { return i; } } }
fn twice(a, b) { a + b }
fn change(a) { a.push(99); a.len() }
"#;
    agree_all(
        &[
            ("fact", "fact(10 * n)"),
            ("fact overflow", "fact(25 * n)"),
            ("deep 5", "deep(5 * n)"),
            ("deep 14", "deep(14 * n)"),
            ("deep 15", "deep(15 * n)"),
            ("deep 30", "deep(30 * n)"),
            ("deep 100", "deep(100 * n)"),
            ("early", "early(2 * n)"),
            ("early miss", "early(5 * n)"),
            ("none", "`${none(n)}`"),
            ("noret", "`${noret(n)}`"),
            ("loops", "loops(50 * n)"),
            ("twice strings", "twice(`a${n}`, \"b\")"),
            ("twice mixed", "twice(n, 0.5)"),
            ("twice bad", "twice(n, \"b\")"),
            (
                "args by value",
                "let a = [n]; let k = change(a); `${k} ${a.len()}`",
            ),
        ],
        extra,
    );
}

#[test]
fn natives_and_properties() {
    agree_all(
        &[
            ("count", "user.count(\"chat\", days(7))"),
            ("count str", "user.count(\"chat\", \"7d\")"),
            ("count float", "user.count(\"chat\", 1.5 * 86400000)"),
            ("count bad kind", "user.count(\"nope\", days(7))"),
            ("count bad window", "user.count(\"chat\", \"seven\")"),
            ("count unit window", "user.count(\"chat\", event.staff_id)"),
            ("count neg window", "user.count(\"chat\", -n)"),
            ("count between", "user.count(\"chat\", \"14d\", \"7d\")"),
            ("has", "user.has(\"intent/price\")"),
            ("has unknown", "user.has(`nope/${n}`)"),
            ("has int", "user.has(n)"),
            ("tag_in", "`[${user.tag_in(\"intent\")}]`"),
            ("tag_in unknown", "user.tag_in(`nope${n}`)"),
            ("get unset", "`${user.get(\"v\")}`"),
            ("set get", "user.set(\"v\", n * 2.5); user.get(\"v\")"),
            ("set string", "user.set(\"v\", `s${n}`); user.get(\"v\")"),
            ("set array", "user.set(\"v\", [n]); user.get(\"v\")"),
            ("set unit", "user.set(\"v\", ()); user.get(\"v\")"),
            ("unset", "user.set(\"v\", n); user.unset(\"v\"); `${user.get(\"v\")}`"),
            ("paid orders", "let o = user.paid_orders(); `${o.count} ${o.amount} ${o.promo} ${o.promo_share} ${o.average} ${o.last} ${o.first}`"),
            ("paid orders within", "let o = user.paid_orders(days(1)); `${o.count} ${o.amount} ${o.average}`"),
            ("orders bad prop", "let o = user.paid_orders(); o.id"),
            ("user props", "`${user.events} ${user.first_seen} ${user.last_seen} ${user.age()} ${user.since_last()}`"),
            ("first seen of", "`${user.first_seen(\"chat\")} ${user.last_seen(\"order\")}`"),
            ("first seen bad", "user.first_seen(\"nope\")"),
            ("event on user", "user.amount"),
            ("user on event", "event.events"),
            ("decay", "user.decay_add(\"d\", \"7d\", n); user.decayed(\"d\", days(7))"),
            ("decay int weight", "user.decay_add(\"d\", days(7), 2)"),
            ("decay str weight", "user.decay_add(\"d\", days(7), \"2\")"),
            ("decay below", "user.decay_add(\"d\", days(7), 5.0); `${user.decay_below_at(\"d\", days(7), 1)}`"),
            ("record hit", "user.record_hit(\"h\", days(1))"),
            ("window exit", "`${user.window_exit(\"chat\", days(1))}`"),
            ("count below at", "`${user.count_below_at(\"chat\", days(1), 1)}`"),
            ("grade", "`${grade_at_least(n * 5, [10, 5, 1])} ${grade_at_most(n, [0.5, 2])} ${(n * 2.5).grade_at_least([3, 2])}`"),
            ("grade bad", "grade_at_least(n, [\"a\"])"),
            ("grade empty", "grade_at_least(n, [])"),
            ("grade unit", "grade_at_least(event.staff_id, [1])"),
            ("wake", "user.wake_in(days(1)); user.wake_at(now() + 5); user.cancel_wake(); 1"),
            ("wake earliest", "user.wake_at_earliest([(), now() + 10, now() + 5]); 1"),
            ("wake earliest bad", "user.wake_at_earliest([\"x\"]); 1"),
            ("wake past", "user.wake_at(0); 1"),
            ("duration", "duration(\"36h\")"),
            ("duration bad", "duration(\"x\")"),
            ("duration int", "duration(n)"),
            ("now", "now() - event.ts"),
            ("tag twice", "tag(\"service/complaint\"); tag(\"service/complaint\", \"again\"); 1"),
            ("tag unknown", "tag(`nope/${n}`); 1"),
            ("tag opts", "tag(\"service/complaint\", #{reason: `r${n}`, score: n * 2, ttl: \"1d\"}); 1"),
            ("tag opts bad", "tag(\"service/complaint\", #{color: 1}); 1"),
            ("tag opts unit ttl", "tag(\"service/complaint\", #{ttl: ()}); 1"),
            ("tag reason int", "tag(\"service/complaint\", n); 1"),
            ("untag", "tag(\"service/complaint\"); untag(\"service/complaint\", \"gone\"); 1"),
            ("untag group", "tag(\"activity/high\"); untag_group(\"activity\", \"r\"); 1"),
            ("exclusive", "tag(\"activity/high\"); tag(\"activity/low\"); user.tag_in(\"activity\")"),
            ("len array", "[n, 2, 3].len()"),
            ("len map", "#{a: n}.len()"),
            ("len int", "n.len()"),
            ("push non array", "let s = `${n}`; s.push(1); s"),
            ("push nested", "let a = []; a.push([n]); a.push(a); a.len()"),
            ("push self", "let a = [n]; a.push(a); `${a}`"),
            ("array of maps", "let a = [#{x: n}]; a.len()"),
            ("map prop", "let m = #{amount: n}; m.amount"),
            ("map index", "let m = #{a: n}; m[\"a\"]"),
            ("map field missing", "let m = #{amount: n}; m.count"),
            ("hits props", "let s = \"\"; for h in event.keyword_hits() { s += `${h.tag} ${h.word} ${h.hits} ${h.within} ${h.ttl}`; } s"),
        ],
        "",
    );
}

/// `days`, `hours` and `minutes` of a count whose milliseconds overflow are the rule's error,
/// in both tiers, not a time wrapped round to some other.
#[test]
fn a_duration_past_the_largest_time_is_an_error() {
    for (call, shown) in [
        ("days(9223372036854775807 - z)", "days(9223372036854775807)"),
        (
            "hours(-9223372036854775807 - n)",
            "hours(-9223372036854775808)",
        ),
        ("minutes(n * 400000000000000)", "minutes(400000000000000)"),
    ] {
        let mut pack = pack_of(&[("corner", &rule(call, ""))]).unwrap();
        assert!(!compiled_rules(&pack).is_empty(), "{call}: not compiled");
        pack.limits.time_budget_ms = 0;
        let (why, outcome) = compare(&pack, &events());
        assert_eq!(why, None, "{call}");
        let message = format!("{shown} is past the largest time");
        assert!(
            outcome.outputs.iter().any(|o| o.contains(&message)),
            "{call}: {:?}",
            outcome.outputs
        );
        assert!(
            !outcome.outputs.iter().any(|o| o.contains("intent/price")),
            "{call}: {:?}",
            outcome.outputs
        );
    }
}
