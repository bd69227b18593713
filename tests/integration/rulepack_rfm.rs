//! The default rule pack, rule 4 (`rules/rfm.rhai`): RFM segments, the weighted value tier V
//! and `trait/price-sensitive` over the paid orders of the last 365 d (RULEPACK.md §4).
//!
//! Grades: R ≤ 7/30/90/180 d → 5/4/3/2, else 1; F ≥ 10/5/3/2 → 5/4/3/2, else 1;
//! M ≥ 50000/10000/2000/500 → 5/4/3/2, else 1; "high" at grade ≥ 3.
//! V = (0.4·gM + 0.3·gF + 0.2·gAOV + 0.1·gP) × (1.5 while R ≤ 30 d).

use tagstream::tags::Op::{self, Add, Remove};

use crate::support::*;

/// `(op, tag, ts)` of `user`'s changes to tags starting with `prefix`, in order.
fn history<'a>(run: &'a Run, user: &str, prefix: &str) -> Vec<(Op, &'a str, i64)> {
    run.changes
        .iter()
        .filter(|c| &*c.user_id == user && c.tag.starts_with(prefix))
        .map(|c| (c.op, &*c.tag, c.ts))
        .collect()
}

/// The first tag, then each replacement `(from, to, ts)` as remove-then-add.
fn moves<'a>(first: (&'a str, i64), then: &[(&'a str, &'a str, i64)]) -> Vec<(Op, &'a str, i64)> {
    let mut out = vec![(Add, first.0, first.1)];
    for (from, to, ts) in then {
        out.extend([(Remove, *from, *ts), (Add, *to, *ts)]);
    }
    out
}

/// The scores of `user`'s `value/*` additions, in order.
fn value_scores(run: &Run, user: &str) -> Vec<(String, f64)> {
    run.changes
        .iter()
        .filter(|c| &*c.user_id == user && c.tag.starts_with("value/") && c.op == Add)
        .map(|c| {
            (
                c.tag.to_string(),
                c.score.expect("value tags carry V as score"),
            )
        })
        .collect()
}

fn assert_scores(run: &Run, user: &str, expected: &[(&str, f64)]) {
    let actual = value_scores(run, user);
    let same = actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|(a, e)| a.0 == e.0 && (a.1 - e.1).abs() < 1e-9);
    assert!(
        same,
        "value additions of {user}:\n  actual   {actual:?}\n  expected {expected:?}"
    );
}

/// The tag `user` holds in `group` at the end, if any.
fn held(run: &Run, user: &str, group: &str) -> Option<String> {
    run.tags(user)
        .into_iter()
        .find(|t| t.starts_with(&format!("{group}/")))
}

/// `n` paid orders of `amount` on consecutive days from `start`, ids `<user>-o<i>`.
fn orders(user: &str, start: i64, n: i64, amount: f64, promo: bool) -> Vec<String> {
    (0..n)
        .map(|i| {
            order(
                user,
                start + i * DAY,
                &format!("{user}-o{i}"),
                amount,
                promo,
            )
        })
        .collect()
}

const IV: &str = "rfm/important-value";
const ID: &str = "rfm/important-develop";
const IR: &str = "rfm/important-retain";
const IW: &str = "rfm/important-winback";
const GV: &str = "rfm/general-value";
const GD: &str = "rfm/general-develop";
const GR: &str = "rfm/general-retain";
const GW: &str = "rfm/general-winback";

#[test]
fn all_eight_segments() {
    // R high: orders from +95 d; R low: orders at T0..+2 d; the clock ends at +100 d.
    let recent = T0 + 95 * DAY;
    let mut lines = Vec::new();
    lines.extend(orders("iv", recent, 3, 1000.0, false)); // R5 F3 M3
    lines.extend(orders("id", recent, 1, 2500.0, false)); // R5 F1 M3
    lines.extend(orders("ir", T0, 3, 1000.0, false)); //     R2 F3 M3
    lines.extend(orders("iw", T0, 1, 2500.0, false)); //     R2 F1 M3
    lines.extend(orders("gv", recent, 3, 100.0, false)); //  R5 F3 M1
    lines.extend(orders("gd", recent, 1, 100.0, false)); //  R5 F1 M1
    lines.extend(orders("gr", T0, 3, 100.0, false)); //      R2 F3 M1
    lines.extend(orders("gw", T0, 1, 100.0, false)); //      R2 F1 M1
    lines.sort_by_key(|l| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["ts"]
            .as_i64()
            .unwrap()
    });
    lines.push(tick(T0 + 100 * DAY));
    let r = run(&lines);
    for (user, segment) in [
        ("iv", IV),
        ("id", ID),
        ("ir", IR),
        ("iw", IW),
        ("gv", GV),
        ("gd", GD),
        ("gr", GR),
        ("gw", GW),
    ] {
        assert_eq!(held(&r, user, "rfm").as_deref(), Some(segment), "{user}");
    }
    // The R-low segments came by timer, 90 d + 1 ms after the last paid order.
    for (user, from, to, last) in [
        ("ir", IV, IR, T0 + 2 * DAY),
        ("iw", ID, IW, T0),
        ("gr", GV, GR, T0 + 2 * DAY),
        ("gw", GD, GW, T0),
    ] {
        let h = history(&r, user, "rfm/");
        assert_eq!(
            h[h.len() - 2..],
            [
                (Remove, from, last + 90 * DAY + 1),
                (Add, to, last + 90 * DAY + 1)
            ],
            "{user}"
        );
        assert_eq!(r.last_add(user, to).unwrap().event_id, None);
    }
}

