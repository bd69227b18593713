//! The default rule pack, rule 1 (`rules/keywords.rhai`): keyword tags from chat text, hit
//! windows, TTLs and their extension (RULEPACK.md §1).

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

/// The keyword tags (`intent/*`, `service/*`) `user` holds at the end.
fn keyword_tags(run: &Run, user: &str) -> Vec<String> {
    run.tags(user)
        .into_iter()
        .filter(|t| t.starts_with("intent/") || t.starts_with("service/"))
        .collect()
}

#[test]
fn one_chinese_word_is_enough_for_intent_price() {
    let r = run(&[chat("u", T0, "这个课程多少钱？")]);
    assert_eq!(history(&r, "u", "intent/"), [(Add, "intent/price", T0)]);
    let add = r.last_add("u", "intent/price").unwrap();
    assert_eq!(&*add.rule, "keywords");
    assert_eq!(add.event_id.as_deref(), Some(format!("c-u-{T0}").as_str()));
    assert_eq!(add.expires_at, Some(T0 + 30 * DAY));
    assert_eq!(add.score, None);
    assert!(add.reason.contains("多少钱"), "{}", add.reason);
    assert!(r.dead.is_empty(), "{:?}", r.dead);
}

#[test]
fn latin_words_match_case_insensitively() {
    let r = run(&[
        chat("upper", T0, "What is the PRICE?"),
        chat("mixed", T0, "PriCe list please"),
        chat("refund", T0, "I want a Refund now"),
    ]);
    assert_eq!(keyword_tags(&r, "upper"), ["intent/price"]);
    assert_eq!(keyword_tags(&r, "mixed"), ["intent/price"]);
    assert_eq!(keyword_tags(&r, "refund"), ["service/complaint"]);
}

#[test]
fn a_message_without_keywords_only_feeds_the_other_rules() {
    let r = run(&[chat("u", T0, "你好，请问今天天气怎么样")]);
    assert_eq!(
        r.ops("u"),
        [
            (Add, "activity/low".to_string()),
            (Add, "identity/newcomer".to_string()),
            (Add, "lifecycle/new".to_string()),
        ]
    );
}

#[test]
fn a_message_matching_two_tags_gives_both() {
    let r = run(&[chat("u", T0, "价格太贵了，我要投诉")]);
    assert_eq!(keyword_tags(&r, "u"), ["intent/price", "service/complaint"]);
    assert_eq!(
        r.last_add("u", "intent/price").unwrap().expires_at,
        Some(T0 + 30 * DAY)
    );
    assert_eq!(
        r.last_add("u", "service/complaint").unwrap().expires_at,
        Some(T0 + 7 * DAY)
    );
}

#[test]
fn purchase_needs_two_hits_and_one_message_is_one_hit() {
    // A single message with three purchase words (and "buy" twice) is still one hit.
    let r = run(&[chat("u", T0, "我想购买，怎么买？buy buy")]);
    assert_eq!(history(&r, "u", "intent/purchase"), []);

    let r = run(&[
        chat("u", T0, "我想购买"),
        chat("u", T0 + 3 * DAY, "在哪里付款"),
    ]);
    assert_eq!(
        history(&r, "u", "intent/purchase"),
        [(Add, "intent/purchase", T0 + 3 * DAY)]
    );
    assert_eq!(
        r.last_add("u", "intent/purchase").unwrap().expires_at,
        Some(T0 + 33 * DAY)
    );
}

#[test]
fn purchase_hits_eight_days_apart_do_not_count_together() {
    let r = run(&[chat("u", T0, "我想购买"), chat("u", T0 + 8 * DAY, "怎么买")]);
    assert_eq!(history(&r, "u", "intent/purchase"), []);
}

