//! The default rule pack, rule 2 (`rules/activity.rhai`): a decayed activity score S with
//! hysteresis between levels, moved down by decay alone (RULEPACK.md §2).
//!
//! S is computed by hand: chat 1.0, click 0.5, paid order 3.0, refund 0, half-life 7 d.
//! Events at the same instant add exactly; crossing times follow S₀·2^(−t/H) < threshold.

use tagstream::tags::Op::{self, Add, Remove};

use crate::support::*;

const HALF_LIFE: f64 = 7.0 * DAY as f64;

/// `(op, tag, ts)` of `user`'s `activity/*` changes, in order.
fn history<'a>(run: &'a Run, user: &str) -> Vec<(Op, &'a str, i64)> {
    run.changes
        .iter()
        .filter(|c| &*c.user_id == user && c.tag.starts_with("activity/"))
        .map(|c| (c.op, &*c.tag, c.ts))
        .collect()
}

/// `(op, tag, event_id)` of `user`'s `activity/*` changes, in order.
fn triggers<'a>(run: &'a Run, user: &str) -> Vec<(Op, &'a str, Option<&'a str>)> {
    run.changes
        .iter()
        .filter(|c| &*c.user_id == user && c.tag.starts_with("activity/"))
        .map(|c| (c.op, &*c.tag, c.event_id.as_deref()))
        .collect()
}

/// `line` with its `event_id` replaced, to tell apart events of one user at one instant.
fn with_id(line: String, id: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&line).unwrap();
    v["event_id"] = id.into();
    v.to_string()
}

/// S decayed over `dt` ms with the default half-life.
fn decay(s: f64, dt: i64) -> f64 {
    s * (-(dt as f64) / HALF_LIFE).exp2()
}

/// When a score of `s` at `anchor` falls below `threshold` with half-life `half_life` (ms).
fn crossing(anchor: i64, s: f64, threshold: f64, half_life: f64) -> i64 {
    anchor + (half_life * (s / threshold).log2()).round() as i64
}

/// Asserts `user`'s activity changes are `expected` as `(op, tag, ts)`, times within 1 s.
fn assert_history_near(run: &Run, user: &str, expected: &[(Op, &str, i64)]) {
    let actual = history(run, user);
    let same = actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|(a, e)| a.0 == e.0 && a.1 == e.1 && (a.2 - e.2).abs() <= 1_000);
    assert!(
        same,
        "activity changes of {user}:\n  actual   {actual:?}\n  expected {expected:?}"
    );
}

#[test]
fn levels_rise_low_medium_high_exactly_at_3_and_10() {
    let steps = [
        chat("u", T0, "a"),                // 1.0  low
        click("u", T0),                    // 1.5
        chat("u", T0, "b"),                // 2.5  still low: up needs 3
        click("u", T0),                    // 3.0  medium
        order("u", T0, "o1", 50.0, false), // 6.0
        chat("u", T0, "c"),                // 7.0
        chat("u", T0, "d"),                // 8.0
        chat("u", T0, "e"),                // 9.0
        click("u", T0),                    // 9.5  still medium: up needs 10
        click("u", T0),                    // 10.0 high
    ];
    let lines: Vec<String> = steps
        .into_iter()
        .enumerate()
        .map(|(i, l)| with_id(l, &format!("e{}", i + 1)))
        .collect();
    let r = run(&lines);
    assert_eq!(
        triggers(&r, "u"),
        [
            (Add, "activity/low", Some("e1")),
            (Remove, "activity/low", Some("e4")),
            (Add, "activity/medium", Some("e4")),
            (Remove, "activity/medium", Some("e10")),
            (Add, "activity/high", Some("e10")),
        ]
    );
    let high = r.last_add("u", "activity/high").unwrap();
    assert_eq!(
        (&*high.rule, high.ts, high.expires_at),
        ("activity", T0, None)
    );
    assert!(high.reason.contains("10"), "{}", high.reason);
}

