//! The default rule pack, rule 3 (`rules/lifecycle.rhai`): one lifecycle stage per user, moved
//! by events and by silence alone, plus `identity/newcomer` (RULEPACK.md §3). Also a randomized
//! run of the whole pack checking that exclusive groups never hold two members.

use std::collections::{BTreeMap, BTreeSet, HashSet};

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

/// `(op, tag, ts)` of a move from stage `from` to stage `to` at `ts`.
fn moved<'a>(from: &'a str, to: &'a str, ts: i64) -> [(Op, &'a str, i64); 2] {
    [(Remove, from, ts), (Add, to, ts)]
}

/// The lifecycle history of `user`: the first stage, then each move.
fn stages<'a>(first: (&'a str, i64), moves: &[(&'a str, &'a str, i64)]) -> Vec<(Op, &'a str, i64)> {
    let mut out = vec![(Add, first.0, first.1)];
    for (from, to, ts) in moves {
        out.extend(moved(from, to, *ts));
    }
    out
}

const NEW: &str = "lifecycle/new";
const SILENT: &str = "lifecycle/silent";
const GROWING: &str = "lifecycle/growing";
const MATURE: &str = "lifecycle/mature";
const DORMANT: &str = "lifecycle/dormant";
const DECLINING: &str = "lifecycle/declining";
const CHURNED: &str = "lifecycle/churned";

/// Three paid orders of 100 at T0, +1 d, +2 d (mature at +2 d).
fn three_orders(user: &str) -> Vec<String> {
    (0..3)
        .map(|i| order(user, T0 + i * DAY, &format!("{user}-o{i}"), 100.0, false))
        .collect()
}

#[test]
fn first_event_gives_new_and_a_72_hour_newcomer_tag() {
    let r = run(&[
        chat("u", T0, "hi"),
        chat("u", T0 + HOUR, "hi again"),
        tick(T0 + 72 * HOUR - 1),
    ]);
    assert_eq!(history(&r, "u", "lifecycle/"), [(Add, NEW, T0)]);
    assert_eq!(
        history(&r, "u", "identity/"),
        [(Add, "identity/newcomer", T0)]
    );
    let newcomer = r.last_add("u", "identity/newcomer").unwrap();
    assert_eq!(newcomer.expires_at, Some(T0 + 72 * HOUR));
    assert_eq!(&*newcomer.rule, "lifecycle");

    let r = run(&[
        chat("u", T0, "hi"),
        tick(T0 + 72 * HOUR),
        chat("u", T0 + 4 * DAY, "back"),
    ]);
    assert_eq!(
        history(&r, "u", "identity/"),
        [
            (Add, "identity/newcomer", T0),
            (Remove, "identity/newcomer", T0 + 72 * HOUR)
        ],
        "removed at exactly 72 h, and not given again on a later event"
    );
}

#[test]
fn new_becomes_silent_after_seven_days_by_timer() {
    let r = run(&[chat("u", T0 + HOUR, "hi"), tick(T0 + 10 * DAY)]);
    assert_eq!(
        history(&r, "u", "lifecycle/"),
        stages((NEW, T0 + HOUR), &[(NEW, SILENT, T0 + 7 * DAY + HOUR)])
    );
    assert_eq!(r.last_add("u", SILENT).unwrap().event_id, None);
}

#[test]
fn six_chats_in_fourteen_days_make_growing() {
    let five: Vec<String> = (0..5).map(|i| chat("u", T0 + i * DAY, "hi")).collect();
    let r = run(&five);
    assert_eq!(history(&r, "u", "lifecycle/"), [(Add, NEW, T0)]);

    let six: Vec<String> = (0..6).map(|i| chat("u", T0 + i * DAY, "hi")).collect();
    let r = run(&six);
    assert_eq!(
        history(&r, "u", "lifecycle/"),
        stages((NEW, T0), &[(NEW, GROWING, T0 + 5 * DAY)])
    );
    let growing = r.last_add("u", GROWING).unwrap();
    assert_eq!(
        growing.event_id.as_deref(),
        Some(format!("c-u-{}", T0 + 5 * DAY).as_str())
    );
}

#[test]
fn growing_stays_while_the_older_half_holds_three_chats() {
    // Six chats in the first 5 h. From +14 d the 14-day count falls below 6 as they leave, but
    // the older half [now−14d, now−7d) still holds ≥ 3 until the fourth one leaves at
    // +14 d 3 h + 1 ms; only then are both halves below 3.
    let mut lines: Vec<String> = (0..6).map(|i| chat("u", T0 + i * HOUR, "hi")).collect();
    lines.push(tick(T0 + 20 * DAY));
    let r = run(&lines);
    assert_eq!(
        history(&r, "u", "lifecycle/"),
        stages(
            (NEW, T0),
            &[
                (NEW, GROWING, T0 + 5 * HOUR),
                (GROWING, SILENT, T0 + 14 * DAY + 3 * HOUR + 1)
            ]
        )
    );
}

