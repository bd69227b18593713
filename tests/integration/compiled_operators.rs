//! Rules as operators write them, other than the default pack's, run compiled and interpreted
//! over long generated streams: state kept across events (variables, decayed sums, windows,
//! the order ledger, held tags), timers and their `on_tick`, expiries, late events and invalid
//! lines. The random rules of `programs.rs` run over a few dozen events; these run over tens of
//! thousands, where a difference that needs state built up over days would show.

use tagstream::generate::{generate, GenOptions};

use crate::compiled::{agree, compiled_rules};
use crate::support::pack_of;

/// Night chats counted in a variable; a tag whose score and reason come from it.
const NIGHT_OWL: &str = r#"
fn on_chat(event, user) {
    let hour = (event.ts % days(1)) / hours(1);
    if hour >= 6 {
        return;
    }
    let n = user.get("night");
    if n == () {
        n = 0;
    }
    n += 1;
    user.set("night", n);
    if n >= 3 && !user.has("service/complaint") {
        tag("intent/price", #{ score: n * 0.1, reason: `night chats ${n}, last at ${hour}h` });
    }
}
"#;

/// Paid orders of 30 days graded through an array; promotions counted.
const SPENDER: &str = r#"
fn on_order(event, user) {
    let s = user.paid_orders(days(30));
    let bands = [100.0, 500.0, 2000.0];
    let band = 0;
    for b in bands {
        if s.amount >= b {
            band += 1;
        }
    }
    if band >= 2 {
        tag("value/high", #{ score: round_to(s.amount / 1000.0, 3), reason: `band ${band} of ${bands.len()}` });
    } else if band == 1 {
        tag("value/medium", `average ${round_to(s.average, 2)} over ${s.count}`);
    } else {
        untag_group("value", "little spent in 30 days");
    }
    if event.promo {
        let p = user.get("promo");
        user.set("promo", if p == () { 1 } else { p + 1 });
    }
}
"#;

/// A complaint with no chat in the two days after it: a timer and its `on_tick`, a tag with a
/// TTL of its own.
const FOLLOW_UP: &str = r#"
fn on_chat(event, user) {
    for hit in event.keyword_hits() {
        if hit.tag == "service/complaint" {
            user.set("complained_at", event.ts);
            user.wake_in("2d");
        }
    }
}

fn on_tick(user, now) {
    let at = user.get("complained_at");
    if at != () && now - at >= days(2) {
        if user.count("chat", days(2)) <= 1 {
            tag("service/complaint", #{ reason: "no reply in 2 days", ttl: "3d" });
        }
        user.unset("complained_at");
    }
}
"#;

/// Clicks as a decayed sum, graded; the rule wakes when the sum would fall below a grade.
const CLICKER: &str = r#"
fn half() { days(3) }

fn on_click(event, user) {
    let s = user.decay_add("clicks", half(), 1.0);
    let g = grade_at_least(s, [8.0, 5.0, 3.0, 1.5]);
    if g >= 4 {
        tag("activity/high", #{ score: round_to(s, 2), reason: `click grade ${g}` });
        user.wake_at(user.decay_below_at("clicks", half(), 5.0));
    } else if g == 3 && !user.has("activity/high") {
        tag("activity/medium", `click grade ${g}`);
    }
}

fn on_tick(user, now) {
    let s = user.decayed("clicks", half());
    if s < 5.0 && user.has("activity/high") {
        untag("activity/high", `decayed to ${round_to(s, 2)}`);
    }
}
"#;

/// Loops of every kind, recursion, arrays built and read, integer arithmetic on order counts.
const PUZZLE: &str = r#"
fn fib(n) {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

fn on_order(event, user) {
    let n = user.paid_orders().count;
    let f = fib(n % 15);
    let squares = [];
    let i = 0;
    while i < n % 7 {
        squares.push(i * i);
        i += 1;
    }
    let total = 0;
    for (x, j) in squares {
        total += x * j;
    }
    do {
        total -= 3;
    } until total < 10;
    loop {
        total += 1;
        if total % 4 == 0 { break; }
    }
    if f > 20 && total % 8 == 0 {
        tag("trait/price-sensitive", #{ reason: `fib ${f}, total ${total}` });
    } else {
        untag("trait/price-sensitive", `fib ${f}`);
    }
}
"#;

/// Chats of this week against last week's; a stage held while the trend lasts, left when the
/// week's chats leave the window.
const TREND: &str = r#"
fn on_event(event, user) {
    let recent = user.count("chat", days(7));
    let before = user.count("chat", days(14), days(7));
    let trend = if before == 0 {
        if recent > 0 { 1.0 * recent } else { 0.0 }
    } else {
        recent.to_float() / before
    };
    if trend >= 2.0 && recent >= 3 {
        tag("lifecycle/growing", #{ score: round_to(trend, 3), reason: `chats ${before} -> ${recent}` });
        let exit = user.window_exit("chat", days(7));
        if exit != () {
            user.wake_at(exit);
        }
    }
}

fn on_tick(user, now) {
    let recent = user.count("chat", days(7));
    switch recent {
        0 => untag_group("lifecycle", "no chat this week"),
        1..3 => untag("lifecycle/growing", `${recent} chats this week`),
        _ => user.wake_in(days(1)),
    }
}
"#;

/// Event fields, ids, the held tags and the user's times written into reasons.
const PROFILE: &str = r#"
fn on_click(event, user) {
    let ch = event.channel;
    let tags = user.tags;
    let first_order = user.first_seen("order");
    let last_chat = user.last_seen("chat");
    let known = if first_order == () { "no order" } else { `first order ${as_days(event.ts - first_order).floor().to_int()} days ago` };
    if tags.len() >= 3 && event.target.len() > 0 {
        tag("intent/purchase", #{ reason: `${tags.len()} tags, ${known}, via ${ch}`, ttl: days(10) });
    }
    if last_chat != () && event.ts - last_chat > days(20) && user.events > 10 {
        untag("intent/purchase", `${user.id}: no chat for ${as_days(event.ts - last_chat).floor()} days`);
    }
}

fn on_event(event, user) {
    if user.events == 1 {
        tag("identity/newcomer", #{ reason: `first ${event.type} ${event.id}` });
    }
}
"#;

#[test]
fn operator_rules_agree_with_the_interpreter_over_long_streams() {
    let rules = [
        ("night_owl", NIGHT_OWL),
        ("spender", SPENDER),
        ("follow_up", FOLLOW_UP),
        ("clicker", CLICKER),
        ("puzzle", PUZZLE),
        ("trend", TREND),
        ("profile", PROFILE),
    ];
    let pack = pack_of(&rules).expect("the rules load");
    // Each runs compiled: otherwise the comparison below would compare the interpreter with
    // itself.
    let names: Vec<&str> = rules.iter().map(|(name, _)| *name).collect();
    let mut compiled = compiled_rules(&pack);
    compiled.sort();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(compiled, expected);
    let streams = [
        GenOptions {
            users: 300,
            events: 25_000,
            days: 120,
            seed: 31,
            personas: true,
            late_per_mille: 30,
            ..GenOptions::default()
        },
        GenOptions {
            users: 2_000,
            events: 25_000,
            days: 40,
            seed: 37,
            invalid_per_mille: 20,
            ..GenOptions::default()
        },
    ];
    for opts in &streams {
        let mut lines = Vec::new();
        generate(opts, &mut lines).unwrap();
        let (out, fallbacks) = agree(&pack, &lines);
        assert!(
            out.len() > 3_000,
            "the stream exercises the rules: {}",
            out.len()
        );
        // Every rule tagged something, so every rule's path was compared.
        for name in &names {
            let by = format!("\"rule\":\"{name}\"");
            assert!(
                out.iter().any(|o| o.contains(&by)),
                "{name} never changed a tag"
            );
        }
        assert_eq!(fallbacks, 0, "no call left the compiled path");
    }
}