#[test]
fn grade_boundaries_decide_the_segment() {
    let mut lines = Vec::new();
    lines.extend(orders("f2", T0, 2, 1000.0, false)); // F = 2 is low, M = 2000 is high
    lines.extend(
        [("x", 500.0), ("y", 500.0), ("z", 1000.0)]
            .map(|(id, amount)| order("m2000", T0, id, amount, false)),
    ); // M = 2000: high
    lines.extend(["a", "b", "c"].map(|id| order("m1999", T0, id, 666.66, false))); // M = 1999.98: low
    let r = run(&lines);
    assert_eq!(held(&r, "f2", "rfm").as_deref(), Some(ID));
    assert_eq!(held(&r, "m1999", "rfm").as_deref(), Some(GV));
    assert_eq!(held(&r, "m2000", "rfm").as_deref(), Some(IV));

    // R = 90 d exactly is still high; 1 ms later it is not.
    let r = run(&[order("u", T0, "o", 2500.0, false), tick(T0 + 90 * DAY)]);
    assert_eq!(held(&r, "u", "rfm").as_deref(), Some(ID));
    let r = run(&[order("u", T0, "o", 2500.0, false), tick(T0 + 90 * DAY + 1)]);
    assert_eq!(held(&r, "u", "rfm").as_deref(), Some(IW));
}

#[test]
fn segment_and_tier_follow_each_order() {
    let r = run(&orders("u", T0, 3, 1000.0, false));
    assert_eq!(
        history(&r, "u", "rfm/"),
        moves((GD, T0), &[(GD, ID, T0 + DAY), (ID, IV, T0 + 2 * DAY)])
    );
    assert_eq!(r.last_add("u", GD).unwrap().reason, "R5 F1 M2");
    assert_eq!(r.last_add("u", IV).unwrap().reason, "R5 F3 M3");
    // 1 order:  (0.4·2 + 0.3·1 + 0.2·5 + 0.1·5)·1.5 = 3.9   medium
    // 2 orders: (0.4·3 + 0.3·2 + 0.2·5 + 0.1·5)·1.5 = 4.95  high
    // 3 orders: (0.4·3 + 0.3·3 + 0.2·5 + 0.1·5)·1.5 = 5.4   high, another score band: re-emitted
    assert_eq!(
        history(&r, "u", "value/"),
        moves(
            ("value/medium", T0),
            &[
                ("value/medium", "value/high", T0 + DAY),
                ("value/high", "value/high", T0 + 2 * DAY)
            ]
        )
    );
    assert_scores(
        &r,
        "u",
        &[
            ("value/medium", 3.9),
            ("value/high", 4.95),
            ("value/high", 5.4),
        ],
    );
}

#[test]
fn the_recency_timer_alone_moves_important_value_to_important_retain() {
    let mut lines = orders("u", T0, 3, 1000.0, false);
    lines.push(tick(T0 + 100 * DAY));
    let r = run(&lines);
    let last = T0 + 2 * DAY;
    assert_eq!(
        history(&r, "u", "rfm/"),
        moves(
            (GD, T0),
            &[
                (GD, ID, T0 + DAY),
                (ID, IV, last),
                (IV, IR, last + 90 * DAY + 1)
            ]
        )
    );
    // The boost ends at last + 30 d + 1 ms: V = 3.6, value/high → value/medium.
    let value = history(&r, "u", "value/");
    assert_eq!(
        value[value.len() - 2..],
        [
            (Remove, "value/high", last + 30 * DAY + 1),
            (Add, "value/medium", last + 30 * DAY + 1)
        ]
    );
    assert_scores(
        &r,
        "u",
        &[
            ("value/medium", 3.9),
            ("value/high", 4.95),
            ("value/high", 5.4),
            ("value/medium", 3.6),
        ],
    );
    assert_eq!(r.last_add("u", "value/medium").unwrap().event_id, None);
}