#[test]
fn growing_stays_while_the_recent_half_holds_three_chats() {
    // Six chats in the first 5 h, three more at +8 d. At +14 d 5 h the 14-day window holds only
    // the three of +8 d, all in the recent half: still growing. At +15 d + 1 ms the first of
    // them moves to the older half: 2 and 1, both below 3: the user leaves growing.
    let mut lines: Vec<String> = (0..6).map(|i| chat("u", T0 + i * HOUR, "hi")).collect();
    lines.extend((0..3).map(|i| chat("u", T0 + 8 * DAY + i * HOUR, "more")));
    lines.push(tick(T0 + 25 * DAY));
    let r = run(&lines);
    assert_eq!(
        history(&r, "u", "lifecycle/"),
        stages(
            (NEW, T0),
            &[
                (NEW, GROWING, T0 + 5 * HOUR),
                (GROWING, SILENT, T0 + 15 * DAY + 1)
            ]
        )
    );
}

#[test]
fn silence_makes_declining_at_thirty_days_and_churned_at_ninety() {
    let r = run(&[chat("u", T0, "hi"), tick(T0 + 100 * DAY)]);
    assert_eq!(
        history(&r, "u", "lifecycle/"),
        stages(
            (NEW, T0),
            &[
                (NEW, SILENT, T0 + 7 * DAY),
                (SILENT, DECLINING, T0 + 30 * DAY),
                (DECLINING, CHURNED, T0 + 90 * DAY)
            ]
        )
    );
    // A clock 1 ms short of each boundary does not move the user.
    let r = run(&[chat("u", T0, "hi"), tick(T0 + 30 * DAY - 1)]);
    assert!(r.tags("u").contains(SILENT), "{:?}", r.tags("u"));
    let r = run(&[chat("u", T0, "hi"), tick(T0 + 90 * DAY - 1)]);
    assert!(r.tags("u").contains(DECLINING), "{:?}", r.tags("u"));
}

#[test]
fn a_declining_user_who_comes_back_is_silent_then_growing() {
    let mut lines = vec![chat("u", T0, "hi"), tick(T0 + 40 * DAY)];
    lines.extend((0..6).map(|i| chat("u", T0 + 40 * DAY + i * HOUR, "I'm back")));
    let r = run(&lines);
    let back = T0 + 40 * DAY;
    assert_eq!(
        history(&r, "u", "lifecycle/"),
        stages(
            (NEW, T0),
            &[
                (NEW, SILENT, T0 + 7 * DAY),
                (SILENT, DECLINING, T0 + 30 * DAY),
                (DECLINING, SILENT, back),
                (SILENT, GROWING, back + 5 * HOUR),
            ]
        )
    );
    let silent = r.last_add("u", SILENT).unwrap();
    assert_eq!(
        silent.event_id.as_deref(),
        Some(format!("c-u-{back}").as_str())
    );
}

#[test]
fn a_churned_buyer_who_comes_back_is_dormant_then_mature_again() {
    let mut lines = three_orders("u");
    lines.push(tick(T0 + 100 * DAY));
    lines.push(chat("u", T0 + 100 * DAY, "hello again")); // last paid order 98 d ago: dormant
    lines.push(order("u", T0 + 101 * DAY, "u-o3", 100.0, false)); // a fresh order: mature
    let r = run(&lines);
    assert_eq!(
        history(&r, "u", "lifecycle/"),
        stages(
            (NEW, T0),
            &[
                (NEW, MATURE, T0 + 2 * DAY),
                (MATURE, DECLINING, T0 + 32 * DAY),
                (DECLINING, CHURNED, T0 + 92 * DAY),
                (CHURNED, DORMANT, T0 + 100 * DAY),
                (DORMANT, MATURE, T0 + 101 * DAY),
            ]
        )
    );
}

#[test]
fn mature_turns_dormant_90_days_after_the_last_order_while_the_user_keeps_chatting() {
    let mut lines = three_orders("u");
    lines.extend([20, 40, 60, 80].map(|d| chat("u", T0 + d * DAY, "still here")));
    lines.push(tick(T0 + 95 * DAY));
    let r = run(&lines);
    assert_eq!(
        history(&r, "u", "lifecycle/"),
        stages(
            (NEW, T0),
            &[
                (NEW, MATURE, T0 + 2 * DAY),
                (MATURE, DORMANT, T0 + 92 * DAY + 1)
            ]
        )
    );
    let dormant = r.last_add("u", DORMANT).unwrap();
    assert_eq!(dormant.event_id, None, "moved by the timer");
}

#[test]
fn a_refund_taking_paid_orders_from_three_to_two_leaves_mature() {
    let mut lines = three_orders("u");
    lines.push(refund("u", T0 + 10 * DAY, "u-o2"));
    let r = run(&lines);
    assert_eq!(
        history(&r, "u", "lifecycle/"),
        stages(
            (NEW, T0),
            &[(NEW, MATURE, T0 + 2 * DAY), (MATURE, SILENT, T0 + 10 * DAY)]
        )
    );
    assert_eq!(
        r.last_add("u", SILENT).unwrap().event_id.as_deref(),
        Some("o-u-o2-refund")
    );

    // A refund of an order the user never paid changes nothing.
    let mut lines = three_orders("v");
    lines.push(refund("v", T0 + 10 * DAY, "other"));
    let r = run(&lines);
    assert_eq!(
        history(&r, "v", "lifecycle/"),
        stages((NEW, T0), &[(NEW, MATURE, T0 + 2 * DAY)])
    );
}

