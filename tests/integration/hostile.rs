//! Hostile or careless rules are bounded: a timer that re-arms itself at now, a timer loop that
//! would fire without end while the clock makes one move, and a user's variables past the
//! per-user caps are rule errors naming the rule, and the stream goes on.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use tagstream::core::MAX_WAKES_PER_STEP;
use tagstream::rules::{Execution, RulePack, MAX_VARS_PER_USER, MAX_VAR_STRING_BYTES};

use crate::support::*;

/// Runs `lines` on another thread; fails the test if it takes longer than a few seconds.
fn run_bounded(pack: RulePack, lines: Vec<String>) -> Run {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run_lines(&pack, &lines));
    });
    let limit = Duration::from_secs(20);
    match rx.recv_timeout(limit) {
        Ok(run) => run,
        Err(RecvTimeoutError::Timeout) => panic!("the run did not finish within {limit:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("the run panicked"),
    }
}

fn pack_ok(rules: &[(&str, &str)]) -> RulePack {
    pack_of(rules).unwrap_or_else(|e| panic!("pack loads: {e}"))
}

#[test]
fn a_tick_re_arming_its_timer_at_now_is_a_rule_error_and_the_stream_goes_on() {
    let script = r#"
fn on_chat(event, user) {
    user.wake_in("1h");
}
fn on_tick(user, now) {
    tag("intent/price", "tick");
    user.wake_at(now);
}
"#;
    let mut lines = vec![chat("u", T0, "hi")];
    // Months of other users after it: the old engine fired a timer per second all the way.
    for d in 1..=90 {
        lines.push(tick(T0 + d * DAY));
    }
    let r = run_bounded(pack_ok(&[("spin", script)]), lines);
    assert_eq!(r.dead.len(), 1, "{:?}", r.dead);
    let d = &r.dead[0];
    assert_eq!(
        (d.rule.as_deref(), d.source.as_str()),
        (Some("spin"), "timer")
    );
    assert!(d.error.contains("re-armed its timer"), "{}", d.error);
    // The failing tick's changes are undone, like any rule error's.
    assert!(r.tags("u").is_empty(), "{:?}", r.tags("u"));
}

#[test]
fn re_arming_before_now_or_with_wake_in_zero_from_a_tick_is_refused_too() {
    for call in [
        "user.wake_at(now - 5000);",
        "user.wake_in(0);",
        "user.wake_in(\"0s\");",
    ] {
        let script = format!(
            "fn on_chat(event, user) {{ user.wake_in(\"1h\"); }}\nfn on_tick(user, now) {{ {call} }}\n"
        );
        let r = run_bounded(
            pack_ok(&[("spin", &script)]),
            vec![chat("u", T0, "hi"), tick(T0 + 30 * DAY)],
        );
        assert_eq!(r.dead.len(), 1, "{call}: {:?}", r.dead);
        assert!(r.dead[0].error.contains("re-armed"), "{}", r.dead[0].error);
    }
}

#[test]
fn a_timer_loop_one_second_apart_is_cut_at_the_bound_of_one_clock_move() {
    // Legal on each call (1 s ahead), endless in sum: a day of silence is 86,400 ticks.
    let script = format!(
        r#"
fn on_chat(event, user) {{
    user.wake_in(1000);
}}
fn on_tick(user, now) {{
    let n = user.get("n");
    if n == () {{ n = 0; }}
    n += 1;
    user.set("n", n);
    if n == 10 {{ tag("intent/price", "tick 10"); }}
    if n == {MAX_WAKES_PER_STEP} {{ tag("service/complaint", "the last tick allowed"); }}
    if n > {MAX_WAKES_PER_STEP} {{ tag("trait/price-sensitive", "one tick too many"); }}
    user.wake_in(1000);
}}
"#
    );
    for execution in [Execution::Compiled, Execution::Interpreted] {
        let pack = pack_ok(&[("loop", &script)]);
        let lines = vec![
            chat("u", T0, "hi"),
            tick(T0 + DAY),
            tick(T0 + 2 * DAY),
            chat("v", T0 + 2 * DAY, "hi"),
            tick(T0 + 2 * DAY + 10_000),
        ];
        let r = run_with(&pack, execution, &lines);
        let from_timer: Vec<_> = r.dead.iter().filter(|d| d.source == "timer").collect();
        assert_eq!(from_timer.len(), 1, "{execution:?}: {:?}", r.dead);
        let d = from_timer[0];
        assert_eq!(d.rule.as_deref(), Some("loop"));
        assert!(
            d.error
                .contains(&format!("more than {MAX_WAKES_PER_STEP} times")),
            "{}",
            d.error
        );
        // Exactly the bound fired; then the timer was dropped, so the next day fires nothing.
        let u = r.tags("u");
        assert!(u.contains("service/complaint"), "{execution:?}: {u:?}");
        assert!(!u.contains("trait/price-sensitive"), "{execution:?}: {u:?}");
        // A user whose loop stays within the bound is untouched: 10 ticks in 10 s.
        assert!(r.tags("v").contains("intent/price"), "{execution:?}");
        assert!(!r.tags("v").contains("service/complaint"));
    }
}