#[test]
fn purchase_window_is_seven_days_inclusive() {
    let r = run(&[chat("a", T0, "购买"), chat("a", T0 + 7 * DAY, "下单")]);
    assert_eq!(
        history(&r, "a", "intent/purchase"),
        [(Add, "intent/purchase", T0 + 7 * DAY)]
    );
    let r = run(&[chat("b", T0, "购买"), chat("b", T0 + 7 * DAY + 1, "下单")]);
    assert_eq!(history(&r, "b", "intent/purchase"), []);
}

#[test]
fn purchase_hit_window_slides() {
    // T0 and +8 d are too far apart; +8 d and +14 d are 6 d apart: the tag comes at +14 d.
    let r = run(&[
        chat("u", T0, "报名"),
        chat("u", T0 + 8 * DAY, "我要报名"),
        chat("u", T0 + 14 * DAY, "怎么付款"),
    ]);
    assert_eq!(
        history(&r, "u", "intent/purchase"),
        [(Add, "intent/purchase", T0 + 14 * DAY)]
    );
    assert_eq!(
        r.last_add("u", "intent/purchase")
            .unwrap()
            .event_id
            .as_deref(),
        Some(format!("c-u-{}", T0 + 14 * DAY).as_str())
    );
}

#[test]
fn price_expires_at_exactly_thirty_days_without_a_new_event() {
    // Ticks of another user move the clock; the removal is stamped with the expiry time.
    let r = run(&[chat("u", T0, "优惠吗"), tick(T0 + 30 * DAY - 1)]);
    assert_eq!(keyword_tags(&r, "u"), ["intent/price"]);

    let r = run(&[
        chat("u", T0, "优惠吗"),
        tick(T0 + 30 * DAY - 1),
        tick(T0 + 30 * DAY),
    ]);
    assert_eq!(
        history(&r, "u", "intent/"),
        [
            (Add, "intent/price", T0),
            (Remove, "intent/price", T0 + 30 * DAY)
        ]
    );
    let removal = r
        .changes
        .iter()
        .find(|c| c.op == Remove && &*c.tag == "intent/price")
        .unwrap();
    assert_eq!(removal.event_id, None);
    assert_eq!(&*removal.rule, "keywords");
    assert_eq!(keyword_tags(&r, "u"), Vec::<String>::new());

    // A clock far past the expiry still stamps the removal with the expiry time.
    let r = run(&[chat("u", T0, "优惠吗"), tick(T0 + 45 * DAY)]);
    assert_eq!(
        history(&r, "u", "intent/"),
        [
            (Add, "intent/price", T0),
            (Remove, "intent/price", T0 + 30 * DAY)
        ]
    );
    // The expiry happens before the clock-moving event is handled.
    let at = |pred: &dyn Fn(&tagstream::tags::TagChange) -> bool| {
        r.changes.iter().position(pred).unwrap()
    };
    let expiry = at(&|c| &*c.user_id == "u" && c.op == Remove && &*c.tag == "intent/price");
    let first_clock_change = at(&|c| &*c.user_id == "clock");
    assert!(
        expiry < first_clock_change,
        "expiry must fire before the clock-moving event"
    );
}

#[test]
fn a_hit_at_exactly_the_expiry_time_expires_then_adds_again() {
    let r = run(&[
        chat("u", T0, "便宜点"),
        chat("u", T0 + 30 * DAY, "再便宜点"),
    ]);
    assert_eq!(
        history(&r, "u", "intent/"),
        [
            (Add, "intent/price", T0),
            (Remove, "intent/price", T0 + 30 * DAY),
            (Add, "intent/price", T0 + 30 * DAY)
        ]
    );
    assert_eq!(
        r.last_add("u", "intent/price").unwrap().expires_at,
        Some(T0 + 60 * DAY)
    );
}