#[test]
fn declining_takes_precedence_over_mature() {
    // Three paid orders, the last only 30 d ago (mature would hold), but silent for 30 d.
    let mut lines = three_orders("u");
    lines.push(tick(T0 + 40 * DAY));
    let r = run(&lines);
    assert_eq!(
        history(&r, "u", "lifecycle/"),
        stages(
            (NEW, T0),
            &[
                (NEW, MATURE, T0 + 2 * DAY),
                (MATURE, DECLINING, T0 + 32 * DAY)
            ]
        )
    );
}

#[test]
fn mature_takes_precedence_over_growing() {
    let mut lines = three_orders("u");
    lines.extend((0..6).map(|i| chat("u", T0 + 3 * DAY + i * HOUR, "hi")));
    let r = run(&lines);
    assert_eq!(
        history(&r, "u", "lifecycle/"),
        stages((NEW, T0), &[(NEW, MATURE, T0 + 2 * DAY)])
    );
}

#[test]
fn randomized_stream_keeps_exclusive_groups_single_and_ids_unique() {
    const USERS: u64 = 20;
    const EVENTS: i64 = 600;
    let span = 200 * DAY;
    let texts = [
        "你好",
        "价格多少",
        "想购买",
        "怎么买",
        "我要投诉",
        "buy it",
        "PRICE?",
        "退款",
        "ok",
        "好的",
    ];
    let mut rng = Lcg(42);
    let mut lines = Vec::new();
    let mut orders: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut refunded: HashSet<String> = HashSet::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for i in 0..EVENTS {
        // Skewed towards low user numbers, so some users are busy and others rare.
        let user = format!("r{}", rng.below(USERS).min(rng.below(USERS)));
        let mut ts = T0 + i * span / EVENTS + rng.below(8 * HOUR as u64) as i64;
        if rng.below(20) == 0 {
            ts -= rng.below(2 * DAY as u64) as i64; // late
        }
        let line = match rng.below(10) {
            0..=4 => chat(&user, ts, texts[rng.below(texts.len() as u64) as usize]),
            5 | 6 => click(&user, ts),
            7 | 8 => {
                let id = format!("o{i}");
                orders.entry(user.clone()).or_default().push(id.clone());
                order(
                    &user,
                    ts,
                    &id,
                    50.0 + rng.below(3000) as f64,
                    rng.below(2) == 0,
                )
            }
            _ => match orders.get(&user).filter(|o| !o.is_empty()) {
                Some(ids) => {
                    let id = ids[rng.below(ids.len() as u64) as usize].clone();
                    refunded.insert(id.clone());
                    refund(&user, ts, &id)
                }
                None => click(&user, ts),
            },
        };
        let mut v: serde_json::Value = serde_json::from_str(&line).unwrap();
        v["event_id"] = format!("e{i}").into();
        lines.push(v.to_string());
        seen.insert(user);
    }
    let r = run(&lines);
    assert!(r.dead.is_empty(), "{:?}", r.dead);

    // The fold panics if a change adds a held tag, removes an absent one, or an exclusive
    // group ever holds two members.
    let tags = fold(&r.changes);
    let ids: HashSet<_> = r.changes.iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), r.changes.len(), "output ids are unique");

    for user in &seen {
        let held = &tags[user];
        let in_group = |g: &str| {
            held.iter()
                .filter(|t| t.starts_with(&format!("{g}/")))
                .count()
        };
        assert_eq!(in_group("activity"), 1, "{user}: {held:?}");
        assert_eq!(in_group("lifecycle"), 1, "{user}: {held:?}");
        // Every order is within 365 d of the end: a segment and a tier iff one paid order stands.
        let paid = orders
            .get(user)
            .is_some_and(|o| o.iter().any(|id| !refunded.contains(id)));
        assert_eq!(in_group("rfm"), usize::from(paid), "{user}: {held:?}");
        assert_eq!(in_group("value"), usize::from(paid), "{user}: {held:?}");
    }

    // The stream exercised the groups: replacements happened in each exclusive group.
    for group in ["activity/", "lifecycle/", "rfm/", "value/"] {
        let replaced = r
            .changes
            .iter()
            .filter(|c| c.op == Remove && c.tag.starts_with(group))
            .count();
        assert!(replaced >= 5, "{group}: only {replaced} removals");
    }
    let stages: BTreeSet<&str> = r
        .changes
        .iter()
        .filter(|c| c.op == Add && c.tag.starts_with("lifecycle/"))
        .map(|c| &*c.tag)
        .collect();
    assert!(stages.len() >= 5, "{stages:?}");
}