#[test]
fn a_daily_timer_still_catches_up_over_two_years_of_silence() {
    let script = r#"
fn on_chat(event, user) {
    user.wake_in("1d");
}
fn on_tick(user, now) {
    let n = user.get("n");
    if n == () { n = 0; }
    user.set("n", n + 1);
    if n + 1 == 730 { tag("intent/price", "two years of days"); }
    user.wake_in("1d");
}
"#;
    let r = run_bounded(
        pack_ok(&[("daily", script)]),
        vec![chat("u", T0, "hi"), tick(T0 + 731 * DAY)],
    );
    assert!(r.dead.is_empty(), "{:?}", r.dead);
    assert!(r.tags("u").contains("intent/price"));
}

#[test]
fn variables_past_the_per_user_caps_are_rule_errors() {
    let many = format!(
        "fn on_chat(event, user) {{\n    for i in 0..{} {{ user.set(`v${{i}}`, i); }}\n    tag(\"intent/price\");\n}}\n",
        MAX_VARS_PER_USER + 1
    );
    let fits = format!(
        "fn on_chat(event, user) {{\n    for i in 0..{MAX_VARS_PER_USER} {{ user.set(`v${{i}}`, i); user.set(`v${{i}}`, i + 1); }}\n    tag(\"intent/price\");\n}}\n"
    );
    // 2^11 bytes: twice the cap.
    assert_eq!(MAX_VAR_STRING_BYTES, 1_024);
    let long = "fn on_chat(event, user) {\n    let s = \"x\";\n    for i in 0..11 { s += s; }\n    user.set(\"s\", s);\n    tag(\"intent/price\");\n}\n".to_string();
    for (script, fails, needle) in [
        (
            &many,
            true,
            format!("the limit is {MAX_VARS_PER_USER} per user"),
        ),
        (&fits, false, String::new()),
        (&long, true, format!("the limit is {MAX_VAR_STRING_BYTES}")),
    ] {
        let r = run_bounded(pack_ok(&[("vars", script)]), vec![chat("u", T0, "hi")]);
        if fails {
            assert_eq!(r.dead.len(), 1, "{:?}", r.dead);
            assert_eq!(r.dead[0].rule.as_deref(), Some("vars"));
            assert!(r.dead[0].error.contains(&needle), "{}", r.dead[0].error);
            assert!(r.tags("u").is_empty());
        } else {
            assert!(r.dead.is_empty(), "{:?}", r.dead);
            assert!(r.tags("u").contains("intent/price"));
        }
    }
}

/// Runs lines through one processor with the given execution, end-of-input timers included.
fn run_with(pack: &RulePack, execution: Execution, lines: &[String]) -> Run {
    use tagstream::core::Processor;
    use tagstream::decode::Source;
    use tagstream::state::Partition;
    use tagstream::tags::Output;
    let mut processor = Processor::with_execution(pack, execution).unwrap();
    let mut part = Partition::new();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let source = Source::File {
            name: "t".into(),
            line: i as u64 + 1,
        };
        processor.process_record(&mut part, line.as_bytes(), &source, &mut out);
    }
    processor.finish(&mut part, &mut out);
    let mut run = Run::default();
    for o in out {
        match o {
            Output::Change(c) => run.changes.push(c),
            Output::Dead(d) => run.dead.push(d),
        }
    }
    run
}