#[test]
fn decay_alone_moves_high_to_medium_to_low_at_the_crossing_times() {
    let mut lines: Vec<String> = (0..10).map(|_| chat("u", T0, "hi")).collect();
    lines.push(tick(T0 + 30 * DAY));
    let r = run(&lines);
    let to_medium = crossing(T0, 10.0, 8.0, HALF_LIFE); // ≈ T0 + 2.25 d
    let to_low = crossing(T0, 10.0, 2.0, HALF_LIFE); // ≈ T0 + 16.25 d
    assert_history_near(
        &r,
        "u",
        &[
            (Add, "activity/low", T0),
            (Remove, "activity/low", T0),
            (Add, "activity/medium", T0),
            (Remove, "activity/medium", T0),
            (Add, "activity/high", T0),
            (Remove, "activity/high", to_medium),
            (Add, "activity/medium", to_medium),
            (Remove, "activity/medium", to_low),
            (Add, "activity/low", to_low),
        ],
    );
    // Timer-made changes carry no event.
    let timed: Vec<_> = r
        .changes
        .iter()
        .filter(|c| &*c.user_id == "u" && c.tag.starts_with("activity/") && c.ts > T0)
        .collect();
    assert_eq!(timed.len(), 4);
    assert!(
        timed
            .iter()
            .all(|c| c.event_id.is_none() && &*c.rule == "activity"),
        "{timed:?}"
    );
    assert!(r.tags("u").contains("activity/low"));
}

#[test]
fn decay_alone_needs_only_the_clock_not_an_event_of_the_user() {
    // The clock only reaches +20 d through another user; user `u` has no event after T0.
    let mut lines: Vec<String> = (0..10).map(|_| chat("u", T0, "hi")).collect();
    lines.push(tick(T0 + 20 * DAY));
    let r = run(&lines);
    assert_eq!(
        r.tags("u")
            .into_iter()
            .filter(|t| t.starts_with("activity/"))
            .collect::<Vec<_>>(),
        ["activity/low"]
    );
    // And a clock short of the first crossing leaves the user high.
    let mut lines: Vec<String> = (0..10).map(|_| chat("u", T0, "hi")).collect();
    lines.push(tick(crossing(T0, 10.0, 8.0, HALF_LIFE) - 2_000));
    let r = run(&lines);
    assert!(r.tags("u").contains("activity/high"), "{:?}", r.tags("u"));
}

#[test]
fn high_is_kept_between_8_and_10() {
    let mut lines: Vec<String> = (0..10).map(|_| chat("u", T0, "hi")).collect();
    lines.push(chat("u", T0 + 2 * DAY, "again")); // S = 10·2^(−2/7) + 1 ≈ 9.20: still high
    lines.push(tick(T0 + 40 * DAY));
    let r = run(&lines);
    let s = decay(10.0, 2 * DAY) + 1.0;
    assert!(s > 8.0 && s < 10.0, "{s}");
    let anchor = T0 + 2 * DAY;
    let to_medium = crossing(anchor, s, 8.0, HALF_LIFE);
    let to_low = crossing(anchor, s, 2.0, HALF_LIFE);
    assert_history_near(
        &r,
        "u",
        &[
            (Add, "activity/low", T0),
            (Remove, "activity/low", T0),
            (Add, "activity/medium", T0),
            (Remove, "activity/medium", T0),
            (Add, "activity/high", T0),
            (Remove, "activity/high", to_medium),
            (Add, "activity/medium", to_medium),
            (Remove, "activity/medium", to_low),
            (Add, "activity/low", to_low),
        ],
    );
}

#[test]
fn medium_is_kept_between_2_and_3_on_the_way_down() {
    let lines = vec![
        chat("u", T0, "a"),
        chat("u", T0, "b"),
        chat("u", T0, "c"),       // 3.0 medium
        click("u", T0 + 3 * DAY), // 3·2^(−3/7) + 0.5 ≈ 2.73: kept medium
        tick(T0 + 20 * DAY),
    ];
    let r = run(&lines);
    let s = decay(3.0, 3 * DAY) + 0.5;
    assert!(s > 2.0 && s < 3.0, "{s}");
    let to_low = crossing(T0 + 3 * DAY, s, 2.0, HALF_LIFE);
    assert_history_near(
        &r,
        "u",
        &[
            (Add, "activity/low", T0),
            (Remove, "activity/low", T0),
            (Add, "activity/medium", T0),
            (Remove, "activity/medium", to_low),
            (Add, "activity/low", to_low),
        ],
    );
    let low = r.last_add("u", "activity/low").unwrap();
    assert_eq!(low.event_id, None);
}