/// A user's orders (amount, promo), the value tier they end in, and its score.
type TierCase<'a> = (&'a str, &'a [(f64, bool)], &'a str, f64);

#[test]
fn value_tiers_and_scores() {
    let mut lines = Vec::new();
    let cases: [TierCase; 10] = [
        ("low", &[(100.0, false)], "value/low", 2.1), //               (.4+.3+.2+.5)·1.5
        ("aov200", &[(200.0, false)], "value/medium", 2.7), //         gAOV 3 from 200: (.4+.3+.6+.5)·1.5
        ("aov199", &[(199.99, false)], "value/low", 2.1),
        ("aov500", &[(500.0, false)], "value/medium", 3.3), //         gM 2, gAOV 3 up to 500
        ("aov501", &[(500.01, false)], "value/medium", 3.9), //        gAOV 5 above 500
        (
            "p067",
            &[(300.0, true), (300.0, true), (300.0, false)],
            "value/medium",
            3.9,
        ), // gP 3: (.8+.9+.6+.3)·1.5
        ("p050", &[(100.0, true), (100.0, false)], "value/low", 2.25), // P = 0.5 → gP 3: (.4+.6+.2+.3)·1.5
        (
            "p100",
            &[(100.0, true), (100.0, true), (100.0, true)],
            "value/low",
            2.4,
        ), // gP 1: (.4+.9+.2+.1)·1.5
        // P = 0.8 exactly → gP 3; F = 5 → gF 4; M = 500 → gM 2: (.8+1.2+.2+.3)·1.5
        (
            "p080",
            &[
                (100.0, true),
                (100.0, true),
                (100.0, true),
                (100.0, true),
                (100.0, false),
            ],
            "value/medium",
            3.75,
        ),
        (
            "high",
            &[(1000.0, false), (1000.0, false), (1000.0, false)],
            "value/high",
            5.4,
        ),
    ];
    for (user, list, _, _) in &cases {
        for (i, (amount, promo)) in list.iter().enumerate() {
            lines.push(order(user, T0, &format!("{user}-{i}"), *amount, *promo));
        }
    }
    let r = run(&lines);
    for (user, _, tier, v) in cases {
        assert_eq!(held(&r, user, "value").as_deref(), Some(tier), "{user}");
        let score = r.last_add(user, tier).unwrap().score.unwrap();
        assert!(
            (score - v).abs() < 1e-9,
            "{user}: V = {score}, expected {v}"
        );
    }
}

#[test]
fn value_without_the_boost_can_still_be_high() {
    // Ten orders of 6000: gM 5, gF 5, gAOV 5, gP 5 → V = 5.0 even 40 d after the last order.
    let mut lines = orders("u", T0, 10, 6000.0, false);
    lines.push(tick(T0 + 49 * DAY));
    let r = run(&lines);
    assert_eq!(held(&r, "u", "value").as_deref(), Some("value/high"));
    let scores = value_scores(&r, "u");
    let (tag, v) = scores.last().unwrap();
    assert_eq!((tag.as_str(), (v * 1e6).round() / 1e6), ("value/high", 5.0));
    assert_eq!(held(&r, "u", "rfm").as_deref(), Some(IV));
}

#[test]
fn the_end_of_the_boost_re_emits_a_tier_whose_score_changes_band() {
    let r = run(&[
        order("u", T0, "o", 100.0, false),
        tick(T0 + 30 * DAY),
        tick(T0 + 31 * DAY),
    ]);
    assert_eq!(
        history(&r, "u", "value/"),
        moves(
            ("value/low", T0),
            &[("value/low", "value/low", T0 + 30 * DAY + 1)]
        )
    );
    assert_scores(&r, "u", &[("value/low", 2.1), ("value/low", 1.4)]);
}

#[test]
fn a_refund_after_the_order_cancels_it() {
    let mut lines = orders("u", T0, 3, 1000.0, false);
    lines.push(refund("u", T0 + 3 * DAY, "u-o1"));
    let r = run(&lines);
    let h = history(&r, "u", "rfm/");
    assert_eq!(
        h[h.len() - 2..],
        [(Remove, IV, T0 + 3 * DAY), (Add, ID, T0 + 3 * DAY)]
    );
    assert_eq!(
        r.last_add("u", ID).unwrap().event_id.as_deref(),
        Some("o-u-o1-refund")
    );
    // F 2, M 2000: (1.2 + .6 + 1.0 + .5)·1.5 = 4.95, another band than 5.4.
    let (tag, v) = value_scores(&r, "u").pop().unwrap();
    assert_eq!(tag, "value/high");
    assert!((v - 4.95).abs() < 1e-9, "{v}");
}