#[test]
fn a_new_hit_extends_the_expiry_without_emitting() {
    let r = run(&[
        chat("u", T0, "价格"),
        chat("u", T0 + 10 * DAY, "有折扣吗"),
        tick(T0 + 30 * DAY),
        tick(T0 + 40 * DAY - 1),
    ]);
    // Still held past the first expiry, and the second hit emitted nothing.
    assert_eq!(history(&r, "u", "intent/"), [(Add, "intent/price", T0)]);
    assert_eq!(keyword_tags(&r, "u"), ["intent/price"]);

    let r = run(&[
        chat("u", T0, "价格"),
        chat("u", T0 + 10 * DAY, "有折扣吗"),
        tick(T0 + 50 * DAY),
    ]);
    assert_eq!(
        history(&r, "u", "intent/"),
        [
            (Add, "intent/price", T0),
            (Remove, "intent/price", T0 + 40 * DAY)
        ]
    );
    let removal = r
        .changes
        .iter()
        .find(|c| c.op == Remove && &*c.tag == "intent/price")
        .unwrap();
    assert_eq!(
        removal.expires_at,
        Some(T0 + 40 * DAY),
        "the removal carries the extended expiry"
    );
}

#[test]
fn a_single_purchase_hit_extends_a_held_purchase_tag_but_does_not_re_add_it() {
    let r = run(&[
        chat("u", T0, "购买"),
        chat("u", T0 + DAY, "下单"),     // tagged, expires +31 d
        chat("u", T0 + 20 * DAY, "buy"), // one hit, but held: extends to +50 d
        tick(T0 + 49 * DAY),
        chat("u", T0 + 55 * DAY, "buy"), // expired at +50 d; one hit is not enough again
        tick(T0 + 60 * DAY),
    ]);
    assert_eq!(
        history(&r, "u", "intent/purchase"),
        [
            (Add, "intent/purchase", T0 + DAY),
            (Remove, "intent/purchase", T0 + 50 * DAY)
        ]
    );
    assert_eq!(keyword_tags(&r, "u"), Vec::<String>::new());
}

#[test]
fn a_price_hit_after_expiry_adds_the_tag_again() {
    let r = run(&[chat("u", T0, "价格"), chat("u", T0 + 35 * DAY, "price?")]);
    assert_eq!(
        history(&r, "u", "intent/"),
        [
            (Add, "intent/price", T0),
            (Remove, "intent/price", T0 + 30 * DAY),
            (Add, "intent/price", T0 + 35 * DAY)
        ]
    );
}

#[test]
fn complaint_lives_seven_days() {
    let r = run(&[
        chat("u", T0 + HOUR, "我要投诉你们"),
        tick(T0 + 7 * DAY + HOUR - 1),
    ]);
    assert_eq!(keyword_tags(&r, "u"), ["service/complaint"]);
    let add = r.last_add("u", "service/complaint").unwrap();
    assert_eq!(add.expires_at, Some(T0 + 7 * DAY + HOUR));

    let r = run(&[chat("u", T0 + HOUR, "我要投诉你们"), tick(T0 + 9 * DAY)]);
    assert_eq!(
        history(&r, "u", "service/"),
        [
            (Add, "service/complaint", T0 + HOUR),
            (Remove, "service/complaint", T0 + 7 * DAY + HOUR)
        ]
    );
}

#[test]
fn a_new_complaint_extends_the_complaint() {
    let r = run(&[
        chat("u", T0, "差评"),
        chat("u", T0 + 5 * DAY, "退款！"),
        tick(T0 + 20 * DAY),
    ]);
    assert_eq!(
        history(&r, "u", "service/"),
        [
            (Add, "service/complaint", T0),
            (Remove, "service/complaint", T0 + 12 * DAY)
        ]
    );
}

#[test]
fn keywords_in_other_users_messages_do_not_leak() {
    let r = run(&[
        chat("a", T0, "购买"),
        chat("b", T0 + HOUR, "购买"),
        chat("c", T0 + 2 * HOUR, "价格"),
    ]);
    assert_eq!(keyword_tags(&r, "a"), Vec::<String>::new());
    assert_eq!(keyword_tags(&r, "b"), Vec::<String>::new());
    assert_eq!(keyword_tags(&r, "c"), ["intent/price"]);
}