#[test]
fn refund_weighs_nothing() {
    // Two chats and a refund: S stays 2.0 (a paid order would make it 5.0).
    let r = run(&[
        chat("u", T0, "a"),
        chat("u", T0, "b"),
        refund("u", T0, "o1"),
    ]);
    assert_eq!(history(&r, "u"), [(Add, "activity/low", T0)]);
    let r = run(&[
        chat("u", T0, "a"),
        chat("u", T0, "b"),
        order("u", T0, "o1", 10.0, false),
    ]);
    assert_eq!(
        history(&r, "u"),
        [
            (Add, "activity/low", T0),
            (Remove, "activity/low", T0),
            (Add, "activity/medium", T0)
        ]
    );

    // A refund neither adds nor takes back: S = 3.0 + 3·2^(−1) + 0 = 4.5 a half-life later,
    // so the user falls to low exactly when 4.5 decays below 2.
    let r = run(&[
        order("u", T0, "o1", 10.0, false),
        refund("u", T0 + 7 * DAY, "o1"),
        refund("u", T0 + 7 * DAY, "o2"),
        tick(T0 + 40 * DAY),
    ]);
    let s = decay(3.0, 7 * DAY);
    assert!((s - 1.5).abs() < 1e-12);
    // From 3.0 at T0 the user drops below 2 at T0 + 7d·log2(1.5) ≈ 4.09 d, before the refunds.
    let to_low = crossing(T0, 3.0, 2.0, HALF_LIFE);
    assert_history_near(
        &r,
        "u",
        &[
            (Add, "activity/medium", T0),
            (Remove, "activity/medium", to_low),
            (Add, "activity/low", to_low),
        ],
    );
}

#[test]
fn a_late_event_still_counts() {
    let lines = vec![
        tick(T0 + 10 * DAY),
        chat("u", T0 + 10 * DAY, "a"),
        chat("u", T0 + 10 * DAY, "b"),                 // 2.0 low
        order("u", T0 + 3 * DAY, "late", 20.0, false), // 7 d late: 3·2^(−1) = 1.5 → 3.5 medium
        tick(T0 + 30 * DAY),
    ];
    let r = run(&lines);
    let medium = r.last_add("u", "activity/medium").unwrap();
    assert_eq!(medium.event_id.as_deref(), Some("o-late-paid"));
    assert_eq!(
        medium.ts,
        T0 + 10 * DAY,
        "changes are stamped with the clock, not the late ts"
    );
    let to_low = crossing(T0 + 10 * DAY, 3.5, 2.0, HALF_LIFE);
    assert_history_near(
        &r,
        "u",
        &[
            (Add, "activity/low", T0 + 10 * DAY),
            (Remove, "activity/low", T0 + 10 * DAY),
            (Add, "activity/medium", T0 + 10 * DAY),
            (Remove, "activity/medium", to_low),
            (Add, "activity/low", to_low),
        ],
    );
}

#[test]
fn half_life_is_a_parameter() {
    let pack = pack_with(&[("TAGSTREAM_ACTIVITY__HALF_LIFE", "1d")]);
    let mut lines: Vec<String> = (0..10).map(|_| chat("u", T0, "hi")).collect();
    lines.push(tick(T0 + 10 * DAY));
    let r = run_lines(&pack, &lines);
    let h = DAY as f64;
    let (to_medium, to_low) = (crossing(T0, 10.0, 8.0, h), crossing(T0, 10.0, 2.0, h));
    assert_history_near(
        &r,
        "u",
        &[
            (Add, "activity/low", T0),
            (Remove, "activity/low", T0),
            (Add, "activity/medium", T0),
            (Remove, "activity/medium", T0),
            (Add, "activity/high", T0),
            (Remove, "activity/high", to_medium),
            (Add, "activity/medium", to_medium),
            (Remove, "activity/medium", to_low),
            (Add, "activity/low", to_low),
        ],
    );
}