#[test]
fn a_refund_before_the_paid_order_cancels_it() {
    let r = run(&[
        order("u", T0, "a", 100.0, false),
        refund("u", T0 + DAY, "b"),
        order("u", T0 + 2 * DAY, "b", 5000.0, false),
    ]);
    assert_eq!(history(&r, "u", "rfm/"), [(Add, GD, T0)]);
    assert_eq!(history(&r, "u", "value/"), [(Add, "value/low", T0)]);
}

#[test]
fn refunding_the_only_order_removes_segment_and_tier() {
    let r = run(&[
        order("u", T0, "a", 100.0, false),
        refund("u", T0 + DAY, "a"),
    ]);
    assert_eq!(
        history(&r, "u", "rfm/"),
        [(Add, GD, T0), (Remove, GD, T0 + DAY)]
    );
    assert_eq!(
        history(&r, "u", "value/"),
        [(Add, "value/low", T0), (Remove, "value/low", T0 + DAY)]
    );
}

#[test]
fn an_order_leaves_after_365_days_and_the_segment_goes_without_an_event() {
    let r = run(&[order("u", T0, "a", 100.0, false), tick(T0 + 400 * DAY)]);
    assert_eq!(
        history(&r, "u", "rfm/"),
        [
            (Add, GD, T0),
            (Remove, GD, T0 + 90 * DAY + 1),
            (Add, GW, T0 + 90 * DAY + 1),
            (Remove, GW, T0 + 365 * DAY + 1)
        ]
    );
    assert_eq!(
        history(&r, "u", "value/"),
        [
            (Add, "value/low", T0),
            (Remove, "value/low", T0 + 30 * DAY + 1),
            (Add, "value/low", T0 + 30 * DAY + 1),
            (Remove, "value/low", T0 + 365 * DAY + 1),
        ]
    );
    assert_eq!(held(&r, "u", "rfm"), None);
    assert_eq!(held(&r, "u", "value"), None);
}

#[test]
fn orders_leave_the_365_day_window_one_at_a_time() {
    let r = run(&[
        order("u", T0, "a", 1000.0, false),
        order("u", T0 + 200 * DAY, "b", 1000.0, false),
        tick(T0 + 400 * DAY),
    ]);
    let h = history(&r, "u", "rfm/");
    // F 2, M 2000 at +200 d; R low at +290 d; the first order leaves at +365 d: F 1, M 1000.
    assert_eq!(
        h[h.len() - 4..],
        [
            (Remove, ID, T0 + 290 * DAY + 1),
            (Add, IW, T0 + 290 * DAY + 1),
            (Remove, IW, T0 + 365 * DAY + 1),
            (Add, GW, T0 + 365 * DAY + 1),
        ]
    );
    // (0.4·2 + 0.3·1 + 0.2·5 + 0.1·5), no boost = 2.6.
    let (tag, v) = value_scores(&r, "u").pop().unwrap();
    assert_eq!(tag, "value/medium");
    assert!((v - 2.6).abs() < 1e-9, "{v}");
}

#[test]
fn price_sensitive_on_at_three_promo_orders_and_off_when_the_share_falls_to_80_percent() {
    let mut lines = orders("u", T0, 4, 100.0, true);
    lines.push(order("u", T0 + 4 * DAY, "full-price", 100.0, false)); // 4 of 5 = 0.8: not > 0.8
    let r = run(&lines);
    assert_eq!(
        history(&r, "u", "trait/"),
        [
            (Add, "trait/price-sensitive", T0 + 2 * DAY),
            (Remove, "trait/price-sensitive", T0 + 4 * DAY)
        ]
    );
    let off = r
        .changes
        .iter()
        .find(|c| c.op == Remove && &*c.tag == "trait/price-sensitive")
        .unwrap();
    assert_eq!(off.event_id.as_deref(), Some("o-full-price-paid"));

    // Two promo orders are too few; three with one at full price are too little promo.
    let mut lines = orders("two", T0, 2, 100.0, true);
    lines.extend(orders("mixed", T0, 2, 100.0, true));
    lines.push(order("mixed", T0 + 2 * DAY, "m3", 100.0, false));
    let r = run(&lines);
    assert_eq!(history(&r, "two", "trait/"), []);
    assert_eq!(history(&r, "mixed", "trait/"), []);
}

#[test]
fn price_sensitive_goes_when_a_refund_leaves_fewer_than_three_orders() {
    let mut lines = orders("u", T0, 3, 100.0, true);
    lines.push(refund("u", T0 + 5 * DAY, "u-o0"));
    let r = run(&lines);
    assert_eq!(
        history(&r, "u", "trait/"),
        [
            (Add, "trait/price-sensitive", T0 + 2 * DAY),
            (Remove, "trait/price-sensitive", T0 + 5 * DAY)
        ]
    );
}
